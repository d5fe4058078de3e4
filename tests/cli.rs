//! Drives the real `moderate` binary on the project's own example data.

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

fn moderate() -> Command {
    Command::cargo_bin("moderate").expect("binary builds")
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// A model trained once on data/examples.csv, shared by the tests.
fn example_model() -> &'static Path {
    static MODEL: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = MODEL.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("examples.model");
        moderate()
            .args(["train", "--no-encoder", "--data"])
            .arg(data("examples.csv"))
            .arg("--out")
            .arg(&path)
            .args(["--cv", "2", "--min-df", "1", "--threads", "1"])
            .assert()
            .success();
        (dir, path)
    });
    path
}

fn jsonl(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn score_text_file_with_default_model_gives_one_record_per_line() {
    let out = moderate()
        .arg("score")
        .arg(data("comments.txt"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let records = jsonl(&out);
    let lines = std::fs::read_to_string(data("comments.txt")).unwrap();
    let expected = lines.lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(records.len(), expected);
    for (i, r) in records.iter().enumerate() {
        let scores = r["scores"].as_object().expect("scores object");
        for label in ["abusive", "violent"] {
            let p = scores[label].as_f64().expect("probability");
            assert!((0.0..=1.0).contains(&p), "{label} = {p}");
        }
        assert!(r["flags"].is_array());
        assert!(r["id"].is_string(), "record {i} has an id");
    }
}

/// The seed page's comments (`data/seed_comments.csv`, labelled by hand),
/// scored by the shipped model: each row's id, its flags and its scores.
fn seed_page_scores() -> Vec<(csv::StringRecord, Vec<String>, [f64; 2])> {
    let path = data("seed_comments.csv");
    let out = moderate()
        .args(["score", "--format", "jsonl"])
        .arg(&path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let records = jsonl(&out);
    let rows: Vec<csv::StringRecord> = csv::Reader::from_path(&path)
        .unwrap()
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(records.len(), rows.len());
    rows.into_iter()
        .zip(&records)
        .map(|(row, record)| {
            assert_eq!(record["id"], row[0]);
            let flags = record["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().to_string())
                .collect();
            let score = |l: &str| record["scores"][l].as_f64().unwrap();
            (row, flags, [score("abusive"), score("violent")])
        })
        .collect()
}

/// The seed page's plainly benign comments (labelled 0 for both labels)
/// are flagged for nothing, and the WMD comment (1 for both) is flagged
/// abusive and outranks every one of them on both labels.
#[test]
fn default_model_flags_the_seed_comment_and_not_the_news() {
    let scored = seed_page_scores();
    let positive: Vec<_> = scored
        .iter()
        .filter(|s| &s.0[3] == "1" && &s.0[4] == "1")
        .collect();
    let benign: Vec<_> = scored
        .iter()
        .filter(|s| &s.0[3] == "0" && &s.0[4] == "0")
        .collect();
    assert!(!positive.is_empty() && benign.len() >= 3);
    for (row, flags, scores) in &benign {
        assert!(
            flags.is_empty(),
            "{} flagged {flags:?} ({scores:?})",
            &row[0]
        );
    }
    for (row, flags, scores) in &positive {
        assert!(
            flags.contains(&"abusive".to_string()),
            "{} not flagged abusive",
            &row[0]
        );
        for (b, _, benign_scores) in &benign {
            for l in 0..2 {
                assert!(
                    scores[l] > benign_scores[l],
                    "{} below {} on label {l}",
                    &row[0],
                    &b[0]
                );
            }
        }
    }
}

/// Every hand label of the seed page holds: a comment labelled 1 is flagged
/// for that label, one labelled 0 is not. Not yet true of the shipped model
/// (see the README's Limitations: the WMD comment scores violent about 0.03
/// against a threshold of 0.20, and the comment predicting that Russia will
/// keep pounding the fighters is flagged abusive); run with `--ignored`.
#[test]
#[ignore = "issue 12 is open: the shipped model misses the seed page's violent advocacy"]
fn default_model_agrees_with_every_seed_page_label() {
    for (row, flags, scores) in seed_page_scores() {
        for (l, (label, column)) in [("abusive", 3), ("violent", 4)].into_iter().enumerate() {
            let flagged = flags.iter().any(|f| f == label);
            match &row[column] {
                "1" => assert!(
                    flagged,
                    "{} not flagged {label} ({:.3})",
                    &row[0], scores[l]
                ),
                "0" => assert!(!flagged, "{} flagged {label} ({:.3})", &row[0], scores[l]),
                _ => {}
            }
        }
    }
}

#[test]
fn works_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    moderate()
        .current_dir(dir.path())
        .args(["score", "--format", "csv", "-"])
        .write_stdin("hello there\n")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("id,abusive,violent,flags"));
}

#[test]
fn train_eval_score_round_trip() {
    let model = example_model();
    let out = moderate()
        .args(["eval", "--json", "--by", "source", "--model"])
        .arg(model)
        .arg("--data")
        .arg(data("examples.csv"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["rows"], 85);
    for label in ["abusive", "violent"] {
        let m = &v["labels"][label];
        for key in [
            "roc_auc",
            "pr_auc",
            "precision",
            "recall",
            "f1",
            "threshold",
            "positives",
            "negatives",
        ] {
            assert!(!m[key].is_null(), "{label}.{key} missing");
        }
        // Trained on these rows, the ranking must be near perfect.
        assert!(m["roc_auc"].as_f64().unwrap() > 0.95);
    }
    // -1 rows are not negatives: 33 + 48 of 85 are labelled abusive.
    assert_eq!(v["labels"]["abusive"]["positives"], 33);
    assert_eq!(v["labels"]["abusive"]["negatives"], 48);
    let by = v["by_source"].as_object().expect("by_source");
    assert!(by.contains_key("news") && by.contains_key("sports"));
    assert!(by["news"]["labels"]["abusive"]["roc_auc"].is_number());
}

#[test]
fn eval_table_and_info_are_readable() {
    let model = example_model();
    moderate()
        .args(["eval", "--model"])
        .arg(model)
        .arg("--data")
        .arg(data("examples.jsonl"))
        .assert()
        .success()
        .stdout(predicate::str::contains("roc_auc").and(predicate::str::contains("violent")));
    moderate()
        .args(["info", "--model"])
        .arg(model)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("label `violent`").and(predicate::str::contains("threshold")),
        );
}

#[test]
fn score_formats_and_options() {
    let model = example_model();
    let table = moderate()
        .args(["score", "--format", "table", "--model"])
        .arg(model)
        .arg(data("examples.csv"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8_lossy(&table).lines().count(), 86);

    // Threshold 0 flags everything; only-flagged then keeps every record.
    let all = moderate()
        .args([
            "score",
            "--only-flagged",
            "--threshold",
            "violent=0",
            "--model",
        ])
        .arg(model)
        .arg(data("examples.csv"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let r = jsonl(&all);
    assert_eq!(r.len(), 85);
    assert!(r.iter().all(|x| {
        x["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "violent")
    }));

    // Threshold 1 on both flags (almost) nothing.
    let none = moderate()
        .args([
            "score",
            "--only-flagged",
            "--threshold",
            "violent=1",
            "--threshold",
            "abusive=1",
            "--model",
        ])
        .arg(model)
        .arg(data("examples.csv"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(jsonl(&none).len() < 3);

    moderate()
        .args(["score", "--threshold", "nosuch=0.5"])
        .write_stdin("x\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no label `nosuch`"));
}

#[test]
fn explain_points_at_the_words() {
    let text = "You are a pathetic idiot and a liar.";
    let out = moderate()
        .args(["score", "--explain", "--input-format", "text", "-"])
        .write_stdin(format!("{text}\n"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let r = &jsonl(&out)[0];
    let terms = r["explain"]["abusive"].as_array().expect("abusive terms");
    assert!(!terms.is_empty());
    for t in terms {
        for span in t["spans"].as_array().unwrap() {
            let (s, e) = (
                span[0].as_u64().unwrap() as usize,
                span[1].as_u64().unwrap() as usize,
            );
            assert!(s < e && e <= text.len());
        }
    }
    let words: Vec<String> = terms
        .iter()
        .flat_map(|t| t["spans"].as_array().unwrap().clone())
        .map(|s| text[s[0].as_u64().unwrap() as usize..s[1].as_u64().unwrap() as usize].to_string())
        .collect();
    assert!(words.iter().any(|w| w.contains("idiot")), "{words:?}");
}

#[test]
fn csv_with_other_text_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.csv");
    std::fs::write(
        &path,
        "\u{feff}key,body\r\n7,\"hello,\r\nworld\"\r\n8,fine\r\n",
    )
    .unwrap();
    let out = moderate()
        .args(["score", "--text-column", "body", "--id-column", "key"])
        .arg(&path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let r = jsonl(&out);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["id"], "7");
    assert_eq!(r[1]["id"], "8");
    moderate()
        .arg("score")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("in.csv").and(predicate::str::contains("text")));
}

#[test]
fn bad_record_names_file_and_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    std::fs::write(
        &path,
        "{\"text\": \"ok\"}\n{\"text\": \"ok\"}\nnot json\n{\"text\": \"ok\"}\n",
    )
    .unwrap();
    moderate()
        .arg("score")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.jsonl:3"));
    // With --skip-bad the run continues and counts everything.
    let rejects = dir.path().join("rejects.csv");
    let out = moderate()
        .args(["score", "--skip-bad", "--rejects"])
        .arg(&rejects)
        .arg(&path)
        .assert()
        .success()
        .stderr(
            predicate::str::contains("4 records read: 3 scored")
                .and(predicate::str::contains("1 rejected")),
        )
        .get_output()
        .stdout
        .clone();
    assert_eq!(jsonl(&out).len(), 3);
    let rej = std::fs::read_to_string(&rejects).unwrap();
    assert!(rej.lines().nth(1).unwrap().contains(",3,"), "{rej}");
}

#[test]
fn eval_rejects_bad_label_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.csv");
    std::fs::write(&path, "text,abusive,violent\nfine,0,0\nhmm,2,0\n").unwrap();
    moderate()
        .args(["eval", "--data"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("labels.csv:3").and(predicate::str::contains("`2`")));
}

#[test]
fn damaged_and_foreign_model_files_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(example_model()).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", good[..good.len() / 2].to_vec(), "truncated"),
        (
            "garbage",
            b"hello world, not a model".to_vec(),
            "not a moderate model",
        ),
        ("empty", Vec::new(), "not a moderate model"),
        (
            "flipped",
            {
                let mut b = good.clone();
                let n = b.len() - 10;
                b[n] ^= 0xff;
                b
            },
            "checksum",
        ),
        (
            "version",
            {
                let mut b = good.clone();
                b[8] = 99;
                b
            },
            "version 99",
        ),
    ];
    for (name, bytes, message) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        moderate()
            .args(["score", "--model"])
            .arg(&path)
            .write_stdin("x\n")
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
    }
    moderate()
        .args(["score", "--model", "/no/such/model"])
        .write_stdin("x\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/no/such/model"));
}

#[test]
fn closed_stdout_pipe_is_not_an_error() {
    let lines: String = (0..50_000)
        .map(|i| format!("comment number {i} about the war\n"))
        .collect();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("moderate"))
        .args(["score", "--input-format", "text", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(lines.as_bytes());
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    let _ = writer.join();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "status {status:?}, stderr {err}");
    assert!(!err.contains("error"), "{err}");
}

#[test]
fn train_needs_labels_and_both_classes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("onlyneg.csv");
    let mut rows = String::from("text,abusive\n");
    for i in 0..20 {
        rows.push_str(&format!("nice comment {i},0\n"));
    }
    std::fs::write(&path, rows).unwrap();
    moderate()
        .args(["train", "--no-encoder", "--data"])
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("m"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("abusive").and(predicate::str::contains("positive")));
    let path = dir.path().join("nolabels.txt");
    std::fs::write(&path, "a\nb\n").unwrap();
    moderate()
        .args(["train", "--no-encoder", "--data"])
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("m"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no label columns"));
}

#[test]
fn usage_errors_exit_2() {
    moderate()
        .args(["score", "--format", "xml"])
        .assert()
        .code(2);
    moderate().arg("frobnicate").assert().code(2);
    moderate()
        .args(["score", "/no/such/file.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/no/such/file.csv"));
}

#[test]
fn eval_bias_and_reliability_in_json() {
    let out = moderate()
        .args(["eval", "--json", "--bias", "--data"])
        .arg(data("examples.csv"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    for label in ["abusive", "violent"] {
        let rel = v["labels"][label]["reliability"]
            .as_array()
            .expect("reliability bins");
        assert_eq!(rel.len(), 10);
        let counted: u64 = rel.iter().map(|b| b["count"].as_u64().unwrap()).sum();
        let m = &v["labels"][label];
        assert_eq!(
            counted,
            m["positives"].as_u64().unwrap() + m["negatives"].as_u64().unwrap()
        );
        let bias = &v["bias"][label];
        assert!(bias["groups"].is_array());
        assert!(bias["too_small"].is_array());
    }
    // A custom identity list with a bad line is an input error naming the line.
    let dir = tempfile::tempdir().unwrap();
    let terms = dir.path().join("terms.txt");
    std::fs::write(&terms, "women: woman\nno colon here\n").unwrap();
    moderate()
        .args(["eval", "--bias", "--identity-terms"])
        .arg(&terms)
        .arg("--data")
        .arg(data("examples.csv"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("terms.txt:2"));
}

#[test]
fn model_card_records_held_out_evaluation_and_limitations() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.model");
    moderate()
        .args([
            "train",
            "--no-encoder",
            "--cv",
            "2",
            "--min-df",
            "1",
            "--data",
        ])
        .arg(data("examples.csv"))
        .arg("--eval-data")
        .arg(data("examples.jsonl"))
        .arg("--out")
        .arg(&model)
        .assert()
        .success();
    let out = moderate()
        .args(["info", "--json", "--model"])
        .arg(&model)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["evaluation"]["data_file"], "examples.jsonl");
    assert_eq!(v["evaluation"]["rows"], 10);
    assert!(v["evaluation"]["labels"]["abusive"]["roc_auc"].is_number());
    let limits = v["limitations"].as_array().unwrap();
    assert!(
        limits
            .iter()
            .any(|l| l.as_str().unwrap().contains("Bag-of-words"))
    );
    // Alphas tried by cross-validation are recorded per label.
    let tried = v["labels"][0]["cross_validation"]["alpha_roc_auc"]
        .as_array()
        .unwrap();
    assert_eq!(tried.len(), 4);
}

#[test]
fn eval_thresholds_table_is_monotone_in_load() {
    let out = moderate()
        .args(["eval", "--json", "--thresholds", "--data"])
        .arg(data("examples.csv"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    for label in ["abusive", "violent"] {
        let rows = v["thresholds"][label].as_array().expect("table");
        assert!(rows.len() >= 19);
        let load: Vec<f64> = rows
            .iter()
            .map(|r| r["flagged_per_1000"].as_f64().unwrap())
            .collect();
        assert!(load.windows(2).all(|w| w[0] >= w[1]), "{label}: {load:?}");
    }
}

#[test]
fn reviewer_decisions_override_earlier_labels_by_id() {
    let dir = tempfile::tempdir().unwrap();
    // ex-005 is benign in examples.csv; a reviewer marks it abusive.
    let decisions = dir.path().join("decisions.csv");
    std::fs::write(
        &decisions,
        "id,text,abusive,violent,reviewer,decided_at\n\
         ex-005,Hate speech laws won't fix this. Education and jobs might.,1,0,ana,2026-11-22T10:00:00Z\n",
    )
    .unwrap();
    let model = dir.path().join("m.model");
    moderate()
        .args([
            "train",
            "--no-encoder",
            "--cv",
            "2",
            "--min-df",
            "1",
            "--data",
        ])
        .arg(data("examples.csv"))
        .arg("--data")
        .arg(&decisions)
        .arg("--out")
        .arg(&model)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("trained on 85 comments")
                .and(predicate::str::contains("1 records repeated an earlier id")),
        );
    let out = moderate()
        .args(["info", "--json", "--model"])
        .arg(&model)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    // 33 abusive in examples.csv, plus the overridden one.
    assert_eq!(v["training"]["label_counts"]["abusive"][0], 34);
    assert_eq!(v["training"]["label_counts"]["abusive"][1], 47);
}

#[test]
fn unknown_extension_is_refused_unless_input_format_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("comments.tsv");
    std::fs::write(&tsv, "id\ttext\n1\tYou idiot\n2\tNice goal\n").unwrap();
    for cmd in ["score", "report"] {
        let mut c = moderate();
        c.arg(cmd).arg(&tsv);
        if cmd == "report" {
            c.args(["--out", "-"]);
        }
        c.assert().code(2).stdout("").stderr(
            predicate::str::contains("comments.tsv: unknown extension `.tsv`")
                .and(predicate::str::contains("--input-format")),
        );
    }
    moderate()
        .args(["eval", "--data"])
        .arg(&tsv)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--input-format"));
    // Told the format, it is read as told: one record per line.
    let out = moderate()
        .arg("score")
        .arg(&tsv)
        .args(["--input-format", "text"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(jsonl(&out).len(), 3);
}

#[test]
fn a_missing_input_is_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = moderate()
        .current_dir(dir.path())
        .args(["score", "nosuch.csv"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8_lossy(&out);
    assert_eq!(stderr.matches("nosuch.csv").count(), 1, "{stderr}");
    assert!(stderr.contains("No such file"), "{stderr}");
}

#[test]
fn bare_score_on_a_terminal_says_it_is_reading_stdin() {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("moderate"));
    cmd.arg("score");
    let mut s = rexpect::session::spawn_command(cmd, Some(15_000)).expect("spawn moderate score");
    s.exp_string("reading comments from standard input")
        .expect("a notice on a terminal");
    s.send_line("Nice goal yesterday").unwrap();
    s.send_control('d').unwrap();
    s.exp_string("{\"id\":\"1\"")
        .expect("the comment is scored");
    s.exp_eof().expect("exits at end of input");
    // Piped stdin is not a person waiting: no notice.
    moderate()
        .arg("score")
        .write_stdin("Nice goal\n")
        .assert()
        .success()
        .stderr(predicate::str::contains("standard input").not());
}

#[test]
fn eval_without_label_columns_fails_naming_the_expected_ones() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("nolabels.csv");
    std::fs::write(&csv, "id,text\n1,You idiot\n2,Nice goal\n").unwrap();
    let json = dir.path().join("nolabels.jsonl");
    std::fs::write(&json, "{\"text\": \"You idiot\"}\n{\"text\": \"Nice\"}\n").unwrap();
    for path in [data("comments.txt"), csv, json] {
        for extra in [&[][..], &["--json"]] {
            moderate()
                .args(["eval", "--data"])
                .arg(&path)
                .args(extra)
                .assert()
                .code(2)
                .stdout("")
                .stderr(
                    predicate::str::contains("no label column")
                        .and(predicate::str::contains("`abusive`, `violent`")),
                );
        }
    }
}

#[test]
fn eval_shows_a_dash_where_a_figure_is_undefined() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("groups.csv");
    // Source `calm` has no positive comments, so its recall and F1 are
    // undefined (and so is precision when nothing there is flagged).
    std::fs::write(
        &path,
        "text,abusive,source\n\
         Nice goal yesterday,0,calm\n\
         Thanks for the link,0,calm\n\
         You are a spineless idiot,1,rough\n\
         Lovely weather,0,rough\n",
    )
    .unwrap();
    let out = moderate()
        .args(["eval", "--by", "source", "--data"])
        .arg(&path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let calm = &text[text.find("[calm]").expect("a calm table")..];
    let row: Vec<&str> = calm
        .lines()
        .find(|l| l.starts_with("abusive"))
        .unwrap()
        .split_whitespace()
        .collect();
    // label roc_auc pr_auc precision recall f1 threshold pos neg ...
    assert_eq!(&row[1..3], ["-", "-"], "{calm}");
    assert!(["-", "0.0000"].contains(&row[3]), "{calm}");
    assert_eq!(&row[4..6], ["-", "-"], "{calm}");
    assert_eq!(row[7], "0", "{calm}");
    let out = moderate()
        .args(["eval", "--json", "--data"])
        .arg(&path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    // No `violent` column: nothing about it is defined.
    assert!(v["labels"]["violent"]["recall"].is_null(), "{v}");
    assert!(v["labels"]["abusive"]["recall"].is_number(), "{v}");
}

#[test]
fn a_comma_separated_threshold_list_says_to_repeat_the_flag() {
    moderate()
        .args(["score", "--threshold", "abusive=0.5,violent=0.2"])
        .write_stdin("hello\n")
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("give the flag once for each of abusive=0.5, violent=0.2")
                .and(predicate::str::contains("invalid float literal").not()),
        );
}

#[test]
fn explain_gives_a_repeated_word_one_entry_with_every_span() {
    let text = "idiot, idiot! You IDIOT, what an idiot";
    let out = moderate()
        .args([
            "score",
            "--explain",
            "--top",
            "5",
            "--input-format",
            "text",
            "-",
        ])
        .write_stdin(format!("{text}\n"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let r = &jsonl(&out)[0];
    for (label, terms) in r["explain"].as_object().unwrap() {
        let terms = terms.as_array().unwrap();
        // One entry per term and reader (the word model and the encoder
        // may both name a word).
        let mut seen: Vec<String> = terms
            .iter()
            .map(|t| {
                format!(
                    "{} {}",
                    t["reader"],
                    t["term"].as_str().unwrap().to_lowercase()
                )
            })
            .collect();
        seen.sort();
        let n = seen.len();
        seen.dedup();
        assert_eq!(seen.len(), n, "{label}: a term twice in {terms:?}");
    }
    let abusive = r["explain"]["abusive"].as_array().unwrap();
    let idiot = abusive
        .iter()
        .find(|t| t["term"] == "idiot")
        .expect("idiot explains abusive");
    let spans: Vec<&str> = idiot["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &text[s[0].as_u64().unwrap() as usize..s[1].as_u64().unwrap() as usize])
        .collect();
    assert_eq!(spans, ["idiot", "idiot", "IDIOT", "idiot"]);
}

#[test]
fn explain_works_with_the_table_and_is_refused_with_csv() {
    let out = moderate()
        .args([
            "score",
            "--explain",
            "--format",
            "table",
            "--input-format",
            "text",
            "-",
        ])
        .write_stdin("You are a pathetic idiot\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let table = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines.len() >= 3, "{table}");
    assert!(
        lines[2..]
            .iter()
            .any(|l| l.trim_start().starts_with("abusive: ") && l.contains("idiot +")),
        "{table}"
    );
    moderate()
        .args([
            "score",
            "--explain",
            "--format",
            "csv",
            "--input-format",
            "text",
            "-",
        ])
        .write_stdin("You idiot\n")
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("--explain needs --format jsonl"));
}

#[test]
fn train_names_its_pooled_auc_and_prints_the_fold_mean_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.model");
    let out = moderate()
        .args(["train", "--no-encoder", "--data"])
        .arg(data("examples.csv"))
        .arg("--out")
        .arg(&model)
        .args(["--cv", "3", "--min-df", "1", "--threads", "1"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .find(|l| l.starts_with("label "))
        .expect("a table");
    assert!(header.ends_with("pooled_auc fold_mean"), "{text}");
    assert!(text.contains("pooled_auc: ROC-AUC of every fold's held-out predictions"));
    for label in ["abusive", "violent"] {
        let row: Vec<&str> = lines
            .iter()
            .find(|l| l.starts_with(&format!("{label} ")))
            .unwrap()
            .split_whitespace()
            .collect();
        let mean: f64 = row[7].parse().unwrap();
        let folds: Vec<f64> = lines
            .iter()
            .find_map(|l| {
                l.trim()
                    .strip_prefix(&format!("{label} per-fold ROC-AUC: "))
            })
            .unwrap()
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(folds.len(), 3);
        let expected = folds.iter().sum::<f64>() / 3.0;
        assert!(
            (mean - expected).abs() < 2e-4,
            "{label}: {mean} vs {folds:?}"
        );
    }
    moderate()
        .args(["info", "--model"])
        .arg(&model)
        .assert()
        .success()
        .stdout(predicate::str::contains("(pooled out-of-fold; fold mean "));
}

#[test]
fn usage_lines_name_each_file_argument_differently() {
    for cmd in ["score", "report", "review", "perturb", "eval", "train"] {
        let out = moderate()
            .args([cmd, "--help"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let help = String::from_utf8(out).unwrap();
        let usage = help.lines().find(|l| l.starts_with("Usage:")).unwrap();
        let names: Vec<&str> = usage
            .split(['<', '['])
            .skip(1)
            .filter_map(|w| w.split(['>', ']']).next())
            .filter(|w| *w != "OPTIONS")
            .collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{usage}");
    }
    moderate()
        .args(["report", "--help"])
        .assert()
        .stdout(predicate::str::contains(
            "Usage: moderate report [OPTIONS] --out <HTML> [INPUT]",
        ));
}

/// A backlog exported from Coral: HTML bodies, labelled.
const CORAL_EXPORT: &str = "\
id,text,abusive,violent
h1,\"<p>You are a spineless <b>idiot</b>.</p><p>Go away.</p>\",1,0
h2,\"<p>Thanks for the <a href=\"\"https://example.org/x\"\">link</a>, very helpful.</p>\",0,0
h3,\"<p>Hang the traitors</p><p>from the <i>bridge</i>!</p><script>var idiot = 1;</script>\",1,1
h4,\"<blockquote>Wipe them out</blockquote><p>is what he said. Shameful.</p>\",0,0
";

/// The same comments as the server reads them (tags removed, blocks on
/// lines of their own, scripts dropped; `moderate::text::html`'s tests pin
/// the rules).
const CORAL_EXPORT_AS_TEXT: &str = "\
id,text,abusive,violent
h1,\"You are a spineless idiot.\nGo away.\",1,0
h2,\"Thanks for the link, very helpful.\",0,0
h3,\"Hang the traitors\nfrom the bridge!\",1,1
h4,\"Wipe them out\nis what he said. Shameful.\",0,0
";

#[test]
fn html_comments_are_read_as_the_server_reads_them() {
    // --html strips tags with the server's own function (what it does for
    // Coral), so score, eval, report and review read the export as it was
    // scored live; --explain spans count in the HTML. (tests/serve.rs
    // compares with the server itself.)
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("coral.csv");
    std::fs::write(&html, CORAL_EXPORT).unwrap();
    let rows: Vec<Vec<String>> = csv::Reader::from_reader(CORAL_EXPORT.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    let plain = CORAL_EXPORT_AS_TEXT;
    let plain_path = dir.path().join("plain.csv");
    std::fs::write(&plain_path, plain).unwrap();
    let scores = |path: &Path, extra: &[&str]| -> Vec<serde_json::Value> {
        jsonl(
            &moderate()
                .arg("score")
                .arg(path)
                .args(["--exact-scores"])
                .args(extra)
                .assert()
                .success()
                .get_output()
                .stdout,
        )
    };
    let with_html = scores(&html, &["--html"]);
    assert_eq!(with_html, scores(&plain_path, &[]), "score --html");
    // Without --html the tags are read as words: the scores differ.
    assert_ne!(scores(&html, &[]), with_html, "tags change the scores");
    // --explain spans point into the HTML as written.
    for r in scores(&html, &["--html", "--explain", "--top", "3"]) {
        let id = r["id"].as_str().unwrap();
        let written = &rows.iter().find(|row| row[0] == id).unwrap()[1];
        for (_, terms) in r["explain"].as_object().unwrap() {
            for t in terms.as_array().unwrap() {
                let term = t["term"].as_str().unwrap();
                for span in t["spans"].as_array().unwrap() {
                    let (a, b) = (span[0].as_u64().unwrap(), span[1].as_u64().unwrap());
                    let shown = &written[a as usize..b as usize];
                    assert!(
                        shown.to_lowercase().starts_with(
                            &term
                                .split_whitespace()
                                .next()
                                .unwrap_or_default()
                                .to_lowercase()
                        ),
                        "{id}: `{term}` at {a}..{b} of the HTML is {shown:?}"
                    );
                }
            }
        }
    }
    // eval reads the labels of the HTML file as of the plain one.
    let eval = |path: &Path, extra: &[&str]| -> String {
        let out = moderate()
            .args(["eval", "--json", "--data"])
            .arg(path)
            .args(extra)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap()
    };
    assert_eq!(
        eval(&html, &["--html"]),
        eval(&plain_path, &[]),
        "eval --html"
    );
    // The report shows the text, not the markup.
    let page = moderate()
        .arg("report")
        .arg(&html)
        .args(["--html", "--all", "--out", "-"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let page = String::from_utf8(page).unwrap();
    // (The words may be highlighted, so each is looked for on its own.)
    assert!(
        page.contains("spineless") && page.contains("away"),
        "the comment's text is listed"
    );
    assert!(
        !page.contains("&lt;p&gt;") && !page.contains("&lt;script"),
        "no markup shown as text"
    );
    // review: tests/review_pty.rs review_shows_html_comments_as_text.
}

#[test]
fn retraining_without_vectors_keeps_the_built_in_word_clusters() {
    // The README's retrain command has no --vectors: the model it writes
    // keeps the word clusters of the built-in model instead of silently
    // dropping them.
    let info = |model: Option<&Path>| -> serde_json::Value {
        let mut cmd = moderate();
        cmd.args(["info", "--json"]);
        if let Some(m) = model {
            cmd.arg("--model").arg(m);
        }
        serde_json::from_slice(&cmd.assert().success().get_output().stdout).unwrap()
    };
    let built_in = info(None)["word_clusters"].clone();
    assert!(built_in.is_object(), "the shipped model has word clusters");
    let dir = tempfile::tempdir().unwrap();
    let train = |name: &str, extra: &[&str]| -> (PathBuf, String) {
        let path = dir.path().join(name);
        let out = moderate()
            .args(["train", "--no-encoder", "--data"])
            .arg(data("examples.csv"))
            .args(["--min-df", "1", "--cv", "0", "--threads", "1"])
            .args(extra)
            .arg("--out")
            .arg(&path)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        (path, String::from_utf8(out).unwrap())
    };
    let (kept, said) = train("kept.model", &[]);
    assert_eq!(info(Some(&kept))["word_clusters"], built_in);
    assert!(
        said.contains("reused from the built-in model (no --vectors given"),
        "{said}"
    );
    let card = moderate()
        .args(["info", "--model"])
        .arg(&kept)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let words = built_in["words"].as_u64().unwrap();
    assert!(
        String::from_utf8_lossy(&card).contains(&format!("word clusters: {words} words")),
        "info shows them"
    );
    // Asked for: none, or those of another model.
    let (none, said) = train("none.model", &["--no-word-clusters"]);
    assert!(info(Some(&none))["word_clusters"].is_null());
    assert!(
        said.contains("word clusters: none (--no-word-clusters)"),
        "{said}"
    );
    let (again, _) = train(
        "again.model",
        &["--word-clusters-from", kept.to_str().unwrap()],
    );
    assert_eq!(info(Some(&again))["word_clusters"], built_in);
    // A model named for its clusters that has none: stop and say so.
    moderate()
        .args(["train", "--no-encoder", "--data"])
        .arg(data("examples.csv"))
        .args(["--min-df", "1", "--cv", "0", "--word-clusters-from"])
        .arg(&none)
        .arg("--out")
        .arg(dir.path().join("x.model"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "has no word clusters; --vectors FILE builds them",
        ));
}

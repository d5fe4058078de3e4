//! Robustness through the real binary: the perturbation generator, the
//! default model's scores under each obfuscation trick, deterministic
//! training, and `--skip-bad` in eval and train.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn moderate() -> Command {
    Command::cargo_bin("moderate").expect("binary builds")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/examples.csv")
}

fn perturb(input: &Path, extra: &[&str]) -> Vec<u8> {
    moderate()
        .arg("perturb")
        .arg(input)
        .args(extra)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone()
}

fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::Reader::from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// Probabilities per comment and label from `score --format jsonl`, with
/// `extra` arguments.
fn scores_with(input: &Path, extra: &[&str]) -> Vec<[f64; 2]> {
    let out = moderate()
        .arg("score")
        .arg(input)
        .args(["--format", "jsonl"])
        .args(extra)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            [
                v["scores"]["abusive"].as_f64().unwrap(),
                v["scores"]["violent"].as_f64().unwrap(),
            ]
        })
        .collect()
}

#[test]
fn perturb_is_seeded_and_changes_only_the_text() {
    let a = perturb(&examples(), &["--seed", "7"]);
    let b = perturb(&examples(), &["--seed", "7"]);
    let c = perturb(&examples(), &["--seed", "8"]);
    assert_eq!(a, b, "same seed, same bytes");
    assert_ne!(a, c, "another seed, other choices");
    let clean = csv_rows(&std::fs::read(examples()).unwrap());
    let perturbed = csv_rows(&a);
    assert_eq!(clean.len(), perturbed.len(), "records in = records out");
    let header: Vec<String> = csv::Reader::from_path(examples())
        .unwrap()
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let text_at = header.iter().position(|h| h == "text").unwrap();
    let mut changed = 0;
    for (x, y) in clean.iter().zip(&perturbed) {
        for (i, (u, v)) in x.iter().zip(y).enumerate() {
            if i != text_at {
                assert_eq!(u, v, "only the text column changes");
            }
        }
        changed += usize::from(x[text_at] != y[text_at]);
    }
    assert!(changed >= 20, "only {changed} comments changed");
}

#[test]
fn perturb_rejects_unknown_tricks_and_bad_rates() {
    for args in [["--tricks", "rot13"], ["--rate", "1.5"]] {
        moderate()
            .arg("perturb")
            .arg(examples())
            .args(args)
            .assert()
            .code(2);
    }
}

/// Each trick the analyzer undoes moves the default model's word reader's
/// probabilities on the example comments by little (mean absolute shift
/// under 0.04 per label). Measured on the word model of its day (abusive):
/// homoglyphs, zero-width and full-width 0.000, separators 0.003, spacing
/// 0.015, leet 0.024 (leet at a word's edge, `5hut`, is left alone), repeats
/// 0.035 (`patheeetic` keeps two e's); `mask` (`id*ot`, not undone) moves it
/// by 0.093 and is not checked here. Both readers together:
/// [`both_readers_scores_move_at_most_as_measured`].
#[test]
fn default_model_word_scores_survive_each_trick() {
    check_tricks(&["--word-only"], 0.04);
}

/// The second stage reads the comment as written (the analyzer's undoing of
/// tricks feeds the word model only), so tricks move the two-stage scores
/// more: measured with the shipped model on the example comments, leet
/// moved abusive by 0.098 on average and full-width letters (which the
/// encoder's tokenizer does not fold) by 0.143, the most. This pins those
/// figures from above (0.16) so that they cannot grow unnoticed.
#[test]
fn both_readers_scores_move_at_most_as_measured() {
    check_tricks(&[], 0.16);
}

fn check_tricks(extra: &[&str], bound: f64) {
    let dir = tempfile::tempdir().unwrap();
    let clean = scores_with(&examples(), extra);
    for trick in [
        "leet",
        "spacing",
        "separators",
        "repeats",
        "homoglyphs",
        "zero-width",
        "full-width",
    ] {
        let path = dir.path().join(format!("{trick}.csv"));
        std::fs::write(&path, perturb(&examples(), &["--tricks", trick])).unwrap();
        let disguised = scores_with(&path, extra);
        assert_eq!(clean.len(), disguised.len());
        for label in 0..2 {
            let mean_shift: f64 = clean
                .iter()
                .zip(&disguised)
                .map(|(c, d)| (c[label] - d[label]).abs())
                .sum::<f64>()
                / clean.len() as f64;
            assert!(
                mean_shift < bound,
                "{trick}: label {label} moved by {mean_shift:.3} on average {extra:?}"
            );
        }
    }
}

#[test]
fn training_with_a_seed_is_deterministic_across_threads() {
    let dir = tempfile::tempdir().unwrap();
    let train = |name: &str, seed: &str, threads: &str| {
        let path = dir.path().join(name);
        moderate()
            .args(["train", "--no-encoder", "--data"])
            .arg(examples())
            .arg("--out")
            .arg(&path)
            .args(["--cv", "3", "--min-df", "1", "--seed", seed])
            .args(["--threads", threads])
            .assert()
            .success();
        std::fs::read(path).unwrap()
    };
    let one = train("a.model", "5", "1");
    let two = train("b.model", "5", "2");
    assert_eq!(one, two, "same seed: the same model bytes");
    let other = train("c.model", "6", "2");
    assert_ne!(one, other, "another seed assigns other folds");
}

#[test]
fn skip_bad_in_eval_and_train_accounts_for_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("mixed.csv");
    let mut text = std::fs::read_to_string(examples()).unwrap();
    // Two bad records: a label value that is not 0/1/-1, and one with a
    // missing field.
    text.push_str("bad-1,news,\"a comment\",yes,0\nbad-2,news,\"short\"\n");
    std::fs::write(&data, text).unwrap();
    let rejects = dir.path().join("rejects.csv");

    moderate()
        .args(["eval", "--data"])
        .arg(&data)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("mixed.csv:89:"));
    let out = moderate()
        .args(["eval", "--skip-bad", "--rejects"])
        .arg(&rejects)
        .arg("--data")
        .arg(&data)
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("87 records read: 85 evaluated, 2 rejected"),
        "{stderr}"
    );
    let listed = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(listed.lines().count(), 3, "header + 2 rejects:\n{listed}");
    assert!(
        listed.contains(",89,") && listed.contains(",90,"),
        "{listed}"
    );

    let model = dir.path().join("m.model");
    let out = moderate()
        .args([
            "train",
            "--no-encoder",
            "--skip-bad",
            "--min-df",
            "1",
            "--cv",
            "2",
            "--data",
        ])
        .arg(&data)
        .arg("--out")
        .arg(&model)
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("2 records rejected as malformed (--skip-bad); 87 records read"),
        "{stdout}"
    );
}

#[test]
fn train_builds_a_word_list_and_trains_on_perturbed_copies() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("aug.model");
    let out = moderate()
        .args([
            "train",
            "--no-encoder",
            "--min-df",
            "1",
            "--cv",
            "2",
            "--augment",
            "1",
            "--data",
        ])
        .arg(examples())
        .arg("--out")
        .arg(&model)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let stdout = String::from_utf8_lossy(&out);
    assert!(
        stdout.contains("perturbed copies (--augment 1)"),
        "{stdout}"
    );
    assert!(stdout.contains("word list: "), "{stdout}");
    assert!(!stdout.contains("word list: none"), "{stdout}");
    let info = moderate()
        .args(["info", "--model"])
        .arg(&model)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&info).contains("training comments; obfuscated words"));

    let plain = dir.path().join("plain.model");
    moderate()
        .args([
            "train",
            "--no-encoder",
            "--min-df",
            "1",
            "--cv",
            "2",
            "--known-words",
            "0",
            "--data",
        ])
        .arg(examples())
        .arg("--out")
        .arg(&plain)
        .assert()
        .success()
        .stdout(predicates::str::contains("word list: none"));
    for bad in [
        &["--augment", "0"][..],
        &["--augment", "1.5"],
        &["--learner", "ftrl", "--augment", "0.5"],
    ] {
        moderate()
            .args(["train", "--no-encoder", "--data"])
            .arg(examples())
            .arg("--out")
            .arg(dir.path().join("x.model"))
            .args(bad)
            .assert()
            .code(2);
    }
}

#[test]
fn perturb_new_tricks_and_two_tricks_per_word() {
    let dense = String::from_utf8(perturb(&examples(), &["--tricks", "dense-leet"])).unwrap();
    assert!(
        dense
            .chars()
            .filter(|c| "0134579@$!|8".contains(*c))
            .count()
            > 100
    );
    let out = moderate()
        .arg("perturb")
        .arg(examples())
        .args(["--tricks-per-word", "2"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // More tricks than words: most words got two.
    let words: u64 = stderr
        .split("changed; ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    let tricks: u64 = stderr
        .split("(tricks: ")
        .nth(1)
        .unwrap()
        .trim_end()
        .trim_end_matches(')')
        .split(", ")
        .map(|t| t.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(tricks > words * 3 / 2, "{stderr}");
    moderate()
        .arg("perturb")
        .arg(examples())
        .args(["--tricks-per-word", "3"])
        .assert()
        .code(2);
}

#[test]
fn perturb_sniffs_stdin_as_score_does() {
    let csv = std::fs::read(examples()).unwrap();
    let from_file = perturb(&examples(), &["--seed", "5"]);
    let from_stdin = moderate()
        .args(["perturb", "-", "--seed", "5"])
        .write_stdin(csv)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(from_stdin, from_file, "stdin CSV is read as CSV");
    let jsonl = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/examples.jsonl");
    let from_stdin = moderate()
        .args(["perturb", "-", "--seed", "5"])
        .write_stdin(std::fs::read(&jsonl).unwrap())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(from_stdin, perturb(&jsonl, &["--seed", "5"]));
    assert!(from_stdin.starts_with(b"{"));
}

#[test]
fn perturb_keeps_jsonl_keys_and_other_values_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.jsonl");
    let line =
        r#"{"text":"you stupid idiot","id":"z1","zeta":1.50,"alpha":{"b":2,"a":1},"abusive":1}"#;
    std::fs::write(&path, format!("{line}\n")).unwrap();
    let out = String::from_utf8(perturb(&path, &["--seed", "1"])).unwrap();
    let out = out.trim_end();
    let keys: Vec<&str> = out
        .match_indices("\":")
        .map(|(i, _)| &out[out[..i].rfind('"').unwrap() + 1..i])
        .collect();
    assert_eq!(
        keys,
        ["text", "id", "zeta", "alpha", "b", "a", "abusive"],
        "{out}"
    );
    assert!(
        out.ends_with(r#","id":"z1","zeta":1.50,"alpha":{"b":2,"a":1},"abusive":1}"#),
        "{out}"
    );
    let v: serde_json::Value = serde_json::from_str(out).unwrap();
    assert_ne!(v["text"], "you stupid idiot", "the words are disguised");
}

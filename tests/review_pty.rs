//! Drives `moderate review` through a pseudo-terminal, as a reviewer would:
//! confirm, clear, skip, undo and quit, then resume in a second session.

use rexpect::process::WaitStatus;
use rexpect::session::PtySession;
use std::path::Path;
use std::process::Command;

/// Comments written for this test (from the README's examples).
const COMMENTS: &str = "\
id,text
c1,\"Another article that quotes only the ministry. Where are the independent sources?\"
c3,\"Anyone who defends this regime is a spineless idiot, plain and simple.\"
c4,\"Wipe them out, every last one of those animals. Bomb them until nothing is left.\"
c6,\"@history_buff thanks for the link, I had no idea the citadel was that old.\"
c7,\"You people are parasites and the country would be better off without you.\"
c9,\"Shut your mouth, m0ron, before somebody shuts it for you.\"
c12,\"Hang the traitors from the bridge and leave them there as a warning.\"
";

/// Generous: the binary loads its model and scores in well under a second.
const TIMEOUT_MS: u64 = 15_000;

/// Trains a small model on data/examples.csv into `dir` (about 2 s), so the
/// test does not depend on the shipped model. `--all` below queues every
/// comment, so what is on screen does not depend on the model's scores.
fn train_model(dir: &Path) {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/examples.csv");
    assert_cmd::Command::cargo_bin("moderate")
        .unwrap()
        .current_dir(dir)
        .args(["train", "--no-encoder", "--data"])
        .arg(examples)
        .args([
            "--out",
            "model.bin",
            "--cv",
            "0",
            "--min-df",
            "1",
            "--threads",
            "1",
        ])
        .assert()
        .success();
}

fn spawn(dir: &Path, no_color: bool) -> PtySession {
    spawn_with(dir, no_color, &["comments.csv", "--all"])
}

/// `moderate review ARGS --model model.bin --reviewer tester` in `dir`.
fn spawn_with(dir: &Path, no_color: bool, args: &[&str]) -> PtySession {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("moderate"));
    cmd.current_dir(dir)
        .arg("review")
        .args(args)
        .args(["--model", "model.bin"])
        .args(["--reviewer", "tester"])
        .env("TERM", if no_color { "vt100" } else { "xterm" });
    if no_color {
        cmd.env("NO_COLOR", "1");
    } else {
        cmd.env_remove("NO_COLOR");
    }
    rexpect::session::spawn_command(cmd, Some(TIMEOUT_MS)).expect("spawn moderate review")
}

/// One screen of the review queue, parsed.
#[derive(Debug)]
struct Frame {
    /// The title line (progress and counters).
    header: String,
    /// "n/total".
    progress: String,
    id: String,
    /// The proposed decision per label (abusive, violent).
    decision: [bool; 2],
    status: String,
}

/// Waits for the next complete screen (it ends with the help bar) and parses it.
fn frame(s: &mut PtySession, log: &mut String) -> Frame {
    let before = s.exp_string("q quit").expect("a review screen");
    log.push_str(&before);
    log.push_str("q quit");
    let screen = &before[before.rfind("moderate review").expect("title")..];
    let lines: Vec<&str> = screen.split("\r\n").collect();
    let progress = lines[0]
        .split_whitespace()
        .find(|w| w.contains('/'))
        .expect("progress")
        .to_string();
    let id = lines
        .iter()
        .find_map(|l| l.strip_prefix("id "))
        .and_then(|l| l.split_whitespace().next())
        .expect("id line")
        .to_string();
    let decided = |label: &str| {
        let row = lines
            .iter()
            .find(|l| l.contains(label) && l.trim_start().starts_with('['))
            .unwrap_or_else(|| panic!("no row for {label} in {screen}"));
        row.contains("YES")
    };
    let help = lines
        .iter()
        .position(|l| l.starts_with("keys:"))
        .expect("help bar");
    Frame {
        header: lines[0].to_string(),
        progress,
        id,
        decision: [decided("abusive"), decided("violent")],
        status: lines[help - 1].to_string(),
    }
}

fn finish(mut s: PtySession, log: &mut String) -> String {
    let rest = s.exp_eof().expect("review exits");
    log.push_str(&rest);
    match s.process().wait() {
        Ok(WaitStatus::Exited(_, code)) => assert_eq!(code, 0, "{log}"),
        other => panic!("unexpected end {other:?}: {log}"),
    }
    // The last line, printed after the terminal is restored.
    rest.lines()
        .rev()
        .find(|l| l.contains("moderate: "))
        .map(|l| l.trim().to_string())
        .unwrap_or_default()
}

/// Quits with `q`; returns the last line.
fn quit(mut s: PtySession, log: &mut String) -> String {
    s.send("q").unwrap();
    s.flush().unwrap();
    finish(s, log)
}

/// Sends one key and waits for the next screen.
fn press(s: &mut PtySession, key: &str, log: &mut String) -> Frame {
    s.send(key).unwrap();
    s.flush().unwrap();
    frame(s, log)
}

/// Reads the decisions file as CSV records (without the header).
fn decisions(dir: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(dir.join("decisions.csv")).expect("decisions.csv");
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

#[test]
fn review_confirm_clear_skip_undo_quit_then_resume() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("comments.csv"), COMMENTS).unwrap();
    train_model(dir.path());
    let mut log = String::new();

    // Session 1, plain terminal without colour.
    let mut s = spawn(dir.path(), true);
    let a = frame(&mut s, &mut log);
    assert_eq!(a.progress, "1/7", "--all queues every comment: {log}");
    // Toggle violent, then save.
    s.send("v").unwrap();
    s.flush().unwrap();
    let toggled = frame(&mut s, &mut log);
    assert_eq!(toggled.id, a.id);
    assert_eq!(toggled.decision, [a.decision[0], !a.decision[1]]);
    s.send("\r").unwrap();
    s.flush().unwrap();
    let b = frame(&mut s, &mut log);
    assert_eq!(b.progress, "2/7");
    assert!(b.status.contains(&format!("saved {}", a.id)), "{b:?}");
    assert_ne!(b.id, a.id);
    // Clear b.
    s.send("c").unwrap();
    s.flush().unwrap();
    let c = frame(&mut s, &mut log);
    assert!(
        c.status
            .contains(&format!("saved {}: abusive=0 violent=0", b.id)),
        "{c:?}"
    );
    // Skip c.
    s.send("s").unwrap();
    s.flush().unwrap();
    let d = frame(&mut s, &mut log);
    assert!(d.status.contains(&format!("skipped {}", c.id)), "{d:?}");
    // Undo: b's decision goes and b is shown again.
    s.send("u").unwrap();
    s.flush().unwrap();
    let again = frame(&mut s, &mut log);
    assert_eq!(again.id, b.id, "{again:?}");
    assert!(
        again.status.contains(&format!("undid {}", b.id)),
        "{again:?}"
    );
    s.send("q").unwrap();
    s.flush().unwrap();
    let _ = finish(s, &mut log);
    assert!(log.contains("[["), "highlighted words are marked: {log}");
    assert!(
        !log.contains("\x1b[0m") && !log.contains("\x1b[1"),
        "NO_COLOR output has no SGR codes: {log:?}"
    );

    let (header, rows) = decisions(dir.path());
    assert_eq!(
        header,
        ["id", "text", "abusive", "violent", "reviewer", "decided_at"]
    );
    assert_eq!(rows.len(), 1, "only a's decision remains: {rows:?}");
    let row = &rows[0];
    assert_eq!(row[0], a.id);
    assert!(COMMENTS.contains(&row[1]));
    let bit = |b: bool| if b { "1" } else { "0" };
    assert_eq!(row[2], bit(toggled.decision[0]));
    assert_eq!(row[3], bit(toggled.decision[1]));
    assert_eq!(row[4], "tester");
    assert!(
        row[5].len() == 20 && row[5].ends_with('Z') && row[5].contains('T'),
        "{row:?}"
    );

    // Session 2, colour terminal: resumes after a, starting with b.
    let mut log2 = String::new();
    let mut s = spawn(dir.path(), false);
    let first = frame(&mut s, &mut log2);
    assert_eq!(
        first.progress, "1/6",
        "a is decided and left out: {first:?}"
    );
    assert_eq!(first.id, b.id, "{first:?}");
    assert!(log2.contains("\x1b[1;7m"), "highlights use SGR: {log2:?}");
    // Ctrl-C arrives as a key in raw mode and quits cleanly.
    s.send_control('c').unwrap();
    let _ = finish(s, &mut log2);
    assert_eq!(decisions(dir.path()).1.len(), 1);
}

#[test]
fn review_counters_stay_true_across_sessions_and_an_undo_of_an_earlier_decision() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("comments.csv"), COMMENTS).unwrap();
    train_model(dir.path());
    let mut log = String::new();

    // Session 1: save one, skip one, quit.
    let mut s = spawn(dir.path(), true);
    let first = frame(&mut s, &mut log);
    assert_eq!(first.progress, "1/7", "{log}");
    let second = press(&mut s, "\r", &mut log);
    assert!(
        second
            .header
            .contains("saved 1 this session, 1 in decisions.csv"),
        "{second:?}"
    );
    let third = press(&mut s, "s", &mut log);
    assert_eq!(third.progress, "3/7");
    let last = quit(s, &mut log);
    assert!(
        last.contains("1 decision(s) saved this session; 1 in decisions.csv; 6 comment(s) left to review (1 skipped this session"),
        "{last}"
    );

    // Session 2 queues exactly the 6 left, starting with the skipped one.
    let mut s = spawn(dir.path(), true);
    let resumed = frame(&mut s, &mut log);
    assert_eq!(resumed.progress, "1/6", "{resumed:?}");
    assert_eq!(resumed.id, second.id, "{resumed:?}");
    assert!(
        resumed
            .header
            .contains("saved 0 this session, 1 in decisions.csv"),
        "{resumed:?}"
    );
    // Undo at once: it removes session 1's decision, counted apart.
    let undone = press(&mut s, "u", &mut log);
    assert_eq!(undone.id, first.id, "{undone:?}");
    assert_eq!(undone.progress, "1/7", "{undone:?}");
    assert!(
        undone
            .header
            .contains("saved 0 this session, undid 1 earlier, 0 in decisions"),
        "{undone:?}"
    );
    assert!(
        !undone.header.contains('-'),
        "no negative count: {undone:?}"
    );
    assert!(
        undone.status.contains("decided in an earlier session"),
        "{undone:?}"
    );
    let last = quit(s, &mut log);
    assert!(
        last.contains("0 decision(s) saved this session, 1 earlier one(s) undone; 0 in decisions.csv; 7 comment(s) left to review"),
        "{last}"
    );
    assert!(!last.contains("skipped"), "{last}");

    // Session 3 agrees.
    let mut s = spawn(dir.path(), true);
    assert_eq!(frame(&mut s, &mut log).progress, "1/7");
    let _ = quit(s, &mut log);
    assert!(decisions(dir.path()).1.is_empty());
}

/// Ids `score` flags for `label` with the test model and `threshold`,
/// highest score first.
fn flagged_by(dir: &Path, label: &str, threshold: &str) -> Vec<String> {
    let out = assert_cmd::Command::cargo_bin("moderate")
        .unwrap()
        .current_dir(dir)
        .args([
            "score",
            "comments.csv",
            "--model",
            "model.bin",
            "--threshold",
        ])
        .arg(format!("{label}={threshold}"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let mut rows: Vec<(f64, String)> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["flags"].as_array().unwrap().iter().any(|f| f == label))
        .map(|r| {
            (
                r["scores"][label].as_f64().unwrap(),
                r["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    rows.into_iter().map(|r| r.1).collect()
}

#[test]
fn review_label_queues_that_labels_comments_by_its_score() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("comments.csv"), COMMENTS).unwrap();
    train_model(dir.path());
    let violent = flagged_by(dir.path(), "violent", "0.2");
    assert!(
        !violent.is_empty(),
        "the test model flags some comment violent"
    );
    let mut log = String::new();
    let mut s = spawn_with(
        dir.path(),
        true,
        &[
            "comments.csv",
            "--label",
            "violent",
            "--threshold",
            "violent=0.2",
        ],
    );
    let first = frame(&mut s, &mut log);
    assert_eq!(first.progress, format!("1/{}", violent.len()), "{log}");
    assert_eq!(first.id, violent[0], "{log}");
    assert!(first.status.starts_with("queue: violent"), "{first:?}");
    let _ = quit(s, &mut log);
    // An unknown label is a usage error (before the terminal is needed).
    assert_cmd::Command::cargo_bin("moderate")
        .unwrap()
        .current_dir(dir.path())
        .args([
            "review",
            "comments.csv",
            "--model",
            "model.bin",
            "--label",
            "spam",
        ])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--label spam"));
}

#[test]
fn review_skip_bad_leaves_out_malformed_records_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = COMMENTS.as_bytes().to_vec();
    bad.extend_from_slice(b"c13,\"not UTF-8 \xff here\"\n");
    std::fs::write(dir.path().join("comments.csv"), &bad).unwrap();
    train_model(dir.path());
    let mut log = String::new();
    // Without --skip-bad the run stops, naming the line and the option.
    let mut s = spawn(dir.path(), true);
    let rest = s.exp_eof().unwrap();
    assert!(
        rest.contains("comments.csv:9") && rest.contains("--skip-bad"),
        "{rest}"
    );
    let mut s = spawn_with(
        dir.path(),
        true,
        &[
            "comments.csv",
            "--all",
            "--skip-bad",
            "--rejects",
            "rejects.csv",
        ],
    );
    let first = frame(&mut s, &mut log);
    assert_eq!(first.progress, "1/7", "{log}");
    assert!(
        first
            .status
            .contains("skipped 1 malformed record (--skip-bad; see rejects.csv)"),
        "{first:?}"
    );
    let _ = quit(s, &mut log);
    let rejects = std::fs::read_to_string(dir.path().join("rejects.csv")).unwrap();
    assert!(rejects.contains(",9,"), "{rejects}");
}

#[test]
fn review_refuses_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("comments.csv"), COMMENTS).unwrap();
    assert_cmd::Command::cargo_bin("moderate")
        .unwrap()
        .current_dir(dir.path())
        .args(["review", "comments.csv"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("interactive terminal"));
    assert!(!dir.path().join("decisions.csv").exists());
}

#[test]
fn label_all_queues_the_rest_by_that_labels_score() {
    // `review --label violent --all`: after the comments flagged violent,
    // the others come by their violent score (near misses first), not by
    // whichever label scores them highest.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("comments.csv"), COMMENTS).unwrap();
    train_model(dir.path());
    let out = assert_cmd::Command::cargo_bin("moderate")
        .unwrap()
        .current_dir(dir.path())
        .args([
            "score",
            "comments.csv",
            "--model",
            "model.bin",
            "--exact-scores",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    // (id, abusive, violent) in input order.
    let scores: Vec<(String, f32, f32)> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let r: serde_json::Value = serde_json::from_str(l).unwrap();
            let p = |label: &str| r["scores"][label].as_f64().unwrap() as f32;
            (
                r["id"].as_str().unwrap().to_string(),
                p("abusive"),
                p("violent"),
            )
        })
        .collect();
    // Flag violent for the top violent comment only.
    let top = scores
        .iter()
        .max_by(|a, b| a.2.total_cmp(&b.2))
        .unwrap()
        .clone();
    let rest = |key: &dyn Fn(&(String, f32, f32)) -> f32| -> Vec<String> {
        let mut rest: Vec<&(String, f32, f32)> = scores.iter().filter(|s| s.0 != top.0).collect();
        rest.sort_by(|a, b| key(b).total_cmp(&key(a)));
        rest.into_iter().map(|s| s.0.clone()).collect()
    };
    let by_violent = rest(&|s| s.2);
    let by_highest = rest(&|s| s.1.max(s.2));
    assert_ne!(
        by_violent, by_highest,
        "the example comments must tell the two orders apart"
    );
    let threshold = format!("violent={}", top.2);
    let mut s = spawn_with(
        dir.path(),
        true,
        &[
            "comments.csv",
            "--label",
            "violent",
            "--all",
            "--threshold",
            &threshold,
        ],
    );
    let mut log = String::new();
    let first = frame(&mut s, &mut log);
    assert_eq!(first.id, top.0, "{log}");
    let mut seen = Vec::new();
    for _ in 0..by_violent.len() {
        seen.push(press(&mut s, "s", &mut log).id);
        if seen.len() == by_violent.len() {
            break;
        }
    }
    quit(s, &mut log);
    assert_eq!(
        seen, by_violent,
        "the unflagged comments (left) are not in violent-score order (right); \
         highest-score order would be {by_highest:?}"
    );
    // The first screen says so.
    assert_eq!(
        first.status, "queue: violent, then the rest by violent score",
        "{log}"
    );
}

#[test]
fn review_shows_html_comments_as_text() {
    // `review --html` reads a Coral export as the server does: the screen
    // shows the comment's text, not its markup.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("coral.csv"),
        "id,text\nh1,\"<p>You are a spineless <b>idiot</b>.</p><p>Go away.</p>\"\n",
    )
    .unwrap();
    train_model(dir.path());
    let mut s = spawn_with(dir.path(), true, &["coral.csv", "--all", "--html"]);
    let mut log = String::new();
    let first = frame(&mut s, &mut log);
    assert_eq!(first.id, "h1", "{log}");
    assert!(log.contains("Go away."), "{log}");
    assert!(!log.contains("<p>") && !log.contains("<b>"), "{log}");
    quit(s, &mut log);
}

/// `review --decisions STORE`: decisions go to the store (committed before
/// the next comment), a later session resumes from it, a decision made
/// elsewhere (the server, an import) takes its comment out of the queue,
/// and undo removes only review's own last decision.
#[test]
fn review_into_a_store_resumes_and_undoes_its_own_decisions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("comments.csv"), COMMENTS).unwrap();
    train_model(dir.path());
    let mut log = String::new();
    let args = ["comments.csv", "--all", "--decisions", "review.db"];
    let mut s = spawn_with(dir.path(), true, &args);
    let first = frame(&mut s, &mut log);
    assert_eq!(first.progress, "1/7", "{log}");
    let second = press(&mut s, "c", &mut log);
    assert!(
        second
            .header
            .contains("saved 1 this session, 1 in review.db"),
        "{second:?}"
    );
    let last = quit(s, &mut log);
    assert!(last.contains("1 in review.db; 6 comment(s) left"), "{last}");
    // A decision on the second comment arrives from elsewhere.
    let other = dir.path().join("other.csv");
    let text = csv::Reader::from_reader(COMMENTS.as_bytes())
        .records()
        .map(Result::unwrap)
        .find(|r| r[0] == second.id)
        .map(|r| r[1].to_string())
        .unwrap();
    let mut w = csv::Writer::from_path(&other).unwrap();
    w.write_record(["id", "text", "abusive", "violent", "reviewer", "decided_at"])
        .unwrap();
    w.write_record([
        second.id.as_str(),
        &text,
        "1",
        "0",
        "coral",
        "2026-12-05T00:00:00Z",
    ])
    .unwrap();
    w.flush().unwrap();
    assert_cmd::Command::cargo_bin("moderate")
        .unwrap()
        .current_dir(dir.path())
        .args(["store", "import", "other.csv", "--store", "review.db"])
        .env_remove("MODERATE_STORE")
        .assert()
        .success();
    // Session 2: both decided comments are left out; undo takes back the
    // review decision of session 1, not the imported one.
    let mut s = spawn_with(dir.path(), true, &args);
    let resumed = frame(&mut s, &mut log);
    assert_eq!(resumed.progress, "1/5", "{resumed:?}");
    let undone = press(&mut s, "u", &mut log);
    assert_eq!(undone.id, first.id, "{undone:?}");
    let _ = quit(s, &mut log);
    let out = assert_cmd::Command::cargo_bin("moderate")
        .unwrap()
        .current_dir(dir.path())
        .args(["store", "export", "--store", "review.db"])
        .env_remove("MODERATE_STORE")
        .output()
        .unwrap();
    let exported = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = exported.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{exported}");
    assert!(
        rows[0].starts_with(&format!("{},", second.id)),
        "{exported}"
    );
}

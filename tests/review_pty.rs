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
        .args(["train", "--data"])
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
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("moderate"));
    cmd.current_dir(dir)
        .args(["review", "comments.csv", "--all", "--model", "model.bin"])
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
        progress,
        id,
        decision: [decided("abusive"), decided("violent")],
        status: lines[help - 1].to_string(),
    }
}

fn finish(mut s: PtySession, log: &mut String) {
    log.push_str(&s.exp_eof().expect("review exits"));
    match s.process().wait() {
        Ok(WaitStatus::Exited(_, code)) => assert_eq!(code, 0, "{log}"),
        other => panic!("unexpected end {other:?}: {log}"),
    }
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
    finish(s, &mut log);
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
    finish(s, &mut log2);
    assert_eq!(decisions(dir.path()).1.len(), 1);
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

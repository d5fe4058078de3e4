//! What every command does with its outputs: a closed stdout pipe is
//! success, an output that is an input is refused, a failed run leaves the
//! previous output file untouched, and an unwritable output path is exit
//! code 2, detected before any long work.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn moderate() -> Command {
    Command::cargo_bin("moderate").expect("binary builds")
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// The write end of a pipe whose read end is already closed: the first
/// write to it fails with EPIPE, every time (no race with a reader).
#[cfg(unix)]
fn closed_pipe() -> Stdio {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds: [libc::c_int; 2] = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) returns; the
    // read end is closed once, and the write end is owned by the OwnedFd.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0, "pipe(2)");
        libc::close(fds[0]);
        Stdio::from(OwnedFd::from_raw_fd(fds[1]))
    }
}

#[cfg(unix)]
#[test]
fn every_command_treats_a_closed_stdout_as_success() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.model");
    let examples = data("examples.csv");
    let examples = examples.to_str().unwrap();
    let comments = data("comments.txt");
    let comments = comments.to_str().unwrap();
    let jsonl = data("examples.jsonl");
    let jsonl = jsonl.to_str().unwrap();
    let model_arg = model.to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec!["info"],
        vec!["info", "--json"],
        vec!["score", comments],
        vec!["score", comments, "--format", "table"],
        vec!["score", comments, "--format", "csv"],
        vec!["eval", "--data", examples],
        vec!["eval", "--data", examples, "--json", "--bias"],
        vec!["report", examples, "--out", "-"],
        vec!["perturb", examples],
        vec!["perturb", jsonl],
        vec![
            "train",
            "--no-encoder",
            "--data",
            examples,
            "--out",
            model_arg,
            "--cv",
            "0",
            "--min-df",
            "1",
            "--threads",
            "1",
        ],
        vec!["help", "score"],
    ];
    for args in commands {
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("moderate"))
            .args(&args)
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{args:?}: {:?}, stderr {stderr}",
            out.status
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("error"),
            "{args:?}: {stderr}"
        );
    }
}

/// A pseudo-terminal: its controller end (keep it open while the child
/// runs) and its terminal end, for a child's stdin.
#[cfg(target_os = "linux")]
fn pty() -> (std::fs::File, Stdio) {
    use std::os::fd::FromRawFd;
    // SAFETY: posix_openpt returns a new descriptor (checked), owned by the
    // File; ptsname_r writes a NUL-terminated name into `name`, whose length
    // it is given.
    unsafe {
        let controller = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(controller >= 0, "posix_openpt");
        let controller_file = std::fs::File::from_raw_fd(controller);
        assert_eq!(libc::grantpt(controller), 0, "grantpt");
        assert_eq!(libc::unlockpt(controller), 0, "unlockpt");
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(
            libc::ptsname_r(controller, name.as_mut_ptr(), name.len()),
            0,
            "ptsname_r"
        );
        let name = std::ffi::CStr::from_ptr(name.as_ptr()).to_str().unwrap();
        let terminal = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name)
            .expect("open the pty's terminal end");
        (controller_file, Stdio::from(terminal))
    }
}

/// `review` reads keys from a terminal, so the closed-stdout test above
/// cannot run it; here stdin is a pseudo-terminal and stdout a closed pipe,
/// both for a queue to show and for the "nothing to review" line.
#[cfg(target_os = "linux")]
#[test]
fn review_treats_a_closed_stdout_as_success() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = dir.path().join("quiet.csv");
    std::fs::write(
        &quiet,
        "id,text\n1,\"@history_buff thanks for the link, I had no idea the citadel was that old.\"\n",
    )
    .unwrap();
    let examples = data("examples.csv");
    for (input, what) in [
        (examples.as_path(), "a queue"),
        (quiet.as_path(), "nothing"),
    ] {
        let (_controller, stdin) = pty();
        let mut out = std::process::Command::new(assert_cmd::cargo::cargo_bin("moderate"))
            .arg("review")
            .arg(input)
            .arg("--decisions")
            .arg(dir.path().join("decisions.csv"))
            .env("TERM", "dumb")
            .stdin(stdin)
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Were a write to the closed pipe to succeed, review would wait for a
        // key press that never comes.
        let started = std::time::Instant::now();
        while out.try_wait().unwrap().is_none() {
            if started.elapsed() > std::time::Duration::from_secs(60) {
                out.kill().unwrap();
                panic!("review with {what} to show still runs after 60 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let out = out.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "review with {what} to show: {:?}, stderr {stderr}",
            out.status
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("error"),
            "review with {what} to show: {stderr}"
        );
    }
}

/// A CSV comments file with a malformed record (invalid UTF-8) on its
/// third line.
const BAD_AT_LINE_3: &[u8] = b"id,text\n1,fine\n2,bad \xff byte\n3,also fine\n";

#[test]
fn an_output_that_is_the_input_is_refused_and_the_input_kept() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.csv");
    let original = std::fs::read(data("examples.csv")).unwrap();
    std::fs::write(&input, &original).unwrap();
    let other_name = dir.path().join(".").join("big.csv");
    let cases: Vec<Vec<&std::ffi::OsStr>> = vec![
        vec![
            "score".as_ref(),
            input.as_ref(),
            "--format".as_ref(),
            "csv".as_ref(),
            "--out".as_ref(),
            input.as_ref(),
        ],
        vec![
            "score".as_ref(),
            input.as_ref(),
            "-o".as_ref(),
            other_name.as_ref(),
        ],
        vec![
            "score".as_ref(),
            input.as_ref(),
            "--skip-bad".as_ref(),
            "--rejects".as_ref(),
            input.as_ref(),
        ],
        vec![
            "report".as_ref(),
            input.as_ref(),
            "--out".as_ref(),
            input.as_ref(),
        ],
        vec![
            "perturb".as_ref(),
            input.as_ref(),
            "--out".as_ref(),
            input.as_ref(),
        ],
        vec![
            "train".as_ref(),
            "--no-encoder".as_ref(),
            "--data".as_ref(),
            input.as_ref(),
            "--out".as_ref(),
            input.as_ref(),
        ],
        vec![
            "eval".as_ref(),
            "--data".as_ref(),
            input.as_ref(),
            "--skip-bad".as_ref(),
            "--rejects".as_ref(),
            input.as_ref(),
        ],
    ];
    for args in cases {
        moderate()
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("is the input file"));
        assert_eq!(
            std::fs::read(&input).unwrap(),
            original,
            "{args:?} changed its input"
        );
    }
    // Two outputs on one file.
    let out = dir.path().join("out.csv");
    moderate()
        .arg("score")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .args(["--skip-bad", "--rejects"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is also given as --out"));
}

/// Files in `dir` other than `keep`.
fn other_files(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

#[test]
fn a_failed_run_leaves_the_previous_output_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, BAD_AT_LINE_3).unwrap();
    let out = dir.path().join("out.csv");
    let rejects = dir.path().join("rejects.csv");
    for (cmd, flag) in [
        ("score", "--out"),
        ("report", "--out"),
        ("perturb", "--out"),
    ] {
        std::fs::write(&out, "the previous run's output\n").unwrap();
        moderate()
            .arg(cmd)
            .arg(&input)
            .arg(flag)
            .arg(&out)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(":3:"));
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "the previous run's output\n",
            "{cmd} damaged the earlier output"
        );
        assert_eq!(
            other_files(dir.path(), &["in.csv", "out.csv"]),
            Vec::<String>::new(),
            "{cmd} left temporary files"
        );
    }
    // A successful run replaces it, and its rejects file appears whole.
    moderate()
        .arg("score")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .args(["--format", "csv", "--skip-bad", "--rejects"])
        .arg(&rejects)
        .assert()
        .success();
    let scores = std::fs::read_to_string(&out).unwrap();
    assert!(scores.starts_with("id,abusive,violent"), "{scores}");
    let rejected = std::fs::read_to_string(&rejects).unwrap();
    assert!(rejected.starts_with("file,line,reason\n"), "{rejected}");
    assert_eq!(rejected.lines().count(), 2, "{rejected}");
}

#[test]
fn an_unwritable_output_is_exit_code_2_naming_it() {
    let bad = "/nonexistent/dir/x";
    let examples = data("examples.csv");
    for args in [
        vec!["score", examples.to_str().unwrap(), "-o", bad],
        vec!["report", examples.to_str().unwrap(), "-o", bad],
        vec!["perturb", examples.to_str().unwrap(), "-o", bad],
        vec![
            "score",
            examples.to_str().unwrap(),
            "--skip-bad",
            "--rejects",
            bad,
        ],
        vec![
            "train",
            "--no-encoder",
            "--data",
            examples.to_str().unwrap(),
            "--out",
            bad,
            "--cv",
            "0",
        ],
    ] {
        moderate()
            .args(&args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(bad));
    }
}

#[test]
fn train_checks_its_output_path_before_reading_and_fitting() {
    // This data cannot be trained on (it has no label columns), so an error
    // about the output path shows that the path was checked first.
    moderate()
        .args(["train", "--no-encoder", "--data"])
        .arg(data("comments.txt"))
        .args(["--out", "/nonexistent/dir/m.model"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("/nonexistent/dir/m.model")
                .and(predicate::str::contains("label").not()),
        );
}

#[test]
fn exact_scores_are_the_unrounded_probabilities_of_the_rounded_output() {
    let run = |extra: &[&str]| -> Vec<Vec<String>> {
        let out = moderate()
            .args(["score", "--format", "csv"])
            .arg(data("examples.csv"))
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    };
    let (rounded, exact) = (run(&[]), run(&["--exact-scores"]));
    assert_eq!(rounded.len(), exact.len());
    let mut longer = 0;
    for (r, e) in rounded.iter().zip(&exact) {
        for col in 1..=2 {
            let p: f32 = e[col].parse().unwrap();
            assert_eq!(format!("{p:.4}"), r[col], "rounding of {}", e[col]);
            longer += usize::from(e[col].len() > 6);
        }
    }
    assert!(
        longer > rounded.len(),
        "exact scores carry more than 4 decimals"
    );
}

//! Hostile input: `moderate score` (default model) and `moderate eval` on
//! generated files that are broken on purpose. Nothing may crash or hang; a
//! bad record stops the run with exit code 2 and a message naming the file and
//! line, and with `--skip-bad` every record read is either scored (one output
//! line) or rejected, as the stderr summary
//! `N records read: S scored (F flagged), R rejected` reports.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest any single run may take (debug build, 2 shared cores).
const TIMEOUT: Duration = Duration::from_secs(120);

fn moderate() -> Command {
    let mut cmd = Command::cargo_bin("moderate").expect("binary builds");
    cmd.timeout(TIMEOUT);
    cmd
}

/// Writes `data` to `name` in a fresh temporary folder.
fn file(name: &str, data: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, data).unwrap();
    (dir, path)
}

/// The outcome of one run.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn lines(&self) -> usize {
        self.stdout.lines().count()
    }
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("moderate runs");
    Run {
        // A signal (crash) has no code: -1 fails every assertion below.
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn score(path: &Path, extra: &[&str]) -> Run {
    run(moderate().arg("score").args(extra).arg(path))
}

/// `(read, scored, rejected)` from the stderr summary line.
fn summary(stderr: &str) -> (u64, u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.contains(" records read: "))
        .unwrap_or_else(|| panic!("no summary in stderr:\n{stderr}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    // "N records read: S scored (F flagged[, T truncated to B bytes]), R rejected"
    (numbers[0], numbers[1], *numbers.last().unwrap())
}

/// Runs with `--skip-bad`: exit 0, every record accounted for, one output
/// line per scored record. Returns `(read, scored, rejected)`.
fn balanced(path: &Path, extra: &[&str]) -> (u64, u64, u64) {
    let mut args = vec!["--skip-bad"];
    args.extend_from_slice(extra);
    let r = score(path, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (read, scored, rejected) = summary(&r.stderr);
    assert_eq!(read, scored + rejected, "{}", r.stderr);
    assert_eq!(r.lines() as u64, scored, "{}", r.stderr);
    (read, scored, rejected)
}

/// Asserts a stop on a bad record: exit 2 and `file:line` in the message.
fn stops_at(path: &Path, line: u64, extra: &[&str], what: &str) {
    let r = score(path, extra);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let name = path.file_name().unwrap().to_string_lossy();
    let at = format!("{name}:{line}:");
    assert!(r.stderr.contains(&at), "expected {at} in:\n{}", r.stderr);
    assert!(
        r.stderr.contains(what),
        "expected {what:?} in:\n{}",
        r.stderr
    );
}

/// Deterministic pseudo-random bytes (xorshift64).
fn junk(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn invalid_utf8_is_a_bad_record_in_every_format() {
    let (_d, txt) = file("inv.txt", b"good one\nbad \xff here\nalso fine\n");
    stops_at(&txt, 2, &[], "invalid UTF-8");
    assert_eq!(balanced(&txt, &[]), (3, 2, 1));

    let (_d, csv) = file("inv.csv", b"id,text\n1,fine\n2,\"bad \xc3\x28\"\n3,ok\n");
    stops_at(&csv, 3, &[], "invalid UTF-8");
    assert_eq!(balanced(&csv, &[]), (3, 2, 1));

    let (_d, jsonl) = file("inv.jsonl", b"{\"text\":\"ok\"}\n{\"text\":\"\xfe\"}\n");
    stops_at(&jsonl, 2, &[], "invalid UTF-8");
    assert_eq!(balanced(&jsonl, &[]), (2, 1, 1));
}

#[test]
fn nul_bytes_inside_text_are_scored() {
    let (_d, txt) = file("nul.txt", b"nul\0inside\n\0\0\0\nplain\n");
    let r = score(&txt, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.lines(), 3);
    assert_eq!(balanced(&txt, &[]), (3, 3, 0));

    let (_d, csv) = file("nul.csv", b"id,text\n1,\"a\0b\"\n2,c\0\n");
    assert_eq!(balanced(&csv, &[]), (2, 2, 0));

    // Escaped, and raw (not valid JSON, but read as if escaped).
    let (_d, jsonl) = file(
        "nul.jsonl",
        b"{\"text\":\"a\\u0000b\"}\n{\"text\":\"raw\0nul\"}\n",
    );
    assert_eq!(balanced(&jsonl, &[]), (2, 2, 0));
}

#[test]
fn fifty_megabyte_single_line_is_scored_truncated() {
    let mut data = b"you idiot ".repeat(5 * 1024 * 1024);
    data.extend_from_slice(b"\nshort line\n");
    let (_d, txt) = file("big.txt", &data);
    drop(data);
    let started = std::time::Instant::now();
    let r = score(&txt, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let records: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["truncated"], true);
    assert!(records[1].get("truncated").is_none());
    assert!(r.stderr.contains("1 truncated"), "{}", r.stderr);
    assert!(started.elapsed() < Duration::from_secs(60));

    // The same as one JSONL record and one CSV field.
    let text = "kill ".repeat(4 * 1024 * 1024);
    let (_d, jsonl) = file("big.jsonl", format!("{{\"text\":\"{text}\"}}\n").as_bytes());
    assert_eq!(balanced(&jsonl, &[]), (1, 1, 0));
    let (_d, csv) = file(
        "big.csv",
        format!("id,text\n1,\"{text}\"\n2,x\n").as_bytes(),
    );
    assert_eq!(balanced(&csv, &[]), (2, 2, 0));
}

#[test]
fn unbalanced_csv_quotes_lose_only_their_record() {
    let (_d, csv) = file(
        "quotes.csv",
        b"id,text\n1,ok\n2,\"never closed\n3,more\n4,fine\n",
    );
    stops_at(&csv, 3, &[], "unterminated quoted field");
    assert_eq!(balanced(&csv, &[]), (4, 3, 1));
    // A quote inside an unquoted field is literal; one after a closing quote
    // is kept too (lenient, like the csv crate).
    let (_d, csv) = file("lenient.csv", b"id,text\n1,5\" gun\n2,\"a\"b\n");
    assert_eq!(balanced(&csv, &[]), (2, 2, 0));
    // In the header it is a file-level error.
    let (_d, csv) = file("head.csv", b"id,\"text\n1,x\n");
    stops_at(
        &csv,
        1,
        &["--skip-bad"],
        "unterminated quoted field in the header",
    );
}

#[test]
fn a_run_stopped_by_a_bad_record_says_nothing_was_skipped_and_how_to_skip() {
    // Without --skip-bad, every command that reads comments stops at the
    // unclosed quote with exit code 2, and says so: the record was not
    // skipped, and --skip-bad is how to go on.
    let (dir, csv) = file(
        "quotes.csv",
        b"id,text,abusive,violent\n1,ok,0,0\n2,\"never closed,1,0\n3,more,0,0\n",
    );
    let out = dir.path().join("out");
    let runs: [(&str, Vec<std::ffi::OsString>); 4] = [
        ("score", vec![csv.clone().into()]),
        ("eval", vec!["--data".into(), csv.clone().into()]),
        (
            "report",
            vec![csv.clone().into(), "--out".into(), out.clone().into()],
        ),
        (
            "train",
            vec![
                "--data".into(),
                csv.clone().into(),
                "--no-encoder".into(),
                "--out".into(),
                out.clone().into(),
            ],
        ),
    ];
    for (command, args) in runs {
        let r = run(moderate().arg(command).args(&args));
        assert_eq!(r.code, 2, "{command}: {}", r.stderr);
        let said = r.stderr.trim_end();
        assert!(
            said.contains("quotes.csv:3: unterminated quoted field"),
            "{command}: {said}"
        );
        assert!(said.contains("Nothing was skipped"), "{command}: {said}");
        assert!(said.contains("--skip-bad"), "{command}: {said}");
        assert!(
            !said.contains("record was skipped") && !said.contains("resumed"),
            "{command} claims a skip it did not make: {said}"
        );
    }
    // With --skip-bad the rejects file says where reading went on.
    let rejects = dir.path().join("rejects.csv");
    let r = score(
        &csv,
        &["--skip-bad", "--rejects", rejects.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let listed = std::fs::read_to_string(&rejects).unwrap();
    assert!(
        listed.contains("skipped, and reading resumed on line 4"),
        "{listed}"
    );
}

#[test]
fn missing_text_column_or_key() {
    let (_d, csv) = file("nocol.csv", b"id,body\n1,hi\n");
    stops_at(&csv, 1, &[], "no `text` column");
    stops_at(&csv, 1, &[], "use --text-column NAME");
    // A file-level problem: --skip-bad cannot skip it.
    stops_at(&csv, 1, &["--skip-bad"], "no `text` column");
    let (_d, jsonl) = file("nokey.jsonl", b"{\"text\":\"a\"}\n{\"body\":\"b\"}\n");
    stops_at(&jsonl, 2, &[], "no `text` key");
    assert_eq!(balanced(&jsonl, &[]), (2, 1, 1));
}

#[test]
fn eval_rejects_label_values_other_than_0_1_minus_1() {
    for (name, data, line) in [
        (
            "labels.csv",
            &b"id,text,abusive\n1,a,1\n2,b,0\n3,c,2\n"[..],
            4,
        ),
        ("yes.csv", b"id,text,violent\n1,a,yes\n", 2),
        ("half.csv", b"text,abusive\na,1\nb,0.5\n", 3),
        (
            "labels.jsonl",
            b"{\"text\":\"a\",\"abusive\":1}\n{\"text\":\"b\",\"abusive\":7}\n",
            2,
        ),
        ("list.jsonl", b"{\"text\":\"a\",\"violent\":[1]}\n", 1),
    ] {
        let (_d, path) = file(name, data);
        let r = run(moderate().args(["eval", "--data"]).arg(&path));
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("{name}:{line}:")),
            "{name}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("is not 0, 1 or -1"),
            "{name}: {}",
            r.stderr
        );
    }
}

#[test]
fn malformed_jsonl_lines_are_bad_records() {
    let (_d, jsonl) = file(
        "mal.jsonl",
        b"{\"text\":\"ok\"}\n{\"text\": \n[1, 2]\n{\"text\": 5}\n\"just a string\"\n{bad}\n\n{\"text\":\"fine\"}\n",
    );
    stops_at(&jsonl, 2, &[], "invalid JSON");
    assert_eq!(balanced(&jsonl, &[]), (7, 2, 5));
}

#[test]
fn empty_files() {
    // Text and JSONL: zero records, success.
    for name in ["empty.txt", "empty.jsonl", "blank.txt"] {
        let data: &[u8] = if name == "blank.txt" {
            b"\n  \r\n\t\n"
        } else {
            b""
        };
        let (_d, path) = file(name, data);
        let r = score(&path, &[]);
        assert_eq!((r.code, r.lines()), (0, 0), "{name}: {}", r.stderr);
        assert_eq!(balanced(&path, &[]), (0, 0, 0), "{name}");
    }
    // CSV: the header is required, so an empty file is bad input.
    let (_d, csv) = file("empty.csv", b"");
    stops_at(&csv, 1, &[], "no header line");
    // A header alone is zero records.
    let (_d, csv) = file("header.csv", b"id,text\n");
    assert_eq!(balanced(&csv, &[]), (0, 0, 0));
    // Empty stdin.
    let r = run(moderate()
        .args(["score", "--skip-bad", "-"])
        .write_stdin(""));
    assert_eq!((r.code, r.lines()), (0, 0), "{}", r.stderr);
}

#[test]
fn binary_junk_never_crashes() {
    for seed in 1..=3u64 {
        let data = junk(256 * 1024, seed);
        // As text and JSONL: every line is a record, scored or rejected.
        for name in ["junk.txt", "junk.jsonl"] {
            let (_d, path) = file(name, &data);
            let r = score(&path, &[]);
            assert!(r.code == 0 || r.code == 2, "{name}: {}", r.stderr);
            if r.code == 2 {
                assert!(r.stderr.contains(name), "{name}: {}", r.stderr);
            }
            let (read, _, _) = balanced(&path, &[]);
            assert!(read > 0, "{name}");
        }
        // An unknown extension is refused whatever the contents, and read
        // as told with --input-format.
        let (_d, path) = file("junk.dat", &data);
        let r = score(&path, &["--skip-bad"]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("--input-format"), "{}", r.stderr);
        balanced(&path, &["--input-format", "text"]);
        // As the body of a CSV file with a good header (stray quotes, NULs,
        // invalid UTF-8 and ragged rows all at once).
        let mut csv = b"id,text\n".to_vec();
        csv.extend_from_slice(&data);
        let (_d, path) = file("junk.csv", &csv);
        balanced(&path, &[]);
        // As a CSV file without a header: a file-level error.
        let (_d, path) = file("nohead.csv", &data);
        let r = score(&path, &["--skip-bad"]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("nohead.csv:"), "{}", r.stderr);
        // On stdin, whose format is sniffed.
        let r = run(moderate()
            .args(["score", "--skip-bad", "-"])
            .write_stdin(data.clone()));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let (read, scored, rejected) = summary(&r.stderr);
        assert_eq!(read, scored + rejected);
    }
}

#[test]
fn explain_and_table_survive_hostile_text() {
    // Obfuscated, control-character-laden and very long comments through
    // the explanation spans and the table's text column.
    let mut data = "k i l l them \u{200b}all 1d10t\u{0}s @ss\t\r\n"
        .as_bytes()
        .to_vec();
    data.extend_from_slice("💣".repeat(10_000).as_bytes());
    data.extend_from_slice("\ne\u{301}\u{301}\u{301}\u{301} ﷽ 𒐫\n".as_bytes());
    let (_d, path) = file("odd.txt", &data);
    for extra in [
        &["--explain"][..],
        &["--format", "table"],
        &["--format", "csv"],
    ] {
        let r = score(&path, extra);
        assert_eq!(r.code, 0, "{extra:?}: {}", r.stderr);
    }
}

#[test]
fn terminal_escapes_in_comments_never_reach_the_terminal_or_the_page() {
    // SGR (recolour), OSC (set the window title, ended by BEL), a C1 CSI
    // and a bidi override, in an id and in a comment.
    let data = "id,text\n\
                \"x\x1b[2J\",\"plain \x1b[31mred\x1b[0m \x1b]0;owned\x07 \u{9b}2J \u{202e}txt.exe\"\n";
    let (_d, path) = file("escapes.csv", data.as_bytes());
    let r = score(&path, &["--format", "table"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stdout
            .chars()
            .any(|c| c.is_control() && c != '\n' || c == '\u{202e}'),
        "control characters in the table: {:?}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("plain ?[31mred?[0m ?]0;owned? ?2J ?txt.exe")
    );
    // The HTML report replaces them too (HTML does not allow them in text).
    let r = run(moderate()
        .arg("report")
        .arg(&path)
        .args(["--all", "--out", "-"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stdout
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')),
        "control characters in the page"
    );
    // Messages on stderr quote input too: a bad label value with escapes.
    let (_d, labels) = file("labels.csv", b"text,abusive\nhi,\x1b]0;owned\x07\n");
    let r = run(moderate().args(["eval", "--data"]).arg(&labels));
    assert_eq!(r.code, 2);
    assert!(
        !r.stderr.chars().any(|c| c.is_control() && c != '\n'),
        "{:?}",
        r.stderr
    );
}

#[test]
fn terminal_escapes_in_column_values_never_reach_the_terminal() {
    // `eval --by` prints the values of a data column, and `info` prints the
    // `source` values the model was trained on: both come from files as
    // untrusted as the comments.
    let title = "\x1b]0;owned\x07src";
    let data = format!(
        "id,text,abusive,violent,source\n\
         1,you idiot,1,0,\"{title}\"\n2,nice day,0,0,\"{title}\"\n\
         3,you moron,1,1,b\n4,hello there,0,0,b\n5,burn them all,1,1,b\n6,good game,0,0,b\n"
    );
    let (dir, path) = file("labels.csv", data.as_bytes());
    let r = run(moderate()
        .args(["eval", "--by", "source", "--data"])
        .arg(&path));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("[?]0;owned?src] 2 rows"), "{}", r.stdout);
    assert!(
        !r.stdout.chars().any(|c| c.is_control() && c != '\n'),
        "control characters in eval --by: {:?}",
        r.stdout
    );
    let model = dir.path().join("m.model");
    let r = run(moderate()
        .args([
            "train",
            "--no-encoder",
            "--cv",
            "0",
            "--min-df",
            "1",
            "--threads",
            "1",
            "--data",
        ])
        .arg(&path)
        .arg("--out")
        .arg(&model));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(moderate().args(["info", "--model"]).arg(&model));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("?]0;owned?src 2"), "{}", r.stdout);
    assert!(
        !r.stdout.chars().any(|c| c.is_control() && c != '\n'),
        "control characters in info: {:?}",
        r.stdout
    );
}

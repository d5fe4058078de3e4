//! The README's command examples, checked against the real binary.
//!
//! A fenced block in README.md that follows a marker line
//!
//! ```text
//! <!-- readme-check: moderate ARGS... [| OPTION]... -->
//! ```
//!
//! must hold exactly what `moderate ARGS...` prints, run from the
//! repository root (trailing spaces and the final newline aside). Options:
//!
//! - `lines A-B`: only output lines A to B (1-based, inclusive);
//! - `from PREFIX`: only the output from the first line that starts with
//!   PREFIX to the end of its paragraph (the next blank line);
//! - `screen N`: only the N-th screen of a `keys` run (from its title line to
//!   its key bar);
//! - `stderr`: check stderr instead of stdout;
//! - `shared`: the command reads `../shared` (the project's shared corpus).
//!   Such commands run the second stage over the whole dev set, minutes
//!   each, so they run only with `MODERATE_README_SHARED=1` or
//!   `UPDATE_README=1` (as `scripts/update-readme.sh` sets), and with
//!   `../shared` present; otherwise the block is skipped, with a note.
//!   `MODERATE_BIN` names a binary to run instead of the test build (a
//!   release build makes them several times faster);
//! - `workspace`: run in the workspace, a temporary folder shared by every
//!   block of one test run, whose `data` is the repository's `data/`;
//!   files the command writes stay there for the blocks below;
//! - `keys K...`: run in the workspace in a pseudo-terminal (100 x 30,
//!   `TERM=dumb`, `NO_COLOR=1`), pressing the keys in order (`Enter` or one
//!   character), each once the previous screen is complete; the last key
//!   must end the program (`q`). The output is every screen and the lines
//!   after them.
//!
//! A command runs once per test run, at its first block; later blocks with
//! the same marker command (and keys) show other parts of that run. Blocks
//! are checked in README order, so a `review` run resumes the decisions of
//! the one above it.
//!
//! Two other markers:
//!
//! - `<!-- readme-check: file PATH [| OPTION]... -->`: the content of PATH
//!   in the workspace, as the blocks above left it. Options `lines A-B`,
//!   `ignore-times` (RFC 3339 UTC times such as a decision's `decided_at`
//!   are not compared) and `agrees-with FILE` (every row's label columns
//!   must equal those of the row with the same `id` in FILE: the decisions a
//!   walkthrough shows are right).
//! - `<!-- readme-check: moderate train ... --out MODEL | recorded -->`: a
//!   training run too heavy for the tests. It is not run; instead the
//!   figures of the block (row and label counts, class weighting,
//!   thresholds, ROC-AUC, features, file size) must be those stored in
//!   MODEL, so a retrained model whose output was not pasted in fails.
//!
//! - `<!-- readme-check: http METHOD PATH [| OPTION]... -->`: the body of
//!   the answer of `moderate serve` (the built-in model, started once per
//!   test run in the workspace, on an ephemeral loopback port, with the
//!   README's Coral secret `empsec_0123456789abcdef`) to that request.
//!   Options `body TEXT` (the request body), `content-type TYPE` and
//!   `coral-sign` (sign the body as Coral does, `X-Coral-Signature`).
//!
//! Figures in prose (and in blocks that are not checked whole) are checked
//! too. A paragraph, list item, table or fenced block that follows
//!
//! ```text
//! <!-- readme-figures: moderate ARGS [| OPTION]... -->
//! ```
//!
//! (or `readme-figures: http ...`, with the options above; several such
//! lines in a row all apply) must quote only figures that occur in that
//! output: every decimal number (`0.625`), number with thousands separators
//! (`10,469`, also found as `10469`), number of three digits or more, and
//! 12-digit hex model version in it (with `only-versions`: only the model
//! versions, for a transcript with ports, times and counts). A retrained model that changes a figure the prose quotes fails
//! the test; prose is never rewritten.
//!
//! A figure that is a record of a past measurement (a benchmark, an
//! experiment, a run on another day) is marked so instead: a block that
//! follows `<!-- readme-recorded: WHAT, WHEN -->` (or, for an illustration
//! that is not the tool's output, `<!-- readme-example: WHAT -->`), or a
//! whole section under
//! a heading followed by `<!-- readme-recorded-section: WHAT, WHEN -->`
//! (up to the next heading of the same or a higher level). The test
//! `every_figure_is_checked_or_marked_recorded` finds any paragraph or block
//! that quotes a model figure (a probability or AUC such as `0.361`, or a
//! model version) and is neither checked nor marked.
//!
//! When the output changes on purpose (a retrained model changes every
//! score), regenerate everything with one command:
//!
//! ```sh
//! bash scripts/update-readme.sh
//! ```
//!
//! It runs this test with `UPDATE_README=1`, which rewrites every stale
//! block in place. A `recorded` block is rewritten only from a real run:
//! when it is stale, the script re-runs its command into a temporary file,
//! checks that the file is byte for byte MODEL, and names the run's output
//! in `README_TRAIN_OUTPUT`. Blocks whose `agrees-with` check fails are
//! rewritten but still reported, since the prose around them describes the
//! decisions; prose that quotes figures is never rewritten. Review the diff
//! of README.md.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

const MARKER: &str = "<!-- readme-check:";
/// Marks prose whose figures are checked against a command's output.
const FIGURES: &str = "<!-- readme-figures:";
/// Marks a block whose figures are a record of a past measurement.
const RECORDED: &str = "<!-- readme-recorded:";
/// Marks a block whose figures are an example, not the tool's output.
const EXAMPLE: &str = "<!-- readme-example:";
/// Marks a section whose figures are records of past measurements.
const RECORDED_SECTION: &str = "<!-- readme-recorded-section:";
/// The Coral signing secret of the README's example.
const CORAL_SECRET: &str = "empsec_0123456789abcdef";

/// Which part of the output a block shows.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    All,
    Lines(usize, usize),
    From(String),
    Screen(usize),
}

/// What a block shows.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// The output of `moderate ARGS`.
    Command,
    /// A file of the workspace.
    File(String),
    /// A heavy `moderate train` run whose figures are checked against the
    /// model it wrote.
    Recorded,
    /// The body of the server's answer to a request.
    Http { method: String, path: String },
}

/// One checked block of the README.
#[derive(Debug)]
struct Check {
    /// 0-based line of the marker in README.md.
    marker_line: usize,
    /// The block's content lines (between the fences), as lines of README.md.
    body: std::ops::Range<usize>,
    /// The fence's indentation (a block inside a list item), which every
    /// content line carries too.
    indent: String,
    source: Source,
    /// The command's arguments after `moderate`.
    args: Vec<String>,
    /// Keys pressed in a pseudo-terminal, if any.
    keys: Option<Vec<String>>,
    part: Part,
    stderr: bool,
    shared: bool,
    workspace: bool,
    ignore_times: bool,
    agrees_with: Option<String>,
    /// `http`: the request body, its content type, and whether to sign it
    /// as Coral does.
    request_body: Option<String>,
    content_type: Option<String>,
    coral_sign: bool,
    /// `readme-figures`: check only the model versions the block quotes,
    /// not its other numbers (a transcript's ports, times and counts).
    only_versions: bool,
}

impl Check {
    /// The marker's line number in README.md, for messages.
    fn at(&self) -> usize {
        self.marker_line + 1
    }

    /// The command line, for messages.
    fn command(&self) -> String {
        if let Source::Http { method, path } = &self.source {
            return format!("{method} {path} (moderate serve)");
        }
        let mut s = format!("moderate {}", self.args.join(" "));
        if let Some(keys) = &self.keys {
            s.push_str(&format!(" (keys {})", keys.join(" ")));
        }
        s
    }
}

fn parse_marker(line: &str, at: usize) -> Check {
    parse_marker_after(line, MARKER, at)
}

/// Parses a marker line that starts with `prefix` (a block check or a
/// figures check).
fn parse_marker_after(line: &str, prefix: &str, at: usize) -> Check {
    let inner = line
        .trim()
        .strip_prefix(prefix)
        .and_then(|s| s.strip_suffix("-->"))
        .unwrap_or_else(|| panic!("README.md:{}: malformed marker `{line}`", at + 1));
    let mut pieces = inner.split(" | ");
    let command: Vec<String> = pieces
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let source = match command.first().map(String::as_str) {
        Some("moderate") => Source::Command,
        Some("file") if command.len() == 2 => Source::File(command[1].clone()),
        Some("http") if command.len() == 3 => Source::Http {
            method: command[1].clone(),
            path: command[2].clone(),
        },
        _ => panic!(
            "README.md:{}: a checked block shows `moderate ARGS`, `file PATH` or \
             `http METHOD PATH`",
            at + 1
        ),
    };
    let mut check = Check {
        marker_line: at,
        body: 0..0,
        indent: String::new(),
        args: command[1..].to_vec(),
        source,
        keys: None,
        part: Part::All,
        stderr: false,
        shared: false,
        workspace: false,
        ignore_times: false,
        agrees_with: None,
        request_body: None,
        content_type: None,
        coral_sign: false,
        only_versions: false,
    };
    for option in pieces.map(str::trim) {
        match option {
            "stderr" => check.stderr = true,
            "shared" => check.shared = true,
            "workspace" => check.workspace = true,
            "ignore-times" => check.ignore_times = true,
            "coral-sign" => check.coral_sign = true,
            "only-versions" => check.only_versions = true,
            "recorded" => {
                assert_eq!(
                    check.args.first().map(String::as_str),
                    Some("train"),
                    "README.md:{}: only `moderate train` can be recorded",
                    at + 1
                );
                check.source = Source::Recorded;
            }
            _ => {
                if let Some(range) = option.strip_prefix("lines ") {
                    let (a, b) = range.split_once('-').expect("lines A-B");
                    check.part = Part::Lines(a.trim().parse().unwrap(), b.trim().parse().unwrap());
                } else if let Some(prefix) = option.strip_prefix("from ") {
                    check.part = Part::From(prefix.to_string());
                } else if let Some(n) = option.strip_prefix("screen ") {
                    check.part = Part::Screen(n.trim().parse().expect("screen N"));
                } else if let Some(keys) = option.strip_prefix("keys ") {
                    let keys: Vec<String> = keys.split_whitespace().map(str::to_string).collect();
                    assert_eq!(
                        keys.last().map(String::as_str),
                        Some("q"),
                        "README.md:{}: the last key must quit (`q`)",
                        at + 1
                    );
                    check.keys = Some(keys);
                    check.workspace = true;
                } else if let Some(file) = option.strip_prefix("agrees-with ") {
                    check.agrees_with = Some(file.trim().to_string());
                } else if let Some(body) = option.strip_prefix("body ") {
                    // `\n` is a line break (JSON lines, CSV).
                    check.request_body = Some(body.replace("\\n", "\n"));
                } else if let Some(t) = option.strip_prefix("content-type ") {
                    check.content_type = Some(t.trim().to_string());
                } else {
                    panic!("README.md:{}: unknown option `{option}`", at + 1);
                }
            }
        }
    }
    check
}

/// The block that starts at line `start` (0-based, a non-blank line): a
/// fenced block (its content lines) or a paragraph, list item or table (up
/// to the next blank line or fence).
fn block_at(lines: &[&str], start: usize) -> std::ops::Range<usize> {
    if lines[start].trim_start().starts_with("```") {
        let close = (start + 1..lines.len())
            .find(|&j| lines[j].trim_start().starts_with("```"))
            .unwrap_or_else(|| panic!("README.md:{}: unclosed block", start + 1));
        return start + 1..close;
    }
    let end = (start..lines.len())
        .find(|&j| lines[j].trim().is_empty() || lines[j].trim_start().starts_with("```"))
        .unwrap_or(lines.len());
    start..end
}

/// A block of prose (or a fenced block) whose figures are checked against
/// the outputs of the `readme-figures` markers above it.
#[derive(Debug)]
struct FigureCheck {
    /// The markers, each parsed like a block check.
    sources: Vec<Check>,
    /// The block's lines in README.md.
    block: std::ops::Range<usize>,
}

/// Every `readme-figures` block of `lines`.
fn figure_checks(lines: &[&str]) -> Vec<FigureCheck> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].trim_start().starts_with(FIGURES) {
            i += 1;
            continue;
        }
        let mut sources = Vec::new();
        while i < lines.len() && lines[i].trim_start().starts_with(FIGURES) {
            sources.push(parse_marker_after(lines[i], FIGURES, i));
            i += 1;
        }
        assert!(
            lines.get(i).is_some_and(|l| !l.trim().is_empty()),
            "README.md:{}: a figures marker must be followed by the block it checks",
            i
        );
        out.push(FigureCheck {
            sources,
            block: block_at(lines, i),
        });
        i += 1;
    }
    out
}

/// A figure quoted in prose: a decimal number, a number with thousands
/// separators, a number of three digits or more, or a 12-digit hex model
/// version.
#[derive(Debug, Clone, PartialEq)]
struct Figure(String);

impl Figure {
    /// Whether `output` holds this figure (as a whole token; `10,469` also
    /// as `10469`).
    fn occurs_in(&self, output: &str) -> bool {
        let plain = self.0.replace(',', "");
        [self.0.as_str(), plain.as_str()]
            .iter()
            .any(|f| token_positions(output, f).next().is_some())
    }
}

/// Where `needle` occurs in `text` not inside a longer number or word.
fn token_positions<'a>(text: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    text.match_indices(needle)
        .map(|(at, _)| at)
        .filter(move |&at| {
            let mut back = text[..at].chars().rev();
            let (before, before2) = (back.next(), back.next());
            let after = text[at + needle.len()..].chars().next();
            let after2 = text[at + needle.len()..].chars().nth(1);
            let joins = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
            let separator = |c: Option<char>| matches!(c, Some('.' | ','));
            // `0.62` is not inside `0.625`, `469` not inside `10,469`, nor `10`
            // inside `10.5`.
            let inside_word = joins(before) || joins(after);
            let inside_number =
                (separator(before) && digit(before2)) || (separator(after) && digit(after2));
            !inside_word && !inside_number
        })
}

/// The figures quoted in `text` (outside HTML comments), in order.
fn figures(text: &str) -> Vec<Figure> {
    let mut text = text.to_string();
    while let Some(a) = text.find("<!--") {
        let b = text[a..].find("-->").map_or(text.len(), |b| a + b + 3);
        text.replace_range(a..b, " ");
    }
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let word_start = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if word_start && bytes[i].is_ascii_alphanumeric() {
            let mut j = i;
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                j += 1;
            }
            let word = &text[i..j];
            if is_model_version(word) {
                out.push(Figure(word.to_string()));
                i = j;
                continue;
            }
        }
        if bytes[i].is_ascii_digit() && word_start {
            let mut j = i;
            while j < bytes.len()
                && (bytes[j].is_ascii_digit()
                    || (matches!(bytes[j], b'.' | b',')
                        && bytes.get(j + 1).is_some_and(u8::is_ascii_digit)))
            {
                j += 1;
            }
            let number = &text[i..j];
            let ends_word = bytes.get(j).is_none_or(|c| !c.is_ascii_alphabetic());
            let grouped = number.contains(',')
                && number
                    .split(',')
                    .skip(1)
                    .all(|g| g.len() == 3 && g.bytes().all(|c| c.is_ascii_digit()));
            if ends_word
                && (number.contains('.') && !number.contains(',')
                    || grouped
                    || (!number.contains(['.', ',']) && number.len() >= 3))
            {
                out.push(Figure(number.to_string()));
            }
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// A 12-digit lower-case hex word with a digit and a letter: a model
/// version.
fn is_model_version(word: &str) -> bool {
    word.len() == 12
        && word
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        && word.bytes().any(|c| c.is_ascii_digit())
        && word.bytes().any(|c| c.is_ascii_alphabetic())
}

/// A figure that a retrained model changes: a probability, threshold or
/// AUC (`0.` and two or more digits) or a model version. Paragraphs that
/// quote one must be checked or marked recorded.
fn is_model_figure(f: &Figure) -> bool {
    is_model_version(&f.0)
        || (f.0.starts_with("0.") && f.0.len() >= 4 && f.0[2..].bytes().all(|c| c.is_ascii_digit()))
}

/// Every marked block of `readme`.
fn checks(lines: &[&str]) -> Vec<Check> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].trim_start().starts_with(MARKER) {
            i += 1;
            continue;
        }
        let mut check = parse_marker(lines[i], i);
        let open = i + 1;
        assert!(
            lines
                .get(open)
                .is_some_and(|l| l.trim_start().starts_with("```")),
            "README.md:{}: a marker must be followed by a fenced block",
            i + 1
        );
        let close = (open + 1..lines.len())
            .find(|&j| lines[j].trim_start().starts_with("```"))
            .unwrap_or_else(|| panic!("README.md:{}: unclosed block", open + 1));
        let fence = lines[open];
        check.indent = fence[..fence.len() - fence.trim_start().len()].to_string();
        check.body = open + 1..close;
        out.push(check);
        i = close + 1;
    }
    out
}

/// What a check's block should hold, from the command's output.
fn expected(check: &Check, output: &str) -> String {
    let lines: Vec<&str> = output.lines().map(str::trim_end).collect();
    let picked: &[&str] = match &check.part {
        Part::All => &lines,
        Part::Lines(a, b) => {
            assert!(
                *a >= 1 && a <= b && *b <= lines.len(),
                "README.md:{}: lines {a}-{b} of a {}-line output",
                check.at(),
                lines.len()
            );
            &lines[a - 1..*b]
        }
        Part::From(prefix) => {
            let start = lines
                .iter()
                .position(|l| l.starts_with(prefix.as_str()))
                .unwrap_or_else(|| {
                    panic!(
                        "README.md:{}: no output line starts with `{prefix}`",
                        check.at()
                    )
                });
            let end = (start..lines.len())
                .find(|&j| lines[j].is_empty())
                .unwrap_or(lines.len());
            &lines[start..end]
        }
        Part::Screen(n) => {
            let start = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.starts_with("moderate review "))
                .nth(n.checked_sub(1).expect("screens count from 1"))
                .unwrap_or_else(|| panic!("README.md:{}: no screen {n}", check.at()))
                .0;
            let end = (start..lines.len())
                .find(|&j| lines[j].starts_with("keys:"))
                .unwrap_or_else(|| panic!("README.md:{}: screen {n} has no key bar", check.at()));
            &lines[start..=end]
        }
    };
    let mut text = picked.join("\n");
    while text.ends_with('\n') {
        text.pop();
    }
    text
}

/// Runs `moderate args` in `dir`.
fn run(dir: &Path, check: &Check) -> (String, String) {
    let out = std::process::Command::new(moderate_bin())
        .current_dir(dir)
        .args(&check.args)
        .env_remove("NO_COLOR")
        .output()
        .expect("moderate runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "README.md:{}: `{}` failed: {stderr}",
        check.at(),
        check.command()
    );
    (stdout, stderr)
}

/// Runs `moderate args` in `dir` in a pseudo-terminal of 100 x 30, pressing
/// `keys`; returns what the terminal showed, with `\r` removed.
fn run_in_terminal(dir: &Path, check: &Check, keys: &[String]) -> String {
    // `stty` sets the size before `moderate` starts, so it never sees
    // another one.
    let mut cmd = std::process::Command::new("sh");
    cmd.current_dir(dir)
        .arg("-c")
        .arg("stty cols 100 rows 30 && exec \"$0\" \"$@\"")
        .arg(moderate_bin())
        .args(&check.args)
        .env("TERM", "dumb")
        .env("NO_COLOR", "1");
    let mut s = rexpect::session::spawn_command(cmd, Some(30_000))
        .unwrap_or_else(|e| panic!("README.md:{}: cannot start: {e}", check.at()));
    let mut shown = String::new();
    let screen = |s: &mut rexpect::session::PtySession, shown: &mut String| {
        let before = s.exp_string("q quit").unwrap_or_else(|e| {
            panic!(
                "README.md:{}: `{}`: no complete screen: {e}\n{shown}",
                check.at(),
                check.command()
            )
        });
        shown.push_str(&before);
        shown.push_str("q quit");
    };
    screen(&mut s, &mut shown);
    for key in keys {
        s.send(if key == "Enter" { "\r" } else { key }).unwrap();
        s.flush().unwrap();
        if key == "q" {
            break;
        }
        screen(&mut s, &mut shown);
    }
    shown.push_str(&s.exp_eof().expect("the program ends"));
    // rexpect hands over each byte of the terminal as a char of its own: put
    // the bytes back together as the UTF-8 they are (an em dash is 3 bytes).
    let shown = if shown.chars().all(|c| (c as u32) < 256) {
        let bytes: Vec<u8> = shown.chars().map(|c| c as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        shown
    };
    match s.process().wait() {
        Ok(rexpect::process::WaitStatus::Exited(_, 0)) => {}
        other => panic!(
            "README.md:{}: `{}` ended with {other:?}:\n{shown}",
            check.at(),
            check.command()
        ),
    }
    shown.replace('\r', "")
}

/// `text` with every RFC 3339 UTC time (`2026-11-22T04:57:54Z`) replaced by
/// `<time>`.
fn mask_times(text: &str) -> String {
    let is_time = |b: &[u8]| {
        b.len() >= 20
            && b.iter().take(20).enumerate().all(|(i, &c)| match i {
                4 | 7 => c == b'-',
                10 => c == b'T',
                13 | 16 => c == b':',
                19 => c == b'Z',
                _ => c.is_ascii_digit(),
            })
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if is_time(&bytes[i..]) {
            out.push_str("<time>");
            i += 20;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Labelled rows of a CSV file: id -> (column -> value).
fn rows_by_id(path: &Path) -> HashMap<String, HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let row: HashMap<String, String> = header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_string))
                .collect();
            (row["id"].clone(), row)
        })
        .collect()
}

/// Rows of the decisions file `decisions` whose labels differ from the row
/// with the same id in `truth`.
fn disagreements(decisions: &Path, truth: &Path) -> Vec<String> {
    let truth = rows_by_id(truth);
    let mut out = Vec::new();
    for (id, row) in rows_by_id(decisions) {
        for label in ["abusive", "violent"] {
            let want = truth.get(&id).and_then(|r| r.get(label));
            if want.is_some_and(|w| w != "-1" && !w.is_empty()) && want != row.get(label) {
                out.push(format!(
                    "{id}: {label}={} in the decisions, {} in the labels",
                    row[label],
                    want.unwrap()
                ));
            }
        }
    }
    out.sort();
    out
}

/// The problems of a `recorded` train block: figures that are not those
/// stored in the model it wrote.
fn recorded_train_problems(root: &Path, check: &Check, block: &str) -> Vec<String> {
    let out_at = check
        .args
        .iter()
        .position(|a| a == "--out")
        .expect("a recorded train command names --out");
    let model = &check.args[out_at + 1];
    let card = std::process::Command::new(moderate_bin())
        .current_dir(root)
        .args(["info", "--json", "--model", model])
        .output()
        .expect("moderate info runs");
    assert!(card.status.success(), "moderate info --model {model}");
    let card: serde_json::Value = serde_json::from_slice(&card.stdout).unwrap();
    let t = &card["training"];
    let size = std::fs::metadata(root.join(model)).unwrap().len();
    let mut want: Vec<String> = vec![format!(
        "trained on {} comments from {}",
        t["rows"],
        t["data_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(", ")
    )];
    for l in card["labels"].as_array().unwrap() {
        let name = l["name"].as_str().unwrap();
        let counts = &t["label_counts"][name];
        let cv = &l["cross_validation"];
        let folds: Vec<f64> = cv["fold_roc_auc"]
            .as_array()
            .map(|f| f.iter().map(|v| v.as_f64().unwrap()).collect())
            .unwrap_or_default();
        let (pooled, mean) = if cv.is_null() {
            ("-".to_string(), "-".to_string())
        } else {
            (
                format!("{:.4}", cv["roc_auc"].as_f64().unwrap()),
                if folds.is_empty() {
                    "-".to_string()
                } else {
                    format!("{:.4}", folds.iter().sum::<f64>() / folds.len() as f64)
                },
            )
        };
        want.push(format!(
            "{name} {} {} {} {} {:.3} {pooled} {mean}",
            counts[0],
            counts[1],
            counts[2],
            l["positive_repeat"],
            l["threshold"].as_f64().unwrap()
        ));
        if !folds.is_empty() {
            let f: Vec<String> = folds.iter().map(|a| format!("{a:.4}")).collect();
            want.push(format!("{name} per-fold ROC-AUC: {}", f.join(" ")));
        }
    }
    want.push(format!(
        "features: {} (of {} candidates);",
        card["features"], t["candidate_features"]
    ));
    want.push(format!("wrote {model} ({size} bytes)"));
    // Compare with single spaces, so the table's padding does not matter;
    // the timings after `features: ...;` are the run's own.
    let have: Vec<String> = block
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    want.into_iter()
        .filter(|w| {
            !have
                .iter()
                .any(|h| h == w || (w.ends_with(';') && h.starts_with(w)))
        })
        .map(|w| format!("README.md:{}: the block lacks `{w}`", check.at()))
        .collect()
}

/// What to do about a `recorded` block that `problems` showed stale.
fn recorded_advice(check: &Check, problems: &[String]) -> String {
    format!(
        "{}\n(the model was retrained: `bash scripts/update-readme.sh` re-runs `{}` into a \
         temporary file, checks that it reproduces the model byte for byte and pastes its \
         output into the block)",
        problems.join("\n"),
        check.command()
    )
}

/// What identifies one run: the arguments, the keys and where it runs.
type RunKey = (Vec<String>, Option<Vec<String>>, bool);

/// `moderate serve` on an ephemeral loopback port, killed when dropped.
struct Served {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl Served {
    fn start(dir: &Path) -> Served {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(moderate_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--workers", "1"])
            .args(["--io-threads", "1", "--access-log", "off"])
            .current_dir(dir)
            .env_remove("MODERATE_API_KEYS")
            .env_remove("MODERATE_ADMIN_KEYS")
            .env("MODERATE_CORAL_SECRETS", CORAL_SECRET)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("moderate serve starts");
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("moderate serve says where it listens")
                .expect("stderr");
            if let Some(rest) = line.strip_prefix("moderate serve: listening on http://") {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
        };
        // Drain stderr so the server never blocks on it.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Served { child, addr }
    }

    /// The body of the answer to `check`'s request.
    fn answer(&self, check: &Check) -> String {
        use std::io::Read as _;
        let Source::Http { method, path } = &check.source else {
            unreachable!("an http check")
        };
        let body = check.request_body.clone().unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n",
            self.addr,
            body.len()
        );
        head.push_str(&format!(
            "content-type: {}\r\n",
            check.content_type.as_deref().unwrap_or("application/json")
        ));
        if check.coral_sign {
            use hmac::{KeyInit, Mac};
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(CORAL_SECRET.as_bytes())
                .expect("any key length");
            mac.update(body.as_bytes());
            let hex: String = mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            head.push_str(&format!("x-coral-signature: sha256={hex}\r\n"));
        }
        head.push_str("\r\n");
        let mut stream = std::net::TcpStream::connect(self.addr).expect("connect");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("README.md:{}: no answer from the server", check.at()));
        String::from_utf8_lossy(&raw[split + 4..]).into_owned()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the commands of checks, once each, in the workspace or the
/// repository root, and the server when a check asks it.
struct Runner<'r> {
    root: &'r Path,
    space: tempfile::TempDir,
    outputs: HashMap<RunKey, (String, String)>,
    server: Option<Served>,
}

impl<'r> Runner<'r> {
    fn new(root: &'r Path) -> Self {
        Runner {
            root,
            space: workspace(root),
            outputs: HashMap::new(),
            server: None,
        }
    }

    /// What `check` shows: its command's stdout (or stderr), or the
    /// server's answer.
    fn output(&mut self, check: &Check) -> String {
        if let Source::Http { method, path } = &check.source {
            let key = (
                vec![
                    method.clone(),
                    path.clone(),
                    check.request_body.clone().unwrap_or_default(),
                    check.content_type.clone().unwrap_or_default(),
                    check.coral_sign.to_string(),
                ],
                None,
                true,
            );
            if !self.outputs.contains_key(&key) {
                let server = self
                    .server
                    .get_or_insert_with(|| Served::start(self.space.path()));
                let body = server.answer(check);
                self.outputs.insert(key.clone(), (body, String::new()));
            }
            return self.outputs[&key].0.clone();
        }
        let dir = if check.workspace {
            self.space.path()
        } else {
            self.root
        };
        let key = (check.args.clone(), check.keys.clone(), check.workspace);
        let (stdout, stderr) = self
            .outputs
            .entry(key)
            .or_insert_with(|| match &check.keys {
                Some(keys) => (run_in_terminal(dir, check, keys), String::new()),
                None => run(dir, check),
            });
        if check.stderr {
            stderr.clone()
        } else {
            stdout.clone()
        }
    }
}

/// A temporary folder whose `data` is the repository's `data/`.
fn workspace(root: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root.join("data"), dir.path().join("data")).unwrap();
    dir
}

/// Checks that every figure of `f`'s block occurs in the output of one of
/// its markers; returns what is wrong, if anything.
fn check_figures(
    f: &FigureCheck,
    lines: &[&str],
    runner: &mut Runner<'_>,
    have_shared: bool,
) -> Option<String> {
    let at = f.sources[0].at();
    if f.sources.iter().any(|s| s.shared) && !have_shared {
        eprintln!(
            "README.md:{at}: figures not checked (needs ../shared and MODERATE_README_SHARED=1)"
        );
        return None;
    }
    let text = lines[f.block.clone()].join("\n");
    let mut quoted = figures(&text);
    if f.sources.iter().all(|s| s.only_versions) {
        quoted.retain(|f| is_model_version(&f.0));
    }
    assert!(
        !quoted.is_empty(),
        "README.md:{at}: a figures marker over a block that quotes no figure"
    );
    let outputs: Vec<String> = f
        .sources
        .iter()
        .map(|s| {
            let out = match &s.source {
                Source::Command | Source::Http { .. } => runner.output(s),
                other => panic!("README.md:{at}: figures come from a command, not {other:?}"),
            };
            expected(s, &out)
        })
        .collect();
    let missing: Vec<String> = quoted
        .iter()
        .filter(|q| !outputs.iter().any(|o| q.occurs_in(o)))
        .map(|q| q.0.clone())
        .collect();
    (!missing.is_empty()).then(|| {
        let commands: Vec<String> = f.sources.iter().map(Check::command).collect();
        format!(
            "README.md:{}: the prose quotes {} that `{}` no longer prints; correct the \
             prose (it is never rewritten), or mark a past measurement `readme-recorded`:\n{}",
            f.block.start + 1,
            missing.join(", "),
            commands.join("` / `"),
            text
        )
    })
}

#[test]
fn readme_examples_match_the_real_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let lines: Vec<&str> = readme.lines().collect();
    let checks = checks(&lines);
    assert!(checks.len() >= 10, "only {} checked blocks", checks.len());
    let update = std::env::var_os("UPDATE_README").is_some();
    let have_shared = root.join("../shared/data/dev.csv").is_file()
        && (update || std::env::var_os("MODERATE_README_SHARED").is_some());
    let mut runner = Runner::new(root);
    let mut replacements: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut stale = Vec::new();
    let mut wrong = Vec::new();
    // Blocks and figures in README order, so that a figure quoted from a
    // workspace run sees the files the blocks above left.
    let figure_checks = figure_checks(&lines);
    let mut figure_at = 0;
    for check in &checks {
        while figure_at < figure_checks.len()
            && figure_checks[figure_at].block.start < check.marker_line
        {
            let f = &figure_checks[figure_at];
            figure_at += 1;
            if let Some(problem) = check_figures(f, &lines, &mut runner, have_shared) {
                wrong.push(problem);
            }
        }
        let have = lines[check.body.clone()]
            .iter()
            .map(|l| {
                l.strip_prefix(check.indent.as_str())
                    .unwrap_or(l)
                    .trim_end()
            })
            .collect::<Vec<_>>()
            .join("\n");
        if check.shared && !have_shared {
            eprintln!(
                "README.md:{}: skipped (needs ../shared and MODERATE_README_SHARED=1): {}",
                check.at(),
                check.command()
            );
            continue;
        }
        let output = match &check.source {
            Source::Recorded => {
                // Checked by `recorded_blocks_hold_the_figures_of_their_model`;
                // rewritten here only from the output of a real run, which
                // scripts/update-readme.sh makes and names in
                // README_TRAIN_OUTPUT.
                if !update {
                    continue;
                }
                match std::env::var_os("README_TRAIN_OUTPUT") {
                    Some(file) => {
                        let output = std::fs::read_to_string(&file).unwrap_or_else(|e| {
                            panic!("README_TRAIN_OUTPUT {}: {e}", Path::new(&file).display())
                        });
                        let problems = recorded_train_problems(root, check, &output);
                        if !problems.is_empty() {
                            wrong.push(format!(
                                "{}
(README_TRAIN_OUTPUT is not the output of the run that                                  wrote the model)",
                                problems.join("\n")
                            ));
                            continue;
                        }
                        output
                    }
                    None => {
                        let problems = recorded_train_problems(root, check, &have);
                        if !problems.is_empty() {
                            wrong.push(recorded_advice(check, &problems));
                        }
                        continue;
                    }
                }
            }
            Source::File(file) => {
                let path = runner.space.path().join(file);
                if let Some(truth) = &check.agrees_with {
                    let problems = disagreements(&path, &runner.space.path().join(truth));
                    if !problems.is_empty() {
                        wrong.push(format!(
                            "README.md:{}: the decisions shown disagree with {truth}:\n{}\n\
                             (a retrained model queues comments in another order: choose the \
                             keys of the review blocks above, and the sentences that describe \
                             them, again)",
                            check.at(),
                            problems.join("\n")
                        ));
                    }
                }
                std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("README.md:{}: cannot read {file}: {e}", check.at()))
            }
            Source::Command | Source::Http { .. } => runner.output(check),
        };
        let want = expected(check, &output);
        let same = if check.ignore_times {
            mask_times(&have) == mask_times(&want)
        } else {
            have == want
        };
        if !same {
            stale.push(format!(
                "README.md:{}: `{}` now gives:\n{want}\n--- but the README shows:\n{have}\n",
                check.at(),
                check.command()
            ));
            let indented: Vec<String> = want
                .lines()
                .map(|l| {
                    if l.is_empty() {
                        String::new()
                    } else {
                        format!("{}{l}", check.indent)
                    }
                })
                .collect();
            replacements.push((check.body.clone(), indented.join("\n")));
        }
    }
    for f in &figure_checks[figure_at..] {
        if let Some(problem) = check_figures(f, &lines, &mut runner, have_shared) {
            wrong.push(problem);
        }
    }
    if update && !replacements.is_empty() {
        let mut out: Vec<String> = Vec::with_capacity(lines.len());
        let mut at = 0;
        for (range, text) in &replacements {
            out.extend(lines[at..range.start].iter().map(|l| l.to_string()));
            out.extend(text.lines().map(str::to_string));
            at = range.end;
        }
        out.extend(lines[at..].iter().map(|l| l.to_string()));
        let mut text = out.join("\n");
        text.push('\n');
        std::fs::write(&path, text).expect("rewrite README.md");
        let _ = writeln!(
            std::io::stderr(),
            "updated {} block(s) of README.md",
            replacements.len()
        );
        stale.clear();
    }
    assert!(
        wrong.is_empty(),
        "README blocks that regenerating cannot fix:\n\n{}",
        wrong.join("\n\n")
    );
    assert!(
        stale.is_empty(),
        "{} README example(s) no longer match the real output; if the change is \
         intended, run `UPDATE_README=1 cargo test --test readme` and review the diff.\n\n{}",
        stale.len(),
        stale.join("\n")
    );
}

/// The `recorded` blocks (a `train` run too heavy for the tests) hold the
/// figures stored in the model they name. Cheap, so scripts/update-readme.sh
/// runs it first to learn whether it must train again.
#[test]
fn recorded_blocks_hold_the_figures_of_their_model() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let lines: Vec<&str> = readme.lines().collect();
    let mut recorded = 0;
    let mut wrong = Vec::new();
    for check in checks(&lines) {
        if check.source != Source::Recorded {
            continue;
        }
        recorded += 1;
        let block = lines[check.body.clone()]
            .iter()
            .map(|l| l.strip_prefix(check.indent.as_str()).unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let problems = recorded_train_problems(root, &check, &block);
        if !problems.is_empty() {
            wrong.push(recorded_advice(&check, &problems));
        }
    }
    assert_eq!(
        recorded, 1,
        "scripts/update-readme.sh handles one recorded block"
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// Lines of README.md whose figures are accounted for: checked blocks,
/// blocks under a figures marker, blocks and sections marked recorded.
fn accounted_lines(lines: &[&str]) -> Vec<bool> {
    let mut covered = vec![false; lines.len()];
    let mut cover = |r: std::ops::Range<usize>| {
        for i in r {
            covered[i] = true;
        }
    };
    for c in checks(lines) {
        cover(c.body.clone());
    }
    for f in figure_checks(lines) {
        cover(f.block.clone());
    }
    // Headings outside fenced blocks, with their level.
    let mut headings = Vec::new();
    let mut fenced = false;
    for (i, l) in lines.iter().enumerate() {
        if l.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && l.starts_with('#') {
            headings.push((i, l.bytes().take_while(|&c| c == b'#').count()));
        }
    }
    for (i, l) in lines.iter().enumerate() {
        let l = l.trim_start();
        if l.starts_with(RECORDED) || l.starts_with(EXAMPLE) {
            let next = (i + 1..lines.len()).find(|&j| !lines[j].trim().is_empty());
            let next = next.unwrap_or_else(|| panic!("README.md:{}: nothing recorded", i + 1));
            cover(block_at(lines, next));
        } else if l.starts_with(RECORDED_SECTION) {
            let (h, level) = headings
                .iter()
                .copied()
                .rfind(|&(h, _)| h < i)
                .unwrap_or_else(|| {
                    panic!("README.md:{}: a section marker under no heading", i + 1)
                });
            assert!(
                lines[h + 1..i].iter().all(|l| l.trim().is_empty()),
                "README.md:{}: a section marker goes right under its heading",
                i + 1
            );
            let end = headings
                .iter()
                .find(|&&(j, lv)| j > h && lv <= level)
                .map_or(lines.len(), |&(j, _)| j);
            cover(h..end);
        }
    }
    covered
}

/// Blocks of README.md (paragraphs, list items, tables, fenced blocks'
/// contents) that quote a model figure but are neither checked nor marked
/// recorded, as `line: text`.
fn unaccounted_figures(lines: &[&str]) -> Vec<String> {
    let covered = accounted_lines(lines);
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i].trim();
        if l.is_empty() || l.starts_with("<!--") || l.starts_with('#') {
            i += 1;
            continue;
        }
        let block = block_at(lines, i);
        let next = if l.starts_with("```") {
            block.end + 1
        } else {
            block.end.max(i + 1)
        };
        if !block.clone().all(|j| covered[j]) {
            let text = lines[block.clone()].join("\n");
            let found: Vec<String> = figures(&text)
                .into_iter()
                .filter(is_model_figure)
                .map(|f| f.0)
                .collect();
            if !found.is_empty() {
                out.push(format!(
                    "README.md:{}: quotes {} unchecked",
                    block.start + 1,
                    found.join(", ")
                ));
            }
        }
        i = next;
    }
    out
}

#[test]
fn every_figure_is_checked_or_marked_recorded() {
    // A probability, threshold, AUC or model version in prose changes when
    // the model is retrained: it must be checked against the tool's output
    // (`readme-figures`), or marked as the record of a past measurement.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let lines: Vec<&str> = readme.lines().collect();
    let found = unaccounted_figures(&lines);
    assert!(
        found.is_empty(),
        "figures in README.md that nothing checks; put a `<!-- readme-figures: moderate ... \
         -->` line above each block (its figures must occur in that output), or mark a past \
         measurement `<!-- readme-recorded: WHAT, WHEN -->`:\n{}",
        found.join("\n")
    );
}

#[test]
fn figures_are_found_and_matched_as_whole_tokens() {
    let quoted = figures(
        "Line 5 scores 0.625 (threshold 0.360) on 10,469 of 22044 rows, model \
         3d9a1b2c4e5f, 2 cores, v1.2, <!-- readme-figures: 0.999 --> `--top 2` 2.4 MB",
    );
    let quoted: Vec<&str> = quoted.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        quoted,
        ["0.625", "0.360", "10,469", "22044", "3d9a1b2c4e5f", "2.4"]
    );
    let f = |s: &str| Figure(s.to_string());
    assert!(f("0.625").occurs_in("abusive 0.625 flagged"));
    assert!(!f("0.62").occurs_in("abusive 0.625"));
    assert!(!f("0.625").occurs_in("abusive 10.625"));
    assert!(f("10,469").occurs_in("flagged 10469 comments"));
    assert!(f("10,469").occurs_in("flagged 10,469 comments"));
    assert!(!f("469").occurs_in("flagged 10,469 comments"));
    assert!(is_model_figure(&f("0.361")) && is_model_figure(&f("01f82d49657f")));
    assert!(!is_model_figure(&f("2.4")) && !is_model_figure(&f("0.5")));
    let lines = [
        "## A",
        "",
        "<!-- readme-recorded-section: a benchmark, 2026-12-02 -->",
        "",
        "Measured 0.9079.",
        "",
        "## B",
        "",
        "Unchecked 0.9079.",
        "",
        "<!-- readme-recorded: a run -->",
        "| x | 0.501 |",
        "",
        "<!-- readme-figures: moderate info -->",
        "```json",
        "{\"model\":\"01f82d49657f\"}",
        "```",
        "",
        "```text",
        "version 01f82d49657f",
        "```",
    ];
    assert_eq!(
        unaccounted_figures(&lines),
        [
            "README.md:9: quotes 0.9079 unchecked",
            "README.md:20: quotes 01f82d49657f unchecked"
        ]
    );
}

#[test]
fn readme_has_no_mojibake() {
    // A UTF-8 character read byte by byte as Latin-1 (`—` as `â` and two
    // C1 controls) is never what the tool printed.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let bad: Vec<String> = readme
        .lines()
        .enumerate()
        .filter(|(_, l)| l.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)))
        .map(|(i, l)| format!("README.md:{}: {}", i + 1, l.escape_default()))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn readme_names_the_minimum_rust_version_and_the_first_build_time() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let msrv = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("Cargo.toml sets rust-version")
        .trim_matches('"');
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = &readme[..readme.find("\n## Commands").expect("a Commands section")];
    let start = start.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        start.contains(&format!("Rust {msrv} or newer")),
        "the quick start names the minimum Rust version {msrv}"
    );
    assert!(
        start.contains("The first build"),
        "the quick start says what the first build costs"
    );
}

#[test]
fn markers_are_parsed_with_their_options() {
    let c = parse_marker(
        "<!-- readme-check: moderate eval --data x.csv | lines 2-4 | shared -->",
        0,
    );
    assert_eq!(c.args, ["eval", "--data", "x.csv"]);
    assert_eq!(c.part, Part::Lines(2, 4));
    assert!(c.shared && !c.stderr && !c.workspace);
    let c = parse_marker(
        "<!-- readme-check: moderate info | from held-out | stderr -->",
        0,
    );
    assert_eq!(c.part, Part::From("held-out".into()));
    assert!(c.stderr);
    let out = "a\nheld-out x\ny  \n\nz\n";
    assert_eq!(expected(&c, out), "held-out x\ny");
    let c = parse_marker(
        "<!-- readme-check: moderate review f.csv | keys a Enter q | screen 2 -->",
        0,
    );
    assert_eq!(c.keys, Some(vec!["a".into(), "Enter".into(), "q".into()]));
    assert!(c.workspace);
    let shown =
        "\nmoderate review 1/2\nx\nkeys: q quit\nmoderate review 2/2\ny\n\nkeys: q quit\nbye\n";
    assert_eq!(
        expected(&c, shown),
        "moderate review 2/2\ny\n\nkeys: q quit"
    );
    let c = parse_marker(
        "<!-- readme-check: file d.csv | ignore-times | agrees-with data/x.csv -->",
        0,
    );
    assert_eq!(c.source, Source::File("d.csv".into()));
    assert!(c.ignore_times);
    assert_eq!(c.agrees_with.as_deref(), Some("data/x.csv"));
    let c = parse_marker(
        "<!-- readme-check: moderate train --data t.csv --out m | recorded -->",
        0,
    );
    assert_eq!(c.source, Source::Recorded);
    assert_eq!(
        mask_times("a,2026-11-22T04:57:54Z,b 2026-11-22"),
        "a,<time>,b 2026-11-22"
    );
    let lines = [
        "<!-- readme-check: moderate info -->",
        "```text",
        "one",
        "```",
    ];
    let found = checks(&lines);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].body, 2..3);
}

#[test]
fn decisions_that_disagree_with_the_labels_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let truth: PathBuf = dir.path().join("truth.csv");
    std::fs::write(
        &truth,
        "id,text,abusive,violent\na,x,1,0\nb,y,0,-1\nc,z,1,1\n",
    )
    .unwrap();
    let decisions = dir.path().join("decisions.csv");
    std::fs::write(
        &decisions,
        "id,text,abusive,violent,reviewer,decided_at\n\
         a,x,1,0,ana,2026-11-22T04:57:54Z\nb,y,0,1,ana,2026-11-22T04:57:55Z\n\
         c,z,1,0,ana,2026-11-22T04:57:56Z\n",
    )
    .unwrap();
    // `b` is not labelled violent (-1), so any decision agrees.
    assert_eq!(
        disagreements(&decisions, &truth),
        ["c: violent=0 in the decisions, 1 in the labels"]
    );
}

/// The binary the README's commands run: `MODERATE_BIN` when set, else this
/// test build's.
fn moderate_bin() -> std::path::PathBuf {
    std::env::var_os("MODERATE_BIN")
        .map(Into::into)
        .unwrap_or_else(|| assert_cmd::cargo::cargo_bin("moderate"))
}

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
//! - `shared`: the command reads `../shared` (the project's shared corpus);
//!   without it the block is skipped, with a note;
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
}

impl Check {
    /// The marker's line number in README.md, for messages.
    fn at(&self) -> usize {
        self.marker_line + 1
    }

    /// The command line, for messages.
    fn command(&self) -> String {
        let mut s = format!("moderate {}", self.args.join(" "));
        if let Some(keys) = &self.keys {
            s.push_str(&format!(" (keys {})", keys.join(" ")));
        }
        s
    }
}

fn parse_marker(line: &str, at: usize) -> Check {
    let inner = line
        .trim()
        .strip_prefix(MARKER)
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
        _ => panic!(
            "README.md:{}: a checked block shows `moderate ARGS` or `file PATH`",
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
    };
    for option in pieces.map(str::trim) {
        match option {
            "stderr" => check.stderr = true,
            "shared" => check.shared = true,
            "workspace" => check.workspace = true,
            "ignore-times" => check.ignore_times = true,
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
                } else {
                    panic!("README.md:{}: unknown option `{option}`", at + 1);
                }
            }
        }
    }
    check
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
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("moderate"))
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
        .arg(assert_cmd::cargo::cargo_bin("moderate"))
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
    let card = std::process::Command::new(assert_cmd::cargo::cargo_bin("moderate"))
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

/// A temporary folder whose `data` is the repository's `data/`.
fn workspace(root: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root.join("data"), dir.path().join("data")).unwrap();
    dir
}

#[test]
fn readme_examples_match_the_real_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let lines: Vec<&str> = readme.lines().collect();
    let checks = checks(&lines);
    assert!(checks.len() >= 10, "only {} checked blocks", checks.len());
    let have_shared = root.join("../shared/data/dev.csv").is_file();
    let update = std::env::var_os("UPDATE_README").is_some();
    let space = workspace(root);
    let mut outputs: HashMap<RunKey, (String, String)> = HashMap::new();
    let mut replacements: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut stale = Vec::new();
    let mut wrong = Vec::new();
    for check in &checks {
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
                "README.md:{}: skipped (needs ../shared): {}",
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
                let path = space.path().join(file);
                if let Some(truth) = &check.agrees_with {
                    let problems = disagreements(&path, &space.path().join(truth));
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
            Source::Command => {
                let dir = if check.workspace { space.path() } else { root };
                let key = (check.args.clone(), check.keys.clone(), check.workspace);
                let (stdout, stderr) = outputs.entry(key).or_insert_with(|| match &check.keys {
                    Some(keys) => (run_in_terminal(dir, check, keys), String::new()),
                    None => run(dir, check),
                });
                if check.stderr {
                    stderr.clone()
                } else {
                    stdout.clone()
                }
            }
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

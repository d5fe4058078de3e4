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
//! - `stderr`: check stderr instead of stdout;
//! - `shared`: the command reads `../shared` (the project's shared corpus);
//!   without it the block is skipped, with a note.
//!
//! When the output changes on purpose (a retrained model changes every
//! score), regenerate the blocks in place with
//!
//! ```sh
//! UPDATE_README=1 cargo test --test readme
//! ```
//!
//! and review the diff of README.md: prose that quotes the figures is not
//! rewritten.

use std::collections::HashMap;
use std::path::Path;

const MARKER: &str = "<!-- readme-check:";

/// Which part of the output a block shows.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    All,
    Lines(usize, usize),
    From(String),
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
    args: Vec<String>,
    part: Part,
    stderr: bool,
    shared: bool,
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
    assert_eq!(
        command.first().map(String::as_str),
        Some("moderate"),
        "README.md:{}: a checked command starts with `moderate`",
        at + 1
    );
    let mut check = Check {
        marker_line: at,
        body: 0..0,
        indent: String::new(),
        args: command[1..].to_vec(),
        part: Part::All,
        stderr: false,
        shared: false,
    };
    for option in pieces.map(str::trim) {
        if option == "stderr" {
            check.stderr = true;
        } else if option == "shared" {
            check.shared = true;
        } else if let Some(range) = option.strip_prefix("lines ") {
            let (a, b) = range.split_once('-').expect("lines A-B");
            check.part = Part::Lines(a.trim().parse().unwrap(), b.trim().parse().unwrap());
        } else if let Some(prefix) = option.strip_prefix("from ") {
            check.part = Part::From(prefix.to_string());
        } else {
            panic!("README.md:{}: unknown option `{option}`", at + 1);
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
                check.marker_line + 1,
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
                        check.marker_line + 1
                    )
                });
            let end = (start..lines.len())
                .find(|&j| lines[j].is_empty())
                .unwrap_or(lines.len());
            &lines[start..end]
        }
    };
    let mut text = picked.join("\n");
    while text.ends_with('\n') {
        text.pop();
    }
    text
}

/// Runs `moderate args` from the repository root.
fn run(root: &Path, args: &[String]) -> (String, String) {
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("moderate"))
        .current_dir(root)
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("moderate runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "`moderate {}` failed: {stderr}",
        args.join(" ")
    );
    (stdout, stderr)
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
    let mut outputs: HashMap<Vec<String>, (String, String)> = HashMap::new();
    let mut replacements: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut stale = Vec::new();
    for check in &checks {
        if check.shared && !have_shared {
            eprintln!(
                "README.md:{}: skipped (needs ../shared): moderate {}",
                check.marker_line + 1,
                check.args.join(" ")
            );
            continue;
        }
        let (stdout, stderr) = outputs
            .entry(check.args.clone())
            .or_insert_with(|| run(root, &check.args));
        let want = expected(check, if check.stderr { stderr } else { stdout });
        let have = lines[check.body.clone()]
            .iter()
            .map(|l| {
                l.strip_prefix(check.indent.as_str())
                    .unwrap_or(l)
                    .trim_end()
            })
            .collect::<Vec<_>>()
            .join("\n");
        if have != want {
            stale.push(format!(
                "README.md:{}: `moderate {}` now prints:\n{want}\n--- but the README shows:\n{have}\n",
                check.marker_line + 1,
                check.args.join(" ")
            ));
            let indented: Vec<String> = want
                .lines()
                .map(|l| format!("{}{l}", check.indent))
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
        eprintln!("updated {} block(s) of README.md", replacements.len());
        return;
    }
    assert!(
        stale.is_empty(),
        "{} README example(s) no longer match the real output; if the change is \
         intended, run `UPDATE_README=1 cargo test --test readme` and review the diff.\n\n{}",
        stale.len(),
        stale.join("\n")
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
    assert!(c.shared && !c.stderr);
    let c = parse_marker(
        "<!-- readme-check: moderate info | from held-out | stderr -->",
        0,
    );
    assert_eq!(c.part, Part::From("held-out".into()));
    assert!(c.stderr);
    let out = "a\nheld-out x\ny  \n\nz\n";
    assert_eq!(expected(&c, out), "held-out x\ny");
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

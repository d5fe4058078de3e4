//! How the crate's parts may depend on each other.
//!
//! The server stands beside the command-line interface, not on it: what both
//! need (output records, thresholds with overrides, explanations, HTML
//! handling) lives in the library, so `src/serve` never reaches into
//! `src/cli`.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively, in a stable order.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Lines of the files under `dir` that name the module `module` of this
/// crate (`crate::cli`, `moderate::cli`, or through `super`), as
/// `file:line: text`.
fn uses_of(dir: &Path, module: &str) -> Vec<String> {
    let needles = [
        format!("crate::{module}"),
        format!("moderate::{module}"),
        format!("super::super::{module}"),
        format!("super::{module}"),
    ];
    let mut found = Vec::new();
    for file in rust_files(dir) {
        let text = std::fs::read_to_string(&file).expect("source file");
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if needles.iter().any(|n| {
                code.match_indices(n.as_str()).any(|(at, _)| {
                    // `crate::cli` but not `crate::client`.
                    !code[at + n.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
                })
            }) {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_server_does_not_import_the_cli() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let serve = root.join("src/serve");
    assert!(
        rust_files(&serve).len() >= 5,
        "src/serve holds the server's modules"
    );
    let found = uses_of(&serve, "cli");
    assert!(
        found.is_empty(),
        "src/serve imports the command-line interface; move what both use into the library:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_finds_an_import_and_ignores_look_alikes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.rs"),
        "use crate::client::X; // crate::cli in a comment\nuse crate::cli::score;\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(
        dir.path().join("sub/b.rs"),
        "fn f() { super::super::cli::run(); }\n",
    )
    .unwrap();
    let found = uses_of(dir.path(), "cli");
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].ends_with("a.rs:2: use crate::cli::score;"));
    assert!(found[1].ends_with("b.rs:1: fn f() { super::super::cli::run(); }"));
}

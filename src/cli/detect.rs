//! `moderate detect`: how well the model's language detector tells the
//! languages of comments whose language is known.

use super::UsageError;
use crate::language::Language;
use crate::language::accuracy::{BUCKETS, DetectionTally};
use anyhow::Result;
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `moderate detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Comments of a known language, `LANG=FILE` (CSV or JSONL with a
    /// `text` column; repeat for several languages). LANG may be any code,
    /// including one the model has no model for (`it`).
    #[arg(required = true, value_name = "LANG=FILE", value_parser = parse_known)]
    pub files: Vec<(String, PathBuf)>,
    /// Model file (default: the built-in default model).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<PathBuf>,
    /// Languages the site declares, as a request's `languages` (e.g. `de`):
    /// a head start in detection and the language of comments too short to
    /// tell.
    #[arg(long, value_delimiter = ',', value_name = "LANG,...")]
    pub declared: Vec<String>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub bad: super::rejects::SkipBadArgs,
    #[command(flatten)]
    pub input: super::InputArgs,
}

fn parse_known(s: &str) -> Result<(String, PathBuf), String> {
    let (code, path) = s
        .split_once('=')
        .ok_or_else(|| format!("expected LANG=FILE such as de=de/dev.csv, not `{s}`"))?;
    let code = crate::language::primary_subtag(code);
    if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphabetic()) || path.is_empty() {
        return Err(format!(
            "expected LANG=FILE such as de=de/dev.csv, not `{s}`"
        ));
    }
    Ok((code, PathBuf::from(path)))
}

/// Runs `moderate detect`.
pub fn run(args: DetectArgs) -> Result<ExitCode> {
    let model = super::load_model(args.model.as_deref())?;
    if !model.languages.routes() {
        return Err(UsageError(
            "the model has no languages besides English, so it detects nothing (train with \
             --language)"
                .into(),
        )
        .into());
    }
    let mut tally = DetectionTally::default();
    let mut bad = super::rejects::BadRecords::new(&args.bad)?;
    let mut read = 0u64;
    for (code, path) in &args.files {
        let opts = args.input.read_options(&[], &[]);
        let mut reader = super::files::open_comments(path, &opts)?;
        for record in reader.by_ref() {
            read += 1;
            let comment = match record {
                Ok(c) => c,
                Err(e) => {
                    bad.handle(e)?;
                    continue;
                }
            };
            let (choice, detection) = model.detect_language(&comment.text, &args.declared);
            tally.add(code, &choice, detection.map_or(0, |d| d.words));
        }
    }
    bad.finish()?;
    let mut out = String::new();
    if args.json {
        out = serde_json::to_string_pretty(&tally)?;
        out.push('\n');
    } else {
        let available = model.languages.codes();
        writeln!(
            out,
            "{read} comments; the model has {}{}",
            available.join(", "),
            if args.declared.is_empty() {
                String::new()
            } else {
                format!("; declared: {}", args.declared.join(","))
            }
        )?;
        writeln!(
            out,
            "\nshare detected right, by words read (comments of 0-2 words are too short to \
             tell: they take the declared language, or English)"
        )?;
        write!(out, "{:<6}", "lang")?;
        for b in BUCKETS {
            write!(out, " {:>18}", b)?;
        }
        writeln!(out, " {:>9}", "all")?;
        for (truth, cells) in &tally.accuracy {
            write!(out, "{truth:<6}")?;
            for (b, (right, all)) in cells.iter().enumerate() {
                let cell = tally
                    .share(truth, b)
                    .map_or("-".to_string(), |s| format!("{:.4} ({right}/{all})", s));
                write!(out, " {cell:>18}")?;
            }
            writeln!(
                out,
                " {:>9}",
                tally
                    .overall(truth)
                    .map_or("-".to_string(), |s| format!("{s:.4}"))
            )?;
        }
        let mut columns: Vec<String> = Language::ALL.iter().map(|l| l.code().to_string()).collect();
        for row in tally.confusion.values() {
            for c in row.keys() {
                if !columns.contains(c) {
                    columns.push(c.clone());
                }
            }
        }
        writeln!(
            out,
            "\nconfusion, comments of 5 words or more (rows: true language; columns: chosen)"
        )?;
        write!(out, "{:<6}", "")?;
        for c in &columns {
            write!(out, " {c:>6}")?;
        }
        writeln!(out)?;
        for (truth, row) in &tally.confusion {
            write!(out, "{truth:<6}")?;
            for c in &columns {
                write!(out, " {:>6}", row.get(c).copied().unwrap_or(0))?;
            }
            writeln!(out)?;
        }
    }
    super::files::print(&out)?;
    Ok(ExitCode::SUCCESS)
}

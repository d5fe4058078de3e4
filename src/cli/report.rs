//! `moderate report`: score comments and write one self-contained HTML page
//! of the flagged ones, with highlighted terms, per-label filters and score
//! histograms.

use super::InputArgs;
use super::files::{self, Output};
use super::train::parse_label_value;
use crate::model::Scores;
use crate::pipeline;
use crate::report::{
    DEFAULT_LIMIT, DEFAULT_TOP_TERMS, ReportBuilder, ReportLabel, ReportMeta, ReportOptions,
};
use anyhow::{Context, Result};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `moderate report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Comments to score (CSV, JSONL or text; `-` or none = stdin).
    #[arg(value_name = "INPUT")]
    pub input: Option<PathBuf>,
    /// Where to write the HTML page (`-` = stdout).
    #[arg(long, short = 'o', value_name = "HTML")]
    pub out: PathBuf,
    /// Model file (default: the built-in default model).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<PathBuf>,
    /// Override a label's threshold for this report, e.g. `violent=0.3`.
    #[arg(long = "threshold", value_name = "LABEL=P", value_parser = parse_label_value::<f32>)]
    pub thresholds: Vec<(String, f32)>,
    /// List comments that are not flagged too.
    #[arg(long)]
    pub all: bool,
    /// Most comments listed per label: each label keeps its N highest
    /// scores for that label, so a rare label is never crowded out by a
    /// common one (with --all, N unflagged ones too); 0 = no cap. The page
    /// says how many were left out; counts and histograms cover every comment.
    #[arg(long, default_value_t = DEFAULT_LIMIT, value_name = "N")]
    pub limit: usize,
    /// Highlighted words per flagged label (each word sums its n-gram
    /// features).
    #[arg(long, default_value_t = DEFAULT_TOP_TERMS, value_name = "N")]
    pub top: usize,
    /// Skip malformed records instead of stopping; they are counted and
    /// listed in the page (and on stderr).
    #[arg(long)]
    pub skip_bad: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub input_args: InputArgs,
    #[command(flatten)]
    pub encoder: super::EncoderArgs,
}

/// Runs `moderate report`.
pub fn run(args: ReportArgs) -> Result<ExitCode> {
    let model = super::load_model_for_scoring(args.model.as_deref(), &args.encoder)?;
    let thresholds = super::effective_thresholds(&model, &args.thresholds)?;
    let labels: Vec<ReportLabel> = model
        .labels
        .iter()
        .zip(&thresholds)
        .map(|(l, &t)| ReportLabel {
            name: l.name.clone(),
            definition: l.definition.clone(),
            threshold: t,
            model_threshold: l.threshold,
        })
        .collect();
    let input = args.input.clone().unwrap_or_else(|| PathBuf::from("-"));
    let opts = args.input_args.read_options(&[], &[]);
    files::refuse_overwriting(&[&input], &[("--out", &args.out)])?;
    let reader = files::open_comments(&input, &opts)?;
    // Create the output before the (possibly long) scoring run, so that a
    // bad path fails at once. The page replaces any file at that path only
    // once it is complete.
    let to_file = !files::is_std(&args.out);
    let mut out = Output::create(Some(&args.out)).context("cannot write the report")?;
    let mut builder = ReportBuilder::new(
        labels,
        ReportOptions {
            include_all: args.all,
            limit: args.limit,
            top_terms: args.top,
            ..ReportOptions::default()
        },
    );
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let max_bytes = model.analyzer.max_bytes;
    let outcome = pipeline::ordered_map(
        reader,
        threads,
        pipeline::DEFAULT_BATCH,
        || (model.scorer(), Scores::default()),
        |(scorer, scores), record| {
            let comment = record.as_ref().ok()?;
            scorer.score_into(&comment.text, scores);
            Some(scores.clone())
        },
        |record, result| -> Result<()> {
            let comment = match record {
                Ok(c) => c,
                Err(e) => {
                    if !args.skip_bad {
                        return Err(super::rejects::stopped(e));
                    }
                    let line = super::rejects::skipped_line(&e);
                    eprintln!(
                        "moderate: skipped: {}",
                        crate::output::safe_text::safe_text(&line)
                    );
                    builder.add_rejected(line);
                    return Ok(());
                }
            };
            let Some(scores) = result else {
                return Ok(());
            };
            // Only the analysed part is kept: explanations and highlights
            // refer to it, and memory stays bounded by --limit.
            let mut text = comment.text;
            let (kept, _) = crate::text::truncate_at_char(&text, max_bytes);
            let kept = kept.len();
            text.truncate(kept);
            builder.add_scored(
                comment.id,
                comment.line,
                text,
                &scores.probabilities,
                scores.info.truncated,
            );
            Ok(())
        },
    );
    outcome?;
    let counts = builder.counts().clone();
    let t = &model.training;
    let meta = ReportMeta {
        input: input.display().to_string(),
        model: args.model.as_ref().map_or_else(
            || "the built-in default model".to_string(),
            |p| p.display().to_string(),
        ),
        model_details: format!(
            "labels {}; trained by moderate {} on {} ({} comments)",
            model.label_names().join(", "),
            t.moderate_version,
            if t.data_files.is_empty() {
                "unnamed data".to_string()
            } else {
                t.data_files.join(", ")
            },
            t.rows
        ),
        generator: format!("moderate {}", env!("CARGO_PKG_VERSION")),
    };
    // The explanation `score --explain` gives, computed once per listed
    // comment (the builder asks label by label, comment after comment).
    let mut scorer = model.scorer();
    let mut last: Option<(String, Vec<Vec<crate::model::Contribution>>)> = None;
    let top = args.top;
    let report = builder.finish(meta, |text, label| {
        if last.as_ref().is_none_or(|(t, _)| t != text) {
            let scores = scorer.score(text);
            last = Some((
                text.to_string(),
                scorer.explain_scores(text, &scores, &thresholds, top),
            ));
        }
        last.as_ref()
            .and_then(|(_, e)| e.get(label).cloned())
            .unwrap_or_default()
    });
    write!(out, "{report}").map_err(|e| out.error(e))?;
    out.finish()?;
    eprintln!(
        "moderate: {} records read: {} scored ({} flagged), {} rejected; listed {}{}",
        counts.read,
        counts.scored,
        counts.flagged_any,
        counts.rejected,
        report.entries.len(),
        if to_file {
            format!(" in {}", args.out.display())
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

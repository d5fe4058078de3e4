//! `moderate eval`: measure a model on labelled comments.

use super::InputArgs;
use crate::io::CommentReader;
use crate::metrics::{self, Confusion};
use crate::model::{Model, Scores};
use crate::pipeline;
use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `moderate eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model file (default: the built-in default model).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<PathBuf>,
    /// Labelled comments (CSV or JSONL with the model's label columns).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also report metrics per value of this column (e.g. `source`).
    #[arg(long, value_name = "COLUMN")]
    pub by: Option<String>,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub input: InputArgs,
}

/// Metrics of one label on one set of rows.
#[derive(Debug, Clone, Serialize)]
pub struct LabelMetrics {
    /// Area under the ROC curve.
    pub roc_auc: Option<f64>,
    /// Average precision (area under the precision-recall curve).
    pub pr_auc: Option<f64>,
    /// Precision at the model's threshold.
    pub precision: f64,
    /// Recall at the model's threshold.
    pub recall: f64,
    /// F1 at the model's threshold.
    pub f1: f64,
    /// The model's threshold.
    pub threshold: f32,
    /// Labelled positive rows.
    pub positives: u64,
    /// Labelled negative rows.
    pub negatives: u64,
    /// Confusion counts at the threshold.
    pub confusion: Confusion,
    /// Expected calibration error (10 equal-width bins).
    pub ece: Option<f64>,
}

/// Metrics of every label on one set of rows.
#[derive(Debug, Clone, Serialize)]
pub struct SetMetrics {
    /// Rows in the set.
    pub rows: u64,
    /// Per label.
    pub labels: BTreeMap<String, LabelMetrics>,
}

/// Computes metrics for `rows` (indices into `probs`/`truth`).
pub fn set_metrics(
    model: &Model,
    probs: &[Vec<f32>],
    truth: &[Vec<Option<bool>>],
    rows: &[usize],
) -> SetMetrics {
    let mut labels = BTreeMap::new();
    for (l, label) in model.labels.iter().enumerate() {
        let (scores, ys): (Vec<f32>, Vec<bool>) = rows
            .iter()
            .filter_map(|&r| truth[r][l].map(|y| (probs[r][l], y)))
            .unzip();
        let confusion = Confusion::at(&scores, &ys, label.threshold);
        labels.insert(
            label.name.clone(),
            LabelMetrics {
                roc_auc: metrics::roc_auc(&scores, &ys),
                pr_auc: metrics::average_precision(&scores, &ys),
                precision: confusion.precision(),
                recall: confusion.recall(),
                f1: confusion.f1(),
                threshold: label.threshold,
                positives: confusion.positives(),
                negatives: confusion.negatives(),
                confusion,
                ece: metrics::expected_calibration_error(&scores, &ys, 10),
            },
        );
    }
    SetMetrics {
        rows: rows.len() as u64,
        labels,
    }
}

/// Runs `moderate eval`.
pub fn run(args: EvalArgs) -> Result<ExitCode> {
    let model = super::load_model(args.model.as_deref()).context("cannot load model")?;
    let label_names: Vec<String> = model.labels.iter().map(|l| l.name.clone()).collect();
    let keep: Vec<String> = args.by.iter().cloned().collect();
    let opts = args.input.read_options(&label_names, &keep);
    let reader = CommentReader::open(&args.data, &opts)
        .with_context(|| format!("cannot read {}", args.data.display()))?;
    if let Some(cols) = reader.columns() {
        if let Some(by) = &args.by {
            if !cols.iter().any(|c| c == by) {
                return Err(super::UsageError(format!(
                    "--by {by}: no such column in {} (columns: {})",
                    args.data.display(),
                    cols.join(", ")
                ))
                .into());
            }
        }
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut probs: Vec<Vec<f32>> = Vec::new();
    let mut truth: Vec<Vec<Option<bool>>> = Vec::new();
    let mut groups: Vec<String> = Vec::new();
    pipeline::ordered_map(
        reader,
        threads,
        pipeline::DEFAULT_BATCH,
        || (model.scorer(), Scores::default()),
        |(scorer, scores), record| {
            let c = record.as_ref().ok()?;
            scorer.score_into(&c.text, scores);
            Some(scores.probabilities.clone())
        },
        |record, p| -> Result<()> {
            let c = record?;
            truth.push(
                label_names
                    .iter()
                    .map(|l| c.labels.get(l).copied().flatten())
                    .collect(),
            );
            if let Some(by) = &args.by {
                groups.push(c.fields.get(by).cloned().unwrap_or_default());
            }
            probs.push(p.unwrap_or_default());
            Ok(())
        },
    )?;
    let all: Vec<usize> = (0..probs.len()).collect();
    let overall = set_metrics(&model, &probs, &truth, &all);
    let mut by_group: BTreeMap<String, SetMetrics> = BTreeMap::new();
    if args.by.is_some() {
        let mut members: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, g) in groups.iter().enumerate() {
            members.entry(g.as_str()).or_default().push(i);
        }
        for (g, rows) in members {
            by_group.insert(g.to_string(), set_metrics(&model, &probs, &truth, &rows));
        }
    }
    let mut out = super::open_output(None)?;
    if args.json {
        let mut value = serde_json::to_value(&overall)?;
        if let (Some(by), Some(obj)) = (&args.by, value.as_object_mut()) {
            obj.insert(format!("by_{by}"), serde_json::to_value(&by_group)?);
        }
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{} rows from {}", overall.rows, args.data.display())?;
        print_table(&mut out, "all", &overall)?;
        for (g, m) in &by_group {
            print_table(&mut out, g, m)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

use std::io::Write;

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.4}"))
}

fn print_table(out: &mut dyn Write, name: &str, m: &SetMetrics) -> std::io::Result<()> {
    writeln!(
        out,
        "\n[{name}] {} rows\n{:<10} {:>8} {:>8} {:>9} {:>9} {:>7} {:>9} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7}",
        m.rows,
        "label",
        "roc_auc",
        "pr_auc",
        "precision",
        "recall",
        "f1",
        "threshold",
        "pos",
        "neg",
        "tp",
        "fp",
        "fn",
        "tn",
        "ece"
    )?;
    for (label, l) in &m.labels {
        writeln!(
            out,
            "{:<10} {:>8} {:>8} {:>9.4} {:>9.4} {:>7.4} {:>9.3} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7}",
            label,
            fmt_opt(l.roc_auc),
            fmt_opt(l.pr_auc),
            l.precision,
            l.recall,
            l.f1,
            l.threshold,
            l.positives,
            l.negatives,
            l.confusion.tp,
            l.confusion.fp,
            l.confusion.fn_,
            l.confusion.tn,
            fmt_opt(l.ece)
        )?;
    }
    Ok(())
}

//! `moderate eval`: measure a model on labelled comments.

use super::InputArgs;
use crate::bias::{GroupMatcher, IdentityTerms, LabelBias, label_bias};
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
    /// Report identity-term bias: per label and group, Subgroup, BPSN and
    /// BNSP ROC-AUC and their power means (Borkan et al. 2019).
    #[arg(long)]
    pub bias: bool,
    /// Identity groups for --bias (`group: term, term` per line; default:
    /// the list shipped in data/identity_terms.txt).
    #[arg(long, value_name = "FILE", requires = "bias")]
    pub identity_terms: Option<PathBuf>,
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
    /// Reliability table: per probability bin, mean predicted probability
    /// and observed fraction of positives.
    pub reliability: Vec<metrics::ReliabilityBin>,
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
                reliability: metrics::reliability_table(&scores, &ys, 10),
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
    let terms = match (&args.bias, &args.identity_terms) {
        (false, _) => None,
        (true, None) => Some(IdentityTerms::builtin()),
        (true, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read identity terms {}", path.display()))?;
            Some(IdentityTerms::parse(&text, path)?)
        }
    };
    let mut probs: Vec<Vec<f32>> = Vec::new();
    let mut truth: Vec<Vec<Option<bool>>> = Vec::new();
    let mut groups: Vec<String> = Vec::new();
    let mut identity: Vec<Vec<u16>> = Vec::new();
    pipeline::ordered_map(
        reader,
        threads,
        pipeline::DEFAULT_BATCH,
        || {
            (
                model.scorer(),
                Scores::default(),
                terms
                    .as_ref()
                    .map(|t| GroupMatcher::new(t, &model.analyzer)),
            )
        },
        |(scorer, scores, matcher), record| {
            let c = record.as_ref().ok()?;
            scorer.score_into(&c.text, scores);
            let groups = matcher
                .as_mut()
                .map(|m| m.groups_of(&c.text))
                .unwrap_or_default();
            Some((scores.probabilities.clone(), groups))
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
            let (p, g) = p.unwrap_or_default();
            probs.push(p);
            identity.push(g);
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
    let bias: Option<BTreeMap<String, LabelBias>> = terms.as_ref().map(|terms| {
        model
            .labels
            .iter()
            .enumerate()
            .map(|(l, label)| {
                let rows: Vec<usize> = (0..probs.len())
                    .filter(|&r| truth[r][l].is_some())
                    .collect();
                let scores: Vec<f32> = rows.iter().map(|&r| probs[r][l]).collect();
                let ys: Vec<bool> = rows.iter().map(|&r| truth[r][l].unwrap_or(false)).collect();
                let gs: Vec<&[u16]> = rows.iter().map(|&r| identity[r].as_slice()).collect();
                (label.name.clone(), label_bias(terms, &scores, &ys, &gs))
            })
            .collect()
    });
    let mut out = super::open_output(None)?;
    if args.json {
        let mut value = serde_json::to_value(&overall)?;
        if let (Some(by), Some(obj)) = (&args.by, value.as_object_mut()) {
            obj.insert(format!("by_{by}"), serde_json::to_value(&by_group)?);
        }
        if let (Some(bias), Some(obj)) = (&bias, value.as_object_mut()) {
            obj.insert("bias".into(), serde_json::to_value(bias)?);
        }
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{} rows from {}", overall.rows, args.data.display())?;
        print_table(&mut out, "all", &overall)?;
        print_reliability(&mut out, &overall)?;
        for (g, m) in &by_group {
            print_table(&mut out, g, m)?;
        }
        if let Some(bias) = &bias {
            print_bias(&mut out, bias)?;
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

fn print_reliability(out: &mut dyn Write, m: &SetMetrics) -> std::io::Result<()> {
    for (label, l) in &m.labels {
        writeln!(
            out,
            "\nreliability of `{label}` (ECE {}): predicted -> observed",
            fmt_opt(l.ece)
        )?;
        writeln!(
            out,
            "{:>11} {:>8} {:>10} {:>9}",
            "bin", "rows", "predicted", "observed"
        )?;
        for b in l.reliability.iter().filter(|b| b.count > 0) {
            writeln!(
                out,
                "{:>5.1}-{:<5.1} {:>8} {:>10.3} {:>9.3}",
                b.lower, b.upper, b.count, b.mean_predicted, b.fraction_positive
            )?;
        }
    }
    Ok(())
}

fn print_bias(out: &mut dyn Write, bias: &BTreeMap<String, LabelBias>) -> std::io::Result<()> {
    for (label, b) in bias {
        writeln!(
            out,
            "\nbias of `{label}` (worst BPSN first); power means (p = -5): subgroup {}, BPSN {}, BNSP {}",
            fmt_opt(b.power_mean_subgroup_auc),
            fmt_opt(b.power_mean_bpsn_auc),
            fmt_opt(b.power_mean_bnsp_auc)
        )?;
        writeln!(
            out,
            "{:<12} {:>7} {:>9} {:>12} {:>9} {:>9}",
            "group", "rows", "positive", "subgroup_auc", "bpsn_auc", "bnsp_auc"
        )?;
        for g in &b.groups {
            writeln!(
                out,
                "{:<12} {:>7} {:>9} {:>12} {:>9} {:>9}",
                g.group,
                g.size,
                g.positives,
                fmt_opt(g.aucs.subgroup_auc),
                fmt_opt(g.aucs.bpsn_auc),
                fmt_opt(g.aucs.bnsp_auc)
            )?;
        }
        if !b.too_small.is_empty() {
            writeln!(
                out,
                "too few labelled rows to report: {}",
                b.too_small.join(", ")
            )?;
        }
    }
    Ok(())
}

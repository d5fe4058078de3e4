//! `moderate eval`: measure a model on labelled comments.

use super::{InputArgs, UsageError};
use crate::bias::{IdentityTerms, LabelBias};
use crate::evaluate::{Report, SetMetrics, score_records};
use crate::io::InputFormat;
use crate::output::safe_text::one_line;
use anyhow::{Context, Result};
use clap::Args;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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
    /// Also report metrics per value of this column (e.g. `source`), or,
    /// with `language` when the data has no such column, per language the
    /// comments were scored in (detected, unless --language fixes it).
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
    /// Print, per label, precision, recall and flagged comments per 1,000 at
    /// thresholds from 0.05 to 0.95 (and the model's), to pick the load
    /// moderators can handle; use the choice with `score --threshold`.
    #[arg(long)]
    pub thresholds: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub bad: super::rejects::SkipBadArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub encoder: super::EncoderArgs,
}

/// Runs `moderate eval`.
pub fn run(args: EvalArgs) -> Result<ExitCode> {
    let model = super::load_model_for_scoring(args.model.as_deref(), &args.encoder)?;
    let label_names: Vec<String> = model.labels.iter().map(|l| l.name.clone()).collect();
    let keep: Vec<String> = args.by.iter().cloned().collect();
    let opts = args.input.read_options(&label_names, &keep);
    if let Some(r) = &args.bad.rejects {
        super::files::refuse_overwriting(&[&args.data], &[("--rejects", r)])?;
    }
    let mut reader = super::files::open_comments(&args.data, &opts)?;
    // A CSV header (or plain text) tells the label columns before scoring;
    // JSON Lines only once every record has been read.
    let known_early = reader.format() != InputFormat::Jsonl;
    if known_early {
        check_label_columns(&args.data, &label_names, &reader.label_columns_found())?;
    }
    // `--by language` without a `language` column: the language scored in.
    let by_language = args.by.as_deref() == Some("language")
        && reader
            .columns()
            .is_none_or(|cols| !cols.iter().any(|c| c == "language"));
    if let Some(cols) = reader.columns()
        && let Some(by) = &args.by
        && !by_language
        && !cols.iter().any(|c| c == by)
    {
        return Err(UsageError(format!(
            "--by {by}: no such column in {} (columns: {})",
            args.data.display(),
            cols.join(", ")
        ))
        .into());
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
    let mut bad = super::rejects::BadRecords::new(&args.bad)?;
    let records = reader.by_ref().filter_map(|r| match r {
        Ok(c) => Some(Ok(c)),
        Err(e) => bad.skip(e).err().map(Err),
    });
    let by_column = args.by.as_deref().filter(|_| !by_language);
    let mut evaluated = score_records(&model, records, threads, by_column, terms.as_ref())
        .map_err(super::rejects::stopped)?;
    if by_language {
        evaluated.groups = evaluated.languages.iter().map(|l| l.to_string()).collect();
    }
    if !known_early {
        check_label_columns(&args.data, &label_names, &reader.label_columns_found())?;
    }
    bad.finish()?;
    if bad.skipping() || bad.rejected > 0 {
        eprintln!(
            "moderate: {} records read: {} evaluated, {} rejected",
            evaluated.probs.len() as u64 + bad.rejected,
            evaluated.probs.len(),
            bad.rejected
        );
    }
    let mut report = evaluated.report(&model, terms.as_ref());
    if args.thresholds {
        report.thresholds = Some(evaluated.threshold_tables(&model));
    }
    let Report {
        overall,
        by_group,
        bias,
        thresholds,
        gate,
    } = report;
    let mut out = super::files::Output::create(None)?;
    if args.json {
        let mut value = serde_json::to_value(&overall)?;
        if let (Some(by), Some(obj)) = (&args.by, value.as_object_mut()) {
            obj.insert(format!("by_{by}"), serde_json::to_value(&by_group)?);
        }
        if let (Some(bias), Some(obj)) = (&bias, value.as_object_mut()) {
            obj.insert("bias".into(), serde_json::to_value(bias)?);
        }
        if let (Some(t), Some(obj)) = (&thresholds, value.as_object_mut()) {
            obj.insert("thresholds".into(), serde_json::to_value(t)?);
        }
        if let (Some(g), Some(obj)) = (&gate, value.as_object_mut()) {
            obj.insert("gate".into(), serde_json::to_value(g)?);
        }
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{} rows from {}",
            overall.rows,
            one_line(&args.data.display().to_string())
        )?;
        print_table(&mut out, "all", &overall)?;
        if let Some(g) = &gate {
            let misses: Vec<String> = g
                .miss_rate
                .iter()
                .map(|(l, m)| {
                    format!(
                        "{l} {}",
                        m.map_or("-".into(), |m| format!("{:.1}%", 100.0 * m))
                    )
                })
                .collect();
            writeln!(
                out,
                "second stage: the encoder read {} of {} English comments ({:.1}%); positives \
                 left to the word model alone by the gate: {}",
                g.encoder_rows,
                g.rows,
                100.0 * g.encoder_rows as f64 / g.rows.max(1) as f64,
                misses.join(", ")
            )?;
        }
        print_reliability(&mut out, &overall)?;
        // Group names are values of a column of the data, so they may hold
        // terminal escapes like any comment.
        for (g, m) in &by_group {
            print_table(&mut out, &one_line(g), m)?;
        }
        if let Some(bias) = &bias {
            print_bias(&mut out, bias)?;
        }
        if let Some(t) = &thresholds {
            print_thresholds(&mut out, &model, t)?;
        }
    }
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}

use std::io::Write;

/// Fails (exit code 2) when the data has none of the model's label columns:
/// there is nothing to evaluate. A missing column among several is noted.
pub(super) fn check_label_columns(data: &Path, labels: &[String], found: &[String]) -> Result<()> {
    let wanted: Vec<String> = labels.iter().map(|l| format!("`{l}`")).collect();
    if found.is_empty() {
        return Err(UsageError(format!(
            "{} has no label column: eval needs at least one of {} (values 1, 0 or -1, \
             where -1 or empty means not labelled); to score unlabelled comments use \
             `moderate score`",
            data.display(),
            wanted.join(", ")
        ))
        .into());
    }
    for l in labels.iter().filter(|l| !found.contains(l)) {
        eprintln!(
            "moderate: note: {} has no `{l}` column, so `{l}` is not evaluated",
            data.display()
        );
    }
    Ok(())
}

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
            "{:<10} {:>8} {:>8} {:>9} {:>9} {:>7} {:>9.3} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7}",
            label,
            fmt_opt(l.roc_auc),
            fmt_opt(l.pr_auc),
            fmt_opt(l.precision),
            fmt_opt(l.recall),
            fmt_opt(l.f1),
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
    for (label, l) in &m.labels {
        if l.unavailable > 0 {
            writeln!(
                out,
                "  {} labelled rows have no `{label}` score: no `{label}` model for their language \
                 (left out above)",
                l.unavailable
            )?;
        }
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
        if l.positives + l.negatives == 0 {
            writeln!(out, "(no labelled rows)")?;
            continue;
        }
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

fn print_thresholds(
    out: &mut dyn Write,
    model: &crate::model::Model,
    tables: &BTreeMap<String, Vec<crate::metrics::ThresholdRow>>,
) -> std::io::Result<()> {
    for (label, rows) in tables {
        let current = model
            .label_index(label)
            .map(|i| model.thresholds()[i])
            .unwrap_or(f32::NAN);
        writeln!(
            out,
            "\nsensitivity of `{label}` (per 1,000 comments labelled for it; * = model threshold)"
        )?;
        writeln!(
            out,
            "{:>10} {:>10} {:>8} {:>13}",
            "threshold", "precision", "recall", "flagged/1000"
        )?;
        for r in rows {
            let mark = if (r.threshold - current).abs() < 1e-6 {
                "*"
            } else {
                " "
            };
            writeln!(
                out,
                "{:>9.3}{mark} {:>10.3} {:>8.3} {:>13.1}",
                r.threshold, r.precision, r.recall, r.flagged_per_1000
            )?;
        }
    }
    Ok(())
}

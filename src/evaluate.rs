//! Evaluation of a model on labelled comments: per-label metrics, per-group
//! breakdowns and the identity-term bias report. Used by `moderate eval` and
//! by `moderate train --eval-data` (which stores a summary in the model card).

use crate::bias::{GroupMatcher, IdentityTerms, LabelBias, label_bias};
use crate::comment::Comment;
use crate::error::Result;
use crate::metrics::{self, Confusion};
use crate::model::{Model, Scores, Stage};
use crate::pipeline;
use serde::Serialize;
use std::collections::BTreeMap;

/// Metrics of one label on one set of rows.
#[derive(Debug, Clone, Serialize)]
pub struct LabelMetrics {
    /// Area under the ROC curve.
    pub roc_auc: Option<f64>,
    /// Average precision (area under the precision-recall curve).
    pub pr_auc: Option<f64>,
    /// Precision at the model's threshold (`None` when nothing is flagged).
    pub precision: Option<f64>,
    /// Recall at the model's threshold (`None` without positives).
    pub recall: Option<f64>,
    /// F1 at the model's threshold (`None` without positives).
    pub f1: Option<f64>,
    /// The model's threshold (the English model's; comments in another
    /// language are flagged at their language model's own).
    pub threshold: f32,
    /// Labelled rows with no score for this label: their language has no
    /// model for it (left out of every figure above).
    pub unavailable: u64,
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

/// Computes metrics for `rows` (indices into `probs`/`truth`), each row
/// flagged at its own `row_thresholds` (its language model's, or the
/// caller's override); rows whose probability is NaN (no model for their
/// language) are counted as unavailable and left out.
pub fn set_metrics(
    model: &Model,
    probs: &[Vec<f32>],
    row_thresholds: &[Vec<f32>],
    truth: &[Vec<Option<bool>>],
    rows: &[usize],
) -> SetMetrics {
    let mut labels = BTreeMap::new();
    let thresholds = model.thresholds();
    for (l, label) in model.labels.iter().enumerate() {
        let labelled: Vec<(usize, bool)> = rows
            .iter()
            .filter_map(|&r| truth[r][l].map(|y| (r, y)))
            .collect();
        let unavailable = labelled
            .iter()
            .filter(|(r, _)| probs[*r][l].is_nan())
            .count() as u64;
        let scored: Vec<(usize, bool)> = labelled
            .into_iter()
            .filter(|(r, _)| !probs[*r][l].is_nan())
            .collect();
        let scores: Vec<f32> = scored.iter().map(|(r, _)| probs[*r][l]).collect();
        let ys: Vec<bool> = scored.iter().map(|(_, y)| *y).collect();
        let mut confusion = Confusion::default();
        // The threshold shown: the rows' own when they share one (one
        // language), else the English model's.
        let mut shared: Option<Option<f32>> = None;
        for (&(r, y), &p) in scored.iter().zip(&scores) {
            let t = row_thresholds
                .get(r)
                .and_then(|t| t.get(l))
                .copied()
                .unwrap_or(thresholds[l]);
            shared = match shared {
                None => Some(Some(t)),
                Some(Some(s)) if s.to_bits() == t.to_bits() => Some(Some(s)),
                _ => Some(None),
            };
            confusion.add(p >= t, y);
        }
        let shown_threshold = shared.flatten().unwrap_or(thresholds[l]);
        labels.insert(
            label.name.clone(),
            LabelMetrics {
                roc_auc: metrics::roc_auc(&scores, &ys),
                pr_auc: metrics::average_precision(&scores, &ys),
                precision: (confusion.flagged() > 0).then(|| confusion.precision()),
                recall: (confusion.positives() > 0).then(|| confusion.recall()),
                f1: (confusion.positives() > 0).then(|| confusion.f1()),
                threshold: shown_threshold,
                unavailable,
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

/// Scores and truth of every labelled comment of an evaluation set.
#[derive(Debug, Default)]
pub struct Evaluated {
    /// Calibrated probabilities per row, in model label order.
    pub probs: Vec<Vec<f32>>,
    /// Labels per row, in model label order (`None` = not labelled).
    pub truth: Vec<Vec<Option<bool>>>,
    /// Value of the `--by` column per row (empty when not asked for).
    pub groups: Vec<String>,
    /// Identity groups mentioned per row (empty without a bias report).
    pub identity: Vec<Vec<u16>>,
    /// Which reader decided each row.
    pub stages: Vec<Stage>,
    /// The language each row was scored in (`en`, `de`, ..., or a language
    /// with no model such as `it`).
    pub languages: Vec<&'static str>,
    /// The thresholds each row is flagged at, in model label order.
    pub thresholds: Vec<Vec<f32>>,
}

/// How the second stage's gate treated an evaluation set.
#[derive(Debug, Clone, Serialize)]
pub struct GateSummary {
    /// Rows the encoder read.
    pub encoder_rows: u64,
    /// Rows scored in English (the encoder's language).
    pub rows: u64,
    /// Per label: the share of its positives the gate kept from the
    /// encoder (scored by the word model alone).
    pub miss_rate: BTreeMap<String, Option<f64>>,
}

/// The full evaluation result.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// All rows.
    #[serde(flatten)]
    pub overall: SetMetrics,
    /// Per value of the `by` column.
    #[serde(skip)]
    pub by_group: BTreeMap<String, SetMetrics>,
    /// Per label, when identity terms were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<BTreeMap<String, LabelBias>>,
    /// The gate, when the model ran its second stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateSummary>,
    /// Per label: precision, recall and flagged comments per 1,000 at a
    /// range of thresholds (see [`Evaluated::threshold_tables`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<BTreeMap<String, Vec<metrics::ThresholdRow>>>,
}

/// The thresholds of a sensitivity table: 0.05 to 0.95 in steps of 0.05,
/// plus the model's own threshold.
pub fn sensitivity_grid(model_threshold: f32) -> Vec<f32> {
    let mut grid: Vec<f32> = (1..20).map(|i| i as f32 * 0.05).collect();
    grid.push(model_threshold);
    grid.sort_by(f32::total_cmp);
    grid.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
    grid
}

/// Scores `records` with `model` on `threads` threads, keeping the `by`
/// column and the identity groups of `terms` per row. Stops at the first
/// bad record.
pub fn score_records(
    model: &Model,
    records: impl Iterator<Item = Result<Comment>>,
    threads: usize,
    by: Option<&str>,
    terms: Option<&IdentityTerms>,
) -> Result<Evaluated> {
    let label_names: Vec<&str> = model.label_names();
    let mut out = Evaluated::default();
    let batch = if model.has_encoder() {
        128
    } else {
        pipeline::DEFAULT_BATCH
    };
    pipeline::ordered_map_batches(
        records,
        threads,
        batch,
        || {
            (
                model.scorer(),
                Vec::<Scores>::new(),
                terms.map(|t| GroupMatcher::new(t, &model.analyzer)),
            )
        },
        |(scorer, scores, matcher), records| {
            let texts: Vec<&str> = records
                .iter()
                .filter_map(|r| r.as_ref().ok().map(|c| c.text.as_str()))
                .collect();
            scorer.score_batch(&texts, scores);
            let mut next = scores.iter();
            records
                .iter()
                .map(|record| {
                    let c = record.as_ref().ok()?;
                    let s = next.next()?;
                    let groups = matcher
                        .as_mut()
                        .map(|m| m.groups_in(&c.text, s.language.language.unwrap_or_default()))
                        .unwrap_or_default();
                    Some((
                        s.probabilities.clone(),
                        s.stage,
                        groups,
                        s.language.code,
                        s.thresholds.clone(),
                    ))
                })
                .collect()
        },
        |record, p| -> Result<()> {
            let c = record?;
            out.truth.push(
                label_names
                    .iter()
                    .map(|l| c.labels.get(*l).copied().flatten())
                    .collect(),
            );
            if let Some(by) = by {
                out.groups
                    .push(c.fields.get(by).cloned().unwrap_or_default());
            }
            let (p, stage, g, language, thresholds) = p.unwrap_or_default();
            out.probs.push(p);
            out.identity.push(g);
            out.stages.push(stage);
            out.languages.push(language);
            out.thresholds.push(thresholds);
            Ok(())
        },
    )?;
    Ok(out)
}

impl Evaluated {
    /// Computes every metric; `terms` adds the bias report.
    pub fn report(&self, model: &Model, terms: Option<&IdentityTerms>) -> Report {
        let all: Vec<usize> = (0..self.probs.len()).collect();
        let overall = set_metrics(model, &self.probs, &self.thresholds, &self.truth, &all);
        let mut members: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, g) in self.groups.iter().enumerate() {
            members.entry(g.as_str()).or_default().push(i);
        }
        let by_group = members
            .into_iter()
            .map(|(g, rows)| {
                (
                    g.to_string(),
                    set_metrics(model, &self.probs, &self.thresholds, &self.truth, &rows),
                )
            })
            .collect();
        let bias = terms.map(|terms| {
            model
                .labels
                .iter()
                .enumerate()
                .map(|(l, label)| {
                    let rows: Vec<usize> = (0..self.probs.len())
                        .filter(|&r| self.truth[r][l].is_some() && !self.probs[r][l].is_nan())
                        .collect();
                    let scores: Vec<f32> = rows.iter().map(|&r| self.probs[r][l]).collect();
                    let ys: Vec<bool> = rows
                        .iter()
                        .map(|&r| self.truth[r][l].unwrap_or(false))
                        .collect();
                    let gs: Vec<&[u16]> =
                        rows.iter().map(|&r| self.identity[r].as_slice()).collect();
                    (label.name.clone(), label_bias(terms, &scores, &ys, &gs))
                })
                .collect()
        });
        // The second stage reads English comments only: the gate is judged
        // on those.
        let english = |r: usize| self.languages.get(r).is_none_or(|l| *l == "en");
        let any_english = (0..self.stages.len()).any(english);
        let gate = (model.has_encoder() && any_english).then(|| {
            let miss_rate = model
                .labels
                .iter()
                .enumerate()
                .map(|(l, label)| {
                    let (mut pos, mut missed) = (0u64, 0u64);
                    for (r, t) in self.truth.iter().enumerate() {
                        if t[l] == Some(true) && english(r) {
                            pos += 1;
                            missed += u64::from(self.stages.get(r) == Some(&Stage::Words));
                        }
                    }
                    (
                        label.name.clone(),
                        (pos > 0).then(|| missed as f64 / pos as f64),
                    )
                })
                .collect();
            GateSummary {
                encoder_rows: self.stages.iter().filter(|&&s| s == Stage::Encoder).count() as u64,
                rows: (0..self.stages.len()).filter(|&r| english(r)).count() as u64,
                miss_rate,
            }
        });
        Report {
            overall,
            by_group,
            bias,
            thresholds: None,
            gate,
        }
    }

    /// Per label, precision, recall and flagged comments per 1,000 labelled
    /// comments at each threshold of [`sensitivity_grid`].
    pub fn threshold_tables(&self, model: &Model) -> BTreeMap<String, Vec<metrics::ThresholdRow>> {
        let thresholds = model.thresholds();
        model
            .labels
            .iter()
            .enumerate()
            .map(|(l, label)| {
                let (scores, ys): (Vec<f32>, Vec<bool>) = (0..self.probs.len())
                    .filter(|&r| !self.probs[r][l].is_nan())
                    .filter_map(|r| self.truth[r][l].map(|y| (self.probs[r][l], y)))
                    .unzip();
                let grid = sensitivity_grid(thresholds[l]);
                (
                    label.name.clone(),
                    metrics::threshold_table(&scores, &ys, &grid),
                )
            })
            .collect()
    }
}

//! Evaluation metrics for binary per-label classifiers.
//!
//! All functions are pure and never panic. Conventions shared by every
//! function in this module:
//!
//! * **Mismatched lengths.** When `scores` / `probs`, `labels` (and
//!   `in_subgroup`) have different lengths, only the common prefix (the
//!   length of the shortest slice) is used; the extra elements are ignored.
//! * **NaN scores.** In ranking metrics ([`roc_auc`], [`average_precision`],
//!   [`bias_aucs`]) a NaN score ranks below every other score, and all NaN
//!   scores tie with each other. In threshold-based functions a NaN score is
//!   never flagged (`NaN >= t` is false), so a NaN-scored positive is always
//!   a false negative and a NaN score is never returned as a threshold.
//! * **Probabilities.** Functions taking `probs` treat a NaN probability as
//!   `0.0` and clamp every other value into `[0, 1]`.
//! * Ranking metrics compare scores numerically, so `-0.0` and `0.0` tie.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// Total order on scores: NaN sorts below everything (all NaNs are equal),
/// other values compare numerically (so `-0.0 == 0.0`).
fn cmp_score(a: f32, b: f32) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Pairs `(score, label)` sorted by descending score (NaN scores last).
fn sorted_desc(scores: &[f32], labels: &[bool]) -> Vec<(f32, bool)> {
    let mut v: Vec<(f32, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    v.sort_unstable_by(|a, b| cmp_score(b.0, a.0));
    v
}

/// Iterator over groups of tied scores in an already sorted slice, yielding
/// `(score, positives_in_group, negatives_in_group)`.
struct TieGroups<'a> {
    data: &'a [(f32, bool)],
}

impl Iterator for TieGroups<'_> {
    type Item = (f32, u64, u64);

    fn next(&mut self) -> Option<Self::Item> {
        let (&(score, _), _) = self.data.split_first()?;
        let len = self
            .data
            .iter()
            .position(|&(s, _)| cmp_score(s, score) != Ordering::Equal)
            .unwrap_or(self.data.len());
        let (group, rest) = self.data.split_at(len);
        self.data = rest;
        let pos = group.iter().filter(|&&(_, l)| l).count() as u64;
        Some((score, pos, len as u64 - pos))
    }
}

/// Groups of tied scores in `data` (which must be sorted).
fn tie_groups(data: &[(f32, bool)]) -> TieGroups<'_> {
    TieGroups { data }
}

/// Counts `(positives, negatives)` in a slice of `(score, label)` pairs.
fn class_counts(data: &[(f32, bool)]) -> (u64, u64) {
    let pos = data.iter().filter(|&&(_, l)| l).count() as u64;
    (pos, data.len() as u64 - pos)
}

/// ROC AUC of already sorted (descending) data; `None` if a class is absent.
///
/// Computed exactly in integers as the Mann-Whitney statistic with ties
/// counted as one half, then divided once.
fn auc_sorted(data: &[(f32, bool)]) -> Option<f64> {
    let (pos, neg) = class_counts(data);
    if pos == 0 || neg == 0 {
        return None;
    }
    // Walking from the highest score down, every positive in a group beats
    // every negative strictly below it; ties within a group count 1/2.
    // twice_wins = 2 * (wins + ties / 2) to stay in integers.
    let mut neg_below = neg;
    let mut twice_wins: u128 = 0;
    for (_, p, q) in tie_groups(data) {
        neg_below -= q;
        twice_wins += 2 * u128::from(p) * u128::from(neg_below) + u128::from(p) * u128::from(q);
    }
    Some(twice_wins as f64 / (2.0 * pos as f64 * neg as f64))
}

/// Area under the ROC curve (probability that a random positive scores
/// higher than a random negative, ties counting one half).
///
/// Equals `sklearn.metrics.roc_auc_score`. Returns `None` when the
/// (common-prefix) input lacks positives or negatives, including when it is
/// empty. NaN scores rank lowest. Runs in `O(n log n)` with one allocation.
pub fn roc_auc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    auc_sorted(&sorted_desc(scores, labels))
}

/// Average precision, as defined by `sklearn.metrics.average_precision_score`:
/// `AP = Σ_k (R_k − R_{k−1}) · P_k` over descending distinct score thresholds
/// (tied scores enter together; no interpolation).
///
/// Returns `None` when there are no positives (including empty input); with
/// no negatives the result is `1.0`. NaN scores rank lowest (they enter at the
/// last threshold).
pub fn average_precision(scores: &[f32], labels: &[bool]) -> Option<f64> {
    let data = sorted_desc(scores, labels);
    let (pos, _) = class_counts(&data);
    if pos == 0 {
        return None;
    }
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut sum = 0.0f64;
    for (_, p, q) in tie_groups(&data) {
        tp += p;
        fp += q;
        if p > 0 {
            sum += p as f64 * (tp as f64 / (tp + fp) as f64);
        }
    }
    Some(sum / pos as f64)
}

/// Confusion matrix counts for a decision threshold.
///
/// Serializes as `{"tp":..,"fp":..,"tn":..,"fn":..}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Positives that were flagged.
    pub tp: u64,
    /// Negatives that were flagged.
    pub fp: u64,
    /// Negatives that were not flagged.
    pub tn: u64,
    /// Positives that were not flagged (serialized as `"fn"`).
    #[serde(rename = "fn")]
    pub fn_: u64,
}

impl Confusion {
    /// Counts outcomes when a row is flagged iff `score >= threshold`.
    ///
    /// NaN scores are never flagged; a NaN threshold flags nothing.
    pub fn at(scores: &[f32], labels: &[bool], threshold: f32) -> Confusion {
        let mut c = Confusion::default();
        for (&s, &l) in scores.iter().zip(labels) {
            match (s >= threshold, l) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, true) => c.fn_ += 1,
                (false, false) => c.tn += 1,
            }
        }
        c
    }

    /// Counts one row: whether it was flagged, and its label.
    pub fn add(&mut self, flagged: bool, label: bool) {
        match (flagged, label) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    /// `tp / (tp + fp)`; `0.0` when nothing is flagged.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.flagged())
    }

    /// `tp / (tp + fn)`; `0.0` when there are no positives.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.positives())
    }

    /// Harmonic mean of precision and recall, `2tp / (2tp + fp + fn)`;
    /// `0.0` when `tp + fp + fn == 0`.
    pub fn f1(&self) -> f64 {
        let (num, den) = f1_parts(self.tp, self.fp, self.fn_);
        ratio(num, den)
    }

    /// Number of flagged rows, `tp + fp`.
    pub fn flagged(&self) -> u64 {
        self.tp.saturating_add(self.fp)
    }

    /// Number of positive rows, `tp + fn`.
    pub fn positives(&self) -> u64 {
        self.tp.saturating_add(self.fn_)
    }

    /// Number of negative rows, `fp + tn`.
    pub fn negatives(&self) -> u64 {
        self.fp.saturating_add(self.tn)
    }
}

/// `num / den`, or `0.0` when `den == 0`.
fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Numerator and denominator of F1 = `2tp / (2tp + fp + fn)`.
fn f1_parts(tp: u64, fp: u64, fn_: u64) -> (u64, u64) {
    let num = tp.saturating_mul(2);
    (num, num.saturating_add(fp).saturating_add(fn_))
}

/// Walks the distinct non-NaN scores from highest to lowest, calling `f`
/// with `(threshold, tp, fp, positives)` where `tp`/`fp` are the counts
/// flagged at `score >= threshold`. `positives` includes NaN-scored rows.
fn sweep(scores: &[f32], labels: &[bool], mut f: impl FnMut(f32, u64, u64, u64)) {
    let data = sorted_desc(scores, labels);
    let (pos, _) = class_counts(&data);
    let (mut tp, mut fp) = (0u64, 0u64);
    for (score, p, q) in tie_groups(&data) {
        if score.is_nan() {
            break;
        }
        tp += p;
        fp += q;
        f(score, tp, fp, pos);
    }
}

/// Lowest threshold (hence maximal recall) among the observed scores at
/// which precision (flagging `score >= threshold`) is at least `target`.
///
/// Candidate thresholds are the distinct non-NaN scores, so the result can
/// be fed straight to [`Confusion::at`]. Returns `None` if no candidate
/// reaches `target` (also for empty input or a NaN `target`).
pub fn threshold_for_precision(scores: &[f32], labels: &[bool], target: f64) -> Option<f32> {
    let mut best = None;
    sweep(scores, labels, |t, tp, fp, _| {
        if ratio(tp, tp + fp) >= target {
            best = Some(t);
        }
    });
    best
}

/// Highest threshold among the observed scores at which recall (flagging
/// `score >= threshold`) is at least `target`.
///
/// Candidate thresholds are the distinct non-NaN scores. Recall is `0.0`
/// when there are no positives. Returns `None` if no candidate reaches
/// `target` (also for empty input or a NaN `target`).
pub fn threshold_for_recall(scores: &[f32], labels: &[bool], target: f64) -> Option<f32> {
    let mut best = None;
    sweep(scores, labels, |t, tp, _, pos| {
        if best.is_none() && ratio(tp, pos) >= target {
            best = Some(t);
        }
    });
    best
}

/// Threshold among the observed scores maximising F1 (flagging
/// `score >= threshold`); on exact F1 ties the highest threshold wins.
///
/// Returns `None` when there are no positives or no non-NaN scores.
pub fn threshold_max_f1(scores: &[f32], labels: &[bool]) -> Option<f32> {
    // Best F1 kept as an exact fraction (num, den) to compare without rounding.
    let mut best: Option<(f32, u64, u64)> = None;
    sweep(scores, labels, |t, tp, fp, pos| {
        if pos == 0 {
            return;
        }
        let (num, den) = f1_parts(tp, fp, pos - tp);
        let better = match best {
            None => true,
            Some((_, bn, bd)) => {
                u128::from(num) * u128::from(bd) > u128::from(bn) * u128::from(den)
            }
        };
        if better {
            best = Some((t, num, den));
        }
    });
    best.map(|(t, _, _)| t)
}

/// One row of [`threshold_table`].
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdRow {
    /// Threshold; rows with `score >= threshold` are flagged.
    pub threshold: f32,
    /// Precision at this threshold (`0.0` when nothing is flagged).
    pub precision: f64,
    /// Recall at this threshold (`0.0` when there are no positives).
    pub recall: f64,
    /// Flagged rows per 1000 rows (all rows, NaN scores included).
    pub flagged_per_1000: f64,
}

/// Precision, recall and flag rate for each threshold, in the order given.
///
/// Equivalent to calling [`Confusion::at`] per threshold, but computed with a
/// single sort of the scores plus a sort of the thresholds and one merged
/// pass: `O(n log n + t log t)`. A NaN threshold flags nothing. Empty input
/// yields rows of zeros.
pub fn threshold_table(scores: &[f32], labels: &[bool], thresholds: &[f32]) -> Vec<ThresholdRow> {
    let data = sorted_desc(scores, labels);
    let (pos, _) = class_counts(&data);
    let n = data.len() as u64;

    // Visit thresholds from highest to lowest; NaN thresholds are handled
    // separately (nothing flagged), so their position in the order is moot.
    let mut order: Vec<usize> = (0..thresholds.len()).collect();
    order.sort_unstable_by(|&a, &b| cmp_score(thresholds[b], thresholds[a]));

    let mut rows: Vec<ThresholdRow> = thresholds
        .iter()
        .map(|&threshold| ThresholdRow {
            threshold,
            precision: 0.0,
            recall: 0.0,
            flagged_per_1000: 0.0,
        })
        .collect();

    let (mut i, mut tp, mut fp) = (0usize, 0u64, 0u64);
    for idx in order {
        let t = thresholds[idx];
        if t.is_nan() {
            continue;
        }
        while let Some(&(s, l)) = data.get(i) {
            if s >= t {
                if l {
                    tp += 1;
                } else {
                    fp += 1;
                }
                i += 1;
            } else {
                break;
            }
        }
        let row = &mut rows[idx];
        row.precision = ratio(tp, tp + fp);
        row.recall = ratio(tp, pos);
        row.flagged_per_1000 = 1000.0 * ratio(tp + fp, n);
    }
    rows
}

/// One bin of a reliability (calibration) diagram.
#[derive(Debug, Clone, Serialize)]
pub struct ReliabilityBin {
    /// Inclusive lower edge of the bin.
    pub lower: f64,
    /// Upper edge (exclusive, except for the last bin which includes `1.0`).
    pub upper: f64,
    /// Number of rows whose probability falls in the bin.
    pub count: u64,
    /// Mean predicted probability in the bin (`0.0` for an empty bin).
    pub mean_predicted: f64,
    /// Fraction of positive rows in the bin (`0.0` for an empty bin).
    pub fraction_positive: f64,
}

/// Sanitises a probability: NaN becomes `0.0`, other values are clamped
/// into `[0, 1]`.
fn clean_prob(p: f32) -> f64 {
    if p.is_nan() {
        0.0
    } else {
        f64::from(p).clamp(0.0, 1.0)
    }
}

/// Reliability table with `bins` equal-width bins on `[0, 1]`.
///
/// Bin `i` covers `[i/bins, (i+1)/bins)`; `p = 1.0` goes in the last bin.
/// Empty bins are included with `count == 0`. Returns an empty vector when
/// `bins == 0`. Probabilities follow the module conventions (NaN → 0,
/// clamped to `[0, 1]`).
pub fn reliability_table(probs: &[f32], labels: &[bool], bins: usize) -> Vec<ReliabilityBin> {
    // (count, sum of predictions, positives) per bin.
    if bins == 0 {
        return Vec::new();
    }
    let mut acc = vec![(0u64, 0.0f64, 0u64); bins];
    let nb = bins as f64;
    for (&p, &l) in probs.iter().zip(labels) {
        let p = clean_prob(p);
        // `as usize` saturates; p is in [0, 1] so the index is at most `bins`.
        let b = ((p * nb) as usize).min(bins - 1);
        let cell = &mut acc[b];
        cell.0 += 1;
        cell.1 += p;
        cell.2 += u64::from(l);
    }
    acc.iter()
        .enumerate()
        .map(|(i, &(count, sum, pos))| ReliabilityBin {
            lower: i as f64 / nb,
            upper: (i + 1) as f64 / nb,
            count,
            mean_predicted: if count == 0 { 0.0 } else { sum / count as f64 },
            fraction_positive: ratio(pos, count),
        })
        .collect()
}

/// Expected calibration error: `Σ_bins count/n · |mean_predicted − fraction_positive|`
/// over the bins of [`reliability_table`] (10 bins is the usual choice).
///
/// Returns `None` for empty input or `bins == 0`.
pub fn expected_calibration_error(probs: &[f32], labels: &[bool], bins: usize) -> Option<f64> {
    let table = reliability_table(probs, labels, bins);
    let n: u64 = table.iter().map(|b| b.count).sum();
    if n == 0 {
        return None;
    }
    Some(
        table
            .iter()
            .map(|b| b.count as f64 / n as f64 * (b.mean_predicted - b.fraction_positive).abs())
            .sum(),
    )
}

/// Subgroup bias AUCs of Borkan et al. (2019), "Nuanced Metrics for
/// Measuring Unintended Bias with Real Data for Text Classification".
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BiasAucs {
    /// AUC restricted to rows in the subgroup.
    pub subgroup_auc: Option<f64>,
    /// Background-Positive, Subgroup-Negative AUC: background positives
    /// together with subgroup negatives.
    pub bpsn_auc: Option<f64>,
    /// Background-Negative, Subgroup-Positive AUC: background negatives
    /// together with subgroup positives.
    pub bnsp_auc: Option<f64>,
    /// Number of rows in the subgroup.
    pub subgroup_size: u64,
}

/// Computes [`BiasAucs`] for the subgroup marked by `in_subgroup`
/// ("background" is every row not in the subgroup).
///
/// Each AUC is `None` when its row set lacks positives or negatives. Uses the
/// common prefix of the three slices; NaN scores rank lowest.
pub fn bias_aucs(scores: &[f32], labels: &[bool], in_subgroup: &[bool]) -> BiasAucs {
    // Sort once; filtering a sorted sequence keeps it sorted, so each AUC
    // only needs a linear pass over a reused buffer.
    let n = scores.len().min(labels.len()).min(in_subgroup.len());
    let mut rows: Vec<(f32, bool, bool)> = (0..n)
        .map(|i| (scores[i], labels[i], in_subgroup[i]))
        .collect();
    rows.sort_unstable_by(|a, b| cmp_score(b.0, a.0));

    let mut buf: Vec<(f32, bool)> = Vec::with_capacity(n);
    let mut auc_where = |keep: &dyn Fn(bool, bool) -> bool| {
        buf.clear();
        buf.extend(
            rows.iter()
                .filter(|&&(_, l, g)| keep(l, g))
                .map(|&(s, l, _)| (s, l)),
        );
        auc_sorted(&buf)
    };
    let subgroup_auc = auc_where(&|_, g| g);
    let bpsn_auc = auc_where(&|l, g| l != g);
    let bnsp_auc = auc_where(&|l, g| l == g);
    BiasAucs {
        subgroup_auc,
        bpsn_auc,
        bnsp_auc,
        subgroup_size: in_subgroup[..n].iter().filter(|&&g| g).count() as u64,
    }
}

/// Generalized (power) mean `(Σ vᵢᵖ / n)^(1/p)`; the Jigsaw unintended-bias
/// competition uses `p = -5` over per-subgroup AUCs.
///
/// `p = 0` gives the geometric mean, `p = ±∞` the max / min. If any value is
/// `0` and `p <= 0` the result is `0.0`. Returns `None` for empty input, a
/// NaN `p`, or any value that is negative or NaN (where the mean is
/// undefined).
pub fn power_mean(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() || p.is_nan() || values.iter().any(|&v| v.is_nan() || v < 0.0) {
        return None;
    }
    let n = values.len() as f64;
    if p == f64::INFINITY {
        return Some(values.iter().copied().fold(0.0, f64::max));
    }
    if p == f64::NEG_INFINITY {
        return Some(values.iter().copied().fold(f64::INFINITY, f64::min));
    }
    if p <= 0.0 && values.contains(&0.0) {
        return Some(0.0);
    }
    if p == 0.0 {
        let mean_ln = values.iter().map(|v| v.ln()).sum::<f64>() / n;
        return Some(mean_ln.exp());
    }
    let mean = values.iter().map(|v| v.powf(p)).sum::<f64>() / n;
    Some(mean.powf(1.0 / p))
}

/// Mean binary cross-entropy (natural log) with probabilities clipped to
/// `[1e-7, 1 − 1e-7]`. Returns `None` for empty input. NaN probabilities are
/// treated as `0.0` (and then clipped).
pub fn log_loss(probs: &[f32], labels: &[bool]) -> Option<f64> {
    const EPS: f64 = 1e-7;
    mean_over(probs, labels, |p, l| {
        let p = p.clamp(EPS, 1.0 - EPS);
        -(if l { p.ln() } else { (1.0 - p).ln() })
    })
}

/// Brier score: mean squared difference between the probability and the
/// 0/1 label. Returns `None` for empty input. Probabilities follow the module
/// conventions (NaN → 0, clamped to `[0, 1]`).
pub fn brier_score(probs: &[f32], labels: &[bool]) -> Option<f64> {
    mean_over(probs, labels, |p, l| {
        let d = p - f64::from(u8::from(l));
        d * d
    })
}

/// Mean of `f(clean_prob(p), label)` over the common prefix; `None` if empty.
fn mean_over(probs: &[f32], labels: &[bool], f: impl Fn(f64, bool) -> f64) -> Option<f64> {
    let mut n = 0u64;
    let mut sum = 0.0f64;
    for (&p, &l) in probs.iter().zip(labels) {
        sum += f(clean_prob(p), l);
        n += 1;
    }
    (n > 0).then(|| sum / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOL: f64 = 1e-9;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= TOL
    }

    macro_rules! assert_close {
        ($a:expr, $b:expr) => {{
            let (a, b): (f64, f64) = ($a, $b);
            assert!(close(a, b), "{a} != {b}");
        }};
    }

    /// Deterministic dataset, reproduced in Python for the sklearn reference
    /// values: 64-bit LCG (Knuth MMIX constants), top 24 bits per draw.
    struct Data {
        scores: Vec<f32>,
        quantized: Vec<f32>,
        labels: Vec<bool>,
        subgroup: Vec<bool>,
    }

    /// Python equivalent:
    /// ```text
    /// st = (st * 6364136223846793005 + 1442695040888963407) % 2**64; draw = st >> 40
    /// a, b, c = 3 draws; score = a / 2**24; quantized = (a >> 20) / 16
    /// label = b / 2**24 < 0.2 + 0.6 * score; subgroup = c % 5 == 0
    /// ```
    fn lcg_data(n: usize, seed: u64) -> Data {
        let mut st = seed;
        let mut next = || {
            st = st
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            st >> 40
        };
        let mut d = Data {
            scores: Vec::with_capacity(n),
            quantized: Vec::with_capacity(n),
            labels: Vec::with_capacity(n),
            subgroup: Vec::with_capacity(n),
        };
        for _ in 0..n {
            let (a, b, c) = (next(), next(), next());
            let score = a as f64 / 16_777_216.0;
            d.scores.push(score as f32);
            d.quantized.push(((a >> 20) as f64 / 16.0) as f32);
            d.labels.push((b as f64 / 16_777_216.0) < 0.2 + 0.6 * score);
            d.subgroup.push(c % 5 == 0);
        }
        d
    }

    fn brute_auc(scores: &[f32], labels: &[bool]) -> Option<f64> {
        let (mut num, mut pairs) = (0.0, 0.0);
        for (i, &si) in scores.iter().enumerate() {
            for (j, &sj) in scores.iter().enumerate() {
                if labels[i] && !labels[j] {
                    pairs += 1.0;
                    num += match cmp_score(si, sj) {
                        Ordering::Greater => 1.0,
                        Ordering::Equal => 0.5,
                        Ordering::Less => 0.0,
                    };
                }
            }
        }
        (pairs > 0.0).then(|| num / pairs)
    }

    const FIXED_S: [f32; 10] = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.9, 0.1, 0.65, 0.2];
    const FIXED_Y: [bool; 10] = [
        false, true, false, true, false, true, true, false, false, true,
    ];

    #[test]
    fn generator_matches_python() {
        let d = lcg_data(200, 42);
        assert_eq!(d.scores[..3], [0.568_230_3, 0.630_398_04, 0.021_760_762]);
        assert_eq!(d.quantized[..3], [0.5625, 0.625, 0.0]);
        assert_eq!(d.labels[..3], [true, false, true]);
        assert_eq!(d.labels.iter().filter(|&&l| l).count(), 101);
        assert_eq!(d.subgroup.iter().filter(|&&g| g).count(), 42);
    }

    #[test]
    fn auc_and_ap_match_sklearn() {
        let d = lcg_data(200, 42);
        assert_close!(roc_auc(&d.scores, &d.labels).unwrap(), 0.7329732973297329);
        assert_close!(
            average_precision(&d.scores, &d.labels).unwrap(),
            0.7198369294675939
        );
        assert_close!(roc_auc(&d.quantized, &d.labels).unwrap(), 0.731073107310731);
        assert_close!(
            average_precision(&d.quantized, &d.labels).unwrap(),
            0.7128315456612547
        );
        assert_close!(roc_auc(&FIXED_S, &FIXED_Y).unwrap(), 0.76);
        assert_close!(
            average_precision(&FIXED_S, &FIXED_Y).unwrap(),
            0.7916666666666665
        );
        // sklearn documentation example.
        let (s, y) = ([0.1, 0.4, 0.35, 0.8], [false, false, true, true]);
        assert_close!(roc_auc(&s, &y).unwrap(), 0.75);
        assert_close!(average_precision(&s, &y).unwrap(), 0.8333333333333333);
    }

    #[test]
    fn auc_matches_brute_force() {
        for seed in [42, 7, 12345] {
            let d = lcg_data(200, seed);
            for s in [&d.scores, &d.quantized] {
                let fast = roc_auc(s, &d.labels).unwrap();
                assert_close!(fast, brute_auc(s, &d.labels).unwrap());
            }
        }
        let mut s = FIXED_S;
        s[2] = f32::NAN;
        s[7] = f32::NAN;
        assert_close!(
            roc_auc(&s, &FIXED_Y).unwrap(),
            brute_auc(&s, &FIXED_Y).unwrap()
        );
    }

    #[test]
    fn confusion_matches_sklearn() {
        let d = lcg_data(200, 42);
        for s in [&d.scores, &d.quantized] {
            let c = Confusion::at(s, &d.labels, 0.5);
            assert_eq!((c.tp, c.fp, c.flagged(), c.positives()), (67, 30, 97, 101));
            assert_eq!(c.negatives(), 99);
            assert_close!(c.precision(), 0.6907216494845361);
            assert_close!(c.recall(), 0.6633663366336634);
            assert_close!(c.f1(), 0.6767676767676768);
        }
        let c = Confusion::at(&FIXED_S, &FIXED_Y, 0.5);
        assert_eq!(
            c,
            Confusion {
                tp: 2,
                fp: 1,
                tn: 4,
                fn_: 3
            }
        );
        assert_close!(c.precision(), 0.6666666666666666);
        assert_close!(c.recall(), 0.4);
        assert_close!(c.f1(), 0.5);
        // Ties at the threshold are flagged (score >= threshold).
        let c = Confusion::at(&FIXED_S, &FIXED_Y, 0.4);
        assert_close!(c.precision(), 0.6666666666666666);
        assert_close!(c.recall(), 0.8);
        assert_close!(c.f1(), 0.7272727272727273);
    }

    #[test]
    fn confusion_zero_denominators() {
        let c = Confusion::at(&[0.1, 0.2], &[false, false], 0.5);
        assert_eq!(c.precision(), 0.0);
        assert_eq!(c.recall(), 0.0);
        assert_eq!(c.f1(), 0.0);
        let c = Confusion::at(&[], &[], 0.5);
        assert_eq!(c, Confusion::default());
        // NaN scores and NaN thresholds never flag.
        let c = Confusion::at(&[f32::NAN, 0.9], &[true, true], 0.5);
        assert_eq!((c.tp, c.fn_), (1, 1));
        let c = Confusion::at(&[0.9], &[true], f32::NAN);
        assert_eq!(c.flagged(), 0);
    }

    #[test]
    fn confusion_serde_uses_fn_key() {
        use serde::de::value::{Error, MapDeserializer};
        let pairs = [("tp", 1u64), ("fp", 2), ("tn", 3), ("fn", 4)];
        let de = MapDeserializer::<_, Error>::new(pairs.into_iter());
        let c = Confusion::deserialize(de).unwrap();
        assert_eq!(
            c,
            Confusion {
                tp: 1,
                fp: 2,
                tn: 3,
                fn_: 4
            }
        );
        let bad = [("tp", 1u64), ("fp", 2), ("tn", 3), ("fn_", 4)];
        let de = MapDeserializer::<_, Error>::new(bad.into_iter());
        assert!(Confusion::deserialize(de).is_err());
    }

    #[test]
    fn thresholds_match_reference() {
        let d = lcg_data(200, 42);
        let (s, y) = (&d.scores, &d.labels);
        assert_eq!(threshold_for_precision(s, y, 0.8), Some(0.855_100_75));
        assert_eq!(threshold_for_recall(s, y, 0.9), Some(0.153_393_75));
        let t = threshold_max_f1(s, y).unwrap();
        assert_eq!(t, 0.307_700_87);
        assert_close!(Confusion::at(s, y, t).f1(), 0.7203389830508474);

        let q = &d.quantized;
        assert_eq!(threshold_for_precision(q, y, 0.8), Some(0.875));
        assert_eq!(threshold_for_recall(q, y, 0.9), Some(0.125));
        let t = threshold_max_f1(q, y).unwrap();
        assert_eq!(t, 0.3125);
        assert_close!(Confusion::at(q, y, t).f1(), 0.7148936170212766);
    }

    #[test]
    fn thresholds_consistent_with_confusion() {
        let d = lcg_data(200, 7);
        let (s, y) = (&d.quantized, &d.labels);
        let mut distinct = s.clone();
        distinct.sort_unstable_by(|a, b| cmp_score(*a, *b));
        distinct.dedup();
        for target in [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0] {
            let brute_p = distinct
                .iter()
                .copied()
                .find(|&t| Confusion::at(s, y, t).precision() >= target);
            assert_eq!(threshold_for_precision(s, y, target), brute_p);
            let brute_r = distinct
                .iter()
                .rev()
                .copied()
                .find(|&t| Confusion::at(s, y, t).recall() >= target);
            assert_eq!(threshold_for_recall(s, y, target), brute_r);
        }
        let best = distinct
            .iter()
            .map(|&t| Confusion::at(s, y, t).f1())
            .fold(0.0, f64::max);
        let t = threshold_max_f1(s, y).unwrap();
        assert_close!(Confusion::at(s, y, t).f1(), best);
    }

    #[test]
    fn thresholds_edge_cases() {
        assert_eq!(threshold_for_precision(&[], &[], 0.5), None);
        assert_eq!(threshold_for_recall(&[], &[], 0.5), None);
        assert_eq!(threshold_max_f1(&[], &[]), None);
        let nan = [f32::NAN, f32::NAN];
        assert_eq!(threshold_for_precision(&nan, &[true, false], 0.0), None);
        assert_eq!(threshold_max_f1(&nan, &[true, false]), None);
        // No positives.
        let s = [0.2, 0.8];
        assert_eq!(threshold_max_f1(&s, &[false, false]), None);
        assert_eq!(threshold_for_precision(&s, &[false, false], 0.5), None);
        assert_eq!(threshold_for_recall(&s, &[false, false], 0.5), None);
        // Unreachable targets and NaN targets.
        assert_eq!(threshold_for_precision(&s, &[true, false], 1.1), None);
        assert_eq!(threshold_for_recall(&s, &[true, false], f64::NAN), None);
        // NaN-scored positive can never be recalled.
        let s = [0.9, f32::NAN];
        assert_eq!(threshold_for_recall(&s, &[true, true], 0.5), Some(0.9));
        assert_eq!(threshold_for_recall(&s, &[true, true], 1.0), None);
        // All ties: the single candidate.
        assert_eq!(threshold_max_f1(&[0.5; 4], &FIXED_Y[..4]), Some(0.5));
    }

    #[test]
    fn threshold_table_matches_confusion() {
        let d = lcg_data(200, 42);
        let mut s = d.quantized.clone();
        s[3] = f32::NAN;
        let y = &d.labels;
        let ts = [0.5, f32::NAN, 0.0, 1.0, 0.3125, -1.0, 0.9, 0.5, 2.0];
        let table = threshold_table(&s, y, &ts);
        assert_eq!(table.len(), ts.len());
        for (row, &t) in table.iter().zip(&ts) {
            let c = Confusion::at(&s, y, t);
            assert!(row.threshold.to_bits() == t.to_bits());
            assert_close!(row.precision, c.precision());
            assert_close!(row.recall, c.recall());
            assert_close!(row.flagged_per_1000, c.flagged() as f64 * 1000.0 / 200.0);
        }
        assert_close!(table[0].precision, 0.6907216494845361);
        assert_close!(table[0].flagged_per_1000, 485.0);
        let empty = threshold_table(&[], &[], &[0.5]);
        assert_eq!(empty[0].flagged_per_1000, 0.0);
        assert!(threshold_table(&s, y, &[]).is_empty());
    }

    #[test]
    fn auc_ap_edge_cases() {
        assert_eq!(roc_auc(&[], &[]), None);
        assert_eq!(average_precision(&[], &[]), None);
        assert_eq!(roc_auc(&[0.1, 0.9], &[true, true]), None);
        assert_eq!(roc_auc(&[0.1, 0.9], &[false, false]), None);
        assert_eq!(average_precision(&[0.1, 0.9], &[false, false]), None);
        assert_close!(
            average_precision(&[0.1, 0.2, 0.2], &[true, true, true]).unwrap(),
            1.0
        );
        // All ties.
        let y = [false, true, false, true];
        assert_close!(roc_auc(&[0.5; 4], &y).unwrap(), 0.5);
        assert_close!(average_precision(&[0.5; 4], &y).unwrap(), 0.5);
        assert_close!(roc_auc(&[f32::NAN; 4], &y).unwrap(), 0.5);
        // NaN ranks lowest: a NaN-scored negative is beaten by every positive.
        let s = [0.1, f32::NAN, 0.3, f32::NEG_INFINITY];
        let y = [true, false, true, false];
        assert_close!(roc_auc(&s, &y).unwrap(), 1.0);
        assert_close!(average_precision(&s, &y).unwrap(), 1.0);
        // -0.0 and 0.0 tie.
        assert_close!(roc_auc(&[-0.0, 0.0], &[true, false]).unwrap(), 0.5);
        // Mismatched lengths use the common prefix.
        assert_close!(
            roc_auc(&[0.1, 0.9, 0.5], &[false, true]).unwrap(),
            roc_auc(&[0.1, 0.9], &[false, true]).unwrap()
        );
        assert_eq!(roc_auc(&[0.1, 0.9], &[false]), None);
    }

    #[test]
    fn bias_aucs_match_sklearn() {
        let d = lcg_data(200, 42);
        let b = bias_aucs(&d.scores, &d.labels, &d.subgroup);
        assert_eq!(b.subgroup_size, 42);
        assert_close!(b.subgroup_auc.unwrap(), 0.8055555555555556);
        assert_close!(b.bpsn_auc.unwrap(), 0.8001443001443002);
        assert_close!(b.bnsp_auc.unwrap(), 0.7217078189300412);
        let b = bias_aucs(&d.quantized, &d.labels, &d.subgroup);
        assert_close!(b.subgroup_auc.unwrap(), 0.7939814814814815);
        assert_close!(b.bpsn_auc.unwrap(), 0.7958152958152959);
        assert_close!(b.bnsp_auc.unwrap(), 0.7152777777777778);
    }

    #[test]
    fn bias_aucs_edge_cases() {
        let b = bias_aucs(&[], &[], &[]);
        assert_eq!(b.subgroup_size, 0);
        assert!(b.subgroup_auc.is_none() && b.bpsn_auc.is_none() && b.bnsp_auc.is_none());
        // Subgroup with only positives: subgroup AUC undefined, BNSP defined.
        let s = [0.9, 0.8, 0.1, 0.7];
        let y = [true, true, false, true];
        let g = [true, true, false, false];
        let b = bias_aucs(&s, &y, &g);
        assert_eq!(b.subgroup_size, 2);
        assert_eq!(b.subgroup_auc, None);
        assert_eq!(b.bpsn_auc, None);
        assert_close!(b.bnsp_auc.unwrap(), 1.0);
        // Shorter subgroup mask truncates.
        assert_eq!(bias_aucs(&s, &y, &g[..1]).subgroup_size, 1);
    }

    #[test]
    fn reliability_and_ece() {
        let d = lcg_data(200, 42);
        let table = reliability_table(&d.scores, &d.labels, 10);
        let counts: Vec<u64> = table.iter().map(|b| b.count).collect();
        assert_eq!(counts, [27, 21, 16, 21, 18, 16, 19, 20, 21, 21]);
        assert_close!(
            expected_calibration_error(&d.scores, &d.labels, 10).unwrap(),
            0.10137362301349642
        );

        let probs = [0.0, 0.05, 1.0, 0.95, 0.5, f32::NAN, 1.5, -0.2];
        let y = [false, true, true, true, false, false, true, false];
        let t = reliability_table(&probs, &y, 4);
        assert_eq!(t.len(), 4);
        assert_eq!(t.iter().map(|b| b.count).collect::<Vec<_>>(), [4, 0, 1, 3]);
        assert_close!(t[0].lower, 0.0);
        assert_close!(t[3].upper, 1.0);
        assert_close!(t[1].mean_predicted, 0.0);
        assert_close!(t[1].fraction_positive, 0.0);
        assert_close!(t[0].mean_predicted, f64::from(0.05f32) / 4.0);
        assert_close!(t[0].fraction_positive, 0.25);
        assert_close!(t[2].mean_predicted, 0.5);
        assert_close!(t[3].mean_predicted, (2.0 + f64::from(0.95f32)) / 3.0);
        assert_close!(t[3].fraction_positive, 1.0);
        let ece = expected_calibration_error(&probs, &y, 4).unwrap();
        let manual = 4.0 / 8.0 * (f64::from(0.05f32) / 4.0 - 0.25).abs()
            + 1.0 / 8.0 * 0.5
            + 3.0 / 8.0 * (1.0 - (2.0 + f64::from(0.95f32)) / 3.0);
        assert_close!(ece, manual);

        assert!(reliability_table(&probs, &y, 0).is_empty());
        assert_eq!(expected_calibration_error(&probs, &y, 0), None);
        assert_eq!(expected_calibration_error(&[], &[], 10), None);
        assert_eq!(reliability_table(&[], &[], 3).len(), 3);
        assert_close!(
            expected_calibration_error(&[1.0, 0.0], &[true, false], 10).unwrap(),
            0.0
        );
    }

    #[test]
    fn power_mean_values() {
        let v = [0.9, 0.8, 0.75, 0.95];
        assert_close!(power_mean(&v, -5.0).unwrap(), 0.8284256760835003);
        assert_close!(power_mean(&v, 2.0).unwrap(), 0.8536685539481936);
        assert_close!(power_mean(&v, 0.0).unwrap(), 0.8463097442300894);
        assert_close!(power_mean(&v, 1.0).unwrap(), 0.85);
        assert_close!(power_mean(&v, f64::INFINITY).unwrap(), 0.95);
        assert_close!(power_mean(&v, f64::NEG_INFINITY).unwrap(), 0.75);
        assert_eq!(power_mean(&[], -5.0), None);
        assert_eq!(power_mean(&[0.5, 0.0], -5.0), Some(0.0));
        assert_eq!(power_mean(&[0.5, 0.0], 0.0), Some(0.0));
        assert_close!(power_mean(&[0.5, 0.0], 1.0).unwrap(), 0.25);
        assert_eq!(power_mean(&[0.5, f64::NAN], 1.0), None);
        assert_eq!(power_mean(&[0.5, -0.1], 1.0), None);
        assert_eq!(power_mean(&[0.5], f64::NAN), None);
    }

    #[test]
    fn log_loss_and_brier_match_sklearn() {
        let d = lcg_data(200, 42);
        assert_close!(log_loss(&d.scores, &d.labels).unwrap(), 0.667599291543218);
        assert_close!(
            brier_score(&d.scores, &d.labels).unwrap(),
            0.21757215856586612
        );
        assert_eq!(log_loss(&[], &[]), None);
        assert_eq!(brier_score(&[], &[]), None);
        // Clipping keeps the loss finite.
        let l = log_loss(&[0.0, 1.0], &[true, false]).unwrap();
        assert_close!(l, -(1e-7f64).ln());
        assert!(log_loss(&[f32::NAN], &[true]).unwrap().is_finite());
        assert_close!(
            log_loss(&[1.0, 0.0], &[true, false]).unwrap(),
            -(1.0f64 - 1e-7).ln()
        );
        assert_close!(brier_score(&[1.0, 0.0], &[true, false]).unwrap(), 0.0);
        assert_close!(brier_score(&[f32::NAN, 2.0], &[true, false]).unwrap(), 1.0);
    }
}

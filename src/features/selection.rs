//! Document-frequency statistics over the training split and chi-square
//! feature selection.
//!
//! linfa's learners need dense matrices, so only the most informative columns
//! are kept: for each label, features are ranked by the chi-square statistic
//! of "feature present" against the label (on the rows labelled for it), and
//! the per-label rankings are merged round-robin until the budget is filled.

use super::hash::HashMap64;
use super::ngrams::FeatureKind;

/// Per-feature counts: documents containing it, and per label the positive
/// and labelled documents containing it.
#[derive(Debug, Clone)]
pub struct FeatureStats {
    n_labels: usize,
    slots: HashMap64<u32>,
    kinds: Vec<FeatureKind>,
    hashes: Vec<u64>,
    /// Stride `1 + 2 * n_labels`: df, then (positive, labelled) per label.
    counts: Vec<u32>,
    n_docs: u64,
    label_pos: Vec<u64>,
    label_labeled: Vec<u64>,
}

/// A selected feature: its hash, kind and document frequency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Selected {
    /// Feature identity.
    pub hash: u64,
    /// Namespace.
    pub kind: FeatureKind,
    /// Training documents containing it.
    pub df: u32,
}

impl FeatureStats {
    /// Empty statistics for `n_labels` labels.
    pub fn new(n_labels: usize) -> Self {
        Self {
            n_labels,
            slots: HashMap64::default(),
            kinds: Vec::new(),
            hashes: Vec::new(),
            counts: Vec::new(),
            n_docs: 0,
            label_pos: vec![0; n_labels],
            label_labeled: vec![0; n_labels],
        }
    }

    fn stride(&self) -> usize {
        1 + 2 * self.n_labels
    }

    /// Number of documents seen.
    pub fn n_docs(&self) -> u64 {
        self.n_docs
    }

    /// Number of distinct features seen.
    pub fn n_features(&self) -> usize {
        self.hashes.len()
    }

    /// Adds one document given its distinct features (deduplicated by the
    /// caller) and its labels.
    pub fn add_document(&mut self, features: &[(u64, FeatureKind)], labels: &[Option<bool>]) {
        self.n_docs += 1;
        for (l, label) in labels.iter().enumerate() {
            if let Some(pos) = label {
                self.label_labeled[l] += 1;
                self.label_pos[l] += u64::from(*pos);
            }
        }
        let stride = self.stride();
        for &(hash, kind) in features {
            let slot = match self.slots.get(&hash) {
                Some(&s) => s as usize,
                None => {
                    let s = self.hashes.len();
                    self.slots.insert(hash, s as u32);
                    self.hashes.push(hash);
                    self.kinds.push(kind);
                    self.counts.resize(self.counts.len() + stride, 0);
                    s
                }
            };
            let c = &mut self.counts[slot * stride..(slot + 1) * stride];
            c[0] += 1;
            for (l, label) in labels.iter().enumerate() {
                if let Some(pos) = label {
                    c[2 + 2 * l] += 1;
                    c[1 + 2 * l] += u32::from(*pos);
                }
            }
        }
    }

    /// Adds the counts of `other` (from another thread's share of documents).
    pub fn merge(&mut self, other: FeatureStats) {
        let stride = self.stride();
        self.n_docs += other.n_docs;
        for l in 0..self.n_labels {
            self.label_pos[l] += other.label_pos[l];
            self.label_labeled[l] += other.label_labeled[l];
        }
        for (s, (&hash, &kind)) in other.hashes.iter().zip(&other.kinds).enumerate() {
            let src = &other.counts[s * stride..(s + 1) * stride];
            let slot = match self.slots.get(&hash) {
                Some(&d) => d as usize,
                None => {
                    let d = self.hashes.len();
                    self.slots.insert(hash, d as u32);
                    self.hashes.push(hash);
                    self.kinds.push(kind);
                    self.counts.resize(self.counts.len() + stride, 0);
                    d
                }
            };
            for (dst, v) in self.counts[slot * stride..(slot + 1) * stride]
                .iter_mut()
                .zip(src)
            {
                *dst += v;
            }
        }
    }

    /// Chi-square of feature slot `s` against label `l` (0 when undefined).
    fn chi2(&self, s: usize, l: usize) -> f64 {
        let c = &self.counts[s * self.stride()..(s + 1) * self.stride()];
        chi_square(
            c[1 + 2 * l],
            c[2 + 2 * l],
            self.label_pos[l],
            self.label_labeled[l],
        )
    }

    /// Number of documents labelled for each label, and positive for it.
    pub fn label_totals(&self) -> (&[u64], &[u64]) {
        (&self.label_pos, &self.label_labeled)
    }

    /// Drops every feature whose document frequency is below `min_df`
    /// (to keep a capped map bounded; see [`super::buckets`]).
    pub fn prune_below(&mut self, min_df: u32) {
        let stride = self.stride();
        let mut keep = 0;
        for s in 0..self.hashes.len() {
            if self.counts[s * stride] >= min_df {
                self.hashes[keep] = self.hashes[s];
                self.kinds[keep] = self.kinds[s];
                self.counts
                    .copy_within(s * stride..(s + 1) * stride, keep * stride);
                keep += 1;
            }
        }
        self.hashes.truncate(keep);
        self.kinds.truncate(keep);
        self.counts.truncate(keep * stride);
        self.slots = self
            .hashes
            .iter()
            .enumerate()
            .map(|(i, &h)| (h, i as u32))
            .collect();
    }

    /// Selects at most `max_features` features with document frequency at
    /// least `min_df`, merging per-label chi-square rankings round-robin.
    /// Ties break on the hash, so the result is deterministic.
    pub fn select(&self, min_df: u32, max_features: usize) -> Vec<Selected> {
        let stride = self.stride();
        // Cluster tokens are few (one per cluster and granularity) and are
        // all kept outside the budget; n-grams compete for it.
        let (clusters, eligible): (Vec<usize>, Vec<usize>) = (0..self.hashes.len())
            .filter(|&s| self.counts[s * stride] >= min_df)
            .partition(|&s| self.kinds[s] == FeatureKind::Cluster);
        let rankings: Vec<Vec<(f64, usize)>> = (0..self.n_labels)
            .map(|l| {
                let mut r: Vec<(f64, usize)> =
                    eligible.iter().map(|&s| (self.chi2(s, l), s)).collect();
                r.sort_unstable_by(|x, y| {
                    y.0.total_cmp(&x.0)
                        .then_with(|| self.hashes[x.1].cmp(&self.hashes[y.1]))
                });
                r
            })
            .collect();
        let mut clusters = clusters;
        clusters.sort_unstable_by_key(|&s| self.hashes[s]);
        round_robin(rankings, &eligible, self.hashes.len(), max_features)
            .into_iter()
            .chain(clusters)
            .map(|s| Selected {
                hash: self.hashes[s],
                kind: self.kinds[s],
                df: self.counts[s * stride],
            })
            .collect()
    }
}

/// Chi-square statistic of "feature present" against a label: `present_pos`
/// positive and `present_labelled` labelled documents contain the feature, of
/// `n_pos` positive and `n_labelled` labelled documents in all (0 when
/// undefined).
pub fn chi_square(present_pos: u32, present_labelled: u32, n_pos: u64, n_labelled: u64) -> f64 {
    let a = f64::from(present_pos); // present & positive
    let b = f64::from(present_labelled) - a; // present & negative
    let n_pos = n_pos as f64;
    let n = n_labelled as f64;
    let n_neg = n - n_pos;
    let cc = n_pos - a; // absent & positive
    let d = n_neg - b; // absent & negative
    let denom = (a + b) * (cc + d) * n_pos * n_neg;
    if denom <= 0.0 {
        return 0.0;
    }
    n * (a * d - b * cc).powi(2) / denom
}

/// Merges per-label rankings (best first, each entry `(score, slot)`)
/// round-robin into at most `budget` distinct slots out of `n_slots`. With
/// no ranking at all, `eligible` is taken in order.
pub fn round_robin(
    mut rankings: Vec<Vec<(f64, usize)>>,
    eligible: &[usize],
    n_slots: usize,
    budget: usize,
) -> Vec<usize> {
    if rankings.is_empty() {
        rankings.push(eligible.iter().map(|&s| (0.0, s)).collect());
    }
    let budget = budget.min(eligible.len());
    let mut taken = vec![false; n_slots];
    let mut out = Vec::with_capacity(budget);
    let mut cursor = vec![0usize; rankings.len()];
    while out.len() < budget {
        let mut progressed = false;
        for (l, ranking) in rankings.iter().enumerate() {
            while cursor[l] < ranking.len() && taken[ranking[cursor[l]].1] {
                cursor[l] += 1;
            }
            if cursor[l] < ranking.len() && out.len() < budget {
                let s = ranking[cursor[l]].1;
                taken[s] = true;
                out.push(s);
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi2_prefers_discriminative_features() {
        let mut st = FeatureStats::new(1);
        let (good, common, rare) = (1u64, 2u64, 3u64);
        for i in 0..100 {
            let pos = i % 2 == 0;
            let mut f = vec![(common, FeatureKind::Unigram)];
            if pos {
                f.push((good, FeatureKind::Unigram));
            }
            if i == 0 {
                f.push((rare, FeatureKind::Unigram));
            }
            st.add_document(&f, &[Some(pos)]);
        }
        let sel = st.select(2, 10);
        assert_eq!(sel.len(), 2, "rare feature is below min_df");
        assert_eq!(sel[0].hash, good);
        assert_eq!(sel[0].df, 50);
    }

    #[test]
    fn unlabelled_rows_do_not_count_as_negative() {
        let mut st = FeatureStats::new(2);
        st.add_document(&[(7, FeatureKind::Unigram)], &[Some(true), None]);
        st.add_document(&[(8, FeatureKind::Unigram)], &[Some(false), Some(false)]);
        assert_eq!(st.label_labeled, vec![2, 1]);
        assert_eq!(
            st.counts[2 + 2],
            0,
            "feature 7 has no labelled rows for label 1"
        );
    }

    #[test]
    fn merge_equals_single_pass() {
        type Doc = (Vec<(u64, FeatureKind)>, Vec<Option<bool>>);
        let docs: Vec<Doc> = (0..20u64)
            .map(|i| {
                (
                    vec![
                        (i % 3, FeatureKind::Unigram),
                        (10 + i % 5, FeatureKind::Bigram),
                    ],
                    vec![Some(i % 4 == 0)],
                )
            })
            .collect();
        let mut one = FeatureStats::new(1);
        for (f, l) in &docs {
            one.add_document(f, l);
        }
        let mut a = FeatureStats::new(1);
        let mut b = FeatureStats::new(1);
        for (i, (f, l)) in docs.iter().enumerate() {
            if i < 7 {
                a.add_document(f, l)
            } else {
                b.add_document(f, l)
            }
        }
        a.merge(b);
        assert_eq!(one.select(1, 100), a.select(1, 100));
    }
}

//! Bounded feature statistics for corpora too large to count exactly.
//!
//! [`BucketStats`] folds every n-gram hash into one of a fixed number of
//! buckets and keeps, per bucket, the same counts as
//! [`FeatureStats`](super::FeatureStats): documents containing it, and per
//! label the positive and labelled documents containing it. Its memory is
//! `buckets * (1 + 2 * labels) * 4` bytes whatever the number of rows or
//! distinct n-grams.
//!
//! Selection from buckets is a screening step. Frequent, discriminative
//! n-grams dominate their bucket's counts, so the buckets ranked highest by
//! chi-square hold them; a second pass then counts exactly the n-grams that
//! fall into those candidate buckets ([`CandidateBuckets`]) and the usual
//! [`FeatureStats::select`](super::FeatureStats::select) picks the columns.

use super::selection::{chi_square, round_robin};

/// Document counts per hash bucket (see the module documentation).
#[derive(Debug, Clone)]
pub struct BucketStats {
    n_labels: usize,
    buckets: usize,
    /// Stride `1 + 2 * n_labels`: df, then (positive, labelled) per label.
    counts: Vec<u32>,
    n_docs: u64,
    label_pos: Vec<u64>,
    label_labeled: Vec<u64>,
}

/// The bucket of a feature hash (hashes are already well mixed).
#[inline]
pub fn bucket_of(hash: u64, buckets: usize) -> usize {
    // Multiply-shift maps the full 64-bit range evenly onto 0..buckets.
    ((u128::from(hash) * buckets as u128) >> 64) as usize
}

impl BucketStats {
    /// Empty statistics with `buckets` buckets (at least 1) for `n_labels` labels.
    pub fn new(n_labels: usize, buckets: usize) -> Self {
        let buckets = buckets.max(1);
        Self {
            n_labels,
            buckets,
            counts: vec![0; buckets * (1 + 2 * n_labels)],
            n_docs: 0,
            label_pos: vec![0; n_labels],
            label_labeled: vec![0; n_labels],
        }
    }

    fn stride(&self) -> usize {
        1 + 2 * self.n_labels
    }

    /// Number of buckets.
    pub fn buckets(&self) -> usize {
        self.buckets
    }

    /// Number of documents seen.
    pub fn n_docs(&self) -> u64 {
        self.n_docs
    }

    /// Adds one document given its distinct feature hashes and its labels.
    /// Two distinct n-grams of one document that share a bucket count once.
    pub fn add_document(
        &mut self,
        hashes: &[u64],
        labels: &[Option<bool>],
        scratch: &mut Vec<usize>,
    ) {
        self.n_docs += 1;
        for (l, label) in labels.iter().enumerate().take(self.n_labels) {
            if let Some(pos) = label {
                self.label_labeled[l] += 1;
                self.label_pos[l] += u64::from(*pos);
            }
        }
        scratch.clear();
        scratch.extend(hashes.iter().map(|&h| bucket_of(h, self.buckets)));
        scratch.sort_unstable();
        scratch.dedup();
        let stride = self.stride();
        for &b in scratch.iter() {
            let c = &mut self.counts[b * stride..(b + 1) * stride];
            c[0] = c[0].saturating_add(1);
            for (l, label) in labels.iter().enumerate().take(self.n_labels) {
                if let Some(pos) = label {
                    c[2 + 2 * l] = c[2 + 2 * l].saturating_add(1);
                    c[1 + 2 * l] = c[1 + 2 * l].saturating_add(u32::from(*pos));
                }
            }
        }
    }

    /// Adds the counts of `other` (another thread's share of documents, with
    /// the same number of buckets and labels).
    pub fn merge(&mut self, other: &BucketStats) {
        self.n_docs += other.n_docs;
        for l in 0..self.n_labels {
            self.label_pos[l] += other.label_pos[l];
            self.label_labeled[l] += other.label_labeled[l];
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
    }

    /// Per label: positive and labelled documents.
    pub fn label_totals(&self) -> (&[u64], &[u64]) {
        (&self.label_pos, &self.label_labeled)
    }

    /// Buckets with a document frequency of at least `min_df`, at most
    /// `budget` of them, ranked by chi-square against each label in `labels`
    /// and merged round-robin (ties break on the bucket number).
    pub fn candidates(&self, min_df: u32, budget: usize, labels: &[usize]) -> CandidateBuckets {
        let stride = self.stride();
        let eligible: Vec<usize> = (0..self.buckets)
            .filter(|&b| self.counts[b * stride] >= min_df)
            .collect();
        let rankings: Vec<Vec<(f64, usize)>> = labels
            .iter()
            .filter(|&&l| l < self.n_labels)
            .map(|&l| {
                let mut r: Vec<(f64, usize)> = eligible
                    .iter()
                    .map(|&b| {
                        let c = &self.counts[b * stride..(b + 1) * stride];
                        let chi = chi_square(
                            c[1 + 2 * l],
                            c[2 + 2 * l],
                            self.label_pos[l],
                            self.label_labeled[l],
                        );
                        (chi, b)
                    })
                    .collect();
                r.sort_unstable_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
                r
            })
            .collect();
        let chosen = round_robin(rankings, &eligible, self.buckets, budget);
        let mut bits = vec![0u64; self.buckets.div_ceil(64)];
        for &b in &chosen {
            bits[b / 64] |= 1u64 << (b % 64);
        }
        CandidateBuckets {
            buckets: self.buckets,
            bits,
            len: chosen.len(),
        }
    }

    /// Buckets with at least one document.
    pub fn occupied(&self) -> u64 {
        let stride = self.stride();
        (0..self.buckets)
            .filter(|&b| self.counts[b * stride] > 0)
            .count() as u64
    }
}

/// A set of buckets (a bit set), chosen by [`BucketStats::candidates`].
#[derive(Debug, Clone)]
pub struct CandidateBuckets {
    buckets: usize,
    bits: Vec<u64>,
    len: usize,
}

impl CandidateBuckets {
    /// True when the bucket of `hash` is a candidate.
    #[inline]
    pub fn contains(&self, hash: u64) -> bool {
        let b = bucket_of(hash, self.buckets);
        (self.bits[b / 64] >> (b % 64)) & 1 == 1
    }

    /// Number of candidate buckets.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there is no candidate bucket.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{FeatureKind, FeatureStats};

    #[test]
    fn bucket_of_stays_in_range_and_spreads() {
        let mut seen = vec![0u32; 16];
        for i in 0..16_000u64 {
            let b = bucket_of(crate::features::hash::mix(i), 16);
            seen[b] += 1;
        }
        assert!(seen.iter().all(|&c| (800..1200).contains(&c)), "{seen:?}");
        assert_eq!(bucket_of(u64::MAX, 7), 6);
        assert_eq!(bucket_of(0, 7), 0);
    }

    #[test]
    fn without_collisions_buckets_rank_like_exact_counts() {
        // Many buckets for few features: every feature has its own bucket, so
        // the candidates are exactly the buckets of the exact selection.
        let mut exact = FeatureStats::new(1);
        let mut buckets = BucketStats::new(1, 1 << 20);
        let mut scratch = Vec::new();
        for i in 0..200u64 {
            let pos = i % 3 == 0;
            let mut f: Vec<u64> = vec![crate::features::hash::mix(1000 + i % 7)];
            if pos {
                f.push(crate::features::hash::mix(1));
            }
            if i % 5 == 0 {
                f.push(crate::features::hash::mix(2));
            }
            let kinds: Vec<(u64, FeatureKind)> =
                f.iter().map(|&h| (h, FeatureKind::Unigram)).collect();
            exact.add_document(&kinds, &[Some(pos)]);
            buckets.add_document(&f, &[Some(pos)], &mut scratch);
        }
        let selected = exact.select(2, 3);
        let cand = buckets.candidates(2, 3, &[0]);
        assert_eq!(cand.len(), 3);
        for s in &selected {
            assert!(cand.contains(s.hash));
        }
        assert_eq!(buckets.n_docs(), 200);
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = BucketStats::new(2, 64);
        let mut b = BucketStats::new(2, 64);
        let mut scratch = Vec::new();
        a.add_document(&[1, 2], &[Some(true), None], &mut scratch);
        b.add_document(&[1], &[Some(false), Some(true)], &mut scratch);
        a.merge(&b);
        assert_eq!(a.n_docs(), 2);
        assert_eq!(a.label_totals(), (&[1u64, 1][..], &[2u64, 1][..]));
    }
}

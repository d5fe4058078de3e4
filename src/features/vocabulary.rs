//! The fitted feature space (selected n-grams, their names and idf weights)
//! and the vectorizer that turns tokens into l2-normalised tf-idf rows.

use super::hash::HashMap64;
use super::ngrams::{FeatureKind, NgramConfig, NgramExtractor, Occurrence};
use super::sparse::SparseRow;
use crate::text::Tokens;
use serde::{Deserialize, Serialize};

/// The columns a model knows: one entry per selected feature.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeatureSpace {
    /// How features are extracted from tokens.
    pub ngrams: NgramConfig,
    /// Feature identities, one per column.
    pub hashes: Vec<u64>,
    /// Readable names, one per column (`kill`, `kill them`, `_kil`).
    pub names: Vec<String>,
    /// Feature kinds, one per column.
    pub kinds: Vec<FeatureKind>,
    /// Inverse document frequency per column, fitted on training data only.
    pub idf: Vec<f32>,
    /// idf given to n-grams outside the selection when they count in the
    /// norm (see [`NgramConfig::norm_unselected`]).
    pub unselected_idf: f32,
    #[serde(skip)]
    index: HashMap64<u32>,
}

impl PartialEq for FeatureSpace {
    fn eq(&self, other: &Self) -> bool {
        self.ngrams == other.ngrams
            && self.hashes == other.hashes
            && self.names == other.names
            && self.kinds == other.kinds
            && self.idf == other.idf
            && self.unselected_idf == other.unselected_idf
    }
}

impl FeatureSpace {
    /// Builds a feature space from its columns.
    pub fn new(
        ngrams: NgramConfig,
        hashes: Vec<u64>,
        names: Vec<String>,
        kinds: Vec<FeatureKind>,
        idf: Vec<f32>,
        unselected_idf: f32,
    ) -> Self {
        let mut space = Self {
            ngrams,
            hashes,
            names,
            kinds,
            idf,
            unselected_idf,
            index: HashMap64::default(),
        };
        space.rebuild_index();
        space
    }

    /// Rebuilds the hash -> column lookup (after deserialising).
    pub fn rebuild_index(&mut self) {
        self.index = self
            .hashes
            .iter()
            .enumerate()
            .map(|(i, &h)| (h, i as u32))
            .collect();
    }

    /// True when every per-column vector has the same length and hashes are unique.
    pub fn is_consistent(&self) -> bool {
        let n = self.hashes.len();
        self.names.len() == n
            && self.kinds.len() == n
            && self.idf.len() == n
            && self.index.len() == n
            && self.idf.iter().all(|v| v.is_finite() && *v > 0.0)
            && self.unselected_idf.is_finite()
            && self.unselected_idf >= 0.0
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// True when there are no columns.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Column of a feature hash.
    #[inline]
    pub fn column(&self, hash: u64) -> Option<u32> {
        self.index.get(&hash).copied()
    }
}

/// Where a column was found in a comment: token range `first..=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnHit {
    /// The column.
    pub column: u32,
    /// First token covered.
    pub first: u32,
    /// Last token covered.
    pub last: u32,
}

/// Turns token lists into tf-idf rows of a [`FeatureSpace`], reusing buffers.
#[derive(Debug, Clone)]
pub struct Vectorizer {
    extractor: NgramExtractor,
    columns: Vec<u32>,
    counted: Vec<(u32, u32)>,
}

impl Vectorizer {
    /// A vectorizer for `space`.
    pub fn new(space: &FeatureSpace) -> Self {
        Self {
            extractor: NgramExtractor::new(space.ngrams.clone()),
            columns: Vec::new(),
            counted: Vec::new(),
        }
    }

    /// Writes the sublinear tf-idf, l2-normalised row of `tokens` into `row`.
    pub fn vectorize(&mut self, space: &FeatureSpace, tokens: &Tokens, row: &mut SparseRow) {
        self.columns.clear();
        let columns = &mut self.columns;
        let mut unselected = [0u32; 2];
        self.extractor
            .extract(tokens, |occ: Occurrence| match space.column(occ.hash) {
                Some(c) => columns.push(c),
                None => unselected[block(occ.kind)] += 1,
            });
        count_and_weigh(space, &mut self.columns, &mut self.counted, unselected, row);
    }

    /// Like [`Vectorizer::vectorize`], also listing every column occurrence
    /// with its tokens (for explanations).
    pub fn vectorize_with_hits(
        &mut self,
        space: &FeatureSpace,
        tokens: &Tokens,
        row: &mut SparseRow,
        hits: &mut Vec<ColumnHit>,
    ) {
        self.columns.clear();
        hits.clear();
        let columns = &mut self.columns;
        let mut unselected = [0u32; 2];
        self.extractor
            .extract(tokens, |occ: Occurrence| match space.column(occ.hash) {
                Some(column) => {
                    columns.push(column);
                    hits.push(ColumnHit {
                        column,
                        first: occ.first,
                        last: occ.last,
                    });
                }
                None => unselected[block(occ.kind)] += 1,
            });
        count_and_weigh(space, &mut self.columns, &mut self.counted, unselected, row);
    }
}

/// The normalisation block of a feature kind: 0 = word n-grams, 1 = character n-grams.
#[inline]
fn block(kind: FeatureKind) -> usize {
    usize::from(kind == FeatureKind::CharGram)
}

/// Counts repeated columns, then weighs them with [`weigh_counts`].
fn count_and_weigh(
    space: &FeatureSpace,
    columns: &mut [u32],
    counted: &mut Vec<(u32, u32)>,
    unselected: [u32; 2],
    row: &mut SparseRow,
) {
    columns.sort_unstable();
    counted.clear();
    let mut i = 0;
    while i < columns.len() {
        let mut j = i + 1;
        while j < columns.len() && columns[j] == columns[i] {
            j += 1;
        }
        counted.push((columns[i], (j - i) as u32));
        i = j;
    }
    weigh_counts(space, counted, unselected, row);
}

/// Writes `(1 + ln tf) * idf` for each `(column, tf)` (sorted by column
/// here), l2-normalised: over the whole row, or per block (word n-grams,
/// character n-grams) when [`NgramConfig::norm_per_block`] is set, like
/// scikit-learn's `FeatureUnion` of two vectorizers. `unselected` n-gram
/// occurrences (per block) count in the norm, each as tf 1 with
/// [`FeatureSpace::unselected_idf`], when [`NgramConfig::norm_unselected`]
/// is set.
///
/// Training rows and scoring rows both go through this one function, so a
/// comment scored alone gets exactly its training row.
pub fn weigh_counts(
    space: &FeatureSpace,
    counted: &mut [(u32, u32)],
    unselected: [u32; 2],
    row: &mut SparseRow,
) {
    row.clear();
    counted.sort_unstable_by_key(|c| c.0);
    let mut norm2 = [0.0f32; 2];
    for &(c, tf) in counted.iter() {
        let v = (1.0 + (tf as f32).ln()) * space.idf[c as usize];
        norm2[block(space.kinds[c as usize])] += v * v;
        row.indices.push(c);
        row.values.push(v);
    }
    if space.ngrams.norm_unselected {
        let u2 = space.unselected_idf * space.unselected_idf;
        norm2[0] += unselected[0] as f32 * u2;
        norm2[1] += unselected[1] as f32 * u2;
    }
    if space.ngrams.norm_per_block {
        let norms = [norm2[0].sqrt(), norm2[1].sqrt()];
        for (v, &c) in row.values.iter_mut().zip(&row.indices) {
            let n = norms[block(space.kinds[c as usize])];
            if n > 0.0 {
                *v /= n;
            }
        }
    } else {
        let norm = (norm2[0] + norm2[1]).sqrt();
        if norm > 0.0 {
            for v in &mut row.values {
                *v /= norm;
            }
        }
    }
}

/// Smoothed idf as in scikit-learn: `ln((1 + n) / (1 + df)) + 1`.
pub fn smooth_idf(n_docs: u64, df: u64) -> f32 {
    (((1 + n_docs) as f64 / (1 + df) as f64).ln() + 1.0) as f32
}

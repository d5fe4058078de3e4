//! The fitted feature space (selected n-grams, their names and idf weights)
//! and the vectorizer that turns tokens into l2-normalised tf-idf rows.

use super::chunk_cache::{NONE, TokenFeatures};
use super::hash::{BuildStrHasher, HashMap64, combine, hash_str};
use super::ngrams::{FeatureKind, NgramConfig, NgramExtractor, Occurrence, cluster_hash};
use super::sparse::SparseRow;
use crate::text::{TokenKind, Tokens};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

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
    /// [`block`] of each column's kind (derived from `kinds`).
    #[serde(skip)]
    blocks: Vec<u8>,
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
            blocks: Vec::new(),
        };
        space.rebuild_index();
        space
    }

    /// Rebuilds the hash -> column lookup and the column blocks (after
    /// deserialising).
    pub fn rebuild_index(&mut self) {
        self.blocks = self.kinds.iter().map(|&k| block(k) as u8).collect();
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
            && self.blocks.len() == n
            && self.idf.iter().all(|v| v.is_finite() && *v > 0.0)
            && self.unselected_idf.is_finite()
            && self.unselected_idf >= 0.0
    }

    /// The same features with columns renumbered by how common they are
    /// (ascending idf, then by column), and `order`: `order[new] = old`.
    /// Scoring touches a few hundred columns per comment at random in the
    /// per-column arrays (counts, idf, blocks, weights); numbered this way,
    /// the common ones sit together in a few cache lines. Rows built in
    /// this space hold the same values in the same order under other
    /// column numbers, so dot products with weights permuted by `order`
    /// are equal to the bit.
    pub fn by_frequency(&self) -> (FeatureSpace, Vec<u32>) {
        let mut order: Vec<u32> = (0..self.len() as u32).collect();
        order.sort_by(|&a, &b| {
            self.idf[a as usize]
                .total_cmp(&self.idf[b as usize])
                .then(a.cmp(&b))
        });
        let pick = |i: &u32| *i as usize;
        let space = FeatureSpace::new(
            self.ngrams.clone(),
            order.iter().map(|i| self.hashes[pick(i)]).collect(),
            order.iter().map(|i| self.names[pick(i)].clone()).collect(),
            order.iter().map(|i| self.kinds[pick(i)]).collect(),
            order.iter().map(|i| self.idf[pick(i)]).collect(),
            self.unselected_idf,
        );
        (space, order)
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
///
/// Two things make it fast on a stream of comments:
/// - counts accumulate in a dense per-column array (touched columns are
///   listed, sorted and reset), so repeated features cost no sorting;
/// - a word's character n-grams, mapped to columns, are cached by the word's
///   surface form. Words repeat (Zipf), so most tokens cost one lookup
///   instead of a dozen n-gram hashes. The cache is bounded
///   ([`WORD_CACHE_ENTRIES`]) and emptied when full; it changes speed only,
///   never the row.
#[derive(Debug, Clone)]
pub struct Vectorizer {
    extractor: NgramExtractor,
    /// Occurrences per column of the row being built (all zero between rows).
    counts: Vec<u32>,
    /// Columns with a non-zero count, in first-seen order.
    touched: Vec<u32>,
    words: HashMap<Box<str>, CachedWord, BuildStrHasher>,
    /// Selected character n-gram and cluster columns of the cached words,
    /// back to back.
    word_columns: Vec<u32>,
    /// Lexicon ids of the last row's word tokens, in text order (for the
    /// semantic prior).
    lexicon_ids: Vec<u32>,
    /// Columns, tf-idf values and blocks of the row being scored
    /// ([`Vectorizer::dot_features_unordered`]).
    weighed: Vec<(u32, f32, u8)>,
    /// The token features and their columns of the row being built.
    features: Vec<TokenFeatures>,
    columns: Vec<u32>,
}

/// A cached word: its selected character n-gram and cluster columns
/// (`word_columns[start..start + len]`), its unselected n-gram counts per
/// block (character n-grams, clusters) and its lexicon id.
#[derive(Debug, Clone, Copy)]
struct CachedWord {
    start: u32,
    len: u32,
    unselected: [u32; 2],
    lexicon_id: u32,
}

/// Words kept in a [`Vectorizer`]'s cache before it is emptied (per thread;
/// about 3 MB at this size).
pub const WORD_CACHE_ENTRIES: usize = 1 << 15;

/// Column and unselected counts of one row being built.
struct Accumulator<'a> {
    counts: &'a mut [u32],
    touched: &'a mut Vec<u32>,
    unselected: [u32; BLOCKS],
}

impl Accumulator<'_> {
    #[inline]
    fn add(&mut self, column: u32) {
        let count = &mut self.counts[column as usize];
        if *count == 0 {
            self.touched.push(column);
        }
        *count += 1;
    }
}

impl Vectorizer {
    /// A vectorizer for `space`.
    pub fn new(space: &FeatureSpace) -> Self {
        Self {
            extractor: NgramExtractor::new(space.ngrams.clone()),
            counts: vec![0; space.len()],
            touched: Vec::new(),
            words: HashMap::default(),
            word_columns: Vec::new(),
            lexicon_ids: Vec::new(),
            weighed: Vec::new(),
            features: Vec::new(),
            columns: Vec::new(),
        }
    }

    /// Lexicon ids of the word tokens of the row built last (by
    /// [`Vectorizer::vectorize`] or [`Vectorizer::vectorize_unordered`]),
    /// in text order; empty without a lexicon.
    pub fn lexicon_ids(&self) -> &[u32] {
        &self.lexicon_ids
    }

    /// Writes the sublinear tf-idf, l2-normalised row of `tokens` into `row`.
    pub fn vectorize(&mut self, space: &FeatureSpace, tokens: &Tokens, row: &mut SparseRow) {
        let unselected = self.accumulate(space, tokens);
        self.finish(space, unselected, row, true);
    }

    /// Like [`Vectorizer::vectorize`], but the row's entries come in no
    /// particular order (not the ascending order [`SparseRow`] promises):
    /// for scoring, where the row only meets dot products and sorting it
    /// would cost about a tenth of the time. The entries and values are the
    /// same; a dot product may differ in the last bits from the sorted row's.
    pub fn vectorize_unordered(
        &mut self,
        space: &FeatureSpace,
        tokens: &Tokens,
        row: &mut SparseRow,
    ) {
        let unselected = self.accumulate(space, tokens);
        self.finish(space, unselected, row, false);
    }

    /// Counts the row's columns into `counts`/`touched` and records the
    /// row's lexicon ids; returns the unselected n-gram counts per block.
    fn accumulate(&mut self, space: &FeatureSpace, tokens: &Tokens) -> [u32; BLOCKS] {
        let mut features = std::mem::take(&mut self.features);
        let mut columns = std::mem::take(&mut self.columns);
        features.clear();
        columns.clear();
        self.token_features(space, tokens, &mut features, &mut columns);
        let unselected = self.accumulate_features(space, &features, &columns);
        self.features = features;
        self.columns = columns;
        unselected
    }

    /// Sizes the counts for `space` and empties the word cache when the
    /// vectorizer meets a space other than the one it last worked for.
    fn fit_to(&mut self, space: &FeatureSpace) {
        if self.counts.len() != space.len() {
            self.counts = vec![0; space.len()];
            self.words.clear();
            self.word_columns.clear();
        }
    }

    /// Appends what the row needs from each token of `tokens` to `features`,
    /// whose column ranges index `columns` (appended to as well). Word
    /// tokens' character n-gram and cluster columns come from the word
    /// cache.
    pub fn token_features(
        &mut self,
        space: &FeatureSpace,
        tokens: &Tokens,
        features: &mut Vec<TokenFeatures>,
        columns: &mut Vec<u32>,
    ) {
        self.fit_to(space);
        let per_word = space.ngrams.char_ngrams.is_some() || space.ngrams.lexicon.is_some();
        for (text, token) in tokens.iter() {
            let unigram = hash_str(FeatureKind::Unigram.tag(), text);
            let mut f = TokenFeatures {
                unigram,
                unigram_column: space.column(unigram).unwrap_or(NONE),
                columns: (columns.len() as u32, 0),
                unselected: [0; 2],
                lexicon_id: NONE,
            };
            if per_word && token.kind == TokenKind::Word {
                let word = self.word(space, tokens.surface(token));
                let start = word.start as usize;
                columns.extend_from_slice(&self.word_columns[start..start + word.len as usize]);
                f.columns.1 = word.len;
                f.unselected = word.unselected;
                f.lexicon_id = word.lexicon_id;
            }
            features.push(f);
        }
    }

    /// The cached character n-gram and cluster columns of one word's
    /// surface form, computed on first sight.
    fn word(&mut self, space: &FeatureSpace, surface: &str) -> CachedWord {
        if let Some(w) = self.words.get(surface) {
            return *w;
        }
        if self.words.len() >= WORD_CACHE_ENTRIES {
            self.words.clear();
            self.word_columns.clear();
        }
        let lexicon = space.ngrams.lexicon.as_deref();
        let clusters = space.ngrams.cluster_tokens();
        let start = self.word_columns.len();
        let mut unselected = [0u32; 2];
        let columns = &mut self.word_columns;
        self.extractor
            .extract_chargrams(surface, |hash| match space.column(hash) {
                Some(c) => columns.push(c),
                None => unselected[0] += 1,
            });
        let lexicon_id = lexicon.and_then(|l| l.id(surface));
        if let (true, Some(l), Some(id)) = (clusters, lexicon, lexicon_id) {
            for (level, &c) in l.clusters_of(id).iter().enumerate() {
                match space.column(cluster_hash(level, c)) {
                    Some(c) => columns.push(c),
                    None => unselected[1] += 1,
                }
            }
        }
        let w = CachedWord {
            start: start as u32,
            len: (self.word_columns.len() - start) as u32,
            unselected,
            lexicon_id: lexicon_id.unwrap_or(NONE),
        };
        self.words.insert(surface.into(), w);
        w
    }

    /// Counts the columns of a comment's token features (from
    /// [`Vectorizer::token_features`], or a chunk cache) into
    /// `counts`/`touched` in the order [`NgramExtractor::extract`] emits
    /// them (unigrams, bigrams, then each word's character n-grams and
    /// clusters), so the row comes out identical to the bit; records the
    /// lexicon ids; returns the unselected n-gram counts per block.
    fn accumulate_features(
        &mut self,
        space: &FeatureSpace,
        features: &[TokenFeatures],
        columns: &[u32],
    ) -> [u32; BLOCKS] {
        self.fit_to(space);
        let mut acc = Accumulator {
            counts: &mut self.counts,
            touched: &mut self.touched,
            unselected: [0; BLOCKS],
        };
        for f in features {
            match f.unigram_column {
                NONE => acc.unselected[0] += 1,
                c => acc.add(c),
            }
        }
        if space.ngrams.word_bigrams {
            for pair in features.windows(2) {
                let hash = combine(FeatureKind::Bigram.tag(), pair[0].unigram, pair[1].unigram);
                match space.column(hash) {
                    Some(c) => acc.add(c),
                    None => acc.unselected[0] += 1,
                }
            }
        }
        self.lexicon_ids.clear();
        for f in features {
            let start = f.columns.0 as usize;
            for &c in &columns[start..start + f.columns.1 as usize] {
                acc.add(c);
            }
            acc.unselected[1] += f.unselected[0];
            acc.unselected[2] += f.unselected[1];
            if f.lexicon_id != NONE {
                self.lexicon_ids.push(f.lexicon_id);
            }
        }
        acc.unselected
    }

    /// Like [`Vectorizer::vectorize`], also listing every column occurrence
    /// with its tokens (for explanations). Does not use the word cache.
    pub fn vectorize_with_hits(
        &mut self,
        space: &FeatureSpace,
        tokens: &Tokens,
        row: &mut SparseRow,
        hits: &mut Vec<ColumnHit>,
    ) {
        self.fit_to(space);
        hits.clear();
        let mut acc = Accumulator {
            counts: &mut self.counts,
            touched: &mut self.touched,
            unselected: [0; BLOCKS],
        };
        self.extractor
            .extract(tokens, |occ: Occurrence| match space.column(occ.hash) {
                Some(column) => {
                    acc.add(column);
                    hits.push(ColumnHit {
                        column,
                        first: occ.first,
                        last: occ.last,
                    });
                }
                None => acc.unselected[block(occ.kind)] += 1,
            });
        let unselected = acc.unselected;
        self.finish(space, unselected, row, true);
    }

    /// The dot products of the row of a comment's token features (from
    /// [`Vectorizer::token_features`] or a chunk cache; the row
    /// [`Vectorizer::vectorize_unordered`] writes for its tokens) with each
    /// of `weights` (`dots[l] = row · weights[l]`),
    /// without writing the row: for scoring. Each sum runs over the row's
    /// entries in the same order and with the same products as
    /// [`SparseRow::dot`] on that row, so it is equal to the bit.
    pub fn dot_features_unordered(
        &mut self,
        space: &FeatureSpace,
        features: &[TokenFeatures],
        columns: &[u32],
        weights: &[Vec<f32>],
        dots: &mut Vec<f32>,
    ) {
        let unselected = self.accumulate_features(space, features, columns);
        let counts = &mut self.counts;
        let counted = self
            .touched
            .iter()
            .map(|&c| (c, std::mem::take(&mut counts[c as usize])));
        let weighed = &mut self.weighed;
        weighed.clear();
        let norm2 = weigh(space, counted, |c, v, b| weighed.push((c, v, b)));
        self.touched.clear();
        let scales = block_scales(space, norm2, unselected);
        dots.clear();
        dots.extend(weights.iter().map(|w| {
            self.weighed
                .iter()
                .map(|&(c, v, b)| {
                    w.get(c as usize).copied().unwrap_or(0.0) * (v * scales[usize::from(b)])
                })
                .sum::<f32>()
        }));
    }

    /// Turns the accumulated counts into the row (by ascending column if
    /// `sorted`) and resets them.
    fn finish(
        &mut self,
        space: &FeatureSpace,
        unselected: [u32; BLOCKS],
        row: &mut SparseRow,
        sorted: bool,
    ) {
        if sorted {
            self.touched.sort_unstable();
        }
        let counts = &mut self.counts;
        let counted = self
            .touched
            .iter()
            .map(|&c| (c, std::mem::take(&mut counts[c as usize])));
        weigh_counts_in_order(space, counted, unselected, row);
        self.touched.clear();
    }
}

/// Normalisation blocks: word n-grams, character n-grams, cluster tokens.
pub const BLOCKS: usize = 3;

/// The normalisation block of a feature kind: 0 = word n-grams,
/// 1 = character n-grams, 2 = cluster tokens.
#[inline]
pub fn block(kind: FeatureKind) -> usize {
    match kind {
        FeatureKind::Unigram | FeatureKind::Bigram => 0,
        FeatureKind::CharGram => 1,
        FeatureKind::Cluster => 2,
    }
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
    unselected: [u32; BLOCKS],
    row: &mut SparseRow,
) {
    counted.sort_unstable_by_key(|c| c.0);
    weigh_counts_in_order(space, counted.iter().copied(), unselected, row);
}

/// Term frequencies whose `1 + ln tf` is looked up, not computed.
const TF_TABLE_LEN: usize = 32;

/// `1 + ln tf` for small term frequencies, computed once (the same f32
/// expression, so the values are identical).
fn sublinear_tf_table() -> &'static [f32; TF_TABLE_LEN] {
    static TABLE: std::sync::OnceLock<[f32; TF_TABLE_LEN]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0.0f32; TF_TABLE_LEN];
        for (i, v) in t.iter_mut().enumerate().skip(1) {
            *v = 1.0 + (i as f32).ln();
        }
        t
    })
}

/// `1 + ln tf`, from `table` when it holds `tf`.
#[inline]
fn sublinear_tf(table: &[f32; TF_TABLE_LEN], tf: u32) -> f32 {
    match table.get(tf as usize) {
        Some(&v) if tf > 0 => v,
        _ => 1.0 + (tf as f32).ln(),
    }
}

/// [`weigh_counts`] on `(column, tf)` pairs in the order given.
fn weigh_counts_in_order(
    space: &FeatureSpace,
    counted: impl IntoIterator<Item = (u32, u32)>,
    unselected: [u32; BLOCKS],
    row: &mut SparseRow,
) {
    row.clear();
    let norm2 = weigh(space, counted, |c, v, _| {
        row.indices.push(c);
        row.values.push(v);
    });
    let scales = block_scales(space, norm2, unselected);
    for (v, &c) in row.values.iter_mut().zip(&row.indices) {
        *v *= scales[usize::from(space.blocks[c as usize])];
    }
}

/// Passes `(column, (1 + ln tf) * idf, block)` of each `(column, tf)` to
/// `each`, in order, and returns the blocks' squared norms: the one
/// definition of a tf-idf value, for rows and for scores.
#[inline]
fn weigh(
    space: &FeatureSpace,
    counted: impl IntoIterator<Item = (u32, u32)>,
    mut each: impl FnMut(u32, f32, u8),
) -> [f32; BLOCKS] {
    let mut norm2 = [0.0f32; BLOCKS];
    let tf_table = sublinear_tf_table();
    for (c, tf) in counted {
        let v = sublinear_tf(tf_table, tf) * space.idf[c as usize];
        let b = space.blocks[c as usize];
        norm2[usize::from(b)] += v * v;
        each(c, v, b);
    }
    norm2
}

/// Each block's scale for a row whose blocks' squared norms (of the
/// selected columns) are `norm2`: 1 / its norm, or 1 / the row's norm; the
/// cluster block is weighed by `cluster_weight` on top. `unselected`
/// n-grams count in the norms when [`NgramConfig::norm_unselected`] is set.
fn block_scales(
    space: &FeatureSpace,
    mut norm2: [f32; BLOCKS],
    unselected: [u32; BLOCKS],
) -> [f32; BLOCKS] {
    if space.ngrams.norm_unselected {
        let u2 = space.unselected_idf * space.unselected_idf;
        for (n, &u) in norm2.iter_mut().zip(&unselected) {
            *n += u as f32 * u2;
        }
    }
    // Each block's scale: 1 / its norm, or 1 / the row's norm; the cluster
    // block is weighed by `cluster_weight` on top.
    let weights = [1.0, 1.0, space.ngrams.cluster_weight];
    if space.ngrams.norm_per_block {
        std::array::from_fn(|b| {
            if norm2[b] > 0.0 {
                weights[b] / norm2[b].sqrt()
            } else {
                0.0
            }
        })
    } else {
        let norm = norm2.iter().sum::<f32>().sqrt();
        let inv = if norm > 0.0 { 1.0 / norm } else { 1.0 };
        std::array::from_fn(|b| weights[b] * inv)
    }
}

/// Smoothed idf as in scikit-learn: `ln((1 + n) / (1 + df)) + 1`.
pub fn smooth_idf(n_docs: u64, df: u64) -> f32 {
    (((1 + n_docs) as f64 / (1 + df) as f64).ln() + 1.0) as f32
}

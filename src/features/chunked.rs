//! Scoring rows at one lookup per chunk: the analysis and per-token
//! features of every context-free chunk of a comment (see
//! [`crate::text::chunks`]) are cached by its raw bytes, so a word seen
//! before costs one hash lookup and a byte comparison instead of
//! normalisation, de-obfuscation, word resolution, tokenising, stemming and
//! a dozen n-gram hashes.
//!
//! The row is the one [`Analyzer::analyze`] and
//! [`Vectorizer::vectorize_unordered`] give for the whole comment, to the
//! bit: tokens come in text order, chunks that are not context-free are
//! read together with their neighbours up to the nearest context-free
//! chunks (such a group reads the same alone, so short groups are cached
//! too, by their bytes), and the vectorizer counts columns in the same
//! order either way. Comments the analyzer cannot read
//! chunk by chunk (longer than its byte limit, or with negation marking,
//! which spans chunks) are analysed whole.

use super::chunk_cache::{CacheStats, ChunkCache, Record, TokenFeatures};
use super::sparse::SparseRow;
use super::vocabulary::{FeatureSpace, Vectorizer};
use crate::text::chunks::{for_each_chunk, is_ascii_space, is_context_free};
use crate::text::{AnalysisInfo, Analyzer, Tokens};

/// A scoring thread's chunk cache and buffers.
#[derive(Debug, Clone, Default)]
pub struct ChunkedVectorizer {
    cache: ChunkCache,
    /// Tokens of the chunk or group being analysed.
    tokens: Tokens,
    /// The row of a comment analysed whole.
    row: SparseRow,
    /// The comment's token features and their columns.
    features: Vec<TokenFeatures>,
    columns: Vec<u32>,
    /// A missed chunk's token features and columns, before caching.
    fresh_features: Vec<TokenFeatures>,
    fresh_columns: Vec<u32>,
    /// The comment's chunks, as byte ranges, and whether each is
    /// context-free.
    spans: Vec<(usize, usize, bool)>,
}

impl ChunkedVectorizer {
    /// Buffers and an empty cache of `capacity` entries per generation.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            cache: ChunkCache::new(capacity),
            ..Self::default()
        }
    }

    /// What the cache was asked so far.
    pub fn stats(&self) -> CacheStats {
        self.cache.stats
    }

    /// The dot products of the row of `text` (as
    /// [`Vectorizer::vectorize_unordered`] writes it) with each of
    /// `weights`, into `dots`, equal to the bit to [`SparseRow::dot`] on
    /// that row; `vectorizer` keeps the row's lexicon ids for the semantic
    /// prior.
    pub fn dots(
        &mut self,
        space: &FeatureSpace,
        analyzer: &mut Analyzer,
        vectorizer: &mut Vectorizer,
        text: &str,
        weights: &[&[f32]],
        dots: &mut Vec<f32>,
    ) -> AnalysisInfo {
        let config = analyzer.config();
        if config.negation || text.len() > config.max_bytes {
            let info = analyzer.analyze(text, &mut self.tokens);
            let mut chunks = 0;
            for_each_chunk(text, |_, _| chunks += 1);
            self.cache.stats.uncached += chunks;
            vectorizer.vectorize_unordered(space, &self.tokens, &mut self.row);
            dots.clear();
            dots.extend(weights.iter().map(|w| self.row.dot(w)));
            return info;
        }
        self.cache.begin_comment();
        self.features.clear();
        self.columns.clear();
        // Start and end of the pending group of chunks that are not
        // context-free.
        let mut group: Option<(usize, usize)> = None;
        let bytes = text.as_bytes();
        let mut spans = std::mem::take(&mut self.spans);
        spans.clear();
        let mut touched = 0u32;
        for_each_chunk(text, |start, end| {
            let free = is_context_free(&bytes[start..end]);
            if free {
                touched ^= self.cache.prefetch(ChunkCache::hash(&bytes[start..end]));
            }
            spans.push((start, end, free));
        });
        std::hint::black_box(touched);
        for &(start, end, free) in &spans {
            if !free {
                group = Some((group.map_or(start, |g| g.0), end));
                continue;
            }
            if let Some((from, to)) = group.take() {
                self.add_group(space, analyzer, vectorizer, text, from, to);
            }
            self.add_piece(space, analyzer, vectorizer, &text[start..end], true);
        }
        if let Some((from, to)) = group {
            self.add_group(space, analyzer, vectorizer, text, from, to);
        }
        self.spans = spans;
        vectorizer.dot_features_unordered(space, &self.features, &self.columns, weights, dots);
        AnalysisInfo { truncated: false }
    }

    /// Appends the features of `piece` (a context-free chunk, or a group
    /// that is read alone exactly as in its comment), from the cache or
    /// analysed alone (and cached when not longer than
    /// [`MAX_CACHED_GROUP`] or a single chunk).
    fn add_piece(
        &mut self,
        space: &FeatureSpace,
        analyzer: &mut Analyzer,
        vectorizer: &mut Vectorizer,
        piece: &str,
        cacheable: bool,
    ) {
        let key = piece.as_bytes();
        if !cacheable {
            self.cache.stats.uncached += 1;
            analyzer.analyze(piece, &mut self.tokens);
            vectorizer.token_features(space, &self.tokens, &mut self.features, &mut self.columns);
            return;
        }
        if let Some(cached) = self.cache.get(key) {
            append(&mut self.features, &mut self.columns, cached);
            return;
        }
        analyzer.analyze(piece, &mut self.tokens);
        self.fresh_features.clear();
        self.fresh_columns.clear();
        vectorizer.token_features(
            space,
            &self.tokens,
            &mut self.fresh_features,
            &mut self.fresh_columns,
        );
        let shift = self.columns.len() as u32;
        self.columns.extend_from_slice(&self.fresh_columns);
        self.features
            .extend(self.fresh_features.iter().map(|t| TokenFeatures {
                columns: (t.columns.0 + shift, t.columns.1),
                ..*t
            }));
        self.cache
            .insert(key, &self.fresh_features, &self.fresh_columns);
    }

    /// Appends the features of the chunks `text[from..to]` that are not
    /// context-free, read together with the whitespace character after
    /// them (if any): a URL prefix at their end reads as a URL only when
    /// something follows.
    fn add_group(
        &mut self,
        space: &FeatureSpace,
        analyzer: &mut Analyzer,
        vectorizer: &mut Vectorizer,
        text: &str,
        from: usize,
        to: usize,
    ) {
        let to = match text.as_bytes().get(to) {
            Some(&b) if is_ascii_space(b) => to + 1,
            _ => to,
        };
        let cacheable = to - from <= MAX_CACHED_GROUP;
        self.add_piece(space, analyzer, vectorizer, &text[from..to], cacheable);
    }
}

/// Longest group of chunks that are not context-free kept in the cache, in
/// bytes: short groups (`I `, `a `, `I'm `) recur as often as words; long
/// ones (a letter-spaced sentence, a URL) are mostly seen once.
pub const MAX_CACHED_GROUP: usize = 32;

/// Appends a cached chunk's token features to a comment's, moving their
/// column ranges to the comment's column buffer.
#[inline]
fn append(features: &mut Vec<TokenFeatures>, columns: &mut Vec<u32>, chunk: Record<'_>) {
    let shift = columns.len() as u32;
    columns.extend_from_slice(chunk.columns());
    features.extend(chunk.tokens().map(|t| TokenFeatures {
        columns: (t.columns.0 + shift, t.columns.1),
        ..t
    }));
}

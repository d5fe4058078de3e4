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

/// A scoring thread's chunk cache and buffers, with its own copy of the
/// feature space and label weights, columns numbered by frequency
/// ([`FeatureSpace::by_frequency`]).
#[derive(Debug, Clone)]
pub struct ChunkedVectorizer {
    space: FeatureSpace,
    /// Per label, the weights in `space`'s column order.
    weights: Vec<Vec<f32>>,
    vectorizer: Vectorizer,
    pieces: Pieces,
}

/// The chunk cache and the buffers of the comment being scored.
#[derive(Debug, Clone)]
struct Pieces {
    cache: ChunkCache,
    /// Tokens of the chunk or group being analysed.
    tokens: Tokens,
    /// The row of a comment analysed whole.
    row: SparseRow,
    /// The comment's token features and their columns.
    features: Vec<TokenFeatures>,
    columns: Vec<u32>,
    /// The comment's chunks, as byte ranges, and whether each is
    /// context-free.
    spans: Vec<(usize, usize, bool)>,
}

impl ChunkedVectorizer {
    /// Scoring of `space`'s rows against `weights` (one slice per label,
    /// in `space`'s column order), with an empty cache of `capacity`
    /// entries per generation.
    pub fn new(space: &FeatureSpace, weights: &[&[f32]], capacity: usize) -> Self {
        let (space, order) = space.by_frequency();
        let weights = weights
            .iter()
            .map(|w| {
                order
                    .iter()
                    .map(|&i| w.get(i as usize).copied().unwrap_or(0.0))
                    .collect()
            })
            .collect();
        Self {
            vectorizer: Vectorizer::new(&space),
            space,
            weights,
            pieces: Pieces {
                cache: ChunkCache::new(capacity),
                tokens: Tokens::default(),
                row: SparseRow::default(),
                features: Vec::new(),
                columns: Vec::new(),
                spans: Vec::new(),
            },
        }
    }

    /// Lexicon ids of the word tokens of the comment scored last, in text
    /// order (for the semantic prior).
    pub fn lexicon_ids(&self) -> &[u32] {
        self.vectorizer.lexicon_ids()
    }

    /// What the cache was asked so far.
    pub fn stats(&self) -> CacheStats {
        self.pieces.cache.stats
    }

    /// The dot products of the row of `text` (as
    /// [`Vectorizer::vectorize_unordered`] writes it) with each label's
    /// weights, into `dots`, equal to the bit to [`SparseRow::dot`] on
    /// that row.
    pub fn dots(
        &mut self,
        analyzer: &mut Analyzer,
        text: &str,
        dots: &mut Vec<f32>,
    ) -> AnalysisInfo {
        let (space, weights) = (&self.space, &self.weights);
        let (vectorizer, p) = (&mut self.vectorizer, &mut self.pieces);
        let config = analyzer.config();
        if config.negation || text.len() > config.max_bytes {
            let info = analyzer.analyze(text, &mut p.tokens);
            let mut chunks = 0;
            for_each_chunk(text, |_, _| chunks += 1);
            p.cache.stats.uncached += chunks;
            vectorizer.vectorize_unordered(space, &p.tokens, &mut p.row);
            dots.clear();
            dots.extend(weights.iter().map(|w| p.row.dot(w)));
            return info;
        }
        p.cache.begin_comment();
        p.features.clear();
        p.columns.clear();
        // Start and end of the pending group of chunks that are not
        // context-free.
        let mut group: Option<(usize, usize)> = None;
        let bytes = text.as_bytes();
        let mut spans = std::mem::take(&mut p.spans);
        spans.clear();
        let mut touched = 0u32;
        for_each_chunk(text, |start, end| {
            let free = is_context_free(&bytes[start..end]);
            if free {
                touched ^= p.cache.prefetch(ChunkCache::hash(&bytes[start..end]));
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
                p.add_group(space, analyzer, vectorizer, text, from, to);
            }
            p.add_piece(space, analyzer, vectorizer, &text[start..end], true);
        }
        if let Some((from, to)) = group {
            p.add_group(space, analyzer, vectorizer, text, from, to);
        }
        p.spans = spans;
        vectorizer.dot_features_unordered(space, &p.features, &p.columns, weights, dots);
        AnalysisInfo { truncated: false }
    }
}

impl Pieces {
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
        let (first_token, first_column) = (self.features.len(), self.columns.len());
        vectorizer.token_features(space, &self.tokens, &mut self.features, &mut self.columns);
        self.cache.insert(
            key,
            &self.features[first_token..],
            &self.columns[first_column..],
        );
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

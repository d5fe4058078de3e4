//! Turns training comments into sparse tf-idf matrices.
//!
//! Every comment is analysed once ([`Analyzed`]: its distinct n-grams with
//! counts). Each training split (the cross-validation folds and the full set)
//! then fits its own feature selection and idf from that cache and builds
//! its rows, without re-analysing text. Rows are weighed by the same code as
//! [`Vectorizer`], so a comment scored alone gets exactly its training row.

use crate::features::hash::HashMap64;
use crate::features::ngrams::{chargram_name, cluster_hash, name_chargrams};
use crate::features::semantic::{WordVectors, word_ids};
use crate::features::vocabulary::{BLOCKS, block, weigh_counts};
use crate::features::{
    FeatureKind, FeatureSpace, FeatureStats, NgramConfig, NgramExtractor, SparseMatrix, SparseRow,
    Vectorizer, smooth_idf,
};
use crate::text::known_words::{KnownWords, KnownWordsBuilder};
use crate::text::{Analyzer, AnalyzerConfig, TokenKind, Tokens};

/// A fitted feature space with the rows of the comments it was fitted on.
#[derive(Debug)]
pub struct Corpus {
    /// The fitted feature space.
    pub space: FeatureSpace,
    /// One tf-idf row per training comment, in the order given.
    pub matrix: SparseMatrix,
    /// Distinct n-grams seen before selection.
    pub candidate_features: u64,
}

/// Runs `work` over contiguous chunks of `items` on up to `threads` threads,
/// returning the per-chunk results in order.
pub fn parallel_chunks<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    let threads = threads.max(1).min(items.len().max(1));
    let chunk = items.len().div_ceil(threads).max(1);
    if threads == 1 {
        return vec![work(items)];
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = items.chunks(chunk).map(|c| s.spawn(|| work(c))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Every comment's distinct n-grams, with occurrence counts and kinds, and
/// (with word vectors) the vector ids of its words.
#[derive(Debug, Default)]
pub struct Analyzed {
    offsets: Vec<usize>,
    hashes: Vec<u64>,
    counts: Vec<u32>,
    kinds: Vec<FeatureKind>,
    word_offsets: Vec<usize>,
    word_ids: Vec<u32>,
}

impl Analyzed {
    /// Analyses `texts` on `threads` threads.
    pub fn new(
        texts: &[&str],
        analyzer: &AnalyzerConfig,
        ngrams: &NgramConfig,
        threads: usize,
    ) -> Analyzed {
        Self::with_vectors(texts, analyzer, ngrams, None, threads)
    }

    /// Like [`Analyzed::new`], also recording each comment's word ids in
    /// `vectors` (for the semantic block, [`Analyzed::with_semantic_block`]).
    pub fn with_vectors(
        texts: &[&str],
        analyzer: &AnalyzerConfig,
        ngrams: &NgramConfig,
        vectors: Option<&WordVectors>,
        threads: usize,
    ) -> Analyzed {
        let parts = parallel_chunks(texts, threads, |chunk| {
            let mut analyzer = Analyzer::new(analyzer.clone());
            let mut extractor = NgramExtractor::new(ngrams.clone());
            let mut tokens = Tokens::new();
            let mut occ: Vec<(u64, FeatureKind)> = Vec::new();
            let mut part = Analyzed {
                offsets: vec![0],
                word_offsets: vec![0],
                ..Analyzed::default()
            };
            for text in chunk {
                analyzer.analyze(text, &mut tokens);
                if let Some(v) = vectors {
                    word_ids(&tokens, |w| v.id(w), &mut part.word_ids);
                    part.word_offsets.push(part.word_ids.len());
                }
                occ.clear();
                extractor.extract(&tokens, |o| occ.push((o.hash, o.kind)));
                occ.sort_unstable_by_key(|o| o.0);
                let mut i = 0;
                while i < occ.len() {
                    let mut j = i + 1;
                    while j < occ.len() && occ[j].0 == occ[i].0 {
                        j += 1;
                    }
                    part.hashes.push(occ[i].0);
                    part.kinds.push(occ[i].1);
                    part.counts.push((j - i) as u32);
                    i = j;
                }
                part.offsets.push(part.hashes.len());
            }
            part
        });
        let mut all = Analyzed {
            offsets: vec![0],
            word_offsets: vec![0],
            ..Analyzed::default()
        };
        for p in parts {
            let base = all.hashes.len();
            all.hashes.extend_from_slice(&p.hashes);
            all.counts.extend_from_slice(&p.counts);
            all.kinds.extend_from_slice(&p.kinds);
            all.offsets.extend(p.offsets[1..].iter().map(|o| o + base));
            let base = all.word_ids.len();
            all.word_ids.extend_from_slice(&p.word_ids);
            all.word_offsets
                .extend(p.word_offsets[1..].iter().map(|o| o + base));
        }
        all
    }

    /// `matrix` (the rows of comments `docs`) with the semantic block
    /// appended: `vectors.dims()` more columns holding `weight` times the
    /// mean unit vector of each comment's words ([`WordVectors::pool`]).
    /// Needs [`Analyzed::with_vectors`] with the same vectors.
    pub fn with_semantic_block(
        &self,
        matrix: &SparseMatrix,
        docs: &[u32],
        vectors: &WordVectors,
        weight: f32,
    ) -> SparseMatrix {
        let base = matrix.ncols();
        let dims = vectors.dims();
        let mut out = SparseMatrix::new(base + dims);
        let mut row = SparseRow::default();
        let mut pooled = vec![0.0f32; dims];
        for (r, &d) in docs.iter().enumerate() {
            let (idx, val) = matrix.row(r);
            row.clear();
            row.indices.extend_from_slice(idx);
            row.values.extend_from_slice(val);
            let d = d as usize;
            let ids = self
                .word_offsets
                .get(d + 1)
                .map_or(&[][..], |&end| &self.word_ids[self.word_offsets[d]..end]);
            if !ids.is_empty() {
                vectors.pool(ids, weight, &mut pooled);
                for (k, &v) in pooled.iter().enumerate() {
                    row.indices.push((base + k) as u32);
                    row.values.push(v);
                }
            }
            out.push_row(&row);
        }
        out
    }

    /// Number of comments.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// True when there are no comments.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn doc(&self, i: usize) -> (&[u64], &[u32], &[FeatureKind]) {
        let (a, b) = (self.offsets[i], self.offsets[i + 1]);
        (&self.hashes[a..b], &self.counts[a..b], &self.kinds[a..b])
    }

    /// Fits selection and idf on comments `docs` (with `labels[k]` for
    /// `docs[k]`) and builds their rows.
    pub fn fit(
        &self,
        docs: &[u32],
        labels: &[Vec<Option<bool>>],
        ngrams: &NgramConfig,
        min_df: u32,
        max_features: usize,
        threads: usize,
    ) -> Corpus {
        let n_labels = labels.first().map_or(0, Vec::len);
        let indexed: Vec<(u32, &Vec<Option<bool>>)> =
            docs.iter().copied().zip(labels.iter()).collect();
        let partials = parallel_chunks(&indexed, threads, |chunk| {
            let mut stats = FeatureStats::new(n_labels);
            let mut features: Vec<(u64, FeatureKind)> = Vec::new();
            for &(d, l) in chunk {
                let (h, _, k) = self.doc(d as usize);
                features.clear();
                features.extend(h.iter().copied().zip(k.iter().copied()));
                stats.add_document(&features, l);
            }
            stats
        });
        let mut stats = FeatureStats::new(n_labels);
        for p in partials {
            stats.merge(p);
        }
        let selected = stats.select(min_df, max_features);
        let n_docs = stats.n_docs();
        let space = FeatureSpace::new(
            ngrams.clone(),
            selected.iter().map(|s| s.hash).collect(),
            vec![String::new(); selected.len()],
            selected.iter().map(|s| s.kind).collect(),
            selected
                .iter()
                .map(|s| smooth_idf(n_docs, u64::from(s.df)))
                .collect(),
            smooth_idf(n_docs, 1),
        );
        let matrix = self.rows(&space, docs, threads);
        Corpus {
            space,
            matrix,
            candidate_features: stats.n_features() as u64,
        }
    }

    /// The tf-idf rows of comments `docs` in `space`.
    pub fn rows(&self, space: &FeatureSpace, docs: &[u32], threads: usize) -> SparseMatrix {
        let parts = parallel_chunks(docs, threads, |chunk| {
            let mut matrix = SparseMatrix::new(space.len());
            let mut row = SparseRow::default();
            let mut columns: Vec<(u32, u32)> = Vec::new();
            for &d in chunk {
                let (h, c, k) = self.doc(d as usize);
                columns.clear();
                let mut unselected = [0u32; BLOCKS];
                for ((&hash, &count), &kind) in h.iter().zip(c).zip(k) {
                    match space.column(hash) {
                        Some(col) => columns.push((col, count)),
                        None => unselected[block(kind)] += count,
                    }
                }
                weigh_counts(space, &mut columns, unselected, &mut row);
                matrix.push_row(&row);
            }
            matrix
        });
        let mut matrix = SparseMatrix::new(space.len());
        for m in parts {
            matrix.append(&m);
        }
        matrix
    }
}

/// Fewest training comments a word must occur in to enter the word list.
pub const KNOWN_WORDS_MIN_COMMENTS: u32 = 2;

/// The word list of `texts`: the surface words `analyzer` reads from them
/// (without a word list of its own), in at least [`KNOWN_WORDS_MIN_COMMENTS`]
/// comments, the `max_words` most frequent.
pub fn build_known_words(
    texts: &[&str],
    analyzer: &AnalyzerConfig,
    threads: usize,
    max_words: usize,
) -> KnownWords {
    let config = AnalyzerConfig {
        known_words: None,
        stem: false,
        negation: false,
        ..analyzer.clone()
    };
    let parts = parallel_chunks(texts, threads, |chunk| {
        let mut analyzer = Analyzer::new(config.clone());
        let mut tokens = Tokens::new();
        let mut builder = KnownWordsBuilder::new();
        for text in chunk {
            analyzer.analyze(text, &mut tokens);
            builder.add_comment(
                tokens
                    .tokens()
                    .iter()
                    .filter(|t| t.kind == TokenKind::Word)
                    .map(|t| tokens.surface(t)),
            );
        }
        builder
    });
    let mut all = KnownWordsBuilder::new();
    for part in parts {
        all.merge(part);
    }
    all.finish(KNOWN_WORDS_MIN_COMMENTS, max_words)
}

/// Gives every selected feature of `space` a readable name, reading `texts`
/// until all are named.
pub fn name_features(
    space: &mut FeatureSpace,
    texts: &[&str],
    analyzer: &AnalyzerConfig,
    threads: usize,
) {
    // Cluster tokens are named below, not from the texts.
    let from_text = space
        .kinds
        .iter()
        .filter(|&&k| k != FeatureKind::Cluster)
        .count();
    let parts = parallel_chunks(texts, threads, |chunk| {
        let mut analyzer = Analyzer::new(analyzer.clone());
        let mut extractor = NgramExtractor::new(space.ngrams.clone());
        let mut tokens = Tokens::new();
        let mut names: HashMap64<String> = HashMap64::default();
        for text in chunk {
            if names.len() >= from_text {
                break;
            }
            analyzer.analyze(text, &mut tokens);
            name_in(space, &mut extractor, &tokens, &mut names);
        }
        names
    });
    let mut names: HashMap64<String> = HashMap64::default();
    for n in parts {
        for (k, v) in n {
            names.entry(k).or_insert(v);
        }
    }
    // Cluster tokens are named by their granularity and example words.
    if let Some(lexicon) = space.ngrams.lexicon.as_deref() {
        for (level, &k) in lexicon.levels.iter().enumerate() {
            for c in 0..k as u16 {
                let hash = cluster_hash(level, c);
                if space.column(hash).is_some() {
                    names.insert(hash, lexicon.cluster_name(level, c));
                }
            }
        }
    }
    space.names = space
        .hashes
        .iter()
        .map(|h| names.remove(h).unwrap_or_default())
        .collect();
}

pub(crate) fn name_in(
    space: &FeatureSpace,
    extractor: &mut NgramExtractor,
    tokens: &Tokens,
    names: &mut HashMap64<String>,
) {
    extractor.extract(tokens, |occ| {
        if occ.kind != FeatureKind::CharGram
            && space.column(occ.hash).is_some()
            && !names.contains_key(&occ.hash)
            && let Some(name) = NgramExtractor::describe(tokens, &occ)
        {
            names.insert(occ.hash, name);
        }
    });
    if let Some(range) = space.ngrams.char_ngrams {
        for token in tokens.tokens() {
            if token.kind == TokenKind::Word {
                name_chargrams(tokens.surface(token), range, |hash, gram| {
                    if space.column(hash).is_some() && !names.contains_key(&hash) {
                        names.insert(hash, chargram_name(gram));
                    }
                });
            }
        }
    }
}

/// Vectorises `texts` with an already fitted `space` (rows in input order),
/// exactly as scoring does.
pub fn transform(
    space: &FeatureSpace,
    texts: &[&str],
    analyzer: &AnalyzerConfig,
    threads: usize,
) -> SparseMatrix {
    let parts = parallel_chunks(texts, threads, |chunk| {
        let mut analyzer = Analyzer::new(analyzer.clone());
        let mut vectorizer = Vectorizer::new(space);
        let mut tokens = Tokens::new();
        let mut row = SparseRow::default();
        let mut matrix = SparseMatrix::new(space.len());
        for text in chunk {
            analyzer.analyze(text, &mut tokens);
            vectorizer.vectorize(space, &tokens, &mut row);
            matrix.push_row(&row);
        }
        matrix
    });
    let mut matrix = SparseMatrix::new(space.len());
    for m in parts {
        matrix.append(&m);
    }
    matrix
}

//! Turns training comments into sparse tf-idf matrices.
//!
//! Every comment is analysed once ([`Analyzed`]: its distinct n-grams with
//! counts). Each training split (the cross-validation folds and the full set)
//! then fits its own feature selection and idf from that cache and builds
//! its rows, without re-analysing text. Rows are weighed by the same code as
//! [`Vectorizer`], so a comment scored alone gets exactly its training row.

use crate::features::hash::HashMap64;
use crate::features::ngrams::{chargram_name, name_chargrams};
use crate::features::vocabulary::weigh_counts;
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

/// Every comment's distinct n-grams, with occurrence counts and kinds.
#[derive(Debug, Default)]
pub struct Analyzed {
    offsets: Vec<usize>,
    hashes: Vec<u64>,
    counts: Vec<u32>,
    kinds: Vec<FeatureKind>,
}

impl Analyzed {
    /// Analyses `texts` on `threads` threads.
    pub fn new(
        texts: &[&str],
        analyzer: &AnalyzerConfig,
        ngrams: &NgramConfig,
        threads: usize,
    ) -> Analyzed {
        let parts = parallel_chunks(texts, threads, |chunk| {
            let mut analyzer = Analyzer::new(analyzer.clone());
            let mut extractor = NgramExtractor::new(ngrams.clone());
            let mut tokens = Tokens::new();
            let mut occ: Vec<(u64, FeatureKind)> = Vec::new();
            let mut part = Analyzed {
                offsets: vec![0],
                ..Analyzed::default()
            };
            for text in chunk {
                analyzer.analyze(text, &mut tokens);
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
            ..Analyzed::default()
        };
        for p in parts {
            let base = all.hashes.len();
            all.hashes.extend_from_slice(&p.hashes);
            all.counts.extend_from_slice(&p.counts);
            all.kinds.extend_from_slice(&p.kinds);
            all.offsets.extend(p.offsets[1..].iter().map(|o| o + base));
        }
        all
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
                let mut unselected = [0u32; 2];
                for ((&hash, &count), &kind) in h.iter().zip(c).zip(k) {
                    match space.column(hash) {
                        Some(col) => columns.push((col, count)),
                        None => unselected[usize::from(kind == FeatureKind::CharGram)] += count,
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
    let parts = parallel_chunks(texts, threads, |chunk| {
        let mut analyzer = Analyzer::new(analyzer.clone());
        let mut extractor = NgramExtractor::new(space.ngrams.clone());
        let mut tokens = Tokens::new();
        let mut names: HashMap64<String> = HashMap64::default();
        for text in chunk {
            if names.len() >= space.len() {
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
        {
            if let Some(name) = NgramExtractor::describe(tokens, &occ) {
                names.insert(occ.hash, name);
            }
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

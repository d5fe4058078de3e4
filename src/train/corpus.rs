//! Turns training comments into a sparse tf-idf matrix over selected
//! features, in two parallel passes: statistics, then rows.

use crate::features::hash::HashMap64;
use crate::features::ngrams::{chargram_name, name_chargrams};
use crate::features::{
    FeatureKind, FeatureSpace, FeatureStats, NgramConfig, NgramExtractor, SparseMatrix, SparseRow,
    Vectorizer, smooth_idf,
};
use crate::text::{Analyzer, AnalyzerConfig, TokenKind, Tokens};

/// The vectorised training set.
#[derive(Debug)]
pub struct Corpus {
    /// The fitted feature space.
    pub space: FeatureSpace,
    /// One tf-idf row per comment, in input order.
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

/// Fits the feature space on `texts` (with `labels[i]` per text, one entry
/// per label) and vectorises them.
pub fn build(
    texts: &[&str],
    labels: &[Vec<Option<bool>>],
    analyzer: &AnalyzerConfig,
    ngrams: &NgramConfig,
    min_df: u32,
    max_features: usize,
    threads: usize,
) -> Corpus {
    let n_labels = labels.first().map_or(0, Vec::len);
    let indexed: Vec<(usize, &str)> = texts.iter().copied().enumerate().collect();

    // Pass 1: document frequencies per label.
    let partials = parallel_chunks(&indexed, threads, |chunk| {
        let mut analyzer = Analyzer::new(analyzer.clone());
        let mut extractor = NgramExtractor::new(ngrams.clone());
        let mut tokens = Tokens::new();
        let mut seen: Vec<(u64, FeatureKind)> = Vec::new();
        let mut stats = FeatureStats::new(n_labels);
        for &(i, text) in chunk {
            analyzer.analyze(text, &mut tokens);
            seen.clear();
            extractor.extract(&tokens, |occ| seen.push((occ.hash, occ.kind)));
            seen.sort_unstable_by_key(|f| f.0);
            seen.dedup_by_key(|f| f.0);
            stats.add_document(&seen, &labels[i]);
        }
        stats
    });
    let mut stats = FeatureStats::new(n_labels);
    for p in partials {
        stats.merge(p);
    }
    let selected = stats.select(min_df, max_features);
    let n_docs = stats.n_docs();
    let hashes: Vec<u64> = selected.iter().map(|s| s.hash).collect();
    let kinds: Vec<FeatureKind> = selected.iter().map(|s| s.kind).collect();
    let idf: Vec<f32> = selected
        .iter()
        .map(|s| smooth_idf(n_docs, u64::from(s.df)))
        .collect();
    let mut space = FeatureSpace::new(
        ngrams.clone(),
        hashes,
        vec![String::new(); selected.len()],
        kinds,
        idf,
        smooth_idf(n_docs, 1),
    );

    // Pass 2: rows, and a name for every selected feature.
    let parts = parallel_chunks(&indexed, threads, |chunk| {
        let mut analyzer = Analyzer::new(analyzer.clone());
        let mut extractor = NgramExtractor::new(ngrams.clone());
        let mut vectorizer = Vectorizer::new(&space);
        let mut tokens = Tokens::new();
        let mut row = SparseRow::default();
        let mut matrix = SparseMatrix::new(space.len());
        let mut names: HashMap64<String> = HashMap64::default();
        for &(_, text) in chunk {
            analyzer.analyze(text, &mut tokens);
            vectorizer.vectorize(&space, &tokens, &mut row);
            matrix.push_row(&row);
            if names.len() < space.len() {
                name_features(&space, &mut extractor, &tokens, &mut names);
            }
        }
        (matrix, names)
    });
    let mut matrix = SparseMatrix::new(space.len());
    let mut names: HashMap64<String> = HashMap64::default();
    for (m, n) in parts {
        matrix.append(&m);
        for (k, v) in n {
            names.entry(k).or_insert(v);
        }
    }
    space.names = space
        .hashes
        .iter()
        .map(|h| names.remove(h).unwrap_or_default())
        .collect();
    Corpus {
        space,
        matrix,
        candidate_features: stats.n_features() as u64,
    }
}

fn name_features(
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

/// Vectorises `texts` with an already fitted `space` (rows in input order).
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

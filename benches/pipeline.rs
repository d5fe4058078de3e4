//! Criterion benchmarks of the scoring path, stage by stage, on a fixed corpus.
//!
//! Run with `cargo bench` (all) or `cargo bench -- analyzer` (one group).
//! The corpus is generated deterministically from `data/examples.csv`
//! (see [`corpus`]), so figures are comparable between commits on one
//! machine. Every bench checks a count computed once at set-up (tokens,
//! non-zeros, flags, columns) so that it cannot silently measure nothing.
//!
//! Groups:
//! - `analyzer`: [`Analyzer::analyze`] (normalise, tokenise, stem);
//! - `vectorizer`: [`Vectorizer::vectorize`] in the default model's feature
//!   space, on pre-analysed tokens;
//! - `score`: [`moderate::model::Scorer::score_into`], text to probabilities;
//! - `load`: [`moderate::default_model`], decoding and checking the
//!   embedded model;
//! - `languages`: the word model's scoring of the (English) corpus by the
//!   shipped model with its five languages (each comment's language
//!   detected, then routed) against the same model with its other
//!   languages removed (English only: no detection), to bound what
//!   languages cost an English stream.

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use moderate::features::{SparseRow, Vectorizer};
use moderate::io::{ReadOptions, read_all};
use moderate::model::{Model, Scorer, Scores};
use moderate::text::{Analyzer, Tokens};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

/// Comments in the benchmark corpus.
const CORPUS_SIZE: usize = 10_000;

/// The fixed benchmark corpus: the texts of `data/examples.csv` cycled to
/// [`CORPUS_SIZE`] comments. To vary length and normalisation paths, every
/// second pass over the examples appends another example, every third pass
/// is upper-cased, and every fifth pass gets an `@mention` and a URL.
fn corpus() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/examples.csv");
    let examples: Vec<String> = read_all(&path, &ReadOptions::default())
        .expect("data/examples.csv reads")
        .into_iter()
        .map(|c| c.text)
        .collect();
    assert!(!examples.is_empty(), "data/examples.csv has no comments");
    let n = examples.len();
    (0..CORPUS_SIZE)
        .map(|i| {
            let pass = i / n;
            let mut text = examples[i % n].clone();
            if pass % 2 == 1 {
                text.push(' ');
                text.push_str(&examples[(i * 31 + 7) % n]);
            }
            if pass % 3 == 2 {
                text = text.to_uppercase();
            }
            if pass % 5 == 4 {
                text = format!("@reader_{i} {text} https://example.org/c/{i}");
            }
            text
        })
        .collect()
}

/// Total tokens of `corpus` as analysed by `analyzer`.
fn count_tokens(analyzer: &mut Analyzer, corpus: &[String], tokens: &mut Tokens) -> usize {
    corpus
        .iter()
        .map(|text| {
            analyzer.analyze(text, tokens);
            tokens.len()
        })
        .sum()
}

/// Shortens criterion's defaults: each iteration already covers the whole
/// corpus, so 20 samples (flat sampling for the corpus benches) give stable
/// medians in a few seconds per bench.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6))
}

fn benches(c: &mut Criterion) {
    let model: Model = moderate::default_model().expect("the default model loads");
    let corpus = corpus();
    let comments = Throughput::Elements(corpus.len() as u64);

    // Reference counts, computed once.
    let mut analyzer = Analyzer::new(model.analyzer.clone());
    let mut tokens = Tokens::new();
    let expected_tokens = count_tokens(&mut analyzer, &corpus, &mut tokens);
    assert!(expected_tokens > 0, "the corpus produced no tokens");

    let analysed: Vec<Tokens> = corpus
        .iter()
        .map(|text| {
            let mut t = Tokens::new();
            analyzer.analyze(text, &mut t);
            t
        })
        .collect();
    let mut vectorizer = Vectorizer::new(&model.features);
    let mut row = SparseRow::default();
    let count_nnz = |vectorizer: &mut Vectorizer, row: &mut SparseRow| -> usize {
        analysed
            .iter()
            .map(|t| {
                vectorizer.vectorize(&model.features, t, row);
                row.nnz()
            })
            .sum()
    };
    let expected_nnz = count_nnz(&mut vectorizer, &mut row);
    assert!(expected_nnz > 0, "the corpus produced no features");

    let thresholds: Vec<f32> = model.labels.iter().map(|l| l.threshold).collect();
    let count_flags = |scorer: &mut Scorer<'_>, scores: &mut Scores| -> usize {
        corpus
            .iter()
            .map(|text| {
                scorer.score_into(text, scores);
                scores
                    .probabilities
                    .iter()
                    .zip(&thresholds)
                    .filter(|(p, t)| p >= t)
                    .count()
            })
            .sum()
    };
    let mut scorer = model.scorer();
    let mut scores = Scores::default();
    let expected_flags = count_flags(&mut scorer, &mut scores);
    assert!(expected_flags > 0, "nothing in the corpus was flagged");

    let mut group = c.benchmark_group("analyzer");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(comments.clone());
    group.bench_function("analyze", |b| {
        b.iter(|| {
            let n = count_tokens(&mut analyzer, black_box(&corpus), &mut tokens);
            assert_eq!(n, expected_tokens);
        })
    });
    group.finish();

    let mut group = c.benchmark_group("vectorizer");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(comments.clone());
    group.bench_function("vectorize", |b| {
        b.iter(|| {
            let n = count_nnz(&mut vectorizer, &mut row);
            assert_eq!(n, expected_nnz);
        })
    });
    group.finish();

    let mut group = c.benchmark_group("score");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(comments.clone());
    group.bench_function("score_into", |b| {
        b.iter(|| {
            let n = count_flags(black_box(&mut scorer), &mut scores);
            assert_eq!(n, expected_flags);
        })
    });
    group.finish();

    // Languages: the same English word model, with and without the others.
    let mut english_only = model.clone();
    english_only.languages = Default::default();
    english_only.second_stage = None;
    let mut five = model.clone();
    five.second_stage = None;
    assert!(five.languages.routes(), "the shipped model has languages");
    let count_word_flags = |scorer: &mut Scorer<'_>, scores: &mut Scores| -> usize {
        corpus
            .iter()
            .map(|text| {
                scorer.score_into(text, scores);
                (0..scores.probabilities.len())
                    .filter(|&l| scores.flagged(l))
                    .count()
            })
            .sum()
    };
    let mut english_scorer = english_only.scorer();
    let mut five_scorer = five.scorer();
    let english_flags = count_word_flags(&mut english_scorer, &mut scores);
    let five_flags = count_word_flags(&mut five_scorer, &mut scores);
    assert!(english_flags > 0 && five_flags > 0, "nothing was flagged");
    let mut group = c.benchmark_group("languages");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(comments.clone());
    group.bench_function("english_only", |b| {
        b.iter(|| {
            let n = count_word_flags(black_box(&mut english_scorer), &mut scores);
            assert_eq!(n, english_flags);
        })
    });
    group.bench_function("five_languages", |b| {
        b.iter(|| {
            let n = count_word_flags(black_box(&mut five_scorer), &mut scores);
            assert_eq!(n, five_flags);
        })
    });
    group.finish();

    let columns = model.features.len();
    let mut group = c.benchmark_group("load");
    group.bench_function("default_model", |b| {
        b.iter(|| {
            let m = moderate::default_model().expect("the default model loads");
            assert_eq!(m.features.len(), columns);
            m
        })
    });
    group.finish();
}

criterion_group! {
    name = pipeline;
    config = config();
    targets = benches
}
criterion_main!(pipeline);

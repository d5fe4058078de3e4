//! The semantic prior end to end: a model trained with word vectors scores
//! from its own file alone, its scores decompose into the n-gram part plus
//! the mean projected score of the comment's words (the same word ids the
//! training matrix used), cluster features are explained by the words that
//! produced them, and training is deterministic.

use moderate::Comment;
use moderate::features::SparseRow;
use moderate::features::semantic::{WordVectors, word_ids};
use moderate::io::{ReadOptions, read_all};
use moderate::text::{Analyzer, Tokens};
use moderate::train::{self, SemanticSettings, TrainConfig};
use std::io::Write;
use std::path::{Path, PathBuf};

fn examples() -> Vec<Comment> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/examples.csv");
    read_all(&path, &ReadOptions::default()).expect("examples parse")
}

/// A made-up GloVe-format file with an 8-dimensional vector for every
/// lower-cased word of the examples (deterministic, derived from the
/// word's bytes), written to a fresh temporary directory.
fn write_vectors(comments: &[Comment]) -> (tempfile::TempDir, PathBuf) {
    let mut words: Vec<String> = comments
        .iter()
        .flat_map(|c| {
            c.text
                .split(|ch: char| !ch.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .collect();
    words.sort();
    words.dedup();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vectors.txt");
    let mut file = std::fs::File::create(&path).unwrap();
    for word in &words {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        write!(file, "{word}").unwrap();
        for k in 0..8u64 {
            for b in word.bytes() {
                h = (h ^ u64::from(b) ^ k).wrapping_mul(0x0100_0000_01b3);
            }
            let v = ((h >> 40) % 2001) as f32 / 1000.0 - 1.0;
            write!(file, " {v:.5}").unwrap();
        }
        writeln!(file).unwrap();
    }
    (dir, path)
}

fn config(vectors: &Path) -> TrainConfig {
    let mut config = TrainConfig {
        min_df: 1,
        folds: 2,
        threads: 2,
        semantic: Some(SemanticSettings {
            vectors: vectors.to_path_buf(),
            weight: 1.0,
            max_words: 100_000,
            clusters: vec![2, 8],
        }),
        ..TrainConfig::default()
    };
    config.ngrams.cluster_weight = 0.5;
    config
}

#[test]
fn semantic_model_scores_from_its_file_and_decomposes_into_ngrams_plus_prior() {
    let comments = examples();
    let (dir, path) = write_vectors(&comments);
    let config = config(&path);
    let (model, _) = train::train(&comments, &[], &config, &|_| {}).unwrap();
    let prior = model.semantic.clone().expect("a semantic prior");
    let lexicon = model.features.ngrams.lexicon.clone().expect("a lexicon");
    assert!(lexicon.len() > 100, "lexicon of {} words", lexicon.len());

    // The training side's word ids, from the vector file itself.
    let vectors = WordVectors::load(&path, 100_000).unwrap();
    let bytes = moderate::model::to_bytes(&model).unwrap();
    drop(dir); // scoring needs nothing outside the model file
    let loaded = moderate::model::load_bytes(&bytes, Path::new("mem")).unwrap();
    assert_eq!(loaded, model);

    let mut scorer = loaded.scorer();
    let mut analyzer = Analyzer::new(loaded.analyzer.clone());
    let mut tokens = Tokens::new();
    let mut ids = Vec::new();
    let mut some_prior = false;
    for c in &comments {
        analyzer.analyze(&c.text, &mut tokens);
        ids.clear();
        word_ids(&tokens, |w| vectors.id(w), &mut ids);
        let row: SparseRow = scorer.features(&c.text);
        let decisions = scorer.decisions(&c.text);
        for (l, label) in loaded.labels.iter().enumerate() {
            let ngram_part = row.dot(&label.linear.weights) + label.linear.intercept;
            let prior_part = prior.mean_score(l, &ids);
            some_prior |= prior_part.abs() > 1e-4;
            assert!(
                (decisions[l] - (ngram_part + prior_part)).abs() < 1e-5,
                "{}: {} != {} + {}",
                c.id,
                decisions[l],
                ngram_part,
                prior_part
            );
            let p = label.calibration.probability(decisions[l]);
            assert!((scorer.score(&c.text).probabilities[l] - p).abs() < 1e-5);
        }
    }
    assert!(some_prior, "the prior contributed nothing to any comment");
}

#[test]
fn semantic_training_is_deterministic() {
    let comments = examples();
    let (_dir, path) = write_vectors(&comments);
    let config = config(&path);
    let a = train::train(&comments, &[], &config, &|_| {}).unwrap().0;
    let b = train::train(&comments, &[], &config, &|_| {}).unwrap().0;
    assert_eq!(
        moderate::model::to_bytes(&a).unwrap(),
        moderate::model::to_bytes(&b).unwrap()
    );
}

/// Every explanation, of features or of words, points at text of the
/// comment: a cluster feature's span is the word that produced it.
#[test]
fn cluster_features_are_explained_by_the_words_that_produced_them() {
    let comments = examples();
    let (_dir, path) = write_vectors(&comments);
    let (model, _) = train::train(&comments, &[], &config(&path), &|_| {}).unwrap();
    let mut scorer = model.scorer();
    let mut clusters_seen = 0;
    for c in &comments {
        for l in 0..model.labels.len() {
            for e in scorer.explain(&c.text, l, 50) {
                for &(start, end) in &e.spans {
                    let text = c.text.get(start..end).expect("span on char boundaries");
                    assert!(
                        !text.trim().is_empty(),
                        "{}: empty span for {}",
                        c.id,
                        e.term
                    );
                    if e.term.starts_with("[k") {
                        clusters_seen += 1;
                        assert!(
                            !text.contains(char::is_whitespace),
                            "{}: cluster {} spans {text:?}, not one word",
                            c.id,
                            e.term
                        );
                    }
                }
            }
            for e in scorer.explain_words(&c.text, l, 10) {
                let (start, end) = e.spans[0];
                assert_eq!(c.text.get(start..end), Some(e.term.as_str()));
            }
        }
    }
    assert!(clusters_seen > 0, "no cluster feature was ever explained");
}

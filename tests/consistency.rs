//! Scoring a comment alone must see exactly the features it had in training.

use moderate::features::{SparseRow, Vectorizer};
use moderate::io::{ReadOptions, read_all};
use moderate::text::{Analyzer, Tokens};
use moderate::train::{self, TrainConfig};
use std::path::Path;

fn examples() -> Vec<moderate::Comment> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/examples.csv");
    read_all(&path, &ReadOptions::default()).expect("examples parse")
}

/// Small settings, with the word list of the examples in the analyzer (as
/// `train` builds it), so that word resolution takes part.
fn config() -> TrainConfig {
    let mut config = TrainConfig {
        min_df: 1,
        folds: 2,
        threads: 2,
        ngrams: moderate::features::NgramConfig {
            word_bigrams: true,
            char_ngrams: Some((2, 4)),
            norm_unselected: true,
            norm_per_block: false,
            ..Default::default()
        },
        ..TrainConfig::default()
    };
    let comments = examples();
    let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
    config.analyzer = config.analyzer_for(&texts);
    assert!(
        config
            .analyzer
            .known_words
            .as_ref()
            .is_some_and(|l| l.len() > 100)
    );
    config
}

#[test]
fn single_comment_features_equal_training_rows() {
    let comments = examples();
    let config = config();
    let (space, matrix) = train::vectorize(&comments, &config);
    assert_eq!(matrix.nrows(), comments.len());
    let mut analyzer = Analyzer::new(config.analyzer.clone());
    let mut vectorizer = Vectorizer::new(&space);
    let mut tokens = Tokens::new();
    let mut row = SparseRow::default();
    // Score in reverse order, one at a time, with a warm analyzer: no state may leak.
    for (i, c) in comments.iter().enumerate().rev() {
        analyzer.analyze(&c.text, &mut tokens);
        vectorizer.vectorize(&space, &tokens, &mut row);
        let (idx, val) = matrix.row(i);
        assert_eq!(row.indices, idx, "row {i} columns");
        assert_eq!(row.values, val, "row {i} values");
    }
}

#[test]
fn trained_model_scores_equal_batch_decisions_and_survive_a_round_trip() {
    let comments = examples();
    let config = config();
    let (model, _) = train::train(&comments, &["examples.csv".into()], &config, &|_| {}).unwrap();
    let (_, matrix) = train::vectorize(&comments, &config);
    let bytes = moderate::model::to_bytes(&model).unwrap();
    let loaded = moderate::model::load_bytes(&bytes, Path::new("mem")).unwrap();
    assert_eq!(loaded, model);
    let mut scorer = loaded.scorer();
    for (i, c) in comments.iter().enumerate() {
        let scores = scorer.score(&c.text);
        for (l, label) in model.labels.iter().enumerate() {
            let z = label.linear.decision(&matrix, i);
            let p = label.calibration.probability(z);
            assert!((scores.probabilities[l] - p).abs() < 1e-6);
        }
    }
}

#[test]
fn training_is_deterministic() {
    let comments = examples();
    let config = config();
    let a = train::train(&comments, &[], &config, &|_| {}).unwrap().0;
    let b = train::train(&comments, &[], &config, &|_| {}).unwrap().0;
    assert_eq!(
        moderate::model::to_bytes(&a).unwrap(),
        moderate::model::to_bytes(&b).unwrap()
    );
}

/// The vectorizer's word cache changes speed only: a vectorizer that has seen
/// many comments (and emptied its cache on the way), a fresh one, and the
/// explanation path (which bypasses the cache) give identical rows.
#[test]
fn word_cache_never_changes_a_row() {
    let comments = examples();
    let config = config();
    let (space, _) = train::vectorize(&comments, &config);
    let mut analyzer = Analyzer::new(config.analyzer.clone());
    let mut warm = Vectorizer::new(&space);
    let mut tokens = Tokens::new();
    let (mut row, mut fresh_row, mut hit_row) = (
        SparseRow::default(),
        SparseRow::default(),
        SparseRow::default(),
    );
    let mut hits = Vec::new();
    // Enough distinct made-up words to overflow the cache at least once.
    let filler: String = (0..moderate::features::WORD_CACHE_ENTRIES + 500)
        .map(|i| {
            let mut word = String::from("zq");
            let mut n = i;
            loop {
                word.push(char::from(b'a' + (n % 26) as u8));
                n /= 26;
                if n == 0 {
                    break;
                }
            }
            word + " "
        })
        .collect();
    analyzer.analyze(&filler, &mut tokens);
    warm.vectorize(&space, &tokens, &mut row);
    for round in 0..2 {
        for (i, c) in comments.iter().enumerate() {
            analyzer.analyze(&c.text, &mut tokens);
            warm.vectorize(&space, &tokens, &mut row);
            Vectorizer::new(&space).vectorize(&space, &tokens, &mut fresh_row);
            Vectorizer::new(&space).vectorize_with_hits(&space, &tokens, &mut hit_row, &mut hits);
            assert_eq!(row, fresh_row, "round {round}, comment {i}");
            assert_eq!(row, hit_row, "round {round}, comment {i}");
        }
    }
}

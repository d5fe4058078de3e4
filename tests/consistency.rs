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

fn config() -> TrainConfig {
    TrainConfig {
        min_df: 1,
        folds: 2,
        threads: 2,
        ngrams: moderate::features::NgramConfig {
            word_bigrams: true,
            char_ngrams: Some((2, 4)),
            norm_unselected: true,
            norm_per_block: false,
        },
        ..TrainConfig::default()
    }
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

//! The streaming FTRL learner (`train --learner ftrl`): its models score
//! through the same code path as the logistic learner's, agree with
//! linfa-ftrl's own predictions, and work with `score`, `eval` and `info`.

use assert_cmd::Command;
use moderate::features::SparseRow;
use moderate::io::{ReadOptions, read_all};
use moderate::model::ftrl::{FtrlLearner, FtrlSettings};
use moderate::train::streaming::{StreamingSettings, train_streaming};
use moderate::train::{self, TrainConfig};
use ndarray::Array2;
use std::path::{Path, PathBuf};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

fn moderate() -> Command {
    Command::cargo_bin("moderate").expect("binary builds")
}

fn config() -> TrainConfig {
    TrainConfig {
        min_df: 1,
        threads: 2,
        ..TrainConfig::default()
    }
}

fn no_holdout() -> StreamingSettings {
    StreamingSettings {
        holdout_every: 0,
        batch_size: 8,
        ..StreamingSettings::default()
    }
}

#[test]
fn streaming_selection_matches_in_memory_selection_on_small_data() {
    // Screening by hash buckets only approximates exact counts: an n-gram
    // that shares its bucket with another (a few of 7,000 n-grams in 4M
    // buckets) is ranked on the bucket's counts, which can flip ties. Every
    // selected column still gets its exact df, idf and name.
    let comments = read_all(&data("examples.csv"), &ReadOptions::default()).unwrap();
    let config = TrainConfig {
        max_features: 500,
        ..config()
    };
    let (space, _) = train::vectorize(&comments, &config);
    let (model, _, _) = train_streaming(
        &[data("examples.csv")],
        &ReadOptions::default(),
        &config,
        &no_holdout(),
        false,
        &|_| {},
    )
    .unwrap();
    let streamed = &model.features;
    assert_eq!(streamed.len(), space.len());
    let mut common = 0;
    for (i, h) in streamed.hashes.iter().enumerate() {
        if let Some(j) = space.column(*h) {
            common += 1;
            let j = j as usize;
            assert_eq!(streamed.idf[i], space.idf[j]);
            assert_eq!(streamed.kinds[i], space.kinds[j]);
            assert_eq!(streamed.names[i], space.names[j]);
        }
    }
    assert!(
        common * 100 >= space.len() * 98,
        "{common} of {}",
        space.len()
    );
    assert!(streamed.names.iter().all(|n| !n.is_empty()));
}

#[test]
fn scoring_equals_linfa_ftrl_predict_on_example_comments() {
    let comments = read_all(&data("examples.csv"), &ReadOptions::default()).unwrap();
    let config = config();
    let (space, matrix) = train::vectorize(&comments, &config);
    let n = space.len();
    let mut learner = FtrlLearner::new(&FtrlSettings::default(), n, 16, 1, 3).unwrap();
    for epoch in 0..3 {
        for (r, c) in comments.iter().enumerate() {
            if let Some(Some(y)) = c.labels.get("abusive") {
                let (i, v) = matrix.row(r);
                let row = SparseRow {
                    indices: i.to_vec(),
                    values: v.to_vec(),
                };
                learner.push(&row, *y, 1).unwrap();
            }
        }
        assert!(learner.updates() > 0, "epoch {epoch}");
    }
    learner.flush().unwrap();
    // A model with these columns and weights and the identity calibration,
    // scored from raw text through the normal scorer.
    let (mut model, _, _) = train_streaming(
        &[data("examples.csv")],
        &ReadOptions::default(),
        &config,
        &no_holdout(),
        false,
        &|_| {},
    )
    .unwrap();
    model.features = space;
    model.labels.truncate(1);
    assert_eq!(model.labels[0].name, "abusive");
    assert_eq!(model.labels[0].calibration.a, 1.0);
    assert_eq!(model.labels[0].calibration.b, 0.0);
    model.labels[0].linear = learner.weights().unwrap();
    let bytes = moderate::model::to_bytes(&model).unwrap();
    let model = moderate::model::load_bytes(&bytes, Path::new("mem")).unwrap();

    let mut dense = Array2::<f64>::zeros((comments.len(), n + 1));
    dense.column_mut(n).fill(1.0);
    for r in 0..comments.len() {
        let (idx, val) = matrix.row(r);
        for (&c, &v) in idx.iter().zip(val) {
            dense[[r, c as usize]] = f64::from(v);
        }
    }
    use linfa::prelude::Predict;
    let predicted = learner.model().unwrap().predict(&dense);
    let mut scorer = model.scorer();
    for (r, c) in comments.iter().enumerate() {
        let ours = scorer.score(&c.text).probabilities[0];
        let theirs = *predicted[r];
        assert!((ours - theirs).abs() < 1e-5, "row {r}: {ours} vs {theirs}");
    }
}

fn train_ftrl(out: &Path, extra: &[&str]) {
    moderate()
        .args(["train", "--learner", "ftrl", "--data"])
        .arg(data("examples.csv"))
        .arg("--out")
        .arg(out)
        .args(["--min-df", "1", "--batch-size", "8", "--epochs", "3"])
        .args(extra)
        .assert()
        .success();
}

#[test]
fn ftrl_model_works_with_score_eval_and_info() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("ftrl.model");
    train_ftrl(&model, &["--threads", "1"]);

    let out = moderate()
        .arg("score")
        .arg(data("comments.txt"))
        .arg("--model")
        .arg(&model)
        .arg("--explain")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 15);
    for l in &lines {
        for label in ["abusive", "violent"] {
            let p = l["scores"][label].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&p), "{l}");
        }
        assert!(l["explain"].is_object(), "{l}");
    }

    let out = moderate()
        .arg("eval")
        .arg("--model")
        .arg(&model)
        .arg("--data")
        .arg(data("examples.csv"))
        .arg("--json")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    for label in ["abusive", "violent"] {
        let auc = report["labels"][label]["roc_auc"].as_f64().unwrap();
        assert!(auc > 0.7, "{label}: {auc}");
    }

    moderate()
        .arg("info")
        .arg("--model")
        .arg(&model)
        .assert()
        .success()
        .stdout(predicates::str::contains("streaming FTRL learner"));
}

#[test]
fn ftrl_training_is_deterministic_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.model"),
        dir.path().join("b.model"),
        dir.path().join("c.model"),
    );
    train_ftrl(&a, &["--threads", "1", "--seed", "5"]);
    train_ftrl(&b, &["--threads", "2", "--seed", "5"]);
    train_ftrl(&c, &["--threads", "2", "--seed", "6"]);
    let read = |p: &Path| std::fs::read(p).unwrap();
    assert_eq!(read(&a), read(&b));
    assert_ne!(read(&a), read(&c));
}

#[test]
fn ftrl_refuses_stdin_and_bad_settings_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.model");
    moderate()
        .args(["train", "--learner", "ftrl", "--data", "-", "--out"])
        .arg(&out)
        .write_stdin("id,text,abusive\n1,hi,1\n")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("stdin"));
    for bad in [["--ftrl-beta", "0"], ["--ftrl-l2", "3"], ["--epochs", "0"]] {
        moderate()
            .args(["train", "--learner", "ftrl", "--data"])
            .arg(data("examples.csv"))
            .arg("--out")
            .arg(&out)
            .args(bad)
            .assert()
            .code(2);
    }
    moderate()
        .args(["train", "--learner", "ftrl", "--data"])
        .arg(data("examples.csv"))
        .arg("--out")
        .arg(&out)
        .args(["--labels", "hateful"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("`hateful` not found"));
    // A malformed record stops the run with its file and line; --skip-bad
    // is refused rather than applied differently on each pass.
    let broken = dir.path().join("broken.csv");
    std::fs::write(
        &broken,
        "id,text,abusive,violent\n1,fine,0,0\n2,\"unbalanced,1,0\n",
    )
    .unwrap();
    moderate()
        .args(["train", "--learner", "ftrl", "--data"])
        .arg(&broken)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("broken.csv"))
        .stderr(predicates::str::contains("line 3"));
    moderate()
        .args(["train", "--learner", "ftrl", "--skip-bad", "--data"])
        .arg(data("examples.csv"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--skip-bad is not supported"));
    assert!(!out.exists());
}

//! A streaming learner: FTRL-proximal logistic regression (`linfa-ftrl`)
//! fitted mini-batch by mini-batch through linfa's incremental `FitWith`.
//!
//! `linfa-ftrl` 0.8 takes dense `Array2<f64>` records with `bool` targets and
//! has no intercept, so [`FtrlLearner`] writes each mini-batch of sparse rows
//! into one reused dense buffer with an extra constant column of ones (whose
//! weight is the intercept) and clears only the cells it wrote afterwards.
//! Memory is one `batch x (features + 1)` buffer whatever the number of rows.
//!
//! Each `fit_with` call makes one FTRL-proximal step with the gradient summed
//! over the batch: per coordinate, `w = (sign(z) l1 - z) / ((beta + sqrt(n))
//! / alpha + l2)` (zero when `|z| <= l1`), and the model predicts
//! `sigmoid(x . w)`, the same logistic link as [`LinearWeights`]. So
//! [`FtrlLearner::weights`] converts the fitted model into the
//! [`LinearWeights`] that scoring uses, with no change to scoring.
//!
//! # Parameters
//!
//! | name | meaning | valid |
//! |---|---|---|
//! | `alpha` | learning rate | > 0, finite |
//! | `beta` | learning-rate smoothing; linfa-ftrl divides by it on the first step | > 0, finite |
//! | `l1` | L1 penalty (linfa-ftrl's `l1_ratio`) | 0..=1 |
//! | `l2` | L2 penalty (linfa-ftrl's `l2_ratio`) | 0..=1 |
//!
//! linfa-ftrl starts `z` at uniform random values in `[0, 1)` drawn from its
//! generator, which [`FtrlLearner::new`] seeds, so a fit is deterministic.

use super::logistic::LinearWeights;
use crate::error::{Error, Result};
use crate::features::SparseRow;
use linfa::prelude::*;
use linfa_ftrl::{Ftrl, FtrlParams};
use ndarray::{Array1, Array2, s};
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;
use serde::{Deserialize, Serialize};

/// FTRL-proximal hyper-parameters (see the module's parameter table).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FtrlSettings {
    /// Learning rate.
    pub alpha: f64,
    /// Learning-rate smoothing.
    pub beta: f64,
    /// L1 penalty.
    pub l1: f64,
    /// L2 penalty.
    pub l2: f64,
    /// Start from `z = 0` (all weights zero) instead of linfa-ftrl's random
    /// `z` in `[0, 1)`.
    pub zero_start: bool,
}

impl Default for FtrlSettings {
    fn default() -> Self {
        Self {
            alpha: 2.0,
            beta: 1.0,
            l1: 0.0,
            l2: 1.0,
            zero_start: true,
        }
    }
}

impl std::fmt::Display for FtrlSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "alpha {}, beta {}, l1 {}, l2 {}, {} start",
            self.alpha,
            self.beta,
            self.l1,
            self.l2,
            if self.zero_start { "zero" } else { "random" }
        )
    }
}

impl FtrlSettings {
    /// Checks the ranges linfa-ftrl accepts, plus `alpha > 0` and `beta > 0`
    /// (with `beta = 0` the first step divides by zero).
    pub fn validate(&self) -> Result<()> {
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(Error::Config(format!(
                "--ftrl-alpha must be a finite number > 0, not {}",
                self.alpha
            )));
        }
        if !(self.beta.is_finite() && self.beta > 0.0) {
            return Err(Error::Config(format!(
                "--ftrl-beta must be a finite number > 0, not {}",
                self.beta
            )));
        }
        for (name, v) in [("--ftrl-l1", self.l1), ("--ftrl-l2", self.l2)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::Config(format!("{name} must be in [0, 1], not {v}")));
            }
        }
        Ok(())
    }
}

/// linfa-ftrl does not export its validated parameter type by name.
type Params = <FtrlParams<f64, Xoshiro256Plus> as ParamGuard>::Checked;

/// Fits one label's FTRL model from a stream of sparse rows, one mini-batch
/// at a time.
pub struct FtrlLearner {
    params: Params,
    model: Option<Ftrl<f64>>,
    /// `capacity x (n_features + 1)`; the last column is all ones.
    dense: Array2<f64>,
    targets: Vec<bool>,
    /// Cells written in the current batch, cleared after each fit.
    written: Vec<(u32, u32)>,
    rows: usize,
    batch_size: usize,
    n_features: usize,
    updates: u64,
}

impl std::fmt::Debug for FtrlLearner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FtrlLearner")
            .field("n_features", &self.n_features)
            .field("batch_size", &self.batch_size)
            .field("updates", &self.updates)
            .finish_non_exhaustive()
    }
}

impl FtrlLearner {
    /// A learner over `n_features` columns that fits every `batch_size` rows.
    /// `max_repeat` is the most times one row is pushed at once (the batch
    /// buffer has room for `batch_size + max_repeat - 1` rows). `seed` seeds
    /// linfa-ftrl's initial `z`.
    pub fn new(
        settings: &FtrlSettings,
        n_features: usize,
        batch_size: usize,
        max_repeat: u32,
        seed: u64,
    ) -> Result<Self> {
        settings.validate()?;
        if n_features == 0 {
            return Err(Error::Training(
                "the FTRL learner needs at least one feature".into(),
            ));
        }
        if batch_size == 0 {
            return Err(Error::Config("--batch-size must be at least 1".into()));
        }
        let params = FtrlParams::new(
            settings.alpha,
            settings.beta,
            settings.l1,
            settings.l2,
            Xoshiro256Plus::seed_from_u64(seed),
        )
        .check()
        .map_err(|e| Error::Config(format!("FTRL settings: {e}")))?;
        let capacity = batch_size + max_repeat.max(1) as usize - 1;
        let mut dense = Array2::<f64>::zeros((capacity, n_features + 1));
        dense.column_mut(n_features).fill(1.0);
        let model = zero_start(&params, n_features + 1, settings.zero_start)?;
        Ok(Self {
            params,
            model,
            dense,
            targets: Vec::with_capacity(capacity),
            written: Vec::new(),
            rows: 0,
            batch_size,
            n_features,
            updates: 0,
        })
    }

    /// Adds `row` with target `y`, `repeat` times (class weighting), and fits
    /// the batch once it holds `batch_size` rows.
    pub fn push(&mut self, row: &SparseRow, y: bool, repeat: u32) -> Result<()> {
        let capacity = self.dense.nrows();
        for _ in 0..repeat.max(1) {
            if self.rows >= capacity {
                self.flush()?;
            }
            let r = self.rows;
            for (&c, &v) in row.indices.iter().zip(&row.values) {
                if (c as usize) < self.n_features {
                    self.dense[[r, c as usize]] = f64::from(v);
                    self.written.push((r as u32, c));
                }
            }
            self.targets.push(y);
            self.rows += 1;
        }
        if self.rows >= self.batch_size {
            self.flush()?;
        }
        Ok(())
    }

    /// Fits the rows pushed since the last fit, if any.
    pub fn flush(&mut self) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let records = self.dense.slice(s![..self.rows, ..]);
        let targets = Array1::from(std::mem::take(&mut self.targets));
        let dataset = DatasetBase::new(records, targets);
        let model = self
            .params
            .fit_with(self.model.take(), &dataset)
            .map_err(|e| Error::Training(format!("FTRL update failed: {e}")))?;
        self.model = Some(model);
        self.updates += 1;
        for &(r, c) in &self.written {
            self.dense[[r as usize, c as usize]] = 0.0;
        }
        self.written.clear();
        self.rows = 0;
        Ok(())
    }

    /// Number of FTRL updates (mini-batches fitted) so far.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// The linfa model: the zero start, or the fitted model after at least
    /// one update (`None` before the first update with a random start).
    pub fn model(&self) -> Option<&Ftrl<f64>> {
        self.model.as_ref()
    }

    /// The current model as [`LinearWeights`]: `sigmoid(w . x + b)` equals
    /// linfa-ftrl's `predict` on the same row. Rows still waiting in the
    /// batch are not included (call [`FtrlLearner::flush`] first). Fails
    /// when there is no model yet (random start, no update).
    pub fn weights(&self) -> Result<LinearWeights> {
        let model = self.model.as_ref().ok_or_else(|| {
            Error::Training("the FTRL learner saw no labelled training row".into())
        })?;
        Ok(to_linear(model, self.n_features))
    }
}

/// The model to start from: with `zero`, linfa-ftrl's own initial model
/// with `z` set to zero (all weights 0, the usual FTRL-proximal start);
/// otherwise `None`, and linfa-ftrl draws `z` uniformly from `[0, 1)`.
///
/// linfa-ftrl offers no constructor for a chosen `z`, but its models
/// implement serde (feature `serde`): the fresh model goes through a JSON
/// value with `z` zeroed. With random `z`, a feature seen a few times keeps
/// a weight of up to `-alpha / beta` from its draw, which is noise.
fn zero_start(params: &Params, columns: usize, zero: bool) -> Result<Option<Ftrl<f64>>> {
    if !zero {
        return Ok(None);
    }
    let fail = |e: serde_json::Error| Error::Training(format!("cannot zero the FTRL start: {e}"));
    let fresh = Ftrl::new(params.clone(), columns);
    let mut value = serde_json::to_value(&fresh).map_err(fail)?;
    let zeros = serde_json::Value::Array(vec![serde_json::Value::from(0.0); columns]);
    match value.get_mut("z").and_then(|z| z.get_mut("data")) {
        Some(data) => *data = zeros,
        None => {
            return Err(Error::Training(
                "cannot zero the FTRL start: unexpected serialised form".into(),
            ));
        }
    }
    let model: Ftrl<f64> = serde_json::from_value(value).map_err(fail)?;
    Ok(Some(model))
}

/// Converts a linfa-ftrl model fitted on `n_features` columns plus a
/// trailing constant column of ones into [`LinearWeights`].
pub fn to_linear(model: &Ftrl<f64>, n_features: usize) -> LinearWeights {
    let w = model.get_weights();
    LinearWeights {
        weights: w.iter().take(n_features).map(|&v| v as f32).collect(),
        intercept: w.get(n_features).copied().unwrap_or(0.0) as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::SparseMatrix;
    use crate::model::logistic::sigmoid;

    fn toy() -> (SparseMatrix, Vec<bool>) {
        let mut x = SparseMatrix::new(4);
        let mut y = Vec::new();
        for i in 0..300u32 {
            let pos = i % 4 == 0;
            x.push_row(&SparseRow {
                indices: vec![0, if pos { 1 } else { 2 }, 3],
                values: vec![0.3, 0.7 + (i % 7) as f32 * 0.03, (i % 3) as f32 * 0.2],
            });
            y.push(pos);
        }
        (x, y)
    }

    fn row(x: &SparseMatrix, r: usize) -> SparseRow {
        let (i, v) = x.row(r);
        SparseRow {
            indices: i.to_vec(),
            values: v.to_vec(),
        }
    }

    #[test]
    fn scoring_equals_ftrl_predict() {
        let (x, y) = toy();
        let mut learner = FtrlLearner::new(&FtrlSettings::default(), 4, 16, 1, 7).unwrap();
        for _ in 0..3 {
            for (r, &yr) in y.iter().enumerate() {
                learner.push(&row(&x, r), yr, 1).unwrap();
            }
        }
        learner.flush().unwrap();
        let w = learner.weights().unwrap();
        // linfa-ftrl's own prediction on the dense rows with the bias column.
        let mut dense = Array2::<f64>::zeros((x.nrows(), 5));
        dense.column_mut(4).fill(1.0);
        for r in 0..x.nrows() {
            let (idx, val) = x.row(r);
            for (&c, &v) in idx.iter().zip(val) {
                dense[[r, c as usize]] = f64::from(v);
            }
        }
        let predicted = learner.model().unwrap().predict(&dense);
        for r in 0..x.nrows() {
            let ours = sigmoid(w.decision(&x, r));
            let theirs = *predicted[r];
            assert!((ours - theirs).abs() < 1e-5, "row {r}: {ours} vs {theirs}");
        }
        // And it learned the toy problem: positives score higher.
        assert!(sigmoid(w.decision(&x, 0)) > sigmoid(w.decision(&x, 1)));
    }

    #[test]
    fn same_seed_same_weights_and_buffer_is_cleared() {
        let (x, y) = toy();
        let random = FtrlSettings {
            zero_start: false,
            ..FtrlSettings::default()
        };
        let fit = |seed| {
            let mut l = FtrlLearner::new(&random, 4, 32, 3, seed).unwrap();
            for (r, &yr) in y.iter().enumerate() {
                l.push(&row(&x, r), yr, if yr { 3 } else { 1 }).unwrap();
            }
            l.flush().unwrap();
            assert!(l.dense.column(0).iter().all(|&v| v == 0.0));
            assert!(l.dense.column(4).iter().all(|&v| v == 1.0));
            l.weights().unwrap()
        };
        assert_eq!(fit(1), fit(1));
        assert_ne!(fit(1), fit(2));
    }

    #[test]
    fn zero_start_has_zero_weights_and_ignores_the_seed() {
        let a = FtrlLearner::new(&FtrlSettings::default(), 5, 8, 1, 1).unwrap();
        let b = FtrlLearner::new(&FtrlSettings::default(), 5, 8, 1, 2).unwrap();
        let w = a.weights().unwrap();
        assert!(w.weights.iter().all(|&v| v == 0.0) && w.intercept == 0.0);
        assert_eq!(w, b.weights().unwrap());
        assert_eq!(a.updates(), 0);
    }

    #[test]
    fn bad_settings_are_config_errors() {
        let bad = [
            FtrlSettings {
                beta: 0.0,
                ..FtrlSettings::default()
            },
            FtrlSettings {
                alpha: f64::NAN,
                ..FtrlSettings::default()
            },
            FtrlSettings {
                l2: 2.0,
                ..FtrlSettings::default()
            },
        ];
        for s in bad {
            assert!(matches!(
                FtrlLearner::new(&s, 3, 8, 1, 1),
                Err(Error::Config(_))
            ));
        }
        assert!(FtrlLearner::new(&FtrlSettings::default(), 0, 8, 1, 1).is_err());
        let random = FtrlSettings {
            zero_start: false,
            ..FtrlSettings::default()
        };
        let l = FtrlLearner::new(&random, 3, 8, 1, 1).unwrap();
        assert!(l.weights().is_err(), "no update yet");
    }
}

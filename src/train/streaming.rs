//! The streaming learner (`moderate train --learner ftrl`): trains on
//! corpora whose dense matrix, or even whose rows, do not fit in memory.
//!
//! The input files are read several times and never held in memory:
//!
//! 1. **Screening pass.** Every training row's distinct n-gram hashes are
//!    counted into a fixed array of hash buckets ([`BucketStats`]), with the
//!    per-label positive and labelled counts chi-square needs. The best
//!    `candidate_factor * max_features` buckets by chi-square (per label,
//!    merged round-robin, as [`FeatureStats::select`] does) are the
//!    candidates. This pass also counts labels and sources for the model card.
//! 2. **Counting pass.** The n-grams that fall into candidate buckets are
//!    counted exactly ([`FeatureStats`], capped at `max_exact` entries), and
//!    [`FeatureStats::select`] picks the columns. idf comes from the same
//!    exact counts, so the result is the same kind of [`FeatureSpace`] the
//!    logistic learner writes.
//! 3. **Epochs.** Each epoch streams the training rows through a seeded
//!    shuffle buffer, vectorises them exactly as scoring does
//!    ([`Vectorizer`]), and feeds each label's [`FtrlLearner`] mini-batches
//!    (rows unlabelled for a label are skipped for that label only; positive
//!    rows are repeated for class weighting). Features are named during the
//!    first epoch.
//! 4. **Calibration pass.** The held-out rows (a deterministic 1 in
//!    `holdout_every`, by a hash of the row number and the seed, never used
//!    in passes 1 to 3) are scored with the final weights; their decision
//!    values (a seeded reservoir of at most `max_holdout` per label) fit the
//!    Platt calibration and choose the threshold with
//!    [`calibrate`](super::calibrate), as cross-validation does for the
//!    logistic learner.
//!
//! Memory is bounded by the settings, not by the number of rows: the bucket
//! array (one per worker thread), the capped exact map, the shuffle buffer,
//! one dense `batch x (features + 1)` buffer per label and the reservoirs.
//! Everything is deterministic for a given seed, whatever the thread count:
//! the counts are sums, and rows reach the learners in one fixed order.

use super::{TrainConfig, TrainReport, calibrate, label_definition, standard_limitations};
use crate::comment::Comment;
use crate::error::{Error, Result};
use crate::features::buckets::CandidateBuckets;
use crate::features::hash::{HashMap64, mix};
use crate::features::{
    BucketStats, FeatureKind, FeatureSpace, FeatureStats, NgramExtractor, SparseRow, Vectorizer,
    smooth_idf,
};
use crate::io::{CommentReader, ReadOptions};
use crate::model::ftrl::{FtrlLearner, FtrlSettings};
use crate::model::logistic::{LinearWeights, LogisticSettings};
use crate::model::{CrossValidation, LabelModel, Model, TrainingSummary};
use crate::pipeline::{DEFAULT_BATCH, ordered_map, parallel_fold};
use crate::text::{Analyzer, Tokens};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Most distinct `source` values listed in the model card; the rest are
/// counted under `(other)`.
const MAX_SOURCES: usize = 1000;

/// Settings of the streaming learner (the feature settings, labels, seed,
/// threshold rule and threads come from [`TrainConfig`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamingSettings {
    /// FTRL hyper-parameters.
    pub ftrl: FtrlSettings,
    /// Passes over the training rows.
    pub epochs: u32,
    /// Rows per FTRL update (mini-batch).
    pub batch_size: usize,
    /// One row in this many is held out for calibration and thresholds
    /// (0 = none: identity calibration, threshold 0.5).
    pub holdout_every: u32,
    /// Hash buckets of the screening pass.
    pub hash_buckets: usize,
    /// Candidate buckets kept after screening, as a multiple of
    /// `max_features`.
    pub candidate_factor: usize,
    /// Most n-grams counted exactly in the counting pass (per worker thread);
    /// past it, the rarest are dropped.
    pub max_exact: usize,
    /// Rows in the shuffle buffer (1 = input order).
    pub shuffle_buffer: usize,
    /// Most held-out decision values kept per label (a uniform sample
    /// beyond it).
    pub max_holdout: usize,
}

impl Default for StreamingSettings {
    fn default() -> Self {
        Self {
            ftrl: FtrlSettings::default(),
            epochs: 4,
            batch_size: 16,
            holdout_every: 10,
            hash_buckets: 1 << 22,
            candidate_factor: 4,
            max_exact: 4_000_000,
            shuffle_buffer: 100_000,
            max_holdout: 1_000_000,
        }
    }
}

impl StreamingSettings {
    /// Checks every setting's range.
    pub fn validate(&self) -> Result<()> {
        self.ftrl.validate()?;
        let bad = |m: &str| Err(Error::Config(m.to_string()));
        if self.epochs == 0 {
            return bad("--epochs must be at least 1");
        }
        if self.batch_size == 0 || self.batch_size > 65_536 {
            return bad("--batch-size must be between 1 and 65536");
        }
        if self.holdout_every == 1 {
            return bad("--holdout-every must be 0 (no held-out slice) or at least 2");
        }
        if self.hash_buckets < 1024 || self.hash_buckets > 1 << 30 {
            return bad("--hash-buckets must be between 1024 and 2^30");
        }
        if self.candidate_factor == 0 || self.max_exact == 0 || self.max_holdout == 0 {
            return bad("candidate factor, exact-count cap and held-out cap must be at least 1");
        }
        if self.shuffle_buffer == 0 {
            return bad("--shuffle-buffer must be at least 1");
        }
        Ok(())
    }
}

/// What the streaming learner did, besides the [`TrainReport`].
#[derive(Debug, Clone, Default)]
pub struct StreamReport {
    /// Rows read per pass.
    pub rows: u64,
    /// Rows held out for calibration.
    pub held_out: u64,
    /// Estimated distinct n-grams in the training rows (from bucket occupancy).
    pub estimated_ngrams: u64,
    /// Candidate buckets after screening.
    pub candidate_buckets: usize,
    /// N-grams counted exactly in the counting pass.
    pub exact_ngrams: usize,
    /// Times the exact map reached its cap and dropped its rarest n-grams.
    pub exact_prunes: u32,
    /// Per label: FTRL updates, held-out rows scored, held-out ROC-AUC.
    pub labels: BTreeMap<String, (u64, u64, Option<f64>)>,
    /// Seconds per pass: screening, counting, each epoch, calibration.
    pub pass_seconds: Vec<(String, f64)>,
}

/// True when row `row` (0-based over all input files) is held out.
pub fn is_held_out(row: u64, seed: u64, every: u32) -> bool {
    every >= 2 && mix(row ^ seed.rotate_left(29) ^ 0x5bd1_e995).is_multiple_of(u64::from(every))
}

/// Streams the records of `paths` in order with their 0-based row numbers,
/// remembering the first error (which ends the stream) and the label
/// columns found.
struct Records<'a> {
    paths: &'a [PathBuf],
    opts: &'a ReadOptions,
    next_file: usize,
    reader: Option<CommentReader>,
    row: u64,
    error: &'a RefCell<Option<Error>>,
    found: Vec<String>,
}

impl<'a> Records<'a> {
    fn new(paths: &'a [PathBuf], opts: &'a ReadOptions, error: &'a RefCell<Option<Error>>) -> Self {
        Self {
            paths,
            opts,
            next_file: 0,
            reader: None,
            row: 0,
            error,
            found: Vec::new(),
        }
    }

    fn note_found(&mut self) {
        if let Some(r) = &self.reader {
            for l in r.label_columns_found() {
                if !self.found.contains(&l) {
                    self.found.push(l);
                }
            }
        }
    }
}

impl Iterator for Records<'_> {
    type Item = (u64, Comment);

    fn next(&mut self) -> Option<(u64, Comment)> {
        loop {
            if self.error.borrow().is_some() {
                return None;
            }
            if self.reader.is_none() {
                let path = self.paths.get(self.next_file)?;
                self.next_file += 1;
                match CommentReader::open(path, self.opts) {
                    Ok(r) => self.reader = Some(r),
                    Err(e) => {
                        *self.error.borrow_mut() = Some(e);
                        return None;
                    }
                }
            }
            match self.reader.as_mut().and_then(Iterator::next) {
                Some(Ok(c)) => {
                    let row = self.row;
                    self.row += 1;
                    return Some((row, c));
                }
                Some(Err(e)) => {
                    *self.error.borrow_mut() = Some(e);
                    return None;
                }
                None => {
                    self.note_found();
                    self.reader = None;
                }
            }
        }
    }
}

/// Runs `f` over the records of `paths`, then returns the first read error, if any.
fn with_records<R>(
    paths: &[PathBuf],
    opts: &ReadOptions,
    f: impl FnOnce(&mut Records<'_>) -> R,
) -> Result<(R, Vec<String>)> {
    let error = RefCell::new(None);
    let mut records = Records::new(paths, opts, &error);
    let out = f(&mut records);
    let found = std::mem::take(&mut records.found);
    drop(records);
    match error.into_inner() {
        Some(e) => Err(e),
        None => Ok((out, found)),
    }
}

/// A seeded shuffle buffer: yields the items of `inner` in an order that is
/// random within a window of `capacity` items.
struct Shuffle<I: Iterator> {
    inner: I,
    buffer: Vec<I::Item>,
    capacity: usize,
    state: u64,
}

impl<I: Iterator> Shuffle<I> {
    fn new(inner: I, capacity: usize, seed: u64) -> Self {
        Self {
            inner,
            buffer: Vec::new(),
            capacity: capacity.max(1),
            state: mix(seed ^ 0x2545_f491_4f6c_dd1d),
        }
    }

    fn random_index(&mut self, n: usize) -> usize {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        ((u128::from(mix(self.state)) * n as u128) >> 64) as usize
    }
}

impl<I: Iterator> Iterator for Shuffle<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        while self.buffer.len() < self.capacity {
            match self.inner.next() {
                Some(item) => self.buffer.push(item),
                None => break,
            }
        }
        if self.buffer.is_empty() {
            return None;
        }
        let i = self.random_index(self.buffer.len());
        Some(self.buffer.swap_remove(i))
    }
}

/// A uniform sample of at most `capacity` (decision value, target) pairs.
struct Reservoir {
    capacity: usize,
    seen: u64,
    z: Vec<f32>,
    y: Vec<bool>,
    state: u64,
}

impl Reservoir {
    fn new(capacity: usize, seed: u64) -> Self {
        Self {
            capacity,
            seen: 0,
            z: Vec::new(),
            y: Vec::new(),
            state: mix(seed ^ 0x6a09_e667_f3bc_c908),
        }
    }

    fn push(&mut self, z: f32, y: bool) {
        self.seen += 1;
        if self.z.len() < self.capacity {
            self.z.push(z);
            self.y.push(y);
            return;
        }
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let j = mix(self.state) % self.seen;
        if let Ok(j) = usize::try_from(j)
            && j < self.capacity
        {
            self.z[j] = z;
            self.y[j] = y;
        }
    }
}

/// One record's labels for the candidate labels, in order.
fn labels_of(comment: &Comment, names: &[String]) -> Vec<Option<bool>> {
    names
        .iter()
        .map(|l| comment.labels.get(l).copied().flatten())
        .collect()
}

/// Trains a model on the labelled comments of `paths` with the streaming
/// FTRL learner (see the module documentation). `config` gives the labels
/// (candidates: those not found in the data are dropped unless
/// `labels_explicit`), the analyzer and n-gram settings, `min_df`,
/// `max_features`, positive repeats, the threshold rule, the seed and the
/// threads; its logistic and cross-validation settings are not used.
/// `progress` receives one line per pass.
pub fn train_streaming(
    paths: &[PathBuf],
    opts: &ReadOptions,
    config: &TrainConfig,
    settings: &StreamingSettings,
    labels_explicit: bool,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(Model, TrainReport, StreamReport)> {
    config.validate()?;
    settings.validate()?;
    if config.semantic.is_some() {
        return Err(Error::Config(
            "the streaming learner does not support the semantic block (--vectors); \
             use the default logistic learner"
                .into(),
        ));
    }
    if paths.is_empty() {
        return Err(Error::Config("no training data given".into()));
    }
    if let Some(p) = paths.iter().find(|p| p.as_path() == Path::new("-")) {
        return Err(Error::Config(format!(
            "the ftrl learner reads its training data several times, so it cannot read stdin \
             (`{}`); write the data to a file first",
            p.display()
        )));
    }
    let threads = config.threads.max(1);
    let seed = config.seed;
    let mut report = StreamReport::default();
    let started = Instant::now();
    let candidates = &config.labels;
    let n_cand = candidates.len();

    // Pass 1: screening counts, label counts, sources.
    let t = Instant::now();
    progress("pass 1: screening n-grams into hash buckets");
    let mut counts = vec![[0u64; 3]; n_cand];
    let mut sources: BTreeMap<String, u64> = BTreeMap::new();
    let mut rows = 0u64;
    let mut held_out = 0u64;
    let (bucket_parts, found) = with_records(paths, opts, |records| {
        let items = records.filter_map(|(row, c)| {
            rows += 1;
            let labels = labels_of(&c, candidates);
            for (k, l) in labels.iter().enumerate() {
                counts[k][match l {
                    Some(true) => 0,
                    Some(false) => 1,
                    None => 2,
                }] += 1;
            }
            if let Some(s) = c.fields.get("source") {
                if sources.len() < MAX_SOURCES || sources.contains_key(s) {
                    *sources.entry(s.clone()).or_insert(0) += 1;
                } else {
                    *sources.entry("(other)".into()).or_insert(0) += 1;
                }
            }
            if is_held_out(row, seed, settings.holdout_every) {
                held_out += 1;
                return None;
            }
            Some((c.text, labels))
        });
        parallel_fold(
            items,
            threads,
            DEFAULT_BATCH,
            || {
                (
                    Analyzer::new(config.analyzer.clone()),
                    NgramExtractor::new(config.ngrams.clone()),
                    Tokens::new(),
                    Vec::<u64>::new(),
                    Vec::<usize>::new(),
                    BucketStats::new(n_cand, settings.hash_buckets),
                )
            },
            |(analyzer, extractor, tokens, hashes, scratch, stats),
             (text, labels): (String, Vec<Option<bool>>)| {
                analyzer.analyze(&text, tokens);
                hashes.clear();
                extractor.extract(tokens, |o| hashes.push(o.hash));
                stats.add_document(hashes, &labels, scratch);
            },
        )
    })?;
    let mut buckets = BucketStats::new(n_cand, settings.hash_buckets);
    for (.., part) in &bucket_parts {
        buckets.merge(part);
    }
    drop(bucket_parts);
    report.rows = rows;
    report.held_out = held_out;

    // Which labels are learned.
    let mut used: Vec<usize> = Vec::new();
    for (k, name) in candidates.iter().enumerate() {
        if found.contains(name) {
            used.push(k);
        } else if labels_explicit {
            return Err(Error::Config(format!(
                "label column `{name}` not found in the training data"
            )));
        }
    }
    if used.is_empty() {
        return Err(Error::Config(format!(
            "no label columns ({}) in the training data; name them with --labels",
            candidates
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if rows == 0 {
        return Err(Error::Training("no training comments".into()));
    }
    let (train_pos, train_lab) = buckets.label_totals();
    let mut repeats = Vec::with_capacity(used.len());
    for &k in &used {
        let (pos, neg) = (train_pos[k], train_lab[k] - train_pos[k]);
        let name = &candidates[k];
        if pos == 0 || neg == 0 {
            return Err(Error::Training(format!(
                "label `{name}` has {pos} positive and {neg} negative training rows (after \
                 holding out 1 in {}); both classes are needed (is the `{name}` column present \
                 and filled?)",
                settings.holdout_every
            )));
        }
        repeats.push(
            config
                .positive_repeat
                .get(name)
                .copied()
                .unwrap_or_else(|| ((neg as f64 / pos as f64).sqrt().round() as u32).max(1)),
        );
    }
    let occupied = buckets.occupied() as f64;
    let b = buckets.buckets() as f64;
    report.estimated_ngrams = if occupied < b {
        (-b * (1.0 - occupied / b).ln()).round() as u64
    } else {
        occupied as u64
    };
    let candidate_set = buckets.candidates(
        config.min_df,
        settings.candidate_factor * config.max_features,
        &used,
    );
    drop(buckets);
    report.candidate_buckets = candidate_set.len();
    report
        .pass_seconds
        .push(("screening".into(), t.elapsed().as_secs_f64()));

    // Pass 2: exact counts of the n-grams in candidate buckets; selection.
    let t = Instant::now();
    progress(&format!(
        "pass 2: counting the n-grams of {} candidate buckets exactly",
        candidate_set.len()
    ));
    let space = count_and_select(
        paths,
        opts,
        config,
        settings,
        &used,
        &candidate_set,
        &mut report,
    )?;
    drop(candidate_set);
    if space.is_empty() {
        return Err(Error::Training(format!(
            "no feature occurs in at least {} comments; lower --min-df or add data",
            config.min_df
        )));
    }
    report
        .pass_seconds
        .push(("counting".into(), t.elapsed().as_secs_f64()));
    let vectorize_seconds = started.elapsed().as_secs_f64();

    // Epochs.
    let fit_started = Instant::now();
    let used_names: Vec<String> = used.iter().map(|&k| candidates[k].clone()).collect();
    let max_repeat = repeats.iter().copied().max().unwrap_or(1);
    let mut learners = used
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            FtrlLearner::new(
                &settings.ftrl,
                space.len(),
                settings.batch_size,
                max_repeat,
                mix(seed ^ (k as u64 + 1)),
            )
            .map(|l| (l, i))
        })
        .collect::<Result<Vec<_>>>()?;
    let names: Mutex<HashMap64<String>> = Mutex::new(HashMap64::default());
    let unnamed = AtomicUsize::new(space.len());
    for epoch in 0..settings.epochs {
        let t = Instant::now();
        progress(&format!(
            "epoch {}/{}: FTRL on {} features, batches of {}",
            epoch + 1,
            settings.epochs,
            space.len(),
            settings.batch_size
        ));
        let naming = epoch == 0;
        let mut sink_error: Option<Error> = None;
        with_records(paths, opts, |records| {
            let items = records.filter_map(|(row, c)| {
                if is_held_out(row, seed, settings.holdout_every) {
                    return None;
                }
                let labels = labels_of(&c, &used_names);
                labels
                    .iter()
                    .any(Option::is_some)
                    .then_some((c.text, labels))
            });
            let items = Shuffle::new(items, settings.shuffle_buffer, mix(seed ^ u64::from(epoch)));
            let outcome = ordered_map(
                items,
                threads,
                DEFAULT_BATCH,
                || RowWorker::new(config, &space),
                |w, (text, _): &(String, Vec<Option<bool>>)| {
                    w.row(text, &space, naming.then_some((&names, &unnamed)))
                },
                |(_, labels), row| {
                    for (learner, i) in learners.iter_mut() {
                        if let Some(y) = labels[*i] {
                            learner.push(&row, y, if y { repeats[*i] } else { 1 })?;
                        }
                    }
                    Ok::<(), Error>(())
                },
            );
            if let Err(e) = outcome {
                sink_error = Some(e);
            }
        })?;
        if let Some(e) = sink_error {
            return Err(e);
        }
        for (learner, _) in learners.iter_mut() {
            learner.flush()?;
        }
        report
            .pass_seconds
            .push((format!("epoch {}", epoch + 1), t.elapsed().as_secs_f64()));
    }
    let mut space = space;
    let mut names = names.into_inner().unwrap_or_else(|e| e.into_inner());
    space.names = space
        .hashes
        .iter()
        .map(|h| names.remove(h).unwrap_or_default())
        .collect();
    let weights: Vec<LinearWeights> = learners
        .iter()
        .map(|(l, _)| l.weights())
        .collect::<Result<_>>()?;

    // Calibration pass over the held-out rows.
    let t = Instant::now();
    progress("calibration: scoring the held-out rows");
    let mut reservoirs: Vec<Reservoir> = (0..used.len())
        .map(|i| Reservoir::new(settings.max_holdout, mix(seed ^ (i as u64 + 101))))
        .collect();
    if settings.holdout_every >= 2 {
        with_records(paths, opts, |records| {
            let items = records.filter_map(|(row, c)| {
                is_held_out(row, seed, settings.holdout_every)
                    .then(|| (c.text.clone(), labels_of(&c, &used_names)))
            });
            let _ = ordered_map(
                items,
                threads,
                DEFAULT_BATCH,
                || RowWorker::new(config, &space),
                |w, (text, _): &(String, Vec<Option<bool>>)| w.row(text, &space, None),
                |(_, labels), row| {
                    for (i, r) in reservoirs.iter_mut().enumerate() {
                        if let Some(y) = labels[i] {
                            r.push(row.dot(&weights[i].weights) + weights[i].intercept, y);
                        }
                    }
                    Ok::<(), Error>(())
                },
            );
        })?;
    }
    report
        .pass_seconds
        .push(("calibration".into(), t.elapsed().as_secs_f64()));

    let mut label_models = Vec::with_capacity(used.len());
    let mut label_counts = BTreeMap::new();
    for (i, &k) in used.iter().enumerate() {
        let name = candidates[k].clone();
        label_counts.insert(name.clone(), counts[k]);
        let r = &reservoirs[i];
        let learner = &learners[i].0;
        let learner_text = format!(
            "streaming FTRL learner (linfa-ftrl; {}; {} epochs, batches of {}, {} updates)",
            settings.ftrl,
            settings.epochs,
            settings.batch_size,
            learner.updates()
        );
        let (calibration, threshold, rule, cv) = if settings.holdout_every >= 2 && !r.z.is_empty() {
            let c = calibrate(&r.z, &r.y, config.threshold);
            let cv = CrossValidation {
                folds: 1,
                alpha_roc_auc: Vec::new(),
                fold_roc_auc: vec![c.roc_auc],
                roc_auc: c.roc_auc,
                pr_auc: c.pr_auc,
                precision: c.precision,
                recall: c.recall,
            };
            report.labels.insert(
                name.clone(),
                (
                    learner.updates(),
                    r.seen,
                    Some(c.roc_auc).filter(|a| a.is_finite()),
                ),
            );
            let rule = format!(
                "{} on the held-out slice of the training data (1 row in {}, {} rows, not used \
                 for fitting); {learner_text}",
                config.threshold, settings.holdout_every, r.seen
            );
            (c.calibration, c.threshold, rule, Some(cv))
        } else {
            report
                .labels
                .insert(name.clone(), (learner.updates(), r.seen, None));
            (
                crate::model::calibration::Platt::default(),
                0.5,
                format!("fixed at 0.5 (no held-out rows); {learner_text}"),
                None,
            )
        };
        label_models.push(LabelModel {
            definition: label_definition(&name),
            name,
            linear: weights[i].clone(),
            calibration,
            threshold,
            threshold_rule: rule,
            // The FTRL settings are in `threshold_rule`; `max_iterations` 0
            // marks a model without L-BFGS settings.
            settings: LogisticSettings {
                alpha: 0.0,
                max_iterations: 0,
                gradient_tolerance: 0.0,
                presolve: false,
            },
            positive_repeat: repeats[i],
            cross_validation: cv,
        });
    }
    let fit_seconds = fit_started.elapsed().as_secs_f64();
    let mut limitations = standard_limitations(&label_counts);
    limitations.push(format!(
        "Trained with the streaming FTRL learner: calibration and thresholds come from a \
         held-out slice of 1 in {} training rows rather than cross-validation, and rows are \
         shuffled only within a window of {} rows, so a training file sorted by source or \
         label should be shuffled before training.",
        settings.holdout_every, settings.shuffle_buffer
    ));
    let file_names = paths
        .iter()
        .map(|p| {
            p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let model = Model {
        analyzer: config.analyzer.clone(),
        features: space,
        semantic: None,
        labels: label_models,
        training: TrainingSummary {
            data_files: file_names,
            rows,
            sources,
            label_counts: label_counts.clone(),
            candidate_features: report.estimated_ngrams,
            min_df: config.min_df,
            moderate_version: env!("CARGO_PKG_VERSION").to_string(),
            seed,
        },
        evaluation: None,
        limitations,
        second_stage: None,
        languages: Default::default(),
        fixed_language: None,
    };
    let features = model.features.len();
    Ok((
        model,
        TrainReport {
            rows: label_counts,
            features,
            vectorize_seconds,
            fit_seconds,
            fold_names: Vec::new(),
            augmented_rows: 0,
            out_of_fold: Vec::new(),
        },
        report,
    ))
}

/// Pass 2: exact document counts of the n-grams in candidate buckets, then
/// chi-square selection and idf, as [`super::corpus::Analyzed::fit`] does.
fn count_and_select(
    paths: &[PathBuf],
    opts: &ReadOptions,
    config: &TrainConfig,
    settings: &StreamingSettings,
    used: &[usize],
    candidate_set: &CandidateBuckets,
    report: &mut StreamReport,
) -> Result<FeatureSpace> {
    let seed = config.seed;
    let (parts, _) = with_records(paths, opts, |records| {
        let items = records.filter_map(|(row, c)| {
            if is_held_out(row, seed, settings.holdout_every) {
                return None;
            }
            let labels: Vec<Option<bool>> = used
                .iter()
                .map(|&k| c.labels.get(&config.labels[k]).copied().flatten())
                .collect();
            Some((c.text, labels))
        });
        parallel_fold(
            items,
            config.threads.max(1),
            DEFAULT_BATCH,
            || ExactCounter::new(config, used.len(), settings.max_exact),
            |counter, (text, labels): (String, Vec<Option<bool>>)| {
                counter.add(&text, &labels, candidate_set);
            },
        )
    })?;
    let mut stats = FeatureStats::new(used.len());
    for part in parts {
        report.exact_prunes += part.prunes;
        stats.merge(part.stats);
        let mut level = 1;
        while stats.n_features() > settings.max_exact {
            level += 1;
            stats.prune_below(level);
            report.exact_prunes += 1;
        }
    }
    report.exact_ngrams = stats.n_features();
    let selected = stats.select(config.min_df, config.max_features);
    let n_docs = stats.n_docs();
    Ok(FeatureSpace::new(
        config.ngrams.clone(),
        selected.iter().map(|s| s.hash).collect(),
        vec![String::new(); selected.len()],
        selected.iter().map(|s| s.kind).collect(),
        selected
            .iter()
            .map(|s| smooth_idf(n_docs, u64::from(s.df)))
            .collect(),
        smooth_idf(n_docs, 1),
    ))
}

/// A worker's exact counts of candidate n-grams in the counting pass.
struct ExactCounter {
    analyzer: Analyzer,
    extractor: NgramExtractor,
    tokens: Tokens,
    features: Vec<(u64, FeatureKind)>,
    stats: FeatureStats,
    cap: usize,
    level: u32,
    prunes: u32,
}

impl ExactCounter {
    fn new(config: &TrainConfig, n_labels: usize, cap: usize) -> Self {
        Self {
            analyzer: Analyzer::new(config.analyzer.clone()),
            extractor: NgramExtractor::new(config.ngrams.clone()),
            tokens: Tokens::new(),
            features: Vec::new(),
            stats: FeatureStats::new(n_labels),
            cap,
            level: 1,
            prunes: 0,
        }
    }

    fn add(&mut self, text: &str, labels: &[Option<bool>], candidates: &CandidateBuckets) {
        self.analyzer.analyze(text, &mut self.tokens);
        self.features.clear();
        let features = &mut self.features;
        self.extractor.extract(&self.tokens, |o| {
            if candidates.contains(o.hash) {
                features.push((o.hash, o.kind));
            }
        });
        self.features.sort_unstable_by_key(|f| f.0);
        self.features.dedup_by_key(|f| f.0);
        self.stats.add_document(&self.features, labels);
        while self.stats.n_features() > self.cap {
            self.level += 1;
            self.stats.prune_below(self.level);
            self.prunes += 1;
        }
    }
}

/// A worker's buffers for turning comment text into a training row.
struct RowWorker {
    analyzer: Analyzer,
    vectorizer: Vectorizer,
    namer: NgramExtractor,
    tokens: Tokens,
    row: SparseRow,
    local_names: HashMap64<String>,
}

impl RowWorker {
    fn new(config: &TrainConfig, space: &FeatureSpace) -> Self {
        Self {
            analyzer: Analyzer::new(config.analyzer.clone()),
            vectorizer: Vectorizer::new(space),
            namer: NgramExtractor::new(space.ngrams.clone()),
            tokens: Tokens::new(),
            row: SparseRow::default(),
            local_names: HashMap64::default(),
        }
    }

    /// The row of `text` in `space`, exactly as scoring computes it. With
    /// `naming`, also names the selected features `text` contains that have
    /// no name yet (a feature's name depends only on its hash, so which
    /// comment names it does not matter).
    fn row(
        &mut self,
        text: &str,
        space: &FeatureSpace,
        naming: Option<(&Mutex<HashMap64<String>>, &AtomicUsize)>,
    ) -> SparseRow {
        self.analyzer.analyze(text, &mut self.tokens);
        self.vectorizer
            .vectorize(space, &self.tokens, &mut self.row);
        if let Some((names, unnamed)) = naming
            && unnamed.load(Ordering::Relaxed) > 0
        {
            self.local_names.clear();
            super::corpus::name_in(space, &mut self.namer, &self.tokens, &mut self.local_names);
            if !self.local_names.is_empty() {
                let mut shared = names.lock().unwrap_or_else(|e| e.into_inner());
                for (h, n) in self.local_names.drain() {
                    shared.entry(h).or_insert(n);
                }
                unnamed.store(space.len().saturating_sub(shared.len()), Ordering::Relaxed);
            }
        }
        self.row.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holdout_is_deterministic_and_about_one_in_ten() {
        let n = (0..100_000u64).filter(|&r| is_held_out(r, 1, 10)).count();
        assert!((9_000..11_000).contains(&n), "{n}");
        assert_eq!(
            (0..100u64)
                .map(|r| is_held_out(r, 1, 10))
                .collect::<Vec<_>>(),
            (0..100u64)
                .map(|r| is_held_out(r, 1, 10))
                .collect::<Vec<_>>()
        );
        assert!(!(0..1000u64).any(|r| is_held_out(r, 1, 0)));
    }

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let a: Vec<u32> = Shuffle::new(0..1000u32, 64, 3).collect();
        let b: Vec<u32> = Shuffle::new(0..1000u32, 64, 3).collect();
        let c: Vec<u32> = Shuffle::new(0..1000u32, 64, 4).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_ne!(a, sorted);
        let in_order: Vec<u32> = Shuffle::new(0..10u32, 1, 3).collect();
        assert_eq!(in_order, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn reservoir_is_bounded() {
        let mut r = Reservoir::new(100, 1);
        for i in 0..10_000 {
            r.push(i as f32, i % 2 == 0);
        }
        assert_eq!((r.z.len(), r.seen), (100, 10_000));
        assert!(
            r.z.iter().any(|&z| z >= 100.0),
            "later items are sampled too"
        );
    }
}

//! Training: comments with labels in, a [`Model`] out.
//!
//! 1. Vectorise ([`corpus`]): analyse every comment, count document
//!    frequencies, select features by chi-square, build sparse tf-idf rows.
//! 2. Per label, on the rows labelled for it (`-1` rows are skipped for that
//!    label only): `folds`-fold cross-validation gives out-of-fold decision
//!    values, which fit the Platt calibration and choose the threshold.
//! 3. A final fit on all labelled rows, warm-started from the mean of the fold
//!    models, gives the stored weights.
//!
//! Fits run on `threads` threads as a task graph ([`schedule`]): each task
//! starts as soon as its inputs are ready, the longest chain first.

pub mod augment;
pub mod corpus;
pub mod counterfactual;
pub mod languages;
mod schedule;
pub mod streaming;

use crate::comment::Comment;
use crate::error::{Error, Result};
use crate::features::semantic::{SemanticConfig, SemanticPrior, WordVectors};
use crate::features::{FeatureSpace, NgramConfig, SparseMatrix};
use crate::features::{Lexicon, kmeans};
use crate::metrics;
use crate::model::calibration::Platt;
use crate::model::logistic::{self, LinearWeights, LogisticSettings};
use crate::model::{CrossValidation, LabelModel, Model, TrainingSummary};
use crate::text::AnalyzerConfig;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

/// How a label's decision threshold is chosen on out-of-fold predictions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThresholdRule {
    /// The threshold with the highest F1 (the default).
    MaxF1,
    /// The lowest threshold whose precision reaches the target.
    Precision(f64),
    /// The highest threshold whose recall reaches the target.
    Recall(f64),
}

impl std::fmt::Display for ThresholdRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ThresholdRule::MaxF1 => write!(f, "highest F1"),
            ThresholdRule::Precision(p) => write!(f, "precision >= {p}"),
            ThresholdRule::Recall(r) => write!(f, "recall >= {r}"),
        }
    }
}

/// Training settings. See `moderate train --help` for the command-line names.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Labels to learn, in output order.
    pub labels: Vec<String>,
    /// Analyzer settings.
    pub analyzer: AnalyzerConfig,
    /// N-gram settings.
    pub ngrams: NgramConfig,
    /// Minimum number of training comments a feature must occur in.
    pub min_df: u32,
    /// Number of features kept by chi-square selection.
    pub max_features: usize,
    /// Learner settings.
    pub logistic: LogisticSettings,
    /// Candidate L2 penalties; with two or more, each label takes the one
    /// with the best cross-validated ROC-AUC. Empty: `logistic.alpha`.
    pub alphas: Vec<f32>,
    /// Times each positive row is repeated, per label; labels not listed use
    /// `round(sqrt(negatives / positives))`, at least 1.
    pub positive_repeat: BTreeMap<String, u32>,
    /// Cross-validation folds (0 = none: identity calibration, threshold 0.5).
    /// Ignored when `cv_by` is set.
    pub folds: u32,
    /// Group cross-validation by this field of the comments (e.g. `source`):
    /// one fold per distinct value, so every held-out fold is a group the
    /// model never saw (leave-one-source-out). `None`: `folds` random folds.
    pub cv_by: Option<String>,
    /// How thresholds are chosen.
    pub threshold: ThresholdRule,
    /// Seed for fold assignment.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
    /// Add the semantic block from pretrained word vectors (`None`: off).
    pub semantic: Option<SemanticSettings>,
    /// Most words in the model's word list (0: none, so obfuscated words
    /// are not resolved). Built from the training comments unless
    /// `analyzer.known_words` is already set; only used with
    /// `analyzer.deobfuscate`.
    pub known_words_max: usize,
    /// Perturbed copies of training comments to train on as well.
    pub augment: Option<augment::Augmentation>,
}

/// Where the word vectors of the semantic block come from and how much the
/// block weighs (see [`crate::features::semantic`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SemanticSettings {
    /// GloVe-format vector file (`.gz` or plain text).
    pub vectors: std::path::PathBuf,
    /// Scale of the pooled vector against the unit-norm n-gram blocks.
    pub weight: f32,
    /// Words of the file kept, most frequent first.
    pub max_words: usize,
    /// Cluster counts of the cluster tokens, coarsest first (empty: none);
    /// the block's weight is `ngrams.cluster_weight`.
    pub clusters: Vec<usize>,
}

/// Default size bound of the word list: a few hundred kB in the model file.
pub const DEFAULT_KNOWN_WORDS: usize = 50_000;

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            labels: vec!["abusive".into(), "violent".into()],
            analyzer: AnalyzerConfig::default(),
            ngrams: NgramConfig {
                word_bigrams: true,
                char_ngrams: Some((2, 5)),
                norm_unselected: true,
                norm_per_block: true,
                lexicon: None,
                cluster_weight: 0.0,
            },
            min_df: 2,
            max_features: 20_000,
            logistic: LogisticSettings::default(),
            alphas: vec![0.1, 0.25, 0.5, 1.0],
            positive_repeat: BTreeMap::new(),
            folds: 3,
            cv_by: None,
            threshold: ThresholdRule::MaxF1,
            seed: 1,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            semantic: None,
            known_words_max: DEFAULT_KNOWN_WORDS,
            augment: None,
        }
    }
}

impl TrainConfig {
    /// The analyzer settings training uses for `texts`: `analyzer` with the
    /// word list built from `texts` when one is wanted and none is given.
    pub fn analyzer_for(&self, texts: &[&str]) -> AnalyzerConfig {
        let mut analyzer = self.analyzer.clone();
        if analyzer.known_words.is_none() && analyzer.deobfuscate && self.known_words_max > 0 {
            analyzer.known_words = Some(corpus::build_known_words(
                texts,
                &analyzer,
                self.threads,
                self.known_words_max,
            ));
        }
        analyzer
    }

    /// The alphas cross-validation chooses from.
    pub fn alpha_grid(&self) -> Vec<f32> {
        if self.alphas.is_empty() {
            vec![self.logistic.alpha]
        } else {
            self.alphas.clone()
        }
    }

    /// Checks every setting's range.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.labels.is_empty() {
            return bad("at least one label is needed".into());
        }
        if self.max_features == 0 {
            return bad("--max-features must be at least 1".into());
        }
        if let Some(a) = self
            .alpha_grid()
            .into_iter()
            .find(|a| !(a.is_finite() && *a >= 0.0))
        {
            return bad(format!("--alpha must be a finite number >= 0, not {a}"));
        }
        if self.alpha_grid().len() > 1 && self.folds < 2 && self.cv_by.is_none() {
            return bad("choosing among several --alpha values needs --cv 2 or more".into());
        }
        if self.cv_by.is_none() && (self.folds == 1 || self.folds > 20) {
            return bad(format!(
                "--cv must be 0 (off) or between 2 and 20, not {}",
                self.folds
            ));
        }
        match self.threshold {
            ThresholdRule::Precision(t) | ThresholdRule::Recall(t) if !(t > 0.0 && t <= 1.0) => {
                return bad(format!(
                    "target precision/recall must be in (0, 1], not {t}"
                ));
            }
            _ => {}
        }
        if let Some(sem) = &self.semantic
            && !(sem.weight.is_finite() && sem.weight >= 0.0 && sem.max_words > 0)
        {
            return bad(format!(
                "--semantic-weight must be >= 0 and --vector-words at least 1, not {} and {}",
                sem.weight, sem.max_words
            ));
        }
        if !(self.ngrams.cluster_weight.is_finite() && self.ngrams.cluster_weight >= 0.0) {
            return bad(format!(
                "--cluster-weight must be a finite number >= 0, not {}",
                self.ngrams.cluster_weight
            ));
        }
        if let Some((l, _)) = self.positive_repeat.iter().find(|(_, r)| **r == 0) {
            return bad(format!("positive repeat for `{l}` must be at least 1"));
        }
        if let Some(a) = &self.augment
            && !(a.rate > 0.0 && a.rate <= 1.0)
        {
            return bad(format!("--augment must be in (0, 1], not {}", a.rate));
        }
        Ok(())
    }
}

/// Stages reported while training, for progress display.
#[derive(Debug, Clone)]
pub enum Progress {
    /// Vectorising started.
    Vectorizing {
        /// Comments to vectorise.
        rows: usize,
    },
    /// Vectorising finished.
    Vectorized {
        /// Selected feature count.
        features: usize,
        /// Distinct n-grams before selection.
        candidates: u64,
    },
    /// A fit finished.
    FitDone {
        /// Label name.
        label: String,
        /// Fold number (`None` for the final fit).
        fold: Option<u32>,
        /// Held-out ROC-AUC of the fold.
        roc_auc: Option<f64>,
        /// Fits finished so far.
        done: usize,
        /// Fits in all.
        total: usize,
    },
}

/// What happened during training, for the summary the CLI prints.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// Per label: rows used (positive, negative) and skipped as unlabelled.
    pub rows: BTreeMap<String, [u64; 3]>,
    /// Selected features.
    pub features: usize,
    /// Seconds spent vectorising.
    pub vectorize_seconds: f64,
    /// Seconds spent fitting (all labels and folds).
    pub fit_seconds: f64,
    /// Names of the cross-validation folds when they are groups (`cv_by`),
    /// in fold order; empty for random folds.
    pub fold_names: Vec<String>,
    /// Perturbed copies trained on besides the comments (`--augment`).
    pub augmented_rows: usize,
    /// Per label, every labelled comment's out-of-fold decision value as
    /// `(comment index, z)`, from the fold model that did not see it (at the
    /// chosen alpha); empty without cross-validation.
    pub out_of_fold: Vec<Vec<(u32, f32)>>,
}

/// Trains a model on `comments`.
pub fn train(
    comments: &[Comment],
    data_files: &[String],
    config: &TrainConfig,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(Model, TrainReport)> {
    config.validate()?;
    if comments.is_empty() {
        return Err(Error::Training("no training comments".into()));
    }
    if comments.iter().all(|c| c.text.trim().is_empty()) {
        return Err(Error::Training(
            "every training comment has empty text".into(),
        ));
    }
    let n_labels = config.labels.len();
    let labels: Vec<Vec<Option<bool>>> = comments
        .iter()
        .map(|c| {
            config
                .labels
                .iter()
                .map(|l| c.labels.get(l).copied().flatten())
                .collect()
        })
        .collect();
    let mut counts = BTreeMap::new();
    for (l, name) in config.labels.iter().enumerate() {
        let mut c = [0u64; 3];
        for row in &labels {
            match row[l] {
                Some(true) => c[0] += 1,
                Some(false) => c[1] += 1,
                None => c[2] += 1,
            }
        }
        if c[0] == 0 || c[1] == 0 {
            return Err(Error::Training(format!(
                "label `{name}` has {} positive and {} negative rows; both classes are needed \
                 (is the `{name}` column present and filled?)",
                c[0], c[1]
            )));
        }
        let needed = if config.cv_by.is_some() {
            2
        } else {
            2 * config.folds.max(1) as u64
        };
        if c[0] < needed || c[1] < needed {
            return Err(Error::Training(format!(
                "label `{name}` has too few rows ({} positive, {} negative) for {}-fold \
                 cross-validation; add data or lower --cv",
                c[0], c[1], config.folds
            )));
        }
        counts.insert(name.clone(), c);
    }

    let started = Instant::now();
    progress(Progress::Vectorizing {
        rows: comments.len(),
    });
    let mut texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
    // The word list comes from the real comments, before any copy is added.
    let analyzer = config.analyzer_for(&texts);
    let copies = config
        .augment
        .as_ref()
        .map(|a| a.copies(&texts))
        .unwrap_or_default();
    // Row r >= comments.len() is a copy of row `source[r - comments.len()]`.
    let source: Vec<u32> = copies.iter().map(|c| c.0).collect();
    texts.extend(copies.iter().map(|c| c.1.as_str()));
    let copied: Vec<Vec<Option<bool>>> =
        source.iter().map(|&r| labels[r as usize].clone()).collect();
    let mut labels = labels;
    labels.extend(copied);
    let originals = comments.len();
    let repeats: Vec<u32> = (0..n_labels)
        .map(|l| {
            let c = counts[&config.labels[l]];
            config
                .positive_repeat
                .get(&config.labels[l])
                .copied()
                .unwrap_or_else(|| ((c[1] as f64 / c[0] as f64).sqrt().round() as u32).max(1))
        })
        .collect();
    // Analyse every comment once; every split then fits its own feature
    // selection and idf on its training rows only, so held-out scores are honest.
    let vectors = match &config.semantic {
        Some(sem) => Some(WordVectors::load(&sem.vectors, sem.max_words)?),
        None => None,
    };
    // The word table goes into the n-gram settings, so every split, the
    // stored model and scoring look words up the same way.
    let mut ngrams = config.ngrams.clone();
    if let (Some(v), Some(sem)) = (&vectors, &config.semantic) {
        ngrams.lexicon = Some(std::sync::Arc::new(build_lexicon(
            v,
            &sem.clusters,
            config.seed,
        )));
    }
    let config = &TrainConfig {
        ngrams,
        ..config.clone()
    };
    let semantic = vectors
        .as_ref()
        .zip(config.semantic.as_ref())
        .filter(|(_, s)| s.weight > 0.0)
        .map(|(v, s)| (v, s.weight));
    let analyzed = corpus::Analyzed::with_vectors(
        &texts,
        &analyzer,
        &config.ngrams,
        semantic.map(|(v, _)| v),
        config.threads,
    );
    let folds = assign_folds(comments, config)?;
    let n_folds = folds.count();
    let mut splits = Vec::with_capacity(n_folds as usize);
    for f in 0..n_folds {
        // A copy trains with its comment's fold and is never held out.
        let role = |r: usize| match r.checked_sub(originals) {
            None if folds.of[r] == f => Role::HeldOut,
            None => Role::Train,
            Some(c) if folds.of[source[c] as usize] == f => Role::Skip,
            Some(_) => Role::Train,
        };
        splits.push(Split::build(&analyzed, &labels, role, config, semantic));
    }
    let mut full = Split::build(&analyzed, &labels, |_| Role::Train, config, semantic);
    // The per-comment n-grams are only needed to build the splits.
    drop(analyzed);
    if full.corpus.space.is_empty() {
        return Err(Error::Training(format!(
            "no feature occurs in at least {} comments; lower --min-df or add data",
            config.min_df
        )));
    }
    corpus::name_features(&mut full.corpus.space, &texts, &analyzer, config.threads);
    progress(Progress::Vectorized {
        features: full.corpus.space.len(),
        candidates: full.corpus.candidate_features,
    });
    let vectorize_seconds = started.elapsed().as_secs_f64();

    // The fits form a small task graph (see `schedule`): per label, one
    // cross-validation task per fold walks the alpha grid with the sparse
    // solver of linfa's objective (choosing alpha and giving out-of-fold
    // decisions for calibration and thresholds); then a pre-solve at the
    // chosen alpha, the label's dense matrix, and linfa's fit on it. Labels
    // with more rows go first: their final fit is the longest chain.
    let fit_started = Instant::now();
    let alphas = config.alpha_grid();
    // Each fold's alpha path runs from the strongest regularisation down,
    // warm-starting every solve from the previous solution (a
    // regularisation path): same optima, fewer iterations.
    let mut path: Vec<usize> = (0..alphas.len()).collect();
    path.sort_by(|&a, &b| alphas[b].total_cmp(&alphas[a]));
    let final_rows: Vec<(Vec<u32>, Vec<bool>)> = (0..n_labels)
        .map(|l| labelled_rows(&full.labels, l, repeats[l]))
        .collect();
    for (rows, y) in &final_rows {
        logistic::check_dense_fit(rows.len(), full.corpus.matrix.ncols(), y)?;
    }
    let mut label_order: Vec<usize> = (0..n_labels).collect();
    label_order.sort_by_key(|&l| std::cmp::Reverse(final_rows[l].0.len()));
    let graph = FitGraph::new(n_labels, n_folds as usize);
    let total = graph.cv_tasks() + n_labels;
    let done = Mutex::new(0usize);
    let tick = |label: usize, fold: Option<u32>, roc_auc: Option<f64>| {
        let mut d = done.lock().unwrap_or_else(|e| e.into_inner());
        *d += 1;
        progress(Progress::FitDone {
            label: config.labels[label].clone(),
            fold,
            roc_auc,
            done: *d,
            total,
        });
    };
    // Results pass between tasks through these slots. The folds' matrices
    // are freed as soon as the last cross-validation task ends, before any
    // dense matrix is built (peak memory).
    let splits = Mutex::new(Some(std::sync::Arc::new(splits)));
    let cv_left = Mutex::new(graph.cv_tasks());
    let fold_fits: Vec<Slot<Vec<FoldFit>>> =
        (0..graph.cv_tasks()).map(|_| Mutex::new(None)).collect();
    let outcomes: Vec<Slot<(CvOutcome, Option<LinearWeights>)>> =
        (0..n_labels).map(|_| Mutex::new(None)).collect();
    let dense: Vec<Slot<ndarray::Array2<f32>>> = (0..n_labels).map(|_| Mutex::new(None)).collect();
    let finals: Vec<Slot<LinearWeights>> = (0..n_labels).map(|_| Mutex::new(None)).collect();

    schedule::run_graph(
        &graph.deps(),
        &graph.priority(&label_order),
        config.threads,
        |task| {
            match graph.task(task) {
                FitTask::Fold { label: l, fold: f } => {
                    let all = splits.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let all = all.ok_or_else(|| {
                        Error::Training("a fold ran after the folds were freed".into())
                    })?;
                    let by_alpha = fit_fold_path(
                        &all[f],
                        &full.corpus.space,
                        l,
                        repeats[l],
                        &alphas,
                        &path,
                        config,
                    );
                    drop(all);
                    let best = by_alpha
                        .iter()
                        .filter_map(|r| r.roc_auc)
                        .fold(f64::NAN, f64::max);
                    put_slot(&fold_fits[graph.cv_index(l, f)], by_alpha);
                    let mut left = cv_left.lock().unwrap_or_else(|e| e.into_inner());
                    *left -= 1;
                    if *left == 0 {
                        take_slot(&splits);
                    }
                    drop(left);
                    tick(l, Some(f as u32), (!best.is_nan()).then_some(best));
                }
                FitTask::Presolve { label: l } => {
                    let fits: Vec<Vec<FoldFit>> = (0..graph.folds)
                        .map(|f| take_slot(&fold_fits[graph.cv_index(l, f)]).unwrap_or_default())
                        .collect();
                    let outcome = choose_alpha(&alphas, &fits);
                    let (rows, y) = &final_rows[l];
                    let settings = LogisticSettings {
                        alpha: outcome.alpha,
                        ..config.logistic
                    };
                    let start = if settings.presolve {
                        Some(logistic::presolve_final(
                            &full.corpus.matrix,
                            rows,
                            y,
                            &settings,
                            outcome.start.as_ref(),
                        ))
                    } else {
                        outcome.start.clone()
                    };
                    put_slot(&outcomes[l], (outcome, start));
                }
                FitTask::Densify { label: l } => {
                    put_slot(
                        &dense[l],
                        logistic::densify(&full.corpus.matrix, &final_rows[l].0),
                    );
                }
                FitTask::Linfa { label: l } => {
                    let matrix = take_slot(&dense[l]);
                    let guard = outcomes[l].lock().unwrap_or_else(|e| e.into_inner());
                    let (Some(matrix), Some((outcome, start))) = (matrix, guard.as_ref()) else {
                        return Err(Error::Training("a final fit lost its input".into()));
                    };
                    let settings = LogisticSettings {
                        alpha: outcome.alpha,
                        ..config.logistic
                    };
                    let w =
                        logistic::fit_dense(matrix, &final_rows[l].1, &settings, start.as_ref())?;
                    drop(guard);
                    put_slot(&finals[l], w);
                    tick(l, None, None);
                }
            }
            Ok(())
        },
    )?;

    let mut label_models = Vec::with_capacity(n_labels);
    let n_space = full.corpus.space.len();
    let mut dim_weights = Vec::with_capacity(n_labels);
    let mut out_of_fold = Vec::with_capacity(n_labels);
    for l in 0..n_labels {
        let (Some(mut linear), Some((cv, _))) = (take_slot(&finals[l]), take_slot(&outcomes[l]))
        else {
            return Err(Error::Training("a final fit did not run".into()));
        };
        out_of_fold.push(
            cv.oof_rows
                .iter()
                .copied()
                .zip(cv.oof_z.iter().copied())
                .collect(),
        );
        // The semantic block's weights become per-word scores below.
        dim_weights.push(linear.weights.split_off(n_space.min(linear.weights.len())));
        label_models.push(finish_label(config, &folds, l, repeats[l], linear, cv));
    }
    let semantic = semantic.zip(config.semantic.as_ref()).map(|((v, _), s)| {
        let name = s.vectors.file_name().map_or_else(
            || s.vectors.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        SemanticPrior::project(
            SemanticConfig {
                weight: s.weight,
                max_words: s.max_words,
                source: name,
            },
            v,
            &dim_weights,
        )
    });
    let fit_seconds = fit_started.elapsed().as_secs_f64();

    let mut sources = BTreeMap::new();
    for c in comments {
        if let Some(s) = c.fields.get("source") {
            *sources.entry(s.clone()).or_insert(0u64) += 1;
        }
    }
    let corpus = full.corpus;
    let mut limitations = standard_limitations(&counts);
    if let Some(lexicon) = corpus.space.ngrams.lexicon.as_deref() {
        limitations.push(format!(
            "Word-vector prior: the {} most frequent words of general English text (Wikipedia \
             and newswire) carry word-cluster features{}. A word outside that list gets none, \
             and the vectors carry their source's associations, which can pull an innocent \
             comment towards the words it sits near.",
            lexicon.len(),
            if semantic.is_some() {
                " and a per-word prior"
            } else {
                ""
            }
        ));
    }
    let model = Model {
        analyzer,
        features: corpus.space,
        semantic,
        labels: label_models,
        training: TrainingSummary {
            data_files: data_files.to_vec(),
            rows: comments.len() as u64,
            sources,
            label_counts: counts.clone(),
            candidate_features: corpus.candidate_features,
            min_df: config.min_df,
            moderate_version: env!("CARGO_PKG_VERSION").to_string(),
            seed: config.seed,
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
            rows: counts,
            features,
            vectorize_seconds,
            fit_seconds,
            fold_names: folds.names.clone(),
            augmented_rows: copies.len(),
            out_of_fold,
        },
    ))
}

/// The model's word table: the vectors' words with their clusters at every
/// granularity of `levels` (hierarchical spherical k-means, seeded).
pub fn build_lexicon(vectors: &WordVectors, levels: &[usize], seed: u64) -> Lexicon {
    let ids = kmeans::hierarchical(vectors.data(), vectors.dims(), levels, seed);
    Lexicon::new(
        vectors.words().to_vec(),
        levels.iter().map(|&k| k as u32).collect(),
        &ids,
    )
}

/// Which cross-validation fold each training row is held out in.
#[derive(Debug, Clone)]
pub struct Folds {
    /// Fold of each row.
    pub of: Vec<u32>,
    /// Fold names: the group values with `cv_by`, else empty (random folds).
    pub names: Vec<String>,
    /// The field the folds are grouped by.
    pub grouped_by: Option<String>,
    count: u32,
}

impl Folds {
    /// Number of folds (0 = no cross-validation).
    pub fn count(&self) -> u32 {
        self.count
    }

    /// "3-fold" or "leave-one-`source`-out (9 groups)".
    pub fn describe(&self) -> String {
        match &self.grouped_by {
            Some(field) => format!("leave-one-{field}-out ({} groups)", self.count),
            None => format!("{}-fold", self.count),
        }
    }
}

/// Assigns every row to a fold: by a seeded hash of the row number into
/// `config.folds` folds, or with `config.cv_by` one fold per distinct value
/// of that field (in sorted order), so each fold holds out a whole group.
pub fn assign_folds(comments: &[Comment], config: &TrainConfig) -> Result<Folds> {
    let Some(field) = &config.cv_by else {
        let k = config.folds;
        let of = (0..comments.len() as u64)
            .map(|r| {
                (crate::features::hash::mix(r ^ config.seed.rotate_left(32)) % u64::from(k.max(1)))
                    as u32
            })
            .collect();
        return Ok(Folds {
            of,
            names: Vec::new(),
            grouped_by: None,
            count: k,
        });
    };
    let mut names: Vec<String> = Vec::new();
    for (r, c) in comments.iter().enumerate() {
        match c.fields.get(field) {
            Some(v) if !v.is_empty() => names.push(v.clone()),
            _ => {
                return Err(Error::Training(format!(
                    "--cv-by {field}: training record {} (id {}) has no `{field}` value",
                    r + 1,
                    c.id
                )));
            }
        }
    }
    names.sort_unstable();
    names.dedup();
    if names.len() < 2 || names.len() > 64 {
        return Err(Error::Training(format!(
            "--cv-by {field} needs between 2 and 64 distinct values, found {}",
            names.len()
        )));
    }
    let of = comments
        .iter()
        .map(|c| {
            let v = c.fields.get(field).map_or("", String::as_str);
            names.binary_search_by(|n| n.as_str().cmp(v)).unwrap_or(0) as u32
        })
        .collect();
    let count = names.len() as u32;
    Ok(Folds {
        of,
        names,
        grouped_by: Some(field.clone()),
        count,
    })
}

/// What cross-validation found for one label.
struct CvOutcome {
    /// The chosen alpha.
    alpha: f32,
    /// Every alpha tried with its mean held-out ROC-AUC.
    tried: Vec<(f32, f64)>,
    /// Out-of-fold decision values at the chosen alpha.
    oof_z: Vec<f32>,
    /// Their targets.
    oof_y: Vec<bool>,
    /// Their comment indices.
    oof_rows: Vec<u32>,
    /// Held-out ROC-AUC per fold.
    fold_auc: Vec<f64>,
    /// The fold models at the chosen alpha averaged into the final feature
    /// space: the final fit's starting point (`None` without folds).
    start: Option<LinearWeights>,
}

/// One cross-validation solve: a fold's model at one alpha and its held-out
/// decisions.
#[derive(Debug, Clone, Default)]
struct FoldFit {
    /// Held-out decision values.
    z: Vec<f32>,
    /// Their targets.
    y: Vec<bool>,
    /// Their comment indices.
    rows: Vec<u32>,
    /// Held-out ROC-AUC (`None` if the fold lacks a class).
    roc_auc: Option<f64>,
    /// The fold model's weights moved into the final feature space (see
    /// [`project_weights`]), so the fold's own matrices can be freed early.
    in_full: Vec<Option<f32>>,
    /// The fold model's intercept.
    intercept: f32,
}

/// A fold model's weights in `space`, matched by n-gram hash: `None` where
/// the fold's own feature space lacks the feature.
fn project_weights(
    space: &FeatureSpace,
    fold_space: &FeatureSpace,
    w: &LinearWeights,
) -> Vec<Option<f32>> {
    // Columns past the n-gram space (the semantic block) are the same
    // dimensions in every split.
    let tail = w.weights.get(fold_space.len()..).unwrap_or_default();
    space
        .hashes
        .iter()
        .map(|&h| fold_space.column(h).map(|c| w.weights[c as usize]))
        .chain(tail.iter().map(|&v| Some(v)))
        .collect()
}

/// Averages fold models (projected with [`project_weights`]): each
/// feature's weight is the mean over the folds that have it, zero if none
/// has it; the intercept is the plain mean. Folds select and weigh features
/// slightly differently, so this is only a starting point.
fn mean_fold_model(folds: &[&FoldFit]) -> Option<LinearWeights> {
    let first = folds.first()?;
    let weights = (0..first.in_full.len())
        .map(|i| {
            let (sum, n) = folds
                .iter()
                .filter_map(|f| f.in_full.get(i).copied().flatten())
                .fold((0.0f32, 0u32), |(s, n), v| (s + v, n + 1));
            if n == 0 { 0.0 } else { sum / n as f32 }
        })
        .collect();
    let intercept = folds.iter().map(|f| f.intercept).sum::<f32>() / folds.len() as f32;
    Some(LinearWeights { weights, intercept })
}

/// One cross-validation task: label `l` on one fold, every alpha of the grid
/// in `path` order (strongest penalty first), each solve warm-started from
/// the previous one. Results are indexed like `alphas`.
fn fit_fold_path(
    split: &Split,
    full_space: &FeatureSpace,
    l: usize,
    repeat: u32,
    alphas: &[f32],
    path: &[usize],
    config: &TrainConfig,
) -> Vec<FoldFit> {
    let (rows, y) = labelled_rows(&split.labels, l, repeat);
    let mut by_alpha: Vec<FoldFit> = vec![FoldFit::default(); alphas.len()];
    let mut previous: Option<LinearWeights> = None;
    for &a in path {
        let settings = LogisticSettings {
            alpha: alphas[a],
            ..config.logistic
        };
        let w = logistic::presolve_fit(
            &split.corpus.matrix,
            &rows,
            &y,
            &settings,
            previous.as_ref(),
        );
        let (z, y, held) = match &split.held_out {
            Some((matrix, labels)) => {
                let (rows, y) = labelled_rows(labels, l, 1);
                let z: Vec<f32> = rows
                    .iter()
                    .map(|&r| w.decision(matrix, r as usize))
                    .collect();
                let held = rows
                    .iter()
                    .map(|&r| split.held_out_rows[r as usize])
                    .collect();
                (z, y, held)
            }
            None => (Vec::new(), Vec::new(), Vec::new()),
        };
        let roc_auc = metrics::roc_auc(&z, &y);
        by_alpha[a] = FoldFit {
            z,
            y,
            rows: held,
            roc_auc,
            in_full: project_weights(full_space, &split.corpus.space, &w),
            intercept: w.intercept,
        };
        previous = Some(w);
    }
    by_alpha
}

/// Chooses a label's alpha from its folds' results (`fits[fold][alpha]`):
/// the best mean held-out ROC-AUC (the first alpha on ties), with that
/// alpha's out-of-fold decisions and averaged fold models.
fn choose_alpha(alphas: &[f32], fits: &[Vec<FoldFit>]) -> CvOutcome {
    let mut best: Option<(f64, usize)> = None;
    let mut tried = Vec::new();
    for (a, &alpha) in alphas.iter().enumerate() {
        // A fold with one class only (a held-out group without positives,
        // say) has no ROC-AUC and does not vote.
        let aucs: Vec<f64> = fits
            .iter()
            .filter_map(|fold| fold.get(a))
            .filter_map(|r| r.roc_auc)
            .collect();
        let mean = if aucs.is_empty() {
            f64::NAN
        } else {
            aucs.iter().sum::<f64>() / aucs.len() as f64
        };
        tried.push((alpha, mean));
        if best.is_none_or(|(m, _)| mean > m || (m.is_nan() && !mean.is_nan())) {
            best = Some((mean, a));
        }
    }
    let a = best.map_or(0, |b| b.1);
    let (mut oof_z, mut oof_y, mut fold_auc) = (Vec::new(), Vec::new(), Vec::new());
    let mut oof_rows = Vec::new();
    let mut chosen = Vec::new();
    for fit in fits.iter().filter_map(|fold| fold.get(a)) {
        oof_z.extend_from_slice(&fit.z);
        oof_y.extend_from_slice(&fit.y);
        oof_rows.extend_from_slice(&fit.rows);
        fold_auc.push(fit.roc_auc.unwrap_or(f64::NAN));
        chosen.push(fit);
    }
    CvOutcome {
        alpha: alphas.get(a).copied().unwrap_or(0.0),
        tried,
        oof_z,
        oof_y,
        oof_rows,
        fold_auc,
        start: mean_fold_model(&chosen),
    }
}

/// One task of the training graph.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FitTask {
    /// Cross-validation of `label` on `fold` along the alpha grid.
    Fold { label: usize, fold: usize },
    /// Choose `label`'s alpha and pre-solve its final fit.
    Presolve { label: usize },
    /// Build `label`'s dense matrix for linfa.
    Densify { label: usize },
    /// linfa's fit of `label` on its dense matrix.
    Linfa { label: usize },
}

/// The training task graph: every label's folds, then per label a pre-solve
/// (after its folds), a dense matrix (after all folds, so the folds'
/// matrices are freed first) and linfa's fit (after both).
struct FitGraph {
    labels: usize,
    folds: usize,
}

impl FitGraph {
    fn new(labels: usize, folds: usize) -> Self {
        Self { labels, folds }
    }

    /// How many cross-validation tasks there are (they come first).
    fn cv_tasks(&self) -> usize {
        self.labels * self.folds
    }

    /// The task index of label `l`'s fold `f`.
    fn cv_index(&self, l: usize, f: usize) -> usize {
        l * self.folds + f
    }

    fn index(&self, task: FitTask) -> usize {
        let cv = self.cv_tasks();
        match task {
            FitTask::Fold { label, fold } => self.cv_index(label, fold),
            FitTask::Presolve { label } => cv + label,
            FitTask::Densify { label } => cv + self.labels + label,
            FitTask::Linfa { label } => cv + 2 * self.labels + label,
        }
    }

    fn task(&self, i: usize) -> FitTask {
        let cv = self.cv_tasks();
        if i < cv {
            return FitTask::Fold {
                label: i / self.folds,
                fold: i % self.folds,
            };
        }
        let (kind, label) = ((i - cv) / self.labels, (i - cv) % self.labels);
        match kind {
            0 => FitTask::Presolve { label },
            1 => FitTask::Densify { label },
            _ => FitTask::Linfa { label },
        }
    }

    fn deps(&self) -> Vec<Vec<usize>> {
        (0..self.cv_tasks() + 3 * self.labels)
            .map(|i| match self.task(i) {
                FitTask::Fold { .. } => Vec::new(),
                FitTask::Presolve { label } => {
                    (0..self.folds).map(|f| self.cv_index(label, f)).collect()
                }
                FitTask::Densify { .. } => (0..self.cv_tasks()).collect(),
                FitTask::Linfa { label } => vec![
                    self.index(FitTask::Presolve { label }),
                    self.index(FitTask::Densify { label }),
                ],
            })
            .collect()
    }

    /// Final fits before pre-solves before folds before dense matrices, each
    /// kind in `label_order` (the longest chains first).
    fn priority(&self, label_order: &[usize]) -> Vec<usize> {
        let mut order = Vec::with_capacity(self.cv_tasks() + 3 * self.labels);
        for &label in label_order {
            order.push(self.index(FitTask::Linfa { label }));
        }
        for &label in label_order {
            order.push(self.index(FitTask::Presolve { label }));
        }
        for &label in label_order {
            for fold in 0..self.folds {
                order.push(self.index(FitTask::Fold { label, fold }));
            }
        }
        for &label in label_order {
            order.push(self.index(FitTask::Densify { label }));
        }
        order
    }
}

/// Calibrates, picks the threshold and assembles one label's model.
fn finish_label(
    config: &TrainConfig,
    folds: &Folds,
    l: usize,
    repeat: u32,
    linear: LinearWeights,
    cv: CvOutcome,
) -> LabelModel {
    let settings = LogisticSettings {
        alpha: cv.alpha,
        ..config.logistic
    };
    let CvOutcome {
        tried: alpha_cv,
        oof_z,
        oof_y,
        fold_auc: fold_roc_auc,
        ..
    } = cv;
    let (oof_z, oof_y) = (oof_z.as_slice(), oof_y.as_slice());
    let name = config.labels[l].clone();
    let (calibration, threshold, rule, cross_validation) = if folds.count() >= 2 {
        let c = calibrate(oof_z, oof_y, config.threshold);
        let cv = CrossValidation {
            folds: folds.count(),
            alpha_roc_auc: alpha_cv,
            fold_roc_auc,
            roc_auc: c.roc_auc,
            pr_auc: c.pr_auc,
            precision: c.precision,
            recall: c.recall,
        };
        let rule = format!(
            "{} on {} out-of-fold predictions of the training data",
            config.threshold,
            folds.describe()
        );
        (c.calibration, c.threshold, rule, Some(cv))
    } else {
        (
            Platt::default(),
            0.5,
            "fixed at 0.5 (trained without cross-validation)".to_string(),
            None,
        )
    };
    LabelModel {
        definition: label_definition(&name),
        name,
        linear,
        calibration,
        threshold,
        threshold_rule: rule,
        settings,
        positive_repeat: repeat,
        cross_validation,
    }
}

/// What [`calibrate`] finds on held-out decision values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibrated {
    /// The Platt calibration fitted on them.
    pub calibration: Platt,
    /// The threshold the rule chose on the calibrated probabilities (0.5
    /// when it cannot choose, e.g. with one class only).
    pub threshold: f32,
    /// ROC-AUC of the calibrated probabilities (NaN with one class).
    pub roc_auc: f64,
    /// Average precision (NaN with one class).
    pub pr_auc: f64,
    /// Precision at the threshold.
    pub precision: f64,
    /// Recall at the threshold.
    pub recall: f64,
}

/// Fits the Platt calibration on held-out decision values `z` with targets
/// `y` and chooses the threshold by `rule`: the same step for
/// cross-validation (logistic learner) and for the held-out slice
/// (streaming learner).
pub fn calibrate(z: &[f32], y: &[bool], rule: ThresholdRule) -> Calibrated {
    let calibration = Platt::fit(z, y);
    let probs: Vec<f32> = z.iter().map(|&z| calibration.probability(z)).collect();
    let threshold = match rule {
        ThresholdRule::MaxF1 => metrics::threshold_max_f1(&probs, y),
        ThresholdRule::Precision(p) => metrics::threshold_for_precision(&probs, y, p),
        ThresholdRule::Recall(r) => metrics::threshold_for_recall(&probs, y, r),
    }
    .unwrap_or(0.5);
    let confusion = metrics::Confusion::at(&probs, y, threshold);
    Calibrated {
        calibration,
        threshold,
        roc_auc: metrics::roc_auc(&probs, y).unwrap_or(f64::NAN),
        pr_auc: metrics::average_precision(&probs, y).unwrap_or(f64::NAN),
        precision: confusion.precision(),
        recall: confusion.recall(),
    }
}

/// The limitation an English-only model states (replaced in the card of a
/// model with languages; see [`crate::model::Model::known_limitations`]).
pub const ENGLISH_ONLY: &str = "English only: other languages are tokenised, but the stemmer and \
     the training data are English.";

/// Limitations every model of this kind has, plus what its training counts show.
pub fn standard_limitations(counts: &BTreeMap<String, [u64; 3]>) -> Vec<String> {
    let mut out = vec![
        "Bag-of-words model: it reads words and short phrases, not meaning. Idiom such as \
         'killed it' or 'destroyed them' can look violent, veiled threats without violent \
         words are missed, and quoting or condemning abuse can look like abuse."
            .to_string(),
        ENGLISH_ONLY.to_string(),
    ];
    for (label, c) in counts {
        if c[0] < 2000 {
            out.push(format!(
                "`{label}` was learned from only {} positive comments, so its precision is low \
                 at any useful recall; rank by score and review.",
                c[0]
            ));
        }
    }
    out
}

/// The definition shown in the model card for the built-in labels.
pub fn label_definition(name: &str) -> String {
    match name {
        "abusive" => "insults, harassment, dehumanising or hateful language".into(),
        "violent" => "threatens, incites, calls for or cheers violence".into(),
        other => format!("`{other}` as labelled in the training data"),
    }
}

/// A training split: a corpus fitted on some rows and, for a
/// cross-validation fold, the held-out rows vectorised with it.
struct Split {
    corpus: corpus::Corpus,
    labels: Vec<Vec<Option<bool>>>,
    held_out: Option<(SparseMatrix, Vec<Vec<Option<bool>>>)>,
    /// The comment index of each held-out row.
    held_out_rows: Vec<u32>,
}

/// What a row does in a [`Split`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Fitted on.
    Train,
    /// Scored by the split's model.
    HeldOut,
    /// Neither (a perturbed copy of a held-out comment).
    Skip,
}

impl Split {
    /// Fits on the rows whose `role` is [`Role::Train`] and scores those
    /// held out.
    fn build(
        analyzed: &corpus::Analyzed,
        labels: &[Vec<Option<bool>>],
        role: impl Fn(usize) -> Role,
        config: &TrainConfig,
        semantic: Option<(&WordVectors, f32)>,
    ) -> Split {
        let (mut tr_docs, mut tr_labels, mut ho_docs, mut ho_labels) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (r, l) in labels.iter().enumerate() {
            match role(r) {
                Role::Train => {
                    tr_docs.push(r as u32);
                    tr_labels.push(l.clone());
                }
                Role::HeldOut => {
                    ho_docs.push(r as u32);
                    ho_labels.push(l.clone());
                }
                Role::Skip => {}
            }
        }
        let mut corpus = analyzed.fit(
            &tr_docs,
            &tr_labels,
            &config.ngrams,
            config.min_df,
            config.max_features,
            config.threads,
        );
        if let Some((v, w)) = semantic {
            corpus.matrix = analyzed.with_semantic_block(&corpus.matrix, &tr_docs, v, w);
        }
        let held_out = (!ho_docs.is_empty()).then(|| {
            let mut m = analyzed.rows(&corpus.space, &ho_docs, config.threads);
            if let Some((v, w)) = semantic {
                m = analyzed.with_semantic_block(&m, &ho_docs, v, w);
            }
            (m, ho_labels)
        });
        Split {
            corpus,
            labels: tr_labels,
            held_out,
            held_out_rows: ho_docs,
        }
    }
}

/// Rows labelled for label `l` and their targets, positives repeated `repeat` times.
fn labelled_rows(labels: &[Vec<Option<bool>>], l: usize, repeat: u32) -> (Vec<u32>, Vec<bool>) {
    let mut rows = Vec::new();
    let mut y = Vec::new();
    for (r, row) in labels.iter().enumerate() {
        if let Some(t) = row[l] {
            for _ in 0..if t { repeat } else { 1 } {
                rows.push(r as u32);
                y.push(t);
            }
        }
    }
    (rows, y)
}

/// Where one task leaves a result for another.
type Slot<T> = Mutex<Option<T>>;

/// Takes the value out of a slot that passes results between tasks.
fn take_slot<T>(slot: &Slot<T>) -> Option<T> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// Stores a task's result in its slot.
fn put_slot<T>(slot: &Slot<T>, value: T) {
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
}

/// The feature space and matrix of a training set (as the final model of
/// `train` would see it), for experiments and tests. Uses `config.analyzer`
/// as given: to match `train` with a word list, set it first with
/// [`TrainConfig::analyzer_for`].
pub fn vectorize(comments: &[Comment], config: &TrainConfig) -> (FeatureSpace, SparseMatrix) {
    let labels: Vec<Vec<Option<bool>>> = comments
        .iter()
        .map(|c| {
            config
                .labels
                .iter()
                .map(|l| c.labels.get(l).copied().flatten())
                .collect()
        })
        .collect();
    let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
    let analyzed = corpus::Analyzed::new(&texts, &config.analyzer, &config.ngrams, config.threads);
    let docs: Vec<u32> = (0..comments.len() as u32).collect();
    let mut corpus = analyzed.fit(
        &docs,
        &labels,
        &config.ngrams,
        config.min_df,
        config.max_features,
        config.threads,
    );
    corpus::name_features(&mut corpus.space, &texts, &config.analyzer, config.threads);
    (corpus.space, corpus.matrix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::FeatureKind;

    fn space(hashes: &[u64]) -> FeatureSpace {
        let n = hashes.len();
        FeatureSpace::new(
            NgramConfig::default(),
            hashes.to_vec(),
            hashes.iter().map(|h| format!("f{h}")).collect(),
            vec![FeatureKind::Unigram; n],
            vec![1.0; n],
            1.0,
        )
    }

    #[test]
    fn fold_models_are_averaged_by_feature_identity() {
        let full = space(&[10, 20, 30]);
        let (a, b) = (space(&[20, 10]), space(&[30, 10, 40]));
        let wa = LinearWeights {
            weights: vec![2.0, 1.0],
            intercept: -1.0,
        };
        let wb = LinearWeights {
            weights: vec![5.0, 3.0, 9.0],
            intercept: -3.0,
        };
        let fold = |fs: &FeatureSpace, w: &LinearWeights, space: &FeatureSpace| FoldFit {
            in_full: project_weights(space, fs, w),
            intercept: w.intercept,
            ..FoldFit::default()
        };
        let (fa, fb) = (fold(&a, &wa, &full), fold(&b, &wb, &full));
        let mean = mean_fold_model(&[&fa, &fb]).unwrap();
        // 10: (1 + 3) / 2; 20: only fold a; 30: only fold b; 40 is not in the final space.
        assert_eq!(mean.weights, vec![2.0, 2.0, 5.0]);
        assert_eq!(mean.intercept, -2.0);
        assert!(mean_fold_model(&[]).is_none());
        // A feature no fold selected starts at zero.
        let other = space(&[99]);
        let w = mean_fold_model(&[&fold(&a, &wa, &other)]).unwrap();
        assert_eq!(w.weights, vec![0.0]);
    }

    #[test]
    fn the_fit_graph_orders_and_connects_its_tasks() {
        let g = FitGraph::new(2, 3);
        let deps = g.deps();
        assert_eq!(deps.len(), 2 * 3 + 3 * 2);
        for (i, d) in deps.iter().enumerate() {
            assert_eq!(g.index(g.task(i)), i);
            match g.task(i) {
                FitTask::Fold { .. } => assert!(d.is_empty()),
                FitTask::Presolve { label } => assert_eq!(
                    d.iter().map(|&t| g.task(t)).collect::<Vec<_>>(),
                    (0..3)
                        .map(|fold| FitTask::Fold { label, fold })
                        .collect::<Vec<_>>()
                ),
                FitTask::Densify { .. } => assert_eq!(d, &(0..6).collect::<Vec<_>>()),
                FitTask::Linfa { label } => assert_eq!(
                    d,
                    &vec![
                        g.index(FitTask::Presolve { label }),
                        g.index(FitTask::Densify { label })
                    ]
                ),
            }
        }
        let order = g.priority(&[1, 0]);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..12).collect::<Vec<_>>());
        assert_eq!(g.task(order[0]), FitTask::Linfa { label: 1 });
        assert_eq!(g.task(order[4]), FitTask::Fold { label: 1, fold: 0 });
        assert_eq!(g.task(order[11]), FitTask::Densify { label: 0 });
        // Without folds, only the final tasks remain and nothing waits on a fold.
        let g = FitGraph::new(2, 0);
        assert_eq!(g.deps().len(), 6);
        assert!(g.deps().iter().take(4).all(|d| d.is_empty()));
    }
}

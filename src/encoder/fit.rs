//! Fitting the second stage on labelled comments, after the word model.
//!
//! 1. A seeded share of the comments (by a hash of their id) is held out of
//!    the encoder's training.
//! 2. Every comment is cut into word pieces and run once through the frozen
//!    lower layers ([`super::cache`]).
//! 3. The top layers and a head per label are trained on the other comments
//!    ([`super::train`]), then rounded to float16 as they will be stored.
//! 4. On the held-out comments, with the word model's out-of-fold decision
//!    values: each label's [`Combiner`], the [`Gate`] bars, and the
//!    thresholds of the final probabilities, with the figures for the card.

use super::base::BaseEncoder;
use super::cache::StateCache;
use super::stage::{
    Combiner, Encoder, Gate, SecondStage, StageFigures, StageLabel, StageRecipe, weights_to_bytes,
};
use super::train::{StepReport, TopData, TopSettings, train_top};
use crate::error::{Error, Result};
use crate::metrics;
use crate::model::calibration::Platt;
use crate::train::ThresholdRule;

/// Settings of [`fit_second_stage`].
#[derive(Debug, Clone, PartialEq)]
pub struct StageSettings {
    /// Word pieces read per comment.
    pub max_pieces: usize,
    /// Layers trained (the top ones); the rest stay as pretrained.
    pub trained_layers: usize,
    /// The training of the top.
    pub top: TopSettings,
    /// Share of comments held out of the encoder's training to fit the
    /// combiners, gate and thresholds.
    pub held_out_share: f64,
    /// Share of each label's held-out positives the gate must let through.
    pub gate_recall: f32,
    /// How thresholds are chosen.
    pub threshold: ThresholdRule,
    /// Train every second epoch on counterfactual copies of the comments
    /// that name an identity group (the group swapped for another; see
    /// [`crate::train::counterfactual`]).
    pub swap_identities: bool,
}

impl Default for StageSettings {
    fn default() -> Self {
        Self {
            max_pieces: 128,
            trained_layers: 2,
            top: TopSettings::default(),
            held_out_share: 0.15,
            gate_recall: 0.98,
            threshold: ThresholdRule::MaxF1,
            swap_identities: false,
        }
    }
}

/// What the word model contributes to fitting the second stage.
#[derive(Debug, Clone)]
pub struct WordModelView<'a> {
    /// Label names, in order.
    pub labels: &'a [String],
    /// Per label, `(comment index, out-of-fold decision value)`.
    pub out_of_fold: &'a [Vec<(u32, f32)>],
    /// Per label, the word model's calibration.
    pub calibration: Vec<Platt>,
    /// With `--cv-by`: the column, the group names and each comment's
    /// group (the word model's out-of-fold values are then held-out-group
    /// ones), for the second stage's own leave-one-group-out figures.
    pub groups: Option<Groups<'a>>,
}

/// Comments' groups for leave-one-group-out cross-validation.
#[derive(Debug, Clone, Copy)]
pub struct Groups<'a> {
    /// The column they come from.
    pub column: &'a str,
    /// Group names.
    pub names: &'a [String],
    /// Each comment's group (index into `names`).
    pub of: &'a [u32],
}

/// Progress of [`fit_second_stage`].
#[derive(Debug, Clone, PartialEq)]
pub enum StageProgress {
    /// Comments cut into pieces.
    Tokenized {
        /// Comments.
        rows: usize,
        /// Mean pieces a comment.
        mean_pieces: f64,
        /// Comments with more pieces than are read.
        truncated: usize,
        /// Comments held out of the encoder's training.
        held_out: usize,
        /// Counterfactual copies made (identity groups swapped).
        counterfactual: usize,
    },
    /// Lower layers run over `done` of `total` comments.
    Caching {
        /// Done.
        done: usize,
        /// All.
        total: usize,
    },
    /// A training step report.
    Step(StepReport),
    /// Held-out figures for one label.
    Label(StageLabel),
    /// Leave-one-group-out: the top is trained without group `group`.
    GroupFold {
        /// The group held out.
        group: String,
        /// 1-based fold number.
        fold: usize,
        /// Folds in all.
        folds: usize,
    },
}

/// FNV-1a of a comment id.
fn hash_id(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in id.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Whether comment `id` is held out (a seeded hash; stable when rows are
/// added or reordered).
pub fn is_held_out(id: &str, seed: u64, share: f64) -> bool {
    let h = crate::features::hash::mix(hash_id(id) ^ seed);
    (h as f64 / u64::MAX as f64) < share
}

/// Fits the second stage on `texts` (with their `ids` and per-label
/// `targets`) and the word model's held-out view of them.
pub fn fit_second_stage(
    base: &BaseEncoder,
    texts: &[&str],
    ids: &[&str],
    targets: &[Vec<Option<bool>>],
    word: &WordModelView<'_>,
    settings: &StageSettings,
    progress: &(dyn Fn(StageProgress) + Sync),
) -> Result<SecondStage> {
    let n_labels = word.labels.len();
    let layers = base.config.num_hidden_layers;
    if settings.trained_layers == 0 || settings.trained_layers > layers {
        return Err(Error::Config(format!(
            "--encoder-layers must be between 1 and {layers}"
        )));
    }
    if word.out_of_fold.len() != n_labels || word.out_of_fold.iter().all(Vec::is_empty) {
        return Err(Error::Training(
            "the second stage needs the word model's out-of-fold decision values: train with \
             cross-validation (--cv 2 or more)"
                .into(),
        ));
    }
    let first = layers - settings.trained_layers;
    let tokenizer = base.tokenizer(settings.max_pieces)?;
    let mut sequences = Vec::with_capacity(texts.len());
    let mut truncated = 0usize;
    for t in texts {
        let (ids, cut) = tokenizer.ids(t);
        truncated += usize::from(cut);
        sequences.push(ids);
    }
    let seed = settings.top.seed;
    let held: Vec<bool> = ids
        .iter()
        .map(|id| is_held_out(id, seed, settings.held_out_share))
        .collect();
    let train_rows: Vec<usize> = (0..texts.len()).filter(|&r| !held[r]).collect();
    let held_rows: Vec<usize> = (0..texts.len()).filter(|&r| held[r]).collect();
    // Counterfactual copies of the training comments, run through the lower
    // layers with them and trained on in every second epoch.
    let mut alternates: Vec<Option<usize>> = vec![None; texts.len()];
    let mut all_targets: Vec<Vec<Option<bool>>> = targets.to_vec();
    let mut copies = 0usize;
    if settings.swap_identities {
        let swapper = crate::train::counterfactual::Swapper::builtin();
        for &r in &train_rows {
            let key = crate::features::hash::mix(hash_id(ids[r]) ^ seed.rotate_left(29) ^ 0x5A5A);
            if let Some(copy) = swapper.swap(texts[r], key) {
                alternates[r] = Some(sequences.len());
                sequences.push(tokenizer.ids(&copy).0);
                all_targets.push(targets[r].clone());
                copies += 1;
            }
        }
    }
    progress(StageProgress::Tokenized {
        rows: texts.len(),
        mean_pieces: sequences.iter().map(Vec::len).sum::<usize>() as f64
            / texts.len().max(1) as f64,
        truncated,
        held_out: held_rows.len(),
        counterfactual: copies,
    });
    for (l, name) in word.labels.iter().enumerate() {
        let (pos, neg) = held_rows
            .iter()
            .fold((0, 0), |(p, n), &r| match targets[r][l] {
                Some(true) => (p + 1, n),
                Some(false) => (p, n + 1),
                None => (p, n),
            });
        if pos < 5 || neg < 5 {
            return Err(Error::Training(format!(
                "label `{}` has {pos} positive and {neg} negative comments held out for the \
                 second stage; at least 5 of each are needed (add data, raise \
                 --encoder-held-out, or train the word model alone with --no-encoder)",
                name
            )));
        }
    }

    let bert = base.bert()?;
    let candle = |e: candle_core::Error| Error::Training(format!("encoder: {e}"));
    let cache = StateCache::build(
        &bert,
        first,
        &sequences,
        settings.top.threads,
        &|done, total| progress(StageProgress::Caching { done, total }),
    )
    .map_err(candle)?;
    drop(sequences);
    let data = TopData {
        cache: &cache,
        rows: &train_rows,
        targets: &all_targets,
        labels: n_labels,
        alternates: settings.swap_identities.then_some(alternates.as_slice()),
    };
    let top = train_top(&bert, first, &data, &settings.top, &|r| {
        progress(StageProgress::Step(r))
    })
    .map_err(candle)?;
    let stored: Vec<(usize, &super::bert::Layer)> = top
        .layers
        .iter()
        .enumerate()
        .map(|(k, l)| (first + k, l))
        .collect();
    let weights = weights_to_bytes(&stored, &top.head)?;

    // Held-out decision values from the top as stored (float16).
    let mut stage = SecondStage {
        base_sha256: base.sha256.clone(),
        base_config: base.config.clone(),
        max_pieces: settings.max_pieces as u32,
        first_trained_layer: first as u32,
        labels: Vec::new(),
        gate: Gate {
            bars: vec![0.0; n_labels],
            target_recall: settings.gate_recall,
        },
        recipe: StageRecipe::default(),
        group_cv: None,
        weights,
        encoder: None,
    };
    let stored_top = rounded_top(&stage, base, first)?;
    let z_encoder = stored_top
        .predict_cached(&cache, &held_rows, settings.top.threads)
        .map_err(candle)?;

    // The word model's out-of-fold view of the held-out rows.
    let mut z_word: Vec<Vec<Option<f32>>> = vec![vec![None; n_labels]; texts.len()];
    for (l, oof) in word.out_of_fold.iter().enumerate() {
        for &(r, z) in oof {
            if let Some(row) = z_word.get_mut(r as usize) {
                row[l] = Some(z);
            }
        }
    }
    // A held-out row without an out-of-fold value for a label it is
    // labelled for cannot happen with cross-validation; skip it if it does.
    let word_probability = |k: usize, l: usize| -> Option<f32> {
        z_word[held_rows[k]][l].map(|z| word.calibration[l].probability(z))
    };

    // Gate bars: per label, the (1 - recall) quantile of its positives' word probability.
    let mut bars = vec![0f32; n_labels];
    for (l, bar) in bars.iter_mut().enumerate() {
        let mut p: Vec<f32> = (0..held_rows.len())
            .filter(|&k| targets[held_rows[k]][l] == Some(true))
            .filter_map(|k| word_probability(k, l))
            .collect();
        p.sort_by(f32::total_cmp);
        let cut = ((1.0 - f64::from(settings.gate_recall)) * p.len() as f64).floor() as usize;
        *bar = p
            .get(cut.min(p.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0);
    }
    stage.gate.bars = bars;
    let passes: Vec<bool> = (0..held_rows.len())
        .map(|k| {
            let probs: Vec<f32> = (0..n_labels)
                .map(|l| word_probability(k, l).unwrap_or(0.0))
                .collect();
            stage.gate.passes(&probs)
        })
        .collect();

    for l in 0..n_labels {
        let mut zw = Vec::new();
        let mut ze = Vec::new();
        let mut y = Vec::new();
        let mut ks = Vec::new();
        for (k, &r) in held_rows.iter().enumerate() {
            if let (Some(t), Some(z)) = (targets[r][l], z_word[r][l]) {
                zw.push(z);
                ze.push(z_encoder[k][l]);
                y.push(t);
                ks.push(k);
            }
        }
        let combiner = Combiner::fit(&zw, &ze, &y);
        let finals: Vec<f32> = ks
            .iter()
            .enumerate()
            .map(|(i, &k)| {
                if passes[k] {
                    combiner.probability(zw[i], ze[i])
                } else {
                    word.calibration[l].probability(zw[i])
                }
            })
            .collect();
        let threshold = match settings.threshold {
            ThresholdRule::MaxF1 => metrics::threshold_max_f1(&finals, &y),
            ThresholdRule::Precision(p) => metrics::threshold_for_precision(&finals, &y, p),
            ThresholdRule::Recall(r) => metrics::threshold_for_recall(&finals, &y, r),
        }
        .unwrap_or(0.5);
        let positives = y.iter().filter(|&&t| t).count();
        let missed = ks
            .iter()
            .zip(&y)
            .filter(|&(&k, &t)| t && !passes[k])
            .count();
        let label = StageLabel {
            name: word.labels[l].clone(),
            combiner,
            threshold,
            threshold_rule: settings.threshold.to_string(),
            figures: StageFigures {
                rows: y.len() as u64,
                positives: positives as u64,
                word_roc_auc: metrics::roc_auc(&zw, &y),
                encoder_roc_auc: metrics::roc_auc(&ze, &y),
                combined_roc_auc: metrics::roc_auc(&finals, &y),
                gate_miss: missed as f64 / positives.max(1) as f64,
                gate_pass: ks.iter().filter(|&&k| passes[k]).count() as f64
                    / ks.len().max(1) as f64,
            },
        };
        progress(StageProgress::Label(label.clone()));
        stage.labels.push(label);
    }
    if let Some(groups) = word.groups {
        let ctx = GroupCvContext {
            bert: &bert,
            first,
            cache: &cache,
            targets: &all_targets,
            alternates: settings.swap_identities.then_some(alternates.as_slice()),
            z_word: &z_word,
            n: texts.len(),
        };
        stage.group_cv = Some(group_cv(&ctx, groups, &stage, settings, progress)?);
    }
    drop(cache);
    stage.recipe = StageRecipe {
        train_rows: train_rows.len() as u64,
        held_out_rows: held_rows.len() as u64,
        epochs: settings.top.epochs,
        learning_rates: (settings.top.layer_lr, settings.top.head_lr),
        dropout: settings.top.dropout,
        positive_weight: settings.top.positive_weight.clone(),
        seed,
        threads: settings.top.threads as u32,
    };
    Ok(stage)
}

/// What leave-one-group-out training needs from the main fit.
struct GroupCvContext<'a> {
    bert: &'a super::bert::Bert,
    first: usize,
    cache: &'a StateCache,
    targets: &'a [Vec<Option<bool>>],
    alternates: Option<&'a [Option<usize>]>,
    z_word: &'a [Vec<Option<f32>>],
    /// Real comments (cache rows past this are counterfactual copies).
    n: usize,
}

/// For each group: trains the top on every other group's comments, scores
/// the group's, and combines with the word model's held-out-group values
/// by the stage's combiners.
fn group_cv(
    ctx: &GroupCvContext<'_>,
    groups: Groups<'_>,
    stage: &SecondStage,
    settings: &StageSettings,
    progress: &(dyn Fn(StageProgress) + Sync),
) -> Result<super::stage::GroupCv> {
    let n_labels = stage.labels.len();
    let k = groups.names.len();
    let mut out = super::stage::GroupCv {
        column: groups.column.to_string(),
        groups: groups.names.to_vec(),
        word_roc_auc: vec![vec![None; k]; n_labels],
        encoder_roc_auc: vec![vec![None; k]; n_labels],
        combined_roc_auc: vec![vec![None; k]; n_labels],
    };
    for (g, name) in groups.names.iter().enumerate() {
        let inside: Vec<usize> = (0..ctx.n).filter(|&r| groups.of[r] == g as u32).collect();
        let outside: Vec<usize> = (0..ctx.n).filter(|&r| groups.of[r] != g as u32).collect();
        progress(StageProgress::GroupFold {
            group: name.clone(),
            fold: g + 1,
            folds: k,
        });
        let data = TopData {
            cache: ctx.cache,
            rows: &outside,
            targets: ctx.targets,
            labels: n_labels,
            alternates: ctx.alternates,
        };
        let candle = |e: candle_core::Error| Error::Training(format!("encoder: {e}"));
        let top = train_top(ctx.bert, ctx.first, &data, &settings.top, &|r| {
            progress(StageProgress::Step(r))
        })
        .map_err(candle)?;
        let z = top
            .predict_cached(ctx.cache, &inside, settings.top.threads)
            .map_err(candle)?;
        for (l, label) in stage.labels.iter().enumerate() {
            let (mut zw, mut ze, mut y) = (Vec::new(), Vec::new(), Vec::new());
            for (i, &r) in inside.iter().enumerate() {
                if let (Some(t), Some(w)) = (ctx.targets[r][l], ctx.z_word[r][l]) {
                    zw.push(w);
                    ze.push(z[i][l]);
                    y.push(t);
                }
            }
            let both: Vec<f32> = zw
                .iter()
                .zip(&ze)
                .map(|(&a, &b)| label.combiner.decision(a, b))
                .collect();
            out.word_roc_auc[l][g] = metrics::roc_auc(&zw, &y);
            out.encoder_roc_auc[l][g] = metrics::roc_auc(&ze, &y);
            out.combined_roc_auc[l][g] = metrics::roc_auc(&both, &y);
        }
    }
    Ok(out)
}

/// The trained top as it will run after storing (float16-rounded weights).
fn rounded_top(
    stage: &SecondStage,
    base: &BaseEncoder,
    first: usize,
) -> Result<super::train::TrainedTop> {
    let encoder = Encoder::new(stage, base)?;
    let (layers, head) = encoder.top(first);
    Ok(super::train::TrainedTop {
        first,
        layers,
        head,
    })
}

//! The trained model: analyzer settings, feature space and one linear model
//! per label, plus everything needed to score and explain a comment.

pub mod calibration;
pub mod card;
pub mod file;
pub mod ftrl;
pub mod logistic;
pub mod presolve;

use crate::encoder::SecondStage;
use crate::features::chunk_cache::{CacheStats, DEFAULT_CAPACITY};
use crate::features::chunked::ChunkedVectorizer;
use crate::features::semantic::SemanticPrior;
use crate::features::{ColumnHit, FeatureSpace, SparseRow, Vectorizer};
use crate::language::{Choice, How, Language};
use crate::text::{AnalysisInfo, Analyzer, AnalyzerConfig, Tokens};
use calibration::Platt;
use logistic::{LinearWeights, LogisticSettings};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use file::{FORMAT_VERSION, FileId, load, load_bytes, save, to_bytes};

/// Everything `score` needs, as written by `train`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// How text becomes tokens.
    pub analyzer: AnalyzerConfig,
    /// The selected features with their idf weights.
    pub features: FeatureSpace,
    /// The semantic prior from word vectors (per-word projected scores),
    /// when the model was trained with one.
    pub semantic: Option<SemanticPrior>,
    /// One model per label, in output order.
    pub labels: Vec<LabelModel>,
    /// What the model was trained on.
    pub training: TrainingSummary,
    /// Metrics on held-out data recorded when the model was trained
    /// (`train --eval-data`; never used for fitting).
    pub evaluation: Option<ModelEvaluation>,
    /// Known limitations, for the model card.
    pub limitations: Vec<String>,
    /// A language every scorer of this model scores in, without detection
    /// (set by `--language`; not stored).
    #[serde(skip)]
    pub fixed_language: Option<crate::language::Language>,
    /// The second stage (a sentence encoder), when the model has one. Stored
    /// in its own sections of the model file, so not part of this struct's
    /// serde form.
    #[serde(skip)]
    pub second_stage: Option<SecondStage>,
    /// Word models for languages other than English, with the detector
    /// that routes comments to them; stored in their own sections of the
    /// model file.
    #[serde(skip)]
    pub languages: LanguageModels,
}

/// The word models of the languages besides English, and the detector that
/// tells which one a comment is in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LanguageModels {
    /// Tells a comment's language; `None`: every comment is scored by the
    /// main (English) model, as before languages existed.
    pub detector: Option<crate::language::LanguageDetector>,
    /// One word model per language (never English: that is the main model).
    pub models: BTreeMap<crate::language::Language, Model>,
}

impl LanguageModels {
    /// The languages with a model, English first.
    pub fn available(&self) -> Vec<crate::language::Language> {
        std::iter::once(crate::language::Language::En)
            .chain(self.models.keys().copied())
            .collect()
    }

    /// The codes of the languages with a model, English first (`en`, `de`).
    pub fn codes(&self) -> Vec<&'static str> {
        self.available().into_iter().map(|l| l.code()).collect()
    }

    /// Whether comments are routed by language.
    pub fn routes(&self) -> bool {
        self.detector.is_some() && !self.models.is_empty()
    }
}

/// A summary of an evaluation, kept in the model card.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelEvaluation {
    /// File name of the evaluation data.
    pub data_file: String,
    /// Rows evaluated.
    pub rows: u64,
    /// Per label.
    pub labels: BTreeMap<String, EvaluationSummary>,
}

/// One label's figures in a [`ModelEvaluation`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvaluationSummary {
    /// ROC-AUC.
    pub roc_auc: Option<f64>,
    /// Average precision.
    pub pr_auc: Option<f64>,
    /// Precision at the threshold.
    pub precision: f64,
    /// Recall at the threshold.
    pub recall: f64,
    /// Expected calibration error.
    pub ece: Option<f64>,
    /// Labelled positives.
    pub positives: u64,
    /// Labelled negatives.
    pub negatives: u64,
    /// Bias power means (p = -5) of Subgroup, BPSN and BNSP AUC.
    pub bias_power_means: [Option<f64>; 3],
}

/// One label's classifier and decision rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelModel {
    /// The label's name (`abusive`, `violent`).
    pub name: String,
    /// What the label means, for the model card.
    pub definition: String,
    /// Linear weights over the feature columns.
    pub linear: LinearWeights,
    /// Maps decision values to calibrated probabilities.
    pub calibration: Platt,
    /// Comments whose calibrated probability is at least this are flagged.
    pub threshold: f32,
    /// How the threshold was chosen.
    pub threshold_rule: String,
    /// The learner's settings.
    pub settings: LogisticSettings,
    /// Each positive training row was repeated this many times (class weighting).
    pub positive_repeat: u32,
    /// Cross-validation results, when cross-validation ran.
    pub cross_validation: Option<CrossValidation>,
}

/// Out-of-fold results for one label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossValidation {
    /// Number of folds.
    pub folds: u32,
    /// Mean held-out ROC-AUC of every alpha tried (the stored model uses the best).
    pub alpha_roc_auc: Vec<(f32, f64)>,
    /// ROC-AUC of each fold's held-out rows.
    pub fold_roc_auc: Vec<f64>,
    /// ROC-AUC over all out-of-fold predictions.
    pub roc_auc: f64,
    /// Average precision over all out-of-fold predictions.
    pub pr_auc: f64,
    /// Precision at the stored threshold, out of fold.
    pub precision: f64,
    /// Recall at the stored threshold, out of fold.
    pub recall: f64,
}

/// Counts describing the training data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// File names (not paths) the model was trained on.
    pub data_files: Vec<String>,
    /// Rows read.
    pub rows: u64,
    /// Rows per value of the `source` column, when present.
    pub sources: BTreeMap<String, u64>,
    /// Per label: (positive, negative, unlabelled) rows.
    pub label_counts: BTreeMap<String, [u64; 3]>,
    /// Distinct n-grams seen before selection.
    pub candidate_features: u64,
    /// Minimum document frequency of a feature.
    pub min_df: u32,
    /// Version of `moderate` that trained the model.
    pub moderate_version: String,
    /// Random seed of fold assignment.
    pub seed: u64,
}

/// Which reader decided a comment's scores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The word model alone: the model has no second stage, it was turned
    /// off, or the gate kept the comment from it.
    #[default]
    Words,
    /// The word model and the sentence encoder together.
    Encoder,
}

impl Stage {
    /// The name used in output (`words`, `encoder`).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Words => "words",
            Stage::Encoder => "encoder",
        }
    }
}

/// Scores for one comment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    /// Calibrated probability per label, in the model's label order.
    pub probabilities: Vec<f32>,
    /// Analysis details (truncation).
    pub info: AnalysisInfo,
    /// Which reader decided.
    pub stage: Stage,
    /// The word model's decision value per label (before calibration).
    pub word_decisions: Vec<f32>,
    /// The encoder heads' decision values, when the encoder read the comment.
    pub encoder_decisions: Vec<f32>,
    /// The language the comment was scored in, and how it was decided.
    pub language: Choice,
    /// Per label: whether a model for the comment's language scored it. An
    /// unavailable label's probability is NaN and it is never flagged.
    pub available: Vec<bool>,
    /// Per label: the threshold the comment is flagged at (the scoring
    /// language model's own, or the caller's override).
    pub thresholds: Vec<f32>,
}

impl Scores {
    /// Whether label `l` is flagged: scored, and at least its threshold.
    pub fn flagged(&self, l: usize) -> bool {
        self.available.get(l).copied().unwrap_or(true)
            && match (self.probabilities.get(l), self.thresholds.get(l)) {
                (Some(p), Some(t)) => p >= t,
                _ => false,
            }
    }

    /// Whether label `l` has a score (a model for the comment's language).
    pub fn is_available(&self, l: usize) -> bool {
        self.available.get(l).copied().unwrap_or(true)
    }
}

/// A term that contributed to a label's score.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    /// The term: a word or word pair as written (a stemmed n-gram in
    /// [`Scorer::explain`]).
    pub term: String,
    /// Its contribution to the label's decision value: for the word model,
    /// weight x tf-idf value; for the encoder, how much the combined
    /// decision value falls when the word is left out.
    pub weight: f32,
    /// Byte spans in the original text where it occurs.
    pub spans: Vec<(usize, usize)>,
    /// Which reader the contribution comes from.
    pub reader: Stage,
}

impl Model {
    /// Label names in output order.
    pub fn label_names(&self) -> Vec<&str> {
        self.labels.iter().map(|l| l.name.as_str()).collect()
    }

    /// Index of label `name`.
    pub fn label_index(&self, name: &str) -> Option<usize> {
        self.labels.iter().position(|l| l.name == name)
    }

    /// The model card's known limitations: those written at training, then
    /// what follows from its second stage and its identity blinding.
    pub fn known_limitations(&self) -> Vec<String> {
        let mut out = self.limitations.clone();
        if self.languages.routes() {
            out.retain(|l| l != crate::train::ENGLISH_ONLY);
            let others: Vec<&str> = self.languages.models.keys().map(|l| l.name()).collect();
            let without: Vec<String> = self
                .label_names()
                .into_iter()
                .map(|label| {
                    let missing: Vec<&str> = self
                        .languages
                        .models
                        .iter()
                        .filter(|(_, m)| m.label_index(label).is_none())
                        .map(|(l, _)| l.name())
                        .collect();
                    (label, missing)
                })
                .filter(|(_, missing)| !missing.is_empty())
                .map(|(label, missing)| format!("`{label}` in {}", missing.join(", ")))
                .collect();
            out.push(format!(
                "Languages: English and {} each have a word model of their own, trained on one \
                 or two public sets of tweets and page comments, far less than the English \
                 model; they have no second stage and read words, not sentences. Not scored \
                 (no training data): {}. A comment in any other language (Italian, say) is \
                 detected and left unscored, never scored with another language's model; a \
                 comment of fewer than {} words takes the declared language, or English.",
                others.join(", "),
                if without.is_empty() {
                    "nothing".to_string()
                } else {
                    without.join("; ")
                },
                crate::language::detect::MIN_WORDS
            ));
        }
        if let Some(stage) = &self.second_stage {
            out.push(format!(
                "Second stage: the sentence encoder reads only the comments the word model \
                 scores above its gate, and only their first {} word pieces; the rest keep the \
                 word model's scores and its limits. It learned from the same English training \
                 comments and can carry their biases.",
                stage.max_pieces
            ));
        }
        if self.analyzer.identity_mask.is_some() {
            out.push(
                "Identity words (data/identity_terms.txt) are left out of the word model, so \
                 a group's name alone does not raise a score; abuse carried only by a group \
                 name used as a slur is left to the second stage."
                    .to_string(),
            );
        }
        out
    }

    /// The language `text` is scored in, given the languages a site
    /// declares (see [`crate::language::choose`]); English for a model
    /// without languages.
    pub fn choose_language(&self, text: &str, declared: &[String]) -> Choice {
        self.detect_language(text, declared).0
    }

    /// As [`Model::choose_language`], with the detector's reading (`None`
    /// for a model without languages).
    pub fn detect_language(
        &self,
        text: &str,
        declared: &[String],
    ) -> (Choice, Option<crate::language::Detection>) {
        self.detect_language_among(text, declared, &self.languages.available())
    }

    /// As [`Model::detect_language`], given the model's languages
    /// (`self.languages.available()`, which a scorer keeps rather than
    /// building it for every comment).
    fn detect_language_among(
        &self,
        text: &str,
        declared: &[String],
        available: &[Language],
    ) -> (Choice, Option<crate::language::Detection>) {
        match &self.languages.detector {
            Some(detector) if self.languages.routes() => {
                let (choice, detection) =
                    crate::language::choose(detector, text, declared, available);
                (choice, Some(detection))
            }
            _ => (Choice::english(How::Default), None),
        }
    }

    /// Whether the second stage is present and ready to run.
    pub fn has_encoder(&self) -> bool {
        self.second_stage
            .as_ref()
            .is_some_and(|s| s.encoder.is_some())
    }

    /// Builds the second stage's encoder on `base` (the weights it was
    /// trained on); a model without a second stage is left as it is.
    pub fn attach_encoder(&mut self, base: &crate::encoder::BaseEncoder) -> crate::Result<()> {
        if let Some(stage) = self.second_stage.as_mut() {
            let encoder = crate::encoder::Encoder::new(stage, base)?;
            stage.encoder = Some(std::sync::Arc::new(encoder));
        }
        Ok(())
    }

    /// Each label's threshold as the model will score: the second stage's
    /// when its encoder is attached, else the word model's.
    pub fn thresholds(&self) -> Vec<f32> {
        match &self.second_stage {
            Some(stage) if stage.encoder.is_some() => {
                stage.labels.iter().map(|l| l.threshold).collect()
            }
            _ => self.labels.iter().map(|l| l.threshold).collect(),
        }
    }

    /// [`Model::thresholds`] with `(label, threshold)` overrides applied;
    /// an unknown label or a value outside [0, 1] is an error.
    pub fn effective_thresholds(&self, overrides: &[(String, f32)]) -> crate::Result<Vec<f32>> {
        let mut thresholds = self.thresholds();
        for (label, value) in overrides {
            let i = self.label_index(label).ok_or_else(|| {
                crate::Error::Config(format!(
                    "the model has no label `{label}` (labels: {})",
                    self.label_names().join(", ")
                ))
            })?;
            if !(0.0..=1.0).contains(value) {
                return Err(crate::Error::Config(format!(
                    "{label}={value}: must be in [0, 1]"
                )));
            }
            thresholds[i] = *value;
        }
        Ok(thresholds)
    }

    /// A scorer with its own buffers (one per thread). It uses the second
    /// stage when the model has one with its encoder attached.
    pub fn scorer(&self) -> Scorer<'_> {
        let second = self
            .second_stage
            .as_ref()
            .and_then(|s| s.encoder.clone().map(|e| (s, e)));
        Scorer {
            second,
            model: self,
            analyzer: Analyzer::new(self.analyzer.clone()),
            vectorizer: Vectorizer::new(&self.features),
            tokens: Tokens::new(),
            row: SparseRow::default(),
            hits: Vec::new(),
            chunk_capacity: Some(DEFAULT_CAPACITY),
            chunked: None,
            dots: Vec::new(),
            overrides: vec![None; self.labels.len()],
            declared: Vec::new(),
            fixed: self.fixed_language,
            available: self.languages.available(),
            others: Vec::new(),
        }
    }
}

/// A language model's scorer, with the parent's label index of each of its
/// labels' (`None`: the language model lacks that label).
#[derive(Debug)]
struct LanguageScorer<'m> {
    language: Language,
    scorer: Box<Scorer<'m>>,
    label_map: Vec<Option<usize>>,
}

/// Replaces `out`'s word-model probabilities with the combined ones, given
/// the encoder heads' decision values `z_encoder`.
fn combine(stage: &SecondStage, out: &mut Scores, z_encoder: Vec<f32>) {
    for (l, label) in stage.labels.iter().enumerate() {
        let (Some(&zw), Some(&ze), Some(p)) = (
            out.word_decisions.get(l),
            z_encoder.get(l),
            out.probabilities.get_mut(l),
        ) else {
            continue;
        };
        *p = label.combiner.probability(zw, ze);
    }
    out.encoder_decisions = z_encoder;
    out.stage = Stage::Encoder;
}

/// The semantic prior's share of label `l`'s decision value for a comment
/// whose word tokens have `lexicon_ids` (0 without a prior).
fn semantic_share(model: &Model, l: usize, lexicon_ids: &[u32]) -> f32 {
    model
        .semantic
        .as_ref()
        .map_or(0.0, |p| p.mean_score(l, lexicon_ids))
}

/// A word's summed semantic-prior share and the spans it occurs at.
type WordShare = (String, f32, Vec<(usize, usize)>);

/// Scores comments with a [`Model`], reusing buffers: no dense matrix and no
/// allocation per comment once warmed up.
#[derive(Debug)]
pub struct Scorer<'m> {
    model: &'m Model,
    /// The second stage and its encoder, unless turned off.
    second: Option<(&'m SecondStage, std::sync::Arc<crate::encoder::Encoder>)>,
    analyzer: Analyzer,
    vectorizer: Vectorizer,
    tokens: Tokens,
    row: SparseRow,
    hits: Vec<ColumnHit>,
    /// Entries per generation of the chunk cache of [`Scorer::score_into`]
    /// (`None`: every comment is analysed whole).
    chunk_capacity: Option<usize>,
    /// The chunk cache with its tables, made on first use.
    chunked: Option<Box<ChunkedVectorizer>>,
    /// Each label's dot product with the row scored last.
    dots: Vec<f32>,
    /// Per label: the caller's threshold, replacing every language's own.
    overrides: Vec<Option<f32>>,
    /// Languages the site declares (a hint for detection).
    declared: Vec<String>,
    /// A language fixed by the caller: no detection.
    fixed: Option<Language>,
    /// The languages the model has (English first), for detection.
    available: Vec<Language>,
    /// Scorers of the language models used so far.
    others: Vec<LanguageScorer<'m>>,
}

impl<'m> Scorer<'m> {
    /// Scores with the word model alone, even if the model has a second
    /// stage (for backlogs: many times faster).
    pub fn word_only(mut self) -> Self {
        self.second = None;
        self
    }

    /// Flags every label at these thresholds (`LABEL`, probability) instead
    /// of the scoring language model's own; see [`Model::effective_thresholds`]
    /// for the checks. Unknown labels are ignored here.
    pub fn with_threshold_overrides(mut self, overrides: &[(String, f32)]) -> Self {
        for (label, value) in overrides {
            if let Some(i) = self.model.label_index(label) {
                self.overrides[i] = Some(*value);
            }
        }
        self
    }

    /// Scores every comment in `language`, without detection (`None`:
    /// detect each comment's language).
    pub fn with_language(mut self, language: Option<Language>) -> Self {
        self.fixed = language;
        self
    }

    /// As [`Scorer::with_language`], on a scorer in use.
    pub fn set_fixed_language(&mut self, language: Option<Language>) {
        self.fixed = language;
    }

    /// The languages the site declares for the comments scored next (codes
    /// such as `de` or `pt-BR`): a hint to detection, and the language of
    /// comments too short to tell (see [`crate::language::choose`]).
    pub fn set_declared(&mut self, declared: &[String]) {
        self.declared.clear();
        self.declared.extend(declared.iter().cloned());
    }

    /// The language `text` is scored in (as [`Model::choose_language`]).
    pub fn choose_language(&self, text: &str) -> Choice {
        match self.fixed {
            Some(language) => Choice::fixed(language),
            None => {
                self.model
                    .detect_language_among(text, &self.declared, &self.available)
                    .0
            }
        }
    }

    /// The index in `others` of the scorer for `language`, made on first
    /// use; `None` when the model has no such language model.
    fn language_scorer(&mut self, language: Language) -> Option<usize> {
        if let Some(i) = self.others.iter().position(|o| o.language == language) {
            return Some(i);
        }
        let model: &'m Model = self.model;
        let nested = model.languages.models.get(&language)?;
        let label_map = model
            .labels
            .iter()
            .map(|l| nested.label_index(&l.name))
            .collect();
        let mut scorer = nested.scorer().word_only();
        if self.chunk_capacity.is_none() {
            scorer = scorer.without_chunk_cache();
        }
        self.others.push(LanguageScorer {
            language,
            scorer: Box::new(scorer),
            label_map,
        });
        Some(self.others.len() - 1)
    }

    /// The English model's thresholds with the overrides applied.
    fn english_thresholds(&self) -> Vec<f32> {
        self.model
            .thresholds()
            .into_iter()
            .zip(&self.overrides)
            .map(|(t, o)| o.unwrap_or(t))
            .collect()
    }

    /// Scores `text` with the word model of its language into `out`; true
    /// when that is the English model (so the second stage may read it).
    fn score_routed(&mut self, text: &str, out: &mut Scores) -> bool {
        let choice = self.choose_language(text);
        out.language = choice;
        let n = self.model.labels.len();
        out.available.clear();
        out.thresholds.clear();
        match choice.language {
            Some(Language::En) => {
                self.score_words(text, out);
                out.available.resize(n, true);
                out.thresholds = self.english_thresholds();
                true
            }
            other => {
                out.stage = Stage::Words;
                out.encoder_decisions.clear();
                out.word_decisions.clear();
                out.probabilities.clear();
                out.info = AnalysisInfo::default();
                let Some(i) = other.and_then(|l| self.language_scorer(l)) else {
                    out.probabilities.resize(n, f32::NAN);
                    out.word_decisions.resize(n, f32::NAN);
                    out.available.resize(n, false);
                    out.thresholds.resize(n, f32::NAN);
                    return false;
                };
                let mut inner = Scores::default();
                let other = &mut self.others[i];
                other.scorer.score_words(text, &mut inner);
                out.info = inner.info;
                let nested = other.scorer.model;
                for (l, mapped) in other.label_map.iter().enumerate() {
                    match mapped {
                        Some(j) => {
                            out.probabilities.push(inner.probabilities[*j]);
                            out.word_decisions.push(inner.word_decisions[*j]);
                            out.available.push(true);
                            out.thresholds
                                .push(self.overrides[l].unwrap_or(nested.labels[*j].threshold));
                        }
                        None => {
                            out.probabilities.push(f32::NAN);
                            out.word_decisions.push(f32::NAN);
                            out.available.push(false);
                            out.thresholds.push(f32::NAN);
                        }
                    }
                }
                false
            }
        }
    }

    /// Whether this scorer runs the second stage.
    pub fn uses_encoder(&self) -> bool {
        self.second.is_some()
    }

    /// Scores `texts` into `out` (one [`Scores`] each, reusing its buffers):
    /// the word model reads each comment, and the encoder reads those the
    /// gate lets through, in batches of similar length.
    pub fn score_batch(&mut self, texts: &[&str], out: &mut Vec<Scores>) {
        out.resize_with(texts.len(), Scores::default);
        let mut english = Vec::with_capacity(texts.len());
        for (text, scores) in texts.iter().zip(out.iter_mut()) {
            english.push(self.score_routed(text, scores));
        }
        let Some((stage, encoder)) = self.second.clone() else {
            return;
        };
        let passing: Vec<usize> = (0..texts.len())
            .filter(|&i| english[i] && stage.gate.passes(&out[i].probabilities))
            .collect();
        if passing.is_empty() {
            return;
        }
        let selected: Vec<&str> = passing.iter().map(|&i| texts[i]).collect();
        // An encoder failure (none is expected) leaves the word model's scores.
        let Ok(z) = encoder.decisions(&selected) else {
            return;
        };
        for (&i, ze) in passing.iter().zip(z) {
            combine(stage, &mut out[i], ze);
        }
    }

    /// Scores without the chunk cache: every comment is analysed whole, as
    /// training does. Slower, with identical scores; for comparisons.
    pub fn without_chunk_cache(mut self) -> Self {
        self.chunk_capacity = None;
        self.chunked = None;
        self
    }

    /// Scores with a chunk cache of `capacity` entries per generation
    /// instead of [`DEFAULT_CAPACITY`](crate::features::chunk_cache::DEFAULT_CAPACITY)
    /// (memory against hit rate; the scores are the same).
    pub fn with_chunk_cache(mut self, capacity: usize) -> Self {
        self.chunk_capacity = Some(capacity);
        self.chunked = None;
        self
    }

    /// What the chunk cache was asked so far (zeros without one).
    pub fn cache_stats(&self) -> CacheStats {
        self.chunked
            .as_ref()
            .map_or_else(CacheStats::default, |c| c.stats())
    }

    /// Scores `text`, writing calibrated probabilities into `out`: the word
    /// model, then the encoder if the scorer has one and the gate lets the
    /// comment through.
    pub fn score_into(&mut self, text: &str, out: &mut Scores) {
        if !self.score_routed(text, out) {
            return;
        }
        let Some((stage, encoder)) = self.second.clone() else {
            return;
        };
        if !stage.gate.passes(&out.probabilities) {
            return;
        }
        if let Ok(mut z) = encoder.decisions(&[text])
            && let Some(ze) = z.pop()
        {
            combine(stage, out, ze);
        }
    }

    /// The word model's scores of `text` into `out`.
    fn score_words(&mut self, text: &str, out: &mut Scores) {
        out.stage = Stage::Words;
        out.encoder_decisions.clear();
        out.word_decisions.clear();
        let Some(capacity) = self.chunk_capacity else {
            out.info = self.analyzer.analyze(text, &mut self.tokens);
            self.vectorizer
                .vectorize_unordered(&self.model.features, &self.tokens, &mut self.row);
            out.probabilities.clear();
            for (l, label) in self.model.labels.iter().enumerate() {
                let z = self.row.dot(&label.linear.weights)
                    + label.linear.intercept
                    + semantic_share(self.model, l, self.vectorizer.lexicon_ids());
                out.word_decisions.push(z);
                out.probabilities.push(label.calibration.probability(z));
            }
            return;
        };
        let model = self.model;
        let chunked = self.chunked.get_or_insert_with(|| {
            let weights: Vec<&[f32]> = model
                .labels
                .iter()
                .map(|l| l.linear.weights.as_slice())
                .collect();
            Box::new(ChunkedVectorizer::new(&model.features, &weights, capacity))
        });
        out.info = chunked.dots(&mut self.analyzer, text, &mut self.dots);
        out.probabilities.clear();
        for (l, label) in model.labels.iter().enumerate() {
            let z = self.dots[l]
                + label.linear.intercept
                + semantic_share(model, l, chunked.lexicon_ids());
            out.word_decisions.push(z);
            out.probabilities.push(label.calibration.probability(z));
        }
    }

    /// The decision value of each label for `text` (before calibration).
    pub fn decisions(&mut self, text: &str) -> Vec<f32> {
        self.analyzer.analyze(text, &mut self.tokens);
        self.vectorizer
            .vectorize(&self.model.features, &self.tokens, &mut self.row);
        (0..self.model.labels.len())
            .map(|l| {
                let label = &self.model.labels[l];
                self.row.dot(&label.linear.weights)
                    + label.linear.intercept
                    + self.semantic_score(l)
            })
            .collect()
    }

    /// The semantic prior's share of label `l`'s decision value: the mean
    /// projected score of the comment's words (0 without a prior).
    fn semantic_score(&self, l: usize) -> f32 {
        semantic_share(self.model, l, self.vectorizer.lexicon_ids())
    }

    /// Scores `text`.
    pub fn score(&mut self, text: &str) -> Scores {
        let mut out = Scores::default();
        self.score_into(text, &mut out);
        out
    }

    /// The sparse feature row of `text` (for tests and diagnostics).
    pub fn features(&mut self, text: &str) -> SparseRow {
        self.analyzer.analyze(text, &mut self.tokens);
        self.vectorizer
            .vectorize(&self.model.features, &self.tokens, &mut self.row);
        self.row.clone()
    }

    /// Analyses `text` into the scorer's buffers: tokens, row and, for every
    /// column occurrence, the tokens it covers.
    fn analyze_with_hits(&mut self, text: &str) {
        self.analyzer.analyze(text, &mut self.tokens);
        self.vectorizer.vectorize_with_hits(
            &self.model.features,
            &self.tokens,
            &mut self.row,
            &mut self.hits,
        );
    }

    /// Why `text` got `scores`, per label: the word model's `top` words and
    /// word pairs ([`Scorer::explain_words`]), and, for each label the
    /// comment is flagged for (probability at least `thresholds`) when the
    /// encoder read it, its `top` words: those whose removal lowers the
    /// combined decision value most (leave-one-word-out, see
    /// [`crate::encoder::Encoder::without_each_word`]). The one explanation
    /// every command and endpoint shows.
    pub fn explain_scores(
        &mut self,
        text: &str,
        scores: &Scores,
        thresholds: &[f32],
        top: usize,
    ) -> Vec<Vec<Contribution>> {
        let n = self.model.labels.len();
        match scores.language.language {
            Some(Language::En) => {}
            Some(language) => {
                // A language model's words (it has no second stage).
                let Some(i) = self.language_scorer(language) else {
                    return vec![Vec::new(); n];
                };
                let other = &mut self.others[i];
                return other
                    .label_map
                    .iter()
                    .map(|m| m.map_or_else(Vec::new, |j| other.scorer.explain_words(text, j, top)))
                    .collect();
            }
            None => return vec![Vec::new(); n],
        }
        let mut out: Vec<Vec<Contribution>> =
            (0..n).map(|l| self.explain_words(text, l, top)).collect();
        let flagged: Vec<usize> = (0..n)
            .filter(|&l| {
                scores.probabilities.get(l).copied().unwrap_or(0.0)
                    >= thresholds.get(l).copied().unwrap_or(f32::INFINITY)
            })
            .collect();
        let Some((stage, encoder)) = self.second.clone() else {
            return out;
        };
        if scores.stage != Stage::Encoder || flagged.is_empty() || top == 0 {
            return out;
        }
        let Ok(loo) = encoder.without_each_word(text) else {
            return out;
        };
        for l in flagged {
            let b = stage.labels[l].combiner.encoder;
            let mut words: Vec<Contribution> = Vec::new();
            for (span, z) in loo.words.iter().zip(&loo.without) {
                let drop = b * (loo.full[l] - z[l]);
                // (NaN, from a damaged encoder, explains nothing either.)
                if drop.is_nan() || drop <= 0.0 {
                    continue;
                }
                let term = text.get(span.0..span.1).unwrap_or_default();
                match words
                    .iter_mut()
                    .find(|c| c.term.to_lowercase() == term.to_lowercase())
                {
                    Some(c) => {
                        c.weight = c.weight.max(drop);
                        c.spans.push(*span);
                    }
                    None => words.push(Contribution {
                        term: term.to_string(),
                        weight: drop,
                        spans: vec![*span],
                        reader: Stage::Encoder,
                    }),
                }
            }
            words.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.spans.cmp(&b.spans)));
            words.truncate(top);
            out[l].extend(words);
        }
        out
    }

    /// The `top` words or word pairs of `text` that raised label `label`'s
    /// score most. Every feature's contribution (weight x tf-idf value,
    /// shared equally among its occurrences) is credited to the tokens it
    /// came from, so a word's unigram and all its character n-grams add up
    /// to one figure. A term that occurs several times (the same analysed
    /// tokens, whatever their case or spelling) is one entry: its weight is
    /// the sum over its occurrences, `spans` lists each occurrence in text
    /// order, and `term` is its first occurrence as written.
    pub fn explain_words(&mut self, text: &str, label: usize, top: usize) -> Vec<Contribution> {
        let Some(model) = self.model.labels.get(label) else {
            return Vec::new();
        };
        self.analyze_with_hits(text);
        let mut per_column: std::collections::HashMap<u32, (f32, u32)> =
            std::collections::HashMap::new();
        for (&c, &v) in self.row.indices.iter().zip(&self.row.values) {
            per_column.insert(c, (v * model.linear.weights[c as usize], 0));
        }
        for h in &self.hits {
            if let Some(e) = per_column.get_mut(&h.column) {
                e.1 += 1;
            }
        }
        let mut by_span: std::collections::BTreeMap<(u32, u32), f32> =
            std::collections::BTreeMap::new();
        for h in &self.hits {
            if let Some(&(total, n)) = per_column.get(&h.column) {
                *by_span.entry((h.first, h.last)).or_insert(0.0) += total / n.max(1) as f32;
            }
        }
        // The semantic prior: each of the comment's known words adds its
        // projected score divided by their number.
        for (i, share) in self.semantic_shares(label) {
            *by_span.entry((i, i)).or_insert(0.0) += share;
        }
        // Occurrences of one term, in text order (the map is ordered by span).
        let toks = self.tokens.tokens();
        let mut out: Vec<Contribution> = Vec::new();
        let mut by_term: std::collections::HashMap<String, usize> =
            std::collections::HashMap::new();
        for ((first, last), weight) in by_span {
            let key = toks[first as usize..=last as usize]
                .iter()
                .map(|t| self.tokens.text(t))
                .collect::<Vec<_>>()
                .join(" ");
            let span = (
                toks[first as usize].start as usize,
                toks[last as usize].end as usize,
            );
            match by_term.get(&key) {
                Some(&i) => {
                    out[i].weight += weight;
                    out[i].spans.push(span);
                }
                None => {
                    by_term.insert(key, out.len());
                    out.push(Contribution {
                        term: text.get(span.0..span.1).unwrap_or_default().to_string(),
                        weight,
                        spans: vec![span],
                        reader: Stage::Words,
                    });
                }
            }
        }
        out.retain(|c| c.weight > 0.0);
        out.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.spans.cmp(&b.spans)));
        out.truncate(top);
        out
    }

    /// Each known word's share of the semantic prior's contribution to
    /// label `label`, as `(token index, share)`, for the analysed tokens.
    fn semantic_shares(&self, label: usize) -> Vec<(u32, f32)> {
        let (Some(prior), Some(lexicon)) = (
            &self.model.semantic,
            self.model.features.ngrams.lexicon.as_deref(),
        ) else {
            return Vec::new();
        };
        let known: Vec<(u32, u32)> = self
            .tokens
            .tokens()
            .iter()
            .enumerate()
            .filter(|(_, t)| t.kind == crate::text::TokenKind::Word)
            .filter_map(|(i, t)| lexicon.id(self.tokens.surface(t)).map(|id| (i as u32, id)))
            .collect();
        let n = known.len().max(1) as f32;
        known
            .into_iter()
            .map(|(i, id)| (i, prior.score(label, id) / n))
            .collect()
    }

    /// The `top` features (stemmed n-grams) that raised label `label`'s
    /// score most for `text`, with every byte span where each occurs. The
    /// semantic prior appears as one feature per distinct word, named
    /// `~word` (the word's meaning, as the word vectors place it).
    pub fn explain(&mut self, text: &str, label: usize, top: usize) -> Vec<Contribution> {
        let Some(model) = self.model.labels.get(label) else {
            return Vec::new();
        };
        self.analyze_with_hits(text);
        let mut contributions: Vec<(u32, f32)> = self
            .row
            .indices
            .iter()
            .zip(&self.row.values)
            .map(|(&c, &v)| (c, v * model.linear.weights[c as usize]))
            .filter(|&(_, w)| w > 0.0)
            .collect();
        // Semantic-prior shares, summed per distinct word, as pseudo-columns
        // after the real ones.
        let n_columns = self.model.features.len() as u32;
        let mut semantic: Vec<WordShare> = Vec::new();
        for (i, share) in self.semantic_shares(label) {
            let t = self.tokens.tokens()[i as usize];
            let word = self.tokens.surface(&t).to_string();
            let span = (t.start as usize, t.end as usize);
            match semantic.iter_mut().find(|e| e.0 == word) {
                Some(e) => {
                    e.1 += share;
                    e.2.push(span);
                }
                None => semantic.push((word, share, vec![span])),
            }
        }
        contributions.extend(
            semantic
                .iter()
                .enumerate()
                .filter(|(_, e)| e.1 > 0.0)
                .map(|(k, e)| (n_columns + k as u32, e.1)),
        );
        contributions.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        contributions.truncate(top);
        let toks = self.tokens.tokens();
        contributions
            .into_iter()
            .map(|(column, weight)| {
                if column >= n_columns {
                    let (word, _, spans) = &semantic[(column - n_columns) as usize];
                    return Contribution {
                        term: format!("~{word}"),
                        weight,
                        spans: spans.clone(),
                        reader: Stage::Words,
                    };
                }
                let mut spans: Vec<(usize, usize)> = self
                    .hits
                    .iter()
                    .filter(|h| h.column == column)
                    .map(|h| {
                        (
                            toks[h.first as usize].start as usize,
                            toks[h.last as usize].end as usize,
                        )
                    })
                    .collect();
                spans.dedup();
                Contribution {
                    term: self.model.features.names[column as usize].clone(),
                    weight,
                    spans,
                    reader: Stage::Words,
                }
            })
            .collect()
    }
}

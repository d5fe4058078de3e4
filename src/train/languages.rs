//! Word models for languages besides English, and the detector that routes
//! comments to them.
//!
//! A language model is trained as the English word model is (the same
//! n-grams, selection, cross-validated logistic regression, calibration and
//! thresholds) with the language's own analyzer: its Snowball stemmer and a
//! word list for de-obfuscation built from its own training comments. It
//! has no word clusters (the word vectors are English) and no second stage
//! (the encoder is English); its identity blinding uses the language's own
//! terms (`data/identity_terms_de.txt` and so on). It learns only the labels its data has both
//! classes of; the others stay unavailable for that language.

use super::{Progress, TrainConfig, TrainReport, train};
use crate::comment::Comment;
use crate::error::{Error, Result};
use crate::language::{Language, LanguageDetector};
use crate::model::Model;

/// Comments of each language the detector learns from, at most, spread
/// evenly over each training file (more adds little; see the module notes
/// of [`crate::language::detect`]).
pub const DETECTOR_SAMPLE: usize = 5_000;

/// Least positives and negatives a label needs in a language's data to get
/// a model for that language.
pub const MIN_CLASS_ROWS: usize = 20;

/// The labels of `base` that `comments` has at least [`MIN_CLASS_ROWS`]
/// positives and negatives of.
pub fn trainable_labels(comments: &[Comment], labels: &[String]) -> Vec<String> {
    labels
        .iter()
        .filter(|l| {
            let (mut pos, mut neg) = (0, 0);
            for c in comments {
                match c.labels.get(*l).copied().flatten() {
                    Some(true) => pos += 1,
                    Some(false) => neg += 1,
                    None => {}
                }
            }
            pos >= MIN_CLASS_ROWS && neg >= MIN_CLASS_ROWS
        })
        .cloned()
        .collect()
}

/// The training settings of `language`'s word model, from the English
/// model's `base`, for `labels`.
pub fn language_config(base: &TrainConfig, language: Language, labels: Vec<String>) -> TrainConfig {
    let mut config = base.clone();
    config.labels = labels;
    config.analyzer.language = language;
    config.analyzer.known_words = None;
    // Blinding, when the English model blinds, with the language's terms.
    config.analyzer.identity_mask =
        base.analyzer.identity_mask.as_ref().map(|_| {
            std::sync::Arc::new(crate::text::identity::IdentityMask::builtin_for(language))
        });
    config.semantic = None;
    config.ngrams.lexicon = None;
    config.ngrams.cluster_weight = 0.0;
    // Group cross-validation by source needs several sources; a language
    // has one or two, so it uses random folds.
    if config.cv_by.is_some() {
        config.cv_by = None;
        config.folds = config.folds.max(3);
    }
    // Class weights are the language's own (its balance differs).
    config.positive_repeat.clear();
    config
}

/// Trains `language`'s word model on `comments`.
pub fn train_language(
    language: Language,
    comments: &[Comment],
    data_files: &[String],
    base: &TrainConfig,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(Model, TrainReport)> {
    if language == Language::En {
        return Err(Error::Config(
            "English is the main model: give its data with --data".into(),
        ));
    }
    let labels = trainable_labels(comments, &base.labels);
    if labels.is_empty() {
        return Err(Error::Training(format!(
            "the {} data has no label with {MIN_CLASS_ROWS} positives and negatives",
            language.name()
        )));
    }
    let config = language_config(base, language, labels);
    let (mut model, report) = train(comments, data_files, &config, progress)?;
    model.analyzer.language = language;
    model.limitations = super::standard_limitations(&model.training.label_counts)
        .into_iter()
        .filter(|l| l != super::ENGLISH_ONLY)
        .collect();
    for source in model.training.sources.keys() {
        model
            .limitations
            .push(format!("Trained on {source}: {}", licence_of(source)));
    }
    Ok((model, report))
}

/// Trains the language detector on up to [`DETECTOR_SAMPLE`] comments of
/// each language, spread evenly over each list.
pub fn train_detector(per_language: &[(Language, Vec<&str>)]) -> LanguageDetector {
    let samples = per_language.iter().flat_map(|(language, texts)| {
        let step = texts.len().div_ceil(DETECTOR_SAMPLE).max(1);
        texts.iter().step_by(step).map(move |t| (*language, *t))
    });
    LanguageDetector::train(samples)
}

/// The licence of a training source of the project's corpus, as its
/// SOURCES.md states it, or a reminder to check an unknown one.
pub fn licence_of(source: &str) -> &'static str {
    match source {
        "germeval2018" => "GermEval 2018, CC BY 4.0",
        "germeval2026_vio" => {
            "GermEval 2026 subtask 3, GPL-3.0 (the repository's licence; no separate data licence)"
        }
        "hateval_es" => {
            "HatEval 2019, CC BY-NC 4.0: NON-COMMERCIAL use only (retrain without it for \
             commercial use; see the README)"
        }
        "mlma_fr" => "MLMA (Ousidhoum et al. 2019), MIT",
        "told_br" => "ToLD-Br (Leite et al. 2020), CC BY-SA 4.0",
        _ => "licence not recorded by moderate; check the data's own terms",
    }
}

/// Whether a model trained on `source` may only be used non-commercially.
pub fn is_non_commercial(source: &str) -> bool {
    licence_of(source).contains("NON-COMMERCIAL")
}

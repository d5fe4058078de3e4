//! The model card as JSON: what `moderate info --json` prints and
//! `moderate serve` answers on `GET /v1/model`.

use super::{FileId, Model};

/// The model card of `model`, read from the file `file` names: its version
/// (what the server sends as `x-moderate-model-version`) and format,
/// analyzer and feature settings, the training data, each label's
/// definition, threshold, calibration and cross-validation, the held-out
/// evaluation and the known limitations.
pub fn card_json(model: &Model, file: &FileId) -> serde_json::Value {
    // The word table is summarised, not listed.
    let lexicon = model.features.ngrams.lexicon.as_deref();
    let ngrams = crate::features::NgramConfig {
        lexicon: None,
        ..model.features.ngrams.clone()
    };
    serde_json::json!({
        "version": file.version,
        "format_version": file.format,
        "analyzer": model.analyzer,
        "ngrams": ngrams,
        "word_list_words": model.analyzer.known_words.as_ref().map(|l| l.len()),
        "word_clusters": lexicon.map(|l| serde_json::json!({
            "words": l.len(),
            "levels": l.levels,
            "weight": model.features.ngrams.cluster_weight,
        })),
        "semantic_prior": model.semantic.as_ref().map(|p| &p.config),
        "features": model.features.len(),
        "training": model.training,
        "labels": model.labels.iter().map(|l| serde_json::json!({
            "name": l.name,
            "definition": l.definition,
            "threshold": l.threshold,
            "threshold_rule": l.threshold_rule,
            "calibration": l.calibration,
            "alpha": (l.settings.max_iterations > 0).then_some(l.settings.alpha),
            "positive_repeat": l.positive_repeat,
            "cross_validation": l.cross_validation,
        })).collect::<Vec<_>>(),
        "evaluation": model.evaluation,
        "second_stage": model.second_stage.as_ref().map(|s| serde_json::json!({
            "base_sha256": s.base_sha256,
            "base_config": s.base_config,
            "max_pieces": s.max_pieces,
            "trained_layers": s.base_config.num_hidden_layers as u32 - s.first_trained_layer,
            "trained_weight_bytes": s.weights.len(),
            "gate": s.gate,
            "recipe": s.recipe,
            "labels": s.labels,
        })),
        "limitations": model.known_limitations(),
    })
}

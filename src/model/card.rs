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
        "languages": languages_json(model),
        "limitations": model.known_limitations(),
    })
}

/// The languages part of the card: the detector, and per language its
/// model's training data (with licences), labels, thresholds and figures.
fn languages_json(model: &Model) -> serde_json::Value {
    let Some(detector) = &model.languages.detector else {
        return serde_json::json!({"detection": null, "models": {}});
    };
    let models: serde_json::Map<String, serde_json::Value> = model
        .languages
        .models
        .iter()
        .map(|(language, m)| {
            let available: Vec<&str> = m.label_names();
            let unavailable: Vec<&str> = model
                .label_names()
                .into_iter()
                .filter(|l| !available.contains(l))
                .collect();
            (
                language.code().to_string(),
                serde_json::json!({
                    "name": language.name(),
                    "training": m.training,
                    "licences": m.training.sources.keys()
                        .map(|s| (s.clone(), crate::train::languages::licence_of(s)))
                        .collect::<std::collections::BTreeMap<_, _>>(),
                    "non_commercial": m.training.sources.keys()
                        .any(|s| crate::train::languages::is_non_commercial(s)),
                    "word_list_words": m.analyzer.known_words.as_ref().map(|l| l.len()),
                    "identity_blinding": m.analyzer.identity_mask.is_some(),
                    "features": m.features.len(),
                    "labels": m.labels.iter().map(|l| serde_json::json!({
                        "name": l.name,
                        "threshold": l.threshold,
                        "threshold_rule": l.threshold_rule,
                        "calibration": l.calibration,
                        "positive_repeat": l.positive_repeat,
                        "cross_validation": l.cross_validation,
                    })).collect::<Vec<_>>(),
                    "unavailable_labels": unavailable,
                    "evaluation": m.evaluation,
                    "limitations": m.limitations,
                }),
            )
        })
        .collect();
    serde_json::json!({
        "detection": {
            "languages": detector.languages.iter().map(|l| l.code()).collect::<Vec<_>>(),
            "trained_on": detector.trained_on,
            "min_words": crate::language::detect::MIN_WORDS,
            "min_margin_nats_per_word": crate::language::choose::MIN_MARGIN,
            "declared_prior_nats": crate::language::choose::DECLARED_PRIOR,
        },
        "models": models,
    })
}

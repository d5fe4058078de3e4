//! The model card as JSON: what `moderate info --json` prints and
//! `moderate serve` answers on `GET /v1/model`.

use super::Model;

/// The model card of `model`: format, analyzer and feature settings, the
/// training data, each label's definition, threshold, calibration and
/// cross-validation, the held-out evaluation and the known limitations.
pub fn card_json(model: &Model) -> serde_json::Value {
    serde_json::json!({
        "format_version": super::FORMAT_VERSION,
        "analyzer": model.analyzer,
        "ngrams": model.features.ngrams,
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
        "limitations": model.limitations,
    })
}

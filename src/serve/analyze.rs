//! `comments:analyze`: a Perspective request in, a Perspective response out,
//! scored by moderate's model.
//!
//! - Every requested attribute must map to a label (see
//!   [`attributes`](super::attributes)); its `summaryScore` is the label's
//!   calibrated probability, the same number `moderate score` prints.
//! - `scoreThreshold` leaves out an attribute whose score is below it (and
//!   its spans below it); when every attribute is left out the response has
//!   no `attributeScores`.
//! - With `spanAnnotations`, each sentence is scored on its own and reported
//!   with offsets in UTF-16 code units of the text the client sent (for
//!   `HTML` comments, of the HTML).
//! - The `moderate` extension (request `"moderate": {"explain": true}`)
//!   adds each attribute's label, threshold, flag and the words that raised
//!   it, with UTF-16 spans; without it the response is Perspective's shape.

use super::config::Limits;
use super::language::LanguagePolicy;
use super::reload::Served;
use super::spans::{self, Utf16Cursor};
use super::wire::{
    AnalyzeRequest, AnalyzeResponse, AttributeScores, ErrorKind, ExplainedTerm, ExtensionAttribute,
    ExtensionResponse, RpcError, Score, SpanScore,
};
use crate::model::{Scorer, Scores};
use crate::text::html;
use std::collections::BTreeMap;

/// Most words per attribute the extension returns.
const MAX_TOP: usize = 50;

/// A validated attribute request.
struct Requested {
    name: String,
    label: usize,
    threshold: Option<f32>,
}

/// What an analyze request produced: the response, and the comment's flags
/// (every label, at the server's thresholds) for the metrics.
#[derive(Debug)]
pub struct Analyzed {
    /// The response body.
    pub response: AnalyzeResponse,
    /// Per label, whether the comment reached the flag threshold.
    pub flags: Vec<bool>,
    /// When a label was flagged, the digest of the text the model read
    /// (see [`crate::store::text_digest`]), which keys the served flags.
    pub digest: Option<String>,
    /// The request's `clientToken`, if any.
    pub client_token: Option<String>,
}

/// Scores one analyze request body.
pub fn analyze(
    body: &[u8],
    served: &Served,
    limits: &Limits,
    languages: &LanguagePolicy,
    scorer: &mut Scorer<'_>,
) -> Result<Analyzed, RpcError> {
    let req: AnalyzeRequest = serde_json::from_slice(body).map_err(|e| RpcError::bad_json(&e))?;
    let comment = req.comment.clone().unwrap_or_default();
    let original = comment.text.as_deref().unwrap_or_default();
    if original.trim().is_empty() {
        return Err(RpcError::invalid(
            ErrorKind::CommentEmpty,
            "Comment must be non-empty.",
        ));
    }
    if original.len() > limits.max_text_bytes {
        return Err(RpcError::invalid(
            ErrorKind::CommentTooLong,
            format!(
                "Comment text was too many bytes. Value ({}) exceeded limit ({}).",
                original.len(),
                limits.max_text_bytes
            ),
        ));
    }
    let requested = requested_attributes(&req, served)?;
    let declared = req.languages.clone().unwrap_or_default();
    let available = served.model.languages.available();
    if let Err(langs) = languages.admits(&declared, &available) {
        return Err(RpcError::invalid(
            ErrorKind::LanguageNotSupportedByAttribute,
            format!(
                "Attribute {} does not support request languages: {langs}",
                requested[0].name
            ),
        ));
    }
    // For HTML the model reads the text; offsets map back to the HTML.
    let stripped = comment.is_html().then(|| html::strip(original));
    let text = stripped.as_ref().map_or(original, |s| s.text.as_str());
    // A byte range of `text` as a byte range of `original`.
    let to_original = |a: usize, b: usize| -> (usize, usize) {
        match &stripped {
            None => (a, b),
            Some(s) => s.html_range(original, a, b),
        }
    };

    let mut scores = Scores::default();
    scorer.set_declared(&declared);
    scorer.score_into(text, &mut scores);
    scorer.set_declared(&[]);
    let whole = scores.clone();
    unsupported(
        &requested,
        &whole,
        languages,
        &available,
        &served.label_names(),
    )?;
    let summary = scores.probabilities.clone();
    let truncated = scores.info.truncated;

    // Per sentence: (utf16 begin, utf16 end, probabilities).
    let mut sentence_scores: Vec<(u32, u32, Vec<f32>)> = Vec::new();
    if req.span_annotations == Some(true) {
        let pieces = spans::sentences(text);
        let mut cursor = Utf16Cursor::new(original);
        for (start, end) in pieces {
            let probabilities = if start == 0 && end == text.len() {
                summary.clone()
            } else {
                // A sentence is scored in the comment's language: alone it
                // may be too short to tell.
                scorer.set_fixed_language(whole.language.language);
                scorer.score_into(&text[start..end], &mut scores);
                scorer.set_fixed_language(None);
                scores.probabilities.clone()
            };
            let (a, b) = to_original(start, end);
            let begin = cursor.units_at(a);
            sentence_scores.push((begin, cursor.units_at(b), probabilities));
        }
    }

    let mut attribute_scores: BTreeMap<String, AttributeScores> = BTreeMap::new();
    for r in &requested {
        let p = summary[r.label];
        if r.threshold.is_some_and(|t| p < t) {
            continue;
        }
        let span_scores = (req.span_annotations == Some(true)).then(|| {
            sentence_scores
                .iter()
                .filter(|(_, _, ps)| r.threshold.is_none_or(|t| ps[r.label] >= t))
                .map(|(b, e, ps)| SpanScore {
                    begin: Some(*b),
                    end: Some(*e),
                    score: Some(Score::probability(ps[r.label])),
                })
                .collect()
        });
        attribute_scores.insert(
            r.name.clone(),
            AttributeScores {
                span_scores,
                summary_score: Some(Score::probability(p)),
            },
        );
    }

    let flags = served.flags(&whole);
    let moderate = req.moderate.as_ref().map(|ext| {
        let top = ext.top.unwrap_or(5).min(MAX_TOP);
        let mut explained = ext
            .explain
            .then(|| scorer.explain_scores(text, &whole, &whole.thresholds, top));
        let attributes = requested
            .iter()
            .map(|r| {
                let terms = explained.as_mut().map(|per_label| {
                    per_label[r.label]
                        .clone()
                        .into_iter()
                        .map(|c| ExplainedTerm {
                            term: c.term,
                            weight: c.weight,
                            reader: c.reader.name(),
                            spans: c
                                .spans
                                .iter()
                                .map(|&(a, b)| {
                                    let (a, b) = to_original(a, b);
                                    [
                                        spans::utf16_len(&original[..a]),
                                        spans::utf16_len(&original[..b]),
                                    ]
                                })
                                .collect(),
                        })
                        .collect()
                });
                (
                    r.name.clone(),
                    ExtensionAttribute {
                        label: served.model.labels[r.label].name.clone(),
                        threshold: whole.thresholds[r.label],
                        flagged: flags[r.label],
                        terms,
                    },
                )
            })
            .collect();
        ExtensionResponse {
            model: served.version.clone(),
            stage: whole.stage.name(),
            attributes,
            truncated,
        }
    });

    Ok(Analyzed {
        response: AnalyzeResponse {
            attribute_scores: (!attribute_scores.is_empty()).then_some(attribute_scores),
            languages: declared,
            detected_languages: vec![whole.language.code.to_string()],
            client_token: req.client_token.clone(),
            moderate,
        },
        digest: flags
            .contains(&true)
            .then(|| crate::store::text_digest(text)),
        client_token: req.client_token.clone(),
        flags,
    })
}

/// Refuses a request whose comment is in a language the served model (or
/// the server's `--languages`) does not score for a requested attribute,
/// as Perspective refused attributes a language did not support: the
/// attribute is not scored with another language's model.
fn unsupported(
    requested: &[Requested],
    scores: &Scores,
    languages: &LanguagePolicy,
    available: &[crate::language::Language],
    label_names: &[&str],
) -> Result<(), RpcError> {
    let used = scores.language;
    let served_here = languages.allows(used.code);
    let how = match used.how {
        crate::language::How::Detected => "detected",
        crate::language::How::Declared => "declared",
        crate::language::How::Default => "assumed",
        crate::language::How::Fixed => "fixed",
    };
    let codes: Vec<&str> = available
        .iter()
        .map(|l| l.code())
        .filter(|c| languages.allows(c))
        .collect();
    if !served_here || scores.available.iter().all(|a| !a) {
        return Err(RpcError::invalid(
            ErrorKind::LanguageNotSupportedByAttribute,
            format!(
                "Attribute {} does not support request languages: {} (the comment's language, {how}); this server has no model for it and scores comments in: {}",
                requested[0].name,
                used.code,
                codes.join(", ")
            ),
        ));
    }
    if let Some(r) = requested.iter().find(|r| !scores.is_available(r.label)) {
        return Err(RpcError::invalid(
            ErrorKind::LanguageNotSupportedByAttribute,
            format!(
                "Attribute {} does not support request languages: {} (the comment's language, {how}): the {} model has no `{}` label",
                r.name,
                used.code,
                used.language.map_or(used.code, |l| l.name()),
                label_names.get(r.label).copied().unwrap_or_default()
            ),
        ));
    }
    Ok(())
}

/// Checks `requestedAttributes` and resolves each name to a label.
fn requested_attributes(req: &AnalyzeRequest, served: &Served) -> Result<Vec<Requested>, RpcError> {
    let attrs = match &req.requested_attributes {
        Some(a) if !a.is_empty() => a,
        _ => {
            return Err(RpcError::invalid(
                ErrorKind::NoRequestedAttributes,
                "Missing requested_attributes",
            ));
        }
    };
    let mut out = Vec::with_capacity(attrs.len());
    for (name, params) in attrs {
        let label = served.attributes.label_of(name).ok_or_else(|| {
            RpcError::invalid(
                ErrorKind::UnknownAttribute,
                format!(
                    "Unknown requested attribute: {name} (served: {})",
                    served
                        .attributes
                        .names()
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        let params = params.clone().unwrap_or_default();
        match params.score_type.as_deref() {
            None | Some("PROBABILITY") | Some("SCORE_TYPE_UNSPECIFIED") | Some("") => {}
            Some(other) => {
                return Err(RpcError::invalid(
                    ErrorKind::InvalidRequest,
                    format!(
                        "Attribute {name} does not support score type {other}; only PROBABILITY \
                         is served."
                    ),
                ));
            }
        }
        if let Some(t) = params.score_threshold
            && !(0.0..=1.0).contains(&t)
        {
            return Err(RpcError::invalid(
                ErrorKind::InvalidRequest,
                format!("requestedAttributes.{name}.scoreThreshold {t} is not in [0, 1]."),
            ));
        }
        out.push(Requested {
            name: name.clone(),
            label,
            threshold: params.score_threshold,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served() -> Served {
        Served::built_in_for_tests()
    }

    fn run(body: serde_json::Value) -> Result<serde_json::Value, RpcError> {
        let s = served();
        let mut scorer = s.scorer();
        analyze(
            body.to_string().as_bytes(),
            &s,
            &Limits::default(),
            &LanguagePolicy::default(),
            &mut scorer,
        )
        .map(|a| serde_json::to_value(a.response).unwrap())
    }

    fn cli_probability(text: &str, label: &str) -> f32 {
        let m = crate::default_model().unwrap();
        let i = m.label_index(label).unwrap();
        m.scorer().score(text).probabilities[i]
    }

    #[test]
    fn summary_scores_are_the_models_probabilities() {
        let text = "Hi you idiot";
        let r = run(serde_json::json!({
            "comment": {"text": text},
            "requestedAttributes": {"TOXICITY": {}, "THREAT": {}, "ABUSIVE": {}},
            "clientToken": "comment:1", "languages": ["en"]
        }))
        .unwrap();
        let a = &r["attributeScores"];
        let tox = a["TOXICITY"]["summaryScore"]["value"].as_f64().unwrap() as f32;
        assert_eq!(tox, cli_probability(text, "abusive"));
        assert_eq!(a["ABUSIVE"], a["TOXICITY"]);
        assert_eq!(
            a["THREAT"]["summaryScore"]["value"].as_f64().unwrap() as f32,
            cli_probability(text, "violent")
        );
        assert_eq!(a["TOXICITY"]["summaryScore"]["type"], "PROBABILITY");
        assert!(a["TOXICITY"].get("spanScores").is_none());
        assert_eq!(r["clientToken"], "comment:1");
        assert_eq!(r["languages"], serde_json::json!(["en"]));
        assert_eq!(r["detectedLanguages"], serde_json::json!(["en"]));
        assert!(r.get("moderate").is_none());
    }

    #[test]
    fn score_threshold_filters_as_perspective_does() {
        let text = "Hi you idiot";
        let p = cli_probability(text, "abusive");
        let r = run(serde_json::json!({"comment": {"text": text},
            "requestedAttributes": {"TOXICITY": {"scoreThreshold": (p + 0.01).min(1.0)},
                                    "INSULT": {"scoreThreshold": 0.0}}}))
        .unwrap();
        assert!(r["attributeScores"].get("TOXICITY").is_none());
        assert!(r["attributeScores"].get("INSULT").is_some());
        let r = run(serde_json::json!({"comment": {"text": text},
            "requestedAttributes": {"TOXICITY": {"scoreThreshold": 1.0}}}))
        .unwrap();
        if p < 1.0 {
            assert!(r.get("attributeScores").is_none(), "{r}");
            assert!(r.get("detectedLanguages").is_some());
        }
    }

    #[test]
    fn spans_are_sentences_in_utf16_units() {
        // The emoji is 2 UTF-16 units and 4 bytes; spans count units.
        let text = "Thanks 👍 for the link. You are a stupid idiot!";
        let r = run(serde_json::json!({"comment": {"text": text},
            "requestedAttributes": {"TOXICITY": {}}, "spanAnnotations": true}))
        .unwrap();
        let spans = r["attributeScores"]["TOXICITY"]["spanScores"]
            .as_array()
            .unwrap();
        assert_eq!(spans.len(), 2);
        let utf16: Vec<u16> = text.encode_utf16().collect();
        let piece = |s: &serde_json::Value| {
            let (b, e) = (
                s["begin"].as_u64().unwrap() as usize,
                s["end"].as_u64().unwrap() as usize,
            );
            String::from_utf16(&utf16[b..e]).unwrap()
        };
        assert_eq!(piece(&spans[0]), "Thanks 👍 for the link.");
        assert_eq!(piece(&spans[1]), "You are a stupid idiot!");
        let second = spans[1]["score"]["value"].as_f64().unwrap() as f32;
        assert_eq!(
            second,
            cli_probability("You are a stupid idiot!", "abusive")
        );
        let first = spans[0]["score"]["value"].as_f64().unwrap() as f32;
        assert!(second > first, "the insulting sentence scores higher");
        // One sentence: one span over the whole text.
        let r = run(serde_json::json!({"comment": {"text": "Hi you idiot"},
            "requestedAttributes": {"TOXICITY": {}}, "spanAnnotations": true}))
        .unwrap();
        let s = &r["attributeScores"]["TOXICITY"]["spanScores"][0];
        assert_eq!(
            (s["begin"].as_u64(), s["end"].as_u64()),
            (Some(0), Some(12))
        );
        assert_eq!(s["score"], r["attributeScores"]["TOXICITY"]["summaryScore"]);
    }

    #[test]
    fn html_comments_are_stripped_and_spans_point_into_the_html() {
        let html = "<p>Nice work.</p><p>You <b>idiot</b>!</p>";
        let r = run(
            serde_json::json!({"comment": {"text": html, "type": "HTML"},
            "requestedAttributes": {"TOXICITY": {}}, "spanAnnotations": true,
            "moderate": {"explain": true, "top": 3}}),
        )
        .unwrap();
        let spans = r["attributeScores"]["TOXICITY"]["spanScores"]
            .as_array()
            .unwrap();
        let piece = |s: &serde_json::Value| {
            &html[s["begin"].as_u64().unwrap() as usize..s["end"].as_u64().unwrap() as usize]
        };
        assert_eq!(piece(&spans[0]), "Nice work.");
        assert_eq!(piece(&spans[1]), "You <b>idiot</b>!");
        let ext = &r["moderate"]["attributes"]["TOXICITY"];
        assert_eq!(ext["label"], "abusive");
        let terms = ext["terms"].as_array().unwrap();
        // Up to `top` words from each reader (the encoder's only when it
        // read the comment and flagged it).
        assert!(!terms.is_empty() && terms.len() <= 6, "{terms:?}");
        let idiot = terms
            .iter()
            .find(|t| t["term"] == "idiot")
            .expect("idiot explained");
        let span = &idiot["spans"][0];
        assert_eq!(
            &html[span[0].as_u64().unwrap() as usize..span[1].as_u64().unwrap() as usize],
            "idiot"
        );
    }

    #[test]
    fn the_extension_reports_flags_and_thresholds() {
        let s = served();
        let r = run(serde_json::json!({"comment": {"text": "Hi you idiot"},
            "requestedAttributes": {"THREAT": {}}, "moderate": {}}))
        .unwrap();
        let ext = &r["moderate"]["attributes"]["THREAT"];
        let v = s.model.label_index("violent").unwrap();
        assert_eq!(ext["label"], "violent");
        assert_eq!(ext["threshold"].as_f64().unwrap() as f32, s.thresholds[v]);
        let p = r["attributeScores"]["THREAT"]["summaryScore"]["value"]
            .as_f64()
            .unwrap() as f32;
        assert_eq!(ext["flagged"].as_bool().unwrap(), p >= s.thresholds[v]);
        assert!(ext.get("terms").is_none());
        assert_eq!(r["moderate"]["model"], s.version);
    }

    #[test]
    fn errors_have_perspectives_kinds() {
        let kind = |body: serde_json::Value| run(body).unwrap_err().kind_name();
        let attrs = serde_json::json!({"TOXICITY": {}});
        assert_eq!(
            kind(serde_json::json!({"requestedAttributes": attrs})),
            "COMMENT_EMPTY"
        );
        assert_eq!(
            kind(serde_json::json!({"comment": {"text": "  "}, "requestedAttributes": attrs})),
            "COMMENT_EMPTY"
        );
        assert_eq!(
            kind(serde_json::json!({"comment": {"text": "x"}})),
            "NO_REQUESTED_ATTRIBUTES"
        );
        assert_eq!(
            kind(serde_json::json!({"comment": {"text": "x"}, "requestedAttributes": {}})),
            "NO_REQUESTED_ATTRIBUTES"
        );
        assert_eq!(
            kind(
                serde_json::json!({"comment": {"text": "x"}, "requestedAttributes": {"PROFANITY": {}}})
            ),
            "UNKNOWN_ATTRIBUTE"
        );
        assert_eq!(
            kind(serde_json::json!({"comment": {"text": "x"},
                "requestedAttributes": {"TOXICITY": {"scoreType": "RAW"}}})),
            "INVALID_REQUEST"
        );
        assert_eq!(
            kind(serde_json::json!({"comment": {"text": "x"},
                "requestedAttributes": {"TOXICITY": {"scoreThreshold": 1.5}}})),
            "INVALID_REQUEST"
        );
        assert_eq!(
            kind(
                serde_json::json!({"comment": {"text": "x"}, "requestedAttributes": attrs,
                "languages": ["it"]})
            ),
            "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
        );
        assert_eq!(
            kind(
                serde_json::json!({"comment": {"text": "a".repeat(20_481)}, "requestedAttributes": attrs})
            ),
            "COMMENT_TOO_LONG"
        );
        assert!(run(serde_json::json!({"comment": {"text": "a".repeat(20_480)}, "requestedAttributes": attrs})).is_ok());
        assert_eq!(
            kind(serde_json::json!({"comment": {"text": 5}})),
            "INVALID_REQUEST"
        );
        let msg = run(
            serde_json::json!({"comment": {"text": "x"}, "requestedAttributes": attrs,
            "languages": ["it", "nl"]}),
        )
        .unwrap_err()
        .message;
        assert_eq!(
            msg,
            "Attribute TOXICITY does not support request languages: it, nl"
        );
        // Spanish is admitted, but has no `violent` model.
        let threat = serde_json::json!({"THREAT": {}});
        let msg = run(
            serde_json::json!({"comment": {"text": "Ojalá les den una paliza a \
            todos esos políticos corruptos de una vez"}, "requestedAttributes": threat}),
        )
        .unwrap_err()
        .message;
        assert!(
            msg.contains("es (the comment's language, detected)"),
            "{msg}"
        );
        assert!(msg.contains("no `violent` label"), "{msg}");
    }
}

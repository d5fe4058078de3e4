//! `comments:suggestscore`: a reviewer's decision, recorded in the same
//! decisions file that `moderate review` writes and `moderate train --data`
//! reads.
//!
//! - The row's id is the request's `clientToken` (Coral sends
//!   `comment:<id>`), or `sha256:` and 16 hex digits of the text when there
//!   is none, so that repeated feedback on one comment merges in `train`.
//! - Each attribute's score is mapped back to its label: a value of at least
//!   0.5 is `1`, below is `0` (Coral sends 1 for a rejection, 0 for an
//!   approval). Labels the request does not name are written `-1`
//!   (undecided), which `train` reads as unlabelled. Two attributes of one
//!   label: the label is `1` if either is.
//! - The reviewer is the request's `communityId` (Coral: `Coral:<site URL>`),
//!   else the server's `--reviewer`.
//!
//! One thread owns the file. Each decision is appended in one write and
//! `fsync`ed before the request is answered, so an acknowledged decision
//! survives a crash and a crash tears at most the row in flight (which the
//! next open removes).

use super::config::Limits;
use super::language;
use super::reload::Served;
use super::wire::{ErrorKind, RpcError, SuggestRequest, SuggestResponse};
use crate::error::Result;
use crate::review::{DecisionLog, PartialDecision, rfc3339_utc};
use crate::text::html;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Mutex;
use std::thread::JoinHandle;

/// Reads a suggestscore body into the decision to record and the response
/// to send once it is recorded.
pub fn decision_from(
    body: &[u8],
    served: &Served,
    limits: &Limits,
    default_reviewer: &str,
) -> std::result::Result<(PartialDecision, SuggestResponse), RpcError> {
    let req: SuggestRequest = serde_json::from_slice(body).map_err(|e| RpcError::bad_json(&e))?;
    let comment = req.comment.unwrap_or_default();
    let raw = comment.text.as_deref().unwrap_or_default();
    if raw.trim().is_empty() {
        return Err(RpcError::invalid(
            ErrorKind::CommentEmpty,
            "Comment must be non-empty.",
        ));
    }
    if raw.len() > limits.max_text_bytes {
        return Err(RpcError::invalid(
            ErrorKind::CommentTooLong,
            format!(
                "Comment text was too many bytes. Value ({}) exceeded limit ({}).",
                raw.len(),
                limits.max_text_bytes
            ),
        ));
    }
    let text = if comment.is_html() {
        html::strip(raw).text
    } else {
        raw.to_string()
    };
    let scores = req.attribute_scores.unwrap_or_default();
    if scores.is_empty() {
        return Err(RpcError::invalid(
            ErrorKind::InvalidRequest,
            "attribute_scores must not be empty.",
        ));
    }
    let mut labels: Vec<Option<bool>> = vec![None; served.model.labels.len()];
    for (name, attribute) in &scores {
        let label = served.attributes.label_of(name).ok_or_else(|| {
            RpcError::invalid(
                ErrorKind::UnknownAttribute,
                format!("Unknown attribute: {name}"),
            )
        })?;
        let value = attribute
            .as_ref()
            .and_then(|a| {
                a.summary_score.as_ref().map(|s| s.value).or_else(|| {
                    a.span_scores.as_ref().and_then(|spans| {
                        spans
                            .iter()
                            .filter_map(|s| s.score.as_ref().map(|s| s.value))
                            .reduce(f32::max)
                    })
                })
            })
            .ok_or_else(|| {
                RpcError::invalid(
                    ErrorKind::InvalidRequest,
                    format!("attributeScores.{name} has no summaryScore or spanScores value."),
                )
            })?;
        if !(0.0..=1.0).contains(&value) {
            return Err(RpcError::invalid(
                ErrorKind::InvalidRequest,
                format!("attributeScores.{name}: score {value} is not in [0, 1]."),
            ));
        }
        let decided = value >= 0.5;
        labels[label] = Some(labels[label].unwrap_or(false) || decided);
    }
    let id = match req.client_token.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => text_id(&text),
    };
    let reviewer = match req.community_id.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() => c.to_string(),
        _ => default_reviewer.to_string(),
    };
    let response = SuggestResponse {
        client_token: req.client_token.clone(),
        detected_languages: vec![language::detect(&text).to_string()],
        requested_languages: req.languages.unwrap_or_default(),
    };
    let decision = PartialDecision {
        id,
        text,
        labels,
        reviewer,
        decided_at: rfc3339_utc(std::time::SystemTime::now()),
    };
    Ok((decision, response))
}

/// The id of a decision whose request had no `clientToken`.
pub fn text_id(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

type Reply = tokio::sync::oneshot::Sender<std::result::Result<(), String>>;

/// The thread that appends decisions to the decisions file.
pub struct FeedbackWriter {
    tx: Mutex<Option<crossbeam_channel::Sender<(PartialDecision, Reply)>>>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for FeedbackWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedbackWriter").finish_non_exhaustive()
    }
}

impl FeedbackWriter {
    /// Opens (or creates) the decisions file for `labels` and starts the
    /// writer. Fails when the file's header does not match the labels or a
    /// row other than a torn last one is malformed; a repair is reported on
    /// stderr.
    pub fn open(path: &Path, labels: &[&str]) -> Result<Self> {
        let log = DecisionLog::open(path, labels)?;
        if let Some(repair) = log.repaired() {
            eprintln!("moderate serve: {}: {repair}", path.display());
        }
        let mut log = log.append_only();
        let owned: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        let path = path.to_path_buf();
        let (tx, rx) = crossbeam_channel::bounded::<(PartialDecision, Reply)>(1024);
        let handle = std::thread::Builder::new()
            .name("moderate-decisions".to_string())
            .spawn(move || {
                for (decision, reply) in rx {
                    let outcome = log.append_partial(&decision).map_err(|e| e.to_string());
                    if outcome.is_err() {
                        // A failed write may have left part of a row:
                        // reopening cuts it off before the next append.
                        let labels: Vec<&str> = owned.iter().map(String::as_str).collect();
                        if let Ok(fresh) = DecisionLog::open(&path, &labels) {
                            log = fresh.append_only();
                        }
                    }
                    let _ = reply.send(outcome);
                }
            })
            .map_err(|e| crate::Error::io("decisions writer thread", e))?;
        Ok(FeedbackWriter {
            tx: Mutex::new(Some(tx)),
            handle: Mutex::new(Some(handle)),
        })
    }

    /// Appends `decision` and waits until it is durable.
    pub async fn record(&self, decision: PartialDecision) -> std::result::Result<(), RpcError> {
        let (reply, done) = tokio::sync::oneshot::channel();
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| RpcError::unavailable("The server is shutting down."))?;
        tx.try_send((decision, reply)).map_err(|_| {
            RpcError::exhausted(
                "Too many decisions are waiting to be written; retry shortly.",
                "DECISIONS_BACKLOG",
                1,
            )
        })?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(RpcError::internal(format!(
                "The decision could not be written: {e}"
            ))),
            Err(_) => Err(RpcError::internal("The decisions writer stopped.")),
        }
    }

    /// Writes what is queued, then stops the writer.
    pub fn shutdown(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served() -> Served {
        Served::built_in_for_tests()
    }

    fn decide(body: &str) -> std::result::Result<(PartialDecision, SuggestResponse), RpcError> {
        decision_from(body.as_bytes(), &served(), &Limits::default(), "api")
    }

    #[test]
    fn coral_feedback_becomes_a_partial_decision() {
        let s = served();
        let abusive = s.model.label_index("abusive").unwrap();
        let violent = s.model.label_index("violent").unwrap();
        let (d, r) = decide(
            r#"{"comment": {"text": "You are vermin."},
                "context": {"entries": [{"text": "{\"url\": \"https://x/#c1\"}"}]},
                "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}},
                "languages": ["en"], "communityId": "Coral:https://news.example",
                "clientToken": "comment:c1"}"#,
        )
        .unwrap();
        assert_eq!(d.id, "comment:c1");
        assert_eq!(d.text, "You are vermin.");
        assert_eq!(d.labels[abusive], Some(true));
        assert_eq!(d.labels[violent], None);
        assert_eq!(d.reviewer, "Coral:https://news.example");
        assert_eq!(r.client_token.as_deref(), Some("comment:c1"));
        assert_eq!(r.requested_languages, vec!["en".to_string()]);
        assert_eq!(r.detected_languages, vec!["en".to_string()]);
        // An approval, two attributes of one label, and no token.
        let (d, r) = decide(
            r#"{"comment": {"text": "<p>Fine <b>point</b></p>", "type": "HTML"},
                "attributeScores": {"INSULT": {"summaryScore": {"value": 0.0}},
                                    "TOXICITY": {"summaryScore": {"value": 0.2}},
                                    "THREAT": {"spanScores": [{"begin": 0, "end": 4, "score": {"value": 0.9}}]}}}"#,
        )
        .unwrap();
        assert_eq!(d.text, "Fine point");
        assert_eq!(d.labels[abusive], Some(false));
        assert_eq!(d.labels[violent], Some(true));
        assert_eq!(d.id, text_id("Fine point"));
        assert!(d.id.starts_with("sha256:") && d.id.len() == 23);
        assert_eq!(d.reviewer, "api");
        assert!(r.client_token.is_none() && r.requested_languages.is_empty());
    }

    #[test]
    fn bad_feedback_is_refused_with_the_right_kind() {
        let kind = |body: &str| decide(body).unwrap_err().kind_name();
        assert_eq!(kind("{"), "INVALID_REQUEST");
        assert_eq!(
            kind(r#"{"attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}}}"#),
            "COMMENT_EMPTY"
        );
        assert_eq!(kind(r#"{"comment": {"text": "x"}}"#), "INVALID_REQUEST");
        assert_eq!(
            kind(r#"{"comment": {"text": "x"}, "attributeScores": {}}"#),
            "INVALID_REQUEST"
        );
        assert_eq!(
            kind(
                r#"{"comment": {"text": "x"}, "attributeScores": {"SPAM": {"summaryScore": {"value": 1}}}}"#
            ),
            "UNKNOWN_ATTRIBUTE"
        );
        assert_eq!(
            kind(r#"{"comment": {"text": "x"}, "attributeScores": {"TOXICITY": {}}}"#),
            "INVALID_REQUEST"
        );
        assert_eq!(
            kind(
                r#"{"comment": {"text": "x"}, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 2}}}}"#
            ),
            "INVALID_REQUEST"
        );
        let long = format!(
            r#"{{"comment": {{"text": "{}"}}, "attributeScores": {{"TOXICITY": {{"summaryScore": {{"value": 1}}}}}}}}"#,
            "a".repeat(20_481)
        );
        assert_eq!(kind(&long), "COMMENT_TOO_LONG");
    }

    #[tokio::test]
    async fn the_writer_appends_durably_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.csv");
        let w = FeedbackWriter::open(&path, &["abusive", "violent"]).unwrap();
        let (d, _) = decide(
            r#"{"comment": {"text": "a, \"quoted\"\nline"}, "clientToken": "comment:9",
                "attributeScores": {"THREAT": {"summaryScore": {"value": 1}}}}"#,
        )
        .unwrap();
        w.record(d).await.unwrap();
        w.shutdown();
        assert!(w.record(decide(r#"{"comment": {"text": "x"}, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}}}"#).unwrap().0).await.is_err());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("id,text,abusive,violent,reviewer,decided_at\n"));
        assert!(
            text.contains("comment:9,\"a, \"\"quoted\"\"\nline\",-1,1,api,"),
            "{text}"
        );
        // The header must match the model's labels.
        assert!(FeedbackWriter::open(&path, &["toxic"]).is_err());
    }
}

//! `comments:suggestscore`: a reviewer's decision, stored in the store
//! (see [`crate::store`]) that `moderate train --data` reads.
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
//! One thread stores the decisions. Each is committed (in a transaction
//! with the others waiting at that moment) before its request is answered,
//! so an acknowledged decision survives a crash. A decision identical to
//! the latest one stored for its id (a retried request) is stored once.

use super::config::Limits;
use super::reload::Served;
use super::verdict::{self, FeedbackReading, Outcome, Reading};
use super::wire::{ErrorKind, RpcError, SuggestRequest, SuggestResponse};
use crate::error::Result;
use crate::review::{PartialDecision, rfc3339_utc};
use crate::store::{Dedupe, Location, NewDecision, Recorded, Store};
use crate::text::html;
use std::sync::Mutex;
use std::thread::JoinHandle;

/// A suggestscore request, read: the decision as the request states it,
/// and what is needed to read it against the server's flags (see
/// [`verdict`](super::verdict)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    /// The decision with each named label's value as sent (others `None`).
    pub decision: PartialDecision,
    /// How many attributes the request named.
    pub attributes: usize,
    /// The digest of the comment's text (see [`crate::store::text_digest`]).
    pub digest: String,
    /// The request's `clientToken`, if any.
    pub client_token: Option<String>,
}

/// Reads a suggestscore body into the feedback to record and the response
/// to send once it is recorded.
pub fn decision_from(
    body: &[u8],
    served: &Served,
    limits: &Limits,
    default_reviewer: &str,
) -> std::result::Result<(Feedback, SuggestResponse), RpcError> {
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
    // Per label, the attribute that set it, to name both in a conflict.
    let mut set_by: Vec<Option<(&str, f32)>> = vec![None; labels.len()];
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
        if let (Some(earlier), Some((other, other_value))) = (labels[label], set_by[label])
            && earlier != decided
        {
            return Err(RpcError::invalid(
                ErrorKind::InvalidRequest,
                format!(
                    "attributeScores {other} ({other_value}) and {name} ({value}) both map to \
                     label {} but disagree; send one decision per label",
                    served.model.labels[label].name
                ),
            ));
        }
        labels[label] = Some(decided);
        set_by[label] = Some((name.as_str(), value));
    }
    let client_token = req
        .client_token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let digest = text_id(&text);
    let id = client_token.clone().unwrap_or_else(|| digest.clone());
    let reviewer = match req.community_id.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() => c.to_string(),
        _ => default_reviewer.to_string(),
    };
    let response = SuggestResponse {
        client_token: req.client_token.clone(),
        detected_languages: vec![
            served
                .model
                .choose_language(&text, req.languages.as_deref().unwrap_or_default())
                .code
                .to_string(),
        ],
        requested_languages: req.languages.unwrap_or_default(),
    };
    let decision = PartialDecision {
        id,
        text,
        labels,
        reviewer,
        decided_at: rfc3339_utc(std::time::SystemTime::now()),
    };
    let feedback = Feedback {
        decision,
        attributes: scores.len(),
        digest,
        client_token,
    };
    Ok((feedback, response))
}

/// The id of a decision whose request had no `clientToken`: the text's
/// digest (see [`crate::store::text_digest`]).
pub fn text_id(text: &str) -> String {
    crate::store::text_digest(text)
}

/// What storing a decision did: stored or a repeat, and, when the server
/// had a record of the comment, what the decision did to each label's flag
/// (model order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Stored, or a repeat of the latest decision for its id.
    pub recorded: Recorded,
    /// Per label, confirmed/refuted/...; `None` without a record.
    pub outcomes: Option<Vec<Outcome>>,
}

type Reply = tokio::sync::oneshot::Sender<std::result::Result<Stored, String>>;

/// Most decisions committed in one transaction.
const MAX_BATCH: usize = 512;

/// The thread that stores decisions. It takes every decision waiting when
/// it starts a transaction and commits them together (group commit: one
/// disk sync for many requests), then answers each request. Before storing,
/// it reads what the server flagged for each comment and resolves the
/// decision against it (see [`verdict`](super::verdict)).
pub struct FeedbackWriter {
    tx: Mutex<Option<crossbeam_channel::Sender<(Feedback, Reply)>>>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for FeedbackWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedbackWriter").finish_non_exhaustive()
    }
}

impl FeedbackWriter {
    /// Opens the store at `location` (migrating it; failing when it cannot
    /// be reached or is newer than this binary) and starts the writer for a
    /// model with `labels`, reading single-attribute feedback as `how` says.
    pub fn open(location: &Location, labels: &[&str], how: FeedbackReading) -> Result<Self> {
        let store = Store::open(location)?;
        let names: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        let location = location.clone();
        let (tx, rx) = crossbeam_channel::bounded::<(Feedback, Reply)>(4096);
        let handle = std::thread::Builder::new()
            .name("moderate-decisions".to_string())
            .spawn(move || write_loop(&rx, Some(store), &location, &names, how))
            .map_err(|e| crate::Error::io("decisions writer thread", e))?;
        Ok(FeedbackWriter {
            tx: Mutex::new(Some(tx)),
            handle: Mutex::new(Some(handle)),
        })
    }

    /// Stores `feedback` and waits until it is committed.
    pub async fn record(&self, feedback: Feedback) -> std::result::Result<Stored, RpcError> {
        let (reply, done) = tokio::sync::oneshot::channel();
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| RpcError::unavailable("The server is shutting down."))?;
        tx.try_send((feedback, reply)).map_err(|_| {
            RpcError::exhausted(
                "Too many decisions are waiting to be written; retry shortly.",
                "DECISIONS_BACKLOG",
                1,
            )
        })?;
        match done.await {
            Ok(Ok(stored)) => Ok(stored),
            Ok(Err(e)) => Err(RpcError::internal(format!(
                "The decision could not be stored: {e}"
            ))),
            Err(_) => Err(RpcError::internal("The decisions writer stopped.")),
        }
    }

    /// Stores what is queued, then stops the writer.
    pub fn shutdown(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = h.join();
        }
    }
}

/// The writer's loop: a batch of whatever is waiting, one transaction, one
/// answer per request. After a failure the store is reopened (a PostgreSQL
/// connection may have dropped) before the next batch.
fn write_loop(
    rx: &crossbeam_channel::Receiver<(Feedback, Reply)>,
    mut store: Option<Store>,
    location: &Location,
    labels: &[String],
    how: FeedbackReading,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        if store.is_none() {
            match Store::open(location) {
                Ok(s) => store = Some(s),
                Err(e) => eprintln!("moderate serve: {e}"),
            }
        }
        let outcome = match store.as_mut() {
            Some(s) => store_batch(s, &batch, labels, how).map_err(|e| e.to_string()),
            None => Err(format!("store {location} is unavailable")),
        };
        match outcome {
            Ok(stored) => {
                for ((_, reply), r) in batch.into_iter().zip(stored) {
                    let _ = reply.send(Ok(r));
                }
            }
            Err(e) => {
                store = None;
                for (_, reply) in batch {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Reads the served flags of the batch's comments, resolves each decision
/// against them and stores the batch in one transaction.
fn store_batch(
    store: &mut Store,
    batch: &[(Feedback, Reply)],
    labels: &[String],
    how: FeedbackReading,
) -> Result<Vec<Stored>> {
    let keys: Vec<(String, Option<String>)> = batch
        .iter()
        .map(|(f, _)| (f.digest.clone(), f.client_token.clone()))
        .collect();
    let served = store.served_flags(&keys)?;
    let mut decisions = Vec::with_capacity(batch.len());
    let mut outcomes = Vec::with_capacity(batch.len());
    for ((feedback, _), served) in batch.iter().zip(served) {
        let flagged: Option<Vec<bool>> = served.as_ref().map(|s| {
            labels
                .iter()
                .map(|l| s.flags.get(l).copied().unwrap_or(false))
                .collect()
        });
        let reading = Reading {
            values: feedback.decision.labels.clone(),
            attributes: feedback.attributes,
        };
        let resolved = verdict::resolve(&reading, flagged.as_deref(), how);
        outcomes.push(flagged.as_ref().map(|f| {
            f.iter()
                .zip(&resolved)
                .map(|(&flag, &decided)| Outcome::of(flag, decided))
                .collect()
        }));
        decisions.push(NewDecision {
            id: feedback.decision.id.clone(),
            text: feedback.decision.text.clone(),
            labels: labels.iter().cloned().zip(resolved).collect(),
            reviewer: feedback.decision.reviewer.clone(),
            decided_at: feedback.decision.decided_at.clone(),
            origin: "suggestscore".to_string(),
            served,
            dedupe: Dedupe::Latest,
        });
    }
    let recorded = store.record_decisions(&decisions)?;
    Ok(recorded
        .into_iter()
        .zip(outcomes)
        .map(|(recorded, outcomes)| Stored { recorded, outcomes })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served() -> Served {
        Served::built_in_for_tests()
    }

    fn decide(body: &str) -> std::result::Result<(PartialDecision, SuggestResponse), RpcError> {
        feedback(body).map(|(f, r)| (f.decision, r))
    }

    fn feedback(body: &str) -> std::result::Result<(Feedback, SuggestResponse), RpcError> {
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
        assert_eq!(
            kind(
                r#"{"comment": {"text": "x"}, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}, "INSULT": {"summaryScore": {"value": 0}}}}"#
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
    async fn the_writer_commits_once_per_decision_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::Sqlite(dir.path().join("moderate.db"));
        let w = FeedbackWriter::open(&location, &["abusive", "violent"], FeedbackReading::Verdict)
            .unwrap();
        let body = r#"{"comment": {"text": "a, \"quoted\"\nline"}, "clientToken": "comment:9",
                "attributeScores": {"THREAT": {"summaryScore": {"value": 1}}}}"#;
        let first = w.record(feedback(body).unwrap().0).await.unwrap();
        assert!(matches!(first.recorded, Recorded::Stored(_)));
        assert_eq!(first.outcomes, None, "no record of what was served");
        // The same request again (a retry) is stored once.
        let again = w.record(feedback(body).unwrap().0).await.unwrap();
        assert_eq!(again.recorded, Recorded::Repeat);
        w.shutdown();
        let late = r#"{"comment": {"text": "x"}, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}}}"#;
        assert!(w.record(feedback(late).unwrap().0).await.is_err());
        let mut store = Store::open(&location).unwrap();
        let mut csv = Vec::new();
        crate::store::transfer::export(&mut store, &["abusive".into(), "violent".into()], &mut csv)
            .unwrap();
        let text = String::from_utf8(csv).unwrap();
        assert!(text.starts_with("id,text,abusive,violent,reviewer,decided_at\n"));
        assert!(
            text.contains("comment:9,\"a, \"\"quoted\"\"\nline\",-1,1,api,"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 3, "{text}");
    }
}

//! Coral Talk's external moderation phase (`POST /coral/phase`).
//!
//! Coral signs the raw body: `X-Coral-Signature: sha256=<hex HMAC-SHA256>`
//! keyed with the whole signing secret (`empsec_...`), one comma-separated
//! entry per active secret while secrets rotate. The body is accepted when
//! any entry matches any configured secret; each comparison is constant
//! time. Nothing in the scheme stops a replay of a captured request, which
//! only re-scores the same comment.
//!
//! The answer follows Coral's contract: `204` (no opinion) when no label is
//! flagged; otherwise `200` with `SYSTEM_WITHHELD` and a
//! `COMMENT_DETECTED_TOXIC` flag (the comment waits for a moderator), or
//! `REJECTED` when a label reaches its configured reject threshold.
//!
//! Which label, and why, goes where Coral shows it (checked against
//! coralproject/talk 9.11: `server/src/core/server/services/comments/
//! pipeline/phases/external.ts` validates the response, `stacks/
//! createComment.ts` applies it, the admin's `ModerateCard` shows it):
//!
//! - A rejected comment carries `moderationAction`: `{"status":
//!   "REJECTED", "rejectionReason": {"code", "customReason",
//!   "detailedExplanation"}}`. Coral records it as the decision and shows
//!   the reason and the detailed explanation in the moderation card's
//!   Decision tab; it also sends them to the author in its "comment
//!   rejected" notification. The code is the label's name when Coral has
//!   that rejection code (`ABUSIVE`), else `OTHER` with the label and its
//!   definition as the custom reason (`violent`).
//! - A withheld comment cannot carry it: Coral turns any `moderationAction`
//!   into a rejection notification to the author, whatever its status. What
//!   Coral shows for a withheld comment is each phase's name, status and
//!   flags (the card's markers and "Automated actions" tab), so the label is
//!   shown by the phase: `/coral/phase/{label}` judges one label only, and a
//!   site that sets up one phase per label (named, say, "moderate:
//!   violent") sees on every withheld comment which label withheld it.
//! - Every answer also carries `moderate`: the labels flagged (rarest
//!   label first, as `review` queues them), every label's score and
//!   threshold, the explanation, and the model version. Coral drops fields
//!   it does not know; logs and other clients can read them.

use super::reload::Served;
use super::wire::RpcError;
use crate::model::{Scorer, Scores};
use crate::text::html;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Signature entries read from one header at most (a rotation has two).
const MAX_SIGNATURES: usize = 8;

/// Why a signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No secrets are configured, so nothing can be verified.
    NoSecrets,
    /// The request has no `X-Coral-Signature` header.
    Missing,
    /// The header has no well-formed `sha256=<64 hex digits>` entry.
    Malformed,
    /// No entry matches any secret.
    Mismatch,
}

impl SignatureError {
    /// The message sent to the client.
    pub fn message(self) -> &'static str {
        match self {
            SignatureError::NoSecrets => {
                "No Coral signing secrets are configured (MODERATE_CORAL_SECRETS or \
                 --coral-secrets-file), so no request can be verified."
            }
            SignatureError::Missing => "Missing X-Coral-Signature header.",
            SignatureError::Malformed => "X-Coral-Signature has no sha256=<64 hex digits> entry.",
            SignatureError::Mismatch => "X-Coral-Signature does not match the request body.",
        }
    }
}

/// Checks `header` (the `X-Coral-Signature` value) against `body`.
pub fn verify_signature(
    secrets: &[Vec<u8>],
    header: Option<&[u8]>,
    body: &[u8],
) -> Result<(), SignatureError> {
    if secrets.is_empty() {
        return Err(SignatureError::NoSecrets);
    }
    let header = header.ok_or(SignatureError::Missing)?;
    let header = std::str::from_utf8(header).map_err(|_| SignatureError::Malformed)?;
    let signatures: Vec<[u8; 32]> = header
        .split(',')
        .filter_map(|entry| {
            let (scheme, hex) = entry.trim().split_once('=')?;
            (scheme.trim() == "sha256").then(|| decode_hex32(hex.trim()))?
        })
        .take(MAX_SIGNATURES)
        .collect();
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut matched = false;
    for secret in secrets {
        for signature in &signatures {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
                continue;
            };
            mac.update(body);
            // verify_slice compares in constant time.
            matched |= mac.verify_slice(signature).is_ok();
        }
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// 64 hex digits as 32 bytes.
fn decode_hex32(hex: &str) -> Option<[u8; 32]> {
    let b = hex.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        out[i] = super::auth::hex_value(pair[0])? << 4 | super::auth::hex_value(pair[1])?;
    }
    Some(out)
}

/// The parts of Coral's request the phase reads (other fields are ignored).
#[derive(Debug, Deserialize)]
pub struct PhaseRequest {
    /// `NEW` or `EDIT`.
    pub action: Option<String>,
    /// The comment.
    pub comment: PhaseComment,
}

/// Coral's rejection reason codes (`REJECTION_REASON_CODE` in its GraphQL
/// schema); a label with one of these names is rejected under it, any
/// other under `OTHER`.
const REJECTION_CODES: [&str; 10] = [
    "OFFENSIVE",
    "ABUSIVE",
    "SPAM",
    "BANNED_WORD",
    "AD",
    "ILLEGAL_CONTENT",
    "HARASSMENT_BULLYING",
    "MISINFORMATION",
    "HATE_SPEECH",
    "IRRELEVANT_CONTENT",
];

/// Words of the explanation per label.
const EXPLAINED_WORDS: usize = 5;

/// The comment in a [`PhaseRequest`].
#[derive(Debug, Deserialize)]
pub struct PhaseComment {
    /// HTML (or plain text, depending on the phase's format setting).
    pub body: String,
    /// The parent comment's id, for replies.
    #[serde(rename = "parentID")]
    pub parent_id: Option<String>,
}

/// What the phase decided.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseDecision {
    /// The JSON body to answer with, or `None` for `204 No Content`.
    pub body: Option<serde_json::Value>,
    /// Per label, whether the comment reached its flag threshold.
    pub flags: Vec<bool>,
    /// When a label was flagged, the digest of the comment's text, which
    /// keys the served flags.
    pub digest: Option<String>,
}

/// Scores a (verified) phase request body. `only`: judge that label alone
/// (`/coral/phase/{label}`); `None` judges every label.
pub fn decide(
    body: &[u8],
    served: &Served,
    scorer: &mut Scorer<'_>,
    only: Option<usize>,
) -> Result<PhaseDecision, RpcError> {
    let req: PhaseRequest = serde_json::from_slice(body).map_err(|e| {
        RpcError::invalid(
            super::wire::ErrorKind::InvalidRequest,
            format!("Not a Coral external moderation request: {e}"),
        )
    })?;
    let text = html::strip(&req.comment.body).text;
    let n_labels = served.model.labels.len();
    if text.trim().is_empty() {
        return Ok(PhaseDecision {
            body: None,
            flags: vec![false; n_labels],
            digest: None,
        });
    }
    let mut scores = Scores::default();
    scorer.score_into(&text, &mut scores);
    let judged = |l: usize| only.is_none_or(|o| o == l);
    let flags: Vec<bool> = served
        .flags(&scores)
        .into_iter()
        .enumerate()
        .map(|(l, f)| f && judged(l))
        .collect();
    let rejecting: Vec<usize> = rarest_first(served, |l| {
        judged(l) && served.reject_thresholds[l].is_some_and(|t| scores.probabilities[l] >= t)
    });
    let flagged = rarest_first(served, |l| flags[l]);
    if rejecting.is_empty() && flagged.is_empty() {
        return Ok(PhaseDecision {
            body: None,
            flags,
            digest: None,
        });
    }
    let terms = scorer.explain_scores(&text, &scores, &scores.thresholds, EXPLAINED_WORDS);
    let explanation = explain(
        served,
        &scores.probabilities,
        &scores.thresholds,
        &flagged,
        &rejecting,
        &terms,
    );
    let labels = served.label_names();
    let mut answer = serde_json::json!({
        "status": if rejecting.is_empty() { "SYSTEM_WITHHELD" } else { "REJECTED" },
        "actions": [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}],
        "tags": [],
        "moderate": {
            "model": served.version,
            "labels": flagged.iter().map(|&l| labels[l]).collect::<Vec<_>>(),
            "rejected_for": rejecting.iter().map(|&l| labels[l]).collect::<Vec<_>>(),
            "language": scores.language.code,
            "scores": labels.iter().zip(&scores.probabilities)
                .enumerate()
                .filter(|(l, _)| scores.is_available(*l))
                .map(|(_, (l, p))| (l.to_string(), number(*p)))
                .collect::<serde_json::Map<_, _>>(),
            "thresholds": labels.iter().zip(&scores.thresholds)
                .enumerate()
                .filter(|(l, _)| scores.is_available(*l))
                .map(|(_, (l, t))| (l.to_string(), number(*t)))
                .collect::<serde_json::Map<_, _>>(),
            "explanation": explanation,
        },
    });
    if let Some(&first) = rejecting.first() {
        let label = &served.model.labels[first];
        let code = label.name.to_uppercase();
        let mut reason = serde_json::json!({"detailedExplanation": explanation});
        if REJECTION_CODES.contains(&code.as_str()) {
            reason["code"] = serde_json::json!(code);
        } else {
            reason["code"] = serde_json::json!("OTHER");
            reason["customReason"] =
                serde_json::json!(format!("{}: {}", label.name, label.definition));
        }
        answer["moderationAction"] = serde_json::json!({
            "status": "REJECTED",
            "rejectionReason": reason,
        });
    }
    Ok(PhaseDecision {
        body: Some(answer),
        flags,
        digest: Some(crate::store::text_digest(&text)),
    })
}

/// `x` as a JSON number written as the shortest decimal that reads back as
/// the same `f32` (as the other endpoints write probabilities), not as the
/// long decimal of its `f64` widening.
fn number(x: f32) -> serde_json::Value {
    format!("{x}")
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// The labels for which `pick` holds, rarest first: the label with the
/// fewest positive training comments first (ties in model order), so that
/// the rare, urgent label leads, as it leads `review`'s queue.
fn rarest_first(served: &Served, pick: impl Fn(usize) -> bool) -> Vec<usize> {
    let model = &served.model;
    let positives = |l: usize| {
        model
            .training
            .label_counts
            .get(&model.labels[l].name)
            .map_or(u64::MAX, |c| c[0])
    };
    let mut out: Vec<usize> = (0..model.labels.len()).filter(|&l| pick(l)).collect();
    out.sort_by_key(|&l| positives(l));
    out
}

/// The explanation a moderator reads in Coral: per flagged (or rejecting)
/// label, its score against its threshold, its definition and the words
/// that weighed most (the one explanation, [`Scorer::explain_scores`]).
fn explain(
    served: &Served,
    probabilities: &[f32],
    thresholds: &[f32],
    flagged: &[usize],
    rejecting: &[usize],
    terms: &[Vec<crate::model::Contribution>],
) -> String {
    let mut order: Vec<usize> = rejecting.to_vec();
    order.extend(flagged.iter().filter(|l| !rejecting.contains(l)));
    let parts: Vec<String> = order
        .iter()
        .map(|&l| {
            let label = &served.model.labels[l];
            let at = match served.reject_thresholds[l] {
                Some(t) if rejecting.contains(&l) => format!("rejects at {t:.2}"),
                _ => format!("flags at {:.2}", thresholds[l]),
            };
            let mut words: Vec<&str> = Vec::new();
            for c in terms.get(l).into_iter().flatten() {
                if !words.iter().any(|w| w.eq_ignore_ascii_case(&c.term)) {
                    words.push(&c.term);
                }
            }
            let words = if words.is_empty() {
                String::new()
            } else {
                format!("; words that weighed most: {}", words.join(", "))
            };
            format!(
                "{} {:.2} ({at}): {}{words}",
                label.name, probabilities[l], label.definition
            )
        })
        .collect();
    format!(
        "moderate (model {}) found this comment {}.",
        served.version,
        parts.join(". Also ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::config::ServeConfig;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        let sig = mac.finalize().into_bytes();
        format!(
            "sha256={}",
            sig.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    }

    #[test]
    fn signatures_verify_with_any_active_secret() {
        let secrets = vec![b"empsec_new".to_vec(), b"empsec_old".to_vec()];
        let body = b"{\n  \"action\": \"NEW\"\n}";
        let ok = sign("empsec_old", body);
        assert_eq!(
            verify_signature(&secrets, Some(ok.as_bytes()), body),
            Ok(())
        );
        // Rotation: two entries, one of them current.
        let both = format!(
            "{}, {}",
            sign("empsec_gone", body),
            sign("empsec_new", body)
        );
        assert_eq!(
            verify_signature(&secrets, Some(both.as_bytes()), body),
            Ok(())
        );
        // A changed body, another secret, junk, nothing.
        assert_eq!(
            verify_signature(&secrets, Some(ok.as_bytes()), b"{}"),
            Err(SignatureError::Mismatch)
        );
        let other = sign("empsec_other", body);
        assert_eq!(
            verify_signature(&secrets, Some(other.as_bytes()), body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&secrets, Some(b"sha1=abc"), body),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(&secrets, Some(&ok.as_bytes()[..20]), body),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(&secrets, Some(b"\xff"), body),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(&secrets, None, body),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(&[], Some(ok.as_bytes()), body),
            Err(SignatureError::NoSecrets)
        );
        // Upper-case hex is accepted.
        let upper = ok.replace("sha256=", "").to_uppercase();
        assert_eq!(
            verify_signature(&secrets, Some(format!("sha256={upper}").as_bytes()), body),
            Ok(())
        );
    }

    fn phase(config: &ServeConfig, html_body: &str) -> PhaseDecision {
        phase_for(config, html_body, None)
    }

    fn phase_for(config: &ServeConfig, html_body: &str, only: Option<usize>) -> PhaseDecision {
        let s = Served::build(
            crate::default_model().unwrap(),
            crate::DEFAULT_MODEL_BYTES,
            "built-in".into(),
            config,
        )
        .unwrap();
        let mut scorer = s.scorer();
        let body = serde_json::json!({"action": "NEW", "comment": {"body": html_body, "parentID": null},
            "author": {"id": "u", "role": "COMMENTER"}, "story": {"id": "s", "url": "https://x"},
            "site": {"id": "x"}, "tenantID": "t", "tenantDomain": "example.com"});
        decide(
            serde_json::to_string_pretty(&body).unwrap().as_bytes(),
            &s,
            &mut scorer,
            only,
        )
        .unwrap()
    }

    #[test]
    fn flagged_comments_are_withheld_or_rejected() {
        let mut c = ServeConfig::new("127.0.0.1:0".parse().unwrap());
        // Thresholds chosen from the comments' own scores, so the test holds
        // for any model.
        let m = crate::default_model().unwrap();
        let nasty = "<p>Shut your mouth, you worthless <b>idiot</b> moron.</p>";
        let p_nasty = m.scorer().score(&html::strip(nasty).text).probabilities;
        let kind = "<p>Thanks for the link, very helpful.</p>";
        let p_kind = m.scorer().score(&html::strip(kind).text).probabilities;
        let a = m.label_index("abusive").unwrap();
        assert!(p_nasty[a] > p_kind[a]);
        let between = (p_nasty[a] + p_kind[a]) / 2.0;
        c.thresholds.flag = m
            .labels
            .iter()
            .map(|l| {
                (
                    l.name.clone(),
                    if l.name == "abusive" { between } else { 1.0 },
                )
            })
            .collect();
        let d = phase(&c, nasty);
        let body = d.body.unwrap();
        assert_eq!(body["status"], "SYSTEM_WITHHELD");
        assert_eq!(body["actions"][0]["reason"], "COMMENT_DETECTED_TOXIC");
        assert_eq!(body["actions"][0]["actionType"], "FLAG");
        assert!(d.flags[a]);
        assert_eq!(phase(&c, kind).body, None);
        assert_eq!(phase(&c, "<p> </p>").body, None);
        c.thresholds.coral_reject = vec![("abusive".into(), between)];
        assert_eq!(phase(&c, nasty).body.unwrap()["status"], "REJECTED");
    }

    #[test]
    fn the_answer_names_the_label_and_the_words_where_coral_shows_them() {
        // A call for violence: flagged violent (threshold set from its own
        // score, so this holds for any model), and abusive left at 1.
        let m = crate::default_model().unwrap();
        let call = "<p>Hang the traitors from the bridge and leave them there.</p>";
        let text = html::strip(call).text;
        let p = m.scorer().score(&text).probabilities;
        let v = m.label_index("violent").unwrap();
        let a = m.label_index("abusive").unwrap();
        let mut c = ServeConfig::new("127.0.0.1:0".parse().unwrap());
        c.thresholds.flag = vec![("violent".into(), p[v]), ("abusive".into(), 1.0)];
        // Withheld: Coral shows no text for it, so `moderate` carries the
        // label for logs and other clients.
        let d = phase(&c, call);
        assert!(d.flags[v] && !d.flags[a]);
        let body = d.body.unwrap();
        assert_eq!(body["status"], "SYSTEM_WITHHELD");
        assert_eq!(body["moderate"]["labels"], serde_json::json!(["violent"]));
        assert!(
            body.get("moderationAction").is_none(),
            "Coral would tell the author a withheld comment was rejected"
        );
        let explanation = body["moderate"]["explanation"].as_str().unwrap();
        assert!(explanation.contains("violent"), "{explanation}");
        // The words are the one explanation's (explain_scores).
        let mut scorer = m.scorer();
        let scores = scorer.score(&text);
        let mut thresholds = vec![1.0; m.labels.len()];
        thresholds[v] = p[v];
        let words = scorer.explain_scores(&text, &scores, &thresholds, EXPLAINED_WORDS);
        assert!(!words[v].is_empty());
        for w in &words[v] {
            assert!(explanation.contains(&w.term), "{} in {explanation}", w.term);
        }
        // Rejected: the decision Coral shows (Decision tab, and the author's
        // notification) names the label, its definition and the words.
        c.thresholds.coral_reject = vec![("violent".into(), p[v])];
        let body = phase(&c, call).body.unwrap();
        assert_eq!(body["status"], "REJECTED");
        let action = &body["moderationAction"];
        assert_eq!(action["status"], "REJECTED");
        let reason = &action["rejectionReason"];
        // Coral has no `VIOLENT` code: OTHER, with the label as the reason.
        assert_eq!(reason["code"], "OTHER");
        assert_eq!(
            reason["customReason"],
            format!("violent: {}", m.labels[v].definition)
        );
        let detail = reason["detailedExplanation"].as_str().unwrap();
        assert!(
            detail.contains("violent") && detail.contains("rejects at"),
            "{detail}"
        );
        assert_eq!(
            body["moderate"]["rejected_for"],
            serde_json::json!(["violent"])
        );
        // A label Coral has a code for is rejected under it.
        c.thresholds.flag = vec![("abusive".into(), 0.0), ("violent".into(), 1.0)];
        c.thresholds.coral_reject = vec![("abusive".into(), 0.0)];
        let body = phase(&c, "<p>You idiot.</p>").body.unwrap();
        assert_eq!(
            body["moderationAction"]["rejectionReason"]["code"],
            "ABUSIVE"
        );
        assert!(body["moderationAction"]["rejectionReason"]["customReason"].is_null());
    }

    #[test]
    fn a_phase_for_one_label_judges_that_label_alone() {
        let m = crate::default_model().unwrap();
        let v = m.label_index("violent").unwrap();
        let a = m.label_index("abusive").unwrap();
        let mut c = ServeConfig::new("127.0.0.1:0".parse().unwrap());
        // Every comment reaches both thresholds.
        c.thresholds.flag = vec![("abusive".into(), 0.0), ("violent".into(), 0.0)];
        let d = phase_for(&c, "<p>You idiot.</p>", Some(v));
        assert_eq!(d.flags, {
            let mut f = vec![false; m.labels.len()];
            f[v] = true;
            f
        });
        assert_eq!(
            d.body.unwrap()["moderate"]["labels"],
            serde_json::json!(["violent"])
        );
        c.thresholds.flag = vec![("abusive".into(), 0.0), ("violent".into(), 1.0)];
        // Flagged for abusive only: the violent phase has no opinion.
        assert_eq!(phase_for(&c, "<p>You idiot.</p>", Some(v)).body, None);
        let d = phase_for(&c, "<p>You idiot.</p>", Some(a));
        assert_eq!(d.body.unwrap()["status"], "SYSTEM_WITHHELD");
    }
}

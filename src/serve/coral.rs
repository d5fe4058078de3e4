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

use super::html;
use super::reload::Served;
use super::wire::RpcError;
use crate::model::{Scorer, Scores};
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

/// Scores a (verified) phase request body.
pub fn decide(
    body: &[u8],
    served: &Served,
    scorer: &mut Scorer<'_>,
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
    let flags = served.flags(&scores.probabilities);
    let reject = scores
        .probabilities
        .iter()
        .zip(&served.reject_thresholds)
        .any(|(p, t)| t.is_some_and(|t| *p >= t));
    let status = if reject {
        "REJECTED"
    } else if flags.iter().any(|&f| f) {
        "SYSTEM_WITHHELD"
    } else {
        return Ok(PhaseDecision {
            body: None,
            flags,
            digest: None,
        });
    };
    Ok(PhaseDecision {
        body: Some(serde_json::json!({
            "status": status,
            "actions": [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}],
            "tags": [],
        })),
        flags,
        digest: Some(crate::store::text_digest(&text)),
    })
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
        let s = Served::build(
            crate::default_model().unwrap(),
            crate::DEFAULT_MODEL_BYTES,
            "built-in".into(),
            config,
        )
        .unwrap();
        let mut scorer = s.model.scorer();
        let body = serde_json::json!({"action": "NEW", "comment": {"body": html_body, "parentID": null},
            "author": {"id": "u", "role": "COMMENTER"}, "story": {"id": "s", "url": "https://x"},
            "site": {"id": "x"}, "tenantID": "t", "tenantDomain": "example.com"});
        decide(
            serde_json::to_string_pretty(&body).unwrap().as_bytes(),
            &s,
            &mut scorer,
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
}

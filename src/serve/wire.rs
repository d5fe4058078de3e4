//! The Perspective (Comment Analyzer `v1alpha1`) wire format: requests,
//! responses and the google.rpc error shape, as JSON.
//!
//! Field names follow the API's discovery document. Unknown request fields
//! are ignored (clients send `sessionId`, `communityId` and other fields that
//! do not change a score); a known field of the wrong type is an error.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A body of text (`comment`, or a context entry).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TextEntry {
    /// The text, UTF-8.
    pub text: Option<String>,
    /// `PLAIN_TEXT` (the default) or `HTML`.
    #[serde(rename = "type")]
    pub text_type: Option<String>,
}

impl TextEntry {
    /// True when the text is declared HTML.
    pub fn is_html(&self) -> bool {
        self.text_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("HTML"))
    }
}

/// The context of a comment. Accepted and type-checked, not scored: the
/// model scores the comment alone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    /// A thread of messages.
    pub entries: Option<Vec<TextEntry>>,
    /// The article and the parent comment.
    pub article_and_parent_comment: Option<ArticleAndParentComment>,
}

/// One form of [`Context`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArticleAndParentComment {
    /// The article.
    pub article: Option<TextEntry>,
    /// The comment replied to.
    pub parent_comment: Option<TextEntry>,
}

/// Per-attribute request parameters.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeParameters {
    /// Only `PROBABILITY` (or unset) is served.
    pub score_type: Option<String>,
    /// Scores below this are left out of the response.
    pub score_threshold: Option<f32>,
}

/// moderate's request extension (`"moderate": {...}`): nothing a Perspective
/// client sends, so such clients never see its answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExtensionRequest {
    /// Include the words that raised each attribute's label most.
    #[serde(default)]
    pub explain: bool,
    /// How many words per attribute (default 5, at most 50).
    pub top: Option<usize>,
}

/// `comments:analyze` request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeRequest {
    /// The comment to score (required).
    pub comment: Option<TextEntry>,
    /// Ignored context.
    pub context: Option<Context>,
    /// Attribute name -> parameters (required, non-empty).
    pub requested_attributes: Option<BTreeMap<String, Option<AttributeParameters>>>,
    /// Ask for per-sentence scores.
    pub span_annotations: Option<bool>,
    /// Declared languages.
    pub languages: Option<Vec<String>>,
    /// Ask the service not to store the text (moderate never stores analyze text).
    pub do_not_store: Option<bool>,
    /// Echoed in the response.
    pub client_token: Option<String>,
    /// Ignored.
    pub session_id: Option<String>,
    /// Ignored.
    pub community_id: Option<String>,
    /// moderate's extension.
    pub moderate: Option<ExtensionRequest>,
}

/// A score value and its type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The value (a probability).
    pub value: f32,
    /// Always `PROBABILITY` in responses.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub score_type: Option<String>,
}

impl Score {
    /// A probability score.
    pub fn probability(value: f32) -> Self {
        Score {
            value,
            score_type: Some("PROBABILITY".to_string()),
        }
    }
}

/// A score for a span of the text, in UTF-16 code units, end exclusive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanScore {
    /// First code unit.
    pub begin: Option<u32>,
    /// One past the last code unit.
    pub end: Option<u32>,
    /// The score.
    pub score: Option<Score>,
}

/// One attribute's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeScores {
    /// Per-sentence scores (with `spanAnnotations`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_scores: Option<Vec<SpanScore>>,
    /// The comment's score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_score: Option<Score>,
}

/// A word that raised a label's score (extension), with UTF-16 spans.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExplainedTerm {
    /// The text as written.
    pub term: String,
    /// Its contribution to the label's decision value.
    pub weight: f32,
    /// Which reader it comes from: `words` (the word model's weight) or
    /// `encoder` (how much the score falls when the word is left out).
    pub reader: &'static str,
    /// Where it occurs: `[begin, end)` in UTF-16 code units.
    pub spans: Vec<[u32; 2]>,
}

/// moderate's view of one requested attribute (extension).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtensionAttribute {
    /// The label the attribute maps to.
    pub label: String,
    /// The label's flag threshold in force.
    pub threshold: f32,
    /// Whether the label is flagged.
    pub flagged: bool,
    /// The words that raised the score most (with `explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms: Option<Vec<ExplainedTerm>>,
}

/// moderate's response extension, present only when the request had one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtensionResponse {
    /// The model version that scored the comment.
    pub model: String,
    /// Which reader decided the scores: `words` (the word model alone) or
    /// `encoder` (the word model and the sentence encoder together).
    pub stage: &'static str,
    /// Per requested attribute.
    pub attributes: BTreeMap<String, ExtensionAttribute>,
    /// True when the text was longer than the analyzer reads and only its
    /// start was scored.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// `comments:analyze` response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeResponse {
    /// Attribute name (as requested) -> scores; absent when every attribute
    /// fell below its `scoreThreshold`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute_scores: Option<BTreeMap<String, AttributeScores>>,
    /// The languages the request declared.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    /// The language detected in the text.
    pub detected_languages: Vec<String>,
    /// The request's `clientToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// moderate's extension, only when requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moderate: Option<ExtensionResponse>,
}

/// `comments:suggestscore` request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuggestRequest {
    /// The comment the scores are for (required).
    pub comment: Option<TextEntry>,
    /// Ignored context (Coral puts the comment's URL and ids here).
    pub context: Option<Context>,
    /// Attribute name -> the reviewer's scores (required, non-empty).
    pub attribute_scores: Option<BTreeMap<String, Option<AttributeScores>>>,
    /// Declared languages.
    pub languages: Option<Vec<String>>,
    /// Becomes the decision's id.
    pub client_token: Option<String>,
    /// Becomes the decision's reviewer.
    pub community_id: Option<String>,
    /// Ignored.
    pub session_id: Option<String>,
}

/// `comments:suggestscore` response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuggestResponse {
    /// The request's `clientToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// The language detected in the text.
    pub detected_languages: Vec<String>,
    /// The languages the request declared.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requested_languages: Vec<String>,
}

/// The `errorType`s of Perspective's error details (and two of ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed JSON, a field of the wrong type, an unsupported score type.
    InvalidRequest,
    /// `comment.text` missing or empty.
    CommentEmpty,
    /// `comment.text` over the byte limit.
    CommentTooLong,
    /// `requestedAttributes` missing or empty.
    NoRequestedAttributes,
    /// An attribute the server does not map (ours: Perspective named none).
    UnknownAttribute,
    /// None of the declared languages is served.
    LanguageNotSupportedByAttribute,
}

impl ErrorKind {
    /// The `errorType` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "INVALID_REQUEST",
            ErrorKind::CommentEmpty => "COMMENT_EMPTY",
            ErrorKind::CommentTooLong => "COMMENT_TOO_LONG",
            ErrorKind::NoRequestedAttributes => "NO_REQUESTED_ATTRIBUTES",
            ErrorKind::UnknownAttribute => "UNKNOWN_ATTRIBUTE",
            ErrorKind::LanguageNotSupportedByAttribute => "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
        }
    }
}

/// An error answered in the google.rpc `Status` shape:
/// `{"error": {"code", "message", "status", "details"}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// HTTP status.
    pub http: StatusCode,
    /// The canonical status name (`INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED` ...).
    pub status: &'static str,
    /// What is wrong, for the client.
    pub message: String,
    /// The detail object, if any.
    pub detail: Option<ErrorDetail>,
    /// Seconds a client should wait before retrying (`Retry-After`).
    pub retry_after: Option<u64>,
}

/// The one detail an [`RpcError`] may carry.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorDetail {
    /// `type.googleapis.com/google.commentanalyzer.v1alpha1.Error` with an `errorType`.
    Analyzer(ErrorKind),
    /// `type.googleapis.com/google.rpc.ErrorInfo` with a `reason`, as Google
    /// answers for key and quota errors.
    Info(&'static str),
}

impl RpcError {
    fn new(http: StatusCode, status: &'static str, message: impl Into<String>) -> Self {
        RpcError {
            http,
            status,
            message: message.into(),
            detail: None,
            retry_after: None,
        }
    }

    /// `400 INVALID_ARGUMENT` with a Perspective error kind.
    pub fn invalid(kind: ErrorKind, message: impl Into<String>) -> Self {
        RpcError {
            detail: Some(ErrorDetail::Analyzer(kind)),
            ..Self::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
        }
    }

    /// A request body that is not the JSON expected.
    pub fn bad_json(e: &serde_json::Error) -> Self {
        Self::invalid(
            ErrorKind::InvalidRequest,
            format!("Invalid JSON payload received. {e}"),
        )
    }

    /// No API key presented where one is required (`403`, as Google answers).
    pub fn missing_key() -> Self {
        RpcError {
            detail: Some(ErrorDetail::Info("API_KEY_MISSING")),
            ..Self::new(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                "The request is missing a valid API key.",
            )
        }
    }

    /// A key that is not configured (`400`, Perspective's message).
    pub fn bad_key() -> Self {
        RpcError {
            detail: Some(ErrorDetail::Info("API_KEY_INVALID")),
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
            )
        }
    }

    /// `403 PERMISSION_DENIED`.
    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "PERMISSION_DENIED", message)
    }

    /// `429 RESOURCE_EXHAUSTED`, with a retry hint.
    pub fn exhausted(message: impl Into<String>, reason: &'static str, retry_after: u64) -> Self {
        RpcError {
            detail: Some(ErrorDetail::Info(reason)),
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED", message)
        }
    }

    /// `413` for a body over the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "INVALID_ARGUMENT",
            format!("Request body exceeded limit ({limit} bytes)."),
        )
    }

    /// `408` for a body not received in time.
    pub fn body_timeout(seconds: f64) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "DEADLINE_EXCEEDED",
            format!("Request body not received within {seconds} s."),
        )
    }

    /// `504 DEADLINE_EXCEEDED` when scoring did not finish in time.
    pub fn deadline(seconds: f64) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "DEADLINE_EXCEEDED",
            format!("The request was not answered within {seconds} s."),
        )
    }

    /// `404 NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// `405` for a known path with another method.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNIMPLEMENTED",
            "Method not allowed on this path.",
        )
    }

    /// `415` when a body's content type is not one the endpoint reads.
    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "INVALID_ARGUMENT",
            message,
        )
    }

    /// `409 FAILED_PRECONDITION`.
    pub fn failed_precondition(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "FAILED_PRECONDITION", message)
    }

    /// `503 UNAVAILABLE`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", message)
    }

    /// `500 INTERNAL`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", message)
    }

    /// The short name logs and metrics use for this error: the error kind or
    /// reason when there is one, else the status.
    pub fn kind_name(&self) -> &'static str {
        match &self.detail {
            Some(ErrorDetail::Analyzer(k)) => k.as_str(),
            Some(ErrorDetail::Info(r)) => r,
            None => self.status,
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> serde_json::Value {
        let mut error = serde_json::json!({
            "code": self.http.as_u16(),
            "message": self.message,
            "status": self.status,
        });
        if let Some(detail) = &self.detail {
            error["details"] = match detail {
                ErrorDetail::Analyzer(kind) => serde_json::json!([{
                    "@type": "type.googleapis.com/google.commentanalyzer.v1alpha1.Error",
                    "errorType": kind.as_str(),
                }]),
                ErrorDetail::Info(reason) => serde_json::json!([{
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": reason,
                    "domain": "moderate",
                }]),
            };
        }
        serde_json::json!({ "error": error })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analyze_request_reads_the_documented_fields() {
        let r: AnalyzeRequest = serde_json::from_str(
            r#"{"comment": {"text": "Hi you idiot", "type": "PLAIN_TEXT"},
                "context": {"entries": [{"text": "the parent comment", "type": "PLAIN_TEXT"}]},
                "requestedAttributes": {"TOXICITY": {}, "THREAT": {"scoreType": "PROBABILITY", "scoreThreshold": 0.5}},
                "spanAnnotations": true, "languages": ["en"], "doNotStore": true,
                "clientToken": "comment:1", "sessionId": "s", "communityId": "c", "newerField": 1}"#,
        )
        .unwrap();
        assert_eq!(r.comment.unwrap().text.as_deref(), Some("Hi you idiot"));
        let attrs = r.requested_attributes.unwrap();
        assert_eq!(attrs.len(), 2);
        assert_eq!(attrs["THREAT"].as_ref().unwrap().score_threshold, Some(0.5));
        assert_eq!(r.client_token.as_deref(), Some("comment:1"));
        assert!(r.moderate.is_none());
    }

    #[test]
    fn wrong_types_are_errors() {
        for body in [
            r#"{"comment": "text"}"#,
            r#"{"comment": {"text": 5}}"#,
            r#"{"requestedAttributes": []}"#,
            r#"{"requestedAttributes": {"TOXICITY": {"scoreThreshold": "high"}}}"#,
            r#"{"spanAnnotations": "yes"}"#,
            r#"{"languages": "en"}"#,
            r#"[1, 2]"#,
        ] {
            assert!(
                serde_json::from_str::<AnalyzeRequest>(body).is_err(),
                "{body}"
            );
        }
    }

    #[test]
    fn responses_omit_what_perspective_omits() {
        let r = AnalyzeResponse {
            attribute_scores: None,
            languages: vec![],
            detected_languages: vec!["en".into()],
            client_token: None,
            moderate: None,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"detectedLanguages":["en"]}"#
        );
    }

    #[test]
    fn errors_have_the_google_rpc_shape() {
        let e = RpcError::invalid(ErrorKind::CommentEmpty, "Comment must be non-empty.");
        assert_eq!(
            e.to_json(),
            serde_json::json!({"error": {"code": 400, "message": "Comment must be non-empty.",
                "status": "INVALID_ARGUMENT", "details": [{
                "@type": "type.googleapis.com/google.commentanalyzer.v1alpha1.Error",
                "errorType": "COMMENT_EMPTY"}]}})
        );
        assert_eq!(e.kind_name(), "COMMENT_EMPTY");
        let k = RpcError::bad_key();
        assert_eq!(k.http, StatusCode::BAD_REQUEST);
        assert_eq!(k.kind_name(), "API_KEY_INVALID");
        let q = RpcError::exhausted("busy", "CONCURRENCY_LIMIT", 1);
        assert_eq!(q.http.as_u16(), 429);
        assert_eq!(q.to_json()["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(RpcError::internal("x").kind_name(), "INTERNAL");
    }
}

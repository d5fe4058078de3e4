//! The HTTP application: routes, the middleware every request passes through
//! (metrics, access log, model-version header, API keys, rate limits) and
//! the handlers, which only move bytes: parsing, scoring and serialising run
//! on the scoring pool.

use super::access_log::{AccessLogger, Entry};
use super::analyze;
use super::auth::presented_key;
use super::config::ServeConfig;
use super::coral;
use super::feedback::{self, FeedbackWriter};
use super::flags::{self as served_flags, FlagRecorder};
use super::limits::{Admission, RateLimiter};
use super::metrics::{Endpoint, Metrics};
use super::native::{self, BatchInput, BatchOptions};
use super::reload::{ModelHolder, Served};
use super::wire::RpcError;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The header naming the model version that answered, on every response.
pub const MODEL_HEADER: &str = "x-moderate-model-version";

/// Everything the handlers share.
pub struct App {
    /// The configuration.
    pub config: Arc<ServeConfig>,
    /// The model in service.
    pub models: ModelHolder,
    /// The scoring workers.
    pub pool: super::pool::ScoringPool,
    /// The decisions writer (to the store).
    pub feedback: FeedbackWriter,
    /// The served-flags writer (to the store).
    pub flags: FlagRecorder,
    /// Metrics.
    pub metrics: Metrics,
    /// The in-flight cap.
    pub admission: Admission,
    /// Per-key rate limits, if configured.
    pub rate: Option<RateLimiter>,
    /// The access log.
    pub log: AccessLogger,
    /// Set once shutdown has begun: `/healthz` answers 503 and responses
    /// close their connections.
    pub draining: AtomicBool,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("listen", &self.config.listen)
            .finish_non_exhaustive()
    }
}

/// Facts a handler or middleware leaves on a response for the access log.
#[derive(Debug, Clone, Default)]
struct LogNote {
    key: Option<String>,
    error: Option<&'static str>,
    flags: Option<String>,
    records: Option<u64>,
}

fn note(resp: &mut Response) -> &mut LogNote {
    if resp.extensions().get::<LogNote>().is_none() {
        resp.extensions_mut().insert(LogNote::default());
    }
    resp.extensions_mut()
        .get_mut::<LogNote>()
        .expect("inserted above")
}

/// The router of `app`.
pub fn router(app: Arc<App>) -> Router {
    let keyed = Router::new()
        .route("/v1alpha1/comments:analyze", post(analyze_handler))
        .route("/comments:analyze", post(analyze_handler))
        .route("/v1alpha1/comments:suggestscore", post(suggest_handler))
        .route("/comments:suggestscore", post(suggest_handler))
        .route("/v1/score", post(score_handler))
        .route("/v1/model", get(model_handler))
        .route("/metrics", get(metrics_handler))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            authenticate,
        ));
    Router::new()
        .merge(keyed)
        .route("/coral/phase", post(coral_handler))
        .route("/coral/phase/{label}", post(coral_label_handler))
        .route("/healthz", get(healthz_handler))
        .route("/admin/reload", post(reload_handler))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(Arc::clone(&app), observe))
        .with_state(app)
}

/// A JSON (or other) body with the model version header.
fn body_response(status: StatusCode, content_type: &str, body: Vec<u8>, version: &str) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(version) {
        h.insert(MODEL_HEADER, v);
    }
    resp
}

/// An error in the google.rpc shape.
fn error_response(e: &RpcError, version: Option<&str>) -> Response {
    let body = serde_json::to_vec(&e.to_json()).unwrap_or_default();
    let mut resp = body_response(
        e.http,
        "application/json; charset=utf-8",
        body,
        version.unwrap_or(""),
    );
    if version.is_none() {
        resp.headers_mut().remove(MODEL_HEADER);
    }
    if let Some(s) = e.retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    if matches!(
        e.http,
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
    ) {
        // The rest of the body was not read: the connection cannot be reused.
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    note(&mut resp).error = Some(e.kind_name());
    resp
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Reads a request body of at most `limit` bytes within the body timeout.
async fn read_body(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, RpcError> {
    if content_length(headers).is_some_and(|n| n > limit as u64) {
        app.metrics.rejected("body_too_large");
        return Err(RpcError::too_large(limit));
    }
    let limits = &app.config.limits;
    let limited = http_body_util::Limited::new(body, limit);
    match tokio::time::timeout(limits.body_timeout, limited.collect()).await {
        Err(_) => {
            app.metrics.rejected("body_timeout");
            Err(RpcError::body_timeout(limits.body_timeout.as_secs_f64()))
        }
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                app.metrics.rejected("body_too_large");
                Err(RpcError::too_large(limit))
            } else {
                Err(RpcError::invalid(
                    super::wire::ErrorKind::InvalidRequest,
                    "The request body could not be read.",
                ))
            }
        }
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// The outcome of scoring work: a status, a content type and a body, plus
/// what the metrics and the log learn from it.
struct Scored {
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
    flags: Vec<Vec<bool>>,
    records: Option<u64>,
    /// What the server flagged, to record for a later decision.
    served: Option<crate::store::ServedFlags>,
}

/// Reads the body, takes an in-flight slot, runs `work` on the pool within
/// the request timeout and turns the result into a response.
async fn score_on_pool<F>(app: &Arc<App>, req: Request, limit: usize, work: F) -> Response
where
    F: FnOnce(Bytes, &Served, &mut crate::model::Scorer<'_>) -> Result<Scored, RpcError>
        + Send
        + 'static,
{
    let (parts, body) = req.into_parts();
    let body = match read_body(app, &parts.headers, body, limit).await {
        Ok(b) => b,
        Err(e) => return error_response(&e, None),
    };
    let _slot = match app.admission.try_admit() {
        Ok(slot) => slot,
        Err(e) => {
            app.metrics.rejected("concurrency_limit");
            return error_response(&e, None);
        }
    };
    let served = app.models.current();
    let version = served.version.clone();
    let names: Vec<String> = served.label_names().iter().map(|l| l.to_string()).collect();
    let timeout = app.config.limits.request_timeout;
    let job = app
        .pool
        .run(served, move |served, scorer| work(body, served, scorer));
    let outcome = match tokio::time::timeout(timeout, job).await {
        Err(_) => {
            app.metrics.rejected("request_timeout");
            Err(RpcError::deadline(timeout.as_secs_f64()))
        }
        Ok(Err(e)) => Err(e),
        Ok(Ok(result)) => result,
    };
    match outcome {
        Ok(mut scored) => {
            if let Some(s) = scored.served.take() {
                app.flags.record(s);
            }
            for f in &scored.flags {
                app.metrics.scored(f);
            }
            let flagged = (scored.flags.len() == 1).then(|| {
                names
                    .iter()
                    .zip(&scored.flags[0])
                    .filter(|(_, f)| **f)
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            });
            let mut resp = body_response(scored.status, scored.content_type, scored.body, &version);
            let n = note(&mut resp);
            n.flags = flagged.filter(|f| !f.is_empty());
            n.records = scored.records;
            resp
        }
        Err(e) => {
            if e.kind_name() == "CONCURRENCY_LIMIT" {
                app.metrics.rejected("concurrency_limit");
            }
            error_response(&e, Some(&version))
        }
    }
}

const JSON: &str = "application/json; charset=utf-8";

async fn analyze_handler(State(app): State<Arc<App>>, req: Request) -> Response {
    let config = Arc::clone(&app.config);
    let limit = config.limits.max_body_bytes;
    score_on_pool(&app, req, limit, move |body, served, scorer| {
        let a = analyze::analyze(&body, served, &config.limits, &config.languages, scorer)?;
        let record = a.digest.and_then(|digest| {
            served_flags::served_flags(
                digest,
                a.client_token,
                &served.label_names(),
                &a.flags,
                &served.version,
            )
        });
        Ok(Scored {
            status: StatusCode::OK,
            content_type: JSON,
            body: serde_json::to_vec(&a.response).map_err(|e| RpcError::internal(e.to_string()))?,
            flags: vec![a.flags],
            records: None,
            served: record,
        })
    })
    .await
}

async fn suggest_handler(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match read_body(&app, &parts.headers, body, app.config.limits.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return error_response(&e, None),
    };
    let _slot = match app.admission.try_admit() {
        Ok(slot) => slot,
        Err(e) => {
            app.metrics.rejected("concurrency_limit");
            return error_response(&e, None);
        }
    };
    let served = app.models.current();
    let version = served.version.clone();
    let config = Arc::clone(&app.config);
    let parsed = app
        .pool
        .run(served, move |served, _| {
            feedback::decision_from(&body, served, &config.limits, &config.reviewer)
        })
        .await;
    let (decision, response) = match parsed {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) | Err(e) => return error_response(&e, Some(&version)),
    };
    // Waits for the commit: a 200 means the decision is stored.
    let written = app.feedback.record(decision).await;
    app.metrics.decision(written.is_ok());
    match written {
        Err(e) => {
            eprintln!("moderate serve: {}", e.message);
            return error_response(&e, Some(&version));
        }
        Ok(stored) => {
            if let (crate::store::Recorded::Stored(_), Some(outcomes)) =
                (stored.recorded, &stored.outcomes)
            {
                app.metrics.feedback_outcomes(outcomes);
            }
        }
    }
    let body = serde_json::to_vec(&response).unwrap_or_default();
    body_response(StatusCode::OK, JSON, body, &version)
}

async fn score_handler(State(app): State<Arc<App>>, req: Request) -> Response {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(input) = BatchInput::from_content_type(content_type.as_deref()) else {
        return error_response(
            &RpcError::unsupported_media(
                "POST /v1/score reads application/json, application/x-ndjson, text/csv or \
                 text/plain.",
            ),
            None,
        );
    };
    let options = match BatchOptions::from_query(req.uri().query()) {
        Ok(o) => o,
        Err(e) => return error_response(&e, None),
    };
    let config = Arc::clone(&app.config);
    let limit = config.limits.max_batch_bytes;
    score_on_pool(&app, req, limit, move |body, served, scorer| {
        let b = native::score_batch(body, input, options, served, &config.limits, scorer)?;
        Ok(Scored {
            status: StatusCode::OK,
            content_type: b.content_type,
            body: b.body,
            flags: b.flags,
            records: Some(b.records),
            served: None,
        })
    })
    .await
}

async fn coral_handler(State(app): State<Arc<App>>, req: Request) -> Response {
    coral_phase(app, None, req).await
}

/// `/coral/phase/{label}`: a phase that judges one label, so that Coral,
/// which shows each phase's name on a comment it withheld, shows the label.
async fn coral_label_handler(
    State(app): State<Arc<App>>,
    axum::extract::Path(label): axum::extract::Path<String>,
    req: Request,
) -> Response {
    coral_phase(app, Some(label), req).await
}

async fn coral_phase(app: Arc<App>, label: Option<String>, req: Request) -> Response {
    let signature = req
        .headers()
        .get("x-coral-signature")
        .map(|v| v.as_bytes().to_vec());
    let config = Arc::clone(&app.config);
    let app2 = Arc::clone(&app);
    let limit = config.limits.max_body_bytes;
    score_on_pool(&app, req, limit, move |body, served, scorer| {
        if let Err(e) = coral::verify_signature(&config.coral_secrets, signature.as_deref(), &body)
        {
            app2.metrics.rejected("bad_signature");
            return Err(RpcError::denied(e.message()));
        }
        let only = match &label {
            None => None,
            Some(name) => Some(
                (0..served.model.labels.len())
                    .find(|&l| served.model.labels[l].name.eq_ignore_ascii_case(name))
                    .ok_or_else(|| {
                        RpcError::not_found(format!(
                            "No label `{}` in the model (labels: {}); /coral/phase judges \
                             all of them.",
                            sanitize_path(name),
                            served.label_names().join(", ")
                        ))
                    })?,
            ),
        };
        let d = coral::decide(&body, served, scorer, only)?;
        let record = d.digest.and_then(|digest| {
            served_flags::served_flags(
                digest,
                None,
                &served.label_names(),
                &d.flags,
                &served.version,
            )
        });
        Ok(match d.body {
            None => Scored {
                status: StatusCode::NO_CONTENT,
                content_type: JSON,
                body: Vec::new(),
                flags: vec![d.flags],
                records: None,
                served: record,
            },
            Some(json) => Scored {
                status: StatusCode::OK,
                content_type: JSON,
                body: serde_json::to_vec(&json).unwrap_or_default(),
                flags: vec![d.flags],
                records: None,
                served: record,
            },
        })
    })
    .await
}

async fn model_handler(State(app): State<Arc<App>>) -> Response {
    let served = app.models.current();
    let card = native::model_card(&served, &app.config.languages.describe());
    let body = serde_json::to_vec_pretty(&card).unwrap_or_default();
    body_response(StatusCode::OK, JSON, body, &served.version)
}

async fn metrics_handler(State(app): State<Arc<App>>) -> Response {
    let version = app.models.current().version.clone();
    app.metrics
        .served_flags_lost(app.flags.dropped(), app.flags.failed());
    body_response(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        app.metrics.render().into_bytes(),
        &version,
    )
}

async fn healthz_handler(State(app): State<Arc<App>>) -> Response {
    let version = app.models.current().version.clone();
    let (status, state) = if app.draining.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "draining")
    } else {
        (StatusCode::OK, "ok")
    };
    let body = serde_json::to_vec(&serde_json::json!({"status": state, "model": version}))
        .unwrap_or_default();
    body_response(status, JSON, body, &version)
}

async fn reload_handler(State(app): State<Arc<App>>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let admin = &app.config.admin_keys;
    let allowed = if admin.is_empty() {
        peer.is_some_and(|p| p.ip().is_loopback())
    } else {
        presented_key(req.uri().query(), req.headers()).is_some_and(|k| admin.check(&k).is_some())
    };
    if !allowed {
        let why = if admin.is_empty() {
            "POST /admin/reload is open to loopback clients only; set MODERATE_ADMIN_KEYS to \
             allow others."
        } else {
            "POST /admin/reload needs an admin key (MODERATE_ADMIN_KEYS)."
        };
        return error_response(&RpcError::denied(why), None);
    }
    let outcome = reload_now(&app).await;
    let version = app.models.current().version.clone();
    match outcome {
        Ok(r) => {
            let body = serde_json::to_vec(
                &serde_json::json!({"previous": r.previous, "current": r.current}),
            )
            .unwrap_or_default();
            body_response(StatusCode::OK, JSON, body, &version)
        }
        Err(message) => error_response(
            &RpcError::failed_precondition(format!("{message}; still serving model {version}")),
            Some(&version),
        ),
    }
}

/// Reloads the model off the executor and reports the outcome on stderr
/// and in the metrics (SIGHUP and the admin endpoint share it).
pub async fn reload_now(app: &Arc<App>) -> Result<super::reload::Reloaded, String> {
    let worker = Arc::clone(app);
    let outcome = tokio::task::spawn_blocking(move || worker.models.reload())
        .await
        .map_err(|e| format!("reload failed: {e}"))
        .and_then(|r| r.map_err(|e| e.to_string()));
    match &outcome {
        Ok(r) => {
            let served = app.models.current();
            app.metrics.reload(Some((&served.version, &served.source)));
            eprintln!(
                "moderate serve: reloaded model {} from {} (was {})",
                r.current, served.source, r.previous
            );
        }
        Err(e) => {
            app.metrics.reload(None);
            eprintln!(
                "moderate serve: reload failed, still serving model {}: {e}",
                app.models.current().version
            );
        }
    }
    outcome
}

async fn not_found(req: Request) -> Response {
    let e = RpcError::not_found(format!(
        "No such endpoint: {}. See GET /v1/model and the README's Serving section.",
        sanitize_path(req.uri().path())
    ));
    error_response(&e, None)
}

async fn method_not_allowed() -> Response {
    error_response(&RpcError::method_not_allowed(), None)
}

/// A client-chosen path, shortened and without control characters, for a
/// message.
fn sanitize_path(path: &str) -> String {
    path.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// Checks the API key (when keys are configured) and the rate limit.
async fn authenticate(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let mut key_id: Option<String> = None;
    if app.config.keys_required() {
        let presented = presented_key(req.uri().query(), req.headers());
        match presented {
            None => return error_response(&RpcError::missing_key(), None),
            Some(k) => match app.config.api_keys.check(&k) {
                None => return error_response(&RpcError::bad_key(), None),
                Some(id) => key_id = Some(id.to_string()),
            },
        }
    }
    if let Some(rate) = &app.rate
        && let Err(e) = rate.check(key_id.as_deref().unwrap_or(""), Instant::now())
    {
        app.metrics.rejected("rate_limit");
        let mut resp = error_response(&e, None);
        note(&mut resp).key = key_id;
        return resp;
    }
    let mut resp = next.run(req).await;
    note(&mut resp).key = key_id;
    resp
}

/// Times every request, counts it, adds the model header and writes the
/// access-log line.
async fn observe(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let bytes_in = content_length(req.headers());
    app.metrics.in_flight(1);
    let mut resp = next.run(req).await;
    app.metrics.in_flight(-1);
    if !resp.headers().contains_key(MODEL_HEADER)
        && let Ok(v) = HeaderValue::from_str(&app.models.current().version)
    {
        resp.headers_mut().insert(MODEL_HEADER, v);
    }
    if app.draining.load(Ordering::Relaxed) {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let took = start.elapsed();
    let status = resp.status().as_u16();
    app.metrics.request(Endpoint::of_path(&path), status, took);
    let n = resp
        .extensions()
        .get::<LogNote>()
        .cloned()
        .unwrap_or_default();
    let entry = Entry {
        time: crate::review::rfc3339_utc(std::time::SystemTime::now()),
        peer,
        method,
        path: sanitize_path(&path),
        status,
        millis: took.as_secs_f64() * 1e3,
        bytes_in,
        bytes_out: axum::body::HttpBody::size_hint(resp.body()).exact(),
        key: n.key,
        model: resp
            .headers()
            .get(MODEL_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        error: n.error,
        flags: n.flags,
        records: n.records,
    };
    if !app.log.log(&entry) {
        app.metrics.log_dropped();
    }
    resp
}

//! Counters and histograms for `GET /metrics`, in the Prometheus text
//! exposition format. Every label value comes from a fixed set (endpoints,
//! status codes, model labels, reasons), so a client cannot grow the series.

use super::verdict::Outcome;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The endpoints, as metrics and logs name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `comments:analyze`
    Analyze,
    /// `comments:suggestscore`
    SuggestScore,
    /// `/coral/phase`
    CoralPhase,
    /// `/v1/score`
    Score,
    /// `/v1/model`
    Model,
    /// `/healthz`
    Healthz,
    /// `/metrics`
    Metrics,
    /// `/admin/reload`
    Reload,
    /// Anything else (404s).
    Other,
}

const ENDPOINTS: [Endpoint; 9] = [
    Endpoint::Analyze,
    Endpoint::SuggestScore,
    Endpoint::CoralPhase,
    Endpoint::Score,
    Endpoint::Model,
    Endpoint::Healthz,
    Endpoint::Metrics,
    Endpoint::Reload,
    Endpoint::Other,
];

impl Endpoint {
    /// The endpoint serving `path`.
    pub fn of_path(path: &str) -> Endpoint {
        match path {
            "/v1alpha1/comments:analyze" | "/comments:analyze" => Endpoint::Analyze,
            "/v1alpha1/comments:suggestscore" | "/comments:suggestscore" => Endpoint::SuggestScore,
            "/coral/phase" => Endpoint::CoralPhase,
            "/v1/score" => Endpoint::Score,
            "/v1/model" => Endpoint::Model,
            "/healthz" => Endpoint::Healthz,
            "/metrics" => Endpoint::Metrics,
            "/admin/reload" => Endpoint::Reload,
            _ => Endpoint::Other,
        }
    }

    /// Its name in metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Analyze => "analyze",
            Endpoint::SuggestScore => "suggestscore",
            Endpoint::CoralPhase => "coral_phase",
            Endpoint::Score => "score",
            Endpoint::Model => "model",
            Endpoint::Healthz => "healthz",
            Endpoint::Metrics => "metrics",
            Endpoint::Reload => "reload",
            Endpoint::Other => "other",
        }
    }

    fn index(self) -> usize {
        ENDPOINTS.iter().position(|&e| e == self).unwrap_or(8)
    }
}

/// Status codes counted one by one; any other is counted as `other`.
const STATUSES: [u16; 16] = [
    200, 204, 400, 403, 404, 405, 408, 409, 413, 415, 422, 429, 500, 503, 504, 0,
];

/// Latency histogram bucket bounds, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_nanos
            .fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }
}

/// Why a request was refused before scoring.
pub const REJECT_REASONS: [&str; 6] = [
    "concurrency_limit",
    "rate_limit",
    "body_too_large",
    "body_timeout",
    "request_timeout",
    "bad_signature",
];

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    requests: Vec<[AtomicU64; STATUSES.len()]>,
    latency: Vec<Histogram>,
    labels: Vec<String>,
    flags: Vec<AtomicU64>,
    scored: AtomicU64,
    rejected: [AtomicU64; REJECT_REASONS.len()],
    decisions: AtomicU64,
    decision_failures: AtomicU64,
    feedback: Vec<[AtomicU64; 5]>,
    served_flags_dropped: AtomicU64,
    served_flags_failed: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    connections: AtomicI64,
    in_flight: AtomicI64,
    log_dropped: AtomicU64,
    model: Mutex<(String, String)>,
}

impl Metrics {
    /// Metrics for a model with `labels`, serving `version` from `source`.
    pub fn new(labels: &[&str], version: &str, source: &str) -> Self {
        Metrics {
            started: Instant::now(),
            requests: ENDPOINTS.iter().map(|_| Default::default()).collect(),
            latency: ENDPOINTS.iter().map(|_| Histogram::default()).collect(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            flags: labels.iter().map(|_| AtomicU64::new(0)).collect(),
            scored: AtomicU64::new(0),
            rejected: Default::default(),
            decisions: AtomicU64::new(0),
            decision_failures: AtomicU64::new(0),
            feedback: labels.iter().map(|_| Default::default()).collect(),
            served_flags_dropped: AtomicU64::new(0),
            served_flags_failed: AtomicU64::new(0),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            connections: AtomicI64::new(0),
            in_flight: AtomicI64::new(0),
            log_dropped: AtomicU64::new(0),
            model: Mutex::new((version.to_string(), source.to_string())),
        }
    }

    /// Counts a finished request.
    pub fn request(&self, endpoint: Endpoint, status: u16, took: Duration) {
        let e = endpoint.index();
        let s = STATUSES
            .iter()
            .position(|&c| c == status)
            .unwrap_or(STATUSES.len() - 1);
        self.requests[e][s].fetch_add(1, Relaxed);
        self.latency[e].observe(took);
    }

    /// Counts one scored comment and the labels it was flagged for.
    pub fn scored(&self, flags: &[bool]) {
        self.scored.fetch_add(1, Relaxed);
        for (counter, &f) in self.flags.iter().zip(flags) {
            if f {
                counter.fetch_add(1, Relaxed);
            }
        }
    }

    /// Counts a request refused for `reason` (one of [`REJECT_REASONS`]).
    pub fn rejected(&self, reason: &str) {
        if let Some(i) = REJECT_REASONS.iter().position(|&r| r == reason) {
            self.rejected[i].fetch_add(1, Relaxed);
        }
    }

    /// Counts what a decision did to each label's flag (model order).
    pub fn feedback_outcomes(&self, outcomes: &[Outcome]) {
        for (counters, outcome) in self.feedback.iter().zip(outcomes) {
            if let Some(i) = Outcome::ALL.iter().position(|o| o == outcome) {
                counters[i].fetch_add(1, Relaxed);
            }
        }
    }

    /// Sets the served-flags records lost so far: dropped on a full queue,
    /// and refused by the store.
    pub fn served_flags_lost(&self, dropped: u64, failed: u64) {
        self.served_flags_dropped.store(dropped, Relaxed);
        self.served_flags_failed.store(failed, Relaxed);
    }

    /// Counts a decision stored (or not) in the store.
    pub fn decision(&self, ok: bool) {
        if ok {
            self.decisions.fetch_add(1, Relaxed);
        } else {
            self.decision_failures.fetch_add(1, Relaxed);
        }
    }

    /// Counts a reload; on success records the new model.
    pub fn reload(&self, new_model: Option<(&str, &str)>) {
        match new_model {
            Some((version, source)) => {
                self.reloads_ok.fetch_add(1, Relaxed);
                let mut m = self.model.lock().unwrap_or_else(|p| p.into_inner());
                *m = (version.to_string(), source.to_string());
            }
            None => {
                self.reloads_failed.fetch_add(1, Relaxed);
            }
        }
    }

    /// Tracks open connections (`+1` on accept, `-1` on close).
    pub fn connections(&self, delta: i64) {
        self.connections.fetch_add(delta, Relaxed);
    }

    /// Tracks requests being handled (`+1` / `-1`).
    pub fn in_flight(&self, delta: i64) {
        self.in_flight.fetch_add(delta, Relaxed);
    }

    /// Counts an access-log line dropped because the log could not keep up.
    pub fn log_dropped(&self) {
        self.log_dropped.fetch_add(1, Relaxed);
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8 << 10);
        let _ = self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) -> std::fmt::Result {
        writeln!(
            out,
            "# HELP moderate_http_requests_total HTTP requests answered, by endpoint and status code."
        )?;
        writeln!(out, "# TYPE moderate_http_requests_total counter")?;
        for (e, endpoint) in ENDPOINTS.iter().enumerate() {
            for (s, &status) in STATUSES.iter().enumerate() {
                let n = self.requests[e][s].load(Relaxed);
                if n > 0 {
                    let code = if status == 0 {
                        "other".to_string()
                    } else {
                        status.to_string()
                    };
                    writeln!(
                        out,
                        "moderate_http_requests_total{{endpoint=\"{}\",code=\"{code}\"}} {n}",
                        endpoint.name()
                    )?;
                }
            }
        }
        writeln!(
            out,
            "# HELP moderate_http_request_duration_seconds Time from request headers to response, by endpoint."
        )?;
        writeln!(
            out,
            "# TYPE moderate_http_request_duration_seconds histogram"
        )?;
        for (e, endpoint) in ENDPOINTS.iter().enumerate() {
            let h = &self.latency[e];
            let mut cumulative = 0;
            let counts: Vec<u64> = h.counts.iter().map(|c| c.load(Relaxed)).collect();
            if counts.iter().all(|&c| c == 0) {
                continue;
            }
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += counts[i];
                writeln!(
                    out,
                    "moderate_http_request_duration_seconds_bucket{{endpoint=\"{}\",le=\"{bound}\"}} {cumulative}",
                    endpoint.name()
                )?;
            }
            cumulative += counts[BUCKETS.len()];
            let name = endpoint.name();
            writeln!(
                out,
                "moderate_http_request_duration_seconds_bucket{{endpoint=\"{name}\",le=\"+Inf\"}} {cumulative}"
            )?;
            writeln!(
                out,
                "moderate_http_request_duration_seconds_sum{{endpoint=\"{name}\"}} {}",
                h.sum_nanos.load(Relaxed) as f64 / 1e9
            )?;
            writeln!(
                out,
                "moderate_http_request_duration_seconds_count{{endpoint=\"{name}\"}} {cumulative}"
            )?;
        }
        writeln!(
            out,
            "# HELP moderate_comments_scored_total Comments scored (analyze, Coral phase, batch records)."
        )?;
        writeln!(out, "# TYPE moderate_comments_scored_total counter")?;
        writeln!(
            out,
            "moderate_comments_scored_total {}",
            self.scored.load(Relaxed)
        )?;
        writeln!(
            out,
            "# HELP moderate_flags_total Scored comments at or above a label's flag threshold."
        )?;
        writeln!(out, "# TYPE moderate_flags_total counter")?;
        for (label, n) in self.labels.iter().zip(&self.flags) {
            writeln!(
                out,
                "moderate_flags_total{{label=\"{label}\"}} {}",
                n.load(Relaxed)
            )?;
        }
        writeln!(
            out,
            "# HELP moderate_rejected_requests_total Requests refused before scoring, by reason."
        )?;
        writeln!(out, "# TYPE moderate_rejected_requests_total counter")?;
        for (reason, n) in REJECT_REASONS.iter().zip(&self.rejected) {
            writeln!(
                out,
                "moderate_rejected_requests_total{{reason=\"{reason}\"}} {}",
                n.load(Relaxed)
            )?;
        }
        writeln!(
            out,
            "# HELP moderate_decisions_written_total Reviewer decisions committed to the store (repeats of the latest decision included)."
        )?;
        writeln!(out, "# TYPE moderate_decisions_written_total counter")?;
        writeln!(
            out,
            "moderate_decisions_written_total {}",
            self.decisions.load(Relaxed)
        )?;
        writeln!(
            out,
            "# HELP moderate_feedback_flags_total What decisions did to the flags the server had served for the comment (confirmed, refuted, missed, cleared, undecided), by label."
        )?;
        writeln!(out, "# TYPE moderate_feedback_flags_total counter")?;
        for (label, counters) in self.labels.iter().zip(&self.feedback) {
            for (outcome, n) in Outcome::ALL.iter().zip(counters) {
                writeln!(
                    out,
                    "moderate_feedback_flags_total{{label=\"{label}\",outcome=\"{}\"}} {}",
                    outcome.name(),
                    n.load(Relaxed)
                )?;
            }
        }
        for (name, help, n) in [
            (
                "moderate_served_flags_dropped_total",
                "Records of served flags dropped because the writer's queue was full.",
                &self.served_flags_dropped,
            ),
            (
                "moderate_served_flags_failed_total",
                "Records of served flags the store refused.",
                &self.served_flags_failed,
            ),
        ] {
            writeln!(out, "# HELP {name} {help}")?;
            writeln!(out, "# TYPE {name} counter")?;
            writeln!(out, "{name} {}", n.load(Relaxed))?;
        }
        writeln!(
            out,
            "# HELP moderate_decision_failures_total Feedback requests whose decision could not be written."
        )?;
        writeln!(out, "# TYPE moderate_decision_failures_total counter")?;
        writeln!(
            out,
            "moderate_decision_failures_total {}",
            self.decision_failures.load(Relaxed)
        )?;
        writeln!(
            out,
            "# HELP moderate_model_reloads_total Model reloads, by result."
        )?;
        writeln!(out, "# TYPE moderate_model_reloads_total counter")?;
        writeln!(
            out,
            "moderate_model_reloads_total{{result=\"ok\"}} {}",
            self.reloads_ok.load(Relaxed)
        )?;
        writeln!(
            out,
            "moderate_model_reloads_total{{result=\"failed\"}} {}",
            self.reloads_failed.load(Relaxed)
        )?;
        let (version, source) = self.model.lock().unwrap_or_else(|p| p.into_inner()).clone();
        writeln!(
            out,
            "# HELP moderate_model_info The model being served (value 1)."
        )?;
        writeln!(out, "# TYPE moderate_model_info gauge")?;
        writeln!(
            out,
            "moderate_model_info{{version=\"{version}\",source=\"{}\"}} 1",
            escape_label(&source)
        )?;
        writeln!(
            out,
            "# HELP moderate_open_connections Open client connections."
        )?;
        writeln!(out, "# TYPE moderate_open_connections gauge")?;
        writeln!(
            out,
            "moderate_open_connections {}",
            self.connections.load(Relaxed)
        )?;
        writeln!(
            out,
            "# HELP moderate_requests_in_flight Requests being handled."
        )?;
        writeln!(out, "# TYPE moderate_requests_in_flight gauge")?;
        writeln!(
            out,
            "moderate_requests_in_flight {}",
            self.in_flight.load(Relaxed)
        )?;
        writeln!(
            out,
            "# HELP moderate_access_log_dropped_total Access-log lines dropped because stderr could not keep up."
        )?;
        writeln!(out, "# TYPE moderate_access_log_dropped_total counter")?;
        writeln!(
            out,
            "moderate_access_log_dropped_total {}",
            self.log_dropped.load(Relaxed)
        )?;
        writeln!(
            out,
            "# HELP moderate_uptime_seconds Seconds since the server started."
        )?;
        writeln!(out, "# TYPE moderate_uptime_seconds gauge")?;
        writeln!(
            out,
            "moderate_uptime_seconds {:.3}",
            self.started.elapsed().as_secs_f64()
        )?;
        if let Some(rss) = resident_bytes() {
            writeln!(
                out,
                "# HELP process_resident_memory_bytes Resident memory size in bytes."
            )?;
            writeln!(out, "# TYPE process_resident_memory_bytes gauge")?;
            writeln!(out, "process_resident_memory_bytes {rss}")?;
        }
        Ok(())
    }
}

/// Escapes a Prometheus label value.
fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The process's resident set size, from `/proc/self/status` (Linux only).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let m = Metrics::new(&["abusive", "violent"], "abc123", "model \"x\".model");
        m.request(Endpoint::Analyze, 200, Duration::from_micros(300));
        m.request(Endpoint::Analyze, 200, Duration::from_millis(3));
        m.request(Endpoint::Analyze, 429, Duration::from_micros(50));
        m.request(Endpoint::Other, 418, Duration::from_secs(20));
        m.scored(&[true, false]);
        m.scored(&[true, true]);
        m.rejected("rate_limit");
        m.rejected("not a reason");
        m.reload(None);
        let text = m.render();
        for line in [
            "moderate_http_requests_total{endpoint=\"analyze\",code=\"200\"} 2",
            "moderate_http_requests_total{endpoint=\"analyze\",code=\"429\"} 1",
            "moderate_http_requests_total{endpoint=\"other\",code=\"other\"} 1",
            "moderate_http_request_duration_seconds_bucket{endpoint=\"analyze\",le=\"0.0005\"} 2",
            "moderate_http_request_duration_seconds_bucket{endpoint=\"analyze\",le=\"0.005\"} 3",
            "moderate_http_request_duration_seconds_bucket{endpoint=\"analyze\",le=\"+Inf\"} 3",
            "moderate_http_request_duration_seconds_count{endpoint=\"analyze\"} 3",
            "moderate_http_request_duration_seconds_bucket{endpoint=\"other\",le=\"10\"} 0",
            "moderate_comments_scored_total 2",
            "moderate_flags_total{label=\"abusive\"} 2",
            "moderate_flags_total{label=\"violent\"} 1",
            "moderate_rejected_requests_total{reason=\"rate_limit\"} 1",
            "moderate_model_reloads_total{result=\"failed\"} 1",
            "moderate_model_info{version=\"abc123\",source=\"model \\\"x\\\".model\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in\n{text}"
            );
        }
        assert!(!text.contains("endpoint=\"score\""));
        m.reload(Some(("def456", "new.model")));
        assert!(m.render().contains("version=\"def456\""));
    }

    #[test]
    fn endpoints_come_from_a_fixed_set() {
        assert_eq!(
            Endpoint::of_path("/v1alpha1/comments:analyze"),
            Endpoint::Analyze
        );
        assert_eq!(
            Endpoint::of_path("/comments:suggestscore"),
            Endpoint::SuggestScore
        );
        assert_eq!(Endpoint::of_path("/anything/else"), Endpoint::Other);
        assert_eq!(Endpoint::Other.name(), "other");
    }
}

//! The access log: one line per request on stderr, written by its own
//! thread so a slow stderr never stalls a request (lines are dropped, and
//! counted, if it falls far behind).
//!
//! A line holds what an operator needs to run the service and nothing a
//! commenter wrote: time, client address, method, path (never the query
//! string, which carries the key), status, latency, body sizes, the key's
//! public id, the model version, the error kind and the labels flagged. No
//! comment text, no key, no signature.

use super::config::AccessLog;
use std::io::Write;
use std::net::SocketAddr;

/// One request, as logged.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// RFC 3339 UTC time the response was sent.
    pub time: String,
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// HTTP method.
    pub method: String,
    /// Request path, without the query string.
    pub path: String,
    /// Response status code.
    pub status: u16,
    /// Milliseconds from request headers to response headers.
    pub millis: f64,
    /// Request body bytes (from `Content-Length`, when sent).
    pub bytes_in: Option<u64>,
    /// Response body bytes, when known.
    pub bytes_out: Option<u64>,
    /// Public id of the API key used.
    pub key: Option<String>,
    /// Model version that answered.
    pub model: Option<String>,
    /// Error kind or reason, for an error.
    pub error: Option<&'static str>,
    /// Labels flagged, for a scored comment.
    pub flags: Option<String>,
    /// Records scored, for a batch.
    pub records: Option<u64>,
}

impl Entry {
    /// The line in `format` (without its line end).
    pub fn format(&self, format: AccessLog) -> String {
        let peer = self.peer.map(|p| p.to_string());
        let ms = format!("{:.3}", self.millis);
        let fields: [(&str, Option<String>); 13] = [
            ("time", Some(self.time.clone())),
            ("peer", peer),
            ("method", Some(self.method.clone())),
            ("path", Some(self.path.clone())),
            ("status", Some(self.status.to_string())),
            ("ms", Some(ms)),
            ("in", self.bytes_in.map(|b| b.to_string())),
            ("out", self.bytes_out.map(|b| b.to_string())),
            ("key", self.key.clone()),
            ("model", self.model.clone()),
            ("error", self.error.map(str::to_string)),
            ("flags", self.flags.clone()),
            ("records", self.records.map(|r| r.to_string())),
        ];
        match format {
            AccessLog::Json => {
                let mut m = serde_json::Map::new();
                for (k, v) in fields {
                    if let Some(v) = v {
                        let value = match k {
                            "status" | "in" | "out" | "records" => v
                                .parse::<u64>()
                                .map_or(serde_json::Value::String(v), serde_json::Value::from),
                            "ms" => v
                                .parse::<f64>()
                                .map_or(serde_json::Value::Null, serde_json::Value::from),
                            _ => serde_json::Value::String(v),
                        };
                        m.insert(k.to_string(), value);
                    }
                }
                serde_json::Value::Object(m).to_string()
            }
            _ => fields
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| format!("{k}={}", quote_if_needed(&v))))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// `v`, quoted when it holds spaces, quotes or control characters (a path
/// is chosen by the client).
fn quote_if_needed(v: &str) -> String {
    if v.chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '=' || c.is_control())
    {
        format!("{v:?}")
    } else {
        v.to_string()
    }
}

/// Sends entries to the log thread.
#[derive(Debug)]
pub struct AccessLogger {
    tx: Option<crossbeam_channel::Sender<String>>,
    format: AccessLog,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl AccessLogger {
    /// A logger writing `format` lines to stderr (none for `Off`).
    pub fn start(format: AccessLog) -> std::io::Result<Self> {
        if format == AccessLog::Off {
            return Ok(AccessLogger {
                tx: None,
                format,
                thread: std::sync::Mutex::new(None),
            });
        }
        let (tx, rx) = crossbeam_channel::bounded::<String>(8192);
        let thread = std::thread::Builder::new()
            .name("moderate-access-log".to_string())
            .spawn(move || {
                // Stderr is locked only while a batch is written, so other
                // threads' messages are never held up for long.
                let mut batch = String::with_capacity(64 << 10);
                while let Ok(line) = rx.recv() {
                    if line.is_empty() {
                        return; // sent by finish()
                    }
                    batch.clear();
                    batch.push_str(&line);
                    batch.push('\n');
                    while batch.len() < (60 << 10)
                        && let Ok(line) = rx.try_recv()
                    {
                        if line.is_empty() {
                            let _ = std::io::stderr().lock().write_all(batch.as_bytes());
                            return;
                        }
                        batch.push_str(&line);
                        batch.push('\n');
                    }
                    let _ = std::io::stderr().lock().write_all(batch.as_bytes());
                }
            })?;
        Ok(AccessLogger {
            tx: Some(tx),
            format,
            thread: std::sync::Mutex::new(Some(thread)),
        })
    }

    /// Writes the lines still queued and stops the log thread.
    pub fn finish(&self) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(String::new());
        }
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }

    /// Logs `entry`; false when the line was dropped (the log is behind).
    pub fn log(&self, entry: &Entry) -> bool {
        match &self.tx {
            None => true,
            Some(tx) => tx.try_send(entry.format(self.format)).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            time: "2026-12-01T10:00:00Z".into(),
            peer: Some("127.0.0.1:5000".parse().unwrap()),
            method: "POST".into(),
            path: "/v1alpha1/comments:analyze".into(),
            status: 200,
            millis: 0.4567,
            bytes_in: Some(120),
            bytes_out: Some(300),
            key: Some("ab12cd34".into()),
            model: Some("0123456789ab".into()),
            error: None,
            flags: Some("abusive".into()),
            records: None,
        }
    }

    #[test]
    fn text_and_json_lines() {
        assert_eq!(
            entry().format(AccessLog::Text),
            "time=2026-12-01T10:00:00Z peer=127.0.0.1:5000 method=POST \
             path=/v1alpha1/comments:analyze status=200 ms=0.457 in=120 out=300 key=ab12cd34 \
             model=0123456789ab flags=abusive"
        );
        let j: serde_json::Value = serde_json::from_str(&entry().format(AccessLog::Json)).unwrap();
        assert_eq!(j["status"], 200);
        assert_eq!(j["ms"], 0.457);
        assert_eq!(j["key"], "ab12cd34");
        assert!(j.get("error").is_none());
    }

    #[test]
    fn client_chosen_paths_are_quoted() {
        let mut e = entry();
        e.path = "/x y\"z\n".into();
        assert!(e.format(AccessLog::Text).contains(r#"path="/x y\"z\n""#));
    }
}

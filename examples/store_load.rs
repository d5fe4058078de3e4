//! Load generator for `moderate serve`'s store checks and benchmark
//! (scripts/store/shared_store.py, scripts/store/bench.py): HTTP/1.1
//! keep-alive connections on plain threads, requests spread round-robin over
//! one or more instances.
//!
//! ```text
//! store_load suggest --targets 127.0.0.1:8001,127.0.0.1:8002 --requests 10000 \
//!     [--connections 16] [--retry-every 10] [--prefix run1] [--acked FILE] [--key KEY]
//! store_load analyze --targets 127.0.0.1:8001 --texts FILE --rate 1000 --seconds 30
//! ```
//!
//! `suggest` sends one Coral-style decision per clientToken (`PREFIX-i`,
//! rejections and approvals alternating); with `--retry-every K` every K-th
//! request is sent a second time, identically, to the next instance, as a
//! client retrying through a load balancer would. `--acked FILE` lists the
//! clientTokens answered 200. `analyze` offers requests at a fixed rate
//! (open loop: a request's latency counts from when it was due, so a stall
//! counts against every request it delays). Prints one JSON object.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Options {
    mode: String,
    targets: Vec<SocketAddr>,
    requests: usize,
    connections: usize,
    retry_every: usize,
    prefix: String,
    acked: Option<String>,
    key: Option<String>,
    texts: Vec<String>,
    rate: f64,
    seconds: f64,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mode = args
        .next()
        .ok_or("usage: store_load suggest|analyze --targets A,B ...")?;
    let mut o = Options {
        mode,
        targets: Vec::new(),
        requests: 10_000,
        connections: 16,
        retry_every: 0,
        prefix: "load".into(),
        acked: None,
        key: None,
        texts: Vec::new(),
        rate: 1000.0,
        seconds: 30.0,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| {
            v.parse::<f64>()
                .map_err(|_| format!("{flag}: `{v}` is not a number"))
        };
        match flag.as_str() {
            "--targets" => {
                for t in value.split(',') {
                    o.targets
                        .push(t.parse().map_err(|_| format!("--targets: `{t}`"))?);
                }
            }
            "--requests" => o.requests = num(&value)? as usize,
            "--connections" => o.connections = (num(&value)? as usize).max(1),
            "--retry-every" => o.retry_every = num(&value)? as usize,
            "--prefix" => o.prefix = value,
            "--acked" => o.acked = Some(value),
            "--key" => o.key = Some(value),
            "--texts" => {
                let f = std::fs::File::open(&value).map_err(|e| format!("{value}: {e}"))?;
                o.texts = BufReader::new(f)
                    .lines()
                    .map_while(Result::ok)
                    .filter(|l| !l.trim().is_empty())
                    .collect();
            }
            "--rate" => o.rate = num(&value)?,
            "--seconds" => o.seconds = num(&value)?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.targets.is_empty() {
        return Err("--targets is required".into());
    }
    Ok(o)
}

/// A keep-alive connection to one instance, reopened after an error.
struct Conn {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Self {
        Conn { addr, stream: None }
    }

    /// POSTs `body` to `path`; the status code, or what went wrong.
    fn post(&mut self, path: &str, body: &str, key: Option<&str>) -> Result<u16, String> {
        let outcome = self.try_post(path, body, key);
        if outcome.is_err() {
            self.stream = None;
        }
        outcome
    }

    fn try_post(&mut self, path: &str, body: &str, key: Option<&str>) -> Result<u16, String> {
        if self.stream.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))
                .map_err(|e| format!("connect: {}", e.kind()))?;
            s.set_nodelay(true).ok();
            s.set_read_timeout(Some(Duration::from_secs(30))).ok();
            self.stream = Some(BufReader::new(s));
        }
        let reader = self.stream.as_mut().ok_or("no connection")?;
        let auth = key.map_or(String::new(), |k| format!("x-goog-api-key: {k}\r\n"));
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n{auth}content-length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        reader
            .get_mut()
            .write_all(request.as_bytes())
            .map_err(|e| format!("send: {}", e.kind()))?;
        let mut line = String::new();
        if reader
            .read_line(&mut line)
            .map_err(|e| format!("receive: {}", e.kind()))?
            == 0
        {
            return Err("receive: closed".into());
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line `{}`", line.trim()))?;
        let mut length = 0usize;
        let mut close = false;
        loop {
            line.clear();
            reader
                .read_line(&mut line)
                .map_err(|e| format!("receive: {}", e.kind()))?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
        }
        let mut body = vec![0; length];
        reader
            .read_exact(&mut body)
            .map_err(|e| format!("receive: {}", e.kind()))?;
        if close {
            self.stream = None;
        }
        Ok(status)
    }
}

fn suggest_body(prefix: &str, i: usize) -> String {
    let value = if i.is_multiple_of(2) { 1 } else { 0 };
    format!(
        "{{\"comment\":{{\"text\":\"Comment {i} of run {prefix}: the council should answer for the roads.\"}},\
         \"attributeScores\":{{\"TOXICITY\":{{\"summaryScore\":{{\"value\":{value}}}}}}},\
         \"languages\":[\"en\"],\"communityId\":\"Coral:https://load.example\",\"clientToken\":\"{prefix}-{i}\"}}"
    )
}

fn analyze_body(text: &str) -> String {
    format!(
        "{{\"comment\":{{\"text\":{}}},\"requestedAttributes\":{{\"TOXICITY\":{{}}}},\"languages\":[\"en\"],\"doNotStore\":true}}",
        serde_json::Value::String(text.to_string())
    )
}

#[derive(Default)]
struct Tally {
    ok: usize,
    other_status: usize,
    failed: usize,
    retries_ok: usize,
    reasons: std::collections::BTreeMap<String, usize>,
    latencies: Vec<Duration>,
    acked: Vec<usize>,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

fn main() {
    let o = match options() {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("store_load: {e}");
            std::process::exit(2);
        }
    };
    let (total, path) = match o.mode.as_str() {
        "suggest" => (o.requests, "/v1alpha1/comments:suggestscore"),
        "analyze" => {
            if o.texts.is_empty() {
                eprintln!("store_load: analyze needs --texts FILE");
                std::process::exit(2);
            }
            ((o.rate * o.seconds) as usize, "/v1alpha1/comments:analyze")
        }
        other => {
            eprintln!("store_load: unknown mode {other}");
            std::process::exit(2);
        }
    };
    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let workers: Vec<_> = (0..o.connections)
        .map(|_| {
            let (o, next, tally) = (Arc::clone(&o), Arc::clone(&next), Arc::clone(&tally));
            std::thread::spawn(move || {
                let mut conns: Vec<Conn> = o.targets.iter().map(|&a| Conn::new(a)).collect();
                let mut mine = Tally::default();
                let n = o.targets.len();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let body = if o.mode == "suggest" {
                        suggest_body(&o.prefix, i)
                    } else {
                        analyze_body(&o.texts[i % o.texts.len()])
                    };
                    let due = if o.mode == "analyze" {
                        let due = started + Duration::from_secs_f64(i as f64 / o.rate);
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        due
                    } else {
                        Instant::now()
                    };
                    let target = i % n;
                    match conns[target].post(path, &body, o.key.as_deref()) {
                        Ok(200) => {
                            mine.ok += 1;
                            mine.latencies.push(due.elapsed());
                            mine.acked.push(i);
                        }
                        Ok(code) => {
                            mine.other_status += 1;
                            *mine.reasons.entry(format!("status {code}")).or_default() += 1;
                        }
                        Err(e) => {
                            mine.failed += 1;
                            *mine.reasons.entry(e).or_default() += 1;
                        }
                    }
                    if o.retry_every > 0 && i.is_multiple_of(o.retry_every) {
                        // The same request again, through the next instance.
                        match conns[(target + 1) % n].post(path, &body, o.key.as_deref()) {
                            Ok(200) => {
                                mine.retries_ok += 1;
                                mine.acked.push(i);
                            }
                            Ok(code) => {
                                *mine
                                    .reasons
                                    .entry(format!("retry status {code}"))
                                    .or_default() += 1;
                            }
                            Err(e) => {
                                *mine.reasons.entry(format!("retry {e}")).or_default() += 1;
                            }
                        }
                    }
                }
                let mut t = tally.lock().unwrap();
                t.ok += mine.ok;
                t.other_status += mine.other_status;
                t.failed += mine.failed;
                t.retries_ok += mine.retries_ok;
                for (k, v) in mine.reasons {
                    *t.reasons.entry(k).or_default() += v;
                }
                t.latencies.extend(mine.latencies);
                t.acked.extend(mine.acked);
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let wall = started.elapsed().as_secs_f64();
    let mut t = tally.lock().unwrap();
    t.latencies.sort();
    t.acked.sort_unstable();
    t.acked.dedup();
    if let Some(path) = &o.acked {
        let mut f = std::fs::File::create(path).expect("the acked file can be written");
        for i in &t.acked {
            writeln!(f, "{}-{i}", o.prefix).expect("the acked file can be written");
        }
    }
    let out = serde_json::json!({
        "mode": o.mode,
        "targets": o.targets.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        "requests": total,
        "connections": o.connections,
        "ok": t.ok,
        "other_status": t.other_status,
        "failed": t.failed,
        "retries_ok": t.retries_ok,
        "acked_ids": t.acked.len(),
        "reasons": t.reasons,
        "seconds": wall,
        "ok_per_second": t.ok as f64 / wall,
        "p50_ms": percentile(&t.latencies, 50.0),
        "p90_ms": percentile(&t.latencies, 90.0),
        "p99_ms": percentile(&t.latencies, 99.0),
        "max_ms": t.latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    });
    println!("{out}");
}

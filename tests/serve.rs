//! Drives the real `moderate serve` binary on an ephemeral loopback port:
//! the Perspective wire contract, feedback into the store, Coral's
//! signed phase, the native endpoints, keys, limits, timeouts, hot reload
//! and graceful shutdown. Scores are compared with what `moderate score`
//! prints for the same text and model, never with fixed numbers, so the
//! tests hold for any shipped model.

use assert_cmd::Command;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("moderate")
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// A running server, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<Vec<String>>>,
    dir: tempfile::TempDir,
}

impl Server {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, args, env)
    }

    fn start_in(dir: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = std::process::Command::new(bin());
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0", "--io-threads", "1"])
            .args(args)
            .current_dir(dir.path())
            .env_remove("MODERATE_API_KEYS")
            .env_remove("MODERATE_CORAL_SECRETS")
            .env_remove("MODERATE_ADMIN_KEYS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if !args.contains(&"--workers") {
            cmd.args(["--workers", "2"]);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("moderate serve starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        let addr = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("server exited before listening: {seen:?}"))
                .unwrap();
            if let Some(rest) = line.strip_prefix("moderate serve: listening on http://") {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
            seen.push(line);
        };
        let stderr = Arc::new(Mutex::new(seen));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Server {
            child,
            addr,
            stderr,
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr has a line containing `needle`.
    fn wait_for_log(&self, needle: &str) {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if self.log().iter().any(|l| l.contains(needle)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no `{needle}` in the server's stderr: {:?}", self.log());
    }

    fn signal(&self, name: &str) {
        let ok = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name}");
    }

    fn post(&self, path: &str, body: &[u8]) -> Response {
        request(
            self.addr,
            "POST",
            path,
            &[("content-type", "application/json")],
            body,
        )
    }

    fn post_json(&self, path: &str, body: &Value) -> Response {
        self.post(path, body.to_string().as_bytes())
    }

    fn get(&self, path: &str) -> Response {
        request(self.addr, "GET", path, &[], b"")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on its own connection.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    read_response(&mut s)
}

fn read_response(s: &mut TcpStream) -> Response {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// What `moderate score` prints for `text` (one JSON record).
fn cli_scores(text: &str, model: Option<&Path>) -> Value {
    let mut cmd = Command::new(bin());
    cmd.args(["score", "-", "--input-format", "jsonl"]);
    if let Some(m) = model {
        cmd.arg("--model").arg(m);
    }
    let out = cmd
        .write_stdin(format!("{}\n", json!({"id": "x", "text": text})))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

fn analyze_body(text: &str) -> Value {
    json!({"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["en"]})
}

#[test]
fn analyze_speaks_perspective_and_agrees_with_the_cli() {
    let server = Server::start(&[], &[]);
    let text = "Thanks 👍 for the link. You are a stupid idiot!";
    let r = server.post_json(
        "/v1alpha1/comments:analyze",
        &json!({"comment": {"text": text, "type": "PLAIN_TEXT"},
                "context": {"entries": [{"text": "the parent comment", "type": "PLAIN_TEXT"}]},
                "requestedAttributes": {"TOXICITY": {}, "THREAT": {"scoreType": "PROBABILITY"}, "VIOLENT": {}},
                "spanAnnotations": true, "languages": ["en"], "doNotStore": true,
                "clientToken": "comment:1", "sessionId": "s", "communityId": "c"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let version = r.header("x-moderate-model-version").unwrap().to_string();
    assert_eq!(version.len(), 12);
    let v = r.json();
    let cli = cli_scores(text, None);
    let a = &v["attributeScores"];
    for (attr, label) in [
        ("TOXICITY", "abusive"),
        ("THREAT", "violent"),
        ("VIOLENT", "violent"),
    ] {
        let s = &a[attr]["summaryScore"];
        assert_eq!(s["type"], "PROBABILITY");
        let value = s["value"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&value));
        assert_eq!(
            round4(value),
            cli["scores"][label].as_f64().unwrap(),
            "{attr}"
        );
        // Two sentences, offsets in UTF-16 code units.
        let spans = a[attr]["spanScores"].as_array().unwrap();
        assert_eq!(spans.len(), 2);
        let units: Vec<u16> = text.encode_utf16().collect();
        let cut = |s: &Value| {
            String::from_utf16(
                &units[s["begin"].as_u64().unwrap() as usize..s["end"].as_u64().unwrap() as usize],
            )
            .unwrap()
        };
        assert_eq!(cut(&spans[0]), "Thanks 👍 for the link.");
        assert_eq!(cut(&spans[1]), "You are a stupid idiot!");
    }
    assert_eq!(v["clientToken"], "comment:1");
    assert_eq!(v["languages"], json!(["en"]));
    assert_eq!(v["detectedLanguages"], json!(["en"]));
    assert!(v.get("moderate").is_none(), "no extension unless asked");
    // The bare path (a Coral endpoint configured without /v1alpha1) works too.
    let r = server.post_json("/comments:analyze", &analyze_body("hello"));
    assert_eq!(r.status, 200);
    // scoreThreshold above the score leaves the attribute out entirely.
    let r = server.post_json(
        "/v1alpha1/comments:analyze",
        &json!({"comment": {"text": "a perfectly nice remark"},
                "requestedAttributes": {"TOXICITY": {"scoreThreshold": 1.0}}}),
    );
    assert_eq!(r.status, 200);
    let cli = cli_scores("a perfectly nice remark", None);
    if cli["scores"]["abusive"].as_f64().unwrap() < 1.0 {
        assert!(r.json().get("attributeScores").is_none(), "{}", r.text());
    }
}

#[test]
fn errors_use_the_google_rpc_shape_and_perspectives_kinds() {
    let server = Server::start(&[], &[]);
    let kind = |r: &Response| {
        r.json()["error"]["details"][0]["errorType"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let attrs = json!({"TOXICITY": {}});
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{not json".to_vec(), 400, "INVALID_REQUEST"),
        (
            br#"{"comment": {"text": 5}, "requestedAttributes": {"TOXICITY": {}}}"#.to_vec(),
            400,
            "INVALID_REQUEST",
        ),
        (
            b"{\"comment\": {\"text\": \"caf\xff\"}}".to_vec(),
            400,
            "INVALID_REQUEST",
        ),
        (
            json!({"comment": {"text": ""}, "requestedAttributes": attrs})
                .to_string()
                .into_bytes(),
            400,
            "COMMENT_EMPTY",
        ),
        (
            json!({"comment": {"text": "x".repeat(20_481)}, "requestedAttributes": attrs})
                .to_string()
                .into_bytes(),
            400,
            "COMMENT_TOO_LONG",
        ),
        (
            json!({"comment": {"text": "x"}}).to_string().into_bytes(),
            400,
            "NO_REQUESTED_ATTRIBUTES",
        ),
        (
            json!({"comment": {"text": "x"}, "requestedAttributes": {"FLIRTATION": {}}})
                .to_string()
                .into_bytes(),
            400,
            "UNKNOWN_ATTRIBUTE",
        ),
        (
            json!({"comment": {"text": "x"}, "requestedAttributes": attrs, "languages": ["nl"]})
                .to_string()
                .into_bytes(),
            400,
            "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
        ),
    ];
    for (body, status, expected) in cases {
        let r = server.post("/v1alpha1/comments:analyze", &body);
        assert_eq!(r.status, status, "{}", r.text());
        let e = &r.json()["error"];
        assert_eq!(e["code"], status);
        assert_eq!(e["status"], "INVALID_ARGUMENT");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(kind(&r), expected);
        assert!(r.header("x-moderate-model-version").is_some());
    }
    let r = server.post_json(
        "/v1alpha1/comments:analyze",
        &json!({"comment": {"text": "x"}, "requestedAttributes": attrs, "languages": ["it"]}),
    );
    assert_eq!(
        r.json()["error"]["message"],
        "Attribute TOXICITY does not support request languages: it"
    );
    assert_eq!(server.get("/v1alpha1/comments:analyze").status, 405);
    let r = server.get("/nothing/here");
    assert_eq!(
        (r.status, r.json()["error"]["status"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    // A 50 MB body is refused from its Content-Length without being read.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /v1alpha1/comments:analyze HTTP/1.1\r\nhost: x\r\ncontent-length: 52428800\r\n\r\n"
    )
    .unwrap();
    let _ = s.write_all(&[b'a'; 65536]);
    let r = read_response(&mut s);
    assert_eq!(r.status, 413);
    assert_eq!(r.header("connection"), Some("close"));
}

#[test]
fn languages_can_be_narrowed() {
    // A site that may not use the Spanish model (its data's licence is
    // non-commercial) serves English and German only.
    let server = Server::start(&["--languages", "en,de"], &[]);
    let r = server.post_json(
        "/v1alpha1/comments:analyze",
        &json!({"comment": {"text": "Du bist ein Idiot"}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["de-DE"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["languages"], json!(["de-DE"]));
    assert_eq!(r.json()["detectedLanguages"], json!(["de"]));
    let spanish =
        "Eres un imbécil y un cobarde, nadie quiere leer tus tonterías en este periódico.";
    for languages in [json!(["es"]), json!(null)] {
        let r = server.post_json(
            "/v1alpha1/comments:analyze",
            &json!({"comment": {"text": spanish}, "requestedAttributes": {"TOXICITY": {}}, "languages": languages}),
        );
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(
            r.json()["error"]["details"][0]["errorType"],
            "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
        );
    }
}

/// An analyze request for `attribute` of `text`, with `languages` if any.
fn analyze_in(text: &str, attribute: &str, languages: Option<&[&str]>) -> Value {
    let mut body = json!({"comment": {"text": text}, "requestedAttributes": {attribute: {}}});
    if let Some(l) = languages {
        body["languages"] = json!(l);
    }
    body
}

#[test]
fn german_comments_are_scored_by_the_german_model_with_or_without_languages() {
    let server = Server::start(&[], &[]);
    let text = "Du bist ein widerlicher Vollidiot, halt endlich dein dummes Maul.";
    let cli = cli_scores(text, None);
    assert_eq!(cli["language"], "de", "{cli}");
    let mut seen = Vec::new();
    for languages in [None, Some(&["de"][..]), Some(&["de-AT", "en"][..])] {
        let r = server.post_json(
            "/v1alpha1/comments:analyze",
            &analyze_in(text, "TOXICITY", languages),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert_eq!(v["detectedLanguages"], json!(["de"]));
        let p = v["attributeScores"]["TOXICITY"]["summaryScore"]["value"]
            .as_f64()
            .unwrap();
        // The number `moderate score` prints, from the German model.
        assert_eq!(round4(p), cli["scores"]["abusive"].as_f64().unwrap());
        seen.push(p);
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    assert!(seen[0] > 0.5, "an insult in German scores high: {seen:?}");
    // German has violent labels, so THREAT is served for German comments.
    let r = server.post_json(
        "/v1alpha1/comments:analyze",
        &analyze_in(
            "Man sollte diese Verräter alle aufhängen und erschießen.",
            "THREAT",
            None,
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Too short to tell: the declared language decides.
    let r = server.post_json(
        "/v1alpha1/comments:analyze",
        &analyze_in("Halt's Maul", "TOXICITY", Some(&["de"])),
    );
    assert_eq!(r.json()["detectedLanguages"], json!(["de"]), "{}", r.text());
    let r = server.post_json(
        "/v1alpha1/comments:analyze",
        &analyze_in("Halt's Maul", "TOXICITY", None),
    );
    assert_eq!(r.json()["detectedLanguages"], json!(["en"]), "{}", r.text());
    // Batch scoring says which language scored each comment.
    let r = server.post(
        "/v1/score",
        format!("{}\n", json!({"id": "d", "text": text})).as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["language"], "de", "{}", r.text());
}

#[test]
fn comments_in_a_language_without_a_model_are_answered_plainly() {
    let server = Server::start(&[], &[]);
    let italian =
        "Questo articolo è scritto molto bene e spiega con chiarezza la situazione della città.";
    let r = server.post_json(
        "/v1alpha1/comments:analyze",
        &analyze_in(italian, "TOXICITY", None),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let e = &r.json()["error"];
    assert_eq!(
        e["details"][0]["errorType"],
        "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
    );
    let message = e["message"].as_str().unwrap();
    assert!(
        message.starts_with("Attribute TOXICITY does not support request languages: it")
            && message.contains("en, de, es, fr, pt"),
        "{message}"
    );
    // Declaring Italian is refused before scoring, as Perspective did.
    let r = server.post_json(
        "/v1alpha1/comments:analyze",
        &analyze_in(italian, "TOXICITY", Some(&["it"])),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    // Spanish has no violent labels: THREAT is not served for it, TOXICITY is.
    let spanish =
        "Ojalá que alguien les dé una paliza a todos esos políticos corruptos de una vez.";
    let r = server.post_json(
        "/v1alpha1/comments:analyze",
        &analyze_in(spanish, "THREAT", None),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("no `violent` label"), "{message}");
    let r = server.post_json(
        "/v1alpha1/comments:analyze",
        &analyze_in(spanish, "TOXICITY", None),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["detectedLanguages"], json!(["es"]));
    // Batch scoring leaves the missing scores out and says why.
    let r = server.post(
        "/v1/score",
        format!("{}\n", json!({"id": "i", "text": italian})).as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["language"], "it");
    assert_eq!(v["scores"]["abusive"], Value::Null);
    assert_eq!(v["unavailable"], json!(["abusive", "violent"]));
    assert_eq!(v["flags"], json!([]));
}

/// `moderate store export` of the server's store, as text.
fn export_store(store: &Path) -> String {
    let out = Command::new(bin())
        .args(["store", "export", "--labels", "abusive,violent", "--store"])
        .arg(store)
        .env_remove("MODERATE_STORE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn feedback_goes_to_the_store_that_train_reads() {
    let server = Server::start(&["--store", "feedback.db"], &[]);
    // Coral's suggestscore body for a rejected comment.
    let reject = json!({"comment": {"text": "Tie the smugglers to their own boats and sink them."},
        "context": {"entries": [{"text": "{\"url\":\"https://news.example/story#comment-ex-012\"}"}]},
        "attributeScores": {"THREAT": {"summaryScore": {"value": 1}}},
        "languages": ["en"], "communityId": "Coral:https://news.example", "clientToken": "ex-012"});
    let r = server.post_json("/v1alpha1/comments:suggestscore", &reject);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"clientToken": "ex-012", "detectedLanguages": ["en"], "requestedLanguages": ["en"]})
    );
    // A retry of the same request is answered the same and stored once.
    let r = server.post_json("/v1alpha1/comments:suggestscore", &reject);
    assert_eq!(r.status, 200, "{}", r.text());
    let approve = json!({"comment": {"text": "Great match yesterday, our keeper killed it!"},
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}}, "THREAT": {"summaryScore": {"value": 0}}},
        "clientToken": "ex-777"});
    assert_eq!(
        server
            .post_json("/v1alpha1/comments:suggestscore", &approve)
            .status,
        200
    );
    let bad = json!({"comment": {"text": "x"}, "attributeScores": {}});
    let r = server.post_json("/v1alpha1/comments:suggestscore", &bad);
    assert_eq!(r.status, 400);
    let file = export_store(&server.path("feedback.db"));
    let lines: Vec<&str> = file.lines().collect();
    assert_eq!(lines[0], "id,text,abusive,violent,reviewer,decided_at");
    assert!(
        lines[1].starts_with("ex-012,Tie the smugglers to their own boats and sink them.,-1,1,Coral:https://news.example,"),
        "{file}"
    );
    assert!(
        lines[2].starts_with(
            "ex-777,\"Great match yesterday, our keeper killed it!\",0,0,perspective-api,"
        ),
        "{file}"
    );
    assert_eq!(lines.len(), 3);
    // The decisions retrain the model, read from the store while the server
    // runs: ex-012 overrides the example's label.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("retrained.model");
    let assert = Command::new(bin())
        .args(["train", "--no-encoder", "--data"])
        .arg(data("examples.csv"))
        .arg("--data")
        .arg(server.path("feedback.db"))
        .arg("--out")
        .arg(&out)
        .args(["--cv", "2", "--min-df", "1", "--threads", "1"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(
        stdout.contains("1 records repeated an earlier id"),
        "{stdout}"
    );
    assert!(out.exists());
}

#[test]
fn the_old_decisions_flag_says_what_replaced_it() {
    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--decisions", "d.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--store") && err.contains("moderate store import d.csv"),
        "{err}"
    );
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn coral_request(html: &str) -> Vec<u8> {
    // Coral sends JSON.stringify(request, null, 2).
    serde_json::to_string_pretty(&json!({
        "action": "NEW", "comment": {"body": html, "parentID": null},
        "author": {"id": "u1", "role": "COMMENTER"},
        "story": {"id": "s1", "url": "https://news.example/story"}, "site": {"id": "site1"},
        "tenantID": "t1", "tenantDomain": "news.example"}))
    .unwrap()
    .into_bytes()
}

#[test]
fn coral_phase_verifies_signatures_and_withholds_or_rejects() {
    // Thresholds between the comments' own scores, so this holds for any model.
    let kind = "Thanks for the link, very helpful.";
    let rude = "You are an idiot.";
    let vile = "Shut your mouth, you worthless stupid idiot moron, you filthy vermin.";
    let p = |t: &str| cli_scores(t, None)["scores"]["abusive"].as_f64().unwrap();
    let (pk, pr, pv) = (p(kind), p(rude), p(vile));
    assert!(pk < pr && pr < pv, "{pk} {pr} {pv}");
    let flag = format!("abusive={}", (pk + pr) / 2.0);
    let reject = format!("abusive={}", (pr + pv) / 2.0);
    let server = Server::start(
        &[
            "--threshold",
            &flag,
            "--threshold",
            "violent=1",
            "--coral-reject-threshold",
            &reject,
        ],
        &[("MODERATE_CORAL_SECRETS", "empsec_current,empsec_next")],
    );
    let phase = |body: &[u8], sig: Option<&str>| {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(s) = sig {
            headers.push(("x-coral-signature", s));
        }
        request(server.addr, "POST", "/coral/phase", &headers, body)
    };
    let body = coral_request(&format!("<p>{rude}</p>"));
    assert_eq!(phase(&body, None).status, 403);
    assert_eq!(phase(&body, Some(&sign("empsec_wrong", &body))).status, 403);
    assert_eq!(phase(&body, Some("sha256=zz")).status, 403);
    let tampered = coral_request(&format!("<p>{kind}</p>"));
    assert_eq!(
        phase(&tampered, Some(&sign("empsec_current", &body))).status,
        403
    );
    // Withheld, with a rotation header of two secrets.
    let rotation = format!(
        "{},{}",
        sign("empsec_old", &body),
        sign("empsec_next", &body)
    );
    let r = phase(&body, Some(&rotation));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["status"], "SYSTEM_WITHHELD");
    assert_eq!(
        v["actions"],
        json!([{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}])
    );
    assert_eq!(v["tags"], json!([]));
    assert_eq!(v["moderate"]["labels"], json!(["abusive"]));
    let body = coral_request(&format!("<p>{kind}</p>"));
    let r = phase(&body, Some(&sign("empsec_current", &body)));
    assert_eq!((r.status, r.body.len()), (204, 0));
    let body = coral_request(&format!("<p>{vile}</p>"));
    let r = phase(&body, Some(&sign("empsec_current", &body)));
    assert_eq!(r.json()["status"], "REJECTED");
    // Without secrets the phase refuses everything.
    let plain = Server::start(&[], &[]);
    let body = coral_request("<p>hi</p>");
    let r = request(
        plain.addr,
        "POST",
        "/coral/phase",
        &[("x-coral-signature", &sign("x", &body))],
        &body,
    );
    assert_eq!(r.status, 403);
    assert!(r.text().contains("MODERATE_CORAL_SECRETS"));
}

#[test]
fn coral_is_told_which_label_and_why() {
    // A signed Coral request with a call for violence: the answer names
    // `violent` and its words, in the fields Coral shows a moderator.
    let call = "Hang the traitors from the bridge and leave them there as a warning.";
    let exact = Command::new(bin())
        .args(["score", "-", "--input-format", "text", "--exact-scores"])
        .write_stdin(call)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let exact: Value = serde_json::from_slice(&exact).unwrap();
    let violent = exact["scores"]["violent"].as_f64().unwrap();
    let explained = Command::new(bin())
        .args(["score", "-", "--input-format", "text", "--explain"])
        .arg("--threshold")
        .arg(format!("violent={violent}"))
        .write_stdin(call)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let explained: Value = serde_json::from_slice(&explained).unwrap();
    let words: Vec<String> = explained["explain"]["violent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["term"].as_str().unwrap().to_string())
        .collect();
    assert!(!words.is_empty());
    // Flag violent at this comment's score and reject there too; abusive
    // never flags, so the answer is about violent alone.
    let flag = format!("violent={violent}");
    let server = Server::start(
        &[
            "--threshold",
            &flag,
            "--threshold",
            "abusive=1",
            "--coral-reject-threshold",
            &flag,
        ],
        &[("MODERATE_CORAL_SECRETS", "empsec_current")],
    );
    let body = coral_request(&format!("<p>{call}</p>"));
    let signed = sign("empsec_current", &body);
    let headers = [
        ("content-type", "application/json"),
        ("x-coral-signature", signed.as_str()),
    ];
    let r = request(server.addr, "POST", "/coral/phase", &headers, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["status"], "REJECTED");
    let reason = &v["moderationAction"]["rejectionReason"];
    assert_eq!(v["moderationAction"]["status"], "REJECTED");
    assert_eq!(reason["code"], "OTHER");
    assert!(
        reason["customReason"]
            .as_str()
            .unwrap()
            .starts_with("violent: "),
        "{reason}"
    );
    let detail = reason["detailedExplanation"].as_str().unwrap();
    assert!(detail.contains("violent"), "{detail}");
    for w in &words {
        assert!(detail.contains(w.as_str()), "`{w}` in {detail}");
    }
    assert_eq!(v["moderate"]["labels"], json!(["violent"]));
    assert_eq!(
        v["moderate"]["model"],
        json!(r.header("x-moderate-model-version"))
    );
    // One phase per label: the violent phase acts, the abusive one has no
    // opinion, and an unknown label is an error.
    let r = request(server.addr, "POST", "/coral/phase/violent", &headers, &body);
    assert_eq!(r.json()["moderate"]["labels"], json!(["violent"]));
    let r = request(server.addr, "POST", "/coral/phase/abusive", &headers, &body);
    assert_eq!((r.status, r.body.len()), (204, 0));
    let r = request(server.addr, "POST", "/coral/phase/spam", &headers, &body);
    assert_eq!(r.status, 404, "{}", r.text());
    // The per-label phase is signed like the other.
    let r = request(
        server.addr,
        "POST",
        "/coral/phase/violent",
        &[("content-type", "application/json")],
        &body,
    );
    assert_eq!(r.status, 403);
}

#[test]
fn html_comments_score_offline_as_the_server_scores_them() {
    // A backlog exported from Coral: `moderate score --html` gives each
    // comment the scores the server gives the same HTML (Perspective's
    // `"type": "HTML"`, the tags Coral's phase strips too).
    let bodies = [
        "<p>You are a spineless <b>idiot</b>.</p><p>Go away.</p>",
        "<p>Thanks for the <a href=\"https://example.org/x\">link</a>, very helpful.</p>",
        "<p>Hang the traitors</p><p>from the <i>bridge</i>!</p><script>var idiot = 1;</script>",
        "<blockquote>Wipe them out</blockquote><p>is what he said. Shameful.</p>",
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    let lines: Vec<String> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| json!({"id": format!("h{i}"), "text": b}).to_string())
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = Command::new(bin())
        .arg("score")
        .arg(&file)
        .args(["--html", "--exact-scores"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let offline: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let server = Server::start(&[], &[]);
    for (body, record) in bodies.iter().zip(&offline) {
        let r = server.post_json(
            "/v1alpha1/comments:analyze",
            &json!({"comment": {"text": body, "type": "HTML"},
                    "requestedAttributes": {"ABUSIVE": {}, "VIOLENT": {}}}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let live = r.json();
        for (attribute, label) in [("ABUSIVE", "abusive"), ("VIOLENT", "violent")] {
            let live = live["attributeScores"][attribute]["summaryScore"]["value"]
                .as_f64()
                .unwrap() as f32;
            let offline = record["scores"][label].as_f64().unwrap() as f32;
            assert_eq!(offline, live, "{label} of {body}");
        }
    }
}

#[test]
fn batch_scoring_matches_moderate_score_line_for_line() {
    let server = Server::start(&[], &[]);
    let input = std::fs::read(data("examples.jsonl")).unwrap();
    let r = request(
        server.addr,
        "POST",
        "/v1/score",
        &[("content-type", "application/x-ndjson")],
        &input,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    let cli = Command::new(bin())
        .arg("score")
        .arg(data("examples.jsonl"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(r.text(), String::from_utf8(cli).unwrap());
    // CSV in, CSV out, as score --format csv.
    let csv = std::fs::read(data("examples.csv")).unwrap();
    let r = request(
        server.addr,
        "POST",
        "/v1/score?format=csv",
        &[("content-type", "text/csv")],
        &csv,
    );
    let cli = Command::new(bin())
        .arg("score")
        .arg(data("examples.csv"))
        .args(["--format", "csv"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(r.text(), String::from_utf8(cli).unwrap());
    // One object in, one record out; an array in, an array out.
    let r = server.post_json("/v1/score", &json!({"id": "c9", "text": "you idiot"}));
    assert_eq!(r.json()["id"], "c9");
    let r = server.post_json(
        "/v1/score?explain=true&top=1",
        &json!([{"text": "a"}, {"text": "you idiot"}]),
    );
    let v = r.json();
    assert_eq!(v.as_array().unwrap().len(), 2);
    // `top` words from each reader.
    assert!(v[1]["explain"]["abusive"].as_array().unwrap().len() <= 2);
    // A bad record fails the request and names it.
    let r = request(
        server.addr,
        "POST",
        "/v1/score",
        &[("content-type", "application/x-ndjson")],
        b"{\"text\": \"ok\"}\n{\"text\": 5}\n",
    );
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 2:"),
        "{}",
        r.text()
    );
    let r = request(
        server.addr,
        "POST",
        "/v1/score",
        &[("content-type", "image/png")],
        b"x",
    );
    assert_eq!(r.status, 415);
}

#[test]
fn a_batch_without_text_is_told_what_to_send_not_a_cli_flag() {
    // An HTTP client has no --text-column: the error names what the body
    // must hold.
    let server = Server::start(&[], &[]);
    for (content_type, body, want) in [
        (
            "text/csv",
            &b"id,body\n1,hello\n"[..],
            "the CSV header must have a `text` column",
        ),
        (
            "application/x-ndjson",
            b"{\"body\": \"hello\"}\n",
            "each record must carry its comment under the key `text`",
        ),
        (
            "application/json",
            b"{\"body\": \"hello\"}",
            "each record must carry its comment under the key `text`",
        ),
    ] {
        let r = request(
            server.addr,
            "POST",
            "/v1/score",
            &[("content-type", content_type)],
            body,
        );
        assert_eq!(r.status, 400, "{}", r.text());
        let message = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(
            !message.contains("--text-column"),
            "{content_type}: a CLI flag told to an HTTP client: {message}"
        );
        assert!(message.contains(want), "{content_type}: {message}");
    }
}

#[test]
fn info_json_names_the_version_the_server_sends() {
    // `moderate info --json` and the server agree on the model version: the
    // header every response carries, for the built-in model and for a file.
    let info = |args: &[&str]| -> Value {
        serde_json::from_slice(
            &Command::new(bin())
                .args(["info", "--json"])
                .args(args)
                .assert()
                .success()
                .get_output()
                .stdout,
        )
        .unwrap()
    };
    let server = Server::start(&[], &[]);
    let header = server.get("/healthz");
    let header = header
        .header("x-moderate-model-version")
        .expect("the version header")
        .to_string();
    assert_eq!(header.len(), 12, "{header}");
    assert_eq!(info(&[])["version"], json!(header), "the built-in model");
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.model");
    Command::new(bin())
        .args(["train", "--data"])
        .arg(data("examples.csv"))
        .args(["--min-df", "1", "--cv", "0", "--no-encoder"])
        .arg("--out")
        .arg(&model)
        .assert()
        .success();
    let path = model.to_str().unwrap();
    let server = Server::start(&["--model", path], &[]);
    let header = server.get("/healthz");
    let header = header.header("x-moderate-model-version").unwrap();
    let card = info(&["--model", path]);
    assert_eq!(card["version"], json!(header), "a model file");
    assert_eq!(
        card["format_version"],
        json!(4),
        "this build writes format 4"
    );
}

#[test]
fn model_card_health_and_metrics() {
    let server = Server::start(&[], &[]);
    let card = server.get("/v1/model");
    assert_eq!(card.status, 200);
    let card = card.json();
    let info: Value = serde_json::from_slice(
        &Command::new(bin())
            .args(["info", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    for key in [
        "version",
        "format_version",
        "labels",
        "training",
        "features",
        "limitations",
        "analyzer",
    ] {
        assert_eq!(card[key], info[key], "{key}");
    }
    assert_eq!(card["serving"]["attributes"]["THREAT"], "violent");
    let health = server.get("/healthz");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    assert_eq!(health.json()["model"], card["version"]);
    assert_eq!(
        server
            .post_json("/v1alpha1/comments:analyze", &analyze_body("you idiot"))
            .status,
        200
    );
    assert_eq!(server.post("/v1alpha1/comments:analyze", b"{").status, 400);
    let metrics = server.get("/metrics");
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text();
    for needle in [
        "moderate_http_requests_total{endpoint=\"analyze\",code=\"200\"} 1",
        "moderate_http_requests_total{endpoint=\"analyze\",code=\"400\"} 1",
        "moderate_http_request_duration_seconds_count{endpoint=\"analyze\"} 2",
        "moderate_comments_scored_total 1",
        "moderate_flags_total{label=\"abusive\"}",
        "moderate_model_info{version=\"",
        "process_resident_memory_bytes ",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

#[test]
fn api_keys_are_required_when_configured_and_never_logged() {
    let server = Server::start(&[], &[("MODERATE_API_KEYS", "k-alpha,k-beta")]);
    let body = analyze_body("MARKER-7f3a you idiot").to_string();
    let path = "/v1alpha1/comments:analyze";
    let r = server.post(path, body.as_bytes());
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["status"], "PERMISSION_DENIED");
    let r = server.post(&format!("{path}?key=k-gamma"), body.as_bytes());
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["message"],
        "API key not valid. Please pass a valid API key."
    );
    assert_eq!(
        server
            .post(&format!("{path}?key=k-beta"), body.as_bytes())
            .status,
        200
    );
    let r = request(
        server.addr,
        "POST",
        path,
        &[("authorization", "Bearer k-alpha")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        server.get("/healthz").status,
        200,
        "health checks need no key"
    );
    assert_eq!(server.get("/v1/model").status, 403);
    server.wait_for_log("status=200");
    std::thread::sleep(Duration::from_millis(200));
    let log = server.log().join("\n");
    assert!(
        !log.contains("MARKER-7f3a"),
        "comment text in the log:\n{log}"
    );
    assert!(
        !log.contains("k-beta") && !log.contains("k-alpha") && !log.contains("k-gamma"),
        "{log}"
    );
    assert!(log.contains("key="), "{log}");
    // Off loopback, starting without keys is refused.
    Command::new(bin())
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env_remove("MODERATE_API_KEYS")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("MODERATE_API_KEYS"));
}

#[test]
fn rate_limits_and_the_in_flight_cap_answer_429() {
    // One token per 1,000 s: no refill between the requests, however slow
    // the machine.
    let server = Server::start(&["--rate-limit", "0.001", "--rate-burst", "2"], &[]);
    let body = analyze_body("hello").to_string();
    let codes: Vec<u16> = (0..3)
        .map(|_| {
            server
                .post("/v1alpha1/comments:analyze", body.as_bytes())
                .status
        })
        .collect();
    assert_eq!(codes, vec![200, 200, 429]);
    let r = server.post("/v1alpha1/comments:analyze", body.as_bytes());
    assert_eq!(r.json()["error"]["status"], "RESOURCE_EXHAUSTED");
    assert!(r.header("retry-after").is_some());

    // One request in flight at most: a long batch holds the only slot
    // (the word model alone, so that the batch ends within the timeout).
    let server = Arc::new(Server::start(
        &["--max-in-flight", "1", "--workers", "1", "--word-only"],
        &[],
    ));
    let batch: String = (0..10_000)
        .map(|i| format!("comment number {i} about the war\n"))
        .collect();
    let holder = {
        let server = Arc::clone(&server);
        std::thread::spawn(move || {
            // The probes below may take the slot first: retry until the
            // batch is in.
            loop {
                let status = request(
                    server.addr,
                    "POST",
                    "/v1/score",
                    &[("content-type", "text/plain")],
                    batch.as_bytes(),
                )
                .status;
                if status != 429 {
                    return status;
                }
            }
        })
    };
    let mut saw_429 = false;
    while !holder.is_finished() {
        let r = server.post("/v1alpha1/comments:analyze", body.as_bytes());
        if r.status == 429 {
            assert_eq!(r.json()["error"]["status"], "RESOURCE_EXHAUSTED");
            saw_429 = true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(holder.join().unwrap(), 200);
    assert!(saw_429, "no 429 while the only slot was taken");
}

#[test]
fn slow_clients_time_out_without_holding_the_server() {
    let server = Server::start(&["--header-timeout", "1", "--body-timeout", "1"], &[]);
    // Headers that never finish: the connection is closed.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(b"POST /v1alpha1/comments:analyze HTTP/1.1\r\nhost: x\r\n")
        .unwrap();
    // A body that never finishes: 408.
    let mut stalled = TcpStream::connect(server.addr).unwrap();
    stalled
        .write_all(b"POST /v1alpha1/comments:analyze HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{\"comm")
        .unwrap();
    // Meanwhile others are served.
    let start = Instant::now();
    assert_eq!(
        server
            .post_json("/v1alpha1/comments:analyze", &analyze_body("hi"))
            .status,
        200
    );
    assert!(start.elapsed() < Duration::from_millis(900));
    stalled
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let r = read_response(&mut stalled);
    assert_eq!(r.status, 408);
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = Vec::new();
    let n = slow.read_to_end(&mut buf).unwrap_or(0);
    assert!(start.elapsed() < Duration::from_secs(4));
    // hyper closes the connection (possibly after a 408 of its own).
    assert!(
        n == 0 || String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 408"),
        "{buf:?}"
    );
}

#[test]
fn sighup_and_admin_reload_swap_models_and_keep_the_old_one_on_damage() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("serving.model");
    std::fs::write(&model, moderate::DEFAULT_MODEL_BYTES).unwrap();
    let server = Server::start_in(dir, &["--model", model.to_str().unwrap()], &[]);
    let version = |s: &Server| {
        s.post_json("/v1alpha1/comments:analyze", &analyze_body("hello"))
            .header("x-moderate-model-version")
            .unwrap()
            .to_string()
    };
    let v1 = version(&server);
    // A damaged file: the old model keeps serving.
    let mut damaged = moderate::DEFAULT_MODEL_BYTES.to_vec();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x55;
    std::fs::write(&model, &damaged).unwrap();
    server.signal("HUP");
    server.wait_for_log("reload failed, still serving model");
    assert_eq!(version(&server), v1);
    // A new model (trained on the examples), swapped in by the admin endpoint.
    Command::new(bin())
        .args(["train", "--no-encoder", "--data"])
        .arg(data("examples.csv"))
        .arg("--out")
        .arg(&model)
        .args(["--cv", "0", "--min-df", "1", "--threads", "1"])
        .assert()
        .success();
    let r = server.post("/admin/reload", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let v2 = r.json()["current"].as_str().unwrap().to_string();
    assert_eq!(r.json()["previous"], v1.as_str());
    assert_ne!(v1, v2);
    assert_eq!(version(&server), v2);
    assert_eq!(server.get("/v1/model").json()["version"], v2.as_str());
    // Scores now come from the new model, as `moderate score --model` gives.
    let text = "You people are parasites";
    let r = server.post_json("/v1alpha1/comments:analyze", &analyze_body(text));
    let served = r.json()["attributeScores"]["TOXICITY"]["summaryScore"]["value"]
        .as_f64()
        .unwrap();
    let cli = cli_scores(text, Some(&model))["scores"]["abusive"]
        .as_f64()
        .unwrap();
    assert_eq!(round4(served), cli);
    assert!(
        server
            .get("/metrics")
            .text()
            .contains("moderate_model_reloads_total{result=\"ok\"} 1")
    );
}

#[test]
fn sigterm_finishes_requests_in_flight_then_exits() {
    // The word model alone, so that the batch ends within the timeout.
    let server = Arc::new(Server::start(&["--workers", "1", "--word-only"], &[]));
    let batch: String = (0..10_000)
        .map(|i| format!("comment {i}: the shelling went on all night\n"))
        .collect();
    let in_flight = {
        let server = Arc::clone(&server);
        std::thread::spawn(move || {
            request(
                server.addr,
                "POST",
                "/v1/score",
                &[("content-type", "text/plain")],
                batch.as_bytes(),
            )
        })
    };
    std::thread::sleep(Duration::from_millis(150));
    server.signal("TERM");
    let r = in_flight.join().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text().lines().count(), 10_000);
    let mut server = Arc::into_inner(server).expect("no other handle");
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    server.wait_for_log("stopped");
    assert!(
        TcpStream::connect(server.addr).is_err(),
        "the listener is closed"
    );
}

/// Waits (up to 10 s) until the store at `path` holds `n` served-flags
/// records, which are written behind the answer.
fn wait_for_served_flags(path: &Path, n: u64) {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        let out = Command::new(bin())
            .args(["store", "info", "--store"])
            .arg(path)
            .env_remove("MODERATE_STORE")
            .output()
            .unwrap();
        let info = String::from_utf8_lossy(&out.stdout).into_owned();
        if info.contains(&format!("served flags: {n} comments")) {
            return;
        }
        assert!(
            Instant::now() < until,
            "no {n} served flags in the store: {info}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Issue 24, item 7: Coral sends every decision under its one configured
/// attribute (TOXICITY), so a rejection is a verdict on the comment as the
/// server flagged it, not a statement about TOXICITY; and two attributes of
/// one label that disagree are refused, not resolved silently. The flags
/// come from --threshold (abusive never, violent always), so this holds for
/// any model.
#[test]
fn suggestscore_confirms_or_refutes_what_the_server_flagged() {
    let server = Server::start(
        &[
            "--store",
            "m.db",
            "--threshold",
            "abusive=1",
            "--threshold",
            "violent=0",
        ],
        &[],
    );
    let threat = "Anyone waving that flag should get their skull caved in.";
    let sport = "Great match yesterday, our keeper killed it!";
    // Coral's analyze: its one attribute, no clientToken.
    for text in [threat, sport] {
        let r = server.post_json(
            "/v1alpha1/comments:analyze",
            &json!({"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["en"]}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    wait_for_served_flags(&server.path("m.db"), 2);
    let coral = |text: &str, token: &str, value: u8| {
        json!({"comment": {"text": text},
            "attributeScores": {"TOXICITY": {"summaryScore": {"value": value}}},
            "languages": ["en"], "communityId": "Coral:https://news.example", "clientToken": token})
    };
    // The moderator rejects the threat: its violent flag is confirmed, and
    // abusive (Coral's TOXICITY) is not claimed.
    let r = server.post_json(
        "/v1alpha1/comments:suggestscore",
        &coral(threat, "comment:t1", 1),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // The moderator approves the sports comment: its violent flag is refuted.
    let r = server.post_json(
        "/v1alpha1/comments:suggestscore",
        &coral(sport, "comment:s1", 0),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // A comment this server never scored: the attribute is read as sent.
    let r = server.post_json(
        "/v1alpha1/comments:suggestscore",
        &coral("You are all vermin.", "comment:v1", 1),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let file = export_store(&server.path("m.db"));
    let rows: Vec<&str> = file.lines().collect();
    assert_eq!(rows.len(), 4, "{file}");
    assert!(
        rows[1].starts_with(&format!("comment:t1,{threat},-1,1,")),
        "{file}"
    );
    assert!(
        rows[2].starts_with(&format!("comment:s1,\"{sport}\",0,0,")),
        "{file}"
    );
    assert!(
        rows[3].starts_with("comment:v1,You are all vermin.,1,-1,"),
        "{file}"
    );
    // Two attributes of one label that disagree: refused, naming both.
    let r = server.post_json(
        "/v1alpha1/comments:suggestscore",
        &json!({"comment": {"text": threat},
            "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}, "INSULT": {"summaryScore": {"value": 0}}},
            "clientToken": "comment:t2"}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("TOXICITY") && message.contains("INSULT") && message.contains("abusive"),
        "{message}"
    );
    // The metrics count what decisions did to the flags.
    let metrics = server.get("/metrics").text();
    for line in [
        "moderate_feedback_flags_total{label=\"violent\",outcome=\"confirmed\"} 1",
        "moderate_feedback_flags_total{label=\"violent\",outcome=\"refuted\"} 1",
    ] {
        assert!(metrics.contains(line), "no `{line}` in\n{metrics}");
    }
}

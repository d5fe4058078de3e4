//! moderate's own endpoints: `POST /v1/score` (one comment or a batch, in
//! the record shape of `moderate score`) and `GET /v1/model` (the model
//! card).
//!
//! `/v1/score` reads what `moderate score` reads, chosen by `Content-Type`:
//!
//! | Content-Type | body | answer |
//! |---|---|---|
//! | `application/json` (or none, or curl's form default) | one object `{"id", "text"}` | one record (JSON) |
//! | `application/json` | an array of such objects | an array of records |
//! | `application/x-ndjson`, `application/jsonl` | JSON lines | JSON lines |
//! | `text/csv` | CSV with a header (`text`, optional `id`) | JSON lines |
//! | `text/plain` | one comment per line | JSON lines |
//!
//! Records are read by the same readers as the CLI, so ids, truncation and
//! error messages are the same; `?format=csv` answers in `score --format
//! csv`'s CSV instead, `?explain=true&top=N` adds explanations. A malformed
//! record fails the whole request (`400`, naming the line or record), as
//! `moderate score` stops without `--skip-bad`: nothing is dropped silently.

use super::config::Limits;
use super::reload::Served;
use super::wire::{ErrorKind, RpcError};
use crate::io::{CommentReader, InputFormat, ReadOptions};
use crate::model::{Scorer, Scores};
use crate::output::{OutputFormat, RecordWriter, ScoredRecord};
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

/// How a `/v1/score` body is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchInput {
    /// JSON: one object or an array of objects.
    Json,
    /// One JSON object per line.
    JsonLines,
    /// CSV with a header.
    Csv,
    /// One comment per line.
    Text,
}

impl BatchInput {
    /// The layout named by a `Content-Type` value (parameters ignored);
    /// `None` for a type `/v1/score` does not read.
    pub fn from_content_type(value: Option<&str>) -> Option<Self> {
        let mime = value
            .unwrap_or("application/json")
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match mime.as_str() {
            // curl's -d sends form encoding; a JSON body is what is meant.
            "" | "application/json" | "application/x-www-form-urlencoded" => Some(BatchInput::Json),
            "application/x-ndjson"
            | "application/jsonl"
            | "application/json-lines"
            | "application/x-jsonlines" => Some(BatchInput::JsonLines),
            "text/csv" => Some(BatchInput::Csv),
            "text/plain" => Some(BatchInput::Text),
            _ => None,
        }
    }
}

/// Options from the query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchOptions {
    /// Add explanations.
    pub explain: bool,
    /// Words per label with `explain`.
    pub top: usize,
    /// Answer in CSV.
    pub csv: bool,
}

impl BatchOptions {
    /// Reads `explain`, `top` and `format` from a query string.
    pub fn from_query(query: Option<&str>) -> Result<Self, RpcError> {
        let mut o = BatchOptions {
            top: 5,
            ..Default::default()
        };
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (name, value) = pair.split_once('=').unwrap_or((pair, "true"));
            let bad = || {
                RpcError::invalid(
                    ErrorKind::InvalidRequest,
                    format!("query parameter `{name}`: bad value `{value}`"),
                )
            };
            match name {
                "explain" => o.explain = matches!(value, "true" | "1" | ""),
                "top" => o.top = value.parse::<usize>().map_err(|_| bad())?.min(50),
                "format" => match value {
                    "csv" => o.csv = true,
                    "jsonl" | "json" => o.csv = false,
                    _ => return Err(bad()),
                },
                _ => {} // `key` and anything else
            }
        }
        Ok(o)
    }
}

/// A scored batch.
#[derive(Debug)]
pub struct Batch {
    /// The response body.
    pub body: Vec<u8>,
    /// Its content type.
    pub content_type: &'static str,
    /// Records scored.
    pub records: u64,
    /// Per record, its flags (for the metrics).
    pub flags: Vec<Vec<bool>>,
}

/// A `Write` into a buffer the caller keeps a handle on.
#[derive(Clone, Default)]
struct SharedBuffer(Rc<RefCell<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Scores a `/v1/score` body.
pub fn score_batch(
    body: bytes::Bytes,
    input: BatchInput,
    options: BatchOptions,
    served: &Served,
    limits: &Limits,
    scorer: &mut Scorer<'_>,
) -> Result<Batch, RpcError> {
    // JSON is turned into JSON lines so the CLI's reader reads it.
    let (lines, shape, unit) = match input {
        BatchInput::Json => json_to_lines(&body, limits)?,
        BatchInput::JsonLines => (body, Shape::Lines, "line"),
        BatchInput::Csv => (body, Shape::Lines, "line"),
        BatchInput::Text => (body, Shape::Lines, "line"),
    };
    let format = match input {
        BatchInput::Json | BatchInput::JsonLines => InputFormat::Jsonl,
        BatchInput::Csv => InputFormat::Csv,
        BatchInput::Text => InputFormat::Text,
    };
    let opts = ReadOptions {
        format: Some(format),
        label_columns: Vec::new(),
        missing_text_hint: Some(
            match input {
                BatchInput::Csv => "the CSV header must have a `text` column",
                BatchInput::Json | BatchInput::JsonLines => {
                    "each record must carry its comment under the key `text`"
                }
                BatchInput::Text => "",
            }
            .to_string(),
        ),
        ..ReadOptions::default()
    };
    let record_error = |e: crate::Error| match e {
        crate::Error::Input { line, message, .. } => RpcError::invalid(
            ErrorKind::InvalidRequest,
            format!("{unit} {line}: {message}"),
        ),
        other => RpcError::invalid(ErrorKind::InvalidRequest, other.to_string()),
    };
    let reader =
        CommentReader::from_reader("request body", Box::new(std::io::Cursor::new(lines)), &opts)
            .map_err(record_error)?;
    let buffer = SharedBuffer::default();
    let out_format = if options.csv {
        OutputFormat::Csv
    } else {
        OutputFormat::Jsonl
    };
    let mut writer = RecordWriter::new(out_format, &served.model, Box::new(buffer.clone()));
    let mut scores = Scores::default();
    let mut flags_all = Vec::new();
    let n_labels = served.model.labels.len();
    for record in reader {
        let comment = record.map_err(record_error)?;
        if flags_all.len() >= limits.max_batch_records {
            return Err(RpcError::invalid(
                ErrorKind::InvalidRequest,
                format!(
                    "The batch has more than {} records; split it.",
                    limits.max_batch_records
                ),
            ));
        }
        scorer.score_into(&comment.text, &mut scores);
        let flags = served.flags(&scores);
        let explanations = options.explain.then(|| {
            scorer.explain_scores(&comment.text, &scores, &scores.thresholds, options.top)
        });
        writer
            .write(&ScoredRecord {
                id: comment.id,
                text: comment.text,
                scores: scores.probabilities.clone(),
                flags: (0..n_labels).filter(|&i| flags[i]).collect(),
                truncated: scores.info.truncated,
                explanations,
                stage: scores.stage,
                language: scores.language.code,
                available: scores.available.clone(),
            })
            .map_err(|e| RpcError::internal(e.to_string()))?;
        flags_all.push(flags);
    }
    drop(writer);
    let mut out = std::mem::take(&mut *buffer.0.borrow_mut());
    let content_type = if options.csv {
        "text/csv; charset=utf-8"
    } else {
        match shape {
            Shape::One => {
                // One record: the line without its line end.
                if out.last() == Some(&b'\n') {
                    out.pop();
                }
                "application/json"
            }
            Shape::Array => {
                out = lines_to_array(&out);
                "application/json"
            }
            Shape::Lines => "application/x-ndjson",
        }
    };
    if shape == Shape::One && flags_all.is_empty() {
        return Err(RpcError::invalid(
            ErrorKind::CommentEmpty,
            "The request holds no comment.",
        ));
    }
    Ok(Batch {
        body: out,
        content_type,
        records: flags_all.len() as u64,
        flags: flags_all,
    })
}

/// What the answer looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    One,
    Array,
    Lines,
}

/// A JSON body (one object, an array of objects, or JSON lines sent as
/// `application/json`) as JSON lines.
fn json_to_lines(
    body: &[u8],
    limits: &Limits,
) -> Result<(bytes::Bytes, Shape, &'static str), RpcError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first == Some(b'[') {
        let items: Vec<serde_json::Value> =
            serde_json::from_slice(body).map_err(|e| RpcError::bad_json(&e))?;
        if items.len() > limits.max_batch_records {
            return Err(RpcError::invalid(
                ErrorKind::InvalidRequest,
                format!(
                    "The batch has {} records, more than {}; split it.",
                    items.len(),
                    limits.max_batch_records
                ),
            ));
        }
        let mut lines = Vec::with_capacity(body.len() + items.len());
        for (i, item) in items.iter().enumerate() {
            if !item.is_object() {
                return Err(RpcError::invalid(
                    ErrorKind::InvalidRequest,
                    format!("record {}: expected an object with a `text` key", i + 1),
                ));
            }
            serde_json::to_writer(&mut lines, item)
                .map_err(|e| RpcError::internal(e.to_string()))?;
            lines.push(b'\n');
        }
        return Ok((lines.into(), Shape::Array, "record"));
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) if v.is_object() => {
            let mut line = serde_json::to_vec(&v).map_err(|e| RpcError::internal(e.to_string()))?;
            line.push(b'\n');
            Ok((line.into(), Shape::One, "record"))
        }
        Ok(_) => Err(RpcError::invalid(
            ErrorKind::InvalidRequest,
            "expected an object with a `text` key, or an array of them",
        )),
        // Not one JSON value: JSON lines sent as application/json.
        Err(_) => Ok((bytes::Bytes::copy_from_slice(body), Shape::Lines, "line")),
    }
}

/// JSON lines joined into one JSON array.
fn lines_to_array(lines: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.len() + 2);
    out.push(b'[');
    for (i, line) in lines
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(line);
    }
    out.push(b']');
    out
}

/// `GET /v1/model`: the model card (as `moderate info --json`) with what
/// this server serves: the version, where it was loaded from, the
/// thresholds in force and the attribute names.
pub fn model_card(served: &Served, languages: &str) -> serde_json::Value {
    let file = crate::model::FileId {
        version: served.version.clone(),
        format: served.format,
    };
    let mut card = crate::model::card::card_json(&served.model, &file);
    let labels = served.label_names();
    card["serving"] = serde_json::json!({
        "source": served.source,
        "loaded_at": served.loaded_at,
        "thresholds": labels.iter().zip(&served.thresholds)
            .map(|(l, t)| (l.to_string(), serde_json::json!(t)))
            .collect::<serde_json::Map<_, _>>(),
        "coral_reject_thresholds": labels.iter().zip(&served.reject_thresholds)
            .filter_map(|(l, t)| t.map(|t| (l.to_string(), serde_json::json!(t))))
            .collect::<serde_json::Map<_, _>>(),
        "attributes": served.attributes.names().iter()
            .map(|(n, i)| (n.clone(), serde_json::json!(labels[*i])))
            .collect::<serde_json::Map<_, _>>(),
        "languages": languages,
        "scored_languages": served.model.languages.codes(),
    });
    card
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served() -> Served {
        Served::built_in_for_tests()
    }

    fn batch(body: &str, input: BatchInput, query: Option<&str>) -> Result<Batch, RpcError> {
        let s = served();
        let mut scorer = s.scorer();
        score_batch(
            bytes::Bytes::copy_from_slice(body.as_bytes()),
            input,
            BatchOptions::from_query(query)?,
            &s,
            &Limits::default(),
            &mut scorer,
        )
    }

    fn text(b: &Batch) -> String {
        String::from_utf8(b.body.clone()).unwrap()
    }

    #[test]
    fn one_object_array_and_lines() {
        let one = batch(
            r#"{"id": "c1", "text": "you idiot"}"#,
            BatchInput::Json,
            None,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&one.body).unwrap();
        assert_eq!(v["id"], "c1");
        assert!(v["scores"]["abusive"].is_number() && v["scores"]["violent"].is_number());
        assert!(v["flags"].is_array());
        assert_eq!(one.content_type, "application/json");
        let arr = batch(
            r#"[{"id": "a", "text": "one"}, {"text": "two"}]"#,
            BatchInput::Json,
            Some("explain=true&top=2"),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&arr.body).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert_eq!(
            v[1]["id"], "2",
            "missing ids are record numbers, as in the CLI"
        );
        assert!(v[0]["explain"]["abusive"].is_array());
        let lines = batch(
            "{\"text\": \"a\"}\n\n{\"text\": \"b\"}\n",
            BatchInput::JsonLines,
            None,
        )
        .unwrap();
        assert_eq!(text(&lines).lines().count(), 2);
        assert_eq!(lines.records, 2);
        assert_eq!(lines.content_type, "application/x-ndjson");
        let csv = batch(
            "id,text\nx,\"hello, there\"\ny,you moron\n",
            BatchInput::Csv,
            Some("format=csv"),
        )
        .unwrap();
        let t = text(&csv);
        assert!(
            t.starts_with("id,abusive,violent,flags,truncated,stage,language\nx,"),
            "{t}"
        );
        let plain = batch("first\nsecond\n", BatchInput::Text, None).unwrap();
        assert_eq!(plain.records, 2);
        let empty = batch("[]", BatchInput::Json, None).unwrap();
        assert_eq!(text(&empty), "[]");
    }

    #[test]
    fn records_match_the_cli_output_shape() {
        let s = served();
        let mut scorer = s.scorer();
        let scores = scorer.score("Wipe them out, every last one of those animals.");
        let b = batch(
            r#"{"id": "4", "text": "Wipe them out, every last one of those animals."}"#,
            BatchInput::Json,
            None,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&b.body).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, vec!["flags", "id", "language", "scores", "stage"]);
        let round4 = |p: f32| (p * 10_000.0).round() / 10_000.0;
        let a = s.model.label_index("abusive").unwrap();
        assert_eq!(
            v["scores"]["abusive"].as_f64().unwrap() as f32,
            round4(scores.probabilities[a])
        );
    }

    #[test]
    fn bad_records_fail_the_request_with_their_line() {
        let e = batch(
            "{\"text\": \"a\"}\n{\"text\": \n",
            BatchInput::JsonLines,
            None,
        )
        .unwrap_err();
        assert!(
            e.message.starts_with("line 2: invalid JSON"),
            "{}",
            e.message
        );
        let e = batch(r#"[{"text": "a"}, {"body": "b"}]"#, BatchInput::Json, None).unwrap_err();
        assert!(e.message.starts_with("record 2:"), "{}", e.message);
        let e = batch(r#"[{"text": "a"}, 5]"#, BatchInput::Json, None).unwrap_err();
        assert!(e.message.starts_with("record 2:"), "{}", e.message);
        let e = batch("id,body\n1,x\n", BatchInput::Csv, None).unwrap_err();
        assert!(e.message.contains("text"), "{}", e.message);
        assert!(batch("5", BatchInput::Json, None).is_err());
        assert!(batch("x", BatchInput::Json, Some("top=lots")).is_err());
        let s = served();
        let mut scorer = s.scorer();
        let limits = Limits {
            max_batch_records: 2,
            ..Limits::default()
        };
        for (body, input) in [
            (
                "[{\"text\":\"a\"},{\"text\":\"b\"},{\"text\":\"c\"}]",
                BatchInput::Json,
            ),
            ("a\nb\nc\n", BatchInput::Text),
        ] {
            let e = score_batch(
                bytes::Bytes::from(body),
                input,
                BatchOptions::from_query(None).unwrap(),
                &s,
                &limits,
                &mut scorer,
            )
            .unwrap_err();
            assert!(e.message.contains("more than 2"), "{}", e.message);
        }
    }

    #[test]
    fn a_missing_text_field_is_explained_in_http_terms_not_cli_flags() {
        // An HTTP client cannot pass --text-column: the error says what the
        // body must hold.
        for (body, input, want) in [
            (
                "id,body\n1,x\n",
                BatchInput::Csv,
                "line 1: no `text` column in header (columns: id, body); the CSV header must \
                 have a `text` column",
            ),
            (
                "{\"body\": \"x\"}\n",
                BatchInput::JsonLines,
                "line 1: no `text` key (keys: body); each record must carry its comment under \
                 the key `text`",
            ),
            (
                r#"{"body": "x"}"#,
                BatchInput::Json,
                "record 1: no `text` key (keys: body); each record must carry its comment \
                 under the key `text`",
            ),
        ] {
            let e = batch(body, input, None).unwrap_err();
            assert!(!e.message.contains("--"), "a CLI flag in: {}", e.message);
            assert_eq!(e.message, want);
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(BatchInput::from_content_type(None), Some(BatchInput::Json));
        assert_eq!(
            BatchInput::from_content_type(Some("application/json; charset=utf-8")),
            Some(BatchInput::Json)
        );
        assert_eq!(
            BatchInput::from_content_type(Some("Application/X-NDJSON")),
            Some(BatchInput::JsonLines)
        );
        assert_eq!(
            BatchInput::from_content_type(Some("text/csv")),
            Some(BatchInput::Csv)
        );
        assert_eq!(BatchInput::from_content_type(Some("image/png")), None);
    }

    #[test]
    fn the_card_says_what_is_served() {
        let s = served();
        let card = model_card(&s, "model");
        assert_eq!(card["version"], s.version);
        assert_eq!(card["serving"]["attributes"]["TOXICITY"], "abusive");
        assert_eq!(card["serving"]["attributes"]["ABUSIVE"], "abusive");
        assert_eq!(card["labels"][0]["name"], s.model.labels[0].name);
        assert!(card["serving"]["thresholds"]["violent"].is_number());
        assert_eq!(card["serving"]["languages"], "model");
        assert_eq!(
            card["serving"]["scored_languages"],
            serde_json::json!(["en", "de", "es", "fr", "pt"])
        );
        assert_eq!(
            card["languages"]["models"]["es"]["unavailable_labels"],
            serde_json::json!(["violent"])
        );
    }
}

//! JSON Lines: one JSON object per line.
//!
//! Each non-blank line must be a JSON object with a string under the text key.
//! The id key may be a string or a number (rendered as its JSON text); when it
//! is absent, `null` or empty the id is the 1-based record number. Label keys
//! may hold 1, 0, -1, booleans, `null`, or strings as in CSV. Kept keys are
//! copied as-is when strings and as JSON text otherwise.
//!
//! Raw control characters inside strings (a NUL or a tab written by a sloppy
//! exporter) are not valid JSON; such a line is read as if they had been
//! escaped, so the comment is scored rather than rejected.

use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::PathBuf;

use serde_json::{Map, Value};

use super::{LineSource, ReadOptions, list_names, parse_label, quote_value};
use crate::comment::{Comment, LabelValue};
use crate::error::{Error, Result};

/// Reads comments from a JSON Lines input.
pub(super) struct JsonlSource {
    path: PathBuf,
    lines: LineSource,
    text_key: String,
    missing_text_hint: Option<String>,
    id_key: String,
    label_keys: Vec<String>,
    keep_keys: Vec<String>,
    /// Label keys seen in any record so far.
    labels_seen: BTreeSet<String>,
    /// Non-blank lines read so far.
    records: u64,
    done: bool,
}

impl JsonlSource {
    /// Reads from `reader` (its byte-order mark already removed).
    pub(super) fn new(path: PathBuf, reader: Box<dyn BufRead + Send>, opts: &ReadOptions) -> Self {
        JsonlSource {
            path,
            lines: LineSource::new(reader),
            text_key: opts.text_column.clone(),
            missing_text_hint: opts.missing_text_hint.clone(),
            id_key: opts.id_column.clone(),
            label_keys: opts.label_columns.clone(),
            keep_keys: opts.keep_columns.clone(),
            labels_seen: BTreeSet::new(),
            records: 0,
            done: false,
        }
    }

    /// The label keys seen so far, in the order of [`ReadOptions::label_columns`].
    pub(super) fn label_columns_found(&self) -> Vec<String> {
        self.label_keys
            .iter()
            .filter(|k| self.labels_seen.contains(*k))
            .cloned()
            .collect()
    }

    /// The next comment, record error or read error; `None` at the end.
    pub(super) fn next_record(&mut self) -> Option<Result<Comment>> {
        while !self.done {
            let line = match self.lines.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::io(&self.path, e)));
                }
            };
            if self.lines.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.records += 1;
            let result = self
                .parse(line)
                .map_err(|message| Error::input(&self.path, line, message));
            return Some(result);
        }
        None
    }

    /// Turns the current line into a comment, or says what is wrong with it.
    fn parse(&mut self, line: u64) -> std::result::Result<Comment, String> {
        let text = self
            .lines
            .take_string()
            .map_err(|e| format!("invalid UTF-8 at byte {} of the line", e.valid_up_to() + 1))?;
        let value: Value = match serde_json::from_str(&text) {
            Ok(value) => value,
            Err(e) => escape_controls_in_strings(&text)
                .and_then(|escaped| serde_json::from_str(&escaped).ok())
                .ok_or_else(|| format!("invalid JSON: {e}"))?,
        };
        drop(text);
        let mut object = match value {
            Value::Object(object) => object,
            other => {
                return Err(format!("expected a JSON object, found {}", kind(&other)));
            }
        };

        let mut labels = std::collections::BTreeMap::new();
        for key in &self.label_keys {
            if let Some(value) = object.get(key) {
                let label = json_label(value).ok_or_else(|| {
                    format!(
                        "key `{key}`: label value `{}` is not 0, 1 or -1 (null = unlabelled)",
                        quote_value(&value.to_string())
                    )
                })?;
                labels.insert(key.clone(), label);
            }
        }

        let id = match object.get(&self.id_key) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                return Err(format!(
                    "key `{}` must be a string or a number, found {}",
                    self.id_key,
                    kind(other)
                ));
            }
        };
        let id = if id.is_empty() {
            self.records.to_string()
        } else {
            id
        };

        let mut fields = std::collections::BTreeMap::new();
        for key in &self.keep_keys {
            if let Some(value) = object.get(key) {
                let value = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                fields.insert(key.clone(), value);
            }
        }

        let text = match object.remove(&self.text_key) {
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(format!(
                    "key `{}` must be a string, found {}",
                    self.text_key,
                    kind(&other)
                ));
            }
            None => {
                return Err(super::with_hint(
                    missing_text(&self.text_key, &object),
                    self.missing_text_hint.as_deref(),
                ));
            }
        };

        self.labels_seen.extend(labels.keys().cloned());
        Ok(Comment {
            line,
            id,
            text,
            labels,
            fields,
            html: None,
        })
    }
}

/// `line` with the raw control characters (U+0000 to U+001F) inside its JSON
/// strings written as `\u00XX` escapes; `None` when there are none.
fn escape_controls_in_strings(line: &str) -> Option<String> {
    let mut in_string = false;
    let mut escaped = false;
    let mut out: Option<String> = None;
    for (i, c) in line.char_indices() {
        let control = in_string && (c as u32) < 0x20;
        if control && out.is_none() {
            out = Some(line[..i].to_string());
        }
        if let Some(out) = out.as_mut() {
            if control {
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push(c);
            }
        }
        if escaped {
            escaped = false;
        } else if in_string && c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_string = !in_string;
        }
    }
    out
}

/// The message for an object without the text key.
fn missing_text(key: &str, object: &Map<String, Value>) -> String {
    format!(
        "no `{key}` key (keys: {})",
        list_names(object.keys().map(String::as_str))
    )
}

/// Reads a label from a JSON value; `None` when it is not a label.
fn json_label(value: &Value) -> Option<LabelValue> {
    match value {
        Value::Null => Some(None),
        Value::Bool(b) => Some(Some(*b)),
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Some(Some(true)),
            Some(0.0) => Some(Some(false)),
            Some(-1.0) => Some(None),
            _ => None,
        },
        Value::String(s) => parse_label(s),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// Names a JSON value's type for an error message.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::reader;
    use super::super::{CommentReader, InputFormat, ReadOptions};
    use crate::comment::{Comment, LabelValue};
    use crate::error::{Error, Result};

    fn open(data: &[u8], opts: &ReadOptions) -> CommentReader {
        let r = reader("in.jsonl", data, opts).unwrap();
        assert_eq!(r.format(), InputFormat::Jsonl);
        assert_eq!(r.columns(), None);
        r
    }

    fn read(data: &[u8]) -> Vec<Result<Comment>> {
        open(data, &ReadOptions::default()).collect()
    }

    fn input_error(item: &Result<Comment>) -> (u64, &str) {
        match item {
            Err(Error::Input { line, message, .. }) => (*line, message.as_str()),
            other => panic!("expected input error, got {other:?}"),
        }
    }

    #[test]
    fn basic_records() {
        let got =
            read(b"{\"id\": \"a1\", \"text\": \"hello\"}\n{\"text\": \"x\\ny\", \"id\": 42}\n");
        let c0 = got[0].as_ref().unwrap();
        assert_eq!(
            (c0.line, c0.id.as_str(), c0.text.as_str()),
            (1, "a1", "hello")
        );
        let c1 = got[1].as_ref().unwrap();
        assert_eq!(
            (c1.line, c1.id.as_str(), c1.text.as_str()),
            (2, "42", "x\ny")
        );
        assert!(c0.labels.is_empty());
    }

    #[test]
    fn id_fallbacks() {
        let got = read(
            b"{\"text\": \"a\"}\n\n{\"text\": \"b\", \"id\": \"\"}\n{\"text\": \"c\", \"id\": null}\n{\"text\": \"d\", \"id\": 1.5}\n",
        );
        let ids: Vec<&str> = got
            .iter()
            .map(|c| c.as_ref().unwrap().id.as_str())
            .collect();
        assert_eq!(ids, ["1", "2", "3", "1.5"]);
        let lines: Vec<u64> = got.iter().map(|c| c.as_ref().unwrap().line).collect();
        assert_eq!(lines, [1, 3, 4, 5]);
        let got = read(b"{\"text\": \"a\", \"id\": true}\n");
        let (line, msg) = input_error(&got[0]);
        assert_eq!(line, 1);
        assert!(
            msg.contains("key `id` must be a string or a number, found a boolean"),
            "{msg}"
        );
    }

    #[test]
    fn labels_numbers_bools_null_strings() {
        let got = read(
            b"{\"text\": \"a\", \"abusive\": 1, \"violent\": 0}\n\
              {\"text\": \"b\", \"abusive\": true, \"violent\": false}\n\
              {\"text\": \"c\", \"abusive\": null, \"violent\": -1}\n\
              {\"text\": \"d\", \"abusive\": \"1\", \"violent\": \"NA\"}\n\
              {\"text\": \"e\", \"abusive\": 1.0, \"violent\": \"\"}\n\
              {\"text\": \"f\", \"violent\": \"false\"}\n",
        );
        type Pair = (Option<LabelValue>, Option<LabelValue>);
        let labels: Vec<Pair> = got
            .iter()
            .map(|c| {
                let c = c.as_ref().unwrap();
                (
                    c.labels.get("abusive").copied(),
                    c.labels.get("violent").copied(),
                )
            })
            .collect();
        assert_eq!(
            labels,
            [
                (Some(Some(true)), Some(Some(false))),
                (Some(Some(true)), Some(Some(false))),
                (Some(None), Some(None)),
                (Some(Some(true)), Some(None)),
                (Some(Some(true)), Some(None)),
                (None, Some(Some(false))),
            ]
        );
    }

    #[test]
    fn bad_label_values() {
        for (value, shown) in [
            ("2", "2"),
            ("0.5", "0.5"),
            ("\"yes\"", "\"yes\""),
            ("[1]", "[1]"),
            ("{}", "{}"),
        ] {
            let data = format!("{{\"text\": \"a\", \"abusive\": {value}}}\n{{\"text\": \"b\"}}\n");
            let got = read(data.as_bytes());
            assert_eq!(got.len(), 2);
            let (line, msg) = input_error(&got[0]);
            assert_eq!(line, 1);
            assert_eq!(
                msg,
                format!(
                    "key `abusive`: label value `{shown}` is not 0, 1 or -1 (null = unlabelled)"
                )
            );
            assert_eq!(got[1].as_ref().unwrap().text, "b");
        }
    }

    #[test]
    fn invalid_json_then_valid() {
        let got = read(b"{\"text\": \"a\",}\n{\"text\": \"ok\"}\n");
        assert_eq!(got.len(), 2);
        let (line, msg) = input_error(&got[0]);
        assert_eq!(line, 1);
        assert!(msg.starts_with("invalid JSON: "), "{msg}");
        let c = got[1].as_ref().unwrap();
        assert_eq!((c.line, c.id.as_str(), c.text.as_str()), (2, "2", "ok"));
    }

    #[test]
    fn object_split_over_lines_is_rejected_per_line() {
        let got = read(b"{\"text\":\n\"a\"}\n");
        assert_eq!(got.len(), 2);
        assert_eq!(input_error(&got[0]).0, 1);
        assert_eq!(input_error(&got[1]).0, 2);
    }

    #[test]
    fn non_object_lines() {
        let got = read(b"[1, 2]\n\"text\"\n42\nnull\n");
        let msgs: Vec<(u64, &str)> = got.iter().map(input_error).collect();
        assert_eq!(
            msgs,
            [
                (1, "expected a JSON object, found an array"),
                (2, "expected a JSON object, found a string"),
                (3, "expected a JSON object, found a number"),
                (4, "expected a JSON object, found null"),
            ]
        );
    }

    #[test]
    fn missing_or_non_string_text() {
        let got = read(b"{\"id\": 1, \"body\": \"x\"}\n{\"text\": 5}\n{\"text\": null}\n{}\n");
        assert_eq!(input_error(&got[0]), (1, "no `text` key (keys: body, id)"));
        assert_eq!(
            input_error(&got[1]),
            (2, "key `text` must be a string, found a number")
        );
        assert_eq!(
            input_error(&got[2]),
            (3, "key `text` must be a string, found null")
        );
        assert_eq!(input_error(&got[3]), (4, "no `text` key (keys: none)"));
    }

    #[test]
    fn custom_keys_and_kept_fields() {
        let opts = ReadOptions {
            text_column: "body".into(),
            id_column: "uid".into(),
            label_columns: vec!["toxic".into()],
            keep_columns: vec![
                "source".into(),
                "score".into(),
                "meta".into(),
                "gone".into(),
            ],
            ..ReadOptions::default()
        };
        let data = b"{\"uid\": \"u\", \"body\": \"hi\", \"toxic\": 0, \"abusive\": 1, \"source\": \"web\", \"score\": 0.25, \"meta\": {\"a\": [1, null]}}\n";
        let c: Vec<Comment> = open(data, &opts).collect::<Result<_>>().unwrap();
        let c = &c[0];
        assert_eq!((c.id.as_str(), c.text.as_str()), ("u", "hi"));
        assert_eq!(c.labels.len(), 1);
        assert_eq!(c.labels["toxic"], Some(false));
        assert_eq!(c.fields["source"], "web");
        assert_eq!(c.fields["score"], "0.25");
        assert_eq!(c.fields["meta"], "{\"a\":[1,null]}");
        assert!(!c.fields.contains_key("gone"));
    }

    #[test]
    fn blank_lines_crlf_and_bom() {
        let got = read(b"\xEF\xBB\xBF{\"text\": \"a\"}\r\n\r\n  \t \n{\"text\": \"b\"}\r\n");
        let got: Vec<(u64, String, String)> = got
            .into_iter()
            .map(|c| {
                let c = c.unwrap();
                (c.line, c.id, c.text)
            })
            .collect();
        assert_eq!(
            got,
            [
                (1, "1".to_string(), "a".to_string()),
                (4, "2".to_string(), "b".to_string())
            ]
        );
    }

    #[test]
    fn invalid_utf8_is_record_error_and_continues() {
        let got = read(b"{\"text\": \"a\xFF\"}\n{\"text\": \"b\"}\n");
        assert_eq!(got.len(), 2);
        let (line, msg) = input_error(&got[0]);
        assert_eq!(line, 1);
        assert!(msg.contains("invalid UTF-8 at byte 12"), "{msg}");
        assert_eq!(got[1].as_ref().unwrap().text, "b");
    }

    #[test]
    fn raw_control_characters_in_strings_are_read() {
        let got =
            read(b"{\"text\": \"nul\x00 and\ttab\", \"id\": \"a\x01\"}\n{\"text\": \"ok\"}\t\n");
        let c = got[0].as_ref().unwrap();
        assert_eq!(c.text, "nul\0 and\ttab");
        assert_eq!(c.id, "a\u{1}");
        assert_eq!(got[1].as_ref().unwrap().text, "ok");
        // Escaped quotes and backslashes keep the string boundaries.
        let got = read(b"{\"text\": \"a\\\"b\\\\\x00\"}\n");
        assert_eq!(got[0].as_ref().unwrap().text, "a\"b\\\0");
        // A control character outside strings is still invalid JSON.
        let got = read(b"{\"text\":\x00 \"x\"}\n");
        assert!(input_error(&got[0]).1.starts_with("invalid JSON"));
    }

    #[test]
    fn label_columns_found_grows() {
        let mut r = open(
            b"{\"text\": \"a\"}\n{\"text\": \"b\", \"violent\": null}\n{\"text\": \"c\", \"abusive\": 0}\n",
            &ReadOptions::default(),
        );
        assert!(r.label_columns_found().is_empty());
        r.next();
        assert!(r.label_columns_found().is_empty());
        r.next();
        assert_eq!(r.label_columns_found(), ["violent"]);
        r.next();
        assert_eq!(r.label_columns_found(), ["abusive", "violent"]);
    }

    #[test]
    fn long_line() {
        let text = "z".repeat(5 * 1024 * 1024);
        let data = format!("{{\"text\": \"{text}\"}}\n");
        let got = read(data.as_bytes());
        assert_eq!(got[0].as_ref().unwrap().text.len(), text.len());
    }
}

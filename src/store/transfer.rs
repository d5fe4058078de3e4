//! Decisions CSV files in and out of a store: import (`moderate store
//! import`), export (`moderate store export`), and the decisions as
//! labelled comments for `train`.
//!
//! The CSV form is the decisions file `review` wrote before the store:
//! `id,text,<label>...,reviewer,decided_at`, label values `1`, `0` or `-1`
//! (undecided). Any column other than `id`, `text`, `reviewer` and
//! `decided_at` is a label column.

use super::{Dedupe, LabelValue, NewDecision, Store, StoredDecision};
use crate::comment::Comment;
use crate::error::{Error, Result};
use crate::review::{PartialDecision, format_partial_row, header};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Columns of a decisions CSV that are not labels.
const NOT_LABELS: [&str; 4] = ["id", "text", "reviewer", "decided_at"];

/// Reads a decisions CSV file one decision at a time; a malformed record is
/// an [`Error::Input`] naming the file and line, and reading goes on with
/// the next one.
pub struct CsvDecisions<R: Read> {
    path: PathBuf,
    reader: csv::Reader<R>,
    columns: Vec<String>,
    labels: Vec<(usize, String)>,
    origin: String,
    imported_at: String,
    record: csv::ByteRecord,
    done: bool,
}

impl<R: Read> CsvDecisions<R> {
    /// Reads the header of `reader` (the contents of `path`). Fails when it
    /// has no `id` or `text` column, or no label column.
    pub fn new(path: &Path, reader: R) -> Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(reader);
        let headers = reader
            .headers()
            .map_err(|e| Error::input(path, 1, format!("cannot read the header: {e}")))?;
        let columns: Vec<String> = headers
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
            .collect();
        for required in ["id", "text"] {
            if !columns.iter().any(|c| c == required) {
                return Err(Error::input(
                    path,
                    1,
                    format!(
                        "no `{required}` column (a decisions file has \
                         id,text,<labels>,reviewer,decided_at)"
                    ),
                ));
            }
        }
        let labels: Vec<(usize, String)> = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !NOT_LABELS.contains(&c.as_str()))
            .map(|(i, c)| (i, c.clone()))
            .collect();
        if labels.is_empty() {
            return Err(Error::input(path, 1, "no label columns"));
        }
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok(CsvDecisions {
            path: path.to_path_buf(),
            reader,
            columns,
            labels,
            origin: format!("import:{name}"),
            imported_at: crate::review::rfc3339_utc(std::time::SystemTime::now()),
            record: csv::ByteRecord::new(),
            done: false,
        })
    }

    /// The label columns, in file order.
    pub fn labels(&self) -> Vec<&str> {
        self.labels.iter().map(|(_, l)| l.as_str()).collect()
    }

    fn field(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    fn decision(&self, line: u64) -> Result<NewDecision> {
        let bad = |m: String| Error::input(&self.path, line, m);
        if self.record.len() != self.columns.len() {
            return Err(bad(format!(
                "expected {} fields, found {}",
                self.columns.len(),
                self.record.len()
            )));
        }
        let text_of = |i: usize| {
            std::str::from_utf8(&self.record[i])
                .map_err(|_| bad(format!("column `{}` is not UTF-8", self.columns[i])))
        };
        let id = text_of(self.field("id").unwrap_or(0))?.trim().to_string();
        if id.is_empty() {
            return Err(bad("empty id".into()));
        }
        let text = text_of(self.field("text").unwrap_or(1))?.to_string();
        let mut labels: BTreeMap<String, LabelValue> = BTreeMap::new();
        for (i, name) in &self.labels {
            let value = match text_of(*i)?.trim() {
                "1" => Some(true),
                "0" => Some(false),
                "-1" | "" => None,
                other => {
                    return Err(bad(format!(
                        "column `{name}`: value `{other}` (expected 1, 0 or -1)"
                    )));
                }
            };
            labels.insert(name.clone(), value);
        }
        let optional = |name: &str| -> Result<Option<String>> {
            match self.field(name) {
                Some(i) => Ok(Some(text_of(i)?.trim().to_string()).filter(|s| !s.is_empty())),
                None => Ok(None),
            }
        };
        Ok(NewDecision {
            id,
            text,
            labels,
            reviewer: optional("reviewer")?.unwrap_or_else(|| "import".into()),
            decided_at: optional("decided_at")?.unwrap_or_else(|| self.imported_at.clone()),
            origin: self.origin.clone(),
            served: None,
            dedupe: Dedupe::Anywhere,
        })
    }
}

impl<R: Read> Iterator for CsvDecisions<R> {
    type Item = Result<NewDecision>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut record = std::mem::take(&mut self.record);
        let read = self.reader.read_byte_record(&mut record);
        self.record = record;
        match read {
            Ok(false) => {
                self.done = true;
                None
            }
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line());
                Some(self.decision(line))
            }
            Err(e) => {
                // The csv reader cannot resynchronise after an I/O error.
                let line = e.position().map_or(0, |p| p.line());
                if !matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                    self.done = true;
                }
                Some(Err(Error::input(&self.path, line, e.to_string())))
            }
        }
    }
}

/// Label names found in the store's decisions, sorted.
pub fn stored_labels(store: &mut Store) -> Result<Vec<String>> {
    let mut names = std::collections::BTreeSet::new();
    store.for_each_decision(&mut |d| {
        names.extend(d.labels.into_keys());
        Ok(())
    })?;
    Ok(names.into_iter().collect())
}

/// Writes every decision in the store as a decisions CSV for `labels` (a
/// label a decision lacks is `-1`), in the order stored; returns how many
/// rows.
pub fn export(store: &mut Store, labels: &[String], out: &mut dyn Write) -> Result<u64> {
    let io = |e: std::io::Error| Error::io("-", e);
    let names: Vec<&str> = labels.iter().map(String::as_str).collect();
    writeln!(out, "{}", header(&names)).map_err(io)?;
    store.for_each_decision(&mut |d: StoredDecision| {
        let row = PartialDecision {
            labels: labels
                .iter()
                .map(|l| d.labels.get(l).copied().flatten())
                .collect(),
            id: d.id,
            text: d.text,
            reviewer: d.reviewer,
            decided_at: d.decided_at,
        };
        out.write_all(format_partial_row(&row).as_bytes())
            .map_err(io)
    })
}

/// Every decision in the store as a labelled comment, in the order stored
/// (so that, as with a decisions CSV, a later decision on an id replaces
/// an earlier one in `train`). `line` is the decision's sequence number.
pub fn decisions_as_comments(store: &mut Store) -> Result<Vec<Comment>> {
    let mut out = Vec::new();
    store.for_each_decision(&mut |d| {
        out.push(Comment {
            line: d.seq.max(0) as u64,
            id: d.id,
            text: d.text,
            labels: d.labels,
            fields: BTreeMap::new(),
            html: None,
        });
        Ok(())
    })?;
    Ok(out)
}

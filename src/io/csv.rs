//! Comma-separated values with a header line.
//!
//! The header names the columns (names are matched after trimming
//! whitespace; the first of duplicate names wins). Records follow RFC 4180:
//! quoted fields may hold commas, newlines and doubled quotes; lines may end in
//! `\n` or `\r\n`; blank lines (empty or whitespace only) are not records.
//!
//! [`Comment::line`] is the line on which the record's first byte lies, counted
//! by this module because the `csv` crate's own position points at the end of
//! the previous record (before any blank lines and before the `\n` of `\r\n`).
//!
//! A quote that is never closed makes the `csv` crate read the rest of the
//! input as one field; this module notices when the last record ended inside
//! quotes and yields a record error for it instead of a giant field. It then
//! resumes reading on the line after the one where the unclosed quote opened,
//! so the records after a stray quote are still read (up to
//! [`RECOVERY_BUDGET`] bytes read again in all, which keeps hostile input with
//! many stray quotes linear; past it the rest of the input is that one bad
//! record).

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, Cursor, Read};
use std::path::PathBuf;

use ::csv::{ByteRecord, Reader, ReaderBuilder};

use super::{ReadOptions, list_names, parse_label, quote_value};
use crate::comment::Comment;
use crate::error::{Error, Result};

/// Most bytes read a second time, in all, to recover from unclosed quotes.
pub(super) const RECOVERY_BUDGET: u64 = 256 * 1024 * 1024;

/// Kept bytes already claimed by records are dropped from the front of the
/// buffer once there are at least this many of them (and half the buffer).
const COMPACT_AT: usize = 64 * 1024;

/// Where the scanner is with respect to CSV quoting (mirrors `csv-core` with
/// its default settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    /// At the start of a field (or record).
    FieldStart,
    /// Inside a field that did not start with a quote.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: either the closing quote or
    /// the first half of a doubled quote.
    ClosingOrDoubled,
}

/// Passes the input through to the `csv` reader while noting line starts and
/// the quoting state, so records get their true line and an unclosed quote at
/// the end of the input can be reported.
struct Tracker {
    inner: Box<dyn BufRead + Send>,
    /// Bytes read so far.
    bytes: u64,
    /// `\n` bytes read so far.
    newlines: u64,
    /// The previous byte was `\r` or `\n` (true at the start).
    after_terminator: bool,
    /// `(byte offset, line)` of every non-terminator byte that follows a
    /// terminator, not yet claimed by a record: the places a record can start.
    starts: VecDeque<(u64, u64)>,
    quote: Quote,
    /// `(byte offset, line)` of the last quote that opened a quoted field.
    last_open: (u64, u64),
    /// The input has been read to its end.
    eof: bool,
    /// Lines before this input's first line (for an input that is the
    /// remainder of another after an unclosed quote).
    line_offset: u64,
    /// The bytes read from offset `kept_at` on, starting at `kept[kept_head]`:
    /// what is needed to read the input again after an unclosed quote.
    kept: Vec<u8>,
    kept_head: usize,
    kept_at: u64,
}

impl Tracker {
    fn new(inner: Box<dyn BufRead + Send>, line_offset: u64) -> Self {
        Tracker {
            inner,
            bytes: 0,
            newlines: 0,
            after_terminator: true,
            starts: VecDeque::new(),
            quote: Quote::FieldStart,
            last_open: (0, line_offset + 1),
            eof: false,
            line_offset,
            kept: Vec::new(),
            kept_head: 0,
            kept_at: 0,
        }
    }

    fn observe(&mut self, b: u8) {
        let terminator = b == b'\n' || b == b'\r';
        let line = self.newlines + 1 + self.line_offset;
        if !terminator && self.after_terminator {
            self.starts.push_back((self.bytes, line));
        }
        if self.quote == Quote::FieldStart && b == b'"' {
            self.last_open = (self.bytes, line);
        }
        self.after_terminator = terminator;
        if b == b'\n' {
            self.newlines += 1;
        }
        self.bytes += 1;
        self.quote = match (self.quote, b) {
            (Quote::FieldStart, b'"') => Quote::Quoted,
            (Quote::FieldStart | Quote::Unquoted, b',' | b'\r' | b'\n') => Quote::FieldStart,
            (Quote::FieldStart | Quote::Unquoted, _) => Quote::Unquoted,
            (Quote::Quoted, b'"') => Quote::ClosingOrDoubled,
            (Quote::Quoted, _) => Quote::Quoted,
            (Quote::ClosingOrDoubled, b'"') => Quote::Quoted,
            (Quote::ClosingOrDoubled, b',' | b'\r' | b'\n') => Quote::FieldStart,
            (Quote::ClosingOrDoubled, _) => Quote::Unquoted,
        };
    }

    /// The line of the first record byte at or after `offset` (where the
    /// `csv` crate says a record's reading began), forgetting earlier starts.
    fn line_at(&mut self, offset: u64) -> Option<u64> {
        while self.starts.front().is_some_and(|&(at, _)| at < offset) {
            self.starts.pop_front();
        }
        self.starts.front().map(|&(_, line)| line)
    }

    /// True when the input ended inside a quoted field and the record that
    /// ended at `end` was the last one.
    fn unterminated_at(&self, end: u64) -> bool {
        self.eof && self.quote == Quote::Quoted && end >= self.bytes
    }

    /// Stops keeping the bytes before `offset` (they belong to records
    /// already read).
    fn forget_before(&mut self, offset: u64) {
        let available = (self.kept.len() - self.kept_head) as u64;
        let drop = offset.saturating_sub(self.kept_at).min(available) as usize;
        self.kept_head += drop;
        self.kept_at += drop as u64;
        if self.kept_head >= COMPACT_AT && self.kept_head * 2 >= self.kept.len() {
            self.kept.drain(..self.kept_head);
            self.kept_head = 0;
        }
    }

    /// The kept bytes after the line on which the last unclosed quote opened,
    /// and that line's number; `None` when nothing follows that line.
    fn after_unclosed_quote(&mut self) -> Option<(Vec<u8>, u64)> {
        let (open, line) = self.last_open;
        let from = self.kept_head + open.checked_sub(self.kept_at)? as usize;
        let kept = self.kept.get(from..)?;
        let newline = kept.iter().position(|&b| b == b'\n')?;
        let rest = kept[newline + 1..].to_vec();
        self.kept = Vec::new();
        self.kept_head = 0;
        Some((rest, line))
    }
}

impl Read for Tracker {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof = true;
        }
        for &b in buf.iter().take(n) {
            self.observe(b);
        }
        self.kept.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// Reads comments from a CSV input.
pub(super) struct CsvSource {
    path: PathBuf,
    reader: Reader<Tracker>,
    /// Header names, trimmed.
    columns: Vec<String>,
    text: usize,
    id: Option<usize>,
    /// Label columns present in the header, with their indices.
    labels: Vec<(String, usize)>,
    /// Kept columns present in the header, with their indices.
    keep: Vec<(String, usize)>,
    record: ByteRecord,
    /// Records (not blank lines) read so far.
    records: u64,
    /// Bytes that may still be read again to recover from unclosed quotes.
    recovery_budget: u64,
    done: bool,
}

impl CsvSource {
    /// Reads the header from `reader` (its byte-order mark already removed).
    pub(super) fn new(
        path: PathBuf,
        reader: Box<dyn BufRead + Send>,
        opts: &ReadOptions,
    ) -> Result<Self> {
        let mut reader = ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(Tracker::new(reader, 0));
        let header = match reader.byte_headers() {
            Ok(header) => header.clone(),
            Err(e) => return Err(csv_error(&path, e, 0)),
        };
        if header.is_empty() {
            return Err(Error::input(
                &path,
                1,
                "no header line: the input is empty (a CSV file starts with a line naming its columns)",
            ));
        }
        let start = header.position().map_or(0, |p| p.byte());
        let line = reader.get_mut().line_at(start).unwrap_or(1);
        if reader.get_ref().unterminated_at(reader.position().byte()) {
            return Err(Error::input(
                &path,
                line,
                "unterminated quoted field in the header: a `\"` is never closed",
            ));
        }
        let mut columns = Vec::with_capacity(header.len());
        for (i, name) in header.iter().enumerate() {
            let name = std::str::from_utf8(name).map_err(|_| {
                Error::input(
                    &path,
                    line,
                    format!("invalid UTF-8 in the name of header column {}", i + 1),
                )
            })?;
            columns.push(name.trim().to_string());
        }
        let find = |name: &str| columns.iter().position(|c| c == name);
        let text = find(&opts.text_column).ok_or_else(|| {
            Error::input(
                &path,
                line,
                super::with_hint(
                    format!(
                        "no `{}` column in header (columns: {})",
                        opts.text_column,
                        list_names(columns.iter().map(String::as_str))
                    ),
                    opts.missing_text_hint.as_deref(),
                ),
            )
        })?;
        let id = find(&opts.id_column);
        let present = |names: &[String]| -> Vec<(String, usize)> {
            names
                .iter()
                .filter_map(|n| find(n).map(|i| (n.clone(), i)))
                .collect()
        };
        let labels = present(&opts.label_columns);
        let keep = present(&opts.keep_columns);
        Ok(CsvSource {
            path,
            reader,
            columns,
            text,
            id,
            labels,
            keep,
            record: ByteRecord::new(),
            records: 0,
            recovery_budget: RECOVERY_BUDGET,
            done: false,
        })
    }

    /// The header's column names, trimmed.
    pub(super) fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The label columns present in the header, in the order asked for.
    pub(super) fn label_columns_found(&self) -> Vec<String> {
        self.labels.iter().map(|(name, _)| name.clone()).collect()
    }

    /// The next comment, record error or read error; `None` at the end.
    pub(super) fn next_record(&mut self) -> Option<Result<Comment>> {
        while !self.done {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    let offset = self.reader.get_ref().line_offset;
                    return Some(Err(csv_error(&self.path, e, offset)));
                }
            }
            let position = self.record.position().cloned();
            let start = position.as_ref().map_or(0, |p| p.byte());
            let offset = self.reader.get_ref().line_offset;
            let line = self
                .reader
                .get_mut()
                .line_at(start)
                .or_else(|| position.map(|p| p.line() + offset))
                .unwrap_or(0);
            let end = self.reader.position().byte();
            if self.reader.get_ref().unterminated_at(end) {
                self.records += 1;
                let (message, resumed_at) = self.recover();
                return Some(Err(Error::Input {
                    path: self.path.clone(),
                    line,
                    message,
                    resumed_at,
                }));
            }
            self.reader.get_mut().forget_before(end);
            if self.record.len() <= 1 && self.record.iter().all(|f| f.trim_ascii().is_empty()) {
                continue;
            }
            self.records += 1;
            return Some(
                self.parse(line)
                    .map_err(|message| Error::input(&self.path, line, message)),
            );
        }
        None
    }

    /// After a record that ended inside an unclosed quote at the end of the
    /// input: goes on reading on the line after the one where that quote
    /// opened, if the recovery budget allows. Returns the error message for
    /// the bad record and the line reading resumes on, if it does.
    fn recover(&mut self) -> (String, Option<u64>) {
        let opened = self.reader.get_ref().last_open.1;
        let rest = self.reader.get_mut().after_unclosed_quote();
        match rest {
            Some((rest, line)) if rest.len() as u64 <= self.recovery_budget => {
                self.recovery_budget -= rest.len() as u64;
                let tracker = Tracker::new(Box::new(Cursor::new(rest)), line);
                self.reader = ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(tracker);
                (
                    format!(
                        "unterminated quoted field: the `\"` opened on line {line} is never closed"
                    ),
                    Some(line + 1),
                )
            }
            Some(_) => (
                format!(
                    "unterminated quoted field: the `\"` opened on line {opened} is never closed, \
                     so the rest of the input was read as one field (too many unclosed quotes \
                     to recover from)"
                ),
                None,
            ),
            None => (
                format!(
                    "unterminated quoted field: the `\"` opened on line {opened} is never closed"
                ),
                None,
            ),
        }
    }

    /// Turns the current record into a comment, or says what is wrong with it.
    fn parse(&self, line: u64) -> std::result::Result<Comment, String> {
        if self.record.len() != self.columns.len() {
            return Err(format!(
                "record has {} but the header has {}",
                fields(self.record.len()),
                fields(self.columns.len())
            ));
        }
        let text = self.field(self.text)?.to_string();
        let id = match self.id {
            Some(i) => self.field(i)?,
            None => "",
        };
        let id = if id.trim().is_empty() {
            self.records.to_string()
        } else {
            id.to_string()
        };
        let mut labels = BTreeMap::new();
        for (name, i) in &self.labels {
            let value = self.field(*i)?;
            let label = parse_label(value).ok_or_else(|| {
                format!(
                    "column `{name}`: label value `{}` is not 0, 1 or -1 (empty = unlabelled)",
                    quote_value(value)
                )
            })?;
            labels.insert(name.clone(), label);
        }
        let mut fields = BTreeMap::new();
        for (name, i) in &self.keep {
            fields.insert(name.clone(), self.field(*i)?.to_string());
        }
        Ok(Comment {
            line,
            id,
            text,
            labels,
            fields,
            html: None,
        })
    }

    /// Field `i` of the current record as text.
    fn field(&self, i: usize) -> std::result::Result<&str, String> {
        let bytes = self.record.get(i).unwrap_or_default();
        std::str::from_utf8(bytes).map_err(|_| {
            let name = self.columns.get(i).map_or("?", String::as_str);
            format!("invalid UTF-8 in column `{name}`")
        })
    }
}

/// "1 field", "3 fields".
fn fields(n: usize) -> String {
    if n == 1 {
        "1 field".to_string()
    } else {
        format!("{n} fields")
    }
}

/// Converts an error from the `csv` crate; `line_offset` lines come before
/// the input the crate is reading.
fn csv_error(path: &std::path::Path, e: ::csv::Error, line_offset: u64) -> Error {
    let line = e.position().map_or(0, |p| p.line() + line_offset);
    let message = e.to_string();
    match e.into_kind() {
        ::csv::ErrorKind::Io(io) => Error::io(path, io),
        _ => Error::input(path, line, message),
    }
}

/// True when `line`, read as a CSV header, has a column named `name`.
pub(super) fn has_column(line: &[u8], name: &str) -> bool {
    let mut reader = ReaderBuilder::new().has_headers(false).from_reader(line);
    let mut record = ByteRecord::new();
    matches!(reader.read_byte_record(&mut record), Ok(true))
        && record
            .iter()
            .any(|f| std::str::from_utf8(f).is_ok_and(|f| f.trim() == name))
}

#[cfg(test)]
mod tests {
    use super::super::tests::reader;
    use super::super::{CommentReader, InputFormat, ReadOptions};
    use super::has_column;
    use crate::comment::Comment;
    use crate::error::{Error, Result};

    fn open(data: &[u8], opts: &ReadOptions) -> CommentReader {
        let r = reader("in.csv", data, opts).unwrap();
        assert_eq!(r.format(), InputFormat::Csv);
        r
    }

    fn read(data: &[u8]) -> Vec<Result<Comment>> {
        open(data, &ReadOptions::default()).collect()
    }

    fn ok(data: &[u8]) -> Vec<Comment> {
        read(data).into_iter().map(|c| c.unwrap()).collect()
    }

    fn summary(data: &[u8]) -> Vec<(u64, String, String)> {
        ok(data)
            .into_iter()
            .map(|c| (c.line, c.id, c.text))
            .collect()
    }

    fn s(line: u64, id: &str, text: &str) -> (u64, String, String) {
        (line, id.to_string(), text.to_string())
    }

    fn input_error(item: &Result<Comment>) -> (u64, &str) {
        match item {
            Err(Error::Input { line, message, .. }) => (*line, message.as_str()),
            other => panic!("expected input error, got {other:?}"),
        }
    }

    fn open_error(data: &[u8], opts: &ReadOptions) -> (u64, String) {
        match reader("in.csv", data, opts) {
            Err(Error::Input { line, message, .. }) => (line, message),
            Err(e) => panic!("expected input error, got {e}"),
            Ok(_) => panic!("expected an error"),
        }
    }

    #[test]
    fn basic() {
        let r = open(
            b"id,text,abusive,violent\na,hello,1,0\n",
            &ReadOptions::default(),
        );
        assert_eq!(
            r.columns(),
            Some(&["id", "text", "abusive", "violent"].map(String::from)[..])
        );
        assert_eq!(r.label_columns_found(), ["abusive", "violent"]);
        let c: Vec<Comment> = r.collect::<Result<_>>().unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].line, c[0].id.as_str(), c[0].text.as_str()),
            (2, "a", "hello")
        );
        assert_eq!(c[0].labels["abusive"], Some(true));
        assert_eq!(c[0].labels["violent"], Some(false));
        assert!(c[0].fields.is_empty());
    }

    #[test]
    fn bom_and_crlf() {
        let got = summary(b"\xEF\xBB\xBFid,text\r\n1,one\r\n2,two\r\n");
        assert_eq!(got, [s(2, "1", "one"), s(3, "2", "two")]);
        let r = open(b"\xEF\xBB\xBF\"id\",text\r\n", &ReadOptions::default());
        assert_eq!(r.columns().unwrap()[0], "id");
    }

    #[test]
    fn quoted_fields_and_line_numbers() {
        let data = b"id,text\n1,\"multi\nline, with \"\"quotes\"\"\"\n2,after\r\n3,\"crlf\r\ninside\"\r\n4,last";
        let got = summary(data);
        assert_eq!(
            got,
            [
                s(2, "1", "multi\nline, with \"quotes\""),
                s(4, "2", "after"),
                s(5, "3", "crlf\r\ninside"),
                s(7, "4", "last"),
            ]
        );
    }

    #[test]
    fn blank_lines_are_skipped_and_not_counted() {
        let data = b"\n\nid,text\n\n1,a\n   \n\r\n\t\n,b\n\n";
        let got = summary(data);
        // The id of the second record falls back to its record number, 2.
        assert_eq!(got, [s(5, "1", "a"), s(9, "2", "b")]);
        let r = open(b"\n\nid,text\n", &ReadOptions::default());
        assert_eq!(r.count(), 0);
    }

    #[test]
    fn single_column_csv() {
        let got = summary(b"text\nhello\n\n  \nworld\n");
        assert_eq!(got, [s(2, "1", "hello"), s(5, "2", "world")]);
    }

    #[test]
    fn id_fallback_is_record_number() {
        let got = summary(b"text,id\na,\nb,x\nc,  \n");
        assert_eq!(got, [s(2, "1", "a"), s(3, "x", "b"), s(4, "3", "c")]);
    }

    #[test]
    fn field_count_mismatch_is_record_error_and_continues() {
        let got = read(b"id,text,abusive\n1,a,1\n2,b\n3,c,0,extra\n4,d,0\n");
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].as_ref().unwrap().text, "a");
        assert_eq!(
            input_error(&got[1]),
            (3, "record has 2 fields but the header has 3 fields")
        );
        assert_eq!(
            input_error(&got[2]),
            (4, "record has 4 fields but the header has 3 fields")
        );
        let c = got[3].as_ref().unwrap();
        assert_eq!((c.line, c.id.as_str(), c.text.as_str()), (5, "4", "d"));
    }

    #[test]
    fn invalid_utf8_is_record_error_and_continues() {
        let got = read(b"id,text,source\n1,bad\xFFtext,web\n2,fine,\xFE\n3,ok,app\n");
        assert_eq!(got.len(), 3);
        assert_eq!(input_error(&got[0]), (2, "invalid UTF-8 in column `text`"));
        // Columns that are not used are not checked.
        assert_eq!(got[1].as_ref().unwrap().text, "fine");
        assert_eq!(got[2].as_ref().unwrap().text, "ok");
        let opts = ReadOptions {
            keep_columns: vec!["source".into()],
            ..ReadOptions::default()
        };
        let got: Vec<Result<Comment>> =
            open(b"id,text,source\n2,fine,\xFE\n3,ok,app\n", &opts).collect();
        assert_eq!(
            input_error(&got[0]),
            (2, "invalid UTF-8 in column `source`")
        );
        assert_eq!(got[1].as_ref().unwrap().fields["source"], "app");
    }

    #[test]
    fn label_values() {
        let data = b"text,abusive,violent\n\
            a,1,0\n\
            b,true,false\n\
            c,1.0,0.0\n\
            d,-1,\n\
            e,null,NA\n";
        let got: Vec<(Option<bool>, Option<bool>)> = ok(data)
            .iter()
            .map(|c| (c.labels["abusive"], c.labels["violent"]))
            .collect();
        assert_eq!(
            got,
            [
                (Some(true), Some(false)),
                (Some(true), Some(false)),
                (Some(true), Some(false)),
                (None, None),
                (None, None),
            ]
        );
    }

    #[test]
    fn bad_label_value_is_record_error() {
        let got = read(b"text,abusive\na,2\nb,1\n");
        assert_eq!(
            input_error(&got[0]),
            (
                2,
                "column `abusive`: label value `2` is not 0, 1 or -1 (empty = unlabelled)"
            )
        );
        assert_eq!(got[1].as_ref().unwrap().labels["abusive"], Some(true));
    }

    #[test]
    fn absent_label_column_means_no_key() {
        let r = open(b"text,violent\na,1\n", &ReadOptions::default());
        assert_eq!(r.label_columns_found(), ["violent"]);
        let c: Vec<Comment> = r.collect::<Result<_>>().unwrap();
        assert!(!c[0].labels.contains_key("abusive"));
        assert_eq!(c[0].labels["violent"], Some(true));
    }

    #[test]
    fn missing_text_column() {
        let (line, msg) = open_error(b"id,body\n1,x\n", &ReadOptions::default());
        assert_eq!(line, 1);
        // The reader says what is missing; how to name the column is the
        // caller's to say, in its own terms.
        assert_eq!(msg, "no `text` column in header (columns: id, body)");
        let (line, _) = open_error(b"\n\nid,body\n", &ReadOptions::default());
        assert_eq!(line, 3);
        let hinted = ReadOptions {
            missing_text_hint: Some("name it with --text-column".into()),
            ..ReadOptions::default()
        };
        let (_, msg) = open_error(b"id,body\n1,x\n", &hinted);
        assert_eq!(
            msg,
            "no `text` column in header (columns: id, body); name it with --text-column"
        );
    }

    #[test]
    fn empty_input_is_header_error() {
        let (line, msg) = open_error(b"", &ReadOptions::default());
        assert_eq!(line, 1);
        assert!(msg.starts_with("no header line"), "{msg}");
        let (_, msg) = open_error(b"\xEF\xBB\xBF\r\n\n", &ReadOptions::default());
        assert!(msg.starts_with("no header line"), "{msg}");
    }

    #[test]
    fn invalid_utf8_in_header() {
        let (line, msg) = open_error(b"id,te\xFFxt\n", &ReadOptions::default());
        assert_eq!(line, 1);
        assert_eq!(msg, "invalid UTF-8 in the name of header column 2");
    }

    #[test]
    fn custom_columns_and_kept_fields() {
        let opts = ReadOptions {
            text_column: "body".into(),
            id_column: "uid".into(),
            label_columns: vec!["toxic".into(), "abusive".into()],
            keep_columns: vec!["source".into(), "missing".into()],
            ..ReadOptions::default()
        };
        let r = open(b" uid , body ,source,toxic\nu1,hi,web,0\n", &opts);
        assert_eq!(r.label_columns_found(), ["toxic"]);
        let c: Vec<Comment> = r.collect::<Result<_>>().unwrap();
        assert_eq!((c[0].id.as_str(), c[0].text.as_str()), ("u1", "hi"));
        assert_eq!(c[0].labels.len(), 1);
        assert_eq!(c[0].labels["toxic"], Some(false));
        assert_eq!(c[0].fields.len(), 1);
        assert_eq!(c[0].fields["source"], "web");
    }

    #[test]
    fn text_is_not_trimmed() {
        let got = summary(b"id,text\n1,  spaced  \n2,\"\"\n");
        assert_eq!(got, [s(2, "1", "  spaced  "), s(3, "2", "")]);
    }

    #[test]
    fn unterminated_quote_at_end_is_record_error() {
        let got = read(b"id,text\n1,ok\n2,\"never closed\n3,more\n4,text\n");
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].as_ref().unwrap().text, "ok");
        let (line, msg) = input_error(&got[1]);
        assert_eq!(line, 3);
        assert!(msg.starts_with("unterminated quoted field"), "{msg}");
        assert!(msg.contains("opened on line 3"), "{msg}");
        // The message says what is wrong, not what the caller did about it;
        // where reading went on is for a caller that skips the record.
        assert!(
            !msg.contains("skipped") && !msg.contains("resumed"),
            "{msg}"
        );
        let reason = got[1].as_ref().unwrap_err().skipped_reason();
        assert!(
            reason.ends_with("skipped, and reading resumed on line 4"),
            "{reason}"
        );
        // The records after the stray quote are read, with their own lines.
        let rest: Vec<(u64, &str, &str)> = got[2..]
            .iter()
            .map(|c| {
                let c = c.as_ref().unwrap();
                (c.line, c.id.as_str(), c.text.as_str())
            })
            .collect();
        assert_eq!(rest, [(4, "3", "more"), (5, "4", "text")]);
    }

    #[test]
    fn unclosed_quote_inside_a_multiline_record_resumes_after_its_line() {
        // The record starts on line 2; its third field opens a quote on line 3.
        let data = b"id,text,x\n1,\"two\nlines\",\"open\n2,b,c\r\n\n3,q\"\"d,z\n";
        let got = read(data);
        let (line, msg) = input_error(&got[0]);
        assert_eq!(line, 2);
        assert!(msg.contains("opened on line 3"), "{msg}");
        let c: Vec<(u64, String, String)> = got[1..]
            .iter()
            .map(|c| {
                let c = c.as_ref().unwrap();
                (c.line, c.id.clone(), c.text.clone())
            })
            .collect();
        assert_eq!(c, [s(4, "2", "b"), s(6, "3", "q\"\"d")]);
    }

    #[test]
    fn stray_quote_early_in_a_large_input_loses_one_record() {
        let mut data = b"id,text\n1,\"stray\n".to_vec();
        for i in 2..=100_000 {
            data.extend_from_slice(format!("{i},text {i}\n").as_bytes());
        }
        let got = read(&data);
        assert_eq!(got.len(), 100_000);
        assert_eq!(input_error(&got[0]).0, 2);
        let last = got.last().unwrap().as_ref().unwrap();
        assert_eq!((last.line, last.id.as_str()), (100_001, "100000"));
        // Quotes pair up across lines until one is left open.
        let got = read(b"id,text\n1,\"a\n2,\"b\n3,\"c\n4,d\n");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].as_ref().unwrap().text, "a\n2,b");
        assert_eq!(input_error(&got[1]).0, 4);
        assert_eq!(got[2].as_ref().unwrap().line, 5);
    }

    #[test]
    fn recovery_stops_when_the_budget_is_spent() {
        let data = b"id,text\n1,\"a\n2,b\n".to_vec();
        let mut source = super::CsvSource::new(
            "in.csv".into(),
            Box::new(std::io::Cursor::new(data)),
            &ReadOptions::default(),
        )
        .unwrap();
        source.recovery_budget = 3;
        let mut got = Vec::new();
        while let Some(item) = source.next_record() {
            got.push(item);
        }
        assert_eq!(got.len(), 1);
        let (line, msg) = input_error(&got[0]);
        assert_eq!(line, 2);
        assert!(msg.contains("read as one field"), "{msg}");
    }

    #[test]
    fn quote_inside_unquoted_field_is_literal() {
        let got = summary(b"id,text\n1,say \"hi\n2,x\n");
        assert_eq!(got, [s(2, "1", "say \"hi"), s(3, "2", "x")]);
        // A closed quote followed by more text at the end is not unterminated.
        let got = summary(b"id,text\n1,\"a\"b");
        assert_eq!(got, [s(2, "1", "ab")]);
    }

    #[test]
    fn unterminated_quote_in_header() {
        let (line, msg) = open_error(b"id,\"text\n1,a\n", &ReadOptions::default());
        assert_eq!(line, 1);
        assert!(
            msg.starts_with("unterminated quoted field in the header"),
            "{msg}"
        );
    }

    #[test]
    fn line_numbers_across_large_input() {
        let mut data = String::from("id,text\n");
        for i in 0..5000 {
            if i % 7 == 0 {
                data.push_str("\r\n");
            }
            if i % 11 == 0 {
                data.push_str(&format!("{i},\"two\nlines\"\r\n"));
            } else {
                data.push_str(&format!("{i},plain\n"));
            }
        }
        let mut expected_line = 1u64;
        let mut expected = Vec::new();
        for i in 0..5000u64 {
            if i % 7 == 0 {
                expected_line += 1;
            }
            expected.push(expected_line + 1);
            expected_line += if i % 11 == 0 { 2 } else { 1 };
        }
        let got: Vec<u64> = ok(data.as_bytes()).iter().map(|c| c.line).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn large_field() {
        let big = "y".repeat(3 * 1024 * 1024);
        let data = format!("id,text\n1,\"{big}\"\n2,z\n");
        let got = ok(data.as_bytes());
        assert_eq!(got[0].text.len(), big.len());
        assert_eq!((got[1].line, got[1].text.as_str()), (3, "z"));
    }

    #[test]
    fn sniff_header() {
        assert!(has_column(b"id,text\n", "text"));
        assert!(has_column(b"\"id\",\"text\"\r\n", "text"));
        assert!(has_column(b"id, text \n", "text"));
        assert!(!has_column(b"the text, is here\n", "text"));
        assert!(!has_column(b"", "text"));
        assert!(!has_column(b"id,te\xFFxt\n", "text"));
    }
}

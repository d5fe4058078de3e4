//! Reading comments from CSV, JSON Lines and plain-text files.
//!
//! [`CommentReader`] turns an input file (or stdin, named `-`) into a stream of
//! [`Comment`]s. Problems with the file as a whole (a CSV header without the
//! text column, an unreadable file) are returned by [`CommentReader::open`];
//! problems with a single record are yielded as `Err(Error::Input { .. })` and
//! iteration continues with the next record, so a caller can count
//! `records in = accepted + rejected` and decide whether to stop or skip. An
//! operating-system error while reading is yielded once and ends the iteration.
//!
//! Blank lines (empty or whitespace only) are never records in any format, and a
//! UTF-8 byte-order mark at the start of the input is always ignored.

mod csv;
mod jsonl;
mod text;

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::comment::{Comment, LabelValue};
use crate::error::{Error, Result};

/// The UTF-8 byte-order mark, ignored at the start of every input.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Buffer size for files and stdin.
const BUFFER_SIZE: usize = 64 * 1024;

/// Longest value quoted verbatim in an error message.
const MAX_QUOTED: usize = 40;

/// The layout of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// Comma-separated values with a header line naming the columns.
    Csv,
    /// JSON Lines: one JSON object per line.
    Jsonl,
    /// Plain text: one comment per line, no labels.
    Text,
}

impl InputFormat {
    /// The format implied by `path`'s extension (case-insensitive): `.csv`
    /// (not `.tsv`: only comma-separated files are supported), `.jsonl`,
    /// `.ndjson` or `.json`, and `.txt`. `None` for any other extension, for no
    /// extension and for stdin (`-`).
    pub fn from_path(path: &Path) -> Option<InputFormat> {
        if path == Path::new("-") {
            return None;
        }
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(InputFormat::Csv),
            "jsonl" | "ndjson" | "json" => Some(InputFormat::Jsonl),
            "txt" => Some(InputFormat::Text),
            _ => None,
        }
    }

    /// The canonical lower-case name (`csv`, `jsonl` or `text`).
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Csv => "csv",
            InputFormat::Jsonl => "jsonl",
            InputFormat::Text => "text",
        }
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for InputFormat {
    type Err = Error;

    /// Parses `csv`, `jsonl` (also `json`, `ndjson`) or `text` (also `txt`),
    /// ignoring case and surrounding whitespace.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(InputFormat::Csv),
            "jsonl" | "json" | "ndjson" => Ok(InputFormat::Jsonl),
            "text" | "txt" => Ok(InputFormat::Text),
            _ => Err(Error::Config(format!(
                "unknown input format `{s}` (expected csv, jsonl or text)"
            ))),
        }
    }
}

/// How to read an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// The format, or `None` to choose it from the file name: a known
    /// extension (see [`InputFormat::from_path`]) decides, and a regular file
    /// with any other extension (or none) is refused, naming the file and
    /// asking for a format, rather than guessed (a `.tsv` read as text would
    /// score its header as a comment). Stdin (`-`), and a pipe or device
    /// opened by name (`/dev/stdin`, `<(...)`), without a known extension are
    /// sniffed: if the first non-blank byte is `{` it is JSON Lines, else if
    /// the first non-blank line, read as a CSV header, has a column named
    /// [`text_column`](Self::text_column) it is CSV, else it is text.
    pub format: Option<InputFormat>,
    /// The CSV column or JSON key holding the comment text (default `text`).
    pub text_column: String,
    /// The CSV column or JSON key holding the record id (default `id`).
    pub id_column: String,
    /// Columns or keys parsed as labels when present (default `abusive`,
    /// `violent`). Accepted values: `1`, `1.0`, `true` (positive); `0`, `0.0`,
    /// `false` (negative); `-1`, `-1.0`, empty, `null`, `NA` (not labelled).
    /// JSON also accepts the numbers 1, 0, -1, booleans and `null`.
    pub label_columns: Vec<String>,
    /// Extra columns or keys copied into [`Comment::fields`] when present
    /// (e.g. `source`).
    pub keep_columns: Vec<String>,
    /// What the caller tells a person whose CSV header or JSON record lacks
    /// the text column, after the message saying so: how to name it in the
    /// caller's own terms (a command-line flag, a field of a request).
    /// `None` says only what is missing.
    pub missing_text_hint: Option<String>,
    /// The comment text is HTML (as Coral sends and exports it): each
    /// comment's tags are removed by [`crate::text::html::strip`], the
    /// server's own function, and the HTML is kept in [`Comment::html`] so
    /// that spans can be mapped back to it.
    pub html: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: None,
            text_column: "text".to_string(),
            id_column: "id".to_string(),
            label_columns: vec!["abusive".to_string(), "violent".to_string()],
            keep_columns: Vec::new(),
            missing_text_hint: None,
            html: false,
        }
    }
}

/// The format-specific state behind a [`CommentReader`].
enum Source {
    Csv(Box<self::csv::CsvSource>),
    Jsonl(self::jsonl::JsonlSource),
    Text(self::text::TextSource),
}

/// A stream of [`Comment`]s read from one input.
///
/// Yields `Ok(comment)` for each record, `Err(Error::Input { .. })` for a
/// malformed record (and then carries on with the next one), or
/// `Err(Error::Io { .. })` once if reading fails, after which it ends.
pub struct CommentReader {
    path: PathBuf,
    format: InputFormat,
    source: Source,
    html: bool,
}

impl fmt::Debug for CommentReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommentReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl CommentReader {
    /// Opens `path` (`-` for stdin) and, for CSV, reads its header.
    ///
    /// Fails if the file cannot be opened or read, or if the CSV header is
    /// missing, not UTF-8 or lacks the text column.
    pub fn open(path: &Path, opts: &ReadOptions) -> Result<CommentReader> {
        if path == Path::new("-") {
            let reader = Box::new(BufReader::with_capacity(BUFFER_SIZE, std::io::stdin()));
            return Self::read(path.to_path_buf(), reader, opts, true);
        }
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        // A pipe or device has no meaningful extension: sniff it like stdin.
        let sniff = file.metadata().is_ok_and(|m| !m.is_file());
        let reader = Box::new(BufReader::with_capacity(BUFFER_SIZE, file));
        Self::read(path.to_path_buf(), reader, opts, sniff)
    }

    /// Reads comments from `reader`, reporting errors against `name`.
    ///
    /// The format is chosen from `opts` and `name` as described at
    /// [`ReadOptions::format`]; `name` `-` means stdin and is sniffed.
    pub fn from_reader(
        name: impl Into<PathBuf>,
        reader: Box<dyn BufRead + Send>,
        opts: &ReadOptions,
    ) -> Result<CommentReader> {
        let path = name.into();
        let sniff = path == Path::new("-");
        Self::read(path, reader, opts, sniff)
    }

    /// [`from_reader`](Self::from_reader); `sniff` allows guessing the
    /// format of an input whose name does not tell it.
    fn read(
        path: PathBuf,
        reader: Box<dyn BufRead + Send>,
        opts: &ReadOptions,
        sniff_unnamed: bool,
    ) -> Result<CommentReader> {
        let reader = strip_bom(reader).map_err(|e| Error::io(&path, e))?;
        let (format, reader) = match opts.format.or_else(|| InputFormat::from_path(&path)) {
            Some(format) => (format, reader),
            None if sniff_unnamed => sniff(reader, opts).map_err(|e| Error::io(&path, e))?,
            None => return Err(unknown_format(&path)),
        };
        let source = match format {
            InputFormat::Csv => Source::Csv(Box::new(self::csv::CsvSource::new(
                path.clone(),
                reader,
                opts,
            )?)),
            InputFormat::Jsonl => {
                Source::Jsonl(self::jsonl::JsonlSource::new(path.clone(), reader, opts))
            }
            InputFormat::Text => Source::Text(self::text::TextSource::new(path.clone(), reader)),
        };
        Ok(CommentReader {
            path,
            format,
            source,
            html: opts.html,
        })
    }

    /// The format being read.
    pub fn format(&self) -> InputFormat {
        self.format
    }

    /// The input's name as given (`-` for stdin).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The CSV header's column names (trimmed), or `None` for JSON Lines and text.
    pub fn columns(&self) -> Option<&[String]> {
        match &self.source {
            Source::Csv(csv) => Some(csv.columns()),
            Source::Jsonl(_) | Source::Text(_) => None,
        }
    }

    /// The [`ReadOptions::label_columns`] present in the input, in that order:
    /// for CSV those in the header; for JSON Lines those seen as keys in any
    /// record read so far; for text none.
    pub fn label_columns_found(&self) -> Vec<String> {
        match &self.source {
            Source::Csv(csv) => csv.label_columns_found(),
            Source::Jsonl(jsonl) => jsonl.label_columns_found(),
            Source::Text(_) => Vec::new(),
        }
    }
}

impl Iterator for CommentReader {
    type Item = Result<Comment>;

    fn next(&mut self) -> Option<Result<Comment>> {
        let mut next = match &mut self.source {
            Source::Csv(csv) => csv.next_record(),
            Source::Jsonl(jsonl) => jsonl.next_record(),
            Source::Text(text) => text.next_record(),
        };
        if self.html
            && let Some(Ok(comment)) = &mut next
        {
            comment.read_as_html();
        }
        next
    }
}

/// Reads every comment in `path` (`-` for stdin), stopping at the first
/// malformed record or read error and returning it.
pub fn read_all(path: &Path, opts: &ReadOptions) -> Result<Vec<Comment>> {
    CommentReader::open(path, opts)?.collect()
}

/// `message`, then `; hint` when the caller gave one.
fn with_hint(message: String, hint: Option<&str>) -> String {
    match hint {
        Some(h) if !h.is_empty() => format!("{message}; {h}"),
        _ => message,
    }
}

/// The error for a file whose name does not tell its format.
fn unknown_format(path: &Path) -> Error {
    let what = match path.extension() {
        Some(ext) => format!("unknown extension `.{}`", ext.to_string_lossy()),
        None => "no extension".to_string(),
    };
    Error::input(
        path,
        0,
        format!(
            "{what}, so the format is not known: name it .csv, .jsonl or .txt, or give \
             --input-format csv|jsonl|text (CSV must be comma-separated)"
        ),
    )
}

/// Drops a UTF-8 byte-order mark from the start of `reader`, if there is one.
fn strip_bom(mut reader: Box<dyn BufRead + Send>) -> std::io::Result<Box<dyn BufRead + Send>> {
    let mut head = Vec::with_capacity(BOM.len());
    while head.len() < BOM.len() {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let n = buf.len().min(BOM.len() - head.len());
        head.extend_from_slice(&buf[..n]);
        reader.consume(n);
        if !BOM.starts_with(&head) {
            break;
        }
    }
    if head == BOM {
        Ok(reader)
    } else {
        Ok(Box::new(Cursor::new(head).chain(reader)))
    }
}

/// Guesses the format of an input whose name does not tell it (stdin) from
/// its first non-blank line, as described at [`ReadOptions::format`];
/// returns the format and a reader that still yields every byte.
pub fn sniff_format(
    reader: Box<dyn BufRead + Send>,
    text_column: &str,
) -> std::io::Result<(InputFormat, Box<dyn BufRead + Send>)> {
    let opts = ReadOptions {
        text_column: text_column.to_string(),
        ..ReadOptions::default()
    };
    sniff(reader, &opts)
}

/// Guesses the format of an unnamed input (stdin) from its first non-blank
/// line, returning a reader that still yields everything.
fn sniff(
    mut reader: Box<dyn BufRead + Send>,
    opts: &ReadOptions,
) -> std::io::Result<(InputFormat, Box<dyn BufRead + Send>)> {
    let mut head = Vec::new();
    let mut format = InputFormat::Text;
    loop {
        let start = head.len();
        if reader.read_until(b'\n', &mut head)? == 0 {
            break;
        }
        let line = &head[start..];
        if let Some(first) = line.iter().find(|b| !b.is_ascii_whitespace()) {
            format = if *first == b'{' {
                InputFormat::Jsonl
            } else if self::csv::has_column(line, &opts.text_column) {
                InputFormat::Csv
            } else {
                InputFormat::Text
            };
            break;
        }
    }
    Ok((format, Box::new(Cursor::new(head).chain(reader))))
}

/// Reads an input line by line, as bytes, with no limit on line length.
struct LineSource {
    reader: Box<dyn BufRead + Send>,
    /// The current line, without its `\n` or `\r\n`.
    buf: Vec<u8>,
    /// 1-based number of the current line (0 before the first).
    line: u64,
}

impl LineSource {
    fn new(reader: Box<dyn BufRead + Send>) -> Self {
        LineSource {
            reader,
            buf: Vec::new(),
            line: 0,
        }
    }

    /// Reads the next line into `buf` and returns its number, or `None` at
    /// the end of the input.
    fn next_line(&mut self) -> std::io::Result<Option<u64>> {
        self.buf.clear();
        if self.reader.read_until(b'\n', &mut self.buf)? == 0 {
            return Ok(None);
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        }
        Ok(Some(self.line))
    }

    /// Takes the current line as a `String`, without copying it.
    fn take_string(&mut self) -> std::result::Result<String, std::str::Utf8Error> {
        match String::from_utf8(std::mem::take(&mut self.buf)) {
            Ok(s) => Ok(s),
            Err(e) => Err(e.utf8_error()),
        }
    }
}

/// Parses a label written as text; `None` when the value is not a label.
fn parse_label(value: &str) -> Option<LabelValue> {
    let v = value.trim();
    match v {
        "1" | "1.0" => Some(Some(true)),
        "0" | "0.0" => Some(Some(false)),
        "-1" | "-1.0" | "" => Some(None),
        _ if v.eq_ignore_ascii_case("true") => Some(Some(true)),
        _ if v.eq_ignore_ascii_case("false") => Some(Some(false)),
        _ if v.eq_ignore_ascii_case("null") || v.eq_ignore_ascii_case("na") => Some(None),
        _ => None,
    }
}

/// Shortens `value` for quoting in an error message.
fn quote_value(value: &str) -> String {
    if value.chars().count() <= MAX_QUOTED {
        value.to_string()
    } else {
        let mut short: String = value.chars().take(MAX_QUOTED).collect();
        short.push('…');
        short
    }
}

/// Joins names for an error message, listing at most a dozen.
fn list_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    const MAX: usize = 12;
    let names: Vec<&str> = names.into_iter().collect();
    let mut out = names[..names.len().min(MAX)].join(", ");
    if names.len() > MAX {
        out.push_str(&format!(", … ({} in all)", names.len()));
    }
    if out.is_empty() {
        out.push_str("none");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn reader(name: &str, data: &[u8], opts: &ReadOptions) -> Result<CommentReader> {
        CommentReader::from_reader(name, Box::new(Cursor::new(data.to_vec())), opts)
    }

    #[test]
    fn format_from_path() {
        let f = |p: &str| InputFormat::from_path(Path::new(p));
        assert_eq!(f("a.csv"), Some(InputFormat::Csv));
        assert_eq!(f("dir/A.CSV"), Some(InputFormat::Csv));
        assert_eq!(f("a.jsonl"), Some(InputFormat::Jsonl));
        assert_eq!(f("a.ndjson"), Some(InputFormat::Jsonl));
        assert_eq!(f("a.json"), Some(InputFormat::Jsonl));
        assert_eq!(f("a.txt"), Some(InputFormat::Text));
        assert_eq!(f("a.tsv"), None);
        assert_eq!(f("a.dat"), None);
        assert_eq!(f("noext"), None);
        assert_eq!(f("-"), None);
    }

    #[test]
    fn format_from_str_and_display() {
        for (s, f) in [
            ("csv", InputFormat::Csv),
            ("CSV", InputFormat::Csv),
            ("jsonl", InputFormat::Jsonl),
            ("json", InputFormat::Jsonl),
            ("ndjson", InputFormat::Jsonl),
            ("text", InputFormat::Text),
            (" txt ", InputFormat::Text),
        ] {
            assert_eq!(s.parse::<InputFormat>().ok(), Some(f), "{s}");
        }
        let err = "xml".parse::<InputFormat>().unwrap_err().to_string();
        assert!(err.contains("unknown input format `xml`"), "{err}");
        for f in [InputFormat::Csv, InputFormat::Jsonl, InputFormat::Text] {
            assert_eq!(f.to_string().parse::<InputFormat>().ok(), Some(f));
        }
        assert_eq!(InputFormat::Jsonl.to_string(), "jsonl");
    }

    #[test]
    fn default_options() {
        let o = ReadOptions::default();
        assert_eq!(o.format, None);
        assert_eq!(o.text_column, "text");
        assert_eq!(o.id_column, "id");
        assert_eq!(o.label_columns, vec!["abusive", "violent"]);
        assert!(o.keep_columns.is_empty());
    }

    #[test]
    fn labels_from_text() {
        for v in ["1", "1.0", "true", "TRUE", " 1 "] {
            assert_eq!(parse_label(v), Some(Some(true)), "{v}");
        }
        for v in ["0", "0.0", "false", "False"] {
            assert_eq!(parse_label(v), Some(Some(false)), "{v}");
        }
        for v in ["-1", "", "  ", "null", "NULL", "NA", "na"] {
            assert_eq!(parse_label(v), Some(None), "{v}");
        }
        for v in ["2", "yes", "0.5", "-2", "1,0"] {
            assert_eq!(parse_label(v), None, "{v}");
        }
    }

    #[test]
    fn unknown_or_missing_extension_is_refused_unless_a_format_is_given() {
        let err = reader("x.tsv", b"id\ttext\n1\thi\n", &ReadOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Input { line: 0, .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "x.tsv: unknown extension `.tsv`, so the format is not known: name it .csv, \
             .jsonl or .txt, or give --input-format csv|jsonl|text (CSV must be \
             comma-separated)"
        );
        let err = reader("comments", b"hi\n", &ReadOptions::default()).unwrap_err();
        assert!(
            err.to_string().starts_with("comments: no extension"),
            "{err}"
        );
        let opts = ReadOptions {
            format: Some(InputFormat::Text),
            ..ReadOptions::default()
        };
        let r = reader("x.dat", b"id,text\n1,hi\n", &opts).unwrap();
        assert_eq!(r.format(), InputFormat::Text);
        assert_eq!(r.path(), Path::new("x.dat"));
        assert_eq!(r.columns(), None);
        assert_eq!(r.count(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn a_pipe_opened_by_name_is_sniffed() {
        // /dev/null is not a regular file: sniffed like stdin (empty: text).
        let r = CommentReader::open(Path::new("/dev/null"), &ReadOptions::default()).unwrap();
        assert_eq!(r.format(), InputFormat::Text);
        assert_eq!(r.count(), 0);
    }

    #[test]
    fn explicit_format_overrides_extension() {
        let opts = ReadOptions {
            format: Some(InputFormat::Text),
            ..ReadOptions::default()
        };
        let r = reader("x.csv", b"id,text\n", &opts).unwrap();
        assert_eq!(r.format(), InputFormat::Text);
    }

    #[test]
    fn stdin_sniffs_jsonl() {
        let data = b"\xEF\xBB\xBF\n  \n {\"text\": \"hi\"}\n{\"text\": \"there\"}\n";
        let r = reader("-", data, &ReadOptions::default()).unwrap();
        assert_eq!(r.format(), InputFormat::Jsonl);
        let got: Vec<Comment> = r.collect::<Result<_>>().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].line, got[0].text.as_str()), (3, "hi"));
        assert_eq!((got[1].line, got[1].text.as_str()), (4, "there"));
    }

    #[test]
    fn stdin_sniffs_csv() {
        let data = b"\n\"id\",\"text\",abusive\r\n7,\"a, b\",1\r\n";
        let r = reader("-", data, &ReadOptions::default()).unwrap();
        assert_eq!(r.format(), InputFormat::Csv);
        let got: Vec<Comment> = r.collect::<Result<_>>().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id, "7");
        assert_eq!(got[0].line, 3);
        assert_eq!(got[0].text, "a, b");
        assert_eq!(got[0].labels["abusive"], Some(true));
    }

    #[test]
    fn stdin_sniffs_csv_with_renamed_text_column() {
        let opts = ReadOptions {
            text_column: "body".into(),
            ..ReadOptions::default()
        };
        let r = reader("-", b"id,body\n1,x\n", &opts).unwrap();
        assert_eq!(r.format(), InputFormat::Csv);
        // Without the option, the same input is plain text.
        let r = reader("-", b"id,body\n1,x\n", &ReadOptions::default()).unwrap();
        assert_eq!(r.format(), InputFormat::Text);
    }

    #[test]
    fn stdin_sniffs_text() {
        let data = b"I read the text, and it was bad\nsecond\n";
        let r = reader("-", data, &ReadOptions::default()).unwrap();
        assert_eq!(r.format(), InputFormat::Text);
        let got: Vec<Comment> = r.collect::<Result<_>>().unwrap();
        assert_eq!(got[0].text, "I read the text, and it was bad");
        assert_eq!(got[1].text, "second");
    }

    #[test]
    fn stdin_empty_is_text_with_no_records() {
        let r = reader("-", b"", &ReadOptions::default()).unwrap();
        assert_eq!(r.format(), InputFormat::Text);
        assert_eq!(r.count(), 0);
        let r = reader("-", b"\n \r\n", &ReadOptions::default()).unwrap();
        assert_eq!(r.count(), 0);
    }

    #[test]
    fn bom_split_across_reads_is_stripped() {
        /// Hands out one byte per read.
        struct Trickle(Vec<u8>, usize);
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.1 >= self.0.len() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[self.1];
                self.1 += 1;
                Ok(1)
            }
        }
        let src = Trickle(b"\xEF\xBB\xBFhello\n".to_vec(), 0);
        let r = CommentReader::from_reader(
            "a.txt",
            Box::new(BufReader::with_capacity(1, src)),
            &ReadOptions::default(),
        )
        .unwrap();
        let got: Vec<Comment> = r.collect::<Result<_>>().unwrap();
        assert_eq!(got[0].text, "hello");
        // A partial BOM is not stripped.
        let r = reader("a.txt", b"\xEF\xBBx\n", &ReadOptions::default()).unwrap();
        let got: Vec<Result<Comment>> = r.collect();
        assert!(matches!(got[0], Err(Error::Input { line: 1, .. })));
    }

    #[test]
    fn html_comments_are_read_as_their_text_with_the_html_kept() {
        let data = "id,text\na,\"<p>You <b>idiot</b></p><p>bye</p>\"\nb,plain < text\n";
        let opts = ReadOptions {
            html: true,
            ..ReadOptions::default()
        };
        let got: Vec<Comment> = reader("x.csv", data.as_bytes(), &opts)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(got[0].text, "You idiot\nbye");
        let html = &got[0].html.as_ref().unwrap().html;
        assert_eq!(html, "<p>You <b>idiot</b></p><p>bye</p>");
        let at = got[0].text.find("idiot").unwrap();
        let (a, b) = got[0].written_range(at, at + 5);
        assert_eq!(&html[a..b], "idiot");
        assert_eq!(got[1].text, "plain < text");
        // Without the option the text is as written.
        let got: Vec<Comment> = reader("x.csv", data.as_bytes(), &ReadOptions::default())
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert!(got[0].text.starts_with("<p>") && got[0].html.is_none());
        assert_eq!(got[0].written_range(3, 6), (3, 6));
    }

    #[test]
    fn open_missing_file_is_io_error() {
        let err = CommentReader::open(Path::new("/nonexistent/dir/x.csv"), &ReadOptions::default())
            .unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert_eq!(err.to_string(), "/nonexistent/dir/x.csv");
        let source = std::error::Error::source(&err).expect("OS error as source");
        assert!(source.to_string().contains("No such file"), "{source}");
    }

    #[test]
    fn open_and_read_all_from_files() {
        let dir = std::env::temp_dir().join(format!("moderate-io-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("in.csv");
        std::fs::write(&csv, "id,text,abusive\na,one,1\nb,two,x\n").unwrap();
        let r = CommentReader::open(&csv, &ReadOptions::default()).unwrap();
        assert_eq!(r.format(), InputFormat::Csv);
        assert_eq!(r.count(), 2);
        let err = read_all(&csv, &ReadOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Input { line: 3, .. }), "{err}");
        let txt = dir.join("in.txt");
        std::fs::write(&txt, "one\n\ntwo").unwrap();
        let all = read_all(&txt, &ReadOptions::default()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!((all[1].id.as_str(), all[1].text.as_str()), ("3", "two"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn io_error_is_yielded_once_then_ends() {
        /// Gives some data, then fails.
        struct Failing(bool);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 {
                    return Err(std::io::Error::other("disk on fire"));
                }
                self.0 = true;
                let data = b"id,text\n1,ok\n2,partial";
                buf[..data.len()].copy_from_slice(data);
                Ok(data.len())
            }
        }
        for name in ["a.csv", "a.jsonl", "a.txt"] {
            let src: Box<dyn BufRead + Send> = Box::new(BufReader::new(Failing(false)));
            let mut r = CommentReader::from_reader(name, src, &ReadOptions::default()).unwrap();
            let mut io_errors = 0;
            for item in r.by_ref() {
                if let Err(Error::Io { .. }) = item {
                    io_errors += 1;
                }
            }
            assert_eq!(io_errors, 1, "{name}");
            assert!(r.next().is_none(), "{name}");
        }
    }

    #[test]
    fn reader_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<CommentReader>();
    }

    #[test]
    fn helpers() {
        assert_eq!(quote_value("abc"), "abc");
        let long = "x".repeat(100);
        assert_eq!(quote_value(&long).chars().count(), MAX_QUOTED + 1);
        assert_eq!(list_names(["a", "b"]), "a, b");
        assert_eq!(list_names(std::iter::empty::<&str>()), "none");
        let many: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        assert!(list_names(many.iter().map(String::as_str)).ends_with("(20 in all)"));
    }
}

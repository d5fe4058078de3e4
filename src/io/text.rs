//! Plain text: one comment per line.
//!
//! The text is the line without its trailing `\n` or `\r\n` (nothing else is
//! trimmed); the id is the 1-based line number. Blank lines (empty or whitespace
//! only) are not records. Lines may be of any length.

use std::io::BufRead;
use std::path::PathBuf;

use super::LineSource;
use crate::comment::Comment;
use crate::error::{Error, Result};

/// Reads comments from a plain-text input.
pub(super) struct TextSource {
    path: PathBuf,
    lines: LineSource,
    done: bool,
}

impl TextSource {
    /// Reads from `reader` (its byte-order mark already removed).
    pub(super) fn new(path: PathBuf, reader: Box<dyn BufRead + Send>) -> Self {
        TextSource {
            path,
            lines: LineSource::new(reader),
            done: false,
        }
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
            let text = match self.lines.take_string() {
                Ok(text) => text,
                Err(e) => {
                    return Some(Err(Error::input(
                        &self.path,
                        line,
                        format!("invalid UTF-8 at byte {} of the line", e.valid_up_to() + 1),
                    )));
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            return Some(Ok(Comment {
                line,
                id: line.to_string(),
                text,
                ..Comment::default()
            }));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::reader;
    use super::super::{InputFormat, ReadOptions};
    use crate::comment::Comment;
    use crate::error::{Error, Result};

    fn read(data: &[u8]) -> Vec<Result<Comment>> {
        let r = reader("in.txt", data, &ReadOptions::default()).unwrap();
        assert_eq!(r.format(), InputFormat::Text);
        assert!(r.label_columns_found().is_empty());
        r.collect()
    }

    fn ok(data: &[u8]) -> Vec<(u64, String, String)> {
        read(data)
            .into_iter()
            .map(|c| {
                let c = c.unwrap();
                (c.line, c.id, c.text)
            })
            .collect()
    }

    fn t(line: u64, text: &str) -> (u64, String, String) {
        (line, line.to_string(), text.to_string())
    }

    #[test]
    fn lines_lf() {
        assert_eq!(ok(b"one\ntwo\n"), vec![t(1, "one"), t(2, "two")]);
    }

    #[test]
    fn last_line_without_newline() {
        assert_eq!(ok(b"one\ntwo"), vec![t(1, "one"), t(2, "two")]);
    }

    #[test]
    fn crlf_and_blank_lines() {
        let got = ok(b"one\r\n\r\n   \r\n\t\ntwo  \r\n\n");
        assert_eq!(got, vec![t(1, "one"), t(5, "two  ")]);
    }

    #[test]
    fn text_is_not_trimmed_except_newline() {
        assert_eq!(ok(b"  a\tb \r\n"), vec![t(1, "  a\tb ")]);
        // A lone CR in the middle of a line is kept.
        assert_eq!(ok(b"a\rb\n"), vec![t(1, "a\rb")]);
    }

    #[test]
    fn unicode_whitespace_line_is_blank() {
        assert_eq!(ok("\u{3000}\u{a0}\nx\n".as_bytes()), vec![t(2, "x")]);
    }

    #[test]
    fn bom_is_stripped() {
        assert_eq!(ok(b"\xEF\xBB\xBFhello\n"), vec![t(1, "hello")]);
        // A BOM alone is a blank input.
        assert!(ok(b"\xEF\xBB\xBF").is_empty());
    }

    #[test]
    fn empty_input() {
        assert!(ok(b"").is_empty());
    }

    #[test]
    fn invalid_utf8_is_record_error_and_continues() {
        let got = read(b"good\nbad \xFF here\nalso good\n");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].as_ref().unwrap().text, "good");
        match &got[1] {
            Err(Error::Input { line, message, .. }) => {
                assert_eq!(*line, 2);
                assert!(message.contains("invalid UTF-8 at byte 5"), "{message}");
            }
            other => panic!("expected input error, got {other:?}"),
        }
        let c = got[2].as_ref().unwrap();
        assert_eq!((c.line, c.text.as_str()), (3, "also good"));
    }

    #[test]
    fn very_long_line() {
        let mut data = vec![b'a'; 50 * 1024 * 1024];
        data.extend_from_slice(b"\r\nshort\n");
        let got = ok(&data);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].2.len(), 50 * 1024 * 1024);
        assert_eq!(got[1], t(2, "short"));
    }

    #[test]
    fn no_labels_or_fields() {
        let opts = ReadOptions {
            keep_columns: vec!["source".into()],
            ..ReadOptions::default()
        };
        let r = reader("x.txt", b"abusive\n", &opts).unwrap();
        let c: Vec<Comment> = r.collect::<Result<_>>().unwrap();
        assert!(c[0].labels.is_empty() && c[0].fields.is_empty());
    }
}

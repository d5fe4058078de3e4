//! The record every reader produces and every command consumes.

use std::collections::BTreeMap;

/// A label value as found in the data: positive, negative, or not labelled (`-1`).
pub type LabelValue = Option<bool>;

/// One reader comment with its optional labels and any extra columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comment {
    /// 1-based line in the input where the record starts.
    pub line: u64,
    /// The record's id: the `id` field when present, otherwise its 1-based record number.
    pub id: String,
    /// The comment text, as published.
    pub text: String,
    /// Label columns found in the record (`abusive`, `violent`, ...). `None` means
    /// "not labelled" (`-1` or empty), never "negative".
    pub labels: BTreeMap<String, LabelValue>,
    /// Other columns the caller asked to keep (e.g. `source` for `eval --by source`).
    pub fields: BTreeMap<String, String>,
    /// The comment as written, when it was read as HTML
    /// ([`crate::io::ReadOptions::html`]): [`text`](Self::text) is then this
    /// HTML with its tags removed. `None` for plain text.
    pub html: Option<Box<HtmlSource>>,
}

/// A comment's HTML, and where each byte of its text came from in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HtmlSource {
    /// The HTML, as read.
    pub html: String,
    /// For each byte of the text, the byte of the HTML it came from, and one
    /// more entry for the text's end ([`crate::text::html::Stripped::origin`]).
    pub origin: Vec<u32>,
}

impl Comment {
    /// Reads [`text`](Self::text) as HTML: keeps it in
    /// [`html`](Self::html) and replaces the text with the HTML's text
    /// ([`crate::text::html::strip`], as the server reads Coral's comments).
    pub fn read_as_html(&mut self) {
        let stripped = crate::text::html::strip(&self.text);
        let html = std::mem::replace(&mut self.text, stripped.text);
        self.html = Some(Box::new(HtmlSource {
            html,
            origin: stripped.origin,
        }));
    }

    /// The byte range `a..b` of [`text`](Self::text) as a byte range of the
    /// comment as written: itself for plain text, the HTML it came from for
    /// a comment read as HTML.
    pub fn written_range(&self, a: usize, b: usize) -> (usize, usize) {
        match &self.html {
            Some(h) => crate::text::html::html_range(&h.origin, &h.html, a, b),
            None => (a, b),
        }
    }
}

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
}

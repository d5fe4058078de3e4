//! The review queue behind `moderate review`: which comments a moderator sees
//! and in what order, the key map, and the decisions file.
//!
//! Everything here is independent of the terminal, so it is tested as plain
//! functions; `cli/review.rs` draws the screen and reads keys.
//!
//! # The decisions file
//!
//! A CSV file with the header `id,text,<label>...,reviewer,decided_at` (the
//! label columns are the model's labels, in model order, with values `1` or
//! `0`). It is an ordinary labelled comments file, so `moderate train --data
//! decisions.csv` reads it.
//!
//! Safety scheme:
//!
//! - **Append only.** Each decision is one row, written with a single
//!   `write` call to a file opened for appending, then flushed and
//!   `fsync`ed before the next comment is shown. A crash or Ctrl-C loses at
//!   most the comment on screen.
//! - **Undo truncates.** Undo removes the last row by truncating the file to
//!   the byte offset where that row starts (one `ftruncate`, then `fsync`).
//!   No other byte of the file is rewritten, so an interrupted undo leaves
//!   either the row or nothing.
//! - **Torn rows are repaired.** A crash in the middle of an append can leave
//!   a partial last row. On open, a last row that is malformed, or that lacks
//!   its line end and a complete timestamp, is cut off (and reported); a
//!   malformed row elsewhere is an input error.
//! - **Resume.** Ids that already have a row are left out of the queue.
//!
//! One reviewer should use a decisions file at a time: appends from two
//! processes interleave safely, but an undo in one could remove the other's
//! last row.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// Keys with a fixed meaning, never used for a label.
pub const RESERVED_KEYS: [char; 4] = ['c', 's', 'u', 'q'];

/// A comment that may be reviewed, with the model's view of it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueItem {
    /// The comment's id (the key of its decision).
    pub id: String,
    /// The comment text, as published.
    pub text: String,
    /// 1-based line in the input where the record starts.
    pub line: u64,
    /// Calibrated probability per label, in model order.
    pub scores: Vec<f32>,
    /// Whether each label's threshold was reached, in model order.
    pub flags: Vec<bool>,
}

impl QueueItem {
    /// The highest label score (0 with no labels).
    pub fn max_score(&self) -> f32 {
        self.scores.iter().copied().fold(0.0, f32::max)
    }

    /// True when at least one label is flagged.
    pub fn is_flagged(&self) -> bool {
        self.flags.iter().any(|&f| f)
    }
}

/// What the queue holds and in what order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// Labels whose flagged comments are queued, most urgent first: the
    /// comments flagged for the first label (highest score for that label
    /// first), then those flagged for the second and not yet queued, and so
    /// on. Comments flagged only for other labels are left out.
    pub labels: Vec<usize>,
    /// Queue every other comment too, after those (`review --all`),
    /// ordered by the queued labels: highest score for the first of
    /// [`labels`](Self::labels) first, ties by the next label's score, then
    /// in input order. So `--label violent --all` puts the near misses of
    /// `violent` first, whatever their score for another label.
    pub include_unflagged: bool,
}

impl QueueSpec {
    /// Every label, the rarest first: the label that flags the fewest of
    /// `items` comes first (ties in model order), so that a rare, urgent
    /// label such as `violent` is not buried under a common one.
    pub fn rarest_first(items: &[QueueItem], n_labels: usize, include_unflagged: bool) -> Self {
        let flagged = |l: usize| {
            items
                .iter()
                .filter(|it| it.flags.get(l) == Some(&true))
                .count()
        };
        let mut labels: Vec<usize> = (0..n_labels).collect();
        labels.sort_by_key(|&l| flagged(l));
        QueueSpec {
            labels,
            include_unflagged,
        }
    }
}

/// Indices of the items to review, in review order (see [`QueueSpec`]),
/// leaving out ids in `decided`; ties keep input order.
pub fn queue_order(items: &[QueueItem], decided: &HashSet<String>, spec: &QueueSpec) -> Vec<usize> {
    let mut queued = vec![false; items.len()];
    let mut order = Vec::new();
    let open = |i: usize| !decided.contains(&items[i].id);
    for &l in &spec.labels {
        let score = |i: usize| items[i].scores.get(l).copied().unwrap_or(0.0);
        let mut group: Vec<usize> = (0..items.len())
            .filter(|&i| !queued[i] && open(i) && items[i].flags.get(l) == Some(&true))
            .collect();
        // A stable sort keeps input order among equal scores.
        group.sort_by(|&a, &b| score(b).total_cmp(&score(a)));
        for &i in &group {
            queued[i] = true;
        }
        order.extend(group);
    }
    if spec.include_unflagged {
        let mut rest: Vec<usize> = (0..items.len())
            .filter(|&i| !queued[i] && open(i))
            .collect();
        // A stable sort keeps input order among equal scores.
        rest.sort_by(|&a, &b| {
            spec.labels
                .iter()
                .map(|&l| {
                    let score = |i: usize| items[i].scores.get(l).copied().unwrap_or(0.0);
                    score(b).total_cmp(&score(a))
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        order.extend(rest);
    }
    order
}

/// The review queue: the items, the order to show them in and how far the
/// reviewer has got.
#[derive(Debug, Clone)]
pub struct Queue {
    items: Vec<QueueItem>,
    order: Vec<usize>,
    cursor: usize,
}

impl Queue {
    /// A queue over `items` (in input order) as `spec` says, leaving out
    /// `decided` ids.
    pub fn new(items: Vec<QueueItem>, decided: &HashSet<String>, spec: &QueueSpec) -> Self {
        let order = queue_order(&items, decided, spec);
        Queue {
            items,
            order,
            cursor: 0,
        }
    }

    /// The comment on screen, or `None` when the queue is done.
    pub fn current(&self) -> Option<&QueueItem> {
        self.order.get(self.cursor).map(|&i| &self.items[i])
    }

    /// `(n, total)`: the comment on screen is number `n` (1-based) of `total`.
    pub fn progress(&self) -> (usize, usize) {
        ((self.cursor + 1).min(self.order.len()), self.order.len())
    }

    /// Comments not yet passed (including the one on screen).
    pub fn remaining(&self) -> usize {
        self.order.len() - self.cursor.min(self.order.len())
    }

    /// Comments of the queue that have no decision in `decided`: what a
    /// later session with the same decisions file will queue (skipped
    /// comments come back, undone ones too).
    pub fn undecided(&self, decided: &HashSet<String>) -> usize {
        self.unique(&self.order, decided)
    }

    /// Comments passed in this session without a decision (skipped), not
    /// counting one that is back on screen or ahead after an undo.
    pub fn skipped(&self, decided: &HashSet<String>) -> usize {
        let at = self.cursor.min(self.order.len());
        let ahead: HashSet<usize> = self.order[at..].iter().copied().collect();
        let passed: Vec<usize> = self.order[..at]
            .iter()
            .copied()
            .filter(|i| !ahead.contains(i))
            .collect();
        self.unique(&passed, decided)
    }

    /// Distinct items among `order` whose id is not in `decided`.
    fn unique(&self, order: &[usize], decided: &HashSet<String>) -> usize {
        let mut seen = HashSet::new();
        order
            .iter()
            .filter(|&&i| seen.insert(i) && !decided.contains(&self.items[i].id))
            .count()
    }

    /// True when every comment has been decided or skipped.
    pub fn is_done(&self) -> bool {
        self.cursor >= self.order.len()
    }

    /// Moves on to the next comment (after a decision or a skip).
    pub fn advance(&mut self) {
        if self.cursor < self.order.len() {
            self.cursor += 1;
        }
    }

    /// True when some item has id `id`.
    pub fn contains(&self, id: &str) -> bool {
        self.items.iter().any(|it| it.id == id)
    }

    /// Puts the comment with id `id` back on screen after its decision was
    /// undone. If it is the comment just passed, the queue steps back to it;
    /// otherwise (comments were skipped since, or it was decided in an
    /// earlier session) it is inserted before the current comment. Returns
    /// false when no item has that id.
    pub fn reopen(&mut self, id: &str) -> bool {
        if self.cursor > 0 && self.items[self.order[self.cursor - 1]].id == id {
            self.cursor -= 1;
            return true;
        }
        let passed = self.order[..self.cursor]
            .iter()
            .rev()
            .copied()
            .find(|&i| self.items[i].id == id);
        match passed.or_else(|| self.items.iter().position(|it| it.id == id)) {
            Some(i) => {
                self.order.insert(self.cursor, i);
                true
            }
            None => false,
        }
    }
}

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Toggle the proposed value of label `i`.
    Toggle(usize),
    /// Save the proposed labels and move on.
    Accept,
    /// Save "no label applies" and move on.
    Clear,
    /// Move on without a decision.
    Skip,
    /// Remove the last saved decision and show its comment again.
    Undo,
    /// Stop reviewing.
    Quit,
}

/// The single-key bindings for a model's labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMap {
    /// The key of each label, in model order (`None`: no key, past the ninth
    /// label when digits are used).
    pub label_keys: Vec<Option<char>>,
}

impl KeyMap {
    /// Keys for `labels`: each label's lower-case initial (`a` abusive, `v`
    /// violent) when those are distinct ASCII letters other than the
    /// [`RESERVED_KEYS`]; otherwise the digits `1`..`9` in label order.
    pub fn new(labels: &[&str]) -> Self {
        let initials: Vec<Option<char>> = labels
            .iter()
            .map(|l| l.chars().next().map(|c| c.to_ascii_lowercase()))
            .collect();
        let usable = initials.iter().enumerate().all(|(i, c)| {
            c.is_some_and(|c| {
                c.is_ascii_lowercase()
                    && !RESERVED_KEYS.contains(&c)
                    && !initials[..i].contains(&Some(c))
            })
        });
        let label_keys = if usable {
            initials
        } else {
            (0..labels.len())
                .map(|i| char::from_digit(i as u32 + 1, 10).filter(|_| i < 9))
                .collect()
        };
        KeyMap { label_keys }
    }

    /// The action of the printable key `c` (case-insensitive). The digits
    /// `1`..`9` always toggle the labels in order, as well as the initials.
    pub fn action(&self, c: char) -> Option<Action> {
        let c = c.to_ascii_lowercase();
        if let Some(i) = self.label_keys.iter().position(|&k| k == Some(c)) {
            return Some(Action::Toggle(i));
        }
        if let Some(d) = c.to_digit(10) {
            let i = d as usize;
            if (1..=self.label_keys.len()).contains(&i) {
                return Some(Action::Toggle(i - 1));
            }
        }
        match c {
            'c' => Some(Action::Clear),
            's' => Some(Action::Skip),
            'u' => Some(Action::Undo),
            'q' => Some(Action::Quit),
            '\r' | '\n' => Some(Action::Accept),
            _ => None,
        }
    }
}

/// One reviewer decision: a row of the decisions file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The comment's id.
    pub id: String,
    /// The comment text.
    pub text: String,
    /// The decided value of each label, in model order.
    pub labels: Vec<bool>,
    /// Who decided.
    pub reviewer: String,
    /// When, as RFC 3339 UTC (see [`rfc3339_utc`]).
    pub decided_at: String,
}

/// A decision on some of the labels, as `moderate serve` records feedback
/// that names one attribute: `None` leaves a label undecided. It is written
/// as `-1`, which `train` reads as "not labelled" (so it never replaces an
/// earlier decision's value for that label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialDecision {
    /// The comment's id.
    pub id: String,
    /// The comment text.
    pub text: String,
    /// The decided value of each label, in model order; `None`: undecided.
    pub labels: Vec<Option<bool>>,
    /// Who decided.
    pub reviewer: String,
    /// When, as RFC 3339 UTC (see [`rfc3339_utc`]).
    pub decided_at: String,
}

impl From<&Decision> for PartialDecision {
    fn from(d: &Decision) -> Self {
        PartialDecision {
            id: d.id.clone(),
            text: d.text.clone(),
            labels: d.labels.iter().map(|&l| Some(l)).collect(),
            reviewer: d.reviewer.clone(),
            decided_at: d.decided_at.clone(),
        }
    }
}

/// A row already in the decisions file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedDecision {
    /// Byte offset of the row's first byte.
    pub offset: u64,
    /// The comment's id.
    pub id: String,
    /// The decided value of each label, in model order: true for a `1`;
    /// `0` and an undecided `-1` (see [`PartialDecision`]) read as false.
    pub labels: Vec<bool>,
}

/// The header line (without line end) of a decisions file for `labels`.
pub fn header(labels: &[&str]) -> String {
    let mut fields = vec!["id", "text"];
    fields.extend_from_slice(labels);
    fields.extend_from_slice(&["reviewer", "decided_at"]);
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
}

/// `s` as one CSV field: quoted (with doubled quotes) when it contains a
/// comma, quote or line break, or starts or ends with whitespace.
pub fn csv_field(s: &str) -> String {
    let needs_quotes = s.contains([',', '"', '\n', '\r'])
        || s.starts_with(char::is_whitespace)
        || s.ends_with(char::is_whitespace);
    if needs_quotes {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The CSV row (with its `\n`) for `d`.
pub fn format_row(d: &Decision) -> String {
    format_partial_row(&PartialDecision::from(d))
}

/// The CSV row (with its `\n`) for `d`; undecided labels are written `-1`.
pub fn format_partial_row(d: &PartialDecision) -> String {
    let mut row = csv_field(&d.id);
    row.push(',');
    row.push_str(&csv_field(&d.text));
    for &l in &d.labels {
        row.push_str(match l {
            Some(true) => ",1",
            Some(false) => ",0",
            None => ",-1",
        });
    }
    row.push(',');
    row.push_str(&csv_field(&d.reviewer));
    row.push(',');
    row.push_str(&csv_field(&d.decided_at));
    row.push('\n');
    row
}

/// `t` as RFC 3339 in UTC with whole seconds, e.g. `2024-05-01T12:34:56Z`.
/// Times before 1970 are written as the epoch.
pub fn rfc3339_utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// True for a timestamp shaped like [`rfc3339_utc`]'s output.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// The decisions file, open for appending.
#[derive(Debug)]
pub struct DecisionLog {
    path: PathBuf,
    file: File,
    labels: Vec<String>,
    rows: Vec<LoggedDecision>,
    len: u64,
    repaired: Option<String>,
    /// Keep `rows` (for undo and resume); off for an append-only writer.
    keep_rows: bool,
}

impl DecisionLog {
    /// Opens (or creates, writing the header) the decisions file at `path`
    /// for a model with `labels`, reading the decisions already in it.
    ///
    /// Fails with an input error naming the line if the header does not
    /// match `labels` or a row other than the last is malformed. A torn last
    /// row (see the module documentation) is cut off;
    /// [`repaired`](Self::repaired) then describes what was removed.
    pub fn open(path: &Path, labels: &[&str]) -> Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io(path, e))?;
        let mut log = DecisionLog {
            path: path.to_path_buf(),
            file,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            rows: Vec::new(),
            len: bytes.len() as u64,
            repaired: None,
            keep_rows: true,
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            if !bytes.is_empty() {
                log.truncate(0)?;
            }
            log.write_synced(format!("{}\n", header(labels)).as_bytes())?;
            // Make the new file's directory entry durable too.
            if let Some(dir) = path.parent() {
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                if let Ok(d) = File::open(dir) {
                    let _ = d.sync_all();
                }
            }
            return Ok(log);
        }
        log.read_rows(&bytes)?;
        Ok(log)
    }

    /// Parses the existing rows, repairing a torn last row.
    fn read_rows(&mut self, bytes: &[u8]) -> Result<()> {
        let start = if bytes.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let expected = header(&self.labels.iter().map(String::as_str).collect::<Vec<_>>());
        let n_fields = self.labels.len() + 4;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&bytes[start..]);
        let mut record = csv::ByteRecord::new();
        let mut first = true;
        // (offset, line, parse result) of every record.
        let mut parsed: Vec<(u64, u64, std::result::Result<LoggedDecision, String>)> = Vec::new();
        loop {
            let more = match reader.read_byte_record(&mut record) {
                Ok(more) => more,
                Err(e) => {
                    // Only invalid UTF-8 or I/O can fail here; treat as a bad row.
                    let line = e.position().map_or(0, |p| p.line());
                    let offset = e.position().map_or(bytes.len() as u64, |p| p.byte());
                    parsed.push((offset + start as u64, line, Err(e.to_string())));
                    break;
                }
            };
            if !more {
                break;
            }
            let (byte, line) = record
                .position()
                .map_or((0, 1), |p| (p.byte(), p.line().max(1)));
            // The csv crate's position can point at the previous line end.
            let mut offset = start + byte as usize;
            while offset < bytes.len() && matches!(bytes[offset], b'\r' | b'\n') {
                offset += 1;
            }
            if first {
                first = false;
                let got: Vec<String> = record
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).trim().to_string())
                    .collect();
                if got.join(",") != expected {
                    return Err(Error::input(
                        &self.path,
                        line,
                        format!(
                            "decisions file header is `{}`, expected `{expected}` for this \
                             model's labels; use another --decisions file",
                            got.join(",")
                        ),
                    ));
                }
                continue;
            }
            parsed.push((
                offset as u64,
                line,
                parse_row(&record, n_fields, self.labels.len()),
            ));
        }
        let ends_with_newline = bytes.last() == Some(&b'\n') || bytes.last() == Some(&b'\r');
        let n = parsed.len();
        for (i, (offset, line, row)) in parsed.into_iter().enumerate() {
            let last = i + 1 == n;
            match row {
                Ok(row) if !last || ends_with_newline => self.rows.push(row_at(row, offset)),
                Ok(row) => {
                    // A complete-looking last row without its line end: keep
                    // it if its timestamp is whole, else it was cut short.
                    let complete = record_timestamp_ok(bytes, offset);
                    if complete {
                        self.rows.push(row_at(row, offset));
                        self.write_synced(b"\n")?;
                    } else {
                        self.truncate(offset)?;
                        self.repaired = Some(format!(
                            "removed an incomplete last row (line {line}) left by an interrupted run"
                        ));
                    }
                }
                Err(message) if last => {
                    self.truncate(offset)?;
                    self.repaired = Some(format!(
                        "removed an incomplete last row (line {line}: {message}) left by an \
                         interrupted run"
                    ));
                }
                Err(message) => return Err(Error::input(&self.path, line, message)),
            }
        }
        if n == 0 && !ends_with_newline {
            self.write_synced(b"\n")?;
        }
        Ok(())
    }

    /// Appends `bytes` in one write, then flushes and syncs.
    fn write_synced(&mut self, bytes: &[u8]) -> Result<()> {
        let path = &self.path;
        self.file
            .write_all(bytes)
            .and_then(|()| self.file.flush())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io(path, e))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Cuts the file to `len` bytes and syncs.
    fn truncate(&mut self, len: u64) -> Result<()> {
        let path = &self.path;
        self.file
            .set_len(len)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io(path, e))?;
        self.len = len;
        Ok(())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What was repaired on open, if anything.
    pub fn repaired(&self) -> Option<&str> {
        self.repaired.as_deref()
    }

    /// The decisions in the file, oldest first.
    pub fn decisions(&self) -> &[LoggedDecision] {
        &self.rows
    }

    /// Ids that already have a decision.
    pub fn decided_ids(&self) -> HashSet<String> {
        self.rows.iter().map(|r| r.id.clone()).collect()
    }

    /// The last decision in the file.
    pub fn last(&self) -> Option<&LoggedDecision> {
        self.rows.last()
    }

    /// Stops keeping the rows in memory (an append-only writer, such as the
    /// server's feedback, that runs for months and never undoes): the rows
    /// read on open are dropped and later appends are not kept, so
    /// [`decisions`](Self::decisions) is empty and undo has nothing to undo.
    pub fn append_only(mut self) -> Self {
        self.keep_rows = false;
        self.rows = Vec::new();
        self
    }

    /// Appends `d` as one row and makes it durable before returning.
    ///
    /// Fails (with an [`Error::Config`]) if `d` has the wrong number of labels.
    pub fn append(&mut self, d: &Decision) -> Result<()> {
        self.append_partial(&PartialDecision::from(d))
    }

    /// Appends `d` as one row (undecided labels as `-1`) and makes it durable
    /// before returning.
    ///
    /// Fails (with an [`Error::Config`]) if `d` has the wrong number of labels.
    pub fn append_partial(&mut self, d: &PartialDecision) -> Result<()> {
        if d.labels.len() != self.labels.len() {
            return Err(Error::Config(format!(
                "a decision has {} labels, the decisions file {}",
                d.labels.len(),
                self.labels.len()
            )));
        }
        let offset = self.len;
        self.write_synced(format_partial_row(d).as_bytes())?;
        if self.keep_rows {
            self.rows.push(LoggedDecision {
                offset,
                id: d.id.clone(),
                labels: d.labels.iter().map(|&l| l == Some(true)).collect(),
            });
        }
        Ok(())
    }

    /// Removes the last decision from the file (truncating it to where that
    /// row starts) and returns it; `None` when there is none.
    pub fn undo(&mut self) -> Result<Option<LoggedDecision>> {
        let Some(last) = self.rows.last() else {
            return Ok(None);
        };
        self.truncate(last.offset)?;
        Ok(self.rows.pop())
    }
}

fn row_at(mut row: LoggedDecision, offset: u64) -> LoggedDecision {
    row.offset = offset;
    row
}

/// Checks that the record starting at `offset` ends with a whole timestamp.
fn record_timestamp_ok(bytes: &[u8], offset: u64) -> bool {
    let Some(rest) = bytes.get(offset as usize..) else {
        return false;
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(rest);
    let mut record = csv::StringRecord::new();
    matches!(reader.read_record(&mut record), Ok(true))
        && record.iter().next_back().is_some_and(is_timestamp)
}

/// Parses one data row of a decisions file.
fn parse_row(
    record: &csv::ByteRecord,
    n_fields: usize,
    n_labels: usize,
) -> std::result::Result<LoggedDecision, String> {
    if record.len() != n_fields {
        return Err(format!(
            "expected {n_fields} fields, found {}",
            record.len()
        ));
    }
    let field = |i: usize| -> std::result::Result<&str, String> {
        std::str::from_utf8(&record[i]).map_err(|_| format!("field {} is not UTF-8", i + 1))
    };
    let id = field(0)?.trim().to_string();
    if id.is_empty() {
        return Err("empty id".to_string());
    }
    field(1)?;
    let mut labels = Vec::with_capacity(n_labels);
    for i in 2..2 + n_labels {
        labels.push(match field(i)?.trim() {
            "1" => true,
            "0" | "-1" => false,
            other => return Err(format!("label value `{other}` (expected 1, 0 or -1)")),
        });
    }
    Ok(LoggedDecision {
        offset: 0,
        id,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{CommentReader, ReadOptions};
    use std::time::Duration;

    fn item(id: &str, scores: &[f32], flags: &[bool]) -> QueueItem {
        QueueItem {
            id: id.into(),
            text: format!("text {id}"),
            line: 0,
            scores: scores.to_vec(),
            flags: flags.to_vec(),
        }
    }

    fn items() -> Vec<QueueItem> {
        vec![
            item("a", &[0.6, 0.1], &[true, false]),
            item("b", &[0.2, 0.1], &[false, false]),
            item("c", &[0.3, 0.9], &[false, true]),
            item("d", &[0.6, 0.5], &[true, true]),
            item("e", &[0.1, 0.6], &[false, true]),
        ]
    }

    fn decision(id: &str, text: &str, labels: &[bool]) -> Decision {
        Decision {
            id: id.into(),
            text: text.into(),
            labels: labels.to_vec(),
            reviewer: "tester".into(),
            decided_at: "2024-05-01T12:34:56Z".into(),
        }
    }

    /// Violent first, then abusive.
    fn violent_first() -> QueueSpec {
        QueueSpec {
            labels: vec![1, 0],
            include_unflagged: false,
        }
    }

    #[test]
    fn queue_order_groups_by_label_highest_score_first_ties_in_input_order() {
        let none = HashSet::new();
        // abusive flags a and d, violent c, d and e: abusive is the rarer.
        let spec = QueueSpec::rarest_first(&items(), 2, false);
        assert_eq!(spec.labels, [0, 1]);
        assert_eq!(queue_order(&items(), &none, &spec), vec![0, 3, 2, 4]);
        let all = QueueSpec::rarest_first(&items(), 2, true);
        assert_eq!(queue_order(&items(), &none, &all), vec![0, 3, 2, 4, 1]);
        // --label violent: only its comments, by its score.
        let violent = QueueSpec {
            labels: vec![1],
            include_unflagged: false,
        };
        assert_eq!(queue_order(&items(), &none, &violent), vec![2, 4, 3]);
        // --label violent --all: the others follow by their violent score.
        let violent_all = QueueSpec {
            include_unflagged: true,
            ..violent
        };
        assert_eq!(
            queue_order(&items(), &none, &violent_all),
            vec![2, 4, 3, 0, 1]
        );
        assert_eq!(
            queue_order(&items(), &none, &violent_first()),
            vec![2, 4, 3, 0]
        );
        let decided: HashSet<String> = ["c".to_string(), "d".to_string()].into();
        assert_eq!(queue_order(&items(), &decided, &spec), vec![0, 4]);
    }

    #[test]
    fn with_all_the_others_follow_by_the_reviewed_labels_score() {
        // `--label violent --all`: after the violent flags come the near
        // misses of violent, not the comments another label scores high.
        let list = vec![
            item("threat", &[0.1, 0.9], &[false, true]),
            item("insult", &[0.95, 0.02], &[true, false]),
            item("benign", &[0.3, 0.01], &[false, false]),
            item("near-miss", &[0.05, 0.18], &[false, false]),
            item("tie-a", &[0.2, 0.1], &[false, false]),
            item("tie-b", &[0.4, 0.1], &[false, false]),
        ];
        let violent_all = QueueSpec {
            labels: vec![1],
            include_unflagged: true,
        };
        let ids = |spec: &QueueSpec| -> Vec<&str> {
            queue_order(&list, &HashSet::new(), spec)
                .into_iter()
                .map(|i| list[i].id.as_str())
                .collect()
        };
        assert_eq!(
            ids(&violent_all),
            ["threat", "near-miss", "tie-a", "tie-b", "insult", "benign"]
        );
        // Two labels: the first orders, the second breaks its ties.
        let both = QueueSpec {
            labels: vec![1, 0],
            include_unflagged: true,
        };
        assert_eq!(
            ids(&both),
            ["threat", "insult", "near-miss", "tie-b", "tie-a", "benign"]
        );
    }

    #[test]
    fn rare_labels_come_first_even_when_a_common_one_scores_higher() {
        // Many abusive comments at 1.0, one violent comment at 0.4: the
        // violent one is first, not after every abusive one.
        let mut list: Vec<QueueItem> = (0..50)
            .map(|i| item(&format!("a{i}"), &[1.0, 0.0], &[true, false]))
            .collect();
        list.push(item("threat", &[0.2, 0.4], &[false, true]));
        let spec = QueueSpec::rarest_first(&list, 2, false);
        let q = Queue::new(list, &HashSet::new(), &spec);
        assert_eq!(q.current().map(|i| i.id.as_str()), Some("threat"));
        assert_eq!(q.progress(), (1, 51));
    }

    #[test]
    fn queue_advances_and_reports_progress() {
        let mut q = Queue::new(items(), &HashSet::new(), &violent_first());
        assert_eq!(q.progress(), (1, 4));
        assert_eq!(q.current().map(|i| i.id.as_str()), Some("c"));
        q.advance();
        assert_eq!(q.progress(), (2, 4));
        assert_eq!(q.remaining(), 3);
        for _ in 0..5 {
            q.advance();
        }
        assert!(q.is_done());
        assert_eq!(q.current(), None);
        assert_eq!(q.progress(), (4, 4));
        assert_eq!(q.remaining(), 0);
    }

    #[test]
    fn undecided_and_skipped_counts_match_what_the_next_session_queues() {
        let mut q = Queue::new(items(), &HashSet::new(), &violent_first());
        let mut decided = HashSet::new();
        decided.insert("c".to_string()); // c decided
        q.advance();
        q.advance(); // e skipped
        assert_eq!((q.undecided(&decided), q.skipped(&decided)), (3, 1));
        // The next session queues exactly the undecided ones.
        let next = Queue::new(items(), &decided, &violent_first());
        assert_eq!(next.progress(), (1, 3));
        // Undoing c (an earlier decision) reopens it: one more undecided.
        decided.remove("c");
        assert!(q.reopen("c"));
        assert_eq!((q.undecided(&decided), q.skipped(&decided)), (4, 1));
        assert_eq!(q.progress(), (3, 5));
    }

    #[test]
    fn reopen_steps_back_or_inserts() {
        let mut q = Queue::new(items(), &HashSet::new(), &violent_first());
        q.advance(); // c decided
        assert!(q.reopen("c"));
        assert_eq!(q.current().map(|i| i.id.as_str()), Some("c"));
        assert_eq!(q.progress(), (1, 4));
        q.advance(); // c decided
        q.advance(); // e skipped
        assert!(q.reopen("c"));
        assert_eq!(q.current().map(|i| i.id.as_str()), Some("c"));
        assert_eq!(q.progress(), (3, 5));
        q.advance();
        assert_eq!(q.current().map(|i| i.id.as_str()), Some("d"));
        // Decided in an earlier session: not in the order, still reopened.
        let decided: HashSet<String> = ["c".to_string()].into();
        let mut q = Queue::new(items(), &decided, &violent_first());
        assert_eq!(q.progress(), (1, 3));
        assert!(q.reopen("c"));
        assert_eq!(q.current().map(|i| i.id.as_str()), Some("c"));
        assert_eq!(q.progress(), (1, 4));
        assert!(!q.reopen("zzz"));
        assert!(q.contains("b") && !q.contains("zzz"));
    }

    #[test]
    fn key_map_uses_initials_or_digits() {
        let k = KeyMap::new(&["abusive", "violent"]);
        assert_eq!(k.label_keys, vec![Some('a'), Some('v')]);
        assert_eq!(k.action('a'), Some(Action::Toggle(0)));
        assert_eq!(k.action('V'), Some(Action::Toggle(1)));
        assert_eq!(k.action('2'), Some(Action::Toggle(1)));
        assert_eq!(k.action('3'), None);
        assert_eq!(k.action('\r'), Some(Action::Accept));
        assert_eq!(k.action('c'), Some(Action::Clear));
        assert_eq!(k.action('s'), Some(Action::Skip));
        assert_eq!(k.action('u'), Some(Action::Undo));
        assert_eq!(k.action('q'), Some(Action::Quit));
        assert_eq!(k.action('x'), None);
        // Colliding or reserved initials fall back to digits.
        let k = KeyMap::new(&["abusive", "aggressive"]);
        assert_eq!(k.label_keys, vec![Some('1'), Some('2')]);
        let k = KeyMap::new(&["spam", "violent"]);
        assert_eq!(k.label_keys, vec![Some('1'), Some('2')]);
        assert_eq!(k.action('s'), Some(Action::Skip));
        let many: Vec<String> = (0..11).map(|i| format!("{i}x")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let k = KeyMap::new(&many);
        assert_eq!(k.label_keys[8], Some('9'));
        assert_eq!(k.label_keys[9], None);
    }

    #[test]
    fn csv_escaping() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("cr\rhere"), "\"cr\rhere\"");
        assert_eq!(csv_field(" padded "), "\" padded \"");
        assert_eq!(
            header(&["abusive", "violent"]),
            "id,text,abusive,violent,reviewer,decided_at"
        );
        let row = format_row(&decision("7", "a, \"b\"\nc", &[true, false]));
        assert_eq!(
            row,
            "7,\"a, \"\"b\"\"\nc\",1,0,tester,2024-05-01T12:34:56Z\n"
        );
    }

    #[test]
    fn timestamps() {
        let at = |s: u64| rfc3339_utc(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_714_566_896), "2024-05-01T12:34:56Z");
        assert_eq!(at(4_102_444_799), "2099-12-31T23:59:59Z");
        assert!(is_timestamp(&at(1_714_566_896)));
        assert!(!is_timestamp("2024-05-01T12:34"));
        assert!(is_timestamp(&rfc3339_utc(SystemTime::now())));
    }

    #[test]
    fn decisions_append_resume_and_undo() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.csv");
        let labels = ["abusive", "violent"];
        let tricky = "He said, \"go\"\nthen left ";
        {
            let mut log = DecisionLog::open(&path, &labels).unwrap();
            assert!(log.decisions().is_empty());
            log.append(&decision("1", "first", &[true, false])).unwrap();
            log.append(&decision("x,2", tricky, &[false, true]))
                .unwrap();
            log.append(&decision("3", "third", &[false, false]))
                .unwrap();
            assert_eq!(log.undo().unwrap().map(|d| d.id), Some("3".to_string()));
            assert!(log.append(&decision("4", "bad", &[true])).is_err());
        }
        let content = std::fs::read_to_string(&path).unwrap();
        assert!(content.starts_with("id,text,abusive,violent,reviewer,decided_at\n1,first,1,0,"));
        assert!(!content.contains("third"));
        // Resume: the rows are read back, and undo reaches into them.
        let mut log = DecisionLog::open(&path, &labels).unwrap();
        assert_eq!(log.repaired(), None);
        let ids: Vec<&str> = log.decisions().iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, vec!["1", "x,2"]);
        assert_eq!(log.decisions()[1].labels, vec![false, true]);
        assert_eq!(
            log.decided_ids(),
            ["1".to_string(), "x,2".to_string()].into()
        );
        let q = Queue::new(
            vec![item("1", &[0.9], &[true]), item("5", &[0.8], &[true])],
            &log.decided_ids(),
            &QueueSpec {
                labels: vec![0],
                include_unflagged: false,
            },
        );
        assert_eq!(q.current().map(|i| i.id.as_str()), Some("5"));
        assert_eq!(log.last().map(|d| d.id.as_str()), Some("x,2"));
        assert_eq!(log.undo().unwrap().map(|d| d.id), Some("x,2".into()));
        assert_eq!(log.undo().unwrap().map(|d| d.id), Some("1".into()));
        assert_eq!(log.undo().unwrap(), None);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "id,text,abusive,violent,reviewer,decided_at\n"
        );
        log.append(&decision("x,2", tricky, &[false, true]))
            .unwrap();
        drop(log);
        // The file is a labelled comments file for `train`.
        let opts = ReadOptions::default();
        let got: Vec<crate::Comment> = CommentReader::open(&path, &opts)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id, "x,2");
        assert_eq!(got[0].text, tricky);
        assert_eq!(got[0].labels["abusive"], Some(false));
        assert_eq!(got[0].labels["violent"], Some(true));
    }

    #[test]
    fn partial_decisions_are_written_as_minus_one_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feedback.csv");
        let labels = ["abusive", "violent"];
        let partial = |id: &str, l: &[Option<bool>]| PartialDecision {
            id: id.into(),
            text: format!("text {id}"),
            labels: l.to_vec(),
            reviewer: "Coral:https://news.example".into(),
            decided_at: "2024-05-01T12:34:56Z".into(),
        };
        {
            let mut log = DecisionLog::open(&path, &labels).unwrap().append_only();
            log.append_partial(&partial("comment:1", &[Some(true), None]))
                .unwrap();
            log.append_partial(&partial("comment:2", &[Some(false), None]))
                .unwrap();
            log.append(&decision("comment:1", "text comment:1", &[true, true]))
                .unwrap();
            assert!(log.decisions().is_empty());
            assert_eq!(log.undo().unwrap(), None);
            assert!(log.append_partial(&partial("x", &[None])).is_err());
        }
        let content = std::fs::read_to_string(&path).unwrap();
        assert!(
            content.contains("\ncomment:1,text comment:1,1,-1,Coral:https://news.example,"),
            "{content}"
        );
        assert!(
            content.contains("\ncomment:2,text comment:2,0,-1,"),
            "{content}"
        );
        // The file reopens (resume) with every row, -1 included.
        let log = DecisionLog::open(&path, &labels).unwrap();
        assert_eq!(log.decisions().len(), 3);
        assert_eq!(log.decisions()[0].labels, vec![true, false]);
        // `train` reads -1 as unlabelled.
        let got: Vec<crate::Comment> = CommentReader::open(&path, &ReadOptions::default())
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(got[0].labels["abusive"], Some(true));
        assert_eq!(got[0].labels["violent"], None);
        assert_eq!(got[2].labels["violent"], Some(true));
    }

    #[test]
    fn torn_last_row_is_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        let labels = ["abusive", "violent"];
        let head = "id,text,abusive,violent,reviewer,decided_at\n";
        let good = "1,first,1,0,me,2024-05-01T12:34:56Z\n";
        for torn in [
            "2,\"unterminated, quo",
            "2,second,1",
            "2,second,1,0,me,2024-05-01T1",
        ] {
            std::fs::write(&path, format!("{head}{good}{torn}")).unwrap();
            let log = DecisionLog::open(&path, &labels).unwrap();
            assert!(
                log.repaired().is_some_and(|m| m.contains("line 3")),
                "{torn}"
            );
            assert_eq!(log.decisions().len(), 1, "{torn}");
            drop(log);
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                format!("{head}{good}")
            );
        }
        // A whole last row without its line end is kept.
        std::fs::write(&path, format!("{head}{}", good.trim_end())).unwrap();
        let mut log = DecisionLog::open(&path, &labels).unwrap();
        assert_eq!(log.repaired(), None);
        assert_eq!(log.decisions().len(), 1);
        log.append(&decision("2", "second", &[false, false]))
            .unwrap();
        drop(log);
        let content = std::fs::read_to_string(&path).unwrap();
        assert!(
            content.starts_with(&format!("{head}{good}2,second,0,0,")),
            "{content}"
        );
        // CRLF and a BOM (a file saved by a spreadsheet) are read too.
        let crlf = format!("\u{feff}{}", format!("{head}{good}").replace('\n', "\r\n"));
        std::fs::write(&path, crlf).unwrap();
        let mut log = DecisionLog::open(&path, &labels).unwrap();
        assert_eq!(log.decisions().len(), 1);
        assert_eq!(log.undo().unwrap().map(|d| d.id), Some("1".into()));
        drop(log);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("\u{feff}{}", head.replace('\n', "\r\n"))
        );
    }

    #[test]
    fn bad_files_are_input_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        let labels = ["abusive", "violent"];
        std::fs::write(&path, "id,text,toxic,reviewer,decided_at\n").unwrap();
        let err = DecisionLog::open(&path, &labels).unwrap_err();
        assert!(matches!(err, Error::Input { line: 1, .. }), "{err}");
        assert!(
            err.to_string()
                .contains("expected `id,text,abusive,violent"),
            "{err}"
        );
        let head = "id,text,abusive,violent,reviewer,decided_at\n";
        std::fs::write(
            &path,
            format!("{head}1,a,2,0,me,2024-05-01T12:34:56Z\n2,b,1,0,me,2024-05-01T12:34:56Z\n"),
        )
        .unwrap();
        let err = DecisionLog::open(&path, &labels).unwrap_err();
        assert!(matches!(err, Error::Input { line: 2, .. }), "{err}");
        assert!(err.to_string().contains("label value `2`"), "{err}");
        // A whitespace-only file gets a fresh header.
        std::fs::write(&path, "\n \n").unwrap();
        let log = DecisionLog::open(&path, &labels).unwrap();
        drop(log);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), head);
    }
}

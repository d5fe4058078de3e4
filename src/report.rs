//! A self-contained HTML report of scored comments.
//!
//! [`ReportBuilder`] collects scored comments one at a time: it counts them,
//! adds every score to a per-label [`Histogram`], and keeps only the
//! best-scoring comments of each label for the list (at most
//! [`ReportOptions::limit`] per label, so a rare label is never crowded out
//! by a common one), so memory stays bounded whatever the input size. [`ReportBuilder::finish`]
//! asks for the terms behind each listed comment's flags and returns a
//! [`Report`], whose [`Display`](fmt::Display) output is the HTML page.
//!
//! The page needs no network and no script: styles are inline, histograms are
//! inline SVG, and the per-label filters are radio buttons driven by CSS alone.
//! A Content-Security-Policy forbids loading anything. Every string that comes
//! from input (ids, comment text, terms, reject reasons) and from the model
//! (label names and definitions) is HTML-escaped.

use crate::model::{Contribution, Stage};
use crate::text::normalize::decode_entities;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::fmt::{self, Write as _};

/// Default number of histogram bins over [0, 1].
pub const DEFAULT_BINS: usize = 20;

/// Default cap on the number of comments listed in the page.
pub const DEFAULT_LIMIT: usize = 500;

/// Default number of highlighted words per flagged label.
pub const DEFAULT_TOP_TERMS: usize = 5;

/// Longest part of a comment shown in the page, in bytes; the rest is
/// replaced by a note saying how much was left out.
pub const MAX_SHOWN_BYTES: usize = 4000;

/// Reject reasons listed in the page; the rest are only counted.
pub const MAX_REJECTS_LISTED: usize = 200;

/// Colours and underline styles per label (cycled). The underline style
/// tells labels apart without colour.
const PALETTE: [(&str, &str, &str, &str); 5] = [
    // (text/line colour, chip background, mark background, underline style)
    ("#a84b00", "#fdecd2", "#fde3b0", "solid"),
    ("#b3122e", "#fde4e8", "#fcc9d1", "dashed"),
    ("#1d4ed8", "#e0e9fd", "#c7d7fb", "dotted"),
    ("#04704f", "#d8f5ea", "#b4ecd6", "double"),
    ("#7e22ce", "#f1e6fd", "#e4cffb", "wavy"),
];

/// One label as shown in the report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportLabel {
    /// The label's name.
    pub name: String,
    /// What the label means.
    pub definition: String,
    /// The threshold in force for this report.
    pub threshold: f32,
    /// The model's own threshold (differs from `threshold` when overridden).
    pub model_threshold: f32,
}

/// What the report covers and how it was made, shown in its header.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportMeta {
    /// The input's name (a file name, or `-` for stdin).
    pub input: String,
    /// The model: a path or "built-in default model".
    pub model: String,
    /// One line about the model's training (files, rows, version).
    pub model_details: String,
    /// The program that wrote the report, e.g. `moderate 0.1.0`.
    pub generator: String,
}

/// How a [`ReportBuilder`] chooses the comments it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportOptions {
    /// List comments that are not flagged for any label too.
    pub include_all: bool,
    /// Most comments listed per label: the comments a label flags are
    /// capped at its `limit` highest scores for that label, and with
    /// `include_all` the unflagged ones at their `limit` highest scores.
    /// The list is the union. 0 means no cap.
    pub limit: usize,
    /// Histogram bins over [0, 1] (at least 1).
    pub bins: usize,
    /// Per flagged label, the terms `score --explain` gives.
    pub top_terms: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            include_all: false,
            limit: DEFAULT_LIMIT,
            bins: DEFAULT_BINS,
            top_terms: DEFAULT_TOP_TERMS,
        }
    }
}

/// Counts over the whole input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records read: always `scored + rejected`.
    pub read: u64,
    /// Records scored.
    pub scored: u64,
    /// Malformed records skipped.
    pub rejected: u64,
    /// Comments flagged for at least one label.
    pub flagged_any: u64,
    /// Comments flagged, per label.
    pub flagged: Vec<u64>,
    /// Comments longer than the analysis limit (only their start was scored).
    pub truncated: u64,
    /// Comments that qualified for the list (flagged ones, or all with
    /// [`ReportOptions::include_all`]).
    pub eligible: u64,
    /// Comments listed, per label: the listed comments it flags (filled by
    /// [`ReportBuilder::finish`]).
    pub listed: Vec<u64>,
}

/// Counts of scores in equal-width bins over [0, 1].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
}

impl Histogram {
    /// An empty histogram with `bins` bins (at least 1).
    pub fn new(bins: usize) -> Self {
        Histogram {
            counts: vec![0; bins.max(1)],
        }
    }

    /// The bin that holds score `p`. Scores are clamped to [0, 1]; 1.0 falls
    /// in the last bin, and NaN in the first.
    pub fn bin_of(&self, p: f32) -> usize {
        let n = self.counts.len();
        let x = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        ((x * n as f32) as usize).min(n - 1)
    }

    /// Counts score `p`.
    pub fn add(&mut self, p: f32) {
        let b = self.bin_of(p);
        self.counts[b] += 1;
    }

    /// The count of each bin, lowest scores first.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Scores counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// A comment listed in the report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportEntry {
    /// 0-based position in the input (ties in score keep input order).
    pub seq: u64,
    /// The record's id.
    pub id: String,
    /// 1-based input line where the record starts.
    pub line: u64,
    /// The comment text (at most the part that was analysed).
    pub text: String,
    /// Calibrated probability per label.
    pub scores: Vec<f32>,
    /// Labels flagged, in model order.
    pub flags: Vec<usize>,
    /// Whether only the start of the comment was analysed.
    pub truncated: bool,
    /// Per label, the terms that raised its score (filled for flagged labels).
    pub terms: Vec<Vec<Contribution>>,
}

impl ReportEntry {
    /// The sort key: the highest probability over all labels.
    pub fn key(&self) -> f32 {
        self.scores
            .iter()
            .copied()
            .filter(|p| !p.is_nan())
            .fold(0.0, f32::max)
    }
}

/// A candidate for one label's share of the list, ordered so that a
/// max-heap's top is the *worst* candidate: the lowest score, and among
/// equal scores the latest in the input.
#[derive(Debug, Clone, Copy)]
struct Kept {
    score: f32,
    seq: u64,
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Kept {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.seq.cmp(&other.seq))
    }
}

/// Collects scored comments into a [`Report`] with bounded memory.
#[derive(Debug)]
pub struct ReportBuilder {
    labels: Vec<ReportLabel>,
    options: ReportOptions,
    histograms: Vec<Histogram>,
    counts: Counts,
    /// Per label, its best flagged comments; the last heap holds the best
    /// unflagged ones (with `include_all`).
    shares: Vec<BinaryHeap<Kept>>,
    /// The entries some share holds, with how many shares hold each.
    entries: HashMap<u64, (ReportEntry, usize)>,
    rejects: Vec<String>,
}

impl ReportBuilder {
    /// A builder for `labels` (in model order).
    pub fn new(labels: Vec<ReportLabel>, options: ReportOptions) -> Self {
        let n = labels.len();
        ReportBuilder {
            histograms: (0..n).map(|_| Histogram::new(options.bins)).collect(),
            counts: Counts {
                flagged: vec![0; n],
                listed: vec![0; n],
                ..Counts::default()
            },
            labels,
            options,
            shares: (0..=n).map(|_| BinaryHeap::new()).collect(),
            entries: HashMap::new(),
            rejects: Vec::new(),
        }
    }

    /// Adds a scored comment: `scores` holds one probability per label.
    /// Flags are decided here with the report's thresholds. Returns the
    /// flagged labels.
    pub fn add_scored(
        &mut self,
        id: String,
        line: u64,
        text: String,
        scores: &[f32],
        truncated: bool,
    ) -> Vec<usize> {
        let seq = self.counts.read;
        self.counts.read += 1;
        self.counts.scored += 1;
        self.counts.truncated += u64::from(truncated);
        let flags: Vec<usize> = self
            .labels
            .iter()
            .zip(scores)
            .enumerate()
            .filter(|(_, (l, p))| **p >= l.threshold)
            .map(|(i, _)| i)
            .collect();
        for (h, &p) in self.histograms.iter_mut().zip(scores) {
            h.add(p);
        }
        for &i in &flags {
            self.counts.flagged[i] += 1;
        }
        if !flags.is_empty() {
            self.counts.flagged_any += 1;
        }
        if flags.is_empty() && !self.options.include_all {
            return flags;
        }
        self.counts.eligible += 1;
        let entry = ReportEntry {
            seq,
            id,
            line,
            text,
            scores: scores.to_vec(),
            flags: flags.clone(),
            truncated,
            terms: Vec::new(),
        };
        // Each flagged label considers the comment for its own share, by its
        // own score; an unflagged one competes for the unflagged share.
        let shares: Vec<(usize, f32)> = if flags.is_empty() {
            vec![(self.labels.len(), entry.key())]
        } else {
            flags
                .iter()
                .map(|&l| (l, scores.get(l).copied().unwrap_or(0.0)))
                .collect()
        };
        let mut held = 0;
        for (share, score) in shares {
            if self.offer(share, Kept { score, seq }) {
                held += 1;
            }
        }
        if held > 0 {
            self.entries.insert(seq, (entry, held));
        }
        flags
    }

    /// Offers a candidate to one share; returns true when it was taken (and
    /// releases the candidate it displaced).
    fn offer(&mut self, share: usize, kept: Kept) -> bool {
        let limit = self.options.limit;
        let heap = &mut self.shares[share];
        if limit == 0 || heap.len() < limit {
            heap.push(kept);
            return true;
        }
        if heap.peek().is_none_or(|worst| kept >= *worst) {
            return false;
        }
        let worst = heap.pop().map(|k| k.seq);
        heap.push(kept);
        if let Some(seq) = worst
            && let Some(held) = self.entries.get_mut(&seq)
        {
            held.1 -= 1;
            if held.1 == 0 {
                self.entries.remove(&seq);
            }
        }
        true
    }

    /// Counts a malformed record, keeping its description for the page
    /// (the first [`MAX_REJECTS_LISTED`] only).
    pub fn add_rejected(&mut self, reason: String) {
        self.counts.read += 1;
        self.counts.rejected += 1;
        if self.rejects.len() < MAX_REJECTS_LISTED {
            self.rejects.push(reason);
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Finishes the report. `explain(text, label)` gives the terms that
    /// raised `label`'s score for `text`, strongest first, as `score
    /// --explain` shows them ([`crate::model::Scorer::explain_scores`]); it
    /// is called once per flagged label of each listed comment.
    pub fn finish(
        self,
        meta: ReportMeta,
        mut explain: impl FnMut(&str, usize) -> Vec<Contribution>,
    ) -> Report {
        let n = self.labels.len();
        let mut counts = self.counts;
        let mut entries: Vec<ReportEntry> = self.entries.into_values().map(|e| e.0).collect();
        // A comment listed for one label shows in the views of all its flags.
        for (l, listed) in counts.listed.iter_mut().enumerate() {
            *listed = entries.iter().filter(|e| e.flags.contains(&l)).count() as u64;
        }
        // Highest score over all labels first; ties in input order.
        entries.sort_by(|a, b| b.key().total_cmp(&a.key()).then(a.seq.cmp(&b.seq)));
        for e in &mut entries {
            e.terms = (0..n)
                .map(|l| {
                    if e.flags.contains(&l) {
                        explain(&e.text, l)
                    } else {
                        Vec::new()
                    }
                })
                .collect();
        }
        Report {
            meta,
            labels: self.labels,
            histograms: self.histograms,
            counts,
            entries,
            rejects: self.rejects,
            include_all: self.options.include_all,
            limit: self.options.limit,
        }
    }
}

/// A finished report; format it with `{}` to get the HTML page.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// What the report covers.
    pub meta: ReportMeta,
    /// The labels, in model order, with the thresholds in force.
    pub labels: Vec<ReportLabel>,
    /// Per label, the scores of every scored comment.
    pub histograms: Vec<Histogram>,
    /// Counts over the whole input.
    pub counts: Counts,
    /// The listed comments, highest score first.
    pub entries: Vec<ReportEntry>,
    /// Descriptions of the first rejected records.
    pub rejects: Vec<String>,
    /// Whether unflagged comments are listed too.
    pub include_all: bool,
    /// The per-label cap on listed comments (0: none).
    pub limit: usize,
}

/// Writes `s` HTML-escaped (safe in text and in quoted attribute values).
/// Control characters other than tab and line breaks (NUL, ESC, the C1
/// controls), which HTML does not allow in text, become U+FFFD.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

/// True for a character [`Escaped`] replaces with U+FFFD.
fn is_unwanted_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) =
            rest.find(|c: char| matches!(c, '&' | '<' | '>' | '"' | '\'') || is_unwanted_control(c))
        {
            f.write_str(&rest[..i])?;
            let c = rest[i..].chars().next().unwrap_or('\0');
            f.write_str(match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                _ => "\u{FFFD}",
            })?;
            rest = &rest[i + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// `s` with `& < > " '` replaced by entities (and control characters by
/// U+FFFD, see [`Escaped`]).
pub fn escape_html(s: &str) -> String {
    Escaped(s).to_string()
}

/// The largest char boundary of `s` at or before `i` (clamped to `s.len()`).
fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest char boundary of `s` at or after `i` (clamped to `s.len()`).
fn ceil_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// A highlighted stretch of a comment: byte range, the labels whose terms
/// cover it, and those terms as `(label, term)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// Start byte (on a char boundary).
    pub start: usize,
    /// End byte (on a char boundary, greater than `start`).
    pub end: usize,
    /// Labels whose terms cover this stretch, ascending.
    pub labels: Vec<usize>,
    /// The terms, as `(label, term)`, without repeats.
    pub terms: Vec<(usize, String)>,
}

/// Turns per-label contributions into non-overlapping marks of `text`.
///
/// Spans are clamped to `text`, widened to char boundaries, empty ones are
/// dropped, and overlapping ones are merged (spans that merely touch stay
/// apart). `terms[l]` are label `l`'s contributions.
pub fn marks(text: &str, terms: &[Vec<Contribution>]) -> Vec<Mark> {
    let mut spans: Vec<(usize, usize, usize, &str)> = Vec::new();
    for (label, contributions) in terms.iter().enumerate() {
        for c in contributions {
            for &(s, e) in &c.spans {
                if s >= e || s >= text.len() {
                    continue;
                }
                let start = floor_boundary(text, s);
                let end = ceil_boundary(text, e);
                if start < end {
                    spans.push((start, end, label, &c.term));
                }
            }
        }
    }
    spans.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut out: Vec<Mark> = Vec::new();
    for (start, end, label, term) in spans {
        match out.last_mut() {
            Some(m) if start < m.end => {
                m.end = m.end.max(end);
                if !m.labels.contains(&label) {
                    m.labels.push(label);
                    m.labels.sort_unstable();
                }
                if !m.terms.iter().any(|(l, t)| *l == label && t == term) {
                    m.terms.push((label, term.to_string()));
                }
            }
            _ => out.push(Mark {
                start,
                end,
                labels: vec![label],
                terms: vec![(label, term.to_string())],
            }),
        }
    }
    out
}

/// `text` HTML-escaped, with `<mark>` elements around the terms in `terms`
/// (see [`marks`]); `labels` name the labels in titles. HTML entities in the
/// comment are shown decoded, as the analyzer read them (`&amp;` as `&`;
/// spans never split an entity). Only the first `max_bytes` bytes are
/// shown, followed by a note when more was cut.
pub fn highlight(
    text: &str,
    terms: &[Vec<Contribution>],
    labels: &[ReportLabel],
    max_bytes: usize,
) -> String {
    let shown_end = floor_boundary(text, max_bytes);
    let shown = &text[..shown_end];
    let mut out = String::with_capacity(shown.len() + 64);
    let mut at = 0;
    for m in marks(shown, terms) {
        let _ = write!(out, "{}", Escaped(&decode_entities(&shown[at..m.start])));
        let classes: Vec<String> = m.labels.iter().map(|l| format!("lab-{l}")).collect();
        let multi = if m.labels.len() > 1 { " multi" } else { "" };
        let mut title = String::new();
        for &l in &m.labels {
            let name = labels.get(l).map_or("?", |x| x.name.as_str());
            let ts: Vec<String> = m
                .terms
                .iter()
                .filter(|(tl, _)| *tl == l)
                .map(|(_, t)| decode_entities(t).into_owned())
                .collect();
            if !title.is_empty() {
                title.push_str("; ");
            }
            let _ = write!(title, "{name}: {}", ts.join(", "));
        }
        let _ = write!(
            out,
            "<mark class=\"{}{multi}\" title=\"{}\">{}</mark>",
            classes.join(" "),
            Escaped(&title),
            Escaped(&decode_entities(&shown[m.start..m.end]))
        );
        at = m.end;
    }
    let _ = write!(out, "{}", Escaped(&decode_entities(&shown[at..])));
    if shown_end < text.len() {
        let _ = write!(
            out,
            "<span class=\"cut\">… [{} more bytes not shown]</span>",
            group((text.len() - shown_end) as u64)
        );
    }
    out
}

/// `n` with thousands separators.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A short count for tight spaces: 950, 9.5k, 12k, 1.2M.
fn compact(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=9_999 => format!("{:.1}k", n as f64 / 1e3),
        10_000..=999_999 => format!("{}k", n / 1_000),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// `part / whole` as a percentage string.
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".to_string()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

/// An inline SVG histogram of one label's scores, with its threshold drawn
/// as a dashed line and the flagged side shaded.
pub fn histogram_svg(label: usize, name: &str, hist: &Histogram, threshold: f32) -> String {
    const W: f64 = 420.0;
    const H: f64 = 176.0;
    const LEFT: f64 = 14.0;
    const RIGHT: f64 = 406.0;
    const TOP: f64 = 36.0;
    const BASE: f64 = 146.0;
    let counts = hist.counts();
    let n = counts.len();
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let bw = (RIGHT - LEFT) / n as f64;
    let x_of = |p: f64| LEFT + p.clamp(0.0, 1.0) * (RIGHT - LEFT);
    let t = f64::from(threshold);
    let tx = x_of(t);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"hist lab-{label}\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"Histogram of {name} scores of {total} comments, threshold {t:.3}\">\
         <title>{name}: scores of {total} comments in {n} bins; threshold {t:.3}</title>\
         <rect class=\"zone\" x=\"{tx:.1}\" y=\"{TOP}\" width=\"{zw:.1}\" height=\"{zh}\"/>",
        name = Escaped(name),
        total = group(hist.total()),
        zw = (RIGHT - tx).max(0.0),
        zh = BASE - TOP,
    );
    for (i, &c) in counts.iter().enumerate() {
        let lo = i as f64 / n as f64;
        let hi = (i + 1) as f64 / n as f64;
        let h = if c == 0 {
            0.0
        } else {
            ((BASE - TOP) * c as f64 / max as f64).max(1.5)
        };
        let x = LEFT + i as f64 * bw;
        // Compared in f32, like the flags: a bin starting at the threshold
        // holds only flagged comments.
        let class = if i as f32 / n as f32 >= threshold {
            "bar over"
        } else {
            "bar"
        };
        let _ = write!(
            s,
            "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\">\
             <title>{lo:.2}–{hi:.2}: {c} comments</title></rect>",
            y = BASE - h,
            w = (bw - 1.5).max(0.5),
            c = group(c),
        );
        if c > 0 {
            let _ = write!(
                s,
                "<text class=\"count\" x=\"{cx:.1}\" y=\"{cy:.1}\">{}</text>",
                compact(c),
                cx = x + bw / 2.0 - 0.75,
                cy = BASE - h - 3.0,
            );
        }
    }
    let _ = write!(
        s,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{BASE}\" x2=\"{RIGHT}\" y2=\"{BASE}\"/>"
    );
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let x = x_of(tick);
        let _ = write!(
            s,
            "<line class=\"tick\" x1=\"{x:.1}\" y1=\"{BASE}\" x2=\"{x:.1}\" y2=\"{y2}\"/>\
             <text class=\"tl\" x=\"{x:.1}\" y=\"{ty}\">{tick}</text>",
            y2 = BASE + 4.0,
            ty = BASE + 16.0,
        );
    }
    let anchor = if t > 0.75 { "end" } else { "start" };
    let lx = if t > 0.75 { tx - 4.0 } else { tx + 4.0 };
    let _ = write!(
        s,
        "<line class=\"thr\" x1=\"{tx:.1}\" y1=\"{y1}\" x2=\"{tx:.1}\" y2=\"{BASE}\"/>\
         <text class=\"thl\" x=\"{lx:.1}\" y=\"{ly}\" text-anchor=\"{anchor}\">threshold {t:.3}</text>\
         <text class=\"xl\" x=\"{RIGHT}\" y=\"{xy}\">score →</text></svg>",
        y1 = TOP - 18.0,
        ly = TOP - 22.0,
        xy = H - 2.0,
    );
    s
}

const CSS: &str = r#"
:root{--ink:#1f2328;--muted:#5b636e;--line:#d9dee4;--soft:#f5f7f9;--card:#fff}
*{box-sizing:border-box}
html{background:var(--soft)}
body{margin:0 auto;max-width:1160px;padding:28px 28px 48px;color:var(--ink);
 font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Liberation Sans",Arial,sans-serif}
h1{font-size:26px;margin:0 0 4px;letter-spacing:-.01em}
h2{font-size:18px;margin:0 0 12px}
.sub{color:var(--muted);margin:0 0 20px}
.sub b{color:var(--ink);font-weight:600}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin:0 0 18px}
.stats{display:flex;flex-wrap:wrap;gap:10px 28px;margin:0;padding:0}
.stats div{min-width:120px}
.stats dt{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.05em}
.stats dd{margin:0;font-size:22px;font-weight:650;font-variant-numeric:tabular-nums}
.stats dd small{font-size:13px;font-weight:400;color:var(--muted)}
.stats div[class^=lab-] dt{color:var(--c);font-weight:650}
.model{margin:14px 0 0;color:var(--muted);font-size:13px}
.labels{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:18px}
.label{border:1px solid var(--line);border-top:4px solid var(--c);border-radius:8px;padding:12px 14px 8px}
.label h3{margin:0;font-size:17px;color:var(--c)}
.label .def{margin:2px 0 8px;color:var(--muted);font-size:13px}
.label .nums{margin:0 0 4px;font-size:14px;font-variant-numeric:tabular-nums}
.label .nums b{font-weight:650}
.hist{width:100%;height:auto;display:block}
.hist .bar{fill:#a3acb8}
.hist .bar.over{fill:var(--c)}
.hist .zone{fill:var(--bg);opacity:.7}
.hist .axis,.hist .tick{stroke:#6b7380;stroke-width:1}
.hist .thr{stroke:var(--ink);stroke-width:1.6;stroke-dasharray:5 3}
.hist text{font:10px system-ui,sans-serif;fill:var(--muted)}
.hist .count{text-anchor:middle;font-size:8.5px}
.hist .tl{text-anchor:middle}
.hist .thl{fill:var(--ink);font-weight:600;font-size:11px}
.hist .xl{text-anchor:end;font-size:9px}
.flt{position:absolute;opacity:0;pointer-events:none}
.filters{display:flex;flex-wrap:wrap;align-items:center;gap:8px;margin:0 0 10px}
.filters span{color:var(--muted);font-size:13px;margin-right:2px}
.filters label{cursor:pointer;border:1px solid var(--line);border-radius:999px;padding:3px 12px;font-size:14px;background:var(--card);user-select:none}
.filters label:hover{border-color:#9aa3ad}
.note{color:var(--muted);font-size:13px;margin:0 0 12px}
.list{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:10px}
.comment{border:1px solid var(--line);border-left:4px solid #a3acb8;border-radius:8px;padding:10px 14px;background:var(--card);content-visibility:auto;contain-intrinsic-size:auto 110px}
.head{display:flex;flex-wrap:wrap;align-items:center;gap:6px 14px;font-size:13px;color:var(--muted)}
.cid{font-weight:650;color:var(--ink);font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace}
.chip{display:inline-block;border-radius:4px;padding:0 7px;font-size:12px;font-weight:650;color:var(--c);background:var(--bg);border:1px solid var(--c)}
.chip.none{color:var(--muted);background:var(--soft);border-color:var(--line);font-weight:400}
.scores{display:flex;gap:14px;margin-left:auto}
.score{display:inline-flex;align-items:center;gap:6px;font-variant-numeric:tabular-nums}
.score.hit{color:var(--ink);font-weight:650}
.meter{position:relative;display:inline-block;width:64px;height:7px;border-radius:4px;background:#e6e9ed;overflow:hidden}
.meter i{position:absolute;left:0;top:0;bottom:0;background:#a3acb8}
.score.hit .meter i{background:var(--c)}
.meter b{position:absolute;top:-1px;bottom:-1px;width:2px;background:var(--ink)}
.text{margin:8px 0 4px;white-space:pre-wrap;overflow-wrap:anywhere;font-size:15.5px;line-height:1.55;unicode-bidi:isolate}
mark{color:inherit;background:var(--mk);border-radius:2px;padding:0 1px;text-decoration:underline var(--c) 2px;text-decoration-style:var(--us);text-underline-offset:3px}
mark.multi{text-decoration-style:double;text-decoration-color:var(--ink)}
.cut{color:var(--muted);font-style:italic}
.why{margin:2px 0 0;font-size:13px;color:var(--muted)}
.why b{color:var(--c);font-weight:650}
.why q{quotes:none;color:var(--ink)}
.trunc{color:#8a5a00}
details{font-size:13px}
details li{font-family:ui-monospace,monospace;overflow-wrap:anywhere}
footer{color:var(--muted);font-size:12.5px;margin-top:18px}
@media print{.filters{display:none}.comment{break-inside:avoid}html{background:#fff}}
"#;

impl Report {
    /// CSS for each label: colours, and the filter rules that show only that
    /// label's comments, ordered by that label's score.
    fn label_css(&self, out: &mut impl fmt::Write) -> fmt::Result {
        for i in 0..self.labels.len() {
            let (c, bg, mk, us) = PALETTE[i % PALETTE.len()];
            writeln!(
                out,
                ".lab-{i}{{--c:{c};--bg:{bg};--mk:{mk};--us:{us}}}\
                 #f-{i}:checked~.list>li:not(.flag-{i}){{display:none}}\
                 .note-{i}{{display:none}}#f-{i}:checked~.note-{i}{{display:block}}\
                 #f-{i}:checked~.note-all{{display:none}}\
                 #f-{i}:checked~.list>li{{order:var(--r{i})}}\
                 #f-{i}:checked~.filters label[for=f-{i}]{{background:var(--c);color:#fff;border-color:var(--c)}}\
                 #f-{i}:focus-visible~.filters label[for=f-{i}]{{outline:2px solid var(--c);outline-offset:2px}}\
                 .comment.top-{i}{{border-left-color:{c}}}"
            )?;
        }
        writeln!(
            out,
            "#f-all:checked~.filters label[for=f-all]{{background:var(--ink);color:#fff;border-color:var(--ink)}}\
             #f-all:focus-visible~.filters label[for=f-all]{{outline:2px solid var(--ink);outline-offset:2px}}"
        )
    }

    fn write_header(&self, f: &mut impl fmt::Write) -> fmt::Result {
        let c = &self.counts;
        write!(
            f,
            "<header><h1>Moderation report</h1>\
             <p class=\"sub\">Input <b>{}</b> · made by {}</p></header>",
            Escaped(&self.meta.input),
            Escaped(&self.meta.generator),
        )?;
        write!(
            f,
            "<section class=\"summary\" aria-label=\"Summary\"><dl class=\"stats\">\
             <div><dt>Records read</dt><dd id=\"n-read\">{}</dd></div>\
             <div><dt>Scored</dt><dd id=\"n-scored\">{}</dd></div>\
             <div><dt>Rejected</dt><dd id=\"n-rejected\">{}</dd></div>\
             <div><dt>Flagged</dt><dd id=\"n-flagged\">{} <small>{}</small></dd></div>",
            group(c.read),
            group(c.scored),
            group(c.rejected),
            group(c.flagged_any),
            percent(c.flagged_any, c.scored),
        )?;
        for (i, l) in self.labels.iter().enumerate() {
            let n = c.flagged.get(i).copied().unwrap_or(0);
            write!(
                f,
                "<div class=\"lab-{i}\"><dt>{}</dt><dd>{} <small>≥ {:.3}</small></dd></div>",
                Escaped(&l.name),
                group(n),
                l.threshold
            )?;
        }
        write!(
            f,
            "</dl><p class=\"model\">Model: {}",
            Escaped(&self.meta.model)
        )?;
        if !self.meta.model_details.is_empty() {
            write!(f, " — {}", Escaped(&self.meta.model_details))?;
        }
        write!(
            f,
            ". A comment is flagged for a label when its calibrated probability \
             reaches the label's threshold."
        )?;
        if c.truncated > 0 {
            write!(
                f,
                " <span class=\"trunc\">{} comments were longer than the analysis limit; \
                 only their start was scored.</span>",
                group(c.truncated)
            )?;
        }
        f.write_str("</p>")?;
        if c.rejected > 0 {
            write!(
                f,
                "<details class=\"rejects\"><summary>{} malformed records were skipped \
                 (--skip-bad)</summary><ul>",
                group(c.rejected)
            )?;
            for r in &self.rejects {
                write!(f, "<li>{}</li>", Escaped(r))?;
            }
            let unlisted = c.rejected.saturating_sub(self.rejects.len() as u64);
            if unlisted > 0 {
                write!(f, "<li>… and {} more</li>", group(unlisted))?;
            }
            f.write_str("</ul></details>")?;
        }
        f.write_str("</section>")
    }

    fn write_labels(&self, f: &mut impl fmt::Write) -> fmt::Result {
        f.write_str(
            "<section aria-labelledby=\"h-dist\"><h2 id=\"h-dist\">Score distribution \
             per label</h2><div class=\"labels\">",
        )?;
        for (i, l) in self.labels.iter().enumerate() {
            let n = self.counts.flagged.get(i).copied().unwrap_or(0);
            let source = if (l.threshold - l.model_threshold).abs() > f32::EPSILON {
                format!(
                    "set by --threshold; the model's is {:.3}",
                    l.model_threshold
                )
            } else {
                "the model's own".to_string()
            };
            write!(
                f,
                "<div class=\"label lab-{i}\" id=\"label-{i}\"><h3>{name}</h3>\
                 <p class=\"def\">{def}</p>\
                 <p class=\"nums\">Threshold <b class=\"threshold\">{t:.3}</b> ({source}) · \
                 flagged <b>{flagged}</b> of {scored} ({pct})</p>{svg}</div>",
                name = Escaped(&l.name),
                def = Escaped(&l.definition),
                t = l.threshold,
                flagged = group(n),
                scored = group(self.counts.scored),
                pct = percent(n, self.counts.scored),
                svg = self
                    .histograms
                    .get(i)
                    .map(|h| histogram_svg(i, &l.name, h, l.threshold))
                    .unwrap_or_default(),
            )?;
        }
        f.write_str("</div></section>")
    }

    fn write_entries(&self, f: &mut impl fmt::Write) -> fmt::Result {
        // Rank of each entry by each label's score, for the CSS `order`.
        let mut ranks = vec![Vec::with_capacity(self.labels.len()); self.entries.len()];
        for l in 0..self.labels.len() {
            let mut idx: Vec<usize> = (0..self.entries.len()).collect();
            let score = |i: usize| self.entries[i].scores.get(l).copied().unwrap_or(0.0);
            idx.sort_by(|&a, &b| score(b).total_cmp(&score(a)).then(a.cmp(&b)));
            let mut by_entry = vec![0usize; self.entries.len()];
            for (r, i) in idx.into_iter().enumerate() {
                by_entry[i] = r;
            }
            for (entry_ranks, r) in ranks.iter_mut().zip(by_entry) {
                entry_ranks.push(r);
            }
        }
        let heading = if self.include_all {
            "Comments"
        } else {
            "Flagged comments"
        };
        write!(
            f,
            "<section aria-labelledby=\"h-list\"><h2 id=\"h-list\">{heading}</h2>\
             <input class=\"flt\" type=\"radio\" name=\"filter\" id=\"f-all\" checked \
             aria-label=\"Show all listed comments\">"
        )?;
        for (i, l) in self.labels.iter().enumerate() {
            write!(
                f,
                "<input class=\"flt\" type=\"radio\" name=\"filter\" id=\"f-{i}\" \
                 aria-label=\"Show only comments flagged {}\">",
                Escaped(&l.name)
            )?;
        }
        write!(
            f,
            "<div class=\"filters\"><span>Show:</span><label for=\"f-all\">All ({})</label>",
            group(self.entries.len() as u64)
        )?;
        let flagged = |i: usize| self.counts.flagged.get(i).copied().unwrap_or(0);
        let listed = |i: usize| self.counts.listed.get(i).copied().unwrap_or(0);
        for (i, l) in self.labels.iter().enumerate() {
            let count = if listed(i) < flagged(i) {
                format!("{} of {}", group(listed(i)), group(flagged(i)))
            } else {
                group(listed(i))
            };
            write!(
                f,
                "<label for=\"f-{i}\" class=\"lab-{i}\">{} ({count})</label>",
                Escaped(&l.name),
            )?;
        }
        f.write_str("</div>")?;
        let what = if self.include_all {
            "comments"
        } else {
            "flagged comments"
        };
        let how_to_see = format!(
            "the list keeps the {} highest-scoring comments of each label (--limit); \
             run with --limit 0 to list them all. The histograms and counts above include them.",
            group(self.limit as u64)
        );
        // One note per filter: the one for the chosen filter is shown (CSS).
        let omitted = self
            .counts
            .eligible
            .saturating_sub(self.entries.len() as u64);
        write!(
            f,
            "<p class=\"note note-all\" id=\"listed\">Showing <b>{}</b> of {} {what}, highest \
             score first (a label's filter orders by that label's score).",
            group(self.entries.len() as u64),
            group(self.counts.eligible),
        )?;
        if omitted > 0 {
            write!(
                f,
                " <b id=\"omitted\">{} lower-scoring {what} are not listed</b>: {how_to_see}",
                group(omitted)
            )?;
        }
        f.write_str("</p>")?;
        for (i, l) in self.labels.iter().enumerate() {
            write!(
                f,
                "<p class=\"note note-{i}\" id=\"listed-{i}\">Showing <b>{}</b> of {} comments \
                 flagged {name}, highest {name} score first.",
                group(listed(i)),
                group(flagged(i)),
                name = Escaped(&l.name),
            )?;
            let left_out = flagged(i).saturating_sub(listed(i));
            if left_out > 0 {
                write!(
                    f,
                    " <b id=\"omitted-{i}\">{} lower-scoring ones are not listed</b>: {how_to_see}",
                    group(left_out)
                )?;
            }
            f.write_str("</p>")?;
        }
        f.write_str(
            "<p class=\"note\">Highlighted: the terms that raised each flagged label's score \
             most; hover a highlight for its features.</p><ol class=\"list\">",
        )?;
        if self.entries.is_empty() {
            write!(f, "<li class=\"empty\">No {what}.</li>")?;
        }
        for (k, e) in self.entries.iter().enumerate() {
            self.write_entry(f, e, &ranks[k])?;
        }
        f.write_str("</ol></section>")
    }

    fn write_entry(
        &self,
        f: &mut impl fmt::Write,
        e: &ReportEntry,
        ranks: &[usize],
    ) -> fmt::Result {
        let mut classes = String::from("comment");
        for &l in &e.flags {
            let _ = write!(classes, " flag-{l}");
        }
        // The left border takes the colour of the highest-scoring flagged label.
        if let Some(&top) = e.flags.iter().max_by(|&&a, &&b| {
            let s = |i: usize| e.scores.get(i).copied().unwrap_or(0.0);
            s(a).total_cmp(&s(b)).then(b.cmp(&a))
        }) {
            let _ = write!(classes, " top-{top}");
        }
        let style: Vec<String> = ranks
            .iter()
            .enumerate()
            .map(|(l, r)| format!("--r{l}:{r}"))
            .collect();
        write!(
            f,
            "<li class=\"{classes}\" data-id=\"{id}\" style=\"{style}\"><div class=\"head\">\
             <span class=\"cid\"><bdi>{id}</bdi></span><span>line {line}</span>",
            id = Escaped(&e.id),
            style = style.join(";"),
            line = e.line,
        )?;
        if e.flags.is_empty() {
            f.write_str("<span class=\"chip none\">not flagged</span>")?;
        }
        for &l in &e.flags {
            if let Some(label) = self.labels.get(l) {
                write!(
                    f,
                    "<span class=\"chip lab-{l}\">{}</span>",
                    Escaped(&label.name)
                )?;
            }
        }
        if e.truncated {
            f.write_str("<span class=\"trunc\">only the start was scored</span>")?;
        }
        f.write_str("<span class=\"scores\">")?;
        for (l, label) in self.labels.iter().enumerate() {
            let p = e.scores.get(l).copied().unwrap_or(0.0);
            let hit = if e.flags.contains(&l) { " hit" } else { "" };
            write!(
                f,
                "<span class=\"score lab-{l}{hit}\" title=\"{name} {p:.4} (threshold {t:.3})\">\
                 {name} <span class=\"meter\"><i style=\"width:{w:.1}%\"></i>\
                 <b style=\"left:calc({tw:.1}% - 1px)\"></b></span>{p:.3}</span>",
                name = Escaped(&label.name),
                t = label.threshold,
                w = 100.0 * p.clamp(0.0, 1.0),
                tw = 100.0 * label.threshold.clamp(0.0, 1.0),
            )?;
        }
        write!(
            f,
            "</span></div><p class=\"text\" dir=\"auto\">{}</p>",
            highlight(&e.text, &e.terms, &self.labels, MAX_SHOWN_BYTES)
        )?;
        let mut why = Vec::new();
        for &l in &e.flags {
            let (Some(label), Some(terms)) = (self.labels.get(l), e.terms.get(l)) else {
                continue;
            };
            if terms.is_empty() {
                continue;
            }
            // The terms as `score --explain` lists them.
            let items: Vec<String> = terms
                .iter()
                .map(|t| {
                    let (title, by) = match t.reader {
                        Stage::Words => ("the word model's weight", ""),
                        Stage::Encoder => (
                            "the sentence encoder: how much the score falls without this word",
                            " (sentence)",
                        ),
                    };
                    format!(
                        "<q title=\"{title}\">{}</q> +{:.2}{by}",
                        Escaped(&decode_entities(&t.term)),
                        t.weight
                    )
                })
                .collect();
            why.push(format!(
                "<span class=\"lab-{l}\"><b>{}</b>: {}</span>",
                Escaped(&label.name),
                items.join(", ")
            ));
        }
        if !why.is_empty() {
            write!(f, "<p class=\"why\">{}</p>", why.join(" · "))?;
        }
        f.write_str("</li>")
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
             style-src 'unsafe-inline'; img-src data:\">\
             <meta name=\"generator\" content=\"{}\">\
             <title>Moderation report: {}</title><style>{CSS}",
            Escaped(&self.meta.generator),
            Escaped(&self.meta.input),
        )?;
        self.label_css(f)?;
        f.write_str("</style></head><body>\n")?;
        self.write_header(f)?;
        self.write_labels(f)?;
        self.write_entries(f)?;
        let legend: Vec<String> = self
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                format!(
                    "{} highlights are underlined {}",
                    Escaped(&l.name),
                    PALETTE[i % PALETTE.len()].3
                )
            })
            .collect();
        write!(
            f,
            "\n<footer>Scores are calibrated probabilities from a bag-of-words model: \
             they rank comments for human review and make typical mistakes (idiom, \
             quotation, veiled threats). {}; terms of several labels are underlined double. \
             This page is self-contained and loads nothing.</footer></body></html>\n",
            legend.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<ReportLabel> {
        ["abusive", "violent"]
            .iter()
            .zip([0.4f32, 0.2])
            .map(|(n, t)| ReportLabel {
                name: n.to_string(),
                definition: format!("{n} <def>"),
                threshold: t,
                model_threshold: t,
            })
            .collect()
    }

    fn contribution(term: &str, spans: &[(usize, usize)]) -> Contribution {
        Contribution {
            term: term.to_string(),
            weight: 0.5,
            spans: spans.to_vec(),
            reader: Stage::Words,
        }
    }

    fn meta() -> ReportMeta {
        ReportMeta {
            input: "in.csv".into(),
            model: "test model".into(),
            model_details: String::new(),
            generator: "moderate test".into(),
        }
    }

    #[test]
    fn escapes_markup_from_comments_ids_and_labels() {
        assert_eq!(
            escape_html(r#"<script>alert("x&y")</script>'"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"
        );
        assert_eq!(escape_html("a\0b"), "a\u{FFFD}b");
        assert_eq!(
            escape_html("x\x1b[31mred\x1b]0;title\x07\u{9b}\tend\n"),
            "x\u{FFFD}[31mred\u{FFFD}]0;title\u{FFFD}\u{FFFD}\tend\n"
        );
        let mut b = ReportBuilder::new(labels(), ReportOptions::default());
        let evil = "<script>alert(1)</script> <img src=x onerror=alert(2)>";
        b.add_scored("\"><script>".into(), 2, evil.into(), &[0.9, 0.1], false);
        b.add_rejected("x.csv:3: bad <b>".into());
        let html = b
            .finish(meta(), |_, _| vec![contribution("script", &[(1, 7)])])
            .to_string();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"));
        assert!(!html.contains("<b>\""));
        assert!(html.contains(
            "&lt;<mark class=\"lab-0\" title=\"abusive: script\">script</mark>&gt;alert(1)"
        ));
        assert!(html.contains("data-id=\"&quot;&gt;&lt;script&gt;\""));
        assert!(html.contains("x.csv:3: bad &lt;b&gt;"));
        assert!(html.contains("abusive &lt;def&gt;"));
    }

    #[test]
    fn highlight_spans_snap_to_char_boundaries_in_non_ascii_text() {
        // "Спасибо" is 14 bytes, "👍" 4 bytes.
        let text = "Спасибо idiot 👍 idiots";
        let idiot = text.find("idiot").unwrap();
        let thumb = text.find('👍').unwrap();
        let terms = vec![
            vec![
                // Mid-character spans: widened to whole characters.
                contribution("спас", &[(1, 5)]),
                contribution("idiot", &[(idiot, idiot + 5), (thumb + 5, thumb + 11)]),
                // Overlaps "idiot": merged into one mark.
                contribution("_idi", &[(idiot, idiot + 3)]),
                contribution("emoji", &[(thumb + 1, thumb + 2)]),
                // Out of range and empty spans are dropped.
                contribution("far", &[(500, 600), (3, 3)]),
            ],
            vec![contribution("idiot", &[(idiot + 2, idiot + 5)])],
        ];
        let ms = marks(text, &terms);
        for m in &ms {
            assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
            assert!(m.start < m.end);
        }
        for w in ms.windows(2) {
            assert!(w[0].end <= w[1].start, "marks overlap: {ms:?}");
        }
        let covered: Vec<&str> = ms.iter().map(|m| &text[m.start..m.end]).collect();
        assert_eq!(covered, ["Спа", "idiot", "👍", "idiots"]);
        assert_eq!(ms[1].labels, [0, 1]);
        assert_eq!(
            ms[1].terms,
            [
                (0, "idiot".to_string()),
                (0, "_idi".to_string()),
                (1, "idiot".to_string())
            ]
        );
        let html = highlight(text, &terms, &labels(), MAX_SHOWN_BYTES);
        assert!(html.starts_with("<mark class=\"lab-0\" title=\"abusive: спас\">Спа</mark>сибо "));
        assert!(html.contains(
            "<mark class=\"lab-0 lab-1 multi\" title=\"abusive: idiot, _idi; violent: idiot\">idiot</mark>"
        ));
        assert!(html.contains("<mark class=\"lab-0\" title=\"abusive: emoji\">👍</mark>"));
        assert!(html.ends_with("<mark class=\"lab-0\" title=\"abusive: idiot\">idiots</mark>"));
        // Cutting the shown text never splits a character.
        let cut = highlight(text, &terms, &labels(), 3);
        assert!(cut.starts_with("<mark class=\"lab-0\" title=\"abusive: спас\">С</mark>"));
        assert!(cut.contains("more bytes not shown"));
    }

    #[test]
    fn histogram_bins_count_every_score() {
        let mut h = Histogram::new(20);
        assert_eq!(h.counts().len(), 20);
        for p in [0.0, 0.049, 0.05, 0.5, 0.999, 1.0, 1.5, -0.2, f32::NAN] {
            h.add(p);
        }
        assert_eq!(h.total(), 9);
        let c = h.counts();
        assert_eq!(c[0], 4, "0, 0.049, -0.2 clamped, NaN");
        assert_eq!(c[1], 1);
        assert_eq!(c[10], 1);
        assert_eq!(c[19], 3, "0.999, 1.0 and 1.5 clamped");
        assert_eq!(Histogram::new(0).counts().len(), 1);

        let svg = histogram_svg(1, "violent", &h, 0.2);
        assert_eq!(svg.matches("<rect class=\"bar").count(), 20);
        assert_eq!(svg.matches("<rect class=\"bar over\"").count(), 16);
        assert!(svg.contains("class=\"thr\" x1=\"92.4\""));
        assert!(svg.contains("threshold 0.200"));
    }

    #[test]
    fn builder_counts_everything_and_caps_the_list() {
        let opts = ReportOptions {
            limit: 3,
            ..ReportOptions::default()
        };
        let mut b = ReportBuilder::new(labels(), opts);
        let scores = [0.1, 0.5, 0.9, 0.45, 0.95, 0.3, 0.9];
        for (i, &p) in scores.iter().enumerate() {
            b.add_scored(
                format!("c{i}"),
                i as u64 + 2,
                "text".into(),
                &[p, 0.0],
                false,
            );
        }
        b.add_rejected("bad".into());
        let r = b.finish(meta(), |_, _| Vec::new());
        assert_eq!(r.counts.read, 8);
        assert_eq!(r.counts.scored, 7);
        assert_eq!(r.counts.rejected, 1);
        assert_eq!(r.counts.flagged, [5, 0]);
        assert_eq!(r.counts.flagged_any, 5);
        assert_eq!(r.counts.eligible, 5);
        // The best three, highest first; equal scores keep input order.
        let ids: Vec<&str> = r.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["c4", "c2", "c6"]);
        let html = r.to_string();
        assert_eq!(html.matches("<li class=\"comment").count(), 3);
        assert!(
            html.contains("<b id=\"omitted\">2 lower-scoring flagged comments are not listed</b>")
        );
        assert!(html.contains("--limit 0 to list them all"));
        assert!(html.contains("<dd id=\"n-read\">8</dd>"));

        // --all lists unflagged comments too; limit 0 lists everything.
        let opts = ReportOptions {
            include_all: true,
            limit: 0,
            ..ReportOptions::default()
        };
        let mut b = ReportBuilder::new(labels(), opts);
        for (i, &p) in scores.iter().enumerate() {
            b.add_scored(format!("c{i}"), 1, "t".into(), &[p, 0.0], false);
        }
        let r = b.finish(meta(), |_, _| Vec::new());
        assert_eq!(r.entries.len(), 7);
        assert!(!r.to_string().contains("omitted"));
    }

    #[test]
    fn every_label_keeps_its_share_of_the_list_under_the_limit() {
        // 20 abusive comments at 0.99 (one also violent), then 4 violent
        // ones that score lower than every abusive one: a cap over all
        // labels would list abusive comments only.
        let opts = ReportOptions {
            limit: 5,
            ..ReportOptions::default()
        };
        let mut b = ReportBuilder::new(labels(), opts);
        for i in 0..20 {
            let violent = if i == 7 { 0.3 } else { 0.0 };
            b.add_scored(format!("a{i}"), 1, "t".into(), &[0.99, violent], false);
        }
        for i in 0..4 {
            b.add_scored(
                format!("v{i}"),
                1,
                "t".into(),
                &[0.1, 0.5 - 0.01 * i as f32],
                false,
            );
        }
        let r = b.finish(meta(), |_, _| Vec::new());
        assert_eq!(r.counts.flagged, [20, 5]);
        // Abusive keeps its best 5 (ties in input order); violent all 5 of
        // its own, including a7 whose abusive score did not get it in.
        let ids: Vec<&str> = r.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            ["a0", "a1", "a2", "a3", "a4", "a7", "v0", "v1", "v2", "v3"]
        );
        assert_eq!(r.counts.listed, [6, 5]);
        let html = r.to_string();
        assert!(html.contains("<label for=\"f-0\" class=\"lab-0\">abusive (6 of 20)</label>"));
        assert!(html.contains("<label for=\"f-1\" class=\"lab-1\">violent (5)</label>"));
        // Each filter has its own note, shown with it.
        assert!(
            html.contains("Showing <b>10</b> of 24 flagged comments"),
            "{html}"
        );
        assert!(html.contains(
            "Showing <b>6</b> of 20 comments flagged abusive, highest abusive score first. \
             <b id=\"omitted-0\">14 lower-scoring ones are not listed</b>"
        ));
        assert!(html.contains("Showing <b>5</b> of 5 comments flagged violent"));
        assert!(!html.contains("omitted-1"));
        assert!(html.contains("#f-1:checked~.note-1{display:block}"));
        assert!(html.contains("#f-1:checked~.note-all{display:none}"));
    }

    #[test]
    fn a_displaced_entry_is_dropped_only_when_no_label_keeps_it() {
        let opts = ReportOptions {
            limit: 1,
            ..ReportOptions::default()
        };
        let mut b = ReportBuilder::new(labels(), opts);
        b.add_scored("both".into(), 1, "t".into(), &[0.5, 0.9], false);
        // Better abusive: displaces `both` from abusive, not from violent.
        b.add_scored("abusive".into(), 1, "t".into(), &[0.8, 0.0], false);
        // Better violent: now `both` is held by no label.
        b.add_scored("violent".into(), 1, "t".into(), &[0.0, 0.95], false);
        let r = b.finish(meta(), |_, _| Vec::new());
        let ids: Vec<&str> = r.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["violent", "abusive"]);
    }

    #[test]
    fn helpers_format_numbers() {
        assert_eq!(group(0u64), "0");
        assert_eq!(group(1234567u64), "1,234,567");
        assert_eq!(compact(999), "999");
        assert_eq!(compact(1500), "1.5k");
        assert_eq!(compact(25_000), "25k");
        assert_eq!(compact(2_500_000), "2.5M");
        assert_eq!(percent(1, 0), "–");
        assert_eq!(percent(1, 4), "25.0%");
    }
}

//! Writers for scored comments (JSON lines, CSV, a plain-text table),
//! shared by the command line and the server.

pub mod safe_text;

use crate::model::{Contribution, Model, Stage};
use crate::text::normalize::decode_entities;
use safe_text::one_line;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;

/// Output formats of `score`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// One JSON object per line.
    Jsonl,
    /// CSV with a header: id, one score column per label, flags.
    Csv,
    /// An aligned table for reading in a terminal (with `--explain`, a line
    /// of words per label under each row).
    Table,
}

/// One scored comment, ready to write.
#[derive(Debug, Clone)]
pub struct ScoredRecord {
    /// The comment's id.
    pub id: String,
    /// The comment text (used by the table format).
    pub text: String,
    /// Calibrated probabilities per label, in model order.
    pub scores: Vec<f32>,
    /// Flagged labels, in model order.
    pub flags: Vec<usize>,
    /// Whether the text was cut to the analysis limit.
    pub truncated: bool,
    /// Per label, the terms that raised its score most (with `--explain`).
    pub explanations: Option<Vec<Vec<Contribution>>>,
    /// Which reader decided (written when the model runs a second stage).
    pub stage: Stage,
    /// The language the comment was scored in (written when the model has
    /// models for several languages).
    pub language: &'static str,
    /// Per label, whether it was scored (a label with no model for the
    /// comment's language is unavailable: no score, never flagged).
    pub available: Vec<bool>,
}

impl ScoredRecord {
    /// Whether label `l` has a score.
    fn has_score(&self, l: usize) -> bool {
        self.available.get(l).copied().unwrap_or(true)
    }
}

#[derive(Serialize)]
struct JsonTerm<'a> {
    term: &'a str,
    weight: f32,
    spans: &'a [(usize, usize)],
    reader: &'static str,
}

#[derive(Serialize)]
struct JsonRecord<'a> {
    id: &'a str,
    scores: BTreeMap<&'a str, Option<f32>>,
    flags: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stage: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unavailable: Vec<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<BTreeMap<&'a str, Vec<JsonTerm<'a>>>>,
}

/// Rounds a probability for output (4 decimals).
fn round4(p: f32) -> f32 {
    (p * 10_000.0).round() / 10_000.0
}

/// Writes `p` as `{:.4}` does. Probabilities (0 to 1) take a fast path:
/// the product with 10^4 is exact in f64, and rounding it half to even is
/// the correct rounding of the exact value, which is what `{:.4}` prints
/// (the test below checks both on a sweep of f32 values and every exact
/// tie); the standard formatter spends a tenth of `score`'s time here.
fn write_4_decimals(out: &mut impl Write, p: f32) -> std::io::Result<()> {
    if !(p.is_sign_positive() && p <= 1.0) {
        return write!(out, "{p:.4}");
    }
    let scaled = (f64::from(p) * 10_000.0).round_ties_even() as u32;
    let frac = scaled % 10_000;
    let digits = [
        b'0' + (scaled / 10_000) as u8,
        b'.',
        b'0' + (frac / 1000) as u8,
        b'0' + (frac / 100 % 10) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ];
    out.write_all(&digits)
}

/// Writes records in one format.
pub struct RecordWriter<'m, W: Write> {
    format: OutputFormat,
    labels: Vec<&'m str>,
    out: W,
    wrote_header: bool,
    exact: bool,
    two_stage: bool,
    multilingual: bool,
}

impl<'m, W: Write> RecordWriter<'m, W> {
    /// A writer for `model`'s labels.
    pub fn new(format: OutputFormat, model: &'m Model, out: W) -> Self {
        Self {
            format,
            labels: model.label_names(),
            out,
            wrote_header: false,
            exact: false,
            two_stage: model.has_encoder(),
            multilingual: model.languages.routes(),
        }
    }

    /// Writes probabilities unrounded (csv and jsonl): the shortest decimal
    /// that reads back as the same `f32`, so two runs can be compared bit
    /// for bit. The default is 4 decimals.
    pub fn exact_scores(mut self, exact: bool) -> Self {
        self.exact = exact;
        self
    }

    /// A probability as written: rounded to 4 decimals unless exact.
    fn shown(&self, p: f32) -> f32 {
        if self.exact { p } else { round4(p) }
    }

    /// Writes one record.
    pub fn write(&mut self, r: &ScoredRecord) -> std::io::Result<()> {
        match self.format {
            OutputFormat::Jsonl => {
                let record = JsonRecord {
                    id: &r.id,
                    scores: self
                        .labels
                        .iter()
                        .zip(&r.scores)
                        .enumerate()
                        .map(|(i, (&l, &s))| (l, r.has_score(i).then(|| self.shown(s))))
                        .collect(),
                    flags: r.flags.iter().map(|&i| self.labels[i]).collect(),
                    stage: self.two_stage.then(|| r.stage.name()),
                    language: self.multilingual.then_some(r.language),
                    unavailable: (0..self.labels.len())
                        .filter(|&i| !r.has_score(i))
                        .map(|i| self.labels[i])
                        .collect(),
                    truncated: r.truncated,
                    explain: r.explanations.as_ref().map(|ex| {
                        self.labels
                            .iter()
                            .zip(ex)
                            .map(|(&l, terms)| {
                                (
                                    l,
                                    terms
                                        .iter()
                                        .map(|t| JsonTerm {
                                            term: &t.term,
                                            weight: round4(t.weight),
                                            spans: &t.spans,
                                            reader: t.reader.name(),
                                        })
                                        .collect(),
                                )
                            })
                            .collect()
                    }),
                };
                serde_json::to_writer(&mut self.out, &record)?;
                self.out.write_all(b"\n")
            }
            OutputFormat::Csv => {
                if !self.wrote_header {
                    self.wrote_header = true;
                    let stage = if self.two_stage { ",stage" } else { "" };
                    let language = if self.multilingual { ",language" } else { "" };
                    writeln!(
                        self.out,
                        "id,{},flags,truncated{stage}{language}",
                        self.labels.join(",")
                    )?;
                }
                write_csv_field(&mut self.out, &r.id)?;
                for (i, &s) in r.scores.iter().enumerate() {
                    if !r.has_score(i) {
                        // No model for the comment's language: no score.
                        self.out.write_all(b",")?;
                    } else if self.exact {
                        write!(self.out, ",{s}")?;
                    } else {
                        self.out.write_all(b",")?;
                        write_4_decimals(&mut self.out, s)?;
                    }
                }
                let flags: Vec<&str> = r.flags.iter().map(|&i| self.labels[i]).collect();
                write!(self.out, ",{},{}", flags.join(";"), r.truncated)?;
                if self.two_stage {
                    write!(self.out, ",{}", r.stage.name())?;
                }
                if self.multilingual {
                    write!(self.out, ",{}", r.language)?;
                }
                writeln!(self.out)
            }
            OutputFormat::Table => {
                if !self.wrote_header {
                    self.wrote_header = true;
                    write!(self.out, "{:<10}", "id")?;
                    for l in &self.labels {
                        write!(self.out, " {:>8}", l)?;
                    }
                    if self.two_stage {
                        write!(self.out, "  {:<7}", "stage")?;
                    }
                    if self.multilingual {
                        write!(self.out, "  {:<4}", "lang")?;
                    }
                    writeln!(self.out, "  {:<16} text", "flags")?;
                }
                // Comments reach a terminal here: control characters could
                // recolour it or set its title, so they are neutralised.
                write!(self.out, "{:<10}", truncate_chars(&one_line(&r.id), 10))?;
                for (i, s) in r.scores.iter().enumerate() {
                    if r.has_score(i) {
                        write!(self.out, " {:>8.3}", s)?;
                    } else {
                        write!(self.out, " {:>8}", "-")?;
                    }
                }
                if self.two_stage {
                    write!(self.out, "  {:<7}", r.stage.name())?;
                }
                if self.multilingual {
                    write!(self.out, "  {:<4}", r.language)?;
                }
                let flags: Vec<&str> = r.flags.iter().map(|&i| self.labels[i]).collect();
                let text = one_line(&decode_entities(&r.text));
                writeln!(
                    self.out,
                    "  {:<16} {}",
                    flags.join(","),
                    truncate_chars(&text, 70)
                )?;
                // With --explain, one line per label under the row: the
                // words as the analyzer read them, with their weights.
                for (label, terms) in self.labels.iter().zip(r.explanations.iter().flatten()) {
                    if terms.is_empty() {
                        continue;
                    }
                    let words: Vec<String> = terms
                        .iter()
                        .map(|t| {
                            let by = match t.reader {
                                Stage::Words => "",
                                Stage::Encoder => " (sentence)",
                            };
                            format!(
                                "{} +{:.2}{by}",
                                one_line(&decode_entities(&t.term)),
                                t.weight
                            )
                        })
                        .collect();
                    writeln!(self.out, "{:<10}   {label}: {}", "", words.join(", "))?;
                }
                Ok(())
            }
        }
    }

    /// The underlying writer (to finish it).
    pub fn into_inner(self) -> W {
        self.out
    }
}

fn truncate_chars(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Writes `s` as one CSV field, quoted when needed.
pub fn write_csv_field(out: &mut dyn Write, s: &str) -> std::io::Result<()> {
    if s.contains([',', '"', '\n', '\r']) {
        write!(out, "\"{}\"", s.replace('"', "\"\""))
    } else {
        out.write_all(s.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::write_4_decimals;

    fn four(p: f32) -> String {
        let mut out = Vec::new();
        write_4_decimals(&mut out, p).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn four_decimals_print_as_the_standard_formatter_does() {
        // A sweep of f32 values in [0, 1] (every 1009th bit pattern).
        let one = 1.0f32.to_bits();
        for bits in (0..=one).step_by(1009).chain([one]) {
            let p = f32::from_bits(bits);
            assert_eq!(four(p), format!("{p:.4}"), "{p:e}");
        }
        // Every f32 whose product with 10^4 ends in exactly .5 (a tie).
        let mut ties = 0;
        for m in 0..10_000u32 {
            let v = f64::from(2 * m + 1) / 20_000.0;
            let p = v as f32;
            if f64::from(p) == v {
                ties += 1;
                assert_eq!(four(p), format!("{p:.4}"), "tie {p}");
            }
        }
        assert!(ties > 10);
        for p in [-0.0, -1.0, 1.5, f32::NAN, f32::INFINITY, 1e-30, 0.99995] {
            assert_eq!(four(p), format!("{p:.4}"), "{p}");
        }
    }
}

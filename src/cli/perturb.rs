//! `moderate perturb`: write a copy of a comment file with its abusive and
//! violent words disguised, to measure robustness with `moderate eval`.

use super::UsageError;
use super::files::{self, Output};
use crate::io::InputFormat;
use crate::perturb::{PerturbConfig, Perturber, Trick, WordList};
use anyhow::{Context, Result};
use clap::Args;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `moderate perturb`.
#[derive(Debug, Args)]
pub struct PerturbArgs {
    /// Comments to rewrite: CSV with a header or JSONL (`-` for stdin, whose
    /// format is sniffed as for `score`).
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
    /// Where to write the rewritten file (default: stdout). Same format and
    /// columns as the input; only the text changes.
    #[arg(long, short = 'o', value_name = "OUTPUT")]
    pub out: Option<PathBuf>,
    /// Seed of the random choices; the same seed gives the same output.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Probability that a listed word is rewritten.
    #[arg(long, default_value_t = 1.0, value_name = "P")]
    pub rate: f64,
    /// Tricks to draw from, comma-separated: leet, dense-leet, repeats, mask,
    /// homoglyphs, spacing, separators, zero-width, full-width (default: all).
    #[arg(long, value_delimiter = ',', value_name = "TRICK,...")]
    pub tricks: Vec<String>,
    /// Tricks per rewritten word: 1, or 2 for two different tricks in the
    /// same word (`k1iiill`, `$t*pid`), drawn from --tricks.
    #[arg(long, default_value_t = 1, value_name = "1|2")]
    pub tricks_per_word: u8,
    /// Words to disguise, one per line (default: data/obfuscation_words.txt,
    /// built in).
    #[arg(long, value_name = "FILE")]
    pub words: Option<PathBuf>,
    /// Input format (default: by extension; stdin is sniffed).
    #[arg(long = "input-format", value_name = "csv|jsonl")]
    pub input_format: Option<InputFormat>,
    /// Name of the column (CSV) or key (JSONL) holding the comment text.
    #[arg(long, default_value = "text", value_name = "NAME")]
    pub text_column: String,
}

/// Counts reported at the end of a run.
#[derive(Debug, Default)]
struct Tally {
    records: u64,
    changed: u64,
    words: u64,
    by_trick: [u64; Trick::ALL.len()],
}

impl Tally {
    fn add(&mut self, perturbed: &crate::perturb::Perturbed) {
        self.records += 1;
        if perturbed.words_changed > 0 {
            self.changed += 1;
        }
        self.words += u64::from(perturbed.words_changed);
        for (total, n) in self.by_trick.iter_mut().zip(perturbed.by_trick) {
            *total += u64::from(n);
        }
    }
}

/// Runs `moderate perturb`.
pub fn run(args: PerturbArgs) -> Result<ExitCode> {
    let tricks = parse_tricks(&args.tricks)?;
    if !(0.0..=1.0).contains(&args.rate) {
        return Err(UsageError(format!("--rate {}: must be in [0, 1]", args.rate)).into());
    }
    if !(1..=2).contains(&args.tricks_per_word) {
        return Err(UsageError(format!(
            "--tricks-per-word {}: must be 1 or 2",
            args.tricks_per_word
        ))
        .into());
    }
    let words = match &args.words {
        Some(path) => WordList::parse(
            &std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        ),
        None => WordList::builtin(),
    };
    let perturber = Perturber::new(
        words,
        PerturbConfig {
            seed: args.seed,
            rate: args.rate,
            tricks,
            tricks_per_word: args.tricks_per_word,
        },
    );
    let out_path = args.out.clone().unwrap_or_else(|| PathBuf::from("-"));
    files::refuse_overwriting(&[&args.input], &[("--out", &out_path)])?;
    let (format, input) = open_input(&args)?;
    let mut output = Output::create(Some(&out_path)).context("cannot write the output")?;
    let tally = match format {
        InputFormat::Csv => rewrite_csv(&args, &perturber, input, &mut output)?,
        InputFormat::Jsonl => rewrite_jsonl(&args, &perturber, input, &mut output)?,
        InputFormat::Text => {
            return Err(UsageError(
                "perturb reads CSV or JSONL (labelled comments); plain text has no labels to evaluate"
                    .into(),
            )
            .into());
        }
    };
    output.finish()?;
    let tricks: Vec<String> = Trick::ALL
        .iter()
        .zip(tally.by_trick)
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| format!("{t} {n}"))
        .collect();
    eprintln!(
        "perturb: {} records read, {} written, {} changed; {} words rewritten{}",
        tally.records,
        tally.records,
        tally.changed,
        tally.words,
        if tricks.is_empty() {
            String::new()
        } else {
            format!(" (tricks: {})", tricks.join(", "))
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn parse_tricks(names: &[String]) -> Result<Vec<Trick>> {
    if names.is_empty() {
        return Ok(Trick::DEFAULT.to_vec());
    }
    names
        .iter()
        .map(|n| {
            Trick::from_name(n.trim()).ok_or_else(|| {
                let known: Vec<&str> = Trick::ALL.iter().map(|t| t.name()).collect();
                UsageError(format!(
                    "--tricks: unknown trick `{n}` (known: {})",
                    known.join(", ")
                ))
                .into()
            })
        })
        .collect()
}

/// Opens the input and decides its format: `--input-format`, else the
/// extension, else (stdin) sniffed from the first line as `score` does.
fn open_input(args: &PerturbArgs) -> Result<(InputFormat, Box<dyn BufRead + Send>)> {
    let path = &args.input;
    let stdin = files::is_std(path);
    let input: Box<dyn BufRead + Send> = if stdin {
        files::stdin_notice();
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| crate::Error::io(path, e))
            .context("cannot read the input")?;
        Box::new(std::io::BufReader::new(file))
    };
    match args.input_format.or_else(|| InputFormat::from_path(path)) {
        Some(format) => Ok((format, input)),
        None if stdin => Ok(crate::io::sniff_format(input, &args.text_column)
            .map_err(|e| crate::Error::io(path, e))?),
        None => Err(UsageError(format!(
            "{}: cannot tell the format from the name; use --input-format csv|jsonl",
            path.display()
        ))
        .into()),
    }
}

fn rewrite_csv(
    args: &PerturbArgs,
    perturber: &Perturber,
    input: Box<dyn BufRead + Send>,
    output: &mut dyn Write,
) -> Result<Tally> {
    let path = &args.input;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(input);
    let headers = reader
        .byte_headers()
        .map_err(|e| csv_error(path, &e))?
        .clone();
    let text_at = headers
        .iter()
        .position(|h| h.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(h) == args.text_column.as_bytes())
        .ok_or_else(|| {
            crate::Error::input(
                path,
                1,
                format!("no `{}` column in the header", args.text_column),
            )
        })?;
    let mut writer = csv::Writer::from_writer(output);
    writer.write_byte_record(&headers).map_err(write_error)?;
    let mut tally = Tally::default();
    let mut record = csv::ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(path, &e))?
    {
        let line = record.position().map_or(0, |p| p.line());
        let text = std::str::from_utf8(&record[text_at]).map_err(|e| {
            crate::Error::input(path, line, format!("text is not valid UTF-8 ({e})"))
        })?;
        let perturbed = perturber.perturb(text, tally.records);
        tally.add(&perturbed);
        let fields = record.iter().enumerate().map(|(i, f)| {
            if i == text_at {
                perturbed.text.as_bytes()
            } else {
                f
            }
        });
        writer.write_record(fields).map_err(write_error)?;
    }
    writer.flush()?;
    Ok(tally)
}

/// A failure to write CSV output, keeping the operating-system error (a
/// closed pipe is not a failure; see [`super::main`]).
fn write_error(e: csv::Error) -> anyhow::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io.into(),
        other => anyhow::anyhow!("cannot write CSV: {other:?}"),
    }
}

fn csv_error(path: &Path, e: &csv::Error) -> crate::Error {
    let line = e.position().map_or(0, |p| p.line());
    crate::Error::input(path, line, format!("malformed CSV: {e}"))
}

fn rewrite_jsonl(
    args: &PerturbArgs,
    perturber: &Perturber,
    input: Box<dyn BufRead + Send>,
    output: &mut dyn Write,
) -> Result<Tally> {
    let path = &args.input;
    let mut tally = Tally::default();
    for (n, line) in input.lines().enumerate() {
        let line_no = n as u64 + 1;
        let line = line
            .map_err(|e| crate::Error::input(path, line_no, format!("cannot read line ({e})")))?;
        if line.trim().is_empty() {
            writeln!(output, "{line}")?;
            continue;
        }
        let mut members: Members = serde_json::from_str(&line)
            .map_err(|e| crate::Error::input(path, line_no, format!("malformed JSON: {e}")))?;
        let missing = || {
            crate::Error::input(
                path,
                line_no,
                format!("no string `{}` key", args.text_column),
            )
        };
        // The last of repeated keys counts, as when the file is scored.
        let slot = members
            .0
            .iter_mut()
            .rev()
            .find(|(k, _)| *k == args.text_column)
            .ok_or_else(missing)?;
        let text: String = serde_json::from_str(slot.1.get()).map_err(|_| missing())?;
        let perturbed = perturber.perturb(&text, tally.records);
        tally.add(&perturbed);
        slot.1 = serde_json::value::to_raw_value(&perturbed.text)?;
        members.write(output)?;
        writeln!(output)?;
    }
    Ok(tally)
}

/// A JSON object's members in the order written, with their values kept as
/// written, so that rewriting one value leaves the rest of the line as it was.
struct Members(Vec<(String, Box<serde_json::value::RawValue>)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Visit)
    }
}

impl Members {
    /// Writes the object compactly, members in their original order.
    fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        out.write_all(b"{")?;
        for (i, (key, value)) in self.0.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, key)?;
            out.write_all(b":")?;
            out.write_all(value.get().as_bytes())?;
        }
        out.write_all(b"}")
    }
}

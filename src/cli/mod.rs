//! The command-line interface: argument definitions and dispatch.
//!
//! Exit codes follow grep: 0 success, 1 an internal failure, 2 a usage or
//! input error (the message names the file and line). A closed stdout pipe
//! (`moderate score big.csv | head`) ends the run quietly with 0.

mod detect;
mod eval;
mod files;
mod info;
mod perturb;
mod rejects;
mod report;
mod review;
mod score;
mod serve;
mod store;
mod train;

use crate::io::{InputFormat, ReadOptions};
use crate::model::Model;
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags abusive and violent-advocacy reader comments.
#[derive(Debug, Parser)]
#[command(name = "moderate", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model on labelled comments.
    Train(Box<train::TrainArgs>),
    /// Evaluate a model on labelled comments.
    Eval(eval::EvalArgs),
    /// Score comments and flag them.
    Score(score::ScoreArgs),
    /// Show the model card: labels, training data, thresholds, metrics.
    Info(info::InfoArgs),
    /// Measure the language detector on comments of known languages:
    /// accuracy by comment length and the confusion table.
    Detect(detect::DetectArgs),
    /// Write a self-contained HTML report of the flagged comments.
    Report(report::ReportArgs),
    /// Review flagged comments in the terminal and record decisions.
    Review(review::ReviewArgs),
    /// Disguise the abusive and violent words of a labelled file (leetspeak,
    /// spacing, look-alike letters, ...) to measure robustness with `eval`.
    Perturb(perturb::PerturbArgs),
    /// Serve the model over HTTP: Perspective API (analyze, suggestscore),
    /// Coral Talk's moderation phase, batch scoring, metrics.
    Serve(Box<serve::ServeArgs>),
    /// The store of decisions and served flags: import decisions CSV files,
    /// export the decisions as CSV, show what it holds.
    Store(store::StoreArgs),
}

/// How to read comment files (shared by train, eval and score).
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Input format (default: by file extension; stdin is sniffed).
    #[arg(long = "input-format", value_name = "csv|jsonl|text")]
    pub input_format: Option<InputFormat>,
    /// Name of the column (CSV) or key (JSONL) holding the comment text.
    #[arg(long, default_value = "text", value_name = "NAME")]
    pub text_column: String,
    /// Name of the column or key holding the comment id.
    #[arg(long, default_value = "id", value_name = "NAME")]
    pub id_column: String,
    /// The comment text is HTML, as Coral sends and exports it: tags are
    /// removed exactly as `moderate serve` removes them for Coral's
    /// moderation phase (block tags become line breaks, <script> and
    /// <style> are dropped, entities are decoded by the analyzer), so a
    /// backlog scores offline as it did live. --explain spans count in the
    /// HTML; the table, report and review show the text.
    #[arg(long)]
    pub html: bool,
}

impl InputArgs {
    /// Reader options for these arguments.
    pub fn read_options(&self, labels: &[String], keep: &[String]) -> ReadOptions {
        ReadOptions {
            format: self.input_format,
            text_column: self.text_column.clone(),
            id_column: self.id_column.clone(),
            label_columns: labels.to_vec(),
            keep_columns: keep.to_vec(),
            missing_text_hint: Some(
                "use --text-column NAME to name the column (or key) that holds the text".into(),
            ),
            html: self.html,
        }
    }
}

/// Which base encoder runs the second stage of a scoring command.
#[derive(Debug, Clone, Default, Args)]
pub struct EncoderArgs {
    /// Folder of the base encoder the model's second stage was trained on
    /// (config.json, tokenizer.json, model weights); default: the built-in
    /// one (models/encoder).
    #[arg(long, value_name = "DIR")]
    pub encoder: Option<PathBuf>,
    /// Score with the word model alone, even if the model has a second
    /// stage: many times faster, for backlogs; its own thresholds apply.
    #[arg(long)]
    pub word_only: bool,
    /// Score every comment as written in this language (en, de, es, fr,
    /// pt), with that language's model, instead of detecting each
    /// comment's language.
    #[arg(long, value_name = "LANG", value_parser = parse_language)]
    pub language: Option<crate::language::Language>,
}

/// Parses a language code of `--language`.
fn parse_language(s: &str) -> Result<crate::language::Language, String> {
    crate::language::Language::from_code(s)
        .ok_or_else(|| format!("`{s}`: moderate has models for en, de, es, fr and pt only"))
}

/// Loads `path` (or the built-in default model when `None`) without its
/// second stage's encoder (for `info`).
pub fn load_model(path: Option<&Path>) -> crate::Result<Model> {
    match path {
        Some(p) => crate::model::load(p),
        None => crate::model::load_bytes(
            crate::DEFAULT_MODEL_BYTES,
            Path::new("<built-in default model>"),
        ),
    }
}

/// Loads `path` (or the built-in default model when `None`) as
/// [`load_model`] does, with the identity of its file (version and format).
pub fn load_model_with_id(path: Option<&Path>) -> crate::Result<(Model, crate::model::FileId)> {
    match path {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| crate::Error::io(p, e))?;
            let model = crate::model::load_bytes(&bytes, p)?;
            Ok((model, crate::model::FileId::of(&bytes)))
        }
        None => Ok((
            load_model(None)?,
            crate::model::FileId::of(crate::DEFAULT_MODEL_BYTES),
        )),
    }
}

/// Loads the model for scoring: with its second stage's encoder attached
/// unless `--word-only`.
pub fn load_model_for_scoring(path: Option<&Path>, encoder: &EncoderArgs) -> anyhow::Result<Model> {
    let mut model = load_model(path).context("cannot load model")?;
    crate::encoder::prepare(&mut model, encoder.encoder.as_deref(), encoder.word_only)
        .context("cannot load the second stage (sentence encoder)")?;
    if let Some(language) = encoder.language {
        if language != crate::language::Language::En
            && !model.languages.models.contains_key(&language)
        {
            return Err(UsageError(format!(
                "--language {language}: the model has no {} model (it has: {})",
                language.name(),
                model.languages.codes().join(", ")
            ))
            .into());
        }
        model.fixed_language = Some(language);
    }
    Ok(model)
}

/// The model's per-label thresholds with `--threshold label=value` overrides
/// applied (shared by score, report and review).
pub fn effective_thresholds(
    model: &Model,
    overrides: &[(String, f32)],
) -> anyhow::Result<Vec<f32>> {
    model.effective_thresholds(overrides).map_err(|e| {
        let message = match e {
            crate::Error::Config(m) => m,
            other => other.to_string(),
        };
        UsageError(format!("--threshold: {message}")).into()
    })
}

/// True when progress and colour may be shown on stderr.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Parses arguments, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Train(a) => train::run(*a),
        Command::Eval(a) => eval::run(a),
        Command::Score(a) => score::run(a),
        Command::Info(a) => info::run(a),
        Command::Detect(a) => detect::run(a),
        Command::Review(a) => review::run(a),
        Command::Report(a) => report::run(a),
        Command::Perturb(a) => perturb::run(a),
        Command::Serve(a) => serve::run(*a),
        Command::Store(a) => store::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => report_error(&e),
    }
}

/// Prints an error chain and picks the exit code.
fn report_error(e: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(e) {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "moderate: error: {}",
        crate::output::safe_text::safe_text(&format!("{e:#}"))
    );
    let input = e.chain().any(|c| {
        c.downcast_ref::<crate::Error>()
            .is_some_and(crate::Error::is_input_error)
            || c.downcast_ref::<UsageError>().is_some()
            || c.downcast_ref::<rejects::Stopped>().is_some()
    });
    ExitCode::from(if input { 2 } else { 1 })
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || matches!(c.downcast_ref::<crate::Error>(),
                Some(crate::Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A usage error detected after parsing (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

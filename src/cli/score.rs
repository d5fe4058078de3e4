//! `moderate score`: score comments and flag them, streaming and in parallel.

use super::files::{self, Output};
use super::train::parse_label_value;
use super::{InputArgs, UsageError};
use crate::features::chunk_cache::CacheStats;
use crate::model::{Scorer, Scores};
use crate::output::{OutputFormat, RecordWriter, ScoredRecord};
use crate::pipeline;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

/// Arguments of `moderate score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Comments to score (CSV, JSONL or text; `-` or none = stdin).
    #[arg(value_name = "INPUT")]
    pub input: Option<PathBuf>,
    /// Model file (default: the built-in default model).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Jsonl)]
    pub format: OutputFormat,
    /// Write only comments flagged for at least one label.
    #[arg(long)]
    pub only_flagged: bool,
    /// Override a label's threshold for this run, e.g. `violent=0.3`.
    #[arg(long = "threshold", value_name = "LABEL=P", value_parser = parse_label_value::<f32>)]
    pub thresholds: Vec<(String, f32)>,
    /// Add the words (and word pairs) that raised each label's score most,
    /// with their byte spans in the text (jsonl), or a line of them under
    /// each row (table). Not with --format csv.
    #[arg(long)]
    pub explain: bool,
    /// Write probabilities unrounded (the shortest decimal that reads back
    /// as the same 32-bit float) instead of to 4 decimals, e.g. to check
    /// that two builds or models score identically.
    #[arg(long)]
    pub exact_scores: bool,
    /// Terms per label shown by --explain.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,
    /// Output file (default: stdout).
    #[arg(long, short = 'o', value_name = "OUTPUT")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub bad: super::rejects::SkipBadArgs,
    /// Report on stderr how many of the comments' pieces (words with their
    /// punctuation) the chunk cache served, and how many were analysed.
    #[arg(long)]
    pub cache_stats: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub input_args: InputArgs,
    #[command(flatten)]
    pub encoder: super::EncoderArgs,
}

/// A scoring thread's state; adds its cache counts to the run's total when
/// the thread is done.
struct Worker<'m> {
    scorer: Scorer<'m>,
    scores: Vec<Scores>,
    cache_total: &'m Mutex<CacheStats>,
}

/// What a worker gives back for one record: its scores and, with
/// `--explain`, the explanation per label.
type Scored = Option<(Scores, Option<Vec<Vec<crate::model::Contribution>>>)>;

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        if let Ok(mut total) = self.cache_total.lock() {
            total.add(&self.scorer.cache_stats());
        }
    }
}

/// Comments a worker takes at a time when the encoder runs: enough to batch
/// them by length, few enough that the first results come soon.
const ENCODER_BATCH: usize = 128;

/// Runs `moderate score`.
pub fn run(args: ScoreArgs) -> Result<ExitCode> {
    if args.explain && args.format == OutputFormat::Csv {
        return Err(UsageError(
            "--explain needs --format jsonl (terms, weights and byte spans) or table \
             (terms and weights); a CSV row has no place for them"
                .into(),
        )
        .into());
    }
    let model = super::load_model_for_scoring(args.model.as_deref(), &args.encoder)?;
    // Checks the overrides; each comment is flagged at its language's.
    super::effective_thresholds(&model, &args.thresholds)?;
    let input = args.input.clone().unwrap_or_else(|| PathBuf::from("-"));
    let out_path = args.out.clone().unwrap_or_else(|| PathBuf::from("-"));
    let mut outputs = vec![("--out", out_path.as_path())];
    if let Some(r) = &args.bad.rejects {
        outputs.push(("--rejects", r.as_path()));
    }
    files::refuse_overwriting(&[&input], &outputs)?;
    let opts = args.input_args.read_options(&[], &[]);
    let reader = files::open_comments(&input, &opts)?;
    let output = Output::create(Some(&out_path)).context("cannot write the output")?;
    let mut writer = RecordWriter::new(args.format, &model, output).exact_scores(args.exact_scores);
    let mut bad = super::rejects::BadRecords::new(&args.bad)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let (mut read, mut written, mut flagged, mut truncated) = (0u64, 0u64, 0u64, 0u64);
    let explain = args.explain;
    let top = args.top;
    let cache_total = Mutex::new(CacheStats::default());
    let batch = if model.has_encoder() {
        ENCODER_BATCH
    } else {
        pipeline::DEFAULT_BATCH
    };
    let outcome = pipeline::ordered_map_batches(
        reader,
        threads,
        batch,
        || Worker {
            scorer: model.scorer().with_threshold_overrides(&args.thresholds),
            scores: Vec::new(),
            cache_total: &cache_total,
        },
        |Worker { scorer, scores, .. }, records| -> Vec<Scored> {
            let texts: Vec<&str> = records
                .iter()
                .filter_map(|r| r.as_ref().ok().map(|c| c.text.as_str()))
                .collect();
            scorer.score_batch(&texts, scores);
            let mut next = scores.iter();
            records
                .iter()
                .map(|record| {
                    let comment = record.as_ref().ok()?;
                    let s = next.next()?.clone();
                    let explanations = explain.then(|| {
                        let mut e = scorer.explain_scores(&comment.text, &s, &s.thresholds, top);
                        // Spans count in the comment as written (its HTML).
                        if comment.html.is_some() {
                            for c in e.iter_mut().flatten() {
                                for span in &mut c.spans {
                                    *span = comment.written_range(span.0, span.1);
                                }
                            }
                        }
                        e
                    });
                    Some((s, explanations))
                })
                .collect()
        },
        |record, result| -> Result<()> {
            read += 1;
            let comment = match record {
                Ok(c) => c,
                Err(e) => return bad.handle(e),
            };
            let Some((scores, explanations)) = result else {
                return Ok(());
            };
            let flags: Vec<usize> = (0..scores.probabilities.len())
                .filter(|&l| scores.flagged(l))
                .collect();
            truncated += u64::from(scores.info.truncated);
            if !flags.is_empty() {
                flagged += 1;
            }
            if args.only_flagged && flags.is_empty() {
                written += 1; // scored; deliberately not printed
                return Ok(());
            }
            written += 1;
            writer
                .write(&ScoredRecord {
                    id: comment.id,
                    text: comment.text,
                    scores: scores.probabilities,
                    flags,
                    truncated: scores.info.truncated,
                    explanations,
                    stage: scores.stage,
                    language: scores.language.code,
                    available: scores.available,
                })
                .map_err(|e| crate::Error::io(&out_path, e))?;
            Ok(())
        },
    );
    let output = writer.into_inner();
    let rejected = bad.rejected;
    let summary = format!(
        "moderate: {read} records read: {written} scored ({flagged} flagged{}), {rejected} rejected",
        if truncated > 0 {
            format!(
                ", {truncated} truncated to {} bytes",
                model.analyzer.max_bytes
            )
        } else {
            String::new()
        }
    );
    // With --skip-bad the counts are always reported, so that a caller can
    // check that every record read was either scored or rejected.
    if bad.skipping() || rejected > 0 || truncated > 0 || super::stderr_is_terminal() {
        eprintln!("{summary}");
    }
    if args.cache_stats {
        let s = cache_total.into_inner().unwrap_or_else(|e| e.into_inner());
        eprintln!(
            "moderate: chunk cache: {} pieces (words with their punctuation, or short \
             groups read together), {} served from the cache ({:.2}%), {} analysed and \
             cached, {} analysed uncached",
            s.pieces(),
            s.hits,
            100.0 * s.hit_rate(),
            s.misses,
            s.uncached
        );
    }
    // A failed run leaves the output files as they were (they are only
    // committed into place now).
    outcome?;
    output.finish()?;
    bad.finish()?;
    Ok(ExitCode::SUCCESS)
}

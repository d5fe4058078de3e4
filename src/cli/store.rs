//! `moderate store`: load decisions CSV files into a store, write its
//! decisions out as a CSV, and say what it holds.

use super::UsageError;
use super::files::Output;
use super::rejects::{BadRecords, SkipBadArgs};
use crate::store::transfer::{CsvDecisions, export, stored_labels};
use crate::store::{Location, NewDecision, Recorded, STORE_ENV, Store};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `moderate store`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// What to do with the store.
    #[command(subcommand)]
    pub command: StoreCommand,
}

/// Where the store is (shared by the subcommands).
#[derive(Debug, Clone, Args)]
pub struct StoreLocation {
    /// The store: a SQLite file or a postgres:// URL (give one with a
    /// password in MODERATE_STORE, not on the command line).
    #[arg(long, env = STORE_ENV, default_value = crate::store::DEFAULT_STORE, value_name = "FILE|URL")]
    pub store: String,
}

impl StoreLocation {
    /// Opens (and migrates) the store.
    pub fn open(&self) -> Result<Store> {
        let location =
            Location::parse(&self.store).map_err(|e| UsageError(format!("--store: {e}")))?;
        Store::open(&location).context("cannot open the store")
    }
}

/// The subcommands of `moderate store`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Load decisions CSV files (as `review` and the server wrote them
    /// before the store) into the store, in decided_at order across the
    /// files; a decision stored already is not stored twice.
    Import(ImportArgs),
    /// Write the store's decisions as a decisions CSV (what `train --data`
    /// and `eval --data` read).
    Export(ExportArgs),
    /// Say where the store is, its schema version and what it holds.
    Info(StoreLocation),
}

/// Arguments of `moderate store import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Decisions CSV files (id,text,<labels>,reviewer,decided_at).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub store: StoreLocation,
    #[command(flatten)]
    pub bad: SkipBadArgs,
}

/// Arguments of `moderate store export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreLocation,
    /// Where to write the CSV (`-`: stdout).
    #[arg(long, default_value = "-", value_name = "FILE")]
    pub out: PathBuf,
    /// Label columns, in this order (default: every label in the store,
    /// sorted).
    #[arg(long, value_delimiter = ',', value_name = "LABELS")]
    pub labels: Option<Vec<String>>,
}

/// Decisions stored per transaction during an import.
const IMPORT_BATCH: usize = 5000;

/// Runs `moderate store`.
pub fn run(args: StoreArgs) -> Result<ExitCode> {
    match args.command {
        StoreCommand::Import(a) => import(a),
        StoreCommand::Export(a) => export_csv(a),
        StoreCommand::Info(a) => info(a),
    }
}

fn import(args: ImportArgs) -> Result<ExitCode> {
    let mut bad = BadRecords::new(&args.bad)?;
    // Every file is read and checked before anything is stored: without
    // --skip-bad, a malformed record stores nothing.
    let mut files: Vec<(PathBuf, Vec<NewDecision>, u64)> = Vec::new();
    for path in &args.files {
        let file = std::fs::File::open(path)
            .map_err(|e| crate::Error::io(path, e))
            .context("cannot read the decisions file")?;
        let reader = CsvDecisions::new(path, std::io::BufReader::new(file))
            .context("cannot read the decisions file")?;
        let before = bad.rejected;
        let mut decisions = Vec::new();
        for record in reader {
            match record {
                Ok(d) => decisions.push(d),
                Err(e) => bad.handle(e)?,
            }
        }
        let rejected = bad.rejected - before;
        files.push((path.clone(), decisions, rejected));
    }
    // Stored in decided_at order across the files (ties in file order), so
    // that the latest decision on an id is the last stored, as `train`
    // expects (what merging per-instance files by time used to do).
    let mut order: Vec<(usize, &NewDecision)> = files
        .iter()
        .enumerate()
        .flat_map(|(f, (_, decisions, _))| decisions.iter().map(move |d| (f, d)))
        .collect();
    order.sort_by(|a, b| a.1.decided_at.cmp(&b.1.decided_at));
    let mut store = args.store.open()?;
    let mut new = vec![0u64; files.len()];
    let mut repeat = vec![0u64; files.len()];
    for chunk in order.chunks(IMPORT_BATCH) {
        let batch: Vec<NewDecision> = chunk.iter().map(|(_, d)| (*d).clone()).collect();
        let recorded = store
            .record_decisions(&batch)
            .context("cannot store the decisions")?;
        for ((f, _), r) in chunk.iter().zip(recorded) {
            match r {
                Recorded::Stored(_) => new[*f] += 1,
                Recorded::Repeat => repeat[*f] += 1,
            }
        }
    }
    let mut out = String::new();
    let (mut total_read, mut total_new, mut total_repeat, mut total_rejected) = (0, 0, 0, 0);
    for (f, (path, _, rejected)) in files.iter().enumerate() {
        let read = new[f] + repeat[f] + rejected;
        out.push_str(&format!(
            "{}: {read} records: {} stored, {} already in the store (same decision as the \
             latest for that id, or stored before), {rejected} rejected\n",
            path.display(),
            new[f],
            repeat[f]
        ));
        total_read += read;
        total_new += new[f];
        total_repeat += repeat[f];
        total_rejected += rejected;
    }
    bad.finish()?;
    if args.files.len() > 1 {
        out.push_str(&format!(
            "total: {total_read} records: {total_new} stored, {total_repeat} already in the \
             store, {total_rejected} rejected\n"
        ));
    }
    out.push_str(&format!("store: {}\n", store.location()));
    eprint!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn export_csv(args: ExportArgs) -> Result<ExitCode> {
    let mut store = args.store.open()?;
    let labels = match args.labels {
        Some(l) => l,
        None => stored_labels(&mut store).context("cannot read the store")?,
    };
    if labels.is_empty() {
        return Err(UsageError(format!(
            "{} holds no decisions; nothing to export (name the columns with --labels to write \
             an empty file)",
            store.location()
        ))
        .into());
    }
    let mut output = Output::create(Some(&args.out))?;
    let rows = export(&mut store, &labels, &mut output).context("cannot export")?;
    output.flush().map_err(|e| output.error(e))?;
    output.finish()?;
    eprintln!(
        "moderate: wrote {rows} decisions from {} to {}",
        store.location(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn info(args: StoreLocation) -> Result<ExitCode> {
    let mut store = args.open()?;
    let s = store.summary().context("cannot read the store")?;
    println!("store: {}", store.location());
    println!(
        "schema: version {} (this moderate knows up to {})",
        s.schema,
        crate::store::schema::LATEST
    );
    println!(
        "decisions: {} rows for {} comments",
        s.decisions, s.decided_ids
    );
    println!("served flags: {} comments", s.served);
    Ok(ExitCode::SUCCESS)
}

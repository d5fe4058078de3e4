//! What commands do with a malformed input record: stop (the default) or,
//! with `--skip-bad`, count it and write it to a rejects file (or stderr) with
//! its file, line and reason, so that records read = records used + rejected.

use super::files::Output;
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

/// `--skip-bad` and `--rejects`, shared by score, eval and train.
#[derive(Debug, Clone, Args)]
pub struct SkipBadArgs {
    /// Skip malformed records instead of stopping; they are listed in the
    /// rejects file (or on stderr) with their line and reason, and counted.
    #[arg(long)]
    pub skip_bad: bool,
    /// Where --skip-bad writes rejected records (CSV: file,line,reason).
    #[arg(long, value_name = "REJECTS", requires = "skip_bad")]
    pub rejects: Option<PathBuf>,
}

/// Handles bad records according to [`SkipBadArgs`].
pub struct BadRecords {
    skip: bool,
    sink: Option<Output>,
    path: PathBuf,
    /// Records rejected so far.
    pub rejected: u64,
}

impl BadRecords {
    /// Opens the rejects file (with its header) when one is asked for.
    pub fn new(args: &SkipBadArgs) -> anyhow::Result<Self> {
        let sink = match &args.rejects {
            Some(p) => {
                let mut f = Output::create(Some(p)).context("cannot write the rejects file")?;
                writeln!(f, "file,line,reason").map_err(|e| f.error(e))?;
                Some(f)
            }
            None => None,
        };
        Ok(BadRecords {
            skip: args.skip_bad,
            sink,
            path: args.rejects.clone().unwrap_or_default(),
            rejected: 0,
        })
    }

    /// True when bad records are skipped rather than fatal.
    pub fn skipping(&self) -> bool {
        self.skip
    }

    /// When skipping and `e` is a malformed record: counts it, writes it to
    /// the rejects file and returns `Ok`. Otherwise returns `e` (or the
    /// failure to write the rejects file).
    pub fn skip(&mut self, e: crate::Error) -> Result<(), crate::Error> {
        if !self.skip || !matches!(e, crate::Error::Input { .. }) {
            return Err(e);
        }
        self.rejected += 1;
        let (file, line, reason) = describe(&e);
        match &mut self.sink {
            Some(f) => crate::output::write_csv_field(f, &file)
                .and_then(|()| write!(f, ",{line},"))
                .and_then(|()| crate::output::write_csv_field(f, &reason))
                .and_then(|()| writeln!(f))
                .map_err(|io| crate::Error::io(self.path.clone(), io)),
            None => {
                eprintln!(
                    "moderate: skipped: {}",
                    crate::output::safe_text::safe_text(&e.to_string())
                );
                Ok(())
            }
        }
    }

    /// [`skip`](Self::skip), with a hint about `--skip-bad` on a record that
    /// stops the run.
    pub fn handle(&mut self, e: crate::Error) -> anyhow::Result<()> {
        self.skip(e).map_err(|e| {
            if matches!(e, crate::Error::Input { .. }) {
                anyhow::Error::new(e)
                    .context("bad input record (use --skip-bad to skip such records)")
            } else {
                e.into()
            }
        })
    }

    /// Writes the rejects file into place (call once the run succeeded; a
    /// failed run leaves any earlier file at that path untouched).
    pub fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(f) = self.sink.take() {
            f.finish()?;
        }
        Ok(())
    }
}

/// Splits an input error into (file, line, reason) for the rejects file.
fn describe(e: &crate::Error) -> (String, u64, String) {
    match e {
        crate::Error::Input {
            path,
            line,
            message,
        } => (path.display().to_string(), *line, message.clone()),
        other => (String::new(), 0, other.to_string()),
    }
}

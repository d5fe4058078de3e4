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
        let (file, line) = match &e {
            crate::Error::Input { path, line, .. } => (path.display().to_string(), *line),
            _ => (String::new(), 0),
        };
        let reason = e.skipped_reason();
        match &mut self.sink {
            Some(f) => crate::output::write_csv_field(f, &file)
                .and_then(|()| write!(f, ",{line},"))
                .and_then(|()| crate::output::write_csv_field(f, &reason))
                .and_then(|()| writeln!(f))
                .map_err(|io| crate::Error::io(self.path.clone(), io)),
            None => {
                eprintln!(
                    "moderate: skipped: {}",
                    crate::output::safe_text::safe_text(&skipped_line(&e))
                );
                Ok(())
            }
        }
    }

    /// [`skip`](Self::skip); a malformed record that stops the run says so
    /// and how to skip such records ([`stopped`]).
    pub fn handle(&mut self, e: crate::Error) -> anyhow::Result<()> {
        self.skip(e).map_err(stopped)
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

/// What `moderate: skipped: ...` says about a record skipped by
/// `--skip-bad`: where it is, what is wrong, and where reading went on (as
/// read; [`crate::output::safe_text::safe_text`] it for a terminal).
pub fn skipped_line(e: &crate::Error) -> String {
    match e {
        crate::Error::Input { path, line, .. } if *line > 0 => {
            format!("{}:{line}: {}", path.display(), e.skipped_reason())
        }
        crate::Error::Input { path, .. } => {
            format!("{}: {}", path.display(), e.skipped_reason())
        }
        other => other.to_string(),
    }
}

/// A malformed record that stopped the run (no `--skip-bad`): the record's
/// error, then that nothing was skipped and how to skip such records.
#[derive(Debug)]
pub struct Stopped(pub crate::Error);

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}. Nothing was skipped: the run stopped at this record, as it does at the \
             first malformed one; --skip-bad skips malformed records and goes on \
             (--rejects FILE lists them)",
            self.0
        )
    }
}

impl std::error::Error for Stopped {}

/// `e` as the error that ends the run: a malformed record becomes
/// [`Stopped`] (exit code 2); any other error is passed on.
pub fn stopped(e: crate::Error) -> anyhow::Error {
    if matches!(e, crate::Error::Input { .. }) {
        Stopped(e).into()
    } else {
        e.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_that_stops_the_run_says_nothing_was_skipped_and_how_to_skip() {
        let e = crate::Error::Input {
            path: "quotes.csv".into(),
            line: 3,
            message: "unterminated quoted field: the `\"` opened on line 3 is never closed".into(),
            resumed_at: Some(4),
        };
        let stop = format!("{:#}", stopped(e));
        assert!(
            stop.starts_with("quotes.csv:3: unterminated quoted field"),
            "{stop}"
        );
        assert!(stop.contains("Nothing was skipped"), "{stop}");
        assert!(stop.contains("--skip-bad"), "{stop}");
        assert!(!stop.contains("resumed"), "{stop}");
        let e = crate::Error::Input {
            path: "quotes.csv".into(),
            line: 3,
            message: "unterminated".into(),
            resumed_at: Some(4),
        };
        assert_eq!(
            skipped_line(&e),
            "quotes.csv:3: unterminated; skipped, and reading resumed on line 4"
        );
        // Other errors pass through.
        let io = crate::Error::io("x", std::io::Error::other("disk"));
        assert!(stopped(io).downcast_ref::<Stopped>().is_none());
    }
}

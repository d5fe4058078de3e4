//! Where commands read and write: comment files (with a notice when stdin is
//! a terminal), outputs that are written atomically or to stdout, and the
//! check that no output is one of the inputs.

use super::UsageError;
use crate::atomic_file::{AtomicFile, same_regular_file};
use crate::io::{CommentReader, ReadOptions};
use anyhow::Context;
use std::io::{BufWriter, IsTerminal, StdoutLock, Write};
use std::path::Path;

/// True when `path` means stdin or stdout.
pub fn is_std(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Opens a comments file (`-` for stdin). When stdin is read from a
/// terminal, says so on stderr, so that a bare `moderate score` does not
/// look hung.
pub fn open_comments(path: &Path, opts: &ReadOptions) -> anyhow::Result<CommentReader> {
    if is_std(path) {
        stdin_notice();
    }
    // The reader's errors name the file (and line) already.
    CommentReader::open(path, opts).context("cannot read the input")
}

/// Tells a person at a terminal that standard input is being read.
pub fn stdin_notice() {
    if std::io::stdin().is_terminal() {
        eprintln!(
            "moderate: reading comments from standard input, one per line; end with Ctrl-D \
             (or give a file: `moderate help` lists the commands)"
        );
    }
}

/// An output: stdout, or a file that replaces its path only when the run
/// succeeds (see [`AtomicFile`]).
pub enum Output {
    /// Standard output, buffered.
    Stdout(BufWriter<StdoutLock<'static>>),
    /// A file written atomically.
    File(AtomicFile),
}

impl Output {
    /// Stdout for `None` or `-`; otherwise starts writing the file, failing
    /// at once (naming it) when it cannot be created.
    pub fn create(path: Option<&Path>) -> crate::Result<Output> {
        Ok(match path {
            Some(p) if !is_std(p) => Output::File(AtomicFile::create(p)?),
            _ => Output::Stdout(BufWriter::with_capacity(1 << 16, std::io::stdout().lock())),
        })
    }

    /// The output's name for messages (`-` for stdout).
    pub fn name(&self) -> &Path {
        match self {
            Output::Stdout(_) => Path::new("-"),
            Output::File(f) => f.path(),
        }
    }

    /// Wraps an error of writing this output with its name.
    pub fn error(&self, e: std::io::Error) -> crate::Error {
        crate::Error::io(self.name(), e)
    }

    /// Flushes stdout, or commits the file into place.
    pub fn finish(self) -> crate::Result<()> {
        match self {
            Output::Stdout(mut s) => s.flush().map_err(|e| crate::Error::io("-", e)),
            Output::File(f) => f.commit(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::Stdout(s) => s.write(buf),
            Output::File(f) => f.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Output::Stdout(s) => s.write_all(buf),
            Output::File(f) => f.write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Stdout(s) => s.flush(),
            Output::File(f) => f.flush(),
        }
    }
}

/// Writes `text` to stdout and flushes it. A closed pipe comes back as an
/// error that [`super::main`] treats as success.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Refuses to run when an output (`(option, path)`) is the same file as an
/// input or as another output: writing it would destroy what is being read.
pub fn refuse_overwriting(inputs: &[&Path], outputs: &[(&str, &Path)]) -> anyhow::Result<()> {
    for (i, &(option, out)) in outputs.iter().enumerate() {
        if is_std(out) {
            continue;
        }
        if let Some(input) = inputs
            .iter()
            .find(|i| !is_std(i) && same_regular_file(i, out))
        {
            return Err(UsageError(format!(
                "{option} {} is the input file {}: writing it would destroy the input; \
                 choose another output file",
                out.display(),
                input.display()
            ))
            .into());
        }
        if let Some((other, _)) = outputs[..i]
            .iter()
            .find(|(_, o)| !is_std(o) && (o == &out || same_regular_file(o, out)))
        {
            return Err(UsageError(format!(
                "{option} {} is also given as {other}; choose different files",
                out.display()
            ))
            .into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_may_not_be_inputs_or_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "id,text\n").unwrap();
        let same = dir.path().join("./in.csv");
        let new = dir.path().join("new.csv");
        let err = refuse_overwriting(&[&input], &[("--out", &same)]).unwrap_err();
        assert!(err.to_string().contains("is the input file"), "{err}");
        assert!(err.downcast_ref::<UsageError>().is_some());
        refuse_overwriting(&[&input], &[("--out", &new)]).unwrap();
        let err =
            refuse_overwriting(&[&input], &[("--out", &new), ("--rejects", &new)]).unwrap_err();
        assert!(err.to_string().contains("is also given as --out"), "{err}");
        let dash = Path::new("-");
        refuse_overwriting(&[dash], &[("--out", dash), ("--rejects", dash)]).unwrap();
    }
}

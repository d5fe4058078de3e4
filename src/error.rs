//! Typed errors for the `moderate` library.
//!
//! Every error that depends on input names what was wrong and, where it comes
//! from a file, which file and line. The CLI adds context with `anyhow` and maps
//! [`Error::is_input_error`] to exit code 2.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed at the operating-system level.
    /// (The OS error is the `source`, shown by error-chain printers.)
    #[error("{path}")]
    Io {
        /// The file involved (`-` for stdin/stdout).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A record or header in an input file is malformed (or the file as a
    /// whole cannot be read as comments; then `line` is 0 and not shown).
    #[error("{}: {message}", location(path, *line))]
    Input {
        /// The file involved (`-` for stdin).
        path: PathBuf,
        /// 1-based line number where the problem starts (0 when not known).
        line: u64,
        /// What is wrong and, where possible, what to do about it.
        message: String,
        /// For a reader that goes on after this record, the line it went on
        /// from, when that is not simply the next record (a CSV quote never
        /// closed swallows the rest of the input; reading resumes on the line
        /// after the one where it opened). Says nothing of what the caller
        /// does: a command that stops at the record skips nothing.
        resumed_at: Option<u64>,
    },

    /// A model file could not be read: wrong format, version or damage.
    #[error("model {path}: {message}")]
    Model {
        /// The model file (or `<built-in>` for the embedded default).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// Training could not proceed with the data or settings given.
    #[error("training: {0}")]
    Training(String),

    /// A setting is out of its valid range.
    #[error("invalid setting: {0}")]
    Config(String),

    /// The store (SQLite file or PostgreSQL database) could not be opened,
    /// migrated, read or written.
    #[error("store {store}: {message}")]
    Store {
        /// Where the store is (a PostgreSQL URL without its password).
        store: String,
        /// What went wrong.
        message: String,
    },
}

/// `path:line`, or `path` alone when the line is not known (0).
fn location(path: &std::path::Path, line: u64) -> String {
    if line == 0 {
        path.display().to_string()
    } else {
        format!("{}:{line}", path.display())
    }
}

impl Error {
    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Builds an [`Error::Input`] for `path` at `line`.
    pub fn input(path: impl Into<PathBuf>, line: u64, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.into(),
            line,
            message: message.into(),
            resumed_at: None,
        }
    }

    /// For an [`Error::Input`] that a command skipped (`--skip-bad`): its
    /// message, and where reading went on when that was not the next record;
    /// for any other error, its text.
    pub fn skipped_reason(&self) -> String {
        match self {
            Error::Input {
                message,
                resumed_at: Some(at),
                ..
            } => format!("{message}; skipped, and reading resumed on line {at}"),
            Error::Input { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    /// Builds an [`Error::Model`] for `path`.
    pub fn model(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Model {
            path: path.into(),
            message: message.into(),
        }
    }

    /// True when the error is the user's input or settings (exit code 2)
    /// rather than an internal failure.
    pub fn is_input_error(&self) -> bool {
        !matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

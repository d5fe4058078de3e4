//! The store: what `moderate serve` and `moderate review` keep, in one
//! database that several server instances can share.
//!
//! Two implementations behind one type, [`Store`]:
//!
//! - **SQLite** (the default): a file beside the server, no set-up. Opened in
//!   WAL mode with `synchronous=FULL` (a committed transaction survives a
//!   crash or power loss) and a busy timeout, so that several processes on
//!   one machine can share the file.
//! - **PostgreSQL**, chosen by a `postgres://` URL, for instances on several
//!   machines.
//!
//! It holds two things:
//!
//! - **decisions**: reviewer decisions (`comments:suggestscore`, `review`,
//!   imported CSV files), each with its labels as `1`, `0` or `-1`
//!   (undecided), its reviewer and time, in the order they were stored.
//!   `train` reads them as it reads a decisions CSV, and `moderate store
//!   export` writes that CSV.
//! - **served flags**: what the server flagged for a comment it scored
//!   (keyed by the digest of the comment's text, with the request's
//!   `clientToken` when it had one), so that a later decision can confirm or
//!   refute those flags.
//!
//! Every call blocks (SQLite is in-process, PostgreSQL is reached with the
//! synchronous `postgres` client): the server calls the store only from its
//! own writer threads, never from the async executor.
//!
//! # Idempotence
//!
//! A decision identical to the latest stored decision for the same id (same
//! labels) is a repeat, e.g. a retried request: it is not stored again.
//! A changed decision is stored, and being later, it wins in `train`.
//!
//! # Schema
//!
//! Versioned migrations ([`schema`]) are applied when a store is opened;
//! a store whose schema is newer than this binary knows is refused.

mod postgres;
pub mod review_log;
pub mod schema;
mod sqlite;
pub mod transfer;

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The store the server and the CLI use when none is named.
pub const DEFAULT_STORE: &str = "moderate.db";

/// Environment variable naming the store (a path or a URL); a PostgreSQL URL
/// with a password belongs there rather than on the command line.
pub const STORE_ENV: &str = "MODERATE_STORE";

/// Where a store is.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user:password@host/db`).
    Postgres(String),
}

impl Location {
    /// Reads a store location: `postgres://...` or `postgresql://...` is
    /// PostgreSQL; `sqlite:PATH` (or `sqlite://PATH`) or any other text is a
    /// SQLite file path.
    pub fn parse(s: &str) -> Result<Location> {
        let s = s.trim();
        if s.is_empty() {
            return Err(Error::Config("the store location is empty".into()));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Location::Postgres(s.to_string()));
        }
        let path = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
            .unwrap_or(s);
        if path.is_empty() {
            return Err(Error::Config(format!("`{s}`: no SQLite file path")));
        }
        Ok(Location::Sqlite(PathBuf::from(path)))
    }

    /// True when `s` names a store rather than a comments file: a
    /// PostgreSQL URL, a `sqlite:` location, or a path ending in `.db`,
    /// `.sqlite` or `.sqlite3` (how `train --data` tells them apart).
    pub fn looks_like_store(s: &str) -> bool {
        let lower = s.trim().to_ascii_lowercase();
        lower.starts_with("postgres://")
            || lower.starts_with("postgresql://")
            || lower.starts_with("sqlite:")
            || [".db", ".sqlite", ".sqlite3"]
                .iter()
                .any(|ext| lower.ends_with(ext))
    }

    /// Which kind of store: `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Location::Sqlite(_) => "sqlite",
            Location::Postgres(_) => "postgres",
        }
    }
}

/// Shown without a PostgreSQL URL's password.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            Location::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `url` with the password between `user:` and `@` replaced by `***`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// A label's decided value: `Some(true)` is 1, `Some(false)` 0, `None` -1
/// (undecided; `train` reads it as unlabelled).
pub type LabelValue = Option<bool>;

/// A decision to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDecision {
    /// The comment's id (`clientToken` for feedback, the input's id for
    /// `review`).
    pub id: String,
    /// The comment text.
    pub text: String,
    /// Each label's decided value, by label name.
    pub labels: BTreeMap<String, LabelValue>,
    /// Who decided.
    pub reviewer: String,
    /// When, RFC 3339 UTC.
    pub decided_at: String,
    /// Where it came from: `suggestscore`, `review`, `import:<file>`.
    pub origin: String,
    /// What the server had flagged for the comment when the decision came
    /// (see [`ServedFlags`]), as stored with the decision; `None` when it
    /// had no record.
    pub served: Option<ServedFlags>,
    /// Which stored decisions make this one a repeat.
    pub dedupe: Dedupe,
}

/// When a decision is a repeat, not stored again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedupe {
    /// When the latest decision stored for its id has the same labels (a
    /// retried request; a changed mind that changes back is stored again).
    Latest,
    /// As `Latest`, or when the same decision (id, labels, reviewer and
    /// time) is stored anywhere: importing a file twice, or an older file
    /// after a newer one, stores nothing twice.
    Anywhere,
    /// Never a repeat (a reviewer's key press in `review`, which undo may
    /// take back).
    Never,
}

/// What happened to a decision given to [`Store::record_decisions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored as a new row with this sequence number.
    Stored(i64),
    /// Identical to the latest decision stored for its id: not stored
    /// again.
    Repeat,
}

/// A decision read back from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDecision {
    /// Order of storing (increasing).
    pub seq: i64,
    /// The comment's id.
    pub id: String,
    /// The comment text.
    pub text: String,
    /// Each label's decided value, by label name.
    pub labels: BTreeMap<String, LabelValue>,
    /// Who decided.
    pub reviewer: String,
    /// When, RFC 3339 UTC.
    pub decided_at: String,
    /// Where it came from.
    pub origin: String,
    /// What the server had flagged, if it had a record.
    pub served: Option<ServedFlags>,
}

/// What the server flagged for one comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedFlags {
    /// `sha256:` and 16 hex digits of the comment's text (as the model read
    /// it; see [`text_digest`]).
    pub digest: String,
    /// The request's `clientToken`, when it had one.
    pub client_token: Option<String>,
    /// Per label, whether the server flagged it.
    pub flags: BTreeMap<String, bool>,
    /// The model version that scored it.
    pub model: String,
    /// When, RFC 3339 UTC.
    pub served_at: String,
}

/// Counts of what a store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// The schema version.
    pub schema: u32,
    /// Decision rows.
    pub decisions: u64,
    /// Distinct ids with a decision.
    pub decided_ids: u64,
    /// Comments with a served-flags record.
    pub served: u64,
}

/// The digest that keys a comment's served flags: `sha256:` and the first
/// 16 hex digits of the SHA-256 of `text` (the same id feedback without a
/// `clientToken` gets).
pub fn text_digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Labels as stored: a JSON object with sorted keys, values 1, 0 or -1
/// (equal decisions give equal text, which is how repeats are found).
pub(crate) fn labels_json(labels: &BTreeMap<String, LabelValue>) -> String {
    let values: BTreeMap<&str, i8> = labels
        .iter()
        .map(|(k, v)| {
            (
                k.as_str(),
                match v {
                    Some(true) => 1,
                    Some(false) => 0,
                    None => -1,
                },
            )
        })
        .collect();
    serde_json::to_string(&values).unwrap_or_else(|_| "{}".into())
}

/// Reads [`labels_json`] back.
pub(crate) fn parse_labels(s: &str) -> std::result::Result<BTreeMap<String, LabelValue>, String> {
    let values: BTreeMap<String, i64> =
        serde_json::from_str(s).map_err(|e| format!("labels `{s}`: {e}"))?;
    values
        .into_iter()
        .map(|(k, v)| match v {
            1 => Ok((k, Some(true))),
            0 => Ok((k, Some(false))),
            -1 => Ok((k, None)),
            other => Err(format!("label {k} has value {other}")),
        })
        .collect()
}

/// Served flags as stored: a JSON object label -> bool, sorted keys.
pub(crate) fn flags_json(flags: &BTreeMap<String, bool>) -> String {
    serde_json::to_string(flags).unwrap_or_else(|_| "{}".into())
}

/// Reads [`flags_json`] back.
pub(crate) fn parse_flags(s: &str) -> std::result::Result<BTreeMap<String, bool>, String> {
    serde_json::from_str(s).map_err(|e| format!("flags `{s}`: {e}"))
}

/// The stored form of a decision's served flags: `model|{flags}` (the
/// digest and token are the decision's own), or `None`.
pub(crate) fn served_column(served: Option<&ServedFlags>) -> Option<String> {
    served.map(|s| format!("{}|{}|{}", s.model, s.served_at, flags_json(&s.flags)))
}

/// Reads [`served_column`] back.
pub(crate) fn parse_served_column(
    s: Option<String>,
    id: &str,
    text: &str,
) -> std::result::Result<Option<ServedFlags>, String> {
    let Some(s) = s else { return Ok(None) };
    let mut parts = s.splitn(3, '|');
    let (Some(model), Some(served_at), Some(flags)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("served column `{s}` is malformed"));
    };
    Ok(Some(ServedFlags {
        digest: text_digest(text),
        client_token: Some(id.to_string()),
        flags: parse_flags(flags)?,
        model: model.to_string(),
        served_at: served_at.to_string(),
    }))
}

enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// An open store (one connection). Not shared between threads: each thread
/// that needs the store opens its own.
pub struct Store {
    location: Location,
    backend: Backend,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// An [`Error::Store`] for `location`.
pub(crate) fn store_error(location: &Location, message: impl fmt::Display) -> Error {
    Error::Store {
        store: location.to_string(),
        message: message.to_string(),
    }
}

impl Store {
    /// Opens (creating a SQLite file if needed) the store at `location` and
    /// brings its schema up to date. Fails when it cannot be reached or its
    /// schema is newer than this binary knows.
    pub fn open(location: &Location) -> Result<Store> {
        let backend = match location {
            Location::Sqlite(path) => Backend::Sqlite(sqlite::SqliteStore::open(path, location)?),
            Location::Postgres(url) => Backend::Postgres(postgres::PgStore::open(url, location)?),
        };
        Ok(Store {
            location: location.clone(),
            backend,
        })
    }

    /// Opens the store named by `s` (see [`Location::parse`]).
    pub fn open_str(s: &str) -> Result<Store> {
        Store::open(&Location::parse(s)?)
    }

    /// Where this store is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Lets this connection's commits return before they reach the disk
    /// (SQLite `synchronous=NORMAL` in WAL mode: safe against a crash of the
    /// process, not a power cut; PostgreSQL `synchronous_commit=off`). For
    /// advisory data only, such as served flags; decisions keep the
    /// default, durable commits.
    pub fn relax_durability(&mut self) -> Result<()> {
        let location = &self.location;
        match &mut self.backend {
            Backend::Sqlite(s) => s.relax_durability(),
            Backend::Postgres(s) => s.relax_durability(),
        }
        .map_err(|e| store_error(location, e))
    }

    /// Stores `batch` in one transaction, in order. A decision identical to
    /// the latest one stored for its id (including one earlier in the
    /// batch) is a [`Recorded::Repeat`]. When this returns `Ok`, every
    /// decision is committed.
    pub fn record_decisions(&mut self, batch: &[NewDecision]) -> Result<Vec<Recorded>> {
        let location = &self.location;
        match &mut self.backend {
            Backend::Sqlite(s) => s.record_decisions(batch),
            Backend::Postgres(s) => s.record_decisions(batch),
        }
        .map_err(|e| store_error(location, e))
    }

    /// Records what the server flagged, one transaction for the batch; a
    /// comment already recorded (same digest) gets the newer record.
    pub fn record_served(&mut self, batch: &[ServedFlags]) -> Result<()> {
        let location = &self.location;
        match &mut self.backend {
            Backend::Sqlite(s) => s.record_served(batch),
            Backend::Postgres(s) => s.record_served(batch),
        }
        .map_err(|e| store_error(location, e))
    }

    /// For each `(digest, clientToken)`, what the server flagged for that
    /// comment: the record with that text digest, else the latest one with
    /// that `clientToken`.
    pub fn served_flags(
        &mut self,
        keys: &[(String, Option<String>)],
    ) -> Result<Vec<Option<ServedFlags>>> {
        let location = &self.location;
        match &mut self.backend {
            Backend::Sqlite(s) => s.served_flags(keys),
            Backend::Postgres(s) => s.served_flags(keys),
        }
        .map_err(|e| store_error(location, e))
    }

    /// Deletes served-flags records older than `before` (RFC 3339 UTC);
    /// returns how many.
    pub fn prune_served(&mut self, before: &str) -> Result<u64> {
        let location = &self.location;
        match &mut self.backend {
            Backend::Sqlite(s) => s.prune_served(before),
            Backend::Postgres(s) => s.prune_served(before),
        }
        .map_err(|e| store_error(location, e))
    }

    /// Calls `f` with every decision, in the order they were stored;
    /// returns how many.
    pub fn for_each_decision(
        &mut self,
        f: &mut dyn FnMut(StoredDecision) -> Result<()>,
    ) -> Result<u64> {
        let location = self.location.clone();
        let mut inner_error = None;
        let mut wrapped = |d: StoredDecision| -> std::result::Result<(), String> {
            f(d).map_err(|e| {
                let message = e.to_string();
                inner_error = Some(e);
                message
            })
        };
        let outcome = match &mut self.backend {
            Backend::Sqlite(s) => s.for_each_decision(&mut wrapped),
            Backend::Postgres(s) => s.for_each_decision(&mut wrapped),
        };
        match (outcome, inner_error) {
            (Ok(n), _) => Ok(n),
            (Err(_), Some(e)) => Err(e),
            (Err(e), None) => Err(store_error(&location, e)),
        }
    }

    /// Removes the decision with sequence number `seq` (review's undo);
    /// returns whether there was one.
    pub fn delete_decision(&mut self, seq: i64) -> Result<bool> {
        let location = &self.location;
        match &mut self.backend {
            Backend::Sqlite(s) => s.delete_decision(seq),
            Backend::Postgres(s) => s.delete_decision(seq),
        }
        .map_err(|e| store_error(location, e))
    }

    /// What the store holds.
    pub fn summary(&mut self) -> Result<Summary> {
        let location = &self.location;
        match &mut self.backend {
            Backend::Sqlite(s) => s.summary(),
            Backend::Postgres(s) => s.summary(),
        }
        .map_err(|e| store_error(location, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_hide_passwords() {
        assert_eq!(
            Location::parse("moderate.db").unwrap(),
            Location::Sqlite("moderate.db".into())
        );
        assert_eq!(
            Location::parse("sqlite:/var/lib/m.db").unwrap(),
            Location::Sqlite("/var/lib/m.db".into())
        );
        assert_eq!(
            Location::parse("sqlite:///var/lib/m.db").unwrap(),
            Location::Sqlite("/var/lib/m.db".into())
        );
        let pg = Location::parse("postgres://app:s3cret@db.example:5432/moderate").unwrap();
        assert_eq!(pg.kind(), "postgres");
        assert_eq!(
            pg.to_string(),
            "postgres://app:***@db.example:5432/moderate"
        );
        assert!(!format!("{pg:?}").contains("s3cret"));
        assert_eq!(
            Location::parse("postgresql://app@h/db")
                .unwrap()
                .to_string(),
            "postgresql://app@h/db"
        );
        assert!(Location::parse(" ").is_err());
        assert!(Location::parse("sqlite:").is_err());
        assert!(Location::looks_like_store("moderate.db"));
        assert!(Location::looks_like_store("postgres://h/db"));
        assert!(Location::looks_like_store("sqlite:x"));
        assert!(!Location::looks_like_store("decisions.csv"));
    }

    #[test]
    fn labels_round_trip_canonically() {
        let mut a = BTreeMap::new();
        a.insert("violent".to_string(), None);
        a.insert("abusive".to_string(), Some(true));
        let s = labels_json(&a);
        assert_eq!(s, r#"{"abusive":1,"violent":-1}"#);
        assert_eq!(parse_labels(&s).unwrap(), a);
        assert!(parse_labels(r#"{"abusive":2}"#).is_err());
        assert!(parse_labels("nope").is_err());
        assert_eq!(text_digest("Fine point").len(), 23);
    }
}

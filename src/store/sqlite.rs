//! The SQLite store: one file, WAL mode, `synchronous=FULL`, and a busy
//! timeout so that several processes on one machine can write to it (their
//! write transactions take turns).

use super::schema::{self, SCHEMA_TABLE};
use super::{
    Dedupe, Location, NewDecision, Recorded, ServedFlags, StoredDecision, Summary, labels_json,
    parse_flags, parse_labels, parse_served_column, served_column,
};
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::time::Duration;

/// How long a write waits for another process's transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

type Res<T> = std::result::Result<T, String>;

fn msg(e: rusqlite::Error) -> String {
    e.to_string()
}

/// A connection to a SQLite store.
pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (or creates) the file, sets it up for sharing and durability,
    /// and migrates it.
    pub fn open(path: &Path, location: &Location) -> Result<Self> {
        let fail = |e: String| super::store_error(location, e);
        let conn = Connection::open(path).map_err(|e| fail(msg(e)))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| fail(msg(e)))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(|e| fail(format!("cannot use it as a SQLite database: {e}")))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(fail(format!(
                "cannot switch it to WAL mode (journal mode stays `{mode}`)"
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| fail(msg(e)))?;
        let mut store = SqliteStore { conn };
        store.migrate().map_err(fail)?;
        Ok(store)
    }

    /// Applies the pending migrations (see [`schema`]).
    fn migrate(&mut self) -> Res<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(msg)?;
        tx.execute_batch(SCHEMA_TABLE).map_err(msg)?;
        let found: u32 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM moderate_schema",
                [],
                |r| r.get(0),
            )
            .map_err(msg)?;
        for m in schema::pending(found)? {
            tx.execute_batch(m.sqlite)
                .map_err(|e| format!("migration {}: {e}", m.version))?;
            tx.execute(
                "INSERT INTO moderate_schema (version, description, applied_at) VALUES (?1, ?2, ?3)",
                params![m.version, m.description, now()],
            )
            .map_err(msg)?;
        }
        tx.commit().map_err(msg)
    }

    pub fn relax_durability(&mut self) -> Res<()> {
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(msg)
    }

    pub fn record_decisions(&mut self, batch: &[NewDecision]) -> Res<Vec<Recorded>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(msg)?;
        let mut out = Vec::with_capacity(batch.len());
        {
            let mut latest = tx
                .prepare_cached(
                    "SELECT labels FROM decisions WHERE id = ?1 ORDER BY seq DESC LIMIT 1",
                )
                .map_err(msg)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO decisions (id, text, labels, reviewer, decided_at, origin, served) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(msg)?;
            let mut exact = tx
                .prepare_cached(
                    "SELECT 1 FROM decisions WHERE id = ?1 AND labels = ?2 AND reviewer = ?3 \
                     AND decided_at = ?4 LIMIT 1",
                )
                .map_err(msg)?;
            for d in batch {
                let labels = labels_json(&d.labels);
                let previous: Option<String> = latest
                    .query_row(params![d.id], |r| r.get(0))
                    .optional()
                    .map_err(msg)?;
                let stored_before = d.dedupe == Dedupe::Anywhere
                    && exact
                        .exists(params![d.id, labels, d.reviewer, d.decided_at])
                        .map_err(msg)?;
                let repeat = previous.as_deref() == Some(labels.as_str()) || stored_before;
                if repeat && d.dedupe != Dedupe::Never {
                    out.push(Recorded::Repeat);
                    continue;
                }
                insert
                    .execute(params![
                        d.id,
                        d.text,
                        labels,
                        d.reviewer,
                        d.decided_at,
                        d.origin,
                        served_column(d.served.as_ref())
                    ])
                    .map_err(msg)?;
                out.push(Recorded::Stored(tx.last_insert_rowid()));
            }
        }
        tx.commit().map_err(msg)?;
        Ok(out)
    }

    pub fn record_served(&mut self, batch: &[ServedFlags]) -> Res<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(msg)?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO served_flags (digest, client_token, flags, model, served_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (digest) DO UPDATE SET \
                     client_token = COALESCE(excluded.client_token, served_flags.client_token), \
                     flags = excluded.flags, model = excluded.model, served_at = excluded.served_at",
                )
                .map_err(msg)?;
            for s in batch {
                upsert
                    .execute(params![
                        s.digest,
                        s.client_token,
                        super::flags_json(&s.flags),
                        s.model,
                        s.served_at
                    ])
                    .map_err(msg)?;
            }
        }
        tx.commit().map_err(msg)
    }

    pub fn served_flags(
        &mut self,
        keys: &[(String, Option<String>)],
    ) -> Res<Vec<Option<ServedFlags>>> {
        let mut by_digest = self
            .conn
            .prepare_cached(
                "SELECT digest, client_token, flags, model, served_at FROM served_flags WHERE digest = ?1",
            )
            .map_err(msg)?;
        let mut out = Vec::with_capacity(keys.len());
        for (digest, token) in keys {
            let mut found = by_digest
                .query_row(params![digest], row_to_served)
                .optional()
                .map_err(msg)?;
            if found.is_none()
                && let Some(token) = token
            {
                let mut by_token = self
                    .conn
                    .prepare_cached(
                        "SELECT digest, client_token, flags, model, served_at FROM served_flags \
                         WHERE client_token = ?1 ORDER BY served_at DESC LIMIT 1",
                    )
                    .map_err(msg)?;
                found = by_token
                    .query_row(params![token], row_to_served)
                    .optional()
                    .map_err(msg)?;
            }
            out.push(found.transpose()?);
        }
        Ok(out)
    }

    pub fn prune_served(&mut self, before: &str) -> Res<u64> {
        self.conn
            .execute(
                "DELETE FROM served_flags WHERE served_at < ?1",
                params![before],
            )
            .map(|n| n as u64)
            .map_err(msg)
    }

    pub fn for_each_decision(&mut self, f: &mut dyn FnMut(StoredDecision) -> Res<()>) -> Res<u64> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, id, text, labels, reviewer, decided_at, origin, served FROM decisions \
                 ORDER BY seq",
            )
            .map_err(msg)?;
        let mut rows = stmt.query([]).map_err(msg)?;
        let mut n = 0u64;
        while let Some(row) = rows.next().map_err(msg)? {
            let seq: i64 = row.get(0).map_err(msg)?;
            let id: String = row.get(1).map_err(msg)?;
            let text: String = row.get(2).map_err(msg)?;
            let labels: String = row.get(3).map_err(msg)?;
            let served: Option<String> = row.get(7).map_err(msg)?;
            let served = parse_served_column(served, &id, &text)
                .map_err(|e| format!("decision {seq}: {e}"))?;
            let d = StoredDecision {
                seq,
                labels: parse_labels(&labels).map_err(|e| format!("decision {seq}: {e}"))?,
                reviewer: row.get(4).map_err(msg)?,
                decided_at: row.get(5).map_err(msg)?,
                origin: row.get(6).map_err(msg)?,
                served,
                id,
                text,
            };
            f(d)?;
            n += 1;
        }
        Ok(n)
    }

    pub fn delete_decision(&mut self, seq: i64) -> Res<bool> {
        self.conn
            .execute("DELETE FROM decisions WHERE seq = ?1", params![seq])
            .map(|n| n > 0)
            .map_err(msg)
    }

    pub fn summary(&mut self) -> Res<Summary> {
        let one = |sql: &str| -> Res<u64> {
            self.conn
                .query_row(sql, [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(msg)
        };
        Ok(Summary {
            schema: one("SELECT COALESCE(MAX(version), 0) FROM moderate_schema")? as u32,
            decisions: one("SELECT COUNT(*) FROM decisions")?,
            decided_ids: one("SELECT COUNT(DISTINCT id) FROM decisions")?,
            served: one("SELECT COUNT(*) FROM served_flags")?,
        })
    }
}

/// A `served_flags` row.
fn row_to_served(r: &rusqlite::Row<'_>) -> rusqlite::Result<Res<ServedFlags>> {
    let flags: String = r.get(2)?;
    Ok(match parse_flags(&flags) {
        Ok(flags) => Ok(ServedFlags {
            digest: r.get(0)?,
            client_token: r.get(1)?,
            flags,
            model: r.get(3)?,
            served_at: r.get(4)?,
        }),
        Err(e) => Err(e),
    })
}

fn now() -> String {
    crate::review::rfc3339_utc(std::time::SystemTime::now())
}

//! The PostgreSQL store, for several instances on several machines.
//!
//! Reached with the synchronous `postgres` client, so it must be used from
//! an ordinary thread (the server's writer threads), never from inside the
//! async runtime. Concurrent writers of one id are serialised with
//! transaction-level advisory locks taken in a fixed order, so that a
//! retried decision arriving at two instances at once is stored once.

use super::schema::{self, SCHEMA_TABLE};
use super::{
    Dedupe, Location, NewDecision, Recorded, ServedFlags, StoredDecision, Summary, flags_json,
    labels_json, parse_flags, parse_labels, parse_served_column, served_column,
};
use crate::error::Result;
use postgres::{Client, NoTls};
use std::collections::HashMap;
use std::time::Duration;

/// The advisory lock that serialises migrations ("moderate" in ASCII).
const MIGRATION_LOCK: i64 = 0x6d6f_6465_7261_7465;

type Res<T> = std::result::Result<T, String>;

fn msg(e: postgres::Error) -> String {
    // The server's own message (e.g. "relation ... does not exist") is in
    // the source; the top level says only "db error".
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

/// A connection to a PostgreSQL store.
pub struct PgStore {
    client: Client,
}

impl PgStore {
    /// Connects (10 s timeout unless the URL sets one) and migrates.
    pub fn open(url: &str, location: &Location) -> Result<Self> {
        let fail = |e: String| super::store_error(location, e);
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| fail(format!("not a PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("moderate");
        }
        let client = config
            .connect(NoTls)
            .map_err(|e| fail(format!("cannot connect: {}", msg(e))))?;
        let mut store = PgStore { client };
        store.migrate().map_err(fail)?;
        Ok(store)
    }

    /// Applies the pending migrations (see [`schema`]).
    fn migrate(&mut self) -> Res<()> {
        let mut tx = self.client.transaction().map_err(msg)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(msg)?;
        tx.batch_execute(SCHEMA_TABLE).map_err(msg)?;
        let found: i32 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM moderate_schema", &[])
            .map_err(msg)?
            .get(0);
        for m in schema::pending(found.max(0) as u32)? {
            tx.batch_execute(m.postgres)
                .map_err(|e| format!("migration {}: {}", m.version, msg(e)))?;
            tx.execute(
                "INSERT INTO moderate_schema (version, description, applied_at) VALUES ($1, $2, $3)",
                &[&(m.version as i32), &m.description, &now()],
            )
            .map_err(msg)?;
        }
        tx.commit().map_err(msg)
    }

    pub fn relax_durability(&mut self) -> Res<()> {
        self.client
            .batch_execute("SET synchronous_commit = off")
            .map_err(msg)
    }

    pub fn record_decisions(&mut self, batch: &[NewDecision]) -> Res<Vec<Recorded>> {
        let mut tx = self.client.transaction().map_err(msg)?;
        let ids: Vec<&str> = batch.iter().map(|d| d.id.as_str()).collect();
        // One lock per id, taken in hash order by every instance.
        tx.execute(
            "SELECT pg_advisory_xact_lock(h) FROM \
             (SELECT DISTINCT hashtextextended(x, 25) AS h FROM unnest($1::text[]) AS x ORDER BY h) AS locks",
            &[&ids],
        )
        .map_err(msg)?;
        let insert = tx
            .prepare(
                "INSERT INTO decisions (id, text, labels, reviewer, decided_at, origin, served) \
                 SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text \
                 WHERE ($9::boolean OR $3::text IS DISTINCT FROM \
                 (SELECT labels FROM decisions WHERE id = $1::text ORDER BY seq DESC LIMIT 1)) \
                 AND NOT ($8::boolean AND EXISTS (SELECT 1 FROM decisions WHERE id = $1::text \
                 AND labels = $3::text AND reviewer = $4::text AND decided_at = $5::text)) \
                 RETURNING seq",
            )
            .map_err(msg)?;
        let mut out = Vec::with_capacity(batch.len());
        for d in batch {
            let labels = labels_json(&d.labels);
            let served = served_column(d.served.as_ref());
            let rows = tx
                .query(
                    &insert,
                    &[
                        &d.id,
                        &d.text,
                        &labels,
                        &d.reviewer,
                        &d.decided_at,
                        &d.origin,
                        &served,
                        &(d.dedupe == Dedupe::Anywhere),
                        &(d.dedupe == Dedupe::Never),
                    ],
                )
                .map_err(msg)?;
            out.push(match rows.first() {
                Some(row) => Recorded::Stored(row.get(0)),
                None => Recorded::Repeat,
            });
        }
        tx.commit().map_err(msg)?;
        Ok(out)
    }

    pub fn record_served(&mut self, batch: &[ServedFlags]) -> Res<()> {
        // One row per digest (the last wins), as one statement.
        let mut last: HashMap<&str, &ServedFlags> = HashMap::new();
        for s in batch {
            last.insert(s.digest.as_str(), s);
        }
        let rows: Vec<&ServedFlags> = last.into_values().collect();
        let digests: Vec<&str> = rows.iter().map(|s| s.digest.as_str()).collect();
        let tokens: Vec<Option<&str>> = rows.iter().map(|s| s.client_token.as_deref()).collect();
        let flags: Vec<String> = rows.iter().map(|s| flags_json(&s.flags)).collect();
        let models: Vec<&str> = rows.iter().map(|s| s.model.as_str()).collect();
        let times: Vec<&str> = rows.iter().map(|s| s.served_at.as_str()).collect();
        self.client
            .execute(
                "INSERT INTO served_flags (digest, client_token, flags, model, served_at) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
                 ON CONFLICT (digest) DO UPDATE SET \
                 client_token = COALESCE(excluded.client_token, served_flags.client_token), \
                 flags = excluded.flags, model = excluded.model, served_at = excluded.served_at",
                &[&digests, &tokens, &flags, &models, &times],
            )
            .map(|_| ())
            .map_err(msg)
    }

    pub fn served_flags(
        &mut self,
        keys: &[(String, Option<String>)],
    ) -> Res<Vec<Option<ServedFlags>>> {
        let digests: Vec<&str> = keys.iter().map(|(d, _)| d.as_str()).collect();
        let mut by_digest: HashMap<String, ServedFlags> = HashMap::new();
        for row in self
            .client
            .query(
                "SELECT digest, client_token, flags, model, served_at FROM served_flags \
                 WHERE digest = ANY($1::text[])",
                &[&digests],
            )
            .map_err(msg)?
        {
            let s = row_to_served(&row)?;
            by_digest.insert(s.digest.clone(), s);
        }
        let tokens: Vec<&str> = keys
            .iter()
            .filter(|(d, _)| !by_digest.contains_key(d))
            .filter_map(|(_, t)| t.as_deref())
            .collect();
        let mut by_token: HashMap<String, ServedFlags> = HashMap::new();
        if !tokens.is_empty() {
            for row in self
                .client
                .query(
                    "SELECT DISTINCT ON (client_token) digest, client_token, flags, model, served_at \
                     FROM served_flags WHERE client_token = ANY($1::text[]) \
                     ORDER BY client_token, served_at DESC",
                    &[&tokens],
                )
                .map_err(msg)?
            {
                let s = row_to_served(&row)?;
                if let Some(t) = s.client_token.clone() {
                    by_token.insert(t, s);
                }
            }
        }
        Ok(keys
            .iter()
            .map(|(d, t)| {
                by_digest
                    .get(d)
                    .or_else(|| t.as_ref().and_then(|t| by_token.get(t)))
                    .cloned()
            })
            .collect())
    }

    pub fn prune_served(&mut self, before: &str) -> Res<u64> {
        self.client
            .execute("DELETE FROM served_flags WHERE served_at < $1", &[&before])
            .map_err(msg)
    }

    pub fn for_each_decision(&mut self, f: &mut dyn FnMut(StoredDecision) -> Res<()>) -> Res<u64> {
        let mut tx = self.client.transaction().map_err(msg)?;
        let portal = tx
            .bind(
                "SELECT seq, id, text, labels, reviewer, decided_at, origin, served FROM decisions \
                 ORDER BY seq",
                &[],
            )
            .map_err(msg)?;
        let mut n = 0u64;
        loop {
            let rows = tx.query_portal(&portal, 2000).map_err(msg)?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                let seq: i64 = row.get(0);
                let id: String = row.get(1);
                let text: String = row.get(2);
                let labels: String = row.get(3);
                let served = parse_served_column(row.get(7), &id, &text)
                    .map_err(|e| format!("decision {seq}: {e}"))?;
                f(StoredDecision {
                    seq,
                    labels: parse_labels(&labels).map_err(|e| format!("decision {seq}: {e}"))?,
                    reviewer: row.get(4),
                    decided_at: row.get(5),
                    origin: row.get(6),
                    served,
                    id,
                    text,
                })?;
                n += 1;
            }
        }
        tx.commit().map_err(msg)?;
        Ok(n)
    }

    pub fn delete_decision(&mut self, seq: i64) -> Res<bool> {
        self.client
            .execute("DELETE FROM decisions WHERE seq = $1", &[&seq])
            .map(|n| n > 0)
            .map_err(msg)
    }

    pub fn summary(&mut self) -> Res<Summary> {
        let row = self
            .client
            .query_one(
                "SELECT (SELECT COALESCE(MAX(version), 0) FROM moderate_schema), \
                 (SELECT COUNT(*) FROM decisions), (SELECT COUNT(DISTINCT id) FROM decisions), \
                 (SELECT COUNT(*) FROM served_flags)",
                &[],
            )
            .map_err(msg)?;
        let schema: i32 = row.get(0);
        let count = |i: usize| row.get::<_, i64>(i).max(0) as u64;
        Ok(Summary {
            schema: schema.max(0) as u32,
            decisions: count(1),
            decided_ids: count(2),
            served: count(3),
        })
    }
}

/// A `served_flags` row.
fn row_to_served(row: &postgres::Row) -> Res<ServedFlags> {
    let flags: String = row.get(2);
    Ok(ServedFlags {
        digest: row.get(0),
        client_token: row.get(1),
        flags: parse_flags(&flags)?,
        model: row.get(3),
        served_at: row.get(4),
    })
}

fn now() -> String {
    crate::review::rfc3339_utc(std::time::SystemTime::now())
}

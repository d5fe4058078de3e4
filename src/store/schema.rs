//! The store's schema as numbered migrations.
//!
//! The table `moderate_schema` has one row per migration applied (version,
//! description, time). On open, in one transaction that also keeps a second
//! process out (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction-level
//! advisory lock), the store reads the highest version applied, refuses a
//! version newer than [`LATEST`] (a newer binary wrote it: its data may not
//! be what this binary expects), and applies the missing migrations in
//! order. A migration is never edited once released; a change is a new
//! migration.

/// One schema step, written for each backend.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its number; migrations are applied in increasing order.
    pub version: u32,
    /// What it does.
    pub description: &'static str,
    /// The SQL for SQLite.
    pub sqlite: &'static str,
    /// The SQL for PostgreSQL.
    pub postgres: &'static str,
}

/// The table recording applied migrations (the same SQL for both
/// backends).
pub const SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS moderate_schema (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
)";

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "decisions: one row per reviewer decision, in the order stored",
        sqlite: "CREATE TABLE decisions (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL,
                text TEXT NOT NULL,
                labels TEXT NOT NULL,
                reviewer TEXT NOT NULL,
                decided_at TEXT NOT NULL,
                origin TEXT NOT NULL
            );
            CREATE INDEX decisions_by_id ON decisions (id, seq);",
        postgres: "CREATE TABLE decisions (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id TEXT NOT NULL,
                text TEXT NOT NULL,
                labels TEXT NOT NULL,
                reviewer TEXT NOT NULL,
                decided_at TEXT NOT NULL,
                origin TEXT NOT NULL
            );
            CREATE INDEX decisions_by_id ON decisions (id, seq);",
    },
    Migration {
        version: 2,
        description: "served flags: what the server flagged per comment, and on each decision",
        sqlite: SERVED_FLAGS,
        postgres: SERVED_FLAGS,
    },
];

/// Migration 2, the same in both dialects.
const SERVED_FLAGS: &str = "CREATE TABLE served_flags (
                digest TEXT PRIMARY KEY,
                client_token TEXT,
                flags TEXT NOT NULL,
                model TEXT NOT NULL,
                served_at TEXT NOT NULL
            );
            CREATE INDEX served_flags_by_token ON served_flags (client_token);
            CREATE INDEX served_flags_by_time ON served_flags (served_at);
            ALTER TABLE decisions ADD COLUMN served TEXT;";

/// The newest schema version this binary knows.
pub const LATEST: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// The migrations to apply to a store at `found`, or the message refusing
/// a store newer than this binary.
pub fn pending(found: u32) -> Result<&'static [Migration], String> {
    if found > LATEST {
        return Err(format!(
            "its schema is version {found}, newer than this moderate knows ({LATEST}); \
             a newer moderate wrote it: use that version (or a newer one) with this store"
        ));
    }
    let start = MIGRATIONS
        .iter()
        .position(|m| m.version > found)
        .unwrap_or(MIGRATIONS.len());
    Ok(&MIGRATIONS[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_newer_schemas_are_refused() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
        }
        assert_eq!(pending(0).unwrap().len(), MIGRATIONS.len());
        assert_eq!(pending(1).unwrap()[0].version, 2);
        assert!(pending(LATEST).unwrap().is_empty());
        let e = pending(LATEST + 1).unwrap_err();
        assert!(e.contains("newer than this moderate knows"), "{e}");
    }
}

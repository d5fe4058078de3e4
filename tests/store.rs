//! The store against real databases: SQLite always, PostgreSQL when
//! `MODERATE_TEST_POSTGRES` names a server (a URL to a database the test
//! may create databases from; `.ci/run` starts one on loopback). Under CI
//! (`CI` set) a missing PostgreSQL fails instead of skipping.

use moderate::store::transfer::{CsvDecisions, decisions_as_comments, export};
use moderate::store::{
    Dedupe, Location, NewDecision, Recorded, ServedFlags, Store, schema, text_digest,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

fn decision(id: &str, abusive: Option<bool>, violent: Option<bool>) -> NewDecision {
    let mut labels = BTreeMap::new();
    labels.insert("abusive".to_string(), abusive);
    labels.insert("violent".to_string(), violent);
    NewDecision {
        id: id.to_string(),
        text: format!("text of {id}, with \"quotes\"\nand a line"),
        labels,
        reviewer: "Coral:https://news.example".to_string(),
        decided_at: "2026-12-05T10:00:00Z".to_string(),
        origin: "suggestscore".to_string(),
        served: None,
        dedupe: Dedupe::Latest,
    }
}

fn served(text: &str, token: Option<&str>, violent: bool, at: &str) -> ServedFlags {
    let mut flags = BTreeMap::new();
    flags.insert("abusive".to_string(), false);
    flags.insert("violent".to_string(), violent);
    ServedFlags {
        digest: text_digest(text),
        client_token: token.map(str::to_string),
        flags,
        model: "01f82d49657f".to_string(),
        served_at: at.to_string(),
    }
}

fn export_text(store: &mut Store) -> String {
    let mut out = Vec::new();
    export(store, &["abusive".into(), "violent".into()], &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// What every backend must do.
fn exercise(location: &Location) {
    let mut store = Store::open(location).unwrap();
    assert_eq!(store.summary().unwrap().schema, schema::LATEST);
    // A batch: a repeat inside it is stored once.
    let batch = vec![
        decision("comment:1", Some(true), None),
        decision("comment:2", Some(false), Some(false)),
        decision("comment:1", Some(true), None),
    ];
    let r = store.record_decisions(&batch).unwrap();
    assert!(matches!(r[0], Recorded::Stored(_)));
    assert!(matches!(r[1], Recorded::Stored(_)));
    assert_eq!(r[2], Recorded::Repeat);
    // A retry later: stored once. A changed decision: stored, and later.
    assert_eq!(
        store.record_decisions(&batch[..1]).unwrap(),
        vec![Recorded::Repeat]
    );
    let changed = decision("comment:1", Some(false), None);
    let Recorded::Stored(seq) = store
        .record_decisions(std::slice::from_ref(&changed))
        .unwrap()[0]
    else {
        panic!("a changed decision is stored");
    };
    // Back to the first decision: it is no longer the latest, so it is
    // stored again (and wins in train, being last).
    assert!(matches!(
        store.record_decisions(&batch[..1]).unwrap()[0],
        Recorded::Stored(s) if s > seq
    ));
    // An import of an older decision that is stored already: not again.
    let mut older = changed.clone();
    older.dedupe = Dedupe::Anywhere;
    assert_eq!(
        store.record_decisions(&[older]).unwrap(),
        vec![Recorded::Repeat]
    );
    let csv = export_text(&mut store);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "id,text,abusive,violent,reviewer,decided_at");
    assert_eq!(
        lines[1],
        "comment:1,\"text of comment:1, with \"\"quotes\"\""
    );
    assert_eq!(
        lines[2],
        "and a line\",1,-1,Coral:https://news.example,2026-12-05T10:00:00Z"
    );
    assert_eq!(
        csv.lines().filter(|l| l.starts_with("comment:")).count(),
        4,
        "{csv}"
    );
    // The export reads back as the same decisions.
    let back: Vec<NewDecision> = CsvDecisions::new("x.csv".as_ref(), csv.as_bytes())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(back.len(), 4);
    assert_eq!(back[2].labels, changed.labels);
    assert_eq!(back[2].text, changed.text);
    // As comments for train: in the order stored.
    let comments = decisions_as_comments(&mut store).unwrap();
    let ids: Vec<&str> = comments.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["comment:1", "comment:2", "comment:1", "comment:1"]);
    assert_eq!(comments[3].labels["abusive"], Some(true));
    assert_eq!(comments[3].labels["violent"], None);

    // Served flags: by digest, else by clientToken; the newer record wins.
    let a = served("a threat", None, true, "2026-12-05T09:00:00Z");
    let b = served(
        "an insult",
        Some("comment:9"),
        false,
        "2026-12-05T09:00:01Z",
    );
    store.record_served(&[a.clone(), b.clone()]).unwrap();
    let newer = served("a threat", Some("comment:7"), false, "2026-12-05T09:30:00Z");
    store.record_served(std::slice::from_ref(&newer)).unwrap();
    let found = store
        .served_flags(&[
            (text_digest("a threat"), None),
            (text_digest("edited insult"), Some("comment:9".to_string())),
            (text_digest("never seen"), Some("comment:404".to_string())),
        ])
        .unwrap();
    assert_eq!(found[0].as_ref(), Some(&newer));
    assert_eq!(found[1].as_ref(), Some(&b));
    assert_eq!(found[2], None);
    // A decision keeps what was served.
    let mut with_served = decision("comment:7", Some(true), Some(true));
    with_served.text = "a threat".into();
    with_served.served = Some(newer.clone());
    store.record_decisions(&[with_served]).unwrap();
    let mut kept = None;
    store
        .for_each_decision(&mut |d| {
            if d.id == "comment:7" {
                kept = d.served;
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(
        kept.map(|s| (s.flags, s.model)),
        Some((newer.flags, newer.model))
    );
    assert_eq!(store.prune_served("2026-12-05T09:10:00Z").unwrap(), 1);
    let s = store.summary().unwrap();
    assert_eq!((s.decisions, s.decided_ids, s.served), (5, 3, 1));
    // Undo (review) deletes one row.
    assert!(store.delete_decision(seq).unwrap());
    assert!(!store.delete_decision(seq).unwrap());
    assert_eq!(store.summary().unwrap().decisions, 4);
    drop(store);
    // Reopening applies nothing new and keeps everything.
    let mut store = Store::open(location).unwrap();
    assert_eq!(store.summary().unwrap().decisions, 4);
}

/// Two connections writing at once, each with retries of the other's
/// decisions: every distinct decision is stored exactly once.
fn concurrent_writers(location: &Location) {
    let per_writer = 300;
    let handles: Vec<_> = (0..2)
        .map(|w| {
            let location = location.clone();
            std::thread::spawn(move || {
                let mut store = Store::open(&location).unwrap();
                let mut stored = 0;
                for chunk in (0..per_writer).collect::<Vec<_>>().chunks(20) {
                    // Both writers send every id (as a retry through the
                    // other instance would), with the same decision.
                    let batch: Vec<NewDecision> = chunk
                        .iter()
                        .map(|i| decision(&format!("c{i}"), Some(i % 2 == 0), None))
                        .collect();
                    stored += store
                        .record_decisions(&batch)
                        .unwrap()
                        .iter()
                        .filter(|r| matches!(r, Recorded::Stored(_)))
                        .count();
                    // And a few of its own.
                    let own = decision(&format!("w{w}-{}", chunk[0]), Some(true), Some(true));
                    stored += usize::from(matches!(
                        store.record_decisions(&[own]).unwrap()[0],
                        Recorded::Stored(_)
                    ));
                }
                stored
            })
        })
        .collect();
    let stored: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let own = 2 * per_writer / 20;
    assert_eq!(stored, per_writer + own);
    let mut store = Store::open(location).unwrap();
    let s = store.summary().unwrap();
    assert_eq!(s.decisions as usize, per_writer + own);
    assert_eq!(s.decided_ids as usize, per_writer + own);
}

/// A store written by a newer moderate is refused, not used.
fn newer_schema_refused(location: &Location, insert: impl FnOnce()) {
    Store::open(location).unwrap();
    insert();
    let e = Store::open(location).unwrap_err().to_string();
    assert!(e.contains("newer than this moderate knows"), "{e}");
}

#[test]
fn sqlite_store_keeps_decisions_and_served_flags() {
    let dir = tempfile::tempdir().unwrap();
    exercise(&Location::Sqlite(dir.path().join("moderate.db")));
}

#[test]
fn sqlite_store_takes_two_writers_at_once() {
    let dir = tempfile::tempdir().unwrap();
    concurrent_writers(&Location::Sqlite(dir.path().join("shared.db")));
}

#[test]
fn sqlite_store_refuses_a_newer_schema_and_non_databases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let location = Location::Sqlite(path.clone());
    newer_schema_refused(&location, || {
        // What a future moderate would have written.
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO moderate_schema (version, description, applied_at) VALUES (?1, 'future', 'x')",
                [schema::LATEST + 1],
            )
            .unwrap();
    });
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "id,text\nthis is a CSV file, not a database\n").unwrap();
    let e = Store::open(&Location::Sqlite(junk))
        .unwrap_err()
        .to_string();
    assert!(e.contains("junk.db"), "{e}");
}

static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// A database on the test server, dropped when the test ends.
struct TestDatabase {
    base: String,
    name: String,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A fresh database on the test PostgreSQL server, or `None` (with a
/// message) when there is none outside CI.
fn postgres_database() -> Option<(TestDatabase, Location)> {
    let Ok(base) = std::env::var("MODERATE_TEST_POSTGRES") else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "MODERATE_TEST_POSTGRES is not set under CI: .ci/run starts PostgreSQL and sets it"
            );
        }
        eprintln!(
            "SKIPPED: PostgreSQL store tests (set MODERATE_TEST_POSTGRES=postgres://... to run \
             them; .ci/run does)"
        );
        return None;
    };
    let name = format!(
        "moderate_test_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let (head, _) = base.rsplit_once('/').expect("a URL with a database name");
    let location = Location::Postgres(format!("{head}/{name}"));
    Some((TestDatabase { base, name }, location))
}

#[test]
fn postgres_store_keeps_decisions_and_served_flags() {
    let Some((_db, location)) = postgres_database() else {
        return;
    };
    exercise(&location);
}

#[test]
fn postgres_store_takes_two_writers_at_once() {
    let Some((_db, location)) = postgres_database() else {
        return;
    };
    concurrent_writers(&location);
}

#[test]
fn postgres_store_refuses_a_newer_schema() {
    let Some((_db, location)) = postgres_database() else {
        return;
    };
    let Location::Postgres(url) = location.clone() else {
        unreachable!()
    };
    newer_schema_refused(&location, || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.execute(
            "INSERT INTO moderate_schema (version, description, applied_at) VALUES ($1, 'future', 'x')",
            &[&(schema::LATEST as i32 + 1)],
        )
        .unwrap();
    });
}

fn moderate() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("moderate").unwrap();
    c.env_remove("MODERATE_STORE");
    c
}

#[test]
fn import_reports_records_in_as_stored_plus_rejected_and_export_writes_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    std::fs::write(
        &a,
        "id,text,abusive,violent,reviewer,decided_at\n\
         c1,\"You people are parasites, all of you.\",1,0,alice,2026-05-01T12:34:56Z\n\
         c2,Nice point.,0,0,alice,2026-05-01T12:35:00Z\n",
    )
    .unwrap();
    // b repeats c1 (same decision), changes c2, adds c3, and has two bad rows.
    std::fs::write(
        &b,
        "id,text,abusive,violent,reviewer,decided_at\n\
         c1,\"You people are parasites, all of you.\",1,0,bob,2026-05-02T09:00:00Z\n\
         c2,Nice point.,1,-1,bob,2026-05-02T09:00:01Z\n\
         c3,Burn them out.,0,1,bob,2026-05-02T09:00:02Z\n\
         c4,Broken,yes,0,bob,2026-05-02T09:00:03Z\n\
         ,No id,0,0,bob,2026-05-02T09:00:04Z\n",
    )
    .unwrap();
    let store = dir.path().join("m.db");
    // Without --skip-bad: exit 2 naming the file and line, nothing stored.
    let out = moderate()
        .args(["store", "import"])
        .arg(&a)
        .arg(&b)
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("b.csv:5") && err.contains("`yes`") && err.contains("--skip-bad"),
        "{err}"
    );
    assert!(!store.exists(), "nothing is stored when a record is bad");
    // With --skip-bad: every record accounted for.
    let rejects = dir.path().join("rejects.csv");
    let out = moderate()
        .args(["store", "import"])
        .arg(&a)
        .arg(&b)
        .arg("--store")
        .arg(&store)
        .arg("--skip-bad")
        .arg("--rejects")
        .arg(&rejects)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a.csv: 2 records: 2 stored, 0 already in the store"),
        "{err}"
    );
    assert!(
        err.contains("b.csv: 5 records: 2 stored, 1 already in the store"),
        "{err}"
    );
    assert!(err.contains("2 rejected"), "{err}");
    assert!(
        err.contains("total: 7 records: 4 stored, 1 already in the store"),
        "{err}"
    );
    let listed = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert!(listed.contains(",6,empty id"), "{listed}");
    // Importing again stores nothing new.
    let out = moderate()
        .args(["store", "import"])
        .arg(&a)
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 stored, 2 already in the store"));
    // Export: the decisions in the order stored, as train reads them.
    let out = moderate()
        .args(["store", "export", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "id,text,abusive,violent,reviewer,decided_at\n\
         c1,\"You people are parasites, all of you.\",1,0,alice,2026-05-01T12:34:56Z\n\
         c2,Nice point.,0,0,alice,2026-05-01T12:35:00Z\n\
         c2,Nice point.,1,-1,bob,2026-05-02T09:00:01Z\n\
         c3,Burn them out.,0,1,bob,2026-05-02T09:00:02Z\n"
    );
    let out = moderate()
        .args(["store", "info", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(info.contains("decisions: 4 rows for 3 comments"), "{info}");
}

//! What the server flagged, recorded in the store so that a moderator's
//! later decision on the comment can confirm or refute it (see
//! [`verdict`](super::verdict)).
//!
//! Analyze and the Coral phase hand each comment they flagged (at least one
//! label at the server's threshold) to [`FlagRecorder::record`], which never
//! waits: a thread writes whatever has queued in one transaction, so
//! scoring latency does not depend on the store. A comment not flagged is
//! not recorded (a decision on it reads the same either way). When the
//! queue is full, a record is dropped and counted
//! (`moderate_served_flags_dropped_total`), never silently. Records older
//! than the retention are deleted hourly.
//!
//! The writer gathers records for up to [`GATHER`] before a transaction,
//! and its commits do not wait for the disk
//! ([`Store::relax_durability`]): a record is advisory (a decision without
//! one is read attribute by attribute), so the writer costs the scoring
//! threads as little CPU and I/O as it can.

use crate::error::Result;
use crate::store::{Location, ServedFlags, Store};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// Records queued at most.
const QUEUE: usize = 16_384;
/// Records written in one transaction at most.
const MAX_BATCH: usize = 2048;
/// How long the writer gathers records before writing them.
const GATHER: Duration = Duration::from_millis(100);
/// How often old records are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The thread that writes served flags to the store.
pub struct FlagRecorder {
    tx: Mutex<Option<crossbeam_channel::Sender<ServedFlags>>>,
    handle: Mutex<Option<JoinHandle<()>>>,
    dropped: AtomicU64,
    failed: std::sync::Arc<AtomicU64>,
}

impl std::fmt::Debug for FlagRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlagRecorder").finish_non_exhaustive()
    }
}

impl FlagRecorder {
    /// Opens its own connection to the store at `location` and starts the
    /// writer; records are kept `retention_days` days.
    pub fn open(location: &Location, retention_days: u32) -> Result<Self> {
        let mut store = Store::open(location)?;
        store.relax_durability()?;
        let location = location.clone();
        let failed = std::sync::Arc::new(AtomicU64::new(0));
        let failures = std::sync::Arc::clone(&failed);
        let (tx, rx) = crossbeam_channel::bounded::<ServedFlags>(QUEUE);
        let handle = std::thread::Builder::new()
            .name("moderate-flags".to_string())
            .spawn(move || write_loop(&rx, store, &location, retention_days, &failures))
            .map_err(|e| crate::Error::io("served flags writer thread", e))?;
        Ok(FlagRecorder {
            tx: Mutex::new(Some(tx)),
            handle: Mutex::new(Some(handle)),
            dropped: AtomicU64::new(0),
            failed,
        })
    }

    /// Queues `flags` for writing; never blocks.
    pub fn record(&self, flags: ServedFlags) {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let queued = tx.is_some_and(|tx| tx.try_send(flags).is_ok());
        if !queued {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records dropped because the queue was full (or the server stopping).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records lost because the store refused a write.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Writes what is queued, then stops the writer.
    pub fn shutdown(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = h.join();
        }
    }
}

fn write_loop(
    rx: &crossbeam_channel::Receiver<ServedFlags>,
    store: Store,
    location: &Location,
    retention_days: u32,
    failed: &AtomicU64,
) {
    let mut store = Some(store);
    let mut last_prune: Option<Instant> = None;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        let until = Instant::now() + GATHER;
        while batch.len() < MAX_BATCH {
            let left = until.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        if store.is_none() {
            store = Store::open(location)
                .and_then(|mut s| s.relax_durability().map(|()| s))
                .ok();
        }
        let Some(s) = store.as_mut() else {
            failed.fetch_add(batch.len() as u64, Ordering::Relaxed);
            continue;
        };
        if let Err(e) = s.record_served(&batch) {
            eprintln!("moderate serve: cannot record served flags: {e}");
            failed.fetch_add(batch.len() as u64, Ordering::Relaxed);
            store = None;
            continue;
        }
        if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(Instant::now());
            let cutoff = SystemTime::now()
                .checked_sub(Duration::from_secs(u64::from(retention_days) * 86_400))
                .unwrap_or(SystemTime::UNIX_EPOCH);
            if let Err(e) = s.prune_served(&crate::review::rfc3339_utc(cutoff)) {
                eprintln!("moderate serve: cannot delete old served flags: {e}");
            }
        }
    }
}

/// The record of a comment scored by `version` with `flags` (per label, in
/// the order of `labels`), or `None` when nothing was flagged.
pub fn served_flags(
    digest: String,
    client_token: Option<String>,
    labels: &[&str],
    flags: &[bool],
    version: &str,
) -> Option<ServedFlags> {
    if !flags.contains(&true) {
        return None;
    }
    Some(ServedFlags {
        digest,
        client_token,
        flags: labels
            .iter()
            .zip(flags)
            .map(|(l, &f)| (l.to_string(), f))
            .collect(),
        model: version.to_string(),
        served_at: crate::review::rfc3339_utc(SystemTime::now()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flagged_comments_are_recorded_and_unflagged_ones_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::Sqlite(dir.path().join("m.db"));
        let r = FlagRecorder::open(&location, 30).unwrap();
        let labels = ["abusive", "violent"];
        assert!(served_flags("sha256:1".into(), None, &labels, &[false, false], "v").is_none());
        let s = served_flags(
            "sha256:2".into(),
            Some("t".into()),
            &labels,
            &[false, true],
            "v",
        )
        .unwrap();
        r.record(s.clone());
        r.shutdown();
        r.record(s.clone());
        assert_eq!(
            r.dropped(),
            1,
            "a record after shutdown is counted as dropped"
        );
        assert_eq!(r.failed(), 0);
        let mut store = Store::open(&location).unwrap();
        let found = store.served_flags(&[("sha256:2".into(), None)]).unwrap();
        assert_eq!(found, vec![Some(s)]);
    }
}

//! An order-preserving parallel map over a stream, with bounded memory.
//!
//! The calling thread reads items and writes results; worker threads, each
//! with its own state (a [`crate::model::Scorer`] with warm buffers and stem
//! cache), process batches. At most `2 * threads` batches are in flight, so
//! memory stays bounded whatever the input size, and results reach the sink
//! in input order.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

/// Items processed per batch: large enough to amortise channel costs, small
/// enough that the first results appear quickly.
pub const DEFAULT_BATCH: usize = 512;

/// Maps `work` over `items` on `threads` workers and passes each item with
/// its result to `sink` in input order. Stops early (returning the error) if
/// `sink` fails.
pub fn ordered_map<T, R, S, E>(
    items: impl Iterator<Item = T>,
    threads: usize,
    batch: usize,
    make_state: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &T) -> R + Sync,
    sink: impl FnMut(T, R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send,
    R: Send,
{
    if threads <= 1 {
        // One item at a time, so each result is passed on at once.
        let mut sink = sink;
        let mut state = make_state();
        for item in items {
            let r = work(&mut state, &item);
            sink(item, r)?;
        }
        return Ok(());
    }
    ordered_map_batches(
        items,
        threads,
        batch,
        make_state,
        |state, items: &[T]| items.iter().map(|t| work(state, t)).collect(),
        sink,
    )
}

/// [`ordered_map`] with `work` applied to a whole batch at once (one
/// result per item, in order), for work that is cheaper in batches (the
/// sentence encoder).
pub fn ordered_map_batches<T, R, S, E>(
    items: impl Iterator<Item = T>,
    threads: usize,
    batch: usize,
    make_state: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &[T]) -> Vec<R> + Sync,
    mut sink: impl FnMut(T, R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send,
    R: Send,
{
    let batch = batch.max(1);
    if threads <= 1 {
        let mut state = make_state();
        let mut items = items.peekable();
        while items.peek().is_some() {
            let chunk: Vec<T> = items.by_ref().take(batch).collect();
            let results = work(&mut state, &chunk);
            for (item, r) in chunk.into_iter().zip(results) {
                sink(item, r)?;
            }
        }
        return Ok(());
    }
    let max_in_flight = 2 * threads;
    let abort = AtomicBool::new(false);
    let (job_tx, job_rx) = mpsc::sync_channel::<(u64, Vec<T>)>(max_in_flight);
    let job_rx = Mutex::new(job_rx);
    let (res_tx, res_rx) = mpsc::channel::<(u64, Vec<T>, Vec<R>)>();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let res_tx = res_tx.clone();
            let (job_rx, abort, make_state, work) = (&job_rx, &abort, &make_state, &work);
            s.spawn(move || {
                let mut state = make_state();
                loop {
                    let job = job_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((seq, items))) = job else { break };
                    if abort.load(Ordering::Relaxed) {
                        continue;
                    }
                    let results = work(&mut state, &items);
                    if res_tx.send((seq, items, results)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(res_tx);

        let mut pending: BTreeMap<u64, (Vec<T>, Vec<R>)> = BTreeMap::new();
        let mut next_out = 0u64;
        let mut sent = 0u64;
        let mut flush =
            |pending: &mut BTreeMap<u64, (Vec<T>, Vec<R>)>, next_out: &mut u64| -> Result<(), E> {
                while let Some((items, results)) = pending.remove(next_out) {
                    *next_out += 1;
                    for (item, r) in items.into_iter().zip(results) {
                        sink(item, r)?;
                    }
                }
                Ok(())
            };
        let outcome = (|| {
            let mut items = items.peekable();
            while items.peek().is_some() {
                let chunk: Vec<T> = items.by_ref().take(batch).collect();
                while sent - next_out >= max_in_flight as u64 {
                    match res_rx.recv() {
                        Ok((seq, it, rs)) => {
                            pending.insert(seq, (it, rs));
                            flush(&mut pending, &mut next_out)?;
                        }
                        Err(_) => return Ok(()),
                    }
                }
                if job_tx.send((sent, chunk)).is_err() {
                    return Ok(());
                }
                sent += 1;
            }
            Ok(())
        })();
        drop(job_tx);
        if outcome.is_err() {
            abort.store(true, Ordering::Relaxed);
            return outcome;
        }
        while next_out < sent {
            match res_rx.recv() {
                Ok((seq, it, rs)) => {
                    pending.insert(seq, (it, rs));
                    if let Err(e) = flush(&mut pending, &mut next_out) {
                        abort.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
                Err(_) => break,
            }
        }
        Ok(())
    })
}

/// Folds `items` into one state per worker: `threads` workers each own a
/// state from `make_state` and apply `work` to batches of `batch` items read
/// by the calling thread. At most `2 * threads` batches are in flight, so
/// memory stays bounded. Returns the workers' states (for the caller to
/// merge); which worker saw which item is not deterministic, so the fold
/// must not depend on it (sums of counts, for example).
pub fn parallel_fold<T, S>(
    items: impl Iterator<Item = T>,
    threads: usize,
    batch: usize,
    make_state: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, T) + Sync,
) -> Vec<S>
where
    T: Send,
    S: Send,
{
    let batch = batch.max(1);
    if threads <= 1 {
        let mut state = make_state();
        for item in items {
            work(&mut state, item);
        }
        return vec![state];
    }
    let (job_tx, job_rx) = mpsc::sync_channel::<Vec<T>>(2 * threads);
    let job_rx = Mutex::new(job_rx);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (job_rx, make_state, work) = (&job_rx, &make_state, &work);
                s.spawn(move || {
                    let mut state = make_state();
                    loop {
                        let job = job_rx.lock().map(|rx| rx.recv());
                        let Ok(Ok(items)) = job else { break };
                        for item in items {
                            work(&mut state, item);
                        }
                    }
                    state
                })
            })
            .collect();
        let mut items = items.peekable();
        while items.peek().is_some() {
            let chunk: Vec<T> = items.by_ref().take(batch).collect();
            if job_tx.send(chunk).is_err() {
                break;
            }
        }
        drop(job_tx);
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preserves_order_and_counts() {
        for threads in [1, 2, 4] {
            let mut out = Vec::new();
            ordered_map(
                0..10_000u32,
                threads,
                7,
                || 0u64,
                |calls, &x| {
                    *calls += 1;
                    x * 2
                },
                |x, r| {
                    out.push((x, r));
                    Ok::<(), ()>(())
                },
            )
            .unwrap();
            assert_eq!(out.len(), 10_000);
            assert!(
                out.iter()
                    .enumerate()
                    .all(|(i, &(x, r))| x == i as u32 && r == x * 2)
            );
        }
    }

    #[test]
    fn sink_error_stops_early() {
        let mut seen = 0;
        let r = ordered_map(
            0..100_000u32,
            2,
            10,
            || (),
            |_, &x| x,
            |x, _| {
                seen += 1;
                if x == 50 { Err("stop") } else { Ok(()) }
            },
        );
        assert_eq!(r, Err("stop"));
        assert_eq!(seen, 51);
    }

    #[test]
    fn parallel_fold_sees_every_item_once() {
        for threads in [1, 2, 3] {
            let states = parallel_fold(
                1..=10_000u64,
                threads,
                7,
                || (0u64, 0u64),
                |s, x| {
                    s.0 += x;
                    s.1 += 1;
                },
            );
            assert_eq!(states.len(), threads.max(1));
            let (sum, n) = states.iter().fold((0, 0), |a, s| (a.0 + s.0, a.1 + s.1));
            assert_eq!((sum, n), (50_005_000, 10_000));
        }
    }
}

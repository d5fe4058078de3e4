//! A dependency-aware task runner for training.
//!
//! Training is a small graph of tasks (cross-validation folds, the final
//! pre-solves, densifying each label's matrix, the linfa fits). Running it
//! phase by phase leaves a core idle while the slowest label's final fit
//! runs alone; [`run_graph`] instead starts every task as soon as the tasks
//! it depends on have finished, preferring tasks listed earlier in
//! `priority`, so the longest chain starts first and the other core fills
//! in around it.

use crate::error::{Error, Result};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Progress of the graph, shared by the workers.
struct State {
    started: Vec<bool>,
    done: Vec<bool>,
    running: usize,
    error: Option<Error>,
}

/// Runs tasks `0..deps.len()` on up to `threads` threads by calling
/// `work(task)`.
///
/// A task starts once every task in `deps[task]` has finished; among the
/// tasks that may start, the one listed first in `priority` starts first
/// (`priority` must list every task once). After the first error (or panic,
/// reported as an error) no further task starts and that error is returned;
/// tasks already running finish first. A dependency cycle or an index out of
/// range is an error, not a hang.
pub fn run_graph(
    deps: &[Vec<usize>],
    priority: &[usize],
    threads: usize,
    work: impl Fn(usize) -> Result<()> + Sync,
) -> Result<()> {
    let n = deps.len();
    let mut listed = vec![false; n];
    for &t in priority {
        if t >= n || std::mem::replace(&mut listed[t], true) {
            return Err(internal(format!(
                "task {t} is out of range or listed twice in the priority order"
            )));
        }
    }
    if listed.iter().any(|&l| !l) || deps.iter().flatten().any(|&d| d >= n) {
        return Err(internal(
            "every task must be listed once and depend only on listed tasks".into(),
        ));
    }
    let state = Mutex::new(State {
        started: vec![false; n],
        done: vec![false; n],
        running: 0,
        error: None,
    });
    let wake = Condvar::new();
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1).min(n.max(1)) {
            s.spawn(|| {
                while let Some(task) = next_task(lock(), &wake, deps, priority) {
                    let outcome =
                        catch_unwind(AssertUnwindSafe(|| work(task))).unwrap_or_else(|_| {
                            Err(internal(format!("training task {task} panicked")))
                        });
                    let mut st = lock();
                    st.running -= 1;
                    match outcome {
                        Ok(()) => st.done[task] = true,
                        Err(e) => {
                            st.error.get_or_insert(e);
                        }
                    }
                    wake.notify_all();
                }
            });
        }
    });
    let st = state.into_inner().unwrap_or_else(|e| e.into_inner());
    match st.error {
        Some(e) => Err(e),
        None if st.done.iter().all(|&d| d) => Ok(()),
        None => Err(internal("a training task did not run".into())),
    }
}

/// Waits for a task that may start and claims it; `None` when there is
/// nothing left to start (or an error stopped the graph).
fn next_task(
    mut st: MutexGuard<'_, State>,
    wake: &Condvar,
    deps: &[Vec<usize>],
    priority: &[usize],
) -> Option<usize> {
    loop {
        if st.error.is_some() {
            return None;
        }
        let ready = priority
            .iter()
            .copied()
            .find(|&t| !st.started[t] && deps[t].iter().all(|&d| st.done[d]));
        if let Some(t) = ready {
            st.started[t] = true;
            st.running += 1;
            return Some(t);
        }
        if st.started.iter().all(|&s| s) {
            return None;
        }
        if st.running == 0 {
            st.error = Some(internal(
                "the training tasks depend on each other in a cycle".into(),
            ));
            wake.notify_all();
            return None;
        }
        st = wake.wait(st).unwrap_or_else(|e| e.into_inner());
    }
}

fn internal(message: String) -> Error {
    Error::Training(format!("internal scheduling error: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Runs a graph recording the order in which tasks finish.
    fn finish_order(deps: &[Vec<usize>], priority: &[usize], threads: usize) -> Vec<usize> {
        let order = Mutex::new(Vec::new());
        run_graph(deps, priority, threads, |t| {
            order.lock().unwrap().push(t);
            Ok(())
        })
        .unwrap();
        order.into_inner().unwrap()
    }

    #[test]
    fn one_thread_follows_priority_among_ready_tasks() {
        // 2 depends on 0; 3 depends on 1 and 2.
        let deps = vec![vec![], vec![], vec![0], vec![1, 2]];
        assert_eq!(finish_order(&deps, &[3, 2, 1, 0], 1), vec![1, 0, 2, 3]);
        assert_eq!(finish_order(&deps, &[0, 1, 2, 3], 1), vec![0, 1, 2, 3]);
    }

    #[test]
    fn every_task_runs_once_after_its_dependencies() {
        let n = 40;
        let deps: Vec<Vec<usize>> = (0..n)
            .map(|t| (0..t).filter(|d| (t * 7 + d) % 5 == 0).collect())
            .collect();
        let priority: Vec<usize> = (0..n).rev().collect();
        let done: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
        run_graph(&deps, &priority, 3, |t| {
            for &d in &deps[t] {
                assert_eq!(done[d].load(Ordering::SeqCst), 1, "{t} ran before {d}");
            }
            done[t].fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
        assert!(done.iter().all(|d| d.load(Ordering::SeqCst) == 1));
    }

    #[test]
    fn an_error_stops_the_graph_and_is_returned() {
        let deps = vec![vec![], vec![0], vec![1]];
        let ran = AtomicUsize::new(0);
        let err = run_graph(&deps, &[0, 1, 2], 2, |t| {
            ran.fetch_add(1, Ordering::SeqCst);
            if t == 1 {
                Err(Error::Training("fold failed".into()))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert!(err.to_string().contains("fold failed"), "{err}");
        assert_eq!(ran.load(Ordering::SeqCst), 2, "task 2 must not start");
    }

    #[test]
    fn a_panic_becomes_an_error() {
        let err = run_graph(&[vec![], vec![]], &[0, 1], 2, |t| {
            assert!(t != 1, "boom");
            Ok(())
        })
        .unwrap_err();
        assert!(err.to_string().contains("task 1 panicked"), "{err}");
    }

    #[test]
    fn cycles_and_bad_orders_are_errors_not_hangs() {
        let cycle = vec![vec![1], vec![0]];
        assert!(run_graph(&cycle, &[0, 1], 2, |_| Ok(())).is_err());
        assert!(run_graph(&[vec![], vec![]], &[0], 1, |_| Ok(())).is_err());
        assert!(run_graph(&[vec![], vec![]], &[0, 0], 1, |_| Ok(())).is_err());
        assert!(run_graph(&[vec![5]], &[0], 1, |_| Ok(())).is_err());
        assert!(run_graph(&[], &[], 2, |_| Ok(())).is_ok());
    }
}

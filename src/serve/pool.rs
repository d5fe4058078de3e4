//! The scoring workers: dedicated threads, each with its own [`Scorer`]
//! (whose caches stay warm between requests), fed through a bounded queue.
//! Nothing CPU-bound runs on the async executor: a request's body goes to a
//! worker as bytes and comes back as the response body.
//!
//! A job carries the model snapshot it was admitted with, so a response is
//! always scored by the model whose version its header reports. A worker
//! rebuilds its scorer when a job arrives for a different snapshot (after a
//! reload); the old model is freed when its last job is done.

use super::reload::Served;
use super::wire::RpcError;
use crate::model::Scorer;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;

type Work = Box<dyn FnOnce(&Served, &mut Scorer<'_>) + Send>;

struct Job {
    served: Arc<Served>,
    work: Work,
}

/// A fixed set of scoring threads.
pub struct ScoringPool {
    tx: Option<crossbeam_channel::Sender<Job>>,
    handles: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for ScoringPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScoringPool")
            .field("threads", &self.handles.len())
            .finish()
    }
}

impl ScoringPool {
    /// Starts `threads` workers behind a queue of `capacity` jobs.
    pub fn new(threads: usize, capacity: usize) -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::bounded::<Job>(capacity.max(1));
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            handles.push(
                std::thread::Builder::new()
                    .name(format!("moderate-score-{i}"))
                    .spawn(move || worker(&rx))?,
            );
        }
        Ok(ScoringPool {
            tx: Some(tx),
            handles,
        })
    }

    /// Runs `f` on a worker with a scorer for `served` and returns its result.
    /// Fails with `429` when the queue is full, `503` once the pool is shut
    /// down, and `500` if `f` panicked (the worker survives with fresh
    /// buffers).
    pub async fn run<R, F>(&self, served: Arc<Served>, f: F) -> Result<R, RpcError>
    where
        R: Send + 'static,
        F: FnOnce(&Served, &mut Scorer<'_>) -> R + Send + 'static,
    {
        self.submit(served, f)?
            .await
            .map_err(|_| RpcError::internal("Scoring failed on the server."))
    }

    /// Queues `f` now and returns where its result will arrive (see
    /// [`run`](Self::run)); the receiver fails if `f` panicked.
    pub fn submit<R, F>(
        &self,
        served: Arc<Served>,
        f: F,
    ) -> Result<tokio::sync::oneshot::Receiver<R>, RpcError>
    where
        R: Send + 'static,
        F: FnOnce(&Served, &mut Scorer<'_>) -> R + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            served,
            work: Box::new(move |served, scorer| {
                let _ = reply.send(f(served, scorer));
            }),
        };
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| RpcError::unavailable("The server is shutting down."))?;
        tx.try_send(job).map_err(|e| match e {
            crossbeam_channel::TrySendError::Full(_) => RpcError::exhausted(
                "Too many requests are being scored; retry shortly.",
                "CONCURRENCY_LIMIT",
                1,
            ),
            crossbeam_channel::TrySendError::Disconnected(_) => {
                RpcError::unavailable("The server is shutting down.")
            }
        })?;
        Ok(answer)
    }

    /// Lets the workers finish the queued jobs, then joins them.
    pub fn shutdown(&mut self) {
        self.tx = None;
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

impl Drop for ScoringPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A worker's loop: one scorer per model snapshot, rebuilt when the snapshot
/// changes or a job panicked.
fn worker(rx: &crossbeam_channel::Receiver<Job>) {
    let mut pending: Option<Job> = None;
    loop {
        let Some(first) = pending.take().or_else(|| rx.recv().ok()) else {
            return;
        };
        let served = Arc::clone(&first.served);
        let mut scorer = served.scorer();
        let mut next = Some(first);
        loop {
            let Some(job) = next.take().or_else(|| rx.recv().ok()) else {
                return;
            };
            if !Arc::ptr_eq(&job.served, &served) {
                pending = Some(job);
                break;
            }
            let work = job.work;
            if catch_unwind(AssertUnwindSafe(|| work(&served, &mut scorer))).is_err() {
                scorer = served.scorer();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::config::ServeConfig;

    fn served() -> Arc<Served> {
        let config = ServeConfig::new("127.0.0.1:0".parse().unwrap());
        Arc::new(
            Served::build(
                crate::default_model().unwrap(),
                crate::DEFAULT_MODEL_BYTES,
                "built-in".into(),
                &config,
            )
            .unwrap(),
        )
    }

    #[tokio::test]
    async fn jobs_run_on_workers_and_survive_panics() {
        let pool = ScoringPool::new(2, 8).unwrap();
        let s = served();
        let main = std::thread::current().id();
        let (p, thread) = pool
            .run(Arc::clone(&s), |_, scorer| {
                (
                    scorer.score("you idiot").probabilities[0],
                    std::thread::current().id(),
                )
            })
            .await
            .unwrap();
        assert!((0.0..=1.0).contains(&p));
        assert_ne!(thread, main);
        let err = pool
            .run(Arc::clone(&s), |_, _| -> u8 { panic!("boom") })
            .await
            .unwrap_err();
        assert_eq!(err.http.as_u16(), 500);
        // Both workers still answer.
        for _ in 0..4 {
            assert!(pool.run(Arc::clone(&s), |_, _| 1).await.is_ok());
        }
        // A new snapshot is scored by its own model.
        let other = served();
        let v = pool
            .run(Arc::clone(&other), |served, _| served.version.clone())
            .await
            .unwrap();
        assert_eq!(v, other.version);
    }

    #[tokio::test]
    async fn a_full_queue_answers_429_and_shutdown_503() {
        let mut pool = ScoringPool::new(1, 1).unwrap();
        let s = served();
        let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let running = pool
            .submit(Arc::clone(&s), move |_, _| {
                started_tx.send(()).unwrap();
                hold_rx.recv().unwrap();
                1
            })
            .unwrap();
        started_rx.recv().unwrap();
        // The worker is busy: one job fills the queue, the next is refused.
        let queued = pool.submit(Arc::clone(&s), |_, _| 2).unwrap();
        let refused = pool.submit(Arc::clone(&s), |_, _| 3).unwrap_err();
        assert_eq!(refused.http.as_u16(), 429);
        hold_tx.send(()).unwrap();
        assert_eq!(running.await.unwrap(), 1);
        assert_eq!(queued.await.unwrap(), 2);
        pool.shutdown();
        assert_eq!(pool.run(s, |_, _| 4).await.unwrap_err().http.as_u16(), 503);
    }
}

//! The server's life: start, accept connections within bounds, reload on
//! SIGHUP, drain on SIGTERM/SIGINT, stop.
//!
//! States, in order: **serving** (accepting; SIGHUP reloads the model) ->
//! **draining** (first SIGTERM or SIGINT: the listener is closed,
//! `/healthz` answers 503, every connection finishes the request it is on
//! and closes, for at most the shutdown grace) -> **stopped** (scoring
//! workers and the decisions writer finish their queues; exit 0). A second
//! signal while draining stops at once.

use super::access_log::AccessLogger;
use super::app::{self, App};
use super::config::ServeConfig;
use super::feedback::FeedbackWriter;
use super::flags::FlagRecorder;
use super::limits::{Admission, RateLimiter};
use super::metrics::Metrics;
use super::pool::ScoringPool;
use super::reload::ModelHolder;
use crate::error::{Error, Result};
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};

/// Runs the server until it is told to stop. Fails before serving when the
/// configuration, model, store or listen address is unusable.
pub fn run(config: ServeConfig) -> Result<()> {
    config.validate()?;
    let config = Arc::new(config);
    let models = ModelHolder::load(Arc::clone(&config))?;
    let served = models.current();
    let labels = served.label_names();
    let feedback = FeedbackWriter::open(&config.store, &labels, config.feedback_reading)?;
    let flags = FlagRecorder::open(&config.store, config.served_flags_days)?;
    let listener = std::net::TcpListener::bind(config.listen)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", config.listen)))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", config.listen)))?;
    let io = |e: std::io::Error| Error::io("moderate serve", e);
    let app = Arc::new(App {
        metrics: Metrics::new(&labels, &served.version, &served.source),
        pool: ScoringPool::new(config.workers, config.limits.max_in_flight).map_err(io)?,
        admission: Admission::new(config.limits.max_in_flight),
        rate: config.limits.rate_limit.map(RateLimiter::new),
        log: AccessLogger::start(config.access_log).map_err(io)?,
        draining: false.into(),
        feedback,
        flags,
        models,
        config: Arc::clone(&config),
    });
    warn_about_file_limit(config.limits.max_connections);
    eprintln!(
        "moderate serve: listening on http://{local} (model {} from {}; {} scoring workers; \
         API keys: {}; Coral phase: {}; store: {})",
        served.version,
        served.source,
        config.workers,
        if config.api_keys.is_empty() {
            "none required".to_string()
        } else {
            format!("{} configured", config.api_keys.len())
        },
        if config.coral_secrets.is_empty() {
            "off (no signing secrets)"
        } else {
            "on"
        },
        config.store
    );
    drop(served);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.io_threads)
        .thread_name("moderate-io")
        .enable_all()
        .build()
        .map_err(io)?;
    let outcome = runtime.block_on(serve(Arc::clone(&app), listener));
    runtime.shutdown_background();
    app.feedback.shutdown();
    app.flags.shutdown();
    app.log.finish();
    drop(app); // joins the scoring workers once the last handle is gone
    eprintln!("moderate serve: stopped");
    outcome
}

/// Accepts connections until shutdown, then drains.
async fn serve(app: Arc<App>, listener: std::net::TcpListener) -> Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|e| Error::io("moderate serve: listener", e))?;
    let (stop_tx, mut stop_rx) = watch::channel(0u8);
    tokio::spawn(signals(Arc::clone(&app), stop_tx));
    let router = app::router(Arc::clone(&app));
    let limits = app.config.limits.clone();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    loop {
        let slot = tokio::select! {
            s = Arc::clone(&slots).acquire_owned() => s.expect("the semaphore is never closed"),
            _ = reached(&mut stop_rx, 1) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait, don't spin.
                    eprintln!("moderate serve: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = reached(&mut stop_rx, 1) => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                let mut router = router.clone();
                async move { tower::Service::call(&mut router, req).await }
            });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        let metrics_app = Arc::clone(&app);
        metrics_app.metrics.connections(1);
        tokio::spawn(async move {
            let _ = conn.await;
            metrics_app.metrics.connections(-1);
            drop(slot);
        });
    }
    drop(listener);
    app.draining.store(true, Ordering::Relaxed);
    let open = graceful.count();
    eprintln!(
        "moderate serve: shutting down: {open} connections open, finishing requests in flight \
         (up to {:.0} s)",
        limits.shutdown_grace.as_secs_f64()
    );
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limits.shutdown_grace) => {
            eprintln!("moderate serve: shutdown grace over; closing the remaining connections");
        }
        _ = reached(&mut stop_rx, 2) => {
            eprintln!("moderate serve: second signal; stopping now");
        }
    }
    Ok(())
}

/// Waits until the stop level is at least `level` (forever if the signal
/// task is gone).
async fn reached(rx: &mut watch::Receiver<u8>, level: u8) {
    loop {
        if *rx.borrow_and_update() >= level {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// SIGHUP reloads; the first SIGTERM/SIGINT drains (`1`), the second stops
/// (`2`).
async fn signals(app: Arc<App>, stop: watch::Sender<u8>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        eprintln!("moderate serve: cannot install signal handlers");
        return;
    };
    let mut count = 0u8;
    loop {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = hup.recv() => {
                let _ = app::reload_now(&app).await;
                continue;
            }
        }
        count = count.saturating_add(1);
        let _ = stop.send(count.min(2));
    }
}

/// Warns when the open-file limit is below what `--max-connections` needs.
fn warn_about_file_limit(max_connections: usize) {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else {
        return;
    };
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(soft) = soft
        && soft < max_connections + 64
    {
        eprintln!(
            "moderate serve: warning: the open-file limit ({soft}) is below --max-connections \
             ({max_connections}) + 64; raise it (ulimit -n, LimitNOFILE=) or lower \
             --max-connections"
        );
    }
}

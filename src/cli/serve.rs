//! `moderate serve`: flags in, [`crate::serve::run`] out. Keys and secrets
//! come from the environment or files, never from flags.

use super::train::parse_label_value;
use crate::serve::attributes::AliasTable;
use crate::serve::config::{AccessLog, Limits, RateLimit, SecretSources, ServeConfig, Thresholds};
use crate::serve::language::LanguagePolicy;
use anyhow::{Context, Result};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `moderate serve`.
#[derive(Debug, Args)]
#[command(
    after_help = "Keys and secrets: MODERATE_API_KEYS, MODERATE_CORAL_SECRETS and \
    MODERATE_ADMIN_KEYS (comma-separated), or the --*-file flags (one per line). \
    SIGHUP reloads --model; SIGTERM/SIGINT drain and stop. See the README's Serving section."
)]
pub struct ServeArgs {
    /// Address and port to listen on. Off loopback, API keys are required
    /// (or --no-auth).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// Model file (default: the built-in model). SIGHUP and POST
    /// /admin/reload re-read it.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub encoder: super::EncoderArgs,
    /// The store for comments:suggestscore decisions and what the server
    /// flagged: a SQLite file (created if missing) or a postgres:// URL
    /// (give one with a password in MODERATE_STORE, not on the command
    /// line). Several instances may share it.
    #[arg(long, env = crate::store::STORE_ENV, default_value = crate::store::DEFAULT_STORE, value_name = "FILE|URL")]
    pub store: String,
    /// Replaced by --store: decisions now go to the store (`moderate store
    /// import` loads an existing decisions CSV).
    #[arg(long, hide = true, value_name = "FILE")]
    pub decisions: Option<PathBuf>,
    /// How comments:suggestscore naming one attribute (Coral's approve or
    /// reject) is read: `verdict` confirms or refutes what the server
    /// flagged for the comment; `literal` takes the attribute as sent.
    #[arg(long, value_enum, default_value = "verdict")]
    pub feedback: crate::serve::verdict::FeedbackReading,
    /// Days the store keeps what the server flagged for a comment (for
    /// decisions that come later).
    #[arg(long, default_value_t = 30, value_name = "DAYS")]
    pub served_flags_days: u32,
    /// Reviewer name for feedback without a communityId.
    #[arg(long, default_value = "perspective-api", value_name = "NAME")]
    pub reviewer: String,
    /// File of API keys, one per line (joined with MODERATE_API_KEYS).
    #[arg(long, value_name = "FILE")]
    pub api_keys_file: Option<PathBuf>,
    /// File of Coral signing secrets, one per line (joined with
    /// MODERATE_CORAL_SECRETS).
    #[arg(long, value_name = "FILE")]
    pub coral_secrets_file: Option<PathBuf>,
    /// File of admin keys for POST /admin/reload (joined with
    /// MODERATE_ADMIN_KEYS); without any, only loopback clients may reload.
    #[arg(long, value_name = "FILE")]
    pub admin_keys_file: Option<PathBuf>,
    /// Serve without API keys off loopback (a gateway in front authenticates).
    #[arg(long)]
    pub no_auth: bool,
    /// Map a Perspective attribute to a label, e.g. `PROFANITY=abusive`
    /// (repeatable; `NAME=` removes an alias).
    #[arg(long = "alias", value_name = "NAME=LABEL", value_parser = parse_alias)]
    pub aliases: Vec<(String, String)>,
    /// Start from no aliases (only ABUSIVE, VIOLENT and --alias names).
    #[arg(long)]
    pub no_default_aliases: bool,
    /// Languages scored: `model` (every language the model has a model
    /// for), a list such as `en,de` (those of them; comments declared or
    /// detected in another get LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE), or
    /// `any` (every declaration admitted; the comment's detected language
    /// still needs a model).
    #[arg(long, default_value = "model", value_name = "LIST", value_parser = LanguagePolicy::parse)]
    pub languages: LanguagePolicy,
    /// Override a label's flag threshold, e.g. `violent=0.3` (repeatable).
    #[arg(long = "threshold", value_name = "LABEL=P", value_parser = parse_label_value::<f32>)]
    pub thresholds: Vec<(String, f32)>,
    /// Coral phase: REJECT (not just withhold) comments at or above P for
    /// LABEL, e.g. `violent=0.9` (repeatable; default: never reject).
    #[arg(long = "coral-reject-threshold", value_name = "LABEL=P", value_parser = parse_label_value::<f32>)]
    pub coral_reject: Vec<(String, f32)>,
    /// Largest body for the Perspective and Coral endpoints.
    #[arg(long, default_value_t = Limits::default().max_body_bytes, value_name = "BYTES")]
    pub max_body_bytes: usize,
    /// Largest body for POST /v1/score.
    #[arg(long, default_value_t = Limits::default().max_batch_bytes, value_name = "BYTES")]
    pub max_batch_bytes: usize,
    /// Most records in one POST /v1/score.
    #[arg(long, default_value_t = Limits::default().max_batch_records, value_name = "N")]
    pub max_batch_records: usize,
    /// Largest comment.text (UTF-8 bytes) for analyze and suggestscore.
    #[arg(long, default_value_t = Limits::default().max_text_bytes, value_name = "BYTES")]
    pub max_text_bytes: usize,
    /// Requests scored at once (queued or running); beyond it, 429.
    #[arg(long, default_value_t = Limits::default().max_in_flight, value_name = "N")]
    pub max_in_flight: usize,
    /// Open connections at most; beyond it, new ones wait.
    #[arg(long, default_value_t = Limits::default().max_connections, value_name = "N")]
    pub max_connections: usize,
    /// Seconds a client has to send request headers (also the keep-alive
    /// idle timeout).
    #[arg(long, default_value = "30", value_name = "SECS", value_parser = parse_seconds)]
    pub header_timeout: Duration,
    /// Seconds a client has to send a request body.
    #[arg(long, default_value = "10", value_name = "SECS", value_parser = parse_seconds)]
    pub body_timeout: Duration,
    /// Seconds from a complete request to its answer; beyond it, 504.
    #[arg(long, default_value = "5", value_name = "SECS", value_parser = parse_seconds)]
    pub request_timeout: Duration,
    /// Seconds requests in flight get to finish after SIGTERM/SIGINT.
    #[arg(long, default_value = "30", value_name = "SECS", value_parser = parse_seconds)]
    pub shutdown_grace: Duration,
    /// Requests per second per API key (sustained); off by default.
    #[arg(long, value_name = "PER_SEC")]
    pub rate_limit: Option<f64>,
    /// Burst allowed above --rate-limit (default: one second's worth).
    #[arg(long, value_name = "N")]
    pub rate_burst: Option<f64>,
    /// Scoring worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Async I/O threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub io_threads: Option<usize>,
    /// Access log on stderr: one line per request, never comment text.
    #[arg(long, value_enum, default_value_t = AccessLog::Text)]
    pub access_log: AccessLog,
}

fn parse_alias(s: &str) -> Result<(String, String), String> {
    let (name, label) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=LABEL, got `{s}`"))?;
    if name.trim().is_empty() {
        return Err(format!("empty attribute name in `{s}`"));
    }
    Ok((name.trim().to_string(), label.trim().to_string()))
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(v > 0.0 && v <= 86_400.0) {
        return Err(format!("{v} s: expected more than 0 and at most 86400"));
    }
    Ok(Duration::from_secs_f64(v))
}

impl ServeArgs {
    /// The configuration these flags (and the environment) describe.
    pub fn config(self) -> Result<ServeConfig> {
        let secrets = SecretSources {
            api_keys_file: self.api_keys_file,
            coral_secrets_file: self.coral_secrets_file,
            admin_keys_file: self.admin_keys_file,
        }
        .load(|name| std::env::var(name).ok())
        .context("cannot read keys or secrets")?;
        let mut aliases = if self.no_default_aliases {
            AliasTable::empty()
        } else {
            AliasTable::default()
        };
        for (name, label) in &self.aliases {
            aliases.set(name, label);
        }
        let mut config = ServeConfig::new(self.listen);
        let defaults = (config.workers, config.io_threads);
        config.model_path = self.model;
        config.encoder_dir = self.encoder.encoder;
        config.word_only = self.encoder.word_only;
        config.fixed_language = self.encoder.language;
        if let Some(old) = &self.decisions {
            return Err(super::UsageError(format!(
                "--decisions {} is replaced by --store: decisions now go to a store (default \
                 {}); load an existing decisions CSV with `moderate store import {} --store \
                 FILE|URL`",
                old.display(),
                crate::store::DEFAULT_STORE,
                old.display()
            ))
            .into());
        }
        config.store = crate::store::Location::parse(&self.store)
            .map_err(|e| super::UsageError(format!("--store: {e}")))?;
        config.reviewer = self.reviewer;
        config.feedback_reading = self.feedback;
        config.served_flags_days = self.served_flags_days;
        config.api_keys = secrets.api_keys;
        config.admin_keys = secrets.admin_keys;
        config.coral_secrets = secrets.coral_secrets;
        config.allow_no_auth = self.no_auth;
        config.aliases = aliases;
        config.languages = self.languages;
        config.thresholds = Thresholds {
            flag: self.thresholds,
            coral_reject: self.coral_reject,
        };
        config.limits = Limits {
            max_body_bytes: self.max_body_bytes,
            max_batch_bytes: self.max_batch_bytes,
            max_batch_records: self.max_batch_records,
            max_text_bytes: self.max_text_bytes,
            max_in_flight: self.max_in_flight,
            max_connections: self.max_connections,
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            request_timeout: self.request_timeout,
            shutdown_grace: self.shutdown_grace,
            rate_limit: self.rate_limit.map(|per_second| RateLimit {
                per_second,
                burst: self.rate_burst.unwrap_or(per_second.max(1.0)),
            }),
        };
        config.workers = self.workers.unwrap_or(defaults.0);
        config.io_threads = self.io_threads.unwrap_or(defaults.1);
        config.access_log = self.access_log;
        Ok(config)
    }
}

/// Runs `moderate serve`.
pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let config = args.config()?;
    crate::serve::run(config).context("moderate serve")?;
    Ok(ExitCode::SUCCESS)
}

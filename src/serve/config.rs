//! Everything `moderate serve` is configured with, and the rules that make a
//! configuration acceptable (keys required off loopback, secrets never on the
//! command line, limits that are not zero).

use super::attributes::AliasTable;
use super::auth::{ApiKeys, load_secret_list};
use super::language::LanguagePolicy;
use super::verdict::FeedbackReading;
use crate::error::{Error, Result};
use crate::store::Location;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Environment variable holding comma-separated API keys.
pub const API_KEYS_ENV: &str = "MODERATE_API_KEYS";
/// Environment variable holding comma-separated Coral signing secrets.
pub const CORAL_SECRETS_ENV: &str = "MODERATE_CORAL_SECRETS";
/// Environment variable holding comma-separated admin keys (for `/admin/reload`).
pub const ADMIN_KEYS_ENV: &str = "MODERATE_ADMIN_KEYS";

/// Bounds on what one client may make the server do.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Largest request body accepted by the Perspective and Coral endpoints.
    pub max_body_bytes: usize,
    /// Largest request body accepted by `/v1/score`.
    pub max_batch_bytes: usize,
    /// Most records in one `/v1/score` request.
    pub max_batch_records: usize,
    /// Largest `comment.text` (UTF-8 bytes) of analyze and suggestscore, as
    /// Perspective's 20,480.
    pub max_text_bytes: usize,
    /// Requests admitted to scoring at once (queued or running); beyond it the
    /// answer is `429 RESOURCE_EXHAUSTED`.
    pub max_in_flight: usize,
    /// Open connections; beyond it new connections wait in the listen backlog.
    pub max_connections: usize,
    /// Time a client has to send a request's headers; also how long an idle
    /// keep-alive connection stays open.
    pub header_timeout: Duration,
    /// Time a client has to send a request's body once its headers are in.
    pub body_timeout: Duration,
    /// Time from a complete request to its answer (queueing and scoring).
    pub request_timeout: Duration,
    /// On SIGTERM/SIGINT, how long requests in flight may take to finish.
    pub shutdown_grace: Duration,
    /// Per API key (or, without keys, for the whole server): sustained
    /// requests per second and burst; `None` for no rate limit.
    pub rate_limit: Option<RateLimit>,
}

/// A token-bucket rate: `per_second` sustained, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens added per second.
    pub per_second: f64,
    /// Bucket size.
    pub burst: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            max_batch_bytes: 16 << 20,
            max_batch_records: 10_000,
            max_text_bytes: 20_480,
            max_in_flight: 256,
            max_connections: 10_000,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(30),
            rate_limit: None,
        }
    }
}

/// How the access log is written (to stderr, one line per request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AccessLog {
    /// No access log.
    Off,
    /// `key=value` pairs, one line per request.
    Text,
    /// One JSON object per request.
    Json,
}

/// Decision thresholds applied on top of the model's own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thresholds {
    /// `LABEL=P` overrides of the flag thresholds (as `score --threshold`).
    pub flag: Vec<(String, f32)>,
    /// `LABEL=P`: Coral comments at or above P for LABEL are `REJECTED`
    /// instead of withheld. Labels without one never reject.
    pub coral_reject: Vec<(String, f32)>,
}

/// The whole configuration of one server.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Model file; `None` serves the built-in default model (which SIGHUP
    /// cannot reload, as it cannot change).
    pub model_path: Option<PathBuf>,
    /// Base encoder folder for the model's second stage (`None`: built-in).
    pub encoder_dir: Option<PathBuf>,
    /// Score with the word model alone even if the model has a second stage.
    pub word_only: bool,
    /// Score every comment in this language, without detection
    /// (`--language`); `None`: detect.
    pub fixed_language: Option<crate::language::Language>,
    /// The store: where `comments:suggestscore` decisions (and what the
    /// server flagged) are kept.
    pub store: Location,
    /// How a `comments:suggestscore` that names one attribute is read (see
    /// [`verdict`](super::verdict)).
    pub feedback_reading: FeedbackReading,
    /// Days a record of what the server flagged is kept.
    pub served_flags_days: u32,
    /// Name written in the `reviewer` column when a feedback request has no
    /// `communityId`.
    pub reviewer: String,
    /// API keys accepted (empty: none configured).
    pub api_keys: ApiKeys,
    /// Serve without API keys even off loopback (`--no-auth`, for a server
    /// behind a gateway that authenticates).
    pub allow_no_auth: bool,
    /// Admin keys for `POST /admin/reload` (empty: loopback clients only).
    pub admin_keys: ApiKeys,
    /// Coral external moderation phase signing secrets (empty: the phase
    /// endpoint refuses every request).
    pub coral_secrets: Vec<Vec<u8>>,
    /// Perspective attribute names and what they map to.
    pub aliases: AliasTable,
    /// Which request languages are scored.
    pub languages: LanguagePolicy,
    /// Threshold overrides.
    pub thresholds: Thresholds,
    /// Request bounds and timeouts.
    pub limits: Limits,
    /// Scoring worker threads.
    pub workers: usize,
    /// Async I/O threads.
    pub io_threads: usize,
    /// Access log format.
    pub access_log: AccessLog,
}

/// Where keys and secrets come from (never the command line itself).
#[derive(Debug, Clone, Default)]
pub struct SecretSources {
    /// `--api-keys-file`.
    pub api_keys_file: Option<PathBuf>,
    /// `--coral-secrets-file`.
    pub coral_secrets_file: Option<PathBuf>,
    /// `--admin-keys-file`.
    pub admin_keys_file: Option<PathBuf>,
}

/// The keys and secrets read from the environment and files.
#[derive(Debug, Clone, Default)]
pub struct LoadedSecrets {
    /// API keys.
    pub api_keys: ApiKeys,
    /// Admin keys.
    pub admin_keys: ApiKeys,
    /// Coral signing secrets.
    pub coral_secrets: Vec<Vec<u8>>,
}

impl SecretSources {
    /// Reads the keys and secrets: each from its environment variable and its
    /// file (both may be given; the sets are joined).
    pub fn load(&self, env: impl Fn(&str) -> Option<String>) -> Result<LoadedSecrets> {
        let api = load_secret_list(env(API_KEYS_ENV).as_deref(), self.api_keys_file.as_deref())?;
        let admin = load_secret_list(
            env(ADMIN_KEYS_ENV).as_deref(),
            self.admin_keys_file.as_deref(),
        )?;
        let coral = load_secret_list(
            env(CORAL_SECRETS_ENV).as_deref(),
            self.coral_secrets_file.as_deref(),
        )?;
        Ok(LoadedSecrets {
            api_keys: ApiKeys::new(api),
            admin_keys: ApiKeys::new(admin),
            coral_secrets: coral.into_iter().map(String::into_bytes).collect(),
        })
    }
}

impl ServeConfig {
    /// A configuration with the defaults: loopback port 8080, the built-in
    /// model, the SQLite store `moderate.db`, no keys, the default aliases,
    /// every language the model has.
    pub fn new(listen: SocketAddr) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        ServeConfig {
            listen,
            model_path: None,
            encoder_dir: None,
            word_only: false,
            fixed_language: None,
            store: Location::Sqlite(PathBuf::from(crate::store::DEFAULT_STORE)),
            feedback_reading: FeedbackReading::Verdict,
            served_flags_days: 30,
            reviewer: "perspective-api".to_string(),
            api_keys: ApiKeys::default(),
            allow_no_auth: false,
            admin_keys: ApiKeys::default(),
            coral_secrets: Vec::new(),
            aliases: AliasTable::default(),
            languages: LanguagePolicy::default(),
            thresholds: Thresholds::default(),
            limits: Limits::default(),
            workers: cores,
            io_threads: cores,
            access_log: AccessLog::Text,
        }
    }

    /// True when requests must present an API key: whenever keys are
    /// configured. (Without keys the server only starts on loopback, or off
    /// loopback with `--no-auth`; see [`validate`](Self::validate).)
    pub fn keys_required(&self) -> bool {
        !self.api_keys.is_empty()
    }

    /// Checks the configuration; the message says what to change.
    pub fn validate(&self) -> Result<()> {
        if !self.listen.ip().is_loopback() && self.api_keys.is_empty() && !self.allow_no_auth {
            return Err(Error::Config(format!(
                "listening on {} (not loopback) needs API keys: set {API_KEYS_ENV} or \
                 --api-keys-file, or pass --no-auth if a gateway in front authenticates",
                self.listen
            )));
        }
        let l = &self.limits;
        for (name, value) in [
            ("--max-body-bytes", l.max_body_bytes),
            ("--max-batch-bytes", l.max_batch_bytes),
            ("--max-batch-records", l.max_batch_records),
            ("--max-text-bytes", l.max_text_bytes),
            ("--max-in-flight", l.max_in_flight),
            ("--max-connections", l.max_connections),
            ("--workers", self.workers),
            ("--io-threads", self.io_threads),
        ] {
            if value == 0 {
                return Err(Error::Config(format!("{name} must be at least 1")));
            }
        }
        if let Some(r) = l.rate_limit
            && (!(r.per_second > 0.0 && r.per_second.is_finite()) || r.burst < 1.0)
        {
            return Err(Error::Config(
                "--rate-limit must be above 0 and --rate-burst at least 1".to_string(),
            ));
        }
        for (label, p) in self
            .thresholds
            .flag
            .iter()
            .chain(&self.thresholds.coral_reject)
        {
            if !(0.0..=1.0).contains(p) {
                return Err(Error::Config(format!(
                    "threshold {label}={p}: must be in [0, 1]"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_required_off_loopback() {
        let mut c = ServeConfig::new("0.0.0.0:8080".parse().unwrap());
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("MODERATE_API_KEYS"), "{err}");
        c.allow_no_auth = true;
        c.validate().unwrap();
        let mut c = ServeConfig::new("127.0.0.1:8080".parse().unwrap());
        c.validate().unwrap();
        assert!(!c.keys_required());
        c.api_keys = ApiKeys::new(vec!["k".into()]);
        assert!(c.keys_required());
        let c = ServeConfig::new("[::1]:8080".parse().unwrap());
        c.validate().unwrap();
    }

    #[test]
    fn zero_limits_and_bad_thresholds_are_refused() {
        let mut c = ServeConfig::new("127.0.0.1:0".parse().unwrap());
        c.limits.max_in_flight = 0;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("--max-in-flight")
        );
        let mut c = ServeConfig::new("127.0.0.1:0".parse().unwrap());
        c.thresholds.coral_reject.push(("abusive".into(), 1.5));
        assert!(c.validate().is_err());
        let mut c = ServeConfig::new("127.0.0.1:0".parse().unwrap());
        c.limits.rate_limit = Some(RateLimit {
            per_second: 0.0,
            burst: 1.0,
        });
        assert!(c.validate().is_err());
    }

    #[test]
    fn secrets_come_from_env_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys");
        std::fs::write(&file, "# operator keys\nfile-key-1\n\n  file-key-2  \n").unwrap();
        let sources = SecretSources {
            api_keys_file: Some(file),
            ..Default::default()
        };
        let env = |name: &str| match name {
            API_KEYS_ENV => Some("env-a, env-b,".to_string()),
            CORAL_SECRETS_ENV => Some("empsec_one,empsec_two".to_string()),
            _ => None,
        };
        let s = sources.load(env).unwrap();
        assert_eq!(s.api_keys.len(), 4);
        assert!(s.api_keys.check(b"file-key-2").is_some());
        assert!(s.api_keys.check(b"env-b").is_some());
        assert!(s.api_keys.check(b"env-c").is_none());
        assert_eq!(
            s.coral_secrets,
            vec![b"empsec_one".to_vec(), b"empsec_two".to_vec()]
        );
        assert!(s.admin_keys.is_empty());
        let missing = SecretSources {
            coral_secrets_file: Some(dir.path().join("nope")),
            ..Default::default()
        };
        let err = missing.load(|_| None).unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
    }
}

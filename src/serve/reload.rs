//! The model being served, and swapping it for a new one (SIGHUP or
//! `POST /admin/reload`) as one atomic step.
//!
//! A reload reads and checks the whole new file (magic, version, checksum,
//! consistency) and resolves the server's settings against it before
//! anything changes; if any of that fails the old model stays in service and
//! the failure is reported. Requests already admitted finish with the model
//! they started with. The labels must stay the same (names and order),
//! because the decisions file's columns are the labels.

use super::attributes::Attributes;
use super::config::ServeConfig;
use crate::error::{Error, Result};
use crate::model::Model;
use arc_swap::ArcSwap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A model with everything the server derives from it.
#[derive(Debug)]
pub struct Served {
    /// The model.
    pub model: Model,
    /// Its version: the first 12 hex digits of the model file's SHA-256
    /// (the same file gives the same version on every instance).
    pub version: String,
    /// The format version of its file.
    pub format: u32,
    /// Where it was loaded from (a path, or `built-in`).
    pub source: String,
    /// When it was loaded (RFC 3339 UTC).
    pub loaded_at: String,
    /// Per label, the flag threshold in force (the model's, or an override).
    pub thresholds: Vec<f32>,
    /// Per label, the Coral reject threshold, if any.
    pub reject_thresholds: Vec<Option<f32>>,
    /// The attribute names served.
    pub attributes: Attributes,
    /// The `LABEL=P` flag-threshold overrides, applied to every language.
    pub flag_overrides: Vec<(String, f32)>,
}

impl Served {
    /// The built-in model served with the default configuration on
    /// loopback (for unit tests of the endpoints).
    #[cfg(test)]
    pub(crate) fn built_in_for_tests() -> Served {
        let config = super::config::ServeConfig::new("127.0.0.1:0".parse().unwrap());
        Served::build(
            crate::default_model().unwrap(),
            crate::DEFAULT_MODEL_BYTES,
            "built-in".into(),
            &config,
        )
        .unwrap()
    }

    /// Derives the serving state of `model`, whose file bytes are `bytes`.
    /// Fails when the configured thresholds or aliases name labels the model
    /// does not have.
    pub fn build(
        mut model: Model,
        bytes: &[u8],
        source: String,
        config: &ServeConfig,
    ) -> Result<Self> {
        // Languages the server does not serve (`--languages`) lose their
        // models: their comments are detected, and answered as unsupported.
        model
            .languages
            .models
            .retain(|l, _| config.languages.allows(l.code()));
        if let Some(language) = config.fixed_language {
            if !model.languages.available().contains(&language) {
                return Err(Error::Config(format!(
                    "--language {language}: the model has no {} model that --languages admits",
                    language.name()
                )));
            }
            model.fixed_language = Some(language);
        }
        let thresholds = model.effective_thresholds(&config.thresholds.flag)?;
        let mut reject_thresholds = vec![None; model.labels.len()];
        for (label, p) in &config.thresholds.coral_reject {
            let i = model.label_index(label).ok_or_else(|| {
                Error::Config(format!(
                    "--coral-reject-threshold: the model has no label `{label}` (labels: {})",
                    model.label_names().join(", ")
                ))
            })?;
            reject_thresholds[i] = Some(*p);
        }
        let attributes = config.aliases.resolve(&model)?;
        let file = crate::model::FileId::of(bytes);
        Ok(Served {
            version: file.version,
            format: file.format,
            source,
            loaded_at: crate::review::rfc3339_utc(std::time::SystemTime::now()),
            thresholds,
            reject_thresholds,
            attributes,
            flag_overrides: config.thresholds.flag.clone(),
            model,
        })
    }

    /// The model's label names.
    pub fn label_names(&self) -> Vec<&str> {
        self.model.label_names()
    }

    /// A scorer of the served model, flagging at the thresholds in force.
    pub fn scorer(&self) -> crate::model::Scorer<'_> {
        self.model
            .scorer()
            .with_threshold_overrides(&self.flag_overrides)
    }

    /// Per label, whether `scores` reach its flag threshold (the threshold
    /// of the comment's language model, or the override).
    pub fn flags(&self, scores: &crate::model::Scores) -> Vec<bool> {
        (0..self.model.labels.len())
            .map(|l| scores.flagged(l))
            .collect()
    }
}

/// The version string of a model file ([`crate::model::FileId`]).
pub fn model_version(bytes: &[u8]) -> String {
    crate::model::FileId::of(bytes).version
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// The version served before.
    pub previous: String,
    /// The version served now (the same when the file had not changed).
    pub current: String,
}

/// Holds the model in service.
pub struct ModelHolder {
    current: ArcSwap<Served>,
    path: Option<PathBuf>,
    config: Arc<ServeConfig>,
    reloading: Mutex<()>,
}

impl std::fmt::Debug for ModelHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelHolder")
            .field("version", &self.current.load().version)
            .field("path", &self.path)
            .finish()
    }
}

impl ModelHolder {
    /// Loads the configured model (`--model`, or the built-in one).
    pub fn load(config: Arc<ServeConfig>) -> Result<Self> {
        let served = match &config.model_path {
            Some(path) => load_file(path, &config)?,
            None => {
                let mut model = crate::model::load_bytes(
                    crate::DEFAULT_MODEL_BYTES,
                    std::path::Path::new("<built-in default model>"),
                )?;
                crate::encoder::prepare(
                    &mut model,
                    config.encoder_dir.as_deref(),
                    config.word_only,
                )?;
                Served::build(
                    model,
                    crate::DEFAULT_MODEL_BYTES,
                    "built-in".to_string(),
                    &config,
                )?
            }
        };
        Ok(ModelHolder {
            current: ArcSwap::from_pointee(served),
            path: config.model_path.clone(),
            config,
            reloading: Mutex::new(()),
        })
    }

    /// The model in service now.
    pub fn current(&self) -> Arc<Served> {
        self.current.load_full()
    }

    /// Re-reads the model file and swaps it in; on any failure the model in
    /// service is kept and the error says why. Blocking (reads a file):
    /// call it off the async executor.
    pub fn reload(&self) -> Result<Reloaded> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let path = self.path.as_ref().ok_or_else(|| {
            Error::Config(
                "serving the built-in model, which cannot change; start with --model FILE to \
                 reload"
                    .to_string(),
            )
        })?;
        let old = self.current();
        let new = load_file(path, &self.config)?;
        if new.label_names() != old.label_names() {
            return Err(Error::model(
                path,
                format!(
                    "its labels ({}) differ from the served model's ({}); restart the server \
                     to serve a model with other labels",
                    new.label_names().join(", "),
                    old.label_names().join(", ")
                ),
            ));
        }
        let reloaded = Reloaded {
            previous: old.version.clone(),
            current: new.version.clone(),
        };
        self.current.store(Arc::new(new));
        Ok(reloaded)
    }
}

/// Reads and checks a model file and derives its serving state.
fn load_file(path: &std::path::Path, config: &ServeConfig) -> Result<Served> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut model = crate::model::load_bytes(&bytes, path)?;
    crate::encoder::prepare(&mut model, config.encoder_dir.as_deref(), config.word_only)?;
    Served::build(model, &bytes, path.display().to_string(), config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(path: Option<PathBuf>) -> Arc<ServeConfig> {
        let mut c = ServeConfig::new("127.0.0.1:0".parse().unwrap());
        c.model_path = path;
        Arc::new(c)
    }

    #[test]
    fn built_in_model_cannot_reload() {
        let h = ModelHolder::load(config(None)).unwrap();
        assert_eq!(
            h.current().version,
            model_version(crate::DEFAULT_MODEL_BYTES)
        );
        assert_eq!(h.current().version.len(), 12);
        let err = h.reload().unwrap_err().to_string();
        assert!(err.contains("--model FILE"), "{err}");
    }

    #[test]
    fn reload_swaps_or_keeps_the_old_model() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.model");
        std::fs::write(&path, crate::DEFAULT_MODEL_BYTES).unwrap();
        let h = ModelHolder::load(config(Some(path.clone()))).unwrap();
        let v1 = h.current().version.clone();
        let before = h.current();
        // A damaged file: the old model stays.
        let mut damaged = crate::DEFAULT_MODEL_BYTES.to_vec();
        let n = damaged.len();
        damaged[n / 2] ^= 0xff;
        std::fs::write(&path, &damaged).unwrap();
        let err = h.reload().unwrap_err().to_string();
        assert!(err.contains("checksum") || err.contains("model"), "{err}");
        assert!(Arc::ptr_eq(&h.current(), &before));
        // Truncated, then missing.
        std::fs::write(&path, &crate::DEFAULT_MODEL_BYTES[..100]).unwrap();
        assert!(h.reload().is_err());
        std::fs::remove_file(&path).unwrap();
        assert!(h.reload().is_err());
        assert_eq!(h.current().version, v1);
        // A different model with the same labels is swapped in.
        let mut model = crate::default_model().unwrap();
        model.labels[0].threshold = 0.5;
        if let Some(stage) = &mut model.second_stage {
            stage.labels[0].threshold = 0.5;
        }
        crate::model::save(&model, &path).unwrap();
        let r = h.reload().unwrap();
        assert_eq!(r.previous, v1);
        assert_ne!(r.current, v1);
        assert_eq!(h.current().thresholds[0], 0.5);
        // Requests holding the old snapshot still have it.
        assert_eq!(before.version, v1);
        // Other labels are refused.
        model.labels[0].name = "toxic".into();
        crate::model::save(&model, &path).unwrap();
        let err = h.reload().unwrap_err().to_string();
        assert!(err.contains("labels"), "{err}");
    }

    #[test]
    fn flag_and_reject_overrides_apply() {
        let mut c = ServeConfig::new("127.0.0.1:0".parse().unwrap());
        c.thresholds.flag.push(("violent".into(), 0.3));
        c.thresholds.coral_reject.push(("abusive".into(), 0.95));
        let m = crate::default_model().unwrap();
        let v = m.label_index("violent").unwrap();
        let a = m.label_index("abusive").unwrap();
        let s = Served::build(m, b"x", "t".into(), &c).unwrap();
        assert_eq!(s.thresholds[v], 0.3);
        assert_eq!(s.reject_thresholds[a], Some(0.95));
        assert_eq!(s.reject_thresholds[v], None);
        // The served scorer flags at the override, whatever the language.
        let mut scorer = s.scorer();
        let scores = scorer.score("Hang the traitors from the bridge.");
        assert_eq!(scores.thresholds[v], 0.3);
        assert_eq!(s.flags(&scores)[v], scores.probabilities[v] >= 0.3);
        c.thresholds.coral_reject.push(("spam".into(), 0.5));
        let m = crate::default_model().unwrap();
        assert!(Served::build(m, b"x", "t".into(), &c).is_err());
    }
}

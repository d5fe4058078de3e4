//! The model file: a fixed header, then the model serialised with bincode.
//!
//! ```text
//! offset  size  field
//! 0       8     magic  b"MODERATE"
//! 8       4     format version (u32, little-endian)
//! 12      8     payload length in bytes (u64, little-endian)
//! 20      8     FNV-1a 64 checksum of the payload (u64, little-endian)
//! 28      n     payload: bincode (varint) encoding of [`Model`], then
//!               its optional sections, each a tag byte, a length (u64,
//!               little-endian) and that many bytes:
//!               1 = the word list ([`KnownWords`], bincode),
//!               2 = the second stage ([`SecondStage`], bincode),
//!               3 = the second stage's trained layers and heads (a float16
//!                   safetensors file),
//!               4 = the identity mask (stems, bincode),
//!               5 = the language detector ([`LanguageDetector`], bincode),
//!               6 = one language's word model (once per language): a
//!                   language id byte, then that model as a whole model
//!                   file of this format
//! ```
//!
//! The sections keep the model's own encoding unchanged whatever it carries.
//! Version 3 files (the word list, if any, right after the model, with no
//! tag; no second stage) are still read.
//!
//! Loading checks each field before trusting the next: a file of another
//! format version, a truncated or damaged file, or a payload that decodes to
//! an inconsistent model is a clear [`Error::Model`], never a panic. Decoding
//! is bounded by the payload length, so a damaged length field cannot cause a
//! huge allocation. Files are written to a temporary file in the same folder
//! and renamed into place, so a crash never leaves half a model behind.

use super::Model;
use crate::encoder::SecondStage;
use crate::error::{Error, Result};
use crate::language::{Language, LanguageDetector};
use crate::text::KnownWords;
use bincode::Options;
use std::path::Path;

/// Identifies a `moderate` model file.
pub const MAGIC: &[u8; 8] = b"MODERATE";
/// The format version this build writes.
pub const FORMAT_VERSION: u32 = 4;
/// The older version this build still reads.
const PREVIOUS_VERSION: u32 = 3;
const SECTION_WORDS: u8 = 1;
const SECTION_STAGE: u8 = 2;
const SECTION_STAGE_WEIGHTS: u8 = 3;
const SECTION_IDENTITY_MASK: u8 = 4;
const SECTION_DETECTOR: u8 = 5;
const SECTION_LANGUAGE: u8 = 6;
const HEADER_LEN: usize = 28;
/// Largest payload accepted (a default model is a few MB).
pub const MAX_PAYLOAD: u64 = 1 << 30;

/// What names one model file: its version, the same on every machine, and
/// the format version it was written in. `moderate info` and the server's
/// `x-moderate-model-version` header show the same version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileId {
    /// The first 12 hex digits of the file's SHA-256.
    pub version: String,
    /// The format version in the file's header (0 when it has none).
    pub format: u32,
}

impl FileId {
    /// The identity of the model file whose bytes are `bytes`.
    pub fn of(bytes: &[u8]) -> FileId {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(bytes);
        let format = bytes
            .get(8..12)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_le_bytes);
        FileId {
            version: digest[..6].iter().map(|b| format!("{b:02x}")).collect(),
            format,
        }
    }
}

fn checksum(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn codec() -> impl Options {
    bincode::DefaultOptions::new().with_limit(MAX_PAYLOAD)
}

/// Serialises `model` into the file format.
pub fn to_bytes(model: &Model) -> Result<Vec<u8>> {
    let fail = |e: bincode::Error| Error::Training(format!("cannot serialise model: {e}"));
    let mut payload = codec().serialize(model).map_err(fail)?;
    let mut section = |tag: u8, bytes: &[u8]| {
        payload.push(tag);
        payload.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        payload.extend_from_slice(bytes);
    };
    if let Some(known_words) = &model.analyzer.known_words {
        section(
            SECTION_WORDS,
            &codec().serialize(known_words).map_err(fail)?,
        );
    }
    if let Some(mask) = &model.analyzer.identity_mask {
        section(
            SECTION_IDENTITY_MASK,
            &codec().serialize(mask.as_ref()).map_err(fail)?,
        );
    }
    if let Some(stage) = &model.second_stage {
        section(SECTION_STAGE, &codec().serialize(stage).map_err(fail)?);
        section(SECTION_STAGE_WEIGHTS, &stage.weights);
    }
    if let Some(detector) = &model.languages.detector {
        section(
            SECTION_DETECTOR,
            &codec().serialize(detector).map_err(fail)?,
        );
    }
    for (language, nested) in &model.languages.models {
        let mut bytes = vec![language.id()];
        bytes.extend_from_slice(&to_bytes(nested)?);
        section(SECTION_LANGUAGE, &bytes);
    }
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&checksum(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Writes `model` to `path` atomically (temporary file + rename; see
/// [`crate::atomic_file`]).
pub fn save(model: &Model, path: &Path) -> Result<()> {
    crate::atomic_file::write(path, &to_bytes(model)?)
}

/// Reads a model file.
pub fn load(path: &Path) -> Result<Model> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    load_bytes(&bytes, path)
}

/// Decodes a model from the bytes of a model file; `origin` names it in errors.
pub fn load_bytes(bytes: &[u8], origin: &Path) -> Result<Model> {
    let fail = |msg: String| Error::model(origin, msg);
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(fail(
            "not a moderate model file (missing MODERATE header)".into(),
        ));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
    if version != FORMAT_VERSION && version != PREVIOUS_VERSION {
        return Err(fail(format!(
            "model format version {version}, but this build of moderate reads version \
             {FORMAT_VERSION}; retrain the model with this version (`moderate train`)"
        )));
    }
    let len = u64::from_le_bytes(bytes[12..20].try_into().unwrap_or_default());
    let stored_sum = u64::from_le_bytes(bytes[20..28].try_into().unwrap_or_default());
    let payload = &bytes[HEADER_LEN..];
    if len > MAX_PAYLOAD || payload.len() as u64 != len {
        return Err(fail(format!(
            "file is truncated or damaged: header says {len} payload bytes, found {}",
            payload.len()
        )));
    }
    if checksum(payload) != stored_sum {
        return Err(fail("checksum mismatch: the file is damaged".into()));
    }
    let mut rest = payload;
    let mut model: Model = codec()
        .deserialize_from(&mut rest)
        .map_err(|e| fail(format!("cannot decode model: {e}")))?;
    if version == PREVIOUS_VERSION {
        if !rest.is_empty() {
            model.analyzer.known_words = Some(
                codec()
                    .deserialize_from::<_, KnownWords>(&mut rest)
                    .map_err(|e| fail(format!("cannot decode the word list: {e}")))?,
            );
        }
        if !rest.is_empty() {
            return Err(fail(format!(
                "{} unexpected bytes after the word list",
                rest.len()
            )));
        }
    } else {
        read_sections(&mut model, rest).map_err(fail)?;
    }
    model.features.rebuild_index();
    if let Some(lexicon) = model.features.ngrams.lexicon.as_mut() {
        // Freshly decoded, so the only reference.
        if let Some(lexicon) = std::sync::Arc::get_mut(lexicon) {
            lexicon.rebuild_index();
        }
    }
    validate(&model).map_err(fail)?;
    Ok(model)
}

/// Reads the tagged sections after the model (format version 4).
fn read_sections(model: &mut Model, mut rest: &[u8]) -> std::result::Result<(), String> {
    let mut stage: Option<SecondStage> = None;
    let mut stage_weights: Option<Vec<u8>> = None;
    let mut seen = [false; 6];
    while !rest.is_empty() {
        if rest.len() < 9 {
            return Err(format!("{} stray bytes after the model", rest.len()));
        }
        let tag = rest[0];
        let len = u64::from_le_bytes(rest[1..9].try_into().unwrap_or_default());
        let body = rest
            .get(9..)
            .and_then(|b| b.get(..usize::try_from(len).unwrap_or(usize::MAX)))
            .ok_or_else(|| format!("section {tag} is cut short ({len} bytes announced)"))?;
        rest = &rest[9 + body.len()..];
        if let Some(seen) = seen.get_mut(usize::from(tag)) {
            if *seen {
                return Err(format!("section {tag} appears twice"));
            }
            *seen = true;
        }
        match tag {
            SECTION_WORDS => {
                model.analyzer.known_words = Some(
                    codec()
                        .deserialize::<KnownWords>(body)
                        .map_err(|e| format!("cannot decode the word list: {e}"))?,
                );
            }
            SECTION_STAGE => {
                stage = Some(
                    codec()
                        .deserialize::<SecondStage>(body)
                        .map_err(|e| format!("cannot decode the second stage: {e}"))?,
                );
            }
            SECTION_STAGE_WEIGHTS => stage_weights = Some(body.to_vec()),
            SECTION_IDENTITY_MASK => {
                model.analyzer.identity_mask = Some(std::sync::Arc::new(
                    codec()
                        .deserialize::<crate::text::identity::IdentityMask>(body)
                        .map_err(|e| format!("cannot decode the identity mask: {e}"))?,
                ));
            }
            SECTION_DETECTOR => {
                let mut detector = codec()
                    .deserialize::<LanguageDetector>(body)
                    .map_err(|e| format!("cannot decode the language detector: {e}"))?;
                if !detector.is_consistent() {
                    return Err("the language detector's tables are inconsistent".into());
                }
                detector.rebuild_index();
                model.languages.detector = Some(detector);
            }
            SECTION_LANGUAGE => {
                let language = body
                    .first()
                    .and_then(|&id| Language::from_id(id))
                    .ok_or_else(|| "a language model of an unknown language".to_string())?;
                if language == Language::En || model.languages.models.contains_key(&language) {
                    return Err(format!("a second model for language `{language}`"));
                }
                let mut nested = load_bytes(&body[1..], Path::new(language.code()))
                    .map_err(|e| format!("the `{language}` model: {e}"))?;
                if nested.second_stage.is_some() || !nested.languages.models.is_empty() {
                    return Err(format!("the `{language}` model nests more models"));
                }
                nested.analyzer.language = language;
                model.languages.models.insert(language, nested);
            }
            other => {
                return Err(format!(
                    "unknown section {other}: written by a newer moderate? Use that version \
                     or retrain"
                ));
            }
        }
    }
    match (stage, stage_weights) {
        (Some(mut s), Some(w)) => {
            s.weights = w;
            model.second_stage = Some(s);
        }
        (None, None) => {}
        _ => return Err("the second stage and its weights must come together".into()),
    }
    Ok(())
}

/// Checks that a decoded model is internally consistent.
fn validate(model: &Model) -> std::result::Result<(), String> {
    if !model.features.is_consistent() {
        return Err("feature table is inconsistent (lengths, duplicates or idf)".into());
    }
    if model.labels.is_empty() {
        return Err("model has no labels".into());
    }
    let lexicon = model.features.ngrams.lexicon.as_deref();
    if lexicon.is_some_and(|l| !l.is_consistent()) {
        return Err("word table is inconsistent (lengths, duplicates or cluster ids)".into());
    }
    if let Some(prior) = &model.semantic {
        let words = lexicon.map_or(0, |l| l.len());
        if lexicon.is_none() || !prior.is_consistent(model.labels.len(), words) {
            return Err("semantic prior is inconsistent (no word table, lengths or scores)".into());
        }
    }
    if let Some(stage) = &model.second_stage {
        let names: Vec<&str> = stage.labels.iter().map(|l| l.name.as_str()).collect();
        if names != model.label_names() || stage.gate.bars.len() != names.len() {
            return Err("the second stage's labels differ from the model's".into());
        }
        for l in &stage.labels {
            let c = l.combiner;
            let sound = c.word.is_finite()
                && c.encoder.is_finite()
                && c.intercept.is_finite()
                && (0.0..=1.0).contains(&l.threshold);
            if !sound {
                return Err(format!("second stage of label `{}` is damaged", l.name));
            }
        }
        if stage.base_config.validate().is_err()
            || stage.first_trained_layer as usize >= stage.base_config.num_hidden_layers
        {
            return Err("the second stage's encoder settings are inconsistent".into());
        }
    }
    let n = model.features.len();
    for label in &model.labels {
        if label.linear.weights.len() != n {
            return Err(format!(
                "label `{}` has {} weights for {n} features",
                label.name,
                label.linear.weights.len()
            ));
        }
        let finite = label.linear.weights.iter().all(|w| w.is_finite())
            && label.linear.intercept.is_finite()
            && label.calibration.a.is_finite()
            && label.calibration.b.is_finite();
        if !finite {
            return Err(format!("label `{}` has non-finite weights", label.name));
        }
        if !(0.0..=1.0).contains(&label.threshold) {
            return Err(format!(
                "label `{}` has threshold {} outside [0, 1]",
                label.name, label.threshold
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{FeatureKind, FeatureSpace, NgramConfig};
    use crate::model::calibration::Platt;
    use crate::model::logistic::{LinearWeights, LogisticSettings};
    use crate::model::{LabelModel, TrainingSummary};
    use crate::text::{Analyzer, AnalyzerConfig, Tokens};

    fn tiny_model(known_words: Option<KnownWords>) -> Model {
        Model {
            analyzer: AnalyzerConfig {
                known_words,
                ..AnalyzerConfig::default()
            },
            semantic: None,
            features: FeatureSpace::new(
                NgramConfig::default(),
                vec![11, 22],
                vec!["kill".into(), "idiot".into()],
                vec![FeatureKind::Unigram, FeatureKind::Unigram],
                vec![1.5, 2.0],
                3.0,
            ),
            labels: vec![LabelModel {
                name: "abusive".into(),
                definition: "abuse".into(),
                linear: LinearWeights {
                    weights: vec![0.5, -0.25],
                    intercept: 0.1,
                },
                calibration: Platt::default(),
                threshold: 0.5,
                threshold_rule: "fixed".into(),
                settings: LogisticSettings::default(),
                positive_repeat: 1,
                cross_validation: None,
            }],
            training: TrainingSummary::default(),
            evaluation: None,
            limitations: Vec::new(),
            second_stage: None,
            languages: Default::default(),
            fixed_language: None,
        }
    }

    fn known_words() -> KnownWords {
        KnownWords::from_counts(vec![("kill".into(), 40), ("idiot".into(), 30)])
            .unwrap()
            .with_comments(100)
    }

    /// A file of `version` around `payload`, with a correct checksum.
    fn file(version: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&checksum(payload).to_le_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn tokens(model: &Model, text: &str) -> Vec<String> {
        let mut analyzer = Analyzer::new(model.analyzer.clone());
        let mut t = Tokens::new();
        analyzer.analyze(text, &mut t);
        t.iter().map(|(s, _)| s.to_string()).collect()
    }

    #[test]
    fn the_word_list_round_trips_after_the_model() {
        let model = tiny_model(Some(known_words()));
        let bytes = to_bytes(&model).unwrap();
        assert_eq!(&bytes[8..12], &FORMAT_VERSION.to_le_bytes());
        let back = load_bytes(&bytes, Path::new("m")).unwrap();
        assert_eq!(back, model);
        let list = back.analyzer.known_words.as_ref().unwrap();
        assert_eq!(list.count("kill"), Some(40));
        assert_eq!(list.comments(), 100);
        assert_eq!(tokens(&back, "k!11 the 1d!0t"), ["kill", "the", "idiot"]);
        // Without a word list the payload is the model alone.
        let plain = tiny_model(None);
        let plain_bytes = to_bytes(&plain).unwrap();
        assert_eq!(
            &plain_bytes[HEADER_LEN..],
            &codec().serialize(&plain).unwrap()[..]
        );
        let back = load_bytes(&plain_bytes, Path::new("m")).unwrap();
        assert_eq!(back.analyzer.known_words, None);
    }

    #[test]
    fn a_file_without_a_word_list_loads_with_resolution_off() {
        // A file written before word lists: the model alone.
        let model = tiny_model(Some(known_words()));
        let payload = codec().serialize(&model).unwrap();
        let back = load_bytes(&file(FORMAT_VERSION, &payload), Path::new("old.model")).unwrap();
        assert_eq!(back.analyzer.known_words, None);
        assert_eq!(back.features, model.features);
        assert_eq!(tokens(&back, "k!11"), ["k", "_num_"]);
    }

    #[test]
    fn other_versions_and_damaged_word_lists_are_refused() {
        let model = tiny_model(Some(known_words()));
        let good = to_bytes(&model).unwrap();
        let payload = &good[HEADER_LEN..];
        for version in [1u32, FORMAT_VERSION + 1, 99] {
            let err = load_bytes(&file(version, payload), Path::new("x.model"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("format version {version}")) && err.contains("retrain"),
                "{err}"
            );
        }
        // A section cut short.
        let err = load_bytes(
            &file(FORMAT_VERSION, &payload[..payload.len() - 3]),
            Path::new("x.model"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("section 1 is cut short"), "{err}");
        // Stray bytes after the sections, a repeated section, an unknown one.
        let mut longer = payload.to_vec();
        longer.push(0);
        let err = load_bytes(&file(FORMAT_VERSION, &longer), Path::new("x.model"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("1 stray bytes after the model"), "{err}");
        let plain = codec().serialize(&model).unwrap();
        let section = &payload[plain.len()..];
        let twice = [payload, section].concat();
        let err = load_bytes(&file(FORMAT_VERSION, &twice), Path::new("x.model"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("section 1 appears twice"), "{err}");
        let mut unknown = plain.clone();
        unknown.push(9);
        unknown.extend_from_slice(&0u64.to_le_bytes());
        let err = load_bytes(&file(FORMAT_VERSION, &unknown), Path::new("x.model"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown section 9"), "{err}");
        // The previous version's layout: the word list right after the model.
        let mut v3 = plain.clone();
        codec()
            .serialize_into(&mut v3, model.analyzer.known_words.as_ref().unwrap())
            .unwrap();
        let back = load_bytes(&file(PREVIOUS_VERSION, &v3), Path::new("v3.model")).unwrap();
        assert_eq!(back, model);
        let err = load_bytes(
            &file(PREVIOUS_VERSION, &v3[..v3.len() - 3]),
            Path::new("x.model"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("cannot decode the word list"), "{err}");
        v3.push(0);
        let err = load_bytes(&file(PREVIOUS_VERSION, &v3), Path::new("x.model"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("1 unexpected bytes after the word list"),
            "{err}"
        );
        // An unsorted word list (valid checksum): refused by its own check.
        let mut bad = codec().serialize(&model).unwrap();
        #[derive(serde::Serialize)]
        struct Stored<'a> {
            words: &'a str,
            counts: Vec<u32>,
            comments: u32,
        }
        let unsorted = Stored {
            words: "kill\nidiot",
            counts: vec![1, 1],
            comments: 2,
        };
        codec().serialize_into(&mut bad, &unsorted).unwrap();
        let err = load_bytes(&file(PREVIOUS_VERSION, &bad), Path::new("x.model"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("word list") && err.contains("not sorted"),
            "{err}"
        );
    }
}

//! The model file: a fixed header, then the model serialised with bincode.
//!
//! ```text
//! offset  size  field
//! 0       8     magic  b"MODERATE"
//! 8       4     format version (u32, little-endian)
//! 12      8     payload length in bytes (u64, little-endian)
//! 20      8     FNV-1a 64 checksum of the payload (u64, little-endian)
//! 28      n     payload: bincode (varint) encoding of [`Model`]
//! ```
//!
//! Loading checks each field before trusting the next: a file of another
//! format version, a truncated or damaged file, or a payload that decodes to
//! an inconsistent model is a clear [`Error::Model`], never a panic. Decoding
//! is bounded by the payload length, so a damaged length field cannot cause a
//! huge allocation. Files are written to a temporary file in the same folder
//! and renamed into place, so a crash never leaves half a model behind.

use super::Model;
use crate::error::{Error, Result};
use bincode::Options;
use std::path::Path;

/// Identifies a `moderate` model file.
pub const MAGIC: &[u8; 8] = b"MODERATE";
/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 2;
const HEADER_LEN: usize = 28;
/// Largest payload accepted (a default model is a few MB).
pub const MAX_PAYLOAD: u64 = 1 << 30;

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
    let payload = codec()
        .serialize(model)
        .map_err(|e| Error::Training(format!("cannot serialise model: {e}")))?;
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
    if version != FORMAT_VERSION {
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
    let mut model: Model = codec()
        .deserialize(payload)
        .map_err(|e| fail(format!("cannot decode model: {e}")))?;
    model.features.rebuild_index();
    validate(&model).map_err(fail)?;
    Ok(model)
}

/// Checks that a decoded model is internally consistent.
fn validate(model: &Model) -> std::result::Result<(), String> {
    if !model.features.is_consistent() {
        return Err("feature table is inconsistent (lengths, duplicates or idf)".into());
    }
    if model.labels.is_empty() {
        return Err("model has no labels".into());
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

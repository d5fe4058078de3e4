//! The pretrained encoder as shipped: architecture, tokenizer and weights.
//!
//! The repository carries all-MiniLM-L6-v2 converted to half precision
//! (`models/encoder/`, see its `NOTICE.md`); [`BaseEncoder::from_dir`] also
//! reads the upstream float32 release. A trained model records the SHA-256
//! of the weights it was trained on, and scoring refuses other weights.

use super::bert::{Bert, BertConfig, map_source};
use super::pieces::PieceTokenizer;
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

/// The built-in encoder's files (all-MiniLM-L6-v2 in float16, see
/// `models/encoder/NOTICE.md`), embedded at build time so that the second
/// stage runs from any folder with no download.
const BUILTIN_CONFIG: &[u8] = include_bytes!("../../models/encoder/config.json");
const BUILTIN_TOKENIZER: &[u8] = include_bytes!("../../models/encoder/tokenizer.json");
const BUILTIN_WEIGHTS: &[u8] = include_bytes!("../../models/encoder/model.f16.safetensors");

/// File names inside an encoder folder, in the order they are looked for.
pub const WEIGHT_FILES: [&str; 2] = ["model.f16.safetensors", "model.safetensors"];

/// A pretrained encoder: its configuration, tokenizer and weights (a
/// safetensors file in upstream tensor names, float32 or float16).
#[derive(Clone)]
pub struct BaseEncoder {
    /// The architecture.
    pub config: BertConfig,
    tokenizer_json: Cow<'static, [u8]>,
    weights: Cow<'static, [u8]>,
    /// Lower-case hex SHA-256 of the weights file.
    pub sha256: String,
    /// Where it came from (a folder, or `built-in`).
    pub origin: String,
}

impl std::fmt::Debug for BaseEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaseEncoder")
            .field("origin", &self.origin)
            .field("sha256", &self.sha256)
            .field("weight_bytes", &self.weights.len())
            .finish()
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl BaseEncoder {
    /// An encoder from its parts.
    pub fn from_parts(
        config_json: &[u8],
        tokenizer_json: Cow<'static, [u8]>,
        weights: Cow<'static, [u8]>,
        origin: impl Into<String>,
    ) -> Result<Self> {
        let origin = origin.into();
        let config: BertConfig = serde_json::from_slice(config_json)
            .map_err(|e| Error::Config(format!("encoder {origin}: config.json: {e}")))?;
        config
            .validate()
            .map_err(|e| Error::Config(format!("encoder {origin}: {e}")))?;
        Ok(Self {
            config,
            sha256: sha256_hex(&weights),
            tokenizer_json,
            weights,
            origin,
        })
    }

    /// The encoder built into the binary (`models/encoder/`).
    pub fn builtin() -> Result<Self> {
        Self::from_parts(
            BUILTIN_CONFIG,
            Cow::Borrowed(BUILTIN_TOKENIZER),
            Cow::Borrowed(BUILTIN_WEIGHTS),
            "built-in",
        )
    }

    /// Reads an encoder folder: `config.json`, `tokenizer.json` and one of
    /// [`WEIGHT_FILES`].
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| Error::io(p, e))
        };
        let config = read("config.json")?;
        let tokenizer = read("tokenizer.json")?;
        let weights = WEIGHT_FILES
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.exists())
            .ok_or_else(|| {
                Error::Config(format!(
                    "encoder folder {} has none of {}",
                    dir.display(),
                    WEIGHT_FILES.join(", ")
                ))
            })?;
        let weights = std::fs::read(&weights).map_err(|e| Error::io(&weights, e))?;
        Self::from_parts(
            &config,
            Cow::Owned(tokenizer),
            Cow::Owned(weights),
            dir.display().to_string(),
        )
    }

    /// The weights as named tensors, in their stored precision.
    pub fn tensors(&self) -> Result<HashMap<String, Tensor>> {
        candle_core::safetensors::load_buffer(&self.weights, &Device::Cpu)
            .map_err(|e| Error::Config(format!("encoder {} weights: {e}", self.origin)))
    }

    /// The whole encoder in float32.
    pub fn bert(&self) -> Result<Bert> {
        let map = self.tensors()?;
        Bert::load(&mut map_source(&map), &self.config)
            .map_err(|e| Error::Config(format!("encoder {}: {e}", self.origin)))
    }

    /// The tokenizer, keeping at most `max_pieces` pieces a comment.
    pub fn tokenizer(&self, max_pieces: usize) -> Result<PieceTokenizer> {
        let max = max_pieces.min(self.config.max_position_embeddings);
        PieceTokenizer::from_json(&self.tokenizer_json, max)
    }

    /// The tokenizer file's bytes.
    pub fn tokenizer_json(&self) -> &[u8] {
        &self.tokenizer_json
    }

    /// The weights in half precision as a safetensors file: every tensor the
    /// encoder uses (the position-id buffer and the unused pooler are left
    /// out), each rounded to the nearest float16.
    pub fn to_f16_safetensors(&self) -> Result<Vec<u8>> {
        let map = self.tensors()?;
        let mut out: Vec<(String, Tensor)> = Vec::new();
        for (name, t) in map {
            if name.starts_with("pooler.") || name.ends_with("position_ids") {
                continue;
            }
            let t = t
                .to_dtype(DType::F16)
                .map_err(|e| Error::Config(format!("cannot convert {name}: {e}")))?;
            out.push((name, t));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        let views: Vec<(&str, &Tensor)> = out.iter().map(|(n, t)| (n.as_str(), t)).collect();
        safetensors::serialize(views, None)
            .map_err(|e| Error::Config(format!("cannot write float16 weights: {e}")))
    }
}

//! A tiny encoder with seeded random weights and a small WordPiece
//! vocabulary: the real architecture and file formats at a size that trains
//! in a second, for tests and examples. It reads nothing meaningful.

use super::base::BaseEncoder;
use crate::error::{Error, Result};
use candle_core::{Device, Tensor};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use std::borrow::Cow;

/// Words of the tiny vocabulary (besides the special pieces, single
/// letters and digits, and their `##` continuations).
const WORDS: &[&str] = &[
    "the", "a", "to", "of", "and", "is", "are", "you", "they", "we", "them", "it", "this", "that",
    "should", "will", "be", "on", "in", "for", "with", "all", "every", "use", "kill", "shoot",
    "bomb", "nuke", "hang", "burn", "wipe", "out", "idiot", "moron", "stupid", "scum", "animals",
    "vermin", "pig", "thanks", "great", "article", "news", "war", "city", "army", "people",
    "report", "match", "game", "killed", "goal", "vote", "council", "police", "agree", "good",
    "bad", "love", "hate", "die", "dead", "line", "up", "wall", "against", "where", "live", "see",
    "what", "happens", "shut", "mouth", "wmd", "russia", "half", "measures", "work",
];

/// The tiny architecture: 2 layers, hidden size 32, 4 heads.
pub fn config_json(vocab_size: usize) -> String {
    format!(
        r#"{{"vocab_size": {vocab_size}, "hidden_size": 32, "num_hidden_layers": 2,
            "num_attention_heads": 4, "intermediate_size": 64,
            "max_position_embeddings": 64, "type_vocab_size": 2,
            "layer_norm_eps": 1e-12, "hidden_act": "gelu"}}"#
    )
}

/// The tiny vocabulary, in id order.
pub fn vocabulary() -> Vec<String> {
    let mut v: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for c in ('a'..='z').chain('0'..='9') {
        v.push(c.to_string());
        v.push(format!("##{c}"));
    }
    for p in ['.', ',', '!', '?', '\'', '-'] {
        v.push(p.to_string());
    }
    v.extend(WORDS.iter().map(|w| w.to_string()));
    v
}

/// A Hugging Face `tokenizer.json` for [`vocabulary`], with the same
/// normalisation and pre-tokenisation as all-MiniLM-L6-v2's.
pub fn tokenizer_json() -> String {
    let vocab: serde_json::Map<String, serde_json::Value> = vocabulary()
        .into_iter()
        .enumerate()
        .map(|(i, w)| (w, serde_json::Value::from(i)))
        .collect();
    let special = |id: usize, content: &str| {
        serde_json::json!({"id": id, "special": true, "content": content, "single_word": false,
            "lstrip": false, "rstrip": false, "normalized": false})
    };
    serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"),
            special(3, "[SEP]"), special(4, "[MASK]")],
        "normalizer": {"type": "BertNormalizer", "clean_text": true,
            "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": null,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100, "vocab": vocab}
    })
    .to_string()
}

/// Seeded random weights for the tiny architecture, as a safetensors file
/// in upstream names (normal-ish, standard deviation 0.1; norms at 1 and 0).
pub fn weights(seed: u64, vocab_size: usize) -> Result<Vec<u8>> {
    let (h, i, layers, positions) = (32usize, 64usize, 2usize, 64usize);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut random = |shape: &[usize]| -> candle_core::Result<Tensor> {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| {
                let s: f64 = (0..4)
                    .map(|_| rng.next_u32() as f64 / u32::MAX as f64)
                    .sum();
                ((s - 2.0) * 0.1 * 3f64.sqrt()) as f32
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu)
    };
    let ones = |n: usize| Tensor::ones(n, candle_core::DType::F32, &Device::Cpu);
    let zeros = |n: usize| Tensor::zeros(n, candle_core::DType::F32, &Device::Cpu);
    let mut build = || -> candle_core::Result<Vec<(String, Tensor)>> {
        let mut t = vec![
            (
                "embeddings.word_embeddings.weight".to_string(),
                random(&[vocab_size, h])?,
            ),
            (
                "embeddings.position_embeddings.weight".into(),
                random(&[positions, h])?,
            ),
            (
                "embeddings.token_type_embeddings.weight".into(),
                random(&[2, h])?,
            ),
            ("embeddings.LayerNorm.weight".into(), ones(h)?),
            ("embeddings.LayerNorm.bias".into(), zeros(h)?),
        ];
        for l in 0..layers {
            let p = format!("encoder.layer.{l}");
            for (name, out, inp) in [
                ("attention.self.query", h, h),
                ("attention.self.key", h, h),
                ("attention.self.value", h, h),
                ("attention.output.dense", h, h),
                ("intermediate.dense", i, h),
                ("output.dense", h, i),
            ] {
                t.push((format!("{p}.{name}.weight"), random(&[out, inp])?));
                t.push((format!("{p}.{name}.bias"), random(&[out])?));
            }
            for name in ["attention.output.LayerNorm", "output.LayerNorm"] {
                t.push((format!("{p}.{name}.weight"), ones(h)?));
                t.push((format!("{p}.{name}.bias"), zeros(h)?));
            }
        }
        Ok(t)
    };
    let tensors = build().map_err(|e| Error::Config(format!("tiny encoder: {e}")))?;
    let views: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    safetensors::serialize(views, None).map_err(|e| Error::Config(format!("tiny encoder: {e}")))
}

/// The tiny encoder with weights from `seed`.
pub fn encoder(seed: u64) -> Result<BaseEncoder> {
    let vocab = vocabulary().len();
    BaseEncoder::from_parts(
        config_json(vocab).as_bytes(),
        Cow::Owned(tokenizer_json().into_bytes()),
        Cow::Owned(weights(seed, vocab)?),
        format!("tiny random encoder (seed {seed})"),
    )
}

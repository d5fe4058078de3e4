//! The second stage as stored in a model file ([`SecondStage`]) and as run
//! ([`Encoder`]).
//!
//! A comment's word-model probabilities decide whether it reaches the
//! encoder (the [`Gate`]). If it does, each label's probability is
//! `sigmoid(a * z_words + b * z_encoder + c)` ([`Combiner`], fitted on
//! comments held out of both models' training); if not, it is the word
//! model's calibrated probability. Either way one threshold per label
//! decides the flag.

use super::base::BaseEncoder;
use super::bert::{Batch, Bert, BertConfig, Dense, Layer, mean_pool};
use super::pieces::PieceTokenizer;
use crate::error::{Error, Result};
use crate::model::logistic::sigmoid;
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Padded word pieces per encoder forward pass when scoring a batch.
pub const PIECES_PER_PASS: usize = 2048;

/// Turns a label's two decision values into one calibrated probability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Combiner {
    /// Weight of the word model's decision value.
    pub word: f32,
    /// Weight of the encoder head's decision value.
    pub encoder: f32,
    /// Intercept.
    pub intercept: f32,
}

impl Combiner {
    /// The combined decision value (before the sigmoid).
    pub fn decision(&self, z_word: f32, z_encoder: f32) -> f32 {
        self.word * z_word + self.encoder * z_encoder + self.intercept
    }

    /// The combined probability.
    pub fn probability(&self, z_word: f32, z_encoder: f32) -> f32 {
        sigmoid(self.decision(z_word, z_encoder))
    }

    /// Fits the weights by Newton's method on the log loss of `(z_word,
    /// z_encoder)` pairs against `y`, with a small ridge (`1e-3` per row
    /// scale) so that a separable sample still has a finite answer.
    pub fn fit(z_word: &[f32], z_encoder: &[f32], y: &[bool]) -> Combiner {
        let n = y.len();
        if n == 0 || y.iter().all(|&v| v) || y.iter().all(|&v| !v) {
            return Combiner {
                word: 1.0,
                encoder: 0.0,
                intercept: 0.0,
            };
        }
        let ridge = 1e-3 * n as f64;
        let mut w = [1.0f64, 0.0, 0.0]; // word, encoder, intercept
        let x = |i: usize| [f64::from(z_word[i]), f64::from(z_encoder[i]), 1.0];
        let loss = |w: &[f64; 3]| -> f64 {
            let mut s = 0.5 * ridge * (w[0] * w[0] + w[1] * w[1]);
            for (i, &yi) in y.iter().enumerate() {
                let xi = x(i);
                let f = w[0] * xi[0] + w[1] * xi[1] + w[2];
                let softplus = if f > 0.0 {
                    f + (-f).exp().ln_1p()
                } else {
                    f.exp().ln_1p()
                };
                s += softplus - if yi { f } else { 0.0 };
            }
            s
        };
        let mut current = loss(&w);
        for _ in 0..100 {
            let mut g = [ridge * w[0], ridge * w[1], 0.0];
            let mut h = [[0.0f64; 3]; 3];
            h[0][0] = ridge;
            h[1][1] = ridge;
            for (i, &yi) in y.iter().enumerate() {
                let xi = x(i);
                let f = w[0] * xi[0] + w[1] * xi[1] + w[2];
                let p = 1.0 / (1.0 + (-f).exp());
                let d = p - if yi { 1.0 } else { 0.0 };
                let v = (p * (1.0 - p)).max(1e-12);
                for a in 0..3 {
                    g[a] += d * xi[a];
                    for b in 0..3 {
                        h[a][b] += v * xi[a] * xi[b];
                    }
                }
            }
            let Some(step) = solve3(h, g) else { break };
            let mut scale = 1.0;
            let mut improved = false;
            for _ in 0..30 {
                let next = [
                    w[0] - scale * step[0],
                    w[1] - scale * step[1],
                    w[2] - scale * step[2],
                ];
                let l = loss(&next);
                if l <= current {
                    improved = current - l > 1e-10 * current.abs().max(1.0);
                    w = next;
                    current = l;
                    break;
                }
                scale *= 0.5;
            }
            if !improved {
                break;
            }
        }
        Combiner {
            word: w[0] as f32,
            encoder: w[1] as f32,
            intercept: w[2] as f32,
        }
    }
}

/// Solves `h x = g` for a symmetric 3x3 `h` (Gaussian elimination with
/// partial pivoting); `None` if singular.
fn solve3(mut h: [[f64; 3]; 3], mut g: [f64; 3]) -> Option<[f64; 3]> {
    for c in 0..3 {
        let p = (c..3).max_by(|&a, &b| h[a][c].abs().total_cmp(&h[b][c].abs()))?;
        if h[p][c].abs() < 1e-18 {
            return None;
        }
        h.swap(c, p);
        g.swap(c, p);
        for r in c + 1..3 {
            let f = h[r][c] / h[c][c];
            let pivot = h[c];
            for (x, p) in h[r].iter_mut().zip(pivot).skip(c) {
                *x -= f * p;
            }
            g[r] -= f * g[c];
        }
    }
    let mut x = [0.0; 3];
    for c in (0..3).rev() {
        let s: f64 = (c + 1..3).map(|k| h[c][k] * x[k]).sum();
        x[c] = (g[c] - s) / h[c][c];
    }
    Some(x)
}

/// Which comments the encoder reads: those where some label's word-model
/// probability reaches that label's bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    /// Per label, the word-model probability from which a comment is read
    /// by the encoder (0 = every comment).
    pub bars: Vec<f32>,
    /// The share of each label's held-out positives the bars were chosen to
    /// let through at least.
    pub target_recall: f32,
}

impl Gate {
    /// Whether a comment with word-model probabilities `word` reaches the encoder.
    pub fn passes(&self, word: &[f32]) -> bool {
        word.iter().zip(&self.bars).any(|(&p, &bar)| p >= bar)
    }
}

/// Figures measured on the rows held out of the encoder's training (the
/// combiner's fitting rows), for the model card.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageFigures {
    /// Labelled held-out rows.
    pub rows: u64,
    /// Their positives.
    pub positives: u64,
    /// ROC-AUC of the word model's out-of-fold decision values.
    pub word_roc_auc: Option<f64>,
    /// ROC-AUC of the encoder head alone.
    pub encoder_roc_auc: Option<f64>,
    /// ROC-AUC of the final probabilities (gate applied).
    pub combined_roc_auc: Option<f64>,
    /// Share of positives the gate kept from the encoder.
    pub gate_miss: f64,
    /// Share of all labelled held-out rows the gate let through.
    pub gate_pass: f64,
}

/// One label's part of the second stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageLabel {
    /// The label's name (as in the word model).
    pub name: String,
    /// How its two decision values combine.
    pub combiner: Combiner,
    /// Comments whose final probability reaches this are flagged (with
    /// both stages; the word model alone keeps its own threshold).
    pub threshold: f32,
    /// How the threshold was chosen.
    pub threshold_rule: String,
    /// Held-out figures.
    pub figures: StageFigures,
}

/// Leave-one-group-out figures of the second stage (`train --cv-by`): for
/// each group, the encoder top trained without it (the word model's
/// decision values are its own held-out-group ones), scored on it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupCv {
    /// The column the groups come from (e.g. `source`).
    pub column: String,
    /// Group names, in order.
    pub groups: Vec<String>,
    /// Per label, per group: ROC-AUC of the word model alone.
    pub word_roc_auc: Vec<Vec<Option<f64>>>,
    /// Per label, per group: ROC-AUC of the encoder head alone.
    pub encoder_roc_auc: Vec<Vec<Option<f64>>>,
    /// Per label, per group: ROC-AUC of the combined probability (every
    /// comment read by both readers; no gate).
    pub combined_roc_auc: Vec<Vec<Option<f64>>>,
}

impl GroupCv {
    /// The mean of the defined figures of one label's row.
    pub fn mean(row: &[Option<f64>]) -> Option<f64> {
        let v: Vec<f64> = row.iter().flatten().copied().collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }
}

/// How the second stage was trained, for the model card.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageRecipe {
    /// Training rows of the encoder.
    pub train_rows: u64,
    /// Rows held out to fit the combiners, gate and thresholds.
    pub held_out_rows: u64,
    /// Epochs.
    pub epochs: u32,
    /// Peak learning rates (layers, heads).
    pub learning_rates: (f64, f64),
    /// Dropout.
    pub dropout: f32,
    /// Positive weight per label.
    pub positive_weight: Vec<f32>,
    /// Seed.
    pub seed: u64,
    /// Threads (shards per step; a run reproduces for the same count).
    pub threads: u32,
}

/// The trained second stage, as stored in a model file.
#[derive(Clone, Serialize, Deserialize)]
pub struct SecondStage {
    /// SHA-256 of the base encoder's weights file it was trained on.
    pub base_sha256: String,
    /// The base encoder's architecture.
    pub base_config: BertConfig,
    /// Word pieces read per comment (`[CLS]`, `[SEP]` included).
    pub max_pieces: u32,
    /// Layers from this one up were trained (and are stored here).
    pub first_trained_layer: u32,
    /// Per label, in the word model's label order.
    pub labels: Vec<StageLabel>,
    /// Which comments the encoder reads.
    pub gate: Gate,
    /// How it was trained.
    pub recipe: StageRecipe,
    /// Leave-one-group-out figures, when trained with `--cv-by`.
    pub group_cv: Option<GroupCv>,
    /// The trained layers and heads, a float16 safetensors file (its own
    /// section of the model file; not part of the serde form).
    #[serde(skip)]
    pub weights: Vec<u8>,
    /// The encoder, ready to run (built when a model file is loaded).
    #[serde(skip)]
    pub encoder: Option<Arc<Encoder>>,
}

impl std::fmt::Debug for SecondStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondStage")
            .field("base_sha256", &self.base_sha256)
            .field("max_pieces", &self.max_pieces)
            .field("first_trained_layer", &self.first_trained_layer)
            .field("labels", &self.labels)
            .field("gate", &self.gate)
            .field("weight_bytes", &self.weights.len())
            .field("loaded", &self.encoder.is_some())
            .finish()
    }
}

impl PartialEq for SecondStage {
    /// Equal when everything stored is equal (whether it is loaded does not count).
    fn eq(&self, other: &Self) -> bool {
        self.base_sha256 == other.base_sha256
            && self.base_config == other.base_config
            && self.max_pieces == other.max_pieces
            && self.first_trained_layer == other.first_trained_layer
            && self.labels == other.labels
            && self.gate == other.gate
            && self.recipe == other.recipe
            && self.group_cv == other.group_cv
            && self.weights == other.weights
    }
}

/// Name of head tensors in the stored weights.
const HEAD_WEIGHT: &str = "head.weight";
const HEAD_BIAS: &str = "head.bias";

/// The trained layers and head as a float16 safetensors file.
pub fn weights_to_bytes(layers: &[(usize, &Layer)], head: &Dense) -> Result<Vec<u8>> {
    let fail =
        |e: candle_core::Error| Error::Training(format!("cannot store the encoder top: {e}"));
    let mut named: Vec<(String, Tensor)> = Vec::new();
    for &(i, layer) in layers {
        named.extend(layer.named_tensors(i).map_err(fail)?);
    }
    named.push((HEAD_WEIGHT.into(), head.weight.clone()));
    named.push((HEAD_BIAS.into(), head.bias.clone()));
    let mut f16 = Vec::with_capacity(named.len());
    for (n, t) in named {
        f16.push((n, t.to_dtype(DType::F16).map_err(fail)?));
    }
    f16.sort_by(|a, b| a.0.cmp(&b.0));
    let views: Vec<(&str, &Tensor)> = f16.iter().map(|(n, t)| (n.as_str(), t)).collect();
    safetensors::serialize(views, None)
        .map_err(|e| Error::Training(format!("cannot store the encoder top: {e}")))
}

/// Words tried one by one when explaining the encoder's part of a score.
pub const MAX_EXPLAINED_WORDS: usize = 64;

/// The heads' decision values with each word left out in turn.
#[derive(Debug, Clone, PartialEq)]
pub struct LeftOut {
    /// Per label, for the whole text.
    pub full: Vec<f32>,
    /// Byte span of each word tried.
    pub words: Vec<(usize, usize)>,
    /// Per word tried, per label, with that word left out.
    pub without: Vec<Vec<f32>>,
}

/// The second stage ready to run: the whole encoder (base layers below the
/// trained ones) and the heads.
pub struct Encoder {
    bert: Bert,
    head: Dense,
    tokenizer: PieceTokenizer,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("layers", &self.bert.layers.len())
            .field("tokenizer", &self.tokenizer)
            .finish()
    }
}

impl Encoder {
    /// Builds the encoder of `stage` on `base`, which must be the weights
    /// the stage was trained on.
    pub fn new(stage: &SecondStage, base: &BaseEncoder) -> Result<Self> {
        if base.sha256 != stage.base_sha256 {
            return Err(Error::Config(format!(
                "the model's second stage was trained on encoder weights {} but {} has {}; \
                 pass the encoder it was trained on (--encoder DIR)",
                short(&stage.base_sha256),
                base.origin,
                short(&base.sha256)
            )));
        }
        let fail = |e: candle_core::Error| Error::Config(format!("encoder top: {e}"));
        let mut tensors = base.tensors()?;
        let top: HashMap<String, Tensor> =
            candle_core::safetensors::load_buffer(&stage.weights, &Device::Cpu).map_err(fail)?;
        let head = Dense {
            weight: get_f32(&top, HEAD_WEIGHT)?,
            bias: get_f32(&top, HEAD_BIAS)?,
        };
        // One gate bar per label (also while fitting, before the labels' entries exist).
        let n_labels = stage.gate.bars.len();
        let h = stage.base_config.hidden_size;
        if head.weight.dims() != [n_labels, h] || head.bias.dims() != [n_labels] {
            return Err(Error::Config(format!(
                "encoder head has shape {:?}, expected [{n_labels}, {h}]",
                head.weight.dims()
            )));
        }
        for (name, t) in top {
            if name.starts_with("encoder.layer.") {
                tensors.insert(name, t);
            }
        }
        let bert =
            Bert::load(&mut super::bert::map_source(&tensors), &stage.base_config).map_err(fail)?;
        let tokenizer = base.tokenizer(stage.max_pieces as usize)?;
        Ok(Self {
            bert,
            head,
            tokenizer,
        })
    }

    /// Copies of the layers from `first` up and of the heads.
    pub fn top(&self, first: usize) -> (Vec<Layer>, Dense) {
        (self.bert.layers[first..].to_vec(), self.head.clone())
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &PieceTokenizer {
        &self.tokenizer
    }

    /// The heads' decision values for word-piece sequences: `[seqs][labels]`.
    /// Sequences are run in batches of similar length.
    pub fn decisions_for_pieces(&self, sequences: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let lengths: Vec<usize> = sequences.iter().map(|s| s.len()).collect();
        let mut out = vec![Vec::new(); sequences.len()];
        for rows in super::cache::length_batches(&lengths, PIECES_PER_PASS, 64) {
            let seqs: Vec<&[u32]> = rows.iter().map(|&r| sequences[r]).collect();
            let z = self
                .run(&seqs)
                .map_err(|e| Error::Config(format!("encoder: {e}")))?;
            for (&r, zr) in rows.iter().zip(z) {
                out[r] = zr;
            }
        }
        Ok(out)
    }

    /// The heads' decision values for `texts`: `[texts][labels]`.
    pub fn decisions(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let ids: Vec<Vec<u32>> = texts.iter().map(|t| self.tokenizer.ids(t).0).collect();
        let refs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
        self.decisions_for_pieces(&refs)
    }

    /// The heads' decision values for `text` whole and with each of its
    /// first [`MAX_EXPLAINED_WORDS`] words (runs of letters or digits, as
    /// the tokenizer splits them; punctuation is not tried) left out.
    pub fn without_each_word(&self, text: &str) -> Result<LeftOut> {
        let pieces = self.tokenizer.pieces(text);
        let candidates: Vec<u32> = (0..pieces.words.len() as u32)
            .filter(|&w| {
                let (a, b) = pieces.words[w as usize];
                text.get(a..b)
                    .is_some_and(|t| t.chars().any(char::is_alphanumeric))
            })
            .take(MAX_EXPLAINED_WORDS)
            .collect();
        let mut sequences: Vec<Vec<u32>> = vec![pieces.ids.clone()];
        for &w in &candidates {
            sequences.push(
                pieces
                    .ids
                    .iter()
                    .zip(&pieces.word_of)
                    .filter(|(_, of)| **of != Some(w))
                    .map(|(id, _)| *id)
                    .collect(),
            );
        }
        let refs: Vec<&[u32]> = sequences.iter().map(Vec::as_slice).collect();
        let mut z = self.decisions_for_pieces(&refs)?;
        let without = z.split_off(1);
        Ok(LeftOut {
            full: z.pop().unwrap_or_default(),
            words: candidates
                .iter()
                .map(|&w| pieces.words[w as usize])
                .collect(),
            without,
        })
    }

    fn run(&self, seqs: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let batch = Batch::new(seqs, &Device::Cpu)?;
        let states = self.bert.forward(&batch)?;
        let pooled = mean_pool(&states, &batch.mask)?;
        self.head.forward(&pooled)?.to_vec2()
    }
}

fn get_f32(map: &HashMap<String, Tensor>, name: &str) -> Result<Tensor> {
    map.get(name)
        .ok_or_else(|| Error::Config(format!("encoder top lacks {name}")))?
        .to_dtype(DType::F32)
        .map_err(|e| Error::Config(format!("encoder top {name}: {e}")))
}

/// The first 12 hex digits of a SHA-256.
pub fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

//! A BERT encoder, the architecture of all-MiniLM-L6-v2, in candle.
//!
//! One model, one file: the [`BertConfig`] is read from the encoder's own
//! `config.json`; weights are reached by their upstream names through a
//! [`TensorSource`], so loading the shipped weights, training the top
//! layers and testing with random weights share one constructor.
//!
//! Unlike a whole-model forward pass, the layers can be run in ranges
//! ([`Bert::embed`], [`Bert::run_layers`]): training caches the output of the
//! frozen lower layers once and runs only the layers it trains.
//!
//! Shapes: `B` comments in a batch, `L` word pieces (the longest in the
//! batch; shorter ones padded), `H` hidden size.

use candle_core::{D, DType, Device, Tensor};
use serde::{Deserialize, Serialize};

/// The encoder's architecture, as in its `config.json` (other fields ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    /// Word pieces in the vocabulary.
    pub vocab_size: usize,
    /// Width of every hidden state.
    pub hidden_size: usize,
    /// Transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Width of the feed-forward block.
    pub intermediate_size: usize,
    /// Longest input the position table covers.
    pub max_position_embeddings: usize,
    /// Token type ids (segments); only type 0 is used.
    pub type_vocab_size: usize,
    /// Layer-norm epsilon.
    pub layer_norm_eps: f64,
    /// Activation of the feed-forward block; only `gelu` (exact, erf) is supported.
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

fn default_act() -> String {
    "gelu".into()
}

impl BertConfig {
    /// Checks that the configuration is one this implementation runs.
    pub fn validate(&self) -> candle_core::Result<()> {
        if self.hidden_size == 0
            || self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            candle_core::bail!(
                "hidden size {} is not a multiple of {} attention heads",
                self.hidden_size,
                self.num_attention_heads
            );
        }
        if self.hidden_act != "gelu" {
            candle_core::bail!(
                "activation {:?} is not supported (gelu only)",
                self.hidden_act
            );
        }
        if self.max_position_embeddings < 3 || self.vocab_size < 5 {
            candle_core::bail!("position table or vocabulary too small");
        }
        Ok(())
    }

    fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

/// Where a layer's tensors come from: a name in upstream spelling
/// (`encoder.layer.4.attention.self.query.weight`) and the expected shape.
pub trait TensorSource {
    /// The tensor called `name`, checked to have `shape`.
    fn tensor(&mut self, name: &str, shape: &[usize]) -> candle_core::Result<Tensor>;
}

impl<F> TensorSource for F
where
    F: FnMut(&str, &[usize]) -> candle_core::Result<Tensor>,
{
    fn tensor(&mut self, name: &str, shape: &[usize]) -> candle_core::Result<Tensor> {
        self(name, shape)
    }
}

/// A layer normalisation with its scale and shift.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    /// Scale, `[H]`.
    pub weight: Tensor,
    /// Shift, `[H]`.
    pub bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    fn load(
        src: &mut dyn TensorSource,
        prefix: &str,
        h: usize,
        eps: f64,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            weight: src.tensor(&format!("{prefix}.weight"), &[h])?,
            bias: src.tensor(&format!("{prefix}.bias"), &[h])?,
            eps,
        })
    }

    /// Normalises the last dimension. `differentiable` uses ops that record
    /// gradients (slower); otherwise candle's fused kernel.
    fn forward(&self, x: &Tensor, differentiable: bool) -> candle_core::Result<Tensor> {
        if differentiable {
            candle_nn::ops::layer_norm_slow(x, &self.weight, &self.bias, self.eps as f32)
        } else {
            candle_nn::ops::layer_norm(&x.contiguous()?, &self.weight, &self.bias, self.eps as f32)
        }
    }
}

/// A dense layer `x W^T + b`.
#[derive(Debug, Clone)]
pub struct Dense {
    /// `[out, in]`.
    pub weight: Tensor,
    /// `[out]`.
    pub bias: Tensor,
}

impl Dense {
    fn load(
        src: &mut dyn TensorSource,
        prefix: &str,
        out: usize,
        inp: usize,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            weight: src.tensor(&format!("{prefix}.weight"), &[out, inp])?,
            bias: src.tensor(&format!("{prefix}.bias"), &[out])?,
        })
    }

    /// `x` is `[N, in]`; the result `[N, out]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }
}

/// Dropout with a mask drawn from the caller's seeded generator (candle's
/// own CPU generator cannot be seeded, and training must be reproducible).
pub struct Dropout<'r> {
    /// Probability of dropping one value.
    pub p: f32,
    /// The generator the masks come from.
    pub rng: &'r mut rand_xoshiro::Xoshiro256PlusPlus,
}

impl Dropout<'_> {
    fn apply(&mut self, x: &Tensor) -> candle_core::Result<Tensor> {
        use rand_xoshiro::rand_core::RngCore;
        if self.p <= 0.0 {
            return Ok(x.clone());
        }
        let n = x.elem_count();
        let keep = 1.0 / (1.0 - self.p);
        let cut = (f64::from(self.p) * (u32::MAX as f64)) as u32;
        let mask: Vec<f32> = (0..n)
            .map(|_| if self.rng.next_u32() < cut { 0.0 } else { keep })
            .collect();
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?;
        x.mul(&mask)
    }
}

/// One transformer layer: self-attention (query, key and value in one fused
/// projection) and the feed-forward block, each with a residual and a layer norm.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Query, key and value stacked: `[3H, H]`.
    pub qkv: Dense,
    /// Attention output projection.
    pub attention_out: Dense,
    /// Norm after attention.
    pub attention_norm: LayerNorm,
    /// Feed-forward expansion `[I, H]`.
    pub intermediate: Dense,
    /// Feed-forward projection back `[H, I]`.
    pub output: Dense,
    /// Norm after the feed-forward block.
    pub output_norm: LayerNorm,
    heads: usize,
    head_dim: usize,
}

impl Layer {
    /// Reads layer `index` from `src` (upstream names; query, key and value
    /// are fused here unless `src` already has `...attention.self.qkv`).
    pub fn load(
        src: &mut dyn TensorSource,
        cfg: &BertConfig,
        index: usize,
    ) -> candle_core::Result<Self> {
        let h = cfg.hidden_size;
        let i = cfg.intermediate_size;
        let p = format!("encoder.layer.{index}");
        let q = Dense::load(src, &format!("{p}.attention.self.query"), h, h)?;
        let k = Dense::load(src, &format!("{p}.attention.self.key"), h, h)?;
        let v = Dense::load(src, &format!("{p}.attention.self.value"), h, h)?;
        let qkv = Dense {
            weight: Tensor::cat(&[&q.weight, &k.weight, &v.weight], 0)?,
            bias: Tensor::cat(&[&q.bias, &k.bias, &v.bias], 0)?,
        };
        Ok(Self {
            qkv,
            attention_out: Dense::load(src, &format!("{p}.attention.output.dense"), h, h)?,
            attention_norm: LayerNorm::load(
                src,
                &format!("{p}.attention.output.LayerNorm"),
                h,
                cfg.layer_norm_eps,
            )?,
            intermediate: Dense::load(src, &format!("{p}.intermediate.dense"), i, h)?,
            output: Dense::load(src, &format!("{p}.output.dense"), h, i)?,
            output_norm: LayerNorm::load(
                src,
                &format!("{p}.output.LayerNorm"),
                h,
                cfg.layer_norm_eps,
            )?,
            heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
        })
    }

    /// Every tensor of the layer with its upstream name (query, key and
    /// value split again), e.g. to store trained layers.
    pub fn named_tensors(&self, index: usize) -> candle_core::Result<Vec<(String, Tensor)>> {
        let h = self.heads * self.head_dim;
        let p = format!("encoder.layer.{index}");
        let mut out = Vec::new();
        for (k, name) in ["query", "key", "value"].iter().enumerate() {
            out.push((
                format!("{p}.attention.self.{name}.weight"),
                self.qkv.weight.narrow(0, k * h, h)?.contiguous()?,
            ));
            out.push((
                format!("{p}.attention.self.{name}.bias"),
                self.qkv.bias.narrow(0, k * h, h)?.contiguous()?,
            ));
        }
        let pairs = [
            ("attention.output.dense", &self.attention_out),
            ("intermediate.dense", &self.intermediate),
            ("output.dense", &self.output),
        ];
        for (name, d) in pairs {
            out.push((format!("{p}.{name}.weight"), d.weight.clone()));
            out.push((format!("{p}.{name}.bias"), d.bias.clone()));
        }
        for (name, n) in [
            ("attention.output.LayerNorm", &self.attention_norm),
            ("output.LayerNorm", &self.output_norm),
        ] {
            out.push((format!("{p}.{name}.weight"), n.weight.clone()));
            out.push((format!("{p}.{name}.bias"), n.bias.clone()));
        }
        Ok(out)
    }

    /// A copy of the layer whose tensors are trainable variables, with the
    /// variables (for an optimiser).
    pub fn trainable(&self) -> candle_core::Result<(Layer, Vec<candle_core::Var>)> {
        let mut vars = Vec::new();
        let mut var = |t: &Tensor| -> candle_core::Result<Tensor> {
            let v = candle_core::Var::from_tensor(t)?;
            let out = v.as_tensor().clone();
            vars.push(v);
            Ok(out)
        };
        let mut dense = |d: &Dense| -> candle_core::Result<Dense> {
            Ok(Dense {
                weight: var(&d.weight)?,
                bias: var(&d.bias)?,
            })
        };
        let qkv = dense(&self.qkv)?;
        let attention_out = dense(&self.attention_out)?;
        let intermediate = dense(&self.intermediate)?;
        let output = dense(&self.output)?;
        let mut norm = |n: &LayerNorm| -> candle_core::Result<LayerNorm> {
            Ok(LayerNorm {
                weight: var(&n.weight)?,
                bias: var(&n.bias)?,
                eps: n.eps,
            })
        };
        let attention_norm = norm(&self.attention_norm)?;
        let output_norm = norm(&self.output_norm)?;
        Ok((
            Layer {
                qkv,
                attention_out,
                attention_norm,
                intermediate,
                output,
                output_norm,
                heads: self.heads,
                head_dim: self.head_dim,
            },
            vars,
        ))
    }

    /// The layer's trainable tensors (for an optimiser).
    pub fn parameters(&self) -> Vec<&Tensor> {
        vec![
            &self.qkv.weight,
            &self.qkv.bias,
            &self.attention_out.weight,
            &self.attention_out.bias,
            &self.attention_norm.weight,
            &self.attention_norm.bias,
            &self.intermediate.weight,
            &self.intermediate.bias,
            &self.output.weight,
            &self.output.bias,
            &self.output_norm.weight,
            &self.output_norm.bias,
        ]
    }

    /// `x`: `[B, L, H]`; `mask_bias`: `[B, 1, 1, L]` (0 for a word piece, a
    /// large negative number for padding). With `dropout`, the training
    /// path: differentiable ops and dropout after both blocks.
    pub fn forward(
        &self,
        x: &Tensor,
        mask_bias: &Tensor,
        mut dropout: Option<&mut Dropout<'_>>,
    ) -> candle_core::Result<Tensor> {
        let (b, l, h) = x.dims3()?;
        let train = dropout.is_some();
        let flat = x.reshape((b * l, h))?;
        let qkv = self
            .qkv
            .forward(&flat)?
            .reshape((b, l, 3, self.heads, self.head_dim))?;
        // [3, B, heads, L, head_dim]
        let qkv = qkv.permute((2, 0, 3, 1, 4))?.contiguous()?;
        let q = qkv.get(0)?;
        let k = qkv.get(1)?;
        let v = qkv.get(2)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?.contiguous()?)? * scale)?.broadcast_add(mask_bias)?;
        let probs = if train {
            candle_nn::ops::softmax(&scores, D::Minus1)?
        } else {
            candle_nn::ops::softmax_last_dim(&scores)?
        };
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b * l, h))?;
        let mut attended = self.attention_out.forward(&context)?;
        if let Some(d) = dropout.as_deref_mut() {
            attended = d.apply(&attended)?;
        }
        let x1 = self.attention_norm.forward(&(attended + &flat)?, train)?;
        let inner = self.intermediate.forward(&x1)?;
        let inner = if train {
            inner.gelu_erf()?
        } else {
            super::gelu::gelu(&inner)?
        };
        let mut out = self.output.forward(&inner)?;
        if let Some(d) = dropout {
            out = d.apply(&out)?;
        }
        let x2 = self.output_norm.forward(&(out + &x1)?, train)?;
        x2.reshape((b, l, h))
    }
}

/// The embedding tables: word pieces, positions, token type 0.
#[derive(Debug, Clone)]
pub struct Embeddings {
    words: Tensor,
    positions: Tensor,
    type0: Tensor,
    norm: LayerNorm,
}

impl Embeddings {
    fn load(src: &mut dyn TensorSource, cfg: &BertConfig) -> candle_core::Result<Self> {
        let h = cfg.hidden_size;
        let types = src.tensor(
            "embeddings.token_type_embeddings.weight",
            &[cfg.type_vocab_size, h],
        )?;
        Ok(Self {
            words: src.tensor("embeddings.word_embeddings.weight", &[cfg.vocab_size, h])?,
            positions: src.tensor(
                "embeddings.position_embeddings.weight",
                &[cfg.max_position_embeddings, h],
            )?,
            type0: types.get(0)?,
            norm: LayerNorm::load(src, "embeddings.LayerNorm", h, cfg.layer_norm_eps)?,
        })
    }
}

/// The encoder: embeddings and layers. Cheap to clone (tensors are shared).
#[derive(Debug, Clone)]
pub struct Bert {
    /// The architecture.
    pub config: BertConfig,
    embeddings: Embeddings,
    /// The layers, bottom first.
    pub layers: Vec<Layer>,
}

/// A batch of word-piece sequences, padded to the longest.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[B, L]` piece ids (u32).
    pub ids: Tensor,
    /// `[B, L]`: 1.0 for a piece, 0.0 for padding.
    pub mask: Tensor,
    /// `[B, 1, 1, L]`: 0 for a piece, -10000 for padding.
    pub mask_bias: Tensor,
}

impl Batch {
    /// The masks for sequences of `lengths` pieces, padded to the longest,
    /// with `ids` of shape `[B, L]` (all zeros when the ids are not needed,
    /// e.g. for states read from a cache).
    pub fn masks(
        lengths: &[usize],
        ids: Option<Vec<u32>>,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let b = lengths.len();
        let l = lengths.iter().copied().max().unwrap_or(0).max(1);
        let mut mask = vec![0f32; b * l];
        for (row, &n) in lengths.iter().enumerate() {
            mask[row * l..row * l + n.min(l)].fill(1.0);
        }
        let bias: Vec<f32> = mask.iter().map(|&m| (1.0 - m) * -10_000.0).collect();
        let ids = ids.unwrap_or_else(|| vec![0u32; b * l]);
        Ok(Self {
            ids: Tensor::from_vec(ids, (b, l), device)?,
            mask: Tensor::from_vec(mask, (b, l), device)?,
            mask_bias: Tensor::from_vec(bias, (b, 1, 1, l), device)?,
        })
    }

    /// Pads `sequences` (each non-empty, at most the position table's
    /// length) into one batch.
    pub fn new(sequences: &[&[u32]], device: &Device) -> candle_core::Result<Self> {
        let lengths: Vec<usize> = sequences.iter().map(|s| s.len()).collect();
        let l = lengths.iter().copied().max().unwrap_or(0).max(1);
        let mut ids = vec![0u32; sequences.len() * l];
        for (row, s) in sequences.iter().enumerate() {
            ids[row * l..row * l + s.len()].copy_from_slice(s);
        }
        Self::masks(&lengths, Some(ids), device)
    }
}

impl Bert {
    /// Builds the encoder from `src` (every tensor in upstream names).
    pub fn load(src: &mut dyn TensorSource, config: &BertConfig) -> candle_core::Result<Self> {
        config.validate()?;
        let embeddings = Embeddings::load(src, config)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| Layer::load(src, config, i))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self {
            config: config.clone(),
            embeddings,
            layers,
        })
    }

    /// The embedding layer's output for `batch`: `[B, L, H]`.
    pub fn embed(&self, batch: &Batch) -> candle_core::Result<Tensor> {
        let (b, l) = batch.ids.dims2()?;
        let h = self.config.hidden_size;
        let words = self
            .embeddings
            .words
            .index_select(&batch.ids.flatten_all()?, 0)?
            .reshape((b, l, h))?;
        let positions = self.embeddings.positions.narrow(0, 0, l)?;
        let x = words
            .broadcast_add(&positions)?
            .broadcast_add(&self.embeddings.type0)?;
        self.embeddings.norm.forward(&x, false)
    }

    /// Runs layers `range` over `x` (`[B, L, H]`, the output of the layer
    /// below the range's start, or of [`Bert::embed`]).
    pub fn run_layers(
        &self,
        x: &Tensor,
        batch: &Batch,
        range: std::ops::Range<usize>,
    ) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        for layer in &self.layers[range] {
            x = layer.forward(&x, &batch.mask_bias, None)?;
        }
        Ok(x)
    }

    /// The last layer's states for `batch`: `[B, L, H]`.
    pub fn forward(&self, batch: &Batch) -> candle_core::Result<Tensor> {
        let x = self.embed(batch)?;
        self.run_layers(&x, batch, 0..self.layers.len())
    }
}

/// The mean of `states` (`[B, L, H]`) over each sequence's word pieces
/// (`mask` `[B, L]`): `[B, H]`.
pub fn mean_pool(states: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let m = mask.unsqueeze(2)?;
    let summed = states.broadcast_mul(&m)?.sum(1)?;
    let counts = mask.sum_keepdim(1)?.clamp(1.0, f64::INFINITY)?;
    summed.broadcast_div(&counts)
}

/// A tensor source over a map of named tensors, converting to f32 and
/// checking shapes.
pub fn map_source(
    map: &std::collections::HashMap<String, Tensor>,
) -> impl FnMut(&str, &[usize]) -> candle_core::Result<Tensor> + '_ {
    move |name: &str, shape: &[usize]| {
        let t = map
            .get(name)
            .ok_or_else(|| candle_core::Error::Msg(format!("encoder weights lack {name}")))?;
        if t.dims() != shape {
            candle_core::bail!(
                "encoder weight {name} has shape {:?}, expected {shape:?}",
                t.dims()
            );
        }
        t.to_dtype(DType::F32)
    }
}

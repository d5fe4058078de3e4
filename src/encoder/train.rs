//! Training the encoder's top: the upper layers and one linear head per
//! label, on the labels, from the cached output of the frozen lower layers.
//!
//! - Loss: binary cross-entropy per label on the rows labelled for it (a
//!   `-1` row adds nothing for that label), positives weighted per label.
//! - AdamW, one learning rate for the layers and one for the heads, linear
//!   warm-up then linear decay to zero; dropout after every block and on
//!   the pooled vector.
//! - Each step's batch is split into one shard per thread; the shards'
//!   gradients are summed in a fixed order, so a run is reproducible for a
//!   seed and a thread count.

use super::bert::{Bert, Dense, Dropout, Layer, mean_pool};
use super::cache::StateCache;
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::Optimizer;
use candle_nn::optim::{AdamW, ParamsAdamW};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};

/// Settings of [`train_top`].
#[derive(Debug, Clone, PartialEq)]
pub struct TopSettings {
    /// Passes over the training rows.
    pub epochs: u32,
    /// Rows per optimiser step.
    pub batch_rows: usize,
    /// Padded pieces per step at most (long rows make smaller steps).
    pub batch_pieces: usize,
    /// Peak learning rate of the trained layers.
    pub layer_lr: f64,
    /// Peak learning rate of the heads.
    pub head_lr: f64,
    /// Share of the steps spent warming up.
    pub warmup: f64,
    /// Dropout probability.
    pub dropout: f32,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Per label, the weight of a positive row's loss (negatives weigh 1).
    pub positive_weight: Vec<f32>,
    /// Seed of the shuffles, the head's start and the dropout masks.
    pub seed: u64,
    /// Threads (shards per step).
    pub threads: usize,
}

impl Default for TopSettings {
    fn default() -> Self {
        Self {
            epochs: 2,
            batch_rows: 32,
            batch_pieces: 2048,
            layer_lr: 5e-5,
            head_lr: 1e-3,
            warmup: 0.06,
            dropout: 0.1,
            weight_decay: 0.01,
            positive_weight: Vec::new(),
            seed: 1,
            threads: 2,
        }
    }
}

/// What [`train_top`] trains on.
#[derive(Debug, Clone, Copy)]
pub struct TopData<'a> {
    /// The frozen lower layers' output per comment.
    pub cache: &'a StateCache,
    /// The comments (rows of `cache`) to train on.
    pub rows: &'a [usize],
    /// `targets[row][label]`: `None` for a label the row is not labelled for.
    pub targets: &'a [Vec<Option<bool>>],
    /// Labels (heads).
    pub labels: usize,
    /// Per row, another cache row to train on in its place in every second
    /// epoch (a counterfactual copy; see
    /// [`crate::train::counterfactual`]), if it has one.
    pub alternates: Option<&'a [Option<usize>]>,
}

/// What [`train_top`] reports as it goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// 1-based epoch.
    pub epoch: u32,
    /// Steps done so far (all epochs).
    pub step: usize,
    /// Steps in all.
    pub steps: usize,
    /// Mean loss over the steps since the last report.
    pub loss: f64,
}

/// The trained top: the layers from `first` up and the heads.
#[derive(Debug, Clone)]
pub struct TrainedTop {
    /// Index of the first trained layer.
    pub first: usize,
    /// The trained layers, bottom first.
    pub layers: Vec<Layer>,
    /// One row per label: `[labels, H]` and `[labels]`.
    pub head: Dense,
}

impl TrainedTop {
    /// Decision values (logits) per label for cached `rows`: `[rows][labels]`.
    pub fn predict_cached(
        &self,
        cache: &StateCache,
        rows: &[usize],
        threads: usize,
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let lengths: Vec<usize> = rows.iter().map(|&r| cache.length(r)).collect();
        let batches = super::cache::length_batches(&lengths, 4096, 256);
        let out = std::sync::Mutex::new(vec![Vec::new(); rows.len()]);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let failed = std::sync::Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..threads.max(1) {
                s.spawn(|| {
                    loop {
                        let b = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(idx) = batches.get(b) else { break };
                        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
                            let sel: Vec<usize> = idx.iter().map(|&i| rows[i]).collect();
                            let (x, batch) = cache.batch(&sel)?;
                            let mut x = x;
                            for layer in &self.layers {
                                x = layer.forward(&x, &batch.mask_bias, None)?;
                            }
                            let pooled = mean_pool(&x, &batch.mask)?;
                            self.head.forward(&pooled)?.to_vec2()
                        };
                        match run() {
                            Ok(z) => {
                                let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
                                for (&i, zi) in idx.iter().zip(z) {
                                    o[i] = zi;
                                }
                            }
                            Err(e) => {
                                *failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                                break;
                            }
                        }
                    }
                });
            }
        });
        if let Some(e) = failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e);
        }
        Ok(out.into_inner().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Steps of `rows` in a seeded order: rows shuffled, then sorted by length
/// within windows of 50 steps (little padding), and the steps shuffled.
fn epoch_steps(
    rows: &[usize],
    cache: &StateCache,
    settings: &TopSettings,
    rng: &mut Xoshiro256PlusPlus,
) -> Vec<Vec<usize>> {
    let mut order = rows.to_vec();
    shuffle(&mut order, rng);
    let mut steps = Vec::new();
    for window in order.chunks(settings.batch_rows * 50) {
        let lengths: Vec<usize> = window.iter().map(|&r| cache.length(r)).collect();
        for b in super::cache::length_batches(&lengths, settings.batch_pieces, settings.batch_rows)
        {
            steps.push(b.into_iter().map(|i| window[i]).collect());
        }
    }
    shuffle(&mut steps, rng);
    steps
}

/// Fisher-Yates with the given generator.
fn shuffle<T>(items: &mut [T], rng: &mut Xoshiro256PlusPlus) {
    for i in (1..items.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// The learning-rate factor at `step` of `steps`: linear warm-up over the
/// first `warmup` share, then linear decay to zero.
pub fn schedule(step: usize, steps: usize, warmup: f64) -> f64 {
    let warm = ((steps as f64) * warmup).ceil().max(1.0);
    let s = step as f64 + 1.0;
    if s <= warm {
        s / warm
    } else {
        ((steps as f64 - s) / (steps as f64 - warm).max(1.0)).max(0.0)
    }
}

/// The model being trained: the layers and the heads.
struct Trainee<'a> {
    layers: &'a [Layer],
    head: &'a Dense,
}

/// One shard's weighted loss sum and its gradients; `normaliser` holds each
/// label's summed weight over the whole step.
fn shard_gradients(
    model: &Trainee<'_>,
    data: &TopData<'_>,
    rows: &[usize],
    settings: &TopSettings,
    normaliser: &[f32],
    rng: &mut Xoshiro256PlusPlus,
) -> candle_core::Result<(f64, GradStore)> {
    let Trainee { layers, head } = model;
    let targets = data.targets;
    let (mut x, batch) = data.cache.batch(rows)?;
    let mut dropout = Dropout {
        p: settings.dropout,
        rng,
    };
    for layer in layers.iter() {
        x = layer.forward(&x, &batch.mask_bias, Some(&mut dropout))?;
    }
    let pooled = mean_pool(&x, &batch.mask)?;
    let (b, h) = pooled.dims2()?;
    let pooled = dropout_rows(&pooled, &mut dropout, b, h)?;
    let logits = head.forward(&pooled)?; // [B, labels]
    let n_labels = head.bias.dim(0)?;
    // Per (row, label): target and weight (0 for an unlabelled pair), the
    // weight divided by the label's step normaliser.
    let mut y = Vec::with_capacity(b * n_labels);
    let mut w = Vec::with_capacity(b * n_labels);
    for &r in rows {
        for (l, norm) in normaliser.iter().enumerate().take(n_labels) {
            match targets[r].get(l).copied().flatten() {
                Some(t) => {
                    y.push(if t { 1f32 } else { 0.0 });
                    let pw = if t {
                        settings.positive_weight.get(l).copied().unwrap_or(1.0)
                    } else {
                        1.0
                    };
                    w.push(pw / norm.max(1e-6));
                }
                None => {
                    y.push(0.0);
                    w.push(0.0);
                }
            }
        }
    }
    let y = Tensor::from_vec(y, (b, n_labels), &Device::Cpu)?;
    let w = Tensor::from_vec(w, (b, n_labels), &Device::Cpu)?;
    // Numerically stable BCE with logits: max(z,0) - z*y + log(1 + exp(-|z|)).
    let loss = (logits.relu()? - logits.mul(&y)?
        + logits.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?)?;
    let loss = loss.mul(&w)?.sum_all()?;
    let value = f64::from(loss.to_scalar::<f32>()?);
    Ok((value, loss.backward()?))
}

/// Dropout on the pooled vectors.
fn dropout_rows(
    pooled: &Tensor,
    dropout: &mut Dropout<'_>,
    b: usize,
    h: usize,
) -> candle_core::Result<Tensor> {
    if dropout.p <= 0.0 || b * h == 0 {
        return Ok(pooled.clone());
    }
    let keep = 1.0 / (1.0 - dropout.p);
    let cut = (f64::from(dropout.p) * (u32::MAX as f64)) as u32;
    let mask: Vec<f32> = (0..b * h)
        .map(|_| {
            if dropout.rng.next_u32() < cut {
                0.0
            } else {
                keep
            }
        })
        .collect();
    pooled.mul(&Tensor::from_vec(mask, (b, h), &Device::Cpu)?)
}

/// Trains layers `first..` of `bert` and a head per label on `data` (whose
/// cache holds the output of layers `0..first`).
pub fn train_top(
    bert: &Bert,
    first: usize,
    data: &TopData<'_>,
    settings: &TopSettings,
    progress: &(dyn Fn(StepReport) + Sync),
) -> candle_core::Result<TrainedTop> {
    let TopData {
        cache,
        rows,
        targets,
        labels: n_labels,
        alternates,
    } = *data;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(settings.seed);
    let mut layer_vars = Vec::new();
    let mut layers = Vec::new();
    for layer in &bert.layers[first..] {
        let (l, v) = layer.trainable()?;
        layers.push(l);
        layer_vars.extend(v);
    }
    let h = bert.config.hidden_size;
    // The head starts small and seeded (normal-ish, std 0.02).
    let init: Vec<f32> = (0..n_labels * h)
        .map(|_| {
            let s: f64 = (0..4)
                .map(|_| (rng.next_u32() as f64) / (u32::MAX as f64))
                .sum();
            ((s - 2.0) * 0.02 * (3.0f64).sqrt()) as f32
        })
        .collect();
    let head_w = Var::from_tensor(&Tensor::from_vec(init, (n_labels, h), &Device::Cpu)?)?;
    let head_b = Var::zeros(n_labels, DType::F32, &Device::Cpu)?;
    let head = Dense {
        weight: head_w.as_tensor().clone(),
        bias: head_b.as_tensor().clone(),
    };
    let params = |lr| ParamsAdamW {
        lr,
        weight_decay: settings.weight_decay,
        ..ParamsAdamW::default()
    };
    let mut layer_opt = AdamW::new(layer_vars.clone(), params(settings.layer_lr))?;
    let mut head_opt = AdamW::new(
        vec![head_w.clone(), head_b.clone()],
        params(settings.head_lr),
    )?;

    // Odd epochs train on the counterfactual copies where rows have one.
    let swapped: Vec<usize> = match alternates {
        Some(alt) => rows
            .iter()
            .map(|&r| alt.get(r).copied().flatten().unwrap_or(r))
            .collect(),
        None => rows.to_vec(),
    };
    let mut plan: Vec<Vec<Vec<usize>>> = Vec::new();
    for e in 0..settings.epochs {
        let epoch_rows = if e % 2 == 1 { &swapped } else { rows };
        plan.push(epoch_steps(epoch_rows, cache, settings, &mut rng));
    }
    let total: usize = plan.iter().map(Vec::len).sum();
    let threads = settings.threads.max(1);
    let mut step = 0usize;
    let (mut loss_sum, mut loss_n) = (0f64, 0usize);
    for (e, steps) in plan.iter().enumerate() {
        for rows_of_step in steps {
            let factor = schedule(step, total, settings.warmup);
            layer_opt.set_learning_rate(settings.layer_lr * factor);
            head_opt.set_learning_rate(settings.head_lr * factor);
            // The step's per-label weight sum, so that a step's loss is a
            // weighted mean whatever its shards.
            let mut normaliser = vec![0f32; n_labels];
            for &r in rows_of_step {
                for (l, n) in normaliser.iter_mut().enumerate() {
                    match targets[r].get(l).copied().flatten() {
                        Some(true) => *n += settings.positive_weight.get(l).copied().unwrap_or(1.0),
                        Some(false) => *n += 1.0,
                        None => {}
                    }
                }
            }
            let shard_len = rows_of_step.len().div_ceil(threads);
            let shards: Vec<&[usize]> = rows_of_step.chunks(shard_len.max(1)).collect();
            let seeds: Vec<u64> = shards.iter().map(|_| rng.next_u64()).collect();
            let results: Vec<candle_core::Result<(f64, GradStore)>> = std::thread::scope(|s| {
                let handles: Vec<_> = shards
                    .iter()
                    .zip(&seeds)
                    .map(|(shard, &seed)| {
                        let model = Trainee {
                            layers: &layers,
                            head: &head,
                        };
                        let normaliser = &normaliser;
                        s.spawn(move || {
                            let mut r = Xoshiro256PlusPlus::seed_from_u64(seed);
                            shard_gradients(&model, data, shard, settings, normaliser, &mut r)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(candle_core::Error::Msg("a training thread panicked".into()))
                        })
                    })
                    .collect()
            });
            let mut merged: Option<GradStore> = None;
            let mut step_loss = 0.0;
            for r in results {
                let (loss, grads) = r?;
                step_loss += loss;
                merged = Some(match merged {
                    None => grads,
                    Some(mut acc) => {
                        for var in layer_vars.iter().chain([&head_w, &head_b]) {
                            if let Some(g) = grads.get(var.as_tensor()) {
                                let sum = match acc.get(var.as_tensor()) {
                                    Some(a) => (a + g)?,
                                    None => g.clone(),
                                };
                                acc.insert(var.as_tensor(), sum);
                            }
                        }
                        acc
                    }
                });
            }
            if let Some(grads) = merged {
                layer_opt.step(&grads)?;
                head_opt.step(&grads)?;
            }
            loss_sum += step_loss / n_labels as f64;
            loss_n += 1;
            step += 1;
            if step.is_multiple_of(50) || step == total {
                progress(StepReport {
                    epoch: e as u32 + 1,
                    step,
                    steps: total,
                    loss: loss_sum / loss_n.max(1) as f64,
                });
                loss_sum = 0.0;
                loss_n = 0;
            }
        }
    }
    // Detach the trained values from their variables.
    let detach = |t: &Tensor| t.detach();
    let layers = layers
        .iter()
        .map(|l| {
            let mut l = l.clone();
            for d in [
                &mut l.qkv,
                &mut l.attention_out,
                &mut l.intermediate,
                &mut l.output,
            ] {
                d.weight = detach(&d.weight);
                d.bias = detach(&d.bias);
            }
            for n in [&mut l.attention_norm, &mut l.output_norm] {
                n.weight = detach(&n.weight);
                n.bias = detach(&n.bias);
            }
            l
        })
        .collect();
    Ok(TrainedTop {
        first,
        layers,
        head: Dense {
            weight: head.weight.detach(),
            bias: head.bias.detach(),
        },
    })
}

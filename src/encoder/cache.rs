//! The frozen lower layers' output, computed once per comment and kept in
//! half precision, so that training runs only the layers it trains.

use super::bert::{Batch, Bert};
use candle_core::{Device, Tensor};
use half::f16;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Word pieces per forward pass when the cache is built (longer batches
/// cost memory, shorter ones speed).
const PIECES_PER_BATCH: usize = 4096;

/// Hidden states of many comments after the same lower layers.
#[derive(Debug, Default)]
pub struct StateCache {
    hidden: usize,
    /// Row `i` is `states[offsets[i] * hidden .. offsets[i + 1] * hidden]`.
    offsets: Vec<usize>,
    states: Vec<f16>,
}

/// Groups `lengths`' indices into batches of similar length (sorted by
/// length, at most `pieces` padded pieces and `max_rows` rows a batch).
pub fn length_batches(lengths: &[usize], pieces: usize, max_rows: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| (lengths[i], i));
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Sorted, so the newest row is the longest: padded size = rows x its length.
        let padded = (current.len() + 1) * lengths[i];
        if !current.is_empty() && (padded > pieces || current.len() >= max_rows) {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

impl StateCache {
    /// Runs the embeddings and layers `0..layers` of `bert` over every
    /// sequence on `threads` threads; `progress(done, total)` after each batch.
    pub fn build(
        bert: &Bert,
        layers: usize,
        sequences: &[Vec<u32>],
        threads: usize,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> candle_core::Result<Self> {
        let hidden = bert.config.hidden_size;
        let lengths: Vec<usize> = sequences.iter().map(Vec::len).collect();
        let batches = length_batches(&lengths, PIECES_PER_BATCH, 256);
        let results: Mutex<Vec<Option<Vec<f16>>>> = Mutex::new(vec![None; sequences.len()]);
        let next = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        let failed: Mutex<Option<candle_core::Error>> = Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..threads.max(1) {
                s.spawn(|| {
                    loop {
                        let b = next.fetch_add(1, Ordering::Relaxed);
                        let Some(rows) = batches.get(b) else { break };
                        let run = || -> candle_core::Result<Vec<Vec<f16>>> {
                            let seqs: Vec<&[u32]> =
                                rows.iter().map(|&r| sequences[r].as_slice()).collect();
                            let batch = Batch::new(&seqs, &Device::Cpu)?;
                            let x = bert.embed(&batch)?;
                            let x = bert.run_layers(&x, &batch, 0..layers)?;
                            let flat: Vec<f32> = x.flatten_all()?.to_vec1()?;
                            let l = x.dim(1)?;
                            Ok(rows
                                .iter()
                                .enumerate()
                                .map(|(k, &r)| {
                                    let start = k * l * hidden;
                                    flat[start..start + lengths[r] * hidden]
                                        .iter()
                                        .map(|&v| f16::from_f32(v))
                                        .collect()
                                })
                                .collect())
                        };
                        match run() {
                            Ok(states) => {
                                let mut res = results.lock().unwrap_or_else(|e| e.into_inner());
                                for (&r, st) in rows.iter().zip(states) {
                                    res[r] = Some(st);
                                }
                            }
                            Err(e) => {
                                *failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                                break;
                            }
                        }
                        let d = done.fetch_add(rows.len(), Ordering::Relaxed) + rows.len();
                        progress(d, sequences.len());
                    }
                });
            }
        });
        if let Some(e) = failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e);
        }
        let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
        let total: usize = lengths.iter().sum();
        let mut cache = Self {
            hidden,
            offsets: Vec::with_capacity(sequences.len() + 1),
            states: Vec::with_capacity(total * hidden),
        };
        cache.offsets.push(0);
        for r in results {
            let r = r.unwrap_or_default();
            cache.states.extend_from_slice(&r);
            cache.offsets.push(cache.states.len() / hidden);
        }
        Ok(cache)
    }

    /// Comments in the cache.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether the cache holds no comment.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pieces of comment `row`.
    pub fn length(&self, row: usize) -> usize {
        self.offsets[row + 1] - self.offsets[row]
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.states.len() * 2
    }

    /// The states of `rows`, padded: `[B, L, H]` and the batch's masks.
    pub fn batch(&self, rows: &[usize]) -> candle_core::Result<(Tensor, Batch)> {
        let lengths: Vec<usize> = rows.iter().map(|&r| self.length(r)).collect();
        let l = lengths.iter().copied().max().unwrap_or(0).max(1);
        let h = self.hidden;
        let mut data = vec![0f32; rows.len() * l * h];
        for (k, &r) in rows.iter().enumerate() {
            let src = &self.states[self.offsets[r] * h..self.offsets[r + 1] * h];
            for (d, s) in data[k * l * h..].iter_mut().zip(src) {
                *d = s.to_f32();
            }
        }
        let x = Tensor::from_vec(data, (rows.len(), l, h), &Device::Cpu)?;
        Ok((x, Batch::masks(&lengths, None, &Device::Cpu)?))
    }
}

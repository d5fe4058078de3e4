//! A semantic prior from pretrained word vectors.
//!
//! The bag of words only knows words it saw with a label. Pretrained vectors
//! (GloVe, `../shared/vectors`) know that "wmd" sits beside "weapons" and
//! "vermin" beside "roaches". Training adds a small dense block to every
//! row: the mean of the unit-normalised vectors of the comment's words,
//! scaled by a block weight ([`WordVectors::pool`]). The learner fits one
//! weight per dimension and label like any other feature.
//!
//! A linear model on a mean is a mean of per-word scores: with block weight
//! `c`, dimension weights `w` and the comment's in-vocabulary words `t_1..t_n`,
//! `w · (c/n) Σ v(t_i) = (1/n) Σ c w·v(t_i)`. So the model file does not
//! store the vectors; it stores each word's projected score per label
//! ([`SemanticPrior`]), and scoring adds the mean score of the comment's
//! words. A word never seen in training still gets the score its meaning
//! implies, and an explanation can name the word that carried it.

use crate::error::{Error, Result};
use crate::features::hash::BuildStrHasher;
use crate::text::{TokenKind, Tokens};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Word vectors held while training (never stored in a model file).
#[derive(Debug, Clone)]
pub struct WordVectors {
    words: Vec<String>,
    index: HashMap<String, u32, BuildStrHasher>,
    dims: usize,
    /// Unit-normalised vectors, `dims` values per word, in word order.
    data: Vec<f32>,
}

impl WordVectors {
    /// Reads GloVe's text format (a word, then its numbers, one word per
    /// line; gzip-compressed when the name ends in `.gz`), keeping the first
    /// `max_words` words (GloVe lists them most frequent first). Vectors are
    /// normalised to unit length. A word that repeats keeps its first vector.
    pub fn load(path: &Path, max_words: usize) -> Result<WordVectors> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(flate2::read::GzDecoder::new(file))
        } else {
            Box::new(file)
        };
        Self::read(BufReader::new(reader), path, max_words)
    }

    /// [`WordVectors::load`] from any reader; `path` names it in errors.
    pub fn read(reader: impl BufRead, path: &Path, max_words: usize) -> Result<WordVectors> {
        let bad = |line: usize, what: String| Error::input(path, line as u64, what);
        let mut out = WordVectors {
            words: Vec::new(),
            index: HashMap::default(),
            dims: 0,
            data: Vec::new(),
        };
        for (i, line) in reader.lines().enumerate() {
            if out.words.len() >= max_words {
                break;
            }
            let line = line.map_err(|e| bad(i + 1, format!("cannot read: {e}")))?;
            let mut parts = line.split(' ');
            let Some(word) = parts.next().filter(|w| !w.is_empty()) else {
                continue;
            };
            let start = out.data.len();
            for p in parts.filter(|p| !p.is_empty()) {
                let v: f32 = p
                    .parse()
                    .map_err(|_| bad(i + 1, format!("`{p}` is not a number")))?;
                if !v.is_finite() {
                    return Err(bad(i + 1, format!("`{p}` is not finite")));
                }
                out.data.push(v);
            }
            let dims = out.data.len() - start;
            if out.dims == 0 {
                out.dims = dims;
            }
            if dims == 0 || dims != out.dims {
                return Err(bad(
                    i + 1,
                    format!(
                        "vector of `{word}` has {dims} numbers, expected {}",
                        out.dims
                    ),
                ));
            }
            if out.index.contains_key(word) {
                out.data.truncate(start);
                continue;
            }
            let norm = out.data[start..].iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                out.data[start..].iter_mut().for_each(|v| *v /= norm);
            }
            out.index.insert(word.to_string(), out.words.len() as u32);
            out.words.push(word.to_string());
        }
        if out.words.is_empty() {
            return Err(bad(1, "no word vectors in the file".into()));
        }
        Ok(out)
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// True when there are no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Dimensions per vector.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The words, in file order.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// The id of `word`.
    pub fn id(&self, word: &str) -> Option<u32> {
        self.index.get(word).copied()
    }

    /// All vectors, `dims` values per word, in word order.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The unit vector of word `id`.
    pub fn vector(&self, id: u32) -> &[f32] {
        let s = id as usize * self.dims;
        &self.data[s..s + self.dims]
    }

    /// Writes `weight` times the mean vector of `ids` into `out` (zeros
    /// when `ids` is empty). The sum runs in the order given, so training and
    /// the projected scores of [`SemanticPrior`] see the same numbers.
    pub fn pool(&self, ids: &[u32], weight: f32, out: &mut [f32]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        if ids.is_empty() {
            return;
        }
        for &id in ids {
            for (o, v) in out.iter_mut().zip(self.vector(id)) {
                *o += v;
            }
        }
        let scale = weight / ids.len() as f32;
        out.iter_mut().for_each(|v| *v *= scale);
    }
}

/// Appends to `ids` the table ids of the word tokens of `tokens` (by their
/// normalised surface form, before stemming), in text order; words not in
/// the table are skipped. `lookup` maps a word to its id.
pub fn word_ids(tokens: &Tokens, lookup: impl Fn(&str) -> Option<u32>, ids: &mut Vec<u32>) {
    for token in tokens.tokens() {
        if token.kind == TokenKind::Word
            && let Some(id) = lookup(tokens.surface(token))
        {
            ids.push(id);
        }
    }
}

/// Settings of the semantic block, stored in the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SemanticConfig {
    /// Scale of the pooled vector against the unit-norm n-gram blocks.
    pub weight: f32,
    /// Words of the vector file kept (the most frequent first).
    pub max_words: usize,
    /// The vector file's name, for the model card.
    pub source: String,
}

/// The stored prior: per label, each lexicon word's projected score
/// `weight · w_label · v(word)` (word ids are those of the model's
/// [`super::lexicon::Lexicon`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SemanticPrior {
    /// How the block was built.
    pub config: SemanticConfig,
    /// `scores[label][word]`.
    pub scores: Vec<Vec<f32>>,
}

impl SemanticPrior {
    /// Projects the fitted dimension weights of each label (`dim_weights[l]`,
    /// `vectors.dims()` long) onto every word.
    pub fn project(
        config: SemanticConfig,
        vectors: &WordVectors,
        dim_weights: &[Vec<f32>],
    ) -> SemanticPrior {
        let scores = dim_weights
            .iter()
            .map(|w| {
                (0..vectors.len() as u32)
                    .map(|id| {
                        config.weight
                            * vectors
                                .vector(id)
                                .iter()
                                .zip(w)
                                .map(|(v, w)| v * w)
                                .sum::<f32>()
                    })
                    .collect()
            })
            .collect();
        SemanticPrior { config, scores }
    }

    /// True when every label has one finite score per word of a lexicon of
    /// `words` words and the weight is finite.
    pub fn is_consistent(&self, labels: usize, words: usize) -> bool {
        self.scores.len() == labels
            && self.config.weight.is_finite()
            && self
                .scores
                .iter()
                .all(|s| s.len() == words && s.iter().all(|v| v.is_finite()))
    }

    /// Word `id`'s score for label `l`.
    #[inline]
    pub fn score(&self, l: usize, id: u32) -> f32 {
        self.scores[l][id as usize]
    }

    /// The mean score for label `l` of words `ids` (0 when there are none).
    pub fn mean_score(&self, l: usize, ids: &[u32]) -> f32 {
        if ids.is_empty() {
            return 0.0;
        }
        let s = &self.scores[l];
        ids.iter().map(|&i| s[i as usize]).sum::<f32>() / ids.len() as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors() -> WordVectors {
        let text = "kill 1 0 0\nbomb 0.8 0.6 0\nhello 0 0 2\nkill 9 9 9\n";
        WordVectors::read(text.as_bytes(), Path::new("v.txt"), 10).unwrap()
    }

    #[test]
    fn vectors_load_unit_normalised_and_first_wins() {
        let v = vectors();
        assert_eq!(v.len(), 3);
        assert_eq!(v.dims(), 3);
        assert_eq!(v.vector(v.id("hello").unwrap()), &[0.0, 0.0, 1.0]);
        assert_eq!(v.vector(v.id("kill").unwrap()), &[1.0, 0.0, 0.0]);
        let limited = WordVectors::read("a 1\nb 2\nc 3\n".as_bytes(), Path::new("v"), 2).unwrap();
        assert_eq!(limited.words(), &["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn bad_vector_files_name_the_line() {
        let e = WordVectors::read("a 1 2\nb 1\n".as_bytes(), Path::new("v.txt"), 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("v.txt:2"), "{e}");
        let e = WordVectors::read("a 1 x\n".as_bytes(), Path::new("v.txt"), 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("v.txt:1") && e.contains("`x`"), "{e}");
        assert!(WordVectors::read("".as_bytes(), Path::new("v"), 10).is_err());
    }

    #[test]
    fn projected_scores_equal_the_dot_product_with_the_pooled_vector() {
        let v = vectors();
        let w = vec![vec![0.5, -2.0, 3.0], vec![1.0, 1.0, 1.0]];
        let config = SemanticConfig {
            weight: 1.5,
            max_words: 10,
            source: "v.txt".into(),
        };
        let prior = SemanticPrior::project(config, &v, &w);
        assert!(prior.is_consistent(2, 3));
        let ids = [
            v.id("kill").unwrap(),
            v.id("bomb").unwrap(),
            v.id("kill").unwrap(),
        ];
        let mut pooled = vec![0.0; 3];
        v.pool(&ids, 1.5, &mut pooled);
        for (l, wl) in w.iter().enumerate() {
            let direct: f32 = pooled.iter().zip(wl).map(|(a, b)| a * b).sum();
            assert!((prior.mean_score(l, &ids) - direct).abs() < 1e-6);
        }
        assert_eq!(prior.mean_score(0, &[]), 0.0);
        v.pool(&[], 1.5, &mut pooled);
        assert_eq!(pooled, vec![0.0; 3]);
    }
}

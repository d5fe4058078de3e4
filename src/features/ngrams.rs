//! Which features a token sequence produces: word n-grams of stems and,
//! optionally, character n-grams inside word boundaries.

use super::hash::{FeatureHasher, combine};
use super::lexicon::Lexicon;
use crate::text::{TokenKind, Tokens};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Feature namespaces (the first byte hashed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeatureKind {
    /// One token.
    Unigram,
    /// Two consecutive tokens.
    Bigram,
    /// A character n-gram of one word, padded with a space at each end.
    CharGram,
    /// The cluster of one word at one granularity (see [`Lexicon`]).
    Cluster,
}

impl FeatureKind {
    /// The namespace byte hashed first in a feature of this kind.
    pub fn tag(self) -> u8 {
        match self {
            FeatureKind::Unigram => 1,
            FeatureKind::Bigram => 2,
            FeatureKind::CharGram => 3,
            FeatureKind::Cluster => 4,
        }
    }
}

/// Settings for feature extraction, stored in the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NgramConfig {
    /// Emit word bigrams as well as unigrams.
    pub word_bigrams: bool,
    /// Character n-gram lengths inside word boundaries (`None` = off),
    /// as `(min, max)`, e.g. `(2, 5)`.
    pub char_ngrams: Option<(u8, u8)>,
    /// Count n-grams outside the selected features in each row's l2 norm
    /// (each as tf 1 with the idf of a feature seen in one training comment),
    /// so a row is normalised as if the whole vocabulary were kept.
    pub norm_unselected: bool,
    /// Normalise word n-grams and character n-grams separately (each block
    /// to unit length), instead of the whole row at once.
    pub norm_per_block: bool,
    /// The word table from pretrained vectors (cluster tokens and the
    /// semantic prior look words up in it); `None` without vectors.
    pub lexicon: Option<Arc<Lexicon>>,
    /// Weight of the cluster-token block (its l2 norm with
    /// `norm_per_block`); 0 = no cluster tokens.
    pub cluster_weight: f32,
}

impl NgramConfig {
    /// True when word tokens produce cluster features.
    pub fn cluster_tokens(&self) -> bool {
        self.cluster_weight > 0.0 && self.lexicon.as_ref().is_some_and(|l| !l.levels.is_empty())
    }
}

impl Default for NgramConfig {
    fn default() -> Self {
        Self {
            word_bigrams: true,
            char_ngrams: None,
            norm_unselected: false,
            norm_per_block: false,
            lexicon: None,
            cluster_weight: 0.0,
        }
    }
}

/// One occurrence of a feature: its hash and the tokens it covers
/// (`first..=last`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// Feature identity.
    pub hash: u64,
    /// Namespace.
    pub kind: FeatureKind,
    /// Index of the first token covered.
    pub first: u32,
    /// Index of the last token covered.
    pub last: u32,
}

/// Extracts feature occurrences, reusing a small buffer between calls.
#[derive(Debug, Default, Clone)]
pub struct NgramExtractor {
    config: NgramConfig,
    token_hashes: Vec<u64>,
    char_bounds: Vec<usize>,
    padded: String,
    states: Vec<FeatureHasher>,
}

impl NgramExtractor {
    /// Creates an extractor.
    pub fn new(config: NgramConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// The extractor's settings.
    pub fn config(&self) -> &NgramConfig {
        &self.config
    }

    /// Calls `emit` for every feature occurrence of `tokens`: word n-grams
    /// ([`extract_words`](Self::extract_words)), then the character n-grams
    /// of each word token ([`extract_chargrams`](Self::extract_chargrams)).
    pub fn extract(&mut self, tokens: &Tokens, mut emit: impl FnMut(Occurrence)) {
        self.extract_words(tokens, &mut emit);
        if let Some(lexicon) = self
            .config
            .lexicon
            .as_ref()
            .filter(|_| self.config.cluster_tokens())
        {
            for (i, token) in tokens.tokens().iter().enumerate() {
                if token.kind != TokenKind::Word {
                    continue;
                }
                if let Some(id) = lexicon.id(tokens.surface(token)) {
                    for (level, &c) in lexicon.clusters_of(id).iter().enumerate() {
                        emit(Occurrence {
                            hash: cluster_hash(level, c),
                            kind: FeatureKind::Cluster,
                            first: i as u32,
                            last: i as u32,
                        });
                    }
                }
            }
        }
        if self.config.char_ngrams.is_some() {
            for (i, token) in tokens.tokens().iter().enumerate() {
                if token.kind != TokenKind::Word {
                    continue;
                }
                self.extract_chargrams(tokens.surface(token), |hash| {
                    emit(Occurrence {
                        hash,
                        kind: FeatureKind::CharGram,
                        first: i as u32,
                        last: i as u32,
                    })
                });
            }
        }
    }

    /// Calls `emit` for every word unigram and (if enabled) bigram of
    /// `tokens`, in text order.
    pub fn extract_words(&mut self, tokens: &Tokens, mut emit: impl FnMut(Occurrence)) {
        self.token_hashes.clear();
        for (i, (text, _)) in tokens.iter().enumerate() {
            let mut h = FeatureHasher::new(FeatureKind::Unigram.tag());
            h.write(text.as_bytes());
            let hash = h.finish();
            self.token_hashes.push(hash);
            emit(Occurrence {
                hash,
                kind: FeatureKind::Unigram,
                first: i as u32,
                last: i as u32,
            });
        }
        if self.config.word_bigrams {
            for i in 1..self.token_hashes.len() {
                emit(Occurrence {
                    hash: combine(
                        FeatureKind::Bigram.tag(),
                        self.token_hashes[i - 1],
                        self.token_hashes[i],
                    ),
                    kind: FeatureKind::Bigram,
                    first: i as u32 - 1,
                    last: i as u32,
                });
            }
        }
    }

    /// Calls `emit(hash)` for every character n-gram of one word's surface
    /// form, padded with a space at each end; shorter n-grams first, then by
    /// position. Nothing when character n-grams are off.
    ///
    /// FNV is sequential, so the hash of an n-gram extends the hash of its
    /// prefix: each start position keeps a running hasher and every byte is
    /// hashed once per start, not once per n-gram.
    pub fn extract_chargrams(&mut self, surface: &str, mut emit: impl FnMut(u64)) {
        let Some((lo, hi)) = self.config.char_ngrams else {
            return;
        };
        self.padded.clear();
        self.padded.push(' ');
        self.padded.push_str(surface);
        self.padded.push(' ');
        self.char_bounds.clear();
        self.char_bounds
            .extend(self.padded.char_indices().map(|(b, _)| b));
        self.char_bounds.push(self.padded.len());
        let nchars = self.char_bounds.len() - 1;
        let bytes = self.padded.as_bytes();
        self.states.clear();
        self.states
            .resize(nchars, FeatureHasher::new(FeatureKind::CharGram.tag()));
        for n in 1..=(hi as usize).min(nchars) {
            for s in 0..=nchars - n {
                let c = s + n - 1;
                let state = &mut self.states[s];
                state.write(&bytes[self.char_bounds[c]..self.char_bounds[c + 1]]);
                if n >= lo as usize {
                    emit(state.finish());
                }
            }
        }
    }

    /// A readable name for a word n-gram occurrence (`None` for character
    /// n-grams, which [`name_chargrams`] names).
    pub fn describe(tokens: &Tokens, occ: &Occurrence) -> Option<String> {
        let toks = tokens.tokens();
        match occ.kind {
            FeatureKind::Unigram => Some(tokens.text(&toks[occ.first as usize]).to_string()),
            FeatureKind::Bigram => Some(format!(
                "{} {}",
                tokens.text(&toks[occ.first as usize]),
                tokens.text(&toks[occ.last as usize])
            )),
            FeatureKind::CharGram | FeatureKind::Cluster => None,
        }
    }
}

/// The feature identity of cluster `cluster` at granularity `level`.
#[inline]
pub fn cluster_hash(level: usize, cluster: u16) -> u64 {
    let mut h = FeatureHasher::new(FeatureKind::Cluster.tag());
    h.write(&[level as u8]);
    h.write(&cluster.to_le_bytes());
    h.finish()
}

/// Calls `emit(hash, gram)` for every character n-gram of `surface` (the gram
/// includes the space padding at word boundaries). Used to name selected
/// features; see [`chargram_name`].
pub fn name_chargrams(surface: &str, (lo, hi): (u8, u8), mut emit: impl FnMut(u64, &str)) {
    let padded = format!(" {surface} ");
    let bounds: Vec<usize> = padded
        .char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(padded.len()))
        .collect();
    let nchars = bounds.len() - 1;
    for n in lo as usize..=hi as usize {
        if n > nchars {
            break;
        }
        for s in 0..=nchars - n {
            let gram = &padded[bounds[s]..bounds[s + n]];
            let mut h = FeatureHasher::new(FeatureKind::CharGram.tag());
            h.write(gram.as_bytes());
            emit(h.finish(), gram);
        }
    }
}

/// The display name of a character n-gram: word-boundary padding shown as `_`.
pub fn chargram_name(gram: &str) -> String {
    gram.replace(' ', "_")
}

//! Which language a comment is in: a naive Bayes classifier over words and
//! character n-grams, trained on the comments of each language's training
//! file, with a general detector (whatlang) to recognise languages moderate
//! has no model for.
//!
//! Why not whatlang alone: on the project's dev sets of comments of five
//! words or more it names Spanish 87% and Portuguese 93% of the time (it
//! confuses the two, and English tweets with French or German), below the
//! 97% this needs. Comments are short, informal and full of names; a
//! classifier fitted on comments in each language reads them better. Its
//! blind spot is every language it was not trained on, such as Italian:
//! when it names a language other than English, whatlang is asked as well,
//! and if it is sure of a language moderate has no model for, that
//! language is the answer.
//!
//! The detector reads only words: URLs, @mentions, #hashtags, placeholders
//! such as `[@USER]`, numbers and punctuation are skipped; compatibility
//! forms are folded (NFKC) and accents kept (they tell Portuguese from
//! Spanish). It reads at most [`MAX_WORDS`] words, and stops earlier once
//! one language leads decisively.

use super::Language;
use crate::features::hash::{FeatureHasher, HashMap64};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Comments with fewer words than this are too short to tell (see
/// [`super::choose`]).
pub const MIN_WORDS: usize = 3;
/// Words read at most: the start of a comment tells its language.
pub const MAX_WORDS: usize = 40;
/// Reading stops once one language leads the next by this many nats after
/// at least [`DECISIVE_WORDS`] words (the rest of a long comment would not
/// change the answer; it keeps detection a small share of scoring).
const DECISIVE_LEAD: f32 = 20.0;
/// A comment read to its end (or to [`MAX_WORDS`]) on whole words alone is
/// decided when one language leads by this many nats; otherwise it is read
/// again with character n-grams.
const SETTLED_LEAD: f32 = 10.0;
/// An English answer with a lead below this many nats per word is checked
/// with the general detector, as every other answer is.
const UNSURE_ENGLISH: f32 = 1.0;
/// Words read at least before reading may stop early.
const DECISIVE_WORDS: usize = 5;

/// The lead of the best score over the next.
fn lead(scores: &[f32]) -> f32 {
    let (mut first, mut second) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
    for &s in scores {
        if s > first {
            second = first;
            first = s;
        } else if s > second {
            second = s;
        }
    }
    first - second
}

/// Counts below this are left out of the tables (and get the floor).
const MIN_COUNT: u32 = 2;
/// Feature families: whole words, then character 1-, 2- and 3-grams of the
/// word padded with a space on each side.
const FAMILIES: usize = 4;

/// The outcome of [`LanguageDetector::detect`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// The language moderate has a model for that the comment is in, when
    /// that is what was detected.
    pub language: Option<Language>,
    /// The detected language's code: one of `language`'s, another language
    /// the general detector was sure of (`it`), or `und` when the comment
    /// is too short to tell.
    pub code: &'static str,
    /// Words read (at most [`MAX_WORDS`]).
    pub words: usize,
    /// Log-likelihood margin of the best language over the runner-up, per
    /// word read (0 when too short).
    pub margin: f32,
}

impl Detection {
    /// Whether the comment had too few words to tell.
    pub fn too_short(&self) -> bool {
        self.words < MIN_WORDS
    }
}

/// A naive Bayes language classifier over the languages it was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LanguageDetector {
    /// The languages it tells apart, in table order.
    pub languages: Vec<Language>,
    /// Feature hashes, sorted.
    keys: Vec<u64>,
    /// Log probability of each feature per language (`keys.len()` rows of
    /// `languages.len()`).
    log_probs: Vec<f32>,
    /// Log probability of an unseen feature, per family and language.
    floors: Vec<f32>,
    /// Comments each language was trained on.
    pub trained_on: Vec<u32>,
    #[serde(skip)]
    index: HashMap64<u32>,
}

/// A feature's key: its hash with the family in the two low bits.
fn key_of(hash: u64, family: usize) -> u64 {
    (hash & !3) | family as u64
}

/// The family of a feature's key.
fn family_of_key(key: u64) -> usize {
    (key & 3) as usize
}

/// What [`for_each_feature`] reports: a feature of the current word, or
/// the end of a word (with the number of words read so far).
enum Event {
    Feature(usize, u64),
    WordEnd(usize),
}

/// Calls `f` with every feature of the words of `text` and after every
/// word; stops when `f` answers `true` at a word's end. Returns the number
/// of words read.
fn for_each_feature(text: &str, words_only: bool, mut f: impl FnMut(Event) -> bool) -> usize {
    let mut words = 0;
    let mut word: Vec<char> = Vec::with_capacity(32);
    for raw in text.split_whitespace() {
        if words >= MAX_WORDS {
            break;
        }
        // (Single-character searches first: they are memchr, the
        // substring ones are not.)
        let skip = raw.starts_with(['@', '#'])
            || raw.starts_with("[@")
            || (raw.contains(':') && raw.contains("://"))
            || raw.starts_with("www.")
            || (raw.contains('|') && raw.contains("|LBR|"))
            || raw.eq_ignore_ascii_case("rt");
        if skip {
            continue;
        }
        word.clear();
        word.push(' ');
        if raw.is_ascii() {
            word.extend(
                raw.bytes()
                    .filter(|b| b.is_ascii_alphabetic() || *b == b'\'')
                    .map(|b| char::from(b.to_ascii_lowercase())),
            );
        } else {
            // Compatibility forms (full-width, mathematical bold letters)
            // read as the letters they show; accents are kept.
            word.extend(
                raw.nfkc()
                    .filter(|c| c.is_alphabetic() || *c == '\'')
                    .flat_map(char::to_lowercase),
            );
        }
        if !word[1..].iter().any(|c| c.is_alphabetic()) {
            continue;
        }
        words += 1;
        let mut h = FeatureHasher::new(0);
        for c in &word[1..] {
            h.write(c.encode_utf8(&mut [0; 4]).as_bytes());
        }
        f(Event::Feature(0, key_of(h.finish(), 0)));
        word.push(' ');
        for n in (1..=3usize).filter(|_| !words_only) {
            for window in word.windows(n) {
                if n == 1 && window[0] == ' ' {
                    continue;
                }
                let mut h = FeatureHasher::new(n as u8);
                for c in window {
                    h.write(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                f(Event::Feature(n, key_of(h.finish(), n)));
            }
        }
        if f(Event::WordEnd(words)) {
            break;
        }
    }
    words
}

impl LanguageDetector {
    /// Trains on `(language, comment)` pairs; languages appear in the order
    /// first seen. Deterministic: the same pairs give the same tables.
    pub fn train<'a>(samples: impl IntoIterator<Item = (Language, &'a str)>) -> LanguageDetector {
        let mut languages: Vec<Language> = Vec::new();
        let mut counts: Vec<HashMap64<u32>> = Vec::new();
        let mut totals: Vec<[f64; FAMILIES]> = Vec::new();
        let mut trained_on: Vec<u32> = Vec::new();
        for (language, text) in samples {
            let l = match languages.iter().position(|&x| x == language) {
                Some(l) => l,
                None => {
                    languages.push(language);
                    counts.push(HashMap64::default());
                    totals.push([0.0; FAMILIES]);
                    trained_on.push(0);
                    languages.len() - 1
                }
            };
            trained_on[l] += 1;
            let (table, total) = (&mut counts[l], &mut totals[l]);
            for_each_feature(text, false, |event| {
                if let Event::Feature(family, key) = event {
                    *table.entry(key).or_insert(0) += 1;
                    total[family] += 1.0;
                }
                false
            });
        }
        let mut keys: Vec<u64> = counts
            .iter()
            .flat_map(|t| t.iter().filter(|(_, c)| **c >= MIN_COUNT).map(|(k, _)| *k))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let n = languages.len();
        // An unseen feature counts as half an occurrence.
        let floors: Vec<f32> = (0..FAMILIES)
            .flat_map(|family| {
                totals
                    .iter()
                    .map(move |t| (0.5 / t[family].max(1.0)).ln() as f32)
            })
            .collect();
        let mut log_probs = vec![0.0f32; keys.len() * n];
        for (row, key) in keys.iter().enumerate() {
            let family = family_of_key(*key);
            for l in 0..n {
                log_probs[row * n + l] = match counts[l].get(key) {
                    Some(&c) if c >= MIN_COUNT => (f64::from(c) / totals[l][family]).ln() as f32,
                    _ => floors[family * n + l],
                };
            }
        }
        let mut detector = LanguageDetector {
            languages,
            keys,
            log_probs,
            floors,
            trained_on,
            index: HashMap64::default(),
        };
        detector.rebuild_index();
        detector
    }

    /// Rebuilds the lookup index after decoding.
    pub fn rebuild_index(&mut self) {
        self.index = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, i as u32))
            .collect();
    }

    /// Whether the tables are consistent (after decoding a model file).
    pub fn is_consistent(&self) -> bool {
        let n = self.languages.len();
        n > 0
            && self.log_probs.len() == self.keys.len() * n
            && self.floors.len() == FAMILIES * n
            && self.trained_on.len() == n
            && self
                .log_probs
                .iter()
                .chain(&self.floors)
                .all(|p| p.is_finite())
            && self.keys.windows(2).all(|w| w[0] < w[1])
    }

    /// The language of `text`. `prior` adds that many nats to the
    /// languages listed with it (a site's declared language).
    pub fn detect(&self, text: &str, prior: &[(Language, f32)]) -> Detection {
        let n = self.languages.len();
        let mut scores = [0.0f32; 8];
        let scores = &mut scores[..n.min(8)];
        // The declared languages' head start counts from the first word, so
        // that reading can stop once one language leads decisively.
        let mut start = [0.0f32; 8];
        for (language, nats) in prior {
            if let Some(l) = self.languages.iter().position(|x| x == language) {
                start[l] += nats;
            }
        }
        // First the whole words alone (one lookup a word): most comments
        // are decided by their words within a few words. Otherwise every
        // feature of every word read.
        let mut words = 0;
        for words_only in [true, false] {
            scores.copy_from_slice(&start[..scores.len()]);
            let mut decided = false;
            words = for_each_feature(text, words_only, |event| match event {
                Event::Feature(family, key) => {
                    let row = match self.index.get(&key) {
                        Some(&row) => &self.log_probs[row as usize * n..row as usize * n + n],
                        None => &self.floors[family * n..family * n + n],
                    };
                    for (s, p) in scores.iter_mut().zip(row) {
                        *s += p;
                    }
                    false
                }
                Event::WordEnd(words) => {
                    decided = words >= DECISIVE_WORDS && lead(scores) >= DECISIVE_LEAD;
                    decided
                }
            });
            // Every word read: whole words that agree this strongly need no
            // character n-grams to settle the comment.
            decided = decided || (words_only && lead(scores) >= SETTLED_LEAD);
            if decided || words < MIN_WORDS {
                break;
            }
        }
        if words < MIN_WORDS {
            return Detection {
                language: None,
                code: "und",
                words,
                margin: 0.0,
            };
        }
        let mut best = 0;
        for l in 1..scores.len() {
            if scores[l] > scores[best] {
                best = l;
            }
        }
        let runner_up = (0..scores.len())
            .filter(|&l| l != best)
            .map(|l| scores[l])
            .fold(f32::NEG_INFINITY, f32::max);
        let margin = if runner_up.is_finite() {
            (scores[best] - runner_up) / words as f32
        } else {
            f32::INFINITY
        };
        let language = self.languages[best];
        // The general detector is asked only when the answer is not a sure
        // English (it costs about 60 µs a comment, the rest of detection
        // about half a microsecond).
        if (language != Language::En || margin < UNSURE_ENGLISH)
            && let Some(other) = general_detector_names_another(text)
        {
            return Detection {
                language: None,
                code: other,
                words,
                margin,
            };
        }
        Detection {
            language: Some(language),
            code: language.code(),
            words,
            margin,
        }
    }
}

/// The language whatlang is sure of, when moderate has no model for it.
fn general_detector_names_another(text: &str) -> Option<&'static str> {
    let sample = crate::text::truncate_at_char(text, 2_000).0;
    let info = whatlang::detect(sample)?;
    if !info.is_reliable() {
        return None;
    }
    let code = super::whatlang_code(info.lang());
    Language::from_code(code).is_none().then_some(code)
}

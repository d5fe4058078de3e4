//! Identity blinding: the word model does not read words that only name a
//! group (`muslim`, `women`, `gay`, ...). It learns what is said ("I hate",
//! "are vermin", "should be deported") rather than which group is named, so
//! "I hate muslims" and "I hate christians" share their evidence and "Being
//! gay is wonderful" scores as "Being is wonderful" does. Training data
//! where a group is mostly named in abuse (sexism corpora, hate corpora)
//! then cannot teach that naming the group is abusive.
//!
//! The terms are the groups of `data/identity_terms.txt` (the ones `eval
//! --bias` reports on), matched by English stem after normalisation, as the
//! bias report matches them. The words are left out of the token stream
//! before n-grams are formed, in training and scoring alike.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The stems that are masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub struct IdentityMask {
    stems: HashSet<String>,
}

impl From<Vec<String>> for IdentityMask {
    fn from(stems: Vec<String>) -> Self {
        Self {
            stems: stems.into_iter().collect(),
        }
    }
}

impl From<IdentityMask> for Vec<String> {
    fn from(mask: IdentityMask) -> Self {
        let mut v: Vec<String> = mask.stems.into_iter().collect();
        v.sort();
        v
    }
}

impl IdentityMask {
    /// A mask of the given stems (English Snowball stems of lower-case words).
    pub fn new(stems: impl IntoIterator<Item = String>) -> Self {
        Self {
            stems: stems.into_iter().collect(),
        }
    }

    /// The mask of the shipped identity groups (`data/identity_terms.txt`).
    pub fn builtin() -> Self {
        Self::builtin_for(crate::language::Language::En)
    }

    /// The mask of the shipped identity groups of `language`
    /// (`data/identity_terms.txt` for English, `data/identity_terms_de.txt`
    /// and so on), as stems of that language's stemmer.
    pub fn builtin_for(language: crate::language::Language) -> Self {
        Self::new(crate::bias::IdentityTerms::builtin().stems_in(language))
    }

    /// Whether a word whose stem is `stem` is masked.
    pub fn masks(&self, stem: &str) -> bool {
        self.stems.contains(stem)
    }

    /// Stems masked.
    pub fn len(&self) -> usize {
        self.stems.len()
    }

    /// Whether nothing is masked.
    pub fn is_empty(&self) -> bool {
        self.stems.is_empty()
    }
}

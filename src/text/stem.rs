//! Stemming (Snowball, via rust-stemmers) with a bounded cache.
//!
//! Stemming is about a third of the analysis time; comment vocabularies are
//! Zipfian, so a small cache of recent words removes most of that cost.

use rust_stemmers::Stemmer;
use std::collections::HashMap;

/// Most words kept in the cache before it is emptied and refilled.
const CACHE_LIMIT: usize = 200_000;

/// A Snowball stemmer that remembers the stems it has computed.
pub struct CachedStemmer {
    stemmer: Stemmer,
    /// Word -> index into `stems`.
    cache: HashMap<Box<str>, u32, crate::features::hash::BuildStrHasher>,
    stems: Vec<String>,
}

impl Default for CachedStemmer {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for CachedStemmer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedStemmer")
            .field("cached", &self.cache.len())
            .finish()
    }
}

impl CachedStemmer {
    /// Creates an English stemmer with an empty cache.
    pub fn new() -> Self {
        Self::for_language(crate::language::Language::En)
    }

    /// Creates the stemmer of `language` with an empty cache.
    pub fn for_language(language: crate::language::Language) -> Self {
        Self {
            stemmer: Stemmer::create(language.stemmer()),
            cache: HashMap::default(),
            stems: Vec::new(),
        }
    }

    /// Returns the stem of `word` (which should already be lower-case).
    pub fn stem<'a>(&'a mut self, word: &'a str) -> &'a str {
        // One lookup on a hit (the common case); a miss stems and inserts.
        let index = match self.cache.get(word) {
            Some(&i) => i,
            None => {
                if self.cache.len() >= CACHE_LIMIT {
                    self.cache.clear();
                    self.stems.clear();
                }
                self.stems.push(self.stemmer.stem(word).into_owned());
                let i = (self.stems.len() - 1) as u32;
                self.cache.insert(word.into(), i);
                i
            }
        };
        &self.stems[index as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_english_words() {
        let mut s = CachedStemmer::new();
        assert_eq!(s.stem("killing"), "kill");
        assert_eq!(s.stem("animals"), "anim");
        assert_eq!(s.stem("barbaric"), "barbar");
        // Cached answers are identical.
        assert_eq!(s.stem("killing"), "kill");
    }
}

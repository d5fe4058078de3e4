//! The word list a model ships: the surface words of its training corpus
//! (as the tokenizer writes them: lower case, apostrophes dropped, drawn-out
//! letters cut) with the number of training comments each occurs in.
//!
//! [`resolve`](super::resolve) reads obfuscated words against it. The words
//! are kept sorted in one string, so the list doubles as a trie without any
//! index: a [`Node`] is the range of words that share a prefix, and stepping
//! one byte down is a binary search inside that range. Loading a model
//! therefore builds nothing, and the list costs its own bytes only (about
//! 0.3 MB for the 32k words of `train.csv` seen in two comments or more).
//!
//! The list is shared (`Arc`) by every analyzer made from the same settings.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Longest word (in bytes) a list holds.
pub const MAX_WORD_BYTES: usize = 32;
/// Most words a list may hold (a stored list with more is refused).
pub const MAX_WORDS: usize = 500_000;

/// Known words with their document frequencies; see the [module docs](self).
#[derive(Clone, PartialEq, Eq)]
pub struct KnownWords {
    data: Arc<Data>,
}

#[derive(PartialEq, Eq)]
struct Data {
    /// The words, sorted by bytes, back to back.
    text: String,
    /// `starts[i]..starts[i + 1]` is word `i` in `text` (`len() + 1` entries).
    starts: Vec<u32>,
    /// Comments each word occurs in.
    counts: Vec<u32>,
    /// Comments counted in all (0 when not known).
    comments: u32,
}

/// The words sharing a prefix: a node of the implicit trie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    lo: u32,
    hi: u32,
    depth: u32,
}

impl Node {
    /// Length in bytes of the prefix this node stands for.
    pub fn depth(self) -> usize {
        self.depth as usize
    }
}

impl Default for KnownWords {
    fn default() -> Self {
        Self {
            data: Arc::new(Data {
                text: String::new(),
                starts: vec![0],
                counts: Vec::new(),
                comments: 0,
            }),
        }
    }
}

impl std::fmt::Debug for KnownWords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownWords")
            .field("words", &self.len())
            .finish()
    }
}

impl KnownWords {
    /// A list of `(word, count)` pairs in any order. Fails on an empty,
    /// over-long or repeated word, a word with a line break or a zero count.
    pub fn from_counts(mut pairs: Vec<(String, u32)>) -> Result<Self, String> {
        pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut text = String::new();
        let mut starts = vec![0u32];
        let mut counts = Vec::with_capacity(pairs.len());
        for (i, (word, count)) in pairs.iter().enumerate() {
            if i > 0 && pairs[i - 1].0 == *word {
                return Err(format!("word `{word}` is listed twice"));
            }
            check_word(word, *count)?;
            text.push_str(word);
            starts.push(text.len() as u32);
            counts.push(*count);
        }
        if counts.len() > MAX_WORDS {
            return Err(format!(
                "{} words, more than the {MAX_WORDS} a list may hold",
                counts.len()
            ));
        }
        Ok(Self {
            data: Arc::new(Data {
                text,
                starts,
                counts,
                comments: 0,
            }),
        })
    }

    /// The same list, recording that it counts `comments` comments in all.
    pub fn with_comments(mut self, comments: u32) -> Self {
        if let Some(data) = Arc::get_mut(&mut self.data) {
            data.comments = comments;
        } else {
            self.data = Arc::new(Data {
                text: self.data.text.clone(),
                starts: self.data.starts.clone(),
                counts: self.data.counts.clone(),
                comments,
            });
        }
        self
    }

    /// How many comments the counts were taken from (0 when not known).
    pub fn comments(&self) -> u32 {
        self.data.comments
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.data.counts.len()
    }

    /// True when the list is empty.
    pub fn is_empty(&self) -> bool {
        self.data.counts.is_empty()
    }

    /// Word `i` in sorted order.
    fn word(&self, i: u32) -> &[u8] {
        let d = &self.data;
        let (a, b) = (d.starts[i as usize], d.starts[i as usize + 1]);
        &d.text.as_bytes()[a as usize..b as usize]
    }

    /// The words and their counts, in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u32)> {
        let d = &self.data;
        d.starts
            .windows(2)
            .zip(&d.counts)
            .map(move |(w, &c)| (&d.text[w[0] as usize..w[1] as usize], c))
    }

    /// How many training comments `word` occurs in; `None` when it is not listed.
    pub fn count(&self, word: &str) -> Option<u32> {
        let n = self.len() as u32;
        let (mut lo, mut hi) = (0u32, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.word(mid).cmp(word.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(self.data.counts[mid as usize]),
            }
        }
        None
    }

    /// True when `word` is listed.
    pub fn contains(&self, word: &str) -> bool {
        self.count(word).is_some()
    }

    /// The node of the empty prefix (every word).
    pub fn root(&self) -> Node {
        Node {
            lo: 0,
            hi: self.len() as u32,
            depth: 0,
        }
    }

    /// The byte at `node`'s depth of word `i`, or -1 when the word ends there.
    /// Inside a node this key never decreases (the words are sorted).
    fn key(&self, i: u32, depth: u32) -> i32 {
        self.word(i)
            .get(depth as usize)
            .map_or(-1, |&b| i32::from(b))
    }

    /// First index in `node` whose key is above `limit`.
    fn first_above(&self, node: Node, limit: i32) -> u32 {
        let (mut lo, mut hi) = (node.lo, node.hi);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.key(mid, node.depth) <= limit {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The words of `node` whose next byte is `byte`.
    pub fn step(&self, node: Node, byte: u8) -> Option<Node> {
        let lo = self.first_above(node, i32::from(byte) - 1);
        if lo >= node.hi || self.key(lo, node.depth) != i32::from(byte) {
            return None;
        }
        Some(Node {
            lo,
            hi: self.first_above(node, i32::from(byte)),
            depth: node.depth + 1,
        })
    }

    /// Calls `visit` with each distinct next byte of `node` in `from..=to`
    /// and the node below it, in byte order.
    pub fn children(&self, node: Node, from: u8, to: u8, mut visit: impl FnMut(u8, Node)) {
        let mut lo = self.first_above(node, i32::from(from) - 1);
        while lo < node.hi {
            let key = self.key(lo, node.depth);
            if key > i32::from(to) {
                break;
            }
            let hi = self.first_above(node, key);
            visit(
                key as u8,
                Node {
                    lo,
                    hi,
                    depth: node.depth + 1,
                },
            );
            lo = hi;
        }
    }

    /// The count of the word `node` spells out exactly, if it is listed.
    pub fn word_count(&self, node: Node) -> Option<u32> {
        (node.lo < node.hi && self.word(node.lo).len() == node.depth as usize)
            .then(|| self.data.counts[node.lo as usize])
    }
}

fn check_word(word: &str, count: u32) -> Result<(), String> {
    if word.is_empty() || word.len() > MAX_WORD_BYTES {
        return Err(format!(
            "word `{word}` has {} bytes (1 to {MAX_WORD_BYTES} allowed)",
            word.len()
        ));
    }
    if word.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "word {word:?} contains a space or control character"
        ));
    }
    if count == 0 {
        return Err(format!("word `{word}` has count 0"));
    }
    Ok(())
}

/// Counts words per comment and keeps the most frequent ones.
#[derive(Debug, Default)]
pub struct KnownWordsBuilder {
    counts: HashMap<Box<str>, u32>,
    comments: u32,
}

impl KnownWordsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts the distinct words of one comment (each at most once).
    pub fn add_comment<'a>(&mut self, words: impl IntoIterator<Item = &'a str>) {
        self.comments = self.comments.saturating_add(1);
        let mut distinct: Vec<&str> = words
            .into_iter()
            .filter(|w| check_word(w, 1).is_ok() && w.chars().any(char::is_alphabetic))
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        for word in distinct {
            match self.counts.get_mut(word) {
                Some(n) => *n += 1,
                None => {
                    self.counts.insert(word.into(), 1);
                }
            }
        }
    }

    /// Adds the counts of another builder (built on other comments).
    pub fn merge(&mut self, other: KnownWordsBuilder) {
        self.comments = self.comments.saturating_add(other.comments);
        for (word, n) in other.counts {
            *self.counts.entry(word).or_insert(0) += n;
        }
    }

    /// The list: words seen in at least `min_count` comments, the
    /// `max_words` most frequent of them (ties by word).
    pub fn finish(self, min_count: u32, max_words: usize) -> KnownWords {
        let mut pairs: Vec<(String, u32)> = self
            .counts
            .into_iter()
            .filter(|&(_, n)| n >= min_count.max(1))
            .map(|(w, n)| (w.into_string(), n))
            .collect();
        pairs.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        pairs.truncate(max_words.min(MAX_WORDS));
        let comments = self.comments;
        // Every word was checked on the way in and is counted once per key,
        // so this cannot fail; an empty list would be the harmless fallback.
        KnownWords::from_counts(pairs)
            .unwrap_or_default()
            .with_comments(comments)
    }
}

/// The stored form: sorted words separated by `\n`, their counts, and the
/// number of comments counted.
#[derive(Serialize, Deserialize)]
struct Stored {
    words: String,
    counts: Vec<u32>,
    comments: u32,
}

impl Serialize for KnownWords {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let words: Vec<&str> = self.iter().map(|(w, _)| w).collect();
        Stored {
            words: words.join("\n"),
            counts: self.data.counts.clone(),
            comments: self.data.comments,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for KnownWords {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = Stored::deserialize(deserializer)?;
        let words: Vec<&str> = if stored.words.is_empty() {
            Vec::new()
        } else {
            stored.words.split('\n').collect()
        };
        if words.len() != stored.counts.len() {
            return Err(serde::de::Error::custom(format!(
                "word list has {} words but {} counts",
                words.len(),
                stored.counts.len()
            )));
        }
        if let Some(w) = words.windows(2).find(|w| w[0] >= w[1]) {
            return Err(serde::de::Error::custom(format!(
                "word list is not sorted or repeats a word (`{}` before `{}`)",
                w[0], w[1]
            )));
        }
        let pairs = words
            .into_iter()
            .map(str::to_string)
            .zip(stored.counts)
            .collect();
        KnownWords::from_counts(pairs)
            .map(|l| l.with_comments(stored.comments))
            .map_err(|e| serde::de::Error::custom(format!("word list: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known_words(words: &[(&str, u32)]) -> KnownWords {
        KnownWords::from_counts(words.iter().map(|&(w, c)| (w.to_string(), c)).collect()).unwrap()
    }

    fn spell(words: &KnownWords, word: &str) -> Option<Node> {
        word.bytes()
            .try_fold(words.root(), |node, b| words.step(node, b))
    }

    #[test]
    fn counts_and_membership() {
        let words = known_words(&[("kill", 9), ("idiot", 5), ("a", 3), ("kil", 1)]);
        assert_eq!(words.len(), 4);
        assert_eq!(words.count("kill"), Some(9));
        assert_eq!(words.count("kil"), Some(1));
        assert_eq!(words.count("ki"), None);
        assert_eq!(words.count("killer"), None);
        assert!(words.contains("a"));
        assert!(!words.contains(""));
    }

    #[test]
    fn trie_steps_and_children_follow_prefixes() {
        let words = known_words(&[("kill", 9), ("kiln", 2), ("kil", 1), ("kin", 4), ("lot", 3)]);
        let ki = spell(&words, "ki").unwrap();
        assert_eq!(ki.depth(), 2);
        assert_eq!(words.word_count(ki), None);
        let mut next = Vec::new();
        words.children(ki, b'a', b'z', |b, _| next.push(b as char));
        assert_eq!(next, ['l', 'n']);
        let kil = spell(&words, "kil").unwrap();
        assert_eq!(words.word_count(kil), Some(1));
        let mut next = Vec::new();
        words.children(kil, b'a', b'z', |b, n| {
            next.push((b as char, words.word_count(n)))
        });
        assert_eq!(next, [('l', Some(9)), ('n', Some(2))]);
        assert!(spell(&words, "kx").is_none());
        assert!(spell(&words, "killer").is_none());
        assert_eq!(words.word_count(spell(&words, "lot").unwrap()), Some(3));
    }

    #[test]
    fn builder_counts_comments_not_occurrences_and_keeps_the_most_frequent() {
        let mut b = KnownWordsBuilder::new();
        b.add_comment(["kill", "kill", "kill", "them"]);
        b.add_comment(["kill", "idiot", "123"]);
        let mut other = KnownWordsBuilder::new();
        other.add_comment(["idiot", "them", "x"]);
        b.merge(other);
        let words = b.finish(2, 10);
        assert_eq!(words.comments(), 3);
        let words: Vec<_> = words.iter().collect();
        assert_eq!(words, [("idiot", 2), ("kill", 2), ("them", 2)]);
        let mut b = KnownWordsBuilder::new();
        b.add_comment(["a", "b", "c"]);
        b.add_comment(["c", "b"]);
        b.add_comment(["c"]);
        let words = b.finish(1, 2);
        assert_eq!(words.iter().collect::<Vec<_>>(), [("b", 2), ("c", 3)]);
    }

    #[test]
    fn bad_lists_are_refused() {
        let pairs = |v: &[(&str, u32)]| v.iter().map(|&(w, c)| (w.to_string(), c)).collect();
        assert!(KnownWords::from_counts(pairs(&[("a", 1), ("a", 2)])).is_err());
        assert!(KnownWords::from_counts(pairs(&[("", 1)])).is_err());
        assert!(KnownWords::from_counts(pairs(&[("a b", 1)])).is_err());
        assert!(KnownWords::from_counts(pairs(&[("ab", 0)])).is_err());
        assert!(KnownWords::from_counts(pairs(&[(&"x".repeat(40), 1)])).is_err());
    }

    #[test]
    fn stored_form_round_trips_and_is_checked() {
        let words = known_words(&[("kill", 9), ("idiot", 5), ("über", 2)]).with_comments(12);
        let bytes = bincode::serialize(&words).unwrap();
        let back: KnownWords = bincode::deserialize(&bytes).unwrap();
        assert_eq!(back, words);
        assert_eq!(back.comments(), 12);
        let empty = known_words(&[]);
        let back: KnownWords = bincode::deserialize(&bincode::serialize(&empty).unwrap()).unwrap();
        assert!(back.is_empty());
        let unsorted = Stored {
            words: "kill\nidiot".into(),
            counts: vec![1, 2],
            comments: 5,
        };
        let err = bincode::deserialize::<KnownWords>(&bincode::serialize(&unsorted).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not sorted"), "{err}");
        let short = Stored {
            words: "idiot\nkill".into(),
            counts: vec![1],
            comments: 5,
        };
        let err = bincode::deserialize::<KnownWords>(&bincode::serialize(&short).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("2 words but 1 counts"), "{err}");
    }
}

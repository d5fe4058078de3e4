//! A bounded cache from a chunk's raw bytes to the features of its tokens.
//!
//! Two generations approximate least-recently-used eviction at the cost of
//! a counter: new entries go into the young generation; when it holds
//! `capacity` entries it becomes the old one and the previous old one is
//! dropped. A hit in the old generation is copied into the young one, so a
//! chunk in steady use survives every turnover while one seen once is gone
//! after two. Memory is bounded by two generations' worth of entries (and
//! one comment's: turnover waits for the comment's end).
//!
//! Keys are compared in full on every hit; the hash only picks the slot
//! (open addressing, linear probing). A generation that would fill its
//! table past three quarters adds nothing more until it turns over, so a
//! burst of new chunks can cost speed but never memory or a changed row.

use super::hash::mix;

/// Marks a column or lexicon id that is absent.
pub const NONE: u32 = u32::MAX;

/// What the vectorizer needs from one token, computed once per distinct
/// chunk (see [`Vectorizer::token_features`](super::Vectorizer::token_features)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenFeatures {
    /// Feature hash of the token's text as a unigram (bigrams combine two).
    pub unigram: u64,
    /// The unigram's column, or [`NONE`] when it is not selected.
    pub unigram_column: u32,
    /// The token's selected character n-gram and cluster columns: a range
    /// `columns.0 .. columns.0 + columns.1` of the column buffer that goes
    /// with this token list.
    pub columns: (u32, u32),
    /// The token's n-grams outside the selection: character n-grams,
    /// clusters.
    pub unselected: [u32; 2],
    /// The token's id in the model's lexicon, or [`NONE`].
    pub lexicon_id: u32,
}

/// Counts of what a cache was asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Pieces (a context-free chunk, or a short group of chunks read
    /// together) found in the cache.
    pub hits: u64,
    /// Pieces analysed and added.
    pub misses: u64,
    /// Pieces analysed without the cache: long groups, and the chunks of
    /// comments analysed whole (longer than the analyzer's limit, or with
    /// negation marking).
    pub uncached: u64,
}

impl CacheStats {
    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &CacheStats) {
        self.hits += other.hits;
        self.misses += other.misses;
        self.uncached += other.uncached;
    }

    /// All pieces counted.
    pub fn pieces(&self) -> u64 {
        self.hits + self.misses + self.uncached
    }

    /// Share of all pieces served from the cache (0 when none were seen).
    pub fn hit_rate(&self) -> f64 {
        match self.pieces() {
            0 => 0.0,
            n => self.hits as f64 / n as f64,
        }
    }
}

/// Words per token in a record: unigram hash (2), unigram column, column
/// count, unselected counts (2), lexicon id.
const TOKEN_WORDS: usize = 7;

/// One generation: an open-addressing table of `(hash tag, record offset)`
/// slots over an arena of records. A record is one entry's words back to
/// back, so a hit reads one or two cache lines after its slot:
/// `[key bytes | token count << 16, column count, key packed in words...,
/// TOKEN_WORDS per token..., columns...]`.
#[derive(Debug, Clone)]
struct Generation {
    /// The table: `size` slots, allocated on the first insert (a scorer
    /// that is made and dropped costs nothing).
    slots: Vec<(u32, u32)>,
    size: usize,
    arena: Vec<u32>,
    entries: usize,
}

/// An empty slot.
const EMPTY: u32 = u32::MAX;

/// A key's bytes as little-endian words of four, the last one zero-padded:
/// how records store keys, and what the slot hash reads.
#[inline]
fn key_words(key: &[u8]) -> impl Iterator<Item = u32> + '_ {
    let words = key.chunks_exact(4);
    let rest = words.remainder();
    let last = (!rest.is_empty()).then(|| {
        let mut buf = [0u8; 4];
        buf[..rest.len()].copy_from_slice(rest);
        u32::from_le_bytes(buf)
    });
    words
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .chain(last)
}

/// Word-by-word equality of two short keys (a loop, not a `memcmp` call:
/// keys are one to three words long).
#[inline]
fn same(a: &[u32], b: &[u32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

impl Generation {
    fn new(slots: usize) -> Self {
        Self {
            slots: Vec::new(),
            size: slots.next_power_of_two(),
            arena: Vec::new(),
            entries: 0,
        }
    }

    fn clear(&mut self) {
        self.slots.fill((0, EMPTY));
        self.arena.clear();
        self.entries = 0;
    }

    /// The slot holding `key` (packed, `len` bytes), or the empty slot
    /// where it would go.
    #[inline]
    fn probe(&self, hash: u64, key: &[u32], len: usize) -> (usize, bool) {
        if self.slots.is_empty() {
            return (0, false);
        }
        let mask = self.slots.len() - 1;
        let tag = (hash >> 32) as u32;
        let mut i = hash as usize & mask;
        loop {
            let (t, offset) = self.slots[i];
            if offset == EMPTY {
                return (i, false);
            }
            if t == tag
                && self
                    .key_at(offset as usize, len)
                    .is_some_and(|k| same(k, key))
            {
                return (i, true);
            }
            i = (i + 1) & mask;
        }
    }

    /// The packed key of the record at `offset` if it is `len` bytes long.
    #[inline]
    fn key_at(&self, offset: usize, len: usize) -> Option<&[u32]> {
        let head = self.arena[offset] as usize;
        ((head & 0xffff) == len).then(|| &self.arena[offset + 2..offset + 2 + len.div_ceil(4)])
    }

    /// The record of `key`, if present.
    #[inline]
    fn find(&self, hash: u64, key: &[u32], len: usize) -> Option<Record<'_>> {
        match self.probe(hash, key, len) {
            (i, true) => Some(self.record(self.slots[i].1 as usize)),
            _ => None,
        }
    }

    #[inline]
    fn record(&self, offset: usize) -> Record<'_> {
        let head = self.arena[offset] as usize;
        let (len, tokens) = (head & 0xffff, head >> 16);
        let columns = self.arena[offset + 1] as usize;
        let start = offset + 2 + len.div_ceil(4);
        let end = start + tokens * TOKEN_WORDS + columns;
        Record {
            tokens,
            words: &self.arena[start..end],
        }
    }

    /// True when another entry would fill the table past three quarters.
    fn is_crowded(&self) -> bool {
        (self.entries + 1) * 4 > self.size * 3
    }

    /// Adds a record for `key` unless present or the table is crowded;
    /// `body` writes its words after the key.
    fn insert(
        &mut self,
        hash: u64,
        key: &[u32],
        len: usize,
        tokens: usize,
        columns: usize,
        body: impl FnOnce(&mut Vec<u32>),
    ) {
        if self.is_crowded() || len > 0xffff || tokens > 0xffff {
            return;
        }
        if self.slots.is_empty() {
            self.slots = vec![(0, EMPTY); self.size];
        }
        let (slot, found) = self.probe(hash, key, len);
        if found {
            return;
        }
        let offset = self.arena.len();
        self.arena.push((len | tokens << 16) as u32);
        self.arena.push(columns as u32);
        self.arena.extend_from_slice(key);
        body(&mut self.arena);
        self.slots[slot] = ((hash >> 32) as u32, offset as u32);
        self.entries += 1;
    }
}

/// A cached chunk: its tokens' features and their columns.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    tokens: usize,
    words: &'a [u32],
}

impl<'a> Record<'a> {
    /// The chunk's tokens in text order; each one's column range indexes
    /// [`Record::columns`].
    pub fn tokens(&self) -> impl Iterator<Item = TokenFeatures> + 'a {
        let mut next_column = 0u32;
        self.words[..self.tokens * TOKEN_WORDS]
            .chunks_exact(TOKEN_WORDS)
            .map(move |w| {
                let columns = (next_column, w[3]);
                next_column += w[3];
                TokenFeatures {
                    unigram: u64::from(w[0]) | u64::from(w[1]) << 32,
                    unigram_column: w[2],
                    columns,
                    unselected: [w[4], w[5]],
                    lexicon_id: w[6],
                }
            })
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens
    }

    /// True for a chunk without tokens (punctuation only).
    pub fn is_empty(&self) -> bool {
        self.tokens == 0
    }

    /// All tokens' columns, back to back.
    pub fn columns(&self) -> &'a [u32] {
        &self.words[self.tokens * TOKEN_WORDS..]
    }
}

/// The two-generation chunk cache (one per scoring thread).
#[derive(Debug, Clone)]
pub struct ChunkCache {
    young: Generation,
    old: Generation,
    capacity: usize,
    /// The key being looked up, packed four bytes to a word.
    key: Vec<u32>,
    /// What the cache was asked so far.
    pub stats: CacheStats,
}

/// Entries per generation of [`ChunkCache::default`]: a comment stream's
/// common chunks fit (dev.csv's 22,044 comments hold 73k distinct chunks;
/// the 65,536 most frequent are 98% of all chunk occurrences). An entry
/// takes about 60 bytes, so a full cache is about 10 MB per thread.
pub const DEFAULT_CAPACITY: usize = 1 << 16;

impl Default for ChunkCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl ChunkCache {
    /// A cache keeping about `capacity` entries per generation (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        // Room for a generation's entries plus one long comment's chunks
        // (turnover waits for the comment's end) at under 3/4 load: a
        // power of two at least that, so usually a load of 1/2 or less.
        let slots = capacity + 16_384;
        Self {
            young: Generation::new(slots),
            old: Generation::new(slots),
            capacity,
            key: Vec::new(),
            stats: CacheStats::default(),
        }
    }

    /// Turns the generations over when the young one is full. Called
    /// between comments: records found during a comment stay put until
    /// the next call.
    pub fn begin_comment(&mut self) {
        if self.young.entries >= self.capacity {
            std::mem::swap(&mut self.young, &mut self.old);
            self.young.clear();
        }
    }

    /// The slot hash of a chunk's bytes: FxHash-style steps over its
    /// [`key_words`], then a final mix. In-memory only, never stored.
    #[inline]
    pub fn hash(key: &[u8]) -> u64 {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = key.len() as u64;
        for word in key_words(key) {
            h = (h.rotate_left(5) ^ u64::from(word)).wrapping_mul(K);
        }
        mix(h)
    }

    /// Packs `key` into `self.key` (its [`key_words`]) and returns its
    /// hash.
    #[inline]
    fn pack(&mut self, key: &[u8]) -> u64 {
        self.key.clear();
        self.key.extend(key_words(key));
        Self::hash(key)
    }

    /// Reads the young generation's first slot for `hash` and the head of
    /// the record it points to, so that a later [`ChunkCache::get`] finds
    /// them in cache. A comment's lookups are independent; touching them
    /// all first lets the processor wait for their memory reads together
    /// instead of one after another. Returns a value only to keep the reads.
    #[inline]
    pub fn prefetch(&self, hash: u64) -> u32 {
        let g = &self.young;
        if g.slots.is_empty() {
            return 0;
        }
        let (_, offset) = g.slots[hash as usize & (g.slots.len() - 1)];
        g.arena.get(offset as usize).copied().unwrap_or(0)
    }

    /// Looks `key` up, counting a hit or a miss; a hit in the old
    /// generation is copied to the young one.
    #[inline]
    pub fn get(&mut self, key: &[u8]) -> Option<Record<'_>> {
        let hash = self.pack(key);
        let len = key.len();
        let Self {
            young,
            old,
            key,
            stats,
            ..
        } = self;
        if young.find(hash, key, len).is_none() {
            let Some(found) = old.find(hash, key, len) else {
                stats.misses += 1;
                return None;
            };
            let columns = found.columns().len();
            young.insert(hash, key, len, found.len(), columns, |arena| {
                arena.extend_from_slice(found.words)
            });
        }
        stats.hits += 1;
        young
            .find(hash, key, len)
            .or_else(|| old.find(hash, key, len))
    }

    /// Adds the analysis of `key`, which [`ChunkCache::get`] just missed:
    /// `tokens` in text order, whose columns are `columns` back to back
    /// (only each token's column count is read, not its range).
    pub fn insert(&mut self, key: &[u8], tokens: &[TokenFeatures], columns: &[u32]) {
        let hash = self.pack(key);
        let Self {
            young, key: packed, ..
        } = self;
        young.insert(
            hash,
            packed,
            key.len(),
            tokens.len(),
            columns.len(),
            |arena| {
                for t in tokens {
                    arena.extend_from_slice(&[
                        t.unigram as u32,
                        (t.unigram >> 32) as u32,
                        t.unigram_column,
                        t.columns.1,
                        t.unselected[0],
                        t.unselected[1],
                        t.lexicon_id,
                    ]);
                }
                arena.extend_from_slice(columns);
            },
        );
    }

    /// Entries held, both generations.
    pub fn len(&self) -> usize {
        self.young.entries + self.old.entries
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(unigram: u64, columns: (u32, u32)) -> TokenFeatures {
        TokenFeatures {
            unigram,
            unigram_column: NONE,
            columns,
            unselected: [1, 2],
            lexicon_id: NONE,
        }
    }

    fn put(cache: &mut ChunkCache, key: &str, unigram: u64) {
        let tokens = [token(unigram, (7, 2)), token(unigram + 1, (9, 1))];
        let columns = [10 + unigram as u32, 20, 30];
        assert!(cache.get(key.as_bytes()).is_none());
        cache.insert(key.as_bytes(), &tokens, &columns);
    }

    fn columns_of(cache: &mut ChunkCache, key: &str) -> Option<Vec<(u64, Vec<u32>)>> {
        let record = cache.get(key.as_bytes())?;
        let columns = record.columns();
        Some(
            record
                .tokens()
                .map(|t| {
                    let a = t.columns.0 as usize;
                    (t.unigram, columns[a..a + t.columns.1 as usize].to_vec())
                })
                .collect(),
        )
    }

    #[test]
    fn entries_come_back_with_their_own_columns() {
        let mut cache = ChunkCache::new(8);
        put(&mut cache, "kill", 1);
        put(&mut cache, "them", 7 << 32 | 2);
        put(&mut cache, "kill them all, now", 5);
        assert_eq!(
            columns_of(&mut cache, "kill"),
            Some(vec![(1, vec![11, 20]), (2, vec![30])])
        );
        assert_eq!(
            columns_of(&mut cache, "them"),
            Some(vec![(7 << 32 | 2, vec![12, 20]), (7 << 32 | 3, vec![30])])
        );
        assert!(columns_of(&mut cache, "kill them all, now").is_some());
        assert_eq!(columns_of(&mut cache, "kil"), None);
        assert_eq!(columns_of(&mut cache, "kill them all, no"), None);
        assert_eq!(
            cache.stats,
            CacheStats {
                hits: 3,
                misses: 5,
                uncached: 0
            }
        );
    }

    #[test]
    fn used_entries_survive_turnover_and_memory_stays_bounded() {
        let mut cache = ChunkCache::new(4);
        cache.begin_comment();
        put(&mut cache, "hot", 1);
        for i in 0..100 {
            cache.begin_comment();
            put(&mut cache, &format!("cold{i}"), 100 + i);
            assert!(columns_of(&mut cache, "hot").is_some(), "after {i}");
            assert!(cache.len() <= 8 + 2);
        }
        assert!(columns_of(&mut cache, "cold0").is_none());
    }

    #[test]
    fn a_crowded_generation_stops_adding_and_never_misreads() {
        let mut g = Generation::new(4);
        for (i, key) in [[1u32], [2], [3], [4], [5]].iter().enumerate() {
            // One hash for all: every key probes the same slots.
            g.insert(42, key, 4, 0, 1, |a| a.push(i as u32));
        }
        assert_eq!(g.entries, 3);
        assert_eq!(
            g.find(42, &[2], 4).map(|r| r.columns().to_vec()),
            Some(vec![1])
        );
        assert!(g.find(42, &[4], 4).is_none());
        assert!(g.find(42, &[2], 3).is_none());
    }

    #[test]
    fn hit_rate_counts_every_chunk() {
        let s = CacheStats {
            hits: 3,
            misses: 1,
            uncached: 4,
        };
        assert_eq!(s.pieces(), 8);
        assert!((s.hit_rate() - 0.375).abs() < 1e-12);
        assert_eq!(CacheStats::default().hit_rate(), 0.0);
    }
}

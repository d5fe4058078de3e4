//! A stable 64-bit hash for n-gram identities.
//!
//! Features are identified by a 64-bit hash of their kind and text rather than
//! by allocated strings, so extracting features allocates nothing. The hash is
//! defined here (FNV-1a with a SplitMix64 finaliser) rather than taken from
//! `std`, whose hashers may change between Rust releases: model files store
//! these values and must mean the same thing on every build.
//! With a few million distinct n-grams in 2^64 values, the chance of any
//! collision is about 1e-7.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Incremental FNV-1a state.
#[derive(Debug, Clone, Copy)]
pub struct FeatureHasher(u64);

impl FeatureHasher {
    /// Starts a hash in the namespace `kind` (one byte per feature kind).
    pub fn new(kind: u8) -> Self {
        let mut h = FeatureHasher(FNV_OFFSET);
        h.write_byte(kind);
        h
    }

    /// Adds one byte.
    #[inline]
    pub fn write_byte(&mut self, b: u8) {
        self.0 ^= u64::from(b);
        self.0 = self.0.wrapping_mul(FNV_PRIME);
    }

    /// Adds a byte string.
    #[inline]
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_byte(b);
        }
    }

    /// Finishes the hash with an avalanche step.
    #[inline]
    pub fn finish(self) -> u64 {
        mix(self.0)
    }
}

/// SplitMix64 finaliser: spreads every input bit over the whole output.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hash of `text` in the namespace `kind`.
pub fn hash_str(kind: u8, text: &str) -> u64 {
    let mut h = FeatureHasher::new(kind);
    h.write(text.as_bytes());
    h.finish()
}

/// Order-sensitive combination of two hashes (for word bigrams).
#[inline]
pub fn combine(kind: u8, a: u64, b: u64) -> u64 {
    mix(a.rotate_left(17) ^ b ^ (u64::from(kind) << 56).wrapping_add(0x9e37_79b9_7f4a_7c15))
}

/// A `Hasher` for keys that are already well-mixed 64-bit hashes: it passes
/// them through instead of hashing them again (SipHash would dominate lookups).
#[derive(Debug, Default, Clone, Copy)]
pub struct PassThroughHasher(u64);

impl std::hash::Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(FNV_PRIME);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Builds [`PassThroughHasher`]s.
pub type BuildPassThrough = std::hash::BuildHasherDefault<PassThroughHasher>;

/// A map keyed by feature hash.
pub type HashMap64<V> = std::collections::HashMap<u64, V, BuildPassThrough>;

/// A fast hasher for short strings in in-memory caches (FxHash-style word
/// steps with a final [`mix`]); not stable across versions, never stored.
#[derive(Debug, Default, Clone, Copy)]
pub struct StrHasher(u64);

impl std::hash::Hasher for StrHasher {
    fn finish(&self) -> u64 {
        mix(self.0)
    }

    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(n)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// Builds [`StrHasher`]s.
pub type BuildStrHasher = std::hash::BuildHasherDefault<StrHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED_KILL: u64 = 667_648_817_508_343_004;

    #[test]
    fn hashes_are_stable_across_builds() {
        // Pinned values: if these change, every saved model silently breaks.
        assert_eq!(hash_str(1, "kill"), PINNED_KILL);
        assert_ne!(hash_str(1, "kill"), hash_str(2, "kill"));
    }

    #[test]
    fn combine_is_order_sensitive() {
        let (a, b) = (hash_str(1, "kill"), hash_str(1, "them"));
        assert_ne!(combine(2, a, b), combine(2, b, a));
    }
}

//! The model's word table from pretrained vectors: the most frequent words
//! of the vector file, each with its cluster at every granularity.
//!
//! Two feature families read it: cluster tokens (one feature per word and
//! granularity, `k256:17`, so words that the vectors place together share a
//! feature even when only one of them was seen with a label) and the
//! semantic prior ([`super::semantic`]), whose per-word scores are indexed
//! by the same word ids. The table is stored once, in the n-gram settings,
//! so training and scoring look words up the same way.

use crate::features::hash::BuildStrHasher;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Words with their cluster ids, one id per granularity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lexicon {
    /// Words in vector-file order (most frequent first).
    pub words: Vec<String>,
    /// Cluster count of each granularity, coarsest first (empty: no cluster tokens).
    pub levels: Vec<u32>,
    /// `clusters[w * levels.len() + i]`: word `w`'s cluster at level `i`.
    pub clusters: Vec<u16>,
    /// For each level and cluster, up to three of its most frequent words
    /// (feature names for the model card and explanations).
    pub examples: Vec<Vec<String>>,
    #[serde(skip)]
    index: HashMap<String, u32, BuildStrHasher>,
}

impl PartialEq for Lexicon {
    fn eq(&self, other: &Self) -> bool {
        self.words == other.words && self.levels == other.levels && self.clusters == other.clusters
    }
}

/// Example words kept per cluster for its name.
const EXAMPLES_PER_CLUSTER: usize = 3;

impl Lexicon {
    /// A lexicon of `words` with `clusters[level][word]` ids for the cluster
    /// counts `levels`.
    pub fn new(words: Vec<String>, levels: Vec<u32>, clusters: &[Vec<u16>]) -> Lexicon {
        let n = words.len();
        let mut flat = vec![0u16; n * levels.len()];
        for (i, level) in clusters.iter().enumerate() {
            for (w, &c) in level.iter().enumerate() {
                flat[w * levels.len() + i] = c;
            }
        }
        let mut examples: Vec<Vec<String>> = levels
            .iter()
            .flat_map(|&k| std::iter::repeat_n(Vec::new(), k as usize))
            .collect();
        let offsets: Vec<usize> = levels
            .iter()
            .scan(0usize, |acc, &k| {
                let o = *acc;
                *acc += k as usize;
                Some(o)
            })
            .collect();
        for (w, word) in words.iter().enumerate() {
            for (i, &o) in offsets.iter().enumerate() {
                let e = &mut examples[o + flat[w * levels.len() + i] as usize];
                if e.len() < EXAMPLES_PER_CLUSTER {
                    e.push(word.clone());
                }
            }
        }
        let mut lexicon = Lexicon {
            words,
            levels,
            clusters: flat,
            examples,
            index: HashMap::default(),
        };
        lexicon.rebuild_index();
        lexicon
    }

    /// Rebuilds the word -> id lookup (after deserialising).
    pub fn rebuild_index(&mut self) {
        self.index = self
            .words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
    }

    /// True when lengths agree, words are unique and every id is in range.
    pub fn is_consistent(&self) -> bool {
        let l = self.levels.len();
        self.clusters.len() == self.words.len() * l
            && self.index.len() == self.words.len()
            && self.examples.len() == self.levels.iter().map(|&k| k as usize).sum::<usize>()
            && self.clusters.chunks_exact(l.max(1)).all(|c| {
                c.iter()
                    .zip(&self.levels)
                    .all(|(&id, &k)| u32::from(id) < k)
            })
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// True when there are no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The id of `word`.
    #[inline]
    pub fn id(&self, word: &str) -> Option<u32> {
        self.index.get(word).copied()
    }

    /// Word `id`'s cluster at every level, coarsest first.
    #[inline]
    pub fn clusters_of(&self, id: u32) -> &[u16] {
        let l = self.levels.len();
        &self.clusters[id as usize * l..(id as usize + 1) * l]
    }

    /// A readable name for cluster `cluster` of level `level`: its count
    /// and example words, e.g. `[k4096: nukes|warheads|missiles]`.
    pub fn cluster_name(&self, level: usize, cluster: u16) -> String {
        let offset: usize = self.levels[..level].iter().map(|&k| k as usize).sum();
        let words = self
            .examples
            .get(offset + cluster as usize)
            .map_or(String::new(), |e| e.join("|"));
        format!("[k{}: {words}]", self.levels[level])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_map_to_their_clusters_and_names_list_members() {
        let words: Vec<String> = ["nuke", "bomb", "cat", "dog"].map(String::from).to_vec();
        let lex = Lexicon::new(words, vec![2, 4], &[vec![0, 0, 1, 1], vec![0, 1, 2, 2]]);
        assert!(lex.is_consistent());
        assert_eq!(lex.clusters_of(lex.id("bomb").unwrap()), &[0, 1]);
        assert_eq!(lex.clusters_of(lex.id("dog").unwrap()), &[1, 2]);
        assert_eq!(lex.id("wmd"), None);
        assert_eq!(lex.cluster_name(0, 0), "[k2: nuke|bomb]");
        assert_eq!(lex.cluster_name(1, 2), "[k4: cat|dog]");
        assert_eq!(lex.cluster_name(1, 3), "[k4: ]");
    }
}

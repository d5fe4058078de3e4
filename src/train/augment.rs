//! Training with perturbed copies of training comments (`train --augment P`).
//!
//! A comment is copied with probability `rate` (decided by a hash of its row
//! number and the seed), and the copy is rewritten by the
//! [`Perturber`] of `moderate perturb`: its listed words disguised with the
//! configured tricks. A copy in which nothing changed is dropped. Copies keep
//! their comment's labels, so what the analyzer cannot undo is still learned
//! by the character n-grams.
//!
//! Copies only ever train: in cross-validation a copy sits in its comment's
//! fold and is left out when that fold is held out, so held-out figures,
//! calibration and thresholds come from real comments only. The word list
//! and the model card's counts are built from the real comments too.

use crate::features::hash::mix;
use crate::perturb::{PerturbConfig, Perturber, WordList};

/// How many perturbed copies are made, and how.
#[derive(Debug, Clone)]
pub struct Augmentation {
    /// Probability that a comment gets a perturbed copy, in (0, 1].
    pub rate: f64,
    /// The words to disguise.
    pub words: WordList,
    /// The generator's settings (its `rate` applies per listed word).
    pub perturb: PerturbConfig,
}

impl Augmentation {
    /// Copies of `texts` with every trick of `moderate perturb`, seeded.
    pub fn with_all_tricks(rate: f64, seed: u64) -> Self {
        Self {
            rate,
            words: WordList::builtin(),
            perturb: PerturbConfig {
                seed,
                ..PerturbConfig::default()
            },
        }
    }

    /// The perturbed copies of `texts`: `(row of the original, text)`, in
    /// row order.
    pub fn copies(&self, texts: &[&str]) -> Vec<(u32, String)> {
        let perturber = Perturber::new(self.words.clone(), self.perturb.clone());
        let salt = mix(self.perturb.seed ^ 0xA5A5_5A5A_0F0F_F0F0);
        texts
            .iter()
            .enumerate()
            .filter(|&(row, _)| unit(mix(row as u64 ^ salt)) < self.rate)
            .filter_map(|(row, text)| {
                let p = perturber.perturb(text, row as u64);
                (p.words_changed > 0).then_some((row as u32, p.text))
            })
            .collect()
    }
}

/// A hash as a uniform number in `[0, 1)`.
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_seeded_changed_and_in_row_order() {
        let texts = [
            "kill the idiot",
            "a nice day",
            "you stupid moron",
            "shoot them",
        ];
        let aug = Augmentation::with_all_tricks(1.0, 3);
        let copies = aug.copies(&texts);
        let rows: Vec<u32> = copies.iter().map(|c| c.0).collect();
        assert_eq!(
            rows,
            [0, 2, 3],
            "the comment without listed words has no copy"
        );
        for (row, text) in &copies {
            assert_ne!(text, texts[*row as usize]);
        }
        assert_eq!(copies, aug.copies(&texts));
        let other = Augmentation::with_all_tricks(1.0, 4).copies(&texts);
        assert_ne!(copies, other);
    }

    #[test]
    fn rate_chooses_about_that_share_of_comments() {
        let texts = vec!["kill them"; 2000];
        let n = Augmentation::with_all_tricks(0.25, 1).copies(&texts).len();
        assert!((400..600).contains(&n), "{n} copies");
    }
}

//! How well languages are told apart: accuracy by comment length and the
//! confusion table, over comments whose language is known (`moderate
//! detect`).

use super::Choice;
use serde::Serialize;
use std::collections::BTreeMap;

/// Comment length buckets, by words the detector read.
pub const BUCKETS: [&str; 3] = ["5+ words", "3-4 words", "0-2 words"];

/// The bucket of a comment of `words` words.
pub fn bucket(words: usize) -> usize {
    match words {
        0..=2 => 2,
        3..=4 => 1,
        _ => 0,
    }
}

/// Counts of detection outcomes per true language.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DetectionTally {
    /// Per true language, per bucket: (right, all).
    pub accuracy: BTreeMap<String, [(u64, u64); 3]>,
    /// Per true language, comments of 5 words or more per language chosen.
    pub confusion: BTreeMap<String, BTreeMap<String, u64>>,
}

impl DetectionTally {
    /// Counts one comment in `truth` for which `choice` was made after
    /// reading `words` words.
    pub fn add(&mut self, truth: &str, choice: &Choice, words: usize) {
        let b = bucket(words);
        let cell = &mut self.accuracy.entry(truth.to_string()).or_default()[b];
        cell.1 += 1;
        cell.0 += u64::from(choice.code == truth);
        if b == 0 {
            *self
                .confusion
                .entry(truth.to_string())
                .or_default()
                .entry(choice.code.to_string())
                .or_default() += 1;
        }
    }

    /// Share right in `truth`'s bucket `b` (`None` when empty).
    pub fn share(&self, truth: &str, b: usize) -> Option<f64> {
        let (right, all) = self.accuracy.get(truth)?[b];
        (all > 0).then(|| right as f64 / all as f64)
    }

    /// Share right over every comment of `truth`.
    pub fn overall(&self, truth: &str) -> Option<f64> {
        let cells = self.accuracy.get(truth)?;
        let (right, all) = cells
            .iter()
            .fold((0, 0), |(r, a), (r2, a2)| (r + r2, a + a2));
        (all > 0).then(|| right as f64 / all as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::{How, Language};

    #[test]
    fn tallies_by_length_and_confuses_long_comments_only() {
        let mut t = DetectionTally::default();
        let de = Choice {
            code: "de",
            language: Some(Language::De),
            how: How::Detected,
        };
        let en = Choice::english(How::Default);
        t.add("de", &de, 7);
        t.add("de", &en, 9);
        t.add("de", &en, 1);
        assert_eq!(t.share("de", 0), Some(0.5));
        assert_eq!(t.share("de", 2), Some(0.0));
        assert_eq!(t.share("de", 1), None);
        assert_eq!(t.confusion["de"]["en"], 1);
        assert_eq!(t.confusion["de"].values().sum::<u64>(), 2);
        assert!((t.overall("de").unwrap() - 1.0 / 3.0).abs() < 1e-12);
    }
}

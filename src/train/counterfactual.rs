//! Counterfactual copies: a comment that names an identity group, with the
//! group swapped for another (Garg et al. 2019, "Counterfactual Fairness in
//! Text Classification"). "Muslims are vermin" becomes "Jews are vermin",
//! "women are wonderful" "men are wonderful", each with the original's
//! labels, so that what is said counts and which group is named does not.
//!
//! The forms come from `data/identity_swaps.txt` (adjective, one person,
//! people): a word is replaced by the same form of the other group, keeping
//! its capitalisation. The other group is chosen by a hash of the comment's
//! id and the seed, among the groups the comment does not name.

use crate::features::hash::mix;
use std::collections::HashMap;

/// The shipped swap table.
pub const DEFAULT_SWAPS: &str = include_str!("../../data/identity_swaps.txt");

/// Which form a matched word is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Adjective = 0,
    Person = 1,
    People = 2,
}

/// Swaps the identity groups a text names.
#[derive(Debug, Clone)]
pub struct Swapper {
    /// Per group, its three forms.
    forms: Vec<[String; 3]>,
    /// A single lower-case word to its group and form.
    words: HashMap<String, (usize, Form)>,
}

impl Swapper {
    /// Parses the `name: adjective | one person | people` format (lines
    /// that do not parse are skipped; the shipped table is tested).
    pub fn parse(text: &str) -> Self {
        let mut forms = Vec::new();
        let mut words = HashMap::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((_, rest)) = line.split_once(':') else {
                continue;
            };
            let f: Vec<String> = rest.split('|').map(|s| s.trim().to_lowercase()).collect();
            let [a, p, pl] = f.as_slice() else { continue };
            let g = forms.len();
            for (word, form) in [(pl, Form::People), (p, Form::Person), (a, Form::Adjective)] {
                if !word.contains(' ') {
                    words.entry(word.clone()).or_insert((g, form));
                }
            }
            forms.push([a.clone(), p.clone(), pl.clone()]);
        }
        Self { forms, words }
    }

    /// The shipped table.
    pub fn builtin() -> Self {
        Self::parse(DEFAULT_SWAPS)
    }

    /// Groups in the table.
    pub fn groups(&self) -> usize {
        self.forms.len()
    }

    /// `text` with the first group it names replaced, form for form, by one
    /// group it does not name (chosen by `key`); other groups it names are
    /// kept. `None` when it names none.
    pub fn swap(&self, text: &str, key: u64) -> Option<String> {
        let mut found: Vec<(usize, usize, usize, Form)> = Vec::new(); // start, end, group, form
        let mut start = None;
        for (i, c) in text
            .char_indices()
            .chain(std::iter::once((text.len(), ' ')))
        {
            match (start, c.is_alphabetic()) {
                (None, true) => start = Some(i),
                (Some(s), false) => {
                    if let Some(&(g, form)) = self.words.get(&text[s..i].to_lowercase()) {
                        found.push((s, i, g, form));
                    }
                    start = None;
                }
                _ => {}
            }
        }
        if found.is_empty() || self.forms.len() < 2 {
            return None;
        }
        let named: Vec<usize> = found.iter().map(|f| f.2).collect();
        let others: Vec<usize> = (0..self.forms.len())
            .filter(|g| !named.contains(g))
            .collect();
        let to = *others.get((mix(key) % others.len().max(1) as u64) as usize)?;
        // Only the first group named is swapped: a comment about a Muslim
        // woman becomes one about a Sikh woman, not a Sikh Sikh.
        let first = found[0].2;
        let mut out = String::with_capacity(text.len() + 16);
        let mut at = 0;
        for (s, e, _, form) in found.into_iter().filter(|f| f.2 == first) {
            out.push_str(&text[at..s]);
            out.push_str(&same_case(&text[s..e], &self.forms[to][form as usize]));
            at = e;
        }
        out.push_str(&text[at..]);
        Some(out)
    }
}

/// `word` written with the capitalisation of `like`: all capitals, a
/// capital first letter, or as it is.
fn same_case(like: &str, word: &str) -> String {
    let letters: Vec<char> = like.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.len() > 1 && letters.iter().all(|c| c.is_uppercase()) {
        word.to_uppercase()
    } else if letters.first().is_some_and(|c| c.is_uppercase()) {
        let mut c = word.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    } else {
        word.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_swapped_form_for_form_with_their_case() {
        let s = Swapper::builtin();
        assert!(s.groups() > 30);
        let out = s
            .swap("Muslims are vermin, says a MUSLIM woman.", 1)
            .unwrap();
        assert!(!out.to_lowercase().contains("muslim"), "{out}");
        // Every form replaced by the same form of one other group, the rest kept.
        assert!(out.contains(" are vermin, says a "), "{out}");
        assert!(
            out.ends_with(" woman."),
            "a second group is not swapped too: {out}"
        );
        let swapped = s.swap("Jews are vermin", 1).unwrap();
        assert!(swapped.ends_with(" are vermin") && !swapped.starts_with("Jews"));
        assert_eq!(s.swap("Nothing to swap here.", 1), None);
        // Seeded: the same key, the same copy; another key may pick another group.
        assert_eq!(s.swap("gay people", 5), s.swap("gay people", 5));
        let picks: std::collections::HashSet<String> =
            (0..50).filter_map(|k| s.swap("I love women", k)).collect();
        assert!(picks.len() > 10, "{picks:?}");
        assert!(
            picks
                .iter()
                .all(|p| p.starts_with("I love ") && !p.contains("women"))
        );
    }

    #[test]
    fn capitalisation_follows_the_original() {
        assert_eq!(same_case("Jews", "muslims"), "Muslims");
        assert_eq!(same_case("JEWS", "muslims"), "MUSLIMS");
        assert_eq!(same_case("jews", "muslims"), "muslims");
    }
}

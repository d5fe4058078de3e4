//! Perturbation generator: rewrites the abusive and violent words of comments
//! the way people do who want their abuse published (`k1ll`, `s t u p i d`,
//! `idiiiot`, Cyrillic look-alike letters, zero-width spaces, …), so the
//! model's robustness can be measured by evaluating on a perturbed copy of
//! labelled data (`moderate perturb`, then `moderate eval`).
//!
//! Which words: those in a word list ([`WordList`]; the default is
//! `data/obfuscation_words.txt`: insults, profanity, dehumanising words and
//! words of violence), matched case-insensitively with common English endings.
//! Every other character of the comment is left as it is.
//!
//! How: each matching word is rewritten, with probability `rate`, by one
//! [`Trick`] drawn uniformly from the enabled ones, or by two different ones
//! in the same word with `tricks_per_word` 2 (`k1iiill`, `$t*pid`,
//! `ｋ!ｌｌ`; see [`PerturbConfig::tricks_per_word`]). The random stream of a
//! row depends only on the seed and the row number, so the output is the
//! same on every run and machine for the same seed, input and settings.

use std::collections::HashSet;
use std::fmt;

/// One way of disguising a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Trick {
    /// Leetspeak: some letters replaced by look-alike digits and symbols
    /// (`k1ll`, `$tup1d`); letters stay the majority.
    Leet,
    /// Dense leetspeak: most leet-able letters replaced, several symbols per
    /// word (`1d10t`, `$7up!d`, `k!11`).
    DenseLeet,
    /// Letters separated by single spaces (`k i l l`).
    Spacing,
    /// Pieces of one or two letters joined by `.`, `-`, `_` or `*`
    /// (`k.i.l.l`, `st-u-pi-d`, `k*i*l*l`).
    Separators,
    /// One letter repeated to a run of three to five (`idiiiot`).
    Repeats,
    /// Some letters replaced by Cyrillic look-alikes (`іdіot` with U+0456).
    Homoglyphs,
    /// One or two invisible characters (zero-width space, joiner, word joiner,
    /// BOM, soft hyphen) inserted inside the word.
    ZeroWidth,
    /// The word written in full-width forms (`ｋｉｌｌ`).
    FullWidth,
    /// One inner vowel (or, without one, an inner letter) masked by `*`
    /// (`id*ot`, `k*ll`).
    Mask,
}

impl Trick {
    /// Every trick, in a fixed order: the order in which two tricks are
    /// applied to one word (letters first, then how they are laid out).
    pub const ALL: [Trick; 9] = [
        Trick::Leet,
        Trick::DenseLeet,
        Trick::Repeats,
        Trick::Mask,
        Trick::Homoglyphs,
        Trick::Spacing,
        Trick::Separators,
        Trick::ZeroWidth,
        Trick::FullWidth,
    ];

    /// The tricks used by default: all of them.
    pub const DEFAULT: [Trick; 9] = Trick::ALL;

    /// Position in [`Trick::ALL`].
    pub fn index(self) -> usize {
        Trick::ALL.iter().position(|&t| t == self).unwrap_or(0)
    }

    /// False for pairs that make no sense in one word: two leet tricks, or
    /// letter spacing with separators.
    pub fn combines_with(self, other: Trick) -> bool {
        let leet = |t| matches!(t, Trick::Leet | Trick::DenseLeet);
        let layout = |t| matches!(t, Trick::Spacing | Trick::Separators);
        self != other && !(leet(self) && leet(other)) && !(layout(self) && layout(other))
    }

    /// The trick's command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Trick::Leet => "leet",
            Trick::DenseLeet => "dense-leet",
            Trick::Spacing => "spacing",
            Trick::Separators => "separators",
            Trick::Repeats => "repeats",
            Trick::Homoglyphs => "homoglyphs",
            Trick::ZeroWidth => "zero-width",
            Trick::FullWidth => "full-width",
            Trick::Mask => "mask",
        }
    }

    /// Parses a command-line name.
    pub fn from_name(name: &str) -> Option<Trick> {
        Trick::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Applies the trick to `word` (ASCII letters, or the output of an
    /// earlier trick: only letters are replaced, masked or repeated). `None`
    /// when the trick does not apply to a word this short or without
    /// suitable letters.
    pub fn apply(self, word: &str, rng: &mut SplitMix64) -> Option<String> {
        let chars: Vec<char> = word.chars().collect();
        match self {
            Trick::Leet => leet(&chars, rng),
            Trick::DenseLeet => dense_leet(&chars, rng),
            Trick::Spacing => (chars.len() >= 3).then(|| join_chars(&chars, " ")),
            Trick::Separators => separators(&chars, rng),
            Trick::Repeats => repeats(&chars, rng),
            Trick::Homoglyphs => homoglyphs(&chars, rng),
            Trick::ZeroWidth => zero_width(&chars, rng),
            Trick::FullWidth => Some(chars.iter().map(|&c| full_width(c)).collect()),
            Trick::Mask => mask(&chars, rng),
        }
    }
}

impl fmt::Display for Trick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A small, fast, seedable random generator (SplitMix64, Steele et al. 2014);
/// its output is fixed by the seed forever, unlike a library's default RNG.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The words to disguise, lower-case.
#[derive(Debug, Clone, Default)]
pub struct WordList {
    words: HashSet<String>,
}

/// Endings with which a listed word still matches (`kill` → `killed`).
const ENDINGS: [&str; 10] = ["s", "es", "ed", "d", "ing", "er", "ers", "y", "ly", "ings"];

impl WordList {
    /// The list shipped in `data/obfuscation_words.txt`.
    pub fn builtin() -> Self {
        Self::parse(include_str!("../data/obfuscation_words.txt"))
    }

    /// Parses one word per line; `#` starts a comment, blank lines are skipped.
    pub fn parse(text: &str) -> Self {
        let words = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim().to_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        WordList { words }
    }

    /// Number of listed words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// True when no word is listed.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// True when `word` (any case) is listed, or is a listed word plus one of
    /// the common endings.
    pub fn matches(&self, word: &str) -> bool {
        let lower = word.to_ascii_lowercase();
        if self.words.contains(&lower) {
            return true;
        }
        ENDINGS.iter().any(|end| {
            lower
                .strip_suffix(end)
                .is_some_and(|stem| stem.len() >= 3 && self.words.contains(stem))
        }) || doubled_consonant_stem(&lower).is_some_and(|stem| self.words.contains(stem))
    }
}

/// `shooting` → `shoot` is covered by the endings; `shotting` / `stabbed` /
/// `stabbing` need the doubled final consonant removed: `stab`.
fn doubled_consonant_stem(word: &str) -> Option<&str> {
    for end in ["ed", "ing", "er", "ers", "ings", "y"] {
        if let Some(stem) = word.strip_suffix(end) {
            let b = stem.as_bytes();
            if b.len() >= 4 && b[b.len() - 1] == b[b.len() - 2] {
                return Some(&stem[..stem.len() - 1]);
            }
        }
    }
    None
}

/// Settings of a [`Perturber`].
#[derive(Debug, Clone)]
pub struct PerturbConfig {
    /// Seed of the random stream.
    pub seed: u64,
    /// Probability that a matching word is rewritten.
    pub rate: f64,
    /// Tricks to draw from (uniformly).
    pub tricks: Vec<Trick>,
    /// Tricks applied to each rewritten word: 1, or 2 for two different
    /// tricks that combine ([`Trick::combines_with`]), applied in the order
    /// of [`Trick::ALL`]. A word gets one trick when no second one combines
    /// with the first or applies to it.
    pub tricks_per_word: u8,
}

impl Default for PerturbConfig {
    fn default() -> Self {
        PerturbConfig {
            seed: 42,
            rate: 1.0,
            tricks: Trick::DEFAULT.to_vec(),
            tricks_per_word: 1,
        }
    }
}

/// One rewritten text and what was done to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Perturbed {
    /// The rewritten text.
    pub text: String,
    /// Words rewritten.
    pub words_changed: u32,
    /// Tricks applied, per trick (indexed like [`Trick::ALL`]; a word with
    /// two tricks counts under both).
    pub by_trick: [u32; Trick::ALL.len()],
}

/// Rewrites listed words of comments; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Perturber {
    words: WordList,
    config: PerturbConfig,
}

/// Words longer than this are never rewritten (they are not words).
const MAX_WORD_LEN: usize = 30;

impl Perturber {
    /// A perturber for `words` with `config`. An empty trick list changes
    /// nothing.
    pub fn new(words: WordList, config: PerturbConfig) -> Self {
        Perturber { words, config }
    }

    /// Rewrites `text`, the `row`-th record of its file (the row number
    /// chooses the random stream, so rows can be processed in any order).
    pub fn perturb(&self, text: &str, row: u64) -> Perturbed {
        let mut rng = SplitMix64::new(
            self.config.seed ^ row.wrapping_mul(0xD6E8_FEB8_6659_FD93).rotate_left(17),
        );
        let mut out = String::with_capacity(text.len() + 16);
        let mut by_trick = [0u32; Trick::ALL.len()];
        let mut words_changed = 0;
        let mut rest = text;
        while let Some(start) = rest.find(|c: char| c.is_ascii_alphabetic()) {
            out.push_str(&rest[..start]);
            let word_and_after = &rest[start..];
            let len = word_and_after
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(word_and_after.len());
            let word = &word_and_after[..len];
            rest = &word_and_after[len..];
            let rewritten = if word.len() <= MAX_WORD_LEN
                && !self.config.tricks.is_empty()
                && self.words.matches(word)
                && rng.unit() < self.config.rate
            {
                self.disguise(word, &mut rng)
            } else {
                None
            };
            match rewritten {
                Some((tricks, w)) => {
                    words_changed += 1;
                    for t in tricks.into_iter().flatten() {
                        by_trick[t.index()] += 1;
                    }
                    out.push_str(&w);
                }
                None => out.push_str(word),
            }
        }
        out.push_str(rest);
        Perturbed {
            text: out,
            words_changed,
            by_trick,
        }
    }

    /// Draws the trick (or two) for one word and applies them.
    fn disguise(&self, word: &str, rng: &mut SplitMix64) -> Option<([Option<Trick>; 2], String)> {
        let tricks = &self.config.tricks;
        let first = tricks[rng.below(tricks.len())];
        let mut second = None;
        if self.config.tricks_per_word >= 2 {
            let partners: Vec<Trick> = tricks
                .iter()
                .copied()
                .filter(|&t| t.combines_with(first))
                .collect();
            if !partners.is_empty() {
                second = Some(partners[rng.below(partners.len())]);
            }
        }
        let (a, b) = match second {
            Some(t) if t.index() < first.index() => (t, Some(first)),
            _ => (first, second),
        };
        let once = a.apply(word, rng);
        match (once, b) {
            (Some(w), Some(b)) => match b.apply(&w, rng) {
                Some(twice) => Some(([Some(a), Some(b)], twice)),
                None => Some(([Some(a), None], w)),
            },
            (Some(w), None) => Some(([Some(a), None], w)),
            (None, Some(b)) => b.apply(word, rng).map(|w| ([Some(b), None], w)),
            (None, None) => None,
        }
    }
}

fn join_chars(chars: &[char], sep: &str) -> String {
    let mut s = String::with_capacity(chars.len() * (1 + sep.len()));
    for (i, c) in chars.iter().enumerate() {
        if i > 0 {
            s.push_str(sep);
        }
        s.push(*c);
    }
    s
}

/// Leet substitutes for a letter (lower-case), as listed in issue 5.
fn leet_options(c: char) -> &'static [char] {
    match c.to_ascii_lowercase() {
        'a' => &['@', '4'],
        'e' => &['3'],
        'i' => &['1', '!'],
        'l' => &['1', '|'],
        'o' => &['0'],
        's' => &['$', '5'],
        't' => &['7'],
        _ => &[],
    }
}

/// Substitutes used by dense leetspeak: those of [`leet_options`] plus `|`
/// for `i`, `8` for `b` and `9` for `g`.
fn dense_leet_options(c: char) -> &'static [char] {
    match c.to_ascii_lowercase() {
        'b' => &['8'],
        'g' => &['9'],
        'i' => &['1', '!', '|'],
        _ => leet_options(c),
    }
}

/// Most of the leet-able letters (at least two, and at least half)
/// replaced, so that several symbols stand in one word; one letter always
/// stays, so the word is still letters, digits and symbols mixed (`455`
/// would be a number to any reader).
fn dense_leet(chars: &[char], rng: &mut SplitMix64) -> Option<String> {
    let letters = chars.iter().filter(|c| c.is_ascii_alphabetic()).count();
    let mut eligible: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_ascii_alphabetic() && !dense_leet_options(chars[i]).is_empty())
        .collect();
    let most = eligible.len().min(letters.saturating_sub(1));
    if most < 2 || chars.len() < 3 {
        return None;
    }
    let half = eligible.len().div_ceil(2).clamp(2, most);
    let k = half + rng.below(most - half + 1);
    let mut out = chars.to_vec();
    for _ in 0..k {
        let i = eligible.swap_remove(rng.below(eligible.len()));
        let options = dense_leet_options(chars[i]);
        out[i] = options[rng.below(options.len())];
    }
    Some(out.into_iter().collect())
}

fn leet(chars: &[char], rng: &mut SplitMix64) -> Option<String> {
    let mut eligible: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_ascii_alphabetic() && !leet_options(chars[i]).is_empty())
        .collect();
    // Letters stay the majority: at most (n - 1) / 2 substitutions.
    let cap = (chars.len().saturating_sub(1) / 2).min(eligible.len());
    if cap == 0 {
        return None;
    }
    let k = 1 + rng.below(cap.min(chars.len().div_ceil(4)));
    let mut out = chars.to_vec();
    for _ in 0..k {
        let i = eligible.swap_remove(rng.below(eligible.len()));
        let options = leet_options(chars[i]);
        out[i] = options[rng.below(options.len())];
    }
    Some(out.into_iter().collect())
}

fn separators(chars: &[char], rng: &mut SplitMix64) -> Option<String> {
    if chars.len() < 3 {
        return None;
    }
    let sep = ['.', '-', '_', '*'][rng.below(4)];
    // Pieces of one or two letters, at least one of them a single letter.
    let mut pieces: Vec<&[char]> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let take = if chars.len() - i >= 2 && rng.below(2) == 1 {
            2
        } else {
            1
        };
        pieces.push(&chars[i..i + take]);
        i += take;
    }
    let mut s = String::new();
    for (j, p) in pieces.iter().enumerate() {
        if j > 0 {
            s.push(sep);
        }
        s.extend(p.iter());
    }
    Some(s)
}

fn repeats(chars: &[char], rng: &mut SplitMix64) -> Option<String> {
    if chars.len() < 2 {
        return None;
    }
    let vowels: Vec<usize> = (0..chars.len())
        .filter(|&i| "aeiouyAEIOUY".contains(chars[i]))
        .collect();
    let letters: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_ascii_alphabetic())
        .collect();
    let pool = if vowels.is_empty() { &letters } else { &vowels };
    if pool.is_empty() {
        return None;
    }
    let at = pool[rng.below(pool.len())];
    let extra = 2 + rng.below(3);
    let mut out = String::with_capacity(chars.len() + extra);
    for (i, &c) in chars.iter().enumerate() {
        out.push(c);
        if i == at {
            (0..extra).for_each(|_| out.push(c));
        }
    }
    Some(out)
}

/// A Cyrillic look-alike of a Latin letter.
fn cyrillic(c: char) -> Option<char> {
    Some(match c {
        'a' => 'а',
        'c' => 'с',
        'e' => 'е',
        'i' => 'і',
        'j' => 'ј',
        'o' => 'о',
        'p' => 'р',
        's' => 'ѕ',
        'x' => 'х',
        'y' => 'у',
        'h' => 'һ',
        'd' => 'ԁ',
        'A' => 'А',
        'B' => 'В',
        'C' => 'С',
        'E' => 'Е',
        'H' => 'Н',
        'K' => 'К',
        'M' => 'М',
        'O' => 'О',
        'P' => 'Р',
        'T' => 'Т',
        'X' => 'Х',
        _ => return None,
    })
}

fn homoglyphs(chars: &[char], rng: &mut SplitMix64) -> Option<String> {
    let eligible: Vec<usize> = (0..chars.len())
        .filter(|&i| cyrillic(chars[i]).is_some())
        .collect();
    if eligible.is_empty() {
        return None;
    }
    let forced = eligible[rng.below(eligible.len())];
    let out = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| match cyrillic(c) {
            Some(look_alike) if i == forced || rng.below(2) == 1 => look_alike,
            _ => c,
        })
        .collect();
    Some(out)
}

/// Invisible characters people put inside words.
const INVISIBLE: [char; 5] = ['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{00AD}'];

fn zero_width(chars: &[char], rng: &mut SplitMix64) -> Option<String> {
    if chars.len() < 2 {
        return None;
    }
    let n = 1 + rng.below(2);
    let mut at: Vec<usize> = (0..n).map(|_| 1 + rng.below(chars.len() - 1)).collect();
    at.sort_unstable();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        for _ in at.iter().filter(|&&a| a == i) {
            out.push(INVISIBLE[rng.below(INVISIBLE.len())]);
        }
        out.push(c);
    }
    Some(out)
}

fn full_width(c: char) -> char {
    if c.is_ascii_graphic() {
        char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c)
    } else {
        c
    }
}

fn mask(chars: &[char], rng: &mut SplitMix64) -> Option<String> {
    if chars.len() < 3 {
        return None;
    }
    let inner: Vec<usize> = (1..chars.len() - 1)
        .filter(|&i| chars[i].is_ascii_alphabetic())
        .collect();
    if inner.is_empty() {
        return None;
    }
    let vowels: Vec<usize> = inner
        .iter()
        .copied()
        .filter(|&i| "aeiouAEIOU".contains(chars[i]))
        .collect();
    let pool = if vowels.is_empty() { &inner } else { &vowels };
    let at = pool[rng.below(pool.len())];
    let mut out = chars.to_vec();
    out[at] = '*';
    Some(out.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(trick: Trick) -> Perturber {
        Perturber::new(
            WordList::builtin(),
            PerturbConfig {
                tricks: vec![trick],
                ..PerturbConfig::default()
            },
        )
    }

    #[test]
    fn word_list_matches_endings_and_case() {
        let w = WordList::builtin();
        for word in ["kill", "Killed", "KILLING", "idiots", "stabbed", "shooting"] {
            assert!(w.matches(word), "{word}");
        }
        for word in ["skill", "killer whale", "table", "the", "as"] {
            assert!(!w.matches(word), "{word}");
        }
    }

    #[test]
    fn only_listed_words_change() {
        let p = Perturber::new(WordList::builtin(), PerturbConfig::default());
        let out = p.perturb("We should kill them, said the 3 idiots on 1 May.", 0);
        assert!(out.text.starts_with("We should "));
        assert!(out.text.contains(", said the 3 "));
        assert!(out.text.ends_with(" on 1 May."));
        assert!(!out.text.contains("kill "));
        assert!(!out.text.contains("idiots"));
        assert_eq!(out.words_changed, 2);
    }

    #[test]
    fn same_seed_and_row_same_output_other_seed_differs() {
        let text = "kill the idiot, shoot the moron, hang the fool, burn the scum";
        let p = Perturber::new(WordList::builtin(), PerturbConfig::default());
        assert_eq!(p.perturb(text, 7), p.perturb(text, 7));
        let other = Perturber::new(
            WordList::builtin(),
            PerturbConfig {
                seed: 43,
                ..PerturbConfig::default()
            },
        );
        assert_ne!(p.perturb(text, 7).text, other.perturb(text, 7).text);
        assert_ne!(p.perturb(text, 7).text, p.perturb(text, 8).text);
    }

    #[test]
    fn each_trick_does_what_it_says() {
        let text = "stupid";
        let spaced = only(Trick::Spacing).perturb(text, 1).text;
        assert_eq!(spaced, "s t u p i d");
        let full = only(Trick::FullWidth).perturb(text, 1).text;
        assert_eq!(full, "ｓｔｕｐｉｄ");
        let sep = only(Trick::Separators).perturb(text, 1).text;
        assert_eq!(sep.replace(['.', '-', '_'], ""), "stupid");
        assert!(sep.len() > text.len());
        let rep = only(Trick::Repeats).perturb(text, 1).text;
        assert!(rep.len() >= 8 && rep.chars().filter(|c| "ui".contains(*c)).count() >= 4);
        let zw = only(Trick::ZeroWidth).perturb(text, 1).text;
        assert!(zw.chars().any(|c| INVISIBLE.contains(&c)));
        let homo = only(Trick::Homoglyphs).perturb(text, 1).text;
        assert!(homo.chars().any(|c| ('\u{400}'..='\u{52F}').contains(&c)));
        let masked = only(Trick::Mask).perturb(text, 1).text;
        assert_eq!(masked.chars().filter(|&c| c == '*').count(), 1);
    }

    #[test]
    fn dense_leet_replaces_most_letters_but_keeps_one() {
        let p = only(Trick::DenseLeet);
        for row in 0..200 {
            for word in ["idiot", "ass", "stupid", "bitches"] {
                let out = p.perturb(word, row).text;
                let letters = out.chars().filter(|c| c.is_ascii_alphabetic()).count();
                let replaced = word.len() - letters;
                assert!(letters >= 1, "{out}");
                assert!(
                    replaced >= 2 && replaced * 2 >= word.len() - 2,
                    "{word} -> {out}"
                );
            }
        }
        // Too few leet-able letters: `fun` is left alone.
        assert_eq!(p.perturb("fun", 0).text, "fun");
    }

    #[test]
    fn two_tricks_per_word_combine_and_count_both() {
        let p = Perturber::new(
            WordList::builtin(),
            PerturbConfig {
                tricks_per_word: 2,
                ..PerturbConfig::default()
            },
        );
        let mut two = 0;
        for row in 0..100 {
            let out = p.perturb("kill the idiot", row);
            assert_eq!(out.words_changed, 2);
            let applied: u32 = out.by_trick.iter().sum();
            assert!((2..=4).contains(&applied));
            two += applied - 2;
        }
        assert!(two > 100, "most words got two tricks ({two})");
        let pairs = [
            (Trick::Leet, Trick::DenseLeet),
            (Trick::Spacing, Trick::Separators),
        ];
        for (a, b) in pairs {
            assert!(!a.combines_with(b) && !b.combines_with(a));
        }
        assert!(Trick::Mask.combines_with(Trick::Leet));
        assert!(!Trick::Mask.combines_with(Trick::Mask));
    }

    #[test]
    fn leet_keeps_letters_the_majority() {
        let p = only(Trick::Leet);
        for row in 0..200 {
            let out = p.perturb("assassinate", row).text;
            let letters = out.chars().filter(|c| c.is_ascii_alphabetic()).count();
            assert!(letters * 2 > out.chars().count(), "{out}");
            assert_ne!(out, "assassinate");
        }
    }

    #[test]
    fn rate_zero_changes_nothing() {
        let p = Perturber::new(
            WordList::builtin(),
            PerturbConfig {
                rate: 0.0,
                ..PerturbConfig::default()
            },
        );
        let text = "kill the idiot";
        assert_eq!(p.perturb(text, 0).text, text);
    }

    #[test]
    fn non_ascii_and_long_runs_pass_through() {
        let p = Perturber::new(WordList::builtin(), PerturbConfig::default());
        let text = "naïve café 😀 ".to_string() + &"x".repeat(100);
        assert_eq!(p.perturb(&text, 0).text, text);
    }
}

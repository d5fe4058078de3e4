//! Reads one obfuscated word against the model's [`KnownWords`]: the pure
//! function `obfuscated word -> Option<Reading>` behind the
//! [`respell`](super::respell) stage (which finds the words and caches the
//! answers).
//!
//! **Which words.** Only words the list does not hold as written: a listed
//! word (`covid19`, `f35` when the corpus has them) is the model's own and
//! stays. (The list holds tokens as the tokenizer writes them, so a masked or
//! drawn-out word is never listed.) [`resolve`] then checks that the word is shaped
//! like an obfuscated word and not like a number, a code or two words run
//! together.
//! The word (lower case, normalised) may hold letters, digits, the leet
//! symbols `@ $ ! |`, the masks `* # _ .` and the separators `- ‐ · •`, and
//! must have all of these:
//! - 3 to 30 characters and at least one letter;
//! - no `.` between digits (`7.62mm`, `v1.2.3`), and not a model code in
//!   the plural: one or two letters, one digit run (two digits after one
//!   letter) and a final `s` (`mp3s`, `f35s`, `t34s`; but `a5s`, `rat3s`);
//! - a sign of obfuscation. *Strong*: a mask, with two letters, or three
//!   letters and leet characters, shown (`f**k`, `817*h`; not `3*x`); a leet
//!   symbol, with two letters or symbols (`k!11`, `$7up!d`); a digit
//!   *between* two letters (`k1ll`, `h4t3`); leet digits at both ends around
//!   two letters or more (`5hi7`); or a letter written three times or more
//!   (`idiooot`). *Weak*: a word cut by separators into pieces of one or two
//!   letters (`ha-te`); leet digits before two letters or more (`57upid`,
//!   `5hut`), after three letters or more or two digits after two letters
//!   (`savag3`, `ha73`), at both ends of one letter (`5h17`), or three or more
//!   after one letter (`h473`, `k111`). That is also how compounds, numbers
//!   with units and codes look, so a weak word takes only a reading (of up to
//!   five letters) in one comment in a thousand ([`weak_evidence_min_count`])
//!   and no penalised reading: `co-op`, `bo7`, `5am`, `top5` and `4men` keep
//!   their spelling (`coop`, `bot`, `sam`, `tops` and `amen` are rarer).
//!   *None*: a time, ordinal or quantity (`10am`, `1st`, `15mph`), one letter
//!   after a number or before one or two digits (`10k`, `f35`, `b17`, `t34`),
//!   two letters before one digit (`mp3`, `ww3`), `1v1`, `4x4`, non-leet
//!   digits at an edge (`2nd`), separators between longer pieces
//!   (`pro-war`, `anti-vaxx`);
//! - when it holds `.`, `_`, `#` or a separator: not made only of listed
//!   words around them, one of three letters or more (`not.to`,
//!   `snake_case`, `e-mail`, `pro-war`), or of single letters (`e.g`, `u.s`):
//!   those are identifiers, compounds, missing spaces and abbreviations. Pieces
//!   of one or two characters are a word cut up (`sh.it`, `st_up_id`).
//!
//! **Readings.** Every character may stand for letters: a letter for
//! itself; a leet character for each letter it imitates (`@ 4`→a, `8`→b,
//! `3`→e, `9`→g, `1`→i or l, `!`→i, `|`→l or i, `0`→o, `$ 5`→s, `7`→t); a
//! separator for nothing; a run of masks (`* # _ .`) for as many letters as
//! it has characters, at a penalty for fewer, and at two penalties for one
//! more (`f*k`); `@`, at two penalties, for any letter. Where masks separate
//! three or more pieces of one or two characters (`k*i*l*l`, `f*a*t`) they
//! stand for no letter, and for letters only at a penalty; `_` and `.` may
//! stand for letters or none (`fu_ck`); other masks hide letters, and stand
//! for none only at a penalty (`fu*ck`). A masked word (`a*s`) is mostly a
//! word with a letter hidden, and its readings have three letters or more.
//! A character written two or more times may stand for one or two
//! (`idiooot`, `shoooot`): a letter written three times or more is read as
//! English writes it first (one `u`, `i` or `a`, two `o`s or `s`s; see
//! [`RepeatRule`](super::tokenize::RepeatRule)) and the other way at a
//! penalty, and a letter written exactly twice costs a penalty when read
//! once; a run of three or more leet characters may also be read one letter
//! each (`k|||`). Masks may stand for at most as many letters as the word
//! shows. Readings of weakly obfuscated words (below) take no penalty.
//!
//! **Choice.** The readings are walked through the word list's trie at once, so
//! only prefixes of listed words are ever built. Of the listed readings (of
//! at least two letters; three-letter readings where a mask stands for a
//! letter, `a*s`, only if frequent as on weak evidence) the most
//! frequent wins, each penalty dividing its count by 10 (three at most). The walk is bounded
//! ([`MAX_STEPS`]); a word that needs more is left unresolved.

use super::known_words::{KnownWords, Node};
use super::tokenize::is_rarely_doubled;

/// A word's reading: what it spells, and where each letter came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The reading, as the word list lists it.
    pub text: String,
    /// For each character of `text`, the first and last character (indices
    /// into the obfuscated word's characters) it was read from.
    pub sources: Vec<(u8, u8)>,
    /// The reading's count in the word list (comments it occurs in).
    pub count: u32,
}

/// Longest word (in characters) that is resolved.
pub const MAX_WORD_CHARS: usize = 30;
/// Most trie steps one word may take.
pub const MAX_STEPS: u32 = 20_000;
/// Shortest reading kept (in characters).
const MIN_READING_CHARS: usize = 2;
/// Shortest reading kept of a word with a mask (`a*s` is not `as`); when a
/// mask stands for a letter, readings this short are also held to
/// [`weak_evidence_min_count`] (`a*s` is `ass`, but `a*b` is not `arb`).
const MIN_MASKED_READING_CHARS: usize = 3;
/// Most penalties one reading may collect.
const MAX_PENALTY: u8 = 3;

/// Letters a leet character imitates (empty for other characters).
pub fn leet_letters(c: char) -> &'static [u8] {
    match c {
        '@' | '4' => b"a",
        '8' => b"b",
        '3' => b"e",
        '9' => b"g",
        '1' => b"il",
        '!' => b"i",
        '|' => b"li",
        '0' => b"o",
        '$' | '5' => b"s",
        '7' => b"t",
        _ => b"",
    }
}

/// Symbols that stand for a letter in leetspeak.
pub fn is_leet_symbol(c: char) -> bool {
    matches!(c, '@' | '$' | '!' | '|')
}

/// Characters that mask letters inside a word (`@` is a leet `a` as well).
pub fn is_mask(c: char) -> bool {
    matches!(c, '*' | '#' | '_' | '.' | '@')
}

/// Characters that may separate the letters of a word without standing
/// for any.
pub fn is_separator(c: char) -> bool {
    matches!(c, '-' | '\u{2010}' | '\u{b7}' | '\u{2022}')
}

/// Characters an obfuscated word is made of.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_leet_symbol(c) || is_mask(c) || is_separator(c)
}

/// Masks and separators that are also ordinary punctuation between words and
/// in names and compounds.
pub fn is_splitting(c: char) -> bool {
    matches!(c, '.' | '_' | '#') || is_separator(c)
}

/// Resolves `word` (lower case, normalised) against `known_words`: the most
/// frequent listed reading, or `None` when the word is listed itself (the
/// model knows it as written: `covid19`, `f35`), is not shaped like an
/// obfuscated word, or has no listed reading. See the [module docs](self).
///
/// A pure function of the word list and the word, so its answers may be
/// cached per word ([`respell`](super::respell) does).
pub fn resolve(known_words: &KnownWords, word: &str) -> Option<Reading> {
    if known_words.contains(word) {
        return None;
    }
    let chars: Vec<char> = word.chars().take(MAX_WORD_CHARS + 1).collect();
    let evidence = evidence(&chars)?;
    if is_words_and_punctuation(known_words, &chars) {
        return None;
    }
    let mut search = Search::new(known_words, &chars);
    search.weak = evidence == Evidence::Weak;
    search.walk(0, known_words.root(), 0, 0);
    let (_, count, path) = search.best?;
    Some(Reading {
        text: path.iter().map(|p| p.0).collect(),
        sources: path.iter().map(|p| (p.1, p.2)).collect(),
        count,
    })
}

/// How strongly a word's shape says it is obfuscated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Evidence {
    /// Leet inside, a leet symbol, a mask or a drawn-out letter: any listed
    /// reading will do.
    Strong,
    /// Leet digits at the edges only (`57upid`, `h473`, `5h17`), which is
    /// also how numbers with units and codes look: only a frequent reading
    /// will do ([`weak_evidence_min_count`]).
    Weak,
}

/// Letters after a number that make it a time, an ordinal or a quantity
/// (`10am`, `31st`, `15mph`), never leet.
const NUMBER_SUFFIXES: [&str; 24] = [
    "am", "pm", "st", "nd", "rd", "th", "s", "k", "m", "g", "x", "mm", "cm", "km", "kg", "lb",
    "lbs", "ft", "yo", "yr", "yrs", "hr", "hrs", "mph",
];

/// The shape rules of the [module docs](self), except the one that needs the
/// known_words: how strongly the word looks obfuscated, or `None` when it does
/// not look like an obfuscated word at all.
fn evidence(chars: &[char]) -> Option<Evidence> {
    let n = chars.len();
    if !(3..=MAX_WORD_CHARS).contains(&n) || !chars.iter().all(|&c| is_word_char(c)) {
        return None;
    }
    let count = |f: fn(char) -> bool| chars.iter().filter(|&&c| f(c)).count();
    let letters = count(char::is_alphabetic);
    let symbols = count(is_leet_symbol);
    let leet = count(|c| !leet_letters(c).is_empty());
    let masked = chars.iter().any(|&c| is_mask(c) && c != '@');
    let decimal = (1..n - 1)
        .any(|i| chars[i] == '.' && chars[i - 1].is_ascii_digit() && chars[i + 1].is_ascii_digit());
    // `mp3s`, `f35s`: one or two letters, then one digit run (two digits
    // after one letter), then a final `s`.
    let non_letters: Vec<usize> = (0..n).filter(|&i| !chars[i].is_alphabetic()).collect();
    let one_digit_run = non_letters.windows(2).all(|w| w[1] == w[0] + 1)
        && non_letters.iter().all(|&i| chars[i].is_ascii_digit());
    let before = non_letters.first().copied().unwrap_or(0);
    let plural_code = one_digit_run
        && chars[n - 1] == 's'
        && non_letters.last() == Some(&(n - 2))
        && (1..=2).contains(&before)
        && before + non_letters.len() >= 3;
    if letters == 0 || decimal || plural_code {
        return None;
    }
    if masked {
        // `3*x`, `2*x` are arithmetic.
        return (letters >= 2 || letters + leet >= 3).then_some(Evidence::Strong);
    }
    if symbols > 0 {
        return (letters + symbols >= 2).then_some(Evidence::Strong);
    }
    let first = chars.iter().position(|c| c.is_alphabetic()).unwrap_or(0);
    let last = chars.iter().rposition(|c| c.is_alphabetic()).unwrap_or(0);
    let inside = chars[first..=last]
        .iter()
        .any(|&c| !c.is_alphabetic() && !is_separator(c));
    let drawn_out = chars
        .windows(3)
        .any(|w| w[0].is_alphabetic() && w[0] == w[1] && w[1] == w[2]);
    if inside || drawn_out {
        return Some(Evidence::Strong);
    }
    // Only digits at the edges now, or separators: leet digits only.
    let digits: Vec<char> = chars.iter().copied().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        // A word cut into pieces of one or two letters (`ha-te`, `st-up-id`);
        // compounds have longer pieces (`pro-war`, `e-mail`).
        let pieces: Vec<usize> = chars
            .split(|&c| is_separator(c))
            .map(<[char]>::len)
            .filter(|&n| n > 0)
            .collect();
        let cut_up = pieces.len() >= 2 && pieces.iter().all(|&n| n <= 2);
        return cut_up.then_some(Evidence::Weak);
    }
    if digits.iter().any(|&d| leet_letters(d).is_empty()) {
        return None;
    }
    let (leading, trailing) = (chars[0].is_ascii_digit(), chars[n - 1].is_ascii_digit());
    let core: String = chars[first..=last].iter().collect();
    match (leading, trailing) {
        // `1v1`, `4x4`, `3v3`: one versus, by or times another.
        (true, true) if letters == 1 && matches!(core.as_str(), "x" | "v") => None,
        (true, true) if letters >= 2 => Some(Evidence::Strong),
        (true, true) => Some(Evidence::Weak),
        // One letter before a number, or after one or two digits, is a unit
        // or a code (`10k`, `f35`, `b17`); a number suffix is never leet.
        (false, true) if letters == 1 && digits.len() >= 3 => Some(Evidence::Weak),
        _ if letters < 2 => None,
        (true, false) if NUMBER_SUFFIXES.contains(&core.as_str()) => None,
        // `mp3`, `ww3`, `ps5`: two letters and a digit are a code.
        (false, true) if letters == 2 && digits.len() == 1 => None,
        (true, false) | (false, true) => Some(Evidence::Weak),
        (false, false) => None,
    }
}

/// The fewest comments a reading of `chars` characters needs on
/// [`Evidence::Weak`]: one in a thousand of the word list's comments for
/// readings of up to five letters (numbers with units and codes are short:
/// `4ward` is not `award`), and at least 5.
pub fn weak_evidence_min_count(known_words: &KnownWords, chars: usize) -> u32 {
    if chars >= 6 {
        5
    } else {
        (known_words.comments() / 1000).max(5)
    }
}

/// True when the word's `.`, `_`, `#` and separators only separate listed
/// words, one of three characters or more (`not.to`, `snake_case`,
/// `e-mail`), or single letters (`e.g`, `u.s`). A piece of masks or leet
/// alone (`d-*-ck`, `k.|.|.|`) is not a word, and pieces of one or two
/// characters are how words are cut up (`sh.it`, `b.it.ch`), not written.
fn is_words_and_punctuation(known_words: &KnownWords, chars: &[char]) -> bool {
    if !chars.iter().any(|&c| is_splitting(c)) {
        return false;
    }
    let pieces: Vec<usize> = chars
        .split(|&c| is_splitting(c))
        .map(<[char]>::len)
        .filter(|&n| n > 0)
        .collect();
    if !pieces.iter().all(|&n| n == 1) && !pieces.iter().any(|&n| n >= 3) {
        return false;
    }
    let mut piece = String::new();
    let mut all_known = true;
    for (i, &c) in chars.iter().enumerate() {
        if !is_splitting(c) {
            piece.push(c);
        }
        if is_splitting(c) || i + 1 == chars.len() {
            if !piece.is_empty() {
                let single_letter =
                    piece.chars().count() == 1 && piece.chars().all(char::is_alphabetic);
                all_known &= single_letter || known_words.contains(&piece);
            }
            piece.clear();
        }
    }
    all_known
}

/// One run of a repeated character in the word.
#[derive(Debug, Clone, Copy)]
struct Run {
    ch: char,
    /// Index of its first character in the word.
    start: u8,
    /// Its length.
    len: u8,
}

/// What the copies of one reading of a run are.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fill {
    /// The character itself or the letters it imitates.
    Letters,
    /// Any letter (a mask).
    Any,
}

/// One way to read a run: `copies` characters of kind `kind`, at `penalty`.
#[derive(Debug, Clone, Copy)]
struct Alternative {
    copies: u8,
    kind: Fill,
    penalty: u8,
}

/// The ways to read a run (see the [module docs](self)). `zero_fill`: masks
/// may stand for no letter at all.
fn alternatives(run: Run, zero_fill: bool, out: &mut Vec<Alternative>) {
    out.clear();
    let mut push = |copies, kind, penalty| {
        out.push(Alternative {
            copies,
            kind,
            penalty,
        })
    };
    if is_separator(run.ch) {
        push(0, Fill::Any, 0);
        return;
    }
    if run.ch != '@' && is_mask(run.ch) {
        // Separating masks stand for nothing first, hiding masks for as many
        // letters as they have; `_` and `.` may be either.
        let (hide, skip) = match (zero_fill, matches!(run.ch, '_' | '.')) {
            (true, _) => (1, 0),
            (false, true) => (0, 0),
            (false, false) => (0, 1),
        };
        push(run.len, Fill::Any, hide);
        push(0, Fill::Any, skip);
        for copies in (1..run.len).chain([run.len + 1]) {
            push(copies, Fill::Any, if copies > run.len { 2 } else { 1 });
        }
        return;
    }
    let leet = !leet_letters(run.ch).is_empty();
    match run.len {
        1 => push(1, Fill::Letters, 0),
        2 => {
            push(2, Fill::Letters, 0);
            push(1, Fill::Letters, 1);
        }
        _ if leet => {
            push(1, Fill::Letters, 0);
            push(2, Fill::Letters, 0);
            // A run of leet characters may be that many letters (`k|||`).
            push(run.len, Fill::Letters, 0);
        }
        // A drawn-out letter: as English writes it first (one `u`, two `o`s).
        _ => {
            let once = is_rarely_doubled(run.ch) || !run.ch.is_alphabetic();
            push(1, Fill::Letters, u8::from(!once));
            push(2, Fill::Letters, u8::from(once));
        }
    }
    if run.ch == '@' {
        push(run.len, Fill::Any, 2);
    }
}

/// True when masks may stand for no letter: they separate three or more
/// pieces of at most two characters (`k*i*l*l`, `bi*t*ch`), not a word with a
/// letter masked (`a*s`, `f*ck`).
fn masks_separate(chars: &[char]) -> bool {
    let mut pieces = 0;
    let mut piece = 0;
    let mut short = true;
    for (i, &c) in chars.iter().enumerate() {
        let gap = is_mask(c) && c != '@' || is_separator(c);
        if !gap {
            piece += 1;
        }
        if gap || i + 1 == chars.len() {
            if piece > 0 {
                pieces += 1;
                short &= piece <= 2;
            }
            piece = 0;
        }
    }
    pieces >= 3 && short
}

/// One letter of a reading: the letter, and the first and last index of
/// the characters it was read from.
type Step = (char, u8, u8);

/// The walk of all readings through the word list's trie.
struct Search<'a> {
    known_words: &'a KnownWords,
    runs: Vec<Run>,
    alternatives: Vec<Vec<Alternative>>,
    /// Characters of the word that are not masks: the most letters masks
    /// may add.
    shown: usize,
    steps: u32,
    /// The reading being built: character, first and last source index.
    path: Vec<Step>,
    /// Best so far: score, count and reading.
    best: Option<(f64, u32, Vec<Step>)>,
    /// The word is only weakly obfuscated: its readings must be frequent.
    weak: bool,
    /// The word holds a mask: its readings have three letters or more.
    masked: bool,
}

impl<'a> Search<'a> {
    fn new(known_words: &'a KnownWords, chars: &[char]) -> Self {
        let mut runs: Vec<Run> = Vec::new();
        for (i, &c) in chars.iter().enumerate() {
            match runs.last_mut() {
                Some(r) if r.ch == c => r.len += 1,
                _ => runs.push(Run {
                    ch: c,
                    start: i as u8,
                    len: 1,
                }),
            }
        }
        let zero_fill = masks_separate(chars);
        let alternatives = runs
            .iter()
            .map(|&r| {
                let mut v = Vec::new();
                alternatives(r, zero_fill, &mut v);
                v
            })
            .collect();
        Self {
            known_words,
            runs,
            alternatives,
            shown: chars
                .iter()
                .filter(|&&c| c == '@' || !(is_mask(c) || is_separator(c)))
                .count(),
            steps: 0,
            path: Vec::new(),
            best: None,
            weak: false,
            masked: chars.iter().any(|&c| is_mask(c) && c != '@'),
        }
    }

    /// Reads runs `r..` from `node` on.
    fn walk(&mut self, r: usize, node: Node, penalty: u8, masked: usize) {
        if r == self.runs.len() {
            self.consider(node, penalty, masked > 0);
            return;
        }
        for a in 0..self.alternatives[r].len() {
            let alt = self.alternatives[r][a];
            let masked = masked
                + if alt.kind == Fill::Any {
                    usize::from(alt.copies)
                } else {
                    0
                };
            let most = if self.weak { 0 } else { MAX_PENALTY };
            if penalty + alt.penalty > most || masked > self.shown {
                continue;
            }
            self.copies(r, alt, 0, node, penalty + alt.penalty, masked);
        }
    }

    /// Places copy `k` (of `alt.copies`) of run `r`, then the rest.
    fn copies(
        &mut self,
        r: usize,
        alt: Alternative,
        k: u8,
        node: Node,
        penalty: u8,
        masked: usize,
    ) {
        if k == alt.copies {
            self.walk(r + 1, node, penalty, masked);
            return;
        }
        let run = self.runs[r];
        let end = run.start + run.len - 1;
        let first = (run.start + k).min(end);
        let last = if k + 1 == alt.copies { end } else { first };
        let known_words = self.known_words;
        let visit = |search: &mut Self, ch: char, next: Node| {
            search.path.push((ch, first, last));
            search.copies(r, alt, k + 1, next, penalty, masked);
            search.path.pop();
        };
        match alt.kind {
            Fill::Any => {
                let mut below = Vec::new();
                known_words.children(node, b'a', b'z', |b, n| below.push((b, n)));
                self.steps += below.len() as u32;
                for (b, n) in below {
                    if self.steps > MAX_STEPS {
                        return;
                    }
                    visit(self, char::from(b), n);
                }
            }
            Fill::Letters => {
                let leet = leet_letters(run.ch);
                if leet.is_empty() {
                    let mut buf = [0u8; 4];
                    let bytes = run.ch.encode_utf8(&mut buf).as_bytes();
                    self.steps += 1;
                    let next = bytes.iter().try_fold(node, |n, &b| known_words.step(n, b));
                    if let Some(n) = next {
                        visit(self, run.ch, n);
                    }
                } else {
                    for &b in leet {
                        self.steps += 1;
                        if self.steps > MAX_STEPS {
                            return;
                        }
                        if let Some(n) = known_words.step(node, b) {
                            visit(self, char::from(b), n);
                        }
                    }
                }
            }
        }
    }

    /// Keeps the reading ending at `node` if it is listed and beats the best.
    fn consider(&mut self, node: Node, penalty: u8, filled: bool) {
        let len = self.path.len();
        let shortest = if filled || self.masked {
            MIN_MASKED_READING_CHARS
        } else {
            MIN_READING_CHARS
        };
        if len < shortest {
            return;
        }
        let frequent = self.weak || (filled && len == MIN_MASKED_READING_CHARS);
        let min_count = if frequent {
            weak_evidence_min_count(self.known_words, len)
        } else {
            1
        };
        let Some(count) = self
            .known_words
            .word_count(node)
            .filter(|&c| c >= min_count)
        else {
            return;
        };
        let score = f64::from(count) / 10f64.powi(i32::from(penalty));
        if self.best.as_ref().is_none_or(|b| score > b.0) {
            self.best = Some((score, count, self.path.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known_words() -> KnownWords {
        let words = [
            ("idiot", 850),
            ("stupid", 1800),
            ("fuck", 2000),
            ("fck", 28),
            ("shit", 2100),
            ("shut", 430),
            ("shot", 320),
            ("kill", 930),
            ("killer", 120),
            ("loser", 250),
            ("looser", 6),
            ("so", 9000),
            ("soo", 40),
            ("asshole", 400),
            ("ass", 900),
            ("hate", 1200),
            ("us", 5000),
            ("not", 9000),
            ("to", 9000),
            ("snake", 20),
            ("case", 900),
            ("tea", 60),
            ("wwe", 9),
            ("bot", 30),
            ("ist", 3),
            ("tpm", 3),
            ("xml", 4),
            ("eg", 30),
            ("egg", 40),
            ("fess", 3),
            ("teas", 3),
            ("miai", 3),
            ("bastard", 300),
            ("bitch", 700),
            ("dick", 200),
            ("ex", 300),
            ("antivaxx", 3),
            ("email", 50),
            ("mail", 80),
            ("pro", 70),
            ("war", 900),
            ("anti", 90),
            ("sam", 44),
            ("amen", 41),
            ("tops", 15),
            ("eve", 22),
            ("bit", 400),
            ("fat", 430),
            ("loam", 3),
            ("killed", 500),
            ("as", 20000),
            ("fact", 3000),
            ("gain", 900),
            ("gun", 400),
            ("sh", 50),
            ("it", 9000),
            ("st", 40),
            ("up", 3000),
            ("id", 40),
            ("ch", 20),
            ("scumbag", 20),
            ("coop", 3),
            ("fucck", 3),
            ("shoot", 215),
            ("we", 20000),
            ("award", 43),
            ("die", 900),
            ("retard", 200),
            ("moron", 300),
        ];
        KnownWords::from_counts(words.iter().map(|&(w, c)| (w.to_string(), c)).collect())
            .unwrap()
            .with_comments(90_000)
    }

    fn read(word: &str) -> Option<String> {
        resolve(&known_words(), word).map(|r| r.text)
    }

    #[test]
    fn dense_leet_resolves() {
        for (word, want) in [
            ("1d10t", "idiot"),
            ("$7up!d", "stupid"),
            ("k!11", "kill"),
            ("5h!7", "shit"),
            ("h4t3", "hate"),
            ("@$$h0l3", "asshole"),
            ("r374rd", "retard"),
            ("m0r0n", "moron"),
            ("d!3", "die"),
            ("k|ll", "kill"),
            ("k!||", "kill"),
            ("k|||", "kill"),
            ("k1113d", "killed"),
            ("k111", "kill"),
            ("!d!07", "idiot"),
            ("817ch", "bitch"),
            ("57upid", "stupid"),
            ("h473", "hate"),
            ("5h17", "shit"),
            ("ki11", "kill"),
            ("5hut", "shut"),
        ] {
            assert_eq!(read(word).as_deref(), Some(want), "{word}");
        }
    }

    #[test]
    fn masks_and_separators_resolve_to_the_most_frequent_word() {
        for (word, want) in [
            ("st*pid", "stupid"),
            ("id*ot", "idiot"),
            ("f*ck", "fuck"),
            ("f**k", "fuck"),
            ("f*k", "fuck"),
            ("sh*t", "shit"),
            ("k*ll", "kill"),
            ("k*i*l*l", "kill"),
            ("a**hole", "asshole"),
            ("st#pid", "stupid"),
            ("st_pid", "stupid"),
            ("b@st@rd", "bastard"),
            ("k*1*l*l", "kill"),
            ("$t*p1d", "stupid"),
            ("s*h**t", "shit"),
            ("817*h", "bitch"),
            ("b-17-c-h", "bitch"),
            ("d-*-ck", "dick"),
            ("b1_7_ch", "bitch"),
            ("5hi7", "shit"),
            ("a*s", "ass"),
            ("f*t", "fat"),
            ("g*n", "gun"),
            ("fu_ck", "fuck"),
            ("k.|.|.|", "kill"),
            ("h*te", "hate"),
            ("sh.it", "shit"),
            ("st_up_id", "stupid"),
            ("b.it.ch", "bitch"),
            ("f*a*t", "fat"),
            ("ha-te", "hate"),
            ("fu*ck", "fuck"),
            ("a5s", "ass"),
            ("5cumbag", "scumbag"),
        ] {
            assert_eq!(read(word).as_deref(), Some(want), "{word}");
        }
    }

    #[test]
    fn repeats_reduce_to_one_or_two_letters() {
        for (word, want) in [
            ("idiooot", "idiot"),
            ("kiiiill", "kill"),
            ("looooser", "loser"),
            ("sooooo", "so"),
            ("shoooot", "shoot"),
            ("k!!!lll", "kill"),
            ("1d1000t", "idiot"),
        ] {
            assert_eq!(read(word).as_deref(), Some(want), "{word}");
        }
    }

    #[test]
    fn numbers_codes_and_punctuated_words_are_not_words() {
        for word in [
            "1st",
            "7pm",
            "3rd",
            "4chan",
            "mp3",
            "ww3",
            "t34",
            "bo7",
            "covid19",
            "mp3s",
            "f35s",
            "t34s",
            "2*3",
            "5*3",
            "x_1",
            "2*x",
            "a11",
            "e.g",
            "u.s",
            "not.to",
            "snake_case",
            "7.62mm",
            "v1.2.3",
            "first100days",
            "1v1",
            "4x4",
            "kill",
            "idiot",
            "ab",
            "k*",
            "a*b",
            "c#",
            "r&d",
            "f(x)",
            "1.5x",
            "3*x",
            "pro-war",
            "e-mail",
            "anti-vaxx",
            "covid-19",
            "ak-47",
            "1v1",
            "2x4",
            "3v3",
            "5am",
            "4men",
            "top5",
            "10am",
            "31st",
            "15mph",
            "b17",
            "f47",
            "t34",
            "2nd",
            "co-op",
            "4ward",
            "ww3",
        ] {
            assert_eq!(read(word), None, "{word}");
        }
    }

    #[test]
    fn sources_point_at_the_characters_read() {
        let r = resolve(&known_words(), "k!11").unwrap();
        assert_eq!(r.text, "kill");
        assert_eq!(r.sources, [(0, 0), (1, 1), (2, 2), (3, 3)]);
        let r = resolve(&known_words(), "idiooot").unwrap();
        assert_eq!(r.text, "idiot");
        // The `o` covers the whole run.
        assert_eq!(r.sources, [(0, 0), (1, 1), (2, 2), (3, 5), (6, 6)]);
        let r = resolve(&known_words(), "f**k").unwrap();
        assert_eq!(r.sources, [(0, 0), (1, 1), (2, 2), (3, 3)]);
        let r = resolve(&known_words(), "k*i*l*l").unwrap();
        assert_eq!(r.sources, [(0, 0), (2, 2), (4, 4), (6, 6)]);
        let r = resolve(&known_words(), "f*k").unwrap();
        assert_eq!(r.sources, [(0, 0), (1, 1), (1, 1), (2, 2)]);
        assert_eq!(r.count, 2000);
    }

    #[test]
    fn no_listed_reading_is_none_and_long_words_are_bounded() {
        assert_eq!(read("qu!ck"), None);
        assert_eq!(read("x*y*z*w"), None);
        let long = "*a".repeat(20);
        assert_eq!(read(&long), None);
        let many = "a*".repeat(14) + "a";
        let start = std::time::Instant::now();
        assert_eq!(read(&many), None);
        assert!(start.elapsed().as_secs() < 5);
    }

    #[test]
    fn a_listed_word_is_never_read_as_another() {
        assert_eq!(read("5hut").as_deref(), Some("shut"));
        let mut words: Vec<(String, u32)> =
            known_words().iter().map(|(w, c)| (w.into(), c)).collect();
        words.push(("5hut".into(), 2));
        let listed = KnownWords::from_counts(words).unwrap();
        assert_eq!(resolve(&listed, "5hut"), None);
    }

    #[test]
    fn empty_word_list_resolves_nothing() {
        assert_eq!(resolve(&KnownWords::default(), "k!11"), None);
    }
}

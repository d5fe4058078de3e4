//! The analyzer stage that reads obfuscated words against the model's word
//! list: it finds the words the rules of [`deobfuscate`](super::deobfuscate)
//! left unknown, asks [`resolve`] for their reading and writes the reading in
//! their place. Runs between de-obfuscation and tokenising, only when the
//! model ships a [`KnownWords`].
//!
//! A **word** here is a run of [`resolve::is_word_char`] characters inside a
//! whitespace-delimited chunk, without masks and separators at its ends, nor
//! `!` and `@` at its end (`(st*pid!)` gives `st*pid`; `C#` gives `c`). Chunks holding a URL, an e-mail address or
//! an @mention are left alone. Most chunks are skipped after one look at
//! their characters: letters only, and no letter three times in a row.
//!
//! Each such word (three characters or more, a letter, and a non-letter or
//! a letter written three times) is resolved, and its reading replaces what
//! the rules wrote unless the rules wrote one listed word at least as
//! frequent: `k!11` (read by the rules as `k` and `11`), `idiooot`
//! (`idioot`), `f*ck` (`fck`, listed but rare) and `b|7ch` (`bltch`) take
//! their reading, `k1ll` keeps the rules' `kill`. A word without a reading
//! that holds `.`, `_`, `#` or separators is tried piece by piece
//! (`h*te-filled`). A word the rules joined with its neighbours (`st-u-p1d`
//! -> `stupid`) is left to the rules.
//!
//! Every letter of a reading carries the byte span of the characters it was
//! read from, so tokens still point at what the reader wrote (`k!11` spans its
//! four bytes, `idiooot` its seven).
//!
//! Answers are cached per stage (one per analyzer), up to [`CACHE_ENTRIES`]
//! words; the cache is emptied when full. It changes speed only, never the
//! tokens.

use super::deobfuscate::{is_original, is_verbatim};
use super::known_words::KnownWords;
use super::normalize::NormChar;
use super::resolve::{
    self, Reading, is_leet_symbol, is_mask, is_separator, is_splitting, is_word_char,
};
use super::tokenize::{RepeatRule, single_word};
use crate::features::hash::BuildStrHasher;
use std::collections::HashMap;

/// Words whose answers a [`Respeller`] keeps before emptying its cache.
pub const CACHE_ENTRIES: usize = 1 << 14;

/// A replacement of `clean[from..to]` by `replacement[at..at + len]`.
#[derive(Debug, Clone, Copy)]
struct Edit {
    from: usize,
    to: usize,
    at: usize,
    len: usize,
}

/// The stage's reusable state: the cache and buffers.
#[derive(Debug, Default, Clone)]
pub struct Respeller {
    cache: HashMap<Box<str>, Option<Reading>, BuildStrHasher>,
    word: String,
    rules_word: String,
    edits: Vec<Edit>,
    replacement: Vec<NormChar>,
    rebuilt: Vec<NormChar>,
}

impl Respeller {
    /// A stage with an empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resolves the obfuscated words of `raw` (the normalised characters
    /// de-obfuscation read from `text`) in `clean` (what it wrote).
    pub fn run(
        &mut self,
        known_words: &KnownWords,
        text: &str,
        raw: &[NormChar],
        clean: &mut Vec<NormChar>,
    ) {
        if known_words.is_empty() {
            return;
        }
        self.edits.clear();
        self.replacement.clear();
        let mut cursor = 0;
        let mut i = 0;
        while i < raw.len() {
            if raw[i].ch.is_whitespace() {
                i += 1;
                continue;
            }
            let (end, worth_a_look) = scan_chunk(raw, i);
            if worth_a_look && !is_verbatim(&raw[i..end]) {
                self.chunk(known_words, text, &raw[i..end], clean, &mut cursor);
            }
            i = end;
        }
        if !self.edits.is_empty() {
            self.apply(clean);
        }
    }

    /// Looks at every word of one chunk. A `.` between a lower-case and an
    /// upper-case letter of `text` ends a sentence (`idiot.You`), and two or
    /// more are an ellipsis (`do...it`): both separate words.
    fn chunk(
        &mut self,
        known_words: &KnownWords,
        text: &str,
        chunk: &[NormChar],
        clean: &[NormChar],
        cursor: &mut usize,
    ) {
        let in_word = |k: usize| {
            let c = &chunk[k];
            let dot = |j: usize| chunk.get(j).is_some_and(|c| c.ch == '.');
            let full_stop = c.ch == '.'
                && k > 0
                && k + 1 < chunk.len()
                && is_original(text, &chunk[k - 1], char::is_lowercase)
                && is_original(text, &chunk[k + 1], char::is_uppercase);
            let ellipsis = c.ch == '.' && ((k > 0 && dot(k - 1)) || dot(k + 1));
            is_word_char(c.ch) && !full_stop && !ellipsis
        };
        let mut k = 0;
        while k < chunk.len() {
            if !in_word(k) {
                k += 1;
                continue;
            }
            let start = k;
            while k < chunk.len() && in_word(k) {
                k += 1;
            }
            let (a, b) = trim(chunk, start, k);
            if a < b {
                self.word(known_words, &chunk[a..b], clean, cursor, true);
            }
        }
    }

    /// Resolves one word if its reading beats what the rules wrote,
    /// recording the edit; when it has no reading and holds `.`, `_`, `#`
    /// or separators, tries its pieces instead (`h*te-filled`).
    fn word(
        &mut self,
        known_words: &KnownWords,
        word: &[NormChar],
        clean: &[NormChar],
        cursor: &mut usize,
        split: bool,
    ) {
        if !might_be_obfuscated(word) {
            return;
        }
        // What the rules wrote for this word: the clean characters read from
        // its bytes (the rules drop and replace characters, never move them).
        let (first, last) = (word[0].start, word[word.len() - 1].end);
        while *cursor < clean.len() && clean[*cursor].start < first {
            *cursor += 1;
        }
        let from = *cursor;
        while *cursor < clean.len() && clean[*cursor].start < last {
            *cursor += 1;
        }
        let to = *cursor;
        if from == to {
            return;
        }
        let glued_before = from > 0 && clean[from - 1].ch.is_alphanumeric();
        let glued_after = to < clean.len() && clean[to].ch.is_alphanumeric();
        if (glued_before && clean[from].ch.is_alphanumeric())
            || (glued_after && clean[to - 1].ch.is_alphanumeric())
        {
            return;
        }
        let rules_count = single_word(&clean[from..to], RepeatRule::English, &mut self.rules_word)
            .then(|| known_words.count(&self.rules_word).unwrap_or(0));
        self.word.clear();
        self.word.extend(word.iter().map(|c| c.ch));
        let reading = match self.cache.get(self.word.as_str()) {
            Some(r) => r.as_ref(),
            None => {
                if self.cache.len() >= CACHE_ENTRIES {
                    self.cache.clear();
                }
                let r = resolve::resolve(known_words, &self.word);
                self.cache
                    .entry(self.word.as_str().into())
                    .or_insert(r)
                    .as_ref()
            }
        };
        let Some(reading) = reading else {
            // A listed word is the model's own, pieces and all (`e-mail`).
            if split && word.iter().any(|c| is_splitting(c.ch)) && !known_words.contains(&self.word)
            {
                *cursor = from;
                self.pieces(known_words, word, clean, cursor);
            }
            return;
        };
        // The rules' own word stays when it is as frequent (`kill` from
        // `k1ll`); not when it dropped a mask (`fck`, `as` from `a*s`) or cut a
        // drawn-out letter (`looser`), which the reading weighed already.
        let weighed =
            word.iter().any(|c| is_mask(c.ch) && c.ch != '@') || has_drawn_out_letter(word);
        let rules_win = !weighed && rules_count.is_some_and(|c| c >= reading.count);
        if rules_win || (rules_count.is_some() && reading.text == self.rules_word) {
            return;
        }
        let at = self.replacement.len();
        for (ch, &(f, l)) in reading.text.chars().zip(&reading.sources) {
            let (f, l) = (usize::from(f), usize::from(l));
            if let (Some(f), Some(l)) = (word.get(f), word.get(l)) {
                self.replacement.push(NormChar {
                    ch,
                    start: f.start,
                    end: l.end,
                });
            }
        }
        self.edits.push(Edit {
            from,
            to,
            at,
            len: self.replacement.len() - at,
        });
    }

    /// [`Respeller::word`] on each piece of `word` between `.`, `_`, `#` and
    /// separators.
    fn pieces(
        &mut self,
        known_words: &KnownWords,
        word: &[NormChar],
        clean: &[NormChar],
        cursor: &mut usize,
    ) {
        let mut k = 0;
        while k < word.len() {
            if is_splitting(word[k].ch) {
                k += 1;
                continue;
            }
            let start = k;
            while k < word.len() && !is_splitting(word[k].ch) {
                k += 1;
            }
            let (a, b) = trim(word, start, k);
            if a < b {
                self.word(known_words, &word[a..b], clean, cursor, false);
            }
        }
    }

    /// Writes the recorded edits into `clean`.
    fn apply(&mut self, clean: &mut Vec<NormChar>) {
        self.rebuilt.clear();
        let mut next = 0;
        for e in &self.edits {
            self.rebuilt.extend_from_slice(&clean[next..e.from]);
            self.rebuilt
                .extend_from_slice(&self.replacement[e.at..e.at + e.len]);
            next = e.to;
        }
        self.rebuilt.extend_from_slice(&clean[next..]);
        std::mem::swap(clean, &mut self.rebuilt);
    }
}

/// The end of the chunk starting at `i`, and whether any word in it might be
/// obfuscated: it has a digit, a non-ASCII letter, `$` or `|`, another leet
/// symbol, mask or separator before a word character, or a letter three
/// times in a row.
fn scan_chunk(raw: &[NormChar], i: usize) -> (usize, bool) {
    let mut j = i;
    let mut look = false;
    let mut run = 0;
    let mut last = '\0';
    while j < raw.len() && !raw[j].ch.is_whitespace() {
        let c = raw[j].ch;
        if c == last {
            run += 1;
        } else {
            run = 1;
            last = c;
        }
        if !c.is_ascii_lowercase() {
            look = look
                || c.is_alphanumeric()
                || matches!(c, '$' | '|')
                || ((is_leet_symbol(c) || is_mask(c) || is_separator(c))
                    && raw.get(j + 1).is_some_and(|d| is_word_char(d.ch)));
        } else if run >= 3 {
            look = true;
        }
        j += 1;
    }
    (j, look)
}

/// `word[a..b]` without masks and separators at its ends, nor `!` and `@`
/// at its end (`idiot!`); `|` and a leading `!` are leet (`k!||`, `!d!07`).
fn trim(word: &[NormChar], mut a: usize, mut b: usize) -> (usize, usize) {
    let edge = |c: char| (is_mask(c) && c != '@') || is_separator(c);
    while a < b && edge(word[a].ch) {
        a += 1;
    }
    while b > a && (edge(word[b - 1].ch) || matches!(word[b - 1].ch, '!' | '@')) {
        b -= 1;
    }
    (a, b)
}

/// A quick test before the full shape rules of [`resolve`]: three characters
/// or more, a letter, and something other than letters or a drawn-out letter.
fn might_be_obfuscated(word: &[NormChar]) -> bool {
    word.len() >= 3
        && word.iter().any(|c| c.ch.is_alphabetic())
        && (word.iter().any(|c| !c.ch.is_alphabetic()) || has_drawn_out_letter(word))
}

fn has_drawn_out_letter(word: &[NormChar]) -> bool {
    word.windows(3)
        .any(|w| w[0].ch.is_alphabetic() && w[0].ch == w[1].ch && w[1].ch == w[2].ch)
}

#[cfg(test)]
mod tests {
    use super::super::deobfuscate::Deobfuscator;
    use super::super::normalize::normalize_into;
    use super::super::tokenize::{Tokens, tokenize_with};
    use super::*;

    fn known_words() -> KnownWords {
        let words = [
            ("idiot", 850),
            ("stupid", 1800),
            ("fuck", 2000),
            ("fck", 28),
            ("kill", 930),
            ("loser", 250),
            ("looser", 6),
            ("you", 9000),
            ("are", 9000),
            ("an", 9000),
            ("s", 500),
            ("e", 100),
            ("g", 100),
            ("bitch", 700),
            ("bltch", 3),
            ("hate", 1200),
            ("filled", 300),
            ("do", 9000),
            ("it", 9000),
            ("dogshit", 20),
        ];
        KnownWords::from_counts(words.iter().map(|&(w, c)| (w.to_string(), c)).collect())
            .unwrap()
            .with_comments(90_000)
    }

    /// `(token, original text under its span)` for each token.
    fn toks<'a>(known_words: &KnownWords, text: &'a str) -> Vec<(String, &'a str)> {
        let mut raw = Vec::new();
        normalize_into(text, true, &mut raw);
        let mut clean = Vec::new();
        Deobfuscator::new().run(text, true, &mut raw, &mut clean);
        Respeller::new().run(known_words, text, &raw, &mut clean);
        let mut out = Tokens::new();
        tokenize_with(&clean, RepeatRule::English, &mut out);
        out.iter()
            .map(|(s, t)| (s.to_string(), &text[t.start as usize..t.end as usize]))
            .collect()
    }

    fn pairs<'a>(items: &[(&str, &'a str)]) -> Vec<(String, &'a str)> {
        items.iter().map(|(a, b)| (a.to_string(), *b)).collect()
    }

    #[test]
    fn unknown_words_take_their_reading_with_original_spans() {
        let words = known_words();
        assert_eq!(
            toks(&words, "you are an 1d!0t, k!11 st*pid's"),
            pairs(&[
                ("you", "you"),
                ("are", "are"),
                ("an", "an"),
                ("idiot", "1d!0t"),
                ("kill", "k!11"),
                ("stupids", "st*pid's"),
            ])
        );
        assert_eq!(
            toks(&words, "(idiooot!) F*CK looooser"),
            pairs(&[
                ("idiot", "idiooot"),
                ("fuck", "F*CK"),
                ("loser", "looooser")
            ])
        );
        // Non-ASCII source characters keep their byte spans.
        assert_eq!(toks(&words, "ｋ!１１"), pairs(&[("kill", "ｋ!１１")]));
    }

    #[test]
    fn known_readings_and_joined_words_stay() {
        let words = known_words();
        // The rules read `k1ll` and join `st-u-p1d`; nothing to resolve.
        assert_eq!(
            toks(&words, "k1ll st-u-p1d"),
            pairs(&[("kill", "k1ll"), ("stupid", "st-u-p1d")])
        );
        // Unlisted readings and verbatim chunks stay as the rules wrote them.
        assert_eq!(
            toks(&words, "qu!ck e.g. me@ex.com"),
            pairs(&[
                ("quick", "qu!ck"),
                ("e", "e"),
                ("g", "g"),
                ("me", "me"),
                ("ex", "ex"),
                ("com", "com"),
            ])
        );
    }

    #[test]
    fn rare_rule_readings_give_way_and_pieces_are_tried() {
        let words = known_words();
        // The rules read `b|7ch` as the listed but rare `bltch`.
        assert_eq!(toks(&words, "b|7ch"), pairs(&[("bitch", "b|7ch")]));
        // No reading for the whole word: its pieces are read.
        assert_eq!(
            toks(&words, "h*te-filled"),
            pairs(&[("hate", "h*te"), ("filled", "filled")])
        );
    }

    #[test]
    fn full_stops_and_ellipses_separate_words() {
        let words = known_words();
        assert_eq!(
            toks(&words, "do...it idiot.You"),
            pairs(&[
                ("do", "do"),
                ("it", "it"),
                ("idiot", "idiot"),
                ("you", "You")
            ])
        );
    }

    #[test]
    fn empty_word_list_changes_nothing() {
        let text = "k!11 st*pid idiooot";
        let with_empty = toks(&KnownWords::default(), text);
        let mut raw = Vec::new();
        normalize_into(text, true, &mut raw);
        let mut clean = Vec::new();
        Deobfuscator::new().run(text, true, &mut raw, &mut clean);
        let mut out = Tokens::new();
        tokenize_with(&clean, RepeatRule::English, &mut out);
        let without: Vec<String> = out.iter().map(|(s, _)| s.to_string()).collect();
        let with: Vec<String> = with_empty.into_iter().map(|t| t.0).collect();
        assert_eq!(with, without);
    }

    #[test]
    fn cache_gives_the_same_tokens() {
        let words = known_words();
        let mut stage = Respeller::new();
        let text = "k!11 k!11 st*pid k!11";
        let mut runs = Vec::new();
        for _ in 0..3 {
            let mut raw = Vec::new();
            normalize_into(text, true, &mut raw);
            let mut clean = Vec::new();
            Deobfuscator::new().run(text, true, &mut raw, &mut clean);
            stage.run(&words, text, &raw, &mut clean);
            runs.push(clean);
        }
        assert_eq!(runs[0], runs[1]);
        assert_eq!(runs[1], runs[2]);
        assert_eq!(stage.cache.len(), 2);
    }
}

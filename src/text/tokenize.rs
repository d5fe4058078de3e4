//! Splits normalised characters into tokens with byte spans in the original text.
//!
//! Token kinds:
//! - **words**: runs of letters and digits; apostrophes inside a word are
//!   dropped (`don't` -> `dont`) and runs of three or more identical letters
//!   are shortened as the [`RepeatRule`] says (`stuuupid` -> `stuupid` or
//!   `stupid`);
//! - **numbers**: digit runs, with `.`, `,` or `:` between digits
//!   (`7.62`, `4,000`, `10:30`), masked to [`NUMBER_TOKEN`];
//! - **URLs** (`http://`, `https://`, `www.`) masked to [`URL_TOKEN`];
//! - **@mentions** masked to [`MENTION_TOKEN`];
//! - **emoji**, one token each.
//!
//! Placeholders contain `_`, which the tokenizer never puts inside a word, so
//! a reader cannot forge them by typing them.

use super::normalize::NormChar;

/// Placeholder for a masked URL.
pub const URL_TOKEN: &str = "_url_";
/// Placeholder for a masked @mention.
pub const MENTION_TOKEN: &str = "_user_";
/// Placeholder for a masked number.
pub const NUMBER_TOKEN: &str = "_num_";

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A word (letters, possibly with digits).
    Word,
    /// A number, masked.
    Number,
    /// A URL, masked.
    Url,
    /// An @mention, masked.
    Mention,
    /// A single emoji or pictographic symbol.
    Emoji,
}

/// One token: its kind, where its text sits in the owning [`Tokens`] buffer,
/// and the byte span in the original comment it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// What the token is.
    pub kind: TokenKind,
    /// Start of the token's bytes in the original text.
    pub start: u32,
    /// End (exclusive) of the token's bytes in the original text.
    pub end: u32,
    text_start: u32,
    text_end: u32,
    surface_start: u32,
    surface_end: u32,
}

/// A reusable list of tokens whose texts share one buffer (no allocation per
/// token once the buffers have grown).
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    buf: String,
    tokens: Vec<Token>,
}

impl Tokens {
    /// Creates an empty token list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes all tokens, keeping the allocations.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.tokens.clear();
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// True when there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The tokens in text order.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The text of `token`, which must belong to this list.
    pub fn text(&self, token: &Token) -> &str {
        &self.buf[token.text_start as usize..token.text_end as usize]
    }

    /// The normalised text of `token` before stemming or other rewriting.
    pub fn surface(&self, token: &Token) -> &str {
        &self.buf[token.surface_start as usize..token.surface_end as usize]
    }

    /// Keeps the tokens for which `keep(text, token)` is true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Token) -> bool) {
        let buf = &self.buf;
        self.tokens
            .retain(|t| keep(&buf[t.text_start as usize..t.text_end as usize], t));
    }

    /// Iterates over `(text, token)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Token)> {
        self.tokens.iter().map(move |t| (self.text(t), t))
    }

    /// Appends a token whose text is `text`.
    pub fn push(&mut self, kind: TokenKind, text: &str, start: u32, end: u32) {
        let text_start = self.buf.len() as u32;
        self.buf.push_str(text);
        self.tokens.push(Token {
            kind,
            start,
            end,
            text_start,
            text_end: self.buf.len() as u32,
            surface_start: text_start,
            surface_end: self.buf.len() as u32,
        });
    }

    /// Replaces the text of token `index` with `text` (used by the stemmer).
    /// The surface text stays available through [`Tokens::surface`].
    pub fn set_text(&mut self, index: usize, text: &str) {
        let text_start = self.buf.len() as u32;
        self.buf.push_str(text);
        let token = &mut self.tokens[index];
        token.text_start = text_start;
        token.text_end = self.buf.len() as u32;
    }
}

/// How runs of three or more identical letters inside a word are shortened.
/// Digits are never shortened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RepeatRule {
    /// Every run is cut to two letters (`sooooo` -> `soo`, `stuuupid` ->
    /// `stuupid`).
    #[default]
    CutToTwo,
    /// Letters that rarely double in English (`a h i j q u v w y`) are cut
    /// to one, all others to two: `idiiiot` -> `idiot`, `stuuupid` -> `stupid`,
    /// `fuuuck` -> `fuck`, `ahhh` -> `ah`, but `killlll` -> `kill`, `sooooo` ->
    /// `soo`, `yesss` -> `yess`, `kkk` -> `kk`. Runs of exactly two are kept
    /// (`skiing`, `vacuum`), and so is the Roman numeral `iii` at the end of a
    /// word, cut to two as before (`wwiii` -> `wwii`, `viii` -> `vii`).
    English,
}

impl RepeatRule {
    /// The most letters `c` keeps from a run of three or more.
    fn keep(self, c: char) -> usize {
        match self {
            RepeatRule::CutToTwo => 2,
            RepeatRule::English if RARELY_DOUBLED.contains(&c) => 1,
            RepeatRule::English => 2,
        }
    }
}

/// True for letters that rarely appear doubled in English words (a drawn-out
/// run of them stands for one).
pub fn is_rarely_doubled(c: char) -> bool {
    RARELY_DOUBLED.contains(&c)
}

/// Letters that rarely appear doubled in English words.
/// (`k` and `x` are left out: `kkk` and `xxx` are words of their own.)
const RARELY_DOUBLED: [char; 9] = ['a', 'h', 'i', 'j', 'q', 'u', 'v', 'w', 'y'];

/// Appends the tokens of `chars` to `out` (which is not cleared), cutting
/// repeated letters with [`RepeatRule::CutToTwo`].
pub fn tokenize_into(chars: &[NormChar], out: &mut Tokens) {
    tokenize_with(chars, RepeatRule::CutToTwo, out);
}

/// Appends the tokens of `chars` to `out` (which is not cleared), shortening
/// runs of repeated letters by `repeats`.
pub fn tokenize_with(chars: &[NormChar], repeats: RepeatRule, out: &mut Tokens) {
    let mut word = String::new();
    let mut i = 0;
    let n = chars.len();
    while i < n {
        let c = chars[i].ch;
        let at_boundary = i == 0 || !is_word_char(chars[i - 1].ch);
        if at_boundary && starts_url(&chars[i..]) {
            let j = scan_until_space(chars, i);
            out.push(TokenKind::Url, URL_TOKEN, chars[i].start, chars[j - 1].end);
            i = j;
        } else if c == '@' && i + 1 < n && is_word_char(chars[i + 1].ch) && at_boundary {
            let j = scan_while(chars, i + 1, |c| is_word_char(c) || c == '.' || c == '_');
            out.push(
                TokenKind::Mention,
                MENTION_TOKEN,
                chars[i].start,
                chars[j - 1].end,
            );
            i = j;
        } else if c.is_alphanumeric() {
            let j = scan_word(chars, i, repeats, &mut word);
            let kind = if word.chars().all(|c| c.is_ascii_digit()) {
                TokenKind::Number
            } else {
                TokenKind::Word
            };
            let text = if kind == TokenKind::Number {
                NUMBER_TOKEN
            } else {
                word.as_str()
            };
            out.push(kind, text, chars[i].start, chars[j - 1].end);
            i = j;
        } else if is_emoji(c) {
            let mut buf = [0u8; 4];
            out.push(
                TokenKind::Emoji,
                c.encode_utf8(&mut buf),
                chars[i].start,
                chars[i].end,
            );
            i += 1;
        } else {
            i += 1;
        }
    }
}

/// The text of the one word token `chars` make, written into `word`
/// (cleared first); false when they make no token, several tokens or a
/// number.
pub fn single_word(chars: &[NormChar], repeats: RepeatRule, word: &mut String) -> bool {
    word.clear();
    if !chars.first().is_some_and(|c| c.ch.is_alphanumeric()) {
        return false;
    }
    scan_word(chars, 0, repeats, word) == chars.len() && !word.chars().all(|c| c.is_ascii_digit())
}

/// Reads a word or number starting at `i` into `word` (cleared first) and
/// returns the index just past it.
fn scan_word(chars: &[NormChar], i: usize, repeats: RepeatRule, word: &mut String) -> usize {
    word.clear();
    let n = chars.len();
    let mut j = i;
    let mut all_digits = true;
    let mut last = '\0';
    let mut run = 0;
    while j < n {
        let c = chars[j].ch;
        if c.is_alphanumeric() {
            all_digits &= c.is_ascii_digit();
            if c == last {
                run += 1;
            } else {
                run = 1;
                last = c;
            }
            if c.is_ascii_digit() {
                word.push(c);
            } else {
                if run <= 2 {
                    word.push(c);
                } else if run == 3 && repeats.keep(c) == 1 && !roman_iii(chars, j, word) {
                    // The second letter was kept while the run looked like a
                    // double; a third shows it is a drawn-out single letter.
                    word.pop();
                }
            }
            j += 1;
            continue;
        }
        let next_alnum = j + 1 < n && chars[j + 1].ch.is_alphanumeric();
        let joins_word = is_apostrophe(c) && !all_digits && next_alnum;
        let joins_number = matches!(c, '.' | ',' | ':')
            && all_digits
            && j + 1 < n
            && chars[j + 1].ch.is_ascii_digit();
        if joins_word || joins_number {
            j += 1;
            continue;
        }
        break;
    }
    j
}

/// True when the third `i` at `chars[j]` ends a Roman numeral: the run stops
/// there, at the end of the word, and before it (in `word`, which ends with the
/// first two) comes nothing or `v`, `w` or `x` (`iii`, `viii`, `wwiii`).
fn roman_iii(chars: &[NormChar], j: usize, word: &str) -> bool {
    let ends = chars.get(j + 1).is_none_or(|c| !c.ch.is_alphanumeric());
    let before = word.chars().rev().nth(2);
    chars[j].ch == 'i' && ends && before.is_none_or(|c| matches!(c, 'v' | 'w' | 'x'))
}

fn scan_while(chars: &[NormChar], mut j: usize, keep: impl Fn(char) -> bool) -> usize {
    while j < chars.len() && keep(chars[j].ch) {
        j += 1;
    }
    j
}

fn scan_until_space(chars: &[NormChar], i: usize) -> usize {
    scan_while(chars, i, |c| !c.is_whitespace())
}

fn starts_url(chars: &[NormChar]) -> bool {
    const PREFIXES: [&str; 3] = ["http://", "https://", "www."];
    PREFIXES
        .iter()
        .any(|p| p.chars().count() < chars.len() && p.chars().zip(chars).all(|(a, b)| a == b.ch))
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{02BC}')
}

/// True for emoji and other pictographic symbols that carry meaning on their own.
pub fn is_emoji(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2300..=0x23FF | 0x2B00..=0x2BFF | 0x3030 | 0x303D)
}

#[cfg(test)]
mod tests {
    use super::super::normalize::normalize_into;
    use super::*;

    fn toks(text: &str) -> Vec<(String, TokenKind, &str)> {
        let mut chars = Vec::new();
        normalize_into(text, true, &mut chars);
        let mut out = Tokens::new();
        tokenize_into(&chars, &mut out);
        out.iter()
            .map(|(s, t)| {
                (
                    s.to_string(),
                    t.kind,
                    &text[t.start as usize..t.end as usize],
                )
            })
            .collect()
    }

    fn texts(text: &str) -> Vec<String> {
        toks(text).into_iter().map(|t| t.0).collect()
    }

    #[test]
    fn words_have_original_spans() {
        let t = toks("Russia should use WMD, now!");
        assert_eq!(
            t.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
            ["russia", "should", "use", "wmd", "now"]
        );
        assert_eq!(t[3].2, "WMD");
        assert_eq!(t[4].2, "now");
    }

    #[test]
    fn non_ascii_words_keep_byte_offsets() {
        let text = "Ça va, Müller? ﻿Ｋｉｌｌ";
        let t = toks(text);
        assert_eq!(t[0].0, "ca");
        assert_eq!(t[0].2, "Ça");
        assert_eq!(t[2].0, "muller");
        assert_eq!(t[2].2, "Müller");
        assert_eq!(t[3].0, "kill");
        assert_eq!(t[3].2, "Ｋｉｌｌ");
    }

    #[test]
    fn emoji_are_tokens_with_spans() {
        let t = toks("nice 🔪🔪 ok");
        assert_eq!(t[1], ("🔪".to_string(), TokenKind::Emoji, "🔪"));
        assert_eq!(t[2].2, "🔪");
        assert_eq!(t[3].0, "ok");
    }

    #[test]
    fn urls_mentions_numbers_are_masked() {
        let t = toks("@bob_1 see https://x.org/a?b=1 or www.y.com: 4,000 died at 10:30");
        let kinds: Vec<_> = t.iter().map(|x| (x.0.as_str(), x.2)).collect();
        assert_eq!(kinds[0], (MENTION_TOKEN, "@bob_1"));
        assert_eq!(kinds[2], (URL_TOKEN, "https://x.org/a?b=1"));
        assert_eq!(kinds[4], (URL_TOKEN, "www.y.com:"));
        assert_eq!(kinds[5], (NUMBER_TOKEN, "4,000"));
        assert_eq!(kinds[8], (NUMBER_TOKEN, "10:30"));
    }

    #[test]
    fn email_is_not_a_mention() {
        assert_eq!(texts("me@example.com"), ["me", "example", "com"]);
    }

    #[test]
    fn apostrophes_join_and_repeats_collapse() {
        assert_eq!(
            texts("don't be sooooo stuuupid"),
            ["dont", "be", "soo", "stuupid"]
        );
        assert_eq!(texts("Putin’s war"), ["putins", "war"]);
        assert_eq!(texts("'quoted'"), ["quoted"]);
    }

    #[test]
    fn placeholders_cannot_be_forged() {
        assert_eq!(texts("_url_ _user_"), ["url", "user"]);
    }

    #[test]
    fn mixed_letters_digits_stay_words() {
        let t = toks("the 1st k1ll 7.62mm");
        assert_eq!(t[1].0, "1st");
        assert_eq!(t[1].1, TokenKind::Word);
        assert_eq!(t[2].0, "k1ll");
    }
}

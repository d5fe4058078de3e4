//! The analyzer: published comment text in, stemmed tokens with original byte
//! spans out.
//!
//! Stages, one file each, chained here in one place:
//! [`normalize`] (entities, invisible characters, NFKD, case, homoglyphs) ->
//! [`deobfuscate`] (letter spacing, separators inside words, leetspeak; optional) ->
//! [`respell`] (obfuscated words the rules leave unknown, read against the
//! model's [`KnownWords`] by [`resolve`]; when the model has one) ->
//! [`tokenize`] (words, numbers, URLs, mentions, emoji, with spans) ->
//! [`stem`] (Snowball English, cached) -> optional negation marking.
//!
//! Before all of it, a comment written in HTML can have its tags removed
//! ([`html`]), as the server does for Coral and for Perspective's `HTML`
//! comments and the command line does with `--html`.

pub mod chunks;
pub mod deobfuscate;
pub mod html;
pub mod identity;
pub mod known_words;
pub mod normalize;
pub mod resolve;
pub mod respell;
pub mod stem;
pub mod tokenize;

use serde::{Deserialize, Serialize};

pub use known_words::KnownWords;
pub use normalize::NormChar;
pub use tokenize::{RepeatRule, Token, TokenKind, Tokens};

/// Settings that decide which tokens a text produces. Stored in every model
/// file so that scoring reproduces training exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzerConfig {
    /// Fold Cyrillic/Greek look-alike letters to Latin.
    pub fold_confusables: bool,
    /// Apply the Snowball stemmer of `language` to words.
    pub stem: bool,
    /// Mark words after a negation (`not`, `never`, `don't` ...) up to the next
    /// punctuation with a `neg_` prefix.
    pub negation: bool,
    /// Analyse at most this many bytes of a comment; the rest is ignored (and
    /// reported as truncated).
    pub max_bytes: usize,
    /// Undo obfuscation before tokenising (letter spacing, separators inside
    /// words, leetspeak, more invisible and look-alike characters; see
    /// [`deobfuscate`]) and cut drawn-out letters with [`RepeatRule::English`]
    /// instead of [`RepeatRule::CutToTwo`].
    pub deobfuscate: bool,
    /// The model's word list: with it (and `deobfuscate`), obfuscated words
    /// the rules leave unknown are read against it ([`respell`]). Built by
    /// `train`; stored in its own section of the model file, so
    /// it is not part of this struct's serde form (and not of `info --json`).
    #[serde(skip)]
    pub known_words: Option<KnownWords>,
    /// Words naming identity groups, left out of the tokens (see
    /// [`identity`]); stored in its own section of the model file, so not
    /// part of this struct's serde form.
    #[serde(skip)]
    pub identity_mask: Option<std::sync::Arc<identity::IdentityMask>>,
    /// The language of the comments (its stemmer). English in the main
    /// model; a language model's is set from its section of the model
    /// file, so not part of this struct's serde form.
    #[serde(skip)]
    pub language: crate::language::Language,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        Self {
            fold_confusables: true,
            stem: true,
            negation: false,
            max_bytes: 20_000,
            deobfuscate: true,
            known_words: None,
            identity_mask: None,
            language: crate::language::Language::En,
        }
    }
}

/// Turns comment text into tokens, reusing its buffers between calls.
#[derive(Debug)]
pub struct Analyzer {
    config: AnalyzerConfig,
    chars: Vec<NormChar>,
    /// De-obfuscated characters (when `config.deobfuscate`).
    clean: Vec<NormChar>,
    deobfuscator: deobfuscate::Deobfuscator,
    respeller: respell::Respeller,
    stemmer: stem::CachedStemmer,
    scratch: String,
}

/// What [`Analyzer::analyze`] did besides producing tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AnalysisInfo {
    /// The text was longer than `max_bytes` and only its start was analysed.
    pub truncated: bool,
}

impl Analyzer {
    /// Creates an analyzer with the given settings.
    pub fn new(config: AnalyzerConfig) -> Self {
        Self {
            stemmer: stem::CachedStemmer::for_language(config.language),
            config,
            chars: Vec::new(),
            clean: Vec::new(),
            deobfuscator: deobfuscate::Deobfuscator::new(),
            respeller: respell::Respeller::new(),
            scratch: String::new(),
        }
    }

    /// The analyzer's settings.
    pub fn config(&self) -> &AnalyzerConfig {
        &self.config
    }

    /// Analyses `text` into `out` (cleared first).
    pub fn analyze(&mut self, text: &str, out: &mut Tokens) -> AnalysisInfo {
        out.clear();
        let (text, truncated) = truncate_at_char(text, self.config.max_bytes);
        normalize::normalize_into(text, self.config.fold_confusables, &mut self.chars);
        if self.config.deobfuscate {
            self.deobfuscator.run(
                text,
                self.config.fold_confusables,
                &mut self.chars,
                &mut self.clean,
            );
            if let Some(known_words) = &self.config.known_words {
                self.respeller
                    .run(known_words, text, &self.chars, &mut self.clean);
            }
            tokenize::tokenize_with(&self.clean, RepeatRule::English, out);
        } else {
            tokenize::tokenize_into(&self.chars, out);
        }
        if self.config.negation {
            mark_negation(&self.chars, out, &mut self.scratch);
        }
        if let Some(mask) = self.config.identity_mask.clone() {
            self.mask_identities(&mask, out);
        }
        if self.config.stem {
            for i in 0..out.len() {
                let token = out.tokens()[i];
                if token.kind != TokenKind::Word {
                    continue;
                }
                self.scratch.clear();
                let word = out.text(&token);
                let (prefix, bare) = match word.strip_prefix(NEGATION_PREFIX) {
                    Some(rest) => (NEGATION_PREFIX, rest),
                    None => ("", word),
                };
                self.scratch.push_str(prefix);
                self.scratch.push_str(self.stemmer.stem(bare));
                if self.scratch != out.text(&token) {
                    let stemmed = std::mem::take(&mut self.scratch);
                    out.set_text(i, &stemmed);
                    self.scratch = stemmed;
                }
            }
        }
        AnalysisInfo { truncated }
    }
}

impl Analyzer {
    /// Leaves out every word whose stem `mask` holds, before stemming and
    /// feature extraction.
    fn mask_identities(&mut self, mask: &identity::IdentityMask, out: &mut Tokens) {
        let stemmer = &mut self.stemmer;
        out.retain(|word, token| {
            if token.kind != TokenKind::Word {
                return true;
            }
            let bare = word.strip_prefix(NEGATION_PREFIX).unwrap_or(word);
            !mask.masks(stemmer.stem(bare))
        });
    }
}

/// Prefix given to words inside a negation scope.
pub const NEGATION_PREFIX: &str = "neg_";

const NEGATORS: [&str; 12] = [
    "not", "no", "never", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "cant", "wont",
    "shouldnt",
];

/// Prefixes words that follow a negator, up to the next clause punctuation.
fn mark_negation(chars: &[NormChar], tokens: &mut Tokens, scratch: &mut String) {
    let mut in_scope = false;
    let mut prev_end = 0u32;
    // Index into `chars` of the first character at or after `prev_end`: tokens
    // come in text order, so the scan never goes back (linear in the text).
    let mut cursor = 0usize;
    for i in 0..tokens.len() {
        let token = tokens.tokens()[i];
        while cursor < chars.len() && chars[cursor].start < prev_end {
            cursor += 1;
        }
        if in_scope && crosses_clause_break(&chars[cursor..], token.start) {
            in_scope = false;
        }
        prev_end = token.end;
        if token.kind != TokenKind::Word {
            continue;
        }
        let word = tokens.text(&token);
        if NEGATORS.contains(&word) {
            in_scope = true;
            continue;
        }
        if in_scope {
            scratch.clear();
            scratch.push_str(NEGATION_PREFIX);
            scratch.push_str(word);
            let marked = std::mem::take(scratch);
            tokens.set_text(i, &marked);
            *scratch = marked;
        }
    }
}

/// True when the characters of `chars` (which start after the previous token)
/// that come before byte `to` hold `.,;:!?`.
fn crosses_clause_break(chars: &[NormChar], to: u32) -> bool {
    chars
        .iter()
        .take_while(|c| c.start < to)
        .any(|c| matches!(c.ch, '.' | ',' | ';' | ':' | '!' | '?'))
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub fn truncate_at_char(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyze(config: AnalyzerConfig, text: &str) -> Vec<String> {
        let mut a = Analyzer::new(config);
        let mut t = Tokens::new();
        a.analyze(text, &mut t);
        t.iter().map(|(s, _)| s.to_string()).collect()
    }

    #[test]
    fn stems_and_keeps_surface_and_spans() {
        let mut a = Analyzer::new(AnalyzerConfig::default());
        let mut t = Tokens::new();
        let text = "Bombing the Villages 💣";
        a.analyze(text, &mut t);
        let got: Vec<_> = t
            .iter()
            .map(|(s, tok)| {
                (
                    s.to_string(),
                    t.surface(tok).to_string(),
                    &text[tok.start as usize..tok.end as usize],
                )
            })
            .collect();
        assert_eq!(got[0], ("bomb".into(), "bombing".into(), "Bombing"));
        assert_eq!(got[2], ("villag".into(), "villages".into(), "Villages"));
        assert_eq!(got[3], ("💣".into(), "💣".into(), "💣"));
    }

    #[test]
    fn negation_marks_until_punctuation() {
        let config = AnalyzerConfig {
            negation: true,
            ..AnalyzerConfig::default()
        };
        assert_eq!(
            analyze(config, "I don't hate them, I like them"),
            ["i", "dont", "neg_hate", "neg_them", "i", "like", "them"]
        );
    }

    #[test]
    fn deobfuscation_reaches_the_stemmer_with_spans() {
        let mut a = Analyzer::new(AnalyzerConfig::default());
        let mut t = Tokens::new();
        let text = "Ｋ i l l the 1d10ts, they are s-t-u-p-i-d";
        a.analyze(text, &mut t);
        let got: Vec<_> = t
            .iter()
            .map(|(s, tok)| (s, &text[tok.start as usize..tok.end as usize]))
            .collect();
        assert_eq!(
            got,
            [
                ("kill", "Ｋ i l l"),
                ("the", "the"),
                ("idiot", "1d10ts"),
                ("they", "they"),
                ("are", "are"),
                ("stupid", "s-t-u-p-i-d"),
            ]
        );
    }

    #[test]
    fn deobfuscation_off_is_the_old_analysis() {
        let config = AnalyzerConfig {
            deobfuscate: false,
            stem: false,
            ..AnalyzerConfig::default()
        };
        assert_eq!(
            analyze(config, "k.i.l.l k1ll stuuupid \u{1d0b}"),
            ["k", "i", "l", "l", "k1ll", "stuupid", "\u{1d0b}"]
        );
    }

    #[test]
    fn config_round_trips_in_json_with_named_fields() {
        let json = serde_json::to_value(AnalyzerConfig::default()).unwrap();
        assert_eq!(json["deobfuscate"], true);
        assert_eq!(json["max_bytes"], 20_000);
        let back: AnalyzerConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, AnalyzerConfig::default());
    }

    #[test]
    fn negation_scan_is_linear_in_long_texts() {
        let config = AnalyzerConfig {
            negation: true,
            max_bytes: usize::MAX,
            ..AnalyzerConfig::default()
        };
        let text = "not a b ".repeat(40_000);
        let start = std::time::Instant::now();
        assert_eq!(analyze(config, &text).len(), 120_000);
        assert!(start.elapsed().as_secs() < 20);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let (s, cut) = truncate_at_char("héllo", 2);
        assert_eq!((s, cut), ("h", true));
        let (s, cut) = truncate_at_char("hi", 2);
        assert_eq!((s, cut), ("hi", false));
        let config = AnalyzerConfig {
            max_bytes: 5,
            ..AnalyzerConfig::default()
        };
        assert_eq!(analyze(config, "kill them all"), ["kill"]);
    }
}

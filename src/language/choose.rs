//! Which language's model scores a comment: the rule that combines the
//! detected language with the languages a site declares.
//!
//! 1. A language the caller fixes (`--language`) is used for every comment.
//! 2. Otherwise the detector reads the comment, with each declared language
//!    moderate has a model for given a head start of [`DECLARED_PRIOR`] nats:
//!    a site's locale is evidence, but not proof (Coral declares `en` for
//!    every locale it does not know, and readers write in other languages).
//! 3. A comment too short to tell (fewer than
//!    [`MIN_WORDS`](super::detect::MIN_WORDS) words), or whose best language
//!    leads the next by less than [`MIN_MARGIN`] nats per word (markup,
//!    names, gibberish), takes the first declared language moderate has a
//!    model for, or else English.
//! 4. A comment the general detector (whatlang, asked when the answer is
//!    not a sure English) is sure is in a language moderate has no model
//!    for (Italian, say) is not scored with another language's model: every
//!    label is unavailable, and the answer says so.

use super::{Detection, Language, LanguageDetector};

/// The head start, in nats, of a declared language in detection.
pub const DECLARED_PRIOR: f32 = 3.0;

/// The least lead, in nats per word read, of the detected language over the
/// next for detection to decide. On the project's dev sets of comments of
/// three words or more, 0.5 leaves 12 of about 28,800 rightly detected
/// comments to the fallback and catches 16 of 143 wrongly detected ones
/// (`<img src=x onerror=alert(1)>` reads as French at 0.28).
pub const MIN_MARGIN: f32 = 0.5;

/// How the language of a comment was decided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum How {
    /// Detected from the comment's words.
    Detected,
    /// Too short to tell: the declared language.
    Declared,
    /// Too short to tell and nothing declared: English.
    #[default]
    Default,
    /// Fixed by the caller.
    Fixed,
}

impl How {
    /// The name used in output.
    pub fn name(self) -> &'static str {
        match self {
            How::Detected => "detected",
            How::Declared => "declared",
            How::Default => "default",
            How::Fixed => "fixed",
        }
    }
}

/// The language a comment is scored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// The language's code (`de`, or `it` for a language with no model).
    pub code: &'static str,
    /// The language, when moderate knows it (a model may still lack it).
    pub language: Option<Language>,
    /// How it was decided.
    pub how: How,
}

impl Default for Choice {
    fn default() -> Self {
        Choice::english(How::Default)
    }
}

impl Choice {
    /// English, decided `how`.
    pub fn english(how: How) -> Choice {
        Choice {
            code: "en",
            language: Some(Language::En),
            how,
        }
    }

    /// A fixed language.
    pub fn fixed(language: Language) -> Choice {
        Choice {
            code: language.code(),
            language: Some(language),
            how: How::Fixed,
        }
    }
}

/// The language a comment is scored in, by the rule of this module.
/// `declared` are the site's language codes (any case, BCP-47 or ISO);
/// `available` the languages the model has.
pub fn choose(
    detector: &LanguageDetector,
    text: &str,
    declared: &[String],
    available: &[Language],
) -> (Choice, Detection) {
    let declared: Vec<Language> = declared
        .iter()
        .filter_map(|d| Language::from_code(d))
        .filter(|l| available.contains(l))
        .collect();
    let prior: Vec<(Language, f32)> = declared.iter().map(|&l| (l, DECLARED_PRIOR)).collect();
    let detection = detector.detect(text, &prior);
    let other_language = detection.language.is_none() && !detection.too_short();
    if !other_language && (detection.too_short() || detection.margin < MIN_MARGIN) {
        let choice = match declared.first() {
            Some(&l) => Choice {
                code: l.code(),
                language: Some(l),
                how: How::Declared,
            },
            None => Choice::english(How::Default),
        };
        return (choice, detection);
    }
    let choice = Choice {
        code: detection.code,
        language: detection.language,
        how: How::Detected,
    };
    (choice, detection)
}

//! The languages moderate has models for, and which one a comment is in.
//!
//! [`Language`] names a language with a word model; [`detect`] holds the
//! detector that tells a comment's language from its words, and
//! [`choose`] the documented rule that combines what was detected with
//! what a site declared.

pub mod accuracy;
pub mod choose;
pub mod detect;

use serde::{Deserialize, Serialize};

pub use choose::{Choice, How, choose};
pub use detect::{Detection, LanguageDetector};

/// A language moderate can have a word model for: its stemmer, and the
/// name of its model in a model file.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Language {
    /// English: the model's main language, with the second stage.
    #[default]
    En,
    /// German.
    De,
    /// Spanish.
    Es,
    /// French.
    Fr,
    /// Portuguese.
    Pt,
}

impl Language {
    /// Every language, English first.
    pub const ALL: [Language; 5] = [
        Language::En,
        Language::De,
        Language::Es,
        Language::Fr,
        Language::Pt,
    ];

    /// The ISO 639-1 code (`en`, `de`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::De => "de",
            Language::Es => "es",
            Language::Fr => "fr",
            Language::Pt => "pt",
        }
    }

    /// The language's English name.
    pub fn name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::De => "German",
            Language::Es => "Spanish",
            Language::Fr => "French",
            Language::Pt => "Portuguese",
        }
    }

    /// The language of an ISO 639-1 or BCP-47 code (`de`, `pt-BR`), if
    /// moderate knows it.
    pub fn from_code(code: &str) -> Option<Language> {
        let primary = primary_subtag(code);
        Language::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// The Snowball stemmer for the language.
    pub fn stemmer(self) -> rust_stemmers::Algorithm {
        use rust_stemmers::Algorithm;
        match self {
            Language::En => Algorithm::English,
            Language::De => Algorithm::German,
            Language::Es => Algorithm::Spanish,
            Language::Fr => Algorithm::French,
            Language::Pt => Algorithm::Portuguese,
        }
    }

    /// A stable one-byte id (for the model file).
    pub fn id(self) -> u8 {
        match self {
            Language::En => 0,
            Language::De => 1,
            Language::Es => 2,
            Language::Fr => 3,
            Language::Pt => 4,
        }
    }

    /// The language of an [`id`](Language::id).
    pub fn from_id(id: u8) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.id() == id)
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The primary language subtag of an ISO or BCP-47 code, lower case:
/// `en-US` and `EN_us` give `en`.
pub fn primary_subtag(code: &str) -> String {
    code.trim()
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Two-letter codes for the general detector's languages (three letters
/// where ISO 639-1 has none, as BCP-47 allows).
pub fn whatlang_code(lang: whatlang::Lang) -> &'static str {
    use whatlang::Lang::*;
    match lang {
        Epo => "eo",
        Eng => "en",
        Rus => "ru",
        Cmn => "zh",
        Spa => "es",
        Por => "pt",
        Ita => "it",
        Ben => "bn",
        Fra => "fr",
        Deu => "de",
        Ukr => "uk",
        Kat => "ka",
        Ara => "ar",
        Hin => "hi",
        Jpn => "ja",
        Heb => "he",
        Yid => "yi",
        Pol => "pl",
        Amh => "am",
        Jav => "jv",
        Kor => "ko",
        Nob => "nb",
        Dan => "da",
        Swe => "sv",
        Fin => "fi",
        Tur => "tr",
        Nld => "nl",
        Hun => "hu",
        Ces => "cs",
        Ell => "el",
        Bul => "bg",
        Bel => "be",
        Mar => "mr",
        Kan => "kn",
        Ron => "ro",
        Slv => "sl",
        Hrv => "hr",
        Srp => "sr",
        Mkd => "mk",
        Lit => "lt",
        Lav => "lv",
        Est => "et",
        Tam => "ta",
        Vie => "vi",
        Urd => "ur",
        Tha => "th",
        Guj => "gu",
        Uzb => "uz",
        Pan => "pa",
        Aze => "az",
        Ind => "id",
        Tel => "te",
        Pes => "fa",
        Mal => "ml",
        Ori => "or",
        Mya => "my",
        Nep => "ne",
        Sin => "si",
        Khm => "km",
        Tuk => "tk",
        Aka => "ak",
        Zul => "zu",
        Sna => "sn",
        Afr => "af",
        Lat => "la",
        Slk => "sk",
        Cat => "ca",
        Tgl => "tl",
        Hye => "hy",
        Cym => "cy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for l in Language::ALL {
            assert_eq!(Language::from_code(l.code()), Some(l));
            assert_eq!(Language::from_id(l.id()), Some(l));
        }
        assert_eq!(Language::from_code("pt-BR"), Some(Language::Pt));
        assert_eq!(Language::from_code(" DE_at "), Some(Language::De));
        assert_eq!(Language::from_code("it"), None);
        assert_eq!(primary_subtag(" pt_BR "), "pt");
    }
}

//! Request languages: which ones are scored, and what the text looks like.
//!
//! The model was trained on English. A request that declares its languages
//! (Coral sends the site's locale: `en`, `es`, `fr`, `de` or `pt`) is scored
//! when at least one of them is in the accepted list (default `en`), as
//! Perspective checks "all of them that are supported"; otherwise it is
//! refused with `LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE`, as Perspective refused
//! languages an attribute did not support. A request without languages is
//! scored as English whatever the detector says, because a wrong guess on a
//! short comment must not turn into an error (which Coral and Discourse treat
//! as "let it through"). `detectedLanguages` reports the detector's guess, or
//! `en` when the text is too short or mixed to tell.

/// Which declared languages are scored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LanguagePolicy {
    /// Score a request when one of its declared languages is in this list
    /// (primary subtags, lower case).
    Accept(Vec<String>),
    /// Score every request, whatever languages it declares.
    Any,
}

impl Default for LanguagePolicy {
    fn default() -> Self {
        LanguagePolicy::Accept(vec!["en".to_string()])
    }
}

impl LanguagePolicy {
    /// Parses `--languages`: `any`, or a comma-separated list such as `en,es`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim().eq_ignore_ascii_case("any") {
            return Ok(LanguagePolicy::Any);
        }
        let list: Vec<String> = s
            .split(',')
            .map(primary_subtag)
            .filter(|l| !l.is_empty())
            .collect();
        if list.is_empty() {
            return Err("expected `any` or a list of language codes such as `en,es`".into());
        }
        if let Some(bad) = list
            .iter()
            .find(|l| !l.chars().all(|c| c.is_ascii_alphabetic()) || l.len() > 8)
        {
            return Err(format!("`{bad}` is not a language code"));
        }
        Ok(LanguagePolicy::Accept(list))
    }

    /// `Ok(())` when a request declaring `declared` is scored; otherwise the
    /// declared languages, for the error message. An empty declaration is
    /// always scored (as English).
    pub fn admits(&self, declared: &[String]) -> Result<(), String> {
        match self {
            _ if declared.is_empty() => Ok(()),
            LanguagePolicy::Any => Ok(()),
            LanguagePolicy::Accept(list) => {
                if declared.iter().any(|d| list.contains(&primary_subtag(d))) {
                    Ok(())
                } else {
                    Err(declared.join(", "))
                }
            }
        }
    }

    /// How the policy reads in messages and on `/v1/model`.
    pub fn describe(&self) -> String {
        match self {
            LanguagePolicy::Any => "any".to_string(),
            LanguagePolicy::Accept(l) => l.join(","),
        }
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

/// The language of `text` as a BCP-47 primary subtag: the detector's guess
/// when it is reliable, else `en` (the model's language).
pub fn detect(text: &str) -> &'static str {
    // The detector's cost grows with the text; the start tells enough.
    let sample = crate::text::truncate_at_char(text, 2_000).0;
    match whatlang::detect(sample) {
        Some(info) if info.is_reliable() => iso_639_1(info.lang()),
        _ => "en",
    }
}

/// Two-letter codes for the detector's languages (three letters where
/// ISO 639-1 has none, as BCP-47 allows).
fn iso_639_1(lang: whatlang::Lang) -> &'static str {
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
    fn policy_parses_and_admits() {
        let p = LanguagePolicy::default();
        assert_eq!(p.admits(&[]), Ok(()));
        assert_eq!(p.admits(&["en".into()]), Ok(()));
        assert_eq!(p.admits(&["en-US".into()]), Ok(()));
        assert_eq!(p.admits(&["es".into(), "EN".into()]), Ok(()));
        assert_eq!(p.admits(&["es".into()]), Err("es".to_string()));
        assert_eq!(
            p.admits(&["pt-BR".into(), "fr".into()]),
            Err("pt-BR, fr".to_string())
        );
        let p = LanguagePolicy::parse("en, ES-mx").unwrap();
        assert_eq!(p, LanguagePolicy::Accept(vec!["en".into(), "es".into()]));
        assert_eq!(p.admits(&["es".into()]), Ok(()));
        assert_eq!(p.describe(), "en,es");
        let any = LanguagePolicy::parse("ANY").unwrap();
        assert_eq!(any.admits(&["xx".into()]), Ok(()));
        assert!(LanguagePolicy::parse(" , ").is_err());
        assert!(LanguagePolicy::parse("en,e1").is_err());
    }

    #[test]
    fn detection_guesses_or_falls_back_to_english() {
        assert_eq!(
            detect("The shelling of the old town has killed dozens of civilians this week."),
            "en"
        );
        assert_eq!(
            detect(
                "El bombardeo del casco antiguo ha matado a decenas de civiles esta semana, \
                 según los periodistas que siguen en la ciudad."
            ),
            "es"
        );
        assert_eq!(detect("ok"), "en");
        assert_eq!(detect(""), "en");
        assert_eq!(primary_subtag(" pt_BR "), "pt");
    }
}

//! Request languages: which ones the server scores.
//!
//! Each comment is scored by the model of its language, chosen by the rule
//! of [`crate::language::choose`] (detected from its words, with the
//! request's declared `languages` as a head start, and as the answer for a
//! comment too short to tell). This module decides which requests are
//! admitted at all:
//!
//! - by default (`model`), a request that declares languages is scored when
//!   one of them has a model; otherwise it is refused with
//!   `LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE`, as Perspective refused
//!   languages an attribute did not support;
//! - `--languages en,de` narrows that to a list (for example to leave out a
//!   model whose training data's licence does not fit the site): a comment
//!   detected in a language outside it is refused too;
//! - `--languages any` admits every declaration (the comment's detected
//!   language still decides, and a language with no model is refused).
//!
//! A request without languages is always admitted; its comment's language
//! is detected. A comment in a language with no model is never scored with
//! another language's model.

use crate::language::{Language, primary_subtag};

/// Which declared languages are scored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LanguagePolicy {
    /// Every language the model has a model for.
    #[default]
    Model,
    /// These languages (primary subtags, lower case), where the model has
    /// them.
    Accept(Vec<String>),
    /// Every declaration is admitted.
    Any,
}

impl LanguagePolicy {
    /// Parses `--languages`: `model`, `any`, or a comma-separated list such
    /// as `en,de`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim().eq_ignore_ascii_case("any") {
            return Ok(LanguagePolicy::Any);
        }
        if s.trim().eq_ignore_ascii_case("model") {
            return Ok(LanguagePolicy::Model);
        }
        let list: Vec<String> = s
            .split(',')
            .map(primary_subtag)
            .filter(|l| !l.is_empty())
            .collect();
        if list.is_empty() {
            return Err(
                "expected `model`, `any` or a list of language codes such as `en,de`".into(),
            );
        }
        if let Some(bad) = list
            .iter()
            .find(|l| !l.chars().all(|c| c.is_ascii_alphabetic()) || l.len() > 8)
        {
            return Err(format!("`{bad}` is not a language code"));
        }
        Ok(LanguagePolicy::Accept(list))
    }

    /// `Ok(())` when a request declaring `declared` is scored, given the
    /// languages the model has; otherwise the declared languages, for the
    /// error message. An empty declaration is always scored.
    pub fn admits(&self, declared: &[String], available: &[Language]) -> Result<(), String> {
        if declared.is_empty() || *self == LanguagePolicy::Any {
            return Ok(());
        }
        let scored = |code: &str| {
            Language::from_code(code).is_some_and(|l| available.contains(&l)) && self.allows(code)
        };
        if declared.iter().any(|d| scored(d)) {
            Ok(())
        } else {
            Err(declared.join(", "))
        }
    }

    /// Whether comments in language `code` may be scored.
    pub fn allows(&self, code: &str) -> bool {
        match self {
            LanguagePolicy::Model | LanguagePolicy::Any => true,
            LanguagePolicy::Accept(list) => list.contains(&primary_subtag(code)),
        }
    }

    /// How the policy reads in messages and on `/v1/model`.
    pub fn describe(&self) -> String {
        match self {
            LanguagePolicy::Model => "model".to_string(),
            LanguagePolicy::Any => "any".to_string(),
            LanguagePolicy::Accept(l) => l.join(","),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_parses_and_admits() {
        let en_only = [Language::En];
        let five = Language::ALL;
        let p = LanguagePolicy::default();
        assert_eq!(p.admits(&[], &en_only), Ok(()));
        assert_eq!(p.admits(&["en-US".into()], &en_only), Ok(()));
        assert_eq!(p.admits(&["es".into(), "EN".into()], &en_only), Ok(()));
        assert_eq!(p.admits(&["es".into()], &en_only), Err("es".to_string()));
        assert_eq!(p.admits(&["es".into()], &five), Ok(()));
        assert_eq!(p.admits(&["it".into()], &five), Err("it".to_string()));
        let p = LanguagePolicy::parse("en, DE-at").unwrap();
        assert_eq!(p, LanguagePolicy::Accept(vec!["en".into(), "de".into()]));
        assert_eq!(p.admits(&["de".into()], &five), Ok(()));
        assert_eq!(p.admits(&["es".into()], &five), Err("es".to_string()));
        assert!(p.allows("de") && !p.allows("es"));
        assert_eq!(p.describe(), "en,de");
        let any = LanguagePolicy::parse("ANY").unwrap();
        assert_eq!(any.admits(&["xx".into()], &en_only), Ok(()));
        assert_eq!(
            LanguagePolicy::parse("model").unwrap(),
            LanguagePolicy::Model
        );
        assert!(LanguagePolicy::parse(" , ").is_err());
        assert!(LanguagePolicy::parse("en,e1").is_err());
    }
}

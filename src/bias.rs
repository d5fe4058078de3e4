//! Identity-term bias report (Borkan et al. 2019, "Nuanced Metrics for
//! Measuring Unintended Bias with Real Data for Text Classification").
//!
//! For each identity group and label: the Subgroup AUC (ranking within
//! comments that mention the group), the BPSN AUC (background positives vs
//! subgroup negatives: low when innocent mentions of the group score high)
//! and the BNSP AUC (background negatives vs subgroup positives: low when
//! abuse of the group scores low), plus each metric's generalised power mean
//! over groups with p = -5, which weighs the worst groups most.

use crate::error::{Error, Result};
use crate::language::Language;
use crate::metrics::{BiasAucs, bias_aucs, power_mean};
use crate::text::stem::CachedStemmer;
use crate::text::{Analyzer, AnalyzerConfig, TokenKind, Tokens};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The identity groups shipped with moderate (`data/identity_terms.txt`).
pub const DEFAULT_TERMS: &str = include_str!("../data/identity_terms.txt");

/// The groups' names in the other languages, by language (same group
/// names as [`DEFAULT_TERMS`], so reports line up).
pub const LANGUAGE_TERMS: [(Language, &str, &str); 4] = [
    (
        Language::De,
        "data/identity_terms_de.txt",
        include_str!("../data/identity_terms_de.txt"),
    ),
    (
        Language::Es,
        "data/identity_terms_es.txt",
        include_str!("../data/identity_terms_es.txt"),
    ),
    (
        Language::Fr,
        "data/identity_terms_fr.txt",
        include_str!("../data/identity_terms_fr.txt"),
    ),
    (
        Language::Pt,
        "data/identity_terms_pt.txt",
        include_str!("../data/identity_terms_pt.txt"),
    ),
];

/// Power used for the generalised mean over groups.
pub const POWER: f64 = -5.0;

/// Groups needing at least this many labelled comments to be reported;
/// smaller groups are listed as too small.
pub const MIN_SUBGROUP: u64 = 20;

/// Groups also need at least this many positive and this many negative
/// comments: with one or two positives, BNSP and subgroup AUC are the rank
/// of those few comments, noise that the power mean (p = -5) would then be
/// dominated by.
pub const MIN_PER_CLASS: u64 = 5;

/// Identity groups and, per language, the stems that signal them.
#[derive(Debug, Clone)]
pub struct IdentityTerms {
    groups: Vec<String>,
    stem_to_groups: HashMap<Language, HashMap<String, Vec<u16>>>,
}

/// A term as the analyzer leaves a word before stemming: compatibility
/// forms folded, accents removed, lower case.
fn normalised_term(term: &str) -> String {
    term.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

impl IdentityTerms {
    /// Parses the `name: term, term` format of English terms; `origin`
    /// names the source in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<IdentityTerms> {
        let mut terms = IdentityTerms {
            groups: Vec::new(),
            stem_to_groups: HashMap::new(),
        };
        terms.add_language(text, origin, Language::En)?;
        if terms.groups.is_empty() {
            return Err(Error::input(origin, 0, "no identity groups found"));
        }
        Ok(terms)
    }

    /// Adds the terms of `language` in the same format; a group already
    /// known by name keeps its place, a new one is added.
    pub fn add_language(&mut self, text: &str, origin: &Path, language: Language) -> Result<()> {
        let mut stemmer = CachedStemmer::for_language(language);
        let table = self.stem_to_groups.entry(language).or_default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, terms) = line.split_once(':').ok_or_else(|| {
                Error::input(origin, i as u64 + 1, "expected `group: term, term, ...`")
            })?;
            let name = name.trim();
            let g = match self.groups.iter().position(|n| n == name) {
                Some(g) => g as u16,
                None => {
                    if self.groups.len() >= usize::from(u16::MAX) {
                        return Err(Error::input(origin, i as u64 + 1, "too many groups"));
                    }
                    self.groups.push(name.to_string());
                    (self.groups.len() - 1) as u16
                }
            };
            for term in terms.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                let stem = stemmer.stem(&normalised_term(term)).to_string();
                let entry = table.entry(stem).or_default();
                if !entry.contains(&g) {
                    entry.push(g);
                }
            }
        }
        Ok(())
    }

    /// The shipped groups, in English and every other language moderate
    /// has terms for.
    pub fn builtin() -> IdentityTerms {
        // The shipped files are tested to parse.
        let mut terms = Self::parse(DEFAULT_TERMS, Path::new("data/identity_terms.txt")).unwrap_or(
            IdentityTerms {
                groups: Vec::new(),
                stem_to_groups: HashMap::new(),
            },
        );
        for (language, origin, text) in LANGUAGE_TERMS {
            let _ = terms.add_language(text, Path::new(origin), language);
        }
        terms
    }

    /// Every English stem that signals a group.
    pub fn stems(&self) -> Vec<String> {
        self.stems_in(Language::En)
    }

    /// Every stem of `language` that signals a group.
    pub fn stems_in(&self, language: Language) -> Vec<String> {
        let mut v: Vec<String> = self
            .stem_to_groups
            .get(&language)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Group names.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }
}

/// Finds which identity groups a comment mentions, reusing buffers.
#[derive(Debug)]
pub struct GroupMatcher<'t> {
    terms: &'t IdentityTerms,
    analyzer: Analyzer,
    stemmers: Vec<(Language, CachedStemmer)>,
    tokens: Tokens,
}

impl<'t> GroupMatcher<'t> {
    /// A matcher using the model's analyzer settings (stemming is always applied).
    pub fn new(terms: &'t IdentityTerms, analyzer: &AnalyzerConfig) -> Self {
        let config = AnalyzerConfig {
            stem: false,
            negation: false,
            identity_mask: None,
            ..analyzer.clone()
        };
        Self {
            terms,
            analyzer: Analyzer::new(config),
            stemmers: Vec::new(),
            tokens: Tokens::new(),
        }
    }

    /// The groups an English `text` mentions (sorted, without repeats).
    pub fn groups_of(&mut self, text: &str) -> Vec<u16> {
        self.groups_in(text, Language::En)
    }

    /// The groups `text`, written in `language`, mentions (sorted, without
    /// repeats; none for a language without terms).
    pub fn groups_in(&mut self, text: &str, language: Language) -> Vec<u16> {
        let Some(table) = self.terms.stem_to_groups.get(&language) else {
            return Vec::new();
        };
        let stemmer = match self.stemmers.iter().position(|(l, _)| *l == language) {
            Some(i) => &mut self.stemmers[i].1,
            None => {
                self.stemmers
                    .push((language, CachedStemmer::for_language(language)));
                &mut self.stemmers.last_mut().expect("just pushed").1
            }
        };
        self.analyzer.analyze(text, &mut self.tokens);
        let mut found = Vec::new();
        for (word, token) in self.tokens.iter() {
            if token.kind != TokenKind::Word {
                continue;
            }
            if let Some(gs) = table.get(stemmer.stem(word)) {
                found.extend_from_slice(gs);
            }
        }
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// One group's metrics for one label.
#[derive(Debug, Clone, Serialize)]
pub struct GroupMetrics {
    /// Group name.
    pub group: String,
    /// Labelled comments mentioning the group.
    pub size: u64,
    /// Positives among them.
    pub positives: u64,
    /// The three AUCs (absent when undefined or the group is too small).
    #[serde(flatten)]
    pub aucs: BiasAucs,
}

/// The bias report of one label.
#[derive(Debug, Clone, Serialize)]
pub struct LabelBias {
    /// Per group, sorted by BPSN AUC (worst first).
    pub groups: Vec<GroupMetrics>,
    /// Power means (p = -5) over the reported groups.
    pub power_mean_subgroup_auc: Option<f64>,
    /// Power mean of BPSN AUC.
    pub power_mean_bpsn_auc: Option<f64>,
    /// Power mean of BNSP AUC.
    pub power_mean_bnsp_auc: Option<f64>,
    /// Groups with fewer than [`MIN_SUBGROUP`] labelled comments, or fewer
    /// than [`MIN_PER_CLASS`] of either class.
    pub too_small: Vec<String>,
}

/// Computes the report for one label from scores, labels and each row's groups.
pub fn label_bias(
    terms: &IdentityTerms,
    scores: &[f32],
    labels: &[bool],
    groups_of_row: &[&[u16]],
) -> LabelBias {
    let mut out = Vec::new();
    let mut too_small = Vec::new();
    let mut member = vec![false; scores.len()];
    for (g, name) in terms.groups().iter().enumerate() {
        for (m, gs) in member.iter_mut().zip(groups_of_row) {
            *m = gs.binary_search(&(g as u16)).is_ok();
        }
        let size = member.iter().filter(|&&m| m).count() as u64;
        let positives = member
            .iter()
            .zip(labels)
            .filter(|(m, y)| **m && **y)
            .count() as u64;
        if size < MIN_SUBGROUP || positives < MIN_PER_CLASS || size - positives < MIN_PER_CLASS {
            too_small.push(name.clone());
            continue;
        }
        out.push(GroupMetrics {
            group: name.clone(),
            size,
            positives,
            aucs: bias_aucs(scores, labels, &member),
        });
    }
    out.sort_by(|a, b| {
        a.aucs
            .bpsn_auc
            .unwrap_or(f64::NAN)
            .total_cmp(&b.aucs.bpsn_auc.unwrap_or(f64::NAN))
    });
    let mean = |f: fn(&BiasAucs) -> Option<f64>| {
        let v: Vec<f64> = out.iter().filter_map(|g| f(&g.aucs)).collect();
        power_mean(&v, POWER)
    };
    LabelBias {
        power_mean_subgroup_auc: mean(|a| a.subgroup_auc),
        power_mean_bpsn_auc: mean(|a| a.bpsn_auc),
        power_mean_bnsp_auc: mean(|a| a.bnsp_auc),
        groups: out,
        too_small,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_terms_parse_and_match_by_stem() {
        let terms = IdentityTerms::parse(DEFAULT_TERMS, Path::new("x")).unwrap();
        assert!(terms.groups().len() >= 14);
        let mut m = GroupMatcher::new(&terms, &AnalyzerConfig::default());
        let gs = m.groups_of("The Refugees and MUSLIMS, and one woman.");
        let names: Vec<&str> = gs
            .iter()
            .map(|&g| terms.groups()[g as usize].as_str())
            .collect();
        assert_eq!(names, ["women", "muslim", "immigrant"]);
        assert!(m.groups_of("nothing here").is_empty());
    }

    #[test]
    fn bad_line_names_the_line() {
        let err = IdentityTerms::parse("# c\nwomen: woman\nbroken line\n", Path::new("t.txt"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.txt:3: expected `group: term, term, ...`"
        );
    }

    #[test]
    fn groups_with_too_few_positives_or_negatives_do_not_count() {
        let terms = IdentityTerms::parse("one: x\nfew: y\nok: z\n", Path::new("x")).unwrap();
        // 90 rows, 30 per group. Group `one` has a single positive (scored
        // lowest of all, which would drag the power mean down), `few` has
        // 4 negatives, `ok` has 10 positives and 20 negatives.
        let mut scores = Vec::new();
        let mut labels = Vec::new();
        let mut groups: Vec<Vec<u16>> = Vec::new();
        for g in 0..3u16 {
            for i in 0..30 {
                let pos = match g {
                    0 => i == 0,
                    1 => i >= 4,
                    _ => i < 10,
                };
                labels.push(pos);
                scores.push(if g == 0 && pos {
                    0.0
                } else {
                    0.5 + 0.4 * f32::from(u8::from(pos)) + 0.001 * i as f32
                });
                groups.push(vec![g]);
            }
        }
        let refs: Vec<&[u16]> = groups.iter().map(Vec::as_slice).collect();
        let report = label_bias(&terms, &scores, &labels, &refs);
        assert_eq!(report.too_small, ["one", "few"]);
        let names: Vec<&str> = report.groups.iter().map(|g| g.group.as_str()).collect();
        assert_eq!(names, ["ok"]);
        assert_eq!(report.power_mean_subgroup_auc, Some(1.0));
    }

    #[test]
    fn biased_scores_show_in_bpsn() {
        let terms = IdentityTerms::parse("g: gay\nh: other\n", Path::new("x")).unwrap();
        // 40 rows; rows 0..20 mention group 0. The model scores every
        // subgroup row high, so subgroup negatives outrank background positives.
        let mut scores = Vec::new();
        let mut labels = Vec::new();
        let mut groups: Vec<Vec<u16>> = Vec::new();
        for i in 0..40 {
            let pos = i % 2 == 0;
            let sub = i < 20;
            labels.push(pos);
            scores.push(if sub {
                0.6 + 0.3 * f32::from(u8::from(pos))
            } else {
                0.1 + 0.4 * f32::from(u8::from(pos))
            });
            groups.push(if sub { vec![0] } else { vec![] });
        }
        let refs: Vec<&[u16]> = groups.iter().map(Vec::as_slice).collect();
        let report = label_bias(&terms, &scores, &labels, &refs);
        let g = &report.groups[0];
        assert_eq!(g.group, "g");
        assert_eq!(g.aucs.subgroup_auc, Some(1.0));
        assert!(g.aucs.bpsn_auc.unwrap() < 0.5);
        assert_eq!(report.too_small, ["h"]);
    }
}

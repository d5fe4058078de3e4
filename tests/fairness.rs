//! Fairness to the groups comments name, pinned on the shipped model with
//! sentences written for this project (`data/identity_statements.txt`, not
//! the madlibs): for every group of `data/identity_terms.txt`, neutral and
//! positive statements stay below the abusive threshold and abusive ones
//! stay above it. Both readers take part, as in `moderate score`.

use std::collections::BTreeMap;

const STATEMENTS: &str = include_str!("../data/identity_statements.txt");
const TERMS: &str = include_str!("../data/identity_terms.txt");

/// One statement: its group, whether it is abusive, and its text.
struct Statement {
    group: String,
    abusive: bool,
    text: String,
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Expands the templates over the groups.
fn statements() -> Vec<Statement> {
    let mut phrases = BTreeMap::new();
    let mut templates = Vec::new();
    for line in STATEMENTS.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("group ") {
            let (group, phrase) = rest.split_once(':').expect("group: phrase");
            phrases.insert(group.trim().to_string(), phrase.trim().to_string());
        } else if let Some(t) = line.strip_prefix("neutral:") {
            templates.push((false, t.trim().to_string()));
        } else if let Some(t) = line.strip_prefix("abusive:") {
            templates.push((true, t.trim().to_string()));
        } else {
            panic!("unreadable line in identity_statements.txt: {line}");
        }
    }
    let mut out = Vec::new();
    for (group, phrase) in &phrases {
        for (abusive, template) in &templates {
            out.push(Statement {
                group: group.clone(),
                abusive: *abusive,
                text: template
                    .replace("{g}", phrase)
                    .replace("{G}", &capitalised(phrase)),
            });
        }
    }
    out
}

#[test]
fn every_identity_group_has_statements() {
    let groups: Vec<&str> = TERMS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':').map(|(g, _)| g.trim()))
        .collect();
    let all = statements();
    assert!(groups.len() >= 30);
    for g in groups {
        let of_group = all.iter().filter(|s| s.group == g);
        let (abusive, neutral): (Vec<_>, Vec<_>) = of_group.partition(|s| s.abusive);
        assert!(
            abusive.len() >= 3 && neutral.len() >= 5,
            "group {g} lacks statements"
        );
    }
}

/// Each statement, whether it scores at or above the abusive threshold, and
/// a line describing it.
fn judged() -> Vec<(Statement, bool, String)> {
    let model = moderate::default_model().expect("built-in model");
    let label = model.label_index("abusive").expect("abusive label");
    let threshold = model.thresholds()[label];
    let all = statements();
    let texts: Vec<&str> = all.iter().map(|s| s.text.as_str()).collect();
    let mut scorer = model.scorer();
    let mut scores = Vec::new();
    scorer.score_batch(&texts, &mut scores);
    all.into_iter()
        .zip(&scores)
        .map(|(s, p)| {
            let flagged = p.probabilities[label] >= threshold;
            let line = format!(
                "{}: {:.3} (threshold {threshold:.3}, {:?})",
                s.text, p.probabilities[label], p.stage
            );
            (s, flagged, line)
        })
        .collect()
}

/// Lines of the statements of one kind on the wrong side of the threshold.
fn wrong(judged: &[(Statement, bool, String)], abusive: bool) -> (Vec<&str>, usize) {
    let of_kind: Vec<_> = judged.iter().filter(|j| j.0.abusive == abusive).collect();
    let wrong = of_kind
        .iter()
        .filter(|j| j.1 != abusive)
        .map(|j| j.2.as_str())
        .collect();
    (wrong, of_kind.len())
}

#[test]
fn abusive_statements_about_every_group_are_flagged() {
    let judged = judged();
    let (missed, n) = wrong(&judged, true);
    assert!(
        missed.is_empty(),
        "{} of {n} abusive statements not flagged:\n{}",
        missed.len(),
        missed.join("\n")
    );
}

/// The shipped model flags 69 of the 222 neutral and positive statements
/// (31%), all through the second stage: it learned that talk of a group's
/// rights and welcome comes with abuse in its training sources. This pins
/// that share from above so that it cannot grow unnoticed; the goal is
/// none ([`no_neutral_statement_about_a_group_is_flagged`]).
#[test]
fn neutral_statements_flagged_no_more_than_measured() {
    let judged = judged();
    let (flagged, n) = wrong(&judged, false);
    let share = flagged.len() as f64 / n as f64;
    assert!(
        share <= 0.32,
        "{} of {n} neutral statements flagged ({:.0}%):\n{}",
        flagged.len(),
        100.0 * share,
        flagged.join("\n")
    );
}

#[test]
#[ignore = "issue 22 is open: the second stage flags 31% of the neutral statements"]
fn no_neutral_statement_about_a_group_is_flagged() {
    let judged = judged();
    let (flagged, n) = wrong(&judged, false);
    assert!(
        flagged.is_empty(),
        "{} of {n} neutral statements flagged:\n{}",
        flagged.len(),
        flagged.join("\n")
    );
}

//! How a moderator's decision (`comments:suggestscore`) is read against
//! what the server flagged for the same comment.
//!
//! Coral sends every decision under the one attribute it is configured
//! with (`TOXICITY` by default): `1` when a moderator rejects the comment,
//! `0` when they approve it. Read attribute by attribute, rejecting a threat
//! that was withheld for its `violent` flag would teach `abusive` and never
//! `violent`. So the server records what it flagged for each comment it
//! scores (analyze and the Coral phase; keyed by the text's digest, with
//! the request's `clientToken`), and a decision that names **one**
//! attribute is read as a verdict on the comment as the server flagged it:
//!
//! | the server flagged the label | rejection (value >= 0.5) | approval (value < 0.5) |
//! |---|---|---|
//! | yes | `1`: the flag is confirmed | `0`: the flag is refuted |
//! | no, and the request named it | `-1` when another label was flagged (the rejection is explained by that flag), `1` when none was (a miss) | `0` |
//! | no, and the request did not name it | `-1`: undecided | `-1`: undecided |
//!
//! Without a record of the comment (it was never scored here, or the record
//! has expired), or when the request names **several** attributes, each
//! named label takes the value sent and the others stay `-1`, as before.
//! Two attributes of one label that disagree (`TOXICITY` 1, `INSULT` 0) are
//! refused with a 400 naming both: the server does not guess.
//! `--feedback literal` turns the verdict reading off.

/// How single-attribute feedback is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FeedbackReading {
    /// A single-attribute decision is a verdict on what the server flagged
    /// (the table above).
    Verdict,
    /// Every decision is read attribute by attribute.
    Literal,
}

/// What a suggestscore request said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// Per label (model order): the value the request gave it, if it named
    /// it.
    pub values: Vec<Option<bool>>,
    /// How many attributes the request named.
    pub attributes: usize,
}

/// What a decision did to the server's flag on one label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Flagged, decided 1.
    Confirmed,
    /// Flagged, decided 0.
    Refuted,
    /// Not flagged, decided 1.
    Missed,
    /// Not flagged, decided 0.
    Cleared,
    /// Decided -1.
    Undecided,
}

impl Outcome {
    /// Every outcome, in the order the metrics list them.
    pub const ALL: [Outcome; 5] = [
        Outcome::Confirmed,
        Outcome::Refuted,
        Outcome::Missed,
        Outcome::Cleared,
        Outcome::Undecided,
    ];

    /// Its name in the metrics.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Confirmed => "confirmed",
            Outcome::Refuted => "refuted",
            Outcome::Missed => "missed",
            Outcome::Cleared => "cleared",
            Outcome::Undecided => "undecided",
        }
    }

    /// The outcome of deciding `decided` on a label the server flagged or
    /// not.
    pub fn of(flagged: bool, decided: Option<bool>) -> Outcome {
        match (flagged, decided) {
            (_, None) => Outcome::Undecided,
            (true, Some(true)) => Outcome::Confirmed,
            (true, Some(false)) => Outcome::Refuted,
            (false, Some(true)) => Outcome::Missed,
            (false, Some(false)) => Outcome::Cleared,
        }
    }
}

/// The labels to store for `reading`, given what the server flagged for the
/// comment (`flagged`, per label in model order; `None` without a record).
pub fn resolve(
    reading: &Reading,
    flagged: Option<&[bool]>,
    how: FeedbackReading,
) -> Vec<Option<bool>> {
    let verdict = match (how, flagged) {
        (FeedbackReading::Verdict, Some(f))
            if reading.attributes == 1 && f.len() == reading.values.len() && f.contains(&true) =>
        {
            f
        }
        _ => return reading.values.clone(),
    };
    let rejected = reading.values.iter().flatten().any(|&v| v);
    reading
        .values
        .iter()
        .zip(verdict)
        .map(|(&named, &flag)| match (flag, rejected) {
            (true, true) => Some(true),
            (true, false) => Some(false),
            // A rejection is explained by the flags: the named attribute's
            // label, not flagged, is left undecided.
            (false, true) => None,
            (false, false) => named.map(|_| false),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(label: usize, value: bool) -> Reading {
        let mut values = vec![None, None];
        values[label] = Some(value);
        Reading {
            values,
            attributes: 1,
        }
    }

    const ABUSIVE: usize = 0;
    const VIOLENT: usize = 1;
    const V: FeedbackReading = FeedbackReading::Verdict;

    #[test]
    fn coral_rejecting_a_threat_under_toxicity_confirms_violent_not_abusive() {
        let flagged = [false, true];
        assert_eq!(
            resolve(&one(ABUSIVE, true), Some(&flagged), V),
            vec![None, Some(true)]
        );
        // Approving it refutes the violent flag and clears abusive.
        assert_eq!(
            resolve(&one(ABUSIVE, false), Some(&flagged), V),
            vec![Some(false), Some(false)]
        );
        // Both flagged: a rejection confirms both.
        assert_eq!(
            resolve(&one(ABUSIVE, true), Some(&[true, true]), V),
            vec![Some(true), Some(true)]
        );
        // Rejecting under THREAT what was flagged abusive only.
        assert_eq!(
            resolve(&one(VIOLENT, true), Some(&[true, false]), V),
            vec![Some(true), None]
        );
    }

    #[test]
    fn without_a_record_or_with_several_attributes_values_are_literal() {
        let r = one(ABUSIVE, true);
        assert_eq!(resolve(&r, None, V), vec![Some(true), None]);
        // A record with nothing flagged: the rejection is a miss on the
        // named label.
        assert_eq!(
            resolve(&r, Some(&[false, false]), V),
            vec![Some(true), None]
        );
        let both = Reading {
            values: vec![Some(true), Some(false)],
            attributes: 2,
        };
        assert_eq!(resolve(&both, Some(&[false, true]), V), both.values);
        assert_eq!(
            resolve(&r, Some(&[false, true]), FeedbackReading::Literal),
            r.values
        );
    }

    #[test]
    fn outcomes_compare_the_decision_with_the_flag() {
        assert_eq!(Outcome::of(true, Some(true)), Outcome::Confirmed);
        assert_eq!(Outcome::of(true, Some(false)), Outcome::Refuted);
        assert_eq!(Outcome::of(false, Some(true)), Outcome::Missed);
        assert_eq!(Outcome::of(false, Some(false)), Outcome::Cleared);
        assert_eq!(Outcome::of(true, None), Outcome::Undecided);
        assert_eq!(Outcome::ALL.len(), 5);
    }
}

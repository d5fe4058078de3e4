//! Perspective attribute names and the model labels they stand for.
//!
//! A request's `requestedAttributes` (and a feedback request's
//! `attributeScores`) name attributes. The server answers for moderate's own
//! labels upper-cased (`ABUSIVE`, `VIOLENT`) and for a configurable alias
//! table; the default maps Perspective's production attributes onto the two
//! labels. Any other name is an error, never a made-up score. Names are
//! matched case-insensitively and answered under the name the client sent.

use crate::error::{Error, Result};
use crate::model::Model;

/// The aliases a server starts with.
pub const DEFAULT_ALIASES: [(&str, &str); 5] = [
    ("TOXICITY", "abusive"),
    ("SEVERE_TOXICITY", "abusive"),
    ("INSULT", "abusive"),
    ("IDENTITY_ATTACK", "abusive"),
    ("THREAT", "violent"),
];

/// Attribute name (upper case) -> label name, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasTable {
    entries: Vec<(String, String)>,
}

impl Default for AliasTable {
    fn default() -> Self {
        AliasTable {
            entries: DEFAULT_ALIASES
                .iter()
                .map(|(a, l)| (a.to_string(), l.to_string()))
                .collect(),
        }
    }
}

impl AliasTable {
    /// A table with no aliases (only the labels' own names are served).
    pub fn empty() -> Self {
        AliasTable {
            entries: Vec::new(),
        }
    }

    /// Adds or replaces `attribute -> label`; an empty `label` removes the
    /// alias.
    pub fn set(&mut self, attribute: &str, label: &str) {
        let name = attribute.trim().to_ascii_uppercase();
        self.entries.retain(|(a, _)| *a != name);
        if !label.trim().is_empty() {
            self.entries.push((name, label.trim().to_string()));
        }
    }

    /// The aliases, in the order they were set.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// Resolves the table against `model`'s labels. Fails when an alias
    /// points at a label the model does not have.
    pub fn resolve(&self, model: &Model) -> Result<Attributes> {
        let mut names: Vec<(String, usize)> = model
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.name.to_ascii_uppercase(), i))
            .collect();
        for (attribute, label) in &self.entries {
            let i = model.label_index(label).ok_or_else(|| {
                Error::Config(format!(
                    "attribute alias {attribute}={label}: the model has no label `{label}` \
                     (labels: {})",
                    model.label_names().join(", ")
                ))
            })?;
            names.retain(|(a, _)| a != attribute);
            names.push((attribute.clone(), i));
        }
        Ok(Attributes { names })
    }
}

/// The attribute names a server answers for, resolved to label indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    names: Vec<(String, usize)>,
}

impl Attributes {
    /// The label index of attribute `name` (any case), or `None`.
    pub fn label_of(&self, name: &str) -> Option<usize> {
        let upper = name.trim().to_ascii_uppercase();
        self.names
            .iter()
            .find(|(a, _)| *a == upper)
            .map(|&(_, i)| i)
    }

    /// Every served name with its label index: labels first, then aliases.
    pub fn names(&self) -> &[(String, usize)] {
        &self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        crate::default_model().unwrap()
    }

    #[test]
    fn default_table_maps_perspective_attributes() {
        let m = model();
        let a = AliasTable::default().resolve(&m).unwrap();
        let abusive = m.label_index("abusive").unwrap();
        let violent = m.label_index("violent").unwrap();
        assert_eq!(a.label_of("TOXICITY"), Some(abusive));
        assert_eq!(a.label_of("toxicity"), Some(abusive));
        assert_eq!(a.label_of("SEVERE_TOXICITY"), Some(abusive));
        assert_eq!(a.label_of("INSULT"), Some(abusive));
        assert_eq!(a.label_of("IDENTITY_ATTACK"), Some(abusive));
        assert_eq!(a.label_of("THREAT"), Some(violent));
        assert_eq!(a.label_of("ABUSIVE"), Some(abusive));
        assert_eq!(a.label_of("Violent"), Some(violent));
        assert_eq!(a.label_of("PROFANITY"), None);
        assert_eq!(a.label_of("FLIRTATION"), None);
        assert_eq!(a.label_of(""), None);
    }

    #[test]
    fn aliases_can_be_added_replaced_and_removed() {
        let m = model();
        let mut t = AliasTable::default();
        t.set("profanity", "abusive");
        t.set("THREAT", "abusive");
        t.set("INSULT", "");
        let a = t.resolve(&m).unwrap();
        let abusive = m.label_index("abusive").unwrap();
        assert_eq!(a.label_of("PROFANITY"), Some(abusive));
        assert_eq!(a.label_of("THREAT"), Some(abusive));
        assert_eq!(a.label_of("INSULT"), None);
        let a = AliasTable::empty().resolve(&m).unwrap();
        assert_eq!(a.label_of("TOXICITY"), None);
        assert!(a.label_of("ABUSIVE").is_some());
        let mut bad = AliasTable::empty();
        bad.set("SPAM", "spam");
        let err = bad.resolve(&m).unwrap_err().to_string();
        assert!(err.contains("no label `spam`"), "{err}");
    }
}

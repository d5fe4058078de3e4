//! `moderate review --decisions STORE`: the review session's decisions in
//! a store instead of a decisions CSV, with the same resume and undo.
//!
//! - Resume: every id with a decision in the store (from any reviewer, the
//!   server or an import) is left out of the queue.
//! - Undo removes the last decision this store holds *from review*, so a
//!   decision the server stored meanwhile is never undone by a reviewer.
//! - Each decision is committed before the next comment is shown.

use super::{Dedupe, Location, NewDecision, Recorded, Store};
use crate::error::{Error, Result};
use crate::review::{Decision, LoggedDecision};
use std::collections::HashSet;

/// The origin of decisions made with `moderate review`.
pub const REVIEW_ORIGIN: &str = "review";

/// Review decisions kept in a store.
#[derive(Debug)]
pub struct StoreDecisionLog {
    store: Store,
    labels: Vec<String>,
    decided: HashSet<String>,
    /// Review decisions, oldest first (`offset` holds the sequence number).
    rows: Vec<LoggedDecision>,
}

impl StoreDecisionLog {
    /// Opens the store at `location` for a model with `labels` and reads
    /// which ids have decisions.
    pub fn open(location: &Location, labels: &[&str]) -> Result<Self> {
        let mut store = Store::open(location)?;
        let mut decided = HashSet::new();
        let mut rows = Vec::new();
        store.for_each_decision(&mut |d| {
            if d.origin == REVIEW_ORIGIN {
                rows.push(LoggedDecision {
                    offset: d.seq.max(0) as u64,
                    id: d.id.clone(),
                    labels: labels
                        .iter()
                        .map(|l| d.labels.get(*l).copied().flatten() == Some(true))
                        .collect(),
                });
            }
            decided.insert(d.id);
            Ok(())
        })?;
        Ok(StoreDecisionLog {
            store,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            decided,
            rows,
        })
    }

    /// Where the store is.
    pub fn location(&self) -> &Location {
        self.store.location()
    }

    /// The review decisions in the store, oldest first.
    pub fn decisions(&self) -> &[LoggedDecision] {
        &self.rows
    }

    /// Ids that have a decision (from review or elsewhere).
    pub fn decided_ids(&self) -> HashSet<String> {
        self.decided.clone()
    }

    /// The last review decision.
    pub fn last(&self) -> Option<&LoggedDecision> {
        self.rows.last()
    }

    /// Stores `d` and commits it before returning.
    pub fn append(&mut self, d: &Decision) -> Result<()> {
        if d.labels.len() != self.labels.len() {
            return Err(Error::Config(format!(
                "a decision has {} labels, the model {}",
                d.labels.len(),
                self.labels.len()
            )));
        }
        let new = NewDecision {
            id: d.id.clone(),
            text: d.text.clone(),
            labels: self
                .labels
                .iter()
                .cloned()
                .zip(d.labels.iter().map(|&l| Some(l)))
                .collect(),
            reviewer: d.reviewer.clone(),
            decided_at: d.decided_at.clone(),
            origin: REVIEW_ORIGIN.to_string(),
            served: None,
            dedupe: Dedupe::Never,
        };
        match self.store.record_decisions(std::slice::from_ref(&new))?[0] {
            Recorded::Stored(seq) => {
                self.rows.push(LoggedDecision {
                    offset: seq.max(0) as u64,
                    id: d.id.clone(),
                    labels: d.labels.clone(),
                });
                self.decided.insert(d.id.clone());
                Ok(())
            }
            Recorded::Repeat => Err(Error::Config(
                "the store took a review decision for a repeat".into(),
            )),
        }
    }

    /// Removes the last review decision and returns it; `None` when there
    /// is none.
    pub fn undo(&mut self) -> Result<Option<LoggedDecision>> {
        let Some(last) = self.rows.last() else {
            return Ok(None);
        };
        self.store.delete_decision(last.offset as i64)?;
        let last = self.rows.pop();
        if let Some(l) = &last
            && !self.rows.iter().any(|r| r.id == l.id)
        {
            self.decided.remove(&l.id);
        }
        Ok(last)
    }
}

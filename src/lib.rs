//! # moderate
//!
//! Flags abusive and violent-advocacy reader comments with explainable,
//! retrainable linear models (linfa), built on a bag-of-words analyzer that
//! resists deliberate misspelling.
//!
//! The pipeline, used the same way by every command:
//!
//! ```text
//! reader -> Comment -> text::Analyzer (normalise, tokenise, stem)
//!        -> features::Vectorizer (n-grams, tf-idf, l2) -> model::Scorer
//!        -> calibrated probability and flag per label
//! ```
//!
//! ```
//! use moderate::model::Model;
//! let model: Model = moderate::default_model().expect("the shipped model loads");
//! let mut scorer = model.scorer();
//! let scores = scorer.score("Russia should use WMD on these barbaric animals");
//! let violent = model.label_index("violent").unwrap();
//! assert!(scores.probabilities[violent] > 0.0 && scores.probabilities[violent] <= 1.0);
//! ```

pub mod atomic_file;
pub mod bias;
pub mod cli;
pub mod comment;
pub mod encoder;
pub mod error;
pub mod evaluate;
pub mod features;
pub mod io;
pub mod language;
pub mod metrics;
pub mod model;
pub mod output;
pub mod perturb;
pub mod pipeline;
pub mod report;
pub mod review;
pub mod serve;
pub mod store;
pub mod text;
pub mod train;

pub use comment::Comment;
pub use error::{Error, Result};
pub use model::Model;

/// The model shipped in `models/default.model`, embedded at build time so
/// that `score` and `eval` work from any directory.
pub const DEFAULT_MODEL_BYTES: &[u8] = include_bytes!("../models/default.model");

/// Loads the embedded default model, with its second stage's encoder (the
/// built-in one) attached when it has one.
pub fn default_model() -> Result<Model> {
    let mut model = model::load_bytes(
        DEFAULT_MODEL_BYTES,
        std::path::Path::new("<built-in default model>"),
    )?;
    if model.second_stage.is_some() {
        model.attach_encoder(&encoder::BaseEncoder::builtin()?)?;
    }
    Ok(model)
}

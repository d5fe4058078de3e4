//! The second reader: a pretrained sentence encoder (all-MiniLM-L6-v2, a
//! 6-layer BERT) whose top layers and per-label heads are trained on the
//! labels, for what a bag of words cannot read ("should use X on them").
//!
//! - [`bert`]: the transformer, in candle (pure Rust, CPU).
//! - [`pieces`]: comment text to word pieces (the encoder's tokenizer).
//! - [`base`]: the pretrained weights, shipped in half precision.
//! - [`cache`]: the frozen lower layers' output, computed once for training.
//! - [`train`]: training the top layers and heads.
//! - [`stage`]: the trained stage as stored and as run (combiner, gate).
//! - [`fit`]: fitting the whole stage after the word model.

pub mod base;
pub mod bert;
pub mod cache;
pub mod fit;
pub mod gelu;
pub mod pieces;
pub mod stage;
pub mod tiny;
pub mod train;

pub use base::BaseEncoder;
pub use bert::{Bert, BertConfig};
pub use pieces::{PieceTokenizer, Pieces};
pub use stage::{Encoder, SecondStage};

/// Makes `model`'s second stage ready to run on the base encoder in `dir`
/// (default: the built-in one), unless `word_only` (then the model scores
/// with its word model alone). A model without a second stage is unchanged.
pub fn prepare(
    model: &mut crate::model::Model,
    dir: Option<&std::path::Path>,
    word_only: bool,
) -> crate::Result<()> {
    if model.second_stage.is_none() || word_only {
        return Ok(());
    }
    let base = match dir {
        Some(dir) => BaseEncoder::from_dir(dir)?,
        None => BaseEncoder::builtin()?,
    };
    model.attach_encoder(&base)
}

//! The vectorizer: n-gram extraction, feature statistics and selection,
//! the fitted feature space with idf weights, and sparse rows.

pub mod buckets;
pub mod hash;
pub mod ngrams;
pub mod selection;
pub mod sparse;
pub mod vocabulary;

pub use buckets::{BucketStats, CandidateBuckets};
pub use ngrams::{FeatureKind, NgramConfig, NgramExtractor, Occurrence};
pub use selection::{FeatureStats, Selected};
pub use sparse::{SparseMatrix, SparseRow};
pub use vocabulary::{ColumnHit, FeatureSpace, Vectorizer, WORD_CACHE_ENTRIES, smooth_idf};

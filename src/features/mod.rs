//! The vectorizer: n-gram extraction, feature statistics and selection,
//! the fitted feature space with idf weights, and sparse rows.

pub mod buckets;
pub mod chunk_cache;
pub mod chunked;
pub mod hash;
pub mod kmeans;
pub mod lexicon;
pub mod ngrams;
pub mod selection;
pub mod semantic;
pub mod sparse;
pub mod vocabulary;

pub use buckets::{BucketStats, CandidateBuckets};
pub use lexicon::Lexicon;
pub use ngrams::{FeatureKind, NgramConfig, NgramExtractor, Occurrence};
pub use selection::{FeatureStats, Selected};
pub use semantic::{SemanticConfig, SemanticPrior, WordVectors};
pub use sparse::{SparseMatrix, SparseRow};
pub use vocabulary::{ColumnHit, FeatureSpace, Vectorizer, WORD_CACHE_ENTRIES, smooth_idf};

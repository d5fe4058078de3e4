//! `moderate train`: fit a model on labelled comments and write the model file.

use super::{InputArgs, UsageError};
use crate::atomic_file::AtomicFile;
use crate::features::NgramConfig;
use crate::io::CommentReader;
use crate::language::Language;
use crate::model::ftrl::FtrlSettings;
use crate::model::logistic::LogisticSettings;
use crate::train::augment::Augmentation;
use crate::train::streaming::{StreamingSettings, train_streaming};
use crate::train::{Progress, ThresholdRule, TrainConfig};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Which learner fits the per-label linear models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Learner {
    /// linfa logistic regression on a dense matrix of all rows, with
    /// cross-validation (the default).
    Logistic,
    /// linfa-ftrl on mini-batches, reading the data in passes: memory stays
    /// bounded whatever the number of rows.
    Ftrl,
}

/// Arguments of `moderate train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Labelled comments (CSV or JSONL; repeat for several files; `-` = stdin,
    /// not with `--learner ftrl`), or a store of decisions (a `.db` SQLite
    /// file, `sqlite:PATH` or a postgres:// URL; not with `--learner ftrl`).
    #[arg(long = "data", required = true, value_name = "FILE")]
    pub data: Vec<PathBuf>,
    /// The learner: `logistic` (all rows in memory, cross-validated) or
    /// `ftrl` (streaming, bounded memory; see the FTRL options).
    #[arg(long, value_enum, default_value_t = Learner::Logistic)]
    pub learner: Learner,
    /// FTRL: learning rate alpha [default 2].
    #[arg(long, value_name = "A", help_heading = "FTRL learner")]
    pub ftrl_alpha: Option<f64>,
    /// FTRL: learning-rate smoothing beta, > 0 [default 1].
    #[arg(long, value_name = "B", help_heading = "FTRL learner")]
    pub ftrl_beta: Option<f64>,
    /// FTRL: L1 penalty, in [0, 1] [default 0].
    #[arg(long, value_name = "L1", help_heading = "FTRL learner")]
    pub ftrl_l1: Option<f64>,
    /// FTRL: L2 penalty, in [0, 1] [default 1].
    #[arg(long, value_name = "L2", help_heading = "FTRL learner")]
    pub ftrl_l2: Option<f64>,
    /// FTRL: start from linfa-ftrl's random z in [0, 1) (seeded by --seed)
    /// instead of from zero weights.
    #[arg(long, help_heading = "FTRL learner")]
    pub ftrl_random_start: bool,
    /// FTRL: passes over the training rows [default 4].
    #[arg(long, value_name = "N", help_heading = "FTRL learner")]
    pub epochs: Option<u32>,
    /// FTRL: rows per update (mini-batch) [default 16].
    #[arg(long, value_name = "N", help_heading = "FTRL learner")]
    pub batch_size: Option<usize>,
    /// FTRL: hold out one row in N for calibration and thresholds; 0 = none
    /// [default 10].
    #[arg(long, value_name = "N", help_heading = "FTRL learner")]
    pub holdout_every: Option<u32>,
    /// FTRL: hash buckets of the screening pass (memory: 20 bytes each per
    /// worker thread with two labels) [default 4194304].
    #[arg(long, value_name = "N", help_heading = "FTRL learner")]
    pub hash_buckets: Option<usize>,
    /// FTRL: rows in the shuffle buffer (1 = input order) [default 100000].
    #[arg(long, value_name = "N", help_heading = "FTRL learner")]
    pub shuffle_buffer: Option<usize>,
    /// Where to write the model file.
    #[arg(long, value_name = "MODEL")]
    pub out: PathBuf,
    /// Labels to learn (default: every `abusive`/`violent` column present).
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub labels: Option<Vec<String>>,
    /// Cross-validation folds on the training data, used to calibrate
    /// probabilities, choose thresholds and report per-fold ROC-AUC (0 = off).
    #[arg(long = "cv", default_value_t = 3, value_name = "K")]
    pub folds: u32,
    /// Cross-validate by groups instead of random folds: one fold per
    /// distinct value of this column (e.g. `source`: leave-one-source-out,
    /// the honest estimate for a site the model has never seen). Replaces
    /// `--cv`; calibration and thresholds then come from held-out groups.
    #[arg(long, value_name = "COLUMN", conflicts_with = "folds")]
    pub cv_by: Option<String>,
    /// Choose each threshold for this precision (on held-out folds).
    #[arg(long, value_name = "P", conflicts_with = "target_recall")]
    pub target_precision: Option<f64>,
    /// Choose each threshold for this recall (on held-out folds).
    /// Default: the threshold with the highest F1.
    #[arg(long, value_name = "R")]
    pub target_recall: Option<f64>,
    /// Features kept by chi-square selection.
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    pub max_features: usize,
    /// Minimum number of training comments a feature must occur in.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub min_df: u32,
    /// L2 penalty (like 1/C in scikit-learn); with a comma-separated list,
    /// each label takes the value with the best cross-validated ROC-AUC.
    /// Default: 0.1,0.25,0.5,1 with cross-validation, 0.25 without.
    #[arg(long, value_delimiter = ',', value_name = "A[,A...]")]
    pub alpha: Option<Vec<f32>>,
    /// Most L-BFGS iterations per fit.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub max_iterations: u64,
    /// Times each positive row of a label is repeated (class weighting),
    /// e.g. `violent=9`; default round(sqrt(negatives/positives)).
    #[arg(long = "positive-repeat", value_name = "LABEL=N", value_parser = parse_label_value::<u32>)]
    pub positive_repeat: Vec<(String, u32)>,
    /// Character n-grams inside word boundaries, lengths MIN-MAX, or `off`.
    #[arg(long, value_name = "MIN-MAX|off", default_value = "2-5", value_parser = parse_range)]
    pub char_ngrams: CharRange,
    /// Normalise rows over the selected features only (default: n-grams
    /// outside the selection also count in each row's l2 norm).
    #[arg(long)]
    pub norm_selected_only: bool,
    /// Normalise each row as a whole (default: word and character n-grams
    /// are normalised separately, like two vectorizers side by side).
    #[arg(long)]
    pub norm_whole_row: bool,
    /// Word unigrams only (no bigrams).
    #[arg(long)]
    pub no_bigrams: bool,
    /// Mark words after a negation (`not`, `never`, ...) as negated.
    #[arg(long)]
    pub negation: bool,
    /// Keep the words that name identity groups in the word model. By
    /// default every word naming a group of data/identity_terms.txt
    /// (`muslims`, `women`, `gay`, ...) is left out of it, so that it learns
    /// what is said about a group rather than which group is named (see
    /// `moderate info`).
    #[arg(long = "keep-identity-words", action = clap::ArgAction::SetFalse)]
    pub blind_identities: bool,
    /// Analyse text as written: no de-obfuscation (letter spacing,
    /// separators, leetspeak) and no folding of look-alike letters. For
    /// measuring what de-obfuscation buys.
    #[arg(long)]
    pub no_deobfuscate: bool,
    /// Most words in the model's word list, against which obfuscated words
    /// the de-obfuscation rules leave unknown are resolved (`k!11`,
    /// `st*pid`, `idiooot`); 0 ships no list and resolves nothing. Not used
    /// by `--learner ftrl` (its models ship no list).
    #[arg(long = "known-words", default_value_t = crate::train::DEFAULT_KNOWN_WORDS, value_name = "N")]
    pub known_words_max: usize,
    /// Also train on perturbed copies of this share of the training
    /// comments: their listed words disguised by every trick of `moderate
    /// perturb` (copies only ever train; never held out in cross-validation).
    #[arg(long, value_name = "P")]
    pub augment: Option<f64>,
    /// Seed of the perturbed copies (`--augment`).
    #[arg(long, default_value_t = 7, value_name = "SEED")]
    pub augment_seed: u64,
    /// Start linfa from zero instead of from the sparse pre-solve (slower;
    /// for checking that both reach the same model).
    #[arg(long)]
    pub no_presolve: bool,
    /// Pretrained word vectors (GloVe text format, `.gz` or plain): their
    /// words are clustered (k-means at every `--clusters` granularity) and
    /// each word token also emits its cluster ids as features, so words
    /// never seen with a label share evidence with their neighbours. The
    /// clusters are stored in the model. The shipped model's came from
    /// GloVe 6B 50d, its 200,000 most frequent words (the README's
    /// "Where the inputs come from"). Without --vectors, the word clusters
    /// stored in the built-in model are reused (--word-clusters-from).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["word_clusters_from", "no_word_clusters"])]
    pub vectors: Option<PathBuf>,
    /// Reuse the word clusters (the words and their cluster ids) stored in
    /// this model file instead of building them from --vectors. Default,
    /// without --vectors: those of the built-in model, so that retraining
    /// keeps what the shipped model has.
    #[arg(long, value_name = "MODEL", conflicts_with = "no_word_clusters")]
    pub word_clusters_from: Option<PathBuf>,
    /// Train without word clusters (no --vectors, nothing reused): the
    /// first release's recipe.
    #[arg(long)]
    pub no_word_clusters: bool,
    /// Weight of the pooled-vector block against the unit-norm n-gram
    /// blocks, stored as one score per word and label; 0 (the default) =
    /// no pooled block, cluster tokens only.
    #[arg(long, default_value_t = 0.0, value_name = "W", requires = "vectors")]
    pub semantic_weight: f32,
    /// Cluster-token granularities from the word vectors (cluster counts,
    /// each a multiple of the one before), or `off`.
    #[arg(long, default_value = "16,256,4096", value_name = "K,K...|off", value_parser = parse_levels, requires = "vectors")]
    pub clusters: ClusterLevels,
    /// Weight (l2 norm) of the cluster-token block; 0 = no cluster tokens.
    /// Default: 0.4 with --vectors, the reused model's weight otherwise.
    #[arg(long, value_name = "W", conflicts_with = "no_word_clusters")]
    pub cluster_weight: Option<f32>,
    /// Words of the vector file kept (most frequent first); each costs about
    /// 16 bytes of model file.
    #[arg(
        long,
        default_value_t = 100_000,
        value_name = "N",
        requires = "vectors"
    )]
    pub vector_words: usize,
    /// After training, evaluate the model on this labelled file and record
    /// the figures, the weakest sources and identity groups in the model
    /// card (`moderate info`). Never used for fitting or tuning.
    #[arg(long, value_name = "FILE")]
    pub eval_data: Option<PathBuf>,
    /// Labelled comments in another language, `LANG=FILE` (LANG one of de,
    /// es, fr, pt; repeat for several languages or files): each language
    /// gets its own word model (its stemmer, its word list, its thresholds),
    /// for the labels its data has, and a language detector routes every
    /// comment to the model of its language. Minutes per language.
    #[arg(long = "language", value_name = "LANG=FILE", value_parser = parse_language_file)]
    pub languages: Vec<(Language, PathBuf)>,
    /// Held-out labelled comments of a language, `LANG=FILE`: evaluated with
    /// that language's model after training and recorded in its card (as
    /// --eval-data does for English). Never used for fitting.
    #[arg(long = "language-eval", value_name = "LANG=FILE", value_parser = parse_language_file)]
    pub language_eval: Vec<(Language, PathBuf)>,
    /// Take the English model (its word model, second stage and recorded
    /// figures) from this model file (`built-in`: the one compiled into
    /// this binary) unchanged instead of training it, and train only the
    /// languages: minutes instead of an hour. --data is still read, to show
    /// the language detector what English looks like.
    #[arg(long, value_name = "MODEL", requires = "languages")]
    pub english_from: Option<PathBuf>,
    /// Seed for fold assignment (and, for the second stage, its held-out
    /// comments, shuffles, head start and dropout).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub second: SecondStageArgs,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub bad: super::rejects::SkipBadArgs,
    #[command(flatten)]
    pub input: InputArgs,
}

/// The second stage's training options.
#[derive(Debug, Clone, Args)]
pub struct SecondStageArgs {
    /// Train the word model only (no second stage): minutes instead of
    /// most of an hour, but no sentence reading.
    #[arg(long, help_heading = "Second stage (sentence encoder)")]
    pub no_encoder: bool,
    /// Folder of the pretrained encoder to start from (config.json,
    /// tokenizer.json, model weights); default: the built-in one
    /// (models/encoder, all-MiniLM-L6-v2 in float16).
    #[arg(
        long,
        value_name = "DIR",
        help_heading = "Second stage (sentence encoder)"
    )]
    pub encoder: Option<PathBuf>,
    /// Top layers of the encoder trained on the labels (the rest stay as
    /// pretrained).
    #[arg(
        long,
        default_value_t = 2,
        value_name = "N",
        help_heading = "Second stage (sentence encoder)"
    )]
    pub encoder_layers: usize,
    /// Passes over the training comments.
    #[arg(
        long,
        default_value_t = 2,
        value_name = "N",
        help_heading = "Second stage (sentence encoder)"
    )]
    pub encoder_epochs: u32,
    /// Word pieces read per comment (the start of a longer one is read).
    #[arg(
        long,
        default_value_t = 128,
        value_name = "N",
        help_heading = "Second stage (sentence encoder)"
    )]
    pub encoder_max_pieces: usize,
    /// Peak learning rate of the trained layers (AdamW).
    #[arg(
        long,
        default_value_t = 5e-5,
        value_name = "LR",
        help_heading = "Second stage (sentence encoder)"
    )]
    pub encoder_lr: f64,
    /// Peak learning rate of the heads.
    #[arg(
        long,
        default_value_t = 1e-3,
        value_name = "LR",
        help_heading = "Second stage (sentence encoder)"
    )]
    pub encoder_head_lr: f64,
    /// Weight of a positive comment's loss for a label, e.g. `violent=8`;
    /// default: round(sqrt(negatives/positives)) as for the word model.
    #[arg(long = "encoder-positive-weight", value_name = "LABEL=W", value_parser = parse_label_value::<f32>, help_heading = "Second stage (sentence encoder)")]
    pub encoder_positive_weight: Vec<(String, f32)>,
    /// Share of the comments held out of the encoder's training, on which
    /// the two readers' combination, the gate and the thresholds are fitted.
    #[arg(
        long,
        default_value_t = 0.15,
        value_name = "P",
        help_heading = "Second stage (sentence encoder)"
    )]
    pub encoder_held_out: f64,
    /// Share of each label's held-out positives the gate must send to the
    /// encoder; the rest of the comments are scored by the word model alone.
    #[arg(
        long,
        default_value_t = 0.98,
        value_name = "R",
        help_heading = "Second stage (sentence encoder)"
    )]
    pub gate_recall: f32,
    /// Train the encoder without counterfactual copies. By default every
    /// second epoch reads copies of the comments that name an identity
    /// group with the group swapped for another (data/identity_swaps.txt),
    /// so the encoder learns what is said, not who is named.
    #[arg(
        long = "no-identity-swaps",
        action = clap::ArgAction::SetFalse,
        help_heading = "Second stage (sentence encoder)"
    )]
    pub swap_identities: bool,
}

/// The store `--data` names, if it names one rather than a comments file
/// (see [`crate::store::Location::looks_like_store`]).
fn store_location(path: &std::path::Path) -> Option<crate::store::Location> {
    let s = path.to_str()?;
    if crate::store::Location::looks_like_store(s) {
        crate::store::Location::parse(s).ok()
    } else {
        None
    }
}

/// Adds `comment` to `comments`, or, when its id was seen before, lets its
/// labels replace the earlier record's (later files win: reviewer decisions
/// override the original labels). Returns true when it replaced.
fn merge_by_id(
    comments: &mut Vec<crate::Comment>,
    by_id: &mut std::collections::HashMap<String, usize>,
    comment: crate::Comment,
) -> bool {
    match by_id.get(&comment.id) {
        Some(&i) => {
            let earlier = &mut comments[i];
            for (label, value) in comment.labels {
                if value.is_some() {
                    earlier.labels.insert(label, value);
                }
            }
            if !comment.text.is_empty() {
                earlier.text = comment.text;
            }
            true
        }
        None => {
            by_id.insert(comment.id.clone(), comments.len());
            comments.push(comment);
            false
        }
    }
}

/// Evaluates `model` on `path` and writes the summary and the limitations it
/// reveals into the model card.
fn record_evaluation(
    model: &mut crate::model::Model,
    path: &std::path::Path,
    input: &InputArgs,
    threads: usize,
) -> Result<()> {
    use crate::bias::IdentityTerms;
    use crate::model::{EvaluationSummary, ModelEvaluation};
    let names: Vec<String> = model.labels.iter().map(|l| l.name.clone()).collect();
    let opts = input.read_options(&names, &["source".to_string()]);
    let mut reader = CommentReader::open(path, &opts).context("cannot read the evaluation data")?;
    let terms = IdentityTerms::builtin();
    let evaluated = crate::evaluate::score_records(
        model,
        reader.by_ref(),
        threads,
        Some("source"),
        Some(&terms),
    )?;
    super::eval::check_label_columns(path, &names, &reader.label_columns_found())?;
    let report = evaluated.report(model, Some(&terms));
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut labels = BTreeMap::new();
    for (name, m) in &report.overall.labels {
        let b = report.bias.as_ref().and_then(|b| b.get(name));
        labels.insert(
            name.clone(),
            EvaluationSummary {
                roc_auc: m.roc_auc,
                pr_auc: m.pr_auc,
                // The model card's format stores numbers: an undefined
                // figure (no positives, or nothing flagged) is stored as 0.
                precision: m.precision.unwrap_or(0.0),
                recall: m.recall.unwrap_or(0.0),
                ece: m.ece,
                positives: m.positives,
                negatives: m.negatives,
                bias_power_means: b.map_or([None; 3], |b| {
                    [
                        b.power_mean_subgroup_auc,
                        b.power_mean_bpsn_auc,
                        b.power_mean_bnsp_auc,
                    ]
                }),
            },
        );
        // Weakest and strongest source.
        let per_source: Vec<(&String, f64)> = report
            .by_group
            .iter()
            .filter(|(g, _)| !g.is_empty())
            .filter_map(|(g, s)| s.labels.get(name).and_then(|l| l.roc_auc).map(|a| (g, a)))
            .collect();
        if per_source.len() >= 2 {
            let worst = per_source.iter().min_by(|a, b| a.1.total_cmp(&b.1));
            let best = per_source.iter().max_by(|a, b| a.1.total_cmp(&b.1));
            if let (Some(w), Some(b)) = (worst, best) {
                model.limitations.push(format!(
                    "`{name}` ranks unevenly across sources of {file}: ROC-AUC {:.3} on {} \
                     but {:.3} on {}.",
                    w.1, w.0, b.1, b.0
                ));
            }
        }
        if let Some(b) = b {
            let weak: Vec<String> = b
                .groups
                .iter()
                .filter(|g| g.aucs.bpsn_auc.is_some_and(|a| a < 0.8))
                .map(|g| format!("{} ({:.2})", g.group, g.aucs.bpsn_auc.unwrap_or(f64::NAN)))
                .collect();
            if !weak.is_empty() {
                model.limitations.push(format!(
                    "`{name}`: comments that mention {} without being {name} tend to score \
                     higher than {name} comments that do not (BPSN AUC below 0.80 on {file}); \
                     treat such flags with care.",
                    weak.join(", ")
                ));
            }
        }
    }
    model.evaluation = Some(ModelEvaluation {
        data_file: file,
        rows: report.overall.rows,
        labels,
    });
    Ok(())
}

/// The mean of the defined per-fold ROC-AUC figures (`None` when none is
/// defined).
pub(super) fn fold_mean(folds: &[f64]) -> Option<f64> {
    // A group fold with one class only (`--cv-by`) has no ROC-AUC.
    let defined: Vec<f64> = folds.iter().copied().filter(|a| !a.is_nan()).collect();
    let mean = defined.iter().sum::<f64>() / defined.len() as f64;
    (!defined.is_empty() && mean.is_finite()).then_some(mean)
}

/// Parses `label=value`.
pub fn parse_label_value<T: std::str::FromStr>(s: &str) -> Result<(String, T), String>
where
    T::Err: std::fmt::Display,
{
    let (label, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected LABEL=VALUE, got `{s}`"))?;
    if value.contains('=') {
        let pairs: Vec<&str> = s.split(',').map(str::trim).collect();
        return Err(format!(
            "one LABEL=VALUE per flag: give the flag once for each of {}",
            pairs.join(", ")
        ));
    }
    let value = value
        .trim()
        .parse()
        .map_err(|e| format!("bad value in `{s}`: {e}"))?;
    Ok((label.trim().to_string(), value))
}

/// Cluster counts per granularity (empty = off).
#[derive(Debug, Clone)]
pub struct ClusterLevels(pub Vec<usize>);

fn parse_levels(s: &str) -> Result<ClusterLevels, String> {
    if s == "off" || s == "none" {
        return Ok(ClusterLevels(Vec::new()));
    }
    let levels: Vec<usize> = s
        .split(',')
        .map(|p| p.trim().parse::<usize>().map_err(|e| format!("`{p}`: {e}")))
        .collect::<Result<_, _>>()?;
    let mut previous = 1;
    for &k in &levels {
        if !(2..=65_536).contains(&k) || k % previous != 0 || k == previous {
            return Err(format!(
                "`{s}`: each cluster count must be between 2 and 65536 and a larger multiple of the one before"
            ));
        }
        previous = k;
    }
    Ok(ClusterLevels(levels))
}

/// A character n-gram range, or none.
#[derive(Debug, Clone, Copy)]
pub struct CharRange(pub Option<(u8, u8)>);

fn parse_range(s: &str) -> Result<CharRange, String> {
    if s == "off" || s == "none" {
        return Ok(CharRange(None));
    }
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("expected MIN-MAX such as 2-5, got `{s}`"))?;
    let a: u8 = a.trim().parse().map_err(|e| format!("`{s}`: {e}"))?;
    let b: u8 = b.trim().parse().map_err(|e| format!("`{s}`: {e}"))?;
    if a == 0 || a > b || b > 10 {
        return Err(format!("`{s}`: need 1 <= MIN <= MAX <= 10"));
    }
    Ok(CharRange(Some((a, b))))
}

const KNOWN_LABELS: [&str; 2] = ["abusive", "violent"];

/// Weight of the cluster-token block built from --vectors.
const DEFAULT_CLUSTER_WEIGHT: f32 = 0.4;

/// Where a logistic model's word clusters come from, as the arguments say.
#[derive(Debug, Clone, PartialEq)]
enum ClusterSource {
    /// Built from `--vectors` (by the training itself).
    Vectors,
    /// Reused from a model file, or from the built-in model (`None`); `true`
    /// when asked for with --word-clusters-from, `false` by default.
    Model(Option<PathBuf>, bool),
    /// None at all (--no-word-clusters).
    Off,
}

impl ClusterSource {
    fn of(args: &TrainArgs) -> ClusterSource {
        if args.vectors.is_some() {
            ClusterSource::Vectors
        } else if args.no_word_clusters {
            ClusterSource::Off
        } else {
            match &args.word_clusters_from {
                Some(p) => ClusterSource::Model(Some(p.clone()), true),
                None => ClusterSource::Model(None, false),
            }
        }
    }
}

/// Word clusters taken from a model, and what the output says about them.
struct ReusedClusters {
    lexicon: Option<std::sync::Arc<crate::features::Lexicon>>,
    weight: f32,
    line: String,
}

impl ReusedClusters {
    /// Puts the clusters into `config`.
    fn apply(&self, config: &mut TrainConfig) {
        if let Some(lexicon) = &self.lexicon {
            config.ngrams.lexicon = Some(lexicon.clone());
            config.ngrams.cluster_weight = self.weight;
        }
    }
}

/// Without --vectors, the word clusters stored in the model the arguments
/// name (by default the built-in one), so that a retrained model keeps the
/// shipped model's clusters; `None` when --vectors builds them. Stops,
/// saying what is missing, when the model cannot give what it has: an
/// explicitly named model without clusters, or a model whose pooled
/// word-vector block needs the vectors themselves.
fn clusters_to_reuse(args: &TrainArgs) -> Result<Option<ReusedClusters>> {
    let (path, explicit) = match ClusterSource::of(args) {
        ClusterSource::Vectors => return Ok(None),
        ClusterSource::Off => {
            return Ok(Some(ReusedClusters {
                lexicon: None,
                weight: 0.0,
                line: "word clusters: none (--no-word-clusters)".to_string(),
            }));
        }
        ClusterSource::Model(path, explicit) => (path, explicit),
    };
    let name = path.as_ref().map_or("the built-in model".to_string(), |p| {
        p.display().to_string()
    });
    let source = super::load_model(path.as_deref())
        .with_context(|| format!("cannot read the word clusters of {name}"))?;
    let Some(lexicon) = source.features.ngrams.lexicon.clone() else {
        if explicit {
            return Err(UsageError(format!(
                "--word-clusters-from: {name} has no word clusters; --vectors FILE builds them \
                 (the README's \"Where the inputs come from\" says where the shipped model's \
                 vectors come from)"
            ))
            .into());
        }
        return Ok(Some(ReusedClusters {
            lexicon: None,
            weight: 0.0,
            line: format!(
                "word clusters: none ({name} has none to reuse; --vectors FILE builds them)"
            ),
        }));
    };
    if let (Some(prior), false) = (&source.semantic, explicit) {
        return Err(UsageError(format!(
            "{name} also has a pooled word-vector block (mean word vector of {}, weight {}), \
             which cannot be rebuilt from the model: give --vectors FILE (the same vectors) and \
             --semantic-weight {} to keep it, --word-clusters-from MODEL to keep the clusters \
             alone, or --no-word-clusters",
            prior.config.source, prior.config.weight, prior.config.weight
        ))
        .into());
    }
    let weight = args
        .cluster_weight
        .unwrap_or(source.features.ngrams.cluster_weight);
    let line = format!(
        "word clusters: {} words at {} clusters, reused from {name}{}",
        lexicon.len(),
        lexicon
            .levels
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join("/"),
        if explicit {
            String::new()
        } else {
            " (no --vectors given; --no-word-clusters trains without)".to_string()
        }
    );
    Ok(Some(ReusedClusters {
        lexicon: Some(lexicon),
        weight,
        line,
    }))
}

/// Parses `LANG=FILE` for --language and --language-eval.
fn parse_language_file(s: &str) -> Result<(Language, PathBuf), String> {
    let (code, path) = s
        .split_once('=')
        .ok_or_else(|| format!("expected LANG=FILE such as de=de/train.csv, not `{s}`"))?;
    let language = Language::from_code(code).ok_or_else(|| {
        format!("`{code}` is not a language moderate trains (de, es, fr, pt; English is --data)")
    })?;
    if language == Language::En {
        return Err("English is the main model: give its comments with --data".into());
    }
    if path.is_empty() {
        return Err(format!("no file after `{code}=`"));
    }
    Ok((language, PathBuf::from(path)))
}

/// The training settings the arguments describe, for `labels`.
fn train_config(args: &TrainArgs, labels: Vec<String>) -> TrainConfig {
    let threshold = match (args.target_precision, args.target_recall) {
        (Some(p), _) => ThresholdRule::Precision(p),
        (_, Some(r)) => ThresholdRule::Recall(r),
        _ => ThresholdRule::MaxF1,
    };
    let alphas = match &args.alpha {
        Some(a) => a.clone(),
        None if args.folds >= 2 || args.cv_by.is_some() => vec![0.1, 0.25, 0.5, 1.0],
        None => vec![0.25],
    };
    TrainConfig {
        labels,
        analyzer: crate::text::AnalyzerConfig {
            negation: args.negation,
            deobfuscate: !args.no_deobfuscate,
            fold_confusables: !args.no_deobfuscate,
            identity_mask: args
                .blind_identities
                .then(|| std::sync::Arc::new(crate::text::identity::IdentityMask::builtin())),
            ..Default::default()
        },
        ngrams: NgramConfig {
            word_bigrams: !args.no_bigrams,
            char_ngrams: args.char_ngrams.0,
            norm_unselected: !args.norm_selected_only,
            norm_per_block: !args.norm_whole_row,
            lexicon: None,
            cluster_weight: args.cluster_weight.unwrap_or(DEFAULT_CLUSTER_WEIGHT),
        },
        min_df: args.min_df,
        max_features: args.max_features,
        logistic: LogisticSettings {
            alpha: alphas.first().copied().unwrap_or(0.25),
            max_iterations: args.max_iterations,
            presolve: !args.no_presolve,
            ..Default::default()
        },
        alphas,
        positive_repeat: args
            .positive_repeat
            .iter()
            .cloned()
            .collect::<BTreeMap<_, _>>(),
        folds: args.folds,
        cv_by: args.cv_by.clone(),
        threshold,
        seed: args.seed,
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        semantic: args
            .vectors
            .as_ref()
            .map(|path| crate::train::SemanticSettings {
                vectors: path.clone(),
                weight: args.semantic_weight,
                max_words: args.vector_words,
                clusters: args.clusters.0.clone(),
            }),
        known_words_max: args.known_words_max,
        augment: args
            .augment
            .map(|rate| Augmentation::with_all_tricks(rate, args.augment_seed)),
    }
}

/// The streaming learner's settings the arguments describe.
fn streaming_settings(args: &TrainArgs) -> StreamingSettings {
    let d = StreamingSettings::default();
    StreamingSettings {
        ftrl: FtrlSettings {
            alpha: args.ftrl_alpha.unwrap_or(d.ftrl.alpha),
            beta: args.ftrl_beta.unwrap_or(d.ftrl.beta),
            l1: args.ftrl_l1.unwrap_or(d.ftrl.l1),
            l2: args.ftrl_l2.unwrap_or(d.ftrl.l2),
            zero_start: !args.ftrl_random_start,
        },
        epochs: args.epochs.unwrap_or(d.epochs),
        batch_size: args.batch_size.unwrap_or(d.batch_size),
        holdout_every: args.holdout_every.unwrap_or(d.holdout_every),
        hash_buckets: args.hash_buckets.unwrap_or(d.hash_buckets),
        shuffle_buffer: args.shuffle_buffer.unwrap_or(d.shuffle_buffer),
        ..d
    }
}

/// Refuses outputs that are inputs, then starts the model file, so that a
/// path that cannot be written fails before the fit rather than after it.
fn start_output(args: &TrainArgs) -> Result<AtomicFile> {
    let mut inputs: Vec<&Path> = args.data.iter().map(PathBuf::as_path).collect();
    inputs.extend(args.eval_data.as_deref());
    inputs.extend(
        args.english_from
            .as_deref()
            .filter(|p| *p != Path::new("built-in")),
    );
    inputs.extend(args.languages.iter().map(|(_, p)| p.as_path()));
    inputs.extend(args.language_eval.iter().map(|(_, p)| p.as_path()));
    let mut outputs = vec![("--out", args.out.as_path())];
    if let Some(r) = &args.bad.rejects {
        outputs.push(("--rejects", r.as_path()));
    }
    super::files::refuse_overwriting(&inputs, &outputs)?;
    let file = AtomicFile::create(&args.out).context("cannot write the model")?;
    // An --eval-data file that cannot be read, or a CSV one without labels,
    // fails now rather than after the fit.
    if let Some(path) = &args.eval_data {
        let labels = args
            .labels
            .clone()
            .unwrap_or_else(|| KNOWN_LABELS.iter().map(|s| s.to_string()).collect());
        let reader = CommentReader::open(path, &args.input.read_options(&labels, &[]))
            .context("cannot read the evaluation data")?;
        let found = reader.label_columns_found();
        if reader.format() != crate::io::InputFormat::Jsonl && found.is_empty() {
            super::eval::check_label_columns(path, &labels, &found)?;
        }
    }
    Ok(file)
}

/// Writes `model` into the file started by [`start_output`]; returns its size.
fn finish_output(mut file: AtomicFile, model: &crate::model::Model) -> Result<usize> {
    let bytes = crate::model::to_bytes(model)?;
    file.write_all(&bytes)
        .map_err(|e| crate::Error::io(file.path(), e))?;
    file.commit()?;
    Ok(bytes.len())
}

/// Runs `moderate train --learner ftrl`: the streaming learner reads the
/// files in passes and never holds them in memory.
fn run_ftrl(args: TrainArgs, started: Instant) -> Result<ExitCode> {
    if args.word_clusters_from.is_some() || args.cluster_weight.is_some() {
        return Err(UsageError(
            "--word-clusters-from and --cluster-weight are logistic-learner options: the ftrl \
             learner trains without word clusters"
                .into(),
        )
        .into());
    }
    if args.alpha.is_some() || args.no_presolve {
        return Err(UsageError(
            "--alpha and --no-presolve are logistic-learner options; the ftrl learner takes \
             --ftrl-alpha, --ftrl-beta, --ftrl-l1 and --ftrl-l2"
                .into(),
        )
        .into());
    }
    if args.augment.is_some() {
        return Err(UsageError(
            "--augment is a logistic-learner option: the ftrl learner streams its input and \
             makes no copies"
                .into(),
        )
        .into());
    }
    if args.bad.skip_bad {
        // The streaming learner reads the files several times; skipping
        // would have to reject the same records identically on every pass.
        return Err(UsageError(
            "--skip-bad is not supported with --learner ftrl: fix or remove the malformed records (`moderate eval --skip-bad --rejects FILE` lists them) and train again"
                .into(),
        )
        .into());
    }
    if let Some(store) = args.data.iter().find(|p| store_location(p).is_some()) {
        return Err(UsageError(format!(
            "--data {}: the ftrl learner streams files; write the store's decisions out first \
             (`moderate store export --store {} --out decisions.csv`) and pass that file",
            store.display(),
            store.display()
        ))
        .into());
    }
    let model_file = start_output(&args)?;
    let explicit = args.labels.is_some();
    let candidates: Vec<String> = match &args.labels {
        Some(l) => l.clone(),
        None => KNOWN_LABELS.iter().map(|s| s.to_string()).collect(),
    };
    let config = train_config(&args, candidates.clone());
    let settings = streaming_settings(&args);
    let opts = args
        .input
        .read_options(&candidates, &["source".to_string()]);
    let show = super::stderr_is_terminal();
    let progress = |line: &str| {
        if show {
            eprintln!("{line}");
        }
    };
    let (mut model, report, stream) =
        train_streaming(&args.data, &opts, &config, &settings, explicit, &progress)
            .context("training failed")?;
    if let Some(path) = &args.eval_data {
        record_evaluation(&mut model, path, &args.input, config.threads)?;
    }
    let size = finish_output(model_file, &model)?;
    let mut out = String::new();
    writeln!(
        out,
        "trained on {} comments from {} (streaming FTRL learner; {} held out for calibration)",
        stream.rows,
        model.training.data_files.join(", "),
        stream.held_out
    )?;
    writeln!(
        out,
        "{:<10} {:>9} {:>9} {:>11} {:>7} {:>10} {:>12} {:>8}",
        "label",
        "positive",
        "negative",
        "unlabelled",
        "repeat",
        "threshold",
        "holdout_auc",
        "updates"
    )?;
    for l in &model.labels {
        let c = report.rows.get(&l.name).copied().unwrap_or_default();
        let (updates, _, auc) = stream.labels.get(&l.name).copied().unwrap_or_default();
        writeln!(
            out,
            "{:<10} {:>9} {:>9} {:>11} {:>7} {:>10.3} {:>12} {:>8}",
            l.name,
            c[0],
            c[1],
            c[2],
            l.positive_repeat,
            l.threshold,
            auc.map_or("-".to_string(), |a| format!("{a:.4}")),
            updates
        )?;
    }
    let passes: Vec<String> = stream
        .pass_seconds
        .iter()
        .map(|(name, s)| format!("{name} {s:.1}s"))
        .collect();
    writeln!(
        out,
        "features: {} (of about {} n-grams; {} candidate buckets, {} n-grams counted exactly{}); \
         {}; total {:.1}s",
        report.features,
        stream.estimated_ngrams,
        stream.candidate_buckets,
        stream.exact_ngrams,
        if stream.exact_prunes > 0 {
            format!(", rarest dropped {} times at the cap", stream.exact_prunes)
        } else {
            String::new()
        },
        passes.join(", "),
        started.elapsed().as_secs_f64()
    )?;
    writeln!(out, "wrote {} ({} bytes)", args.out.display(), size)?;
    super::files::print(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// Fits the second stage onto `model` (trained on `comments`).
fn fit_second_stage(
    args: &TrainArgs,
    config: &TrainConfig,
    comments: &[crate::Comment],
    model: &mut crate::model::Model,
    report: &crate::train::TrainReport,
    show: bool,
) -> Result<()> {
    use crate::encoder::fit::{StageProgress, StageSettings, WordModelView};
    use crate::encoder::train::TopSettings;
    let second = &args.second;
    let base = match &second.encoder {
        Some(dir) => crate::encoder::BaseEncoder::from_dir(dir),
        None => crate::encoder::BaseEncoder::builtin(),
    }
    .context("cannot load the encoder")?;
    let labels: Vec<String> = model.labels.iter().map(|l| l.name.clone()).collect();
    let mut positive_weight = Vec::new();
    for l in &labels {
        let c = report.rows.get(l).copied().unwrap_or_default();
        let default = ((c[1] as f64 / c[0].max(1) as f64).sqrt().round() as f32).max(1.0);
        let given = second
            .encoder_positive_weight
            .iter()
            .find(|(name, _)| name == l)
            .map(|(_, w)| *w);
        positive_weight.push(given.unwrap_or(default));
    }
    if let Some((name, _)) = second
        .encoder_positive_weight
        .iter()
        .find(|(name, _)| !labels.contains(name))
    {
        return Err(UsageError(format!(
            "--encoder-positive-weight: the model has no label `{name}`"
        ))
        .into());
    }
    let settings = StageSettings {
        max_pieces: second.encoder_max_pieces,
        trained_layers: second.encoder_layers,
        top: TopSettings {
            epochs: second.encoder_epochs,
            layer_lr: second.encoder_lr,
            head_lr: second.encoder_head_lr,
            positive_weight,
            seed: config.seed,
            threads: config.threads,
            ..TopSettings::default()
        },
        held_out_share: second.encoder_held_out,
        gate_recall: second.gate_recall,
        threshold: config.threshold,
        swap_identities: second.swap_identities,
    };
    let group_of: Vec<u32> = match &config.cv_by {
        Some(column) => comments
            .iter()
            .map(|c| {
                let v = c.fields.get(column).map_or("", String::as_str);
                report
                    .fold_names
                    .binary_search_by(|n| n.as_str().cmp(v))
                    .unwrap_or(0) as u32
            })
            .collect(),
        None => Vec::new(),
    };
    let view = WordModelView {
        labels: &labels,
        out_of_fold: &report.out_of_fold,
        calibration: model.labels.iter().map(|l| l.calibration).collect(),
        groups: config
            .cv_by
            .as_deref()
            .map(|column| crate::encoder::fit::Groups {
                column,
                names: &report.fold_names,
                of: &group_of,
            }),
    };
    let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
    let ids: Vec<&str> = comments.iter().map(|c| c.id.as_str()).collect();
    let targets: Vec<Vec<Option<bool>>> = comments
        .iter()
        .map(|c| {
            labels
                .iter()
                .map(|l| c.labels.get(l).copied().flatten())
                .collect()
        })
        .collect();
    let started = Instant::now();
    let last_cache_report = std::sync::Mutex::new(0usize);
    let first_step = std::sync::Mutex::new(None::<(f64, usize)>);
    let progress = |p: StageProgress| {
        if !show {
            return;
        }
        let elapsed = started.elapsed().as_secs_f64();
        match p {
            StageProgress::Tokenized {
                rows,
                mean_pieces,
                truncated,
                held_out,
                counterfactual,
            } => eprintln!(
                "second stage: {rows} comments, {mean_pieces:.1} word pieces on average, \
                 {truncated} cut to {} pieces; {held_out} held out to combine the readers; \
                 {counterfactual} counterfactual copies",
                second.encoder_max_pieces
            ),
            StageProgress::Caching { done, total } => {
                let mut last = last_cache_report.lock().unwrap_or_else(|e| e.into_inner());
                if done >= *last + total / 20 || done == total {
                    *last = done;
                    eprintln!(
                        "second stage: pretrained layers read {done}/{total} comments ({elapsed:.0}s)"
                    );
                }
            }
            StageProgress::Step(r) => {
                // The rate since the first step reported (not since the
                // start, which includes reading the pretrained layers).
                let mut first = first_step.lock().unwrap_or_else(|e| e.into_inner());
                if first.is_none_or(|(_, s0)| r.step < s0) {
                    // The first step, or a new training (a held-out group).
                    *first = Some((elapsed, r.step));
                }
                let (t0, s0) = first.unwrap_or((elapsed, r.step));
                let rate = (elapsed - t0) / (r.step - s0).max(1) as f64;
                let left = if r.step > s0 {
                    rate * (r.steps - r.step) as f64
                } else {
                    elapsed / r.step.max(1) as f64 * (r.steps - r.step) as f64
                };
                eprintln!(
                    "second stage: epoch {} step {}/{}, loss {:.4} ({elapsed:.0}s, about {:.0} min left)",
                    r.epoch,
                    r.step,
                    r.steps,
                    r.loss,
                    left / 60.0
                );
            }
            StageProgress::GroupFold { group, fold, folds } => eprintln!(
                "second stage: held-out group {fold}/{folds}: training the encoder top without \
                 `{group}`"
            ),
            StageProgress::Label(l) => eprintln!(
                "second stage: {} held out: ROC-AUC words {} encoder {} both {}; gate passes {:.1}%, \
                 misses {:.1}% of positives",
                l.name,
                fmt_auc(l.figures.word_roc_auc),
                fmt_auc(l.figures.encoder_roc_auc),
                fmt_auc(l.figures.combined_roc_auc),
                100.0 * l.figures.gate_pass,
                100.0 * l.figures.gate_miss
            ),
        }
    };
    let stage = crate::encoder::fit::fit_second_stage(
        &base, &texts, &ids, &targets, &view, &settings, &progress,
    )
    .context("training the second stage failed")?;
    model.second_stage = Some(stage);
    model
        .attach_encoder(&base)
        .context("cannot load the second stage just trained")?;
    Ok(())
}

/// A ROC-AUC to 4 decimals, or `-`.
fn fmt_auc(a: Option<f64>) -> String {
    a.map_or("-".into(), |a| format!("{a:.4}"))
}

/// Runs `moderate train`.
pub fn run(args: TrainArgs) -> Result<ExitCode> {
    let started = Instant::now();
    if args.learner == Learner::Ftrl {
        return run_ftrl(args, started);
    }
    if let Some((language, _)) = args
        .language_eval
        .iter()
        .find(|(l, _)| !args.languages.iter().any(|(t, _)| t == l))
    {
        return Err(UsageError(format!(
            "--language-eval {language}=... has no --language {language}=... to train on"
        ))
        .into());
    }
    let model_file = start_output(&args)?;
    // A model to reuse clusters from that cannot be read fails now, not
    // after the data is read.
    let reused = clusters_to_reuse(&args)?;
    let candidates: Vec<String> = match &args.labels {
        Some(l) => l.clone(),
        None => KNOWN_LABELS.iter().map(|s| s.to_string()).collect(),
    };
    let mut keep = vec!["source".to_string()];
    if let Some(field) = &args.cv_by
        && !keep.contains(field)
    {
        keep.push(field.clone());
    }
    let mut comments = Vec::new();
    let mut found: Vec<String> = Vec::new();
    let mut file_names = Vec::new();
    let mut by_id: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut overridden = 0u64;
    let mut bad = super::rejects::BadRecords::new(&args.bad)?;
    for path in &args.data {
        if let Some(location) = store_location(path) {
            // Decisions from a store, in the order stored: as with a
            // decisions CSV, a later decision on an id replaces the earlier.
            let mut store = crate::store::Store::open(&location)
                .with_context(|| format!("--data {}", path.display()))?;
            for comment in crate::store::transfer::decisions_as_comments(&mut store)
                .with_context(|| format!("--data {}", path.display()))?
            {
                for label in comment.labels.keys() {
                    if candidates.contains(label) && !found.contains(label) {
                        found.push(label.clone());
                    }
                }
                overridden += u64::from(merge_by_id(&mut comments, &mut by_id, comment));
            }
            file_names.push(location.to_string());
            continue;
        }
        let opts = args.input.read_options(&candidates, &keep);
        let mut reader = super::files::open_comments(path, &opts)?;
        // Without an id column, record numbers would collide across files.
        let ids_are_record_numbers = reader
            .columns()
            .is_some_and(|cols| !cols.contains(&args.input.id_column));
        for record in reader.by_ref() {
            let mut comment = match record {
                Ok(c) => c,
                Err(e) => {
                    bad.handle(e)?;
                    continue;
                }
            };
            if ids_are_record_numbers {
                comment.id = format!("{}#{}", path.display(), comment.id);
            }
            overridden += u64::from(merge_by_id(&mut comments, &mut by_id, comment));
        }
        for l in reader.label_columns_found() {
            if !found.contains(&l) {
                found.push(l);
            }
        }
        file_names.push(path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ));
    }
    let labels: Vec<String> = if let Some(l) = &args.labels {
        if let Some(missing) = l.iter().find(|l| !found.contains(l)) {
            return Err(UsageError(format!(
                "label column `{missing}` not found in the training data"
            ))
            .into());
        }
        l.clone()
    } else {
        candidates
            .into_iter()
            .filter(|l| found.contains(l))
            .collect()
    };
    if labels.is_empty() {
        return Err(UsageError(
            "no label columns (`abusive`, `violent`) in the training data; name them with --labels"
                .into(),
        )
        .into());
    }
    let mut config = train_config(&args, labels.clone());
    if let Some(r) = &reused {
        r.apply(&mut config);
    }
    let show = super::stderr_is_terminal();
    let progress = |p: Progress| {
        if !show {
            return;
        }
        match p {
            Progress::Vectorizing { rows } => eprintln!("vectorising {rows} comments..."),
            Progress::Vectorized {
                features,
                candidates,
            } => eprintln!("selected {features} of {candidates} features; fitting..."),
            Progress::FitDone {
                label,
                fold,
                roc_auc,
                done,
                total,
            } => match (fold, roc_auc) {
                (Some(f), Some(a)) => {
                    eprintln!(
                        "[{done}/{total}] {label} fold {}: held-out ROC-AUC {a:.4}",
                        f + 1
                    )
                }
                _ => eprintln!("[{done}/{total}] {label}: final fit done"),
            },
        }
    };
    let (mut model, report) = match &args.english_from {
        Some(path) => {
            let mut model = if path == Path::new("built-in") {
                crate::model::load_bytes(crate::DEFAULT_MODEL_BYTES, path)
            } else {
                crate::model::load(path)
            }
            .with_context(|| format!("--english-from {}", path.display()))?;
            if !model.languages.models.is_empty() {
                model.languages = Default::default();
            }
            crate::encoder::prepare(&mut model, args.second.encoder.as_deref(), false)
                .context("cannot attach the English model's encoder")?;
            if args.eval_data.is_some() {
                // Evaluated again below: the figures it recorded go, as do
                // the limitations they wrote.
                model.limitations =
                    crate::train::standard_limitations(&model.training.label_counts);
            }
            (model, None)
        }
        None => {
            let (mut model, report) =
                crate::train::train(&comments, &file_names, &config, &progress)
                    .context("training failed")?;
            if !args.second.no_encoder {
                fit_second_stage(&args, &config, &comments, &mut model, &report, show)?;
            }
            (model, Some(report))
        }
    };
    let mut out = String::new();
    if !args.languages.is_empty() {
        let lines = train_languages(&args, &config, &comments, &mut model, &mut bad, &progress)?;
        out.push_str(&lines);
    }
    if let Some(path) = &args.eval_data {
        record_evaluation(&mut model, path, &args.input, config.threads)?;
    }
    let size = finish_output(model_file, &model)?;
    bad.finish()?;
    let mut english = String::new();
    if let Some(report) = &report {
        english_summary(
            &mut english,
            &args,
            &model,
            report,
            &file_names,
            &comments,
            overridden,
            &bad,
            reused.as_ref().map(|r| r.line.as_str()),
        )?;
    } else if let Some(path) = &args.english_from {
        taken_english_summary(&mut english, &model, path)?;
    }
    let mut out = english + &out;
    writeln!(out, "wrote {} ({} bytes)", args.out.display(), size)?;
    writeln!(out, "total {:.1}s", started.elapsed().as_secs_f64())?;
    super::files::print(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// The header of the per-label table of the training summary.
fn label_table_header(out: &mut String) -> Result<()> {
    writeln!(
        out,
        "{:<10} {:>9} {:>9} {:>11} {:>7} {:>10} {:>10} {:>9}",
        "label",
        "positive",
        "negative",
        "unlabelled",
        "repeat",
        "threshold",
        "pooled_auc",
        "fold_mean"
    )?;
    Ok(())
}

/// One label's row of that table: its (positive, negative, unlabelled)
/// counts `c`, class weighting, threshold and cross-validated ROC-AUC.
fn label_table_row(out: &mut String, l: &crate::model::LabelModel, c: [u64; 3]) -> Result<()> {
    let (pooled, mean) = l.cross_validation.as_ref().map_or_else(
        || ("-".to_string(), "-".to_string()),
        |cv| {
            (
                format!("{:.4}", cv.roc_auc),
                fold_mean(&cv.fold_roc_auc).map_or("-".to_string(), |m| format!("{m:.4}")),
            )
        },
    );
    writeln!(
        out,
        "{:<10} {:>9} {:>9} {:>11} {:>7} {:>10.3} {:>10} {:>9}",
        l.name, c[0], c[1], c[2], l.positive_repeat, l.threshold, pooled, mean
    )?;
    Ok(())
}

/// The English model's part of the summary when it was taken from a file
/// (`--english-from`): what that file's card records.
fn taken_english_summary(out: &mut String, model: &crate::model::Model, from: &Path) -> Result<()> {
    let t = &model.training;
    writeln!(
        out,
        "English model: taken unchanged from {} (--english-from), as it was trained:",
        from.display()
    )?;
    writeln!(
        out,
        "trained on {} comments from {}",
        t.rows,
        t.data_files.join(", ")
    )?;
    label_table_header(out)?;
    for l in &model.labels {
        let c = t.label_counts.get(&l.name).copied().unwrap_or_default();
        label_table_row(out, l, c)?;
        if let Some(cv) = &l.cross_validation {
            let folds: Vec<String> = cv.fold_roc_auc.iter().map(|a| format!("{a:.4}")).collect();
            writeln!(out, "  {} per-fold ROC-AUC: {}", l.name, folds.join(" "))?;
        }
    }
    if let Some(stage) = &model.second_stage {
        writeln!(
            out,
            "second stage: encoder top trained on {} comments, {} held out",
            stage.recipe.train_rows, stage.recipe.held_out_rows
        )?;
    }
    writeln!(
        out,
        "features: {} (of {} candidates); the English model's",
        model.features.len(),
        t.candidate_features
    )?;
    Ok(())
}

/// The English model's part of the training summary.
#[allow(clippy::too_many_arguments)]
fn english_summary(
    out: &mut String,
    args: &TrainArgs,
    model: &crate::model::Model,
    report: &crate::train::TrainReport,
    file_names: &[String],
    comments: &[crate::Comment],
    overridden: u64,
    bad: &super::rejects::BadRecords,
    reused_line: Option<&str>,
) -> Result<()> {
    writeln!(
        out,
        "trained on {} comments from {}{}",
        comments.len(),
        file_names.join(", "),
        if report.augmented_rows > 0 {
            format!(
                " and {} perturbed copies (--augment {})",
                report.augmented_rows,
                args.augment.unwrap_or_default()
            )
        } else {
            String::new()
        }
    )?;
    match &model.analyzer.known_words {
        Some(known_words) => writeln!(
            out,
            "word list: {} words (for resolving obfuscated words)",
            known_words.len()
        )?,
        None => writeln!(out, "word list: none (obfuscated words are not resolved)")?,
    }
    if let Some(line) = reused_line {
        writeln!(out, "{line}")?;
    } else if let Some(lexicon) = model.features.ngrams.lexicon.as_deref() {
        writeln!(
            out,
            "word clusters: {} words of the vectors at {} clusters",
            lexicon.len(),
            lexicon
                .levels
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join("/")
        )?;
    }
    if bad.skipping() || bad.rejected > 0 {
        writeln!(
            out,
            "{} records rejected as malformed (--skip-bad); {} records read",
            bad.rejected,
            comments.len() as u64 + overridden + bad.rejected
        )?;
    }
    if overridden > 0 {
        writeln!(
            out,
            "{overridden} records repeated an earlier id; their labels replaced the earlier ones \
             (e.g. reviewer decisions)"
        )?;
    }
    label_table_header(out)?;
    let mut cross_validated = false;
    for l in &model.labels {
        let c = report.rows.get(&l.name).copied().unwrap_or_default();
        label_table_row(out, l, c)?;
        if let Some(cv) = &l.cross_validation {
            cross_validated = true;
            let auc = |a: &f64| {
                if a.is_nan() {
                    "-".to_string()
                } else {
                    format!("{a:.4}")
                }
            };
            if report.fold_names.is_empty() {
                let folds: Vec<String> = cv.fold_roc_auc.iter().map(auc).collect();
                writeln!(out, "  {} per-fold ROC-AUC: {}", l.name, folds.join(" "))?;
            } else {
                let folds: Vec<String> = report
                    .fold_names
                    .iter()
                    .zip(&cv.fold_roc_auc)
                    .map(|(n, a)| format!("{n} {}", auc(a)))
                    .collect();
                let defined = cv.fold_roc_auc.iter().filter(|a| !a.is_nan()).count();
                writeln!(
                    out,
                    "  {} held-out-group ROC-AUC (groups with both classes: {}): {}",
                    l.name,
                    defined,
                    folds.join(", ")
                )?;
            }
        }
    }
    if cross_validated {
        writeln!(
            out,
            "pooled_auc: ROC-AUC of every fold's held-out predictions taken together (what the \
             calibration and threshold are fitted on); it can sit below every fold's figure when the \
             fold models score on different scales, as on small data. fold_mean: the mean \
             of the per-fold figures."
        )?;
    }
    if let Some(stage) = &model.second_stage {
        writeln!(
            out,
            "second stage: encoder top trained on {} comments, {} held out to combine the \
             readers, gate and thresholds",
            stage.recipe.train_rows, stage.recipe.held_out_rows
        )?;
        writeln!(
            out,
            "{:<10} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "label", "threshold", "words_auc", "enc_auc", "both_auc", "gate_pass", "gate_miss"
        )?;
        if let Some(cv) = &stage.group_cv {
            for (l, label) in stage.labels.iter().enumerate() {
                let per: Vec<String> = cv
                    .groups
                    .iter()
                    .zip(&cv.combined_roc_auc[l])
                    .map(|(g, a)| format!("{g} {}", fmt_auc(*a)))
                    .collect();
                writeln!(
                    out,
                    "  {} held-out-{} ROC-AUC, both readers: mean {} (words alone {}, encoder \
                     alone {}): {}",
                    label.name,
                    cv.column,
                    fmt_auc(crate::encoder::stage::GroupCv::mean(
                        &cv.combined_roc_auc[l]
                    )),
                    fmt_auc(crate::encoder::stage::GroupCv::mean(&cv.word_roc_auc[l])),
                    fmt_auc(crate::encoder::stage::GroupCv::mean(&cv.encoder_roc_auc[l])),
                    per.join(", ")
                )?;
            }
        }
        for l in &stage.labels {
            let g = &l.figures;
            writeln!(
                out,
                "{:<10} {:>9.3} {:>10} {:>10} {:>10} {:>9.1}% {:>9.1}%",
                l.name,
                l.threshold,
                fmt_auc(g.word_roc_auc),
                fmt_auc(g.encoder_roc_auc),
                fmt_auc(g.combined_roc_auc),
                100.0 * g.gate_pass,
                100.0 * g.gate_miss
            )?;
        }
    }
    writeln!(
        out,
        "features: {} (of {} candidates); vectorise {:.1}s, fit {:.1}s",
        report.features,
        model.training.candidate_features,
        report.vectorize_seconds,
        report.fit_seconds,
    )?;
    Ok(())
}

/// Reads one language's comments (CSV or JSONL), as `--data` is read.
fn read_language_file(
    args: &TrainArgs,
    path: &Path,
    labels: &[String],
    bad: &mut super::rejects::BadRecords,
) -> Result<Vec<crate::Comment>> {
    let keep = vec!["source".to_string()];
    let opts = args.input.read_options(labels, &keep);
    let mut reader = super::files::open_comments(path, &opts)?;
    let mut comments = Vec::new();
    for record in reader.by_ref() {
        match record {
            Ok(mut c) => {
                c.id = format!("{}#{}", path.display(), c.id);
                comments.push(c);
            }
            Err(e) => bad.handle(e)?,
        }
    }
    Ok(comments)
}

/// Trains a word model per `--language`, evaluates those given
/// `--language-eval`, trains the language detector and puts them all in
/// `model`. Returns the summary lines.
fn train_languages(
    args: &TrainArgs,
    config: &TrainConfig,
    english: &[crate::Comment],
    model: &mut crate::model::Model,
    bad: &mut super::rejects::BadRecords,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<String> {
    use crate::train::languages;
    let labels: Vec<String> = model.labels.iter().map(|l| l.name.clone()).collect();
    let mut by_language: BTreeMap<Language, (Vec<crate::Comment>, Vec<String>)> = BTreeMap::new();
    for (language, path) in &args.languages {
        let comments = read_language_file(args, path, &labels, bad)
            .with_context(|| format!("--language {language}={}", path.display()))?;
        let entry = by_language.entry(*language).or_default();
        entry.0.extend(comments);
        // The folder as well: each language's files are often all `train.csv`.
        let tail: Vec<String> = path
            .components()
            .rev()
            .take(2)
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        entry
            .1
            .push(tail.into_iter().rev().collect::<Vec<_>>().join("/"));
    }
    let mut out = String::new();
    writeln!(
        out,
        "{:<4} {:<10} {:>9} {:>9} {:>11} {:>10} {:>10} {:>9}",
        "lang", "label", "positive", "negative", "unlabelled", "threshold", "cv_auc", "eval_auc"
    )?;
    let mut nested_models = BTreeMap::new();
    for (language, (comments, files)) in &by_language {
        let (mut nested, _) =
            languages::train_language(*language, comments, files, config, progress)
                .with_context(|| format!("training the {} model failed", language.name()))?;
        for (l, path) in args.language_eval.iter().filter(|(l, _)| l == language) {
            let _ = l;
            record_evaluation(&mut nested, path, &args.input, config.threads)
                .with_context(|| format!("--language-eval {language}={}", path.display()))?;
        }
        for label in &labels {
            let Some(l) = nested.labels.iter().find(|x| &x.name == label) else {
                writeln!(
                    out,
                    "{:<4} {label:<10} no model: its data has too few of one class",
                    language.code()
                )?;
                continue;
            };
            let c = nested
                .training
                .label_counts
                .get(label)
                .copied()
                .unwrap_or_default();
            let cv = l
                .cross_validation
                .as_ref()
                .map_or("-".to_string(), |cv| format!("{:.4}", cv.roc_auc));
            let eval = nested
                .evaluation
                .as_ref()
                .and_then(|e| e.labels.get(label))
                .map_or("-".to_string(), |e| fmt_auc(e.roc_auc));
            writeln!(
                out,
                "{:<4} {label:<10} {:>9} {:>9} {:>11} {:>10.3} {:>10} {:>9}",
                language.code(),
                c[0],
                c[1],
                c[2],
                l.threshold,
                cv,
                eval
            )?;
        }
        nested_models.insert(*language, nested);
    }
    let mut samples: Vec<(Language, Vec<&str>)> = vec![(
        Language::En,
        english.iter().map(|c| c.text.as_str()).collect(),
    )];
    for (language, (comments, _)) in &by_language {
        samples.push((
            *language,
            comments.iter().map(|c| c.text.as_str()).collect(),
        ));
    }
    let detector = languages::train_detector(&samples);
    writeln!(
        out,
        "language detector: {} languages, trained on {} comments",
        detector.languages.len(),
        detector.trained_on.iter().sum::<u32>()
    )?;
    model.languages = crate::model::LanguageModels {
        detector: Some(detector),
        models: nested_models,
    };
    Ok(out)
}

//! `moderate info`: the model card.

use anyhow::{Context, Result};
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `moderate info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Model file (default: the built-in default model).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<PathBuf>,
    /// Print the card as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `moderate info`.
pub fn run(args: InfoArgs) -> Result<ExitCode> {
    let (model, file) =
        super::load_model_with_id(args.model.as_deref()).context("cannot load model")?;
    let card = card(&model, &file, args.json)?;
    // The card quotes the training data (file names, `source` values), which
    // may hold terminal escapes; JSON escapes them itself.
    let card = if args.json {
        card
    } else {
        crate::output::safe_text::safe_text(&card)
    };
    super::files::print(&card)?;
    Ok(ExitCode::SUCCESS)
}

/// The second stage's part of the text card.
fn second_stage_card(out: &mut String, s: &crate::encoder::SecondStage) -> Result<()> {
    let c = &s.base_config;
    let r = &s.recipe;
    writeln!(
        out,
        "\nsecond stage: a sentence encoder ({}-layer BERT, width {}, base weights sha256 {}); \
         its top {} layers and a head per label trained on {} comments ({} epochs, learning \
         rates {} / {}, seed {}); it reads the first {} word pieces of a comment",
        c.num_hidden_layers,
        c.hidden_size,
        crate::encoder::stage::short(&s.base_sha256),
        c.num_hidden_layers as u32 - s.first_trained_layer,
        r.train_rows,
        r.epochs,
        r.learning_rates.0,
        r.learning_rates.1,
        r.seed,
        s.max_pieces
    )?;
    let bars: Vec<String> = s
        .labels
        .iter()
        .zip(&s.gate.bars)
        .map(|(l, b)| format!("{} >= {b:.4}", l.name))
        .collect();
    writeln!(
        out,
        "  gate: the encoder reads a comment when the word model gives {} (chosen to pass {:.0}% \
         of each label's held-out positives); other comments keep the word model's scores",
        bars.join(" or "),
        100.0 * s.gate.target_recall
    )?;
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    for l in &s.labels {
        let g = &l.figures;
        writeln!(
            out,
            "  {}: threshold {:.3} ({}); on {} held-out comments ({} positive) ROC-AUC words {}, \
             encoder {}, both {}; the gate passed {:.1}% of them and missed {:.1}% of the positives; \
             combined probability = sigmoid({:.3} x words + {:.3} x encoder {:+.3})",
            l.name,
            l.threshold,
            l.threshold_rule,
            g.rows,
            g.positives,
            f(g.word_roc_auc),
            f(g.encoder_roc_auc),
            f(g.combined_roc_auc),
            100.0 * g.gate_pass,
            100.0 * g.gate_miss,
            l.combiner.word,
            l.combiner.encoder,
            l.combiner.intercept
        )?;
    }
    Ok(())
}

/// The languages' part of the text card.
fn languages_card(out: &mut String, model: &crate::model::Model) -> Result<()> {
    let Some(detector) = &model.languages.detector else {
        writeln!(
            out,
            "\nlanguages: English only (every comment is scored by the English model)"
        )?;
        return Ok(());
    };
    let codes = model.languages.codes();
    writeln!(
        out,
        "\nlanguages: {}. Each comment is scored by the model of its language, detected from \
         its words (a naive Bayes detector trained on {} comments of {} languages); comments of \
         fewer than {} words, or too close to call, take the declared language, or English; a \
         language with no model is not scored",
        codes.join(", "),
        detector.trained_on.iter().sum::<u32>(),
        detector.languages.len(),
        crate::language::detect::MIN_WORDS
    )?;
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    for (language, m) in &model.languages.models {
        let files = m.training.data_files.join(", ");
        writeln!(
            out,
            "  {} ({}): word model trained on {} ({} comments); Snowball {} stemmer; {} features; \
             identity words {}",
            language.code(),
            language.name(),
            files,
            m.training.rows,
            language.name(),
            m.features.len(),
            if m.analyzer.identity_mask.is_some() {
                "left out"
            } else {
                "kept"
            }
        )?;
        for source in m.training.sources.keys() {
            writeln!(
                out,
                "    data: {source}: {}",
                crate::train::languages::licence_of(source)
            )?;
        }
        for name in model.label_names() {
            let Some(l) = m.labels.iter().find(|l| l.name == name) else {
                writeln!(
                    out,
                    "    {name}: no model (the training data has no {name} labels): unavailable \
                     for {} comments",
                    language.name()
                )?;
                continue;
            };
            let c = m
                .training
                .label_counts
                .get(name)
                .copied()
                .unwrap_or_default();
            let cv = l.cross_validation.as_ref().map(|cv| cv.roc_auc);
            let held_out = m
                .evaluation
                .as_ref()
                .and_then(|e| e.labels.get(name).map(|x| (e.data_file.clone(), x.roc_auc)));
            writeln!(
                out,
                "    {name}: {} positive, {} negative; threshold {:.3}; cross-validated ROC-AUC {}{}",
                c[0],
                c[1],
                l.threshold,
                f(cv),
                held_out.map_or(String::new(), |(file, a)| format!(
                    "; held-out ROC-AUC {} on {file}",
                    f(a)
                ))
            )?;
        }
    }
    Ok(())
}

/// The model card as text (or pretty JSON) of `model`, read from the file
/// `file` names.
fn card(model: &crate::model::Model, file: &crate::model::FileId, json: bool) -> Result<String> {
    let mut out = String::new();
    let t = &model.training;
    if json {
        let card = crate::model::card::card_json(model, file);
        writeln!(out, "{}", serde_json::to_string_pretty(&card)?)?;
        return Ok(out);
    }
    writeln!(
        out,
        "moderate model {} (file format {}; the version `moderate serve` sends as \
         x-moderate-model-version)",
        file.version, file.format
    )?;
    writeln!(
        out,
        "trained by moderate {} on {} ({} comments), seed {}",
        t.moderate_version,
        t.data_files.join(", "),
        t.rows,
        t.seed
    )?;
    if !t.sources.is_empty() {
        let s: Vec<String> = t.sources.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(out, "sources: {}", s.join(", "))?;
    }
    writeln!(
        out,
        "features: {} selected of {} candidates (min df {}); word bigrams {}, char n-grams {}",
        model.features.len(),
        t.candidate_features,
        t.min_df,
        model.features.ngrams.word_bigrams,
        model
            .features
            .ngrams
            .char_ngrams
            .map_or("off".to_string(), |(a, b)| format!("{a}-{b}"))
    )?;
    match &model.analyzer.known_words {
        Some(list) if model.analyzer.deobfuscate => writeln!(
            out,
            "word list: {} words from {} training comments; obfuscated words are read against it",
            list.len(),
            list.comments()
        )?,
        _ => writeln!(
            out,
            "word list: none (trained with --known-words 0 or --no-deobfuscate, or before word \
             lists); obfuscated words the rules leave are not resolved"
        )?,
    }
    if let Some(lexicon) = model.features.ngrams.lexicon.as_deref() {
        let levels: Vec<String> = lexicon.levels.iter().map(u32::to_string).collect();
        writeln!(
            out,
            "word clusters: {} words of the word vectors, clustered at {} clusters; each word \
             token also emits its cluster ids (block weight {})",
            lexicon.len(),
            levels.join("/"),
            model.features.ngrams.cluster_weight
        )?;
    }
    if let Some(prior) = &model.semantic {
        writeln!(
            out,
            "semantic prior: mean word vector of {} (weight {}), stored as one score per word \
             and label",
            prior.config.source, prior.config.weight
        )?;
    }
    for l in &model.labels {
        let c = t.label_counts.get(&l.name).copied().unwrap_or_default();
        writeln!(out, "\nlabel `{}`: {}", l.name, l.definition)?;
        // A model of the streaming learner has no L-BFGS settings
        // (`max_iterations` 0); its learner is described in the threshold rule.
        let alpha = if l.settings.max_iterations > 0 {
            format!("; alpha {}", l.settings.alpha)
        } else {
            String::new()
        };
        writeln!(
            out,
            "  trained on {} positive, {} negative ({} unlabelled rows skipped); positives repeated {}x{alpha}",
            c[0], c[1], c[2], l.positive_repeat
        )?;
        writeln!(out, "  threshold {:.3}: {}", l.threshold, l.threshold_rule)?;
        if let Some(cv) = &l.cross_validation {
            // One "fold" is the streaming learner's held-out slice.
            let what = if cv.folds == 1 {
                "held-out slice"
            } else {
                "cross-validation"
            };
            // Several folds: the pooled figure and the folds' mean differ
            // (see `train`'s output); both are shown, each named.
            let pooled = if cv.folds > 1 {
                let mean = super::train::fold_mean(&cv.fold_roc_auc)
                    .map_or("-".to_string(), |m| format!("{m:.4}"));
                format!(" (pooled out-of-fold; fold mean {mean})")
            } else {
                String::new()
            };
            writeln!(
                out,
                "  {what}: ROC-AUC {:.4}{pooled}, PR-AUC {:.4}; at threshold precision {:.3}, recall {:.3}",
                cv.roc_auc, cv.pr_auc, cv.precision, cv.recall
            )?;
        }
    }
    if let Some(stage) = &model.second_stage {
        second_stage_card(&mut out, stage)?;
    }
    if let Some(ev) = &model.evaluation {
        writeln!(
            out,
            "\nheld-out evaluation on {} ({} comments; not used for training or tuning):",
            ev.data_file, ev.rows
        )?;
        writeln!(
            out,
            "{:<10} {:>8} {:>8} {:>9} {:>7} {:>7} {:>24}",
            "label", "roc_auc", "pr_auc", "precision", "recall", "ece", "bias subgroup/BPSN/BNSP"
        )?;
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        for (name, e) in &ev.labels {
            writeln!(
                out,
                "{:<10} {:>8} {:>8} {:>9.3} {:>7.3} {:>7} {:>24}",
                name,
                f(e.roc_auc),
                f(e.pr_auc),
                e.precision,
                e.recall,
                f(e.ece),
                format!(
                    "{} / {} / {}",
                    f(e.bias_power_means[0]),
                    f(e.bias_power_means[1]),
                    f(e.bias_power_means[2])
                )
            )?;
        }
    }
    languages_card(&mut out, model)?;
    let limitations = model.known_limitations();
    if !limitations.is_empty() {
        writeln!(out, "\nknown limitations:")?;
        for l in &limitations {
            writeln!(out, "- {l}")?;
        }
    }
    Ok(out)
}

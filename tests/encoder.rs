//! The second stage with a tiny random encoder (2 layers, hidden size 32):
//! tokenisation edge cases, loading, batching, gating, explanations and
//! reproducible training. The real encoder's figures come from `moderate
//! eval` and the benchmarks, not from here.

use moderate::Comment;
use moderate::encoder::bert::{Batch, mean_pool};
use moderate::encoder::fit::{StageSettings, WordModelView, fit_second_stage};
use moderate::encoder::train::TopSettings;
use moderate::encoder::{BaseEncoder, tiny};
use moderate::model::{Model, Stage};
use moderate::train::{TrainConfig, TrainReport};
use std::collections::BTreeMap;
use std::sync::OnceLock;

fn base() -> BaseEncoder {
    tiny::encoder(7).expect("the tiny encoder builds")
}

/// Labelled comments from templates: `abusive` when an insult appears,
/// `violent` when a call to harm does (every third row leaves `violent`
/// unlabelled).
fn comments() -> Vec<Comment> {
    let targets = [
        "them",
        "the army",
        "the council",
        "russia",
        "the police",
        "they",
    ];
    let calls = [
        "we should bomb {t}",
        "nuke {t} all",
        "line {t} up against a wall",
        "hang {t} every one",
        "burn {t} out",
    ];
    let insults = [
        "{t} are stupid idiots",
        "{t} are vermin and scum",
        "what a moron",
        "shut your mouth you pig",
    ];
    let benign = [
        "thanks for the article on {t}",
        "great match, the goal was good",
        "the report on {t} is good news",
        "we agree with {t} on the vote",
        "the war news from the city is bad",
        "people love this game",
        "the army killed it in the match",
    ];
    let mut out = Vec::new();
    let mut n = 0;
    for t in targets {
        for (set, abusive, violent) in [
            (&calls[..], true, true),
            (&insults[..], true, false),
            (&benign[..], false, false),
        ] {
            for (k, template) in set.iter().enumerate() {
                for suffix in ["", " !", " , really", " ."] {
                    n += 1;
                    let mut labels = BTreeMap::new();
                    labels.insert("abusive".to_string(), Some(abusive));
                    labels.insert("violent".to_string(), (n % 3 != 0).then_some(violent));
                    out.push(Comment {
                        line: n,
                        id: format!("c{n}-{k}"),
                        text: format!("{}{suffix}", template.replace("{t}", t)),
                        labels,
                        fields: BTreeMap::new(),
                        html: None,
                    });
                }
            }
        }
    }
    out
}

fn labels() -> Vec<String> {
    vec!["abusive".to_string(), "violent".to_string()]
}

fn word_model(comments: &[Comment]) -> (Model, TrainReport) {
    let config = TrainConfig {
        labels: labels(),
        folds: 2,
        threads: 2,
        min_df: 1,
        ..TrainConfig::default()
    };
    moderate::train::train(comments, &["templates".to_string()], &config, &|_| {})
        .expect("the word model trains")
}

fn stage_settings() -> StageSettings {
    StageSettings {
        max_pieces: 24,
        trained_layers: 1,
        top: TopSettings {
            epochs: 2,
            batch_rows: 8,
            positive_weight: vec![1.0, 2.0],
            seed: 3,
            threads: 2,
            layer_lr: 1e-3,
            head_lr: 1e-2,
            ..TopSettings::default()
        },
        held_out_share: 0.3,
        gate_recall: 1.0,
        swap_identities: true,
        ..StageSettings::default()
    }
}

/// A two-stage model trained on the templates (once per test binary), and
/// its file bytes.
fn trained() -> &'static (Model, Vec<u8>) {
    static TRAINED: OnceLock<(Model, Vec<u8>)> = OnceLock::new();
    TRAINED.get_or_init(|| {
        let comments = comments();
        let (mut model, report) = word_model(&comments);
        let stage = fit(&comments, &model, &report);
        model.second_stage = Some(stage);
        let bytes = moderate::model::to_bytes(&model).unwrap();
        let mut loaded =
            moderate::model::load_bytes(&bytes, std::path::Path::new("tiny.model")).unwrap();
        loaded.attach_encoder(&base()).unwrap();
        (loaded, bytes)
    })
}

fn fit(
    comments: &[Comment],
    model: &Model,
    report: &TrainReport,
) -> moderate::encoder::SecondStage {
    let labels = labels();
    let view = WordModelView {
        labels: &labels,
        out_of_fold: &report.out_of_fold,
        calibration: model.labels.iter().map(|l| l.calibration).collect(),
        groups: None,
    };
    let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
    let ids: Vec<&str> = comments.iter().map(|c| c.id.as_str()).collect();
    let targets: Vec<Vec<Option<bool>>> = comments
        .iter()
        .map(|c| labels.iter().map(|l| c.labels[l]).collect())
        .collect();
    fit_second_stage(
        &base(),
        &texts,
        &ids,
        &targets,
        &view,
        &stage_settings(),
        &|_| {},
    )
    .expect("the second stage trains")
}

#[test]
fn tokenisation_never_fails_and_keeps_the_start_of_long_comments() {
    let tok = base().tokenizer(16).unwrap();
    let (empty, cut) = tok.ids("");
    assert_eq!(empty, [2, 3], "an empty comment is [CLS] [SEP]");
    assert!(!cut);
    let (emoji, _) = tok.ids("👍🔥 💣");
    assert_eq!(emoji.first(), Some(&2));
    assert_eq!(emoji.last(), Some(&3));
    assert!(
        emoji[1..emoji.len() - 1].iter().all(|&id| id == 1),
        "emoji are [UNK]: {emoji:?}"
    );
    let long = "kill them all ".repeat(1500); // 21,000 bytes
    assert!(long.len() > 20_000);
    let (ids, cut) = tok.ids(&long);
    assert!(cut, "a long comment is reported as cut");
    assert_eq!(
        ids.len(),
        16,
        "kept to max pieces, [CLS] and [SEP] included"
    );
    assert_eq!((ids[0], ids[15]), (2, 3));
    // Word spans point at the original text, accents and case included.
    let text = "Ça va, IDIOT?";
    let p = tok.pieces(text);
    let words: Vec<&str> = p.words.iter().map(|&(a, b)| &text[a..b]).collect();
    assert_eq!(words, ["Ça", "va", ",", "IDIOT", "?"]);
    assert_eq!(p.ids.len(), p.word_of.len());
}

#[test]
fn padding_and_batching_do_not_change_the_encoder_output() {
    let enc = base();
    let bert = enc.bert().unwrap();
    let tok = enc.tokenizer(32).unwrap();
    let texts = [
        "we should bomb them",
        "thanks",
        "the army killed it in the match !",
    ];
    let ids: Vec<Vec<u32>> = texts.iter().map(|t| tok.ids(t).0).collect();
    let refs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
    let batch = Batch::new(&refs, &candle_core::Device::Cpu).unwrap();
    let together: Vec<Vec<f32>> = mean_pool(&bert.forward(&batch).unwrap(), &batch.mask)
        .unwrap()
        .to_vec2()
        .unwrap();
    for (i, r) in refs.iter().enumerate() {
        let one = Batch::new(&[r], &candle_core::Device::Cpu).unwrap();
        let alone: Vec<Vec<f32>> = mean_pool(&bert.forward(&one).unwrap(), &one.mask)
            .unwrap()
            .to_vec2()
            .unwrap();
        for (a, b) in alone[0].iter().zip(&together[i]) {
            assert!(
                (a - b).abs() < 1e-4,
                "{} alone {a} vs batched {b}",
                texts[i]
            );
        }
    }
}

#[test]
fn half_precision_copy_loads_and_reads_nearly_the_same() {
    let enc = base();
    let f16 = enc.to_f16_safetensors().unwrap();
    let half = BaseEncoder::from_parts(
        tiny::config_json(tiny::vocabulary().len()).as_bytes(),
        std::borrow::Cow::Owned(tiny::tokenizer_json().into_bytes()),
        std::borrow::Cow::Owned(f16),
        "half",
    )
    .unwrap();
    assert_ne!(half.sha256, enc.sha256);
    let tok = enc.tokenizer(32).unwrap();
    let (ids, _) = tok.ids("line them up against a wall");
    let batch = Batch::new(&[&ids], &candle_core::Device::Cpu).unwrap();
    let a: Vec<f32> = enc
        .bert()
        .unwrap()
        .forward(&batch)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let b: Vec<f32> = half
        .bert()
        .unwrap()
        .forward(&batch)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(worst > 0.0 && worst < 0.05, "largest difference {worst}");
}

#[test]
fn training_the_second_stage_is_reproducible_to_the_byte() {
    let comments = comments();
    let (model, report) = word_model(&comments);
    let a = fit(&comments, &model, &report);
    let b = fit(&comments, &model, &report);
    assert!(!a.weights.is_empty());
    assert_eq!(a, b, "same data, settings and seed: the same stage");
    let (_, bytes) = trained();
    let mut again = model.clone();
    again.second_stage = Some(a);
    assert_eq!(&moderate::model::to_bytes(&again).unwrap(), bytes);
}

#[test]
fn a_model_file_round_trips_with_its_second_stage() {
    let (model, bytes) = trained();
    let stage = model.second_stage.as_ref().expect("a second stage");
    assert_eq!(stage.labels.len(), 2);
    assert!(model.has_encoder());
    // Another encoder than the one it was trained on is refused.
    let mut other = moderate::model::load_bytes(bytes, std::path::Path::new("tiny.model")).unwrap();
    let err = other
        .attach_encoder(&tiny::encoder(8).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("--encoder"), "{err}");
    // Damage inside the second stage's weights is caught by the checksum.
    let mut damaged = bytes.clone();
    let n = damaged.len();
    damaged[n - 10] ^= 0xff;
    let err = moderate::model::load_bytes(&damaged, std::path::Path::new("x")).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
}

#[test]
fn batches_score_as_single_comments_do_and_the_gate_decides_who_reads() {
    let (model, _) = trained();
    let mut scorer = model.scorer();
    assert!(scorer.uses_encoder());
    let texts = [
        "we should bomb the council",
        "thanks for the article",
        "",
        "👍",
        &"line them up against a wall ".repeat(800),
    ];
    let mut batch = Vec::new();
    scorer.score_batch(&texts, &mut batch);
    for (t, b) in texts.iter().zip(&batch) {
        let one = scorer.score(t);
        assert_eq!(one.stage, b.stage);
        for (x, y) in one.probabilities.iter().zip(&b.probabilities) {
            assert!((x - y).abs() < 1e-5, "{t:?}: {x} alone, {y} in a batch");
        }
        assert!(b.probabilities.iter().all(|p| (0.0..=1.0).contains(p)));
    }
    // The gate: a comment the word model finds clean on every label stays
    // with the word model; one it suspects goes to the encoder.
    let stage = model.second_stage.as_ref().unwrap();
    for b in &batch {
        let word: Vec<f32> = b
            .word_decisions
            .iter()
            .zip(&model.labels)
            .map(|(&z, l)| l.calibration.probability(z))
            .collect();
        let expected = if stage.gate.passes(&word) {
            Stage::Encoder
        } else {
            Stage::Words
        };
        assert_eq!(b.stage, expected);
        assert_eq!(b.encoder_decisions.is_empty(), expected == Stage::Words);
    }
    // Word-only scoring never runs the encoder and gives the word model's probabilities.
    let mut words = model.scorer().word_only();
    let w = words.score(texts[0]);
    assert_eq!(w.stage, Stage::Words);
    let word_p: Vec<f32> = w
        .word_decisions
        .iter()
        .zip(&model.labels)
        .map(|(&z, l)| l.calibration.probability(z))
        .collect();
    assert_eq!(w.probabilities, word_p);
}

#[test]
fn flagged_comments_are_explained_by_both_readers_with_true_spans() {
    let (model, _) = trained();
    let mut scorer = model.scorer();
    let text = "We should BOMB the council, really!";
    let scores = scorer.score(text);
    assert_eq!(scores.stage, Stage::Encoder, "{scores:?}");
    // Every label counts as flagged at threshold 0.
    let all = scorer.explain_scores(text, &scores, &[0.0, 0.0], 3);
    let mut encoder_terms = 0;
    for per_label in &all {
        assert!(per_label.len() <= 6);
        for c in per_label {
            assert!(c.weight > 0.0);
            for &(a, b) in &c.spans {
                let shown = &text[a..b];
                assert!(
                    c.term.to_lowercase().contains(&shown.to_lowercase())
                        || shown.to_lowercase().contains(&c.term.to_lowercase()),
                    "{c:?} vs {shown:?}"
                );
            }
            if c.reader == Stage::Encoder {
                encoder_terms += 1;
                assert_eq!(c.spans.len(), 1);
                assert!(c.term.chars().any(char::is_alphanumeric), "{c:?}");
            }
        }
    }
    assert!(encoder_terms > 0, "the encoder explains its part: {all:?}");
    // Not flagged (thresholds above 1): the word model's words only.
    let none = scorer.explain_scores(text, &scores, &[1.1, 1.1], 3);
    assert!(none.iter().flatten().all(|c| c.reader == Stage::Words));
    // Explaining is deterministic.
    assert_eq!(all, scorer.explain_scores(text, &scores, &[0.0, 0.0], 3));
}

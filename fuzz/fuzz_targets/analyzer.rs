//! The analyzer (normalise, de-obfuscate, tokenise, stem) and the default
//! model's scorer on arbitrary text: no panic, and every token span is a
//! non-empty, in-order range of the text on character boundaries.

#![no_main]

use libfuzzer_sys::fuzz_target;
use moderate::model::Model;
use moderate::text::{Analyzer, AnalyzerConfig, KnownWords, Tokens};
use std::sync::OnceLock;

fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| moderate::default_model().expect("default model loads"))
}

/// The default model's word list, or a small one when it has none, so that
/// word resolution is fuzzed either way.
fn known_words() -> KnownWords {
    model().analyzer.known_words.clone().unwrap_or_else(|| {
        let words = ["kill", "idiot", "stupid", "shit", "fuck", "hate", "the", "so", "loser"];
        KnownWords::from_counts(words.iter().map(|w| (w.to_string(), 10)).collect())
            .expect("a valid word list")
    })
}

fn check(text: &str, config: AnalyzerConfig) {
    let max = config.max_bytes;
    let mut analyzer = Analyzer::new(config);
    let mut tokens = Tokens::new();
    let info = analyzer.analyze(text, &mut tokens);
    assert_eq!(info.truncated, text.len() > max);
    let mut prev = (0, 0);
    for (s, t) in tokens.iter() {
        let (start, end) = (t.start as usize, t.end as usize);
        assert!(!s.is_empty());
        assert!(start < end && end <= text.len().min(max));
        assert!(text.is_char_boundary(start) && text.is_char_boundary(end));
        assert!(t.start >= prev.0 && t.end >= prev.1);
        prev = (t.start, t.end);
    }
    // Analysing again gives the same tokens.
    let first: Vec<_> = tokens.iter().map(|(s, t)| (s.to_string(), *t)).collect();
    analyzer.analyze(text, &mut tokens);
    let again: Vec<_> = tokens.iter().map(|(s, t)| (s.to_string(), *t)).collect();
    assert_eq!(first, again);
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (flags, text) = match text.chars().next() {
        Some(c) => (c as u32, &text[c.len_utf8()..]),
        None => (0, &text[..]),
    };
    check(
        text,
        AnalyzerConfig {
            fold_confusables: flags & 1 == 0,
            stem: flags & 2 == 0,
            negation: flags & 4 != 0,
            deobfuscate: flags & 8 == 0,
            max_bytes: if flags & 16 != 0 { 64 } else { 20_000 },
            known_words: (flags & 32 == 0).then(known_words),
        },
    );
    let mut scorer = model().scorer();
    let scores = scorer.score(text);
    assert!(scores.probabilities.iter().all(|p| (0.0..=1.0).contains(p)));
    for label in 0..model().labels.len() {
        for c in scorer.explain(text, label, 5) {
            for &(start, end) in &c.spans {
                assert!(start < end && end <= text.len());
                assert!(text.is_char_boundary(start) && text.is_char_boundary(end));
            }
        }
    }
});

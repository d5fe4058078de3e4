//! Property tests for the analyzer's invariants: whatever the text, analysis
//! never panics, every token's span is a non-empty range of the text on
//! character boundaries, spans come in text order, and the result does not
//! depend on what the analyzer saw before.
//!
//! Run more cases with `PROPTEST_CASES=20000 cargo test --test analyzer_props`.

use moderate::text::{Analyzer, AnalyzerConfig, KnownWords, TokenKind, Tokens};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// Pieces that exercise normalisation and de-obfuscation: leet digits and
/// symbols, separators, entities, invisible and format characters, full-width
/// letters, small capitals, homoglyphs, ligatures, characters whose lower case
/// or NFKD form is longer, emoji with modifiers, URL and mention starts.
const ALPHABET: &[&str] = &[
    "a", "e", "i", "k", "l", "o", "s", "t", "u", "K", "I", "L", "0", "1", "3", "4", "5", "7", "2",
    "9", " ", " ", " ", "  ", ".", "-", "_", "*", "**", "@", "$", "!", "|", "'", "’", ",", ":",
    "&amp;", "&#x41;", "&#0;", "&", ";", "\u{200B}", "\u{00AD}", "\u{0600}", "\u{FEFF}", "ｋ", "ᴋ",
    "ɪ", "і", "о", "é", "e\u{301}", "ﬁ", "¼", "①", "ß", "İ", "ǅ", "💣", "👍🏽", "🇺🇦", "http://",
    "www.", "@user", "\n", "\t", "\u{a0}", "\u{3000}", "\r", "\0", "·", "‐",
];

/// Strings built from [`ALPHABET`].
fn obfuscated() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..80).prop_map(|v| v.concat())
}

/// Any string: arbitrary Unicode scalars, or the obfuscation alphabet.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "\\PC{0,60}", obfuscated()]
}

/// A word list of words spelled with [`ALPHABET`]'s letters, so that word
/// resolution has readings to find.
fn known_words() -> KnownWords {
    let words = [
        "kill", "kills", "idiot", "toast", "less", "tail", "eat", "sit", "kite", "lot", "stole",
        "tiki", "lake", "seat", "silk", "skate", "latte", "ate", "its", "task", "oil", "ski", "a",
        "is", "it", "to", "so", "too", "still", "useless", "lose", "loose", "total", "title",
    ];
    KnownWords::from_counts(
        words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.to_string(), 1 + i as u32 * 7))
            .collect(),
    )
    .expect("a valid word list")
}

/// The analyzer settings worth varying.
fn config() -> impl Strategy<Value = AnalyzerConfig> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(20_000usize), 0usize..64],
        any::<bool>(),
        prop::sample::select(moderate::language::Language::ALL.to_vec()),
    )
        .prop_map(
            |(fold_confusables, stem, negation, deobfuscate, max_bytes, resolve, language)| {
                AnalyzerConfig {
                    fold_confusables,
                    stem,
                    negation,
                    deobfuscate,
                    max_bytes,
                    known_words: resolve.then(known_words),
                    identity_mask: None,
                    language,
                }
            },
        )
}

/// `(text, kind, start, end)` of every token.
fn run(analyzer: &mut Analyzer, text: &str) -> (Vec<(String, TokenKind, u32, u32)>, bool) {
    let mut tokens = Tokens::new();
    let info = analyzer.analyze(text, &mut tokens);
    let list = tokens
        .iter()
        .map(|(s, t)| (s.to_string(), t.kind, t.start, t.end))
        .collect();
    (list, info.truncated)
}

fn check_spans(text: &str, config: &AnalyzerConfig, tokens: &[(String, TokenKind, u32, u32)]) {
    let limit = text.len().min(config.max_bytes);
    let mut prev = (0u32, 0u32);
    for (s, kind, start, end) in tokens {
        let (start_b, end_b) = (*start as usize, *end as usize);
        assert!(start < end, "empty span {start}..{end} for {s:?}");
        assert!(end_b <= limit, "span {start}..{end} beyond {limit}");
        assert!(text.is_char_boundary(start_b) && text.is_char_boundary(end_b));
        assert!(!s.is_empty(), "empty token text ({kind:?})");
        assert!(
            *start >= prev.0 && *end >= prev.1,
            "spans out of order: {prev:?} then {start}..{end}"
        );
        prev = (*start, *end);
    }
}

/// 512 cases per property unless `PROPTEST_CASES` says otherwise.
fn cases() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    ProptestConfig {
        cases,
        // Failing cases are saved here and replayed first on later runs.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/analyzer_props.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn spans_are_valid_and_ordered(text in any_text(), config in config()) {
        let mut analyzer = Analyzer::new(config.clone());
        let (tokens, truncated) = run(&mut analyzer, &text);
        prop_assert_eq!(truncated, text.len() > config.max_bytes);
        check_spans(&text, &config, &tokens);
    }

    #[test]
    fn analysis_is_deterministic_and_stateless(
        text in any_text(),
        before in any_text(),
        config in config(),
    ) {
        let mut fresh = Analyzer::new(config.clone());
        let first = run(&mut fresh, &text);
        let again = run(&mut fresh, &text);
        prop_assert_eq!(&first, &again);
        // An analyzer that has seen other text gives the same answer.
        let mut warm = Analyzer::new(config);
        run(&mut warm, &before);
        prop_assert_eq!(&first, &run(&mut warm, &text));
    }

    #[test]
    fn deobfuscated_tokens_cover_their_source(text in obfuscated(), resolve in any::<bool>()) {
        let config = AnalyzerConfig {
            stem: false,
            known_words: resolve.then(known_words),
            ..AnalyzerConfig::default()
        };
        let mut analyzer = Analyzer::new(config.clone());
        let (tokens, _) = run(&mut analyzer, &text);
        check_spans(&text, &config, &tokens);
        for (s, kind, start, end) in &tokens {
            // A word's source holds at least one letter or digit.
            let source = &text[*start as usize..*end as usize];
            if *kind == TokenKind::Word {
                prop_assert!(
                    source.chars().any(char::is_alphanumeric) || source.contains("&#x41;"),
                    "word {:?} from {:?}", s, source
                );
            }
        }
    }

    #[test]
    fn innocent_numbers_are_never_rewritten(n in 0u32..100_000, word in "[a-z]{3,8}") {
        // A number next to a word keeps its meaning: `_num_` or an untouched
        // number+suffix word.
        let config = AnalyzerConfig {
            stem: false,
            known_words: Some(known_words()),
            ..AnalyzerConfig::default()
        };
        let mut analyzer = Analyzer::new(config);
        for text in [format!("{n} {word}"), format!("${n}"), format!("{word} {n}.{n}")] {
            let (tokens, _) = run(&mut analyzer, &text);
            let numbers = tokens.iter().filter(|t| t.1 == TokenKind::Number).count();
            prop_assert!(numbers >= 1, "{text:?} -> {tokens:?}");
        }
    }
}

//! The guard list: innocent strings whose tokens word resolution must not
//! change. Each string is analysed with and without a word list, and the
//! tokens must be the same.
//!
//! Two lists, two word lists:
//! - strings kept by the *shape* rules of `text::resolve` (numbers, prices,
//!   dates, times, versions, scores, hashtags, e-mail addresses, code, masked
//!   but innocent forms) are checked against an adversarial word list in
//!   which every string of one to three letters, and every reading such
//!   strings come close to, is a frequent word: whatever the corpus, they
//!   keep their tokens;
//! - strings kept only because their reading is *rare* (`4men` is not
//!   `amen`, `ww3` not `wwe`) are checked against those readings with the
//!   document frequencies they have in `train.csv` (measured when written),
//!   in a list of 89,341 comments.

use moderate::text::{Analyzer, AnalyzerConfig, KnownWords, Tokens};

/// Numbers, prices, dates, times, versions, scores, hashtags, e-mail
/// addresses, code-like tokens and masked-but-innocent forms.
const SHAPE_GUARDED: &[&str] = &[
    // numbers
    "1,000,000",
    "3.14",
    "42",
    "1e6",
    "0x1F",
    "2024",
    "100k",
    "1st",
    "2nd",
    "3rd",
    "4th",
    "31st",
    "1990s",
    "10x",
    "7.62mm",
    "first100days",
    // prices
    "$5",
    "$5.99",
    "$100bn",
    "€20",
    "£3.50",
    "US$5",
    "5$",
    "$1.5m",
    "10%",
    "$50bn",
    // dates
    "2024-05-01",
    "1/2/2024",
    "05.01.2024",
    "Jan. 5",
    "May 1st",
    "12th",
    "the 90s",
    // times
    "10:30",
    "7pm",
    "10am",
    "5am",
    "1am",
    "3:15pm",
    "24/7",
    "9-5",
    "11pm",
    "30mins",
    // versions and codes
    "v1.2.3",
    "3.11",
    "Python3",
    "iOS17",
    "Windows 10",
    "1.0.0-beta",
    "v2",
    "HTTP/2",
    "mp3",
    "MP4",
    "mp3s",
    "covid19",
    "COVID-19",
    "F-35s",
    "F35s",
    "AK-47",
    "ak47",
    "T-34",
    "t34",
    "B-17",
    "b17",
    "I-95",
    "M1A1",
    "H5N1",
    "b2b",
    "h2o",
    "3D",
    "5G",
    "4K",
    "1080p",
    "4chan",
    "ww3",
    "WW3",
    // scores
    "3-1",
    "2:0",
    "21-17",
    "W 3-1",
    "6-4, 6-3",
    "3–1",
    "1v1",
    "3v3",
    "4x4",
    "5x5",
    "2x4",
    // hashtags
    "#MeToo",
    "#BLM",
    "#1",
    "#maga2020",
    "#NeverAgain",
    // e-mail addresses and mentions
    "me@example.com",
    "first.last@news.co.uk",
    "a_b@c.org",
    "@user",
    "@bob_1",
    // code-like tokens
    "snake_case",
    "__init__",
    "foo.bar()",
    "x_1",
    "i++",
    "C++",
    "x=5",
    "obj.method",
    "file.txt",
    "main.rs",
    "array[i]",
    "n*log(n)",
    "2*pi*r",
    "f(x)",
    "x^2",
    "a_1 + b_2",
    // masked but innocent
    "5 * 3 = 15",
    "C# 12",
    "R&D",
    "AT&T",
    "2*3",
    "3*x",
    "2*x",
    "*sigh*",
    "**bold**",
    "*edit*",
    "Yahoo!",
    "what?!",
    "lol!!!",
    "hmm...",
    "e.g.",
    "i.e.",
    "U.S.",
    "a.m.",
    "p.m.",
    "not.to",
    "e-mail",
    "pro-war",
    "anti-war",
    "one-on-one",
    "rt.com",
    "bbc.co.uk",
    "news|politics",
    "refugees!maybe",
    "what!No",
    "vote4trump",
    "in4energy",
];

/// Strings whose leet reading exists but is rarer than one comment in a
/// thousand, with its `train.csv` document frequency.
const FREQUENCY_GUARDED: &[(&str, &str, u32)] = &[
    ("4men", "amen", 41),
    ("4ward", "award", 43),
    ("top5", "tops", 15),
    ("gen3", "gene", 29),
    ("bo7", "bot", 33),
    ("ww3", "wwe", 9),
    ("5am", "sam", 44),
    ("1am", "iam", 20),
    ("3v3", "eve", 22),
    ("1v1", "lvl", 9),
    ("t34", "tea", 66),
    ("1st", "ist", 6),
];

/// Comments in `train.csv` when the frequencies above were measured.
const TRAIN_COMMENTS: u32 = 89_341;

fn tokens(known_words: Option<&KnownWords>, text: &str) -> Vec<String> {
    let config = AnalyzerConfig {
        known_words: known_words.cloned(),
        ..AnalyzerConfig::default()
    };
    let mut analyzer = Analyzer::new(config);
    let mut out = Tokens::new();
    analyzer.analyze(text, &mut out);
    out.iter().map(|(s, _)| s.to_string()).collect()
}

/// Every string of one to three letters, and longer readings innocent
/// strings come close to, each in 10% of 90,000 comments.
fn adversarial_word_list() -> KnownWords {
    let letters: Vec<char> = ('a'..='z').collect();
    let mut words: Vec<String> = Vec::new();
    for &a in &letters {
        words.push(a.to_string());
        for &b in &letters {
            words.push(format!("{a}{b}"));
            for &c in &letters {
                words.push(format!("{a}{b}{c}"));
            }
        }
    }
    for w in [
        "amen", "award", "tops", "gene", "sam", "email", "mail", "snake", "case", "init", "method",
        "file", "main", "array", "log", "news", "politics", "refugees", "maybe", "what", "vote",
        "trump", "energy", "sigh", "bold", "edit", "yahoo", "etrade", "trade", "war", "anti",
        "one", "not", "onto", "into", "windows", "python", "beta", "covid", "first", "last",
        "days", "nineties", "metoo", "never", "again", "maga", "mins", "chan", "itis", "cent",
        "sos", "lol", "hmm", "obj", "bar", "foo", "user", "bob", "example", "fix", "fox", "pix",
        "tin", "ice", "lee", "liz", "ion", "isis", "lots", "kill", "idiot", "shit", "stupid",
    ] {
        words.push(w.to_string());
    }
    words.sort();
    words.dedup();
    KnownWords::from_counts(words.into_iter().map(|w| (w, 9_000)).collect())
        .expect("a valid word list")
        .with_comments(90_000)
}

#[test]
fn shape_guarded_strings_keep_their_tokens_whatever_the_word_list() {
    let known_words = adversarial_word_list();
    let mut changed = Vec::new();
    for text in SHAPE_GUARDED {
        let (plain, resolved) = (tokens(None, text), tokens(Some(&known_words), text));
        if plain != resolved {
            changed.push(format!("{text:?}: {plain:?} -> {resolved:?}"));
        }
    }
    assert!(changed.is_empty(), "changed:\n{}", changed.join("\n"));
}

#[test]
fn frequency_guarded_strings_keep_their_tokens_with_the_corpus_counts() {
    let pairs: Vec<(String, u32)> = FREQUENCY_GUARDED
        .iter()
        .map(|&(_, reading, n)| (reading.to_string(), n))
        .collect();
    let known_words = KnownWords::from_counts(pairs)
        .expect("a valid word list")
        .with_comments(TRAIN_COMMENTS);
    for &(text, reading, _) in FREQUENCY_GUARDED {
        let resolved = tokens(Some(&known_words), text);
        assert_eq!(tokens(None, text), resolved, "{text}");
        assert!(!resolved.iter().any(|t| t == reading), "{text}");
    }
    // The same readings, ten times as frequent, are taken: the guard is the
    // frequency, not the absence of the word.
    let frequent: Vec<(String, u32)> = FREQUENCY_GUARDED
        .iter()
        .map(|&(_, reading, n)| (reading.to_string(), n * 10))
        .collect();
    let known_words = KnownWords::from_counts(frequent)
        .expect("a valid word list")
        .with_comments(TRAIN_COMMENTS);
    assert_eq!(tokens(Some(&known_words), "4men"), ["amen"]);
}

#[test]
fn obfuscated_words_do_change_with_the_same_word_lists() {
    // The guard lists are not passed by resolving nothing.
    let known_words = adversarial_word_list();
    for (text, want) in [("k!11", "kill"), ("st*pid", "stupid"), ("1d!07", "idiot")] {
        assert_ne!(tokens(None, text), [want], "{text}");
        assert_eq!(tokens(Some(&known_words), text), [want], "{text}");
    }
}

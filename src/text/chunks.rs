//! Whitespace-delimited chunks of raw comment text, and which of them the
//! [`Analyzer`](super::Analyzer) reads the same wherever they stand.
//!
//! Scoring memoises the analysis per chunk (see
//! [`ChunkedVectorizer`](crate::features::chunked::ChunkedVectorizer)): a
//! chunk seen before costs one lookup instead of normalising,
//! de-obfuscating, tokenising and stemming it again. That is only exact for
//! a chunk whose tokens do not depend on its neighbours, which this module
//! decides from its bytes alone. Every stage of the analyzer works inside
//! whitespace-delimited chunks except two things, and a *context-free* chunk
//! is one that neither can touch:
//!
//! - **Letter spacing** ([`deobfuscate`](super::deobfuscate) rule 1) joins
//!   chunks of one character each (`k i l l`). A chunk can take part only if
//!   it starts with a letter or leet character followed by nothing or by
//!   punctuation (`l`, `l.b`, `1,`), or is punctuation followed by one letter
//!   (`(k`). Such chunks are not context-free.
//! - **Normalisation** can turn a non-ASCII character into whitespace
//!   (NFKD of a no-break space) or decode an HTML entity into anything
//!   (`&nbsp;`), which would move chunk boundaries; and a URL prefix at a
//!   chunk's end (`www.`) is a URL only when more text follows. So a
//!   context-free chunk is printable ASCII without `&`, `http` or `www`.
//!
//! A chunk that is not context-free is analysed together with its
//! neighbours up to the nearest context-free chunks; tests compare every
//! row built this way with the row of the whole comment analysed at once
//! (`tests/scores_unchanged.rs`).

use super::deobfuscate::is_leet_char;

/// True for the ASCII bytes that `char::is_whitespace` holds for (tab,
/// line feed, vertical tab, form feed, carriage return, space): the
/// separators of chunks.
#[inline]
pub fn is_ascii_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

/// Calls `each(start, end)` for every chunk of `text`: a maximal run of
/// bytes that are not [ASCII whitespace](is_ascii_space), in text order.
/// Chunk boundaries always fall on character boundaries.
#[inline]
pub fn for_each_chunk(text: &str, mut each: impl FnMut(usize, usize)) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if is_ascii_space(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_ascii_space(bytes[i]) {
            i += 1;
        }
        each(start, i);
    }
}

/// True when the analyzer gives `chunk` (one chunk from [`for_each_chunk`])
/// the same tokens alone as anywhere in a comment, and when no neighbour's
/// tokens depend on it (see the module documentation for why).
pub fn is_context_free(chunk: &[u8]) -> bool {
    let Some(&first) = chunk.first() else {
        return false;
    };
    // Printable ASCII only, no HTML entity.
    if !chunk
        .iter()
        .all(|&b| (0x21..=0x7e).contains(&b) && b != b'&')
    {
        return false;
    }
    // A member of a letter-spaced run after its first: one letter or leet
    // character, then nothing or punctuation.
    let member = first.is_ascii_alphabetic() || is_leet_char(char::from(first));
    if member && chunk.get(1).is_none_or(|b| !b.is_ascii_alphanumeric()) {
        return false;
    }
    // The first member of a run: punctuation, then one letter ending the chunk.
    let rest = chunk
        .iter()
        .position(u8::is_ascii_alphanumeric)
        .map_or(&[][..], |p| &chunk[p..]);
    if rest.len() == 1 && rest[0].is_ascii_alphabetic() {
        return false;
    }
    !contains_ignore_case(chunk, b"http") && !contains_ignore_case(chunk, b"www")
}

/// True when `needle` (lower-case ASCII) occurs in `hay`, ignoring ASCII case.
fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for_each_chunk(text, |a, b| out.push(&text[a..b]));
        out
    }

    #[test]
    fn chunks_split_on_ascii_whitespace_only() {
        assert_eq!(
            chunks("  kill\tthem\u{a0}all \r\n\x0bnow "),
            ["kill", "them\u{a0}all", "now"]
        );
        assert!(chunks("").is_empty());
        assert!(chunks(" \n ").is_empty());
    }

    #[test]
    fn ordinary_words_are_context_free() {
        for w in [
            "the",
            "Hello,",
            "idiot!",
            "(really)",
            "don't",
            "k1ll",
            "fu*k",
            "...",
            "-",
            ":)",
            "2024",
            "#tag",
            "@user",
            "well-known",
            "co-op",
        ] {
            assert!(is_context_free(w.as_bytes()), "{w}");
        }
    }

    #[test]
    fn possible_letter_spacing_members_are_not() {
        for w in [
            "a", "I", "k", "1", "!", "@", "l.", "l.b", "k,", "(k", "\"k", "I'm", "x-ray", "7.62",
            "f*ck",
        ] {
            assert!(!is_context_free(w.as_bytes()), "{w}");
        }
    }

    #[test]
    fn text_normalisation_could_move_is_not() {
        for w in [
            "caf\u{e9}",
            "a\u{a0}b",
            "&amp;",
            "x&nbsp;y",
            "www.",
            "http://",
            "WWW.bbc",
            "tab\x7f",
            "\u{200b}kill",
        ] {
            assert!(!is_context_free(w.as_bytes()), "{w:?}");
        }
    }
}

//! Character-level normalisation that remembers where every output character
//! came from in the original text.
//!
//! The normaliser turns the published text into a sequence of lower-case,
//! compatibility-folded characters ([`NormChar`]), each carrying the byte span
//! of the original text it stands for. Later stages (tokenizer, explanations)
//! only ever see normalised characters but can always point back at the exact
//! bytes a reader wrote.
//!
//! Steps, per input character:
//! 1. HTML entities (`&amp;`, `&#8220;`, `&#x1F600;`) are decoded; the decoded
//!    character spans the whole entity.
//! 2. Invisible format characters (zero-width space/joiner, BOM, soft hyphen,
//!    bidi controls, variation selectors) are dropped.
//! 3. Unicode NFKD compatibility decomposition (full-width forms, ligatures,
//!    superscripts), with combining marks removed (`é` -> `e`).
//! 4. Lower-casing (full Unicode case mapping).
//! 5. Homoglyph folding: Cyrillic and Greek letters that look Latin become the
//!    Latin letter they imitate (`аррӏе` -> `apple`).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// One normalised character and the original byte span it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormChar {
    /// The normalised character.
    pub ch: char,
    /// Byte offset in the original text where the source character starts.
    pub start: u32,
    /// Byte offset in the original text just past the source character.
    pub end: u32,
}

/// Normalises `text` into `out` (cleared first), folding homoglyphs when
/// `fold_confusables` is set.
///
/// Texts longer than `u32::MAX` bytes are not supported; callers cap the
/// analysed length well below that.
pub fn normalize_into(text: &str, fold_confusables: bool, out: &mut Vec<NormChar>) {
    out.clear();
    let bytes = text.as_bytes();
    let mut pos = 0usize;
    while pos < bytes.len() {
        if bytes[pos] == b'&'
            && let Some((ch, len)) = decode_entity(&text[pos..])
        {
            push_folded(ch, pos, pos + len, fold_confusables, out);
            pos += len;
            continue;
        }
        let Some(ch) = text[pos..].chars().next() else {
            break;
        };
        let len = ch.len_utf8();
        push_folded(ch, pos, pos + len, fold_confusables, out);
        pos += len;
    }
}

/// Pushes the normalised form of one source character.
fn push_folded(ch: char, start: usize, end: usize, fold: bool, out: &mut Vec<NormChar>) {
    let (start, end) = (start as u32, end as u32);
    if ch.is_ascii() {
        out.push(NormChar {
            ch: ch.to_ascii_lowercase(),
            start,
            end,
        });
        return;
    }
    if is_invisible(ch) {
        return;
    }
    for decomposed in std::iter::once(ch).nfkd() {
        if is_combining_mark(decomposed) || is_invisible(decomposed) {
            continue;
        }
        for lower in decomposed.to_lowercase() {
            let folded = if fold { fold_confusable(lower) } else { lower };
            out.push(NormChar {
                ch: folded,
                start,
                end,
            });
        }
    }
}

/// True for characters that render as nothing and are used to split words
/// invisibly: zero-width characters, joiners, BOM, soft hyphen, bidi controls,
/// variation selectors and emoji skin-tone modifiers.
pub fn is_invisible(ch: char) -> bool {
    matches!(ch,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{1F3FB}'..='\u{1F3FF}'
        | '\u{E0000}'..='\u{E007F}'
    )
}

/// Maps a lower-case Cyrillic or Greek letter that imitates a Latin letter to
/// that Latin letter; other characters are returned unchanged.
pub fn fold_confusable(ch: char) -> char {
    match ch {
        // Cyrillic
        'а' => 'a',
        'в' => 'b',
        'с' => 'c',
        'ԁ' => 'd',
        'е' | 'ё' | 'є' => 'e',
        'һ' => 'h',
        'і' | 'ї' | 'ӏ' => 'i',
        'ј' => 'j',
        'к' => 'k',
        'м' => 'm',
        'н' => 'h',
        'о' => 'o',
        'п' => 'n',
        'р' => 'p',
        'ԛ' => 'q',
        'г' => 'r',
        'ѕ' => 's',
        'т' => 't',
        'ц' | 'џ' => 'u',
        'ѵ' => 'v',
        'ԝ' | 'ш' => 'w',
        'х' => 'x',
        'у' => 'y',
        // Greek
        'α' => 'a',
        'β' => 'b',
        'ε' => 'e',
        'η' => 'n',
        'ι' => 'i',
        'κ' => 'k',
        'ν' => 'v',
        'ο' => 'o',
        'ρ' => 'p',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        'γ' => 'y',
        _ => ch,
    }
}

/// `text` with the HTML entities that [`normalize_into`] decodes replaced
/// by their characters (`&amp;` -> `&`, `&#128175;` -> `💯`), for showing a
/// comment as the analyzer read it. Entities it does not decode stay as
/// written.
pub fn decode_entities(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('&') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        match decode_entity(&rest[i..]) {
            Some((ch, len)) => {
                out.push(ch);
                rest = &rest[i + len..];
            }
            None => {
                out.push('&');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Decodes an HTML entity at the start of `s` (which begins with `&`),
/// returning the character and the entity's byte length (the same rule as
/// [`normalize_into`]).
pub fn decode_entity(s: &str) -> Option<(char, usize)> {
    let end = s.as_bytes().iter().take(12).position(|&b| b == b';')?;
    let body = &s[1..end];
    let ch = if let Some(num) = body.strip_prefix('#') {
        let code = if let Some(hex) = num.strip_prefix('x').or_else(|| num.strip_prefix('X')) {
            u32::from_str_radix(hex, 16).ok()?
        } else {
            num.parse::<u32>().ok()?
        };
        char::from_u32(code)?
    } else {
        match body {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => ' ',
            "hellip" => '…',
            "mdash" => '—',
            "ndash" => '–',
            "rsquo" | "lsquo" => '\'',
            "rdquo" | "ldquo" => '"',
            _ => return None,
        }
    };
    Some((ch, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(text: &str) -> (String, Vec<(u32, u32)>) {
        let mut out = Vec::new();
        normalize_into(text, true, &mut out);
        (
            out.iter().map(|c| c.ch).collect(),
            out.iter().map(|c| (c.start, c.end)).collect(),
        )
    }

    #[test]
    fn ascii_is_lowercased_with_identity_offsets() {
        let (s, spans) = norm("Hi YOU");
        assert_eq!(s, "hi you");
        assert_eq!(spans[3], (3, 4));
    }

    #[test]
    fn accents_fullwidth_and_ligatures_fold() {
        assert_eq!(norm("Café").0, "cafe");
        assert_eq!(norm("ＩＤＩＯＴ").0, "idiot");
        assert_eq!(norm("ﬁne").0, "fine");
        // "ﬁ" is one source char (3 bytes) producing two normalised chars.
        let (_, spans) = norm("ﬁne");
        assert_eq!(&spans[..3], &[(0, 3), (0, 3), (3, 4)]);
    }

    #[test]
    fn zero_width_and_soft_hyphen_are_removed() {
        let (s, spans) = norm("id\u{200B}i\u{00AD}ot");
        assert_eq!(s, "idiot");
        // 'i' after the zero-width space starts at byte 5 (2 + 3).
        assert_eq!(spans[2], (5, 6));
    }

    #[test]
    fn cyrillic_homoglyphs_fold_to_latin() {
        assert_eq!(norm("іdіоt").0, "idiot");
        assert_eq!(norm("СТУПИД").0, "ctyn\u{438}\u{434}");
    }

    #[test]
    fn html_entities_decode_and_span_the_entity() {
        let (s, spans) = norm("a &amp; b &#8220;x&#x201D;");
        assert_eq!(s, "a & b \u{201c}x\u{201d}");
        assert_eq!(spans[2], (2, 7));
        // Unknown or unterminated entities are left as text.
        assert_eq!(norm("&foo; &amp").0, "&foo; &amp");
        // Emoji by number: one character spanning the whole entity.
        let (s, spans) = norm("wow &#128175;!");
        assert_eq!(s, "wow 💯!");
        assert_eq!(spans[4], (4, 13));
    }

    #[test]
    fn decode_entities_for_display_matches_the_analysis() {
        let text = "Tom &amp; Jerry &#128175; &lt;b&gt; &foo; &amp";
        assert_eq!(decode_entities(text), "Tom & Jerry 💯 <b> &foo; &amp");
        assert!(matches!(
            decode_entities("no entities"),
            std::borrow::Cow::Borrowed(_)
        ));
        let (analysed, _) = norm(text);
        assert_eq!(analysed, decode_entities(text).to_lowercase());
    }

    #[test]
    fn emoji_pass_through_and_skin_tones_drop() {
        let (s, spans) = norm("ok 👍🏽!");
        assert_eq!(s, "ok 👍!");
        assert_eq!(spans[3], (3, 7));
        assert_eq!(spans[4], (11, 12));
    }
}

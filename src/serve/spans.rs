//! Sentences of a comment, and byte offsets converted to the UTF-16 code
//! units in which Perspective (and JavaScript) count span offsets.

/// Words after which a `.` does not end a sentence.
const ABBREVIATIONS: [&str; 14] = [
    "mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "e.g", "i.e", "jr", "sr", "no", "u.s",
];

/// The sentences of `text` as byte ranges `[start, end)`, in order, without
/// surrounding whitespace. A sentence ends after `.`, `!`, `?` or `…` (with
/// any closing quotes or brackets) that is followed by whitespace, and at
/// every line break. A `.` after a single letter or a common abbreviation
/// (`Mr.`, `e.g.`, `U.S.`) does not end one.
pub fn sentences(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let end = match c {
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => Some(i),
            '.' | '!' | '?' | '…' | '。' | '！' | '？' => {
                // Take the rest of the punctuation run and closing marks.
                let mut j = i + c.len_utf8();
                while let Some(&(k, d)) = iter.peek() {
                    if matches!(
                        d,
                        '.' | '!' | '?' | '…' | '"' | '\'' | '”' | '’' | ')' | ']'
                    ) {
                        j = k + d.len_utf8();
                        iter.next();
                    } else {
                        break;
                    }
                }
                let followed_by_space = text[j..].chars().next().is_none_or(char::is_whitespace);
                (followed_by_space && !(c == '.' && is_abbreviation(&text[start..i]))).then_some(j)
            }
            _ => None,
        };
        if let Some(end) = end {
            push_trimmed(text, start, end, &mut out);
            start = end;
            // A line break is not part of the next sentence either.
            if end == i {
                start = i + c.len_utf8();
            }
        }
    }
    push_trimmed(text, start, bytes.len(), &mut out);
    out
}

/// True when the word just before a `.` is a single letter or a listed
/// abbreviation.
fn is_abbreviation(before: &str) -> bool {
    let word = before
        .rsplit(|c: char| c.is_whitespace() || c == '(' || c == '"')
        .next()
        .unwrap_or_default();
    let lower = word.to_lowercase();
    let letters = lower.chars().filter(|c| c.is_alphabetic()).count();
    (letters == 1 && lower.chars().count() <= 3) || ABBREVIATIONS.contains(&lower.as_str())
}

fn push_trimmed(text: &str, start: usize, end: usize, out: &mut Vec<(usize, usize)>) {
    let piece = &text[start..end];
    let lead = piece.len() - piece.trim_start().len();
    let trail = piece.len() - piece.trim_end().len();
    if lead + trail < piece.len() {
        out.push((start + lead, end - trail));
    }
}

/// The length of `s` in UTF-16 code units.
pub fn utf16_len(s: &str) -> u32 {
    s.chars().map(|c| c.len_utf16() as u32).sum()
}

/// Converts increasing byte offsets of one text to UTF-16 offsets in one
/// pass over the text.
#[derive(Debug)]
pub struct Utf16Cursor<'t> {
    text: &'t str,
    byte: usize,
    units: u32,
}

impl<'t> Utf16Cursor<'t> {
    /// A cursor at the start of `text`.
    pub fn new(text: &'t str) -> Self {
        Utf16Cursor {
            text,
            byte: 0,
            units: 0,
        }
    }

    /// The UTF-16 offset of byte offset `byte` (a char boundary at or after
    /// the previous one asked for; an earlier offset restarts the count).
    pub fn units_at(&mut self, byte: usize) -> u32 {
        if byte < self.byte {
            self.byte = 0;
            self.units = 0;
        }
        let end = byte.min(self.text.len());
        self.units += utf16_len(self.text.get(self.byte..end).unwrap_or_default());
        self.byte = end;
        self.units
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<&str> {
        sentences(text)
            .into_iter()
            .map(|(a, b)| &text[a..b])
            .collect()
    }

    #[test]
    fn splits_at_terminal_punctuation_and_line_breaks() {
        assert_eq!(pieces("Hi you idiot"), vec!["Hi you idiot"]);
        assert_eq!(
            pieces("You are kind. You are an idiot! Really?  Yes…"),
            vec!["You are kind.", "You are an idiot!", "Really?", "Yes…"]
        );
        assert_eq!(
            pieces("He said \"go away.\" Then he left.\n\nNext line"),
            vec!["He said \"go away.\"", "Then he left.", "Next line"]
        );
        assert_eq!(
            pieces("Mr. Smith met U.S. troops, e.g. in Homs. Version 2.5 is out."),
            vec![
                "Mr. Smith met U.S. troops, e.g. in Homs.",
                "Version 2.5 is out."
            ]
        );
        assert_eq!(pieces("Wait... what?!"), vec!["Wait...", "what?!"]);
        assert_eq!(pieces("   "), Vec::<&str>::new());
        assert_eq!(pieces(""), Vec::<&str>::new());
        assert_eq!(pieces("a\r\nb"), vec!["a", "b"]);
    }

    #[test]
    fn utf16_offsets_count_surrogate_pairs_twice() {
        assert_eq!(utf16_len("Hi there"), 8);
        assert_eq!(utf16_len("é"), 1);
        assert_eq!(utf16_len("👍"), 2);
        let text = "a👍 é. Спасибо";
        let mut c = Utf16Cursor::new(text);
        assert_eq!(c.units_at(0), 0);
        assert_eq!(c.units_at(1), 1);
        assert_eq!(c.units_at(5), 3); // after the emoji (4 bytes, 2 units)
        assert_eq!(c.units_at(text.len()), utf16_len(text));
        assert_eq!(c.units_at(1), 1); // going back restarts
        // JavaScript's String.prototype.length of the same text.
        assert_eq!(utf16_len(text), 14);
    }
}

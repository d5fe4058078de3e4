//! Text from comments made safe to write to a terminal.
//!
//! A comment can hold escape sequences (`ESC[31m` recolours the terminal, an
//! OSC sequence sets its title, others can rewrite the screen) and bidi
//! controls that reorder what is shown. Everything a person reads in a
//! terminal (the score table, the review screen, messages on stderr) passes
//! through these functions first.

/// `c` as it may be written to a terminal: control characters and
/// bidirectional formatting characters become `?`.
pub fn safe_char(c: char) -> char {
    if c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') {
        '?'
    } else {
        c
    }
}

/// `s` on one line: whitespace runs collapsed to one space, terminal-safe.
pub fn one_line(s: &str) -> String {
    s.split_whitespace()
        .map(|w| w.chars().map(safe_char).collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `s` terminal-safe, keeping its line breaks and tabs (for messages).
pub fn safe_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '\n' || c == '\t' {
                c
            } else {
                safe_char(c)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_bidi_controls_are_neutralised() {
        let hostile = "red \x1b[31mtext\x1b]0;owned\x07 \u{202E}gnp.exe\u{9b}2J";
        let safe = one_line(hostile);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe:?}");
        assert_eq!(safe, "red ?[31mtext?]0;owned? ?gnp.exe?2J");
        assert_eq!(one_line(" a\n\tb \x07c "), "a b ?c");
        assert_eq!(safe_text("line 1\n\tline\x1b2"), "line 1\n\tline?2");
    }
}

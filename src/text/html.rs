//! Comment HTML to text: tags removed, block boundaries kept as line breaks,
//! `<script>`/`<style>` contents dropped. Entities are left alone: the
//! analyzer decodes them (and a decoded `&lt;` must never become a tag).
//!
//! One function for every reader of HTML comments: the server's Coral phase
//! and Perspective `HTML` comments, and the command line's `--html`
//! ([`crate::io::ReadOptions::html`]), so that a backlog exported from Coral
//! scores offline as it did live.
//!
//! Each byte of the text remembers the byte of the HTML it came from, so that
//! spans found in the text can be reported against what the client sent.

/// Tags whose end (or start) separates blocks of text.
const BLOCK_TAGS: [&str; 20] = [
    "p",
    "br",
    "div",
    "li",
    "ul",
    "ol",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "td",
    "th",
    "pre",
    "hr",
    "section",
    "article",
];

/// Text extracted from HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stripped {
    /// The text.
    pub text: String,
    /// `origin[i]`: the HTML byte offset of text byte `i`; one more entry
    /// maps the text's end.
    pub origin: Vec<u32>,
}

impl Stripped {
    /// The HTML byte offset of text byte offset `i`.
    pub fn html_offset(&self, i: usize) -> usize {
        html_offset(&self.origin, i)
    }

    /// The byte range of `html` (the HTML this was stripped from) that the
    /// text's byte range `a..b` came from: from its first character's byte
    /// to the end of its last character.
    pub fn html_range(&self, html: &str, a: usize, b: usize) -> (usize, usize) {
        html_range(&self.origin, html, a, b)
    }
}

/// `origin[i]` (see [`Stripped::origin`]), 0 past its end.
fn html_offset(origin: &[u32], i: usize) -> usize {
    origin.get(i).copied().unwrap_or(0) as usize
}

/// [`Stripped::html_range`] over an `origin` table.
pub fn html_range(origin: &[u32], html: &str, a: usize, b: usize) -> (usize, usize) {
    if b > a {
        let last = html_offset(origin, b - 1);
        let len = html
            .get(last..)
            .and_then(|rest| rest.chars().next())
            .map_or(1, char::len_utf8);
        (html_offset(origin, a), last + len)
    } else {
        let at = html_offset(origin, a);
        (at, at)
    }
}

/// Removes the tags of `html`.
pub fn strip(html: &str) -> Stripped {
    let mut text = String::with_capacity(html.len());
    let mut origin: Vec<u32> = Vec::with_capacity(html.len() + 1);
    let bytes = html.as_bytes();
    let mut i = 0;
    // Inside <script> or <style>: skip until this closing tag.
    let mut skip_until: Option<&'static str> = None;
    // True while the text ends with a line break a tag put there.
    let mut ends_with_break = false;
    while i < bytes.len() {
        if bytes[i] == b'<'
            && let Some(tag) = parse_tag(html, i)
        {
            let name = tag.name.to_ascii_lowercase();
            if let Some(closing) = skip_until {
                if tag.closing && name == closing {
                    skip_until = None;
                }
            } else if !tag.closing && (name == "script" || name == "style") {
                skip_until = Some(if name == "script" { "script" } else { "style" });
            } else if BLOCK_TAGS.contains(&name.as_str())
                && !text.ends_with('\n')
                && !text.is_empty()
            {
                text.push('\n');
                origin.push(i as u32);
                ends_with_break = true;
            }
            i = tag.end;
            continue;
        }
        let c = html[i..].chars().next().unwrap_or('\u{fffd}');
        if skip_until.is_none() {
            text.push(c);
            for _ in 0..c.len_utf8() {
                origin.push(i as u32);
            }
            ends_with_break = false;
        }
        i += c.len_utf8();
    }
    if ends_with_break {
        text.pop();
        origin.pop();
    }
    origin.push(html.len() as u32);
    Stripped { text, origin }
}

/// A tag found at a `<`.
struct Tag<'h> {
    name: &'h str,
    closing: bool,
    /// Byte after the `>`.
    end: usize,
}

/// Parses the tag (or comment, or declaration) starting at `start`, which
/// holds `<`. A `<` not followed by a letter, `/`, `!` or `?` is text.
fn parse_tag(html: &str, start: usize) -> Option<Tag<'_>> {
    let bytes = html.as_bytes();
    let next = *bytes.get(start + 1)?;
    if html[start..].starts_with("<!--") {
        let end = html[start + 4..]
            .find("-->")
            .map_or(html.len(), |p| start + 4 + p + 3);
        return Some(Tag {
            name: "!--",
            closing: false,
            end,
        });
    }
    if next == b'!' || next == b'?' {
        let end = html[start..]
            .find('>')
            .map_or(html.len(), |p| start + p + 1);
        return Some(Tag {
            name: "!",
            closing: false,
            end,
        });
    }
    let closing = next == b'/';
    let name_start = start + 1 + usize::from(closing);
    if !bytes.get(name_start)?.is_ascii_alphabetic() {
        return None;
    }
    let mut j = name_start;
    while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'-') {
        j += 1;
    }
    let name = &html[name_start..j];
    // Attributes: skip to the `>` that is outside quotes.
    let mut quote: Option<u8> = None;
    while j < bytes.len() {
        match (quote, bytes[j]) {
            (None, b'>') => {
                return Some(Tag {
                    name,
                    closing,
                    end: j + 1,
                });
            }
            (None, q @ (b'"' | b'\'')) => quote = Some(q),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        j += 1;
    }
    // An unterminated tag: the rest is the tag.
    Some(Tag {
        name,
        closing,
        end: bytes.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_go_blocks_become_lines() {
        let s = strip("<p>You are an <b>idiot</b>.</p><p>Second &amp; last</p>");
        assert_eq!(s.text, "You are an idiot.\nSecond &amp; last");
        let s = strip("line one<br>line two<br/>three");
        assert_eq!(s.text, "line one\nline two\nthree");
        let s = strip(r#"<a href="x>y" title='a>b'>link</a> text"#);
        assert_eq!(s.text, "link text");
        let s = strip("<p>a</p><script>alert('<p>hi</p>')</script><style>p{}</style>b");
        assert_eq!(s.text, "a\nb");
        let s = strip("1 < 2 and 3 > 2, <!-- hidden --> ok <!doctype html>");
        assert_eq!(s.text, "1 < 2 and 3 > 2,  ok ");
        assert_eq!(
            strip("&lt;b&gt;kept&lt;/b&gt;").text,
            "&lt;b&gt;kept&lt;/b&gt;"
        );
        assert_eq!(strip("<unclosed attr='x").text, "");
        assert_eq!(strip("").text, "");
        assert_eq!(strip("<").text, "<");
    }

    #[test]
    fn offsets_point_back_into_the_html() {
        let html = "<p>Hé <i>idiot</i></p>";
        let s = strip(html);
        assert_eq!(s.text, "Hé idiot");
        assert_eq!(s.origin.len(), s.text.len() + 1);
        let at = s.text.find("idiot").unwrap();
        let (a, b) = (s.html_offset(at), s.html_offset(at + 5 - 1) + 1);
        assert_eq!(&html[a..b], "idiot");
        assert_eq!(s.html_offset(s.text.len()), html.len());
    }
}

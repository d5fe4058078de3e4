//! De-obfuscation: undoes the tricks readers use to slip abuse past word
//! filters, on normalised characters, so every output character still carries
//! the byte span it came from.
//!
//! Runs between [`normalize`](super::normalize) and
//! [`tokenize`](super::tokenize) when [`AnalyzerConfig::deobfuscate`] is set.
//! It only removes characters or replaces a character by another, so a token
//! built from its output spans from the start of its first source character to
//! the end of its last one, including any separators that were dropped inside
//! it (`k.i.l.l` spans all seven bytes).
//!
//! Rules, in order:
//!
//! 0. **More invisible and look-alike characters**: Unicode format characters
//!    that [`normalize`](super::normalize) keeps (Arabic number signs,
//!    interlinear annotation, shorthand format controls, …) are dropped, and
//!    small capitals (`ᴋɪʟʟ`), Armenian and a few more Greek/Latin look-alikes
//!    are folded to Latin letters (only with `fold_confusables`).
//! 1. **Letter spacing** (`k i l l`, `s t u p i d`): a run of at least three
//!    chunks of one ASCII letter each, separated by exactly one whitespace
//!    character, is joined. The first chunk may carry leading punctuation and
//!    the last trailing punctuation (`(k i l l)`); inner chunks may be a single
//!    leet character (`k 1 l l`). The run is left alone when it has fewer than
//!    three letters or when every letter is a common one-letter word or text
//!    abbreviation (`a b c i k n o r u x y`), so `u r a` (“you are a”), `a b c`
//!    and `I a I` stay as they are while `U S A` becomes `usa`.
//! 2. **Separators inside a word**: inside a whitespace-delimited chunk,
//!    pieces of letters joined by `*` (up to three: `f*ck`, `a**hole`) are
//!    joined when both sides have a letter. Pieces joined by one `.`, `-`, `_`,
//!    `·`, `•` or `‐` are joined when every piece has at most three characters
//!    and contains a letter (an inner piece may be one leet character), some
//!    piece is a single character, and there are at least three pieces if any
//!    separator is a `.`: `k.i.l.l`, `st-u-pid`, `sh-t`, `U.S.A.`, `x-ray`.
//!    Never joined: two dotted pieces (in the training corpus nearly always an
//!    abbreviation, `u.s.`, `e.g.`, or a missing space after a full stop,
//!    `not.to`; so `id.iot` is not joined either), pieces of digits (`7.62`,
//!    `2-3`), pieces starting with two digits (`F-35s`), a clitic after an
//!    apostrophe (`someone's-ass`), a last piece after `.` that is a common
//!    top-level domain (`bbc.co.uk`), and a `.` between a lower-case and an
//!    upper-case letter, a missing space after a full stop (`k.i.l.l.The` is
//!    `kill` and `the`). So `pro-war`, `anti-war`, `e-mail`, `co-op` and
//!    `one-on-one` keep their words.
//! 3. **Leetspeak** (`@ 4 → a`, `3 → e`, `1 ! → i`, `11 → ll`, `| → l`,
//!    `0 → o`, `$ 5 → s`, `7 → t`), applied to a word (a run of letters, digits
//!    and `@ $ ! |`) only when all of these hold:
//!    - it has at least two letters and at most one more non-letter than
//!      letters (`1d10t` has 2 letters and 3 others);
//!    - every non-letter is a leet character in a leet position: no `2 6 8 9`
//!      and no run of three digits (`first100days`); `4` not between two
//!      words of 2+ and 3+ letters, where it means "for" (`vote4trump`);
//!      `!`/`|` only single, between letters or digits, with at most two
//!      letters on one side (`sh!t`, but `refugees!maybe`, `news|politics`),
//!      and `!` not before an upper-case letter that follows a lower-case one
//!      (`what!No`); `$` only before a letter or leet character; `@` between
//!      letters only when at most three letters follow it, or one letter
//!      precedes it and `user` does not follow (`b@stard`, but `rt@somebody`,
//!      `f@user`), and at the start only as `@ss`/`@$$` plus at most five
//!      letters (`@ss`, `@sshole`; any other `@word` is an @mention);
//!    - a leet character sits between two letters (`k1ll`, `st00pid`,
//!      `$h1t`), or the word starts with `@` (`@ss`); so digits only in front
//!      of letters (`1st`, `3rd`, `7pm`, `4chan`, `1990s`) or only after them
//!      (`mp3`, `covid19`, `ak47`), and `$` only in front (`$btc`), are left;
//!    - it is not a model code: one digit run followed by a plural `s`
//!      (`mp3s`, `F35s`), or ending in a digit with only single letters between
//!      digit runs (`M1A1`, `H5N1`).
//!
//! Chunks holding a URL (`http://`, `https://`, `www.`), an e-mail address or
//! an @mention are copied unchanged, so the tokenizer still masks them.
//!
//! Runs of three or more repeated letters are handled by the tokenizer (see
//! [`RepeatRule`](super::tokenize::RepeatRule)).
//!
//! [`AnalyzerConfig::deobfuscate`]: super::AnalyzerConfig::deobfuscate

use super::normalize::NormChar;

/// Separators that may stand between the pieces of an obfuscated word (rule 2),
/// besides `*`.
const SEPARATORS: [char; 6] = ['.', '-', '_', '\u{b7}', '\u{2022}', '\u{2010}'];

/// Letters that are also common words or text abbreviations on their own:
/// a letter-spaced run made only of these is ordinary text (rule 1).
const ONE_LETTER_WORDS: [char; 11] = ['a', 'b', 'c', 'i', 'k', 'n', 'o', 'r', 'u', 'x', 'y'];

/// Common top-level domains: `name.tld` is a site, not a split word.
const TLDS: [&str; 36] = [
    "com", "org", "net", "gov", "edu", "mil", "int", "io", "co", "uk", "us", "ru", "ua", "de",
    "fr", "eu", "ca", "au", "in", "cn", "tv", "me", "su", "by", "ai", "ly", "it", "to", "gg", "fm",
    "ch", "nl", "pl", "jp", "biz", "xyz",
];

/// Longest piece (in characters) joined across `.`/`-`/`_` separators.
const MAX_PIECE: usize = 3;

/// Longest run of `*` treated as masking inside a word.
const MAX_STARS: usize = 3;

/// Reusable state for de-obfuscation (no allocation per call once grown).
#[derive(Debug, Default, Clone)]
pub struct Deobfuscator {
    /// Pieces of the current chunk: `(start, end)` indices into the chunk.
    pieces: Vec<(usize, usize)>,
    /// For each gap after a piece: drop it (join the pieces) or keep it.
    drop_gap: Vec<bool>,
}

impl Deobfuscator {
    /// Creates a de-obfuscator with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// De-obfuscates `chars` (normalised from `text`, which is used only to
    /// look at the original letter case) into `out`, cleared first.
    ///
    /// Applies rule 0 (dropping and folding characters) to `chars` in place,
    /// folding look-alikes only when `fold_confusables` is set.
    pub fn run(
        &mut self,
        text: &str,
        fold_confusables: bool,
        chars: &mut Vec<NormChar>,
        out: &mut Vec<NormChar>,
    ) {
        fold_extra(chars, fold_confusables);
        out.clear();
        out.reserve(chars.len());
        let n = chars.len();
        let mut i = 0;
        // Chunks before this index belong to a letter-spaced run already
        // rejected, whose suffixes are rejected too: not looked at again.
        let mut no_run_before = 0;
        while i < n {
            if chars[i].ch.is_whitespace() {
                out.push(chars[i]);
                i += 1;
                continue;
            }
            if i >= no_run_before {
                match spaced_run(chars, i) {
                    SpacedRun::Join(end) => {
                        let from = out.len();
                        for c in &chars[i..end] {
                            if !c.ch.is_whitespace() {
                                out.push(*c);
                            }
                        }
                        leet_words(text, out, from);
                        i = end;
                        continue;
                    }
                    SpacedRun::Rejected(end) => no_run_before = end,
                    SpacedRun::None => {}
                }
            }
            let (j, may_change) = scan_chunk(chars, i);
            if may_change {
                self.chunk(text, &chars[i..j], out);
            } else {
                out.extend_from_slice(&chars[i..j]);
            }
            i = j;
        }
    }

    /// Rules 2 and 3 on one whitespace-delimited chunk.
    fn chunk(&mut self, text: &str, chunk: &[NormChar], out: &mut Vec<NormChar>) {
        if is_verbatim(chunk) {
            out.extend_from_slice(chunk);
            return;
        }
        self.pieces.clear();
        let mut k = 0;
        while k < chunk.len() {
            if is_word_char(chunk[k].ch) {
                let start = k;
                while k < chunk.len() && is_word_char(chunk[k].ch) {
                    k += 1;
                }
                self.pieces.push((start, k));
            } else {
                k += 1;
            }
        }
        self.decide_joins(text, chunk);
        let from = out.len();
        let mut next = 0;
        for (p, &(start, end)) in self.pieces.iter().enumerate() {
            // Whatever lies before this piece: kept unless it is a dropped gap.
            if p == 0 || !self.drop_gap[p - 1] {
                out.extend_from_slice(&chunk[next..start]);
            }
            out.extend_from_slice(&chunk[start..end]);
            next = end;
        }
        out.extend_from_slice(&chunk[next..]);
        leet_words(text, out, from);
    }

    /// Fills `drop_gap` for the current pieces (rule 2).
    fn decide_joins(&mut self, text: &str, chunk: &[NormChar]) {
        let pieces = &self.pieces;
        self.drop_gap.clear();
        self.drop_gap.resize(pieces.len().saturating_sub(1), false);
        if pieces.len() < 2 {
            return;
        }
        // Gap kinds: '*' masking, a single separator, or a break.
        let gap = |p: usize| -> Gap {
            let (a, b) = (pieces[p].1, pieces[p + 1].0);
            let g = &chunk[a..b];
            if g.len() <= MAX_STARS && g.iter().all(|c| c.ch == '*') {
                return Gap::Star;
            }
            if g.len() == 1 && SEPARATORS.contains(&g[0].ch) {
                let sentence = g[0].ch == '.'
                    && is_original(text, &chunk[a - 1], char::is_lowercase)
                    && is_original(text, &chunk[b], char::is_uppercase);
                if !sentence {
                    return Gap::Sep(g[0].ch);
                }
            }
            Gap::Break
        };
        let has_letter = |p: usize| {
            chunk[pieces[p].0..pieces[p].1]
                .iter()
                .any(|c| c.ch.is_alphabetic())
        };
        // '*' joins first: both sides must have a letter.
        for p in 0..pieces.len() - 1 {
            if gap(p) == Gap::Star && has_letter(p) && has_letter(p + 1) {
                self.drop_gap[p] = true;
            }
        }
        // Then chains of groups (pieces joined by '*') linked by separators.
        let mut p = 0;
        while p < pieces.len() {
            // The chain starts with the group holding piece `p`.
            let mut groups = 0usize;
            let mut q = p;
            let mut ok = true;
            let mut min_len = usize::MAX;
            let mut max_len = 0;
            let mut last_sep = ' ';
            let mut dotted = false;
            let mut last_group_start;
            loop {
                // The group starting at q.
                let group_start = q;
                while q + 1 < pieces.len() && self.drop_gap[q] {
                    q += 1;
                }
                let len: usize = (group_start..=q).map(|r| pieces[r].1 - pieces[r].0).sum();
                let letter = (group_start..=q).any(has_letter);
                // A clitic after an apostrophe (`someone's-ass`) starts no join.
                let clitic = groups == 0
                    && pieces[group_start].0 > 0
                    && is_apostrophe(chunk[pieces[group_start].0 - 1].ch);
                let first = &chunk[pieces[group_start].0..pieces[group_start].1];
                let two_digits =
                    first.len() >= 2 && first[..2].iter().all(|c| c.ch.is_ascii_digit());
                let leet_single = len == 1 && is_leet_char(first[0].ch);
                let is_end = q + 1 >= pieces.len() || !matches!(gap(q), Gap::Sep(_));
                let inner = groups > 0 && !is_end;
                if clitic || two_digits || !(letter || (inner && leet_single)) {
                    ok = false;
                }
                min_len = min_len.min(len);
                max_len = max_len.max(len);
                groups += 1;
                last_group_start = group_start;
                if is_end {
                    break;
                }
                if let Gap::Sep(c) = gap(q) {
                    last_sep = c;
                    dotted |= c == '.';
                }
                q += 1;
            }
            if groups >= 2 && ok {
                let (a, b) = pieces[last_group_start];
                let tld = last_sep == '.' && b - a >= 2 && is_tld(&chunk[a..b]);
                // Two dotted pieces are nearly always an abbreviation (`u.s`,
                // `e.g`) or a missing space after a full stop (`not.to`).
                let short = max_len <= MAX_PIECE && min_len == 1 && (groups >= 3 || !dotted);
                if short && !tld {
                    for r in p..q {
                        self.drop_gap[r] = true;
                    }
                }
            }
            p = q + 1;
        }
    }
}

/// What separates two pieces of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gap {
    /// One to three `*`: masking.
    Star,
    /// One separator character.
    Sep(char),
    /// Anything else: the pieces are separate words.
    Break,
}

/// Outcome of looking for a letter-spaced run at a chunk start.
enum SpacedRun {
    /// No run starts here.
    None,
    /// A run to join, ending (exclusive) at this character index.
    Join(usize),
    /// A run that must stay as it is, ending at this index.
    Rejected(usize),
}

/// Looks for a letter-spaced run (rule 1) starting at the chunk at `i`.
fn spaced_run(chars: &[NormChar], i: usize) -> SpacedRun {
    let n = chars.len();
    // First member: optional leading punctuation, then one ASCII letter.
    let mut k = i;
    while k < n && is_punct(chars[k].ch) {
        k += 1;
    }
    if k >= n || !chars[k].ch.is_ascii_lowercase() {
        return SpacedRun::None;
    }
    let mut members = 0usize;
    let mut letters = 0usize;
    // End of the last member looked at: no run can start before it again.
    let mut scan_end = i;
    let mut common = true;
    // End (exclusive) of the run up to its last letter member, and its counts.
    let mut end_at_letter = i;
    let (mut members_at_letter, mut letters_at_letter, mut common_at_letter) = (0, 0, true);
    loop {
        // `k` is at the member character.
        let c = chars[k].ch;
        let letter = c.is_ascii_lowercase();
        if !(letter || (members > 0 && is_leet_char(c))) {
            break;
        }
        members += 1;
        if letter {
            letters += 1;
            common &= ONE_LETTER_WORDS.contains(&c);
        }
        k += 1;
        // Trailing punctuation ends the run with this member.
        let mut t = k;
        while t < n && is_punct(chars[t].ch) {
            t += 1;
        }
        let trailing = t > k;
        scan_end = t;
        if letter {
            end_at_letter = t;
            members_at_letter = members;
            letters_at_letter = letters;
            common_at_letter = common;
        }
        if trailing || t >= n || !chars[t].ch.is_whitespace() {
            break;
        }
        // Exactly one whitespace, then a chunk of one member character.
        let m = t + 1;
        if m >= n || chars[m].ch.is_whitespace() {
            break;
        }
        let single = m + 1 >= n || chars[m + 1].ch.is_whitespace() || is_punct(chars[m + 1].ch);
        if !single {
            break;
        }
        k = m;
    }
    if members_at_letter < 3 || letters_at_letter < 3 || common_at_letter {
        // Every later start inside the scanned members has fewer members and
        // letters, and no less common letters: rejected too.
        return SpacedRun::Rejected(scan_end);
    }
    SpacedRun::Join(end_at_letter)
}

/// The index just past the whitespace-delimited chunk starting at `i`, and
/// whether rules 2 and 3 may change the chunk. Most words they cannot: no
/// digit, no leet symbol, no `*`, no separator before a word character.
fn scan_chunk(chars: &[NormChar], i: usize) -> (usize, bool) {
    let mut j = i;
    let mut may_change = false;
    while j < chars.len() {
        let c = chars[j].ch;
        if c.is_ascii_lowercase() {
            j += 1;
            continue;
        }
        if c.is_whitespace() {
            break;
        }
        may_change = may_change
            || c.is_ascii_digit()
            || matches!(c, '@' | '$' | '!' | '|' | '*')
            || (SEPARATORS.contains(&c) && chars.get(j + 1).is_some_and(|d| is_word_char(d.ch)));
        j += 1;
    }
    (j, may_change)
}

/// True for a chunk that must not be touched: it holds a URL, an e-mail
/// address or an @mention (other than the leet `@` + one or two letters).
pub(crate) fn is_verbatim(chunk: &[NormChar]) -> bool {
    let n = chunk.len();
    for k in 0..n {
        let c = chunk[k].ch;
        let boundary = k == 0 || !chunk[k - 1].ch.is_alphanumeric();
        match c {
            'h' | 'w'
                if boundary
                    && (starts_with(&chunk[k..], "http://")
                        || starts_with(&chunk[k..], "https://")
                        || starts_with(&chunk[k..], "www.")) =>
            {
                return true;
            }
            '@' if boundary => {
                let next_word =
                    k + 1 < n && (chunk[k + 1].ch.is_alphanumeric() || chunk[k + 1].ch == '_');
                if next_word && !is_leet_at(&chunk[k + 1..]) {
                    return true;
                }
            }
            '@' => {
                // name@domain.tld
                let domain = chunk[k + 1..]
                    .windows(2)
                    .any(|w| w[0].ch == '.' && w[1].ch.is_alphanumeric());
                if domain {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// True when what follows a word-initial `@` makes it the leet `a`: two `s`
/// or `$` and at most five more letters (`@ss`, `@$$hole`, `@ssholes`). Any
/// other word after `@` is an @mention (`@ssmith_news`).
fn is_leet_at(rest: &[NormChar]) -> bool {
    let more = rest
        .iter()
        .skip(2)
        .take_while(|c| c.ch.is_alphanumeric() || c.ch == '_')
        .count();
    rest.len() >= 2 && rest[..2].iter().all(|c| matches!(c.ch, 's' | '$')) && more <= 5
}

/// True when an `@` between letters is the leet `a` (`b@stard`, `wh@t`), given
/// the letters just before and after it: at most three letters follow it, or
/// one letter precedes it and the letters after it are not `user` (the
/// anonymised mention of tweet corpora, often glued to a word: `f@user`).
/// Longer words on both sides are a mention glued to a word (`rt@somebody`).
fn is_leet_inner_at(before: &[NormChar], after: &[NormChar]) -> bool {
    let b = before
        .iter()
        .rev()
        .take_while(|c| c.ch.is_alphabetic())
        .count();
    let a = after.iter().take_while(|c| c.ch.is_alphabetic()).count();
    let user = a == 4 && starts_with(after, "user");
    b >= 1 && a >= 1 && (a <= 3 || (b == 1 && !user))
}

/// True when `chars` begins with the characters of `prefix`.
fn starts_with(chars: &[NormChar], prefix: &str) -> bool {
    prefix
        .chars()
        .enumerate()
        .all(|(k, p)| chars.get(k).is_some_and(|c| c.ch == p))
}

fn is_tld(chars: &[NormChar]) -> bool {
    TLDS.iter()
        .any(|t| t.len() == chars.len() && t.chars().zip(chars).all(|(a, b)| a == b.ch))
}

/// True when the original text of `c` starts with a character for which
/// `test` holds (used to read the letter case that normalisation removed).
pub(crate) fn is_original(text: &str, c: &NormChar, test: fn(char) -> bool) -> bool {
    text.get(c.start as usize..c.end as usize)
        .and_then(|s| s.chars().next())
        .is_some_and(test)
}

/// Characters that make up a word for rules 2 and 3: letters, digits and the
/// leet symbols.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '@' | '$' | '!' | '|')
}

/// Punctuation allowed around a letter-spaced run.
fn is_punct(c: char) -> bool {
    !c.is_whitespace() && !c.is_alphanumeric()
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{02BC}')
}

/// Digits and symbols that leetspeak uses for letters.
pub(crate) fn is_leet_char(c: char) -> bool {
    matches!(c, '0' | '1' | '3' | '4' | '5' | '7' | '@' | '$' | '!' | '|')
}

/// Applies rule 3 to every word in `out[from..]`.
fn leet_words(text: &str, out: &mut [NormChar], from: usize) {
    let mut k = from;
    while k < out.len() {
        if !is_word_char(out[k].ch) {
            k += 1;
            continue;
        }
        let start = k;
        while k < out.len() && is_word_char(out[k].ch) {
            k += 1;
        }
        leet_word(text, &mut out[start..k]);
    }
}

/// Maps the leet characters of one word to letters when the word qualifies
/// (rule 3); otherwise leaves it unchanged.
fn leet_word(text: &str, word: &mut [NormChar]) {
    // Leading `!`/`|` and trailing symbols are punctuation, not letters.
    let mut a = 0;
    while a < word.len() && matches!(word[a].ch, '!' | '|') {
        a += 1;
    }
    let mut b = word.len();
    while b > a && matches!(word[b - 1].ch, '!' | '|' | '$' | '@') {
        b -= 1;
    }
    let core = &mut word[a..b];
    let n = core.len();
    if n < 3 {
        return;
    }
    let is_letter = |c: char| c.is_alphabetic();
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    let mut letters = 0usize;
    let mut first_letter = usize::MAX;
    let mut last_letter = 0;
    let mut longest_letter_run = 0;
    let mut letter_run = 0;
    let mut other_runs = 0;
    let mut digit_run = 0;
    for k in 0..n {
        let c = core[k].ch;
        if is_letter(c) {
            letters += 1;
            first_letter = first_letter.min(k);
            last_letter = k;
            letter_run += 1;
            longest_letter_run = longest_letter_run.max(letter_run);
            digit_run = 0;
            continue;
        }
        if k == 0 || is_letter(core[k - 1].ch) {
            other_runs += 1;
        }
        letter_run = 0;
        digit_run = if c.is_ascii_digit() { digit_run + 1 } else { 0 };
        let prev = (k > 0).then(|| core[k - 1].ch);
        let next = core.get(k + 1).map(|c| c.ch);
        let valid = match c {
            // Three digits in a row are a number (`first100days`).
            _ if digit_run >= 3 => false,
            // `4` between two words means "for" (`vote4trump`, `in4energy`).
            '4' => {
                let (before, after) = (letters_before(core, k), letters_after(core, k));
                !(before >= 2 && after >= 2 && before.max(after) >= 3)
            }
            '0' | '1' | '3' | '5' | '7' => true,
            // Between two longer words, `!` and `|` are punctuation
            // (`refugees!maybe`, `news|politics`), not letters (`sh!t`, `b!tch`).
            '!' | '|' => {
                alnum(prev)
                    && alnum(next)
                    && letters_before(core, k).min(letters_after(core, k)) <= 2
                    && !(c == '!'
                        && is_original(text, &core[k - 1], char::is_lowercase)
                        && is_original(text, &core[k + 1], char::is_uppercase))
            }
            '$' => {
                next.is_some_and(|c| is_letter(c) || is_leet_char(c))
                    && (k == 0 || alnum(prev) || prev == Some('$'))
            }
            '@' if k == 0 => is_leet_at(&core[1..]),
            '@' => is_leet_inner_at(&core[..k], &core[k + 1..]),
            _ => false,
        };
        if !valid {
            return;
        }
    }
    let others = n - letters;
    if others == 0 || letters < 2 || letters + 1 < others {
        return;
    }
    let internal = (0..n).any(|k| !is_letter(core[k].ch) && first_letter < k && k < last_letter);
    let at_start = core[0].ch == '@';
    if !internal && !at_start {
        return;
    }
    // Model codes: `mp3s`, `f35s` (one digit run, then a plural s) and
    // `m1a1`, `h5n1` (ends in a digit, single letters only).
    let plural_code = other_runs == 1 && core[n - 1].ch == 's' && !is_letter(core[n - 2].ch);
    let letter_code = !is_letter(core[n - 1].ch) && longest_letter_run == 1;
    if plural_code || letter_code {
        return;
    }
    let mut k = 0;
    while k < n {
        let c = core[k].ch;
        if c == '1' && core.get(k + 1).is_some_and(|d| d.ch == '1') {
            core[k].ch = 'l';
            core[k + 1].ch = 'l';
            k += 2;
            continue;
        }
        core[k].ch = match c {
            '@' | '4' => 'a',
            '3' => 'e',
            '1' | '!' => 'i',
            '|' => 'l',
            '0' => 'o',
            '$' | '5' => 's',
            '7' => 't',
            other => other,
        };
        k += 1;
    }
}

/// Letters directly before index `k` of `word`.
fn letters_before(word: &[NormChar], k: usize) -> usize {
    word[..k]
        .iter()
        .rev()
        .take_while(|c| c.ch.is_alphabetic())
        .count()
}

/// Letters directly after index `k` of `word`.
fn letters_after(word: &[NormChar], k: usize) -> usize {
    word[k + 1..]
        .iter()
        .take_while(|c| c.ch.is_alphabetic())
        .count()
}

/// Rule 0: drops format characters that normalisation keeps and folds more
/// look-alike letters (when `fold` is set), in place.
pub fn fold_extra(chars: &mut Vec<NormChar>, fold: bool) {
    if chars.iter().all(|c| c.ch.is_ascii()) {
        return;
    }
    chars.retain(|c| !is_format(c.ch));
    if fold {
        for c in chars.iter_mut() {
            c.ch = fold_lookalike(c.ch);
        }
    }
}

/// Unicode format characters (general category Cf) not already dropped by
/// [`normalize`](super::normalize).
pub fn is_format(c: char) -> bool {
    matches!(c,
        '\u{0600}'..='\u{0605}' | '\u{06DD}' | '\u{070F}' | '\u{0890}' | '\u{0891}' | '\u{08E2}'
        | '\u{FFF9}'..='\u{FFFB}' | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
    )
}

/// Folds small capitals and other Latin look-alikes that NFKD leaves alone.
pub fn fold_lookalike(c: char) -> char {
    match c {
        'ᴀ' | 'ɑ' => 'a',
        'ʙ' => 'b',
        'ᴄ' | 'ϲ' => 'c',
        'ᴅ' => 'd',
        'ᴇ' => 'e',
        'ꜰ' => 'f',
        'ɢ' | 'ɡ' | 'ց' => 'g',
        'ʜ' | 'հ' => 'h',
        'ɪ' | 'ı' => 'i',
        'ᴊ' | 'ȷ' | 'ϳ' => 'j',
        'ᴋ' => 'k',
        'ʟ' => 'l',
        'ᴍ' => 'm',
        'ɴ' | 'ո' => 'n',
        'ᴏ' | 'օ' => 'o',
        'ᴘ' => 'p',
        'զ' => 'q',
        'ʀ' => 'r',
        'ꜱ' => 's',
        'ᴛ' => 't',
        'ᴜ' | 'ս' => 'u',
        'ᴠ' => 'v',
        'ᴡ' => 'w',
        'ʏ' => 'y',
        'ᴢ' => 'z',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::super::normalize::normalize_into;
    use super::super::tokenize::{RepeatRule, TokenKind, Tokens, tokenize_with};
    use super::*;

    /// `(token text, original text under its span)` for each token.
    fn toks(text: &str) -> Vec<(String, &str)> {
        let mut chars = Vec::new();
        normalize_into(text, true, &mut chars);
        let mut clean = Vec::new();
        Deobfuscator::new().run(text, true, &mut chars, &mut clean);
        let mut out = Tokens::new();
        tokenize_with(&clean, RepeatRule::English, &mut out);
        out.iter()
            .map(|(s, t)| (s.to_string(), &text[t.start as usize..t.end as usize]))
            .collect()
    }

    fn texts(text: &str) -> Vec<String> {
        toks(text).into_iter().map(|t| t.0).collect()
    }

    fn pairs<'a>(items: &[(&str, &'a str)]) -> Vec<(String, &'a str)> {
        items.iter().map(|(a, b)| (a.to_string(), *b)).collect()
    }

    #[test]
    fn letter_spacing_joins_with_spans() {
        assert_eq!(
            toks("they should k i l l them all"),
            pairs(&[
                ("they", "they"),
                ("should", "should"),
                ("kill", "k i l l"),
                ("them", "them"),
                ("all", "all"),
            ])
        );
        assert_eq!(
            toks("you are s t u p i d!"),
            pairs(&[("you", "you"), ("are", "are"), ("stupid", "s t u p i d")])
        );
        assert_eq!(toks("(k i l l)"), pairs(&[("kill", "k i l l")]));
        // A double space separates words.
        assert_eq!(
            toks("k i l l  t h e m"),
            pairs(&[("kill", "k i l l"), ("them", "t h e m")])
        );
        // Leet inside the run.
        assert_eq!(toks("k 1 l l"), pairs(&[("kill", "k 1 l l")]));
        // Non-ASCII source characters: full-width letters and an NBSP.
        let text = "ｋ ｉ\u{a0}ｌ ｌ now";
        assert_eq!(
            toks(text),
            pairs(&[("kill", "ｋ ｉ\u{a0}ｌ ｌ"), ("now", "now")])
        );
    }

    #[test]
    fn letter_spacing_leaves_ordinary_single_letters() {
        assert_eq!(texts("u r a loser"), ["u", "r", "a", "loser"]);
        assert_eq!(texts("a b c"), ["a", "b", "c"]);
        assert_eq!(texts("I a I"), ["i", "a", "i"]);
        assert_eq!(texts("plan a or b"), ["plan", "a", "or", "b"]);
        // Two letters are not a run; three with punctuation between are not either.
        assert_eq!(texts("k i"), ["k", "i"]);
        assert_eq!(texts("a, b, d"), ["a", "b", "d"]);
        // Initials join (harmless): "U S A" reads as "usa".
        assert_eq!(texts("the U S A"), ["the", "usa"]);
        // Leet characters may not start or end a run.
        assert_eq!(texts("1 k i"), ["_num_", "k", "i"]);
    }

    #[test]
    fn separators_inside_words_join_with_spans() {
        assert_eq!(toks("k.i.l.l"), pairs(&[("kill", "k.i.l.l")]));
        assert_eq!(toks("st-u-pid"), pairs(&[("stupid", "st-u-pid")]));
        assert_eq!(toks("k_i_l_l"), pairs(&[("kill", "k_i_l_l")]));
        assert_eq!(toks("f*ck off"), pairs(&[("fck", "f*ck"), ("off", "off")]));
        assert_eq!(toks("a**hole"), pairs(&[("ahole", "a**hole")]));
        assert_eq!(toks("sh-t"), pairs(&[("sht", "sh-t")]));
        assert_eq!(toks("r.i.p."), pairs(&[("rip", "r.i.p")]));
        assert_eq!(toks("U.S.A."), pairs(&[("usa", "U.S.A")]));
        // Leet inside joined pieces; a middle dot; a non-ASCII letter.
        assert_eq!(toks("st-u-p1d"), pairs(&[("stupid", "st-u-p1d")]));
        assert_eq!(toks("k·i·l·l"), pairs(&[("kill", "k·i·l·l")]));
        assert_eq!(toks("é.t.é"), pairs(&[("ete", "é.t.é")]));
    }

    #[test]
    fn separators_between_real_words_stay() {
        for (text, want) in [
            ("pro-war", &["pro", "war"][..]),
            ("anti-war", &["anti", "war"]),
            ("e-mail", &["e", "mail"]),
            ("one-on-one", &["one", "on", "one"]),
            ("co-op", &["co", "op"]),
            ("id.iot", &["id", "iot"]),
            ("e.g.", &["e", "g"]),
            ("u.s.", &["u", "s"]),
            ("not.to", &["not", "to"]),
            ("war.The", &["war", "the"]),
            ("k.i.l.l.The", &["kill", "the"]),
            ("$btc", &["btc"]),
            ("W.T.F", &["wtf"]),
            ("rt.com", &["rt", "com"]),
            ("bbc.co.uk", &["bbc", "co", "uk"]),
            ("someone's-ass", &["someones", "ass"]),
            ("F-35s", &["f", "35s"]),
            ("AK-47", &["ak", "_num_"]),
            ("T-72", &["t", "_num_"]),
            ("2-3 times", &["_num_", "_num_", "times"]),
            ("5*3", &["_num_", "_num_"]),
        ] {
            assert_eq!(texts(text), want, "{text}");
        }
        assert_eq!(texts("x-ray"), ["xray"]);
    }

    #[test]
    fn leetspeak_maps_inside_mostly_letter_words() {
        for (text, want) in [
            ("k1ll", "kill"),
            ("1d10t", "idiot"),
            ("$h1t", "shit"),
            ("st00pid", "stoopid"),
            ("sh!t", "shit"),
            ("b!tch", "bitch"),
            ("b@stard", "bastard"),
            ("@ss", "ass"),
            ("@sshole", "asshole"),
            ("h3ll0", "hello"),
            ("hi11ary", "hillary"),
            ("l0l", "lol"),
            ("a$$hole", "asshole"),
            ("n1gg3r", "nigger"),
            ("k1ll3r5", "killers"),
            ("bull$hit", "bullshit"),
        ] {
            assert_eq!(texts(text), [want], "{text}");
        }
        let text = "Ｋ1ll 'em";
        assert_eq!(toks(text)[0], ("kill".to_string(), "Ｋ1ll"));
    }

    #[test]
    fn leetspeak_leaves_numbers_codes_and_mentions() {
        for (text, want) in [
            ("the 1st of May", &["the", "1st", "of", "may"][..]),
            ("3rd 7pm 3am 1990s", &["3rd", "7pm", "3am", "1990s"]),
            ("4chan", &["4chan"]),
            ("mp3 covid19 ak47", &["mp3", "covid19", "ak47"]),
            ("mp3s F35s", &["mp3s", "f35s"]),
            ("M1A1 H5N1", &["m1a1", "h5n1"]),
            ("$100 $50bn", &["_num_", "50bn"]),
            ("b2b gr8", &["b2b", "gr8"]),
            ("vote4trump in4energy", &["vote4trump", "in4energy"]),
            ("first100days", &["first100days"]),
            ("refugees!maybe", &["refugees", "maybe"]),
            ("news|politics", &["news", "politics"]),
            ("what!No", &["what", "no"]),
            ("wow!! hi!", &["wow", "hi"]),
            ("@bob hi", &["_user_", "hi"]),
            ("@ssmith_news", &["_user_"]),
            ("f@user", &["f", "user"]),
            ("rt@somebody", &["rt", "somebody"]),
            ("me@example.com", &["me", "example", "com"]),
            ("see https://x.org/k.i.l.l", &["see", "_url_"]),
        ] {
            assert_eq!(texts(text), want, "{text}");
        }
    }

    #[test]
    fn repeated_letters_follow_the_english_rule() {
        assert_eq!(
            texts("idiiiot stuuupid fuuuuck ahhh sooooo killlll yesss"),
            ["idiot", "stupid", "fuck", "ah", "soo", "kill", "yess"]
        );
        // Doubles, kkk and Roman numerals stay.
        assert_eq!(
            texts("skiing vacuum kkk wwiii viii"),
            ["skiing", "vacuum", "kk", "wwii", "vii"]
        );
        let t = toks("Ïdiiiot");
        assert_eq!(t[0], ("idiot".to_string(), "Ïdiiiot"));
    }

    #[test]
    fn extra_invisible_and_lookalike_characters_fold() {
        assert_eq!(toks("ᴋɪʟʟ"), pairs(&[("kill", "ᴋɪʟʟ")]));
        assert_eq!(toks("id\u{0600}iot"), pairs(&[("idiot", "id\u{0600}iot")]));
        assert_eq!(texts("ѕtսpіd"), ["stupid"]);
    }

    #[test]
    fn innocent_strings_keep_their_meaning() {
        for (text, want) in [
            ("6 itch", &["_num_", "itch"][..]),
            (
                "3 kills in the match",
                &["_num_", "kills", "in", "the", "match"],
            ),
            ("Ukraine's 7.62 ammo", &["ukraines", "_num_", "ammo"]),
            ("the 1st of May", &["the", "1st", "of", "may"]),
            ("$100", &["_num_"]),
            ("2-3 times", &["_num_", "_num_", "times"]),
            ("a b c", &["a", "b", "c"]),
            ("U.S.A.", &["usa"]),
            ("e.g.", &["e", "g"]),
            (
                "it costs $5.99, 10% off",
                &["it", "costs", "_num_", "_num_", "off"],
            ),
            (
                "on 2024-05-01 at 10:30",
                &["on", "_num_", "_num_", "_num_", "at", "_num_"],
            ),
            ("Room 101 b", &["room", "_num_", "b"]),
        ] {
            assert_eq!(texts(text), want, "{text}");
        }
    }

    #[test]
    fn spans_cover_dropped_separators_and_stay_in_order() {
        let text = "ok k.i.l.l, s t u p i d 1d10t 💣";
        let t = {
            let mut chars = Vec::new();
            normalize_into(text, true, &mut chars);
            let mut clean = Vec::new();
            Deobfuscator::new().run(text, true, &mut chars, &mut clean);
            let mut out = Tokens::new();
            tokenize_with(&clean, RepeatRule::English, &mut out);
            out
        };
        let spans: Vec<(u32, u32)> = t.tokens().iter().map(|t| (t.start, t.end)).collect();
        assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0));
        let last = t.tokens().last().unwrap();
        assert_eq!(last.kind, TokenKind::Emoji);
        assert_eq!(&text[last.start as usize..last.end as usize], "💣");
    }

    #[test]
    fn long_runs_are_linear() {
        // A long run of common single letters is rejected once, not per start.
        let text = "a ".repeat(50_000);
        let start = std::time::Instant::now();
        assert_eq!(texts(&text).len(), 50_000);
        let spaced = "k ".repeat(50_000);
        assert_eq!(texts(&spaced).len(), 50_000);
        let joined = "k i l l ".repeat(10_000);
        assert_eq!(texts(&joined).len(), 1);
        assert!(start.elapsed().as_secs() < 20);
    }
}

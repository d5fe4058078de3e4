//! Comment text to word pieces, the encoder's input.
//!
//! A thin layer over the `tokenizers` crate reading the encoder's own
//! `tokenizer.json` (BERT normalisation: clean, lower-case, strip accents,
//! split Chinese characters; then WordPiece), with three rules of ours:
//!
//! - at most [`PieceTokenizer::max_pieces`] pieces, `[CLS]` and `[SEP]`
//!   included: the start of a longer comment is read and the rest ignored
//!   (reported as truncated);
//! - only the first [`MAX_TEXT_BYTES`] bytes are tokenised, so that a huge
//!   comment costs no more than a long one;
//! - every text, even an empty one, gives `[CLS] [SEP]`: tokenisation never
//!   fails on input.

use crate::error::{Error, Result};

/// Bytes of a comment that are tokenised (cut at a character boundary).
pub const MAX_TEXT_BYTES: usize = 8192;

/// A comment as word pieces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pieces {
    /// Piece ids, `[CLS]` first and `[SEP]` last.
    pub ids: Vec<u32>,
    /// For each piece, the word (index into `words`) it belongs to; `None`
    /// for `[CLS]` and `[SEP]`.
    pub word_of: Vec<Option<u32>>,
    /// Byte span of each word in the original text.
    pub words: Vec<(usize, usize)>,
    /// The comment had more pieces than were kept.
    pub truncated: bool,
}

/// Turns text into word pieces for the encoder.
#[derive(Clone)]
pub struct PieceTokenizer {
    inner: tokenizers::Tokenizer,
    max_pieces: usize,
    cls: u32,
    sep: u32,
}

impl std::fmt::Debug for PieceTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PieceTokenizer")
            .field("max_pieces", &self.max_pieces)
            .field("vocab", &self.inner.get_vocab_size(true))
            .finish()
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
fn cut(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

impl PieceTokenizer {
    /// Reads a Hugging Face `tokenizer.json` (a WordPiece model with
    /// `[CLS]`, `[SEP]` and `[UNK]`); its own padding and truncation are
    /// replaced by ours (`max_pieces`, at least 3).
    pub fn from_json(json: &[u8], max_pieces: usize) -> Result<Self> {
        let fail = |m: String| Error::Config(format!("encoder tokenizer: {m}"));
        let mut inner = tokenizers::Tokenizer::from_bytes(json).map_err(|e| fail(e.to_string()))?;
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| fail(e.to_string()))?;
        let id = |t: &str| {
            inner
                .token_to_id(t)
                .ok_or_else(|| fail(format!("the vocabulary has no {t}")))
        };
        let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
        id("[UNK]")?;
        if max_pieces < 3 {
            return Err(fail(format!("max pieces {max_pieces} is below 3")));
        }
        Ok(Self {
            inner,
            max_pieces,
            cls,
            sep,
        })
    }

    /// Pieces kept per comment, `[CLS]` and `[SEP]` included.
    pub fn max_pieces(&self) -> usize {
        self.max_pieces
    }

    /// Word pieces in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The piece ids of `text` (`[CLS] ... [SEP]`) and whether it was cut.
    pub fn ids(&self, text: &str) -> (Vec<u32>, bool) {
        let (head, cut_bytes) = cut(text, MAX_TEXT_BYTES);
        let body: Vec<u32> = self
            .inner
            .encode_fast(head, false)
            .map(|e| e.get_ids().to_vec())
            .unwrap_or_default();
        let keep = body.len().min(self.max_pieces - 2);
        let mut ids = Vec::with_capacity(keep + 2);
        ids.push(self.cls);
        ids.extend_from_slice(&body[..keep]);
        ids.push(self.sep);
        (ids, cut_bytes || keep < body.len())
    }

    /// The pieces of `text` with the words they belong to and the words'
    /// byte spans (for explanations).
    pub fn pieces(&self, text: &str) -> Pieces {
        let (head, cut_bytes) = cut(text, MAX_TEXT_BYTES);
        let Ok(enc) = self.inner.encode(head, false) else {
            return Pieces {
                ids: vec![self.cls, self.sep],
                word_of: vec![None, None],
                words: Vec::new(),
                truncated: cut_bytes,
            };
        };
        let keep = enc.len().min(self.max_pieces - 2);
        let mut out = Pieces {
            ids: Vec::with_capacity(keep + 2),
            word_of: Vec::with_capacity(keep + 2),
            words: Vec::new(),
            truncated: cut_bytes || keep < enc.len(),
        };
        out.ids.push(self.cls);
        out.word_of.push(None);
        let mut last_word: Option<u32> = None;
        for i in 0..keep {
            out.ids.push(enc.get_ids()[i]);
            let (start, end) = enc.get_offsets()[i];
            let word = enc.get_word_ids()[i];
            if word.is_some() && word == last_word {
                if let Some(w) = out.words.last_mut() {
                    w.1 = w.1.max(end);
                }
            } else {
                out.words.push((start, end));
            }
            last_word = word;
            out.word_of.push(Some(out.words.len() as u32 - 1));
        }
        out.ids.push(self.sep);
        out.word_of.push(None);
        out
    }
}

//! API keys: where they come from, how a request presents one, and how it is
//! checked (in constant time, without the key ever reaching a log).

use crate::error::{Error, Result};
use axum::http::{self, HeaderMap};
use sha2::{Digest, Sha256};
use std::path::Path;
use subtle::ConstantTimeEq;

/// A set of accepted keys. Each key has a short public id (the first 8 hex
/// digits of its SHA-256) that logs and metrics may show instead of the key.
#[derive(Clone, Default)]
pub struct ApiKeys {
    keys: Vec<(Vec<u8>, String)>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(_, id)| id.as_str()).collect();
        f.debug_struct("ApiKeys").field("ids", &ids).finish()
    }
}

impl ApiKeys {
    /// The set of `keys` (duplicates are kept once).
    pub fn new(keys: Vec<String>) -> Self {
        let mut out: Vec<(Vec<u8>, String)> = Vec::new();
        for k in keys {
            let bytes = k.into_bytes();
            if !out.iter().any(|(b, _)| *b == bytes) {
                let id = key_id(&bytes);
                out.push((bytes, id));
            }
        }
        ApiKeys { keys: out }
    }

    /// True when no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The id of the key equal to `presented`, or `None`. Every configured key
    /// is compared, each in constant time, so the answer's timing does not
    /// depend on which key (or how much of one) matched.
    pub fn check(&self, presented: &[u8]) -> Option<&str> {
        let mut found: Option<&str> = None;
        for (key, id) in &self.keys {
            if bool::from(key.as_slice().ct_eq(presented)) {
                found = Some(id);
            }
        }
        found
    }
}

/// The public id of a key: the first 8 hex digits of its SHA-256.
pub fn key_id(key: &[u8]) -> String {
    let digest = Sha256::digest(key);
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a list of secrets from an environment variable's value
/// (comma-separated) and from a file (one per line, `#` comments and blank
/// lines ignored), trimming whitespace.
pub fn load_secret_list(env_value: Option<&str>, file: Option<&Path>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    if let Some(v) = env_value {
        out.extend(
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from),
        );
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.contains(char::is_whitespace) {
                return Err(Error::input(
                    path,
                    i as u64 + 1,
                    "a key or secret may not contain whitespace (one per line)",
                ));
            }
            out.push(line.to_string());
        }
        warn_if_readable_by_others(path);
    }
    Ok(out)
}

/// Warns on stderr when a secrets file can be read by other users.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            eprintln!(
                "moderate serve: warning: {} is readable by other users; chmod 600 it",
                path.display()
            );
        }
    }
}

/// The key a request presents: the `key` query parameter (as Perspective
/// clients send it), else `Authorization: Bearer KEY`, else the
/// `X-Goog-Api-Key` header (Google's own header for API keys).
pub fn presented_key(query: Option<&str>, headers: &HeaderMap) -> Option<Vec<u8>> {
    if let Some(q) = query {
        for pair in q.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if percent_decode(name.as_bytes()) == b"key" {
                return Some(percent_decode(value.as_bytes()));
            }
        }
    }
    if let Some(v) = headers.get(http::header::AUTHORIZATION) {
        let v = v.as_bytes();
        if v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ") {
            return Some(v[7..].trim_ascii().to_vec());
        }
    }
    headers
        .get("x-goog-api-key")
        .map(|v| v.as_bytes().trim_ascii().to_vec())
}

/// Decodes `%XX` escapes and `+` (as a space) in a query component.
pub fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => match (hex_value(s[i + 1]), hex_value(s[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// The value of one hex digit.
pub fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_and_identified() {
        let keys = ApiKeys::new(vec!["alpha".into(), "beta".into(), "alpha".into()]);
        assert_eq!(keys.len(), 2);
        let id = keys.check(b"beta").unwrap();
        assert_eq!(id, key_id(b"beta"));
        assert_eq!(id.len(), 8);
        assert!(keys.check(b"bet").is_none());
        assert!(keys.check(b"betaa").is_none());
        assert!(keys.check(b"").is_none());
        assert!(!format!("{keys:?}").contains("alpha"));
        assert!(ApiKeys::default().check(b"").is_none());
    }

    #[test]
    fn the_key_is_found_in_query_or_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_key(Some("key=abc"), &h), Some(b"abc".to_vec()));
        assert_eq!(
            presented_key(Some("alt=json&key=a%2Bb%3D+c"), &h),
            Some(b"a+b= c".to_vec())
        );
        assert_eq!(presented_key(Some("keys=x"), &h), None);
        assert_eq!(presented_key(None, &h), None);
        h.insert("authorization", "Bearer  tok ".parse().unwrap());
        assert_eq!(presented_key(None, &h), Some(b"tok".to_vec()));
        assert_eq!(presented_key(Some("key=q"), &h), Some(b"q".to_vec()));
        let mut h = HeaderMap::new();
        h.insert("x-goog-api-key", "g".parse().unwrap());
        assert_eq!(presented_key(None, &h), Some(b"g".to_vec()));
        h.insert("authorization", "Basic Zm9v".parse().unwrap());
        assert_eq!(presented_key(None, &h), Some(b"g".to_vec()));
    }

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        assert_eq!(percent_decode(b"%41%zz%4"), b"A%zz%4".to_vec());
        assert_eq!(percent_decode(b"%"), b"%".to_vec());
        assert_eq!(percent_decode(b"a%2"), b"a%2".to_vec());
    }

    #[test]
    fn key_files_reject_whitespace_inside_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("k");
        std::fs::write(&f, "good\nbad key\n").unwrap();
        let err = load_secret_list(None, Some(&f)).unwrap_err();
        assert!(matches!(err, Error::Input { line: 2, .. }), "{err}");
    }
}

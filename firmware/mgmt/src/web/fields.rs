//! Submitted form fields as the pages read them, and names in paths. The
//! pages' form-to-command builders are pure functions over these, so
//! they are unit-tested without a server.

use std::fmt::Write as _;

/// A submitted field, trimmed; `None` when missing or empty.
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A name or address as one path segment: everything but unreserved
/// characters percent-encoded (axum's `Path` decodes it back).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A submitted form from literal pairs (the builders' tests).
#[cfg(test)]
pub fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_trimmed_and_segments_encoded() {
        let form = fields(&[("a", "  x "), ("b", "   ")]);
        assert_eq!(field(&form, "a"), Some("x"));
        assert_eq!(field(&form, "b"), None);
        assert_eq!(field(&form, "c"), None);
        assert_eq!(
            segment(".protection.outlook.com"),
            ".protection.outlook.com"
        );
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
    }
}

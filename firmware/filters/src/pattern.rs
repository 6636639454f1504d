//! Administrator regexes, compiled once when the filter is parsed.
//!
//! AsyncOS filters use Python-style regexes. The `regex` crate runs in linear
//! time, so neither a hostile message nor a careless filter can trigger
//! catastrophic backtracking; the price is that back-references and
//! look-around do not exist. They are reported as parse errors rather than
//! silently meaning something else.

use std::fmt;

use regex::{Regex, RegexBuilder};

/// Compiled program size limit per pattern. The default (10 MiB) would let
/// a hundred filters with `\w{500}`-style patterns take a gigabyte; 1 MiB
/// still fits every pattern in the AsyncOS guide with a wide margin.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Lazy DFA cache limit per pattern (per search thread).
pub const REGEX_DFA_SIZE_LIMIT: usize = 1 << 20;
/// Longest pattern source accepted.
pub const MAX_PATTERN_LEN: usize = 4096;

/// A compiled regex with the source it came from.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    case_insensitive: bool,
    regex: Regex,
}

impl Pattern {
    /// Compiles `source`; `case_insensitive` is the rule's default (the
    /// pattern may still say `(?i)` or `(?-i)` itself).
    pub fn new(source: &str, case_insensitive: bool) -> Result<Pattern, String> {
        if source.len() > MAX_PATTERN_LEN {
            return Err(format!(
                "regular expression longer than {MAX_PATTERN_LEN} bytes"
            ));
        }
        check_supported(source)?;
        let regex = RegexBuilder::new(source)
            .case_insensitive(case_insensitive)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(limit) => {
                    format!("regular expression too large (limit {limit} bytes compiled)")
                }
                regex::Error::Syntax(text) => {
                    let last = text
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("syntax error");
                    format!(
                        "invalid regular expression: {}",
                        last.trim_start_matches("error: ")
                    )
                }
                other => format!("invalid regular expression: {other}"),
            })?;
        Ok(Pattern {
            source: source.to_string(),
            case_insensitive,
            regex,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn regex(&self) -> &Regex {
        &self.regex
    }

    /// Unanchored search, as AsyncOS's `==`.
    pub fn is_match(&self, haystack: &str) -> bool {
        self.regex.is_match(haystack)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.case_insensitive == other.case_insensitive
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

/// Rejects the Python constructs the `regex` crate lacks, with a message an
/// administrator can act on (the crate's own error is about syntax).
fn check_supported(source: &str) -> Result<(), String> {
    let bytes = source.as_bytes();
    let mut i = 0;
    let mut in_class = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                if let Some(&next) = bytes.get(i + 1) {
                    if !in_class && next.is_ascii_digit() && next != b'0' {
                        return Err(format!(
                            "back-reference \\{} is not supported (patterns run in linear time)",
                            next as char
                        ));
                    }
                    if !in_class && next == b'g' && bytes.get(i + 2) == Some(&b'<') {
                        return Err("back-reference \\g<...> is not supported".to_string());
                    }
                }
                i += 2;
                continue;
            }
            b'[' if !in_class => in_class = true,
            b']' if in_class => in_class = false,
            b'(' if !in_class => {
                let rest = &bytes[i + 1..];
                if rest.starts_with(b"?=")
                    || rest.starts_with(b"?!")
                    || rest.starts_with(b"?<=")
                    || rest.starts_with(b"?<!")
                {
                    return Err(
                        "look-around ((?=, (?!, (?<=, (?<!) is not supported (patterns run in linear time)"
                            .to_string(),
                    );
                }
                if rest.starts_with(b"?P=") {
                    return Err("back-reference (?P=name) is not supported".to_string());
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_constructs_are_named() {
        for (src, word) in [
            (r"(a)\1", "back-reference"),
            (r"foo(?=bar)", "look-around"),
            (r"(?<!x)y", "look-around"),
            (r"(?P<n>a)(?P=n)", "back-reference"),
        ] {
            let err = Pattern::new(src, false).unwrap_err();
            assert!(err.contains(word), "{src}: {err}");
        }
        // Escaped backslash then a digit, and digits in classes, are fine.
        assert!(Pattern::new(r"\\1", false).is_ok());
        assert!(Pattern::new(r"[\1]", false).is_err() || Pattern::new(r"[\d]", false).is_ok());
        assert!(Pattern::new(r"(?P<name>x)", false).is_ok());
    }

    #[test]
    fn size_limit_applies() {
        let err = Pattern::new(r"\w{1000}\w{1000}\w{1000}", false).unwrap_err();
        assert!(err.contains("too large"), "{err}");
    }

    #[test]
    fn case_default_and_override() {
        assert!(Pattern::new("^yes", true).unwrap().is_match("YES please"));
        assert!(!Pattern::new("^yes", false).unwrap().is_match("YES"));
        assert!(Pattern::new("(?i)^yes", false).unwrap().is_match("YES"));
    }
}

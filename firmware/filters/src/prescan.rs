//! A cheap, linear look at the raw message before `mail-parser` sees it.
//!
//! `mail-parser` 0.11.9 parses multipart and attached messages with an
//! explicit stack, but it has no limits of its own, and hostile mail finds
//! four soft spots (measured on a release build, 2 cores):
//!
//! - **Parts.** Every delimiter makes a `MessagePart`: a million empty
//!   parts (10 MB) took 190 MB of memory.
//! - **Nesting.** Attached messages become nested `Message` values whose
//!   drop (and `into_owned`) recurses: 100,000 nested `message/rfc822`
//!   headers (3.2 MB) overflowed an 8 MiB stack, and a tokio worker has 2.
//! - **Long boundaries.** Each `--` in a part is compared with the whole
//!   boundary: a 50 KB boundary over 2 MB of dashes took 3.5 s (quadratic).
//! - **Rescans.** A multipart whose boundary never appears, or a part whose
//!   closing delimiter is missing, is scanned to the end of the message
//!   and the scan restarts after it, once per declaration.
//!
//! Rather than copy the parser's grammar (RFC 2231 parameter continuations,
//! delimiters in mid-line, default types in digests), this scan counts
//! what bounds its work from above, and hands the parser only the prefix
//! of the message that stays within [`MimeLimits`]:
//!
//! - every run of two or more `-` is a possible delimiter (each part the
//!   parser makes ends one such run) — at most `max_delimiters`;
//!   whatever its boundary;
//! - every `multipart/` or `message/` is a possible type declaration
//!   (nesting needs one per level) — at most `max_declarations`;
//! - the rest of the header field after a `boundary` parameter name holds
//!   the boundary, continuations included — at most
//!   `max_boundary_field` bytes;
//! - a `message/rfc822` (or `message/global`) part with a base64 or
//!   quoted-printable transfer encoding, which RFC 2046 section 5.2.1
//!   forbids, is decoded and parsed again by `mail-parser` where this scan
//!   cannot see it: the message is cut before it.
//!
//! Each count over-approximates (a `--` in text, the word "message/" in a
//! URL), so a limit is hit only by mail far outside what clients send, and
//! when it is, the filters see less of the message, never more work.

use std::sync::OnceLock;

use regex::bytes::Regex;

use super::mime::{MimeLimitHit, MimeLimits};

/// What the parser may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prescan {
    /// Length of the prefix handed to `mail-parser`.
    pub parse_len: usize,
    /// The limit that shortened it, if any.
    pub hit: Option<MimeLimitHit>,
}

/// The header-like span since the last blank line or delimiter.
#[derive(Debug, Clone, Copy, Default)]
struct Block {
    /// Where a cut before this block's declarations may fall: the end of
    /// the delimiter's line, or the first event after the delimiter.
    cut: usize,
    /// It follows a delimiter (it is a part's header block).
    after_delimiter: bool,
    content_type: bool,
    message_type: bool,
    encoded: bool,
}

impl Block {
    /// An attached message the parser would decode and parse recursively:
    /// a declared `message/` type, or in a digest a part with no
    /// Content-Type at all (its default type is message/rfc822).
    fn encoded_message(&self, digest: bool) -> bool {
        self.encoded
            && (self.message_type || (digest && self.after_delimiter && !self.content_type))
    }
}

fn events() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // One pass over the message; every alternative is a literal or a
        // short class run, so the search is a linear DFA scan.
        Regex::new(
            r"(?i-u)\n\r?\n|--+|multipart[ \t\r\n]*/[ \t\r\n]*(?:digest)?|message[ \t\r\n]*/|base64|quoted-printable|content-type|boundary",
        )
        .expect("static pattern compiles")
    })
}

/// The end of the logical header line (unfolded) that holds `at`.
fn field_end(raw: &[u8], at: usize) -> usize {
    let mut pos = at;
    while let Some(nl) = raw[pos..].iter().position(|&b| b == b'\n') {
        pos += nl + 1;
        if !matches!(raw.get(pos), Some(b' ' | b'\t')) {
            return pos;
        }
    }
    raw.len()
}

/// Scans `raw` once and says how much of it `mail-parser` may parse.
pub(crate) fn prescan(raw: &[u8], limits: &MimeLimits) -> Prescan {
    let cut = |parse_len: usize, hit: MimeLimitHit| Prescan {
        parse_len,
        hit: Some(hit),
    };
    let mut delimiters = 0usize;
    let mut declarations = 0usize;
    let mut digest = false;
    let mut block = Block::default();
    // End of the header field last measured for a boundary: later
    // `boundary` words in the same field are not measured again, which
    // keeps the whole scan linear.
    let mut measured_to = 0usize;
    let mut found = events().find_iter(raw).peekable();
    while let Some(m) = found.next() {
        let at = m.start();
        let text = m.as_bytes();
        match text[0].to_ascii_lowercase() {
            b'\n' | b'-' => {
                if block.encoded_message(digest) {
                    return cut(block.cut, MimeLimitHit::EncodedMessage);
                }
                let delimiter = text[0] == b'-';
                // A cut keeps the delimiter line (up to anything else on
                // it the scan counts), so the part before it ends there as
                // it would in the whole message.
                let cut_at = if delimiter {
                    let line_end = raw[m.end()..]
                        .iter()
                        .position(|&b| b == b'\r' || b == b'\n')
                        .map_or(raw.len(), |i| m.end() + i);
                    found
                        .peek()
                        .map_or(line_end, |next| next.start().min(line_end))
                } else {
                    at
                };
                if delimiter {
                    delimiters += 1;
                    if delimiters > limits.max_delimiters {
                        return cut(cut_at, MimeLimitHit::Parts);
                    }
                }
                block = Block {
                    cut: cut_at,
                    after_delimiter: delimiter,
                    ..Block::default()
                };
            }
            b'm' => {
                declarations += 1;
                if declarations > limits.max_declarations {
                    return cut(at, MimeLimitHit::Depth);
                }
                if text[1].eq_ignore_ascii_case(&b'e') {
                    block.message_type = true;
                } else if text.len() > 6 && text[text.len() - 6..].eq_ignore_ascii_case(b"digest") {
                    digest = true;
                }
            }
            b'b' if text.len() == b"boundary".len() => {
                if at >= measured_to {
                    measured_to = field_end(raw, at);
                    if measured_to - at > limits.max_boundary_field {
                        return cut(at, MimeLimitHit::Boundary);
                    }
                }
            }
            b'c' => block.content_type = true,
            _ => block.encoded = true,
        }
    }
    if block.encoded_message(digest) {
        return cut(block.cut, MimeLimitHit::EncodedMessage);
    }
    Prescan {
        parse_len: raw.len(),
        hit: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(raw: &str) -> Prescan {
        prescan(raw.as_bytes(), &MimeLimits::default())
    }

    #[test]
    fn ordinary_mail_is_handed_over_whole() {
        let raw = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"----=_Part_1\"\r\n\r\n\
                   ------=_Part_1\r\nContent-Type: text/plain\r\n\r\nhi -- there\r\n\
                   ------=_Part_1\r\nContent-Type: message/rfc822\r\n\r\n\
                   Subject: inner\r\nContent-Transfer-Encoding: base64\r\n\r\naGk=\r\n\
                   ------=_Part_1--\r\n";
        assert_eq!(
            scan(raw),
            Prescan {
                parse_len: raw.len(),
                hit: None
            }
        );
    }

    #[test]
    fn an_encoded_attached_message_is_cut_off() {
        let head = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nbody\r\n";
        let raw = format!(
            "{head}--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQpoaQ==\r\n--b--\r\n"
        );
        let p = scan(&raw);
        assert_eq!(p.hit, Some(MimeLimitHit::EncodedMessage));
        assert_eq!(p.parse_len, head.len() + "--b".len());
    }

    #[test]
    fn a_digest_part_without_type_counts_as_a_message() {
        let raw = "Content-Type: multipart/digest; boundary=b\r\n\r\n--b\r\n\
                   Content-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQpoaQ==\r\n--b--\r\n";
        assert_eq!(scan(raw).hit, Some(MimeLimitHit::EncodedMessage));
    }

    #[test]
    fn a_long_boundary_field_is_cut_where_it_starts() {
        let b = "-".repeat(300);
        let raw = format!("Content-Type: multipart/mixed;\r\n boundary=\"{b}x\"\r\n\r\n--{b}x\r\n");
        let p = scan(&raw);
        assert_eq!(p.hit, Some(MimeLimitHit::Boundary));
        assert_eq!(&raw[p.parse_len..p.parse_len + 8], "boundary");
    }

    #[test]
    fn delimiters_and_declarations_are_counted() {
        let limits = MimeLimits {
            max_delimiters: 3,
            max_declarations: 2,
            ..MimeLimits::default()
        };
        let raw = "a -- b -- c -- d -- e";
        let p = prescan(raw.as_bytes(), &limits);
        assert_eq!((p.parse_len, p.hit), (21, Some(MimeLimitHit::Parts)));
        let raw = "message/rfc822 multipart/mixed message / global";
        let p = prescan(raw.as_bytes(), &limits);
        assert_eq!((p.parse_len, p.hit), (31, Some(MimeLimitHit::Depth)));
    }
}

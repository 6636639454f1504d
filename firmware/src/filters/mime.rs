//! Raw-message helpers shared by conditions and rewrites: the top-level
//! header block with byte ranges, RFC 2047 decoding, and a bounded walk
//! over `mail-parser`'s MIME tree.

use std::borrow::Cow;
use std::ops::Range;

use mail_parser::parsers::MessageStream;
use mail_parser::{HeaderValue, Message, MimeHeaders, PartType};

/// One header field in a header block: name and value as byte ranges into
/// the raw message; `full` runs from the name through the final line ending.
#[derive(Debug, Clone)]
pub(crate) struct RawHeader {
    pub name: Range<usize>,
    pub value: Range<usize>,
    pub full: Range<usize>,
}

/// Splits the header block that starts at `start`. Returns the fields and
/// the offset of the blank line that ends the block (or `raw.len()`).
/// Lines that are neither a field nor a continuation are skipped, as
/// mail-parser does.
pub(crate) fn header_block(raw: &[u8], start: usize) -> (Vec<RawHeader>, usize) {
    let mut out: Vec<RawHeader> = Vec::new();
    let mut pos = start;
    while pos < raw.len() {
        let line_end = raw[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..line_end];
        if line == b"\r\n" || line == b"\n" {
            return (out, pos);
        }
        if matches!(line[0], b' ' | b'\t') {
            if let Some(last) = out.last_mut() {
                last.value.end = line_end;
                last.full.end = line_end;
            }
        } else if let Some(colon) = line.iter().position(|&b| b == b':') {
            let mut name_end = pos + colon;
            while name_end > pos && matches!(raw[name_end - 1], b' ' | b'\t') {
                name_end -= 1;
            }
            out.push(RawHeader {
                name: pos..name_end,
                value: pos + colon + 1..line_end,
                full: pos..line_end,
            });
        }
        pos = line_end;
    }
    (out, raw.len())
}

/// Unfolds, trims and RFC 2047-decodes a raw header value.
pub(crate) fn decode_value(raw_value: &[u8]) -> String {
    if raw_value.windows(2).any(|w| w == b"=?") {
        let mut owned = raw_value.to_vec();
        if owned.last() != Some(&b'\n') {
            owned.push(b'\n');
        }
        if let HeaderValue::Text(t) = MessageStream::new(&owned).parse_unstructured() {
            return t.trim().to_string();
        }
    }
    // Fast path, most headers: one line of UTF-8, one allocation.
    let trimmed = raw_value.trim_ascii();
    if !trimmed.contains(&b'\n')
        && let Ok(s) = std::str::from_utf8(trimmed)
    {
        return s.to_string();
    }
    let text = String::from_utf8_lossy(raw_value);
    let mut out = String::with_capacity(text.len());
    for piece in text.split('\n') {
        out.push_str(piece.trim_end_matches('\r'));
    }
    out.trim().to_string()
}

/// Counts the addresses in a raw address header value.
pub(crate) fn count_addresses(raw_value: &[u8]) -> usize {
    let mut owned = raw_value.to_vec();
    if owned.last() != Some(&b'\n') {
        owned.push(b'\n');
    }
    match MessageStream::new(&owned).parse_address() {
        HeaderValue::Address(a) => a.iter().count(),
        _ => 0,
    }
}

/// Bounds on how much of a message's MIME tree filters look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MimeLimits {
    /// Multipart and message/rfc822 nesting levels below the top.
    pub max_depth: usize,
    /// Parts looked at, in tree order.
    pub max_parts: usize,
    /// Decoded bytes kept for content rules, over all parts.
    pub max_decoded: usize,
}

impl Default for MimeLimits {
    /// 10 levels, 500 parts, 32 MiB: well above what mail clients produce
    /// (Outlook nests 4 deep with inline images), well below what a zip of
    /// nested messages can claim.
    fn default() -> Self {
        MimeLimits {
            max_depth: 10,
            max_parts: 500,
            max_decoded: 32 << 20,
        }
    }
}

/// Content of a leaf part, decoded.
#[derive(Debug)]
pub(crate) enum Content {
    Text(String),
    Binary(Vec<u8>),
    /// Not kept: over the decoded-size budget.
    Skipped,
}

/// One leaf (or nested-message) part as conditions see it.
#[derive(Debug)]
pub(crate) struct PartInfo {
    /// Lower-case `type/subtype`.
    pub content_type: String,
    pub filename: Option<String>,
    pub attachment: bool,
    /// Decoded size in bytes.
    pub size: usize,
    pub content: Content,
}

impl PartInfo {
    pub fn text(&self) -> Option<Cow<'_, str>> {
        match &self.content {
            Content::Text(t) => Some(Cow::Borrowed(t)),
            Content::Binary(b) => Some(String::from_utf8_lossy(b)),
            Content::Skipped => None,
        }
    }
}

/// The flattened MIME tree, as far as the limits allow.
#[derive(Debug, Default)]
pub(crate) struct Parts {
    pub parts: Vec<PartInfo>,
    /// A limit stopped the walk or the budget dropped content.
    pub limited: bool,
    /// mail-parser flagged an encoding problem, or found no message.
    pub malformed: bool,
}

pub(crate) fn content_type_of(part: &mail_parser::MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None => "text/plain".to_string(),
    }
}

/// Walks `msg` depth first within `limits`.
pub(crate) fn flatten(msg: Option<&Message<'_>>, limits: &MimeLimits) -> Parts {
    let mut out = Parts::default();
    let Some(msg) = msg else {
        out.malformed = true;
        return out;
    };
    let mut budget = limits.max_decoded;
    walk(msg, 0, 0, false, limits, &mut budget, &mut out);
    out
}

fn walk(
    msg: &Message<'_>,
    id: u32,
    depth: usize,
    nested: bool,
    limits: &MimeLimits,
    budget: &mut usize,
    out: &mut Parts,
) {
    let Some(part) = msg.parts.get(id as usize) else {
        return;
    };
    if out.parts.len() >= limits.max_parts {
        out.limited = true;
        return;
    }
    if part.is_encoding_problem {
        out.malformed = true;
    }
    let attachment = nested || (id != 0 && msg.attachments.contains(&id));
    match &part.body {
        PartType::Multipart(children) => {
            if depth >= limits.max_depth {
                out.limited = true;
                return;
            }
            for &child in children {
                walk(msg, child, depth + 1, nested, limits, budget, out);
            }
        }
        PartType::Message(inner) => {
            out.parts.push(PartInfo {
                content_type: "message/rfc822".to_string(),
                filename: part.attachment_name().map(str::to_string),
                attachment: true,
                size: part.len(),
                content: Content::Skipped,
            });
            if depth >= limits.max_depth {
                out.limited = true;
                return;
            }
            walk(inner, 0, depth + 1, true, limits, budget, out);
        }
        body => {
            let size = part.len();
            let content = if size > *budget {
                out.limited = true;
                Content::Skipped
            } else {
                *budget -= size;
                match body {
                    PartType::Text(t) | PartType::Html(t) => Content::Text(t.to_string()),
                    PartType::Binary(b) | PartType::InlineBinary(b) => Content::Binary(b.to_vec()),
                    _ => Content::Skipped,
                }
            };
            out.parts.push(PartInfo {
                content_type: content_type_of(part),
                filename: part.attachment_name().map(str::to_string),
                attachment: attachment || part.attachment_name().is_some(),
                size,
                content,
            });
        }
    }
}

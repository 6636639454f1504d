//! Raw-message helpers shared by conditions and rewrites: the top-level
//! header block with byte ranges, RFC 2047 decoding, and a bounded walk
//! over `mail-parser`'s MIME tree.

use std::borrow::Cow;
use std::ops::Range;

use mail_parser::parsers::MessageStream;
use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders, PartType};

use super::prescan::prescan;

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

/// Bounds on how much of a message's MIME tree filters look at, and on
/// the work spent finding it out (see `prescan` for what each bounds in
/// `mail-parser`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MimeLimits {
    /// Multipart and message/rfc822 nesting levels below the top.
    pub max_depth: usize,
    /// Parts looked at, in tree order.
    pub max_parts: usize,
    /// Decoded bytes kept for content rules, over all parts: the most a
    /// body or attachment rule scans.
    pub max_decoded: usize,
    /// Possible MIME delimiters (runs of two or more `-`) handed to the
    /// parser.
    pub max_delimiters: usize,
    /// Possible type declarations (`multipart/`, `message/`) handed to the
    /// parser: bounds its nesting and its rescans.
    pub max_declarations: usize,
    /// Bytes from a `boundary` parameter name to the end of its header
    /// field.
    pub max_boundary_field: usize,
    /// Bytes of one header field's value that header rules examine.
    pub max_header_bytes: usize,
}

/// [`MimeLimits::max_depth`]: AsyncOS scans attachments 5 levels deep by
/// default; Outlook nests 4 with inline images, so 10 leaves room.
pub const MIME_MAX_DEPTH: usize = 10;
/// [`MimeLimits::max_parts`].
pub const MIME_MAX_PARTS: usize = 500;
/// [`MimeLimits::max_decoded`]: well below what a zip of nested messages
/// can claim, above the largest message the default policies accept.
pub const MIME_MAX_DECODED: usize = 32 << 20;
/// [`MimeLimits::max_delimiters`]: 10,000 parts cost the parser about
/// 2 MB; a million cost 190 MB.
pub const MIME_MAX_DELIMITERS: usize = 10_000;
/// [`MimeLimits::max_declarations`]: each one can make the parser rescan
/// the rest of the message once, so this is the worst-case multiple of
/// the message size it reads; real mail declares fewer than ten.
pub const MIME_MAX_DECLARATIONS: usize = 100;
/// [`MimeLimits::max_boundary_field`]: RFC 2046 allows 70-byte boundaries
/// and RFC 5322 998-byte lines; 256 holds a boundary and its neighbours
/// (`type=`, `start=`) while keeping the parser's per-`--` comparison
/// short.
pub const MIME_MAX_BOUNDARY_FIELD: usize = 256;
/// [`MimeLimits::max_header_bytes`]: Postfix's `header_size_limit`.
pub const MIME_MAX_HEADER_BYTES: usize = 102_400;

impl Default for MimeLimits {
    fn default() -> Self {
        MimeLimits {
            max_depth: MIME_MAX_DEPTH,
            max_parts: MIME_MAX_PARTS,
            max_decoded: MIME_MAX_DECODED,
            max_delimiters: MIME_MAX_DELIMITERS,
            max_declarations: MIME_MAX_DECLARATIONS,
            max_boundary_field: MIME_MAX_BOUNDARY_FIELD,
            max_header_bytes: MIME_MAX_HEADER_BYTES,
        }
    }
}

/// Which of the [`MimeLimits`] stopped the filters from seeing a whole
/// message. The message is still filtered on what was seen: `valid` is
/// false, and body rules scan the part of the message the parser was not
/// shown as raw text (see `Parts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MimeLimitHit {
    #[error("more MIME parts than the limit")]
    Parts,
    #[error("MIME nesting deeper than the limit")]
    Depth,
    #[error("more decoded content than the scan limit")]
    Decoded,
    #[error("a MIME boundary longer than the limit")]
    Boundary,
    #[error("an attached message with a transfer encoding (RFC 2046 forbids it)")]
    EncodedMessage,
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
    /// The first limit that stopped the walk or dropped content.
    pub limit: Option<MimeLimitHit>,
    /// mail-parser flagged an encoding problem, or found no message.
    pub malformed: bool,
    /// Decoded bytes that may still be kept.
    budget: usize,
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

impl Parts {
    fn hit(&mut self, hit: MimeLimitHit) {
        self.limit.get_or_insert(hit);
    }
}

/// Parses `raw` within `limits` and flattens it: the parser sees only the
/// prefix [`prescan`] allows; the rest, if any, becomes one raw text part
/// so body rules still scan it (undecoded, within `max_decoded`).
pub(crate) fn parse_parts(raw: &[u8], limits: &MimeLimits) -> Parts {
    let scan = prescan(raw, limits);
    let parsed = parse_message(&raw[..scan.parse_len]);
    let mut out = flatten(parsed.as_ref(), limits);
    if let Some(msg) = parsed {
        teardown(msg);
    }
    if let Some(hit) = scan.hit {
        out.hit(hit);
        let rest = &raw[scan.parse_len..];
        let kept = rest.len().min(out.budget);
        out.budget -= kept;
        if kept < rest.len() {
            out.hit(MimeLimitHit::Decoded);
        }
        out.parts.push(PartInfo {
            content_type: "text/plain".to_string(),
            filename: None,
            attachment: false,
            size: rest.len(),
            content: Content::Text(String::from_utf8_lossy(&rest[..kept]).into_owned()),
        });
    }
    out
}

/// Parses `raw` for a rewrite: `None` when the message is beyond the
/// limits (a rewrite of part of a message could break its structure, so
/// the message is left as it is).
pub(crate) fn parse_for_rewrite(raw: &[u8]) -> Option<Message<'_>> {
    if prescan(raw, &MimeLimits::default()).hit.is_some() {
        return None;
    }
    parse_message(raw)
}

/// `mail-parser`'s whole-message parse. Its debug assertions (states its
/// authors held unreachable) are reached by fuzzed input; a build with
/// debug assertions on must not lose its work queue to them, so a panic
/// there reads as "no message" (malformed), like any unparsable mail.
pub(crate) fn parse_message(raw: &[u8]) -> Option<Message<'_>> {
    std::panic::catch_unwind(|| MessageParser::default().parse(raw))
        .ok()
        .flatten()
}

/// Drops a parsed message one nesting level at a time: the derived drop
/// recurses once per attached message.
pub(crate) fn teardown(msg: Message<'_>) {
    let mut stack = vec![msg];
    while let Some(mut m) = stack.pop() {
        for part in &mut m.parts {
            if let PartType::Message(inner) = std::mem::take(&mut part.body) {
                stack.push(inner);
            }
        }
    }
}

/// Walks `msg` depth first within `limits`.
pub(crate) fn flatten(msg: Option<&Message<'_>>, limits: &MimeLimits) -> Parts {
    let mut out = Parts {
        budget: limits.max_decoded,
        ..Parts::default()
    };
    let Some(msg) = msg else {
        out.malformed = true;
        return out;
    };
    walk(msg, 0, 0, false, limits, &mut out);
    out
}

fn walk(
    msg: &Message<'_>,
    id: u32,
    depth: usize,
    nested: bool,
    limits: &MimeLimits,
    out: &mut Parts,
) {
    let Some(part) = msg.parts.get(id as usize) else {
        return;
    };
    if out.parts.len() >= limits.max_parts {
        out.hit(MimeLimitHit::Parts);
        return;
    }
    if part.is_encoding_problem {
        out.malformed = true;
    }
    let attachment = nested || (id != 0 && msg.attachments.contains(&id));
    match &part.body {
        PartType::Multipart(children) => {
            if depth >= limits.max_depth {
                out.hit(MimeLimitHit::Depth);
                return;
            }
            for &child in children {
                walk(msg, child, depth + 1, nested, limits, out);
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
                out.hit(MimeLimitHit::Depth);
                return;
            }
            walk(inner, 0, depth + 1, true, limits, out);
        }
        body => {
            let size = part.len();
            let content = if size > out.budget {
                out.hit(MimeLimitHit::Decoded);
                Content::Skipped
            } else {
                out.budget -= size;
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

//! Message rewrites as pure functions on the raw message (CRLF line
//! endings): bytes in, bytes out. A rewrite that cannot apply (no such
//! header, no text part, unparsable MIME) returns the message unchanged.
//!
//! Body rewrites touch only the top-level MIME tree: parts inside an
//! attached message/rfc822 are left alone (they are someone else's
//! message). A rewritten text part is re-encoded with its original transfer
//! encoding (base64 stays base64, quoted-printable stays quoted-printable;
//! 7bit text that gains non-ASCII becomes quoted-printable) and, when the new
//! text is not ASCII, labelled `charset="utf-8"`.

use std::sync::OnceLock;

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};
use regex::{Captures, Regex, Replacer};

use super::encode::{base64_body, crlf, header_field, quoted_printable};
use super::invocation::{ActionInvocation, ActionKind};
use super::mime::{decode_value, header_block, parse_for_rewrite};
use super::pattern::Pattern;

/// Applies the rewrite actions in order; other actions are ignored.
pub fn apply_rewrites(actions: &[ActionInvocation], raw: &[u8]) -> Vec<u8> {
    let mut msg = raw.to_vec();
    for a in actions {
        msg = match &a.kind {
            ActionKind::StripHeader { name } => strip_header(&msg, name),
            ActionKind::InsertHeader { name, value } => insert_header(&msg, name, value),
            ActionKind::EditHeaderText {
                name,
                pattern,
                replacement,
            } => edit_header_text(&msg, name, pattern, replacement),
            ActionKind::EditBodyText {
                pattern,
                replacement,
            } => edit_body_text(&msg, pattern, replacement),
            ActionKind::AddFooter { text } => add_footer(&msg, text),
            ActionKind::DropAttachmentsByName { pattern, comment } => {
                drop_attachments_by_name(&msg, pattern, comment.as_deref())
            }
            _ => continue,
        };
    }
    msg
}

/// Removes every top-level header called `name`.
pub fn strip_header(raw: &[u8], name: &str) -> Vec<u8> {
    let (fields, _) = header_block(raw, 0);
    let mut out = Vec::with_capacity(raw.len());
    let mut pos = 0;
    for f in fields {
        if raw[f.name.clone()].eq_ignore_ascii_case(name.as_bytes()) {
            out.extend_from_slice(&raw[pos..f.full.start]);
            pos = f.full.end;
        }
    }
    out.extend_from_slice(&raw[pos..]);
    out
}

/// Adds `name: value` at the end of the top-level header block.
pub fn insert_header(raw: &[u8], name: &str, value: &str) -> Vec<u8> {
    let (_, end) = header_block(raw, 0);
    let mut out = Vec::with_capacity(raw.len() + name.len() + value.len() + 4);
    out.extend_from_slice(&raw[..end]);
    if end > 0 && raw[end - 1] != b'\n' {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(header_field(name, value).as_bytes());
    if end == raw.len() {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(&raw[end..]);
    out
}

/// Replaces matches of `pattern` in the decoded value of every top-level
/// header called `name`.
pub fn edit_header_text(raw: &[u8], name: &str, pattern: &Pattern, replacement: &str) -> Vec<u8> {
    let (fields, _) = header_block(raw, 0);
    let mut out = Vec::with_capacity(raw.len());
    let mut pos = 0;
    for f in fields {
        let field_name = &raw[f.name.clone()];
        if !field_name.eq_ignore_ascii_case(name.as_bytes()) {
            continue;
        }
        let old = decode_value(&raw[f.value.clone()]);
        let new = pattern.regex().replace_all(&old, Template(replacement));
        if new != old {
            out.extend_from_slice(&raw[pos..f.full.start]);
            let written = String::from_utf8_lossy(field_name);
            out.extend_from_slice(header_field(&written, &new).as_bytes());
            pos = f.full.end;
        }
    }
    out.extend_from_slice(&raw[pos..]);
    out
}

/// A replacement template: `\1`..`\9` insert a group, `\\` a backslash,
/// everything else (including `$`) is literal, as in AsyncOS.
struct Template<'t>(&'t str);

impl Replacer for Template<'_> {
    fn replace_append(&mut self, caps: &Captures<'_>, dst: &mut String) {
        let mut chars = self.0.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\\' {
                dst.push(c);
                continue;
            }
            match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    chars.next();
                    let group = d as usize - '0' as usize;
                    dst.push_str(caps.get(group).map_or("", |m| m.as_str()));
                }
                Some('\\') => {
                    chars.next();
                    dst.push('\\');
                }
                _ => dst.push('\\'),
            }
        }
    }
}

/// Replaces matches in every text body part (not attachments).
pub fn edit_body_text(raw: &[u8], pattern: &Pattern, replacement: &str) -> Vec<u8> {
    let Some(msg) = parse_for_rewrite(raw) else {
        return raw.to_vec();
    };
    let mut edits = Vec::new();
    for (id, part) in top_level_parts(&msg) {
        let text = match &part.body {
            PartType::Text(t) | PartType::Html(t) if !msg.attachments.contains(&id) => t,
            _ => continue,
        };
        let new = pattern.regex().replace_all(text, Template(replacement));
        if new != *text {
            edits.push(rebuild_text_part(raw, part, id == 0, &new));
        }
    }
    splice(raw, edits)
}

/// Appends `footer` to the first text/plain body part, or to the body of a
/// single-part text message. The footer is literal text in this version
/// (AsyncOS names a footer text resource).
pub fn add_footer(raw: &[u8], footer: &str) -> Vec<u8> {
    let Some(msg) = parse_for_rewrite(raw) else {
        return raw.to_vec();
    };
    let target = top_level_parts(&msg).into_iter().find(|(id, p)| {
        matches!(p.body, PartType::Text(_))
            && !msg.attachments.contains(id)
            && p.content_type()
                .is_none_or(|ct| ct.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain")))
    });
    let Some((id, part)) = target else {
        return raw.to_vec();
    };
    let PartType::Text(text) = &part.body else {
        return raw.to_vec();
    };
    let mut new = text.to_string();
    if !new.ends_with('\n') {
        new.push_str("\r\n");
    }
    new.push_str(footer);
    new.push_str("\r\n");
    let edit = rebuild_text_part(raw, part, id == 0, &new);
    splice(raw, vec![edit])
}

/// Removes the attachments whose filename matches; with a `comment`, a
/// text/plain part holding the comment takes each one's place.
pub fn drop_attachments_by_name(raw: &[u8], pattern: &Pattern, comment: Option<&str>) -> Vec<u8> {
    let Some(msg) = parse_for_rewrite(raw) else {
        return raw.to_vec();
    };
    let mut edits = Vec::new();
    for (id, part) in top_level_parts(&msg) {
        if id == 0 || !part.attachment_name().is_some_and(|n| pattern.is_match(n)) {
            continue;
        }
        let (start, end) = (part.offset_header as usize, part.offset_end as usize);
        if start > end || end > raw.len() {
            continue;
        }
        match comment {
            Some(c) => {
                let mut new = header_field("Content-Type", "text/plain; charset=\"utf-8\"");
                new.push_str("Content-Transfer-Encoding: quoted-printable\r\n\r\n");
                new.push_str(&quoted_printable(c));
                edits.push((start..end, new.into_bytes()));
            }
            None => {
                // Remove the delimiter line before the part too: from the
                // CRLF that precedes `--boundary` up to the part's end.
                let Some(nl) = raw[..start.saturating_sub(1)]
                    .iter()
                    .rposition(|&b| b == b'\n')
                else {
                    continue;
                };
                let from = if nl > 0 && raw[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                };
                edits.push((from..end, Vec::new()));
            }
        }
    }
    splice(raw, edits)
}

/// The parts of the top-level tree, by id, not descending into attached
/// messages.
fn top_level_parts<'m, 'x>(msg: &'m Message<'x>) -> Vec<(u32, &'m MessagePart<'x>)> {
    let mut out = Vec::new();
    let mut stack = vec![0u32];
    while let Some(id) = stack.pop() {
        let Some(part) = msg.parts.get(id as usize) else {
            continue;
        };
        out.push((id, part));
        if let PartType::Multipart(children) = &part.body {
            stack.extend(children.iter().rev());
        }
    }
    out
}

fn charset_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Invariant: a constant, valid pattern.
    RE.get_or_init(|| Regex::new(r#"(?i)charset\s*=\s*("[^"]*"|[^;\s]+)"#).expect("valid regex"))
}

/// The replacement bytes for a text part whose decoded text becomes `text`.
fn rebuild_text_part(
    raw: &[u8],
    part: &MessagePart<'_>,
    root: bool,
    text: &str,
) -> (std::ops::Range<usize>, Vec<u8>) {
    let (start, end) = (part.offset_header as usize, part.offset_end as usize);
    let old_cte = part
        .content_transfer_encoding()
        .map(|c| c.trim().to_ascii_lowercase());
    let ascii = text.is_ascii();
    let long_lines = text.split('\n').any(|l| l.len() > 998);
    let cte = match old_cte.as_deref() {
        Some("base64") => "base64",
        Some("quoted-printable") => "quoted-printable",
        _ if ascii && !long_lines => "",
        _ => "quoted-printable",
    };
    let mut head = String::new();
    let (fields, _) = header_block(raw, start);
    let mut saw_ct = false;
    for f in &fields {
        let name = String::from_utf8_lossy(&raw[f.name.clone()]);
        if name.eq_ignore_ascii_case("Content-Transfer-Encoding") && !cte.is_empty() {
            continue;
        }
        if name.eq_ignore_ascii_case("Content-Type") {
            saw_ct = true;
            if !ascii {
                let value = decode_value(&raw[f.value.clone()]);
                let value = if charset_re().is_match(&value) {
                    charset_re()
                        .replace(&value, "charset=\"utf-8\"")
                        .into_owned()
                } else {
                    format!("{value}; charset=\"utf-8\"")
                };
                head.push_str(&header_field(&name, &value));
                continue;
            }
        }
        head.push_str(&String::from_utf8_lossy(&raw[f.full.clone()]));
    }
    if !saw_ct && !ascii {
        head.push_str(&header_field(
            "Content-Type",
            "text/plain; charset=\"utf-8\"",
        ));
    }
    if !cte.is_empty() {
        head.push_str(&header_field("Content-Transfer-Encoding", cte));
    }
    head.push_str("\r\n");
    let mut body = match cte {
        "base64" => base64_body(text.as_bytes()),
        "quoted-printable" => quoted_printable(text),
        _ => crlf(text),
    };
    // A child part's body ends before the CRLF of the next delimiter; the
    // root's runs to the end of the message.
    while body.ends_with("\r\n") {
        body.truncate(body.len() - 2);
    }
    if root {
        body.push_str("\r\n");
    }
    head.push_str(&body);
    (start..end.min(raw.len()), head.into_bytes())
}

/// Applies non-overlapping edits.
fn splice(raw: &[u8], mut edits: Vec<(std::ops::Range<usize>, Vec<u8>)>) -> Vec<u8> {
    edits.sort_by_key(|(r, _)| r.start);
    let mut out = Vec::with_capacity(raw.len());
    let mut pos = 0;
    for (range, bytes) in edits {
        if range.start < pos || range.end < range.start || range.end > raw.len() {
            continue;
        }
        out.extend_from_slice(&raw[pos..range.start]);
        out.extend_from_slice(&bytes);
        pos = range.end;
    }
    out.extend_from_slice(&raw[pos..]);
    out
}

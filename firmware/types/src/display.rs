//! Text that came from a message or a peer, made safe for an operator's
//! terminal and for the one-line fields of records and generated mail.
//!
//! A Subject, a HELO name, an address, a header value or an attachment
//! file name is chosen by whoever sent the mail. Printed as it is, an
//! escape sequence in it (`ESC [ 2 J`, `ESC ] 0 ; title BEL`, or the
//! one-byte C1 CSI U+009B that some terminals honour) would clear the
//! operator's screen, retitle the window, or worse; a bidi override
//! (U+202E) or a zero-width character makes the text read as something it
//! is not. Every such character is rendered visibly instead, in the same
//! `\u{..}` form `mail_logs` uses, so what the operator sees in
//! `showmessage` matches what `grep` finds in the log.
//!
//! Two shapes:
//! - [`escape_text`]: a multi-line answer (a message's head, log lines):
//!   line ends stay line ends (`\n`, and CRLF as one), tabs stay tabs,
//!   everything else unsafe is escaped.
//! - [`escape_line`]: a single-line field: a newline, carriage return or
//!   tab is escaped too, so a field cannot forge a line of its own.
//!
//! [`flatten`] is for text that goes back into mail or a stored record
//! (a DSN's reason, a notice's Subject): there, an escape would be
//! meaningless to the reader, so unsafe characters become one space.
//!
//! Exposure: none; pure functions. Used by the control plane on every
//! answer it sends (see `control`) and by the console as a last line of
//! defence on everything it prints.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as it is: C0 controls, DEL, C1
/// controls (U+0080–U+009F), and invisible or direction-changing
/// characters (bidi embeddings, overrides and isolates, zero-width
/// characters, the line and paragraph separators, the byte-order mark).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00ad}'                  // soft hyphen (invisible)
            | '\u{061c}'                // Arabic letter mark
            | '\u{180e}'                // Mongolian vowel separator
            | '\u{200b}'..='\u{200f}'   // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202e}'   // line/paragraph separators, bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}'   // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}'   // bidi isolates
            | '\u{206a}'..='\u{206f}'   // deprecated format characters
            | '\u{feff}'                // zero-width no-break space (BOM)
            | '\u{fff9}'..='\u{fffb}' // interlinear annotation
        )
}

/// Appends `c` to `out`, escaped when it is unsafe. `\n`, `\r` and `\t`
/// read as themselves (`\\n`, ...); anything else as `\u{hex}`.
pub fn push_escaped_char(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if is_unsafe(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// A single-line field, every unsafe character escaped (newlines too).
pub fn escape_line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        push_escaped_char(&mut out, c);
    }
    Cow::Owned(out)
}

/// A multi-line answer: `\n` (and CRLF, as one `\n`) and tabs are kept,
/// every other unsafe character is escaped.
pub fn escape_text(s: &str) -> Cow<'_, str> {
    let safe = |c: char| c == '\n' || c == '\t' || !is_unsafe(c);
    if s.chars().all(safe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\t' => out.push(c),
            c => push_escaped_char(&mut out, c),
        }
    }
    Cow::Owned(out)
}

/// At most `max` characters of `s`, each unsafe one replaced by a space:
/// for text that goes back into mail or a stored record.
pub fn flatten(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| if is_unsafe(c) { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a hostile sender puts in a Subject.
    const HOSTILE: &[(&str, &str)] = &[
        ("\x1b[2J", "\\u{1b}[2J"),
        ("\x1b]0;title\x07", "\\u{1b}]0;title\\u{7}"),
        ("\u{9b}31m", "\\u{9b}31m"),
        ("\u{202e}gpj.exe", "\\u{202e}gpj.exe"),
        ("a\u{200b}b", "a\\u{200b}b"),
        ("\u{2066}x\u{2069}", "\\u{2066}x\\u{2069}"),
        ("del\x7f", "del\\u{7f}"),
        ("\u{feff}bom", "\\u{feff}bom"),
    ];

    #[test]
    fn escape_sequences_and_bidi_are_rendered_visibly() {
        for (raw, shown) in HOSTILE {
            assert_eq!(escape_line(raw), *shown, "{raw:?}");
            assert_eq!(escape_text(raw), *shown, "{raw:?}");
            for out in [escape_line(raw), escape_text(raw)] {
                assert!(!out.chars().any(is_unsafe), "{out:?}");
            }
        }
    }

    #[test]
    fn a_single_line_field_cannot_forge_a_line() {
        assert_eq!(
            escape_line("host\r\nMID 1 Delivered\tok"),
            "host\\r\\nMID 1 Delivered\\tok"
        );
    }

    #[test]
    fn multi_line_text_keeps_its_lines_and_tabs() {
        assert_eq!(
            escape_text("Subject: hi\r\nX-A:\tb\r\n\r\nbody\rx\n"),
            "Subject: hi\nX-A:\tb\n\nbody\\rx\n"
        );
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for s in ["plain ASCII", "Grüße, 日本語, émoji 🎉", "tab\there"] {
            assert!(matches!(escape_text(s), Cow::Borrowed(t) if t == s));
        }
        assert!(matches!(escape_line("Grüße"), Cow::Borrowed(_)));
    }

    #[test]
    fn flatten_replaces_with_spaces_and_cuts_by_characters() {
        assert_eq!(flatten("a\x1b[2J\u{202e}b\r\nc", 100), "a [2J b  c");
        assert_eq!(flatten(&"é".repeat(10), 3), "ééé");
    }
}

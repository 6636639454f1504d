//! The AsyncOS line shape: `<local time> <Level>: <message>[ key=value]...`.
//!
//! Everything here is pure: the timestamp is an argument, so the shape is
//! tested without a clock. Peer-supplied text (HELO names, addresses,
//! subjects) reaches these lines, so control characters are escaped: one
//! event is always exactly one line, and a CR/LF in a header cannot forge a
//! log entry. Each line is capped at [`MAX_LINE_BYTES`] (the tail cut and
//! marked [`TRUNCATED`]), so no peer can make one line larger than a log
//! file's size cap, and escaping a hostile 60 MB header stops early.

use std::fmt::{self, Write as _};

use breakwater_types::clock::LOG_TIME_FORMAT;
use chrono::NaiveDateTime;
use tracing::Level;
use tracing::field::{Field, Visit};

/// Longest log line, in bytes, newline excluded. A full SMTP command line
/// (512), a 998-octet header line and every field of a delivery line fit;
/// `logconfig` never allows a file smaller than 100 KiB, so a capped line
/// always fits in a file and the file cap holds whatever a peer sends.
pub const MAX_LINE_BYTES: usize = 4096;

/// What ends a line cut at [`MAX_LINE_BYTES`].
pub const TRUNCATED: &str = " [truncated]";

/// The word AsyncOS prints after the timestamp for each level.
pub(crate) fn level_word(level: Level) -> &'static str {
    match level {
        Level::ERROR => "Critical",
        Level::WARN => "Warning",
        Level::INFO => "Info",
        Level::DEBUG => "Debug",
        // `Level` is a closed set of five; TRACE is the only one left.
        _ => "Trace",
    }
}

/// An event's `message` and its other fields, already escaped.
#[derive(Debug, Default)]
pub(crate) struct EventText {
    message: String,
    /// Rendered as ` key=value` pairs, in the order the event lists them.
    fields: String,
}

impl EventText {
    #[cfg(test)]
    pub(crate) fn new(message: &str) -> Self {
        let mut text = Self::default();
        push_escaped(&mut text.message, message);
        text
    }

    /// Appends ` name=value`, quoting a value that would otherwise be
    /// ambiguous to a reader splitting on spaces and `=`.
    pub(crate) fn push_field(&mut self, name: &str, value: &str) {
        self.fields.push(' ');
        self.fields.push_str(name);
        self.fields.push('=');
        let needs_quotes = value.is_empty()
            || value
                .chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '=');
        if needs_quotes {
            self.fields.push('"');
            for c in value.chars() {
                if past_cap(&self.fields) {
                    break;
                }
                if c == '"' || c == '\\' {
                    self.fields.push('\\');
                }
                breakwater_types::display::push_escaped_char(&mut self.fields, c);
            }
            self.fields.push('"');
        } else {
            push_escaped(&mut self.fields, value);
        }
    }
}

/// `tracing-log` adds these to events bridged from the `log` crate (rustls
/// logs that way); they are noise in an AsyncOS-style line.
fn is_log_metadata(name: &str) -> bool {
    name.starts_with("log.")
}

impl Visit for EventText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            push_escaped(&mut self.message, value);
        } else if !is_log_metadata(field.name()) {
            self.push_field(field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            // The message is `format_args!`, whose Debug is its Display.
            if !past_cap(&self.message) {
                push_escaped(&mut self.message, &format!("{value:?}"));
            }
        } else if !is_log_metadata(field.name()) {
            // Debug output is already unambiguous (strings come quoted), so
            // it is only escaped, not quoted again.
            self.fields.push(' ');
            self.fields.push_str(field.name());
            self.fields.push('=');
            if !past_cap(&self.fields) {
                push_escaped(&mut self.fields, &format!("{value:?}"));
            }
        }
    }
}

/// One log line, without the trailing newline, at most [`MAX_LINE_BYTES`].
pub(crate) fn format_line(time: NaiveDateTime, level: Level, text: &EventText) -> String {
    let mut line = String::with_capacity(32 + text.message.len() + text.fields.len());
    // Writing to a String cannot fail, and the format string is a valid
    // constant, so chrono cannot fail either; `write!` rather than
    // `to_string()` keeps even that impossible case from panicking.
    let _ = write!(
        line,
        "{} {}: {}{}",
        // AsyncOS's `Wed Dec  6 16:36:48 2026`, the day padded with a space.
        time.format(LOG_TIME_FORMAT),
        level_word(level),
        text.message,
        text.fields
    );
    cap_line(&mut line);
    line
}

/// Cuts `line` to [`MAX_LINE_BYTES`] at a character boundary, ending it
/// with [`TRUNCATED`].
fn cap_line(line: &mut String) {
    if line.len() <= MAX_LINE_BYTES {
        return;
    }
    let cut = line.floor_char_boundary(MAX_LINE_BYTES - TRUNCATED.len());
    line.truncate(cut);
    line.push_str(TRUNCATED);
}

/// Escaping stops once a part is past the line cap: the line will be cut
/// there anyway, and a huge value should cost no more than a short one.
fn past_cap(part: &str) -> bool {
    part.len() > MAX_LINE_BYTES
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        if past_cap(out) {
            break;
        }
        breakwater_types::display::push_escaped_char(out, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(day: u32, h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .and_then(|d| d.and_hms_opt(h, m, s))
            .unwrap()
    }

    #[test]
    fn asyncos_line_shape() {
        let text = EventText::new(
            "New SMTP ICID 5 interface Data 1 (127.0.1.1) address 127.0.0.9 \
             reverse dns host unknown verified no",
        );
        assert_eq!(
            format_line(at(24, 1, 6, 39), Level::INFO, &text),
            "Tue Nov 24 01:06:39 2026 Info: New SMTP ICID 5 interface Data 1 \
             (127.0.1.1) address 127.0.0.9 reverse dns host unknown verified no"
        );
    }

    #[test]
    fn day_is_space_padded_as_asyncos_prints_it() {
        let line = format_line(at(3, 9, 5, 7), Level::WARN, &EventText::new("x"));
        assert_eq!(line, "Tue Nov  3 09:05:07 2026 Warning: x");
    }

    #[test]
    fn levels_map_to_asyncos_words() {
        let cases = [
            (Level::ERROR, "Critical"),
            (Level::WARN, "Warning"),
            (Level::INFO, "Info"),
            (Level::DEBUG, "Debug"),
            (Level::TRACE, "Trace"),
        ];
        for (level, word) in cases {
            assert_eq!(level_word(level), word);
            let line = format_line(at(24, 0, 0, 0), level, &EventText::new("m"));
            assert!(line.ends_with(&format!(" 2026 {word}: m")), "{line}");
        }
    }

    #[test]
    fn fields_are_appended_and_quoted_when_ambiguous() {
        let mut text = EventText::new("Start MID 7 ICID 5");
        text.push_field("from", "<a@example.com>");
        text.push_field("subject", "hello world");
        text.push_field("empty", "");
        let line = format_line(at(24, 1, 6, 39), Level::INFO, &text);
        assert!(
            line.ends_with(
                "Info: Start MID 7 ICID 5 from=<a@example.com> \
                 subject=\"hello world\" empty=\"\""
            ),
            "{line}"
        );
    }

    #[test]
    fn control_characters_cannot_forge_lines() {
        let mut text =
            EventText::new("HELO evil\r\nTue Nov 24 01:06:39 2026 Info: forged\u{1b}[31m");
        text.push_field("helo", "a\nb");
        let line = format_line(at(24, 1, 6, 39), Level::INFO, &text);
        assert!(!line.contains(['\n', '\r', '\u{1b}']), "{line}");
        assert!(line.contains("evil\\r\\nTue"), "{line}");
        assert!(line.contains("\\u{1b}[31m"), "{line}");
        assert!(line.ends_with(" helo=\"a\\nb\""), "{line}");
    }

    #[test]
    fn a_huge_subject_is_cut_to_the_line_cap_and_marked() {
        // 60 MB of a multi-byte character: the cut must land on a
        // character boundary and the work must stop near the cap.
        let subject = "é".repeat(30_000_000);
        let mut text = EventText::new("Start MID 7 ICID 5");
        text.push_field("subject", &subject);
        text.push_field("after", "x");
        let line = format_line(at(24, 1, 6, 39), Level::INFO, &text);
        assert!(line.len() <= MAX_LINE_BYTES, "{} bytes", line.len());
        assert!(line.ends_with(TRUNCATED), "{line}");
        assert!(
            line.contains("Start MID 7 ICID 5 subject=éé"),
            "{}",
            line.chars().take(60).collect::<String>()
        );
        assert!(!line.contains("after=x"));
    }

    #[test]
    fn a_huge_message_is_cut_too_and_short_lines_are_untouched() {
        let text = EventText::new(&"\u{1}".repeat(10_000));
        let line = format_line(at(24, 1, 6, 39), Level::INFO, &text);
        assert!(line.len() <= MAX_LINE_BYTES);
        assert!(line.ends_with(TRUNCATED));

        let prefix = format_line(at(24, 1, 6, 39), Level::INFO, &EventText::new("")).len();
        let exact = "x".repeat(MAX_LINE_BYTES - prefix);
        let line = format_line(at(24, 1, 6, 39), Level::INFO, &EventText::new(&exact));
        assert_eq!(line.len(), MAX_LINE_BYTES);
        assert!(line.ends_with('x'), "a line at the cap is kept whole");
    }
}

//! RFC 5424 messages and their framing (sans-I/O): what a log line becomes
//! on its way to a syslog host.
//!
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME - - - MSG`: PRI is facility * 8 +
//! severity, the time is RFC 3339 with the appliance's offset, HOSTNAME the
//! appliance's host name and APP-NAME the log's name (`mail_logs`), so a
//! receiver can file each log apart. PROCID, MSGID and STRUCTURED-DATA are
//! NILVALUE: the line's own text already carries MIDs and ICIDs.

use chrono::{DateTime, SecondsFormat, TimeZone};
use tracing::Level;

/// RFC 5424 section 6.2.4: HOSTNAME is at most 255 printable ASCII
/// characters, APP-NAME at most 48.
const MAX_HOSTNAME: usize = 255;
const MAX_APP_NAME: usize = 48;

/// The syslog severity of a log level (RFC 5424 table 2).
pub fn severity(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// One RFC 5424 message (no framing, no trailing newline). `message` is a
/// log line's text after its time and level word; log lines are already
/// one line with control characters escaped, which keeps the spool
/// newline-delimited.
pub fn message<Tz: TimeZone>(
    facility: u8,
    level: Level,
    time: &DateTime<Tz>,
    hostname: &str,
    app_name: &str,
    text: &str,
) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let pri = u16::from(facility.min(23)) * 8 + u16::from(severity(level));
    format!(
        "<{pri}>1 {} {} {} - - - {}",
        time.to_rfc3339_opts(SecondsFormat::Micros, true),
        header_field(hostname, MAX_HOSTNAME),
        header_field(app_name, MAX_APP_NAME),
        text.replace(['\n', '\r'], " "),
    )
}

/// A header field: printable ASCII without spaces, `-` when empty.
fn header_field(value: &str, max: usize) -> String {
    let field: String = value
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if field.is_empty() { "-".into() } else { field }
}

/// RFC 6587 octet-counting framing, as TCP and TLS receivers expect:
/// `MSG-LEN SP SYSLOG-MSG`, no trailer.
pub fn octet_counted(msg: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(msg.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(msg.as_bytes());
}

/// The text of a log line after its time and level word
/// (`Tue Nov 24 01:06:39 2026 Info: Start MID 1` → `Start MID 1`): the
/// time travels in the header, the level in PRI.
pub fn line_text(line: &str) -> &str {
    line.split_once(": ").map_or(line, |(_, text)| text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, Utc};

    #[test]
    fn message_has_the_rfc5424_header() {
        let t = Utc.with_ymd_and_hms(2026, 12, 6, 17, 22, 12).unwrap();
        assert_eq!(
            message(
                2,
                Level::INFO,
                &t,
                "mail.example.com",
                "mail_logs",
                "Start MID 1 ICID 2"
            ),
            "<22>1 2026-12-06T17:22:12.000000Z mail.example.com mail_logs - - - Start MID 1 ICID 2"
        );
        let paris = FixedOffset::east_opt(3600).unwrap();
        let t = t.with_timezone(&paris);
        assert_eq!(
            message(4, Level::WARN, &t, "", "audit_logs", "x"),
            "<36>1 2026-12-06T18:22:12.000000+01:00 - audit_logs - - - x"
        );
        // local7.debug: the highest PRI; spaces never split a header field.
        assert!(message(23, Level::DEBUG, &t, "a b", "c", "").starts_with("<191>1 "));
        assert!(message(23, Level::DEBUG, &t, "a b", "c", "").contains(" ab c - - - "));
    }

    #[test]
    fn framing_counts_octets_not_chars() {
        let mut out = Vec::new();
        octet_counted("é", &mut out);
        octet_counted("ab", &mut out);
        assert_eq!(out, b"2 \xc3\xa92 ab");
    }

    #[test]
    fn line_text_drops_time_and_level() {
        assert_eq!(
            line_text("Tue Nov 24 01:06:39 2026 Info: Start MID 1: x"),
            "Start MID 1: x"
        );
    }
}

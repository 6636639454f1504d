//! Delivery status notifications (RFC 3464) for hard-bounced recipients.
//!
//! A DSN is a new message from the null sender `<>` to the original
//! envelope sender, so it can never cause another DSN: no bounce loops.
//! The caller chooses what of the original is attached ([`Attach`]): for
//! mail from the internet only its headers (`text/rfc822-headers`, RFC
//! 3462) unless the bounce profile sends the complete original (AsyncOS's
//! "Send complete original message", No by default), so a bounce to a
//! forged sender carries no spam or malware body back out (backscatter);
//! for mail from our own users the whole message when under
//! [`ATTACH_LIMIT`].

use crate::ids::Mid;

/// Our own users' mail is attached whole below this size; also the most
/// header bytes attached when the original has no blank line.
pub const ATTACH_LIMIT: usize = 10 * 1024;

/// What of the original a DSN carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// Its header section (`text/rfc822-headers`).
    Headers,
    /// The whole message (`message/rfc822`).
    Complete,
}

/// One failed recipient: address and the reply or reason.
pub struct Failure<'a> {
    pub address: &'a str,
    pub reason: &'a str,
}

/// The enhanced status code in a reply or reason (`550 5.1.1 ...`,
/// `5.1.2 - Bad destination host`), or 5.0.0.
pub fn status_code(reason: &str) -> String {
    reason
        .split(|c: char| c.is_whitespace() || c == '(' || c == '\'')
        .find(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() == 3
                && (parts[0] == "5" || parts[0] == "4")
                && parts[1..]
                    .iter()
                    .all(|p| !p.is_empty() && p.len() <= 3 && p.chars().all(|c| c.is_ascii_digit()))
        })
        // A DSN reports a permanent failure, even after temporary errors.
        .map(|w| match w.strip_prefix('4') {
            Some(rest) => format!("5{rest}"),
            None => w.to_string(),
        })
        .unwrap_or_else(|| "5.0.0".to_string())
}

/// Builds the DSN message for `original` (MID `mid`).
pub fn build(
    hostname: &str,
    mid: Mid,
    sender: &str,
    failures: &[Failure<'_>],
    original: &[u8],
    attach: Attach,
) -> Vec<u8> {
    let boundary = format!("{mid}.{}/{hostname}", chrono::Utc::now().timestamp());
    // The appliance's zone, with its numeric offset (RFC 5322 date).
    let date = breakwater_types::clock::now().to_rfc2822();
    let mut out = String::new();
    out.push_str(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n\
         To: <{sender}>\r\n\
         Subject: Delivery Status Notification (Failure)\r\n\
         Date: {date}\r\n\
         Message-ID: <dsn.{mid}.{}@{hostname}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\r\n\
         This is a MIME-encapsulated message.\r\n\r\n",
        chrono::Utc::now().timestamp_micros()
    ));
    out.push_str(&format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    ));
    out.push_str(&format!(
        "This is the mail system at host {hostname}.\r\n\r\n\
         Your message could not be delivered to one or more recipients.\r\n\
         {} attached below.\r\n\r\n",
        match attach {
            Attach::Headers => "Its headers are",
            Attach::Complete => "It is",
        }
    ));
    for f in failures {
        out.push_str(&format!(
            "<{}>: {}\r\n",
            f.address,
            crate::display::flatten(f.reason, usize::MAX)
        ));
    }
    out.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; {hostname}\r\nX-Breakwater-MID: {mid}\r\nArrival-Date: {date}\r\n"
    ));
    for f in failures {
        out.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {}\r\nDiagnostic-Code: smtp; {}\r\n",
            f.address,
            status_code(f.reason),
            crate::display::flatten(f.reason, usize::MAX)
        ));
    }
    let mut bytes = out.into_bytes();
    if attach == Attach::Complete {
        bytes.extend_from_slice(
            format!("\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n").as_bytes(),
        );
        bytes.extend_from_slice(original);
    } else {
        bytes.extend_from_slice(
            format!("\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n").as_bytes(),
        );
        let end = find_header_end(original).unwrap_or(original.len().min(ATTACH_LIMIT));
        bytes.extend_from_slice(&original[..end]);
    }
    if !bytes.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    bytes
}

fn find_header_end(msg: &[u8]) -> Option<usize> {
    msg.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_come_from_the_reply_or_default() {
        assert_eq!(status_code("550 5.1.1 <x@y>: user unknown"), "5.1.1");
        assert_eq!(status_code("5.1.2 - Bad destination host"), "5.1.2");
        assert_eq!(status_code("expired after 4.4.7 retries"), "5.4.7");
        assert_eq!(status_code("no code here"), "5.0.0");
    }

    #[test]
    fn a_dsn_is_a_multipart_report_that_mail_parser_reads() {
        let original = b"Subject: hello\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n";
        let dsn = build(
            "gw.example",
            Mid(7),
            "alice@example.org",
            &[Failure {
                address: "bob@example.com",
                reason: "550 5.1.1 user unknown",
            }],
            original,
            Attach::Complete,
        );
        let msg = mail_parser::MessageParser::new().parse(&dsn[..]).unwrap();
        assert_eq!(
            msg.subject(),
            Some("Delivery Status Notification (Failure)")
        );
        let text = String::from_utf8_lossy(&dsn);
        assert!(text.contains("Content-Type: multipart/report; report-type=delivery-status"));
        assert!(text.contains(
            "Final-Recipient: rfc822; bob@example.com\r\nAction: failed\r\nStatus: 5.1.1"
        ));
        assert!(text.contains("Content-Type: message/rfc822\r\n\r\nSubject: hello"));
        let big = [original.as_slice(), &vec![b'x'; ATTACH_LIMIT]].concat();
        let dsn = build("gw", Mid(8), "a@b", &[], &big, Attach::Headers);
        let dsn = String::from_utf8_lossy(&dsn).into_owned();
        assert!(dsn.contains("text/rfc822-headers") && !dsn.contains("xxxxxxxx"));
    }

    #[test]
    fn by_default_a_dsn_carries_the_headers_and_never_the_body() {
        let original = b"Subject: cheap pills\r\nMessage-ID: <a@b>\r\n\r\nBUY NOW\r\n";
        let dsn = build(
            "gw",
            Mid(9),
            "forged@example.net",
            &[],
            original,
            Attach::Headers,
        );
        let text = String::from_utf8_lossy(&dsn);
        assert!(text.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: cheap pills"));
        assert!(!text.contains("BUY NOW") && !text.contains("message/rfc822"));
    }
}

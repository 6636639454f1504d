//! Reads arbitrary bytes as the rest of a `MAIL FROM:` / `RCPT TO:` line.
//! Properties checked: the parser never panics; whatever it accepts
//! displays without CR, LF, controls, or space, `<`, `>` outside quotes,
//! fits RFC 5321's path limit, and parses back to the same address.
#![no_main]

use breakwater::address::{Mailbox, ReversePath, parse_mail_from, parse_rcpt_to};
use libfuzzer_sys::fuzz_target;

fn check(m: &Mailbox, utf8: bool) {
    let shown = m.to_string();
    let (mut quoted, mut escaped) = (false, false);
    for c in shown.chars() {
        assert!(!c.is_control(), "control character in {shown:?}");
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else {
            assert!(quoted || !matches!(c, ' ' | '<' | '>'), "unquoted {c:?} in {shown:?}");
        }
    }
    assert!(!quoted && !escaped, "unterminated quote in {shown:?}");
    assert!(shown.len() + 2 <= breakwater::address::MAX_PATH);
    assert_eq!(Mailbox::parse(&shown, utf8).as_ref(), Ok(m), "round trip");
    let line = format!("RCPT TO:<{shown}> NOTIFY=NEVER\r\n");
    assert_eq!(parse_rcpt_to(line.as_bytes(), utf8).as_ref(), Ok(m), "as a line");
}

fuzz_target!(|data: &[u8]| {
    let mut line = b"RCPT TO:".to_vec();
    line.extend_from_slice(data);
    for utf8 in [false, true] {
        if let Ok(m) = parse_rcpt_to(&line, utf8) {
            check(&m, utf8);
        }
        if let Ok(ReversePath::Mailbox(m)) = parse_mail_from(&line, utf8) {
            check(&m, utf8);
        }
        if let Ok(text) = std::str::from_utf8(data)
            && let Ok(m) = Mailbox::parse(text, utf8)
        {
            check(&m, utf8);
        }
    }
});

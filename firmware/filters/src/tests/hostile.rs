//! Hostile MIME: each message is built the way an attacker would, and the
//! filters must finish on it with the documented outcome (`valid` false, the
//! limit named by `mime_limit`, body rules still scanning the text the
//! parser was not shown). Test threads have a 2 MiB stack, like the tokio
//! workers the filters run on, so a recursion the limits missed would
//! overflow here.

use super::*;
use crate::{MimeLimitHit, Pattern, edit_body_text};

/// A million empty parts (10 MB), then the text a rule looks for.
#[test]
fn a_million_parts_are_not_all_parsed() {
    let mut raw =
        b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
    for _ in 0..1_000_000 {
        raw.extend_from_slice(b"--b\r\n\r\nx\r\n");
    }
    raw.extend_from_slice(b"--b\r\n\r\nbuy cheap pills\r\n--b--\r\n");
    let ctx = inbound(&raw);
    assert!(!matches("valid", &ctx));
    assert_eq!(ctx.mime_limit(), Some(MimeLimitHit::Parts));
    // The part after the limit is scanned as raw text.
    assert!(matches("body-contains('cheap pills')", &ctx));
    assert!(matches("only-body-contains('cheap pills')", &ctx));
}

/// 10,000 attached messages, each inside the one before.
#[test]
fn nesting_ten_thousand_deep_stops_at_the_limit() {
    let mut raw = b"From: a@example.com\r\n".to_vec();
    for _ in 0..10_000 {
        raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    raw.extend_from_slice(b"Subject: deep\r\n\r\nbuy cheap pills\r\n");
    let ctx = inbound(&raw);
    assert!(!matches("valid", &ctx));
    assert_eq!(ctx.mime_limit(), Some(MimeLimitHit::Depth));
    assert!(matches("body-contains('cheap pills')", &ctx));
    assert!(matches("attachment-type == 'message/rfc822'", &ctx));
    // A rewrite that needs the MIME tree leaves such a message as it is.
    let p = Pattern::new("pills", false).unwrap();
    assert_eq!(edit_body_text(&raw, &p, "x"), raw);
}

/// 10,000 multiparts, each the only part of the one before.
#[test]
fn multipart_nesting_ten_thousand_deep_stops_at_the_limit() {
    let mut raw = b"From: a@example.com\r\n".to_vec();
    for i in 0..10_000 {
        raw.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes(),
        );
    }
    raw.extend_from_slice(b"\r\nbuy cheap pills\r\n");
    let ctx = inbound(&raw);
    assert!(!matches("valid", &ctx));
    assert_eq!(ctx.mime_limit(), Some(MimeLimitHit::Depth));
    assert!(matches("body-contains('cheap pills')", &ctx));
}

/// Multiparts whose boundaries never appear: each one makes the parser scan
/// the rest of the message again, so their number is bounded.
#[test]
fn multiparts_without_their_boundaries_are_bounded() {
    let mut raw =
        b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=top\r\n\r\n".to_vec();
    for i in 0..1_000 {
        raw.extend_from_slice(
            format!("--top\r\nContent-Type: multipart/mixed; boundary=never{i}\r\n\r\n").as_bytes(),
        );
        raw.extend(std::iter::repeat_n(b'x', 1000));
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"--top\r\n\r\nbuy cheap pills\r\n--top--\r\n");
    let ctx = inbound(&raw);
    assert!(!matches("valid", &ctx));
    assert_eq!(ctx.mime_limit(), Some(MimeLimitHit::Depth));
    assert!(matches("body-contains('cheap pills')", &ctx));
}

/// 10,000 header fields: every one is looked at, the last one too.
#[test]
fn ten_thousand_headers_are_all_seen() {
    let mut raw = b"From: a@example.com\r\n".to_vec();
    for i in 0..10_000 {
        raw.extend_from_slice(format!("X-Filler-{i}: value {i}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"X-Last: found\r\nSubject: hi\r\n\r\nbody\r\n");
    let ctx = inbound(&raw);
    assert!(matches("header('X-Last') == '^found$'", &ctx));
    assert!(matches("header('X-Filler-9999') == '9999'", &ctx));
    assert!(matches("subject == '^hi$'", &ctx));
    assert!(matches("valid", &ctx));
    assert_eq!(ctx.mime_limit(), None);
}

/// A 200 KB header line: rules examine its first 100 KB
/// (`MIME_MAX_HEADER_BYTES`).
#[test]
fn a_huge_header_line_is_examined_up_to_the_limit() {
    let big = "a".repeat(200 * 1024);
    let words = "=?utf-8?q?caf=C3=A9?= ".repeat(10_000);
    let raw = format!(
        "From: a@example.com\r\nX-Big: {big} tail\r\nTo: {big}@example.com\r\nSubject: {words}\r\n\r\nbody\r\n"
    );
    let ctx = inbound(raw.as_bytes());
    assert!(matches("header('X-Big') == '^aaaa'", &ctx));
    assert!(!matches("header('X-Big') == 'tail'", &ctx));
    assert!(matches("subject == '^cafécafé'", &ctx));
    assert!(matches("addr-count('To') >= 0", &ctx));
    assert!(matches("body-contains('body')", &ctx));
}

/// A 50 KB boundary over 1 MB of dashes: quadratic in the parser, so the
/// parser never sees that boundary.
#[test]
fn a_long_boundary_is_not_handed_to_the_parser() {
    let b = "-".repeat(50_000);
    let mut raw = format!(
        "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"{b}x\"\r\n\r\n--{b}x\r\n\r\n"
    )
    .into_bytes();
    raw.extend(std::iter::repeat_n(b'-', 1 << 20));
    raw.extend_from_slice(b"\r\nbuy cheap pills\r\n");
    let ctx = inbound(&raw);
    assert!(!matches("valid", &ctx));
    assert_eq!(ctx.mime_limit(), Some(MimeLimitHit::Boundary));
    assert!(matches("body-contains('cheap pills')", &ctx));
}

/// A base64 message/rfc822 is decoded and parsed again inside the parser,
/// out of the scan's sight: it is cut off, and scanned as raw text.
#[test]
fn an_encoded_attached_message_is_not_parsed() {
    let raw = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
               --b\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
               --b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n\
               U3ViamVjdDogeA0KDQpoaQ==\r\n--b--\r\n";
    let ctx = inbound(raw.as_bytes());
    assert!(!matches("valid", &ctx));
    assert_eq!(ctx.mime_limit(), Some(MimeLimitHit::EncodedMessage));
    assert!(matches("only-body-contains('hello')", &ctx));
    assert!(matches("body-contains('U3ViamVjdDogeA0KDQpoaQ')", &ctx));
}

/// Every corpus message is within the limits.
#[test]
fn the_corpus_is_within_the_limits() {
    for raw in ALL {
        let ctx = inbound(raw);
        let _ = matches("body-contains('x')", &ctx);
        assert_eq!(ctx.mime_limit(), None);
    }
}

/// Found by `fuzz/fuzz_targets/message_headers.rs`: mail-parser reaches its
/// own `debug_assert!(false, "Invalid part ID, could not find multipart.")`
/// on this message. With debug assertions on (tests, fuzzing) that was a
/// panic in the work queue; the message now reads as malformed.
#[test]
fn fuzz_message_headers_multipart_part_id() {
    let raw: &[u8] = b"\x0f\r\nContent-Type:multipart/i; boundary=\"outer-boundary\"\n\xff\n\r\nY--outer-boundary\rContent-Type: message/rfc822\r\r\n\r\nContent-Type: message/rfc822\nCaml\"\r\n\r\nFr\r\n\r\nTIr\n--outer-boundary--\r\n";
    let ctx = inbound(raw);
    let _ = matches("body-contains('x')", &ctx);
    if cfg!(debug_assertions) {
        assert!(!matches("valid", &ctx));
    }
    let p = Pattern::new("x", false).unwrap();
    let _ = edit_body_text(raw, &p, "y");
}

//! The address parser: tables of accepted and refused forms, and
//! properties over generated addresses.

use super::*;
use proptest::prelude::*;

fn rcpt(line: &str) -> Result<Mailbox, AddressError> {
    parse_rcpt_to(line.as_bytes(), false)
}

/// The display has no CR/LF anywhere and no space, `<` or `>` outside
/// quotes, and it ends its quotes.
fn safe_on_the_wire(s: &str) -> bool {
    let (mut quoted, mut escaped) = (false, false);
    for c in s.chars() {
        if c == '\r' || c == '\n' || c.is_control() {
            return false;
        }
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted && matches!(c, ' ' | '<' | '>') {
            return false;
        }
    }
    !quoted && !escaped
}

#[test]
fn the_relay_by_quoting_payload_stays_one_quoted_mailbox() {
    let m = rcpt("RCPT TO:<\"victim@external.example> ORCPT=rfc822;x\"@example.com>\r\n").unwrap();
    assert_eq!(
        m.local().as_str(),
        "victim@external.example> ORCPT=rfc822;x"
    );
    assert_eq!(m.domain(), &Domain::Name("example.com".into()));
    assert_eq!(
        m.canonical(),
        "\"victim@external.example> ORCPT=rfc822;x\"@example.com"
    );
    assert_eq!(m.routing_trick(), Some(RoutingTrick::AtInLocalPart));
    assert_eq!(split_canonical(&m.canonical()).1, "example.com");
}

#[test]
fn canonical_forms() {
    for (line, canonical) in [
        ("RCPT TO:<Bob@Example.COM>", "Bob@example.com"),
        ("RCPT TO:<bob@example.com.>", "bob@example.com"),
        ("RCPT TO:<\"bob\"@example.com>", "bob@example.com"),
        (
            "RCPT TO:<\"john smith\"@example.com>",
            "\"john smith\"@example.com",
        ),
        (
            "RCPT TO:<\"a\\\"b\\\\c\"@example.com>",
            "\"a\\\"b\\\\c\"@example.com",
        ),
        ("RCPT TO:<\"\\a\"@example.com>", "a@example.com"),
        (
            "RCPT TO:<@relay.one,@relay.two:bob@example.com>",
            "bob@example.com",
        ),
        ("RCPT TO:<a@[192.0.2.1]> NOTIFY=NEVER", "a@[192.0.2.1]"),
        ("RCPT TO:<a@[ipv6:2001:DB8::1]>", "a@[IPv6:2001:db8::1]"),
        (
            "RCPT TO:<a.b+tag@your_domain.com>\r\n",
            "a.b+tag@your_domain.com",
        ),
    ] {
        assert_eq!(
            rcpt(line).map(|m| m.canonical()),
            Ok(canonical.into()),
            "{line}"
        );
    }
    assert_eq!(
        parse_mail_from(b"MAIL FROM:<> SIZE=10\r\n", false),
        Ok(ReversePath::Null)
    );
}

#[test]
fn refused_with_a_reason() {
    use AddressError::*;
    for (line, err) in [
        ("RCPT TO:<a\x1b@example.com>", ControlCharacter(0x1b)),
        ("RCPT TO:<\"a\x1b\"@example.com>", ControlCharacter(0x1b)),
        ("RCPT TO:<\"a\0\"@example.com>", ControlCharacter(0)),
        ("RCPT TO:<\"a\x7f\"@example.com>", ControlCharacter(0x7f)),
        ("RCPT TO:<\"a\r\n\"@example.com>", ControlCharacter(0x0d)),
        ("RCPT TO:<a@exam\tple.com>", ControlCharacter(9)),
        ("RCPT TO:<jos\u{e9}@example.com>", EightBit),
        ("RCPT TO:<a@b\u{fc}cher.example>", EightBit),
        ("RCPT TO:<@example.com>", BadSourceRoute),
        ("RCPT TO:<\"\"@example.com>", EmptyLocalPart),
        ("RCPT TO:<>", NullRecipient),
        ("RCPT TO:<Postmaster>", BarePostmaster),
        ("RCPT TO:<a..b@example.com>", LocalPartDot),
        ("RCPT TO:<.a@example.com>", LocalPartDot),
        (
            "RCPT TO:<a\"b\"@example.com>",
            LocalPartCharacter(u32::from(b'"')),
        ),
        ("RCPT TO:<a@>", MissingDomain),
        ("RCPT TO:<a>", MissingDomain),
        ("RCPT TO:<a@example..com>", BadDomain("empty label")),
        (
            "RCPT TO:<a@-x.com>",
            BadDomain("label starts or ends with '-'"),
        ),
        ("RCPT TO:<a@[300.1.1.1]>", BadLiteral("not an IPv4 address")),
        (
            "RCPT TO:<a@[tag:x@y]>",
            BadLiteral("only IPv4 and IPv6 literals"),
        ),
        ("RCPT TO:<a@example.com>x", TrailingText),
        ("RCPT TO:<a@example.com", MissingCloseBracket),
        ("RCPT TO:<\"abc@example.com>", UnterminatedQuote),
    ] {
        assert_eq!(rcpt(line), Err(err), "{line:?}");
    }
    let long_local = format!("RCPT TO:<{}@example.com>", "a".repeat(65));
    assert_eq!(rcpt(&long_local), Err(LocalPartTooLong));
    let long_path = format!("RCPT TO:<a@{}com>", "b.".repeat(125));
    assert_eq!(rcpt(&long_path), Err(PathTooLong));
    // smtp-proto would have unquoted these bytes; the reason never
    // repeats them.
    let reason = rcpt("RCPT TO:<\"\x1b[2J\"@example.com>")
        .unwrap_err()
        .to_string();
    assert_eq!(reason, "control character U+001B not allowed");
}

#[test]
fn utf8_only_with_smtputf8() {
    let line = "RCPT TO:<Jos\u{e9}@B\u{dc}CHER.example>".as_bytes();
    assert_eq!(parse_rcpt_to(line, false), Err(AddressError::EightBit));
    let m = parse_rcpt_to(line, true).unwrap();
    assert_eq!(m.canonical(), "Jos\u{e9}@b\u{fc}cher.example");
    assert!(m.is_utf8());
    for bad in [
        "RCPT TO:<a\u{202e}b@example.com>",
        "RCPT TO:<a\u{85}@example.com>",
        "RCPT TO:<a@example\u{ff0e}com>",
        "RCPT TO:<a\u{a0}b@example.com>",
    ] {
        assert!(parse_rcpt_to(bad.as_bytes(), true).is_err(), "{bad:?}");
    }
    assert_eq!(
        parse_rcpt_to(b"RCPT TO:<a\xff@example.com>", true),
        Err(AddressError::InvalidUtf8)
    );
}

#[test]
fn routing_tricks_are_named() {
    for (line, trick) in [
        (
            "RCPT TO:<a%b.example@example.com>",
            Some(RoutingTrick::PercentHack),
        ),
        (
            "RCPT TO:<b.example!a@example.com>",
            Some(RoutingTrick::BangPath),
        ),
        (
            "RCPT TO:<\"a@b.example\"@example.com>",
            Some(RoutingTrick::AtInLocalPart),
        ),
        (
            "RCPT TO:<a@[192.0.2.1]>",
            Some(RoutingTrick::AddressLiteral),
        ),
        ("RCPT TO:<@x,@y:a@example.com>", None),
        ("RCPT TO:<\"a b\"@example.com>", None),
    ] {
        assert_eq!(rcpt(line).unwrap().routing_trick(), trick, "{line}");
    }
}

#[test]
fn stored_forms_parse_back() {
    assert_eq!(ReversePath::parse_stored("", false), Ok(ReversePath::Null));
    let m = Mailbox::parse("\"a b\"@example.com", false).unwrap();
    assert_eq!(m.local().as_str(), "a b");
    assert!(Mailbox::parse("a@example.com> NOTIFY=NEVER", false).is_err());
    assert!(Mailbox::parse("a b@example.com", false).is_err());
    assert_eq!(
        Domain::parse("Example.COM.", false),
        Ok(Domain::Name("example.com".into()))
    );
}

fn domain_strategy() -> impl Strategy<Value = Domain> {
    prop_oneof![
        "[a-z0-9]([a-z0-9_-]{0,8}[a-z0-9])?(\\.[a-z0-9]{1,8}){0,3}".prop_map(Domain::Name),
        any::<[u8; 4]>().prop_map(|o| Domain::V4(o.into())),
        any::<[u16; 8]>().prop_map(|s| Domain::V6(s.into())),
    ]
}

proptest! {
    #[test]
    fn display_parses_back_to_the_same_mailbox(
        local in "[ -~\u{e9}\u{4e2d}]{1,30}",
        domain in domain_strategy(),
        utf8 in any::<bool>(),
    ) {
        let Ok(local) = LocalPart::new(&local, utf8) else { return Ok(()) };
        let Ok(m) = Mailbox::new(local, domain) else { return Ok(()) };
        let shown = m.to_string();
        prop_assert!(safe_on_the_wire(&shown), "{shown}");
        let line = format!("RCPT TO:<{shown}> NOTIFY=NEVER\r\n");
        prop_assert_eq!(parse_rcpt_to(line.as_bytes(), utf8), Ok(m.clone()));
        prop_assert_eq!(Mailbox::parse(&shown, utf8), Ok(m));
    }

    #[test]
    fn no_parsed_address_displays_unsafely(
        bytes in proptest::collection::vec(
            prop_oneof![
                Just(b'"'), Just(b'\\'), Just(b'@'), Just(b'>'), Just(b'<'), Just(b' '),
                Just(b'.'), Just(b'\r'), Just(b'\n'), Just(b':'), Just(b','), Just(b'['),
                Just(b']'), any::<u8>(), b'a'..=b'z',
            ],
            0..40,
        ),
        utf8 in any::<bool>(),
    ) {
        let mut line = b"RCPT TO:<".to_vec();
        line.extend(&bytes);
        if let Ok(m) = parse_rcpt_to(&line, utf8) {
            let shown = m.to_string();
            prop_assert!(safe_on_the_wire(&shown), "{shown:?}");
            prop_assert!(shown.len() <= MAX_PATH - 2);
            prop_assert_eq!(Mailbox::parse(&shown, utf8), Ok(m));
        }
        if let Ok(ReversePath::Mailbox(m)) = parse_mail_from(&line, utf8) {
            prop_assert!(safe_on_the_wire(&m.to_string()));
        }
    }
}

//! Evaluation: the seed filter, each condition on the corpus, and the
//! accumulation rules.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::{ActionKind, FinalAction, KnownNames, TraceEvent, apply_rewrites, trace, validate};

/// The seed filter with the sender group the reference scenario defines.
const SEED_O365: &str = r#"office365_outbound: if sendergroup == "RELAY_O365" {
  if header("X-OUTBOUND-AUTH") == "^mysecretkey$" {
    strip-header("X-OUTBOUND-AUTH");
  } else {
    drop();
  }
}
"#;

#[test]
fn seed_filter_behaves_as_the_guide_says() {
    // Right header: stripped, delivered.
    let ok = outbound(SEED_OK);
    let v = run(SEED_O365, &ok);
    assert_eq!(v.final_action, None);
    assert_eq!(v.actions.len(), 1);
    assert_eq!(
        v.actions[0].kind,
        ActionKind::StripHeader {
            name: "X-OUTBOUND-AUTH".into()
        }
    );
    let out = apply_rewrites(&v.actions, SEED_OK);
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("X-OUTBOUND-AUTH"));
    assert!(text.contains("X-MS-Exchange-Organization-AuthAs: Internal\r\n\r\nHello,"));

    // Wrong header (the secret appears, but not anchored) and missing header: dropped.
    for raw in [SEED_WRONG, PLAIN] {
        let v = run(SEED_O365, &outbound(raw));
        assert_eq!(v.final_action, Some(FinalAction::Drop));
        assert_eq!(v.final_filter.as_deref(), Some("office365_outbound"));
        assert!(v.actions.is_empty());
    }

    // Another sender group: untouched, even without the header.
    let v = run(SEED_O365, &inbound(PLAIN));
    assert_eq!(v, Verdict::default());
}

#[test]
fn seed_relaylist_pitfall_is_a_warning() {
    let filters = parse(&SEED_O365.replace("RELAY_O365", "RELAYLIST")).unwrap();
    let known = KnownNames {
        sender_groups: vec!["RELAY_O365".into(), "UNKNOWNLIST".into()],
        listeners: vec!["IncomingMail".into(), "OutgoingMail".into()],
        interfaces: vec!["Data1".into(), "Data2".into()],
        quarantines: vec!["Policy".into()],
        bounce_profiles: vec![],
    };
    let w = validate(&filters, &known);
    assert_eq!(w.len(), 1);
    assert_eq!(
        w[0].to_string(),
        "Filter 'office365_outbound': sender group 'RELAYLIST' is not defined"
    );
    assert!(validate(&parse(SEED_O365).unwrap(), &known).is_empty());
    let other = parse(
        "f: if recv-listener == 'Inbound' or recv-int == 'Data3' { quarantine('Spam'); \
         bounce-profile('slow'); alt-src-host('Data2'); quarantine('Policy'); }",
    )
    .unwrap();
    let names: Vec<(&str, String)> = validate(&other, &known)
        .into_iter()
        .map(|w| (w.what, w.name))
        .collect();
    assert_eq!(
        names,
        vec![
            ("listener", "Inbound".to_string()),
            ("interface", "Data3".to_string()),
            ("quarantine", "Spam".to_string()),
            ("bounce profile", "slow".to_string()),
        ]
    );
}

#[test]
fn each_condition_on_the_corpus() {
    let mut spam = inbound(SPAM);
    spam.remote_ip = "203.0.113.200".parse().unwrap();
    spam.recipients = (0..60)
        .map(|i| format!("user{i}@your_domain.com"))
        .collect();
    let mut authed = outbound(SEED_OK);
    authed.smtp_auth_id = Some("alice".into());
    let mut v6 = inbound(PLAIN);
    v6.remote_ip = "2001:db8::25".parse().unwrap();
    let auth = |id: &str, below: &str| {
        format!(
            "{below}Authentication-Results: {id};\r\n\tspf=none smtp.helo=mx.example;\r\n\tspf=pass (ok) smtp.mailfrom=bob@sender.example.org;\r\n\tdkim=fail header.d=sender.example.org\r\nFrom: bob@sender.example.org\r\nSubject: x\r\n\r\nbody\r\n"
        )
        .into_bytes()
    };
    let (ok_raw, forged_raw, buried_raw) = (
        auth("gw.example", ""),
        auth("evil.example", ""),
        auth("gw.example", "Received: from x\r\n"),
    );
    let with_host = |raw| {
        let mut c = inbound(raw);
        c.hostname = "gw.example".into();
        c
    };
    let (verified, forged, buried) = (
        with_host(&ok_raw),
        with_host(&forged_raw),
        with_host(&buried_raw),
    );
    let mut deep = Vec::new();
    deep.extend_from_slice(b"From: a@b.example\r\nSubject: deep\r\n");
    for i in 0..12 {
        deep.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n")
                .as_bytes(),
        );
    }
    deep.extend_from_slice(b"Content-Type: text/plain\r\n\r\ninner\r\n");
    let deep_ctx = inbound(&deep);

    let table: &[(&str, &MessageContext<'_>, bool)] = &[
        ("true", &inbound(PLAIN), true),
        ("valid", &inbound(MULTIPART), true),
        ("valid", &inbound(NESTED), true),
        ("valid", &deep_ctx, false),
        ("subject == 'lunch'", &inbound(PLAIN), true),
        (
            "subject == '^Réunion budgétaire'",
            &inbound(ENCODED_SUBJECT),
            true,
        ),
        ("subject == '会議'", &inbound(BASE64_TEXT), true),
        ("subject != 'lunch'", &inbound(PLAIN), false),
        (
            "mail-from == '^BOB@sender\\\\.example\\\\.org$'",
            &inbound(PLAIN),
            true,
        ),
        ("rcpt-to == '@YOUR_DOMAIN\\\\.com$'", &inbound(PLAIN), true),
        ("rcpt-to != 'external'", &outbound(SEED_OK), false),
        ("rcpt-count > 50", &spam, true),
        ("rcpt-count > 50", &inbound(PLAIN), false),
        ("rcpt-count == 1", &inbound(PLAIN), true),
        ("sendergroup == 'UNKNOWNLIST'", &inbound(PLAIN), true),
        ("sendergroup == 'unknownlist'", &inbound(PLAIN), false),
        ("recv-listener == 'OutgoingMail'", &outbound(SEED_OK), true),
        ("recv-int == 'Data1'", &outbound(SEED_OK), false),
        ("remote-ip == '203.0.113.0/24'", &inbound(PLAIN), true),
        ("remote-ip == '203.0.113.1-6'", &inbound(PLAIN), false),
        ("remote-ip == '203.0.113.5-9'", &inbound(PLAIN), true),
        ("remote-ip == '203.0.'", &inbound(PLAIN), true),
        (
            "remote-ip == '10.0.0.0/8, 40.107.0.0/16'",
            &outbound(SEED_OK),
            true,
        ),
        ("remote-ip == '2001:db8::/32'", &v6, true),
        ("header('X-Spam')", &spam, true),
        ("header('x-spam') == '^YES'", &spam, true),
        ("header('X-Spam') == '^no'", &spam, false),
        ("header('X-Spam')", &inbound(PLAIN), false),
        (
            "header('From') == 'Françoise Dupré'",
            &inbound(ENCODED_SUBJECT),
            true,
        ),
        ("body-size > 2k", &inbound(MULTIPART), true),
        ("body-size < 1k", &inbound(PLAIN), true),
        ("body-contains('usual place')", &inbound(PLAIN), true),
        (
            "body-contains('réunion budgétaire')",
            &inbound(ENCODED_SUBJECT),
            true,
        ),
        ("body-contains('機密')", &inbound(BASE64_TEXT), true),
        ("body-contains('free cruise', 4)", &spam, true),
        ("body-contains('free cruise', 5)", &spam, false),
        (
            "body-contains('total is 1.250 €')",
            &inbound(MULTIPART),
            true,
        ),
        (
            "body-contains('cannot be run in DOS')",
            &inbound(MULTIPART),
            true,
        ),
        (
            "only-body-contains('cannot be run in DOS')",
            &inbound(MULTIPART),
            false,
        ),
        ("only-body-contains('weekly</b>')", &inbound(NESTED), true),
        (
            "attachment-contains('CONFIDENTIAL')",
            &inbound(NESTED),
            true,
        ),
        (
            "only-body-contains('CONFIDENTIAL')",
            &inbound(NESTED),
            false,
        ),
        (
            "attachment-contains('PDF-1\\\\.4')",
            &inbound(MULTIPART),
            true,
        ),
        (
            "attachment-filename == '\\\\.exe$'",
            &inbound(MULTIPART),
            true,
        ),
        ("attachment-filename == '\\\\.png$'", &inbound(NESTED), true),
        (
            "attachment-filename == '\\\\.exe$'",
            &inbound(NESTED),
            false,
        ),
        (
            "attachment-type == 'application/pdf'",
            &inbound(MULTIPART),
            true,
        ),
        ("attachment-type == 'image/*'", &inbound(NESTED), true),
        ("attachment-type == 'image/*'", &inbound(MULTIPART), false),
        ("attachment-size > 300", &inbound(MULTIPART), true),
        ("attachment-size > 1M", &inbound(MULTIPART), false),
        ("date > '05/01/2024 00:00:00'", &inbound(PLAIN), true),
        ("date < '05/14/2024'", &inbound(PLAIN), false),
        ("random(1) == 0", &inbound(PLAIN), true),
        ("random(5) > 9", &inbound(PLAIN), false),
        ("smtp-auth-id-matches('*None')", &inbound(PLAIN), true),
        (
            "smtp-auth-id-matches('*EnvelopeFrom')",
            &inbound(PLAIN),
            false,
        ),
        ("smtp-auth-id-matches('*EnvelopeFrom')", &authed, true),
        ("smtp-auth-id-matches('*FromAddress')", &authed, true),
        (
            "smtp-auth-id-matches('bob@your_domain.com')",
            &authed,
            false,
        ),
        ("addr-count('To', 'Cc') > 30", &spam, true),
        ("addr-count('To') == 20", &spam, true),
        ("addr-count('To', 'Cc') > 30", &inbound(MULTIPART), false),
        ("header-repeats('subject', 1000)", &spam, true),
        ("header-repeats('subject', 1000)", &inbound(PLAIN), false),
        ("dnslist('bl.example.net')", &spam, true),
        ("dnslist('bl.example.net')", &inbound(PLAIN), false),
        // AsyncOS's answer comparison: any of the list's answers.
        ("dnslist('bl.example.net') == '127.0.0.2'", &spam, true),
        ("dnslist('bl.example.net') == '127.0.0.4'", &spam, true),
        ("dnslist('bl.example.net') == '127.0.0.3'", &spam, false),
        ("dnslist('bl.example.net') != '127.0.0.3'", &spam, true),
        ("dnslist('bl.example.net') != '127.0.0.2'", &spam, false),
        (
            "dnslist('bl.example.net') == '127.0.0.2'",
            &inbound(PLAIN),
            false,
        ),
        (
            "dnslist('bl.example.net') != '127.0.0.2'",
            &inbound(PLAIN),
            true,
        ),
        // Not verified (no Authentication-Results of this gateway on top),
        // no LDAP yet: no comparison holds.
        ("spf-status == 'None'", &inbound(PLAIN), false),
        ("spf-status('helo') != 'Pass'", &inbound(PLAIN), false),
        ("spf-passed", &inbound(PLAIN), false),
        ("dkim-authentication == 'none'", &inbound(PLAIN), false),
        ("dkim-authentication != 'pass'", &inbound(PLAIN), false),
        ("rcpt-to-group == 'ExpiredAccounts'", &inbound(PLAIN), false),
        ("not true or (true and not valid)", &inbound(PLAIN), false),
        // Verified: the gateway's own header, on top.
        ("spf-passed", &verified, true),
        ("spf-status == 'Pass'", &verified, true),
        ("spf-status('helo') == 'None, Neutral'", &verified, true),
        (
            "spf-status('mailfrom') != 'Fail, SoftFail'",
            &verified,
            true,
        ),
        ("dkim-authentication == 'hardfail'", &verified, true),
        ("dkim-authentication == 'pass'", &verified, false),
        // The same header from anyone else (another authserv-id, or not
        // on top) is not believed.
        ("spf-passed", &forged, false),
        ("spf-status == 'Pass'", &buried, false),
    ];
    for (rule, ctx, want) in table {
        assert_eq!(matches(rule, ctx), *want, "{rule}");
    }
}

#[test]
fn short_circuit_skips_costlier_rules() {
    struct Panicky;
    impl Lookups for Panicky {
        fn dnslist(&self, _: &str, _: std::net::IpAddr) -> Vec<std::net::IpAddr> {
            panic!("dnslist must not be asked");
        }
    }
    let f = parse("f: if (false_rule_is_not_a_word == 'x') { drop(); }");
    assert!(f.is_err());
    let f = parse("f: if rcpt-count > 100 and dnslist('bl') or true { drop(); }").unwrap();
    let v = evaluate(&f, &inbound(PLAIN), &Panicky, &mut StdRng::seed_from_u64(1));
    assert_eq!(v.final_action, Some(FinalAction::Drop));
}

#[test]
fn accumulation_replacement_final_and_inactive() {
    let script = "
        a: if true { insert-header('X-A', 'one'); bcc('x@y.example'); log-entry('first $MID'); }
        b! if true { drop(); }
        c: if true { insert-header('x-a', 'two'); alt-mailhost('a.example'); alt-mailhost('b.example'); }
        d: if true { bcc('audit@y.example'); skip-filters(); tag-message('never'); }
        e: if true { drop(); }
    ";
    let ctx = inbound(PLAIN);
    let v = run(script, &ctx);
    assert_eq!(v.final_action, Some(FinalAction::SkipFilters));
    assert_eq!(v.final_filter.as_deref(), Some("d"));
    let kinds: Vec<(&str, &ActionKind)> = v
        .actions
        .iter()
        .map(|a| (a.filter.as_str(), &a.kind))
        .collect();
    assert_eq!(kinds.len(), 5, "{kinds:#?}");
    assert!(matches!(kinds[1], ("a", ActionKind::LogEntry { text }) if text == "first 94011"));
    assert!(matches!(kinds[2], ("c", ActionKind::InsertHeader { value, .. }) if value == "two"));
    assert!(matches!(kinds[3], ("c", ActionKind::AltMailhost { host }) if host == "b.example"));
    assert_eq!(
        v.actions[1].kind.log_line(ctx.mid).as_deref(),
        Some("MID 94011 Custom Log Entry: first 94011")
    );
    // Detailed trace: conditions, inactive, not reached.
    let t = trace(
        &parse(script).unwrap(),
        &ctx,
        &TestLookups,
        &mut StdRng::seed_from_u64(1),
    );
    let lines: Vec<String> = t.trace.iter().map(|l| l.to_string()).collect();
    assert!(
        lines.contains(&"Filter 'b': inactive, skipped".to_string()),
        "{lines:#?}"
    );
    assert!(lines.contains(&"Filter 'a': (true) is true".to_string()));
    assert!(lines.contains(&"Filter 'd': final action skip-filters()".to_string()));
    assert_eq!(
        lines.last().map(String::as_str),
        Some("Filter 'e': not reached")
    );
    assert!(matches!(
        t.trace[0].event,
        TraceEvent::Condition { result: true, .. }
    ));
}

#[test]
fn variables_expand_in_external_actions() {
    let v = run(
        "v: if true { notify('admin@your_domain.com', '[$FilterName] $Subject from $RemoteIP', \
         '', 'tmpl'); archive('$RecvListener'); bcc('x@y.example', '$Header[\"X-Mailer\"] \
         $EnvelopeFrom -> $EnvelopeRecipients via $remotehost $Policy $Hostname $RecvInt \
         $FromAddress $BodySize $Time $Date $Timestamp $MID'); }",
        &inbound(NESTED),
    );
    let ActionKind::Copy { subject, .. } = &v.actions[0].kind else {
        panic!()
    };
    assert_eq!(
        subject.as_deref(),
        Some("[v] Your weekly report from 203.0.113.7")
    );
    assert_eq!(
        v.actions[1].kind,
        ActionKind::Archive {
            mbox: "IncomingMail".into()
        }
    );
    let ActionKind::Copy { subject, .. } = &v.actions[2].kind else {
        panic!()
    };
    assert_eq!(
        subject.as_deref(),
        Some(
            "BulkMailer 5.2 bob@sender.example.org -> alice@your_domain.com via \
             mail.sender.example.org DEFAULT esa1.your_domain.com Data1 report@news.example.net \
             1479 13:54:19 05/14/2024 Tue, 14 May 2024 13:54:19 +0000 94011"
        )
    );
}

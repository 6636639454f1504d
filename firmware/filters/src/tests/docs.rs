//! Filters in the shape the AsyncOS Advanced User Guide publishes them
//! (written from the guide's examples, laid out as the guide lays them out),
//! with the behaviour the guide describes.

use super::*;
use crate::{ActionKind, FinalAction};

/// (script, context, expected final action, expected action keywords)
type Case<'a> = (
    &'a str,
    MessageContext<'a>,
    Option<FinalAction>,
    &'a [&'a str],
);

#[test]
fn guide_examples_parse_and_behave() {
    let mut big = inbound(MULTIPART);
    big.recipients = (0..51).map(|i| format!("u{i}@your_domain.com")).collect();
    let mut internal = inbound(PLAIN);
    internal.sender_group = Some("Internal".into());
    let mut admin = inbound(PLAIN);
    admin.envelope_sender = "admin@yourdomain.com".into();
    let mut blocked = inbound(SPAM);
    blocked.remote_ip = "203.0.113.200".parse().unwrap();

    let cases: Vec<Case<'_>> = vec![
        (
            "expedite:\nif (recv-listener == 'InboundMail' or recv-int == 'notmain')\n{\n    \
             alt-src-host('outbound1');\n    skip-filters();\n}\nelse\n{\n    alt-src-host('outbound2');\n}\n",
            inbound(PLAIN),
            None,
            &["alt-src-host outbound2"],
        ),
        (
            "kremFilter:\n   if (mail-from == '^admin@yourdomain\\\\.com$')\n   {\n skip_filters();\n   }\n",
            admin,
            Some(FinalAction::SkipFilters),
            &[],
        ),
        (
            "senderGroupFilter:\n      if (sendergroup == \"Internal\")\n      {\n        \
             alt-mailhost(\"[172.17.0.1]\");\n      }\n",
            internal,
            None,
            &["alt-mailhost [172.17.0.1]"],
        ),
        (
            "BigFilter:\nif (body-size > 5M)\n{\nbounce();\n}\n",
            inbound(MULTIPART),
            None,
            &[],
        ),
        (
            "BigFilter: if (body-size > 2K) { bounce(); }",
            inbound(MULTIPART),
            Some(FinalAction::Bounce),
            &[],
        ),
        (
            "block_exe: if (attachment-filename == '\\\\.exe$') { drop(); }",
            inbound(MULTIPART),
            Some(FinalAction::Drop),
            &[],
        ),
        (
            "tooMany: if (rcpt-count > 50) { bounce(); }",
            big,
            Some(FinalAction::Bounce),
            &[],
        ),
        (
            "spamHeader: if (header('X-Spam') == '^yes') { quarantine('Policy'); }",
            inbound(SPAM),
            None,
            &["quarantine Policy"],
        ),
        (
            "notOutgoing: if not (recv-listener == 'OutgoingMail') { insert-header('X-Inbound', 'true'); }",
            inbound(PLAIN),
            None,
            &["insert-header X-Inbound"],
        ),
        (
            "notOutgoing: if not (recv-listener == 'OutgoingMail') { insert-header('X-Inbound', 'true'); }",
            outbound(SEED_OK),
            None,
            &[],
        ),
        (
            "scanSubject: if (subject == '(?i)won a free') { drop(); }",
            inbound(SPAM),
            Some(FinalAction::Drop),
            &[],
        ),
        (
            "Remove_SPAM_Tag: if (subject == '^\\\\[SPAM\\\\]') { edit-header-text('Subject', '^\\\\[SPAM\\\\]\\\\s*', ''); }",
            inbound(PLAIN),
            None,
            &[],
        ),
        (
            "bccFilter: if (true) { bcc('legal@example.com', 'Copy of $Subject', 'return_path@example.com'); }",
            inbound(PLAIN),
            None,
            &["bcc legal@example.com"],
        ),
        (
            "rbl: if (dnslist('bl.example.net')) { drop(); }",
            blocked,
            Some(FinalAction::Drop),
            &[],
        ),
        (
            "repeats: if (header-repeats('subject', 1000)) { quarantine('Policy'); }",
            inbound(SPAM),
            None,
            &["quarantine Policy"],
        ),
        (
            "manyAddrs: if (addr-count('To', 'Cc') > 30) { log-entry('too many addresses'); }",
            inbound(SPAM),
            None,
            &["log-entry too many addresses"],
        ),
        (
            "localnet: if (remote-ip == '203.0.113.1-10') { skip-spamcheck(); }",
            inbound(PLAIN),
            None,
            &["skip-spamcheck"],
        ),
        (
            "Msg_Authentication: if (sendergroup == \"RELAY_O365\") {\n  \
             if smtp-auth-id-matches(\"*None\") { no-op(); } else { drop(); }\n}",
            outbound(SEED_OK),
            None,
            &[],
        ),
    ];
    for (script, ctx, final_action, want) in &cases {
        let v = run(script, ctx);
        assert_eq!(v.final_action, *final_action, "{script}");
        let got: Vec<String> = v.actions.iter().map(|a| describe(&a.kind)).collect();
        assert_eq!(got, *want, "{script}");
    }
}

fn describe(k: &ActionKind) -> String {
    match k {
        ActionKind::AltSrcHost { interface } => format!("alt-src-host {interface}"),
        ActionKind::AltMailhost { host } => format!("alt-mailhost {host}"),
        ActionKind::Quarantine { name } => format!("quarantine {name}"),
        ActionKind::InsertHeader { name, .. } => format!("insert-header {name}"),
        ActionKind::Copy { kind, to, .. } => format!("{} {to}", kind.keyword()),
        ActionKind::LogEntry { text } => format!("log-entry {text}"),
        ActionKind::SkipSpamcheck => "skip-spamcheck".into(),
        other => format!("{other:?}"),
    }
}

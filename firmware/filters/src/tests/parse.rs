//! Parser, printer and error positions.

use proptest::prelude::*;

use crate::{
    Action, CmpOp, Condition, ContainsScope, CopyKind, Filter, FinalAction, IfChain, MatchOp,
    Pattern, SizeField, Stmt, TextField, parse, print_script,
};

const SEED: &str = r#"office365_outbound: if sendergroup == "RELAYLIST" {
if header("X-OUTBOUND-AUTH") == "^mysecretkey$" {
strip-header("X-OUTBOUND-AUTH");
} else {
drop();
}
}
.
"#;

#[test]
fn seed_parses_and_prints_canonically() {
    let filters = parse(SEED).unwrap();
    assert_eq!(filters.len(), 1);
    assert_eq!(filters[0].name, "office365_outbound");
    assert!(filters[0].active);
    let printed = print_script(&filters);
    assert_eq!(
        printed,
        "office365_outbound: if (sendergroup == \"RELAYLIST\") {\n    \
         if (header(\"X-OUTBOUND-AUTH\") == \"^mysecretkey$\") {\n        \
         strip-header(\"X-OUTBOUND-AUTH\");\n    } else {\n        drop();\n    }\n}\n"
    );
    assert_eq!(parse(&printed).unwrap(), filters);
}

/// Every condition and action of issue 5, in one script.
const EVERYTHING: &str = r#"
# comments are ignored
all_rules: if true and valid and subject == '(?i)invoice' and mail-from != '@spam\\.example$'
  AND rcpt-to == '@your_domain\\.com$' and rcpt-count <= 50 and sendergroup == 'RELAY_O365'
  and recv-listener == 'OutgoingMail' and recv-int != 'Data1'
  and remote-ip == '10.0.0.0/8, 192.168.1.1-20, 172.16., 2001:db8::/32'
  and header('X-Spam') and header('X-Spam') == '^yes' and body-size > 10M
  and body-contains('confidential') and body-contains('secret', 3) and body-contains(2, 'x')
  and only-body-contains('draft') and attachment-filename == '\\.exe$'
  and attachment-type == 'image/*' and attachment-size >= 512k
  and attachment-contains('password') and date > '01/01/2024 00:00:00'
  and random(10) < 5 and random(4) and smtp-auth-id-matches('*EnvelopeFrom', '+')
  and addr-count('To', 'Cc') > 30 and header-repeats('subject', 1000, 'incoming')
  and dnslist('bl.example.net') and dnslist('zen.example.org') == '127.0.0.2'
  and dnslist('zen.example.org') != '::1' and spf-status == 'Pass' and dkim-authentication != 'fail'
  or NOT (recv-listener == 'IncomingMail') {
    strip-header('X-Internal'); insert-header('X-Scanned', 'yes $MID');
    edit-header-text('Subject', '^(.*)$', '[EXT] \\1'); edit-body-text('secret', '******');
    add-footer('-- scanned by $Hostname'); drop-attachments-by-name('\\.exe$', 'removed');
    alt-rcpt-to('security@your_domain.com'); alt-mailhost('[172.17.0.1]'); alt-src-host('Data2');
    bcc('audit@your_domain.com', 'copy of $Subject', 'bounce@your_domain.com');
    bcc-scan('scan@your_domain.com'); notify('admin@your_domain.com', 'Filter $FilterName');
    notify-copy('admin@your_domain.com'); archive('suspicious'); quarantine('Policy');
    duplicate-quarantine('Virus'); log-entry('saw $MID'); tag-message('tagged');
    bounce-profile('fast'); skip-spamcheck(); skip-viruscheck(); no-op();
} elif (true) { deliver(); } else if true { skip_filters(); } else { bounce(); }
inactive_one! if (rcpt-count > 1) { drop(); }
"#;

#[test]
fn every_rule_and_action_parses_and_round_trips() {
    let filters = parse(EVERYTHING).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(filters.len(), 2);
    assert!(!filters[1].active);
    let Stmt::If(chain) = &filters[0].body[0] else {
        panic!("not an if");
    };
    assert_eq!(chain.branches.len(), 3);
    assert_eq!(chain.branches[0].1.len(), 22);
    let printed = print_script(&filters);
    assert_eq!(parse(&printed).unwrap(), filters, "{printed}");
}

#[test]
fn errors_report_line_column_and_word() {
    let cases: &[(&str, usize, usize, &str)] = &[
        (
            "f: if sendrgroup == 'X' { drop(); }",
            1,
            7,
            "unknown condition 'sendrgroup'",
        ),
        (
            "f: if true {\n  explode();\n}",
            2,
            3,
            "unknown action 'explode'",
        ),
        ("f: if true { encrypt('x'); }", 1, 14, "not supported"),
        ("f: if true { drop() }", 1, 21, "expected ';'"),
        (
            "f: if (subject == '(a)\\1') { drop(); }",
            1,
            19,
            "back-reference",
        ),
        (
            "f: if subject == 'x(?=y)' { drop(); }",
            1,
            18,
            "look-around",
        ),
        (
            "f: if subject == '(' { drop(); }",
            1,
            18,
            "invalid regular expression",
        ),
        ("f: if rcpt-count > 10Q { drop(); }", 1, 20, "suffix"),
        (
            "f: if rcpt-count ~ 1 { drop(); }",
            1,
            18,
            "unexpected character",
        ),
        ("f: if subject > 'x' { drop(); }", 1, 15, "'=='"),
        (
            "f: if remote-ip == '10.0.0.300' { drop(); }",
            1,
            20,
            "remote-ip",
        ),
        (
            "f: if true { strip-header('A', 'B'); }",
            1,
            14,
            "takes 1 argument",
        ),
        (
            "f: if true { drop(); }\nf: if true { drop(); }",
            2,
            1,
            "duplicate filter name",
        ),
        ("if: if true { drop(); }", 1, 1, "reserved"),
        (
            "f: if subject == 'unterminated { drop(); }",
            1,
            18,
            "unterminated",
        ),
        ("f: if true { drop();", 1, 21, "missing '}'"),
        (
            "f: if date < '13/45/2024' { drop(); }",
            1,
            14,
            "invalid date",
        ),
        (
            "f: if spf-status == 'Maybe' { drop(); }",
            1,
            21,
            "is not one of",
        ),
        (
            "f: if dnslist('bl.example.net') == 'listed' { drop(); }",
            1,
            36,
            "not 'listed'",
        ),
        ("f if true { drop(); }", 1, 3, "expected ':'"),
        ("", 1, 1, "no filter"),
    ];
    for (src, line, column, needle) in cases {
        let e = parse(src).expect_err(src);
        assert_eq!((e.line, e.column), (*line, *column), "{src}: {e}");
        assert!(e.message.contains(needle), "{src}: {}", e.message);
    }
}

#[test]
fn error_display_points_under_the_token() {
    let e = parse("f: if true {\n  if sendrgroup == 'X' { drop(); }\n}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 2, column 6: unknown condition 'sendrgroup'\n    if sendrgroup == 'X' { drop(); }\n       ^"
    );
}

#[test]
fn nesting_is_bounded() {
    let deep = format!(
        "f: if {}true{} {{ drop(); }}",
        "(".repeat(500),
        ")".repeat(500)
    );
    assert!(parse(&deep).unwrap_err().message.contains("nesting"));
    let nots = format!("f: if {}true {{ drop(); }}", "not ".repeat(500));
    assert!(parse(&nots).is_err());
}

#[test]
fn dot_line_ends_the_script_and_escapes_work() {
    let f =
        parse("a: if subject == 'it\\'s \\\\d' { drop(); }\n.\ngarbage that is ignored {").unwrap();
    let Stmt::If(chain) = &f[0].body[0] else {
        panic!()
    };
    let Condition::Text(_, _, p) = &chain.branches[0].0 else {
        panic!()
    };
    assert_eq!(p.source(), "it's \\d");
}

fn ident() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,8}".prop_filter("reserved", |s| {
        ![
            "if", "elif", "else", "and", "or", "not", "true", "false", "valid",
        ]
        .contains(&s.as_str())
    })
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 .@\\\\\"'$_-]{0,12}"
}

fn regex_src() -> impl Strategy<Value = String> {
    "[a-z0-9 @^$]{1,10}"
}

fn leaf() -> impl Strategy<Value = Condition> {
    let op = prop_oneof![Just(MatchOp::Eq), Just(MatchOp::Ne)];
    let cmp = prop_oneof![
        Just(CmpOp::Lt),
        Just(CmpOp::Le),
        Just(CmpOp::Gt),
        Just(CmpOp::Ge),
        Just(CmpOp::Eq),
        Just(CmpOp::Ne)
    ];
    let field = prop_oneof![
        Just((TextField::Subject, true)),
        Just((TextField::MailFrom, true)),
        Just((TextField::RcptTo, true)),
        Just((TextField::SenderGroup, false)),
        Just((TextField::AttachmentFilename, true)),
    ];
    prop_oneof![
        Just(Condition::True),
        Just(Condition::Valid),
        (field, op.clone(), regex_src()).prop_map(|((f, ci), o, r)| {
            Condition::Text(f, o, Pattern::new(&r, ci).expect("simple regex"))
        }),
        (op.clone(), text()).prop_map(|(o, n)| Condition::RecvListener(o, n)),
        ("[A-Za-z-]{1,10}", proptest::option::of((op, regex_src()))).prop_map(|(n, t)| {
            Condition::Header {
                name: n,
                test: t.map(|(o, r)| (o, Pattern::new(&r, true).expect("simple regex"))),
            }
        }),
        (cmp.clone(), 0u64..1 << 40).prop_map(|(c, n)| Condition::Size(SizeField::BodySize, c, n)),
        (regex_src(), 1u32..5).prop_map(|(r, min)| Condition::Contains {
            scope: ContainsScope::OnlyBody,
            pattern: Pattern::new(&r, true).expect("simple regex"),
            min,
        }),
        (1u64..100, proptest::option::of((cmp, 0u64..100)))
            .prop_map(|(range, cmp)| Condition::Random { range, cmp }),
    ]
}

fn condition() -> impl Strategy<Value = Condition> {
    leaf().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| Condition::Not(Box::new(c))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| Condition::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Condition::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Final(FinalAction::Drop)),
        Just(Action::Final(FinalAction::SkipFilters)),
        Just(Action::NoOp),
        "[A-Za-z-]{1,10}".prop_map(Action::StripHeader),
        ("[A-Za-z-]{1,10}", text()).prop_map(|(name, value)| Action::InsertHeader { name, value }),
        text().prop_map(Action::LogEntry),
        (text(), proptest::collection::vec(text(), 0..3)).prop_map(|(to, extra)| Action::Copy {
            kind: CopyKind::Bcc,
            to,
            extra
        }),
    ]
}

fn stmts() -> impl Strategy<Value = Vec<Stmt>> {
    let leaf = action().prop_map(Stmt::Action);
    let stmt = leaf.prop_recursive(3, 12, 3, |inner| {
        (
            proptest::collection::vec(
                (condition(), proptest::collection::vec(inner.clone(), 0..3)),
                1..3,
            ),
            proptest::option::of(proptest::collection::vec(inner, 0..3)),
        )
            .prop_map(|(branches, otherwise)| {
                Stmt::If(IfChain {
                    branches,
                    otherwise,
                })
            })
    });
    proptest::collection::vec(stmt, 1..3)
}

proptest! {
    #[test]
    fn print_then_parse_is_identity(
        filters in proptest::collection::vec((ident(), any::<bool>(), stmts()), 1..4)
    ) {
        let mut seen = std::collections::HashSet::new();
        let filters: Vec<Filter> = filters
            .into_iter()
            .filter(|(n, _, _)| seen.insert(n.clone()))
            .map(|(name, active, body)| Filter { name, active, body })
            .collect();
        let printed = print_script(&filters);
        let reparsed = parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed}\n{e}")))?;
        prop_assert_eq!(reparsed, filters);
    }

    #[test]
    fn parser_never_panics(src in "\\PC{0,200}") {
        let _ = parse(&src);
    }
}

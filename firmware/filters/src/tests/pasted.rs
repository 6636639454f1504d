//! Filters as AsyncOS administrators paste them (several lines, comments,
//! both quotes, trailing blanks, CRLF, the console's `.`), and the AsyncOS
//! rules and actions Breakwater does not carry out: each is refused with
//! its reason, never as a typo.

use crate::unsupported::{Kind, Stage, UNSUPPORTED};
use crate::{Condition, GroupField, MatchOp, Stmt, parse, print_script, refusals};

/// The seeds' filter, as the French walkthrough prints it.
const SEED_FR: &str = "office365_outbound: if sendergroup == \"RELAYLIST\" {
if header(\"X-OUTBOUND-AUTH\") == \"^mysecretkey$\" {
strip-header(\"X-OUTBOUND-AUTH\");
} else {
drop();
}
}
.
";

/// The same filter as the Chinese walkthrough prints it: indented, with
/// the two trailing blanks of its Markdown line breaks.
const SEED_ZH: &str = "office365_outbound: if sendergroup == \"RELAYLIST\" {  
  if header(\"X-OUTBOUND-AUTH\") == \"^mysecretkey$\" {  
    strip-header(\"X-OUTBOUND-AUTH\");  
  } else {  
    drop();  
  }  
}
";

/// The AsyncOS guide's SPF examples, laid out as the guide lays them out.
const GUIDE_SPF: &str = r#"skip-spam-check-for-verified-senders:
     if (sendergroup == "TRUSTED" and spf-status == "Pass"){
         skip-spamcheck();
     }
quarantine-spf-failed-mail:
     if (spf-status("pra") == "Fail") {
         if (spf-status("mailfrom") == "Fail"){
             # completely malicious mail
             quarantine("Policy");
         } else {
           if(spf-status("mailfrom") == "SoftFail") {
             # malicious mail, but tempting
             quarantine("Policy");
           }
         }
     } else {
       if(spf-status("pra") == "SoftFail"){
         if (spf-status("mailfrom") == "Fail"
              or spf-status("mailfrom") == "SoftFail"){
           # malicious mail, but tempting
           quarantine("Policy");
         }
       }
     }
quarantine-spf-unauthorized-mail:
    if (not spf-passed) {
        quarantine("Policy");
    }
"#;

/// (what, script, filter names)
const PASTED: &[(&str, &str, &[&str])] = &[
    ("seed, French walkthrough", SEED_FR, &["office365_outbound"]),
    (
        "seed, Chinese walkthrough",
        SEED_ZH,
        &["office365_outbound"],
    ),
    (
        "the AsyncOS guide's SPF filters",
        GUIDE_SPF,
        &[
            "skip-spam-check-for-verified-senders",
            "quarantine-spf-failed-mail",
            "quarantine-spf-unauthorized-mail",
        ],
    ),
    (
        "issue 18: an SPF identity",
        "helo_fail: if spf-status(\"helo\") == \"Fail\" { drop(); }",
        &["helo_fail"],
    ),
    (
        "several results in one string",
        "spf_errors:\n  if (spf-status == \"PermError, TempError\") {\n    quarantine('Policy');\n  }\n",
        &["spf_errors"],
    ),
    (
        "LDAP groups, single quotes",
        "expiredFilter:\n   if (rcpt-to-group == 'ExpiredAccounts')\n   {\n        drop();\n   }\n\
         execs: if mail-from-group != 'Executives' { log-entry('not an executive'); }\n",
        &["expiredFilter", "execs"],
    ),
    (
        "DKIM, a comment after the code, an inactive filter",
        "# DKIM failures to the Policy quarantine\n\
         dkim_fail! if (dkim-authentication == 'hardfail') { # AsyncOS's permfail\n\
         \tquarantine(\"Policy\");\n}\n.\nignored after the dot\n",
        &["dkim_fail"],
    ),
    (
        "quotes inside quotes, escapes, underscores for dashes",
        "tag_it: if (subject == \"it's \\\"urgent\\\"\" or header('X-Note') == 'say \"hi\"') {\n\
         \x20 insert-header('X-Tag', \"it's\");\n  skip_filters();\n}\n",
        &["tag_it"],
    ),
];

#[test]
fn pasted_filters_parse_and_print_back() {
    for (what, script, names) in PASTED {
        let filters = parse(script).unwrap_or_else(|e| panic!("{what}:\n{e}"));
        let got: Vec<&str> = filters.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(&got, names, "{what}");
        let printed = print_script(&filters);
        assert_eq!(parse(&printed).as_ref(), Ok(&filters), "{what}:\n{printed}");
        // Pasted through a console that sends CRLF: the same filters.
        let crlf = script.replace('\n', "\r\n");
        assert_eq!(parse(&crlf).as_ref(), Ok(&filters), "{what}, CRLF");
    }
}

#[test]
fn both_seed_layouts_are_the_same_filter() {
    assert_eq!(parse(SEED_FR), parse(SEED_ZH));
}

#[test]
fn spf_status_keeps_identity_and_results() {
    let f = parse("f: if spf-status('helo') != 'Fail, SoftFail' { drop(); }").unwrap();
    let Stmt::If(chain) = &f[0].body[0] else {
        panic!("not an if: {:?}", f[0].body);
    };
    assert_eq!(
        chain.branches[0].0,
        Condition::SpfStatus {
            identity: Some("helo".into()),
            op: MatchOp::Ne,
            results: "Fail, SoftFail".into(),
        }
    );
    assert!(
        print_script(&f).contains("spf-status(\"helo\") != \"Fail, SoftFail\""),
        "{}",
        print_script(&f)
    );
    let g = parse("g: if rcpt-to-group == 'ExpiredAccounts' { drop(); }").unwrap();
    let Stmt::If(chain) = &g[0].body[0] else {
        panic!("not an if");
    };
    assert_eq!(
        chain.branches[0].0,
        Condition::LdapGroup {
            field: GroupField::RcptTo,
            op: MatchOp::Eq,
            group: "ExpiredAccounts".into(),
        }
    );
}

/// A script using `example` where AsyncOS allows it.
fn script_for(kind: Kind, example: &str) -> String {
    match kind {
        Kind::Rule => format!("f: if ({example}) {{ drop(); }}"),
        Kind::Action => format!("f: if true {{ {example}; }}"),
    }
}

#[test]
fn every_unsupported_name_is_refused_with_its_reason() {
    for u in UNSUPPORTED {
        let src = script_for(u.kind, u.example);
        match u.stage {
            Stage::Parse => {
                let e = parse(&src).expect_err(&src);
                assert_eq!(e.message, u.message(), "{src}");
                assert!(
                    e.message
                        .contains(&format!("is not supported: {}", u.reason)),
                    "{src}: {}",
                    e.message
                );
                let at = src.find(u.example).expect("example in script") + 1;
                assert_eq!((e.line, e.column), (1, at), "{src}: {e}");
            }
            Stage::Commit => {
                let filters = parse(&src).unwrap_or_else(|e| panic!("{src}\n{e}"));
                let printed = print_script(&filters);
                assert_eq!(parse(&printed).as_ref(), Ok(&filters), "{printed}");
                let r = refusals(&filters);
                assert_eq!(r.len(), 1, "{src}: {r:?}");
                assert_eq!(r[0].to_string(), u.message(), "{src}");
            }
        }
    }
}

#[test]
fn unsupported_names_are_the_asyncos_names_once_each() {
    for (i, u) in UNSUPPORTED.iter().enumerate() {
        assert!(
            !UNSUPPORTED[..i]
                .iter()
                .any(|v| v.name == u.name && v.kind == u.kind),
            "{} twice",
            u.name
        );
        assert_eq!(
            crate::parser::keyword(u.example.split(['(', ' ']).next().unwrap_or("")),
            u.name,
            "the example of {} uses it",
            u.name
        );
    }
}

#[test]
fn malformed_uses_of_unsupported_names_are_syntax_errors() {
    let cases: &[(&str, &str)] = &[
        ("f: if true { encrypt; }", "expected '(' after 'encrypt'"),
        (
            "f: if true { skip-vofcheck('x'); }",
            "'skip-vofcheck' takes 0 argument(s), found 1",
        ),
        (
            "f: if attachment-filetype > 'exe' { drop(); }",
            "'attachment-filetype' takes '==' or '!='",
        ),
        (
            "f: if attachment-filetype == exe { drop(); }",
            "expected a value (a quoted string)",
        ),
        (
            "f: if workqueue-count > 'many' { drop(); }",
            "expected a number",
        ),
        (
            "f: if url-category(['a', ['b']]) { drop(); }",
            "expected a number",
        ),
        ("f: if geolocation-rule(['Cuba' { drop(); }", "expected ']'"),
        (
            "f: if header-dictionary-match('d') { drop(); }",
            "takes 2 to 3 argument(s), found 1",
        ),
    ];
    for (src, needle) in cases {
        let e = parse(src).expect_err(src);
        assert!(e.message.contains(needle), "{src}: {}", e.message);
        assert!(!e.message.contains("not supported"), "{src}: {}", e.message);
    }
}

#[test]
fn typos_are_still_unknown() {
    let cases: &[(&str, &str)] = &[
        (
            "f: if true { skip-vofchek(); }",
            "unknown action 'skip-vofchek'",
        ),
        (
            "f: if true { encrpyt('CRES'); }",
            "unknown action 'encrpyt'",
        ),
        (
            "f: if attachment-filetyp == 'exe' { drop(); }",
            "unknown condition 'attachment-filetyp'",
        ),
    ];
    for (src, want) in cases {
        let e = parse(src).expect_err(src);
        assert_eq!(e.message, *want, "{src}");
    }
}

#[test]
fn spf_status_errors_say_what_asyncos_takes() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "f: if spf-status('smtp') == 'Fail' { drop(); }",
            18,
            "'spf-status' identity must be one of mailfrom, helo, pra",
        ),
        (
            "f: if spf-status == 'Fail, Maybe' { drop(); }",
            21,
            "'spf-status' result 'Maybe' is not one of",
        ),
        (
            "f: if spf-status == \"Fail\", \"SoftFail\" { drop(); }",
            27,
            "list the results in one string",
        ),
        (
            "f: if spf-status('helo') { drop(); }",
            26,
            "'spf-status' takes '==' or '!='",
        ),
        (
            "f: if dkim-authentication == 'permfail' { drop(); }",
            30,
            "'dkim-authentication' result must be one of",
        ),
    ];
    for (src, column, needle) in cases {
        let e = parse(src).expect_err(src);
        assert_eq!((e.line, e.column), (1, *column), "{src}: {e}");
        assert!(e.message.contains(needle), "{src}: {}", e.message);
    }
}

#[test]
fn refusals_name_each_rule_once_per_filter() {
    let filters = parse(GUIDE_SPF).unwrap();
    let got: Vec<(String, &str)> = refusals(&filters)
        .into_iter()
        .map(|r| (r.filter, r.rule))
        .collect();
    // The sender authentication rules are evaluated (issue 17).
    assert_eq!(got, Vec::<(String, &str)>::new());
    let ldap = parse("g: if rcpt-to-group == 'ExpiredAccounts' { drop(); }").unwrap();
    assert_eq!(
        refusals(&ldap)[0].to_string(),
        "rule 'rcpt-to-group' is not supported: no LDAP server is configured (ldapconfig)"
    );
    assert!(refusals(&parse(SEED_FR).unwrap()).is_empty());
}

/// docs/filters.md lists the table: every name with its reason.
#[test]
fn the_documentation_lists_every_unsupported_name() {
    const DOC: &str = include_str!("../../../../docs/filters.md");
    let section = DOC
        .split("## Rules and actions not supported, and why")
        .nth(1)
        .expect("docs/filters.md has the section")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    for u in UNSUPPORTED {
        let row = section
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", u.name)))
            .unwrap_or_else(|| panic!("docs/filters.md: no row for {}", u.name));
        assert!(
            row.contains(u.reason),
            "docs/filters.md: the row of {} does not give its reason:\n{row}",
            u.name
        );
    }
}

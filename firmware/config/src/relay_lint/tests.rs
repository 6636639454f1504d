use super::super::factory::dev_factory_for_tests;
use super::super::hat::HatMember;
use super::super::{Config, SenderGroup};
use super::*;
use crate::filters::parse;

/// The seeds' filter, with the sender group it names.
fn seed_filter(group: &str) -> String {
    format!(
        "office365_outbound: if sendergroup == \"{group}\" {{\n  if header(\"X-OUTBOUND-AUTH\") == \"^mysecretkey$\" {{\n    strip-header(\"X-OUTBOUND-AUTH\");\n  }} else {{\n    drop();\n  }}\n}}\n"
    )
}

fn outgoing(cfg: &mut Config) -> &mut ListenerConfig {
    cfg.listener_mut("OutgoingMail").expect("factory listener")
}

/// Members for a group of the factory's OutgoingMail (created at the end
/// of the HAT, before ALL, if it is new), as `hostaccess new` does.
fn add(cfg: &mut Config, group: &str, members: &[&str]) {
    let l = outgoing(cfg);
    let members = members.iter().map(|m| HatMember::from(*m));
    match l.hat.iter_mut().find(|g| g.name == group) {
        Some(g) => g.members.extend(members),
        None => {
            let at = l.hat.len() - 1;
            l.hat.insert(
                at,
                SenderGroup {
                    name: group.into(),
                    members: members.collect(),
                    policy: "RELAYED".into(),
                },
            );
        }
    }
}

fn lint_with(cfg: &Config, script: &str) -> Vec<String> {
    let filters = parse(script).expect("script parses");
    lint(cfg, &filters)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_seeds_pitfall_relaylist_holds_outlook_and_the_filter_checks_relay_o365() {
    // systemsetup put .protection.outlook.com into the factory RELAYLIST;
    // the guide's RELAY_O365 came later, below it; the filter names it.
    let mut cfg = dev_factory_for_tests();
    add(&mut cfg, "RELAYLIST", &[".protection.outlook.com"]);
    add(&mut cfg, "RELAY_O365", &[".protection.outlook.com"]);
    let found = lint_with(&cfg, &seed_filter("RELAY_O365"));
    assert_eq!(
        found,
        [
            "filter 'office365_outbound' checks sendergroup RELAY_O365, which never matches on \
             OutgoingMail: RELAYLIST (order 1) has the same members and comes first",
            "OutgoingMail relays for sender group RELAYLIST, whose member .protection.outlook.com \
             matches the servers of every Microsoft 365 tenant, and no active filter checks a \
             secret header for RELAYLIST (see \"Guard the relay\" in docs/microsoft-365.md)",
        ]
    );
    // The filter written for RELAYLIST guards it, and says nothing about
    // the dead RELAY_O365 it does not name.
    assert!(lint_with(&cfg, &seed_filter("RELAYLIST")).is_empty());
}

#[test]
fn the_seeds_pitfall_the_filter_checks_the_empty_factory_relaylist() {
    // The guide's order: RELAY_O365 holds the tenants, the filter was
    // pasted as the seed writes it, naming the factory's empty RELAYLIST.
    let mut cfg = dev_factory_for_tests();
    add(&mut cfg, "RELAY_O365", &[".protection.outlook.com"]);
    let found = lint_with(&cfg, &seed_filter("RELAYLIST"));
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(
        found[0],
        "filter 'office365_outbound' checks sendergroup RELAYLIST, which never matches on \
         OutgoingMail: RELAYLIST has no members; the hosts OutgoingMail relays for are in RELAY_O365"
    );
    assert!(
        found[1].starts_with("OutgoingMail relays for sender group RELAY_O365,"),
        "{found:?}"
    );
}

#[test]
fn a_correct_setup_yields_nothing() {
    let mut cfg = dev_factory_for_tests();
    add(&mut cfg, "RELAY_O365", &[".protection.outlook.com"]);
    assert!(lint_with(&cfg, &seed_filter("RELAY_O365")).is_empty());
    // Relaying for addresses only needs no secret.
    let mut cfg = dev_factory_for_tests();
    add(&mut cfg, "RELAYLIST", &["10.0.0.0/8"]);
    assert!(lint(&cfg, &[]).is_empty());
    // The factory itself: nothing relays, nothing to say.
    assert!(lint(&dev_factory_for_tests(), &[]).is_empty());
}

#[test]
fn an_unknown_group_is_left_to_validate_and_the_relay_stays_unguarded() {
    let mut cfg = dev_factory_for_tests();
    add(
        &mut cfg,
        "RELAYLIST",
        &["10.0.0.0/8", ".outbound.protection.outlook.com"],
    );
    let found = lint_with(&cfg, &seed_filter("RELAY_0365"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with(
            "OutgoingMail relays for sender group RELAYLIST, whose member .outbound.protection.outlook.com"
        ),
        "{found:?}"
    );
    let filters = parse(&seed_filter("RELAY_0365")).unwrap();
    let names = crate::filters::KnownNames {
        sender_groups: vec!["RELAYLIST".into(), "ALL".into()],
        ..Default::default()
    };
    assert_eq!(crate::filters::validate(&filters, &names).len(), 1);
}

#[test]
fn an_inactive_or_unrelated_filter_does_not_guard() {
    let mut cfg = dev_factory_for_tests();
    add(&mut cfg, "RELAYLIST", &[".protection.outlook.com"]);
    let inactive = seed_filter("RELAYLIST").replacen(':', "!", 1);
    assert_eq!(lint_with(&cfg, &inactive).len(), 1);
    // Presence only, a pattern that matches anything, no drop: no check.
    for script in [
        "f: if sendergroup == 'RELAYLIST' { if header('X-OUTBOUND-AUTH') { strip-header('X-OUTBOUND-AUTH'); } else { drop(); } }",
        "f: if sendergroup == 'RELAYLIST' { if header('X-OUTBOUND-AUTH') == '.*' { strip-header('X-OUTBOUND-AUTH'); } else { drop(); } }",
        "f: if sendergroup == 'RELAYLIST' { if header('X-OUTBOUND-AUTH') == '^s3cret$' { strip-header('X-OUTBOUND-AUTH'); } else { log-entry('no secret'); } }",
        "f: if remote-ip == '10.0.0.0/8' { if header('X-A') != '^s3cret$' { drop(); } }",
        // An earlier filter delivers first.
        "a: if sendergroup == 'RELAYLIST' { deliver(); }\nb: if header('X-A') != '^s3cret$' { drop(); }",
    ] {
        assert_eq!(lint_with(&cfg, script).len(), 1, "{script}");
    }
}

#[test]
fn other_shapes_of_the_secret_check_guard() {
    let mut cfg = dev_factory_for_tests();
    add(&mut cfg, "RELAYLIST", &[".protection.outlook.com"]);
    for script in [
        // All mail, on every listener.
        "f: if header('X-OUTBOUND-AUTH') != '^s3cret$' { bounce(); }",
        // All mail of the listener, in one condition with the group.
        "f: if recv-listener == 'OutgoingMail' and not header('X-A') == '^s3cret$' { drop(); }",
        "f: if sendergroup == 'RELAY' and header('X-A') != '^s3cret$' { drop(); }",
        // After a branch that never applies to the group.
        "f: if sendergroup == 'PARTNERS' { deliver(); } elif header('X-A') == '^s3cret$' { strip-header('X-A'); } else { drop(); }",
    ] {
        assert!(lint_with(&cfg, script).is_empty(), "{script}");
    }
}

#[test]
fn shadows_empty_groups_and_supersets_are_named() {
    let mut cfg = dev_factory_for_tests();
    add(&mut cfg, "RELAYLIST", &["10.0.0.0/8", ".outlook.com"]);
    add(&mut cfg, "INTERNAL", &["10.1.2.3", "10.9.0.0/16"]);
    add(
        &mut cfg,
        "TENANT",
        &["mail-a.protection.outlook.com", "10.0.0.1-9"],
    );
    let l = cfg.listener("OutgoingMail").unwrap();
    assert_eq!(
        never_matches(l, 1),
        Some(NeverMatches::Shadowed {
            order: 2,
            by: vec![("RELAYLIST".into(), 1)],
            same: false,
        })
    );
    // A range is only covered by an equal one.
    assert_eq!(never_matches(l, 2), None);
    let found = lint_with(
        &cfg,
        "f: if sendergroup == '^INTERNAL$' { alt-mailhost('[10.0.0.25]'); }",
    );
    assert_eq!(
        found[0],
        "filter 'f' checks sendergroup INTERNAL, which never matches on OutgoingMail: \
         RELAYLIST (order 1) comes first and matches every member of INTERNAL"
    );
    // A pattern that names a live group too means something.
    assert!(
        lint_with(
            &cfg,
            "f: if sendergroup == 'INTERNAL|TENANT' { alt-mailhost('[10.0.0.25]'); }"
        )
        .iter()
        .all(|f| !f.starts_with("filter"))
    );
    // Groups on the public listener are empty at the factory.
    let found = lint_with(&cfg, "f: if sendergroup == 'BLOCKED_LIST' { drop(); }");
    assert_eq!(
        found[0],
        "filter 'f' checks sendergroup BLOCKED_LIST, which never matches on IncomingMail: \
         BLOCKED_LIST has no members"
    );
}

#[test]
fn a_group_behind_all_never_matches() {
    let mut cfg = dev_factory_for_tests();
    let l = outgoing(&mut cfg);
    l.hat.push(SenderGroup {
        name: "LATE".into(),
        members: vec!["10.0.0.1".into()],
        policy: "RELAYED".into(),
    });
    let l = cfg.listener("OutgoingMail").unwrap();
    assert!(matches!(
        never_matches(l, 2),
        Some(NeverMatches::Shadowed { ref by, .. }) if by == &[("ALL".to_string(), 2)]
    ));
}

#[test]
fn shared_domains_cover_names_under_and_above_them() {
    for m in [
        ".protection.outlook.com",
        ".outbound.protection.outlook.com",
        ".outlook.com",
        "mail-am6.protection.outlook.com",
        ".com",
    ] {
        assert_eq!(
            shared_domain(m).map(|s| s.domain),
            Some("protection.outlook.com"),
            "{m}"
        );
    }
    assert_eq!(
        shared_domain(".google.com").map(|s| s.domain),
        Some("google.com")
    );
    for m in [
        "10.0.0.0/8",
        "ALL",
        ".example.com",
        "evilprotection.outlook.com",
        "outlook.com",
    ] {
        assert_eq!(shared_domain(m), None, "{m}");
    }
}

#[test]
fn the_offered_filter_guards_the_group_and_refuses_special_characters() {
    let script = secret_filter_script(SECRET_FILTER_NAME, "RELAYLIST", "Abcdefgh12345678").unwrap();
    let mut cfg = dev_factory_for_tests();
    add(&mut cfg, "RELAYLIST", &[".protection.outlook.com"]);
    assert!(lint_with(&cfg, &script).is_empty(), "{script}");
    // Exact: a group whose name merely contains RELAYLIST is not guarded.
    let mut other = dev_factory_for_tests();
    add(&mut other, "RELAYLIST2", &[".protection.outlook.com"]);
    assert_eq!(lint_with(&other, &script).len(), 2);
    assert_eq!(check_secret("short"), Err(SecretError::TooShort));
    assert_eq!(
        check_secret("abcdefgh12345678$"),
        Err(SecretError::Character('$'))
    );
    assert_eq!(check_secret(&"a".repeat(129)), Err(SecretError::TooLong));
    assert!(check_secret("my-secret_KEY-0123").is_ok());
}

//! docs/content-security.md's Microsoft 365 set-up, run as written: every
//! command of "The Microsoft 365 set-up, in order" is accepted on a
//! factory configuration (after the routing steps of microsoft-365.md it
//! builds on), and the commit puts each feature where the guide says.

use super::testutil::Fixture;

const GUIDE: &str = include_str!("../../../../docs/content-security.md");

/// The command lines of the set-up section's code blocks, in order.
fn setup_commands() -> Vec<String> {
    let start = GUIDE
        .find("## The Microsoft 365 set-up, in order")
        .expect("the set-up section");
    let end = GUIDE[start..]
        .find("## DNS records to publish")
        .map(|e| start + e)
        .expect("the DNS section after it");
    let mut lines = Vec::new();
    let mut in_block = false;
    for line in GUIDE[start..end].lines() {
        let line = line.trim();
        if line.starts_with("```") {
            in_block = !in_block;
        } else if in_block && !line.is_empty() {
            lines.push(line.to_string());
        }
    }
    lines
}

#[test]
fn the_guides_microsoft_365_commands_are_accepted_and_take_effect() {
    let f = Fixture::new();
    // microsoft-365.md 1.3 and 1.5, which the guide builds on.
    for line in [
        "destconfig new your-domain.com --max_host_concurrency 10 --max_messages_per_connection 20 --use_tls preferred",
        "smtproutes new your-domain.com your-domain-com.mail.protection.outlook.com",
    ] {
        f.run(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    let commands = setup_commands();
    assert!(commands.len() >= 15, "{commands:?}");
    for line in &commands {
        f.run(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    // The last line of the section is the commit (step 8, in prose).
    f.run("commit \"content security\"").expect("commit");
    let cfg = f.working();
    let auth = cfg.sender_auth.for_policy("IncomingMail", "ACCEPTED");
    assert!(
        auth.spf && auth.dkim && auth.dmarc_profile.is_some(),
        "{auth:?}"
    );
    let relayed = cfg.sender_auth.for_policy("OutgoingMail", "RELAYED");
    assert!(!relayed.any(), "Microsoft 365's mail is not verified again");
    assert!(cfg.antispam.enabled);
    assert!(cfg.antivirus.enabled);
    let out = f.run("smtpcallahead").expect("smtpcallahead print");
    assert!(out.contains("M365"), "{out}");
    let out = f
        .run("domainkeysconfig profiles dnstxt your-domain")
        .expect("dnstxt");
    assert!(
        out.contains("sel2026._domainkey.your-domain.com. IN TXT \"v=DKIM1;"),
        "{out}"
    );
    let out = f.run("bvconfig").expect("bvconfig print");
    assert!(out.contains("your-domain.com"), "{out}");
}

//! The seeds' Microsoft 365 set-up done in the web UI, as a customer does
//! it: headless Chromium (tests/src/browser.rs) logs in as the factory
//! `admin` (forced passphrase change), follows the Cisco guides page by
//! page, presses Commit Changes, then mail goes through both Data
//! interfaces and is found in Message Tracking.
//!
//! ```text
//!   internet client 127.5.n.7 ──Data 1──► IncomingMail ──route──► sink (Microsoft 365)
//!   Microsoft 365 127.5.n.10 ──Data 2──► OutgoingMail ──route──► sink (the internet)
//!     (PTR and A: mail-eopbgr.protection.outlook.com, so RELAY_O365 matches)
//! ```
//!
//! Seed steps, in the order the guides give them:
//! - inbound: Destination Controls (company domain: 10 concurrent
//!   connections, 20 messages per connection, TLS Preferred), a RAT entry
//!   accepting the company domain, an SMTP route for it to the Microsoft
//!   365 host (here the sink's loopback address and port);
//! - outbound: sender group RELAY_O365 with `.protection.outlook.com` at
//!   order 1 on OutgoingMail with policy RELAYED, RELAYED's TLS Preferred;
//! - Threat Defense (seed 004): the connector enabled with a Message
//!   Intake Address, and the incoming DEFAULT policy set to a custom one.
//!
//! Screenshots of every main page land in `target/screenshots/walk-*.png`;
//! a chosen set is kept in docs/images/web/ for docs/web-ui.md.

use breakwater::config::{Config, OutboundTls, RatAction, RouteTarget, ThreatDefense, TlsMode};
use breakwater_e2e::browser::Browser;
use breakwater_e2e::{
    Dns, Gateway, SOON, Sink, TestNet, mid_in_reply, simple_message, smtplib, wait_until,
};
use regex::escape;

/// The company's domain ("your_domain_here.com" in the guides), hosted
/// in Microsoft 365.
const COMPANY: &str = "example.com";
/// A domain on the internet, for outbound mail.
const INTERNET: &str = "partner.example";
/// Microsoft 365's outbound host name (PTR and A of the relay client).
const O365_HOST: &str = "mail-eopbgr.protection.outlook.com";
/// The global Message Intake Address and the DEFAULT policy's own one.
const INTAKE: &str = "intake@tdc.test";
const POLICY_INTAKE: &str = "policy-intake@tdc.test";
/// The factory passphrase, and the one chosen at the forced change.
const FACTORY_PASSPHRASE: &str = "breakwater";
const PASSPHRASE: &str = "Microsoft 365 walkthrough passphrase";
const COMMENT: &str = "Microsoft 365 inbound and outbound (seed guides)";

/// Types `text` into the empty field `css`.
fn fill(browser: &Browser, css: &str, text: &str) {
    let field = browser.find(css);
    field.clear();
    field.send_keys(text);
}

/// Clicks `css` (a form's submit button) and checks that the page the
/// browser lands on shows no error from the control plane.
fn submit(browser: &Browser, css: &str, what: &str) {
    browser.find(css).click_and_load();
    let errors: Vec<String> = browser
        .find_all("div.flash.error")
        .iter()
        .map(|e| e.text())
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: the gateway refused it on {}: {errors:?}",
        browser.current_url()
    );
}

/// The rendered text of the table row whose id is `id` (ids may hold dots).
fn row(browser: &Browser, id: &str) -> String {
    browser.find(&format!("tr[id=\"{id}\"]")).text()
}

/// Searches Message Tracking by envelope sender until `mid`'s row says
/// Delivered (the log line can follow the sink's receipt by a moment);
/// returns the row's text.
fn track_until_delivered(browser: &Browser, https: &str, sender: &str, mid: u64) -> String {
    wait_until(SOON, || {
        browser.goto(&format!("{https}/monitor/tracking"));
        fill(browser, "#sender", sender);
        browser.find("#search").click_and_load();
        let rows = browser.find_all(&format!("tr#mid-{mid}"));
        let text = rows.first().map(|r| r.text())?;
        text.contains("Delivered").then_some(text)
    })
    .unwrap_or_else(|| {
        panic!(
            "MID {mid} from {sender} never showed Delivered in Message Tracking; the page said:\n{}",
            browser.find("main").text()
        )
    })
}

#[test]
fn microsoft_365_set_up_in_the_web_ui_then_mail_flows_both_ways() {
    let net = TestNet::new();
    let relay_client = net.client(10);
    let internet_client = net.client(7);
    let _dns = Dns::builder(&net)
        .host_record(O365_HOST, relay_client)
        .start();
    let sink = Sink::start(&net);
    let gw = Gateway::start(&net);
    let https = gw.https_base();
    let sink_ip = net.sink_ip().to_string();
    let sink_port = net.sink_addr().port().to_string();

    let browser = Browser::start();

    // ---- Log in: the factory account must choose a new passphrase first.
    browser.goto(&format!("{https}/login"));
    browser.screenshot("walk-01-login.png");
    fill(&browser, "input[name=username]", "admin");
    fill(&browser, "input[name=password]", FACTORY_PASSPHRASE);
    browser.find("form button[type=submit]").click_and_load();
    assert_eq!(browser.current_url(), format!("{https}/passwd"));
    assert_eq!(browser.find("main h1").text(), "Change Passphrase");
    browser.screenshot("walk-02-change-passphrase.png");
    fill(&browser, "input[name=old]", FACTORY_PASSPHRASE);
    fill(&browser, "input[name=new]", PASSPHRASE);
    fill(&browser, "input[name=again]", PASSPHRASE);
    browser
        .find("main form button[type=submit]")
        .click_and_load();
    assert_eq!(browser.current_url(), format!("{https}/monitor/status"));
    assert_eq!(browser.find("main h1").text(), "System Status");
    browser.wait_for_text("header", "Logged in as: admin");
    browser.screenshot("walk-03-system-status.png");

    // ---- Network > DNS: the gateway's name servers (here dnsmasq, which
    // knows Microsoft 365's outbound host by PTR and A).
    browser.goto(&format!("{https}/network/dns"));
    fill(&browser, "#dns_servers", &net.dns_server());
    submit(&browser, "#submit", "DNS servers");
    browser.wait_for_text("#dns-mode", &net.dns_server());
    // Something is staged now: the chrome offers Commit Changes.
    browser.wait_for_text("#commit-changes", "Commit Changes");

    // ---- Inbound 1: Mail Policies > Destination Controls > Add Destination.
    browser.goto(&format!("{https}/mail-policies/destination-controls"));
    browser.find("#add-destination").click_and_load();
    fill(&browser, "#destination", COMPANY);
    fill(&browser, "#max_host_concurrency", "10");
    fill(&browser, "#max_messages_per_connection", "20");
    browser.find("#use_tls").select_by_text("Preferred");
    browser.screenshot("walk-04-add-destination.png");
    submit(&browser, "#submit", "Add Destination");
    browser.goto(&format!("{https}/mail-policies/destination-controls"));
    let dest = row(&browser, &format!("dest-{COMPANY}"));
    assert!(
        dest.contains("10 concurrent connections, 20 messages per connection"),
        "Destination Control Table row: {dest}"
    );
    assert!(dest.contains("Preferred"), "TLS Support column: {dest}");
    browser.screenshot("walk-05-destination-controls.png");

    // ---- Inbound 2: Mail Policies > Recipient Access Table > Add Recipient.
    browser.goto(&format!("{https}/mail-policies/rat"));
    browser.find("#add-recipient").click_and_load();
    fill(&browser, "#recipient_address", COMPANY);
    browser.find("#action-accept").click();
    browser.screenshot("walk-06-add-recipient.png");
    submit(&browser, "#submit", "Add Recipient");
    browser.goto(&format!("{https}/mail-policies/rat"));
    let rat = row(&browser, &format!("row-{COMPANY}"));
    assert!(rat.contains("Accept"), "RAT row: {rat}");
    browser.screenshot("walk-07-rat.png");

    // ---- Inbound 3: Network > SMTP Routes > Add Route: the company domain
    // to "the Microsoft 365 MX" (the sink), and, for this test's
    // internet, partner.example to the sink too.
    for domain in [COMPANY, INTERNET] {
        browser.goto(&format!("{https}/network/smtp-routes"));
        browser.find("#add-route").click_and_load();
        fill(&browser, "#receiving_domain", domain);
        fill(&browser, "#destination0", &sink_ip);
        fill(&browser, "#port0", &sink_port);
        if domain == COMPANY {
            browser.screenshot("walk-08-add-route.png");
        }
        submit(&browser, "#submit", "Add Route");
    }
    browser.goto(&format!("{https}/network/smtp-routes"));
    for domain in [COMPANY, INTERNET] {
        let route = row(&browser, &format!("route-{domain}"));
        assert!(
            route.contains(&format!("{sink_ip}:{sink_port}")),
            "SMTP route row for {domain}: {route}"
        );
    }
    browser.screenshot("walk-09-smtp-routes.png");

    // ---- Outbound 1: Mail Policies > HAT Overview (OutgoingMail) > Add
    // Sender Group RELAY_O365, order 1, policy RELAYED.
    browser.goto(&format!("{https}/mail-policies/hat"));
    browser
        .find("#listener")
        .select_by_text("OutgoingMail (Data 2)");
    browser.find("#listener-go").click_and_load();
    browser.wait_for_text("main h2", "OutgoingMail");
    browser.find("#add-sender-group").click_and_load();
    fill(&browser, "#name", "RELAY_O365");
    fill(&browser, "#order", "1");
    fill(
        &browser,
        "#comment",
        "From Microsoft 365 mail to Cisco Secure Email",
    );
    browser.find("#policy").select_by_text("RELAYED");
    fill(&browser, "#senders", ".protection.outlook.com");
    browser.screenshot("walk-10-add-sender-group.png");
    submit(&browser, "#submit", "Add Sender Group");
    browser.goto(&format!("{https}/mail-policies/hat?listener=OutgoingMail"));
    let group = row(&browser, "row-RELAY_O365");
    assert!(
        group.starts_with('1') && group.contains(".protection.outlook.com"),
        "HAT row: {group}"
    );
    assert!(group.contains("RELAYED"), "HAT row: {group}");
    browser.screenshot("walk-11-hat-overview.png");

    // ---- Outbound 2: Mail Flow Policies (OutgoingMail) > RELAYED: TLS
    // Preferred.
    browser.goto(&format!(
        "{https}/mail-policies/mail-flow?listener=OutgoingMail"
    ));
    browser.find("#policy-RELAYED").click_and_load();
    browser.find("#tls-preferred").click();
    browser.screenshot("walk-12-mail-flow-policy-tls.png");
    submit(&browser, "#submit", "RELAYED: TLS Preferred");
    browser.goto(&format!(
        "{https}/mail-policies/mail-flow?listener=OutgoingMail"
    ));
    let relayed = row(&browser, "row-RELAYED");
    assert!(relayed.contains("Preferred"), "RELAYED row: {relayed}");
    assert!(
        relayed.contains("RELAY_O365"),
        "RELAYED's sender groups: {relayed}"
    );

    // ---- Threat Defense: Security Services > Threat Defense Connector:
    // enable it with a Message Intake Address.
    browser.goto(&format!("{https}/security/threat-defense"));
    browser.find("#edit-settings").click_and_load();
    let enabled = browser.find("#enabled");
    if enabled.attr("checked").is_none() {
        enabled.click();
    }
    fill(&browser, "#intake_address", INTAKE);
    browser.screenshot("walk-13-threat-defense-edit.png");
    submit(&browser, "#submit", "Threat Defense Connector Settings");
    browser.goto(&format!("{https}/security/threat-defense"));
    browser.wait_for_text("#tdc-enabled", "Enabled");
    browser.wait_for_text("#tdc-intake-address", INTAKE);
    browser.screenshot("walk-14-threat-defense.png");

    // ... and per policy: Incoming Mail Policies, the Threat Defense
    // Connector column of DEFAULT, a custom Message Intake Address.
    browser.goto(&format!("{https}/mail-policies/incoming"));
    browser.find("td#tdc-DEFAULT a").click_and_load();
    browser.find("#threat_defense_custom").click();
    fill(&browser, "#intake_address", POLICY_INTAKE);
    browser.screenshot("walk-15-policy-threat-defense.png");
    submit(&browser, "#submit", "DEFAULT policy: Threat Defense");
    browser.goto(&format!("{https}/mail-policies/incoming"));
    browser.wait_for_text("td#tdc-DEFAULT", POLICY_INTAKE);
    browser.screenshot("walk-16-incoming-policies.png");

    // Nothing is in effect before Commit Changes: Data 2 still turns the
    // Microsoft 365 host away (the running OutgoingMail has ALL→BLOCKED
    // only).
    let res = smtplib::send(
        net.data2_smtp(),
        relay_client,
        "early@example.com",
        &[&format!("carol@{INTERNET}")],
        &simple_message(
            "early@example.com",
            "carol@partner.example",
            "walk-early@e2e.test",
            "too early",
        ),
        &[],
    );
    assert_eq!(
        smtplib::find(&res, "connect").and_then(|r| r.code),
        Some(554),
        "staged changes took effect before Commit Changes: {res:?}"
    );

    // ---- Commit Changes, with a comment.
    browser.find("#commit-changes").click_and_load();
    assert_eq!(browser.current_url(), format!("{https}/commit"));
    fill(&browser, "#comment", COMMENT);
    browser.screenshot("walk-17-commit.png");
    submit(&browser, "#commit", "Commit Changes");
    browser.wait_for_text("body", "No Changes Pending");
    // The commit's answer, as the CLI prints it: done, and the relay lint's
    // reminder that RELAY_O365 relays for every tenant until the seed's
    // shared-secret filter guards it (docs/microsoft-365.md).
    let said = browser.wait_for_text("div.flash.ok", "Changes committed");
    assert!(
        said.contains(
            "Warning: OutgoingMail relays for sender group RELAY_O365, whose member .protection.outlook.com matches"
        ),
        "the commit page shows the relay lint's warning: {said}"
    );
    browser.screenshot("walk-18-committed.png");
    assert!(
        gw.cli_ok(&["commitlog"]).contains(COMMENT),
        "the commit log names the web's commit"
    );

    // ---- Mail through Data 1: from the internet to the company domain,
    // delivered to "Microsoft 365".
    let inbound_from = "friend@internet.example";
    let inbound_to = format!("alice@{COMPANY}");
    let res = smtplib::send(
        net.data1_smtp(),
        internet_client,
        inbound_from,
        &[&inbound_to],
        &simple_message(inbound_from, &inbound_to, "walk-inbound@e2e.test", "hello"),
        &[],
    );
    let data = smtplib::find(&res, "data").unwrap_or_else(|| panic!("{res:?}"));
    assert_eq!(
        data.code,
        Some(250),
        "Data 1 accepts mail for {COMPANY}: {res:?}"
    );
    let inbound_mid = mid_in_reply(&data.text).expect("MID in the 250");
    let m = sink
        .wait_for_message_id("walk-inbound@e2e.test", SOON)
        .expect("inbound mail reaches Microsoft 365 (the sink)");
    assert_eq!(m.rcpts, [inbound_to.as_str()]);
    // The DEFAULT policy's custom intake address gets its copy queued.
    gw.wait_for_log(
        &format!(
            r"enqueued for delivery to Cisco Secure Email Threat Defense \(copy of MID {inbound_mid}\)"
        ),
        SOON,
    );

    // ---- Mail through Data 2: Microsoft 365 relays to the internet.
    let outbound_from = format!("bob@{COMPANY}");
    let outbound_to = format!("carol@{INTERNET}");
    let res = smtplib::send(
        net.data2_smtp(),
        relay_client,
        &outbound_from,
        &[&outbound_to],
        &simple_message(&outbound_from, &outbound_to, "walk-outbound@e2e.test", "hi"),
        &[],
    );
    let data = smtplib::find(&res, "data").unwrap_or_else(|| panic!("{res:?}"));
    assert_eq!(
        data.code,
        Some(250),
        "Data 2 relays for {O365_HOST}: {res:?}"
    );
    let outbound_mid = mid_in_reply(&data.text).expect("MID in the 250");
    let m = sink
        .wait_for_message_id("walk-outbound@e2e.test", SOON)
        .expect("outbound mail reaches the internet (the sink)");
    assert_eq!(m.rcpts, [outbound_to.as_str()]);
    assert_eq!(m.client_addr, net.data2().to_string());
    gw.wait_for_log(
        &format!(
            r"ICID \d+ RELAY SG RELAY_O365 match {} SBRS not enabled",
            escape(".protection.outlook.com")
        ),
        SOON,
    );

    // ---- Monitor > Message Tracking: each message, by sender, Delivered.
    let inbound_row = track_until_delivered(&browser, &https, inbound_from, inbound_mid);
    assert!(
        inbound_row.contains(&inbound_mid.to_string()),
        "{inbound_row}"
    );
    let outbound_row = track_until_delivered(&browser, &https, &outbound_from, outbound_mid);
    assert!(
        outbound_row.contains("RELAY_O365"),
        "the outbound row names its sender group: {outbound_row}"
    );
    assert!(
        outbound_row.contains(&relay_client.to_string()),
        "and the Microsoft 365 host's IP: {outbound_row}"
    );
    browser.screenshot("walk-19-message-tracking.png");
    browser
        .find(&format!("#details-{outbound_mid}"))
        .click_and_load();
    browser.wait_for_text("#last-state", "Delivered");
    browser.wait_for_text("#host", "RELAY_O365");
    browser.screenshot("walk-20-more-details.png");

    track_until_delivered(&browser, &https, inbound_from, inbound_mid);
    browser
        .find(&format!("#details-{inbound_mid}"))
        .click_and_load();
    browser.wait_for_text("#last-state", "Delivered");

    // ---- Monitor > Reports: both messages counted.
    browser.goto(&format!("{https}/monitor/reports"));
    assert_eq!(browser.find("main h1").text(), "Reports");
    browser.screenshot("walk-21-reports.png");

    // ---- The committed configuration is what the CLI would have made
    // (nothing is staged after the commit, so the working configuration
    // `showconfig` prints is the committed one).
    let out = gw.cli_ok(&["showconfig", "--json"]);
    let cfg: Config =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("showconfig --json: {e}\n{out}"));
    assert_committed(&cfg, &net, &sink_ip, &sink_port);
}

/// The seeds' settings in the committed configuration, field by field, as
/// the CLI commands of the guides make them.
fn assert_committed(cfg: &Config, net: &TestNet, sink_ip: &str, sink_port: &str) {
    // dnsconfig servers <dnsmasq>
    let servers: Vec<String> = cfg.dns.servers.iter().map(ToString::to_string).collect();
    assert_eq!(servers, [net.dns_server()]);

    // destconfig new example.com --max-conn 10 --max-msgs 20 --tls preferred
    let dest = cfg
        .destination_controls
        .iter()
        .find(|d| d.domain == COMPANY)
        .unwrap_or_else(|| panic!("no destination control for {COMPANY}: {cfg:?}"));
    assert_eq!(dest.max_concurrency, Some(10));
    assert_eq!(dest.max_messages_per_connection, Some(20));
    assert_eq!(dest.tls, Some(OutboundTls::Preferred));

    // listenerconfig edit IncomingMail rcptaccess new example.com accept
    let incoming = cfg
        .listeners
        .iter()
        .find(|l| l.name == "IncomingMail")
        .expect("IncomingMail");
    let rat = incoming
        .rat
        .iter()
        .find(|r| r.address == COMPANY)
        .unwrap_or_else(|| panic!("no RAT entry for {COMPANY}: {:?}", incoming.rat));
    assert_eq!(rat.action, RatAction::Accept);
    assert_eq!((rat.code, rat.text.is_some()), (None, false));

    // smtproutes new example.com <sink>; smtproutes new partner.example <sink>
    for domain in [COMPANY, INTERNET] {
        let route = cfg
            .smtp_routes
            .iter()
            .find(|r| r.domain == domain)
            .unwrap_or_else(|| panic!("no SMTP route for {domain}"));
        let RouteTarget::Hosts(hosts) = &route.target else {
            panic!("{domain} routed to {:?}", route.target);
        };
        assert_eq!(hosts.len(), 1, "{hosts:?}");
        assert_eq!(hosts[0].host.to_string(), sink_ip);
        assert_eq!(hosts[0].port.to_string(), sink_port);
    }

    // listenerconfig edit OutgoingMail hostaccess new sendergroup RELAY_O365
    //   .protection.outlook.com --policy RELAYED (order 1), and
    // ... hostaccess editpolicy RELAYED --tls preferred
    let outgoing = cfg
        .listeners
        .iter()
        .find(|l| l.name == "OutgoingMail")
        .expect("OutgoingMail");
    let first = &outgoing.hat[0];
    assert_eq!(
        first.name, "RELAY_O365",
        "RELAY_O365 is first: {:?}",
        outgoing.hat
    );
    assert_eq!(first.policy, "RELAYED");
    let members: Vec<String> = first.members.iter().map(ToString::to_string).collect();
    assert_eq!(members, [".protection.outlook.com"]);
    let relayed = outgoing.policy("RELAYED").expect("RELAYED");
    assert_eq!(relayed.tls, TlsMode::Preferred);

    // threatdefenseconfig enable intake@tdc.test; policyconfig ... custom
    assert!(cfg.threat_defense.enabled);
    assert_eq!(cfg.threat_defense.intake_address.as_deref(), Some(INTAKE));
    assert_eq!(
        cfg.incoming_policies.default.threat_defense,
        ThreatDefense::Custom(POLICY_INTAKE.to_string())
    );
}

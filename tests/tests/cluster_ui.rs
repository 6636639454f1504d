//! Clusters as an administrator sees them (issue 20): a gateway creates a
//! cluster on a real etcd (Debian's etcd-server, TLS with client
//! certificates) from its console; the prompt shows the mode; `filters`
//! in machine mode asks which level to edit and Return keeps the
//! cluster's (the seeds' "press Return to edit the filters in cluster
//! mode"); `dnsconfig` copied to the machine; then the web UI's mode bar
//! (`Mode — Cluster: Hosted_Cluster`, Change Mode..., Centralized
//! Management Options) and the Cluster page.

use breakwater_e2e::browser::Browser;
use breakwater_e2e::console::Console;
use breakwater_e2e::etcd::EtcdCluster;
use breakwater_e2e::web::{WebClient, strip_tags};
use breakwater_e2e::{Gateway, TestNet};

const PASS: &str = "cluster ui pass 1";

#[test]
fn the_console_and_the_web_show_the_mode_and_ask_the_level() {
    let etcd_net = TestNet::new();
    let etcd = EtcdCluster::start(&etcd_net, 1);
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let cert = etcd.client_cert("esa1");
    gw.cli_ok(&[
        "certconfig",
        "import",
        "esa1",
        &cert.chain.display().to_string(),
        &cert.key.display().to_string(),
    ]);
    let ca = etcd.ca_pem().display().to_string();
    gw.cli_ok(&["certconfig", "certauthority", "import", "etcd-ca", &ca]);
    gw.cli_ok(&["commit", "e2e: etcd CA and client certificate"]);

    // Standalone: the host name prompt; creating the cluster at the
    // console turns it into the mode.
    let mut c = Console::login_factory_admin(&gw, PASS);
    let shown = c.run("clustermode");
    assert!(
        shown.contains("This appliance is not part of a cluster."),
        "{shown}"
    );
    let create = format!(
        "clusterconfig create Hosted_Cluster --etcd {} --ca etcd-ca --certificate esa1 --machine esa1.myesa.com",
        etcd.endpoints_arg()
    );
    let shown = c.run(&create);
    assert!(
        shown.contains(
            "Cluster Hosted_Cluster created with this machine (esa1.myesa.com) in group Main_Group."
        ),
        "{shown}"
    );
    let shown = c.run("clustermode machine");
    assert!(
        shown.starts_with("(Cluster Hosted_Cluster)> clustermode machine"),
        "{shown}"
    );
    assert!(
        shown.contains("Current mode: Machine esa1.myesa.com"),
        "{shown}"
    );

    // filters in machine mode: the question, Return keeps the cluster.
    let shown = c.dialogue("filters", &["", ""]);
    assert!(
        shown.starts_with("(Machine esa1.myesa.com)> filters"),
        "{shown}"
    );
    for line in [
        "The settings of \"filters\" are defined in Cluster Hosted_Cluster.",
        "Choose the mode to edit them in:",
        "1. Cluster Hosted_Cluster",
        "2. Group Main_Group (copy the settings to this group)",
        "3. Machine esa1.myesa.com (copy the settings to this machine)",
        "[1]> ",
        "Current mode: Cluster Hosted_Cluster",
        "Choose the operation you want to perform:",
    ] {
        assert!(shown.contains(line), "no {line:?} in:\n{shown}");
    }
    let shown = c.run("clustermode");
    assert!(
        shown.starts_with("(Cluster Hosted_Cluster)> clustermode"),
        "{shown}"
    );

    // In the mode that defines them: no question.
    let shown = c.dialogue("dnsconfig", &[""]);
    assert!(!shown.contains("Choose the mode"), "{shown}");
    assert!(shown.contains("Choose the operation"), "{shown}");

    // In machine mode, dnsconfig copied to this machine (3): the copy is
    // made, the mode stays, the menu runs; then no question any more.
    c.run("clustermode machine");
    let shown = c.dialogue("dnsconfig", &["3", ""]);
    assert!(
        shown.contains("3. Machine esa1.myesa.com (copy the settings to this machine)"),
        "{shown}"
    );
    assert!(shown.contains("Choose the operation"), "{shown}");
    let shown = c.run("clusterconfig levels dns");
    assert!(shown.starts_with("(Machine esa1.myesa.com)> "), "{shown}");
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("dns ") && l.ends_with("Machine esa1.myesa.com")),
        "{shown}"
    );
    let shown = c.dialogue("dnsconfig", &[""]);
    assert!(!shown.contains("Choose the mode"), "{shown}");

    // The clusterconfig menu: CHECK (clustercheck), then MODE to the group.
    let shown = c.dialogue("clusterconfig", &["check", "mode", "2", ""]);
    assert!(
        shown.contains("Machine: esa1.myesa.com (group Main_Group)"),
        "{shown}"
    );
    assert!(
        shown.contains("All 1 machines run cluster revision"),
        "{shown}"
    );
    assert!(
        shown.contains("1. Cluster Hosted_Cluster\n2. Group Main_Group\n3. Machine esa1.myesa.com"),
        "{shown}"
    );
    assert!(shown.contains("Current mode: Group Main_Group"), "{shown}");
    let shown = c.run("clustermode machine");
    assert!(
        shown.starts_with("(Group Main_Group)> clustermode machine"),
        "{shown}"
    );
    c.logout();

    // The web: the admin's mode (machine, from the console) in the bar.
    let web = WebClient::login(&gw, "admin", PASS);
    let page = web.get("/security/threat-defense");
    assert!(
        page.contains("Mode \u{2014} <b>Machine: esa1.myesa.com</b>"),
        "{page}"
    );
    assert!(page.contains("Change Mode..."), "{page}");
    assert!(page.contains("Centralized Management Options"), "{page}");
    assert!(
        page.contains("Override at this machine (esa1.myesa.com)"),
        "{page}"
    );
    let (status, _) = web.post(
        "/cluster/mode",
        &[("mode", "cluster"), ("back", "/security/threat-defense")],
    );
    assert_eq!(status, 303);
    let page = web.get("/security/threat-defense");
    assert!(
        page.contains("Mode \u{2014} <b>Cluster: Hosted_Cluster</b>"),
        "{page}"
    );
    // Override the Threat Defense Connector settings at this machine.
    let (status, _) = web.post(
        "/cluster/override",
        &[
            ("section", "threat_defense"),
            ("level", "machine"),
            ("back", "/security/threat-defense"),
        ],
    );
    assert_eq!(status, 303);
    let text = strip_tags(&web.get("/security/threat-defense"));
    assert!(text.contains("threat_defense"), "{text}");
    assert!(
        text.contains("Use the group's or the cluster's settings"),
        "{text}"
    );
    assert!(
        text.contains(
            "These settings are defined in Machine esa1.myesa.com, not in Cluster Hosted_Cluster"
        ),
        "{text}"
    );
    // In Chromium, as an administrator clicks it: the bar under the
    // title, Change Mode... to the machine, Centralized Management Options.
    let https = gw.https_base();
    let browser = Browser::start();
    browser.goto(&format!("{https}/login"));
    browser.find("input[name=username]").send_keys("admin");
    browser.find("input[name=password]").send_keys(PASS);
    browser.find("form button[type=submit]").click_and_load();
    browser.goto(&format!("{https}/security/threat-defense/edit"));
    browser.wait_for_text("#cluster-mode", "Mode \u{2014} Cluster: Hosted_Cluster");
    browser.find("#change-mode").click();
    browser
        .find("#mode-select")
        .select_by_text("Machine: esa1.myesa.com");
    browser.find("#change-mode-submit").click_and_load();
    assert_eq!(
        browser.current_url(),
        format!("{https}/security/threat-defense/edit")
    );
    browser.wait_for_text("#cluster-mode", "Machine: esa1.myesa.com");
    browser.find("#centralized-management").click();
    browser.wait_for_text("#cluster-levels", "Machine esa1.myesa.com");
    browser.screenshot("cluster-01-mode-bar.png");

    // The bar's forms come back to the page as it was asked for.
    let page = web.get("/mail-policies/hat?listener=IncomingMail");
    assert!(
        page.contains(r#"name="back" value="/mail-policies/hat?listener=IncomingMail""#),
        "{page}"
    );
    // Commit Changes commits at the mode's level: it shows the mode.
    let page = web.get("/commit");
    assert!(
        page.contains("Mode \u{2014} <b>Machine: esa1.myesa.com</b>"),
        "{page}"
    );
    assert!(!page.contains("Centralized Management Options"), "{page}");
    // Monitor pages have no bar; the Cluster page shows the cluster.
    assert!(!web.get("/monitor/status").contains("cluster-bar"));
    let text = strip_tags(&web.get("/system-administration/cluster"));
    assert!(text.contains("Cluster Hosted_Cluster"), "{text}");
    assert!(
        text.contains("Machine: esa1.myesa.com (group Main_Group)"),
        "{text}"
    );
    assert!(text.contains("esa1.myesa.com"), "{text}");
}

//! Clusters as an administrator sees them (issue 20): a gateway creates a
//! cluster on a real etcd (Debian's etcd-server, TLS with client
//! certificates) from its console; the prompt shows the mode; `filters`
//! in machine mode asks which level to edit and Return keeps the
//! cluster's (the seeds' "press Return to edit the filters in cluster
//! mode"); `dnsconfig` copied to the machine; then the web UI's mode bar
//! (`Mode — Cluster: Hosted_Cluster`, Change Mode..., Centralized
//! Management Options) and the Cluster page.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use breakwater_e2e::browser::Browser;
use breakwater_e2e::console::Console;
use breakwater_e2e::web::{WebClient, strip_tags};
use breakwater_e2e::{Gateway, TestNet, wait_until};

const PASS: &str = "cluster ui pass 1";

fn openssl(dir: &Path, args: &[&str]) {
    let ok = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs (tools/packages.txt)")
        .success();
    assert!(ok, "openssl {args:?} failed");
}

/// A CA and two certificates it signed, for `ip`: etcd's (server) and
/// the gateway's (client), both usable either way.
fn pki(dir: &Path, ip: &str) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-days",
        "2",
        "-subj",
        "/CN=etcd test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    let ext = format!(
        "subjectAltName=IP:{ip},DNS:esa1.myesa.com\nextendedKeyUsage=serverAuth,clientAuth\n"
    );
    std::fs::write(dir.join("leaf.ext"), ext).unwrap();
    for name in ["etcd", "esa1"] {
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        let mut req = vec!["req"];
        req.extend(ec);
        req.extend(["-subj", "/CN=esa1.myesa.com", "-keyout", &key, "-out", &csr]);
        openssl(dir, &req);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &pem,
                "-extfile",
                "leaf.ext",
            ],
        );
    }
}

/// One etcd member serving TLS with client certificates; killed on drop.
struct Etcd {
    child: Child,
    url: String,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_etcd(dir: &Path, ip: &str) -> Etcd {
    assert!(
        Path::new("/usr/bin/etcd").exists(),
        "/usr/bin/etcd is missing: install etcd-server (tools/packages.txt)"
    );
    let url = format!("https://{ip}:2379");
    let peer = format!("http://{ip}:2380");
    let child = Command::new("/usr/bin/etcd")
        .args(["--name", "e2e", "--data-dir"])
        .arg(dir.join("etcd-data"))
        .args([
            "--listen-client-urls",
            &url,
            "--advertise-client-urls",
            &url,
        ])
        .args([
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
        ])
        .args(["--initial-cluster", &format!("e2e={peer}")])
        .arg("--cert-file")
        .arg(dir.join("etcd.pem"))
        .arg("--key-file")
        .arg(dir.join("etcd.key"))
        .arg("--trusted-ca-file")
        .arg(dir.join("ca.pem"))
        .arg("--client-cert-auth")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcd starts");
    let addr: SocketAddr = format!("{ip}:2379").parse().unwrap();
    let up = wait_until(Duration::from_secs(30), || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(1))
            .ok()
            .map(|_| ())
    });
    assert!(up.is_some(), "etcd does not listen on {addr}");
    Etcd { child, url }
}

#[test]
fn the_console_and_the_web_show_the_mode_and_ask_the_level() {
    let net = TestNet::new();
    let dir = tempfile::tempdir().unwrap();
    let ip = net.client(79).to_string();
    pki(dir.path(), &ip);
    let etcd = start_etcd(dir.path(), &ip);
    let gw = Gateway::start(&net);
    let ca = dir.path().join("ca.pem").display().to_string();
    gw.cli_ok(&["certconfig", "certauthority", "import", "etcd-ca", &ca]);
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    gw.cli_input(
        &["certconfig", "import", "esa1", "-"],
        &(read("esa1.pem") + &read("esa1.key")),
    )
    .expect("certconfig import esa1 -");
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
        etcd.url
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

    // dnsconfig, copied to this machine (3), then left at its menu.
    let shown = c.dialogue("dnsconfig", &["3", ""]);
    assert!(
        shown.contains("3. Machine esa1.myesa.com (copy the settings to this machine)"),
        "{shown}"
    );
    assert!(
        shown.contains("Current mode: Machine esa1.myesa.com"),
        "{shown}"
    );
    let shown = c.run("clusterconfig levels dns");
    assert!(shown.starts_with("(Machine esa1.myesa.com)> "), "{shown}");
    assert!(shown.contains("Machine esa1.myesa.com"), "{shown}");
    // Asked again in its own level: no question.
    let shown = c.dialogue("dnsconfig", &[""]);
    assert!(!shown.contains("Choose the mode"), "{shown}");
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

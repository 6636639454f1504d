//! Clusters on etcd (issue 20, decision 0020): three etcd members and
//! three gateways on distinct loopback addresses, driven with the
//! `clusterconfig`, `clustermode`, `commit` and `clustercheck` commands an
//! administrator types.

use std::fs;
use std::time::Duration;

use breakwater_e2e::{EVENTUALLY, EtcdCluster, Gateway, SOON, Swaks, TestNet, World, wait_until};

/// The harness itself: a three-member etcd with client-certificate TLS
/// starts, refuses a client that presents no certificate, and keeps
/// serving with one member killed.
#[test]
fn etcd_harness_three_members_tls_survive_one_killed() {
    let net = TestNet::new();
    let mut etcd = EtcdCluster::start(&net, 3);
    assert_eq!(etcd.endpoints().len(), 3);
    for url in etcd.endpoints() {
        assert!(url.starts_with("https://127.8."), "{url}");
    }

    etcd.etcdctl(&["put", "/e2e/hello", "world"])
        .expect("a client with a certificate writes");
    assert_eq!(etcd.get("/e2e/hello").as_deref(), Some("world"));

    // Without a client certificate the TLS handshake is refused.
    let refused = etcd.etcdctl_with(&etcd.endpoints(), None, &["get", "/e2e/hello"]);
    assert!(refused.is_err(), "no client certificate: {refused:?}");

    // A certificate the gateway would use works too.
    let gw = etcd.client_cert("gw1");
    let out = etcd
        .etcdctl_with(
            &etcd.endpoints(),
            Some((&gw.cert, &gw.key)),
            &["get", "--print-value-only", "/e2e/hello"],
        )
        .expect("a gateway's client certificate is accepted");
    assert_eq!(out.trim(), "world");

    // One member down: two of three still make a quorum (once they have
    // elected a new leader, when the killed one led).
    etcd.kill_member(0);
    wait_until(SOON, || {
        etcd.etcdctl(&["put", "/e2e/after-kill", "still"]).ok()
    })
    .expect("writes with one member down");
    assert_eq!(etcd.get("/e2e/after-kill").as_deref(), Some("still"));

    // All down, then back on the same data dirs: the keys are still there.
    etcd.stop_all();
    assert!(etcd.etcdctl(&["get", "/e2e/hello"]).is_err());
    etcd.restart_all();
    assert_eq!(etcd.get("/e2e/hello").as_deref(), Some("world"));
    assert_eq!(etcd.get("/e2e/after-kill").as_deref(), Some("still"));
}

/// The cluster's name in every test.
const CLUSTER: &str = "Hosted_Cluster";
/// A domain the cluster level accepts and routes to gw1's sink.
const CLUSTER_DOMAIN: &str = "cluster.example";

/// Three gateways (each with its own addresses, sink and dnsmasq) and a
/// three-member etcd. Fields drop top to bottom: gateways first, etcd and
/// its address slot last.
struct Site {
    worlds: Vec<World>,
    etcd: EtcdCluster,
    _etcd_net: TestNet,
}

impl Site {
    /// Starts etcd and three standalone gateways (each on its day-one
    /// configuration), imports the etcd CA and a client certificate into
    /// each as an administrator would, creates `Hosted_Cluster` on gw1 and
    /// joins gw2 and gw3 with gw1's token.
    fn start() -> Site {
        let etcd_net = TestNet::new();
        let etcd = EtcdCluster::start(&etcd_net, 3);
        let worlds: Vec<World> = (0..3).map(|_| World::start()).collect();
        let site = Site {
            worlds,
            etcd,
            _etcd_net: etcd_net,
        };
        for (i, w) in site.worlds.iter().enumerate() {
            site.etcd.trust_on(&w.gw, &format!("gw{}", i + 1));
        }
        let created = site.gw(0).cli_ok(&[
            "clusterconfig",
            "create",
            CLUSTER,
            "--etcd",
            &site.etcd.endpoints_arg(),
            "--ca",
            "etcd_ca",
            "--certificate",
            "etcd_client",
            "--machine",
            "gw1",
        ]);
        assert!(
            created.contains(&format!(
                "Cluster {CLUSTER} created with this machine (gw1) in group Main_Group."
            )),
            "{created}"
        );
        let token = site.gw(0).cli_ok(&["clusterconfig", "token"]);
        let token = token.trim();
        assert_eq!(token.lines().count(), 1, "one line: {token}");
        for i in 1..3 {
            let machine = format!("gw{}", i + 1);
            let joined = site.gw(i).cli_ok(&[
                "clusterconfig",
                "join",
                token,
                "--certificate",
                "etcd_client",
                "--machine",
                &machine,
            ]);
            assert!(
                joined.contains(&format!(
                    "Joined cluster {CLUSTER} as {machine} in group Main_Group (revision"
                )),
                "{joined}"
            );
        }
        // Every member is listed on every machine.
        for i in 0..3 {
            site.wait_output(i, &["clusterconfig", "list"], |out| {
                ["gw1", "gw2", "gw3"].iter().all(|m| out.contains(m))
            });
        }
        site
    }

    fn gw(&self, i: usize) -> &Gateway {
        &self.worlds[i].gw
    }

    fn gw_mut(&mut self, i: usize) -> &mut Gateway {
        &mut self.worlds[i].gw
    }

    /// gw1's sink, where the cluster level routes [`CLUSTER_DOMAIN`].
    fn route(&self) -> String {
        self.worlds[0].net.sink_route()
    }

    /// Runs `args` on gateway `i` until `ok(output)` holds; panics with the
    /// last output after [`EVENTUALLY`].
    fn wait_output(&self, i: usize, args: &[&str], ok: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        wait_until(EVENTUALLY, || {
            last = match self.gw(i).cli(args) {
                Ok(out) | Err(out) => out,
            };
            ok(&last).then(|| last.clone())
        })
        .unwrap_or_else(|| {
            // What an administrator would look at next: the box's view of
            // the cluster, and the cluster level as etcd holds it.
            let view = self.gw(i).cli(&["clusterconfig"]);
            let level = self
                .etcd
                .etcdctl(&["get", &format!("/breakwater/v1/{CLUSTER}/level/cluster")]);
            panic!(
                "gw{}: `{}` never showed what was expected; last:\n{last}\nclusterconfig: {view:?}\netcd cluster level: {level:?}",
                i + 1,
                args.join(" ")
            )
        })
    }

    /// Waits until gateway `i`'s running configuration (`showconfig`)
    /// mentions `needle`.
    fn wait_config_has(&self, i: usize, needle: &str) {
        self.wait_output(i, &["showconfig"], |out| out.contains(needle));
    }

    /// `commit` on gateway `i`, repeated while etcd elects a leader or the
    /// member the gateway spoke to has just died (an administrator commits
    /// again); panics with the last refusal after [`SOON`].
    fn commit_until_ok(&self, i: usize, comment: &str) -> String {
        let mut last = String::new();
        let out = wait_until(SOON, || match self.gw(i).cli(&["commit", comment]) {
            Ok(out) => Some(out),
            Err(e) => {
                last = e;
                std::thread::sleep(Duration::from_secs(1));
                None
            }
        })
        .unwrap_or_else(|| panic!("gw{}: commit refused: {last}", i + 1));
        assert!(out.contains("Changes committed"), "gw{}: {out}", i + 1);
        out
    }

    /// Sends one message to `rcpt` through gateway `i`'s Data 1 and waits
    /// until gw1's sink has it.
    fn mail_through(&self, i: usize, rcpt: &str, message_id: &str) {
        let w = &self.worlds[i];
        let path = self.etcd.scratch_dir().join(format!("{message_id}.eml"));
        fs::write(
            &path,
            format!(
                "From: <sender@internet.example>\r\nTo: <{rcpt}>\r\nMessage-ID: <{message_id}>\r\nSubject: {message_id}\r\n\r\nHello.\r\n"
            ),
        )
        .expect("write message");
        let out = Swaks::new(w.net.data1_smtp(), w.net.client(10))
            .from("sender@internet.example")
            .to(rcpt)
            .data_file(&path)
            .run();
        let reply = out
            .data_reply()
            .unwrap_or_else(|| panic!("gw{}: no reply to DATA:\n{}", i + 1, out.transcript));
        assert_eq!(reply.code, 250, "gw{}: {}", i + 1, out.transcript);
        self.worlds[0]
            .sink
            .wait_for_message_id(message_id, EVENTUALLY)
            .unwrap_or_else(|| panic!("{message_id} through gw{} never reached the sink", i + 1));
    }
}

/// A RAT entry and a route committed at cluster level on gw1 reach all
/// three gateways and mail for the domain flows through each; a
/// machine-level override stays on its machine; of two concurrent cluster
/// commits one wins and the other is told and wins when committed again.
#[test]
fn cluster_level_changes_reach_every_member_and_overrides_stay_local() {
    let site = Site::start();

    // Cluster level, on gw1.
    let mode = site.gw(0).cli_ok(&["clustermode", "cluster"]);
    assert!(
        mode.contains(&format!("Current mode: Cluster {CLUSTER}")),
        "{mode}"
    );
    let route = site.route();
    site.gw(0).cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "rcptaccess",
        "new",
        CLUSTER_DOMAIN,
        "accept",
    ]);
    site.gw(0)
        .cli_ok(&["smtproutes", "new", CLUSTER_DOMAIN, &route]);
    site.commit_until_ok(0, "e2e: cluster.example at cluster level");
    for i in 0..3 {
        site.wait_config_has(i, CLUSTER_DOMAIN);
        let levels = site
            .gw(i)
            .cli_ok(&["clusterconfig", "levels", "listenerconfig"]);
        assert!(
            levels.contains("listeners") && levels.contains(&format!("Cluster {CLUSTER}")),
            "gw{}: {levels}",
            i + 1
        );
    }
    for i in 0..3 {
        site.mail_through(
            i,
            &format!("bob@{CLUSTER_DOMAIN}"),
            &format!("rat-gw{}@e2e", i + 1),
        );
    }
    let check = site.wait_output(0, &["clustercheck"], |out| {
        out.contains("All 3 machines run cluster revision")
    });
    assert!(check.contains("with the same configuration."), "{check}");

    // Two administrators commit at cluster level at the same time, on gw1
    // (a route) and on gw2 (a RAT entry), both staged on the same revision.
    site.gw(1).cli_ok(&["clustermode", "cluster"]);
    site.gw(0)
        .cli_ok(&["smtproutes", "new", "race1.example", &route]);
    site.gw(1).cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "rcptaccess",
        "new",
        "race2.example",
        "accept",
    ]);
    site.commit_until_ok(0, "e2e: race one");
    let lost = site
        .gw(1)
        .cli(&["commit", "e2e: race two"])
        .expect_err("the second commit on the same revision is refused");
    assert!(
        lost.contains(
            "The cluster configuration changed since your changes were staged (now at revision"
        ) && lost.contains("commit again."),
        "{lost}"
    );
    site.commit_until_ok(1, "e2e: race two, again");
    for i in 0..3 {
        site.wait_config_has(i, "race1.example");
        site.wait_config_has(i, "race2.example");
    }

    // A machine-level override on gw3 stays on gw3.
    let mode = site.gw(2).cli_ok(&["clustermode", "machine"]);
    assert!(mode.contains("Current mode: Machine gw3"), "{mode}");
    let refused = site
        .gw(2)
        .cli(&[
            "listenerconfig",
            "edit",
            "IncomingMail",
            "rcptaccess",
            "new",
            "gw3only.example",
            "accept",
        ])
        .expect_err("listeners are defined at cluster level");
    assert!(
        refused.contains(&format!(
            "The settings of \"listenerconfig\" (listeners) are defined in Cluster {CLUSTER}."
        )),
        "{refused}"
    );
    site.gw(2)
        .cli_ok(&["clusterconfig", "override", "listeners", "machine"]);
    site.gw(2).cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "rcptaccess",
        "new",
        "gw3only.example",
        "accept",
    ]);
    site.commit_until_ok(2, "e2e: gw3's own RAT entry");
    site.wait_config_has(2, "gw3only.example");
    let levels = site.gw(2).cli_ok(&["clusterconfig", "levels", "listeners"]);
    assert!(levels.contains("Machine gw3"), "{levels}");
    for i in 0..2 {
        let levels = site.gw(i).cli_ok(&["clusterconfig", "levels", "listeners"]);
        assert!(
            levels.contains(&format!("Cluster {CLUSTER}")),
            "gw{}: {levels}",
            i + 1
        );
        let config = site.gw(i).cli_ok(&["showconfig"]);
        assert!(!config.contains("gw3only.example"), "gw{}: {config}", i + 1);
    }
    // clustercheck names the machine and the section that differ.
    let check = site.wait_output(0, &["clustercheck"], |out| {
        out.lines()
            .any(|l| l.contains("gw3") && l.contains("listeners"))
    });
    assert!(check.contains("Differs in"), "{check}");
}

/// etcd outages: with one member killed a cluster commit still works;
/// with all stopped mail keeps flowing, a cluster commit is refused and a
/// machine-level commit works, and a gateway restarted then starts on its
/// last configuration; once etcd is back the pending change lands on all.
#[test]
fn etcd_outages_keep_mail_flowing_and_pending_changes_land_later() {
    let mut site = Site::start();
    let route = site.route();
    site.gw(0).cli_ok(&["clustermode", "cluster"]);
    site.gw(0).cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "rcptaccess",
        "new",
        CLUSTER_DOMAIN,
        "accept",
    ]);
    site.gw(0)
        .cli_ok(&["smtproutes", "new", CLUSTER_DOMAIN, &route]);
    site.commit_until_ok(0, "e2e: cluster.example");
    for i in 0..3 {
        site.wait_config_has(i, CLUSTER_DOMAIN);
    }

    // One etcd member down: two of three still commit.
    site.etcd.kill_member(0);
    site.gw(0)
        .cli_ok(&["smtproutes", "new", "onedown.example", &route]);
    site.commit_until_ok(0, "e2e: one etcd member down");
    for i in 0..3 {
        site.wait_config_has(i, "onedown.example");
    }

    // All of etcd down.
    site.etcd.stop_all();
    site.wait_output(0, &["clusterconfig"], |out| {
        out.contains("Connection: unreachable since")
    });
    for i in 0..3 {
        site.mail_through(
            i,
            &format!("carol@{CLUSTER_DOMAIN}"),
            &format!("down-gw{}@e2e", i + 1),
        );
    }
    site.gw(0)
        .cli_ok(&["smtproutes", "new", "pending.example", &route]);
    let refused = site
        .gw(0)
        .cli(&["commit", "e2e: while etcd is down"])
        .expect_err("a cluster commit needs etcd");
    assert!(
        refused.contains(&format!(
            "Cannot commit in Cluster {CLUSTER}: the cluster's configuration store (etcd) is unreachable:"
        )) && refused.contains("Machine-level changes (clustermode machine) still work."),
        "{refused}"
    );
    // A machine-level change commits locally (and is copied to etcd once
    // it is back): gw3 takes over its routes and adds one.
    site.gw(2).cli_ok(&["clustermode", "machine"]);
    site.gw(2)
        .cli_ok(&["clusterconfig", "override", "smtp_routes", "machine"]);
    site.gw(2)
        .cli_ok(&["smtproutes", "new", "gw3down.example", &route]);
    site.commit_until_ok(2, "e2e: machine level while etcd is down");
    site.wait_config_has(2, "gw3down.example");

    // gw2 loses power while etcd is down, and starts on its last
    // configuration.
    site.gw_mut(1).kill9();
    site.gw_mut(1).start_again();
    site.wait_config_has(1, "onedown.example");
    site.mail_through(1, &format!("dave@{CLUSTER_DOMAIN}"), "restarted-gw2@e2e");

    // etcd returns: the pending change commits and lands on gw1 and gw2
    // (gw3 now defines smtp_routes itself).
    site.etcd.restart_all();
    site.commit_until_ok(0, "e2e: etcd is back");
    for i in 0..2 {
        site.wait_config_has(i, "pending.example");
    }
    let config = site.gw(2).cli_ok(&["showconfig"]);
    assert!(
        !config.contains("pending.example"),
        "gw3 overrides smtp_routes: {config}"
    );
    site.wait_output(0, &["clusterconfig"], |out| {
        out.contains("Connection: connected (revision")
    });
    let check = site.wait_output(0, &["clustercheck"], |out| {
        out.lines()
            .any(|l| l.contains("gw3") && l.contains("smtp_routes"))
    });
    assert!(check.contains("Differs in"), "{check}");
}

/// Two cluster-level commits are listed by `commitlog` in cluster mode;
/// `rollback` to the first and `commit` bring its settings back on every
/// member.
#[test]
fn cluster_commitlog_lists_commits_and_rollback_restores_the_first_on_all_members() {
    let site = Site::start();
    let route = site.route();
    site.gw(0).cli_ok(&["clustermode", "cluster"]);
    site.gw(0)
        .cli_ok(&["smtproutes", "new", "first.example", &route]);
    site.commit_until_ok(0, "e2e: first route");
    site.gw(0)
        .cli_ok(&["smtproutes", "new", "second.example", &route]);
    site.commit_until_ok(0, "e2e: second route");
    for i in 0..3 {
        site.wait_config_has(i, "second.example");
    }

    let log = site.gw(0).cli_ok(&["commitlog"]);
    let number_of = |log: &str, comment: &str| -> String {
        log.lines()
            .find(|l| l.contains(comment))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("commitlog has no \"{comment}\":\n{log}"))
            .to_string()
    };
    let first = number_of(&log, "e2e: first route");
    let second = number_of(&log, "e2e: second route");
    assert!(
        first.parse::<u64>().unwrap() < second.parse::<u64>().unwrap(),
        "{log}"
    );
    assert!(log.contains("gw1") && log.contains("admin"), "{log}");

    let staged = site.gw(0).cli_ok(&["rollback", &first]);
    assert!(
        staged.contains(&format!("at commit {first}")) && staged.contains("are staged"),
        "{staged}"
    );
    site.commit_until_ok(0, "e2e: back to the first route");
    for i in 0..3 {
        site.wait_output(i, &["showconfig"], |out| {
            out.contains("first.example") && !out.contains("second.example")
        });
    }
    let log = site.gw(0).cli_ok(&["commitlog"]);
    assert!(log.contains("e2e: back to the first route"), "{log}");
}

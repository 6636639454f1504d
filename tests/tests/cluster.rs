//! Clusters on etcd (issue 20, decision 0020): three etcd members and
//! three gateways on distinct loopback addresses, driven with the
//! `clusterconfig`, `clustermode`, `commit` and `clustercheck` commands an
//! administrator types.

use breakwater_e2e::{EtcdCluster, SOON, TestNet, wait_until};

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

//! `ntpconfig` against a real NTP server: Debian's chronyd on a loopback
//! address serves its clock at stratum 8; the gateway (the development
//! board, which measures but never sets the clock) is given its name
//! through the gateway's own resolver (dnsmasq) and a second server where
//! nothing answers. `ntpconfig status` shows chronyd reachable with its
//! stratum and an offset, the other unreachable; `settime` is refused
//! while NTP is on, as in AsyncOS.

use std::net::{Ipv4Addr, SocketAddrV4};

use breakwater_e2e::{
    CHRONY_NTP_PORT, CHRONY_STRATUM, Chrony, Dns, SOON, TestNet, World, wait_until,
};
use regex::Regex;

#[test]
fn ntpconfig_status_shows_chrony_reachable_with_its_stratum_and_an_offset() {
    let net = TestNet::new();
    let ntp_ip = Ipv4Addr::new(127, 3, net.n(), 123);
    let silent = SocketAddrV4::new(Ipv4Addr::new(127, 3, net.n(), 124), CHRONY_NTP_PORT);
    let chrony = Chrony::start(SocketAddrV4::new(ntp_ip, CHRONY_NTP_PORT));
    let dns = Dns::builder(&net)
        .host_record("time.e2e.test", ntp_ip)
        .start();
    let w = World::with_dns(net, dns);

    let off = w.gw.cli_ok(&["ntpconfig", "status"]);
    assert!(off.starts_with("NTP is disabled"), "{off}");

    let server = format!("time.e2e.test:{CHRONY_NTP_PORT}");
    let silent = silent.to_string();
    w.gw.cli_ok(&["ntpconfig", "new", &server]);
    w.gw.cli_ok(&["ntpconfig", "new", &silent]);
    w.gw.cli_ok(&["ntpconfig", "enable"]);
    w.gw.cli_ok(&["commit", "e2e: NTP from chronyd"]);

    let status = wait_until(SOON, || {
        let s = w.gw.cli_ok(&["ntpconfig", "status"]);
        s.contains("(reachable)").then_some(s)
    })
    .unwrap_or_else(|| {
        panic!(
            "chronyd never reachable:\n{}\nchronyd:\n{}",
            w.gw.cli_ok(&["ntpconfig", "status"]),
            chrony.log()
        )
    });
    assert!(status.starts_with("NTP is enabled"), "{status}");
    assert!(
        status.contains("development board: offsets are measured and reported only"),
        "{status}"
    );
    assert!(status.contains("Last sync: "), "{status}");
    let chrony_row = Regex::new(&format!(
        r"(?m)^time\.e2e\.test:{CHRONY_NTP_PORT} +{ip}:{CHRONY_NTP_PORT} +1 +{CHRONY_STRATUM} +[+-]\d+\.\d{{6}} +\+\d+\.\d{{6}}  \S+ \(reachable\)$",
        ip = regex::escape(&chrony.addr().ip().to_string()),
    ))
    .expect("regex");
    assert!(chrony_row.is_match(&status), "{status}");
    let silent_row = Regex::new(&format!(
        r"(?m)^{} .* unreachable: ",
        regex::escape(&silent)
    ))
    .expect("regex");
    assert!(silent_row.is_match(&status), "{status}");

    let refused =
        w.gw.cli(&["settime", "12/06/2026 17:30:00"])
            .expect_err("settime while NTP is on");
    assert!(refused.contains("while NTP is enabled"), "{refused}");

    w.gw.cli_ok(&["ntpconfig", "disable"]);
    w.gw.cli_ok(&["commit", "e2e: NTP off"]);
    let dev =
        w.gw.cli(&["settime", "12/06/2026 17:30:00"])
            .expect_err("the development board does not set the clock");
    assert!(dev.contains("does not set the clock"), "{dev}");
}

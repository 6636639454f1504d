//! Two appliance images in QEMU (TCG) join one cluster (issue 20) whose
//! etcd runs on the host: the guests reach it through QEMU's user-mode
//! network at the host's Management-side address (192.168.42.1), which
//! slirp forwards to the host's 127.0.0.1. An administrator imports etcd's
//! CA and a client certificate at each console, creates the cluster on
//! the first box, joins the second with the token, and a change committed
//! at cluster level on the first appears on the second.
//!
//! Like `appliance.rs`, this needs the built image; `tools/image
//! boot-test appliance_cluster` runs it (two VMs at once: run it alone,
//! `BREAKWATER_VM_THREADS=1`).

use std::time::Duration;

use breakwater_e2e::appliance::{PROMPT, first_login};
use breakwater_e2e::qemu::{HOST_VIA_MGMT, Vm, VmSpec};
use breakwater_e2e::{EVENTUALLY, EtcdCluster, TlsCert, wait_until};

const CLUSTER: &str = "Hosted_Cluster";
/// The console prompt of a clustered box in cluster mode.
const CLUSTER_PROMPT: &str = "(Cluster Hosted_Cluster)> ";
/// The prompt in machine mode, for the machine named `m`.
fn machine_prompt(m: &str) -> String {
    format!("(Machine {m})> ")
}

/// Types `cmd` and returns its output up to the next prompt, whichever of
/// the standalone or clustered prompts comes (a `create`, `join` or
/// `clustermode` changes it).
fn console(vm: &mut Vm, cmd: &str) -> String {
    vm.serial.line(cmd);
    vm.serial.expect(cmd, Duration::from_secs(30));
    let prompts = [
        PROMPT.to_string(),
        CLUSTER_PROMPT.to_string(),
        machine_prompt("vm1"),
        machine_prompt("vm2"),
        "(Group Main_Group)> ".to_string(),
    ];
    let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
    vm.serial.expect_any(&refs, Duration::from_secs(180))
}

/// Pastes PEM text after a command that ends in `-` (ended by `.`).
fn paste(vm: &mut Vm, cmd: &str, pem: &str) -> String {
    vm.serial.line(cmd);
    vm.serial
        .expect("Paste the text now", Duration::from_secs(30));
    for l in pem.lines() {
        vm.serial.line(l);
    }
    vm.serial.line(".");
    vm.serial.expect(PROMPT, Duration::from_secs(60))
}

/// Imports etcd's CA and this box's client certificate and commits.
fn trust_etcd(vm: &mut Vm, etcd: &EtcdCluster, cert: &TlsCert) {
    let ca = std::fs::read_to_string(etcd.ca_pem()).expect("read CA");
    let out = paste(vm, "certconfig certauthority import etcd_ca -", &ca);
    assert!(out.contains("Certificate authority etcd_ca added"), "{out}");
    let mut both = std::fs::read_to_string(&cert.chain).expect("read chain");
    both.push_str(&std::fs::read_to_string(&cert.key).expect("read key"));
    let out = paste(vm, "certconfig import etcd_client -", &both);
    assert!(!out.contains("rror"), "{out}");
    let out = console(vm, "commit e2e: etcd client certificate");
    assert!(out.contains("Changes committed"), "{out}");
}

#[test]
#[ignore = "needs the image: tools/image boot-test"]
fn two_appliances_join_one_cluster_on_the_hosts_etcd_and_share_a_cluster_change() {
    let etcd = EtcdCluster::start_for_guests(1, HOST_VIA_MGMT);
    let endpoints = etcd.endpoints_via(HOST_VIA_MGMT).join(",");

    let mut vm1 = Vm::boot(VmSpec::vesa());
    let mut vm2 = Vm::boot(VmSpec::vesa());
    first_login(&mut vm1);
    first_login(&mut vm2);
    trust_etcd(&mut vm1, &etcd, &etcd.client_cert("vm1"));
    trust_etcd(&mut vm2, &etcd, &etcd.client_cert("vm2"));

    let out = console(
        &mut vm1,
        &format!(
            "clusterconfig create {CLUSTER} --etcd {endpoints} --ca etcd_ca --certificate etcd_client --machine vm1"
        ),
    );
    assert!(
        out.contains(&format!(
            "Cluster {CLUSTER} created with this machine (vm1) in group Main_Group."
        )),
        "{out}"
    );
    let out = console(&mut vm1, "clusterconfig token");
    let token = out
        .lines()
        .map(str::trim)
        .filter(|l| {
            l.len() > 40
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .max_by_key(|l| l.len())
        .unwrap_or_else(|| panic!("no token in:\n{out}"))
        .to_string();

    let out = console(
        &mut vm2,
        &format!("clusterconfig join {token} --certificate etcd_client --machine vm2"),
    );
    assert!(
        out.contains(&format!(
            "Joined cluster {CLUSTER} as vm2 in group Main_Group"
        )),
        "{out}"
    );
    // Both machines are registered in etcd.
    let members = etcd.keys(&format!("/breakwater/v1/{CLUSTER}/members/"));
    assert_eq!(members.len(), 2, "{members:?}");

    // A cluster-level RAT entry committed on vm1 reaches vm2.
    let out = console(&mut vm1, "clustermode cluster");
    assert!(
        out.contains(&format!("Current mode: Cluster {CLUSTER}")),
        "{out}"
    );
    console(
        &mut vm1,
        "listenerconfig edit IncomingMail rcptaccess new vmcluster.example accept",
    );
    let out = console(&mut vm1, "commit e2e: cluster level from vm1");
    assert!(out.contains("Changes committed"), "{out}");
    let seen = wait_until(EVENTUALLY, || {
        let out = console(
            &mut vm2,
            "listenerconfig edit IncomingMail rcptaccess print",
        );
        out.contains("vmcluster.example").then_some(out)
    });
    assert!(
        seen.is_some(),
        "vm2 never showed the cluster's RAT entry:\n{}",
        vm2.serial.tail(40)
    );
    let converged = wait_until(EVENTUALLY, || {
        let out = console(&mut vm1, "clustercheck");
        out.contains("All 2 machines run cluster revision")
            .then_some(out)
    });
    assert!(converged.is_some(), "{}", vm1.serial.tail(20));
}

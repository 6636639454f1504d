//! DHCP on the Management port in QEMU (TCG), as a cloud or lab deploys
//! the virtual appliance: the `vesa` board's first boot asks QEMU's
//! user-mode DHCP server (slirp, handing out 192.168.42.42 first) for
//! Management's address, with nobody at the console; an administrator
//! then turns it into a static address and back.
//!
//! Like `appliance.rs`, this needs the built image; `tools/image
//! boot-test` runs every `appliance*.rs` file.

use std::time::Duration;

use breakwater_e2e::appliance::{first_login, login, reboot, run};
use breakwater_e2e::qemu::{BOOT, GUEST_MGMT, HOST_VIA_MGMT, Vm, VmSpec};

/// The console line init prints for slirp's lease (slirp's server is its
/// host address; its leases last a day).
fn lease_line() -> String {
    format!("Management is {GUEST_MGMT}/24 (DHCP from {HOST_VIA_MGMT}, lease 86400 s")
}

fn commit(vm: &mut Vm, comment: &str) {
    let out = run(vm, &format!("commit {comment}"));
    assert!(out.contains("Changes committed"), "{out}");
}

#[test]
#[ignore = "needs the image: tools/image boot-test"]
fn the_vesa_first_boot_takes_management_from_dhcp_and_an_administrator_can_go_static_and_back() {
    let mut vm = Vm::boot(VmSpec::vesa());
    let line = vm.serial.expect(&lease_line(), BOOT);
    let rest = vm.serial.expect("\n", Duration::from_secs(10));
    eprintln!("{}{rest}", line.lines().last().unwrap_or_default());
    assert!(
        rest.contains(&format!("default route via {HOST_VIA_MGMT}")),
        "no gateway is configured, so the lease's router is the default route: {rest}"
    );
    first_login(&mut vm);
    let status = run(&mut vm, "interfaceconfig print");
    assert!(
        status.contains(&format!(
            "Management ({GUEST_MGMT}/24: breakwater.example.com) DHCP from {HOST_VIA_MGMT}, lease 86400 s"
        )),
        "{status}"
    );

    // A static address: no DHCP at the next boot.
    let out = run(&mut vm, "interfaceconfig edit Management 192.168.42.50/24");
    assert!(
        out.contains("Interface Management set to 192.168.42.50/24"),
        "{out}"
    );
    commit(&mut vm, "static Management");
    reboot(&mut vm);
    vm.serial
        .expect("network: Management (mgmt) 192.168.42.50/24", BOOT);
    login(&mut vm);
    assert!(
        !vm.serial
            .text()
            .rsplit("SYSLINUX")
            .next()
            .unwrap_or_default()
            .contains("DHCP from"),
        "DHCP ran on a static Management:\n{}",
        vm.serial.tail(60)
    );
    let status = run(&mut vm, "interfaceconfig print");
    assert!(
        status.contains("Management (192.168.42.50/24: breakwater.example.com)")
            && !status.contains("DHCP"),
        "{status}"
    );

    // And back to DHCP.
    let out = run(&mut vm, "interfaceconfig edit Management dhcp");
    assert!(out.contains("Interface Management set to DHCP."), "{out}");
    commit(&mut vm, "DHCP on Management");
    reboot(&mut vm);
    vm.serial.expect(&lease_line(), BOOT);
    login(&mut vm);
    let status = run(&mut vm, "interfaceconfig print");
    assert!(
        status.contains(&format!(
            "Management ({GUEST_MGMT}/24: breakwater.example.com) DHCP"
        )),
        "{status}"
    );
}

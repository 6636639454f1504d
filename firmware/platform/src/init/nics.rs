//! Naming the network ports: which kernel interface is Management, Data 1
//! and Data 2, by the board profile's NIC rules.
//!
//! A rule names a port by MAC (`/sys/class/net/<if>/address`) or by bus
//! path: the PCI address (`0000:00:03.0`) found anywhere on the resolved
//! `device` link (or by its place in PCI order, [`pci_ranks`]) (`/sys/class/net/<if>/device`). For a virtio NIC that
//! link is the virtio device (`.../0000:00:03.0/virtio0`), so the PCI
//! address is a parent, not the link's last component.
//!
//! Everything here reads a sysfs tree given as a parameter, so the tests
//! run against a fake one.

use std::path::Path;

use breakwater_board::NicRule;

/// One network interface the kernel created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// The kernel's name (`eth0`, `enp0s3`).
    pub kernel_name: String,
    /// `52:54:00:12:34:56`, lowercase.
    pub mac: Option<String>,
    /// The resolved `device` link's components below `devices/`
    /// (`pci0000:00`, `0000:00:03.0`, `virtio0`).
    pub device_path: Vec<String>,
    /// The bound driver (`virtio_net`, `igb`).
    pub driver: Option<String>,
}

/// The kernel name an appliance interface gets: Linux names cannot hold a
/// space, and are at most 15 bytes.
pub fn kernel_name_for(name: &str) -> String {
    match name {
        "Management" => "mgmt".to_string(),
        other => other
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .take(15)
            .collect(),
    }
}

/// The ports under `<sys>/class/net`, loopback and virtual ones (without a
/// `device` link) left out, sorted by kernel name.
pub fn scan(sys: &Path) -> std::io::Result<Vec<Port>> {
    let mut ports = Vec::new();
    for entry in std::fs::read_dir(sys.join("class/net"))? {
        let entry = entry?;
        let dir = entry.path();
        let Some(kernel_name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let device = dir.join("device");
        let Ok(resolved) = std::fs::canonicalize(&device) else {
            continue;
        };
        let mac = std::fs::read_to_string(dir.join("address"))
            .ok()
            .map(|s| s.trim().to_ascii_lowercase());
        let driver = std::fs::canonicalize(device.join("driver"))
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
        ports.push(Port {
            kernel_name,
            mac,
            device_path: below_devices(&resolved),
            driver,
        });
    }
    ports.sort_by(|a, b| a.kernel_name.cmp(&b.kernel_name));
    Ok(ports)
}

fn below_devices(path: &Path) -> Vec<String> {
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.iter().rposition(|p| p == "devices") {
        Some(i) => parts[i + 1..].to_vec(),
        None => parts,
    }
}

/// Whether a rule picks this port.
pub fn matches(rule: &NicRule, port: &Port) -> bool {
    if let Some(mac) = &rule.mac {
        return port
            .mac
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case(mac.trim()));
    }
    if let Some(bus) = &rule.bus_path {
        return port.device_path.iter().any(|c| c == bus.trim());
    }
    false
}

/// One appliance interface and the port it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// "Management", "Data 1", "Data 2".
    pub name: String,
    /// What the kernel called it.
    pub kernel_name: String,
    /// What it is to be renamed to (`mgmt`, `data1`, `data2`).
    pub target_name: String,
    /// Set when the driver differs from the rule's expectation.
    pub driver_warning: Option<String>,
}

/// The outcome of matching the rules against the ports.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Naming {
    pub assigned: Vec<Assignment>,
    /// Rules no port matched (names).
    pub unmatched: Vec<String>,
    /// Ports no rule took (kernel names).
    pub spare: Vec<String>,
}

/// Each port's place (from 1) among the PCI network ports, by PCI address
/// path (`pci0000:00/0000:00:15.0/0000:03:00.0` sorts by its root port
/// first, as the bus is walked); `None` for a port not on PCI.
pub fn pci_ranks(ports: &[Port]) -> Vec<Option<u32>> {
    let on_pci = |p: &Port| p.device_path.first().is_some_and(|c| c.starts_with("pci"));
    let mut order: Vec<usize> = (0..ports.len()).filter(|i| on_pci(&ports[*i])).collect();
    order.sort_by(|a, b| ports[*a].device_path.cmp(&ports[*b].device_path));
    let mut ranks = vec![None; ports.len()];
    for (rank, i) in order.into_iter().enumerate() {
        ranks[i] = u32::try_from(rank + 1).ok();
    }
    ranks
}

/// Matches every rule, in the profile's order, to the first port not
/// taken yet.
pub fn assign(rules: &[NicRule], ports: &[Port]) -> Naming {
    let mut naming = Naming::default();
    let mut taken = vec![false; ports.len()];
    let ranks = pci_ranks(ports);
    for rule in rules {
        let found = ports.iter().enumerate().find(|(i, p)| {
            !taken[*i]
                && match rule.pci_order {
                    Some(n) => ranks[*i] == Some(n),
                    None => matches(rule, p),
                }
        });
        match found {
            Some((i, port)) => {
                taken[i] = true;
                let driver_warning = match (&rule.driver, &port.driver) {
                    (Some(want), Some(got)) if want != got => {
                        Some(format!("expected driver {want}, found {got}"))
                    }
                    (Some(want), None) => Some(format!("expected driver {want}, found none")),
                    _ => None,
                };
                naming.assigned.push(Assignment {
                    name: rule.name.clone(),
                    kernel_name: port.kernel_name.clone(),
                    target_name: kernel_name_for(&rule.name),
                    driver_warning,
                });
            }
            None => naming.unmatched.push(rule.name.clone()),
        }
    }
    naming.spare = ports
        .iter()
        .zip(&taken)
        .filter(|(_, t)| !**t)
        .map(|(p, _)| p.kernel_name.clone())
        .collect();
    naming
}

/// Scans until every rule matched or `timeout` passed: NICs appear a
/// little after their driver module loads.
pub fn wait_and_assign(sys: &Path, rules: &[NicRule], timeout: std::time::Duration) -> Naming {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let ports = scan(sys).unwrap_or_default();
        let naming = assign(rules, &ports);
        if naming.unmatched.is_empty() || std::time::Instant::now() >= deadline {
            return naming;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The interface's index, for netlink.
pub fn ifindex(sys: &Path, kernel_name: &str) -> Option<u32> {
    std::fs::read_to_string(sys.join("class/net").join(kernel_name).join("ifindex"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A fake sysfs: `devices/pci0000:00/<pci>/[virtio<n>/]net/<if>`, with
    /// `class/net/<if>` linking to it as on a real system.
    pub(crate) fn fake_nic(
        sys: &Path,
        ifname: &str,
        pci: &str,
        virtio: Option<&str>,
        mac: &str,
        driver: &str,
    ) {
        let mut dev = sys.join("devices/pci0000:00").join(pci);
        if let Some(v) = virtio {
            dev = dev.join(v);
        }
        let netdir = dev.join("net").join(ifname);
        std::fs::create_dir_all(&netdir).unwrap();
        std::fs::write(netdir.join("address"), format!("{mac}\n")).unwrap();
        std::fs::write(netdir.join("ifindex"), "3\n").unwrap();
        symlink("../..", netdir.join("device")).unwrap();
        let drv = sys.join("bus/drivers").join(driver);
        std::fs::create_dir_all(&drv).unwrap();
        symlink(&drv, dev.join("driver")).unwrap();
        std::fs::create_dir_all(sys.join("class/net")).unwrap();
        symlink(&netdir, sys.join("class/net").join(ifname)).unwrap();
    }

    fn rule(name: &str, mac: Option<&str>, bus: Option<&str>, driver: Option<&str>) -> NicRule {
        NicRule {
            name: name.into(),
            mac: mac.map(Into::into),
            bus_path: bus.map(Into::into),
            pci_order: None,
            driver: driver.map(Into::into),
        }
    }

    #[test]
    fn pci_order_follows_the_bus_behind_root_ports_as_on_vmware() {
        // VMware: vmxnet3 NICs behind PCIe root ports 15.0, 16.0, 17.0;
        // the kernel named them in another order.
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path();
        fake_nic(
            sys,
            "ens192",
            "0000:00:15.0/0000:03:00.0",
            None,
            "00:50:56:00:00:01",
            "vmxnet3",
        );
        fake_nic(
            sys,
            "ens224",
            "0000:00:17.0/0000:13:00.0",
            None,
            "00:50:56:00:00:03",
            "vmxnet3",
        );
        fake_nic(
            sys,
            "ens161",
            "0000:00:16.0/0000:0b:00.0",
            None,
            "00:50:56:00:00:02",
            "vmxnet3",
        );
        let vesa = breakwater_board::BoardProfile::builtin("vesa").unwrap();
        let naming = assign(&vesa.nic_rules, &scan(sys).unwrap());
        let macs: Vec<(&str, &str)> = naming
            .assigned
            .iter()
            .map(|a| (a.name.as_str(), a.kernel_name.as_str()))
            .collect();
        assert_eq!(
            macs,
            [
                ("Management", "ens192"),
                ("Data 1", "ens161"),
                ("Data 2", "ens224")
            ]
        );
    }

    fn virtio_sys() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path();
        // Kernel names in the "wrong" order: the rules must not care.
        fake_nic(
            sys,
            "eth0",
            "0000:00:05.0",
            Some("virtio2"),
            "52:54:00:00:00:05",
            "virtio_net",
        );
        fake_nic(
            sys,
            "eth1",
            "0000:00:03.0",
            Some("virtio0"),
            "52:54:00:00:00:03",
            "virtio_net",
        );
        fake_nic(
            sys,
            "eth2",
            "0000:00:04.0",
            Some("virtio1"),
            "52:54:00:00:00:04",
            "virtio_net",
        );
        // Loopback has no device link.
        std::fs::create_dir_all(sys.join("class/net/lo")).unwrap();
        dir
    }

    #[test]
    fn the_vesa_profile_names_virtio_ports_by_pci_slot() {
        let dir = virtio_sys();
        let vesa = breakwater_board::BoardProfile::builtin("vesa").unwrap();
        let ports = scan(dir.path()).unwrap();
        assert_eq!(ports.len(), 3, "lo is left out");
        assert_eq!(ports[1].mac.as_deref(), Some("52:54:00:00:00:03"));
        assert_eq!(ports[1].driver.as_deref(), Some("virtio_net"));
        let naming = assign(&vesa.nic_rules, &ports);
        let pairs: Vec<(&str, &str, &str)> = naming
            .assigned
            .iter()
            .map(|a| {
                (
                    a.name.as_str(),
                    a.kernel_name.as_str(),
                    a.target_name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            [
                ("Management", "eth1", "mgmt"),
                ("Data 1", "eth2", "data1"),
                ("Data 2", "eth0", "data2")
            ]
        );
        assert!(naming.unmatched.is_empty() && naming.spare.is_empty());
        assert!(naming.assigned.iter().all(|a| a.driver_warning.is_none()));
    }

    #[test]
    fn mac_rules_match_case_insensitively_and_report_missing_ports() {
        let dir = virtio_sys();
        let rules = [
            rule("Management", Some("52:54:00:00:00:04"), None, Some("igb")),
            rule("Data 1", Some("52:54:00:00:00:99"), None, None),
            rule("Data 2", Some("52:54:00:00:00:03"), None, None),
        ];
        let naming = assign(&rules, &scan(dir.path()).unwrap());
        assert_eq!(naming.assigned[0].kernel_name, "eth2");
        assert_eq!(
            naming.assigned[0].driver_warning.as_deref(),
            Some("expected driver igb, found virtio_net")
        );
        assert_eq!(naming.assigned[1].name, "Data 2");
        assert_eq!(naming.assigned[1].kernel_name, "eth1");
        assert_eq!(naming.unmatched, ["Data 1"]);
        assert_eq!(naming.spare, ["eth0"]);
    }

    #[test]
    fn a_pci_nic_matches_its_own_address() {
        let dir = tempfile::tempdir().unwrap();
        fake_nic(
            dir.path(),
            "enp2s0",
            "0000:02:00.0",
            None,
            "00:1B:21:AA:BB:CC",
            "igb",
        );
        let r = rule("Management", None, Some("0000:02:00.0"), Some("igb"));
        let ports = scan(dir.path()).unwrap();
        assert!(matches(&r, &ports[0]));
        assert!(!matches(
            &rule("Management", None, Some("0000:02:00"), None),
            &ports[0]
        ));
        assert!(matches(
            &rule("x", Some("00:1b:21:aa:bb:cc"), None, None),
            &ports[0]
        ));
        assert_eq!(ifindex(dir.path(), "enp2s0"), Some(3));
    }

    #[test]
    fn kernel_names_are_valid_linux_names() {
        assert_eq!(kernel_name_for("Management"), "mgmt");
        assert_eq!(kernel_name_for("Data 1"), "data1");
        assert_eq!(kernel_name_for("Data 2"), "data2");
    }

    #[test]
    fn waiting_gives_up_after_the_timeout() {
        let dir = virtio_sys();
        let rules = [rule("Management", Some("00:00:00:00:00:01"), None, None)];
        let t = std::time::Instant::now();
        let naming = wait_and_assign(dir.path(), &rules, std::time::Duration::from_millis(300));
        assert_eq!(naming.unmatched, ["Management"]);
        assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    }
}

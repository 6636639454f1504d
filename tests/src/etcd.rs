//! A real etcd cluster for the cluster tests (issue 20).
//!
//! [`EtcdCluster::start`] runs `n` members of Debian's `etcd-server`
//! (`/usr/bin/etcd`, 3.4) on this test's slot of 127/8:
//!
//! | member | client URL | peer URL |
//! | --- | --- | --- |
//! | `i` (0-based) | `https://127.8.n.(i+1):2379` | `https://127.8.n.(i+1):2380` |
//!
//! Both the client and the peer side speak TLS and demand a client
//! certificate (`--client-cert-auth`, `--peer-client-cert-auth`), as a site
//! would run it for appliances. The test's own CA (made with `openssl`)
//! signs every member's certificate and the client certificates handed to
//! gateways ([`EtcdCluster::client_cert`]), which the tests import with
//! `certconfig import` and `certconfig certauthority import` as an
//! administrator would.
//!
//! [`EtcdCluster::etcdctl`] is Debian's `etcdctl` (v3 API) with the TLS
//! flags, to read what the gateways wrote. Members are SIGKILLed when the
//! handle drops; their data dirs live in a temp dir removed with it.

use std::fs;
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::net::TestNet;
use crate::proc::{kill_and_reap, tail};
use crate::tls_mx::TlsCert;
use crate::{EVENTUALLY, wait_until};

/// Port of every member's client URL.
pub const ETCD_CLIENT_PORT: u16 = 2379;
/// Port of every member's peer URL.
pub const ETCD_PEER_PORT: u16 = 2380;

const ETCD: &str = "/usr/bin/etcd";
const ETCDCTL: &str = "/usr/bin/etcdctl";

/// The address of member `i` (0-based) in this test's slot: `127.8.n.(i+1)`.
#[must_use]
pub fn etcd_ip(net: &TestNet, i: usize) -> Ipv4Addr {
    let x = u8::try_from(i + 1).expect("at most 254 etcd members");
    Ipv4Addr::new(127, 8, net.n(), x)
}

/// One etcd member: its name, address, data dir and process.
#[derive(Debug)]
struct Member {
    name: String,
    ip: Ipv4Addr,
    client_port: u16,
    peer_port: u16,
    data_dir: PathBuf,
    log: PathBuf,
    cert: TlsCert,
    child: Option<Child>,
}

/// `n` etcd members with client and peer TLS; killed on drop.
#[derive(Debug)]
pub struct EtcdCluster {
    members: Vec<Member>,
    ca: TlsCert,
    /// The certificate `etcdctl` presents.
    admin: TlsCert,
    dir: TempDir,
}

impl EtcdCluster {
    /// Makes the CA and certificates and starts `n` members on `net`'s
    /// 127.8.n.x addresses; returns once every member answers
    /// a linearizable read.
    ///
    /// # Panics
    /// When `/usr/bin/etcd` or `/usr/bin/etcdctl` is missing (install
    /// `etcd-server` and `etcd-client`, see tools/packages.txt), or the
    /// cluster does not become healthy.
    #[must_use]
    pub fn start(net: &TestNet, n: usize) -> EtcdCluster {
        let addrs = (0..n)
            .map(|i| (etcd_ip(net, i), ETCD_CLIENT_PORT, ETCD_PEER_PORT))
            .collect();
        EtcdCluster::start_at(addrs, &[])
    }

    /// `n` members for appliance VMs: QEMU's user-mode network forwards a
    /// guest's connections to the host's 127.0.0.1 only, so the members
    /// listen there on free ports, and their certificates also name
    /// `guest_view`, the host's address as the guests see it (e.g.
    /// [`crate::qemu::HOST_VIA_MGMT`]); the guests use
    /// [`EtcdCluster::endpoints_via`]`(guest_view)`.
    ///
    /// # Panics
    /// As [`EtcdCluster::start`].
    #[must_use]
    pub fn start_for_guests(n: usize, guest_view: Ipv4Addr) -> EtcdCluster {
        let addrs = (0..n)
            .map(|_| {
                (
                    Ipv4Addr::LOCALHOST,
                    crate::qemu::free_port(),
                    crate::qemu::free_port(),
                )
            })
            .collect();
        EtcdCluster::start_at(addrs, &[guest_view])
    }

    fn start_at(addrs: Vec<(Ipv4Addr, u16, u16)>, extra_ips: &[Ipv4Addr]) -> EtcdCluster {
        let n = addrs.len();
        for program in [ETCD, ETCDCTL] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: install Debian's etcd-server and etcd-client (tools/packages.txt)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("bw-etcd-")
            .tempdir()
            .expect("etcd temp dir");
        let ca = TlsCert::ca(dir.path(), "etcd-ca");
        let admin = issue(dir.path(), &ca, "etcdctl", "etcdctl.test.local", &[]);
        let members = addrs
            .into_iter()
            .enumerate()
            .map(|(i, (ip, client_port, peer_port))| {
                let name = format!("etcd{}", i + 1);
                let mut ips = vec![ip];
                ips.extend_from_slice(extra_ips);
                let cert = issue(dir.path(), &ca, &name, &name, &ips);
                Member {
                    client_port,
                    peer_port,
                    data_dir: dir.path().join(format!("{name}.data")),
                    log: dir.path().join(format!("{name}.log")),
                    name,
                    ip,
                    cert,
                    child: None,
                }
            })
            .collect();
        let mut cluster = EtcdCluster {
            members,
            ca,
            admin,
            dir,
        };
        for i in 0..n {
            cluster.spawn(i);
        }
        cluster.wait_healthy(&(0..n).collect::<Vec<_>>());
        cluster
    }

    /// Number of members (running or not).
    #[must_use]
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the cluster has no members.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Every member's client URL, `https://127.8.n.x:2379`.
    #[must_use]
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(Member::client_url).collect()
    }

    /// The client URLs with the host part `host` (the ports stay): what a
    /// guest VM reaches through QEMU's forwarding, see
    /// [`EtcdCluster::start_for_guests`].
    #[must_use]
    pub fn endpoints_via(&self, host: Ipv4Addr) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("https://{host}:{}", m.client_port))
            .collect()
    }

    /// [`EtcdCluster::endpoints`] joined by commas, the form
    /// `clusterconfig create --etcd` takes.
    #[must_use]
    pub fn endpoints_arg(&self) -> String {
        self.endpoints().join(",")
    }

    /// Client address of member `i`.
    #[must_use]
    pub fn client_addr(&self, i: usize) -> SocketAddrV4 {
        SocketAddrV4::new(self.members[i].ip, self.members[i].client_port)
    }

    /// The CA certificate (PEM file) that signed every member's and every
    /// client's certificate: what `certconfig certauthority import` takes.
    #[must_use]
    pub fn ca_pem(&self) -> &Path {
        &self.ca.cert
    }
    /// Gives `gw` what joining this etcd takes, as an administrator does
    /// with `certconfig`: the CA (`etcd_ca`) and a client certificate for
    /// `machine` (`etcd_client`), committed.
    pub fn trust_on(&self, gw: &crate::Gateway, machine: &str) {
        let cert = self.client_cert(machine);
        gw.cli_ok(&[
            "certconfig",
            "import",
            "etcd_client",
            &cert.chain.display().to_string(),
            &cert.key.display().to_string(),
        ]);
        let ca = self.ca_pem().display().to_string();
        gw.cli_ok(&["certconfig", "certauthority", "import", "etcd_ca", &ca]);
        gw.cli_ok(&["commit", "e2e: etcd client certificate"]);
    }

    /// A client certificate for a gateway (`name` is its file stem and
    /// Common Name), issued by the cluster's CA, with both the clientAuth
    /// and serverAuth uses (so `certconfig import` takes it): `cert` and
    /// `key` are the PEM files `certconfig import NAME CERT KEY` reads.
    #[must_use]
    pub fn client_cert(&self, name: &str) -> TlsCert {
        issue(
            self.dir.path(),
            &self.ca,
            name,
            &format!("{name}.test.local"),
            &[],
        )
    }

    /// A directory the tests may write scratch files to (removed on drop).
    #[must_use]
    pub fn scratch_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `etcdctl` (v3 API) against the running members, with the CA and the
    /// test's own client certificate: stdout, or stderr on failure.
    ///
    /// # Errors
    /// The error text of `etcdctl`.
    pub fn etcdctl(&self, args: &[&str]) -> Result<String, String> {
        let endpoints: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.child.is_some())
            .map(Member::client_url)
            .collect();
        let endpoints = if endpoints.is_empty() {
            self.endpoints()
        } else {
            endpoints
        };
        self.etcdctl_with(&endpoints, Some((&self.admin.cert, &self.admin.key)), args)
    }

    /// `etcdctl` against `endpoints`, presenting `client` (cert, key) when
    /// given; for tests of the TLS set-up itself.
    ///
    /// # Errors
    /// The error text of `etcdctl`.
    pub fn etcdctl_with(
        &self,
        endpoints: &[String],
        client: Option<(&Path, &Path)>,
        args: &[&str],
    ) -> Result<String, String> {
        let mut cmd = Command::new(ETCDCTL);
        cmd.env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", endpoints.join(",")))
            .arg(format!("--cacert={}", self.ca.cert.display()))
            .arg("--dial-timeout=5s")
            .arg("--command-timeout=10s");
        if let Some((cert, key)) = client {
            cmd.arg(format!("--cert={}", cert.display()))
                .arg(format!("--key={}", key.display()));
        }
        let out = cmd
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {ETCDCTL}: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!("{}{stdout}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// The value of `key`, `None` when it does not exist.
    ///
    /// # Panics
    /// When `etcdctl get` fails.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<String> {
        let out = self
            .etcdctl(&["get", "--print-value-only", key])
            .unwrap_or_else(|e| panic!("etcdctl get {key}: {e}"));
        let value = out.strip_suffix('\n').unwrap_or(&out);
        (!out.is_empty()).then(|| value.to_string())
    }

    /// The keys under `prefix`.
    ///
    /// # Panics
    /// When `etcdctl get --prefix` fails.
    #[must_use]
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        self.etcdctl(&["get", "--prefix", "--keys-only", prefix])
            .unwrap_or_else(|e| panic!("etcdctl get --prefix {prefix}: {e}"))
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// SIGKILL to member `i` (a crashed or unplugged etcd host).
    pub fn kill_member(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            kill_and_reap(&mut child);
        }
    }

    /// Starts member `i` again on its data dir and waits until it is
    /// healthy.
    ///
    /// # Panics
    /// When it is running already or does not become healthy.
    pub fn start_member(&mut self, i: usize) {
        assert!(self.members[i].child.is_none(), "etcd member {i} runs");
        self.spawn(i);
        self.wait_healthy(&[i]);
    }

    /// Whether member `i` runs.
    pub fn is_running(&mut self, i: usize) -> bool {
        self.members[i]
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGKILL to every member (etcd is gone as a whole).
    pub fn stop_all(&mut self) {
        for i in 0..self.members.len() {
            self.kill_member(i);
        }
    }

    /// Starts every stopped member again on its data dir (the cluster's
    /// keys survive) and waits until all are healthy.
    ///
    /// # Panics
    /// When the cluster does not become healthy.
    pub fn restart_all(&mut self) {
        let stopped: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.members[i].child.is_none())
            .collect();
        for &i in &stopped {
            self.spawn(i);
        }
        self.wait_healthy(&stopped);
    }

    fn spawn(&mut self, i: usize) {
        let initial_cluster = self
            .members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect::<Vec<_>>()
            .join(",");
        let m = &self.members[i];
        // A member restarted on its data dir ignores the initial flags.
        let state = if m.data_dir.join("member").exists() {
            "existing"
        } else {
            "new"
        };
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log)
            .expect("etcd log file");
        let ca = self.ca.cert.display().to_string();
        let cert = m.cert.cert.display().to_string();
        let key = m.cert.key.display().to_string();
        let child = Command::new(ETCD)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .arg("--name")
            .arg(&m.name)
            .arg("--data-dir")
            .arg(&m.data_dir)
            .arg("--listen-client-urls")
            .arg(m.client_url())
            .arg("--advertise-client-urls")
            .arg(m.client_url())
            .arg("--listen-peer-urls")
            .arg(m.peer_url())
            .arg("--initial-advertise-peer-urls")
            .arg(m.peer_url())
            .arg("--initial-cluster")
            .arg(&initial_cluster)
            .arg("--initial-cluster-state")
            .arg(state)
            .arg("--initial-cluster-token")
            .arg(format!("bw-e2e-{}", std::process::id()))
            .args(["--client-cert-auth", "--trusted-ca-file", &ca])
            .args(["--cert-file", &cert, "--key-file", &key])
            .args(["--peer-client-cert-auth", "--peer-trusted-ca-file", &ca])
            .args(["--peer-cert-file", &cert, "--peer-key-file", &key])
            // Small, quick elections: members come and go during the tests.
            .args(["--heartbeat-interval", "100", "--election-timeout", "1000"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("etcd log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {ETCD}: {e}"));
        self.members[i].child = Some(child);
    }

    /// Waits until each of `members` answers a linearizable read (which
    /// needs a quorum: a lone member restarted while the others are down
    /// is never healthy).
    fn wait_healthy(&mut self, members: &[usize]) {
        for &i in members {
            let url = self.members[i].client_url();
            let addr = self.client_addr(i);
            let mut last = String::new();
            let healthy = wait_until(EVENTUALLY, || {
                if let Some(Ok(Some(status))) = self.members[i].child.as_mut().map(Child::try_wait)
                {
                    panic!(
                        "etcd member {} exited ({status}); log:\n{}",
                        self.members[i].name,
                        tail(&self.members[i].log, 40)
                    );
                }
                // Not before it listens (etcdctl would wait its dial timeout).
                TcpStream::connect_timeout(&addr.into(), Duration::from_secs(1)).ok()?;
                match self.etcdctl_with(
                    std::slice::from_ref(&url),
                    Some((&self.admin.cert, &self.admin.key)),
                    // A linearizable read: answered only with a quorum and a leader.
                    &["get", "/breakwater-e2e/health"],
                ) {
                    Ok(_) => Some(()),
                    Err(out) => {
                        last = out;
                        std::thread::sleep(Duration::from_millis(500));
                        None
                    }
                }
            });
            assert!(
                healthy.is_some(),
                "etcd member {} not healthy within {EVENTUALLY:?}: {last}\nlog:\n{}",
                self.members[i].name,
                tail(&self.members[i].log, 40)
            );
        }
    }

    /// The last lines of member `i`'s log, for failure reports.
    #[must_use]
    pub fn log_tail(&self, i: usize) -> String {
        tail(&self.members[i].log, 40)
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for m in &self.members {
                eprintln!(
                    "---- etcd {} log (last 15 lines) ----\n{}",
                    m.name,
                    tail(&m.log, 15)
                );
            }
        }
        for m in &mut self.members {
            if let Some(mut child) = m.child.take() {
                kill_and_reap(&mut child);
            }
        }
    }
}

impl Member {
    fn client_url(&self) -> String {
        format!("https://{}:{}", self.ip, self.client_port)
    }

    fn peer_url(&self) -> String {
        format!("https://{}:{}", self.ip, self.peer_port)
    }
}

/// A P-256 certificate with Common Name `cn` issued by `ca`, usable both
/// as a TLS server and client certificate (etcd peers are both), with a
/// DNS name, 127.0.0.1 and `ips` (a member's own addresses) as subject
/// alternative names.
fn issue(dir: &Path, ca: &TlsCert, name: &str, cn: &str, ips: &[Ipv4Addr]) -> TlsCert {
    let (cert, key, csr) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.csr")),
    );
    run_openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &key.display().to_string(),
        "-out",
        &csr.display().to_string(),
        "-subj",
        &format!("/CN={cn}"),
    ]);
    let ext = dir.join(format!("{name}.ext"));
    // etcd compares a client's (and a peer's) certificate with the
    // address the connection comes from; connections to 127.8.n.x leave
    // from 127.0.0.1, so every certificate names it.
    let mut san = format!("DNS:{cn}");
    let mut named: Vec<Ipv4Addr> = Vec::new();
    for &ip in ips.iter().chain(std::iter::once(&Ipv4Addr::LOCALHOST)) {
        if !named.contains(&ip) {
            named.push(ip);
            san.push_str(&format!(",IP:{ip}"));
        }
    }
    fs::write(
        &ext,
        format!(
            "subjectAltName={san}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyAgreement\nbasicConstraints=CA:FALSE\n"
        ),
    )
    .expect("write extensions");
    run_openssl(&[
        "x509",
        "-req",
        "-in",
        &csr.display().to_string(),
        "-CA",
        &ca.cert.display().to_string(),
        "-CAkey",
        &ca.key.display().to_string(),
        "-CAcreateserial",
        "-days",
        "30",
        "-extfile",
        &ext.display().to_string(),
        "-out",
        &cert.display().to_string(),
    ]);
    let chain = dir.join(format!("{name}.chain.pem"));
    let mut pem = fs::read_to_string(&cert).expect("read cert");
    pem.push_str(&fs::read_to_string(&ca.cert).expect("read CA"));
    fs::write(&chain, pem).expect("write chain");
    TlsCert { cert, key, chain }
}

fn run_openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl (Debian's openssl package, tools/packages.txt)");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

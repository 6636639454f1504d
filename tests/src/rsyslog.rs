//! Debian's `rsyslogd` as a syslog receiver on a loopback address: imtcp
//! (RFC 6587 octet counting) and imudp on unprivileged ports, each input
//! writing `APP-NAME HOSTNAME MSG` lines to its own file in a temp dir.

use std::fs;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

pub struct Rsyslog {
    dir: tempfile::TempDir,
    ip: Ipv4Addr,
    tcp_port: u16,
    udp_port: u16,
    /// The TLS input (gtls driver): its port and (certificate, key, CA) files.
    tls: Option<(u16, [PathBuf; 3])>,
    child: Option<Child>,
}

impl Rsyslog {
    /// Starts rsyslogd on `ip` (TCP and UDP ports picked free) and waits
    /// until its TCP port accepts connections.
    ///
    /// # Panics
    /// When rsyslogd (package `rsyslog`, tools/packages.txt) is missing or
    /// does not start.
    #[must_use]
    pub fn start(ip: Ipv4Addr) -> Rsyslog {
        Self::start_with(ip, None)
    }

    /// As [`Rsyslog::start`], plus a TLS input (RFC 5425, rsyslog's gtls
    /// driver from `rsyslog-gnutls`) serving `cert` and `key`, `ca` its issuer.
    ///
    /// # Panics
    /// As [`Rsyslog::start`].
    #[must_use]
    pub fn start_tls(ip: Ipv4Addr, cert: &Path, key: &Path, ca: &Path) -> Rsyslog {
        Self::start_with(
            ip,
            Some([cert.to_path_buf(), key.to_path_buf(), ca.to_path_buf()]),
        )
    }

    fn start_with(ip: Ipv4Addr, tls: Option<[PathBuf; 3]>) -> Rsyslog {
        assert!(
            Path::new(RSYSLOGD).exists(),
            "{RSYSLOGD} is missing: install the rsyslog package (tools/packages.txt)"
        );
        let dir = tempfile::Builder::new()
            .prefix("bw-rsyslog-")
            .tempdir()
            .expect("rsyslog temp dir");
        let tcp_port = TcpListener::bind((ip, 0))
            .and_then(|l| l.local_addr())
            .expect("free TCP port")
            .port();
        let udp_port = UdpSocket::bind((ip, 0))
            .and_then(|s| s.local_addr())
            .expect("free UDP port")
            .port();
        let tls = tls.map(|files| {
            let port = TcpListener::bind((ip, 0))
                .and_then(|l| l.local_addr())
                .expect("free TCP port")
                .port();
            (port, files)
        });
        let mut r = Rsyslog {
            dir,
            ip,
            tcp_port,
            udp_port,
            tls,
            child: None,
        };
        r.write_config();
        r.restart();
        r
    }

    fn write_config(&self) {
        let d = self.dir.path();
        fs::create_dir_all(d.join("work")).expect("work dir");
        let tls = match &self.tls {
            None => String::new(),
            Some((port, [cert, key, ca])) => format!(
                r#"global(DefaultNetstreamDriverCAFile="{ca}" DefaultNetstreamDriverCertFile="{cert}" DefaultNetstreamDriverKeyFile="{key}")
ruleset(name="tls") {{ action(type="omfile" file="{file}" template="line") }}
input(type="imtcp" address="{ip}" port="{port}" ruleset="tls" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
"#,
                ca = ca.display(),
                cert = cert.display(),
                key = key.display(),
                file = self.tls_log().display(),
                ip = self.ip,
            ),
        };
        let conf = format!(
            r#"global(workDirectory="{work}")
module(load="imtcp")
module(load="imudp")
template(name="line" type="string" string="%app-name% %hostname% %msg%\n")
ruleset(name="tcp") {{ action(type="omfile" file="{tcp}" template="line") }}
ruleset(name="udp") {{ action(type="omfile" file="{udp}" template="line") }}
input(type="imtcp" address="{ip}" port="{tcp_port}" ruleset="tcp")
input(type="imudp" address="{ip}" port="{udp_port}" ruleset="udp")
{tls}"#,
            work = d.join("work").display(),
            tcp = self.tcp_log().display(),
            udp = self.udp_log().display(),
            ip = self.ip,
            tcp_port = self.tcp_port,
            udp_port = self.udp_port,
        );
        fs::write(d.join("rsyslog.conf"), conf).expect("rsyslog.conf");
    }

    /// `host:port` of the TCP input.
    #[must_use]
    pub fn tcp_addr(&self) -> String {
        format!("{}:{}", self.ip, self.tcp_port)
    }

    /// `host:port` of the UDP input.
    #[must_use]
    pub fn udp_addr(&self) -> String {
        format!("{}:{}", self.ip, self.udp_port)
    }

    /// `host:port` of the TLS input.
    ///
    /// # Panics
    /// When started without TLS.
    #[must_use]
    pub fn tls_addr(&self) -> String {
        let (port, _) = self.tls.as_ref().expect("started with start_tls");
        format!("{}:{port}", self.ip)
    }

    /// Lines received over TLS so far.
    #[must_use]
    pub fn tls_lines(&self) -> Vec<String> {
        read_lines(&self.tls_log())
    }

    fn tls_log(&self) -> PathBuf {
        self.dir.path().join("tls.log")
    }

    fn tcp_log(&self) -> PathBuf {
        self.dir.path().join("tcp.log")
    }

    fn udp_log(&self) -> PathBuf {
        self.dir.path().join("udp.log")
    }

    /// Lines received over TCP so far (`APP-NAME HOSTNAME MSG`).
    #[must_use]
    pub fn tcp_lines(&self) -> Vec<String> {
        read_lines(&self.tcp_log())
    }

    /// Lines received over UDP so far.
    #[must_use]
    pub fn udp_lines(&self) -> Vec<String> {
        read_lines(&self.udp_log())
    }

    /// SIGKILL, no chance to flush: the receiver crashing mid-stream.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = fs::remove_file(self.dir.path().join("rsyslog.pid"));
    }

    /// (Re)starts rsyslogd with the same ports and files; waits until the
    /// TCP input accepts a connection.
    ///
    /// # Panics
    /// When it does not come up.
    pub fn restart(&mut self) {
        self.kill();
        let d = self.dir.path();
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(d.join("rsyslog.conf"))
            .arg("-i")
            .arg(d.join("rsyslog.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                fs::File::create(d.join("rsyslogd.err")).expect("stderr file"),
            ))
            .spawn()
            .expect("start rsyslogd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect((self.ip, self.tcp_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "rsyslogd did not listen on {}: {}",
                self.tcp_addr(),
                fs::read_to_string(d.join("rsyslogd.err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

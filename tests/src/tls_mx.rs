//! Mail exchangers with STARTTLS for the DANE tests: one Python process
//! (stdlib `smtplib`-free `socketserver` + `ssl`) listening on port 25 of
//! several `127.6.n.x` addresses, each with its own certificate chain,
//! writing every event as a JSON line:
//!
//! ```text
//! {"ip": "127.6.1.1", "event": "connect"}
//! {"ip": "127.6.1.1", "event": "starttls", "version": "TLSv1.2", "cipher": "ECDHE-RSA-AES128-GCM-SHA256"}
//! {"ip": "127.6.1.1", "event": "tls_error", "error": "..."}
//! {"ip": "127.6.1.1", "event": "mail", "tls": true, "arg": "<a@b>"}
//! {"ip": "127.6.1.1", "event": "data", "tls": true, "size": 123}
//! ```
//!
//! Certificates come from `openssl` (installed with Debian's base system):
//! [`TlsCert::self_signed`] for DANE-EE, [`TlsCert::issued`] by a
//! [`TlsCert::ca`] for DANE-TA. The hashes a TLSA record needs are
//! computed with `openssl` as an administrator would.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use tempfile::TempDir;

use crate::net::TestNet;
use crate::proc::{kill_and_reap, tail};

/// `127.6.n.x`: an address for one of this test's TLS mail exchangers.
#[must_use]
pub fn tls_mx_ip(net: &TestNet, x: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 6, net.n(), x)
}

/// A PEM certificate and key made with `openssl`; `chain` is what the
/// server sends (the certificate, then its issuer when there is one).
#[derive(Debug, Clone)]
pub struct TlsCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub chain: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sh(dir: &Path, script: &str) -> String {
    let out = Command::new("sh")
        .current_dir(dir)
        .arg("-c")
        .arg(script)
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl TlsCert {
    /// A self-signed P-256 certificate for `host`, in `dir` as `<name>.*`.
    #[must_use]
    pub fn self_signed(dir: &Path, name: &str, host: &str) -> TlsCert {
        let (cert, key) = (format!("{name}.crt"), format!("{name}.key"));
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &cert,
                "-days",
                "30",
                "-subj",
                &format!("/CN={host}"),
                "-addext",
                &format!("subjectAltName=DNS:{host}"),
            ],
        );
        TlsCert {
            cert: dir.join(&cert),
            key: dir.join(&key),
            chain: dir.join(&cert),
        }
    }

    /// A self-signed RSA-2048 certificate for `host` (for `ECDHE-RSA-…`
    /// suites), in `dir` as `<name>.*`.
    #[must_use]
    pub fn self_signed_rsa(dir: &Path, name: &str, host: &str) -> TlsCert {
        let (cert, key) = (format!("{name}.crt"), format!("{name}.key"));
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &cert,
                "-days",
                "30",
                "-subj",
                &format!("/CN={host}"),
                "-addext",
                &format!("subjectAltName=DNS:{host}"),
            ],
        );
        TlsCert {
            cert: dir.join(&cert),
            key: dir.join(&key),
            chain: dir.join(&cert),
        }
    }

    /// A CA certificate (to be a DANE-TA trust anchor).
    #[must_use]
    pub fn ca(dir: &Path, name: &str) -> TlsCert {
        let (cert, key) = (format!("{name}.crt"), format!("{name}.key"));
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &cert,
                "-days",
                "30",
                "-subj",
                &format!("/CN={name} test CA"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        TlsCert {
            cert: dir.join(&cert),
            key: dir.join(&key),
            chain: dir.join(&cert),
        }
    }

    /// A certificate for `host` (a name, or an IP address) issued by `ca`;
    /// the chain includes `ca`.
    #[must_use]
    pub fn issued(dir: &Path, name: &str, host: &str, ca: &TlsCert) -> TlsCert {
        let (cert, key, csr) = (
            format!("{name}.crt"),
            format!("{name}.key"),
            format!("{name}.csr"),
        );
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={host}"),
            ],
        );
        let ext = dir.join(format!("{name}.ext"));
        fs::write(
            &ext,
            // An address gets an IP SAN (an HTTPS server reached by IP).
            format!(
                "subjectAltName={}:{host}\nextendedKeyUsage=serverAuth\n",
                if host.parse::<std::net::IpAddr>().is_ok() {
                    "IP"
                } else {
                    "DNS"
                }
            ),
        )
        .expect("write extensions");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
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
                &cert,
            ],
        );
        let chain = dir.join(format!("{name}.chain.pem"));
        let mut pem = fs::read_to_string(dir.join(&cert)).expect("read cert");
        pem.push_str(&fs::read_to_string(&ca.cert).expect("read CA"));
        fs::write(&chain, pem).expect("write chain");
        TlsCert {
            cert: dir.join(&cert),
            key: dir.join(&key),
            chain,
        }
    }

    /// SHA-256 of the certificate's SubjectPublicKeyInfo, in hex: the data
    /// of a `x 1 1` TLSA record.
    #[must_use]
    pub fn spki_sha256(&self) -> String {
        let dir = self.cert.parent().expect("cert dir");
        sh(
            dir,
            &format!(
                "openssl x509 -in '{}' -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1",
                self.cert.display()
            ),
        )
    }

    /// SHA-256 of the whole certificate (DER), in hex: a `x 0 1` record.
    #[must_use]
    pub fn cert_sha256(&self) -> String {
        let dir = self.cert.parent().expect("cert dir");
        sh(
            dir,
            &format!(
                "openssl x509 -in '{}' -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1",
                self.cert.display()
            ),
        )
    }

    /// SHA-512 of the SubjectPublicKeyInfo, in hex: a `x 1 2` record.
    #[must_use]
    pub fn spki_sha512(&self) -> String {
        let dir = self.cert.parent().expect("cert dir");
        sh(
            dir,
            &format!(
                "openssl x509 -in '{}' -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha512 -r | cut -d' ' -f1",
                self.cert.display()
            ),
        )
    }
}

const SERVER: &str = r#"
import json, socket, socketserver, ssl, sys, threading

log_path = sys.argv[1]
lock = threading.Lock()

def log(ip, **event):
    event["ip"] = ip
    with lock, open(log_path, "a") as f:
        f.write(json.dumps(event) + "\n")

def handler_for(ip, ctx):
    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            conn, tls = self.request, False
            rfile, wfile = conn.makefile("rb"), conn.makefile("wb")
            log(ip, event="connect")
            def say(line):
                wfile.write((line + "\r\n").encode()); wfile.flush()
            say("220 %s ESMTP test" % ip)
            while True:
                line = rfile.readline()
                if not line:
                    return
                cmd = line.decode("utf-8", "replace").strip()
                verb = cmd.split(" ")[0].upper()
                if verb in ("EHLO", "HELO"):
                    if tls:
                        say("250-%s\r\n250 8BITMIME" % ip)
                    else:
                        say("250-%s\r\n250-8BITMIME\r\n250 STARTTLS" % ip)
                elif verb == "STARTTLS" and not tls:
                    say("220 2.0.0 go ahead")
                    try:
                        conn = ctx.wrap_socket(conn, server_side=True)
                    except (ssl.SSLError, OSError) as e:
                        log(ip, event="tls_error", error=str(e))
                        return
                    tls = True
                    rfile, wfile = conn.makefile("rb"), conn.makefile("wb")
                    log(ip, event="starttls", version=conn.version(), cipher=conn.cipher()[0])
                elif verb == "MAIL":
                    log(ip, event="mail", tls=tls, arg=cmd[10:])
                    say("250 2.1.0 ok")
                elif verb == "RCPT":
                    log(ip, event="rcpt", tls=tls, arg=cmd[8:])
                    say("250 2.1.5 ok")
                elif verb == "DATA":
                    say("354 go ahead")
                    size = 0
                    while True:
                        l = rfile.readline()
                        if not l or l in (b".\r\n", b".\n"):
                            break
                        size += len(l)
                    log(ip, event="data", tls=tls, size=size)
                    say("250 2.0.0 queued")
                elif verb == "QUIT":
                    say("221 2.0.0 bye")
                    return
                else:
                    say("250 2.0.0 ok")
    return Handler

class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

servers = []
for spec in sys.argv[2:]:
    ip, chain, key = spec.split(",")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)
    s = Server((ip, 25), handler_for(ip, ctx))
    servers.append(s)
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"#;

/// The running mail exchangers, killed on drop.
#[derive(Debug)]
pub struct TlsMx {
    child: Option<Child>,
    log: PathBuf,
    stderr: PathBuf,
    _dir: TempDir,
}

impl TlsMx {
    /// Starts one listener per `(address, certificate)` on port 25.
    ///
    /// # Panics
    /// When port 25 cannot be bound (not root) or the server does not
    /// come up.
    #[must_use]
    pub fn start(hosts: &[(Ipv4Addr, &TlsCert)]) -> TlsMx {
        for (ip, _) in hosts {
            let addr = SocketAddrV4::new(*ip, 25);
            if let Err(e) = TcpListener::bind(addr) {
                panic!("cannot listen on {addr} ({e}): the DANE tests must run as root");
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("bw-tlsmx-")
            .tempdir()
            .expect("tls mx temp dir");
        let script = dir.path().join("tls_mx.py");
        fs::write(&script, SERVER).expect("write server script");
        let log = dir.path().join("events.jsonl");
        let stderr = dir.path().join("stderr");
        let mut cmd = Command::new("python3");
        cmd.arg(&script).arg(&log);
        for (ip, cert) in hosts {
            cmd.arg(format!(
                "{ip},{},{}",
                cert.chain.display(),
                cert.key.display()
            ));
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("spawn python3");
        // The script prints "ready" once every listener is bound, or exits.
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let mx = TlsMx {
            child: Some(child),
            log,
            stderr,
            _dir: dir,
        };
        assert!(
            line.trim() == "ready",
            "tls_mx.py did not start:\n{}",
            tail(&mx.stderr, 20)
        );
        mx
    }

    /// Every event so far, for `ip`.
    #[must_use]
    pub fn events(&self, ip: Ipv4Addr) -> Vec<Value> {
        let ip = ip.to_string();
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["ip"] == ip.as_str())
            .collect()
    }

    /// Events of one kind for `ip`.
    #[must_use]
    pub fn events_of(&self, ip: Ipv4Addr, kind: &str) -> Vec<Value> {
        self.events(ip)
            .into_iter()
            .filter(|v| v["event"] == kind)
            .collect()
    }
}

impl Drop for TlsMx {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- tls_mx events ----\n{}\n---- tls_mx stderr ----\n{}",
                tail(&self.log, 30),
                tail(&self.stderr, 20)
            );
        }
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
    }
}

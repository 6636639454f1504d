//! [`TestCert`]: certificates made with `openssl` for the TLS peers.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use tempfile::TempDir;

/// A certificate and key made with `openssl` (PEM files in a temp dir).
#[derive(Debug)]
pub struct TestCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    _dir: TempDir,
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run openssl ({e}): the TLS delivery tests make their certificates with it (Debian package openssl)")
        });
    assert!(
        out.status.success(),
        "openssl {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestCert {
    /// A self-signed certificate for `name` (CN and subjectAltName).
    ///
    /// # Panics
    /// When openssl is missing or fails.
    #[must_use]
    pub fn self_signed(name: &str) -> TestCert {
        TestCert::make_self_signed(name, &format!("subjectAltName=DNS:{name}"))
    }

    fn make_self_signed(name: &str, ext: &str) -> TestCert {
        let dir = tempfile::Builder::new()
            .prefix("bw-cert-")
            .tempdir()
            .expect("cert temp dir");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            ext,
            "-keyout",
            &key.display().to_string(),
            "-out",
            &cert.display().to_string(),
        ]);
        TestCert {
            cert,
            key,
            _dir: dir,
        }
    }

    /// A CA (`ca.cert` / `ca.key`) and a certificate for `name` (a host
    /// name or an IP address) it signed (the CA's certificate is the second
    /// element).
    ///
    /// # Panics
    /// When openssl is missing or fails.
    #[must_use]
    pub fn signed_by_new_ca(name: &str) -> (TestCert, TestCert) {
        let ca = TestCert::make_self_signed(
            "Breakwater e2e test CA",
            "keyUsage=critical,keyCertSign,cRLSign",
        );
        let dir = tempfile::Builder::new()
            .prefix("bw-cert-")
            .tempdir()
            .expect("cert temp dir");
        let p = |f: &str| dir.path().join(f).display().to_string();
        let ext = dir.path().join("ext.cnf");
        // An address (a receiver on loopback) is named by an IP SAN: a DNS
        // SAN holding digits matches no verifier's address check.
        let san = if name.parse::<std::net::IpAddr>().is_ok() {
            format!("IP:{name}")
        } else {
            format!("DNS:{name}")
        };
        fs::write(
            &ext,
            format!(
                "subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            ),
        )
        .expect("write ext file");
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &p("key.pem"),
            "-out",
            &p("req.csr"),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &p("req.csr"),
            "-CA",
            &ca.cert.display().to_string(),
            "-CAkey",
            &ca.key.display().to_string(),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext.display().to_string(),
            "-out",
            &p("cert.pem"),
        ]);
        let leaf = TestCert {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            _dir: dir,
        };
        (leaf, ca)
    }
}

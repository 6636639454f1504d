//! `certconfig`: the certificates the gateway presents (listeners'
//! STARTTLS, client certificates for destinations) and the CA certificates
//! it trusts besides the built-in roots for the Verify TLS modes.
//! PEM files are read by the daemon from the appliance's file system.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::args::{check_name, invalid, stage, usage};
use super::{CliError, CommandContext};
use crate::config::{Certificate, CertificateAuthority, Config};

pub(super) use breakwater_control_proto::usage::CERTCONFIG as USAGE;

pub(super) fn run(
    ctx: &CommandContext<'_>,
    args: &[String],
    stdin: Option<&str>,
) -> Result<String, CliError> {
    let lower: Vec<String> = args
        .iter()
        .take(2)
        .map(|a| a.to_ascii_lowercase())
        .collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    match (lower.as_slice(), args) {
        (["print"], [_]) => Ok(render(&ctx.store.working()?)),
        // `-`: the certificate chain and its private key pasted together
        // (the web UI's Add Certificate, or a paste at the console).
        (["import", ..], [_, name, file]) if file == "-" => {
            let pem = stdin.ok_or_else(|| {
                invalid("No certificate and private key were given on standard input.")
            })?;
            let (cert_pem, key_pem) = split_pem(pem);
            import_pem(
                ctx,
                name,
                cert_pem,
                key_pem,
                "standard input",
                "standard input",
            )
        }
        (["import", ..], [_, name, cert, key]) => {
            import_pem(ctx, name, read(cert)?, read(key)?, cert, key)
        }
        (["delete", ..], [_, name]) => delete(ctx, name),
        // `-`: the PEM pasted at the console (or piped to `breakwater cli`).
        (["certauthority", "import"], [_, _, name, file]) if file == "-" => {
            let pem =
                stdin.ok_or_else(|| invalid("No certificate was given on standard input."))?;
            import_ca_pem(ctx, name, pem, "standard input")
        }
        (["certauthority", "import"], [_, _, name, file]) => {
            import_ca_pem(ctx, name, &read(file)?, file)
        }
        (["certauthority", "delete"], [_, _, name]) => delete_ca(ctx, name),
        (["certauthority", "print"], [_, _]) => Ok(render(&ctx.store.working()?)),
        _ => Err(usage(USAGE)),
    }
}

fn read(file: &str) -> Result<String, CliError> {
    std::fs::read_to_string(file).map_err(|e| invalid(format!("Cannot read {file}: {e}")))
}

fn certs_in(pem: &str, file: &str) -> Result<usize, CliError> {
    let n = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("{file}: not a PEM certificate: {e}")))?
        .len();
    if n == 0 {
        return Err(invalid(format!("{file} holds no certificate.")));
    }
    Ok(n)
}

/// A paste split into its certificate blocks and its other blocks (the
/// private key), so the key is never stored, nor shown, as part of the
/// certificate chain.
fn split_pem(pem: &str) -> (String, String) {
    let (mut certs, mut keys) = (String::new(), String::new());
    let mut block: Option<(bool, String)> = None;
    for line in pem.lines() {
        let line = line.trim();
        if let Some(label) = line.strip_prefix("-----BEGIN ") {
            block = Some((label.starts_with("CERTIFICATE"), String::new()));
        }
        if let Some((is_cert, text)) = block.as_mut() {
            text.push_str(line);
            text.push('\n');
            if line.starts_with("-----END ") {
                let into = if *is_cert { &mut certs } else { &mut keys };
                into.push_str(text);
                block = None;
            }
        }
    }
    (certs, keys)
}

fn import_pem(
    ctx: &CommandContext<'_>,
    name: &str,
    cert_pem: String,
    key_pem: String,
    cert_file: &str,
    key_file: &str,
) -> Result<String, CliError> {
    check_name("certificate", name)?;
    let n = certs_in(&cert_pem, cert_file)?;
    PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| invalid(format!("{key_file}: not a PEM private key: {e}")))?;
    let cert = Certificate {
        name: name.to_string(),
        cert_pem,
        key_pem,
    };
    // The pair must work for a TLS server, or it would break a listener.
    crate::smtp_in::tls::acceptor(&cert).map_err(|e| invalid(e.to_string()))?;
    let mut cfg = ctx.store.working()?;
    cfg.certificates.retain(|c| c.name != name);
    cfg.certificates.push(cert);
    stage(
        ctx,
        &cfg,
        &format!("Certificate {name} imported ({n} certificate(s) in the chain)."),
    )
}

fn delete(ctx: &CommandContext<'_>, name: &str) -> Result<String, CliError> {
    let mut cfg = ctx.store.working()?;
    if cfg.listeners.iter().any(|l| l.certificate == name) {
        return Err(invalid(format!(
            "Certificate {name} is used by a listener."
        )));
    }
    let used = cfg
        .destination_controls
        .iter()
        .any(|d| matches!(&d.client_certificate, Some(Some(c)) if c == name));
    if used || cfg.destination_default.client_certificate.as_deref() == Some(name) {
        return Err(invalid(format!(
            "Certificate {name} is used by a destination control entry."
        )));
    }
    if cfg.management.certificate == name {
        return Err(invalid(format!(
            "Certificate {name} is used by HTTPS on Management (adminaccessconfig setup --certificate)."
        )));
    }
    let before = cfg.certificates.len();
    cfg.certificates.retain(|c| c.name != name);
    if cfg.certificates.len() == before {
        return Err(invalid(format!("There is no certificate named {name}.")));
    }
    stage(ctx, &cfg, &format!("Certificate {name} deleted."))
}

fn import_ca_pem(
    ctx: &CommandContext<'_>,
    name: &str,
    pem: &str,
    from: &str,
) -> Result<String, CliError> {
    check_name("certificate authority", name)?;
    let n = certs_in(pem, from)?;
    let mut cfg = ctx.store.working()?;
    cfg.ca_certificates.retain(|c| c.name != name);
    cfg.ca_certificates.push(CertificateAuthority {
        name: name.to_string(),
        cert_pem: pem.to_string(),
    });
    stage(
        ctx,
        &cfg,
        &format!(
            "Certificate authority {name} added ({n} certificate(s)); the Verify TLS modes and upgrade downloads now trust it."
        ),
    )
}

fn delete_ca(ctx: &CommandContext<'_>, name: &str) -> Result<String, CliError> {
    let mut cfg = ctx.store.working()?;
    let before = cfg.ca_certificates.len();
    cfg.ca_certificates.retain(|c| c.name != name);
    if cfg.ca_certificates.len() == before {
        return Err(invalid(format!(
            "There is no certificate authority named {name}."
        )));
    }
    stage(ctx, &cfg, &format!("Certificate authority {name} deleted."))
}

pub(super) fn render(cfg: &Config) -> String {
    let mut out = String::from("Certificates:\n");
    for c in &cfg.certificates {
        let users: Vec<&str> = cfg
            .listeners
            .iter()
            .filter(|l| l.certificate == c.name)
            .map(|l| l.name.as_str())
            .collect();
        out.push_str(&format!(
            "  {}{}\n",
            c.name,
            if users.is_empty() {
                String::new()
            } else {
                format!(" (listeners: {})", users.join(", "))
            }
        ));
    }
    out.push_str("Certificate authorities (besides the built-in roots):\n");
    if cfg.ca_certificates.is_empty() {
        out.push_str("  (none)\n");
    }
    for ca in &cfg.ca_certificates {
        out.push_str(&format!("  {}\n", ca.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    fn write_pair(dir: &std::path::Path) -> (String, String) {
        let cert = rcgen::generate_simple_self_signed(vec!["mx.test".to_string()]).unwrap();
        let c = dir.join("c.pem");
        let k = dir.join("k.pem");
        std::fs::write(&c, cert.cert.pem()).unwrap();
        std::fs::write(&k, cert.key_pair.serialize_pem()).unwrap();
        (c.display().to_string(), k.display().to_string())
    }

    #[test]
    fn certificates_and_authorities_are_imported_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = write_pair(dir.path());
        let f = Fixture::new();
        f.run(&format!("certconfig import partner {c} {k}"))
            .unwrap();
        f.run(&format!("certconfig certauthority import test-ca {c}"))
            .unwrap();
        let cfg = f.staged().unwrap();
        assert!(cfg.certificate("partner").is_some());
        assert_eq!(cfg.ca_certificates[0].name, "test-ca");
        assert!(f.run("certconfig print").unwrap().contains("test-ca"));
        f.run("certconfig certauthority delete test-ca").unwrap();
        f.run("certconfig delete partner").unwrap();
        assert!(f.staged().unwrap().ca_certificates.is_empty());
    }

    #[test]
    fn a_pasted_chain_and_key_are_imported_apart() {
        let cert = rcgen::generate_simple_self_signed(vec!["mx.test".to_string()]).unwrap();
        let paste = format!("{}\n{}", cert.cert.pem(), cert.key_pair.serialize_pem());
        let f = Fixture::new();
        let on_commit = |_: &crate::config::Config| {};
        let ctx = super::CommandContext {
            store: &f.store,
            user: "admin",
            on_commit: &on_commit,
        };
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        super::run(&ctx, &words(&["import", "pasted", "-"]), Some(&paste)).unwrap();
        let cfg = f.staged().unwrap();
        let c = cfg.certificate("pasted").unwrap();
        assert!(c.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(!c.cert_pem.contains("PRIVATE KEY"));
        assert!(c.key_pem.contains("PRIVATE KEY"));
        assert!(!c.key_pem.contains("CERTIFICATE"));
        // A certificate without its key is refused.
        let only_cert = cert.cert.pem();
        assert!(super::run(&ctx, &words(&["import", "half", "-"]), Some(&only_cert)).is_err());
        assert!(super::run(&ctx, &words(&["import", "none", "-"]), None).is_err());
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not pem").unwrap();
        let junk = junk.display().to_string();
        Fixture::new().assert_refused(&[
            "certconfig certauthority import x /nonexistent.pem",
            &format!("certconfig certauthority import x {junk}"),
            &format!("certconfig import y {junk} {junk}"),
            "certconfig delete Demo",
            "certconfig certauthority delete nope",
            "certconfig",
        ]);
    }
}

//! `certconfig`: the certificates the gateway presents (listeners'
//! STARTTLS, client certificates for destinations) and the CA certificates
//! it trusts besides the built-in roots for the Verify TLS modes.
//! PEM files are read by the daemon from the appliance's file system.

use chrono::{DateTime, Utc};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;

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
        (["print"], [_]) => Ok(render(&ctx.store.working()?, Utc::now())),
        (["print", "--json"], [_, _]) => json(&ctx.store.working()?, Utc::now()),
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
        (["certauthority", "print"], [_, _]) => Ok(render(&ctx.store.working()?, Utc::now())),
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

/// What `certconfig print` shows of one certificate: what the first
/// certificate of its chain says about itself, and what presents it.
/// `print --json` answers a list of these (the web UI's Certificates page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct CertificateInfo {
    name: String,
    /// `CN=..., O=...` (the whole name when it has neither).
    subject: Option<String>,
    issuer: Option<String>,
    /// RFC 3339, UTC.
    not_before: Option<String>,
    not_after: Option<String>,
    /// Whole days until `not_after`; negative once expired.
    days_left: Option<i64>,
    /// Listener names, `destination <domain>`, `HTTPS on Management`.
    used_by: Vec<String>,
    /// Why the certificate could not be read (a configuration loaded with
    /// `loadconfig` is not re-checked as `import` checks it).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The names and validity of the first certificate in `pem`.
struct Parsed {
    subject: String,
    issuer: String,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
}

fn parse(pem: &str) -> Result<Parsed, String> {
    let der = CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .ok_or("no certificate")?
        .map_err(|e| format!("not PEM: {e}"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let time = |t: &x509_parser::time::ASN1Time| {
        DateTime::from_timestamp(t.timestamp(), 0).ok_or("a validity date out of range")
    };
    let validity = cert.validity();
    Ok(Parsed {
        subject: name_text(cert.subject()),
        issuer: name_text(cert.issuer()),
        not_before: time(&validity.not_before)?,
        not_after: time(&validity.not_after)?,
    })
}

/// `CN=mx.example.com, O=Example Org`: the attributes certconfig shows, as
/// AsyncOS's Common Name and Organization columns; a name with neither is
/// shown whole.
fn name_text(name: &x509_parser::x509::X509Name<'_>) -> String {
    let text = |a: &x509_parser::x509::AttributeTypeAndValue<'_>| {
        a.as_str()
            .map_or_else(|_| "(not text)".to_string(), str::to_string)
    };
    let parts: Vec<String> = name
        .iter_common_name()
        .map(|a| format!("CN={}", text(a)))
        .chain(name.iter_organization().map(|a| format!("O={}", text(a))))
        .collect();
    if parts.is_empty() {
        name.to_string()
    } else {
        parts.join(", ")
    }
}

/// What presents the certificate `name`: the listeners (STARTTLS), the
/// destinations (client certificate) and HTTPS on Management (its
/// certificate, or the first one when none is named).
fn used_by(cfg: &Config, name: &str) -> Vec<String> {
    let mut users: Vec<String> = cfg
        .listeners
        .iter()
        .filter(|l| l.certificate == name)
        .map(|l| l.name.clone())
        .collect();
    if cfg.destination_default.client_certificate.as_deref() == Some(name) {
        users.push("destination Default".to_string());
    }
    users.extend(
        cfg.destination_controls
            .iter()
            .filter(|d| matches!(&d.client_certificate, Some(Some(c)) if c == name))
            .map(|d| format!("destination {}", d.domain)),
    );
    let management = &cfg.management.certificate;
    let first = cfg.certificates.first().is_some_and(|c| c.name == name);
    if cfg.management.https_enabled && (management == name || (management.is_empty() && first)) {
        users.push("HTTPS on Management".to_string());
    }
    users
}

fn infos(cfg: &Config, now: DateTime<Utc>) -> Vec<CertificateInfo> {
    cfg.certificates
        .iter()
        .map(|c| {
            let parsed = parse(&c.cert_pem);
            let ok = parsed.as_ref().ok();
            let rfc3339 = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            CertificateInfo {
                name: c.name.clone(),
                subject: ok.map(|p| p.subject.clone()),
                issuer: ok.map(|p| p.issuer.clone()),
                not_before: ok.map(|p| rfc3339(p.not_before)),
                not_after: ok.map(|p| rfc3339(p.not_after)),
                days_left: ok.map(|p| (p.not_after - now).num_days()),
                used_by: used_by(cfg, &c.name),
                error: parsed.err(),
            }
        })
        .collect()
}

fn json(cfg: &Config, now: DateTime<Utc>) -> Result<String, CliError> {
    serde_json::to_string(&infos(cfg, now))
        .map_err(|e| invalid(format!("Cannot print the certificates: {e}")))
}

pub(super) fn render(cfg: &Config, now: DateTime<Utc>) -> String {
    let day = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let mut out = String::from("List of Certificates\n");
    if cfg.certificates.is_empty() {
        out.push_str("  (none)\n");
    }
    for (i, c) in cfg.certificates.iter().enumerate() {
        out.push_str(&format!("{}. {}\n", i + 1, c.name));
        match parse(&c.cert_pem) {
            Ok(p) => {
                let state = if now > p.not_after {
                    "expired".to_string()
                } else if now < p.not_before {
                    "not yet valid".to_string()
                } else {
                    format!("{} days left", (p.not_after - now).num_days())
                };
                out.push_str(&format!("   Subject:    {}\n", p.subject));
                out.push_str(&format!("   Issued by:  {}\n", p.issuer));
                out.push_str(&format!("   Valid from: {}\n", day(p.not_before)));
                out.push_str(&format!("   Not after:  {} ({state})\n", day(p.not_after)));
            }
            Err(e) => out.push_str(&format!("   Unreadable: {e}\n")),
        }
        let users = used_by(cfg, &c.name);
        let users = if users.is_empty() {
            "(not used)".to_string()
        } else {
            users.join(", ")
        };
        out.push_str(&format!("   Used by:    {users}\n"));
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

    /// `CN=mx.example.com, O=Example Org`, valid through 2026, issued by
    /// a CA `CN=Example CA, O=Example Org`.
    fn partner_pair(dir: &std::path::Path) -> (String, String) {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, date_time_ymd};
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name.push(DnType::CommonName, "Example CA");
        ca.distinguished_name
            .push(DnType::OrganizationName, "Example Org");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca.self_signed(&ca_key).unwrap();
        let mut leaf = CertificateParams::new(vec!["mx.example.com".to_string()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "mx.example.com");
        leaf.distinguished_name
            .push(DnType::OrganizationName, "Example Org");
        leaf.not_before = date_time_ymd(2026, 1, 1);
        leaf.not_after = date_time_ymd(2027, 1, 1);
        let key = KeyPair::generate().unwrap();
        let leaf = leaf.signed_by(&key, &ca, &ca_key).unwrap();
        let c = dir.join("partner.pem");
        let k = dir.join("partner.key");
        std::fs::write(&c, format!("{}{}", leaf.pem(), ca.pem())).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c.display().to_string(), k.display().to_string())
    }

    fn at(y: i32, m: u32, d: u32) -> chrono::DateTime<chrono::Utc> {
        use chrono::TimeZone;
        chrono::Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    #[test]
    fn the_factory_demo_certificate_names_the_host_and_says_it_is_a_demo() {
        let mut cfg = Fixture::new().working();
        cfg.certificates =
            vec![crate::config::factory::demo_certificate("esa1.example.com").unwrap()];
        let text = super::render(&cfg, chrono::Utc::now());
        assert!(
            text.contains("CN=esa1.example.com, O=Breakwater Appliance Demo Certificate"),
            "{text}"
        );
    }

    #[test]
    fn print_shows_subject_issuer_validity_and_what_uses_it() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = partner_pair(dir.path());
        let f = Fixture::new();
        f.run(&format!("certconfig import partner {c} {k}"))
            .unwrap();
        f.run("listenerconfig edit IncomingMail setup --certificate partner")
            .unwrap();
        f.run("adminaccessconfig setup --certificate partner")
            .unwrap();
        let cfg = f.working();

        let text = super::render(&cfg, at(2026, 12, 1));
        let partner = text.split("2. partner\n").nth(1).unwrap();
        assert!(partner.starts_with(
            "   Subject:    CN=mx.example.com, O=Example Org
   Issued by:  CN=Example CA, O=Example Org
   Valid from: 2026-01-01 00:00:00 UTC
   Not after:  2027-01-01 00:00:00 UTC (31 days left)
   Used by:    IncomingMail, HTTPS on Management
"
        ));
        // The fixture's Demo is junk PEM: said so, not hidden.
        assert!(
            text.starts_with(
                "List of Certificates\n1. Demo\n   Unreadable: not an X.509 certificate"
            ),
            "{text}"
        );
        assert!(
            text.contains("   Used by:    OutgoingMail\n2. partner"),
            "{text}"
        );
        let expired = super::render(&cfg, at(2027, 3, 1));
        assert!(
            expired.contains("2027-01-01 00:00:00 UTC (expired)"),
            "{expired}"
        );

        let json: serde_json::Value =
            serde_json::from_str(&f.run("certconfig print --json").unwrap()).unwrap();
        let p = &json[1];
        assert_eq!(p["name"], "partner");
        assert_eq!(p["subject"], "CN=mx.example.com, O=Example Org");
        assert_eq!(p["issuer"], "CN=Example CA, O=Example Org");
        assert_eq!(p["not_before"], "2026-01-01T00:00:00Z");
        assert_eq!(p["not_after"], "2027-01-01T00:00:00Z");
        assert_eq!(
            p["used_by"],
            serde_json::json!(["IncomingMail", "HTTPS on Management"])
        );
        assert!(p.get("error").is_none());
        assert_eq!(json[0]["name"], "Demo");
        assert!(json[0]["subject"].is_null());
        assert!(json[0]["error"].is_string());
        // A private key is never part of the answer.
        assert!(
            !f.run("certconfig print --json")
                .unwrap()
                .contains("PRIVATE")
        );
    }

    #[test]
    fn https_on_management_uses_the_first_certificate_when_none_is_named() {
        let f = Fixture::new();
        let json: serde_json::Value =
            serde_json::from_str(&f.run("certconfig print --json").unwrap()).unwrap();
        assert_eq!(
            json[0]["used_by"],
            serde_json::json!(["IncomingMail", "OutgoingMail", "HTTPS on Management"])
        );
        f.run("destconfig new .outlook.com --client_certificate Demo")
            .unwrap();
        f.run("adminaccessconfig setup --https off").unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&f.run("certconfig print --json").unwrap()).unwrap();
        assert_eq!(
            json[0]["used_by"],
            serde_json::json!(["IncomingMail", "OutgoingMail", "destination .outlook.com"])
        );
        assert!(f.run("certconfig print --json extra").is_err());
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

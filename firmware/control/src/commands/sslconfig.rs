//! `sslconfig`: the TLS methods and the OpenSSL-style cipher string of the
//! inbound (listeners) and outbound (delivery) SMTP legs. The string is
//! evaluated by `breakwater_config::ssl::evaluate`; `verify` shows what a
//! string selects, the way AsyncOS's VERIFY does, before it is set.

use super::args::{invalid, parse_opts, stage, usage};
use super::{CliError, CommandContext};
use crate::config::Config;
use crate::config::ssl::{SslPolicy, TLS13_SUITES, Tls12Suite, evaluate, suite_list};

pub(super) use breakwater_control_proto::usage::SSLCONFIG as USAGE;

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args) {
        (Some("print"), [_]) => Ok(render(&ctx.store.working()?)),
        (Some("verify"), [_, ciphers]) => verify(ciphers),
        (Some(leg @ ("inbound" | "outbound")), [_, rest @ ..]) => {
            let opts = parse_opts(rest, &["methods", "ciphers"], &[], USAGE)?;
            if !opts.positional.is_empty() || !opts.any() {
                return Err(usage(USAGE));
            }
            let mut cfg = ctx.store.working()?;
            let (title, policy) = if leg == "inbound" {
                ("Inbound SMTP", &mut cfg.ssl.inbound)
            } else {
                ("Outbound SMTP", &mut cfg.ssl.outbound)
            };
            if let Some(m) = opts.value("methods") {
                (policy.tls_1_2, policy.tls_1_3) = methods(m)?;
            }
            if let Some(c) = opts.value("ciphers") {
                policy.ciphers = c.trim().to_string();
            }
            let suites = policy
                .tls12_suites()
                .map_err(|e| invalid(format!("{title}: {e}.")))?;
            let message = format!("{title}: {}.", summary(policy, &suites));
            stage(ctx, &cfg, &message)
        }
        _ => Err(usage(USAGE)),
    }
}

/// `--methods TLSv1.2,TLSv1.3`: which of the two versions rustls has are on.
fn methods(text: &str) -> Result<(bool, bool), CliError> {
    let (mut tls_1_2, mut tls_1_3) = (false, false);
    for word in text.split([',', ' ', ':']).filter(|w| !w.is_empty()) {
        match word.to_ascii_lowercase().as_str() {
            "tlsv1.2" | "tlsv1_2" | "tls1.2" | "tls1_2" | "1.2" => tls_1_2 = true,
            "tlsv1.3" | "tlsv1_3" | "tls1.3" | "tls1_3" | "1.3" => tls_1_3 = true,
            "tlsv1" | "tlsv1.0" | "tlsv1_0" | "tls1.0" | "1.0" | "tlsv1.1" | "tlsv1_1"
            | "tls1.1" | "1.1" | "sslv3" | "sslv2" => {
                return Err(invalid(format!(
                    "{word} is not available: rustls, Breakwater's TLS library, implements \
                     TLS 1.2 and TLS 1.3 only (RFC 8996 retired TLS 1.0 and 1.1; SSL is long broken)."
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "Unknown TLS method '{word}': use TLSv1.2, TLSv1.3 or both (TLSv1.2,TLSv1.3)."
                )));
            }
        }
    }
    if !(tls_1_2 || tls_1_3) {
        return Err(invalid("--methods needs TLSv1.2, TLSv1.3 or both."));
    }
    Ok((tls_1_2, tls_1_3))
}

fn summary(policy: &SslPolicy, suites: &[Tls12Suite]) -> String {
    if suites.is_empty() {
        format!("{} (TLS 1.3 suites only)", policy.methods())
    } else {
        format!(
            "{}; TLS 1.2 suites {}",
            policy.methods(),
            suite_list(suites)
        )
    }
}

/// What a cipher string selects, one suite a line as `openssl ciphers -v`
/// prints it, the TLS 1.3 suites first (offered whenever TLS 1.3 is on).
fn verify(ciphers: &str) -> Result<String, CliError> {
    let suites = evaluate(ciphers).map_err(|e| invalid(format!("{e}.")))?;
    let mut out: Vec<String> = TLS13_SUITES.iter().map(|s| s.to_string()).collect();
    out.extend(suites.iter().map(|s| s.openssl_description()));
    if suites.is_empty() {
        out.push("(no TLS 1.2 suite: with this string only TLS 1.3 can be negotiated)".into());
    }
    Ok(out.join("\n"))
}

pub(super) fn render(cfg: &Config) -> String {
    let mut out = vec!["Current SSL Settings:".to_string()];
    for (title, p) in [
        ("Inbound SMTP", &cfg.ssl.inbound),
        ("Outbound SMTP", &cfg.ssl.outbound),
    ] {
        out.push(format!("{title} method: {}", p.methods()));
        out.push(format!("{title} ciphers: {}", p.ciphers));
        // A stored config that no longer validates still prints.
        match p.tls12_suites() {
            Ok(s) if s.is_empty() => {
                out.push(format!("{title} TLS 1.2 suites: none (TLS 1.2 off)"))
            }
            Ok(s) => out.push(format!("{title} TLS 1.2 suites: {}", suite_list(&s))),
            Err(e) => out.push(format!("{title} TLS 1.2 suites: unusable: {e}")),
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    const SEED: &str = "HIGH:MEDIUM:@STRENGTH:!aNULL:!eNULL:!LOW:!DES:!MD5:!EXP:!PSK:!DSS:!RC2:!RC4:!SEED:!ECDSA:!ADH:!IDEA:!3DES:!SSLv2:!SSLv3:!TLSv1:-aNULL:-EXPORT:-IDEA";

    #[test]
    fn the_seed_string_is_staged_on_both_legs() {
        let f = Fixture::new();
        for leg in ["inbound", "outbound"] {
            let out = f
                .run_args(&[
                    "sslconfig".into(),
                    leg.into(),
                    "--ciphers".into(),
                    SEED.into(),
                ])
                .unwrap();
            assert!(
                out.contains("TLSv1.2, TLSv1.3; TLS 1.2 suites ECDHE-RSA-AES256-GCM-SHA384, ECDHE-RSA-CHACHA20-POLY1305, ECDHE-RSA-AES128-GCM-SHA256."),
                "{out}"
            );
        }
        let ssl = f.staged().unwrap().ssl;
        assert_eq!(ssl.inbound.ciphers, SEED);
        assert_eq!(ssl.outbound, ssl.inbound);
        let printed = f.run("sslconfig print").unwrap();
        assert!(
            printed.starts_with("Current SSL Settings:\nInbound SMTP method: TLSv1.2, TLSv1.3\n"),
            "{printed}"
        );
        assert!(
            printed.contains(&format!("Outbound SMTP ciphers: {SEED}\n")),
            "{printed}"
        );
    }

    #[test]
    fn methods_are_set_and_old_versions_refused_with_the_reason() {
        let f = Fixture::new();
        f.run("sslconfig outbound --methods TLSv1.2").unwrap();
        let out = f.staged().unwrap().ssl.outbound;
        assert!(out.tls_1_2 && !out.tls_1_3);
        let f = Fixture::new();
        let err = f
            .run("sslconfig inbound --methods TLSv1.0,TLSv1.2")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rustls") && err.contains("TLS 1.2 and TLS 1.3 only"),
            "{err}"
        );
        f.assert_refused(&[
            "sslconfig inbound --methods SSLv3",
            "sslconfig inbound --methods TLSv1.1",
            "sslconfig inbound --methods fast",
            "sslconfig inbound --methods ,",
            "sslconfig inbound",
            "sslconfig inbound extra",
            "sslconfig sideways --methods TLSv1.2",
            // Nothing left for TLS 1.2, which is on.
            "sslconfig inbound --ciphers !ALL",
            "sslconfig inbound --methods TLSv1.2 --ciphers ECDSA+RSA",
            "sslconfig inbound --ciphers HIGH:DHE-RSA-AES128-GCM-SHA256",
            "sslconfig outbound --ciphers HIGH:FAST",
        ]);
    }

    #[test]
    fn verify_lists_what_a_string_selects_like_openssl() {
        let f = Fixture::new();
        let out = f.run("sslconfig verify aRSA+AES128").unwrap();
        assert_eq!(
            out.lines().last(),
            Some(
                "ECDHE-RSA-AES128-GCM-SHA256    TLSv1.2 Kx=ECDH     Au=RSA   Enc=AESGCM(128)            Mac=AEAD"
            )
        );
        assert_eq!(out.lines().count(), 4);
        let err = f
            .run("sslconfig verify AES128-SHA")
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not implement"), "{err}");
        assert!(f.staged().is_none());
    }
}

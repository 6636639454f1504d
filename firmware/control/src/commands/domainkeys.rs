//! `domainkeysconfig`: DKIM signing of outgoing mail, as AsyncOS lays it
//! out — signing keys (generated on the box or imported), signing
//! profiles per domain, the DNS TXT record to publish, and the mail flow
//! policies whose "Domain Key/DKIM Signing" is on.
//!
//! Private keys never leave the box unless an administrator asks for one
//! (`keys export`, Admin only in the catalog); `print`, `keys print` and
//! the saved configuration show only public keys or the mask.

use breakwater_mail::dkim_sign;

use super::args::{invalid, parse_opts, stage, usage};
use super::{CliError, CommandContext};
use crate::config::Config;
use crate::config::domain_keys::{
    self as dk, Canonicalization, DomainKeys, KeyAlgorithm, SigningKey, SigningProfile,
};

pub(super) use breakwater_control_proto::usage::DOMAINKEYSCONFIG as USAGE;

/// Largest PEM file `keys import` reads.
const MAX_PEM: u64 = 64 * 1024;

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
        (["keys", "list"], [_, _]) => Ok(key_list(&ctx.store.working()?.domain_keys)),
        (["keys", "new"], [_, _, name, rest @ ..]) => key_new(ctx, name, rest),
        (["keys", "import"], [_, _, name, file]) => {
            let pem = if file == "-" {
                stdin
                    .ok_or_else(|| invalid("No private key was given on standard input."))?
                    .to_string()
            } else {
                read(file)?
            };
            key_import(ctx, name, &pem)
        }
        (["keys", "print"], [_, _, name]) => {
            let cfg = ctx.store.working()?;
            let key = find_key(&cfg.domain_keys, name)?;
            Ok(format!(
                "Key: {}\nType: {}\nPublic key: {}\n",
                key.name,
                algorithm_name(key.algorithm),
                public(key)?
            ))
        }
        (["keys", "export"], [_, _, name]) => {
            let cfg = ctx.store.working()?;
            Ok(find_key(&cfg.domain_keys, name)?.private_pem.clone())
        }
        (["keys", "delete"], [_, _, name]) => key_delete(ctx, name),
        (["profiles", "list"], [_, _]) => Ok(profile_list(&ctx.store.working()?.domain_keys)),
        (["profiles", "new"], [_, _, name, domain, selector, key, rest @ ..]) => {
            profile_new(ctx, name, domain, selector, key, rest)
        }
        (["profiles", "edit"], [_, _, name, rest @ ..]) if !rest.is_empty() => {
            profile_edit(ctx, name, rest)
        }
        (["profiles", "delete"], [_, _, name]) => profile_delete(ctx, name),
        (["profiles", "print"], [_, _, name]) => {
            let cfg = ctx.store.working()?;
            Ok(render_profile(find_profile(&cfg.domain_keys, name)?))
        }
        (["profiles", "dnstxt"], [_, _, name]) => {
            let cfg = ctx.store.working()?;
            let profile = find_profile(&cfg.domain_keys, name)?;
            let key = find_key(&cfg.domain_keys, &profile.key)?;
            let record = dkim_sign::dns_record(profile, key).map_err(|e| invalid(e.to_string()))?;
            Ok(format!("{record}\n"))
        }
        (["policy", ..], [_, listener, policy, on]) => set_policy(ctx, listener, policy, on),
        (["setup", ..], [_, rest @ ..]) if !rest.is_empty() => setup(ctx, rest),
        _ => Err(usage(USAGE)),
    }
}

fn read(file: &str) -> Result<String, CliError> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_PEM).read_to_string(&mut text))
        .map_err(|e| invalid(format!("Cannot read {file}: {e}")))?;
    Ok(text)
}

fn check_name(name: &str) -> Result<(), CliError> {
    if dk::valid_name(name) {
        Ok(())
    } else {
        Err(invalid(
            dk::DomainKeysError::BadName(name.to_string()).to_string(),
        ))
    }
}

fn find_key<'d>(d: &'d DomainKeys, name: &str) -> Result<&'d SigningKey, CliError> {
    d.key(name)
        .ok_or_else(|| invalid(format!("No signing key named {name}.")))
}

fn find_profile<'d>(d: &'d DomainKeys, name: &str) -> Result<&'d SigningProfile, CliError> {
    d.profile(name)
        .ok_or_else(|| invalid(format!("No signing profile named {name}.")))
}

fn public(key: &SigningKey) -> Result<String, CliError> {
    dkim_sign::public_key_b64(key).map_err(|e| invalid(e.to_string()))
}

fn algorithm_name(a: KeyAlgorithm) -> &'static str {
    match a {
        KeyAlgorithm::Rsa => "RSA 2048 (rsa-sha256)",
        KeyAlgorithm::Ed25519 => "Ed25519 (ed25519-sha256)",
    }
}

/// Validates the whole set, then stages.
fn stage_checked(ctx: &CommandContext<'_>, cfg: &Config, what: &str) -> Result<String, CliError> {
    cfg.domain_keys
        .validate()
        .map_err(|e| invalid(e.to_string()))?;
    stage(ctx, cfg, what)
}

fn add_key(
    ctx: &CommandContext<'_>,
    name: &str,
    algorithm: KeyAlgorithm,
    private_pem: String,
    what: &str,
) -> Result<String, CliError> {
    check_name(name)?;
    let mut cfg = ctx.store.working()?;
    if cfg.domain_keys.key(name).is_some() {
        return Err(invalid(format!("A signing key named {name} exists.")));
    }
    if cfg.domain_keys.keys.len() >= dk::MAX_KEYS {
        return Err(invalid(format!("At most {} signing keys.", dk::MAX_KEYS)));
    }
    cfg.domain_keys.keys.push(SigningKey {
        name: name.to_string(),
        algorithm,
        private_pem,
    });
    stage_checked(ctx, &cfg, what)
}

fn key_new(ctx: &CommandContext<'_>, name: &str, rest: &[String]) -> Result<String, CliError> {
    let opts = parse_opts(rest, &["type"], &[], USAGE)?;
    if !opts.positional.is_empty() {
        return Err(usage(USAGE));
    }
    let algorithm = match opts.value("type").map(str::to_ascii_lowercase).as_deref() {
        None | Some("rsa") => KeyAlgorithm::Rsa,
        Some("ed25519") => KeyAlgorithm::Ed25519,
        Some(t) => return Err(invalid(format!("'{t}' is not a key type (rsa, ed25519)."))),
    };
    check_name(name)?;
    let pem = dkim_sign::generate(algorithm).map_err(|e| invalid(e.to_string()))?;
    add_key(
        ctx,
        name,
        algorithm,
        pem,
        &format!(
            "Signing key {name} generated ({}).",
            algorithm_name(algorithm)
        ),
    )
}

fn key_import(ctx: &CommandContext<'_>, name: &str, pem: &str) -> Result<String, CliError> {
    check_name(name)?;
    let (algorithm, pem) = dkim_sign::import(pem).map_err(|e| invalid(e.to_string()))?;
    add_key(
        ctx,
        name,
        algorithm,
        pem,
        &format!(
            "Signing key {name} imported ({}).",
            algorithm_name(algorithm)
        ),
    )
}

fn key_delete(ctx: &CommandContext<'_>, name: &str) -> Result<String, CliError> {
    let mut cfg = ctx.store.working()?;
    let key = find_key(&cfg.domain_keys, name)?.name.clone();
    if let Some(p) = cfg
        .domain_keys
        .profiles
        .iter()
        .find(|p| p.key.eq_ignore_ascii_case(&key))
    {
        return Err(invalid(format!(
            "Signing key {key} is used by signing profile {}.",
            p.name
        )));
    }
    cfg.domain_keys.keys.retain(|k| k.name != key);
    stage_checked(ctx, &cfg, &format!("Signing key {key} deleted."))
}

/// `--header-canon`, `--body-canon`, `--headers`, `--users`, and for
/// `edit` `--domain`, `--selector`, `--key`.
const PROFILE_OPTS: &[&str] = &[
    "header-canon",
    "body-canon",
    "headers",
    "users",
    "domain",
    "selector",
    "key",
];

fn apply_profile_opts(p: &mut SigningProfile, rest: &[String], edit: bool) -> Result<(), CliError> {
    let valued = if edit {
        PROFILE_OPTS
    } else {
        &PROFILE_OPTS[..4]
    };
    let opts = parse_opts(rest, valued, &[], USAGE)?;
    if !opts.positional.is_empty() {
        return Err(usage(USAGE));
    }
    let canon = |v: &str| {
        Canonicalization::parse(v).ok_or_else(|| {
            invalid(format!(
                "'{v}' is not a canonicalization (simple, relaxed)."
            ))
        })
    };
    if let Some(v) = opts.value("header-canon") {
        p.header_canonicalization = canon(v)?;
    }
    if let Some(v) = opts.value("body-canon") {
        p.body_canonicalization = canon(v)?;
    }
    if let Some(v) = opts.value("headers") {
        p.headers = if v.eq_ignore_ascii_case("standard") {
            dk::DEFAULT_SIGNED_HEADERS
                .iter()
                .map(|h| h.to_string())
                .collect()
        } else {
            list(v)
        };
    }
    if let Some(v) = opts.value("users") {
        p.users = if v.eq_ignore_ascii_case("all") {
            Vec::new()
        } else {
            list(v)
        };
        if p.users.len() > dk::MAX_PROFILE_USERS {
            return Err(invalid(format!(
                "At most {} users per profile.",
                dk::MAX_PROFILE_USERS
            )));
        }
    }
    if let Some(v) = opts.value("domain") {
        p.domain = v.to_ascii_lowercase();
    }
    if let Some(v) = opts.value("selector") {
        p.selector = v.to_string();
    }
    if let Some(v) = opts.value("key") {
        p.key = v.to_string();
    }
    Ok(())
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn profile_new(
    ctx: &CommandContext<'_>,
    name: &str,
    domain: &str,
    selector: &str,
    key: &str,
    rest: &[String],
) -> Result<String, CliError> {
    check_name(name)?;
    let mut cfg = ctx.store.working()?;
    if cfg.domain_keys.profile(name).is_some() {
        return Err(invalid(format!("A signing profile named {name} exists.")));
    }
    if cfg.domain_keys.profiles.len() >= dk::MAX_PROFILES {
        return Err(invalid(format!(
            "At most {} signing profiles.",
            dk::MAX_PROFILES
        )));
    }
    let key = find_key(&cfg.domain_keys, key)?.name.clone();
    let mut profile = SigningProfile::new(name, domain, selector, &key);
    apply_profile_opts(&mut profile, rest, false)?;
    cfg.domain_keys.profiles.push(profile);
    stage_checked(
        ctx,
        &cfg,
        &format!(
            "Signing profile {name} created; publish its record (domainkeysconfig profiles dnstxt {name})."
        ),
    )
}

fn profile_edit(ctx: &CommandContext<'_>, name: &str, rest: &[String]) -> Result<String, CliError> {
    let mut cfg = ctx.store.working()?;
    let shown = find_profile(&cfg.domain_keys, name)?.name.clone();
    let Some(profile) = cfg
        .domain_keys
        .profiles
        .iter_mut()
        .find(|p| p.name == shown)
    else {
        return Err(invalid(format!("No signing profile named {name}.")));
    };
    apply_profile_opts(profile, rest, true)?;
    stage_checked(ctx, &cfg, &format!("Signing profile {shown} updated."))
}

fn profile_delete(ctx: &CommandContext<'_>, name: &str) -> Result<String, CliError> {
    let mut cfg = ctx.store.working()?;
    let shown = find_profile(&cfg.domain_keys, name)?.name.clone();
    cfg.domain_keys.profiles.retain(|p| p.name != shown);
    stage_checked(ctx, &cfg, &format!("Signing profile {shown} deleted."))
}

fn set_policy(
    ctx: &CommandContext<'_>,
    listener: &str,
    policy: &str,
    on: &str,
) -> Result<String, CliError> {
    let on = match on.to_ascii_lowercase().as_str() {
        "on" | "yes" => true,
        "off" | "no" => false,
        _ => return Err(usage(USAGE)),
    };
    let mut cfg = ctx.store.working()?;
    let l = cfg
        .listener(listener)
        .ok_or_else(|| invalid(format!("No listener named {listener}.")))?;
    let p = l.policy(policy).ok_or_else(|| {
        invalid(format!(
            "Listener {} has no mail flow policy named {policy}.",
            l.name
        ))
    })?;
    let (l, p) = (l.name.clone(), p.name.clone());
    cfg.domain_keys.set_signing(&l, &p, on);
    stage_checked(
        ctx,
        &cfg,
        &format!(
            "Domain Key/DKIM Signing {} for mail flow policy {p} of listener {l}.",
            if on { "on" } else { "off" }
        ),
    )
}

fn setup(ctx: &CommandContext<'_>, rest: &[String]) -> Result<String, CliError> {
    let opts = parse_opts(rest, &["max-size"], &[], USAGE)?;
    if !opts.positional.is_empty() || !opts.any() {
        return Err(usage(USAGE));
    }
    let mut cfg = ctx.store.working()?;
    if let Some(n) = opts.number("max-size", 1024u64, 1024 * 1024 * 1024)? {
        cfg.domain_keys.max_signed_bytes = n;
    }
    stage_checked(ctx, &cfg, "DKIM signing settings updated.")
}

fn key_list(d: &DomainKeys) -> String {
    if d.keys.is_empty() {
        return "No signing keys.\n".to_string();
    }
    let mut out = String::from("Name                 Type\n");
    for k in &d.keys {
        out.push_str(&format!("{:<20} {}\n", k.name, algorithm_name(k.algorithm)));
    }
    out
}

fn profile_list(d: &DomainKeys) -> String {
    if d.profiles.is_empty() {
        return "No signing profiles.\n".to_string();
    }
    let mut out = format!(
        "{:<20} {:<24} {:<16} {}\n",
        "Name", "Domain", "Selector", "Key"
    );
    for p in &d.profiles {
        out.push_str(&format!(
            "{:<20} {:<24} {:<16} {}\n",
            p.name, p.domain, p.selector, p.key
        ));
    }
    out
}

fn render_profile(p: &SigningProfile) -> String {
    format!(
        "Profile: {}\nDomain: {}\nSelector: {}\nSigning key: {}\nCanonicalization: {}/{}\nHeaders to sign: {}\nBody length: none\nUsers: {}\n",
        p.name,
        p.domain,
        p.selector,
        p.key,
        p.header_canonicalization.name(),
        p.body_canonicalization.name(),
        p.headers.join(", "),
        if p.users.is_empty() {
            format!("all (every address in {} and its subdomains)", p.domain)
        } else {
            p.users.join(", ")
        }
    )
}

pub(super) fn render(cfg: &Config) -> String {
    let d = &cfg.domain_keys;
    let mut out = String::from("Domain Key/DKIM Signing:\n");
    if d.signing_policies.is_empty() {
        out.push_str("  Off for every mail flow policy.\n");
    }
    for s in &d.signing_policies {
        out.push_str(&format!(
            "  On for {} on listener {}\n",
            s.policy, s.listener
        ));
    }
    out.push_str(&format!(
        "Largest message signed: {} bytes\n\nSigning keys:\n",
        d.max_signed_bytes
    ));
    out.push_str(&key_list(d));
    out.push_str("\nSigning profiles:\n");
    out.push_str(&profile_list(d));
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    #[test]
    fn keys_and_profiles_are_made_listed_and_printed_without_the_private_key() {
        let f = Fixture::new();
        f.run("domainkeysconfig keys new rsakey").unwrap();
        f.run("domainkeysconfig keys new edkey --type ed25519")
            .unwrap();
        let cfg = f.staged().unwrap();
        assert_eq!(cfg.domain_keys.keys.len(), 2);
        f.run("domainkeysconfig profiles new example_com example.com sel1 rsakey --header-canon simple --users ceo@example.com,.sub.example.com")
            .unwrap();
        let p = f.staged().unwrap().domain_keys.profiles[0].clone();
        assert_eq!(p.header_canonicalization.name(), "simple");
        assert_eq!(p.users.len(), 2);
        f.run("domainkeysconfig profiles edit example_com --users all --selector sel2")
            .unwrap();
        let p = f.staged().unwrap().domain_keys.profiles[0].clone();
        assert!(p.users.is_empty());
        assert_eq!(p.selector, "sel2");
        let printed = f.run("domainkeysconfig print").unwrap();
        assert!(printed.contains("example_com") && printed.contains("edkey"));
        assert!(!printed.contains("PRIVATE KEY"));
        let key = f.run("domainkeysconfig keys print rsakey").unwrap();
        assert!(key.contains("Public key: MII") && !key.contains("PRIVATE"));
        let txt = f
            .run("domainkeysconfig profiles dnstxt example_com")
            .unwrap();
        assert!(txt.starts_with("sel2._domainkey.example.com. IN TXT \"v=DKIM1; k=rsa; p=MII"));
        let exported = f.run("domainkeysconfig keys export rsakey").unwrap();
        assert!(exported.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(
            f.run("domainkeysconfig keys delete rsakey")
                .unwrap_err()
                .to_string()
                .contains("used by signing profile example_com")
        );
        f.run("domainkeysconfig profiles delete example_com")
            .unwrap();
        f.run("domainkeysconfig keys delete rsakey").unwrap();
        assert_eq!(f.staged().unwrap().domain_keys.keys.len(), 1);
    }

    #[test]
    fn an_exported_key_imports_back() {
        let f = Fixture::new();
        f.run("domainkeysconfig keys new k1 --type ed25519")
            .unwrap();
        let pem = f.run("domainkeysconfig keys export k1").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k.pem");
        std::fs::write(&file, &pem).unwrap();
        f.run(&format!(
            "domainkeysconfig keys import k2 {}",
            file.display()
        ))
        .unwrap();
        let cfg = f.staged().unwrap();
        assert_eq!(
            cfg.domain_keys.key("k2").unwrap().private_pem,
            cfg.domain_keys.key("k1").unwrap().private_pem
        );
    }

    #[test]
    fn flow_policy_signing_is_set_per_listener_and_policy() {
        let f = Fixture::new();
        let cfg = f.working();
        let l = cfg.listeners[0].name.clone();
        let p = cfg.listeners[0].policies[0].name.clone();
        f.run(&format!("domainkeysconfig policy {l} {p} on"))
            .unwrap();
        assert!(f.staged().unwrap().domain_keys.signs(&l, &p));
        f.run(&format!("domainkeysconfig policy {l} {p} off"))
            .unwrap();
        assert!(!f.staged().unwrap().domain_keys.signs(&l, &p));
        // A deleted flow policy takes its switch with it.
        f.run("listenerconfig edit IncomingMail hostaccess newpolicy spare")
            .unwrap();
        f.run("domainkeysconfig policy IncomingMail spare on")
            .unwrap();
        assert!(
            f.staged()
                .unwrap()
                .domain_keys
                .signs("IncomingMail", "spare")
        );
        f.run("listenerconfig edit IncomingMail hostaccess deletepolicy spare")
            .unwrap();
        assert!(f.staged().unwrap().domain_keys.signing_policies.is_empty());
        f.run("domainkeysconfig setup --max-size 2048").unwrap();
        assert_eq!(f.staged().unwrap().domain_keys.max_signed_bytes, 2048);
    }

    #[test]
    fn saved_configurations_mask_private_keys_and_load_back_on_this_appliance() {
        use super::super::saveconfig::{MASK, from_text, to_text};
        let f = Fixture::new();
        f.run("domainkeysconfig keys new k1").unwrap();
        let cfg = f.staged().unwrap();
        let masked = to_text(&cfg, false).unwrap();
        assert!(!masked.contains("PRIVATE KEY") && masked.contains(MASK));
        // On this appliance the masked key is the appliance's own.
        assert_eq!(from_text(&masked, &cfg).unwrap(), cfg);
        // Elsewhere it cannot be: the file must be saved with secrets.
        let err = from_text(&masked, &super::super::testutil::factory()).unwrap_err();
        assert!(err.to_string().contains("DKIM signing key k1"), "{err}");
        assert!(to_text(&cfg, true).unwrap().contains("PRIVATE KEY"));
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        Fixture::new().assert_refused(&[
            "domainkeysconfig",
            "domainkeysconfig keys new bad/name",
            "domainkeysconfig keys new k --type dsa",
            "domainkeysconfig keys import k /nonexistent.pem",
            "domainkeysconfig keys print nokey",
            "domainkeysconfig profiles new p example.com sel nokey",
            "domainkeysconfig profiles dnstxt nope",
            "domainkeysconfig policy NoListener RELAYED on",
            "domainkeysconfig setup --max-size 1",
            "domainkeysconfig setup",
        ]);
    }
}

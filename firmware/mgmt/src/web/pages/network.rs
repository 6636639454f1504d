//! Network > DNS, Bounce Profiles and Certificates. Each change is the
//! CLI's command: `dnsconfig servers|timeout|trustanchor ...`,
//! `bounceconfig new|edit|delete ...`, `certconfig import <name> -` (the
//! pasted certificate and key on standard input) and `certconfig delete`.
//! Private keys are never shown: `showconfig --json` masks them, and the
//! certificate list shows only what the certificate itself says.

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use breakwater_config::{BounceProfile, Config};
use maud::{Markup, html};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::web::fields::field;
use crate::web::{Admin, Change, State, layout, web_wording};

const DNS: &str = "/network/dns";
const BOUNCE: &str = "/network/bounce-profiles";
const CERTS: &str = "/network/certificates";

pub fn routes() -> Router<State> {
    Router::new()
        .route(DNS, get(dns_page).post(dns_edit))
        .route("/network/dns/trustanchor/add", post(anchor_add))
        .route("/network/dns/trustanchor/delete", post(anchor_delete))
        .route(BOUNCE, get(bounce_list))
        .route(
            "/network/bounce-profiles/new",
            get(bounce_new_page).post(bounce_add),
        )
        .route(
            "/network/bounce-profiles/edit/{name}",
            get(bounce_edit_page).post(bounce_edit),
        )
        .route("/network/bounce-profiles/delete", post(bounce_delete))
        .route(CERTS, get(cert_list))
        .route(
            "/network/certificates/new",
            get(cert_new_page).post(cert_add),
        )
        .route("/network/certificates/delete", post(cert_delete))
}

fn back(admin: &Admin, error: String, to: &str) -> Response {
    admin.flash(false, error);
    Redirect::to(to).into_response()
}

// ---- DNS ------------------------------------------------------------

/// The server list as `dnsconfig servers` takes it and `print` shows it.
fn servers_text(cfg: &Config) -> String {
    cfg.dns
        .servers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Edit Settings: the commands for what changed, `dnsconfig servers
/// <list>` and/or `dnsconfig timeout <secs>` (`current`: the servers and
/// timeout the form was drawn from).
pub fn dns_words(
    form: &[(String, String)],
    current_servers: &str,
    current_timeout: u32,
) -> Result<Vec<Vec<String>>, String> {
    let mut commands = Vec::new();
    let servers: Vec<&str> = field(form, "dns_servers")
        .unwrap_or("")
        .split([',', ' ', '\n', '\r', '\t'])
        .filter(|s| !s.is_empty())
        .collect();
    let now: Vec<&str> = current_servers
        .split(", ")
        .filter(|s| !s.is_empty())
        .collect();
    if servers != now {
        if servers.is_empty() {
            return Err("Enter at least one DNS server (IP address, optionally :port).".into());
        }
        commands.push(vec![
            "dnsconfig".into(),
            "servers".into(),
            servers.join(","),
        ]);
    }
    if let Some(t) = field(form, "dns_timeout")
        && t != current_timeout.to_string()
    {
        commands.push(vec!["dnsconfig".into(), "timeout".into(), t.into()]);
    }
    if commands.is_empty() {
        return Err("Nothing to change.".into());
    }
    Ok(commands)
}

/// Add Trust Anchor: `dnsconfig trustanchor add <record words>`.
pub fn anchor_words(form: &[(String, String)]) -> Result<Vec<String>, String> {
    let record = field(form, "trust_anchor").ok_or("Paste a DNSKEY record.")?;
    let mut words = vec!["dnsconfig".to_string(), "trustanchor".into(), "add".into()];
    words.extend(record.split_whitespace().map(str::to_string));
    Ok(words)
}

async fn dns_page(admin: Admin) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page("DNS", layout::output(&e)),
    };
    let ro = !admin.can_change();
    let servers = servers_text(&cfg);
    let body = html! {
        h2 { "DNS Server Settings" }
        table.grid id="dns-settings" {
            tr {
                th { "DNS Servers:" }
                td id="dns-mode" {
                    @if cfg.dns.servers.is_empty() {
                        "Use the host's resolver configuration (factory setting)"
                    } @else {
                        "Use these DNS servers: " (servers)
                    }
                }
            }
            tr { th { "Wait Before Timing out Reverse DNS Lookups:" } td { (cfg.dns.timeout_secs) " seconds" } }
            tr { th { "DNS Cache Size:" } td { (cfg.dns.cache_size) " entries" } }
        }
        @if !ro {
            h2 { "Edit DNS Settings" }
            form method="post" action=(DNS) {
                (admin.csrf())
                table.form id="dns-form" {
                    tr {
                        th { label for="dns_servers" { "Use these DNS servers:" } }
                        td {
                            input type="text" id="dns_servers" name="dns_servers" size="50" value=(servers) placeholder="192.0.2.53, [2001:db8::53]:5353";
                            br; small.muted { "Asked in this order; the port defaults to 53." }
                        }
                    }
                    tr {
                        th { label for="dns_timeout" { "Timeout (seconds):" } }
                        td { input type="number" id="dns_timeout" name="dns_timeout" min="1" max="300" value=(cfg.dns.timeout_secs); }
                    }
                    tr { th {} td { button.primary type="submit" id="submit" { "Submit" } " " a href=(DNS) id="cancel" { "Cancel" } } }
                }
            }
        }
        h2 { "DNSSEC Trust Anchors (DANE)" }
        @if cfg.dns.trust_anchors.is_empty() {
            p id="no-trust-anchors" { "IANA root keys (built in)." }
        } @else {
            table.grid id="trust-anchors" {
                tr { th { "#" } th { "Trust Anchor" } th { "Delete" } }
                @for (i, a) in cfg.dns.trust_anchors.iter().enumerate() {
                    tr {
                        td { (i + 1) }
                        td { code { (a) } }
                        td {
                            @if !ro {
                                form.inline method="post" action="/network/dns/trustanchor/delete" {
                                    (admin.csrf())
                                    input type="hidden" name="number" value=(i + 1);
                                    button.danger type="submit" id=(format!("delete-anchor-{}", i + 1)) { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !ro {
            form method="post" action="/network/dns/trustanchor/add" {
                (admin.csrf())
                table.form {
                    tr {
                        th { label for="trust_anchor" { "Add Trust Anchor:" } }
                        td {
                            textarea id="trust_anchor" name="trust_anchor" rows="3" placeholder=". IN DNSKEY 257 3 13 <key>" {}
                            br; small.muted { "A DNSKEY record with an absolute owner name, as dig DNSKEY shows it." }
                        }
                    }
                    tr { th {} td { button type="submit" id="add-trust-anchor" { "Add Trust Anchor" } } }
                }
            }
        }
    };
    admin.page("DNS", body)
}

async fn dns_edit(change: Change) -> Response {
    let admin = &change.admin;
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return back(admin, e, DNS),
    };
    let commands = match dns_words(&change.fields, &servers_text(&cfg), cfg.dns.timeout_secs) {
        Ok(c) => c,
        Err(e) => return back(admin, e, DNS),
    };
    // One command per setting, as at the CLI; the first refusal stops.
    let mut said = Vec::new();
    for words in commands {
        match admin.run_words(words, None).await {
            Ok(out) => said.push(web_wording(&out)),
            Err(out) => {
                said.push(out);
                return back(admin, said.join("\n"), DNS);
            }
        }
    }
    admin.flash(true, said.join("\n"));
    Redirect::to(DNS).into_response()
}

async fn anchor_add(change: Change) -> Response {
    match anchor_words(&change.fields) {
        Ok(words) => change.admin.change(words, None, DNS).await,
        Err(e) => back(&change.admin, e, DNS),
    }
}

async fn anchor_delete(change: Change) -> Response {
    let n = change.get("number").unwrap_or("").to_string();
    let words = vec!["dnsconfig".into(), "trustanchor".into(), "delete".into(), n];
    change.admin.change(words, None, DNS).await
}

// ---- Bounce Profiles -------------------------------------------------

/// The options of `bounceconfig`, each a form field of the same name.
const BOUNCE_OPTIONS: &[&str] = &[
    "max_retries",
    "max_queue_lifetime",
    "initial_retry",
    "max_retry_timeout",
    "hard_bounce_message",
    "delay_warning",
];

fn bounce_options(form: &[(String, String)]) -> Vec<String> {
    let mut words = Vec::new();
    for name in BOUNCE_OPTIONS {
        if let Some(v) = field(form, name) {
            words.push(format!("--{name}"));
            words.push(v.to_string());
        }
    }
    words
}

/// Add Bounce Profile: `bounceconfig new <name> [options]`.
pub fn bounce_new_words(form: &[(String, String)]) -> Result<Vec<String>, String> {
    let name = field(form, "profile_name").ok_or("Enter the profile name.")?;
    let mut words = vec!["bounceconfig".to_string(), "new".into(), name.into()];
    words.extend(bounce_options(form));
    Ok(words)
}

/// Edit: `bounceconfig edit <name> [options]`.
pub fn bounce_edit_words(name: &str, form: &[(String, String)]) -> Result<Vec<String>, String> {
    let options = bounce_options(form);
    if options.is_empty() {
        return Err("Nothing to change.".into());
    }
    let mut words = vec!["bounceconfig".to_string(), "edit".into(), name.into()];
    words.extend(options);
    Ok(words)
}

fn yes_no(b: bool) -> &'static str {
    if b { "Yes" } else { "No" }
}

async fn bounce_list(admin: Admin) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page("Bounce Profiles", layout::output(&e)),
    };
    let ro = !admin.can_change();
    let body = html! {
        @if !ro {
            p { a href="/network/bounce-profiles/new" id="add-bounce-profile" { button type="button" { "Add Bounce Profile..." } } }
        }
        table.grid id="bounce-profiles" {
            tr {
                th { "Bounce Profile" } th { "Maximum Retries" } th { "Maximum Time in Queue" }
                th { "Initial Time to Wait per Message" } th { "Maximum Time to Wait per Message" }
                th { "Send Hard Bounce Messages" } th { "Send Delay Warning Messages" } th { "Delete" }
            }
            @for p in &cfg.bounce_profiles {
                tr id=(format!("bounce-{}", p.name)) {
                    td { a href=(format!("{BOUNCE}/edit/{}", p.name)) id=(format!("edit-{}", p.name)) { (p.name) } }
                    td { (p.max_retries) }
                    td { (p.max_queue_secs) " seconds" }
                    td { (p.initial_retry_secs) " seconds" }
                    td { (p.max_retry_secs) " seconds" }
                    td { (yes_no(p.hard_bounce_message)) }
                    td { (yes_no(p.delay_warning)) }
                    td {
                        @if !ro && !p.name.eq_ignore_ascii_case("Default") {
                            form.inline method="post" action="/network/bounce-profiles/delete" {
                                (admin.csrf())
                                input type="hidden" name="profile_name" value=(p.name);
                                button.danger type="submit" id=(format!("delete-{}", p.name)) { "Delete" }
                            }
                        }
                    }
                }
            }
        }
    };
    admin.page("Bounce Profiles", body)
}

async fn bounce_new_page(admin: Admin) -> Response {
    let body = bounce_form(
        &admin,
        "/network/bounce-profiles/new",
        None,
        &BounceProfile::default(),
    );
    admin.page("Add Bounce Profile", body)
}

async fn bounce_add(change: Change) -> Response {
    match bounce_new_words(&change.fields) {
        Ok(words) => change.admin.change(words, None, BOUNCE).await,
        Err(e) => back(&change.admin, e, "/network/bounce-profiles/new"),
    }
}

async fn bounce_edit_page(admin: Admin, Path(name): Path<String>) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page("Edit Bounce Profile", layout::output(&e)),
    };
    let body = match cfg
        .bounce_profiles
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(&name))
    {
        Some(p) => bounce_form(
            &admin,
            &format!("{BOUNCE}/edit/{}", p.name),
            Some(&p.name),
            p,
        ),
        None => {
            html! { p { "There is no bounce profile named " (name) "." } a href=(BOUNCE) { "Back" } }
        }
    };
    admin.page("Edit Bounce Profile", body)
}

async fn bounce_edit(Path(name): Path<String>, change: Change) -> Response {
    match bounce_edit_words(&name, &change.fields) {
        Ok(words) => change.admin.change(words, None, BOUNCE).await,
        Err(e) => back(&change.admin, e, &format!("{BOUNCE}/edit/{name}")),
    }
}

async fn bounce_delete(change: Change) -> Response {
    let name = change.get("profile_name").unwrap_or("").to_string();
    let words = vec!["bounceconfig".into(), "delete".into(), name];
    change.admin.change(words, None, BOUNCE).await
}

/// The profile's settings; a new profile starts from AsyncOS's Default.
fn bounce_form(admin: &Admin, action: &str, name: Option<&str>, p: &BounceProfile) -> Markup {
    let ro = !admin.can_change();
    let on_off = |id: &str, v: bool| {
        html! {
            select id=(id) name=(id) disabled[ro] {
                option value="on" selected[v] { "Yes" }
                option value="off" selected[!v] { "No" }
            }
        }
    };
    let number = |id: &str, v: u32, unit: &str| {
        html! { input type="number" id=(id) name=(id) min="0" value=(v) disabled[ro]; @if !unit.is_empty() { " " (unit) } }
    };
    html! {
        form method="post" action=(action) {
            (admin.csrf())
            table.form id="bounce-form" {
                tr {
                    th { label for="profile_name" { "Profile Name:" } }
                    td {
                        @match name {
                            Some(n) => { b { (n) } input type="hidden" id="profile_name" name="profile_name" value=(n); }
                            None => { input type="text" id="profile_name" name="profile_name" disabled[ro]; }
                        }
                    }
                }
                tr { th { label for="max_retries" { "Maximum Number of Retries:" } } td { (number("max_retries", p.max_retries, "")) } }
                tr { th { label for="max_queue_lifetime" { "Maximum Time in Queue:" } } td { (number("max_queue_lifetime", p.max_queue_secs, "seconds")) } }
                tr { th { label for="initial_retry" { "Initial Time to Wait per Message:" } } td { (number("initial_retry", p.initial_retry_secs, "seconds")) } }
                tr { th { label for="max_retry_timeout" { "Maximum Time to Wait per Message:" } } td { (number("max_retry_timeout", p.max_retry_secs, "seconds")) } }
                tr { th { label for="hard_bounce_message" { "Send Hard Bounce Messages:" } } td { (on_off("hard_bounce_message", p.hard_bounce_message)) } }
                tr { th { label for="delay_warning" { "Send Delay Warning Messages:" } } td { (on_off("delay_warning", p.delay_warning)) } }
                tr {
                    th {}
                    td {
                        @if !ro { button.primary type="submit" id="submit" { "Submit" } " " }
                        a href=(BOUNCE) id="cancel" { "Cancel" }
                    }
                }
            }
        }
    }
}

// ---- Certificates ----------------------------------------------------

/// Add Certificate: `certconfig import <name> -` with the certificate
/// (chain) and the private key as standard input.
pub fn cert_words(form: &[(String, String)]) -> Result<(Vec<String>, String), String> {
    let name = field(form, "certificate_name").ok_or("Enter the certificate's name.")?;
    let cert = field(form, "certificate").ok_or("Paste the certificate (PEM).")?;
    let key = field(form, "private_key").ok_or("Paste the private key (PEM).")?;
    let words = vec![
        "certconfig".into(),
        "import".into(),
        name.into(),
        "-".into(),
    ];
    Ok((words, format!("{cert}\n{key}\n")))
}

/// What a certificate says about itself: subject, issuer and expiry
/// (the first certificate of the chain).
#[derive(Debug, PartialEq, Eq)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    pub not_after: String,
}

pub fn summary(pem: &str) -> Option<CertSummary> {
    let der = CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()?
        .ok()?;
    der::summary(der.as_ref())
}

/// Just enough DER (X.690) to read a certificate's names and validity.
mod der {
    use super::CertSummary;

    /// One element: tag, contents, and what follows it.
    fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |a, b| (a << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        Some((tag, &rest[..len], &rest[len..]))
    }

    const SEQUENCE: u8 = 0x30;

    /// The attribute types a Name shows, short names as OpenSSL's.
    fn attribute(oid: &[u8]) -> Option<&'static str> {
        Some(match oid {
            [0x55, 0x04, 0x03] => "CN",
            [0x55, 0x04, 0x06] => "C",
            [0x55, 0x04, 0x07] => "L",
            [0x55, 0x04, 0x08] => "ST",
            [0x55, 0x04, 0x0a] => "O",
            [0x55, 0x04, 0x0b] => "OU",
            _ => return None,
        })
    }

    /// `C=US, O=Example, CN=mx.example.com`.
    fn name(contents: &[u8]) -> Option<String> {
        let mut parts = Vec::new();
        let mut sets = contents;
        while !sets.is_empty() {
            let (_, set, rest) = element(sets)?;
            sets = rest;
            let mut atvs = set;
            while !atvs.is_empty() {
                let (_, atv, rest) = element(atvs)?;
                atvs = rest;
                let (_, oid, after) = element(atv)?;
                let (_, value, _) = element(after)?;
                if let Some(short) = attribute(oid) {
                    parts.push(format!("{short}={}", String::from_utf8_lossy(value)));
                }
            }
        }
        Some(parts.join(", "))
    }

    /// UTCTime or GeneralizedTime as `YYYY-MM-DD HH:MM:SS UTC`.
    fn time(tag: u8, value: &[u8]) -> Option<String> {
        let text = std::str::from_utf8(value).ok()?;
        let full = match tag {
            0x17 => {
                let yy: u32 = text.get(..2)?.parse().ok()?;
                format!("{}{text}", if yy >= 50 { "19" } else { "20" })
            }
            0x18 => text.to_string(),
            _ => return None,
        };
        let d = |r: std::ops::Range<usize>| full.get(r);
        Some(format!(
            "{}-{}-{} {}:{}:{} UTC",
            d(0..4)?,
            d(4..6)?,
            d(6..8)?,
            d(8..10)?,
            d(10..12)?,
            d(12..14)?
        ))
    }

    pub(super) fn summary(der: &[u8]) -> Option<CertSummary> {
        let (SEQUENCE, cert, _) = element(der)? else {
            return None;
        };
        let (SEQUENCE, tbs, _) = element(cert)? else {
            return None;
        };
        let mut rest = tbs;
        // [0] version, present from v2 on.
        if rest.first() == Some(&0xa0) {
            rest = element(rest)?.2;
        }
        let (_, _serial, rest) = element(rest)?;
        let (_, _algorithm, rest) = element(rest)?;
        let (SEQUENCE, issuer, rest) = element(rest)? else {
            return None;
        };
        let (SEQUENCE, validity, rest) = element(rest)? else {
            return None;
        };
        let (SEQUENCE, subject, _) = element(rest)? else {
            return None;
        };
        let (_, _not_before, after) = element(validity)?;
        let (tag, not_after, _) = element(after)?;
        Some(CertSummary {
            subject: name(subject)?,
            issuer: name(issuer)?,
            not_after: time(tag, not_after)?,
        })
    }
}

async fn cert_list(admin: Admin) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page("Certificates", layout::output(&e)),
    };
    let ro = !admin.can_change();
    let body = html! {
        @if !ro {
            p { a href="/network/certificates/new" id="add-certificate" { button type="button" { "Add Certificate..." } } }
        }
        table.grid id="certificates" {
            tr { th { "Name" } th { "Common Name / Subject" } th { "Issued By" } th { "Expires" } th { "Used By" } th { "Delete" } }
            @for c in &cfg.certificates {
                @let s = summary(&c.cert_pem);
                @let users: Vec<&str> = cfg.listeners.iter().filter(|l| l.certificate == c.name).map(|l| l.name.as_str()).collect();
                tr id=(format!("cert-{}", c.name)) {
                    td { (c.name) }
                    td { (s.as_ref().map_or("(unreadable)", |s| s.subject.as_str())) }
                    td { (s.as_ref().map_or("", |s| s.issuer.as_str())) }
                    td { (s.as_ref().map_or("", |s| s.not_after.as_str())) }
                    td { (users.join(", ")) }
                    td {
                        @if !ro {
                            form.inline method="post" action="/network/certificates/delete" {
                                (admin.csrf())
                                input type="hidden" name="certificate_name" value=(c.name);
                                button.danger type="submit" id=(format!("delete-{}", c.name)) { "Delete" }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Certificate Authorities (besides the built-in roots)" }
        @if cfg.ca_certificates.is_empty() {
            p { "None." }
        } @else {
            ul { @for ca in &cfg.ca_certificates { li { (ca.name) } } }
        }
    };
    admin.page("Certificates", body)
}

async fn cert_new_page(admin: Admin) -> Response {
    let ro = !admin.can_change();
    let body = html! {
        form method="post" action="/network/certificates/new" {
            (admin.csrf())
            table.form id="certificate-form" {
                tr {
                    th { label for="certificate_name" { "Certificate Name:" } }
                    td { input type="text" id="certificate_name" name="certificate_name" disabled[ro]; }
                }
                tr {
                    th { label for="certificate" { "Paste Certificate:" } }
                    td { textarea id="certificate" name="certificate" rows="10" placeholder="-----BEGIN CERTIFICATE-----" disabled[ro] {} br; small.muted { "The certificate, then any intermediate certificates (PEM)." } }
                }
                tr {
                    th { label for="private_key" { "Paste Key:" } }
                    td { textarea id="private_key" name="private_key" rows="8" placeholder="-----BEGIN PRIVATE KEY-----" disabled[ro] {} br; small.muted { "Its private key (PEM, unencrypted). It is kept on the appliance and never shown." } }
                }
                tr {
                    th {}
                    td {
                        @if !ro { button.primary type="submit" id="submit" { "Submit" } " " }
                        a href=(CERTS) id="cancel" { "Cancel" }
                    }
                }
            }
        }
    };
    admin.page("Add Certificate", body)
}

async fn cert_add(change: Change) -> Response {
    match cert_words(&change.fields) {
        Ok((words, stdin)) => change.admin.change(words, Some(stdin), CERTS).await,
        Err(e) => back(&change.admin, e, "/network/certificates/new"),
    }
}

async fn cert_delete(change: Change) -> Response {
    let name = change.get("certificate_name").unwrap_or("").to_string();
    let words = vec!["certconfig".into(), "delete".into(), name];
    change.admin.change(words, None, CERTS).await
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::web::fields::fields as form;

    /// `openssl req -x509 -newkey ec ... -subj "/C=US/O=Example Org/CN=mx.example.com"`.
    const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBzDCCAXOgAwIBAgIUPdZ5MZMI4CigMv1hOu2LoOn5fyUwCgYIKoZIzj0EAwIw
PDELMAkGA1UEBhMCVVMxFDASBgNVBAoMC0V4YW1wbGUgT3JnMRcwFQYDVQQDDA5t
eC5leGFtcGxlLmNvbTAeFw0yNjEyMDYxMzM2MTBaFw0zNjEyMDMxMzM2MTBaMDwx
CzAJBgNVBAYTAlVTMRQwEgYDVQQKDAtFeGFtcGxlIE9yZzEXMBUGA1UEAwwObXgu
ZXhhbXBsZS5jb20wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATlkaX132WlZDNr
+uJnfDpJDVjrTuGaZytDiHd9VnnTA4g641U508whT2qj8scViIOZRHa9AMvOMa8O
h1RiKV6Oo1MwUTAdBgNVHQ4EFgQU+p9T50cEdBgcRwozQDTdr5Lg/kEwHwYDVR0j
BBgwFoAU+p9T50cEdBgcRwozQDTdr5Lg/kEwDwYDVR0TAQH/BAUwAwEB/zAKBggq
hkjOPQQDAgNHADBEAiBO/j9gN68VfANMMmL0JF9+YcYoOb2+87hK0Ip3ampp0gIg
XTLy5YdaEpHx9dHKIvh/rzaVQ4Biu7LYf+58amqFHv0=
-----END CERTIFICATE-----
";

    #[test]
    fn a_certificate_says_its_subject_issuer_and_expiry() {
        let s = summary(CERT).unwrap();
        assert_eq!(s.subject, "C=US, O=Example Org, CN=mx.example.com");
        assert_eq!(s.issuer, s.subject);
        assert_eq!(s.not_after, "2036-12-03 13:36:10 UTC");
        assert_eq!(summary("not pem"), None);
        // Truncated DER never panics.
        let der = CertificateDer::pem_slice_iter(CERT.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        for n in 0..der.len() {
            let _ = der::summary(&der[..n]);
        }
    }

    #[test]
    fn add_certificate_pastes_both_on_standard_input() {
        let f = form(&[
            ("certificate_name", "o365"),
            ("certificate", CERT),
            (
                "private_key",
                "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----",
            ),
        ]);
        let (words, stdin) = cert_words(&f).unwrap();
        assert_eq!(words, ["certconfig", "import", "o365", "-"]);
        assert!(stdin.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(stdin.contains("-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----"));
        assert!(cert_words(&form(&[("certificate_name", "x"), ("certificate", CERT)])).is_err());
    }

    #[test]
    fn dns_settings_run_only_what_changed() {
        let f = form(&[
            ("dns_servers", "192.0.2.53, [2001:db8::53]:5353"),
            ("dns_timeout", "3"),
        ]);
        assert_eq!(
            dns_words(&f, "", 3).unwrap(),
            [["dnsconfig", "servers", "192.0.2.53,[2001:db8::53]:5353"]]
        );
        let f = form(&[("dns_servers", "192.0.2.53:53"), ("dns_timeout", "10")]);
        assert_eq!(
            dns_words(&f, "192.0.2.53:53", 3).unwrap(),
            [["dnsconfig", "timeout", "10"]]
        );
        assert!(dns_words(&f, "192.0.2.53:53", 10).is_err());
        let anchor = form(&[("trust_anchor", ". IN DNSKEY 257 3 13 abc\n def==")]);
        assert_eq!(
            anchor_words(&anchor).unwrap(),
            [
                "dnsconfig",
                "trustanchor",
                "add",
                ".",
                "IN",
                "DNSKEY",
                "257",
                "3",
                "13",
                "abc",
                "def=="
            ]
        );
    }

    #[test]
    fn bounce_profiles_are_bounceconfigs_options() {
        let f = form(&[
            ("profile_name", "o365"),
            ("max_retries", "10"),
            ("max_queue_lifetime", "3600"),
            ("initial_retry", ""),
            ("hard_bounce_message", "off"),
        ]);
        assert_eq!(
            bounce_new_words(&f).unwrap(),
            [
                "bounceconfig",
                "new",
                "o365",
                "--max_retries",
                "10",
                "--max_queue_lifetime",
                "3600",
                "--hard_bounce_message",
                "off",
            ]
        );
        assert_eq!(
            bounce_edit_words("Default", &form(&[("delay_warning", "on")])).unwrap(),
            ["bounceconfig", "edit", "Default", "--delay_warning", "on"]
        );
        assert!(bounce_edit_words("Default", &[]).is_err());
    }
}

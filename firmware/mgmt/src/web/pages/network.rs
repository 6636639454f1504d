//! Network > DNS, Bounce Profiles and Certificates. Each change is the
//! CLI's command: `dnsconfig servers|timeout|trustanchor ...`,
//! `bounceconfig new|edit|delete ...`, `certconfig import <name> -` (the
//! pasted certificate and key on standard input) and `certconfig delete`.
//! The certificate list is `certconfig print --json`: the control plane
//! reads the certificates and says what uses them; private keys are never
//! in it (and `showconfig --json` masks them).

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use breakwater_config::{BounceProfile, Config};
use maud::{Markup, html};
use serde::Deserialize;

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

/// One row of `certconfig print --json`: the control plane reads the
/// certificate (this crate parses no X.509) and says what uses it.
#[derive(Debug, PartialEq, Eq, Deserialize)]
pub struct CertRow {
    pub name: String,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub not_after: Option<String>,
    pub days_left: Option<i64>,
    #[serde(default)]
    pub used_by: Vec<String>,
    pub error: Option<String>,
}

pub fn cert_rows(json: &str) -> Result<Vec<CertRow>, String> {
    serde_json::from_str(json).map_err(|e| format!("Unexpected certconfig answer: {e}"))
}

/// The Expires column: the date and how long it has left, as the control
/// plane counted it.
fn expires(row: &CertRow) -> String {
    match (&row.not_after, row.days_left) {
        (Some(date), Some(days)) if days < 0 => format!("{date} (expired)"),
        (Some(date), Some(days)) => format!("{date} ({days} days left)"),
        (Some(date), None) => date.clone(),
        (None, _) => String::new(),
    }
}

async fn cert_list(admin: Admin) -> Response {
    let rows = match admin.run(&["certconfig", "print", "--json"]).await {
        Ok(json) => cert_rows(&json),
        Err(e) => Err(e),
    };
    let (rows, cfg) = match (rows, admin.config().await) {
        (Ok(rows), Ok(cfg)) => (rows, cfg),
        (Err(e), _) | (_, Err(e)) => return admin.page("Certificates", layout::output(&e)),
    };
    let ro = !admin.can_change();
    let body = html! {
        @if !ro {
            p { a href="/network/certificates/new" id="add-certificate" { button type="button" { "Add Certificate..." } } }
        }
        table.grid id="certificates" {
            tr { th { "Name" } th { "Common Name / Subject" } th { "Issued By" } th { "Expires" } th { "Used By" } th { "Delete" } }
            @for c in &rows {
                tr id=(format!("cert-{}", c.name)) {
                    td { (c.name) }
                    td {
                        @match (&c.subject, &c.error) {
                            (Some(subject), _) => (subject),
                            (None, Some(e)) => { "(unreadable: " (e) ")" },
                            (None, None) => "(unreadable)",
                        }
                    }
                    td { (c.issuer.as_deref().unwrap_or("")) }
                    td { (expires(c)) }
                    td { (c.used_by.join(", ")) }
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
    fn the_certificate_list_is_certconfigs_answer() {
        let json = r#"[{"name":"Demo","subject":"CN=mx.example.com, O=Example Org","issuer":"CN=Example CA, O=Example Org","not_before":"2026-01-01T00:00:00Z","not_after":"2027-01-01T00:00:00Z","days_left":31,"used_by":["IncomingMail","HTTPS on Management"]},
            {"name":"old","subject":"CN=old","issuer":"CN=old","not_before":"2020-01-01T00:00:00Z","not_after":"2021-01-01T00:00:00Z","days_left":-2000,"used_by":[]},
            {"name":"junk","subject":null,"issuer":null,"not_before":null,"not_after":null,"days_left":null,"used_by":[],"error":"no certificate"}]"#;
        let rows = cert_rows(json).unwrap();
        assert_eq!(
            rows[0].subject.as_deref(),
            Some("CN=mx.example.com, O=Example Org")
        );
        assert_eq!(rows[0].used_by, ["IncomingMail", "HTTPS on Management"]);
        assert_eq!(expires(&rows[0]), "2027-01-01T00:00:00Z (31 days left)");
        assert_eq!(expires(&rows[1]), "2021-01-01T00:00:00Z (expired)");
        assert_eq!(expires(&rows[2]), "");
        assert_eq!(rows[2].error.as_deref(), Some("no certificate"));
        assert!(cert_rows("Certificates:").is_err());
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

//! Mail Policies > Destination Controls: the Destination Control Table
//! (the Default row last, as AsyncOS and `destconfig print` show it),
//! Add Destination, Edit and Delete. Every change is `destconfig new`,
//! `destconfig edit` or `destconfig delete` with the CLI's options.

use crate::web::fields::field;
use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use breakwater_config::{
    Config, Dane, DestinationControl, DestinationSettings, IpPreference, LimitScope, OutboundTls,
};
use maud::{Markup, html};

use crate::web::{Admin, Change, State, layout};

const BASE: &str = "/mail-policies/destination-controls";

pub fn routes() -> Router<State> {
    Router::new()
        .route(BASE, get(list))
        .route(
            "/mail-policies/destination-controls/new",
            get(new_page).post(add),
        )
        .route(
            "/mail-policies/destination-controls/edit/{domain}",
            get(edit_page).post(edit),
        )
        .route("/mail-policies/destination-controls/delete", post(delete))
}

/// The options of `destconfig`, in the form's order: (form field and CLI
/// option name). Their values are the CLI's words (`preferred`, `host`,
/// `ipv6-preferred`, `on`...), so the form passes them through unchanged.
const OPTIONS: &[&str] = &[
    "ip_preference",
    "max_host_concurrency",
    "max_messages_per_connection",
    "limit_applies_to",
    "use_tls",
    "dane",
    "bounce_verification",
    "bounce_profile",
    "client_certificate",
];

/// The options a form sets: every non-empty field (empty means "Use
/// Default" on a domain's row, "unchanged" when editing).
fn options(form: &[(String, String)]) -> Vec<String> {
    let mut words = Vec::new();
    for name in OPTIONS {
        if let Some(v) = field(form, name) {
            words.push(format!("--{name}"));
            words.push(v.to_string());
        }
    }
    match field(form, "recipients") {
        Some("none") => words.extend(["--recipient_limit".into(), "none".into()]),
        Some("limit") => {
            // The CLI says what is wrong with a missing or bad number.
            let n = field(form, "recipient_limit").unwrap_or("");
            words.extend(["--recipient_limit".into(), n.to_string()]);
            if let Some(m) = field(form, "recipient_minutes") {
                words.extend(["--recipient_minutes".into(), m.to_string()]);
            }
        }
        _ => {}
    }
    words
}

/// Add Destination: `destconfig new <domain> [options]`.
pub fn new_words(form: &[(String, String)]) -> Result<Vec<String>, String> {
    let domain = field(form, "destination").ok_or("Enter the destination domain.")?;
    let mut words = vec!["destconfig".to_string(), "new".into(), domain.into()];
    words.extend(options(form));
    Ok(words)
}

/// Edit: `destconfig edit <domain>|Default [options]`.
pub fn edit_words(domain: &str, form: &[(String, String)]) -> Result<Vec<String>, String> {
    let options = options(form);
    if options.is_empty() {
        return Err("Nothing to change: choose at least one setting.".into());
    }
    let mut words = vec!["destconfig".to_string(), "edit".into(), domain.into()];
    words.extend(options);
    Ok(words)
}

/// A destination's own "perform address tagging" setting (kept in
/// `bounce_verification`, as `destconfig` and `bvconfig tagging` set it).
fn own_tagging(cfg: &Config, domain: &str) -> Option<bool> {
    cfg.bounce_verification
        .destinations
        .iter()
        .find(|t| t.destination.eq_ignore_ascii_case(domain))
        .map(|t| t.tag)
}

fn is_default(domain: &str) -> bool {
    domain.eq_ignore_ascii_case("default")
}

fn dane_label(d: Dane) -> &'static str {
    match d {
        Dane::None => "None",
        Dane::Opportunistic => "Opportunistic",
        Dane::Mandatory => "Mandatory",
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "On" } else { "Off" }
}

/// A domain row's cell: its own setting, or "Default".
fn own(set: bool, text: impl Into<String>) -> String {
    if set { text.into() } else { "Default".into() }
}

async fn list(admin: Admin) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page("Destination Controls", layout::output(&e)),
    };
    let d = &cfg.destination_default;
    let body = html! {
        @if admin.can_change() {
            p { a href="/mail-policies/destination-controls/new" id="add-destination" { button type="button" { "Add Destination..." } } }
        }
        table.grid id="destination-controls" {
            caption { "Destination Control Table" }
            tr {
                th { "Domain" } th { "IP Address Preference" } th { "Destination Limits" }
                th { "TLS Support" } th { "DANE Support ^" } th { "Bounce Verification *" }
                th { "Bounce Profile" } th { "Delete" }
            }
            @for row in &cfg.destination_controls {
                @let s = row.settings(d);
                @let own_limits = row.max_concurrency.is_some() || row.max_messages_per_connection.is_some() || row.recipient_limit.is_some() || row.limit_scope.is_some();
                tr id=(format!("dest-{}", row.domain)) {
                    td { a href=(format!("{BASE}/edit/{}", row.domain)) id=(format!("edit-{}", row.domain)) { (row.domain) } }
                    td { (own(row.ip_preference.is_some(), s.ip_preference.label())) }
                    td { (own(own_limits, s.limits_text())) }
                    td { (own(row.tls.is_some(), s.tls.label())) }
                    td { (own(row.dane.is_some(), dane_label(s.dane))) }
                    td { (own(own_tagging(&cfg, &row.domain).is_some(), on_off(cfg.bounce_verification.tags_destination(&row.domain)))) }
                    td { (own(row.bounce_profile.is_some(), s.bounce_profile.as_str())) }
                    td {
                        @if admin.can_change() {
                            form.inline method="post" action="/mail-policies/destination-controls/delete" {
                                (admin.csrf())
                                input type="hidden" name="domain" value=(row.domain);
                                button.danger type="submit" id=(format!("delete-{}", row.domain)) { "Delete" }
                            }
                        }
                    }
                }
            }
            tr id="dest-Default" {
                td { a href=(format!("{BASE}/edit/Default")) id="edit-Default" { "Default" } }
                td { (d.ip_preference.label()) }
                td { (d.limits_text()) }
                td { (d.tls.label()) }
                td { (dane_label(d.dane)) }
                td { (on_off(cfg.bounce_verification.default_tagging)) }
                td { (d.bounce_profile) }
                td {}
            }
        }
        p.muted {
            "* Bounce Verification settings apply only if bounce verification address tagging is in use."
            br;
            "^ DANE will not be enforced for domains that have SMTP Routes configured."
        }
    };
    admin.page("Destination Controls", body)
}

async fn new_page(admin: Admin) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page("Add Destination", layout::output(&e)),
    };
    let row = DestinationControl::default();
    let body = form(
        &admin,
        &cfg,
        "/mail-policies/destination-controls/new",
        None,
        &Current::Domain(&row),
    );
    admin.page("Add Destination", body)
}

async fn add(change: Change) -> Response {
    match new_words(&change.fields) {
        Ok(words) => change.admin.change(words, None, BASE).await,
        Err(e) => {
            change.admin.flash(false, e);
            Redirect::to("/mail-policies/destination-controls/new").into_response()
        }
    }
}

async fn edit_page(admin: Admin, Path(domain): Path<String>) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page("Edit Destination", layout::output(&e)),
    };
    let action = format!("{BASE}/edit/{domain}");
    let body = if is_default(&domain) {
        form(
            &admin,
            &cfg,
            &action,
            Some("Default"),
            &Current::Default(&cfg.destination_default),
        )
    } else if let Some(row) = cfg
        .destination_controls
        .iter()
        .find(|r| r.domain.eq_ignore_ascii_case(&domain))
    {
        form(
            &admin,
            &cfg,
            &action,
            Some(&row.domain),
            &Current::Domain(row),
        )
    } else {
        html! { p { "There is no destination control entry for " (domain) "." } a href=(BASE) { "Back" } }
    };
    admin.page("Edit Destination", body)
}

async fn edit(Path(domain): Path<String>, change: Change) -> Response {
    match edit_words(&domain, &change.fields) {
        Ok(words) => change.admin.change(words, None, BASE).await,
        Err(e) => {
            change.admin.flash(false, e);
            Redirect::to(&format!("{BASE}/edit/{domain}")).into_response()
        }
    }
}

async fn delete(change: Change) -> Response {
    let domain = change.get("domain").unwrap_or("").to_string();
    let words = vec!["destconfig".into(), "delete".into(), domain];
    change.admin.change(words, None, BASE).await
}

/// The values the form starts from: a domain's own settings (unset ones
/// are "Use Default") or the Default row's.
enum Current<'a> {
    Domain(&'a DestinationControl),
    Default(&'a DestinationSettings),
}

/// The CLI words of each choice, with AsyncOS's labels.
const IP_PREFERENCES: &[(&str, IpPreference)] = &[
    ("ipv4-only", IpPreference::Ipv4Only),
    ("ipv4-preferred", IpPreference::Ipv4Preferred),
    ("ipv6-preferred", IpPreference::Ipv6Preferred),
    ("ipv6-only", IpPreference::Ipv6Only),
];
const TLS_MODES: &[(&str, OutboundTls)] = &[
    ("none", OutboundTls::None),
    ("preferred", OutboundTls::Preferred),
    ("required", OutboundTls::Required),
    ("preferred-verify", OutboundTls::PreferredVerify),
    ("required-verify", OutboundTls::RequiredVerify),
];
const DANE_MODES: &[(&str, Dane)] = &[
    ("none", Dane::None),
    ("opportunistic", Dane::Opportunistic),
    ("mandatory", Dane::Mandatory),
];

/// A select of `choices` (CLI word, label); `selected` is the current
/// word; a domain's row offers "Use Default" (no option sent) first.
fn select(
    id: &str,
    with_default: bool,
    selected: Option<&str>,
    choices: &[(String, String)],
    disabled: bool,
) -> Markup {
    html! {
        select id=(id) name=(id) disabled[disabled] {
            @if with_default {
                option value="" selected[selected.is_none()] { "Use Default" }
            }
            @for (word, label) in choices {
                option value=(word) selected[selected == Some(word.as_str())] { (label) }
            }
        }
    }
}

fn pairs<T: Copy>(list: &[(&str, T)], label: impl Fn(T) -> &'static str) -> Vec<(String, String)> {
    list.iter()
        .map(|(w, v)| ((*w).to_string(), label(*v).to_string()))
        .collect()
}

fn word_of<T: PartialEq + Copy>(list: &[(&'static str, T)], v: Option<T>) -> Option<&'static str> {
    let v = v?;
    list.iter().find(|(_, x)| *x == v).map(|(w, _)| *w)
}

fn form(
    admin: &Admin,
    cfg: &Config,
    action: &str,
    domain: Option<&str>,
    current: &Current<'_>,
) -> Markup {
    let ro = !admin.can_change();
    let dflt = matches!(current, Current::Domain(_));
    // (own setting) per field: None = Use Default.
    let (ip, conc, msgs, rcpt, scope, tls, dane, verif, profile, cert) = match current {
        Current::Domain(r) => (
            r.ip_preference,
            r.max_concurrency,
            r.max_messages_per_connection,
            r.recipient_limit,
            r.limit_scope,
            r.tls,
            r.dane,
            own_tagging(cfg, &r.domain),
            r.bounce_profile.clone(),
            r.client_certificate.clone(),
        ),
        Current::Default(d) => (
            Some(d.ip_preference),
            Some(d.max_concurrency),
            Some(d.max_messages_per_connection),
            Some(d.recipient_limit),
            Some(d.limit_scope),
            Some(d.tls),
            Some(d.dane),
            Some(cfg.bounce_verification.default_tagging),
            Some(d.bounce_profile.clone()),
            Some(d.client_certificate.clone()),
        ),
    };
    let defaults = &cfg.destination_default;
    let scope_word = scope.map(|s| match s {
        LimitScope::Domain => "domain",
        LimitScope::Host => "host",
    });
    let rcpt_mode = match rcpt {
        None => None,
        Some(None) => Some("none"),
        Some(Some(_)) => Some("limit"),
    };
    let rcpt_values = rcpt.flatten();
    let profiles: Vec<(String, String)> = cfg
        .bounce_profiles
        .iter()
        .map(|p| (p.name.clone(), p.name.clone()))
        .collect();
    let mut certs: Vec<(String, String)> = vec![("none".into(), "None".into())];
    certs.extend(
        cfg.certificates
            .iter()
            .map(|c| (c.name.clone(), c.name.clone())),
    );
    let cert_word = cert.map(|c| c.unwrap_or_else(|| "none".into()));
    let hint = |text: String| html! { @if dflt { " " span.muted { "(Default: " (text) ")" } } };
    html! {
        @if dflt {
            p.muted { "Settings left at \"Use Default\" follow the Default row." }
        }
        form method="post" action=(action) {
            (admin.csrf())
            table.form id="destination-form" {
                tr {
                    th { label for="destination" { "Destination:" } }
                    td {
                        @match domain {
                            Some(d) => { b { (d) } input type="hidden" id="destination" name="destination" value=(d); }
                            None => { input type="text" id="destination" name="destination" size="40" placeholder="example.com or .example.com" disabled[ro]; }
                        }
                    }
                }
                tr {
                    th { label for="ip_preference" { "IP Address Preference:" } }
                    td { (select("ip_preference", dflt, word_of(IP_PREFERENCES, ip), &pairs(IP_PREFERENCES, IpPreference::label), ro)) (hint(defaults.ip_preference.label().into())) }
                }
                tr {
                    th { "Limits:" }
                    td {
                        table.form {
                            tr {
                                th { label for="max_host_concurrency" { "Concurrent Connections:" } }
                                td { input type="number" id="max_host_concurrency" name="max_host_concurrency" min="1" max="10000" value=[conc] disabled[ro]; (hint(defaults.max_concurrency.to_string())) }
                            }
                            tr {
                                th { label for="max_messages_per_connection" { "Maximum Messages Per Connection:" } }
                                td { input type="number" id="max_messages_per_connection" name="max_messages_per_connection" min="1" max="100000" value=[msgs] disabled[ro]; (hint(defaults.max_messages_per_connection.to_string())) }
                            }
                            tr {
                                th { "Recipients:" }
                                td {
                                    @if dflt {
                                        label { input type="radio" name="recipients" id="recipients_default" value="" checked[rcpt_mode.is_none()] disabled[ro]; " Use Default" } br;
                                    }
                                    label { input type="radio" name="recipients" id="recipients_none" value="none" checked[rcpt_mode == Some("none")] disabled[ro]; " No Limit" } br;
                                    label { input type="radio" name="recipients" id="recipients_limit" value="limit" checked[rcpt_mode == Some("limit")] disabled[ro]; " Maximum of " }
                                    input type="number" id="recipient_limit" name="recipient_limit" min="1" max="1000000" value=[rcpt_values.map(|l| l.recipients)] disabled[ro];
                                    label for="recipient_minutes" { " recipients per " }
                                    input type="number" id="recipient_minutes" name="recipient_minutes" min="1" max="1440" value=[rcpt_values.map(|l| l.minutes)] placeholder="60" disabled[ro];
                                    " minutes"
                                }
                            }
                            tr {
                                th { label for="limit_applies_to" { "Apply limits:" } }
                                td { (select("limit_applies_to", dflt, scope_word, &[("domain".into(), "Per Destination".into()), ("host".into(), "Per Host (each mail exchanger IP)".into())], ro)) }
                            }
                        }
                    }
                }
                tr {
                    th { label for="use_tls" { "TLS Support:" } }
                    td { (select("use_tls", dflt, word_of(TLS_MODES, tls), &pairs(TLS_MODES, OutboundTls::label), ro)) (hint(defaults.tls.label().into())) }
                }
                tr {
                    th { label for="dane" { "DANE Support:" } }
                    td { (select("dane", dflt, word_of(DANE_MODES, dane), &pairs(DANE_MODES, dane_label), ro)) (hint(dane_label(defaults.dane).into())) }
                }
                tr {
                    th { label for="bounce_verification" { "Bounce Verification:" } }
                    td { (select("bounce_verification", dflt, verif.map(|b| if b { "on" } else { "off" }), &[("on".into(), "On".into()), ("off".into(), "Off".into())], ro)) }
                }
                tr {
                    th { label for="bounce_profile" { "Bounce Profile:" } }
                    td { (select("bounce_profile", dflt, profile.as_deref(), &profiles, ro)) }
                }
                tr {
                    th { label for="client_certificate" { "Client Certificate:" } }
                    td { (select("client_certificate", dflt, cert_word.as_deref(), &certs, ro)) }
                }
                tr {
                    th {}
                    td {
                        @if !ro { button.primary type="submit" id="submit" { "Submit" } " " }
                        a href=(BASE) id="cancel" { "Cancel" }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::web::fields::fields as form;

    #[test]
    fn the_seeds_destination_is_the_clis_command() {
        let f = form(&[
            ("csrf", "x"),
            ("destination", " example.onmicrosoft.com "),
            ("ip_preference", ""),
            ("max_host_concurrency", "10"),
            ("max_messages_per_connection", "20"),
            ("recipients", ""),
            ("recipient_limit", ""),
            ("recipient_minutes", ""),
            ("limit_applies_to", ""),
            ("use_tls", "preferred"),
            ("dane", ""),
            ("bounce_profile", ""),
        ]);
        assert_eq!(
            new_words(&f).unwrap(),
            [
                "destconfig",
                "new",
                "example.onmicrosoft.com",
                "--max_host_concurrency",
                "10",
                "--max_messages_per_connection",
                "20",
                "--use_tls",
                "preferred",
            ]
        );
        assert!(new_words(&form(&[("destination", " ")])).is_err());
    }

    #[test]
    fn recipient_limits_and_the_default_row() {
        let f = form(&[
            ("recipients", "limit"),
            ("recipient_limit", "100"),
            ("recipient_minutes", "15"),
            ("limit_applies_to", "host"),
        ]);
        assert_eq!(
            edit_words("Default", &f).unwrap(),
            [
                "destconfig",
                "edit",
                "Default",
                "--limit_applies_to",
                "host",
                "--recipient_limit",
                "100",
                "--recipient_minutes",
                "15",
            ]
        );
        let none = form(&[("recipients", "none")]);
        assert_eq!(
            edit_words(".example.com", &none).unwrap(),
            [
                "destconfig",
                "edit",
                ".example.com",
                "--recipient_limit",
                "none"
            ]
        );
        assert!(edit_words("example.com", &form(&[("recipients", "")])).is_err());
    }

    #[test]
    fn the_limits_cell_reads_like_asyncos() {
        let d = DestinationSettings::default();
        assert_eq!(
            d.limits_text(),
            "500 concurrent connections, 50 messages per connection, No recipient limit"
        );
    }
}

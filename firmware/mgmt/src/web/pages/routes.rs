//! Network > SMTP Routes: the routes (Receiving Domain, Destination Hosts
//! with priority and port), Add Route, Edit and Delete, as `smtproutes
//! new|edit|delete` with the CLI's host list (`host[:port][/pri=N],...`,
//! or `/dev/null` or `USEDNS` alone).

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use breakwater_config::{RouteHost, RouteTarget, SmtpRoute};
use maud::{Markup, html};

use crate::web::fields::field;
use crate::web::{Admin, Change, State, layout};

const BASE: &str = "/network/smtp-routes";
/// Empty Destination Hosts rows a form offers beyond the route's hosts
/// (the page works without scripts, so "Add Row" is rows ready to fill).
const SPARE_ROWS: usize = 3;

pub fn routes() -> Router<State> {
    Router::new()
        .route(BASE, get(list))
        .route("/network/smtp-routes/new", get(new_page).post(add))
        .route(
            "/network/smtp-routes/edit/{domain}",
            get(edit_page).post(edit),
        )
        .route("/network/smtp-routes/delete", post(delete))
}

/// One Destination Hosts row in the CLI's words: `host[:port][/pri=N]`,
/// an IPv6 address in brackets when a port follows; `/dev/null` and
/// `USEDNS` as they are.
fn host_word(priority: &str, host: &str, port: &str) -> String {
    if host == "/dev/null" || host.eq_ignore_ascii_case("USEDNS") {
        return host.to_string();
    }
    let mut w = if !port.is_empty() && host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    if !port.is_empty() {
        w.push(':');
        w.push_str(port);
    }
    if !priority.is_empty() {
        w.push_str("/pri=");
        w.push_str(priority);
    }
    w
}

/// Every value of a repeated field, trimmed, in order.
fn column<'a>(form: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    form.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .collect()
}

/// The Destination Hosts rows (repeated `priority`, `destination`,
/// `port` fields, in order) as the CLI's comma-separated list.
fn hosts<'a>(form: &'a [(String, String)]) -> Result<String, String> {
    let (pri, dest, port) = (
        column(form, "priority"),
        column(form, "destination"),
        column(form, "port"),
    );
    let list: Vec<String> = dest
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.is_empty())
        .map(|(i, d)| {
            let at = |c: &Vec<&'a str>| c.get(i).copied().unwrap_or("");
            host_word(at(&pri), d, at(&port))
        })
        .collect();
    if list.is_empty() {
        return Err("Enter at least one destination host.".into());
    }
    Ok(list.join(","))
}

/// Add Route: `smtproutes new <domain> <hosts>`.
pub fn new_words(form: &[(String, String)]) -> Result<Vec<String>, String> {
    let domain = field(form, "receiving_domain").ok_or("Enter the receiving domain.")?;
    Ok(vec![
        "smtproutes".into(),
        "new".into(),
        domain.into(),
        hosts(form)?,
    ])
}

/// Edit: `smtproutes edit <domain> <hosts>` (the hosts are replaced).
pub fn edit_words(domain: &str, form: &[(String, String)]) -> Result<Vec<String>, String> {
    Ok(vec![
        "smtproutes".into(),
        "edit".into(),
        domain.into(),
        hosts(form)?,
    ])
}

/// A route's hosts as the list shows them.
fn target_text(t: &RouteTarget) -> Vec<String> {
    match t {
        RouteTarget::DevNull => vec!["/dev/null (discard)".into()],
        RouteTarget::UseDns => vec!["USEDNS (MX lookup)".into()],
        RouteTarget::Hosts(h) => h
            .iter()
            .map(|h| format!("{}:{} (priority {})", h.host, h.port, h.priority))
            .collect(),
    }
}

async fn list(admin: Admin) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page("SMTP Routes", layout::output(&e)),
    };
    let body = html! {
        @if admin.can_change() {
            p { a href="/network/smtp-routes/new" id="add-route" { button type="button" { "Add Route..." } } }
        }
        @if cfg.smtp_routes.is_empty() {
            p id="no-routes" { "No SMTP routes are configured (mail is delivered by MX lookup)." }
        } @else {
            table.grid id="smtp-routes" {
                tr { th { "Receiving Domain" } th { "Destination Hosts" } th { "Delete" } }
                @for r in &cfg.smtp_routes {
                    tr id=(format!("route-{}", r.domain)) {
                        td { a href=(format!("{BASE}/edit/{}", r.domain)) id=(format!("edit-{}", r.domain)) { (r.domain) } }
                        td { @for h in target_text(&r.target) { (h) br; } }
                        td {
                            @if admin.can_change() {
                                form.inline method="post" action="/network/smtp-routes/delete" {
                                    (admin.csrf())
                                    input type="hidden" name="receiving_domain" value=(r.domain);
                                    button.danger type="submit" id=(format!("delete-{}", r.domain)) { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.muted { "Note: DANE will not be enforced for domains that have SMTP Routes configured." }
    };
    admin.page("SMTP Routes", body)
}

async fn new_page(admin: Admin) -> Response {
    let body = form(&admin, "/network/smtp-routes/new", None);
    admin.page("Add SMTP Route", body)
}

async fn add(change: Change) -> Response {
    match new_words(&change.fields) {
        Ok(words) => change.admin.change(words, None, BASE).await,
        Err(e) => {
            change.admin.flash(false, e);
            Redirect::to("/network/smtp-routes/new").into_response()
        }
    }
}

async fn edit_page(admin: Admin, Path(domain): Path<String>) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page("Edit SMTP Route", layout::output(&e)),
    };
    let action = format!("{BASE}/edit/{domain}");
    let body = match cfg
        .smtp_routes
        .iter()
        .find(|r| r.domain.eq_ignore_ascii_case(&domain))
    {
        Some(route) => form(&admin, &action, Some(route)),
        None => html! { p { "There is no route for " (domain) "." } a href=(BASE) { "Back" } },
    };
    admin.page("Edit SMTP Route", body)
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
    let domain = change.get("receiving_domain").unwrap_or("").to_string();
    let words = vec!["smtproutes".into(), "delete".into(), domain];
    change.admin.change(words, None, BASE).await
}

/// SMTP Route Settings: Receiving Domain and the Destination Hosts table
/// (Priority, Destination, Port) as AsyncOS draws it.
fn form(admin: &Admin, action: &str, route: Option<&SmtpRoute>) -> Markup {
    let ro = !admin.can_change();
    let rows: Vec<(String, String, String)> = match route.map(|r| &r.target) {
        Some(RouteTarget::Hosts(h)) => h
            .iter()
            .map(
                |RouteHost {
                     host,
                     port,
                     priority,
                 }| (priority.to_string(), host.to_string(), port.to_string()),
            )
            .collect(),
        Some(RouteTarget::DevNull) => vec![(String::new(), "/dev/null".into(), String::new())],
        Some(RouteTarget::UseDns) => vec![(String::new(), "USEDNS".into(), String::new())],
        None => vec![("0".into(), String::new(), "25".into())],
    };
    let spare = (0..SPARE_ROWS).map(|_| (String::new(), String::new(), String::new()));
    let rows: Vec<_> = rows.into_iter().chain(spare).collect();
    html! {
        form method="post" action=(action) {
            (admin.csrf())
            table.form id="route-form" {
                tr {
                    th { label for="receiving_domain" { "Receiving Domain:" } }
                    td {
                        @match route {
                            Some(r) => { b { (r.domain) } input type="hidden" id="receiving_domain" name="receiving_domain" value=(r.domain); }
                            None => {
                                input type="text" id="receiving_domain" name="receiving_domain" size="40" placeholder="example.com, .example.com or ALL" disabled[ro];
                            }
                        }
                    }
                }
                tr {
                    th { "Destination Hosts:" }
                    td {
                        table.grid id="destination-hosts" {
                            tr { th { "Priority" } th { "Destination" } th { "Port" } }
                            @for (i, (pri, host, port)) in rows.iter().enumerate() {
                                tr {
                                    td { input type="number" id=(format!("priority{i}")) name="priority" min="0" max="99" size="3" value=(pri) disabled[ro]; }
                                    td {
                                        input type="text" id=(format!("destination{i}")) name="destination" size="40" value=(host) disabled[ro];
                                        br; small.muted { "(Hostname, IPv4 or IPv6 address; /dev/null to discard; USEDNS for MX lookup.)" }
                                    }
                                    td { input type="number" id=(format!("port{i}")) name="port" min="1" max="65535" size="5" value=(port) disabled[ro]; }
                                }
                            }
                        }
                    }
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
        p.muted { "Note: DANE will not be enforced for domains that have SMTP Routes configured." }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::web::fields::fields as form;

    #[test]
    fn the_seeds_route_is_the_clis_command() {
        let f = form(&[
            ("receiving_domain", "example.onmicrosoft.com"),
            ("priority", "0"),
            (
                "destination",
                "example-onmicrosoft-com.mail.protection.outlook.com",
            ),
            ("port", "25"),
            ("priority", ""),
            ("destination", ""),
            ("port", ""),
        ]);
        assert_eq!(
            new_words(&f).unwrap(),
            [
                "smtproutes",
                "new",
                "example.onmicrosoft.com",
                "example-onmicrosoft-com.mail.protection.outlook.com:25/pri=0",
            ]
        );
    }

    #[test]
    fn several_hosts_ipv6_dev_null_and_usedns() {
        let f = form(&[
            ("priority", "10"),
            ("destination", "relay1.example.org"),
            ("port", "2525"),
            ("priority", "20"),
            ("destination", "2001:db8::25"),
            ("port", "25"),
            ("priority", ""),
            ("destination", "192.0.2.7"),
            ("port", ""),
        ]);
        assert_eq!(
            edit_words(".example.org", &f).unwrap()[3],
            "relay1.example.org:2525/pri=10,[2001:db8::25]:25/pri=20,192.0.2.7"
        );
        let null = form(&[
            ("priority", "0"),
            ("destination", "/dev/null"),
            ("port", "25"),
        ]);
        assert_eq!(edit_words("ALL", &null).unwrap()[3], "/dev/null");
        let dns = form(&[("priority", "0"), ("destination", "USEDNS"), ("port", "25")]);
        assert_eq!(edit_words(".sub.example.com", &dns).unwrap()[3], "USEDNS");
        assert!(
            new_words(&form(&[
                ("receiving_domain", "x.com"),
                ("destination", " ")
            ]))
            .is_err()
        );
        assert!(new_words(&form(&[("destination", "mx.example")])).is_err());
    }
}

//! Network > Listeners: every listener with its interface, port, type,
//! certificate and limits, and the page of each, saved as `listenerconfig
//! edit <L> setup ...`.

use axum::Router;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use breakwater_config::{Config, CrLfHandling, ListenerConfig, ListenerKind};
use maud::html;

use super::forms::{self, Form, segment};
use super::{config_and_listener, hat_url, missing, run_steps};
use crate::web::{Admin, Change, State};

pub fn routes() -> Router<State> {
    Router::new()
        .route("/network/listeners", get(list))
        .route("/network/listeners/{listener}", get(edit_page).post(edit))
}

fn url(listener: &str) -> String {
    format!("/network/listeners/{}", segment(listener))
}

fn kind(l: &ListenerConfig) -> &'static str {
    match l.kind {
        ListenerKind::Public => "Public",
        ListenerKind::Private => "Private",
    }
}

fn crlf(c: CrLfHandling) -> &'static str {
    match c {
        CrLfHandling::Strict => "strict",
        CrLfHandling::Lenient => "lenient",
    }
}

/// "Data 1 (127.0.1.1)".
fn interface(cfg: &Config, l: &ListenerConfig) -> String {
    match cfg
        .interfaces
        .iter()
        .find(|i| i.name == l.interface)
        .and_then(|i| i.address)
    {
        Some(a) => format!("{} ({a})", l.interface),
        None => l.interface.clone(),
    }
}

async fn list(admin: Admin) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return missing(&admin, "Listeners", &e, "/"),
    };
    let body = html! {
        table.grid id="listeners" {
            thead { tr {
                th { "Listener Name" } th { "Interface" } th { "Port" } th { "Type" }
                th { "Certificate" } th { "Max. Concurrency" } th { "CR/LF Handling" }
                th { "Timeouts (unsuccessful / total / idle)" } th { "Access Tables" }
            } }
            tbody {
                @for l in &cfg.listeners {
                    tr id=(format!("row-{}", l.name)) {
                        td { a href=(url(&l.name)) id=(format!("listener-{}", l.name)) { (l.name) } }
                        td { (interface(&cfg, l)) }
                        td { (l.port) }
                        td { (kind(l)) }
                        td { (l.certificate) }
                        td { (l.max_concurrency) }
                        td { (crlf(l.crlf)) }
                        td { (l.session.unsuccessful_timeout_secs) "s / " (l.session.total_timeout_secs) "s / " (l.session.idle_timeout_secs) "s" }
                        td {
                            a href=(hat_url(&l.name)) { "HAT" } " "
                            a href=(format!("/mail-policies/mail-flow?listener={}", segment(&l.name))) { "Mail Flow Policies" }
                            @if l.kind == ListenerKind::Public {
                                " " a href=(format!("/mail-policies/rat?listener={}", segment(&l.name))) { "RAT" }
                            }
                        }
                    }
                }
            }
        }
    };
    admin.page("Listeners", body)
}

async fn edit_page(admin: Admin, Path(name): Path<String>) -> Response {
    let title = "Edit Listener";
    let (cfg, l) = match config_and_listener(&admin, title, &name, "/network/listeners").await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let l = &l;
    let body = html! {
        form method="post" action=(url(&l.name)) {
            (admin.csrf())
            fieldset disabled[!admin.can_change()] {
                legend { "Listener Settings" }
                table.form {
                    tr { th { "Name:" } td id="name" { (l.name) } }
                    tr { th { "Type of Listener:" } td id="type" { (kind(l)) } }
                    tr { th { label for="interface" { "Interface:" } } td {
                        select id="interface" name="interface" {
                            @for i in &cfg.interfaces {
                                option value=(i.name) selected[i.name == l.interface] {
                                    (i.name)
                                    @if let Some(a) = i.address { " (" (a) ")" }
                                }
                            }
                        }
                    } }
                    tr { th { label for="port" { "Port:" } } td {
                        input type="number" min="1" max="65535" id="port" name="port" value=(l.port);
                    } }
                    tr { th { label for="certificate" { "Certificate:" } } td {
                        select id="certificate" name="certificate" {
                            @for c in &cfg.certificates {
                                option value=(c.name) selected[c.name == l.certificate] { (c.name) }
                            }
                        }
                    } }
                    tr { th { label for="max_concurrency" { "Max. Concurrent Connections:" } } td {
                        input type="number" min="1" max="10000" id="max_concurrency" name="max_concurrency" value=(l.max_concurrency);
                    } }
                    tr { th { label for="crlf" { "CR and LF Handling:" } } td {
                        select id="crlf" name="crlf" {
                            option value="strict" selected[l.crlf == CrLfHandling::Strict] { "Strict (refuse bare CR or LF)" }
                            option value="lenient" selected[l.crlf == CrLfHandling::Lenient] { "Lenient (store bare LF as CRLF)" }
                        }
                    } }
                    tr { th { label for="unsuccessful_timeout" { "Timeout for Unsuccessful Inbound Connections:" } } td {
                        input type="number" min="1" max="86400" id="unsuccessful_timeout" name="unsuccessful_timeout" value=(l.session.unsuccessful_timeout_secs); " seconds"
                    } }
                    tr { th { label for="total_timeout" { "Total Time Limit for All Inbound Connections:" } } td {
                        input type="number" min="1" max="86400" id="total_timeout" name="total_timeout" value=(l.session.total_timeout_secs); " seconds"
                    } }
                    tr { th { label for="idle_timeout" { "Idle Timeout:" } } td {
                        input type="number" min="1" max="86400" id="idle_timeout" name="idle_timeout" value=(l.session.idle_timeout_secs); " seconds"
                    } }
                }
            }
            p {
                button.primary type="submit" id="submit" { "Submit" }
                " " a href="/network/listeners" id="cancel" { "Cancel" }
            }
        }
    };
    admin.page(title, body)
}

async fn edit(Path(name): Path<String>, change: Change) -> Response {
    let words = forms::listener_setup(&name, &Form(&change.fields)).map(|w| vec![w]);
    run_steps(&change.admin, words, "/network/listeners", &url(&name)).await
}

//! System Administration > Log Subscriptions, as AsyncOS lists them: each
//! log (mail_logs, system_logs, audit_logs) with its rollover and its
//! retrieval method (Manually Download, or Syslog Push to its hosts),
//! **Add Log Subscription...** for a syslog host, and Delete per host or
//! per log. Every change is the CLI's `logconfig subscribe|unsubscribe`
//! through the control plane, whose refusal is what the page shows.

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use breakwater_config::logship::{FACILITIES, LogName, SyslogHost};
use maud::html;

use crate::web::fields::field;
use crate::web::{Admin, Change, State, layout};

const PAGE: &str = "/system-administration/log-subscriptions";
const ADD: &str = "/system-administration/log-subscriptions/add";
const DELETE: &str = "/system-administration/log-subscriptions/delete";

pub fn routes() -> Router<State> {
    Router::new()
        .route(PAGE, get(page))
        .route(ADD, post(add))
        .route(DELETE, post(delete))
}

/// `host:port`, an IPv6 address in brackets, as `logconfig` reads it.
fn host_port(host: &str, port: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `64M`: a spool size as the CLI writes it.
fn size(bytes: u64) -> String {
    const K: u64 = 1024;
    match bytes {
        b if b % (K * K * K) == 0 => format!("{}G", b / (K * K * K)),
        b if b % (K * K) == 0 => format!("{}M", b / (K * K)),
        b if b % K == 0 => format!("{}k", b / K),
        b => b.to_string(),
    }
}

/// Add Log Subscription: `logconfig subscribe <log> <host>[:<port>]
/// --protocol <p> [--facility F] [--spool-size N]`.
pub fn subscribe_words(form: &[(String, String)]) -> Result<Vec<String>, String> {
    let log = field(form, "log").ok_or("Choose the log.")?;
    let host = field(form, "host").ok_or("Enter the syslog server's host name or address.")?;
    let target = match field(form, "port") {
        Some(port) => host_port(host, port),
        None => host.to_string(),
    };
    let protocol = field(form, "protocol").unwrap_or("tcp");
    let mut words = vec![
        "logconfig".to_string(),
        "subscribe".into(),
        log.into(),
        target,
        "--protocol".into(),
        protocol.to_ascii_lowercase(),
    ];
    if let Some(f) = field(form, "facility") {
        words.extend(["--facility".to_string(), f.to_string()]);
    }
    if let Some(s) = field(form, "spool_size") {
        words.extend(["--spool-size".to_string(), s.to_string()]);
    }
    Ok(words)
}

/// Delete: `logconfig unsubscribe <log>` (every host), or with `host`,
/// `port` and `protocol` that one host only.
pub fn unsubscribe_words(form: &[(String, String)]) -> Result<Vec<String>, String> {
    let log = field(form, "log").ok_or("Choose the log.")?;
    let mut words = vec!["logconfig".to_string(), "unsubscribe".into(), log.into()];
    if let (Some(host), Some(port)) = (field(form, "host"), field(form, "port")) {
        words.push(host_port(host, port));
        if let Some(p) = field(form, "protocol") {
            words.extend(["--protocol".to_string(), p.to_ascii_lowercase()]);
        }
    }
    Ok(words)
}

fn delete_button(
    admin: &Admin,
    log: LogName,
    host: Option<&SyslogHost>,
    id: String,
) -> maud::Markup {
    html! {
        form.inline method="post" action=(DELETE) {
            (admin.csrf())
            input type="hidden" name="log" value=(log.name());
            @if let Some(h) = host {
                input type="hidden" name="host" value=(h.host);
                input type="hidden" name="port" value=(h.port);
                input type="hidden" name="protocol" value=(h.protocol.name());
            }
            button.danger type="submit" id=(id) { "Delete" }
        }
    }
}

async fn page(admin: Admin) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page("Log Subscriptions", layout::output(&e)),
    };
    let ro = !admin.can_change();
    let ship = &cfg.log_shipping;
    let body = html! {
        h2 { "Log Subscriptions" }
        table.grid id="log-subscriptions" {
            tr { th { "Log Name" } th { "Retrieval Method" } th { "Facility" } th { "Spool" } th { "Delete" } }
            @for log in LogName::ALL {
                @let sub = ship.subscription(log).filter(|s| !s.hosts.is_empty());
                tr id=(format!("log-{}", log.name())) {
                    td { (log.name()) }
                    td.method {
                        @match sub {
                            None => { "Manually Download" }
                            Some(s) => {
                                "Syslog Push:"
                                @for (i, h) in s.hosts.iter().enumerate() {
                                    br;
                                    span.host { (h) }
                                    @if !ro {
                                        " " (delete_button(&admin, log, Some(h), format!("delete-{}-{}", log.name(), i + 1)))
                                    }
                                }
                            }
                        }
                    }
                    td { @if let Some(s) = sub { (FACILITIES.get(usize::from(s.facility)).copied().unwrap_or("?")) } }
                    td { @if let Some(s) = sub { (size(s.spool_max_bytes)) } }
                    td {
                        @if let (Some(_), false) = (sub, ro) {
                            (delete_button(&admin, log, None, format!("delete-{}", log.name())))
                        }
                    }
                }
            }
        }
        p.muted { "Every log is also kept on the appliance (tail, grep, findevent). Rollover: logconfig at the CLI." }
        @if !ro {
            h2 { "Add Log Subscription" }
            form method="post" action=(ADD) {
                (admin.csrf())
                table.form id="log-subscription-form" {
                    tr {
                        th { label for="log" { "Log Type:" } }
                        td { select id="log" name="log" { @for log in LogName::ALL { option value=(log.name()) { (log.name()) } } } }
                    }
                    tr { th { "Retrieval Method:" } td { "Syslog Push" } }
                    tr {
                        th { label for="host" { "Hostname:" } }
                        td { input type="text" id="host" name="host" size="40" placeholder="logs.example.com or 192.0.2.7"; }
                    }
                    tr {
                        th { label for="port" { "Port:" } }
                        td {
                            input type="number" id="port" name="port" min="1" max="65535";
                            br; small.muted { "Empty: 514 (UDP, TCP) or 6514 (TLS)." }
                        }
                    }
                    tr {
                        th { label for="protocol" { "Protocol:" } }
                        td {
                            select id="protocol" name="protocol" {
                                option value="tcp" selected { "TCP" }
                                option value="tls" { "TLS" }
                                option value="udp" { "UDP" }
                            }
                        }
                    }
                    tr {
                        th { label for="facility" { "Facility:" } }
                        td {
                            select id="facility" name="facility" {
                                option value="" selected { "the log's default" }
                                @for f in FACILITIES { option value=(f) { (f) } }
                            }
                        }
                    }
                    tr {
                        th { label for="spool_size" { "Spool Size:" } }
                        td {
                            input type="text" id="spool_size" name="spool_size" size="8" placeholder="64M";
                            br; small.muted { "Kept on flash while the server is down (1M to 1G)." }
                        }
                    }
                    tr { th {} td { button.primary type="submit" id="log-subscription-submit" { "Submit" } } }
                }
            }
        }
    };
    admin.page("Log Subscriptions", body)
}

fn back(admin: &Admin, error: String) -> Response {
    admin.flash(false, error);
    Redirect::to(PAGE).into_response()
}

async fn add(change: Change) -> Response {
    match subscribe_words(&change.fields) {
        Ok(words) => change.admin.change(words, None, PAGE).await,
        Err(e) => back(&change.admin, e),
    }
}

async fn delete(change: Change) -> Response {
    match unsubscribe_words(&change.fields) {
        Ok(words) => change.admin.change(words, None, PAGE).await,
        Err(e) => back(&change.admin, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::web::fields::fields as form;

    #[test]
    fn add_and_delete_make_the_logconfig_words() {
        let f = form(&[
            ("log", "mail_logs"),
            ("host", "::1"),
            ("port", "6514"),
            ("protocol", "tls"),
            ("facility", "local3"),
            ("spool_size", ""),
        ]);
        assert_eq!(
            subscribe_words(&f).unwrap(),
            [
                "logconfig",
                "subscribe",
                "mail_logs",
                "[::1]:6514",
                "--protocol",
                "tls",
                "--facility",
                "local3"
            ]
        );
        let f = form(&[("log", "audit_logs"), ("host", "logs.example.com")]);
        assert_eq!(
            subscribe_words(&f).unwrap(),
            [
                "logconfig",
                "subscribe",
                "audit_logs",
                "logs.example.com",
                "--protocol",
                "tcp"
            ]
        );
        assert!(subscribe_words(&form(&[("log", "mail_logs")])).is_err());
        let f = form(&[
            ("log", "mail_logs"),
            ("host", "127.0.0.1"),
            ("port", "5514"),
            ("protocol", "UDP"),
        ]);
        assert_eq!(
            unsubscribe_words(&f).unwrap(),
            [
                "logconfig",
                "unsubscribe",
                "mail_logs",
                "127.0.0.1:5514",
                "--protocol",
                "udp"
            ]
        );
        assert_eq!(
            unsubscribe_words(&form(&[("log", "system_logs")])).unwrap(),
            ["logconfig", "unsubscribe", "system_logs"]
        );
        assert_eq!(size(64 * 1024 * 1024), "64M");
        assert_eq!(size(1024 * 1024 * 1024), "1G");
    }
}

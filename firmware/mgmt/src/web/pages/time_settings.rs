//! System Administration > Time Settings, as AsyncOS groups them: the
//! time zone (`settz`), time keeping by NTP (the servers, on or off, the
//! poll interval: `ntpconfig`) with the last round's status (`ntpconfig
//! status`), and Set Time for a box without NTP (`settime`, applied at
//! once, admin only). Every change runs the CLI command through the
//! control plane, whose refusal is what the page shows.

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use breakwater_control_proto::Role;
use breakwater_types::clock;
use maud::html;

use crate::web::fields::field;
use crate::web::{Admin, Change, State, layout};

const PAGE: &str = "/system-administration/time-settings";
const ZONE: &str = "/system-administration/time-settings/zone";
const NTP_ADD: &str = "/system-administration/time-settings/ntp/add";
const NTP_DELETE: &str = "/system-administration/time-settings/ntp/delete";
const NTP_MODE: &str = "/system-administration/time-settings/ntp/mode";
const NTP_POLL: &str = "/system-administration/time-settings/ntp/poll";
const SET_TIME: &str = "/system-administration/time-settings/settime";

pub fn routes() -> Router<State> {
    Router::new()
        .route(PAGE, get(page))
        .route(ZONE, post(zone))
        .route(NTP_ADD, post(ntp_add))
        .route(NTP_DELETE, post(ntp_delete))
        .route(NTP_MODE, post(ntp_mode))
        .route(NTP_POLL, post(ntp_poll))
        .route(SET_TIME, post(set_time))
}

/// One form field as the last word of a command: `base <field>`, or the
/// `missing` message when the field is empty.
pub fn one_word(
    form: &[(String, String)],
    base: &[&str],
    name: &str,
    missing: &str,
) -> Result<Vec<String>, String> {
    let value = field(form, name).ok_or(missing)?;
    Ok(base
        .iter()
        .map(|w| (*w).to_string())
        .chain(std::iter::once(value.to_string()))
        .collect())
}

/// Set Time: the date and time fields (`2030-01-02`, `10:00` or
/// `10:00:30`, as browsers send them) as `settime "YYYY-MM-DD HH:MM:SS"`.
pub fn settime_words(form: &[(String, String)]) -> Result<Vec<String>, String> {
    let date = field(form, "date").ok_or("Enter the date.")?;
    let time = field(form, "time").ok_or("Enter the time.")?;
    let time = if time.len() == 5 {
        format!("{time}:00")
    } else {
        time.to_string()
    };
    Ok(vec!["settime".into(), format!("{date} {time}")])
}

async fn page(admin: Admin) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page("Time Settings", layout::output(&e)),
    };
    let ro = !admin.can_change();
    let zone_now = admin.run(&["settz", "print"]).await.unwrap_or_else(|e| e);
    let status = admin
        .run(&["ntpconfig", "status"])
        .await
        .unwrap_or_else(|e| e);
    let ntp = &cfg.ntp;
    let body = html! {
        h2 { "Time Zone" }
        table.grid id="time-zone" {
            tr { th { "Time Zone:" } td.zone { (cfg.time_zone) } }
            tr { th { "Current Time:" } td { (layout::output(&zone_now)) } }
        }
        @if !ro {
            form method="post" action=(ZONE) {
                (admin.csrf())
                table.form id="time-zone-form" {
                    tr {
                        th { label for="zone" { "Time Zone:" } }
                        td {
                            input type="text" id="zone" name="zone" list="zones" size="32" value=(cfg.time_zone);
                            datalist id="zones" { @for z in clock::zone_names() { option value=(z) {} } }
                            br; small.muted { "An IANA name such as America/Chicago, Europe/Paris or UTC." }
                        }
                    }
                    tr { th {} td { button.primary type="submit" id="zone-submit" { "Submit" } } }
                }
            }
        }
        h2 { "Time Keeping Method" }
        table.grid id="ntp-settings" {
            tr {
                th { "Time Keeping Method:" }
                td id="ntp-mode" {
                    @if ntp.enabled { "Use Network Time Protocol" } @else { "Set Time Manually" }
                }
            }
            tr { th { "Query Interval:" } td { (ntp.poll_secs) " seconds" } }
        }
        @if ntp.servers.is_empty() {
            p id="no-ntp-servers" { "No NTP servers are configured." }
        } @else {
            table.grid id="ntp-servers" {
                tr { th { "#" } th { "NTP Server" } th { "Delete" } }
                @for (i, s) in ntp.servers.iter().enumerate() {
                    tr {
                        td { (i + 1) }
                        td.server { (s) }
                        td {
                            @if !ro {
                                form.inline method="post" action=(NTP_DELETE) {
                                    (admin.csrf())
                                    input type="hidden" name="server" value=(i + 1);
                                    button.danger type="submit" id=(format!("delete-ntp-{}", i + 1)) { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !ro {
            form method="post" action=(NTP_ADD) {
                (admin.csrf())
                table.form id="ntp-add-form" {
                    tr {
                        th { label for="server" { "Add NTP Server:" } }
                        td {
                            input type="text" id="server" name="server" size="40" placeholder="ntp1.example.com or 192.0.2.1:123";
                            " " button type="submit" id="ntp-add" { "Add" }
                        }
                    }
                }
            }
            form method="post" action=(NTP_MODE) {
                (admin.csrf())
                @if ntp.enabled {
                    input type="hidden" name="mode" value="disable";
                    button type="submit" id="ntp-disable" { "Set Time Manually (disable NTP)" }
                } @else {
                    input type="hidden" name="mode" value="enable";
                    button type="submit" id="ntp-enable" { "Use Network Time Protocol" }
                }
            }
            form method="post" action=(NTP_POLL) {
                (admin.csrf())
                table.form id="ntp-poll-form" {
                    tr {
                        th { label for="poll" { "Query Interval (seconds):" } }
                        td {
                            input type="number" id="poll" name="poll" min="64" max="131072" value=(ntp.poll_secs);
                            " " button type="submit" id="ntp-poll" { "Submit" }
                        }
                    }
                }
            }
        }
        h2 { "NTP Status" }
        div id="ntp-status" { (layout::output(&status)) }
        @if !ntp.enabled && admin.role() == Role::Admin {
            h2 { "Set Time" }
            form method="post" action=(SET_TIME) {
                (admin.csrf())
                table.form id="settime-form" {
                    tr {
                        th { label for="date" { "Date:" } }
                        td { input type="date" id="date" name="date"; }
                    }
                    tr {
                        th { label for="time" { "Time:" } }
                        td {
                            input type="time" id="time" name="time" step="1";
                            br; small.muted { "In the appliance's time zone; applied at once, without Commit Changes." }
                        }
                    }
                    tr { th {} td { button.primary type="submit" id="settime-submit" { "Set Time" } } }
                }
            }
        }
    };
    admin.page("Time Settings", body)
}

fn back(admin: &Admin, error: String) -> Response {
    admin.flash(false, error);
    Redirect::to(PAGE).into_response()
}

async fn run_form(change: Change, words: Result<Vec<String>, String>) -> Response {
    match words {
        Ok(words) => change.admin.change(words, None, PAGE).await,
        Err(e) => back(&change.admin, e),
    }
}

async fn zone(change: Change) -> Response {
    let words = one_word(&change.fields, &["settz"], "zone", "Enter a time zone.");
    run_form(change, words).await
}

async fn ntp_add(change: Change) -> Response {
    let words = one_word(
        &change.fields,
        &["ntpconfig", "new"],
        "server",
        "Enter the NTP server's host name or address.",
    );
    run_form(change, words).await
}

async fn ntp_delete(change: Change) -> Response {
    let words = one_word(
        &change.fields,
        &["ntpconfig", "delete"],
        "server",
        "Choose the server to delete.",
    );
    run_form(change, words).await
}

async fn ntp_mode(change: Change) -> Response {
    let words = match change.get("mode") {
        Some(m @ ("enable" | "disable")) => Ok(vec!["ntpconfig".to_string(), m.to_string()]),
        _ => Err("Choose the time keeping method.".to_string()),
    };
    run_form(change, words).await
}

async fn ntp_poll(change: Change) -> Response {
    let words = one_word(
        &change.fields,
        &["ntpconfig", "poll"],
        "poll",
        "Enter the query interval in seconds.",
    );
    run_form(change, words).await
}

async fn set_time(change: Change) -> Response {
    let words = settime_words(&change.fields);
    run_form(change, words).await
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::web::fields::fields as form;

    #[test]
    fn forms_make_the_cli_words() {
        assert_eq!(
            one_word(
                &form(&[("zone", " America/Chicago ")]),
                &["settz"],
                "zone",
                "Enter a time zone."
            )
            .unwrap(),
            ["settz", "America/Chicago"]
        );
        assert_eq!(
            one_word(
                &form(&[("zone", "")]),
                &["settz"],
                "zone",
                "Enter a time zone."
            )
            .unwrap_err(),
            "Enter a time zone."
        );
        assert_eq!(
            settime_words(&form(&[("date", "2030-01-02"), ("time", "10:00")])).unwrap(),
            ["settime", "2030-01-02 10:00:00"]
        );
        assert_eq!(
            settime_words(&form(&[("date", "2030-01-02"), ("time", "10:00:30")])).unwrap(),
            ["settime", "2030-01-02 10:00:30"]
        );
        assert_eq!(
            settime_words(&form(&[("time", "10:00")])).unwrap_err(),
            "Enter the date."
        );
    }
}

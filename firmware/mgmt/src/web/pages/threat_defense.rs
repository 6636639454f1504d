//! Security Services > Threat Defense Connector Settings: the global
//! switch and Message Intake Address (`threatdefenseconfig enable|disable`)
//! and the connector's other settings (`threatdefenseconfig setup`: the
//! client IP header, the time a copy may wait in `the.tdc.queue`, the
//! intake certificate check). Which policies send copies is set on each
//! incoming mail policy (see [`super::policies`]).

use crate::web::fields::field;
use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use breakwater_config::Config;
use breakwater_config::services::TDC_DESTINATION;
use maud::html;

use crate::web::{Admin, Change, State, web_wording};

const PATH: &str = "/security/threat-defense";
const TITLE: &str = "Threat Defense Connector Settings";

pub fn routes() -> Router<State> {
    Router::new()
        .route(PATH, get(settings_page))
        .route(&format!("{PATH}/edit"), get(edit_page).post(edit))
}

/// The settings a form shows and changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub enabled: bool,
    pub intake_address: Option<String>,
    pub header_name: String,
    pub max_age_secs: u32,
    pub verify_certificate: bool,
}

impl Current {
    pub fn of(cfg: &Config) -> Self {
        let t = &cfg.threat_defense;
        Current {
            enabled: t.enabled,
            intake_address: t.intake_address.clone(),
            header_name: t.header_name.clone(),
            max_age_secs: t.max_age_secs,
            verify_certificate: cfg.connections.tdc_verify_certificate,
        }
    }
}

/// The `threatdefenseconfig` commands that take the settings from
/// `current` to the form's: `setup` with the options that changed, then
/// `enable <address>` or `disable` when the switch or address changed.
/// Nothing when nothing changed.
pub fn edit_commands(
    current: &Current,
    form: &[(String, String)],
) -> Result<Vec<Vec<String>>, String> {
    let mut commands = Vec::new();
    let mut setup: Vec<String> = vec!["threatdefenseconfig".into(), "setup".into()];
    if let Some(header) = field(form, "header_name")
        && header != current.header_name
    {
        setup.extend(["--header".into(), header.into()]);
    }
    if let Some(age) = field(form, "max_age")
        && age != current.max_age_secs.to_string()
    {
        setup.extend(["--max-age".into(), age.into()]);
    }
    // An absent checkbox is "off"; the form always carries `verify_shown`
    // so a form without the box (an older page) does not turn it off.
    if field(form, "verify_shown").is_some() {
        let verify = field(form, "verify_certificate").is_some();
        if verify != current.verify_certificate {
            let word = if verify { "yes" } else { "no" };
            setup.extend(["--verify-certificate".into(), word.into()]);
        }
    }
    if setup.len() > 2 {
        commands.push(setup);
    }
    let enable = field(form, "enabled").is_some();
    let address = field(form, "intake_address");
    if enable {
        let address = address.ok_or("Enter the Message Intake Address.")?;
        if !current.enabled || current.intake_address.as_deref() != Some(address) {
            commands.push(vec![
                "threatdefenseconfig".into(),
                "enable".into(),
                address.into(),
            ]);
        }
    } else if current.enabled {
        commands.push(vec!["threatdefenseconfig".into(), "disable".into()]);
    }
    Ok(commands)
}

async fn settings_page(admin: Admin) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page(TITLE, html! { div.flash.error { (e) } }),
    };
    let c = Current::of(&cfg);
    let body = html! {
        h2 { "Threat Defense Connector Settings" }
        table.form id="tdc-settings" {
            tr { th { "Threat Defense Connector:" } td id="tdc-enabled" { (if c.enabled { "Enabled" } else { "Disabled" }) } }
            tr { th { "Message Intake Address:" } td id="tdc-intake-address" { (c.intake_address.as_deref().unwrap_or("(not set)")) } }
            tr { th { "Client IP header:" } td id="tdc-header" { (c.header_name) } }
            tr { th { "Maximum time in " (TDC_DESTINATION) ":" } td id="tdc-max-age" { (c.max_age_secs) " seconds" } }
            tr { th { "Intake certificate:" } td id="tdc-verify" {
                "TLS required, " (if c.verify_certificate { "certificate verified" } else { "certificate NOT verified" })
            } }
        }
        @if admin.can_change() {
            p { a href={ (PATH) "/edit" } id="edit-settings" { button type="button" { "Edit Settings..." } } }
        }
        p.muted {
            "Which messages are copied is set per policy in "
            a href="/mail-policies/incoming" { "Incoming Mail Policies" }
            " (the Threat Defense Connector column)."
        }
    };
    admin.page(TITLE, body)
}

async fn edit_page(admin: Admin) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page(TITLE, html! { div.flash.error { (e) } }),
    };
    let c = Current::of(&cfg);
    let can = admin.can_change();
    let body = html! {
        form method="post" action={ (PATH) "/edit" } {
            (admin.csrf())
            input type="hidden" name="verify_shown" value="1";
            h2 { "Threat Defense Connector Settings" }
            table.form {
                tr {
                    th { label for="enabled" { "Enable Threat Defense Connector" } }
                    td { input type="checkbox" id="enabled" name="enabled" value="on" checked[c.enabled] disabled[!can]; }
                }
                tr {
                    th { label for="intake_address" { "Message Intake Address:" } }
                    td { input type="text" id="intake_address" name="intake_address" size="48"
                        value=(c.intake_address.as_deref().unwrap_or("")) disabled[!can]; }
                }
                tr {
                    th { label for="header_name" { "Client IP header:" } }
                    td { input type="text" id="header_name" name="header_name" value=(c.header_name) disabled[!can]; }
                }
                tr {
                    th { label for="max_age" { "Maximum time in " (TDC_DESTINATION) " (seconds):" } }
                    td { input type="number" id="max_age" name="max_age" min="1" max="86400" value=(c.max_age_secs) disabled[!can]; }
                }
                tr {
                    th { label for="verify_certificate" { "Verify the intake's certificate" } }
                    td { input type="checkbox" id="verify_certificate" name="verify_certificate" value="on"
                        checked[c.verify_certificate] disabled[!can]; }
                }
                tr { th {} td {
                    a href=(PATH) { button type="button" id="cancel" { "Cancel" } } " "
                    @if can { button.primary type="submit" id="submit" { "Submit" } }
                } }
            }
        }
    };
    admin.page(&format!("Edit {TITLE}"), body)
}

/// Runs the commands one by one; the first refusal stops the rest (and
/// says so: the ones before it are staged).
async fn edit(change: Change) -> Response {
    let admin = &change.admin;
    let current = match admin.config().await {
        Ok(c) => Current::of(&c),
        Err(e) => {
            admin.flash(false, e);
            return Redirect::to(PATH).into_response();
        }
    };
    let commands = match edit_commands(&current, &change.fields) {
        Ok(c) => c,
        Err(e) => {
            admin.flash(false, e);
            return Redirect::to(&format!("{PATH}/edit")).into_response();
        }
    };
    if commands.is_empty() {
        admin.flash(true, "No changes.");
        return Redirect::to(PATH).into_response();
    }
    let mut done = Vec::new();
    for words in commands {
        match admin.run_words(words, None).await {
            Ok(out) => done.push(out),
            Err(e) => {
                let mut text = e;
                if !done.is_empty() {
                    text.push_str("\n(Staged before this error: ");
                    text.push_str(&web_wording(&done.join("\n")));
                    text.push(')');
                }
                admin.flash(false, text);
                return Redirect::to(&format!("{PATH}/edit")).into_response();
            }
        }
    }
    admin.flash(true, web_wording(&done.join("\n")));
    Redirect::to(PATH).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::web::fields::fields as form;

    fn factory() -> Current {
        Current {
            enabled: false,
            intake_address: None,
            header_name: "X-IronPort-RemoteIP".into(),
            max_age_secs: 120,
            verify_certificate: true,
        }
    }

    fn unchanged() -> Vec<(&'static str, &'static str)> {
        vec![
            ("verify_shown", "1"),
            ("header_name", "X-IronPort-RemoteIP"),
            ("max_age", "120"),
            ("verify_certificate", "on"),
        ]
    }

    #[test]
    fn enabling_with_the_seed_address_is_threatdefenseconfig_enable() {
        let mut f = unchanged();
        f.extend([
            ("enabled", "on"),
            (
                "intake_address",
                "b5986efe-374c-1847e1a6@beta.cmd.cisco.com",
            ),
        ]);
        assert_eq!(
            edit_commands(&factory(), &form(&f)).unwrap(),
            [[
                "threatdefenseconfig",
                "enable",
                "b5986efe-374c-1847e1a6@beta.cmd.cisco.com"
            ]]
        );
        // Enabled without an address: the form says what is missing.
        let mut f = unchanged();
        f.push(("enabled", "on"));
        assert!(edit_commands(&factory(), &form(&f)).is_err());
    }

    #[test]
    fn only_what_changed_is_sent() {
        assert!(
            edit_commands(&factory(), &form(&unchanged()))
                .unwrap()
                .is_empty()
        );
        let on = Current {
            enabled: true,
            intake_address: Some("a@b.example".into()),
            ..factory()
        };
        let f = form(&[
            ("verify_shown", "1"),
            ("header_name", "X-Client-IP"),
            ("max_age", "60"),
            ("intake_address", "a@b.example"),
        ]);
        assert_eq!(
            edit_commands(&on, &f).unwrap(),
            [
                vec![
                    "threatdefenseconfig",
                    "setup",
                    "--header",
                    "X-Client-IP",
                    "--max-age",
                    "60",
                    "--verify-certificate",
                    "no"
                ],
                vec!["threatdefenseconfig", "disable"],
            ]
        );
    }
}

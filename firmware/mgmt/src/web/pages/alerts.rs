//! System Administration > Alerts, as AsyncOS draws it: the alert
//! recipients with the classes and severities each receives (Add or Edit
//! Recipient, a grid of class × severity boxes; Delete), and the alert
//! settings (From address, the repeat interval, the thresholds). Every
//! change is the CLI's `alertconfig new|edit|delete|from|setup`, run
//! through the control plane, so the page and the console can never
//! disagree and the control plane's refusal is what the page shows.

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use breakwater_config::alerts::{AlertClass, AlertRecipient, AlertSettings, Severity};
use maud::{Markup, html};

use crate::web::fields::field;
use crate::web::{Admin, Change, State, layout, web_wording};

const PAGE: &str = "/system-administration/alerts";
const RECIPIENT: &str = "/system-administration/alerts/recipient";
const DELETE: &str = "/system-administration/alerts/delete";
const SETTINGS: &str = "/system-administration/alerts/settings";

pub fn routes() -> Router<State> {
    Router::new()
        .route(PAGE, get(page))
        .route(RECIPIENT, post(recipient))
        .route(DELETE, post(delete))
        .route(SETTINGS, post(settings))
}

/// The CLI word of a class (`maildelivery`): its name without spaces.
fn class_word(c: AlertClass) -> String {
    c.name().replace(' ', "").to_ascii_lowercase()
}

/// The form field of one box of the grid: `maildelivery_critical`.
fn box_name(c: AlertClass, s: Severity) -> String {
    format!("{}_{}", class_word(c), s.name().to_ascii_lowercase())
}

/// Whether `r` receives `class` at `severity`.
fn receives(r: &AlertRecipient, class: AlertClass, severity: Severity) -> bool {
    r.wants(class, severity)
}

/// Add or Edit Recipient: `alertconfig new|edit <address> <class>[:<sev>]...`
/// from the grid (`edit` when the address is already a recipient). A
/// class with all three boxes is the class alone (all severities);
/// every box is the address alone for `new`, `all` for `edit`.
pub fn recipient_words(
    form: &[(String, String)],
    current: &AlertSettings,
) -> Result<Vec<String>, String> {
    let address = field(form, "address").ok_or("Enter the recipient's e-mail address.")?;
    let mut classes = Vec::new();
    let mut every = true;
    for class in AlertClass::ALL {
        let sev: Vec<&str> = Severity::ALL
            .into_iter()
            .filter(|s| field(form, &box_name(class, *s)).is_some())
            .map(|s| s.name())
            .collect();
        every &= sev.len() == Severity::ALL.len();
        match sev.len() {
            0 => {}
            n if n == Severity::ALL.len() => classes.push(class_word(class)),
            _ => classes.push(format!(
                "{}:{}",
                class_word(class),
                sev.join(",").to_ascii_lowercase()
            )),
        }
    }
    if classes.is_empty() {
        return Err("Select at least one alert type and severity.".into());
    }
    let exists = current
        .recipients
        .iter()
        .any(|r| r.address.eq_ignore_ascii_case(address));
    let verb = if exists { "edit" } else { "new" };
    let mut words = vec!["alertconfig".to_string(), verb.into(), address.into()];
    if every {
        if exists {
            words.push("all".into());
        }
    } else {
        words.extend(classes);
    }
    Ok(words)
}

/// The settings' form fields and `alertconfig setup` options, with the
/// current value of each.
fn setup_fields(s: &AlertSettings) -> [(&'static str, &'static str, String); 7] {
    [
        (
            "initial-interval",
            "Initial Number of Seconds to Wait Before Sending a Duplicate Alert:",
            s.initial_interval_secs.to_string(),
        ),
        (
            "max-interval",
            "Maximum Number of Seconds to Wait Before Sending a Duplicate Alert:",
            s.max_interval_secs.to_string(),
        ),
        (
            "queue-threshold",
            "Work Queue Threshold (percent of its limit):",
            s.queue_threshold_percent.to_string(),
        ),
        (
            "data-threshold",
            "Data Partition Threshold (percent full):",
            s.data_threshold_percent.to_string(),
        ),
        (
            "certificate-days",
            "Warn of Certificates Expiring Within (days):",
            s.certificate_expiry_days.to_string(),
        ),
        (
            "threat-defense-failures",
            "Failed Threat Defense Copies in a Row:",
            s.threat_defense_failures.to_string(),
        ),
        (
            "check-interval",
            "Seconds Between Checks:",
            s.check_interval_secs.to_string(),
        ),
    ]
}

/// Edit Settings: `alertconfig from <address>|default` when the From
/// address changed, `alertconfig setup --option value ...` for the
/// numbers that changed.
pub fn settings_words(
    form: &[(String, String)],
    current: &AlertSettings,
) -> Result<Vec<Vec<String>>, String> {
    let mut commands = Vec::new();
    let from = field(form, "from_address");
    if from != current.from_address.as_deref() {
        commands.push(vec![
            "alertconfig".to_string(),
            "from".into(),
            from.unwrap_or("default").into(),
        ]);
    }
    let mut setup = vec!["alertconfig".to_string(), "setup".into()];
    for (option, label, now) in setup_fields(current) {
        let value =
            field(form, option).ok_or_else(|| format!("Enter {}", label.trim_end_matches(':')))?;
        if value != now {
            setup.extend([format!("--{option}"), value.to_string()]);
        }
    }
    if setup.len() > 2 {
        commands.push(setup);
    }
    if commands.is_empty() {
        return Err("Nothing to change.".into());
    }
    Ok(commands)
}

/// "System: Critical, Warning" lines of a recipient, as the AsyncOS list.
fn subscriptions(r: &AlertRecipient) -> Vec<String> {
    AlertClass::ALL
        .into_iter()
        .filter_map(|c| {
            let sev: Vec<&str> = Severity::ALL
                .into_iter()
                .filter(|s| receives(r, c, *s))
                .map(Severity::name)
                .collect();
            match sev.len() {
                0 => None,
                n if n == Severity::ALL.len() => Some(format!("{}: All", c.name())),
                _ => Some(format!("{}: {}", c.name(), sev.join(", "))),
            }
        })
        .collect()
}

fn grid(checked: impl Fn(AlertClass, Severity) -> bool) -> Markup {
    html! {
        table.grid id="alert-grid" {
            tr {
                th { "Alert Type" }
                @for s in Severity::ALL { th { (s.name()) } }
            }
            @for c in AlertClass::ALL {
                tr {
                    td { (c.name()) }
                    @for s in Severity::ALL {
                        td {
                            input type="checkbox" name=(box_name(c, s)) id=(box_name(c, s)) value="on" checked[checked(c, s)];
                        }
                    }
                }
            }
        }
    }
}

async fn page(admin: Admin) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page("Alerts", layout::output(&e)),
    };
    let a = &cfg.alerts;
    let ro = !admin.can_change();
    let from = a.from_for(&cfg.hostname);
    let body = html! {
        h2 { "Alert Recipients" }
        @if a.recipients.is_empty() {
            p id="no-alert-recipients" { "No alert recipients: alerts are logged, not sent." }
        } @else {
            table.grid id="alert-recipients" {
                tr { th { "Recipient Address" } th { "Alert Type and Severity" } th { "Delete" } }
                @for r in &a.recipients {
                    tr {
                        td.address { (r.address) }
                        td { @for line in subscriptions(r) { (line) br; } }
                        td {
                            @if !ro {
                                form.inline method="post" action=(DELETE) {
                                    (admin.csrf())
                                    input type="hidden" name="address" value=(r.address);
                                    button.danger type="submit" { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !ro {
            h2 { "Add or Edit Recipient" }
            form method="post" action=(RECIPIENT) {
                (admin.csrf())
                table.form id="alert-recipient-form" {
                    tr {
                        th { label for="address" { "Recipient Address:" } }
                        td {
                            input type="email" id="address" name="address" size="40";
                            br; small.muted { "An address already listed gets the boxes checked here instead of its own." }
                        }
                    }
                    tr { th { "Alert Types and Severities:" } td { (grid(|_, _| true)) } }
                    tr { th {} td { button.primary type="submit" id="add-recipient" { "Submit" } } }
                }
            }
        }
        h2 { "Alert Settings" }
        table.grid id="alert-settings" {
            tr { th { "From Address to Use When Sending Alerts:" } td.from { (from) @if a.from_address.is_none() { " (system default)" } } }
            @for (_, label, value) in setup_fields(a) {
                tr { th { (label) } td { (value) } }
            }
        }
        @if !ro {
            h2 { "Edit Settings" }
            form method="post" action=(SETTINGS) {
                (admin.csrf())
                table.form id="alert-settings-form" {
                    tr {
                        th { label for="from_address" { "From Address:" } }
                        td {
                            input type="text" id="from_address" name="from_address" size="40" value=(a.from_address.clone().unwrap_or_default()) placeholder=(format!("alert@{}", cfg.hostname));
                            br; small.muted { "Empty: the system default." }
                        }
                    }
                    @for (option, label, value) in setup_fields(a) {
                        tr {
                            th { label for=(option) { (label) } }
                            td { input type="number" id=(option) name=(option) min="0" value=(value); }
                        }
                    }
                    tr { th {} td { button.primary type="submit" id="alert-settings-submit" { "Submit" } } }
                }
            }
        }
    };
    admin.page("Alerts", body)
}

fn back(admin: &Admin, error: String) -> Response {
    admin.flash(false, error);
    Redirect::to(PAGE).into_response()
}

async fn recipient(change: Change) -> Response {
    let admin = &change.admin;
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return back(admin, e),
    };
    match recipient_words(&change.fields, &cfg.alerts) {
        Ok(words) => admin.change(words, None, PAGE).await,
        Err(e) => back(admin, e),
    }
}

async fn delete(change: Change) -> Response {
    let address = change.get("address").unwrap_or("").to_string();
    let words = vec!["alertconfig".into(), "delete".into(), address];
    change.admin.change(words, None, PAGE).await
}

async fn settings(change: Change) -> Response {
    let admin = &change.admin;
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return back(admin, e),
    };
    let commands = match settings_words(&change.fields, &cfg.alerts) {
        Ok(c) => c,
        Err(e) => return back(admin, e),
    };
    // One command per setting group, as at the CLI; the first refusal stops.
    let mut said = Vec::new();
    for words in commands {
        match admin.run_words(words, None).await {
            Ok(out) => said.push(web_wording(&out)),
            Err(out) => {
                said.push(out);
                return back(admin, said.join("\n"));
            }
        }
    }
    admin.flash(true, said.join("\n"));
    Redirect::to(PAGE).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::web::fields::fields as form;

    #[test]
    fn the_grid_makes_new_or_edit_with_class_words() {
        let none = AlertSettings::default();
        let f = form(&[
            ("address", "ops@example.com"),
            ("system_critical", "on"),
            ("system_warning", "on"),
            ("maildelivery_critical", "on"),
            ("maildelivery_warning", "on"),
            ("maildelivery_information", "on"),
        ]);
        assert_eq!(
            recipient_words(&f, &none).unwrap(),
            [
                "alertconfig",
                "new",
                "ops@example.com",
                "system:critical,warning",
                "maildelivery"
            ]
        );
        let mut every = vec![("address", "ops@example.com")];
        let names: Vec<String> = AlertClass::ALL
            .into_iter()
            .flat_map(|c| Severity::ALL.into_iter().map(move |s| box_name(c, s)))
            .collect();
        every.extend(names.iter().map(|n| (n.as_str(), "on")));
        assert_eq!(
            recipient_words(&form(&every), &none).unwrap(),
            ["alertconfig", "new", "ops@example.com"]
        );
        let mut one = AlertSettings::default();
        one.recipients.push(AlertRecipient::all("ops@example.com"));
        assert_eq!(
            recipient_words(&form(&every), &one).unwrap(),
            ["alertconfig", "edit", "ops@example.com", "all"]
        );
        assert_eq!(
            recipient_words(&form(&[("address", "a@b.c")]), &none).unwrap_err(),
            "Select at least one alert type and severity."
        );
    }

    #[test]
    fn edit_settings_runs_from_and_setup_for_what_changed() {
        let now = AlertSettings::default();
        let mut f: Vec<(String, String)> = setup_fields(&now)
            .iter()
            .map(|(o, _, v)| ((*o).to_string(), v.clone()))
            .collect();
        assert_eq!(settings_words(&f, &now).unwrap_err(), "Nothing to change.");
        f[0].1 = "600".into();
        f.push(("from_address".into(), "gateway@example.com".into()));
        assert_eq!(
            settings_words(&f, &now).unwrap(),
            [
                vec!["alertconfig", "from", "gateway@example.com"],
                vec!["alertconfig", "setup", "--initial-interval", "600"]
            ]
        );
    }
}

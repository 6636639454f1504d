//! `alertconfig`: the alert recipients, the classes and severities each
//! receives, the From address, the duplicate-alert waits and the
//! thresholds that raise alerts, as AsyncOS's command (NEW, EDIT, DELETE,
//! CLEAR, SETUP, FROM). The daemon sends alerts as mail through its own
//! delivery (`breakwater_mail::alerts`).

use super::args::{invalid, stage, usage};
use super::settings::{self, Kind::*, Setting};
use super::{CliError, CommandContext};
use crate::config::alerts::{
    AlertRecipient, AlertSubscription, MAX_ALERT_RECIPIENTS, check_address,
};
use crate::config::{AlertClass, AlertSettings, Config, Severity};

pub(super) use breakwater_control_proto::usage::ALERTCONFIG as USAGE;

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args) {
        (None, []) | (Some("print"), [_]) => Ok(render(&ctx.store.working()?)),
        (Some("new"), [_, address, classes @ ..]) => new(ctx, address, classes),
        (Some("edit"), [_, address, classes @ ..]) if !classes.is_empty() => {
            edit(ctx, address, classes)
        }
        (Some("delete"), [_, address]) => delete(ctx, address),
        (Some("clear"), [_]) => {
            let mut cfg = ctx.store.working()?;
            if cfg.alerts.recipients.is_empty() {
                return Err(invalid("There are no alert recipients."));
            }
            cfg.alerts.recipients.clear();
            stage(ctx, &cfg, "All alert recipients removed.")
        }
        (Some("from"), [_, address]) => from(ctx, address),
        (Some("setup"), [_, rest @ ..]) => setup(ctx, rest),
        _ => Err(usage(USAGE)),
    }
}

/// `system:critical,warning maildelivery`: classes, each with its
/// severities (all when none are given). No words at all: every class at
/// every severity, as AsyncOS's default for a new recipient.
fn subscriptions(words: &[String]) -> Result<Vec<AlertSubscription>, CliError> {
    if words.is_empty() {
        return Ok(AlertRecipient::all("").subscriptions);
    }
    let mut out: Vec<AlertSubscription> = Vec::new();
    for word in words {
        let (class_word, severities_word) = match word.split_once(':') {
            Some((c, s)) => (c, Some(s)),
            None => (word.as_str(), None),
        };
        let classes: Vec<AlertClass> = if class_word.eq_ignore_ascii_case("all") {
            AlertClass::ALL.to_vec()
        } else {
            vec![AlertClass::parse(class_word).ok_or_else(|| {
                invalid(format!(
                    "Unknown alert class '{class_word}': use {}, or all.",
                    class_words()
                ))
            })?]
        };
        let severities = match severities_word {
            None => Severity::ALL.to_vec(),
            Some(text) if text.eq_ignore_ascii_case("all") => Severity::ALL.to_vec(),
            Some(text) => {
                let mut list = Vec::new();
                for s in text.split(',').filter(|s| !s.is_empty()) {
                    let sev = Severity::parse(s).ok_or_else(|| {
                        invalid(format!(
                            "Unknown severity '{s}': use critical, warning, information, or all."
                        ))
                    })?;
                    if !list.contains(&sev) {
                        list.push(sev);
                    }
                }
                if list.is_empty() {
                    return Err(invalid(format!("No severity after '{class_word}:'.")));
                }
                list.sort();
                list
            }
        };
        for class in classes {
            match out.iter_mut().find(|s| s.class == class) {
                Some(s) => s.severities = severities.clone(),
                None => out.push(AlertSubscription {
                    class,
                    severities: severities.clone(),
                }),
            }
        }
    }
    out.sort_by_key(|s| s.class);
    Ok(out)
}

fn class_words() -> String {
    AlertClass::ALL
        .iter()
        .map(|c| c.name().replace(' ', "").to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

fn new(ctx: &CommandContext<'_>, address: &str, words: &[String]) -> Result<String, CliError> {
    check_address(address).map_err(invalid)?;
    let subscriptions = subscriptions(words)?;
    let mut cfg = ctx.store.working()?;
    if position(&cfg, address).is_some() {
        return Err(invalid(format!(
            "{address} is already an alert recipient: use alertconfig edit."
        )));
    }
    if cfg.alerts.recipients.len() >= MAX_ALERT_RECIPIENTS {
        return Err(invalid(format!(
            "At most {MAX_ALERT_RECIPIENTS} alert recipients."
        )));
    }
    cfg.alerts.recipients.push(AlertRecipient {
        address: address.to_string(),
        subscriptions,
    });
    stage(ctx, &cfg, &format!("Alert recipient {address} added."))
}

fn edit(ctx: &CommandContext<'_>, address: &str, words: &[String]) -> Result<String, CliError> {
    let subscriptions = subscriptions(words)?;
    let mut cfg = ctx.store.working()?;
    let i = position(&cfg, address).ok_or_else(|| not_found(address))?;
    cfg.alerts.recipients[i].subscriptions = subscriptions;
    stage(ctx, &cfg, &format!("Alert recipient {address} changed."))
}

fn delete(ctx: &CommandContext<'_>, address: &str) -> Result<String, CliError> {
    let mut cfg = ctx.store.working()?;
    let i = position(&cfg, address).ok_or_else(|| not_found(address))?;
    cfg.alerts.recipients.remove(i);
    stage(ctx, &cfg, &format!("Alert recipient {address} deleted."))
}

fn from(ctx: &CommandContext<'_>, address: &str) -> Result<String, CliError> {
    let mut cfg = ctx.store.working()?;
    if address.eq_ignore_ascii_case("default") {
        cfg.alerts.from_address = None;
        let message = format!(
            "Alerts will be sent from the system-default address {}.",
            cfg.alerts.from_for(&cfg.hostname)
        );
        return stage(ctx, &cfg, &message);
    }
    check_address(address).map_err(invalid)?;
    cfg.alerts.from_address = Some(address.to_string());
    stage(ctx, &cfg, &format!("Alerts will be sent from {address}."))
}

/// `setup`: the duplicate-alert waits and the thresholds.
#[rustfmt::skip]
const SETUP: &[Setting<AlertSettings>] = &[
    ("initial-interval", Number(0, 86_400, |a| &mut a.initial_interval_secs)),
    ("max-interval", Number(0, 7 * 86_400, |a| &mut a.max_interval_secs)),
    ("queue-threshold", Number(1, 100, |a| &mut a.queue_threshold_percent)),
    ("data-threshold", Number(1, 100, |a| &mut a.data_threshold_percent)),
    ("certificate-days", Number(1, 365, |a| &mut a.certificate_expiry_days)),
    ("threat-defense-failures", Number(1, 10_000, |a| &mut a.threat_defense_failures)),
    ("check-interval", Number(1, 3600, |a| &mut a.check_interval_secs)),
];

fn setup(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let opts = settings::parse_some(args, SETUP, &[], USAGE)?;
    let mut cfg = ctx.store.working()?;
    settings::apply(SETUP, &opts, &mut cfg.alerts)?;
    let a = &cfg.alerts;
    if a.max_interval_secs < a.initial_interval_secs {
        return Err(invalid(format!(
            "The maximum wait before a duplicate alert ({}s) must be at least the initial one ({}s).",
            a.max_interval_secs, a.initial_interval_secs
        )));
    }
    stage(ctx, &cfg, "Alert settings updated.")
}

fn position(cfg: &Config, address: &str) -> Option<usize> {
    cfg.alerts
        .recipients
        .iter()
        .position(|r| r.address.eq_ignore_ascii_case(address))
}

fn not_found(address: &str) -> CliError {
    invalid(format!("{address} is not an alert recipient."))
}

/// As AsyncOS prints it: each recipient with its classes and severities,
/// then the waits and the From address.
pub(super) fn render(cfg: &Config) -> String {
    let a = &cfg.alerts;
    let mut out = String::new();
    if a.recipients.is_empty() {
        out.push_str("No alert recipients. Add one with: alertconfig new <address>\n");
    } else {
        out.push_str("Sending alerts to:\n");
        for r in &a.recipients {
            out.push_str(&format!("    {}\n", r.address));
            let all_classes = AlertClass::ALL.iter().all(|c| {
                r.subscriptions
                    .iter()
                    .any(|s| s.class == *c && s.severities.len() == Severity::ALL.len())
            });
            if all_classes {
                out.push_str("        Class: All - Severities: All\n");
                continue;
            }
            for s in &r.subscriptions {
                let severities = if s.severities.len() == Severity::ALL.len() {
                    "All".to_string()
                } else {
                    s.severities
                        .iter()
                        .map(|v| v.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                out.push_str(&format!(
                    "        Class: {} - Severities: {severities}\n",
                    s.class.name()
                ));
            }
        }
    }
    out.push_str(&format!(
        "\nInitial number of seconds to wait before sending a duplicate alert: {}\n\
         Maximum number of seconds to wait before sending a duplicate alert: {}\n",
        a.initial_interval_secs, a.max_interval_secs
    ));
    match &a.from_address {
        Some(from) => out.push_str(&format!("Alerts will be sent from {from}.\n")),
        None => out.push_str(&format!(
            "Alerts will be sent using the system-default From Address ({}).\n",
            a.from_for(&cfg.hostname)
        )),
    }
    out.push_str(&format!(
        "Alert thresholds: work queue {}%, data partition {}%, certificates expiring within {} days, \
         {} failed Threat Defense copies in a row; checked every {} seconds",
        a.queue_threshold_percent,
        a.data_threshold_percent,
        a.certificate_expiry_days,
        a.threat_defense_failures,
        a.check_interval_secs
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use crate::config::{AlertClass, Severity};

    #[test]
    fn a_factory_box_has_no_recipients_and_asyncos_waits() {
        let f = Fixture::new();
        let out = f.run("alertconfig").unwrap();
        assert!(out.starts_with("No alert recipients."), "{out}");
        assert!(out.contains(
            "Initial number of seconds to wait before sending a duplicate alert: 300\n\
             Maximum number of seconds to wait before sending a duplicate alert: 3600"
        ));
        assert!(out.contains("system-default From Address (alert@"), "{out}");
    }

    #[test]
    fn new_edit_delete_and_clear_stage_the_recipients() {
        let f = Fixture::new();
        f.run("alertconfig new ops@example.com").unwrap();
        let out = f
            .run("alertconfig new hw@example.com hardware:critical system:warning,critical")
            .unwrap();
        assert!(
            out.starts_with("Alert recipient hw@example.com added."),
            "{out}"
        );
        let a = f.staged().unwrap().alerts;
        assert_eq!(
            a.recipients_for(AlertClass::System, Severity::Warning),
            ["ops@example.com", "hw@example.com"]
        );
        assert_eq!(
            a.recipients_for(AlertClass::Hardware, Severity::Warning),
            ["ops@example.com"]
        );
        let print = f.run("alertconfig print").unwrap();
        assert!(print.contains(
            "    ops@example.com\n        Class: All - Severities: All\n    hw@example.com\n        Class: System - Severities: Critical, Warning\n        Class: Hardware - Severities: Critical\n"
        ), "{print}");
        f.run("alertconfig edit HW@example.com threatdefense")
            .unwrap();
        let a = f.staged().unwrap().alerts;
        assert_eq!(
            a.recipients_for(AlertClass::ThreatDefense, Severity::Information),
            ["ops@example.com", "hw@example.com"]
        );
        assert!(!a.recipients[1].wants(AlertClass::System, Severity::Critical));
        f.run("alertconfig delete ops@example.com").unwrap();
        assert_eq!(f.staged().unwrap().alerts.recipients.len(), 1);
        f.run("alertconfig clear").unwrap();
        assert!(f.staged().unwrap().alerts.recipients.is_empty());
    }

    #[test]
    fn from_and_setup_stage_their_settings() {
        let f = Fixture::new();
        f.run("alertconfig from noc@example.com").unwrap();
        f.run("alertconfig setup --initial-interval 60 --max-interval 600 --queue-threshold 80")
            .unwrap();
        let a = f.staged().unwrap().alerts;
        assert_eq!(a.from_address.as_deref(), Some("noc@example.com"));
        assert_eq!(
            (
                a.initial_interval_secs,
                a.max_interval_secs,
                a.queue_threshold_percent
            ),
            (60, 600, 80)
        );
        f.run("alertconfig from default").unwrap();
        assert_eq!(f.staged().unwrap().alerts.from_address, None);
    }

    #[test]
    fn bad_addresses_classes_and_waits_are_refused_and_stage_nothing() {
        let f = Fixture::new();
        let err = f
            .run("alertconfig new not-an-address")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("Invalid e-mail address 'not-an-address'"),
            "{err}"
        );
        let err = f
            .run("alertconfig new a@example.com antispam")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("Unknown alert class 'antispam'"), "{err}");
        f.assert_refused(&[
            "alertconfig new a@example.com system:minor",
            "alertconfig edit nobody@example.com system",
            "alertconfig delete nobody@example.com",
            "alertconfig clear",
            "alertconfig from nobody",
            "alertconfig setup --initial-interval 700 --max-interval 600",
            "alertconfig setup --queue-threshold 0",
            "alertconfig setup",
            "alertconfig bogus",
        ]);
        f.run("alertconfig new a@example.com").unwrap();
        let err = f
            .run("alertconfig new A@example.com")
            .unwrap_err()
            .to_string();
        assert!(err.contains("already an alert recipient"), "{err}");
    }
}

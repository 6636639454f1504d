//! Security Services > Anti-Virus (the ClamAV engine: `antivirusconfig`)
//! and each mail policy's Anti-Virus page (the policy lists' "Anti-Virus"
//! column: `policyconfig edit ... antivirus`), built like the Anti-Spam
//! pages (pages/antispam.rs): pure builders turn a form into the CLI's
//! words, only what changed is staged.

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use breakwater_config::DEFAULT_POLICY;
use breakwater_config::antivirus::{
    AntiVirusSettings, Direction, EngineDown, PolicyAntiVirus, VerdictAction,
};
use maud::html;

use super::antispam::{run_all, text_row};
use crate::web::fields::{field, segment};
use crate::web::{Admin, Change, State, layout};

const PAGE: &str = "/security/antivirus";

pub fn routes() -> Router<State> {
    let mut router = Router::new().route(PAGE, get(page).post(edit));
    for dir in ["incoming", "outgoing"] {
        router = router.route(
            &format!("/mail-policies/{dir}/{{policy}}/antivirus"),
            get(move |a: Admin, Path(p): Path<String>| policy_page(a, dir, p))
                .post(move |Path(p): Path<String>, c: Change| policy_edit(c, dir, p)),
        );
    }
    router
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| (*w).to_string()).collect()
}

/// Edit Global Settings: `antivirusconfig setup` with the options that
/// changed, then `enable` / `disable` when the checkbox changed.
pub fn setup_words(
    form: &[(String, String)],
    now: &AntiVirusSettings,
) -> Result<Vec<Vec<String>>, String> {
    let mut setup = words(&["antivirusconfig", "setup"]);
    let options: [(&str, &str, String); 5] = [
        ("host", "--host", now.host.clone()),
        ("port", "--port", now.port.to_string()),
        ("timeout", "--timeout", now.timeout_secs.to_string()),
        (
            "max_parallel",
            "--max-parallel",
            now.max_parallel_scans.to_string(),
        ),
        ("max_size", "--max-size", now.max_scan_bytes.to_string()),
    ];
    for (name, option, current) in options {
        let value = field(form, name).ok_or_else(|| format!("Enter a value for {name}."))?;
        if value != current {
            setup.push(option.into());
            setup.push(value.into());
        }
    }
    let mut commands = Vec::new();
    if setup.len() > 2 {
        commands.push(setup);
    }
    let enable = field(form, "enabled").is_some();
    if enable != now.enabled {
        commands.push(words(&[
            "antivirusconfig",
            if enable { "enable" } else { "disable" },
        ]));
    }
    if commands.is_empty() {
        return Err("Nothing to change.".into());
    }
    Ok(commands)
}

async fn page(admin: Admin) -> Response {
    let title = "Anti-Virus";
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page(title, layout::output(&e)),
    };
    let printed = admin
        .run(&["antivirusconfig", "print"])
        .await
        .unwrap_or_else(|e| e);
    let s = &cfg.antivirus;
    let body = html! {
        h2 { "Anti-Virus Global Settings" }
        (layout::output(&printed))
        @if admin.can_change() {
            h3 { "Edit Global Settings" }
            form method="post" action=(PAGE) {
                (admin.csrf())
                table.form id="antivirus-form" {
                    tr { th { "Anti-Virus scanning:" } td { label {
                        input type="checkbox" name="enabled" value="on" checked[s.enabled];
                        " Enable ClamAV scanning"
                    } } }
                    (text_row("host", "Engine address (or /unix/socket):", &s.host))
                    (text_row("port", "Engine port:", &s.port.to_string()))
                    (text_row("timeout", "Scanning timeout (seconds):", &s.timeout_secs.to_string()))
                    (text_row("max_parallel", "Maximum parallel scans:", &s.max_parallel_scans.to_string()))
                    (text_row("max_size", "Maximum message size to scan (bytes):", &s.max_scan_bytes.to_string()))
                    tr { th {} td { button.primary type="submit" id="antivirus-submit" { "Submit" } } }
                }
            }
        }
    };
    admin.page(title, body)
}

async fn edit(change: Change) -> Response {
    let admin = &change.admin;
    let commands = match admin.config().await {
        Ok(cfg) => setup_words(&change.fields, &cfg.antivirus),
        Err(e) => Err(e),
    };
    run_all(admin, commands, PAGE).await
}

fn direction(word: &str) -> Option<Direction> {
    Direction::parse(word)
}

/// The policy list's link to a policy's Anti-Virus page.
pub fn policy_link(dir: &str, policy: &str) -> String {
    format!("/mail-policies/{dir}/{}/antivirus", segment(policy))
}

const ACTIONS: [VerdictAction; 4] = [
    VerdictAction::Deliver,
    VerdictAction::Tag,
    VerdictAction::Quarantine,
    VerdictAction::Drop,
];

const VERDICTS: [(&str, &str); 3] = [
    ("infected", "Virus Infected Messages"),
    ("unscannable", "Unscannable Messages"),
    ("encrypted", "Encrypted Messages"),
];

fn verdict(p: &PolicyAntiVirus, which: &str) -> VerdictAction {
    match which {
        "infected" => p.infected,
        "unscannable" => p.unscannable,
        _ => p.encrypted,
    }
}

/// A policy's Anti-Virus form as `policyconfig edit <dir> <policy>
/// antivirus ...` commands: the mode when it changed and, for a scanning
/// policy, each action and the engine-down behaviour that differ from the
/// policy's own settings (all of them when it gets its own settings).
pub fn policy_words(
    form: &[(String, String)],
    dir: &str,
    policy: &str,
    own: Option<&PolicyAntiVirus>,
) -> Result<Vec<Vec<String>>, String> {
    let with = |tail: &[&str]| {
        let mut w = words(&["policyconfig", "edit", dir, policy, "antivirus"]);
        w.extend(tail.iter().map(|t| (*t).to_string()));
        w
    };
    let mut commands = Vec::new();
    match field(form, "mode").unwrap_or("enable") {
        "default" => {
            if own.is_some() {
                commands.push(with(&["default"]));
            }
        }
        "disable" => {
            if own.is_none_or(|p| p.enabled) {
                commands.push(with(&["disable"]));
            }
        }
        "enable" => {
            let current = own.filter(|p| p.enabled);
            if current.is_none() {
                commands.push(with(&["enable"]));
            }
            for (which, _) in VERDICTS {
                let action = field(form, which).unwrap_or("deliver");
                let parsed = VerdictAction::parse(action)
                    .ok_or_else(|| format!("Unknown action {action}."))?;
                if current.map(|p| verdict(p, which)) != Some(parsed) {
                    commands.push(with(&[which, parsed.word()]));
                }
            }
            let down = match field(form, "enginedown") {
                Some("fail-open") => EngineDown::FailOpen,
                _ => EngineDown::FailClosed,
            };
            if current.map(|p| p.engine_down) != Some(down) {
                commands.push(with(&["engine-down", down.word()]));
            }
        }
        other => return Err(format!("Unknown setting {other}.")),
    }
    if commands.is_empty() {
        return Err("Nothing to change.".into());
    }
    Ok(commands)
}

async fn policy_page(admin: Admin, dir: &'static str, policy: String) -> Response {
    let Some(d) = direction(dir) else {
        return Redirect::to("/mail-policies/incoming").into_response();
    };
    let title = format!("Anti-Virus Settings ({policy})");
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page(&title, layout::output(&e)),
    };
    let av = &cfg.antivirus;
    let is_default = policy.eq_ignore_ascii_case(DEFAULT_POLICY);
    let own = av.own(d, &policy);
    let shown = av.effective(d, &policy);
    let mode = match own {
        None if !is_default => "default",
        _ if shown.enabled => "enable",
        _ => "disable",
    };
    let body = html! {
        h2 { "Anti-Virus Settings" }
        p { "Policy: " b id="policy" { (policy) } }
        @if !av.enabled {
            p.muted id="engine-disabled" {
                "Anti-virus scanning is disabled in "
                a href=(PAGE) { "Security Services > Anti-Virus" } ": no message is scanned until it is enabled there."
            }
        }
        form method="post" action=(policy_link(dir, &policy)) {
            (admin.csrf())
            table.form id="policy-antivirus-form" {
                tr { th { "Anti-Virus scanning:" } td {
                    @if !is_default {
                        label { input type="radio" name="mode" value="default" checked[mode == "default"]; " Use Default Settings" } br;
                    }
                    label { input type="radio" name="mode" value="enable" checked[mode == "enable"]; " Enable ClamAV scanning" } br;
                    label { input type="radio" name="mode" value="disable" checked[mode == "disable"]; " Disabled" }
                } }
                @for (which, label) in VERDICTS {
                    tr { th { label for=(which) { (label) ":" } } td {
                        select id=(which) name=(which) {
                            @for a in ACTIONS {
                                option value=(a.word()) selected[a == verdict(&shown, which)] { (a.word()) }
                            }
                        }
                    } }
                }
                tr { th { label for="enginedown" { "When the engine cannot be reached:" } } td {
                    select id="enginedown" name="enginedown" {
                        @for e in [EngineDown::FailClosed, EngineDown::FailOpen] {
                            option value=(e.word()) selected[e == shown.engine_down] { (e.word()) }
                        }
                    }
                } }
                @if admin.can_change() {
                    tr { th {} td {
                        button.primary type="submit" id="policy-antivirus-submit" { "Submit" }
                        " "
                        a href={ "/mail-policies/" (dir) } { button type="button" { "Cancel" } }
                    } }
                }
            }
        }
    };
    admin.page(&title, body)
}

async fn policy_edit(change: Change, dir: &'static str, policy: String) -> Response {
    let admin = &change.admin;
    let to = policy_link(dir, &policy);
    let commands = match (direction(dir), admin.config().await) {
        (Some(d), Ok(cfg)) => {
            policy_words(&change.fields, dir, &policy, cfg.antivirus.own(d, &policy))
        }
        (None, _) => Err(format!("Unknown mail policy table {dir}.")),
        (_, Err(e)) => Err(e),
    };
    run_all(admin, commands, &to).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::fields::fields as form;

    #[test]
    fn a_custom_policy_gets_its_own_settings_from_the_page() {
        let f = form(&[
            ("mode", "enable"),
            ("infected", "quarantine"),
            ("unscannable", "tag"),
            ("encrypted", "deliver"),
            ("enginedown", "fail-open"),
        ]);
        let base = ["policyconfig", "edit", "incoming", "SALES", "antivirus"];
        let with = |t: &[&str]| -> Vec<String> { words(&[&base[..], t].concat()) };
        assert_eq!(
            policy_words(&f, "incoming", "SALES", None).unwrap(),
            [
                with(&["enable"]),
                with(&["infected", "quarantine"]),
                with(&["unscannable", "tag"]),
                with(&["encrypted", "deliver"]),
                with(&["engine-down", "fail-open"]),
            ]
        );
        assert_eq!(
            policy_words(&form(&[("mode", "default")]), "incoming", "SALES", None).unwrap_err(),
            "Nothing to change."
        );
    }

    #[test]
    fn global_settings_stage_only_what_changed() {
        let factory = AntiVirusSettings::default();
        let mut f = form(&[
            ("host", factory.host.as_str()),
            ("port", "3311"),
            ("timeout", &factory.timeout_secs.to_string()),
            ("max_parallel", &factory.max_parallel_scans.to_string()),
            ("max_size", &factory.max_scan_bytes.to_string()),
        ]);
        f.push(("enabled".into(), "on".into()));
        assert_eq!(
            setup_words(&f, &factory).unwrap(),
            [
                words(&["antivirusconfig", "setup", "--port", "3311"]),
                words(&["antivirusconfig", "enable"])
            ]
        );
    }
}

//! Security Services > Anti-Spam (the rspamd engine: `antispamconfig`)
//! and each mail policy's Anti-Spam page (Mail Policies > Incoming /
//! Outgoing Mail Policies, the "Anti-Spam" column: `policyconfig edit ...
//! antispam`). The forms are turned into the CLI's words by pure
//! builders, so the control plane validates a web change exactly as a
//! console one, and only what changed is staged.

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use breakwater_config::DEFAULT_POLICY;
use breakwater_config::antispam::{
    AntiSpamSettings, Direction, EngineDown, PolicyAntiSpam, SpamAction, SpamActions, VerdictAction,
};
use maud::{Markup, html};

use crate::web::fields::{field, segment};
use crate::web::{Admin, Change, State, layout, web_wording};

const PAGE: &str = "/security/antispam";

pub fn routes() -> Router<State> {
    let mut router = Router::new().route(PAGE, get(page).post(edit));
    for dir in ["incoming", "outgoing"] {
        router = router.route(
            &format!("/mail-policies/{dir}/{{policy}}/antispam"),
            get(move |a: Admin, Path(p): Path<String>| policy_page(a, dir, p))
                .post(move |Path(p): Path<String>, c: Change| policy_edit(c, dir, p)),
        );
    }
    router
}

/// Runs each command in turn (the first refusal stops, as at the CLI),
/// leaves what they said for the next page and goes to `to`.
pub async fn run_all(
    admin: &Admin,
    commands: Result<Vec<Vec<String>>, String>,
    to: &str,
) -> Response {
    let commands = match commands {
        Ok(c) => c,
        Err(e) => {
            admin.flash(false, e);
            return Redirect::to(to).into_response();
        }
    };
    let mut said = Vec::new();
    for words in commands {
        match admin.run_words(words, None).await {
            Ok(out) => said.push(web_wording(&out)),
            Err(out) => {
                said.push(out);
                admin.flash(false, said.join("\n"));
                return Redirect::to(to).into_response();
            }
        }
    }
    said.dedup();
    admin.flash(true, said.join("\n"));
    Redirect::to(to).into_response()
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| (*w).to_string()).collect()
}

/// Edit Global Settings: `antispamconfig setup` with the options that
/// changed, then `enable` / `disable` when the checkbox changed.
pub fn setup_words(
    form: &[(String, String)],
    now: &AntiSpamSettings,
) -> Result<Vec<Vec<String>>, String> {
    let mut setup = words(&["antispamconfig", "setup"]);
    let options: [(&str, &str, String); 6] = [
        ("host", "--host", now.host.clone()),
        ("port", "--port", now.port.to_string()),
        ("timeout", "--timeout", now.timeout_secs.to_string()),
        (
            "max_concurrent",
            "--max_concurrent",
            now.max_concurrent.to_string(),
        ),
        (
            "max_message_size",
            "--max_message_size",
            now.max_message_size.to_string(),
        ),
        ("retry", "--retry", now.retry_secs.to_string()),
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
        let word = if enable { "enable" } else { "disable" };
        commands.push(words(&["antispamconfig", word]));
    }
    if commands.is_empty() {
        return Err("Nothing to change.".into());
    }
    Ok(commands)
}

async fn page(admin: Admin) -> Response {
    let title = "Anti-Spam";
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page(title, layout::output(&e)),
    };
    let printed = admin
        .run(&["antispamconfig", "print"])
        .await
        .unwrap_or_else(|e| e);
    let s = &cfg.antispam;
    let body = html! {
        h2 { "Anti-Spam Global Settings" }
        (layout::output(&printed))
        @if admin.can_change() {
            h3 { "Edit Global Settings" }
            form method="post" action=(PAGE) {
                (admin.csrf())
                table.form id="antispam-form" {
                    tr { th { "Anti-Spam scanning:" } td { label {
                        input type="checkbox" name="enabled" value="on" checked[s.enabled];
                        " Enable rspamd scanning"
                    } } }
                    (text_row("host", "Engine address:", &s.host))
                    (text_row("port", "Engine port:", &s.port.to_string()))
                    (text_row("timeout", "Scanning timeout (seconds):", &s.timeout_secs.to_string()))
                    (text_row("max_concurrent", "Maximum parallel scans:", &s.max_concurrent.to_string()))
                    (text_row("max_message_size", "Maximum message size to scan (bytes, or 1M):", &s.max_message_size.to_string()))
                    (text_row("retry", "Retry interval while the engine is down (seconds):", &s.retry_secs.to_string()))
                    tr { th {} td { button.primary type="submit" id="antispam-submit" { "Submit" } } }
                }
            }
        }
    };
    admin.page(title, body)
}

pub fn text_row(name: &str, label: &str, value: &str) -> Markup {
    html! {
        tr {
            th { label for=(name) { (label) } }
            td { input type="text" id=(name) name=(name) value=(value); }
        }
    }
}

async fn edit(change: Change) -> Response {
    let admin = &change.admin;
    let commands = match admin.config().await {
        Ok(cfg) => setup_words(&change.fields, &cfg.antispam),
        Err(e) => Err(e),
    };
    run_all(admin, commands, PAGE).await
}

fn direction(word: &str) -> Option<Direction> {
    match word {
        "incoming" => Some(Direction::Incoming),
        "outgoing" => Some(Direction::Outgoing),
        _ => None,
    }
}

fn direction_word(d: Direction) -> &'static str {
    match d {
        Direction::Incoming => "incoming",
        Direction::Outgoing => "outgoing",
    }
}

/// The policy list's link to a policy's Anti-Spam page.
pub fn policy_link(dir: &str, policy: &str) -> String {
    format!("/mail-policies/{dir}/{}/antispam", segment(policy))
}

const ACTIONS: [(SpamAction, &str); 4] = [
    (SpamAction::Deliver, "deliver"),
    (SpamAction::Drop, "drop"),
    (SpamAction::Bounce, "bounce"),
    (SpamAction::Quarantine, "quarantine"),
];

fn action_word(a: SpamAction) -> &'static str {
    ACTIONS
        .iter()
        .find(|(x, _)| *x == a)
        .map(|(_, w)| *w)
        .unwrap_or("deliver")
}

fn verdict<'a>(actions: &'a SpamActions, which: &str) -> &'a VerdictAction {
    if which == "positive" {
        &actions.positive
    } else {
        &actions.suspect
    }
}

/// A policy's Anti-Spam form as `policyconfig edit <dir> <policy>
/// antispam ...` commands: the mode when it changed, and, for a scanning
/// policy, each verdict's action and subject tag and the engine-down
/// behaviour that differ from the policy's own settings (all of them when
/// the policy starts scanning, so the page's values are what it gets).
pub fn policy_words(
    form: &[(String, String)],
    dir: Direction,
    policy: &str,
    own: &PolicyAntiSpam,
) -> Result<Vec<Vec<String>>, String> {
    let base = words(&[
        "policyconfig",
        "edit",
        direction_word(dir),
        policy,
        "antispam",
    ]);
    let with = |tail: &[&str]| {
        let mut w = base.clone();
        w.extend(tail.iter().map(|t| (*t).to_string()));
        w
    };
    let mode = field(form, "mode").unwrap_or("enable");
    let mut commands = Vec::new();
    match mode {
        "default" | "disable" => {
            let same = matches!(
                (mode, own),
                ("default", PolicyAntiSpam::UseDefault) | ("disable", PolicyAntiSpam::Disabled)
            );
            if !same {
                commands.push(with(&[mode]));
            }
        }
        "enable" => {
            let current = match own {
                PolicyAntiSpam::Enabled(a) => Some(a),
                _ => {
                    commands.push(with(&["enable"]));
                    None
                }
            };
            for which in ["positive", "suspect"] {
                let action = field(form, &format!("{which}_action")).unwrap_or("deliver");
                if !ACTIONS.iter().any(|(_, w)| *w == action) {
                    return Err(format!("Unknown action {action}."));
                }
                let tag = form
                    .iter()
                    .find(|(k, _)| *k == format!("{which}_tag"))
                    .map(|(_, v)| v.as_str())
                    .unwrap_or("");
                let now = current.map(|a| verdict(a, which));
                if now.map(|v| action_word(v.action)) != Some(action) {
                    commands.push(with(&[which, "action", action]));
                }
                let now_tag = now.map(|v| v.subject_tag.clone().unwrap_or_default());
                if now_tag.as_deref() != Some(tag) {
                    let tag = if tag.is_empty() { "none" } else { tag };
                    commands.push(with(&[which, "tag", tag]));
                }
            }
            let down = match field(form, "enginedown") {
                Some("hold") => EngineDown::Hold,
                _ => EngineDown::Deliver,
            };
            if current.map(|a| a.engine_down) != Some(down) {
                let word = if down == EngineDown::Hold {
                    "hold"
                } else {
                    "deliver"
                };
                commands.push(with(&["enginedown", word]));
            }
        }
        other => return Err(format!("Unknown setting {other}.")),
    }
    if commands.is_empty() {
        return Err("Nothing to change.".into());
    }
    Ok(commands)
}

fn policy_title(dir: Direction, policy: &str) -> String {
    let table = match dir {
        Direction::Incoming => "Incoming",
        Direction::Outgoing => "Outgoing",
    };
    format!("{table} Mail Policies: Anti-Spam Settings ({policy})")
}

async fn policy_page(admin: Admin, dir: &'static str, policy: String) -> Response {
    let Some(d) = direction(dir) else {
        return Redirect::to("/mail-policies/incoming").into_response();
    };
    let title = policy_title(d, &policy);
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page(&title, layout::output(&e)),
    };
    let is_default = policy.eq_ignore_ascii_case(DEFAULT_POLICY);
    let own = cfg.antispam.own(d, &policy);
    let shown = match &own {
        PolicyAntiSpam::Enabled(a) => a.clone(),
        _ => cfg.antispam.effective(d, &policy).unwrap_or_default(),
    };
    let mode = match own {
        PolicyAntiSpam::UseDefault => "default",
        PolicyAntiSpam::Disabled => "disable",
        PolicyAntiSpam::Enabled(_) => "enable",
    };
    let action = policy_link(dir, &policy);
    let body = html! {
        h2 { "Anti-Spam Settings" }
        p { "Policy: " b id="policy" { (policy) } }
        @if !cfg.antispam.enabled {
            p.muted id="engine-disabled" {
                "Anti-spam scanning is disabled in "
                a href=(PAGE) { "Security Services > Anti-Spam" } ": no message is scanned until it is enabled there."
            }
        }
        form method="post" action=(action) {
            (admin.csrf())
            table.form id="policy-antispam-form" {
                tr { th { "Anti-Spam scanning:" } td {
                    @if !is_default {
                        label { input type="radio" name="mode" value="default" checked[mode == "default"]; " Use Default Settings" } br;
                    }
                    label { input type="radio" name="mode" value="enable" checked[mode == "enable"]; " Enable rspamd scanning" } br;
                    label { input type="radio" name="mode" value="disable" checked[mode == "disable"]; " Disabled" }
                } }
                @for (which, label) in [("positive", "Positively-Identified Spam"), ("suspect", "Suspected Spam")] {
                    @let v = verdict(&shown, which);
                    tr { th { b { (label) } } td {} }
                    tr { th { label for={ (which) "_action" } { "Apply This Action to Message:" } } td {
                        select id={ (which) "_action" } name={ (which) "_action" } {
                            @for (a, w) in ACTIONS {
                                option value=(w) selected[a == v.action] { (a.word()) }
                            }
                        }
                    } }
                    tr { th { label for={ (which) "_tag" } { "Add Text to Subject (prepend):" } } td {
                        input type="text" id={ (which) "_tag" } name={ (which) "_tag" } value=(v.subject_tag.clone().unwrap_or_default());
                    } }
                }
                tr { th { label for="enginedown" { "When the engine cannot be reached:" } } td {
                    select id="enginedown" name="enginedown" {
                        @for d in [EngineDown::Deliver, EngineDown::Hold] {
                            option value=(if d == EngineDown::Hold { "hold" } else { "deliver" }) selected[d == shown.engine_down] { (d.word()) }
                        }
                    }
                } }
                @if admin.can_change() {
                    tr { th {} td {
                        button.primary type="submit" id="policy-antispam-submit" { "Submit" }
                        " "
                        a href={ "/mail-policies/" (dir) } { button type="button" { "Cancel" } }
                    } }
                }
            }
        }
        p.muted { "Score thresholds and custom headers: " code { "policyconfig edit " (dir) " " (policy) " antispam positive|suspect threshold|header ..." } " at the CLI." }
    };
    admin.page(&title, body)
}

async fn policy_edit(change: Change, dir: &'static str, policy: String) -> Response {
    let admin = &change.admin;
    let to = policy_link(dir, &policy);
    let commands = match (direction(dir), admin.config().await) {
        (Some(d), Ok(cfg)) => {
            policy_words(&change.fields, d, &policy, &cfg.antispam.own(d, &policy))
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

    fn engine_form(enabled: bool, host: &str) -> Vec<(String, String)> {
        let mut f = form(&[
            ("host", host),
            ("port", "11333"),
            ("timeout", "60"),
            ("max_concurrent", "16"),
            ("max_message_size", "1048576"),
            ("retry", "60"),
        ]);
        if enabled {
            f.push(("enabled".into(), "on".into()));
        }
        f
    }

    #[test]
    fn global_settings_stage_only_what_changed() {
        let factory = AntiSpamSettings::default();
        assert_eq!(
            setup_words(&engine_form(true, "127.0.0.2"), &factory).unwrap(),
            [
                words(&["antispamconfig", "setup", "--host", "127.0.0.2"]),
                words(&["antispamconfig", "enable"]),
            ]
        );
        assert_eq!(
            setup_words(&engine_form(false, "127.0.0.1"), &factory).unwrap_err(),
            "Nothing to change."
        );
    }

    #[test]
    fn a_policy_that_starts_scanning_gets_every_value_of_the_page() {
        let f = form(&[
            ("mode", "enable"),
            ("positive_action", "quarantine"),
            ("positive_tag", "[SPAM] "),
            ("suspect_action", "deliver"),
            ("suspect_tag", ""),
            ("enginedown", "hold"),
        ]);
        let got = policy_words(
            &f,
            Direction::Incoming,
            "SALES",
            &PolicyAntiSpam::UseDefault,
        )
        .unwrap();
        let base = ["policyconfig", "edit", "incoming", "SALES", "antispam"];
        let with = |t: &[&str]| -> Vec<String> { words(&[&base[..], t].concat()) };
        assert_eq!(
            got,
            [
                with(&["enable"]),
                with(&["positive", "action", "quarantine"]),
                with(&["positive", "tag", "[SPAM] "]),
                with(&["suspect", "action", "deliver"]),
                with(&["suspect", "tag", "none"]),
                with(&["enginedown", "hold"]),
            ]
        );
        // Already scanning with the factory actions: only the changes.
        let own = PolicyAntiSpam::Enabled(SpamActions::default());
        let tag = SpamActions::default()
            .positive
            .subject_tag
            .unwrap_or_default();
        let f = form(&[
            ("mode", "enable"),
            ("positive_action", "drop"),
            ("positive_tag", tag.as_str()),
            ("suspect_action", "deliver"),
            (
                "suspect_tag",
                SpamActions::default()
                    .suspect
                    .subject_tag
                    .unwrap_or_default()
                    .as_str(),
            ),
            ("enginedown", "deliver"),
        ]);
        assert_eq!(
            policy_words(&f, Direction::Incoming, "DEFAULT", &own).unwrap(),
            [with(&["positive", "action", "drop"])
                .into_iter()
                .map(|w| w.replace("SALES", "DEFAULT"))
                .collect::<Vec<_>>()]
        );
        let f = form(&[("mode", "default")]);
        assert_eq!(
            policy_words(
                &f,
                Direction::Outgoing,
                "SALES",
                &PolicyAntiSpam::UseDefault
            )
            .unwrap_err(),
            "Nothing to change."
        );
    }
}

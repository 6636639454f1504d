//! The content-security pages beside the mail policies: Mail Policies >
//! Signing Keys and Profiles (`domainkeysconfig`), DMARC (`dmarcconfig`),
//! Bounce Verification (`bvconfig`), Network > SMTP Call-Ahead
//! (`smtpcallahead`), and the Security Features section of a mail flow
//! policy (`listenerconfig ... hostaccess senderauth`, `smtpcallahead
//! policy`, `bvconfig untagged`, `domainkeysconfig policy`). Each page
//! shows what the CLI prints (keys stay masked: the control plane masks
//! them) and its forms become the CLI's words through [`words_for`], so a
//! web change is validated and staged exactly as a console one.

use axum::Router;
use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::{get, post};
use breakwater_config::{Config, ListenerConfig, MailFlowPolicy};
use maud::{Markup, html};

use super::antispam::{run_all, text_row};
use crate::web::fields::{field, segment};
use crate::web::{Admin, Change, State, layout};

const SIGNING: &str = "/mail-policies/signing";
const DMARC: &str = "/mail-policies/dmarc";
const BV: &str = "/mail-policies/bounce-verification";
const CALLAHEAD: &str = "/network/smtp-call-ahead";

pub fn routes() -> Router<State> {
    let mut router = Router::new();
    for page in [SIGNING, DMARC, BV, CALLAHEAD] {
        router = router.route(
            page,
            get(move |a: Admin, q: Query<Shown>| show(a, page, q.0))
                .post(move |c: Change| submit(c, page)),
        );
    }
    router.route(
        "/mail-policies/mail-flow/{listener}/policy/{policy}/security",
        post(security_features),
    )
}

/// `?dnstxt=PROFILE` on Signing Keys and Profiles: the TXT record to
/// publish for that profile.
#[derive(serde::Deserialize)]
pub struct Shown {
    pub dnstxt: Option<String>,
}

fn w(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

fn need<'a>(form: &'a [(String, String)], name: &str, what: &str) -> Result<&'a str, String> {
    field(form, name).ok_or_else(|| format!("Enter {what}."))
}

/// The form `op` of the page at `page` as CLI commands.
pub fn words_for(page: &str, form: &[(String, String)]) -> Result<Vec<Vec<String>>, String> {
    let op = field(form, "op").unwrap_or("");
    let one = |words: Vec<String>| Ok(vec![words]);
    match (page, op) {
        (SIGNING, "newkey") => {
            let name = need(form, "key_name", "a key name")?;
            let kind = field(form, "key_type").unwrap_or("rsa");
            one(w(&[
                "domainkeysconfig",
                "keys",
                "new",
                name,
                "--type",
                kind,
            ]))
        }
        (SIGNING, "newprofile") => {
            let name = need(form, "profile_name", "a profile name")?;
            let domain = need(form, "domain", "the domain")?;
            let selector = need(form, "selector", "the selector")?;
            let key = need(form, "key", "the signing key")?;
            one(w(&[
                "domainkeysconfig",
                "profiles",
                "new",
                name,
                domain,
                selector,
                key,
            ]))
        }
        (DMARC, "new") => one(w(&[
            "dmarcconfig",
            "new",
            need(form, "profile", "a profile name")?,
        ])),
        (DMARC, "edit") => {
            let p = need(form, "profile", "the profile")?;
            let mut reject = w(&["dmarcconfig", "edit", p, "reject"]);
            match field(form, "reject_action").unwrap_or("reject") {
                "none" => reject.push("none".into()),
                "quarantine" => {
                    reject.push("quarantine".into());
                    reject.push(need(form, "reject_quarantine", "the quarantine")?.into());
                }
                _ => {
                    reject.push("reject".into());
                    if let Some(code) = field(form, "reject_code") {
                        reject.push(code.into());
                        if let Some(text) = field(form, "reject_text") {
                            reject.push(text.into());
                        }
                    }
                }
            }
            let mut quarantine = w(&["dmarcconfig", "edit", p, "quarantine"]);
            match field(form, "quarantine_action").unwrap_or("quarantine") {
                "none" => quarantine.push("none".into()),
                _ => {
                    quarantine.push("quarantine".into());
                    quarantine.push(need(form, "quarantine_quarantine", "the quarantine")?.into());
                }
            }
            let temp = match field(form, "temperror") {
                Some("reject") => "reject",
                _ => "accept",
            };
            Ok(vec![
                reject,
                quarantine,
                w(&["dmarcconfig", "edit", p, "temperror", temp]),
            ])
        }
        (DMARC, "delete") => one(w(&[
            "dmarcconfig",
            "delete",
            need(form, "profile", "the profile")?,
        ])),
        (BV, "newkey") => {
            let mut words = w(&["bvconfig", "new"]);
            if let Some(key) = field(form, "key") {
                words.push(key.into());
            }
            one(words)
        }
        (BV, "purge") => one(w(&[
            "bvconfig",
            "purge",
            need(form, "days", "a number of days")?,
        ])),
        (BV, "setup") => match field(form, "invalid_action") {
            Some("header") => {
                let mut words = w(&["bvconfig", "setup", "header"]);
                if let Some(name) = field(form, "header_name") {
                    words.push(name.into());
                    if let Some(value) = field(form, "header_value") {
                        words.push(value.into());
                    }
                }
                one(words)
            }
            _ => one(w(&["bvconfig", "setup", "reject"])),
        },
        (CALLAHEAD, "new") => {
            let name = need(form, "profile", "a profile name")?;
            let kind = field(form, "type").unwrap_or("deliveryhost");
            let mut words = w(&["smtpcallahead", "new", name, "--type", kind]);
            if kind == "static" {
                words.push("--servers".into());
                words.push(need(form, "servers", "the static call-ahead servers")?.into());
            }
            for (name, option) in [
                ("timeout", "--timeout"),
                ("failure", "--failure"),
                ("mailfrom", "--mailfrom"),
            ] {
                if let Some(v) = field(form, name) {
                    words.push(option.into());
                    words.push(v.into());
                }
            }
            one(words)
        }
        (CALLAHEAD, "listener") => {
            let listener = need(form, "listener", "the listener")?;
            let profile = field(form, "profile").unwrap_or("none");
            one(w(&["smtpcallahead", "listener", listener, profile]))
        }
        (CALLAHEAD, "delete") => one(w(&[
            "smtpcallahead",
            "delete",
            need(form, "profile", "the profile")?,
        ])),
        _ => Err("Unknown form.".into()),
    }
}

async fn submit(change: Change, page: &'static str) -> Response {
    let commands = words_for(page, &change.fields);
    run_all(&change.admin, commands, page).await
}

fn title(page: &str) -> &'static str {
    match page {
        SIGNING => "Signing Keys and Profiles",
        DMARC => "DMARC",
        BV => "Bounce Verification",
        _ => "SMTP Call-Ahead",
    }
}

/// What the page prints: the CLI's own listing.
fn listing(page: &str) -> &'static [&'static str] {
    match page {
        SIGNING => &["domainkeysconfig", "print"],
        DMARC => &["dmarcconfig", "print"],
        BV => &["bvconfig", "print"],
        _ => &["smtpcallahead", "print"],
    }
}

fn op(admin: &Admin, page: &str, name: &str, id: &str, button: &str, rows: Markup) -> Markup {
    html! {
        form method="post" action=(page) id=(id) {
            (admin.csrf())
            input type="hidden" name="op" value=(name);
            table.form {
                (rows)
                tr { th {} td { button.primary type="submit" id={ (id) "-submit" } { (button) } } }
            }
        }
    }
}

fn select(name: &str, label: &str, options: &[(&str, &str)], selected: &str) -> Markup {
    html! {
        tr {
            th { label for=(name) { (label) } }
            td { select id=(name) name=(name) {
                @for (value, text) in options {
                    option value=(value) selected[*value == selected] { (text) }
                }
            } }
        }
    }
}

fn names(list: impl Iterator<Item = String>) -> Vec<(String, String)> {
    list.map(|n| (n.clone(), n)).collect()
}

fn select_owned(name: &str, label: &str, options: &[(String, String)]) -> Markup {
    let borrowed: Vec<(&str, &str)> = options
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    select(name, label, &borrowed, "")
}

fn forms(admin: &Admin, page: &str, cfg: &Config) -> Markup {
    match page {
        SIGNING => {
            let keys = names(cfg.domain_keys.keys.iter().map(|k| k.name.clone()));
            html! {
                h3 { "Generate Key" }
                (op(admin, page, "newkey", "dk-newkey", "Generate", html! {
                    (text_row("key_name", "Key name:", ""))
                    (select("key_type", "Key type:", &[("rsa", "RSA 2048"), ("ed25519", "Ed25519")], "rsa"))
                }))
                h3 { "Add Signing Profile" }
                (op(admin, page, "newprofile", "dk-newprofile", "Submit", html! {
                    (text_row("profile_name", "Profile name:", ""))
                    (text_row("domain", "Domain name:", ""))
                    (text_row("selector", "Selector:", ""))
                    (select_owned("key", "Signing key:", &keys))
                }))
            }
        }
        DMARC => {
            let profiles = names(
                cfg.sender_auth
                    .dmarc_profiles
                    .iter()
                    .map(|p| p.name.clone()),
            );
            let quarantines = names(cfg.quarantines.iter().map(|q| q.name.clone()));
            html! {
                h3 { "Add Profile" }
                (op(admin, page, "new", "dmarc-new", "Submit", text_row("profile", "Profile name:", "")))
                h3 { "Edit Profile" }
                (op(admin, page, "edit", "dmarc-edit", "Submit", html! {
                    (select_owned("profile", "Profile:", &profiles))
                    (select("reject_action", "Message action when the policy is reject:", &[("none", "No Action"), ("quarantine", "Quarantine"), ("reject", "Reject")], "reject"))
                    (select_owned("reject_quarantine", "Quarantine (reject):", &quarantines))
                    (text_row("reject_code", "SMTP action code:", "550"))
                    (text_row("reject_text", "SMTP response text:", "5.7.1 DMARC unauthenticated mail is prohibited"))
                    (select("quarantine_action", "Message action when the policy is quarantine:", &[("none", "No Action"), ("quarantine", "Quarantine")], "quarantine"))
                    (select_owned("quarantine_quarantine", "Quarantine (quarantine):", &quarantines))
                    (select("temperror", "Message action in case of temporary failure:", &[("accept", "Accept"), ("reject", "Reject")], "accept"))
                }))
                h3 { "Delete Profile" }
                (op(admin, page, "delete", "dmarc-delete", "Delete", select_owned("profile", "Profile:", &profiles)))
            }
        }
        BV => html! {
            h3 { "New Key" }
            p.muted { "Leave the key empty to have the appliance generate a random 256-bit key." }
            (op(admin, page, "newkey", "bv-newkey", "Add Key", html! {
                tr { th { label for="key" { "Address tagging key:" } } td { input type="password" id="key" name="key" autocomplete="off"; } }
            }))
            h3 { "Purge Keys" }
            (op(admin, page, "purge", "bv-purge", "Purge", text_row("days", "Purge keys added more than (days) ago:", "30")))
            h3 { "Bounce Verification Settings" }
            (op(admin, page, "setup", "bv-setup", "Submit", html! {
                (select("invalid_action", "Action when an invalid bounce is received:", &[("reject", "Reject"), ("header", "Add custom header and deliver")], "reject"))
                (text_row("header_name", "Header name:", "X-IronPort-Invalid-Bounce"))
                (text_row("header_value", "Header value:", "Bounce verification failed"))
            }))
        },
        _ => {
            let profiles = names(cfg.call_ahead.profiles.iter().map(|p| p.name.clone()));
            let mut attach = vec![("none".to_string(), "None".to_string())];
            attach.extend(profiles.iter().cloned());
            let listeners = names(cfg.listeners.iter().map(|l| l.name.clone()));
            html! {
                h3 { "Add Profile" }
                (op(admin, page, "new", "callahead-new", "Submit", html! {
                    (text_row("profile", "Profile name:", ""))
                    (select("type", "Profile type:", &[("deliveryhost", "Use Delivery Host"), ("static", "Static Call-Ahead Servers")], "deliveryhost"))
                    (text_row("servers", "Static call-ahead servers (host[:port],...):", ""))
                    (text_row("mailfrom", "MAIL FROM address (empty: <>):", ""))
                    (text_row("timeout", "Validation request timeout (seconds):", "30"))
                    (select("failure", "Validation failure action:", &[("accept", "Accept"), ("reject", "Reject")], "accept"))
                }))
                h3 { "Listener" }
                (op(admin, page, "listener", "callahead-listener", "Submit", html! {
                    (select_owned("listener", "Listener:", &listeners))
                    (select_owned("profile", "SMTP Call-Ahead profile:", &attach))
                }))
                h3 { "Delete Profile" }
                (op(admin, page, "delete", "callahead-delete", "Delete", select_owned("profile", "Profile:", &profiles)))
            }
        }
    }
}

async fn show(admin: Admin, page: &'static str, shown: Shown) -> Response {
    let title = title(page);
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page(title, layout::output(&e)),
    };
    let printed = admin.run(listing(page)).await.unwrap_or_else(|e| e);
    let record = match (page, shown.dnstxt.as_deref()) {
        (SIGNING, Some(profile)) => Some((
            profile.to_string(),
            admin
                .run(&["domainkeysconfig", "profiles", "dnstxt", profile])
                .await
                .unwrap_or_else(|e| e),
        )),
        _ => None,
    };
    let body = html! {
        h2 { (title) }
        (layout::output(&printed))
        @if page == SIGNING && !cfg.domain_keys.profiles.is_empty() {
            p { "DNS TXT record: "
                @for p in &cfg.domain_keys.profiles {
                    a href={ (SIGNING) "?dnstxt=" (segment(&p.name)) } id={ "dnstxt-" (p.name) } { (p.name) } " "
                }
            }
        }
        @if let Some((profile, text)) = &record {
            h3 { "DNS TXT record for " (profile) }
            div id="dnstxt" { (layout::output(text)) }
        }
        @if admin.can_change() { (forms(&admin, page, &cfg)) }
    };
    admin.page(title, body)
}

/// The Security Features section of a mail flow policy's edit page.
/// A mail flow policy's Security Features as configured now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    pub spf: bool,
    pub spf_conformance: String,
    pub dkim: bool,
    /// `Some(profile)` when DMARC verification is on.
    pub dmarc: Option<String>,
    pub callahead: bool,
    pub untagged_valid: bool,
}

impl Security {
    pub fn of(cfg: &Config, listener: &str, policy: &str) -> Security {
        let auth = cfg.sender_auth.for_policy(listener, policy);
        let same =
            |l: &str, p: &str| l.eq_ignore_ascii_case(listener) && p.eq_ignore_ascii_case(policy);
        Security {
            spf: auth.spf,
            spf_conformance: auth.spf_conformance.word().to_string(),
            dkim: auth.dkim,
            dmarc: auth.dmarc_profile.clone(),
            callahead: !cfg
                .call_ahead
                .policies_off
                .iter()
                .any(|o| same(&o.listener, &o.policy)),
            untagged_valid: cfg
                .bounce_verification
                .untagged_valid
                .iter()
                .any(|u| same(&u.listener, &u.policy) && u.valid),
        }
    }
}

pub fn security_section(
    admin: &Admin,
    cfg: &Config,
    l: &ListenerConfig,
    p: &MailFlowPolicy,
) -> Markup {
    let now = Security::of(cfg, &l.name, &p.name);
    let callahead_off = !now.callahead;
    let untagged_valid = now.untagged_valid;
    let auth = cfg.sender_auth.for_policy(&l.name, &p.name);
    let profiles = names(
        cfg.sender_auth
            .dmarc_profiles
            .iter()
            .map(|d| d.name.clone()),
    );
    let dmarc_profile = auth
        .dmarc_profile
        .clone()
        .unwrap_or_else(|| "DEFAULT".into());
    let conformance = auth.spf_conformance.word();
    let action = format!(
        "/mail-policies/mail-flow/{}/policy/{}/security",
        segment(&l.name),
        segment(&p.name)
    );
    let on = |name: &str, label: &str, checked: bool| {
        html! { tr { th { (label) } td { label { input type="checkbox" name=(name) value="on" checked[checked]; " On" } } } }
    };
    html! {
        h3 { "Security Features" }
        form method="post" action=(action) id="security-features" {
            (admin.csrf())
            table.form {
                (on("spf", "SPF/SIDF Verification:", auth.spf))
                (select("spf_conformance", "Conformance Level:", &[("spf-only", "SPF Only"), ("sidf-compatible", "SIDF Compatible"), ("sidf-strict", "SIDF Strict")], conformance))
                (on("dkim", "DKIM Verification:", auth.dkim))
                (on("dmarc", "DMARC Verification:", auth.dmarc_profile.is_some()))
                tr { th { label for="dmarc_profile" { "DMARC Verification Profile:" } } td {
                    select id="dmarc_profile" name="dmarc_profile" {
                        @for (n, _) in &profiles { option value=(n) selected[*n == dmarc_profile] { (n) } }
                    }
                } }
                (on("callahead", "SMTP Call-Ahead:", !callahead_off))
                (on("untagged_valid", "Consider Untagged Bounces to be Valid:", untagged_valid))
                @if admin.can_change() {
                    tr { th {} td { button.primary type="submit" id="security-submit" { "Submit" } } }
                }
            }
        }
    }
}

/// The Security Features form as commands, each only when its part
/// changed: sender authentication in one `senderauth` command, then
/// call-ahead and untagged bounces.
pub fn security_words(
    listener: &str,
    policy: &str,
    form: &[(String, String)],
    now: &Security,
) -> Result<Vec<Vec<String>>, String> {
    let checked = |name: &str| field(form, name).is_some();
    let on = |b: bool| if b { "on" } else { "off" };
    let want = Security {
        spf: checked("spf"),
        spf_conformance: field(form, "spf_conformance")
            .unwrap_or("spf-only")
            .to_string(),
        dkim: checked("dkim"),
        dmarc: checked("dmarc").then(|| {
            field(form, "dmarc_profile")
                .unwrap_or("DEFAULT")
                .to_string()
        }),
        callahead: checked("callahead"),
        untagged_valid: checked("untagged_valid"),
    };
    let mut commands = Vec::new();
    if (&want.spf, &want.spf_conformance, &want.dkim, &want.dmarc)
        != (&now.spf, &now.spf_conformance, &now.dkim, &now.dmarc)
    {
        let mut auth = w(&[
            "listenerconfig",
            "edit",
            listener,
            "hostaccess",
            "senderauth",
            policy,
            "--spf",
            on(want.spf),
            "--spf-conformance",
            &want.spf_conformance,
            "--dkim",
            on(want.dkim),
            "--dmarc",
            on(want.dmarc.is_some()),
        ]);
        if let Some(profile) = &want.dmarc {
            auth.push("--dmarc-profile".into());
            auth.push(profile.clone());
        }
        commands.push(auth);
    }
    if want.callahead != now.callahead {
        commands.push(w(&[
            "smtpcallahead",
            "policy",
            listener,
            policy,
            on(want.callahead),
        ]));
    }
    if want.untagged_valid != now.untagged_valid {
        let valid = if want.untagged_valid {
            "valid"
        } else {
            "invalid"
        };
        commands.push(w(&["bvconfig", "untagged", listener, policy, valid]));
    }
    if commands.is_empty() {
        return Err("Nothing to change.".into());
    }
    Ok(commands)
}

async fn security_features(
    Path((listener, policy)): Path<(String, String)>,
    change: Change,
) -> Response {
    let to = format!(
        "/mail-policies/mail-flow/{}/policy/{}",
        segment(&listener),
        segment(&policy)
    );
    let policy = policy.trim_start_matches('$');
    let commands = match change.admin.config().await {
        Ok(cfg) => {
            let now = Security::of(&cfg, &listener, policy);
            security_words(&listener, policy, &change.fields, &now)
        }
        Err(e) => Err(e),
    };
    run_all(&change.admin, commands, &to).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::fields::fields as form;

    #[test]
    fn forms_become_the_cli_commands() {
        let f = form(&[
            ("op", "newprofile"),
            ("profile_name", "example_com"),
            ("domain", "example.com"),
            ("selector", "sel1"),
            ("key", "k1"),
        ]);
        assert_eq!(
            words_for(SIGNING, &f).unwrap(),
            [[
                "domainkeysconfig",
                "profiles",
                "new",
                "example_com",
                "example.com",
                "sel1",
                "k1"
            ]]
        );
        let f = form(&[
            ("op", "setup"),
            ("invalid_action", "header"),
            ("header_name", "X-Bad"),
            ("header_value", "yes"),
        ]);
        assert_eq!(
            words_for(BV, &f).unwrap(),
            [["bvconfig", "setup", "header", "X-Bad", "yes"]]
        );
        let f = form(&[("op", "newkey"), ("key", "")]);
        assert_eq!(words_for(BV, &f).unwrap(), [["bvconfig", "new"]]);
        let f = form(&[
            ("op", "new"),
            ("profile", "verify"),
            ("type", "static"),
            ("servers", "127.0.0.1:2525"),
            ("timeout", "10"),
        ]);
        assert_eq!(
            words_for(CALLAHEAD, &f).unwrap(),
            [[
                "smtpcallahead",
                "new",
                "verify",
                "--type",
                "static",
                "--servers",
                "127.0.0.1:2525",
                "--timeout",
                "10"
            ]]
        );
        let f = form(&[
            ("op", "edit"),
            ("profile", "STRICT"),
            ("reject_action", "quarantine"),
            ("reject_quarantine", "Policy"),
            ("quarantine_action", "none"),
            ("temperror", "reject"),
        ]);
        assert_eq!(
            words_for(DMARC, &f).unwrap(),
            [
                w(&[
                    "dmarcconfig",
                    "edit",
                    "STRICT",
                    "reject",
                    "quarantine",
                    "Policy"
                ]),
                w(&["dmarcconfig", "edit", "STRICT", "quarantine", "none"]),
                w(&["dmarcconfig", "edit", "STRICT", "temperror", "reject"]),
            ]
        );
        assert_eq!(
            words_for(BV, &form(&[("op", "purge")])).unwrap_err(),
            "Enter a number of days."
        );
    }

    #[test]
    fn security_features_stage_only_what_changed() {
        let factory = Security {
            spf: false,
            spf_conformance: "spf-only".into(),
            dkim: false,
            dmarc: None,
            callahead: true,
            untagged_valid: false,
        };
        let f = form(&[
            ("spf", "on"),
            ("spf_conformance", "spf-only"),
            ("dmarc", "on"),
            ("dmarc_profile", "DEFAULT"),
            ("untagged_valid", "on"),
        ]);
        assert_eq!(
            security_words("IncomingMail", "ACCEPTED", &f, &factory).unwrap(),
            [
                w(&[
                    "listenerconfig",
                    "edit",
                    "IncomingMail",
                    "hostaccess",
                    "senderauth",
                    "ACCEPTED",
                    "--spf",
                    "on",
                    "--spf-conformance",
                    "spf-only",
                    "--dkim",
                    "off",
                    "--dmarc",
                    "on",
                    "--dmarc-profile",
                    "DEFAULT"
                ]),
                w(&["smtpcallahead", "policy", "IncomingMail", "ACCEPTED", "off"]),
                w(&["bvconfig", "untagged", "IncomingMail", "ACCEPTED", "valid"]),
            ]
        );
        let same = form(&[("spf_conformance", "spf-only"), ("callahead", "on")]);
        assert_eq!(
            security_words("IncomingMail", "ACCEPTED", &same, &factory).unwrap_err(),
            "Nothing to change."
        );
    }
}

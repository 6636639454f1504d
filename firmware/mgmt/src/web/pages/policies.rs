//! Mail Policies: Incoming Mail Policies and Outgoing Mail Policies, as
//! AsyncOS shows them — the policy table (custom policies in matching
//! order, the Default Policy last), adding a policy with its senders and
//! recipients, editing its members, its order, deleting it, and each
//! incoming policy's Threat Defense Connector page (Use Global Settings /
//! Use custom Message Intake Address / No).
//!
//! Every change is the `policyconfig` command the CLI runs (docs/cli.md,
//! "policyconfig"); the forms only turn fields into its words.

use crate::web::fields::field;
use axum::Router;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::{get, post};
use breakwater_config::{
    Config, DEFAULT_POLICY, MailPolicy, MailPolicyTable, MemberSide, PolicySettings, ThreatDefense,
};
use maud::{Markup, html};

use crate::web::{Admin, Change, State};

/// Which table a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Incoming,
    Outgoing,
}

impl Direction {
    /// The word `policyconfig` takes.
    pub fn word(self) -> &'static str {
        match self {
            Direction::Incoming => "incoming",
            Direction::Outgoing => "outgoing",
        }
    }

    /// The page's path (`layout::MENUS`).
    pub fn base(self) -> &'static str {
        match self {
            Direction::Incoming => "/mail-policies/incoming",
            Direction::Outgoing => "/mail-policies/outgoing",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Direction::Incoming => "Incoming Mail Policies",
            Direction::Outgoing => "Outgoing Mail Policies",
        }
    }

    fn table(self, cfg: &Config) -> &MailPolicyTable {
        match self {
            Direction::Incoming => &cfg.incoming_policies,
            Direction::Outgoing => &cfg.outgoing_policies,
        }
    }
}

pub fn routes() -> Router<State> {
    let mut router = Router::new();
    for dir in [Direction::Incoming, Direction::Outgoing] {
        let b = dir.base();
        router = router
            .route(b, get(move |a: Admin| table_page(a, dir)))
            .route(
                &format!("{b}/new"),
                get(move |a: Admin| new_page(a, dir)).post(move |c: Change| add(c, dir)),
            )
            .route(
                &format!("{b}/{{policy}}"),
                get(move |a: Admin, Path(p): Path<String>| edit_page(a, dir, p)),
            )
            .route(
                &format!("{b}/{{policy}}/members/add"),
                post(move |Path(p): Path<String>, c: Change| add_members(c, dir, p)),
            )
            .route(
                &format!("{b}/{{policy}}/members/delete"),
                post(move |Path(p): Path<String>, c: Change| delete_member(c, dir, p)),
            )
            .route(
                &format!("{b}/{{policy}}/move"),
                post(move |Path(p): Path<String>, c: Change| move_policy(c, dir, p)),
            )
            .route(
                &format!("{b}/{{policy}}/delete"),
                post(move |Path(p): Path<String>, c: Change| delete(c, dir, p)),
            );
    }
    // Threat Defense copies incoming mail only (AsyncOS has the column on
    // the incoming table alone).
    router.route(
        "/mail-policies/incoming/{policy}/threat-defense",
        get(threat_defense_page).post(threat_defense),
    )
}

use crate::web::fields::segment;

/// Members typed in a box: separated by commas, spaces or lines, as
/// AsyncOS's "Following Senders" field takes them.
fn member_list(text: &str) -> Vec<&str> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|m| !m.is_empty())
        .collect()
}

/// `sender a,b recipient c` from the Following Senders / Following
/// Recipients fields; an error when both are empty.
fn member_words(form: &[(String, String)]) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    for (side, name) in [
        (MemberSide::Sender, "senders"),
        (MemberSide::Recipient, "recipients"),
    ] {
        let members = member_list(field(form, name).unwrap_or(""));
        if !members.is_empty() {
            words.push(side.word().to_string());
            words.push(members.join(","));
        }
    }
    if words.is_empty() {
        return Err("Enter at least one sender or recipient.".into());
    }
    Ok(words)
}

/// Add Policy: `policyconfig new <dir> <name> sender ... recipient ...`.
pub fn new_policy_words(dir: Direction, form: &[(String, String)]) -> Result<Vec<String>, String> {
    let name = field(form, "policy_name").ok_or("Enter a Policy Name.")?;
    let mut words = vec![
        "policyconfig".to_string(),
        "new".into(),
        dir.word().into(),
        name.into(),
    ];
    words.extend(member_words(form)?);
    Ok(words)
}

/// Add members: `policyconfig edit <dir> <policy> members add sender ...`.
pub fn add_members_words(
    dir: Direction,
    policy: &str,
    form: &[(String, String)],
) -> Result<Vec<String>, String> {
    let mut words = edit_words(dir, policy, &["members", "add"]);
    words.extend(member_words(form)?);
    Ok(words)
}

/// Delete one member: `policyconfig edit <dir> <policy> members delete
/// sender|recipient <member>`.
pub fn delete_member_words(
    dir: Direction,
    policy: &str,
    form: &[(String, String)],
) -> Result<Vec<String>, String> {
    let side = field(form, "side")
        .and_then(MemberSide::parse)
        .ok_or("Choose sender or recipient.")?;
    let member = field(form, "member").ok_or("Choose a member to delete.")?;
    Ok(edit_words(
        dir,
        policy,
        &["members", "delete", side.word(), member],
    ))
}

/// Order: `policyconfig move <dir> <policy> <position>`.
pub fn move_words(
    dir: Direction,
    policy: &str,
    form: &[(String, String)],
) -> Result<Vec<String>, String> {
    let position = field(form, "position").ok_or("Choose the new position.")?;
    Ok(vec![
        "policyconfig".into(),
        "move".into(),
        dir.word().into(),
        policy.into(),
        position.into(),
    ])
}

/// The per-policy Threat Defense Connector page: `policyconfig edit
/// incoming <policy> threatdefense global|custom <address>|no|default`.
pub fn threat_defense_words(
    policy: &str,
    form: &[(String, String)],
) -> Result<Vec<String>, String> {
    let choice = match field(form, "threat_defense") {
        Some("global") => vec!["global"],
        Some("no") => vec!["no"],
        Some("default") => vec!["default"],
        Some("custom") => {
            let address =
                field(form, "intake_address").ok_or("Enter the custom Message Intake Address.")?;
            vec!["custom", address]
        }
        _ => {
            return Err(
                "Choose Use Global Settings, Use custom Message Intake Address, No or Use Default Settings.".into(),
            );
        }
    };
    let mut tail = vec!["threatdefense"];
    tail.extend(choice);
    Ok(edit_words(Direction::Incoming, policy, &tail))
}

fn edit_words(dir: Direction, policy: &str, tail: &[&str]) -> Vec<String> {
    let mut words = vec![
        "policyconfig".to_string(),
        "edit".into(),
        dir.word().into(),
        policy.into(),
    ];
    words.extend(tail.iter().map(|w| (*w).to_string()));
    words
}

/// The Threat Defense Connector column as AsyncOS words it (`(use
/// default)`, `Enabled`, `Disabled`: seed 004's final view), with a custom
/// policy's own intake address after `Enabled` so the list tells the two
/// kinds of copies apart.
pub fn threat_defense_label(td: &ThreatDefense) -> String {
    match td {
        ThreatDefense::Custom(address) => format!("{} ({address})", td.column()),
        other => other.column().into(),
    }
}

/// The Anti-Spam column (`(use default)`, `rspamd`, `Disabled`), linking
/// to the policy's Anti-Spam page (pages/antispam.rs).
fn antispam_cell(cfg: &Config, dir: Direction, policy: &str) -> Markup {
    let d = match dir {
        Direction::Incoming => breakwater_config::antispam::Direction::Incoming,
        Direction::Outgoing => breakwater_config::antispam::Direction::Outgoing,
    };
    html! {
        td id={ "antispam-" (policy) } {
            a href=(super::antispam::policy_link(dir.word(), policy)) {
                (cfg.antispam.own(d, policy).column())
            }
        }
    }
}

/// The Anti-Virus column (`(use default)`, `ClamAV`, `Disabled`, `Not
/// Available`), linking to the policy's Anti-Virus page
/// (pages/antivirus.rs).
fn antivirus_cell(cfg: &Config, dir: Direction, policy: &str) -> Markup {
    let d = match dir {
        Direction::Incoming => breakwater_config::antivirus::Direction::Incoming,
        Direction::Outgoing => breakwater_config::antivirus::Direction::Outgoing,
    };
    html! {
        td id={ "antivirus-" (policy) } {
            a href=(super::antivirus::policy_link(dir.word(), policy)) {
                (cfg.antivirus.column(d, policy))
            }
        }
    }
}

fn members_text(p: &MailPolicy, side: MemberSide) -> String {
    p.members
        .iter()
        .filter(|m| m.side == side)
        .map(|m| m.pattern.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the words a pure builder made, or shows its error, and goes back.
async fn run_built(admin: &Admin, words: Result<Vec<String>, String>, to: &str) -> Response {
    match words {
        Ok(words) => admin.change(words, None, to).await,
        Err(e) => {
            admin.flash(false, e);
            axum::response::IntoResponse::into_response(axum::response::Redirect::to(to))
        }
    }
}

fn error_page(admin: &Admin, title: &str, e: &str) -> Response {
    admin.page(title, html! { div.flash.error { (e) } })
}

async fn table_page(admin: Admin, dir: Direction) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return error_page(&admin, dir.title(), &e),
    };
    let t = dir.table(&cfg);
    let incoming = dir == Direction::Incoming;
    let tdc = |name: &str, s: &PolicySettings| -> Markup {
        html! {
            td id={ "tdc-" (name) } {
                a href={ "/mail-policies/incoming/" (segment(name)) "/threat-defense" } {
                    (threat_defense_label(&s.threat_defense))
                }
            }
        }
    };
    let body = html! {
        @if incoming && !cfg.threat_defense.enabled {
            p.muted id="tdc-global-disabled" {
                "The Threat Defense Connector is disabled in "
                a href="/security/threat-defense" { "Security Services > Threat Defense Connector Settings" }
                ": no policy sends copies until it is enabled there."
            }
        }
        h2 { "Policies" }
        @if admin.can_change() {
            p { a href={ (dir.base()) "/new" } id="add-policy" { button type="button" { "Add Policy..." } } }
        }
        table.grid id="policies" {
            tr {
                th { "Order" }
                th { "Policy Name" }
                th { "Senders" }
                th { "Recipients" }
                th { "Anti-Spam" }
                th { "Anti-Virus" }
                @if incoming { th { "Threat Defense Connector" } }
                @if admin.can_change() { th { "Delete" } }
            }
            @for (i, p) in t.policies.iter().enumerate() {
                tr id={ "policy-" (p.name) } {
                    td { (i + 1) }
                    td { a href={ (dir.base()) "/" (segment(&p.name)) } { (p.name) } }
                    td { (members_text(p, MemberSide::Sender)) }
                    td { (members_text(p, MemberSide::Recipient)) }
                    (antispam_cell(&cfg, dir, &p.name))
                    (antivirus_cell(&cfg, dir, &p.name))
                    @if incoming { (tdc(&p.name, &p.settings)) }
                    @if admin.can_change() {
                        td {
                            form.inline method="post" action={ (dir.base()) "/" (segment(&p.name)) "/delete" } {
                                (admin.csrf())
                                button.danger type="submit" id={ "delete-" (p.name) } { "Delete" }
                            }
                        }
                    }
                }
            }
            tr id={ "policy-" (DEFAULT_POLICY) } {
                td {}
                td { a href={ (dir.base()) "/" (DEFAULT_POLICY) } { "Default Policy" } }
                td.muted colspan="2" { "(all other senders and recipients)" }
                (antispam_cell(&cfg, dir, DEFAULT_POLICY))
                (antivirus_cell(&cfg, dir, DEFAULT_POLICY))
                @if incoming { (tdc(DEFAULT_POLICY, &t.default)) }
                @if admin.can_change() { td {} }
            }
        }
    };
    admin.page(dir.title(), body)
}

fn members_fields() -> Markup {
    html! {
        tr {
            th { label for="senders" { "Following Senders:" } }
            td {
                textarea id="senders" name="senders" rows="2" {}
                br; span.muted { "Separate with commas: user@example.com, user@, example.com, .example.com" }
            }
        }
        tr {
            th { label for="recipients" { "Following Recipients:" } }
            td { textarea id="recipients" name="recipients" rows="2" {} }
        }
    }
}

async fn new_page(admin: Admin, dir: Direction) -> Response {
    let body = html! {
        @if admin.can_change() {
            form method="post" action={ (dir.base()) "/new" } {
                (admin.csrf())
                table.form {
                    tr {
                        th { label for="policy_name" { "Policy Name:" } }
                        td { input type="text" id="policy_name" name="policy_name" maxlength="64"; }
                    }
                    (members_fields())
                    tr { th {} td {
                        a href=(dir.base()) { button type="button" id="cancel" { "Cancel" } } " "
                        button.primary type="submit" id="submit" { "Submit" }
                    } }
                }
            }
        } @else {
            p { "Your role may not change the configuration." }
        }
    };
    admin.page(&format!("{}: Add Policy", dir.title()), body)
}

async fn add(change: Change, dir: Direction) -> Response {
    let words = new_policy_words(dir, &change.fields);
    run_built(&change.admin, words, dir.base()).await
}

async fn edit_page(admin: Admin, dir: Direction, policy: String) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return error_page(&admin, dir.title(), &e),
    };
    let t = dir.table(&cfg);
    let here = format!("{}/{}", dir.base(), segment(&policy));
    if policy.eq_ignore_ascii_case(DEFAULT_POLICY) {
        let body = html! {
            p { "The Default Policy applies to every sender and recipient no other policy matches; it is always last and has no members." }
            @if dir == Direction::Incoming {
                table.form {
                    tr { th { "Threat Defense Connector:" } td {
                        a href={ "/mail-policies/incoming/" (DEFAULT_POLICY) "/threat-defense" } id="tdc-DEFAULT" {
                            (threat_defense_label(&t.default.threat_defense))
                        }
                    } }
                }
            }
            p { a href=(dir.base()) { "Back to " (dir.title()) } }
        };
        return admin.page(&format!("{}: Default Policy", dir.title()), body);
    }
    let Some((index, p)) = t
        .policies
        .iter()
        .enumerate()
        .find(|(_, p)| p.name.eq_ignore_ascii_case(&policy))
    else {
        return error_page(
            &admin,
            dir.title(),
            &format!("There is no mail policy named '{policy}'."),
        );
    };
    let can = admin.can_change();
    let body = html! {
        table.form {
            tr { th { "Policy Name:" } td { b id="policy_name" { (p.name) } } }
            tr { th { "Order:" } td { (index + 1) " of " (t.policies.len()) } }
            @if dir == Direction::Incoming {
                tr { th { "Threat Defense Connector:" } td {
                    a href={ "/mail-policies/incoming/" (segment(&p.name)) "/threat-defense" } id={ "tdc-" (p.name) } {
                        (threat_defense_label(&p.settings.threat_defense))
                    }
                } }
            }
        }
        h2 { "Members" }
        table.grid id="members" {
            tr { th { "Sender / Recipient" } th { "Member" } @if can { th { "Delete" } } }
            @for m in &p.members {
                tr {
                    td { (if m.side == MemberSide::Sender { "Sender" } else { "Recipient" }) }
                    td { (m.pattern) }
                    @if can {
                        td {
                            form.inline method="post" action={ (here) "/members/delete" } {
                                (admin.csrf())
                                input type="hidden" name="side" value=(m.side.word());
                                input type="hidden" name="member" value=(m.pattern);
                                button.danger type="submit" { "Delete" }
                            }
                        }
                    }
                }
            }
        }
        @if can {
            h2 { "Add Members" }
            form method="post" action={ (here) "/members/add" } {
                (admin.csrf())
                table.form {
                    (members_fields())
                    tr { th {} td { button.primary type="submit" id="add-members" { "Submit" } } }
                }
            }
            h2 { "Order" }
            form method="post" action={ (here) "/move" } {
                (admin.csrf())
                label for="position" { "Move to position: " }
                select id="position" name="position" {
                    @for n in 1..=t.policies.len() {
                        option value=(n) selected[n == index + 1] { (n) }
                    }
                }
                " "
                button type="submit" id="move" { "Move" }
            }
            h2 { "Delete" }
            form method="post" action={ (here) "/delete" } {
                (admin.csrf())
                button.danger type="submit" id="delete" { "Delete" }
            }
        }
        p { a href=(dir.base()) { "Back to " (dir.title()) } }
    };
    admin.page(&format!("{}: {}", dir.title(), p.name), body)
}

async fn add_members(change: Change, dir: Direction, policy: String) -> Response {
    let words = add_members_words(dir, &policy, &change.fields);
    let to = format!("{}/{}", dir.base(), segment(&policy));
    run_built(&change.admin, words, &to).await
}

async fn delete_member(change: Change, dir: Direction, policy: String) -> Response {
    let words = delete_member_words(dir, &policy, &change.fields);
    let to = format!("{}/{}", dir.base(), segment(&policy));
    run_built(&change.admin, words, &to).await
}

async fn move_policy(change: Change, dir: Direction, policy: String) -> Response {
    let words = move_words(dir, &policy, &change.fields);
    run_built(&change.admin, words, dir.base()).await
}

async fn delete(change: Change, dir: Direction, policy: String) -> Response {
    let words = vec![
        "policyconfig".into(),
        "delete".into(),
        dir.word().into(),
        policy,
    ];
    change.admin.change(words, None, dir.base()).await
}

/// "Mail Policies: Threat Defense Connector" for one incoming policy.
async fn threat_defense_page(admin: Admin, Path(policy): Path<String>) -> Response {
    const TITLE: &str = "Mail Policies: Threat Defense Connector";
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return error_page(&admin, TITLE, &e),
    };
    let t = &cfg.incoming_policies;
    let Some(settings) = t.settings(&policy) else {
        return error_page(
            &admin,
            TITLE,
            &format!("There is no incoming mail policy named '{policy}'."),
        );
    };
    let name = t
        .policies
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(&policy))
        .map_or(DEFAULT_POLICY, |p| p.name.as_str());
    let td = &settings.threat_defense;
    let global = cfg
        .threat_defense
        .intake_address
        .as_deref()
        .unwrap_or("not set");
    let custom = match td {
        ThreatDefense::Custom(a) => a.as_str(),
        _ => "",
    };
    let can = admin.can_change();
    let body = html! {
        @if !cfg.threat_defense.enabled {
            p.muted id="tdc-global-disabled" {
                "The Threat Defense Connector is disabled in "
                a href="/security/threat-defense" { "Threat Defense Connector Settings" }
                ": this setting takes effect once it is enabled there."
            }
        }
        form method="post" action={ "/mail-policies/incoming/" (segment(name)) "/threat-defense" } {
            (admin.csrf())
            h2 { "Threat Defense Connector Settings" }
            table.form {
                tr { th { "Policy:" } td { b id="policy" { (name) } } }
                tr {
                    th { "Enable Threat Defense Connector for This Policy:" }
                    td {
                        label {
                            input type="radio" id="threat_defense_global" name="threat_defense" value="global"
                                checked[*td == ThreatDefense::Global] disabled[!can];
                            " Use Global Settings (" (global) ")"
                        }
                        br;
                        label {
                            input type="radio" id="threat_defense_custom" name="threat_defense" value="custom"
                                checked[matches!(td, ThreatDefense::Custom(_))] disabled[!can];
                            " Use custom Message Intake Address"
                        }
                        br;
                        span { " \u{a0}\u{a0}\u{a0}\u{a0}" label for="intake_address" { "Message Intake Address: " }
                            input type="text" id="intake_address" name="intake_address" value=(custom)
                                size="48" disabled[!can];
                        }
                        br;
                        label {
                            input type="radio" id="threat_defense_no" name="threat_defense" value="no"
                                checked[*td == ThreatDefense::No] disabled[!can];
                            " No"
                        }
                        // AsyncOS offers a custom policy DEFAULT's setting
                        // first; DEFAULT has nothing to inherit from.
                        @if name != DEFAULT_POLICY {
                            br;
                            label {
                                input type="radio" id="threat_defense_default" name="threat_defense" value="default"
                                    checked[*td == ThreatDefense::UseDefault] disabled[!can];
                                " Use Default Settings (" (threat_defense_label(&t.default.threat_defense)) ")"
                            }
                        }
                    }
                }
                tr { th {} td {
                    a href="/mail-policies/incoming" { button type="button" id="cancel" { "Cancel" } } " "
                    @if can { button.primary type="submit" id="submit" { "Submit" } }
                } }
            }
        }
    };
    admin.page(TITLE, body)
}

async fn threat_defense(Path(policy): Path<String>, change: Change) -> Response {
    let words = threat_defense_words(&policy, &change.fields);
    run_built(&change.admin, words, "/mail-policies/incoming").await
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::web::fields::fields as form;

    #[test]
    fn add_policy_becomes_policyconfig_new_with_both_sides() {
        let f = form(&[
            ("csrf", "x"),
            ("policy_name", " SALES "),
            ("senders", ""),
            ("recipients", "sales@, .sales.example.com\nboss@example.com"),
        ]);
        assert_eq!(
            new_policy_words(Direction::Incoming, &f).unwrap(),
            [
                "policyconfig",
                "new",
                "incoming",
                "SALES",
                "recipient",
                "sales@,.sales.example.com,boss@example.com"
            ]
        );
        let f = form(&[
            ("policy_name", "PARTNER"),
            ("senders", ".partner.example"),
            ("recipients", "x@"),
        ]);
        assert_eq!(
            new_policy_words(Direction::Outgoing, &f).unwrap(),
            [
                "policyconfig",
                "new",
                "outgoing",
                "PARTNER",
                "sender",
                ".partner.example",
                "recipient",
                "x@"
            ]
        );
    }

    #[test]
    fn a_policy_needs_a_name_and_a_member() {
        assert!(new_policy_words(Direction::Incoming, &form(&[("senders", "a@")])).is_err());
        assert!(new_policy_words(Direction::Incoming, &form(&[("policy_name", "A")])).is_err());
    }

    #[test]
    fn member_edits_order_and_delete_are_the_cli_words() {
        assert_eq!(
            add_members_words(
                Direction::Incoming,
                "SALES",
                &form(&[("senders", "a@b.c d@")])
            )
            .unwrap(),
            [
                "policyconfig",
                "edit",
                "incoming",
                "SALES",
                "members",
                "add",
                "sender",
                "a@b.c,d@"
            ]
        );
        assert_eq!(
            delete_member_words(
                Direction::Outgoing,
                "SALES",
                &form(&[("side", "recipient"), ("member", "sales@")])
            )
            .unwrap(),
            [
                "policyconfig",
                "edit",
                "outgoing",
                "SALES",
                "members",
                "delete",
                "recipient",
                "sales@"
            ]
        );
        assert!(delete_member_words(Direction::Outgoing, "S", &form(&[("member", "x")])).is_err());
        assert_eq!(
            move_words(Direction::Incoming, "SALES", &form(&[("position", "2")])).unwrap(),
            ["policyconfig", "move", "incoming", "SALES", "2"]
        );
    }

    #[test]
    fn the_four_threat_defense_choices() {
        assert_eq!(
            threat_defense_words("DEFAULT", &form(&[("threat_defense", "global")])).unwrap(),
            [
                "policyconfig",
                "edit",
                "incoming",
                "DEFAULT",
                "threatdefense",
                "global"
            ]
        );
        assert_eq!(
            threat_defense_words(
                "SALES",
                &form(&[
                    ("threat_defense", "custom"),
                    ("intake_address", " 15e1c36b@beta.cmd.cisco.com ")
                ])
            )
            .unwrap(),
            [
                "policyconfig",
                "edit",
                "incoming",
                "SALES",
                "threatdefense",
                "custom",
                "15e1c36b@beta.cmd.cisco.com"
            ]
        );
        assert_eq!(
            threat_defense_words("SALES", &form(&[("threat_defense", "default")]))
                .unwrap()
                .last()
                .map(String::as_str),
            Some("default")
        );
        // The address field is ignored unless the custom choice is made.
        assert_eq!(
            threat_defense_words(
                "SALES",
                &form(&[("threat_defense", "no"), ("intake_address", "a@b.c")])
            )
            .unwrap()
            .last()
            .map(String::as_str),
            Some("no")
        );
        assert!(threat_defense_words("S", &form(&[("threat_defense", "custom")])).is_err());
        assert!(threat_defense_words("S", &form(&[])).is_err());
    }

    #[test]
    fn the_routes_of_both_tables_and_the_threat_defense_page_build() {
        // axum checks for conflicting routes when they are added: at
        // startup, so here.
        let _ = Router::<State>::new()
            .merge(routes())
            .merge(super::super::threat_defense::routes())
            .merge(super::super::filters::routes());
    }

    #[test]
    fn the_column_says_what_each_policy_does() {
        assert_eq!(threat_defense_label(&ThreatDefense::Global), "Enabled");
        assert_eq!(threat_defense_label(&ThreatDefense::No), "Disabled");
        assert_eq!(
            threat_defense_label(&ThreatDefense::UseDefault),
            "(use default)"
        );
        assert_eq!(
            threat_defense_label(&ThreatDefense::Custom("t@x.example".into())),
            "Enabled (t@x.example)"
        );
        assert_eq!(segment("SALES-1_a"), "SALES-1_a");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
    }
}

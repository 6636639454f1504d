//! Clusters on the web (issue 20, docs/decisions/0020): on every
//! configuration page of a clustered appliance, AsyncOS's bar under the
//! title — `Mode — Cluster: Hosted_Cluster` with **Change Mode...** and
//! **Centralized Management Options** (where the page's settings are
//! defined, with "Override at this machine / group" and "Use the
//! cluster's settings") — and the Cluster page (System Administration >
//! Cluster).
//!
//! As everywhere in the web UI, these are the CLI's commands run in the
//! administrator's session: `clustermode` (the mode, per user, shared
//! with the console), `clusterconfig`, `clusterconfig levels COMMAND`,
//! `clusterconfig override|inherit SECTION group|machine`, `clustercheck`.
//! Their answers are read with the console's parsers
//! ([`breakwater_console::menus_cluster`]), so both read the same texts.
//! No JavaScript: the two controls are `<details>` panels holding forms.

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use breakwater_console::menus_cluster::{
    Level, LevelKind, Membership, SectionLevel, parse_levels, parse_mode,
};
use maud::{Markup, html};

use super::{Admin, Change, State, layout};

/// System Administration > Cluster.
pub const CLUSTER_PATH: &str = "/system-administration/cluster";

/// Pages that show the mode without settings of their own: the Cluster
/// page, and Commit Changes and Configuration History (`commit` and
/// `commitlog` act at the mode's level).
pub const MODE_PAGES: &[&str] = &[CLUSTER_PATH, "/commit", "/system/history"];

/// Each configuration page (by path prefix) and the CLI command that
/// edits its settings, for `clusterconfig levels COMMAND`.
pub const PAGE_COMMANDS: &[(&str, &str)] = &[
    ("/mail-policies/incoming", "policyconfig"),
    ("/mail-policies/outgoing", "policyconfig"),
    ("/mail-policies/hat", "listenerconfig"),
    ("/mail-policies/mail-flow", "listenerconfig"),
    ("/mail-policies/rat", "listenerconfig"),
    ("/mail-policies/destination-controls", "destconfig"),
    ("/mail-policies/filters", "filters"),
    ("/mail-policies/signing", "domainkeysconfig"),
    ("/mail-policies/dmarc", "dmarcconfig"),
    ("/mail-policies/bounce-verification", "bvconfig"),
    ("/security/antispam", "antispamconfig"),
    ("/security/antivirus", "antivirusconfig"),
    ("/security/threat-defense", "threatdefenseconfig"),
    ("/network/listeners", "listenerconfig"),
    ("/network/smtp-routes", "smtproutes"),
    ("/network/dns", "dnsconfig"),
    ("/network/bounce-profiles", "bounceconfig"),
    ("/network/smtp-call-ahead", "smtpcallahead"),
    ("/network/certificates", "certconfig"),
    ("/system-administration/ssl-configuration", "sslconfig"),
    ("/system-administration/alerts", "alertconfig"),
    ("/system-administration/time-settings", "ntpconfig"),
    ("/system-administration/log-subscriptions", "logconfig"),
];

/// The command whose settings the page at `path` edits.
pub fn command_of(path: &str) -> Option<&'static str> {
    PAGE_COMMANDS
        .iter()
        .find(|(prefix, _)| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
        .map(|(_, command)| *command)
}

/// What the bar shows: the user's mode, this machine's place, and where
/// the page's settings are defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    pub mode: Level,
    pub me: Membership,
    /// The command the page's settings belong to (`None`: the Cluster page).
    pub command: Option<&'static str>,
    /// The sections of `command` and the level that defines each.
    pub rows: Vec<SectionLevel>,
}

impl ClusterView {
    /// From the answers of `clustermode`, `clusterconfig` and
    /// `clusterconfig levels COMMAND`; `None` when standalone.
    pub fn parse(
        mode: &str,
        show: &str,
        levels: Option<&str>,
        command: Option<&'static str>,
    ) -> Option<Self> {
        Some(Self {
            mode: parse_mode(mode)?,
            me: Membership::parse(show)?,
            command,
            rows: levels.map(parse_levels).unwrap_or_default(),
        })
    }
}

/// The bar for the page at `path` (a GET of a configuration page or of
/// one of [`MODE_PAGES`]), asked in `admin`'s session; `None` when the
/// appliance is standalone (the commands answer an error), so standalone
/// pages cost one request more than before.
pub async fn view(admin: &Admin, path: &str) -> Option<ClusterView> {
    let command = command_of(path);
    if command.is_none() && !MODE_PAGES.contains(&path) {
        return None;
    }
    let mode = admin.run(&["clustermode"]).await.ok()?;
    let show = admin.run(&["clusterconfig"]).await.ok()?;
    let levels = match command {
        Some(c) => admin.run(&["clusterconfig", "levels", c]).await.ok(),
        None => None,
    };
    ClusterView::parse(&mode, &show, levels.as_deref(), command)
}

/// `Cluster: Hosted_Cluster`, as the seeds' bar shows a mode.
fn mode_label(level: &Level) -> String {
    let kind = match level.kind {
        LevelKind::Cluster => "Cluster",
        LevelKind::Group => "Group",
        LevelKind::Machine => "Machine",
    };
    format!("{kind}: {}", level.name)
}

/// The value of a mode in the Change Mode form.
fn mode_value(level: &Level) -> String {
    match level.kind {
        LevelKind::Cluster => "cluster".into(),
        kind => format!("{}:{}", kind.word(), level.name),
    }
}

/// The `clustermode` words for a Change Mode value.
pub fn mode_command(value: &str) -> Result<Vec<String>, String> {
    let words = match value.split_once(':') {
        None if value == "cluster" => vec!["clustermode".into(), "cluster".into()],
        Some((kind @ ("group" | "machine"), name)) if !name.trim().is_empty() => {
            vec!["clustermode".into(), kind.into(), name.trim().into()]
        }
        _ => return Err(format!("'{value}' is not a mode.")),
    };
    Ok(words)
}

/// The `clusterconfig override|inherit SECTION LEVEL` words of an action.
pub fn level_command(verb: &str, section: &str, level: &str) -> Result<Vec<String>, String> {
    if !matches!(verb, "override" | "inherit") || !matches!(level, "group" | "machine") {
        return Err("Choose group or machine.".into());
    }
    if section.is_empty()
        || !section
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(format!("'{section}' is not a section."));
    }
    Ok(vec![
        "clusterconfig".into(),
        verb.into(),
        section.into(),
        level.into(),
    ])
}

/// Where to go back after an action: a path of this site, else the
/// Cluster page (never another site: the field comes from the browser).
pub fn back_to(back: Option<&str>) -> &str {
    match back {
        Some(b) if b.starts_with('/') && !b.starts_with("//") && !b.contains('\\') => b,
        _ => CLUSTER_PATH,
    }
}

/// The actions on one section, as (verb, level, label).
fn actions(row: &SectionLevel, me: &Membership) -> Vec<(&'static str, &'static str, String)> {
    if row.machine_setting {
        return Vec::new();
    }
    match row.defined_in.kind {
        LevelKind::Cluster => vec![
            (
                "override",
                "group",
                format!("Override at this group ({})", me.group),
            ),
            (
                "override",
                "machine",
                format!("Override at this machine ({})", me.machine),
            ),
        ],
        LevelKind::Group => vec![
            (
                "override",
                "machine",
                format!("Override at this machine ({})", me.machine),
            ),
            ("inherit", "group", "Use the cluster's settings".into()),
        ],
        LevelKind::Machine => vec![(
            "inherit",
            "machine",
            "Use the group's or the cluster's settings".into(),
        )],
    }
}

/// The bar under the title: the mode, Change Mode..., and Centralized
/// Management Options. `path` is where the forms come back to.
pub fn mode_bar(view: &ClusterView, csrf: &str, path: &str, can_change: bool) -> Markup {
    let levels =
        [LevelKind::Cluster, LevelKind::Group, LevelKind::Machine].map(|k| view.me.level(k));
    let elsewhere: Vec<&SectionLevel> = view
        .rows
        .iter()
        .filter(|r| r.defined_in != view.mode)
        .collect();
    html! {
        div.cluster-bar id="cluster-bar" {
            span.mode id="cluster-mode" { "Mode \u{2014} " b { (mode_label(&view.mode)) } }
            details.change-mode {
                summary id="change-mode" { "Change Mode..." }
                form method="post" action="/cluster/mode" {
                    (layout::csrf_field(csrf))
                    input type="hidden" name="back" value=(path);
                    select name="mode" id="mode-select" {
                        @for l in &levels {
                            option value=(mode_value(l)) selected[*l == view.mode] { (mode_label(l)) }
                        }
                    }
                    " "
                    button type="submit" id="change-mode-submit" { "Change Mode" }
                }
            }
            @if view.command.is_some() {
                details.cmo {
                    summary id="centralized-management" { "Centralized Management Options" }
                    @if view.rows.is_empty() {
                        p.muted { "The cluster did not say where these settings are defined." }
                    } @else {
                        table.grid id="cluster-levels" {
                            tr { th { "Settings" } th { "Defined in" } th { "" } }
                            @for row in &view.rows {
                                tr {
                                    td { (row.section) }
                                    td.defined-in {
                                        (row.defined_in.to_string())
                                        @if row.machine_setting { " (machine setting)" }
                                    }
                                    td {
                                        @if can_change {
                                            @for (verb, level, label) in actions(row, &view.me) {
                                                form.inline method="post" action={ "/cluster/" (verb) } {
                                                    (layout::csrf_field(csrf))
                                                    input type="hidden" name="back" value=(path);
                                                    input type="hidden" name="section" value=(row.section);
                                                    input type="hidden" name="level" value=(level);
                                                    button type="submit" id={ (verb) "-" (row.section) "-" (level) } { (label) }
                                                }
                                                " "
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !elsewhere.is_empty() {
                p.cluster-note id="cluster-note" {
                    @let first = &elsewhere[0];
                    @if first.machine_setting {
                        "These are machine settings: edit them in " (first.defined_in.to_string()) " mode."
                    } @else {
                        "These settings are defined in " (first.defined_in.to_string())
                        ", not in " (view.mode.to_string())
                        ": change the mode to edit them, or override them here."
                    }
                }
            }
        }
    }
}

pub fn routes() -> Router<State> {
    Router::new()
        .route(CLUSTER_PATH, get(cluster_page))
        .route("/cluster/mode", post(change_mode))
        .route("/cluster/override", post(override_section))
        .route("/cluster/inherit", post(inherit_section))
        .route("/cluster/create", post(create))
        .route("/cluster/join", post(join))
        .route("/cluster/addgroup", post(addgroup))
}

async fn cluster_page(admin: Admin) -> Response {
    let show = admin.run(&["clusterconfig"]).await.unwrap_or_else(|e| e);
    let clustered = admin.cluster.is_some();
    let can = admin.can_change();
    let (list, check, levels) = if clustered {
        (
            admin
                .run(&["clusterconfig", "list"])
                .await
                .unwrap_or_else(|e| e),
            admin.run(&["clustercheck"]).await.unwrap_or_else(|e| e),
            admin
                .run(&["clusterconfig", "levels"])
                .await
                .unwrap_or_else(|e| e),
        )
    } else {
        Default::default()
    };
    let body = html! {
        h2 { "Cluster" }
        div id="cluster-show" { (layout::output(&show)) }
        @if clustered {
            h2 { "Machines" }
            div id="cluster-list" { (layout::output(&list)) }
            h2 { "Configuration check" }
            div id="cluster-check" { (layout::output(&check)) }
            h2 { "Where the settings are defined" }
            div id="cluster-all-levels" { (layout::output(&levels)) }
            @if can {
                h2 { "Add a group" }
                form method="post" action="/cluster/addgroup" {
                    (admin.csrf())
                    input type="text" name="group" id="group" placeholder="Group name";
                    " " button type="submit" id="addgroup" { "Add Group" }
                }
            }
        } @else if can {
            h2 { "Create a cluster" }
            form method="post" action="/cluster/create" {
                (admin.csrf())
                table.form {
                    tr { th { label for="name" { "Cluster name:" } } td { input type="text" id="name" name="name"; } }
                    tr { th { label for="etcd" { "etcd endpoints (https://ADDRESS:2379, comma separated):" } } td { input type="text" id="etcd" name="etcd" size="60"; } }
                    tr { th { label for="ca" { "Certificate authority of etcd:" } } td { input type="text" id="ca" name="ca"; } }
                    tr { th { label for="certificate" { "Client certificate:" } } td { input type="text" id="certificate" name="certificate"; } }
                    tr { th { label for="group" { "Group:" } } td { input type="text" id="group" name="group" value="Main_Group"; } }
                    tr { th {} td { button.primary type="submit" id="create" { "Create Cluster" } } }
                }
            }
            h2 { "Join a cluster" }
            form method="post" action="/cluster/join" {
                (admin.csrf())
                table.form {
                    tr { th { label for="token" { "Join token (clusterconfig token on a member):" } } td { textarea id="token" name="token" rows="3" {} } }
                    tr { th { label for="join-certificate" { "Client certificate:" } } td { input type="text" id="join-certificate" name="certificate"; } }
                    tr { th { label for="join-group" { "Group:" } } td { input type="text" id="join-group" name="group" value="Main_Group"; } }
                    tr { th {} td { button.primary type="submit" id="join" { "Join Cluster" } } }
                }
            }
        }
    };
    admin.page("Cluster", body)
}

fn refuse(admin: &Admin, text: String, back: &str) -> Response {
    admin.flash(false, text);
    Redirect::to(back).into_response()
}

async fn change_mode(change: Change) -> Response {
    let back = back_to(change.get("back")).to_string();
    match mode_command(change.get("mode").unwrap_or("")) {
        Ok(words) => change.admin.change(words, None, &back).await,
        Err(e) => refuse(&change.admin, e, &back),
    }
}

async fn at_level(change: Change, verb: &str) -> Response {
    let back = back_to(change.get("back")).to_string();
    let words = level_command(
        verb,
        change.get("section").unwrap_or(""),
        change.get("level").unwrap_or(""),
    );
    match words {
        Ok(words) => change.admin.change(words, None, &back).await,
        Err(e) => refuse(&change.admin, e, &back),
    }
}

async fn override_section(change: Change) -> Response {
    at_level(change, "override").await
}

async fn inherit_section(change: Change) -> Response {
    at_level(change, "inherit").await
}

/// The words of `clusterconfig create|join` from the form; the control
/// plane checks the values (the CA and certificate exist, https only).
pub fn setup_command(verb: &str, form: &[(String, String)]) -> Result<Vec<String>, String> {
    let get = |name: &str| super::fields::field(form, name);
    let need = |name: &str, what: &str| get(name).ok_or_else(|| format!("Enter the {what}."));
    let mut words: Vec<String> = vec!["clusterconfig".into(), verb.into()];
    if verb == "create" {
        words.push(need("name", "cluster name")?.into());
        words.extend([
            "--etcd".into(),
            need("etcd", "etcd endpoints")?.replace(' ', ""),
        ]);
        words.extend(["--ca".into(), need("ca", "certificate authority")?.into()]);
    } else {
        words.push(need("token", "join token")?.into());
    }
    words.extend([
        "--certificate".into(),
        need("certificate", "client certificate")?.into(),
    ]);
    if let Some(group) = get("group") {
        words.extend(["--group".into(), group.into()]);
    }
    Ok(words)
}

async fn setup(change: Change, verb: &str) -> Response {
    match setup_command(verb, &change.fields) {
        Ok(words) => change.admin.change(words, None, CLUSTER_PATH).await,
        Err(e) => refuse(&change.admin, e, CLUSTER_PATH),
    }
}

async fn create(change: Change) -> Response {
    setup(change, "create").await
}

async fn join(change: Change) -> Response {
    setup(change, "join").await
}

async fn addgroup(change: Change) -> Response {
    let Some(group) = change.get("group").map(str::to_string) else {
        return refuse(
            &change.admin,
            "Enter the group's name.".into(),
            CLUSTER_PATH,
        );
    };
    change
        .admin
        .change(
            vec!["clusterconfig".into(), "addgroup".into(), group],
            None,
            CLUSTER_PATH,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::fields::fields as form;

    const MODE: &str = "Current mode: Cluster Hosted_Cluster\n";
    const SHOW: &str = "Cluster Hosted_Cluster\n\
        Machine: esa1.myesa.com (group Main_Group)\n\
        Mode: Cluster Hosted_Cluster\n\
        etcd: https://127.9.0.1:2379, https://127.9.0.2:2379, https://127.9.0.3:2379\n\
        Connection: connected (revision 42)\n\
        Running: cluster revision 42\n\
        Members: 3 (clusterconfig list)\n";

    fn view(levels: &str) -> ClusterView {
        ClusterView::parse(MODE, SHOW, Some(levels), Some("threatdefenseconfig")).unwrap()
    }

    #[test]
    fn pages_map_to_their_commands() {
        assert_eq!(
            command_of("/security/threat-defense"),
            Some("threatdefenseconfig")
        );
        assert_eq!(
            command_of("/security/threat-defense/edit"),
            Some("threatdefenseconfig")
        );
        assert_eq!(command_of("/mail-policies/filters"), Some("filters"));
        assert_eq!(
            command_of("/network/listeners/InboundMail"),
            Some("listenerconfig")
        );
        assert_eq!(command_of("/monitor/status"), None);
        assert_eq!(command_of("/network/dnsx"), None);
        // Every menu page of the chrome that edits settings has a command.
        for menu in layout::MENUS.iter().filter(|m| m.title != "Monitor") {
            for (name, path) in menu.pages {
                let own = ["/commit", "/system/history", "/passwd", CLUSTER_PATH];
                assert!(own.contains(path) || command_of(path).is_some(), "{name}");
            }
        }
    }

    #[test]
    fn standalone_has_no_bar() {
        assert!(
            ClusterView::parse("This appliance is not part of a cluster.", SHOW, None, None)
                .is_none()
        );
        assert!(
            ClusterView::parse(MODE, "This appliance is not part of a cluster.", None, None)
                .is_none()
        );
    }

    #[test]
    fn the_bar_shows_the_seeds_mode_and_the_levels() {
        let v = view("Section  Defined in\nthreat_defense  Cluster Hosted_Cluster\n");
        let html = mode_bar(&v, "tok", "/security/threat-defense/edit", true).into_string();
        assert!(
            html.contains("Mode \u{2014} <b>Cluster: Hosted_Cluster</b>"),
            "{html}"
        );
        assert!(html.contains("Change Mode..."));
        assert!(html.contains("Centralized Management Options"));
        assert!(
            html.contains(r#"<option value="cluster" selected>Cluster: Hosted_Cluster</option>"#),
            "{html}"
        );
        assert!(html.contains(r#"<option value="group:Main_Group">Group: Main_Group</option>"#));
        assert!(html.contains(
            r#"<option value="machine:esa1.myesa.com">Machine: esa1.myesa.com</option>"#
        ));
        assert!(html.contains("Override at this machine (esa1.myesa.com)"));
        assert!(html.contains("Override at this group (Main_Group)"));
        assert!(html.contains(r#"name="section" value="threat_defense""#));
        assert!(html.contains(r#"name="back" value="/security/threat-defense/edit""#));
        // Defined in the mode's level: no note.
        assert!(!html.contains("cluster-note"));
        // A read-only user sees where, not the buttons.
        let ro = mode_bar(&v, "tok", "/x", false).into_string();
        assert!(!ro.contains("Override at"));
    }

    #[test]
    fn an_override_offers_the_cluster_s_settings_back_and_says_where() {
        let v = view("threat_defense  Machine esa1.myesa.com\n");
        let html = mode_bar(&v, "tok", "/security/threat-defense", true).into_string();
        assert!(
            html.contains("Use the group's or the cluster's settings"),
            "{html}"
        );
        assert!(html.contains(r#"action="/cluster/inherit""#));
        assert!(html.contains(
            "These settings are defined in Machine esa1.myesa.com, not in Cluster Hosted_Cluster"
        ));
        let g = view("threat_defense  Group Main_Group\n");
        let html = mode_bar(&g, "tok", "/p", true).into_string();
        assert!(html.contains("Use the cluster's settings"), "{html}");
        let m = view("interfaces  Machine esa1.myesa.com (machine setting)\n");
        let html = mode_bar(&m, "tok", "/p", true).into_string();
        assert!(!html.contains("/cluster/override") && !html.contains("/cluster/inherit"));
        assert!(html.contains("These are machine settings"));
    }

    #[test]
    fn forms_become_the_cli_s_commands() {
        assert_eq!(mode_command("cluster").unwrap(), ["clustermode", "cluster"]);
        assert_eq!(
            mode_command("group:Main_Group").unwrap(),
            ["clustermode", "group", "Main_Group"]
        );
        assert_eq!(
            mode_command("machine:esa1.myesa.com").unwrap(),
            ["clustermode", "machine", "esa1.myesa.com"]
        );
        assert!(mode_command("root").is_err());
        assert!(mode_command("group:").is_err());
        assert_eq!(
            level_command("override", "listeners", "machine").unwrap(),
            ["clusterconfig", "override", "listeners", "machine"]
        );
        assert!(level_command("override", "listeners", "cluster").is_err());
        assert!(level_command("inherit", "a b", "group").is_err());
        assert_eq!(back_to(Some("/network/dns")), "/network/dns");
        assert_eq!(back_to(Some("//evil.example/")), CLUSTER_PATH);
        assert_eq!(back_to(Some("https://evil.example/")), CLUSTER_PATH);
        assert_eq!(back_to(None), CLUSTER_PATH);
        assert_eq!(
            setup_command(
                "create",
                &form(&[
                    ("name", "Hosted_Cluster"),
                    ("etcd", "https://127.9.0.1:2379, https://127.9.0.2:2379"),
                    ("ca", "etcd-ca"),
                    ("certificate", "esa1"),
                    ("group", "Main_Group"),
                ])
            )
            .unwrap(),
            [
                "clusterconfig",
                "create",
                "Hosted_Cluster",
                "--etcd",
                "https://127.9.0.1:2379,https://127.9.0.2:2379",
                "--ca",
                "etcd-ca",
                "--certificate",
                "esa1",
                "--group",
                "Main_Group"
            ]
        );
        assert!(setup_command("join", &form(&[("certificate", "esa1")])).is_err());
    }
}

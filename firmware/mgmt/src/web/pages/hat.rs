//! Mail Policies > HAT Overview, Mail Flow Policies and Recipient Access
//! Table (RAT), and Network > Listeners: each listener's access tables as
//! AsyncOS shows them. Values come from the working configuration
//! (`showconfig --json`); every change is the `listenerconfig edit <L>
//! hostaccess|rcptaccess|setup ...` command the CLI runs (built by
//! [`forms`]), so the control plane checks the role and validates.
//!
//! This module: the listener selector every page shares, the HAT Overview
//! and the sender group pages. [`policies`]: Mail Flow Policies; [`rat`]:
//! the RAT; [`listeners`]: Network > Listeners.

#[path = "hat_forms.rs"]
pub mod forms;
#[path = "hat_listeners.rs"]
pub mod listeners;
#[path = "hat_policies.rs"]
pub mod policies;
#[path = "hat_rat.rs"]
pub mod rat;

use axum::Router;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use breakwater_config::{Config, ListenerConfig, ListenerKind};
use maud::{Markup, html};

use crate::web::{Admin, Change, State, web_wording};
use breakwater_config::MAX_HAT_COMMENT_CHARS;
use forms::{Form, Words, segment};

pub fn routes() -> Router<State> {
    Router::new()
        .route("/mail-policies/hat", get(overview))
        .route(
            "/mail-policies/hat/{listener}/order",
            get(order_page).post(order),
        )
        .route(
            "/mail-policies/hat/{listener}/sendergroup/new",
            get(new_page).post(new_group),
        )
        .route(
            "/mail-policies/hat/{listener}/sendergroup/{group}",
            get(group_page),
        )
        .route(
            "/mail-policies/hat/{listener}/sendergroup/{group}/settings",
            post(settings),
        )
        .route(
            "/mail-policies/hat/{listener}/sendergroup/{group}/senders",
            post(add_senders),
        )
        .route(
            "/mail-policies/hat/{listener}/sendergroup/{group}/senders/delete",
            post(delete_senders),
        )
        .route(
            "/mail-policies/hat/{listener}/sendergroup/{group}/delete",
            post(delete_group),
        )
        .merge(policies::routes())
        .merge(rat::routes())
        .merge(listeners::routes())
}

/// `?listener=NAME` on the pages that show one listener.
#[derive(serde::Deserialize)]
pub struct Pick {
    pub listener: Option<String>,
}

/// The listener asked for, else the first one (public ones only when
/// `public`); `None` when there is none.
pub fn pick<'a>(cfg: &'a Config, want: Option<&str>, public: bool) -> Option<&'a ListenerConfig> {
    let eligible = |l: &&ListenerConfig| !public || l.kind == ListenerKind::Public;
    want.and_then(|w| {
        cfg.listeners
            .iter()
            .filter(eligible)
            .find(|l| l.name.eq_ignore_ascii_case(w))
    })
    .or_else(|| cfg.listeners.iter().find(eligible))
}

/// The listener named in a path.
pub fn listener<'a>(cfg: &'a Config, name: &str) -> Option<&'a ListenerConfig> {
    cfg.listeners
        .iter()
        .find(|l| l.name.eq_ignore_ascii_case(name))
}

/// "Listener: [IncomingMail v] Go" (a GET form: works without scripts).
pub fn selector(cfg: &Config, path: &str, current: &str, public: bool) -> Markup {
    html! {
        form.selector method="get" action=(path) {
            label for="listener" { "Listener: " }
            select id="listener" name="listener" {
                @for l in cfg.listeners.iter().filter(|l| !public || l.kind == ListenerKind::Public) {
                    option value=(l.name) selected[l.name == current] {
                        (l.name) " (" (l.interface) ")"
                    }
                }
            }
            " "
            button type="submit" id="listener-go" { "Go" }
        }
    }
}

/// A page saying what is missing (a listener or row that does not exist,
/// or a configuration that could not be read).
pub fn missing(admin: &Admin, title: &str, text: &str, back: &str) -> Response {
    admin.page(
        title,
        html! { p.muted { (text) } p { a href=(back) { "<< Back" } } },
    )
}

/// The working configuration and a copy of listener `name`, or the page
/// that says which is missing (with a link `back`).
pub async fn config_and_listener(
    admin: &Admin,
    title: &str,
    name: &str,
    back: &str,
) -> Result<(Config, ListenerConfig), Response> {
    let cfg = admin
        .config()
        .await
        .map_err(|e| missing(admin, title, &e, back))?;
    let l = listener(&cfg, name)
        .cloned()
        .ok_or_else(|| missing(admin, title, "There is no such listener.", back))?;
    Ok((cfg, l))
}

/// Runs `steps` (the commands a form became) one after the other in the
/// administrator's session; stops at the first refusal. Their answers are
/// flashed on the next page: `ok_to` after success, `error_to` otherwise.
pub async fn run_steps(
    admin: &Admin,
    steps: Result<Vec<Words>, String>,
    ok_to: &str,
    error_to: &str,
) -> Response {
    let steps = match steps {
        Ok(s) => s,
        Err(e) => {
            admin.flash(false, e);
            return Redirect::to(error_to).into_response();
        }
    };
    let mut said = String::new();
    for words in steps {
        match admin.run_words(words, None).await {
            Ok(out) => {
                said.push_str(&out);
                said.push('\n');
            }
            Err(out) => {
                said.push_str(&out);
                admin.flash(false, web_wording(&said));
                return Redirect::to(error_to).into_response();
            }
        }
    }
    admin.flash(true, web_wording(&said));
    Redirect::to(ok_to).into_response()
}

pub fn hat_url(listener: &str) -> String {
    format!("/mail-policies/hat?listener={}", segment(listener))
}

fn group_url(listener: &str, group: &str) -> String {
    format!(
        "/mail-policies/hat/{}/sendergroup/{}",
        segment(listener),
        segment(group)
    )
}

pub fn policy_url(listener: &str, policy: &str) -> String {
    format!(
        "/mail-policies/mail-flow/{}/policy/{}",
        segment(listener),
        segment(policy)
    )
}

fn is_all(name: &str) -> bool {
    name.eq_ignore_ascii_case("ALL")
}

/// A few members, then how many more.
fn short_members(members: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut s = members
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if members.len() > SHOWN {
        s.push_str(&format!(" ... ({} more)", members.len() - SHOWN));
    }
    if s.is_empty() {
        s = "(no senders)".into();
    }
    s
}

fn members(l: &ListenerConfig, group: &str) -> Vec<String> {
    l.hat
        .iter()
        .find(|g| g.name == group)
        .map(|g| g.members.iter().map(ToString::to_string).collect())
        .unwrap_or_default()
}

async fn overview(admin: Admin, Query(q): Query<Pick>) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return missing(&admin, "HAT Overview", &e, "/"),
    };
    let Some(l) = pick(&cfg, q.listener.as_deref(), false) else {
        return missing(
            &admin,
            "HAT Overview",
            "There are no listeners.",
            "/network/listeners",
        );
    };
    let name = segment(&l.name);
    let body = html! {
        (selector(&cfg, "/mail-policies/hat", &l.name, false))
        h2 { "Sender Groups (listener " (l.name) ")" }
        @if admin.can_change() {
            p {
                a.button href=(format!("/mail-policies/hat/{name}/sendergroup/new")) id="add-sender-group" { "Add Sender Group..." }
                " "
                a.button href=(format!("/mail-policies/hat/{name}/order")) id="edit-order" { "Edit Order..." }
            }
        }
        table.grid id="hat" {
            thead { tr { th { "Order" } th { "Sender Group" } th { "Members" } th { "Mail Flow Policy" } @if admin.can_change() { th { "Delete" } } } }
            tbody {
                @for (i, g) in l.hat.iter().enumerate() {
                    tr id=(format!("row-{}", g.name)) {
                        td { (i + 1) }
                        td { a href=(group_url(&l.name, &g.name)) id=(format!("sendergroup-{}", g.name)) { (g.name) } }
                        td { (short_members(&members(l, &g.name))) }
                        td { a href=(policy_url(&l.name, &g.policy)) { (g.policy) } }
                        @if admin.can_change() {
                            td {
                                @if !is_all(&g.name) {
                                    form.inline method="post" action=(format!("{}/delete", group_url(&l.name, &g.name))) {
                                        (admin.csrf())
                                        button.danger type="submit" id=(format!("delete-{}", g.name)) { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.muted { "The table is read from the top; the first group that matches a connecting host decides its mail flow policy. ALL stays last." }
    };
    admin.page("HAT Overview", body)
}

/// The policies of `l` as `<option>`s, `current` selected.
fn policy_options(l: &ListenerConfig, current: &str) -> Markup {
    html! {
        @for p in &l.policies {
            option value=(p.name) selected[p.name.eq_ignore_ascii_case(current)] { (p.name) }
        }
    }
}

async fn new_page(admin: Admin, Path(name): Path<String>) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return missing(&admin, "Add Sender Group", &e, "/mail-policies/hat"),
    };
    let Some(l) = listener(&cfg, &name) else {
        return missing(
            &admin,
            "Add Sender Group",
            "There is no such listener.",
            "/mail-policies/hat",
        );
    };
    // A new group goes first unless told otherwise (the seeds' "Order:
    // 1"); it can go anywhere above ALL.
    let last = l.hat.len().max(1);
    let body = html! {
        p { "Listener: " b { (l.name) } }
        form method="post" action=(format!("/mail-policies/hat/{}/sendergroup/new", segment(&l.name))) {
            (admin.csrf())
            fieldset disabled[!admin.can_change()] {
                legend { "Sender Group Settings" }
                table.form {
                    tr { th { label for="name" { "Name:" } } td { input type="text" id="name" name="name" maxlength="64" required; } }
                    tr { th { label for="order" { "Order:" } } td { input type="number" id="order" name="order" min="1" max=(last) value="1"; } }
                    tr { th { label for="comment" { "Comment:" } } td { input type="text" id="comment" name="comment" maxlength=(MAX_HAT_COMMENT_CHARS) size="48"; } }
                    tr { th { label for="policy" { "Policy:" } } td { select id="policy" name="policy" { (policy_options(l, "")) } } }
                    tr {
                        th { label for="senders" { "Senders:" } }
                        td {
                            textarea id="senders" name="senders" rows="4" {}
                            br;
                            span.muted { "One per line or separated by commas: IP addresses (10.1.1.1), CIDR ranges (10.1.1.0/24), partial addresses (10.1.1.), ranges (10.1.1.1-50), host names (mail.example.com) or domains with a leading dot (.protection.outlook.com)." }
                        }
                    }
                    tr { th { label for="sender_comment" { "Sender Comment:" } } td { input type="text" id="sender_comment" name="sender_comment" maxlength=(MAX_HAT_COMMENT_CHARS) size="48"; } }
                    tr { th {} td {
                        button.primary type="submit" id="submit" { "Submit" }
                        " " a href=(hat_url(&l.name)) id="cancel" { "Cancel" }
                    } }
                }
            }
        }
    };
    admin.page("Add Sender Group", body)
}

async fn new_group(Path(name): Path<String>, change: Change) -> Response {
    let admin = &change.admin;
    let form = Form(&change.fields);
    let back = format!("/mail-policies/hat/{}/sendergroup/new", segment(&name));
    let steps = forms::sendergroup_new(&name, &form);
    let to = form
        .get("name")
        .map_or_else(|| hat_url(&name), |g| group_url(&name, g));
    run_steps(admin, steps, &to, &back).await
}

async fn group_page(admin: Admin, Path((name, group)): Path<(String, String)>) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return missing(&admin, "Sender Group", &e, "/mail-policies/hat"),
    };
    let Some(l) = listener(&cfg, &name) else {
        return missing(
            &admin,
            "Sender Group",
            "There is no such listener.",
            "/mail-policies/hat",
        );
    };
    let Some((pos, g)) = l
        .hat
        .iter()
        .enumerate()
        .find(|(_, g)| g.name.eq_ignore_ascii_case(&group))
    else {
        return missing(
            &admin,
            "Sender Group",
            &format!("There is no sender group '{group}' on listener {}.", l.name),
            &hat_url(&l.name),
        );
    };
    let url = group_url(&l.name, &g.name);
    let all = is_all(&g.name);
    let ro = !admin.can_change();
    let comment = cfg.hat_comment(&l.name, &g.name, None).unwrap_or("");
    let body = html! {
        p { "Listener: " b { (l.name) } }
        form method="post" action=(format!("{url}/settings")) {
            (admin.csrf())
            fieldset disabled[ro] {
                legend { "Sender Group Settings" }
                table.form {
                    tr { th { label for="name" { "Name:" } } td {
                        @if all { span id="name" { (g.name) } }
                        @else { input type="text" id="name" name="name" maxlength="64" value=(g.name) required; }
                    } }
                    tr { th { label for="order" { "Order:" } } td {
                        @if all { (pos + 1) " (ALL stays last)" }
                        @else { input type="number" id="order" name="order" min="1" value=(pos + 1); }
                    } }
                    tr { th { label for="comment" { "Comment:" } } td {
                        input type="text" id="comment" name="comment" maxlength=(MAX_HAT_COMMENT_CHARS) size="48" value=(comment);
                    } }
                    tr { th { label for="policy" { "Policy:" } } td {
                        select id="policy" name="policy" { (policy_options(l, &g.policy)) }
                        " " a href=(policy_url(&l.name, &g.policy)) { "View policy" }
                    } }
                    tr { th {} td { button.primary type="submit" id="submit-settings" { "Submit" } } }
                }
            }
        }
        h2 { "Sender List" }
        @if !all && !ro {
            form method="post" action=(format!("{url}/senders")) {
                (admin.csrf())
                table.form {
                    tr { th { label for="senders" { "Add Sender..." } } td { textarea id="senders" name="senders" rows="2" {} } }
                    tr { th { label for="sender-comment" { "Comment:" } } td { input type="text" id="sender-comment" name="comment" maxlength=(MAX_HAT_COMMENT_CHARS) size="48"; } }
                    tr { th {} td { button.primary type="submit" id="add-senders" { "Submit" } } }
                }
            }
        }
        form method="post" action=(format!("{url}/senders/delete")) {
            (admin.csrf())
            table.grid id="senders-list" {
                thead { tr { th { "Sender" } th { "Comment" } @if !all && !ro { th { "Delete" } } } }
                tbody {
                    @for (i, m) in g.members.iter().enumerate() {
                        tr {
                            td { label for=(format!("member-{i}")) { (m.to_string()) } }
                            td id=(format!("member-comment-{i}")) { (cfg.hat_comment(&l.name, &g.name, Some(m.as_ref())).unwrap_or("")) }
                            @if !all && !ro {
                                td { input type="checkbox" id=(format!("member-{i}")) name="member" value=(m.to_string()); }
                            }
                        }
                    }
                }
            }
            @if !all && !ro && !g.members.is_empty() {
                button.danger type="submit" id="delete-senders" { "Delete" }
            }
        }
        p { a href=(hat_url(&l.name)) id="back" { "<< Back to HAT Overview" } }
        @if !all && !ro {
            form method="post" action=(format!("{url}/delete")) {
                (admin.csrf())
                button.danger type="submit" id="delete-group" { "Delete" }
            }
        }
    };
    admin.page("Sender Group", body)
}

async fn settings(Path((name, group)): Path<(String, String)>, change: Change) -> Response {
    let admin = &change.admin;
    let url = group_url(&name, &group);
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return run_steps(admin, Err(e), &url, &url).await,
    };
    let current = listener(&cfg, &name).and_then(|l| {
        l.hat
            .iter()
            .enumerate()
            .find(|(_, g)| g.name.eq_ignore_ascii_case(&group))
            .map(|(i, g)| (l.name.clone(), g.name.clone(), g.policy.clone(), i + 1))
    });
    let form = Form(&change.fields);
    let steps = match &current {
        Some((l, g, policy, position)) => forms::sendergroup_settings(
            &name,
            &group,
            &forms::GroupSettings {
                policy,
                position: *position,
                comment: cfg.hat_comment(l, g, None).unwrap_or(""),
            },
            &form,
        ),
        None => Err(format!(
            "There is no sender group '{group}' on listener {name}."
        )),
    };
    // After a rename the group's page is at its new name.
    let ok_to = match (form.get("name"), steps.as_ref()) {
        (Some(to), Ok(s)) if s.last().is_some_and(|w| w.iter().any(|x| x == "rename")) => {
            group_url(&name, to)
        }
        _ => url.clone(),
    };
    run_steps(admin, steps, &ok_to, &url).await
}

async fn add_senders(Path((name, group)): Path<(String, String)>, change: Change) -> Response {
    let url = group_url(&name, &group);
    let steps = forms::senders_add(&name, &group, &Form(&change.fields)).map(|w| vec![w]);
    run_steps(&change.admin, steps, &url, &url).await
}

async fn delete_senders(Path((name, group)): Path<(String, String)>, change: Change) -> Response {
    let url = group_url(&name, &group);
    let steps = forms::senders_delete(&name, &group, &Form(&change.fields));
    run_steps(&change.admin, steps, &url, &url).await
}

async fn delete_group(Path((name, group)): Path<(String, String)>, change: Change) -> Response {
    let words = [
        "listenerconfig",
        "edit",
        &name,
        "hostaccess",
        "delete",
        "sendergroup",
        &group,
    ]
    .iter()
    .map(|w| (*w).to_string())
    .collect();
    let to = hat_url(&name);
    run_steps(&change.admin, Ok(vec![words]), &to, &to).await
}

async fn order_page(admin: Admin, Path(name): Path<String>) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return missing(&admin, "Edit Sender Group Order", &e, "/mail-policies/hat"),
    };
    let Some(l) = listener(&cfg, &name) else {
        return missing(
            &admin,
            "Edit Sender Group Order",
            "There is no such listener.",
            "/mail-policies/hat",
        );
    };
    let body = html! {
        p { "Listener: " b { (l.name) } ". Number the groups in the order they should be read; ALL stays last." }
        form method="post" action=(format!("/mail-policies/hat/{}/order", segment(&l.name))) {
            (admin.csrf())
            fieldset disabled[!admin.can_change()] {
                table.grid id="order-table" {
                    thead { tr { th { "Order" } th { "Sender Group" } } }
                    tbody {
                        @for (i, g) in l.hat.iter().enumerate() {
                            tr {
                                td {
                                    @if is_all(&g.name) { (i + 1) }
                                    @else { input type="number" min="1" id=(format!("order-{}", g.name)) name=(format!("order-{}", g.name)) value=(i + 1); }
                                }
                                td { label for=(format!("order-{}", g.name)) { (g.name) } }
                            }
                        }
                    }
                }
                button.primary type="submit" id="submit" { "Submit" }
                " " a href=(hat_url(&l.name)) id="cancel" { "Cancel" }
            }
        }
    };
    admin.page("Edit Sender Group Order", body)
}

async fn order(Path(name): Path<String>, change: Change) -> Response {
    let admin = &change.admin;
    let to = hat_url(&name);
    let back = format!("/mail-policies/hat/{}/order", segment(&name));
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return run_steps(admin, Err(e), &to, &back).await,
    };
    let groups: Vec<String> = listener(&cfg, &name)
        .map(|l| {
            l.hat
                .iter()
                .filter(|g| !is_all(&g.name))
                .map(|g| g.name.clone())
                .collect()
        })
        .unwrap_or_default();
    let steps = forms::sendergroup_order(&name, &groups, &Form(&change.fields));
    if matches!(&steps, Ok(s) if s.is_empty()) {
        admin.flash(true, "The order is unchanged.");
        return Redirect::to(&to).into_response();
    }
    run_steps(admin, steps, &to, &back).await
}

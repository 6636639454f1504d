//! Mail Policies > Mail Flow Policies: a listener's policies and the page
//! of each with every parameter the model has, saved as `listenerconfig
//! edit <L> hostaccess editpolicy|newpolicy|deletepolicy`.

use axum::Router;
use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::{get, post};
use breakwater_config::{Behavior, ListenerConfig, MailFlowPolicy, TlsMode};
use maud::html;

use super::forms::{self, Form, segment, size_text};
use super::{Pick, config_and_listener, missing, pick, policy_url, run_steps, selector};
use crate::web::{Admin, Change, State};

pub fn routes() -> Router<State> {
    Router::new()
        .route("/mail-policies/mail-flow", get(list))
        .route(
            "/mail-policies/mail-flow/{listener}/new",
            get(new_page).post(new_policy),
        )
        .route(
            "/mail-policies/mail-flow/{listener}/policy/{policy}",
            get(edit_page).post(edit),
        )
        .route(
            "/mail-policies/mail-flow/{listener}/policy/{policy}/delete",
            post(delete),
        )
}

fn list_url(listener: &str) -> String {
    format!("/mail-policies/mail-flow?listener={}", segment(listener))
}

fn used_by(l: &ListenerConfig, policy: &str) -> Vec<String> {
    l.hat
        .iter()
        .filter(|g| g.policy.eq_ignore_ascii_case(policy))
        .map(|g| g.name.clone())
        .collect()
}

async fn list(admin: Admin, Query(q): Query<Pick>) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return missing(&admin, "Mail Flow Policies", &e, "/"),
    };
    let Some(l) = pick(&cfg, q.listener.as_deref(), false) else {
        return missing(
            &admin,
            "Mail Flow Policies",
            "There are no listeners.",
            "/network/listeners",
        );
    };
    let body = html! {
        (selector(&cfg, "/mail-policies/mail-flow", &l.name, false))
        h2 { "Policies (listener " (l.name) ")" }
        @if admin.can_change() {
            p { a.button href=(format!("/mail-policies/mail-flow/{}/new", segment(&l.name))) id="add-policy" { "Add Policy..." } }
        }
        table.grid id="policies" {
            thead { tr {
                th { "Policy Name" } th { "Behavior" } th { "TLS" } th { "Max. Message Size" }
                th { "Max. Recipients Per Message" } th { "Sender Groups" }
                @if admin.can_change() { th { "Delete" } }
            } }
            tbody {
                @for p in &l.policies {
                    @let users = used_by(l, &p.name);
                    tr id=(format!("row-{}", p.name)) {
                        td { a href=(policy_url(&l.name, &p.name)) id=(format!("policy-{}", p.name)) { (p.name) } }
                        td { (p.behavior.word()) }
                        td { (p.tls.word()) }
                        td { (size_text(p.max_message_size)) }
                        td { (p.max_recipients_per_message) }
                        td { (users.join(", ")) }
                        @if admin.can_change() {
                            td {
                                @if users.is_empty() {
                                    form.inline method="post" action=(format!("{}/delete", policy_url(&l.name, &p.name))) {
                                        (admin.csrf())
                                        button.danger type="submit" id=(format!("delete-{}", p.name)) { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    admin.page("Mail Flow Policies", body)
}

const BEHAVIORS: &[Behavior] = &[
    Behavior::Accept,
    Behavior::Reject,
    Behavior::Relay,
    Behavior::TcpRefuse,
    Behavior::Continue,
];

/// Every parameter of `p` (a new policy: AsyncOS's ACCEPTED defaults, as
/// `newpolicy` makes it) as the form's fields.
fn policy_form(
    admin: &Admin,
    l: &ListenerConfig,
    p: &MailFlowPolicy,
    new: bool,
    action: &str,
) -> maud::Markup {
    let text = |t: &Option<breakwater_config::ReplyText>| {
        t.as_ref().map(ToString::to_string).unwrap_or_default()
    };
    html! {
        p { "Listener: " b { (l.name) } }
        form method="post" action=(action) {
            (admin.csrf())
            fieldset disabled[!admin.can_change()] {
                legend { "Policy Settings" }
                table.form {
                    tr { th { label for="name" { "Name:" } } td {
                        @if new { input type="text" id="name" name="name" maxlength="64" required; }
                        @else { span id="name" { (p.name) } }
                    } }
                    tr { th { label for="behavior" { "Connection Behavior:" } } td {
                        select id="behavior" name="behavior" {
                            @for b in BEHAVIORS {
                                option value=(b.word().to_ascii_lowercase()) selected[*b == p.behavior] { (b.word()) }
                            }
                        }
                    } }
                }
            }
            fieldset disabled[!admin.can_change()] {
                legend { "Connections" }
                table.form {
                    tr { th { label for="max_messages_per_connection" { "Max. Messages Per Connection:" } } td {
                        input type="number" min="1" id="max_messages_per_connection" name="max_messages_per_connection" value=(p.max_messages_per_connection);
                    } }
                    tr { th { label for="max_recipients" { "Max. Recipients Per Message:" } } td {
                        input type="number" min="1" id="max_recipients" name="max_recipients" value=(p.max_recipients_per_message);
                    } }
                    tr { th { label for="max_message_size" { "Max. Message Size:" } } td {
                        input type="text" id="max_message_size" name="max_message_size" value=(size_text(p.max_message_size));
                        " " span.muted { "bytes, or with k or M (10M)" }
                    } }
                    tr { th { label for="max_concurrency" { "Max. Concurrent Connections From a Single IP:" } } td {
                        input type="number" min="1" id="max_concurrency" name="max_concurrency" value=(p.max_concurrency_per_ip);
                    } }
                    tr { th { label for="smtp_banner_code" { "SMTP Banner:" } } td {
                        "Code: " input type="number" min="200" max="299" id="smtp_banner_code" name="smtp_banner_code" value=(p.smtp_banner_code);
                        br;
                        label for="smtp_banner_text" { "Text: " }
                        input type="text" size="50" id="smtp_banner_text" name="smtp_banner_text" value=(text(&p.smtp_banner_text)) placeholder="<hostname> ESMTP";
                    } }
                    tr { th { label for="reject_banner_code" { "SMTP Rejection Banner:" } } td {
                        "Code: " input type="number" min="400" max="599" id="reject_banner_code" name="reject_banner_code" value=(p.reject_banner_code);
                        br;
                        label for="reject_banner_text" { "Text: " }
                        input type="text" size="50" id="reject_banner_text" name="reject_banner_text" value=(p.reject_banner_text.to_string());
                    } }
                }
            }
            fieldset disabled[!admin.can_change()] {
                legend { "Rate Limiting" }
                table.form {
                    tr { th { label for="max_recipients_per_hour" { "Max. Recipients Per Hour:" } } td {
                        input type="number" min="1" id="max_recipients_per_hour" name="max_recipients_per_hour"
                            value=(p.max_recipients_per_hour.map(|n| n.to_string()).unwrap_or_default())
                            placeholder="Unlimited";
                        " " span.muted { "per sender IP; empty is unlimited" }
                    } }
                }
            }
            fieldset disabled[!admin.can_change()] {
                legend { "Security Features" }
                table.form {
                    tr { th { "Encryption and Authentication:" } td {
                        "TLS: "
                        @for m in [TlsMode::Off, TlsMode::Preferred, TlsMode::Required] {
                            @let v = m.word().to_ascii_lowercase();
                            input type="radio" name="tls" value=(v) id=(format!("tls-{v}")) checked[m == p.tls];
                            label for=(format!("tls-{v}")) { (m.word()) } " "
                        }
                    } }
                }
            }
            p {
                button.primary type="submit" id="submit" { "Submit" }
                " " a href=(list_url(&l.name)) id="cancel" { "Cancel" }
            }
        }
    }
}

async fn edit_page(admin: Admin, Path((name, policy)): Path<(String, String)>) -> Response {
    let (cfg, l) = match config_and_listener(
        &admin,
        "Edit Mail Flow Policy",
        &name,
        "/mail-policies/mail-flow",
    )
    .await
    {
        Ok(found) => found,
        Err(page) => return page,
    };
    let l = &l;
    let Some(p) = l.policy(policy.trim_start_matches('$')) else {
        return missing(
            &admin,
            "Edit Mail Flow Policy",
            &format!(
                "There is no mail flow policy '{policy}' on listener {}.",
                l.name
            ),
            &list_url(&l.name),
        );
    };
    let form = policy_form(&admin, l, p, false, &policy_url(&l.name, &p.name));
    // Issue 17's settings live outside `MailFlowPolicy` (stored configs
    // cannot grow it): their own form, pages/mail_auth.rs.
    let security = crate::web::pages::mail_auth::security_section(&admin, &cfg, l, p);
    let body = html! { (form) (security) };
    admin.page("Edit Mail Flow Policy", body)
}

async fn edit(Path((name, policy)): Path<(String, String)>, change: Change) -> Response {
    let url = policy_url(&name, &policy);
    let words = forms::policy(&name, Some(&policy), &Form(&change.fields)).map(|w| vec![w]);
    run_steps(&change.admin, words, &list_url(&name), &url).await
}

async fn new_page(admin: Admin, Path(name): Path<String>) -> Response {
    let (_, l) = match config_and_listener(
        &admin,
        "Add Mail Flow Policy",
        &name,
        "/mail-policies/mail-flow",
    )
    .await
    {
        Ok(found) => found,
        Err(page) => return page,
    };
    let l = &l;
    // `newpolicy` starts from AsyncOS's ACCEPTED policy with TLS off.
    let mut defaults = MailFlowPolicy::predefined("", Behavior::Accept);
    defaults.tls = TlsMode::Off;
    let action = format!("/mail-policies/mail-flow/{}/new", segment(&l.name));
    let body = policy_form(&admin, l, &defaults, true, &action);
    admin.page("Add Mail Flow Policy", body)
}

async fn new_policy(Path(name): Path<String>, change: Change) -> Response {
    let back = format!("/mail-policies/mail-flow/{}/new", segment(&name));
    let words = forms::policy(&name, None, &Form(&change.fields)).map(|w| vec![w]);
    run_steps(&change.admin, words, &list_url(&name), &back).await
}

async fn delete(Path((name, policy)): Path<(String, String)>, change: Change) -> Response {
    let words = [
        "listenerconfig",
        "edit",
        &name,
        "hostaccess",
        "deletepolicy",
        &policy,
    ]
    .iter()
    .map(|w| (*w).to_string())
    .collect();
    let to = list_url(&name);
    run_steps(&change.admin, Ok(vec![words]), &to, &to).await
}

//! Mail Policies > Recipient Access Table (RAT) of a public listener:
//! rows in order, Add Recipient, edit, delete and the ALL row's default
//! action, as `listenerconfig edit <L> rcptaccess new|import|delete|default`.
//! An edit is one `import` of the table with the row replaced, so it is
//! staged whole or not at all (the CLI has no in-place edit of a row).

use axum::Router;
use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::{get, post};
use breakwater_config::{ListenerConfig, RatAction, RatEntry};
use maud::{Markup, html};

use super::forms::{self, Form, Words, segment};
use super::{Pick, config_and_listener, listener, missing, pick, run_steps, selector};
use crate::web::{Admin, Change, State};

pub fn routes() -> Router<State> {
    Router::new()
        .route("/mail-policies/rat", get(list))
        .route(
            "/mail-policies/rat/{listener}/new",
            get(new_page).post(new_row),
        )
        .route(
            "/mail-policies/rat/{listener}/recipient/{address}",
            get(edit_page).post(edit),
        )
        .route(
            "/mail-policies/rat/{listener}/recipient/{address}/delete",
            post(delete),
        )
}

fn list_url(listener: &str) -> String {
    format!("/mail-policies/rat?listener={}", segment(listener))
}

fn row_url(listener: &str, address: &str) -> String {
    format!(
        "/mail-policies/rat/{}/recipient/{}",
        segment(listener),
        segment(address)
    )
}

fn is_all(r: &RatEntry) -> bool {
    r.address.to_string().eq_ignore_ascii_case("ALL")
}

fn action_word(a: RatAction) -> &'static str {
    match a {
        RatAction::Accept => "Accept",
        RatAction::Reject => "Reject",
    }
}

fn find(l: &ListenerConfig, address: &str) -> Option<(usize, RatEntry)> {
    l.rat
        .iter()
        .enumerate()
        .find(|(_, r)| r.address.to_string().eq_ignore_ascii_case(address))
        .map(|(i, r)| (i, r.clone()))
}

async fn list(admin: Admin, Query(q): Query<Pick>) -> Response {
    let title = "Recipient Access Table (RAT)";
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return missing(&admin, title, &e, "/"),
    };
    let Some(l) = pick(&cfg, q.listener.as_deref(), true) else {
        return missing(
            &admin,
            title,
            "There is no public listener: private listeners have no Recipient Access Table.",
            "/network/listeners",
        );
    };
    let ro = !admin.can_change();
    let body = html! {
        (selector(&cfg, "/mail-policies/rat", &l.name, true))
        h2 { "Overview (listener " (l.name) ")" }
        @if !ro {
            p { a.button href=(format!("/mail-policies/rat/{}/new", segment(&l.name))) id="add-recipient" { "Add Recipient..." } }
        }
        table.grid id="rat" {
            thead { tr {
                th { "Order" } th { "Recipient Address" } th { "Default Action" } th { "Custom SMTP Response" }
                th { "Bypass Receiving Control" }
                @if !ro { th { "Delete" } }
            } }
            tbody {
                @for (i, r) in l.rat.iter().enumerate() {
                    @let address = r.address.to_string();
                    tr id=(format!("row-{address}")) {
                        td { (i + 1) }
                        td { a href=(row_url(&l.name, &address)) id=(format!("recipient-{address}")) {
                            @if is_all(r) { "All Other Recipients" } @else { (address) }
                        } }
                        td { (action_word(r.action)) }
                        td {
                            @if let Some(c) = r.code { (c) " " }
                            @if let Some(t) = &r.text { (t.to_string()) }
                            @if r.code.is_none() && r.text.is_none() { "No" }
                        }
                        td { @if r.bypass_receiving_control { "Yes" } @else { "No" } }
                        @if !ro {
                            td {
                                @if !is_all(r) {
                                    form.inline method="post" action=(format!("{}/delete", row_url(&l.name, &address))) {
                                        (admin.csrf())
                                        button.danger type="submit" id=(format!("delete-{address}")) { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.muted { "Read from the top; the first row that matches a recipient decides. A recipient no row matches is rejected." }
    };
    admin.page(title, body)
}

/// The "Recipient Details" form; `row` is `None` for a new row, `order`
/// the row's position (where a new one lands).
fn row_form(
    admin: &Admin,
    l: &ListenerConfig,
    row: Option<&RatEntry>,
    order: usize,
    action: &str,
) -> Markup {
    let all = row.is_some_and(is_all);
    let accept = row.is_none_or(|r| r.action == RatAction::Accept);
    let custom = row.is_some_and(|r| r.code.is_some() || r.text.is_some());
    let code = row
        .and_then(|r| r.code)
        .unwrap_or(if accept { 250 } else { 550 });
    let text = row
        .and_then(|r| r.text.as_ref())
        .map(ToString::to_string)
        .unwrap_or_default();
    let bypass = row.is_some_and(|r| r.bypass_receiving_control);
    let address = row.map(|r| r.address.to_string()).unwrap_or_default();
    html! {
        p { "Listener: " b { (l.name) } }
        form method="post" action=(action) {
            (admin.csrf())
            fieldset disabled[!admin.can_change()] {
                legend { "Recipient Details" }
                table.form {
                    tr { th { label for="order" { "Order:" } } td {
                        @if all { (order) " (ALL stays last)" }
                        @else { input type="number" min="1" id="order" name="order" value=(order); }
                    } }
                    tr { th { label for="recipient_address" { "Recipient Address:" } } td {
                        @if all { span id="recipient_address" { "All Other Recipients" } }
                        @else {
                            input type="text" size="40" id="recipient_address" name="recipient_address" value=(address) required;
                            br; span.muted { "example.com, .example.com (subdomains), user@, user@example.com" }
                        }
                    } }
                    tr { th { "Action:" } td {
                        input type="radio" name="action" value="accept" id="action-accept" checked[accept];
                        label for="action-accept" { "Accept" } " "
                        input type="radio" name="action" value="reject" id="action-reject" checked[!accept];
                        label for="action-reject" { "Reject" }
                    } }
                    tr { th { "Custom SMTP Response:" } td {
                        input type="radio" name="custom_response" value="no" id="custom-response-no" checked[!custom];
                        label for="custom-response-no" { "No" } " "
                        input type="radio" name="custom_response" value="yes" id="custom-response-yes" checked[custom];
                        label for="custom-response-yes" { "Yes" }
                        br;
                        label for="response_code" { "Response Code: " }
                        input type="number" min="200" max="599" id="response_code" name="response_code" value=(code);
                        br;
                        label for="response_text" { "Response Text: " }
                        input type="text" size="50" id="response_text" name="response_text" value=(text);
                    } }
                    tr { th { "Bypass Receiving Control:" } td {
                        input type="radio" name="bypass_receiving_control" value="no" id="bypass-no" checked[!bypass];
                        label for="bypass-no" { "No" } " "
                        input type="radio" name="bypass_receiving_control" value="yes" id="bypass-yes" checked[bypass];
                        label for="bypass-yes" { "Yes" }
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

async fn new_page(admin: Admin, Path(name): Path<String>) -> Response {
    let title = "Add Recipient";
    let (_, l) = match config_and_listener(&admin, title, &name, "/mail-policies/rat").await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let l = &l;
    let action = format!("/mail-policies/rat/{}/new", segment(&l.name));
    let body = row_form(&admin, l, None, l.rat.len().max(1), &action);
    admin.page(title, body)
}

async fn new_row(Path(name): Path<String>, change: Change) -> Response {
    let admin = &change.admin;
    let back = format!("/mail-policies/rat/{}/new", segment(&name));
    let landing = match admin.config().await {
        Ok(cfg) => listener(&cfg, &name).map_or(1, |l| l.rat.len().max(1)),
        Err(e) => return run_steps(admin, Err(e), &back, &back).await,
    };
    let steps = forms::rat_new(&name, &Form(&change.fields), landing);
    run_steps(admin, steps, &list_url(&name), &back).await
}

async fn edit_page(admin: Admin, Path((name, address)): Path<(String, String)>) -> Response {
    let title = "Edit Recipient";
    let (_, l) = match config_and_listener(&admin, title, &name, "/mail-policies/rat").await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let l = &l;
    let Some((i, row)) = find(l, &address) else {
        return missing(
            &admin,
            title,
            &format!(
                "There is no row '{address}' in the Recipient Access Table of {}.",
                l.name
            ),
            &list_url(&l.name),
        );
    };
    let body = row_form(&admin, l, Some(&row), i + 1, &row_url(&l.name, &address));
    admin.page(title, body)
}

async fn edit(Path((name, address)): Path<(String, String)>, change: Change) -> Response {
    let admin = &change.admin;
    let back = row_url(&name, &address);
    let form = Form(&change.fields);
    let steps: Result<Vec<Words>, String> = async {
        let cfg = admin.config().await?;
        let l = listener(&cfg, &name).ok_or("There is no such listener.")?;
        let (index, row) = find(l, &address).ok_or_else(|| {
            format!("There is no row '{address}' in the Recipient Access Table of {name}.")
        })?;
        if is_all(&row) {
            return Ok(vec![forms::rat_default(&name, &form)?]);
        }
        let exported = admin
            .run(&["listenerconfig", "edit", &name, "rcptaccess", "export"])
            .await?;
        Ok(vec![forms::rat_edit(&name, &exported, index, &form)?])
    }
    .await;
    run_steps(admin, steps, &list_url(&name), &back).await
}

async fn delete(Path((name, address)): Path<(String, String)>, change: Change) -> Response {
    let words = [
        "listenerconfig",
        "edit",
        &name,
        "rcptaccess",
        "delete",
        &address,
    ]
    .iter()
    .map(|w| (*w).to_string())
    .collect();
    let to = list_url(&name);
    run_steps(&change.admin, Ok(vec![words]), &to, &to).await
}

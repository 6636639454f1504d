//! Mail Policies > Message Filters: the list (order, name, active, valid)
//! as `filters list` prints it, one filter as `filters detail` prints it,
//! Add Filter by pasting a script (`filters new` with the script on
//! standard input: the same parser, the same refusals and the same
//! warnings as at the console), Delete, Activate/Deactivate (`filters
//! set`) and order (`filters move`).

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};

use crate::web::fields::segment;
use crate::web::{Admin, Change, State, layout};

const PATH: &str = "/mail-policies/filters";
const TITLE: &str = "Message Filters";

pub fn routes() -> Router<State> {
    Router::new()
        .route(PATH, get(list_page))
        .route(&format!("{PATH}/new"), get(new_page).post(add))
        .route(&format!("{PATH}/{{name}}"), get(detail_page))
        .route(&format!("{PATH}/{{name}}/delete"), post(delete))
        .route(&format!("{PATH}/{{name}}/state"), post(set_state))
        .route(&format!("{PATH}/{{name}}/move"), post(move_filter))
}

/// One row of `filters list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterRow {
    pub num: usize,
    pub active: bool,
    pub valid: bool,
    pub name: String,
}

/// `filters list` (`Num Active Valid Name`, then a row per filter; or
/// "There are no message filters.") as rows.
pub fn parse_list(text: &str) -> Vec<FilterRow> {
    text.lines()
        .filter_map(|line| {
            let mut w = line.split_whitespace();
            let num = w.next()?.parse().ok()?;
            let active = w.next()? == "Y";
            let valid = w.next()? == "Y";
            let name = w.next()?.to_string();
            Some(FilterRow {
                num,
                active,
                valid,
                name,
            })
        })
        .collect()
}

/// The pasted script as `filters new` reads it from standard input: the
/// browser's CRLF line ends made LF, as a terminal paste would be.
pub fn script_stdin(pasted: &str) -> Option<String> {
    let text = pasted.replace("\r\n", "\n").replace('\r', "\n");
    if text.trim().is_empty() {
        return None;
    }
    let mut text = text.trim_end().to_string();
    text.push('\n');
    Some(text)
}

/// Activate / Deactivate: `filters set <name> active|inactive`.
pub fn state_words(name: &str, form: &[(String, String)]) -> Result<Vec<String>, String> {
    let state = form
        .iter()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.trim())
        .filter(|v| matches!(*v, "active" | "inactive"))
        .ok_or("Choose active or inactive.")?;
    Ok(vec![
        "filters".into(),
        "set".into(),
        name.into(),
        state.into(),
    ])
}

/// Order: `filters move <name> <position>`.
pub fn move_words(name: &str, form: &[(String, String)]) -> Result<Vec<String>, String> {
    let position = form
        .iter()
        .find(|(k, _)| k == "position")
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or("Choose the new position.")?;
    Ok(vec![
        "filters".into(),
        "move".into(),
        name.into(),
        position.into(),
    ])
}

fn yes_no(b: bool) -> &'static str {
    if b { "Yes" } else { "No" }
}

async fn list_page(admin: Admin) -> Response {
    let text = match admin.run(&["filters", "list"]).await {
        Ok(t) => t,
        Err(e) => return admin.page(TITLE, html! { div.flash.error { (e) } }),
    };
    let rows = parse_list(&text);
    let can = admin.can_change();
    let body = html! {
        @if can {
            p { a href={ (PATH) "/new" } id="add-filter" { button type="button" { "Add Filter..." } } }
        }
        @if rows.is_empty() {
            p id="no-filters" { "There are no message filters." }
        } @else {
            table.grid id="filters" {
                tr {
                    th { "Order" } th { "Filter Name" } th { "Active" } th { "Valid" }
                    @if can { th { "Activate / Deactivate" } th { "Move to" } th { "Delete" } }
                }
                @for r in &rows {
                    (row(&admin, r, rows.len()))
                }
            }
            p.muted { "A filter is valid when it has no warnings (a name it uses that nothing defines); see its details." }
        }
    };
    admin.page(TITLE, body)
}

fn row(admin: &Admin, r: &FilterRow, count: usize) -> Markup {
    let here = format!("{PATH}/{}", segment(&r.name));
    html! {
        tr id={ "filter-" (r.name) } {
            td { (r.num) }
            td { a href=(here) { (r.name) } }
            td.active { (yes_no(r.active)) }
            td.valid { (yes_no(r.valid)) }
            @if admin.can_change() {
                td {
                    form.inline method="post" action={ (here) "/state" } {
                        (admin.csrf())
                        @if r.active {
                            input type="hidden" name="state" value="inactive";
                            button type="submit" id={ "deactivate-" (r.name) } { "Deactivate" }
                        } @else {
                            input type="hidden" name="state" value="active";
                            button type="submit" id={ "activate-" (r.name) } { "Activate" }
                        }
                    }
                }
                td {
                    form.inline method="post" action={ (here) "/move" } {
                        (admin.csrf())
                        select name="position" id={ "position-" (r.name) } {
                            @for n in 1..=count {
                                option value=(n) selected[n == r.num] { (n) }
                            }
                        }
                        " "
                        button type="submit" { "Move" }
                    }
                }
                td {
                    form.inline method="post" action={ (here) "/delete" } {
                        (admin.csrf())
                        button.danger type="submit" id={ "delete-" (r.name) } { "Delete" }
                    }
                }
            }
        }
    }
}

fn new_form(admin: &Admin, script: &str, error: Option<&str>) -> Response {
    let body = html! {
        @if let Some(e) = error {
            div.flash.error { "The filter was not added:" }
            pre.output id="filter-error" { (e) }
        }
        @if admin.can_change() {
            p {
                "Paste one or more filters (the language: docs/filters.md), as at the console's "
                code { "filters new" } ". They are checked exactly as there: a syntax error adds nothing; "
                "a name nothing defines is a warning."
            }
            form method="post" action={ (PATH) "/new" } {
                (admin.csrf())
                table.form {
                    tr {
                        th { label for="script" { "Filter Script:" } }
                        td { textarea id="script" name="script" rows="16" spellcheck="false" { (script) } }
                    }
                    tr { th {} td {
                        a href=(PATH) { button type="button" id="cancel" { "Cancel" } } " "
                        button.primary type="submit" id="submit" { "Submit" }
                    } }
                }
            }
        } @else {
            p { "Your role may not change the configuration." }
        }
    };
    admin.page("Add Message Filter", body)
}

async fn new_page(admin: Admin) -> Response {
    new_form(&admin, "", None)
}

/// `filters new` with the pasted script. Added (warnings included): back
/// to the list with the control plane's answer. Refused: the form again
/// with the script and the error (line, column and pointer), so nothing
/// pasted is lost.
async fn add(change: Change) -> Response {
    let pasted = change
        .fields
        .iter()
        .find(|(k, _)| k == "script")
        .map_or("", |(_, v)| v.as_str());
    let Some(stdin) = script_stdin(pasted) else {
        return new_form(&change.admin, pasted, Some("Paste a filter script."));
    };
    let words = vec!["filters".to_string(), "new".to_string()];
    match change.admin.run_words(words, Some(stdin)).await {
        Ok(out) => {
            change.admin.flash(true, crate::web::web_wording(&out));
            Redirect::to(PATH).into_response()
        }
        Err(e) => new_form(&change.admin, pasted, Some(&e)),
    }
}

async fn detail_page(admin: Admin, Path(name): Path<String>) -> Response {
    let detail = admin.run(&["filters", "detail", &name]).await;
    let here = format!("{PATH}/{}", segment(&name));
    let body = match detail {
        Ok(text) => html! {
            div id="filter-detail" { (layout::output(&text)) }
            @if admin.can_change() {
                form method="post" action={ (here) "/delete" } {
                    (admin.csrf())
                    button.danger type="submit" id="delete" { "Delete" }
                }
            }
            p { a href=(PATH) { "Back to " (TITLE) } }
        },
        Err(e) => html! {
            div.flash.error { (e) }
            p { a href=(PATH) { "Back to " (TITLE) } }
        },
    };
    admin.page(&format!("Message Filter: {name}"), body)
}

async fn delete(Path(name): Path<String>, change: Change) -> Response {
    let words = vec!["filters".into(), "delete".into(), name];
    change.admin.change(words, None, PATH).await
}

async fn set_state(Path(name): Path<String>, change: Change) -> Response {
    run_built(&change.admin, state_words(&name, &change.fields)).await
}

async fn move_filter(Path(name): Path<String>, change: Change) -> Response {
    run_built(&change.admin, move_words(&name, &change.fields)).await
}

async fn run_built(admin: &Admin, words: Result<Vec<String>, String>) -> Response {
    match words {
        Ok(words) => admin.change(words, None, PATH).await,
        Err(e) => {
            admin.flash(false, e);
            Redirect::to(PATH).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_list_becomes_rows() {
        let text =
            "Num Active Valid Name\n1   Y      N     office365_outbound\n2   N      Y     other\n";
        assert_eq!(
            parse_list(text),
            [
                FilterRow {
                    num: 1,
                    active: true,
                    valid: false,
                    name: "office365_outbound".into()
                },
                FilterRow {
                    num: 2,
                    active: false,
                    valid: true,
                    name: "other".into()
                },
            ]
        );
        assert!(parse_list("There are no message filters.").is_empty());
    }

    #[test]
    fn a_browser_paste_is_read_as_a_terminal_paste() {
        assert_eq!(
            script_stdin("f: if true {\r\n  drop();\r\n}\r\n.\r\n\r\n").as_deref(),
            Some("f: if true {\n  drop();\n}\n.\n")
        );
        assert_eq!(script_stdin(" \r\n"), None);
    }

    #[test]
    fn state_and_move_are_the_cli_words() {
        let f = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert_eq!(
            state_words("o365", &f("state", "inactive")).unwrap(),
            ["filters", "set", "o365", "inactive"]
        );
        assert!(state_words("o365", &f("state", "maybe")).is_err());
        assert_eq!(
            move_words("o365", &f("position", "1")).unwrap(),
            ["filters", "move", "o365", "1"]
        );
        assert!(move_words("o365", &[]).is_err());
    }
}

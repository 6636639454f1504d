//! The AsyncOS change model on the web: every change is staged; the
//! banner and **Commit Changes** show it (whether the change came from the
//! web or the CLI); the commit page takes a comment and commits, or
//! abandons the staged changes; Configuration History lists the commits.
//! All of it is the CLI's `commit`, `clear` and `commitlog`.

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;

use super::{Admin, Change, State, layout};

pub fn routes() -> Router<State> {
    Router::new()
        .route("/commit", get(commit_page).post(commit))
        .route("/commit/abandon", post(abandon))
        .route("/system/history", get(history))
}

async fn commit_page(admin: Admin) -> Response {
    let history = admin.run(&["commitlog"]).await.unwrap_or_else(|e| e);
    let body = html! {
        @if admin.state.staged {
            p { "You have uncommitted changes. Commit them to put them in effect, or abandon them." }
            @if admin.can_change() {
                form method="post" action="/commit" {
                    (admin.csrf())
                    table.form {
                        tr {
                            th { label for="comment" { "Comment (optional):" } }
                            td { textarea id="comment" name="comment" rows="3" maxlength="255" {} }
                        }
                        tr { th {} td { button.primary type="submit" id="commit" { "Commit Changes" } } }
                    }
                }
                form method="post" action="/commit/abandon" {
                    (admin.csrf())
                    button.danger type="submit" id="abandon" { "Abandon Changes" }
                }
            }
        } @else {
            p { "There are no uncommitted changes." }
        }
        h2 { "Recent commits" }
        (layout::output(&history))
    };
    admin.page("Uncommitted Changes", body)
}

async fn commit(change: Change) -> Response {
    let mut words = vec!["commit".to_string()];
    if let Some(comment) = change.get("comment") {
        // One line, as the console's prompt takes it.
        words.push(comment.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    match change.admin.run_words(words, None).await {
        Ok(out) => change.admin.flash(true, out),
        Err(out) => change.admin.flash(false, out),
    }
    Redirect::to("/commit").into_response()
}

async fn abandon(change: Change) -> Response {
    change
        .admin
        .change(vec!["clear".into()], None, "/commit")
        .await
}

async fn history(admin: Admin) -> Response {
    let history = admin.run(&["commitlog"]).await.unwrap_or_else(|e| e);
    admin.page("Configuration History", layout::output(&history))
}

//! Logging in and out, and changing one's own passphrase. A login is the
//! console's `__auth` as a network login from `web`: the same accounts,
//! passphrases, roles and lockout as the console and SSH.

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;

use super::{Admin, Change, State, layout, session};
use crate::link::LoginError;

pub fn routes() -> Router<State> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/passwd", get(passwd_page).post(passwd))
}

/// The login page; after a refusal, with the message and the user name
/// typed (the passphrase is never sent back).
fn login_form(error: Option<&str>, user: &str) -> Response {
    let body = html! {
        h1 { "Log In" }
        @if let Some(e) = error {
            div.flash.error id="login-error" { (e) }
        }
        form method="post" action="/login" {
            table.form {
                tr { th { label for="username" { "Username:" } } td { input type="text" id="username" name="username" value=(user) autocomplete="username" autofocus; } }
                tr { th { label for="password" { "Passphrase:" } } td { input type="password" id="password" name="password" autocomplete="current-password"; } }
                tr { th {} td { button.primary type="submit" { "Login" } } }
            }
        }
    };
    Html(layout::bare("Log In", body).0).into_response()
}

async fn login_page(
    parts: axum::http::request::Parts,
    axum::extract::State(web): axum::extract::State<State>,
) -> Response {
    let mut parts = parts;
    if Admin::from_request_parts(&mut parts, &web).await.is_ok() {
        return Redirect::to("/monitor/status").into_response();
    }
    login_form(None, "")
}

#[derive(serde::Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn login(
    axum::extract::State(web): axum::extract::State<State>,
    axum::Form(form): axum::Form<Credentials>,
) -> Response {
    let user = form.username.trim().to_ascii_lowercase();
    // The login form has no session yet, hence no CSRF token; a forged
    // login can only log the browser in as the forger, and the cookie is
    // SameSite=Strict.
    match web.shared.control.login(&user, &form.password, "web").await {
        Ok(reply) => {
            let (id, evicted) = web.sessions.create(reply.token, user, reply.role);
            if let Some(token) = evicted {
                web.shared.control.logout(&token, "logout").await;
            }
            let to = if reply.must_change {
                "/passwd"
            } else {
                "/monitor/status"
            };
            (
                [(header::SET_COOKIE, session::set_cookie(&id))],
                Redirect::to(to),
            )
                .into_response()
        }
        Err(LoginError::Refused(message)) => login_form(Some(&message), &user),
        Err(LoginError::Link(e)) => login_form(Some(&e.to_string()), &user),
    }
}

async fn logout(change: Change) -> Response {
    let web = change.admin.web().clone();
    if let Some(s) = web.sessions.remove(&change.admin.id) {
        web.shared.control.logout(&s.token, "logout").await;
    }
    (
        [(header::SET_COOKIE, session::clear_cookie())],
        Redirect::to("/login"),
    )
        .into_response()
}

async fn passwd_page(admin: Admin) -> Response {
    let body = html! {
        p { "Choose a new passphrase for " b { (admin.session.user) } ". The rules are the console's (see "
            code { "passwd" } ")." }
        form method="post" action="/passwd" {
            (admin.csrf())
            table.form {
                tr { th { label for="old" { "Old passphrase:" } } td { input type="password" id="old" name="old" autocomplete="current-password"; } }
                tr { th { label for="new" { "New passphrase:" } } td { input type="password" id="new" name="new" autocomplete="new-password"; } }
                tr { th { label for="again" { "Retype new passphrase:" } } td { input type="password" id="again" name="again" autocomplete="new-password"; } }
                tr { th {} td { button.primary type="submit" { "Change Passphrase" } } }
            }
        }
    };
    admin.page("Change Passphrase", body)
}

async fn passwd(change: Change) -> Response {
    let (old, new, again) = (
        change.get("old").unwrap_or(""),
        change.get("new").unwrap_or(""),
        change.get("again").unwrap_or(""),
    );
    if new != again {
        change
            .admin
            .flash(false, "The new passphrases do not match.");
        return Redirect::to("/passwd").into_response();
    }
    let stdin = format!("{old}\n{new}\n");
    match change
        .admin
        .run_words(vec!["passwd".into()], Some(stdin))
        .await
    {
        Ok(out) => {
            change.admin.flash(true, out);
            Redirect::to("/monitor/status").into_response()
        }
        Err(out) => {
            change.admin.flash(false, out);
            Redirect::to("/passwd").into_response()
        }
    }
}

//! The web UI and the REST API over HTTPS, and the plain-HTTP redirect.
//!
//! Pages are rendered on the server ([`maud`]), so the UI works in the
//! image with no JavaScript build chain. Every page is a handful of control
//! requests in the administrator's session ([`crate::link`]): reads are
//! catalog commands (`showconfig --json` for forms), every change is the
//! catalog command the CLI runs, so the control plane checks the role and
//! validates the staged configuration exactly as for the console.
//!
//! Modules: [`session`] (cookies, CSRF, idle timeout), [`layout`] (the
//! chrome and the style sheet), [`login`], [`commit`] (the change model:
//! Commit Changes, Abandon Changes, history) and [`pages`] (one module per
//! menu area).

pub mod cluster;
pub mod commit;
pub mod fields;
pub mod layout;
pub mod login;
pub mod pages;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use breakwater_config::Config;
use breakwater_control_proto::{Role, SessionState};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use maud::Markup;

use crate::Shared;
use session::{Sessions, WebSession};

/// The longest a client may take to send a request's headers (a slow
/// client holds a connection, and the management plane has few).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// Connections served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 64;
/// The largest request body (a pasted filter script fits easily; the
/// control socket takes 1 MiB).
pub const MAX_BODY: usize = 512 * 1024;

/// What every handler of the web UI shares.
pub struct WebState {
    pub shared: Arc<Shared>,
    pub sessions: Sessions,
}

pub type State = Arc<WebState>;

/// Every route of the web UI and the API.
pub fn router(shared: Arc<Shared>) -> Router {
    let state = Arc::new(WebState {
        shared,
        sessions: Sessions::default(),
    });
    Router::new()
        .route(
            "/",
            axum::routing::get(|| async { Redirect::to("/monitor/status") }),
        )
        .route("/static/breakwater.css", axum::routing::get(style))
        .merge(login::routes())
        .merge(commit::routes())
        .merge(cluster::routes())
        .merge(pages::routes())
        .merge(crate::api::routes())
        .fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        layout::STYLE.0,
    )
}

async fn not_found() -> Response {
    let body = maud::html! { p { "There is no such page." } a href="/" { "System Status" } };
    (
        StatusCode::NOT_FOUND,
        Html(layout::bare("Not Found", body).0),
    )
        .into_response()
}

/// Headers on every answer: no framing (clickjacking), no sniffing, no
/// scripts or styles but our own, HTTPS only from now on, nothing cached
/// (pages show configuration and mail metadata).
async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    );
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    set(header::CACHE_CONTROL, "no-store");
    response
}

/// A request from a logged-in administrator: the web session, the
/// control plane's view of it (host name, role, staged changes) and the
/// path, for the chrome. Without a live session: a redirect to the login
/// page.
pub struct Admin {
    pub id: String,
    pub session: WebSession,
    pub state: SessionState,
    pub path: String,
    /// Clustered, on a configuration page (GET): the mode bar's facts.
    pub cluster: Option<cluster::ClusterView>,
    /// The path with its query (`/mail-policies/hat?listener=...`): where
    /// the mode bar's forms come back to.
    here: String,
    web: State,
}

impl FromRequestParts<State> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &State) -> Result<Self, Response> {
        let to_login = || Redirect::to("/login").into_response();
        let id = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(session::cookie_value)
            .map(str::to_string)
            .ok_or_else(to_login)?;
        let timeout = Duration::from_secs(u64::from(web.shared.settings().web_timeout_secs));
        let session = match web.sessions.get(&id, timeout) {
            Ok(Some(s)) => s,
            Ok(None) => return Err(to_login()),
            Err(token) => {
                web.shared.control.logout(&token, "timeout").await;
                return Err(to_login());
            }
        };
        let state = match web.shared.control.state(&session.token).await {
            Ok(Some(state)) => state,
            // Ended elsewhere (logged out, user deleted, daemon restarted).
            Ok(None) => {
                web.sessions.remove(&id);
                return Err(to_login());
            }
            Err(e) => {
                let body = maud::html! { p { (e.to_string()) } };
                return Err((
                    StatusCode::SERVICE_UNAVAILABLE,
                    Html(layout::bare("Unavailable", body).0),
                )
                    .into_response());
            }
        };
        let mut admin = Admin {
            id,
            session,
            state,
            path: parts.uri.path().to_string(),
            cluster: None,
            here: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string()),
            web: web.clone(),
        };
        // Only pages show the bar; a form's POST redirects to one.
        if parts.method == axum::http::Method::GET {
            admin.cluster = cluster::view(&admin, &admin.path).await;
        }
        Ok(admin)
    }
}

impl Admin {
    /// Runs one catalog command in this session.
    pub async fn run(&self, words: &[&str]) -> Result<String, String> {
        let words = words.iter().map(|w| (*w).to_string()).collect();
        self.run_words(words, None).await
    }

    /// Runs one catalog command with standard input (a pasted filter).
    pub async fn run_words(
        &self,
        words: Vec<String>,
        stdin: Option<String>,
    ) -> Result<String, String> {
        match self
            .web
            .shared
            .control
            .run(&self.session.token, words, stdin)
            .await
        {
            Ok(r) if r.ok => Ok(r.output),
            Ok(r) => Err(r.output),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The working configuration (staged if changes are staged), the
    /// model the forms are drawn from.
    pub async fn config(&self) -> Result<Config, String> {
        let text = self.run(&["showconfig", "--json"]).await?;
        serde_json::from_str(&text).map_err(|e| format!("malformed configuration: {e}"))
    }

    /// May this user change the configuration (forms are shown read-only
    /// otherwise; the control plane refuses regardless).
    pub fn can_change(&self) -> bool {
        self.session.role.can_change_config()
    }

    pub fn role(&self) -> Role {
        self.session.role
    }

    /// The hidden CSRF field for a form.
    pub fn csrf(&self) -> Markup {
        layout::csrf_field(&self.session.csrf)
    }

    /// The page `title` with `body` in the chrome.
    pub fn page(&self, title: &str, body: Markup) -> Response {
        let chrome = layout::Chrome {
            hostname: &self.state.hostname,
            user: &self.session.user,
            role: self.session.role.name(),
            staged: self.state.staged,
            csrf: &self.session.csrf,
            flash: self.session.flash.as_ref(),
            path: &self.path,
            mode_bar: self
                .cluster
                .as_ref()
                .map(|v| cluster::mode_bar(v, &self.session.csrf, &self.here, self.can_change())),
        };
        Html(layout::page(&chrome, title, body).0).into_response()
    }

    /// Leaves the outcome of a change for the next page.
    pub fn flash(&self, ok: bool, text: impl Into<String>) {
        self.web.sessions.flash(&self.id, ok, text);
    }

    /// Runs a change and goes back to `to` (POST, redirect, GET: a reload
    /// does not repeat it), its outcome shown there. The CLI's hint about
    /// staging becomes the web's: the banner and Commit Changes say it.
    pub async fn change(&self, words: Vec<String>, stdin: Option<String>, to: &str) -> Response {
        match self.run_words(words, stdin).await {
            Ok(out) => self.flash(true, web_wording(&out)),
            Err(out) => self.flash(false, out),
        }
        Redirect::to(to).into_response()
    }

    pub fn web(&self) -> &State {
        &self.web
    }
}

/// A command's answer as the web shows it: the CLI's "run commit" hint
/// replaced by the web's words.
pub fn web_wording(out: &str) -> String {
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with("The change is staged, not yet in effect"))
        .collect();
    let mut text = lines.join("\n").trim().to_string();
    if out.contains("The change is staged, not yet in effect") {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str("Changes staged. Press Commit Changes to put them in effect.");
    }
    if text.is_empty() {
        text = "Done.".into();
    }
    text
}

/// A form that changes something: the administrator and the submitted
/// fields, after the CSRF check (a forged form gets 403).
pub struct Change {
    pub admin: Admin,
    pub fields: Vec<(String, String)>,
}

impl FromRequest<State> for Change {
    type Rejection = Response;

    async fn from_request(req: Request, web: &State) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let admin = Admin::from_request_parts(&mut parts, web).await?;
        let req = Request::from_parts(parts, body);
        let axum::Form(fields) = axum::Form::<Vec<(String, String)>>::from_request(req, web)
            .await
            .map_err(IntoResponse::into_response)?;
        let sent = fields
            .iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        if !session::same(sent, &admin.session.csrf) {
            let body = maud::html! {
                p { "This form is not from your session (it may be old, or from another site). Nothing was changed." }
                a href="/" { "Back" }
            };
            return Err((
                StatusCode::FORBIDDEN,
                Html(layout::bare("Forbidden", body).0),
            )
                .into_response());
        }
        Ok(Change { admin, fields })
    }
}

impl Change {
    /// A field's value, trimmed; `None` when missing or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        fields::field(&self.fields, name)
    }

    /// Every value of a repeated field.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A checkbox.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Serves HTTPS on `listener` until aborted.
pub async fn serve_https(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let app = router(shared.clone());
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let Some(acceptor) = shared.tls() else {
            // No certificate loads: refuse rather than serve in clear.
            drop(stream);
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                _ => return,
            };
            let service = TowerToHyperService::new(app.layer(axum::Extension(peer)));
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let _ = builder.serve_connection(TokioIo::new(tls), service).await;
        });
    }
}

/// Serves plain HTTP on `listener`: every request is redirected to the
/// same path over HTTPS.
pub async fn serve_redirect(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    serve_plain_http(listener, move |req| {
        let https_port = shared.settings().https_port;
        async move { redirect_to_https(&req, https_port) }
    })
    .await;
}

/// Serves plain HTTP/1.1 on `listener` until the task is aborted, with
/// `answer` for every request: the redirect port and the plain metrics
/// port. At most [`MAX_CONNECTIONS`] at once, [`HEADER_TIMEOUT`] for a
/// request head, as on the HTTPS port.
pub(crate) async fn serve_plain_http<F, Fut>(listener: tokio::net::TcpListener, answer: F)
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = hyper::Response<String>> + Send + 'static,
{
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let answer = answer.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let reply = answer(req);
                    async move { Ok::<_, std::convert::Infallible>(reply.await) }
                });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// `301` to `https://HOST[:PORT]/path`; the host is the one the browser
/// asked for (without its port), so the redirect works behind any name.
fn redirect_to_https<B>(req: &hyper::Request<B>, https_port: u16) -> hyper::Response<String> {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(host_without_port)
        .unwrap_or("localhost");
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = if https_port == 443 {
        format!("https://{host}{path}")
    } else {
        format!("https://{host}:{https_port}{path}")
    };
    let mut response = hyper::Response::new(String::new());
    *response.status_mut() = hyper::StatusCode::MOVED_PERMANENTLY;
    if let Ok(value) = hyper::header::HeaderValue::from_str(&location) {
        response
            .headers_mut()
            .insert(hyper::header::LOCATION, value);
    }
    response
}

/// A Host header's name, checked to be a plain host name or address (no
/// CR, LF or path characters can reach the Location header).
fn host_without_port(host: &str) -> Option<&str> {
    let name = if let Some(rest) = host.strip_prefix('[') {
        let end = rest.find(']')?;
        &host[..end + 2]
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    ok.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_keeps_the_path_and_drops_a_hostile_host() {
        let req = hyper::Request::builder()
            .uri("/mail_policies?x=1")
            .header("host", "esa1.example.com:80")
            .body(())
            .unwrap();
        let r = redirect_to_https(&req, 443);
        assert_eq!(r.status(), 301);
        assert_eq!(
            r.headers()["location"],
            "https://esa1.example.com/mail_policies?x=1"
        );
        let req = hyper::Request::builder()
            .uri("/")
            .header("host", "evil.example/x")
            .body(())
            .unwrap();
        assert_eq!(
            redirect_to_https(&req, 8443).headers()["location"],
            "https://localhost:8443/"
        );
        assert_eq!(host_without_port("[::1]:80"), Some("[::1]"));
    }
}

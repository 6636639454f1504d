//! The REST API under `/api/v1` on the HTTPS port: JSON in, JSON out,
//! for scripts and monitoring (docs/api.md documents every endpoint).
//!
//! Like the web UI it is a client of the control plane and nothing else:
//! a request authenticates as a console user (HTTP Basic on every request,
//! or a token from `POST /api/v1/login`), and every read and change is a
//! catalog command run in that user's control session: `showconfig
//! --json`, the command line of `POST /api/v1/commands` split as
//! `breakwater cli` splits it, `commit`, `clear`, `commitlog`,
//! `findevent`, `status`, `tophosts`, `quarantine`. Roles, validation,
//! staging and the login lockout are therefore the control plane's.
//!
//! One other caller: another member of this appliance's cluster, asking
//! for its part of `findevent --cluster` or `tophosts --cluster` with the
//! cluster's API token (`Authorization: Cluster TOKEN`, [`Reader`]). It
//! reads `/api/v1/tracking` and `/api/v1/status/tophosts` and nothing
//! else; the control plane checks the token (`__cluster`).
//!
//! Exposure: the Management network, over TLS only. Bodies are bounded by
//! the router's limit; every POST must say `Content-Type:
//! application/json`, which a cross-site HTML form cannot send (nor a
//! DELETE: a cross-site DELETE needs the CORS consent we never give), so a
//! browser that cached Basic credentials cannot be made to change
//! anything (the API has no cookies and no CSRF token). `ManagementAccess::
//! api_enabled` off: every `/api/v1` path answers 404.

pub mod metrics;
pub mod text;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use axum::{Extension, Json, Router};
use breakwater_control_proto::{AuthReply, SESSION_ENDED, command_words};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::link::LoginError;
use crate::web::{State, WebState};
use text::TrackingQuery;
use tokens::{ApiTokens, Lookup};

/// The realm of the `WWW-Authenticate` challenge.
pub const REALM: &str = "Breakwater";
/// The control plane's refusal of a command the role may not run.
const PERMISSION_DENIED: &str = "Permission denied";
/// The control plane's refusal while the passphrase must be changed.
const MUST_CHANGE: &str = "You must choose a new passphrase first.";

/// Every `/api/v1` route; merged into the web router (same state, same
/// body limit, same security headers).
pub fn routes() -> Router<State> {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/config", get(config))
        .route("/api/v1/config/status", get(config_status))
        .route("/api/v1/commands", post(commands))
        .route("/api/v1/commit", post(commit))
        .route("/api/v1/abandon", post(abandon))
        .route("/api/v1/commits", get(commits))
        .route("/api/v1/tracking", get(tracking))
        .route("/api/v1/status", get(status))
        .route("/api/v1/counters", get(counters))
        .route("/api/v1/status/tophosts", get(tophosts))
        .route("/api/v1/quarantines", get(quarantines))
        .route("/api/v1/quarantines/{mid}/release", post(release))
        .route("/api/v1/quarantines/{mid}", delete(delete_held))
        .route("/metrics", get(metrics::scrape))
        .route("/api/v1/reports/{file}", get(metrics::report_svg))
        .route("/api/v1", any(no_such_endpoint))
        .route("/api/v1/", any(no_such_endpoint))
        .route("/api/v1/{*rest}", any(no_such_endpoint))
        .layer(axum::middleware::map_response(json_method_not_allowed))
        .layer(Extension(Arc::new(ApiTokens::default())))
}

/// The router's own 405 has no body; a client of this API reads
/// `{"error"}` on every failure.
async fn json_method_not_allowed(response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut json = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "This endpoint does not take that method (see docs/api.md).",
    )
    .into_response();
    if let Some(allow) = allow {
        json.headers_mut().insert(header::ALLOW, allow);
    }
    json
}

/// An error answer: `{"error": "..."}` with its status; a 401 carries the
/// Basic challenge.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// A catalog command's refusal: the control plane's words, with the
    /// status a client can act on.
    fn refused(output: String) -> Self {
        let status = if output == SESSION_ENDED {
            StatusCode::UNAUTHORIZED
        } else if output.starts_with(PERMISSION_DENIED) || output.starts_with(MUST_CHANGE) {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::BAD_REQUEST
        };
        Self::new(status, output)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED
            && let Ok(challenge) = HeaderValue::from_str(&format!("Basic realm=\"{REALM}\""))
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

/// 404 unless `adminaccessconfig` has the API on.
fn check_enabled(web: &WebState) -> Result<(), ApiError> {
    if web.shared.settings().api_enabled {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "The REST API is disabled (adminaccessconfig).",
        ))
    }
}

fn tokens(parts: &Parts) -> Result<Arc<ApiTokens>, ApiError> {
    parts
        .extensions
        .get::<Arc<ApiTokens>>()
        .cloned()
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "API tokens missing"))
}

fn idle_timeout(web: &WebState) -> Duration {
    Duration::from_secs(u64::from(web.shared.settings().web_timeout_secs))
}

/// An authenticated API request: the control session it acts in. A
/// Basic request's session is its own and ends when the request does; a
/// token's lives until logout or the idle timeout.
pub struct Api {
    pub user: String,
    token: String,
    per_request: bool,
    web: State,
}

impl FromRequestParts<State> for Api {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, web: &State) -> Result<Self, ApiError> {
        check_enabled(web)?;
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "Authentication required: HTTP Basic or a token from POST /api/v1/login.",
                )
            })?;
        if text::cluster_token(value).is_some() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "The cluster's API token reads only GET /api/v1/tracking and GET /api/v1/status/tophosts.",
            ));
        }
        if let Some(token) = text::bearer_token(value) {
            let tokens = tokens(parts)?;
            return match tokens.get(token, idle_timeout(web)) {
                Lookup::Live { control, user } => Ok(Api {
                    user,
                    token: control,
                    per_request: false,
                    web: web.clone(),
                }),
                Lookup::Expired { control } => {
                    web.shared.control.logout(&control, "timeout").await;
                    Err(ApiError::unauthorized(
                        "The token expired; log in again (POST /api/v1/login).",
                    ))
                }
                Lookup::Unknown => Err(ApiError::unauthorized(
                    "Unknown or expired token; log in again (POST /api/v1/login).",
                )),
            };
        }
        let (user, password) = text::basic_credentials(value).ok_or_else(|| {
            ApiError::unauthorized("The Authorization header is neither Basic nor Bearer.")
        })?;
        let reply = login_as(web, &user, &password).await?;
        Ok(Api {
            user,
            token: reply.token,
            per_request: true,
            web: web.clone(),
        })
    }
}

/// Who may read the two endpoints of the cluster's central view
/// (`/api/v1/tracking`, `/api/v1/status/tophosts`): a console user as
/// everywhere, or another member of this appliance's cluster presenting
/// the cluster's API token (`Authorization: Cluster TOKEN`). The token is
/// checked by the control plane, which knows the cluster
/// (`__cluster TOKEN command`), for these read-only commands only.
pub enum Reader {
    User(Api),
    ClusterMember { token: String, web: State },
}

impl FromRequestParts<State> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, web: &State) -> Result<Self, ApiError> {
        check_enabled(web)?;
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(text::cluster_token);
        match presented {
            Some(token) => Ok(Reader::ClusterMember {
                token: token.to_string(),
                web: web.clone(),
            }),
            None => Api::from_request_parts(parts, web).await.map(Reader::User),
        }
    }
}

impl Reader {
    async fn run(&self, words: Vec<String>) -> Result<String, ApiError> {
        let (web, token) = match self {
            Reader::User(api) => return api.run(words, None).await,
            Reader::ClusterMember { token, web } => (web, token),
        };
        let mut args = Vec::with_capacity(words.len() + 2);
        args.push(breakwater_control_proto::CLUSTER_TOKEN.to_string());
        args.push(token.clone());
        args.extend(words);
        match web.shared.control.call(args, None, "cluster").await {
            Ok(r) if r.ok => Ok(r.output),
            Ok(r) if r.output == breakwater_control_proto::CLUSTER_TOKEN_REFUSED => {
                Err(ApiError::unauthorized(r.output))
            }
            Ok(r) => Err(ApiError::refused(r.output)),
            Err(e) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                e.to_string(),
            )),
        }
    }
}

/// A network login (`__auth ... api`): the console's accounts, lockout
/// and delays. A user who must choose a new passphrase is refused (and
/// the session just opened ended): the API has no prompt for it.
async fn login_as(web: &WebState, user: &str, password: &str) -> Result<AuthReply, ApiError> {
    match web.shared.control.login(user, password, "api").await {
        Ok(reply) if reply.must_change => {
            web.shared.control.logout(&reply.token, "logout").await;
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "The passphrase of {user} must be changed before the API can be used: log in on the web UI, over SSH or at the console and choose a new one."
                ),
            ))
        }
        Ok(reply) => Ok(reply),
        Err(LoginError::Refused(message)) => Err(ApiError::unauthorized(message)),
        Err(LoginError::Link(e)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            e.to_string(),
        )),
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        if !self.per_request {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let control = self.web.shared.control.clone();
            let token = std::mem::take(&mut self.token);
            runtime.spawn(async move { control.logout(&token, "logout").await });
        }
    }
}

impl Api {
    /// Runs one catalog command in this session: its output, or its
    /// refusal as an error.
    pub async fn run(&self, words: Vec<String>, stdin: Option<String>) -> Result<String, ApiError> {
        match self.web.shared.control.run(&self.token, words, stdin).await {
            Ok(r) if r.ok => Ok(r.output),
            Ok(r) => Err(ApiError::refused(r.output)),
            Err(e) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                e.to_string(),
            )),
        }
    }

    pub(crate) async fn run_words(&self, words: &[&str]) -> Result<String, ApiError> {
        self.run(words.iter().map(|w| (*w).to_string()).collect(), None)
            .await
    }
}

/// A JSON body: `Content-Type: application/json` is required (see the
/// module doc), an empty body reads as `{}`, malformed JSON is a 400.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<State> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, web: &State) -> Result<Self, ApiError> {
        check_enabled(web)?;
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Send Content-Type: application/json.",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, web)
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("The body is not the JSON expected: {e}")))
    }
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn login(
    axum::extract::State(web): axum::extract::State<State>,
    Extension(tokens): Extension<Arc<ApiTokens>>,
    JsonBody(c): JsonBody<Credentials>,
) -> ApiResult {
    let user = c.username.trim().to_ascii_lowercase();
    let reply = login_as(&web, &user, &c.password).await?;
    let (token, evicted) = tokens.create(reply.token, user, reply.role);
    if let Some(old) = evicted {
        web.shared.control.logout(&old, "logout").await;
    }
    Ok(Json(json!({
        "token": token,
        "role": reply.role.name(),
        "expires_in": web.shared.settings().web_timeout_secs,
    })))
}

async fn logout(
    parts: Parts,
    axum::extract::State(web): axum::extract::State<State>,
    JsonBody(_): JsonBody<Value>,
) -> ApiResult {
    let mut parts = parts;
    let api = Api::from_request_parts(&mut parts, &web).await?;
    if !api.per_request {
        let tokens = tokens(&parts)?;
        let sent = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(text::bearer_token)
            .unwrap_or_default();
        if let Some(control) = tokens.remove(sent) {
            web.shared.control.logout(&control, "logout").await;
        }
    }
    Ok(Json(json!({ "ok": true })))
}

async fn config(api: Api) -> ApiResult {
    let out = api.run_words(&["showconfig", "--json"]).await?;
    serde_json::from_str(&out).map(Json).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("malformed configuration: {e}"),
        )
    })
}

async fn config_status(api: Api) -> ApiResult {
    match api.web.shared.control.state(&api.token).await {
        Ok(Some(state)) => Ok(Json(json!({
            "staged": state.staged,
            "user": state.user,
            "role": state.role.name(),
            "hostname": state.hostname,
        }))),
        Ok(None) => Err(ApiError::unauthorized(SESSION_ENDED)),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            e.to_string(),
        )),
    }
}

#[derive(Deserialize)]
struct CommandBody {
    command: String,
    stdin: Option<String>,
}

/// The words of `POST /api/v1/commands`: the line split as `breakwater
/// cli` splits it. The control protocol's own requests (`__auth`,
/// `__session`, ...) are not commands of the catalog.
fn command_line(line: &str) -> Result<Vec<String>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Err(breakwater_control_proto::CommandLineError::Empty.to_string());
    }
    let words = command_words(vec![line.to_string()]).map_err(|e| e.to_string())?;
    match words.first() {
        Some(first) if first.starts_with("__") => Err(format!("Unknown command: {first}")),
        _ => Ok(words),
    }
}

async fn commands(api: Api, JsonBody(body): JsonBody<CommandBody>) -> ApiResult {
    let words = command_line(&body.command).map_err(ApiError::bad_request)?;
    let output = api.run(words, body.stdin).await?;
    Ok(Json(json!({ "ok": true, "output": output })))
}

#[derive(Deserialize, Default)]
struct CommitBody {
    #[serde(default)]
    comment: Option<String>,
}

async fn commit(api: Api, JsonBody(body): JsonBody<CommitBody>) -> ApiResult {
    let mut words = vec!["commit".to_string()];
    if let Some(comment) = body.comment.as_deref().filter(|c| !c.trim().is_empty()) {
        // One line, as the console's prompt takes it.
        words.push(comment.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    let output = api.run(words, None).await?;
    Ok(Json(json!({ "ok": true, "output": output })))
}

async fn abandon(api: Api, JsonBody(_): JsonBody<Value>) -> ApiResult {
    let output = api.run_words(&["clear"]).await?;
    Ok(Json(json!({ "ok": true, "output": output })))
}

async fn commits(api: Api) -> ApiResult {
    let out = api.run_words(&["commitlog"]).await?;
    Ok(Json(match text::commit_rows(&out) {
        Some(rows) => json!({ "commits": rows, "text": out }),
        None => json!({ "text": out }),
    }))
}

async fn tracking(
    reader: Reader,
    query: Result<Query<TrackingQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let out = reader.run(text::findevent_words(&q)).await?;
    // `findevent --json` is the answer: `{found, shown, lines_omitted,
    // messages}`, the same object the web UI's Message Tracking reads.
    serde_json::from_str(&out).map(Json).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("malformed findevent answer: {e}"),
        )
    })
}

async fn status(api: Api) -> ApiResult {
    let out = api.run_words(&["status"]).await?;
    Ok(Json(
        json!({ "fields": text::status_fields(&out), "text": out }),
    ))
}

async fn counters(api: Api) -> ApiResult {
    let detail = api.run_words(&["status", "detail"]).await?;
    let hosts = api.run_words(&["tophosts"]).await?;
    Ok(Json(json!({
        "detail": { "text": detail },
        "tophosts": { "hosts": text::tophosts_rows(&hosts), "text": hosts },
    })))
}

/// `tophosts` alone: the rows every member answers for `tophosts
/// --cluster`.
async fn tophosts(reader: Reader) -> ApiResult {
    let hosts = reader.run(vec!["tophosts".to_string()]).await?;
    Ok(Json(
        json!({ "hosts": text::tophosts_rows(&hosts), "text": hosts }),
    ))
}

async fn quarantines(api: Api) -> ApiResult {
    let out = api.run_words(&["quarantine", "list"]).await?;
    Ok(Json(match text::quarantine_rows(&out) {
        Some((quarantines, held)) => {
            json!({ "quarantines": quarantines, "messages": held, "text": out })
        }
        None => json!({ "text": out }),
    }))
}

/// A MID in the path: digits only, so it is one word of the command.
fn mid(raw: &str) -> Result<&str, ApiError> {
    if !raw.is_empty() && raw.len() <= 20 && raw.bytes().all(|b| b.is_ascii_digit()) {
        Ok(raw)
    } else {
        Err(ApiError::bad_request(format!("'{raw}' is not a MID.")))
    }
}

async fn release(api: Api, Path(raw): Path<String>, JsonBody(_): JsonBody<Value>) -> ApiResult {
    let output = api
        .run_words(&["quarantine", "release", mid(&raw)?])
        .await?;
    Ok(Json(json!({ "ok": true, "output": output })))
}

async fn delete_held(api: Api, Path(raw): Path<String>) -> ApiResult {
    let output = api.run_words(&["quarantine", "delete", mid(&raw)?]).await?;
    Ok(Json(json!({ "ok": true, "output": output })))
}

async fn no_such_endpoint(axum::extract::State(web): axum::extract::State<State>) -> ApiError {
    if let Err(e) = check_enabled(&web) {
        return e;
    }
    ApiError::new(
        StatusCode::NOT_FOUND,
        "There is no such endpoint (see docs/api.md).",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_is_split_as_the_cli_splits_it() {
        assert_eq!(
            command_line("destconfig new example.com --concurrency 10").unwrap(),
            ["destconfig", "new", "example.com", "--concurrency", "10"]
        );
        assert_eq!(
            command_line("commit 'two words'").unwrap(),
            ["commit", "two words"]
        );
        assert_eq!(command_line("status").unwrap(), ["status"]);
        assert!(command_line("").is_err());
        assert!(command_line("commit 'open").is_err());
        assert!(command_line("__session abc status").is_err());
    }

    #[test]
    fn refusals_map_to_statuses_a_client_can_act_on() {
        assert_eq!(
            ApiError::refused(
                "Permission denied: user r (read-only) cannot run \"commit\" with these arguments."
                    .into()
            )
            .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            ApiError::refused(SESSION_ENDED.into()).status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            ApiError::refused("There are no changes to commit.".into()).status,
            StatusCode::BAD_REQUEST
        );
        let r = ApiError::unauthorized("Login incorrect.").into_response();
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"Breakwater\""
        );
    }
}

//! The control plane: a Unix socket under the data directory through which
//! `breakwater cli` and the serial console (`breakwater console`) run
//! commands against the running daemon.
//!
//! Exposure: local only. The socket is created owner-only (0600) inside an
//! owner-only data directory; whoever can open it is an administrator.
//! Requests are bounded (one line of at most `MAX_REQUEST` bytes).
//!
//! Who is asking: a request that names a console session
//! (`["__session", token, command...]`, the token from `__auth`) runs as
//! that session's user with that user's [`Role`]; every other request comes
//! from the owner of the socket (`breakwater cli`, root on the appliance)
//! and runs as `admin` under its `user` name. Every command is looked up
//! in the [`catalog`] of the control protocol: an unknown name is refused
//! there, the role its form needs is checked before it runs, and the
//! entry says who answers it. The console-only requests:
//!
//! | args | stdin | answer |
//! | --- | --- | --- |
//! | `__banner` | | [`Banner`] (JSON) |
//! | `__auth USER TTY [ORIGIN]` | the passphrase | [`users::AuthReply`] or [`users::AuthFailure`] (JSON) |
//! | `__auth_key USER TTY` | the public key (`authorized_keys` line) | as `__auth`: a session only when the key is one of USER's committed `management.ssh_keys` (SSH checked the key's signature) |
//! | `__session TOKEN __state` | | [`SessionState`] (JSON) |
//! | `__session TOKEN __logout [HOW]` | | closes the session |
//! | `__session TOKEN passwd` | `OLD\nNEW` | changes the user's own passphrase |
//! | `userconfig ...`, `who`, `last` | new passphrases | user management |
//! | `__cluster TOKEN findevent --json ...`, `__cluster TOKEN tophosts` | | another cluster member's question, relayed by the REST API: only with the cluster's API token (compared in constant time), only these read-only commands ([`cluster_fanout`]) |

// The crates below, at the paths the commands name them by. The control
// plane reaches the running mail stages only through [`DaemonStatus`]; what
// it takes from `breakwater-mail` and `breakwater-platform` are checks and
// constants (a certificate loads into a TLS acceptor, open-file needs, the
// Management port's name), never a running stage.
pub(crate) use breakwater_filters as filters;
pub(crate) use breakwater_logging as logging;
pub(crate) use breakwater_mail::{delivery, dns, open_files, smtp_in};
pub(crate) use breakwater_platform::{init, supervisor};
pub(crate) use breakwater_store::config;
pub(crate) use breakwater_store::ids;
pub(crate) use breakwater_types::display;

pub mod audit;
pub mod cluster;
pub mod cluster_fanout;
pub mod commands;
pub mod logsearch;
pub mod table;
mod users_text;
/// The accounts, sessions and login history are kept by the store (the
/// only crate naming sled).
pub use breakwater_store::users;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

pub use breakwater_control_proto::catalog::{self, Answerer, permitted};
pub use breakwater_control_proto::{
    AUTH, AUTH_KEY, BANNER, Banner, CLUSTER_TOKEN, CONTROL_SOCKET_NAME, CommandLineError, LOGOUT,
    Request, Response, SESSION, SESSION_ENDED, STATE, SessionState, command_words,
};

use crate::config::{Config, ConfigStore};
use users::{AuthFailure, Role, UserError, UserStore};

/// Largest request accepted (a pasted filter script fits easily).
pub const MAX_REQUEST: u64 = 1024 * 1024;

/// The socket's path for a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(CONTROL_SOCKET_NAME)
}

/// What the daemon answers for itself (commands that are not about config).
pub trait DaemonStatus: Send + Sync + 'static {
    fn status(&self) -> String;
    /// Operator commands the daemon answers itself (`tophosts`,
    /// `showmessage`, `delivernow`, ...). Called on a blocking thread;
    /// `None` when `args` is not one of them.
    fn command(&self, _args: &[String]) -> Option<Result<String, String>> {
        None
    }
    /// How the box last stopped, for the login banner (`None`: unknown).
    fn last_boot(&self) -> Option<String> {
        None
    }
    /// `Boot reason: ...` and the firmware slot lines, for the banner and
    /// `version`.
    fn boot_info(&self) -> Vec<String> {
        Vec::new()
    }
    /// The board profile's name, `version`'s Model (`None`: unknown).
    fn model(&self) -> Option<String> {
        None
    }
    /// The cluster agent (issue 20); `None`: no cluster support (a test
    /// rig), every command works on the machine's configuration.
    fn cluster(&self) -> Option<Arc<dyn cluster::ClusterLink>> {
        None
    }
}

pub struct ControlServer {
    pub store: Arc<ConfigStore>,
    pub on_commit: Arc<dyn Fn(&Config) + Send + Sync>,
    pub daemon: Arc<dyn DaemonStatus>,
}

/// A user's own session and passphrase: every role, even one that must
/// choose a new passphrase first.
const SELF_SERVICE: &[&str] = &["passwd", STATE, LOGOUT];

/// This machine's values for `version` (`Hardware`'s fields say where
/// each comes from).
fn hardware(model: Option<String>) -> breakwater_control_proto::Hardware {
    let build_date = std::env::current_exe()
        .and_then(std::fs::metadata)
        .and_then(|m| m.modified())
        .ok()
        .map(|t| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .format("%Y-%m-%d")
                .to_string()
        });
    let bios = std::fs::read_to_string("/sys/class/dmi/id/bios_version")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let memory_mb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024)
    });
    breakwater_control_proto::Hardware {
        model,
        build_date,
        bios,
        cpus: std::thread::available_parallelism().ok().map(|n| n.get()),
        memory_mb,
    }
}

fn fail(output: impl Into<String>) -> Response {
    Response {
        ok: false,
        output: output.into(),
    }
}

fn answer(result: Result<String, String>) -> Response {
    match result {
        Ok(output) => Response { ok: true, output },
        Err(output) => fail(output),
    }
}

fn json<T: Serialize>(ok: bool, value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(output) => Response { ok, output },
        Err(e) => fail(e.to_string()),
    }
}

impl ControlServer {
    /// Binds the socket (replacing a stale one) and serves until aborted.
    /// Users live in a database of their own under `data_dir`; see
    /// [`ControlServer::start_with_users`] to keep them in the main one.
    pub fn start(self, data_dir: &Path) -> std::io::Result<tokio::task::JoinHandle<()>> {
        let users = UserStore::open_standalone(data_dir, users::LoginPolicy::default())
            .map_err(std::io::Error::other)?;
        self.start_with_users(data_dir, users)
    }

    /// Like [`ControlServer::start`], with the console users in `users`.
    pub fn start_with_users(
        self,
        data_dir: &Path,
        users: UserStore,
    ) -> std::io::Result<tokio::task::JoinHandle<()>> {
        use std::os::unix::fs::PermissionsExt;
        let path = socket_path(data_dir);
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        let server = Arc::new(Served {
            server: self,
            users,
            data_dir: data_dir.to_path_buf(),
            api_token: cluster_fanout::TokenCache::default(),
        });
        Ok(tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let server = server.clone();
                tokio::spawn(async move { server.serve(stream).await });
            }
        }))
    }
}

/// The control server and the console users, as the socket serves them.
struct Served {
    server: ControlServer,
    users: UserStore,
    /// For the log files (`logsearch`) and saved configurations.
    data_dir: PathBuf,
    /// The cluster's API token, once read from etcd (see
    /// [`cluster_fanout::TokenCache`]).
    api_token: cluster_fanout::TokenCache,
}

impl Served {
    async fn serve(self: Arc<Self>, stream: UnixStream) {
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        let mut reader = BufReader::new(read.take(MAX_REQUEST));
        let response = match reader.read_line(&mut line).await {
            Ok(_) => match serde_json::from_str::<Request>(&line) {
                Ok(req) => self.clone().dispatch(req).await,
                Err(e) => fail(format!("malformed control request: {e}")),
            },
            Err(e) => fail(format!("cannot read control request: {e}")),
        };
        if let Ok(mut text) = serde_json::to_string(&response) {
            text.push('\n');
            let _ = write.write_all(text.as_bytes()).await;
        }
    }

    async fn dispatch(self: Arc<Self>, req: Request) -> Response {
        // Config commands touch sled synchronously (a commit flushes) and
        // a login runs argon2: both stay off the async workers.
        match tokio::task::spawn_blocking(move || self.handle(req)).await {
            Ok(response) => response,
            Err(e) => fail(format!("command failed: {e}")),
        }
    }

    /// Every answer is escaped for the operator's terminal (see
    /// [`crate::display`]): queue views, tracking, log lines and traces
    /// carry what senders chose, and one place here covers every command,
    /// today's and tomorrow's. Only the JSON the console parses itself is
    /// left alone (JSON escapes C0 controls; the console escapes what it
    /// prints from it).
    fn handle(&self, req: Request) -> Response {
        let json_answer = is_json_request(&req.args);
        let mut response = self.answer(req);
        if !json_answer
            && let std::borrow::Cow::Owned(escaped) = crate::display::escape_text(&response.output)
        {
            response.output = escaped;
        }
        response
    }

    fn answer(&self, req: Request) -> Response {
        let first = req.args.first().map(|s| s.to_ascii_lowercase());
        match first.as_deref() {
            Some(AUTH) => return self.auth(&req.args, req.stdin.as_deref()),
            Some(AUTH_KEY) => return self.auth_key(&req.args, req.stdin.as_deref()),
            Some(BANNER) => return self.banner(),
            Some(CLUSTER_TOKEN) => return self.member_question(&req.args),
            _ => {}
        }
        // Who is asking: a console session, or the socket's owner (admin).
        let (user, role, token, args, tty) = if first.as_deref() == Some(SESSION) {
            let Some(token) = req.args.get(1) else {
                return fail(SESSION_ENDED);
            };
            let (u, session) = match self.users.session(token) {
                Ok(Some(found)) => found,
                Ok(None) => return fail(SESSION_ENDED),
                Err(e) => return fail(e.to_string()),
            };
            let args = req.args[2..].to_vec();
            let name = args
                .first()
                .map(|s| s.to_ascii_lowercase())
                .unwrap_or_default();
            if u.must_change && !SELF_SERVICE.contains(&name.as_str()) {
                return fail("You must choose a new passphrase first.");
            }
            (u.name, u.role, Some(token.clone()), args, Some(session.tty))
        } else {
            (req.user, Role::Admin, None, req.args, None)
        };
        let origin = audit::origin(tty.as_deref());
        let Some(typed) = args.first() else {
            return fail(commands::overview());
        };
        let name = typed.to_ascii_lowercase();
        // The session's own requests: every role.
        match name.as_str() {
            STATE => return self.state(&user, role),
            LOGOUT => {
                return match token {
                    Some(t) => {
                        let how = args.get(1).map_or("logout", String::as_str);
                        self.users.end(&t, how).map_or_else(
                            |e| fail(e.to_string()),
                            |()| answer(Ok("Logged out.".into())),
                        )
                    }
                    None => fail("No console session to end."),
                };
            }
            _ => {}
        }
        // The one place an unknown command is refused.
        let Some(command) = catalog::daemon_command(&name) else {
            return fail(commands::CliError::UnknownCommand(typed.clone()).to_string());
        };
        if !role.at_least(command.role_for(&args)) {
            return fail(format!(
                "Permission denied: user {user} ({}) cannot run \"{typed}\" with these arguments.",
                role.name()
            ));
        }
        let stdin = req.stdin.as_deref();
        if cluster_fanout::is_cluster_form(&args) {
            return answer(self.cluster_form(&args));
        }
        answer(match command.answered_by {
            Answerer::Daemon | Answerer::WorkQueue => match self.server.daemon.command(&args) {
                Some(result) => result,
                None if command.name == "status" => Ok(self.server.daemon.status()),
                // Without a running gateway (a test rig): the command
                // family says what it can (`quarantine`: unreachable).
                None => self.config_command(&user, &origin, &args, stdin),
            },
            Answerer::Logs => logsearch::run(&self.data_dir, &args)
                .unwrap_or_else(|| Err(command.usage.to_string())),
            Answerer::Users => self
                .users_command(&user, token.is_some(), &args, stdin)
                .map_err(|e| e.to_string()),
            Answerer::Config | Answerer::Console => {
                self.config_command(&user, &origin, &args, stdin)
            }
        })
    }

    /// The cluster's directory as the cluster agent knows it; `None`
    /// when standalone (or without cluster support).
    fn cluster_directory(&self) -> Option<cluster_fanout::LinkDirectory<'_>> {
        let link = self.server.daemon.cluster()?;
        cluster_fanout::LinkDirectory::new(link, &self.server.store, &self.api_token)
    }

    /// `findevent --cluster`, `tophosts --cluster`: every member's answer
    /// merged (see [`cluster_fanout`]); this machine answers its own part
    /// here, as the command without `--cluster` would.
    fn cluster_form(&self, args: &[String]) -> Result<String, String> {
        let directory = self.cluster_directory();
        let directory = directory
            .as_ref()
            .map(|d| d as &dyn cluster_fanout::ClusterDirectory);
        if args[0].eq_ignore_ascii_case("findevent") {
            let local = |words: &[String]| {
                logsearch::run(&self.data_dir, words)
                    .unwrap_or_else(|| Err(logsearch::FINDEVENT_USAGE.to_string()))
            };
            cluster_fanout::findevent(directory, args, &local)
        } else {
            let local = || {
                self.server
                    .daemon
                    .command(&["tophosts".to_string()])
                    .unwrap_or_else(|| Err("The work queue is not running.".to_string()))
            };
            cluster_fanout::tophosts(directory, args, &local)
        }
    }

    /// Another member's question (`[CLUSTER_TOKEN, token, command...]`,
    /// from the management plane): answered only with the cluster's
    /// token, and only the read-only commands of the `--cluster` forms.
    fn member_question(&self, args: &[String]) -> Response {
        let refused = || fail(breakwater_control_proto::CLUSTER_TOKEN_REFUSED);
        let (Some(presented), Some(words)) = (args.get(1), args.get(2..)) else {
            return refused();
        };
        let Some(directory) = self.cluster_directory() else {
            return refused();
        };
        match cluster_fanout::ClusterDirectory::api_token(&directory) {
            Ok(expected) if cluster_fanout::token_matches(presented, &expected) => {}
            _ => return refused(),
        }
        if !cluster_fanout::member_may_ask(words) {
            return fail(format!(
                "Permission denied: another member of the cluster may run only \"findevent --json\" and \"tophosts\", not \"{}\".",
                words.join(" ")
            ));
        }
        answer(if words[0].eq_ignore_ascii_case("findevent") {
            logsearch::run(&self.data_dir, words)
                .unwrap_or_else(|| Err(logsearch::FINDEVENT_USAGE.to_string()))
        } else {
            self.server
                .daemon
                .command(words)
                .unwrap_or_else(|| Err("The work queue is not running.".to_string()))
        })
    }

    /// A configuration command (`commands::run`; `saveconfig` and
    /// `loadconfig` also reach the saved files of the data directory).
    fn config_command(
        &self,
        user: &str,
        origin: &str,
        args: &[String],
        stdin: Option<&str>,
    ) -> Result<String, String> {
        let on_commit = |c: &Config| {
            audit::record_latest(&self.server.store, origin);
            (self.server.on_commit)(c)
        };
        let ctx = commands::CommandContext {
            store: &self.server.store,
            user,
            on_commit: &on_commit,
        };
        if let Some(link) = self.server.daemon.cluster()
            && let Some(answer) = self.cluster_command(&*link, &ctx, args, stdin)
        {
            return answer;
        }
        commands::run(&ctx, Some(&self.data_dir), args, stdin).map_err(|e| e.to_string())
    }

    /// A command as a cluster member runs it (issue 20): the cluster
    /// commands, and any configuration command at the level of the
    /// user's mode. `None`: run it on the machine's configuration as a
    /// standalone appliance would.
    fn cluster_command(
        &self,
        link: &dyn cluster::ClusterLink,
        ctx: &commands::CommandContext<'_>,
        args: &[String],
        stdin: Option<&str>,
    ) -> Option<Result<String, String>> {
        let name = args.first()?.to_ascii_lowercase();
        let rest = &args[1..];
        let text = |r: Result<String, commands::CliError>| r.map_err(|e| e.to_string());
        match name.as_str() {
            "clusterconfig" => return Some(text(commands::clusterconfig::run(link, ctx, rest))),
            "clustermode" => return Some(text(commands::clustermode::run(link, ctx, rest))),
            "clustercheck" => return Some(text(commands::clustercheck::run(link, ctx, rest))),
            _ => {}
        }
        let state = link.state();
        let m = state.membership().ok()??;
        let level = cluster::mode(state, ctx.user);
        let changes = catalog::daemon_command(&name).is_some_and(|c| {
            c.changes_config && !matches!(c.role_for(args), Role::ReadOnly | Role::Guest)
        });
        let sections = breakwater_control_proto::levels::sections_of(args);
        if changes && !sections.is_empty() {
            let cache = state.cache().unwrap_or_default();
            let overrides = state.overrides().unwrap_or_default();
            if let Err(e) = cluster::check_level(&name, sections, &level, &m, &cache, &overrides) {
                return Some(Err(e));
            }
        }
        if matches!(level, config::cluster::Level::Machine(_)) {
            if name != "commit" {
                return None;
            }
            let result = commands::run(ctx, Some(&self.data_dir), args, stdin);
            if result.is_ok() {
                cluster::record_overrides(link, ctx.store, &m);
            }
            return Some(text(result));
        }
        let view = match cluster::view(ctx.store, state, &m, &level) {
            Ok(v) => v,
            Err(e) => return Some(Err(e)),
        };
        Some(match name.as_str() {
            "commit" => {
                let comment = rest.join(" ");
                cluster::commit_level(link, ctx.store, &m, &level, ctx.user, comment.trim())
            }
            "clear" => match view.clear() {
                Ok(true) => Ok("Changes cleared.".to_string()),
                Ok(false) => Ok("There are no uncommitted changes.".to_string()),
                Err(e) => Err(e.to_string()),
            },
            "commitlog" | "commithistory" => cluster::commitlog(ctx.store, &m, &level),
            "rollback" => cluster::rollback(ctx.store, &view, &m, &level, rest),
            _ => {
                let nothing = |_: &Config| {};
                let at_level = commands::CommandContext {
                    store: &view,
                    user: ctx.user,
                    on_commit: &nothing,
                };
                text(commands::run(&at_level, Some(&self.data_dir), args, stdin))
            }
        })
    }

    fn auth(&self, args: &[String], password: Option<&str>) -> Response {
        let (Some(user), Some(password)) = (args.get(1), password) else {
            return fail("usage: __auth USER [TTY [serial|network]], the passphrase on stdin");
        };
        let tty = args.get(2).map_or("console", String::as_str);
        // Whoever can open this socket may claim the serial console (it
        // is root on the box anyway, see the module doc); anything that
        // does not say so is a network login, the stricter kind.
        let origin = args
            .get(3)
            .map_or(users::Origin::Network, |o| users::Origin::parse(o));
        match self.users.authenticate(user, password, tty, origin) {
            Ok(reply) => json(true, &reply),
            Err(e) => {
                let delay_ms = match e {
                    UserError::Incorrect { delay_ms } => delay_ms,
                    _ => 0,
                };
                let message = e.to_string();
                json(false, &AuthFailure { message, delay_ms })
            }
        }
    }

    /// A session for a user who proved `key` over SSH (the management
    /// plane verified the signature; whoever can open this socket is
    /// trusted that far, see the module doc). The key must be one of the
    /// user's keys in the *committed* configuration: a staged `sshconfig`
    /// change grants nothing until it is committed.
    fn auth_key(&self, args: &[String], key: Option<&str>) -> Response {
        let (Some(user), Some(key)) = (args.get(1), key) else {
            return fail("usage: __auth_key USER TTY, the public key on stdin");
        };
        let tty = args.get(2).map_or("ssh", String::as_str);
        let configured = self
            .server
            .store
            .committed()
            .map(|c| c.management.ssh_keys)
            .unwrap_or_default();
        let keys = configured.iter().map(|k| (k.user.as_str(), k.key.as_str()));
        let refused = |e: UserError| {
            let message = e.to_string();
            json(
                false,
                &AuthFailure {
                    message,
                    delay_ms: 0,
                },
            )
        };
        if !breakwater_control_proto::key_is_authorized(keys, user, key) {
            // The management plane logs the refusal with the peer's address.
            return refused(UserError::Incorrect { delay_ms: 0 });
        }
        match self.users.open_session_for_key(user, tty) {
            Ok(reply) => json(true, &reply),
            Err(e) => refused(e),
        }
    }

    /// The committed host name, for the banner and the prompt.
    fn hostname(&self) -> String {
        let committed = self.server.store.committed();
        committed.map(|c| c.hostname).unwrap_or_default()
    }

    fn banner(&self) -> Response {
        let serial = match self.users.serial() {
            Ok(s) => s,
            Err(e) => return fail(e.to_string()),
        };
        json(
            true,
            &Banner {
                product: "Breakwater".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                serial,
                hostname: self.hostname(),
                last_boot: self.server.daemon.last_boot(),
                boot_info: self.server.daemon.boot_info(),
                hardware: hardware(self.server.daemon.model()),
            },
        )
    }

    fn state(&self, user: &str, role: Role) -> Response {
        let staged = match self.server.store.staged() {
            Ok(s) => s.is_some(),
            Err(e) => return fail(e.to_string()),
        };
        json(
            true,
            &SessionState {
                hostname: self.hostname(),
                user: user.to_string(),
                role,
                staged,
            },
        )
    }

    fn users_command(
        &self,
        user: &str,
        console: bool,
        args: &[String],
        stdin: Option<&str>,
    ) -> Result<String, UserError> {
        let usage = || UserError::Invalid(breakwater_control_proto::usage::USERCONFIG.to_string());
        let secret = || {
            stdin
                .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
                .ok_or_else(|| {
                    UserError::Invalid(
                        "The passphrase is read from standard input (use the console).".into(),
                    )
                })
        };
        let lower: Vec<String> = args.iter().map(|a| a.to_ascii_lowercase()).collect();
        let words: Vec<&str> = lower.iter().map(String::as_str).collect();
        let role_of = |s: &str| {
            Role::parse(s).ok_or_else(|| {
                UserError::Invalid(format!(
                    "Unknown role '{s}': admin, operator, read-only or guest."
                ))
            })
        };
        match words.as_slice() {
            ["who"] => Ok(users_text::render_who(&self.users.sessions()?)),
            ["last"] => Ok(users_text::render_last(&self.users.last(20)?)),
            ["passwd"] if console => {
                let text = stdin.unwrap_or_default();
                let mut lines = text.lines();
                let (old, new) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
                self.users.change_password(user, old, new)?;
                Ok("Passphrase changed.".into())
            }
            ["passwd"] => Err(UserError::Invalid(
                "passwd changes a console user's own passphrase; use \"userconfig edit NAME password\".".into(),
            )),
            ["userconfig", "print"] => Ok(users_text::render_users(&self.users.users()?)),
            ["userconfig", "new", _, role, ..] => {
                let role = role_of(role)?;
                let full = args[4..].join(" ");
                self.users.add_user(&args[2], &full, role, &secret()?)?;
                Ok(format!(
                    "User {} ({}) created; they choose a new passphrase at first login.",
                    lower[2],
                    role.name()
                ))
            }
            ["userconfig", "edit", name, "role", role] => {
                let role = role_of(role)?;
                self.users.update(name, |u| u.role = role)?;
                Ok(format!("User {name} is now {}.", role.name()))
            }
            ["userconfig", "edit", name, "fullname", ..] => {
                let full = args[4..].join(" ");
                if full.chars().any(char::is_control) || full.len() > 128 {
                    return Err(UserError::Invalid("The full name must be one line of at most 128 characters.".into()));
                }
                self.users.update(name, |u| u.full_name.clone_from(&full))?;
                Ok(format!("Full name of {name} changed."))
            }
            ["userconfig", "edit", name, "password"] => {
                self.users.set_password(name, &secret()?)?;
                Ok(format!("Passphrase of {name} set; they choose a new one at next login."))
            }
            ["userconfig", "delete", name] => {
                self.users.delete_user(name, user)?;
                Ok(format!("User {name} deleted."))
            }
            ["userconfig", "unlock", name] => {
                self.users.update(name, |u| {
                    u.locked_until_ms = 0;
                    u.failures = 0;
                })?;
                Ok(format!("User {name} unlocked."))
            }
            _ => Err(usage()),
        }
    }
}

/// Requests answered with JSON for a program: `__auth`, `__banner`,
/// `__session TOKEN __state`, and any `--json` form. JSON escapes C0
/// controls itself; whoever prints from it escapes the rest (the console
/// does, in `Terminal::print`).
fn is_json_request(args: &[String]) -> bool {
    let is = |i: usize, name: &str| args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(name));
    is(0, AUTH)
        || is(0, AUTH_KEY)
        || is(0, BANNER)
        || (is(0, SESSION) && is(2, STATE))
        || args.iter().any(|a| a.eq_ignore_ascii_case("--json"))
}

/// Client side: runs one command against the daemon of `data_dir`.
pub async fn call(data_dir: &Path, request: &Request) -> Result<Response, String> {
    let path = socket_path(data_dir);
    // Root runs this too, on a directory the daemon's user owns: the name
    // is pinned (no link followed, a socket) before connect(2).
    let pinned = crate::supervisor::safe_fs::Dir::open(data_dir)
        .and_then(|d| d.pin_socket(CONTROL_SOCKET_NAME));
    let connected = match &pinned {
        Ok(p) => UnixStream::connect(p.path()).await,
        Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
    };
    let mut stream = connected.map_err(|e| {
        format!(
            "cannot reach the Breakwater daemon at {}: {e} (is `breakwater run --data-dir {}` running?)",
            path.display(),
            data_dir.display()
        )
    })?;
    let mut text = serde_json::to_string(request).map_err(|e| e.to_string())?;
    text.push('\n');
    stream
        .write_all(text.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut reply = String::new();
    BufReader::new(stream)
        .read_line(&mut reply)
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_str(&reply).map_err(|e| format!("malformed reply from the daemon: {e}"))
}

#[cfg(test)]
mod tests {
    use super::permitted;
    use super::users::Role;

    /// One row of docs/console.md's "Roles" table: the command, then
    /// whether admin, operator, read-only and guest may run it.
    const ROLE_TABLE: &[(&str, [bool; 4])] = &[
        ("status", [true, true, true, true]),
        ("status detail", [true, true, true, true]),
        ("status plot queue", [true, true, true, true]),
        ("tophosts", [true, true, true, true]),
        ("reportdata --json", [true, true, true, true]),
        ("metrics", [true, true, true, true]),
        ("hoststatus example.com", [true, true, true, true]),
        // The cut-over commands (issue 16).
        ("rate", [true, true, true, true]),
        ("rate 1 3", [true, true, true, true]),
        ("hostrate example.com 5", [true, true, true, true]),
        ("dnsstatus", [true, true, true, true]),
        ("topin", [true, true, true, false]),
        ("nslookup example.com MX", [true, true, true, false]),
        ("telnet mx.example.com 25 Data 2", [true, true, true, false]),
        ("ping 192.0.2.1", [true, true, true, false]),
        ("traceroute 192.0.2.1", [true, true, true, false]),
        ("dnsflush", [true, true, false, false]),
        (
            "findevent -i -s report mail_logs",
            [true, true, true, false],
        ),
        ("grep -e DCID mail_logs", [true, true, true, false]),
        ("workqueue", [true, true, true, true]),
        ("workqueue status", [true, true, true, true]),
        ("upgrade", [true, true, true, true]),
        ("upgrade status", [true, true, true, true]),
        ("help", [true, true, true, true]),
        ("passwd", [true, true, true, true]),
        ("showconfig", [true, true, true, false]),
        ("showconfig --json", [true, true, true, false]),
        ("filters list", [true, true, true, false]),
        (
            "filters detail office365_outbound",
            [true, true, true, false],
        ),
        ("filters export", [true, true, true, false]),
        ("saveconfig print", [true, true, true, false]),
        ("certconfig print", [true, true, true, false]),
        ("certconfig print --json", [true, true, true, false]),
        ("adminaccessconfig print", [true, true, true, false]),
        ("sshconfig print", [true, true, true, false]),
        (
            "adminaccessconfig setup --ssh-port 22",
            [true, true, false, false],
        ),
        ("adminaccessconfig timeout 60", [true, true, false, false]),
        ("sshconfig new bob -", [true, true, false, false]),
        ("sshconfig delete bob 1", [true, true, false, false]),
        ("listenerconfig print", [true, true, true, false]),
        ("commitlog", [true, true, true, false]),
        ("who", [true, true, true, false]),
        ("userconfig print", [true, true, true, false]),
        ("showmessage 1", [true, true, true, false]),
        ("quarantine list", [true, true, true, false]),
        ("quarantine show 1", [true, true, true, false]),
        ("findevent -m 1", [true, true, true, false]),
        ("tail mail_logs", [true, true, true, false]),
        ("grep -e x mail_logs", [true, true, true, false]),
        ("trace -s 127.0.0.9", [true, true, true, false]),
        ("filters trace -s 127.0.0.9", [true, true, true, false]),
        (
            "smtproutes new example.com mx.example.com",
            [true, true, false, false],
        ),
        ("commit done", [true, true, false, false]),
        ("quarantine release 1", [true, true, false, false]),
        ("deletemessage 1", [true, true, false, false]),
        ("saveconfig", [true, true, false, false]),
        (
            "saveconfig print --include-secrets",
            [true, false, false, false],
        ),
        ("saveconfig --include-secrets", [true, false, false, false]),
        ("userconfig new bob guest", [true, false, false, false]),
        ("userconfig unlock bob", [true, false, false, false]),
        ("upgrade install /tmp/p.bwup", [true, false, false, false]),
        ("systemsetup status", [true, true, true, false]),
        ("systemsetup print", [true, true, true, false]),
        ("systemsetup print --json", [true, true, true, false]),
        (
            "systemsetup secretfilter office365_outbound",
            [true, true, false, false],
        ),
        ("listenerconfig setup print", [true, true, true, false]),
        (
            "listenerconfig edit IncomingMail hostaccess print",
            [true, true, true, false],
        ),
        ("dnsconfig trustanchor print", [true, true, true, false]),
        ("sethostname print", [true, true, true, false]),
        ("settz", [true, true, true, false]),
        ("alertconfig", [true, true, true, false]),
        ("alertconfig print", [true, true, true, false]),
        ("alertconfig new a@example.com", [true, true, false, false]),
        ("settz print", [true, true, true, false]),
        ("destconfig detail example.com", [true, true, true, false]),
        ("policyconfig list incoming", [true, true, true, false]),
        ("last", [true, true, true, false]),
        ("commithistory", [true, true, true, false]),
        ("sethostname mail.example.com", [true, true, false, false]),
        ("settz America/Chicago", [true, true, false, false]),
        ("loadconfig saved", [true, true, false, false]),
        ("rollback 2", [true, true, false, false]),
        (
            "listenerconfig edit IncomingMail rcptaccess new a.example accept",
            [true, true, false, false],
        ),
        ("resetcounters", [true, true, false, false]),
        ("reboot", [true, true, false, false]),
        ("shutdown", [true, true, false, false]),
        ("userconfig delete bob", [true, false, false, false]),
        ("debughang supervisor", [true, false, false, false]),
        ("debughang", [true, false, false, false]),
    ];

    #[test]
    fn the_permission_table_is_the_documented_one() {
        let roles = [Role::Admin, Role::Operator, Role::ReadOnly, Role::Guest];
        for (line, allowed) in ROLE_TABLE {
            let args: Vec<String> = line.split(' ').map(String::from).collect();
            for (role, want) in roles.iter().zip(allowed) {
                assert_eq!(
                    permitted(*role, &args),
                    *want,
                    "{} running \"{line}\"",
                    role.name()
                );
            }
        }
    }
}

//! The CLI over SSH, as on an AsyncOS appliance: `ssh admin@box` gives the
//! serial console's own shell (the same prompt, menus and batch commands,
//! [`breakwater_console::run_session`]), and `ssh admin@box 'COMMAND ...'`
//! runs one batch command and exits with its status, as `breakwater cli`
//! does.
//!
//! Who may log in is the control plane's business, never this module's:
//! a passphrase is checked by `__auth` (a network login, so the console's
//! lockout and delays apply, one count for every way in), a public key by
//! `__auth_key`, which opens a session only when the key is one of that
//! user's committed `sshconfig` keys (`management.ssh_keys`). Every
//! command then runs in that control session with the user's role.
//!
//! Host keys: an Ed25519 key made on the first start and kept in
//! `<data_dir>/ssh/` (owner-only, written durably), so clients' known_hosts
//! stay valid across restarts and upgrades; its fingerprint is logged.
//!
//! Exposure: the Management network, before any login. Bounded: at most
//! [`MAX_CONNECTIONS`] connections, [`MAX_AUTH_ATTEMPTS`] attempts and
//! [`AUTH_TIMEOUT`] to log in, [`IDLE_TIMEOUT`] without traffic, one
//! session channel per connection, [`MAX_EXEC_INPUT`] of command input; no
//! port forwarding, agent, X11 or subsystem (no SFTP).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use breakwater_console::{AuthReply, ConsoleOptions, DaemonLink, Origin};
use breakwater_control_proto::{AUTH_KEY, AuthFailure, catalog, command_words};
use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{HashAlg, PrivateKey};
use russh::server::{
    Auth, ChannelOpenHandle, Handler, Msg, PublicKeyOffer, Session, VerifiedPublicKey,
};
use russh::{Channel, ChannelId, ChannelMsg, MethodKind, MethodSet, SshId};
use tokio::sync::Semaphore;

use super::Shared;
use crate::link::LoginError;

/// Connections served at once: a management plane serves a handful of
/// administrators; more would only let a scanner hold argon2 logins and
/// console threads. One more is refused at once (closed).
pub const MAX_CONNECTIONS: usize = 16;
/// Authentication requests refused before the connection is dropped:
/// OpenSSH's `MaxAuthTries` default, since a client offers each key of its
/// agent first. Lockout across connections is the control plane's.
pub const MAX_AUTH_ATTEMPTS: usize = 6;
/// Time to log in from the TCP connection on (OpenSSH's
/// `LoginGraceTime` is 120 s; a person typing a passphrase needs less).
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(60);
/// A connection with no traffic is closed after the console's idle time
/// (AsyncOS logs an idle CLI out after 30 minutes); the shell's own idle
/// timeout says so first.
pub const IDLE_TIMEOUT: Duration = breakwater_console::IDLE_TIMEOUT;
/// Input of a one-shot command (a filter script for `filters new`, a
/// configuration for `loadconfig -`): the control socket's request limit.
pub const MAX_EXEC_INPUT: usize = 1024 * 1024;
/// The name of sessions opened over SSH in `who` and `last`.
pub const TTY: &str = "ssh";
/// Where the host keys are, under the data directory.
pub const HOST_KEY_DIR: &str = "ssh";
pub const HOST_KEY_ED25519: &str = "ssh_host_ed25519_key";

/// Why the host key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum HostKeyError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the SSH host key is not an OpenSSH private key: {0}")]
    Key(#[from] russh::keys::ssh_key::Error),
}

/// The Ed25519 host key of `data_dir`, made (and kept, owner-only, written
/// durably) on the first call.
pub fn host_key(data_dir: &Path) -> Result<PrivateKey, HostKeyError> {
    let top = breakwater_safe_fs::Dir::open(data_dir)?;
    let dir = top.subdir(Path::new(HOST_KEY_DIR), Some(0o700))?;
    if let Some(pem) = dir.read_file(HOST_KEY_ED25519, 64 * 1024)? {
        return Ok(PrivateKey::from_openssh(pem)?);
    }
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&rand::random::<[u8; 32]>()));
    let pem = key.to_openssh(LineEnding::LF)?;
    dir.write_file(HOST_KEY_ED25519, pem.as_bytes(), 0o600)?;
    let public = key.public_key().to_openssh()?;
    dir.write_file(
        &format!("{HOST_KEY_ED25519}.pub"),
        format!("{public}\n").as_bytes(),
        0o644,
    )?;
    // The new directory's own name, for a power cut right after.
    top.sync()?;
    tracing::info!("SSH: made a new Ed25519 host key");
    Ok(key)
}

fn server_config(key: PrivateKey) -> russh::server::Config {
    russh::server::Config {
        server_id: SshId::Standard("SSH-2.0-Breakwater".into()),
        methods: MethodSet::from(&[MethodKind::PublicKey, MethodKind::Password][..]),
        // The "none" probe every OpenSSH client starts with is answered at
        // once; a refused passphrase already waits the control plane's
        // delay, and any other refusal the default second.
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![key],
        max_auth_attempts: MAX_AUTH_ATTEMPTS,
        inactivity_timeout: Some(IDLE_TIMEOUT),
        nodelay: true,
        ..Default::default()
    }
}

/// Serves SSH on `listener` until aborted.
pub async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let dir = shared.data_dir.clone();
    let key = match tokio::task::spawn_blocking(move || host_key(&dir)).await {
        Ok(Ok(key)) => key,
        Ok(Err(e)) => {
            tracing::error!("SSH: no host key, SSH is off: {e}");
            return;
        }
        Err(e) => {
            tracing::error!("SSH: no host key, SSH is off: {e}");
            return;
        }
    };
    tracing::info!(
        "SSH host key fingerprint: {} (ED25519)",
        key.public_key().fingerprint(HashAlg::Sha256)
    );
    let config = Arc::new(server_config(key));
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, say: wait rather than spin.
                tracing::warn!("SSH: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!("SSH: connection from {peer} refused: {MAX_CONNECTIONS} already open");
            continue;
        };
        let (config, shared) = (config.clone(), shared.clone());
        tokio::spawn(async move {
            connection(config, stream, peer, shared).await;
            drop(permit);
        });
    }
}

async fn connection(
    config: Arc<russh::server::Config>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
) {
    let authenticated = Arc::new(AtomicBool::new(false));
    let handler = Connection {
        shared,
        peer,
        login: None,
        authenticated: authenticated.clone(),
        channel_opened: false,
    };
    // The greeting, key exchange and login must all be over within
    // AUTH_TIMEOUT; a client that sends nothing is dropped then.
    let deadline = tokio::time::Instant::now() + AUTH_TIMEOUT;
    let running =
        match tokio::time::timeout_at(deadline, russh::server::run_stream(config, stream, handler))
            .await
        {
            Ok(Ok(running)) => running,
            Ok(Err(e)) => {
                tracing::debug!("SSH from {peer}: {e}");
                return;
            }
            Err(_) => return,
        };
    let handle = running.handle();
    let watchdog = tokio::spawn(async move {
        tokio::time::sleep_until(deadline).await;
        if !authenticated.load(Ordering::SeqCst) {
            tracing::info!(
                "SSH from {peer}: no login within {} s",
                AUTH_TIMEOUT.as_secs()
            );
            let _ = handle
                .disconnect(
                    russh::Disconnect::ByApplication,
                    "authentication timed out".into(),
                    String::new(),
                )
                .await;
        }
    });
    if let Err(e) = running.await {
        tracing::debug!("SSH from {peer} ended: {e}");
    }
    watchdog.abort();
}

/// A control session opened by a successful SSH login.
struct Login {
    user: String,
    auth: AuthReply,
    /// The passphrase that logged in: the forced first change needs it.
    passphrase: Option<String>,
}

/// One SSH connection.
struct Connection {
    shared: Arc<Shared>,
    peer: SocketAddr,
    /// Taken by the session channel, which logs it out when it ends.
    login: Option<Login>,
    authenticated: Arc<AtomicBool>,
    channel_opened: bool,
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Logged in, but no channel ever ran: close the control session.
        if let Some(login) = self.login.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let control = self.shared.control.clone();
            runtime.spawn(async move { control.logout(&login.auth.token, "logout").await });
        }
    }
}

impl Connection {
    fn accepted(&mut self, login: Login) -> Auth {
        tracing::info!(
            "SSH: {} logged in from {} ({})",
            login.user,
            self.peer,
            if login.passphrase.is_some() {
                "passphrase"
            } else {
                "public key"
            }
        );
        self.authenticated.store(true, Ordering::SeqCst);
        self.login = Some(login);
        Auth::Accept
    }

    /// `__auth_key`: a session for `user`, who proved `key`.
    async fn key_login(&self, user: &str, key: &str) -> Result<AuthReply, String> {
        let args = vec![AUTH_KEY.to_string(), user.to_string(), TTY.to_string()];
        let response = self
            .shared
            .control
            .call(args, Some(key.to_string()), user)
            .await
            .map_err(|e| e.to_string())?;
        if response.ok {
            return serde_json::from_str(&response.output).map_err(|e| e.to_string());
        }
        Err(serde_json::from_str::<AuthFailure>(&response.output)
            .map(|f| f.message)
            .unwrap_or(response.output))
    }
}

impl Handler for Connection {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        if self.login.is_some() {
            return Ok(Auth::reject());
        }
        match self.shared.control.login(user, password, TTY).await {
            Ok(auth) => Ok(self.accepted(Login {
                user: user.to_ascii_lowercase(),
                auth,
                passphrase: Some(password.to_string()),
            })),
            Err(LoginError::Refused(why)) => {
                tracing::info!(
                    "SSH: passphrase login of '{user}' from {} refused: {why}",
                    self.peer
                );
                Ok(Auth::reject())
            }
            Err(LoginError::Link(e)) => {
                tracing::warn!("SSH: login of '{user}' from {}: {e}", self.peer);
                Ok(Auth::reject())
            }
        }
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        // Spares the client a signature for a key that cannot log in; the
        // control plane checks the key again against the committed keys.
        let Ok(line) = offer.public_key.to_openssh() else {
            return Ok(Auth::reject());
        };
        let settings = self.shared.settings();
        let keys = settings
            .ssh_keys
            .iter()
            .map(|k| (k.user.as_str(), k.key.as_str()));
        Ok(
            if breakwater_control_proto::key_is_authorized(keys, user, &line) {
                Auth::Accept
            } else {
                Auth::reject()
            },
        )
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        if self.login.is_some() {
            return Ok(Auth::reject());
        }
        let Ok(line) = key.public_key.to_openssh() else {
            return Ok(Auth::reject());
        };
        match self.key_login(user, &line).await {
            Ok(auth) => Ok(self.accepted(Login {
                user: user.to_ascii_lowercase(),
                auth,
                passphrase: None,
            })),
            Err(why) => {
                tracing::info!(
                    "SSH: key login of '{user}' from {} refused: {why}",
                    self.peer
                );
                Ok(Auth::reject())
            }
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // One session channel per connection: it owns the control session
        // and logs it out when it ends.
        let Some(login) = self.login.take().filter(|_| !self.channel_opened) else {
            reply
                .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        self.channel_opened = true;
        reply.accept().await;
        let shared = self.shared.clone();
        tokio::spawn(run_channel(channel, login, shared));
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // No SFTP: files reach the box through the CLI's own commands.
        session.channel_failure(channel)
    }
}

/// Bytes the console writes, on their way to the SSH channel. Bounded, so
/// a console printing faster than the client reads waits.
struct ChannelWriter(tokio::sync::mpsc::Sender<Vec<u8>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(buf.to_vec())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a session channel is doing.
enum Work {
    /// Nothing asked yet (a `pty-req` may come first).
    Waiting,
    /// The console's shell runs on a thread; keys go to it (`None` after
    /// the client's EOF: the console then sees its input end).
    Shell(Option<std::sync::mpsc::SyncSender<Vec<u8>>>),
    /// A one-shot command collecting its input until EOF.
    Exec { words: Vec<String>, input: Vec<u8> },
}

/// Serves one session channel: the shell or one command, then exit
/// status, EOF and close, and the control session logged out.
async fn run_channel(channel: Channel<Msg>, login: Login, shared: Arc<Shared>) {
    let (mut read, write) = channel.split();
    let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
    let mut out_tx = Some(out_tx);
    let token = login.auth.token.clone();
    let mut login = Some(login);
    let mut pty = false;
    let mut work = Work::Waiting;
    let mut status = 0u32;
    loop {
        tokio::select! {
            out = out_rx.recv(), if matches!(work, Work::Shell(_)) => match out {
                Some(bytes) => {
                    if write.data_bytes(bytes).await.is_err() {
                        break;
                    }
                }
                // The console returned: logout, exit, timeout.
                None => break,
            },
            msg = read.wait() => match msg {
                Some(ChannelMsg::RequestPty { .. }) => pty = true,
                Some(ChannelMsg::RequestShell { .. }) if matches!(work, Work::Waiting) => {
                    let (Some(login), Some(out)) = (login.take(), out_tx.take()) else {
                        break;
                    };
                    work = Work::Shell(Some(start_shell(login, &shared, out)));
                }
                Some(ChannelMsg::Exec { command, .. }) if matches!(work, Work::Waiting) => {
                    let line = String::from_utf8_lossy(&command).into_owned();
                    let words = match command_words(vec![line]) {
                        Ok(words) => words,
                        Err(e) => {
                            let _ = write.extended_data_bytes(1, format!("{e}\n").into_bytes()).await;
                            status = 1;
                            break;
                        }
                    };
                    // As `breakwater cli`: only a command that takes a body
                    // reads one, and never from a terminal.
                    let reads_input = !pty
                        && words.first().is_some_and(|w| {
                            catalog::daemon_command(&w.to_ascii_lowercase())
                                .is_some_and(|c| c.reads_paste)
                        });
                    if reads_input {
                        work = Work::Exec { words, input: Vec::new() };
                    } else {
                        status = exec(&shared, &token, words, None, pty, &write).await;
                        break;
                    }
                }
                Some(ChannelMsg::Data { data }) => match &mut work {
                    Work::Shell(None) => {}
                    Work::Shell(Some(keys)) => {
                        let mut chunk = data.to_vec();
                        // The console is busy (a command runs): wait for it,
                        // and the client waits for the SSH window.
                        loop {
                            match keys.try_send(chunk) {
                                Ok(()) => break,
                                Err(std::sync::mpsc::TrySendError::Full(back)) => {
                                    chunk = back;
                                    tokio::time::sleep(Duration::from_millis(20)).await;
                                }
                                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => break,
                            }
                        }
                    }
                    Work::Exec { input, .. } => {
                        if input.len() + data.len() > MAX_EXEC_INPUT {
                            let text = format!(
                                "The command's input is larger than {} KiB.\n",
                                MAX_EXEC_INPUT / 1024
                            );
                            let _ = write.extended_data_bytes(1, text.into_bytes()).await;
                            status = 1;
                            break;
                        }
                        input.extend_from_slice(&data);
                    }
                    Work::Waiting => {}
                },
                Some(ChannelMsg::Eof) => match std::mem::replace(&mut work, Work::Waiting) {
                    Work::Exec { words, input } => {
                        let input = String::from_utf8_lossy(&input).into_owned();
                        status = exec(&shared, &token, words, Some(input), pty, &write).await;
                        break;
                    }
                    // The console sees the end of its input (a hang-up)
                    // and logs out; its last words still go out.
                    Work::Shell(_) => work = Work::Shell(None),
                    Work::Waiting => {}
                },
                Some(ChannelMsg::Close) | None => break,
                Some(_) => {}
            },
        }
    }
    // Whatever ended the channel, the control session ends with it (the
    // console has usually logged out already; this is then a no-op).
    drop(work);
    shared.control.logout(&token, "logout").await;
    let _ = write.exit_status(status).await;
    let _ = write.eof().await;
    let _ = write.close().await;
}

/// Starts the console's shell for `login` on a thread of its own (the
/// console is blocking); returns where its keys go.
fn start_shell(
    login: Login,
    shared: &Shared,
    out: tokio::sync::mpsc::Sender<Vec<u8>>,
) -> std::sync::mpsc::SyncSender<Vec<u8>> {
    let (keys, input) = std::sync::mpsc::sync_channel(256);
    let port = breakwater_console::port::ChannelPort::from_channel(input, ChannelWriter(out));
    let link = DaemonLink::new(&shared.data_dir);
    let options = ConsoleOptions {
        tty: TTY.into(),
        idle_timeout: breakwater_console::IDLE_TIMEOUT,
        exit_after_logout: true,
        origin: Origin::Network,
    };
    let spawned = std::thread::Builder::new()
        .name("ssh-console".into())
        .spawn(move || {
            let Login {
                user,
                auth,
                passphrase,
            } = login;
            if let Err(e) = breakwater_console::run_session(
                port,
                link,
                &user,
                auth,
                passphrase.as_deref(),
                &options,
            ) {
                tracing::debug!("SSH console of {user} ended: {e}");
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("SSH: cannot start a console: {e}");
    }
    keys
}

/// Runs one batch command in the session `token`, prints its answer (an
/// error on stderr, as `breakwater cli` does) and returns the exit status.
/// The console's own commands in the one-shot form: `version` as the
/// console prints it; `commitdetail` is `commitlog` (see [`exec`]); the
/// interactive ones need the shell. `None`: a daemon command.
async fn console_command(shared: &Shared, words: &[String]) -> Option<(bool, String)> {
    let name = words.first()?.to_ascii_lowercase();
    let command = catalog::find(&name)?;
    if command.answered_by != catalog::Answerer::Console || command.name == "commitdetail" {
        return None;
    }
    Some(match command.name {
        "version" => {
            let banner = shared
                .control
                .call(vec![breakwater_control_proto::BANNER.into()], None, "")
                .await
                .ok()
                .filter(|r| r.ok)
                .and_then(|r| {
                    serde_json::from_str::<breakwater_control_proto::Banner>(&r.output).ok()
                });
            match banner {
                Some(b) => (true, b.version_text()),
                None => (
                    false,
                    "The mail daemon is restarting; try again in a moment.".into(),
                ),
            }
        }
        other => (
            false,
            format!("\"{other}\" is interactive: run it in an SSH session without a command."),
        ),
    })
}

async fn exec(
    shared: &Shared,
    token: &str,
    words: Vec<String>,
    input: Option<String>,
    pty: bool,
    write: &russh::ChannelWriteHalf<Msg>,
) -> u32 {
    let words = match words.first() {
        Some(w) if w.eq_ignore_ascii_case("commitdetail") => vec!["commitlog".to_string()],
        _ => words,
    };
    let (ok, mut text) = match console_command(shared, &words).await {
        Some(answer) => answer,
        None => match shared.control.run(token, words, input).await {
            Ok(response) => (response.ok, response.output),
            Err(e) => (false, e.to_string()),
        },
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    if pty {
        // A terminal in raw mode needs the carriage returns.
        text = text.replace('\n', "\r\n");
    }
    let bytes = text.into_bytes();
    let sent = if ok {
        write.data_bytes(bytes).await
    } else {
        write.extended_data_bytes(1, bytes).await
    };
    if sent.is_err() {
        return 1;
    }
    u32::from(!ok)
}

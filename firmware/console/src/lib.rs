//! The serial console: `login:`, the AsyncOS-style CLI and its menus.
//!
//! The console is a client of the daemon. It owns no state of its own:
//! users, passphrases, sessions, the configuration and the commit history
//! live in the daemon and are reached over the control socket
//! ([`link::DaemonLink`]); every interactive menu gathers answers and then
//! runs the same batch command `breakwater cli` runs, so there is one
//! implementation of each change behind both.
//!
//! Layers, bottom up: [`port`] (the byte stream: a UART, a pty, a pipe, as
//! `embedded_io` `Read + Write`), [`editor`] (the sans-I/O line editor with
//! bounded `heapless` buffers), [`term::Terminal`] (editor + port + idle
//! time), [`login`] (banner, `login:`, the forced first passphrase change),
//! [`shell::Shell`] (the prompt, typed batch commands, prompts for menus)
//! and [`menus`] (the table of interactive commands).
//!
//! Exposure: whoever is at the serial port. Nothing is trusted from it:
//! passphrases are checked by the daemon, which also checks the role of
//! the session for every command; lines and history are bounded.

pub mod editor;
pub mod link;
pub mod login;
pub mod menus;
mod menus_access;
mod menus_admin;
pub mod menus_cluster;
mod menus_config;
mod menus_cutover;
mod menus_dayops;
mod menus_delivery;
mod menus_filters;
mod menus_listener;
mod menus_logs;
mod menus_policy;
mod menus_quarantine;
mod menus_security;
mod menus_setup;
mod menus_ssl;
mod menus_system;
pub mod port;
pub mod shell;
pub mod term;

use std::time::Duration;

use embedded_io::ErrorKind;

pub use breakwater_control_proto::{AuthReply, Origin};
pub use link::{DaemonLink, LinkError};
pub use term::Terminal;

/// AsyncOS logs an idle CLI session out after 30 minutes.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Why a console step stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// Ctrl-C: the current menu is cancelled.
    #[error("cancelled")]
    Interrupted,
    /// Ctrl-D on an empty line.
    #[error("end of input")]
    Eof,
    /// The port closed (the terminal went away).
    #[error("the terminal hung up")]
    Hangup,
    #[error("idle timeout")]
    IdleTimeout,
    #[error("console I/O error: {0:?}")]
    Io(ErrorKind),
    #[error(transparent)]
    Daemon(#[from] LinkError),
    /// The daemon no longer knows this session.
    #[error("{}", breakwater_control_proto::SESSION_ENDED)]
    SessionEnded,
}

/// How a console runs.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// The terminal's name in `who` and `last` (`ttyS0`, `pts/3`).
    pub tty: String,
    pub idle_timeout: Duration,
    /// Return after the first logout (a terminal); a serial console shows
    /// `login:` again instead.
    pub exit_after_logout: bool,
    /// The appliance's serial console, or anything else: repeated failed
    /// logins lock an account only over the network (see
    /// `control::users`).
    pub origin: Origin,
}

impl Default for ConsoleOptions {
    fn default() -> Self {
        Self {
            tty: "console".into(),
            idle_timeout: IDLE_TIMEOUT,
            exit_after_logout: false,
            origin: Origin::Network,
        }
    }
}

/// Runs the console on `port` until the port closes (or, with
/// `exit_after_logout`, until the first logout).
pub fn run<P>(port: P, link: DaemonLink, options: ConsoleOptions) -> Result<(), ConsoleError>
where
    P: embedded_io::Read + embedded_io::Write + 'static,
{
    let mut term = Terminal::new(port);
    term.set_words(menus::completion_words());
    loop {
        term.idle_timeout = None;
        let session = match login::login(&mut term, &link, &options) {
            Ok(s) => s,
            Err(ConsoleError::Hangup | ConsoleError::Eof) => return Ok(()),
            Err(ConsoleError::Io(e)) => return Err(ConsoleError::Io(e)),
            Err(_) => continue,
        };
        term.idle_timeout = Some(options.idle_timeout);
        let mut shell = shell::Shell::new(&mut term, &link, session);
        let result = shell.command_loop(menus::execute);
        if options.exit_after_logout {
            return Ok(());
        }
        if let Err(ConsoleError::Hangup | ConsoleError::Io(_)) = result {
            return Ok(());
        }
    }
}

/// Runs the console's shell on `port` for a session already opened
/// elsewhere (an SSH login, by passphrase or by key): the lines the
/// console shows after `login:`, the forced passphrase change when
/// `auth.must_change` (with `passphrase`, the one that logged in), then
/// the same prompt and menus until logout, Ctrl-D, the idle timeout or a
/// hang-up. The session is closed when this returns.
pub fn run_session<P>(
    port: P,
    link: DaemonLink,
    user: &str,
    auth: AuthReply,
    passphrase: Option<&str>,
    options: &ConsoleOptions,
) -> Result<(), ConsoleError>
where
    P: embedded_io::Read + embedded_io::Write + 'static,
{
    let mut term = Terminal::new(port);
    term.set_words(menus::completion_words());
    // Unlike at `login:`, somebody is already in: an abandoned passphrase
    // change times out like an abandoned prompt.
    term.idle_timeout = Some(options.idle_timeout);
    let session = login::welcome(&mut term, &link, user, auth, None, passphrase)?;
    shell::Shell::new(&mut term, &link, session).command_loop(menus::execute)
}

//! The login banner, `login:` / `Password:`, waiting after a failure, and
//! the passphrase change the factory account (and every new user) must
//! make before anything else.

use std::time::Duration;

use super::editor::Mode;
use super::{ConsoleError, ConsoleOptions, DaemonLink, Terminal};
use breakwater_control_proto::{
    AUTH, AuthFailure, AuthReply, BANNER, Banner, LOGOUT, Role, SESSION,
};

/// A logged-in console session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub token: String,
    pub role: Role,
    pub banner: Banner,
}

const REMINDER: &str =
    "Changes to the configuration take effect only after \"commit\"; \"clear\" discards them.";

fn banner(link: &DaemonLink) -> Option<Banner> {
    let r = link.call(vec![BANNER.into()], None, "console").ok()?;
    serde_json::from_str(&r.output).ok()
}

/// Shows the banner and asks for a user and passphrase until one logs in.
pub fn login(
    term: &mut Terminal,
    link: &DaemonLink,
    options: &ConsoleOptions,
) -> Result<Session, ConsoleError> {
    let banner = banner(link);
    term.println("")?;
    match &banner {
        Some(b) => term.println(&format!(
            "{} {} ({})\nWelcome to the {} Email Security Gateway\nSerial #: {}\n{}",
            b.product,
            b.version,
            b.hostname,
            b.product,
            b.serial,
            b.last_boot
                .as_deref()
                .map(|l| format!("Last boot: {l}\n"))
                .unwrap_or_default()
                + &b.boot_info
                    .iter()
                    .map(|l| format!("{l}\n"))
                    .collect::<String>()
        ))?,
        None => term.println(&format!(
            "Breakwater {}\n{}\n",
            env!("CARGO_PKG_VERSION"),
            super::LinkError::Unreachable
        ))?,
    }
    loop {
        let user = term.read_line("login: ", Mode::Text)?.trim().to_string();
        if user.is_empty() {
            continue;
        }
        let password = term.read_line("Password: ", Mode::Secret)?;
        let args = vec![
            AUTH.to_string(),
            user.clone(),
            options.tty.clone(),
            options.origin.name().to_string(),
        ];
        let reply = match link.call(args, Some(&password), &user) {
            Ok(r) => r,
            Err(e) => {
                term.println(&e.to_string())?;
                continue;
            }
        };
        if !reply.ok {
            let failure: AuthFailure = serde_json::from_str(&reply.output).unwrap_or(AuthFailure {
                message: reply.output,
                delay_ms: 0,
            });
            term.println(&failure.message)?;
            std::thread::sleep(Duration::from_millis(failure.delay_ms));
            continue;
        }
        let auth: AuthReply = match serde_json::from_str(&reply.output) {
            Ok(a) => a,
            Err(e) => {
                term.println(&format!("malformed reply from the mail daemon: {e}"))?;
                continue;
            }
        };
        return welcome(term, link, &user, auth, banner, Some(&password));
    }
}

/// What the console shows once a user is in, for a session opened by
/// [`login`] or elsewhere (SSH): the forced passphrase change when the
/// account `must_change` (it needs the passphrase that logged in, `old`;
/// without it the session is closed), then "Logged in as ..." with the
/// product, version, host name and serial number.
pub fn welcome(
    term: &mut Terminal,
    link: &DaemonLink,
    user: &str,
    auth: AuthReply,
    banner: Option<Banner>,
    old: Option<&str>,
) -> Result<Session, ConsoleError> {
    let banner = banner.or_else(|| self::banner(link)).unwrap_or(Banner {
        product: "Breakwater".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        serial: String::new(),
        hostname: String::new(),
        last_boot: None,
        boot_info: Vec::new(),
        hardware: Default::default(),
    });
    let session = Session {
        user: user.to_ascii_lowercase(),
        token: auth.token,
        role: auth.role,
        banner,
    };
    if auth.must_change {
        let changed = match old {
            Some(old) => change_on_first_login(term, link, &session, old),
            None => term
                .println("You must choose a new passphrase first; log in with your passphrase.")
                .and(Err(ConsoleError::SessionEnded)),
        };
        if let Err(e) = changed {
            let _ = link.call(
                session_args(&session, &[LOGOUT, "cancelled"]),
                None,
                &session.user,
            );
            return Err(e);
        }
    }
    term.println(&format!(
        "\nLogged in as {} ({}).\n{} {} for {}\nSerial #: {}\n\n{REMINDER}\n",
        session.user,
        session.role.name(),
        session.banner.product,
        session.banner.version,
        session.banner.hostname,
        session.banner.serial
    ))?;
    Ok(session)
}

pub(super) fn session_args(session: &Session, args: &[&str]) -> Vec<String> {
    let mut v = vec![SESSION.to_string(), session.token.clone()];
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

/// Asks for a new passphrase twice; `old` is checked by the daemon.
pub fn ask_new_passphrase(term: &mut Terminal) -> Result<String, ConsoleError> {
    loop {
        let new = term.read_line("New passphrase: ", Mode::Secret)?;
        let again = term.read_line("Please enter the new passphrase again: ", Mode::Secret)?;
        if new == again {
            return Ok(new);
        }
        term.println("The passphrases do not match.")?;
    }
}

fn change_on_first_login(
    term: &mut Terminal,
    link: &DaemonLink,
    session: &Session,
    old: &str,
) -> Result<(), ConsoleError> {
    term.println("\nYou must choose a new passphrase before you continue.")?;
    loop {
        let new = ask_new_passphrase(term)?;
        let r = link.call(
            session_args(session, &["passwd"]),
            Some(&format!("{old}\n{new}")),
            &session.user,
        )?;
        term.println(&r.output)?;
        if r.ok {
            return Ok(());
        }
    }
}

//! The control protocol: what `breakwater cli` and the serial console send
//! to the daemon's control socket and what it answers, the roles of
//! console users, and the [`catalog`] of every command.
//!
//! Both sides build on this crate and on nothing else of each other: the
//! daemon's control server dispatches and checks permissions from the
//! catalog, and the console (a separate process, root on the serial port)
//! knows the daemon only through these types.
//!
//! Wire format: one JSON [`Request`] per connection, one line, answered by
//! one JSON [`Response`] line. The names of the serde fields are the wire
//! format: they do not change.

pub mod catalog;
pub mod levels;
pub mod setup;
pub mod usage;

use serde::{Deserialize, Serialize};

pub use catalog::{Answerer, Command, Form, find, permitted};

/// The control socket's name in the data directory.
pub const CONTROL_SOCKET_NAME: &str = "control.sock";

/// Opens a console session: `[AUTH, user, tty]`, the passphrase in stdin.
pub const AUTH: &str = "__auth";
/// Opens a session for a user who proved a public key over SSH:
/// `[AUTH_KEY, user, tty]`, the key (an `authorized_keys` line) in stdin.
/// Answered only when the key is one of the user's committed
/// `management.ssh_keys`; no passphrase is involved.
pub const AUTH_KEY: &str = "__auth_key";
/// Runs the rest of the request as a console session: `[SESSION, token, ...]`.
pub const SESSION: &str = "__session";
/// Product, version, serial number and host name for the login banner.
pub const BANNER: &str = "__banner";
/// A session's host name, role and whether changes are staged.
pub const STATE: &str = "__state";
/// Ends the session.
pub const LOGOUT: &str = "__logout";
/// The answer to a request whose session is gone (logged out elsewhere,
/// expired, user deleted); the console then shows the login prompt again.
pub const SESSION_ENDED: &str = "Your session has ended; please log in again.";

/// The first line of a `tail --follow` answer, before the position the
/// next call continues from.
pub const TAIL_CURSOR_PREFIX: &str = "cursor ";

/// The longest an `upgrade install` download may take, from connect to
/// the last byte; the console waits that long and then some for the
/// install's answer.
pub const UPGRADE_DOWNLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// One request: the command's words, what it reads on standard input (a
/// pasted filter script, a passphrase), and who sends it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub args: Vec<String>,
    pub stdin: Option<String>,
    pub user: String,
}

/// The answer: whether the command succeeded, and the text to print.
#[derive(Debug, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    pub output: String,
}

/// What the login banner shows (the answer to `__banner`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Banner {
    pub product: String,
    pub version: String,
    pub serial: String,
    pub hostname: String,
    /// How the box last stopped (`clean`, `after a crash or reset`), as
    /// `status` shows it under "Last boot"; `None` when not supervised.
    #[serde(default)]
    pub last_boot: Option<String>,
    /// `Boot reason: ...`, `Running slot: ...`, `Other slot: ...`.
    #[serde(default)]
    pub boot_info: Vec<String>,
    /// The machine, for `version` (absent from an older daemon: `NA`).
    #[serde(default)]
    pub hardware: Hardware,
}

/// What `version` says of the machine, as AsyncOS's does (Model, Build
/// Date, BIOS, CPUs, Memory); `None` where this box cannot tell.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hardware {
    /// The board profile's name.
    pub model: Option<String>,
    /// `YYYY-MM-DD`: the firmware binary's time stamp, which the image
    /// sets to SOURCE_DATE_EPOCH (the last commit's date).
    pub build_date: Option<String>,
    /// The firmware's BIOS version (`/sys/class/dmi/id/bios_version`).
    pub bios: Option<String>,
    pub cpus: Option<usize>,
    pub memory_mb: Option<u64>,
}

impl Banner {
    /// What `version` prints (at the console and over SSH), in AsyncOS's
    /// order; `NA` where the box cannot tell.
    pub fn version_text(&self) -> String {
        let boot: String = self.boot_info.iter().map(|l| format!("\n{l}")).collect();
        let na = |v: Option<String>| v.unwrap_or_else(|| "NA".to_string());
        let h = &self.hardware;
        format!(
            "Current Version\n===============\nProduct: {} Email Security Gateway\nModel: {}\nVersion: {}\nBuild Date: {}\nSerial #: {}\nBIOS: {}\nCPUs: {}\nMemory: {}\nHost name: {}{boot}",
            self.product,
            na(h.model.clone()),
            self.version,
            na(h.build_date.clone()),
            self.serial,
            na(h.bios.clone()),
            na(h.cpus.map(|n| n.to_string())),
            na(h.memory_mb.map(|m| format!("{m} MB"))),
            self.hostname
        )
    }
}

/// The answer to `__state` (asked before every console prompt).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionState {
    pub hostname: String,
    pub user: String,
    pub role: Role,
    /// There are uncommitted changes.
    pub staged: bool,
}

/// What a user may do (checked by the control plane on every request,
/// from the [`catalog`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Everything, including user management.
    Admin,
    /// Every configuration command; not user management.
    Operator,
    /// Print, show and status commands only.
    ReadOnly,
    /// The state of the box and of its mail flow (AsyncOS's guest: a
    /// monitoring account).
    Guest,
}

impl Role {
    /// Every role, the most powerful first.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Operator, Role::ReadOnly, Role::Guest];

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s.to_ascii_lowercase().as_str() {
            "admin" => Role::Admin,
            "operator" => Role::Operator,
            "read-only" | "readonly" => Role::ReadOnly,
            "guest" => Role::Guest,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::ReadOnly => "read-only",
            Role::Guest => "guest",
        }
    }
    pub fn can_change_config(self) -> bool {
        self.at_least(Role::Operator)
    }
    /// Whether this role may do what `lowest` may (the roles are nested:
    /// each may do everything of the ones below it).
    pub fn at_least(self, lowest: Role) -> bool {
        self.rank() >= lowest.rank()
    }
    fn rank(self) -> u8 {
        match self {
            Role::Guest => 0,
            Role::ReadOnly => 1,
            Role::Operator => 2,
            Role::Admin => 3,
        }
    }
}

/// Where a login comes from: it decides what repeated failures do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Origin {
    /// The appliance's own serial console (`breakwater console --device`):
    /// never locked, slowed down up to `serial_max_delay`.
    Serial,
    /// Anything else (a console on a terminal, later SSH or the web):
    /// locked after `max_failures` in a row.
    Network,
}

impl Origin {
    /// `serial` or `network`; anything else is a network login, the
    /// stricter of the two.
    pub fn parse(s: &str) -> Origin {
        if s.eq_ignore_ascii_case("serial") {
            Origin::Serial
        } else {
            Origin::Network
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Origin::Serial => "serial",
            Origin::Network => "network",
        }
    }
}

/// The reply to a successful `__auth` (JSON in `Response::output`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthReply {
    pub token: String,
    pub role: Role,
    pub must_change: bool,
}

/// The reply to a failed `__auth`: what to print and how long to wait.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthFailure {
    pub message: String,
    pub delay_ms: u64,
}

/// A `breakwater cli` command line that cannot be split into words.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandLineError {
    #[error("the command line has an unclosed quote or ends with a backslash")]
    Unbalanced,
    #[error("the command line is empty")]
    Empty,
}

/// The words of a `breakwater cli` command. A single argument that holds
/// whitespace, a quote or a backslash is a whole command line, as
/// `ssh admin@box 'listenerconfig edit ...'` hands it over: it is split as
/// a POSIX shell would (quotes group, backslashes escape), as AsyncOS does
/// over SSH. Several arguments are the words already, taken as they are.
pub fn command_words(args: Vec<String>) -> Result<Vec<String>, CommandLineError> {
    let words = match args.as_slice() {
        [line]
            if line
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\')) =>
        {
            shlex::split(line).ok_or(CommandLineError::Unbalanced)?
        }
        _ => args,
    };
    if words.is_empty() {
        return Err(CommandLineError::Empty);
    }
    Ok(words)
}

/// The key type and base64 blob of an OpenSSH public key line
/// (`[options] ssh-ed25519 AAAA... [comment]`); `None` when the line has
/// none. Two lines name the same key when these are equal: options and
/// comments do not change the key.
pub fn public_key_blob(line: &str) -> Option<(&str, &str)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.windows(2).find_map(|pair| {
        let (kind, blob) = (pair[0], pair[1]);
        let is_kind = ["ssh-", "ecdsa-sha2-", "sk-", "rsa-sha2-"]
            .iter()
            .any(|p| kind.starts_with(p));
        let is_blob = blob.len() >= 16
            && blob
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        (is_kind && is_blob).then_some((kind, blob))
    })
}

/// Whether `presented` is one of `user`'s keys in `keys` (pairs of user
/// name and `authorized_keys` line; user names compare without case).
pub fn key_is_authorized<'a>(
    keys: impl IntoIterator<Item = (&'a str, &'a str)>,
    user: &str,
    presented: &str,
) -> bool {
    let Some(wanted) = public_key_blob(presented) else {
        return false;
    };
    keys.into_iter()
        .any(|(u, line)| u.eq_ignore_ascii_case(user) && public_key_blob(line) == Some(wanted))
}

/// Splits a console command line into words; double quotes group words
/// (the console's rule, simpler than a shell's: no escapes).
pub fn split_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut started) = (false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    out.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(word);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_key_is_recognised_whatever_its_options_and_comment() {
        let blob = "AAAAC3NzaC1lZDI1NTE5AAAAIBqfPZHv8gn1Q7xJ2F0";
        let line = format!("ssh-ed25519 {blob} alice@laptop");
        assert_eq!(super::public_key_blob(&line), Some(("ssh-ed25519", blob)));
        let keys = [("Alice", line.as_str())];
        let with_options = format!("from=\"10.0.0.0/8\" ssh-ed25519 {blob} other");
        assert!(super::key_is_authorized(keys, "alice", &with_options));
        assert!(!super::key_is_authorized(keys, "bob", &line));
        let other = format!("ssh-ed25519 {}X", &blob[..blob.len() - 1]);
        assert!(!super::key_is_authorized(keys, "alice", &other));
        assert!(!super::key_is_authorized(keys, "alice", "garbage"));
    }

    use super::*;

    fn words(args: &[&str]) -> Result<Vec<String>, CommandLineError> {
        command_words(args.iter().map(|a| a.to_string()).collect())
    }

    #[test]
    fn one_quoted_command_line_is_split_as_a_shell_would() {
        assert_eq!(
            words(&["listenerconfig edit IncomingMail rcptaccess new example.com accept"]),
            Ok(vec![
                "listenerconfig".into(),
                "edit".into(),
                "IncomingMail".into(),
                "rcptaccess".into(),
                "new".into(),
                "example.com".into(),
                "accept".into(),
            ])
        );
        assert_eq!(
            words(&[r#"commit "accept example.com" it\'s\ done"#]),
            Ok(vec![
                "commit".into(),
                "accept example.com".into(),
                "it's done".into()
            ])
        );
        assert_eq!(
            words(&["commit 'a \"quoted\" comment'"]),
            Ok(vec!["commit".into(), "a \"quoted\" comment".into()])
        );
    }

    #[test]
    fn separate_words_are_taken_as_they_are() {
        assert_eq!(
            words(&["commit", "a comment with 'quotes\""]),
            Ok(vec!["commit".into(), "a comment with 'quotes\"".into()])
        );
        assert_eq!(words(&["status"]), Ok(vec!["status".into()]));
    }

    #[test]
    fn unbalanced_or_empty_lines_are_refused() {
        assert_eq!(
            words(&["commit 'no end"]),
            Err(CommandLineError::Unbalanced)
        );
        assert_eq!(words(&["status \\"]), Err(CommandLineError::Unbalanced));
        assert_eq!(words(&["   "]), Err(CommandLineError::Empty));
    }

    #[test]
    fn console_lines_group_double_quoted_words() {
        assert_eq!(
            split_words(r#"interfaceconfig edit "Data 1"  192.0.2.1/24"#),
            vec!["interfaceconfig", "edit", "Data 1", "192.0.2.1/24"]
        );
        assert_eq!(split_words(r#"commit """#), vec!["commit", ""]);
        assert!(split_words("   ").is_empty());
    }

    #[test]
    fn the_roles_are_nested() {
        assert!(Role::Admin.at_least(Role::Operator));
        assert!(Role::Operator.at_least(Role::ReadOnly));
        assert!(Role::ReadOnly.at_least(Role::Guest));
        assert!(!Role::Guest.at_least(Role::ReadOnly));
        assert!(!Role::Operator.at_least(Role::Admin));
        for role in Role::ALL {
            assert_eq!(Role::parse(role.name()), Some(role));
        }
    }

    #[test]
    fn version_prints_asyncos_fields_in_order_with_na_for_the_unknown() {
        let banner = Banner {
            product: "Breakwater".into(),
            version: "0.1.0".into(),
            serial: "BW-1234".into(),
            hostname: "gw.example.com".into(),
            last_boot: None,
            boot_info: vec!["Running slot: A".into()],
            hardware: Hardware {
                model: Some("qemu-x86_64".into()),
                build_date: Some("2026-12-06".into()),
                bios: None,
                cpus: Some(2),
                memory_mb: Some(1024),
            },
        };
        assert_eq!(
            banner.version_text(),
            "Current Version\n===============\nProduct: Breakwater Email Security Gateway\n\
             Model: qemu-x86_64\nVersion: 0.1.0\nBuild Date: 2026-12-06\nSerial #: BW-1234\n\
             BIOS: NA\nCPUs: 2\nMemory: 1024 MB\nHost name: gw.example.com\nRunning slot: A"
        );
        // An older daemon's banner, without the machine: every field NA.
        let old: Banner = serde_json::from_str(
            r#"{"product":"Breakwater","version":"0.1.0","serial":"S","hostname":"h"}"#,
        )
        .unwrap();
        assert!(
            old.version_text()
                .contains("Model: NA\nVersion: 0.1.0\nBuild Date: NA")
        );
    }
}

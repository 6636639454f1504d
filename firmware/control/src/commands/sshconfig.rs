//! `sshconfig`: the SSH public keys of the console's users (AsyncOS's
//! USERKEYS), each an OpenSSH `authorized_keys` line. The users themselves
//! live in the user store, not in the configuration, so a key is checked
//! against the user-name rule only: a key for a user that does not exist
//! (yet) serves no login until `userconfig new` makes the user.

use super::args::{invalid, number, stage, usage};
use super::{CliError, CommandContext};
use crate::config::Config;
use crate::config::management::{MAX_SSH_KEYS_PER_USER, SshPublicKey, SshUserKey, valid_user_name};

pub(super) use breakwater_control_proto::usage::SSHCONFIG as USAGE;

pub(super) fn run(
    ctx: &CommandContext<'_>,
    args: &[String],
    stdin: Option<&str>,
) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args) {
        (Some("print"), [_]) => Ok(render(&ctx.store.working()?)),
        (Some("new"), [_, user]) => new(ctx, user, stdin),
        (Some("new"), [_, user, dash]) if dash == "-" => new(ctx, user, stdin),
        (Some("new"), [_, user, key @ ..]) => new(ctx, user, Some(&key.join(" "))),
        (Some("delete"), [_, user, n]) => delete(ctx, user, n),
        _ => Err(usage(USAGE)),
    }
}

/// The user as the user store keeps it (lower case), or why not.
fn user_name(user: &str) -> Result<String, CliError> {
    let lower = user.to_ascii_lowercase();
    if valid_user_name(&lower) {
        Ok(lower)
    } else {
        Err(invalid(format!(
            "Invalid user name '{user}': 1-32 letters, digits, '_', '.' or '-', starting with a letter."
        )))
    }
}

fn new(ctx: &CommandContext<'_>, user: &str, key: Option<&str>) -> Result<String, CliError> {
    let user = user_name(user)?;
    // A paste may carry blank lines around the key; one key a command.
    let lines: Vec<&str> = key
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != ".")
        .collect();
    let line = match lines.as_slice() {
        [one] => *one,
        [] => {
            return Err(invalid(
                "No key was given: add the key line (ssh-ed25519 AAAA... comment) after the user name, or on standard input.",
            ));
        }
        _ => return Err(invalid("Give one key at a time (one line).")),
    };
    let key =
        SshPublicKey::parse(line).map_err(|e| invalid(format!("Invalid SSH public key: {e}.")))?;
    let mut cfg = ctx.store.working()?;
    let existing: Vec<SshPublicKey> = keys_of(&cfg, &user)
        .filter_map(|k| SshPublicKey::parse(&k.key).ok())
        .collect();
    if let Some(n) = existing.iter().position(|k| k.blob == key.blob) {
        return Err(invalid(format!(
            "This key ({}) is already key {} of {user}.",
            key.fingerprint(),
            n + 1
        )));
    }
    if keys_of(&cfg, &user).count() >= MAX_SSH_KEYS_PER_USER {
        return Err(invalid(format!(
            "{user} already has {MAX_SSH_KEYS_PER_USER} SSH keys, the most allowed: delete one first."
        )));
    }
    // Stored in one shape whatever the blanks pasted around it.
    let mut stored = line
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    if !key.comment.is_empty() {
        stored.push(' ');
        stored.push_str(&key.comment);
    }
    cfg.management.ssh_keys.push(SshUserKey {
        user: user.clone(),
        key: stored,
    });
    stage(
        ctx,
        &cfg,
        &format!(
            "SSH key {} {} added for {user}.",
            key.kind,
            key.fingerprint()
        ),
    )
}

fn delete(ctx: &CommandContext<'_>, user: &str, n: &str) -> Result<String, CliError> {
    let user = user_name(user)?;
    let mut cfg = ctx.store.working()?;
    let count = keys_of(&cfg, &user).count();
    if count == 0 {
        return Err(invalid(format!("{user} has no SSH keys.")));
    }
    let n: usize = number("the key number", n, 1, count)?;
    let Some(at) = cfg
        .management
        .ssh_keys
        .iter()
        .enumerate()
        .filter(|(_, k)| k.user == user)
        .nth(n - 1)
        .map(|(i, _)| i)
    else {
        return Err(invalid(format!("{user} has no key {n}.")));
    };
    cfg.management.ssh_keys.remove(at);
    stage(ctx, &cfg, &format!("SSH key {n} of {user} deleted."))
}

fn keys_of<'c>(cfg: &'c Config, user: &'c str) -> impl Iterator<Item = &'c SshUserKey> {
    cfg.management
        .ssh_keys
        .iter()
        .filter(move |k| k.user == user)
}

/// Each user's keys, numbered as `delete` takes them, with the fingerprint
/// `ssh -v` and `ssh-keygen -l` print.
pub(super) fn render(cfg: &Config) -> String {
    let m = &cfg.management;
    let mut out = if m.ssh_enabled {
        format!("SSH: enabled on port {} (adminaccessconfig)\n", m.ssh_port)
    } else {
        "SSH: disabled (adminaccessconfig)\n".to_string()
    };
    let mut users: Vec<&str> = Vec::new();
    for k in &m.ssh_keys {
        if !users.contains(&k.user.as_str()) {
            users.push(&k.user);
        }
    }
    if users.is_empty() {
        out.push_str("No SSH public keys are configured.");
        return out;
    }
    for user in users {
        out.push_str(&format!("\nPublic keys of {user}:\n"));
        for (i, k) in keys_of(cfg, user).enumerate() {
            let line = match SshPublicKey::parse(&k.key) {
                Ok(p) if p.comment.is_empty() => format!("{} {}", p.kind, p.fingerprint()),
                Ok(p) => format!("{} {} {}", p.kind, p.fingerprint(), p.comment),
                // Stored by earlier firmware or a hand-edited file:
                // shown so it can be deleted.
                Err(e) => format!("unreadable key ({e})"),
            };
            out.push_str(&format!("{}. {line}\n", i + 1));
        }
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    const ALICE: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILkZr0pw/Ux9QDZjEMt4KrgqnxK8frHuzFs/vbGqcvoa alice@laptop";
    const FINGERPRINT: &str = "SHA256:mKphZtudUK6wEUz9ZCwOqSbjbbwoRtJZIyPSQtTcbmE";
    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDgepXsfK7EfOLR12KQzoWiGO4ZnswJ6201oYoBLgn526F48SJXnkxxSImqsQVgPmT4ZIiEI+s+Qi54KwMJOwiSd6flmijs3d1/BBSLGJU0TMHmn4Z+uFZJBBas5USPInC0SiqOWeLnldmU/kPEgypvlWaQxo7sU27mtQfNMqbBkw==";

    #[test]
    fn keys_are_added_printed_with_fingerprints_and_deleted() {
        let f = Fixture::new();
        assert_eq!(
            f.run("sshconfig print").unwrap(),
            "SSH: enabled on port 2222 (adminaccessconfig)\nNo SSH public keys are configured."
        );
        let out = f.run(&format!("sshconfig new Admin {ALICE}")).unwrap();
        assert!(
            out.starts_with(&format!(
                "SSH key ssh-ed25519 {FINGERPRINT} added for admin.\nThe change is staged"
            )),
            "{out}"
        );
        // On standard input, as `breakwater cli sshconfig new bob < id.pub`.
        let on_stdin = |line: &str, stdin: &str| {
            let args = breakwater_control_proto::split_words(line);
            let on_commit = |_: &crate::config::Config| {};
            let ctx = super::super::CommandContext {
                store: &f.store,
                user: "admin",
                on_commit: &on_commit,
            };
            super::super::run(&ctx, None, &args, Some(stdin))
        };
        on_stdin("sshconfig new bob", &format!("\n{RSA}\n")).unwrap();
        on_stdin("sshconfig new bob -", &format!("{ALICE}\n.\n")).unwrap();
        assert_eq!(
            f.run("sshconfig print").unwrap(),
            format!(
                "SSH: enabled on port 2222 (adminaccessconfig)\n\n\
                 Public keys of admin:\n\
                 1. ssh-ed25519 {FINGERPRINT} alice@laptop\n\n\
                 Public keys of bob:\n\
                 1. ssh-rsa SHA256:m8y6fdL5ESEnG0X8L45tjNk8TpxbWh21pVRspluT7nA\n\
                 2. ssh-ed25519 {FINGERPRINT} alice@laptop"
            )
        );

        f.run("sshconfig delete bob 1").unwrap();
        let keys = f.staged().unwrap().management.ssh_keys;
        assert_eq!(keys.len(), 2);
        assert_eq!(
            (keys[1].user.as_str(), keys[1].key.as_str()),
            ("bob", ALICE)
        );
    }

    #[test]
    fn bad_keys_users_and_numbers_are_refused_and_stage_nothing() {
        let f = Fixture::new();
        f.assert_refused(&[
            "sshconfig",
            "sshconfig new",
            "sshconfig new alice",
            "sshconfig new 1alice ssh-ed25519 AAAA",
            "sshconfig new alice ssh-ed25519 AAAA",
            "sshconfig new alice ssh-dss AAAAB3NzaC1kc3MAAACBAP",
            "sshconfig new alice ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAILkZr0pw/Ux9QDZjEMt4KrgqnxK8frHuzFs/vbGqcvoa",
            "sshconfig delete alice 1",
            "sshconfig frob",
        ]);
        let err = f.run("sshconfig new alice ssh-ed25519 AAAA").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid SSH public key: the key data does not hold a ssh-ed25519 key."
        );
        f.run(&format!("sshconfig new alice {ALICE}")).unwrap();
        let err = f.run(&format!("sshconfig new alice {ALICE}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("This key ({FINGERPRINT}) is already key 1 of alice.")
        );
        assert!(f.run("sshconfig delete alice 2").is_err());
        assert!(f.run("sshconfig delete alice 0").is_err());
    }
}

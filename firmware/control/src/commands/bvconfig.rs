//! `bvconfig`: Bounce Verification (AsyncOS's command): the address
//! tagging keys, what happens to invalid bounces, and the two per-object
//! switches AsyncOS keeps elsewhere (a destination control's "perform
//! address tagging", a mail flow policy's "consider untagged bounces
//! valid"), which live in `bounce_verification` because the stored
//! destination controls and policies cannot grow.
//!
//! Keys are secrets: `print` shows two characters of each, `saveconfig`
//! masks them.

use breakwater_types::clock;
use chrono::DateTime;

use super::args::{invalid, stage, usage};
use super::{CliError, CommandContext};
use crate::config::bounce_verification::{
    self as bv, BounceVerificationSettings, DEFAULT_HEADER_NAME, DEFAULT_HEADER_VALUE,
    InvalidBounceAction,
};

pub(super) use breakwater_control_proto::usage::BVCONFIG as USAGE;

/// `stdin` carries the key of `bvconfig new -`, kept out of the command
/// line (and so out of shell histories and process listings).
pub(super) fn run(
    ctx: &CommandContext<'_>,
    args: &[String],
    stdin: Option<&str>,
) -> Result<String, CliError> {
    let word = |i: usize| args.get(i).map(|a| a.to_ascii_lowercase());
    let mut cfg = ctx.store.working()?;
    let now = chrono::Utc::now().timestamp();
    let s = &mut cfg.bounce_verification;
    let done = match (word(0).as_deref(), args.len()) {
        (None, 0) | (Some("print"), 1) => return Ok(render(s)),
        (Some("new" | "keys"), 1 | 2) => {
            let (secret, generated) = match args.get(1) {
                Some(k) if k == "-" => (
                    stdin
                        .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
                        .ok_or_else(|| {
                            invalid("'bvconfig new -' reads the key from standard input.")
                        })?,
                    false,
                ),
                Some(k) => (k.clone(), false),
                None => (
                    bv::generate_secret()
                        .map_err(|_| invalid("The system's random generator failed."))?,
                    true,
                ),
            };
            let n = s.add_key(secret, now).map_err(|e| invalid(e.to_string()))?;
            format!(
                "Key {n} {} and is now the current tagging key.",
                if generated { "generated" } else { "added" }
            )
        }
        (Some("purge"), 2) => {
            let days: i64 = super::args::number("days", &args[1], 0, 3650)?;
            let gone = s.purge_older_than(days, now);
            if gone == 0 {
                return Err(invalid(format!(
                    "No key but the current one is older than {days} days."
                )));
            }
            format!("{gone} key(s) older than {days} days purged.")
        }
        (Some("clear"), 1) => {
            if s.keys.is_empty() {
                return Err(invalid("No tagging keys are configured."));
            }
            s.keys.clear();
            "All tagging keys removed: mail is no longer tagged and bounces are no longer verified."
                .to_string()
        }
        (Some("setup"), 2) if word(1).as_deref() == Some("reject") => {
            s.invalid_action = InvalidBounceAction::Reject;
            "Invalid bounces will be rejected.".to_string()
        }
        (Some("setup"), 2..=4) if word(1).as_deref() == Some("header") => {
            let name = args.get(2).map_or(DEFAULT_HEADER_NAME, |n| n.as_str());
            let value = args.get(3).map_or(DEFAULT_HEADER_VALUE, |v| v.as_str());
            bv::check_header(name, value).map_err(|e| invalid(e.to_string()))?;
            s.invalid_action = InvalidBounceAction::AddHeader {
                name: name.to_string(),
                value: value.to_string(),
            };
            format!("Invalid bounces will be delivered with the header \"{name}: {value}\".")
        }
        (Some("tagging"), 3) => {
            let on = match word(2).as_deref() {
                Some("on" | "yes") => Some(true),
                Some("off" | "no") => Some(false),
                Some("default") => None,
                _ => return Err(usage(USAGE)),
            };
            let dest = args[1].to_ascii_lowercase();
            if dest == "default" {
                s.default_tagging = on.ok_or_else(|| usage(USAGE))?;
            } else {
                if !cfg
                    .destination_controls
                    .iter()
                    .any(|d| d.domain.eq_ignore_ascii_case(&dest))
                {
                    return Err(invalid(format!(
                        "No destination control for {dest}: add it with destconfig first."
                    )));
                }
                let s = &mut cfg.bounce_verification;
                match on {
                    Some(t) => s.set_destination(&dest, t),
                    None => s.rename_destination(&dest, None),
                }
            }
            let s = &cfg.bounce_verification;
            let on = if dest == "default" {
                s.default_tagging
            } else {
                s.tags_destination(&dest)
            };
            format!(
                "Address tagging for {dest}: {}.",
                if on { "on" } else { "off" }
            )
        }
        (Some("untagged"), 4) => {
            let valid = match word(3).as_deref() {
                Some("valid" | "yes") => true,
                Some("invalid" | "no") => false,
                _ => return Err(usage(USAGE)),
            };
            let (listener, policy) = (&args[1], &args[2]);
            let l = super::args::find(&cfg, listener)?;
            if !l.policies.iter().any(|p| p.name == *policy) {
                return Err(invalid(format!(
                    "Listener {listener} has no mail flow policy {policy}."
                )));
            }
            let (listener, policy) = (l.name.clone(), policy.clone());
            cfg.bounce_verification
                .set_untagged_valid(&listener, &policy, valid);
            format!(
                "Mail flow policy {policy} of {listener}: untagged bounces are {}.",
                if valid { "considered valid" } else { "invalid" }
            )
        }
        _ => return Err(usage(USAGE)),
    };
    cfg.bounce_verification
        .validate()
        .map_err(|e| invalid(e.to_string()))?;
    stage(ctx, &cfg, &done)
}

fn date(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|t| {
            clock::local(t)
                .format("%a %b %e %H:%M:%S %Y %Z")
                .to_string()
        })
        .unwrap_or_default()
}

/// The settings, keys masked:
///
/// ```text
/// Bounce verification: tagging keys (newest first):
/// 1. Key 1 (current)  added Sun Dec  6 19:53:57 2026 UTC  ab********
/// ```
pub fn render(s: &BounceVerificationSettings) -> String {
    let mut out = String::new();
    if s.keys.is_empty() {
        out.push_str("No address tagging keys: mail is not tagged and bounces are not verified.\n");
    } else {
        out.push_str("Address tagging keys (newest first):\n");
        for (i, k) in s.keys.iter().rev().enumerate() {
            out.push_str(&format!(
                "{}. Key {}{}  added {}  {}\n",
                i + 1,
                k.number,
                if i == 0 { " (current)" } else { "" },
                date(k.created),
                bv::masked_secret(&k.secret)
            ));
        }
    }
    out.push_str(&format!(
        "Address tagging for the default destination: {}\n",
        if s.default_tagging { "on" } else { "off" }
    ));
    for d in &s.destinations {
        out.push_str(&format!(
            "Address tagging for {}: {}\n",
            d.destination,
            if d.tag { "on" } else { "off" }
        ));
    }
    match &s.invalid_action {
        InvalidBounceAction::Reject => out.push_str("Invalid bounces: rejected\n"),
        InvalidBounceAction::AddHeader { name, value } => out.push_str(&format!(
            "Invalid bounces: delivered with the header \"{name}: {value}\"\n"
        )),
    }
    let valid: Vec<String> = s
        .untagged_valid
        .iter()
        .filter(|p| p.valid)
        .map(|p| format!("{} {}", p.listener, p.policy))
        .collect();
    if valid.is_empty() {
        out.push_str("Untagged bounces are invalid under every mail flow policy.");
    } else {
        out.push_str(&format!(
            "Mail flow policies considering untagged bounces valid: {}",
            valid.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    #[test]
    fn keys_are_added_listed_masked_and_purged() {
        let f = Fixture::new();
        assert!(
            f.run("bvconfig")
                .unwrap()
                .starts_with("No address tagging keys")
        );
        let out = f.run("bvconfig new averysecretkey").unwrap();
        assert!(
            out.starts_with("Key 0 added and is now the current tagging key."),
            "{out}"
        );
        f.store.commit("admin", "key", None).unwrap();
        let out = f.run("bvconfig new").unwrap();
        assert!(out.starts_with("Key 1 generated"), "{out}");
        let listed = f.run("bvconfig print").unwrap();
        assert!(listed.contains("1. Key 1 (current)  added "), "{listed}");
        assert!(
            listed.contains("2. Key 0  added ") && listed.contains("av********"),
            "{listed}"
        );
        assert!(!listed.contains("averysecretkey"), "{listed}");
        // Both keys were added just now: nothing is older than a day.
        assert!(f.run("bvconfig purge 1").is_err());
        assert!(f.run("bvconfig purge 0").unwrap().starts_with("1 key(s)"));
        assert_eq!(f.working().bounce_verification.keys.len(), 1);
        assert!(
            f.run("bvconfig clear")
                .unwrap()
                .starts_with("All tagging keys removed")
        );
        let ctx = super::super::CommandContext {
            store: &f.store,
            user: "admin",
            on_commit: &|_| {},
        };
        let args = ["new".to_string(), "-".to_string()];
        let out = super::run(&ctx, &args, Some("key from standard input\n")).unwrap();
        assert!(out.starts_with("Key 0 added"), "{out}");
        let keys = f.working().bounce_verification.keys;
        assert_eq!(keys[0].secret, "key from standard input");
    }

    #[test]
    fn settings_name_real_destinations_and_policies() {
        let f = Fixture::new();
        f.assert_refused(&[
            "bvconfig new short",
            "bvconfig tagging nowhere.example on",
            "bvconfig untagged IncomingMail NOSUCH valid",
            "bvconfig untagged NoListener ACCEPTED valid",
            "bvconfig setup header Bad:Name",
            "bvconfig purge many",
        ]);
        f.run("bvconfig tagging default on").unwrap();
        f.run("bvconfig untagged IncomingMail ACCEPTED valid")
            .unwrap();
        f.run("bvconfig setup header").unwrap();
        let s = f.working().bounce_verification;
        assert!(s.default_tagging && s.untagged_valid("IncomingMail", "ACCEPTED"));
        let listed = f.run("bvconfig").unwrap();
        assert!(
            listed.contains("Invalid bounces: delivered with the header \"X-IronPort-Invalid-Bounce: Bounce verification failed\""),
            "{listed}"
        );
        assert!(listed.contains("IncomingMail ACCEPTED"), "{listed}");
    }

    #[test]
    fn deleting_a_destination_control_forgets_its_tagging() {
        let f = Fixture::new();
        f.run("destconfig new partner.example").unwrap();
        f.run("bvconfig tagging partner.example off").unwrap();
        assert_eq!(f.working().bounce_verification.destinations.len(), 1);
        f.run("destconfig delete partner.example").unwrap();
        assert!(f.working().bounce_verification.destinations.is_empty());
    }
}

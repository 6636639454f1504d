//! A mail flow policy's security features where AsyncOS puts them: in the
//! policy itself (`hostaccess editpolicy P --spf on --callahead off ...`,
//! `hostaccess detail policy P`). The stored `MailFlowPolicy` cannot grow,
//! so the settings stay where issue 17 stores them (`sender_auth`,
//! `call_ahead`, `bounce_verification`, `domain_keys`): these options are
//! aliases that run the same code as `hostaccess senderauth`,
//! `smtpcallahead policy`, `bvconfig untagged` and `domainkeysconfig
//! policy`, so both spellings validate and stage alike.

use std::fmt::Write as _;

use super::args::{STAGED_NOTE, invalid, usage};
use super::{CliError, CommandContext};
use crate::config::Config;
use crate::config::sender_auth::SpfConformance;

const USAGE: &str = "\
usage: listenerconfig edit <listener> hostaccess editpolicy <POLICY> [policy options]
         [--spf on|off] [--spf-conformance spf-only|sidf-compatible|sidf-strict]
         [--dkim on|off] [--dmarc on|off] [--dmarc-profile PROFILE]
         [--callahead on|off] [--untagged-bounces valid|invalid] [--dkim-signing on|off]
       listenerconfig edit <listener> hostaccess detail policy <POLICY>";

/// The `senderauth` options, passed on as they are.
const SENDER_AUTH: &[&str] = &["spf", "spf-conformance", "dkim", "dmarc", "dmarc-profile"];
/// The switches kept by other commands.
const SWITCHES: &[&str] = &["callahead", "untagged-bounces", "dkim-signing"];

/// Whether `args` (after `editpolicy`) name a security feature option.
pub(super) fn has_security_options(args: &[String]) -> bool {
    args.iter().any(|a| {
        a.strip_prefix("--")
            .map(|o| o.split_once('=').map_or(o, |(n, _)| n))
            .is_some_and(|o| SENDER_AUTH.contains(&o) || SWITCHES.contains(&o))
    })
}

/// `editpolicy <POLICY> [options]` with security options among them: the
/// policy's own settings first (through `policy::run`), then sender
/// authentication, then the three switches. Every value is checked before
/// anything is staged.
pub(super) fn edit_policy(
    ctx: &CommandContext<'_>,
    listener: &str,
    args: &[String],
) -> Result<String, CliError> {
    let mut positional = Vec::new();
    let mut own = Vec::new();
    let mut auth = Vec::new();
    let mut switches: Vec<(String, String)> = Vec::new();
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let Some(opt) = a.strip_prefix("--") else {
            positional.push(a.clone());
            continue;
        };
        let (name, value) = match opt.split_once('=') {
            Some((n, v)) => (n.to_ascii_lowercase(), v.to_string()),
            None => {
                let v = it.next().ok_or_else(|| usage(USAGE))?;
                (opt.to_ascii_lowercase(), v.clone())
            }
        };
        if SENDER_AUTH.contains(&name.as_str()) {
            auth.push(format!("--{name}"));
            auth.push(value);
        } else if SWITCHES.contains(&name.as_str()) {
            switches.push((name, value));
        } else {
            own.push(format!("--{name}"));
            own.push(value);
        }
    }
    let [name] = positional.as_slice() else {
        return Err(usage(USAGE));
    };
    let cfg = ctx.store.working()?;
    let l = super::args::find(&cfg, listener)?;
    let (lname, pname) = (l.name.clone(), super::policy::canonical_name(l, name)?);
    let switches = switches
        .into_iter()
        .map(|(n, v)| {
            let word = v.to_ascii_lowercase();
            let ok = match n.as_str() {
                "untagged-bounces" => matches!(word.as_str(), "valid" | "invalid" | "yes" | "no"),
                _ => matches!(word.as_str(), "on" | "off" | "yes" | "no"),
            };
            if !ok {
                let choices = if n == "untagged-bounces" {
                    "valid or invalid"
                } else {
                    "on or off"
                };
                return Err(invalid(format!("Invalid --{n} '{v}': use {choices}.")));
            }
            Ok((n, word))
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    check_auth(&cfg, &auth)?;
    let mut said = Vec::new();
    let s = |v: &[&str]| -> Vec<String> { v.iter().map(|w| w.to_string()).collect() };
    if !own.is_empty() {
        let mut a = s(&["editpolicy", &pname]);
        a.extend(own);
        said.push(super::policy::run(ctx, &lname, &a)?);
    }
    if !auth.is_empty() {
        let mut a = s(&["senderauth", &pname]);
        a.extend(auth);
        said.push(super::dmarcconfig::flow_policy(ctx, &lname, &a)?);
    }
    for (n, v) in switches {
        said.push(match n.as_str() {
            "callahead" => super::smtpcallahead::run(ctx, &s(&["policy", &lname, &pname, &v]))?,
            "untagged-bounces" => {
                super::bvconfig::run(ctx, &s(&["untagged", &lname, &pname, &v]), None)?
            }
            _ => super::domainkeys::run(ctx, &s(&["policy", &lname, &pname, &v]), None)?,
        });
    }
    // Each command said the change is staged; say it once.
    let mut out: Vec<&str> = said
        .iter()
        .map(|m| m.strip_suffix(STAGED_NOTE).unwrap_or(m).trim_end())
        .collect();
    out.push(STAGED_NOTE);
    Ok(out.join("\n"))
}

/// The sender authentication values, checked as `senderauth` checks
/// them, so that a bad one is refused before the policy's own settings
/// are staged.
fn check_auth(cfg: &Config, auth: &[String]) -> Result<(), CliError> {
    for pair in auth.chunks(2) {
        let [name, v] = pair else {
            return Err(usage(USAGE));
        };
        let ok = match name.as_str() {
            "--spf-conformance" => SpfConformance::parse(v).is_some(),
            "--dmarc-profile" => cfg.sender_auth.profile(v).is_some(),
            _ => matches!(v.to_ascii_lowercase().as_str(), "on" | "off" | "yes" | "no"),
        };
        if !ok {
            return Err(invalid(format!("Invalid {name} '{v}'.")));
        }
    }
    Ok(())
}

fn yes(b: bool) -> &'static str {
    if b { "Yes" } else { "No" }
}

fn on(b: bool) -> &'static str {
    if b { "On" } else { "Off" }
}

/// AsyncOS's words for the conformance levels.
fn conformance_label(c: SpfConformance) -> &'static str {
    match c {
        SpfConformance::SpfOnly => "SPF only",
        SpfConformance::SidfCompatible => "SIDF compatible",
        SpfConformance::SidfStrict => "SIDF strict",
    }
}

/// The "Security Features" part of a mail flow policy, AsyncOS's layout,
/// each line indented by `indent`.
pub(super) fn render(cfg: &Config, listener: &str, policy: &str, indent: &str) -> String {
    let auth = cfg.sender_auth.for_policy(listener, policy);
    let mut out = String::new();
    let _ = writeln!(out, "{indent}Use SPF/SIDF Verification: {}", yes(auth.spf));
    if auth.spf {
        let _ = writeln!(
            out,
            "{indent}  Conformance Level: {}",
            conformance_label(auth.spf_conformance)
        );
    }
    let _ = writeln!(out, "{indent}Use DKIM Verification: {}", yes(auth.dkim));
    match &auth.dmarc_profile {
        Some(p) => {
            let _ = writeln!(out, "{indent}Use DMARC Verification: Yes");
            let _ = writeln!(out, "{indent}  DMARC Verification Profile: {p}");
        }
        None => {
            let _ = writeln!(out, "{indent}Use DMARC Verification: No");
        }
    }
    let callahead = match cfg.call_ahead.profile_for_listener(listener) {
        Some(p) if cfg.call_ahead.enabled_for(listener, policy) => {
            format!("On (profile {})", p.name)
        }
        Some(_) => "Off".to_string(),
        None => "Off (no profile on this listener)".to_string(),
    };
    let _ = writeln!(out, "{indent}SMTP Call-Ahead: {callahead}");
    let _ = writeln!(
        out,
        "{indent}Consider Untagged Bounces to be Valid: {}",
        yes(cfg.bounce_verification.untagged_valid(listener, policy))
    );
    let _ = writeln!(
        out,
        "{indent}Domain Key/DKIM Signing: {}",
        on(cfg.domain_keys.signs(listener, policy))
    );
    out
}

/// `detail policy <POLICY>`: the policy's settings, then its security
/// features.
pub(super) fn detail(
    ctx: &CommandContext<'_>,
    listener: &str,
    name: &str,
) -> Result<String, CliError> {
    let cfg = ctx.store.working()?;
    let l = super::args::find(&cfg, listener)?;
    let pname = super::policy::canonical_name(l, name)?;
    let p = l.policy(&pname).ok_or_else(|| {
        invalid(format!(
            "Listener {} has no mail flow policy {pname}.",
            l.name
        ))
    })?;
    let mut out = format!(
        "Mail Flow Policy ${} (listener {})\n  Connection Behavior: {}\n  TLS: {}\n\nSecurity Features:\n",
        p.name,
        l.name,
        p.behavior.word(),
        p.tls.word()
    );
    out.push_str(&render(&cfg, &l.name, &p.name, "  "));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    #[test]
    fn editpolicy_takes_asyncos_security_options_and_detail_shows_them() {
        let f = Fixture::new();
        f.run("smtpcallahead new probe").unwrap();
        f.run("smtpcallahead listener IncomingMail probe").unwrap();
        f.run(
            "listenerconfig edit IncomingMail hostaccess editpolicy ACCEPTED --max-recipients 500 \
             --spf on --spf-conformance sidf-compatible --dmarc on --callahead off \
             --untagged-bounces valid --dkim-signing on",
        )
        .unwrap();
        let shown = f
            .run("listenerconfig edit IncomingMail hostaccess detail policy ACCEPTED")
            .unwrap();
        for line in [
            "Use SPF/SIDF Verification: Yes",
            "  Conformance Level: SIDF compatible",
            "Use DKIM Verification: No",
            "Use DMARC Verification: Yes",
            "  DMARC Verification Profile: DEFAULT",
            "SMTP Call-Ahead: Off",
            "Consider Untagged Bounces to be Valid: Yes",
            "Domain Key/DKIM Signing: On",
        ] {
            assert!(shown.contains(line), "{line}\n{shown}");
        }
        // The same settings through their own commands.
        assert_eq!(
            f.run("listenerconfig edit IncomingMail hostaccess senderauth ACCEPTED")
                .unwrap(),
            "SPF/SIDF verification: on (sidf-compatible); DKIM verification: off; DMARC verification: on (profile DEFAULT)"
        );
        let print = f
            .run("listenerconfig edit IncomingMail hostaccess print")
            .unwrap();
        assert!(print.contains("max recipients 500"), "{print}");
        f.run("listenerconfig edit IncomingMail hostaccess editpolicy accepted --callahead on")
            .unwrap();
        let shown = f
            .run("listenerconfig edit IncomingMail hostaccess detail policy ACCEPTED")
            .unwrap();
        assert!(
            shown.contains("SMTP Call-Ahead: On (profile probe)"),
            "{shown}"
        );
    }

    #[test]
    fn a_bad_value_stages_nothing() {
        let f = Fixture::new();
        let before = f
            .run("listenerconfig edit IncomingMail hostaccess detail policy ACCEPTED")
            .unwrap();
        for bad in [
            "--spf on --callahead maybe",
            "--dkim-signing on --untagged-bounces sometimes",
            "--spf on --dmarc-profile NOPE --dkim-signing on",
            "--max-recipients 0 --spf on",
        ] {
            let line =
                format!("listenerconfig edit IncomingMail hostaccess editpolicy ACCEPTED {bad}");
            assert!(f.run(&line).is_err(), "{bad}");
        }
        assert!(
            f.run("listenerconfig edit IncomingMail hostaccess editpolicy NOPE --spf on")
                .is_err()
        );
        assert_eq!(
            f.run("listenerconfig edit IncomingMail hostaccess detail policy ACCEPTED")
                .unwrap(),
            before
        );
    }
}

#[cfg(test)]
mod destination_tests {
    use super::super::testutil::Fixture;

    /// destconfig's "Bounce Verification: perform address tagging" is
    /// bvconfig's per-destination switch: set by either, shown by both.
    #[test]
    fn destconfig_bounce_verification_is_the_tagging_switch() {
        let f = Fixture::new();
        f.run("destconfig new example.com --bounce_verification on")
            .unwrap();
        let cfg = f.store.working().unwrap();
        assert!(cfg.bounce_verification.tags_destination("example.com"));
        assert!(!cfg.bounce_verification.tags_destination("other.example"));
        let detail = f.run("destconfig detail example.com").unwrap();
        assert!(
            detail.contains("Bounce Verification: perform address tagging: Yes"),
            "{detail}"
        );
        f.run("bvconfig tagging example.com off").unwrap();
        let detail = f.run("destconfig detail example.com").unwrap();
        assert!(
            detail.contains("Bounce Verification: perform address tagging: No"),
            "{detail}"
        );
        f.run("destconfig edit default --bounce_verification on")
            .unwrap();
        assert!(
            f.store
                .working()
                .unwrap()
                .bounce_verification
                .default_tagging
        );
        let list = f.run("destconfig list").unwrap();
        let default_row = list
            .lines()
            .find(|l| l.starts_with("Default"))
            .unwrap_or_default();
        assert!(default_row.contains("On"), "{list}");
        assert!(
            f.run("destconfig edit example.com --bounce_verification maybe")
                .is_err()
        );
    }
}

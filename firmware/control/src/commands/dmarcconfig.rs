//! Sender authentication settings (issue 17): `dmarcconfig` (AsyncOS's
//! DMARC verification profiles, and the per-message verification limits)
//! and `listenerconfig edit <listener> hostaccess senderauth <POLICY>`
//! (a mail flow policy's "Use SPF/SIDF Verification", "Use DKIM
//! Verification" and "DMARC Verification" settings).

use super::args::{check_name, check_text, invalid, parse_opts, stage, usage};
use super::{CliError, CommandContext};
use crate::config::sender_auth::{
    DEFAULT_DMARC_PROFILE, DmarcAction, DmarcProfile, FlowPolicyAuth, MAX_DMARC_PROFILES,
    SenderAuthSettings, SpfConformance,
};

pub(super) use breakwater_control_proto::usage::DMARCCONFIG as USAGE;

const SENDERAUTH_USAGE: &str = "\
usage: listenerconfig edit <listener> hostaccess senderauth <POLICY> [options]
options: --spf on|off  --spf-conformance spf-only|sidf-compatible|sidf-strict
         --dkim on|off  --dmarc on|off  --dmarc-profile <PROFILE>
(without options: prints the policy's settings)";

/// Longest reject text; an SMTP reply line is at most 512 octets.
const MAX_REPLY_TEXT: usize = 400;

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let mut cfg = ctx.store.working()?;
    let word = args.first().map(|a| a.to_ascii_lowercase());
    match word.as_deref() {
        None | Some("print") if args.len() <= 1 => Ok(render(&cfg.sender_auth)),
        Some("new") => {
            let [_, name] = args else {
                return Err(usage(USAGE));
            };
            check_name("profile", name)?;
            if cfg.sender_auth.profile(name).is_some() {
                return Err(invalid(format!(
                    "DMARC verification profile '{name}' already exists; use edit."
                )));
            }
            if cfg.sender_auth.dmarc_profiles.len() >= MAX_DMARC_PROFILES {
                return Err(invalid(format!(
                    "At most {MAX_DMARC_PROFILES} DMARC verification profiles."
                )));
            }
            cfg.sender_auth
                .dmarc_profiles
                .push(DmarcProfile::predefined(name));
            stage(
                ctx,
                &cfg,
                &format!("DMARC verification profile {name} created."),
            )
        }
        Some("edit") => {
            let (Some(name), Some(which)) = (args.get(1), args.get(2)) else {
                return Err(usage(USAGE));
            };
            let rest = &args[3..];
            let profile = cfg
                .sender_auth
                .dmarc_profiles
                .iter_mut()
                .find(|p| p.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| no_profile(name))?;
            match which.to_ascii_lowercase().as_str() {
                "reject" => profile.on_reject = action(rest, true)?,
                "quarantine" => profile.on_quarantine = action(rest, false)?,
                "temperror" => {
                    profile.on_temperror_accept =
                        match rest.first().map(|s| s.to_ascii_lowercase()).as_deref() {
                            Some("accept") if rest.len() == 1 => true,
                            Some("reject") if rest.len() == 1 => false,
                            _ => return Err(usage(USAGE)),
                        }
                }
                _ => return Err(usage(USAGE)),
            }
            let name = profile.name.clone();
            check(&cfg.sender_auth)?;
            stage(
                ctx,
                &cfg,
                &format!("DMARC verification profile {name} updated."),
            )
        }
        Some("delete") => {
            let [_, name] = args else {
                return Err(usage(USAGE));
            };
            if name.eq_ignore_ascii_case(DEFAULT_DMARC_PROFILE) {
                return Err(invalid("The DEFAULT profile cannot be deleted."));
            }
            let at = cfg
                .sender_auth
                .dmarc_profiles
                .iter()
                .position(|p| p.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| no_profile(name))?;
            let gone = cfg.sender_auth.dmarc_profiles[at].name.clone();
            if let Some(user) = cfg.sender_auth.flow_policies.iter().find(|f| {
                f.dmarc_profile
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(&gone))
            }) {
                return Err(invalid(format!(
                    "Profile {gone} is used by mail flow policy ${} on {}; change it first.",
                    user.policy, user.listener
                )));
            }
            cfg.sender_auth.dmarc_profiles.remove(at);
            stage(
                ctx,
                &cfg,
                &format!("DMARC verification profile {gone} deleted."),
            )
        }
        Some("setup") => {
            let opts = parse_opts(
                &args[1..],
                &["dns-budget", "max-dkim-signatures"],
                &[],
                USAGE,
            )?;
            if !opts.any() || !opts.positional.is_empty() {
                return Err(usage(USAGE));
            }
            if let Some(n) = opts.number("dns-budget", 1u32, 300)? {
                cfg.sender_auth.dns_budget_secs = n;
            }
            if let Some(n) = opts.number("max-dkim-signatures", 1u32, 50)? {
                cfg.sender_auth.max_dkim_signatures = n;
            }
            check(&cfg.sender_auth)?;
            stage(ctx, &cfg, "Sender authentication limits updated.")
        }
        _ => Err(usage(USAGE)),
    }
}

/// `none`, `quarantine <QUARANTINE>`, or (for p=reject) `reject [CODE] [TEXT...]`.
fn action(rest: &[String], may_reject: bool) -> Result<DmarcAction, CliError> {
    let word = rest.first().map(|s| s.to_ascii_lowercase());
    match word.as_deref() {
        Some("none") if rest.len() == 1 => Ok(DmarcAction::NoAction),
        Some("quarantine") if rest.len() == 2 => {
            check_name("quarantine", &rest[1])?;
            Ok(DmarcAction::Quarantine(rest[1].clone()))
        }
        Some("reject") if may_reject => {
            let code = match rest.get(1) {
                Some(c) => c
                    .parse::<u16>()
                    .ok()
                    .filter(|c| (500..=599).contains(c))
                    .ok_or_else(|| invalid(format!("Invalid reject code '{c}': use 5xx.")))?,
                None => 550,
            };
            let text = if rest.len() > 2 {
                rest[2..].join(" ")
            } else {
                "5.7.1 DMARC unauthenticated mail is prohibited".to_string()
            };
            check_text("reject text", &text, MAX_REPLY_TEXT)?;
            Ok(DmarcAction::Reject { code, text })
        }
        _ => Err(usage(USAGE)),
    }
}

fn no_profile(name: &str) -> CliError {
    invalid(format!(
        "There is no DMARC verification profile named '{name}'."
    ))
}

fn check(s: &SenderAuthSettings) -> Result<(), CliError> {
    match s.problems().first() {
        Some((field, message)) => Err(invalid(format!("{field}: {message}"))),
        None => Ok(()),
    }
}

/// The profiles and limits:
///
/// ```text
/// DMARC verification profiles:
/// DEFAULT
///   p=reject:      reject 550 5.7.1 DMARC unauthenticated mail is prohibited
///   p=quarantine:  quarantine Policy
///   temporary failure: accept
/// DNS budget per message: 20 seconds; DKIM signatures verified: 5
/// ```
pub fn render(s: &SenderAuthSettings) -> String {
    let mut out = String::from("DMARC verification profiles:\n");
    for p in &s.dmarc_profiles {
        out.push_str(&format!(
            "{}\n  p=reject:      {}\n  p=quarantine:  {}\n  temporary failure: {}\n",
            p.name,
            p.on_reject.describe(),
            p.on_quarantine.describe(),
            if p.on_temperror_accept {
                "accept"
            } else {
                "reject 451 4.7.1 Unable to perform DMARC verification."
            }
        ));
    }
    out.push_str(&format!(
        "DNS budget per message: {} seconds; DKIM signatures verified: {}",
        s.dns_budget_secs, s.max_dkim_signatures
    ));
    out
}

/// `listenerconfig edit <listener> hostaccess senderauth <POLICY> [options]`.
pub(super) fn flow_policy(
    ctx: &CommandContext<'_>,
    listener: &str,
    args: &[String],
) -> Result<String, CliError> {
    let opts = parse_opts(
        &args[1..],
        &["spf", "spf-conformance", "dkim", "dmarc", "dmarc-profile"],
        &[],
        SENDERAUTH_USAGE,
    )?;
    let [name] = opts.positional.as_slice() else {
        return Err(usage(SENDERAUTH_USAGE));
    };
    let mut cfg = ctx.store.working()?;
    let l = super::args::find(&cfg, listener)?;
    let lname = l.name.clone();
    let pname = super::policy::canonical_name(l, name)?;
    if !opts.any() {
        return Ok(render_flow_policy(
            &cfg.sender_auth.for_policy(&lname, &pname),
        ));
    }
    let on_off = |what: &str| -> Result<Option<bool>, CliError> {
        opts.value(what)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "on" | "yes" => Ok(true),
                "off" | "no" => Ok(false),
                _ => Err(invalid(format!("Invalid --{what} '{v}': use on or off."))),
            })
            .transpose()
    };
    let spf = on_off("spf")?;
    let dkim = on_off("dkim")?;
    let dmarc = on_off("dmarc")?;
    let conformance = opts
        .value("spf-conformance")
        .map(|v| {
            SpfConformance::parse(v).ok_or_else(|| {
                invalid(format!(
                    "Invalid --spf-conformance '{v}': use spf-only, sidf-compatible or sidf-strict."
                ))
            })
        })
        .transpose()?;
    let profile = match opts.value("dmarc-profile") {
        Some(p) => Some(
            cfg.sender_auth
                .profile(p)
                .map(|p| p.name.clone())
                .ok_or_else(|| no_profile(p))?,
        ),
        None => None,
    };
    let entry = cfg.sender_auth.policy_mut(&lname, &pname);
    if let Some(on) = spf {
        entry.spf = on;
    }
    if let Some(c) = conformance {
        entry.spf_conformance = c;
    }
    if let Some(on) = dkim {
        entry.dkim = on;
    }
    match (dmarc, profile) {
        (Some(false), Some(_)) => {
            return Err(invalid("--dmarc off takes no --dmarc-profile."));
        }
        (Some(false), None) => entry.dmarc_profile = None,
        (_, Some(p)) => entry.dmarc_profile = Some(p),
        (Some(true), None) => {
            if entry.dmarc_profile.is_none() {
                entry.dmarc_profile = Some(DEFAULT_DMARC_PROFILE.to_string());
            }
        }
        (None, None) => {}
    }
    let shown = render_flow_policy(entry);
    // A policy with everything off needs no entry.
    cfg.sender_auth.prune(|_, _| true);
    check(&cfg.sender_auth)?;
    stage(
        ctx,
        &cfg,
        &format!("Mail flow policy ${pname} on {lname}: {shown}"),
    )
}

/// `SPF/SIDF verification: on (spf-only); DKIM verification: off; DMARC verification: on (profile DEFAULT)`.
pub fn render_flow_policy(p: &FlowPolicyAuth) -> String {
    let onoff = |b: bool| if b { "on" } else { "off" };
    format!(
        "SPF/SIDF verification: {}{}; DKIM verification: {}; DMARC verification: {}",
        onoff(p.spf),
        if p.spf {
            format!(" ({})", p.spf_conformance.word())
        } else {
            String::new()
        },
        onoff(p.dkim),
        match &p.dmarc_profile {
            Some(name) => format!("on (profile {name})"),
            None => "off".to_string(),
        }
    )
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    #[test]
    fn profiles_are_created_edited_and_guarded() {
        let f = Fixture::new();
        f.run("dmarcconfig new strict").unwrap();
        f.run("dmarcconfig edit strict reject reject 550 5.7.1 go away")
            .unwrap();
        f.run("dmarcconfig edit strict quarantine none").unwrap();
        let shown = f.run("dmarcconfig").unwrap();
        assert!(
            shown.contains("p=reject:      reject 550 5.7.1 go away"),
            "{shown}"
        );
        assert!(f.run("dmarcconfig edit strict reject reject 450").is_err());
        assert!(f.run("dmarcconfig delete DEFAULT").is_err());
        f.run("listenerconfig edit IncomingMail hostaccess senderauth ACCEPTED --spf on --dkim on --dmarc-profile strict")
            .unwrap();
        let p = f
            .run("listenerconfig edit IncomingMail hostaccess senderauth ACCEPTED")
            .unwrap();
        assert_eq!(
            p,
            "SPF/SIDF verification: on (spf-only); DKIM verification: on; DMARC verification: on (profile strict)"
        );
        let refused = f.run("dmarcconfig delete strict").unwrap_err().to_string();
        assert!(
            refused.contains("used by mail flow policy $ACCEPTED"),
            "{refused}"
        );
        f.run("listenerconfig edit IncomingMail hostaccess senderauth ACCEPTED --dmarc off")
            .unwrap();
        f.run("dmarcconfig delete strict").unwrap();
    }

    #[test]
    fn limits_are_bounded() {
        let f = Fixture::new();
        f.run("dmarcconfig setup --dns-budget 5 --max-dkim-signatures 2")
            .unwrap();
        assert!(
            f.run("dmarcconfig")
                .unwrap()
                .ends_with("DNS budget per message: 5 seconds; DKIM signatures verified: 2")
        );
        assert!(f.run("dmarcconfig setup --dns-budget 0").is_err());
        assert!(
            f.run("listenerconfig edit IncomingMail hostaccess senderauth NOPE --spf on")
                .is_err()
        );
    }
}

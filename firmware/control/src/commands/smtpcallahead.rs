//! `smtpcallahead`: SMTP Call-Ahead server profiles (AsyncOS's command of
//! that name), the listener each one validates recipients for, the mail
//! flow policies that turn it off, and which bounce profiles send the
//! complete original message in DSNs.
//!
//! The configuration forms stage a change like every `*config` command.
//! `smtpcallahead flushcache` and `smtpcallahead status` are the running
//! daemon's (its cache and counters): without a daemon they say so.

use super::args::{interface_name, invalid, parse_opts, stage, usage};
use super::{CliError, CommandContext};
use crate::config::Config;
use crate::config::call_ahead::{
    self as ca, CallAheadProfile, CallAheadServer, CallAheadSettings, FailureAction,
};

pub(super) use breakwater_control_proto::usage::SMTPCALLAHEAD as USAGE;

const VALUED: &[&str] = &[
    "type",
    "servers",
    "mailfrom",
    "interface",
    "timeout",
    "failure",
    "failure-code",
    "failure-text",
    "max-connections",
    "cache-size",
    "cache-ttl",
];

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let word = |i: usize| args.get(i).map(|a| a.to_ascii_lowercase());
    let mut cfg = ctx.store.working()?;
    match (word(0).as_deref(), args.len()) {
        (None, 0) | (Some("print"), 1) => Ok(render(&cfg.call_ahead)),
        (Some("flushcache" | "status"), 1) => Ok(
            "The call-ahead cache and counters are the running gateway's, which is not reachable."
                .to_string(),
        ),
        (Some("new"), 2..) => {
            let name = args[1].trim().to_string();
            if cfg.call_ahead.profile(&name).is_some() {
                return Err(invalid(format!(
                    "A call-ahead profile named '{name}' already exists."
                )));
            }
            let mut p = CallAheadProfile {
                name: name.clone(),
                ..CallAheadProfile::default()
            };
            apply_options(&cfg, &mut p, &args[2..])?;
            p.check().map_err(|e| invalid(e.to_string()))?;
            cfg.call_ahead.profiles.push(p);
            stage(ctx, &cfg, &format!("Call-ahead profile {name} created."))
        }
        (Some("edit"), 3..) => {
            let name = args[1].trim();
            let mut p = cfg
                .call_ahead
                .profile(name)
                .cloned()
                .ok_or_else(|| unknown(name))?;
            apply_options(&cfg, &mut p, &args[2..])?;
            p.check().map_err(|e| invalid(e.to_string()))?;
            let stored = p.name.clone();
            if let Some(slot) = cfg
                .call_ahead
                .profiles
                .iter_mut()
                .find(|q| q.name == stored)
            {
                *slot = p;
            }
            stage(ctx, &cfg, &format!("Call-ahead profile {stored} changed."))
        }
        (Some("delete"), 2) => {
            let name = args[1].trim();
            if !cfg.call_ahead.delete_profile(name) {
                return Err(unknown(name));
            }
            stage(
                ctx,
                &cfg,
                &format!("Call-ahead profile {name} deleted (and detached from its listeners)."),
            )
        }
        (Some("listener"), 3) => {
            let listener = super::args::find(&cfg, &args[1])?.name.clone();
            let profile = args[2].trim();
            let profile = (!profile.eq_ignore_ascii_case("none")).then_some(profile);
            cfg.call_ahead
                .set_listener(&listener, profile)
                .map_err(|e| invalid(e.to_string()))?;
            let what = match profile {
                Some(p) => {
                    format!("Listener {listener} validates recipients with call-ahead profile {p}.")
                }
                None => format!("Listener {listener} no longer uses SMTP Call-Ahead."),
            };
            stage(ctx, &cfg, &what)
        }
        (Some("policy"), 4) => {
            let listener = super::args::find(&cfg, &args[1])?;
            let policy = listener
                .policy(&args[2])
                .ok_or_else(|| {
                    invalid(format!(
                        "Listener {} has no mail flow policy named '{}'.",
                        listener.name, args[2]
                    ))
                })?
                .name
                .clone();
            let name = listener.name.clone();
            let on = yes_no(&args[3])?;
            cfg.call_ahead.set_policy(&name, &policy, on);
            stage(
                ctx,
                &cfg,
                &format!(
                    "SMTP Call-Ahead is {} for mail flow policy {policy} of listener {name}.",
                    if on { "on" } else { "off" }
                ),
            )
        }
        (Some("fulloriginal"), 3) => {
            let profile = args[1].trim();
            let Some(stored) = cfg
                .bounce_profiles
                .iter()
                .find(|b| b.name.eq_ignore_ascii_case(profile))
                .map(|b| b.name.clone())
            else {
                return Err(invalid(format!("No bounce profile named '{profile}'.")));
            };
            let on = yes_no(&args[2])?;
            cfg.call_ahead.set_full_original(&stored, on);
            stage(
                ctx,
                &cfg,
                &format!(
                    "DSNs of bounce profile {stored} {}.",
                    if on {
                        "attach the complete original message"
                    } else {
                        "attach the original's headers only"
                    }
                ),
            )
        }
        _ => Err(usage(USAGE)),
    }
}

fn unknown(name: &str) -> CliError {
    invalid(format!("No call-ahead profile named '{name}'."))
}

fn yes_no(v: &str) -> Result<bool, CliError> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "yes" => Ok(true),
        "off" | "no" => Ok(false),
        _ => Err(invalid(format!("'{v}' is not yes or no."))),
    }
}

fn apply_options(cfg: &Config, p: &mut CallAheadProfile, args: &[String]) -> Result<(), CliError> {
    let opts = parse_opts(args, VALUED, &[], USAGE)?;
    if !opts.positional.is_empty() {
        return Err(usage(USAGE));
    }
    let servers = opts.value("servers").map(|s| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
    });
    match opts.value("type").map(str::to_ascii_lowercase).as_deref() {
        Some("deliveryhost") => p.server = CallAheadServer::DeliveryHost,
        Some("static") => p.server = CallAheadServer::Static(servers.clone().unwrap_or_default()),
        Some(other) => {
            return Err(invalid(format!(
                "--type: '{other}' is not deliveryhost or static."
            )));
        }
        None => {
            if let (Some(list), CallAheadServer::Static(_)) = (&servers, &p.server) {
                p.server = CallAheadServer::Static(list.clone());
            } else if servers.is_some() {
                return Err(invalid("--servers needs --type static."));
            }
        }
    }
    if let Some(from) = opts.value("mailfrom") {
        let from = from.trim().trim_start_matches('<').trim_end_matches('>');
        if from.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("--mailfrom: not an address."));
        }
        p.mail_from = from.to_string();
    }
    if let Some(iface) = opts.value("interface") {
        p.interface = if iface.eq_ignore_ascii_case("auto") {
            None
        } else {
            Some(interface_name(cfg, iface)?)
        };
    }
    if let Some(t) = opts.number("timeout", 1, ca::MAX_REQUEST_TIMEOUT_SECS)? {
        p.request_timeout_secs = t;
    }
    if let Some(n) = opts.number("max-connections", 1, ca::MAX_CONNECTIONS_PER_SERVER)? {
        p.max_connections_per_server = n;
    }
    if let Some(n) = opts.number("cache-size", 0, ca::MAX_CACHE_SIZE)? {
        p.cache_size = n;
    }
    if let Some(n) = opts.number("cache-ttl", 0, ca::MAX_CACHE_TTL_SECS)? {
        p.cache_ttl_secs = n;
    }
    let code = opts.number("failure-code", 400u16, 599)?;
    let text = opts.value("failure-text").map(str::to_string);
    match opts
        .value("failure")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("accept") => p.failure_action = FailureAction::Accept,
        Some("reject") => {
            p.failure_action = FailureAction::Reject {
                code: code.unwrap_or(ca::DEFAULT_FAILURE_CODE),
                text: text.unwrap_or_else(|| ca::DEFAULT_FAILURE_TEXT.to_string()),
            }
        }
        Some(other) => {
            return Err(invalid(format!(
                "--failure: '{other}' is not accept or reject."
            )));
        }
        None => {
            if let FailureAction::Reject { code: c, text: t } = &mut p.failure_action {
                if let Some(code) = code {
                    *c = code;
                }
                if let Some(text) = text {
                    *t = text;
                }
            } else if code.is_some() || text.is_some() {
                return Err(invalid(
                    "--failure-code and --failure-text need --failure reject.",
                ));
            }
        }
    }
    Ok(())
}

/// The profiles and where they are used.
pub fn render(s: &CallAheadSettings) -> String {
    let mut out = String::new();
    if s.profiles.is_empty() {
        out.push_str("No SMTP Call-Ahead profiles are configured.\n");
    }
    for p in &s.profiles {
        let server = match &p.server {
            CallAheadServer::DeliveryHost => "Use Delivery Host".to_string(),
            CallAheadServer::Static(list) => {
                format!("Static Call-Ahead Servers: {}", list.join(", "))
            }
        };
        let failure = match &p.failure_action {
            FailureAction::Accept => "Accept".to_string(),
            FailureAction::Reject { code, text } => format!("Reject ({code} {text})"),
        };
        let from = if p.mail_from.is_empty() {
            "<>".to_string()
        } else {
            format!("<{}>", p.mail_from)
        };
        out.push_str(&format!(
            "Profile {}\n  Call-Ahead Server Type: {server}\n  MAIL FROM Address: {from}\n  Interface: {}\n  Validation Request Timeout: {} seconds\n  Validation Failure Action: {failure}\n  Max. Connections per Server: {}\n  Cache Size: {}\n  Cache TTL: {} seconds\n",
            p.name,
            p.interface.as_deref().unwrap_or("Auto (the delivery interface)"),
            p.request_timeout_secs,
            p.max_connections_per_server,
            p.cache_size,
            p.cache_ttl_secs,
        ));
    }
    for l in &s.listeners {
        out.push_str(&format!(
            "Listener {} uses call-ahead profile {}\n",
            l.listener, l.profile
        ));
    }
    for p in &s.policies_off {
        out.push_str(&format!(
            "SMTP Call-Ahead is off for mail flow policy {} of listener {}\n",
            p.policy, p.listener
        ));
    }
    let full = if s.full_original_bounce_profiles.is_empty() {
        "none (DSNs attach the original's headers only)".to_string()
    } else {
        s.full_original_bounce_profiles.join(", ")
    };
    out.push_str(&format!(
        "Bounce profiles sending the complete original message: {full}"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    #[test]
    fn a_profile_is_created_attached_to_a_listener_and_printed() {
        let f = Fixture::new();
        f.run(
            "smtpcallahead new m365 --type static --servers 127.0.0.20:25 --failure reject --cache-ttl 600",
        )
        .unwrap();
        f.run("smtpcallahead listener IncomingMail m365").unwrap();
        let out = f.run("smtpcallahead print").unwrap();
        assert!(
            out.contains("Static Call-Ahead Servers: 127.0.0.20:25"),
            "{out}"
        );
        assert!(out.contains("MAIL FROM Address: <>"), "{out}");
        assert!(
            out.contains("Validation Failure Action: Reject (451 4.4.3"),
            "{out}"
        );
        assert!(out.contains("Cache Size: 10000") && out.contains("Cache TTL: 600 seconds"));
        assert!(out.contains("Listener IncomingMail uses call-ahead profile m365"));
        let err = f.run("smtpcallahead new m365").unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        let err = f
            .run("smtpcallahead edit m365 --cache-ttl 999999")
            .unwrap_err();
        assert!(err.to_string().contains("--cache-ttl"), "{err}");
        f.run("smtpcallahead delete m365").unwrap();
        let out = f.run("smtpcallahead").unwrap();
        assert!(!out.contains("Listener IncomingMail"), "{out}");
        f.run("smtpcallahead fulloriginal default yes").unwrap();
        let out = f.run("smtpcallahead").unwrap();
        assert!(out.contains("complete original message: Default"), "{out}");
    }
}

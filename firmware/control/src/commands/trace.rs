//! `trace`: runs a test message through the decisions the gateway would
//! make for it — the Host Access Table, the Recipient Access Table, the
//! mail policy, the message filters and the route — and prints each one,
//! without receiving, queueing or delivering anything.
//!
//! It reads the committed configuration (`--staged` reads the working
//! copy, to try a change before committing it) and calls the same
//! functions the listener and the work queue call: `hat::classify`,
//! `rat::lookup`, `MailPolicyTable::select`, `filters::trace` and
//! `routes::select`. DNS lists and "seen in the last hour" counters are
//! answered by [`NoLookups`] (nothing is listed, nothing was seen), and
//! the reverse DNS name given with `--rdns` is taken as verified.
//!
//! Exposure: an authenticated console user (every role: it changes
//! nothing); the message comes from them, and the filters' own bounds
//! (script, regex and MIME limits) apply to it as to any message.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::args::{invalid, parse_opts, usage};
use super::{CliError, CommandContext};
use crate::config::{Behavior, Config, ListenerKind, RatAction};
use crate::delivery::routes;
use crate::filters::{self, MessageContext, NoLookups};
use crate::ids::Mid;
use crate::smtp_in::{hat, rat};

pub(super) use breakwater_control_proto::usage::TRACE as USAGE;

/// A test message is never larger than this (the console's request limit
/// is 1 MiB anyway).
const MAX_MESSAGE: usize = 1024 * 1024;

pub(super) fn run(
    ctx: &CommandContext<'_>,
    args: &[String],
    stdin: Option<&str>,
) -> Result<String, CliError> {
    let opts = parse_opts(
        args,
        &[
            "listener",
            "remote-ip",
            "rdns",
            "from",
            "to",
            "sendergroup",
            "subject",
        ],
        &["staged"],
        USAGE,
    )?;
    if !opts.positional.is_empty() {
        return Err(usage(USAGE));
    }
    let need = |name: &str| {
        opts.value(name)
            .map(str::trim)
            .filter(|v| !v.is_empty() || name == "from")
            .ok_or_else(|| usage(USAGE))
    };
    let listener_name = need("listener")?;
    let ip: IpAddr = need("remote-ip")?
        .trim_matches(['[', ']'])
        .parse()
        .map_err(|_| invalid("--remote-ip: not an IPv4 or IPv6 address."))?;
    let from = need("from")?.trim_matches(['<', '>']).to_string();
    let to: Vec<String> = need("to")?
        .split(',')
        .map(|a| a.trim().trim_matches(['<', '>']).to_string())
        .filter(|a| !a.is_empty())
        .collect();
    for a in std::iter::once(&from).chain(&to) {
        if a.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(format!("'{a}' is not an email address.")));
        }
    }
    if to.is_empty() || to.iter().any(|a| !a.contains('@')) {
        return Err(invalid("--to: give one or more addresses (user@domain)."));
    }
    let rdns = opts
        .value("rdns")
        .map(|r| r.trim().trim_end_matches('.').to_string());
    let cfg = if opts.flag("staged") {
        ctx.store.working()?
    } else {
        ctx.store.committed()?
    };
    let message = match stdin.filter(|s| !s.trim().is_empty()) {
        Some(text) => {
            if text.len() > MAX_MESSAGE {
                return Err(invalid("The test message is larger than 1 MiB."));
            }
            crlf(text)
        }
        None => test_message(
            &cfg,
            &from,
            &to,
            opts.value("subject").unwrap_or("Test message"),
        ),
    };
    trace(
        &cfg,
        &Probe {
            listener: listener_name,
            ip,
            rdns: rdns.as_deref(),
            sendergroup: opts.value("sendergroup"),
            from: &from,
            to: &to,
            message: &message,
        },
    )
}

/// What is traced.
struct Probe<'a> {
    listener: &'a str,
    ip: IpAddr,
    rdns: Option<&'a str>,
    sendergroup: Option<&'a str>,
    from: &'a str,
    to: &'a [String],
    message: &'a [u8],
}

/// Line ends as the queue stores them (CRLF), whatever the paste had.
fn crlf(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 32);
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        out.extend_from_slice(body.as_bytes());
        if line.ends_with('\n') {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

fn test_message(cfg: &Config, from: &str, to: &[String], subject: &str) -> Vec<u8> {
    let from = if from.is_empty() {
        "MAILER-DAEMON"
    } else {
        from
    };
    format!(
        "From: <{from}>\r\nTo: {}\r\nSubject: {subject}\r\nDate: {}\r\nMessage-ID: <trace@{}>\r\n\r\nThis is a test message made by the trace command.\r\n",
        to.iter().map(|a| format!("<{a}>")).collect::<Vec<_>>().join(", "),
        chrono::Utc::now().to_rfc2822(),
        cfg.hostname
    )
    .into_bytes()
}

fn trace(cfg: &Config, p: &Probe<'_>) -> Result<String, CliError> {
    let listener = super::args::find(cfg, p.listener)?;
    let mut out = format!(
        "Trace of a message from {} to listener {} ({} port {}); nothing is delivered.\n",
        p.ip, listener.name, listener.interface, listener.port
    );

    // Host Access Table.
    out.push_str("\nHost Access Table:\n");
    let matched = match p.sendergroup {
        Some(name) => {
            let g = listener
                .hat
                .iter()
                .find(|g| g.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    invalid(format!(
                        "There is no sender group '{name}' on listener {}.",
                        listener.name
                    ))
                })?;
            let policy = listener.policy(&g.policy).cloned().ok_or_else(|| {
                invalid(format!("Sender group {} names no known policy.", g.name))
            })?;
            let _ = writeln!(out, "  Sender group {} (given with --sendergroup)", g.name);
            Some(hat::HatMatch {
                group: g.name.clone(),
                entry: "--sendergroup".into(),
                policy,
            })
        }
        None => hat::classify(listener, p.ip, p.rdns),
    };
    let Some(hat) = matched else {
        out.push_str("  No sender group matches: the connection would be refused.\n");
        return Ok(out);
    };
    let policy = &hat.policy;
    if p.sendergroup.is_none() {
        let _ = writeln!(
            out,
            "  Sender group {} (match {}{})",
            hat.group,
            hat.entry,
            p.rdns
                .map(|r| format!("; reverse DNS {r}, taken as verified"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        out,
        "  Mail flow policy ${}: {}; max message size {} bytes, {} recipients per message, TLS {}",
        policy.name,
        policy.behavior.word(),
        policy.max_message_size,
        policy.max_recipients_per_message,
        policy.tls.word()
    );
    if matches!(policy.behavior, Behavior::Reject | Behavior::TcpRefuse) {
        let _ = writeln!(
            out,
            "  The connection would be refused ({} {}).",
            policy.reject_banner_code, policy.reject_banner_text
        );
        return Ok(out);
    }

    // Envelope and Recipient Access Table.
    let _ = writeln!(out, "\nEnvelope:\n  MAIL FROM:<{}>", p.from);
    if p.message.len() as u64 > policy.max_message_size {
        let _ = writeln!(
            out,
            "  The message ({} bytes) is larger than the policy allows: it would be refused at DATA.",
            p.message.len()
        );
        return Ok(out);
    }
    out.push_str("\nRecipients:\n");
    let mut accepted: Vec<String> = Vec::new();
    for (i, to) in p.to.iter().enumerate() {
        if i >= policy.max_recipients_per_message as usize {
            let _ = writeln!(
                out,
                "  <{to}>: refused (too many recipients for the policy)"
            );
            continue;
        }
        let verdict = if policy.behavior == Behavior::Relay {
            Ok("relayed (the policy is RELAY)".to_string())
        } else if listener.kind == ListenerKind::Private {
            Err(
                "refused: relaying denied (a private listener relays only for RELAY policies)"
                    .to_string(),
            )
        } else {
            match rat::lookup(&listener.rat, to) {
                Some(e) if e.action == RatAction::Accept => {
                    Ok(format!("accepted by the RAT row {}", e.address))
                }
                Some(e) => Err(format!(
                    "rejected by the RAT row {}{}",
                    e.address,
                    e.code
                        .map(|c| format!(
                            " ({c}{})",
                            e.text
                                .as_deref()
                                .map(|t| format!(" {t}"))
                                .unwrap_or_default()
                        ))
                        .unwrap_or_default()
                )),
                None => Err("rejected: no RAT row matches".to_string()),
            }
        };
        let (Ok(why) | Err(why)) = &verdict;
        let _ = writeln!(out, "  <{to}>: {why}");
        if verdict.is_ok() {
            accepted.push(to.clone());
        }
    }
    if accepted.is_empty() {
        out.push_str("\nNo recipient is accepted: the message would not be received.\n");
        return Ok(out);
    }

    // Mail policies.
    let (table, direction) = if listener.kind == ListenerKind::Public {
        (&cfg.incoming_policies, "incoming")
    } else {
        (&cfg.outgoing_policies, "outgoing")
    };
    let _ = writeln!(out, "\nMail policies ({direction}):");
    let mut policies: Vec<&str> = Vec::new();
    for to in &accepted {
        let name = table.select(p.from, to);
        let _ = writeln!(out, "  <{to}>: {name}");
        if !policies.contains(&name) {
            policies.push(name);
        }
    }
    if policies.len() > 1 {
        out.push_str("  (the message would be split: one copy per policy)\n");
    }

    // Message filters.
    out.push_str("\nMessage filters:\n");
    let compiled = message_filters(cfg, &mut out);
    let dropped = if compiled.is_empty() {
        out.push_str("  no message filters configured\n");
        false
    } else {
        let mut mctx = MessageContext::new(Mid(0), p.message, chrono::Utc::now());
        mctx.envelope_sender = p.from.to_string();
        mctx.recipients = accepted.clone();
        mctx.sender_group = Some(hat.group.clone());
        mctx.listener = listener.name.clone();
        mctx.interface = listener.interface.clone();
        mctx.remote_ip = p.ip;
        mctx.remote_host = p.rdns.map(str::to_string);
        mctx.policy = policies.first().map(|s| s.to_string());
        mctx.hostname = cfg.hostname.clone();
        let verdict = filters::trace(&compiled, &mctx, &NoLookups, &mut rand::rng());
        for line in &verdict.trace {
            let _ = writeln!(out, "  {line}");
        }
        match (verdict.final_action, &verdict.final_filter) {
            (Some(a), Some(f)) => {
                let _ = writeln!(out, "  Final action: {}() by filter '{f}'", a.keyword());
                matches!(a, filters::FinalAction::Drop | filters::FinalAction::Bounce)
                    .then(|| {
                        let _ = writeln!(
                            out,
                            "\nResult: the message would be {} by filter '{f}'; it would not be delivered.",
                            if a == filters::FinalAction::Drop { "dropped" } else { "bounced" }
                        );
                    })
                    .is_some()
            }
            _ => {
                out.push_str("  No final action: the message goes on to delivery.\n");
                false
            }
        }
    };
    if dropped {
        return Ok(out);
    }

    // Routing.
    out.push_str("\nDelivery (not attempted):\n");
    for to in &accepted {
        let domain = routes::domain_of(to).to_ascii_lowercase();
        let how = match routes::select(&cfg.smtp_routes, &domain).map(|r| &r.target) {
            Some(crate::config::RouteTarget::DevNull) => {
                "discarded by the /dev/null SMTP route".to_string()
            }
            Some(crate::config::RouteTarget::Hosts(h)) => format!(
                "SMTP route to {}",
                h.iter()
                    .map(|h| format!("{}:{}", h.host, h.port))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(crate::config::RouteTarget::UseDns) | None => format!("MX lookup for {domain}"),
        };
        let tls = cfg.destination(&domain).tls.label();
        let _ = writeln!(out, "  <{to}>: {how} (TLS {tls})");
    }
    Ok(out)
}

/// The configuration's message filters, parsed as the work queue parses
/// them (`workqueue::processing::compile`); a stored filter that no longer
/// parses is reported and skipped.
fn message_filters(cfg: &Config, out: &mut String) -> Vec<filters::Filter> {
    let mut compiled = Vec::new();
    for f in &cfg.message_filters {
        match filters::parse(&f.source) {
            Ok(parsed) => compiled.extend(parsed.into_iter().map(|mut p| {
                p.active = f.active;
                p
            })),
            Err(e) => {
                let _ = writeln!(
                    out,
                    "  Filter '{}' does not parse and is skipped: {e}",
                    f.name
                );
            }
        }
    }
    compiled
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use crate::config::MessageFilterConfig;

    const SEED: &str = r#"office365_outbound: if sendergroup == "RELAY_O365" {
  if header("X-OUTBOUND-AUTH") == "^mysecretkey$" {
    strip-header("X-OUTBOUND-AUTH");
  } else {
    drop();
  }
}
"#;

    fn seeded() -> Fixture {
        let f = Fixture::new();
        f.run("listenerconfig edit OutgoingMail hostaccess new sendergroup RELAY_O365 .protection.outlook.com,192.0.2.0/24 --policy RELAYED")
            .unwrap();
        let mut cfg = f.working();
        cfg.message_filters.push(MessageFilterConfig {
            name: "office365_outbound".into(),
            active: true,
            source: SEED.into(),
        });
        f.store.stage(&cfg).unwrap();
        f.run("commit seed").unwrap();
        f
    }

    fn trace(f: &Fixture, line: &str, stdin: Option<&str>) -> String {
        let args = breakwater_control_proto::split_words(line);
        let on_commit = |_: &crate::config::Config| {};
        let ctx = super::super::CommandContext {
            store: &f.store,
            user: "admin",
            on_commit: &on_commit,
        };
        super::super::run(&ctx, None, &args, stdin).unwrap()
    }

    #[test]
    fn the_seed_filter_drops_a_message_without_the_secret_header() {
        let f = seeded();
        let out = trace(
            &f,
            "trace --listener OutgoingMail --remote-ip 192.0.2.7 --from user@your_domain.com --to someone@example.org",
            Some("From: user@your_domain.com\nTo: someone@example.org\nSubject: hi\n\nbody\n"),
        );
        for expected in [
            "Sender group RELAY_O365 (match 192.0.2.0/24)",
            "Mail flow policy $RELAYED: RELAY",
            "<someone@example.org>: relayed (the policy is RELAY)",
            "Mail policies (outgoing):\n  <someone@example.org>: DEFAULT",
            "Filter 'office365_outbound'",
            "Final action: drop() by filter 'office365_outbound'",
            "Result: the message would be dropped by filter 'office365_outbound'",
        ] {
            assert!(out.contains(expected), "missing {expected:?} in\n{out}");
        }
        assert!(!out.contains("Delivery (not attempted)"), "{out}");

        let ok = trace(
            &f,
            "trace --listener OutgoingMail --remote-ip 192.0.2.7 --from user@your_domain.com --to someone@example.org",
            Some("X-OUTBOUND-AUTH: mysecretkey\r\nSubject: hi\r\n\r\nbody\r\n"),
        );
        assert!(ok.contains("strip-header"), "{ok}");
        assert!(
            ok.contains("<someone@example.org>: MX lookup for example.org"),
            "{ok}"
        );
    }

    #[test]
    fn hat_and_rat_decisions_are_printed_and_nothing_is_staged() {
        let f = seeded();
        let out = trace(
            &f,
            "trace --listener IncomingMail --remote-ip 198.51.100.9 --rdns mx.example.net --from a@example.net --to b@example.com,c@your_domain.com",
            None,
        );
        assert!(
            out.contains("Sender group ALL (match ALL; reverse DNS mx.example.net"),
            "{out}"
        );
        assert!(
            out.contains("<b@example.com>: rejected: no RAT row matches")
                || out.contains("rejected by the RAT row ALL"),
            "{out}"
        );
        assert!(out.contains("the message would not be received"), "{out}");
        let blocked = trace(
            &f,
            "trace --listener OutgoingMail --remote-ip 203.0.113.1 --from a@b.example --to c@d.example",
            None,
        );
        assert!(blocked.contains("connection would be refused"), "{blocked}");
        assert!(f.staged().is_none());
    }

    #[test]
    fn bad_requests_are_refused() {
        let f = Fixture::new();
        for line in [
            "trace",
            "trace --listener IncomingMail --remote-ip 1.2.3.4 --from a@b",
            "trace --listener Nope --remote-ip 1.2.3.4 --from a@b --to c@d",
            "trace --listener IncomingMail --remote-ip 1.2.3.400 --from a@b --to c@d",
            "trace --listener IncomingMail --remote-ip 1.2.3.4 --from a@b --to nobody",
            "trace --listener IncomingMail --remote-ip 1.2.3.4 --from a@b --to c@d --sendergroup NOPE",
        ] {
            assert!(f.run(line).is_err(), "{line}");
        }
    }
}

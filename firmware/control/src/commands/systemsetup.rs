//! `systemsetup status|print`: the daemon's side of the console's System
//! Setup Wizard (`console::menus_setup`).
//!
//! The wizard changes nothing itself: every answer runs an ordinary batch
//! command (`sethostname`, `interfaceconfig edit`, `setgateway`, ...). It
//! asks here for the current values of the settings it covers, so each
//! question can offer the working value as its default, and for the
//! summary shown before the commit. `status` is the first-login hint:
//! the appliance counts as configured once anyone has committed after the
//! factory configuration (`ConfigStore::configured`).

use std::fmt::Write as _;
use std::net::SocketAddr;

use super::args::{host_port, invalid, parse_opts, usage};
use super::{CliError, CommandContext, commit};
use crate::config::{Config, ListenerConfig, RatAction, RouteTarget, relay_lint};

pub(super) use breakwater_control_proto::usage::SYSTEMSETUP as USAGE;

pub use breakwater_control_proto::setup::{
    GuardOffer, INCOMING, NOT_CONFIGURED, OUTGOING, RELAY_GROUP, SetupValues,
};

/// The wizard's offer for RELAYLIST, if it holds a shared domain that no
/// filter guards.
fn guard_offer(cfg: &Config) -> Option<GuardOffer> {
    let listener = cfg.listener(OUTGOING)?;
    let index = listener.hat.iter().position(|g| g.name == RELAY_GROUP)?;
    if relay_lint::never_matches(listener, index).is_some() {
        return None;
    }
    let (member, shared) = listener.hat[index]
        .members
        .iter()
        .find_map(|m| relay_lint::shared_domain(m).map(|s| (m.to_string(), s)))?;
    let filters = super::filters::compile(&cfg.message_filters);
    if relay_lint::guarded(&filters, listener, RELAY_GROUP) {
        return None;
    }
    let taken = |name: &str| {
        cfg.message_filters
            .iter()
            .any(|f| f.name.eq_ignore_ascii_case(name))
    };
    let filter = std::iter::once(relay_lint::SECRET_FILTER_NAME.to_string())
        .chain((2..).map(|n| format!("{}_{n}", relay_lint::SECRET_FILTER_NAME)))
        .find(|name| !taken(name))?;
    Some(GuardOffer {
        member,
        customers: shared.customers.to_string(),
        filter,
        secret_header: relay_lint::SECRET_HEADER.to_string(),
        min_secret_len: relay_lint::MIN_SECRET_LEN,
    })
}

/// The wizard's settings in `cfg` (`committed`: what is in force).
pub fn setup_values(cfg: &Config, committed: &Config) -> SetupValues {
    SetupValues {
        hostname: cfg.hostname.clone(),
        interfaces: cfg
            .interfaces
            .iter()
            .map(|i| {
                // A Management port on DHCP shows (and keeps, when the
                // answer is left empty) `dhcp`, the word
                // `interfaceconfig edit Management dhcp` takes.
                if cfg.management_dhcp && i.name == crate::init::netconfig::MANAGEMENT {
                    return (i.name.clone(), "dhcp".to_string());
                }
                let a = i.address.map(|a| format!("{a}/{}", i.prefix));
                (i.name.clone(), a.unwrap_or_default())
            })
            .collect(),
        gateway: cfg
            .default_gateway
            .map(|g| g.to_string())
            .unwrap_or_default(),
        dns_servers: cfg.dns.servers.iter().map(server).collect(),
        accepted_domains: cfg.listener(INCOMING).map(accepted_domains),
        routes: cfg
            .smtp_routes
            .iter()
            .map(|r| (r.domain.clone(), targets(&r.target)))
            .collect(),
        relay_list: cfg
            .listener(OUTGOING)
            .and_then(|l| l.hat.iter().find(|g| g.name == RELAY_GROUP))
            .map(|g| g.members.iter().map(ToString::to_string).collect()),
        network_staged: cfg.interfaces != committed.interfaces
            || cfg.management_dhcp != committed.management_dhcp
            || cfg.default_gateway != committed.default_gateway,
        relay_guard: guard_offer(cfg),
        dhcp_interface: Some(crate::init::netconfig::MANAGEMENT.to_string()),
        alert_recipients: cfg
            .alerts
            .recipients
            .iter()
            .map(|r| r.address.clone())
            .collect(),
    }
}

pub(super) fn run(
    ctx: &CommandContext<'_>,
    args: &[String],
    stdin: Option<&str>,
) -> Result<String, CliError> {
    let opts = parse_opts(args, &[], &["json"], USAGE)?;
    match opts.positional.as_slice() {
        [s] if s.eq_ignore_ascii_case("status") && !opts.any() => status(ctx),
        [p] if p.eq_ignore_ascii_case("print") => {
            let (working, committed) = (ctx.store.working()?, ctx.store.committed()?);
            if opts.flag("json") {
                let values = setup_values(&working, &committed);
                return serde_json::to_string(&values)
                    .map_err(|e| invalid(format!("Cannot print the settings: {e}")));
            }
            Ok(render(&working, &committed))
        }
        [f, filter] if f.eq_ignore_ascii_case("secretfilter") && !opts.any() => {
            // The secret comes on standard input: never on a command line.
            let secret = stdin.unwrap_or_default().trim_end_matches(['\r', '\n']);
            relay_lint::secret_filter_script(filter, RELAY_GROUP, secret)
                .map_err(|e| invalid(e.to_string()))
        }
        _ => Err(usage(USAGE)),
    }
}

fn status(ctx: &CommandContext<'_>) -> Result<String, CliError> {
    if !ctx.store.configured()? {
        return Ok(NOT_CONFIGURED.to_string());
    }
    let history = ctx.store.history()?;
    Ok(match history.last() {
        Some(last) => format!(
            "The system has been configured (last commit: {}, {}, {}).",
            last.number,
            commit::time(last.time),
            last.user
        ),
        None => "The system has been configured.".to_string(),
    })
}

/// The summary the wizard shows before it commits: each setting, and what
/// is in force now where the working value differs.
fn render(cfg: &Config, committed: &Config) -> String {
    let now = setup_values(cfg, committed);
    let was = setup_values(committed, committed);
    let mut rows: Vec<(String, String, String)> = vec![
        (
            "Host name".into(),
            now.hostname.clone(),
            was.hostname.clone(),
        ),
        (
            "Alert recipients".into(),
            list(&now.alert_recipients),
            list(&was.alert_recipients),
        ),
    ];
    for ((name, a), (_, b)) in now.interfaces.iter().zip(&was.interfaces) {
        rows.push((format!("Interface {name}"), or_none(a), or_none(b)));
    }
    rows.push((
        "Default gateway".into(),
        or_none(&now.gateway),
        or_none(&was.gateway),
    ));
    rows.push((
        "DNS servers".into(),
        list(&now.dns_servers),
        list(&was.dns_servers),
    ));
    let opt_list =
        |l: &Option<Vec<String>>| l.as_ref().map_or("(no such listener)".into(), |l| list(l));
    rows.push((
        format!("Accepted domains ({INCOMING})"),
        opt_list(&now.accepted_domains),
        opt_list(&was.accepted_domains),
    ));
    for d in now.accepted_domains.iter().flatten() {
        let route = |v: &SetupValues| {
            v.route(d)
                .map_or("by MX lookup".to_string(), str::to_string)
        };
        rows.push((format!("SMTP route {d}"), route(&now), route(&was)));
    }
    rows.push((
        format!("Relay list ({OUTGOING} {RELAY_GROUP})"),
        opt_list(&now.relay_list),
        opt_list(&was.relay_list),
    ));
    let width = rows.iter().map(|(k, _, _)| k.len()).max().unwrap_or(0) + 1;
    let mut out = String::from("System setup:");
    for (key, value, in_force) in &rows {
        let key = format!("{key}:");
        let _ = write!(out, "\n  {key:<width$} {value}");
        if value != in_force {
            let _ = write!(out, "   (in force: {in_force})");
        }
    }
    if other_changes(cfg, committed) {
        out.push_str("\nOther staged changes will be committed with these (see \"showconfig\").");
    }
    for finding in relay_lint::lint(cfg, &super::filters::compile(&cfg.message_filters)) {
        let _ = write!(out, "\nWarning: {finding}");
    }
    out
}

/// Whether `cfg` differs from `committed` outside the wizard's settings.
fn other_changes(cfg: &Config, committed: &Config) -> bool {
    let mut rest = cfg.clone();
    rest.hostname.clone_from(&committed.hostname);
    rest.alerts
        .recipients
        .clone_from(&committed.alerts.recipients);
    rest.interfaces.clone_from(&committed.interfaces);
    rest.management_dhcp = committed.management_dhcp;
    rest.default_gateway = committed.default_gateway;
    rest.dns.servers.clone_from(&committed.dns.servers);
    rest.smtp_routes.clone_from(&committed.smtp_routes);
    for (name, take) in [(INCOMING, true), (OUTGOING, false)] {
        if let (Some(l), Some(c)) = (rest.listener_mut(name), committed.listener(name)) {
            if take {
                l.rat.clone_from(&c.rat);
            } else {
                l.hat.clone_from(&c.hat);
            }
        }
    }
    rest != *committed
}

fn or_none(text: &str) -> String {
    if text.is_empty() {
        "not configured".to_string()
    } else {
        text.to_string()
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// A name server as `dnsconfig servers` takes it, without the usual port.
fn server(s: &SocketAddr) -> String {
    if s.port() == 53 {
        s.ip().to_string()
    } else {
        host_port(&s.ip().to_string(), s.port())
    }
}

/// Domain rows (`example.com`, `.example.com`) IncomingMail accepts.
fn accepted_domains(l: &ListenerConfig) -> Vec<String> {
    l.rat
        .iter()
        .filter(|r| r.action == RatAction::Accept)
        .filter(|r| !r.address.contains('@') && !r.address.eq_ignore_ascii_case("ALL"))
        .map(|r| r.address.to_string())
        .collect()
}

/// Route destinations as `smtproutes` takes them, without the usual port
/// and priority (`mx.example.com`, `relay.example:2525/pri=10`).
fn targets(target: &RouteTarget) -> String {
    match target {
        RouteTarget::DevNull => "/dev/null".to_string(),
        RouteTarget::UseDns => "USEDNS".to_string(),
        RouteTarget::Hosts(hosts) => hosts
            .iter()
            .map(|h| {
                // A bare IPv6 address reads back with port 25 too.
                let mut t = match h.port {
                    25 => h.host.to_string(),
                    port => host_port(&h.host, port),
                };
                if h.priority != 0 {
                    let _ = write!(t, "/pri={}", h.priority);
                }
                t
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use super::*;

    #[test]
    fn status_says_not_configured_until_someone_commits() {
        let f = Fixture::new();
        assert_eq!(f.run("systemsetup status").unwrap(), NOT_CONFIGURED);
        f.run("sethostname mail.example.com").unwrap();
        assert_eq!(f.run("systemsetup status").unwrap(), NOT_CONFIGURED);
        f.run("commit named").unwrap();
        let out = f.run("systemsetup status").unwrap();
        assert!(
            out.starts_with("The system has been configured (last commit: 2,"),
            "{out}"
        );
        assert!(f.run("systemsetup").is_err() && f.run("systemsetup frob").is_err());
    }

    #[test]
    fn print_gives_the_working_values_and_what_is_in_force() {
        let f = Fixture::new();
        for line in [
            "interfaceconfig edit \"Data 1\" 192.0.2.10/24",
            "setgateway 192.0.2.1",
            "dnsconfig servers 192.0.2.53,[2001:db8::53]:5353",
            "listenerconfig edit IncomingMail rcptaccess new example.com accept",
            "listenerconfig edit IncomingMail rcptaccess new postmaster@example.com reject",
            "smtproutes new example.com mx.example.net,[2001:db8::25]:2525/pri=5",
            "listenerconfig edit OutgoingMail hostaccess new sendergroup RELAYLIST 10.0.0.0/8",
        ] {
            f.run(line).unwrap();
        }
        let json = f.run("systemsetup print --json").unwrap();
        let v: SetupValues = serde_json::from_str(&json).unwrap();
        assert_eq!(v.hostname, "breakwater.dev.local");
        assert_eq!(v.interfaces[1], ("Data 1".into(), "192.0.2.10/24".into()));
        assert_eq!(v.gateway, "192.0.2.1");
        assert_eq!(v.dns_servers, ["192.0.2.53", "[2001:db8::53]:5353"]);
        assert_eq!(v.accepted_domains, Some(vec!["example.com".to_string()]));
        assert_eq!(
            v.route("EXAMPLE.com"),
            Some("mx.example.net, [2001:db8::25]:2525/pri=5")
        );
        assert_eq!(v.relay_list, Some(vec!["10.0.0.0/8".to_string()]));
        assert!(v.network_staged);

        let text = f.run("systemsetup print").unwrap();
        for expected in [
            "Host name:",
            "Interface Data 1:",
            "192.0.2.10/24   (in force: 127.0.1.1/8)",
            "192.0.2.1   (in force: not configured)",
            "example.com   (in force: none)",
            "SMTP route example.com:",
            "10.0.0.0/8   (in force: none)",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(!text.contains("Other staged changes"), "{text}");
        // Management on DHCP: the wizard shows and keeps `dhcp`, one of
        // its own settings (not an "other" change).
        f.run("interfaceconfig edit Management dhcp").unwrap();
        let json = f.run("systemsetup print --json").unwrap();
        let dhcp: SetupValues = serde_json::from_str(&json).unwrap();
        assert_eq!(dhcp.interfaces[0], ("Management".into(), "dhcp".into()));
        assert!(
            !f.run("systemsetup print")
                .unwrap()
                .contains("Other staged changes")
        );
        f.run("dnsconfig timeout 9").unwrap();
        let text = f.run("systemsetup print").unwrap();
        assert!(text.contains("Other staged changes"), "{text}");
        assert!(
            v.relay_guard.is_none() && !text.contains("Warning"),
            "{text}"
        );
    }

    #[test]
    fn an_unguarded_microsoft_365_relay_is_offered_the_filter_and_warned() {
        let f = Fixture::new();
        f.run("listenerconfig edit OutgoingMail hostaccess new sendergroup RELAYLIST .protection.outlook.com")
            .unwrap();
        let v: SetupValues =
            serde_json::from_str(&f.run("systemsetup print --json").unwrap()).unwrap();
        let offer = v.relay_guard.expect("an offer");
        assert_eq!(
            (offer.member.as_str(), offer.filter.as_str()),
            (".protection.outlook.com", "office365_outbound")
        );
        let text = f.run("systemsetup print").unwrap();
        assert!(
            text.ends_with(
                "\nWarning: OutgoingMail relays for sender group RELAYLIST, whose member \
                 .protection.outlook.com matches the servers of every Microsoft 365 tenant, and no \
                 active filter checks a secret header for RELAYLIST (see \"Guard the relay\" in \
                 docs/microsoft-365.md)"
            ),
            "{text}"
        );
        // The name is taken by a filter for another group: another name.
        let seed = "office365_outbound: if sendergroup == \"RELAY_O365\" { drop(); }\n.\n";
        let args = ["filters".to_string(), "new".to_string()];
        let on_commit = |_: &Config| {};
        let ctx = CommandContext {
            store: &f.store,
            user: "admin",
            on_commit: &on_commit,
        };
        super::super::run(&ctx, None, &args, Some(seed)).unwrap();
        let v: SetupValues =
            serde_json::from_str(&f.run("systemsetup print --json").unwrap()).unwrap();
        assert_eq!(v.relay_guard.unwrap().filter, "office365_outbound_2");
        let script = relay_lint::secret_filter_script(
            "office365_outbound_2",
            RELAY_GROUP,
            "0123456789abcdefXYZ",
        )
        .unwrap();
        super::super::run(&ctx, None, &args, Some(&script)).unwrap();
        let v: SetupValues =
            serde_json::from_str(&f.run("systemsetup print --json").unwrap()).unwrap();
        assert!(v.relay_guard.is_none());
        assert!(!f.run("systemsetup print").unwrap().contains("Warning"));
    }

    #[test]
    fn secretfilter_checks_the_secret_and_prints_the_script_the_lint_recognises() {
        let f = Fixture::new();
        let on_commit = |_: &Config| {};
        let ctx = CommandContext {
            store: &f.store,
            user: "admin",
            on_commit: &on_commit,
        };
        let words = |line: &str| line.split(' ').map(String::from).collect::<Vec<_>>();
        let ask = |secret: &str| {
            super::super::run(
                &ctx,
                None,
                &words("systemsetup secretfilter office365_outbound"),
                Some(secret),
            )
        };
        let script = ask("0123456789abcdefXYZ\n").unwrap();
        assert_eq!(
            script,
            relay_lint::secret_filter_script(
                "office365_outbound",
                RELAY_GROUP,
                "0123456789abcdefXYZ"
            )
            .unwrap()
        );
        let short = ask("short").unwrap_err().to_string();
        assert_eq!(
            short,
            format!(
                "the secret must be at least {} characters long",
                relay_lint::MIN_SECRET_LEN
            )
        );
        assert!(ask("0123456789abcdef$").is_err());
        // Nothing is staged: the wizard adds the filter with `filters new`.
        assert!(f.staged().is_none());
    }
}

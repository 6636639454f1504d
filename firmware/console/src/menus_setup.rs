//! `systemsetup`: AsyncOS's System Setup Wizard, for a new appliance.
//!
//! It asks, in order: the host name, the alert recipients, each interface's address, the default
//! gateway, the DNS servers, the domains IncomingMail accepts and the mail
//! server they are routed to, the hosts OutgoingMail relays for (with,
//! when they include a shared domain such as `.protection.outlook.com`,
//! the offer of the seeds' shared-secret filter), and
//! whether to change the user's passphrase; then it shows a summary and
//! commits. Each question offers the working value in brackets (Enter
//! keeps it, and keeping a value runs nothing). Every answer runs the
//! batch command `breakwater cli` would (`sethostname`, `interfaceconfig
//! edit`, `setgateway`, ...) at once, so a refused answer is explained and
//! asked again, and nothing is validated twice. The current values come
//! from `systemsetup print --json`.
//!
//! Ctrl-C, or an empty answer to a question that has no value yet (the
//! gateway, the DNS servers, the domains, their route), leaves the wizard
//! without committing; what was staged stays staged, as with every menu.

use super::shell::{STAGED_MARK, Shell};
use super::{ConsoleError, LinkError};
use breakwater_control_proto::setup::{GuardOffer, INCOMING, OUTGOING, RELAY_GROUP, SetupValues};

const INTRO: &str = "\nSystem Setup Wizard\n\
Enter keeps the value in brackets. Each answer is staged as it is given;\n\
nothing takes effect until the commit at the end. Ctrl-C leaves the wizard.";
const REQUIRED: &str = "An answer is required here.";
const AT_BOOT: &str = "Interface addresses and the default gateway take effect at the next reboot:\n\
the mail daemon runs unprivileged, and the system applies them at boot.";

pub(super) fn systemsetup(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    if !sh.may_change()? {
        return Ok(());
    }
    match wizard(sh) {
        Err(ConsoleError::Interrupted) => {
            let staged = sh.state()?.staged;
            sh.show(&format!(
                "\nThe System Setup Wizard was left: nothing was committed.{}",
                if staged {
                    "\nThe answers given so far stay staged: \"commit\" applies them, \"clear\" discards them."
                } else {
                    ""
                }
            ))
        }
        other => other,
    }
}

fn wizard(sh: &mut Shell<'_>) -> Result<(), ConsoleError> {
    sh.show(INTRO)?;
    let v = values(sh)?;
    until_staged(sh, |sh| {
        let name = sh.ask(
            "\nEnter the fully qualified host name of this appliance (e.g. mail.example.com).",
            &v.hostname,
        )?;
        Ok((name != v.hostname).then(|| vec!["sethostname".into(), name]))
    })?;
    alert_recipients(sh, &v.alert_recipients)?;
    for (name, current) in &v.interfaces {
        until_staged(sh, |sh| {
            // Only Management can take its address from DHCP.
            let or_dhcp = if v.dhcp_interface.as_ref() == Some(name) {
                ", or dhcp"
            } else {
                ""
            };
            let a = sh.ask(
                &format!(
                    "\nEnter the IP address and prefix length of the {name} interface (e.g. 192.0.2.10/24){or_dhcp}."
                ),
                current,
            )?;
            let keep = a == *current;
            let cmd = ["interfaceconfig", "edit", name.as_str(), a.as_str()];
            Ok((!keep).then(|| cmd.map(String::from).to_vec()))
        })?;
    }
    until_staged(sh, |sh| {
        let gw = required(
            sh,
            "\nEnter the default gateway (an IPv4 address on an interface's subnet, or IPv6).",
            &v.gateway,
        )?;
        Ok((gw != v.gateway).then(|| vec!["setgateway".into(), gw]))
    })?;
    let current_dns = v.dns_servers.join(", ");
    until_staged(sh, |sh| {
        let dns = required(
            sh,
            "\nEnter the DNS servers, separated by commas (ip, or ip:port).",
            &current_dns,
        )?;
        let same = items(&dns) == v.dns_servers;
        Ok((!same).then(|| vec!["dnsconfig".into(), "servers".into(), dns]))
    })?;
    incoming(sh)?;
    outgoing(sh)?;
    passphrase(sh)?;
    finish(sh)
}

/// AsyncOS's question for the alert recipients: each new address receives
/// every alert class at every severity (`alertconfig new`), as the
/// wizard's address does on AsyncOS; an address left out is removed. An
/// empty answer with none configured keeps none (alerts are optional).
fn alert_recipients(sh: &mut Shell<'_>, current: &[String]) -> Result<(), ConsoleError> {
    let shown = current.join(", ");
    until_staged_many(sh, |sh| {
        let a = sh.ask(
            "\nPlease enter the email address(es) to send alerts, separated by commas.",
            &shown,
        )?;
        let wanted = items(&a);
        // The working values, so addresses already staged are not added twice.
        let now = values(sh)?.alert_recipients;
        let same = |x: &String, y: &String| x.eq_ignore_ascii_case(y);
        let mut cmds: Vec<Vec<String>> = now
            .iter()
            .filter(|n| !wanted.iter().any(|w| same(w, n)))
            .map(|n| vec!["alertconfig".into(), "delete".into(), n.clone()])
            .collect();
        cmds.extend(
            wanted
                .iter()
                .filter(|w| !now.iter().any(|n| same(w, n)))
                .map(|w| vec!["alertconfig".into(), "new".into(), w.clone()]),
        );
        Ok(cmds)
    })
}

/// IncomingMail: the accepted domains (RAT rows) and their one route.
fn incoming(sh: &mut Shell<'_>) -> Result<(), ConsoleError> {
    let Some(accepted) = values(sh)?.accepted_domains else {
        return sh.show(&format!(
            "\nThere is no listener {INCOMING}: set up incoming mail with listenerconfig."
        ));
    };
    sh.show(&format!(
        "\nIncoming mail: listener {INCOMING} (on Data 1)."
    ))?;
    let current = accepted.join(", ");
    loop {
        let answer = required(
            sh,
            "Enter the domains to accept mail for, separated by commas\n\
             (example.com, or .example.com for its subdomains). Domains already accepted stay.",
            &current,
        )?;
        let domains = items(&answer);
        if let Some(bad) = domains
            .iter()
            .find(|d| d.contains('@') || d.eq_ignore_ascii_case("ALL"))
        {
            sh.show(&format!(
                "'{bad}' is not a domain: enter example.com or .example.com."
            ))?;
            continue;
        }
        let mut all_added = true;
        for d in &domains {
            let known = values(sh)?.accepted_domains.unwrap_or_default();
            if known.iter().any(|k| k.eq_ignore_ascii_case(d)) {
                continue;
            }
            let cmd = [
                "listenerconfig",
                "edit",
                INCOMING,
                "rcptaccess",
                "new",
                d.as_str(),
                "accept",
            ];
            if !step(sh, &cmd)? {
                all_added = false;
                break;
            }
        }
        if all_added {
            break;
        }
    }
    let v = values(sh)?;
    let domains = v.accepted_domains.clone().unwrap_or_default();
    // One route for them all; the default is a route one of them has.
    let default = domains
        .iter()
        .find_map(|d| v.route(d))
        .unwrap_or_default()
        .to_string();
    until_staged_many(sh, |sh| {
        let host = required(
            sh,
            "Enter the mail server to deliver mail for these domains to, host[:port]\n\
             (for Microsoft 365: your MX host, e.g. example-com.mail.protection.outlook.com).",
            &default,
        )?;
        let keep = host == default;
        let routes = values(sh)?;
        let commands = domains
            .iter()
            .filter_map(|d| match routes.route(d) {
                None => Some(["smtproutes", "new", d.as_str(), host.as_str()]),
                Some(r) if r != host && !keep => {
                    Some(["smtproutes", "edit", d.as_str(), host.as_str()])
                }
                Some(_) => None,
            })
            .map(|c| c.map(String::from).to_vec())
            .collect();
        Ok(commands)
    })
}

/// OutgoingMail: hosts and networks added to the RELAYLIST sender group.
fn outgoing(sh: &mut Shell<'_>) -> Result<(), ConsoleError> {
    let Some(members) = values(sh)?.relay_list else {
        return sh.show(&format!(
            "\nThere is no sender group {RELAY_GROUP} on {OUTGOING}: set up relaying with listenerconfig."
        ));
    };
    sh.show(&format!(
        "\nOutgoing mail: listener {OUTGOING} (on Data 2)."
    ))?;
    let current = members.join(", ");
    until_staged(sh, |sh| {
        let answer = sh.ask(
            &format!(
                "Enter the hosts and networks allowed to relay mail through this appliance, separated by commas\n\
                 (e.g. 10.0.0.0/8, .protection.outlook.com). Members of {RELAY_GROUP} already listed stay."
            ),
            &current,
        )?;
        let new: Vec<String> = items(&answer)
            .into_iter()
            .filter(|m| !members.iter().any(|k| k.eq_ignore_ascii_case(m)))
            .collect();
        Ok((!new.is_empty()).then(|| {
            let mut cmd = [
                "listenerconfig",
                "edit",
                OUTGOING,
                "hostaccess",
                "new",
                "sendergroup",
                RELAY_GROUP,
            ]
            .map(String::from)
            .to_vec();
            cmd.push(new.join(","));
            cmd
        }))
    })?;
    match values(sh)?.relay_guard {
        Some(offer) => guard(sh, &offer),
        None => Ok(()),
    }
}

/// RELAYLIST holds a shared domain: every customer of that service could
/// relay. Offers the seeds' filter that drops relayed mail without the
/// shared-secret header; a refusal leaves the warning in the summary and
/// at every commit.
fn guard(sh: &mut Shell<'_>, offer: &GuardOffer) -> Result<(), ConsoleError> {
    let (header, min_len) = (&offer.secret_header, offer.min_secret_len);
    sh.show(&format!(
        "\n{RELAY_GROUP} holds {}: it matches the servers of {}, not only yours.\n\
         A message filter can drop relayed mail that lacks a secret header ({header})\n\
         which your own tenant adds (a Microsoft 365 mail flow rule; see docs/microsoft-365.md).",
        offer.member, offer.customers
    ))?;
    let question = format!(
        "Do you want to add the filter {} for {RELAY_GROUP} now?",
        offer.filter
    );
    if !sh.yes_no(&question, true)? {
        return sh.show("No filter added: the summary and every commit warn about this relay.");
    }
    let generated = generated_secret();
    loop {
        let secret = sh.ask(
            &format!(
                "Enter the shared secret (at least {min_len} letters, digits, - or _; no special\n\
                 characters: the filter matches it as a regular expression). Enter takes the one in brackets.\n\
                 Set the same value in the rule that adds {header} in Microsoft 365."
            ),
            &generated,
        )?;
        // The daemon writes the filter (and checks the secret) the way
        // its relay lint recognises it.
        let r = sh.call(
            &["systemsetup", "secretfilter", offer.filter.as_str()],
            Some(&secret),
        )?;
        if !r.ok {
            sh.show(&format!("Refused: {}.", r.output))?;
            continue;
        }
        let script = r.output;
        if !step_input(sh, &["filters", "new"], Some(&script))? {
            return Ok(());
        }
        // First in the list, so no earlier filter's deliver() or
        // skip-filters() lets a message past it.
        step(sh, &["filters", "move", offer.filter.as_str(), "1"])?;
        return Ok(());
    }
}

/// A secret for the offer's default: 24 letters and digits (about 143
/// bits), from `rand`'s thread generator (a CSPRNG the operating system
/// seeds).
fn generated_secret() -> String {
    use rand::Rng as _;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// The user's own passphrase: not configuration, so it changes at once.
fn passphrase(sh: &mut Shell<'_>) -> Result<(), ConsoleError> {
    let question = format!(
        "\nDo you want to change the {} passphrase?",
        sh.session.user
    );
    if !sh.yes_no(&question, false)? {
        return Ok(());
    }
    while !super::menus_admin::change_passphrase(sh)? && sh.yes_no("Try again?", true)? {}
    Ok(())
}

/// The summary, the commit, and the reboot the network settings need.
fn finish(sh: &mut Shell<'_>) -> Result<(), ConsoleError> {
    sh.show("")?;
    sh.run(&["systemsetup", "print"])?;
    if !sh.state()?.staged {
        return sh.show("Nothing was changed: there is nothing to commit.");
    }
    let network = values(sh)?.network_staged;
    if !sh.yes_no("Commit these changes?", true)? {
        return sh.show(
            "Nothing was committed. The changes stay staged: \"commit\" applies them, \"clear\" discards them.",
        );
    }
    if !sh.run(&["commit", "systemsetup"])? || !network {
        return Ok(());
    }
    sh.show(AT_BOOT)?;
    if sh.yes_no("Reboot now?", false)? && sh.run(&["reboot"])? {
        // The daemon is going away: end the session, as `reboot` does.
        return Err(ConsoleError::Eof);
    }
    Ok(())
}

/// The wizard's settings in the working configuration.
fn values(sh: &mut Shell<'_>) -> Result<SetupValues, ConsoleError> {
    let r = sh.call(&["systemsetup", "print", "--json"], None)?;
    if !r.ok {
        return Err(LinkError::Malformed(r.output).into());
    }
    serde_json::from_str(&r.output).map_err(|e| LinkError::Malformed(e.to_string()).into())
}

/// `ask`, but an empty answer with no current value leaves the wizard.
fn required(sh: &mut Shell<'_>, question: &str, current: &str) -> Result<String, ConsoleError> {
    let a = sh.ask(question, current)?;
    if a.is_empty() {
        sh.show(REQUIRED)?;
        return Err(ConsoleError::Interrupted);
    }
    Ok(a)
}

/// Comma-separated answers, trimmed, without empty ones.
fn items(answer: &str) -> Vec<String> {
    answer
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Runs one batch command and prints its answer without the staging
/// note (the wizard says once that answers are staged). True if accepted.
fn step<S: AsRef<str>>(sh: &mut Shell<'_>, args: &[S]) -> Result<bool, ConsoleError> {
    step_input(sh, args, None)
}

/// [`step`] with standard input for the command (a filter script).
fn step_input<S: AsRef<str>>(
    sh: &mut Shell<'_>,
    args: &[S],
    stdin: Option<&str>,
) -> Result<bool, ConsoleError> {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let r = sh.call(&args, stdin)?;
    let shown: Vec<&str> = r
        .output
        .lines()
        .filter(|l| !l.starts_with(STAGED_MARK))
        .collect();
    sh.show(&shown.join("\n"))?;
    Ok(r.ok)
}

/// Asks until the command the answer makes is accepted; `None` from `ask`
/// means the value is kept and nothing runs.
fn until_staged(
    sh: &mut Shell<'_>,
    mut ask: impl FnMut(&mut Shell<'_>) -> Result<Option<Vec<String>>, ConsoleError>,
) -> Result<(), ConsoleError> {
    until_staged_many(sh, |sh| Ok(ask(sh)?.into_iter().collect()))
}

/// [`until_staged`] for an answer that makes several commands (a route
/// per domain): the first refused one asks again; those already accepted
/// are not made again (`ask` sees them in the working values).
fn until_staged_many(
    sh: &mut Shell<'_>,
    mut ask: impl FnMut(&mut Shell<'_>) -> Result<Vec<Vec<String>>, ConsoleError>,
) -> Result<(), ConsoleError> {
    'ask: loop {
        for cmd in ask(sh)? {
            if !step(sh, &cmd)? {
                continue 'ask;
            }
        }
        return Ok(());
    }
}

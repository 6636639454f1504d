//! The command catalog: every command of the CLI and the console, once.
//!
//! Each [`Command`] declares its name and aliases, a one-line summary, its
//! usage text, who answers it ([`Answerer`]), whether it reads a paste on
//! standard input, whether it changes the configuration, and the lowest
//! [`Role`] allowed to run each of its argument [`Form`]s. From it derive:
//! the daemon's dispatch and [`permitted`] (the control server), `help`
//! and its overview, the console's list of batch commands, its Tab
//! completion and its menus (each names a catalog command), and the
//! command list of `docs/cli.md` (a test holds them equal).
//!
//! Forms are argument patterns, matched case-insensitively word by word:
//! `*` is one argument, `**` any rest (last only), and `**--flag` any rest
//! that holds an argument beginning with `--flag` (last only). The first
//! form that matches gives the role; any other use of the command needs
//! [`Command::other`] (a change, unless said otherwise).

use crate::{Role, usage};

/// Who answers a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answerer {
    /// The configuration commands (`commands::run`): they edit the working
    /// configuration, or print it.
    Config,
    /// The running daemon (`DaemonStatus::command`): its status, reboot,
    /// upgrade, debughang.
    Daemon,
    /// The work queue's operator commands, asked through the daemon
    /// (`workqueue::operator`): the live queue, hosts and quarantines.
    WorkQueue,
    /// The log search of the control plane (`mail_logs` on disk).
    Logs,
    /// The console users, their sessions and logins.
    Users,
    /// The console itself; never sent to the daemon.
    Console,
}

/// One argument pattern of a command and the lowest role allowed to run it.
#[derive(Debug, Clone, Copy)]
pub struct Form {
    pub words: &'static [&'static str],
    pub role: Role,
}

/// One command.
#[derive(Debug)]
pub struct Command {
    /// Lower-case, as typed (case does not matter on input).
    pub name: &'static str,
    /// Other names of the same command (`commithistory` for `commitlog`).
    pub aliases: &'static [&'static str],
    /// One line for `help`.
    pub summary: &'static str,
    /// The forms, printed for a wrong form and by `help COMMAND`.
    pub usage: &'static str,
    pub answered_by: Answerer,
    /// Forms with their own role, the first match wins.
    pub forms: &'static [Form],
    /// The role every other form needs.
    pub other: Role,
    /// Some form reads text on standard input (`-` at the console pastes it).
    pub reads_paste: bool,
    /// Some form stages a change of the configuration.
    pub changes_config: bool,
}

impl Command {
    /// The lowest role allowed to run `args` (`args[0]` is this command).
    pub fn role_for(&self, args: &[String]) -> Role {
        // The first word is this command, under its name or an alias.
        let rest = args.get(1..).unwrap_or_default();
        self.forms
            .iter()
            .find(|f| matches_form(f.words.get(1..).unwrap_or_default(), rest))
            .map_or(self.other, |f| f.role)
    }

    /// Whether `name` is this command (its name or an alias, any case).
    pub fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }

    /// Whether the daemon answers it (every command but the console's own).
    pub fn runs_on_daemon(&self) -> bool {
        self.answered_by != Answerer::Console
    }
}

fn matches_form(form: &[&str], args: &[String]) -> bool {
    match (form.split_first(), args.split_first()) {
        (Some((&"**", _)), _) => true,
        (Some((f, [])), _) if f.starts_with("**") => {
            let flag = &f[2..];
            args.iter()
                .any(|a| a.to_ascii_lowercase().starts_with(flag))
        }
        (None, None) => true,
        (Some((f, fs)), Some((a, rest))) => {
            (*f == "*" || f.eq_ignore_ascii_case(a)) && matches_form(fs, rest)
        }
        _ => false,
    }
}

/// The command named `name` (or one of its aliases), any case.
pub fn find(name: &str) -> Option<&'static Command> {
    CATALOG.iter().find(|c| c.is_named(name))
}

/// The command the daemon answers for `name`: `None` for an unknown name
/// and for the console's own commands.
pub fn daemon_command(name: &str) -> Option<&'static Command> {
    find(name).filter(|c| c.runs_on_daemon())
}

/// Whether `role` may run `args` (docs/console.md, "Roles", is the same
/// table in words). An unknown command is the dispatcher's to refuse; as
/// a permission it is a change (operator and admin).
pub fn permitted(role: Role, args: &[String]) -> bool {
    let lowest = match args.first().and_then(|name| find(name)) {
        Some(command) => command.role_for(args),
        None => Role::Operator,
    };
    role.at_least(lowest)
}

/// The names the daemon answers, sorted (for "Unknown command: ...").
pub fn daemon_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = CATALOG
        .iter()
        .filter(|c| c.runs_on_daemon())
        .map(|c| c.name)
        .collect();
    names.sort_unstable();
    names
}

/// Every name and alias, sorted (for Tab completion).
pub fn all_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = CATALOG
        .iter()
        .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
        .collect();
    names.sort_unstable();
    names
}

/// `help`: every command and what it does, one line each.
pub fn overview() -> String {
    let mut rows: Vec<&Command> = CATALOG.iter().collect();
    rows.sort_by_key(|c| c.name);
    let mut out = String::from(
        "Commands (\"help COMMAND\" for details; a menu command typed alone asks its questions):\n",
    );
    for c in rows {
        out.push_str(&format!("{:<16} {}\n", c.name, c.summary));
    }
    out
}

/// `help COMMAND`: its summary, then its forms.
pub fn help(name: &str) -> Option<String> {
    find(name).map(|c| format!("{name}: {}.\n{}", c.summary, c.usage))
}

const fn form(words: &'static [&'static str], role: Role) -> Form {
    Form { words, role }
}

use Answerer::{Config, Console, Daemon, Logs, Users, WorkQueue};
use Role::{Admin, Guest, Operator, ReadOnly};

/// A command whose forms all need `other` unless listed.
#[allow(clippy::too_many_arguments)]
const fn cmd(
    name: &'static str,
    summary: &'static str,
    usage: &'static str,
    answered_by: Answerer,
    forms: &'static [Form],
    other: Role,
) -> Command {
    Command {
        name,
        aliases: &[],
        summary,
        usage,
        answered_by,
        forms,
        other,
        reads_paste: false,
        changes_config: false,
    }
}

/// [`cmd`] for a configuration family: its other forms stage changes.
const fn config(
    name: &'static str,
    summary: &'static str,
    usage: &'static str,
    forms: &'static [Form],
) -> Command {
    Command {
        changes_config: true,
        ..cmd(name, summary, usage, Config, forms, Operator)
    }
}

/// Every command. A guest may run what shows the state of the box and of
/// its mail flow, as AsyncOS's Guest sees status and reports: nothing
/// that shows configuration, message content, addresses or log lines (no
/// filter script: it can hold the Microsoft 365 shared secret; no key). A
/// read-only user also sees every view of the configuration (filter
/// scripts included; private keys stay masked), the commit history, the
/// logs, message tracking, the queue's and the quarantines' messages, and
/// `trace`, which changes nothing. Operators run every change but user
/// management, replacing the firmware, stopping the daemon on purpose and
/// private keys in clear; admins run everything.
pub const CATALOG: &[Command] = &[
    // The configuration families.
    config(
        "listenerconfig",
        "Configure listeners, their Host Access Table and Recipient Access Table",
        usage::LISTENERCONFIG,
        &[
            form(&["listenerconfig", "print"], ReadOnly),
            form(&["listenerconfig", "setup", "print"], ReadOnly),
            form(&["listenerconfig", "edit", "*", "print"], ReadOnly),
            form(
                &["listenerconfig", "edit", "*", "hostaccess", "print"],
                ReadOnly,
            ),
            form(
                &[
                    "listenerconfig",
                    "edit",
                    "*",
                    "hostaccess",
                    "detail",
                    "sendergroup",
                    "*",
                ],
                ReadOnly,
            ),
            form(
                &["listenerconfig", "edit", "*", "rcptaccess", "print"],
                ReadOnly,
            ),
        ],
    ),
    config(
        "smtproutes",
        "Set up permanent domain redirections (SMTP routes)",
        usage::SMTPROUTES,
        &[form(&["smtproutes", "print"], ReadOnly)],
    ),
    config(
        "dnsconfig",
        "Configure the DNS servers",
        usage::DNSCONFIG,
        &[
            form(&["dnsconfig", "print"], ReadOnly),
            form(&["dnsconfig", "trustanchor", "print"], ReadOnly),
        ],
    ),
    config(
        "interfaceconfig",
        "Configure the network interfaces",
        usage::INTERFACECONFIG,
        &[form(&["interfaceconfig", "print"], ReadOnly)],
    ),
    config(
        "deliveryconfig",
        "Configure mail delivery (interface, retries, limits)",
        usage::DELIVERYCONFIG,
        &[form(&["deliveryconfig", "print"], ReadOnly)],
    ),
    config(
        "destconfig",
        "Configure options for delivery to destination domains",
        usage::DESTCONFIG,
        &[
            form(&["destconfig", "print"], ReadOnly),
            form(&["destconfig", "list"], ReadOnly),
            form(&["destconfig", "detail", "*"], ReadOnly),
        ],
    ),
    config(
        "bounceconfig",
        "Configure the behavior of bounces (bounce profiles)",
        usage::BOUNCECONFIG,
        &[form(&["bounceconfig", "print"], ReadOnly)],
    ),
    Command {
        reads_paste: true,
        ..config(
            "certconfig",
            "Manage TLS certificates and trusted certificate authorities",
            usage::CERTCONFIG,
            &[
                form(&["certconfig", "print"], ReadOnly),
                form(&["certconfig", "print", "--json"], ReadOnly),
                form(&["certconfig", "certauthority", "print"], ReadOnly),
            ],
        )
    },
    config(
        "sslconfig",
        "Configure the TLS methods and ciphers of inbound and outbound SMTP",
        usage::SSLCONFIG,
        &[
            form(&["sslconfig", "print"], ReadOnly),
            form(&["sslconfig", "verify", "*"], ReadOnly),
        ],
    ),
    config(
        "adminaccessconfig",
        "Configure the web UI, REST API and SSH on the Management interface",
        usage::ADMINACCESSCONFIG,
        &[form(&["adminaccessconfig", "print"], ReadOnly)],
    ),
    Command {
        reads_paste: true,
        ..config(
            "sshconfig",
            "Manage the SSH public keys of the users",
            usage::SSHCONFIG,
            &[form(&["sshconfig", "print"], ReadOnly)],
        )
    },
    config(
        "threatdefenseconfig",
        "Configure the Threat Defense Connector (copies to Secure Email Threat Defense)",
        usage::THREATDEFENSECONFIG,
        &[form(&["threatdefenseconfig", "print"], ReadOnly)],
    ),
    Command {
        reads_paste: true,
        ..config(
            "domainkeysconfig",
            "Configure DKIM signing of outgoing mail (keys, signing profiles, DNS records)",
            usage::DOMAINKEYSCONFIG,
            &[
                form(&["domainkeysconfig", "print"], ReadOnly),
                form(&["domainkeysconfig", "keys", "list"], ReadOnly),
                form(&["domainkeysconfig", "keys", "print", "*"], ReadOnly),
                form(&["domainkeysconfig", "keys", "export", "*"], Admin),
                form(&["domainkeysconfig", "profiles", "list"], ReadOnly),
                form(&["domainkeysconfig", "profiles", "print", "*"], ReadOnly),
                form(&["domainkeysconfig", "profiles", "dnstxt", "*"], ReadOnly),
            ],
        )
    },
    config(
        "logconfig",
        "Configure log rollover",
        usage::LOGCONFIG,
        &[form(&["logconfig", "print"], ReadOnly)],
    ),
    Command {
        reads_paste: true,
        ..config(
            "filters",
            "Configure message filters (paste, list, order, activate, import, export)",
            usage::FILTERS,
            &[
                form(&["filters", "list"], ReadOnly),
                form(&["filters", "detail", "*"], ReadOnly),
                form(&["filters", "export"], ReadOnly),
                form(&["filters", "trace", "**"], ReadOnly),
            ],
        )
    },
    config(
        "policyconfig",
        "Configure the incoming and outgoing mail policies",
        usage::POLICYCONFIG,
        &[
            form(&["policyconfig", "list", "*"], ReadOnly),
            form(&["policyconfig", "print", "*"], ReadOnly),
            form(&["policyconfig", "detail", "*", "*"], ReadOnly),
            form(&["policyconfig", "*", "list"], ReadOnly),
            form(&["policyconfig", "*", "detail", "*"], ReadOnly),
        ],
    ),
    // --- antispam (issue 17) ---
    config(
        "antispamconfig",
        "Configure the anti-spam engine (rspamd)",
        usage::ANTISPAMCONFIG,
        &[
            form(&["antispamconfig"], ReadOnly),
            form(&["antispamconfig", "print"], ReadOnly),
        ],
    ),
    // --- end antispam ---
    config(
        "quarantineconfig",
        "Configure the local quarantines",
        usage::QUARANTINECONFIG,
        &[
            form(&["quarantineconfig", "print"], ReadOnly),
            form(&["quarantineconfig", "list"], ReadOnly),
        ],
    ),
    config(
        "sethostname",
        "Set the name of the machine",
        usage::SETHOSTNAME,
        &[form(&["sethostname", "print"], ReadOnly)],
    ),
    config(
        "settz",
        "Set the local time zone",
        usage::SETTZ,
        &[
            form(&["settz"], ReadOnly),
            form(&["settz", "print"], ReadOnly),
        ],
    ),
    // --- ntp (issue 16) ---
    // The daemon answers `ntpconfig status` (its client's last round) and
    // `settime` (the supervisor sets the clock); every other form of
    // `ntpconfig` is a configuration command.
    Command {
        changes_config: true,
        ..cmd(
            "ntpconfig",
            "Configure the NTP time servers (\"ntpconfig status\": synchronisation)",
            usage::NTPCONFIG,
            Daemon,
            &[
                form(&["ntpconfig"], ReadOnly),
                form(&["ntpconfig", "print"], ReadOnly),
                form(&["ntpconfig", "status"], ReadOnly),
            ],
            Operator,
        )
    },
    cmd(
        "settime",
        "Set the system clock (when NTP is off)",
        usage::SETTIME,
        Daemon,
        &[],
        Admin,
    ),
    // --- end ntp ---
    // --- bounce verification (issue 17) ---
    config(
        "bvconfig",
        "Configure bounce verification (address tagging keys, invalid bounces)",
        usage::BVCONFIG,
        &[
            form(&["bvconfig"], ReadOnly),
            form(&["bvconfig", "print"], ReadOnly),
        ],
    ),
    // --- end bounce verification ---
    // --- sender auth (issue 17) ---
    config(
        "dmarcconfig",
        "Configure DMARC verification profiles and sender authentication limits",
        usage::DMARCCONFIG,
        &[
            form(&["dmarcconfig"], ReadOnly),
            form(&["dmarcconfig", "print"], ReadOnly),
        ],
    ),
    // --- end sender auth ---
    // --- call-ahead (issue 17) ---
    // The daemon answers `smtpcallahead flushcache` and `status` (its
    // cache and counters); every other form is a configuration command.
    Command {
        changes_config: true,
        ..cmd(
            "smtpcallahead",
            "Configure SMTP Call-Ahead recipient validation (\"smtpcallahead flushcache\": forget cached answers)",
            usage::SMTPCALLAHEAD,
            Daemon,
            &[
                form(&["smtpcallahead"], ReadOnly),
                form(&["smtpcallahead", "print"], ReadOnly),
                form(&["smtpcallahead", "status"], ReadOnly),
            ],
            Operator,
        )
    },
    // --- end call-ahead ---
    config(
        "alertconfig",
        "Configure e-mail alerts",
        usage::ALERTCONFIG,
        &[
            form(&["alertconfig"], ReadOnly),
            form(&["alertconfig", "print"], ReadOnly),
        ],
    ),
    // --- antivirus (issue 17) ---
    config(
        "antivirusconfig",
        "Configure the anti-virus engine (ClamAV)",
        usage::ANTIVIRUSCONFIG,
        &[
            form(&["antivirusconfig"], ReadOnly),
            form(&["antivirusconfig", "print"], ReadOnly),
        ],
    ),
    // --- end antivirus ---
    config(
        "setgateway",
        "Set the default network gateway",
        usage::SETGATEWAY,
        &[form(&["setgateway", "print"], ReadOnly)],
    ),
    config(
        "systemsetup",
        "Run the System Setup Wizard (host name, network, DNS, mail flow, passphrase)",
        usage::SYSTEMSETUP,
        &[
            form(&["systemsetup", "status"], ReadOnly),
            form(&["systemsetup", "print"], ReadOnly),
            form(&["systemsetup", "print", "--json"], ReadOnly),
        ],
    ),
    // Clusters (issue 20): membership and levels commit at once in etcd
    // (AsyncOS's CLUSTERSET), never through the staged copy.
    cmd(
        "clusterconfig",
        "Create, join and manage a cluster of appliances",
        usage::CLUSTERCONFIG,
        Config,
        &[
            form(&["clusterconfig"], ReadOnly),
            form(&["clusterconfig", "list"], ReadOnly),
            form(&["clusterconfig", "list", "--json"], ReadOnly),
            form(&["clusterconfig", "levels", "**"], ReadOnly),
            form(&["clusterconfig", "token"], Admin),
        ],
        Admin,
    ),
    cmd(
        "clustermode",
        "Show or switch the level (cluster, group, machine) commands edit",
        usage::CLUSTERMODE,
        Config,
        &[form(&["clustermode", "**"], ReadOnly)],
        ReadOnly,
    ),
    cmd(
        "clustercheck",
        "Check that every machine runs the same cluster configuration",
        usage::CLUSTERCHECK,
        Config,
        &[form(&["clustercheck"], ReadOnly)],
        ReadOnly,
    ),
    // Committing and the history.
    config("commit", "Commit changes", usage::COMMIT, &[]),
    config("clear", "Clear changes", usage::COMMIT, &[]),
    Command {
        aliases: &["commithistory"],
        ..cmd(
            "commitlog",
            "List every commit (alias commithistory)",
            usage::COMMIT,
            Config,
            &[form(&["commitlog"], ReadOnly)],
            Operator,
        )
    },
    config(
        "rollback",
        "Stage the configuration of commit N (batch form of rollbackconfig)",
        usage::COMMIT,
        &[],
    ),
    cmd(
        "showconfig",
        "Display the whole configuration",
        usage::SHOWCONFIG,
        Config,
        &[
            form(&["showconfig"], ReadOnly),
            form(&["showconfig", "--json"], ReadOnly),
        ],
        Operator,
    ),
    cmd(
        "saveconfig",
        "Save the configuration in force to a file (or print it)",
        usage::SAVECONFIG,
        Config,
        &[
            // Private keys in clear: an admin's decision alone.
            form(&["saveconfig", "**--include-secrets"], Admin),
            form(&["saveconfig", "print"], ReadOnly),
        ],
        Operator,
    ),
    Command {
        reads_paste: true,
        ..config(
            "loadconfig",
            "Stage a configuration saved with saveconfig",
            usage::SAVECONFIG,
            &[],
        )
    },
    Command {
        reads_paste: true,
        ..cmd(
            "trace",
            "Trace a test message through HAT, RAT, policies and filters (nothing is delivered)",
            usage::TRACE,
            Config,
            &[form(&["trace", "**"], ReadOnly)],
            ReadOnly,
        )
    },
    cmd(
        "help",
        "Help for commands (help COMMAND)",
        usage::HELP,
        Config,
        &[form(&["help", "**"], Guest)],
        Guest,
    ),
    // The running daemon and its work queue.
    cmd(
        "status",
        "Show the system status (\"status detail\": counters, gauges and rates; \"status plot\": an SVG of the last minutes)",
        usage::STATUS,
        Daemon,
        &[
            form(&["status"], Guest),
            form(&["status", "detail"], Guest),
            form(&["status", "plot", "**"], Guest),
        ],
        Operator,
    ),
    cmd(
        "workqueue",
        "Show the work queue: messages, active recipients, by destination",
        usage::WORKQUEUE,
        WorkQueue,
        &[
            form(&["workqueue"], Guest),
            form(&["workqueue", "status"], Guest),
        ],
        Operator,
    ),
    cmd(
        "tophosts",
        "Show the destinations with the most active recipients (tophosts [active|conn|deliv|soft|hard])",
        usage::TOPHOSTS,
        WorkQueue,
        &[form(&["tophosts", "**"], Guest)],
        Guest,
    ),
    cmd(
        "reportdata",
        "Show the report counters: mail in and out per hour by listener, queue length, top senders (--json for the web UI)",
        usage::REPORTDATA,
        WorkQueue,
        &[form(&["reportdata", "**"], Guest)],
        Guest,
    ),
    cmd(
        "metrics",
        "Show the counters and gauges in the Prometheus text format, as /metrics serves them (--openmetrics: OpenMetrics)",
        usage::METRICS,
        Daemon,
        &[form(&["metrics"], Guest), form(&["metrics", "*"], Guest)],
        Guest,
    ),
    cmd(
        "hoststatus",
        "Show the delivery status of one destination domain",
        usage::HOSTSTATUS,
        WorkQueue,
        &[form(&["hoststatus", "*"], Guest)],
        Operator,
    ),
    cmd(
        "showmessage",
        "Show a queued message by MID",
        usage::SHOWMESSAGE,
        WorkQueue,
        &[form(&["showmessage", "*"], ReadOnly)],
        Operator,
    ),
    cmd(
        "deletemessage",
        "Delete a queued message by MID",
        usage::DELETEMESSAGE,
        WorkQueue,
        &[],
        Operator,
    ),
    cmd(
        "delivernow",
        "Retry queued mail now (all, a domain, an address or a MID)",
        usage::DELIVERNOW,
        WorkQueue,
        &[],
        Operator,
    ),
    cmd(
        "bouncerecipients",
        "Bounce queued recipients (all, a domain or an address)",
        usage::BOUNCERECIPIENTS,
        WorkQueue,
        &[],
        Operator,
    ),
    cmd(
        "redirectrecipients",
        "Send all queued mail to one host (\"clear\" ends it)",
        usage::REDIRECTRECIPIENTS,
        WorkQueue,
        &[],
        Operator,
    ),
    cmd(
        "resetcounters",
        "Reset the counters of status detail and tophosts",
        usage::RESETCOUNTERS,
        WorkQueue,
        &[],
        Operator,
    ),
    // The cut-over commands (issue 16): receiving and delivery suspended
    // and resumed (the daemon keeps the state across restarts), the queued
    // recipients listed.
    cmd(
        "suspendlistener",
        "Suspend receiving on one listener or all (new connections get 421)",
        usage::SUSPENDLISTENER,
        Daemon,
        &[],
        Operator,
    ),
    cmd(
        "resumelistener",
        "Resume receiving on one listener or all",
        usage::RESUMELISTENER,
        Daemon,
        &[],
        Operator,
    ),
    cmd(
        "suspenddel",
        "Suspend delivery (queued mail stays queued)",
        usage::SUSPENDDEL,
        Daemon,
        &[],
        Operator,
    ),
    cmd(
        "resumedel",
        "Resume delivery",
        usage::RESUMEDEL,
        Daemon,
        &[],
        Operator,
    ),
    cmd(
        "suspend",
        "Suspend receiving and delivery",
        usage::SUSPEND,
        Daemon,
        &[],
        Operator,
    ),
    cmd(
        "resume",
        "Resume receiving and delivery",
        usage::RESUME,
        Daemon,
        &[],
        Operator,
    ),
    cmd(
        "showrecipients",
        "List queued recipients (all, by recipient host or by sender)",
        usage::SHOWRECIPIENTS,
        WorkQueue,
        &[form(&["showrecipients", "**"], ReadOnly)],
        Operator,
    ),
    cmd(
        "quarantine",
        "List, show, release, delete or delay quarantined messages",
        usage::QUARANTINE,
        WorkQueue,
        &[
            form(&["quarantine", "list", "**"], ReadOnly),
            form(&["quarantine", "show", "*"], ReadOnly),
        ],
        Operator,
    ),
    cmd(
        "reboot",
        "Restart the mail daemon cleanly (reboot [seconds]: sessions in progress get them to finish)",
        usage::REBOOT,
        Daemon,
        &[],
        Operator,
    ),
    cmd(
        "shutdown",
        "Stop the mail daemon cleanly (shutdown [seconds]: sessions in progress get them to finish)",
        usage::REBOOT,
        Daemon,
        &[],
        Operator,
    ),
    cmd(
        "upgrade",
        "Install a firmware upgrade into the other slot (upgrade install [--allow-downgrade] <file|https://...>; upgrade status)",
        usage::UPGRADE,
        Daemon,
        &[
            form(&["upgrade"], Guest),
            form(&["upgrade", "status"], Guest),
        ],
        Admin,
    ),
    cmd(
        "debughang",
        "Testing (admin): make the mail daemon hang; \"debughang supervisor\": stop petting the watchdog",
        usage::DEBUGHANG,
        Daemon,
        &[],
        Admin,
    ),
    // The cut-over monitoring and network checks (issue 16): a guest
    // sees rates and counters as it sees status; host names, addresses
    // and probes of other hosts are for read-only users and up;
    // flushing the cache is an operator's.
    cmd(
        "rate",
        "Show connections, recipients received and completed, and the queue size every few seconds",
        usage::RATE,
        Daemon,
        &[form(&["rate", "**"], Guest)],
        Guest,
    ),
    cmd(
        "hostrate",
        "Show the delivery rates of one destination every few seconds",
        usage::HOSTRATE,
        Daemon,
        &[form(&["hostrate", "**"], Guest)],
        Guest,
    ),
    cmd(
        "topin",
        "Show the remote hosts with the most connections in",
        usage::TOPIN,
        Daemon,
        &[form(&["topin"], ReadOnly)],
        ReadOnly,
    ),
    cmd(
        "dnsstatus",
        "Show the DNS lookups' counters and latency",
        usage::DNSSTATUS,
        Daemon,
        &[form(&["dnsstatus"], Guest)],
        Guest,
    ),
    cmd(
        "dnsflush",
        "Flush the DNS cache",
        usage::DNSFLUSH,
        Daemon,
        &[],
        Operator,
    ),
    cmd(
        "nslookup",
        "Look a name up through the gateway's own resolver",
        usage::NSLOOKUP,
        Daemon,
        &[form(&["nslookup", "**"], ReadOnly)],
        ReadOnly,
    ),
    cmd(
        "telnet",
        "Connect to a host's port from an interface and show its banner (test an SMTP next hop)",
        usage::TELNET,
        Daemon,
        &[form(&["telnet", "**"], ReadOnly)],
        ReadOnly,
    ),
    cmd(
        "ping",
        "Send ICMP echo requests to a host",
        usage::PING,
        Daemon,
        &[form(&["ping", "**"], ReadOnly)],
        ReadOnly,
    ),
    cmd(
        "traceroute",
        "Not available on this appliance (says why)",
        usage::TRACEROUTE,
        Daemon,
        &[form(&["traceroute", "**"], ReadOnly)],
        ReadOnly,
    ),
    // The logs.
    cmd(
        "findevent",
        "Find every mail_logs line of messages by sender, recipient, subject or MID",
        usage::FINDEVENT,
        Logs,
        &[form(&["findevent", "**"], ReadOnly)],
        ReadOnly,
    ),
    cmd(
        "tail",
        "Show the end of a log (mail_logs, system_logs, audit_logs) and follow it",
        usage::TAIL,
        Logs,
        &[form(&["tail", "**"], ReadOnly)],
        ReadOnly,
    ),
    cmd(
        "grep",
        "Search a log (mail_logs, system_logs, audit_logs) for a regular expression",
        usage::GREP,
        Logs,
        &[form(&["grep", "**"], ReadOnly)],
        ReadOnly,
    ),
    // Users and sessions.
    Command {
        reads_paste: true,
        ..cmd(
            "userconfig",
            "Manage user accounts",
            usage::USERCONFIG,
            Users,
            &[form(&["userconfig", "print"], ReadOnly)],
            Admin,
        )
    },
    Command {
        reads_paste: true,
        ..cmd(
            "passwd",
            "Change your passphrase",
            usage::PASSWD,
            Users,
            &[form(&["passwd", "**"], Guest)],
            Guest,
        )
    },
    cmd(
        "who",
        "List who is logged in",
        usage::WHO,
        Users,
        &[form(&["who"], ReadOnly)],
        Operator,
    ),
    cmd(
        "last",
        "List recent logins",
        usage::LAST,
        Users,
        &[form(&["last"], ReadOnly)],
        Operator,
    ),
    // The console's own.
    cmd(
        "version",
        "View system version information",
        usage::VERSION,
        Console,
        &[],
        Guest,
    ),
    Command {
        aliases: &["exit", "logout"],
        ..cmd(
            "quit",
            "Log out (also exit, logout)",
            usage::QUIT,
            Console,
            &[],
            Guest,
        )
    },
    cmd(
        "commitdetail",
        "Display the commit history",
        usage::COMMITDETAIL,
        Console,
        &[],
        ReadOnly,
    ),
    cmd(
        "rollbackconfig",
        "Roll back to one of the last 10 committed configurations",
        usage::ROLLBACKCONFIG,
        Console,
        &[],
        Operator,
    ),
];

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;

//! The usage text of every command in the [`crate::catalog`]: what a wrong
//! or incomplete command prints, and what `help COMMAND` shows (in
//! `breakwater cli` and at the console alike). Plain text, one constant a
//! command (a family's forms share one).

pub const LISTENERCONFIG: &str = "\
usage: listenerconfig print
       listenerconfig setup print
       listenerconfig setup [--max-header-fields N] [--max-header-field-size BYTES]
              [--max-header-size BYTES] [--max-hops N] [--reception-memory MB]
       listenerconfig limits [--max-connections-total N] [--max-connections-per-ip N]
              (all listeners together, counted when a connection is accepted)
       listenerconfig edit <listener> print
       listenerconfig edit <listener> setup [--max-concurrency N] [--crlf strict|lenient] [--port N]
              [--interface NAME] [--certificate NAME] [--unsuccessful-timeout SECS]
              [--total-timeout SECS] [--idle-timeout SECS]
       listenerconfig edit <listener> hostaccess new sendergroup <NAME> <member>[,<member>...] [--policy <POLICY>]
              [--order N] [--comment TEXT] [--sender-comment TEXT]
       listenerconfig edit <listener> hostaccess delete sendergroup <NAME>
       listenerconfig edit <listener> hostaccess edit sendergroup <NAME> delete <member>
       listenerconfig edit <listener> hostaccess edit sendergroup <NAME> policy <POLICY>
       listenerconfig edit <listener> hostaccess edit sendergroup <NAME> comment <TEXT>
       listenerconfig edit <listener> hostaccess edit sendergroup <NAME> sendercomment <member> <TEXT>
       listenerconfig edit <listener> hostaccess edit sendergroup <NAME> rename <NEWNAME>
       listenerconfig edit <listener> hostaccess detail sendergroup <NAME>
       listenerconfig edit <listener> hostaccess newpolicy <NAME> [policy options]
       listenerconfig edit <listener> hostaccess editpolicy <POLICY> [policy options]
       listenerconfig edit <listener> hostaccess deletepolicy <POLICY>
       listenerconfig edit <listener> hostaccess senderauth <POLICY> [--spf on|off] [--spf-conformance LEVEL]
              [--dkim on|off] [--dmarc on|off] [--dmarc-profile PROFILE]   (SPF, DKIM, DMARC verification)
       listenerconfig edit <listener> hostaccess print
       listenerconfig edit <listener> rcptaccess new <address> accept|reject [--code N] [--text TEXT]
              [--bypass-receiving-control]
       listenerconfig edit <listener> rcptaccess delete <address>
       listenerconfig edit <listener> rcptaccess print
(\"help listenerconfig\" lists every form; see docs/cli.md for the policy options.)";

pub const SMTPROUTES: &str = "\
usage: smtproutes new <domain> <host>[:port][/pri=N][,<host>[:port][/pri=N]...]
       smtproutes edit <domain> <hosts>
       smtproutes delete <domain>
       smtproutes print
domain: example.com (exactly), .example.com (its subdomains) or ALL
hosts: a host name or IP address, IPv6 as [2001:db8::1]:25; port 25 and pri=0 by default
       (0..99, lowest first); /dev/null alone accepts and discards the mail;
       USEDNS alone delivers by MX (e.g. a subdomain of a routed domain)";

pub const DNSCONFIG: &str = "\
usage: dnsconfig servers <ip>[:port][,<ip>[:port]...]
       dnsconfig timeout <secs>
       dnsconfig trustanchor add <owner.> [ttl] [IN] DNSKEY <flags> <protocol> <algorithm> <key>
       dnsconfig trustanchor delete <n>
       dnsconfig trustanchor print
       dnsconfig print
servers: IPv4 as 192.0.2.53 or 192.0.2.53:5353, IPv6 as 2001:db8::53 or [2001:db8::53]:5353;
         port 53 by default; asked in the order given
trustanchor: DNSKEY records in zone-file form; a root (.) key replaces IANA's root keys,
         others are added to them. Anchor a zone's every DNSKEY, or a key above it";

pub const INTERFACECONFIG: &str = "\
usage: interfaceconfig print
       interfaceconfig edit <name> <ip>/<prefix>
       interfaceconfig edit Management dhcp
       interfaceconfig edit Management [adminaccessconfig setup options]
names: Management, \"Data 1\", \"Data 2\" (quote the space)
Management's HTTPS, HTTP and SSH services and ports: see \"help adminaccessconfig\"";

pub const ADMINACCESSCONFIG: &str = "\
usage: adminaccessconfig print
       adminaccessconfig setup [--https on|off] [--https-port N] [--http-redirect on|off]
              [--http-port N] [--ssh on|off] [--ssh-port N] [--api on|off]
              [--timeout MINUTES] [--certificate NAME|default] [--metrics-port N|off]
       adminaccessconfig timeout MINUTES
All on the Management interface only. --https: the web UI (and, with --api on, the REST API
under /api/v1) on --https-port; --http-redirect: plain HTTP on --http-port answers only with
a redirect to HTTPS; --ssh: the CLI over SSH (keys: sshconfig). Ports 1-65535, all three
distinct and none a Management listener's port. --timeout: the web UI inactivity timeout,
5-1440 minutes (default 30). --certificate: a certconfig name, or default (the first one).
--metrics-port: also serve /metrics (always on HTTPS with the API's login) as plain HTTP
without a login on this port (9154 is the usual one); off (the default) stops it.";

pub const SSHCONFIG: &str = "\
usage: sshconfig print
       sshconfig new <user> <key>     (or the key on standard input: sshconfig new <user> -)
       sshconfig delete <user> <number>
key: one OpenSSH public key line, as in ~/.ssh/id_ed25519.pub: ssh-ed25519|ssh-rsa|
     ecdsa-sha2-nistp256|384|521|sk-... BASE64 [comment]; at most 32 keys a user.
The user is a console user name (userconfig); a key for a user that does not exist
serves no login until the user does.";

pub const DELIVERYCONFIG: &str = "\
usage: deliveryconfig print
       deliveryconfig interface <name>
       deliveryconfig retry [--initial-secs N] [--max-secs N]
       deliveryconfig setup [--max-concurrency N] [--max-messages-per-connection N]
              [--connect-timeout SECS] [--command-timeout SECS] [--data-timeout SECS]
              [--transaction-timeout SECS] [--max-outbound-connections N]
              [--allow-private-next-hops yes|no] [--allow-loopback-next-hops yes|no]
              [--connection-cache-secs SECS] [--max-idle-per-destination N]
              [--max-idle-connections N]
retry: the first retry waits --initial-secs (at least 1), doubling up to --max-secs
--command-timeout: for each reply but the last; --data-timeout: for the reply to the end of data;
--transaction-timeout: for a whole transaction, MAIL FROM to that reply
--max-outbound-connections: delivery connections to all destinations together
--allow-private-next-hops / --allow-loopback-next-hops: deliver by MX or A/AAAA to private
  (RFC 1918, RFC 6598, fc00::/7) / loopback addresses; SMTP routes are always trusted
--connection-cache-secs: how long an idle delivery connection waits for the next message to
  its next hop (0-300, 0: off; default 2); --max-idle-per-destination / --max-idle-connections:
  idle connections kept per destination (default 50) / in all (default 500)";

pub const DESTCONFIG: &str = "\
usage: destconfig new <domain> [options]
       destconfig edit <domain>|Default [options]
       destconfig delete <domain>
       destconfig list | print
       destconfig detail <domain>|Default
options: --max_host_concurrency N  --max_messages_per_connection N
         --recipient_limit N --recipient_minutes M  (--recipient_limit none: no limit)
         --limit_applies_to domain|host
         --use_tls none|preferred|required|preferred-verify|required-verify
         --dane none|opportunistic|mandatory  --ip_preference ipv4-only|ipv4-preferred|ipv6-preferred|ipv6-only
         --bounce_profile NAME  --bounce_verification on|off  --client_certificate NAME|none
domain: example.com, or .example.com for its subdomains";

pub const BOUNCECONFIG: &str = "\
usage: bounceconfig print
       bounceconfig new <name> [options]
       bounceconfig edit <name>|Default [options]
       bounceconfig delete <name>
options: --max_retries N  --max_queue_lifetime SECS  --initial_retry SECS  --max_retry_timeout SECS
         --hard_bounce_message on|off  --delay_warning on|off";

// --- call-ahead (issue 17) ---
pub const SMTPCALLAHEAD: &str = "\
usage: smtpcallahead [print]
       smtpcallahead new <profile> [options]
       smtpcallahead edit <profile> [options]
       smtpcallahead delete <profile>
       smtpcallahead listener <listener> <profile>|none
       smtpcallahead policy <listener> <mail flow policy> on|off
       smtpcallahead fulloriginal <bounce profile> yes|no   (DSNs attach the whole original)
       smtpcallahead flushcache     (forget every cached answer)
       smtpcallahead status         (probes, cache hits, accepted, rejected, failures)
options: --type deliveryhost|static  --servers host[:port],...  --mailfrom <address>
         --interface <name>|auto  --timeout SECS  --failure accept|reject
         --failure-code 4xx|5xx  --failure-text TEXT  --max-connections N
         --cache-size N  --cache-ttl SECS";
// --- end call-ahead ---

pub const CERTCONFIG: &str = "\
usage: certconfig print [--json]
       certconfig import <name> <certificate-pem-file> <key-pem-file>
       certconfig import <name> -   (the chain and the key pasted)
       certconfig delete <name>
       certconfig certauthority import <name> <pem-file>
       certconfig certauthority delete <name>
       certconfig certauthority print";

pub const SSLCONFIG: &str = "\
usage: sslconfig print
       sslconfig inbound|outbound [--methods TLSv1.2,TLSv1.3] [--ciphers <OpenSSL cipher string>]
       sslconfig verify <OpenSSL cipher string>
inbound: STARTTLS on the listeners; outbound: delivery and the Threat Defense intake.
--methods: TLSv1.2, TLSv1.3 or both (TLS 1.0, 1.1 and SSL are not available);
--ciphers chooses the TLS 1.2 suites (default DEFAULT); TLS 1.3 always offers its three suites";

pub const THREATDEFENSECONFIG: &str = "\
usage: threatdefenseconfig print
       threatdefenseconfig enable <intake-address>
       threatdefenseconfig disable
       threatdefenseconfig setup [--header NAME] [--max-age SECS] [--verify-certificate yes|no]
--header: the header carrying the original client IP (default X-IronPort-RemoteIP)
--max-age: a copy leaves the.tdc.queue after this long, delivered or not (default 120)
--verify-certificate: the intake's certificate must verify against the trusted CAs
  (certconfig certauthority) and its name (default yes; no: TLS without verification)";

pub const DOMAINKEYSCONFIG: &str = "\
usage: domainkeysconfig print
       domainkeysconfig keys list
       domainkeysconfig keys new <name> [--type rsa|ed25519]
       domainkeysconfig keys import <name> <pem-file|->
       domainkeysconfig keys print <name>
       domainkeysconfig keys export <name>
       domainkeysconfig keys delete <name>
       domainkeysconfig profiles list
       domainkeysconfig profiles new <name> <domain> <selector> <key> [OPTIONS]
       domainkeysconfig profiles edit <name> [--domain D] [--selector S] [--key K] [OPTIONS]
       domainkeysconfig profiles print <name>
       domainkeysconfig profiles dnstxt <name>
       domainkeysconfig profiles delete <name>
       domainkeysconfig policy <listener> <mail-flow-policy> on|off
       domainkeysconfig setup --max-size BYTES
OPTIONS: --header-canon simple|relaxed  --body-canon simple|relaxed (default relaxed/relaxed)
         --headers standard|H1,H2,...  (default standard: AsyncOS's list; From is required)
         --users all|ADDR,DOMAIN,.SUBDOMAIN,...  (default all: the domain and its subdomains)
keys new: RSA 2048 (default) or Ed25519, generated on the appliance; keys import: a PEM
  private key (PKCS#8 or PKCS#1 RSA); keys export prints the private key (administrators).
profiles dnstxt: the TXT record to publish at <selector>._domainkey.<domain>.
policy: Domain Key/DKIM Signing of a mail flow policy (default off).
--max-size: larger messages are delivered unsigned (default 10485760)";

pub const LOGCONFIG: &str = "\
usage: logconfig mail_logs [--max-file-size N[k|M|G]] [--max-files N]
       logconfig subscribe <log> <host>[:<port>] [--protocol udp|tcp|tls] [--facility F] [--spool-size N[k|M|G]]
       logconfig unsubscribe <log> [<host>[:<port>]] [--protocol udp|tcp|tls]
       logconfig print
a log is rolled over before it would pass --max-file-size; --max-files rolled-over files are kept;
the logs are mail_logs, system_logs and audit_logs; subscribe pushes a log by syslog (RFC 5424;
TCP by default, port 514, TLS 6514), spooling up to --spool-size (64M) on flash while the host is down";

pub const FILTERS: &str = "\
usage: filters new                     (script on stdin, ended by a line holding only \".\")
       filters list
       filters detail <name>
       filters delete <name>
       filters move <name> <position>
       filters set <name> active|inactive
       filters import                  (script on stdin: replaces every filter)
       filters export
       filters trace [--from ADDR] [--to ADDR[,ADDR...]] [--sendergroup GROUP]
                     [--listener NAME] [--interface NAME] [--remote-ip IP] [--remote-host NAME]
                                       (test message on stdin)";

pub const POLICYCONFIG: &str = "\
usage: policyconfig list incoming|outgoing
       policyconfig detail incoming|outgoing <policy>|DEFAULT
       policyconfig new incoming|outgoing <policy> sender|recipient <member>[,<member>...] [sender|recipient ...]
       policyconfig delete incoming|outgoing <policy>
       policyconfig move incoming|outgoing <policy> <position>
       policyconfig rename incoming|outgoing <policy> <new name>   (also: edit ... <policy> name <new name>)
       policyconfig edit incoming|outgoing <policy> members add sender|recipient <member>[,<member>...]
       policyconfig edit incoming|outgoing <policy> members delete sender|recipient <member>
       policyconfig edit incoming|outgoing <policy>|DEFAULT threatdefense global|custom <address>|no|default
       policyconfig edit incoming|outgoing <policy>|DEFAULT antispam enable|disable|default
       policyconfig edit incoming|outgoing <policy>|DEFAULT antispam positive|suspect action deliver|drop|bounce|quarantine
       policyconfig edit incoming|outgoing <policy>|DEFAULT antispam positive|suspect tag <text>|none
       policyconfig edit incoming|outgoing <policy>|DEFAULT antispam positive|suspect header <name> <value>|none
       policyconfig edit incoming|outgoing <policy>|DEFAULT antispam positive|suspect threshold <score>|engine
       policyconfig edit incoming|outgoing <policy>|DEFAULT antispam enginedown deliver|hold
       policyconfig edit incoming|outgoing <policy>|DEFAULT antivirus enable|disable|default
       policyconfig edit incoming|outgoing <policy>|DEFAULT antivirus infected|unscannable|encrypted deliver|tag|quarantine|drop
       policyconfig edit incoming|outgoing <policy>|DEFAULT antivirus engine-down fail-open|fail-closed
members: user@example.com, user@, example.com or @example.com, .example.com or @.example.com";

pub const QUARANTINECONFIG: &str = "\
usage: quarantineconfig print            (alias: list)
       quarantineconfig new <name> [--max_size SIZE] [--retention PERIOD] [--action release|delete]
       quarantineconfig edit <name> [--max_size SIZE] [--retention PERIOD] [--action release|delete]
       quarantineconfig delete <name>
       quarantineconfig notify [--enable on|off] [--from ADDRESS|default] [--subject TEXT] [--title TEXT] [--interval PERIOD]
PERIOD: hours (240), or with a unit: 30m, 12h, 14d. --action is the default action
on expiry and when full (--overflow is its older name).";

pub const QUARANTINE: &str = "\
usage: quarantine list [QUARANTINE]
       quarantine show <MID>
       quarantine release <MID>
       quarantine delete <MID>
       quarantine delay <MID> <PERIOD>   (delays the scheduled exit: 30m, 12h, 2d)
       quarantine notify now             (sends the Spam Quarantine notifications at once)";

pub const COMMIT: &str = "\
usage: commit [COMMENT]
       clear
       commitlog            (alias: commithistory)
       rollback <number>    (stages the configuration of that commit; then commit it)";

pub const SHOWCONFIG: &str = "\
usage: showconfig
       showconfig --json   (the working configuration as JSON, private keys masked)";

pub const SETHOSTNAME: &str = "\
usage: sethostname <name>      (a fully qualified host name, e.g. mail.example.com)
       sethostname print";

// --- ntp (issue 16) ---
pub const NTPCONFIG: &str = "\
usage: ntpconfig [print]             (the servers, and whether NTP is on)
       ntpconfig status              (each server's reachability, stratum, offset; the last sync)
       ntpconfig new <server>        (a host name or address, optionally :port; alias add)
       ntpconfig delete <server|N>
       ntpconfig enable | disable
       ntpconfig poll <seconds>      (64 to 131072; default 1024)";

pub const SETTIME: &str = "\
usage: settime \"MM/DD/YYYY HH:MM:SS\"   (in the appliance's time zone; also YYYY-MM-DD HH:MM:SS)
       settime                           (prints the time; refused while NTP is on)";
// --- end ntp ---

// --- bounce verification (issue 17) ---
pub const BVCONFIG: &str = "\
usage: bvconfig [print]                 (tagging keys with their dates, masked; the settings)
       bvconfig new [<key>|-]           (a new current tagging key; - reads it from standard input;
                                         a random one when omitted; alias keys)
       bvconfig purge <days>            (remove the keys added more than <days> days ago, never the current one)
       bvconfig clear                   (remove every key: no tagging, no verification)
       bvconfig setup reject            (invalid bounces are refused at RCPT: the default)
       bvconfig setup header [<name> [<value>]]
                                        (invalid bounces are delivered with this header;
                                         default X-IronPort-Invalid-Bounce: Bounce verification failed)
       bvconfig tagging default on|off  (the default destination control's address tagging; default off)
       bvconfig tagging <domain> on|off|default
                                        (a destination control's address tagging)
       bvconfig untagged <listener> <policy> valid|invalid
                                        (the mail flow policy's \"consider untagged bounces valid\"; default invalid)";
// --- end bounce verification ---
// --- sender auth (issue 17) ---
pub const DMARCCONFIG: &str = "\
usage: dmarcconfig [print]                     (DMARC verification profiles and limits)
       dmarcconfig new <PROFILE>               (starts as DEFAULT: reject 550, quarantine Policy)
       dmarcconfig edit <PROFILE> reject none | quarantine <QUARANTINE> | reject [CODE] [TEXT]
       dmarcconfig edit <PROFILE> quarantine none | quarantine <QUARANTINE>
       dmarcconfig edit <PROFILE> temperror accept|reject
       dmarcconfig delete <PROFILE>
       dmarcconfig setup [--dns-budget SECONDS] [--max-dkim-signatures N]   (1-300, default 20; 1-50, default 5)";
// --- end sender auth ---
// --- antivirus (issue 17) ---
pub const ANTIVIRUSCONFIG: &str = "\
usage: antivirusconfig [print]
       antivirusconfig enable | disable
       antivirusconfig setup [--host <address|/socket>] [--port <port>] [--timeout <seconds>]
                             [--max-parallel <n>] [--max-size <bytes>]
         (defaults: 127.0.0.1, 3310, 60 s, 8 scans, 26214400 bytes)";
// --- end antivirus ---

pub const ALERTCONFIG: &str = "\
usage: alertconfig [print]
       alertconfig new <address> [<class>[:<severities>] ...]
       alertconfig edit <address> <class>[:<severities>] ...
       alertconfig delete <address>
       alertconfig clear            (removes every recipient)
       alertconfig from <address>|default
       alertconfig setup [--initial-interval <secs>] [--max-interval <secs>]
                         [--queue-threshold <percent>] [--data-threshold <percent>]
                         [--certificate-days <days>] [--threat-defense-failures <n>]
                         [--check-interval <secs>]
  classes: system, hardware, updater, maildelivery, threatdefense, all
  severities: critical, warning, information (comma-separated) or all; none means all";

pub const SETTZ: &str = "\
usage: settz <zone>    (an IANA time zone name, e.g. America/Chicago, Europe/Paris, UTC)
       settz           (prints the current zone; at the console, choose a region, then a zone)
       settz print";

pub const SETGATEWAY: &str = "\
usage: setgateway <ip>          (IPv4 on the subnet of a configured interface, or IPv6)
       setgateway delete
       setgateway print
The default route is installed at boot: a committed change takes effect at the next reboot.";

pub const SYSTEMSETUP: &str = "\
usage: systemsetup status          (whether the appliance has been configured since the factory)
       systemsetup print [--json]  (the settings the System Setup Wizard covers, working values)
       systemsetup secretfilter <filter>   (the shared-secret filter the wizard offers for
                                   RELAYLIST, the secret on stdin; prints the script, stages nothing)
The wizard itself runs at the console: type \"systemsetup\" alone.";

pub const SAVECONFIG: &str = "\
usage: saveconfig [<name>] [--include-secrets]   (writes <data-dir>/configuration/<name>.toml)
       saveconfig print [--include-secrets]      (prints the file instead)
       loadconfig <name>                         (stages the configuration in that file)
       loadconfig -                              (stages the configuration given on standard input)
Private keys are masked unless --include-secrets is given; a masked file loads back
on the appliance it was saved on.";

pub const TRACE: &str = "\
usage: trace --listener <NAME> --remote-ip <IP> --from <ADDRESS> --to <ADDRESS>[,<ADDRESS>...]
             [--rdns <NAME>] [--sendergroup <NAME>] [--subject <TEXT>] [--staged]
The message is read from standard input (at the console: paste it, end with a line holding
only \".\"); without one a short test message is made from --from, --to and --subject.
Nothing is received, queued or delivered.";

pub const FINDEVENT: &str = "\
usage: findevent [--mid N] [--from ADDRESS] [--to ADDRESS] [--subject TEXT]
                 [--message-id TEXT] [--ip ADDRESS] [--since TIME] [--until TIME]
                 [--json] [--cluster]
       findevent [-i] [-m MID] [-f REGEX] [-s REGEX] [-t REGEX] [mail_logs]
Prints every mail_logs line of the messages that match all criteria given
(--from, --to, --subject, --message-id: case-insensitive, part of the value
is enough; AsyncOS's -f sender, -t recipient, -s subject: regular
expressions, case-sensitive unless -i; --ip: the sender IP of the message's
connection, exactly; TIME: YYYY-MM-DD[ HH:MM[:SS]] local time, or a time
ago: 24h, 7d; on the message's Start MID line), then each message's Message
Tracking: summary, sending host and Processing Details.
--json: the messages and their tracking fields as JSON.
--cluster: every member of this appliance's cluster answers (long options
only), messages merged by time, each with its machine.";

pub const TAIL: &str = "\
usage: tail [LOG] [N]         the last N lines of LOG (default 20, at most 5000)
       tail -n N [LOG]
       tail -f [N]            (console; also tail and tail LOG there)
                              the same, then follow new lines until Ctrl-C
LOG: mail_logs (the default), system_logs or audit_logs.";

pub const GREP: &str = "\
usage: grep [-C N] [-e REGEX] [-i] [-p] [REGEX] [LOG] [--max N]
Prints the lines of LOG (mail_logs unless system_logs or audit_logs is
named; oldest first) that match the regular expression
(-i: case-insensitive; -C N: N lines of context around each match, at most
10; -p: accepted, the console pages every answer; at most --max lines,
default and limit 5000).";

pub const USERCONFIG: &str = "\
usage: userconfig print
       userconfig new <name> admin|operator|read-only|guest [FULL NAME]   (passphrase on stdin)
       userconfig edit <name> role admin|operator|read-only|guest
       userconfig edit <name> fullname FULL NAME
       userconfig edit <name> password      (passphrase on stdin)
       userconfig delete <name>
       userconfig unlock <name>";

pub const HELP: &str = "usage: help [COMMAND]";
pub const STATUS: &str = "usage: status\n       status detail\n       status plot queue|received|delivered|bounced [--minutes N]";
pub const WORKQUEUE: &str = "usage: workqueue [status]";
pub const METRICS: &str = "usage: metrics [--openmetrics]";
pub const REPORTDATA: &str = "usage: reportdata [--json] [--hours N]";
pub const TOPHOSTS: &str = "usage: tophosts [active|conn|deliv|soft|hard] [--cluster [--json]]";
pub const HOSTSTATUS: &str = "usage: hoststatus <domain>";
pub const SHOWMESSAGE: &str = "usage: showmessage <MID>";
pub const DELETEMESSAGE: &str = "usage: deletemessage <MID>";
pub const DELIVERNOW: &str = "usage: delivernow [all|<domain>|<address>|<MID>]";
pub const BOUNCERECIPIENTS: &str = "usage: bouncerecipients all|<domain>|<address>";
pub const REDIRECTRECIPIENTS: &str = "usage: redirectrecipients <host>[:port] | redirectrecipients host <host> [port <port>] | redirectrecipients clear";
pub const RESETCOUNTERS: &str = "usage: resetcounters";
// The cut-over commands (issue 16): suspending and resuming receiving and
// delivery, and listing the queued recipients.
pub const SUSPENDLISTENER: &str = "usage: suspendlistener [all | <listener>[,<listener>...]] [<seconds>]\n\
The listeners answer new connections 421; sessions in progress get <seconds> (default 30,\n\
at most 3600) to finish. Kept across restarts until resumelistener.";
pub const RESUMELISTENER: &str = "usage: resumelistener [all | <listener>[,<listener>...]]";
pub const SUSPENDDEL: &str = "usage: suspenddel [<seconds>]   (queued mail stays queued until resumedel; kept across restarts)";
pub const RESUMEDEL: &str = "usage: resumedel";
pub const SUSPEND: &str = "usage: suspend [<seconds>]   (suspendlistener all, then suspenddel)";
pub const RESUME: &str = "usage: resume   (resumelistener all, then resumedel)";
pub const SHOWRECIPIENTS: &str = "usage: showrecipients [all | host <domain> | sender <address>]";
pub const REBOOT: &str = "usage: reboot [<seconds>] | shutdown [<seconds>]   (asks for confirmation at the console)\n\
Listeners answer 421 at once; sessions in progress get <seconds> (default 30, at most 3600)\n\
to finish, then the mail daemon stops cleanly; after a reboot its supervisor starts it again.";
pub const UPGRADE: &str = "usage: upgrade [status]\n       upgrade install [--allow-downgrade] <file in the data partition's upgrade/ directory | https://URL>";
pub const DEBUGHANG: &str = "usage: debughang [supervisor]";
pub const WHO: &str = "usage: who";
pub const LAST: &str = "usage: last";
pub const PASSWD: &str = "usage: passwd   (asks for the old and the new passphrase)";
pub const VERSION: &str = "usage: version";
pub const QUIT: &str = "usage: quit";
pub const COMMITDETAIL: &str = "usage: commitdetail   (the commit history, as commitlog)";
pub const ROLLBACKCONFIG: &str =
    "usage: rollbackconfig   (lists the last 10 commits and asks which to roll back to)";

// The cut-over monitoring and network checks (issue 16).
pub const RATE: &str = "\
usage: rate [INTERVAL [COUNT]]
Every INTERVAL seconds (default 10, at most 60), COUNT times (default 1, at
most 30; INTERVAL x COUNT at most 300): the connections in and out, the
recipients received and completed since the daemon started with the change
over the interval, and the queue's size in K-Bytes.";
pub const HOSTRATE: &str = "\
usage: hostrate <domain> [INTERVAL [COUNT]]
Every INTERVAL seconds (default 10, at most 60), COUNT times (default 1, at
most 30): the destination's status, its connections out, active recipients,
delivered recipients, hard bounced recipients and soft bounce events, with
the change over the interval.";
pub const TOPIN: &str =
    "usage: topin   (the remote hosts with the most connections in, per listener)";
pub const DNSSTATUS: &str =
    "usage: dnsstatus   (the gateway's DNS lookups since the daemon started)";
pub const DNSFLUSH: &str = "usage: dnsflush   (forget every cached DNS answer)";
pub const NSLOOKUP: &str = "\
usage: nslookup <name|IP address> [A|AAAA|CNAME|MX|NS|PTR|SOA|TXT]
Asks the gateway's own resolver (dnsconfig), through its cache; A by
default, PTR for an address.";
pub const TELNET: &str = "\
usage: telnet <host> [PORT] [INTERFACE|auto]
Connects to PORT (default 25) from INTERFACE's address (Data 1, Data 2 or
Management; by default the delivery interface, as mail leaves), shows the
banner, says QUIT and closes (at most 10 lines, 10 s per answer).";
pub const PING: &str = "\
usage: ping <host> [COUNT]
Sends COUNT ICMP echo requests (default 4, at most 20), one a second.";
pub const TRACEROUTE: &str = "usage: traceroute <host>   (not available: see docs/cli.md)";

// --- antispam (issue 17) ---
pub const ANTISPAMCONFIG: &str = "\
usage: antispamconfig [print]
       antispamconfig enable | disable
       antispamconfig setup [--host HOST] [--port PORT] [--timeout SECONDS] [--max_concurrent N]
                            [--max_message_size SIZE] [--retry SECONDS]
defaults: 127.0.0.1:11333, timeout 60, 16 parallel scans, 1M, retry 60 (rspamd's normal worker)";
// --- end antispam ---

pub const CLUSTERCONFIG: &str = "\
usage: clusterconfig                     (this machine's cluster, connection and revision)
       clusterconfig create NAME --etcd URL[,URL...] --ca CA_NAME --certificate CERT_NAME [--group GROUP] [--machine MACHINE]
       clusterconfig token               (the join token for another machine)
       clusterconfig join TOKEN --certificate CERT_NAME [--group GROUP] [--machine MACHINE]
       clusterconfig list [--json]
       clusterconfig addgroup GROUP | deletegroup GROUP | setgroup MACHINE GROUP
       clusterconfig removemachine MACHINE
       clusterconfig leave               (this machine keeps its configuration, standalone)
       clusterconfig levels [SECTION|COMMAND]
       clusterconfig override SECTION group|machine
       clusterconfig inherit SECTION group|machine
       clusterconfig sharecertificates yes|no";

pub const CLUSTERMODE: &str = "\
usage: clustermode                       (the current mode)
       clustermode cluster | group [GROUP] | machine [MACHINE]";

pub const CLUSTERCHECK: &str = "\
usage: clustercheck                      (whether every machine runs the same cluster revision)";

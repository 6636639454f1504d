//! Next hops for the delivery tests: mail exchangers found by MX.
//!
//! The gateway contacts a mail exchanger on port 25 of its address, so
//! these peers listen on `127.4.n.x:25` (`x` ≠ 25, the day-one sink's
//! address), which needs root, as the delivery tests are run:
//!
//! - [`MxSink`]: Postfix's `smtp-sink` on such an address, dumping every
//!   transaction like [`crate::Sink`] does;
//! - [`ScriptedServer`]: `tests/scripts/smtp_server.py`, a small SMTP
//!   server that answers what the test tells it (exact 4xx/5xx replies per
//!   recipient, STARTTLS absent, broken or real, slow DATA replies) and
//!   writes down every connection and command it saw;
//! - [`TestCert`]: certificates made with `openssl` for the TLS peers.
//!
//! Plus what the tests share around them: relaying through Data 2,
//! sending a batch of messages in one session, and reading `tophosts` and
//! `status detail` back as numbers.

mod mx_sink;
mod scripted;
mod test_cert;

pub use mx_sink::{MX_PORT, MxSink, mx_ip};
pub use scripted::{Script, ScriptedServer, ServerConn};
pub use test_cert::TestCert;

use crate::client::smtplib::{self, Step};
use crate::gateway::Gateway;
use crate::mid_in_reply;
use crate::world::World;

/// Lets this test's clients (`127.5.n.0/24`) relay through Data 2
/// (`OutgoingMail`, sender group RELAYLIST) and commits, so mail for any
/// domain goes out by SMTP route or MX.
pub fn allow_relay_from_clients(w: &World) {
    let range = format!("127.5.{}.0/24", w.net.n());
    w.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "OutgoingMail",
        "hostaccess",
        "new",
        "sendergroup",
        "RELAYLIST",
        &range,
    ]);
    w.gw.cli_ok(&["commit", "e2e: clients relay through Data 2"]);
}

/// Lets delivery by MX reach next hops on loopback, where every peer of
/// these tests listens, and commits. By default the gateway refuses a
/// mail exchanger (or implicit-MX address) that DNS puts at a loopback,
/// private or link-local address or at the appliance itself (see
/// docs/security.md), as an administrator's gateway on the internet must;
/// SMTP routes are trusted and need no such setting:
///
/// ```text
/// deliveryconfig setup --allow-loopback-next-hops yes
/// commit
/// ```
pub fn allow_loopback_next_hops(gw: &Gateway) {
    gw.cli_ok(&[
        "deliveryconfig",
        "setup",
        "--allow-loopback-next-hops",
        "yes",
    ]);
    gw.cli_ok(&["commit", "e2e: next hops on loopback"]);
}

/// One message of a [`send_batch`]: envelope sender, recipients, Message-ID.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub from: String,
    pub rcpts: Vec<String>,
    pub message_id: String,
}

impl Outgoing {
    /// A message from `from` to `rcpts` with this Message-ID (no brackets).
    #[must_use]
    pub fn new(from: &str, rcpts: &[&str], message_id: &str) -> Outgoing {
        Outgoing {
            from: from.to_string(),
            rcpts: rcpts.iter().map(|r| (*r).to_string()).collect(),
            message_id: message_id.to_string(),
        }
    }

    /// The message text (CRLF, small).
    #[must_use]
    pub fn body(&self) -> Vec<u8> {
        let from = if self.from.is_empty() {
            "MAILER-DAEMON@internet.example"
        } else {
            &self.from
        };
        crate::simple_message(
            from,
            &self.rcpts.join(">, <"),
            &self.message_id,
            "a message for the delivery engine",
        )
    }
}

/// Sends `messages` to Data 2 from client `127.5.n.x` in one SMTP session
/// (one transaction each) and returns their MIDs, in order.
///
/// # Panics
/// When any of them is not accepted.
#[must_use]
pub fn send_batch(w: &World, x: u8, messages: &[Outgoing]) -> Vec<u64> {
    let mut steps = vec![Step::Connect, Step::Ehlo];
    for m in messages {
        steps.push(Step::Mail {
            from: m.from.clone(),
            options: Vec::new(),
        });
        steps.extend(m.rcpts.iter().map(|r| Step::Rcpt(r.clone())));
        steps.push(Step::Data(m.body()));
    }
    steps.push(Step::Quit);
    let res = smtplib::run(w.net.data2_smtp(), w.net.client(x), &steps);
    let mids: Vec<u64> = res
        .iter()
        .filter(|r| r.op == "data")
        .filter_map(|r| {
            assert_eq!(r.code, Some(250), "Data 2 refused a message: {res:?}");
            mid_in_reply(&r.text)
        })
        .collect();
    assert_eq!(
        mids.len(),
        messages.len(),
        "not every message got a MID: {res:?}"
    );
    mids
}

/// One row of `tophosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TophostsRow {
    pub host: String,
    /// Marked `*`: down as of the last delivery attempt.
    pub down: bool,
    pub active: u64,
    pub conn_out: u64,
    pub delivered: u64,
    pub soft: u64,
    pub hard: u64,
}

fn number(s: &str) -> Option<u64> {
    s.replace(',', "").parse().ok()
}

/// Parses the `tophosts` table (the seed's layout): the rows after the two
/// header lines, `# host active conn deliv soft hard`.
///
/// # Panics
/// When the table does not have that shape.
#[must_use]
pub fn parse_tophosts(text: &str) -> Vec<TophostsRow> {
    assert!(
        text.contains("Status as of:")
            && text.contains("Hosts marked with '*' were down as of the last delivery attempt."),
        "tophosts lacks the seed's header:\n{text}"
    );
    // The seed's table has two header lines, both starting "# Recipient Host".
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with('#') && l.contains("Recipient Host"))
        .unwrap_or_else(|| panic!("tophosts has no '# Recipient Host' header:\n{text}"));
    text.lines()
        .skip(header + 1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let nums: Option<Vec<u64>> = f
                .get(2..7)
                .map(|s| s.iter().filter_map(|v| number(v)).collect());
            match (f.len(), f.first().and_then(|v| number(v)), nums) {
                (7, Some(_), Some(n)) if n.len() == 5 => {
                    let (down, host) = match f[1].strip_prefix('*') {
                        Some(h) => (true, h.to_string()),
                        None => (false, f[1].to_string()),
                    };
                    TophostsRow {
                        host,
                        down,
                        active: n[0],
                        conn_out: n[1],
                        delivered: n[2],
                        soft: n[3],
                        hard: n[4],
                    }
                }
                _ => panic!(
                    "tophosts row {l:?} is not '# host active conn deliv soft hard':\n{text}"
                ),
            }
        })
        .collect()
}

/// A counter row of `status detail`: `(reset, uptime, lifetime)`.
///
/// # Panics
/// When the row is missing or malformed.
#[must_use]
pub fn status_counter(text: &str, label: &str) -> (u64, u64, u64) {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("status detail has no '{label}' row:\n{text}"));
    let nums: Vec<u64> = line[line.find(label).unwrap_or(0) + label.len()..]
        .split_whitespace()
        .filter_map(number)
        .collect();
    match nums[..] {
        [r, u, l] => (r, u, l),
        _ => panic!("status detail row {line:?} does not have three counters"),
    }
}

/// A gauge row of `status detail` (one number).
///
/// # Panics
/// When the row is missing or malformed.
#[must_use]
pub fn status_gauge(text: &str, label: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("status detail has no '{label}' row:\n{text}"));
    let nums: Vec<u64> = line[line.find(label).unwrap_or(0) + label.len()..]
        .split_whitespace()
        .filter_map(number)
        .collect();
    match nums[..] {
        [n] => n,
        _ => panic!("status detail gauge {line:?} does not have one number"),
    }
}

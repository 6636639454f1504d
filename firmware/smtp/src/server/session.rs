//! The SMTP server session as a sans-I/O state machine: bytes in, actions
//! out. The listener's driver owns the socket, TLS and timers; this owns
//! the protocol, the policy decisions (limits, RAT, relay rules) and the
//! transaction, so it can be tested and fuzzed without a network.
//!
//! `feed` consumes as much input as it can act on and stops after an action
//! the driver must complete first (`NeedMid`, `StartTls`, `Spool`,
//! `Enqueue`, `Discard`, `Close`); the driver then calls back
//! (`mid_allocated`, `tls_started`, `enqueued`) or simply feeds the rest.
//!
//! The session reaches no store and writes no log: the driver allocates
//! the MID (the allocator flushes the store), hands it the clock, and
//! writes the [`MailEvent`]s it collects (`take_events`, after every
//! call) into `mail_logs` lines.
//!
//! Message data never accumulates here: the receivers write into a buffer
//! of [`SPOOL_CHUNK`] bytes that is handed to the driver (`Spool`) each time
//! it fills, and the driver appends it to the message's spool file. The
//! buffer is reserved against the global reception budget.

use std::net::IpAddr;
use std::sync::Arc;

use smtp_proto::{Error as ProtoError, Request};

use super::budget::{ReceptionBudget, Reservation};
use super::data::{BdatReceiver, DataError, DataReceiver};
use super::hat::HatMatch;
use super::headers::{HeaderError, HeaderScanner};
use super::limits::HourlyRecipients;
use super::rat;
use super::reply;
use crate::config::bounce_verification::{BounceCheck, InvalidBounceAction, TagError};
use crate::config::{
    Behavior, CrLfHandling, HeaderLimits, ListenerConfig, ListenerKind, RatAction, RatEntry,
    TlsMode,
};
use crate::ids::{Icid, Mid, Rid};
use crate::logging::event::{Direction, MailEvent};
use crate::queue::{MessageRecord, Reception, Recipient, RecipientStatus};

/// Why the queue did not take a finished message, as the session needs it:
/// the reason for `mail_logs` and whether storage is full (452 4.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotQueued {
    pub reason: String,
    pub storage_full: bool,
    /// The reply a content verdict chose (a DMARC reject's `550 5.7.1 ...`);
    /// `None`: the queue's own 451/452.
    pub reply: Option<String>,
}

/// RFC 5321's limit on a command line, CRLF included.
pub const MAX_COMMAND_LINE: usize = 512;
/// Bad commands tolerated before the session is closed.
const MAX_ERRORS: u32 = 10;
/// Message data a session buffers before the driver writes it to the spool
/// file; also what it reserves from the reception budget per transaction.
pub const SPOOL_CHUNK: usize = 64 * 1024;

/// What the driver must do.
#[derive(Debug)]
pub enum Action {
    Reply(String),
    /// MAIL FROM was accepted so far: allocate the transaction's MID and
    /// call `mid_allocated`.
    NeedMid,
    /// Upgrade the connection; discard any unread plaintext.
    StartTls,
    /// Append these bytes to the spool file of message `Mid` (opened by its
    /// first `Spool`). A file whose message was abandoned (RSET, a new
    /// transaction, the connection's end) is the driver's to remove.
    Spool(Mid, Vec<u8>),
    /// SMTP Call-Ahead: ask the next hop whether this recipient exists,
    /// then call `recipient_validated` with the reply to refuse it with,
    /// or `None` to accept it.
    ValidateRecipient(String),
    /// Append the last bytes, make the message durable, then call
    /// `enqueued`.
    Enqueue(Box<(MessageRecord, Vec<u8>)>),
    /// The message being received is refused: remove what was spooled.
    Discard,
    Close,
}

/// Facts about the connection, fixed when it is accepted.
pub struct Connection {
    pub icid: Icid,
    pub hostname: String,
    pub listener: Arc<ListenerConfig>,
    pub interface: String,
    pub client_ip: IpAddr,
    pub rdns: Option<String>,
    pub rdns_verified: bool,
    pub hat: HatMatch,
    pub tls_available: bool,
    /// The header limits in force when the connection was accepted.
    pub headers: HeaderLimits,
    /// Bounce verification on a public listener (`bvconfig`); `None`
    /// when it is off or the listener is private.
    pub bounce_verification: Option<BounceCheck>,
    /// Recipients the RAT accepts are validated by SMTP Call-Ahead
    /// (`Action::ValidateRecipient`): the listener has a profile and the
    /// mail flow policy leaves it on.
    pub call_ahead: bool,
}

/// The wall clock as the session reads it (the Received header's date,
/// the record's reception time); the driver hands it in, tests fix it.
/// It reads the appliance's zone (`breakwater_types::clock::now`), so the
/// `Received:` date carries the offset the administrator set with `settz`.
pub type Clock = fn() -> chrono::DateTime<breakwater_types::clock::Tz>;

/// The shared state a session uses, and its clock.
#[derive(Clone)]
pub struct SessionServices {
    pub hourly: Arc<HourlyRecipients>,
    pub budget: Arc<ReceptionBudget>,
    pub clock: Clock,
}

enum State {
    Command,
    /// Reading the rest of an over-long command line.
    Discarding,
    Data(DataReceiver),
    /// Reading a BDAT chunk (thrown away when there is no transaction).
    Bdat {
        left: usize,
        last: bool,
    },
    /// Waiting for the driver (a MID, the TLS handshake, a call-ahead
    /// answer or the durable enqueue).
    Waiting,
    Closed,
}

struct Transaction {
    mid: Mid,
    mail_from: String,
    recipients: Vec<String>,
    /// Set once DATA or the first BDAT started the message data.
    body: Option<Body>,
    /// MAIL FROM carried SMTPUTF8: UTF-8 addresses are allowed (RFC 6531).
    smtputf8: bool,
    /// An invalid bounce accepted with bounce verification's custom
    /// header: the header to add after our Received header.
    invalid_bounce_header: Option<String>,
}

/// A MAIL FROM waiting for its MID.
struct PendingMail {
    address: String,
    smtputf8: bool,
}

pub struct Session {
    conn: Connection,
    services: SessionServices,
    state: State,
    /// The command line being read; its capacity is RFC 5321's limit.
    line: heapless::Vec<u8, MAX_COMMAND_LINE>,
    helo: Option<String>,
    tls: Option<(String, String)>,
    tx: Option<Transaction>,
    /// The MID handed to the driver to make durable, until it answers.
    enqueuing: Option<Mid>,
    messages: u32,
    errors: u32,
    pending_mail: Option<PendingMail>,
    /// A recipient waiting for its call-ahead answer.
    pending_rcpt: Option<String>,
    /// What happened since the driver last took them (`take_events`).
    events: Vec<MailEvent>,
}

impl Session {
    pub fn new(conn: Connection, services: SessionServices) -> Self {
        Self {
            conn,
            services,
            state: State::Command,
            line: heapless::Vec::new(),
            helo: None,
            tls: None,
            tx: None,
            enqueuing: None,
            messages: 0,
            errors: 0,
            pending_mail: None,
            pending_rcpt: None,
            events: Vec::new(),
        }
    }

    /// The events since the last call, oldest first: the driver takes them
    /// after every call into the session and writes them to `mail_logs`.
    pub fn take_events(&mut self) -> std::vec::Drain<'_, MailEvent> {
        // Drained, not replaced: the buffer keeps its capacity, so a
        // session logging a line or two per command allocates once.
        self.events.drain(..)
    }

    fn event(&mut self, event: MailEvent) {
        self.events.push(event);
    }

    /// Messages accepted so far (the driver's "unsuccessful" timer).
    pub fn messages(&self) -> u32 {
        self.messages
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// A mail transaction is open (MAIL FROM accepted, not yet answered
    /// at the end of data, reset or aborted). While the daemon shuts down,
    /// only such a session gets the grace period; an idle one is closed.
    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    /// The greeting, or the reject banner and close.
    pub fn greeting(&mut self) -> Vec<Action> {
        let p = &self.conn.hat.policy;
        if p.behavior == Behavior::Reject {
            self.state = State::Closed;
            return vec![
                Action::Reply(format!("{} {}", p.reject_banner_code, p.reject_banner_text)),
                Action::Close,
            ];
        }
        let text = p.smtp_banner_text.as_ref().map_or_else(
            || format!("{} ESMTP", self.conn.hostname),
            ToString::to_string,
        );
        vec![Action::Reply(format!("{} {text}", p.smtp_banner_code))]
    }

    /// Consumes input; returns bytes consumed and the actions to perform.
    pub fn feed(&mut self, input: &[u8]) -> (usize, Vec<Action>) {
        let mut actions = Vec::new();
        let mut pos = 0;
        while pos < input.len() {
            let rest = &input[pos..];
            match &mut self.state {
                State::Closed | State::Waiting => break,
                State::Data(rx) => {
                    let body = self
                        .tx
                        .as_mut()
                        .and_then(|tx| tx.body.as_mut())
                        .expect("DATA state has a message body");
                    let start = body.pending.len();
                    grow_pending(&mut body.pending, rest.len());
                    let (n, done) = rx.feed(rest, &mut body.pending, SPOOL_CHUNK);
                    body.headers.feed(&body.pending[start..]);
                    pos += n;
                    if let Some(result) = done {
                        self.end_of_data(result.map(|_| ()), &mut actions);
                    } else {
                        self.spool_if_full(&mut actions);
                    }
                }
                State::Bdat { left, last } => {
                    let last = *last;
                    let avail = (*left).min(rest.len());
                    let body = self.tx.as_mut().and_then(|tx| tx.body.as_mut());
                    let take = match body {
                        Some(body) => {
                            let start = body.pending.len();
                            let rx = body.bdat.as_mut().expect("BDAT body has a receiver");
                            grow_pending(&mut body.pending, avail);
                            let n = rx.feed(&rest[..avail], &mut body.pending, SPOOL_CHUNK);
                            body.headers.feed(&body.pending[start..]);
                            n
                        }
                        // No transaction: a refused chunk, read and thrown away.
                        None => avail,
                    };
                    pos += take;
                    let State::Bdat { left, .. } = &mut self.state else {
                        unreachable!("matched above")
                    };
                    *left -= take;
                    if *left > 0 {
                        self.spool_if_full(&mut actions);
                    } else {
                        self.state = State::Command;
                        self.bdat_chunk_done(last, pos < input.len(), &mut actions);
                    }
                }
                State::Discarding => match rest.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        pos += i + 1;
                        self.state = State::Command;
                        self.error(reply::LINE_TOO_LONG.to_string(), &mut actions);
                    }
                    None => pos = input.len(),
                },
                State::Command => {
                    let room = MAX_COMMAND_LINE - self.line.len();
                    let (take, complete) = match rest.iter().take(room).position(|&b| b == b'\n') {
                        Some(i) => (i + 1, true),
                        None => (rest.len().min(room), false),
                    };
                    // Cannot fail: `take` never exceeds the room left.
                    let _ = self.line.extend_from_slice(&rest[..take]);
                    pos += take;
                    if complete {
                        let line = std::mem::take(&mut self.line);
                        self.command(&line, &mut actions);
                        if matches!(self.state, State::Data(_)) && pos < input.len() {
                            // Message text sent before our 354: RFC 2920
                            // forbids it, and it is how smuggling payloads
                            // arrive. Refuse it, as Postfix's
                            // smtpd_forbid_unauth_pipelining does.
                            actions.pop();
                            self.protocol_violation(
                                "message data sent before the 354 reply",
                                &mut actions,
                            );
                        }
                    } else if self.line.len() == MAX_COMMAND_LINE {
                        self.line.clear();
                        self.state = State::Discarding;
                    }
                }
            }
            if actions.iter().any(|a| !matches!(a, Action::Reply(_))) {
                break;
            }
        }
        (pos, actions)
    }

    /// The client broke the pipelining rules: refuse, drop the message,
    /// close.
    fn protocol_violation(&mut self, what: &'static str, actions: &mut Vec<Action>) {
        self.event(MailEvent::ImproperPipelining {
            icid: self.conn.icid,
            what: what.to_string(),
        });
        if self
            .tx
            .as_ref()
            .and_then(|tx| tx.body.as_ref())
            .is_some_and(|b| b.spooled > 0)
        {
            actions.push(Action::Discard);
        }
        self.abort_transaction("improper pipelining");
        actions.push(Action::Reply(reply::SYNC_ERROR.to_string()));
        actions.push(Action::Close);
        self.state = State::Closed;
    }

    /// The driver finished the TLS handshake.
    pub fn tls_started(&mut self, protocol: String, cipher: String) {
        self.event(MailEvent::IcidTlsSuccess {
            icid: self.conn.icid,
            protocol: protocol.clone(),
            cipher: cipher.clone(),
        });
        self.tls = Some((protocol, cipher));
        // RFC 3207: forget everything learned before TLS.
        self.helo = None;
        self.tx = None;
        self.state = State::Command;
    }

    /// The TLS handshake failed; the connection is unusable.
    pub fn tls_failed(&mut self, reason: &str) {
        self.event(MailEvent::IcidTlsFailed {
            icid: self.conn.icid,
            reason: reason.to_string(),
        });
        self.state = State::Closed;
    }

    /// The driver tried to make the message durable.
    pub fn enqueued(&mut self, result: Result<Mid, NotQueued>) -> Vec<Action> {
        self.state = State::Command;
        let started = self.enqueuing.take();
        match result {
            Ok(mid) => {
                // "MID n queued for delivery" is the committer's line
                // (queue::QueueHandle::enqueue_spooled): it comes before
                // the work queue can start a delivery.
                self.messages += 1;
                vec![Action::Reply(reply::accepted(mid.0))]
            }
            Err(e) => {
                // A full queue and a full flash are the same to the client:
                // 452 4.3.1, try again later (RFC 3463).
                let text = match &e.reply {
                    Some(r) => r.as_str(),
                    None if e.storage_full => reply::QUEUE_FULL,
                    None => reply::QUEUE_ERROR,
                };
                self.event(MailEvent::NotQueued {
                    icid: self.conn.icid,
                    reason: e.reason,
                });
                // The MID started; it finishes, as every started MID does.
                if let Some(mid) = started {
                    self.event(MailEvent::FinishedAborted { mid });
                }
                vec![Action::Reply(text.to_string())]
            }
        }
    }

    fn error(&mut self, text: String, actions: &mut Vec<Action>) {
        self.errors += 1;
        if self.errors > MAX_ERRORS {
            actions.push(Action::Reply(reply::TOO_MANY_ERRORS.to_string()));
            actions.push(Action::Close);
            self.state = State::Closed;
        } else {
            actions.push(Action::Reply(text));
        }
    }

    fn command(&mut self, line: &[u8], actions: &mut Vec<Action>) {
        let parsed = Request::parse(&mut line.iter()).map(Request::into_owned);
        let request = match parsed {
            Ok(r) => r,
            Err(e) => return self.error(syntax_reply(&e), actions),
        };
        match request {
            Request::Ehlo { host } => self.helo(host, true, actions),
            Request::Helo { host } => self.helo(host, false, actions),
            Request::Lhlo { .. } => self.error(reply::UNKNOWN_COMMAND.to_string(), actions),
            // The addresses are read again from the raw line: smtp-proto
            // drops the quotes of a quoted local part (see crate::address).
            Request::Mail { from } => {
                let smtputf8 = from.flags & smtp_proto::MAIL_SMTPUTF8 != 0;
                self.mail(line, smtputf8, from.size, actions)
            }
            Request::Rcpt { .. } => self.rcpt(line, actions),
            Request::Data => self.data(actions),
            Request::Bdat { chunk_size, is_last } => self.bdat(chunk_size, is_last, actions),
            Request::Rset => {
                self.abort_transaction("sender");
                actions.push(Action::Reply(reply::RESET.to_string()));
            }
            Request::Noop { .. } => actions.push(Action::Reply(reply::OK.to_string())),
            Request::Vrfy { .. } => actions.push(Action::Reply(reply::VRFY_DISABLED.to_string())),
            Request::Quit => {
                actions.push(Action::Reply(format!("221 2.0.0 {} Bye", self.conn.hostname)));
                actions.push(Action::Close);
                self.abort_transaction("sender");
                self.state = State::Closed;
            }
            Request::StartTls => self.starttls(actions),
            Request::Help { .. } => actions.push(Action::Reply(
                "214 2.0.0 See RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP VRFY STARTTLS QUIT"
                    .to_string(),
            )),
            _ => self.error(reply::NOT_IMPLEMENTED.to_string(), actions),
        }
    }

    fn helo(&mut self, host: String, extended: bool, actions: &mut Vec<Action>) {
        if host.trim().is_empty() {
            return self.error(
                reply::bad_syntax(if extended {
                    "EHLO hostname"
                } else {
                    "HELO hostname"
                }),
                actions,
            );
        }
        self.abort_transaction("sender");
        self.helo = Some(host);
        let hostname = &self.conn.hostname;
        if !extended {
            return actions.push(Action::Reply(format!("250 {hostname}")));
        }
        let mut lines = vec![
            hostname.clone(),
            "8BITMIME".to_string(),
            format!("SIZE {}", self.conn.hat.policy.max_message_size),
            "PIPELINING".to_string(),
            "CHUNKING".to_string(),
            "ENHANCEDSTATUSCODES".to_string(),
            "SMTPUTF8".to_string(),
        ];
        if self.tls_offered() {
            lines.push("STARTTLS".to_string());
        }
        actions.push(Action::Reply(reply::multiline(250, &lines)));
    }

    fn tls_offered(&self) -> bool {
        self.tls.is_none() && self.conn.tls_available && self.conn.hat.policy.tls != TlsMode::Off
    }

    fn starttls(&mut self, actions: &mut Vec<Action>) {
        if self.tls.is_some() {
            return self.error(reply::TLS_ALREADY.to_string(), actions);
        }
        if !self.tls_offered() {
            return actions.push(Action::Reply(reply::TLS_UNAVAILABLE.to_string()));
        }
        actions.push(Action::Reply(reply::START_TLS.to_string()));
        actions.push(Action::StartTls);
        self.state = State::Waiting;
    }

    fn mail(&mut self, line: &[u8], smtputf8: bool, size: usize, actions: &mut Vec<Action>) {
        let policy = &self.conn.hat.policy;
        if self.helo.is_none() {
            return self.error(reply::NEED_HELO.to_string(), actions);
        }
        if self.tx.is_some() {
            return self.error(reply::NESTED_MAIL.to_string(), actions);
        }
        if policy.tls == TlsMode::Required && self.tls.is_none() {
            return actions.push(Action::Reply(reply::TLS_REQUIRED.to_string()));
        }
        if self.messages >= policy.max_messages_per_connection {
            return actions.push(Action::Reply(reply::MSGS_PER_CONN.to_string()));
        }
        if size as u64 > policy.max_message_size {
            return actions.push(Action::Reply(reply::TOO_LARGE.to_string()));
        }
        let address = match crate::address::parse_mail_from(line, smtputf8) {
            Ok(path) => path.canonical(),
            Err(e) => {
                self.event(MailEvent::SenderRejected {
                    icid: self.conn.icid,
                    reason: e.to_string(),
                });
                return self.error(reply::bad_sender_address(&e), actions);
            }
        };
        // The MID comes from the driver: allocating it flushes the store.
        self.pending_mail = Some(PendingMail { address, smtputf8 });
        self.state = State::Waiting;
        actions.push(Action::NeedMid);
    }

    /// The driver allocated the MID asked for by `NeedMid`; `None` when it
    /// could not (it logs why): the sender is refused with a temporary
    /// error.
    pub fn mid_allocated(&mut self, mid: Option<Mid>) -> Vec<Action> {
        if matches!(self.state, State::Waiting) {
            self.state = State::Command;
        }
        let Some(PendingMail { address, smtputf8 }) = self.pending_mail.take() else {
            return Vec::new();
        };
        let Some(mid) = mid else {
            return vec![Action::Reply(reply::QUEUE_ERROR.to_string())];
        };
        let icid = self.conn.icid;
        self.event(MailEvent::StartMid { mid, icid });
        self.event(MailEvent::From {
            mid,
            icid,
            address: address.clone(),
        });
        // The listener decides the mail policies (as the work queue's
        // table_for does); tracking shows it as the message's direction.
        let direction = match self.conn.listener.kind {
            ListenerKind::Public => Direction::Incoming,
            ListenerKind::Private => Direction::Outgoing,
        };
        self.event(MailEvent::MessageDirection { mid, direction });
        let reply = Action::Reply(format!("250 2.1.0 sender <{address}> ok"));
        self.tx = Some(Transaction {
            mid,
            mail_from: address,
            recipients: Vec::new(),
            body: None,
            smtputf8,
            invalid_bounce_header: None,
        });
        vec![reply]
    }

    fn rcpt(&mut self, line: &[u8], actions: &mut Vec<Action>) {
        let Some(tx) = &self.tx else {
            return self.error(reply::NEED_MAIL.to_string(), actions);
        };
        let (mid, icid) = (tx.mid, self.conn.icid);
        let mailbox = match crate::address::parse_rcpt_to(line, tx.smtputf8) {
            Ok(m) => m,
            Err(e) => {
                self.event(MailEvent::RecipientRejected {
                    mid,
                    icid,
                    reason: e.to_string(),
                });
                return self.error(reply::bad_recipient_address(&e), actions);
            }
        };
        // Everything from here on (RAT, logs, the queue, the next hop) sees
        // the canonical form only.
        let mut address = mailbox.canonical();
        if let Some(trick) = mailbox.routing_trick() {
            self.event(MailEvent::ToRejectedTrick {
                mid,
                icid,
                address: address.clone(),
                trick: trick.to_string(),
            });
            return actions.push(Action::Reply(reply::routing_trick(&address, trick)));
        }
        let policy = &self.conn.hat.policy;
        if tx.recipients.len() >= policy.max_recipients_per_message as usize {
            return actions.push(Action::Reply(reply::TOO_MANY_RCPTS.to_string()));
        }
        let tagged = match self.bounce_verification(&address, actions) {
            Some(Some(original)) => {
                address = original;
                true
            }
            Some(None) => false,
            None => return,
        };
        let policy = &self.conn.hat.policy;
        // One RAT lookup answers both questions: may it relay, and does
        // the row bypass the HAT's rate limits.
        let row = match self.conn.listener.kind {
            ListenerKind::Public if tagged => rat::lookup(&self.conn.listener.rat, &address),
            ListenerKind::Public => rat::lookup_mailbox(&self.conn.listener.rat, &mailbox),
            ListenerKind::Private => None,
        };
        if let Some(code_text) = self.refusal(&address, row) {
            self.event(MailEvent::ToRejectedByRat { mid, icid, address });
            return actions.push(Action::Reply(code_text));
        }
        // A RAT row may let its recipients bypass the HAT's rate limits
        // (AsyncOS's "bypass receiving control").
        let bypass = row.is_some_and(|e| e.bypass_receiving_control);
        if let Some(limit) = policy.max_recipients_per_hour
            && !bypass
            && !self.services.hourly.try_add(self.conn.client_ip, limit)
        {
            self.event(MailEvent::ToRejectedRate { mid, icid, address });
            return actions.push(Action::Reply(reply::RCPTS_PER_HOUR.to_string()));
        }
        if self.conn.call_ahead && self.conn.listener.kind == ListenerKind::Public {
            // The session waits: the next command is read only after the
            // answer (pipelined input stays in the driver's buffer).
            self.pending_rcpt = Some(address.clone());
            self.state = State::Waiting;
            return actions.push(Action::ValidateRecipient(address));
        }
        self.accept_recipient(address, actions);
    }

    /// The driver's SMTP Call-Ahead answer for the recipient of
    /// `Action::ValidateRecipient`: `None` accepts it, `Some(reply)`
    /// refuses it with that reply (the next hop's own 5xx, or the
    /// profile's failure reply).
    pub fn recipient_validated(&mut self, refusal: Option<String>) -> Vec<Action> {
        if matches!(self.state, State::Waiting) {
            self.state = State::Command;
        }
        let mut actions = Vec::new();
        let Some(address) = self.pending_rcpt.take() else {
            return actions;
        };
        let Some(tx) = &self.tx else { return actions };
        match refusal {
            None => self.accept_recipient(address, &mut actions),
            Some(reply) => {
                self.event(MailEvent::ToRejectedByCallAhead {
                    mid: tx.mid,
                    icid: self.conn.icid,
                    address,
                    reply: reply.clone(),
                });
                actions.push(Action::Reply(reply));
            }
        }
        actions
    }

    fn accept_recipient(&mut self, address: String, actions: &mut Vec<Action>) {
        let icid = self.conn.icid;
        let Some(tx) = self.tx.as_mut() else { return };
        let mid = tx.mid;
        let rid = Rid(tx.recipients.len() as u32);
        actions.push(Action::Reply(format!("250 2.1.5 recipient <{address}> ok")));
        tx.recipients.push(address.clone());
        self.event(MailEvent::To {
            mid,
            icid,
            rid,
            address,
        });
    }

    /// Bounce verification of a recipient: `Some(Some(original))` when its
    /// tag verified (it continues as the original address), `Some(None)`
    /// when it continues as is, `None` when it was refused (the reply is
    /// in `actions`). Only bounces (null sender) must carry a valid tag;
    /// other mail to a tagged address is untagged leniently (any kept
    /// key, no expiry), as AsyncOS does.
    fn bounce_verification(
        &mut self,
        address: &str,
        actions: &mut Vec<Action>,
    ) -> Option<Option<String>> {
        let Some(check) = self.conn.bounce_verification.clone() else {
            return Some(None);
        };
        let (mid, icid) = (self.tx.as_ref()?.mid, self.conn.icid);
        let bounce = self.tx.as_ref()?.mail_from.is_empty();
        let now = (self.services.clock)().timestamp();
        match check.settings.verify(address, now, !bounce) {
            Ok(original) => {
                self.event(MailEvent::BounceTagVerified {
                    mid,
                    icid,
                    address: address.to_string(),
                    original: original.clone(),
                });
                Some(Some(original))
            }
            Err(_) if !bounce => Some(None),
            Err(TagError::Untagged) if check.untagged_valid => Some(None),
            Err(_) => match &check.settings.invalid_action {
                InvalidBounceAction::Reject => {
                    self.event(MailEvent::InvalidBounceRejected {
                        mid,
                        icid,
                        address: address.to_string(),
                    });
                    actions.push(Action::Reply(reply::BOUNCE_VERIFICATION_FAILED.to_string()));
                    None
                }
                InvalidBounceAction::AddHeader { name, value } => {
                    self.event(MailEvent::InvalidBounceFlagged {
                        mid,
                        icid,
                        address: address.to_string(),
                    });
                    if let Some(tx) = self.tx.as_mut() {
                        tx.invalid_bounce_header = Some(format!("{name}: {value}\r\n"));
                    }
                    Some(None)
                }
            },
        }
    }

    /// Why `address` may not be relayed to through this connection, as the
    /// reply to give; `None` when it may.
    fn refusal(&self, address: &str, row: Option<&RatEntry>) -> Option<String> {
        let behavior = self.conn.hat.policy.behavior;
        if behavior == Behavior::Relay {
            return None;
        }
        if self.conn.listener.kind == ListenerKind::Private {
            return Some(reply::relay_denied(address));
        }
        match row {
            Some(e) if e.action == RatAction::Accept => None,
            Some(e) => Some(match (e.code, &e.text) {
                (Some(code), Some(text)) => format!("{code} {text}"),
                (Some(code), None) => {
                    format!("{code} 5.7.1 Recipient address rejected: <{address}>")
                }
                (None, Some(text)) => format!("550 {text}"),
                (None, None) => reply::relay_denied(address),
            }),
            None => Some(reply::relay_denied(address)),
        }
    }

    /// Ends the open transaction without a message. `why` completes
    /// AsyncOS's `Receiving aborted by ...` (`sender` when the client ended
    /// it); the MID then finishes (`Message finished MID n aborted`), as
    /// every started MID does, whatever its recipients' fate.
    fn abort_transaction(&mut self, why: &'static str) {
        if let Some(tx) = self.tx.take() {
            self.event(MailEvent::Aborted {
                mid: tx.mid,
                why: why.to_string(),
            });
            self.event(MailEvent::FinishedAborted { mid: tx.mid });
        }
    }

    /// The connection ended (closed by either side, or timed out).
    pub fn closed(&mut self) {
        self.abort_transaction("connection close");
        self.state = State::Closed;
    }
}

fn syntax_reply(e: &ProtoError) -> String {
    match e {
        ProtoError::UnknownCommand => reply::UNKNOWN_COMMAND.to_string(),
        ProtoError::InvalidSenderAddress => reply::bad_sender(),
        ProtoError::InvalidRecipientAddress => reply::bad_recipient(),
        ProtoError::SyntaxError { syntax } => reply::bad_syntax(syntax),
        ProtoError::InvalidParameter { param } => {
            format!("501 5.5.4 Invalid parameter {param}")
        }
        ProtoError::UnsupportedParameter { param } => {
            format!("555 5.5.4 Unsupported parameter {param}")
        }
        ProtoError::ResponseTooLong => reply::LINE_TOO_LONG.to_string(),
        _ => reply::UNKNOWN_COMMAND.to_string(),
    }
}

/// The message data: DATA and BDAT, streaming to the spool, the end of
/// data and the queue record.
#[path = "session_data.rs"]
mod message;
use message::{Body, grow_pending};

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;

//! The delivery client's protocol as a sans-I/O state machine: the next
//! hop's reply bytes in, the command bytes to write and the step results
//! out. No socket, TLS library, timer or log is named here: the tokio
//! driver (`client.rs`) writes what [`ClientCore::poll`] asks for, reads
//! when it asks for a reply (arming the [`Timer`] it names), performs the
//! TLS handshake on [`Next::UpgradeTls`], and turns I/O failures into
//! [`ClientCore::fail`]. The fuzzer (`fuzz/fuzz_targets/delivery_client.rs`)
//! drives the same code with hostile reply streams.
//!
//! A connection is a series of steps, each started by the driver and ended
//! by [`Next::Done`]: the greeting (at creation), [`ClientCore::hello`],
//! [`ClientCore::starttls`], any number of [`ClientCore::send`], then
//! [`ClientCore::quit`]. Replies are parsed by smtp-proto's
//! `ResponseReceiver`, EHLO capabilities by its `EhloResponse`.

use std::collections::VecDeque;

use smtp_proto::response::parser::ResponseReceiver;
use smtp_proto::{EhloResponse, Error as ProtoError, Response};

use crate::address::{AddressError, Mailbox, ReversePath};

/// The most one reply may take, all lines together: an EHLO reply with
/// every extension is under 1 KiB; RFC 5321 §4.5.3.1.5 allows 512 octets
/// a line.
pub const MAX_REPLY: usize = 64 * 1024;

/// Why a connection or transaction failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out waiting for the server")]
    Timeout,
    /// No complete reply within the reply deadline (seconds).
    #[error("timed out: no complete reply from the server within {0}s")]
    ReplyTimeout(u64),
    /// The whole transaction took longer than allowed (seconds).
    #[error("timed out: the transaction did not finish within {0}s")]
    TransactionTimeout(u32),
    #[error("invalid response from server: {0}")]
    Protocol(String),
    #[error("TLS error: {0}")]
    Tls(String),
    /// The server answered with an error reply where we could not go on.
    #[error("{0}")]
    Reply(String),
}

/// What the server's EHLO reply offered.
#[derive(Debug, Default, Clone)]
pub struct Capabilities {
    pub pipelining: bool,
    pub starttls: bool,
    pub eight_bit_mime: bool,
    pub smtputf8: bool,
    pub size: Option<u64>,
}

impl Capabilities {
    /// The capabilities of a whole EHLO reply (its raw bytes, CRLF lines).
    /// A 250 reply smtp-proto cannot read (a malformed extension) offers
    /// nothing: the session goes on as plain SMTP, the safe reading.
    pub fn from_ehlo(raw: &[u8]) -> Self {
        let Ok(ehlo) = EhloResponse::<String>::parse(&mut raw.iter()) else {
            return Self::default();
        };
        let has = |ext: u32| ehlo.capabilities & ext != 0;
        Capabilities {
            pipelining: has(smtp_proto::EXT_PIPELINING),
            starttls: has(smtp_proto::EXT_START_TLS),
            eight_bit_mime: has(smtp_proto::EXT_8BIT_MIME),
            smtputf8: has(smtp_proto::EXT_SMTP_UTF8),
            size: has(smtp_proto::EXT_SIZE).then_some(ehlo.size as u64),
        }
    }
}

/// A reply as `"250 2.0.0 text"`.
pub fn reply_text(r: &Response<String>) -> String {
    let text = r.message.replace(['\r', '\n'], " ");
    if r.esc[0] != 0 {
        format!("{} {}.{}.{} {}", r.code, r.esc[0], r.esc[1], r.esc[2], text)
    } else {
        format!("{} {}", r.code, text)
    }
}

/// The next hop's bytes in, whole (possibly multi-line) replies out.
/// smtp-proto bounds a reply at 4 KiB, so a hostile server cannot make it
/// grow; the fuzzer (`fuzz/fuzz_targets/delivery_reply.rs`) drives exactly
/// this.
#[derive(Default)]
pub struct ReplyParser {
    rx: ResponseReceiver,
}

impl ReplyParser {
    /// Parses from the start of `buf`: the bytes used and the reply, or
    /// `None` when `buf` ends inside one (what was read of it is kept
    /// here: feed what follows next).
    pub fn feed(&mut self, buf: &[u8]) -> Result<(usize, Option<Response<String>>), ClientError> {
        let mut iter = buf.iter();
        let result = self.rx.parse(&mut iter);
        let used = buf.len() - iter.len();
        match result {
            Ok(reply) => {
                self.rx = ResponseReceiver::default();
                Ok((used, Some(reply)))
            }
            Err(ProtoError::NeedsMoreData { .. }) => Ok((used, None)),
            Err(e) => Err(ClientError::Protocol(format!("{e:?}"))),
        }
    }
}

/// Which deadline bounds the reply being awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Every reply but the one to the end of data (Postfix's
    /// `smtp_*_timeout`); writes are bounded by it too.
    Command,
    /// The reply to the end of data: the server may scan the message
    /// (Postfix's `smtp_data_done_timeout`).
    DataDone,
}

/// What the driver must do next.
#[derive(Debug)]
pub enum Next {
    /// Write these bytes (within the command timeout).
    Write(Vec<u8>),
    /// Read and [`ClientCore::feed`] the server's bytes. `reply` numbers
    /// the reply awaited: the deadline `timer` bounds the whole reply, so
    /// the driver arms it when `reply` changes, not at every read.
    Read { timer: Timer, reply: u64 },
    /// The server agreed to STARTTLS: do the handshake, then call
    /// [`ClientCore::tls_established`] (or give up on the connection).
    UpgradeTls,
    /// The step is over.
    Done(Finished),
}

/// How a step ended.
#[derive(Debug)]
pub enum Finished {
    /// The server's greeting, whatever its code.
    Greeting(Response<String>),
    /// EHLO (or HELO) accepted; [`ClientCore::caps`] holds what was offered.
    Hello,
    /// `true`: TLS is up and EHLO was said again. `false`: STARTTLS was not
    /// offered or was refused; the connection is still usable in plain text.
    StartTls(bool),
    /// The reply to each RCPT (in the order given) and, when at least one
    /// recipient was accepted, the reply to DATA or to the end of data.
    Sent(Vec<Response<String>>, Option<Response<String>>),
    /// QUIT was said (or the connection was already gone).
    Quit,
}

/// What the awaited reply answers.
enum Expect {
    Greeting,
    Ehlo {
        hostname: String,
        after_tls: bool,
    },
    Helo {
        after_tls: bool,
    },
    StartTls,
    Mail,
    Rcpt,
    Data,
    DataDone,
    /// The reply to an empty end of data, written because a server said
    /// 354 to a pipelined DATA although no recipient was accepted.
    DataAborted,
    /// Best effort: whatever happens, the step ends with its result.
    Rset,
    Quit,
}

/// The reply for each recipient and the reply to DATA or the end of data.
type Answers = (Vec<Response<String>>, Option<Response<String>>);

/// One transaction under way.
struct Tx {
    /// Each recipient as given: `Ok` to be sent, `Err` a local refusal.
    envelope: Vec<Result<(), Response<String>>>,
    pipelining: bool,
    /// DATA went out with MAIL and the RCPTs (RFC 2920 §3.1: DATA may end
    /// a pipelined group): its reply comes after theirs, whatever they
    /// say, and decides what is written next.
    data_sent: bool,
    /// RCPT lines still to write (one at a time without PIPELINING).
    rcpt_lines: VecDeque<String>,
    rcpts_expected: usize,
    mail_reply: Option<Response<String>>,
    rcpt_replies: Vec<Response<String>>,
    body: Vec<u8>,
    /// What the transaction answers once RSET is done.
    result: Option<Answers>,
}

impl Tx {
    /// The reply standing for each recipient sent (the MAIL reply for all
    /// when MAIL was refused) and whether any of them was accepted.
    fn recipient_replies(&mut self) -> (Vec<Response<String>>, bool) {
        match &self.mail_reply {
            Some(m) if m.code == 250 => {
                let rcpts = std::mem::take(&mut self.rcpt_replies);
                let any = rcpts.iter().any(|r| r.code / 100 == 2);
                (rcpts, any)
            }
            Some(m) => ((0..self.rcpts_expected).map(|_| m.clone()).collect(), false),
            None => (std::mem::take(&mut self.rcpt_replies), false),
        }
    }
}

/// The client side of one SMTP connection, without I/O.
pub struct ClientCore {
    inbuf: Vec<u8>,
    parser: ReplyParser,
    /// The raw bytes of the reply being read (for the EHLO parser).
    raw: Vec<u8>,
    /// Bytes fed while waiting for the current reply.
    received: usize,
    replies: u64,
    writes: VecDeque<Vec<u8>>,
    expect: VecDeque<Expect>,
    tx: Option<Tx>,
    upgrade: bool,
    done: Option<Finished>,
    pub caps: Capabilities,
}

impl Default for ClientCore {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientCore {
    /// A connection just opened: the first step awaits the greeting.
    pub fn new() -> Self {
        ClientCore {
            inbuf: Vec::with_capacity(4096),
            parser: ReplyParser::default(),
            raw: Vec::new(),
            received: 0,
            replies: 0,
            writes: VecDeque::new(),
            expect: VecDeque::from([Expect::Greeting]),
            tx: None,
            upgrade: false,
            done: None,
            caps: Capabilities::default(),
        }
    }

    /// Bytes held that no reply has used yet (bounded by [`MAX_REPLY`]
    /// plus one read).
    pub fn buffered(&self) -> usize {
        self.inbuf.len() + self.raw.len()
    }

    fn command(&mut self, line: &str, expect: Expect) {
        self.writes.push_back(format!("{line}\r\n").into_bytes());
        self.expect.push_back(expect);
    }

    /// EHLO (HELO if EHLO is refused).
    pub fn hello(&mut self, hostname: &str) {
        self.command(
            &format!("EHLO {hostname}"),
            Expect::Ehlo {
                hostname: hostname.to_string(),
                after_tls: false,
            },
        );
    }

    /// STARTTLS when the server offered it, then EHLO again after the
    /// handshake; ends with [`Finished::StartTls`].
    pub fn starttls(&mut self) {
        if !self.caps.starttls {
            self.done = Some(Finished::StartTls(false));
            return;
        }
        self.command("STARTTLS", Expect::StartTls);
    }

    /// The driver finished the TLS handshake: what was read before it is
    /// forgotten (RFC 3207) and EHLO is said again.
    pub fn tls_established(&mut self, hostname: &str) {
        self.upgrade = false;
        self.inbuf.clear();
        self.raw.clear();
        self.parser = ReplyParser::default();
        self.command(
            &format!("EHLO {hostname}"),
            Expect::Ehlo {
                hostname: hostname.to_string(),
                after_tls: true,
            },
        );
    }

    /// One transaction; ends with [`Finished::Sent`].
    ///
    /// Defence in depth: every address is parsed again (`crate::address`)
    /// and written in its canonical form. One that does not parse (a queue
    /// entry from before reception checked addresses, or a UTF-8 address
    /// the next hop cannot take without SMTPUTF8) is never written: it gets
    /// a local 553 reply, a permanent failure of that recipient; a bad
    /// sender fails them all.
    pub fn send(&mut self, from: &str, recipients: &[&str], body: &[u8]) {
        let envelope = Envelope::check(from, recipients, self.caps.smtputf8);
        let sender = match envelope.sender {
            Ok(sender) => sender,
            Err(refusal) => {
                let replies = recipients.iter().map(|_| refusal.clone()).collect();
                self.done = Some(Finished::Sent(replies, None));
                return;
            }
        };
        let sendable: Vec<&Mailbox> = envelope
            .recipients
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .collect();
        let checked = envelope
            .recipients
            .iter()
            .map(|r| r.as_ref().map(|_| ()).map_err(Clone::clone))
            .collect();
        if sendable.is_empty() {
            self.done = Some(Finished::Sent(merge(checked, Vec::new()), None));
            return;
        }
        let mut mail = format!("MAIL FROM:<{sender}>");
        if self.caps.size.is_some() {
            mail.push_str(&format!(" SIZE={}", body.len()));
        }
        if self.caps.eight_bit_mime && body.iter().any(|b| *b >= 0x80) {
            mail.push_str(" BODY=8BITMIME");
        }
        let utf8 =
            sender.mailbox().is_some_and(Mailbox::is_utf8) || sendable.iter().any(|r| r.is_utf8());
        if utf8 && self.caps.smtputf8 {
            mail.push_str(" SMTPUTF8");
        }
        let mut rcpt_lines: VecDeque<String> =
            sendable.iter().map(|r| format!("RCPT TO:<{r}>")).collect();
        let pipelining = self.caps.pipelining;
        let rcpts_expected = rcpt_lines.len();
        if pipelining {
            // One write, one round trip: MAIL, every RCPT and DATA. The
            // body waits for the 354 (RFC 2920 §3.1); a server that
            // refused every recipient refuses DATA too.
            let mut batch = format!("{mail}\r\n");
            for l in rcpt_lines.drain(..) {
                batch.push_str(&l);
                batch.push_str("\r\n");
            }
            batch.push_str("DATA\r\n");
            self.writes.push_back(batch.into_bytes());
            self.expect.push_back(Expect::Mail);
            self.expect
                .extend((0..rcpts_expected).map(|_| Expect::Rcpt));
            self.expect.push_back(Expect::Data);
        } else {
            self.command(&mail, Expect::Mail);
        }
        self.tx = Some(Tx {
            envelope: checked,
            pipelining,
            data_sent: pipelining,
            rcpt_lines,
            rcpts_expected,
            mail_reply: None,
            rcpt_replies: Vec::new(),
            body: dot_stuff(body),
            result: None,
        });
    }

    /// QUIT; ends with [`Finished::Quit`] whatever the server does.
    pub fn quit(&mut self) {
        self.command("QUIT", Expect::Quit);
    }

    /// The server's bytes, as read. A reply longer than [`MAX_REPLY`] is a
    /// protocol error.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.received += bytes.len();
        if self.received > MAX_REPLY {
            return self.fail(ClientError::Protocol(format!(
                "reply longer than {MAX_REPLY} bytes"
            )));
        }
        self.inbuf.extend_from_slice(bytes);
        Ok(())
    }

    /// The driver could not write, read, or read in time. A best-effort
    /// command (RSET, QUIT) swallows it and ends its step; otherwise the
    /// connection is unusable and the error is the step's.
    pub fn fail(&mut self, error: ClientError) -> Result<(), ClientError> {
        self.writes.clear();
        self.inbuf.clear();
        self.raw.clear();
        self.parser = ReplyParser::default();
        match self.expect.pop_front() {
            Some(Expect::Rset) => {
                self.expect.clear();
                let (rcpts, data) = self
                    .tx
                    .take()
                    .and_then(|mut tx| tx.result.take())
                    .unwrap_or_default();
                self.done = Some(Finished::Sent(rcpts, data));
                Ok(())
            }
            Some(Expect::Quit) => {
                self.expect.clear();
                self.done = Some(Finished::Quit);
                Ok(())
            }
            _ => {
                self.expect.clear();
                self.tx = None;
                Err(error)
            }
        }
    }

    /// What the driver must do next.
    pub fn poll(&mut self) -> Result<Next, ClientError> {
        loop {
            if let Some(done) = self.done.take() {
                return Ok(Next::Done(done));
            }
            if self.upgrade {
                return Ok(Next::UpgradeTls);
            }
            if let Some(bytes) = self.writes.pop_front() {
                return Ok(Next::Write(bytes));
            }
            let Some(expect) = self.expect.front() else {
                return Err(ClientError::Protocol("no step under way".into()));
            };
            let timer = match expect {
                Expect::DataDone => Timer::DataDone,
                _ => Timer::Command,
            };
            let reply = match self.parser.feed(&self.inbuf) {
                Ok((used, reply)) => {
                    self.raw.extend_from_slice(&self.inbuf[..used]);
                    self.inbuf.drain(..used);
                    reply
                }
                Err(e) => {
                    self.fail(e)?;
                    continue;
                }
            };
            let Some(reply) = reply else {
                return Ok(Next::Read {
                    timer,
                    reply: self.replies,
                });
            };
            self.replies += 1;
            self.received = 0;
            let raw = std::mem::take(&mut self.raw);
            let Some(expect) = self.expect.pop_front() else {
                continue;
            };
            self.on_reply(expect, reply, &raw)?;
        }
    }

    fn on_reply(
        &mut self,
        expect: Expect,
        r: Response<String>,
        raw: &[u8],
    ) -> Result<(), ClientError> {
        match expect {
            Expect::Greeting => self.done = Some(Finished::Greeting(r)),
            Expect::Ehlo {
                hostname,
                after_tls,
            } => {
                if r.code == 250 {
                    self.caps = Capabilities::from_ehlo(raw);
                    self.done = Some(hello_done(after_tls));
                } else {
                    self.command(&format!("HELO {hostname}"), Expect::Helo { after_tls });
                }
            }
            Expect::Helo { after_tls } => {
                if r.code != 250 {
                    return Err(ClientError::Reply(reply_text(&r)));
                }
                self.caps = Capabilities::default();
                self.done = Some(hello_done(after_tls));
            }
            Expect::StartTls => {
                if r.code == 220 {
                    self.upgrade = true;
                } else {
                    self.done = Some(Finished::StartTls(false));
                }
            }
            Expect::Mail => {
                let Some(tx) = self.tx.as_mut() else {
                    return Ok(());
                };
                let accepted = r.code == 250;
                tx.mail_reply = Some(r);
                if !tx.pipelining && accepted {
                    if let Some(line) = tx.rcpt_lines.pop_front() {
                        self.command(&line, Expect::Rcpt);
                    }
                } else if !tx.pipelining {
                    self.after_rcpts();
                }
            }
            Expect::Rcpt => {
                let Some(tx) = self.tx.as_mut() else {
                    return Ok(());
                };
                tx.rcpt_replies.push(r);
                if tx.rcpt_replies.len() < tx.rcpts_expected {
                    if !tx.pipelining
                        && let Some(line) = tx.rcpt_lines.pop_front()
                    {
                        self.command(&line, Expect::Rcpt);
                    }
                } else {
                    self.after_rcpts();
                }
            }
            Expect::Data if self.tx.as_ref().is_some_and(|tx| tx.data_sent) => {
                self.after_pipelined_data(r);
            }
            Expect::DataAborted => {
                if let Some(mut tx) = self.tx.take() {
                    let (rcpts, _) = tx.recipient_replies();
                    self.done = Some(Finished::Sent(merge(tx.envelope, rcpts), None));
                }
            }
            Expect::Data => {
                let Some(tx) = self.tx.as_mut() else {
                    return Ok(());
                };
                if r.code != 354 {
                    let rcpts = std::mem::take(&mut tx.rcpt_replies);
                    self.rset(rcpts, Some(r));
                } else {
                    let body = std::mem::take(&mut tx.body);
                    self.writes.push_back(body);
                    self.expect.push_back(Expect::DataDone);
                }
            }
            Expect::DataDone => {
                if let Some(mut tx) = self.tx.take() {
                    let rcpts = std::mem::take(&mut tx.rcpt_replies);
                    self.done = Some(Finished::Sent(merge(tx.envelope, rcpts), Some(r)));
                }
            }
            Expect::Rset => {
                let (rcpts, data) = self
                    .tx
                    .take()
                    .and_then(|mut tx| tx.result.take())
                    .unwrap_or_default();
                self.done = Some(Finished::Sent(rcpts, data));
            }
            Expect::Quit => self.done = Some(Finished::Quit),
        }
        Ok(())
    }

    /// The reply to a pipelined DATA, every RCPT answered: the body when
    /// the server is ready and someone is to receive it, else the
    /// transaction ends (with an empty end of data after a 354, as Postfix
    /// does, so the server is back at the command phase).
    fn after_pipelined_data(&mut self, r: Response<String>) {
        let Some(tx) = self.tx.as_mut() else { return };
        let (rcpts, any_accepted) = tx.recipient_replies();
        match (r.code == 354, any_accepted) {
            (true, true) => {
                tx.rcpt_replies = rcpts;
                let body = std::mem::take(&mut tx.body);
                self.writes.push_back(body);
                self.expect.push_back(Expect::DataDone);
            }
            (true, false) => {
                tx.rcpt_replies = rcpts;
                self.writes.push_back(b".\r\n".to_vec());
                self.expect.push_back(Expect::DataAborted);
            }
            // DATA refused with recipients accepted: its reply is theirs.
            (false, true) => self.rset(rcpts, Some(r)),
            (false, false) => self.rset(rcpts, None),
        }
    }

    /// Every RCPT answered (or MAIL refused without PIPELINING): DATA, or
    /// RSET when nothing can be sent.
    fn after_rcpts(&mut self) {
        let Some(tx) = self.tx.as_mut() else { return };
        if tx.data_sent {
            // DATA is out already: its reply decides.
            return;
        }
        let mail = tx.mail_reply.clone();
        match mail {
            Some(m) if m.code == 250 => {
                if tx.rcpt_replies.iter().any(|r| r.code / 100 == 2) {
                    self.command("DATA", Expect::Data);
                } else {
                    let rcpts = std::mem::take(&mut tx.rcpt_replies);
                    self.rset(rcpts, None);
                }
            }
            Some(m) => {
                let rcpts = (0..tx.rcpts_expected).map(|_| m.clone()).collect();
                self.rset(rcpts, None);
            }
            None => {}
        }
    }

    /// Ends the transaction with RSET; `rcpts` answer the recipients that
    /// were sent.
    fn rset(&mut self, rcpts: Vec<Response<String>>, data: Option<Response<String>>) {
        if let Some(tx) = self.tx.as_mut() {
            let envelope = std::mem::take(&mut tx.envelope);
            tx.result = Some((merge(envelope, rcpts), data));
        }
        self.command("RSET", Expect::Rset);
    }
}

fn hello_done(after_tls: bool) -> Finished {
    if after_tls {
        Finished::StartTls(true)
    } else {
        Finished::Hello
    }
}

/// The reply for each recipient as given: the server's for those sent (in
/// order), the local refusal for the others.
fn merge(
    envelope: Vec<Result<(), Response<String>>>,
    sent: Vec<Response<String>>,
) -> Vec<Response<String>> {
    let mut sent = sent.into_iter();
    envelope
        .into_iter()
        .map(|r| match r {
            Ok(()) => sent.next().unwrap_or_else(|| {
                Response::new(451, 4, 4, 0, "No reply to RCPT recorded".to_string())
            }),
            Err(refusal) => refusal,
        })
        .collect()
}

/// The addresses of one transaction, each parsed again before anything is
/// written; a refused one carries the reply that stands for its RCPT.
struct Envelope {
    sender: Result<ReversePath, Response<String>>,
    recipients: Vec<Result<Mailbox, Response<String>>>,
}

impl Envelope {
    fn check(from: &str, recipients: &[&str], smtputf8: bool) -> Self {
        let refusal = |e: AddressError, what: &str, esc: u8| {
            if e.needs_smtputf8() {
                Response::new(
                    553,
                    5,
                    6,
                    7,
                    format!(
                        "{what} address needs SMTPUTF8, which the next hop does not offer; not sent"
                    ),
                )
            } else {
                Response::new(
                    553,
                    5,
                    1,
                    esc,
                    format!("Invalid {what} address, not sent: {e}"),
                )
            }
        };
        Envelope {
            sender: ReversePath::parse_stored(from, smtputf8).map_err(|e| refusal(e, "sender", 7)),
            recipients: recipients
                .iter()
                .map(|r| Mailbox::parse(r, smtputf8).map_err(|e| refusal(e, "recipient", 3)))
                .collect(),
        }
    }
}

/// The body on the wire: canonical lines (every bare CR and bare LF made a
/// CRLF, so the next hop cannot find an end of data or a line that we did
/// not), leading dots doubled, CRLF-terminated, then `.`.
///
/// Reception already stores canonical text; this holds the rule for bodies
/// from anywhere else too (a filter's rewrite, a DSN, an old queue).
pub fn dot_stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 64 + 5);
    let mut line_start = true;
    let mut rest = body;
    // A line at a time: the text up to its CR or LF is copied whole.
    while let Some(&first) = rest.first() {
        if first == b'.' {
            out.push(b'.');
        }
        match memchr::memchr2(b'\r', b'\n', rest) {
            Some(at) => {
                out.extend_from_slice(&rest[..at]);
                // CR LF, a bare CR or a bare LF: one line ending each.
                out.extend_from_slice(b"\r\n");
                let crlf = rest[at] == b'\r' && rest.get(at + 1) == Some(&b'\n');
                rest = &rest[at + if crlf { 2 } else { 1 }..];
                line_start = true;
            }
            None => {
                out.extend_from_slice(rest);
                rest = &[];
                line_start = false;
            }
        }
    }
    if !line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
#[path = "client_core_tests.rs"]
mod tests;

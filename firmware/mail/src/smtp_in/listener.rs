//! The listener driver: accepts connections, classifies the client (reverse
//! DNS, HAT), applies the connection limits, then runs the session state
//! machine over the socket, with STARTTLS and the session timers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::server::TlsStream;

use super::hat;
use super::limits::{ConnectionSlot, Full};
use super::reply;
use super::session::{Action, Connection, NotQueued, Session};
use super::{Closing, ListenerRuntime, ReceptionContext};
use crate::config::Behavior;
use crate::dns::ReverseDns;
use crate::ids::Icid;
use crate::logging::MailEvent;
use crate::logging::WriteMailLog as _;
use crate::logging::event::YesNo;

/// Bytes read from the socket per call; the session consumes them all, so
/// this also bounds what is buffered.
const READ_CHUNK: usize = 16 * 1024;
/// What an idle session keeps of its reply buffer (an EHLO answer fits).
const IDLE_REPLY_BUFFER: usize = 512;
/// Time a last reply (a timeout, a refusal) may take to write.
const LAST_WRITE: Duration = Duration::from_secs(5);

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Between giving the plain socket to the TLS handshake and getting it back.
    Detached,
}

impl Stream {
    /// Appends what the peer sent to `buf`, reserving [`READ_CHUNK`] for it.
    /// A plain connection waits for readiness *before* reserving, so an
    /// idle session (most of a thousand open connections) holds no read
    /// buffer at all; a TLS stream cannot tell readiness before rustls has
    /// decrypted, so it reserves first (rustls' own buffers dwarf it).
    /// Cancel-safe, as the read loop's `select!` needs: nothing is consumed
    /// unless it is returned.
    async fn read_into(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => loop {
                s.readable().await?;
                buf.reserve(READ_CHUNK);
                match s.try_read_buf(buf) {
                    // The readiness was stale (what it announced was read
                    // before): wait again without the room, or each
                    // session would wait holding 16 KiB.
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        give_back_read_buffer(buf);
                        continue;
                    }
                    read => return read,
                }
            },
            Stream::Tls(s) => {
                buf.reserve(READ_CHUNK);
                s.read_buf(buf).await
            }
            Stream::Detached => Ok(0),
        }
    }

    /// Writes all of `data` by `deadline`: a client that stops reading
    /// cannot hold the session (and its memory) past its time limits.
    async fn write_by(&mut self, data: &[u8], deadline: Instant) -> std::io::Result<()> {
        match tokio::time::timeout_at(deadline, self.write_all(data)).await {
            Ok(r) => r,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }

    async fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(data).await,
            Stream::Tls(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
            Stream::Detached => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }
}

/// Accepts connections on `listener` until the task is aborted.
///
/// The connection limits (all listeners, this listener, the client's
/// address) are taken here, before any DNS lookup or TLS work: a refused
/// client costs one short write, and a flood from one address cannot make
/// the gateway wait on the resolver for it.
pub async fn accept_loop(
    socket: TcpListener,
    rt: Arc<ListenerRuntime>,
    ctx: Arc<ReceptionContext>,
) {
    loop {
        match socket.accept().await {
            Ok((tcp, peer)) if ctx.closing(&rt.name).is_some() => {
                let why = ctx
                    .closing(&rt.name)
                    .map_or(Closing::Shutdown, |(_, why)| why);
                refuse(tcp, peer, &rt, why.reply(&ctx.config().hostname));
            }
            Ok((tcp, peer)) => match admit(&ctx, &rt, peer) {
                Ok(slots) => {
                    let rt = rt.clone();
                    let ctx = ctx.clone();
                    tokio::spawn(async move { connection(tcp, peer, rt, ctx, slots).await });
                }
                Err(text) => refuse(tcp, peer, &rt, text),
            },
            Err(e) => {
                // Usually EMFILE: back off instead of spinning.
                tracing::warn!("listener {}: accept failed: {e}", rt.name);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A refused connection has this long to take its one-line reply.
const REFUSAL_WRITE: Duration = Duration::from_secs(10);

/// The slots a connection holds until it closes: one of all listeners'
/// together, one of its listener's.
struct Slots {
    _all: ConnectionSlot,
    listener: ConnectionSlot,
}

/// Takes the connection slots for a new client, or says why not (the
/// 421 reply).
fn admit(ctx: &ReceptionContext, rt: &ListenerRuntime, peer: SocketAddr) -> Result<Slots, String> {
    let config = ctx.config();
    let limits = &config.connections;
    let all = ctx
        .connections
        .acquire(
            peer.ip(),
            limits.max_connections_total,
            limits.max_connections_per_ip,
        )
        .map_err(|full| match full {
            Full::Total => reply::listener_busy(),
            Full::Address => reply::too_many_connections_from_ip(),
        })?;
    let listener_max = config
        .listener(&rt.name)
        .map(|l| l.max_concurrency)
        .unwrap_or(0);
    let listener = rt
        .connections
        .acquire(peer.ip(), listener_max, u32::MAX)
        .map_err(|_| reply::listener_busy())?;
    Ok(Slots {
        _all: all,
        listener,
    })
}

/// Answers `text` (a 421) and closes, without holding up the accept loop.
fn refuse(mut tcp: TcpStream, peer: SocketAddr, rt: &ListenerRuntime, text: String) {
    crate::metrics::count_refusal(&rt.name, crate::metrics::REFUSED_LIMIT);
    MailEvent::ConnectionRefused {
        address: peer.ip(),
        listener: rt.name.to_string(),
        reason: text.get(4..).unwrap_or(&text).to_string(),
    }
    .log();
    tokio::spawn(async move {
        let _ = tokio::time::timeout(REFUSAL_WRITE, async {
            let _ = tcp.write_all(format!("{text}\r\n").as_bytes()).await;
            let _ = tcp.shutdown().await;
        })
        .await;
    });
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    rt: Arc<ListenerRuntime>,
    ctx: Arc<ReceptionContext>,
    slots: Slots,
) {
    let _ = tcp.set_nodelay(true);
    let icid = match ctx.services.ids.icid() {
        Ok(i) => i,
        Err(e) => {
            tracing::error!("cannot allocate an ICID: {e}");
            return;
        }
    };
    let config = ctx.config();
    let Some(listener) = config.listener(&rt.name).cloned() else {
        return;
    };
    let local_ip = tcp.local_addr().map(|a| a.ip()).ok();
    let client_ip = peer.ip();
    // Each query is bounded by the resolver's timeout, but the PTR and the
    // confirming A/AAAA query run one after the other (and per server):
    // the whole check gets two timeouts, then the client is "unknown".
    let dns_budget = Duration::from_secs(2 * u64::from(config.dns.timeout_secs.max(1)));
    // The rarely awaited, large futures of a connection are boxed: an
    // async fn's state is as large as its largest await, and every open
    // connection holds that state (1,000 idle connections: 10 KiB each
    // unboxed, about 4 KiB boxed).
    let lookup = Box::pin(async { ctx.dns().reverse(client_ip).await });
    let rdns = tokio::time::timeout(dns_budget, lookup)
        .await
        .unwrap_or(ReverseDns {
            name: None,
            verified: false,
        });
    MailEvent::NewSmtpIcid {
        icid,
        interface: listener.interface.to_string(),
        interface_address: local_ip.map(|i| i.to_string()).unwrap_or_default(),
        address: client_ip,
        host: rdns.name.as_deref().unwrap_or("unknown").to_string(),
        verified: YesNo(rdns.verified),
    }
    .log();
    let verified_name = rdns.name.as_deref().filter(|_| rdns.verified);
    let Some(hat) = hat::classify(&listener, client_ip, verified_name) else {
        crate::metrics::count_refusal(&rt.name, crate::metrics::REFUSED_NO_SENDER_GROUP);
        MailEvent::NoSenderGroup { icid }.log();
        MailEvent::IcidClose { icid }.log();
        return;
    };
    crate::metrics::count_connection(&rt.name, &hat.group, hat.policy.behavior.word());
    match hat.policy.behavior {
        Behavior::TcpRefuse => {
            crate::metrics::count_refusal(&rt.name, crate::metrics::REFUSED_TCPREFUSE);
        }
        Behavior::Reject => crate::metrics::count_refusal(&rt.name, crate::metrics::REFUSED_REJECT),
        _ => {}
    }
    MailEvent::SenderGroupMatch {
        icid,
        behavior: hat.policy.behavior.word().to_string(),
        group: hat.group.to_string(),
        entry: hat.entry.to_string(),
    }
    .log();
    if hat.policy.behavior == Behavior::TcpRefuse {
        MailEvent::IcidClose { icid }.log();
        return;
    }
    let mut stream = Stream::Plain(tcp);
    // The policy's own per-IP limit needs the HAT, so it is checked here;
    // the slot taken at accept already counts this connection.
    if hat.policy.behavior != Behavior::Reject
        && slots.listener.same_address() > hat.policy.max_concurrency_per_ip
    {
        let text = reply::too_many_connections_from_ip();
        crate::metrics::count_refusal(&rt.name, crate::metrics::REFUSED_PER_IP);
        MailEvent::IcidRefused {
            icid,
            reason: text[4..].to_string(),
        }
        .log();
        let _ = tokio::time::timeout(
            REFUSAL_WRITE,
            stream.write_all(format!("{text}\r\n").as_bytes()),
        )
        .await;
        MailEvent::IcidClose { icid }.log();
        return;
    }
    let limits = listener.session;
    let tls = ctx.acceptor(&listener.certificate);
    let bounce_verification = bounce_check(&config, &listener, &hat.policy.name);
    // Call-ahead validates what an ACCEPT policy would take; RELAY
    // clients send mail out, not in.
    let call_ahead = hat.policy.behavior == Behavior::Accept
        && config
            .call_ahead
            .enabled_for(&listener.name, &hat.policy.name);
    let conn = Connection {
        icid,
        hostname: config.hostname.clone(),
        interface: listener.interface.clone(),
        listener: Arc::new(listener),
        client_ip,
        rdns: rdns.name.clone(),
        rdns_verified: rdns.verified,
        hat,
        tls_available: tls.is_some(),
        headers: config.reception.headers,
        bounce_verification,
        call_ahead,
    };
    let mut session = Session::new(conn, ctx.services.for_session());
    let ending = run_session(&mut session, &mut stream, tls, limits, &ctx, &rt.name, icid).await;
    session.closed();
    log_events(&mut session);
    // The connection slots are released here, after the session ended.
    drop(slots);
    match ending {
        Ending::Closed => MailEvent::IcidClose { icid }.log(),
        Ending::Lost => MailEvent::IcidLost { icid }.log(),
    }
}

/// Bounce verification for a session on `listener` under the mail flow
/// policy `policy`: public listeners only, and only once `bvconfig` has a
/// key and some destination is tagged.
fn bounce_check(
    config: &crate::config::Config,
    listener: &crate::config::ListenerConfig,
    policy: &str,
) -> Option<crate::config::bounce_verification::BounceCheck> {
    let bv = &config.bounce_verification;
    if listener.kind != crate::config::ListenerKind::Public || !bv.checks_bounces() {
        return None;
    }
    Some(crate::config::bounce_verification::BounceCheck {
        settings: std::sync::Arc::new(bv.clone()),
        untagged_valid: bv.untagged_valid(&listener.name, policy),
    })
}

/// The spool file of the message being received, as the driver sees it.
#[derive(Default)]
struct SpoolFile {
    /// The message whose data the file holds, once it has one.
    mid: Option<crate::ids::Mid>,
    /// A write failed: the message cannot be accepted (reported at its end).
    failed: Option<crate::queue::QueueError>,
}

impl SpoolFile {
    /// Removes the file of a message that will not be accepted.
    async fn discard(&mut self, ctx: &ReceptionContext) {
        if let Some(mid) = self.mid.take() {
            ctx.queue.discard_spooled(mid).await;
        }
        self.failed = None;
    }
}

async fn run_session(
    session: &mut Session,
    stream: &mut Stream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: crate::config::SessionLimits,
    ctx: &ReceptionContext,
    listener: &str,
    icid: Icid,
) -> Ending {
    let start = Instant::now();
    let total_deadline = start + Duration::from_secs(limits.total_timeout_secs.into());
    let unsuccessful_deadline =
        start + Duration::from_secs(limits.unsuccessful_timeout_secs.into());
    let idle = Duration::from_secs(limits.idle_timeout_secs.into());
    let write_deadline = || Instant::now() + LAST_WRITE;
    // The read buffer is the session's first share of the reception budget.
    let Some(_memory) = ctx.services.budget.try_reserve(READ_CHUNK as u64) else {
        crate::metrics::count_refusal(listener, crate::metrics::REFUSED_MEMORY);
        MailEvent::IcidRefused {
            icid,
            reason: "reception memory budget spent".to_string(),
        }
        .log();
        let text = format!("{}\r\n", reply::BUDGET_SPENT.replacen("451", "421", 1));
        let _ = stream.write_by(text.as_bytes(), write_deadline()).await;
        return Ending::Closed;
    };
    let mut spool = SpoolFile::default();
    let ending = run_session_io(
        session,
        stream,
        tls,
        &mut spool,
        ctx,
        Who { icid, listener },
        SessionClock {
            total_deadline,
            unsuccessful_deadline,
            idle,
        },
    )
    .await;
    // A message whose data was spooled but that was never enqueued (the
    // client went away, reset, or the session timed out).
    spool.discard(ctx).await;
    ending
}

/// How a session's connection ended, as `mail_logs` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// QUIT, or the gateway closed it (errors, timeout, shutdown): `ICID n close`.
    Closed,
    /// The client went away without QUIT: AsyncOS's `ICID n lost`.
    Lost,
}

struct SessionClock {
    total_deadline: Instant,
    unsuccessful_deadline: Instant,
    idle: Duration,
}

impl SessionClock {
    /// When a reply write must be done: the idle timeout, cut by the
    /// session's total time, but always a few seconds for a last reply.
    fn write_deadline(&self) -> Instant {
        let now = Instant::now();
        (now + self.idle)
            .min(self.total_deadline)
            .max(now + LAST_WRITE)
    }
}

/// Which session: its ICID, and its listener (a suspended listener
/// closes its sessions).
struct Who<'a> {
    icid: Icid,
    listener: &'a str,
}

async fn run_session_io(
    session: &mut Session,
    stream: &mut Stream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    spool: &mut SpoolFile,
    ctx: &ReceptionContext,
    who: Who<'_>,
    clock: SessionClock,
) -> Ending {
    let Who { icid, listener } = who;
    let idle = clock.idle;
    // Filled by `Stream::read_into`; empty between commands of an idle
    // session (see the end of the loop).
    let mut inbuf: Vec<u8> = Vec::new();
    let mut out = String::new();
    let mut pending = session.greeting();
    log_events(session);
    loop {
        // Carry out what the session asked for.
        let mut close = false;
        while !pending.is_empty() {
            let actions = std::mem::take(&mut pending);
            for action in actions {
                match action {
                    Action::Reply(text) => {
                        out.push_str(&text);
                        out.push_str("\r\n");
                    }
                    Action::Close => close = true,
                    Action::StartTls => {
                        if stream
                            .write_by(out.as_bytes(), clock.write_deadline())
                            .await
                            .is_err()
                        {
                            return Ending::Closed;
                        }
                        out.clear();
                        // Anything pipelined after STARTTLS is plaintext
                        // injection (CVE-2011-0411 class): drop it.
                        inbuf.clear();
                        let Some(acceptor) = tls.clone() else {
                            return Ending::Closed;
                        };
                        let Stream::Plain(tcp) = std::mem::replace(stream, Stream::Detached) else {
                            return Ending::Closed;
                        };
                        let handshake_deadline = clock.write_deadline();
                        // Boxed, as the other once-a-session awaits are.
                        let accept = Box::pin(acceptor.accept(tcp));
                        match tokio::time::timeout_at(handshake_deadline, accept).await {
                            Ok(Ok(tls_stream)) => {
                                let (protocol, cipher) =
                                    crate::tls_names::describe(tls_stream.get_ref().1);
                                *stream = Stream::Tls(Box::new(tls_stream));
                                session.tls_started(protocol, cipher);
                                log_events(session);
                            }
                            Ok(Err(e)) => {
                                session.tls_failed(&e.to_string());
                                log_events(session);
                                return Ending::Closed;
                            }
                            Err(_) => {
                                session.tls_failed("handshake timed out");
                                log_events(session);
                                return Ending::Closed;
                            }
                        }
                    }
                    Action::Spool(mid, bytes) => {
                        if spool.mid != Some(mid) {
                            // A new message: an abandoned one's file goes.
                            spool.discard(ctx).await;
                        }
                        let first = spool.mid.is_none();
                        spool.mid = Some(mid);
                        if spool.failed.is_none()
                            && let Err(e) = ctx.queue.spool(mid, bytes, first).await
                        {
                            spool.failed = Some(e);
                        }
                    }
                    Action::Discard => spool.discard(ctx).await,
                    Action::NeedMid => {
                        // Allocating flushes the store: the driver's work,
                        // never the session's.
                        let mid = ctx
                            .services
                            .ids
                            .mid()
                            .map_err(|e| tracing::error!("cannot allocate a MID: {e}"))
                            .ok();
                        pending.extend(session.mid_allocated(mid));
                        log_events(session);
                    }
                    Action::ValidateRecipient(rcpt) => {
                        let config = ctx.config();
                        // The profile may have gone since the connection
                        // was accepted: nothing to ask then.
                        let refusal = match config.call_ahead.profile_for_listener(listener) {
                            Some(profile) => {
                                let validate = async {
                                    let dns = ctx.dns();
                                    ctx.call_ahead.validate(&config, &dns, profile, &rcpt).await
                                };
                                Box::pin(validate).await
                            }
                            None => None,
                        };
                        pending.extend(session.recipient_validated(refusal));
                        log_events(session);
                    }
                    Action::Enqueue(message) => {
                        // The session now waits for the group commit (a
                        // disk sync away): its read buffer's room goes
                        // back meanwhile.
                        give_back_read_buffer(&mut inbuf);
                        let (mut record, mut tail) = *message;
                        let mid = record.mid;
                        if spool.mid.is_some_and(|m| m != mid) {
                            spool.discard(ctx).await;
                        }
                        let mut first = spool.mid.is_none();
                        if spool.failed.is_none() {
                            match Box::pin(authenticate(ctx, spool, &mut record, &mut tail, first))
                                .await
                            {
                                Ok(rewritten) => first |= rewritten,
                                Err(refusal) => {
                                    spool.discard(ctx).await;
                                    pending.extend(session.enqueued(Err(refusal)));
                                    log_events(session);
                                    continue;
                                }
                            }
                        }
                        let result = match spool.failed.take() {
                            Some(e) => {
                                spool.discard(ctx).await;
                                Err(e)
                            }
                            None => {
                                // enqueue_spooled owns the file from here
                                // (it removes it itself on a failure).
                                spool.mid = None;
                                Box::pin(ctx.queue.enqueue_spooled(record, tail, first)).await
                            }
                        };
                        let result = result.map(|()| mid).map_err(|e| not_queued(&e));
                        pending.extend(session.enqueued(result));
                        log_events(session);
                    }
                }
            }
        }
        if close {
            let _ = stream
                .write_by(out.as_bytes(), clock.write_deadline())
                .await;
            return Ending::Closed;
        }
        // Feed what is buffered before reading more (pipelining).
        if !inbuf.is_empty() {
            let (used, actions) = session.feed(&inbuf);
            log_events(session);
            inbuf.drain(..used);
            if !actions.is_empty() {
                pending = actions;
                continue;
            }
        }
        if !out.is_empty() {
            if stream
                .write_by(out.as_bytes(), clock.write_deadline())
                .await
                .is_err()
            {
                MailEvent::WriteFailed { icid }.log();
                return Ending::Closed;
            }
            out.clear();
        }
        let now = Instant::now();
        let mut deadline = (now + idle).min(clock.total_deadline);
        if session.messages() == 0 {
            deadline = deadline.min(clock.unsuccessful_deadline);
        }
        let closing = ctx.closing(listener);
        let grace_end = closing.map(|(end, _)| end);
        if let Some((end, why)) = closing {
            // Shutting down, or the listener suspended: only a transaction
            // in progress gets the grace period; an idle session (between
            // transactions, or before MAIL FROM) is told 421 at once.
            if !session.in_transaction() {
                MailEvent::IcidShutdown { icid }.log();
                let text = format!("{}\r\n", why.reply(&ctx.config().hostname));
                let _ = stream
                    .write_by(text.as_bytes(), clock.write_deadline())
                    .await;
                return Ending::Closed;
            }
            deadline = deadline.min(end);
        }
        give_back_read_buffer(&mut inbuf);
        if !session.in_transaction() {
            // Idle between commands or transactions: `out` is a reply's size.
            out.shrink_to(IDLE_REPLY_BUFFER);
        }
        let read = tokio::select! {
            r = tokio::time::timeout_at(deadline, stream.read_into(&mut inbuf)) => r,
            // Closing started while waiting: recompute the deadline
            // (reads are cancel-safe: nothing was consumed).
            () = ctx.closing_started(listener), if grace_end.is_none() => continue,
        };
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => return Ending::Lost,
            Ok(Ok(_)) => {}
            Err(_) if grace_end.is_some_and(|end| Instant::now() >= end) => {
                MailEvent::IcidShutdown { icid }.log();
                let why = closing.map_or(Closing::Shutdown, |(_, why)| why);
                let text = format!("{}\r\n", why.reply(&ctx.config().hostname));
                let _ = stream
                    .write_by(text.as_bytes(), clock.write_deadline())
                    .await;
                return Ending::Closed;
            }
            Err(_) => {
                MailEvent::IcidTimeout { icid }.log();
                let text = format!("{}\r\n", reply::timeout(&ctx.config().hostname));
                let _ = stream
                    .write_by(text.as_bytes(), clock.write_deadline())
                    .await;
                return Ending::Closed;
            }
        }
    }
}

/// Gives the read buffer's room back before the session waits (for the
/// client, or for the group commit): a thousand sessions must not hold
/// 16 KiB each while they wait. What is left in it was not consumed yet
/// (a pipelined QUIT after the end of data, part of a command line) and is
/// small; the next read reserves [`READ_CHUNK`] again once the socket is
/// readable.
fn give_back_read_buffer(inbuf: &mut Vec<u8>) {
    if inbuf.is_empty() {
        *inbuf = Vec::new();
    } else {
        inbuf.shrink_to_fit();
    }
}

/// Sender authentication (SPF, DKIM, DMARC) of a message at its end of
/// data, when its mail flow policy asks for it: reads what was spooled,
/// verifies, and makes `tail` the whole message with the
/// Authentication-Results header on top (`Ok(true)`: write it as the whole
/// file). A DMARC reject (or a spent memory budget) is the refusal.
async fn authenticate(
    ctx: &ReceptionContext,
    spool: &mut SpoolFile,
    record: &mut crate::queue::MessageRecord,
    tail: &mut Vec<u8>,
    first: bool,
) -> Result<bool, NotQueued> {
    let config = ctx.config();
    let r = &record.reception;
    let policy = config.sender_auth.for_policy(&r.listener, &r.policy);
    if !policy.any() {
        return Ok(false);
    }
    let refuse = |reply: String| NotQueued {
        reason: reply.clone(),
        storage_full: false,
        reply: Some(reply),
    };
    // The message is read whole (bounded by the flow policy's message
    // size limit) and counted against the reception memory budget.
    let Some(_memory) = ctx.services.budget.try_reserve(record.body_size) else {
        return Err(refuse(reply::BUDGET_SPENT.to_string()));
    };
    let mut data = match spool.mid {
        Some(mid) if !first => {
            let queue = ctx.queue.clone();
            tokio::task::spawn_blocking(move || queue.read_body(mid))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
                .map_err(|e| refuse(format!("451 4.3.0 cannot read the message: {e}")))?
        }
        _ => Vec::new(),
    };
    data.extend_from_slice(tail);
    // The gateway's resolver (committed `dnsconfig`), with its cache.
    let auth = ctx.dns().authenticator();
    let env = crate::sender_auth::Envelope {
        icid: r.icid,
        mid: record.mid,
        client_ip: r.client_ip,
        helo: &r.helo,
        mail_from: &record.mail_from,
        hostname: config.hostname.as_str(),
    };
    let verification =
        crate::sender_auth::verify(&auth, &env, &policy, &config.sender_auth, &data).await;
    for e in verification.events {
        e.log();
    }
    match verification.verdict {
        crate::sender_auth::Verdict::Reject(reply) => return Err(refuse(reply)),
        crate::sender_auth::Verdict::Quarantine(q) => {
            record.processing.hold = Some(breakwater_types::record::Hold {
                quarantine: q,
                filter: "DMARC".to_string(),
                since: chrono::Utc::now().timestamp(),
            });
        }
        crate::sender_auth::Verdict::Accept => {}
    }
    *tail = crate::sender_auth::prepend(&verification.header, &data);
    record.body_size = tail.len() as u64;
    // The file is written anew from `tail`, header first.
    spool.mid = None;
    Ok(true)
}

/// Writes what the session reported since the last call to `mail_logs`.
fn log_events(session: &mut Session) {
    for event in session.take_events() {
        crate::metrics::count_rejection(&event);
        crate::metrics::count_tls(&event);
        event.log();
    }
}

/// A queue failure as the session sees it: a full queue and a full flash
/// are both "storage full" (452 4.3.1 to the client).
fn not_queued(e: &crate::queue::QueueError) -> NotQueued {
    NotQueued {
        reason: e.to_string(),
        storage_full: e.is_storage_full(),
        reply: None,
    }
}

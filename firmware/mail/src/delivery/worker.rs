//! One delivery connection: resolve the destination, connect (by
//! preference, failing over, with the destination's TLS policy), then carry
//! queued jobs until the queue is empty, the per-connection message limit
//! or the recipient rate limit is reached. With the queue empty the
//! connection waits idle in the cache (`cache`) for the next job to its
//! next hop, a short while, before it closes.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;

use super::cache::{Idle, wait_idle};
use super::client::{ClientError, SmtpClient, reply_text};
use super::resolve::{self, Candidate, Resolved};
use super::{DeliveryJob, Outcome, Shared};
use crate::config::{Config, DestinationSettings, LimitScope, OutboundTls};
use crate::ids::{Dcid, Rid};
use crate::logging::MailEvent;
use crate::logging::WriteMailLog as _;
use crate::logging::event::{RidList, TdcTag};

/// An open, greeted connection.
struct Conn {
    client: SmtpClient,
    dcid: Dcid,
    /// The per-address slot this connection holds (host-scoped limits).
    slot: Option<IpAddr>,
    /// Made to the first next hop in preference order. Only such a
    /// connection waits in the cache: one to a backup (the preferred one
    /// failed) would keep the next messages from trying the preferred
    /// exchanger again, which may be back.
    first_choice: bool,
}

impl Conn {
    async fn close(self, shared: &Shared, polite: bool) {
        if polite {
            self.client.quit().await;
        }
        if let Some(ip) = self.slot {
            shared.release_ip(ip);
        }
        MailEvent::DcidClose { dcid: self.dcid }.log();
    }
}

pub(super) async fn run(shared: Arc<Shared>, destination: String) {
    let Some(mut job) = shared.next_job(&destination) else {
        return shared.leave(&destination);
    };
    loop {
        let mut config = shared.config.borrow().clone();
        if let Some(interface) = &job.source_interface {
            // alt-src-host(): this job leaves from another interface.
            let mut c = (*config).clone();
            c.delivery.interface = interface.clone();
            config = std::sync::Arc::new(c);
        }
        let settings = config.destination(&destination);
        let dns = shared.dns.lock().unwrap_or_else(|e| e.into_inner()).clone();
        // TDC copies wait in the.tdc.queue but go to the intake's domain.
        let lookup = job.lookup_domain.as_deref().unwrap_or(&destination);
        let resolved = resolve::candidates(
            &dns,
            lookup,
            job.route.as_deref(),
            settings.ip_preference,
            settings.dane != crate::config::Dane::None,
        )
        .await;
        let candidates = match screen_next_hops(resolved, &config, &destination, lookup) {
            Resolved::Candidates(c) => c,
            Resolved::Hard(text) => {
                MailEvent::HardBouncedDomain {
                    tdc: tag(&destination),
                    reason: text.clone(),
                    domain: lookup.to_string(),
                }
                .log();
                shared.host_update(&destination, Some(text.clone()));
                return fail_all(&shared, &destination, job, Said::Gateway, || {
                    Outcome::Bounced(text.clone())
                });
            }
            Resolved::DnsHard(e) => {
                // AsyncOS: `DNS Error <name> MX - NXDomain`, the domain's
                // hard bounce, then each recipient's `Bounced:` line.
                MailEvent::DnsError {
                    name: e.name.clone(),
                    qtype: e.qtype.to_string(),
                    error: e.error.to_string(),
                }
                .log();
                MailEvent::HardBouncedDomain {
                    tdc: tag(&destination),
                    reason: e.domain_reason(),
                    domain: lookup.to_string(),
                }
                .log();
                let text = e.reason();
                shared.host_update(&destination, Some(text.clone()));
                return fail_all(&shared, &destination, job, Said::Destination, || {
                    Outcome::Bounced(text.clone())
                });
            }
            Resolved::Soft(text) => {
                MailEvent::DelayedDomain {
                    tdc: tag(&destination),
                    domain: lookup.to_string(),
                    reason: text.clone(),
                }
                .log();
                shared.host_update(&destination, Some(text.clone()));
                return fail_all(&shared, &destination, job, Said::Gateway, || {
                    Outcome::Deferred(text.clone())
                });
            }
        };
        // Boxed, as `close` below: once-a-connection futures would
        // otherwise size every worker's state (hundreds of connections).
        let opening = Box::pin(connect(
            &shared,
            &config,
            &settings,
            &destination,
            &candidates,
        ));
        let mut conn = match opening.await {
            Ok(conn) => conn,
            Err(text) => {
                shared.host_update(&destination, Some(text.clone()));
                return fail_all(&shared, &destination, job, Said::Gateway, || {
                    Outcome::Deferred(text.clone())
                });
            }
        };
        shared.host_update(&destination, None);
        let max = settings.max_messages_per_connection.max(1);
        let mut sent = 0;
        let mut current = job;
        // The job came to a connection that waited idle in the cache: its
        // server may have closed it just as the job came.
        let mut reused = false;
        let polite = loop {
            if let Err(wait) = shared.take_rate(&destination, current.recipients.len() as u32) {
                MailEvent::RecipientLimit {
                    dcid: conn.dcid,
                    destination: destination.clone(),
                    secs: wait.as_secs(),
                }
                .log();
                Box::pin(conn.close(&shared, true)).await;
                shared.requeue_and_leave(current);
                let (shared, destination) = (shared.clone(), destination.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    shared.kick(&destination);
                });
                return;
            }
            if let Err(e) = deliver(&shared, &mut conn, &current).await {
                if reused && matches!(e, ClientError::Io(_)) {
                    // Lost with the connection, not refused by the next
                    // hop: a fresh connection carries it now, as if the
                    // cache had not been there (no delay, no retry count).
                    tracing::info!(
                        "DCID {}: the cached connection was closed by the server ({e}); MID {} goes on a new connection",
                        conn.dcid,
                        current.mid
                    );
                    shared.requeue_front(current);
                    break false;
                }
                let text = e.to_string();
                for rid in rids(&current) {
                    MailEvent::Delayed {
                        tdc: TdcTag(false),
                        dcid: conn.dcid,
                        mid: current.mid,
                        rid,
                        reason: text.clone(),
                    }
                    .log();
                }
                let results = current
                    .recipients
                    .iter()
                    .map(|(rid, _)| (*rid, Outcome::Deferred(text.clone())))
                    .collect();
                shared.report(&destination, current.mid, conn.dcid, results);
                break false;
            }
            sent += 1;
            reused = false;
            if sent >= max {
                break true;
            }
            if let Some(next) = shared.next_job_like(&destination, &current) {
                current = next;
                continue;
            }
            // Nothing more for this host: wait idle for its next job; or
            // close, then carry on with the destination's other jobs
            // (another host), if any.
            if !conn.first_choice {
                break true;
            }
            match wait_idle(&shared, &mut conn.client, &current).await {
                Idle::Job(next) => {
                    current = *next;
                    reused = true;
                }
                Idle::Close { polite } => break polite,
            }
        };
        Box::pin(conn.close(&shared, polite)).await;
        // Limit reached or connection broken: a fresh connection if there
        // is more to do.
        match shared.next_job(&destination) {
            Some(next) => job = next,
            None => return shared.leave(&destination),
        }
    }
}

/// Who gave the reason a job failed without a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Said {
    /// The destination's own answer (its DNS): the line reads AsyncOS's
    /// `Bounced by destination server with response: ...`.
    Destination,
    /// The gateway's verdict (no usable next hop, no connection).
    Gateway,
}

/// Fails `job` and everything waiting for the destination, then counts
/// this connection out.
fn fail_all(
    shared: &Arc<Shared>,
    destination: &str,
    job: DeliveryJob,
    said: Said,
    outcome: impl Fn() -> Outcome,
) {
    // Only the jobs for the host that failed: the destination's queue may
    // hold jobs for other hosts (TDC intakes, alt-mailhost).
    let like = job.clone();
    let mut failed = Some(job);
    while let Some(j) = failed
        .take()
        .or_else(|| shared.next_job_like(destination, &like))
    {
        // No connection was made: AsyncOS logs such outcomes with DCID 0.
        // The work queue logs what becomes of a TDC copy.
        let logged = destination != crate::tdc::DESTINATION;
        for rid in rids(&j).into_iter().filter(|_| logged) {
            match outcome() {
                Outcome::Bounced(reason) => MailEvent::Bounced {
                    tdc: TdcTag(false),
                    dcid: Dcid(0),
                    mid: j.mid,
                    rid,
                    reason: match said {
                        Said::Destination => bounced_by_destination(&reason),
                        Said::Gateway => reason,
                    },
                }
                .log(),
                Outcome::Deferred(reason) => MailEvent::Delayed {
                    tdc: TdcTag(false),
                    dcid: Dcid(0),
                    mid: j.mid,
                    rid,
                    reason,
                }
                .log(),
                Outcome::Delivered(_) => {}
            }
        }
        let results = j
            .recipients
            .iter()
            .map(|(rid, _)| (*rid, outcome()))
            .collect();
        shared.report(destination, j.mid, Dcid(0), results);
    }
    shared.leave(destination);
}

/// Drops the next hops DNS pointed at addresses delivery must not connect
/// to (loopback, the appliance itself...: see `resolve::check_next_hop`),
/// each with a log line; none left is a bounce.
fn screen_next_hops(
    resolved: Resolved,
    config: &Config,
    destination: &str,
    domain: &str,
) -> Resolved {
    let Resolved::Candidates(candidates) = resolved else {
        return resolved;
    };
    let policy = resolve::NextHopPolicy::from_config(config);
    let (usable, refused) = resolve::screen(candidates, &policy);
    for (c, why) in &refused {
        MailEvent::NextHopRefused {
            tdc: tag(destination),
            host: c.host.to_string(),
            address: c.addr.ip(),
            domain: domain.to_string(),
            why: why.describe().to_string(),
        }
        .log();
    }
    if usable.is_empty() {
        Resolved::Hard(resolve::all_refused(domain, &refused))
    } else {
        Resolved::Candidates(usable)
    }
}

/// The prefix of the TDC's log lines.
fn tag(destination: &str) -> TdcTag {
    TdcTag(destination == crate::tdc::DESTINATION)
}

fn rids(job: &DeliveryJob) -> Vec<Rid> {
    job.recipients.iter().map(|(r, _)| *r).collect()
}

/// Tries the candidates in order; returns the first usable connection, or
/// the last reason none was.
async fn connect(
    shared: &Shared,
    config: &Config,
    settings: &DestinationSettings,
    destination: &str,
    candidates: &[Candidate],
) -> Result<Conn, String> {
    let mut last = "no usable mail exchanger".to_string();
    if settings.dane != crate::config::Dane::None
        && candidates
            .iter()
            .any(|c| c.source == resolve::Source::Route)
    {
        MailEvent::DaneSkipped {
            destination: destination.to_string(),
        }
        .log();
    }
    for (i, cand) in candidates.iter().enumerate() {
        let slot = match settings.limit_scope {
            LimitScope::Host => {
                if !shared.take_ip(cand.addr.ip(), settings.max_concurrency.max(1)) {
                    last = format!("connection limit reached for {}", cand.addr.ip());
                    continue;
                }
                Some(cand.addr.ip())
            }
            LimitScope::Domain => None,
        };
        match attempt(shared, config, settings, destination, cand).await {
            Ok((client, dcid)) => {
                return Ok(Conn {
                    client,
                    dcid,
                    slot,
                    first_choice: i == 0,
                });
            }
            Err(e) => {
                if let Some(ip) = slot {
                    shared.release_ip(ip);
                }
                last = e;
            }
        }
    }
    Err(last)
}

/// TCP connection, greeting and EHLO.
async fn open(
    shared: &Shared,
    config: &Config,
    destination: &str,
    cand: &Candidate,
) -> Result<(SmtpClient, Dcid), String> {
    let local: Option<IpAddr> = config
        .interface(&config.delivery.interface)
        .and_then(|i| i.address);
    let connect_timeout = Duration::from_secs(config.delivery.connect_timeout_secs.into());
    let timeout = Duration::from_secs(config.delivery.command_timeout_secs.into());
    let dcid = shared
        .ids
        .dcid()
        .map_err(|e| format!("cannot allocate a DCID: {e}"))?;
    let (ip, port) = (cand.addr.ip(), cand.addr.port());
    let fail = |e: &dyn std::fmt::Display| {
        let event = |tdc| MailEvent::ConnectionError {
            tdc,
            dcid,
            domain: destination.to_string(),
            address: ip,
            port,
            details: e.to_string(),
        };
        event(tag(destination)).log();
        // The reason recorded for the recipients, without the TDC prefix.
        event(TdcTag(false)).to_string()
    };
    let (mut client, greeting) = SmtpClient::connect(local, cand.addr, connect_timeout, timeout)
        .await
        .map_err(|e| fail(&e))?;
    client.set_data_timeout(Duration::from_secs(
        config.connections.data_timeout_secs.into(),
    ));
    let iface = client
        .local_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    MailEvent::NewSmtpDcid {
        tdc: tag(destination),
        dcid,
        interface: iface,
        address: ip,
        port,
    }
    .log();
    if greeting.code != 220 {
        return Err(fail(&reply_text(&greeting)));
    }
    client.hello(&config.hostname).await.map_err(|e| fail(&e))?;
    Ok((client, dcid))
}

/// One connection with the destination's TLS policy applied.
async fn attempt(
    shared: &Shared,
    config: &Config,
    settings: &DestinationSettings,
    destination: &str,
    cand: &Candidate,
) -> Result<(SmtpClient, Dcid), String> {
    use super::dane::{self, DaneVerifier, Requirement};
    // DANE (RFC 7672) decides first, for mail exchangers only; where it
    // does not apply, Opportunistic falls through to the TLS setting below.
    if settings.dane != crate::config::Dane::None && cand.source != resolve::Source::Route {
        let mandatory = settings.dane == crate::config::Dane::Mandatory;
        let requirement = if cand.source == (resolve::Source::Mx { secure: true }) {
            let dns = shared.dns.lock().unwrap_or_else(|e| e.into_inner()).clone();
            match dane::lookup(&dns, &cand.host, cand.addr.port()).await {
                Ok(r) => r,
                Err(why) => {
                    // Bogus or unanswered: not this host, not now (§2.2).
                    MailEvent::DaneFailedHost {
                        host: cand.host.to_string(),
                        why: why.to_string(),
                    }
                    .log();
                    return Err(format!("DANE: {why}"));
                }
            }
        } else {
            Requirement::NotApplicable(format!(
                "the MX or address records of {} are not DNSSEC-secure",
                cand.host
            ))
        };
        let verifier = match requirement {
            Requirement::NotApplicable(why) if mandatory => {
                MailEvent::DaneFailedHost {
                    host: cand.host.to_string(),
                    why: why.to_string(),
                }
                .log();
                return Err(format!("DANE mandatory for {destination}: {why}"));
            }
            Requirement::NotApplicable(why) => {
                MailEvent::DaneNotApplicable {
                    host: cand.host.to_string(),
                    why,
                }
                .log();
                None
            }
            Requirement::EncryptOnly if mandatory => {
                let why = format!("no usable TLSA record for {}", cand.host);
                MailEvent::DaneFailedHost {
                    host: cand.host.to_string(),
                    why: why.to_string(),
                }
                .log();
                return Err(format!("DANE mandatory for {destination}: {why}"));
            }
            // All records unusable: encrypt without authentication (§2.2).
            Requirement::EncryptOnly => Some(None),
            Requirement::Authenticate(records) => Some(Some(Arc::new(DaneVerifier::new(
                records,
                &cand.host,
                destination,
            )))),
        };
        if let Some(verifier) = verifier {
            let client_cert = settings.client_certificate.as_deref();
            let connector = match &verifier {
                Some(v) => dane::connector(config, v.clone(), client_cert)?,
                None => shared
                    .tls
                    .get(config, false, client_cert)
                    .map_err(|e| e.to_string())?,
            };
            let (mut client, dcid) = open(shared, config, destination, cand).await?;
            let name = server_name(&cand.host, cand.addr.ip());
            return match client.starttls(&config.hostname, &connector, name).await {
                Ok(true) => {
                    match verifier {
                        Some(_) => MailEvent::DaneSuccess {
                            dcid,
                            host: cand.host.to_string(),
                        }
                        .log(),
                        None => MailEvent::DaneUnusable {
                            dcid,
                            host: cand.host.to_string(),
                        }
                        .log(),
                    }
                    log_tls_success(dcid, &client);
                    Ok((client, dcid))
                }
                Ok(false) => {
                    let why = format!("{} does not offer STARTTLS", cand.host);
                    MailEvent::DaneFailed {
                        dcid,
                        why: why.to_string(),
                    }
                    .log();
                    client.quit().await;
                    MailEvent::DcidClose { dcid }.log();
                    Err(format!("DANE: {why}"))
                }
                Err(e) => {
                    let why = verifier
                        .and_then(|v| v.failure())
                        .unwrap_or_else(|| e.to_string());
                    MailEvent::DaneFailed {
                        dcid,
                        why: why.clone(),
                    }
                    .log();
                    MailEvent::DcidClose { dcid }.log();
                    Err(format!("DANE: {why}"))
                }
            };
        }
    }
    let mode = settings.tls;
    let (mut client, dcid) = open(shared, config, destination, cand).await?;
    if mode == OutboundTls::None {
        return Ok((client, dcid));
    }
    let client_cert = settings.client_certificate.as_deref();
    let connector = shared
        .tls
        .get(config, mode.verify(), client_cert)
        .map_err(|e| e.to_string())?;
    match client
        .starttls(
            &config.hostname,
            &connector,
            server_name(&cand.host, cand.addr.ip()),
        )
        .await
    {
        Ok(true) => {
            log_tls_success(dcid, &client);
            Ok((client, dcid))
        }
        Ok(false) if !mode.required() => Ok((client, dcid)),
        Ok(false) => {
            tls_required_failed(dcid, destination, "the server does not offer STARTTLS");
            client.quit().await;
            MailEvent::DcidClose { dcid }.log();
            Err(format!("TLS required but not offered by {}", cand.addr))
        }
        Err(e) => {
            let failed = MailEvent::DcidTlsFailed {
                dcid,
                reason: e.to_string(),
            };
            crate::metrics::count_tls(&failed);
            failed.log();
            MailEvent::DcidClose { dcid }.log();
            match mode {
                OutboundTls::Required | OutboundTls::RequiredVerify => {
                    tls_required_failed(dcid, destination, &e.to_string());
                    Err(e.to_string())
                }
                // Verification failed: TLS without verification, as AsyncOS's
                // Preferred (Verify) does; plain text if even that fails.
                OutboundTls::PreferredVerify => {
                    let (mut c, d) = open(shared, config, destination, cand).await?;
                    let plain = shared
                        .tls
                        .get(config, false, client_cert)
                        .map_err(|e| e.to_string())?;
                    match c
                        .starttls(
                            &config.hostname,
                            &plain,
                            server_name(&cand.host, cand.addr.ip()),
                        )
                        .await
                    {
                        Ok(true) => {
                            MailEvent::TlsUnverified { dcid: d }.log();
                            log_tls_success(d, &c);
                            Ok((c, d))
                        }
                        Ok(false) => Ok((c, d)),
                        Err(e) => {
                            let failed = MailEvent::DcidTlsFailedPlain {
                                dcid: d,
                                reason: e.to_string(),
                            };
                            crate::metrics::count_tls(&failed);
                            failed.log();
                            MailEvent::DcidClose { dcid: d }.log();
                            open(shared, config, destination, cand).await
                        }
                    }
                }
                _ => open(shared, config, destination, cand).await,
            }
        }
    }
}

fn log_tls_success(dcid: Dcid, client: &SmtpClient) {
    if let Some((p, c)) = &client.tls {
        let success = MailEvent::DcidTlsSuccess {
            dcid,
            protocol: p.to_string(),
            cipher: c.to_string(),
        };
        crate::metrics::count_tls(&success);
        success.log();
    }
}

/// An alert: mail for a TLS-required destination is held back.
fn tls_required_failed(dcid: Dcid, destination: &str, why: &str) {
    MailEvent::TlsRequiredFailed {
        dcid,
        destination: destination.to_string(),
        why: why.to_string(),
    }
    .log();
    tracing::warn!(
        "Alert: TLS negotiation failed for destination {destination}, which requires TLS: {why}"
    );
}

fn server_name(host: &str, ip: IpAddr) -> ServerName<'static> {
    ServerName::try_from(host.to_string()).unwrap_or_else(|_| ServerName::IpAddress(ip.into()))
}

async fn deliver(shared: &Shared, conn: &mut Conn, job: &DeliveryJob) -> Result<(), ClientError> {
    let dcid = conn.dcid;
    let body = match shared.queue.read_body(job.mid) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("MID {}: cannot read the spooled body: {e}", job.mid);
            let results = job
                .recipients
                .iter()
                .map(|(rid, _)| (*rid, Outcome::Deferred(format!("spool read error: {e}"))))
                .collect();
            shared.report(&job.destination, job.mid, dcid, results);
            return Ok(());
        }
    };
    // Signing comes last, after every rewrite (decision 0017).
    let body = if job.dkim_sign {
        let config = shared.config.borrow().clone();
        crate::dkim_sign::sign_for_delivery(&config.domain_keys, job.mid, body)
    } else {
        body
    };
    let all = rids(job);
    let tdc = job.destination == crate::tdc::DESTINATION;
    if tdc {
        MailEvent::TdcDeliveryStart { dcid, mid: job.mid }.log();
    } else {
        MailEvent::DeliveryStart {
            dcid,
            mid: job.mid,
            rids: RidList(all.clone()),
        }
        .log();
    }
    let addrs: Vec<&str> = job.recipients.iter().map(|(_, a)| a.as_str()).collect();
    // Each reply has its own deadline; this one bounds the transaction as
    // a whole (a server that answers every command just in time).
    let limit = shared.config.borrow().connections.transaction_timeout_secs;
    let (rcpt_replies, data_reply) = tokio::time::timeout(
        Duration::from_secs(limit.into()),
        conn.client.send(&job.mail_from, &addrs, body),
    )
    .await
    .map_err(|_| ClientError::TransactionTimeout(limit))??;
    let mut results = Vec::with_capacity(all.len());
    let mut accepted = Vec::new();
    for ((rid, _), r) in job.recipients.iter().zip(&rcpt_replies) {
        let text = reply_text(r);
        match r.code / 100 {
            2 => accepted.push(*rid),
            4 => results.push((*rid, Outcome::Deferred(text))),
            _ => results.push((*rid, Outcome::Bounced(text))),
        }
    }
    if let Some(d) = data_reply {
        let text = reply_text(&d);
        let outcome = match d.code / 100 {
            2 => Outcome::Delivered(text.clone()),
            3 | 4 => Outcome::Deferred(text.clone()),
            _ => Outcome::Bounced(text.clone()),
        };
        if tdc {
            if matches!(outcome, Outcome::Delivered(_)) {
                MailEvent::TdcDelivered { mid: job.mid }.log();
            }
        } else {
            if matches!(outcome, Outcome::Delivered(_)) {
                MailEvent::MessageDone {
                    dcid,
                    mid: job.mid,
                    rids: RidList(accepted.clone()),
                }
                .log();
            }
            MailEvent::Response {
                mid: job.mid,
                rids: RidList(accepted.clone()),
                text: text.clone(),
            }
            .log();
        }
        results.extend(accepted.iter().map(|rid| (*rid, outcome.clone())));
    }
    for (rid, outcome) in results.iter().filter(|_| !tdc) {
        match outcome {
            Outcome::Deferred(t) => MailEvent::Delayed {
                tdc: TdcTag(false),
                dcid,
                mid: job.mid,
                rid: *rid,
                reason: t.clone(),
            }
            .log(),
            Outcome::Bounced(t) => MailEvent::Bounced {
                tdc: TdcTag(false),
                dcid,
                mid: job.mid,
                rid: *rid,
                reason: t.clone(),
            }
            .log(),
            Outcome::Delivered(_) => {}
        }
    }
    shared.report(&job.destination, job.mid, dcid, results);
    Ok(())
}

/// The text of a `Bounced:` line whose reason is the destination's answer
/// (AsyncOS, and seed 004's Threat Defense example).
pub(crate) fn bounced_by_destination(reason: &str) -> String {
    format!("Bounced by destination server with response: {reason}")
}

//! Operator commands that look at or act on the live queue: `tophosts`,
//! `status detail`, `showmessage`, `deletemessage`, `delivernow`,
//! `bouncerecipients`, `redirectrecipients`, `hoststatus`,
//! `resetcounters`, `workqueue`, `reportdata`, `status plot`. They run inside the work queue's task (see
//! [`super::WorkQueueHandle`]); the command catalog says which commands
//! come here (`Answerer::WorkQueue`, and `status detail`).
//!
//! The work queue holds a bounded window of the queue (`super::window`);
//! a large queue has messages waiting on disk outside it. By MID,
//! `showmessage`, `deletemessage` and `delivernow` reach any queued
//! message, in the window or on disk. `delivernow` and
//! `redirectrecipients` for all, a domain or an address apply to the
//! window now and to the messages on disk as they are paged in.
//! `bouncerecipients`, `showrecipients`, `tophosts` and `workqueue`
//! cover the window and say how many messages wait outside it.

use std::collections::HashMap;

use breakwater_types::clock;

use super::{Event, WorkQueue};
use crate::config::RouteHost;
use crate::delivery::routes;
use crate::ids::{Dcid, Mid};
use crate::logging::MailEvent;
use crate::logging::WriteMailLog as _;
use crate::logging::event::TdcTag;
use crate::queue::{MessageRecord, RecipientStatus};

/// Runs one operator command; `None` when `args` is not one of them.
pub fn run(wq: &mut WorkQueue, args: &[String]) -> Option<Result<String, String>> {
    let name = args.first()?.to_ascii_lowercase();
    let rest = &args[1..];
    Some(match name.as_str() {
        "tophosts" => Ok(tophosts(wq, rest.first().map(String::as_str))),
        "status"
            if rest
                .first()
                .is_some_and(|a| a.eq_ignore_ascii_case("detail")) =>
        {
            Ok(status_detail(wq))
        }
        "status" if rest.first().is_some_and(|a| a.eq_ignore_ascii_case("plot")) => {
            crate::reports::plot_command(&wq.reports, chrono::Utc::now().timestamp(), &rest[1..])
        }
        "resetcounters" => {
            wq.stats.reset();
            // AsyncOS: "Counters reset: Mon Jan 01 12:00:01 2003".
            Ok(format!("Counters reset: {}", local_time(wq.stats.reset_at)))
        }
        "showrecipients" => showrecipients_filter(rest).map(|f| showrecipients(wq, &f)),
        "showmessage" => mid_arg(rest).and_then(|mid| showmessage(wq, mid)),
        "deletemessage" => mid_arg(rest).and_then(|mid| deletemessage(wq, mid)),
        "delivernow" => Ok(delivernow_answer(
            wq,
            rest.first().map(String::as_str).unwrap_or("all"),
        )),
        "bouncerecipients" => match rest.first() {
            Some(which) => Ok(bouncerecipients(wq, which)),
            None => Err("usage: bouncerecipients <domain>|<address>|all".to_string()),
        },
        "redirectrecipients" => redirect_target(rest).and_then(|host| redirect(wq, &host)),
        "workqueue" => match rest {
            [] => Ok(workqueue_status(wq)),
            [s] if s.eq_ignore_ascii_case("status") => Ok(workqueue_status(wq)),
            _ => Err("usage: workqueue [status]".to_string()),
        },
        "quarantine" => wq.quarantine_command(rest),
        "reportdata" => crate::reports::command(&wq.reports, chrono::Utc::now().timestamp(), rest),
        "hoststatus" => match rest.first() {
            Some(host) => Ok(hoststatus(wq, host)),
            None => Err("usage: hoststatus <domain>".to_string()),
        },
        _ => return None,
    })
}

fn mid_arg(rest: &[String]) -> Result<Mid, String> {
    rest.first()
        .and_then(|s| s.parse().ok())
        .map(Mid)
        .ok_or_else(|| "usage: <command> <MID>".to_string())
}

fn now_line() -> String {
    status_as_of(clock::now())
}

/// AsyncOS's first line of `tophosts`, `status detail` and `hoststatus`,
/// with the zone's abbreviation: `Fri Feb 16 19:55:34 2024 CST`.
fn status_as_of(now: chrono::DateTime<clock::Tz>) -> String {
    format!(
        "Status as of:                {}",
        now.format(clock::HEADER_TIME_FORMAT)
    )
}

/// An instant as the one-line times of the operator commands show it,
/// in the appliance's zone: `Sun Dec  6 16:36:48 2026`.
fn local_time(t: chrono::DateTime<chrono::Utc>) -> String {
    clock::local(t).format(clock::LOG_TIME_FORMAT).to_string()
}

/// Pending recipients per destination domain.
fn active_recipients(wq: &WorkQueue) -> HashMap<String, u64> {
    let mut m: HashMap<String, u64> = HashMap::new();
    for a in wq.active.values() {
        // A Threat Defense copy waits in the.tdc.queue, whatever its
        // intake address's domain (seed 004: "the.tdc.queue" is the TDC's
        // destination domain in tophosts), like its delivery counters.
        let host = match a.record.processing.tdc_copy_of {
            Some(_) => crate::tdc::DESTINATION.to_string(),
            None => String::new(),
        };
        for r in a.record.pending() {
            let key = if host.is_empty() {
                routes::domain_of(&r.address).to_ascii_lowercase()
            } else {
                host.clone()
            };
            *m.entry(key).or_default() += 1;
        }
    }
    m
}

/// `1234567` → `1,234,567`, as the seed's tables print counts
/// (`tophosts --cluster` prints its totals the same way).
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The seed's `tophosts` table, sorted by active recipients or by the
/// column named (`active`, `conn`, `deliv`, `soft`, `hard`).
pub fn tophosts(wq: &WorkQueue, sort: Option<&str>) -> String {
    let active = active_recipients(wq);
    let conns = wq.delivery.connections();
    let states = wq.delivery.host_states();
    let mut names: Vec<String> = active.keys().cloned().collect();
    names.extend(conns.keys().cloned());
    names.extend(wq.stats.hosts.keys().cloned());
    names.sort();
    names.dedup();
    let mut rows: Vec<(String, u64, u64, u64, u64, u64)> = names
        .into_iter()
        .map(|n| {
            let c = wq.stats.hosts.get(&n).copied().unwrap_or_default();
            (
                n.clone(),
                active.get(&n).copied().unwrap_or(0),
                u64::from(conns.get(&n).copied().unwrap_or(0)),
                c.delivered,
                c.soft_bounced,
                c.hard_bounced,
            )
        })
        .collect();
    let key = sort.unwrap_or("active").to_ascii_lowercase();
    rows.sort_by(|a, b| {
        let k = |r: &(String, u64, u64, u64, u64, u64)| match key.as_str() {
            "conn" | "conn_out" | "connections" => r.2,
            "deliv" | "delivered" => r.3,
            "soft" => r.4,
            "hard" => r.5,
            _ => r.1,
        };
        k(b).cmp(&k(a)).then_with(|| a.0.cmp(&b.0))
    });
    let mut out = format!(
        "{}\nHosts marked with '*' were down as of the last delivery attempt.\n\n{}",
        now_line(),
        breakwater_control_proto::tophosts::header()
    );
    for (i, (name, act, conn, deliv, soft, hard)) in rows.iter().enumerate() {
        let down = states.get(name).is_some_and(|s| s.down);
        let label = format!("{}{name}", if down { "*" } else { "" });
        out.push_str(&breakwater_control_proto::tophosts::row(
            i + 1,
            &label,
            [*act, *conn, *deliv, *soft, *hard].map(thousands),
        ));
    }
    out
}

/// `workqueue status`: what the work queue holds now, and where its
/// active recipients are going.
fn workqueue_status(wq: &WorkQueue) -> String {
    let active = active_recipients(wq);
    let conns = wq.delivery.connections();
    let in_flight: usize = wq.active.values().map(|a| a.in_flight).sum();
    let mut out = format!(
        "{}\nStatus:                      Operating\nMessages in work queue:      {}\nRecipients active:           {}\nDelivery jobs in progress:   {}\nMessages waiting to retry:   {}\n",
        now_line(),
        thousands(wq.active.len() as u64),
        thousands(active.values().sum()),
        thousands(in_flight as u64),
        thousands(wq.retries.len() as u64),
    );
    let outside = outside_window(wq);
    if outside > 0 {
        out.push_str(&format!(
            "Messages on disk, outside:   {} (the work queue holds {} at most)\n",
            thousands(outside),
            thousands(wq.window.limit() as u64)
        ));
    }
    let mut rows: Vec<(&String, &u64)> = active.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    if rows.is_empty() {
        out.push_str("\nNo recipients are waiting for delivery.\n");
        return out;
    }
    out.push_str(&format!(
        "\n{:<40}{:>14}{:>10}\n",
        "Destination", "Active Recip.", "Conn. Out"
    ));
    for (domain, n) in rows {
        out.push_str(&format!(
            "{domain:<40}{:>14}{:>10}\n",
            thousands(*n),
            conns.get(domain).copied().unwrap_or(0)
        ));
    }
    out
}

fn status_detail(wq: &WorkQueue) -> String {
    let s = &wq.stats;
    // Quarantined messages are on disk but not queued for delivery.
    let (messages, bytes) = wq.queue.counts();
    let (held_messages, held_bytes) = wq.queue.held_counts();
    let active: u64 = active_recipients(wq).values().sum();
    let conns_out: u32 = wq.delivery.connections().values().sum();
    let hours = (s.started.elapsed().as_secs_f64() / 3600.0).max(1.0 / 3600.0);
    let row = |label: &str, f: fn(&super::Counters) -> u64| {
        format!(
            "    {label:<28}{:>12}{:>12}{:>12}\n",
            thousands(f(&s.since_reset)),
            thousands(f(&s.since_start)),
            thousands(f(&s.lifetime))
        )
    };
    let mut out = format!(
        "{}\nUp since:                    {}\nLast counter reset:          {}\nSystem status:               {}\n\n",
        now_line(),
        local_time(s.started_at),
        local_time(s.reset_at),
        wq.system_status
    );
    out.push_str(&format!(
        "Counters:{:>35}{:>12}{:>12}\n",
        "Reset", "Uptime", "Lifetime"
    ));
    out.push_str("  Receiving\n");
    out.push_str(&row("Messages Received", |c| c.messages_received));
    out.push_str(&row("Recipients Received", |c| c.recipients_received));
    out.push_str("  Delivery\n");
    out.push_str(&row("Recipients Delivered", |c| c.recipients_delivered));
    out.push_str(&row("Soft Bounced Events", |c| c.soft_bounced));
    out.push_str(&row("Hard Bounced Recipients", |c| c.hard_bounced));
    out.push_str(&row("Dropped Recipients", |c| c.dropped));
    out.push_str(&row("DSNs Generated", |c| c.dsns_generated));
    out.push_str("  Threat Defense Connector\n");
    out.push_str(&row("Copies Delivered", |c| c.tdc_sent));
    out.push_str(&row("Copies Failed", |c| c.tdc_failed));
    out.push_str(&row("Copies Expired", |c| c.tdc_expired));
    out.push_str(&format!(
        "\nGauges:{:>37}\n    {:<28}{:>12}\n    {:<28}{:>12}\n    {:<28}{:>12}\n    {:<28}{:>12}\n    {:<28}{:>12}\n    {:<28}{:>12}\n    {:<28}{:>12}\n",
        "Current",
        "Messages in Queue",
        thousands(messages),
        "Queue Size (bytes)",
        thousands(bytes),
        "Messages in Quarantine",
        thousands(held_messages),
        "Quarantine Size (bytes)",
        thousands(held_bytes),
        "Recipients Active",
        thousands(active),
        "Work Queue Messages",
        thousands(wq.active.len() as u64),
        "Connections Out",
        conns_out
    ));
    out.push_str(&format!(
        "\nRates (per hour, since start):\n    {:<28}{:>12.1}\n    {:<28}{:>12.1}\n",
        "Messages Received",
        s.since_start.messages_received as f64 / hours,
        "Recipients Delivered",
        s.since_start.recipients_delivered as f64 / hours
    ));
    out
}

/// A message outside the work queue: on disk (not yet paged in), or
/// taken in but not in routing (being processed, or held).
fn not_active(wq: &WorkQueue, mid: Mid) -> Result<Option<MessageRecord>, String> {
    if wq.window.owns(mid) {
        return Ok(None);
    }
    wq.window
        .load(mid)
        .map_err(|e| format!("MID {mid}: cannot read the queue: {e}"))
}

/// Messages waiting on disk outside the work queue's window (0 when it
/// holds them all).
fn outside_window(wq: &WorkQueue) -> u64 {
    if !wq.window.backlog() {
        return 0;
    }
    let (messages, _) = wq.queue.counts();
    messages.saturating_sub(wq.window.in_use(wq.processing.held.len()) as u64)
}

/// The line commands that cover the window add when messages wait on disk.
fn outside_note(wq: &WorkQueue) -> String {
    match outside_window(wq) {
        0 => String::new(),
        n => format!(
            "\n{} more queued message(s) wait on disk outside the work queue (it holds {} at most) and are not counted here.",
            thousands(n),
            thousands(wq.window.limit() as u64)
        ),
    }
}

fn showmessage(wq: &WorkQueue, mid: Mid) -> Result<String, String> {
    let on_disk;
    let r: &MessageRecord = match wq.active.get(&mid) {
        Some(a) => &a.record,
        None => match not_active(wq, mid)? {
            Some(record) => {
                on_disk = record;
                &on_disk
            }
            None => return Err(format!("MID {mid} is not in the queue.")),
        },
    };
    let rc = &r.reception;
    let mut out = format!(
        "MID {mid}\nReceived: {} on {} ({}) ICID {} from {} ({}, rDNS {} verified {})\nSender group: {}  Policy: {}\nTLS: {}\nFrom: <{}>\nSize: {} bytes\nMessage-ID: {}\nSubject: {}\nRecipients:\n",
        chrono::DateTime::from_timestamp(r.received_at, 0)
            .map(local_time)
            .unwrap_or_default(),
        rc.listener,
        rc.interface,
        rc.icid,
        rc.client_ip,
        rc.helo,
        rc.rdns.as_deref().unwrap_or("unknown"),
        if rc.rdns_verified { "yes" } else { "no" },
        rc.sender_group,
        rc.policy,
        rc.tls
            .as_ref()
            .map(|(p, c)| format!("{p} {c}"))
            .unwrap_or_else(|| "none".into()),
        r.mail_from,
        r.body_size,
        r.message_id.as_deref().unwrap_or("-"),
        r.subject.as_deref().unwrap_or("-"),
    );
    for rcpt in &r.recipients {
        out.push_str(&format!(
            "  RID {} <{}> {:?} attempts {}{}\n",
            rcpt.rid,
            rcpt.address,
            rcpt.status,
            rcpt.attempts,
            rcpt.last_response
                .as_deref()
                .map(|t| format!(" last: {t}"))
                .unwrap_or_default()
        ));
    }
    // The start of the message itself, bounded.
    if let Ok(body) = wq.queue.read_body(mid) {
        let shown = &body[..body.len().min(16 * 1024)];
        out.push('\n');
        out.push_str(&String::from_utf8_lossy(shown));
        if body.len() > shown.len() {
            out.push_str(&format!(
                "\n[... {} more bytes]\n",
                body.len() - shown.len()
            ));
        }
    }
    Ok(out)
}

fn deletemessage(wq: &mut WorkQueue, mid: Mid) -> Result<String, String> {
    if !wq.active.contains_key(&mid) {
        return deletemessage_on_disk(wq, mid);
    }
    let a = wq
        .active
        .get_mut(&mid)
        .ok_or_else(|| format!("MID {mid} is not in the queue."))?;
    let mut n = 0;
    for r in a
        .record
        .recipients
        .iter_mut()
        .filter(|r| r.status == RecipientStatus::Pending)
    {
        r.status = RecipientStatus::Dropped;
        n += 1;
    }
    MailEvent::DeletedByAdmin { mid }.log();
    for _ in 0..n {
        wq.stats.record(Event::Dropped);
    }
    wq.settle(mid);
    Ok(format!("MID {mid} deleted ({n} recipient(s))."))
}

/// `deletemessage` of a message waiting on disk: its record is removed
/// there (and its body after the next flush), as the work queue retires
/// a message; it never enters the window.
fn deletemessage_on_disk(wq: &mut WorkQueue, mid: Mid) -> Result<String, String> {
    let Some(mut record) = not_active(wq, mid)? else {
        return Err(format!("MID {mid} is not in the queue."));
    };
    if !wq.window.is_ready() {
        // The orphan scan must not meet a body whose record removal is
        // not durable yet.
        return Err(format!(
            "MID {mid} is on disk and the queue is still being recovered; try again in a moment."
        ));
    }
    let mut n = 0;
    for r in record
        .recipients
        .iter_mut()
        .filter(|r| r.status == RecipientStatus::Pending)
    {
        r.status = RecipientStatus::Dropped;
        n += 1;
    }
    MailEvent::DeletedByAdmin { mid }.log();
    for _ in 0..n {
        wq.stats.record(Event::Dropped);
    }
    wq.queue
        .retire(&record)
        .map_err(|e| format!("MID {mid}: cannot remove from the queue: {e}"))?;
    MailEvent::FinishedDone { mid }.log();
    Ok(format!("MID {mid} deleted ({n} recipient(s))."))
}

const REDIRECT_USAGE: &str = "usage: redirectrecipients <host>[:port] | redirectrecipients host <host> [port <port>] | redirectrecipients clear";

/// The target of `redirectrecipients` as `redirect` takes it
/// (`host[:port]` or `clear`), from our short form or AsyncOS's batch
/// form `host <host> [port <port>]`.
fn redirect_target(rest: &[String]) -> Result<String, String> {
    match rest {
        [target] => Ok(target.clone()),
        [h, host] if h.eq_ignore_ascii_case("host") => Ok(host.clone()),
        [h, host, p, port] if h.eq_ignore_ascii_case("host") && p.eq_ignore_ascii_case("port") => {
            port.parse::<u16>()
                .map(|port| format!("{host}:{port}"))
                .map_err(|_| format!("bad port {port}"))
        }
        _ => Err(REDIRECT_USAGE.to_string()),
    }
}

/// At most this many messages are listed by `showrecipients`: a queue
/// backed up by an outage holds many thousands, and the console is not
/// the place to page through them (narrow by host or sender instead).
pub const SHOWRECIPIENTS_MAX_MESSAGES: usize = 1000;

/// Which queued messages `showrecipients` lists (AsyncOS: "By recipient
/// host", "By Envelope From address", "All").
#[derive(Debug, Clone, PartialEq, Eq)]
enum RecipientFilter {
    All,
    Host(String),
    Sender(String),
}

fn showrecipients_filter(rest: &[String]) -> Result<RecipientFilter, String> {
    const USAGE: &str = "usage: showrecipients [all | host <domain> | sender <address>]";
    match rest {
        [] => Ok(RecipientFilter::All),
        [a] if a.eq_ignore_ascii_case("all") => Ok(RecipientFilter::All),
        [h, host] if h.eq_ignore_ascii_case("host") => Ok(RecipientFilter::Host(host.clone())),
        [f, sender] if f.eq_ignore_ascii_case("sender") => {
            Ok(RecipientFilter::Sender(sender.clone()))
        }
        _ => Err(USAGE.to_string()),
    }
}

/// `showrecipients`: the pending recipients of the queued messages, in
/// AsyncOS's two-line layout (MID, bytes, sender, subject; then RID,
/// attempts and recipient for each recipient), oldest message first.
fn showrecipients(wq: &WorkQueue, filter: &RecipientFilter) -> String {
    let mut mids: Vec<&Mid> = wq
        .active
        .iter()
        .filter(|(_, a)| {
            let r = &a.record;
            match filter {
                RecipientFilter::All => r.pending().next().is_some(),
                RecipientFilter::Host(host) => r
                    .pending()
                    .any(|p| routes::domain_of(&p.address).eq_ignore_ascii_case(host)),
                RecipientFilter::Sender(sender) => {
                    r.mail_from.eq_ignore_ascii_case(sender) && r.pending().next().is_some()
                }
            }
        })
        .map(|(mid, _)| mid)
        .collect();
    if mids.is_empty() {
        return "There are no matching messages in the queue.".to_string();
    }
    mids.sort();
    let total = mids.len();
    let mut out = format!(
        "Showing messages, please wait.\n\n{:<10}{:<10}{:<32}{}\n{:<10}{:<10}{}\n",
        "MID/", "Bytes/", "Sender/", "Subject", "[RID]", "[Atmps]", "Recipient"
    );
    for mid in mids.into_iter().take(SHOWRECIPIENTS_MAX_MESSAGES) {
        let Some(a) = wq.active.get(mid) else {
            continue;
        };
        let r = &a.record;
        out.push_str(&format!(
            "{:<10}{:<10}{:<32}{}\n",
            mid.to_string(),
            r.body_size,
            r.mail_from,
            r.subject.as_deref().unwrap_or("")
        ));
        for p in r.pending().filter(|p| match filter {
            RecipientFilter::Host(host) => routes::domain_of(&p.address).eq_ignore_ascii_case(host),
            _ => true,
        }) {
            out.push_str(&format!(
                "{:<10}{:<10}{}\n",
                format!("[{}]", p.rid),
                format!("[{}]", p.attempts),
                p.address
            ));
        }
    }
    if total > SHOWRECIPIENTS_MAX_MESSAGES {
        out.push_str(&format!(
            "\n{SHOWRECIPIENTS_MAX_MESSAGES} of {total} messages shown; narrow with `showrecipients host <domain>` or `sender <address>`.\n"
        ));
    }
    out.push_str(&outside_note(wq));
    out
}

/// `delivernow` as the console shows it: a MID (digits) or `all`, a
/// domain or an address; while delivery is suspended it says the mail
/// waits for `resumedel`.
fn delivernow_answer(wq: &mut WorkQueue, which: &str) -> String {
    let mut answer = match which.parse::<u64>() {
        Ok(mid) => delivernow_mid(wq, Mid(mid)),
        Err(_) => delivernow(wq, which),
    };
    if wq.delivery_suspended() {
        answer.push_str("\nMail delivery is suspended: nothing is sent until `resumedel`.");
    }
    answer
}

/// `delivernow <MID>`: that message's pending recipients are tried now.
fn delivernow_mid(wq: &mut WorkQueue, mid: Mid) -> String {
    if !wq.active.contains_key(&mid) {
        // On disk outside the window: taken in now, due at once.
        let record = match not_active(wq, mid) {
            Ok(Some(record)) if wq.window.is_ready() => record,
            Ok(Some(_)) => {
                return format!(
                    "MID {mid} is on disk and the queue is still being recovered; try again in a moment."
                );
            }
            Ok(None) => return format!("MID {mid} is not in the queue."),
            Err(e) => return e,
        };
        wq.window.adopt(mid);
        let origin = wq.window.origin(mid);
        let mut record = record;
        for r in record
            .recipients
            .iter_mut()
            .filter(|r| r.status == RecipientStatus::Pending)
        {
            r.next_attempt = 0;
        }
        wq.admit_paged(record, origin);
        return format!("MID {mid} scheduled for immediate delivery.");
    }
    let Some(a) = wq.active.get_mut(&mid) else {
        return format!("MID {mid} is not in the queue.");
    };
    for r in a
        .record
        .recipients
        .iter_mut()
        .filter(|r| r.status == RecipientStatus::Pending)
    {
        r.next_attempt = 0;
    }
    wq.retries.retain(|(_, m)| *m != mid);
    wq.dispatch(mid);
    format!("MID {mid} scheduled for immediate delivery.")
}

/// Recipients matching `which`: `all`, a domain, or an address.
pub(super) fn matches(which: &str, address: &str) -> bool {
    which.eq_ignore_ascii_case("all")
        || address.eq_ignore_ascii_case(which)
        || routes::domain_of(address).eq_ignore_ascii_case(which)
}

fn delivernow(wq: &mut WorkQueue, which: &str) -> String {
    let mut mids = Vec::new();
    for (mid, a) in wq.active.iter_mut() {
        let mut hit = false;
        for r in a
            .record
            .recipients
            .iter_mut()
            .filter(|r| r.status == RecipientStatus::Pending)
        {
            if matches(which, &r.address) {
                r.next_attempt = 0;
                hit = true;
            }
        }
        if hit {
            mids.push(*mid);
        }
    }
    for mid in &mids {
        wq.dispatch(*mid);
    }
    let mut answer = format!(
        "{} message(s) scheduled for immediate delivery.",
        mids.len()
    );
    if outside_window(wq) > 0 {
        wq.window.rush(which);
        answer.push_str(&format!(
            "\n{} more queued message(s) wait on disk outside the work queue: those matching go at once as they come in.",
            thousands(outside_window(wq))
        ));
    }
    answer
}

fn bouncerecipients(wq: &mut WorkQueue, which: &str) -> String {
    let mut mids = Vec::new();
    let mut n = 0;
    for (mid, a) in wq.active.iter_mut() {
        for r in a
            .record
            .recipients
            .iter_mut()
            .filter(|r| r.status == RecipientStatus::Pending)
        {
            if matches(which, &r.address) {
                r.status = RecipientStatus::Bounced;
                r.last_response = Some("5.3.0 - Bounced by the administrator".to_string());
                MailEvent::Bounced {
                    tdc: TdcTag(false),
                    dcid: Dcid(0),
                    mid: *mid,
                    rid: r.rid,
                    reason: "5.3.0 - Bounced by the administrator".to_string(),
                }
                .log();
                n += 1;
                mids.push(*mid);
            }
        }
    }
    for _ in 0..n {
        wq.stats.record(Event::HardBounced);
    }
    mids.dedup();
    for mid in mids {
        wq.settle(mid);
    }
    format!("{n} recipient(s) bounced.{}", outside_note(wq))
}

/// Sends all queued mail to one host (AsyncOS's `redirectrecipients`),
/// until `redirectrecipients clear` or a restart; routes stay as committed.
fn redirect(wq: &mut WorkQueue, host: &str) -> Result<String, String> {
    if host.eq_ignore_ascii_case("clear") {
        wq.redirect = None;
        MailEvent::RedirectEnded {}.log();
        return Ok("Redirection ended; SMTP routes and MX apply again.".to_string());
    }
    let (name, port) = match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (
            h.to_string(),
            p.parse().map_err(|_| format!("bad port in {host}"))?,
        ),
        _ => (host.to_string(), 25),
    };
    wq.redirect = Some(vec![RouteHost {
        host: name.as_str().into(),
        port,
        priority: 0,
    }]);
    MailEvent::Redirected {
        host: name.clone(),
        port,
    }
    .log();
    let n = delivernow(wq, "all");
    Ok(format!("Queued mail is redirected to {name}:{port}. {n}"))
}

fn hoststatus(wq: &WorkQueue, host: &str) -> String {
    let host = host.to_ascii_lowercase();
    let active = active_recipients(wq).get(&host).copied().unwrap_or(0);
    let c = wq.stats.hosts.get(&host).copied().unwrap_or_default();
    let conns = wq.delivery.connections().get(&host).copied().unwrap_or(0);
    let state = wq
        .delivery
        .host_states()
        .get(&host)
        .cloned()
        .unwrap_or_default();
    let fmt = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(local_time).unwrap_or_else(|| "never".into())
    };
    let status = if state.last_attempt.is_none() {
        "unknown"
    } else if state.down {
        "down"
    } else {
        "up"
    };
    let error = state
        .last_error
        .as_deref()
        .unwrap_or("No errors seen for this host.");
    // AsyncOS's layout: counters and gauges grouped and indented by kind.
    let row = |indent: usize, label: &str, n: u64| {
        format!(
            "{:indent$}{label:<w$}{:>12}\n",
            "",
            thousands(n),
            w = 46 - indent
        )
    };
    let mut out = format!(
        "Host mail status for: '{host}'\n{}\nHost up/down:                {status}\n\nCounters:\n  Queue\n",
        now_line()
    );
    out.push_str(&row(4, "Soft Bounced Events", c.soft_bounced));
    out.push_str("  Completion\n");
    out.push_str(&row(
        4,
        "Completed Recipients",
        c.delivered + c.hard_bounced,
    ));
    out.push_str(&row(6, "Hard Bounced Recipients", c.hard_bounced));
    out.push_str(&row(6, "Delivered Recipients", c.delivered));
    out.push_str("\nGauges:\n  Queue\n");
    out.push_str(&row(4, "Active Recipients", active));
    out.push_str("  Connections\n");
    out.push_str(&row(4, "Current Outbound Connections", u64::from(conns)));
    out.push_str(&format!(
        "\nLast Activity                {}\nLast Successful Delivery     {}\nLast Error:\n----------\n{error}\n----------\n",
        fmt(state.last_attempt),
        fmt(state.last_success),
    ));
    out
}

/// One destination's gauges and counters at one instant (`hostrate`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostSample {
    /// `up`, `down`, or `unknown` before the first attempt (`hoststatus`'s
    /// words).
    pub status: &'static str,
    pub connections_out: u32,
    pub active_recipients: u64,
    pub delivered: u64,
    pub hard_bounced: u64,
    pub soft_bounced: u64,
}

/// `hostrate`'s sample of `host`.
pub fn host_sample(wq: &WorkQueue, host: &str) -> HostSample {
    let host = host.to_ascii_lowercase();
    let c = wq.stats.hosts.get(&host).copied().unwrap_or_default();
    let state = wq
        .delivery
        .host_states()
        .get(&host)
        .cloned()
        .unwrap_or_default();
    HostSample {
        status: if state.last_attempt.is_none() {
            "unknown"
        } else if state.down {
            "down"
        } else {
            "up"
        },
        connections_out: wq.delivery.connections().get(&host).copied().unwrap_or(0),
        active_recipients: active_recipients(wq).get(&host).copied().unwrap_or(0),
        delivered: c.delivered,
        hard_bounced: c.hard_bounced,
        soft_bounced: c.soft_bounced,
    }
}

/// `rate`'s recipient totals since the daemon started: received, and
/// completed (delivered or hard bounced: out of the queue for good, as
/// AsyncOS counts Completed Recipients).
pub fn recipient_totals(wq: &WorkQueue) -> (u64, u64) {
    let c = &wq.stats.since_start;
    (
        c.recipients_received,
        c.recipients_delivered + c.hard_bounced,
    )
}

#[cfg(test)]
mod argument_tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn redirectrecipients_takes_the_short_and_the_asyncos_forms() {
        assert_eq!(
            redirect_target(&args("mx.example:2525")),
            Ok("mx.example:2525".into())
        );
        assert_eq!(
            redirect_target(&args("host mx.example")),
            Ok("mx.example".into())
        );
        assert_eq!(
            redirect_target(&args("HOST mx.example PORT 2525")),
            Ok("mx.example:2525".into())
        );
        assert_eq!(redirect_target(&args("clear")), Ok("clear".into()));
        assert!(redirect_target(&args("host mx.example port x")).is_err());
        assert_eq!(redirect_target(&args("")), Err(REDIRECT_USAGE.to_string()));
    }

    #[test]
    fn showrecipients_filters() {
        assert_eq!(showrecipients_filter(&args("")), Ok(RecipientFilter::All));
        assert_eq!(
            showrecipients_filter(&args("all")),
            Ok(RecipientFilter::All)
        );
        assert_eq!(
            showrecipients_filter(&args("host example.com")),
            Ok(RecipientFilter::Host("example.com".into()))
        );
        assert_eq!(
            showrecipients_filter(&args("sender a@b.example")),
            Ok(RecipientFilter::Sender("a@b.example".into()))
        );
        assert!(showrecipients_filter(&args("host")).is_err());
    }
}

#[cfg(test)]
mod zone_tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn the_header_names_the_zone_as_the_seed_prints_it() {
        let zone = clock::parse_zone("America/Chicago").unwrap();
        let at = chrono::Utc
            .with_ymd_and_hms(2024, 2, 17, 1, 55, 34)
            .unwrap();
        // Seed 004, `tophosts`, byte for byte.
        assert_eq!(
            status_as_of(zone.from_utc_datetime(&at.naive_utc())),
            "Status as of:                Fri Feb 16 19:55:34 2024 CST"
        );
        let summer = chrono::Utc.with_ymd_and_hms(2024, 7, 5, 12, 0, 0).unwrap();
        assert_eq!(
            status_as_of(zone.from_utc_datetime(&summer.naive_utc())),
            "Status as of:                Fri Jul  5 07:00:00 2024 CDT"
        );
    }
}

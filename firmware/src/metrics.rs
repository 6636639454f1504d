//! The Prometheus exposition of the running gateway: what `metrics` (the
//! catalog command behind the Management plane's `/metrics`) prints.
//!
//! The daemon renders it, with the ecosystem's `prometheus-client`, from
//! what the mail stages already count: the work queue's counters since
//! start (never reset by `resetcounters`, since Prometheus counters only
//! grow), the queue and reception gauges, the delivery connections, and
//! the committer's and resolver's histograms
//! (`breakwater_mail::metrics`). The management plane only forwards the
//! text (decision 0013).

use std::fmt;

#[cfg(feature = "bench-alloc")]
mod bench_alloc;

use breakwater_mail::metrics::SPAM_VERDICTS;
use breakwater_mail::metrics::{
    COMMIT_BATCH, COMMIT_SECONDS, CONNECTIONS, CONNECTIONS_REFUSED, DNS_SECONDS, FILTER_HITS,
    RECIPIENTS_REJECTED, TLS_CONNECTIONS,
};
use breakwater_mail::workqueue::{HostCounters, WorkQueueMetrics};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

/// How many destination domains get their own `domain` label; the rest
/// are `domain="other"`. Every label value is a series the Prometheus
/// server keeps forever: the busiest few are what an administrator
/// graphs, and a bounded set keeps a scrape small whatever the mail.
pub const TOP_DOMAINS: usize = 20;

/// The label of the domains past [`TOP_DOMAINS`].
pub const OTHER_DOMAINS: &str = "other";

/// Everything one scrape reads, gathered by the daemon.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub workqueue: WorkQueueMetrics,
    /// Unix seconds now (for the oldest message's age).
    pub now: i64,
    pub queue_messages: u64,
    pub queue_bytes: u64,
    /// Listener name and its live connections.
    pub listeners: Vec<(String, u32)>,
    /// Reception memory in use and its budget, in bytes.
    pub reception_memory: (u64, u64),
    /// Destination, queued jobs, open connections.
    pub destinations: Vec<(String, usize, u32)>,
}

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

fn counter(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let c = Counter::<u64>::default();
    c.inc_by(value);
    registry.register(name, help, c);
}

fn gauge(registry: &mut Registry, name: &str, help: &str, unit: Option<Unit>, value: u64) {
    let g = Gauge::<i64>::default();
    g.set(i64::try_from(value).unwrap_or(i64::MAX));
    match unit {
        Some(unit) => registry.register_with_unit(name, help, unit, g),
        None => registry.register(name, help, g),
    }
}

/// The busiest [`TOP_DOMAINS`] domains by recipients handled, then
/// `other` with the rest added up.
pub fn top_domains(
    deliveries: &std::collections::HashMap<String, HostCounters>,
    other: HostCounters,
) -> Vec<(String, HostCounters)> {
    let total = |h: &HostCounters| h.delivered + h.soft_bounced + h.hard_bounced;
    let mut all: Vec<(String, HostCounters)> =
        deliveries.iter().map(|(d, h)| (d.clone(), *h)).collect();
    all.sort_by(|a, b| total(&b.1).cmp(&total(&a.1)).then(a.0.cmp(&b.0)));
    let mut rest = other;
    for (_, h) in all.iter().skip(TOP_DOMAINS) {
        rest.delivered += h.delivered;
        rest.soft_bounced += h.soft_bounced;
        rest.hard_bounced += h.hard_bounced;
    }
    all.truncate(TOP_DOMAINS);
    if total(&rest) > 0 {
        all.push((OTHER_DOMAINS.to_string(), rest));
    }
    all
}

/// The OpenMetrics text of one scrape.
pub fn render(inputs: &Inputs) -> Result<String, fmt::Error> {
    let mut registry = Registry::with_prefix("breakwater");
    let wq = &inputs.workqueue;
    let c = &wq.counters;

    let received = Family::<Labels, Counter>::default();
    let recipients = Family::<Labels, Counter>::default();
    let tls = Family::<Labels, Counter>::default();
    for ((listener, group), r) in &wq.monotonic.received {
        let l = labels(&[("listener", listener), ("sender_group", group)]);
        received.get_or_create(&l).inc_by(r.messages);
        recipients.get_or_create(&l).inc_by(r.recipients);
        let l = labels(&[("leg", "inbound"), ("listener", listener)]);
        tls.get_or_create(&l).inc_by(r.tls_messages);
    }
    registry.register(
        "messages_received",
        "Messages received, by listener and sender group",
        received,
    );
    registry.register(
        "recipients_received",
        "Recipients accepted with received messages, by listener and sender group",
        recipients,
    );
    registry.register(
        "tls_messages",
        "Messages received over STARTTLS, by leg and listener",
        tls,
    );

    let deliveries = Family::<Labels, Counter>::default();
    for (domain, h) in top_domains(&wq.monotonic.deliveries, wq.monotonic.other_domains) {
        for (outcome, n) in [
            ("delivered", h.delivered),
            ("soft_bounced", h.soft_bounced),
            ("hard_bounced", h.hard_bounced),
        ] {
            deliveries
                .get_or_create(&labels(&[("domain", &domain), ("outcome", outcome)]))
                .inc_by(n);
        }
    }
    registry.register(
        "deliveries",
        "Recipient delivery attempts by destination domain (the busiest 20, then \"other\") and outcome",
        deliveries,
    );

    let by_listener = Family::<Labels, Counter>::default();
    for (listener, h) in &wq.monotonic.by_listener {
        for (outcome, n) in [
            ("delivered", h.delivered),
            ("soft_bounced", h.soft_bounced),
            ("hard_bounced", h.hard_bounced),
        ] {
            by_listener
                .get_or_create(&labels(&[("listener", listener), ("outcome", outcome)]))
                .inc_by(n);
        }
    }
    registry.register(
        "listener_deliveries",
        "Recipient delivery attempts by the listener that received the message ((bounce), (alert): the gateway's own) and outcome",
        by_listener,
    );
    registry.register(
        "recipients_rejected",
        "Recipients refused at RCPT TO, by reason (syntax, routing_trick, rat, recipient_rate)",
        RECIPIENTS_REJECTED.clone(),
    );
    registry.register(
        "connections",
        "Inbound connections the Host Access Table classified, by listener, sender group and behavior",
        CONNECTIONS.clone(),
    );
    registry.register(
        "connections_refused",
        "Inbound connections refused before a session, by listener and reason (connection_limit, no_sender_group, reject, tcprefuse, per_ip_limit, memory_budget)",
        CONNECTIONS_REFUSED.clone(),
    );
    registry.register(
        "tls_connections",
        "STARTTLS negotiations, by leg (inbound, outbound) and outcome (success, failed)",
        TLS_CONNECTIONS.clone(),
    );
    registry.register(
        "filter_hits",
        "Messages a message filter acted on, by filter",
        FILTER_HITS.clone(),
    );
    registry.register(
        "spam_verdicts",
        "Messages scanned by rspamd, by verdict (positive, suspect, negative)",
        SPAM_VERDICTS.clone(),
    );
    counter(
        &mut registry,
        "recipients_delivered",
        "Recipients delivered",
        c.recipients_delivered,
    );
    counter(
        &mut registry,
        "recipients_soft_bounced",
        "Delivery attempts that failed temporarily",
        c.soft_bounced,
    );
    counter(
        &mut registry,
        "recipients_hard_bounced",
        "Recipients refused permanently",
        c.hard_bounced,
    );
    counter(
        &mut registry,
        "recipients_dropped",
        "Recipients dropped on purpose (a filter, a /dev/null route)",
        c.dropped,
    );
    counter(
        &mut registry,
        "dsns_generated",
        "Delivery status notifications generated",
        c.dsns_generated,
    );
    let tdc = Family::<Labels, Counter>::default();
    for (outcome, n) in [
        ("sent", c.tdc_sent),
        ("failed", c.tdc_failed),
        ("expired", c.tdc_expired),
    ] {
        tdc.get_or_create(&labels(&[("outcome", outcome)]))
            .inc_by(n);
    }
    registry.register(
        "threat_defense_copies",
        "Threat Defense copies by outcome",
        tdc,
    );

    gauge(
        &mut registry,
        "queue_messages",
        "Messages in the queue",
        None,
        inputs.queue_messages,
    );
    gauge(
        &mut registry,
        "queue_spool",
        "Spooled message bytes in the queue",
        Some(Unit::Bytes),
        inputs.queue_bytes,
    );
    let oldest = wq
        .oldest_received_at
        .map_or(0, |at| inputs.now.saturating_sub(at).max(0));
    gauge(
        &mut registry,
        "queue_oldest_message_age",
        "Age of the oldest message in the work queue (0 when empty)",
        Some(Unit::Seconds),
        u64::try_from(oldest).unwrap_or(0),
    );

    let connections = Family::<Labels, Gauge>::default();
    for (listener, n) in &inputs.listeners {
        connections
            .get_or_create(&labels(&[("listener", listener)]))
            .set(i64::from(*n));
    }
    registry.register(
        "listener_connections",
        "Open inbound SMTP connections, by listener",
        connections,
    );
    let outbound: u32 = inputs.destinations.iter().map(|d| d.2).sum();
    gauge(
        &mut registry,
        "delivery_connections",
        "Open outbound SMTP connections",
        None,
        u64::from(outbound),
    );
    let (used, limit) = inputs.reception_memory;
    gauge(
        &mut registry,
        "reception_memory_used",
        "Reception memory budget in use",
        Some(Unit::Bytes),
        used,
    );
    gauge(
        &mut registry,
        "reception_memory_limit",
        "Reception memory budget (listenerconfig setup --reception-memory)",
        Some(Unit::Bytes),
        limit,
    );

    registry.register(
        "queue_commit_batch_messages",
        "Messages made durable by one group commit",
        COMMIT_BATCH.clone(),
    );
    registry.register_with_unit(
        "queue_commit_duration",
        "Time of one group commit (fsync of the bodies and the index flush)",
        Unit::Seconds,
        COMMIT_SECONDS.clone(),
    );
    registry.register_with_unit(
        "dns_lookup_duration",
        "Time of one DNS lookup for delivery (A/AAAA, MX)",
        Unit::Seconds,
        DNS_SECONDS.clone(),
    );

    #[cfg(feature = "bench-alloc")]
    bench_alloc::register(&mut registry);

    let mut out = String::new();
    encode(&mut out, &registry)?;
    Ok(out)
}

/// The Prometheus text format 0.0.4 of [`render`]'s OpenMetrics text,
/// for scrapers that do not ask for OpenMetrics (as the Go client
/// negotiates it) and for `promtool check metrics`: a counter's family
/// is named with its `_total` suffix, and the `# UNIT` and `# EOF` lines,
/// which 0.0.4 does not have, go.
pub fn to_text_format(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let header = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| Some((p, line.strip_prefix(p)?)));
        match header {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                if counters.contains(name) {
                    out.push_str(&format!("{prefix}{name}_total {tail}"));
                } else {
                    out.push_str(line);
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// `metrics [--openmetrics]`: the text format by default (what an
/// administrator reads and `promtool` checks), OpenMetrics on request.
pub fn command(inputs: &Inputs, args: &[String]) -> Result<String, String> {
    let open = match args {
        [] => false,
        [f] if f.eq_ignore_ascii_case("--openmetrics") => true,
        _ => {
            return Err(crate::control::catalog::find("metrics")
                .map_or("usage: metrics [--openmetrics]", |c| c.usage)
                .to_string());
        }
    };
    let text = render(inputs).map_err(|e| format!("metrics: {e}"))?;
    Ok(if open { text } else { to_text_format(&text) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn host(delivered: u64) -> HostCounters {
        HostCounters {
            delivered,
            ..HostCounters::default()
        }
    }

    #[test]
    fn domains_past_the_busiest_add_up_in_other() {
        let mut d = HashMap::new();
        for i in 0..(TOP_DOMAINS as u64 + 5) {
            d.insert(format!("d{i:02}.example"), host(i + 1));
        }
        let top = top_domains(&d, host(100));
        assert_eq!(top.len(), TOP_DOMAINS + 1);
        assert_eq!(top[0].0, format!("d{:02}.example", TOP_DOMAINS + 4));
        let other = top.last().expect("other");
        assert_eq!(other.0, OTHER_DOMAINS);
        // The five quietest (1..=5 recipients) and the untracked 100.
        assert_eq!(other.1.delivered, 100 + 15);
    }

    #[test]
    fn exposition_names_counters_with_their_units() {
        let mut inputs = Inputs {
            queue_messages: 3,
            queue_bytes: 4096,
            now: 1_000,
            listeners: vec![("IncomingMail".to_string(), 2)],
            reception_memory: (10, 100),
            ..Inputs::default()
        };
        inputs.workqueue.oldest_received_at = Some(940);
        inputs
            .workqueue
            .monotonic
            .received("IncomingMail", "RELAYLIST", 2, true);
        let text = render(&inputs).expect("render");
        assert!(text.contains(
            "breakwater_messages_received_total{listener=\"IncomingMail\",sender_group=\"RELAYLIST\"} 1"
        ));
        assert!(text.contains("breakwater_queue_messages 3"));
        assert!(text.contains("breakwater_queue_spool_bytes 4096"));
        assert!(text.contains("breakwater_queue_oldest_message_age_seconds 60"));
        assert!(text.contains("breakwater_listener_connections{listener=\"IncomingMail\"} 2"));
        assert!(text.contains("# TYPE breakwater_queue_commit_duration_seconds histogram"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn text_format_names_counter_families_with_total() {
        let open = "# HELP breakwater_x Things.\n# TYPE breakwater_x counter\nbreakwater_x_total 1\n\
                    # HELP breakwater_q_bytes Q.\n# TYPE breakwater_q_bytes gauge\n# UNIT breakwater_q_bytes bytes\nbreakwater_q_bytes 2\n# EOF\n";
        assert_eq!(
            to_text_format(open),
            "# HELP breakwater_x_total Things.\n# TYPE breakwater_x_total counter\nbreakwater_x_total 1\n\
             # HELP breakwater_q_bytes Q.\n# TYPE breakwater_q_bytes gauge\nbreakwater_q_bytes 2\n"
        );
    }
}

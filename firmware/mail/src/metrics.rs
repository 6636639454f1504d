//! Histograms of the mail stages that `/metrics` exports (the daemon
//! renders them with its counters, see the `breakwater` crate's
//! `metrics`). One set per process: the queue committer and the resolver
//! are rebuilt on a configuration change, the distributions carry on.
//!
//! They are `prometheus-client` histograms, lock-free to observe; the
//! buckets are fixed here so the series stay few.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use crate::filters::{TraceEvent, TraceLine};
use crate::logging::MailEvent;

/// Label pairs of a counter family.
pub type Labels = Vec<(String, String)>;

/// Messages made durable by one group commit (one flush).
pub static COMMIT_BATCH: LazyLock<Histogram> =
    LazyLock::new(|| Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]));

/// How long one group commit took: the bodies' fsync and the index flush.
pub static COMMIT_SECONDS: LazyLock<Histogram> =
    LazyLock::new(|| Histogram::new(latency_buckets()));

/// How long a DNS lookup took (A/AAAA and MX for delivery), answered or
/// not.
pub static DNS_SECONDS: LazyLock<Histogram> = LazyLock::new(|| Histogram::new(latency_buckets()));

/// Recipients refused at `RCPT TO`, by `reason`: `syntax` (the address
/// does not parse), `routing_trick` (`%`, `!`, a source route), `rat`
/// (the Recipient Access Table), `recipient_rate` (the mail flow policy's
/// recipients per hour), `bounce_verification` (a bounce without a valid
/// tag). A fixed set: the session's refusals.
pub static RECIPIENTS_REJECTED: LazyLock<Family<Labels, Counter>> = LazyLock::new(Family::default);

/// Messages a message filter acted on, by `filter` name (the configured
/// filters: a bounded set the administrator names).
pub static FILTER_HITS: LazyLock<Family<Labels, Counter>> = LazyLock::new(Family::default);

/// Messages rspamd gave a verdict on, by the `verdict` their policy read
/// (`positive`, `suspect`, `negative`): a fixed set.
pub static SPAM_VERDICTS: LazyLock<Family<Labels, Counter>> = LazyLock::new(Family::default);

/// Connections the Host Access Table classified, by `listener`,
/// `sender_group` and `behavior` (`accept`, `relay`, `reject`,
/// `tcprefuse`, `continue`): the configured few of each.
pub static CONNECTIONS: LazyLock<Family<Labels, Counter>> = LazyLock::new(Family::default);

/// Connections refused before a session, by `listener` and `reason`
/// (the `REFUSED_*` words): a fixed set.
pub static CONNECTIONS_REFUSED: LazyLock<Family<Labels, Counter>> = LazyLock::new(Family::default);

/// STARTTLS negotiations by `leg` (`inbound`, `outbound`) and `outcome`
/// (`success`, `failed`).
pub static TLS_CONNECTIONS: LazyLock<Family<Labels, Counter>> = LazyLock::new(Family::default);

/// At accept: the listener's or the gateway's connection limit.
pub const REFUSED_LIMIT: &str = "connection_limit";
/// No sender group of the HAT matched the client.
pub const REFUSED_NO_SENDER_GROUP: &str = "no_sender_group";
/// The sender group's policy rejects (554) or drops the connection.
pub const REFUSED_REJECT: &str = "reject";
/// The policy's `TCPREFUSE`.
pub const REFUSED_TCPREFUSE: &str = "tcprefuse";
/// The mail flow policy's connections per IP.
pub const REFUSED_PER_IP: &str = "per_ip_limit";
/// The reception memory budget was spent.
pub const REFUSED_MEMORY: &str = "memory_budget";

fn pairs(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// Counts a connection the HAT classified (`behavior` as mail_logs
/// writes it, `ACCEPT`; the label is lower case).
pub fn count_connection(listener: &str, sender_group: &str, behavior: &str) {
    let behavior = behavior.to_ascii_lowercase();
    CONNECTIONS
        .get_or_create(&pairs(&[
            ("listener", listener),
            ("sender_group", sender_group),
            ("behavior", &behavior),
        ]))
        .inc();
}

/// Counts a connection refused for `reason` (a `REFUSED_*` word).
pub fn count_refusal(listener: &str, reason: &'static str) {
    CONNECTIONS_REFUSED
        .get_or_create(&pairs(&[("listener", listener), ("reason", reason)]))
        .inc();
}

/// Counts `event` when it ends a STARTTLS negotiation, on either leg.
pub fn count_tls(event: &MailEvent) {
    let (leg, outcome) = match event {
        MailEvent::IcidTlsSuccess { .. } => ("inbound", "success"),
        MailEvent::IcidTlsFailed { .. } => ("inbound", "failed"),
        MailEvent::DcidTlsSuccess { .. } => ("outbound", "success"),
        MailEvent::DcidTlsFailed { .. } | MailEvent::DcidTlsFailedPlain { .. } => {
            ("outbound", "failed")
        }
        _ => return,
    };
    TLS_CONNECTIONS
        .get_or_create(&pairs(&[("leg", leg), ("outcome", outcome)]))
        .inc();
}

/// Counts one anti-spam verdict.
pub fn count_spam_verdict(verdict: &str) {
    SPAM_VERDICTS
        .get_or_create(&vec![("verdict".to_string(), verdict.to_string())])
        .inc();
}

/// Counts `event` when it is a recipient refusal.
pub fn count_rejection(event: &MailEvent) {
    let reason = match event {
        MailEvent::RecipientRejected { .. } => "syntax",
        MailEvent::ToRejectedTrick { .. } => "routing_trick",
        MailEvent::ToRejectedByRat { .. } => "rat",
        MailEvent::ToRejectedRate { .. } => "recipient_rate",
        MailEvent::InvalidBounceRejected { .. } => "bounce_verification",
        _ => return,
    };
    RECIPIENTS_REJECTED
        .get_or_create(&vec![("reason".to_string(), reason.to_string())])
        .inc();
}

/// Counts, once per message, every filter that took an action on it.
pub fn count_filter_hits(trace: &[TraceLine]) {
    let mut hit: Vec<&str> = trace
        .iter()
        .filter(|t| matches!(t.event, TraceEvent::Action(_) | TraceEvent::Final(_)))
        .map(|t| t.filter.as_str())
        .collect();
    hit.sort_unstable();
    hit.dedup();
    for filter in hit {
        FILTER_HITS
            .get_or_create(&vec![("filter".to_string(), filter.to_string())])
            .inc();
    }
}

/// 1 ms to 10 s: a flash fsync and a DNS answer are both in there.
fn latency_buckets() -> [f64; 9] {
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.0, 10.0]
}

/// Adds one duration to `histogram`, in seconds.
pub fn observe(histogram: &Histogram, took: Duration) {
    histogram.observe(took.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Dcid, Icid};

    fn value(family: &Family<Labels, Counter>, labels: &[(&str, &str)]) -> u64 {
        family.get_or_create(&pairs(labels)).get()
    }

    #[test]
    fn tls_is_counted_per_leg_and_outcome_and_refusals_per_listener_and_reason() {
        let outbound_ok = [("leg", "outbound"), ("outcome", "success")];
        let outbound_failed = [("leg", "outbound"), ("outcome", "failed")];
        let inbound_ok = [("leg", "inbound"), ("outcome", "success")];
        let before = (
            value(&TLS_CONNECTIONS, &outbound_ok),
            value(&TLS_CONNECTIONS, &outbound_failed),
            value(&TLS_CONNECTIONS, &inbound_ok),
        );
        count_tls(&MailEvent::DcidTlsSuccess {
            dcid: Dcid(1),
            protocol: "TLSv1.3".into(),
            cipher: "TLS13_AES_256_GCM_SHA384".into(),
        });
        count_tls(&MailEvent::DcidTlsFailedPlain {
            dcid: Dcid(2),
            reason: "handshake".into(),
        });
        count_tls(&MailEvent::IcidTlsSuccess {
            icid: Icid(3),
            protocol: "TLSv1.3".into(),
            cipher: "TLS13_AES_128_GCM_SHA256".into(),
        });
        count_tls(&MailEvent::IcidClose { icid: Icid(3) });
        assert_eq!(
            (
                value(&TLS_CONNECTIONS, &outbound_ok),
                value(&TLS_CONNECTIONS, &outbound_failed),
                value(&TLS_CONNECTIONS, &inbound_ok),
            ),
            (before.0 + 1, before.1 + 1, before.2 + 1)
        );

        let refused = [("listener", "UnitTestListener"), ("reason", REFUSED_PER_IP)];
        count_refusal("UnitTestListener", REFUSED_PER_IP);
        assert_eq!(value(&CONNECTIONS_REFUSED, &refused), 1);
        count_connection("UnitTestListener", "RELAYLIST", "RELAY");
        let relayed = [
            ("listener", "UnitTestListener"),
            ("sender_group", "RELAYLIST"),
            ("behavior", "relay"),
        ];
        assert_eq!(value(&CONNECTIONS, &relayed), 1);
    }
}

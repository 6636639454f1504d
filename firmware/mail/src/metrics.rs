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

//! Histograms of the mail stages that `/metrics` exports (the daemon
//! renders them with its counters, see the `breakwater` crate's
//! `metrics`). One set per process: the queue committer and the resolver
//! are rebuilt on a configuration change, the distributions carry on.
//!
//! They are `prometheus-client` histograms, lock-free to observe; the
//! buckets are fixed here so the series stay few.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::metrics::histogram::Histogram;

/// Messages made durable by one group commit (one flush).
pub static COMMIT_BATCH: LazyLock<Histogram> =
    LazyLock::new(|| Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]));

/// How long one group commit took: the bodies' fsync and the index flush.
pub static COMMIT_SECONDS: LazyLock<Histogram> =
    LazyLock::new(|| Histogram::new(latency_buckets()));

/// How long a DNS lookup took (A/AAAA and MX for delivery), answered or
/// not.
pub static DNS_SECONDS: LazyLock<Histogram> = LazyLock::new(|| Histogram::new(latency_buckets()));

/// 1 ms to 10 s: a flash fsync and a DNS answer are both in there.
fn latency_buckets() -> [f64; 9] {
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.0, 10.0]
}

/// Adds one duration to `histogram`, in seconds.
pub fn observe(histogram: &Histogram, took: Duration) {
    histogram.observe(took.as_secs_f64());
}

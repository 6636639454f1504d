//! Alerts (`alertconfig`): messages the gateway writes to its alert
//! recipients and delivers like any other (SMTP routes, MX), as AsyncOS
//! does. An alert is queued the way a DSN is: a new MID from the null
//! sender (an alert that bounces cannot raise another), logged in
//! mail_logs as generated, then routed by the work queue.
//!
//! The same alert (same class, severity and key) is sent again only after
//! the repeat interval: AsyncOS's initial wait (300 s), doubling after each
//! repeat up to its maximum (3600 s). The set of alerts waiting out their
//! interval is bounded ([`MAX_TRACKED_ALERTS`]): in an alert storm the
//! oldest finished waits are forgotten first, and a new distinct alert is
//! dropped (logged) rather than grow memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::config::{AlertClass, Config, Severity};
use crate::ids::{Icid, IdAllocator, Mid, Rid};
use crate::logging::MailEvent;
use crate::logging::WriteMailLog as _;
use crate::queue::QueueHandle;
use crate::queue::record::{MessageRecord, Processing, Reception, Recipient, RecipientStatus};

/// Distinct alerts remembered for duplicate suppression at most.
pub const MAX_TRACKED_ALERTS: usize = 256;

/// One alert: what the subject and the body say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub class: AlertClass,
    pub severity: Severity,
    /// What makes two alerts the same (`listener IncomingMail bind`): a
    /// repeat within the interval is suppressed.
    pub key: String,
    /// The subject's summary: one line.
    pub summary: String,
    /// The body: what happened and what to do.
    pub details: String,
}

impl Alert {
    pub fn new(
        class: AlertClass,
        severity: Severity,
        key: impl Into<String>,
        summary: impl Into<String>,
        details: impl Into<String>,
    ) -> Self {
        Self {
            class,
            severity,
            key: key.into(),
            summary: summary.into(),
            details: details.into(),
        }
    }

    /// `[Breakwater] Critical-gw.example.com: Listener IncomingMail cannot bind`.
    pub fn subject(&self, hostname: &str) -> String {
        format!(
            "[Breakwater] {}-{}: {}",
            self.severity.name(),
            hostname,
            breakwater_types::display::flatten(&self.summary, 200)
        )
    }
}

struct Waiting {
    /// Unix seconds before which a repeat is suppressed.
    until: i64,
    /// The wait after the next send.
    next_wait: u32,
    suppressed: u64,
}

/// Duplicate suppression: which alerts were sent and until when their
/// repeats wait. Sans-I/O (time is passed in).
#[derive(Default)]
pub struct AlertBook {
    waiting: HashMap<(AlertClass, Severity, String), Waiting>,
}

/// What [`AlertBook::admit`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Send it; `suppressed` repeats were held back since the last one.
    Send { suppressed: u64 },
    /// A repeat inside its interval.
    Duplicate,
    /// Too many distinct alerts are waiting out their interval.
    Full,
}

impl AlertBook {
    /// Whether `alert` is sent now (`now` in Unix seconds), under the
    /// `initial` and `max` waits (seconds; `initial` 0 sends every repeat).
    pub fn admit(&mut self, alert: &Alert, now: i64, initial: u32, max: u32) -> Admission {
        if initial == 0 {
            return Admission::Send { suppressed: 0 };
        }
        let key = (alert.class, alert.severity, alert.key.clone());
        if let Some(w) = self.waiting.get_mut(&key) {
            if now < w.until {
                w.suppressed += 1;
                return Admission::Duplicate;
            }
            let suppressed = std::mem::take(&mut w.suppressed);
            w.until = now + i64::from(w.next_wait);
            w.next_wait = w.next_wait.saturating_mul(2).min(max.max(initial));
            return Admission::Send { suppressed };
        }
        if self.waiting.len() >= MAX_TRACKED_ALERTS {
            // Waits that are over hold nothing back: forget them first.
            self.waiting.retain(|_, w| now < w.until);
            if self.waiting.len() >= MAX_TRACKED_ALERTS {
                return Admission::Full;
            }
        }
        self.waiting.insert(
            key,
            Waiting {
                until: now + i64::from(initial),
                next_wait: initial.saturating_mul(2).min(max.max(initial)),
                suppressed: 0,
            },
        );
        Admission::Send { suppressed: 0 }
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

/// The alert message (RFC 5322, CRLF lines).
pub fn build(
    hostname: &str,
    from: &str,
    to: &[String],
    mid: Mid,
    alert: &Alert,
    suppressed: u64,
) -> Vec<u8> {
    let date = breakwater_types::clock::now();
    let mut out = format!(
        "From: {from}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <alert.{mid}.{}@{hostname}>\r\n\
         Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        to.join(", "),
        alert.subject(hostname),
        date.to_rfc2822(),
        chrono::Utc::now().timestamp_micros(),
    );
    out.push_str(&format!(
        "The {} message is:\r\n\r\n{}\r\n",
        alert.severity.name(),
        alert.summary
    ));
    for line in alert.details.lines() {
        out.push_str(line);
        out.push_str("\r\n");
    }
    if suppressed > 0 {
        out.push_str(&format!(
            "\r\nThis alert was raised {suppressed} more time(s) since it was last sent.\r\n"
        ));
    }
    out.push_str(&format!(
        "\r\nVersion: Breakwater {}\r\nHostname: {hostname}\r\nAlert class: {}\r\nSeverity: {}\r\nTime: {}\r\n",
        env!("CARGO_PKG_VERSION"),
        alert.class.name(),
        alert.severity.name(),
        date.format(breakwater_types::clock::HEADER_TIME_FORMAT),
    ));
    out.into_bytes()
}

/// Raises alerts from any stage: cheap to clone.
#[derive(Clone)]
pub struct Alerter {
    inner: Arc<Inner>,
}

struct Inner {
    config: watch::Receiver<Arc<Config>>,
    queue: QueueHandle,
    ids: Arc<IdAllocator>,
    book: Mutex<AlertBook>,
}

impl Alerter {
    /// Waits for the next alert check: the configured interval, cut short
    /// by a commit (a new recipient or threshold applies at once).
    pub async fn next_check(&self) {
        let mut changes = self.inner.config.clone();
        changes.mark_unchanged();
        tokio::select! {
            _ = tokio::time::sleep(check_interval(&self.inner.config)) => {}
            _ = changes.changed() => {}
        }
    }

    pub fn new(
        config: watch::Receiver<Arc<Config>>,
        queue: QueueHandle,
        ids: Arc<IdAllocator>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                queue,
                ids,
                book: Mutex::new(AlertBook::default()),
            }),
        }
    }

    /// Logs `alert` and, when someone receives its class and severity and
    /// it is not a repeat inside its interval, queues the alert message.
    /// Must be called inside the runtime (the message is queued by a task).
    pub fn raise(&self, alert: Alert) {
        let config = self.inner.config.borrow().clone();
        let settings = &config.alerts;
        let to = settings.recipients_for(alert.class, alert.severity);
        let line = format!(
            "Alert ({} {}): {}",
            alert.severity.name(),
            alert.class.name(),
            alert.summary
        );
        match alert.severity {
            Severity::Critical => tracing::error!("{line}"),
            Severity::Warning => tracing::warn!("{line}"),
            Severity::Information => tracing::info!("{line}"),
        }
        if to.is_empty() {
            return;
        }
        let now = chrono::Utc::now().timestamp();
        let admission = self
            .inner
            .book
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(
                &alert,
                now,
                settings.initial_interval_secs,
                settings.max_interval_secs,
            );
        let suppressed = match admission {
            Admission::Send { suppressed } => suppressed,
            Admission::Duplicate => {
                tracing::info!(
                    "alert held back (a repeat within its interval): {}",
                    alert.summary
                );
                return;
            }
            Admission::Full => {
                tracing::warn!(
                    "alert not sent: {MAX_TRACKED_ALERTS} distinct alerts are waiting out their repeat interval"
                );
                return;
            }
        };
        let Ok(mid) = self.inner.ids.mid() else {
            tracing::error!("cannot allocate a MID for an alert");
            return;
        };
        let hostname = &config.hostname;
        let body = build(
            hostname,
            &settings.from_for(hostname),
            &to,
            mid,
            &alert,
            suppressed,
        );
        let record = MessageRecord {
            mid,
            received_at: now,
            reception: Reception {
                icid: Icid(0),
                listener: "(alert)".to_string(),
                interface: config.delivery.interface.clone(),
                sender_group: String::new(),
                policy: String::new(),
                client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
                rdns: None,
                rdns_verified: false,
                helo: hostname.clone(),
                tls: None,
            },
            // The null sender: an alert that bounces raises nothing more.
            mail_from: String::new(),
            recipients: to
                .iter()
                .enumerate()
                .map(|(i, address)| Recipient {
                    rid: Rid(i as u32),
                    address: address.clone(),
                    status: RecipientStatus::Pending,
                    attempts: 0,
                    next_attempt: 0,
                    last_response: None,
                })
                .collect(),
            body_size: body.len() as u64,
            message_id: None,
            subject: Some(alert.subject(hostname)),
            // Not run through the filters, as a DSN.
            processing: Processing {
                processed: true,
                ..Default::default()
            },
        };
        MailEvent::AlertGenerated {
            mid,
            severity: alert.severity.name().to_string(),
            class: alert.class.name().to_string(),
            summary: breakwater_types::display::flatten(&alert.summary, 200),
        }
        .log();
        let queue = self.inner.queue.clone();
        tokio::spawn(async move {
            if let Err(e) = queue.enqueue(record, body).await {
                tracing::error!("MID {mid}: the alert could not be queued: {e}");
            }
        });
    }
}

/// The wait between two checks (`alertconfig setup --check-interval`).
pub fn check_interval(config: &watch::Receiver<Arc<Config>>) -> std::time::Duration {
    std::time::Duration::from_secs(u64::from(config.borrow().alerts.check_interval_secs.max(1)))
}

/// A problem the listeners or the management plane found at start or at
/// a commit (`Reception::apply`, `ManagementPlane::apply`): one that
/// cannot bind its port is Critical.
pub fn listener_problem(problem: &str) -> Alert {
    let bind = problem.contains("cannot listen on");
    let mut summary = problem.to_string();
    if let Some(first) = summary.get(..1) {
        summary.replace_range(..1, &first.to_ascii_uppercase());
    }
    if bind {
        Alert::new(
            AlertClass::System,
            Severity::Critical,
            format!("listener bind {problem}"),
            summary,
            "It accepts no connections until it can bind: free the port, or change the \
             interface or port (listenerconfig for a listener, adminaccessconfig or sshconfig \
             for Management), then commit, or restart.",
        )
    } else {
        Alert::new(
            AlertClass::MailDelivery,
            Severity::Warning,
            format!("listener {problem}"),
            summary,
            "Some settings could not be applied: check them with listenerconfig, dnsconfig, \
             sslconfig and certconfig.",
        )
    }
}

/// A Mail Delivery alert when the queue is fuller than `percent` of its
/// message or byte limit; `counts` is (messages, bytes).
pub fn queue_check(
    counts: (u64, u64),
    limits: &crate::config::QueueSettings,
    percent: u8,
) -> Option<Alert> {
    let over = |used: u64, max: u64| {
        max > 0 && u128::from(used) * 100 > u128::from(max) * u128::from(percent)
    };
    let (messages, bytes) = counts;
    if !over(messages, limits.max_messages) && !over(bytes, limits.max_spool_bytes) {
        return None;
    }
    Some(Alert::new(
        AlertClass::MailDelivery,
        Severity::Critical,
        "queue threshold",
        format!("The work queue is over {percent}% of its limit"),
        format!(
            "The queue holds {messages} messages ({bytes} bytes); its limits are {} messages and \
             {} bytes. At the limit, listeners answer 452 to new mail. Check deliveries with \
             tophosts and hoststatus.",
            limits.max_messages, limits.max_spool_bytes
        ),
    ))
}

/// A System alert when the data partition is fuller than `percent`
/// (`used` and `total` in bytes).
pub fn data_check(used: u64, total: u64, percent: u8) -> Option<Alert> {
    if total == 0 || u128::from(used) * 100 <= u128::from(total) * u128::from(percent) {
        return None;
    }
    Some(Alert::new(
        AlertClass::System,
        Severity::Critical,
        "data partition threshold",
        format!("The data partition is over {percent}% full"),
        format!(
            "{used} of {total} bytes are in use on the data partition (queue, logs, quarantines). \
             Free space: delete old quarantined mail, lower the log rollover settings, or check \
             the queue."
        ),
    ))
}

/// The block counts of a `statvfs` answer that the fullness depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsBlocks {
    /// `f_frsize`: the unit of the counts below.
    pub fragment_size: u64,
    /// `f_blocks`: the file system's size.
    pub blocks: u64,
    /// `f_bfree`: free blocks, including those reserved for root.
    pub free: u64,
    /// `f_bavail`: free blocks an unprivileged writer may use.
    pub available: u64,
}

impl FsBlocks {
    /// (used, capacity) bytes the way `df` computes its Use%: used is
    /// `blocks - bfree`, and the capacity is `used + bavail`, because the
    /// blocks reserved for root are neither used nor available to us.
    /// Counting them as used (`blocks - bavail` over `blocks`) raised the
    /// 90% alert while `df` showed the partition three quarters full.
    pub fn usage(&self) -> (u64, u64) {
        let used = self.blocks.saturating_sub(self.free);
        let capacity = used.saturating_add(self.available);
        (
            used.saturating_mul(self.fragment_size),
            capacity.saturating_mul(self.fragment_size),
        )
    }
}

/// (used, capacity) bytes of the file system holding `dir`, as `df`
/// counts them (see [`FsBlocks::usage`]).
pub fn partition_use(dir: &std::path::Path) -> std::io::Result<(u64, u64)> {
    let st = nix::sys::statvfs::statvfs(dir).map_err(std::io::Error::from)?;
    let blocks = FsBlocks {
        fragment_size: st.fragment_size() as u64,
        blocks: st.blocks() as u64,
        free: st.blocks_free() as u64,
        available: st.blocks_available() as u64,
    };
    Ok(blocks.usage())
}

/// Warnings for certificates that expire within `days` (Critical once
/// expired).
pub fn certificate_checks(
    config: &Config,
    now: chrono::DateTime<chrono::Utc>,
    days: u32,
) -> Vec<Alert> {
    use rustls_pki_types::pem::PemObject as _;
    let mut alerts = Vec::new();
    for cert in &config.certificates {
        let Some(Ok(der)) =
            rustls_pki_types::CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes()).next()
        else {
            continue;
        };
        let Ok((_, parsed)) = x509_parser::parse_x509_certificate(der.as_ref()) else {
            continue;
        };
        let not_after = parsed.validity().not_after.timestamp();
        let left = (not_after - now.timestamp()).div_euclid(86_400);
        if left >= i64::from(days) {
            continue;
        }
        let when = chrono::DateTime::from_timestamp(not_after, 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        let (severity, summary) = if left < 0 {
            (
                Severity::Critical,
                format!("Certificate {} has expired", cert.name),
            )
        } else {
            (
                Severity::Warning,
                format!("Certificate {} expires in {left} days", cert.name),
            )
        };
        alerts.push(Alert::new(
            AlertClass::System,
            severity,
            format!("certificate {}", cert.name),
            summary,
            format!(
                "The certificate {} is valid until {when}. Listeners and the management plane \
                 that use it fail TLS after that: import a new one with certconfig.",
                cert.name
            ),
        ));
    }
    alerts
}

/// Threat Defense copies failing one after another: counted between
/// monitor checks from the work queue's counters (sent, failed+expired).
#[derive(Default)]
pub struct TdcStreak {
    last: Option<(u64, u64)>,
    failures: u64,
}

impl TdcStreak {
    /// Feeds the cumulative counters; an alert once `threshold` copies
    /// failed with no copy delivered since.
    pub fn observe(&mut self, sent: u64, failed: u64, threshold: u32) -> Option<Alert> {
        let (last_sent, last_failed) = self.last.replace((sent, failed)).unwrap_or((sent, failed));
        if sent > last_sent {
            self.failures = 0;
        }
        self.failures += failed.saturating_sub(last_failed);
        if self.failures < u64::from(threshold) {
            return None;
        }
        Some(Alert::new(
            AlertClass::ThreatDefense,
            Severity::Critical,
            "threat defense failing",
            format!(
                "{} Threat Defense copies failed with none delivered",
                self.failures
            ),
            "Copies for Cisco Secure Email Threat Defense fail or expire (see the TDC lines of \
             mail_logs): check threatdefenseconfig (region, token) and the route to the intake.",
        ))
    }
}

/// Checks the queue, the data partition, the certificates and the Threat
/// Defense copies at once and then every [`check_interval`]; `tdc_counters` answers
/// (copies sent, copies failed or expired) since start.
pub fn start_monitor<F, Fut>(alerter: Alerter, data_dir: std::path::PathBuf, tdc_counters: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Option<(u64, u64)>> + Send,
{
    tokio::spawn(async move {
        let mut streak = TdcStreak::default();
        loop {
            let config = alerter.inner.config.borrow().clone();
            let s = &config.alerts;
            let queue = queue_check(
                alerter.inner.queue.counts(),
                &config.queue,
                s.queue_threshold_percent,
            );
            let dir = data_dir.clone();
            let data = tokio::task::spawn_blocking(move || partition_use(&dir))
                .await
                .ok()
                .and_then(Result::ok)
                .and_then(|(used, total)| data_check(used, total, s.data_threshold_percent));
            let certs = certificate_checks(&config, chrono::Utc::now(), s.certificate_expiry_days);
            let tdc = tdc_counters()
                .await
                .and_then(|(sent, failed)| streak.observe(sent, failed, s.threat_defense_failures));
            for alert in queue.into_iter().chain(data).chain(certs).chain(tdc) {
                alerter.raise(alert);
            }
            alerter.next_check().await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(key: &str) -> Alert {
        Alert::new(
            AlertClass::MailDelivery,
            Severity::Critical,
            key,
            format!("Listener {key} cannot bind"),
            "Address in use",
        )
    }

    #[test]
    fn repeats_wait_the_initial_interval_then_double_up_to_the_maximum() {
        let mut book = AlertBook::default();
        let a = alert("IncomingMail");
        assert_eq!(
            book.admit(&a, 0, 300, 1000),
            Admission::Send { suppressed: 0 }
        );
        assert_eq!(book.admit(&a, 299, 300, 1000), Admission::Duplicate);
        assert_eq!(
            book.admit(&a, 300, 300, 1000),
            Admission::Send { suppressed: 1 }
        );
        // Now 600 s.
        assert_eq!(book.admit(&a, 899, 300, 1000), Admission::Duplicate);
        assert_eq!(
            book.admit(&a, 900, 300, 1000),
            Admission::Send { suppressed: 1 }
        );
        // Capped at 1000 s.
        assert_eq!(book.admit(&a, 1899, 300, 1000), Admission::Duplicate);
        assert_eq!(
            book.admit(&a, 1900, 300, 1000),
            Admission::Send { suppressed: 1 }
        );
        assert_eq!(book.admit(&a, 2899, 300, 1000), Admission::Duplicate);
        // Another alert is not a duplicate; 0 sends every repeat.
        assert_eq!(
            book.admit(&alert("Other"), 1, 300, 1000),
            Admission::Send { suppressed: 0 }
        );
        assert_eq!(
            book.admit(&a, 2899, 0, 0),
            Admission::Send { suppressed: 0 }
        );
    }

    #[test]
    fn an_alert_storm_cannot_grow_the_book_past_its_bound() {
        let mut book = AlertBook::default();
        for i in 0..MAX_TRACKED_ALERTS {
            assert!(matches!(
                book.admit(&alert(&i.to_string()), 0, 300, 3600),
                Admission::Send { .. }
            ));
        }
        assert_eq!(
            book.admit(&alert("one more"), 10, 300, 3600),
            Admission::Full
        );
        assert_eq!(book.len(), MAX_TRACKED_ALERTS);
        // Once their waits are over, old alerts make room.
        assert!(matches!(
            book.admit(&alert("one more"), 300, 300, 3600),
            Admission::Send { .. }
        ));
        assert_eq!(book.len(), 1);
    }

    #[test]
    fn the_message_has_the_asyncos_like_subject_and_names_the_problem() {
        let a = alert("IncomingMail");
        let msg = build(
            "gw.example.com",
            "alert@gw.example.com",
            &["ops@example.com".to_string()],
            Mid(9),
            &a,
            2,
        );
        let parsed = mail_parser::MessageParser::new().parse(&msg[..]).unwrap();
        assert_eq!(
            parsed.subject(),
            Some("[Breakwater] Critical-gw.example.com: Listener IncomingMail cannot bind")
        );
        let text = parsed.body_text(0).unwrap();
        assert!(text.contains("Address in use"), "{text}");
        assert!(text.contains("raised 2 more time(s)"), "{text}");
        assert!(text.contains("Alert class: Mail Delivery"), "{text}");
    }

    #[test]
    fn the_queue_and_the_data_partition_alert_above_their_thresholds() {
        let limits = crate::config::QueueSettings {
            max_messages: 100,
            max_spool_bytes: 1000,
        };
        assert_eq!(queue_check((90, 900), &limits, 90), None);
        let a = queue_check((91, 0), &limits, 90).unwrap();
        assert_eq!(a.summary, "The work queue is over 90% of its limit");
        assert!(a.details.contains("91 messages"), "{}", a.details);
        assert!(queue_check((0, 901), &limits, 90).is_some());
        assert_eq!(data_check(90, 100, 90), None);
        let d = data_check(95, 100, 90).unwrap();
        assert_eq!(
            (d.class, d.severity),
            (AlertClass::System, Severity::Critical)
        );
        let (used, total) = partition_use(std::path::Path::new("/")).unwrap();
        assert!(total > 0 && used <= total);
    }

    #[test]
    fn the_data_partition_is_as_full_as_df_says_not_counting_root_reserved_blocks() {
        // The e2e machine: 252 GB, 60 GB used, 32 GB available; `df`
        // shows 66% (it rounds up); the other 160 GB are not available to us.
        let fs = FsBlocks {
            fragment_size: 4096,
            blocks: 63_000_000,
            free: 48_000_000,
            available: 8_000_000,
        };
        let (used, capacity) = fs.usage();
        assert_eq!(used, 15_000_000 * 4096);
        assert_eq!(capacity, 23_000_000 * 4096);
        assert_eq!(used * 100 / capacity, 65);
        assert_eq!(data_check(used, capacity, 90), None);
        // A partition with 5% reserved for root and 88% of the blocks
        // used: df says 93% (88 of 95 usable), so the alert is right.
        let full = FsBlocks {
            fragment_size: 1024,
            blocks: 100,
            free: 12,
            available: 7,
        };
        let (used, capacity) = full.usage();
        let alert = data_check(used, capacity, 90).unwrap();
        assert!(
            alert.details.contains("90112 of 97280 bytes"),
            "{}",
            alert.details
        );
        // A broken answer (more free than blocks) is not an overflow.
        let odd = FsBlocks {
            fragment_size: 4096,
            blocks: 10,
            free: 20,
            available: 20,
        };
        assert_eq!(odd.usage(), (0, 20 * 4096));
    }

    #[test]
    fn a_listener_that_cannot_bind_is_a_critical_system_alert() {
        let a = listener_problem(
            "listener IncomingMail: cannot listen on 127.0.0.1:25: Address in use (os error 98)",
        );
        assert_eq!(
            (a.class, a.severity),
            (AlertClass::System, Severity::Critical)
        );
        assert!(
            a.summary
                .starts_with("Listener IncomingMail: cannot listen on")
        );
        let m = listener_problem(
            "management HTTPS: cannot listen on 127.0.0.2:443: Address in use (os error 98)",
        );
        assert!(m.summary.starts_with("Management HTTPS: cannot listen on"));
        assert_eq!(m.severity, Severity::Critical);
        let b = listener_problem("listener X: certificate Demo does not load");
        assert_eq!(b.severity, Severity::Warning);
    }

    #[test]
    fn certificates_alert_within_the_days_left_and_once_expired() {
        let mut config = crate::config::factory::dev_factory_for_tests();
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(vec!["gw.example".to_string()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2027, 1, 31);
        let cert = params.self_signed(&key).unwrap();
        config.certificates[0].cert_pem = cert.pem();
        let not_after = chrono::DateTime::parse_from_rfc3339("2027-01-31T00:00:00Z")
            .unwrap()
            .timestamp();
        let at = |secs| chrono::DateTime::from_timestamp(secs, 0).unwrap();
        assert!(certificate_checks(&config, at(not_after - 40 * 86_400), 30).is_empty());
        let soon = certificate_checks(&config, at(not_after - 10 * 86_400 - 5), 30);
        assert_eq!(soon.len(), 1);
        assert!(
            soon[0].summary.ends_with("expires in 10 days"),
            "{}",
            soon[0].summary
        );
        let gone = certificate_checks(&config, at(not_after + 86_400), 30);
        assert_eq!(gone[0].severity, Severity::Critical);
        config.certificates.clear();
        assert!(certificate_checks(&config, at(0), 30).is_empty());
    }

    #[test]
    fn threat_defense_alerts_after_consecutive_failures_only() {
        let mut s = TdcStreak::default();
        assert_eq!(s.observe(10, 0, 5), None);
        assert_eq!(s.observe(10, 4, 5), None);
        // A delivered copy ends the streak.
        assert_eq!(s.observe(11, 6, 5), None);
        assert_eq!(s.observe(11, 8, 5), None);
        let a = s.observe(11, 9, 5).unwrap();
        assert_eq!(a.class, AlertClass::ThreatDefense);
        assert!(
            a.summary.starts_with("5 Threat Defense copies failed"),
            "{}",
            a.summary
        );
    }
}

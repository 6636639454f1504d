//! AsyncOS-style logs on flash, written through `tracing`.
//!
//! **Owns** the log files under `<data_dir>/logs/`, their line format and
//! their rotation:
//!
//! - `mail_logs/mail.current`: every event with target [`MAIL_LOGS_TARGET`]
//!   (`"mail_logs"`), at every level: the per-connection and per-message
//!   history (`New SMTP ICID`, `Start MID`, `Delivery start DCID`, ...).
//! - `system_logs/system.current`: every other event, INFO and above by
//!   default. `BREAKWATER_LOG` (EnvFilter syntax) is layered over the
//!   defaults for this log only, so `BREAKWATER_LOG=debug` shows our debug
//!   lines without opening the flood from sled, rustls, hickory, h2 and
//!   tokio, which stay at WARN unless named.
//!
//! Each line is `Tue Nov 24 01:06:39 2026 Info: <message>[ key=value]...`
//! (see `format`), written with one `write(2)` and no fsync so `tail -f`
//! sees it at once without a flash write per line.
//!
//! **Rotation is by size, not by time**, because the one thing the logs must
//! never do is fill the flash the queue lives on: a busy hour and a quiet
//! week cost the same bounded space, at most
//! `(max_files + 1) * max_file_bytes` per log. A full `<prefix>.current` is
//! renamed `<prefix>.@%Y%m%dT%H%M%S.s` (AsyncOS's names) and the oldest
//! rotated files beyond `max_files` are deleted.
//!
//! **Exposure:** none. Nothing here listens or reads input; it only writes
//! files. It does write peer-supplied text, so control characters are
//! escaped, one event is always one line, and a line is capped at
//! [`MAX_LINE_BYTES`] so the file size cap holds whatever arrives. I/O errors are reported once
//! on stderr and never stop the caller: logging cannot take mail flow down.

/// The typed `mail_logs` lines live with the domain types (pure: the SMTP
/// session core reports them without naming this module or tracing).
pub use breakwater_types::mail_event as event;
mod format;
mod layer;
mod names;
mod rotate;
pub mod ship;
pub mod syslog;

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::filter::{EnvFilter, FilterExt as _, filter_fn};
use tracing_subscriber::layer::{Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

pub use self::format::{MAX_LINE_BYTES, TRUNCATED};
use self::layer::{FileLayer, lock};
use self::rotate::LogFile;
use breakwater_config::logship::LogName;

/// The `tracing` target of mail log events:
/// `tracing::info!(target: MAIL_LOGS_TARGET, "Start MID {mid} ICID {icid}")`.
pub const MAIL_LOGS_TARGET: &str = "mail_logs";

/// The `tracing` target of the audit log (`audit_logs/audit.current`): one
/// line per configuration commit, with who, from where and what.
pub const AUDIT_LOGS_TARGET: &str = "audit_logs";

/// Writes one line to `audit_logs` (warning: a line about an audit that
/// failed).
pub fn audit(text: &str, warning: bool) {
    if warning {
        tracing::warn!(target: AUDIT_LOGS_TARGET, "{text}");
    } else {
        tracing::info!(target: AUDIT_LOGS_TARGET, "{text}");
    }
}

pub use self::event::MailEvent;

/// The one write path of mail events (`event.log()`; the type lives in
/// `breakwater-types`, pure, so the protocol cores can report events
/// without naming tracing).
pub trait WriteMailLog {
    /// Writes the line to `mail_logs`.
    fn log(&self);
}

impl WriteMailLog for MailEvent {
    /// Writes the line to `mail_logs` through [`MAIL_LOGS_TARGET`], so the
    /// file layer adds the time, the level word and escaping and rotates as
    /// for every other line.
    fn log(&self) {
        if self.is_warning() {
            tracing::warn!(target: MAIL_LOGS_TARGET, "{self}");
        } else {
            tracing::info!(target: MAIL_LOGS_TARGET, "{self}");
        }
    }
}

/// Environment variable holding extra EnvFilter directives for system logs.
pub const SYSTEM_FILTER_ENV: &str = "BREAKWATER_LOG";

/// System log defaults; an operator's directives are appended after these.
const SYSTEM_FILTER_DEFAULTS: &str = "info,sled=warn,rustls=warn,hickory=warn,h2=warn,tokio=warn";

/// Rotation limits for one log; defined with the configuration it is part of.
pub use breakwater_config::services::LogSettings;

/// Access to the open logs after [`init`]. Dropping it does not stop
/// logging (the subscriber holds its own references); it only gives up the
/// ability to change settings.
#[derive(Debug, Clone)]
pub struct LogHandle {
    mail: Arc<Mutex<LogFile>>,
    system: Arc<Mutex<LogFile>>,
    audit: Arc<Mutex<LogFile>>,
    shipper: Arc<Mutex<ship::Shipper>>,
}

impl LogHandle {
    /// Applies new rotation limits (called when a config commit changes
    /// them) to both logs. Sizes apply from the next line; a lowered
    /// `max_files` deletes the excess rotated files at once.
    pub fn set_settings(&self, settings: LogSettings) {
        lock(&self.mail).set_settings(settings);
        lock(&self.system).set_settings(settings);
        lock(&self.audit).set_settings(settings);
    }

    /// Applies the syslog subscriptions of `config` (called at start and
    /// at each commit): its host name is each message's HOSTNAME; TLS
    /// receivers are verified against the public roots and the
    /// administrator's CA certificates, as outbound SMTP verifies them.
    pub fn apply_shipping(&self, config: &breakwater_config::Config) {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for ca in &config.ca_certificates {
            for der in CertificateDer::pem_slice_iter(ca.cert_pem.as_bytes()).flatten() {
                // A bad administrator CA is skipped; the rest still work.
                let _ = roots.add(der);
            }
        }
        self.shipper
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .apply(
                &config.hostname,
                &config.log_shipping,
                &Arc::new(roots),
                &config
                    .ca_certificates
                    .iter()
                    .map(|ca| ca.cert_pem.clone())
                    .collect::<Vec<_>>(),
            );
    }

    /// Path of the current audit log (`<data_dir>/logs/audit_logs/audit.current`).
    pub fn audit_log_path(&self) -> PathBuf {
        lock(&self.audit).current_path()
    }

    /// Path of the current mail log (`<data_dir>/logs/mail_logs/mail.current`).
    pub fn mail_log_path(&self) -> PathBuf {
        lock(&self.mail).current_path()
    }

    /// Path of the current system log
    /// (`<data_dir>/logs/system_logs/system.current`).
    pub fn system_log_path(&self) -> PathBuf {
        lock(&self.system).current_path()
    }
}

/// Installs the global subscriber (once per process: a second call fails)
/// and bridges the `log` crate into it. Keep the returned handle for
/// [`LogHandle::set_settings`].
///
/// Fails if the log directories or files cannot be created.
pub fn init(
    data_dir: &Path,
    settings: LogSettings,
    echo_stderr: bool,
) -> anyhow::Result<LogHandle> {
    let (layer, handle) = layer(data_dir, settings, echo_stderr)?;
    tracing_subscriber::registry()
        .with(layer)
        .try_init()
        .context("installing the global log subscriber (logging::init runs once per process)")?;
    Ok(handle)
}

/// The layer [`init`] installs, for callers (tests) that compose their own
/// subscriber, e.g. with `tracing::subscriber::with_default`. Reads
/// `BREAKWATER_LOG` like `init`.
pub fn layer<S>(
    data_dir: &Path,
    settings: LogSettings,
    echo_stderr: bool,
) -> anyhow::Result<(impl Layer<S> + Send + Sync + 'static, LogHandle)>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let operator = std::env::var(SYSTEM_FILTER_ENV).ok();
    build(
        data_dir,
        settings,
        echo_stderr,
        system_filter(operator.as_deref()),
    )
}

fn build<S>(
    data_dir: &Path,
    settings: LogSettings,
    echo_stderr: bool,
    system_filter: EnvFilter,
) -> anyhow::Result<(impl Layer<S> + Send + Sync + 'static, LogHandle)>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let mail = open_log(data_dir, "logs/mail_logs", "mail", settings)?;
    let system = open_log(data_dir, "logs/system_logs", "system", settings)?;
    let audit = open_log(data_dir, "logs/audit_logs", "audit", settings)?;
    let tap = ship::Tap::default();
    let shipper = ship::Shipper::new(data_dir, tap.clone());

    let mail_layer = FileLayer::new(
        Arc::clone(&mail),
        echo_stderr,
        tap.clone(),
        LogName::MailLogs,
    )
    .with_filter(filter_fn(is_mail));
    let audit_layer = FileLayer::new(Arc::clone(&audit), false, tap.clone(), LogName::AuditLogs)
        .with_filter(filter_fn(is_audit));
    let system_layer = FileLayer::new(Arc::clone(&system), false, tap, LogName::SystemLogs)
        .with_filter(system_filter.and(filter_fn(|meta| !is_mail(meta) && !is_audit(meta))));
    Ok((
        mail_layer.and_then(audit_layer).and_then(system_layer),
        LogHandle {
            mail,
            system,
            audit,
            shipper: Arc::new(Mutex::new(shipper)),
        },
    ))
}

fn is_mail(meta: &Metadata<'_>) -> bool {
    meta.target() == MAIL_LOGS_TARGET
}

fn is_audit(meta: &Metadata<'_>) -> bool {
    meta.target() == AUDIT_LOGS_TARGET
}

/// The supervisor opens the logs as root in the mail daemon's directory:
/// the log directory is walked from the data directory without following
/// links (`supervisor::safe_fs`).
fn open_log(
    data_dir: &Path,
    rel: &str,
    prefix: &'static str,
    settings: LogSettings,
) -> anyhow::Result<Arc<Mutex<LogFile>>> {
    let path = data_dir.join(rel);
    let dir = breakwater_safe_fs::Dir::open(data_dir)
        .and_then(|d| d.subdir(Path::new(rel), Some(0o750)))
        .with_context(|| format!("creating log directory {}", path.display()))?;
    let file = LogFile::open(dir, prefix, settings)
        .with_context(|| format!("opening {prefix}.current in {}", path.display()))?;
    Ok(Arc::new(Mutex::new(file)))
}

/// The defaults with `operator`'s directives after them: a later directive
/// for the same target replaces an earlier one, and a bare level is less
/// specific than `sled=warn`, so the noisy crates stay quiet unless named.
/// A malformed value is reported and ignored rather than stopping the boot.
fn system_filter(operator: Option<&str>) -> EnvFilter {
    let defaults = || EnvFilter::builder().parse_lossy(SYSTEM_FILTER_DEFAULTS);
    let Some(operator) = operator.map(str::trim).filter(|s| !s.is_empty()) else {
        return defaults();
    };
    EnvFilter::builder()
        .parse(format!("{SYSTEM_FILTER_DEFAULTS},{operator}"))
        .unwrap_or_else(|e| {
            let _ = writeln!(
                io::stderr(),
                "breakwater: ignoring {SYSTEM_FILTER_ENV}={operator:?}: {e}"
            );
            defaults()
        })
}

#[cfg(test)]
mod golden;
#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod tests;

//! Whole-module tests: routing by target, the system filter, the handle.

use super::*;
use std::fs;
use tracing_subscriber::Registry;

fn run_with_logs(
    filter: EnvFilter,
    settings: LogSettings,
    emit: impl FnOnce(),
) -> (tempfile::TempDir, LogHandle) {
    let dir = tempfile::tempdir().unwrap();
    let (layer, handle) = build::<Registry>(dir.path(), settings, false, filter).unwrap();
    tracing::subscriber::with_default(Registry::default().with(layer), emit);
    (dir, handle)
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn routes_mail_logs_and_system_events_to_their_files() {
    let (dir, handle) = run_with_logs(system_filter(None), LogSettings::default(), || {
        tracing::info!(target: MAIL_LOGS_TARGET, "New SMTP ICID {} interface Data 1", 5);
        tracing::debug!(target: MAIL_LOGS_TARGET, mid = 7, "mail debug is kept");
        tracing::info!(target: "breakwater::queue", "queue opened");
        tracing::debug!(target: "breakwater::queue", "system debug is filtered");
        tracing::error!(target: "breakwater::delivery", dcid = 3, "route failed");
        tracing::info!(target: "sled::tree", "noisy info is filtered");
        tracing::warn!(target: "hickory_proto::udp", "noisy warning is kept");
    });
    assert_eq!(
        handle.mail_log_path(),
        dir.path().join("logs/mail_logs/mail.current")
    );
    let mail = lines(&handle.mail_log_path());
    assert_eq!(mail.len(), 2, "{mail:?}");
    assert!(mail[0].ends_with(" Info: New SMTP ICID 5 interface Data 1"));
    assert!(mail[1].ends_with(" Debug: mail debug is kept mid=7"));

    let system = lines(&dir.path().join("logs/system_logs/system.current"));
    assert_eq!(system.len(), 3, "{system:?}");
    assert!(system[0].ends_with(" Info: queue opened"));
    assert!(system[1].ends_with(" Critical: route failed dcid=3"));
    assert!(system[2].ends_with(" Warning: noisy warning is kept"));
}

#[test]
fn operator_directives_layer_over_the_defaults() {
    let filter = system_filter(Some("debug"));
    let (dir, _handle) = run_with_logs(filter, LogSettings::default(), || {
        tracing::debug!(target: "breakwater::queue", "system debug shown");
        tracing::info!(target: "sled::tree", "sled still capped");
    });
    let system = lines(&dir.path().join("logs/system_logs/system.current"));
    assert_eq!(system.len(), 1, "{system:?}");
    assert!(system[0].ends_with(" Debug: system debug shown"));
}

#[test]
fn malformed_operator_filter_falls_back_to_defaults() {
    let filter = system_filter(Some("breakwater=loud"));
    assert_eq!(filter.to_string(), system_filter(None).to_string());
}

#[test]
fn settings_apply_through_the_handle() {
    let settings = LogSettings {
        max_file_bytes: 1,
        max_files: 5,
    };
    let (dir, handle) = run_with_logs(system_filter(None), settings, || {
        for mid in 0..3 {
            tracing::info!(target: MAIL_LOGS_TARGET, "Start MID {mid}");
        }
    });
    let mail_dir = dir.path().join("logs/mail_logs");
    let rotated = || {
        fs::read_dir(&mail_dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name() != "mail.current")
            .count()
    };
    assert_eq!(rotated(), 2);
    handle.set_settings(LogSettings {
        max_file_bytes: 1,
        max_files: 1,
    });
    assert_eq!(rotated(), 1);
}

#[test]
fn init_reports_an_uncreatable_directory() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    fs::write(&blocker, "").unwrap();
    let err = build::<Registry>(&blocker, LogSettings::default(), false, system_filter(None))
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("creating log directory"),
        "{err:#}"
    );
}

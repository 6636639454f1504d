//! The configuration store: committed config, staged changes and the commit
//! history, all in sled.
//!
//! Protocol: every command edits the *staged* copy (created from the
//! committed one on first change). `commit` moves staged to committed and
//! appends a history entry in one sled transaction across both trees, then
//! flushes, so a crash leaves either the old or the new config, never a mix.
//! `clear` deletes the staged copy. A rollback stages an earlier commit's
//! config, which the administrator then commits like any other change.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::codec::{self, CodecError};
use breakwater_config::{Config, ConnectionSettings};

/// Stored configs grow only at their end: postcard writes fields in order
/// without framing, and `Config` is the last field of [`CommitRecord`], so
/// a record of an older version is a newer one without its last fields.
/// [`decode`] migrates by appending their defaults (see [`missing_tail`]),
/// so data directories made before a change (and their commit history)
/// still load.
/// - Version 2 added `Config::default_gateway`.
/// - Version 3 added `Config::connections` (connection caps, delivery
///   deadlines, next-hop checks) and `Config::reception` (header limits,
///   memory budget).
/// - Version 4 added `Config::management_dhcp` (false: a box configured
///   before keeps its static Management address).
/// - Version 5 added `Config::management` (the web UI, REST API and SSH on
///   Management, on their default ports).
/// - Version 6 added `Config::time_zone` (UTC), `Config::ssl` (TLS 1.2 and
///   1.3, the `DEFAULT` ciphers) and `Config::hat_comments` (none).
/// - Version 7 added `Config::ntp` (NTP off, no servers), `Config::metrics`
///   (no plain-HTTP metrics port), `Config::alerts` (no recipients,
///   AsyncOS's intervals) and `Config::log_shipping` (no subscriptions).
/// - Version 8 (issue 17, content security) added
///   `Config::bounce_verification` (no keys, no tagging),
///   `Config::antispam` (engine off, factory policies),
///   `Config::quarantine_settings` (no retention periods in minutes),
///   `Config::domain_keys` (no DKIM keys or profiles, signing off),
///   `Config::sender_auth` (SPF, DKIM and DMARC verification off; the
///   DEFAULT DMARC profile) and `Config::call_ahead` (no call-ahead
///   profiles; DSNs attach the original's headers only), then
///   `Config::antivirus` (scanning off, clamd at 127.0.0.1:3310, no
///   per-policy settings).
/// - Version 9 (issue 19, performance) added `Config::connection_cache`
///   (idle delivery connections kept 2 s, at most 50 per destination and
///   500 in all).
const CONFIG_VERSION: u8 = 9;
const CONFIG_VERSION_1: u8 = 1;
#[cfg(test)] // Migrated by the same range as 1 and 3; named by the tests.
const CONFIG_VERSION_2: u8 = 2;
#[cfg(test)] // Migrated by the same range as 1 and 4; named by the tests.
const CONFIG_VERSION_3: u8 = 3;
#[cfg(test)] // Migrated by the same range as 1 and 5; named by the tests.
const CONFIG_VERSION_4: u8 = 4;
#[cfg(test)] // Migrated by the same range as 1 and 6; named by the tests.
const CONFIG_VERSION_5: u8 = 5;
#[cfg(test)] // Migrated by the same range as 1 and 7; named by the tests.
const CONFIG_VERSION_6: u8 = 6;
#[cfg(test)] // Migrated by the same range as 1 and 8; named by the tests.
const CONFIG_VERSION_7: u8 = 7;
const CONFIG_VERSION_8: u8 = 8;
const COMMITTED: &str = "committed";
const STAGED: &str = "staged";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("configuration storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("there are no changes to commit")]
    NothingToCommit,
    #[error("no committed configuration (the store is not initialised)")]
    Uninitialised,
    #[error("there is no commit number {0}")]
    NoSuchCommit(u64),
    /// What was to be staged fails [`Config::validate`]; nothing was staged.
    #[error(transparent)]
    Invalid(#[from] breakwater_config::ConfigError),
}

/// One entry of the commit history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitRecord {
    pub number: u64,
    /// Seconds since the Unix epoch.
    pub time: i64,
    pub user: String,
    pub comment: String,
    pub config: Config,
}

pub struct ConfigStore {
    db: sled::Db,
    tree: sled::Tree,
    history: sled::Tree,
}

impl ConfigStore {
    pub fn open(db: &sled::Db) -> Result<Self, StoreError> {
        Ok(Self {
            db: db.clone(),
            tree: db.open_tree("config")?,
            history: db.open_tree("config_history")?,
        })
    }

    /// A store of its own for a cluster level's staged changes
    /// (`crate::cluster_state`): trees `cluster_view_NAME` and
    /// `cluster_view_NAME_history`, apart from the machine's.
    pub fn open_view(db: &sled::Db, name: &str) -> Result<Self, StoreError> {
        Ok(Self {
            db: db.clone(),
            tree: db.open_tree(format!("cluster_view_{name}"))?,
            history: db.open_tree(format!("cluster_view_{name}_history"))?,
        })
    }

    /// Sets the committed copy without a history record (a cluster
    /// level's view: its history is the level's, in etcd).
    pub fn set_committed(&self, config: &Config) -> Result<(), StoreError> {
        self.tree
            .insert(COMMITTED, codec::encode(CONFIG_VERSION, config)?)?;
        crate::durable::flush(&self.tree)?;
        Ok(())
    }

    pub fn is_initialised(&self) -> Result<bool, StoreError> {
        Ok(self.tree.contains_key(COMMITTED)?)
    }

    /// The configuration in force.
    pub fn committed(&self) -> Result<Config, StoreError> {
        let bytes = self.tree.get(COMMITTED)?.ok_or(StoreError::Uninitialised)?;
        decode(&bytes)
    }

    /// Uncommitted changes, if there are any.
    pub fn staged(&self) -> Result<Option<Config>, StoreError> {
        match self.tree.get(STAGED)? {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// What a command edits: the staged copy, or the committed one.
    pub fn working(&self) -> Result<Config, StoreError> {
        match self.staged()? {
            Some(c) => Ok(c),
            None => self.committed(),
        }
    }

    /// Stages `config` if it passes [`Config::validate`]: every path that
    /// changes the configuration (commands, console, `loadconfig`,
    /// rollback) ends here, so none can stage what the others refuse.
    pub fn stage(&self, config: &Config) -> Result<(), StoreError> {
        config.validate()?;
        self.tree
            .insert(STAGED, codec::encode(CONFIG_VERSION, config)?)?;
        crate::durable::flush(&self.tree)?;
        Ok(())
    }

    pub fn clear(&self) -> Result<bool, StoreError> {
        let had = self.tree.remove(STAGED)?.is_some();
        crate::durable::flush(&self.tree)?;
        Ok(had)
    }

    /// Commits the staged changes (or, when `initial`, `config` itself).
    pub fn commit(
        &self,
        user: &str,
        comment: &str,
        initial: Option<&Config>,
    ) -> Result<CommitRecord, StoreError> {
        let config = match initial {
            Some(c) => c.clone(),
            None => self.staged()?.ok_or(StoreError::NothingToCommit)?,
        };
        let number = self
            .history
            .last()?
            .map(|(k, _)| key_number(&k))
            .unwrap_or(0)
            + 1;
        let record = CommitRecord {
            number,
            time: chrono::Utc::now().timestamp(),
            user: user.to_string(),
            comment: comment.to_string(),
            config: config.clone(),
        };
        let config_bytes = codec::encode(CONFIG_VERSION, &config)?;
        let record_bytes = codec::encode(CONFIG_VERSION, &record)?;
        (&self.tree, &self.history)
            .transaction(|(tree, history)| {
                tree.insert(COMMITTED, config_bytes.as_slice())?;
                tree.remove(STAGED)?;
                history.insert(&number.to_be_bytes(), record_bytes.as_slice())?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => StoreError::Sled(e),
                TransactionError::Abort(()) => StoreError::Sled(sled::Error::Unsupported(
                    "config commit aborted".to_string(),
                )),
            })?;
        crate::durable::flush(&self.db)?;
        Ok(record)
    }

    /// The commit history, oldest first.
    pub fn history(&self) -> Result<Vec<CommitRecord>, StoreError> {
        self.history.iter().values().map(|v| decode(&v?)).collect()
    }

    /// Whether anyone has committed since the factory configuration. The
    /// first commit of a store is always the factory one (the daemon makes
    /// it on a new data directory), so any second commit means a user has
    /// configured the appliance (`systemsetup` hints at itself until then).
    pub fn configured(&self) -> Result<bool, StoreError> {
        Ok(self.history.iter().keys().nth(1).transpose()?.is_some())
    }

    pub fn commit_record(&self, number: u64) -> Result<CommitRecord, StoreError> {
        let bytes = self
            .history
            .get(number.to_be_bytes())?
            .ok_or(StoreError::NoSuchCommit(number))?;
        decode(&bytes)
    }
}

/// A stored config or commit record, migrating older versions (see
/// [`CONFIG_VERSION`]).
fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&v, body)) if (CONFIG_VERSION_1..=CONFIG_VERSION_8).contains(&v) => {
            let tail = missing_tail(v)?;
            let mut upgraded = Vec::with_capacity(bytes.len() + tail.len());
            upgraded.push(CONFIG_VERSION);
            upgraded.extend_from_slice(body);
            upgraded.extend_from_slice(&tail);
            Ok(codec::decode(CONFIG_VERSION, &upgraded)?)
        }
        _ => Ok(codec::decode(CONFIG_VERSION, bytes)?),
    }
}

/// The encoded defaults of the fields a record of `version` lacks.
fn missing_tail(version: u8) -> Result<Vec<u8>, StoreError> {
    let mut tail = Vec::new();
    if version < 2 {
        tail.push(0); // default_gateway: None
    }
    if version < 3 {
        let connections = ConnectionSettings::default();
        tail.extend(postcard::to_allocvec(&connections).map_err(CodecError::from)?);
        let reception = breakwater_config::model::ReceptionSettings::default();
        tail.extend(postcard::to_allocvec(&reception).map_err(CodecError::from)?);
    }
    if version < 4 {
        tail.push(0); // management_dhcp: false
    }
    if version < 5 {
        let management = breakwater_config::ManagementAccess::default();
        tail.extend(postcard::to_allocvec(&management).map_err(CodecError::from)?);
    }
    if version < 6 {
        let zone = breakwater_types::clock::DEFAULT_ZONE.to_string();
        tail.extend(postcard::to_allocvec(&zone).map_err(CodecError::from)?);
        let ssl = breakwater_config::SslConfig::default();
        tail.extend(postcard::to_allocvec(&ssl).map_err(CodecError::from)?);
        tail.push(0); // hat_comments: empty
    }
    // --- ntp (issue 16) ---
    if version < 7 {
        let ntp = breakwater_config::NtpSettings::default();
        tail.extend(postcard::to_allocvec(&ntp).map_err(CodecError::from)?);
    }
    // --- metrics (issue 16) ---
    if version < 7 {
        let metrics = breakwater_config::MetricsSettings::default();
        tail.extend(postcard::to_allocvec(&metrics).map_err(CodecError::from)?);
    }
    // --- end metrics ---
    // -- alerts (issue 16) --
    if version < 7 {
        let alerts = breakwater_config::AlertSettings::default();
        tail.extend(postcard::to_allocvec(&alerts).map_err(CodecError::from)?);
    }
    // -- end alerts --
    // --- log shipping (issue 16) ---
    if version < 7 {
        tail.push(0); // log_shipping.subscriptions: empty
    }
    // --- end log shipping ---
    // --- bounce verification (issue 17) ---
    if version < 8 {
        let bv = breakwater_config::bounce_verification::BounceVerificationSettings::default();
        tail.extend(postcard::to_allocvec(&bv).map_err(CodecError::from)?);
    }
    // --- end bounce verification ---
    // --- antispam (issue 17) ---
    if version < 8 {
        let antispam = breakwater_config::AntiSpamSettings::default();
        tail.extend(postcard::to_allocvec(&antispam).map_err(CodecError::from)?);
    }
    // --- end antispam ---
    // --- quarantines (issue 17) ---
    if version < 8 {
        tail.push(0); // quarantine_settings.retention_minutes: empty
        let notify = breakwater_config::quarantine_settings::SpamNotification::default();
        tail.extend(postcard::to_allocvec(&notify).map_err(CodecError::from)?);
    }
    // --- end quarantines ---
    // --- dkim signing (issue 17) ---
    if version < 8 {
        let dk = breakwater_config::domain_keys::DomainKeys::default();
        tail.extend(postcard::to_allocvec(&dk).map_err(CodecError::from)?);
    }
    // --- end dkim signing ---
    // --- sender auth (issue 17) ---
    if version < 8 {
        let sender_auth = breakwater_config::sender_auth::SenderAuthSettings::default();
        tail.extend(postcard::to_allocvec(&sender_auth).map_err(CodecError::from)?);
    }
    // --- end sender auth ---
    // --- call-ahead (issue 17) ---
    if version < 8 {
        let call_ahead = breakwater_config::CallAheadSettings::default();
        tail.extend(postcard::to_allocvec(&call_ahead).map_err(CodecError::from)?);
    }
    // --- end call-ahead ---
    // --- antivirus (issue 17) ---
    if version < 8 {
        let antivirus = breakwater_config::AntiVirusSettings::default();
        tail.extend(postcard::to_allocvec(&antivirus).map_err(CodecError::from)?);
    }
    // --- end antivirus ---
    // --- delivery connection cache (issue 19) ---
    if version < 9 {
        let cache = breakwater_config::ConnectionCache::default();
        tail.extend(postcard::to_allocvec(&cache).map_err(CodecError::from)?);
    }
    // --- end delivery connection cache ---
    Ok(tail)
}

fn key_number(key: &[u8]) -> u64 {
    <[u8; 8]>::try_from(key)
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// Reads the committed configuration from `<data_dir>/db` (never creating
/// it), or `None` when there is none yet: for init (PID 1), which reads
/// the network settings before the daemon runs; a damaged database is an
/// error, never a panic.
pub fn read_committed(data_dir: &Path) -> Result<Option<Config>, String> {
    let path = data_dir.join("db");
    if !path.exists() {
        return Ok(None);
    }
    // sled panics on some kinds of damage; PID 1 must not.
    let opened = std::panic::catch_unwind(|| {
        sled::Config::new()
            .path(&path)
            .cache_capacity(8 * 1024 * 1024)
            .open()
    });
    let db = match opened {
        Ok(Ok(db)) => db,
        Ok(Err(e)) => return Err(format!("cannot open {}: {e}", path.display())),
        Err(_) => return Err(format!("{} is damaged (sled panicked)", path.display())),
    };
    let result = ConfigStore::open(&db).and_then(|store| store.committed());
    drop(db);
    match result {
        Ok(config) => Ok(Some(config)),
        Err(StoreError::Uninitialised) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factory() -> Config {
        breakwater_config::factory::dev_factory_for_tests()
    }

    #[test]
    fn staged_changes_take_effect_only_on_commit_and_clear_drops_them() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let store = ConfigStore::open(&db).unwrap();
        store.commit("admin", "factory", Some(&factory())).unwrap();

        let mut c = store.working().unwrap();
        c.hostname = "changed.example".into();
        store.stage(&c).unwrap();
        assert_ne!(store.committed().unwrap().hostname, "changed.example");
        assert!(store.clear().unwrap());
        assert!(matches!(
            store.commit("admin", "x", None),
            Err(StoreError::NothingToCommit)
        ));

        store.stage(&c).unwrap();
        let rec = store.commit("admin", "rename", None).unwrap();
        assert_eq!(rec.number, 2);
        assert_eq!(store.committed().unwrap().hostname, "changed.example");
        assert!(store.staged().unwrap().is_none());
        let history = store.history().unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[1].comment, "rename");
    }

    #[test]
    fn version_1_and_2_records_load_with_the_defaults_of_later_fields() {
        let mut cfg = factory();
        // Older records migrate to the defaults, not to a board's ports.
        cfg.management = Default::default();
        let record = CommitRecord {
            number: 1,
            time: 0,
            user: "system".into(),
            comment: "factory".into(),
            config: cfg.clone(),
        };
        // Version 1 wrote exactly this, minus the final None and the
        // reception settings; version 2 minus the reception settings.
        let tail = missing_tail(CONFIG_VERSION_1).unwrap();
        let v1 = |bytes: Vec<u8>| {
            assert!(bytes.ends_with(&tail), "new fields must stay the last");
            let mut old = bytes[..bytes.len() - tail.len()].to_vec();
            old[0] = CONFIG_VERSION_1;
            old
        };
        let v2_tail = missing_tail(CONFIG_VERSION_2).unwrap();
        let mut v2 = codec::encode(CONFIG_VERSION, &cfg).unwrap();
        v2.truncate(v2.len() - v2_tail.len());
        v2[0] = CONFIG_VERSION_2;
        assert_eq!(decode::<Config>(&v2).unwrap(), cfg);
        let old_config = v1(codec::encode(CONFIG_VERSION, &cfg).unwrap());
        let old_record = v1(codec::encode(CONFIG_VERSION, &record).unwrap());
        assert_eq!(decode::<Config>(&old_config).unwrap(), cfg);
        let back: CommitRecord = decode(&old_record).unwrap();
        assert_eq!((back.config, back.comment), (cfg, record.comment));
    }

    #[test]
    fn version_3_records_load_with_dhcp_off_on_management() {
        let mut cfg = factory();
        cfg.management = Default::default();
        let record = |cfg: &Config| CommitRecord {
            number: 3,
            time: 0,
            user: "admin".into(),
            comment: "before DHCP".into(),
            config: cfg.clone(),
        };
        // Version 3 wrote exactly this, minus the final `false` and the
        // management settings.
        let tail = missing_tail(CONFIG_VERSION_3).unwrap();
        assert_eq!(tail[0], 0);
        assert_eq!(tail[1..], missing_tail(CONFIG_VERSION_4).unwrap());
        let v3 = |bytes: Vec<u8>| {
            assert!(bytes.ends_with(&tail), "new fields must stay the last");
            let mut old = bytes[..bytes.len() - tail.len()].to_vec();
            old[0] = CONFIG_VERSION_3;
            old
        };
        let old_config = v3(codec::encode(CONFIG_VERSION, &cfg).unwrap());
        let back: Config = decode(&old_config).unwrap();
        assert!(!back.management_dhcp);
        assert_eq!(back, cfg);
        let old_record = v3(codec::encode(CONFIG_VERSION, &record(&cfg)).unwrap());
        let back: CommitRecord = decode(&old_record).unwrap();
        assert_eq!(back.config, cfg);
        // And version 4 keeps the setting.
        cfg.management_dhcp = true;
        let now = codec::encode(CONFIG_VERSION, &record(&cfg)).unwrap();
        assert!(decode::<CommitRecord>(&now).unwrap().config.management_dhcp);
    }

    #[test]
    fn version_4_records_load_with_the_management_plane_on_its_default_ports() {
        let mut cfg = factory();
        cfg.management = Default::default();
        let back: Config = decode(&as_written_by(CONFIG_VERSION_4, &cfg)).unwrap();
        assert_eq!(back.management.https_port, 443);
        assert_eq!(back.management.ssh_port, 22);
        assert_eq!(back, cfg);
    }

    #[test]
    fn version_5_records_load_in_utc_with_default_tls_and_no_comments() {
        let mut cfg = factory();
        cfg.management.ssh_port = 2022;
        let back: Config = decode(&as_written_by(CONFIG_VERSION_5, &cfg)).unwrap();
        assert_eq!(back.time_zone, "UTC");
        assert!(back.ssl.inbound.tls_1_2 && back.ssl.outbound.tls_1_3);
        assert!(back.hat_comments.is_empty());
        assert_eq!(back.management.ssh_port, 2022);
        assert_eq!(back, cfg);
    }

    /// `cfg` as firmware writing `version` stored it: the same bytes
    /// without the fields later versions appended.
    fn as_written_by(version: u8, cfg: &Config) -> Vec<u8> {
        let tail = missing_tail(version).unwrap();
        let mut old = codec::encode(CONFIG_VERSION, cfg).unwrap();
        assert!(old.ends_with(&tail), "new fields must stay the last");
        old.truncate(old.len() - tail.len());
        old[0] = version;
        old
    }

    #[test]
    fn version_6_records_load_with_ntp_off_no_metrics_port_alerts_or_log_subscriptions() {
        let mut cfg = factory();
        cfg.time_zone = "America/Chicago".into();
        let back: Config = decode(&as_written_by(CONFIG_VERSION_6, &cfg)).unwrap();
        assert!(!back.ntp.enabled && back.ntp.servers.is_empty());
        assert_eq!(back.ntp.poll_secs, 1024);
        assert_eq!(back.metrics.plain_port, None);
        assert!(back.alerts.recipients.is_empty());
        assert_eq!(
            (
                back.alerts.initial_interval_secs,
                back.alerts.max_interval_secs
            ),
            (300, 3600)
        );
        assert!(back.log_shipping.subscriptions.is_empty());
        assert_eq!(back.time_zone, "America/Chicago");
        assert_eq!(back, cfg);
    }

    #[test]
    fn version_8_records_load_with_the_default_connection_cache() {
        let mut cfg = factory();
        cfg.time_zone = "America/Chicago".into();
        let back: Config = decode(&as_written_by(CONFIG_VERSION_8, &cfg)).unwrap();
        let cache = back.connection_cache;
        assert_eq!(
            (
                cache.idle_secs,
                cache.max_idle_per_destination,
                cache.max_idle
            ),
            (2, 50, 500)
        );
        assert_eq!(back, cfg);
    }

    #[test]
    fn version_7_records_load_with_every_content_security_setting_off() {
        let mut cfg = factory();
        cfg.time_zone = "America/Chicago".into();
        // Firmware writing version 7 did not know the Spam quarantine.
        cfg.quarantines
            .retain(|q| q.name != breakwater_config::SPAM_QUARANTINE);
        let back: Config = decode(&as_written_by(CONFIG_VERSION_7, &cfg)).unwrap();
        // Bounce verification: no keys, no tagging.
        assert!(back.bounce_verification.keys.is_empty());
        assert!(!back.bounce_verification.default_tagging);
        // Anti-spam: engine off on rspamd's port, factory policies.
        assert!(!back.antispam.enabled);
        assert_eq!(back.antispam.port, 11333);
        assert!(back.antispam.policies.is_empty());
        // Quarantines: retention in hours only; Spam exists at read time.
        assert!(back.quarantine_settings.retention_minutes.is_empty());
        assert_eq!(
            back.quarantine_settings.spam_notification,
            breakwater_config::quarantine_settings::SpamNotification::default()
        );
        assert!(breakwater_config::quarantine_settings::quarantine(&back, "Spam").is_some());
        // DKIM: no keys or profiles, signing off everywhere.
        assert!(back.domain_keys.keys.is_empty() && back.domain_keys.profiles.is_empty());
        assert!(back.domain_keys.signing_policies.is_empty());
        assert_eq!(
            back.domain_keys.max_signed_bytes,
            breakwater_config::domain_keys::DEFAULT_MAX_SIGNED_BYTES
        );
        // Sender authentication: nothing verified under any flow policy.
        assert!(back.sender_auth.flow_policies.is_empty());
        // SMTP Call-Ahead: no profiles; DSNs follow the headers-only rule.
        assert!(back.call_ahead.profiles.is_empty());
        assert!(back.call_ahead.full_original_bounce_profiles.is_empty());
        // Anti-virus: scanning off, clamd's port, no per-policy settings.
        assert!(!back.antivirus.enabled);
        assert_eq!(back.antivirus.port, 3310);
        assert_eq!(back.time_zone, "America/Chicago");
        assert_eq!(back, cfg);
    }

    #[test]
    fn a_stored_config_the_parsers_now_refuse_still_loads_and_must_be_fixed_to_stage() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let store = ConfigStore::open(&db).unwrap();
        // What earlier firmware could store (its loadconfig let CR/LF into
        // banners and RAT texts): written as it was, bypassing `stage`.
        let mut old = factory();
        let l = &mut old.listeners[0];
        l.policies[0].smtp_banner_text = Some("Hi\r\n250 forged".into());
        l.rat[0].text = Some("no\r\n250 ok".into());
        l.hat[0].members.push("10.1.1.0/33".into());
        store
            .tree
            .insert(COMMITTED, codec::encode(CONFIG_VERSION, &old).unwrap())
            .unwrap();

        let loaded = store.committed().unwrap();
        assert_eq!(loaded, old, "loads as stored");
        let banner = loaded.listeners[0].policies[0].smtp_banner_text.as_ref();
        assert_eq!(
            banner.unwrap().to_string(),
            "Hi  250 forged",
            "never on the wire"
        );
        let ip = "10.1.1.1".parse().unwrap();
        assert!(
            !loaded.listeners[0].hat[0]
                .members
                .last()
                .unwrap()
                .matches(ip, None)
        );

        let err = store.stage(&loaded).unwrap_err();
        let text = err.to_string();
        for field in ["smtp_banner_text", ".rat[0].text", ".members["] {
            assert!(text.contains(field), "{text}");
        }
        assert!(store.staged().unwrap().is_none());
        let mut fixed = loaded;
        let l = &mut fixed.listeners[0];
        l.policies[0].smtp_banner_text = Some("Hi".into());
        l.rat[0].text = None;
        l.hat[0].members.pop();
        store.stage(&fixed).unwrap();
    }

    #[test]
    fn configured_once_a_user_commits_after_the_factory_commit() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let store = ConfigStore::open(&db).unwrap();
        assert!(!store.configured().unwrap());
        store.commit("system", "factory", Some(&factory())).unwrap();
        let mut c = store.working().unwrap();
        c.hostname = "mail.example.com".into();
        store.stage(&c).unwrap();
        assert!(!store.configured().unwrap(), "staged is not committed");
        store.commit("admin", "systemsetup", None).unwrap();
        assert!(store.configured().unwrap());
    }

    #[test]
    fn a_commit_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            let store = ConfigStore::open(&db).unwrap();
            store.commit("admin", "factory", Some(&factory())).unwrap();
        }
        let db = sled::open(dir.path()).unwrap();
        let store = ConfigStore::open(&db).unwrap();
        assert_eq!(store.committed().unwrap(), factory());
    }
}

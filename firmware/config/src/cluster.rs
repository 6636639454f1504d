//! Clusters (issue 20, docs/decisions/0020-clusters-on-etcd.md): which
//! parts of the configuration a cluster shares, at which of AsyncOS's
//! three levels, and how one machine's configuration is made from them.
//! Pure: reading and writing the levels in etcd is `breakwater-cluster`'s.
//!
//! The unit of a level is a **section**: one top-level field of
//! [`Config`], by its serde name (`listeners`, `smtp_routes`, ...). A
//! level holds the sections defined there as JSON values, and a machine's
//! configuration is its own [`Config`] with the cluster's sections laid
//! over it, then its group's, then its own overrides. JSON (not the local
//! store's positional postcard) so that members running different
//! firmware versions read each other's sections: a field a version does
//! not know is ignored, one it lacks takes the model's serde default.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Config, ConfigError};

/// Sections that never leave the box: what makes one appliance a
/// different machine (its name, addresses, routes and DHCP use).
pub const MACHINE_ONLY: &[&str] = &[
    "hostname",
    "interfaces",
    "default_gateway",
    "management_dhcp",
];

/// Sections kept on the box unless the administrator shares them
/// (`clusterconfig sharecertificates yes`): the certificates carry
/// private keys.
pub const SHARED_ON_REQUEST: &[&str] = &["certificates"];

/// One of AsyncOS's three configuration levels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    Cluster,
    Group(String),
    Machine(String),
}

impl Level {
    /// The level's kind as the CLI names it (`cluster`, `group`, `machine`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Cluster => "cluster",
            Self::Group(_) => "group",
            Self::Machine(_) => "machine",
        }
    }

    /// As AsyncOS shows a mode: `Cluster Hosted_Cluster`, `Group
    /// Main_Group`, `Machine esa1.myesa.com`.
    pub fn describe(&self, cluster: &str) -> String {
        match self {
            Self::Cluster => format!("Cluster {cluster}"),
            Self::Group(g) => format!("Group {g}"),
            Self::Machine(m) => format!("Machine {m}"),
        }
    }
}

/// The sections defined at one level, by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelSettings {
    pub sections: BTreeMap<String, Value>,
}

impl LevelSettings {
    pub fn defines(&self, section: &str) -> bool {
        self.sections.contains_key(section)
    }
}

/// A level document cannot be laid over the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ClusterModelError {
    #[error("the configuration cannot be written as JSON: {0}")]
    Encode(String),
    #[error("section {section}: {reason}")]
    Decode { section: String, reason: String },
    #[error("{0} is not a section of the configuration")]
    UnknownSection(String),
    #[error("{0} is a machine setting and stays on each appliance")]
    MachineOnly(String),
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

/// Every section of the configuration (the names of `config`'s fields, in
/// alphabetical order).
pub fn sections(config: &Config) -> Vec<String> {
    to_map(config)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The sections a cluster shares (all but [`MACHINE_ONLY`], and but
/// [`SHARED_ON_REQUEST`] unless `share_certificates`).
pub fn shared_sections(config: &Config, share_certificates: bool) -> Vec<String> {
    sections(config)
        .into_iter()
        .filter(|s| may_share(s, share_certificates))
        .collect()
}

/// Whether `section` may be defined at cluster or group level.
pub fn may_share(section: &str, share_certificates: bool) -> bool {
    !MACHINE_ONLY.contains(&section)
        && (share_certificates || !SHARED_ON_REQUEST.contains(&section))
}

/// The named sections of `config`, as a level holds them.
pub fn extract<'a>(
    config: &Config,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<LevelSettings, ClusterModelError> {
    let mut map = to_map(config)?;
    let mut out = LevelSettings::default();
    for name in names {
        let value = map
            .remove(name)
            .ok_or_else(|| ClusterModelError::UnknownSection(name.to_string()))?;
        out.sections.insert(name.to_string(), value);
    }
    Ok(out)
}

/// `local` with `levels` laid over it in order (cluster, then group, then
/// machine: the last one defining a section wins), validated. Sections a
/// level defines that this version does not know are ignored (a newer
/// member wrote them).
pub fn effective(local: &Config, levels: &[&LevelSettings]) -> Result<Config, ClusterModelError> {
    let mut map = to_map(local)?;
    for level in levels {
        for (name, value) in &level.sections {
            if let Some(slot) = map.get_mut(name) {
                *slot = value.clone();
            }
        }
    }
    let merged: Config = serde_json::from_value(Value::Object(map.clone())).map_err(|e| {
        // Name the section at fault: decode each one alone.
        let section = map
            .iter()
            .find(|(name, _)| decode_alone(local, name, &map).is_err())
            .map_or_else(|| "?".to_string(), |(name, _)| name.clone());
        ClusterModelError::Decode {
            section,
            reason: e.to_string(),
        }
    })?;
    merged.validate()?;
    Ok(merged)
}

/// The level that defines `section` for a machine: its own override, else
/// its group's, else the cluster's; `None` for a section no level defines
/// (a machine-only one, or one the cluster has not taken yet).
pub fn source(
    section: &str,
    cluster: &LevelSettings,
    group: Option<(&str, &LevelSettings)>,
    machine: (&str, &LevelSettings),
) -> Option<Level> {
    if machine.1.defines(section) {
        Some(Level::Machine(machine.0.to_string()))
    } else if let Some((name, _)) = group.filter(|(_, g)| g.defines(section)) {
        Some(Level::Group(name.to_string()))
    } else if cluster.defines(section) {
        Some(Level::Cluster)
    } else {
        None
    }
}

/// The sections whose values differ between `before` and `after`.
pub fn changed_sections(before: &Config, after: &Config) -> Result<Vec<String>, ClusterModelError> {
    let (a, b) = (to_map(before)?, to_map(after)?);
    Ok(b.iter()
        .filter(|(name, value)| a.get(*name) != Some(*value))
        .map(|(name, _)| name.clone())
        .collect())
}

/// A digest of each section of `config` (SHA-256 of its JSON, hex):
/// `clustercheck` compares members by them without fetching their
/// settings. serde_json's maps are ordered, so equal values digest alike.
pub fn digests(config: &Config) -> Result<BTreeMap<String, String>, ClusterModelError> {
    Ok(to_map(config)?
        .into_iter()
        .map(|(name, value)| {
            let d =
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, value.to_string().as_bytes());
            let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
            (name, hex)
        })
        .collect())
}

fn to_map(config: &Config) -> Result<Map<String, Value>, ClusterModelError> {
    match serde_json::to_value(config) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ClusterModelError::Encode("not an object".to_string())),
        Err(e) => Err(ClusterModelError::Encode(e.to_string())),
    }
}

/// Whether `local` with only `name` taken from `map` decodes.
fn decode_alone(local: &Config, name: &str, map: &Map<String, Value>) -> Result<(), ()> {
    let mut base = to_map(local).map_err(|_| ())?;
    if let (Some(slot), Some(value)) = (base.get_mut(name), map.get(name)) {
        *slot = value.clone();
    }
    serde_json::from_value::<Config>(Value::Object(base))
        .map(|_| ())
        .map_err(|_| ())
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cluster => f.write_str("cluster"),
            Self::Group(g) => write!(f, "group {g}"),
            Self::Machine(m) => write!(f, "machine {m}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::dev_factory_for_tests as factory_defaults;

    #[test]
    fn the_factory_configuration_round_trips_through_json() {
        let c = factory_defaults();
        let all: Vec<String> = sections(&c);
        let level = extract(&c, all.iter().map(String::as_str)).unwrap();
        assert_eq!(effective(&c, &[&level]).unwrap(), c);
        assert!(all.iter().any(|s| s == "listeners"));
        assert!(all.iter().any(|s| s == "message_filters"));
    }

    #[test]
    fn machine_overrides_group_overrides_cluster_and_machine_sections_stay() {
        let local = factory_defaults();
        let mut cluster_cfg = local.clone();
        cluster_cfg.hostname = "other.example.com".to_string();
        cluster_cfg.dns.timeout_secs = 7;
        cluster_cfg.time_zone = "Europe/Paris".to_string();
        let cluster = extract(&cluster_cfg, ["dns", "time_zone"]).unwrap();
        let mut group_cfg = local.clone();
        group_cfg.time_zone = "Asia/Tokyo".to_string();
        let group = extract(&group_cfg, ["time_zone"]).unwrap();
        let mut machine_cfg = local.clone();
        machine_cfg.dns.timeout_secs = 9;
        let machine = extract(&machine_cfg, ["dns"]).unwrap();

        let got = effective(&local, &[&cluster, &group, &machine]).unwrap();
        assert_eq!(got.dns.timeout_secs, 9);
        assert_eq!(got.time_zone, "Asia/Tokyo");
        assert_eq!(
            got.hostname, local.hostname,
            "hostname never comes from a level"
        );
        assert_eq!(
            source("dns", &cluster, Some(("G", &group)), ("m1", &machine)),
            Some(Level::Machine("m1".into()))
        );
        assert_eq!(
            source("time_zone", &cluster, Some(("G", &group)), ("m1", &machine)),
            Some(Level::Group("G".into()))
        );
        assert_eq!(source("listeners", &cluster, None, ("m1", &machine)), None);
    }

    #[test]
    fn machine_sections_are_not_shared_and_certificates_only_on_request() {
        let c = factory_defaults();
        let shared = shared_sections(&c, false);
        for s in MACHINE_ONLY.iter().chain(SHARED_ON_REQUEST) {
            assert!(!shared.iter().any(|x| x == s), "{s}");
        }
        assert!(
            shared_sections(&c, true)
                .iter()
                .any(|s| s == "certificates")
        );
    }

    #[test]
    fn an_invalid_section_from_a_level_is_refused_with_its_name() {
        let local = factory_defaults();
        let mut bad = LevelSettings::default();
        bad.sections.insert(
            "dns".to_string(),
            serde_json::json!({"servers": "not a list"}),
        );
        let e = effective(&local, &[&bad]).unwrap_err().to_string();
        assert!(e.contains("dns"), "{e}");
    }

    #[test]
    fn unknown_sections_from_a_newer_member_are_ignored() {
        let local = factory_defaults();
        let mut newer = LevelSettings::default();
        newer
            .sections
            .insert("from_the_future".to_string(), serde_json::json!(1));
        assert_eq!(effective(&local, &[&newer]).unwrap(), local);
    }

    #[test]
    fn changed_sections_and_digests_follow_the_values() {
        let a = factory_defaults();
        let mut b = a.clone();
        b.dns.timeout_secs += 1;
        assert_eq!(changed_sections(&a, &b).unwrap(), vec!["dns".to_string()]);
        let (da, db) = (digests(&a).unwrap(), digests(&b).unwrap());
        assert_ne!(da["dns"], db["dns"]);
        assert_eq!(da["listeners"], db["listeners"]);
    }
}

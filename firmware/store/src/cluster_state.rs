//! This appliance's side of a cluster (issue 20), in trees of its own
//! (the positional `Config` record never grows for clusters): whether and
//! how it is a member, its own overrides, the cluster and group levels it
//! last applied, and each administrator's mode. No membership means
//! standalone.
//!
//! Values are JSON, like the levels in etcd they mirror.

use breakwater_config::cluster::{Level, LevelSettings};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::config_store::{ConfigStore, StoreError};

const MEMBERSHIP: &str = "membership";
const OVERRIDES: &str = "overrides";
const CACHE: &str = "cache";
const MODE: &str = "mode/";
const BASE: &str = "base/";

/// How this machine belongs to a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub cluster: String,
    pub machine: String,
    pub group: String,
    /// `https://HOST:PORT` of each etcd member.
    pub endpoints: Vec<String>,
    /// The CA (`certconfig certauthority`) that signed etcd's certificate,
    /// by name (as given to `create`; the join token's cluster name on a
    /// joining machine).
    pub ca: String,
    /// That CA's certificate: kept here, as the machine's CA list is a
    /// shared section the cluster may change.
    pub ca_pem: String,
    /// The certificate (`certconfig`) this machine presents to etcd.
    pub certificate: String,
    pub share_certificates: bool,
}

/// The levels as last read from etcd and applied here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelCache {
    pub cluster: LevelSettings,
    pub cluster_mod_revision: i64,
    pub cluster_commit: u64,
    pub group: LevelSettings,
    pub group_mod_revision: i64,
    pub group_commit: u64,
    /// The etcd revision the running configuration was built from.
    pub applied_revision: i64,
}

/// Where a staged cluster- or group-level change started: the level's
/// etcd `mod_revision` and commit number when it was staged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Base {
    pub mod_revision: i64,
    pub commit: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterStateError {
    #[error("cluster state storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("cluster state record {key}: {reason}")]
    Malformed { key: String, reason: String },
}

impl From<ClusterStateError> for StoreError {
    fn from(e: ClusterStateError) -> Self {
        match e {
            ClusterStateError::Sled(e) => StoreError::Sled(e),
            other => StoreError::Sled(sled::Error::Unsupported(other.to_string())),
        }
    }
}

/// The cluster state of this appliance.
#[derive(Clone)]
pub struct ClusterState {
    db: sled::Db,
    tree: sled::Tree,
}

impl ClusterState {
    pub fn open(db: &sled::Db) -> Result<Self, ClusterStateError> {
        Ok(Self {
            db: db.clone(),
            tree: db.open_tree("cluster_state")?,
        })
    }

    fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ClusterStateError> {
        match self.tree.get(key)? {
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| ClusterStateError::Malformed {
                        key: key.to_string(),
                        reason: e.to_string(),
                    })
            }
            None => Ok(None),
        }
    }

    fn put<T: Serialize>(&self, key: &str, value: &T) -> Result<(), ClusterStateError> {
        let bytes = serde_json::to_vec(value).map_err(|e| ClusterStateError::Malformed {
            key: key.to_string(),
            reason: e.to_string(),
        })?;
        self.tree.insert(key, bytes)?;
        crate::durable::flush(&self.tree)?;
        Ok(())
    }

    /// `None`: standalone.
    pub fn membership(&self) -> Result<Option<Membership>, ClusterStateError> {
        self.get(MEMBERSHIP)
    }

    pub fn set_membership(&self, m: &Membership) -> Result<(), ClusterStateError> {
        self.put(MEMBERSHIP, m)
    }

    /// Leaves the cluster: membership, overrides, cache, bases and modes
    /// go; the configuration in force stays (it is the local store's).
    pub fn clear(&self) -> Result<(), ClusterStateError> {
        self.tree.clear()?;
        crate::durable::flush(&self.tree)?;
        Ok(())
    }

    /// This machine's own overrides (the sections defined at its level).
    pub fn overrides(&self) -> Result<LevelSettings, ClusterStateError> {
        Ok(self.get(OVERRIDES)?.unwrap_or_default())
    }

    pub fn set_overrides(&self, o: &LevelSettings) -> Result<(), ClusterStateError> {
        self.put(OVERRIDES, o)
    }

    pub fn cache(&self) -> Result<LevelCache, ClusterStateError> {
        Ok(self.get(CACHE)?.unwrap_or_default())
    }

    pub fn set_cache(&self, c: &LevelCache) -> Result<(), ClusterStateError> {
        self.put(CACHE, c)
    }

    /// A user's mode (`None`: never chosen, the cluster level).
    pub fn mode(&self, user: &str) -> Result<Option<Level>, ClusterStateError> {
        self.get(&format!("{MODE}{user}"))
    }

    pub fn set_mode(&self, user: &str, level: &Level) -> Result<(), ClusterStateError> {
        self.put(&format!("{MODE}{user}"), level)
    }

    /// The base of the staged change at `level` (default: none recorded).
    pub fn base(&self, level: &Level) -> Result<Base, ClusterStateError> {
        Ok(self
            .get(&format!("{BASE}{}", view_name(level)))?
            .unwrap_or_default())
    }

    pub fn set_base(&self, level: &Level, base: Base) -> Result<(), ClusterStateError> {
        self.put(&format!("{BASE}{}", view_name(level)), &base)
    }

    /// The store in which administrators stage changes at `level` (the
    /// cluster or a group): its committed copy is this machine's view of
    /// the level when the change started, its staged copy the change.
    pub fn view(&self, level: &Level) -> Result<ConfigStore, StoreError> {
        ConfigStore::open_view(&self.db, &view_name(level))
    }
}

/// The tree-name part of a level's view (`cluster`, `group_G`, `machine_M`).
fn view_name(level: &Level) -> String {
    match level {
        Level::Cluster => "cluster".to_string(),
        Level::Group(g) => format!("group_{g}"),
        Level::Machine(m) => format!("machine_{m}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn membership() -> Membership {
        Membership {
            cluster: "Hosted_Cluster".into(),
            machine: "esa1.myesa.com".into(),
            group: "Main_Group".into(),
            endpoints: vec!["https://127.9.0.1:2379".into()],
            ca: "etcd_ca".into(),
            ca_pem: String::new(),
            certificate: "esa1".into(),
            share_certificates: false,
        }
    }

    #[test]
    fn membership_modes_and_overrides_survive_a_reopen_and_leave_clears_them() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            let s = ClusterState::open(&db).unwrap();
            assert_eq!(s.membership().unwrap(), None, "standalone at first");
            s.set_membership(&membership()).unwrap();
            s.set_mode("alice", &Level::Machine("esa1.myesa.com".into()))
                .unwrap();
            let mut o = LevelSettings::default();
            o.sections.insert("dns".into(), serde_json::json!({"x": 1}));
            s.set_overrides(&o).unwrap();
            s.set_base(
                &Level::Cluster,
                Base {
                    mod_revision: 42,
                    commit: 3,
                },
            )
            .unwrap();
        }
        let db = sled::open(dir.path()).unwrap();
        let s = ClusterState::open(&db).unwrap();
        assert_eq!(s.membership().unwrap(), Some(membership()));
        assert_eq!(
            s.mode("alice").unwrap(),
            Some(Level::Machine("esa1.myesa.com".into()))
        );
        assert_eq!(s.mode("bob").unwrap(), None);
        assert!(s.overrides().unwrap().defines("dns"));
        assert_eq!(s.base(&Level::Cluster).unwrap().mod_revision, 42);
        assert_eq!(s.base(&Level::Group("G".into())).unwrap(), Base::default());
        s.clear().unwrap();
        assert_eq!(s.membership().unwrap(), None);
        assert!(!s.overrides().unwrap().defines("dns"));
    }

    #[test]
    fn each_level_view_stages_apart_from_the_machine_s_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let local = ConfigStore::open(&db).unwrap();
        let factory = breakwater_config::factory::dev_factory_for_tests();
        local.commit("admin", "factory", Some(&factory)).unwrap();
        let s = ClusterState::open(&db).unwrap();
        let view = s.view(&Level::Cluster).unwrap();
        view.set_committed(&factory).unwrap();
        let mut changed = factory.clone();
        changed.dns.timeout_secs += 1;
        view.stage(&changed).unwrap();
        assert_eq!(local.staged().unwrap(), None);
        assert_eq!(view.working().unwrap(), changed);
        assert!(
            view.history().unwrap().is_empty(),
            "a view keeps no history"
        );
        assert_eq!(
            s.view(&Level::Group("G".into())).unwrap().staged().unwrap(),
            None
        );
    }
}

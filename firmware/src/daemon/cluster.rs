//! The cluster agent (issue 20): on a member, watches the cluster's
//! levels in etcd, builds this machine's configuration from them (its
//! own settings and overrides over its group over the cluster), commits
//! it to the local store as user `cluster` and applies it as any commit
//! is applied, then publishes what it runs (`status/M`).
//!
//! Never in the way of mail or startup: the daemon starts on its last
//! committed configuration, the agent connects in the background and
//! retries with back-off while etcd is unreachable; on reconnection it
//! reads the levels again (catch-up).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use breakwater_cluster::{ClusterError, Etcd};
use breakwater_config::cluster::Level;
use tokio::sync::Notify;

use crate::config::{Config, ConfigStore};
use crate::control::cluster::{
    ClusterLink, ClusterState, Connection, LevelCache, Membership, connect, copy_overrides,
    effective_for, shared_digests,
};

/// The longest wait between two attempts to reach etcd.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub struct Agent {
    state: ClusterState,
    store: Arc<ConfigStore>,
    on_commit: Arc<dyn Fn(&Config) + Send + Sync>,
    connection: Mutex<Connection>,
    /// Membership changed (create, join, leave, setgroup): start over.
    restart: Notify,
    /// One sync at a time (the watch's and a command's).
    syncing: tokio::sync::Mutex<()>,
}

impl Agent {
    pub fn new(
        state: ClusterState,
        store: Arc<ConfigStore>,
        on_commit: Arc<dyn Fn(&Config) + Send + Sync>,
    ) -> Arc<Self> {
        // tonic's TLS brings rustls with ring beside the firmware's
        // aws-lc-rs: the firmware's is the process default.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        Arc::new(Self {
            state,
            store,
            on_commit,
            connection: Mutex::new(Connection::Connecting),
            restart: Notify::new(),
            syncing: tokio::sync::Mutex::new(()),
        })
    }

    fn set_connection(&self, c: Connection) {
        if let Ok(mut slot) = self.connection.lock() {
            // Keep the first moment of an outage, not the last retry's.
            if let (Connection::Unreachable { since, .. }, Connection::Unreachable { reason, .. }) =
                (&*slot, &c)
            {
                *slot = Connection::Unreachable {
                    since: *since,
                    reason: reason.clone(),
                };
                return;
            }
            *slot = c;
        }
    }

    fn unreachable(&self, e: &ClusterError) {
        tracing::warn!("cluster: etcd: {e}");
        self.set_connection(Connection::Unreachable {
            since: chrono::Utc::now().timestamp(),
            reason: e.to_string(),
        });
    }

    fn etcd(&self) -> Result<Option<(Membership, Etcd)>, ClusterError> {
        let Some(m) = self
            .state
            .membership()
            .map_err(|e| ClusterError::Settings(e.to_string()))?
        else {
            return Ok(None);
        };
        let config = self
            .store
            .committed()
            .map_err(|e| ClusterError::Settings(e.to_string()))?;
        let etcd = connect(&config, &m)?;
        Ok(Some((m, etcd)))
    }

    /// Reads every level, applies the result here if it differs, and
    /// publishes the status. Returns the etcd revision read.
    async fn sync_once(self: &Arc<Self>, m: &Membership, etcd: &Etcd) -> Result<i64, ClusterError> {
        let _one = self.syncing.lock().await;
        let (levels, _) = etcd.levels(&m.cluster).await?;
        let revision = breakwater_cluster::cluster_revision(&levels);
        // A `setgroup` from another machine: take the new group.
        let mut m = m.clone();
        if let Some(me) = etcd
            .members(&m.cluster)
            .await?
            .into_iter()
            .find(|x| x.machine == m.machine)
            && me.group != m.group
        {
            m.group = me.group;
            let _ = self.state.set_membership(&m);
        }
        let overrides = self.state.overrides().unwrap_or_default();
        let cluster = levels.get(&Level::Cluster).cloned().unwrap_or_default();
        let group = levels
            .get(&Level::Group(m.group.clone()))
            .cloned()
            .unwrap_or_default();
        let comment = etcd
            .history_record(&m.cluster, &Level::Cluster, cluster.doc.commit)
            .await
            .ok()
            .flatten()
            .map(|r| r.comment)
            .unwrap_or_default();
        let agent = self.clone();
        let m2 = m.clone();
        let overrides2 = overrides.clone();
        let applied = tokio::task::spawn_blocking(move || -> Result<Config, String> {
            let local = agent.store.committed().map_err(|e| e.to_string())?;
            match effective_for(&local, &m2, &levels, &overrides2)? {
                Some(next) => {
                    // A commit drops the staged copy: an administrator's
                    // machine-level change in progress is staged again,
                    // with the new levels laid over it.
                    let staged = agent.store.staged().ok().flatten();
                    agent
                        .store
                        .commit(
                            "cluster",
                            &format!("cluster revision {revision}: {comment}"),
                            Some(&next),
                        )
                        .map_err(|e| e.to_string())?;
                    if let Some(staged) = staged {
                        let rebased = effective_for(&staged, &m2, &levels, &overrides2)
                            .ok()
                            .flatten()
                            .unwrap_or(staged);
                        if let Err(e) = agent.store.stage(&rebased) {
                            tracing::warn!("cluster: staged changes not kept: {e}");
                        }
                    }
                    (agent.on_commit)(&next);
                    tracing::info!("cluster: applied cluster revision {revision}");
                    Ok(next)
                }
                None => Ok(local),
            }
        })
        .await
        .map_err(|e| ClusterError::Settings(e.to_string()))?
        .map_err(|e| {
            // A level this version cannot use: keep running the last
            // configuration, say why.
            tracing::error!("cluster: revision {revision} not applied: {e}");
            ClusterError::Settings(format!("revision {revision} not applied: {e}"))
        })?;
        let cache = LevelCache {
            cluster: cluster.doc.settings(),
            cluster_mod_revision: cluster.mod_revision,
            cluster_commit: cluster.doc.commit,
            group: group.doc.settings(),
            group_mod_revision: group.mod_revision,
            group_commit: group.doc.commit,
            applied_revision: revision,
        };
        let _ = self.state.set_cache(&cache);
        etcd.put_status(
            &m.cluster,
            &m.machine,
            &breakwater_cluster::status(revision, shared_digests(&applied, &m)),
        )
        .await?;
        // The REST API address and certificate pin the other members use
        // for `findevent --cluster` follow this machine's configuration (a
        // new management certificate, another HTTPS port): published again
        // when they changed (on every start, too).
        if let Some((api, pin)) = crate::control::cluster_fanout::published_api(&applied)
            && let Some(mut me) = etcd
                .members(&m.cluster)
                .await?
                .into_iter()
                .find(|x| x.machine == m.machine)
            && (me.api != api || me.api_cert_sha256 != pin)
        {
            me.api = api;
            me.api_cert_sha256 = pin;
            etcd.put_member(&m.cluster, &me).await?;
        }
        // etcd's copy of this machine's overrides follows the local ones
        // (machine commits made while etcd was down).
        let own = Level::Machine(m.machine.clone());
        let copy = etcd.level(&m.cluster, &own).await?;
        if copy.mod_revision == 0 || copy.doc.sections != overrides.sections {
            let cfg = applied.clone();
            let m3 = m.clone();
            let _ =
                tokio::task::spawn_blocking(move || copy_overrides(&cfg, &m3, &overrides)).await;
        }
        self.set_connection(Connection::Connected { revision });
        Ok(revision)
    }

    /// Re-puts this member's status with a new `seen` time, so the
    /// others list it `unreachable` only once it stopped answering.
    async fn heartbeat(&self, m: &Membership, etcd: &Etcd) -> Result<(), ClusterError> {
        let mut statuses = etcd.statuses(&m.cluster).await?;
        let mut me = statuses.remove(&m.machine).unwrap_or_default();
        let fresh = breakwater_cluster::status(me.revision, std::mem::take(&mut me.digests));
        etcd.put_status(
            &m.cluster,
            &m.machine,
            &breakwater_cluster::Status {
                applied_at: me.applied_at,
                ..fresh
            },
        )
        .await?;
        Ok(())
    }

    /// The agent's loop: runs for the daemon's life.
    pub async fn run(self: Arc<Self>) {
        let mut backoff = Duration::from_secs(1);
        loop {
            let (m, etcd) = match self.etcd() {
                Ok(Some(found)) => found,
                Ok(None) => {
                    self.set_connection(Connection::Connecting);
                    self.restart.notified().await;
                    continue;
                }
                Err(e) => {
                    self.unreachable(&e);
                    self.pause(&mut backoff).await;
                    continue;
                }
            };
            // Watch first, then read: a change between the two is seen
            // by the watch.
            let watch = etcd.watch_levels(&m.cluster).await;
            let mut watch = match watch {
                Ok(w) => w,
                Err(e) => {
                    self.unreachable(&e);
                    self.pause(&mut backoff).await;
                    continue;
                }
            };
            if let Err(e) = self.sync_once(&m, &etcd).await {
                self.unreachable(&e);
                self.pause(&mut backoff).await;
                continue;
            }
            backoff = Duration::from_secs(1);
            let mut heartbeat = tokio::time::interval(breakwater_cluster::HEARTBEAT_INTERVAL);
            heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is immediate: sync_once just put the status.
            heartbeat.tick().await;
            loop {
                tokio::select! {
                    _ = heartbeat.tick() => {
                        if let Err(e) = self.heartbeat(&m, &etcd).await {
                            self.unreachable(&e);
                            break;
                        }
                    }
                    next = watch.next() => match next {
                        Ok(_) => {
                            if let Err(e) = self.sync_once(&m, &etcd).await {
                                self.unreachable(&e);
                                break;
                            }
                        }
                        Err(e) => {
                            self.unreachable(&e);
                            break;
                        }
                    },
                    () = self.restart.notified() => break,
                }
            }
            self.pause(&mut backoff).await;
        }
    }

    /// Waits before the next attempt (doubling up to [`MAX_BACKOFF`]),
    /// or until the membership changes.
    async fn pause(&self, backoff: &mut Duration) {
        tokio::select! {
            () = tokio::time::sleep(*backoff) => {}
            () = self.restart.notified() => {}
        }
        *backoff = (*backoff * 2).min(MAX_BACKOFF);
    }
}

/// The commands' side (called on their blocking threads).
pub struct Link(pub Arc<Agent>);

impl ClusterLink for Link {
    fn state(&self) -> &ClusterState {
        &self.0.state
    }

    fn connection(&self) -> Connection {
        self.0
            .connection
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    fn sync(&self) -> Result<i64, ClusterError> {
        let agent = &self.0;
        // The loop starts over with the membership now in the state.
        agent.restart.notify_one();
        let Some((m, etcd)) = agent.etcd()? else {
            return Ok(0);
        };
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|e| ClusterError::Unreachable(e.to_string()))?;
        let result = handle.block_on(agent.sync_once(&m, &etcd));
        if let Err(e) = &result
            && matches!(e, ClusterError::Unreachable(_))
        {
            agent.unreachable(e);
        }
        result
    }
}

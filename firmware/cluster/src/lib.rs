//! The cluster's side in etcd (issue 20, docs/decisions/0020-clusters-on-etcd.md):
//! the key layout under `/breakwater/v1/C/`, the JSON documents kept
//! there, and the operations the CLI and the agent need — each one etcd
//! request or transaction, bounded by the connection's timeout.
//!
//! Transport: gRPC over TLS with a client certificate, always (`https://`
//! endpoints only). The level model itself (sections, overlays) is pure
//! and lives in `breakwater_config::cluster`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use breakwater_config::cluster::{Level, LevelSettings};
use etcdv3client::Client;
use etcdv3client::grpc::TonicClient;
use etcdv3client::pb;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// The prefix of every key of every cluster.
pub const ROOT: &str = "/breakwater/v1";

/// The group every cluster has from its creation (AsyncOS's name).
pub const MAIN_GROUP: &str = "Main_Group";

/// How long one etcd request may take before etcd counts as unreachable
/// (a commit answers within it, never hangs the CLI).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// What can go wrong talking to the cluster.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClusterError {
    /// etcd did not answer (down, network, TLS, timeout).
    #[error("{0}")]
    Unreachable(String),
    /// Someone committed the same level since the change was staged.
    #[error("the level changed (now at revision {revision}, by {user} on {machine}: {comment})")]
    Changed {
        revision: i64,
        user: String,
        machine: String,
        comment: String,
    },
    /// `create` of a cluster whose `meta` exists.
    #[error("a cluster named {0} already exists in this etcd")]
    Exists(String),
    #[error("there is no cluster named {0} in this etcd")]
    NoSuchCluster(String),
    /// An endpoint, certificate or key the connection cannot use.
    #[error("{0}")]
    Settings(String),
    /// A document in etcd that is not what this layout writes.
    #[error("{key}: {reason}")]
    Malformed { key: String, reason: String },
    /// A level commit larger than one etcd request may be.
    #[error(
        "the level's configuration and its history record would take {bytes} bytes, more than etcd's request limit of {limit} bytes"
    )]
    TooLarge { bytes: usize, limit: usize },
}

/// `/breakwater/v1/C/meta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub name: String,
    /// RFC 3339.
    pub created: String,
    pub created_by: String,
    #[serde(default)]
    pub share_certificates: bool,
    /// The token members present to each other's REST API
    /// (`findevent --cluster`).
    #[serde(default)]
    pub api_token: String,
}

/// `/breakwater/v1/C/level/...`: the sections defined at a level and the
/// number of its last commit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelDoc {
    #[serde(default)]
    pub sections: BTreeMap<String, Value>,
    #[serde(default)]
    pub commit: u64,
}

impl LevelDoc {
    pub fn settings(&self) -> LevelSettings {
        LevelSettings {
            sections: self.sections.clone(),
        }
    }
}

/// A level as read: its document and the etcd revision that last wrote it
/// (`mod_revision`, 0 when the key is absent): the base of a commit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LevelState {
    pub doc: LevelDoc,
    pub mod_revision: i64,
}

/// `/breakwater/v1/C/history/...`: one commit of a level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    pub number: u64,
    /// Seconds since the Unix epoch.
    pub time: i64,
    pub user: String,
    pub machine: String,
    pub comment: String,
    /// The sections this commit wrote.
    pub sections: Vec<String>,
    /// The level's whole document after this commit: what `rollback N`
    /// stages again. `None` in records written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<LevelSettings>,
}

/// etcd's default `--max-request-bytes` (1.5 MiB): a level commit puts
/// the level's document and its history record in one request, so the
/// two together must stay under it.
pub const MAX_REQUEST_BYTES: usize = 1_572_864;

/// `/breakwater/v1/C/members/M`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub machine: String,
    pub group: String,
    /// `https://ADDR:PORT` of its REST API (empty: none published).
    #[serde(default)]
    pub api: String,
    #[serde(default)]
    pub api_cert_sha256: String,
    /// RFC 3339.
    pub joined: String,
}

/// `/breakwater/v1/C/status/M`: what a member runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The etcd revision of the levels the member's configuration was
    /// built from.
    pub revision: i64,
    /// RFC 3339.
    pub applied_at: String,
    #[serde(default)]
    pub digests: BTreeMap<String, String>,
    /// RFC 3339: the member's last heartbeat (re-put every
    /// [`HEARTBEAT_INTERVAL`] while it is connected). Empty in statuses
    /// written before heartbeats existed.
    #[serde(default)]
    pub seen: String,
}

/// How often a connected member re-puts its status, so the others can
/// tell it is alive.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);

/// A member whose status was not refreshed for this many heartbeat
/// intervals is listed `unreachable`.
pub const MISSED_HEARTBEATS: u32 = 3;

impl Status {
    /// When the member was last heard of (`None`: no heartbeat recorded).
    pub fn seen_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::parse_from_rfc3339(&self.seen)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    }

    /// Whether the member missed [`MISSED_HEARTBEATS`] heartbeats by
    /// `now`. A status without a heartbeat (an older release) is not
    /// judged.
    pub fn is_stale(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        let limit = HEARTBEAT_INTERVAL * MISSED_HEARTBEATS;
        self.seen_at()
            .is_some_and(|seen| (now - seen).to_std().is_ok_and(|age| age > limit))
    }
}

/// The key of a level's document.
pub fn level_key(cluster: &str, level: &Level) -> String {
    match level {
        Level::Cluster => format!("{ROOT}/{cluster}/level/cluster"),
        Level::Group(g) => format!("{ROOT}/{cluster}/level/group/{g}"),
        Level::Machine(m) => format!("{ROOT}/{cluster}/level/machine/{m}"),
    }
}

/// The prefix of a level's history (records under it end in the
/// zero-padded commit number, so they list in order).
pub fn history_prefix(cluster: &str, level: &Level) -> String {
    match level {
        Level::Cluster => format!("{ROOT}/{cluster}/history/cluster/"),
        Level::Group(g) => format!("{ROOT}/{cluster}/history/group/{g}/"),
        Level::Machine(m) => format!("{ROOT}/{cluster}/history/machine/{m}/"),
    }
}

fn history_key(cluster: &str, level: &Level, number: u64) -> String {
    format!("{}{number:020}", history_prefix(cluster, level))
}

fn meta_key(cluster: &str) -> String {
    format!("{ROOT}/{cluster}/meta")
}

fn member_key(cluster: &str, machine: &str) -> String {
    format!("{ROOT}/{cluster}/members/{machine}")
}

fn status_key(cluster: &str, machine: &str) -> String {
    format!("{ROOT}/{cluster}/status/{machine}")
}

/// The prefix the agent watches.
pub fn levels_prefix(cluster: &str) -> String {
    format!("{ROOT}/{cluster}/level/")
}

/// A name used in keys (cluster, group, machine): letters, digits, `.`,
/// `-`, `_`; no `/` that would reach another key.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// A connection to the cluster's etcd: one channel per endpoint, used in
/// turn. A request that fails on one member is tried on the next (a
/// killed member refuses at once; a silent one costs the timeout), and
/// the member that answered is asked first next time.
#[derive(Debug, Clone)]
pub struct Etcd {
    clients: Vec<Client<TonicClient>>,
    current: Arc<AtomicUsize>,
    timeout: Duration,
}

/// Connects (lazily: the first request finds whether etcd answers) to
/// `endpoints` (`https://HOST:PORT`), trusting `ca_pem` for etcd's
/// certificate and presenting `cert_pem`/`key_pem`.
pub fn connect(
    endpoints: &[String],
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
    timeout: Duration,
) -> Result<Etcd, ClusterError> {
    // tonic's TLS brings rustls with ring, the firmware's with aws-lc-rs:
    // with both compiled in, rustls has no default unless one is
    // installed. The firmware's choice, once per process (a second call
    // finds it installed and changes nothing).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    if endpoints.is_empty() || endpoints.len() > MAX_ENDPOINTS {
        return Err(ClusterError::Settings(format!(
            "name 1 to {MAX_ENDPOINTS} etcd endpoints"
        )));
    }
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .identity(Identity::from_pem(cert_pem, key_pem));
    let mut clients = Vec::new();
    for url in endpoints {
        if !valid_endpoint(url) {
            return Err(ClusterError::Settings(format!(
                "{url}: etcd endpoints must be https://HOST:PORT (TLS with a client certificate)"
            )));
        }
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| ClusterError::Settings(format!("{url}: {e}")))?
            .tls_config(tls.clone())
            .map_err(|e| ClusterError::Settings(format!("{url}: {e}")))?
            .connect_timeout(timeout)
            // A watch on a dead connection must end, so the agent
            // reconnects: HTTP/2 pings find a silent peer.
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(timeout)
            .keep_alive_while_idle(true);
        let channel: Channel = endpoint.connect_lazy();
        clients.push(Client::with_service(TonicClient::new(channel)));
    }
    Ok(Etcd {
        clients,
        current: Arc::new(AtomicUsize::new(0)),
        timeout,
    })
}

fn unreachable(e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Unreachable(e.to_string())
}

fn decode<T: serde::de::DeserializeOwned>(key: &[u8], value: &[u8]) -> Result<T, ClusterError> {
    serde_json::from_slice(value).map_err(|e| ClusterError::Malformed {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, ClusterError> {
    serde_json::to_vec(value).map_err(|e| ClusterError::Settings(e.to_string()))
}

fn put_op(key: String, value: Vec<u8>) -> pb::RequestOp {
    pb::RequestOp {
        request: Some(pb::request_op::Request::RequestPut(pb::PutRequest {
            key: key.into_bytes(),
            value,
            ..Default::default()
        })),
    }
}

/// `key`'s mod_revision equals `revision` (0: the key is absent).
fn mod_revision_is(key: &str, revision: i64) -> pb::Compare {
    pb::Compare {
        result: pb::compare::CompareResult::Equal as i32,
        target: pb::compare::CompareTarget::Mod as i32,
        key: key.as_bytes().to_vec(),
        target_union: Some(pb::compare::TargetUnion::ModRevision(revision)),
        ..Default::default()
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Etcd {
    /// Runs `f` on the members in turn, from the one that last answered,
    /// each attempt bounded by the timeout.
    async fn bounded<T, F, Fut>(&self, f: F) -> Result<T, ClusterError>
    where
        F: Fn(Client<TonicClient>) -> Fut,
        Fut: std::future::Future<Output = Result<T, etcdv3client::Error>>,
    {
        let n = self.clients.len();
        let start = self.current.load(Ordering::Relaxed);
        let mut last = String::from("no etcd endpoint");
        for i in 0..n {
            let at = (start + i) % n;
            match tokio::time::timeout(self.timeout, f(self.clients[at].clone())).await {
                Ok(Ok(v)) => {
                    self.current.store(at, Ordering::Relaxed);
                    return Ok(v);
                }
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = format!("no answer within {} s", self.timeout.as_secs()),
            }
        }
        Err(ClusterError::Unreachable(last))
    }

    async fn range(&self, req: pb::RangeRequest) -> Result<pb::RangeResponse, ClusterError> {
        self.bounded(|c| {
            let req = req.clone();
            async move { c.kv.clone().range(req).await }
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<pb::KeyValue>, ClusterError> {
        let resp = self
            .range(pb::RangeRequest::new(key.as_bytes().to_vec()))
            .await?;
        Ok(resp.kvs.into_iter().next())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<pb::KeyValue>, ClusterError> {
        let resp = self
            .range(pb::RangeRequest::new(prefix.as_bytes().to_vec()).with_prefix())
            .await?;
        Ok(resp.kvs)
    }

    async fn put_json<T: Serialize>(&self, key: String, value: &T) -> Result<i64, ClusterError> {
        let req = pb::PutRequest {
            key: key.into_bytes(),
            value: encode(value)?,
            ..Default::default()
        };
        let resp = self
            .bounded(|c| {
                let req = req.clone();
                async move { c.kv.clone().put(req).await }
            })
            .await?;
        Ok(resp.header.map_or(0, |h| h.revision))
    }

    async fn delete_req(&self, req: pb::DeleteRangeRequest) -> Result<(), ClusterError> {
        self.bounded(|c| {
            let req = req.clone();
            async move { c.kv.clone().delete_range(req).await }
        })
        .await?;
        Ok(())
    }

    async fn delete(&self, key: String) -> Result<(), ClusterError> {
        self.delete_req(pb::DeleteRangeRequest {
            key: key.into_bytes(),
            ..Default::default()
        })
        .await
    }

    async fn txn(
        &self,
        compare: Vec<pb::Compare>,
        success: Vec<pb::RequestOp>,
    ) -> Result<(bool, i64), ClusterError> {
        let req = pb::TxnRequest {
            compare,
            success,
            failure: Vec::new(),
        };
        let resp = self
            .bounded(|c| {
                let req = req.clone();
                async move { c.kv.clone().txn(req).await }
            })
            .await?;
        Ok((resp.succeeded, resp.header.map_or(0, |h| h.revision)))
    }

    /// Creates cluster `meta.name`: its meta, the cluster level holding
    /// `cluster_level` (commit 1, recorded in history), the group
    /// `group`, and `member`. One transaction that fails with
    /// [`ClusterError::Exists`] if the cluster's meta is there.
    pub async fn create_cluster(
        &self,
        meta: &Meta,
        cluster_level: &LevelSettings,
        group: &str,
        member: &Member,
        record: &HistoryRecord,
    ) -> Result<i64, ClusterError> {
        let c = &meta.name;
        let doc = LevelDoc {
            sections: cluster_level.sections.clone(),
            commit: record.number,
        };
        let mut record = record.clone();
        record.values = Some(cluster_level.clone());
        let (doc_bytes, record_bytes) = (encode(&doc)?, encode(&record)?);
        check_request_size(doc_bytes.len() + record_bytes.len())?;
        let mut ops = vec![
            put_op(meta_key(c), encode(meta)?),
            put_op(level_key(c, &Level::Cluster), doc_bytes),
            put_op(history_key(c, &Level::Cluster, record.number), record_bytes),
            put_op(
                level_key(c, &Level::Group(group.to_string())),
                encode(&LevelDoc::default())?,
            ),
            put_op(member_key(c, &member.machine), encode(member)?),
        ];
        if group != MAIN_GROUP {
            ops.push(put_op(
                level_key(c, &Level::Group(MAIN_GROUP.to_string())),
                encode(&LevelDoc::default())?,
            ));
        }
        let (ok, revision) = self
            .txn(vec![mod_revision_is(&meta_key(c), 0)], ops)
            .await?;
        if ok {
            Ok(revision)
        } else {
            Err(ClusterError::Exists(c.clone()))
        }
    }

    /// The cluster's meta (`None`: no such cluster).
    pub async fn meta(&self, cluster: &str) -> Result<Option<Meta>, ClusterError> {
        match self.get(&meta_key(cluster)).await? {
            Some(kv) => Ok(Some(decode(&kv.key, &kv.value)?)),
            None => Ok(None),
        }
    }

    pub async fn put_meta(&self, meta: &Meta) -> Result<(), ClusterError> {
        self.put_json(meta_key(&meta.name), meta).await.map(|_| ())
    }

    /// A level's document and its mod_revision (an absent level reads as
    /// empty with revision 0).
    pub async fn level(&self, cluster: &str, level: &Level) -> Result<LevelState, ClusterError> {
        match self.get(&level_key(cluster, level)).await? {
            Some(kv) => Ok(LevelState {
                doc: decode(&kv.key, &kv.value)?,
                mod_revision: kv.mod_revision,
            }),
            None => Ok(LevelState::default()),
        }
    }

    /// Every level document of the cluster and etcd's current revision
    /// (one read: a consistent snapshot).
    pub async fn levels(
        &self,
        cluster: &str,
    ) -> Result<(BTreeMap<Level, LevelState>, i64), ClusterError> {
        let prefix = levels_prefix(cluster);
        let resp = self
            .range(pb::RangeRequest::new(prefix.as_bytes().to_vec()).with_prefix())
            .await?;
        let mut out = BTreeMap::new();
        for item in resp.kvs {
            let key = String::from_utf8_lossy(&item.key).into_owned();
            let rest = key.strip_prefix(&prefix).unwrap_or_default();
            let level = match rest.split_once('/') {
                None if rest == "cluster" => Level::Cluster,
                Some(("group", g)) => Level::Group(g.to_string()),
                Some(("machine", m)) => Level::Machine(m.to_string()),
                _ => continue,
            };
            out.insert(
                level,
                LevelState {
                    doc: decode(&item.key, &item.value)?,
                    mod_revision: item.mod_revision,
                },
            );
        }
        Ok((out, resp.header.map_or(0, |h| h.revision)))
    }

    /// Commits `settings` as `level`'s whole document if the level is
    /// still at `base_mod_revision` (0: absent), with `record` in its
    /// history: one transaction. Returns the new revision, or
    /// [`ClusterError::Changed`] naming the commit that came first.
    pub async fn commit_level(
        &self,
        cluster: &str,
        level: &Level,
        base_mod_revision: i64,
        settings: &LevelSettings,
        record: &HistoryRecord,
    ) -> Result<i64, ClusterError> {
        let key = level_key(cluster, level);
        let doc = LevelDoc {
            sections: settings.sections.clone(),
            commit: record.number,
        };
        let mut record = record.clone();
        record.values = Some(settings.clone());
        let (doc_bytes, record_bytes) = (encode(&doc)?, encode(&record)?);
        check_request_size(doc_bytes.len() + record_bytes.len())?;
        let (ok, revision) = self
            .txn(
                vec![mod_revision_is(&key, base_mod_revision)],
                vec![
                    put_op(key.clone(), doc_bytes),
                    put_op(history_key(cluster, level, record.number), record_bytes),
                ],
            )
            .await?;
        if ok {
            return Ok(revision);
        }
        let now = self.level(cluster, level).await?;
        let last = self.history_record(cluster, level, now.doc.commit).await?;
        Err(ClusterError::Changed {
            revision: now.mod_revision,
            user: last.as_ref().map_or_else(|| "?".into(), |r| r.user.clone()),
            machine: last
                .as_ref()
                .map_or_else(|| "?".into(), |r| r.machine.clone()),
            comment: last.map_or_else(String::new, |r| r.comment),
        })
    }

    /// Writes a level without comparing (a machine's copy of its own
    /// overrides: only that machine writes it).
    pub async fn put_level(
        &self,
        cluster: &str,
        level: &Level,
        settings: &LevelSettings,
        commit: u64,
    ) -> Result<i64, ClusterError> {
        let doc = LevelDoc {
            sections: settings.sections.clone(),
            commit,
        };
        self.put_json(level_key(cluster, level), &doc).await
    }

    /// One record of a level's history (records keep the level's
    /// document, so reading one beats listing them all).
    pub async fn history_record(
        &self,
        cluster: &str,
        level: &Level,
        number: u64,
    ) -> Result<Option<HistoryRecord>, ClusterError> {
        match self.get(&history_key(cluster, level, number)).await? {
            Some(kv) => Ok(Some(decode(&kv.key, &kv.value)?)),
            None => Ok(None),
        }
    }

    /// A level's history, oldest first.
    pub async fn history(
        &self,
        cluster: &str,
        level: &Level,
    ) -> Result<Vec<HistoryRecord>, ClusterError> {
        self.list(&history_prefix(cluster, level))
            .await?
            .iter()
            .map(|kv| decode(&kv.key, &kv.value))
            .collect()
    }

    pub async fn members(&self, cluster: &str) -> Result<Vec<Member>, ClusterError> {
        self.list(&format!("{ROOT}/{cluster}/members/"))
            .await?
            .iter()
            .map(|kv| decode(&kv.key, &kv.value))
            .collect()
    }

    pub async fn put_member(&self, cluster: &str, member: &Member) -> Result<(), ClusterError> {
        self.put_json(member_key(cluster, &member.machine), member)
            .await
            .map(|_| ())
    }

    /// Removes a member, its status and its machine level.
    pub async fn remove_member(&self, cluster: &str, machine: &str) -> Result<(), ClusterError> {
        self.delete(member_key(cluster, machine)).await?;
        self.delete(status_key(cluster, machine)).await?;
        self.delete(level_key(cluster, &Level::Machine(machine.to_string())))
            .await
    }

    /// The cluster's groups (those with a level key).
    pub async fn groups(&self, cluster: &str) -> Result<Vec<String>, ClusterError> {
        let prefix = format!("{}group/", levels_prefix(cluster));
        Ok(self
            .list(&prefix)
            .await?
            .iter()
            .filter_map(|kv| {
                String::from_utf8_lossy(&kv.key)
                    .strip_prefix(&prefix)
                    .map(str::to_string)
            })
            .collect())
    }

    /// Adds an empty group (`Exists` if it is there).
    pub async fn add_group(&self, cluster: &str, group: &str) -> Result<(), ClusterError> {
        let key = level_key(cluster, &Level::Group(group.to_string()));
        let (ok, _) = self
            .txn(
                vec![mod_revision_is(&key, 0)],
                vec![put_op(key.clone(), encode(&LevelDoc::default())?)],
            )
            .await?;
        if ok {
            Ok(())
        } else {
            Err(ClusterError::Exists(format!("group {group}")))
        }
    }

    /// Deletes a group's level and history (the caller checked it has no
    /// members).
    pub async fn delete_group(&self, cluster: &str, group: &str) -> Result<(), ClusterError> {
        let level = Level::Group(group.to_string());
        self.delete(level_key(cluster, &level)).await?;
        let prefix = history_prefix(cluster, &level).into_bytes();
        let range = pb::RangeRequest::new(prefix.clone()).with_prefix();
        self.delete_req(pb::DeleteRangeRequest {
            key: prefix,
            range_end: range.range_end,
            ..Default::default()
        })
        .await
    }

    pub async fn put_status(
        &self,
        cluster: &str,
        machine: &str,
        status: &Status,
    ) -> Result<(), ClusterError> {
        self.put_json(status_key(cluster, machine), status)
            .await
            .map(|_| ())
    }

    /// Every member's status, by machine.
    pub async fn statuses(&self, cluster: &str) -> Result<BTreeMap<String, Status>, ClusterError> {
        let prefix = format!("{ROOT}/{cluster}/status/");
        let mut out = BTreeMap::new();
        for kv in self.list(&prefix).await? {
            let key = String::from_utf8_lossy(&kv.key).into_owned();
            if let Some(machine) = key.strip_prefix(&prefix) {
                out.insert(machine.to_string(), decode(&kv.key, &kv.value)?);
            }
        }
        Ok(out)
    }

    /// Watches the cluster's levels: [`LevelWatch::next`] yields the etcd
    /// revision of each change. It ends with `Unreachable` when the
    /// connection does; the caller reads the levels again and watches
    /// anew (nothing is lost: the levels are read whole).
    pub async fn watch_levels(&self, cluster: &str) -> Result<LevelWatch, ClusterError> {
        let prefix = levels_prefix(cluster).into_bytes();
        let watcher = self
            .bounded(|c| {
                let prefix = prefix.clone();
                async move { c.watch.clone().watch_prefix(prefix).await }
            })
            .await?;
        Ok(LevelWatch { watcher })
    }
}

/// A watch on a cluster's levels.
pub struct LevelWatch {
    watcher: etcdv3client::Watcher,
}

impl LevelWatch {
    /// The revision of the next change of any level.
    pub async fn next(&mut self) -> Result<i64, ClusterError> {
        loop {
            match self.watcher.message().await.map_err(unreachable)? {
                None => return Err(ClusterError::Unreachable("the watch ended".into())),
                Some(resp) if resp.canceled => {
                    return Err(ClusterError::Unreachable(format!(
                        "etcd cancelled the watch: {}",
                        resp.cancel_reason
                    )));
                }
                Some(resp) if !resp.events.is_empty() => {
                    return Ok(resp.header.map_or(0, |h| h.revision));
                }
                Some(_) => {}
            }
        }
    }
}

/// The cluster revision of a set of levels: the newest etcd revision
/// that wrote one of them. Every member reading the same levels finds the
/// same number (etcd's own revision also counts status and member writes).
pub fn cluster_revision(levels: &BTreeMap<Level, LevelState>) -> i64 {
    levels.values().map(|l| l.mod_revision).max().unwrap_or(0)
}

/// Refuses a request etcd would refuse, with the sizes in the error
/// (etcd's own answer names neither).
pub fn check_request_size(bytes: usize) -> Result<(), ClusterError> {
    if bytes > MAX_REQUEST_BYTES {
        return Err(ClusterError::TooLarge {
            bytes,
            limit: MAX_REQUEST_BYTES,
        });
    }
    Ok(())
}

/// A history record for a commit made now.
pub fn record(
    number: u64,
    user: &str,
    machine: &str,
    comment: &str,
    sections: Vec<String>,
) -> HistoryRecord {
    HistoryRecord {
        number,
        time: chrono::Utc::now().timestamp(),
        user: user.to_string(),
        machine: machine.to_string(),
        comment: comment.to_string(),
        sections,
        values: None,
    }
}

/// A member joining now.
pub fn member(machine: &str, group: &str, api: &str) -> Member {
    Member {
        machine: machine.to_string(),
        group: group.to_string(),
        api: api.to_string(),
        api_cert_sha256: String::new(),
        joined: now(),
    }
}

/// A status for what was applied now.
pub fn status(revision: i64, digests: BTreeMap<String, String>) -> Status {
    let now = now();
    Status {
        revision,
        applied_at: now.clone(),
        digests,
        seen: now,
    }
}

/// A meta for a cluster created now.
pub fn meta(name: &str, created_by: &str, api_token: String) -> Meta {
    Meta {
        name: name.to_string(),
        created: now(),
        created_by: created_by.to_string(),
        share_certificates: false,
        api_token,
    }
}

mod token;
pub use token::{JoinToken, JoinTokenError, MAX_ENDPOINTS, MAX_JOIN_TOKEN_CHARS, valid_endpoint};

#[cfg(test)]
mod tests;

//! Clusters (issue 20) as the control plane sees them: the link to the
//! daemon's cluster agent ([`ClusterLink`]), the level a user's command
//! works at, the refusal of a command whose sections another level
//! defines, and a commit at cluster or group level (one etcd
//! transaction). The commands themselves are `commands::clusterconfig`,
//! `clustermode` and `clustercheck`.
//!
//! Commands run on blocking threads (`spawn_blocking`); the etcd client
//! is async, so its calls run with [`block_on`] on the daemon's runtime.

use std::collections::BTreeMap;

use breakwater_cluster::{ClusterError, Etcd, LevelState};
use breakwater_config::cluster::{
    self as model, Level, LevelSettings, MACHINE_ONLY, SHARED_ON_REQUEST,
};

use crate::config::{Config, ConfigStore};
pub use breakwater_cluster as etcd;
pub use breakwater_store::cluster_state::{Base, ClusterState, LevelCache, Membership};

/// The state of the connection to etcd, as `clusterconfig` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Connection {
    /// Not tried yet (just started, or standalone).
    #[default]
    Connecting,
    Connected {
        revision: i64,
    },
    Unreachable {
        /// Seconds since the epoch.
        since: i64,
        reason: String,
    },
}

/// What the daemon's cluster agent offers the commands.
pub trait ClusterLink: Send + Sync {
    /// This machine's cluster state (membership, overrides, modes).
    fn state(&self) -> &ClusterState;
    /// The agent's connection to etcd.
    fn connection(&self) -> Connection;
    /// Reads the levels now and applies them here (after a membership
    /// change or a commit made here); returns the etcd revision applied.
    /// Also (re)starts or stops the agent's watch for the membership now
    /// in the state.
    fn sync(&self) -> Result<i64, ClusterError>;
    /// This machine's REST API (`https://ADDR:PORT`) to publish to the
    /// other members (empty: none).
    fn api_address(&self) -> String {
        String::new()
    }
}

/// Runs `f` on the daemon's runtime from a command's blocking thread.
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, ClusterError> {
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|e| ClusterError::Unreachable(format!("no runtime for the etcd client: {e}")))?;
    Ok(handle.block_on(f))
}

/// The connection to the cluster's etcd that `m` describes, with the
/// client certificate named in it from `config`.
pub fn connect(config: &Config, m: &Membership) -> Result<Etcd, ClusterError> {
    let cert = config
        .certificates
        .iter()
        .find(|c| c.name == m.certificate)
        .ok_or_else(|| {
            ClusterError::Settings(format!(
                "There is no certificate named {} (certconfig).",
                m.certificate
            ))
        })?;
    breakwater_cluster::connect(
        &m.endpoints,
        &m.ca_pem,
        &cert.cert_pem,
        &cert.key_pem,
        breakwater_cluster::DEFAULT_TIMEOUT,
    )
}

/// Whether `section` is one of this machine's own settings (never on a
/// cluster or group level).
pub fn machine_setting(section: &str, share_certificates: bool) -> bool {
    MACHINE_ONLY.contains(&section) || (!share_certificates && SHARED_ON_REQUEST.contains(&section))
}

/// A user's mode (the cluster level until they choose).
pub fn mode(state: &ClusterState, user: &str) -> Level {
    state.mode(user).ok().flatten().unwrap_or(Level::Cluster)
}

/// Where `section` is defined for this machine, as AsyncOS names a level.
pub fn defined_in(
    section: &str,
    m: &Membership,
    cache: &LevelCache,
    overrides: &LevelSettings,
) -> String {
    if machine_setting(section, m.share_certificates) {
        return format!("Machine {} (machine setting)", m.machine);
    }
    match model::source(
        section,
        &cache.cluster,
        Some((&m.group, &cache.group)),
        (&m.machine, overrides),
    ) {
        Some(level) => level.describe(&m.cluster),
        None => format!("Machine {}", m.machine),
    }
}

/// Refuses a command changing `sections` in a mode (`level`) that does
/// not define them, with the contract's text.
pub fn check_level(
    command: &str,
    sections: &[&str],
    level: &Level,
    m: &Membership,
    cache: &LevelCache,
    overrides: &LevelSettings,
) -> Result<(), String> {
    for s in sections {
        if machine_setting(s, m.share_certificates) {
            if !matches!(level, Level::Machine(_)) {
                return Err(format!(
                    "\"{command}\" edits machine settings ({s}): switch with \"clustermode machine\"."
                ));
            }
            continue;
        }
        let defined_here = match level {
            Level::Cluster => cache.cluster.defines(s),
            Level::Group(g) if *g == m.group => cache.group.defines(s),
            // Another group's definitions are checked by etcd's copy at
            // commit; the staged view shows this machine's.
            Level::Group(_) => true,
            Level::Machine(_) => overrides.defines(s),
        };
        if !defined_here {
            let source = model::source(
                s,
                &cache.cluster,
                Some((&m.group, &cache.group)),
                (&m.machine, overrides),
            )
            .unwrap_or(Level::Cluster);
            return Err(format!(
                "The settings of \"{command}\" ({s}) are defined in {}. Switch with \"clustermode {}\", or copy them here with \"clusterconfig override {s} {}\".",
                source.describe(&m.cluster),
                source.kind(),
                level.kind()
            ));
        }
    }
    Ok(())
}

/// The layers a level's view is made of (cluster; cluster and group).
fn layers(cache: &LevelCache, level: &Level, group: &LevelSettings) -> Vec<LevelSettings> {
    match level {
        Level::Cluster => vec![cache.cluster.clone()],
        _ => vec![cache.cluster.clone(), group.clone()],
    }
}

/// Levels without what may never come from one (a machine's own
/// settings), whatever a member wrote.
pub fn shareable(settings: &LevelSettings, share_certificates: bool) -> LevelSettings {
    LevelSettings {
        sections: settings
            .sections
            .iter()
            .filter(|(s, _)| !machine_setting(s, share_certificates))
            .map(|(s, v)| (s.clone(), v.clone()))
            .collect(),
    }
}

/// The store a command at `level` (cluster or group) edits: the level's
/// view, refreshed from this machine's configuration and the cached
/// levels when nothing is staged there.
pub fn view(
    local: &ConfigStore,
    state: &ClusterState,
    m: &Membership,
    level: &Level,
) -> Result<ConfigStore, String> {
    let view = state.view(level).map_err(|e| e.to_string())?;
    if view.staged().map_err(|e| e.to_string())?.is_none() {
        let cache = state.cache().map_err(|e| e.to_string())?;
        let (group, base) = match level {
            Level::Cluster => (
                LevelSettings::default(),
                Base {
                    mod_revision: cache.cluster_mod_revision,
                    commit: cache.cluster_commit,
                },
            ),
            Level::Group(g) if *g == m.group => (
                cache.group.clone(),
                Base {
                    mod_revision: cache.group_mod_revision,
                    commit: cache.group_commit,
                },
            ),
            Level::Group(_) | Level::Machine(_) => {
                let c = local.committed().map_err(|e| e.to_string())?;
                let etcd = connect(&c, m).map_err(|e| e.to_string())?;
                let l = block_on(etcd.level(&m.cluster, level))
                    .and_then(|r| r)
                    .map_err(|e| unreachable_text(m, level, &e))?;
                (
                    l.doc.settings(),
                    Base {
                        mod_revision: l.mod_revision,
                        commit: l.doc.commit,
                    },
                )
            }
        };
        let local_cfg = local.committed().map_err(|e| e.to_string())?;
        let layers = layers(&cache, level, &group);
        let refs: Vec<&LevelSettings> = layers.iter().collect();
        let cfg = model::effective(&local_cfg, &refs).map_err(|e| e.to_string())?;
        view.set_committed(&cfg).map_err(|e| e.to_string())?;
        state.set_base(level, base).map_err(|e| e.to_string())?;
    }
    Ok(view)
}

/// The contract's refusal of a level commit while etcd is unreachable.
pub fn unreachable_text(m: &Membership, level: &Level, e: &ClusterError) -> String {
    match e {
        ClusterError::Unreachable(reason) => format!(
            "Cannot commit in {}: the cluster's configuration store (etcd) is unreachable: {reason}. Machine-level changes (clustermode machine) still work.",
            level.describe(&m.cluster)
        ),
        ClusterError::TooLarge { .. } => format!(
            "Cannot commit in {}: {e}. Move large settings to a group or machine level.",
            level.describe(&m.cluster)
        ),
        other => other.to_string(),
    }
}

/// `commit` at cluster or group level: the sections changed in the view
/// since it was staged, laid over the level's document in one etcd
/// transaction compared on the level's revision at staging time.
pub fn commit_level(
    link: &dyn ClusterLink,
    local: &ConfigStore,
    m: &Membership,
    level: &Level,
    user: &str,
    comment: &str,
) -> Result<String, String> {
    let state = link.state();
    let view = state.view(level).map_err(|e| e.to_string())?;
    let Some(staged) = view.staged().map_err(|e| e.to_string())? else {
        return Err("There are no changes to commit.".to_string());
    };
    let before = view.committed().map_err(|e| e.to_string())?;
    let changed: Vec<String> = model::changed_sections(&before, &staged)
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|s| !machine_setting(s, m.share_certificates))
        .collect();
    if changed.is_empty() {
        view.clear().map_err(|e| e.to_string())?;
        return Err("There are no changes to commit.".to_string());
    }
    let base = state.base(level).map_err(|e| e.to_string())?;
    let changed_values =
        model::extract(&staged, changed.iter().map(String::as_str)).map_err(|e| e.to_string())?;
    let local_cfg = local.committed().map_err(|e| e.to_string())?;
    let etcd = connect(&local_cfg, m).map_err(|e| e.to_string())?;
    let result = block_on(async {
        let current = etcd.level(&m.cluster, level).await?;
        let mut doc = current.doc.settings();
        for (s, v) in &changed_values.sections {
            doc.sections.insert(s.clone(), v.clone());
        }
        let record = breakwater_cluster::record(
            current.doc.commit + 1,
            user,
            &m.machine,
            comment,
            changed.clone(),
        );
        etcd.commit_level(&m.cluster, level, base.mod_revision, &doc, &record)
            .await
            .map(|rev| (rev, record))
    })
    .and_then(|r| r);
    match result {
        Ok((revision, record)) => {
            view.set_committed(&staged).map_err(|e| e.to_string())?;
            view.clear().map_err(|e| e.to_string())?;
            state
                .set_base(
                    level,
                    Base {
                        mod_revision: revision,
                        commit: record.number,
                    },
                )
                .map_err(|e| e.to_string())?;
            // Applied here before the answer, as a machine commit is.
            let applied = link.sync().map_err(|e| e.to_string());
            let time = crate::commands::commit_time(record.time);
            Ok(match applied {
                Ok(_) => format!(
                    "Changes committed: {time}\n{} revision {revision}.",
                    level.describe(&m.cluster)
                ),
                Err(e) => format!(
                    "Changes committed: {time}\n{} revision {revision}; not yet applied here: {e}",
                    level.describe(&m.cluster)
                ),
            })
        }
        Err(ClusterError::Changed {
            revision,
            user: by,
            machine,
            comment,
        }) => {
            // Keep the change, moved onto the new revision: only this
            // administrator's sections are written by the retry.
            let _ = link.sync();
            let _ = view.clear();
            if let Ok(fresh) = self::view(local, state, m, level)
                && let Ok(base_cfg) = fresh.committed()
                && let Ok(moved) = model::effective(&base_cfg, &[&changed_values])
            {
                let _ = fresh.stage(&moved);
            }
            Err(format!(
                "The cluster configuration changed since your changes were staged (now at revision {revision}, by {by} on {machine}: {comment}). Review with \"clustercheck\" or \"showconfig\" and commit again."
            ))
        }
        Err(e) => Err(unreachable_text(m, level, &e)),
    }
}

/// `commitlog` at cluster or group level: the level's history in etcd.
pub fn commitlog(local: &ConfigStore, m: &Membership, level: &Level) -> Result<String, String> {
    let cfg = local.committed().map_err(|e| e.to_string())?;
    let etcd = connect(&cfg, m).map_err(|e| e.to_string())?;
    let history = block_on(etcd.history(&m.cluster, level))
        .and_then(|r| r)
        .map_err(|e| format!("The cluster's configuration store (etcd) is unreachable: {e}."))?;
    let uw = history
        .iter()
        .map(|r| r.user.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let mw = history
        .iter()
        .map(|r| r.machine.len())
        .max()
        .unwrap_or(0)
        .max(7);
    let nw = history.last().map_or(1, |r| r.number.to_string().len());
    let mut out = format!(
        "{:>nw$}  {:<28}  {:<uw$}  {:<mw$}  Comment (sections)",
        "#", "Date", "User", "Machine"
    );
    for r in &history {
        out.push_str(&format!(
            "\n{:>nw$}  {:<28}  {:<uw$}  {:<mw$}  {} ({})",
            r.number,
            crate::commands::commit_time(r.time),
            r.user,
            r.machine,
            r.comment,
            r.sections.join(", ")
        ));
    }
    Ok(out)
}

/// `rollback N` at cluster or group level: stages the level's sections
/// as commit N left them (its history record keeps them); `commit`
/// then writes them in one transaction, as any change.
pub fn rollback(
    local: &ConfigStore,
    view: &ConfigStore,
    m: &Membership,
    level: &Level,
    args: &[String],
) -> Result<String, String> {
    let [n] = args else {
        return Err("usage: rollback COMMIT_NUMBER".to_string());
    };
    let n: u64 = n
        .parse()
        .map_err(|_| format!("Invalid commit number \"{n}\" (see commitlog)."))?;
    if view.staged().map_err(|e| e.to_string())?.is_some() {
        return Err(
            "There are uncommitted changes; run \"commit\" or \"clear\" before rolling back."
                .to_string(),
        );
    }
    let cfg = local.committed().map_err(|e| e.to_string())?;
    let etcd = connect(&cfg, m).map_err(|e| e.to_string())?;
    let record = block_on(etcd.history_record(&m.cluster, level, n))
        .and_then(|r| r)
        .map_err(|e| format!("The cluster's configuration store (etcd) is unreachable: {e}."))?;
    let Some(record) = record else {
        return Err(format!(
            "There is no commit number {n} in {} (see commitlog).",
            level.describe(&m.cluster)
        ));
    };
    let Some(values) = &record.values else {
        return Err(format!(
            "Commit {n} of {} was recorded without its settings (an older release): it cannot be rolled back to.",
            level.describe(&m.cluster)
        ));
    };
    let current = view.committed().map_err(|e| e.to_string())?;
    let staged = model::effective(&current, &[values]).map_err(|e| e.to_string())?;
    view.stage(&staged).map_err(|e| e.to_string())?;
    Ok(format!(
        "The settings of {} at commit {} ({}, {}: \"{}\") are staged.\n\
         Run \"commit\" to roll back to them, or \"clear\" to keep the current configuration.",
        level.describe(&m.cluster),
        record.number,
        crate::commands::commit_time(record.time),
        record.user,
        record.comment
    ))
}

/// After a machine-level commit: this machine's overrides take the
/// committed values, and etcd's copy of them follows when reachable.
pub fn record_overrides(link: &dyn ClusterLink, local: &ConfigStore, m: &Membership) {
    let state = link.state();
    let (Ok(mut overrides), Ok(cfg)) = (state.overrides(), local.committed()) else {
        return;
    };
    let names: Vec<String> = overrides.sections.keys().cloned().collect();
    if let Ok(now) = model::extract(&cfg, names.iter().map(String::as_str)) {
        overrides = now;
    }
    if state.set_overrides(&overrides).is_ok() {
        let _ = copy_overrides(&cfg, m, &overrides);
    }
}

/// Writes this machine's overrides to `level/machine/M` (for `levels`
/// and `clustercheck` on the other members).
pub fn copy_overrides(
    cfg: &Config,
    m: &Membership,
    overrides: &LevelSettings,
) -> Result<(), ClusterError> {
    let etcd = connect(cfg, m)?;
    block_on(etcd.put_level(&m.cluster, &Level::Machine(m.machine.clone()), overrides, 0))??;
    Ok(())
}

/// The configuration this machine should run for `levels` (a consistent
/// read of etcd), or `None` when it runs it already. Pure but for the
/// reads of the store and the state.
pub fn effective_for(
    local: &Config,
    m: &Membership,
    levels: &BTreeMap<Level, LevelState>,
    overrides: &LevelSettings,
) -> Result<Option<Config>, String> {
    let empty = LevelState::default();
    let cluster = shareable(
        &levels.get(&Level::Cluster).unwrap_or(&empty).doc.settings(),
        m.share_certificates,
    );
    let group = shareable(
        &levels
            .get(&Level::Group(m.group.clone()))
            .unwrap_or(&empty)
            .doc
            .settings(),
        m.share_certificates,
    );
    let overrides = shareable(overrides, m.share_certificates);
    let cfg =
        model::effective(local, &[&cluster, &group, &overrides]).map_err(|e| e.to_string())?;
    Ok((cfg != *local).then_some(cfg))
}

/// The digests `status/M` publishes: every section but this machine's
/// own settings (its overrides are included: `clustercheck` names them).
pub fn shared_digests(cfg: &Config, m: &Membership) -> BTreeMap<String, String> {
    model::digests(cfg)
        .unwrap_or_default()
        .into_iter()
        .filter(|(s, _)| !machine_setting(s, m.share_certificates))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn membership() -> Membership {
        Membership {
            cluster: "Hosted_Cluster".into(),
            machine: "esa1.myesa.com".into(),
            group: "Main_Group".into(),
            endpoints: vec![],
            ca: String::new(),
            ca_pem: String::new(),
            certificate: String::new(),
            share_certificates: false,
        }
    }

    fn defining(names: &[&str]) -> LevelSettings {
        let mut s = LevelSettings::default();
        for n in names {
            s.sections.insert(n.to_string(), serde_json::json!(null));
        }
        s
    }

    #[test]
    fn commands_are_refused_where_their_level_does_not_define_them() {
        let m = membership();
        let cache = LevelCache {
            cluster: defining(&["listeners", "dns"]),
            ..Default::default()
        };
        let overrides = defining(&["dns"]);
        let machine = Level::Machine(m.machine.clone());
        let e = check_level(
            "listenerconfig",
            &["listeners"],
            &machine,
            &m,
            &cache,
            &overrides,
        )
        .unwrap_err();
        assert_eq!(
            e,
            "The settings of \"listenerconfig\" (listeners) are defined in Cluster Hosted_Cluster. Switch with \"clustermode cluster\", or copy them here with \"clusterconfig override listeners machine\"."
        );
        let e = check_level(
            "interfaceconfig",
            &["interfaces"],
            &Level::Cluster,
            &m,
            &cache,
            &overrides,
        )
        .unwrap_err();
        assert_eq!(
            e,
            "\"interfaceconfig\" edits machine settings (interfaces): switch with \"clustermode machine\"."
        );
        check_level("dnsconfig", &["dns"], &machine, &m, &cache, &overrides).unwrap();
        check_level(
            "listenerconfig",
            &["listeners"],
            &Level::Cluster,
            &m,
            &cache,
            &overrides,
        )
        .unwrap();
        check_level(
            "interfaceconfig",
            &["interfaces"],
            &machine,
            &m,
            &cache,
            &overrides,
        )
        .unwrap();
        assert_eq!(
            defined_in("dns", &m, &cache, &overrides),
            "Machine esa1.myesa.com"
        );
        assert_eq!(
            defined_in("interfaces", &m, &cache, &overrides),
            "Machine esa1.myesa.com (machine setting)"
        );
        assert_eq!(
            defined_in("listeners", &m, &cache, &overrides),
            "Cluster Hosted_Cluster"
        );
    }

    #[test]
    fn a_level_never_brings_a_machine_setting() {
        let local = breakwater_config::factory::dev_factory_for_tests();
        let mut other = local.clone();
        other.hostname = "intruder.example.com".into();
        other.dns.timeout_secs += 1;
        let written = model::extract(&other, ["hostname", "dns"]).unwrap();
        let mut levels = BTreeMap::new();
        levels.insert(
            Level::Cluster,
            LevelState {
                doc: breakwater_cluster::LevelDoc {
                    sections: written.sections,
                    commit: 1,
                },
                mod_revision: 5,
            },
        );
        let got = effective_for(&local, &membership(), &levels, &LevelSettings::default())
            .unwrap()
            .unwrap();
        assert_eq!(got.hostname, local.hostname);
        assert_eq!(got.dns.timeout_secs, other.dns.timeout_secs);
        assert_eq!(
            effective_for(&got, &membership(), &levels, &LevelSettings::default()).unwrap(),
            None,
            "nothing to apply twice"
        );
    }
}

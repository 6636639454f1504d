//! `clusterconfig` (issue 20): create, join, list and leave a cluster,
//! its groups, and which level defines each section. Every change here
//! commits at once in etcd (AsyncOS's CLUSTERSET): nothing is staged.

use std::fmt::Write as _;

use breakwater_cluster::{ClusterError, JoinToken, MAIN_GROUP, Status, valid_name};
use breakwater_config::cluster::{self as model, Level, LevelSettings};
use breakwater_control_proto::levels::sections_of;
use breakwater_control_proto::usage::CLUSTERCONFIG as USAGE;

use super::args::{invalid, parse_opts, usage};
use super::{CliError, CommandContext};
use crate::cluster::{
    ClusterLink, Connection, Membership, block_on, connect, defined_in, machine_setting, mode,
};

pub const NOT_IN_A_CLUSTER: &str = "This appliance is not part of a cluster.";

fn cluster_error(e: ClusterError) -> CliError {
    invalid(match e {
        ClusterError::Unreachable(reason) => {
            format!("The cluster's configuration store (etcd) is unreachable: {reason}.")
        }
        other => other.to_string(),
    })
}

fn store(e: impl std::fmt::Display) -> CliError {
    invalid(e.to_string())
}

fn name_arg(what: &str, name: &str) -> Result<(), CliError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} \"{name}\" may hold only letters, digits, '.', '-' and '_'."
        )))
    }
}

/// `clusterconfig ...`.
pub fn run(
    link: &dyn ClusterLink,
    ctx: &CommandContext<'_>,
    args: &[String],
) -> Result<String, CliError> {
    let state = link.state();
    let membership = state.membership().map_err(store)?;
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let sub = words.first().map(|w| w.to_ascii_lowercase());
    let Some(m) = membership else {
        return match sub.as_deref() {
            None => Ok(NOT_IN_A_CLUSTER.to_string()),
            Some("create") => create(link, ctx, &args[1..]),
            Some("join") => join(link, ctx, &args[1..]),
            Some(_) => Err(invalid(NOT_IN_A_CLUSTER)),
        };
    };
    let local = ctx.store.committed()?;
    match (sub.as_deref(), &words[..]) {
        (None, _) => Ok(show(link, ctx, &m)),
        (Some("create" | "join"), _) => Err(invalid(format!(
            "This appliance is already in cluster {}: \"clusterconfig leave\" first.",
            m.cluster
        ))),
        (Some("token"), [_]) => {
            let token = JoinToken {
                cluster: m.cluster.clone(),
                endpoints: m.endpoints.clone(),
                ca_pem: m.ca_pem.clone(),
            };
            token.encode().map_err(cluster_error)
        }
        (Some("list"), [_]) => list(&local, &m, false),
        (Some("list"), [_, j]) if j.eq_ignore_ascii_case("--json") => list(&local, &m, true),
        (Some("addgroup"), [_, g]) => {
            name_arg("The group name", g)?;
            let etcd = connect(&local, &m).map_err(cluster_error)?;
            block_on(etcd.add_group(&m.cluster, g))
                .and_then(|r| r)
                .map_err(cluster_error)?;
            Ok(format!("Group {g} added to cluster {}.", m.cluster))
        }
        (Some("deletegroup"), [_, g]) => {
            if *g == MAIN_GROUP {
                return Err(invalid(format!(
                    "The group {MAIN_GROUP} cannot be deleted."
                )));
            }
            let etcd = connect(&local, &m).map_err(cluster_error)?;
            let members = block_on(etcd.members(&m.cluster))
                .and_then(|r| r)
                .map_err(cluster_error)?;
            let inside: Vec<&str> = members
                .iter()
                .filter(|x| x.group == *g)
                .map(|x| x.machine.as_str())
                .collect();
            if !inside.is_empty() {
                return Err(invalid(format!(
                    "Group {g} still has members ({}): move them with \"clusterconfig setgroup\" first.",
                    inside.join(", ")
                )));
            }
            if !block_on(etcd.groups(&m.cluster))
                .and_then(|r| r)
                .map_err(cluster_error)?
                .iter()
                .any(|x| x == g)
            {
                return Err(invalid(format!("There is no group {g}.")));
            }
            block_on(etcd.delete_group(&m.cluster, g))
                .and_then(|r| r)
                .map_err(cluster_error)?;
            Ok(format!("Group {g} deleted."))
        }
        (Some("setgroup"), [_, machine, g]) => setgroup(link, &local, &m, machine, g),
        (Some("removemachine"), [_, machine]) => {
            if *machine == m.machine {
                return leave(link, &local, &m);
            }
            let etcd = connect(&local, &m).map_err(cluster_error)?;
            let members = block_on(etcd.members(&m.cluster))
                .and_then(|r| r)
                .map_err(cluster_error)?;
            if !members.iter().any(|x| x.machine == *machine) {
                return Err(invalid(format!(
                    "There is no machine {machine} in the cluster."
                )));
            }
            block_on(etcd.remove_member(&m.cluster, machine))
                .and_then(|r| r)
                .map_err(cluster_error)?;
            Ok(format!(
                "Machine {machine} removed from cluster {}.",
                m.cluster
            ))
        }
        (Some("leave"), [_]) => leave(link, &local, &m),
        (Some("levels"), [_]) => levels(link, &local, &m, None),
        (Some("levels"), [_, what]) => levels(link, &local, &m, Some(what)),
        (Some("override"), [_, section, at]) => set_level(link, ctx, &local, &m, section, at, true),
        (Some("inherit"), [_, section, at]) => set_level(link, ctx, &local, &m, section, at, false),
        (Some("sharecertificates"), [_, yes_no]) => share_certificates(link, &local, &m, yes_no),
        _ => Err(usage(USAGE)),
    }
}

fn show(link: &dyn ClusterLink, ctx: &CommandContext<'_>, m: &Membership) -> String {
    let state = link.state();
    let cache = state.cache().unwrap_or_default();
    let connection = match link.connection() {
        Connection::Connecting => "connecting".to_string(),
        Connection::Connected { revision } => format!("connected (revision {revision})"),
        Connection::Unreachable { since, reason } => format!(
            "unreachable since {}: {reason}",
            chrono::DateTime::from_timestamp(since, 0).map_or_else(
                || since.to_string(),
                |t| t
                    .with_timezone(&chrono::Local)
                    .format("%a %b %e %H:%M:%S %Y")
                    .to_string()
            )
        ),
    };
    let members = ctx
        .store
        .committed()
        .ok()
        .and_then(|c| connect(&c, m).ok())
        .and_then(|etcd| block_on(etcd.members(&m.cluster)).ok())
        .and_then(Result::ok)
        .map_or_else(|| "?".to_string(), |v| v.len().to_string());
    format!(
        "Cluster {}\nMachine: {} (group {})\nMode: {}\netcd: {}\nConnection: {connection}\nRunning: cluster revision {}\nMembers: {members} (clusterconfig list)",
        m.cluster,
        m.machine,
        m.group,
        mode(state, ctx.user).describe(&m.cluster),
        m.endpoints.join(", "),
        cache.applied_revision
    )
}

/// The options of `create` and `join`.
fn membership_opts(
    ctx: &CommandContext<'_>,
    args: &[String],
    allowed: &[&'static str],
) -> Result<(super::args::Opts, String, String), CliError> {
    let opts = parse_opts(args, allowed, &[], USAGE)?;
    if !opts.positional.is_empty() {
        return Err(usage(USAGE));
    }
    let local = ctx.store.committed()?;
    let group = opts.value("group").unwrap_or(MAIN_GROUP).to_string();
    let machine = opts
        .value("machine")
        .map_or_else(|| local.hostname.clone(), str::to_string);
    name_arg("The group name", &group)?;
    name_arg("The machine name", &machine)?;
    if ctx.store.staged()?.is_some() {
        return Err(invalid(
            "There are uncommitted changes: \"commit\" or \"clear\" them first.",
        ));
    }
    Ok((opts, group, machine))
}

fn create(
    link: &dyn ClusterLink,
    ctx: &CommandContext<'_>,
    args: &[String],
) -> Result<String, CliError> {
    let Some((name, rest)) = args.split_first() else {
        return Err(usage(USAGE));
    };
    name_arg("The cluster name", name)?;
    let (opts, group, machine) = membership_opts(
        ctx,
        rest,
        &["etcd", "ca", "certificate", "group", "machine"],
    )?;
    let (Some(endpoints), Some(ca), Some(cert)) = (
        opts.value("etcd"),
        opts.value("ca"),
        opts.value("certificate"),
    ) else {
        return Err(usage(USAGE));
    };
    let local = ctx.store.committed()?;
    let ca_pem = local
        .ca_certificates
        .iter()
        .find(|c| c.name == ca)
        .map(|c| c.cert_pem.clone())
        .ok_or_else(|| {
            invalid(format!(
                "There is no CA named {ca} (certconfig certauthority)."
            ))
        })?;
    let m = Membership {
        cluster: name.clone(),
        machine: machine.clone(),
        group: group.clone(),
        endpoints: endpoints
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        ca: ca.to_string(),
        ca_pem,
        certificate: cert.to_string(),
        share_certificates: false,
    };
    let etcd = connect(&local, &m).map_err(cluster_error)?;
    let shared = model::shared_sections(&local, false);
    let level = model::extract(&local, shared.iter().map(String::as_str)).map_err(store)?;
    let token: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    block_on(etcd.create_cluster(
        &breakwater_cluster::meta(name, ctx.user, token),
        &level,
        &group,
        &crate::cluster_fanout::member_record(&local, &machine, &group, &link.api_address()),
        &breakwater_cluster::record(1, ctx.user, &machine, "cluster created", shared),
    ))
    .and_then(|r| r)
    .map_err(cluster_error)?;
    let state = link.state();
    state
        .set_overrides(&LevelSettings::default())
        .map_err(store)?;
    state.set_membership(&m).map_err(store)?;
    let _ = link.sync();
    Ok(format!(
        "Cluster {name} created with this machine ({machine}) in group {group}."
    ))
}

fn join(
    link: &dyn ClusterLink,
    ctx: &CommandContext<'_>,
    args: &[String],
) -> Result<String, CliError> {
    let Some((token, rest)) = args.split_first() else {
        return Err(usage(USAGE));
    };
    let (opts, group, machine) = membership_opts(ctx, rest, &["certificate", "group", "machine"])?;
    let Some(cert) = opts.value("certificate") else {
        return Err(usage(USAGE));
    };
    let token = JoinToken::decode(token).map_err(|e| invalid(format!("Refused: {e}.")))?;
    let local = ctx.store.committed()?;
    let m = Membership {
        cluster: token.cluster.clone(),
        machine: machine.clone(),
        group: group.clone(),
        endpoints: token.endpoints.clone(),
        ca: token.cluster.clone(),
        ca_pem: token.ca_pem.clone(),
        certificate: cert.to_string(),
        share_certificates: false,
    };
    let etcd = connect(&local, &m).map_err(cluster_error)?;
    let meta = block_on(etcd.meta(&m.cluster))
        .and_then(|r| r)
        .map_err(cluster_error)?
        .ok_or_else(|| invalid(ClusterError::NoSuchCluster(m.cluster.clone()).to_string()))?;
    let groups = block_on(etcd.groups(&m.cluster))
        .and_then(|r| r)
        .map_err(cluster_error)?;
    if !groups.contains(&group) {
        return Err(invalid(format!(
            "Cluster {} has no group {group} (groups: {}).",
            m.cluster,
            groups.join(", ")
        )));
    }
    let members = block_on(etcd.members(&m.cluster))
        .and_then(|r| r)
        .map_err(cluster_error)?;
    if members.iter().any(|x| x.machine == machine) {
        return Err(invalid(format!(
            "Cluster {} already has a machine named {machine}: choose another with --machine.",
            m.cluster
        )));
    }
    block_on(etcd.put_member(
        &m.cluster,
        &crate::cluster_fanout::member_record(&local, &machine, &group, &link.api_address()),
    ))
    .and_then(|r| r)
    .map_err(cluster_error)?;
    let m = Membership {
        share_certificates: meta.share_certificates,
        ..m
    };
    let state = link.state();
    state
        .set_overrides(&LevelSettings::default())
        .map_err(store)?;
    state.set_membership(&m).map_err(store)?;
    let revision = link.sync().map_err(cluster_error)?;
    Ok(format!(
        "Joined cluster {} as {machine} in group {group} (revision {revision}).",
        m.cluster
    ))
}

/// A member's Status column: `unreachable` once it missed
/// [`breakwater_cluster::MISSED_HEARTBEATS`] heartbeats, else whether it
/// runs the `latest` cluster revision.
fn member_status(s: &Status, latest: i64, now: chrono::DateTime<chrono::Utc>) -> String {
    if s.is_stale(now) {
        "unreachable".to_string()
    } else if s.revision >= latest {
        "up to date".to_string()
    } else {
        format!("behind (revision {})", s.revision)
    }
}

/// A member's Last seen column: its last heartbeat (or, from an older
/// release, its last apply) in the appliance's time zone.
fn last_seen(s: &Status) -> String {
    let at = s.seen_at().or_else(|| {
        chrono::DateTime::parse_from_rfc3339(&s.applied_at)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    });
    at.map_or_else(
        || "-".to_string(),
        |t| {
            t.with_timezone(&breakwater_types::clock::zone())
                .format("%d %b %Y %H:%M:%S (GMT %:z)")
                .to_string()
        },
    )
}

/// One row of `clusterconfig list`: machine, group, address, revision,
/// last seen, status.
type Row = (String, String, String, String, String, String);

fn list(local: &crate::config::Config, m: &Membership, json: bool) -> Result<String, CliError> {
    let etcd = connect(local, m).map_err(cluster_error)?;
    let (members, statuses, (levels, _)) = block_on(async {
        Ok::<_, ClusterError>((
            etcd.members(&m.cluster).await?,
            etcd.statuses(&m.cluster).await?,
            etcd.levels(&m.cluster).await?,
        ))
    })
    .and_then(|r| r)
    .map_err(cluster_error)?;
    let latest = breakwater_cluster::cluster_revision(&levels);
    let now = chrono::Utc::now();
    let rows: Vec<Row> = members
        .iter()
        .map(|x| {
            let (revision, seen, status) = match statuses.get(&x.machine) {
                Some(s) => (
                    s.revision.to_string(),
                    last_seen(s),
                    member_status(s, latest, now),
                ),
                None => ("-".into(), "-".into(), "unreachable".into()),
            };
            let api = if x.api.is_empty() {
                "-".to_string()
            } else {
                x.api.clone()
            };
            (
                x.machine.clone(),
                x.group.clone(),
                api,
                revision,
                seen,
                status,
            )
        })
        .collect();
    if json {
        let members: Vec<serde_json::Value> = rows
            .iter()
            .map(|(machine, group, api, revision, _, status)| {
                serde_json::json!({
                    "machine": machine, "group": group, "api": api,
                    "revision": revision.parse::<i64>().ok(), "status": status,
                })
            })
            .collect();
        return Ok(serde_json::json!({ "members": members }).to_string());
    }
    let header = (
        "Machine".to_string(),
        "Group".to_string(),
        "Address".to_string(),
        "Revision".to_string(),
        "Last seen".to_string(),
        "Status".to_string(),
    );
    let all: Vec<_> = std::iter::once(&header).chain(rows.iter()).collect();
    let w = |f: fn(&Row) -> &String| all.iter().map(|r| f(r).len()).max().unwrap_or(0);
    let (w0, w1, w2, w3, w4) = (
        w(|r| &r.0),
        w(|r| &r.1),
        w(|r| &r.2),
        w(|r| &r.3),
        w(|r| &r.4),
    );
    let mut out = String::new();
    for r in all {
        let _ = writeln!(
            out,
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  {}",
            r.0, r.1, r.2, r.3, r.4, r.5
        );
    }
    Ok(out.trim_end().to_string())
}

fn leave(
    link: &dyn ClusterLink,
    local: &crate::config::Config,
    m: &Membership,
) -> Result<String, CliError> {
    // Best effort in etcd: a machine leaves even while etcd is down.
    let note = match connect(local, m)
        .and_then(|etcd| block_on(etcd.remove_member(&m.cluster, &m.machine)))
        .and_then(|r| r)
    {
        Ok(()) => String::new(),
        Err(e) => format!(
            "\n(etcd could not be told: {e}; remove it there with \"clusterconfig removemachine {}\".)",
            m.machine
        ),
    };
    link.state().clear().map_err(store)?;
    let _ = link.sync();
    Ok(format!(
        "This machine ({}) left cluster {}; it keeps its configuration and runs standalone.{note}",
        m.machine, m.cluster
    ))
}

fn setgroup(
    link: &dyn ClusterLink,
    local: &crate::config::Config,
    m: &Membership,
    machine: &str,
    group: &str,
) -> Result<String, CliError> {
    let etcd = connect(local, m).map_err(cluster_error)?;
    let (members, groups) = block_on(async {
        Ok::<_, ClusterError>((
            etcd.members(&m.cluster).await?,
            etcd.groups(&m.cluster).await?,
        ))
    })
    .and_then(|r| r)
    .map_err(cluster_error)?;
    if !groups.iter().any(|g| g == group) {
        return Err(invalid(format!(
            "There is no group {group} (clusterconfig addgroup)."
        )));
    }
    let Some(mut member) = members.into_iter().find(|x| x.machine == machine) else {
        return Err(invalid(format!(
            "There is no machine {machine} in the cluster."
        )));
    };
    member.group = group.to_string();
    block_on(async {
        etcd.put_member(&m.cluster, &member).await?;
        // The machine's agent watches the levels: touching its level
        // tells it to read its membership again.
        let own = etcd
            .level(&m.cluster, &Level::Machine(machine.to_string()))
            .await?;
        etcd.put_level(
            &m.cluster,
            &Level::Machine(machine.to_string()),
            &own.doc.settings(),
            own.doc.commit,
        )
        .await
    })
    .and_then(|r| r)
    .map_err(cluster_error)?;
    if machine == m.machine {
        let _ = link.sync();
    }
    Ok(format!("Machine {machine} is now in group {group}."))
}

fn levels(
    link: &dyn ClusterLink,
    local: &crate::config::Config,
    m: &Membership,
    what: Option<&str>,
) -> Result<String, CliError> {
    let state = link.state();
    let cache = state.cache().map_err(store)?;
    let overrides = state.overrides().map_err(store)?;
    let all = model::sections(local);
    let chosen: Vec<String> = match what {
        None => all,
        Some(w) if all.iter().any(|s| s == w) => vec![w.to_string()],
        Some(w) => {
            let of = sections_of(&[w.to_string()]);
            if of.is_empty() {
                return Err(invalid(format!(
                    "{w} is neither a section nor a configuration command (clusterconfig levels lists the sections)."
                )));
            }
            of.iter().map(|s| s.to_string()).collect()
        }
    };
    let width = chosen.iter().map(String::len).max().unwrap_or(0).max(7);
    let mut out = format!("{:<width$}  Defined in", "Section");
    for s in &chosen {
        let _ = write!(
            out,
            "\n{s:<width$}  {}",
            defined_in(s, m, &cache, &overrides)
        );
    }
    Ok(out)
}

/// The sections that move between levels together: the HAT's comment
/// lines go with the listeners whose HAT they annotate.
fn together(section: &str) -> Vec<&str> {
    match section {
        "listeners" => vec!["listeners", "hat_comments"],
        _ => vec![section],
    }
}

fn set_level(
    link: &dyn ClusterLink,
    ctx: &CommandContext<'_>,
    local: &crate::config::Config,
    m: &Membership,
    section: &str,
    at: &str,
    define: bool,
) -> Result<String, CliError> {
    if !model::sections(local).iter().any(|s| s == section) {
        return Err(invalid(format!(
            "{section} is not a section of the configuration (clusterconfig levels lists them)."
        )));
    }
    if machine_setting(section, m.share_certificates) {
        return Err(invalid(format!(
            "{section} is a machine setting: it is always defined on each machine."
        )));
    }
    let state = link.state();
    let verb = if define {
        "defined"
    } else {
        "no longer defined"
    };
    match at.to_ascii_lowercase().as_str() {
        "machine" => {
            let mut overrides = state.overrides().map_err(store)?;
            if define {
                let value = model::extract(local, together(section)).map_err(store)?;
                overrides.sections.extend(value.sections);
            } else if together(section)
                .iter()
                .filter_map(|s| overrides.sections.remove(*s))
                .count()
                == 0
            {
                return Err(invalid(format!(
                    "{section} is not defined at machine level on {}.",
                    m.machine
                )));
            }
            state.set_overrides(&overrides).map_err(store)?;
            let copied = crate::cluster::copy_overrides(local, m, &overrides);
            let _ = link.sync();
            let note = copied
                .err()
                .map(|e| format!("\n(etcd's copy follows when it is reachable: {e})"))
                .unwrap_or_default();
            Ok(format!(
                "{section} is {verb} at Machine {} level.{note}",
                m.machine
            ))
        }
        "group" => {
            let level = Level::Group(m.group.clone());
            let etcd = connect(local, m).map_err(cluster_error)?;
            let value = model::extract(local, together(section)).map_err(store)?;
            block_on(async {
                let current = etcd.level(&m.cluster, &level).await?;
                let mut doc = current.doc.settings();
                if define {
                    doc.sections.extend(value.sections.clone());
                } else {
                    for s in together(section) {
                        doc.sections.remove(s);
                    }
                }
                let comment = format!(
                    "clusterconfig {} {section} group",
                    if define { "override" } else { "inherit" }
                );
                let record = breakwater_cluster::record(
                    current.doc.commit + 1,
                    ctx.user,
                    &m.machine,
                    &comment,
                    vec![section.to_string()],
                );
                etcd.commit_level(&m.cluster, &level, current.mod_revision, &doc, &record)
                    .await
            })
            .and_then(|r| r)
            .map_err(cluster_error)?;
            let _ = link.sync();
            Ok(format!("{section} is {verb} at Group {} level.", m.group))
        }
        _ => Err(usage(USAGE)),
    }
}

fn share_certificates(
    link: &dyn ClusterLink,
    local: &crate::config::Config,
    m: &Membership,
    yes_no: &str,
) -> Result<String, CliError> {
    let share = match yes_no.to_ascii_lowercase().as_str() {
        "yes" => true,
        "no" => false,
        _ => return Err(usage(USAGE)),
    };
    let etcd = connect(local, m).map_err(cluster_error)?;
    let value = model::extract(local, ["certificates"]).map_err(store)?;
    block_on(async {
        let mut meta = etcd
            .meta(&m.cluster)
            .await?
            .ok_or_else(|| ClusterError::NoSuchCluster(m.cluster.clone()))?;
        meta.share_certificates = share;
        etcd.put_meta(&meta).await?;
        let current = etcd.level(&m.cluster, &Level::Cluster).await?;
        let mut doc = current.doc.settings();
        if share {
            doc.sections.extend(value.sections.clone());
        } else {
            doc.sections.remove("certificates");
        }
        let record = breakwater_cluster::record(
            current.doc.commit + 1,
            "admin",
            &m.machine,
            &format!("clusterconfig sharecertificates {yes_no}"),
            vec!["certificates".to_string()],
        );
        etcd.commit_level(
            &m.cluster,
            &Level::Cluster,
            current.mod_revision,
            &doc,
            &record,
        )
        .await
    })
    .and_then(|r| r)
    .map_err(cluster_error)?;
    let updated = Membership {
        share_certificates: share,
        ..m.clone()
    };
    link.state().set_membership(&updated).map_err(store)?;
    let _ = link.sync();
    Ok(if share {
        "Certificates (with their private keys) are now shared at cluster level.".to_string()
    } else {
        "Certificates stay on each machine.".to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use super::*;

    #[test]
    fn a_member_that_missed_three_heartbeats_is_listed_unreachable() {
        let s = breakwater_cluster::status(5, Default::default());
        let seen = s.seen_at().unwrap();
        assert_eq!(member_status(&s, 5, seen), "up to date");
        assert_eq!(member_status(&s, 6, seen), "behind (revision 5)");
        let later = seen + chrono::Duration::seconds(91);
        assert_eq!(member_status(&s, 5, later), "unreachable");
        assert!(last_seen(&s).contains("(GMT "), "{}", last_seen(&s));
    }

    #[test]
    fn without_a_cluster_the_commands_say_so() {
        let f = Fixture::new();
        assert_eq!(f.run("clusterconfig").unwrap(), NOT_IN_A_CLUSTER);
        let e = f.run("clustermode cluster").unwrap_err().to_string();
        assert_eq!(e, NOT_IN_A_CLUSTER);
        assert!(f.run("clustercheck").is_err());
    }

    #[test]
    fn the_join_token_is_one_base64url_line_of_the_decision_s_json() {
        let token = JoinToken {
            cluster: "Hosted_Cluster".into(),
            endpoints: vec!["https://127.9.0.1:2379".into()],
            ca_pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
        };
        use base64::Engine as _;
        let text = token.encode().unwrap();
        assert!(!text.contains(['\n', '+', '/', '=']), "{text}");
        let back: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&text)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(back["cluster"], "Hosted_Cluster");
        assert_eq!(back["endpoints"][0], "https://127.9.0.1:2379");
        assert!(back["ca_pem"].as_str().unwrap().starts_with("-----BEGIN"));
    }
}

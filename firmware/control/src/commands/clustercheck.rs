//! `clustercheck` (issue 20): whether every member runs the same cluster
//! revision and the same shared sections (by the digests each member
//! publishes in `status/M`).

use std::fmt::Write as _;

use breakwater_cluster::ClusterError;
use breakwater_control_proto::usage::CLUSTERCHECK as USAGE;

use super::args::{invalid, usage};
use super::clusterconfig::NOT_IN_A_CLUSTER;
use super::{CliError, CommandContext};
use crate::cluster::{ClusterLink, block_on, connect};

pub fn run(
    link: &dyn ClusterLink,
    ctx: &CommandContext<'_>,
    args: &[String],
) -> Result<String, CliError> {
    if !args.is_empty() {
        return Err(usage(USAGE));
    }
    let m = link
        .state()
        .membership()
        .map_err(|e| invalid(e.to_string()))?
        .ok_or_else(|| invalid(NOT_IN_A_CLUSTER))?;
    let local = ctx.store.committed()?;
    let etcd = connect(&local, &m).map_err(|e| invalid(e.to_string()))?;
    let (members, statuses) = block_on(async {
        Ok::<_, ClusterError>((
            etcd.members(&m.cluster).await?,
            etcd.statuses(&m.cluster).await?,
        ))
    })
    .and_then(|r| r)
    .map_err(|e| {
        invalid(format!(
            "The cluster's configuration store (etcd) is unreachable: {e}."
        ))
    })?;
    // The reference: the member on the newest revision.
    let newest = statuses.values().map(|s| s.revision).max().unwrap_or(0);
    let reference = statuses.values().find(|s| s.revision == newest);
    let mut rows = Vec::new();
    for member in &members {
        let Some(s) = statuses.get(&member.machine) else {
            rows.push((
                member.machine.clone(),
                "-".to_string(),
                "no status (never applied)".to_string(),
            ));
            continue;
        };
        let differs: Vec<&str> = reference
            .map(|r| {
                r.digests
                    .iter()
                    .filter(|(sec, d)| s.digests.get(*sec).is_some_and(|x| x != *d))
                    .map(|(sec, _)| sec.as_str())
                    .collect()
            })
            .unwrap_or_default();
        if s.revision != newest || !differs.is_empty() {
            rows.push((
                member.machine.clone(),
                s.revision.to_string(),
                if differs.is_empty() {
                    "-".to_string()
                } else {
                    differs.join(", ")
                },
            ));
        }
    }
    if rows.is_empty() {
        return Ok(format!(
            "All {} machines run cluster revision {newest} with the same configuration.",
            members.len()
        ));
    }
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(7);
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(8);
    let mut out = format!("{:<w0$}  {:<w1$}  Differs in", "Machine", "Revision");
    for (machine, revision, differs) in rows {
        let _ = write!(out, "\n{machine:<w0$}  {revision:<w1$}  {differs}");
    }
    Ok(out)
}

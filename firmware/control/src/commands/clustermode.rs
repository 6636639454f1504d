//! `clustermode` (issue 20): the level a user's configuration commands,
//! `commit`, `clear` and `commitlog` act at; kept per user across logins.

use breakwater_cluster::valid_name;
use breakwater_config::cluster::Level;
use breakwater_control_proto::usage::CLUSTERMODE as USAGE;

use super::args::{invalid, usage};
use super::clusterconfig::NOT_IN_A_CLUSTER;
use super::{CliError, CommandContext};
use crate::cluster::{ClusterLink, mode};

pub fn run(
    link: &dyn ClusterLink,
    ctx: &CommandContext<'_>,
    args: &[String],
) -> Result<String, CliError> {
    let state = link.state();
    let m = state
        .membership()
        .map_err(|e| invalid(e.to_string()))?
        .ok_or_else(|| invalid(NOT_IN_A_CLUSTER))?;
    let words: Vec<String> = args.iter().map(|a| a.to_ascii_lowercase()).collect();
    let level = match words.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => {
            return Ok(format!(
                "Current mode: {}",
                mode(state, ctx.user).describe(&m.cluster)
            ));
        }
        ["cluster"] => Level::Cluster,
        ["group"] => Level::Group(m.group.clone()),
        ["group", _] => {
            let g = &args[1];
            if !valid_name(g) {
                return Err(invalid(format!("There is no group {g}.")));
            }
            Level::Group(g.clone())
        }
        ["machine"] => Level::Machine(m.machine.clone()),
        ["machine", _] => {
            let name = &args[1];
            if *name != m.machine {
                return Err(invalid(format!(
                    "Only this machine's level ({}) is edited here: log in to {name} to change its settings.",
                    m.machine
                )));
            }
            Level::Machine(name.clone())
        }
        _ => return Err(usage(USAGE)),
    };
    state
        .set_mode(ctx.user, &level)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(format!("Current mode: {}", level.describe(&m.cluster)))
}

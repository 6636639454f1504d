//! The daemon's open-file budget: every connection is a descriptor (and
//! a receiving or delivering session usually holds a spool file too), so
//! the connection limits an administrator commits must fit under
//! `RLIMIT_NOFILE`. The daemon raises the limit as far as it may at start
//! ([`raise`]); `commit` refuses limits that would not fit ([`check`]).

use nix::sys::resource::{Resource, getrlimit, setrlimit};

use crate::config::Config;

/// What the daemon asks for when it may raise the hard limit (it starts as
/// root on the appliance): far above any sensible configuration, well
/// under the kernel's default `fs.nr_open` (1,048,576).
pub const TARGET: u64 = 65_536;

/// Descriptors that are not connections: the database and its files, the
/// logs, DNS sockets, the control socket and its clients, listening
/// sockets, the spool files the work queue and filters open.
pub const MARGIN: u64 = 256;

/// The limit before and after [`raise`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    pub before: u64,
    pub after: u64,
}

/// Raises the soft open-file limit to [`TARGET`] (hard limit included,
/// when privileged), or else to the hard limit.
pub fn raise() -> nix::Result<Raised> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let high = hard.max(TARGET);
    if setrlimit(Resource::RLIMIT_NOFILE, high, high).is_err() && soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    let (after, _) = getrlimit(Resource::RLIMIT_NOFILE)?;
    Ok(Raised {
        before: soft,
        after,
    })
}

/// The process's soft open-file limit, as `commit` checks against.
pub fn limit() -> nix::Result<u64> {
    Ok(getrlimit(Resource::RLIMIT_NOFILE)?.0)
}

/// Descriptors `cfg`'s connection limits may use at once: each inbound and
/// each outbound connection counted twice (its socket and the spool file
/// it reads or writes), plus [`MARGIN`].
pub fn needed(cfg: &Config) -> u64 {
    let listeners: u64 = cfg
        .listeners
        .iter()
        .map(|l| u64::from(l.max_concurrency))
        .sum();
    let inbound = listeners.min(u64::from(cfg.connections.max_connections_total));
    let outbound = u64::from(cfg.connections.max_outbound_connections);
    2 * (inbound + outbound) + MARGIN
}

/// Why a configuration's connection limits do not fit under `limit`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "The connection limits need up to {needed} open files but the mail daemon may open {limit}: \
     lower the listeners' --max-concurrency (now {listeners} in total), \
     listenerconfig limits --max-connections-total ({total}) or \
     deliveryconfig setup --max-outbound-connections ({outbound}). \
     Each connection counts twice (socket and spool file), plus {MARGIN} for the daemon itself."
)]
pub struct TooManyFiles {
    pub needed: u64,
    pub limit: u64,
    pub listeners: u64,
    pub total: u32,
    pub outbound: u32,
}

/// Whether `cfg`'s connection limits fit under `limit` open files.
pub fn check(cfg: &Config, limit: u64) -> Result<(), TooManyFiles> {
    let needed = needed(cfg);
    if needed <= limit {
        return Ok(());
    }
    Err(TooManyFiles {
        needed,
        limit,
        listeners: cfg
            .listeners
            .iter()
            .map(|l| u64::from(l.max_concurrency))
            .sum(),
        total: cfg.connections.max_connections_total,
        outbound: cfg.connections.max_outbound_connections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factory() -> Config {
        crate::config::factory::dev_factory_for_tests()
    }

    #[test]
    fn the_factory_limits_fit_a_raised_limit_but_not_the_old_1024() {
        let cfg = factory();
        // 300 + 600 inbound, 500 outbound, each twice, plus the margin.
        assert_eq!(needed(&cfg), 2 * (900 + 500) + MARGIN);
        assert!(check(&cfg, TARGET).is_ok());
        let e = check(&cfg, 1024).unwrap_err();
        assert!(e.to_string().contains("may open 1024"), "{e}");
    }

    #[test]
    fn the_global_cap_bounds_what_the_listeners_may_hold() {
        let mut cfg = factory();
        cfg.connections.max_connections_total = 100;
        cfg.connections.max_outbound_connections = 100;
        assert_eq!(needed(&cfg), 2 * 200 + MARGIN);
        assert!(check(&cfg, 1024).is_ok());
    }

    #[test]
    fn raising_never_lowers_the_limit() {
        let before = limit().unwrap();
        let r = raise().unwrap();
        assert!(r.after >= before && limit().unwrap() == r.after);
    }
}

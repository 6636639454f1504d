//! Signals and orphans: PID 1 blocks the signals it cares about and takes
//! them with `sigwait(2)`, so no handler (and no `unsafe`) is needed.
//! Blocking happens first thing, before any thread exists, so every
//! thread inherits the mask; the children get a clean mask from
//! `std::process::Command`, which resets it before `exec`.
//!
//! `SIGCHLD` means "reap": `waitpid(-1, WNOHANG)` until nothing is left,
//! which collects the supervisor's exit and every orphan the kernel
//! re-parents to PID 1. `SIGALRM` (from `alarm(2)`) is the timer for a
//! delayed supervisor restart.

use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// The signals PID 1 waits for.
pub fn signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGALRM,
        Signal::SIGHUP,
    ] {
        set.add(s);
    }
    set
}

/// Blocks [`signals`] in the calling thread (and every thread it starts).
pub fn block() -> nix::Result<SigSet> {
    let set = signals();
    set.thread_block()?;
    Ok(set)
}

/// Reaps every child that has exited; (pid, exit code or `None` for a
/// signal).
pub fn reap_all() -> Vec<(Pid, Option<i32>)> {
    let mut reaped = Vec::new();
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => reaped.push((pid, Some(code))),
            Ok(WaitStatus::Signaled(pid, _, _)) => reaped.push((pid, None)),
            Ok(WaitStatus::StillAlive) | Err(_) => return reaped,
            Ok(_) => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_holds_the_shutdown_signals_and_sigchld() {
        let set = signals();
        for s in [
            Signal::SIGCHLD,
            Signal::SIGTERM,
            Signal::SIGUSR1,
            Signal::SIGUSR2,
        ] {
            assert!(set.contains(s));
        }
        assert!(!set.contains(Signal::SIGKILL));
    }
}

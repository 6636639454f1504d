//! Stopping the box in order, and what asks for it.
//!
//! The convention (busybox init's, with halt folded into power-off: an
//! appliance has nothing to do halted):
//!
//! | request | effect |
//! | --- | --- |
//! | `SIGTERM` to PID 1 | reboot |
//! | `SIGINT` (Ctrl-Alt-Del on the console; init turns the kernel's own reboot on that key off) | reboot |
//! | `SIGUSR1` or `SIGUSR2` to PID 1 | power off |
//! | the supervisor exits 0 (`shutdown` on the console) | power off |
//! | the supervisor exits 10 (`reboot`, [`crate::supervisor::EXIT_REBOOT`]) | reboot |
//! | the supervisor exits 86 (it gave up and the soft watchdog "fired") | reboot |
//! | the supervisor exits 78 (damaged database) | start it again after 60 s |
//! | any other exit or a signal | start it again after 5 s |
//!
//! The sequence: SIGTERM to the supervisor (which stops the daemon and the
//! console in order), SIGKILL if it has not exited after its stop timeout;
//! SIGTERM then SIGKILL to whatever else is left; `sync`; unmount `/data`
//! (remount it read-only if it is busy); `sync`; `reboot(2)`.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// How the box is to go down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Reboot,
    PowerOff,
}

impl Request {
    pub fn from_signal(sig: Signal) -> Option<Self> {
        match sig {
            Signal::SIGTERM | Signal::SIGINT => Some(Request::Reboot),
            Signal::SIGUSR1 | Signal::SIGUSR2 => Some(Request::PowerOff),
            _ => None,
        }
    }

    pub fn mode(self) -> nix::sys::reboot::RebootMode {
        match self {
            Request::Reboot => nix::sys::reboot::RebootMode::RB_AUTOBOOT,
            Request::PowerOff => nix::sys::reboot::RebootMode::RB_POWER_OFF,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Request::Reboot => "reboot",
            Request::PowerOff => "power off",
        }
    }
}

/// What init does when the supervisor has exited by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterExit {
    Shutdown(Request),
    Restart(Duration),
}

/// `code` is the exit status, `None` when a signal killed it.
pub fn after_supervisor_exit(code: Option<i32>) -> AfterExit {
    use crate::supervisor::{
        EXIT_CONFIG_TOO_NEW, EXIT_REBOOT, EXIT_STORE_DAMAGED, EXIT_WATCHDOG_RESET,
    };
    match code {
        Some(0) => AfterExit::Shutdown(Request::PowerOff),
        Some(c) if c == i32::from(EXIT_REBOOT) || c == i32::from(EXIT_WATCHDOG_RESET) => {
            AfterExit::Shutdown(Request::Reboot)
        }
        Some(c) if c == i32::from(EXIT_STORE_DAMAGED) || c == i32::from(EXIT_CONFIG_TOO_NEW) => {
            AfterExit::Restart(Duration::from_secs(60))
        }
        _ => AfterExit::Restart(Duration::from_secs(5)),
    }
}

/// The operations of a shutdown, so the order can be tested without
/// being PID 1.
pub trait Machine {
    fn log(&mut self, msg: String);
    /// Sends a signal to one process.
    fn signal(&mut self, pid: Pid, sig: Signal);
    /// Waits (reaping) until `pid` has exited or `timeout` passed; true
    /// when it exited.
    fn wait_exit(&mut self, pid: Pid, timeout: Duration) -> bool;
    /// Sends a signal to every process but PID 1.
    fn signal_all(&mut self, sig: Signal);
    /// Reaps for `time`, returning early when no child is left.
    fn settle(&mut self, time: Duration);
    fn sync(&mut self);
    fn unmount(&mut self, target: &Path) -> Result<(), String>;
    fn remount_read_only(&mut self, target: &Path) -> Result<(), String>;
    /// Writes how the box stops (`reboot`, `power off`) to the data
    /// directory, for the next boot's "Boot reason".
    fn record_stop(&mut self, data: &Path, request: Request);
    /// Does not return on success; the error otherwise.
    fn reboot(&mut self, request: Request) -> String;
}

/// Timeouts of the sequence.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// How long the supervisor gets after SIGTERM (its own stop timeout
    /// for the daemon, plus a margin).
    pub supervisor: Duration,
    /// How long stray processes get after SIGTERM.
    pub others: Duration,
}

/// Stops everything in order and reboots or powers off. Returns only if
/// `reboot(2)` failed (not PID 1, or no privilege).
pub fn shutdown(
    m: &mut dyn Machine,
    supervisor: Option<Pid>,
    data: Option<&Path>,
    boot: Option<&Path>,
    timeouts: Timeouts,
    request: Request,
) -> String {
    m.log(format!("{}: stopping everything", request.describe()));
    if let Some(pid) = supervisor {
        m.log(format!("stopping the supervisor {pid}"));
        m.signal(pid, Signal::SIGTERM);
        if !m.wait_exit(pid, timeouts.supervisor) {
            m.log(format!(
                "the supervisor {pid} did not stop within {} s; killing it",
                timeouts.supervisor.as_secs()
            ));
            m.signal(pid, Signal::SIGKILL);
            m.wait_exit(pid, Duration::from_secs(5));
        }
    }
    m.signal_all(Signal::SIGTERM);
    m.settle(timeouts.others);
    m.signal_all(Signal::SIGKILL);
    m.settle(Duration::from_secs(1));
    m.sync();
    if let Some(dir) = data {
        m.record_stop(dir, request);
        if let Some(boot) = boot {
            match m.unmount(boot) {
                Ok(()) => m.log(format!("unmounted {}", boot.display())),
                Err(e) => m.log(e),
            }
        }
        match m.unmount(dir) {
            Ok(()) => m.log(format!("unmounted {}", dir.display())),
            Err(e) => {
                m.log(e);
                match m.remount_read_only(dir) {
                    Ok(()) => m.log(format!("remounted {} read-only", dir.display())),
                    Err(e) => m.log(e),
                }
            }
        }
        m.sync();
    }
    m.log(format!("{} now", request.describe()));
    let err = m.reboot(request);
    m.log(format!("reboot(2) failed: {err}"));
    err
}

/// The real machine, for PID 1.
pub struct Pid1;

impl Machine for Pid1 {
    fn log(&mut self, msg: String) {
        super::console::say(msg);
    }

    fn signal(&mut self, pid: Pid, sig: Signal) {
        let _ = nix::sys::signal::kill(pid, sig);
    }

    fn wait_exit(&mut self, pid: Pid, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if super::reaper::reap_all().iter().any(|(p, _)| *p == pid) {
                return true;
            }
            // Gone already (reaped earlier)?
            if nix::sys::signal::kill(pid, None) == Err(nix::errno::Errno::ESRCH) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn signal_all(&mut self, sig: Signal) {
        // kill(-1) spares the caller (PID 1).
        let _ = nix::sys::signal::kill(Pid::from_raw(-1), sig);
    }

    fn settle(&mut self, time: Duration) {
        let deadline = std::time::Instant::now() + time;
        while std::time::Instant::now() < deadline {
            super::reaper::reap_all();
            if nix::sys::wait::waitpid(
                Pid::from_raw(-1),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            ) == Err(nix::errno::Errno::ECHILD)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn sync(&mut self) {
        nix::unistd::sync();
    }

    fn record_stop(&mut self, data: &Path, request: Request) {
        let word = match request {
            Request::Reboot => "reboot",
            _ => "power-off",
        };
        if let Err(e) = crate::durable::write_file(
            &crate::supervisor::last_stop_path(data),
            format!("{word}\n").as_bytes(),
        ) {
            super::console::say(format!("cannot record the {word}: {e}"));
        }
    }

    fn unmount(&mut self, target: &Path) -> Result<(), String> {
        nix::mount::umount(target).map_err(|e| format!("cannot unmount {}: {e}", target.display()))
    }

    fn remount_read_only(&mut self, target: &Path) -> Result<(), String> {
        use nix::mount::MsFlags;
        nix::mount::mount(
            None::<&str>,
            target,
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(|e| format!("cannot remount {} read-only: {e}", target.display()))
    }

    fn reboot(&mut self, request: Request) -> String {
        match nix::sys::reboot::reboot(request.mode()) {
            Ok(never) => match never {},
            Err(e) => e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command};

    /// Real signals and waits for the one fake supervisor process; every
    /// other operation only recorded (a test must never `kill(-1)`).
    struct Recorder {
        child: Child,
        calls: Vec<String>,
    }

    impl Machine for Recorder {
        fn log(&mut self, _msg: String) {}
        fn signal(&mut self, pid: Pid, sig: Signal) {
            assert_eq!(pid.as_raw() as u32, self.child.id());
            self.calls.push(format!("signal {sig}"));
            let _ = nix::sys::signal::kill(pid, sig);
        }
        fn wait_exit(&mut self, _pid: Pid, timeout: Duration) -> bool {
            let deadline = std::time::Instant::now() + timeout;
            loop {
                if let Ok(Some(status)) = self.child.try_wait() {
                    self.calls.push(format!("exited {status}"));
                    return true;
                }
                if std::time::Instant::now() >= deadline {
                    self.calls.push("still running".into());
                    return false;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        fn signal_all(&mut self, sig: Signal) {
            self.calls.push(format!("signal all {sig}"));
        }
        fn settle(&mut self, _time: Duration) {
            self.calls.push("settle".into());
        }
        fn sync(&mut self) {
            self.calls.push("sync".into());
        }
        fn record_stop(&mut self, data: &Path, request: Request) {
            self.calls
                .push(format!("record {request:?} in {}", data.display()));
        }

        fn unmount(&mut self, target: &Path) -> Result<(), String> {
            self.calls.push(format!("unmount {}", target.display()));
            if target == Path::new("/busy") {
                Err("busy".into())
            } else {
                Ok(())
            }
        }
        fn remount_read_only(&mut self, target: &Path) -> Result<(), String> {
            self.calls.push(format!("remount ro {}", target.display()));
            Ok(())
        }
        fn reboot(&mut self, request: Request) -> String {
            self.calls.push(format!("reboot {request:?}"));
            "test".into()
        }
    }

    fn run(script: &str, data: &str, supervisor_timeout: Duration) -> Vec<String> {
        let child = Command::new("sh").args(["-c", script]).spawn().unwrap();
        // Let the shell set its trap and exec before it is signalled.
        std::thread::sleep(Duration::from_millis(200));
        let pid = Pid::from_raw(child.id() as i32);
        let mut m = Recorder {
            child,
            calls: Vec::new(),
        };
        let timeouts = Timeouts {
            supervisor: supervisor_timeout,
            others: Duration::from_millis(10),
        };
        shutdown(
            &mut m,
            Some(pid),
            Some(Path::new(data)),
            None,
            timeouts,
            Request::Reboot,
        );
        m.calls
    }

    #[test]
    fn a_supervisor_that_stops_on_sigterm_is_not_killed() {
        let calls = run("exec sleep 30", "/data", Duration::from_secs(10));
        assert_eq!(
            calls,
            [
                "signal SIGTERM",
                "exited signal: 15 (SIGTERM)",
                "signal all SIGTERM",
                "settle",
                "signal all SIGKILL",
                "settle",
                "sync",
                "record Reboot in /data",
                "unmount /data",
                "sync",
                "reboot Reboot",
            ]
        );
    }

    #[test]
    fn a_supervisor_that_ignores_sigterm_is_killed_and_a_busy_data_goes_read_only() {
        // Ignored signals stay ignored across exec.
        let calls = run(
            "trap '' TERM; exec sleep 30",
            "/busy",
            Duration::from_millis(300),
        );
        assert_eq!(
            calls[..4],
            [
                "signal SIGTERM",
                "still running",
                "signal SIGKILL",
                "exited signal: 9 (SIGKILL)"
            ]
        );
        let tail = &calls[calls.len() - 6..];
        assert_eq!(
            tail,
            [
                "sync",
                "record Reboot in /busy",
                "unmount /busy",
                "remount ro /busy",
                "sync",
                "reboot Reboot"
            ]
        );
    }

    #[test]
    fn the_signal_and_exit_code_convention() {
        assert_eq!(Request::from_signal(Signal::SIGTERM), Some(Request::Reboot));
        assert_eq!(Request::from_signal(Signal::SIGINT), Some(Request::Reboot));
        assert_eq!(
            Request::from_signal(Signal::SIGUSR1),
            Some(Request::PowerOff)
        );
        assert_eq!(
            Request::from_signal(Signal::SIGUSR2),
            Some(Request::PowerOff)
        );
        assert_eq!(Request::from_signal(Signal::SIGCHLD), None);
        assert_eq!(
            after_supervisor_exit(Some(0)),
            AfterExit::Shutdown(Request::PowerOff)
        );
        assert_eq!(
            after_supervisor_exit(Some(10)),
            AfterExit::Shutdown(Request::Reboot)
        );
        assert_eq!(
            after_supervisor_exit(Some(86)),
            AfterExit::Shutdown(Request::Reboot)
        );
        assert_eq!(
            after_supervisor_exit(Some(78)),
            AfterExit::Restart(Duration::from_secs(60))
        );
        assert_eq!(
            after_supervisor_exit(None),
            AfterExit::Restart(Duration::from_secs(5))
        );
    }
}

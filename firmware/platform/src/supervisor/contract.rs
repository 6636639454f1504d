//! The supervision contract: everything the supervisor (`breakwater run`)
//! and the mail daemon (`breakwater daemon`) agree on, in one place. They
//! are two processes of the same binary; neither calls into the other's
//! code, they only share what is written here (and the protocol modules it
//! names). A newcomer changing one side reads this first.
//!
//! # Start
//! The supervisor prepares the data directory ([`super::prepare_data_dir`]:
//! created, owner-only), takes its lock (`supervisor.lock`, one supervisor
//! per directory), decides the boot reason, and spawns
//!
//! ```text
//! breakwater daemon --data-dir DIR [board arguments]
//!     --supervisor-pid PID --heartbeat-socket DIR/supervisor.sock
//!     --last-boot clean|unclean --boot-reason power-on|reboot|watchdog|unclean
//!     [--install-socket /run/breakwater-supervisor-PID-RANDOM/install.sock] [--quiet]
//! ```
//!
//! with `PR_SET_PDEATHSIG(SIGKILL)` (a daemon never outlives its
//! supervisor) and records its PID in `daemon.pid`.
//!
//! # While it runs
//! - **Heartbeat** ([`super::heartbeat`]): the daemon sends one datagram
//!   per [`super::heartbeat::INTERVAL`] to the heartbeat socket while its
//!   stages are healthy; the supervisor ignores any datagram that is not a
//!   beat from the current daemon's PID. No beat within the board's
//!   `start_timeout_secs` (first) or `heartbeat_timeout_secs` (later):
//!   the daemon is hung, killed with SIGKILL and restarted after a
//!   back-off. `debughang supervisor` sends a hang request on the same
//!   socket to test the watchdog.
//! - **Installs** ([`super::install`]): the daemon fetches and verifies an
//!   upgrade package, then hands its bytes over the install socket; the
//!   supervisor serves only the current daemon (`SO_PEERCRED`), verifies
//!   the package again and writes the inactive slot. The daemon never
//!   writes the boot partition.
//! - **Trial boots**: a firmware booted once after an upgrade is made
//!   permanent after the daemon has stayed healthy for [`TRIAL_HEALTHY`].
//!
//! # Stop
//! SIGTERM (forwarded by the supervisor) asks the daemon to drain and
//! flush; after the board's `stop_timeout_secs` it gets SIGKILL. The
//! daemon's exit status tells the supervisor what to do next:
//!
//! | status | meaning | the supervisor |
//! | --- | --- | --- |
//! | 0 | orderly stop (`shutdown`) | stops too |
//! | [`EXIT_REBOOT`] | `reboot` | starts it again at once, not a crash |
//! | [`EXIT_STORE_DAMAGED`] | the database is damaged | runs the salvage as the daemon's user, or exits with the same code |
//! | [`EXIT_CONFIG_TOO_NEW`] | the configuration is from a newer firmware | exits with the same code (no restart, no salvage) |
//! | anything else, or a signal | a crash | records it, restarts after a back-off; gives up (the watchdog resets the box, [`EXIT_WATCHDOG_RESET`] on the soft watchdog) after `max_crashes` in `crash_window_secs` |
//!
//! # Files in the data directory
//! The supervisor owns `daemon.pid`, the boot marker `unclean-shutdown`,
//! the stop record `last-stop`, `supervisor.lock` and the heartbeat
//! socket ([`super::boot`] names them), and writes them as root through
//! `breakwater-safe-fs` (never following a link the daemon's user could
//! plant). The daemon owns everything else: the database, the spool, the
//! logs, the control socket. Privilege: on a board with `run_as` the
//! daemon drops to that user itself ([`super::privilege`]).

use std::time::Duration;

/// The supervisor's exit status when the soft watchdog "resets the box".
pub const EXIT_WATCHDOG_RESET: u8 = 86;
/// The daemon's (and then the supervisor's) exit status when the database
/// is damaged and it will not start (sysexits' `EX_CONFIG`).
pub const EXIT_STORE_DAMAGED: u8 = 78;
/// The daemon's exit status when the committed configuration was written
/// by a newer firmware (sysexits' `EX_PROTOCOL`): not damage, so neither a
/// restart nor a salvage can help.
pub const EXIT_CONFIG_TOO_NEW: u8 = 76;
/// The daemon's exit status after `reboot`: start it again, not a crash.
pub const EXIT_REBOOT: u8 = 10;

/// How long the daemon of a firmware on trial must stay healthy (beating,
/// listeners up) before the upgrade is made permanent.
pub const TRIAL_HEALTHY: Duration = Duration::from_secs(60);

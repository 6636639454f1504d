//! `breakwater init`: what the binary does as PID 1 on the appliance.
//!
//! The image runs the binary as `/init` (initramfs) or `/sbin/init`;
//! `main.rs` dispatches here for `breakwater init` and whenever argv[0]
//! ends in `init` and the process is PID 1. The boot, each step logged to
//! the kernel console and the next one tried when one fails:
//!
//! 1. block the signals PID 1 waits for (before any thread exists);
//! 2. mount `/proc`, `/sys`, `/dev` (devtmpfs) and `/run` ([`mounts`]),
//!    then log to `/dev/console` ([`console`]);
//! 3. pick the board: `--board`, else `breakwater.board=` on the kernel
//!    command line, else `/etc/breakwater/board`, else `vesa`;
//! 4. load the board's kernel modules with their dependencies and soft
//!    dependencies ([`modules`]), the watchdog driver with the board's
//!    timeout, `softdog` when no hardware watchdog appeared and the board
//!    allows it;
//! 5. find the data partition by its ext4 label and mount it at `/data`
//!    ([`flash`]); without it the gateway does not start (nothing is
//!    formatted or created in its place) and init waits for a shutdown
//!    request;
//! 6. read the committed configuration (sled opened, read, closed:
//!    [`netconfig`]);
//! 7. name the ports Management / Data 1 / Data 2 by the board's rules
//!    ([`nics`]), rename them `mgmt`/`data1`/`data2` and apply addresses
//!    and the default route over rtnetlink ([`netlink`]); with DHCP on
//!    Management, start its client ([`dhcp`], [`dhcp_io`]) and wait a
//!    little for the first lease (it keeps trying in the background);
//! 8. set the host name;
//! 9. run `breakwater run --data-dir /data --board NAME` (the supervisor)
//!    as a child, reap orphans, and act on shutdown requests and the
//!    supervisor's exit ([`reaper`], [`shutdown`]).
//!
//! PID 1 never exits: a panic is caught, logged, and the box reboots
//! after a delay.

pub mod console;
pub mod dhcp;
pub mod dhcp_io;
pub mod flash;
pub mod modules;
pub mod mounts;
pub mod netconfig;
pub mod netlink;
pub mod nics;
pub mod reaper;
pub mod shutdown;

use std::path::{Path, PathBuf};
use std::time::Duration;

use breakwater_board::BoardProfile;
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;

use self::console::say;
use self::shutdown::{AfterExit, Request, Timeouts};

/// Where the data partition is mounted and the supervisor's data directory.
pub const DATA_DIR: &str = "/data";
/// Where the boot partition (slots A and B) is mounted.
pub const BOOT_DIR: &str = crate::slots::BOOT_DIR;

/// The board when nothing names one.
pub const DEFAULT_BOARD: &str = "vesa";
/// How long a panicking init waits before it reboots (so the message can
/// be read on the console).
const PANIC_REBOOT_DELAY: Duration = Duration::from_secs(10);

/// Whether this process was started as init: PID 1 with argv[0] ending
/// in `init` (`/init`, `/sbin/init`).
pub fn invoked_as_init() -> bool {
    std::process::id() == 1
        && std::env::args_os()
            .next()
            .is_some_and(|a| a.to_string_lossy().ends_with("init"))
}

/// Unblocks the signals init blocks for itself. The signal mask survives
/// `fork` and `exec` (`std::process::Command` does not reset it, and
/// resetting it in the child needs `pre_exec`, which is `unsafe`), so
/// every `breakwater` process calls this first thing, before it starts a
/// thread.
pub fn unblock_inherited_signals() {
    let _ = reaper::signals().thread_unblock();
}

/// PID 1's entry point. Never returns.
pub fn main(board: Option<String>) -> ! {
    if std::process::id() != 1 {
        eprintln!(
            "breakwater init: must run as PID 1 (the appliance image runs it as /init; to try it, use a VM from the image builder)"
        );
        std::process::exit(2);
    }
    std::panic::set_hook(Box::new(|info| say(format!("PANIC: {info}"))));
    let result = std::panic::catch_unwind(|| boot(board));
    let request = match result {
        Ok(never) => match never {},
        Err(_) => {
            say(format!(
                "init panicked; rebooting in {} s",
                PANIC_REBOOT_DELAY.as_secs()
            ));
            std::thread::sleep(PANIC_REBOOT_DELAY);
            Request::Reboot
        }
    };
    nix::unistd::sync();
    let _ = nix::sys::reboot::reboot(request.mode());
    say("reboot(2) failed; init idles");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
        reaper::reap_all();
    }
}

/// The board name, by the documented precedence.
pub fn board_name(flag: Option<String>, cmdline: &str, etc_file: Option<String>) -> String {
    if let Some(b) = flag {
        return b;
    }
    let from_cmdline = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("breakwater.board="))
        .map(str::to_string);
    from_cmdline
        .or_else(|| {
            etc_file
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| DEFAULT_BOARD.to_string())
}

fn boot(flag: Option<String>) -> std::convert::Infallible {
    let signals = match reaper::block() {
        Ok(set) => set,
        Err(e) => {
            say(format!("cannot block signals: {e}"));
            reaper::signals()
        }
    };
    let mut log = |m: String| say(m);
    mounts::mount_early(&mut log);
    if let Err(e) = console::open(Path::new("/dev/console")) {
        say(format!(
            "cannot open /dev/console: {e}; logging to standard error"
        ));
    }
    say(format!("Breakwater {} starting", env!("CARGO_PKG_VERSION")));
    // Ctrl-Alt-Del sends SIGINT to init instead of resetting at once.
    if let Err(e) = nix::sys::reboot::set_cad_enabled(false) {
        say(format!("cannot hand Ctrl-Alt-Del to init: {e}"));
    }

    harden_links();

    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let name = board_name(
        flag,
        &cmdline,
        std::fs::read_to_string("/etc/breakwater/board").ok(),
    );
    let board = match BoardProfile::builtin(&name) {
        Ok(b) => b,
        Err(e) => {
            say(format!("{e}; using {DEFAULT_BOARD}"));
            BoardProfile::builtin(DEFAULT_BOARD).expect("the default board is built in")
        }
    };
    say(format!("board {} ({})", board.name, board.description));
    allow_ping(&board);

    load_modules(&board);
    let data = mount_data(&board);
    mount_boot(&board);
    mount_efivars();
    let plan = netconfig::plan(data.as_deref(), &board, &mut log);
    say(format!("network settings from {}", plan.source));
    let sys = Path::new("/sys");
    let naming = nics::wait_and_assign(sys, &board.nic_rules, Duration::from_secs(10));
    for a in &naming.assigned {
        say(format!("{} is {}", a.name, a.kernel_name));
        if let Some(w) = &a.driver_warning {
            say(format!("{}: {w}", a.name));
        }
    }
    for n in &naming.unmatched {
        say(format!("{n}: no port matches the board's rule"));
    }
    if !naming.spare.is_empty() {
        say(format!("ports not used: {}", naming.spare.join(", ")));
    }
    let names = netlink::apply(sys, &naming.assigned, &plan, &mut log);
    if plan.management_dhcp {
        start_dhcp(sys, &names, &plan);
    }
    match nix::unistd::sethostname(&plan.hostname) {
        Ok(()) => say(format!("host name {}", plan.hostname)),
        Err(e) => say(format!("cannot set the host name {}: {e}", plan.hostname)),
    }
    run(&board, data.as_deref(), &signals)
}

/// The kernel's own link protections, which a distribution's systemd
/// turns on and the kernel leaves off: root (init, the supervisor, the
/// console) then never follows a symlink it does not own in a
/// world-writable sticky directory, never opens a hard link to a file
/// the linker could not read and write, and never writes into a FIFO or
/// file another user planted in `/tmp`. A second layer under the rules of
/// `supervisor::safe_fs` (docs/security.md).
fn harden_links() {
    for (knob, value) in [
        ("protected_symlinks", "1"),
        ("protected_hardlinks", "1"),
        ("protected_fifos", "2"),
        ("protected_regular", "2"),
    ] {
        let path = format!("/proc/sys/fs/{knob}");
        if let Err(e) = std::fs::write(&path, value) {
            say(format!("cannot set fs.{knob} = {value}: {e}"));
        }
    }
}

/// Lets the mail daemon's group, and only it, open the kernel's
/// unprivileged ICMP sockets, for `ping` at the console (docs/cli.md):
/// the kernel's default range allows nobody, and the daemon has no
/// CAP_NET_RAW (docs/decisions/0006-least-privilege.md). One sysctl
/// covers IPv4 and IPv6.
fn allow_ping(board: &BoardProfile) {
    let Some(who) = board
        .run_as
        .as_deref()
        .and_then(|spec| crate::supervisor::privilege::resolve(spec).ok())
    else {
        return;
    };
    let gid = who.gid.as_raw();
    if let Err(e) = std::fs::write(
        "/proc/sys/net/ipv4/ping_group_range",
        format!("{gid} {gid}"),
    ) {
        say(format!(
            "cannot set net.ipv4.ping_group_range = {gid} {gid}: {e} (ping at the console will say so)"
        ));
    }
}

/// Step 7b: DHCP on Management ([`dhcp_io`]). The lease's router becomes
/// the default route only when the configuration has no default gateway.
fn start_dhcp(sys: &Path, names: &netlink::Names, plan: &netconfig::NetPlan) {
    let name = netconfig::MANAGEMENT;
    let port = names
        .kernel_name(name)
        .and_then(|kernel| dhcp_io::Port::from_sys(sys, name, kernel));
    match port {
        Some(port) => {
            say(format!("{name}: asking DHCP for an address"));
            dhcp_io::start(
                port,
                plan.default_gateway.is_none(),
                dhcp_io::FIRST_LEASE_WAIT,
            );
        }
        None => say(format!(
            "{name}: DHCP is configured but the port is missing; no {name} address"
        )),
    }
}

/// Step 4: the board's modules, then the softdog fallback.
fn load_modules(board: &BoardProfile) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let dir = PathBuf::from("/lib/modules").join(&release);
    let timeout = board.watchdog.timeout_secs;
    let mut log = |m: String| say(m);
    let index = if board.kernel_modules.is_empty() && !board.watchdog.softdog_fallback {
        return;
    } else {
        match modules::ModuleIndex::load(&dir) {
            Ok(i) => i,
            Err(e) => {
                say(format!(
                    "cannot read {}/modules.dep: {e}; no modules loaded",
                    dir.display()
                ));
                return;
            }
        }
    };
    let plan = modules::load_order(&index, &board.kernel_modules);
    let failed = modules::load_all(&dir, &plan, Path::new("/sys"), timeout, &mut log);
    if failed > 0 {
        say(format!("{failed} module(s) failed to load"));
    }
    if board.watchdog.softdog_fallback && !board.watchdog.is_soft() {
        // A PCI watchdog registers while its module loads; give it a moment.
        std::thread::sleep(Duration::from_millis(500));
        if !Path::new("/sys/class/watchdog/watchdog0").exists() {
            say("no hardware watchdog: loading softdog");
            let plan = modules::load_order(&index, &["softdog".to_string()]);
            modules::load_all(&dir, &plan, Path::new("/sys"), timeout, &mut log);
        }
    }
}

/// Step 5: the data partition at `/data`; `None` when it cannot be had.
fn mount_data(board: &BoardProfile) -> Option<PathBuf> {
    let Some(part) = flash::data_partition(&board.flash) else {
        say("the board has no data partition; using /data as it is");
        return Some(PathBuf::from(DATA_DIR));
    };
    let target = PathBuf::from(part.mount.as_deref().unwrap_or(DATA_DIR));
    // Disks appear a little after their driver loads.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let search = loop {
        let s = flash::find(Path::new("/sys"), Path::new("/dev"), part);
        if s.found.is_some() || std::time::Instant::now() >= deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let seen: Vec<String> = search
        .seen
        .iter()
        .map(|(n, w)| format!("{n} ({w})"))
        .collect();
    say(format!(
        "partitions seen: {}",
        if seen.is_empty() {
            "none".to_string()
        } else {
            seen.join(", ")
        }
    ));
    let Some(device) = search.found else {
        say(format!(
            "NO DATA PARTITION: no ext4 file system labelled {} was found; the gateway cannot start (see image/README.md, \"PID 1\")",
            part.label
        ));
        return None;
    };
    match flash::mount(&device, &target, &part.fs) {
        Ok(()) => {
            say(format!(
                "mounted {} ({}) on {}",
                device.display(),
                part.label,
                target.display()
            ));
            Some(target)
        }
        Err(e) => {
            say(format!(
                "DATA PARTITION NOT MOUNTED: {e}; the gateway cannot start and nothing was changed on the disk (see image/README.md, \"PID 1\")"
            ));
            None
        }
    }
}

/// Step 5b: the boot partition at `/boot`, for `upgrade` and the slot
/// versions `status` shows. It belongs to root and is readable by all: the
/// mail daemon (its `run_as` user) reads slot versions and the trial
/// records, and only the supervisor (root) writes upgrades and the
/// loaders' state (see docs/decisions/0008-upgrade-slots.md). Without it
/// the box still runs; only `upgrade` is refused.
fn mount_boot(board: &BoardProfile) {
    let Some(part) = flash::boot_partition(&board.flash) else {
        return;
    };
    let Some(device) = flash::find_by_partname(Path::new("/sys"), Path::new("/dev"), part) else {
        say(format!(
            "no boot partition named {}: upgrades are not possible",
            part.label
        ));
        return;
    };
    match flash::mount_with(
        &device,
        Path::new(BOOT_DIR),
        &part.fs,
        Some(BOOT_MOUNT_OPTIONS),
    ) {
        Ok(()) => say(format!(
            "mounted {} ({}) on {BOOT_DIR}",
            device.display(),
            part.label
        )),
        Err(e) => say(format!(
            "boot partition not mounted: {e}; upgrades are not possible"
        )),
    }
}

/// The boot partition's vfat options: owned by root (no `uid=`), files
/// `0644` and directories `0755`, so the daemon's user reads and cannot
/// write; `flush` writes each file out as it is closed.
pub const BOOT_MOUNT_OPTIONS: &str = "fmask=0022,dmask=0022,flush";

/// On a UEFI-booted box, efivarfs: the supervisor sets systemd-boot's
/// one-shot entry there for an upgrade's trial boot.
fn mount_efivars() {
    if !Path::new("/sys/firmware/efi").exists() {
        return;
    }
    let m = mounts::efivarfs();
    match mounts::mount_one(&m) {
        Ok(()) => say(format!("mounted {} on {}", m.fstype, m.target)),
        Err(e) => say(format!("{e}; upgrades cannot set the one-shot boot entry")),
    }
}

/// Whether `/boot` is a mount point (the boot partition was mounted).
fn boot_mounted() -> bool {
    std::fs::read_to_string("/proc/self/mounts")
        .is_ok_and(|m| m.lines().any(|l| l.split(' ').nth(1) == Some(BOOT_DIR)))
}

/// Step 9: the supervisor as a child, reaping, shutdown. Never returns
/// (the last step is `reboot(2)`).
fn run(board: &BoardProfile, data: Option<&Path>, signals: &SigSet) -> std::convert::Infallible {
    let timeouts = Timeouts {
        supervisor: Duration::from_secs(u64::from(board.supervisor.stop_timeout_secs) + 15),
        others: Duration::from_secs(3),
    };
    let mut supervisor: Option<Pid> = None;
    let mut restart_due = data.is_some();
    if data.is_none() {
        nix::unistd::alarm::set(60);
    }
    loop {
        if restart_due && supervisor.is_none() {
            restart_due = false;
            supervisor = spawn_supervisor(board, data.unwrap_or(Path::new(DATA_DIR)));
            if supervisor.is_none() {
                nix::unistd::alarm::set(5);
            }
        }
        let sig = match signals.wait() {
            Ok(s) => s,
            Err(e) => {
                say(format!("sigwait: {e}"));
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        let request = match sig {
            Signal::SIGCHLD => {
                let mut then = None;
                for (pid, code) in reaper::reap_all() {
                    if Some(pid) == supervisor {
                        supervisor = None;
                        say(format!(
                            "the supervisor {pid} exited ({})",
                            code.map_or("killed by a signal".to_string(), |c| format!(
                                "status {c}"
                            ))
                        ));
                        then = Some(shutdown::after_supervisor_exit(code));
                    }
                }
                match then {
                    Some(AfterExit::Shutdown(r)) => Some(r),
                    Some(AfterExit::Restart(delay)) => {
                        say(format!(
                            "starting the supervisor again in {} s",
                            delay.as_secs()
                        ));
                        nix::unistd::alarm::set(delay.as_secs().max(1) as u32);
                        None
                    }
                    None => None,
                }
            }
            Signal::SIGALRM => {
                if data.is_some() {
                    restart_due = true;
                } else {
                    say(
                        "no data partition: the gateway is not running; SIGTERM reboots, SIGUSR2 powers off",
                    );
                    nix::unistd::alarm::set(300);
                }
                None
            }
            other => Request::from_signal(other),
        };
        if let Some(request) = request {
            let err = shutdown::shutdown(
                &mut shutdown::Pid1,
                supervisor,
                data,
                boot_mounted().then_some(Path::new(BOOT_DIR)),
                timeouts,
                request,
            );
            say(format!("still running after a failed reboot ({err})"));
            supervisor = None;
        }
    }
}

/// Starts `breakwater run` on the data directory, its output on the console.
fn spawn_supervisor(board: &BoardProfile, data: &Path) -> Option<Pid> {
    use std::os::unix::process::CommandExt as _;
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    let mut cmd = std::process::Command::new(exe);
    cmd.arg0("breakwater")
        .arg("run")
        .arg("--data-dir")
        .arg(data)
        .arg("--board")
        .arg(&board.name)
        // The mail log goes to files on the data partition, not to the
        // serial console: at 115200 baud echoing it would throttle the
        // daemon and bury the login prompt (AsyncOS prints none either).
        .arg("--quiet")
        .env("PATH", "/sbin:/bin")
        .env("HOME", data);
    if let Some(c) = console::for_child() {
        if let Ok(c2) = c.try_clone() {
            cmd.stdout(c2);
        }
        if let Ok(c3) = c.try_clone() {
            cmd.stderr(c3);
        }
        cmd.stdin(c);
    }
    match cmd.spawn() {
        Ok(child) => {
            let pid = Pid::from_raw(child.id() as i32);
            say(format!("started the supervisor, pid {pid}"));
            // Reaped by `reaper::reap_all`, not through `Child`.
            drop(child);
            Some(pid)
        }
        Err(e) => {
            say(format!(
                "cannot start the supervisor: {e}; trying again in 5 s"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn board_precedence_flag_cmdline_file_default() {
        let cmd = "console=ttyS0,115200 breakwater.board=x86-appliance panic=10";
        assert_eq!(board_name(Some("dev".into()), cmd, None), "dev");
        assert_eq!(
            board_name(None, cmd, Some("vesa\n".into())),
            "x86-appliance"
        );
        assert_eq!(board_name(None, "quiet", Some("dev\n".into())), "dev");
        assert_eq!(board_name(None, "quiet", Some("\n".into())), DEFAULT_BOARD);
        assert_eq!(board_name(None, "", None), DEFAULT_BOARD);
    }

    #[test]
    fn a_test_process_is_not_init() {
        assert!(!invoked_as_init());
    }
}

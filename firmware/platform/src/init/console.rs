//! PID 1's messages: every line to the kernel console (`/dev/console`)
//! once devtmpfs is mounted, to standard error before that (the kernel
//! gives init `/dev/console` as fds 0–2 only when the initramfs has the
//! node; ours is built without root and has none).

use std::fs::File;
use std::io::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static CONSOLE: Mutex<Option<File>> = Mutex::new(None);
/// Standard error is open and is not the console (init started in a
/// namespace or by a test harness): every line goes there too.
static ALSO_STDERR: AtomicBool = AtomicBool::new(false);

/// Opens `/dev/console` for the messages that follow.
pub fn open(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    let console = file.metadata()?;
    // The kernel may hand init the serial port itself (`/dev/ttyS0`, major
    // 4) or `/dev/console` (major 5) as standard error: both are the
    // console, and writing to both would print every line twice.
    let is_console_tty = |rdev: u64| matches!(nix::sys::stat::major(rdev), 4 | 5);
    let separate = std::fs::metadata("/proc/self/fd/2").is_ok_and(|err| {
        (err.dev(), err.ino(), err.rdev()) != (console.dev(), console.ino(), console.rdev())
            && !is_console_tty(err.rdev())
    });
    ALSO_STDERR.store(separate, Ordering::Relaxed);
    if let Ok(mut slot) = CONSOLE.lock() {
        *slot = Some(file);
    }
    Ok(())
}

/// A console for a child: the same device, or nothing before it is open.
pub fn for_child() -> Option<File> {
    CONSOLE
        .lock()
        .ok()
        .and_then(|slot| slot.as_ref().and_then(|f| f.try_clone().ok()))
}

/// One line: `breakwater init: <msg>`. Never fails, never panics.
pub fn say(msg: impl AsRef<str>) {
    let line = format!("breakwater init: {}\n", msg.as_ref());
    let written = CONSOLE
        .lock()
        .ok()
        .and_then(|mut slot| slot.as_mut().map(|f| f.write_all(line.as_bytes()).is_ok()));
    if written != Some(true) || ALSO_STDERR.load(Ordering::Relaxed) {
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}

//! Chaos: the mail daemon is `kill -9`ed again and again under load while
//! the supervisor brings it back each time; every acknowledged message
//! must still arrive (duplicates are counted and reported, not failed:
//! delivery is at-least-once), and no MID is handed out twice.
//!
//! The CI form kills 10 times while 4 clients send 2400 messages (a kill
//! each time another eleventh of them is acknowledged, at least 1 s apart;
//! about 20-40 s). The longer manual form
//! (see `docs/operations.md`, "Chaos test"):
//!
//! ```sh
//! BREAKWATER_CHAOS_KILLS=50 BREAKWATER_CHAOS_INTERVAL_MS=3000 \
//!     cargo test -p breakwater-e2e --test chaos -- --nocapture
//! ```
//!
//! Also here: the console on a serial device runs under the supervisor
//! apart from the daemon, so it keeps its `login:` while the daemon is
//! killed, and comes back by itself when it is killed.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use breakwater_e2e::{
    EVENTUALLY, Gateway, LoadClient, LoadJob, SOON, SinkMessage, World, mid_in_reply, wait_until,
};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn system_log(gw: &Gateway) -> String {
    fs::read_to_string(gw.data_dir().join("logs/system_logs/system.current")).unwrap_or_default()
}

/// Appends a table to the board file (it ends with `[watchdog]`) and
/// restarts on it.
fn with_board_tables(gw: &mut Gateway, tables: &str) {
    let path = gw.board_file().to_path_buf();
    let text = fs::read_to_string(&path).expect("board file");
    fs::write(&path, format!("{text}\n{tables}\n")).expect("write board file");
    gw.restart();
}

#[test]
fn repeated_kill_9_under_load_loses_no_acknowledged_message() {
    let kills = env_or("BREAKWATER_CHAOS_KILLS", 10);
    let interval = Duration::from_millis(env_or("BREAKWATER_CHAOS_INTERVAL_MS", 1000));
    const CLIENTS: usize = 4;
    // 240 messages per kill in all; the kills follow the load's progress.
    let per_client = usize::try_from(kills).unwrap_or(10) * 60;

    let mut w = World::start();
    // A crash loop is what this test does on purpose: allow it, quickly.
    with_board_tables(
        &mut w.gw,
        &format!(
            "[supervisor]\nmax_crashes = {}\ncrash_window_secs = 3600\nbackoff_initial_ms = 100\nbackoff_max_ms = 200\n",
            kills + 5
        ),
    );

    let acked = Arc::new(AtomicUsize::new(0));
    let prefixes: Vec<String> = (0..CLIENTS).map(|c| format!("chaos-c{c}")).collect();
    let clients: Vec<LoadClient> = (0..CLIENTS)
        .map(|c| {
            LoadClient::spawn(
                &LoadJob {
                    server: w.net.data1_smtp(),
                    source: w.net.client(50 + c as u8),
                    from: "chaos@internet.example",
                    to: "inbox@example.com",
                    count: per_client,
                    per_conn: 5,
                    prefix: &prefixes[c],
                    body_lines: 20,
                    // 0.3 s apart: about 15 s of a daemon that is down.
                    give_up_after: 50,
                },
                Arc::clone(&acked),
            )
        })
        .collect();

    let started = Instant::now();
    let mut killed = Vec::new();
    // Kills spread over the load: the n-th once `interval` has passed and
    // n/(kills+1) of the messages are acknowledged, whatever the speed.
    let total = CLIENTS * per_client;
    let step = total / (usize::try_from(kills).unwrap_or(10) + 1);
    for n in 0..kills {
        std::thread::sleep(interval);
        let threshold = step * (usize::try_from(n).unwrap_or(0) + 1);
        wait_until(EVENTUALLY, || {
            (acked.load(Ordering::SeqCst) >= threshold).then_some(())
        })
        .unwrap_or_else(|| {
            panic!(
                "kill {n}: only {} of {threshold} messages acknowledged; system log:\n{}",
                acked.load(Ordering::SeqCst),
                system_log(&w.gw)
            )
        });
        let before = acked.load(Ordering::SeqCst);
        // Wait for the daemon that replaced the last one.
        let pid = wait_until(SOON, || {
            w.gw.daemon_pid()
                .filter(|p| killed.last() != Some(p))
                .filter(|_| w.gw.cli(&["status"]).is_ok())
        })
        .unwrap_or_else(|| {
            panic!(
                "kill {n}: no mail daemon came back; system log:\n{}",
                system_log(&w.gw)
            )
        });
        w.gw.kill_daemon();
        killed.push(pid);
        eprintln!(
            "chaos: kill {} of {kills}: daemon {pid} at {:.1} s, {before} acknowledged so far",
            n + 1,
            started.elapsed().as_secs_f64()
        );
        assert!(w.gw.is_running(), "the supervisor itself must stay up");
    }
    let at_last_kill = acked.load(Ordering::SeqCst);

    let mut results = Vec::new();
    let mut errors = Vec::new();
    for c in clients {
        let (r, e) = c.finish(EVENTUALLY);
        results.extend(r);
        errors.extend(e);
    }
    let acknowledged: BTreeSet<String> = results
        .iter()
        .filter(|r| r.acknowledged())
        .map(|r| r.id.clone())
        .collect();
    assert!(
        at_last_kill < CLIENTS * per_client,
        "the load finished before the last kill; the test proves nothing (raise per_client)"
    );

    // A MID is never handed out twice, across all those crashes.
    let mut mids: HashMap<u64, String> = HashMap::new();
    for r in results.iter().filter(|r| r.acknowledged()) {
        let mid = mid_in_reply(&r.text).unwrap_or_else(|| panic!("no MID in {:?}", r.text));
        if let Some(other) = mids.insert(mid, r.id.clone()) {
            panic!("MID {mid} acknowledged twice: for {other} and {}", r.id);
        }
    }

    let arrived_ids = |w: &World| -> Vec<String> {
        w.sink
            .messages()
            .iter()
            .filter_map(SinkMessage::message_id)
            .collect()
    };
    let all_there = wait_until(EVENTUALLY, || {
        let arrived: HashSet<String> = arrived_ids(&w).into_iter().collect();
        acknowledged
            .iter()
            .all(|id| arrived.contains(id))
            .then_some(())
    });
    let arrived = arrived_ids(&w);
    let unique: HashSet<&String> = arrived.iter().collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !unique.contains(id))
        .collect();
    eprintln!(
        "chaos: {} kills in {:.1} s; {} messages acknowledged, {} client errors; \
         {} arrivals, {} duplicates (at-least-once), {} lost",
        killed.len(),
        started.elapsed().as_secs_f64(),
        acknowledged.len(),
        errors.len(),
        arrived.len(),
        arrived.len() - unique.len(),
        lost.len()
    );
    assert!(
        all_there.is_some() && lost.is_empty(),
        "{} of {} acknowledged messages never arrived after {} kills (first: {:?})",
        lost.len(),
        acknowledged.len(),
        killed.len(),
        &lost[..lost.len().min(10)]
    );
    assert!(
        !errors.is_empty(),
        "no client noticed any kill: was the daemon really killed under load?"
    );
}

/// A pseudo-terminal standing in for the serial port: python3 opens it,
/// prints the device name, and copies whatever the console writes to a file.
struct Pty {
    child: std::process::Child,
    device: String,
    output: std::path::PathBuf,
}

const PTY_PY: &str = r#"
import os, pty, select, sys, time
m, s = pty.openpty()
print(os.ttyname(s), flush=True)
out = open(sys.argv[1], "ab", buffering=0)
while True:
    r, _, _ = select.select([m], [], [], 1.0)
    if r:
        try:
            out.write(os.read(m, 4096))
        except OSError:
            time.sleep(0.1)
"#;

impl Pty {
    fn open(output: std::path::PathBuf) -> Pty {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(PTY_PY)
            .arg(&output)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 for the pty");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("pty name");
        Pty {
            child,
            device: line.trim().to_string(),
            output,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.output).unwrap_or_default()).into_owned()
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn console_pids(log: &str) -> Vec<u32> {
    log.lines()
        .filter(|l| l.contains("started the console on"))
        .filter_map(|l| l.rsplit("pid ").next()?.trim().parse().ok())
        .collect()
}

fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next().map(str::to_string))
        })
        .is_some_and(|state| state != "Z" && state != "X")
}

#[test]
fn the_serial_console_runs_under_the_supervisor_apart_from_the_daemon() {
    let mut w = World::start();
    let out =
        w.gw.data_dir()
            .parent()
            .expect("gateway dir")
            .join("pty.out");
    let pty = Pty::open(out);
    // Point the board's console at the pty (the file ends with [watchdog]).
    let path = w.gw.board_file().to_path_buf();
    let text = fs::read_to_string(&path).expect("board file");
    let text = text.replace(
        "[console]\ndevice = \"stdio\"",
        &format!("[console]\ndevice = \"{}\"", pty.device),
    );
    assert!(
        text.contains(&pty.device),
        "board file has no stdio console"
    );
    fs::write(&path, text).expect("board file");
    w.gw.restart();

    let count = |s: &str, what: &str| s.matches(what).count();
    wait_until(SOON, || (count(&pty.text(), "login:") >= 1).then_some(())).unwrap_or_else(|| {
        panic!(
            "no login prompt on {}; got {:?}; system log:\n{}",
            pty.device,
            pty.text(),
            system_log(&w.gw)
        )
    });
    let banner = pty.text();
    assert!(
        banner.contains("Welcome to the Breakwater") && banner.contains("Last boot: clean"),
        "{banner}"
    );
    let first = *console_pids(&system_log(&w.gw))
        .last()
        .expect("console pid");

    // The daemon is killed and restarted: the console process stays.
    let old = w.gw.kill_daemon();
    wait_until(EVENTUALLY, || {
        w.gw.daemon_pid()
            .filter(|p| *p != old)
            .filter(|_| w.gw.cli(&["status"]).is_ok())
    })
    .expect("the daemon came back");
    assert!(alive(first), "the console {first} died with the daemon");

    // The console is killed: the supervisor starts a new one, which shows
    // the banner and login prompt again.
    let prompts = count(&pty.text(), "login:");
    let _ = Command::new("kill")
        .args(["-9", &first.to_string()])
        .status();
    let second = wait_until(SOON, || {
        console_pids(&system_log(&w.gw))
            .last()
            .copied()
            .filter(|p| *p != first)
    })
    .unwrap_or_else(|| panic!("no new console; system log:\n{}", system_log(&w.gw)));
    wait_until(SOON, || {
        (count(&pty.text(), "login:") > prompts).then_some(())
    })
    .unwrap_or_else(|| panic!("the new console {second} shows no login prompt"));
    assert!(
        system_log(&w.gw).contains(&format!("the console {first} on {}", pty.device)),
        "the system log does not say the console exited"
    );

    // An orderly stop takes the console with it.
    w.gw.stop();
    assert!(
        wait_until(SOON, || (!alive(second)).then_some(())).is_some(),
        "the console {second} outlived the supervisor"
    );
}

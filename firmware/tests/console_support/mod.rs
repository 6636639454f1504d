//! Shared by the console tests: a real control server (config store, users
//! in sled) in this process, and a console on an in-memory pipe.

#![allow(dead_code, reason = "each test file uses part of the rig")]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use breakwater::config::{Certificate, ConfigStore, factory};
use breakwater::console::port::{PipePeer, pipe};
use breakwater::console::{self, ConsoleOptions, DaemonLink, Origin};
use breakwater::control::users::{LoginPolicy, UserStore};
use breakwater::control::{ControlServer, DaemonStatus};

pub const WAIT: Duration = Duration::from_secs(20);
pub const PROMPT: &str = "breakwater.dev.local> ";
pub const NEW_PASS: &str = "c0rrect horse";

struct Status;
impl DaemonStatus for Status {
    fn status(&self) -> String {
        "Status as of: now\nHost name: breakwater.dev.local".into()
    }
}

pub struct Rig {
    pub dir: tempfile::TempDir,
    pub store: Arc<ConfigStore>,
    _rt: tokio::runtime::Runtime,
}

/// Cheap argon2 and short waits, so tests log in quickly.
pub fn fast_policy() -> LoginPolicy {
    LoginPolicy {
        max_failures: 3,
        delay_step: Duration::from_millis(100),
        lockout: Duration::from_secs(2),
        hash_memory_kib: 64,
        hash_passes: 1,
        ..LoginPolicy::default()
    }
}

pub fn rig() -> Rig {
    rig_with(fast_policy())
}

/// A rig whose users follow `policy`.
pub fn rig_with(policy: LoginPolicy) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::open(dir.path().join("db")).unwrap();
    let store = Arc::new(ConfigStore::open(&db).unwrap());
    let board = breakwater_board::BoardProfile::builtin("dev").unwrap();
    let cert = Certificate {
        name: "Demo".into(),
        cert_pem: String::new(),
        key_pem: String::new(),
    };
    let cfg = factory::factory_config(&board, cert);
    store.commit("system", "factory", Some(&cfg)).unwrap();
    let users = UserStore::open(&db, policy).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = ControlServer {
        store: store.clone(),
        on_commit: Arc::new(|_| {}),
        daemon: Arc::new(Status),
    };
    {
        let _guard = rt.enter();
        server.start_with_users(dir.path(), users).unwrap();
    }
    Rig {
        dir,
        store,
        _rt: rt,
    }
}

impl Rig {
    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// A console on a pipe; it exits after the first logout.
    pub fn console(&self) -> Term {
        console_at(self.path())
    }

    /// A console on the appliance's serial port (`--device`): failed
    /// logins there slow down but never lock.
    pub fn serial_console(&self) -> Term {
        console_with(self.path(), Origin::Serial)
    }

    /// Logs in as the factory admin and sets [`NEW_PASS`].
    pub fn admin(&self) -> Term {
        let mut t = self.console();
        t.line_after("login: ", "admin");
        t.line_after("Password: ", "breakwater");
        t.line_after("New passphrase: ", NEW_PASS);
        t.line_after("again: ", NEW_PASS);
        t.expect("Passphrase changed.");
        t.expect(PROMPT);
        t
    }

    /// Has the admin create the read-only user `reader`, then logs in as
    /// it (choosing its passphrase); returns the console after the forced
    /// change, before the prompt.
    pub fn reader(&self) -> Term {
        let mut t = self.admin();
        t.send("userconfig new reader read-only Read Only\r");
        t.line_after("New passphrase: ", "reader pass 1");
        t.line_after("again: ", "reader pass 1");
        t.expect("User reader (read-only) created");
        t.quit();

        let mut t = self.console();
        t.line_after("login: ", "reader");
        t.line_after("Password: ", "reader pass 1");
        t.line_after("New passphrase: ", "reader pass 2");
        t.line_after("again: ", "reader pass 2");
        t
    }
}

pub fn console_at(dir: PathBuf) -> Term {
    console_with(dir, Origin::Network)
}

pub fn console_with(dir: PathBuf, origin: Origin) -> Term {
    let (port, peer) = pipe();
    let options = ConsoleOptions {
        tty: "pipe0".into(),
        exit_after_logout: true,
        origin,
        ..ConsoleOptions::default()
    };
    let done =
        std::thread::spawn(move || console::run(port, DaemonLink::new(dir), options).is_ok());
    Term {
        peer,
        done: Some(done),
    }
}

/// The person at the console.
pub struct Term {
    pub peer: PipePeer,
    done: Option<std::thread::JoinHandle<bool>>,
}

impl Term {
    /// A console started by the test itself (`done`: it ended cleanly).
    pub fn from_parts(peer: PipePeer, done: std::thread::JoinHandle<bool>) -> Term {
        Term {
            peer,
            done: Some(done),
        }
    }

    pub fn expect(&mut self, text: &str) -> String {
        self.peer
            .expect(text, WAIT)
            .unwrap_or_else(|e| panic!("{e}"))
    }
    pub fn send(&self, bytes: &str) {
        assert!(self.peer.send(bytes), "the console has gone");
    }
    /// Waits for `prompt`, then types `line` and Enter.
    pub fn line_after(&mut self, prompt: &str, line: &str) -> String {
        let seen = self.expect(prompt);
        self.send(&format!("{line}\r"));
        seen
    }
    /// Runs a command at the prompt and returns its output up to the next prompt.
    pub fn command(&mut self, line: &str) -> String {
        self.send(&format!("{line}\r"));
        self.expect(PROMPT)
    }
    /// Logs out and waits for the console to finish.
    pub fn quit(mut self) -> String {
        self.send("quit\r");
        let out = self.expect("Goodbye.");
        assert!(self.done.take().unwrap().join().unwrap());
        out
    }
}

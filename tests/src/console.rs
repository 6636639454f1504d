//! The serial console as an administrator sees it: `breakwater console`
//! on a real pty (the line editor, its echo, the menus), against the
//! test's running gateway. What the pty shows is kept, so a test can put
//! each step's screen into a guide (see [`crate::transcript`]).

use std::fs::File;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use regex::Regex;

use crate::gateway::{Gateway, breakwater_bin};
use crate::proc::kill_and_reap;

/// How long one console answer may take (argon2 at full cost in a debug
/// build takes about a second per hash; commits restart listeners).
const ANSWER: Duration = Duration::from_secs(90);

/// One logged-in console session on a pty; the console is killed on drop.
#[derive(Debug)]
pub struct Console {
    child: Child,
    keys: File,
    rx: Receiver<Vec<u8>>,
    /// Screen text not yet consumed by an `expect`.
    seen: String,
    prompt: Regex,
}

impl Console {
    /// Starts `breakwater console` on a new pty for `gw`, logs in as the
    /// factory `admin` / `breakwater`, makes the forced passphrase change
    /// to `passphrase` and waits for the first prompt.
    ///
    /// # Panics
    /// When the console does not start or the login fails.
    #[must_use]
    pub fn login_factory_admin(gw: &Gateway, passphrase: &str) -> Console {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave = File::from(pty.slave);
        let child = Command::new(breakwater_bin())
            .arg("console")
            .arg("--data-dir")
            .arg(gw.data_dir())
            .stdin(Stdio::from(slave.try_clone().expect("dup pty")))
            .stdout(Stdio::from(slave.try_clone().expect("dup pty")))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("spawn breakwater console");
        let keys = File::from(pty.master);
        let mut reader = keys.try_clone().expect("dup pty master");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        });
        let mut c = Console {
            child,
            keys,
            rx,
            seen: String::new(),
            // `<hostname>> ` (or, clustered, `(Cluster NAME)> `) alone at
            // the end of the screen; menus ask with `[]> ` / `[Y]> `,
            // which this never matches.
            prompt: Regex::new(
                r"(?:^|\n)(?:[A-Za-z0-9._-]+|\((?:Cluster|Group|Machine) [A-Za-z0-9._-]+\))> $",
            )
            .expect("static regex"),
        };
        c.expect("login: ");
        c.type_line("admin");
        c.expect("Password: ");
        c.type_line("breakwater");
        c.expect("New passphrase: ");
        c.type_line(passphrase);
        c.expect("again: ");
        c.type_line(passphrase);
        c.expect("Passphrase changed.");
        c.wait_prompt();
        c
    }

    /// Types `line` and Enter.
    ///
    /// # Panics
    /// When the pty is gone.
    pub fn type_line(&mut self, line: &str) {
        self.keys
            .write_all(format!("{line}\r").as_bytes())
            .expect("type on the pty");
    }

    fn pull(&mut self, deadline: Instant, waiting_for: &str) {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(b) => {
                self.seen.push_str(&String::from_utf8_lossy(&b));
                // A CRLF split across two reads joins up here.
                if !self.seen.ends_with('\r') {
                    self.seen = screen(&self.seen);
                }
            }
            Err(_) => panic!(
                "the console never showed {waiting_for}; the screen since the last step:\n{}",
                self.seen
            ),
        }
    }

    /// Waits for `text` and returns the screen up to and including it.
    ///
    /// # Panics
    /// When it does not appear soon.
    pub fn expect(&mut self, text: &str) -> String {
        let deadline = Instant::now() + ANSWER;
        loop {
            if let Some(i) = self.seen.find(text) {
                let rest = self.seen.split_off(i + text.len());
                return std::mem::replace(&mut self.seen, rest);
            }
            self.pull(deadline, &format!("{text:?}"));
        }
    }

    /// Waits until the screen ends with the command prompt and returns the
    /// screen before it (the prompt stays for the next step).
    ///
    /// # Panics
    /// When the prompt does not come soon.
    pub fn wait_prompt(&mut self) -> String {
        let deadline = Instant::now() + ANSWER;
        loop {
            if let Some(m) = self.prompt.find(&self.seen) {
                let start = m.start() + usize::from(self.seen[m.start()..].starts_with('\n'));
                let rest = self.seen.split_off(start);
                return std::mem::replace(&mut self.seen, rest);
            }
            self.pull(deadline, "the command prompt");
        }
    }

    /// Types `command` at the prompt and returns the screen from the
    /// prompt to the next prompt: `host> command\n<output>`.
    ///
    /// # Panics
    /// When the prompt does not come back soon.
    pub fn run(&mut self, command: &str) -> String {
        self.type_line(command);
        // The prompt we typed on must not count as the next one.
        let mut shown = self.expect_echo(command);
        shown.push_str(&self.wait_prompt());
        shown
    }

    /// Answers a menu's questions one by one (`answers`), each after the
    /// question before it shows `[...]> `, until the command prompt comes
    /// back; returns the whole dialogue from the prompt on.
    ///
    /// # Panics
    /// When a question or the prompt does not come.
    pub fn dialogue(&mut self, command: &str, answers: &[&str]) -> String {
        self.type_line(command);
        let mut shown = self.expect_echo(command);
        for answer in answers {
            shown.push_str(&self.expect("]> "));
            self.type_line(answer);
            shown.push_str(&self.expect_echo(answer));
        }
        shown.push_str(&self.wait_prompt());
        shown
    }

    /// Types a multi-line paste (each line with Enter), the way a filter
    /// script is pasted, and returns nothing: the echo is read by the next
    /// [`Console::expect`] or prompt.
    pub fn paste(&mut self, lines: &str) {
        for line in lines.lines() {
            self.type_line(line);
        }
    }

    /// Everything up to and including the echo of `typed` and its line end.
    fn expect_echo(&mut self, typed: &str) -> String {
        let mut s = self.expect(typed);
        s.push_str(&self.expect("\n"));
        s
    }

    /// Types `quit` and waits for the console to exit.
    ///
    /// # Panics
    /// When it does not say goodbye.
    pub fn logout(mut self) {
        self.type_line("quit");
        self.expect("Goodbye.");
    }
}

/// Pty text as a reader sees it: CRLF as one line end, a lone CR dropped
/// (the terminal returns to the line's start; plain typing sends no other
/// redraw).
fn screen(raw: &str) -> String {
    raw.replace("\r\n", "\n").replace('\r', "")
}

impl Drop for Console {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

//! The logged-in console: the `<hostname>> ` prompt loop, typed batch
//! commands, and the prompts menus are built from. What a typed line runs
//! (a menu or a batch command) is decided by the caller's `execute`
//! ([`super::menus::execute`]), so this module knows no menu: the menus
//! build on it, not the other way round.

use breakwater_control_proto::setup::NOT_CONFIGURED;
use breakwater_control_proto::{LOGOUT, Response, SESSION_ENDED, STATE, SessionState, split_words};

use super::editor::Mode;
use super::login::{Session, session_args};
use super::menus_cluster::{self, Level};
use super::{ConsoleError, DaemonLink, Terminal};

/// The batch output that already says changes are staged.
pub(super) const STAGED_MARK: &str = "The change is staged";
const UNCOMMITTED: &str =
    "There are uncommitted changes: \"commit\" applies them, \"clear\" discards them.";

pub struct Shell<'a> {
    pub term: &'a mut Terminal,
    link: &'a DaemonLink,
    pub session: Session,
    hostname: String,
    /// The current mode when the appliance is clustered (`clustermode`):
    /// the prompt shows it instead of the host name.
    pub mode: Option<Level>,
    /// The reminder about staged changes was shown since the last command.
    reminded: bool,
}

/// What a command asks the loop to do next.
pub enum Next {
    Prompt,
    Logout,
}

impl<'a> Shell<'a> {
    pub fn new(term: &'a mut Terminal, link: &'a DaemonLink, session: Session) -> Self {
        let hostname = session.banner.hostname.clone();
        Self {
            term,
            link,
            session,
            hostname,
            mode: None,
            reminded: false,
        }
    }

    /// Asks `clustermode` which mode this user is in (after login, and
    /// after the cluster commands that change it). Standalone, or a
    /// daemon without clusters, answers an error: no mode, the host name
    /// prompt.
    pub fn refresh_mode(&mut self) -> Result<(), ConsoleError> {
        match self.call(&["clustermode"], None) {
            Ok(r) => {
                self.mode = r.ok.then(|| menus_cluster::parse_mode(&r.output)).flatten();
                Ok(())
            }
            // The prompt loop reports a daemon that does not answer.
            Err(ConsoleError::Daemon(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Runs one request in this session.
    pub fn call(&mut self, args: &[&str], stdin: Option<&str>) -> Result<Response, ConsoleError> {
        let r = self
            .link
            .call(session_args(&self.session, args), stdin, &self.session.user)?;
        if !r.ok && r.output == SESSION_ENDED {
            return Err(ConsoleError::SessionEnded);
        }
        Ok(r)
    }

    /// Runs a batch command and prints its answer; true if it succeeded.
    pub fn run(&mut self, args: &[&str]) -> Result<bool, ConsoleError> {
        self.run_input(args, None)
    }

    /// [`Shell::run`] with `stdin` for the command (a pasted filter script).
    pub fn run_input(&mut self, args: &[&str], stdin: Option<&str>) -> Result<bool, ConsoleError> {
        let r = self.call(args, stdin)?;
        if r.output.contains(STAGED_MARK) {
            self.reminded = true;
        }
        self.show(&r.output)?;
        Ok(r.ok)
    }

    pub fn show(&mut self, text: &str) -> Result<(), ConsoleError> {
        if text.is_empty() {
            return Ok(());
        }
        self.term.println(text.trim_end_matches('\n'))
    }

    pub fn state(&mut self) -> Result<SessionState, ConsoleError> {
        let r = self.call(&[STATE], None)?;
        serde_json::from_str(&r.output)
            .map_err(|e| super::LinkError::Malformed(e.to_string()).into())
    }

    /// The prompt loop, until logout, Ctrl-D, the idle timeout or a hang-up;
    /// `execute` runs each typed line.
    pub fn command_loop(
        &mut self,
        execute: fn(&mut Shell<'_>, &[String]) -> Result<Next, ConsoleError>,
    ) -> Result<(), ConsoleError> {
        if let Err(e) = self.setup_hint().and_then(|()| self.refresh_mode()) {
            let _ = self.close("hangup");
            return Err(e);
        }
        loop {
            match self.state() {
                Ok(st) => {
                    self.hostname = st.hostname;
                    if st.staged && !self.reminded {
                        self.term.println(UNCOMMITTED)?;
                    }
                    self.reminded = st.staged;
                }
                Err(ConsoleError::Daemon(e)) => self.term.println(&e.to_string())?,
                Err(ConsoleError::SessionEnded) => return self.ended(),
                Err(e) => return Err(e),
            }
            let prompt = menus_cluster::prompt(self.mode.as_ref(), &self.hostname);
            // Reading the line and running it end the same ways.
            let line = self.term.read_line(&prompt, Mode::Command);
            let result = match line.map(|l| split_words(&l)) {
                Ok(words) if words.is_empty() => continue,
                Ok(words) => {
                    let r = execute(self, &words);
                    // The mode changes with `clustermode`, and appears or
                    // goes with `clusterconfig create|join|leave` (even
                    // if a menu of theirs was left with Ctrl-C).
                    let refreshed = if menus_cluster::changes_mode(&words[0]) {
                        self.refresh_mode()
                    } else {
                        Ok(())
                    };
                    r.and_then(|n| refreshed.map(|()| n))
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(Next::Prompt) | Err(ConsoleError::Interrupted) => {}
                Ok(Next::Logout) | Err(ConsoleError::Eof) => return self.logout("logout"),
                Err(ConsoleError::Daemon(e)) => self.term.println(&e.to_string())?,
                Err(ConsoleError::SessionEnded) => return self.ended(),
                Err(ConsoleError::IdleTimeout) => {
                    self.term
                        .println("\nSession timed out: no input for too long.")?;
                    return self.close("timed out");
                }
                Err(e) => {
                    let _ = self.close("hangup");
                    return Err(e);
                }
            }
        }
    }

    /// AsyncOS's hint on an appliance nobody has configured yet, once per
    /// login, to users who may run the wizard. Best effort: a daemon that
    /// does not answer is reported by the prompt loop.
    fn setup_hint(&mut self) -> Result<(), ConsoleError> {
        if !self.session.role.can_change_config() {
            return Ok(());
        }
        let Ok(r) = self.call(&["systemsetup", "status"], None) else {
            return Ok(());
        };
        if r.ok && r.output == NOT_CONFIGURED {
            self.term.println(NOT_CONFIGURED)?;
        }
        Ok(())
    }

    fn ended(&mut self) -> Result<(), ConsoleError> {
        self.term.println(SESSION_ENDED)
    }

    /// Logs out, reporting uncommitted changes (they stay staged).
    fn logout(&mut self, how: &str) -> Result<(), ConsoleError> {
        if let Ok(st) = self.state()
            && st.staged
        {
            self.term.println(
                "There are uncommitted changes. They stay staged for the next session:\n\
                 \"commit\" applies them, \"clear\" discards them.",
            )?;
        }
        self.close(how)
    }

    fn close(&mut self, how: &str) -> Result<(), ConsoleError> {
        let _ = self.call(&[LOGOUT, how], None);
        self.term.println("Goodbye.")
    }

    // Prompts for menus. An empty answer returns `None` (go back) unless
    // there is a default; Ctrl-C cancels the whole menu.

    /// "Choose the operation you want to perform:" with `- NAME - Text.`
    /// lines; returns the index of the chosen operation, `None` on Enter.
    pub fn choose(&mut self, ops: &[(&str, &str)]) -> Result<Option<usize>, ConsoleError> {
        let mut menu = String::from("\nChoose the operation you want to perform:");
        for (name, text) in ops {
            menu.push_str(&format!("\n- {name} - {text}"));
        }
        self.term.println(&menu)?;
        loop {
            let answer = self.term.read_line("[]> ", Mode::Text)?;
            let answer = answer.trim();
            if answer.is_empty() {
                return Ok(None);
            }
            if let Some(i) = ops.iter().position(|(n, _)| n.eq_ignore_ascii_case(answer)) {
                return Ok(Some(i));
            }
            let names: Vec<&str> = ops.iter().map(|(n, _)| *n).collect();
            self.term.println(&format!(
                "'{answer}' is not an operation of this menu. Choose one of: {} (or press Enter to go back).",
                names.join(", ")
            ))?;
        }
    }

    /// Asks `question`; Enter takes `default` (shown in brackets).
    pub fn ask(&mut self, question: &str, default: &str) -> Result<String, ConsoleError> {
        self.term.println(question)?;
        let answer = self.term.read_line(&format!("[{default}]> "), Mode::Text)?;
        let answer = answer.trim();
        Ok(if answer.is_empty() {
            default.to_string()
        } else {
            answer.to_string()
        })
    }

    /// Asks `question` with no default; `None` if the answer is empty.
    pub fn ask_some(&mut self, question: &str) -> Result<Option<String>, ConsoleError> {
        let a = self.ask(question, "")?;
        Ok((!a.is_empty()).then_some(a))
    }

    pub fn yes_no(&mut self, question: &str, default: bool) -> Result<bool, ConsoleError> {
        let d = if default { "Y" } else { "N" };
        loop {
            let a = self
                .term
                .read_line(&format!("{question} [{d}]> "), Mode::Text)?;
            match a.trim().to_ascii_lowercase().as_str() {
                "" => return Ok(default),
                "y" | "yes" => return Ok(true),
                "n" | "no" => return Ok(false),
                _ => self.term.println("Please answer Y or N.")?,
            }
        }
    }

    /// Reads lines until one holding a single `.` (a pasted filter script).
    pub fn read_script(&mut self, intro: &str) -> Result<String, ConsoleError> {
        self.term.println(intro)?;
        let mut script = String::new();
        loop {
            let line = self.term.read_line("", Mode::Text)?;
            if line.trim() == "." {
                return Ok(script);
            }
            script.push_str(&line);
            script.push('\n');
        }
    }

    /// Whether this user may change the configuration; says so if not.
    pub fn may_change(&mut self) -> Result<bool, ConsoleError> {
        if self.session.role.can_change_config() {
            return Ok(true);
        }
        self.term.println(&format!(
            "Permission denied: the {} role cannot change the configuration.",
            self.session.role.name()
        ))?;
        Ok(false)
    }

    /// Asks for answers with `ask_args` and runs the batch command they
    /// make, until the daemon accepts it. A refused command changes
    /// nothing (it is validated in full first), so asking again is safe.
    /// `ask_args` returns `None` when the user gives up (an empty answer).
    pub fn until_accepted(
        &mut self,
        mut ask_args: impl FnMut(&mut Shell<'_>) -> Result<Option<Vec<String>>, ConsoleError>,
    ) -> Result<bool, ConsoleError> {
        self.until_accepted_input(|sh| Ok(ask_args(sh)?.map(|a| (a, None))))
    }

    /// [`Shell::until_accepted`] for commands that read standard input
    /// (`filters new`, `filters import`): `ask` returns the arguments and
    /// the text (a pasted script) the command reads.
    pub fn until_accepted_input(
        &mut self,
        mut ask: impl FnMut(
            &mut Shell<'_>,
        ) -> Result<Option<(Vec<String>, Option<String>)>, ConsoleError>,
    ) -> Result<bool, ConsoleError> {
        if !self.may_change()? {
            return Ok(false);
        }
        loop {
            let Some((args, stdin)) = ask(self)? else {
                return Ok(false);
            };
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            if self.run_input(&args, stdin.as_deref())? {
                return Ok(true);
            }
        }
    }
}

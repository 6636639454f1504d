//! The console line editor, sans-I/O: bytes go in through
//! [`LineEditor::feed`], the echo comes out in a buffer and a finished line
//! (or Ctrl-C, Ctrl-D) comes out as an [`Event`]. The terminal, a pty, a
//! UART and the tests drive the same code.
//!
//! Keys: printable characters (UTF-8 too) insert at the end; Backspace and
//! DEL erase a character; Ctrl-U erases the line; Ctrl-C cancels
//! ([`Event::Interrupt`]); Ctrl-D on an empty line is [`Event::Eof`]; Up and
//! Down (`ESC [ A` / `ESC [ B`, or `ESC O A` / `ESC O B`) walk the history;
//! Tab completes the first word from the command names. CR, LF and CRLF
//! each end one line (a CR followed by LF is one Enter, not two).
//!
//! Bounds: a line holds [`MAX_LINE`] bytes (more rings the bell and is
//! dropped); the history keeps the last [`MAX_HISTORY`] command lines.

use heapless::{Deque, Vec as HVec};

/// Longest line, in bytes; a filter script line or a long sender group
/// member list fits.
pub const MAX_LINE: usize = 2048;
/// Command lines kept for Up/Down.
pub const MAX_HISTORY: usize = 32;

const BEL: u8 = 0x07;
const ERASE: &[u8] = b"\x08 \x08";

/// How a line is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The command prompt: echo, history, Tab completion.
    #[default]
    Command,
    /// Menu answers and pasted scripts: echo only.
    Text,
    /// Passphrases: nothing is echoed, nothing is remembered.
    Secret,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Enter: the line, without its line ending.
    Line(String),
    /// Ctrl-C.
    Interrupt,
    /// Ctrl-D on an empty line.
    Eof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Esc {
    #[default]
    None,
    Started,
    /// After `ESC [` or `ESC O`.
    Sequence,
}

#[derive(Default)]
pub struct LineEditor {
    line: HVec<u8, MAX_LINE>,
    history: Deque<HVec<u8, MAX_LINE>, MAX_HISTORY>,
    /// While walking the history: the entry shown (0 is the newest).
    browsing: Option<usize>,
    esc: Esc,
    after_cr: bool,
    mode: Mode,
    prompt: String,
    words: Vec<String>,
}

impl LineEditor {
    pub fn new() -> Self {
        Self::default()
    }

    /// The words Tab completes (command names).
    pub fn set_words(&mut self, words: Vec<String>) {
        self.words = words;
    }

    /// Starts a new line: writes the prompt to `out`.
    pub fn start(&mut self, prompt: &str, mode: Mode, out: &mut Vec<u8>) {
        self.line.clear();
        self.browsing = None;
        self.esc = Esc::None;
        self.mode = mode;
        self.prompt = prompt.to_string();
        out.extend_from_slice(prompt.as_bytes());
    }

    fn echo(&self) -> bool {
        self.mode != Mode::Secret
    }

    /// Feeds one byte; the echo goes to `out`.
    pub fn feed(&mut self, b: u8, out: &mut Vec<u8>) -> Option<Event> {
        let after_cr = std::mem::replace(&mut self.after_cr, false);
        match self.esc {
            Esc::Started => {
                self.esc = if b == b'[' || b == b'O' {
                    Esc::Sequence
                } else {
                    Esc::None
                };
                return None;
            }
            Esc::Sequence => {
                // Parameters (`ESC [ 1 ; 5 A`) come before the final byte.
                if (0x40..=0x7e).contains(&b) {
                    self.esc = Esc::None;
                    match b {
                        b'A' => self.walk_history(true, out),
                        b'B' => self.walk_history(false, out),
                        _ => {}
                    }
                }
                return None;
            }
            Esc::None => {}
        }
        match b {
            b'\r' => {
                self.after_cr = true;
                return Some(self.enter(out));
            }
            b'\n' if after_cr => {}
            b'\n' => return Some(self.enter(out)),
            0x1b => self.esc = Esc::Started,
            0x03 => {
                out.extend_from_slice(b"^C\r\n");
                self.line.clear();
                return Some(Event::Interrupt);
            }
            0x04 if self.line.is_empty() => return Some(Event::Eof),
            0x08 | 0x7f => self.backspace(out),
            0x15 => self.erase_line(out),
            b'\t' if self.mode == Mode::Command => self.complete(out),
            // A pasted filter script indented with tabs: a tab separates
            // words like a space (it is not a control key in answers).
            b if b >= 0x20 || (b == b'\t' && self.mode == Mode::Text) => {
                let b = if b == b'\t' { b' ' } else { b };
                if self.line.push(b).is_err() {
                    out.push(BEL);
                } else if self.echo() {
                    out.push(b);
                }
            }
            _ => {}
        }
        None
    }

    fn enter(&mut self, out: &mut Vec<u8>) -> Event {
        out.extend_from_slice(b"\r\n");
        let text = String::from_utf8_lossy(&self.line).into_owned();
        let newest = self.history.front().map(|h| h.as_slice());
        if self.mode == Mode::Command
            && !text.trim().is_empty()
            && newest != Some(self.line.as_slice())
        {
            if self.history.is_full() {
                self.history.pop_back();
            }
            let _ = self.history.push_front(self.line.clone());
        }
        self.line.clear();
        self.browsing = None;
        Event::Line(text)
    }

    fn backspace(&mut self, out: &mut Vec<u8>) {
        if self.pop_char() && self.echo() {
            out.extend_from_slice(ERASE);
        }
    }

    /// Removes the last character (all bytes of a UTF-8 sequence).
    fn pop_char(&mut self) -> bool {
        let Some(mut b) = self.line.pop() else {
            return false;
        };
        while b & 0xc0 == 0x80 {
            match self.line.pop() {
                Some(x) => b = x,
                None => break,
            }
        }
        true
    }

    fn chars(&self) -> usize {
        self.line.iter().filter(|&&b| b & 0xc0 != 0x80).count()
    }

    fn erase_line(&mut self, out: &mut Vec<u8>) {
        if self.echo() {
            for _ in 0..self.chars() {
                out.extend_from_slice(ERASE);
            }
        }
        self.line.clear();
    }

    fn replace_line(&mut self, text: &[u8], out: &mut Vec<u8>) {
        self.erase_line(out);
        let n = text.len().min(MAX_LINE);
        let _ = self.line.extend_from_slice(&text[..n]);
        if self.echo() {
            out.extend_from_slice(&self.line);
        }
    }

    fn walk_history(&mut self, older: bool, out: &mut Vec<u8>) {
        if self.mode != Mode::Command {
            return;
        }
        let next = match (self.browsing, older) {
            (None, true) if !self.history.is_empty() => Some(0),
            (Some(i), true) if i + 1 < self.history.len() => Some(i + 1),
            (Some(i), true) => Some(i),
            (Some(0), false) | (None, _) => None,
            (Some(i), false) => Some(i - 1),
        };
        self.browsing = next;
        let entry = match next {
            Some(i) => self.history.iter().nth(i).cloned().unwrap_or_default(),
            None => HVec::new(),
        };
        self.replace_line(&entry, out);
    }

    fn complete(&mut self, out: &mut Vec<u8>) {
        let typed = String::from_utf8_lossy(&self.line).to_ascii_lowercase();
        if typed.contains(' ') {
            out.push(BEL);
            return;
        }
        let matches: Vec<&String> = self
            .words
            .iter()
            .filter(|w| w.to_ascii_lowercase().starts_with(&typed))
            .collect();
        match matches.as_slice() {
            [] => out.push(BEL),
            [one] => {
                let text = format!("{one} ");
                self.replace_line(text.as_bytes(), out);
            }
            many => {
                let common = common_prefix(many);
                if common.len() > typed.len() {
                    self.replace_line(common.as_bytes(), out);
                } else {
                    out.extend_from_slice(b"\r\n");
                    let list: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
                    out.extend_from_slice(list.join("  ").as_bytes());
                    out.extend_from_slice(b"\r\n");
                    out.extend_from_slice(self.prompt.as_bytes());
                    out.extend_from_slice(&self.line);
                }
            }
        }
    }
}

fn common_prefix(words: &[&String]) -> String {
    let first = words[0].to_ascii_lowercase();
    let mut len = first.len();
    for w in &words[1..] {
        let w = w.to_ascii_lowercase();
        len = first
            .bytes()
            .zip(w.bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count();
    }
    first[..len].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ed: &mut LineEditor, input: &[u8]) -> (Vec<Event>, String) {
        let mut out = Vec::new();
        let events = input.iter().filter_map(|&b| ed.feed(b, &mut out)).collect();
        (events, String::from_utf8_lossy(&out).into_owned())
    }

    fn line(s: &str) -> Event {
        Event::Line(s.to_string())
    }

    #[test]
    fn cr_lf_and_crlf_each_end_one_line() {
        let mut ed = LineEditor::new();
        let (events, _) = run(&mut ed, b"a\rb\nc\r\nd\n\n");
        assert_eq!(
            events,
            [line("a"), line("b"), line("c"), line("d"), line("")]
        );
    }

    #[test]
    fn backspace_ctrl_u_ctrl_c_and_ctrl_d() {
        let mut ed = LineEditor::new();
        let (events, echo) = run(&mut ed, "héx\x7f\x7f\x08y\r".as_bytes());
        assert_eq!(events, [line("y")]);
        assert!(echo.contains("\x08 \x08"));
        let (events, _) = run(&mut ed, b"junk\x15ok\r");
        assert_eq!(events, [line("ok")]);
        let (events, echo) = run(&mut ed, b"half\x03\x04");
        assert_eq!(events, [Event::Interrupt, Event::Eof]);
        assert!(echo.ends_with("^C\r\n"));
        // Ctrl-D in the middle of a line is ignored.
        assert_eq!(run(&mut ed, b"x\x04\r").0, [line("x")]);
    }

    #[test]
    fn history_walks_with_arrow_keys() {
        let mut ed = LineEditor::new();
        run(&mut ed, b"first\rsecond\rsecond\r");
        let (events, _) = run(&mut ed, b"\x1b[A\x1b[A\r");
        assert_eq!(events, [line("first")]);
        let (events, _) = run(&mut ed, b"\x1bOA\x1b[B\x1b[B\x1b[Anew\r");
        assert_eq!(events, [line("firstnew")]);
        for i in 0..MAX_HISTORY + 5 {
            run(&mut ed, format!("c{i}\r").as_bytes());
        }
        assert_eq!(ed.history.len(), MAX_HISTORY);
    }

    #[test]
    fn secret_mode_echoes_nothing_and_is_not_remembered() {
        let mut ed = LineEditor::new();
        let mut out = Vec::new();
        ed.start("Password: ", Mode::Secret, &mut out);
        let (events, echo) = run(&mut ed, b"hunter22\x7f\r");
        assert_eq!(events, [line("hunter2")]);
        assert_eq!(echo, "\r\n");
        assert!(ed.history.is_empty());
    }

    #[test]
    fn tab_completes_command_names() {
        let mut ed = LineEditor::new();
        ed.set_words(vec![
            "smtproutes".into(),
            "showconfig".into(),
            "status".into(),
        ]);
        assert_eq!(run(&mut ed, b"smt\t\r").0, [line("smtproutes ")]);
        let (_, echo) = run(&mut ed, b"s\t");
        assert!(echo.contains("smtproutes  showconfig  status"), "{echo:?}");
        assert_eq!(run(&mut ed, b"ho\t\r").0, [line("showconfig ")]);
        assert_eq!(run(&mut ed, b"zz\t\r").0, [line("zz")]);
    }

    #[test]
    fn a_tab_in_an_answer_is_a_space() {
        let mut ed = LineEditor::new();
        let mut out = Vec::new();
        ed.start("", Mode::Text, &mut out);
        let (events, echo) = run(&mut ed, b"\tif\ttrue {\r");
        assert_eq!(events, [line(" if true {")]);
        assert_eq!(echo, " if true {\r\n");
    }

    #[test]
    fn an_overlong_line_rings_the_bell_and_keeps_the_first_bytes() {
        let mut ed = LineEditor::new();
        let long = vec![b'x'; MAX_LINE + 10];
        let (_, echo) = run(&mut ed, &long);
        assert_eq!(echo.matches('\x07').count(), 10);
        let (events, _) = run(&mut ed, b"\r");
        assert_eq!(events, [Event::Line("x".repeat(MAX_LINE))]);
    }
}

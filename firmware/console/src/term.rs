//! The terminal a console session talks to: any `embedded_io` port, the
//! line editor, idle time, and `\n` → `\r\n` on output (a raw terminal
//! does not translate line endings itself).

use std::time::{Duration, Instant};

use embedded_io::{Error as _, ErrorKind};

use super::ConsoleError;
use super::editor::{Event, LineEditor, Mode};

/// The port, with its error type erased so menus need no generics.
trait Port {
    fn read_bytes(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind>;
    fn write_bytes(&mut self, buf: &[u8]) -> Result<(), ErrorKind>;
}

impl<T: embedded_io::Read + embedded_io::Write> Port for T {
    fn read_bytes(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.read(buf).map_err(|e| e.kind())
    }
    fn write_bytes(&mut self, buf: &[u8]) -> Result<(), ErrorKind> {
        self.write_all(buf).map_err(|e| e.kind())?;
        self.flush().map_err(|e| e.kind())
    }
}

pub struct Terminal {
    port: Box<dyn Port>,
    editor: LineEditor,
    input: [u8; 512],
    len: usize,
    pos: usize,
    /// Log out after this long without a key; `None` while at `login:`.
    pub idle_timeout: Option<Duration>,
}

impl Terminal {
    pub fn new<P: embedded_io::Read + embedded_io::Write + 'static>(port: P) -> Self {
        Self {
            port: Box::new(port),
            editor: LineEditor::new(),
            input: [0; 512],
            len: 0,
            pos: 0,
            idle_timeout: None,
        }
    }

    pub fn set_words(&mut self, words: Vec<String>) {
        self.editor.set_words(words);
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), ConsoleError> {
        self.port.write_bytes(bytes).map_err(ConsoleError::Io)
    }

    /// Prints `text` with `\n` sent as `\r\n`, and every other control,
    /// bidi or invisible character escaped ([`breakwater_types::display::escape_text`]).
    ///
    /// The last line of defence: the daemon escapes its answers already,
    /// but nothing printed here (an answer, a banner field, a menu's echo
    /// of what the daemon listed) may move the cursor, retitle the window
    /// or reorder the text. The console's own drawing (the line editor's
    /// echo, erase and bell) goes through `write`, not here.
    pub fn print(&mut self, text: &str) -> Result<(), ConsoleError> {
        let text = breakwater_types::display::escape_text(text);
        let mut out = Vec::with_capacity(text.len() + 16);
        for b in text.bytes() {
            if b == b'\n' {
                out.push(b'\r');
            }
            out.push(b);
        }
        self.write(&out)
    }

    /// Prints `text` and ends the line.
    pub fn println(&mut self, text: &str) -> Result<(), ConsoleError> {
        self.print(text)?;
        self.write(b"\r\n")
    }

    /// Reads more input once what was read is used up: `Ok(false)` when
    /// nothing came within one port tick.
    fn fill(&mut self) -> Result<bool, ConsoleError> {
        if self.pos < self.len {
            return Ok(true);
        }
        match self.port.read_bytes(&mut self.input) {
            Ok(0) => Err(ConsoleError::Hangup),
            Ok(n) => {
                self.len = n;
                self.pos = 0;
                Ok(true)
            }
            Err(ErrorKind::TimedOut | ErrorKind::Interrupted) => Ok(false),
            Err(e) => Err(ConsoleError::Io(e)),
        }
    }

    fn next_byte(&mut self) -> Result<u8, ConsoleError> {
        let since = Instant::now();
        while !self.fill()? {
            if self.idle_timeout.is_some_and(|t| since.elapsed() >= t) {
                return Err(ConsoleError::IdleTimeout);
            }
        }
        self.pos += 1;
        Ok(self.input[self.pos - 1])
    }

    /// Waits at most one port tick (`port::TICK`) for a key: what `tail
    /// -f` does between two reads of the log. `Ok(None)` when none came.
    pub fn poll_key(&mut self) -> Result<Option<u8>, ConsoleError> {
        if !self.fill()? {
            return Ok(None);
        }
        self.pos += 1;
        Ok(Some(self.input[self.pos - 1]))
    }

    /// Shows `prompt` and reads one line (Ctrl-C and Ctrl-D are errors
    /// the caller turns into "cancel" and "log out").
    pub fn read_line(&mut self, prompt: &str, mode: Mode) -> Result<String, ConsoleError> {
        let mut out = Vec::new();
        self.editor.start(prompt, mode, &mut out);
        self.write(&out)?;
        loop {
            let b = self.next_byte()?;
            out.clear();
            let event = self.editor.feed(b, &mut out);
            if !out.is_empty() {
                self.write(&out)?;
            }
            match event {
                None => {}
                Some(Event::Line(line)) => return Ok(line),
                Some(Event::Interrupt) => return Err(ConsoleError::Interrupted),
                Some(Event::Eof) => return Err(ConsoleError::Eof),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Terminal;
    use crate::port::pipe;

    #[test]
    fn printed_text_cannot_drive_the_terminal() {
        let (port, mut peer) = pipe();
        let mut term = Terminal::new(port);
        term.println("Subject: \x1b[2J\u{9b}31m\u{202e}fdp.exe\nnext")
            .unwrap();
        let seen = peer.expect("next", Duration::from_secs(5)).unwrap();
        assert_eq!(
            seen,
            "Subject: \\u{1b}[2J\\u{9b}31m\\u{202e}fdp.exe\r\nnext"
        );
    }
}

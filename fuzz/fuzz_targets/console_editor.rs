//! Types arbitrary bytes at the console line editor (the serial port and
//! the console's pty are outside input). The first byte picks the mode.
//! Properties checked: no panic; a line never holds a CR or LF and is at
//! most `MAX_LINE` bytes before UTF-8 repair; in passphrase mode nothing
//! typed is ever echoed; a passphrase never reaches the history.
#![no_main]

use breakwater::console::editor::{Event, LineEditor, MAX_LINE, Mode};
use libfuzzer_sys::fuzz_target;

const PROMPT: &str = "mail.example.com> ";

fuzz_target!(|data: &[u8]| {
    let Some((&first, keys)) = data.split_first() else {
        return;
    };
    let mode = match first % 3 {
        0 => Mode::Command,
        1 => Mode::Text,
        _ => Mode::Secret,
    };
    let mut ed = LineEditor::new();
    ed.set_words(
        [
            "listenerconfig",
            "logconfig",
            "loadconfig",
            "status",
            "commit",
        ]
        .map(String::from)
        .to_vec(),
    );
    let mut out = Vec::new();
    ed.start(PROMPT, mode, &mut out);
    for &b in keys {
        out.clear();
        let event = ed.feed(b, &mut out);
        if mode == Mode::Secret {
            assert!(
                out.iter().all(|c| b"\r\n\x07^C".contains(c)),
                "passphrase mode echoed {out:?}"
            );
        }
        match event {
            Some(Event::Line(line)) => {
                assert!(!line.contains(['\r', '\n']), "{line:?}");
                // Each byte repaired to U+FFFD takes at most 3 bytes.
                assert!(line.len() <= 3 * MAX_LINE, "{} bytes", line.len());
                ed.start(PROMPT, mode, &mut out);
            }
            Some(Event::Interrupt | Event::Eof) => ed.start(PROMPT, mode, &mut out),
            None => {}
        }
    }
    if mode == Mode::Secret {
        // Up at the command prompt: no passphrase comes back.
        out.clear();
        ed.start(PROMPT, Mode::Command, &mut out);
        out.clear();
        for &b in b"\x1b[A" {
            ed.feed(b, &mut out);
        }
        assert!(out.is_empty(), "history after passphrases: {out:?}");
    }
});

//! Reads arbitrary bytes as the message of a `mail_logs` line (the text
//! after `<time> <Level>: `), as `findevent` does with lines from disk.
//! Properties checked: `MailEvent::parse` never panics; whatever it
//! accepts prints back byte for byte and parses again to the same event
//! (parse(display(e)) == e), so reading the logs never misattributes a line.
#![no_main]

use breakwater::logging::MailEvent;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    if let Some(event) = MailEvent::parse(&line) {
        let shown = event.to_string();
        assert_eq!(shown, line, "prints back byte for byte");
        assert_eq!(MailEvent::parse(&shown).as_ref(), Some(&event), "round trip");
    }
});

//! `tests/golden/mail_logs.golden`: one line per [`MailEvent`] variant, as
//! the firmware writes it (time, level word, message). Each line must read
//! back as the variant its `# <Variant>` label names and print back byte
//! for byte through the real line formatter; every variant must appear.

use tracing::Level;

use super::MailEvent;
use super::format::{EventText, format_line};
use crate::golden;

const GOLDEN: &str = "mail_logs.golden";

#[test]
fn every_mail_event_has_a_golden_line_that_reads_and_prints_back() {
    let text = std::fs::read_to_string(golden::path(GOLDEN)).expect("golden file");
    let mut out = String::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut label: Option<&str> = None;
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            if MailEvent::KINDS.contains(&comment) {
                label = Some(comment);
            }
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let expected = label
            .take()
            .unwrap_or_else(|| panic!("no label before {line:?}"));
        let time = line
            .get(..24)
            .and_then(breakwater_types::clock::parse_log_time)
            .unwrap_or_else(|| panic!("no time in {line:?}"));
        let (_, message) = line[24..].split_once(": ").expect("a level word");
        let event = MailEvent::parse(message)
            .unwrap_or_else(|| panic!("{expected}: {message:?} does not parse"));
        assert_eq!(event.kind(), expected, "{message:?}");
        assert_eq!(event.to_string(), message, "{expected} prints back");
        let level = if event.is_warning() {
            Level::WARN
        } else {
            Level::INFO
        };
        out.push_str(&format_line(
            time,
            level,
            &EventText::new(&event.to_string()),
        ));
        out.push('\n');
        seen.push(expected);
    }
    golden::check(GOLDEN, &out);
    for kind in MailEvent::KINDS {
        let n = seen.iter().filter(|k| *k == kind).count();
        assert_eq!(n, 1, "{kind} has {n} golden lines (want exactly one)");
    }
}

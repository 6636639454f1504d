//! Alerts the supervisor knows of but cannot send (it has no mail path):
//! the mail daemon crashed and was restarted, the box came back from a
//! watchdog reset or an unclean stop, an upgrade was confirmed or rolled
//! back. The supervisor appends a note to `alert-notes` in the data
//! directory; the mail daemon takes the notes at start and at each alert
//! check and sends them as alerts (`alertconfig`).
//!
//! One note a line: `<Severity> <Class> <summary>` (`Critical System The
//! mail daemon was killed by SIGSEGV; restarted`). The file is bounded
//! ([`MAX_NOTES`]): when the daemon cannot take them, the newest are kept.

use std::io;
use std::path::Path;

use breakwater_safe_fs::Dir;

pub const NOTES_FILE: &str = "alert-notes";
/// The name the daemon renames the file to before reading it, so a note
/// the supervisor appends meanwhile goes to a new file, not lost.
const TAKEN_FILE: &str = "alert-notes.taken";
/// Notes kept at most.
pub const MAX_NOTES: usize = 32;
/// Bytes read of the file at most.
const MAX_BYTES: u64 = 64 * 1024;

/// A note the daemon turns into an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertNote {
    /// `Critical`, `Warning` or `Information`.
    pub severity: String,
    /// `System`, `Hardware`, `Updater`...: one word.
    pub class: String,
    pub summary: String,
}

impl AlertNote {
    pub fn new(severity: &str, class: &str, summary: impl Into<String>) -> Self {
        Self {
            severity: severity.to_string(),
            class: class.to_string(),
            summary: summary.into(),
        }
    }

    fn line(&self) -> String {
        let summary: String = self
            .summary
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        format!("{} {} {summary}", self.severity, self.class)
    }

    fn parse(line: &str) -> Option<Self> {
        let mut words = line.splitn(3, ' ');
        let severity = words.next()?;
        let class = words.next()?;
        let summary = words.next()?.trim();
        (!summary.is_empty()).then(|| AlertNote::new(severity, class, summary))
    }
}

/// Appends `note` (the supervisor, through its descriptor on the data
/// directory).
pub fn append(data: &Dir, note: &AlertNote) -> io::Result<()> {
    let old = data.read_file(NOTES_FILE, MAX_BYTES)?.unwrap_or_default();
    let old = String::from_utf8_lossy(&old);
    let mut lines: Vec<String> = old.lines().map(str::to_string).collect();
    lines.push(note.line());
    let skip = lines.len().saturating_sub(MAX_NOTES);
    let text: String = lines[skip..].iter().map(|l| format!("{l}\n")).collect();
    data.write_file(NOTES_FILE, text.as_bytes(), 0o644)
}

/// Takes every note (the mail daemon, which owns the data directory).
pub fn take(data_dir: &Path) -> io::Result<Vec<AlertNote>> {
    let data = Dir::open(data_dir)?;
    match data.rename(NOTES_FILE, TAKEN_FILE) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let Some(bytes) = data.read_file(TAKEN_FILE, MAX_BYTES)? else {
        return Ok(Vec::new());
    };
    data.remove_file(TAKEN_FILE)?;
    Ok(String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(AlertNote::parse)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_appended_bounded_and_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let data = Dir::open(dir.path()).unwrap();
        assert!(take(dir.path()).unwrap().is_empty());
        for i in 0..MAX_NOTES + 3 {
            append(
                &data,
                &AlertNote::new("Critical", "System", format!("crash {i}\nforged line")),
            )
            .unwrap();
        }
        let notes = take(dir.path()).unwrap();
        assert_eq!(notes.len(), MAX_NOTES);
        assert_eq!(
            notes[0],
            AlertNote::new("Critical", "System", "crash 3 forged line")
        );
        assert!(take(dir.path()).unwrap().is_empty());
    }
}

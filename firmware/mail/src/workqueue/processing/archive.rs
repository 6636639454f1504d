//! `archive('name')`: appends the message to `<data-dir>/archive/<name>.mbox`
//! (mboxrd: a `From ` separator line, LF line ends, `>`-quoted `From `
//! lines). A file that would pass `max_file_bytes` is first rotated to
//! `<name>.mbox.<YYYYmmddTHHMMSS>`; beyond `max_files` rotated files the
//! oldest are deleted, so the archive takes at most
//! `(max_files + 1) * max_file_bytes` per name on flash.
//!
//! No fsync: an archive is a convenience copy, not a delivery promise.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::config::ArchiveSettings;

/// A file name from an archive name: letters, digits, `-`, `_`, `.`, no
/// leading dot (so `../x` cannot leave the archive directory).
pub(super) fn file_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    while s.starts_with('.') {
        s.replace_range(..1, "_");
    }
    if s.is_empty() {
        s.push_str("archive");
    }
    s
}

/// One message in mboxrd form.
pub(super) fn mbox_entry(sender: &str, message: &[u8]) -> Vec<u8> {
    let sender = if sender.is_empty() {
        "MAILER-DAEMON"
    } else {
        sender
    };
    let mut out = format!(
        "From {sender} {}\n",
        chrono::Utc::now().format("%a %b %e %H:%M:%S %Y")
    )
    .into_bytes();
    for line in message.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let unquoted = line.iter().position(|b| *b != b'>').unwrap_or(line.len());
        if line[unquoted..].starts_with(b"From ") {
            out.push(b'>');
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    if !out.ends_with(b"\n\n") {
        out.push(b'\n');
    }
    out
}

pub(super) fn append_in(
    dir: &Path,
    settings: &ArchiveSettings,
    name: &str,
    sender: &str,
    message: &[u8],
) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let base = format!("{}.mbox", file_name(name));
    let path = dir.join(&base);
    let entry = mbox_entry(sender, message);
    let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if size > 0 && size + entry.len() as u64 > settings.max_file_bytes {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f");
        fs::rename(&path, dir.join(format!("{base}.{stamp}")))?;
        let mut rotated: Vec<PathBuf> = fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{base}.")))
            })
            .collect();
        rotated.sort();
        let excess = rotated.len().saturating_sub(settings.max_files as usize);
        for old in &rotated[..excess] {
            fs::remove_file(old)?;
        }
    }
    let mut f = OpenOptions::new().create(true).append(true).open(&path)?;
    f.write_all(&entry)
}

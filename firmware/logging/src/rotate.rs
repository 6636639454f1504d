//! One size-capped log: `<prefix>.current` plus at most `max_files` rotated
//! predecessors (named as in `names`).
//!
//! Errors never propagate out of [`LogFile::write_line`]: logging must not
//! take mail flow down. The first failure of an outage goes to stderr; the
//! next good write re-arms the report.

use std::fs::File;
use std::io::{self, Write as _};
use std::path::PathBuf;

use chrono::NaiveDateTime;

use super::LogSettings;
use super::names::{list_rotated, next_rotated_name};
use breakwater_safe_fs::{Access, Dir};

/// Mail logs hold addresses and subjects: not world-readable.
const LOG_MODE: u32 = 0o640;

/// The supervisor writes the system log as root into a directory the mail
/// daemon's user owns: every file operation goes through `dir`'s
/// descriptor and never follows a link (see `supervisor::safe_fs`).
#[derive(Debug)]
pub(crate) struct LogFile {
    dir: Dir,
    prefix: &'static str,
    settings: LogSettings,
    /// `None` after a rotation or a failed open; the next write reopens.
    file: Option<File>,
    /// Bytes in `<prefix>.current`, tracked rather than stat'ed per line.
    size: u64,
    error_reported: bool,
}

impl LogFile {
    /// Opens (or creates) `<dir>/<prefix>.current` for appending.
    pub(crate) fn open(dir: Dir, prefix: &'static str, settings: LogSettings) -> io::Result<Self> {
        let mut log = Self {
            dir,
            prefix,
            settings,
            file: None,
            size: 0,
            error_reported: false,
        };
        log.file()?;
        Ok(log)
    }

    pub(crate) fn current_path(&self) -> PathBuf {
        self.dir.path().join(self.current_name())
    }

    fn current_name(&self) -> String {
        format!("{}.current", self.prefix)
    }

    /// New limits apply from the next write; a lowered `max_files` is
    /// enforced at once so shrinking the budget frees flash immediately.
    pub(crate) fn set_settings(&mut self, settings: LogSettings) {
        self.settings = settings;
        if let Err(e) = self.prune() {
            self.report("removing old rotated logs", &e);
        }
    }

    /// Appends `line` and a newline, rotating first if the line would push
    /// the current file past `max_file_bytes`. Lines are capped at
    /// [`super::MAX_LINE_BYTES`], far below the smallest file cap `logconfig`
    /// allows; a longer line would still be written, alone in its file.
    pub(crate) fn write_line(&mut self, line: &str, now: NaiveDateTime) {
        let len = line.len() as u64 + 1;
        if self.size > 0 && self.size.saturating_add(len) > self.settings.max_file_bytes {
            self.rotate(now);
        }
        match self.append(line) {
            Ok(()) => {
                self.size += len;
                self.error_reported = false;
            }
            Err(e) => {
                self.report("writing", &e);
                // Reopen next time: the file may have been removed or the
                // descriptor broken.
                self.file = None;
            }
        }
    }

    fn append(&mut self, line: &str) -> io::Result<()> {
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        // `File` is unbuffered: one write(2) per line puts it in the page
        // cache at once, where `tail -f` sees it whole. No fsync: a log line
        // is not worth a flash write cycle each, and a crash loses only what
        // the kernel had not written back.
        self.file()?.write_all(&buf)
    }

    fn file(&mut self) -> io::Result<&mut File> {
        let file = match self.file.take() {
            Some(file) => file,
            None => {
                let file = self.dir.open_regular(
                    &self.current_name(),
                    Access {
                        write: true,
                        append: true,
                        create: Some(LOG_MODE),
                        truncate: false,
                    },
                )?;
                self.size = file.metadata()?.len();
                file
            }
        };
        Ok(self.file.insert(file))
    }

    fn rotate(&mut self, now: NaiveDateTime) {
        self.file = None;
        let current = self.current_name();
        let renamed = next_rotated_name(&self.dir, self.prefix, now)
            .and_then(|to| self.dir.rename(&current, &to));
        match renamed {
            Ok(()) => {}
            // Someone removed it; the next write starts a fresh one anyway.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                self.report("rotating", &e);
                // Cannot rotate, so truncate: losing these lines is better
                // than a full flash, which would stop the queue as well.
                let truncate = Access {
                    write: true,
                    append: false,
                    create: Some(LOG_MODE),
                    truncate: true,
                };
                if let Err(e) = self.dir.open_regular(&current, truncate) {
                    self.report("truncating", &e);
                }
            }
        }
        if let Err(e) = self.prune() {
            self.report("removing old rotated logs", &e);
        }
    }

    /// Deletes the oldest rotated files until at most `max_files` remain.
    fn prune(&self) -> io::Result<()> {
        let mut rotated = list_rotated(&self.dir, self.prefix)?;
        let keep = usize::try_from(self.settings.max_files).unwrap_or(usize::MAX);
        let Some(excess) = rotated.len().checked_sub(keep).filter(|&n| n > 0) else {
            return Ok(());
        };
        rotated.sort_unstable();
        // Try every removal; report the first failure.
        let mut first_error = None;
        for (_, name) in &rotated[..excess] {
            if let Err(e) = self.dir.remove_file(name) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn report(&mut self, what: &str, e: &io::Error) {
        if !self.error_reported {
            self.error_reported = true;
            // Not `eprintln!`, which panics if stderr is gone.
            let _ = writeln!(
                io::stderr(),
                "breakwater: {} log in {}: {what} failed: {e} \
                 (further errors hidden until a write succeeds)",
                self.prefix,
                self.dir.path().display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use std::fs;
    use std::path::Path;

    fn at(h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 24)
            .and_then(|d| d.and_hms_opt(h, m, s))
            .unwrap()
    }

    fn rotated_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != "mail.current")
            .collect();
        names.sort();
        names
    }

    #[test]
    fn rotates_at_the_cap_and_keeps_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let settings = LogSettings {
            max_file_bytes: 100,
            max_files: 3,
        };
        let mut log = LogFile::open(Dir::open(dir.path()).unwrap(), "mail", settings).unwrap();
        let line = "x".repeat(39); // 40 bytes with the newline: two fit in 100.
        for i in 0..12 {
            log.write_line(&line, at(1, 6, 30 + i));
        }
        // Twelve lines, two per file: five rotations, the newest three kept.
        assert_eq!(
            rotated_names(dir.path()),
            [
                "mail.@20261124T010636.s",
                "mail.@20261124T010638.s",
                "mail.@20261124T010640.s",
            ]
        );
        let current = fs::read_to_string(log.current_path()).unwrap();
        assert_eq!(current, format!("{line}\n{line}\n"));
        for name in rotated_names(dir.path()) {
            assert!(fs::metadata(dir.path().join(name)).unwrap().len() <= 100);
        }
    }

    #[test]
    fn same_second_rotations_get_numbered_and_oldest_go_first() {
        let dir = tempfile::tempdir().unwrap();
        let settings = LogSettings {
            max_file_bytes: 10,
            max_files: 3,
        };
        let mut log = LogFile::open(Dir::open(dir.path()).unwrap(), "mail", settings).unwrap();
        for i in 0..6 {
            log.write_line(&format!("line {i}"), at(1, 6, 39));
        }
        // Rotated: .s (line 0), .1.s, .2.s, .3.s, .4.s (line 4); keep the
        // last 3. Pruning frees `.s`, but reusing it would make the newest
        // file sort oldest.
        assert_eq!(
            rotated_names(dir.path()),
            [
                "mail.@20261124T010639.2.s",
                "mail.@20261124T010639.3.s",
                "mail.@20261124T010639.4.s",
            ]
        );
        let newest = dir.path().join("mail.@20261124T010639.4.s");
        assert_eq!(fs::read_to_string(newest).unwrap(), "line 4\n");
    }

    #[test]
    fn resumes_size_of_an_existing_file_and_ignores_foreign_names() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("mail.current"), "x".repeat(95)).unwrap();
        fs::write(dir.path().join("mail.@notatime.s"), "").unwrap();
        fs::write(dir.path().join("system.@20261124T010639.s"), "").unwrap();
        let settings = LogSettings {
            max_file_bytes: 100,
            max_files: 0,
        };
        let mut log = LogFile::open(Dir::open(dir.path()).unwrap(), "mail", settings).unwrap();
        log.write_line("0123456789", at(1, 6, 39));
        assert_eq!(
            rotated_names(dir.path()),
            ["mail.@notatime.s", "system.@20261124T010639.s"]
        );
        assert_eq!(
            fs::read_to_string(log.current_path()).unwrap(),
            "0123456789\n"
        );
    }

    #[test]
    fn lowering_max_files_prunes_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = LogSettings {
            max_file_bytes: 1,
            max_files: 10,
        };
        let mut log = LogFile::open(Dir::open(dir.path()).unwrap(), "mail", settings).unwrap();
        for i in 0..5 {
            log.write_line("l", at(2, 0, i));
        }
        assert_eq!(rotated_names(dir.path()).len(), 4);
        settings.max_files = 1;
        log.set_settings(settings);
        assert_eq!(rotated_names(dir.path()), ["mail.@20261124T020004.s"]);
    }
}

//! The bounded buffer on flash between a log and one syslog host.
//!
//! `<name>.spool` holds RFC 5424 messages, one a line, appended as the log
//! writes them; `<name>.pos` the offset of the first message not yet
//! handed whole to the host's socket. Both survive a restart, so what was
//! not sent before a reboot is sent after it.
//!
//! **Bounded:** unsent bytes never exceed `max_bytes`. When an append
//! would pass it, the oldest unsent messages are dropped (down to 90 % of
//! the cap, so a full spool does not drop on every line) and counted; the
//! caller ships a "N lines dropped" notice in their place.
//!
//! **Compaction:** sent bytes are removed by rewriting the unsent tail to a
//! new file once they pass half the cap (or the whole file is sent),
//! keeping [`RESEND_WINDOW`] bytes before the position so a rewind after a
//! broken connection still finds them.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

/// Bytes before the send position kept for a rewind: what may sit in the
/// kernel's send buffer and the receiver's receive buffer when a TCP peer
/// dies (Linux default buffers are a few hundred KiB at most on this board).
pub const RESEND_WINDOW: u64 = 512 * 1024;

#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    pos_path: PathBuf,
    file: File,
    /// Length of the spool file.
    len: u64,
    /// First byte not yet sent.
    pos: u64,
    max_bytes: u64,
}

impl Spool {
    /// Opens (or creates) `<dir>/<name>.spool`, resuming at its saved position.
    pub fn open(dir: &Path, name: &str, max_bytes: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let path = dir.join(format!("{name}.spool"));
        let pos_path = dir.join(format!("{name}.pos"));
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let len = file.metadata()?.len();
        let pos = fs::read_to_string(&pos_path)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)
            .min(len);
        let mut spool = Self {
            path,
            pos_path,
            file,
            len,
            pos,
            max_bytes,
        };
        // A position saved mid-line (a torn write) resumes at the next line.
        spool.pos = spool.line_start_at_or_after(pos)?;
        Ok(spool)
    }

    /// Unsent bytes.
    pub fn pending(&self) -> u64 {
        self.len - self.pos
    }

    /// Appends one message; returns how many older unsent messages were
    /// dropped to keep the spool within its cap.
    pub fn append(&mut self, msg: &str) -> io::Result<u64> {
        let mut buf = Vec::with_capacity(msg.len() + 1);
        buf.extend_from_slice(msg.as_bytes());
        buf.push(b'\n');
        let mut dropped = 0;
        if self.pending() + buf.len() as u64 > self.max_bytes {
            dropped = self.drop_oldest(self.max_bytes / 10 * 9)?;
        }
        self.file.write_all(&buf)?;
        self.len += buf.len() as u64;
        Ok(dropped)
    }

    /// Skips unsent messages from the front until at most `keep` bytes are
    /// unsent; returns how many.
    fn drop_oldest(&mut self, keep: u64) -> io::Result<u64> {
        let target = self.len.saturating_sub(keep);
        let new_pos = self.line_start_at_or_after(target)?;
        let skipped = self.read_range(self.pos, new_pos)?;
        let count = skipped.iter().filter(|&&b| b == b'\n').count() as u64;
        self.pos = new_pos;
        Ok(count)
    }

    /// Up to `max` bytes of whole unsent messages (at least one whole
    /// message if any), and the position after them.
    pub fn peek(&self, max: u64) -> io::Result<(Vec<String>, u64)> {
        let end = self.len.min(self.pos.saturating_add(max.max(1)));
        let mut bytes = self.read_range(self.pos, end)?;
        let whole = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            // One message longer than `max`: read to its end.
            None => {
                let next = self.line_start_at_or_after(end)?;
                bytes = self.read_range(self.pos, next)?;
                bytes.len()
            }
        };
        bytes.truncate(whole);
        let msgs = String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect();
        Ok((msgs, self.pos + whole as u64))
    }

    /// Marks everything before `pos` sent and compacts when worthwhile.
    pub fn advance(&mut self, pos: u64) -> io::Result<()> {
        self.pos = pos.min(self.len);
        if self.pos > self.max_bytes / 2 + RESEND_WINDOW
            || (self.pos == self.len && self.len > RESEND_WINDOW * 2)
        {
            self.compact()?;
        }
        Ok(())
    }

    /// Moves the send position back by up to `bytes` (to a line start, not
    /// before `floor`): after a broken TCP connection, what the kernel had
    /// accepted but the receiver may never have read is sent again.
    pub fn rewind(&mut self, bytes: u64, floor: u64) -> io::Result<()> {
        let target = self.pos.saturating_sub(bytes.min(RESEND_WINDOW)).max(floor);
        if target < self.pos {
            self.pos = self.line_start_at_or_after(target)?;
        }
        Ok(())
    }

    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Saves the send position (a small file; called at most about once a
    /// second, so flash is not written per message).
    pub fn save_position(&self) -> io::Result<()> {
        let tmp = self.pos_path.with_extension("pos.tmp");
        fs::write(&tmp, self.pos.to_string())?;
        fs::rename(&tmp, &self.pos_path)
    }

    fn compact(&mut self) -> io::Result<()> {
        let keep_from = self.line_start_at_or_after(self.pos.saturating_sub(RESEND_WINDOW))?;
        let tail = self.read_range(keep_from, self.len)?;
        let tmp = self.path.with_extension("spool.tmp");
        fs::write(&tmp, &tail)?;
        fs::rename(&tmp, &self.path)?;
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)?;
        self.len = tail.len() as u64;
        self.pos -= keep_from;
        self.save_position()
    }

    fn read_range(&self, from: u64, to: u64) -> io::Result<Vec<u8>> {
        let mut f = &self.file;
        f.seek(SeekFrom::Start(from))?;
        let mut buf = Vec::with_capacity(usize::try_from(to.saturating_sub(from)).unwrap_or(0));
        f.take(to.saturating_sub(from)).read_to_end(&mut buf)?;
        Ok(buf)
    }

    /// The first line start at or after `at` (`len` if none).
    fn line_start_at_or_after(&self, at: u64) -> io::Result<u64> {
        if at == 0 || at >= self.len {
            return Ok(at.min(self.len));
        }
        let mut from = at - 1;
        loop {
            let to = self.len.min(from + 64 * 1024);
            let chunk = self.read_range(from, to)?;
            if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
                return Ok(from + i as u64 + 1);
            }
            if to == self.len {
                return Ok(self.len);
            }
            from = to;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_a_reopen_and_are_sent_once_advanced() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), "t", 1 << 20).unwrap();
        for i in 0..3 {
            assert_eq!(s.append(&format!("m{i}")).unwrap(), 0);
        }
        let (msgs, end) = s.peek(4).unwrap();
        assert_eq!(msgs, ["m0"]);
        s.advance(end).unwrap();
        s.save_position().unwrap();
        drop(s);
        let s = Spool::open(dir.path(), "t", 1 << 20).unwrap();
        let (msgs, _) = s.peek(1000).unwrap();
        assert_eq!(msgs, ["m1", "m2"]);
    }

    #[test]
    fn a_full_spool_drops_the_oldest_and_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), "t", 100).unwrap();
        let mut dropped = 0;
        for i in 0..30 {
            dropped += s.append(&format!("line{i:03}")).unwrap();
        }
        assert!(s.pending() <= 100);
        let (msgs, _) = s.peek(1000).unwrap();
        assert_eq!(dropped + msgs.len() as u64, 30);
        assert_eq!(msgs.last().unwrap(), "line029");
    }

    #[test]
    fn rewind_resends_whole_lines_and_compaction_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), "t", 4 * RESEND_WINDOW).unwrap();
        let line = "x".repeat(1000);
        for _ in 0..2000 {
            s.append(&line).unwrap();
        }
        let (_, end) = s.peek(u64::MAX).unwrap();
        s.advance(end).unwrap(); // compacts: everything sent
        assert_eq!(s.pending(), 0);
        s.rewind(5500, 0).unwrap();
        let (msgs, _) = s.peek(u64::MAX).unwrap();
        assert_eq!(msgs.len(), 5, "whole lines only");
        assert!(msgs.iter().all(|m| *m == line));
    }
}

//! Measurement helpers shared by the host-side benchmarks in `src/bin/`:
//! how much disk a data directory takes, and how many bytes a run wrote.
//!
//! Exposure: host-side only, never shipped in the appliance.

pub mod smtp_wire;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::Result;

/// Apparent size (sum of lengths) and allocated size (`du`) of a tree.
#[derive(Clone, Copy, Default)]
pub struct DiskUse(pub u64, pub u64);

impl DiskUse {
    pub fn measure(path: &Path) -> Result<Self> {
        let mut total = DiskUse::default();
        for entry in fs::read_dir(path)? {
            let entry = entry?;
            // Entries vanish under a running consumer: skip them.
            let Ok(meta) = entry.metadata() else { continue };
            let sub = if meta.is_dir() {
                Self::measure(&entry.path())?
            } else {
                DiskUse(meta.len(), 0)
            };
            total = DiskUse(total.0 + sub.0, total.1 + sub.1 + meta.blocks() * 512);
        }
        Ok(total)
    }

    pub fn max(self, other: Self) -> Self {
        DiskUse(self.0.max(other.0), self.1.max(other.1))
    }
}

impl std::fmt::Display for DiskUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} / {:.1}", mib(self.0), mib(self.1))
    }
}

/// Bytes written so far: by this process (`/proc/self/io`, page cache
/// writeback it caused, less what it truncated or unlinked before writeback;
/// not the filesystem journal), and by everyone to the block device that
/// holds `dir` (includes the journal, and any other load on the machine).
pub fn written(dir: &Path) -> Result<(u64, u64)> {
    let io = fs::read_to_string("/proc/self/io")?;
    let field = |name: &str| {
        let line = io.lines().find_map(|l| l.strip_prefix(name));
        line.and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0)
    };
    let process = field("write_bytes:").saturating_sub(field("cancelled_write_bytes:"));
    let dev = fs::metadata(dir)?.dev();
    // glibc's gnu_dev_major / gnu_dev_minor.
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & 0xffff_f000);
    let minor = (dev & 0xff) | ((dev >> 12) & 0xffff_ff00);
    let stat =
        fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/stat")).unwrap_or_default();
    let sectors = stat
        .split_whitespace()
        .nth(6)
        .and_then(|v| v.parse::<u64>().ok());
    Ok((process, sectors.unwrap_or(0) * 512))
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

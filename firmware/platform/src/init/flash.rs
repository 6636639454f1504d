//! The data partition ("flash"): found by its ext4 label, mounted at
//! `/data`; and the boot partition (the ESP with slots A and B), found by
//! its GPT partition name and mounted at `/boot`.
//!
//! The partitions are those the kernel lists under `/sys/class/block`
//! (entries with a `partition` file), read through their device nodes in
//! `/dev` once devtmpfs is mounted. An ext4 superblock starts at byte
//! 1024: the magic `0xEF53` (little-endian) is at byte 1080 and the
//! 16-byte volume label at 1144..1160. There is no fsck in the image: ext4
//! replays its journal at mount, and a partition that does not mount is
//! reported on the console and left alone — nothing is formatted or
//! created in its place.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use breakwater_board::FlashPartition;

/// Offset of the ext4 magic number.
pub const EXT4_MAGIC_OFFSET: u64 = 1080;
pub const EXT4_MAGIC: u16 = 0xEF53;
/// Offset and length of the ext4 volume label (`s_volume_name`).
pub const EXT4_LABEL_OFFSET: u64 = 1144;
pub const EXT4_LABEL_LEN: usize = 16;

/// The label of an ext4 file system in `path` (a device or an image
/// file); `Ok(None)` when it is not ext4.
pub fn ext4_label(path: &Path) -> std::io::Result<Option<String>> {
    let mut f = std::fs::File::open(path)?;
    let mut magic = [0u8; 2];
    f.seek(SeekFrom::Start(EXT4_MAGIC_OFFSET))?;
    if f.read_exact(&mut magic).is_err() || u16::from_le_bytes(magic) != EXT4_MAGIC {
        return Ok(None);
    }
    let mut label = [0u8; EXT4_LABEL_LEN];
    f.seek(SeekFrom::Start(EXT4_LABEL_OFFSET))?;
    f.read_exact(&mut label)?;
    let end = label.iter().position(|b| *b == 0).unwrap_or(EXT4_LABEL_LEN);
    Ok(Some(String::from_utf8_lossy(&label[..end]).into_owned()))
}

/// The partitions the kernel sees (`sda1`, `vda2`, `mmcblk0p2`), sorted.
pub fn partitions(sys: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(sys.join("class/block"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("partition").exists())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// What the search saw, for the console.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Search {
    /// The device holding the label, if any.
    pub found: Option<PathBuf>,
    /// Every partition looked at, with its ext4 label (or why not).
    pub seen: Vec<(String, String)>,
}

/// Finds the ext4 file system labelled `part.label` among the partitions
/// (device nodes under `dev`), then among the profile's fall-back
/// `devices` (which must hold ext4 too).
pub fn find(sys: &Path, dev: &Path, part: &FlashPartition) -> Search {
    let mut search = Search::default();
    for name in partitions(sys) {
        let node = dev.join(&name);
        let what = match ext4_label(&node) {
            Ok(Some(label)) if label == part.label => {
                search.found.get_or_insert(node.clone());
                format!("ext4 \"{label}\"")
            }
            Ok(Some(label)) => format!("ext4 \"{label}\""),
            Ok(None) => "not ext4".to_string(),
            Err(e) => format!("unreadable: {e}"),
        };
        search.seen.push((name, what));
    }
    if search.found.is_none() {
        search.found = part
            .devices
            .iter()
            .map(PathBuf::from)
            .find(|p| matches!(ext4_label(p), Ok(Some(_))));
    }
    search
}

/// The profile's data partition (role `data`).
pub fn data_partition(flash: &[FlashPartition]) -> Option<&FlashPartition> {
    flash.iter().find(|p| p.role == "data")
}

/// The profile's boot partition (role `boot`: the ESP with slots A and B).
pub fn boot_partition(flash: &[FlashPartition]) -> Option<&FlashPartition> {
    flash.iter().find(|p| p.role == "boot")
}

/// The partition whose GPT partition name is `part.label` (the kernel
/// reports it as `PARTNAME=` in the partition's `uevent`), else the first
/// of the profile's fall-back `devices` that exists.
pub fn find_by_partname(sys: &Path, dev: &Path, part: &FlashPartition) -> Option<PathBuf> {
    let wanted = format!("PARTNAME={}", part.label);
    partitions(sys)
        .into_iter()
        .find(|name| {
            std::fs::read_to_string(sys.join("class/block").join(name).join("uevent"))
                .is_ok_and(|u| u.lines().any(|l| l.trim() == wanted))
        })
        .map(|name| dev.join(name))
        .or_else(|| part.devices.iter().map(PathBuf::from).find(|p| p.exists()))
}

/// Mounts the device at `target` (the mount point is created if missing;
/// nothing on the device is).
pub fn mount(device: &Path, target: &Path, fs: &str) -> Result<(), String> {
    mount_with(device, target, fs, None)
}

/// [`mount`] with file-system options (`uid=100,gid=100,...` for vfat).
pub fn mount_with(
    device: &Path,
    target: &Path,
    fs: &str,
    options: Option<&str>,
) -> Result<(), String> {
    use nix::mount::MsFlags;
    std::fs::create_dir_all(target)
        .map_err(|e| format!("cannot create the mount point {}: {e}", target.display()))?;
    nix::mount::mount(
        Some(device),
        target,
        Some(fs),
        MsFlags::MS_NOATIME | MsFlags::MS_NODEV | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        options,
    )
    .map_err(|e| {
        let hint = if e == nix::errno::Errno::ENOENT && fs == "ext4" {
            " (crc32c driver missing? load crc32c_generic before ext4)"
        } else {
            ""
        };
        format!(
            "cannot mount {} on {} as {fs}: {e}{hint}",
            device.display(),
            target.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkfs(path: &Path, label: &str) -> bool {
        let out = std::process::Command::new("mkfs.ext4")
            .args(["-q", "-L", label, "-F"])
            .arg(path)
            .arg("8M")
            .output();
        match out {
            Ok(o) if o.status.success() => true,
            Ok(o) => panic!("mkfs.ext4 failed: {}", String::from_utf8_lossy(&o.stderr)),
            Err(_) => {
                eprintln!("SKIPPED: mkfs.ext4 is not installed (apt-get install e2fsprogs)");
                false
            }
        }
    }

    fn part(label: &str, devices: Vec<String>) -> FlashPartition {
        FlashPartition {
            label: label.into(),
            mount: Some("/data".into()),
            fs: "ext4".into(),
            role: "data".into(),
            devices,
        }
    }

    #[test]
    fn reads_the_label_of_a_fresh_ext4_image() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("flash.img");
        if !mkfs(&img, "flash") {
            return;
        }
        assert_eq!(ext4_label(&img).unwrap().as_deref(), Some("flash"));
        let zeros = dir.path().join("zeros.img");
        std::fs::write(&zeros, vec![0u8; 4096]).unwrap();
        assert_eq!(ext4_label(&zeros).unwrap(), None);
        let short = dir.path().join("short.img");
        std::fs::write(&short, b"tiny").unwrap();
        assert_eq!(ext4_label(&short).unwrap(), None);
    }

    #[test]
    fn finds_the_labelled_partition_among_several() {
        let dir = tempfile::tempdir().unwrap();
        let (sys, dev) = (dir.path().join("sys"), dir.path().join("dev"));
        std::fs::create_dir_all(&dev).unwrap();
        for (name, is_part) in [
            ("vda", false),
            ("vda1", true),
            ("vda2", true),
            ("vdb1", true),
        ] {
            let d = sys.join("class/block").join(name);
            std::fs::create_dir_all(&d).unwrap();
            if is_part {
                std::fs::write(d.join("partition"), "1\n").unwrap();
            }
        }
        std::fs::write(dev.join("vda1"), vec![0u8; 4096]).unwrap();
        if !mkfs(&dev.join("vda2"), "BW-DATA") || !mkfs(&dev.join("vdb1"), "other") {
            return;
        }
        assert_eq!(partitions(&sys), ["vda1", "vda2", "vdb1"]);
        let s = find(&sys, &dev, &part("BW-DATA", vec![]));
        assert_eq!(s.found, Some(dev.join("vda2")));
        assert_eq!(
            s.seen,
            [
                ("vda1".to_string(), "not ext4".to_string()),
                ("vda2".to_string(), "ext4 \"BW-DATA\"".to_string()),
                ("vdb1".to_string(), "ext4 \"other\"".to_string()),
            ]
        );
        // No label matches: the profile's devices, if they hold ext4.
        let fallback = vec![
            dev.join("vda1").display().to_string(),
            dev.join("vdb1").display().to_string(),
        ];
        let s = find(&sys, &dev, &part("NOPE", fallback));
        assert_eq!(s.found, Some(dev.join("vdb1")));
        assert_eq!(find(&sys, &dev, &part("NOPE", vec![])).found, None);
    }

    #[test]
    fn the_profiles_name_one_data_partition() {
        let vesa = breakwater_board::BoardProfile::builtin("vesa").unwrap();
        let p = data_partition(&vesa.flash).unwrap();
        assert_eq!((p.label.as_str(), p.fs.as_str()), ("BW-DATA", "ext4"));
        assert_eq!(p.mount.as_deref(), Some("/data"));
    }
}

//! The flasher, `tools/flash` (the real script), on a small synthetic GPT
//! raw image made here with `sfdisk` (no appliance image needed): written
//! to a file (sparse, verified), declined at the prompt, refused for a
//! non-GPT image, for a target smaller than the image and for the disk that
//! holds the host's root file system; written to a loop device when
//! `losetup` works here (otherwise those tests say so and pass).
//!
//! The root-disk test can never write to the real disk: the script runs as
//! `nobody` (setpriv, no groups, no capabilities), which cannot open the
//! disk for writing, and a separate test checks in the script's source that
//! every refusal comes before the only place that opens the target for
//! writing.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const MIB: u64 = 1 << 20;
/// The synthetic image: 24 MiB, GPT, two partitions.
const IMAGE_MIB: u64 = 24;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/flash")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn show(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `prefix... tools/flash args...` with `stdin` as standard input.
fn run_with(prefix: &[&str], args: &[&str], stdin: &str) -> Run {
    let mut cmd = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(script());
            c
        }
        None => Command::new(script()),
    };
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tools/flash");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .ok();
    let out = child.wait_with_output().expect("tools/flash output");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn flash(args: &[&str], stdin: &str) -> Run {
    run_with(&[], args, stdin)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Deterministic non-zero-ish bytes (xorshift), so content checks mean
/// something.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn write_at(path: &Path, offset: u64, data: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open for write_at");
    f.write_all_at(data, offset).expect("write_at");
}

fn sfdisk(path: &Path, layout: &str) {
    let mut child = Command::new("sfdisk")
        .args(["--quiet", "--no-reread", "--no-tell-kernel"])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("sfdisk (package fdisk) must be installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(layout.as_bytes())
        .expect("sfdisk script");
    assert!(child.wait().expect("sfdisk").success(), "sfdisk failed");
}

/// A sparse 24 MiB file with a GPT (an "ESP" at 1 MiB, a "data" partition
/// after it) and non-zero content at a few offsets, including a block that
/// straddles a 4 MiB boundary and a short run near the end.
fn make_image(dir: &Path, name: &str, label: &str) -> PathBuf {
    let path = dir.join(name);
    fs::File::create(&path)
        .expect("image")
        .set_len(IMAGE_MIB * MIB)
        .expect("size the image");
    let layout = if label == "gpt" {
        "label: gpt\nunit: sectors\nstart=2048, size=16384, type=uefi, name=BW-BOOT\nstart=18432, type=linux, name=BW-DATA\n"
    } else {
        "label: dos\nunit: sectors\nstart=2048, size=16384, type=c\nstart=18432, type=83\n"
    };
    sfdisk(&path, layout);
    write_at(&path, MIB, &pattern(64 * 1024, 1));
    write_at(&path, 9 * MIB + 1080, &pattern(4096, 2));
    write_at(&path, 8 * MIB - 100, &pattern(300, 3));
    write_at(&path, 20 * MIB + 7, &pattern(513, 4));
    path
}

fn tempdir() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    // Readable by `nobody` too (the root-disk test runs the script as it).
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).expect("chmod tempdir");
    d
}

fn am_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        .unwrap_or(false)
}

#[test]
fn a_gpt_image_goes_to_a_file_sparse_and_verified() {
    let dir = tempdir();
    let image = make_image(dir.path(), "image.raw", "gpt");
    let want = fs::read(&image).expect("read image");

    // A new file.
    let target = dir.path().join("new.raw");
    let r = flash(&["--image", s(&image), "--yes", s(&target)], "");
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(
        fs::read(&target).expect("target") == want,
        "target differs from the image\n{}",
        r.show()
    );
    let md = fs::metadata(&target).expect("stat target");
    assert_eq!(md.len(), IMAGE_MIB * MIB);
    assert!(
        md.blocks() * 512 < md.len(),
        "the target must stay sparse: {} bytes allocated of {}",
        md.blocks() * 512,
        md.len()
    );
    let image_blocks = fs::metadata(&image).expect("stat image").blocks();
    assert!(
        md.blocks() <= image_blocks + 4096,
        "about as sparse as the image: {} blocks allocated, the image {image_blocks}",
        md.blocks()
    );
    assert!(r.stdout.contains("Verified"), "{}", r.show());
    assert!(
        r.stderr.contains("verify ["),
        "the read-back has its own bar\n{}",
        r.show()
    );
    let hashes: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.contains(" sha256 "))
        .map(|l| l.rsplit(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(hashes.len(), 2, "both hashes are printed\n{}", r.show());
    assert_eq!(hashes[0], hashes[1], "{}", r.show());
    assert!(
        r.stderr.contains("100.0%"),
        "a progress bar on stderr\n{}",
        r.show()
    );
    assert!(r.stderr.contains("MiB/s"), "{}", r.show());

    // An existing, larger file full of old data: nothing of it may survive
    // in the zero blocks that are skipped to keep the file sparse.
    let old = dir.path().join("old.raw");
    fs::write(&old, vec![0xAAu8; (32 * MIB) as usize]).expect("old target");
    let r = flash(&["--image", s(&image), "--yes", s(&old)], "");
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(
        r.stdout.contains("regular file"),
        "the target is described\n{}",
        r.show()
    );
    assert!(
        fs::read(&old).expect("target") == want,
        "old data survived\n{}",
        r.show()
    );
    let md = fs::metadata(&old).expect("stat target");
    assert!(md.blocks() * 512 < md.len(), "sparse after overwriting too");

    // --no-verify: written, not read back.
    let nv = dir.path().join("noverify.raw");
    let r = flash(&["--image", s(&image), "--yes", "--no-verify", s(&nv)], "");
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(fs::read(&nv).expect("target") == want);
    assert!(!r.stdout.contains("target sha256"), "{}", r.show());
}

#[test]
fn declining_at_the_prompt_writes_nothing() {
    let dir = tempdir();
    let image = make_image(dir.path(), "image.raw", "gpt");

    let existing = dir.path().join("existing.raw");
    fs::write(&existing, b"old contents").expect("target");
    for answer in ["no\n", "y\n", "YES please\n", ""] {
        let r = flash(&["--image", s(&image), s(&existing)], answer);
        assert_eq!(r.code, 1, "answer {answer:?}\n{}", r.show());
        assert!(
            r.stderr.contains("Type \"yes\" to overwrite"),
            "{}",
            r.show()
        );
        assert_eq!(
            fs::read(&existing).expect("target"),
            b"old contents",
            "answer {answer:?}"
        );
    }

    let missing = dir.path().join("missing.raw");
    let r = flash(&["--image", s(&image), s(&missing)], "no\n");
    assert_eq!(r.code, 1, "{}", r.show());
    assert!(
        !missing.exists(),
        "declined: the target must not be created"
    );

    // "yes" writes.
    let r = flash(&["--image", s(&image), s(&existing)], "yes\n");
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(fs::read(&existing).expect("target") == fs::read(&image).expect("image"));
}

#[test]
fn a_non_gpt_or_missing_image_is_refused() {
    let dir = tempdir();
    let mbr = make_image(dir.path(), "mbr.raw", "dos");
    let target = dir.path().join("target.raw");
    for force in [false, true] {
        let mut args = vec!["--image", s(&mbr), "--yes"];
        if force {
            args.push("--force");
        }
        args.push(s(&target));
        let r = flash(&args, "");
        assert_eq!(r.code, 2, "{}", r.show());
        assert!(r.stderr.contains("not a GPT raw image"), "{}", r.show());
        assert!(!target.exists(), "nothing may be written");
    }
    let nothing = dir.path().join("no-such-image.raw");
    let r = flash(&["--image", s(&nothing), "--yes", s(&target)], "");
    assert_eq!(r.code, 2, "{}", r.show());
    assert!(r.stderr.contains("does not exist"), "{}", r.show());
    assert!(!target.exists());

    // Neither may the image overwrite itself, nor a path under /dev that
    // is not a device (a typo) become a file.
    let image = make_image(dir.path(), "image.raw", "gpt");
    let before = fs::read(&image).expect("image");
    let r = flash(&["--image", s(&image), "--yes", "--force", s(&image)], "");
    assert_eq!(r.code, 2, "{}", r.show());
    assert!(r.stderr.contains("the image itself"), "{}", r.show());
    assert!(fs::read(&image).expect("image") == before);
    let typo = "/dev/breakwater-flasher-test-no-such-disk";
    let r = flash(&["--image", s(&image), "--yes", "--force", typo], "");
    assert_eq!(r.code, 2, "{}", r.show());
    assert!(r.stderr.contains("not a block device"), "{}", r.show());
    assert!(!Path::new(typo).exists(), "a file was created in /dev");
}

// --- the root disk --------------------------------------------------------

/// The whole disk (or dm/md device) that holds `/`, found as the script
/// does: mountinfo's major:minor of `/` (or its source when that is a
/// device node), `/sys/dev/block/M:m`, its parent when it is a partition.
fn root_disk() -> Result<PathBuf, String> {
    let info = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    let line = info
        .lines()
        .rfind(|l| l.split_whitespace().nth(4) == Some("/"))
        .ok_or("no / in /proc/self/mountinfo")?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let mut majmin = fields[2].to_string();
    if majmin.starts_with("0:") {
        let source = line
            .split(" - ")
            .nth(1)
            .and_then(|r| r.split_whitespace().nth(1))
            .unwrap_or("");
        let md = fs::metadata(source)
            .map_err(|_| format!("/ is on {majmin} from {source:?}, not a block device"))?;
        if !md.file_type().is_block_device() {
            return Err(format!("/ is mounted from {source:?}, not a block device"));
        }
        let rdev = md.rdev();
        // glibc's encoding of dev_t.
        let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
        let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
        majmin = format!("{major}:{minor}");
    }
    let node = fs::canonicalize(format!("/sys/dev/block/{majmin}"))
        .map_err(|e| format!("/sys/dev/block/{majmin}: {e}"))?;
    let disk = if node.join("partition").exists() {
        node.parent()
            .ok_or("partition without a parent")?
            .to_path_buf()
    } else {
        node
    };
    let name = disk
        .file_name()
        .ok_or("no device name")?
        .to_string_lossy()
        .into_owned();
    let dev = PathBuf::from(format!("/dev/{name}"));
    match fs::metadata(&dev) {
        Ok(md) if md.file_type().is_block_device() => Ok(dev),
        _ => Err(format!("{} is not a block device node here", dev.display())),
    }
}

#[test]
fn the_root_disk_is_refused_even_with_yes() {
    let dev = match root_disk() {
        Ok(d) => d,
        Err(why) => {
            eprintln!(
                "SKIPPED the_root_disk_is_refused_even_with_yes: cannot find the root disk as a block device ({why})"
            );
            return;
        }
    };
    // Never able to write the real disk: as root, run the script as
    // nobody (no groups, hence no capabilities), and check first that
    // nobody cannot write the device; as another user, only when that user
    // cannot write it either.
    let nobody: &[&str] = &[
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
    ];
    let prefix: &[&str] = if am_root() { nobody } else { &[] };
    let mut probe = Command::new("sh");
    if am_root() {
        probe = Command::new(nobody[0]);
        probe.args(&nobody[1..]).arg("sh");
    }
    let writable = probe
        .arg("-c")
        .arg("test -w \"$1\"")
        .arg("sh")
        .arg(&dev)
        .status();
    match writable {
        Ok(st) if st.code() == Some(1) => {}
        other => {
            eprintln!(
                "SKIPPED the_root_disk_is_refused_even_with_yes: cannot run the script as a user \
                 that is unable to write {} ({other:?}); not risking the real disk",
                dev.display()
            );
            return;
        }
    }
    let dir = tempdir();
    let image = make_image(dir.path(), "image.raw", "gpt");
    fs::set_permissions(&image, fs::Permissions::from_mode(0o644)).expect("chmod image");
    let probe = run_with(prefix, &["--help"], "");
    if probe.code != 0 {
        eprintln!(
            "SKIPPED the_root_disk_is_refused_even_with_yes: the script does not run as that user\n{}",
            probe.show()
        );
        return;
    }

    let r = run_with(prefix, &["--image", s(&image), "--yes", s(&dev)], "");
    assert_eq!(r.code, 2, "the root disk must be refused\n{}", r.show());
    assert!(r.stderr.contains("root file system"), "{}", r.show());
    assert!(r.stderr.contains("mounted on /"), "{}", r.show());
    assert!(
        r.stderr.contains("--force"),
        "the refusal names --force\n{}",
        r.show()
    );
    assert!(
        !r.stderr.contains("write  ["),
        "no progress bar: nothing written\n{}",
        r.show()
    );
    assert!(!r.stdout.contains("Wrote"), "{}", r.show());
    assert!(
        r.stdout.contains("block device"),
        "the target is described\n{}",
        r.show()
    );
}

/// The body of `def NAME(` in the script, up to the next top-level `def`.
fn py_function<'a>(src: &'a str, name: &str) -> &'a str {
    let start = src
        .find(&format!("\ndef {name}("))
        .unwrap_or_else(|| panic!("tools/flash has no function {name}"));
    let rest = &src[start + 1..];
    let end = rest[1..].find("\ndef ").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

#[test]
fn refusals_come_before_the_target_is_opened_for_writing() {
    let src = fs::read_to_string(script()).expect("read tools/flash");
    let opener = py_function(&src, "open_for_writing");
    // The only code that can open anything for writing is open_for_writing.
    for needle in [
        "O_WRONLY", "O_RDWR", "\"wb\"", "\"r+b\"", "\"ab\"", "\"w\"", "'w'", "'wb'",
    ] {
        let everywhere = src.matches(needle).count();
        let inside = opener.matches(needle).count();
        assert_eq!(
            everywhere, inside,
            "{needle} appears outside open_for_writing in tools/flash"
        );
    }
    // It is called from write_image only.
    let calls = src.matches("open_for_writing(").count();
    let in_writer = py_function(&src, "write_image")
        .matches("open_for_writing(")
        .count();
    assert_eq!(
        calls,
        1 + in_writer,
        "open_for_writing is called outside write_image"
    );
    assert_eq!(in_writer, 1);
    // run(): image check, refusals (always, then in use, which raise), then
    // the question, then the write.
    let body = py_function(&src, "run");
    let at = |needle: &str| {
        body.find(needle)
            .unwrap_or_else(|| panic!("run() in tools/flash has no {needle}"))
    };
    assert!(at("check_image(") < at("always_refusals("));
    assert!(at("always_refusals(") < at("in_use_refusals("));
    assert!(at("in_use_refusals(") < at("raise Fail(EXIT_REFUSED, f\"refusing to overwrite"));
    assert!(at("raise Fail(EXIT_REFUSED, f\"refusing to overwrite") < at("confirm("));
    assert!(at("confirm(") < at("write_image("));
    assert_eq!(body.matches("write_image(").count(), 1);
    // The refusal checks themselves write nothing.
    for f in [
        "always_refusals",
        "in_use_refusals",
        "describe",
        "check_image",
    ] {
        let b = py_function(&src, f);
        assert!(
            !b.contains("write_image(") && !b.contains("open_for_writing("),
            "{f} writes"
        );
    }
}

// --- loop devices -------------------------------------------------------------

struct Loop(String);

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

/// A loop device over `file`, or why not.
fn losetup(file: &Path) -> Result<Loop, String> {
    let out = Command::new("losetup")
        .args(["-f", "--show"])
        .arg(file)
        .output()
        .map_err(|e| format!("losetup: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match fs::metadata(&dev) {
        Ok(md) if md.file_type().is_block_device() => Ok(Loop(dev)),
        _ => {
            let _ = Command::new("losetup").args(["-d", &dev]).status();
            Err(format!("losetup gave {dev:?}, not a block device node"))
        }
    }
}

fn backing(dir: &Path, name: &str, mib: u64, fill: u8) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, vec![fill; (mib * MIB) as usize]).expect("backing file");
    p
}

#[test]
fn a_loop_device_is_flashed_and_verified() {
    let dir = tempdir();
    let image = make_image(dir.path(), "image.raw", "gpt");
    let want = fs::read(&image).expect("image");
    // Old data everywhere: every block must be written to a device, zeros
    // included.
    let file = backing(dir.path(), "disk.img", 32, 0x5A);
    let lo = match losetup(&file) {
        Ok(l) => l,
        Err(why) => {
            eprintln!(
                "SKIPPED a_loop_device_is_flashed_and_verified: losetup does not work here ({why})"
            );
            return;
        }
    };
    let r = flash(&["--image", s(&image), "--yes", &lo.0], "");
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.stdout.contains("Verified"), "{}", r.show());
    assert!(
        r.stdout
            .contains(&format!("Target: {} (block device", lo.0)),
        "{}",
        r.show()
    );
    assert!(r.stdout.contains("size:"), "{}", r.show());
    assert!(r.stdout.contains("in use:    no"), "{}", r.show());
    drop(lo);
    let got = fs::read(&file).expect("backing file");
    let n = want.len();
    assert!(got[..n] == want[..], "the device does not hold the image");
    assert!(
        got[n..].iter().all(|&b| b == 0x5A),
        "written past the image's length"
    );
}

#[test]
fn a_device_smaller_than_the_image_is_refused_even_with_force() {
    let dir = tempdir();
    let image = make_image(dir.path(), "image.raw", "gpt");
    let file = backing(dir.path(), "small.img", 16, 0x5A);
    let lo = match losetup(&file) {
        Ok(l) => l,
        Err(why) => {
            eprintln!(
                "SKIPPED a_device_smaller_than_the_image_is_refused_even_with_force: losetup does \
                 not work here ({why})"
            );
            return;
        }
    };
    let r = flash(&["--image", s(&image), "--yes", "--force", &lo.0], "");
    assert_eq!(r.code, 2, "{}", r.show());
    assert!(r.stderr.contains("smaller than the image"), "{}", r.show());
    drop(lo);
    assert!(
        fs::read(&file).expect("backing").iter().all(|&b| b == 0x5A),
        "nothing may be written"
    );
}

#[test]
fn a_mounted_device_is_refused_unless_forced() {
    let dir = tempdir();
    let image = make_image(dir.path(), "image.raw", "gpt");
    let file = dir.path().join("fs.img");
    fs::File::create(&file)
        .expect("fs image")
        .set_len(32 * MIB)
        .expect("size");
    let mkfs = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "FLASHTEST"])
        .arg(&file)
        .status();
    if !mkfs.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED a_mounted_device_is_refused_unless_forced: no mkfs.ext4");
        return;
    }
    let lo = match losetup(&file) {
        Ok(l) => l,
        Err(why) => {
            eprintln!(
                "SKIPPED a_mounted_device_is_refused_unless_forced: losetup does not work here ({why})"
            );
            return;
        }
    };
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).expect("mount point");
    let mounted = Command::new("mount").arg(&lo.0).arg(&mnt).status();
    if !mounted.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED a_mounted_device_is_refused_unless_forced: cannot mount here");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let um = Unmount(mnt.clone());
    let r = flash(&["--image", s(&image), "--yes", &lo.0], "");
    assert_eq!(r.code, 2, "{}", r.show());
    assert!(
        r.stderr
            .contains(&format!("is mounted on {}", mnt.display())),
        "{}",
        r.show()
    );
    assert!(r.stderr.contains("--force"), "{}", r.show());
    assert!(
        r.stdout.contains("FLASHTEST"),
        "the file system's label is shown\n{}",
        r.show()
    );
    // --force without --yes still asks; "no" writes nothing.
    let r = flash(&["--image", s(&image), "--force", &lo.0], "no\n");
    assert_eq!(r.code, 1, "{}", r.show());
    drop(um);
    drop(lo);
    // The file system itself writes to it (mount, unmount): look for the
    // image instead.
    let after = fs::read(&file).expect("fs image");
    assert!(
        &after[512..520] != b"EFI PART",
        "the image's GPT was written"
    );
    assert!(
        after[MIB as usize..(MIB as usize + 64 * 1024)] != pattern(64 * 1024, 1)[..],
        "the image's content was written"
    );
}

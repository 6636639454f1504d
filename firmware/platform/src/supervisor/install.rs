//! The install socket: how the mail daemon hands an upgrade package to the
//! supervisor, which (as root) verifies it again and writes the inactive
//! slot. The daemon's user cannot write the boot partition
//! (docs/decisions/0008-upgrade-slots.md).
//!
//! The daemon fetches the package (a file in its `upgrade/` directory or an
//! `https://` URL: the download needs the configuration's CA list, which
//! the supervisor never reads) and pre-checks it; then it sends the
//! **bytes** over this stream, never a path: root does not open anything
//! inside the daemon-owned data directory. One request, one answer, then
//! the connection closes:
//!
//! ```text
//! daemon → supervisor   install <-|allow-downgrade> <length>\n<package bytes>
//! supervisor → daemon   installed <length>\n<the console's text>
//!                       refused <length>\n<why, for the console>
//! ```
//!
//! The package length is bounded by [`MAX_PACKAGE_BYTES`] before a byte of
//! it is read, an answer by [`MAX_ANSWER`], a header line by [`MAX_HEAD`].
//! Both ends are the same binary, so the format carries no version.
//!
//! **Exposure:** local only. The socket lives in a directory the
//! supervisor creates (root-owned, `0711`, under `/run` when it runs as
//! root), outside the data directory; the socket file is `0600`, owned by
//! the daemon's user; and the supervisor serves only a peer whose
//! `SO_PEERCRED` PID is the daemon it started. One install at a time.

use std::io::{BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::slots::BootPartition;
pub use crate::upgrade::MAX_PACKAGE_BYTES;

/// The longest header line, newline included.
pub const MAX_HEAD: usize = 64;
/// The longest answer text (the console's few lines).
pub const MAX_ANSWER: u64 = 64 * 1024;
/// How long either side waits for the other's next bytes. The supervisor
/// reads a package the daemon already holds in memory; the daemon waits
/// for parsing, hashing and writing ~15 MiB with fsyncs on the boot flash.
pub const IO_TIMEOUT: Duration = Duration::from_secs(300);

/// One header line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// `install <-|allow-downgrade> <length>`: a package follows.
    Install { allow_downgrade: bool, len: u64 },
    /// `installed <length>`: the console's text follows.
    Installed { len: u64 },
    /// `refused <length>`: why, for the console.
    Refused { len: u64 },
}

/// What [`Head::parse`] made of the bytes so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// No newline yet (and fewer than [`MAX_HEAD`] bytes).
    NeedMore,
    /// A header, and how many bytes (its line) it took.
    Done { head: Head, consumed: usize },
}

/// Typed failures of the exchange.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("the header line is longer than {MAX_HEAD} bytes")]
    HeadTooLong,
    #[error("malformed header: {0}")]
    Malformed(String),
    #[error("a package of {0} bytes is larger than the {MAX_PACKAGE_BYTES} bytes allowed")]
    PackageTooLarge(u64),
    #[error("an answer of {0} bytes is larger than the {MAX_ANSWER} bytes allowed")]
    AnswerTooLarge(u64),
    #[error("expected {expected}, got {got:?}")]
    Unexpected { expected: &'static str, got: Head },
    #[error("the connection closed in the middle of a message")]
    Truncated,
    #[error("the answer is not UTF-8")]
    NotText,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Head {
    pub fn emit(&self) -> String {
        match *self {
            Head::Install {
                allow_downgrade,
                len,
            } => format!(
                "install {} {len}\n",
                if allow_downgrade {
                    "allow-downgrade"
                } else {
                    "-"
                }
            ),
            Head::Installed { len } => format!("installed {len}\n"),
            Head::Refused { len } => format!("refused {len}\n"),
        }
    }

    /// How many bytes follow the header.
    pub fn body_len(&self) -> u64 {
        match *self {
            Head::Install { len, .. } | Head::Installed { len } | Head::Refused { len } => len,
        }
    }

    /// The header at the start of `buf`; a length over its bound is an
    /// error here, before the body is read.
    pub fn parse(buf: &[u8]) -> Result<Parsed, ProtocolError> {
        let Some(end) = buf.iter().position(|&b| b == b'\n') else {
            return if buf.len() >= MAX_HEAD {
                Err(ProtocolError::HeadTooLong)
            } else {
                Ok(Parsed::NeedMore)
            };
        };
        if end + 1 > MAX_HEAD {
            return Err(ProtocolError::HeadTooLong);
        }
        let malformed = || ProtocolError::Malformed(String::from_utf8_lossy(&buf[..end]).into());
        let line = std::str::from_utf8(&buf[..end]).map_err(|_| malformed())?;
        let words: Vec<&str> = line.split(' ').collect();
        // Digits only, no leading zero (one spelling per header):
        // `u64::from_str` would also take a leading '+'.
        let length = |w: &str| {
            (!w.is_empty()
                && w.bytes().all(|b| b.is_ascii_digit())
                && (w == "0" || !w.starts_with('0')))
            .then(|| w.parse::<u64>().ok())
            .flatten()
            .ok_or_else(malformed)
        };
        let head = match words.as_slice() {
            ["install", flag, len] => {
                let allow_downgrade = match *flag {
                    "-" => false,
                    "allow-downgrade" => true,
                    _ => return Err(malformed()),
                };
                let len = length(len)?;
                if len > MAX_PACKAGE_BYTES {
                    return Err(ProtocolError::PackageTooLarge(len));
                }
                Head::Install {
                    allow_downgrade,
                    len,
                }
            }
            [verb @ ("installed" | "refused"), len] => {
                let len = length(len)?;
                if len > MAX_ANSWER {
                    return Err(ProtocolError::AnswerTooLarge(len));
                }
                if *verb == "installed" {
                    Head::Installed { len }
                } else {
                    Head::Refused { len }
                }
            }
            _ => return Err(malformed()),
        };
        Ok(Parsed::Done {
            head,
            consumed: end + 1,
        })
    }
}

/// The daemon's request.
#[derive(Debug, PartialEq, Eq)]
pub struct InstallRequest {
    pub allow_downgrade: bool,
    pub package: Vec<u8>,
}

/// The supervisor's answer; either way a text for the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallAnswer {
    Installed(String),
    Refused(String),
}

/// Reads one header, a byte at a time up to [`MAX_HEAD`] (the body that
/// follows is read in bulk).
fn read_head(r: &mut impl Read) -> Result<Head, ProtocolError> {
    let mut buf = Vec::with_capacity(MAX_HEAD);
    let mut byte = [0u8; 1];
    loop {
        if r.read(&mut byte)? == 0 {
            return Err(ProtocolError::Truncated);
        }
        buf.push(byte[0]);
        if let Parsed::Done { head, .. } = Head::parse(&buf)? {
            return Ok(head);
        }
    }
}

fn read_body(r: &mut impl Read, len: u64) -> Result<Vec<u8>, ProtocolError> {
    // `len` is already bounded by the header's parser.
    let mut body = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    r.take(len).read_to_end(&mut body)?;
    if body.len() as u64 != len {
        return Err(ProtocolError::Truncated);
    }
    Ok(body)
}

pub fn write_request(
    w: &mut impl Write,
    allow_downgrade: bool,
    package: &[u8],
) -> Result<(), ProtocolError> {
    let len = package.len() as u64;
    if len > MAX_PACKAGE_BYTES {
        return Err(ProtocolError::PackageTooLarge(len));
    }
    let head = Head::Install {
        allow_downgrade,
        len,
    };
    w.write_all(head.emit().as_bytes())?;
    w.write_all(package)?;
    w.flush()?;
    Ok(())
}

pub fn read_request(r: &mut impl Read) -> Result<InstallRequest, ProtocolError> {
    match read_head(r)? {
        Head::Install {
            allow_downgrade,
            len,
        } => Ok(InstallRequest {
            allow_downgrade,
            package: read_body(r, len)?,
        }),
        got => Err(ProtocolError::Unexpected {
            expected: "an install request",
            got,
        }),
    }
}

/// Reads a request and throws its package away.
fn skip_request(r: &mut impl Read) -> Result<(), ProtocolError> {
    let len = read_head(r)?.body_len();
    if std::io::copy(&mut r.take(len), &mut std::io::sink())? != len {
        return Err(ProtocolError::Truncated);
    }
    Ok(())
}

pub fn write_answer(w: &mut impl Write, answer: &InstallAnswer) -> Result<(), ProtocolError> {
    let (text, head): (&str, fn(u64) -> Head) = match answer {
        InstallAnswer::Installed(t) => (t, |len| Head::Installed { len }),
        InstallAnswer::Refused(t) => (t, |len| Head::Refused { len }),
    };
    // Cut at a character boundary rather than refuse the answer.
    let mut end = text.len().min(MAX_ANSWER as usize);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    w.write_all(head(end as u64).emit().as_bytes())?;
    w.write_all(&text.as_bytes()[..end])?;
    w.flush()?;
    Ok(())
}

pub fn read_answer(r: &mut impl Read) -> Result<InstallAnswer, ProtocolError> {
    let head = read_head(r)?;
    let mut text = |len| String::from_utf8(read_body(r, len)?).map_err(|_| ProtocolError::NotText);
    match head {
        Head::Installed { len } => Ok(InstallAnswer::Installed(text(len)?)),
        Head::Refused { len } => Ok(InstallAnswer::Refused(text(len)?)),
        got => Err(ProtocolError::Unexpected {
            expected: "an answer",
            got,
        }),
    }
}

/// The daemon's side: sends the package, waits for the supervisor's
/// answer.
pub fn ask_supervisor_to_install(
    socket: &Path,
    allow_downgrade: bool,
    package: &[u8],
) -> Result<InstallAnswer, ProtocolError> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let sent = write_request(&mut stream, allow_downgrade, package);
    // A supervisor that stopped reading (a request it refused) may still
    // have answered why: that answer is worth more than EPIPE.
    match (read_answer(&mut BufReader::new(stream)), sent) {
        (Ok(answer), _) => Ok(answer),
        (Err(_), Err(e)) | (Err(e), Ok(())) => Err(e),
    }
}

/// The supervisor's side of one request: verify, install, answer. The
/// package is checked again here ([`crate::upgrade::verify_for_install`]):
/// the daemon's own check proves nothing to root.
pub fn handle(
    request: &InstallRequest,
    boot: &BootPartition,
    board: &str,
    keys_dir: &Path,
) -> InstallAnswer {
    let result = crate::upgrade::verify_on_this_box(
        &request.package,
        boot,
        board,
        keys_dir,
        request.allow_downgrade,
    )
    .and_then(|pkg| {
        if request.allow_downgrade {
            tracing::warn!(
                "upgrade: the administrator allowed a downgrade (--allow-downgrade): Breakwater {} (signed by {}) replaces the running {} even if older",
                pkg.version,
                pkg.signed_by,
                crate::upgrade::running_version(boot)
            );
        }
        crate::upgrade::install(boot, board, &pkg).inspect(|_| {
            tracing::info!(
                "upgrade: Breakwater {} installed by the supervisor; trial on the next boot",
                pkg.version
            );
        })
    });
    match result {
        Ok(text) => InstallAnswer::Installed(text),
        Err(e) => {
            tracing::error!("upgrade: the supervisor refused the package: {e}");
            InstallAnswer::Refused(e.to_string())
        }
    }
}

/// Serves one connection (on a blocking thread): one install at a time.
pub fn serve(
    stream: UnixStream,
    boot: &BootPartition,
    board: &str,
    keys_dir: &Path,
    busy: &Mutex<()>,
) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(e) => {
            tracing::error!("upgrade: install socket: {e}");
            return;
        }
    };
    let mut reader = BufReader::new(stream);
    let answer = match busy.try_lock() {
        Err(_) => {
            // Read the request to its end without keeping it, so the
            // daemon's write completes and it reads this answer.
            let _ = skip_request(&mut reader);
            InstallAnswer::Refused("another upgrade install is in progress".to_string())
        }
        Ok(_guard) => match read_request(&mut reader) {
            Ok(request) => {
                tracing::info!(
                    "upgrade: the mail daemon handed over a package of {} bytes{}",
                    request.package.len(),
                    if request.allow_downgrade {
                        " (--allow-downgrade)"
                    } else {
                        ""
                    }
                );
                handle(&request, boot, board, keys_dir)
            }
            Err(e) => {
                tracing::error!("upgrade: bad request on the install socket: {e}");
                InstallAnswer::Refused(format!("the supervisor could not read the package: {e}"))
            }
        },
    };
    if let Err(e) = write_answer(&mut writer, &answer) {
        tracing::warn!("upgrade: cannot answer the mail daemon: {e}");
    }
}

/// The socket's directory, created by the supervisor and removed when it
/// stops: under `/run` when it runs as root (root-owned, so neither the
/// directory nor the socket's name can be swapped by the daemon's user),
/// in the temporary directory otherwise (a development board, where the
/// daemon is the same user anyway).
pub struct InstallSocket {
    dir: PathBuf,
    pub path: PathBuf,
    pub listener: tokio::net::UnixListener,
}

impl InstallSocket {
    /// Creates the directory (a fresh, unguessable name: `mkdir` fails
    /// rather than reuse anything already there) and binds the socket;
    /// `owner` (the board's `run_as`) gets the socket file.
    pub fn open(owner: Option<(u32, u32)>) -> std::io::Result<InstallSocket> {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        let base = if nix::unistd::geteuid().is_root() && Path::new("/run").is_dir() {
            PathBuf::from("/run")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!(
            "breakwater-supervisor-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let bound = (|| {
            let path = dir.join("install.sock");
            let listener = tokio::net::UnixListener::bind(&path)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            if let Some((uid, gid)) = owner {
                // By path, safely: only root can change entries in `dir`.
                std::os::unix::fs::chown(&path, Some(uid), Some(gid))?;
            }
            // The daemon's user may reach the socket, not list the directory.
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))?;
            Ok(InstallSocket {
                dir: dir.clone(),
                path,
                listener,
            })
        })();
        if bound.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        bound
    }
}

impl Drop for InstallSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        for head in [
            Head::Install {
                allow_downgrade: false,
                len: 0,
            },
            Head::Install {
                allow_downgrade: true,
                len: MAX_PACKAGE_BYTES,
            },
            Head::Installed { len: 12 },
            Head::Refused { len: MAX_ANSWER },
        ] {
            let text = head.emit();
            assert_eq!(
                Head::parse(text.as_bytes()).unwrap(),
                Parsed::Done {
                    head,
                    consumed: text.len()
                }
            );
        }
        assert_eq!(Head::parse(b"install - 12").unwrap(), Parsed::NeedMore);
    }

    #[test]
    fn oversized_and_malformed_headers_are_refused_before_any_body() {
        let too_big = format!("install - {}\n", MAX_PACKAGE_BYTES + 1);
        assert!(matches!(
            Head::parse(too_big.as_bytes()),
            Err(ProtocolError::PackageTooLarge(_))
        ));
        let too_big = format!("refused {}\n", MAX_ANSWER + 1);
        assert!(matches!(
            Head::parse(too_big.as_bytes()),
            Err(ProtocolError::AnswerTooLarge(_))
        ));
        assert!(matches!(
            Head::parse(&[b'9'; MAX_HEAD]),
            Err(ProtocolError::HeadTooLong)
        ));
        for junk in [
            &b"install - +5\n"[..],
            b"install - -5\n",
            b"install - 05\n",
            b"install yes 5\n",
            b"install -  5\n",
            b"install - 5 6\n",
            b"installed\n",
            b"upgrade - 5\n",
            b"install - 99999999999999999999999\n",
            b"\xff 5\n",
            b"\n",
        ] {
            assert!(
                matches!(Head::parse(junk), Err(ProtocolError::Malformed(_))),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn a_request_and_an_answer_cross_a_stream() {
        let mut wire = Vec::new();
        write_request(&mut wire, true, b"package bytes").unwrap();
        assert!(wire.starts_with(b"install allow-downgrade 13\npackage"));
        assert_eq!(
            read_request(&mut wire.as_slice()).unwrap(),
            InstallRequest {
                allow_downgrade: true,
                package: b"package bytes".to_vec()
            }
        );
        let e = read_request(&mut &wire[..wire.len() - 1]).unwrap_err();
        assert!(matches!(e, ProtocolError::Truncated), "{e}");

        let mut wire = Vec::new();
        let answer = InstallAnswer::Refused("the package is damaged".into());
        write_answer(&mut wire, &answer).unwrap();
        assert_eq!(read_answer(&mut wire.as_slice()).unwrap(), answer);
        let e = read_request(&mut wire.as_slice()).unwrap_err();
        assert!(matches!(e, ProtocolError::Unexpected { .. }), "{e}");
        let e = read_answer(&mut &b"installed 2\n\xff\xfe"[..]).unwrap_err();
        assert!(matches!(e, ProtocolError::NotText), "{e}");
    }

    #[test]
    fn a_long_answer_is_cut_at_a_character() {
        let mut wire = Vec::new();
        let long = "é".repeat(MAX_ANSWER as usize);
        write_answer(&mut wire, &InstallAnswer::Installed(long)).unwrap();
        let InstallAnswer::Installed(text) = read_answer(&mut wire.as_slice()).unwrap() else {
            panic!("not installed");
        };
        assert_eq!(text.len(), MAX_ANSWER as usize);
    }

    #[test]
    fn the_supervisor_refuses_junk_and_answers_the_console_text() {
        let dir = tempfile::tempdir().unwrap();
        let boot = BootPartition {
            dir: dir.path().to_path_buf(),
            running: None,
            uefi: false,
            efivars: PathBuf::new(),
        };
        // The keys this supervisor trusts: a test key of its own.
        let keys = tempfile::tempdir().unwrap();
        let key = crate::upgrade::SigningKey::from_seed(&[7; 32]);
        std::fs::write(keys.path().join("test.pub"), key.public_key_file()).unwrap();
        let busy = Mutex::new(());
        let (mut daemon, supervisor) = UnixStream::pair().unwrap();
        let served = std::thread::scope(|s| {
            let server = s.spawn(|| serve(supervisor, &boot, "vesa", keys.path(), &busy));
            write_request(&mut daemon, false, b"not a package").unwrap();
            let answer = read_answer(&mut daemon).unwrap();
            server.join().unwrap();
            answer
        });
        match served {
            InstallAnswer::Refused(why) => {
                assert!(why.starts_with("not an upgrade package"), "{why}")
            }
            other => panic!("{other:?}"),
        }
        // A second install while one runs is refused at once.
        let _running = busy.lock().unwrap();
        let (mut daemon, supervisor) = UnixStream::pair().unwrap();
        write_request(&mut daemon, false, b"not a package").unwrap();
        serve(supervisor, &boot, "vesa", keys.path(), &busy);
        assert_eq!(
            read_answer(&mut daemon).unwrap(),
            InstallAnswer::Refused("another upgrade install is in progress".into())
        );
    }
}

//! `upgrade-sign`: the firmware signing keys and signed upgrade packages
//! (decision 0010, the format in `firmware/platform/src/upgrade.rs`).
//!
//! ```text
//! upgrade-sign keygen <private.pk8> <public.pub>     a new Ed25519 key pair
//! upgrade-sign pubkey <private.pk8> <public.pub>     the public half of a key
//! upgrade-sign package --key <private.pk8> --version V --board B
//!              --vmlinuz F --initrd F [--mtime S] <out.upgrade>
//! upgrade-sign verify --keys <dir of *.pub> [--board B --running V] <package>
//! ```
//!
//! The package is written by the firmware's own writer (`Package::emit`),
//! next to the reader that checks it, so the two cannot drift apart.
//!
//! Exposure: host-side tool, never shipped. It reads the private key and
//! writes only the files named on its command line; a new private key is
//! created with mode 0600 and never overwrites an existing file.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use breakwater::upgrade::{InstallPolicy, Package, SigningKey, TrustedKeys, check};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Firmware signing keys and signed upgrade packages")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Makes a new key pair: the private key (PKCS#8 DER, mode 0600) and
    /// the public key file an image trusts.
    Keygen { private: PathBuf, public: PathBuf },
    /// Writes the public key file of a private key.
    Pubkey { private: PathBuf, public: PathBuf },
    /// Builds a signed upgrade package.
    Package {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        version: String,
        #[arg(long)]
        board: String,
        #[arg(long)]
        vmlinuz: PathBuf,
        #[arg(long)]
        initrd: PathBuf,
        /// Every member's time (SOURCE_DATE_EPOCH).
        #[arg(long, default_value_t = 0)]
        mtime: u64,
        out: PathBuf,
    },
    /// Checks a package as an appliance trusting `--keys` would.
    Verify {
        /// A directory of `*.pub` files.
        #[arg(long)]
        keys: PathBuf,
        /// With --running: also the appliance's board and anti-rollback check.
        #[arg(long, requires = "running")]
        board: Option<String>,
        #[arg(long, requires = "board")]
        running: Option<String>,
        package: PathBuf,
    },
}

/// Creates `path` with `mode`, refusing to replace an existing file.
fn create_new(path: &Path, mode: u32, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {} (it is never overwritten)", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

fn write_public(key: &SigningKey, public: &Path) -> Result<()> {
    std::fs::write(public, key.public_key_file())
        .with_context(|| format!("cannot write {}", public.display()))
}

fn main() -> Result<()> {
    match Args::parse().command {
        Command::Keygen { private, public } => {
            let (key, pkcs8) = SigningKey::generate()?;
            create_new(&private, 0o600, &pkcs8)?;
            write_public(&key, &public)?;
            println!(
                "key {}: {} (private), {} (public)",
                key.key_id(),
                private.display(),
                public.display()
            );
        }
        Command::Pubkey { private, public } => {
            let key = SigningKey::load(&private)?;
            write_public(&key, &public)?;
            println!("key {}: {}", key.key_id(), public.display());
        }
        Command::Package {
            key,
            version,
            board,
            vmlinuz,
            initrd,
            mtime,
            out,
        } => {
            let key = SigningKey::load(&key)?;
            let read =
                |p: &Path| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
            let package = Package {
                version,
                board,
                vmlinuz: read(&vmlinuz)?,
                initrd: read(&initrd)?,
                signed_by: key.key_id().to_string(),
            };
            let bytes = package.emit(&key, mtime)?;
            // The package must be one an appliance takes: check it as one.
            let keys = TrustedKeys::from_public_key_files(&[&key.public_key_file()])?;
            Package::parse(&bytes, &keys).context("the package just built does not check")?;
            std::fs::write(&out, &bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!(
                "{}: Breakwater {} for {}, signed by key {}",
                out.display(),
                package.version,
                package.board,
                key.key_id()
            );
        }
        Command::Verify {
            keys,
            board,
            running,
            package,
        } => {
            let keys = TrustedKeys::load(&keys)?;
            let bytes = std::fs::read(&package)
                .with_context(|| format!("cannot read {}", package.display()))?;
            let pkg = Package::parse(&bytes, &keys)?;
            if let (Some(board), Some(running)) = (&board, &running) {
                check(
                    &pkg,
                    &InstallPolicy {
                        board,
                        running_version: running,
                        allow_downgrade: false,
                    },
                )?;
            }
            println!(
                "{}: Breakwater {} for {}, signed by key {}: good",
                package.display(),
                pkg.version,
                pkg.board,
                pkg.signed_by
            );
        }
    }
    Ok(())
}

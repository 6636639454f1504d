//! The OpenSSH client as the tests drive it against the management
//! plane's SSH (a gateway on loopback, or a VM's forwarded port): its own
//! known_hosts, passphrases through `SSH_ASKPASS` (no terminal needed),
//! or a private key file.

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// How the client authenticates.
pub enum SshAuth {
    Passphrase(String),
    /// A private key file.
    Key(PathBuf),
}

/// The client's side: where it connects, its known_hosts and askpass.
pub struct SshClient {
    dir: tempfile::TempDir,
    pub host: IpAddr,
    pub port: u16,
}

impl SshClient {
    #[must_use]
    pub fn new(host: impl Into<IpAddr>, port: u16) -> SshClient {
        SshClient {
            dir: tempfile::tempdir().expect("ssh client dir"),
            host: host.into(),
            port,
        }
    }

    /// The client's own directory (keys made by a test go here).
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    #[must_use]
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// An SSH_ASKPASS program that answers `passphrase`.
    #[must_use]
    pub fn askpass(&self, passphrase: &str) -> PathBuf {
        let path = self.dir.path().join("askpass.sh");
        let quoted = passphrase.replace('\'', r"'\''");
        std::fs::write(&path, format!("#!/bin/sh\nprintf '%s\\n' '{quoted}'\n"))
            .expect("write askpass");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .expect("chmod askpass");
        path
    }

    /// `ssh` with this client's files and options, before the command.
    #[must_use]
    pub fn command(&self, user: &str, auth: &SshAuth, extra: &[&str]) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-F", "/dev/null", "-p", &self.port.to_string()])
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                self.known_hosts().display()
            ))
            .args([
                "-o",
                "StrictHostKeyChecking=accept-new",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "IdentityAgent=none",
                "-o",
                "ConnectTimeout=30",
                "-o",
                "NumberOfPasswordPrompts=1",
                "-o",
                "LogLevel=ERROR",
            ])
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env_remove("SSH_AUTH_SOCK");
        match auth {
            SshAuth::Passphrase(p) => {
                cmd.args(["-o", "PreferredAuthentications=password"])
                    .args(["-o", "PubkeyAuthentication=no"])
                    .env("SSH_ASKPASS", self.askpass(p));
            }
            SshAuth::Key(key) => {
                cmd.args(["-o", "PreferredAuthentications=publickey"])
                    .arg("-i")
                    .arg(key)
                    .env("SSH_ASKPASS", "/bin/false");
            }
        }
        cmd.args(extra).arg(format!("{user}@{}", self.host));
        cmd
    }

    /// `ssh USER@box COMMAND` with `stdin`.
    ///
    /// # Panics
    /// When `ssh` cannot be started.
    pub fn run(&self, user: &str, auth: &SshAuth, command: &str, stdin: &str) -> Output {
        let mut child = self
            .command(user, auth, &[])
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ssh (Debian package openssh-client)");
        // The server may stop reading early (an input over the limit).
        if let Some(mut input) = child.stdin.take() {
            let _ = input.write_all(stdin.as_bytes());
        }
        child.wait_with_output().expect("wait for ssh")
    }
}

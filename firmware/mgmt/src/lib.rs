//! The management plane on the Management interface: the web UI and the
//! REST API over HTTPS (with plain HTTP redirecting to it) and the CLI over
//! SSH, as an AsyncOS administrator expects them.
//!
//! Like the serial console, this crate is a client of the control socket
//! and knows the daemon only through the control protocol: a login is
//! `__auth` (a network login, so the lockout is the console's), every page
//! reads through and every change is a catalog command run in that
//! session. Roles, validation, staging and commit are therefore the
//! control plane's, one implementation behind the console, `breakwater
//! cli`, the web, the API and SSH (see [`link`]).
//!
//! Exposure: the Management network. Everything listens on the Management
//! address only ([`bind`]), over TLS with the appliance's certificate
//! (`adminaccessconfig`, `certconfig`), with bounded requests, sessions
//! and connections.

pub mod api;
pub mod bind;
pub mod link;
pub mod ssh;
pub mod web;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use breakwater_config::{Config, ManagementAccess};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

pub use link::Control;

/// What every service of the management plane shares; settings that can
/// change without rebinding (timeouts, the certificate, SSH keys) are read
/// from here on each use.
pub struct Shared {
    pub control: Control,
    pub data_dir: PathBuf,
    settings: RwLock<ManagementAccess>,
    tls: RwLock<Option<TlsAcceptor>>,
}

impl Shared {
    pub fn new(data_dir: &Path) -> Arc<Self> {
        Arc::new(Self {
            control: Control::new(data_dir),
            data_dir: data_dir.to_path_buf(),
            settings: RwLock::new(ManagementAccess::default()),
            tls: RwLock::new(None),
        })
    }

    /// The committed management settings.
    pub fn settings(&self) -> ManagementAccess {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The HTTPS certificate's acceptor; `None` when it does not load.
    pub fn tls(&self) -> Option<TlsAcceptor> {
        self.tls.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The running services, rebound only when their address or port changes.
pub struct ManagementPlane {
    shared: Arc<Shared>,
    running: HashMap<(&'static str, SocketAddr, Option<String>), JoinHandle<()>>,
}

impl ManagementPlane {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            shared: Shared::new(data_dir),
            running: HashMap::new(),
        }
    }

    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Puts a committed configuration in force: the settings and the
    /// certificate (`tls`, built by the daemon from `certconfig`) at once,
    /// services started, stopped or moved. Connections already open keep
    /// going. Returns the problems (a port that cannot be bound) for the
    /// system log.
    pub async fn apply(&mut self, config: &Config, tls: Option<TlsAcceptor>) -> Vec<String> {
        *self
            .shared
            .settings
            .write()
            .unwrap_or_else(|e| e.into_inner()) = config.management.clone();
        *self.shared.tls.write().unwrap_or_else(|e| e.into_inner()) = tls;
        let wanted = bind::endpoints(config);
        let stale: Vec<_> = self
            .running
            .iter()
            .filter(|(key, task)| !wanted.contains(key) || task.is_finished())
            .map(|(key, _)| key.clone())
            .collect();
        for key in stale {
            if let Some(task) = self.running.remove(&key) {
                task.abort();
                // The listening socket belongs to the task and closes only
                // when the runtime drops it: wait for that, so that a
                // service moving onto the port another one leaves in the
                // same commit (SSH onto the old HTTPS port) can bind it.
                let _ = task.await;
            }
        }
        let mut problems = Vec::new();
        for key in wanted {
            if self.running.contains_key(&key) {
                continue;
            }
            let (name, addr, device) = &key;
            let listener = match bind::listen(*addr, device.as_deref()) {
                Ok(l) => l,
                Err(e) => {
                    problems.push(format!("management {name}: cannot listen on {addr}: {e}"));
                    continue;
                }
            };
            tracing::info!("management {name} listening on {addr}");
            let shared = self.shared.clone();
            let task = match *name {
                "https" => tokio::spawn(web::serve_https(listener, shared)),
                "http" => tokio::spawn(web::serve_redirect(listener, shared)),
                "metrics" => tokio::spawn(api::metrics::serve_plain(listener, shared)),
                _ => tokio::spawn(ssh::serve(listener, shared)),
            };
            self.running.insert(key, task);
        }
        problems
    }
}

impl Drop for ManagementPlane {
    fn drop(&mut self) {
        for task in self.running.values() {
            task.abort();
        }
    }
}

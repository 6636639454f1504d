//! The control plane: a Unix socket under the data directory through which
//! `breakwater cli` (and later the serial console) runs commands against the
//! running daemon.
//!
//! Exposure: local only. The socket is created owner-only (0600) inside an
//! owner-only data directory; whoever can open it is an administrator.
//! Requests are bounded (one line of at most `MAX_REQUEST` bytes).

pub mod commands;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::config::{Config, ConfigStore};

/// Largest request accepted (a pasted filter script fits easily).
pub const MAX_REQUEST: u64 = 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub args: Vec<String>,
    pub stdin: Option<String>,
    pub user: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    pub output: String,
}

/// The socket's path for a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.sock")
}

/// What the daemon answers for itself (commands that are not about config).
pub trait DaemonStatus: Send + Sync + 'static {
    fn status(&self) -> String;
}

pub struct ControlServer {
    pub store: Arc<ConfigStore>,
    pub on_commit: Arc<dyn Fn(&Config) + Send + Sync>,
    pub daemon: Arc<dyn DaemonStatus>,
}

impl ControlServer {
    /// Binds the socket (replacing a stale one) and serves until aborted.
    pub fn start(self, data_dir: &Path) -> std::io::Result<tokio::task::JoinHandle<()>> {
        use std::os::unix::fs::PermissionsExt;
        let path = socket_path(data_dir);
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        let server = Arc::new(self);
        Ok(tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let server = server.clone();
                tokio::spawn(async move { server.serve(stream).await });
            }
        }))
    }

    async fn serve(self: Arc<Self>, stream: UnixStream) {
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        let mut reader = BufReader::new(read.take(MAX_REQUEST));
        let response = match reader.read_line(&mut line).await {
            Ok(_) => match serde_json::from_str::<Request>(&line) {
                Ok(req) => self.clone().dispatch(req).await,
                Err(e) => Response {
                    ok: false,
                    output: format!("malformed control request: {e}"),
                },
            },
            Err(e) => Response {
                ok: false,
                output: format!("cannot read control request: {e}"),
            },
        };
        if let Ok(mut text) = serde_json::to_string(&response) {
            text.push('\n');
            let _ = write.write_all(text.as_bytes()).await;
        }
    }

    async fn dispatch(self: Arc<Self>, req: Request) -> Response {
        let name = req
            .args
            .first()
            .map(|s| s.to_ascii_lowercase())
            .unwrap_or_default();
        if name == "status" {
            return Response {
                ok: true,
                output: self.daemon.status(),
            };
        }
        // Config commands touch sled synchronously (a commit flushes).
        let result = tokio::task::spawn_blocking(move || {
            let on_commit = |c: &Config| (self.on_commit)(c);
            let ctx = commands::CommandContext {
                store: &self.store,
                user: &req.user,
                on_commit: &on_commit,
            };
            commands::run(&ctx, &req.args, req.stdin.as_deref())
        })
        .await;
        match result {
            Ok(Ok(output)) => Response { ok: true, output },
            Ok(Err(e)) => Response {
                ok: false,
                output: e.to_string(),
            },
            Err(e) => Response {
                ok: false,
                output: format!("command failed: {e}"),
            },
        }
    }
}

/// Client side: runs one command against the daemon of `data_dir`.
pub async fn call(data_dir: &Path, request: &Request) -> Result<Response, String> {
    let path = socket_path(data_dir);
    let mut stream = UnixStream::connect(&path).await.map_err(|e| {
        format!(
            "cannot reach the Breakwater daemon at {}: {e} (is `breakwater run --data-dir {}` running?)",
            path.display(),
            data_dir.display()
        )
    })?;
    let mut text = serde_json::to_string(request).map_err(|e| e.to_string())?;
    text.push('\n');
    stream
        .write_all(text.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut reply = String::new();
    BufReader::new(stream)
        .read_line(&mut reply)
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_str(&reply).map_err(|e| format!("malformed reply from the daemon: {e}"))
}

//! The management plane's side of the control socket: the serial
//! console's [`DaemonLink`], called off the async workers. Every page, API
//! call and SSH command is one control [`Request`], so the control plane
//! checks the session, the role (from the command catalog) and every
//! staged change (`Config::validate`) exactly as it does for the console.

use std::path::PathBuf;

use breakwater_console::{DaemonLink, LinkError};
use breakwater_control_proto::{
    AUTH, AuthFailure, AuthReply, LOGOUT, Response, SESSION, STATE, SessionState,
};

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong user or passphrase, a locked account: the control plane's
    /// words, after the delay it asked for.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// Where the control socket is.
#[derive(Debug, Clone)]
pub struct Control {
    link: DaemonLink,
}

impl Control {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            link: DaemonLink::new(data_dir),
        }
    }

    /// One request, on a blocking thread (the console's link is
    /// synchronous; a commit flushes sled and a login runs argon2).
    pub async fn call(
        &self,
        args: Vec<String>,
        stdin: Option<String>,
        user: &str,
    ) -> Result<Response, LinkError> {
        let link = self.link.clone();
        let user = user.to_string();
        tokio::task::spawn_blocking(move || link.call(args, stdin.as_deref(), &user))
            .await
            .unwrap_or(Err(LinkError::Unreachable))
    }

    /// Opens a session for `user` from `tty` (`web`, `api`, `ssh`): a
    /// network login, so repeated failures lock the account as they do
    /// for any network console (the lockout is the control plane's, one
    /// count for every way in). Waits the delay the daemon asks for
    /// after a failure, as the console does.
    pub async fn login(
        &self,
        user: &str,
        password: &str,
        tty: &str,
    ) -> Result<AuthReply, LoginError> {
        let args = vec![AUTH.into(), user.into(), tty.into(), "network".into()];
        let response = self.call(args, Some(password.to_string()), user).await?;
        if response.ok {
            return serde_json::from_str(&response.output)
                .map_err(|e| LoginError::Link(LinkError::Malformed(e.to_string())));
        }
        match serde_json::from_str::<AuthFailure>(&response.output) {
            Ok(failure) => {
                tokio::time::sleep(std::time::Duration::from_millis(
                    failure.delay_ms.min(10_000),
                ))
                .await;
                Err(LoginError::Refused(failure.message))
            }
            Err(_) => Err(LoginError::Refused(response.output)),
        }
    }

    /// Runs one catalog command in the session `token`.
    pub async fn run(
        &self,
        token: &str,
        words: Vec<String>,
        stdin: Option<String>,
    ) -> Result<Response, LinkError> {
        let mut args = Vec::with_capacity(words.len() + 2);
        args.push(SESSION.to_string());
        args.push(token.to_string());
        args.extend(words);
        self.call(args, stdin, "").await
    }

    /// The session's host name, user, role and whether changes are
    /// staged; `None` when the session has ended.
    pub async fn state(&self, token: &str) -> Result<Option<SessionState>, LinkError> {
        let response = self.run(token, vec![STATE.into()], None).await?;
        if !response.ok {
            return Ok(None);
        }
        serde_json::from_str(&response.output)
            .map(Some)
            .map_err(|e| LinkError::Malformed(e.to_string()))
    }

    /// `metrics` (`--openmetrics` when `openmetrics`) outside any
    /// session, as the socket's owner: for the plain-HTTP metrics port,
    /// which has no login (`adminaccessconfig setup --metrics-port`).
    /// The words are fixed here so that port can ask for nothing else.
    pub async fn metrics(&self, openmetrics: bool) -> Result<Response, LinkError> {
        let mut args = vec!["metrics".to_string()];
        if openmetrics {
            args.push("--openmetrics".to_string());
        }
        self.call(args, None, "metrics").await
    }

    /// Ends the session (`how`: `logout`, `timeout`).
    pub async fn logout(&self, token: &str, how: &str) {
        let _ = self.run(token, vec![LOGOUT.into(), how.into()], None).await;
    }
}

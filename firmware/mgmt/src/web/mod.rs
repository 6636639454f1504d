//! The web UI and the REST API over HTTPS, and the plain-HTTP redirect.
//!
//! Pages are rendered on the server ([`maud`]), so the UI works in the
//! image with no JavaScript build chain. Every page is a handful of control
//! requests in the administrator's session ([`crate::link`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;

use crate::Shared;

/// The longest a client may take to send a request's headers (a slow
/// client holds a connection, and the management plane has few).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// Connections served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 64;
/// The largest request body (a pasted filter script fits easily; the
/// control socket takes 1 MiB).
pub const MAX_BODY: usize = 512 * 1024;

/// Every route of the web UI and the API.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// Serves HTTPS on `listener` until aborted.
pub async fn serve_https(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let app = router(shared.clone());
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let Some(acceptor) = shared.tls() else {
            // No certificate loads: refuse rather than serve in clear.
            drop(stream);
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                _ => return,
            };
            let service = TowerToHyperService::new(app.layer(axum::Extension(peer)));
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let _ = builder.serve_connection(TokioIo::new(tls), service).await;
        });
    }
}

/// Serves plain HTTP on `listener`: every request is redirected to the
/// same path over HTTPS.
pub async fn serve_redirect(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(
                move |req: hyper::Request<hyper::body::Incoming>| {
                    let https_port = shared.settings().https_port;
                    async move { Ok::<_, std::convert::Infallible>(redirect_to_https(&req, https_port)) }
                },
            );
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// `301` to `https://HOST[:PORT]/path`; the host is the one the browser
/// asked for (without its port), so the redirect works behind any name.
fn redirect_to_https<B>(req: &hyper::Request<B>, https_port: u16) -> hyper::Response<String> {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(host_without_port)
        .unwrap_or("localhost");
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = if https_port == 443 {
        format!("https://{host}{path}")
    } else {
        format!("https://{host}:{https_port}{path}")
    };
    let mut response = hyper::Response::new(String::new());
    *response.status_mut() = hyper::StatusCode::MOVED_PERMANENTLY;
    if let Ok(value) = hyper::header::HeaderValue::from_str(&location) {
        response
            .headers_mut()
            .insert(hyper::header::LOCATION, value);
    }
    response
}

/// A Host header's name, checked to be a plain host name or address (no
/// CR, LF or path characters can reach the Location header).
fn host_without_port(host: &str) -> Option<&str> {
    let name = if let Some(rest) = host.strip_prefix('[') {
        let end = rest.find(']')?;
        &host[..end + 2]
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    ok.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_keeps_the_path_and_drops_a_hostile_host() {
        let req = hyper::Request::builder()
            .uri("/mail_policies?x=1")
            .header("host", "esa1.example.com:80")
            .body(())
            .unwrap();
        let r = redirect_to_https(&req, 443);
        assert_eq!(r.status(), 301);
        assert_eq!(
            r.headers()["location"],
            "https://esa1.example.com/mail_policies?x=1"
        );
        let req = hyper::Request::builder()
            .uri("/")
            .header("host", "evil.example/x")
            .body(())
            .unwrap();
        assert_eq!(
            redirect_to_https(&req, 8443).headers()["location"],
            "https://localhost:8443/"
        );
        assert_eq!(host_without_port("[::1]:80"), Some("[::1]"));
    }
}

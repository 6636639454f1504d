//! `GET /metrics`: the Prometheus scrape endpoint on the HTTPS port.
//!
//! It authenticates as the REST API does (HTTP Basic on every request,
//! or a bearer token from `POST /api/v1/login`) and follows the API's
//! switch in `adminaccessconfig`. The text is the daemon's: the
//! catalog command `metrics` run in the scraper's session (decision
//! 0013), in the Prometheus text format, or OpenMetrics when the
//! scraper's `Accept` asks for it (as Prometheus does).

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::{Api, ApiError};

/// The content type of the Prometheus text format.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The content type of OpenMetrics.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether the scraper's `Accept` names OpenMetrics.
pub fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"))
}

pub async fn scrape(api: Api, headers: HeaderMap) -> Result<Response, ApiError> {
    let open = wants_openmetrics(&headers);
    let mut words = vec!["metrics"];
    if open {
        words.push("--openmetrics");
    }
    let text = api.run_words(&words).await?;
    let kind = if open { OPENMETRICS } else { TEXT_FORMAT };
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_accept_header_asks_for_openmetrics() {
        let mut h = HeaderMap::new();
        assert!(!wants_openmetrics(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            ),
        );
        assert!(wants_openmetrics(&h));
    }
}

//! `GET /metrics`: the Prometheus scrape endpoint on the HTTPS port.
//!
//! It authenticates as the REST API does (HTTP Basic on every request,
//! or a bearer token from `POST /api/v1/login`) and follows the API's
//! switch in `adminaccessconfig`. The text is the daemon's: the
//! catalog command `metrics` run in the scraper's session (decision
//! 0013), in the Prometheus text format, or OpenMetrics when the
//! scraper's `Accept` asks for it (as Prometheus does).
//!
//! [`serve_plain`]: the same text as plain HTTP without a login on the
//! port `adminaccessconfig setup --metrics-port` names (off by default),
//! for scrapers that cannot log in. It answers `GET /metrics` and
//! nothing else, and the only request it makes of the control plane is
//! [`Control::metrics`](crate::link::Control::metrics).
//!
//! `GET /api/v1/reports/NAME.svg`: one chart of the web UI's Reports
//! page (`reportdata --json`, drawn by [`crate::web::pages::reports`]) as
//! an SVG file, for an administrator who wants the trend as a picture
//! from a script or cron job without a browser.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use std::sync::Arc;

use super::{Api, ApiError};
use crate::Shared;
use crate::web::pages::reports::{ReportData, charts};

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

/// Serves the plain-HTTP metrics port until the task is aborted.
pub async fn serve_plain(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    crate::web::serve_plain_http(listener, move |req| {
        let shared = shared.clone();
        async move { plain_answer(&req, &shared).await }
    })
    .await;
}

async fn plain_answer<B>(req: &hyper::Request<B>, shared: &Shared) -> hyper::Response<String> {
    let (status, kind, body) = if req.uri().path() != "/metrics" {
        (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "Only /metrics is served on this port.\n".to_string(),
        )
    } else if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "GET /metrics\n".to_string(),
        )
    } else {
        let open = wants_openmetrics(req.headers());
        match shared.control.metrics(open).await {
            Ok(r) if r.ok => (
                StatusCode::OK,
                if open { OPENMETRICS } else { TEXT_FORMAT },
                r.output,
            ),
            Ok(r) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain; charset=utf-8",
                r.output,
            ),
            Err(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain; charset=utf-8",
                e.to_string(),
            ),
        }
    };
    let mut response = hyper::Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    response
}

/// The charts served as files: the name in the URL and the chart's
/// element id on the Reports page.
pub const CHARTS: [(&str, &str); 6] = [
    ("incoming", "chart-incoming"),
    ("listeners", "chart-listeners"),
    ("outgoing", "chart-outgoing"),
    ("domains", "chart-domains"),
    ("ips", "chart-ips"),
    ("queue", "chart-queue"),
];

/// The chart `file` (`queue.svg`) of `data`; `None` for an unknown name.
pub fn chart_svg(data: &ReportData, file: &str) -> Option<String> {
    let name = file.strip_suffix(".svg")?;
    let (_, id) = CHARTS.iter().find(|(n, _)| *n == name)?;
    charts(data)
        .into_iter()
        .map(|(_, svg)| svg)
        .find(|svg| svg.contains(&format!("id=\"{id}\"")))
}

pub async fn report_svg(api: Api, Path(file): Path<String>) -> Result<Response, ApiError> {
    let json = api.run_words(&["reportdata", "--json"]).await?;
    let data: ReportData = serde_json::from_str(&json).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Unexpected answer from reportdata: {e}"),
        )
    })?;
    let names: Vec<String> = CHARTS.iter().map(|(n, _)| format!("{n}.svg")).collect();
    let svg = chart_svg(&data, &file).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No such chart: {file} (one of {}).", names.join(", ")),
        )
    })?;
    let mut response = svg.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
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

    #[test]
    fn every_chart_file_is_one_chart_of_the_reports_page() {
        let data: ReportData = serde_json::from_str(
            r#"{"hours":[{"label":"10:00","received":{"IncomingMail":3},"delivered":2,"bounced":0,"queue_max":4}],
                "listeners":["IncomingMail"],"top_sender_domains":[],"top_sender_ips":[]}"#,
        )
        .expect("report data");
        for (name, id) in CHARTS {
            let svg = chart_svg(&data, &format!("{name}.svg")).expect(name);
            assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
            assert!(svg.contains(&format!("id=\"{id}\"")), "{name}");
        }
        assert!(chart_svg(&data, "queue").is_none());
        assert!(chart_svg(&data, "nope.svg").is_none());
    }
}

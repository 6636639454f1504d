//! Monitor > Reports: plots an administrator would rather look at than
//! read, drawn on the server as inline SVG (no JavaScript, no external
//! resource: the Content Security Policy forbids both; colours are SVG
//! presentation attributes, not styles).
//!
//! The data is the daemon's `reportdata --json` (the work queue's
//! in-memory hourly series and top senders, `breakwater_mail::reports`):
//! messages received per hour by listener, recipients delivered and
//! bounced per hour, queue length per hour (the hour's longest sample),
//! and the top sender domains and IPs over the last 24 hours.

use std::collections::BTreeMap;

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use maud::{PreEscaped, html};
use serde::Deserialize;

use crate::web::{Admin, State, layout};

pub fn routes() -> Router<State> {
    Router::new().route("/monitor/reports", get(reports))
}

/// `reportdata --json`.
#[derive(Debug, Deserialize)]
pub struct ReportData {
    pub hours: Vec<Hour>,
    pub listeners: Vec<String>,
    pub top_sender_domains: Vec<(String, u64)>,
    pub top_sender_ips: Vec<(String, u64)>,
}

#[derive(Debug, Deserialize)]
pub struct Hour {
    pub label: String,
    pub received: BTreeMap<String, u64>,
    pub delivered: u64,
    pub bounced: u64,
    pub queue_max: Option<u64>,
}

pub use breakwater_types::chart::{Series, bar_chart, esc, line_chart, nice_max};

/// The charts of the Reports page.
pub fn charts(d: &ReportData) -> Vec<(&'static str, String)> {
    let labels: Vec<String> = d.hours.iter().map(|h| h.label.clone()).collect();
    let mut incoming: Vec<Series> = d
        .listeners
        .iter()
        .map(|l| Series {
            name: l.clone(),
            values: d
                .hours
                .iter()
                .map(|h| h.received.get(l).copied().unwrap_or(0))
                .collect(),
        })
        .collect();
    if incoming.is_empty() {
        incoming.push(Series {
            name: "Received".into(),
            values: vec![0; d.hours.len()],
        });
    }
    let outgoing = [
        Series {
            name: "Delivered".into(),
            values: d.hours.iter().map(|h| h.delivered).collect(),
        },
        Series {
            name: "Hard bounced".into(),
            values: d.hours.iter().map(|h| h.bounced).collect(),
        },
    ];
    let queue = [Series {
        name: "Messages in queue".into(),
        values: d.hours.iter().map(|h| h.queue_max.unwrap_or(0)).collect(),
    }];
    let by_listener: Vec<(String, u64)> = d
        .listeners
        .iter()
        .map(|l| {
            (
                l.clone(),
                d.hours.iter().filter_map(|h| h.received.get(l)).sum(),
            )
        })
        .collect();
    vec![
        (
            "Messages received per hour, by listener",
            line_chart(
                "chart-incoming",
                "Messages received per hour, by listener",
                &labels,
                &incoming,
            ),
        ),
        (
            "Messages received by listener (24 hours)",
            bar_chart(
                "chart-listeners",
                "Messages received by listener",
                &by_listener,
            ),
        ),
        (
            "Recipients delivered and bounced per hour",
            line_chart(
                "chart-outgoing",
                "Recipients delivered and bounced per hour",
                &labels,
                &outgoing,
            ),
        ),
        (
            "Top sender domains (24 hours)",
            bar_chart("chart-domains", "Top sender domains", &d.top_sender_domains),
        ),
        (
            "Top sender IPs (24 hours)",
            bar_chart("chart-ips", "Top sender IPs", &d.top_sender_ips),
        ),
        (
            "Queue length (longest each hour)",
            line_chart("chart-queue", "Queue length", &labels, &queue),
        ),
    ]
}

async fn reports(admin: Admin) -> Response {
    let body = match admin.run(&["reportdata", "--json"]).await {
        Err(e) => layout::output(&e),
        Ok(json) => match serde_json::from_str::<ReportData>(&json) {
            Err(e) => layout::output(&format!("Unexpected answer: {e}")),
            Ok(d) => html! {
                p.muted { "The last 24 hours, counted by the mail daemon since it started (the current hour last)." }
                @for (title, svg) in charts(&d) {
                    h2 { (title) }
                    div.chart { (PreEscaped(svg)) }
                }
            },
        },
    };
    admin.page("Reports", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|h| format!("{h:02}:00")).collect()
    }

    #[test]
    fn a_line_chart_has_one_point_per_hour_per_series() {
        let series = [
            Series {
                name: "IncomingMail".into(),
                values: (0..24).collect(),
            },
            Series {
                name: "OutgoingMail".into(),
                values: vec![0; 24],
            },
        ];
        let svg = line_chart("c", "t", &labels(24), &series);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<circle class=\"point\"").count(), 48);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("data-hour=\"23:00\" data-value=\"23\""));
        // 23 rounds up to a 50 axis.
        assert!(svg.contains(">50</text>"));
    }

    #[test]
    fn labels_are_escaped() {
        let svg = bar_chart("c", "t", &[("<script>\"x\"&'".into(), 3)]);
        assert!(
            svg.contains("&lt;script&gt;&quot;x&quot;&amp;&#39;"),
            "{svg}"
        );
        assert!(!svg.contains("<script>"));
        let svg = line_chart(
            "c",
            "t",
            &["<h>".into()],
            &[Series {
                name: "a&b".into(),
                values: vec![1],
            }],
        );
        assert!(svg.contains("&lt;h&gt;") && svg.contains("a&amp;b") && !svg.contains("<h>"));
    }

    #[test]
    fn bars_are_proportional_and_an_empty_chart_says_so() {
        let svg = bar_chart("c", "t", &[("a".into(), 10), ("b".into(), 5)]);
        assert!(svg.contains("data-label=\"a\" data-value=\"10\""));
        assert!(
            svg.contains("width=\"420.0\"") && svg.contains("width=\"210.0\""),
            "{svg}"
        );
        assert!(bar_chart("c", "t", &[]).contains("No mail"));
        assert_eq!(
            [
                nice_max(0),
                nice_max(1),
                nice_max(3),
                nice_max(7),
                nice_max(23),
                nice_max(101)
            ],
            [1, 1, 5, 10, 50, 200]
        );
    }

    #[test]
    fn the_report_data_becomes_six_charts() {
        let json = r#"{"hours":[{"start":0,"label":"00:00","received":{"IncomingMail":2},"delivered":1,"bounced":0,"queue_max":null},{"start":3600,"label":"01:00","received":{},"delivered":0,"bounced":1,"queue_max":4}],"listeners":["IncomingMail"],"top_sender_domains":[["example.org",2]],"top_sender_ips":[["127.0.0.1",2]]}"#;
        let d: ReportData = serde_json::from_str(json).unwrap();
        let c = charts(&d);
        assert_eq!(c.len(), 6);
        assert!(
            c[1].1
                .contains("data-label=\"IncomingMail\" data-value=\"2\"")
        );
        assert_eq!(c[0].1.matches("class=\"point\"").count(), 2);
        assert!(c[5].1.contains("data-value=\"4\""));
    }
}

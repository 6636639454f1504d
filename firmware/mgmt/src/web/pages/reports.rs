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
use std::fmt::Write as _;

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

/// One line of a line chart: a value per label.
pub struct Series {
    pub name: String,
    pub values: Vec<u64>,
}

const WIDTH: u32 = 760;
const HEIGHT: u32 = 240;
const LEFT: u32 = 56;
const RIGHT: u32 = 150;
const TOP: u32 = 16;
const BOTTOM: u32 = 36;
/// Distinct colours, in order; more series than these reuse them.
const PALETTE: [&str; 8] = [
    "#0b5cad", "#e07b00", "#2e8b57", "#b22222", "#6a3d9a", "#008b8b", "#8b6914", "#555555",
];

/// Text for SVG (XML): the five characters that could break out.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The axis top: the maximum rounded up to 1, 2 or 5 times a power of
/// ten (at least 1, so an idle chart has an axis).
pub fn nice_max(max: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m) >= max.max(1) {
                return step.saturating_mul(m);
            }
        }
        step = step.saturating_mul(10);
    }
}

fn y_axis(svg: &mut String, top: u64) {
    let plot_h = f64::from(HEIGHT - TOP - BOTTOM);
    for i in 0..=4u64 {
        let v = top * i / 4;
        let y = f64::from(HEIGHT - BOTTOM) - plot_h * i as f64 / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#dde3ea"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end" fill="#444">{v}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6,
            y + 4.0
        );
    }
}

fn open(svg: &mut String, id: &str, title: &str) {
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" id="{}" class="chart" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}"><rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>"##,
        esc(id),
        esc(title)
    );
}

/// A line chart: one polyline per series with a point per label.
pub fn line_chart(id: &str, title: &str, labels: &[String], series: &[Series]) -> String {
    let mut svg = String::new();
    open(&mut svg, id, title);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter())
        .copied()
        .max()
        .unwrap_or(0);
    let top = nice_max(max);
    y_axis(&mut svg, top);
    let plot_w = f64::from(WIDTH - LEFT - RIGHT);
    let plot_h = f64::from(HEIGHT - TOP - BOTTOM);
    let n = labels.len().max(1);
    let x = |i: usize| {
        f64::from(LEFT)
            + if n == 1 {
                plot_w / 2.0
            } else {
                plot_w * i as f64 / (n - 1) as f64
            }
    };
    let y = |v: u64| f64::from(HEIGHT - BOTTOM) - plot_h * v as f64 / top as f64;
    // Every third hour labelled: 24 labels do not fit.
    for (i, l) in labels
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 0 || *i + 1 == n)
    {
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle" fill="#444">{}</text>"##,
            x(i),
            HEIGHT - BOTTOM + 16,
            esc(l)
        );
    }
    for (k, s) in series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            svg,
            r##"<g class="series" data-series="{}"><polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"##,
            esc(&s.name),
            points.join(" ")
        );
        for (i, v) in s.values.iter().enumerate() {
            let label = labels.get(i).map_or("", String::as_str);
            let _ = write!(
                svg,
                r##"<circle class="point" cx="{:.1}" cy="{:.1}" r="2.5" fill="{colour}" data-hour="{}" data-value="{v}"><title>{}, {}: {v}</title></circle>"##,
                x(i),
                y(*v),
                esc(label),
                esc(&s.name),
                esc(label)
            );
        }
        let ly = TOP + 14 * k as u32 + 8;
        let _ = write!(
            svg,
            r##"<rect x="{}" y="{}" width="10" height="10" fill="{colour}"/><text x="{}" y="{}" font-size="12" fill="#222">{}</text></g>"##,
            WIDTH - RIGHT + 12,
            ly - 8,
            WIDTH - RIGHT + 28,
            ly + 1,
            esc(&s.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A horizontal bar chart: a bar per (label, value), largest first as given.
pub fn bar_chart(id: &str, title: &str, bars: &[(String, u64)]) -> String {
    const ROW: u32 = 22;
    const LABEL_W: u32 = 260;
    let height = TOP + ROW * bars.len().max(1) as u32 + 8;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" id="{}" class="chart" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{}"><rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#fff"/>"##,
        esc(id),
        esc(title)
    );
    if bars.is_empty() {
        let _ = write!(
            svg,
            r##"<text x="12" y="{}" font-size="12" fill="#777">No mail in the last 24 hours.</text>"##,
            TOP + 12
        );
    }
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let plot_w = f64::from(WIDTH - LABEL_W - 80);
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = TOP + ROW * i as u32;
        let w = plot_w * *v as f64 / max as f64;
        let _ = write!(
            svg,
            r##"<g class="bar" data-label="{l}" data-value="{v}"><text x="{}" y="{}" font-size="12" text-anchor="end" fill="#222">{l}</text><rect x="{LABEL_W}" y="{}" width="{w:.1}" height="{}" fill="{}"><title>{l}: {v}</title></rect><text x="{:.1}" y="{}" font-size="12" fill="#444">{v}</text></g>"##,
            LABEL_W - 8,
            y + 14,
            y + 3,
            ROW - 6,
            PALETTE[0],
            f64::from(LABEL_W) + w + 6.0,
            y + 14,
            l = esc(label),
        );
    }
    svg.push_str("</svg>");
    svg
}

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

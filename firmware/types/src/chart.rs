//! SVG charts drawn as text: the web UI's Reports page, its
//! `/api/v1/reports/NAME.svg` files and the CLI's `status plot` draw
//! with the same code, so a plot looks the same wherever it is read.
//!
//! Plain SVG without styles or scripts (the web UI's Content Security
//! Policy forbids both): colours are presentation attributes, every text
//! is escaped.

use std::fmt::Write as _;

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

/// A line chart: one polyline per series with a point per label, every
/// third label written under the axis (24 hours fit).
pub fn line_chart(id: &str, title: &str, labels: &[String], series: &[Series]) -> String {
    line_chart_labelled(id, title, labels, series, 3)
}

/// [`line_chart`] writing every `label_every`th label (and the last): a
/// plot of many points names a few of them.
pub fn line_chart_labelled(
    id: &str,
    title: &str,
    labels: &[String],
    series: &[Series],
    label_every: usize,
) -> String {
    let label_every = label_every.max(1);
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
    for (i, l) in labels
        .iter()
        .enumerate()
        .filter(|(i, _)| i % label_every == 0 || *i + 1 == n)
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

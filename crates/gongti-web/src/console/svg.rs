//! Charts drawn on the server as SVG: no script, no library, readable offline and in
//! print — a line chart over dates, and an ECG's leads on paper.

use std::fmt::Write;

use time::Date;

/// One line on a chart.
pub(crate) struct Series<'a> {
    pub label: &'a str,
    pub colour: &'a str,
    pub points: Vec<(Date, f64)>,
    /// Dots only (home readings), no line.
    pub dots_only: bool,
    /// Points that need attention (urgent readings): larger, ringed dots.
    pub emphasised: bool,
}

/// A horizontal reference line (a target).
pub(crate) struct Rule<'a> {
    pub label: &'a str,
    pub value: f64,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A line chart of the series between `from` and `to`, the y axis from `y_min` to
/// `y_max` with `ticks` gridlines. `title` is read by screen readers.
pub(crate) fn line_chart(
    title: &str,
    from: Date,
    to: Date,
    (y_min, y_max): (f64, f64),
    ticks: usize,
    series: &[Series<'_>],
    rules: &[Rule<'_>],
) -> String {
    let span_days = ((to - from).whole_days()).max(1) as f64;
    let x = |d: Date| LEFT + (WIDTH - LEFT - RIGHT) * ((d - from).whole_days() as f64 / span_days);
    let y = |v: f64| {
        let clamped = v.clamp(y_min, y_max);
        TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - (clamped - y_min) / (y_max - y_min))
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        escape(title)
    );
    for i in 0..=ticks {
        let v = y_min + (y_max - y_min) * i as f64 / ticks.max(1) as f64;
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e4e7eb"/><text x="{}" y="{:.1}" font-size="10" text-anchor="end" fill="#7b8794">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 4.0,
            y(v) + 3.0,
            trim(v),
            y = y(v),
        );
    }
    for r in rules {
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#c81e1e" stroke-dasharray="4 3"/><text x="{}" y="{:.1}" font-size="10" text-anchor="end" fill="#c81e1e">{}</text>"##,
            WIDTH - RIGHT,
            WIDTH - RIGHT,
            y(r.value) - 3.0,
            escape(r.label),
            y = y(r.value),
        );
    }
    let _ = write!(
        s,
        r##"<text x="{LEFT}" y="{}" font-size="10" fill="#7b8794">{from}</text><text x="{}" y="{}" font-size="10" text-anchor="end" fill="#7b8794">{to}</text>"##,
        HEIGHT - 18.0,
        WIDTH - RIGHT,
        HEIGHT - 18.0,
    );
    let mut legend_x = LEFT;
    for series in series {
        let mut points: Vec<&(Date, f64)> = series
            .points
            .iter()
            .filter(|(d, _)| from <= *d && *d <= to)
            .collect();
        points.sort_by_key(|(d, _)| *d);
        if !series.dots_only && points.len() > 1 {
            let path: Vec<String> = points
                .iter()
                .map(|(d, v)| format!("{:.1},{:.1}", x(*d), y(*v)))
                .collect();
            let _ = write!(
                s,
                r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
                series.colour,
                path.join(" ")
            );
        }
        for (d, v) in &points {
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="{}" fill="{}"{}><title>{d} {}</title></circle>"#,
                x(*d),
                y(*v),
                match (series.emphasised, series.dots_only) {
                    (true, _) => 5,
                    (false, true) => 2,
                    (false, false) => 3,
                },
                series.colour,
                if series.emphasised {
                    r##" stroke="#fff" stroke-width="1.5" class="urgent""##
                } else {
                    ""
                },
                trim(*v),
            );
        }
        // A series with nothing in range has no key: nothing to look for.
        if points.is_empty() {
            continue;
        }
        let _ = write!(
            s,
            r##"<rect x="{legend_x}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}" font-size="11" fill="#3e4c59">{}</text>"##,
            HEIGHT - 12.0,
            series.colour,
            legend_x + 14.0,
            HEIGHT - 3.0,
            escape(series.label),
        );
        legend_x += 24.0 + 11.0 * series.label.chars().count() as f64;
    }
    s.push_str("</svg>");
    s
}

/// A number without trailing zeros: 140, 7.5, 0.25.
fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Millimetres of ECG paper per second and per millivolt (the standard speed and gain).
const ECG_MM_PER_S: f64 = 25.0;
const ECG_MM_PER_MV: f64 = 10.0;
/// Pixels per millimetre of paper.
const ECG_PX_PER_MM: f64 = 3.0;
/// Millimetres of paper per lead's row.
const ECG_ROW_MM: f64 = 20.0;
/// Room for the lead's name, in pixels.
const ECG_LABEL_PX: f64 = 44.0;
/// Seconds drawn at most (a resting ECG's 10 s).
const ECG_SECONDS_MAX: f64 = 10.0;

/// A multi-lead ECG on paper: a row per lead at 25 mm/s and 10 mm/mV over a 1 mm / 5 mm
/// grid, each lead reduced to the paper's columns without losing a spike, values beyond
/// the row clipped. `title` is read by screen readers.
pub(crate) fn ecg_paper(
    title: &str,
    leads: &[gongti_core::exam::waveform::Lead],
    sampling_hz: f64,
) -> String {
    let samples = leads.iter().map(|l| l.microvolts.len()).max().unwrap_or(0);
    let seconds = (samples as f64 / sampling_hz).min(ECG_SECONDS_MAX);
    let shown = ((seconds * sampling_hz) as usize).min(samples);
    let px_per_s = ECG_MM_PER_S * ECG_PX_PER_MM;
    let width = ECG_LABEL_PX + (seconds * px_per_s).ceil();
    let row = ECG_ROW_MM * ECG_PX_PER_MM;
    let height = row * leads.len() as f64;
    let (minor, major) = (ECG_PX_PER_MM, ECG_PX_PER_MM * 5.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}"><title>{}</title><defs><pattern id="minor" width="{minor}" height="{minor}" patternUnits="userSpaceOnUse"><path fill="none" d="M {minor} 0 L 0 0 0 {minor}" stroke="#f6c6c6" stroke-width="0.5"/></pattern><pattern id="major" width="{major}" height="{major}" patternUnits="userSpaceOnUse"><rect width="{major}" height="{major}" fill="url(#minor)"/><path fill="none" d="M {major} 0 L 0 0 0 {major}" stroke="#e48f8f" stroke-width="1"/></pattern></defs><rect width="{width}" height="{height}" fill="#fff"/><rect x="{ECG_LABEL_PX}" width="{}" height="{height}" fill="url(#major)"/>"##,
        escape(title),
        width - ECG_LABEL_PX,
    );
    let columns = (seconds * px_per_s).ceil().max(1.0) as usize;
    for (i, lead) in leads.iter().enumerate() {
        let mid = row * i as f64 + row / 2.0;
        let name = lead.label.trim_start_matches("Lead ").trim();
        let _ = write!(
            s,
            r##"<text x="4" y="{:.1}" font-size="13" font-family="sans-serif" fill="#333">{}</text>"##,
            mid + 4.0,
            escape(name)
        );
        let values = &lead.microvolts[..shown.min(lead.microvolts.len())];
        let px_per_uv = ECG_MM_PER_MV * ECG_PX_PER_MM / 1_000.0;
        let mut d = String::new();
        for (n, (at, uv)) in gongti_core::exam::waveform::columns(values, columns)
            .into_iter()
            .enumerate()
        {
            let x = ECG_LABEL_PX + at as f64 / sampling_hz * px_per_s;
            let y = (mid - uv * px_per_uv).clamp(row * i as f64, row * (i + 1) as f64);
            let _ = write!(d, "{}{x:.1} {y:.1}", if n == 0 { "M " } else { " L " });
        }
        let _ = write!(
            s,
            r##"<path d="{d}" fill="none" stroke="#111" stroke-width="1"/>"##
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_chart_has_its_lines_dots_targets_and_escaped_labels() {
        let svg = line_chart(
            "血压 <BP>",
            date!(2026 - 01 - 01),
            date!(2026 - 12 - 31),
            (60.0, 200.0),
            7,
            &[
                Series {
                    label: "收缩压",
                    colour: "#0b5d56",
                    points: vec![
                        (date!(2026 - 03 - 01), 150.0),
                        (date!(2026 - 06 - 01), 132.0),
                        (date!(2027 - 01 - 01), 1.0),
                    ],
                    dots_only: false,
                    emphasised: false,
                },
                Series {
                    label: "家庭自测",
                    colour: "#9aa5b1",
                    points: vec![(date!(2026 - 04 - 01), 138.0)],
                    dots_only: true,
                    emphasised: false,
                },
                Series {
                    label: "紧急",
                    colour: "#c81e1e",
                    points: vec![(date!(2026 - 05 - 01), 190.0)],
                    dots_only: true,
                    emphasised: true,
                },
                Series {
                    label: "检验",
                    colour: "#7c3aed",
                    points: vec![(date!(2025 - 04 - 01), 6.0)],
                    dots_only: false,
                    emphasised: false,
                },
            ],
            &[Rule {
                label: "140",
                value: 140.0,
            }],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<title>血压 &lt;BP&gt;</title>"));
        assert_eq!(
            svg.matches("<polyline").count(),
            1,
            "dots-only series draw no line"
        );
        assert_eq!(
            svg.matches("<circle").count(),
            4,
            "points outside the range are left out"
        );
        assert_eq!(
            svg.matches(r##"r="5" fill="#c81e1e" stroke="#fff""##)
                .count(),
            1,
            "an urgent point stands out"
        );
        assert!(svg.contains("stroke-dasharray"));
        assert!(svg.contains(">家庭自测</text>"));
        assert!(
            !svg.contains(">检验</text>"),
            "a series with nothing in range has no key"
        );
        assert_eq!(trim(140.0), "140");
        assert_eq!(trim(0.25), "0.25");
    }
}

//! The page's charts as inline SVG, drawn here from the numbers: the
//! provider latency histogram of this run against the baseline's, and the
//! trend of the baseline branch's recent runs. No chart library, nothing
//! fetched; every label is escaped.

use std::fmt::Write;

use crate::report::escape;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
/// Room for the axis labels.
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 26.0;
const TOP: f64 = 10.0;
const BINS: usize = 24;

/// The latency histogram: this run's cases as bars, the baseline's as an
/// outline over them, on a logarithmic axis when the latencies span more
/// than a factor of 20. `None` when no case was timed.
pub fn latency_histogram(now: &[f64], baseline: &[f64]) -> Option<String> {
    let positive = |x: &&f64| x.is_finite() && **x >= 0.0;
    let all: Vec<f64> = now
        .iter()
        .chain(baseline)
        .filter(positive)
        .copied()
        .collect();
    let low = all.iter().copied().fold(f64::INFINITY, f64::min);
    let high = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if all.is_empty() {
        return None;
    }
    let scale = Scale::new(low, high);
    let count = |xs: &[f64]| {
        let mut bins = [0usize; BINS];
        for x in xs.iter().filter(positive) {
            bins[scale.bin(*x)] += 1;
        }
        bins
    };
    let (now_bins, base_bins) = (count(now), count(baseline));
    let most = now_bins
        .iter()
        .chain(&base_bins)
        .copied()
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let bar_w = (WIDTH - LEFT) / BINS as f64;
    let y = |n: usize| TOP + plot_h * (1.0 - n as f64 / most);
    let mut svg =
        open("provider latency histogram: this run's cases as bars, the baseline's as an outline");
    for (i, n) in now_bins.iter().enumerate() {
        let x = LEFT + i as f64 * bar_w;
        let (from, to) = scale.edges(i);
        let _ = write!(
            svg,
            r#"<rect class="now" x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}"><title>{} to {} ms: {n} this run, {} baseline</title></rect>"#,
            y(*n),
            (bar_w - 1.0).max(0.5),
            (TOP + plot_h - y(*n)).max(0.0),
            ms(from),
            ms(to),
            base_bins[i]
        );
    }
    if !baseline.is_empty() {
        let mut points = format!("{LEFT:.1},{:.1}", TOP + plot_h);
        for (i, n) in base_bins.iter().enumerate() {
            let x = LEFT + i as f64 * bar_w;
            let _ = write!(points, " {x:.1},{:.1} {:.1},{:.1}", y(*n), x + bar_w, y(*n));
        }
        let _ = write!(points, " {WIDTH:.1},{:.1}", TOP + plot_h);
        let _ = write!(svg, r#"<polyline class="base" points="{points}"/>"#);
    }
    axis(&mut svg, &scale, most);
    svg.push_str("</svg>");
    Some(svg)
}

/// One point of the trend: a run's label (its commit) and figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    pub pass_rate: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    /// This run, drawn apart from the history.
    pub current: bool,
}

/// The trend of the pass rate (0 to 100 %) over the baseline branch's
/// recent runs and this one; `None` with fewer than two runs.
pub fn trend(points: &[Point]) -> Option<String> {
    let rated: Vec<(usize, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.pass_rate.map(|r| (i, r)))
        .collect();
    if rated.len() < 2 {
        return None;
    }
    let plot_h = HEIGHT - TOP - BOTTOM;
    let step = (WIDTH - LEFT - 16.0) / (points.len() - 1).max(1) as f64;
    let x = |i: usize| LEFT + 8.0 + i as f64 * step;
    let y = |rate: f64| TOP + plot_h * (1.0 - rate.clamp(0.0, 1.0));
    let mut svg = open("pass rate of the baseline branch's recent runs and this run");
    for pct in [0.0, 0.5, 1.0] {
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{WIDTH}" y1="{0:.1}" y2="{0:.1}"/><text x="{1}" y="{2:.1}" text-anchor="end">{3:.0}%</text>"#,
            y(pct),
            LEFT - 4.0,
            y(pct) + 4.0,
            pct * 100.0
        );
    }
    let line: Vec<String> = rated
        .iter()
        .map(|(i, r)| format!("{:.1},{:.1}", x(*i), y(*r)))
        .collect();
    let _ = write!(
        svg,
        r#"<polyline class="line" points="{}"/>"#,
        line.join(" ")
    );
    for (i, rate) in &rated {
        let p = &points[*i];
        let latency = p
            .latency_p50_ms
            .map(|l| format!(", latency p50 {}", ms(l)))
            .unwrap_or_default();
        let _ = write!(
            svg,
            r#"<circle class="{}" cx="{:.1}" cy="{:.1}" r="4"><title>{}: pass rate {:.1}%{latency}</title></circle>"#,
            if p.current { "now" } else { "run" },
            x(*i),
            y(*rate),
            escape::page(&p.label),
            rate * 100.0
        );
    }
    for (i, p) in points.iter().enumerate() {
        if i == 0 || i + 1 == points.len() || p.current {
            let anchor = match i {
                0 => "start",
                i if i + 1 == points.len() => "end",
                _ => "middle",
            };
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
                x(i),
                HEIGHT - 8.0,
                escape::page(&p.label)
            );
        }
    }
    svg.push_str("</svg>");
    Some(svg)
}

fn open(label: &str) -> String {
    format!(
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg">"#
    )
}

/// The x axis's labels and the y axis's top count.
fn axis(svg: &mut String, scale: &Scale, most: f64) {
    let base = HEIGHT - BOTTOM;
    let _ = write!(
        svg,
        r#"<line class="grid" x1="{LEFT}" x2="{WIDTH}" y1="{base}" y2="{base}"/><text x="{}" y="{}" text-anchor="end">{most:.0}</text><text x="{}" y="{base}" text-anchor="end">0</text>"#,
        LEFT - 4.0,
        TOP + 8.0,
        LEFT - 4.0,
    );
    for i in [0, BINS / 2, BINS] {
        let x = LEFT + i as f64 * (WIDTH - LEFT) / BINS as f64;
        let at = if i == BINS {
            scale.edges(BINS - 1).1
        } else {
            scale.edges(i).0
        };
        let anchor = match i {
            0 => "start",
            i if i == BINS => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
            HEIGHT - 8.0,
            ms(at)
        );
    }
}

/// Where a latency falls: equal bins, in ms or in log(ms).
#[derive(Debug, Clone, Copy)]
struct Scale {
    low: f64,
    width: f64,
    log: bool,
}

impl Scale {
    fn new(low: f64, high: f64) -> Scale {
        let log = low > 0.0 && high / low > 20.0;
        let (low, high) = if log {
            (low.ln(), high.ln())
        } else {
            (low, high)
        };
        Scale {
            low,
            width: ((high - low) / BINS as f64).max(f64::MIN_POSITIVE),
            log,
        }
    }

    fn bin(&self, ms: f64) -> usize {
        let at = if self.log {
            ms.max(f64::MIN_POSITIVE).ln()
        } else {
            ms
        };
        (((at - self.low) / self.width).floor().max(0.0) as usize).min(BINS - 1)
    }

    /// The bin's edges in ms.
    fn edges(&self, bin: usize) -> (f64, f64) {
        let from = self.low + bin as f64 * self.width;
        let to = from + self.width;
        if self.log {
            (from.exp(), to.exp())
        } else {
            (from, to)
        }
    }
}

fn ms(x: f64) -> String {
    if x >= 10_000.0 {
        format!("{:.1} s", x / 1000.0)
    } else if x >= 10.0 {
        format!("{x:.0} ms")
    } else {
        format!("{x:.1} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_lands_in_one_bar() {
        let now: Vec<f64> = (1..=100).map(f64::from).collect();
        let svg = latency_histogram(&now, &[50.0; 10]).unwrap();
        assert_eq!(svg.matches("<rect").count(), BINS);
        let counted: usize = svg
            .split(": ")
            .skip(1)
            .filter_map(|s| s.split(" this run").next()?.parse::<usize>().ok())
            .sum();
        assert_eq!(counted, 100);
        assert!(svg.contains("<polyline class=\"base\""));
        assert!(latency_histogram(&[], &[]).is_none());
    }

    #[test]
    fn wide_latencies_use_a_log_scale() {
        let scale = Scale::new(1.0, 10_000.0);
        assert!(scale.log);
        assert_eq!(scale.bin(1.0), 0);
        assert_eq!(scale.bin(10_000.0), BINS - 1);
        assert_eq!(scale.bin(110.0), BINS / 2);
        assert_eq!(scale.bin(90.0), BINS / 2 - 1);
        let flat = Scale::new(5.0, 5.0);
        assert_eq!(flat.bin(5.0), 0);
    }

    #[test]
    fn trend_labels_are_escaped_and_need_two_runs() {
        let point = |label: &str, rate: f64, current: bool| Point {
            label: label.into(),
            pass_rate: Some(rate),
            latency_p50_ms: Some(120.0),
            current,
        };
        assert!(trend(&[point("a", 0.5, false)]).is_none());
        let svg = trend(&[point("<b>x", 0.5, false), point("now", 1.0, true)]).unwrap();
        assert!(svg.contains("&lt;b&gt;x"), "{svg}");
        assert!(!svg.contains("<b>"));
        assert_eq!(svg.matches("<circle").count(), 2);
    }
}

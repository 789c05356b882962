//! Turning measurements into BENCHMARKS.md and an SVG chart.

use std::fmt::Write as _;

/// Median of the values (mean of the middle two for an even count).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// A human number: 1234567 -> "1.23 M".
pub fn human(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    if x >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// What this machine is, for the report.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cores} cores ({model}), {mem_gib:.0} GiB RAM, Linux {}",
        kernel.trim()
    )
}

/// One line of the fan-out chart.
#[derive(Debug)]
pub struct Series {
    /// Server name.
    pub name: String,
    /// (receivers, deliveries/s)
    pub points: Vec<(f64, f64)>,
}

/// A log-x line chart of deliveries/s against receivers, as SVG.
pub fn svg_chart(title: &str, series: &[Series]) -> String {
    let (w, h, ml, mr, mt, mb) = (760.0, 440.0, 80.0, 200.0, 40.0, 50.0);
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|y| y.is_finite())
        .collect();
    let (xmin, xmax) = (
        xs.iter().cloned().fold(f64::MAX, f64::min).log10(),
        xs.iter().cloned().fold(1.0, f64::max).log10(),
    );
    let ymax = ys.iter().cloned().fold(1.0, f64::max) * 1.1;
    let px = |x: f64| ml + (x.log10() - xmin) / (xmax - xmin).max(1e-9) * (w - ml - mr);
    let py = |y: f64| h - mb - y / ymax * (h - mt - mb);
    // One more than the relays `Kind` knows, so no two series share one.
    let colors = [
        "#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#17becf", "#bcbd22", "#000000",
    ];
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" font-size="15" text-anchor="middle">{title}</text>"#,
        (w - mr + ml) / 2.0
    );
    for i in 0..=5 {
        let y = ymax * i as f64 / 5.0;
        let (x2, yy, tx, ty) = (w - mr, py(y), ml - 6.0, py(y) + 4.0);
        let _ = writeln!(
            s,
            r##"<line x1="{ml}" x2="{x2}" y1="{yy}" y2="{yy}" stroke="#ddd"/><text x="{tx}" y="{ty}" text-anchor="end">{}</text>"##,
            human(y)
        );
    }
    for x in xs
        .iter()
        .map(|&x| x as u64)
        .collect::<std::collections::BTreeSet<u64>>()
        .into_iter()
        .map(|x| x as f64)
    {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            px(x),
            h - mb + 18.0,
            x
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">receivers (log scale)</text>"#,
        (w - mr + ml) / 2.0,
        h - 10.0
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{}" transform="rotate(-90 16 {0})" text-anchor="middle">deliveries / s</text>"#,
        (h - mb + mt) / 2.0
    );
    let (yb, xr) = (h - mb, w - mr);
    let _ = writeln!(
        s,
        r#"<line x1="{ml}" x2="{ml}" y1="{mt}" y2="{yb}" stroke="black"/><line x1="{ml}" x2="{xr}" y1="{yb}" y2="{yb}" stroke="black"/>"#
    );
    for (i, se) in series.iter().enumerate() {
        let c = colors[i % colors.len()];
        let pts: Vec<String> = se
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{c}" stroke-width="2.5" points="{}"/>"#,
            pts.join(" ")
        );
        for &(x, y) in se.points.iter().filter(|p| p.1.is_finite()) {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{c}"/>"#,
                px(x),
                py(y)
            );
        }
        let ly = mt + 20.0 + i as f64 * 20.0;
        let _ = writeln!(
            s,
            r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{c}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            w - mr + 15.0,
            w - mr + 40.0,
            w - mr + 46.0,
            ly + 4.0,
            se.name
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_of_the_full_comparison_has_its_own_colour() {
        // scripts/bench.sh charts ten relays.
        let series: Vec<Series> = (0..10)
            .map(|i| Series {
                name: format!("server-{i}"),
                points: vec![(10.0, 1e6 * (i + 1) as f64), (100.0, 2e6)],
            })
            .collect();
        let svg = svg_chart("t", &series);
        let legend: Vec<&str> = svg
            .lines()
            .filter(|l| l.contains(r#"stroke-width="3""#))
            .filter_map(|l| l.split(r#"stroke=""#).nth(1)?.split('"').next())
            .collect();
        assert_eq!(legend.len(), 10, "{svg}");
        let distinct: std::collections::BTreeSet<&str> = legend.iter().copied().collect();
        assert_eq!(distinct.len(), 10, "colours {legend:?}");
    }
}

//! Dependency-free SVG plots: a ROC plot (TAR against FMR on a log axis,
//! one curve per model) and grouped bars of rates (one group per category,
//! one bar per series).

use std::fmt::Write;

use crate::metrics::RocPoint;

const W: f64 = 640.0;
const H: f64 = 420.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 50.0;
const COLOURS: [&str; 5] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders curves `(label, points)` with FMR from `min_fmr` to 1 and TAR
/// from `min_tar` to 1.
pub fn roc_svg(
    title: &str,
    curves: &[(String, Vec<RocPoint>)],
    min_fmr: f64,
    min_tar: f64,
) -> String {
    let decades = (-min_fmr.log10()).ceil().max(1.0);
    let x = |fmr: f64| LEFT + (fmr.max(min_fmr).log10() + decades) / decades * (W - LEFT - RIGHT);
    let y = |tar: f64| {
        TOP + (1.0 - (tar.max(min_tar) - min_tar) / (1.0 - min_tar)) * (H - TOP - BOTTOM)
    };
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="18" text-anchor="middle" font-size="14">{}</text>"#,
        W / 2.0,
        escape(title)
    );
    for d in 0..=(decades as i32) {
        let fmr = 10f64.powi(-d);
        let px = x(fmr);
        let _ = writeln!(
            svg,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{}" stroke="#ddd"/>"##,
            H - BOTTOM
        );
        let _ = writeln!(
            svg,
            r#"<text x="{px:.1}" y="{}" text-anchor="middle">1e-{d}</text>"#,
            H - BOTTOM + 16.0
        );
    }
    let steps = 5;
    for i in 0..=steps {
        let tar = min_tar + (1.0 - min_tar) * f64::from(i) / f64::from(steps);
        let py = y(tar);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="#ddd"/>"##,
            W - RIGHT
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{tar:.3}</text>"#,
            LEFT - 6.0,
            py + 4.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">false match rate (FMR)</text>"#,
        W / 2.0,
        H - 10.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">true accept rate (TAR)</text>"#,
        H / 2.0,
        H / 2.0
    );
    for (i, (label, points)) in curves.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.fmr), y(p.tar)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        let ly = TOP + 16.0 + 16.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"/>"#,
            W - 250.0,
            W - 230.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}">{}</text>"#,
            W - 225.0,
            ly + 4.0,
            escape(label)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Grouped bars of rates in [0, 1]: `groups` are `(label, one value per
/// series)`; `series` names the bars of each group (the legend).
pub fn bars_svg(title: &str, series: &[&str], groups: &[(String, Vec<f64>)]) -> String {
    let width = (LEFT + RIGHT + 70.0 * groups.len().max(1) as f64).max(W);
    let plot_w = width - LEFT - RIGHT;
    let slot = plot_w / groups.len().max(1) as f64;
    let bar = (slot * 0.8) / series.len().max(1) as f64;
    let y = |v: f64| TOP + (1.0 - v.clamp(0.0, 1.0)) * (H - TOP - BOTTOM - 20.0);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="{width}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="18" text-anchor="middle" font-size="14">{}</text>"#,
        width / 2.0,
        escape(title)
    );
    for i in 0..=5 {
        let v = f64::from(i) / 5.0;
        let py = y(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="#ddd"/>"##,
            width - RIGHT
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{:.0} %</text>"#,
            LEFT - 6.0,
            py + 4.0,
            v * 100.0
        );
    }
    for (g, (label, values)) in groups.iter().enumerate() {
        let x0 = LEFT + slot * g as f64 + slot * 0.1;
        for (k, v) in values.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            let (top, bottom) = (y(*v), y(0.0));
            let _ = writeln!(
                svg,
                r#"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{} {}: {:.1} %</title></rect>"#,
                x0 + bar * k as f64,
                (bar - 1.0).max(1.0),
                bottom - top,
                escape(label),
                escape(series.get(k).copied().unwrap_or("")),
                v * 100.0
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x0 + slot * 0.4,
            y(0.0) + 16.0,
            escape(label)
        );
    }
    for (k, name) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let lx = LEFT + 10.0 + 190.0 * k as f64;
        let ly = H - 14.0;
        let _ = writeln!(
            svg,
            r#"<rect x="{lx}" y="{}" width="12" height="12" fill="{colour}"/>"#,
            ly - 10.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{ly}">{}</text>"#,
            lx + 16.0,
            escape(name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_polyline_per_curve() {
        let p = |fmr, tar| RocPoint {
            fmr,
            tar,
            threshold: 0.0,
        };
        let svg = roc_svg(
            "t",
            &[
                ("a".into(), vec![p(1e-4, 0.9), p(1.0, 1.0)]),
                ("b<c".into(), vec![p(1e-3, 0.95)]),
            ],
            1e-5,
            0.8,
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("b&lt;c"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    }

    #[test]
    fn renders_one_bar_per_group_and_series() {
        let svg = bars_svg(
            "t",
            &["read", "found"],
            &[
                ("clean".into(), vec![1.0, 0.5]),
                ("a<b".into(), vec![0.25, 0.0]),
                ("blur".into(), vec![0.9, 1.2]),
            ],
        );
        assert_eq!(svg.matches("<title>").count(), 6);
        assert!(svg.contains("a&lt;b"));
        // The bar is clamped to the axis; its title keeps the value.
        assert!(svg.contains("blur found: 120.0 %"));
    }
}

//! The discovery plot (afl-plot's idea, inline SVG): executions on the x
//! axis; distinct statement shapes and corpus size in the upper panel,
//! distinct findings in the lower one. No script, no external resource.

use std::fmt::Write as _;

use crate::tools::engine::series::Point;

const W: f64 = 760.0;
const PANEL: f64 = 150.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const GAP: f64 = 40.0;

fn polyline(
    points: &[Point],
    max_x: f64,
    max_y: f64,
    top: f64,
    y: impl Fn(&Point) -> usize,
    step: bool,
) -> String {
    let sx = |x: f64| LEFT + (W - LEFT - RIGHT) * x / max_x.max(1.0);
    let sy = |v: f64| top + PANEL - PANEL * v / max_y.max(1.0);
    let mut out = String::new();
    let mut prev: Option<f64> = None;
    for p in points {
        let (x, v) = (sx(p.execs as f64), sy(y(p) as f64));
        if let (true, Some(pv)) = (step, prev) {
            let _ = write!(out, "{x:.1},{pv:.1} ");
        }
        let _ = write!(out, "{x:.1},{v:.1} ");
        prev = Some(v);
    }
    out
}

fn axes(out: &mut String, top: f64, max_x: u64, max_y: usize, label: &str) {
    let bottom = top + PANEL;
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{top}\" x2=\"{LEFT}\" y2=\"{bottom}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\"/>\
         <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{max_y}</text>\
         <text class=\"tick\" x=\"{}\" y=\"{bottom}\" text-anchor=\"end\">0</text>\
         <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{max_x} execs</text>\
         <text class=\"label\" x=\"{}\" y=\"{}\">{label}</text>",
        W - RIGHT,
        LEFT - 6.0,
        top + 10.0,
        LEFT - 6.0,
        W - RIGHT,
        bottom + 14.0,
        LEFT + 8.0,
        top + 12.0,
    );
}

/// The plot of `points`, or `None` when there is nothing to draw.
pub fn svg(points: &[Point]) -> Option<String> {
    let last = points.last()?;
    let max_x = last.execs as f64;
    let upper = points
        .iter()
        .map(|p| p.shapes.max(p.corpus))
        .max()
        .unwrap_or(0);
    let lower = points.iter().map(|p| p.findings).max().unwrap_or(0);
    let h = 2.0 * PANEL + GAP + 24.0;
    let mut out = format!(
        "<svg id=\"discovery-plot\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" role=\"img\" aria-label=\"discovery over executions\">"
    );
    axes(
        &mut out,
        4.0,
        last.execs,
        upper,
        "distinct shapes (blue), corpus size (green)",
    );
    let _ = write!(
        out,
        "<polyline class=\"shapes\" points=\"{}\"/><polyline class=\"corpus\" points=\"{}\"/>",
        polyline(points, max_x, upper as f64, 4.0, |p| p.shapes, false),
        polyline(points, max_x, upper as f64, 4.0, |p| p.corpus, false)
    );
    let top = 4.0 + PANEL + GAP;
    axes(&mut out, top, last.execs, lower, "distinct findings (red)");
    let _ = write!(
        out,
        "<polyline class=\"findings\" points=\"{}\"/></svg>",
        polyline(points, max_x, lower as f64, top, |p| p.findings, true)
    );
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_series_are_drawn_with_a_point_each() {
        let points: Vec<Point> = (1..=5)
            .map(|n| Point {
                execs: n * 10,
                elapsed_s: n as f64,
                shapes: n as usize,
                corpus: 2,
                findings: n as usize / 2,
            })
            .collect();
        let drawn = svg(&points).unwrap();
        assert_eq!(drawn.matches("<polyline").count(), 3);
        assert!(drawn.contains("50 execs"));
        assert!(svg(&[]).is_none());
    }
}

//! Small pieces every chart is made of: escaping, number formats, the
//! colour-blind-safe palette, an accessible `<svg>` opening (`role="img"`,
//! `<title>`, `<desc>`), axes and the hatch pattern withheld cells are drawn with.

use std::fmt::Write;

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A coordinate (two decimals).
pub fn c(x: f64) -> String {
    format!("{x:.2}")
}

/// A rate as a percentage with one decimal.
pub fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// A value for a `data-` attribute (full precision, so tests compare exactly).
pub fn data(x: f64) -> String {
    format!("{x}")
}

/// The Okabe–Ito palette (colour-blind safe), without its yellow (too light on white).
const PALETTE: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];

/// The colour of the `i`th group.
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Opens an accessible SVG of `w` × `h`: its title and description first, so
/// screen readers announce them; a hatch pattern for withheld cells.
pub fn open(id: &str, w: f64, h: f64, title: &str, desc: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"{id}\" class=\"chart\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\"><title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc><defs><pattern id=\"{id}-hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#767676\" stroke-width=\"2\"/></pattern></defs>",
        esc(title),
        esc(desc)
    )
}

/// A horizontal axis at `y` from `x0` to `x1` with `ticks` (position, label) and
/// a label under it.
pub fn x_axis(out: &mut String, y: f64, x0: f64, x1: f64, ticks: &[(f64, String)], label: &str) {
    let _ = write!(
        out,
        "<g class=\"axis\"><line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>",
        c(x0),
        c(y),
        c(x1),
        c(y)
    );
    for (x, t) in ticks {
        let _ = write!(
            out,
            "<line x1=\"{x}\" y1=\"{y}\" x2=\"{x}\" y2=\"{y2}\" stroke=\"#333\"/><text x=\"{x}\" y=\"{ty}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
            esc(t),
            x = c(*x),
            y = c(y),
            y2 = c(y + 4.0),
            ty = c(y + 16.0)
        );
    }
    let _ = write!(
        out,
        "<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\">{}</text></g>",
        c((x0 + x1) / 2.0),
        c(y + 32.0),
        esc(label)
    );
}

/// A vertical axis at `x` from `y0` (top) to `y1` with `ticks` and a label.
pub fn y_axis(out: &mut String, x: f64, y0: f64, y1: f64, ticks: &[(f64, String)], label: &str) {
    let _ = write!(
        out,
        "<g class=\"axis\"><line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>",
        c(x),
        c(y0),
        c(x),
        c(y1)
    );
    for (y, t) in ticks {
        let _ = write!(
            out,
            "<line x1=\"{x2}\" y1=\"{y}\" x2=\"{x}\" y2=\"{y}\" stroke=\"#333\"/><text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\" font-size=\"11\">{}</text>",
            esc(t),
            x = c(x),
            x2 = c(x - 4.0),
            y = c(*y),
            tx = c(x - 6.0),
            ty = c(y + 4.0)
        );
    }
    let _ = write!(
        out,
        "<text class=\"axis-label\" transform=\"translate({},{}) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">{}</text></g>",
        c(x - 42.0),
        c((y0 + y1) / 2.0),
        esc(label)
    );
}

/// Round numbers from 0 to `max` (about five), for a rate axis.
pub fn rate_ticks(max: f64) -> Vec<f64> {
    let step = if max <= 0.2 {
        0.05
    } else if max <= 0.5 {
        0.1
    } else {
        0.25
    };
    let mut v = Vec::new();
    let mut x = 0.0;
    while x <= max + 1e-9 {
        v.push(x);
        x += step;
    }
    v
}

/// The axis end for rates up to `highest`: the next tenth, at least 0.1, at most 1.
pub fn rate_max(highest: f64) -> f64 {
    ((highest * 10.0).ceil() / 10.0).clamp(0.1, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_axes_end_on_round_numbers() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(rate_max(0.43), 0.5);
        assert_eq!(rate_max(0.0), 0.1);
        assert_eq!(rate_max(0.99), 1.0);
        assert_eq!(rate_ticks(0.5).len(), 6);
        assert!(open("x", 10.0, 10.0, "T<", "D").contains("<title id=\"x-title\">T&lt;</title>"));
    }
}

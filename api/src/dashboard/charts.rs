//! The charts, server-rendered as SVG from the tables the equity use cases
//! release. Every mark carries its figures in `data-` attributes and a
//! `<title>` (what a screen reader or a test reads), every chart a title and a
//! description. A withheld group is written out with its rule and never drawn:
//! no dot, no bar, no zero.

use super::strings::{Text, rule, t};
use super::svg::{self, c, colour, data, esc, pct};
use careledger_app::equity::released::{Cell, Group, ReleasedTable, ReleasedTwoWay, TrendPoint};
use careledger_domain::values::Lang;
use std::collections::BTreeMap;
use std::fmt::Write;

const WIDTH: f64 = 680.0;
const LEFT: f64 = 210.0;
const RIGHT: f64 = 30.0;
const ROW: f64 = 28.0;

/// The rule a withheld group of `table` was withheld by (its code and words).
fn withheld_rule(table: &ReleasedTable, group: &str, lang: Lang) -> (String, String) {
    table
        .suppressed
        .iter()
        .find(|w| w.group == group)
        .map(|w| (w.rule.code().to_string(), rule(lang, w.rule).to_string()))
        .unwrap_or_else(|| ("WITHHELD".into(), t(lang, Text::Withheld).into()))
}

/// A withheld group's row: its name, the rule, a hatched band — no mark.
fn withheld_row(
    out: &mut String,
    id: &str,
    y: f64,
    group: &str,
    code: &str,
    words: &str,
    lang: Lang,
) {
    let _ = write!(
        out,
        "<g class=\"withheld\" data-group=\"{g}\" data-rule=\"{code}\" tabindex=\"0\"><title>{g}: {w} — {words}</title><rect x=\"{x}\" y=\"{ry}\" width=\"{rw}\" height=\"{rh}\" fill=\"url(#{id}-hatch)\" opacity=\"0.35\"/><text x=\"{tx}\" y=\"{ty}\" font-size=\"12\" font-style=\"italic\">{w} — {words}</text></g>",
        g = esc(group),
        w = esc(t(lang, Text::Withheld)),
        words = esc(words),
        x = c(LEFT),
        ry = c(y - 9.0),
        rw = c(WIDTH - LEFT - RIGHT),
        rh = c(18.0),
        tx = c(LEFT + 6.0),
        ty = c(y + 4.0),
    );
}

fn label(out: &mut String, y: f64, text: &str, bold: bool) {
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"12\"{}>{}</text>",
        c(LEFT - 8.0),
        c(y + 4.0),
        if bold { " font-weight=\"bold\"" } else { "" },
        esc(text)
    );
}

fn group_label(g: &Group, lang: Lang) -> String {
    if g.is_reference {
        format!("{} ({})", g.group, t(lang, Text::ReferenceMark))
    } else {
        g.group.clone()
    }
}

/// Rates per group with their Wilson intervals (dots and whiskers), the overall
/// rate dashed, the reference group in bold with a square mark.
pub fn rates(table: &ReleasedTable, lang: Lang) -> String {
    let top = 16.0;
    let h = top + ROW * table.groups.len().max(1) as f64 + 50.0;
    let overall = table.summary.as_ref().map(|s| s.overall_rate);
    let highest = table
        .groups
        .iter()
        .filter_map(|g| g.rate_high)
        .chain(overall)
        .fold(0.0, f64::max);
    let max = svg::rate_max(highest);
    let x = |r: f64| LEFT + (WIDTH - LEFT - RIGHT) * (r / max);
    let mut out = svg::open(
        "rates",
        WIDTH,
        h,
        t(lang, Text::Rates),
        t(lang, Text::RatesCaption),
    );
    let bottom = top + ROW * table.groups.len().max(1) as f64;
    for (i, g) in table.groups.iter().enumerate() {
        let y = top + ROW * i as f64 + ROW / 2.0;
        label(&mut out, y, &group_label(g, lang), g.is_reference);
        match (g.suppressed, g.rate, g.rate_low, g.rate_high) {
            (false, Some(r), Some(lo), Some(hi)) => {
                let shape = if g.is_reference {
                    format!(
                        "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>",
                        c(x(r) - 5.0),
                        c(y - 5.0),
                        colour(0)
                    )
                } else {
                    format!(
                        "<circle cx=\"{}\" cy=\"{}\" r=\"5\" fill=\"{}\"/>",
                        c(x(r)),
                        c(y),
                        colour(0)
                    )
                };
                let _ = write!(
                    out,
                    "<g class=\"mark\" data-group=\"{g}\" data-rate=\"{}\" data-low=\"{}\" data-high=\"{}\" data-n=\"{}\"{} tabindex=\"0\"><title>{g}: {} ({}–{}), n = {}</title><line x1=\"{}\" y1=\"{yy}\" x2=\"{}\" y2=\"{yy}\" stroke=\"{}\" stroke-width=\"2\"/>{shape}</g>",
                    data(r),
                    data(lo),
                    data(hi),
                    g.n.unwrap_or(0),
                    if g.is_reference {
                        " data-reference=\"true\""
                    } else {
                        ""
                    },
                    pct(r),
                    pct(lo),
                    pct(hi),
                    g.n.unwrap_or(0),
                    c(x(lo)),
                    c(x(hi)),
                    colour(0),
                    g = esc(&g.group),
                    yy = c(y),
                );
            }
            _ => {
                let (code, words) = withheld_rule(table, &g.group, lang);
                withheld_row(&mut out, "rates", y, &g.group, &code, &words, lang);
            }
        }
    }
    if let Some(o) = overall {
        let _ = write!(
            out,
            "<g class=\"overall\" data-rate=\"{}\"><line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#555\" stroke-dasharray=\"4 3\"/><text x=\"{x}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{} {}</text></g>",
            data(o),
            c(top - 4.0),
            c(bottom),
            c(10.0),
            esc(t(lang, Text::Overall)),
            pct(o),
            x = c(x(o)),
        );
    }
    let ticks: Vec<(f64, String)> = svg::rate_ticks(max)
        .into_iter()
        .map(|r| (x(r), pct(r)))
        .collect();
    svg::x_axis(
        &mut out,
        bottom,
        LEFT,
        WIDTH - RIGHT,
        &ticks,
        t(lang, Text::Rate),
    );
    out.push_str("</svg>");
    out
}

/// Each group's rate ratio to the reference (log scale) with its interval; the
/// parity band (0.8–1.25) shaded, 1 marked.
pub fn ratios(table: &ReleasedTable, lang: Lang) -> String {
    let top = 16.0;
    let h = top + ROW * table.groups.len().max(1) as f64 + 50.0;
    let (mut lo, mut hi) = (0.5_f64, 2.0_f64);
    for g in &table.groups {
        if let (Some(l), Some(u)) = (g.ratio_low, g.ratio_high) {
            lo = lo.min(l.max(0.05));
            hi = hi.max(u.min(20.0));
        }
    }
    let (llo, lhi) = (lo.ln(), hi.ln());
    let x = |r: f64| LEFT + (WIDTH - LEFT - RIGHT) * ((r.clamp(lo, hi).ln() - llo) / (lhi - llo));
    let mut out = svg::open(
        "ratios",
        WIDTH,
        h,
        t(lang, Text::Ratios),
        t(lang, Text::RatiosCaption),
    );
    let bottom = top + ROW * table.groups.len().max(1) as f64;
    let _ = write!(
        out,
        "<rect class=\"parity\" data-low=\"0.8\" data-high=\"1.25\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#009E73\" opacity=\"0.15\"><title>0.8–1.25</title></rect><line x1=\"{one}\" y1=\"{}\" x2=\"{one}\" y2=\"{}\" stroke=\"#555\"/>",
        c(x(0.8)),
        c(top),
        c(x(1.25) - x(0.8)),
        c(bottom - top),
        c(top),
        c(bottom),
        one = c(x(1.0)),
    );
    for (i, g) in table.groups.iter().enumerate() {
        let y = top + ROW * i as f64 + ROW / 2.0;
        label(&mut out, y, &group_label(g, lang), g.is_reference);
        match (g.suppressed, g.ratio, g.ratio_low, g.ratio_high) {
            _ if g.is_reference && !g.suppressed => {}
            (false, Some(r), Some(l), Some(u)) => {
                let _ = write!(
                    out,
                    "<g class=\"mark\" data-group=\"{g}\" data-ratio=\"{}\" data-low=\"{}\" data-high=\"{}\" data-parity=\"{}\" tabindex=\"0\"><title>{g}: {:.2} ({:.2}–{:.2})</title><line x1=\"{}\" y1=\"{yy}\" x2=\"{}\" y2=\"{yy}\" stroke=\"{}\" stroke-width=\"2\"/><circle cx=\"{}\" cy=\"{yy}\" r=\"5\" fill=\"{}\"/></g>",
                    data(r),
                    data(l),
                    data(u),
                    g.parity.unwrap_or(false),
                    r,
                    l,
                    u,
                    c(x(l)),
                    c(x(u)),
                    colour(1),
                    c(x(r)),
                    colour(1),
                    g = esc(&g.group),
                    yy = c(y),
                );
            }
            (false, ..) => {}
            _ => {
                let (code, words) = withheld_rule(table, &g.group, lang);
                withheld_row(&mut out, "ratios", y, &g.group, &code, &words, lang);
            }
        }
    }
    let ticks: Vec<(f64, String)> = [0.1, 0.25, 0.5, 0.8, 1.0, 1.25, 2.0, 4.0, 10.0]
        .into_iter()
        .filter(|r| *r >= lo && *r <= hi)
        .map(|r| (x(r), format!("{r}")))
        .collect();
    svg::x_axis(
        &mut out,
        bottom,
        LEFT,
        WIDTH - RIGHT,
        &ticks,
        t(lang, Text::Ratio),
    );
    out.push_str("</svg>");
    out
}

/// Kaplan–Meier curves per group (share still waiting by day), with the
/// numbers at risk under the axis.
pub fn survival(table: &ReleasedTable, lang: Lang) -> String {
    let released: Vec<&Group> = table
        .groups
        .iter()
        .filter(|g| !g.suppressed && !g.curve.is_empty())
        .collect();
    let ticks: Vec<u32> = released
        .first()
        .map(|g| g.at_risk.iter().map(|(d, _)| *d).collect())
        .unwrap_or_default();
    let last_day = ticks
        .last()
        .copied()
        .map(f64::from)
        .into_iter()
        .chain(released.iter().filter_map(|g| g.curve.last().map(|p| p.0)))
        .fold(1.0_f64, f64::max);
    let (top, plot_h) = (16.0, 220.0);
    let bottom = top + plot_h;
    let risk_top = bottom + 52.0;
    let h = risk_top + 18.0 * (released.len() as f64 + 1.0) + 8.0;
    let x = |d: f64| LEFT + (WIDTH - LEFT - RIGHT) * (d / last_day);
    let y = |s: f64| top + plot_h * (1.0 - s);
    let mut out = svg::open(
        "survival",
        WIDTH,
        h,
        t(lang, Text::Survival),
        t(lang, Text::SurvivalCaption),
    );
    for (i, g) in released.iter().enumerate() {
        let mut d = format!("M{},{}", c(x(0.0)), c(y(1.0)));
        let mut s = 1.0;
        for (day, surv) in &g.curve {
            let _ = write!(d, " H{} V{}", c(x(*day)), c(y(*surv)));
            s = *surv;
        }
        let _ = write!(d, " H{}", c(x(last_day)));
        let _ = write!(
            out,
            "<path class=\"km\" data-group=\"{g}\" data-steps=\"{}\" data-last=\"{}\" d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" tabindex=\"0\"><title>{g}: {} {}</title></path>",
            g.curve.len(),
            data(s),
            colour(i),
            esc(t(lang, Text::Median)),
            g.median.map_or("—".to_string(), |m| format!("{m:.0}")),
            g = esc(&g.group),
        );
    }
    let yt: Vec<(f64, String)> = [0.0, 0.25, 0.5, 0.75, 1.0]
        .into_iter()
        .map(|s| (y(s), pct(s)))
        .collect();
    svg::y_axis(
        &mut out,
        LEFT,
        top,
        bottom,
        &yt,
        t(lang, Text::ShareOfCases),
    );
    let xt: Vec<(f64, String)> = ticks
        .iter()
        .map(|d| (x(f64::from(*d)), d.to_string()))
        .collect();
    svg::x_axis(
        &mut out,
        bottom,
        LEFT,
        WIDTH - RIGHT,
        &xt,
        t(lang, Text::Days),
    );
    // Numbers at risk: one row per group, under the axis.
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\" font-weight=\"bold\">{}</text>",
        c(LEFT - 30.0),
        c(risk_top),
        esc(t(lang, Text::AtRisk))
    );
    for (i, g) in released.iter().enumerate() {
        let ry = risk_top + 18.0 * (i as f64 + 1.0);
        let _ = write!(
            out,
            "<g class=\"at-risk\" data-group=\"{ge}\"><text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\" fill=\"{}\">{ge}</text>",
            c(LEFT - 30.0),
            c(ry),
            colour(i),
            ge = esc(&g.group),
        );
        for (day, n) in &g.at_risk {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" data-day=\"{day}\">{}</text>",
                c(x(f64::from(*day))),
                c(ry),
                n.map_or("<k".to_string(), |n| n.to_string())
                    .replace('<', "&lt;"),
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// Each group's rate month by month; a withheld month is a gap with a marker
/// at the axis, never a zero.
pub fn trend(points: &[TrendPoint], lang: Lang) -> String {
    let mut months: Vec<&str> = points.iter().map(|p| p.month.as_str()).collect();
    months.sort_unstable();
    months.dedup();
    let mut groups: BTreeMap<&str, Vec<&TrendPoint>> = BTreeMap::new();
    for p in points {
        groups.entry(p.group.as_str()).or_default().push(p);
    }
    let highest = points.iter().filter_map(|p| p.rate).fold(0.0, f64::max);
    let max = svg::rate_max(highest);
    let (top, plot_h, left) = (16.0, 220.0, 70.0);
    let bottom = top + plot_h;
    let h = bottom + 50.0 + 18.0 * groups.len() as f64;
    let step = (WIDTH - left - RIGHT) / (months.len().max(2) - 1) as f64;
    let x = |m: &str| left + step * months.iter().position(|x| *x == m).unwrap_or(0) as f64;
    let y = |r: f64| top + plot_h * (1.0 - r / max);
    let mut out = svg::open(
        "trend",
        WIDTH,
        h,
        t(lang, Text::Trend),
        t(lang, Text::TrendCaption),
    );
    if points.is_empty() {
        let _ = write!(
            out,
            "<text class=\"no-data\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\">{}</text>",
            c(WIDTH / 2.0),
            c(top + plot_h / 2.0),
            esc(t(lang, Text::NoData))
        );
    }
    for (i, (group, pts)) in groups.iter().enumerate() {
        let mut sorted = pts.clone();
        sorted.sort_by(|a, b| a.month.cmp(&b.month));
        let mut d = String::new();
        let mut pen_up = true;
        for p in &sorted {
            match p.rate.filter(|_| !p.suppressed) {
                Some(r) => {
                    let _ = write!(
                        d,
                        "{}{},{} ",
                        if pen_up { "M" } else { "L" },
                        c(x(&p.month)),
                        c(y(r))
                    );
                    pen_up = false;
                }
                None => pen_up = true,
            }
        }
        let _ = write!(
            out,
            "<g class=\"series\" data-group=\"{g}\"><path d=\"{}\" fill=\"none\" stroke=\"{col}\" stroke-width=\"2\"/>",
            d.trim_end(),
            g = esc(group),
            col = colour(i),
        );
        for p in &sorted {
            match p.rate.filter(|_| !p.suppressed) {
                Some(r) => {
                    let _ = write!(
                        out,
                        "<circle class=\"mark\" data-group=\"{g}\" data-month=\"{m}\" data-rate=\"{}\" cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{col}\" tabindex=\"0\"><title>{g}, {m}: {}</title></circle>",
                        data(r),
                        c(x(&p.month)),
                        c(y(r)),
                        pct(r),
                        g = esc(group),
                        m = esc(&p.month),
                        col = colour(i),
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        "<text class=\"withheld\" data-group=\"{g}\" data-month=\"{m}\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" fill=\"{col}\">×<title>{g}, {m}: {}</title></text>",
                        c(x(&p.month)),
                        c(bottom - 4.0 - 8.0 * (i % 3) as f64),
                        esc(t(lang, Text::Withheld)),
                        g = esc(group),
                        m = esc(&p.month),
                        col = colour(i),
                    );
                }
            }
        }
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{}\">■ {}</text></g>",
            c(left),
            c(bottom + 50.0 + 18.0 * i as f64),
            colour(i),
            esc(group)
        );
    }
    let yt: Vec<(f64, String)> = svg::rate_ticks(max)
        .into_iter()
        .map(|r| (y(r), pct(r)))
        .collect();
    svg::y_axis(&mut out, left, top, bottom, &yt, t(lang, Text::Rate));
    let every = months.len().div_ceil(8).max(1);
    let xt: Vec<(f64, String)> = months
        .iter()
        .step_by(every)
        .map(|m| (x(m), m.to_string()))
        .collect();
    svg::x_axis(
        &mut out,
        bottom,
        left,
        WIDTH - RIGHT,
        &xt,
        t(lang, Text::Month),
    );
    out.push_str("</svg>");
    out
}

/// The two-way table as a heat map: darker is a higher rate; a withheld cell is
/// hatched and says so.
pub fn heat_map(table: &ReleasedTwoWay, lang: Lang) -> String {
    let mut rows: Vec<&str> = table.cells.iter().map(|c| c.row.as_str()).collect();
    rows.sort_unstable();
    rows.dedup();
    let mut cols: Vec<&str> = table.cells.iter().map(|c| c.column.as_str()).collect();
    cols.sort_unstable();
    cols.dedup();
    let (left, top) = (LEFT, 60.0);
    let cw = ((WIDTH - left - RIGHT) / cols.len().max(1) as f64).min(120.0);
    let ch = 30.0;
    let h = top + ch * rows.len().max(1) as f64 + 16.0;
    let max = table
        .cells
        .iter()
        .filter_map(|c| c.rate)
        .fold(0.0, f64::max)
        .max(1e-9);
    let mut out = svg::open(
        "heatmap",
        WIDTH,
        h,
        t(lang, Text::HeatMap),
        t(lang, Text::HeatMapCaption),
    );
    for (j, col) in cols.iter().enumerate() {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
            c(left + cw * (j as f64 + 0.5)),
            c(top - 8.0),
            esc(col)
        );
    }
    for (i, row) in rows.iter().enumerate() {
        let y = top + ch * i as f64;
        label(&mut out, y + ch / 2.0, row, false);
        for (j, col) in cols.iter().enumerate() {
            let x = left + cw * j as f64;
            let Some(cell) = table
                .cells
                .iter()
                .find(|c| c.row == *row && c.column == *col)
            else {
                continue;
            };
            cell_mark(&mut out, table, cell, x, y, cw, ch, max, lang);
        }
    }
    out.push_str("</svg>");
    out
}

#[allow(clippy::too_many_arguments)]
fn cell_mark(
    out: &mut String,
    table: &ReleasedTwoWay,
    cell: &Cell,
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    max: f64,
    lang: Lang,
) {
    match cell.rate.filter(|_| !cell.suppressed) {
        Some(r) => {
            // Light to dark blue; text white on the dark half.
            let v = r / max;
            let shade = 235.0 - 170.0 * v;
            let fill = format!(
                "rgb({:.0},{:.0},{:.0})",
                shade * 0.55,
                shade * 0.75,
                235.0 - 60.0 * v
            );
            let ink = if v > 0.55 { "#fff" } else { "#000" };
            let _ = write!(
                out,
                "<g class=\"mark\" data-row=\"{r_}\" data-column=\"{c_}\" data-rate=\"{}\" tabindex=\"0\"><title>{r_} × {c_}: {}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" stroke=\"#fff\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" fill=\"{ink}\">{}</text></g>",
                data(r),
                pct(r),
                c(x),
                c(y),
                c(w),
                c(h),
                c(x + w / 2.0),
                c(y + h / 2.0 + 4.0),
                pct(r),
                r_ = esc(&cell.row),
                c_ = esc(&cell.column),
            );
        }
        None => {
            let name = format!("{} × {}", cell.row, cell.column);
            let (code, words) = table
                .suppressed
                .iter()
                .find(|w| w.group == name)
                .map(|w| (w.rule.code().to_string(), rule(lang, w.rule).to_string()))
                .unwrap_or_else(|| ("WITHHELD".into(), t(lang, Text::Withheld).into()));
            let _ = write!(
                out,
                "<g class=\"withheld\" data-row=\"{r_}\" data-column=\"{c_}\" data-rule=\"{code}\" tabindex=\"0\"><title>{r_} × {c_}: {} — {}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"url(#heatmap-hatch)\" stroke=\"#fff\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\">{}</text></g>",
                esc(t(lang, Text::Withheld)),
                esc(&words),
                c(x),
                c(y),
                c(w),
                c(h),
                c(x + w / 2.0),
                c(y + h / 2.0 + 4.0),
                esc(t(lang, Text::Withheld)),
                r_ = esc(&cell.row),
                c_ = esc(&cell.column),
            );
        }
    }
}

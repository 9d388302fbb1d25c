//! The dashboard page: what it shows (read from the URL, so a view can be
//! shared), the sign-in page, and the page itself — the filter form, the four
//! charts each with its caption, its data table and a CSV link.

use super::charts;
use super::strings::{self, Text, t};
use super::svg::{esc, pct};
use careledger_app::equity::released::{Group, ReleasedTable, ReleasedTwoWay, TrendPoint};
use careledger_app::equity::{Filter, Outcome, ReferenceKind};
use careledger_domain::values::{Lang, NeedDomain};
use careledger_projections::equity::cube::Stratifier;
use std::fmt::Write;

/// What the page shows: its URL's parameters, checked.
#[derive(Debug, Clone)]
pub struct View {
    pub lang: Lang,
    pub from: Option<String>,
    pub to: Option<String>,
    pub sites: Option<Vec<String>>,
    pub domain: Option<NeedDomain>,
    pub need: Option<String>,
    pub by: Stratifier,
    pub by2: Stratifier,
    pub outcome: Outcome,
    pub time: Outcome,
    pub reference: ReferenceKind,
    pub reference_group: Option<String>,
}

const RATES: [Outcome; 4] = [
    Outcome::ReferralRate,
    Outcome::CompletionRate,
    Outcome::UnmetNeedRate,
    Outcome::RejectionRate,
];
const TIMES: [Outcome; 2] = [Outcome::TimeToReferral, Outcome::TimeToCompletion];

fn one_of<T: Copy>(
    all: &[T],
    name: &str,
    v: &str,
    named: impl Fn(T) -> &'static str,
) -> Result<T, String> {
    all.iter().copied().find(|x| named(*x) == v).ok_or_else(|| {
        format!(
            "{name}: '{}' is not one of {}",
            v.chars().take(40).collect::<String>(),
            all.iter().map(|x| named(*x)).collect::<Vec<_>>().join(", ")
        )
    })
}

impl View {
    /// The view a query string asks for (`lang` falls back to `default_lang`).
    pub fn parse(pairs: &[(String, String)], default_lang: Lang) -> Result<Self, String> {
        let mut v = View {
            lang: default_lang,
            from: None,
            to: None,
            sites: None,
            domain: None,
            need: None,
            by: Stratifier::AgeBand,
            by2: Stratifier::Sex,
            outcome: Outcome::ReferralRate,
            time: Outcome::TimeToReferral,
            reference: ReferenceKind::Largest,
            reference_group: None,
        };
        for (k, val) in pairs {
            let val = val.trim();
            if val.is_empty() {
                continue;
            }
            match k.as_str() {
                "lang" => {
                    v.lang = Lang::from_tag(val)
                        .ok_or_else(|| format!("lang: '{val}' is not en, fr, nl or de"))?
                }
                "from" => v.from = Some(val.to_string()),
                "to" => v.to = Some(val.to_string()),
                "sites" => {
                    v.sites = Some(
                        val.split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect(),
                    )
                }
                "domain" => {
                    v.domain = Some(one_of(&NeedDomain::ALL, "domain", val, NeedDomain::name)?)
                }
                "need" => v.need = Some(val.to_string()),
                "by" => v.by = one_of(&Stratifier::ALL, "by", val, Stratifier::name)?,
                "by2" => v.by2 = one_of(&Stratifier::ALL, "by2", val, Stratifier::name)?,
                "outcome" => v.outcome = one_of(&RATES, "outcome", val, Outcome::name)?,
                "time" => v.time = one_of(&TIMES, "time", val, Outcome::name)?,
                "reference" => match val {
                    "largest" => v.reference = ReferenceKind::Largest,
                    "most_favourable" => v.reference = ReferenceKind::MostFavourable,
                    group => {
                        v.reference = ReferenceKind::Named;
                        v.reference_group = Some(group.to_string());
                    }
                },
                other => {
                    return Err(format!(
                        "'{}' is not a setting of this page",
                        other.chars().take(40).collect::<String>()
                    ));
                }
            }
        }
        if v.by2 == v.by {
            v.by2 = if v.by == Stratifier::Sex {
                Stratifier::AgeBand
            } else {
                Stratifier::Sex
            };
        }
        Ok(v)
    }

    /// The filter every table of the view shares.
    pub fn filter(&self) -> Filter {
        Filter {
            from: self.from.clone(),
            to: self.to.clone(),
            sites: self.sites.clone(),
            domains: self.domain.map(|d| vec![d]),
            needs: self.need.clone().map(|n| vec![n]),
        }
    }

    /// The view as a query string, with `extra` pairs after it.
    pub fn query(&self, extra: &[(&str, &str)]) -> String {
        let mut p: Vec<(&str, String)> = vec![("lang", self.lang.code().to_string())];
        for (k, v) in [("from", &self.from), ("to", &self.to), ("need", &self.need)] {
            if let Some(v) = v {
                p.push((k, v.clone()));
            }
        }
        if let Some(s) = &self.sites {
            p.push(("sites", s.join(",")));
        }
        if let Some(d) = self.domain {
            p.push(("domain", d.name().to_string()));
        }
        p.push(("by", self.by.name().to_string()));
        p.push(("by2", self.by2.name().to_string()));
        p.push(("outcome", self.outcome.name().to_string()));
        p.push(("time", self.time.name().to_string()));
        p.push((
            "reference",
            match (self.reference, &self.reference_group) {
                (ReferenceKind::MostFavourable, _) => "most_favourable".to_string(),
                (ReferenceKind::Named, Some(g)) => g.clone(),
                _ => "largest".to_string(),
            },
        ));
        for (k, v) in extra {
            p.push((k, v.to_string()));
        }
        serde_urlencoded::to_string(&p).unwrap_or_default()
    }
}

/// What the page shows, as released to the caller.
pub struct Tables {
    pub rates: ReleasedTable,
    pub time: ReleasedTable,
    pub trend: Vec<TrendPoint>,
    pub two_way: ReleasedTwoWay,
}

/// The page's frame: language, title, the stylesheet, the body.
pub fn frame(lang: Lang, title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} — CareLedger</title><link rel=\"stylesheet\" href=\"/dashboard/style.css\"></head><body>{}</body></html>\n",
        lang.code(),
        esc(title),
        body
    )
}

/// The sign-in page (with a refusal's message, if any).
pub fn sign_in(lang: Lang, refusal: Option<&str>) -> String {
    let mut b = format!("<main><h1>{}</h1>", esc(t(lang, Text::Title)));
    if let Some(r) = refusal {
        let _ = write!(b, "<p class=\"error\" role=\"alert\">{}</p>", esc(r));
    }
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/dashboard/session\" class=\"sign-in\"><h2>{}</h2><p>{}</p><label for=\"token\">{}</label><input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required><input type=\"hidden\" name=\"lang\" value=\"{}\"><button type=\"submit\">{}</button></form></main>",
        esc(t(lang, Text::SignInTitle)),
        esc(t(lang, Text::SignInHelp)),
        esc(t(lang, Text::Token)),
        lang.code(),
        esc(t(lang, Text::SignIn)),
    );
    frame(lang, t(lang, Text::SignInTitle), &b)
}

fn select<T: Copy + PartialEq>(
    name: &str,
    label: &str,
    all: &[T],
    chosen: T,
    text: impl Fn(T) -> String,
    value: impl Fn(T) -> &'static str,
) -> String {
    let mut s = format!("<label>{}<select name=\"{name}\">", esc(label));
    for x in all {
        let _ = write!(
            s,
            "<option value=\"{}\"{}>{}</option>",
            value(*x),
            if *x == chosen { " selected" } else { "" },
            esc(&text(*x))
        );
    }
    s.push_str("</select></label>");
    s
}

fn form(v: &View) -> String {
    let l = v.lang;
    let text = |x: &Option<String>| esc(x.as_deref().unwrap_or(""));
    let mut f = format!(
        "<form method=\"get\" action=\"/dashboard\" class=\"filters no-print\"><h2>{}</h2><input type=\"hidden\" name=\"lang\" value=\"{}\">",
        esc(t(l, Text::Filters)),
        l.code()
    );
    let _ = write!(
        f,
        "<label>{}<input name=\"from\" placeholder=\"YYYY-MM\" value=\"{}\"></label><label>{}<input name=\"to\" placeholder=\"YYYY-MM\" value=\"{}\"></label><label>{}<input name=\"sites\" placeholder=\"{}\" value=\"{}\"></label>",
        esc(t(l, Text::From)),
        text(&v.from),
        esc(t(l, Text::To)),
        text(&v.to),
        esc(t(l, Text::Sites)),
        esc(t(l, Text::AllSites)),
        esc(&v.sites.as_ref().map(|s| s.join(",")).unwrap_or_default()),
    );
    let mut d = format!(
        "<label>{}<select name=\"domain\"><option value=\"\">{}</option>",
        esc(t(l, Text::Domain)),
        esc(t(l, Text::AllDomains))
    );
    for x in NeedDomain::ALL {
        let _ = write!(
            d,
            "<option value=\"{}\"{}>{}</option>",
            x.name(),
            if v.domain == Some(x) { " selected" } else { "" },
            x.name().replace('_', " ")
        );
    }
    d.push_str("</select></label>");
    f.push_str(&d);
    let _ = write!(
        f,
        "<label>{}<input name=\"need\" value=\"{}\"></label>",
        esc(t(l, Text::Need)),
        text(&v.need)
    );
    f.push_str(&select(
        "by",
        t(l, Text::Stratifier),
        &Stratifier::ALL,
        v.by,
        |s| strings::stratifier(l, s).into(),
        Stratifier::name,
    ));
    f.push_str(&select(
        "by2",
        t(l, Text::SecondStratifier),
        &Stratifier::ALL,
        v.by2,
        |s| strings::stratifier(l, s).into(),
        Stratifier::name,
    ));
    f.push_str(&select(
        "outcome",
        t(l, Text::Outcome),
        &RATES,
        v.outcome,
        |o| strings::outcome(l, o).into(),
        Outcome::name,
    ));
    f.push_str(&select(
        "time",
        t(l, Text::TimeOutcome),
        &TIMES,
        v.time,
        |o| strings::outcome(l, o).into(),
        Outcome::name,
    ));
    let named = v.reference_group.clone().unwrap_or_default();
    let _ = write!(
        f,
        "<label>{}<select name=\"reference\"><option value=\"largest\"{}>{}</option><option value=\"most_favourable\"{}>{}</option>{}</select></label><button type=\"submit\">{}</button></form>",
        esc(t(l, Text::Reference)),
        if v.reference == ReferenceKind::Largest {
            " selected"
        } else {
            ""
        },
        esc(t(l, Text::Largest)),
        if v.reference == ReferenceKind::MostFavourable {
            " selected"
        } else {
            ""
        },
        esc(t(l, Text::MostFavourable)),
        if v.reference == ReferenceKind::Named {
            format!(
                "<option value=\"{}\" selected>{}</option>",
                esc(&named),
                esc(&named)
            )
        } else {
            String::new()
        },
        esc(t(l, Text::Show)),
    );
    f
}

fn opt(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
    x.map_or_else(|| "—".to_string(), f)
}

/// The data table beside a rate chart.
fn rate_table(id: &str, table: &ReleasedTable, lang: Lang) -> String {
    let mut s = format!(
        "<table id=\"{id}-table\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(t(lang, Text::Group)),
        esc(t(lang, Text::Cases)),
        esc(t(lang, Text::Numerator)),
        esc(t(lang, Text::Rate)),
        esc(t(lang, Text::Interval)),
        esc(t(lang, Text::Ratio)),
    );
    for g in &table.groups {
        row(&mut s, table, g, lang, |g| {
            vec![
                g.n.map_or("—".into(), |n| n.to_string()),
                g.numerator.map_or("—".into(), |n| n.to_string()),
                opt(g.rate, pct),
                match (g.rate_low, g.rate_high) {
                    (Some(l), Some(h)) => format!("{}–{}", pct(l), pct(h)),
                    _ => "—".into(),
                },
                opt(g.ratio, |r| format!("{r:.2}")),
            ]
        });
    }
    s.push_str("</tbody></table>");
    s
}

/// One row of a data table: a withheld group says so and why.
fn row(
    s: &mut String,
    table: &ReleasedTable,
    g: &Group,
    lang: Lang,
    cells: impl Fn(&Group) -> Vec<String>,
) {
    let name = if g.is_reference {
        format!("{} ({})", g.group, t(lang, Text::ReferenceMark))
    } else {
        g.group.clone()
    };
    if g.suppressed {
        let why = table
            .suppressed
            .iter()
            .find(|w| w.group == g.group)
            .map(|w| strings::rule(lang, w.rule))
            .unwrap_or("");
        let _ = write!(
            s,
            "<tr class=\"withheld\"><th scope=\"row\">{}</th><td colspan=\"5\">{} — {}</td></tr>",
            esc(&name),
            esc(t(lang, Text::Withheld)),
            esc(why)
        );
        return;
    }
    let _ = write!(s, "<tr><th scope=\"row\">{}</th>", esc(&name));
    for c in cells(g) {
        let _ = write!(s, "<td>{}</td>", esc(&c));
    }
    s.push_str("</tr>");
}

fn time_table(table: &ReleasedTable, lang: Lang) -> String {
    let mut s = format!(
        "<table id=\"survival-table\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(t(lang, Text::Group)),
        esc(t(lang, Text::Cases)),
        esc(t(lang, Text::Events)),
        esc(t(lang, Text::Median)),
        esc(t(lang, Text::Interval)),
    );
    for g in &table.groups {
        row(&mut s, table, g, lang, |g| {
            vec![
                g.n.map_or("—".into(), |n| n.to_string()),
                g.events.map_or("—".into(), |n| n.to_string()),
                opt(g.median, |m| format!("{m:.0}")),
                match (g.median_low, g.median_high) {
                    (Some(l), Some(h)) => format!("{l:.0}–{h:.0}"),
                    _ => "—".into(),
                },
            ]
        });
    }
    s.push_str("</tbody></table>");
    s
}

fn withheld_list(table: &ReleasedTable, lang: Lang) -> String {
    if table.suppressed.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "<p class=\"note\">{}</p><ul class=\"withheld-list\">",
        esc(t(lang, Text::WithheldNote))
    );
    for w in &table.suppressed {
        let _ = write!(
            s,
            "<li data-group=\"{g}\" data-rule=\"{}\">{g}: {}</li>",
            w.rule.code(),
            esc(strings::rule(lang, w.rule)),
            g = esc(&w.group)
        );
    }
    s.push_str("</ul>");
    s
}

fn section(
    id: &str,
    title: &str,
    caption: &str,
    chart: &str,
    table: &str,
    csv: &str,
    lang: Lang,
) -> String {
    format!(
        "<section id=\"{id}-section\" aria-labelledby=\"{id}-h\"><h2 id=\"{id}-h\">{}</h2><div class=\"pair\"><figure>{chart}<figcaption>{}</figcaption></figure><div class=\"data\">{table}<p class=\"no-print\"><a class=\"csv\" href=\"{}\" download>{}</a></p></div></div></section>",
        esc(title),
        esc(caption),
        esc(csv),
        esc(t(lang, Text::DownloadCsv)),
    )
}

/// The dashboard page for `who`, with the sign-out form's CSRF token.
pub fn dashboard(v: &View, tables: &Tables, who: &str, csrf: &str) -> String {
    let l = v.lang;
    let mut b = String::with_capacity(64 * 1024);
    let _ = write!(
        b,
        "<header><h1>{}</h1><nav class=\"no-print\" aria-label=\"{}\">",
        esc(t(l, Text::Title)),
        esc(t(l, Text::Language))
    );
    for lang in Lang::ALL {
        let mut other = v.clone();
        other.lang = lang;
        let _ = write!(
            b,
            "<a href=\"/dashboard?{}\" hreflang=\"{c}\" lang=\"{c}\"{}>{}</a> ",
            esc(&other.query(&[])),
            if lang == l {
                " aria-current=\"page\""
            } else {
                ""
            },
            lang.code().to_uppercase(),
            c = lang.code(),
        );
    }
    let _ = write!(
        b,
        "</nav><form method=\"post\" action=\"/dashboard/signout\" class=\"sign-out no-print\"><span>{} {}</span><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">{}</button></form></header><main>",
        esc(t(l, Text::SignedInAs)),
        esc(who),
        esc(csrf),
        esc(t(l, Text::SignOut)),
    );
    b.push_str(&form(v));
    let control = if tables.rates.control.max_deviation > 0 {
        Text::Perturbed
    } else {
        Text::Exact
    };
    let _ = write!(b, "<p class=\"note\">{}</p>", esc(t(l, control)));
    let csv = |table: &str| format!("/dashboard/csv?{}", v.query(&[("table", table)]));
    let rates_title = format!(
        "{} — {} × {}",
        t(l, Text::Rates),
        strings::outcome(l, v.outcome),
        strings::stratifier(l, v.by)
    );
    let mut table = rate_table("rates", &tables.rates, l);
    table.push_str(&withheld_list(&tables.rates, l));
    b.push_str(&section(
        "rates",
        &rates_title,
        t(l, Text::RatesCaption),
        &charts::rates(&tables.rates, l),
        &table,
        &csv("rates"),
        l,
    ));
    b.push_str(&section(
        "ratios",
        t(l, Text::Ratios),
        t(l, Text::RatiosCaption),
        &charts::ratios(&tables.rates, l),
        "",
        &csv("rates"),
        l,
    ));
    let _ = write!(
        b,
        "<section id=\"measures-section\" aria-labelledby=\"measures-h\"><h2 id=\"measures-h\">{}</h2><p class=\"note\">{}</p>{}</section>",
        esc(t(l, Text::Summary)),
        esc(t(l, Text::MeasuresCaption)),
        super::measures::table(&tables.rates, l)
    );
    let time_title = format!("{} — {}", t(l, Text::Survival), strings::outcome(l, v.time));
    let mut table = time_table(&tables.time, l);
    table.push_str(&withheld_list(&tables.time, l));
    b.push_str(&section(
        "survival",
        &time_title,
        t(l, Text::SurvivalCaption),
        &charts::survival(&tables.time, l),
        &table,
        &csv("time"),
        l,
    ));
    b.push_str(&section(
        "trend",
        t(l, Text::Trend),
        t(l, Text::TrendCaption),
        &charts::trend(&tables.trend, l),
        "",
        &csv("trend"),
        l,
    ));
    let heat_title = format!(
        "{} — {} × {}",
        t(l, Text::HeatMap),
        strings::stratifier(l, v.by),
        strings::stratifier(l, v.by2)
    );
    b.push_str(&section(
        "heatmap",
        &heat_title,
        t(l, Text::HeatMapCaption),
        &charts::heat_map(&tables.two_way, l),
        "",
        &csv("twoway"),
        l,
    ));
    b.push_str("</main>");
    frame(l, t(l, Text::Title), &b)
}

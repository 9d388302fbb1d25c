//! The open aggregate data set for consortium sharing (issue 14): the standard
//! equity tables by each stratifier and quarter of identification, every count
//! perturbed by the cell-key method and small cells withheld, as a Frictionless
//! Tabular Data Package (`datapackage.json`, one CSV per stratifier, a README of
//! methods). Pure: the caller writes the files.

use super::cube::{Counts, Cube, CubeFilter, Month, Stratifier};
use super::disclosure::{self, CellKeyMethod};
use super::report::{self, OutcomeKind, Reference, SuppressionRule};

/// The package's format version: bumped when columns or files change meaning.
pub const FORMAT_VERSION: &str = "1.0.0";

/// One file of the package.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub path: String,
    pub text: String,
}

/// A stratifier's name in file names and headers.
pub fn stratifier_name(s: Stratifier) -> &'static str {
    s.name()
}

const OUTCOMES: [(OutcomeKind, &str); 3] = [
    (OutcomeKind::ReferralRate, "referral_rate"),
    (OutcomeKind::CompletionRate, "completion_rate"),
    (OutcomeKind::UnmetNeedRate, "unmet_need_rate"),
];

fn rule_name(r: SuppressionRule) -> &'static str {
    match r {
        SuppressionRule::DenominatorBelowK => "denominator_below_k",
        SuppressionRule::NumeratorBelowK => "numerator_below_k",
        SuppressionRule::ComplementBelowK => "complement_below_k",
        SuppressionRule::Complementary => "complementary",
        SuppressionRule::TotalBelowK => "total_below_k",
    }
}

/// `YYYY-Qn` of a month.
fn quarter_label(q: Month) -> String {
    format!("{:04}-Q{}", q / 12, (q % 12) / 3 + 1)
}

/// The months of identification the cube holds, first and last.
fn span(cube: &Cube) -> Option<(Month, Month)> {
    let months: Vec<Month> = cube
        .trend(Stratifier::Site, &CubeFilter::default())
        .into_iter()
        .map(|(m, _, _)| m)
        .collect();
    Some((*months.iter().min()?, *months.iter().max()?))
}

/// A CSV writer into memory (the `csv` crate: RFC 4180 quoting, `\n` line ends).
type Csv = csv::Writer<Vec<u8>>;

fn writer() -> Csv {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new())
}

/// Writes one record; writing into memory cannot fail.
fn record<I, T>(w: &mut Csv, fields: I)
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    w.write_record(fields).expect("writing CSV into memory");
}

fn header(w: &mut Csv, by: Stratifier) {
    let mut h = vec!["quarter".to_string(), stratifier_name(by).to_string()];
    for (_, o) in OUTCOMES {
        for suffix in ["_denominator", "_numerator", "", "_low", "_high"] {
            h.push(format!("{o}{suffix}"));
        }
    }
    h.push("withheld".into());
    record(w, &h);
}

/// The rows of one stratifier for one quarter.
fn rows(w: &mut Csv, quarter: &str, groups: &[(String, Counts)], k: u64) {
    let tables: Vec<report::EquityTable> = OUTCOMES
        .iter()
        .map(|(o, _)| report::table(groups, *o, &Reference::Largest, k))
        .collect();
    // A group too small for its referral rate (its cases from 1 to k − 1, or the
    // quarter's total) is left out: a listed name proves someone has that
    // characteristic, as perturbation never makes a count from nothing.
    let referral = &tables[0];
    for (g, _) in groups.iter().filter(|(g, _)| {
        !referral.suppressed.iter().any(|(s, r)| {
            s == g
                && matches!(
                    r,
                    SuppressionRule::DenominatorBelowK | SuppressionRule::TotalBelowK
                )
        })
    }) {
        let mut line = vec![quarter.to_string(), g.clone()];
        let mut withheld = Vec::new();
        for (t, (_, name)) in tables.iter().zip(OUTCOMES) {
            let row = t.rows.iter().find(|r| &r.group == g);
            match row.and_then(|r| r.released.as_ref()) {
                Some(x) => line.extend([
                    x.n.to_string(),
                    x.numerator.to_string(),
                    format!("{:.6}", x.rate),
                    format!("{:.6}", x.ci.low),
                    format!("{:.6}", x.ci.high),
                ]),
                None => {
                    line.extend(std::iter::repeat_n(String::new(), 5));
                    let rule = t
                        .suppressed
                        .iter()
                        .find(|(s, _)| s == g)
                        .map(|(_, r)| rule_name(*r));
                    // A group with no case for this outcome (a zero denominator)
                    // is simply absent, not withheld.
                    if let Some(rule) = rule {
                        withheld.push(format!("{name}:{rule}"));
                    }
                }
            }
        }
        line.push(withheld.join(";"));
        record(w, &line);
    }
}

fn schema(by: Stratifier) -> serde_json::Value {
    let mut fields = vec![
        serde_json::json!({ "name": "quarter", "type": "string", "description": "Quarter of identification of the need cases, YYYY-Qn.", "constraints": { "required": true, "pattern": "[0-9]{4}-Q[1-4]" } }),
        serde_json::json!({ "name": stratifier_name(by), "type": "string", "description": format!("The group: the need cases' {}.", stratifier_name(by).replace('_', " ")), "constraints": { "required": true } }),
    ];
    for (_, o) in OUTCOMES {
        fields.push(serde_json::json!({ "name": format!("{o}_denominator"), "type": "integer", "description": format!("Denominator of the {} (perturbed count); empty when withheld.", o.replace('_', " ")), "constraints": { "minimum": 0 } }));
        fields.push(serde_json::json!({ "name": format!("{o}_numerator"), "type": "integer", "description": format!("Numerator of the {} (perturbed count); empty when withheld.", o.replace('_', " ")), "constraints": { "minimum": 0 } }));
        fields.push(serde_json::json!({ "name": o, "type": "number", "description": format!("The {}: numerator over denominator.", o.replace('_', " ")), "constraints": { "minimum": 0, "maximum": 1 } }));
        fields.push(serde_json::json!({ "name": format!("{o}_low"), "type": "number", "description": "Wilson 95% interval, lower bound.", "constraints": { "minimum": 0, "maximum": 1 } }));
        fields.push(serde_json::json!({ "name": format!("{o}_high"), "type": "number", "description": "Wilson 95% interval, upper bound.", "constraints": { "minimum": 0, "maximum": 1 } }));
    }
    fields.push(serde_json::json!({ "name": "withheld", "type": "string", "description": "Outcomes withheld for this group and the rule (outcome:rule, separated by ';'): denominator_below_k, numerator_below_k, complement_below_k, complementary, total_below_k." }));
    serde_json::json!({ "fields": fields, "missingValues": [""], "primaryKey": ["quarter", stratifier_name(by)] })
}

/// The README of methods.
fn readme(k: u64, created: &str, version: &str) -> String {
    format!(
        "# CareLedger: equity of access to supportive care, open aggregate data

Version {version}, created {created}. A Frictionless Tabular Data Package: `datapackage.json`
describes each file and column.

## What is counted

Need cases (one need identified for one person with cancer or a relative), by quarter of
identification and by one characteristic at a time (age band, sex, region, country,
language, preferential reimbursement, deprivation quintile, patient or relative, site,
cancer site group, domain of the need) — one file per characteristic.

- *Referral rate*: need cases referred to a service / need cases identified.
- *Completion rate*: need cases completed with the need met or partly met / need cases referred.
- *Unmet-need rate*: need cases closed for want of a service, or completed with the need not
  met / need cases identified.

Each rate comes with its 95% Wilson interval.

## Disclosure control

1. **Perturbation (cell-key method)**: every count is changed by a small pseudo-random amount
   drawn from a published table — a count of 1 moves by -1, 0, +1 or +2 with probabilities
   0.35, 0.35, 0.25, 0.05; larger counts by -2 to +2 with probabilities 0.05, 0.30, 0.30,
   0.30, 0.05 (zero mean; variance 0.8 and 1; at most {max} either way). Zeros stay zero.
   The same need cases always get the same change, whichever table they appear in, so
   tables cannot be subtracted from one another to reveal a hidden count. A numerator is
   never larger than its denominator. Rates and intervals are computed from the perturbed
   counts; so counts do not add up exactly across files and quarters.
2. **Small-cell suppression**: a rate is withheld when its denominator, numerator or their
   difference is from 1 to {km1} (k = {k}); when a single group of a quarter is withheld, the
   smallest other group is withheld too (complementary suppression). The `withheld` column
   names the rule. A group with fewer than k need cases in a quarter is left out of that
   quarter altogether (its name alone would say that someone has that characteristic).

No figure about an individual is included.
",
        max = disclosure::MAX_DEVIATION,
        km1 = k.saturating_sub(1),
    )
}

/// Builds the package: `datapackage.json`, `README.md` and one CSV per stratifier.
/// `created` is an RFC 3339 time; `version` the package's version.
pub fn package(cube: &Cube, method: &CellKeyMethod, k: u64, created: &str) -> Vec<File> {
    let version = FORMAT_VERSION;
    let mut files = Vec::new();
    let mut resources = Vec::new();
    let quarters: Vec<Month> = match span(cube) {
        Some((first, last)) => {
            let (a, b) = (first - first % 3, last - last % 3);
            (a..=b).step_by(3).collect()
        }
        None => Vec::new(),
    };
    for by in Stratifier::ALL {
        let name = stratifier_name(by);
        let mut w = writer();
        header(&mut w, by);
        for q in &quarters {
            let filter = CubeFilter {
                from: Some(*q),
                to: Some(q + 2),
                ..CubeFilter::default()
            };
            let groups: Vec<(String, Counts)> = cube
                .groups(by, &filter)
                .into_iter()
                .map(|(g, c)| (g, method.perturb(&c)))
                .filter(|(_, c)| c.identified > 0)
                .collect();
            rows(&mut w, &quarter_label(*q), &groups, k);
        }
        let csv = String::from_utf8(w.into_inner().expect("writing CSV into memory"))
            .expect("CSV of UTF-8 fields is UTF-8");
        let path = format!("equity-by-{}.csv", name.replace('_', "-"));
        resources.push(serde_json::json!({
            "name": format!("equity-by-{}", name.replace('_', "-")),
            "path": path,
            "profile": "tabular-data-resource",
            "title": format!("Equity of access by {}, by quarter", name.replace('_', " ")),
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": schema(by),
        }));
        files.push(File { path, text: csv });
    }
    let descriptor = serde_json::json!({
        "profile": "tabular-data-package",
        "name": "careledger-equity-of-access",
        "title": "Equity of access to supportive care in cancer: referral, completion and unmet-need rates",
        "description": "Aggregate equity-of-access tables by quarter and by one characteristic at a time. Every count is perturbed by the cell-key method and small cells are withheld; see README.md.",
        "version": version,
        "created": created,
        "licenses": [{ "name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0", "path": "https://creativecommons.org/licenses/by/4.0/" }],
        "keywords": ["cancer", "supportive care", "referral", "equity", "health equity"],
        "resources": resources,
    });
    files.push(File {
        path: "datapackage.json".into(),
        text: serde_json::to_string_pretty(&descriptor).expect("JSON") + "\n",
    });
    files.push(File {
        path: "README.md".into(),
        text: readme(k, created, version),
    });
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_are_labelled_by_year_and_quarter() {
        assert_eq!(quarter_label(2026 * 12), "2026-Q1");
        assert_eq!(quarter_label(2026 * 12 + 11), "2026-Q4");
        assert_eq!(quarter_label(2025 * 12 + 4), "2025-Q2");
    }

    #[test]
    fn an_empty_cube_gives_a_package_with_headers_only() {
        let cube = crate::Casework::default();
        let files = package(
            cube.equity(),
            &CellKeyMethod::new(b"secret"),
            5,
            "2026-11-30T00:00:00Z",
        );
        assert_eq!(files.len(), Stratifier::ALL.len() + 2);
        let csv = files
            .iter()
            .find(|f| f.path == "equity-by-language.csv")
            .unwrap();
        assert_eq!(csv.text.lines().count(), 1);
        assert!(
            csv.text
                .starts_with("quarter,language,referral_rate_denominator")
        );
        let d: serde_json::Value = serde_json::from_str(
            &files
                .iter()
                .find(|f| f.path == "datapackage.json")
                .unwrap()
                .text,
        )
        .unwrap();
        assert_eq!(
            d["resources"].as_array().unwrap().len(),
            Stratifier::ALL.len()
        );
        assert_eq!(d["version"], FORMAT_VERSION);
    }

    #[test]
    fn fields_with_commas_or_quotes_are_quoted() {
        let mut w = writer();
        record(&mut w, ["a,b", "say \"hi\"", "plain", "two\nlines"]);
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(text, "\"a,b\",\"say \"\"hi\"\"\",plain,\"two\nlines\"\n");
    }
}

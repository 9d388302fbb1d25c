//! The equity tables as CSV (RFC 4180 quoting, by the `csv` crate): the header,
//! one record per released group, and a last column `disclosure_control` naming
//! the disclosure control on every row, so a file that leaves the server says
//! how its counts were protected.

use super::released::DisclosureControl;

/// `header` and `records` as CSV, each line ending with the disclosure control.
pub fn tagged<'h, R>(
    header: impl IntoIterator<Item = &'h str>,
    records: impl IntoIterator<Item = R>,
    control: &DisclosureControl,
) -> String
where
    R: IntoIterator,
    R::Item: AsRef<[u8]>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    write(&mut w, header, records, control.csv_name()).expect("writing CSV to memory cannot fail");
    let bytes = w.into_inner().expect("writing CSV to memory cannot fail");
    String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8")
}

fn write<'h, R>(
    w: &mut csv::Writer<Vec<u8>>,
    header: impl IntoIterator<Item = &'h str>,
    records: impl IntoIterator<Item = R>,
    tag: &str,
) -> csv::Result<()>
where
    R: IntoIterator,
    R::Item: AsRef<[u8]>,
{
    for h in header {
        w.write_field(h)?;
    }
    w.write_record(["disclosure_control"])?;
    for r in records {
        for field in r {
            w.write_field(field)?;
        }
        w.write_record([tag])?;
    }
    w.flush()?;
    Ok(())
}

/// A trend as CSV: one record per month and group, withheld months empty but
/// flagged (never zero).
pub fn trend(points: &[super::released::TrendPoint]) -> String {
    let control = points
        .first()
        .map(|p| p.control)
        .unwrap_or_else(|| DisclosureControl::new(None, 0));
    let num = |x: Option<u64>| x.map(|v| v.to_string()).unwrap_or_default();
    let rate = |x: Option<f64>| x.map(|v| format!("{v:.6}")).unwrap_or_default();
    tagged(
        [
            "month",
            "group",
            "n",
            "numerator",
            "rate",
            "rate_low",
            "rate_high",
            "withheld",
        ],
        points.iter().map(|p| {
            [
                p.month.clone(),
                p.group.clone(),
                num(p.n),
                num(p.numerator),
                rate(p.rate),
                rate(p.rate_low),
                rate(p.rate_high),
                p.suppressed.to_string(),
            ]
        }),
        &control,
    )
}

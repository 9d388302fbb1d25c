//! The summary measures of inequality of the page's rate table (WHO HEAT): the
//! difference, ratio, PAR and PAF of every table, and the ordered or unordered
//! measures its stratifier calls for — each with its value, what it means and a
//! link to its definition. Computed by the equity use case from the released
//! groups only (withheld ones left out, and the note says how many).

use super::strings::{Text, t};
use super::svg::esc;
use careledger_app::equity::released::ReleasedTable;
use careledger_domain::values::Lang;
use careledger_projections::equity::inequality::Definition;
use std::fmt::Write;

/// The value a measure (by code) has in `table`.
fn value(table: &ReleasedTable, code: &str) -> Option<f64> {
    let s = table.summary.as_ref();
    let i = table.inequality.as_ref();
    match code {
        "D" => s.and_then(|s| s.max_difference),
        "R" => s.and_then(|s| s.max_min_ratio),
        "PAR" => s.and_then(|s| s.par),
        "PAF" => s.and_then(|s| s.paf),
        "SII" => i.and_then(|i| i.sii),
        "RII" => i.and_then(|i| i.rii),
        "ACI" => i.and_then(|i| i.aci),
        "RCI" => i.and_then(|i| i.rci),
        "BGV" => i.and_then(|i| i.bgv),
        "MDBW" => i.and_then(|i| i.mdb_weighted),
        "MDBU" => i.and_then(|i| i.mdb_unweighted),
        "MDMW" => i.and_then(|i| i.mdm_weighted),
        "MDMU" => i.and_then(|i| i.mdm_unweighted),
        "TI" => i.and_then(|i| i.theil),
        "MLD" => i.and_then(|i| i.mld),
        _ => None,
    }
}

/// The measures' table (`id="measures-table"`), each row `data-code` and
/// `data-value` for tests, the definition linked.
pub fn table(table: &ReleasedTable, lang: Lang) -> String {
    let ordered = table.inequality.as_ref().is_some_and(|i| i.ordered);
    let mut s = format!(
        "<table id=\"measures-table\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(t(lang, Text::Summary)),
        esc(t(lang, Text::Value)),
        esc(t(lang, Text::Meaning)),
    );
    for d in Definition::for_table(ordered) {
        let v = value(table, d.code);
        let _ = write!(
            s,
            "<tr data-code=\"{}\"{}><th scope=\"row\"><a href=\"{}\" rel=\"external noopener\">{} ({})</a></th><td>{}</td><td class=\"meaning\">{}</td></tr>",
            d.code,
            v.map(|v| format!(" data-value=\"{v}\""))
                .unwrap_or_default(),
            esc(d.url),
            esc(d.name),
            d.code,
            v.map_or("—".to_string(), |v| format!("{v:.4}")),
            esc(d.text),
        );
    }
    s.push_str("</tbody></table>");
    if let Some(i) = &table.inequality {
        let _ = write!(s, "<p class=\"note\">{}</p>", esc(&i.note()));
    }
    s
}

//! A Task search's parameters (`GET /fhir/Task?…`), parsed and checked: a
//! parameter this server does not support, given twice where once is meant,
//! or with a value it cannot read is refused (400 with an
//! `OperationOutcome`), never silently ignored — a client that believes it
//! filtered must not get everything.

use super::codes;
use careledger_app::fhir::{ReferralQuery, parse_referral_resource_id};
use careledger_domain::ids::{NeedCaseId, OrganisationId, RecipientId, ReferralId};
use careledger_domain::values::SiteId;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

/// The default page size, and the largest.
pub const DEFAULT_COUNT: usize = 20;
pub const MAX_COUNT: usize = careledger_app::fhir::referrals::MAX_PAGE;

/// A parsed Task search.
#[derive(Debug, Default)]
pub struct TaskSearch {
    pub query: ReferralQuery,
    pub count: usize,
    /// `_include=Task:focus`: the ServiceRequests too.
    pub include_focus: bool,
    /// Where this page starts (after this referral).
    pub after: Option<(NeedCaseId, ReferralId)>,
    /// The parameters as given, `_cursor` aside (the paging links repeat them).
    pub echo: Vec<(String, String)>,
}

/// Why a search was refused: the issue type and what to tell the client.
#[derive(Debug, PartialEq, Eq)]
pub struct SearchError {
    pub code: &'static str,
    pub message: String,
}

fn invalid(message: String) -> SearchError {
    SearchError {
        code: "invalid",
        message,
    }
}

/// A reference parameter's id: `Type/id` or the bare id.
fn reference<'a>(value: &'a str, ty: &str) -> &'a str {
    value
        .strip_prefix(ty)
        .and_then(|v| v.strip_prefix('/'))
        .unwrap_or(value)
}

/// A `date` search value as the range it covers, `[start, end)`: a day, a
/// month, a year, or an instant (to the second or the millisecond).
fn date_range(v: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        let t = t.with_timezone(&Utc);
        let step = if v.contains('.') {
            Duration::milliseconds(1)
        } else {
            Duration::seconds(1)
        };
        return Some((t, t + step));
    }
    let day = |y: i32, m: u32, d: u32| {
        NaiveDate::from_ymd_opt(y, m, d)
            .map(|d| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap()))
    };
    let parts: Vec<&str> = v.split('-').collect();
    let num = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i32>().ok())
            .flatten()
    };
    match parts.as_slice() {
        [y] => {
            let y = num(y, 4)?;
            Some((day(y, 1, 1)?, day(y + 1, 1, 1)?))
        }
        [y, m] => {
            let (y, m) = (num(y, 4)?, num(m, 2)? as u32);
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            Some((day(y, m, 1)?, day(ny, nm, 1)?))
        }
        [y, m, d] => {
            let start = day(num(y, 4)?, num(m, 2)? as u32, num(d, 2)? as u32)?;
            Some((start, start + Duration::days(1)))
        }
        _ => None,
    }
}

/// `_lastUpdated=[prefix]date` as the half-open range of times it admits.
fn last_updated(v: &str) -> Result<careledger_app::fhir::referrals::TimeRange, SearchError> {
    let (prefix, date) = match v.get(..2) {
        Some(p @ ("eq" | "gt" | "ge" | "lt" | "le" | "ne" | "sa" | "eb" | "ap")) => (p, &v[2..]),
        _ => ("eq", v),
    };
    let Some((start, end)) = date_range(date) else {
        return Err(invalid(format!(
            "_lastUpdated: '{v}' is not a FHIR date or instant (e.g. 2026-11-30, 2026-11-30T08:00:00Z, with an optional gt, ge, lt, le or eq prefix)"
        )));
    };
    Ok(match prefix {
        "eq" => (Some(start), Some(end)),
        "gt" | "sa" => (Some(end), None),
        "ge" => (Some(start), None),
        "lt" | "eb" => (None, Some(start)),
        "le" => (None, Some(end)),
        p => {
            return Err(SearchError {
                code: "not-supported",
                message: format!(
                    "_lastUpdated: the prefix '{p}' is not supported (use eq, gt, ge, lt or le)"
                ),
            });
        }
    })
}

/// Parses a search of a referral's resources (`Task`, `ServiceRequest`,
/// `Consent`): the same parameters; `status` and `_include` are Task's only.
pub fn parse_referral_search(
    kind: &str,
    pairs: &[(String, String)],
) -> Result<TaskSearch, SearchError> {
    if kind != "Task"
        && let Some((k, _)) = pairs.iter().find(|(k, _)| k == "status" || k == "_include")
    {
        return Err(SearchError {
            code: "not-supported",
            message: format!(
                "the search parameter '{k}' is supported on Task, not on {kind} (owner, requester, patient, _lastUpdated, _count are)"
            ),
        });
    }
    let mut s = TaskSearch {
        count: DEFAULT_COUNT,
        ..TaskSearch::default()
    };
    let mut seen = std::collections::HashSet::new();
    for (k, v) in pairs {
        let once = !matches!(k.as_str(), "_lastUpdated" | "_include");
        if once && !seen.insert(k.as_str()) {
            return Err(invalid(format!(
                "the parameter '{k}' is given twice (give several values in one, separated by commas)"
            )));
        }
        if v.is_empty() {
            return Err(invalid(format!("the parameter '{k}' has no value")));
        }
        match k.as_str() {
            // R4's names for the performing organisation: Task `owner`,
            // ServiceRequest `performer`, Consent `actor` (each type also takes
            // `owner`).
            "owner" | "performer" | "actor" => {
                if (k == "performer" && kind != "ServiceRequest")
                    || (k == "actor" && kind != "Consent")
                {
                    return Err(SearchError {
                        code: "not-supported",
                        message: format!(
                            "the search parameter '{k}' is not one of {kind}'s (owner is)"
                        ),
                    });
                }
                let id = reference(v, "Organization");
                s.query.owner = Some(OrganisationId::parse(id).map_err(|_| {
                    invalid(format!(
                        "{k}: '{v}' is not an Organization reference (Organization/<uuid>)"
                    ))
                })?);
            }
            "patient" | "subject" => {
                let id = reference(v, "Patient");
                s.query.patient = Some(RecipientId::parse(id).map_err(|_| {
                    invalid(format!(
                        "{k}: '{v}' is not a Patient reference (Patient/<uuid>)"
                    ))
                })?);
            }
            "requester" | "requester:identifier" => {
                let site = match v.split_once('|') {
                    Some((system, value)) if system == codes::SITES || system.is_empty() => value,
                    Some((system, _)) => {
                        return Err(invalid(format!(
                            "requester: the identifier system '{system}' is not the sites' ({})",
                            codes::SITES
                        )));
                    }
                    None => v.as_str(),
                };
                s.query.site = Some(
                    SiteId::parse(site)
                        .map_err(|_| invalid(format!("requester: '{site}' is not a site id")))?,
                );
            }
            "status" => {
                let mut all = Vec::new();
                for code in v.split(',') {
                    let Some(statuses) = codes::statuses_for_task_code(code) else {
                        return Err(invalid(format!(
                            "status: '{code}' is not a Task status (requested, accepted, rejected, cancelled, in-progress, on-hold, failed, completed, entered-in-error…)"
                        )));
                    };
                    all.extend(statuses);
                }
                s.query.statuses = Some(all);
            }
            "_lastUpdated" => s.query.updated.push(last_updated(v)?),
            "_count" => {
                s.count = match v.parse::<usize>() {
                    Ok(n) if (1..=MAX_COUNT).contains(&n) => n,
                    _ => {
                        return Err(invalid(format!(
                            "_count: '{v}' is not a page size from 1 to {MAX_COUNT}"
                        )));
                    }
                }
            }
            "_include" => {
                if v != "Task:focus" && v != "Task:focus:ServiceRequest" {
                    return Err(SearchError {
                        code: "not-supported",
                        message: format!("_include: '{v}' is not supported (Task:focus is)"),
                    });
                }
                s.include_focus = true;
            }
            "_cursor" => {
                s.after = Some(parse_referral_resource_id(v).ok_or_else(|| {
                    invalid(
                        "_cursor: not a page token of this server (follow the bundle's next link)"
                            .to_string(),
                    )
                })?);
                continue;
            }
            "_format"
                if matches!(
                    v.as_str(),
                    "json" | "application/fhir+json" | "application/json"
                ) => {}
            "_format" => {
                return Err(SearchError {
                    code: "not-supported",
                    message: format!("_format: '{v}' is not served (JSON is)"),
                });
            }
            other => {
                return Err(SearchError {
                    code: "not-supported",
                    message: format!(
                        "the search parameter '{other}' is not supported on {kind} (owner, requester, status, patient, _lastUpdated, _count, _include=Task:focus are, the last two and status on Task only)"
                    ),
                });
            }
        }
        s.echo.push((k.clone(), v.clone()));
    }
    Ok(s)
}

/// A search of the other resource types: the one reference or id parameter
/// each allows, `_count` and the page cursor.
#[derive(Debug, Default)]
pub struct SimpleSearch {
    /// The value of the type's own parameter, if given.
    pub value: Option<String>,
    pub count: usize,
    pub cursor: Option<String>,
    pub echo: Vec<(String, String)>,
}

/// Parses a search of `kind` whose one parameter is `param` (`patient`,
/// `organization`, `_id`), required or not.
pub fn parse_simple_search(
    kind: &str,
    param: &str,
    required: bool,
    pairs: &[(String, String)],
) -> Result<SimpleSearch, SearchError> {
    let mut s = SimpleSearch {
        count: DEFAULT_COUNT,
        ..SimpleSearch::default()
    };
    let mut seen = std::collections::HashSet::new();
    for (k, v) in pairs {
        if !seen.insert(k.as_str()) {
            return Err(invalid(format!("the parameter '{k}' is given twice")));
        }
        if v.is_empty() {
            return Err(invalid(format!("the parameter '{k}' has no value")));
        }
        match k.as_str() {
            k if k == param => s.value = Some(v.clone()),
            "_count" => {
                s.count = match v.parse::<usize>() {
                    Ok(n) if (1..=MAX_COUNT).contains(&n) => n,
                    _ => {
                        return Err(invalid(format!(
                            "_count: '{v}' is not a page size from 1 to {MAX_COUNT}"
                        )));
                    }
                }
            }
            "_cursor" => {
                s.cursor = Some(v.clone());
                continue;
            }
            "_format"
                if matches!(
                    v.as_str(),
                    "json" | "application/fhir+json" | "application/json"
                ) => {}
            other => {
                return Err(SearchError {
                    code: "not-supported",
                    message: format!(
                        "the search parameter '{other}' is not supported on {kind} ({param} and _count are)"
                    ),
                });
            }
        }
        s.echo.push((k.clone(), v.clone()));
    }
    if required && s.value.is_none() {
        return Err(SearchError {
            code: "not-supported",
            message: format!(
                "a search of {kind} must name {param} (a search of them all is not served)"
            ),
        });
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &[(&str, &str)]) -> Result<TaskSearch, SearchError> {
        let pairs: Vec<(String, String)> = q
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_referral_search("Task", &pairs)
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn last_updated_prefixes_cover_the_ranges_fhir_gives_them() {
        let day = |p: &str| {
            parse(&[("_lastUpdated", &format!("{p}2026-11-30"))])
                .unwrap()
                .query
                .updated[0]
        };
        assert_eq!(day("gt"), (Some(t("2026-12-01T00:00:00Z")), None));
        assert_eq!(day("ge"), (Some(t("2026-11-30T00:00:00Z")), None));
        assert_eq!(day("lt"), (None, Some(t("2026-11-30T00:00:00Z"))));
        assert_eq!(day("le"), (None, Some(t("2026-12-01T00:00:00Z"))));
        assert_eq!(
            day(""),
            (
                Some(t("2026-11-30T00:00:00Z")),
                Some(t("2026-12-01T00:00:00Z"))
            )
        );
        let instant = parse(&[("_lastUpdated", "gt2026-11-30T08:00:00.250Z")]).unwrap();
        assert_eq!(
            instant.query.updated[0],
            (Some(t("2026-11-30T08:00:00.251Z")), None)
        );
        let month = parse(&[("_lastUpdated", "lt2026-12")]).unwrap();
        assert_eq!(
            month.query.updated[0],
            (None, Some(t("2026-12-01T00:00:00Z")))
        );
    }

    #[test]
    fn references_statuses_and_pages_are_read() {
        let s = parse(&[
            ("owner", "Organization/0190a9f0-0000-7000-8000-000000000001"),
            ("status", "requested,accepted"),
            ("patient", "0190a9f0-0000-7000-8000-000000000002"),
            ("requester", "https://fhir.careledger.eu/sites|be-liege"),
            ("_count", "5"),
            ("_include", "Task:focus"),
        ])
        .unwrap();
        assert!(s.query.owner.is_some() && s.query.patient.is_some());
        assert_eq!(s.query.site.unwrap().as_str(), "be-liege");
        assert_eq!(s.query.statuses.unwrap().len(), 3);
        assert_eq!((s.count, s.include_focus), (5, true));
        assert_eq!(s.echo.len(), 6);
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_not_ignored() {
        for (q, code) in [
            (vec![("code", "x")], "not-supported"),
            (vec![("status", "waitlisted")], "invalid"),
            (vec![("_count", "0")], "invalid"),
            (vec![("_count", "101")], "invalid"),
            (vec![("_lastUpdated", "yesterday")], "invalid"),
            (vec![("_lastUpdated", "ne2026-01-01")], "not-supported"),
            (vec![("owner", "Organization/nope")], "invalid"),
            (vec![("_include", "Task:patient")], "not-supported"),
            (vec![("_cursor", "abc")], "invalid"),
            (
                vec![("status", "requested"), ("status", "accepted")],
                "invalid",
            ),
            (vec![("owner", "")], "invalid"),
            (vec![("_format", "xml")], "not-supported"),
        ] {
            let e = parse(&q).unwrap_err();
            assert_eq!(e.code, code, "{q:?}: {}", e.message);
        }
    }
}

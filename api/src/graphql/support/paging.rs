//! Relay cursor paging, for every connection.

use super::MAX_PAGE;
use super::bad_input;
use super::ids::clip;
use super::scalars::PageInfo;
use async_graphql::Result;
use careledger_projections::casework::{Page, Slice};

/// Validates Relay page arguments into a slice; 20 items when neither is given.
pub fn slice<K>(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    decode: impl Fn(&str) -> Option<K>,
) -> Result<Slice<K>> {
    let check = |name: &str, n: i32| {
        if (0..=MAX_PAGE).contains(&n) {
            Ok(n as usize)
        } else {
            Err(bad_input(format!(
                "{name} must be between 0 and {MAX_PAGE}, got {n}"
            )))
        }
    };
    let cursor = |c: Option<String>, name: &str| -> Result<Option<K>> {
        c.map(|c| {
            decode(&c)
                .ok_or_else(|| bad_input(format!("'{}' is not a valid {name} cursor", clip(&c))))
        })
        .transpose()
    };
    match (first, last) {
        (Some(_), Some(_)) => Err(bad_input("give first or last, not both")),
        (None, Some(n)) => {
            if after.is_some() {
                return Err(bad_input("after goes with first; use before with last"));
            }
            Ok(Slice::Last {
                n: check("last", n)?,
                before: cursor(before, "before")?,
            })
        }
        (first, None) => {
            if before.is_some() {
                return Err(bad_input("before goes with last; use after with first"));
            }
            Ok(Slice::First {
                n: check("first", first.unwrap_or(20))?,
                after: cursor(after, "after")?,
            })
        }
    }
}

pub fn page_info<K>(page: &Page<'_, K>, cursor: impl Fn(&K) -> String) -> PageInfo {
    PageInfo {
        has_next_page: page.has_next,
        has_previous_page: page.has_previous,
        start_cursor: page.items.first().map(|(k, _)| cursor(k)),
        end_cursor: page.items.last().map(|(k, _)| cursor(k)),
    }
}

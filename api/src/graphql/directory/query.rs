//! The directory's reads: one service, and the `services` search.

use super::types::*;
use crate::graphql::support::ids::{Kind, clip, parse_input};
use crate::graphql::support::scalars::{PageInfo, Position};
use crate::graphql::support::{MAX_PAGE, allow, app, consistent, error};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use careledger_app::policy::Action;
use careledger_domain::ids::ServiceId;
use careledger_domain::values as v;
use careledger_projections::directory::ServiceFilter;
use std::sync::Arc;
use uuid::Uuid;

#[derive(InputObject, Default)]
pub struct ServiceFilterInput {
    /// A need code of the catalogue.
    pub need: Option<String>,
    /// Speaks this language, e.g. `nl`.
    pub language: Option<String>,
    /// Serves this region, e.g. `BE-VBR`.
    pub region: Option<String>,
    /// Serves this postal code (with `country`).
    pub postal_code: Option<String>,
    /// Serves (part of) this country: BE, DE, NL, LU, FR.
    pub country: Option<String>,
    pub cost: Option<Cost>,
    /// True: has capacity or a waitlist; false: none.
    pub has_capacity: Option<bool>,
    /// Found in a name, description or organisation, in any of the four languages.
    pub text: Option<String>,
    /// Belongs to this organisation of the directory (its id, a UUID).
    pub organisation_id: Option<ID>,
    #[graphql(default)]
    pub include_retired: bool,
}

#[derive(SimpleObject)]
pub struct ServiceEdge {
    pub cursor: String,
    pub node: Service,
}

#[derive(SimpleObject)]
pub struct ServiceConnection {
    pub edges: Vec<ServiceEdge>,
    pub page_info: PageInfo,
    pub total_count: u64,
}

fn bad(message: impl Into<String>) -> async_graphql::Error {
    error("BAD_USER_INPUT", message)
}

fn cursor(id: ServiceId) -> String {
    B64.encode(id.as_uuid().as_bytes())
}

#[derive(Default)]
pub struct DirectoryQuery;

#[Object]
impl DirectoryQuery {
    /// A service by global id or UUID; null when there is none.
    async fn service(
        &self,
        ctx: &Context<'_>,
        id: ID,
        min_position: Option<Position>,
    ) -> Result<Option<Service>> {
        allow(ctx, Action::ReadShared)?;
        let uuid = parse_input(&id, Kind::Service).map_err(bad)?;
        consistent(ctx, min_position).await?;
        Ok(service_by_id(ctx, ServiceId::from_uuid(uuid)))
    }

    /// Searches the directory (active services unless `includeRetired`), in id
    /// order, as a cursor connection (`first` at most 100).
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn services(
        &self,
        ctx: &Context<'_>,
        filter: Option<ServiceFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        min_position: Option<Position>,
    ) -> Result<ServiceConnection> {
        allow(ctx, Action::ReadShared)?;
        consistent(ctx, min_position).await?;
        let n = match first {
            None => 20,
            Some(n) if (0..=MAX_PAGE).contains(&n) => n as usize,
            Some(n) => {
                return Err(bad(format!(
                    "first must be between 0 and {MAX_PAGE}, got {n}"
                )));
            }
        };
        let after = after
            .map(|c| {
                B64.decode(&c)
                    .ok()
                    .and_then(|b| Uuid::from_slice(&b).ok())
                    .map(ServiceId::from_uuid)
                    .ok_or_else(|| bad(format!("'{}' is not a valid after cursor", clip(&c))))
            })
            .transpose()?;
        let f = filter.unwrap_or_default();
        let country = f
            .country
            .as_deref()
            .map(v::Country::parse)
            .transpose()
            .map_err(|e| bad(e.to_string()))?;
        let postal_code = match (&f.postal_code, country) {
            (None, _) => None,
            (Some(_), None) => return Err(bad("postalCode needs country")),
            (Some(p), Some(c)) => Some(v::PostalCode::parse(c, p).map_err(|e| bad(e.to_string()))?),
        };
        let filter = ServiceFilter {
            need: f
                .need
                .as_deref()
                .map(v::NeedCode::parse)
                .transpose()
                .map_err(|e| bad(e.to_string()))?,
            language: f
                .language
                .as_deref()
                .map(v::LanguageTag::parse)
                .transpose()
                .map_err(|e| bad(e.to_string()))?,
            region: f
                .region
                .as_deref()
                .map(v::Region::parse)
                .transpose()
                .map_err(|e| bad(e.to_string()))?,
            country: if postal_code.is_some() { None } else { country },
            postal_code,
            cost: f.cost.map(Into::into),
            has_capacity: f.has_capacity,
            text: f
                .text
                .map(|t| t.trim().to_lowercase())
                .filter(|t| !t.is_empty()),
            organisation: f
                .organisation_id
                .as_deref()
                .map(|o| {
                    careledger_domain::ids::OrganisationId::parse(o.trim()).map_err(|_| {
                        bad(format!("'{}' is not an organisation id (a UUID)", clip(o)))
                    })
                })
                .transpose()?,
            include_retired: f.include_retired,
        };
        let m = app(ctx).projector.read();
        let page = m.directory().search(&filter, n, after);
        let total_count = if ctx.look_ahead().field("totalCount").exists() {
            m.directory().count(&filter) as u64
        } else {
            0
        };
        let ids: Vec<ServiceId> = page
            .items
            .iter()
            .filter_map(|v| v.state.data().map(|d| d.id))
            .collect();
        Ok(ServiceConnection {
            page_info: PageInfo {
                has_next_page: page.has_next,
                has_previous_page: page.has_previous,
                start_cursor: ids.first().map(|i| cursor(*i)),
                end_cursor: ids.last().map(|i| cursor(*i)),
            },
            edges: page
                .items
                .iter()
                .zip(&ids)
                .map(|(v, id)| ServiceEdge {
                    cursor: cursor(*id),
                    node: Service(Arc::new((*v).clone())),
                })
                .collect(),
            total_count,
        })
    }
}

// ---------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------

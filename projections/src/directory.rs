//! The service directory as the API reads it, and each service's load.
//!
//! * Services by id, and an index by need (what the matcher ranks, so a ranking
//!   looks only at the services that address the need).
//! * Every state each service had, by position ([`ServiceVersion`]): the
//!   directory as it was at any position, which the matcher ranks again to
//!   recompute what a recorded ranking left out (issue 19). Services change
//!   rarely: a version is a position, a shared profile, a capacity and a flag.
//! * Per-service load, from the referral events (which carry their service): how
//!   many referrals stand in each state now, how many were accepted or rejected
//!   when answered, and the days each waited from request to acceptance.

use careledger_domain::aggregate::Aggregate;
use careledger_domain::directory::{Capacity, Cost, Service, ServiceEvent, ServiceProfile};
use careledger_domain::ids::ServiceId;
use careledger_domain::matching::Candidate;
use careledger_domain::need_case::ReferralStatus;
use careledger_domain::store::RecordedEvent;
use careledger_domain::values::{Country, LanguageTag, NeedCode, PostalCode, Region};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    pub state: Service,
    pub version: u64,
    pub position: u64,
}

/// What a service has on its hands, and how it answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceLoad {
    /// Referrals in each state now (by `ReferralStatus::name`).
    pub by_status: BTreeMap<String, u32>,
    /// Referrals answered: accepted (from requested) and rejected.
    pub accepted: u32,
    pub rejected: u32,
    /// Days from request to acceptance, one entry per acceptance.
    pub days_to_acceptance: Vec<u32>,
}

impl ServiceLoad {
    pub fn count(&self, status: ReferralStatus) -> u32 {
        self.by_status.get(status.name()).copied().unwrap_or(0)
    }
    /// Accepted over answered (accepted + rejected); `None` before any answer.
    pub fn acceptance_rate(&self) -> Option<f64> {
        let answered = self.accepted + self.rejected;
        (answered > 0).then(|| f64::from(self.accepted) / f64::from(answered))
    }
    pub fn median_days_to_acceptance(&self) -> Option<f64> {
        let mut d = self.days_to_acceptance.clone();
        if d.is_empty() {
            return None;
        }
        d.sort_unstable();
        let n = d.len();
        Some(if n % 2 == 1 {
            f64::from(d[n / 2])
        } else {
            (f64::from(d[n / 2 - 1]) + f64::from(d[n / 2])) / 2.0
        })
    }
}

/// What a `services` search filters on; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct ServiceFilter {
    pub need: Option<NeedCode>,
    /// Speaks this language (primary subtag).
    pub language: Option<LanguageTag>,
    /// Serves this region (listed, or its whole country).
    pub region: Option<Region>,
    /// Serves this postal code (listed, its region, or its whole country).
    pub postal_code: Option<PostalCode>,
    pub country: Option<Country>,
    pub cost: Option<Cost>,
    /// `Some(true)`: has capacity or a waitlist; `Some(false)`: none.
    pub has_capacity: Option<bool>,
    /// Lowercased text found in a name, description or organisation (any language).
    pub text: Option<String>,
    /// Belongs to this organisation of the directory (its recorded id).
    pub organisation: Option<careledger_domain::ids::OrganisationId>,
    pub include_retired: bool,
}

impl ServiceFilter {
    fn matches(&self, s: &Service) -> bool {
        let Some(d) = s.data() else { return false };
        let p = &d.profile;
        if d.retired && !self.include_retired {
            return false;
        }
        if self
            .organisation
            .is_some_and(|o| p.organisation_id != Some(o))
        {
            return false;
        }
        if let Some(n) = &self.need
            && p.needs.binary_search(n).is_err()
        {
            return false;
        }
        if let Some(l) = &self.language
            && !p.speaks(l)
        {
            return false;
        }
        if let Some(r) = &self.region {
            let country = r.as_str().split('-').next().unwrap_or_default();
            if !p.area.regions.contains(r) && !p.area.countries.iter().any(|c| c.code() == country)
            {
                return false;
            }
        }
        if let Some(pc) = &self.postal_code
            && !(p.area.postal_codes.contains(pc)
                || p.area.regions.contains(&pc.region())
                || p.area.countries.contains(&pc.country()))
        {
            return false;
        }
        if let Some(c) = self.country
            && !(p.area.countries.contains(&c)
                || p.area
                    .regions
                    .iter()
                    .any(|r| r.as_str().starts_with(c.code()))
                || p.area.postal_codes.iter().any(|pc| pc.country() == c))
        {
            return false;
        }
        if self.cost.is_some_and(|c| c != p.cost) {
            return false;
        }
        if let Some(want) = self.has_capacity
            && (d.capacity != Capacity::NoCapacity) != want
        {
            return false;
        }
        if let Some(t) = &self.text
            && !(p.name.contains_lowercase(t)
                || p.description.contains_lowercase(t)
                || p.organisation.to_lowercase().contains(t.as_str()))
        {
            return false;
        }
        true
    }
}

/// A page of services, in id order.
#[derive(Debug)]
pub struct ServicePage<'a> {
    pub items: Vec<&'a ServiceView>,
    pub has_previous: bool,
    pub has_next: bool,
}

/// A service as the matcher saw it from `position` on (until its next version).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceVersion {
    pub position: u64,
    /// Shared with the next versions while the profile is unchanged, and with
    /// the service's current state.
    pub profile: Arc<ServiceProfile>,
    pub capacity: Capacity,
    pub retired: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Directory {
    services: BTreeMap<ServiceId, ServiceView>,
    /// Services (active or not) by the needs their profile names or ever named
    /// (a past position may need them; the matcher drops the others unlisted).
    by_need: HashMap<NeedCode, BTreeSet<ServiceId>>,
    load: HashMap<ServiceId, ServiceLoad>,
    /// Each service's versions, oldest first.
    #[serde(with = "history_form")]
    history: HashMap<ServiceId, Vec<ServiceVersion>>,
}

impl Directory {
    pub fn service(&self, id: ServiceId) -> Option<&ServiceView> {
        self.services.get(&id)
    }

    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    pub fn load(&self, id: ServiceId) -> ServiceLoad {
        self.load.get(&id).cloned().unwrap_or_default()
    }

    /// The services whose profile names `need`, as matcher candidates.
    pub fn candidates<'a>(
        &'a self,
        need: &'a NeedCode,
    ) -> impl Iterator<Item = Candidate<'a>> + 'a {
        self.by_need
            .get(need)
            .into_iter()
            .flatten()
            .filter_map(|id| self.services.get(id))
            .filter_map(move |v| {
                let d = v.state.data()?;
                d.profile.needs.binary_search(need).ok()?;
                Some(Candidate {
                    id: d.id,
                    profile: &d.profile,
                    capacity: d.capacity,
                    active: !d.retired,
                })
            })
    }

    /// Every version of a service, oldest first.
    pub fn versions(&self, id: ServiceId) -> &[ServiceVersion] {
        self.history.get(&id).map_or(&[], Vec::as_slice)
    }

    /// The services that named `need` at any time, as they were at `position`
    /// (the directory as a read model at that position had it), as matcher
    /// candidates; services registered after it are not among them. Some may no
    /// longer (or not yet) name the need there: the matcher leaves those out
    /// unlisted, as it does today.
    pub fn candidates_at<'a>(
        &'a self,
        need: &NeedCode,
        position: u64,
    ) -> impl Iterator<Item = Candidate<'a>> + 'a {
        self.by_need
            .get(need)
            .into_iter()
            .flatten()
            .filter_map(move |id| {
                let versions = self.history.get(id)?;
                let n = versions.partition_point(|v| v.position <= position);
                let v = &versions[n.checked_sub(1)?];
                Some(Candidate {
                    id: *id,
                    profile: &v.profile,
                    capacity: v.capacity,
                    active: !v.retired,
                })
            })
    }

    /// After a checkpoint is read: each service's latest versions share the
    /// current state's profile again (serialised, they were two copies).
    pub(crate) fn share_profiles(&mut self) {
        for (id, versions) in &mut self.history {
            let Some(d) = self.services.get(id).and_then(|v| v.state.data()) else {
                continue;
            };
            let Some(last) = versions.last().map(|v| v.profile.clone()) else {
                continue;
            };
            if *last != *d.profile {
                continue;
            }
            for v in versions.iter_mut().rev() {
                if !Arc::ptr_eq(&v.profile, &last) {
                    break;
                }
                v.profile = d.profile.clone();
            }
        }
    }

    pub(crate) fn apply_service(&mut self, id: ServiceId, ev: &ServiceEvent, e: &RecordedEvent) {
        let view = self.services.entry(id).or_default();
        let before: Vec<NeedCode> = view
            .state
            .data()
            .map(|d| d.profile.needs.clone())
            .unwrap_or_default();
        view.state.apply(ev, e.metadata.occurred_at);
        view.version = e.version;
        view.position = e.position.raw();
        let after: Vec<NeedCode> = view
            .state
            .data()
            .map(|d| d.profile.needs.clone())
            .unwrap_or_default();
        if before != after {
            for n in after {
                self.by_need.entry(n).or_default().insert(id);
            }
        }
        if let Some(d) = view.state.data() {
            self.history.entry(id).or_default().push(ServiceVersion {
                position: view.position,
                profile: d.profile.clone(),
                capacity: d.capacity,
                retired: d.retired,
            });
        }
    }

    /// A referral to `service` moved from `from` (none: it is new) to `to`.
    pub(crate) fn referral_moved(
        &mut self,
        service: ServiceId,
        from: Option<ReferralStatus>,
        to: ReferralStatus,
        requested_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) {
        if from == Some(to) {
            return;
        }
        let load = self.load.entry(service).or_default();
        // A handful of entries, found by equality (most names differ in length
        // already) rather than by the map's ordered search.
        fn count<'a>(by_status: &'a mut BTreeMap<String, u32>, name: &str) -> Option<&'a mut u32> {
            by_status
                .iter_mut()
                .find_map(|(k, n)| (k.as_str() == name).then_some(n))
        }
        if let Some(f) = from
            && let Some(n) = count(&mut load.by_status, f.name())
        {
            *n = n.saturating_sub(1);
        }
        // The status's count is kept by its name: allocate the name only for the
        // service's first referral in that status.
        match count(&mut load.by_status, to.name()) {
            Some(n) => *n += 1,
            None => {
                load.by_status.insert(to.name().to_string(), 1);
            }
        }
        match (from, to) {
            (Some(ReferralStatus::Requested), ReferralStatus::Accepted) => {
                load.accepted += 1;
                load.days_to_acceptance
                    .push((at - requested_at).num_days().max(0) as u32);
            }
            (Some(ReferralStatus::Requested), ReferralStatus::Rejected) => load.rejected += 1,
            _ => {}
        }
    }

    /// Services matching `filter`, in id order, a page at a time.
    pub fn search(
        &self,
        filter: &ServiceFilter,
        first: usize,
        after: Option<ServiceId>,
    ) -> ServicePage<'_> {
        let lo = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut items: Vec<&ServiceView> = self
            .services
            .range((lo, Bound::Unbounded))
            .map(|(_, v)| v)
            .filter(|v| filter.matches(&v.state))
            .take(first + 1)
            .collect();
        let has_next = items.len() > first;
        items.truncate(first);
        ServicePage {
            items,
            has_previous: after.is_some(),
            has_next,
        }
    }

    pub fn count(&self, filter: &ServiceFilter) -> usize {
        self.services
            .values()
            .filter(|v| filter.matches(&v.state))
            .count()
    }
}

/// How the versions are kept in a checkpoint: per service, its distinct
/// profiles once each and its versions naming them by index (a capacity change
/// does not repeat the profile).
mod history_form {
    use super::{Capacity, ServiceId, ServiceProfile, ServiceVersion};
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::HashMap;
    use std::sync::Arc;

    type Row<P> = (ServiceId, Vec<P>, Vec<(u64, usize, Capacity, bool)>);

    pub fn serialize<S: Serializer>(
        history: &HashMap<ServiceId, Vec<ServiceVersion>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut rows: Vec<Row<&ServiceProfile>> = Vec::with_capacity(history.len());
        for (id, versions) in history {
            let mut profiles: Vec<&Arc<ServiceProfile>> = Vec::new();
            let mut out = Vec::with_capacity(versions.len());
            for v in versions {
                if profiles.last().is_none_or(|p| !Arc::ptr_eq(p, &v.profile)) {
                    profiles.push(&v.profile);
                }
                out.push((v.position, profiles.len() - 1, v.capacity, v.retired));
            }
            rows.push((*id, profiles.into_iter().map(|p| &**p).collect(), out));
        }
        rows.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<HashMap<ServiceId, Vec<ServiceVersion>>, D::Error> {
        let rows: Vec<Row<ServiceProfile>> = Vec::deserialize(d)?;
        let mut history = HashMap::with_capacity(rows.len());
        for (id, profiles, versions) in rows {
            let profiles: Vec<Arc<ServiceProfile>> = profiles.into_iter().map(Arc::new).collect();
            let versions = versions
                .into_iter()
                .map(|(position, p, capacity, retired)| {
                    Ok(ServiceVersion {
                        position,
                        profile: profiles
                            .get(p)
                            .ok_or_else(|| D::Error::custom("a service version names no profile"))?
                            .clone(),
                        capacity,
                        retired,
                    })
                })
                .collect::<Result<Vec<_>, D::Error>>()?;
            history.insert(id, versions);
        }
        Ok(history)
    }
}

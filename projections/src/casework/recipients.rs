//! The care recipients' views, in a hash table of boxed views found by the id
//! each view holds (`profile.recipient`): a bucket is one pointer. A map from
//! id to box stored the 16-byte id again beside it, padded to 32 bytes a
//! bucket — at a million recipients (2^21 buckets) ~50 MB more.
//! Hashed with the standard library's keyed SipHash, as the map was: ids may
//! be chosen by clients (an idempotency key names the record it creates).

use super::RecipientView;
use careledger_domain::ids::RecipientId;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

#[derive(Clone, Default)]
pub(crate) struct Recipients {
    table: HashTable<Box<RecipientView>>,
    hasher: RandomState,
}

fn id_of(v: &RecipientView) -> RecipientId {
    v.profile.recipient
}

impl Recipients {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            table: HashTable::with_capacity(n),
            hasher: RandomState::new(),
        }
    }

    fn hash(&self, id: RecipientId) -> u64 {
        self.hasher.hash_one(id)
    }

    pub(crate) fn get(&self, id: RecipientId) -> Option<&RecipientView> {
        self.table
            .find(self.hash(id), |v| id_of(v) == id)
            .map(|v| &**v)
    }

    pub(crate) fn get_mut(&mut self, id: RecipientId) -> Option<&mut RecipientView> {
        let hash = self.hash(id);
        self.table
            .find_mut(hash, |v| id_of(v) == id)
            .map(|v| &mut **v)
    }

    fn entry(&mut self, id: RecipientId) -> Entry<'_, Box<RecipientView>> {
        let hash = self.hash(id);
        let hasher = &self.hasher;
        self.table
            .entry(hash, |v| id_of(v) == id, |v| hasher.hash_one(id_of(v)))
    }

    /// Keeps `view` under the id it holds; whether a view with that id was there
    /// (it is replaced).
    pub(crate) fn insert(&mut self, view: Box<RecipientView>) -> bool {
        match self.entry(id_of(&view)) {
            Entry::Occupied(mut e) => {
                *e.get_mut() = view;
                true
            }
            Entry::Vacant(e) => {
                e.insert(view);
                false
            }
        }
    }

    /// Keeps `view` read back filed under `id` (a checkpoint, a serialised
    /// model); refused (`false`, nothing kept) when the view holds another id
    /// or one already kept.
    pub(crate) fn insert_filed(&mut self, id: RecipientId, view: Box<RecipientView>) -> bool {
        if id != id_of(&view) {
            return false;
        }
        match self.entry(id) {
            Entry::Occupied(_) => false,
            Entry::Vacant(e) => {
                e.insert(view);
                true
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Every view, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &RecipientView> {
        self.table.iter().map(|v| &**v)
    }
}

impl std::fmt::Debug for Recipients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|v| (id_of(v), v)))
            .finish()
    }
}

impl PartialEq for Recipients {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|v| other.get(id_of(v)) == Some(v))
    }
}

/// As the map it replaced: id → view.
impl Serialize for Recipients {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter().map(|v| (id_of(v), v)))
    }
}

impl<'de> Deserialize<'de> for Recipients {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = std::collections::HashMap::<RecipientId, Box<RecipientView>>::deserialize(d)?;
        let mut out = Self::with_capacity(map.len());
        for (id, view) in map {
            let holds = id_of(&view);
            if !out.insert_filed(id, view) {
                return Err(serde::de::Error::custom(format!(
                    "recipient {id} holds the view of {holds}"
                )));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use careledger_domain::recipient::{RecipientKind, RecipientProfile};
    use careledger_domain::values::*;

    fn view(id: u128, version: u64) -> Box<RecipientView> {
        let postal_code = PostalCode::parse(Country::BE, "3000").unwrap();
        let profile = RecipientProfile {
            recipient: RecipientId::from_uuid(uuid::Uuid::from_u128(id)),
            site: SiteId::parse("leuven").unwrap(),
            kind: RecipientKind::Patient,
            birth_year: BirthYear::parse(1960).unwrap(),
            sex: Sex::Female,
            region: postal_code.region(),
            postal_code,
            country: Country::BE,
            language: LanguageTag::parse("nl").unwrap(),
            preferential_reimbursement: PreferentialReimbursement::No,
            deprivation_decile: None,
            cancer_site_group: CancerSiteGroup::Breast,
        };
        Box::new(RecipientView {
            profile: std::sync::Arc::new(profile),
            registered_at: chrono::DateTime::UNIX_EPOCH,
            version: u32::try_from(version).unwrap(),
            position: version,
            need_cases: Box::default(),
            personal: super::super::PersonalData::None,
        })
    }

    /// The view as it was declared before its personal data and erasure were
    /// one field (and its version eight bytes, its need cases a `Vec`).
    #[derive(serde::Serialize)]
    struct Before {
        #[serde(with = "careledger_domain::recipient::shared_profile")]
        profile: std::sync::Arc<careledger_domain::recipient::RecipientProfile>,
        #[serde(with = "careledger_domain::timestamp::compact")]
        registered_at: chrono::DateTime<chrono::Utc>,
        version: u64,
        position: u64,
        need_cases: Vec<careledger_domain::ids::NeedCaseId>,
        personal: Option<Box<careledger_domain::personal::Sealed>>,
        #[serde(default, with = "careledger_domain::timestamp::compact_opt")]
        erased_at: Option<chrono::DateTime<chrono::Utc>>,
    }

    /// The personal data and the erasure are one field in memory and two in a
    /// checkpoint, as before they were one: a format-13 checkpoint's views read
    /// back as they were, and are written back the same.
    #[test]
    fn a_view_is_written_with_the_fields_checkpoints_hold() {
        use super::super::PersonalData;
        use careledger_domain::personal::Sealed;
        let sealed = Sealed {
            alg: "xchacha20poly1305".into(),
            nonce: "n".into(),
            ciphertext: "c".into(),
        };
        let erased_at = chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(3);
        let cases = [
            (
                PersonalData::None,
                serde_json::Value::Null,
                serde_json::Value::Null,
            ),
            (
                PersonalData::Sealed(Box::new(sealed.clone())),
                serde_json::to_value(&sealed).unwrap(),
                serde_json::Value::Null,
            ),
            (
                PersonalData::Erased(erased_at),
                serde_json::Value::Null,
                // As text in JSON (two integers in MessagePack).
                serde_json::to_value(erased_at).unwrap(),
            ),
        ];
        for (personal, sealed_json, erased_json) in cases {
            let mut v = *view(5, 1);
            v.personal = personal;
            v.need_cases = Box::new([careledger_domain::ids::NeedCaseId::from_uuid(
                uuid::Uuid::from_u128(9),
            )]);
            let json = serde_json::to_value(&v).unwrap();
            // (A checkpoint writes structs as maps by field name.)
            let fields: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
            assert_eq!(
                fields,
                [
                    "erased_at",
                    "need_cases",
                    "personal",
                    "position",
                    "profile",
                    "registered_at",
                    "version"
                ]
            );
            assert_eq!(json["personal"], sealed_json);
            assert_eq!(json["erased_at"], erased_json);
            assert_eq!(json["version"], 1);
            let back: RecipientView = serde_json::from_value(json).unwrap();
            assert_eq!(back, v);
            // The very bytes the view's derived form wrote before (checkpoints
            // write structs as maps by field name).
            let bytes = rmp_serde::to_vec_named(&v).unwrap();
            let before = Before {
                profile: v.profile.clone(),
                registered_at: v.registered_at,
                version: u64::from(v.version),
                position: v.position,
                need_cases: v.need_cases.to_vec(),
                personal: v.sealed().cloned().map(Box::new),
                erased_at: v.erased_at(),
            };
            assert_eq!(bytes, rmp_serde::to_vec_named(&before).unwrap());
            assert_eq!(rmp_serde::from_slice::<RecipientView>(&bytes).unwrap(), v);
        }
        // A view written before the erasure dropped the sealed data (never by
        // this code, but the two fields could say so): erased wins.
        let mut json = serde_json::to_value(&*view(5, 1)).unwrap();
        json["personal"] = serde_json::to_value(&sealed).unwrap();
        json["erased_at"] = serde_json::to_value(erased_at).unwrap();
        let back: RecipientView = serde_json::from_value(json).unwrap();
        assert_eq!(back.erased_at(), Some(erased_at));
        assert!(back.sealed().is_none());
    }

    /// Views are found by the id they hold, replaced by a view with the same id,
    /// and equal tables compare equal whatever their insertion order; JSON
    /// round-trips, and a view filed under another id is refused.
    #[test]
    fn views_are_found_by_the_id_they_hold() {
        let mut a = Recipients::default();
        for i in 1..=1_000u128 {
            assert!(!a.insert(view(i, 0)));
        }
        assert!(a.insert(view(7, 3)));
        assert_eq!(a.len(), 1_000);
        let seven = RecipientId::from_uuid(uuid::Uuid::from_u128(7));
        assert_eq!(a.get(seven).map(|v| v.version), Some(3));
        assert!(
            a.get(RecipientId::from_uuid(uuid::Uuid::from_u128(1_001)))
                .is_none()
        );
        a.get_mut(seven).unwrap().version = 4;
        assert_eq!(a.get(seven).unwrap().version, 4);

        let mut b = Recipients::with_capacity(10);
        for i in (1..=1_000u128).rev() {
            b.insert(view(i, if i == 7 { 3 } else { 0 }));
        }
        assert_ne!(a, b, "one version differs");
        b.get_mut(seven).unwrap().version = 4;
        assert_eq!(a, b);
        b.get_mut(seven).unwrap().version = 5;
        assert_ne!(a, b);

        let json = serde_json::to_string(&a).unwrap();
        let back: Recipients = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
        let one = view(1, 0);
        let misfiled = serde_json::json!({ uuid::Uuid::from_u128(2).to_string(): one });
        assert!(serde_json::from_value::<Recipients>(misfiled).is_err());
        // What a checkpoint files: under another id, or twice, is refused.
        let mut c = Recipients::default();
        assert!(!c.insert_filed(seven, view(8, 0)));
        assert_eq!(c.len(), 0);
        assert!(c.insert_filed(seven, view(7, 0)));
        assert!(!c.insert_filed(seven, view(7, 1)));
        assert_eq!(c.get(seven).map(|v| v.version), Some(0));
    }
}

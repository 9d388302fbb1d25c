//! Realistic events and rows for the in-process scenarios: a need case's typical
//! life, samples of it, the store and raw SQLite connections they are written
//! to, and the rows the raw baselines insert.

use super::*;

/// A need case's typical life: identified, suggested, referred, accepted, started, completed.
pub(crate) fn lifecycle() -> Vec<DomainEvent> {
    let recipient = RecipientProfile {
        recipient: RecipientId::from_uuid(Uuid::now_v7()),
        site: SiteId::parse("be-leuven").unwrap(),
        kind: RecipientKind::Patient,
        birth_year: BirthYear::parse(1961).unwrap(),
        sex: Sex::Female,
        postal_code: PostalCode::parse(Country::BE, "3000").unwrap(),
        region: PostalCode::parse(Country::BE, "3000").unwrap().region(),
        country: Country::BE,
        language: LanguageTag::parse("nl").unwrap(),
        preferential_reimbursement: PreferentialReimbursement::No,
        deprivation_decile: Some(DeprivationDecile::parse(6).unwrap()),
        cancer_site_group: CancerSiteGroup::Breast,
    };
    let (referral, service) = (
        ReferralId::from_uuid(Uuid::now_v7()),
        ServiceId::from_uuid(Uuid::now_v7()),
    );
    let suggestions = (1..=3)
        .map(|rank| Suggestion {
            score: None,
            service: ServiceId::from_uuid(Uuid::now_v7()),
            rank,
            reasons: [
                "addresses_need".into(),
                "language_match".into(),
                "in_service_area".into(),
            ]
            .into(),
        })
        .collect();
    vec![
        NeedCaseEvent::NeedIdentified(NeedIdentified {
            need_case: NeedCaseId::from_uuid(Uuid::now_v7()),
            need: NeedCode::parse("psy.fear-of-recurrence").unwrap(),
            domain: NeedDomain::Psychosocial,
            recipient: Box::new(recipient),
            age_band: AgeBand::From40To64,
        }),
        NeedCaseEvent::ServicesSuggested(ServicesSuggested {
            left_out: vec![],
            ranked: None,
            suggestions,
        }),
        NeedCaseEvent::ReferralRequested(ReferralRequested {
            referral,
            service,
            first: true,
            consent: careledger_domain::need_case::ShareConsent::ReferralOnly,
        }),
        NeedCaseEvent::ReferralAccepted(ReferralAccepted { referral, service }),
        NeedCaseEvent::ReferralStarted(ReferralStarted { referral, service }),
        NeedCaseEvent::ReferralCompleted(ReferralCompleted {
            referral,
            service,
            outcome: Outcome::NeedMet,
        }),
    ]
    .into_iter()
    .map(DomainEvent::from)
    .collect()
}

pub(crate) fn sample_events(n: usize) -> Vec<NewEvent> {
    let life = lifecycle();
    let metadata = EventMetadata {
        occurred_at: Utc::now(),
        actor: Actor {
            subject: "bench-coordinator".into(),
            role: Role::Coordinator,
        },
        site: Some(SiteId::parse("be-leuven").unwrap()),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
    };
    (0..n)
        .map(|i| NewEvent {
            id: EventId::from_uuid(Uuid::now_v7()),
            event: life[i % life.len()].clone(),
            metadata: metadata.clone(),
        })
        .collect()
}

pub(crate) fn stream() -> StreamName {
    StreamName::need_case(NeedCaseId::from_uuid(Uuid::now_v7()))
}

pub(crate) fn open_store(path: &Path) -> SqliteEventStore {
    let _ = std::fs::remove_file(path);
    SqliteEventStore::open(path, Arc::new(SystemClock), SqliteOptions::default())
        .expect("open store")
}

pub(crate) fn open_raw(path: &Path) -> rusqlite::Connection {
    let _ = std::fs::remove_file(path);
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(DURABLE_PRAGMAS).unwrap();
    conn.execute_batch(SCHEMA_SQL).unwrap();
    conn
}

/// One encoded row, as the raw baseline inserts it.
pub(crate) struct Row {
    pub(crate) id: Uuid,
    pub(crate) stream: String,
    pub(crate) version: i64,
    pub(crate) event_type: &'static str,
    pub(crate) schema_version: u32,
    pub(crate) payload: Vec<u8>,
}

pub(crate) fn encode_rows(events: &[NewEvent], per_stream: usize) -> Vec<Row> {
    let codec = Codec::default();
    let mut s = stream();
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            if i % per_stream == 0 {
                s = stream();
            }
            let enc = codec.encode(&e.event);
            Row {
                id: e.id.as_uuid(),
                stream: s.to_string(),
                version: (i % per_stream) as i64,
                event_type: enc.event_type,
                schema_version: enc.schema_version,
                payload: enc.payload,
            }
        })
        .collect()
}

/// Rows in the order the writer sees them when `tasks` coordinators each run need-case
/// lifecycles (6 events per stream): round-robin across tasks, ids in time order.
pub(crate) fn interleaved_rows(tasks: usize, total: usize) -> Vec<Row> {
    let codec = Codec::default();
    let life = lifecycle();
    let mut streams: Vec<(String, usize)> = (0..tasks).map(|_| (stream().to_string(), 0)).collect();
    (0..total)
        .map(|i| {
            let (s, v) = &mut streams[i % tasks];
            if *v == life.len() {
                *s = stream().to_string();
                *v = 0;
            }
            let enc = codec.encode(&life[*v]);
            let row = Row {
                id: Uuid::now_v7(),
                stream: s.clone(),
                version: *v as i64,
                event_type: enc.event_type,
                schema_version: enc.schema_version,
                payload: enc.payload,
            };
            *v += 1;
            row
        })
        .collect()
}

pub(crate) fn insert_raw(stmt: &mut rusqlite::CachedStatement<'_>, r: &Row, now: i64) {
    let correlation = Uuid::now_v7();
    stmt.execute(rusqlite::params![
        r.id.as_bytes().as_slice(),
        r.stream,
        r.version,
        r.event_type,
        r.schema_version,
        r.payload,
        now,
        now,
        "bench-coordinator",
        "coordinator",
        "be-leuven",
        correlation.as_bytes().as_slice(),
        Option::<&[u8]>::None
    ])
    .unwrap();
}

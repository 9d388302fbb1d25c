//! Valid events of every type: a generator per event of the event table, with
//! values that exercise every field (rich text, postal codes, sealed data).

use super::*;

pub(super) fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

pub(super) fn site() -> impl Strategy<Value = SiteId> {
    "[a-z][a-z0-9-]{1,31}".prop_map(|s| SiteId::parse(&s).expect("generated valid"))
}

pub(super) fn need_code() -> impl Strategy<Value = NeedCode> {
    "(med|psy|spi|soc)\\.[a-z0-9]{1,10}(-[a-z0-9]{1,8}){0,2}"
        .prop_map(|s| NeedCode::parse(&s).expect("generated valid"))
}

pub(super) fn language() -> impl Strategy<Value = LanguageTag> {
    "[a-z]{2,3}(-[A-Z]{2})?".prop_map(|s| LanguageTag::parse(&s).expect("generated valid"))
}

pub(super) fn postal_code() -> impl Strategy<Value = PostalCode> {
    prop_oneof![
        ("[1-9][0-9]{3}", select(vec![Country::BE, Country::LU])),
        ("[0-9]{5}", select(vec![Country::DE, Country::FR])),
        ("[1-9][0-9]{3}[A-Z]{2}", Just(Country::NL)),
    ]
    .prop_map(|(code, country)| PostalCode::parse(country, &code).expect("generated valid"))
}

pub(super) fn region() -> impl Strategy<Value = Region> {
    prop_oneof![Just("LU".to_string()), "(BE|NL|DE|FR)-[A-Z0-9]{1,6}"]
        .prop_map(|s| Region::parse(&s).expect("generated valid"))
}

pub(super) fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[A-Za-z0-9 ,.'-]{1,40}"]
}

pub(super) fn recipient_profile() -> impl Strategy<Value = RecipientProfile> {
    (
        (uuid(), site()),
        prop_oneof![
            Just(RecipientKind::Patient),
            uuid().prop_map(|p| RecipientKind::Relative {
                patient: RecipientId::from_uuid(p)
            }),
        ],
        (1900i32..=2100).prop_map(|y| BirthYear::parse(y).expect("in range")),
        select(vec![Sex::Female, Sex::Male, Sex::Other, Sex::Unknown]),
        postal_code(),
        language(),
        select(vec![
            PreferentialReimbursement::Yes,
            PreferentialReimbursement::No,
            PreferentialReimbursement::Unknown,
        ]),
        proptest::option::of((1u8..=10).prop_map(|d| DeprivationDecile::parse(d).expect("1..=10"))),
        select(vec![
            CancerSiteGroup::Breast,
            CancerSiteGroup::Lung,
            CancerSiteGroup::Colorectal,
            CancerSiteGroup::Prostate,
            CancerSiteGroup::Haematological,
            CancerSiteGroup::Gynaecological,
            CancerSiteGroup::HeadAndNeck,
            CancerSiteGroup::Skin,
            CancerSiteGroup::UpperGastrointestinal,
            CancerSiteGroup::Urological,
            CancerSiteGroup::CentralNervousSystem,
            CancerSiteGroup::Sarcoma,
            CancerSiteGroup::Other,
            CancerSiteGroup::Unknown,
        ]),
    )
        .prop_map(
            |((id, site), kind, birth_year, sex, postal_code, language, pr, decile, cancer)| {
                RecipientProfile {
                    recipient: RecipientId::from_uuid(id),
                    site,
                    kind,
                    birth_year,
                    sex,
                    region: postal_code.region(),
                    country: postal_code.country(),
                    postal_code,
                    language,
                    preferential_reimbursement: pr,
                    deprivation_decile: decile,
                    cancer_site_group: cancer,
                }
            },
        )
}

pub(super) fn localized() -> impl Strategy<Value = Localized> {
    (text(), text(), text(), text()).prop_map(|(en, fr, nl, de)| Localized { en, fr, nl, de })
}

pub(super) fn capacity() -> impl Strategy<Value = Capacity> {
    prop_oneof![
        Just(Capacity::HasCapacity),
        Just(Capacity::NoCapacity),
        any::<u16>().prop_map(|d| Capacity::Waitlist {
            estimated_wait_days: d
        }),
    ]
}

pub(super) fn service_profile() -> impl Strategy<Value = Box<ServiceProfile>> {
    (
        (text(), localized(), localized()),
        vec(need_code(), 0..4),
        vec(language(), 0..3),
        (
            vec(
                select(vec![
                    Country::BE,
                    Country::NL,
                    Country::DE,
                    Country::LU,
                    Country::FR,
                ]),
                0..3,
            ),
            vec(region(), 0..3),
            vec(postal_code(), 0..3),
        ),
        (
            proptest::option::of(any::<u8>()),
            proptest::option::of(any::<u8>()),
            any::<(bool, bool, bool)>(),
        ),
        select(vec![Cost::Free, Cost::Reimbursed, Cost::Fee]),
        proptest::option::weighted(0.5, text()),
        proptest::option::weighted(0.5, text()),
        proptest::option::weighted(0.5, text()),
    )
        .prop_map(
            |(
                (organisation, name, description),
                needs,
                languages,
                (countries, regions, postal_codes),
                (min_age, max_age, (patients, relatives, requires_pr)),
                cost,
                phone,
                email,
                url,
            )| {
                Box::new(ServiceProfile {
                    organisation_id: (organisation.len() % 2 == 0).then(|| {
                        careledger_domain::ids::OrganisationId::from_uuid(uuid::Uuid::from_u128(
                            organisation.len() as u128,
                        ))
                    }),
                    organisation,
                    name,
                    description,
                    needs,
                    languages,
                    area: ServiceArea {
                        countries,
                        regions,
                        postal_codes,
                    },
                    eligibility: Eligibility {
                        min_age,
                        max_age,
                        patients,
                        relatives,
                        requires_preferential_reimbursement: requires_pr,
                    },
                    cost,
                    contact: Contact { phone, email, url },
                    cost_note: (cost == Cost::Fee).then(|| "35 EUR per session".to_string()),
                    untranslated: if cost == Cost::Free {
                        vec![careledger_domain::values::Lang::De]
                    } else {
                        vec![]
                    },
                })
            },
        )
}

pub(super) fn sealed() -> impl Strategy<Value = Sealed> {
    (text(), text(), text()).prop_map(|(alg, nonce, ciphertext)| Sealed {
        alg,
        nonce,
        ciphertext,
    })
}

pub(super) fn reasons() -> impl Strategy<Value = Vec<String>> {
    vec(text(), 0..4)
}

/// Every event type, with every field drawn from its whole valid range.
pub fn event() -> impl Strategy<Value = DomainEvent> {
    let arms = event_arms();
    assert_eq!(
        arms.len(),
        EVENT_TYPES.len(),
        "one generator per event type"
    );
    Union::new(arms)
}

/// The events that carry values with rules (postal codes, language tags, need
/// codes, site ids, regions): recipient and service profiles.
pub(super) fn value_rich_event() -> impl Strategy<Value = DomainEvent> {
    let arms = event_arms();
    let rich = [
        "CareRecipientRegistered",
        "NeedIdentified",
        "ServiceRegistered",
        "ServiceUpdated",
    ];
    Union::new(
        EVENT_TYPES
            .iter()
            .zip(arms)
            .filter(|(t, _)| rich.contains(t))
            .map(|(_, arm)| arm),
    )
}

/// One generator per event type, in the order of `EVENT_TYPES`.
pub(super) fn event_arms() -> Vec<BoxedStrategy<DomainEvent>> {
    let ids =
        || (uuid(), uuid()).prop_map(|(r, s)| (ReferralId::from_uuid(r), ServiceId::from_uuid(s)));
    let n = |e: NeedCaseEvent| DomainEvent::NeedCase(e);
    let arms: Vec<BoxedStrategy<DomainEvent>> = vec![
        (recipient_profile(), proptest::option::of(sealed()))
            .prop_map(|(profile, personal)| {
                DomainEvent::Recipient(RecipientEvent::CareRecipientRegistered(
                    CareRecipientRegistered { profile, personal },
                ))
            })
            .boxed(),
        Just(DomainEvent::Recipient(RecipientEvent::CareRecipientErased(
            CareRecipientErased {},
        )))
        .boxed(),
        (
            uuid(),
            need_code(),
            recipient_profile(),
            select(vec![
                AgeBand::Under18,
                AgeBand::From18To39,
                AgeBand::From40To64,
                AgeBand::From65To74,
                AgeBand::From75,
            ]),
        )
            .prop_map(move |(id, need, recipient, age_band)| {
                n(NeedCaseEvent::NeedIdentified(NeedIdentified {
                    need_case: NeedCaseId::from_uuid(id),
                    domain: need.domain(),
                    need,
                    recipient: Box::new(recipient),
                    age_band,
                }))
            })
            .boxed(),
        (
            vec(
                (
                    uuid(),
                    any::<u16>(),
                    reasons(),
                    proptest::option::of(any::<u32>()),
                ),
                0..5,
            ),
            vec((uuid(), reasons()), 0..4),
            proptest::option::of((any::<u64>(), any::<u32>(), 0i64..4_000_000_000)),
        )
            .prop_map(move |(suggestions, left_out, ranked)| {
                n(NeedCaseEvent::ServicesSuggested(ServicesSuggested {
                    suggestions: suggestions
                        .into_iter()
                        .map(|(s, rank, reasons, score)| Suggestion {
                            service: ServiceId::from_uuid(s),
                            rank,
                            reasons: reasons.iter().map(|r| r.as_str().into()).collect(),
                            score,
                        })
                        .collect(),
                    left_out: left_out
                        .into_iter()
                        .map(|(s, reasons)| LeftOutService {
                            service: ServiceId::from_uuid(s),
                            reasons,
                        })
                        .collect(),
                    ranked: ranked.map(|(directory_position, matcher_version, at)| {
                        careledger_domain::need_case::RankingBasis {
                            directory_position,
                            matcher_version,
                            at: chrono::DateTime::from_timestamp(at, 0).unwrap(),
                        }
                    }),
                }))
            })
            .boxed(),
        (
            ids(),
            any::<bool>(),
            select(vec![
                ShareConsent::ReferralOnly,
                ShareConsent::ReferralAndContact,
            ]),
        )
            .prop_map(move |((referral, service), first, consent)| {
                n(NeedCaseEvent::ReferralRequested(ReferralRequested {
                    referral,
                    service,
                    first,
                    consent,
                }))
            })
            .boxed(),
        ids()
            .prop_map(move |(referral, service)| {
                n(NeedCaseEvent::ReferralAccepted(ReferralAccepted {
                    referral,
                    service,
                }))
            })
            .boxed(),
        (
            ids(),
            select(vec![
                RejectionReason::NoCapacity,
                RejectionReason::NotEligible,
                RejectionReason::OutOfArea,
                RejectionReason::MissingInformation,
                RejectionReason::Other,
            ]),
        )
            .prop_map(move |((referral, service), reason)| {
                n(NeedCaseEvent::ReferralRejected(ReferralRejected {
                    referral,
                    service,
                    reason,
                }))
            })
            .boxed(),
        (ids(), proptest::option::of(any::<u16>()))
            .prop_map(move |((referral, service), estimated_wait_days)| {
                n(NeedCaseEvent::ReferralWaitlisted(ReferralWaitlisted {
                    referral,
                    service,
                    estimated_wait_days,
                }))
            })
            .boxed(),
        ids()
            .prop_map(move |(referral, service)| {
                n(NeedCaseEvent::ReferralStarted(ReferralStarted {
                    referral,
                    service,
                }))
            })
            .boxed(),
        (
            ids(),
            select(vec![
                Outcome::NeedMet,
                Outcome::NeedPartlyMet,
                Outcome::NeedNotMet,
            ]),
        )
            .prop_map(move |((referral, service), outcome)| {
                n(NeedCaseEvent::ReferralCompleted(ReferralCompleted {
                    referral,
                    service,
                    outcome,
                }))
            })
            .boxed(),
        (
            ids(),
            select(vec![
                FailureReason::NoShow,
                FailureReason::Unreachable,
                FailureReason::Declined,
            ]),
        )
            .prop_map(move |((referral, service), reason)| {
                n(NeedCaseEvent::ReferralFailed(ReferralFailed {
                    referral,
                    service,
                    reason,
                }))
            })
            .boxed(),
        (
            ids(),
            select(vec![CancelledBy::Requester, CancelledBy::Recipient]),
            select(vec![
                CancelReason::NoLongerNeeded,
                CancelReason::ReferredElsewhere,
                CancelReason::RecipientUnwell,
                CancelReason::RecipientChangedMind,
                CancelReason::Other,
            ]),
        )
            .prop_map(move |((referral, service), by, reason)| {
                n(NeedCaseEvent::ReferralCancelled(ReferralCancelled {
                    referral,
                    service,
                    by,
                    reason,
                }))
            })
            .boxed(),
        select(vec![
            CloseReason::ResolvedWithoutReferral,
            CloseReason::DeclinedByRecipient,
            CloseReason::NoServiceAvailable,
            CloseReason::Deceased,
            CloseReason::Moved,
        ])
        .prop_map(move |reason| n(NeedCaseEvent::NeedClosed(NeedClosed { reason })))
        .boxed(),
        (
            prop_oneof![
                Just(ErrorTarget::NeedCase),
                uuid().prop_map(|r| ErrorTarget::Referral {
                    referral: ReferralId::from_uuid(r)
                }),
            ],
            select(vec![
                ErrorReason::Duplicate,
                ErrorReason::WrongRecipient,
                ErrorReason::WrongNeed,
                ErrorReason::WrongService,
                ErrorReason::Other,
            ]),
        )
            .prop_map(move |(target, reason)| {
                n(NeedCaseEvent::EnteredInError(EnteredInError {
                    target,
                    reason,
                }))
            })
            .boxed(),
        ids()
            .prop_map(move |(referral, service)| {
                n(NeedCaseEvent::ReferralConsentWithdrawn(
                    ReferralConsentWithdrawn { referral, service },
                ))
            })
            .boxed(),
        (
            ids(),
            uuid(),
            select(vec![Side::Requester, Side::Performer]),
            sealed(),
        )
            .prop_map(move |((referral, service), note, side, text)| {
                n(NeedCaseEvent::ReferralNoteAdded(ReferralNoteAdded {
                    referral,
                    service,
                    note: NoteId::from_uuid(note),
                    side,
                    text,
                }))
            })
            .boxed(),
        (
            ids(),
            uuid(),
            0i64..4_102_444_800,
            select(vec![Lang::En, Lang::Fr, Lang::Nl, Lang::De]),
        )
            .prop_map(move |((referral, service), link, secs, lang)| {
                n(NeedCaseEvent::AnswerLinkIssued(AnswerLinkIssued {
                    referral,
                    service,
                    link: careledger_domain::ids::AnswerLinkId::from_uuid(link),
                    expires_at: chrono::DateTime::from_timestamp(secs, 0).unwrap(),
                    lang,
                }))
            })
            .boxed(),
        (uuid(), service_profile(), capacity())
            .prop_map(|(id, profile, capacity)| {
                DomainEvent::Service(ServiceEvent::ServiceRegistered(ServiceRegistered {
                    service: ServiceId::from_uuid(id),
                    profile,
                    capacity,
                }))
            })
            .boxed(),
        service_profile()
            .prop_map(|profile| {
                DomainEvent::Service(ServiceEvent::ServiceUpdated(ServiceUpdated { profile }))
            })
            .boxed(),
        capacity()
            .prop_map(|capacity| {
                DomainEvent::Service(ServiceEvent::ServiceCapacityChanged(
                    ServiceCapacityChanged { capacity },
                ))
            })
            .boxed(),
        Just(DomainEvent::Service(ServiceEvent::ServiceRetired(
            ServiceRetired {},
        )))
        .boxed(),
        (uuid(), text(), "[0-9a-f]{64}")
            .prop_map(|(key_id, name, secret_sha256)| {
                DomainEvent::Credential(CredentialEvent::ApiKeyIssued(ApiKeyIssued {
                    key_id,
                    name,
                    secret_sha256,
                }))
            })
            .boxed(),
        uuid()
            .prop_map(|key_id| {
                DomainEvent::Credential(CredentialEvent::ApiKeyRevoked(ApiKeyRevoked { key_id }))
            })
            .boxed(),
        (
            uuid(),
            text(),
            text(),
            proptest::collection::vec(uuid(), 0..3),
            proptest::collection::vec(site(), 0..3),
            sealed(),
        )
            .prop_map(|(subscription_id, name, endpoint, owners, sites, secret)| {
                use careledger_domain::ids::OrganisationId;
                use careledger_domain::webhook::*;
                DomainEvent::Webhook(WebhookEvent::WebhookSubscriptionCreated(
                    WebhookSubscriptionCreated {
                        subscription_id,
                        name,
                        endpoint,
                        filter: WebhookFilter {
                            owners: owners.into_iter().map(OrganisationId::from_uuid).collect(),
                            requester_sites: sites,
                            statuses: vec![careledger_domain::need_case::ReferralStatus::OnHold],
                        },
                        secret,
                    },
                ))
            })
            .boxed(),
        uuid()
            .prop_map(|subscription_id| {
                use careledger_domain::webhook::*;
                DomainEvent::Webhook(WebhookEvent::WebhookSubscriptionDeleted(
                    WebhookSubscriptionDeleted { subscription_id },
                ))
            })
            .boxed(),
    ];
    arms
}

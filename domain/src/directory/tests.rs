//! Tests of the service directory: profile validation, the decide rules and what
//! an unchanged re-import writes (nothing). `profile()` is shared with the matcher's tests.

use super::*;
use crate::aggregate::testing::given;
use crate::aggregate::{Aggregate, Command, TimeRefusal};
use crate::ids::ServiceId;
use crate::recipient::tests::t;
use crate::values::{LanguageTag, NeedCode, Region};
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub(crate) fn text(s: &str) -> Localized {
    Localized {
        en: format!("{s} (en)"),
        fr: format!("{s} (fr)"),
        nl: format!("{s} (nl)"),
        de: format!("{s} (de)"),
    }
}

pub(crate) fn profile() -> ServiceProfile {
    ServiceProfile {
        organisation: "Kom op tegen Kanker".into(),
        organisation_id: None,
        name: text("Psycho-oncology consultation"),
        description: text("Individual sessions"),
        needs: vec![
            NeedCode::parse("psy.fear-of-recurrence").unwrap(),
            NeedCode::parse("psy.anxiety").unwrap(),
        ],
        languages: vec![
            LanguageTag::parse("nl").unwrap(),
            LanguageTag::parse("fr").unwrap(),
        ],
        area: ServiceArea {
            countries: vec![],
            regions: vec![Region("BE-VBR".into())],
            postal_codes: vec![],
        },
        eligibility: Eligibility::default(),
        cost: Cost::Reimbursed,
        contact: Contact {
            phone: None,
            email: Some("info@example.org".into()),
            url: Some("https://example.org".into()),
        },
        cost_note: None,
        untranslated: vec![],
    }
}

fn sid() -> ServiceId {
    ServiceId::from_uuid(Uuid::from_u128(300))
}

fn cmd(action: DirectoryAction) -> Command<DirectoryAction> {
    Command::now(action, t(2))
}

fn registered() -> ServiceEvent {
    ServiceEvent::ServiceRegistered(ServiceRegistered {
        service: sid(),
        profile: Box::new(profile().normalised()),
        capacity: Capacity::HasCapacity,
    })
}

#[test]
fn a_service_is_registered_with_its_lists_normalised() {
    let mut p = profile();
    p.needs.reverse();
    p.needs.push(p.needs[0].clone());
    given::<Service>(&[])
        .when(cmd(DirectoryAction::Register {
            service: sid(),
            profile: p,
            capacity: Capacity::HasCapacity,
        }))
        .then_expect_events(vec![registered()]);
}

#[test]
fn an_unchanged_update_or_capacity_records_nothing_and_a_change_records_it() {
    let history = [(registered(), t(1))];
    given::<Service>(&history)
        .when(cmd(DirectoryAction::Update { profile: profile() }))
        .then_expect_events(vec![]);
    given::<Service>(&history)
        .when(cmd(DirectoryAction::ChangeCapacity {
            capacity: Capacity::HasCapacity,
        }))
        .then_expect_events(vec![]);
    let mut p = profile();
    p.cost = Cost::Free;
    given::<Service>(&history)
        .when(cmd(DirectoryAction::Update { profile: p.clone() }))
        .then_expect_events(vec![ServiceEvent::ServiceUpdated(ServiceUpdated {
            profile: Box::new(p.normalised()),
        })]);
    let wait = Capacity::Waitlist {
        estimated_wait_days: 21,
    };
    given::<Service>(&history)
        .when(cmd(DirectoryAction::ChangeCapacity { capacity: wait }))
        .then_expect_events(vec![ServiceEvent::ServiceCapacityChanged(
            ServiceCapacityChanged { capacity: wait },
        )]);
}

/// Given no service, when one is registered with a NUL in its organisation, an
/// ANSI escape in a name, a carriage return in a contact line or a bidi
/// override in a name, then it is refused naming the field and the code point;
/// a description may hold line feeds and tabs, but not a carriage return.
#[test]
fn control_characters_in_a_services_text_are_refused() {
    let register = |p: ServiceProfile| {
        cmd(DirectoryAction::Register {
            service: sid(),
            profile: p,
            capacity: Capacity::HasCapacity,
        })
    };
    let refused = |p: ServiceProfile, field: &'static str, c: char| {
        given::<Service>(&[]).when(register(p)).then_expect_error(
            DirectoryError::ControlCharacter {
                field,
                code_point: c as u32,
            },
        )
    };
    let mut p = profile();
    p.organisation = "Kom op\u{0}".into();
    refused(p, "organisation", '\u{0}');
    let mut p = profile();
    p.name.fr = "\u{1b}[31mConsultation".into();
    refused(p, "name", '\u{1b}');
    let mut p = profile();
    p.name.nl = "Consult\u{202E}".into();
    refused(p, "name", '\u{202E}');
    let mut p = profile();
    p.contact.url = Some("https://example.org/\r\nX-Injected: 1".into());
    refused(p, "contact", '\r');
    let mut p = profile();
    p.description.de = "Zeile\r\nZeile".into();
    refused(p, "description", '\r');
    let mut p = profile();
    p.cost_note = Some("35 EUR\u{1b}[2J".into());
    refused(p, "cost", '\u{1b}');
    let mut p = profile();
    p.description.en = "Individual sessions.\n\tOn Mondays.".into();
    assert!(Service::default().decide(&register(p)).is_ok());
}

/// Given a registered service, when a directory command is dated after now
/// (past the skew) or before 2000-01-01 — the finding was `9999-12-31` — then
/// it is refused with the time rule every command shares, field `occurredAt`.
#[test]
fn directory_commands_dated_in_the_future_or_before_the_floor_are_refused() {
    let far = "9999-12-31T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
    given::<Service>(&[(registered(), t(1))])
        .when(Command {
            action: DirectoryAction::Retire,
            occurred_at: far,
            now: t(2),
        })
        .then_expect_error(DirectoryError::Time(TimeRefusal::InFuture {
            occurred_at: far,
            now: t(2),
        }));
    let early = "1999-12-31T23:59:59Z".parse::<DateTime<Utc>>().unwrap();
    given::<Service>(&[])
        .when(Command {
            action: DirectoryAction::Register {
                service: sid(),
                profile: profile(),
                capacity: Capacity::HasCapacity,
            },
            occurred_at: early,
            now: t(2),
        })
        .then_expect_error(DirectoryError::Time(TimeRefusal::BeforeFloor {
            occurred_at: early,
        }));
    assert_eq!(
        DirectoryError::Time(TimeRefusal::BeforeFloor { occurred_at: early }).field(),
        Some("occurredAt")
    );
}

#[test]
fn a_retired_service_takes_no_changes_and_an_unknown_one_none_but_registration() {
    let history = [
        (registered(), t(1)),
        (ServiceEvent::ServiceRetired(ServiceRetired {}), t(2)),
    ];
    given::<Service>(&history)
        .when(cmd(DirectoryAction::Retire))
        .then_expect_error(DirectoryError::Retired);
    given::<Service>(&[])
        .when(cmd(DirectoryAction::Retire))
        .then_expect_error(DirectoryError::NotRegistered);
    given::<Service>(&[(registered(), t(1))])
        .when(cmd(DirectoryAction::Register {
            service: sid(),
            profile: profile(),
            capacity: Capacity::NoCapacity,
        }))
        .then_expect_error(DirectoryError::AlreadyRegistered { service: sid() });
}

#[test]
fn invalid_profiles_are_refused_naming_the_field() {
    type Breaker = Box<dyn Fn(&mut ServiceProfile)>;
    let cases: Vec<(&str, Breaker)> = vec![
        ("organisation", Box::new(|p| p.organisation = " ".into())),
        ("name", Box::new(|p| p.name.de = String::new())),
        ("needs", Box::new(|p| p.needs.clear())),
        ("languages", Box::new(|p| p.languages.clear())),
        ("area", Box::new(|p| p.area = ServiceArea::default())),
        (
            "eligibility",
            Box::new(|p| {
                p.eligibility.patients = false;
                p.eligibility.relatives = false;
            }),
        ),
        (
            "eligibility",
            Box::new(|p| {
                p.eligibility.min_age = Some(70);
                p.eligibility.max_age = Some(18);
            }),
        ),
        (
            "contact",
            Box::new(|p| p.contact.email = Some("nope".into())),
        ),
        (
            "contact",
            Box::new(|p| p.contact.url = Some("ftp://x".into())),
        ),
        ("cost", Box::new(|p| p.cost_note = Some(" ".into()))),
        ("cost", Box::new(|p| p.cost_note = Some("x".repeat(201)))),
        (
            "untranslated",
            Box::new(|p| p.untranslated = crate::values::Lang::ALL.to_vec()),
        ),
    ];
    for (field, break_it) in cases {
        let mut p = profile();
        break_it(&mut p);
        match p.validate() {
            Err(DirectoryError::InvalidProfile { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(profile().validate().is_ok());
    let mut noted = profile();
    noted.cost_note = Some("Under 18s and Over 60s (35 GBP)".into());
    noted.untranslated = vec![crate::values::Lang::De];
    assert!(noted.validate().is_ok());
}

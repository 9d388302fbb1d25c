//! The need-case fold's own helpers (the fold itself is checked through the
//! read model's answers in the other tests).

use super::*;

/// A need-case stream's id is parsed without trimming: for every form a
/// stream name accepts, the same id `NeedCaseId::parse` gives.
#[test]
fn a_streams_need_case_is_the_id_it_was_made_with() {
    let id = NeedCaseId::from_uuid(uuid::Uuid::now_v7());
    let u = id.as_uuid();
    let forms = [
        u.hyphenated().to_string(),
        u.hyphenated().to_string().to_uppercase(),
        u.simple().to_string(),
        u.braced().to_string(),
        u.urn().to_string(),
    ];
    assert_eq!(
        super::super::fold::need_case_of(&StreamName::need_case(id)),
        Some(id)
    );
    for form in forms {
        let stream = StreamName::parse(&format!("need-{form}")).unwrap();
        let id_part = stream.as_str().strip_prefix("need-").unwrap();
        assert_eq!(
            super::super::fold::need_case_of(&stream),
            NeedCaseId::parse(id_part).ok()
        );
        assert_eq!(
            super::super::fold::need_case_of(&stream),
            Some(id),
            "{form}"
        );
    }
    let other = StreamName::parse(&format!("service-{u}")).unwrap();
    assert_eq!(super::super::fold::need_case_of(&other), None);
}

use super::*;

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn sealed() -> Sealed {
    Sealed {
        alg: "xchacha20poly1305".into(),
        nonce: "bm9uY2U".into(),
        ciphertext: "Y2lwaGVy".into(),
    }
}

fn create(name: &str, endpoint: &str, filter: WebhookFilter) -> Command<WebhookAction> {
    Command::now(
        WebhookAction::Create {
            subscription_id: Uuid::nil(),
            name: name.into(),
            endpoint: endpoint.into(),
            filter,
            secret: sealed(),
        },
        at(),
    )
}

fn site(s: &str) -> SiteId {
    SiteId::parse(s).unwrap()
}

#[test]
fn endpoints_are_http_or_https_urls_with_a_host_and_no_credentials() {
    for ok in [
        "http://127.0.0.1:8080/hook",
        "HTTPS://example.org/fhir/notify?x=1",
        "http://[::1]:9000/",
        "http://receiver.example",
    ] {
        assert!(check_endpoint(ok).is_ok(), "{ok}");
    }
    assert_eq!(
        check_endpoint("HTTP://Example.org/a").unwrap(),
        "http://Example.org/a",
        "the scheme is recorded in lowercase"
    );
    for bad in [
        "",
        "ftp://example.org/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "example.org/hook",
        "http://",
        "http:///path",
        "http://user:pw@example.org/",
        "http://example.org/#frag",
        "http://exa mple.org/",
        "http://example.org/\r\nX: y",
        "http://example.org:0/",
        "http://example.org:99999/",
        "http://example.org:/",
        "http://::1/",
        "http://[::1/",
        "http://[::1]x/",
    ] {
        assert!(
            matches!(
                check_endpoint(bad),
                Err(WebhookError::InvalidEndpoint { .. })
            ),
            "{bad:?} was accepted"
        );
    }
    let long = format!("http://example.org/{}", "a".repeat(MAX_ENDPOINT_CHARS));
    assert!(check_endpoint(&long).is_err());
}

#[test]
fn a_secret_is_long_enough_printable_and_never_printed() {
    assert_eq!(
        WebhookSecret::new("short".into()),
        Err(WebhookError::InvalidSecret)
    );
    assert_eq!(
        WebhookSecret::new(format!("{} ", "s".repeat(40))),
        Err(WebhookError::InvalidSecret)
    );
    assert_eq!(
        WebhookSecret::new("s".repeat(257)),
        Err(WebhookError::InvalidSecret)
    );
    let s = WebhookSecret::new("correct-horse-battery-staple-0123456789".into()).unwrap();
    assert_eq!(format!("{s:?}"), "WebhookSecret(redacted)");
    assert!(!WebhookError::InvalidSecret.to_string().contains("correct"));
}

#[test]
fn the_filter_lets_through_what_each_list_allows() {
    let org = OrganisationId::from_uuid(Uuid::from_u128(1));
    let other = OrganisationId::from_uuid(Uuid::from_u128(2));
    let all = WebhookFilter::default();
    assert!(all.matches(None, &site("be-a"), ReferralStatus::Requested));
    let f = WebhookFilter {
        owners: vec![org],
        requester_sites: vec![site("be-a")],
        statuses: vec![ReferralStatus::Accepted, ReferralStatus::Completed],
    };
    assert!(f.matches(Some(&org), &site("be-a"), ReferralStatus::Accepted));
    assert!(!f.matches(Some(&other), &site("be-a"), ReferralStatus::Accepted));
    assert!(
        !f.matches(None, &site("be-a"), ReferralStatus::Accepted),
        "a filter naming owners passes no ownerless referral"
    );
    assert!(!f.matches(Some(&org), &site("be-b"), ReferralStatus::Accepted));
    assert!(!f.matches(Some(&org), &site("be-a"), ReferralStatus::Rejected));
}

#[test]
fn a_subscription_is_created_once_deleted_once_and_bad_input_is_refused() {
    let mut s = WebhookSubscription::default();
    assert_eq!(
        s.decide(&Command::now(WebhookAction::Delete, at())),
        Err(WebhookError::NotFound)
    );
    let url = "http://127.0.0.1:9/hook";
    assert_eq!(
        s.decide(&create(" ", url, WebhookFilter::default())),
        Err(WebhookError::InvalidName)
    );
    assert_eq!(
        s.decide(&create("a\u{1b}[2J", url, WebhookFilter::default())),
        Err(WebhookError::ControlCharacter { code_point: 0x1b })
    );
    assert!(matches!(
        s.decide(&create("portal", "ftp://x/", WebhookFilter::default())),
        Err(WebhookError::InvalidEndpoint { .. })
    ));
    let long = WebhookFilter {
        requester_sites: (0..101).map(|i| site(&format!("be-s{i}"))).collect(),
        ..Default::default()
    };
    assert_eq!(
        s.decide(&create("portal", url, long)),
        Err(WebhookError::FilterTooLong)
    );
    let repeated = WebhookFilter {
        requester_sites: vec![site("be-b"), site("be-a"), site("be-b")],
        statuses: vec![ReferralStatus::Completed, ReferralStatus::Accepted],
        ..Default::default()
    };
    let events = s.decide(&create(" Portal ", url, repeated)).unwrap();
    let WebhookEvent::WebhookSubscriptionCreated(c) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(c.name, "Portal");
    assert_eq!(c.filter.requester_sites, vec![site("be-a"), site("be-b")]);
    assert_eq!(
        c.filter.statuses,
        vec![ReferralStatus::Accepted, ReferralStatus::Completed]
    );
    s.apply(&events[0], at());
    assert!(matches!(
        s.decide(&create("again", url, WebhookFilter::default())),
        Err(WebhookError::Exists { .. })
    ));
    let delete = Command::now(WebhookAction::Delete, at());
    let events = s.decide(&delete).unwrap();
    assert_eq!(events.len(), 1);
    s.apply(&events[0], at());
    assert_eq!(
        s.decide(&delete),
        Ok(vec![]),
        "a second deletion writes nothing"
    );
}

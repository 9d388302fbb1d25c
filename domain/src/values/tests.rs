use super::*;

/// Control characters (NUL, ESC of an ANSI escape, CR, LF, DEL, C1), the Unicode
/// line separators and bidirectional overrides are refused in one-line text;
/// a description may hold line feeds and tabs and nothing else; ordinary
/// letters of any script pass.
#[test]
fn free_text_refuses_control_characters_except_line_breaks_where_allowed() {
    for bad in [
        "a\u{0}b",
        "\u{1b}[31mred",
        "line\r",
        "two\nlines",
        "tab\there",
        "del\u{7f}",
        "c1\u{85}",
        "sep\u{2028}",
        "rtl\u{202E}txt",
        "iso\u{2066}",
    ] {
        assert!(
            forbidden_char(bad, TextKind::SingleLine).is_some(),
            "{bad:?} passed as one line"
        );
    }
    assert_eq!(
        forbidden_char("two\nlines\tand a tab", TextKind::MultiLine),
        None
    );
    assert_eq!(forbidden_char("cr\r\n", TextKind::MultiLine), Some('\r'));
    assert_eq!(
        forbidden_char("\u{1b}[2J", TextKind::MultiLine),
        Some('\u{1b}')
    );
    for ok in [
        "Stichting Tegenkracht",
        "Ligue contre le cancer – Liège",
        "Krebsgesellschaft e.V. (Köln)",
        "دعم",
    ] {
        assert_eq!(forbidden_char(ok, TextKind::SingleLine), None, "{ok}");
    }
}

/// Escaped for a log line, text keeps its printable characters and shows each
/// control character as an escape, so nothing from outside acts on a terminal.
#[test]
fn escaped_text_holds_no_live_control_character() {
    assert!(matches!(
        escape_controls("plain"),
        std::borrow::Cow::Borrowed("plain")
    ));
    let e = escape_controls("a\u{1b}[31m\r\nb\u{0}");
    assert_eq!(e, "a\\u{1b}[31m\\r\\nb\\u{0}");
    assert_eq!(forbidden_char(&e, TextKind::SingleLine), None);
}

#[test]
fn region_codes_are_validated() {
    for ok in ["BE-VBR", "NL-LI", "DE-PLZ-5", "FR-59", "LU"] {
        assert_eq!(Region::parse(ok).unwrap().as_str(), ok);
    }
    for bad in [
        "",
        "BE",
        "be-vbr",
        "XX-ABC",
        "BE-",
        "NL-LIMBURG-PROVINCE",
        "BE-V B",
    ] {
        assert!(Region::parse(bad).is_err(), "{bad}");
        // Read back from JSON (events, checkpoints) it is refused the same way:
        // nothing unvalidated is interned.
        let json = serde_json::to_string(bad).unwrap();
        assert!(serde_json::from_str::<Region>(&json).is_err(), "{bad}");
    }
    // Every region a postal code maps to reads back as itself.
    for (c, n) in [(Country::BE, 1000..10_000), (Country::DE, 10_000..100_000)] {
        for code in n.step_by(7) {
            let r = PostalCode::parse(c, &format!("{code:04}"))
                .unwrap()
                .region();
            let back: Region = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
            assert_eq!(back, r);
        }
    }
    for code in 1000..10_000 {
        let r = PostalCode::parse(Country::NL, &format!("{code}AB"))
            .unwrap()
            .region();
        let back: Region = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}

#[test]
fn postal_codes_are_validated_and_normalised_per_country() {
    assert_eq!(
        PostalCode::parse(Country::NL, "1012 ab").unwrap().code(),
        "1012AB"
    );
    assert_eq!(
        PostalCode::parse(Country::BE, " 3000 ").unwrap().code(),
        "3000"
    );
    assert_eq!(
        PostalCode::parse(Country::DE, "50667").unwrap().code(),
        "50667"
    );
    for (c, bad) in [
        (Country::BE, "0999"),
        (Country::BE, "30000"),
        (Country::NL, "1012"),
        (Country::NL, "0123AB"),
        (Country::DE, "5066"),
        (Country::FR, "7500a"),
    ] {
        let err = PostalCode::parse(c, bad).unwrap_err();
        assert!(
            matches!(err, ValueError::InvalidPostalCode { .. }),
            "{c} {bad}"
        );
    }
}

/// Found by the decoder fuzzer (infra/tests/fuzz): a Dutch postal code with a
/// multi-byte character among its first four bytes panicked `parse` (it split
/// the text at byte 4, inside the character) — from a stored event, an HSDS
/// area or a request alike. It is refused like any other bad postal code.
#[test]
fn a_dutch_postal_code_with_a_multi_byte_character_is_refused_not_panicked_on() {
    for bad in ["1éé", "123é", "5\u{b204d}73/AL", "1012ÿB", "€"] {
        let err = PostalCode::parse(Country::NL, bad).unwrap_err();
        assert!(
            matches!(
                err,
                ValueError::InvalidPostalCode {
                    country: Country::NL,
                    ..
                }
            ),
            "{bad}: {err}"
        );
    }
}

#[test]
fn need_codes_carry_their_domain_and_refuse_bad_shapes() {
    assert_eq!(
        NeedCode::parse("psy.anxiety").unwrap().domain(),
        NeedDomain::Psychosocial
    );
    assert_eq!(
        NeedCode::parse("spi.return-to-work").unwrap().domain(),
        NeedDomain::SocioProfessional
    );
    for bad in [
        "anxiety",
        "xyz.anxiety",
        "psy.",
        "psy.Anxiety",
        "psy.-a",
        "psy.a--b",
        "psy.a b",
    ] {
        assert!(NeedCode::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn language_tags_are_normalised() {
    assert_eq!(LanguageTag::parse("fr_be").unwrap().as_str(), "fr-BE");
    assert_eq!(LanguageTag::parse("TR").unwrap().as_str(), "tr");
    assert_eq!(LanguageTag::parse("fr-BE").unwrap().language(), "fr");
    for bad in ["", "f", "french", "fr-BEL", "1r"] {
        assert!(LanguageTag::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn language_tags_decoded_from_stored_text_are_normalised_or_refused() {
    // Canonical text is kept as is; other spellings are normalised; junk is refused.
    assert_eq!(
        LanguageTag::try_from("fr-BE".to_string()).unwrap().as_str(),
        "fr-BE"
    );
    assert_eq!(
        LanguageTag::try_from("fr_be".to_string()).unwrap().as_str(),
        "fr-BE"
    );
    assert!(LanguageTag::try_from("fr-BEL".to_string()).is_err());
}

#[test]
fn countries_and_ids_refuse_what_they_do_not_know() {
    assert_eq!(Country::parse(" nl ").unwrap(), Country::NL);
    assert_eq!(
        Country::parse("ES").unwrap_err().to_string(),
        "'ES' is not a supported country: expected one of BE, DE, NL, LU, FR"
    );
    let err = crate::ids::RecipientId::parse("not-a-uuid").unwrap_err();
    assert_eq!(
        err.to_string(),
        "'not-a-uuid' is not a valid RecipientId: expected a UUID"
    );
    assert!(crate::ids::NeedCaseId::parse("0190a2b4-0000-7000-8000-000000000001").is_ok());
}

#[test]
fn site_ids_birth_years_and_deciles_have_ranges() {
    assert!(SiteId::parse("be-uzleuven").is_ok());
    for bad in ["", "a", "Be-x", "1site", "site_x", &"a".repeat(33)] {
        assert!(SiteId::parse(bad).is_err(), "{bad}");
    }
    assert!(BirthYear::parse(1899).is_err());
    assert!(BirthYear::parse(1950).is_ok());
    assert!(DeprivationDecile::parse(0).is_err());
    assert!(DeprivationDecile::parse(11).is_err());
    assert_eq!(DeprivationDecile::parse(1).unwrap().quintile(), 1);
    assert_eq!(DeprivationDecile::parse(2).unwrap().quintile(), 1);
    assert_eq!(DeprivationDecile::parse(10).unwrap().quintile(), 5);
}

#[test]
fn age_bands_follow_design_boundaries() {
    let cases = [
        (0, AgeBand::Under18),
        (17, AgeBand::Under18),
        (18, AgeBand::From18To39),
        (39, AgeBand::From18To39),
        (40, AgeBand::From40To64),
        (64, AgeBand::From40To64),
        (65, AgeBand::From65To74),
        (74, AgeBand::From65To74),
        (75, AgeBand::From75),
    ];
    for (age, band) in cases {
        assert_eq!(AgeBand::of_age(age), band, "age {age}");
    }
}

#[test]
fn serde_goes_through_validation() {
    assert!(serde_json::from_str::<SiteId>("\"Bad Site\"").is_err());
    assert!(serde_json::from_str::<PostalCode>(r#"{"country":"BE","code":"12"}"#).is_err());
    let p: PostalCode = serde_json::from_str(r#"{"country":"NL","code":"1012AB"}"#).unwrap();
    assert_eq!(p.region().as_str(), "NL-NH");
}

use super::*;

fn catalogue() -> Catalogue {
    crate::catalogue::default_catalogue().unwrap()
}

#[test]
fn the_shipped_example_package_reads_whole() {
    let services = read_example(&catalogue()).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(services.len() >= 60, "{}", services.len());
    let countries: HashSet<&str> = services
        .iter()
        .flat_map(|s| {
            s.profile
                .area
                .countries
                .iter()
                .map(|c| c.code())
                .chain(s.profile.area.regions.iter().map(|r| &r.as_str()[..2]))
        })
        .collect();
    assert_eq!(countries, HashSet::from(["BE", "DE", "NL"]));
    assert!(services.iter().any(|s| !s.active), "one inactive service");
    assert!(
        services
            .iter()
            .any(|s| matches!(s.capacity, Capacity::Waitlist { .. }))
    );
    assert!(
        services
            .iter()
            .all(|s| !s.profile.name.de.is_empty() && !s.profile.name.fr.is_empty())
    );
}

/// A package broken in many ways: every bad record is reported, by file and id.
#[test]
fn every_bad_record_is_reported_by_file_and_id() {
    let broken = |name: &str| -> Result<Option<String>, String> {
        let mut text = match example_file(name) {
            Some(t) => t,
            None => return Ok(None),
        };
        match name {
            "services.json" => {
                // An impossible age range on one service, an unknown organisation on another.
                let mut v: Value = serde_json::from_str(&text).unwrap();
                v[2]["minimum_age"] = Value::from(70);
                v[2]["maximum_age"] = Value::from(18);
                v[1]["organization_id"] = Value::from("00000000-0000-0000-0000-000000000000");
                text = v.to_string();
            }
            "languages.json" => {
                let mut v: Value = serde_json::from_str(&text).unwrap();
                v[0]["code"] = Value::from("Dutch");
                text = v.to_string();
            }
            "need_services.json" => {
                let mut v: Value = serde_json::from_str(&text).unwrap();
                v[0]["needs"] = serde_json::json!(["psy.not-in-the-catalogue"]);
                text = v.to_string();
            }
            "service_areas.json" => {
                let mut v: Value = serde_json::from_str(&text).unwrap();
                v[0]["extent_type"] = Value::from("geojson");
                text = v.to_string();
            }
            "cost_options.json" => return Ok(None),
            _ => {}
        }
        Ok(Some(text))
    };
    let errors = read(broken, &catalogue()).unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let has = |needle: &str| {
        assert!(
            text.iter().any(|t| t.contains(needle)),
            "no '{needle}' in {text:#?}"
        )
    };
    has("cost_options.json (file): missing from the package");
    let services: Value = serde_json::from_str(&example_file("services.json").unwrap()).unwrap();
    let third = services[2]["id"].as_str().unwrap();
    has(&format!("services.json {third}: invalid eligibility"));
    has("organization_id is missing or not in organizations.json");
    has("languages.json");
    has("'Dutch' is not a valid language tag");
    has(
        "need_services.json 3cd5eeb9-9dcf-5d9b-a31b-5a3a7ffca1d1: unknown need code 'psy.not-in-the-catalogue'",
    );
    has("extent_type Some(\"geojson\") is not one of country, region, postal_code");
}

/// A package whose service name holds an ANSI escape and whose organisation id
/// holds CR/LF (a forged log line): the service is refused by the directory's
/// text rule, and neither the escape nor the line break reaches the terminal
/// the report is printed on.
#[test]
fn control_characters_in_a_package_are_refused_and_reported_escaped() {
    let load = |name: &str| -> Result<Option<String>, String> {
        let text = match example_file(name) {
            Some(t) => t,
            None => return Ok(None),
        };
        let mut v: Value = serde_json::from_str(&text).unwrap();
        match name {
            "services.json" => v[0]["name"] = Value::from("\u{1b}[31mRed\u{1b}[0m"),
            "organizations.json" => {
                v.as_array_mut().unwrap().push(serde_json::json!({
                    "id": "nope\r\nINFO import finished", "name": "x"
                }));
            }
            _ => {}
        }
        Ok(Some(v.to_string()))
    };
    let errors = read(load, &catalogue()).unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("name holds the control character U+001B")),
        "{text:#?}"
    );
    assert!(
        text.iter().any(|t| t.contains("nope\\r\\nINFO")),
        "{text:#?}"
    );
    for t in &text {
        assert!(
            !t.chars().any(char::is_control),
            "a live control character in {t:?}"
        );
    }
}

#[test]
fn malformed_files_are_reported_not_panicked_on() {
    let load = |name: &str| -> Result<Option<String>, String> {
        Ok(Some(match name {
            "services.json" => "{not json".to_string(),
            "organizations.json" => r#"[{"name":"no id"}, {"id":"nope","name":"x"}]"#.to_string(),
            _ => "[]".to_string(),
        }))
    };
    let text: Vec<String> = read(load, &catalogue())
        .unwrap_err()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert!(
        text.iter()
            .any(|t| t.starts_with("services.json (file): not valid JSON")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t == "organizations.json #0: missing 'id'"),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t == "organizations.json nope: 'id' is not a UUID"),
        "{text:?}"
    );
}

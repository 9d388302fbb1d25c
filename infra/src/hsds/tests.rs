use super::*;
use careledger_domain::directory::Capacity;
use serde_json::Value;
use std::collections::HashSet;

mod broken;
mod forms;

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
                v[0]["extent_type"] = Value::from("kml");
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
    has(&format!(
        "services.json row 3 {third} eligibility: invalid eligibility"
    ));
    has("organization_id is missing or not in the package's organizations");
    has("languages.json");
    has("'Dutch' is not a valid language tag");
    has(
        "need_services.json row 1 3cd5eeb9-9dcf-5d9b-a31b-5a3a7ffca1d1 needs: unknown need code 'psy.not-in-the-catalogue'",
    );
    has("extent: a kml area is not read: give it as geojson or as text codes");
}

/// A package whose service name holds an ANSI escape and where a service's id
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
            "cost_options.json" => {
                v.as_array_mut().unwrap().push(serde_json::json!({
                    "id": "x", "service_id": "nope\r\nINFO import finished", "option": "free"
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
            "organizations.json" => r#"[{"name":"no id"}, {"id":"nope"}]"#.to_string(),
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
            .any(|t| t == "organizations.json row 1 #1 id: an organization needs an id and a name"),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t
                == "organizations.json row 2 nope name: an organization needs an id and a name"),
        "{text:?}"
    );
}

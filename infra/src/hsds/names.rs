//! A service's name and description in the four label languages.
//!
//! Where they come from: CareLedger's translations — the extension table
//! `x_careledger_translations` (`service_id`, `language`, `name`,
//! `description`, `translated`) or, in JSON, `x_careledger.translations.{lang}`
//! — and the HSDS `name`/`description`, which are English when translations
//! are given (CareLedger's profile) and otherwise in the publisher's language:
//! `--language` if given, else the one of en/fr/nl/de the service says it
//! speaks if it names exactly one, else English. A language with no text falls
//! back to that language's text (or the first translated one) and is flagged
//! untranslated; a note says so.

use super::table::{Report, Row};
use careledger_domain::directory::Localized;
use careledger_domain::values::{Lang, LanguageTag};
use serde_json::Value;
use std::collections::BTreeMap;

pub(crate) struct Texts {
    pub name: Localized,
    pub description: Localized,
    pub untranslated: Vec<Lang>,
}

struct Text {
    name: String,
    description: String,
    translated: bool,
}

fn slot(l: &mut Localized, lang: Lang) -> &mut String {
    match lang {
        Lang::En => &mut l.en,
        Lang::Fr => &mut l.fr,
        Lang::Nl => &mut l.nl,
        Lang::De => &mut l.de,
    }
}

fn boolish(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim() {
            "true" | "True" | "TRUE" | "1" => Some(true),
            "false" | "False" | "FALSE" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn texts(
    service: &Row,
    table: &[&Row],
    spoken: &[LanguageTag],
    default: Option<Lang>,
    sid: &str,
    r: &mut Report,
) -> Texts {
    let mut got: BTreeMap<Lang, Text> = BTreeMap::new();
    let mut add = |lang: &str,
                   name: Option<&str>,
                   desc: Option<&str>,
                   translated: bool,
                   row: &Row,
                   r: &mut Report| {
        let Some(l) = Lang::from_tag(lang).filter(|_| lang.len() == 2) else {
            r.note(
                row,
                Some("language"),
                format!("a translation into '{lang}' is not one of en, fr, nl, de: not read"),
            );
            return;
        };
        let name = name.unwrap_or("");
        if name.trim().is_empty() {
            return;
        }
        got.insert(
            l,
            Text {
                name: name.to_string(),
                description: desc.unwrap_or("").to_string(),
                translated,
            },
        );
    };
    let inline = service
        .fields
        .get("x_careledger")
        .and_then(|x| x.get("translations"))
        .and_then(Value::as_object);
    for (lang, t) in inline.into_iter().flatten() {
        let s = |k: &str| t.get(k).and_then(Value::as_str);
        add(lang, s("name"), s("description"), true, service, r);
    }
    for row in table {
        let lang = row.text("language").unwrap_or_default();
        let translated = match row.fields.get("translated") {
            None | Some(Value::Null) => true,
            v => match boolish(v) {
                Some(b) => b,
                None => {
                    r.problem(row, Some("translated"), Some(sid), "expected true or false");
                    true
                }
            },
        };
        add(
            &lang,
            row.words("name").as_deref(),
            row.prose("description").as_deref(),
            translated,
            row,
            r,
        );
    }
    let source = if !got.is_empty() {
        Lang::En
    } else {
        let mut four: Vec<Lang> = spoken
            .iter()
            .filter_map(|t| Lang::from_tag(t.as_str()))
            .collect();
        four.sort();
        four.dedup();
        default
            .or((four.len() == 1).then(|| four[0]))
            .unwrap_or(Lang::En)
    };
    match service.words("name") {
        Some(name) => {
            got.entry(source).or_insert(Text {
                name,
                description: service.prose("description").unwrap_or_default(),
                translated: true,
            });
        }
        None if got.is_empty() => r.problem(service, Some("name"), Some(sid), "missing 'name'"),
        None => {}
    }
    let fallback_lang = std::iter::once(source)
        .chain(Lang::ALL)
        .find(|l| got.get(l).is_some_and(|t| t.translated));
    let fallback = fallback_lang
        .and_then(|l| got.get(&l))
        .map(|t| (t.name.clone(), t.description.clone()))
        .unwrap_or_default();
    let mut out = Texts {
        name: Localized::default(),
        description: Localized::default(),
        untranslated: vec![],
    };
    for lang in Lang::ALL {
        let (name, desc, translated) = match got.get(&lang) {
            Some(t) => (t.name.clone(), t.description.clone(), t.translated),
            None => (fallback.0.clone(), fallback.1.clone(), false),
        };
        *slot(&mut out.name, lang) = name;
        *slot(&mut out.description, lang) = desc;
        if !translated {
            out.untranslated.push(lang);
        }
    }
    if let Some(from) = fallback_lang
        && !out.untranslated.is_empty()
    {
        let list: Vec<&str> = out.untranslated.iter().map(|l| l.code()).collect();
        r.note(
            service,
            Some("name"),
            format!(
                "{} not translated: the {} text stands in (flagged untranslated)",
                list.join(", "),
                from.code()
            ),
        );
    }
    out
}

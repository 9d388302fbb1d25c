//! Structure-aware mutations of JSON documents and of raw bytes, shared by the
//! decoder and HSDS properties.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::Value;

/// Strings that mean something to CareLedger's values (country and region codes,
/// postal codes, need codes, enum names), and strings that break naive code
/// (multi-byte characters where ASCII is expected, control characters, huge text).
pub fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        Just(String::new()),
        "[a-z_]{1,24}",
        "(BE|NL|DE|FR|LU|XX|be|nl| NL)[:-]?.{0,8}",
        "[0-9]{1,7}[A-Za-z]{0,3}",
        "[0-9]{3,5}\\PC{1,3}",
        "(med|psy|spi|soc|xyz)\\.\\PC{0,12}",
        "[a-z]{2,3}([-_][A-Za-z]{2,3})?",
        "[\\x00-\\x1f\\x7f]{1,4}",
        prop::sample::select(vec![
            "patient",
            "relative",
            "has_capacity",
            "no_capacity",
            "waitlist",
            "postal_code",
            "region",
            "country",
            "free",
            "reimbursed",
            "fee",
            "inactive",
            "0-17",
            "75+",
            "need_case",
            "referral",
            "1012AB",
            "1éé",
            "ÿÿÿÿÿ",
            "3000",
            "NL:1éé",
            "BE:3000",
            "NL-LI",
            "LU",
            "psy.anxiety",
            "fr-BE",
            "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b",
            "\u{0}",
            "\u{1b}[31m",
            "\r\n",
            "\u{202e}",
            "\u{fffd}",
        ])
        .prop_map(str::to_string),
        (1usize..20_000).prop_map(|n| "x".repeat(n)),
    ]
}

/// Any small JSON value, scalars weighted towards the awkward ones.
pub fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(vec![
            0i64,
            -1,
            1,
            10,
            11,
            120,
            121,
            255,
            256,
            1899,
            2101,
            65_535,
            65_536,
            i64::from(u32::MAX) + 1,
            i64::MIN,
            i64::MAX,
        ])
        .prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        tricky_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(tricky_string(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// What goes in place of a node.
#[derive(Debug, Clone)]
pub enum Replacement {
    Json(Value),
    /// Raw JSON text, spliced in as is: numbers no Rust integer holds, broken
    /// escapes, half a document.
    Raw(String),
    /// `n` nested arrays or objects, spliced in as text (never built as a `Value`:
    /// that would test the fuzzer's stack, not the decoder's).
    Deep {
        levels: usize,
        objects: bool,
    },
}

pub fn replacement() -> impl Strategy<Value = Replacement> {
    prop_oneof![
        4 => json().prop_map(Replacement::Json),
        2 => prop::sample::select(vec![
            "1e400",
            "-1e400",
            "18446744073709551616",
            "-9223372036854775809",
            "340282366920938463463374607431768211456",
            "4294967296",
            "-0",
            "0.5",
            "1E2",
            "NaN",
            "Infinity",
            "\"\\ud800\"",
            "\"\\u0000\"",
            "\"\\uDFFF\\uD800\"",
            "\"\\x41\"",
            "\"",
            "[",
            "{",
            "]",
            "{\"a\":1,\"a\":2}",
            "",
            "nul",
            "01",
            "[1,]",
        ])
        .prop_map(|s| Replacement::Raw(s.to_string())),
        1 => (1usize..10_000, any::<bool>())
            .prop_map(|(levels, objects)| Replacement::Deep { levels, objects }),
    ]
}

/// One change to a JSON document. `at` picks a node (modulo the number of nodes,
/// in document order), so the mutation always lands somewhere real.
#[derive(Debug, Clone)]
pub enum Mutation {
    Replace {
        at: usize,
        with: Replacement,
    },
    Remove {
        at: usize,
    },
    /// Sets `key` on an object node (an existing field when `key` is one the
    /// document already uses, else an unknown one).
    SetField {
        at: usize,
        key: String,
        with: Replacement,
    },
    /// Edits the text of a string node, keeping it close to a valid value
    /// (`1012AB` → `101é2AB`); `short` picks among the short strings (codes,
    /// tags, enum names: the values with rules), else among all.
    Retext {
        at: usize,
        short: bool,
        edits: Vec<TextEdit>,
    },
}

/// One edit of a text, at a character position (modulo its length).
#[derive(Debug, Clone)]
pub enum TextEdit {
    Insert(usize, char),
    Replace(usize, char),
    Delete(usize),
    Truncate(usize),
    Append(String),
    Uppercase,
    Lowercase,
}

/// Characters worth inserting: multi-byte ones where ASCII is expected, separators,
/// digits, control characters, and any.
fn character() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            'é', 'ÿ', '€', '𝔸', '\u{0}', '\u{1b}', '\n', ' ', '\u{a0}', '-', '_', ':', '.', '0',
            '9', 'A', 'z', '~', '/', '"', '\\',
        ]),
        any::<char>(),
    ]
}

pub fn text_edit() -> impl Strategy<Value = TextEdit> {
    prop_oneof![
        3 => (any::<usize>(), character()).prop_map(|(at, c)| TextEdit::Insert(at, c)),
        3 => (any::<usize>(), character()).prop_map(|(at, c)| TextEdit::Replace(at, c)),
        1 => any::<usize>().prop_map(TextEdit::Delete),
        1 => any::<usize>().prop_map(TextEdit::Truncate),
        1 => tricky_string().prop_map(TextEdit::Append),
        1 => Just(TextEdit::Uppercase),
        1 => Just(TextEdit::Lowercase),
    ]
}

pub fn edit_text(text: &str, edit: &TextEdit) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let len = chars.len();
    match edit {
        TextEdit::Insert(at, c) => chars.insert(at % (len + 1), *c),
        TextEdit::Replace(at, c) if len > 0 => chars[at % len] = *c,
        TextEdit::Replace(_, c) => chars.push(*c),
        TextEdit::Delete(at) if len > 0 => {
            chars.remove(at % len);
        }
        TextEdit::Delete(_) => {}
        TextEdit::Truncate(at) => chars.truncate(at % (len + 1)),
        TextEdit::Append(s) => chars.extend(s.chars()),
        TextEdit::Uppercase => return text.to_uppercase(),
        TextEdit::Lowercase => return text.to_lowercase(),
    }
    chars.into_iter().collect()
}

/// Mutations, with `keys` the field names worth setting (the document's own).
pub fn mutation(keys: &'static [&'static str]) -> impl Strategy<Value = Mutation> {
    let key = prop_oneof![
        4 => prop::sample::select(keys).prop_map(str::to_string),
        1 => tricky_string(),
    ];
    prop_oneof![
        3 => (any::<usize>(), replacement()).prop_map(|(at, with)| Mutation::Replace { at, with }),
        1 => any::<usize>().prop_map(|at| Mutation::Remove { at }),
        3 => (any::<usize>(), key, replacement())
            .prop_map(|(at, key, with)| Mutation::SetField { at, key, with }),
        4 => (any::<usize>(), any::<bool>(), vec(text_edit(), 1..4))
            .prop_map(|(at, short, edits)| Mutation::Retext { at, short, edits }),
    ]
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Which nodes a mutation may land on.
#[derive(Clone, Copy, PartialEq)]
enum Nodes {
    Any,
    Objects,
    Strings,
    /// Strings of at most 16 characters.
    ShortStrings,
}

impl Nodes {
    fn admits(self, v: &Value) -> bool {
        match self {
            Nodes::Any => true,
            Nodes::Objects => v.is_object(),
            Nodes::Strings => v.is_string(),
            Nodes::ShortStrings => v.as_str().is_some_and(|s| s.chars().count() <= 16),
        }
    }
}

/// JSON pointers of every admitted node, in document order.
fn pointers(v: &Value, here: &str, kind: Nodes, out: &mut Vec<String>) {
    if kind.admits(v) {
        out.push(here.to_string());
    }
    match v {
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                pointers(x, &format!("{here}/{i}"), kind, out);
            }
        }
        Value::Object(fields) => {
            for (k, x) in fields {
                pointers(x, &format!("{here}/{}", escape(k)), kind, out);
            }
        }
        _ => {}
    }
}

fn pick(v: &Value, at: usize, kind: Nodes) -> Option<String> {
    let mut all = Vec::new();
    pointers(v, "", kind, &mut all);
    if all.is_empty() {
        None
    } else {
        Some(all.swap_remove(at % all.len()))
    }
}

/// Applies `mutations` to `doc` and serialises it, splicing raw and deep
/// replacements in as text.
pub fn mutate(mut doc: Value, mutations: &[Mutation]) -> Vec<u8> {
    let mut splices: Vec<String> = Vec::new();
    let mut place = |with: &Replacement| -> Value {
        match with {
            Replacement::Json(v) => v.clone(),
            Replacement::Raw(raw) => {
                splices.push(raw.clone());
                Value::from(format!("@@splice{}@@", splices.len() - 1))
            }
            Replacement::Deep { levels, objects } => {
                let (open, close) = if *objects {
                    ("{\"a\":", "}")
                } else {
                    ("[", "]")
                };
                splices.push(format!(
                    "{}1{}",
                    open.repeat(*levels),
                    close.repeat(*levels)
                ));
                Value::from(format!("@@splice{}@@", splices.len() - 1))
            }
        }
    };
    for m in mutations {
        match m {
            Mutation::Replace { at, with } => {
                if let Some(p) = pick(&doc, *at, Nodes::Any)
                    && let Some(node) = doc.pointer_mut(&p)
                {
                    *node = place(with);
                }
            }
            Mutation::Remove { at } => {
                let Some(p) = pick(&doc, *at, Nodes::Any) else {
                    continue;
                };
                let Some((parent, last)) = p.rsplit_once('/') else {
                    doc = Value::Null;
                    continue;
                };
                let last = unescape(last);
                match doc.pointer_mut(parent) {
                    Some(Value::Object(o)) => {
                        o.remove(&last);
                    }
                    Some(Value::Array(a)) => {
                        if let Ok(i) = last.parse::<usize>()
                            && i < a.len()
                        {
                            a.remove(i);
                        }
                    }
                    _ => {}
                }
            }
            Mutation::SetField { at, key, with } => {
                if let Some(p) = pick(&doc, *at, Nodes::Objects)
                    && let Some(Value::Object(o)) = doc.pointer_mut(&p)
                {
                    o.insert(key.clone(), place(with));
                }
            }
            Mutation::Retext { at, short, edits } => {
                let kind = if *short {
                    Nodes::ShortStrings
                } else {
                    Nodes::Strings
                };
                if let Some(p) = pick(&doc, *at, kind)
                    && let Some(Value::String(t)) = doc.pointer_mut(&p)
                {
                    for edit in edits {
                        *t = edit_text(t, edit);
                    }
                }
            }
        }
    }
    let mut text = serde_json::to_string(&doc).expect("a Value serialises");
    for (i, s) in splices.iter().enumerate() {
        text = text.replace(&format!("\"@@splice{i}@@\""), s);
    }
    text.into_bytes()
}

/// One change to raw bytes.
#[derive(Debug, Clone)]
pub enum ByteEdit {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
}

pub fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        any::<usize>().prop_map(ByteEdit::Truncate),
        (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| ByteEdit::Flip(at, mask)),
        (any::<usize>(), vec(any::<u8>(), 1..8)).prop_map(|(at, b)| ByteEdit::Insert(at, b)),
        (any::<usize>(), 1usize..16).prop_map(|(at, n)| ByteEdit::Delete(at, n)),
    ]
}

pub fn edit_bytes(mut bytes: Vec<u8>, edits: &[ByteEdit]) -> Vec<u8> {
    for e in edits {
        let len = bytes.len();
        match e {
            ByteEdit::Truncate(at) => bytes.truncate(at % (len + 1)),
            ByteEdit::Flip(at, mask) if len > 0 => bytes[at % len] ^= mask,
            ByteEdit::Flip(..) => {}
            ByteEdit::Insert(at, b) => {
                let at = at % (len + 1);
                bytes.splice(at..at, b.iter().copied());
            }
            ByteEdit::Delete(at, n) => {
                let at = at % (len + 1);
                bytes.drain(at..(at + n).min(len));
            }
        }
    }
    bytes
}

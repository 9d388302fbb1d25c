//! Guards that run on a request's raw text before anything recursive touches it.
//!
//! async-graphql's parser, its value conversions and serde_json's `Value` all
//! recurse once per nesting level of the input. A few kilobytes of `[[[[…` is
//! enough to overflow a worker thread's stack and abort the whole process, so the
//! nesting of every piece of a request (the JSON body, the GraphQL document, the
//! `variables` and `extensions` JSON of a GET) is measured first by a flat scan
//! that uses no recursion and no allocation, and refused above a bound far beyond
//! any real document (a selection set is at most [`crate::graphql::MAX_DEPTH`]
//! deep; input values a few levels more).
//!
//! The second guard bounds the writes one request may make: a mutation document
//! may hold at most [`MAX_MUTATION_FIELDS`] root fields (aliases count, fragments
//! are expanded), and each one is charged to the caller's rate limit.

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use std::collections::HashMap;

/// The deepest nesting of brackets accepted in a GraphQL document or in JSON.
pub const MAX_NESTING: usize = 64;

/// The most mutation fields (aliases included) one request may hold.
pub const MAX_MUTATION_FIELDS: usize = 10;

/// The most selections a document may hold once its fragments are spread out.
/// A document of a few hundred bytes whose fragments each spread the next two or
/// three times expands to billions of selections, and async-graphql's own checks
/// (recursion depth, complexity) walk that expansion without memo, synchronously,
/// before any time limit can act; so it is measured here first, with a memo.
pub const MAX_EXPANDED_SELECTIONS: usize = 20_000;

/// Why a request was refused before it was parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{what} nests deeper than {MAX_NESTING} levels")]
    TooDeep { what: &'static str },
    #[error(
        "the request holds {fields} mutation fields; at most {MAX_MUTATION_FIELDS} may be sent in one request"
    )]
    TooManyMutations { fields: usize },
    #[error(
        "the document expands (fragments spread out) to more than {MAX_EXPANDED_SELECTIONS} selections"
    )]
    TooLarge,
}

impl Refusal {
    /// The `extensions.code` of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::TooDeep { .. } => "NESTING_TOO_DEEP",
            Refusal::TooManyMutations { .. } => "TOO_MANY_MUTATIONS",
            Refusal::TooLarge => "QUERY_TOO_LARGE",
        }
    }
}

/// The deepest bracket nesting of a JSON text (`{` and `[` outside strings).
/// Malformed JSON is measured all the same; the parser refuses it afterwards.
pub fn json_nesting(text: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut in_string = false;
    let mut escaped = false;
    for &b in text {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// The deepest bracket nesting of a GraphQL document: `{`, `[` and `(` outside
/// strings, block strings and comments (selection sets, list and object values,
/// argument and variable lists all recurse in the parser).
pub fn graphql_nesting(text: &str) -> usize {
    let b = text.as_bytes();
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if b[i..].starts_with(b"\"\"\"") => {
                // A block string ends at the next unescaped `"""`.
                i += 3;
                while i < b.len() && !b[i..].starts_with(b"\"\"\"") {
                    if b[i..].starts_with(b"\\\"\"\"") {
                        i += 4;
                    } else {
                        i += 1;
                    }
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

/// Refuses JSON nested deeper than [`MAX_NESTING`].
pub fn check_json(what: &'static str, text: &[u8]) -> Result<(), Refusal> {
    if json_nesting(text) > MAX_NESTING {
        return Err(Refusal::TooDeep { what });
    }
    Ok(())
}

/// Refuses a GraphQL document nested deeper than [`MAX_NESTING`].
pub fn check_document(text: &str) -> Result<(), Refusal> {
    if graphql_nesting(text) > MAX_NESTING {
        return Err(Refusal::TooDeep {
            what: "the GraphQL document",
        });
    }
    Ok(())
}

/// The number of root fields of the operation a request runs, if it is a
/// mutation (`0` for a query, or when the operation cannot be chosen: validation
/// refuses that request later). Fragment spreads and inline fragments at the root
/// are expanded; a fragment is counted once per spread, cycles once.
pub fn mutation_fields(doc: &ExecutableDocument, operation_name: Option<&str>) -> usize {
    let op = doc.operations.iter().find(|(n, _)| match operation_name {
        Some(name) => n.map(|n| n.as_str()) == Some(name),
        None => true,
    });
    let Some((_, op)) = op else { return 0 };
    if op.node.ty != OperationType::Mutation {
        return 0;
    }
    Walk::new(doc, false).count(&op.node.selection_set.node, 0)
}

/// Whether the operation a request runs (named, or the document's only one) is
/// a subscription: those are served over WebSocket only (`http::ws`).
pub fn is_subscription(doc: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    doc.operations
        .iter()
        .find(|(n, _)| match operation_name {
            Some(name) => n.map(|n| n.as_str()) == Some(name),
            None => true,
        })
        .is_some_and(|(_, op)| op.node.ty == OperationType::Subscription)
}

/// Fragments nested deeper than this inside one another are not followed (the
/// nesting guard does not see a chain of spreads; no real document nests them so
/// deep). Keeps the walks' recursion bounded.
const MAX_FRAGMENT_DEPTH: usize = 64;

/// One memoised walk over a document's selections with its fragments spread out:
/// each fragment is measured once and remembered, so a document spreading
/// fragments into each other cannot make it exponential; a fragment spread inside
/// itself counts nothing (validation refuses it later). `deep`: count the
/// selections inside fields too (the document's expanded size), or only a set's
/// own fields (a mutation's root fields).
struct Walk<'a> {
    doc: &'a ExecutableDocument,
    deep: bool,
    memo: HashMap<&'a str, usize>,
}

impl<'a> Walk<'a> {
    fn new(doc: &'a ExecutableDocument, deep: bool) -> Self {
        Self {
            doc,
            deep,
            memo: HashMap::new(),
        }
    }

    fn count(&mut self, set: &'a SelectionSet, depth: usize) -> usize {
        if depth > MAX_FRAGMENT_DEPTH {
            // Deeper than any real document: as good as too large.
            return MAX_EXPANDED_SELECTIONS + 1;
        }
        let mut sum = 0usize;
        for s in &set.items {
            let n = match &s.node {
                Selection::Field(f) if self.deep => {
                    1usize.saturating_add(self.count(&f.node.selection_set.node, depth + 1))
                }
                Selection::Field(_) => 1,
                Selection::InlineFragment(f) => self.count(&f.node.selection_set.node, depth + 1),
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(n) = self.memo.get(name) {
                        *n
                    } else if let Some(f) = self.doc.fragments.get(&spread.node.fragment_name.node)
                    {
                        self.memo.insert(name, 0);
                        let n = self.count(&f.node.selection_set.node, depth + 1);
                        self.memo.insert(name, n);
                        n
                    } else {
                        0
                    }
                }
            };
            sum = sum.saturating_add(n);
        }
        sum
    }
}

/// The number of selections of the whole document with every fragment spread
/// out (saturating).
pub fn expanded_selections(doc: &ExecutableDocument) -> usize {
    let mut walk = Walk::new(doc, true);
    doc.operations
        .iter()
        .map(|(_, op)| walk.count(&op.node.selection_set.node, 0))
        .fold(0usize, usize::saturating_add)
}

/// Refuses a document that expands past [`MAX_EXPANDED_SELECTIONS`].
pub fn check_expansion(doc: &ExecutableDocument) -> Result<(), Refusal> {
    if expanded_selections(doc) > MAX_EXPANDED_SELECTIONS {
        return Err(Refusal::TooLarge);
    }
    Ok(())
}

/// Checks a parsed request's writes: at most [`MAX_MUTATION_FIELDS`]. Returns how
/// many mutation fields it holds (the rate limiter charges each).
pub fn check_mutations(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Result<usize, Refusal> {
    let fields = mutation_fields(doc, operation_name);
    if fields > MAX_MUTATION_FIELDS {
        return Err(Refusal::TooManyMutations { fields });
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(q: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(q).unwrap()
    }

    #[test]
    fn json_nesting_counts_brackets_outside_strings() {
        assert_eq!(json_nesting(b"{}"), 1);
        assert_eq!(json_nesting(br#"{"a":[1,{"b":[]}]}"#), 4);
        assert_eq!(json_nesting(br#"{"a":"[[[[\"[[["}"#), 1);
        assert_eq!(json_nesting(b"12"), 0);
        let deep = "[".repeat(10_000);
        assert_eq!(json_nesting(deep.as_bytes()), 10_000);
        assert!(check_json("the JSON body", deep.as_bytes()).is_err());
        assert!(check_json("the JSON body", &b"[".repeat(MAX_NESTING)).is_ok());
    }

    #[test]
    fn graphql_nesting_skips_strings_block_strings_and_comments() {
        assert_eq!(graphql_nesting("{ a { b } }"), 2);
        assert_eq!(graphql_nesting("{ a(x: [[1]]) }"), 4);
        assert_eq!(graphql_nesting("{ a(s: \"{{{{[[[\") }"), 2);
        assert_eq!(
            graphql_nesting("{ a(s: \"\"\" {{{ \\\"\"\" [[[ \"\"\") }"),
            2
        );
        assert_eq!(graphql_nesting("# {{{{{{\n{ a }"), 1);
        let deep = format!(
            "{{ catalogue(domain: {}) {{ version }} }}",
            "[".repeat(10_000)
        );
        assert!(check_document(&deep).is_err());
        assert!(check_document("{ catalogue { version } }").is_ok());
    }

    /// A ~1.3 KB document whose 31 fragments each spread the next three times
    /// expands to 3^30 selections: refused at once (it would have kept both
    /// workers busy in async-graphql's unmemoised walks); ordinary documents pass.
    #[test]
    fn documents_that_fan_out_through_fragments_are_refused_before_validation() {
        let mut fan = String::from("query { ...F0 } ");
        for i in 0..30 {
            fan.push_str(&format!(
                "fragment F{i} on Query {{ ...F{n} ...F{n} ...F{n} }} ",
                n = i + 1
            ));
        }
        fan.push_str("fragment F30 on Query { __typename }");
        assert!(fan.len() < 2_000, "{}", fan.len());
        let started = std::time::Instant::now();
        assert_eq!(check_expansion(&doc(&fan)), Err(Refusal::TooLarge));
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        let ok = doc("query { a { b c } ...F } fragment F on Query { d { e } }");
        assert_eq!(expanded_selections(&ok), 5);
        assert!(check_expansion(&ok).is_ok());
    }

    #[test]
    fn mutation_fields_count_aliases_and_expand_fragments() {
        let d = doc("mutation { a: x b: x c: x }");
        assert_eq!(mutation_fields(&d, None), 3);
        let d = doc("mutation M { ...F ... on Mutation { z } } fragment F on Mutation { x y }");
        assert_eq!(mutation_fields(&d, Some("M")), 3);
        // A query holds none; the named operation is the one counted.
        let d = doc("query Q { a } mutation M { x y }");
        assert_eq!(mutation_fields(&d, Some("Q")), 0);
        assert_eq!(mutation_fields(&d, Some("M")), 2);
        // A fragment cycle (refused by validation later) does not loop here.
        let d = doc("mutation { ...F } fragment F on Mutation { x ...F }");
        assert_eq!(mutation_fields(&d, None), 1);
        // Fragments spreading each other twice over 40 levels count at once.
        let mut chain = String::from("mutation { ...F0 } ");
        for i in 0..40 {
            chain.push_str(&format!(
                "fragment F{i} on Mutation {{ ...F{} ...F{} }} ",
                i + 1,
                i + 1
            ));
        }
        chain.push_str("fragment F40 on Mutation { ...F0 }");
        assert_eq!(mutation_fields(&doc(&chain), None), 0);
        // A chain of 20,000 fragments, each spreading the next, is counted on a
        // small stack (its recursion stops at the fragment depth bound, and so
        // deep a chain counts as too many).
        let mut long = String::from("mutation { ...F0 } ");
        for i in 0..20_000 {
            long.push_str(&format!("fragment F{i} on Mutation {{ x ...F{} }} ", i + 1));
        }
        long.push_str("fragment F20000 on Mutation { x }");
        let d = doc(&long);
        let n = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || mutation_fields(&d, None))
            .unwrap()
            .join()
            .expect("no stack overflow");
        assert!(n > MAX_MUTATION_FIELDS, "too deep counts as too many: {n}");
        let many = format!(
            "mutation {{ {} }}",
            (0..11)
                .map(|i| format!("a{i}: x"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert_eq!(
            check_mutations(&doc(&many), None),
            Err(Refusal::TooManyMutations { fields: 11 })
        );
    }
}

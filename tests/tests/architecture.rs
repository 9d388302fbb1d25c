//! The layout's rules, enforced (ARCHITECTURE.md, "Layers"): which crate may
//! depend on which, no import circle between the source files of any crate, no
//! file of `api` importing from a layer above its own, and no source file of
//! 700 lines or more. Each check reads the repository as it is, so a change that
//! breaks a rule fails here with the offending file named.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

const CRATES: [&str; 7] = [
    "domain",
    "projections",
    "infra",
    "app",
    "api",
    "bench",
    "tests",
];

/// Every `.rs` file under `dir`, skipping `target`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if !matches!(
                p.file_name().and_then(|n| n.to_str()),
                Some("target" | "node_modules")
            ) {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

// ---------------------------------------------------------------------------
// Crate dependencies
// ---------------------------------------------------------------------------

/// The normal (not dev, not build) dependencies of each workspace package, by name.
fn dependency_graph() -> HashMap<String, Vec<String>> {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(repo())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let mut graph = HashMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let from = names[node["id"].as_str().unwrap()].to_string();
        let deps = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| names[d["pkg"].as_str().unwrap()].to_string())
            .collect();
        graph.insert(from, deps);
    }
    graph
}

/// Every package `root` depends on, directly or not (normal dependencies).
fn reachable(graph: &HashMap<String, Vec<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![root.to_string()];
    while let Some(p) = todo.pop() {
        for d in graph.get(&p).into_iter().flatten() {
            if seen.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

/// The application layer knows no edge: no HTTP, GraphQL or command line, and
/// no adapter (it reaches the store and the vault through the domain's ports).
#[test]
fn the_application_layer_depends_on_no_edge_and_no_adapter() {
    let graph = dependency_graph();
    let app = reachable(&graph, "careledger-app");
    for forbidden in [
        "axum",
        "async-graphql",
        "clap",
        "hyper",
        "tower",
        "tower-http",
        "careledger-infra",
        "careledger-api",
        "rusqlite",
        "tokio-postgres",
        "jsonwebtoken",
    ] {
        assert!(
            !app.contains(forbidden),
            "careledger-app depends on {forbidden}"
        );
    }
    assert!(app.contains("careledger-domain") && app.contains("careledger-projections"));
}

/// The crates point down only: domain ← projections ← app ← api, infra ← api.
#[test]
fn crates_depend_only_downwards() {
    let graph = dependency_graph();
    let direct = |p: &str| -> BTreeSet<String> {
        graph[p]
            .iter()
            .filter(|d| d.starts_with("careledger-"))
            .cloned()
            .collect()
    };
    let set = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(direct("careledger-domain"), set(&[]));
    assert_eq!(
        direct("careledger-projections"),
        set(&["careledger-domain"])
    );
    assert_eq!(direct("careledger-infra"), set(&["careledger-domain"]));
    assert_eq!(
        direct("careledger-app"),
        set(&["careledger-domain", "careledger-projections"])
    );
    assert_eq!(
        direct("careledger-api"),
        set(&[
            "careledger-app",
            "careledger-domain",
            "careledger-infra",
            "careledger-projections"
        ])
    );
    // The benchmark drives the real binary; it never links the server crate.
    assert!(!reachable(&graph, "careledger-bench").contains("careledger-api"));
    // The domain knows no I/O: its own dependencies are the data model's.
    let domain: BTreeSet<String> = graph["careledger-domain"].iter().cloned().collect();
    assert_eq!(
        domain,
        set(&["chrono", "compact_str", "serde", "thiserror", "uuid"])
    );
}

// ---------------------------------------------------------------------------
// Imports between source files
// ---------------------------------------------------------------------------

/// The module path of each source file of a crate's `src` (tests excluded).
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut mods = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap();
        if rel
            .components()
            .any(|c| matches!(c.as_os_str().to_str(), Some("tests" | "bin")))
            || rel.file_name().is_some_and(|n| n == "tests.rs")
        {
            continue;
        }
        let mut parts: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(
            parts.last().map(String::as_str),
            Some("lib" | "main" | "mod")
        ) {
            parts.pop();
        }
        mods.insert(parts, f);
    }
    mods
}

/// Expands a use tree (`a::{b, c::{d, e}}`) into paths.
fn expand(tree: &str) -> Vec<Vec<String>> {
    fn walk(prefix: &[String], s: &str, out: &mut Vec<Vec<String>>) {
        let mut depth = 0;
        let mut cur = String::new();
        for ch in s.chars().chain(std::iter::once(',')) {
            match ch {
                '{' => {
                    depth += 1;
                    cur.push(ch);
                }
                '}' => {
                    depth -= 1;
                    cur.push(ch);
                }
                ',' if depth == 0 => {
                    if !cur.is_empty() {
                        if let Some((head, rest)) = cur.split_once('{') {
                            let mut p = prefix.to_vec();
                            p.extend(
                                head.split("::")
                                    .filter(|x| !x.is_empty())
                                    .map(str::to_string),
                            );
                            walk(&p, &rest[..rest.len() - 1], out);
                        } else {
                            let mut p = prefix.to_vec();
                            p.extend(
                                cur.split("::")
                                    .filter(|x| !x.is_empty())
                                    .map(str::to_string),
                            );
                            out.push(p);
                        }
                    }
                    cur.clear();
                }
                c if !c.is_whitespace() => cur.push(c),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(&[], tree, &mut out);
    out
}

/// The paths a file names through `crate::`, `super::` and `self::`, resolved
/// against its own module path (`as` renames dropped).
fn referenced(text: &str, own: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(i) = rest.find("use ") {
        let after = &rest[i + 4..];
        let boundary = i == 0 || !rest.as_bytes()[i - 1].is_ascii_alphanumeric();
        if boundary
            && (after.starts_with("crate::")
                || after.starts_with("super::")
                || after.starts_with("self::"))
            && let Some(end) = after.find(';')
        {
            for p in expand(&after[..end]) {
                found.push(p);
            }
        }
        rest = &rest[i + 4..];
    }
    for prefix in ["crate::", "super::"] {
        let mut rest = code.as_str();
        while let Some(i) = rest.find(prefix) {
            let tail: String = rest[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            found.push(tail.split("::").map(str::to_string).collect());
            rest = &rest[i + prefix.len()..];
        }
    }
    found
        .into_iter()
        .map(|p| {
            let mut base: Vec<String> = own.to_vec();
            let mut p: Vec<String> = p
                .into_iter()
                .map(|x| x.split(" as ").next().unwrap_or("").to_string())
                .filter(|x| !x.is_empty() && x != "*")
                .collect();
            if p.first().is_some_and(|x| x == "crate") {
                base.clear();
                p.remove(0);
            } else {
                while p.first().is_some_and(|x| x == "super" || x == "self") {
                    if p[0] == "super" {
                        base.pop();
                    }
                    p.remove(0);
                }
            }
            base.extend(p);
            base
        })
        .collect()
}

/// The file-level import graph of one crate: file → files it imports from.
fn import_graph(krate: &str) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let src = repo().join(krate).join("src");
    let mods = modules(&src);
    let mut graph = BTreeMap::new();
    for (own, file) in &mods {
        let text = std::fs::read_to_string(file).unwrap();
        let mut to = BTreeSet::new();
        for path in referenced(&text, own) {
            // The longest prefix of the path that is a module file.
            let target = (0..=path.len())
                .rev()
                .find_map(|n| mods.get(&path[..n]).filter(|_| n > 0 || path.is_empty()));
            if let Some(t) = target
                && t != file
            {
                to.insert(t.clone());
            }
        }
        graph.insert(file.clone(), to);
    }
    graph
}

/// Strongly connected components of more than one file (Tarjan).
fn circles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct T<'a> {
        g: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: HashMap<&'a PathBuf, usize>,
        low: HashMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on: BTreeSet<&'a PathBuf>,
        next: usize,
        out: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a PathBuf) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g: graph,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

/// No two source files of a crate import each other, directly or round a circle
/// (a module and the modules it is made of included): each file can be read
/// knowing only the files below it.
#[test]
fn no_crate_has_an_import_circle() {
    let mut found = Vec::new();
    for krate in CRATES {
        for c in circles(&import_graph(krate)) {
            let names: Vec<String> = c
                .iter()
                .map(|p| p.strip_prefix(repo()).unwrap().display().to_string())
                .collect();
            found.push(format!("{krate}: {}", names.join(", ")));
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

/// The layers of `api`, top down; a file may import from its own layer and the
/// ones below it, never from one above (and nothing imports `cli`).
const API_LAYERS: [&str; 8] = [
    "cli",
    "startup",
    "http",
    "ops",
    "fhir",
    "dashboard",
    "graphql",
    "progress",
];

#[test]
fn api_files_import_only_from_their_layer_or_below() {
    let src = repo().join("api/src");
    let mods = modules(&src);
    let rank = |path: &[String]| {
        path.first()
            .and_then(|top| API_LAYERS.iter().position(|l| l == top))
    };
    let mut wrong = Vec::new();
    for (own, file) in &mods {
        let Some(mine) = rank(own) else { continue };
        let text = std::fs::read_to_string(file).unwrap();
        for path in referenced(&text, own) {
            if let Some(theirs) = rank(&path)
                && theirs < mine
            {
                wrong.push(format!(
                    "{} imports {} (layer {} is above {})",
                    file.strip_prefix(repo()).unwrap().display(),
                    path.join("::"),
                    API_LAYERS[theirs],
                    API_LAYERS[mine]
                ));
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "imports from a layer above:\n{}",
        wrong.join("\n")
    );
}

/// The checker sees what it must: a circle between two files and an import from
/// a layer above are found (so the tests above cannot pass by seeing nothing).
#[test]
fn the_checks_find_a_planted_circle_and_a_planted_upward_import() {
    let a = PathBuf::from("a.rs");
    let b = PathBuf::from("b.rs");
    let graph = BTreeMap::from([
        (a.clone(), BTreeSet::from([b.clone()])),
        (b.clone(), BTreeSet::from([a.clone()])),
    ]);
    assert_eq!(circles(&graph).len(), 1);
    let own = vec!["graphql".to_string(), "casework".to_string()];
    let paths = referenced(
        "use crate::http::{tokens::TokenKey, limits};\nuse super::support::error;\nfn f() { crate::cli::run(); }",
        &own,
    );
    assert!(paths.contains(&vec!["http".into(), "tokens".into(), "TokenKey".into()]));
    assert!(paths.contains(&vec!["graphql".into(), "support".into(), "error".into()]));
    assert!(paths.contains(&vec!["cli".into(), "run".into()]));
    // The real graphs are not empty.
    let api = import_graph("api");
    assert!(
        api.values().map(BTreeSet::len).sum::<usize>() > 50,
        "{api:?}"
    );
}

/// No source file reaches 700 lines: a file a newcomer can read in one sitting.
#[test]
fn no_source_file_reaches_700_lines() {
    let mut files = Vec::new();
    for krate in CRATES {
        rust_files(&repo().join(krate), &mut files);
    }
    assert!(files.len() > 100, "found only {} files", files.len());
    let mut long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).ok()?.lines().count();
            (n >= 700).then(|| format!("{} ({n} lines)", f.strip_prefix(repo()).unwrap().display()))
        })
        .collect();
    long.sort();
    assert!(
        long.is_empty(),
        "files of 700 lines or more:\n{}",
        long.join("\n")
    );
}

//! No request may crash, stall or out-rank the server (issue 13, DESIGN §6):
//! nesting bounded before anything recursive reads a request, writes per request
//! bounded and charged, expensive documents refused up front, work per credential
//! capped, slow and too many clients dropped, GraphQL over HTTP followed exactly.

use crate::api::{Server, v7};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_string()
}

/// The server still answers an ordinary query.
fn alive(s: &Server) {
    let a = s.post_as(&s.token, "{ catalogue { version } }", json!({}));
    assert_eq!(a.status, 200, "the server must still answer: {}", a.body);
}

/// The log's head, asked with the administrator's token (so the coordinator's
/// rate limit is not touched).
fn head(s: &Server) -> u64 {
    let d = s.data_as(&s.admin, "{ projections { head } }", json!({}));
    d["projections"]["head"].as_str().unwrap().parse().unwrap()
}

fn code(a: &crate::api::Answer) -> String {
    a.json()["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn raw_post(s: &Server, body: &[u8]) -> crate::api::Answer {
    let auth = format!("Bearer {}", s.token);
    s.http(
        "/graphql",
        &[
            ("content-type", "application/json"),
            ("authorization", &auth),
        ],
        Some(body),
    )
}

/// Each shape of deep nesting — list and object literals in arguments, in a
/// mutation's input, in a variable's default value, deep JSON in `variables`, a
/// deep JSON body, and the same over GET — at 2,000 to 10,000 levels is refused
/// with 400 `NESTING_TOO_DEEP`, and the process lives on. Before the guard, 2,000
/// levels of list literal overflowed a worker's stack and aborted the server (at
/// 10,000 the parser happened to give up first, so both depths are sent).
#[test]
fn requests_nested_ten_thousand_levels_deep_are_refused_and_the_server_lives() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--rate-limit", "0"]);
    for depth in [2_000, 5_000] {
        let list = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let a = s.post_as(
            &s.token,
            &format!("{{ catalogue(domain: {list}) {{ version }} }}"),
            json!({}),
        );
        assert_eq!(
            a.status,
            400,
            "{depth}: {}",
            &a.body[..a.body.len().min(300)]
        );
        assert_eq!(code(&a), "NESTING_TOO_DEEP", "{}", a.body);
        alive(&s);
    }
    const N: usize = 10_000;
    let list = format!("{}{}", "[".repeat(N), "]".repeat(N));
    let object = format!("{}1{}", "{a:".repeat(N), "}".repeat(N));
    let documents = [
        format!("{{ catalogue(domain: {list}) {{ version }} }}"),
        format!("{{ catalogue(domain: {object}) {{ version }} }}"),
        format!(
            "mutation {{ identifyNeed(input: {{ idempotencyKey: \"{}\", recipientId: {list}, needCode: \"x\" }}) {{ position }} }}",
            v7()
        ),
        format!("query($d: [NeedDomain!] = {list}) {{ catalogue(domain: $d) {{ version }} }}"),
    ];
    for d in &documents {
        let a = s.post_as(&s.token, d, json!({}));
        assert_eq!(a.status, 400, "{}", &a.body[..a.body.len().min(300)]);
        assert_eq!(code(&a), "NESTING_TOO_DEEP", "{}", a.body);
        alive(&s);
    }
    // Deep JSON in `variables`, and a deep JSON body.
    let deep_json = format!("{}{}", "[".repeat(N), "]".repeat(N));
    let body = format!(
        r#"{{"query":"query($d: [NeedDomain!]) {{ catalogue(domain: $d) {{ version }} }}","variables":{{"d":{deep_json}}}}}"#
    );
    for b in [body.clone(), deep_json.clone()] {
        let a = raw_post(&s, b.as_bytes());
        assert_eq!(a.status, 400, "{}", &a.body[..a.body.len().min(300)]);
        assert_eq!(code(&a), "NESTING_TOO_DEEP", "{}", a.body);
        alive(&s);
    }
    // Over GET: the document and the variables.
    let auth = format!("Bearer {}", s.token);
    let enc = |t: &str| -> String {
        t.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    for q in [
        format!("query={}", enc(&documents[0])),
        format!(
            "query={}&variables={}",
            enc("query($d: [NeedDomain!]) { catalogue(domain: $d) { version } }"),
            enc(&format!("{{\"d\":{}}}", &deep_json[..2 * 2_000]))
        ),
    ] {
        let a = s.http(&format!("/graphql?{q}"), &[("authorization", &auth)], None);
        assert_eq!(a.status, 400, "{}", &a.body[..a.body.len().min(300)]);
        assert_eq!(code(&a), "NESTING_TOO_DEEP", "{}", a.body);
        alive(&s);
    }
    // Ordinary nesting is untouched.
    let a = s.post_as(
        &s.token,
        "query($d: NeedDomain = SOCIAL) { catalogue(domain: $d) { version } }",
        json!({}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.json()["errors"].is_null(), "{}", a.body);
}

fn register(alias: usize) -> String {
    format!(
        "r{alias}: registerCareRecipient(input: {{ idempotencyKey: \"{}\", site: \"be-leuven\", birthYear: 1950, sex: FEMALE, country: \"BE\", postalCode: \"3000\", language: \"nl\" }}) {{ position userErrors {{ code }} }}",
        v7()
    )
}

/// A document with more than 10 mutation fields is refused whole (400
/// `TOO_MANY_MUTATIONS`, nothing written); 10 are accepted, and every one is
/// charged to the caller's rate limit (before, 990 aliased registrations wrote
/// 990 events and counted once).
#[test]
fn mutation_fields_per_request_are_bounded_and_each_is_charged_to_the_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &["--rate-limit", "1", "--rate-limit-burst", "12"],
    );
    let before = head(&s);
    let eleven = format!(
        "mutation {{ {} }}",
        (0..11).map(register).collect::<Vec<_>>().join(" ")
    );
    let a = s.post_as(&s.token, &eleven, json!({}));
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(code(&a), "TOO_MANY_MUTATIONS", "{}", a.body);
    assert_eq!(head(&s), before, "nothing was written");
    // Fragments are counted too.
    let fragments = format!(
        "mutation {{ ...F ...G }} fragment F on Mutation {{ {} }} fragment G on Mutation {{ {} }}",
        (0..6).map(register).collect::<Vec<_>>().join(" "),
        (6..12).map(register).collect::<Vec<_>>().join(" ")
    );
    let a = s.post_as(&s.token, &fragments, json!({}));
    assert_eq!(code(&a), "TOO_MANY_MUTATIONS", "{}", a.body);
    assert_eq!(head(&s), before, "nothing was written");
    // Ten pass, and cost ten of the burst of twelve (the two refusals above cost
    // nothing): two more tokens, then the credential must wait.
    let ten = format!(
        "mutation {{ {} }}",
        (0..10).map(register).collect::<Vec<_>>().join(" ")
    );
    let a = s.post_as(&s.token, &ten, json!({}));
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.json()["errors"].is_null(), "{}", a.body);
    assert_eq!(head(&s), before + 10, "ten registrations");
    let three = format!(
        "mutation {{ {} }}",
        (0..3).map(register).collect::<Vec<_>>().join(" ")
    );
    let a = s.post_as(&s.token, &three, json!({}));
    assert_eq!(
        a.status, 429,
        "three more fields exceed what is left: {}",
        a.body
    );
    assert_eq!(code(&a), "RATE_LIMITED");
    assert_eq!(head(&s), before + 10, "the refused request wrote nothing");
}

/// A document of many expensive aggregate fields is refused before it runs
/// (400 `QUERY_TOO_COMPLEX`): before, 1,000 aliased `equityTwoWay` tables passed
/// the complexity limit and ran for 10–30 s whatever the request time limit.
#[test]
fn documents_of_many_aggregate_tables_are_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--rate-limit", "0"]);
    let tables = |n: usize| {
        format!(
            "query($r: Stratifier!, $c: Stratifier!, $o: EquityOutcome!) {{ {} }}",
            (0..n)
                .map(|i| format!("t{i}:equityTwoWay(rows:$r,columns:$c,outcome:$o){{k}}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let vars = json!({ "r": "SEX", "c": "LANGUAGE", "o": "REFERRAL_RATE" });
    let a = s.http(
        "/graphql",
        &[
            ("content-type", "application/json"),
            ("accept", "application/graphql-response+json"),
            ("authorization", &format!("Bearer {}", s.admin)),
        ],
        Some(
            json!({ "query": tables(1_000), "variables": vars })
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(a.status, 400, "{}", &a.body[..a.body.len().min(300)]);
    assert_eq!(code(&a), "QUERY_TOO_COMPLEX", "{}", a.body);
    // A handful is a dashboard, and is answered.
    let a = s.post_as(&s.admin, &tables(5), vars);
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.json()["errors"].is_null(), "{}", a.body);
}

/// A credential may have only so many requests running; more are refused at once
/// with 429 `TOO_MANY_IN_FLIGHT`, other credentials are not touched.
#[test]
fn a_credential_with_too_many_requests_running_is_refused_and_others_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &[
            "--rate-limit",
            "0",
            "--max-in-flight",
            "1",
            "--consistency-timeout-ms",
            "3000",
        ],
    );
    std::thread::scope(|scope| {
        // A request that waits (for a position the log never reaches).
        let (a, token) = (addr(&s), s.token.clone());
        let waiting = scope.spawn(move || {
            let body = json!({
                "query": "query($p: Position) { needCases(minPosition: $p, first: 1) { totalCount } }",
                "variables": { "p": "999999" } })
            .to_string();
            let mut c = TcpStream::connect(&a).unwrap();
            c.write_all(format!(
                "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ).as_bytes()).unwrap();
            let mut answer = String::new();
            c.read_to_string(&mut answer).unwrap();
            answer
        });
        std::thread::sleep(Duration::from_millis(500));
        let a = s.post_as(&s.token, "{ catalogue { version } }", json!({}));
        assert_eq!(a.status, 429, "{}", a.body);
        assert_eq!(code(&a), "TOO_MANY_IN_FLIGHT", "{}", a.body);
        assert!(a.header("retry-after").is_some());
        let other = s.post_as(&s.admin, "{ catalogue { version } }", json!({}));
        assert_eq!(other.status, 200, "another credential: {}", other.body);
        let w = waiting.join().unwrap();
        assert!(w.starts_with("HTTP/1.1 200"), "{w}");
    });
    // Its place is free again.
    alive(&s);
}

/// Reads until the server closes the connection; the time it took.
fn closed_within(mut c: TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    c.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(started.elapsed());
            }
            Err(_) => return None,
        }
    }
}

/// Clients that never finish their headers, trickle a body, or announce a huge
/// body are dropped (before, they stayed connected indefinitely), and the server
/// keeps at most `--max-connections` open.
#[test]
fn slow_clients_are_dropped_and_connections_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &[
            "--rate-limit",
            "0",
            "--header-timeout-ms",
            "800",
            "--body-timeout-ms",
            "800",
            "--request-timeout-ms",
            "1500",
        ],
    );
    let a = addr(&s);
    // Partial headers: closed after the header timeout.
    let mut partial = Vec::new();
    for _ in 0..50 {
        let mut c = TcpStream::connect(&a).unwrap();
        c.write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .unwrap();
        partial.push(c);
    }
    // An idle connection that sends nothing at all.
    let idle = TcpStream::connect(&a).unwrap();
    for c in partial {
        let t =
            closed_within(c, Duration::from_secs(5)).expect("a partial-header client is dropped");
        assert!(t < Duration::from_secs(3), "{t:?}");
    }
    closed_within(idle, Duration::from_secs(5)).expect("an idle client is dropped");
    // A declared body of 1e9 bytes: refused with 413 at once, without waiting.
    let mut big = TcpStream::connect(&a).unwrap();
    big.write_all(
        format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {}\r\nContent-Length: 1000000000\r\n\r\n{}",
            s.token,
            "x".repeat(100)
        )
        .as_bytes(),
    )
    .unwrap();
    big.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = [0u8; 12];
    big.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 413");
    assert!(closed_within(big, Duration::from_secs(5)).is_some());
    // A body trickled one byte at a time, each pause shorter than the body timeout:
    // cut off at the request limit plus the body timeout (2.3 s), not after the
    // 100 s its 200 bytes would take.
    let mut trickle = TcpStream::connect(&a).unwrap();
    trickle
        .write_all(
            format!(
                "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {}\r\nContent-Length: 200\r\n\r\n",
                s.token
            )
            .as_bytes(),
        )
        .unwrap();
    let started = Instant::now();
    let mut cut = false;
    for _ in 0..200 {
        if trickle.write_all(b" ").is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        if started.elapsed() > Duration::from_secs(8) {
            break;
        }
        let mut probe = [0u8; 12];
        trickle.set_nonblocking(true).unwrap();
        let r = trickle.read(&mut probe);
        trickle.set_nonblocking(false).unwrap();
        if let Ok(n) = r {
            // An answer (408) or the close.
            assert!(
                n == 0 || probe.starts_with(b"HTTP/1.1 408"),
                "{:?}",
                &probe[..n]
            );
            cut = true;
            break;
        }
    }
    assert!(
        cut,
        "the trickling client was still connected after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    alive(&s);
}

/// With `--max-connections 4`, a fifth client waits until one of four open
/// connections closes; then it is served.
#[test]
fn connections_past_the_cap_wait_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &[
            "--rate-limit",
            "0",
            "--max-connections",
            "4",
            "--header-timeout-ms",
            "20000",
        ],
    );
    let a = addr(&s);
    // The server is idle: the start-up requests' connections have closed or idle
    // ones time out; open four and hold them.
    std::thread::sleep(Duration::from_millis(300));
    let held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&a).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let mut fifth = TcpStream::connect(&a).unwrap(); // the kernel's queue takes it
    fifth.write_all(request).unwrap();
    fifth
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        fifth.read(&mut buf).is_err(),
        "the fifth connection is not served while four are open"
    );
    drop(held);
    fifth
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let n = fifth.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
}

/// GET honours `operationName` (a document of two queries runs the named one; a
/// document holding a query and a mutation runs the query), and only
/// `application/json` is JSON (`application/jsonx` is 415).
#[test]
fn get_follows_the_operation_name_and_only_json_is_json() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--rate-limit", "0"]);
    let auth = format!("Bearer {}", s.token);
    let two = "query%20A%20%7B%20catalogue%20%7B%20version%20%7D%20%7D%20query%20B%20%7B%20__typename%20%7D";
    let a = s.http(
        &format!("/graphql?query={two}&operationName=B"),
        &[("authorization", &auth)],
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["data"]["__typename"], "Query", "{}", a.body);
    let mixed = "query%20Q%20%7B%20__typename%20%7D%20mutation%20M%20%7B%20__typename%20%7D";
    let a = s.http(
        &format!("/graphql?query={mixed}&operationName=Q"),
        &[("authorization", &auth)],
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["data"]["__typename"], "Query", "{}", a.body);
    let a = s.http(
        &format!("/graphql?query={mixed}&operationName=M"),
        &[("authorization", &auth)],
        None,
    );
    assert_eq!(a.status, 405, "{}", a.body);
    for ct in [
        "application/jsonx",
        "application/json; charset=latin1",
        "text/plain",
    ] {
        let a = s.http(
            "/graphql",
            &[("content-type", ct), ("authorization", &auth)],
            Some(br#"{"query":"{ __typename }"}"#),
        );
        assert_eq!(a.status, 415, "{ct}: {}", a.body);
    }
    let a = s.http(
        "/graphql",
        &[
            ("content-type", "Application/JSON; charset=utf-8"),
            ("authorization", &auth),
        ],
        Some(br#"{"query":"{ __typename }"}"#),
    );
    assert_eq!(a.status, 200, "{}", a.body);
}

/// A ~1.3 KB document whose fragments each spread the next three times (3^30
/// selections once expanded) is refused at once with 400 `QUERY_TOO_LARGE`; before,
/// async-graphql's unmemoised validation walks held a worker for minutes, and two
/// such requests stopped every response.
#[test]
fn documents_that_fan_out_through_fragments_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--rate-limit", "0"]);
    let mut fan = String::from("query { ...F0 } ");
    for i in 0..30 {
        fan.push_str(&format!(
            "fragment F{i} on Query {{ ...F{n} ...F{n} ...F{n} }} ",
            n = i + 1
        ));
    }
    fan.push_str("fragment F30 on Query { __typename }");
    let started = Instant::now();
    let a = s.post_as(&s.token, &fan, json!({}));
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(code(&a), "QUERY_TOO_LARGE", "{}", a.body);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    alive(&s);
}

/// One client address may hold at most `--max-connections-per-peer` connections:
/// past it a new connection is closed at once instead of taking one of everyone's
/// slots (before, one client could hold all of them with idle connections).
#[test]
fn one_client_cannot_hold_more_than_its_share_of_connections() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &[
            "--rate-limit",
            "0",
            "--max-connections-per-peer",
            "4",
            "--header-timeout-ms",
            "20000",
        ],
    );
    let a = addr(&s);
    let mut held = Vec::new();
    let mut refused = None;
    for i in 0..8 {
        let mut c = TcpStream::connect(&a).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut buf = [0u8; 1];
        match c.read(&mut buf) {
            // Closed by the server at once.
            Ok(0) => {
                refused = Some(i);
                break;
            }
            _ => held.push(c),
        }
    }
    let refused = refused.expect("a connection past the per-peer cap is closed at once");
    assert!(refused <= 4, "closed at connection {refused}");
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    alive(&s);
}

/// Sends `request` on `c` and reads the answer's head (to the blank line).
fn answer_head(c: &mut TcpStream, request: &str) -> String {
    c.write_all(request.as_bytes()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(c.read(&mut byte).unwrap(), 1, "closed mid-answer: {head:?}");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap().to_ascii_lowercase()
}

/// An answer given before the body was read (a `POST` refused by a read-only
/// endpoint, a body announced over the limit) says `Connection: close`: the
/// server cannot take the next request on that connection, and a pooling client
/// that reused it failed at random with "peer disconnected" (seen in CI, in
/// `fhir::bad_requests_…`). A request whose body was read keeps its connection.
#[test]
fn an_answer_that_left_the_body_unread_closes_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--rate-limit", "0"]);
    for request in [
        // The body is never sent: the answer cannot wait for it.
        "POST /fhir/Task HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\nContent-Length: 2\r\n\r\n".to_string(),
        "POST /no/such/path HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n".to_string(),
        format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            10 * 1024 * 1024
        ),
    ] {
        let mut c = TcpStream::connect(addr(&s)).unwrap();
        let head = answer_head(&mut c, &request);
        assert!(head.contains("\r\nconnection: close\r\n"), "{request}\n{head}");
        assert!(
            closed_within(c, Duration::from_secs(10)).is_some(),
            "the server keeps a connection it cannot use: {request}"
        );
    }
    // Read to its end: two requests on one connection.
    let body = r#"{"query":"{ catalogue { version } }"}"#;
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n{body}",
        s.token,
        body.len()
    );
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    for _ in 0..2 {
        let head = answer_head(&mut c, &request);
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(!head.contains("connection: close"), "{head}");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .expect("a content length")
            .trim()
            .parse()
            .unwrap();
        let mut rest = vec![0u8; length];
        c.read_exact(&mut rest).unwrap();
    }
}

//! The GraphQL scenarios: the real server runs in a child process (the built
//! `careledger` binary, see `server`), the load comes from this process over loopback:
//! 64 keep-alive HTTP/1.1 connections, each with one request in flight, every
//! response checked for errors.
//!
//! * `graphql_mutation`: each connection drives its own need cases through the
//!   lifecycle (identify, suggest, request, accept, start, complete), every
//!   mutation durable before it is answered. Baseline: the same requests, same
//!   connections, against a plain axum JSON handler (parse the body, answer JSON)
//!   in another child process (this benchmark started again with `__baseline`):
//!   the HTTP stack's ceiling here.
//! * `graphql_query`: `needCase` lookups by id over the need cases the mutations
//!   created. Baseline: the same bodies, same connections, to the plain handler.

use super::report;
use super::server::{self, ChildServer, spawn};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

pub const CONNECTIONS: usize = 64;

/// The directory's service the lifecycle suggests and refers to: the first active
/// one of the shipped HSDS example package (a service the directory does not
/// hold, or a retired one, is refused).
fn bench_service() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let catalogue = careledger_infra::catalogue::default_catalogue().expect("the catalogue");
        let services = careledger_infra::hsds::read_example(&catalogue).expect("the example");
        let s = services
            .iter()
            .find(|s| s.active)
            .expect("an active service");
        s.id.to_string()
    })
}

/// Starts `careledger serve` on a data directory, its directory holding the
/// shipped HSDS example package (imported first; a re-import writes nothing).
pub fn start_server(dir: &Path) -> ChildServer {
    let data = dir.to_str().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/data/hsds-example");
    server::import_hsds(Path::new(example), dir);
    let mut child = server::serve(&[
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        data,
        // The load comes from one credential on purpose (the engine is measured,
        // not the per-credential limit).
        "--rate-limit",
        "0",
        "--max-in-flight",
        "10000",
        // Every client of the benchmark has one address (subscription_fanout
        // holds 1,000 sockets from it).
        "--max-connections-per-peer",
        "4096",
    ]);
    // The lifecycle is a coordinator's work, not the administrator's.
    child.token = server::token(dir, "bench-coordinator", "coordinator", 24);
    child
}

/// The comparison point's plain axum handler: this binary again, `__baseline`.
pub fn start_baseline() -> ChildServer {
    let mut cmd = Command::new(std::env::current_exe().expect("own path"));
    cmd.arg("__baseline");
    spawn(cmd)
}

/// The plain axum JSON handler of the baseline (runs in the child process).
pub fn run_baseline() {
    use axum::routing::post;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        async fn handler(
            axum::Json(body): axum::Json<serde_json::Value>,
        ) -> axum::Json<serde_json::Value> {
            let size = body
                .get("query")
                .and_then(|q| q.as_str())
                .map_or(0, str::len);
            axum::Json(serde_json::json!({ "data": { "ok": true, "size": size } }))
        }
        let app = axum::Router::new().route("/graphql", post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!(
            "baseline listening on http://{}",
            listener.local_addr().unwrap()
        );
        axum::serve(listener, app).await.unwrap();
    });
}

/// One keep-alive HTTP/1.1 connection with one request in flight.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    auth: String,
}

impl Conn {
    pub(crate) async fn open(addr: &str, token: &str) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            auth: format!("Bearer {token}"),
        }
    }

    /// POSTs a JSON body to /graphql; returns the status and the body.
    pub(crate) async fn post(&mut self, body: &str) -> (u16, Vec<u8>) {
        let req = format!(
            "POST /graphql HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n{}",
            self.auth,
            body.len(),
            body
        );
        self.exchange(&req).await
    }

    /// GETs `path`; returns the status and the body.
    pub(crate) async fn get(&mut self, path: &str) -> (u16, Vec<u8>) {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: {}\r\n\r\n",
            self.auth
        );
        self.exchange(&req).await
    }

    async fn exchange(&mut self, req: &str) -> (u16, Vec<u8>) {
        self.stream.write_all(req.as_bytes()).await.expect("send");
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end]).expect("ascii head");
                let status: u16 = head
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .expect("status");
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .expect("content-length");
                let total = end + 4 + len;
                while self.buf.len() < total {
                    self.fill().await;
                }
                let body = self.buf[end + 4..total].to_vec();
                self.buf.drain(..total);
                return (status, body);
            }
            self.fill().await;
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the server closed the connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// True when a GraphQL answer carries an error (top level or `userErrors`).
pub(crate) fn has_error(body: &[u8]) -> bool {
    let text = std::str::from_utf8(body).unwrap_or("");
    text.contains("\"errors\"")
        || (text.contains("\"userErrors\"") && !text.contains("\"userErrors\":[]"))
}

pub(crate) fn p99_ms(latencies: &mut [u32]) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    latencies.sort_unstable();
    let i = ((latencies.len() as f64) * 0.99).ceil() as usize - 1;
    f64::from(latencies[i.min(latencies.len() - 1)]) / 1000.0
}

/// The bodies one connection sends, in order, for one need case after another.
pub(crate) struct Lifecycle {
    site: &'static str,
    recipient: String,
    case: String,
    referral: String,
    step: usize,
    pub created: Vec<String>,
}

impl Lifecycle {
    fn new() -> Self {
        Self::at("be-leuven")
    }

    /// Need cases at `site`.
    pub(crate) fn at(site: &'static str) -> Self {
        Lifecycle {
            site,
            recipient: String::new(),
            case: String::new(),
            referral: String::new(),
            step: 0,
            created: Vec::new(),
        }
    }

    /// Whether the next body moves a referral (request, accept, start, complete).
    pub(crate) fn next_moves_a_referral(&self) -> bool {
        self.step >= 3
    }

    pub(crate) fn next_body(&mut self) -> String {
        let key = Uuid::now_v7().to_string();
        let m = |name: &str, input: String| {
            let mut t = name[..1].to_uppercase();
            t.push_str(&name[1..]);
            serde_json::json!({
                "query": format!("mutation M($i: {t}Input!) {{ {name}(input: $i) {{ position userErrors {{ code message }} }} }}"),
                "variables": { "i": serde_json::from_str::<serde_json::Value>(&input).unwrap() },
                "operationName": "M",
            })
            .to_string()
        };
        let body = match self.step {
            0 => {
                self.recipient = key.clone();
                m(
                    "registerCareRecipient",
                    format!(
                        r#"{{"idempotencyKey":"{key}","site":"{}","birthYear":1960,"sex":"FEMALE","country":"BE","postalCode":"3000","language":"nl"}}"#,
                        self.site
                    ),
                )
            }
            1 => {
                self.case = key.clone();
                self.created.push(key.clone());
                m(
                    "identifyNeed",
                    format!(
                        r#"{{"idempotencyKey":"{key}","recipientId":"{}","needCode":"psy.fear-of-recurrence"}}"#,
                        self.recipient
                    ),
                )
            }
            2 => m(
                "suggestServices",
                format!(
                    r#"{{"idempotencyKey":"{key}","needCaseId":"{}","services":[{{"serviceId":"{}","reasons":["addresses_need"]}}]}}"#,
                    self.case,
                    bench_service()
                ),
            ),
            3 => {
                self.referral = key.clone();
                m(
                    "requestReferral",
                    format!(
                        r#"{{"idempotencyKey":"{key}","needCaseId":"{}","serviceId":"{}"}}"#,
                        self.case,
                        bench_service()
                    ),
                )
            }
            4 => m(
                "acceptReferral",
                format!(
                    r#"{{"idempotencyKey":"{key}","needCaseId":"{}","referralId":"{}"}}"#,
                    self.case, self.referral
                ),
            ),
            5 => m(
                "startReferral",
                format!(
                    r#"{{"idempotencyKey":"{key}","needCaseId":"{}","referralId":"{}"}}"#,
                    self.case, self.referral
                ),
            ),
            _ => m(
                "completeReferral",
                format!(
                    r#"{{"idempotencyKey":"{key}","needCaseId":"{}","referralId":"{}","outcome":"NEED_MET"}}"#,
                    self.case, self.referral
                ),
            ),
        };
        self.step = if self.step >= 6 { 1 } else { self.step + 1 };
        body
    }
}

/// What a load run measured.
pub struct Measured {
    pub per_sec: f64,
    pub p99_ms: f64,
    pub errors: usize,
    pub created: Vec<String>,
}

/// A request of a load: a GraphQL body to POST, or a path to GET.
pub(crate) enum Req {
    Post(String),
    Get(String),
}

/// Drives `CONNECTIONS` connections for `duration` (after a short warm-up);
/// `make(conn_index)` gives each connection its own request source.
pub(crate) async fn drive<F>(addr: &str, token: &str, duration: Duration, make: F) -> Measured
where
    F: Fn(usize) -> Box<dyn FnMut() -> Req + Send> + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let start = Instant::now() + Duration::from_millis(500);
    let end = start + duration;
    let mut tasks = Vec::new();
    for i in 0..CONNECTIONS {
        let (addr, token, make) = (addr.to_string(), token.to_string(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr, &token).await;
            let mut next = make(i);
            let mut lat = Vec::with_capacity(64 * 1024);
            let mut errors = 0usize;
            loop {
                let req = next();
                let t = Instant::now();
                let (status, resp) = match &req {
                    Req::Post(body) => conn.post(body).await,
                    Req::Get(path) => conn.get(path).await,
                };
                let took = t.elapsed();
                if status != 200 || has_error(&resp) {
                    errors += 1;
                    if errors == 1 {
                        eprintln!(
                            "  error answer ({status}): {}",
                            String::from_utf8_lossy(&resp)
                        );
                    }
                }
                if t >= start {
                    lat.push(took.as_micros().min(u128::from(u32::MAX)) as u32);
                }
                if Instant::now() >= end {
                    break;
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    let secs = duration.as_secs_f64();
    Measured {
        per_sec: all.len() as f64 / secs,
        p99_ms: p99_ms(&mut all),
        errors,
        created: Vec::new(),
    }
}

/// Runs the lifecycle load; returns what it measured and the need cases created.
pub(crate) async fn mutation_load(addr: &str, token: &str, duration: Duration) -> Measured {
    let created = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = created.clone();
    let m = drive(addr, token, duration, move |_| {
        let mut life = Lifecycle::new();
        let sink = sink.clone();
        Box::new(move || {
            let b = life.next_body();
            if let Some(c) = life.created.pop() {
                sink.lock().unwrap().push(c);
            }
            Req::Post(b)
        })
    })
    .await;
    let created = std::mem::take(&mut *created.lock().unwrap());
    Measured { created, ..m }
}

pub async fn graphql_mutation(dir: &Path, duration: Duration) -> Vec<String> {
    eprintln!(
        "graphql_mutation: {CONNECTIONS} connections, {} s each for the baseline and for CareLedger",
        duration.as_secs()
    );
    let baseline = {
        let b = start_baseline();
        let m = mutation_load(&b.addr, "none", duration).await;
        assert_eq!(m.errors, 0, "the baseline answered with errors");
        m
    };
    let server = start_server(dir);
    let m = mutation_load(&server.addr, &server.token, duration).await;
    drop(server);
    report(
        "graphql_mutation",
        m.per_sec,
        "mutations/s",
        Some(baseline.per_sec),
        &format!(
            "the same requests on the same 64 connections to a plain axum JSON handler (parse, answer JSON; p99 {:.2} ms); CareLedger mutations are lifecycle commands, each durable before its answer; {} error answers",
            baseline.p99_ms, m.errors
        ),
        Some(m.p99_ms),
        ">= 10000 mutations/s and (issue 19) >= 0.25 x the plain handler, p99 <= 20 ms, no errors",
    );
    m.created
}

pub async fn graphql_query(dir: &Path, duration: Duration, seed_for: Duration) {
    let server = start_server(dir);
    eprintln!(
        "graphql_query: creating need cases to look up ({} s of mutations)",
        seed_for.as_secs()
    );
    let ids = Arc::new(seeded(&server, seed_for).await);
    eprintln!(
        "graphql_query: {CONNECTIONS} connections, {} s, over {} need cases",
        duration.as_secs(),
        ids.len()
    );
    let m = needcase_lookups(&server.addr, &server.token, ids.clone(), duration).await;
    drop(server);
    // The comparison point: the same request bodies on the same connections to
    // the plain axum JSON handler (as graphql_mutation's), measured in this run.
    let baseline = {
        let b = start_baseline();
        let m = needcase_lookups(&b.addr, "none", ids, duration).await;
        assert_eq!(m.errors, 0, "the baseline answered with errors");
        m
    };
    report(
        "graphql_query",
        m.per_sec,
        "queries/s",
        Some(baseline.per_sec),
        &format!(
            "the same needCase lookups by id (with need label, referrals) on the same {CONNECTIONS} connections to a plain axum JSON handler (parse, answer JSON; p99 {:.2} ms); {} error answers",
            baseline.p99_ms, m.errors
        ),
        Some(m.p99_ms),
        ">= 20000 queries/s and (issue 19) >= 0.5 x the plain handler, p99 <= 10 ms, no errors",
    );
}

/// Creates need cases for `seed_for` (the lifecycle load) and waits until the
/// read models hold every one; their ids.
pub(crate) async fn seeded(server: &ChildServer, seed_for: Duration) -> Vec<String> {
    let seeded = mutation_load(&server.addr, &server.token, seed_for).await;
    assert_eq!(seeded.errors, 0, "seeding failed");
    assert!(!seeded.created.is_empty());
    let mut conn = Conn::open(&server.addr, &server.token).await;
    loop {
        let (_, b) = conn
            .post(r#"{"query":"{ projections { position head } }"}"#)
            .await;
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        if v["data"]["projections"]["position"] == v["data"]["projections"]["head"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seeded.created
}

/// `graphql_query`'s load: need-case lookups by id over `CONNECTIONS` connections.
pub(crate) async fn needcase_lookups(
    addr: &str,
    token: &str,
    ids: Arc<Vec<String>>,
    duration: Duration,
) -> Measured {
    let query = "query Q($id: ID!) { needCase(id: $id) { id status version site need { code label } openReferral { referralId status } referrals { status outcome } } }";
    drive(addr, token, duration, move |i| {
        let ids = ids.clone();
        let mut k = i * 7919;
        Box::new(move || {
            k = (k + 104_729) % ids.len();
            Req::Post(
                serde_json::json!({ "query": query, "variables": { "id": ids[k] }, "operationName": "Q" })
                    .to_string(),
            )
        })
    })
    .await
}

//! The `careledger` binary the GraphQL and HTTP scenarios measure, run as an
//! operator runs it: `careledger import-hsds`, `careledger serve` and
//! `careledger token` in child processes. The benchmark links nothing of the
//! server crate, so what it measures is exactly the program that ships.
//!
//! The binary is `$CARELEDGER_BIN` when set, else `careledger` next to this
//! benchmark's own executable (cargo puts both in the same target directory).
//! [`ChildServer`] and [`spawn`] also start the plain-axum comparison point (see
//! `graphql`), so they live here, below the scenarios.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A child process serving HTTP; killed on drop.
pub struct ChildServer {
    child: Child,
    pub addr: String,
    pub token: String,
}

impl ChildServer {
    /// The server's process id (to read its resident set).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server with SIGTERM and waits up to `within` for it to exit
    /// (it saves its checkpoint first, which takes a while for a large model);
    /// true when it exited in time (else it is killed).
    pub fn stop_within(mut self, within: Duration) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        // Already stopped ([`Self::stop_within`]): nothing to signal (`kill`
        // would print "No such process" in the middle of the report).
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SIGTERM for a clean shutdown (checkpoint, store closed), then reap.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` (a server that prints `listening on http://<addr>`) and waits
/// until it listens.
pub(crate) fn spawn(mut cmd: Command) -> ChildServer {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the server process");
    let out = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(out).lines();
    let (mut addr, mut token) = (String::new(), String::new());
    for line in lines.by_ref() {
        let line = line.expect("server output");
        if line.contains("admin token") {
            token = line.rsplit(' ').next().unwrap().to_string();
        }
        if let Some(rest) = line.split("listening on http://").nth(1) {
            addr = rest.split_whitespace().next().unwrap().to_string();
            break;
        }
    }
    assert!(!addr.is_empty(), "the server did not start");
    // Keep draining its stdout so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    ChildServer { child, addr, token }
}

/// Where the `careledger` binary is; exits with a clear message when it is not
/// there (called before any scenario runs, so a missing binary costs no time).
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let (path, named_by) = match std::env::var_os("CARELEDGER_BIN") {
            Some(p) if !p.is_empty() => (PathBuf::from(p), "CARELEDGER_BIN"),
            _ => {
                let own = std::env::current_exe().expect("the benchmark's own path");
                let dir = own.parent().expect("the benchmark's directory");
                (
                    dir.join(format!("careledger{}", std::env::consts::EXE_SUFFIX)),
                    "the benchmark's own directory",
                )
            }
        };
        if !path.is_file() {
            eprintln!(
                "careledger-bench: the server binary {} ({named_by}) is missing: build it first: \
                 cargo build --release -p careledger-api --bin careledger \
                 (or name another one with CARELEDGER_BIN)",
                path.display()
            );
            std::process::exit(2);
        }
        path
    })
}

/// `careledger <args…>` with warnings-only logging (unless `CARELEDGER_BENCH_SERVER_LOG` says otherwise).
fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(binary());
    // `CARELEDGER_BENCH_SERVER_LOG` shows more (e.g. `warn,careledger_projections=info`).
    let log = std::env::var("CARELEDGER_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into());
    cmd.args(args).env("CARELEDGER_LOG", log);
    cmd
}

/// Starts `careledger serve <args…>`; the child is stopped when the handle drops.
pub fn serve(args: &[&str]) -> ChildServer {
    let mut cmd = command(&["serve"]);
    cmd.args(args);
    spawn(cmd)
}

/// Runs `careledger export-fhir --out OUT` on `data_dir`; its standard output.
pub fn export_fhir(data_dir: &Path, out: &Path) -> String {
    let done = command(&["export-fhir"])
        .arg("--out")
        .arg(out)
        .arg("--data-dir")
        .arg(data_dir)
        .stderr(Stdio::inherit())
        .output()
        .expect("run careledger export-fhir");
    assert!(done.status.success(), "careledger export-fhir failed");
    String::from_utf8_lossy(&done.stdout).into_owned()
}

/// Imports an HSDS package into `data_dir` with `careledger import-hsds`.
pub fn import_hsds(package: &Path, data_dir: &Path) {
    let status = command(&["import-hsds"])
        .arg(package)
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::null())
        .status()
        .expect("run careledger import-hsds");
    assert!(status.success(), "the HSDS package was not imported");
}

/// A bearer token for `sub` in `role` over all sites, valid `hours`, minted with
/// `careledger token` from the secret in `data_dir` (a server has started there).
pub fn token(data_dir: &Path, sub: &str, role: &str, hours: u32) -> String {
    let out = command(&["token", "--sub", sub, "--role", role, "--sites", "*"])
        .arg("--hours")
        .arg(hours.to_string())
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run careledger token");
    assert!(
        out.status.success(),
        "careledger token failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).expect("a token is ASCII");
    let token = token.trim();
    assert!(!token.is_empty(), "careledger token printed no token");
    token.to_string()
}

//! Shared helpers: start the real program as a process, read its output, stop it with a signal.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The program under test (`careledger_api::main`).
pub const CARELEDGER: &str = env!("CARGO_BIN_EXE_careledger-under-test");

/// The program the tests start: [`CARELEDGER`], or the build named by
/// `CARELEDGER_UNDER_TEST` (to run the suite against another build, e.g. to see a
/// regression test fail on the code before its fix).
pub fn program() -> String {
    std::env::var("CARELEDGER_UNDER_TEST").unwrap_or_else(|_| CARELEDGER.to_string())
}

/// A running `careledger` process; killed on drop if still running.
/// What a server wrote to its `--ready-file`.
#[derive(Debug, Clone)]
pub struct Ready {
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// Only on the first start of a data directory.
    pub admin_token: Option<String>,
    pub file: std::path::PathBuf,
}

pub struct Running {
    pub child: Child,
    pub stdout: mpsc::Receiver<String>,
}

impl Running {
    /// Starts `careledger <args>` with its data in `data_dir`.
    pub fn start(args: &[&str], data_dir: &Path) -> Self {
        let mut child = Command::new(program())
            .args(args)
            .env("CARELEDGER_DATA_DIR", data_dir)
            .env("CARELEDGER_ADDR", "127.0.0.1:0")
            .env("CARELEDGER_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start careledger");
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, stdout: rx }
    }

    /// Starts `careledger serve <args>` with `--ready-file` and waits for the
    /// server to write it: the bound address and the first-start admin token, read
    /// as JSON (never by splitting the human-facing stdout text).
    pub fn start_serving(args: &[&str], data_dir: &Path, timeout: Duration) -> (Self, Ready) {
        static STARTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let file = data_dir.join(format!("ready-{}-{n}.json", std::process::id()));
        let _ = std::fs::remove_file(&file);
        let mut all: Vec<&str> = vec!["serve", "--ready-file"];
        let path = file.to_str().expect("a UTF-8 path");
        all.push(path);
        all.extend(args.iter().copied().filter(|a| *a != "serve"));
        let mut running = Running::start(&all, data_dir);
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Ok(text) = std::fs::read_to_string(&file)
                && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
            {
                let ready = Ready {
                    addr: json["addr"].as_str().expect("addr").to_string(),
                    admin_token: json["admin_token"].as_str().map(str::to_string),
                    file: file.clone(),
                };
                return (running, ready);
            }
            if let Some(status) = running.child.try_wait().unwrap() {
                panic!("careledger serve exited ({status}) before it was ready");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no ready file within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for a stdout line containing `needle`.
    pub fn wait_for_line(&self, needle: &str, timeout: Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(e) => panic!("no line containing {needle:?} within {timeout:?}: {e}"),
            }
        }
    }

    /// Sends a signal (`TERM`, `INT`) and waits for the exit status.
    pub fn stop_with(mut self, signal: &str) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(ok.success(), "kill -{signal} {pid}");
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "careledger did not stop after SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a `careledger` run that ends by itself printed.
pub struct Finished {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `careledger <args>` to completion with its data in `data_dir`.
pub fn run_to_end<S: AsRef<std::ffi::OsStr>>(args: &[S], data_dir: &Path) -> Finished {
    let out = Command::new(program())
        .args(args)
        .env("CARELEDGER_DATA_DIR", data_dir)
        .env("CARELEDGER_ADDR", "127.0.0.1:0")
        .output()
        .expect("run careledger");
    Finished {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

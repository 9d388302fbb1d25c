//! `careledger serve` on the embedded default, as a real process.

use crate::helpers::{Running, run_to_end};
use std::time::Duration;

/// A fresh data directory gets a store; the server reports it, stops cleanly on
/// SIGTERM and on Ctrl-C (SIGINT), and a second run reopens the same store.
#[test]
fn serve_creates_the_embedded_store_and_stops_cleanly_on_sigterm_and_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh");
    for signal in ["TERM", "INT"] {
        let server = Running::start(&["serve"], &data);
        let line = server.wait_for_line("event store at", Duration::from_secs(30));
        server.wait_for_line("listening on http://127.0.0.1:", Duration::from_secs(30));
        assert!(line.contains("careledger.sqlite"), "{line}");
        assert!(
            line.contains("needs catalogue 2026.1 with 117 needs"),
            "{line}"
        );
        let status = server.stop_with(signal);
        assert!(status.success(), "exit after SIG{signal}: {status}");
        assert!(data.join("careledger.sqlite").exists());
    }
}

/// Two servers on one data directory: the second is refused with a clear error
/// instead of corrupting the store.
#[test]
fn a_second_server_on_the_same_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = Running::start(&["serve"], dir.path());
    first.wait_for_line("event store at", Duration::from_secs(30));
    let out = run_to_end(&["serve"], dir.path());
    assert!(!out.success);
    let stderr = &out.stderr;
    assert!(
        stderr.contains("in use by another CareLedger process"),
        "{stderr}"
    );
    assert!(first.stop_with("TERM").success());
}

/// A broken catalogue stops the server at start, naming the bad entry.
#[test]
fn a_broken_catalogue_is_refused_at_start_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let catalogue = dir.path().join("needs.tsv");
    let header = "code\tdomain\tlabel_en\tdescription_en\tlabel_fr\tdescription_fr\tlabel_nl\tdescription_nl\tlabel_de\tdescription_de";
    std::fs::write(
        &catalogue,
        format!("{header}\npsy.anxiety\tspiritual\ta\tb\tc\td\te\tf\tg\th\n"),
    )
    .unwrap();
    let out = run_to_end(
        &[
            std::ffi::OsStr::new("serve"),
            "--catalogue".as_ref(),
            catalogue.as_os_str(),
        ],
        &dir.path().join("data"),
    );
    assert!(!out.success);
    let stderr = &out.stderr;
    assert!(
        stderr.contains("needs.tsv line 2: unknown domain 'spiritual'"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing written when refusing to start"
    );
}

/// `check-catalogue` summarises the shipped catalogue per domain, and refuses a broken
/// file naming the line, with a failing exit status.
#[test]
fn check_catalogue_summarises_a_valid_catalogue_and_names_a_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let ok = run_to_end(&["check-catalogue"], dir.path());
    assert!(ok.success);
    let out = &ok.stdout;
    assert!(
        out.contains("needs catalogue version 2026.1: 117 needs, valid"),
        "{out}"
    );
    for domain in [
        "medical_follow_up",
        "psychosocial",
        "socio_professional",
        "social",
    ] {
        assert!(out.contains(domain), "{out}");
    }

    let file = dir.path().join("needs.tsv");
    std::fs::write(&file, "code\tdomain\n").unwrap();
    let bad = run_to_end(
        &[
            std::ffi::OsStr::new("check-catalogue"),
            "--catalogue".as_ref(),
            file.as_os_str(),
        ],
        dir.path(),
    );
    assert!(!bad.success);
    let err = &bad.stderr;
    assert!(
        err.contains("needs.tsv line 1: expected the header"),
        "{err}"
    );
}

/// `--ready-file`: once bound, the server writes one JSON line with the address
/// it listens on (port 0 resolved) and, on a first start only, the admin token —
/// readable by its owner only. A harness or a supervisor reads this, not stdout.
#[test]
fn the_ready_file_names_the_bound_address_and_the_first_start_token() {
    let dir = tempfile::tempdir().unwrap();
    let (first, ready) = Running::start_serving(&[], dir.path(), Duration::from_secs(60));
    assert!(ready.addr.starts_with("127.0.0.1:"), "{}", ready.addr);
    assert!(!ready.addr.ends_with(":0"), "{}", ready.addr);
    let token = ready.admin_token.clone().expect("first start: a token");
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ready.file).unwrap()).unwrap();
    assert_eq!(json["pid"].as_u64(), Some(u64::from(first.child.id())));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&ready.file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the ready file holds a token: {mode:o}");
    }
    // The address answers.
    let health = std::net::TcpStream::connect(&ready.addr);
    assert!(health.is_ok(), "{health:?}");
    assert!(first.stop_with("TERM").success());

    let (second, again) = Running::start_serving(&[], dir.path(), Duration::from_secs(60));
    assert_eq!(again.admin_token, None, "no token after the first start");
    assert!(second.stop_with("TERM").success());
}

/// A ready file that cannot be written stops the server at start, saying why,
/// with the store closed (a second start on the same data directory works).
#[test]
fn a_ready_file_that_cannot_be_written_stops_the_server_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("ready.json");
    let out = run_to_end(
        &[
            std::ffi::OsStr::new("serve"),
            "--ready-file".as_ref(),
            missing.as_os_str(),
        ],
        dir.path(),
    );
    assert!(!out.success, "{}", out.stdout);
    assert!(out.stderr.contains("cannot write"), "{}", out.stderr);
    let (again, ready) = Running::start_serving(&[], dir.path(), Duration::from_secs(60));
    assert!(ready.addr.starts_with("127.0.0.1:"));
    assert!(again.stop_with("TERM").success());
}

//! The other two forms `import-hsds` reads (issue 20): the fixtures' tabular
//! data package and HSDS API JSON with one file edited byte by byte or text
//! edited cell by cell — CSV quoting broken, cells retyped, descriptors
//! truncated, not UTF-8 — answer services that pass the directory's validation
//! and problems that each say what is wrong, never a panic.

use crate::json::{ByteEdit, TextEdit, byte_edit, edit_bytes, edit_text, text_edit};
use careledger_infra::catalogue::default_catalogue;
use careledger_infra::hsds::{ReadOptions, read_path};
use proptest::collection::vec;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn fixture(form: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hsds")
        .join(form)
}

/// A copy of the fixture `form` with file number `which` edited.
fn damaged(form: &str, which: usize, bytes: &[ByteEdit], text: &[TextEdit]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture(form))
        .expect("fixture")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let chosen = which % files.len();
    for (i, f) in files.iter().enumerate() {
        let mut content = std::fs::read(f).expect("fixture file");
        if i == chosen {
            if let Ok(t) = String::from_utf8(content.clone()) {
                content = text.iter().fold(t, |t, e| edit_text(&t, e)).into_bytes();
            }
            content = edit_bytes(content, bytes);
        }
        std::fs::write(dir.path().join(f.file_name().expect("name")), content).expect("write");
    }
    dir
}

fn reads_or_reports(dir: &Path) -> Result<(), TestCaseError> {
    let catalogue = default_catalogue().expect("shipped catalogue");
    let p = read_path(dir, &catalogue, &ReadOptions::default());
    for s in &p.services {
        prop_assert!(s.profile.validate().is_ok(), "{:?}", s.profile.validate());
    }
    for e in &p.problems {
        prop_assert!(!e.message.is_empty() && !e.file.is_empty(), "{e}");
        // Reported on a terminal: no live control character.
        prop_assert!(!e.to_string().chars().any(char::is_control), "{e:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::config(64))]

    #[test]
    fn a_damaged_tabular_package_reads_or_reports_its_problems(
        which in any::<usize>(),
        bytes in vec(byte_edit(), 0..3),
        text in vec(text_edit(), 0..4),
    ) {
        let dir = damaged("tabular", which, &bytes, &text);
        reads_or_reports(dir.path())?;
    }

    #[test]
    fn damaged_api_json_reads_or_reports_its_problems(
        which in any::<usize>(),
        bytes in vec(byte_edit(), 0..3),
        text in vec(text_edit(), 0..4),
    ) {
        let dir = damaged("api", which, &bytes, &text);
        reads_or_reports(dir.path())?;
    }
}

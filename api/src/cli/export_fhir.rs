//! `careledger export-fhir --out DIR`: the records as FHIR R4 resources, one
//! NDJSON file per resource type (the FHIR Bulk Data format) and a
//! `manifest.json` shaped like a Bulk Data export's completion response — the
//! same resources `/fhir` serves (`crate::fhir`), from the read models brought
//! up to the log's head. Recipients are pseudonymous: names and contact details
//! are never exported. Writes nothing when an argument is refused.

use crate::cli::args::ExportFhirArgs;
use crate::fhir::{directory, resources};
use crate::startup::store::{load_catalogue, open_store};
use anyhow::Context;
use careledger_app::fhir::referrals::referral_records;
use careledger_app::projection::caught_up;
use careledger_domain::values::{Lang, SiteId};
use careledger_infra::clock::SystemClock;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The resource types written, in the order of the manifest.
const TYPES: [&str; 8] = [
    "Patient",
    "Condition",
    "ServiceRequest",
    "Task",
    "Consent",
    "Organization",
    "HealthcareService",
    "CodeSystem",
];

/// What the export keeps: need cases identified within `[from, to]` at `sites`.
struct Selection {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    sites: Option<Vec<SiteId>>,
    lang: Lang,
}

fn day(arg: &str, v: &str, end: bool) -> anyhow::Result<DateTime<Utc>> {
    let d = NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .with_context(|| format!("--{arg} '{v}' is not a day (YYYY-MM-DD); nothing was written"))?;
    let d = if end { d.succ_opt().unwrap_or(d) } else { d };
    Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
}

fn selection(args: &ExportFhirArgs) -> anyhow::Result<Selection> {
    let from = args
        .from
        .as_deref()
        .map(|v| day("from", v, false))
        .transpose()?;
    let to = args.to.as_deref().map(|v| day("to", v, true)).transpose()?;
    if let (Some(f), Some(t)) = (from, to) {
        anyhow::ensure!(
            f < t,
            "--from is after --to: nothing to export (nothing was written)"
        );
    }
    let sites = args
        .sites
        .as_ref()
        .map(|s| {
            s.iter()
                .map(|x| {
                    SiteId::parse(x)
                        .map_err(|e| anyhow::anyhow!("--sites: {e}; nothing was written"))
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .transpose()?;
    let lang = Lang::from_tag(&args.lang)
        .filter(|l| l.code() == args.lang)
        .with_context(|| {
            format!(
                "--lang '{}' is not one of en, fr, nl, de; nothing was written",
                args.lang
            )
        })?;
    Ok(Selection {
        from,
        to,
        sites,
        lang,
    })
}

/// Refuses an output directory that holds anything.
fn fresh(out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .with_context(|| format!("cannot read {}", out.display()))?
            .next()
            .is_none();
        anyhow::ensure!(
            empty,
            "{} exists and is not empty: name a new directory (nothing was written)",
            out.display()
        );
    }
    Ok(())
}

/// Creates `path` for writing, mode 0600 (on Unix).
fn private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

/// Creates the output directory, mode 0700 (on Unix).
fn private_dir(path: &Path) -> anyhow::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

/// One NDJSON file per type, counted.
struct Files {
    dir: PathBuf,
    open: BTreeMap<&'static str, (std::io::BufWriter<std::fs::File>, u64)>,
}

impl Files {
    fn write(&mut self, ty: &'static str, resource: &Value) -> anyhow::Result<()> {
        if !self.open.contains_key(ty) {
            let path = self.dir.join(format!("{ty}.ndjson"));
            // Person-level records: readable by the exporting user only.
            let f = private_file(&path)?;
            self.open
                .insert(ty, (std::io::BufWriter::with_capacity(1 << 16, f), 0));
        }
        let (w, n) = self.open.get_mut(ty).expect("opened above");
        serde_json::to_writer(&mut *w, resource)?;
        w.write_all(b"\n")?;
        *n += 1;
        Ok(())
    }

    fn finish(self) -> anyhow::Result<Vec<(&'static str, u64)>> {
        let mut counts = Vec::new();
        let mut open = self.open;
        for ty in TYPES {
            if let Some((mut w, n)) = open.remove(ty) {
                w.flush()?;
                w.get_ref().sync_all()?;
                counts.push((ty, n));
            }
        }
        Ok(counts)
    }
}

pub async fn run(args: ExportFhirArgs) -> anyhow::Result<()> {
    let sel = selection(&args)?;
    fresh(&args.out)?;
    let catalogue = load_catalogue(&args.catalogue)?;
    let opened = open_store(&args.store, Arc::new(SystemClock)).await?;
    let store = opened.events();
    let snapshots = opened.snapshots(&args.store.data_dir);
    let projector = caught_up(&store, snapshots.as_ref()).await;
    opened.close().await;
    let projector = projector?;
    private_dir(&args.out)?;
    let started = std::time::Instant::now();
    let mut files = Files {
        dir: args.out.clone(),
        open: BTreeMap::new(),
    };
    let m = projector.read();
    let bar = crate::progress::bar(
        m.need_case_count() as u64,
        "exporting FHIR resources (need cases)",
    );
    let mut patients = HashSet::new();
    for (i, view) in m.need_cases_from(None).enumerate() {
        if i % 4096 == 0 {
            bar.set_position(i as u64);
        }
        let Some(d) = view.data() else { continue };
        if sel.from.is_some_and(|f| d.identified_at < f)
            || sel.to.is_some_and(|t| d.identified_at >= t)
            || sel
                .sites
                .as_ref()
                .is_some_and(|s| !s.contains(&d.recipient.site))
        {
            continue;
        }
        let recipient = d.recipient.recipient;
        if patients.insert(recipient)
            && let Some(r) = m.recipient(recipient)
        {
            files.write("Patient", &resources::patient(r, None))?;
        }
        if let Some(c) = resources::condition(view, &catalogue, sel.lang) {
            files.write("Condition", &c)?;
        }
        for r in referral_records(&m, view) {
            files.write(
                "ServiceRequest",
                &resources::service_request(&r, &catalogue, sel.lang),
            )?;
            files.write("Task", &resources::task(&r))?;
            files.write("Consent", &resources::consent(&r))?;
        }
    }
    bar.finish_and_clear();
    // The directory: every service, and the organisations they name.
    let mut organisations: BTreeMap<_, Vec<_>> = BTreeMap::new();
    let all = m
        .directory()
        .search(&Default::default(), usize::MAX - 1, None);
    for v in &all.items {
        if let Some(s) = directory::healthcare_service(v, &catalogue, sel.lang) {
            files.write("HealthcareService", &s)?;
        }
        if let Some(o) = v.state.data().and_then(|d| d.profile.organisation_id) {
            organisations.entry(o).or_default().push(*v);
        }
    }
    for (id, services) in &organisations {
        if let Some(o) = directory::organization(*id, services) {
            files.write("Organization", &o)?;
        }
    }
    files.write("CodeSystem", &directory::code_system(&catalogue))?;
    let position = m.position();
    drop(m);
    let counts = files.finish()?;
    let manifest = json!({
        "transactionTime": resources::instant(Utc::now()),
        "request": format!("careledger export-fhir (log position {})", position.raw()),
        "requiresAccessToken": false,
        "output": counts.iter().map(|(ty, n)| json!({ "type": ty, "url": format!("{ty}.ndjson"), "count": n })).collect::<Vec<_>>(),
        "error": [],
    });
    let path = args.out.join("manifest.json");
    private_file(&path)?
        .write_all(&serde_json::to_vec_pretty(&manifest)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "CareLedger: wrote {total} FHIR resources to {} in {secs:.2} s ({:.0} resources/s): {}.",
        args.out.display(),
        total as f64 / secs.max(1e-9),
        counts
            .iter()
            .map(|(t, n)| format!("{n} {t}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

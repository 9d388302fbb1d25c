//! The checkpoint's encoding: MessagePack (`rmp-serde`, structs as maps of
//! named fields, so the serde attributes JSON honoured — internally tagged
//! enums, skipped fields, defaults — read back the same; instants as two
//! integers, [`careledger_domain::timestamp`]), in sections that two threads
//! decode at once, framed so that a damaged file is refused:
//!
//! ```text
//! "CLCKPT\0\x01"  format (u32 LE)
//! section A: the model without its recipients and need cases
//! recipient sections: runs of at most 32,768 (id, view) pairs
//! need-case sections: runs of (id, view) pairs in id order, at least 8, at most 32,768 in each
//! trailer: each section's length, checksum and kind, then the number of sections (u64 LE each)
//! ```
//!
//! A reader takes one section at a time whole into its buffer (the file is
//! never copied whole into memory: at a million need cases a section is
//! ~25 MB) and decodes it from there, its strings read in place: read through
//! a `Read`er, rmp-serde copied every string — each field name of each
//! struct — through `read_to_end`, a tenth of the load. (A trailer damaged so
//! that its lengths still add up to the file's could make a reader take up to
//! the whole file into its buffer before the checksum refuses it: the most a
//! damaged file can cost, what every start cost when the checkpoint was JSON.)
//!
//! A file of another format (an older JSON checkpoint, another number), of
//! another length than its trailer says, with a section that does not hold
//! exactly one value, of an unknown kind or whose checksum differs is refused;
//! nothing decoded is kept unless every section's checksum matches (the caller
//! then rebuilds from the log). The checksum ([`Checksum`]) is not
//! cryptographic: it guards against a torn or damaged file, not against
//! someone who may write the data directory.

use super::{ApiKeyView, Casework, NeedCaseView, SNAPSHOT_FORMAT, notes, webhooks};
use crate::directory::Directory;
use crate::equity::cube::Cube;
use careledger_domain::ids::{NeedCaseId, RecipientId};
use careledger_domain::store::SnapshotSource;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

const MAGIC: &[u8; 8] = b"CLCKPT\0\x01";
const HEADER: usize = MAGIC.len() + 4;

/// Section A, written from references: the model without its recipients and
/// need cases.
#[derive(Serialize)]
struct RestOut<'a> {
    position: u64,
    open: &'a BTreeSet<NeedCaseId>,
    directory: &'a Directory,
    equity: &'a Cube,
    api_keys: &'a BTreeMap<uuid::Uuid, ApiKeyView>,
    notes: &'a BTreeMap<NeedCaseId, Vec<notes::NoteView>>,
    webhooks: &'a BTreeMap<uuid::Uuid, webhooks::WebhookView>,
}

/// Section A, read back.
#[derive(Deserialize)]
struct RestIn {
    position: u64,
    open: BTreeSet<NeedCaseId>,
    directory: Directory,
    equity: Cube,
    api_keys: BTreeMap<uuid::Uuid, ApiKeyView>,
    notes: BTreeMap<NeedCaseId, Vec<notes::NoteView>>,
    webhooks: BTreeMap<uuid::Uuid, webhooks::WebhookView>,
}

/// Recipients and need cases are written in runs of at most this many, one
/// section each: small enough that a section is read whole into memory (two
/// at a time, one per thread) and decoded from there without copying its
/// strings, many enough that the two threads share the work evenly. (Three
/// in tests, so that their small models are written in many sections.)
const RUN: usize = if cfg!(test) { 3 } else { 32_768 };
/// At least this many need-case sections (a small model is still split in two
/// threads' worth).
const MIN_NEED_CASE_SECTIONS: usize = 8;
/// At most this many sections are read (a damaged count is refused).
const MAX_SECTIONS: u64 = 1 << 16;

/// What a section holds (its kind, in the trailer).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rest = 0,
    Recipients = 1,
    NeedCases = 2,
}

impl Kind {
    fn from_word(w: u64) -> Option<Kind> {
        [Kind::Rest, Kind::Recipients, Kind::NeedCases]
            .into_iter()
            .find(|k| *k as u64 == w)
    }
}

/// A run of recipients or need cases (these in id order), written from references.
#[derive(Serialize)]
#[serde(transparent)]
struct RunOut<'a, K, V>(Vec<(&'a K, &'a V)>);

/// One decoded section of section A and the recipients.
enum Part {
    Rest(Box<RestIn>),
    Recipients(Vec<(RecipientId, Box<super::RecipientView>)>),
}

/// Writes `m`'s checkpoint to `w` as it is encoded (never whole in memory).
pub(super) fn write(m: &Casework, w: &mut dyn Write) -> std::io::Result<()> {
    w.write_all(MAGIC)?;
    w.write_all(&SNAPSHOT_FORMAT.to_le_bytes())?;
    let rest = RestOut {
        position: m.position,
        open: &m.open,
        directory: &m.directory,
        equity: &m.equity,
        api_keys: &m.api_keys,
        notes: &m.notes,
        webhooks: &m.webhooks,
    };
    let mut sections = Vec::new();
    {
        let mut out = Summing::new(w);
        sections.push((out.section(&rest)?, Kind::Rest));
        let mut recipients = m.recipients.iter().map(|v| (&v.profile.recipient, v));
        for _ in 0..m.recipients.len().div_ceil(RUN) {
            let run = RunOut(recipients.by_ref().take(RUN).collect());
            sections.push((out.section(&run)?, Kind::Recipients));
        }
        let per = m
            .need_cases
            .len()
            .div_ceil(MIN_NEED_CASE_SECTIONS)
            .clamp(1, RUN);
        let mut cases = m.need_cases.iter().map(|(k, v)| (k, &**v));
        for _ in 0..m.need_cases.len().div_ceil(per).max(1) {
            let run = RunOut(cases.by_ref().take(per).collect());
            sections.push((out.section(&run)?, Kind::NeedCases));
        }
    }
    for ((len, sum), kind) in &sections {
        w.write_all(&len.to_le_bytes())?;
        w.write_all(&sum.to_le_bytes())?;
        w.write_all(&(*kind as u64).to_le_bytes())?;
    }
    w.write_all(&(sections.len() as u64).to_le_bytes())
}

/// The model in the checkpoint `src`, before its compaction; `None` when it is
/// not a whole, undamaged checkpoint of this format.
pub(super) fn read(src: &dyn SnapshotSource) -> Option<Casework> {
    let size = src.size();
    if size < (HEADER + 8) as u64 {
        return None;
    }
    let mut header = [0u8; HEADER];
    read_exact_at(src, &mut header, 0).ok()?;
    if &header[..MAGIC.len()] != MAGIC
        || u32::from_le_bytes(header[MAGIC.len()..].try_into().ok()?) != SNAPSHOT_FORMAT
    {
        return None;
    }
    let mut count = [0u8; 8];
    read_exact_at(src, &mut count, size - 8).ok()?;
    let count = u64::from_le_bytes(count);
    if !(2..=MAX_SECTIONS).contains(&count) {
        return None;
    }
    let trailer_len = count * 24 + 8;
    let trailer_at = size.checked_sub(trailer_len)?;
    let mut trailer = vec![0u8; usize::try_from(count * 24).ok()?];
    read_exact_at(src, &mut trailer, trailer_at).ok()?;
    let word = |i: usize| u64::from_le_bytes(trailer[i * 8..i * 8 + 8].try_into().unwrap());
    // (start, length, checksum, kind) of each section; they fill the file
    // exactly, the first is section A and only the first.
    let mut sections = Vec::new();
    let mut at = HEADER as u64;
    for i in 0..count as usize {
        let (len, sum, kind) = (
            word(3 * i),
            word(3 * i + 1),
            Kind::from_word(word(3 * i + 2))?,
        );
        if (i == 0) != (kind == Kind::Rest) {
            return None;
        }
        sections.push((at, len, sum, kind));
        at = at.checked_add(len)?;
    }
    if at != trailer_at {
        return None;
    }
    // Section A, the recipients, then the need cases: the kinds in that order.
    if !sections.is_sorted_by_key(|&(_, _, _, kind)| kind as u64) {
        return None;
    }
    let first_case = sections
        .iter()
        .position(|s| s.3 == Kind::NeedCases)
        .unwrap_or(sections.len());
    let t = std::time::Instant::now();
    // 1. Section A and the recipients, two threads taking the sections in turn.
    let mut parts = in_two_threads(src, &sections[..first_case], |kind, bytes| match kind {
        Kind::Rest => Some(Part::Rest(decode(bytes)?)),
        Kind::Recipients => Some(Part::Recipients(decode(bytes)?)),
        Kind::NeedCases => None,
    })?
    .into_iter();
    let Some(Part::Rest(rest)) = parts.next() else {
        return None;
    };
    let mut runs = Vec::new();
    for part in parts {
        let Part::Recipients(run) = part else {
            return None;
        };
        runs.push(run);
    }
    // Sized once (grown run by run, the table was copied at each doubling).
    let mut recipients =
        super::recipients::Recipients::with_capacity(runs.iter().map(Vec::len).sum());
    for run in runs {
        for (id, view) in run {
            if !recipients.insert_filed(id, view) {
                return None;
            }
        }
    }
    let recipients_took = t.elapsed();
    // 2. The need cases, each made to share its recipient's profile as it is
    // decoded (both threads at once, instead of one pass over them all after).
    // (Their lists are boxed slices: read with no spare room.)
    let recipients_ref = &recipients;
    let runs = in_two_threads(src, &sections[first_case..], |_, bytes| {
        let mut run: Vec<(NeedCaseId, Box<NeedCaseView>)> = decode(bytes)?;
        for (_, v) in &mut run {
            let recipient = v.data().map(|d| d.recipient.recipient);
            if let Some(r) = recipient.and_then(|r| recipients_ref.get(r)) {
                v.state.share_recipient(&r.profile);
            }
        }
        Some(run)
    })?;
    tracing::debug!(
        sections = count,
        recipients_ms = recipients_took.as_millis() as u64,
        need_cases_ms = (t.elapsed() - recipients_took).as_millis() as u64,
        "checkpoint sections decoded"
    );
    let need_cases: Vec<_> = runs.into_iter().flatten().collect();
    // Each run in id order and the runs in turn: the map is built in one pass.
    if !need_cases.is_sorted_by(|(a, _), (b, _)| a < b) {
        return None;
    }
    let need_cases: BTreeMap<_, _> = need_cases.into_iter().collect();
    let rest = *rest;
    Some(Casework {
        position: rest.position,
        need_cases,
        recipients,
        open: rest.open,
        directory: rest.directory,
        equity: rest.equity,
        api_keys: rest.api_keys,
        notes: rest.notes,
        webhooks: rest.webhooks,
    })
}

/// `decode(kind, bytes)` of each of `sections` of `src` (start, length, checksum,
/// kind), two threads taking them in turn, each reading a section whole into
/// its own buffer; the parts in the sections' order, or `None` if any section
/// is damaged or does not decode.
fn in_two_threads<T: Send>(
    src: &dyn SnapshotSource,
    sections: &[(u64, u64, u64, Kind)],
    decode: impl Fn(Kind, &[u8]) -> Option<T> + Sync,
) -> Option<Vec<T>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        let mut buf = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(&(start, len, sum, kind)) = sections.get(i) else {
                return Some(done);
            };
            let bytes = read_section(src, start, len, sum, &mut buf)?;
            done.push((i, decode(kind, bytes)?));
        }
    };
    let (one, two) = std::thread::scope(|s| {
        let other = s.spawn(work);
        let mine = work();
        (other.join().ok().flatten(), mine)
    });
    let mut parts = one?;
    parts.extend(two?);
    parts.sort_by_key(|(i, _)| *i);
    Some(parts.into_iter().map(|(_, p)| p).collect())
}

fn read_exact_at(src: &dyn SnapshotSource, mut buf: &mut [u8], mut at: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match src.read_at(buf, at)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                at += n as u64;
            }
        }
    }
    Ok(())
}

/// The `len` bytes at `start`, read into `buf`, if their checksum is `sum`.
fn read_section<'b>(
    src: &dyn SnapshotSource,
    start: u64,
    len: u64,
    sum: u64,
    buf: &'b mut Vec<u8>,
) -> Option<&'b [u8]> {
    let len = usize::try_from(len).ok()?;
    // Grown, never cleared: the read overwrites what it keeps (zeroing ~25 MB
    // again for every section was needless, though not measurable in a start).
    if buf.len() < len {
        buf.resize(len, 0);
    }
    let bytes = &mut buf[..len];
    read_exact_at(src, bytes, start).ok()?;
    let mut check = Checksum::default();
    check.update(bytes);
    (check.finish() == sum).then_some(&*bytes)
}

/// The one MessagePack value that fills `bytes` (its strings read in place).
fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Option<T> {
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    let value = T::deserialize(&mut de).ok()?;
    // Nothing after it: reading another value must find the end.
    match serde::de::IgnoredAny::deserialize(&mut de) {
        Err(rmp_serde::decode::Error::InvalidMarkerRead(e))
            if e.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            Some(value)
        }
        _ => None,
    }
}

/// Serialising through `&mut dyn Write` without naming each type's serializer.
mod erased {
    use serde::Serialize;

    pub trait Encode {
        fn encode(&self, w: &mut super::Summing<'_>) -> std::io::Result<()>;
    }

    impl<T: Serialize> Encode for T {
        fn encode(&self, w: &mut super::Summing<'_>) -> std::io::Result<()> {
            let mut ser = rmp_serde::Serializer::new(w).with_struct_map();
            self.serialize(&mut ser).map_err(std::io::Error::other)
        }
    }
}

/// A writer that buffers, counts and checksums what passes through it.
struct Summing<'a> {
    inner: &'a mut dyn Write,
    buf: Vec<u8>,
    sum: Checksum,
    written: u64,
}

impl<'a> Summing<'a> {
    /// A whole number of [`Checksum::BLOCK`]s.
    const BUF: usize = 1 << 16;

    fn new(inner: &'a mut dyn Write) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(Self::BUF),
            sum: Checksum::default(),
            written: 0,
        }
    }

    /// Writes `value` as one section: its length and checksum.
    fn section(&mut self, value: &dyn erased::Encode) -> std::io::Result<(u64, u64)> {
        value.encode(self)?;
        self.drain()?;
        self.sum.update(&self.buf);
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        let sum = std::mem::take(&mut self.sum).finish();
        Ok((std::mem::take(&mut self.written), sum))
    }

    /// Passes on the whole blocks buffered (the checksum takes whole blocks
    /// until its end).
    fn drain(&mut self) -> std::io::Result<()> {
        let whole = self.buf.len() / Checksum::BLOCK * Checksum::BLOCK;
        self.sum.update(&self.buf[..whole]);
        self.inner.write_all(&self.buf[..whole])?;
        self.buf.drain(..whole);
        Ok(())
    }
}

impl Write for Summing<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.write_all(data)?;
        Ok(data.len())
    }

    fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(data);
        self.written += data.len() as u64;
        if self.buf.len() >= Self::BUF {
            self.drain()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A fast 64-bit checksum (four independent lanes over 8-byte words, each step
/// a bijection of the lane, so any one changed word changes the result; the
/// length and the tail are mixed in at the end). Fed in whole [`Self::BLOCK`]s
/// until the last call, it gives the same result as over the bytes at once.
#[derive(Default)]
pub(super) struct Checksum {
    lanes: [u64; 4],
    len: u64,
    tail: Vec<u8>,
}

impl Checksum {
    const BLOCK: usize = 32;
    const K: u64 = 0x9E37_79B9_7F4A_7C15;

    /// Adds `data`; only the last call may pass a length that is not a whole
    /// number of blocks.
    pub(super) fn update(&mut self, data: &[u8]) {
        debug_assert!(self.tail.is_empty(), "a part block was added before");
        self.len += data.len() as u64;
        let mut blocks = data.chunks_exact(Self::BLOCK);
        for block in &mut blocks {
            for (lane, word) in self.lanes.iter_mut().zip(block.chunks_exact(8)) {
                let w = u64::from_le_bytes(word.try_into().unwrap());
                *lane = ((*lane ^ w).wrapping_mul(Self::K)).rotate_left(29);
            }
        }
        self.tail.extend_from_slice(blocks.remainder());
    }

    pub(super) fn finish(self) -> u64 {
        let mut h = self.len.wrapping_mul(Self::K);
        for (i, b) in self.tail.iter().enumerate() {
            h = (h ^ (u64::from(*b) << ((i % 8) * 8))).wrapping_mul(Self::K);
        }
        for lane in self.lanes {
            h = (h ^ lane).wrapping_mul(Self::K).rotate_left(31);
        }
        h ^ (h >> 29)
    }
}

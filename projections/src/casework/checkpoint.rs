//! The checkpoint's encoding: MessagePack (`rmp-serde`, structs as maps of
//! named fields, so the serde attributes JSON honoured — internally tagged
//! enums, skipped fields, defaults — read back the same), in sections that
//! two threads decode at once, straight from the file through a small buffer
//! each (the file is never copied whole into memory), framed so that a damaged
//! file is refused:
//!
//! ```text
//! "CLCKPT\0\x01"  format (u32 LE)
//! section A: the model without its need cases
//! sections B1…B8: the need cases, in id order, an eighth in each (a sequence of (id, view) pairs)
//! trailer: each section's length and checksum, then the number of sections (u64 LE each)
//! ```
//!
//! A file of another format (an older JSON checkpoint, another number), of
//! another length than its trailer says, with a section that does not hold
//! exactly one value or whose checksum differs is refused; nothing decoded is
//! kept unless every section's checksum matches (the caller then rebuilds from the log).
//! The checksum ([`Checksum`]) is not cryptographic: it guards against a torn or
//! damaged file, not against someone who may write the data directory.

use super::{ApiKeyView, Casework, NeedCaseView, SNAPSHOT_FORMAT, notes, webhooks};
use crate::directory::Directory;
use crate::equity::cube::Cube;
use careledger_domain::ids::{NeedCaseId, RecipientId};
use careledger_domain::store::SnapshotSource;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};

const MAGIC: &[u8; 8] = b"CLCKPT\0\x01";
const HEADER: usize = MAGIC.len() + 4;

/// Section A, written from references.
#[derive(Serialize)]
struct RestOut<'a> {
    position: u64,
    recipients: &'a HashMap<RecipientId, Box<super::RecipientView>>,
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
    recipients: HashMap<RecipientId, Box<super::RecipientView>>,
    open: BTreeSet<NeedCaseId>,
    directory: Directory,
    equity: Cube,
    api_keys: BTreeMap<uuid::Uuid, ApiKeyView>,
    notes: BTreeMap<NeedCaseId, Vec<notes::NoteView>>,
    webhooks: BTreeMap<uuid::Uuid, webhooks::WebhookView>,
}

/// The need cases are written in this many sections (runs of ids), so that
/// the two threads share the decoding evenly whatever the size of section A.
const NEED_CASE_SECTIONS: usize = 8;
/// At most this many sections are read (a damaged count is refused).
const MAX_SECTIONS: u64 = 64;

/// A run of need cases, in id order, written from references.
#[derive(Serialize)]
#[serde(transparent)]
struct RunOut<'a>(Vec<(&'a NeedCaseId, &'a NeedCaseView)>);

/// A run of need cases, read back.
type Run = Vec<(NeedCaseId, Box<NeedCaseView>)>;

/// One decoded section.
enum Part {
    Rest(Box<RestIn>),
    Run(Run),
}

/// Writes `m`'s checkpoint to `w` as it is encoded (never whole in memory).
pub(super) fn write(m: &Casework, w: &mut dyn Write) -> std::io::Result<()> {
    w.write_all(MAGIC)?;
    w.write_all(&SNAPSHOT_FORMAT.to_le_bytes())?;
    let rest = RestOut {
        position: m.position,
        recipients: &m.recipients,
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
        sections.push(out.section(&rest)?);
        let per = m.need_cases.len().div_ceil(NEED_CASE_SECTIONS).max(1);
        let mut cases = m.need_cases.iter();
        for _ in 0..NEED_CASE_SECTIONS {
            let run = RunOut(cases.by_ref().take(per).map(|(k, v)| (k, &**v)).collect());
            sections.push(out.section(&run)?);
        }
    }
    for (len, sum) in &sections {
        w.write_all(&len.to_le_bytes())?;
        w.write_all(&sum.to_le_bytes())?;
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
    let trailer_len = count * 16 + 8;
    let trailer_at = size.checked_sub(trailer_len)?;
    let mut trailer = vec![0u8; usize::try_from(count * 16).ok()?];
    read_exact_at(src, &mut trailer, trailer_at).ok()?;
    let word = |i: usize| u64::from_le_bytes(trailer[i * 8..i * 8 + 8].try_into().unwrap());
    // (start, length, checksum) of each section; they fill the file exactly.
    let mut sections = Vec::new();
    let mut at = HEADER as u64;
    for i in 0..count as usize {
        let (len, sum) = (word(2 * i), word(2 * i + 1));
        sections.push((at, len, sum));
        at = at.checked_add(len)?;
    }
    if at != trailer_at {
        return None;
    }
    // Two threads take the sections in turn (A, the largest, first).
    let t = std::time::Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(&(start, len, sum)) = sections.get(i) else {
                return Some((done, t.elapsed()));
            };
            let part = if i == 0 {
                Part::Rest(decode(src, start, len, sum)?)
            } else {
                let mut run: Run = decode(src, start, len, sum)?;
                for (_, v) in &mut run {
                    v.state.shrink_to_fit();
                    v.referral_log.shrink_to_fit();
                }
                Part::Run(run)
            };
            done.push((i, part));
        }
    };
    let (one, two) = std::thread::scope(|s| {
        let other = s.spawn(work);
        let mine = work();
        (other.join().ok().flatten(), mine)
    });
    let ((mut parts, one_took), (more, two_took)) = (one?, two?);
    tracing::debug!(
        sections = count,
        thread_ms = one_took.as_millis() as u64,
        other_thread_ms = two_took.as_millis() as u64,
        "checkpoint sections decoded"
    );
    parts.extend(more);
    parts.sort_by_key(|(i, _)| *i);
    let mut parts = parts.into_iter().map(|(_, p)| p);
    let Some(Part::Rest(rest)) = parts.next() else {
        return None;
    };
    let mut need_cases = Vec::new();
    for part in parts {
        let Part::Run(run) = part else { return None };
        need_cases.extend(run);
    }
    // Each run in id order and the runs in turn: the map is built in one pass.
    if !need_cases.is_sorted_by(|(a, _), (b, _)| a < b) {
        return None;
    }
    let need_cases: BTreeMap<_, _> = need_cases.into_iter().collect();
    let rest = *rest;
    Some(Casework {
        position: rest.position,
        need_cases,
        recipients: rest.recipients,
        open: rest.open,
        directory: rest.directory,
        equity: rest.equity,
        api_keys: rest.api_keys,
        notes: rest.notes,
        webhooks: rest.webhooks,
    })
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

/// The one MessagePack value that fills the `len` bytes at `start`, if their
/// checksum is `sum`.
fn decode<T: for<'de> Deserialize<'de>>(
    src: &dyn SnapshotSource,
    start: u64,
    len: u64,
    sum: u64,
) -> Option<T> {
    let mut rd = Section {
        src,
        pos: start,
        end: start + len,
        buf: vec![0; Section::BUF],
        at: 0,
        filled: 0,
        sum: Checksum::default(),
        failed: false,
    };
    let value = T::deserialize(&mut rmp_serde::Deserializer::new(&mut rd)).ok()?;
    // All of it read, nothing left over, no read error, the same checksum.
    (rd.at == rd.filled && rd.pos == rd.end && !rd.failed && rd.sum.finish() == sum)
        .then_some(value)
}

/// A section read through a buffer, checksummed as it is read.
struct Section<'a> {
    src: &'a dyn SnapshotSource,
    pos: u64,
    end: u64,
    buf: Vec<u8>,
    at: usize,
    filled: usize,
    sum: Checksum,
    failed: bool,
}

impl Section<'_> {
    /// A whole number of [`Checksum::BLOCK`]s.
    const BUF: usize = 1 << 20;

    fn refill(&mut self) -> std::io::Result<()> {
        let n = usize::try_from(self.end - self.pos).map_or(Self::BUF, |left| left.min(Self::BUF));
        if let Err(e) = read_exact_at(self.src, &mut self.buf[..n], self.pos) {
            self.failed = true;
            return Err(e);
        }
        self.sum.update(&self.buf[..n]);
        self.pos += n as u64;
        (self.at, self.filled) = (0, n);
        Ok(())
    }
}

impl Read for Section<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.filled {
            if self.pos == self.end {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = out.len().min(self.filled - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }

    fn read_exact(&mut self, out: &mut [u8]) -> std::io::Result<()> {
        if let Some(have) = self.buf.get(self.at..self.at + out.len())
            && self.at + out.len() <= self.filled
        {
            out.copy_from_slice(have);
            self.at += out.len();
            return Ok(());
        }
        let mut out = out;
        while !out.is_empty() {
            match self.read(out)? {
                0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                n => out = &mut out[n..],
            }
        }
        Ok(())
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

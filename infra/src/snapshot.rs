//! Projection checkpoints as files: `<dir>/<name>.snapshot`, replaced atomically
//! (write a temporary file, fsync it, rename it over the old one, fsync the directory),
//! so a crash leaves either the previous checkpoint or the new one, never half of one.

use careledger_domain::store::{SnapshotSource, SnapshotStore};
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

pub struct FileSnapshots {
    dir: PathBuf,
}

impl FileSnapshots {
    /// Checkpoints under `dir` (created on the first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.snapshot"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl SnapshotStore for FileSnapshots {
    fn load(&self, name: &str) -> std::io::Result<Option<Vec<u8>>> {
        match fs::read(self.path(name)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn save(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.save_streamed(name, &mut |w| w.write_all(bytes))
    }

    /// Writes straight into the temporary file (through a 1 MiB buffer).
    fn save_streamed(
        &self,
        name: &str,
        write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let path = self.path(name);
        let tmp = self.dir.join(format!(".{name}.snapshot.tmp"));
        {
            let mut f = std::io::BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
            let written = write(&mut f).and_then(|()| f.flush());
            if let Err(e) = written {
                drop(f);
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
            f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        fs::rename(&tmp, &path)?;
        File::open(&self.dir)?.sync_all()
    }

    fn remove(&self, name: &str) -> std::io::Result<()> {
        match fs::remove_file(self.path(name)) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The file, read where it lies (one open handle: a save that replaces it
    /// meanwhile does not change what is read).
    fn open(&self, name: &str) -> std::io::Result<Option<Box<dyn SnapshotSource>>> {
        match File::open(self.path(name)) {
            Ok(file) => {
                let size = file.metadata()?.len();
                Ok(Some(Box::new(FileSource::new(file, size))))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// An open checkpoint file; positional reads, so that threads read their parts at once.
struct FileSource {
    #[cfg(unix)]
    file: File,
    #[cfg(not(unix))]
    file: std::sync::Mutex<File>,
    size: u64,
}

impl FileSource {
    fn new(file: File, size: u64) -> Self {
        Self {
            #[cfg(unix)]
            file,
            #[cfg(not(unix))]
            file: std::sync::Mutex::new(file),
            size,
        }
    }
}

impl SnapshotSource for FileSource {
    fn size(&self) -> u64 {
        self.size
    }

    #[cfg(unix)]
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(&self.file, buf, offset)
    }

    #[cfg(not(unix))]
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.seek(SeekFrom::Start(offset))?;
        file.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_snapshot_replaces_the_previous_one_and_can_be_removed() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileSnapshots::new(dir.path().join("projections"));
        assert_eq!(s.load("casework").unwrap(), None);
        s.save("casework", b"one").unwrap();
        s.save("casework", b"two").unwrap();
        assert_eq!(s.load("casework").unwrap().as_deref(), Some(&b"two"[..]));
        let leftovers: Vec<_> = fs::read_dir(s.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers,
            vec!["casework.snapshot"],
            "no temporary file is left behind"
        );
        s.remove("casework").unwrap();
        s.remove("casework").unwrap();
        assert_eq!(s.load("casework").unwrap(), None);
    }

    #[test]
    fn an_open_checkpoint_reads_its_parts_where_they_lie() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileSnapshots::new(dir.path().join("projections"));
        assert!(s.open("casework").unwrap().is_none());
        s.save("casework", b"0123456789").unwrap();
        let src = s.open("casework").unwrap().unwrap();
        assert_eq!(src.size(), 10);
        let mut buf = [0u8; 4];
        assert_eq!(src.read_at(&mut buf, 3).unwrap(), 4);
        assert_eq!(&buf, b"3456");
        // Replaced meanwhile: the open one still reads the old bytes.
        s.save("casework", b"abcdefghij").unwrap();
        assert_eq!(src.read_at(&mut buf, 8).unwrap(), 2);
        assert_eq!(&buf[..2], b"89");
        assert_eq!(src.read_at(&mut buf, 10).unwrap(), 0);
    }

    #[test]
    fn a_streamed_save_that_fails_midway_keeps_the_previous_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileSnapshots::new(dir.path().join("projections"));
        s.save_streamed("casework", &mut |w| {
            w.write_all(b"first ")?;
            w.write_all(b"part")
        })
        .unwrap();
        assert_eq!(
            s.load("casework").unwrap().as_deref(),
            Some(&b"first part"[..])
        );
        let failed = s.save_streamed("casework", &mut |w| {
            w.write_all(b"half of a new one")?;
            Err(std::io::Error::other("the model could not be written"))
        });
        assert!(failed.is_err());
        assert_eq!(
            s.load("casework").unwrap().as_deref(),
            Some(&b"first part"[..]),
            "the previous checkpoint stays"
        );
        let leftovers: Vec<_> = fs::read_dir(s.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec!["casework.snapshot"]);
    }
}

//! A content-addressed directory: `<root>/ab/<hex key>`, one file an entry.
//!
//! Writes go to a temporary file in the same folder and are renamed into
//! place, so a reader (or another process, or `tar` in actions/cache) sees a
//! whole entry or none, and two writers of one key both leave a whole entry.
//! An entry's modification time is when it was written (tar keeps it, so the
//! TTL survives a cache restore); its access time is set on every hit and
//! orders the least-recently-used pruning.
//!
//! A cache folder crosses trust boundaries (restored by actions/cache,
//! copied between shards), so a read trusts nothing in it: only a regular
//! file is read, opened without blocking (a FIFO would wait for a writer
//! forever) and never more than the caller's size limit (a link to
//! `/dev/zero` has no end). Anything else is a corrupt entry. Reads block
//! on the disk: callers on the async runtime run them on its blocking pool.

use std::fs::{self, File, FileTimes};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::key::Key;

/// One entry on disk, as pruning sees it.
#[derive(Debug, Clone)]
pub struct EntryInfo {
    pub path: PathBuf,
    pub bytes: u64,
    pub written: SystemTime,
    pub used: SystemTime,
}

/// What a prune did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    pub expired: u64,
    pub evicted: u64,
    pub entries_left: u64,
    pub bytes_left: u64,
}

/// A read that found something, or why it did not.
#[derive(Debug)]
pub enum Lookup {
    Found(Vec<u8>),
    Missing,
    Expired,
    /// Something is there that no writer of this cache leaves: not a
    /// regular file, or larger than an entry can be. Never read.
    Corrupt(String),
}

/// One namespace of the cache directory.
#[derive(Debug, Clone)]
pub struct Disk {
    root: PathBuf,
    /// Reads change nothing: no expired or damaged entry is removed and no
    /// access time moves (a cache restored for an untrusted pull request).
    read_only: bool,
}

impl Disk {
    pub fn new(root: PathBuf) -> Disk {
        Disk {
            root,
            read_only: false,
        }
    }

    /// A namespace whose reads leave every file as it was.
    pub fn read_only(root: PathBuf) -> Disk {
        Disk {
            root,
            read_only: true,
        }
    }

    fn path(&self, key: &Key) -> PathBuf {
        let hex = key.hex();
        self.root.join(&hex[..2]).join(&hex)
    }

    /// Reads an entry written less than `ttl` ago and at most `max_bytes`
    /// long, marking it used.
    pub fn read(
        &self,
        key: &Key,
        ttl: Duration,
        now: SystemTime,
        max_bytes: u64,
    ) -> io::Result<Lookup> {
        let path = self.path(key);
        let (file, meta) = match open_regular(&path, max_bytes)? {
            Opened::File(file, meta) => (file, meta),
            Opened::Missing => return Ok(Lookup::Missing),
            Opened::Refused(why) => return Ok(Lookup::Corrupt(why)),
        };
        let written = meta.modified()?;
        if is_expired(written, ttl, now) {
            drop(file);
            self.remove(key);
            return Ok(Lookup::Expired);
        }
        let Some(bytes) = read_capped(&file, meta.len(), max_bytes)? else {
            return Ok(Lookup::Corrupt(format!(
                "grew past {max_bytes} bytes while read"
            )));
        };
        if !self.read_only {
            // Only the access time moves: the write time carries the TTL.
            let _ = file.set_times(FileTimes::new().set_accessed(now));
        }
        Ok(Lookup::Found(bytes))
    }

    /// Writes an entry atomically.
    pub fn write(&self, key: &Key, bytes: &[u8]) -> io::Result<()> {
        let path = self.path(key);
        let dir = path.parent().expect("entries live in a shard folder");
        fs::create_dir_all(dir)?;
        let temp = dir.join(format!(
            ".tmp-{}-{}-{}",
            &key.hex()[..16],
            std::process::id(),
            fastrand::u64(..)
        ));
        let written = (|| {
            let mut file = File::create(&temp)?;
            file.write_all(bytes)?;
            file.sync_data()?;
            fs::rename(&temp, &path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }

    /// Removes an entry, unless reads must change nothing.
    pub fn remove(&self, key: &Key) {
        if !self.read_only {
            let _ = fs::remove_file(self.path(key));
        }
    }

    /// Every entry (temporary files of interrupted writes excluded).
    pub fn scan(&self) -> io::Result<Vec<EntryInfo>> {
        let mut entries = Vec::new();
        let shards = match fs::read_dir(&self.root) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(entries),
            Err(e) => return Err(e),
        };
        for shard in shards {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path())? {
                let entry = entry?;
                let name = entry.file_name();
                if name.to_string_lossy().starts_with(".tmp-") {
                    continue;
                }
                let meta = match entry.metadata() {
                    Ok(m) if m.is_file() => m,
                    _ => continue,
                };
                let written = meta.modified()?;
                entries.push(EntryInfo {
                    path: entry.path(),
                    bytes: meta.len(),
                    written,
                    used: meta.accessed().unwrap_or(written).max(written),
                });
            }
        }
        Ok(entries)
    }

    /// Removes expired entries, then the least recently used until the rest
    /// fit in `max_bytes`. Leftover temporary files older than a minute
    /// (from a killed writer) go too.
    pub fn prune(&self, ttl: Duration, max_bytes: u64, now: SystemTime) -> io::Result<Pruned> {
        self.remove_stale_temporaries(now)?;
        let mut entries = self.scan()?;
        let mut pruned = Pruned::default();
        entries.retain(|e| {
            if is_expired(e.written, ttl, now) {
                if fs::remove_file(&e.path).is_ok() {
                    pruned.expired += 1;
                }
                false
            } else {
                true
            }
        });
        let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
        if total > max_bytes {
            entries.sort_by_key(|e| (e.used, e.written));
            for e in &entries {
                if total <= max_bytes {
                    break;
                }
                if fs::remove_file(&e.path).is_ok() {
                    pruned.evicted += 1;
                    total -= e.bytes;
                }
            }
        }
        pruned.entries_left = entries.len() as u64 - pruned.evicted;
        pruned.bytes_left = total;
        Ok(pruned)
    }

    /// Removes every entry; returns how many.
    pub fn clear(&self) -> io::Result<u64> {
        let entries = self.scan()?;
        let mut removed = 0;
        for e in entries {
            if fs::remove_file(&e.path).is_ok() {
                removed += 1;
            }
        }
        self.remove_stale_temporaries(SystemTime::now() + Duration::from_secs(3600))?;
        Ok(removed)
    }

    fn remove_stale_temporaries(&self, now: SystemTime) -> io::Result<()> {
        let Ok(shards) = fs::read_dir(&self.root) else {
            return Ok(());
        };
        for shard in shards.flatten() {
            let Ok(files) = fs::read_dir(shard.path()) else {
                continue;
            };
            for file in files.flatten() {
                let stale = file.file_name().to_string_lossy().starts_with(".tmp-")
                    && file.metadata().and_then(|m| m.modified()).is_ok_and(|t| {
                        now.duration_since(t).unwrap_or_default() > Duration::from_secs(60)
                    });
                if stale {
                    let _ = fs::remove_file(file.path());
                }
            }
        }
        Ok(())
    }
}

/// A file opened for reading, or why not.
enum Opened {
    File(File, fs::Metadata),
    Missing,
    /// There is something, but not a regular file of a readable size.
    Refused(String),
}

/// Opens `path` for reading if it is a regular file of at most `max_bytes`:
/// opened without blocking (a FIFO answers at once instead of waiting for a
/// writer), then checked on the open file itself, so a swap between check
/// and read cannot change what is read.
fn open_regular(path: &Path, max_bytes: u64) -> io::Result<Opened> {
    let mut options = File::options();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Opened::Missing),
        // Opening a device or socket may fail on its own terms.
        Err(e) if !fs::metadata(path).is_ok_and(|m| m.is_file()) => {
            return Ok(Opened::Refused(format!("not a regular file ({e})")));
        }
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(Opened::Refused(format!(
            "{}, not a regular file",
            kind_of(&meta)
        )));
    }
    if meta.len() > max_bytes {
        return Ok(Opened::Refused(format!(
            "{} bytes, more than the {max_bytes} an entry may have",
            meta.len()
        )));
    }
    Ok(Opened::File(file, meta))
}

/// The whole of `file` (about `len` bytes), or `None` when it holds more
/// than `max_bytes`: never more than that plus one byte is read.
fn read_capped(file: &File, len: u64, max_bytes: u64) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::with_capacity(usize::try_from(len.min(max_bytes)).unwrap_or(0));
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= max_bytes).then_some(bytes))
}

/// Reads a small file that should be regular (a cache's bookkeeping), at
/// most `max_bytes` of it; `None` for anything else.
pub fn read_regular(path: &Path, max_bytes: u64) -> Option<Vec<u8>> {
    match open_regular(path, max_bytes).ok()? {
        Opened::File(file, meta) => read_capped(&file, meta.len(), max_bytes).ok()?,
        Opened::Missing | Opened::Refused(_) => None,
    }
}

/// What a file that is not regular is, for a message.
fn kind_of(meta: &fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a named pipe";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

fn is_expired(written: SystemTime, ttl: Duration, now: SystemTime) -> bool {
    now.duration_since(written).unwrap_or_default() > ttl
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute::cache::key;

    fn k(n: u32) -> Key {
        key::of(&serde_json::json!(n))
    }

    fn set_times(disk: &Disk, key: &Key, written: SystemTime, used: SystemTime) {
        let file = File::options().write(true).open(disk.path(key)).unwrap();
        file.set_times(FileTimes::new().set_modified(written).set_accessed(used))
            .unwrap();
    }

    #[test]
    fn write_read_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::new(dir.path().join("v1/responses"));
        let now = SystemTime::now();
        let day = Duration::from_secs(86_400);
        assert!(matches!(
            disk.read(&k(1), day, now, 1 << 20).unwrap(),
            Lookup::Missing
        ));
        disk.write(&k(1), b"hello").unwrap();
        match disk.read(&k(1), day, now, 1 << 20).unwrap() {
            Lookup::Found(bytes) => assert_eq!(bytes, b"hello"),
            other => panic!("{other:?}"),
        }
        set_times(&disk, &k(1), now - 2 * day, now - 2 * day);
        assert!(matches!(
            disk.read(&k(1), day, now, 1 << 20).unwrap(),
            Lookup::Expired
        ));
        assert!(
            matches!(
                disk.read(&k(1), day, now, 1 << 20).unwrap(),
                Lookup::Missing
            ),
            "expired entries are removed"
        );
    }

    #[test]
    fn a_hit_marks_the_entry_used_but_keeps_its_write_time() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::new(dir.path().to_path_buf());
        let now = SystemTime::now();
        disk.write(&k(1), b"x").unwrap();
        let old = now - Duration::from_secs(3600);
        set_times(&disk, &k(1), old, old);
        disk.read(&k(1), Duration::from_secs(86_400), now, 1 << 20)
            .unwrap();
        let info = &disk.scan().unwrap()[0];
        assert_eq!(info.written, old);
        assert!(info.used > old);
    }

    #[test]
    fn prune_removes_expired_then_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::new(dir.path().to_path_buf());
        let now = SystemTime::now();
        let min = Duration::from_secs(60);
        for n in 0..5 {
            disk.write(&k(n), &[b'x'; 100]).unwrap();
        }
        // Entry 0 is past the TTL; of the rest, 3 was used longest ago, then 1.
        set_times(&disk, &k(0), now - 100 * min, now - 100 * min);
        set_times(&disk, &k(1), now - 10 * min, now - 5 * min);
        set_times(&disk, &k(2), now - 10 * min, now - min);
        set_times(&disk, &k(3), now - 10 * min, now - 9 * min);
        set_times(&disk, &k(4), now - 10 * min, now);
        let pruned = disk.prune(30 * min, 250, now).unwrap();
        assert_eq!(
            pruned,
            Pruned {
                expired: 1,
                evicted: 2,
                entries_left: 2,
                bytes_left: 200
            }
        );
        let left: Vec<bool> = (0..5).map(|n| disk.path(&k(n)).exists()).collect();
        assert_eq!(left, [false, false, true, false, true]);
    }

    #[test]
    fn clear_and_stale_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::new(dir.path().to_path_buf());
        disk.write(&k(1), b"a").unwrap();
        disk.write(&k(2), b"b").unwrap();
        let shard = disk.path(&k(1)).parent().unwrap().to_path_buf();
        std::fs::write(shard.join(".tmp-interrupted"), b"half").unwrap();
        assert_eq!(disk.scan().unwrap().len(), 2, "temporaries are not entries");
        assert_eq!(disk.clear().unwrap(), 2);
        assert!(disk.scan().unwrap().is_empty());
        assert!(!shard.join(".tmp-interrupted").exists());
    }

    #[cfg(unix)]
    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::new(dir.path().to_path_buf());
        let now = SystemTime::now();
        let day = Duration::from_secs(86_400);
        let place = |n: u32| {
            let path = disk.path(&k(n));
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            path
        };
        // A named pipe with no writer: a blocking open would wait forever.
        let fifo = std::ffi::CString::new(place(1).to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) on a path this test owns.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        // A link to a file without end.
        std::os::unix::fs::symlink("/dev/zero", place(2)).unwrap();
        fs::create_dir(place(3)).unwrap();
        disk.write(&k(4), &[b'x'; 100]).unwrap();
        disk.write(&k(5), &[b'x'; 64]).unwrap();
        let read = |n| disk.read(&k(n), day, now, 64).unwrap();
        for (n, expected) in [
            (1, "a named pipe"),
            (2, "a device"),
            (3, "a directory"),
            (4, "100 bytes, more than the 64"),
        ] {
            match read(n) {
                Lookup::Corrupt(why) => assert!(why.starts_with(expected), "{n}: {why}"),
                other => panic!("{n}: {other:?}"),
            }
        }
        assert!(matches!(read(5), Lookup::Found(bytes) if bytes.len() == 64));
        assert_eq!(read_regular(&place(2), 64), None);
        assert_eq!(read_regular(&place(5), 64).map(|b| b.len()), Some(64));
    }
}

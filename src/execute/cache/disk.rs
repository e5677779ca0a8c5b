//! A content-addressed directory: `<root>/ab/<hex key>`, one file an entry.
//!
//! Writes go to a temporary file in the same folder and are renamed into
//! place, so a reader (or another process, or `tar` in actions/cache) sees a
//! whole entry or none, and two writers of one key both leave a whole entry.
//! An entry's modification time is when it was written (tar keeps it, so the
//! TTL survives a cache restore); its access time is set on every hit and
//! orders the least-recently-used pruning.

use std::fs::{self, File, FileTimes};
use std::io::{self, Read, Write};
use std::path::PathBuf;
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

    /// Reads an entry written less than `ttl` ago, marking it used.
    pub fn read(&self, key: &Key, ttl: Duration, now: SystemTime) -> io::Result<Lookup> {
        let path = self.path(key);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Lookup::Missing),
            Err(e) => return Err(e),
        };
        let written = file.metadata()?.modified()?;
        if is_expired(written, ttl, now) {
            drop(file);
            self.remove(key);
            return Ok(Lookup::Expired);
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
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
            disk.read(&k(1), day, now).unwrap(),
            Lookup::Missing
        ));
        disk.write(&k(1), b"hello").unwrap();
        match disk.read(&k(1), day, now).unwrap() {
            Lookup::Found(bytes) => assert_eq!(bytes, b"hello"),
            other => panic!("{other:?}"),
        }
        set_times(&disk, &k(1), now - 2 * day, now - 2 * day);
        assert!(matches!(
            disk.read(&k(1), day, now).unwrap(),
            Lookup::Expired
        ));
        assert!(
            matches!(disk.read(&k(1), day, now).unwrap(), Lookup::Missing),
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
        disk.read(&k(1), Duration::from_secs(86_400), now).unwrap();
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
}

//! The response cache: a re-run of an unchanged suite makes no request,
//! spends no token and waits for nothing.
//!
//! Answers live on disk in a content-addressed directory ([`disk`]) keyed by
//! a canonical description of the request ([`key`]), which is what the
//! Action saves and restores between CI runs; a small in-memory layer in
//! front of it serves repeated lookups within a run. Only answers worth
//! replaying are stored: no errors, no refusals, and no truncated answers
//! unless the suite asks for them.

pub mod disk;
pub mod key;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use cached::{Cached, LruTtlCache};
use serde::{Deserialize, Serialize};

pub use disk::{Disk, Lookup, Pruned};
pub use key::Key;

use crate::config::Mode;
use crate::log;
use crate::record::{CacheStats as Stats, Usage};
use crate::secret::redact_in_place;

/// Stored answers expire after two weeks: CI runs of one pull request are
/// days apart, and GitHub evicts a cache unused for a week anyway.
pub const DEFAULT_TTL: Duration = Duration::from_secs(14 * 86_400);
/// 1 GiB of answers: a tenth of a repository's 10 GB actions/cache quota.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
/// Embeddings of a fixed text never change for a model, so they keep longer.
pub const DEFAULT_EMBEDDINGS_TTL: Duration = Duration::from_secs(30 * 86_400);
pub const DEFAULT_EMBEDDINGS_MAX_BYTES: u64 = 512 << 20;
/// The in-memory layer: answers for two hours, embeddings for a day.
pub const MEMORY_TTL: Duration = Duration::from_secs(2 * 3600);
pub const MEMORY_EMBEDDINGS_TTL: Duration = Duration::from_secs(24 * 3600);
const MEMORY_ENTRIES: usize = 10_000;

/// Where and how the cache works for a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub dir: PathBuf,
    pub mode: Mode,
    pub ttl: Duration,
    pub max_bytes: u64,
    /// Store answers cut off by max-tokens too.
    pub keep_truncated: bool,
    pub embeddings_ttl: Duration,
    pub embeddings_max_bytes: u64,
}

impl Settings {
    /// The defaults, with the cache in `dir`.
    pub fn new(dir: PathBuf) -> Settings {
        Settings {
            dir,
            mode: Mode::ReadWrite,
            ttl: DEFAULT_TTL,
            max_bytes: DEFAULT_MAX_BYTES,
            keep_truncated: false,
            embeddings_ttl: DEFAULT_EMBEDDINGS_TTL,
            embeddings_max_bytes: DEFAULT_EMBEDDINGS_MAX_BYTES,
        }
    }

    /// The folder of one kind of entry (`responses`, `embeddings`).
    pub fn namespace(&self, name: &str) -> PathBuf {
        self.dir.join(format!("v{}", key::FORMAT)).join(name)
    }
}

/// A stored answer: everything a case record needs, as first measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub model: String,
    pub output: String,
    pub usage: Option<Usage>,
    pub cost_usd: Option<f64>,
    /// The latency the answer was first measured with.
    pub latency_ms: Option<f64>,
    pub finish_reason: Option<String>,
}

/// The response cache of a run.
pub struct ResponseCache {
    settings: Settings,
    disk: Disk,
    memory: Mutex<LruTtlCache<Key, Entry>>,
    hits: AtomicU64,
    misses: AtomicU64,
    shared: AtomicU64,
    corrupt: AtomicU64,
    writes: AtomicU64,
    write_errors: AtomicU64,
    tokens_saved: AtomicU64,
    /// Micro-dollars, so an atomic can hold the sum.
    cost_saved_micro: AtomicU64,
}

impl ResponseCache {
    pub fn new(settings: Settings) -> ResponseCache {
        let disk = namespace(&settings, "responses");
        ResponseCache {
            memory: Mutex::new(LruTtlCache::new(MEMORY_ENTRIES, MEMORY_TTL)),
            settings,
            disk,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            shared: AtomicU64::new(0),
            corrupt: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
            tokens_saved: AtomicU64::new(0),
            cost_saved_micro: AtomicU64::new(0),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn mode(&self) -> Mode {
        self.settings.mode
    }

    /// Looks `key` up (memory, then disk) and counts a hit or a miss. A
    /// damaged entry (unreadable, not a regular file, more than `max_bytes`)
    /// is a miss: it is counted and removed. The disk is read on the
    /// runtime's blocking pool.
    pub async fn get(&self, key: &Key, max_bytes: u64) -> Option<Entry> {
        if self.settings.mode == Mode::Off {
            return None;
        }
        let found = self.lookup(key, max_bytes).await;
        match &found {
            Some(entry) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                self.count_savings(entry.usage, entry.cost_usd);
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
            }
        }
        found
    }

    /// Notes that a miss was answered by an identical request in flight,
    /// which saved that answer's usage and cost (when it succeeded).
    pub fn note_shared(&self, saved: Option<(Option<Usage>, Option<f64>)>) {
        self.misses.fetch_sub(1, Ordering::Relaxed);
        self.shared.fetch_add(1, Ordering::Relaxed);
        if let Some((usage, cost)) = saved {
            self.count_savings(usage, cost);
        }
    }

    fn count_savings(&self, usage: Option<Usage>, cost: Option<f64>) {
        if let Some(usage) = usage {
            self.tokens_saved
                .fetch_add(usage.total_tokens, Ordering::Relaxed);
        }
        if let Some(cost) = cost {
            self.cost_saved_micro
                .fetch_add((cost * 1e6).round() as u64, Ordering::Relaxed);
        }
    }

    async fn lookup(&self, key: &Key, max_bytes: u64) -> Option<Entry> {
        if let Some(entry) = self.memory().cache_get(key) {
            return Some(entry.clone());
        }
        let (disk, key, ttl) = (self.disk.clone(), *key, self.settings.ttl);
        let read = tokio::task::spawn_blocking(move || {
            match disk.read(&key, ttl, SystemTime::now(), max_bytes) {
                Ok(Lookup::Found(bytes)) => match serde_json::from_slice::<Entry>(&bytes) {
                    Ok(entry) => Read::Hit(entry),
                    Err(_) => {
                        disk.remove(&key);
                        Read::Corrupt
                    }
                },
                Ok(Lookup::Corrupt(why)) => {
                    log::debug(&format!("cache entry {}: {why}; a miss", key.hex()));
                    disk.remove(&key);
                    Read::Corrupt
                }
                // An unreadable cache must never fail a run: it is a miss.
                Ok(Lookup::Missing | Lookup::Expired) | Err(_) => Read::Miss,
            }
        })
        .await
        .unwrap_or(Read::Miss);
        match read {
            Read::Hit(entry) => {
                self.memory().cache_set(key, entry.clone());
                Some(entry)
            }
            Read::Corrupt => {
                self.corrupt.fetch_add(1, Ordering::Relaxed);
                None
            }
            Read::Miss => None,
        }
    }

    /// Whether an answer that ended with `finish_reason` may be stored.
    pub fn accepts(&self, finish_reason: Option<&str>) -> bool {
        match finish_reason {
            Some("refusal") | Some("content_filter") => false,
            Some("length") | Some("max_tokens") => self.settings.keep_truncated,
            _ => true,
        }
    }

    /// Stores an answer (in read-write mode), its text without secrets; a
    /// failed write is counted, not fatal. The file is written on the
    /// runtime's blocking pool.
    pub async fn put(&self, key: &Key, entry: &Entry) {
        if self.settings.mode != Mode::ReadWrite || !self.accepts(entry.finish_reason.as_deref()) {
            return;
        }
        let mut entry = entry.clone();
        redact_in_place(&mut entry.output);
        if let Some(reason) = &mut entry.finish_reason {
            redact_in_place(reason);
        }
        let bytes = serde_json::to_vec(&entry).expect("an entry serializes to JSON");
        let (disk, key) = (self.disk.clone(), *key);
        let written = tokio::task::spawn_blocking(move || disk.write(&key, &bytes)).await;
        match written {
            Ok(Ok(())) => {
                self.writes.fetch_add(1, Ordering::Relaxed);
                self.memory().cache_set(key, entry);
            }
            _ => {
                self.write_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, LruTtlCache<Key, Entry>> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn stats(&self) -> Stats {
        Stats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            shared: self.shared.load(Ordering::Relaxed),
            corrupt: self.corrupt.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            write_errors: self.write_errors.load(Ordering::Relaxed),
            tokens_saved: self.tokens_saved.load(Ordering::Relaxed),
            cost_saved_usd: self.cost_saved_micro.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }

    /// Prunes to the TTL and size cap and notes this run's hit rate for
    /// `ai-evals cache stats`; only in read-write mode.
    pub fn finish(&self) -> std::io::Result<Option<Pruned>> {
        let stats = self.stats();
        // A run that looked nothing up (an offline suite) leaves no trace.
        if self.settings.mode != Mode::ReadWrite || stats.hits + stats.misses + stats.shared == 0 {
            return Ok(None);
        }
        let pruned = self.disk.prune(
            self.settings.ttl,
            self.settings.max_bytes,
            SystemTime::now(),
        )?;
        write_last_run(&self.settings.dir, &stats)?;
        Ok(Some(pruned))
    }
}

/// What a read of the disk found.
enum Read {
    Hit(Entry),
    Miss,
    Corrupt,
}

/// The most bytes an entry for answers of at most `max_answer` bytes may
/// hold: the answer's text (JSON escapes and `[redacted]` can make it
/// longer than it came) and the entry's own fields.
pub fn entry_limit(max_answer: u64) -> u64 {
    max_answer.saturating_mul(2).saturating_add(64 << 10)
}

/// One namespace of the cache folder, opened as the mode allows: in
/// read-only mode nothing on disk changes, not even an access time.
fn namespace(settings: &Settings, name: &str) -> Disk {
    let root = settings.namespace(name);
    if settings.mode == Mode::ReadOnly {
        Disk::read_only(root)
    } else {
        Disk::new(root)
    }
}

/// Embeddings on disk: a magic tag, the length, then little-endian f32s.
const EMBEDDING_MAGIC: &[u8; 4] = b"EMB1";

fn encode_embedding(vector: &[f32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(8 + vector.len() * 4);
    bytes.extend_from_slice(EMBEDDING_MAGIC);
    bytes.extend_from_slice(&(vector.len() as u32).to_le_bytes());
    for x in vector {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes
}

/// `None` for anything but a whole, well-formed entry.
fn decode_embedding(bytes: &[u8]) -> Option<Vec<f32>> {
    let rest = bytes.strip_prefix(EMBEDDING_MAGIC)?;
    let (len, values) = rest.split_at_checked(4)?;
    let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
    if values.len() != len * 4 {
        return None;
    }
    Some(
        values
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("chunks of four")))
            .collect(),
    )
}

/// The embedding cache: one vector per (provider, URL, model, dimensions,
/// text), on disk beside the answers and in memory for a day.
pub struct EmbeddingCache {
    mode: Mode,
    ttl: Duration,
    max_bytes: u64,
    disk: Disk,
    memory: Mutex<LruTtlCache<Key, std::sync::Arc<Vec<f32>>>>,
    hits: AtomicU64,
    misses: AtomicU64,
    corrupt: AtomicU64,
}

impl EmbeddingCache {
    pub fn new(settings: &Settings) -> EmbeddingCache {
        EmbeddingCache {
            mode: settings.mode,
            ttl: settings.embeddings_ttl,
            max_bytes: settings.embeddings_max_bytes,
            disk: namespace(settings, "embeddings"),
            memory: Mutex::new(LruTtlCache::new(MEMORY_ENTRIES, MEMORY_EMBEDDINGS_TTL)),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            corrupt: AtomicU64::new(0),
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, LruTtlCache<Key, std::sync::Arc<Vec<f32>>>> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The stored vector for `key`, if any; a damaged entry (not a regular
    /// file, more than `max_bytes`, or not a vector) is a counted miss.
    pub async fn get(&self, key: &Key, max_bytes: u64) -> Option<std::sync::Arc<Vec<f32>>> {
        if self.mode == Mode::Off {
            return None;
        }
        if let Some(v) = self.memory().cache_get(key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Some(v.clone());
        }
        let (disk, key, ttl) = (self.disk.clone(), *key, self.ttl);
        let read = tokio::task::spawn_blocking(move || {
            let vector = match disk.read(&key, ttl, SystemTime::now(), max_bytes) {
                Ok(Lookup::Found(bytes)) => decode_embedding(&bytes),
                Ok(Lookup::Corrupt(why)) => {
                    log::debug(&format!(
                        "embedding cache entry {}: {why}; a miss",
                        key.hex()
                    ));
                    None
                }
                Ok(Lookup::Missing | Lookup::Expired) | Err(_) => return Ok(None),
            };
            if vector.is_none() {
                disk.remove(&key);
            }
            vector.map(Some).ok_or(())
        })
        .await
        .unwrap_or(Ok(None));
        let found = match read {
            Ok(Some(v)) => {
                let v = std::sync::Arc::new(v);
                self.memory().cache_set(key, v.clone());
                Some(v)
            }
            Ok(None) => None,
            Err(()) => {
                self.corrupt.fetch_add(1, Ordering::Relaxed);
                None
            }
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores a vector, on disk in read-write mode (on the runtime's
    /// blocking pool); a failed write only costs a later lookup.
    pub async fn put(&self, key: &Key, vector: &std::sync::Arc<Vec<f32>>) {
        if self.mode == Mode::Off {
            return;
        }
        self.memory().cache_set(*key, vector.clone());
        if self.mode == Mode::ReadWrite {
            let (disk, key, bytes) = (self.disk.clone(), *key, encode_embedding(vector));
            let _ = tokio::task::spawn_blocking(move || disk.write(&key, &bytes)).await;
        }
    }

    /// Hits, misses and damaged entries so far.
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
            self.corrupt.load(Ordering::Relaxed),
        )
    }

    /// Prunes to the TTL and size cap, in read-write mode after any lookup.
    pub fn finish(&self) -> std::io::Result<Option<Pruned>> {
        let (hits, misses, _) = self.counts();
        if self.mode != Mode::ReadWrite || hits + misses == 0 {
            return Ok(None);
        }
        self.disk
            .prune(self.ttl, self.max_bytes, SystemTime::now())
            .map(Some)
    }
}

/// What the last run that wrote this cache saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastRun {
    pub finished_at: String,
    pub stats: Stats,
}

fn last_run_path(dir: &Path) -> PathBuf {
    dir.join(format!("v{}", key::FORMAT)).join("last-run.json")
}

fn write_last_run(dir: &Path, stats: &Stats) -> std::io::Result<()> {
    let path = last_run_path(dir);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let record = LastRun {
        finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        stats: stats.clone(),
    };
    let temp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(
        &temp,
        serde_json::to_vec_pretty(&record).expect("serializes"),
    )?;
    std::fs::rename(temp, path)
}

/// The last run's record, if one was written (a regular file of at most
/// 64 KiB: it holds a few counters).
pub fn last_run(dir: &Path) -> Option<LastRun> {
    let bytes = disk::read_regular(&last_run_path(dir), 64 << 10)?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: u64 = 1 << 20;

    fn entry(finish: Option<&str>) -> Entry {
        Entry {
            model: "m".into(),
            output: "answer".into(),
            usage: Some(Usage {
                prompt_tokens: 10,
                completion_tokens: 5,
                total_tokens: 15,
            }),
            cost_usd: Some(0.002),
            latency_ms: Some(812.0),
            finish_reason: finish.map(str::to_string),
        }
    }

    fn cache(dir: &Path, mode: Mode) -> ResponseCache {
        ResponseCache::new(Settings {
            mode,
            ..Settings::new(dir.to_path_buf())
        })
    }

    #[tokio::test]
    async fn hit_keeps_what_was_first_measured_and_counts_savings() {
        let dir = tempfile::tempdir().unwrap();
        let k = key::of(&serde_json::json!("q"));
        let writer = cache(dir.path(), Mode::ReadWrite);
        assert_eq!(writer.get(&k, LIMIT).await, None);
        writer.put(&k, &entry(Some("stop"))).await;
        // A fresh process reads the disk, not the memory layer.
        let reader = cache(dir.path(), Mode::ReadWrite);
        assert_eq!(reader.get(&k, LIMIT).await, Some(entry(Some("stop"))));
        let stats = reader.stats();
        assert_eq!((stats.hits, stats.misses, stats.tokens_saved), (1, 0, 15));
        assert!((stats.cost_saved_usd - 0.002).abs() < 1e-9);
        assert_eq!(stats.hit_rate(), Some(1.0));
    }

    #[tokio::test]
    async fn refusals_and_truncations_are_not_stored_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path(), Mode::ReadWrite);
        for (n, finish) in ["refusal", "length", "max_tokens"].iter().enumerate() {
            let k = key::of(&serde_json::json!(n));
            c.put(&k, &entry(Some(finish))).await;
            assert_eq!(c.get(&k, LIMIT).await, None, "{finish}");
        }
        let keep = ResponseCache::new(Settings {
            keep_truncated: true,
            ..Settings::new(dir.path().to_path_buf())
        });
        let k = key::of(&serde_json::json!("long"));
        keep.put(&k, &entry(Some("length"))).await;
        assert!(keep.get(&k, LIMIT).await.is_some());
    }

    #[tokio::test]
    async fn read_only_writes_nothing_and_off_reads_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let k = key::of(&serde_json::json!("q"));
        let ro = cache(dir.path(), Mode::ReadOnly);
        ro.put(&k, &entry(None)).await;
        ro.finish().unwrap();
        assert!(!dir.path().join("v1").exists(), "read-only created files");
        cache(dir.path(), Mode::ReadWrite)
            .put(&k, &entry(None))
            .await;
        assert!(
            cache(dir.path(), Mode::ReadOnly)
                .get(&k, LIMIT)
                .await
                .is_some()
        );
        let off = cache(dir.path(), Mode::Off);
        assert_eq!(off.get(&k, LIMIT).await, None);
        assert_eq!(off.stats().misses, 0, "off counts nothing");
    }

    /// Every file under `dir` with its length and modified time (reading a
    /// file may move its access time, which is the kernel's doing).
    fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
        let mut files = Vec::new();
        let mut folders = vec![dir.to_path_buf()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(folder).unwrap() {
                let entry = entry.unwrap();
                let meta = entry.metadata().unwrap();
                if meta.is_dir() {
                    folders.push(entry.path());
                } else {
                    files.push((entry.path(), meta.len(), meta.modified().unwrap()));
                }
            }
        }
        files.sort();
        files
    }

    #[tokio::test]
    async fn read_only_changes_no_file_not_even_expired_or_damaged_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (good, damaged, old) = (
            key::of(&serde_json::json!("good")),
            key::of(&serde_json::json!("damaged")),
            key::of(&serde_json::json!("old")),
        );
        let rw = cache(dir.path(), Mode::ReadWrite);
        for k in [&good, &damaged, &old] {
            rw.put(k, &entry(None)).await;
        }
        let root = dir.path().join("v1/responses");
        let path = |k: &Key| root.join(&k.hex()[..2]).join(k.hex());
        std::fs::write(path(&damaged), b"{not json").unwrap();
        let long_ago = SystemTime::now() - Duration::from_secs(365 * 86_400);
        std::fs::File::options()
            .write(true)
            .open(path(&old))
            .unwrap()
            .set_times(
                std::fs::FileTimes::new()
                    .set_modified(long_ago)
                    .set_accessed(long_ago),
            )
            .unwrap();
        let before = snapshot(dir.path());
        let ro = cache(dir.path(), Mode::ReadOnly);
        assert!(ro.get(&good, LIMIT).await.is_some());
        assert_eq!(ro.get(&damaged, LIMIT).await, None);
        assert_eq!(ro.get(&old, LIMIT).await, None, "expired");
        ro.finish().unwrap();
        let embeddings = EmbeddingCache::new(&Settings {
            mode: Mode::ReadOnly,
            ..Settings::new(dir.path().to_path_buf())
        });
        assert_eq!(embeddings.get(&good, LIMIT).await, None);
        embeddings.finish().unwrap();
        assert_eq!(
            snapshot(dir.path()),
            before,
            "read-only changed the cache folder"
        );
        assert_eq!(ro.stats().corrupt, 1);
    }

    #[tokio::test]
    async fn corrupt_and_truncated_entries_are_counted_misses_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path(), Mode::ReadWrite);
        let k = key::of(&serde_json::json!("q"));
        c.put(&k, &entry(None)).await;
        let hex = k.hex();
        let path = c
            .settings()
            .namespace("responses")
            .join(&hex[..2])
            .join(&hex);
        let whole = std::fs::read(&path).unwrap();
        std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
        let fresh = cache(dir.path(), Mode::ReadWrite);
        assert_eq!(fresh.get(&k, LIMIT).await, None);
        assert_eq!(fresh.stats().corrupt, 1);
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn embeddings_round_trip_and_damage_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::new(dir.path().to_path_buf());
        let k = key::embedding("openai", "u", "m", None, "hello");
        let v = std::sync::Arc::new(vec![0.25f32, -1.5, 3.0]);
        EmbeddingCache::new(&settings).put(&k, &v).await;
        let fresh = EmbeddingCache::new(&settings);
        assert_eq!(fresh.get(&k, LIMIT).await.as_deref(), Some(&*v));
        assert_eq!(decode_embedding(&encode_embedding(&v)[..9]), None);
        assert_eq!(decode_embedding(b"nope"), None);
        let hex = k.hex();
        let path = settings.namespace("embeddings").join(&hex[..2]).join(&hex);
        std::fs::write(&path, b"EMB1\x03\0\0\0short").unwrap();
        let damaged = EmbeddingCache::new(&settings);
        assert_eq!(damaged.get(&k, LIMIT).await, None);
        assert_eq!(damaged.counts(), (0, 1, 1));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_pipe_or_a_link_to_dev_zero_is_a_counted_miss_and_goes() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path(), Mode::ReadWrite);
        let (pipe, zero) = (
            key::of(&serde_json::json!(1)),
            key::of(&serde_json::json!(2)),
        );
        let path = |k: &Key| {
            let hex = k.hex();
            let path = c
                .settings()
                .namespace("responses")
                .join(&hex[..2])
                .join(&hex);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            path
        };
        let fifo = std::ffi::CString::new(path(&pipe).to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) on a path this test owns.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        std::os::unix::fs::symlink("/dev/zero", path(&zero)).unwrap();
        assert_eq!(c.get(&pipe, LIMIT).await, None);
        assert_eq!(c.get(&zero, LIMIT).await, None);
        let stats = c.stats();
        assert_eq!((stats.corrupt, stats.misses, stats.hits), (2, 2, 0));
        assert!(!path(&pipe).exists() && std::fs::symlink_metadata(path(&zero)).is_err());
    }

    #[tokio::test]
    async fn an_entry_over_the_limit_is_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path(), Mode::ReadWrite);
        let k = key::of(&serde_json::json!("big"));
        let big = Entry {
            output: "x".repeat(4096),
            ..entry(None)
        };
        c.put(&k, &big).await;
        let fresh = cache(dir.path(), Mode::ReadOnly);
        assert_eq!(fresh.get(&k, 1024).await, None);
        assert_eq!(fresh.stats().corrupt, 1);
        assert_eq!(fresh.get(&k, entry_limit(4096)).await, Some(big));
    }

    #[tokio::test]
    async fn secrets_are_stored_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let secret = "sk-cache-unit-0123456789";
        crate::secret::register(secret);
        let c = cache(dir.path(), Mode::ReadWrite);
        let k = key::of(&serde_json::json!("leak"));
        c.put(
            &k,
            &Entry {
                output: format!("the key is {secret}, again {secret}"),
                ..entry(None)
            },
        )
        .await;
        let stored = cache(dir.path(), Mode::ReadWrite)
            .get(&k, LIMIT)
            .await
            .unwrap();
        assert_eq!(stored.output, "the key is [redacted], again [redacted]");
        for (path, ..) in snapshot(dir.path()) {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!String::from_utf8_lossy(&bytes).contains(secret));
        }
    }
}

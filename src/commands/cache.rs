//! `ai-evals cache stats|prune|clear`: what the cache folder holds, and
//! keeping it within its limits by hand; `cache gc`: deleting the GitHub
//! Actions cache entries a newer one has superseded.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::history::api_error;
use crate::cli::{CacheCommand, GcArgs};
use crate::error::{Error, Result};
use crate::execute::cache::{Disk, Settings, last_run};
use crate::publish::Environment;
use crate::publish::github::api::split_repo;
use crate::publish::github::caches;
use crate::units::{parse_duration, parse_size};

/// Runs a cache subcommand and returns what it prints.
pub async fn cache(command: CacheCommand) -> Result<String> {
    let settings = |args: crate::cli::CacheArgs| Settings::new(args.cache_dir);
    match command {
        CacheCommand::Gc(args) => gc(args).await,
        CacheCommand::Stats(args) => stats(&settings(args)),
        CacheCommand::Clear(args) => clear(&settings(args)),
        CacheCommand::Prune {
            cache,
            max_age,
            max_size,
        } => {
            let age =
                parse_duration(&max_age).map_err(|m| Error::input(format!("--max-age: {m}")))?;
            let size =
                parse_size(&max_size).map_err(|m| Error::input(format!("--max-size: {m}")))?;
            prune(&settings(cache), age, size)
        }
    }
}

/// The namespaces a cache folder holds.
const NAMESPACES: [&str; 2] = ["responses", "embeddings"];

fn disks(settings: &Settings) -> Vec<(&'static str, Disk)> {
    NAMESPACES
        .iter()
        .map(|name| (*name, Disk::new(settings.namespace(name))))
        .collect()
}

fn io_error(dir: &Path, e: std::io::Error) -> Error {
    Error::runtime(format!("cannot read the cache in {}: {e}", dir.display()))
}

/// Entries, bytes, oldest and newest per namespace, and the last run's hit rate.
pub fn stats(settings: &Settings) -> Result<String> {
    let mut out = format!("cache {}\n", settings.dir.display());
    for (name, disk) in disks(settings) {
        let entries = disk.scan().map_err(|e| io_error(&settings.dir, e))?;
        let bytes: u64 = entries.iter().map(|e| e.bytes).sum();
        out.push_str(&format!(
            "  {name:<11} {:>8} entries {:>12}",
            entries.len(),
            human_bytes(bytes)
        ));
        let oldest = entries.iter().map(|e| e.written).min();
        let newest = entries.iter().map(|e| e.written).max();
        if let (Some(oldest), Some(newest)) = (oldest, newest) {
            out.push_str(&format!(
                "  oldest {} ago, newest {} ago",
                human_age(oldest),
                human_age(newest)
            ));
        }
        out.push('\n');
    }
    match last_run(&settings.dir) {
        Some(run) => {
            let s = &run.stats;
            let rate = s
                .hit_rate()
                .map_or("n/a".to_string(), |r| format!("{:.1}%", r * 100.0));
            out.push_str(&format!(
                "  last run ({}): hit rate {rate}, {} hits, {} misses, {} requests and {} tokens saved\n",
                run.finished_at,
                s.hits,
                s.misses,
                s.requests_saved(),
                s.tokens_saved
            ));
        }
        None => out.push_str("  no run has written this cache yet\n"),
    }
    Ok(out)
}

/// Removes entries older than `max_age`, then the least recently used until
/// each namespace fits in `max_bytes`.
pub fn prune(settings: &Settings, max_age: Duration, max_bytes: u64) -> Result<String> {
    let mut out = String::new();
    for (name, disk) in disks(settings) {
        let pruned = disk
            .prune(max_age, max_bytes, SystemTime::now())
            .map_err(|e| io_error(&settings.dir, e))?;
        out.push_str(&format!(
            "{name}: removed {} expired and {} least recently used; {} entries, {} left\n",
            pruned.expired,
            pruned.evicted,
            pruned.entries_left,
            human_bytes(pruned.bytes_left)
        ));
    }
    Ok(out)
}

/// Removes every entry.
pub fn clear(settings: &Settings) -> Result<String> {
    let mut removed = 0;
    for (_, disk) in disks(settings) {
        removed += disk.clear().map_err(|e| io_error(&settings.dir, e))?;
    }
    Ok(format!(
        "removed {removed} entries from {}\n",
        settings.dir.display()
    ))
}

/// Deletes the entries of one ref under one key prefix but the newest
/// `keep`; prints each one deleted.
async fn gc(args: GcArgs) -> Result<String> {
    let (owner, repo) = split_repo(&args.repo)
        .ok_or_else(|| Error::input(format!("--repo must be OWNER/NAME (got: {})", args.repo)))?;
    if args.key_prefix.is_empty() {
        return Err(Error::input(
            "--key-prefix is empty: it would match every cache entry of the ref",
        ));
    }
    let token = crate::publish::github_token(args.github_token.clone()).ok_or_else(|| {
        Error::input("no GitHub token: pass --github-token or set GITHUB_TOKEN (in the Action, the github-token input)")
    })?;
    let github = Environment::from_env()
        .github(&token)
        .map_err(|e| Error::runtime(e.message))?;
    let entries = caches::list(&github, &owner, &repo, &args.key_prefix, &args.git_ref)
        .await
        .map_err(|e| api_error(e, "actions: write"))?;
    let mut out = String::new();
    let mut freed = 0;
    for entry in entries.iter().skip(args.keep) {
        caches::delete(&github, &owner, &repo, entry.id)
            .await
            .map_err(|e| api_error(e, "actions: write"))?;
        freed += entry.size_in_bytes;
        out.push_str(&format!(
            "deleted {} ({})\n",
            entry.key,
            human_bytes(entry.size_in_bytes)
        ));
    }
    out.push_str(&format!(
        "kept {} of {} entries under {} on {}; freed {}\n",
        entries.len().min(args.keep),
        entries.len(),
        args.key_prefix,
        args.git_ref,
        human_bytes(freed)
    ));
    Ok(out)
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn human_age(at: SystemTime) -> String {
    let secs = SystemTime::now()
        .duration_since(at)
        .unwrap_or_default()
        .as_secs();
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        7200..=172_799 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}

//! How `create`s share one cache directory. Each holds a shared lock on
//! `<cache>/create.lock` while it works, and builds an environment only
//! under the exclusive lock `<cache>/locks/<key>.lock` of that environment,
//! so two creates of one environment never install into the same staging
//! prefix at once: the second waits, then reuses the first one's archive.
//!
//! A create that finds no other at work on the cache (`create.lock` free
//! for an exclusive lock) first removes what killed creates left behind,
//! which nothing else would ever remove: staging prefixes, half-packed
//! archives, and rattler's half-extracted packages and half-written
//! repodata (rattler writes both beside their final names and renames
//! them into place, so a leftover is never mistaken for a complete one,
//! but it stays on disk).

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::env::limits::usage;
use crate::error::{Error, Result};
use crate::lock::Lock;

/// How long a create waits for another to finish sweeping the cache.
const SWEEP_WAIT: Duration = Duration::from_secs(600);

/// How long a create waits for another create of the same environment.
const BUILD_WAIT: Duration = Duration::from_secs(3600);

/// What [`enter`] removed.
#[derive(Debug, Default, PartialEq)]
pub struct Swept {
    /// Files and directories removed (each counted once, with its contents).
    pub entries: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// Takes this create's shared lock on `cache` (created if missing), after
/// sweeping it when no other create is using it.
pub fn enter(cache: &Path) -> Result<(Lock, Swept)> {
    fs::create_dir_all(cache).map_err(|source| Error::Output { path: cache.to_owned(), source })?;
    let path = cache.join("create.lock");
    match Lock::try_exclusive(&path)? {
        Some(alone) => {
            let swept = sweep(cache);
            Ok((alone.into_shared(&path, SWEEP_WAIT)?, swept))
        }
        None => Ok((Lock::shared(&path, SWEEP_WAIT)?, Swept::default())),
    }
}

/// The lock under which the environment `key` is staged and packed;
/// `waiting` is called first if another create holds it.
pub fn build_lock(cache: &Path, key: &str, waiting: impl FnOnce()) -> Result<Lock> {
    let dir = cache.join("locks");
    fs::create_dir_all(&dir).map_err(|source| Error::Output { path: dir.clone(), source })?;
    let path = dir.join(format!("{key}.lock"));
    if let Some(lock) = Lock::try_exclusive(&path)? {
        return Ok(lock);
    }
    waiting();
    Lock::exclusive(&path, BUILD_WAIT)
}

/// Removes the leftovers of killed creates. Call only while no other
/// create can be using `cache`. Best effort: what cannot be removed stays.
fn sweep(cache: &Path) -> Swept {
    let mut swept = Swept::default();
    let mut remove = |path: &Path| {
        let bytes = usage(path).map_or(0, |(_, bytes)| bytes);
        let gone = match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(path),
            Ok(_) => fs::remove_file(path),
            Err(e) => Err(e),
        };
        if gone.is_ok() {
            swept.entries += 1;
            swept.bytes += bytes;
        }
    };
    let names = |dir: &str| -> Vec<(std::path::PathBuf, String)> {
        fs::read_dir(cache.join(dir))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| (e.path(), e.file_name().to_string_lossy().into_owned()))
            .collect()
    };
    // Every staging prefix belongs to a create, and none is running.
    for (path, _) in names("staging") {
        remove(&path);
    }
    // rattler extracts a package into `.<name><random>` beside `<name>`.
    for (path, name) in names("pkgs") {
        if name.starts_with('.') && path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            remove(&path);
        }
    }
    // ... and writes repodata to `.tmp<random>` before renaming it.
    for (path, name) in names("repodata") {
        if name.starts_with(".tmp") {
            remove(&path);
        }
    }
    // `pack` writes `<key>.tar.tmp<pid>` and renames it `<key>.tar.zst`.
    for (path, name) in names("archives") {
        if name.rsplit_once(".tmp").is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())) {
            remove(&path);
        }
    }
    swept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_removes_leftovers_and_keeps_the_cache() {
        let cache = std::env::temp_dir().join(format!("animica-create-sweep-{}", std::process::id()));
        let _ = fs::remove_dir_all(&cache);
        let write = |rel: &str, bytes: usize| {
            let p = cache.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, vec![7u8; bytes]).unwrap();
        };
        // Leftovers: 100 + 10 + 5 + 20 bytes in 4 entries.
        write("staging/abc_placehold/lib/x.so", 100);
        write("pkgs/.python-3.11.7-h_0AbCdE/lib/y", 10);
        write("repodata/.tmpX1y2Z3", 5);
        write("archives/0123.tar.tmp4242", 20);
        // Kept: complete packages, their locks, repodata, archives.
        let kept = [
            "pkgs/.cache.lock",
            "pkgs/python-3.11.7-h_0/lib/y",
            "pkgs/python-3.11.7-h_0.lock",
            "repodata/6fc64355.json",
            "repodata/6fc64355.info.json",
            "archives/0123.tar.zst",
            "archives/0123.tar.gz",
            "locks/0123.lock",
        ];
        for k in kept {
            write(k, 3);
        }
        let (lock, swept) = enter(&cache).unwrap();
        assert_eq!(swept, Swept { entries: 4, bytes: 135 });
        for k in kept {
            assert!(cache.join(k).is_file(), "{k} was removed");
        }
        for gone in [
            "staging/abc_placehold",
            "pkgs/.python-3.11.7-h_0AbCdE",
            "repodata/.tmpX1y2Z3",
            "archives/0123.tar.tmp4242",
        ] {
            assert!(!cache.join(gone).exists(), "{gone} was kept");
        }
        // While a create holds the cache, another neither sweeps nor waits.
        write("staging/def_placehold/a", 1);
        let (_second, swept) = enter(&cache).unwrap();
        assert_eq!(swept, Swept::default());
        assert!(cache.join("staging/def_placehold/a").is_file());
        drop((lock, _second));
        fs::remove_dir_all(&cache).unwrap();
    }
}

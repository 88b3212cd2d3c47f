//! `create`: solve, download and install a conda environment with the
//! rattler crates (no conda anywhere), pip-install what no channel has
//! with the environment's own interpreter, and pack it.
//!
//! The environment is built under a long staging prefix
//! (`<cache>/staging/<hash>_placeholder...`, [`STAGING_LEN`] bytes): files
//! that hold it are rewritten at `run` time for the real, shorter unpack
//! path, the way conda-build's placeholder prefix works, binaries
//! included. Results are cached by a hash of the solved environment.
//!
//! The spec parsers need no network; the steps that solve and download
//! are the `solve` feature (default), which the fuzz targets leave out.

#[cfg(feature = "solve")]
pub mod cache;
#[cfg(feature = "solve")]
pub mod data;
#[cfg(feature = "solve")]
mod solve;
pub mod spec;

use std::path::{Path, PathBuf};

#[cfg(feature = "solve")]
pub use solve::{create, index_channel};

use crate::env::pack::Compression;

/// Length of the staging prefix environments are built in; unpack paths
/// must be shorter (binaries keep their string lengths).
pub const STAGING_LEN: usize = 200;

/// How to create.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Channels (`-c`); the spec's own when empty, else conda-forge.
    pub channels: Vec<String>,
    /// Archive format.
    pub compression: Compression,
    /// Cache root (staging prefixes, package cache, archives).
    pub cache: PathBuf,
    /// No progress output.
    pub quiet: bool,
}

/// `<cache>/staging/<key>_placeholder_...` padded to [`STAGING_LEN`].
pub fn staging_prefix(cache: &Path, key: &str) -> PathBuf {
    let base = cache.join("staging").join(format!("{key}_"));
    let mut s = base.to_string_lossy().into_owned();
    while s.len() < STAGING_LEN {
        s.push_str("_placehold");
    }
    s.truncate(STAGING_LEN.max(base.as_os_str().len()));
    PathBuf::from(s)
}

/// The prefix archives say they were built at: `/_animica_env_placeholder`
/// repeated to `len` bytes (the staging prefix's length), so that where
/// the staging happened is not part of the archive.
pub fn canonical_prefix(len: usize) -> String {
    let mut s = String::new();
    while s.len() < len {
        s.push_str("/_animica_env_placeholder");
    }
    s.truncate(len);
    s
}

/// The default cache root of `create`.
pub fn default_cache() -> PathBuf {
    crate::run::default_root().join("create")
}

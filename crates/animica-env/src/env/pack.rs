//! Packing a prefix into a reproducible, relocatable archive.
//!
//! Same prefix, same bytes: entries sorted by path, the manifest first,
//! fixed mtime (`SOURCE_DATE_EPOCH`, else 0), uid/gid 0 and no names,
//! modes normalised to 0644/0755. Files that hold the build prefix are
//! listed in the manifest with how to rewrite them.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::manifest::{Entry, FORMAT, Kind, MANIFEST_PATH, Manifest, Placeholder};
use crate::error::{Error, Result};

/// Archive compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `.tar.zst`, multi-threaded zstd (the native default).
    Zstd,
    /// `.tar.gz` (the seed tools' format).
    Gzip,
}

impl Compression {
    /// The compression a file name asks for.
    pub fn from_name(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_str()?;
        if name.ends_with(".tar.zst") {
            Some(Compression::Zstd)
        } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Some(Compression::Gzip)
        } else {
            None
        }
    }

    /// The file name extension of an archive in this format.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Zstd => ".tar.zst",
            Compression::Gzip => ".tar.gz",
        }
    }
}

/// A file added to the archive that is not in the prefix (launchers).
#[derive(Debug, Clone)]
pub struct Extra {
    /// Path inside the environment.
    pub path: String,
    /// Content.
    pub data: Vec<u8>,
    /// Mode 0755 rather than 0644.
    pub executable: bool,
}

/// How to pack.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// Compression.
    pub compression: Compression,
    /// mtime of every entry.
    pub mtime: u64,
    /// zstd level (1-19) or gzip level (1-9).
    pub level: i32,
    /// Files to add (or replace) besides the prefix's.
    pub extra: Vec<Extra>,
    /// Write the archive as if the environment had been built at this
    /// path (same length as the real prefix): placeholder files are
    /// rewritten to it and conda-meta records lose what only made sense
    /// on the build machine, so where the build happened leaves no trace
    /// and the same environment gives the same bytes anywhere.
    pub canonical_prefix: Option<String>,
}

impl PackOptions {
    /// Defaults for `compression`: mtime from `SOURCE_DATE_EPOCH` (else 0).
    pub fn new(compression: Compression) -> Self {
        let mtime = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
        let level = match compression {
            Compression::Zstd => 10,
            Compression::Gzip => 6,
        };
        PackOptions { compression, mtime, level, extra: Vec::new(), canonical_prefix: None }
    }
}

enum Item {
    File { data: Vec<u8>, executable: bool },
    Symlink(String),
}

/// Packs `prefix` into `out`; returns the manifest written.
pub fn pack(prefix: &Path, out: &Path, opts: &PackOptions) -> Result<Manifest> {
    // Absolute but not canonical: the files hold the path as it was given
    // when the environment was installed, symlinks and all.
    if !prefix.is_dir() {
        return Err(Error::Input {
            path: prefix.to_owned(),
            source: io::Error::new(io::ErrorKind::NotFound, "not a directory"),
        });
    }
    let prefix = std::path::absolute(prefix).map_err(|source| Error::Input { path: prefix.to_owned(), source })?;
    let prefix_str =
        prefix.to_str().ok_or_else(|| Error::Usage(format!("{} is not UTF-8", prefix.display())))?.to_owned();
    let mut items: Vec<(String, Item)> = Vec::new();
    walk(&prefix, &prefix, &mut items)?;
    items.retain(|(p, _)| !p.starts_with(".animica-env/") && !opts.extra.iter().any(|e| &e.path == p));
    for e in &opts.extra {
        items.push((e.path.clone(), Item::File { data: e.data.clone(), executable: e.executable }));
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let prefix_str = match &opts.canonical_prefix {
        Some(canonical) => canonicalize(&mut items, &prefix_str, canonical)?,
        None => prefix_str,
    };

    let needle = prefix_str.as_bytes();
    let finder = memchr::memmem::Finder::new(needle);
    let entries: Vec<Entry> = items
        .iter()
        .map(|(path, item)| match item {
            Item::File { data, executable } => Entry {
                path: path.clone(),
                kind: Kind::File,
                blake3: Some(blake3::hash(data).to_hex().to_string()),
                size: data.len() as u64,
                executable: *executable,
                target: None,
                placeholder: finder
                    .find(data)
                    .map(|_| if memchr::memchr(0, data).is_some() { Placeholder::Binary } else { Placeholder::Text }),
            },
            Item::Symlink(t) => Entry {
                path: path.clone(),
                kind: Kind::Symlink,
                blake3: None,
                size: 0,
                executable: false,
                target: Some(t.clone()),
                placeholder: None,
            },
        })
        .collect();
    let manifest = Manifest { format: FORMAT, prefix: prefix_str, entries };
    // Never write an archive that `unpack` would refuse.
    manifest.check().map_err(|reason| Error::Usage(format!("{}: cannot pack: {reason}", prefix.display())))?;

    let file = fs::File::create(out).map_err(|source| Error::Output { path: out.to_owned(), source })?;
    let write = |w: &mut dyn Write| -> io::Result<()> {
        let mut tar = tar::Builder::new(w);
        tar.mode(tar::HeaderMode::Deterministic);
        append(&mut tar, MANIFEST_PATH, manifest.to_json().as_bytes(), false, opts.mtime)?;
        for (path, item) in &items {
            match item {
                Item::File { data, executable } => append(&mut tar, path, data, *executable, opts.mtime)?,
                Item::Symlink(target) => {
                    let mut h = header(tar::EntryType::Symlink, 0o777, 0, opts.mtime);
                    tar.append_link(&mut h, path, target)?;
                }
            }
        }
        tar.into_inner()?.flush()
    };
    let compress = || -> io::Result<()> {
        match opts.compression {
            Compression::Zstd => {
                let mut enc = zstd::stream::Encoder::new(io::BufWriter::new(file), opts.level)?;
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
                enc.multithread(threads)?;
                write(&mut enc)?;
                enc.finish()?.flush()
            }
            Compression::Gzip => {
                let level = flate2::Compression::new(opts.level.clamp(0, 9) as u32);
                let mut enc = flate2::write::GzEncoder::new(io::BufWriter::new(file), level);
                write(&mut enc)?;
                enc.finish()?.flush()
            }
        }
    };
    let result = compress();
    result.map_err(|source| Error::Output { path: out.to_owned(), source })?;
    Ok(manifest)
}

/// Rewrites `items` as if built at `canonical` instead of `actual`;
/// returns the prefix the manifest should record.
fn canonicalize(items: &mut [(String, Item)], actual: &str, canonical: &str) -> Result<String> {
    use sha2::{Digest, Sha256};
    if canonical.len() != actual.len() {
        return Err(Error::Usage(format!(
            "canonical prefix {canonical:?} must be as long as the build prefix {actual:?}"
        )));
    }
    let (old, new) = (actual.as_bytes(), canonical.as_bytes());
    // sha256 before -> after, for the records that describe installed files.
    let mut rehash: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for (_, item) in items.iter_mut() {
        if let Item::File { data, .. } = item
            && memchr::memmem::find(data, old).is_some()
        {
            let before = hex::encode(Sha256::digest(&data[..]));
            super::relocate::replace_same_length(data, old, new);
            rehash.insert(before, hex::encode(Sha256::digest(&data[..])));
        }
    }
    for (path, item) in items.iter_mut() {
        let Item::File { data, .. } = item else { continue };
        if !(path.starts_with("conda-meta/") && path.ends_with(".json")) {
            continue;
        }
        let Ok(mut rec) = serde_json::from_slice::<serde_json::Value>(data) else { continue };
        let Some(obj) = rec.as_object_mut() else { continue };
        // Where the package cache was on the build machine. `link` stays
        // (null), as conda-pack and conda read the key.
        obj.remove("extracted_package_dir");
        if obj.contains_key("link") {
            obj.insert("link".into(), serde_json::Value::Null);
        }
        if let Some(paths) = obj.get_mut("paths_data").and_then(|p| p.get_mut("paths")).and_then(|p| p.as_array_mut()) {
            for entry in paths.iter_mut().filter_map(|e| e.as_object_mut()) {
                for key in ["sha256", "sha256_in_prefix"] {
                    if let Some(after) = entry.get(key).and_then(|v| v.as_str()).and_then(|h| rehash.get(h)) {
                        entry.insert(key.into(), serde_json::Value::String(after.clone()));
                    }
                }
            }
        }
        *data = serde_json::to_vec(&rec).map_err(|e| Error::Usage(format!("{path}: {e}")))?;
    }
    Ok(canonical.to_owned())
}

fn header(kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    data: &[u8],
    executable: bool,
    mtime: u64,
) -> io::Result<()> {
    let mut h = header(tar::EntryType::Regular, if executable { 0o755 } else { 0o644 }, data.len() as u64, mtime);
    tar.append_data(&mut h, path, data)
}

/// Every file and symlink under `dir`, as prefix-relative `/` paths.
fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Item)>) -> Result<()> {
    let read = |p: &Path, e: io::Error| Error::Input { path: p.to_owned(), source: e };
    let mut entries: Vec<PathBuf> = fs::read_dir(dir).map_err(|e| read(dir, e))?.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let meta = fs::symlink_metadata(&p).map_err(|e| read(&p, e))?;
        let rel = p.strip_prefix(root).map_err(|_| Error::Usage(format!("{} escaped the prefix", p.display())))?;
        let rel = rel.to_str().ok_or_else(|| Error::Usage(format!("{} is not UTF-8", p.display())))?.replace('\\', "/");
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&p).map_err(|e| read(&p, e))?;
            out.push((rel, Item::Symlink(relative_link(root, &p, &target)?)));
        } else if meta.is_dir() {
            walk(root, &p, out)?;
        } else if meta.is_file() {
            use std::os::unix::fs::PermissionsExt;
            let data = fs::read(&p).map_err(|e| read(&p, e))?;
            out.push((rel, Item::File { data, executable: meta.permissions().mode() & 0o111 != 0 }));
        }
        // Sockets, fifos and devices have no place in an environment.
    }
    Ok(())
}

/// A symlink's target made relative to its directory, refusing targets
/// outside the prefix (they would dangle on any other machine).
fn relative_link(root: &Path, link: &Path, target: &Path) -> Result<String> {
    let dir = link.parent().unwrap_or(root);
    let absolute = if target.is_absolute() { target.to_path_buf() } else { dir.join(target) };
    let absolute = normalize(&absolute);
    let rel_target = absolute.strip_prefix(root).map_err(|_| {
        Error::Usage(format!("{} links to {}, outside the environment", link.display(), target.display()))
    })?;
    let rel_dir = dir.strip_prefix(root).unwrap_or(Path::new(""));
    let ups = rel_dir.components().count();
    let mut s = "../".repeat(ups);
    s.push_str(&rel_target.to_string_lossy());
    Ok(if s.is_empty() { ".".into() } else { s })
}

/// `a/b/../c` -> `a/c`, lexically.
pub(crate) fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

//! Unpacking an archive made by `pack`, trusting nothing in it: the
//! manifest must pass [`Manifest::check`] (nothing below a link, every
//! link resolving inside), every entry must be listed in it once and
//! match its recorded kind, size and BLAKE3 hash, and every file and link
//! is created through [`Confined`], which never follows a link. The
//! manifest must stay within the process's [`Limits`], and the stream is
//! read no further than the manifest accounts for.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use super::confined::Confined;
use super::limits::{Budget, Capped, HEADER_ALLOWANCE, Limits};
use super::manifest::{Entry, Kind, MANIFEST_PATH, Manifest, safe_path};
use crate::error::{Error, Result};

/// The largest manifest read (an environment of a million files needs
/// about 200 MB); anything larger is refused before it is read.
const MAX_MANIFEST: u64 = 1 << 30;

/// Bytes read from the archive at a time while hashing and writing.
const CHUNK: usize = 256 * 1024;

/// Opens `archive` as a tar stream, gzip or zstd by its first bytes.
fn open(archive: &Path) -> io::Result<Box<dyn Read>> {
    let mut f = BufReader::new(fs::File::open(archive)?);
    let magic = {
        use std::io::BufRead;
        f.fill_buf()?.get(..4).map(<[u8]>::to_vec).unwrap_or_default()
    };
    Ok(match magic.as_slice() {
        [0x28, 0xb5, 0x2f, 0xfd] => Box::new(zstd::stream::Decoder::with_buffer(f)?),
        [0x1f, 0x8b, ..] => Box::new(flate2::bufread::GzDecoder::new(f)),
        _ => return Err(io::Error::new(io::ErrorKind::InvalidData, "not a .tar.zst or .tar.gz archive")),
    })
}

/// Unpacks `archive` into `dest` (which must exist, empty); returns its
/// manifest. Fails, naming the entry, on anything unexpected or beyond
/// `limits`.
pub fn unpack(archive: &Path, dest: &Path, limits: &Limits) -> Result<Manifest> {
    let bad = |reason: String| Error::Archive { archive: archive.to_owned(), reason };
    let io_err = |what: &str, e: io::Error| bad(format!("{what}: {e}"));
    // Writing `rel` failed: the cache's fault when it is full, read-only or
    // not ours (exit 5), the archive's otherwise (a name that cannot be made).
    let write_err = |rel: &str, e: io::Error| {
        if e.raw_os_error()
            .is_some_and(|n| [libc::ENOSPC, libc::EDQUOT, libc::EROFS, libc::EACCES, libc::EPERM].contains(&n))
        {
            Error::Output { path: dest.join(rel), source: e }
        } else {
            io_err(rel, e)
        }
    };
    let budget = Budget::default();
    let reader = Capped::new(open(archive).map_err(|e| io_err("cannot read", e))?, budget.clone());
    let mut tar = tar::Archive::new(reader);
    let mut entries = tar.entries().map_err(|e| io_err("cannot read", e))?;

    // Each header (with any extension headers before it) gets a fixed
    // allowance, each entry's data what the manifest lists for it.
    budget.allow(HEADER_ALLOWANCE);
    let first = entries
        .next()
        .ok_or_else(|| bad("empty archive (no manifest)".into()))?
        .map_err(|e| io_err("cannot read the manifest entry", e))?;
    let first_path = first.path().map_err(|e| io_err("bad entry name", e))?.into_owned();
    if safe_path(&first_path).as_deref() != Some(MANIFEST_PATH) {
        return Err(bad(format!(
            "first entry is {}, not {MANIFEST_PATH}: not an animica-env archive",
            first_path.display()
        )));
    }
    if first.header().size().unwrap_or(u64::MAX) > MAX_MANIFEST {
        return Err(bad(format!("{MANIFEST_PATH} is larger than {MAX_MANIFEST} bytes: refused")));
    }
    let mut text = String::new();
    budget.allow(MAX_MANIFEST + 1);
    first.take(MAX_MANIFEST).read_to_string(&mut text).map_err(|e| io_err(MANIFEST_PATH, e))?;
    let manifest = Manifest::from_json(&text).map_err(bad)?;
    within(&manifest, limits).map_err(bad)?;
    let mut expected: BTreeMap<&str, &Entry> = manifest.entries.iter().map(|e| (e.path.as_str(), e)).collect();
    let root = Confined::open(dest).map_err(|source| Error::Output { path: dest.to_owned(), source })?;
    write_manifest(&root, &text).map_err(|e| write_err(MANIFEST_PATH, e))?;

    let mut buf = vec![0u8; CHUNK];
    loop {
        budget.allow(HEADER_ALLOWANCE);
        let Some(entry) = entries.next() else { break };
        let mut entry = entry.map_err(|e| io_err("truncated or corrupt archive", e))?;
        let raw = entry.path().map_err(|e| io_err("bad entry name", e))?.into_owned();
        let path =
            safe_path(&raw).ok_or_else(|| bad(format!("{} would land outside the environment", raw.display())))?;
        let Some(want) = expected.remove(path.as_str()) else {
            let listed = manifest.entries.iter().any(|e| e.path == path);
            let why = if listed { "appears twice in the archive" } else { "is not in the manifest" };
            return Err(bad(format!("{path} {why}")));
        };
        match entry.header().entry_type() {
            tar::EntryType::Regular if want.kind == Kind::File => {
                let mode = if want.executable { 0o755 } else { 0o644 };
                let file = root.create_file(&path, mode).map_err(|e| write_err(&path, e))?;
                budget.allow(want.size.saturating_add(1));
                let (size, hash) =
                    copy_hashed(&mut entry, want.size, file, &mut buf).map_err(|e| write_err(&path, e))?;
                if size != want.size || Some(hash.to_hex().as_str()) != want.blake3.as_deref() {
                    return Err(bad(format!("{path} does not match its manifest hash (tampered or corrupt)")));
                }
            }
            tar::EntryType::Symlink if want.kind == Kind::Symlink => {
                let target = entry.link_name().map_err(|e| io_err(&path, e))?.unwrap_or_default();
                let target = target.to_str().unwrap_or_default();
                // The manifest's check vouched for the listed target only.
                if Some(target) != want.target.as_deref() {
                    return Err(bad(format!("{path} links to {target}, not to what the manifest lists")));
                }
                root.symlink(&path, target).map_err(|e| write_err(&path, e))?;
            }
            other => return Err(bad(format!("{path}: unexpected entry type {other:?}"))),
        }
    }
    if let Some((missing, _)) = expected.into_iter().next() {
        return Err(bad(format!("{missing} is missing: the archive is truncated")));
    }
    Ok(manifest)
}

/// Whether `manifest` fits `limits`: its entry count and total file bytes.
fn within(manifest: &Manifest, limits: &Limits) -> std::result::Result<(), String> {
    let entries = manifest.entries.len() as u64;
    if entries > limits.max_entries {
        return Err(format!("the manifest lists {entries} entries, {}", limits.over_entries()));
    }
    let bytes = manifest.entries.iter().fold(0u64, |sum, e| sum.saturating_add(e.size));
    if bytes > limits.max_bytes {
        return Err(format!("the manifest lists {bytes} bytes of files, {}", limits.over_bytes()));
    }
    Ok(())
}

fn write_manifest(root: &Confined, text: &str) -> io::Result<()> {
    root.create_file(MANIFEST_PATH, 0o644)?.write_all(text.as_bytes())
}

/// Copies at most `expected + 1` bytes of `from` into `to` (enough to
/// tell a longer entry from a matching one without trusting either
/// size), hashing them; returns the count and the BLAKE3 hash.
fn copy_hashed(from: &mut impl Read, expected: u64, to: fs::File, buf: &mut [u8]) -> io::Result<(u64, blake3::Hash)> {
    let mut from = from.take(expected.saturating_add(1));
    let mut to = io::BufWriter::with_capacity(CHUNK, to);
    let mut hasher = blake3::Hasher::new();
    let mut total = 0u64;
    loop {
        let n = match from.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
    to.flush()?;
    Ok((total, hasher.finalize()))
}

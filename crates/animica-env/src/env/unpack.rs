//! Unpacking an archive made by `pack`, trusting nothing in it: every
//! entry must be in the manifest, land inside the target, and match its
//! recorded size and BLAKE3 hash.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use super::manifest::{Entry, Kind, MANIFEST_PATH, Manifest};
use crate::error::{Error, Result};

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

/// A path from an archive, checked to be relative and free of `..`.
fn safe_path(raw: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in raw.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?.to_owned()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Unpacks `archive` into `dest` (which must exist, empty); returns its
/// manifest. Fails, naming the entry, on anything unexpected.
pub fn unpack(archive: &Path, dest: &Path) -> Result<Manifest> {
    let bad = |reason: String| Error::Archive { archive: archive.to_owned(), reason };
    let io_err = |what: &str, e: io::Error| bad(format!("{what}: {e}"));
    let reader = open(archive).map_err(|e| io_err("cannot read", e))?;
    let mut tar = tar::Archive::new(reader);
    let mut entries = tar.entries().map_err(|e| io_err("cannot read", e))?;

    let mut first = entries
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
    let mut text = String::new();
    first.read_to_string(&mut text).map_err(|e| io_err(MANIFEST_PATH, e))?;
    let manifest = Manifest::from_json(&text).map_err(bad)?;
    let mut expected: BTreeMap<&str, &Entry> = BTreeMap::new();
    for e in &manifest.entries {
        if safe_path(Path::new(&e.path)).as_deref() != Some(e.path.as_str()) {
            return Err(bad(format!("manifest lists an unsafe path {:?}", e.path)));
        }
        expected.insert(&e.path, e);
    }
    write_file(dest, MANIFEST_PATH, text.as_bytes(), false).map_err(|e| io_err(MANIFEST_PATH, e))?;

    let mut seen = 0usize;
    for entry in entries {
        let mut entry = entry.map_err(|e| io_err("truncated or corrupt archive", e))?;
        let raw = entry.path().map_err(|e| io_err("bad entry name", e))?.into_owned();
        let path =
            safe_path(&raw).ok_or_else(|| bad(format!("{} would land outside the environment", raw.display())))?;
        let want = expected.remove(path.as_str()).ok_or_else(|| bad(format!("{path} is not in the manifest")))?;
        match entry.header().entry_type() {
            tar::EntryType::Regular if want.kind == Kind::File => {
                let mut data = Vec::with_capacity(want.size as usize);
                entry.read_to_end(&mut data).map_err(|e| io_err(&format!("{path}: truncated"), e))?;
                let hash = blake3::hash(&data).to_hex().to_string();
                if data.len() as u64 != want.size || Some(&hash) != want.blake3.as_ref() {
                    return Err(bad(format!("{path} does not match its manifest hash (tampered or corrupt)")));
                }
                write_file(dest, &path, &data, want.executable).map_err(|e| io_err(&path, e))?;
            }
            tar::EntryType::Symlink if want.kind == Kind::Symlink => {
                let target =
                    entry.link_name().map_err(|e| io_err(&path, e))?.map(|t| t.into_owned()).unwrap_or_default();
                let target_str = target.to_string_lossy().into_owned();
                let escapes = !link_stays_inside(&path, &target);
                if escapes || Some(&target_str) != want.target.as_ref() {
                    return Err(bad(format!("{path} links to {target_str}, outside the environment or not as listed")));
                }
                let full = dest.join(&path);
                if let Some(parent) = full.parent() {
                    fs::create_dir_all(parent).map_err(|e| io_err(&path, e))?;
                }
                std::os::unix::fs::symlink(&target, &full).map_err(|e| io_err(&path, e))?;
            }
            other => return Err(bad(format!("{path}: unexpected entry type {other:?}"))),
        }
        seen += 1;
    }
    if let Some((missing, _)) = expected.into_iter().next() {
        return Err(bad(format!("{missing} is missing: the archive is truncated")));
    }
    debug_assert_eq!(seen, manifest.entries.len());
    Ok(manifest)
}

/// Whether the symlink at `link` (a safe relative path) pointing to
/// `target` resolves inside the environment, judged lexically.
fn link_stays_inside(link: &str, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth = Path::new(link).components().count() as isize - 1;
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

fn write_file(dest: &Path, rel: &str, data: &[u8], executable: bool) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let full: PathBuf = dest.join(rel);
    if let Some(parent) = full.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(&full, data)?;
    fs::set_permissions(&full, fs::Permissions::from_mode(if executable { 0o755 } else { 0o644 }))
}

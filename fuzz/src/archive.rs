//! The archive unpacker on tar streams built from arbitrary entries and a
//! manifest that may or may not tell the truth about them.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use animica_env::env::limits::Limits;
use animica_env::env::unpack::unpack;
use arbitrary::{Arbitrary, Result, Unstructured};

/// Path components the entries are made of: ordinary names, and the ones
/// an attacker uses.
const PARTS: [&str; 8] = ["a", "b", "lib", "..", ".", "", ".animica-env", "/tmp"];

#[derive(Debug, Arbitrary)]
enum Kind {
    File,
    Symlink,
    HardLink,
    Directory,
    Fifo,
}

#[derive(Debug, Arbitrary)]
struct Item {
    /// Indices into [`PARTS`], joined with `/`.
    path: Vec<u8>,
    kind: Kind,
    data: Vec<u8>,
    /// For links: a path made like `path`.
    target: Vec<u8>,
    /// How the manifest lists it: 0 truthfully, 1 not at all, 2 twice,
    /// 3 with another hash, 4 with another size, 5 as the other kind.
    listing: u8,
    executable: bool,
}

fn path_of(parts: &[u8]) -> String {
    let p: Vec<&str> = parts.iter().take(6).map(|&i| PARTS[usize::from(i) % PARTS.len()]).collect();
    if p.is_empty() { "a".into() } else { p.join("/") }
}

fn manifest_entry(path: &str, item: &Item, lie: bool) -> serde_json::Value {
    let symlink = matches!(item.kind, Kind::Symlink) != (lie && item.listing == 5);
    if symlink {
        serde_json::json!({"path": path, "kind": "symlink", "target": path_of(&item.target)})
    } else {
        let mut hash = blake3::hash(&item.data).to_hex().to_string();
        if lie && item.listing == 3 {
            hash = blake3::hash(b"something else").to_hex().to_string();
        }
        let size = item.data.len() as u64 + u64::from(lie && item.listing == 4);
        serde_json::json!({"path": path, "kind": "file", "blake3": hash, "size": size, "executable": item.executable})
    }
}

/// The archive's bytes: the manifest first, then every item, in order.
fn build(items: &[Item], zstd: bool, extra_manifest: Option<&str>) -> std::io::Result<Vec<u8>> {
    let mut listed = Vec::new();
    for item in items {
        let path = path_of(&item.path);
        match item.listing % 6 {
            1 => {}
            2 => {
                listed.push(manifest_entry(&path, item, false));
                listed.push(manifest_entry(&path, item, false));
            }
            _ => listed.push(manifest_entry(&path, item, true)),
        }
    }
    let manifest = match extra_manifest {
        Some(text) => text.to_owned(),
        None => serde_json::json!({"format": 1, "prefix": "/p", "entries": listed}).to_string(),
    };
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(manifest.len() as u64);
    h.set_mode(0o644);
    t.append_data(&mut h, ".animica-env/manifest.json", manifest.as_bytes())?;
    for item in items {
        let path = path_of(&item.path);
        let mut h = tar::Header::new_gnu();
        h.set_mode(if item.executable { 0o755 } else { 0o644 });
        let (kind, data): (tar::EntryType, &[u8]) = match item.kind {
            Kind::File => (tar::EntryType::Regular, &item.data),
            Kind::Symlink => (tar::EntryType::Symlink, &[]),
            Kind::HardLink => (tar::EntryType::Link, &[]),
            Kind::Directory => (tar::EntryType::Directory, &[]),
            Kind::Fifo => (tar::EntryType::Fifo, &[]),
        };
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        // Raw names: the builder would refuse `..` and absolute paths.
        let name = path.as_bytes();
        let n = name.len().min(99);
        h.as_old_mut().name[..n].copy_from_slice(&name[..n]);
        let target = path_of(&item.target);
        let t_len = target.len().min(99);
        h.as_old_mut().linkname[..t_len].copy_from_slice(&target.as_bytes()[..t_len]);
        h.set_cksum();
        t.append(&h, data)?;
    }
    let tar = t.into_inner()?;
    if zstd {
        zstd::encode_all(&tar[..], 1)
    } else {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&tar)?;
        e.finish()
    }
}

/// A scratch directory for this process: `root/` holds the archive and
/// `root/dest/` the unpack; `root/witness/` must never change.
fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("animica-fuzz-unpack-{}", std::process::id()))
}

/// Every path under `dir`, links not followed.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        out.push(e.path());
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&e.path(), out);
        }
    }
}

/// An archive from arbitrary entries, listed truthfully or not, gzip or
/// zstd (or raw bytes, or a manifest of arbitrary text): unpacking never
/// panics and never writes outside its directory; when it succeeds, every
/// file it wrote is listed with that content and every link it made stays
/// inside.
pub fn unpack_archive(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let root = scratch();
    let _ = fs::remove_dir_all(&root);
    let dest = root.join("dest");
    let witness = root.join("witness");
    fs::create_dir_all(&dest).expect("a scratch directory");
    fs::create_dir_all(&witness).expect("a scratch directory");
    let archive = root.join("env.tar");
    let bytes = match u.int_in_range(0..=9)? {
        0 => u.bytes(u.len())?.to_vec(),
        1 => {
            let text: String = u.arbitrary()?;
            build(&[], false, Some(&text)).expect("in memory")
        }
        k => {
            let items: Vec<Item> = u.arbitrary()?;
            build(&items, k % 2 == 0, None).expect("in memory")
        }
    };
    fs::write(&archive, bytes).expect("a scratch file");
    let result = unpack(&archive, &dest, &Limits::default());

    let mut all = Vec::new();
    walk(&root, &mut all);
    for p in &all {
        assert!(
            p.starts_with(&dest) || p == &archive || p == &witness,
            "unpack wrote {} outside {}",
            p.display(),
            dest.display()
        );
    }
    if let Ok(manifest) = result {
        let listed: std::collections::BTreeMap<&str, &animica_env::env::manifest::Entry> =
            manifest.entries.iter().map(|e| (e.path.as_str(), e)).collect();
        for p in all.iter().filter(|p| p.starts_with(&dest) && *p != &dest) {
            let rel = p.strip_prefix(&dest).expect("under dest").to_str().expect("UTF-8 names");
            let meta = fs::symlink_metadata(p).expect("just listed");
            if meta.is_dir() || rel.starts_with(".animica-env") {
                continue;
            }
            let entry = listed.get(rel).unwrap_or_else(|| panic!("{rel} was written but is not listed"));
            if meta.file_type().is_symlink() {
                let target = fs::read_link(p).expect("a link");
                // Inside textually (from the link's directory, never above
                // dest) and, where it resolves through other links, really.
                let from_dest = Path::new(rel).parent().unwrap_or(Path::new("")).join(&target);
                let depth = from_dest.components().try_fold(0i32, |d, c| match c {
                    std::path::Component::ParentDir => (d > 0).then_some(d - 1),
                    std::path::Component::Normal(_) => Some(d + 1),
                    std::path::Component::CurDir => Some(d),
                    _ => None,
                });
                assert!(depth.is_some(), "{rel} links to {}", target.display());
                if let Ok(real) = fs::canonicalize(p) {
                    let dest = fs::canonicalize(&dest).expect("dest exists");
                    assert!(real.starts_with(&dest), "{rel} resolves to {}", real.display());
                }
            } else {
                let got = blake3::hash(&fs::read(p).expect("a file")).to_hex().to_string();
                assert_eq!(Some(got.as_str()), entry.blake3.as_deref(), "{rel} does not hold what is listed");
            }
        }
    }
    let _ = fs::remove_dir_all(&root);
    Ok(())
}

//! Archives and directories made by an attacker, run through the real
//! binary: each must be refused with exit 3 (4 for a directory that cannot
//! be relocated) naming the entry, and nothing may be written outside the
//! unpack root.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::Scratch;

const BIN: &str = env!("CARGO_BIN_EXE_animica-env");

/// One entry of a hand-made archive.
enum Item<'a> {
    File(&'a str, &'a [u8]),
    Link(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    /// A regular file under a raw name the tar builder would refuse.
    RawFile(&'a str, &'a [u8]),
    /// An entry of another type (directory, FIFO, device), no data.
    Special(&'a str, tar::EntryType),
}

/// The manifest's JSON for `listed` (what the archive claims).
fn manifest_json(listed: &[Item]) -> String {
    let entries: Vec<String> = listed
        .iter()
        .map(|i| match i {
            Item::File(p, data) => format!(
                r#"{{"path": "{p}", "kind": "file", "blake3": "{}", "size": {}}}"#,
                blake3::hash(data).to_hex(),
                data.len()
            ),
            Item::Link(p, t) => format!(r#"{{"path": "{p}", "kind": "symlink", "target": "{t}"}}"#),
            Item::HardLink(..) | Item::RawFile(..) | Item::Special(..) => {
                unreachable!("hostile entries are listed by hand")
            }
        })
        .collect();
    format!(r#"{{"format": 1, "prefix": "/p", "entries": [{}]}}"#, entries.join(", "))
}

/// A .tar.gz whose manifest is `manifest` and whose entries are `items`,
/// with every hash correct.
fn archive(s: &Scratch, name: &str, manifest: &str, items: &[Item]) -> PathBuf {
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(manifest.len() as u64);
    h.set_mode(0o644);
    t.append_data(&mut h, ".animica-env/manifest.json", manifest.as_bytes()).unwrap();
    for item in items {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        match item {
            Item::File(p, data) => {
                h.set_size(data.len() as u64);
                t.append_data(&mut h, p, *data).unwrap();
            }
            Item::Link(p, target) | Item::HardLink(p, target) => {
                let kind = if matches!(item, Item::Link(..)) { tar::EntryType::Symlink } else { tar::EntryType::Link };
                h.set_entry_type(kind);
                h.set_size(0);
                // Raw names: the builder's own checks would refuse some targets.
                h.as_old_mut().name[..p.len()].copy_from_slice(p.as_bytes());
                h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
                h.set_cksum();
                t.append(&h, &[][..]).unwrap();
            }
            Item::RawFile(p, data) => {
                h.set_size(data.len() as u64);
                h.as_old_mut().name[..p.len()].copy_from_slice(p.as_bytes());
                h.set_cksum();
                t.append(&h, *data).unwrap();
            }
            Item::Special(p, kind) => {
                h.set_entry_type(*kind);
                h.set_size(0);
                h.as_old_mut().name[..p.len()].copy_from_slice(p.as_bytes());
                h.set_cksum();
                t.append(&h, &[][..]).unwrap();
            }
        }
    }
    let path = s.0.join(format!("{name}.tar.gz"));
    let mut e = flate2::write::GzEncoder::new(fs::File::create(&path).unwrap(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, &t.into_inner().unwrap()).unwrap();
    e.finish().unwrap();
    path
}

/// `run -u CACHE ARCHIVE true` with extra environment variables, its address space limited to
/// `ADDRESS_SPACE` so that an archive that makes it allocate gigabytes
/// fails instead of swapping the machine.
fn run_with(s: &Scratch, archive: &Path, vars: &[(&str, &str)]) -> Output {
    use std::os::unix::process::CommandExt;
    let cache = s.0.join("cache");
    let mut c = Command::new(BIN);
    c.args(["run", "-u"]).arg(&cache).arg(archive).arg("true").envs(vars.iter().copied());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        c.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: ADDRESS_SPACE, rlim_max: ADDRESS_SPACE };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c.output().unwrap()
}

/// Address space for the binary under test: ample for unpacking (it streams),
/// far below what the bombs below would need held in memory.
const ADDRESS_SPACE: u64 = 1 << 30;

/// Every file named `name` anywhere under `dir` (links not followed).
fn find(dir: &Path, name: &str, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            find(&e.path(), name, out);
        } else if e.file_name() == name {
            out.push(e.path());
        }
    }
}

/// Runs `archive`, expects exit 3 with `needle` in the message, and
/// checks that no file called `marker` exists anywhere in the scratch
/// tree, nor in the directories above it, and nothing was trusted.
fn refused(s: &Scratch, archive: &Path, needle: &str, marker: &str) {
    refused_with(s, archive, &[], needle, marker);
}

/// [`refused`] with extra environment variables for the run.
fn refused_with(s: &Scratch, archive: &Path, vars: &[(&str, &str)], needle: &str, marker: &str) {
    let o = run_with(s, archive, vars);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{}: {err}", archive.display());
    assert!(err.contains(needle), "{}: expected {needle:?} in: {err}", archive.display());
    let mut found = Vec::new();
    find(&s.0, marker, &mut found);
    for up in s.0.ancestors() {
        if up.join(marker).exists() {
            found.push(up.join(marker));
        }
    }
    assert!(found.is_empty(), "{}: written outside the root: {found:?}", archive.display());
    let envs = s.0.join("cache/envs");
    assert!(!envs.read_dir().is_ok_and(|mut d| d.next().is_some()), "a refused archive was trusted");
}

#[test]
fn a_chain_of_links_cannot_carry_a_file_out() {
    let s = Scratch::new("chain");
    let marker = "ESCAPED-chain";
    let x = format!("a/b/c/d/e/{marker}");
    let items = [
        Item::Link("a/b", ".."),
        Item::Link("a/b/c", ".."),
        Item::Link("a/b/c/d", ".."),
        Item::Link("a/b/c/d/e", ".."),
        Item::File(&x, b"pwned"),
    ];
    let a = archive(&s, "chain", &manifest_json(&items), &items);
    refused(&s, &a, "a/b/c lies below a/b", marker);
}

#[test]
fn absolute_and_chained_link_targets_are_refused() {
    let s = Scratch::new("abs");
    let marker = "ESCAPED-abs";
    let outside = s.0.join("outside");
    fs::create_dir_all(&outside).unwrap();
    let target = outside.to_str().unwrap();
    // An absolute target on its own, then with a file written through it.
    let items = [Item::Link("lib/out", target)];
    refused(&s, &archive(&s, "abs", &manifest_json(&items), &items), "lib/out links to", marker);
    let x = format!("lib/out/{marker}");
    let items = [Item::Link("lib/out", target), Item::File(&x, b"pwned")];
    refused(&s, &archive(&s, "abs-write", &manifest_json(&items), &items), "lies below lib/out", marker);
    // Each target stays inside when read alone; followed through the
    // other link, `x` climbs out.
    let items = [Item::Link("x", "y/.."), Item::Link("y", "..")];
    refused(&s, &archive(&s, "via", &manifest_json(&items), &items), "x links to y/..", marker);
    // A loop is no way out either.
    let items = [Item::Link("p", "q"), Item::Link("q", "p")];
    refused(&s, &archive(&s, "loop", &manifest_json(&items), &items), "p links to q", marker);
}

#[test]
fn a_link_cannot_replace_a_directory_already_written() {
    let s = Scratch::new("replace");
    let marker = "ESCAPED-replace";
    let x = format!("lib/{marker}");
    // Listed honestly: the manifest itself is refused.
    let items = [Item::File("lib/a.txt", b"a"), Item::Link("lib", ".."), Item::File(&x, b"pwned")];
    refused(&s, &archive(&s, "listed", &manifest_json(&items), &items), "lib/a.txt lies below lib", marker);
    // Not listed: the manifest claims files only, the archive slips the link in.
    let listed = [Item::File("lib/a.txt", b"a"), Item::File(&x, b"pwned")];
    let sent = [Item::File("lib/a.txt", b"a"), Item::Link("lib", ".."), Item::File(&x, b"pwned")];
    refused(&s, &archive(&s, "unlisted", &manifest_json(&listed), &sent), "lib is not in the manifest", marker);
}

#[test]
fn hard_links_are_refused() {
    let s = Scratch::new("hard");
    let marker = "ESCAPED-hard";
    let listed = [Item::File("bin/h", b"x")];
    let sent = [Item::HardLink("bin/h", "/etc/passwd")];
    refused(&s, &archive(&s, "hard", &manifest_json(&listed), &sent), "bin/h: unexpected entry type Link", marker);
}

#[test]
fn a_file_then_a_link_of_the_same_name_is_refused() {
    let s = Scratch::new("twice");
    let marker = "ESCAPED-twice";
    let x = format!("bin/{marker}");
    // Listed twice in the manifest.
    let items = [Item::File("bin/t", b"x"), Item::Link("bin/t", "..")];
    refused(&s, &archive(&s, "listed", &manifest_json(&items), &items), "manifest lists bin/t twice", marker);
    // Listed once, sent twice: the second is refused before anything is made.
    let listed = [Item::File("bin/t", b"x"), Item::File(&x, b"pwned")];
    let sent = [Item::File("bin/t", b"x"), Item::Link("bin/t", ".."), Item::File(&x, b"pwned")];
    refused(&s, &archive(&s, "sent", &manifest_json(&listed), &sent), "bin/t appears twice in the archive", marker);
}

#[test]
fn sizes_and_fields_from_the_manifest_are_not_trusted() {
    let s = Scratch::new("sizes");
    let marker = "ESCAPED-sizes";
    let hash = blake3::hash(b"x").to_hex();
    // A size no machine can allocate: refused as a mismatch, not an abort.
    let m = format!(
        r#"{{"format": 1, "prefix": "/p", "entries": [{{"path": "bin/x", "kind": "file", "blake3": "{hash}", "size": {}}}]}}"#,
        1u64 << 62
    );
    refused(&s, &archive(&s, "huge", &m, &[Item::File("bin/x", b"x")]), "more than the limit of", marker);
    // A file holding more bytes than listed.
    let m = format!(
        r#"{{"format": 1, "prefix": "/p", "entries": [{{"path": "bin/x", "kind": "file", "blake3": "{hash}", "size": 1}}]}}"#
    );
    refused(&s, &archive(&s, "longer", &m, &[Item::File("bin/x", b"xx")]), "bin/x does not match", marker);
    // A symlink entry carrying a placeholder (relocation would write through it).
    let m = r#"{"format": 1, "prefix": "/p", "entries": [{"path": "l", "kind": "symlink", "target": "f", "placeholder": "text"}]}"#;
    refused(&s, &archive(&s, "fields", m, &[Item::Link("l", "f")]), "does not have the fields of a Symlink", marker);
    // A target longer than any the kernel takes (and costly to resolve).
    let long = "a/".repeat(3000);
    let (listed, sent) = ([Item::Link("l", &long)], [Item::Link("l", "x")]);
    refused(&s, &archive(&s, "long", &manifest_json(&listed), &sent), "4096-byte limit", marker);
    // A path under animica-env's own directory.
    let m = format!(
        r#"{{"format": 1, "prefix": "/p", "entries": [{{"path": ".animica-env/lock", "kind": "file", "blake3": "{hash}", "size": 1}}]}}"#
    );
    refused(&s, &archive(&s, "reserved", &m, &[Item::File(".animica-env/lock", b"x")]), "reserves", marker);
}

/// An archive packed from a small environment with a (shell) `bin/python`,
/// so its `bin/conda-unpack` is the Python script, and a file holding the
/// build prefix.
fn small_python_env(s: &Scratch) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let prefix = s.0.join("staging").join("_placeholder".repeat(6));
    fs::create_dir_all(prefix.join("lib")).unwrap();
    fs::create_dir_all(prefix.join("bin")).unwrap();
    fs::write(prefix.join("lib/marker.txt"), format!("{}/lib", prefix.display())).unwrap();
    fs::write(prefix.join("bin/python"), "#!/bin/sh\nexec python3 \"$@\"\n").unwrap();
    fs::set_permissions(prefix.join("bin/python"), fs::Permissions::from_mode(0o755)).unwrap();
    let archive = s.0.join("env.tar.gz");
    let o = Command::new(BIN).arg("pack").arg(&prefix).arg(&archive).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    archive
}

/// `archive` unpacked by plain tar into a new directory `name`.
fn untar(s: &Scratch, archive: &Path, name: &str) -> PathBuf {
    let dir = s.0.join(name);
    fs::create_dir_all(&dir).unwrap();
    assert!(Command::new("tar").arg("-xzf").arg(archive).arg("-C").arg(&dir).status().unwrap().success());
    dir
}

/// A directory unpacked by someone else and run in place: a link planted
/// where a listed file should be is refused, not written through, by both
/// `run DIR` and the environment's own `bin/conda-unpack`.
#[test]
fn relocation_never_writes_through_a_planted_link() {
    let s = Scratch::new("planted");
    let archive = small_python_env(&s);
    let victim = s.0.join("victim.txt");
    for (name, how) in [("by-run", "run"), ("by-conda-unpack", "conda-unpack")] {
        fs::write(&victim, "untouched").unwrap();
        let dir = untar(&s, &archive, name);
        fs::remove_file(dir.join("lib/marker.txt")).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("lib/marker.txt")).unwrap();
        let o = if how == "run" {
            Command::new(BIN).arg("run").arg(&dir).arg("true").output().unwrap()
        } else {
            Command::new(dir.join("bin/conda-unpack")).output().unwrap()
        };
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{name}: a planted link was accepted");
        assert!(err.contains("lib/marker.txt") && err.contains("never followed"), "{name}: {err}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched", "{name}: wrote through the link");
    }
}

/// `run DIR` locks `DIR/.animica-env/lock`; a link planted there must not
/// make it create (or open) the link's target.
#[test]
fn a_planted_lock_link_creates_nothing() {
    let s = Scratch::new("lock");
    let dir = untar(&s, &small_python_env(&s), "unpacked");
    let target = s.0.join("created-through-the-lock");
    std::os::unix::fs::symlink(&target, dir.join(".animica-env/lock")).unwrap();
    let o = Command::new(BIN).arg("run").arg(&dir).arg("true").output().unwrap();
    assert!(!o.status.success(), "a planted lock link was followed");
    assert!(String::from_utf8_lossy(&o.stderr).contains("lock"), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!target.exists(), "the lock link's target was created");
}

#[test]
fn parent_and_absolute_entry_names_are_refused() {
    let s = Scratch::new("names");
    let marker = "ESCAPED-names";
    for (name, path) in [("parent", format!("../{marker}")), ("deep", format!("lib/../../{marker}"))] {
        let listed = [Item::File("lib/ok", b"x")];
        let sent = [Item::RawFile(&path, b"pwned")];
        refused(&s, &archive(&s, name, &manifest_json(&listed), &sent), "would land outside the environment", marker);
    }
    let abs = s.0.join(marker);
    let abs = abs.to_str().unwrap();
    let (listed, sent) = ([Item::File("lib/ok", b"x")], [Item::RawFile(abs, b"pwned")]);
    refused(&s, &archive(&s, "absolute", &manifest_json(&listed), &sent), "would land outside the environment", marker);
}

#[test]
fn directories_fifos_and_devices_are_refused() {
    let s = Scratch::new("special");
    let marker = "ESCAPED-special";
    let path = format!("dev/{marker}");
    let listed = [Item::File(&path, b"x")];
    for (name, kind) in [
        ("dir", tar::EntryType::Directory),
        ("fifo", tar::EntryType::Fifo),
        ("char", tar::EntryType::Char),
        ("block", tar::EntryType::Block),
    ] {
        let sent = [Item::Special(&path, kind)];
        let needle = format!("{path}: unexpected entry type {kind:?}");
        refused(&s, &archive(&s, name, &manifest_json(&listed), &sent), &needle, marker);
    }
}

#[test]
fn an_entry_cannot_change_type() {
    let s = Scratch::new("retype");
    let marker = "ESCAPED-retype";
    // A file, then a file below it (the file would have to become a directory).
    let x = format!("lib/{marker}");
    let items = [Item::File("lib", b"a file"), Item::File(&x, b"pwned")];
    refused(&s, &archive(&s, "file-dir", &manifest_json(&items), &items), "lib", marker);
    // Listed as a file, sent as a link (and the reverse).
    let (listed, sent) = ([Item::File("bin/t", b"x")], [Item::Link("bin/t", "x")]);
    refused(
        &s,
        &archive(&s, "as-link", &manifest_json(&listed), &sent),
        "bin/t: unexpected entry type Symlink",
        marker,
    );
    let (listed, sent) = ([Item::Link("bin/t", "x")], [Item::File("bin/t", b"x")]);
    refused(
        &s,
        &archive(&s, "as-file", &manifest_json(&listed), &sent),
        "bin/t: unexpected entry type Regular",
        marker,
    );
}

#[test]
fn the_manifest_and_the_archive_must_agree() {
    let s = Scratch::new("agree");
    let marker = "ESCAPED-agree";
    // Same size, other bytes: the hash lies.
    let (listed, sent) = ([Item::File("lib/a", b"good")], [Item::File("lib/a", b"evil")]);
    refused(&s, &archive(&s, "hash", &manifest_json(&listed), &sent), "lib/a does not match its manifest hash", marker);
    // Listed but never sent.
    let listed = [Item::File("lib/a", b"a"), Item::File("lib/b", b"b")];
    let sent = [Item::File("lib/a", b"a")];
    refused(&s, &archive(&s, "missing", &manifest_json(&listed), &sent), "lib/b is missing", marker);
    // Sent but never listed.
    let x = format!("lib/{marker}");
    let (listed, sent) = ([Item::File("lib/a", b"a")], [Item::File("lib/a", b"a"), Item::File(&x, b"pwned")]);
    refused(&s, &archive(&s, "unlisted", &manifest_json(&listed), &sent), "is not in the manifest", marker);
}

/// An archive whose manifest lists `listed` (and an empty file `x`), then
/// `header` with `size` bytes of zeros (streamed, never held in memory),
/// then `x`: `zstd` or gzip compresses the zeros to almost nothing.
fn bomb(s: &Scratch, name: &str, listed: &[Item], mut header: tar::Header, size: u64, zstd: bool) -> PathBuf {
    let path = s.0.join(format!("{name}.tar"));
    let file = fs::File::create(&path).unwrap();
    let out: Box<dyn std::io::Write> = if zstd {
        Box::new(zstd::stream::Encoder::new(file, 1).unwrap().auto_finish())
    } else {
        Box::new(flate2::write::GzEncoder::new(file, flate2::Compression::fast()))
    };
    let mut t = tar::Builder::new(out);
    let x = r#"{"path": "x", "kind": "file", "blake3": "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", "size": 0}"#;
    let manifest = manifest_json(listed);
    let manifest = if listed.is_empty() {
        manifest.replace("[]", &format!("[{x}]"))
    } else {
        manifest.replace("]}", &format!(", {x}]}}"))
    };

    let mut h = tar::Header::new_gnu();
    h.set_size(manifest.len() as u64);
    h.set_mode(0o644);
    t.append_data(&mut h, ".animica-env/manifest.json", manifest.as_bytes()).unwrap();
    header.set_size(size);
    header.set_cksum();
    t.append(&header, std::io::Read::take(std::io::repeat(0), size)).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_mode(0o644);
    t.append_data(&mut h, "x", &[][..]).unwrap();
    t.into_inner().unwrap().flush().unwrap();
    path
}

/// Decompression bombs end in an error within a bounded address space: a
/// GNU long-name header of 2 GiB (which the tar reader would hold in
/// memory), and a link entry carrying 256 MiB of data nobody reads.
#[test]
fn decompression_bombs_are_cut_off() {
    use std::io::Write as _;
    let s = Scratch::new("bomb");
    let mut long = tar::Header::new_gnu();
    long.set_entry_type(tar::EntryType::GNULongName);
    long.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    let a = bomb(&s, "longname", &[], long, 2 << 30, true);
    assert!(fs::metadata(&a).unwrap().len() < 1 << 20, "the bomb is small");
    refused(&s, &a, "more data than its manifest accounts for", "none");
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.as_old_mut().name[..1].copy_from_slice(b"l");
    link.as_old_mut().linkname[..1].copy_from_slice(b"x");
    let a = bomb(&s, "link-data", &[Item::Link("l", "x")], link, 256 << 20, false);
    refused(&s, &a, "more data than its manifest accounts for", "none");
    let _ = std::io::stdout().flush();
}

/// The manifest's own totals are held to limits set by environment
/// variables (defaults 64 GiB and a million entries); a bad value is a
/// usage error, not a silent default.
#[test]
fn unpack_limits_are_enforced_and_configurable() {
    let s = Scratch::new("limits");
    let items = [Item::File("bin/a", b"0123456789"), Item::File("bin/b", b"0123456789"), Item::File("bin/c", b"")];
    let a = archive(&s, "three", &manifest_json(&items), &items);
    let entries = [("ANIMICA_ENV_MAX_UNPACK_ENTRIES", "2")];
    refused_with(
        &s,
        &a,
        &entries,
        "lists 3 entries, more than the limit of 2 entries (ANIMICA_ENV_MAX_UNPACK_ENTRIES raises it)",
        "none",
    );
    let bytes = [("ANIMICA_ENV_MAX_UNPACK_BYTES", "19")];
    refused_with(
        &s,
        &a,
        &bytes,
        "lists 20 bytes of files, more than the limit of 19 bytes (ANIMICA_ENV_MAX_UNPACK_BYTES raises it)",
        "none",
    );
    // A huge declared size is refused by the default limit before any data.
    let hash = blake3::hash(b"x").to_hex();
    let m = format!(
        r#"{{"format": 1, "prefix": "/p", "entries": [{{"path": "x", "kind": "file", "blake3": "{hash}", "size": {}}}]}}"#,
        100u64 << 30
    );
    refused(&s, &archive(&s, "declared", &m, &[Item::File("x", b"x")]), "more than the limit of 68719476736", "none");
    // At the limits it unpacks; suffixes are powers of 1024.
    let o = run_with(&s, &a, &[("ANIMICA_ENV_MAX_UNPACK_ENTRIES", "3"), ("ANIMICA_ENV_MAX_UNPACK_BYTES", "1K")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run_with(&s, &a, &[("ANIMICA_ENV_MAX_UNPACK_BYTES", "lots")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ANIMICA_ENV_MAX_UNPACK_BYTES=\"lots\" is not a count"));
}

//! Faults around `run`, through the real binary: a full disk, a cache that
//! cannot be written, a run killed at every stage, an archive replaced in
//! place by another of the same name, size and mtime, and a clock far in
//! the past; and `create` on a disk that fills up. Each ends in a clear error or a correct result, never in a
//! corrupt or wrongly trusted cache.
//!
//! The disk tests mount small tmpfs file systems, which needs root (CI and
//! `make test` machines of this kind run as root); without it they fail
//! and say so.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

mod common;
use common::{Scratch, make_prefix, noise, test_channel};

const BIN: &str = env!("CARGO_BIN_EXE_animica-env");

fn run(cache: &Path, archive: &Path, env: &[(&str, &str)]) -> Output {
    run_cmd(cache, archive, env, &["report"])
}

fn run_cmd(cache: &Path, archive: &Path, env: &[(&str, &str)], cmd: &[&str]) -> Output {
    Command::new(BIN).arg("run").arg("-u").arg(cache).arg(archive).args(cmd).envs(env.iter().copied()).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// An archive of the test environment with `blob` as `lib/blob.bin`.
fn pack_with_blob(s: &Scratch, name: &str, blob: &[u8]) -> PathBuf {
    let prefix = make_prefix(s);
    fs::write(prefix.join("lib/blob.bin"), blob).unwrap();
    let archive = s.0.join(name);
    let o = Command::new(BIN).arg("pack").arg(&prefix).arg(&archive).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    fs::remove_dir_all(s.0.join("staging")).unwrap();
    archive
}

/// A tmpfs mounted for the test's life.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, options: &str, test: &str) -> Tmpfs {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        assert!(root, "{test} mounts a small tmpfs and needs root: run `make test` as root (as CI does)");
        fs::create_dir_all(dir).unwrap();
        let o = Command::new("mount").args(["-t", "tmpfs", "-o", options, "tmpfs"]).arg(dir).output().unwrap();
        assert!(o.status.success(), "mount -t tmpfs -o {options}: {}", text(&o));
        Tmpfs(dir.to_owned())
    }

    /// Mounts it again with other options (a tmpfs grows or shrinks in place).
    fn remount(&self, options: &str) {
        let o = Command::new("mount").args(["-o", &format!("remount,{options}")]).arg(&self.0).output().unwrap();
        assert!(o.status.success(), "mount -o remount,{options}: {}", text(&o));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Nothing half-made is visible under `cache`: every environment in
/// `envs/` is complete (its manifest and last file are there), and no
/// unpack is left in `tmp/`.
fn trusted_only(cache: &Path) {
    for e in fs::read_dir(cache.join("envs")).into_iter().flatten().flatten() {
        let env = e.path();
        assert!(env.join(".animica-env/manifest.json").is_file(), "{}: no manifest", env.display());
        assert!(env.join("lib/blob.bin").is_file(), "{}: incomplete", env.display());
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_leaves_nothing() {
    let s = Scratch::new("full");
    let archive = pack_with_blob(&s, "env.tar.zst", &noise(8 << 20, 1));
    let cache = s.0.join("cache");
    let _fs = Tmpfs::mount(&cache, "size=4m", "a_full_disk_is_a_clear_error_and_leaves_nothing");
    let o = run(&cache, &archive, &[]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(text(&o).contains("No space left on device"), "{}", text(&o));
    assert!(text(&o).contains("cache/tmp/"), "the message names the file being written: {}", text(&o));
    assert_eq!(fs::read_dir(cache.join("envs")).unwrap().count(), 0, "a partial environment is visible");
    assert_eq!(fs::read_dir(cache.join("tmp")).unwrap().count(), 0, "the partial unpack was not removed");
    // With room, the same archive runs.
    let o = run(&s.0.join("roomy"), &archive, &[]);
    assert!(o.status.success(), "{}", text(&o));
}

/// `create` into a cache on a disk too small, first for the packages, then
/// for the archive: each time a message that says why (and names the file
/// when it is ours), and nothing of the build left on the disk; with room,
/// the same cache gives a working archive.
#[test]
fn a_create_on_a_full_disk_says_why_and_leaves_no_build_behind() {
    let s = Scratch::new("create-full");
    fs::write(s.0.join("spec.json"), r#"{"python": "3.11", "modules": ["tabulate", "six"]}"#).unwrap();
    let cache = s.0.join("cache");
    let fs_ = Tmpfs::mount(&cache, "size=40m", "a_create_on_a_full_disk_says_why_and_leaves_no_build_behind");
    let create = || {
        Command::new(BIN)
            .current_dir(&s.0)
            .args(["create", "-q", "-c", test_channel().to_str().unwrap(), "--cache", cache.to_str().unwrap()])
            .args(["spec.json", "env"])
            .env("PIP_NO_INDEX", "1")
            .env("PIP_FIND_LINKS", test_channel().join("wheels"))
            .output()
            .unwrap()
    };
    let nothing_left = |when: &str| {
        for dir in ["staging", "archives"] {
            let left: Vec<_> =
                fs::read_dir(cache.join(dir)).into_iter().flatten().flatten().map(|e| e.path()).collect();
            assert!(left.is_empty(), "{when}: left in {dir}/: {left:?}");
        }
        let pkgs = fs::read_dir(cache.join("pkgs")).into_iter().flatten().flatten();
        let half: Vec<_> = pkgs
            .map(|e| e.file_name())
            .filter(|n| n.to_string_lossy().starts_with(".") && n != ".cache.lock")
            .collect();
        assert!(half.is_empty(), "{when}: half-extracted packages: {half:?}");
    };
    // The python package alone unpacks to 50 MB.
    let o = create();
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    assert!(text(&o).contains("No space left on device"), "the cause is given: {}", text(&o));
    nothing_left("packages too large");
    // Room for the packages (58 MB), not for the 17 MB archive.
    fs_.remount("size=66m");
    let o = create();
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(text(&o).contains("No space left on device") && text(&o).contains("cache/archives/"), "{}", text(&o));
    nothing_left("archive too large");
    fs_.remount("size=200m");
    let o = create();
    assert!(o.status.success(), "{}", text(&o));
    let o = run_cmd(&s.0.join("run"), &s.0.join("env.tar.zst"), &[], &["python", "-c", "import six, tabulate"]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_cache_that_cannot_be_written_is_a_clear_error() {
    let s = Scratch::new("readonly");
    let archive = pack_with_blob(&s, "env.tar.zst", b"small");
    let cache = s.0.join("cache");
    let _fs = Tmpfs::mount(&cache, "size=1m,ro", "a_cache_that_cannot_be_written_is_a_clear_error");
    let o = run(&cache, &archive, &[]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(text(&o).contains("Read-only file system"), "{}", text(&o));
    assert!(text(&o).contains(cache.to_str().unwrap()), "the message names the cache: {}", text(&o));
}

/// Kills `run` after each of a sweep of delays, so that across the sweep
/// it dies before unpacking, while unpacking or relocating (a directory in
/// `tmp/`), and after the rename; after every kill nothing half-made is
/// trusted and the next run gives the right answer.
#[test]
fn a_run_killed_at_any_moment_leaves_nothing_half_made() {
    let s = Scratch::new("kill");
    let archive = pack_with_blob(&s, "env.tar.zst", &noise(48 << 20, 2));
    let mut seen = std::collections::BTreeSet::new();
    // Short delays first, then doubling until a kill lands after the rename
    // (how long an unpack takes depends on the machine and its load).
    let mut delays = vec![0u64, 1, 3, 10, 30, 60, 100, 200, 400];
    let mut i = 0;
    while i < delays.len() {
        let ms = delays[i];
        let cache = s.0.join(format!("cache{i}"));
        let mut child = Command::new(BIN)
            .arg("run")
            .arg("-u")
            .arg(&cache)
            .arg(&archive)
            .arg("report")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let stage = if cache.join("envs").read_dir().is_ok_and(|mut d| d.next().is_some()) {
            "after the rename"
        } else if cache.join("tmp").read_dir().is_ok_and(|mut d| d.next().is_some()) {
            "unpacking or relocating"
        } else {
            "before unpacking"
        };
        let _ = child.kill();
        child.wait().unwrap();
        seen.insert(stage);
        trusted_only(&cache);
        let o = run(&cache, &archive, &[]);
        assert!(o.status.success() && text(&o).contains("foo=bar"), "after a kill {stage} at {ms} ms: {}", text(&o));
        assert_eq!(fs::read_dir(cache.join("tmp")).unwrap().count(), 0, "leftovers after the kill at {ms} ms");
        fs::remove_dir_all(&cache).unwrap();
        if i + 1 == delays.len() && !seen.contains("after the rename") && ms < 60_000 {
            delays.push(ms * 2);
        }
        i += 1;
    }
    for stage in ["before unpacking", "unpacking or relocating", "after the rename"] {
        assert!(seen.contains(stage), "no kill landed {stage} (seen: {seen:?}): adjust the delays for this machine");
    }
}

/// What killed unpacks left under `tmp/` is removed by the next cold run,
/// whichever archive it unpacks, unless an unpack of that archive is under
/// way (its lock is held); entries of no archive's form are not touched.
#[test]
fn a_cold_run_removes_what_killed_unpacks_of_other_archives_left() {
    use std::os::unix::io::AsRawFd;
    let s = Scratch::new("leftovers");
    let archive = pack_with_blob(&s, "env.tar.zst", b"small");
    let cache = s.0.join("cache");
    let left = |key: &str| {
        let dir = cache.join("tmp").join(key);
        fs::create_dir_all(dir.join("lib")).unwrap();
        fs::write(dir.join("lib/big.bin"), noise(1 << 20, 3)).unwrap();
        dir
    };
    let abandoned = left("0123456789abcdef0123456789abcdef.4242");
    let busy = left("fedcba9876543210fedcba9876543210.4343");
    let foreign = left("not-an-unpack");
    fs::create_dir_all(cache.join("locks")).unwrap();
    let held = fs::File::create(cache.join("locks/fedcba9876543210fedcba9876543210.lock")).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) }, 0);
    let o = run(&cache, &archive, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!abandoned.exists(), "the leftover of an unpack nobody is doing was kept");
    assert!(busy.join("lib/big.bin").is_file(), "the directory of an unpack under way was removed");
    assert!(foreign.join("lib/big.bin").is_file(), "an entry not made by run was removed");
}

/// An archive overwritten in place by another of the same size, its old
/// mtime restored (what `cp --preserve=timestamps` or `rsync -t --inplace`
/// do): path, inode, size and mtime match the old one, and the cached
/// hash must not be trusted for it.
#[test]
fn an_archive_replaced_in_place_with_its_timestamps_is_not_mistaken() {
    let s = Scratch::new("replaced");
    let cache = s.0.join("cache");
    // Two archives of equal size: each ends in a zstd skippable frame (RFC
    // 8878, 3.1.2: magic, length, bytes every decoder passes over) that pads
    // it to the same length. (Packing until two sizes happened to match took
    // 230 s in a clean clone: the tries depend on the binary each archive
    // carries.)
    let mut a = fs::read(pack_with_blob(&s, "a.tar.zst", &noise(64 << 10, 100))).unwrap();
    let mut b = fs::read(pack_with_blob(&s, "b.tar.zst", &noise(64 << 10, 200))).unwrap();
    let len = a.len().max(b.len()) + 8;
    for archive in [&mut a, &mut b] {
        let pad = len - archive.len() - 8;
        archive.extend_from_slice(&0x184D_2A50u32.to_le_bytes());
        archive.extend_from_slice(&u32::try_from(pad).unwrap().to_le_bytes());
        archive.resize(len, 0);
    }
    let path = s.0.join("env.tar.zst");
    fs::write(&path, &a).unwrap();
    let first = text(&run(&cache, &path, &[]));
    let marker_a = fs::read_dir(cache.join("envs")).unwrap().count();
    assert_eq!(marker_a, 1, "{first}");
    use std::os::unix::fs::MetadataExt;
    let before = fs::metadata(&path).unwrap();
    // Overwrite in place (same inode), then put the old mtime back.
    fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &b))
        .unwrap();
    let times = [
        libc::timespec { tv_sec: before.atime(), tv_nsec: before.atime_nsec() },
        libc::timespec { tv_sec: before.mtime(), tv_nsec: before.mtime_nsec() },
    ];
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string and two timespecs, as utimensat requires.
    assert_eq!(unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) }, 0);
    let after = fs::metadata(&path).unwrap();
    assert_eq!(
        (after.ino(), after.len(), after.mtime(), after.mtime_nsec()),
        (before.ino(), before.len(), before.mtime(), before.mtime_nsec())
    );
    let o = run(&cache, &path, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(fs::read_dir(cache.join("envs")).unwrap().count(), 2, "the replaced archive ran in the old environment");
}

/// A clock set to 1995 (libfaketime, Debian's `faketime`): unpacking,
/// locking and the cache index work, and a second run reuses the unpack.
#[test]
fn a_clock_far_in_the_past_changes_nothing() {
    let s = Scratch::new("clock");
    let archive = pack_with_blob(&s, "env.tar.zst", b"small");
    let cache = s.0.join("cache");
    let faketime = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("libfaketime is missing: apt-get install faketime (make test installs it)");
    let env = [("LD_PRELOAD", faketime), ("FAKETIME", "@1995-06-01 12:00:00")];
    // The clock really is 1995 for `run` and what it starts.
    let o = run_cmd(&cache, &archive, &env, &["date", "+%Y"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout) == "1995\n", "{}", text(&o));
    let o = run(&cache, &archive, &env);
    assert!(o.status.success() && text(&o).contains("foo=bar"), "{}", text(&o));
    let o = run(&cache, &archive, &env);
    assert!(o.status.success() && !text(&o).contains("unpacked"), "{}", text(&o));
    trusted_only(&cache);
}

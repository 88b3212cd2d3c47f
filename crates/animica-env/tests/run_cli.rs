//! `pack`, `run`, `python_package_run` and `conda-unpack`, run as real
//! binaries on environments made here.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{Scratch, make_prefix, pack};

const BIN: &str = env!("CARGO_BIN_EXE_animica-env");

fn bin(args: &[&str], cwd: &Path) -> Output {
    Command::new(BIN).args(args).current_dir(cwd).env_remove("PYTHONPATH").output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}: {}", o.status, String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn run_relocates_activates_and_passes_the_exit_status() {
    let s = Scratch::new("basic");
    let archive = pack(&s, "env.tar.zst");
    let cache = s.0.join("cache");
    let c = cache.to_str().unwrap();
    let a = archive.to_str().unwrap();
    let o = Command::new(BIN)
        .args(["run", "-u", c, a, "report-link", "x", "-y"])
        .env("PYTHONPATH", "/nope")
        .output()
        .unwrap();
    let out = ok(&o);
    let prefix = fs::read_dir(cache.join("envs")).unwrap().next().unwrap().unwrap().path();
    let p = prefix.display();
    assert_eq!(out, format!("built={p}/lib here={p} foo=bar pythonpath=unset args=x -y\n"));
    let lib = fs::read(prefix.join("lib/libfake.so")).unwrap();
    let want = format!("{p}/lib:{p}/lib64\0");
    assert!(lib.windows(want.len()).any(|w| w == want.as_bytes()), "binary prefix not rewritten");
    assert_eq!(bin(&["run", "-u", c, a, "--", "fail", "42"], &s.0).status.code(), Some(42));
    assert_eq!(bin(&["run", "-u", c, a, "die"], &s.0).status.code(), Some(128 + 15));
    let missing = bin(&["run", "-u", c, a, "no-such-command"], &s.0);
    assert_eq!(missing.status.code(), Some(127));
    // The seed-style name (without extension) and a .tar.gz work as well.
    let gz = pack(&s, "other.tar.gz");
    let name = gz.with_file_name("other");
    assert!(ok(&bin(&["run", "-u", c, name.to_str().unwrap(), "report"], &s.0)).contains("foo=bar"));
}

#[test]
fn packing_is_reproducible() {
    let s = Scratch::new("repro");
    let prefix = make_prefix(&s);
    for name in ["a.tar.zst", "b.tar.zst", "a.tar.gz", "b.tar.gz"] {
        ok(&bin(&["pack", prefix.to_str().unwrap(), s.0.join(name).to_str().unwrap()], &s.0));
    }
    assert_eq!(fs::read(s.0.join("a.tar.zst")).unwrap(), fs::read(s.0.join("b.tar.zst")).unwrap());
    assert_eq!(fs::read(s.0.join("a.tar.gz")).unwrap(), fs::read(s.0.join("b.tar.gz")).unwrap());
}

/// The uncompressed tar inside a .tar.gz made by `pack`.
fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(path).unwrap()).read_to_end(&mut out).unwrap();
    out
}

fn gzip(data: &[u8], path: &Path) {
    let mut e = flate2::write::GzEncoder::new(fs::File::create(path).unwrap(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap();
}

#[test]
fn tampered_truncated_and_escaping_archives_fail_with_3() {
    let s = Scratch::new("bad");
    let good = pack(&s, "good.tar.gz");
    let tar = gunzip(&good);
    let c = s.0.join("cache");
    let c = c.to_str().unwrap();

    // One byte of marker.txt changed: its data follows its 512-byte header.
    let name = b"lib/marker.txt\0";
    let header = tar.windows(name.len()).position(|w| w == name).unwrap();
    let mut tampered = tar.clone();
    tampered[header + 512] ^= 0x20;
    gzip(&tampered, &s.0.join("tampered.tar.gz"));
    let o = bin(&["run", "-u", c, s.0.join("tampered.tar.gz").to_str().unwrap(), "report"], &s.0);
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("does not match its manifest hash") && err.contains("tampered.tar.gz"), "{err}");

    // Cut short.
    gzip(&tar[..tar.len() / 2], &s.0.join("truncated.tar.gz"));
    let o = bin(&["run", "-u", c, s.0.join("truncated.tar.gz").to_str().unwrap(), "report"], &s.0);
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));

    // Entries that would land outside the target.
    for (name, escape) in [("dotdot", "../../evil"), ("absolute", "/tmp/evil")] {
        let mut t = tar::Builder::new(Vec::new());
        let manifest = format!(
            r#"{{"format": 1, "prefix": "/p", "entries": [{{"path": "bin/x", "kind": "file", "blake3": "{}", "size": 1}}]}}"#,
            blake3::hash(b"x").to_hex()
        );
        let mut h = tar::Header::new_gnu();
        h.set_size(manifest.len() as u64);
        h.set_mode(0o644);
        t.append_data(&mut h, ".animica-env/manifest.json", manifest.as_bytes()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.as_old_mut().name[..escape.len()].copy_from_slice(escape.as_bytes());
        h.set_cksum();
        t.append(&h, &b"x"[..]).unwrap();
        let path = s.0.join(format!("{name}.tar.gz"));
        gzip(&t.into_inner().unwrap(), &path);
        let o = bin(&["run", "-u", c, path.to_str().unwrap(), "true"], &s.0);
        assert_eq!(o.status.code(), Some(3), "{name}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stderr).contains("outside the environment"), "{name}");
        assert!(!s.0.join("evil").exists() && !Path::new("/tmp/evil").exists());
    }
    assert!(!s.0.join("cache/envs").read_dir().unwrap().any(|_| true), "nothing bad may be trusted");
}

/// 64 cold runs of one archive at once, spread over 4 cache roots: every
/// run succeeds with its own arguments, and each root unpacks exactly once.
#[test]
fn sixty_four_concurrent_cold_runs_over_four_roots_unpack_once_per_root() {
    let s = Scratch::new("concurrent");
    let archive = pack(&s, "env.tar.zst");
    let roots: Vec<PathBuf> = (0..4).map(|r| s.0.join(format!("cache{r}"))).collect();
    let children: Vec<_> = (0..64)
        .map(|i| {
            Command::new(BIN)
                .args([
                    "run",
                    "-u",
                    roots[i % 4].to_str().unwrap(),
                    archive.to_str().unwrap(),
                    "report",
                    &i.to_string(),
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut unpacks = [0usize; 4];
    for (i, c) in children.into_iter().enumerate() {
        let o = c.wait_with_output().unwrap();
        assert!(ok(&o).ends_with(&format!("args={i}\n")), "run {i}");
        unpacks[i % 4] += String::from_utf8_lossy(&o.stderr).matches("unpacked").count();
    }
    assert_eq!(unpacks, [1, 1, 1, 1], "unpacks per root");
    for root in &roots {
        assert_eq!(fs::read_dir(root.join("envs")).unwrap().count(), 1, "{}", root.display());
        assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0, "{}: leftovers", root.display());
    }
}

#[test]
fn a_killed_unpack_leaves_nothing_trusted() {
    let s = Scratch::new("killed");
    let prefix = make_prefix(&s);
    // Enough incompressible data that unpacking takes a while.
    let noise = common::noise(64 << 20, 1);
    for i in 0..4 {
        fs::write(prefix.join(format!("lib/blob{i}.bin")), &noise[i * (16 << 20)..(i + 1) * (16 << 20)]).unwrap();
    }
    let archive = s.0.join("big.tar.zst");
    ok(&bin(&["pack", prefix.to_str().unwrap(), archive.to_str().unwrap()], &s.0));
    let cache = s.0.join("cache");
    let args = ["run", "-u", cache.to_str().unwrap(), archive.to_str().unwrap(), "report"];
    let mut child = Command::new(BIN).args(args).stderr(std::process::Stdio::null()).spawn().unwrap();
    // Wait until the unpack has started writing, then kill it.
    let tmp = cache.join("tmp");
    for _ in 0..500 {
        if tmp.read_dir().is_ok_and(|mut d| d.next().is_some()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!cache.join("envs").read_dir().unwrap().any(|_| true), "a half-made environment is visible");
    let o = bin(&args, &s.0);
    assert!(ok(&o).contains("foo=bar"));
    assert!(!tmp.read_dir().unwrap().any(|_| true), "leftovers were not cleaned");
}

#[test]
fn install_links_makes_the_cctools_names() {
    let s = Scratch::new("links");
    let dir = s.0.join("bin");
    ok(&bin(&["install-links", dir.to_str().unwrap()], &s.0));
    ok(&bin(&["install-links", dir.to_str().unwrap()], &s.0)); // again: replaces them
    for name in [
        "python_package_analyze",
        "python_package_create",
        "python_package_run",
        "poncho_package_analyze",
        "poncho_package_create",
        "poncho_package_run",
    ] {
        let o = Command::new(dir.join(name)).arg("-h").output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{name}");
        assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("usage: {name}")), "{name}");
    }
}

#[test]
fn python_package_run_and_conda_unpack() {
    let s = Scratch::new("compat");
    let archive = pack(&s, "venv.tar.gz");
    let link = s.0.join("python_package_run");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let run = |args: &[&str]| {
        Command::new(&link).args(args).current_dir(&s.0).env("ANIMICA_ENV_CACHE", s.0.join("cache")).output().unwrap()
    };
    let o = run(&["venv", "report one two && exit 5"]);
    assert_eq!(o.status.code(), Some(5), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("foo=bar pythonpath=unset args=one two"));
    assert_eq!(run(&["-h"]).status.code(), Some(0));
    assert_eq!(run(&["venv"]).status.code(), Some(1));
    assert_eq!(run(&["missing", "true"]).status.code(), Some(2));
    fs::write(s.0.join("broken.tar.gz"), b"\x1f\x8b not really").unwrap();
    assert_eq!(run(&["broken", "true"]).status.code(), Some(3));

    // A directory unpacked by hand is relocated by `run` itself.
    let plain = s.0.join("plain-dir");
    fs::create_dir_all(&plain).unwrap();
    assert!(Command::new("tar").arg("-xzf").arg(&archive).arg("-C").arg(&plain).status().unwrap().success());
    let out = ok(&bin(&["run", plain.to_str().unwrap(), "report"], &s.0));
    assert_eq!(out, format!("built={d}/lib here={d} foo=bar pythonpath=unset args=\n", d = plain.display()));

    // cctools' own runner: plain tar, then bin/conda-unpack, then activate.
    let dir = s.0.join("by-hand");
    fs::create_dir_all(&dir).unwrap();
    assert!(Command::new("tar").arg("-xzf").arg(&archive).arg("-C").arg(&dir).status().unwrap().success());
    assert!(Command::new(dir.join("bin/conda-unpack")).status().unwrap().success());
    let o = Command::new("bash").arg("-c").arg(". bin/activate && report").current_dir(&dir).output().unwrap();
    assert_eq!(ok(&o), format!("built={d}/lib here={d} foo= pythonpath=unset args=\n", d = dir.display()));
}

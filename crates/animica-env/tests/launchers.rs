//! What every archive carries for runners that only untar it (TaskVine's
//! `declare_poncho`, Spark, people): `bin/run_in_env` and
//! `bin/poncho_package_run`, run with no animica-env anywhere on PATH; and
//! cctools' option form of `python_package_run` / `poncho_package_run` as
//! `work_queue.PythonTask` calls it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{Scratch, pack_with};

const BIN: &str = env!("CARGO_BIN_EXE_animica-env");

/// A PATH with the basic tools and nothing of ours.
const PLAIN_PATH: &str = "/usr/bin:/bin";

fn untar(archive: &Path, dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    let st = Command::new("tar").arg("-xf").arg(archive).arg("-C").arg(dir).status().unwrap();
    assert!(st.success());
}

fn plain(program: &Path, args: &[&str], cwd: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", PLAIN_PATH)
        .env("HOME", cwd)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}: {}", o.status, String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn relocated_to(dir: &Path) -> String {
    fs::read_to_string(dir.join(".animica-env/relocated-to")).unwrap()
}

/// Both kinds of `bin/conda-unpack`: the Python script (the environment
/// has a Python) and the copy of the binary (it has none).
fn each_kind(tag: &str, test: impl Fn(&Scratch, &Path, &str)) {
    for python in [false, true] {
        let kind = if python { "python" } else { "binary" };
        let s = Scratch::new(&format!("{tag}-{kind}"));
        let archive = pack_with(&s, "env.tar.gz", python);
        test(&s, &archive, kind);
    }
}

#[test]
fn run_in_env_after_a_plain_untar_like_declare_poncho() {
    each_kind("untar", |s, archive, kind| {
        // TaskVine: mkdir output && tar xf package.tar.gz -C output && output/bin/run_in_env CMD
        let out = s.path("sandbox/output");
        untar(archive, &out);
        let o = plain(&out.join("bin/run_in_env"), &["report", "one", "two"], &s.path("sandbox"));
        assert_eq!(
            stdout(&o),
            format!("built={d}/lib here={d} foo= pythonpath=unset args=one two\n", d = out.display()),
            "{kind}"
        );
        assert_eq!(relocated_to(&out), format!("{}\n", out.display()), "{kind}");
        // Again, from elsewhere, through a relative path: no second relocation.
        let before = fs::metadata(out.join("lib/marker.txt")).unwrap().modified().unwrap();
        let o = plain(Path::new("output/bin/run_in_env"), &["fail", "7"], &s.path("sandbox"));
        assert_eq!(o.status.code(), Some(7), "{kind}: the command's status");
        assert_eq!(fs::metadata(out.join("lib/marker.txt")).unwrap().modified().unwrap(), before, "{kind}");
        // Moved: relocated again for the new place.
        let moved = s.path("elsewhere/env");
        fs::create_dir_all(moved.parent().unwrap()).unwrap();
        fs::rename(&out, &moved).unwrap();
        let o = plain(&moved.join("bin/run_in_env"), &["report"], s.0.as_path());
        assert_eq!(stdout(&o), format!("built={d}/lib here={d} foo= pythonpath=unset args=\n", d = moved.display()));
        assert_eq!(plain(&moved.join("bin/run_in_env"), &["no-such-command"], &s.0).status.code(), Some(127));
    });
}

#[test]
fn concurrent_first_runs_relocate_once_and_all_succeed() {
    each_kind("concurrent", |s, archive, kind| {
        let out = s.path("worker/output");
        untar(archive, &out);
        let children: Vec<_> = (0..8)
            .map(|i| {
                Command::new(out.join("bin/run_in_env"))
                    .args(["report", &i.to_string()])
                    .env_clear()
                    .env("PATH", PLAIN_PATH)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (i, c) in children.into_iter().enumerate() {
            let o = c.wait_with_output().unwrap();
            assert_eq!(
                stdout(&o),
                format!("built={d}/lib here={d} foo= pythonpath=unset args={i}\n", d = out.display()),
                "{kind}"
            );
        }
        let marker = fs::read(out.join("lib/libfake.so")).unwrap();
        let want = format!("{}/lib:{}/lib64\0", out.display(), out.display());
        assert!(marker.windows(want.len()).any(|w| w == want.as_bytes()), "{kind}: binary prefix rewritten once");
    });
}

#[test]
fn the_archives_poncho_package_run_unpacks_a_tarball_once_per_directory() {
    each_kind("tarball", |s, archive, kind| {
        let tools = s.path("tools");
        untar(archive, &tools);
        let runner = tools.join("bin/poncho_package_run");
        let dir = s.path("task/env-dir");
        let args = ["-e", archive.to_str().unwrap(), "-u", dir.to_str().unwrap(), "--", "report", "x"];
        let o = plain(&runner, &args, &s.0);
        assert_eq!(stdout(&o), format!("built={d}/lib here={d} foo= pythonpath=unset args=x\n", d = dir.display()));
        let stamp = fs::read_to_string(dir.join(".poncho_package_run_expanded")).unwrap();
        let o = plain(&runner, &args, &s.0);
        assert!(o.status.success(), "{kind}");
        assert_eq!(
            fs::read_to_string(dir.join(".poncho_package_run_expanded")).unwrap(),
            stamp,
            "{kind}: unpacked once"
        );
        // No -u: a temporary directory, removed after the command.
        let o = plain(&runner, &["-e", archive.to_str().unwrap(), "sh", "-c", "echo $CONDA_PREFIX"], &s.0);
        let tmp = PathBuf::from(stdout(&o).trim());
        assert!(!tmp.exists(), "{kind}: {} removed", tmp.display());
        // poncho's statuses.
        assert_eq!(plain(&runner, &["report"], &s.0).status.code(), Some(1), "no -e");
        assert_eq!(plain(&runner, &["-e", "missing.tar.gz", "true"], &s.0).status.code(), Some(1));
        assert_eq!(plain(&runner, &["-h"], &s.0).status.code(), Some(0));
        let o = plain(&runner, &["-e", dir.to_str().unwrap(), "-n"], &s.0);
        assert!(o.status.success(), "-n");
    });
}

#[test]
fn work_queue_python_task_form_unpacks_once_per_worker() {
    // work_queue.PythonTask.specify_environment(env) runs, in each task's sandbox:
    //   ./python_package_run -e env.tar.gz --unpack-to "$WORK_QUEUE_SANDBOX"/env.tar.gz-env python wrapper.py ...
    let s = Scratch::new("wq-form");
    let archive = pack_with(&s, "env.tar.gz", false);
    let mut unpacks = 0;
    for task in 0..3 {
        let sandbox = s.path(&format!("worker/t.{task}"));
        fs::create_dir_all(&sandbox).unwrap();
        fs::copy(&archive, sandbox.join("env.tar.gz")).unwrap();
        let link = sandbox.join("python_package_run");
        std::os::unix::fs::symlink(BIN, &link).unwrap();
        let o = Command::new("/bin/sh")
            .arg("-c")
            .arg(r#"./python_package_run -e env.tar.gz --unpack-to "$WORK_QUEUE_SANDBOX"/env.tar.gz-env report "$@""#)
            .args(["sh", "a b", "c"])
            .current_dir(&sandbox)
            .env("WORK_QUEUE_SANDBOX", &sandbox)
            .env("ANIMICA_ENV_CACHE", s.path("worker-cache"))
            .output()
            .unwrap();
        let text = stdout(&o);
        assert!(text.ends_with("foo=bar pythonpath=unset args=a b c\n"), "{text}");
        unpacks += String::from_utf8_lossy(&o.stderr).matches("animica-env: unpacked").count();
        let dir = sandbox.join("env.tar.gz-env");
        assert!(dir.join("bin/report").is_file(), "the environment is at --unpack-to");
    }
    assert_eq!(unpacks, 1, "one unpack for the worker's three tasks");
    // Both names, with their exit statuses.
    let sandbox = s.path("worker/t.0");
    for name in ["python_package_run", "poncho_package_run"] {
        let link = s.path(name);
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(BIN, &link).unwrap();
        let run = |args: &[&str]| {
            Command::new(&link)
                .args(args)
                .current_dir(&sandbox)
                .env("ANIMICA_ENV_CACHE", s.path("worker-cache"))
                .output()
                .unwrap()
        };
        assert_eq!(run(&["-e", "env.tar.gz", "fail", "9"]).status.code(), Some(9), "{name}");
        assert_eq!(run(&["-e", "env.tar.gz", "--", "no-such-command"]).status.code(), Some(127), "{name}");
        assert_eq!(run(&["-e", "missing.tar.gz", "true"]).status.code(), Some(1), "{name}");
        assert_eq!(run(&["-e", "env.tar.gz", "-n"]).status.code(), Some(0), "{name}");
        let o = run(&["--help-env-creation"]);
        assert!(stdout(&o).contains("animica-env create"), "{name}");
        let o = run(&["-d", "-e", "env.tar.gz", "true"]);
        assert!(String::from_utf8_lossy(&o.stderr).contains("environment ready at"), "{name}: -d");
        // A file where the directory should be.
        fs::write(sandbox.join("a-file"), "x").unwrap();
        assert_eq!(run(&["-e", "env.tar.gz", "-u", "a-file", "true"]).status.code(), Some(1), "{name}");
    }
}

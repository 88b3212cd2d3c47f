//! `animica-env analyze` and `python_package_analyze`, run as real binaries.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::Scratch;

const BIN: &str = env!("CARGO_BIN_EXE_animica-env");

fn run(program: &Path, args: &[&str], cwd: &Path, stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(cwd).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(s) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "failed: {}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

const SEED_EXAMPLE: &str = "import os\nimport sys\nimport pickle\n\nimport antigravity\nimport matplotlib\n\n\nif __name__ == \"__main__\":\n    print(\"example\")\n";

#[test]
fn seed_example_without_the_antigravity_bug() {
    let s = Scratch::new("seed");
    s.write("example.py", SEED_EXAMPLE);
    let o = run(Path::new(BIN), &["analyze", "--python-version", "3.7.3", "example.py", "-"], &s.0, None);
    assert_eq!(
        stdout(&o),
        "{\"local\": [], \"modules\": [\"matplotlib\"], \"optional\": [], \"python\": \"3.7.3\", \"requirements\": [\"matplotlib\"]}\n"
    );
}

#[test]
fn compat_name_follows_the_manual_page() {
    let s = Scratch::new("compat");
    let link = s.0.join("python_package_analyze");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    s.write("example.py", SEED_EXAMPLE);
    let o = run(&link, &["example.py", "dependencies.json"], &s.0, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(s.0.join("dependencies.json")).unwrap()).unwrap();
    assert_eq!(json["modules"], serde_json::json!(["matplotlib"]));
    assert!(json["python"].as_str().unwrap().starts_with("3."));
    let help = run(&link, &["-h"], &s.0, None);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("python_package_analyze [options]"));
    assert_eq!(run(&link, &[], &s.0, None).status.code(), Some(1));
    assert_eq!(run(&link, &["example.py"], &s.0, None).status.code(), Some(1));
    assert_eq!(run(&link, &["missing.py", "out.json"], &s.0, None).status.code(), Some(2));
    s.write("bad.py", "def f(:\n");
    let bad = run(&link, &["bad.py", "out.json"], &s.0, None);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad.py:1:"));
}

#[test]
fn poncho_package_analyze_takes_poncho_options_and_writes_its_spec() {
    let s = Scratch::new("poncho-name");
    let link = s.0.join("poncho_package_analyze");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    s.write("job.py", "import yaml\ndef f():\n    import requests\n");
    // poncho's options; the spec's shape (conda channels/dependencies, pip nested).
    let o = run(&link, &["--toplevel", "--extra-pkg", "six", "job.py", "-"], &s.0, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let spec: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let deps = spec["dependencies"].to_string();
    assert!(deps.contains("PyYAML") && deps.contains("six") && !deps.contains("requests"), "{spec}");
    // One argument: the output, the source on standard input (as poncho).
    let o = run(&link, &["--function", "f", "-"], &s.0, Some("import yaml\ndef f():\n    import requests\n"));
    assert!(stdout(&o).contains("requests"));
    // argparse's status for a bad command line, 1 for an error of its own.
    assert_eq!(run(&link, &[], &s.0, None).status.code(), Some(2));
    assert_eq!(run(&link, &["--toplevel", "--function", "f", "job.py", "-"], &s.0, None).status.code(), Some(2));
    assert_eq!(run(&link, &["missing.py", "-"], &s.0, None).status.code(), Some(1));
}

#[test]
fn local_code_is_followed_and_never_a_dependency() {
    let s = Scratch::new("local");
    s.write(
        "main.py",
        "import helpers\nfrom pkg import util\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import mypy_extensions\nimport requests\n",
    );
    s.write("helpers.py", "import yaml\nfrom . import sibling\n");
    s.write("sibling.py", "import sklearn.linear_model\n");
    s.write("pkg/__init__.py", "");
    s.write("pkg/util.py", "from .inner import deep\nimport numpy as np\n");
    s.write("pkg/inner/deep.py", "import PIL.Image\nimport json\n");
    let o = run(Path::new(BIN), &["analyze", "--python-version", "3.12", "main.py", "-"], &s.0, None);
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json["modules"], serde_json::json!(["PIL", "numpy", "requests", "sklearn", "yaml"]));
    assert_eq!(json["requirements"], serde_json::json!(["PyYAML", "numpy", "pillow", "requests", "scikit-learn"]));
    assert_eq!(
        json["local"],
        serde_json::json!(["helpers", "pkg", "pkg.inner", "pkg.inner.deep", "pkg.util", "sibling"])
    );
}

#[test]
fn scopes_stdin_directories_and_poncho() {
    let s = Scratch::new("scopes");
    let src = "import a_top\ndef work():\n    import b_inside\ndef other():\n    import c_other\n";
    let o = run(Path::new(BIN), &["analyze", "--python-version", "3.11", "--toplevel", "-", "-"], &s.0, Some(src));
    assert!(stdout(&o).contains("\"modules\": [\"a_top\"]"));
    let o =
        run(Path::new(BIN), &["analyze", "--python-version", "3.11", "--function", "work", "-", "-"], &s.0, Some(src));
    assert!(stdout(&o).contains("\"modules\": [\"b_inside\"]"));
    s.write("proj/one.py", "import alpha\n");
    s.write("proj/sub/two.py", "import beta\nfrom one import x\n");
    s.write("proj/.hidden/three.py", "import gamma\n");
    let o = run(
        Path::new(BIN),
        &[
            "analyze",
            "--python-version",
            "3.11",
            "--format",
            "poncho",
            "--pkg-mapping",
            "beta=beta-dist",
            "--extra-pkg",
            "extra-thing",
            "proj",
            "-",
        ],
        &s.0,
        None,
    );
    let poncho: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        poncho,
        serde_json::json!({"channels": ["conda-forge"], "dependencies": ["python=3.11", "pip", {"pip": ["alpha", "beta-dist", "extra-thing"]}]})
    );
}

/// A stand-in interpreter: a shell script answering the probe with a
/// prefix and site-packages we made, so the metadata scan is tested
/// without depending on what this machine has installed.
fn fake_python(s: &Scratch) -> PathBuf {
    let site = s.0.join("prefix/lib/python3.11/site-packages");
    fs::create_dir_all(&site).unwrap();
    let dist = |dir: &str, meta: &str, files: &[(&str, &str)]| {
        let d = site.join(dir);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("METADATA"), meta).unwrap();
        for (name, text) in files {
            fs::write(d.join(name), text).unwrap();
        }
    };
    dist(
        "PyYAML-6.0.1.dist-info",
        "Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0.1\n\nbody",
        &[("top_level.txt", "_yaml\nyaml\n")],
    );
    dist(
        "protobuf-4.25.1.dist-info",
        "Name: protobuf\nVersion: 4.25.1\n",
        &[(
            "RECORD",
            "google/protobuf/__init__.py,,\ngoogle/protobuf/message.py,,\nprotobuf-4.25.1.dist-info/RECORD,,\n",
        )],
    );
    dist(
        "numpy-1.26.4.dist-info",
        "Name: numpy\nVersion: 1.26.4\n",
        &[("RECORD", "numpy/__init__.py,,\nnumpy/linalg/__init__.py,,\n../../bin/f2py,,\n")],
    );
    let meta = s.0.join("prefix/conda-meta");
    fs::create_dir_all(&meta).unwrap();
    fs::write(
        meta.join("numpy-1.26.4-py311h_0.json"),
        r#"{"name": "numpy", "version": "1.26.4", "files": ["lib/python3.11/site-packages/numpy/__init__.py", "bin/f2py"]}"#,
    )
    .unwrap();
    let probe = serde_json::json!({
        "version": "3.11.7",
        "stdlib": ["os", "sys", "json"],
        "prefix": s.0.join("prefix"),
        "site": [site],
    });
    let script = s.write("fake-python", &format!("#!/bin/sh\ncat <<'EOF'\n{probe}\nEOF\n"));
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn installed_metadata_pins_versions_and_splits_conda_from_pip() {
    let s = Scratch::new("installed");
    let py = fake_python(&s);
    let py = py.to_str().unwrap();
    s.write("job.py", "import yaml, numpy.linalg, json, requests\nfrom google.protobuf import message\n");
    let o = run(Path::new(BIN), &["analyze", "--python", py, "job.py", "-"], &s.0, None);
    assert_eq!(
        stdout(&o),
        "{\"local\": [], \"modules\": [\"google\", \"numpy\", \"requests\", \"yaml\"], \"optional\": [], \"python\": \"3.11.7\", \
         \"requirements\": [\"PyYAML==6.0.1\", \"numpy==1.26.4\", \"protobuf==4.25.1\", \"requests\"]}\n"
    );
    let o = run(Path::new(BIN), &["analyze", "--python", py, "--format", "poncho", "job.py", "-"], &s.0, None);
    let poncho: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        poncho["dependencies"],
        serde_json::json!(["python=3.11.7", "numpy=1.26.4", "pip", {"pip": ["PyYAML==6.0.1", "protobuf==4.25.1", "requests"]}])
    );
}

#[test]
fn the_real_interpreter_on_path_answers() {
    let python = ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|p| Command::new(p).arg("-V").output().is_ok())
        .expect("a python3 is needed for this test (Debian: apt-get install python3)");
    let want = stdout(
        &Command::new(python).args(["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"]).output().unwrap(),
    );
    let s = Scratch::new("real");
    s.write("t.py", "import tomllib, os\n");
    let o = run(Path::new(BIN), &["analyze", "--python", python, "t.py", "-"], &s.0, None);
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json["python"], want.trim());
}

#[test]
fn errors_name_what_went_wrong() {
    let s = Scratch::new("errors");
    s.write("bad.py", "x = 1\nclass:\n");
    let o = run(Path::new(BIN), &["analyze", "--python-version", "3.11", "bad.py", "-"], &s.0, None);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.py:2:"), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(Path::new(BIN), &["analyze", "--python-version", "3.11", "nope.py", "-"], &s.0, None);
    assert_eq!(o.status.code(), Some(2));
    let o = run(Path::new(BIN), &["analyze", "--python-version", "2.7", "bad.py", "-"], &s.0, None);
    assert_eq!(o.status.code(), Some(4));
    let o = run(Path::new(BIN), &["analyze", "only-one-arg"], &s.0, None);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn same_input_same_bytes() {
    let s = Scratch::new("determinism");
    s.write("a.py", "import zeta, alpha\nimport mid\nfrom beta import x\n");
    let one = stdout(&run(Path::new(BIN), &["analyze", "--python-version", "3.10", "a.py", "-"], &s.0, None));
    let two = stdout(&run(Path::new(BIN), &["analyze", "--python-version", "3.10", "a.py", "-"], &s.0, None));
    assert_eq!(one, two);
    assert!(one.contains("[\"alpha\", \"beta\", \"mid\", \"zeta\"]"));
}

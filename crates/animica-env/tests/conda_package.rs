//! The conda path end to end: the `animica-native` package `make conda`
//! built from recipe/ (target/conda-channel) goes into an environment that
//! `create` solves from an environment.yml, and real `work_queue_worker`s
//! run the API document's quickstart in it through `animica-env run`
//! (examples/workqueue/manager.py with native_task.py). `make test` builds
//! the channel first (`make conda`, cached while its inputs are unchanged).

mod common;

use common::Scratch;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_animica-env");
/// BLAKE3("hello world"), the quickstart's first line.
const QUICKSTART_DIGEST: &str = "d74981efa70a0c880b8d8c1985d075dbcbf679b99a5f9914e5aaf96b831a9e24";

/// Whether the tasks should select animica-core's `kernel` (`avx512`:
/// AVX-512F, BW and VL; `shani`: SHA-NI and SSE4.1), as its backend would
/// unless ANIMICA_BACKEND caps it below (`avx2`: no AVX-512; `portable`:
/// neither), read as the core does not: from /proc/cpuinfo, so the two are
/// checked against each other.
fn kernel_expected(kernel: &str) -> bool {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let flags: Vec<&str> = info.lines().find(|l| l.starts_with("flags")).unwrap().split_whitespace().collect();
    let cap = std::env::var("ANIMICA_BACKEND").unwrap_or_default().trim().to_ascii_lowercase();
    let allowed = match cap.as_str() {
        "portable" | "neon" => false,
        "avx2" => kernel != "avx512",
        _ => true,
    };
    let needs: &[&str] = if kernel == "avx512" { &["avx512f", "avx512bw", "avx512vl"] } else { &["sha_ni", "sse4_1"] };
    needs.iter().all(|f| flags.contains(f)) && flags.contains(&"avx2") && allowed
}

#[test]
fn quickstart_runs_from_the_conda_package_on_work_queue_workers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let packages = root.join("target/conda-channel");
    let channel = root.join("target/channel");
    assert!(packages.join("linux-64/repodata.json").is_file(), "no conda packages: run `make conda` first");
    assert!(channel.join("noarch/repodata.json").is_file(), "run `make channel` first");
    let has_wq = Command::new("/usr/bin/python3").args(["-c", "import work_queue"]).status().is_ok_and(|s| s.success());
    assert!(
        has_wq && Command::new("work_queue_worker").arg("--version").output().is_ok(),
        "Work Queue is missing: apt-get install coop-computing-tools python3-workqueue (make test does it)"
    );

    let s = Scratch::new("conda-package");
    let spec = s.write("environment.yml", "name: quickstart\ndependencies:\n  - python=3.11\n  - animica-native\n");
    let created = Command::new(BIN)
        .args(["create", "-q", "-c", packages.to_str().unwrap(), "-c", channel.to_str().unwrap()])
        .args([
            "--cache",
            s.path("cache").to_str().unwrap(),
            spec.to_str().unwrap(),
            s.path("quickstart").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(created.status.success(), "create: {}", String::from_utf8_lossy(&created.stderr));

    let tasks = 4;
    let out = Command::new("/usr/bin/python3")
        .arg(root.join("examples/workqueue/manager.py"))
        .args(["--animica-env", BIN, "--env", s.path("quickstart.tar.zst").to_str().unwrap()])
        .args(["--script", root.join("examples/workqueue/native_task.py").to_str().unwrap()])
        .args(["--input", root.join("examples/seed_quickstart.py").to_str().unwrap()])
        .args(["--expect", "quickstart ok", "--expect", QUICKSTART_DIGEST])
        .args(["--tasks", &tasks.to_string(), "--local-workers", "2", "--timeout", "600"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["ok"], tasks);

    let (avx512, shani) = (kernel_expected("avx512"), kernel_expected("shani"));
    if !avx512 {
        // Past libtest's capture (it takes only the print macros), so the
        // run's output shows what was not exercised.
        let msg = "NOT RUN in this process: the conda package's AVX-512 kernels (no AVX-512F/BW, or disabled); its fallbacks ran\n";
        std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes()).unwrap();
    }
    for (i, output) in summary["outputs"].as_object().unwrap() {
        let output = output.as_str().unwrap();
        let line = |key: &str| {
            output
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("task {i}: no {key:?} in {output}"))
        };
        let prefix = line("prefix ");
        assert!(
            line("module ").starts_with(prefix),
            "task {i}: animica_native came from outside the environment:\n{output}"
        );
        assert!(line("conda package ").starts_with("animica-native-0.1.0-py311"), "task {i}:\n{output}");
        let info: serde_json::Value = serde_json::from_str(line("build_info ")).unwrap();
        let features: Vec<&str> = info["features"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
        for optimized in ["simd", "rayon", "c_keccak"] {
            assert!(features.contains(&optimized), "task {i}: the conda build lacks {optimized}: {features:?}");
        }
        // With both kernels, the one timed faster at first use.
        let sha: &[&str] = match (avx512, shani) {
            (true, true) => &["avx512 16-lane (timed", "SHA-NI, 4 messages interleaved (timed"],
            (false, true) => &["SHA-NI, 4 messages interleaved"],
            (true, false) => &["avx512 16-lane"],
            (false, false) => &["sha2"],
        };
        let rs = if avx512 { "avx512" } else { "reed-solomon-simd" };
        let batch = info["sha256_batch"].as_str().unwrap();
        assert!(sha.iter().any(|s| batch.starts_with(s)), "task {i}: {info}");
        assert!(info["reed_solomon"].as_str().unwrap().starts_with(rs), "task {i}: {info}");
    }
}

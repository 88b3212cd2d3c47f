//! A real Work Queue: a manager (examples/workqueue/manager.py, Work Queue's
//! Python bindings) and two `work_queue_worker`s on loopback run 24 tasks
//! through `animica-env run` in an environment `create` built from the
//! offline channel. `make test` installs coop-computing-tools and
//! python3-workqueue first when they are missing.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_animica-env");

#[test]
fn twenty_four_tasks_on_two_workers_one_unpack_each() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let channel = root.join("target/channel");
    assert!(channel.join("noarch/repodata.json").is_file(), "run `make channel` first");
    let has_wq = Command::new("/usr/bin/python3").args(["-c", "import work_queue"]).status().is_ok_and(|s| s.success());
    let has_worker = Command::new("work_queue_worker").arg("--version").output().is_ok();
    assert!(
        has_wq && has_worker,
        "Work Queue is missing: apt-get install coop-computing-tools python3-workqueue (make test does it)"
    );
    let tmp = std::env::temp_dir().join(format!("animica-env-wq-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("spec.json"), r#"{"python": "3.11", "requirements": ["tabulate", "six"]}"#).unwrap();
    let created = Command::new(BIN)
        .current_dir(&tmp)
        .args([
            "create",
            "-q",
            "-c",
            channel.to_str().unwrap(),
            "--cache",
            tmp.join("cache").to_str().unwrap(),
            "spec.json",
            "job",
        ])
        .env("PIP_NO_INDEX", "1")
        .env("PIP_FIND_LINKS", channel.join("wheels"))
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let out = Command::new("/usr/bin/python3")
        .arg(root.join("examples/workqueue/manager.py"))
        .args(["--animica-env", BIN, "--env", tmp.join("job.tar.zst").to_str().unwrap()])
        .args(["--tasks", "24", "--local-workers", "2", "--timeout", "600"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["ok"], 24);
    let unpacks = summary["unpacks_per_worker"].as_object().unwrap();
    assert_eq!(unpacks.len(), 2, "both workers ran tasks: {unpacks:?}");
    assert!(unpacks.values().all(|n| n == 1), "each worker unpacked exactly once: {unpacks:?}");
    for (i, output) in summary["outputs"].as_object().unwrap() {
        assert!(output.as_str().unwrap().contains(&format!("{i}  ")), "task {i} printed another task's rows: {output}");
    }
    let first = summary["outputs"]["0"].as_str().unwrap();
    assert!(first.contains("  2      4      2") && first.contains("prefix "), "{first}");
}

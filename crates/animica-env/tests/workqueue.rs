//! A real Work Queue: managers written against Work Queue's Python bindings
//! and two `work_queue_worker`s on loopback. One (examples/workqueue/
//! manager.py) runs 24 tasks through `animica-env run` in an environment
//! `create` built from the offline channel; the other
//! (examples/workqueue/python_task.py) is cctools' own `PythonTask` with
//! `specify_environment`, this binary standing in for `python_package_create`
//! and `python_package_run`. `make test` installs coop-computing-tools,
//! python3-workqueue and python3-dill first when they are missing.

use std::path::Path;
use std::process::Command;

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_animica-env");

/// The repository root and the offline channel, after checking that Work
/// Queue (and dill, for PythonTask) are installed.
fn prerequisites() -> (std::path::PathBuf, std::path::PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let channel = root.join("target/channel");
    assert!(channel.join("noarch/repodata.json").is_file(), "run `make channel` first");
    let has_wq =
        Command::new("/usr/bin/python3").args(["-c", "import work_queue, dill"]).status().is_ok_and(|s| s.success());
    let has_worker = Command::new("work_queue_worker").arg("--version").output().is_ok();
    assert!(
        has_wq && has_worker,
        "Work Queue is missing: apt-get install coop-computing-tools python3-workqueue python3-dill (make test does it)"
    );
    (root, channel)
}

/// Both local workers ran work, and each unpacked the environment once.
fn one_unpack_on_each_of_two_workers(summary: &serde_json::Value) {
    let unpacks = summary["unpacks_per_worker"].as_object().unwrap();
    assert_eq!(unpacks.len(), 2, "both workers ran tasks: {unpacks:?}");
    assert!(unpacks.values().all(|n| n == 1), "each worker unpacked exactly once: {unpacks:?}");
}

#[test]
fn twenty_four_tasks_on_two_workers_one_unpack_each() {
    let (root, channel) = prerequisites();
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
    let summary = common::json_summary(&out);
    assert_eq!(summary["ok"], 24);
    one_unpack_on_each_of_two_workers(&summary);
    for (i, output) in summary["outputs"].as_object().unwrap() {
        assert!(output.as_str().unwrap().contains(&format!("{i}  ")), "task {i} printed another task's rows: {output}");
    }
    let first = summary["outputs"]["0"].as_str().unwrap();
    assert!(first.contains("  2      4      2") && first.contains("prefix "), "{first}");
}

#[test]
fn work_queue_python_task_with_specify_environment() {
    let (root, channel) = prerequisites();
    let tmp = std::env::temp_dir().join(format!("animica-env-pytask-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let links = tmp.join("bin");
    let made = Command::new(BIN).args(["install-links", links.to_str().unwrap()]).status().unwrap();
    assert!(made.success());
    // cctools' PythonTask finds python_package_run on PATH and ships it.
    let path = format!("{}:{}", links.display(), std::env::var("PATH").unwrap_or_default());
    // cctools 9.9's form: SPEC OUT, a conda environment file with a pip section.
    let spec = format!(
        r#"{{"channels": ["{}"], "dependencies": ["python=3.11", "tabulate", "pip", {{"pip": ["dill==0.3.6"]}}]}}"#,
        channel.display()
    );
    std::fs::write(tmp.join("spec.json"), spec).unwrap();
    let created = Command::new("python_package_create")
        .current_dir(&tmp)
        .args(["spec.json", "env.tar.gz"])
        .env("PATH", &path)
        .env("ANIMICA_ENV_CACHE", tmp.join("create-cache"))
        .env("PIP_NO_INDEX", "1")
        .env("PIP_FIND_LINKS", channel.join("wheels"))
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let out = Command::new("/usr/bin/python3")
        .arg(root.join("examples/workqueue/python_task.py"))
        .args(["--env", tmp.join("env.tar.gz").to_str().unwrap(), "--calls", "12", "--local-workers", "2"])
        .args(["--timeout", "600"])
        .current_dir(&tmp)
        .env("PATH", &path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&tmp);
    let summary = common::json_summary(&out);
    assert_eq!(summary["ok"], 12, "{summary}");
    one_unpack_on_each_of_two_workers(&summary);
    assert_eq!(summary["results"]["5"]["square"], 25);
}

//! Apache Spark, where most people ship packed conda environments: a real
//! standalone cluster on loopback (a master and two workers from pyspark's
//! jars, this machine's Java) runs examples/spark/job.py with
//! `--archives env.tar.gz#environment` and
//! `spark.pyspark.python=./environment/bin/python`. Spark unpacks the
//! archive itself; nothing of animica-env runs on the executors. Each task
//! must import a package only the archive has, and run one of its console
//! scripts (which works only once the environment relocated itself there).
//! `make test` provides pyspark (requirements/dev.txt) and Java.

use std::path::Path;
use std::process::Command;

mod common;
use common::Scratch;

#[test]
fn pyspark_executors_run_inside_an_archive_spark_unpacked() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    let has_pyspark = Command::new(&python).args(["-c", "import pyspark"]).status().is_ok_and(|s| s.success());
    assert!(has_pyspark, "pyspark is missing from .venv: make develop installs requirements/dev.txt");
    assert!(
        Command::new("java").arg("-version").output().is_ok(),
        "Java is missing: apt-get install openjdk-17-jre-headless"
    );
    let tmp = Scratch::new("spark");
    // The driver's Python is 3.11 (.venv): so must the executors' be.
    let env = common::create_tar_gz(&tmp.0, r#"{"python": "3.11", "requirements": ["tabulate"]}"#);
    let out = Command::new(&python)
        .arg(root.join("examples/spark/cluster.py"))
        .args(["--env", env.to_str().unwrap(), "--workers", "2", "--timeout", "600"])
        .output()
        .unwrap();
    let summary = common::json_summary(&out);
    assert_eq!(summary["ok"], 8, "{summary}");
    assert_eq!(summary["executors"], 2, "both workers ran an executor: {summary}");
}

//! TaskVine from current cctools (Debian trixie's 7.14, in a chroot made by
//! ci/cctools_chroot.py: this machine's cctools 9.9 has no TaskVine): a
//! manager (examples/taskvine/manager.py) declares an archive made here as
//! a poncho package (`declare_poncho`) and runs 10 tasks on 2 `vine_worker`s.
//! The workers unpack it with plain tar and run each task through the
//! archive's own `bin/run_in_env`; nothing of animica-env is in the chroot.
//! `make test-rust` makes the chroot first (cached in target/chroots).

use std::path::Path;
use std::process::Command;

mod common;
use common::Scratch;

#[test]
fn declare_poncho_on_two_vine_workers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap();
    assert!(
        root.join("target/chroots/trixie-cctools/.animica-ready").is_file(),
        "the cctools chroot is missing: run `make cctools-chroot` (ci/cctools_chroot.py make; make test-rust does it)"
    );
    let tmp = Scratch::new("vine");
    common::create_tar_gz(&tmp.0, r#"{"python": "3.11", "requirements": ["tabulate"]}"#);
    std::fs::copy(root.join("examples/taskvine/manager.py"), tmp.0.join("manager.py")).unwrap();
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("ci/cctools_chroot.py"))
        .args(["run", tmp.0.to_str().unwrap(), "--", "python3", "manager.py", "--env", "env.tar.gz"])
        .args(["--tasks", "10", "--local-workers", "2", "--timeout", "240"])
        .output()
        .unwrap();
    let summary = common::json_summary(&out);
    assert_eq!(summary["ok"], 10, "{summary}");
    assert_eq!(summary["workers"], 2, "{summary}");
    // One relocation per worker, for its cache, not per task sandbox.
    for (worker, places) in summary["relocated_to"].as_object().unwrap() {
        let places = places.as_array().unwrap();
        assert_eq!(places.len(), 1, "{worker}: {places:?}");
        assert!(places[0].as_str().unwrap().contains("/cache/"), "{worker}: {places:?}");
    }
}

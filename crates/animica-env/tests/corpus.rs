//! `analyze` on real projects' sources (tests/corpus/sources.json, fetched
//! from their PyPI sdists by tests/corpus/fetch.py; `make test` runs it
//! first) against reviewed expected outputs (tests/corpus/expected/).

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_animica-env");

fn corpus_dir() -> PathBuf {
    match std::env::var_os("ANIMICA_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/corpus"),
    }
}

#[test]
fn real_projects_match_their_reviewed_analysis() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let sources: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(here.join("sources.json")).unwrap()).unwrap();
    let dir = corpus_dir();
    let mut checked = 0;
    for src in sources.as_array().unwrap() {
        let (project, version) = (src["project"].as_str().unwrap(), src["version"].as_str().unwrap());
        assert!(
            dir.join(format!("{project}-{version}.ok")).is_file(),
            "the corpus is not fetched: run `python3 crates/animica-env/tests/corpus/fetch.py` (or `make corpus`); missing {project} {version} in {}",
            dir.display()
        );
        let target = dir.join(src["target"].as_str().unwrap());
        let out =
            Command::new(BIN).args(["analyze", "--python-version", "3.11"]).arg(&target).arg("-").output().unwrap();
        assert!(out.status.success(), "{project}: {}", String::from_utf8_lossy(&out.stderr));
        let want = std::fs::read_to_string(here.join("expected").join(format!("{project}.json"))).unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want, "{project}");
        checked += 1;
    }
    assert_eq!(checked, 8);
}

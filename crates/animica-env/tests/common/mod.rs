//! Helpers shared by the CLI test binaries (each uses a part of them).
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch directory, unique to the test binary's process, removed on drop.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("animica-env-test-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    /// Writes `text` to `rel`, creating parent directories.
    pub(crate) fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A small environment built under a long staging prefix: a script that
/// reports where it runs, a binary-looking file holding the prefix, a
/// symlink, and an env_vars.d entry.
pub(crate) fn make_prefix(s: &Scratch) -> PathBuf {
    let prefix = s.0.join("staging").join("_placeholder".repeat(8)).join("env");
    for d in ["bin", "lib", "etc/conda/env_vars.d"] {
        fs::create_dir_all(prefix.join(d)).unwrap();
    }
    let script = format!(
        "#!/bin/sh\necho \"built=$(cat {p}/lib/marker.txt) here=$CONDA_PREFIX foo=$FOO pythonpath=${{PYTHONPATH-unset}} args=$*\"\n",
        p = prefix.display()
    );
    write_exec(&prefix.join("bin/report"), &script);
    write_exec(&prefix.join("bin/fail"), "#!/bin/sh\nexit \"$1\"\n");
    write_exec(&prefix.join("bin/die"), "#!/bin/sh\nkill -TERM $$\n");
    fs::write(prefix.join("lib/marker.txt"), format!("{}/lib", prefix.display())).unwrap();
    let mut bin = b"\x7fELF\0\0".to_vec();
    bin.extend_from_slice(format!("{}/lib:{}/lib64\0rest\0", prefix.display(), prefix.display()).as_bytes());
    fs::write(prefix.join("lib/libfake.so"), &bin).unwrap();
    std::os::unix::fs::symlink("report", prefix.join("bin/report-link")).unwrap();
    fs::write(prefix.join("etc/conda/env_vars.d/vars.json"), r#"{"FOO": "bar"}"#).unwrap();
    prefix
}

pub(crate) fn write_exec(p: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    fs::write(p, text).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
}

/// `animica-env pack` of [`make_prefix`]'s environment into `name` (its
/// staging directory removed afterwards: nothing may depend on it). With
/// `python`, the environment's `bin/python` is this machine's python3, so
/// the archive's `bin/conda-unpack` is the Python script, not the binary.
pub(crate) fn pack(s: &Scratch, name: &str) -> PathBuf {
    pack_with(s, name, false)
}

/// [`pack`], choosing whether the environment has a Python.
pub(crate) fn pack_with(s: &Scratch, name: &str, python: bool) -> PathBuf {
    let prefix = make_prefix(s);
    if python {
        // (A link out of the environment would not be packed.)
        let host = ["/usr/bin/python3", "/bin/python3"].into_iter().find(|p| Path::new(p).exists()).unwrap();
        write_exec(&prefix.join("bin/python"), &format!("#!/bin/sh\nexec {host} \"$@\"\n"));
    }
    let out = s.0.join(name);
    let o = Command::new(env!("CARGO_BIN_EXE_animica-env"))
        .args(["pack", prefix.to_str().unwrap(), out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "pack: {}", String::from_utf8_lossy(&o.stderr));
    fs::remove_dir_all(s.0.join("staging")).unwrap();
    out
}

/// The offline test channel (`make channel`).
pub(crate) fn test_channel() -> PathBuf {
    let channel = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/channel");
    assert!(channel.join("noarch/repodata.json").is_file(), "the offline test channel is missing: run `make channel`");
    channel.canonicalize().unwrap()
}

/// `animica-env create --format tar.gz` of `spec` (a spec's text) from the
/// test channel: writes `dir/env.tar.gz` (its create cache under `dir`,
/// removed after) and returns its path.
pub(crate) fn create_tar_gz(dir: &Path, spec: &str) -> PathBuf {
    fs::write(dir.join("spec.json"), spec).unwrap();
    let cache = dir.join("create-cache");
    let o = Command::new(env!("CARGO_BIN_EXE_animica-env"))
        .current_dir(dir)
        .args(["create", "-q", "--format", "tar.gz", "-c", test_channel().to_str().unwrap()])
        .args(["--cache", cache.to_str().unwrap(), "spec.json", "env"])
        .env("PIP_NO_INDEX", "1")
        .env("PIP_FIND_LINKS", test_channel().join("wheels"))
        .output()
        .unwrap();
    assert!(o.status.success(), "create: {}", String::from_utf8_lossy(&o.stderr));
    let _ = fs::remove_dir_all(cache);
    dir.join("env.tar.gz")
}

/// The JSON summary an example manager printed on standard output (from
/// its first `{`), after checking that it succeeded.
pub(crate) fn json_summary(o: &std::process::Output) -> serde_json::Value {
    assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let start = o.stdout.iter().position(|&b| b == b'{').expect("a JSON summary on stdout");
    serde_json::from_slice(&o.stdout[start..]).unwrap()
}

/// `n` pseudo-random bytes (xorshift; incompressible, so archives of it
/// keep their size and take a while to unpack).
pub(crate) fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

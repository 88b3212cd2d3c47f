//! Asking a Python interpreter about itself: version, standard library
//! and where its packages live.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use crate::error::{Error, Result};

/// What an interpreter told us.
#[derive(Debug, Clone, Deserialize)]
pub struct Interpreter {
    /// Full version, `3.11.7`.
    pub version: String,
    /// `sys.stdlib_module_names` (Python 3.10+).
    pub stdlib: Option<Vec<String>>,
    /// `sys.prefix` (where `conda-meta/` would be).
    pub prefix: PathBuf,
    /// Site-packages directories, system and user.
    pub site: Vec<PathBuf>,
}

const PROBE: &str = r#"
import json, site, sys
dirs = []
try:
    dirs += site.getsitepackages()
except Exception:
    pass
try:
    dirs.append(site.getusersitepackages())
except Exception:
    pass
dirs += [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and p not in dirs]
names = getattr(sys, "stdlib_module_names", None)
print(json.dumps({
    "version": "%d.%d.%d" % sys.version_info[:3],
    "stdlib": sorted(names) if names is not None else None,
    "prefix": sys.prefix,
    "site": dirs,
}))
"#;

/// Runs `python` to learn about it.
pub fn probe(python: &Path) -> Result<Interpreter> {
    let out = Command::new(python)
        .args(["-c", PROBE])
        .output()
        .map_err(|e| Error::Interpreter(format!("cannot run {}: {e}", python.display())))?;
    if !out.status.success() {
        return Err(Error::Interpreter(format!(
            "{} failed ({}): {}",
            python.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Interpreter(format!("{} is not a CPython 3 we understand: {e}", python.display())))
}

/// `python3` (else `python`) on PATH, if any.
pub fn on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["python3", "python"]
        .iter()
        .find_map(|name| std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file() && is_executable(p)))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

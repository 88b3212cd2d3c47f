//! Packed environments: the archive format (`manifest`), `pack`,
//! `unpack` and `relocate`.

pub mod confined;
pub mod limits;
pub mod manifest;
pub mod pack;
pub mod relocate;
pub mod unpack;

use crate::error::{Error, Result};
use pack::Extra;

/// What `activate` does, for cctools' runner (which sources it) and for
/// people: the same variables `run` sets.
const ACTIVATE: &str = r#"# Activate this environment: `. bin/activate` (written by animica-env).
_animica_env_bin="$(cd "$(dirname "${BASH_SOURCE:-$0}")" && pwd)"
CONDA_PREFIX="$(dirname "$_animica_env_bin")"
export CONDA_PREFIX
export CONDA_DEFAULT_ENV="$CONDA_PREFIX"
export CONDA_SHLVL=1
export PATH="$_animica_env_bin:$PATH"
unset PYTHONPATH PYTHONHOME _animica_env_bin
for _animica_env_f in "$CONDA_PREFIX"/etc/conda/activate.d/*.sh; do
    [ -f "$_animica_env_f" ] && . "$_animica_env_f"
done
unset _animica_env_f
"#;

/// `bin/conda-unpack` for environments that have a Python: run by the
/// environment's own interpreter (a `/bin/sh` trampoline finds it), it does
/// what `relocate` does, from the manifest, in a few lines of Python.
const CONDA_UNPACK_PY: &str = include_str!("conda_unpack.py");

/// `bin/poncho_package_run`: cctools' runner in POSIX sh (unpack, relocate
/// once, activate, run), so archives work where nothing is installed.
const PONCHO_PACKAGE_RUN: &str = include_str!("poncho_package_run.sh");

/// `bin/run_in_env COMMAND...`: the runner for this environment wherever it
/// was unpacked (what TaskVine's `declare_poncho` calls).
const RUN_IN_ENV: &str = include_str!("run_in_env.sh");

/// `_animica_env_relocate.py` and its `.pth`, put in each `site-packages`
/// of an environment with a Python: its first start after a plain untar
/// relocates the environment (for runners that start `bin/python` directly,
/// as Spark's `--archives` does).
const RELOCATE_HOOK: &str = include_str!("relocate_hook.py");

/// The launchers every packed environment carries: `bin/activate`,
/// `bin/run_in_env`, `bin/poncho_package_run` (shell, see above) and
/// `bin/conda-unpack`, which relocates the environment it sits in: a
/// Python script when the environment has `bin/python` (as Python
/// environments do), else a copy of this binary (which does the same when
/// called by that name).
pub fn launchers(prefix: &std::path::Path) -> Result<Vec<Extra>> {
    let mut hooks = Vec::new();
    let has_python = prefix.join("bin/python").exists();
    if has_python && let Ok(entries) = std::fs::read_dir(prefix.join("lib")) {
        let mut dirs: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.starts_with("python") && prefix.join("lib").join(n).join("site-packages").is_dir())
            .collect();
        dirs.sort();
        for d in dirs {
            let sp = format!("lib/{d}/site-packages");
            hooks.push(Extra {
                path: format!("{sp}/_animica_env_relocate.pth"),
                data: b"import _animica_env_relocate\n".to_vec(),
                executable: false,
            });
            hooks.push(Extra {
                path: format!("{sp}/_animica_env_relocate.py"),
                data: RELOCATE_HOOK.as_bytes().to_vec(),
                executable: false,
            });
        }
    }
    let unpack = if has_python {
        CONDA_UNPACK_PY.as_bytes().to_vec()
    } else {
        let exe = std::env::current_exe().map_err(|source| Error::Input { path: "/proc/self/exe".into(), source })?;
        std::fs::read(&exe).map_err(|source| Error::Input { path: exe.clone(), source })?
    };
    Ok([
        Extra { path: "bin/activate".into(), data: ACTIVATE.as_bytes().to_vec(), executable: false },
        Extra { path: "bin/conda-unpack".into(), data: unpack, executable: true },
        Extra { path: "bin/poncho_package_run".into(), data: PONCHO_PACKAGE_RUN.as_bytes().to_vec(), executable: true },
        Extra { path: "bin/run_in_env".into(), data: RUN_IN_ENV.as_bytes().to_vec(), executable: true },
    ]
    .into_iter()
    .chain(hooks)
    .collect())
}

/// Where the environment was last relocated to (one line), written after
/// each relocation: the archives' shell launchers compare it with where
/// they are and run `bin/conda-unpack` only when they differ.
pub const RELOCATED_TO: &str = ".animica-env/relocated-to";

/// Relocates the unpacked environment at `root` from the prefix its
/// manifest records to `root` itself, and records the new prefix.
pub fn relocate_in_place(root: &std::path::Path) -> Result<()> {
    let new = root.to_str().ok_or_else(|| Error::Usage(format!("{} is not UTF-8", root.display())))?;
    relocate_to(root, new)
}

/// Relocates the unpacked environment at `root` for `new_prefix` (where it
/// will be used: `run` relocates under a temporary name before the rename
/// that publishes it), and records the new prefix in its manifest. The
/// manifest is read, checked and rewritten without following links.
pub fn relocate_to(root: &std::path::Path, new_prefix: &str) -> Result<()> {
    use std::io::Read;
    let path = root.join(manifest::MANIFEST_PATH);
    let fail = |reason: String| Error::Relocate { path: path.clone(), reason };
    let dir = confined::Confined::open(root).map_err(|source| Error::Input { path: root.to_owned(), source })?;
    let mut file =
        dir.open_file(manifest::MANIFEST_PATH).map_err(|source| Error::Input { path: path.clone(), source })?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(|source| Error::Input { path: path.clone(), source })?;
    let mut m = manifest::Manifest::from_json(&text).map_err(fail)?;
    if m.prefix != new_prefix {
        relocate::relocate(root, &m, new_prefix)?;
        m.prefix = new_prefix.to_owned();
        confined::overwrite(&mut file, m.to_json().as_bytes())
            .map_err(|source| Error::Output { path: path.clone(), source })?;
    }
    // What bin/run_in_env compares with where it is, to skip conda-unpack.
    dir.replace_file(RELOCATED_TO, format!("{new_prefix}\n").as_bytes(), 0o644)
        .map_err(|source| Error::Output { path: root.join(RELOCATED_TO), source })
}

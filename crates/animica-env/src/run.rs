//! `run`: unpack an environment once per worker, activate it, run a
//! command in it.
//!
//! Unpacked environments live under a cache root keyed by the archive's
//! content hash. The first `run` takes a file lock, unpacks into a
//! temporary directory, verifies and relocates it there, then renames it
//! into place; the rename is the only moment the environment becomes
//! visible, so concurrent runs wait for it and a killed unpack leaves only
//! a temporary directory, which the next cold run removes. A warm run
//! checks that one directory exists, then starts the command and waits for
//! it. It spawns rather than `exec`s on purpose: the child is tied to us
//! with `PR_SET_PDEATHSIG` (a worker that kills `run` kills the task), and
//! its status comes back as 128+N for a signal N, which is what cctools'
//! runners and shells expect; the cost is one fork (the warm overhead in
//! bench/env-results.md includes it).

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::env::limits::Limits;
use crate::env::manifest::MANIFEST_PATH;
use crate::env::unpack;
use crate::error::{Error, Result};
use crate::lock::Lock;

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Unpack root (`-u`); default `$ANIMICA_ENV_CACHE` or
    /// `~/.cache/animica-env`.
    pub root: Option<PathBuf>,
    /// How long to wait for another process's unpack (`-w`).
    pub wait: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { root: None, wait: Duration::from_secs(300) }
    }
}

/// The default cache root.
pub fn default_root() -> PathBuf {
    if let Some(d) = std::env::var_os("ANIMICA_ENV_CACHE") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("animica-env")
}

/// The archive `env` names: a path, or a name completed with
/// `.tar.zst` / `.tar.gz`; `Ok(None)` for a directory (used in place).
pub fn locate(env: &str) -> Result<Option<PathBuf>> {
    let p = Path::new(env);
    if p.is_dir() {
        return Ok(None);
    }
    for candidate in [p.to_path_buf(), PathBuf::from(format!("{env}.tar.zst")), PathBuf::from(format!("{env}.tar.gz"))]
    {
        if candidate.is_file() {
            return Ok(Some(candidate));
        }
    }
    Err(Error::Input {
        path: p.to_owned(),
        source: io::Error::new(io::ErrorKind::NotFound, "no such environment (tried NAME, NAME.tar.zst, NAME.tar.gz)"),
    })
}

/// An environment directory used in place: one unpacked by hand from an
/// animica-env archive is relocated first (once: the manifest then records
/// where it is), under the same lock discipline as an unpack.
pub fn prepare_dir(dir: &Path) -> Result<PathBuf> {
    // Its physical path, as the archives' launchers use: one directory
    // reached through several links is relocated once.
    let dir = fs::canonicalize(dir).map_err(|source| Error::Input { path: dir.to_owned(), source })?;
    if dir.join(MANIFEST_PATH).is_file() {
        let _lock = Lock::exclusive(&dir.join(".animica-env").join("lock"), Duration::from_secs(300))?;
        crate::env::relocate_in_place(&dir)?;
    }
    Ok(dir)
}

/// Makes sure `archive` is unpacked under the root; returns the prefix.
pub fn ensure_unpacked(archive: &Path, opts: &RunOptions) -> Result<PathBuf> {
    // Read even when the archive is already unpacked: a bad value fails
    // every run alike, not only the first on a machine.
    let limits = Limits::from_env()?;
    let root = opts.root.clone().unwrap_or_else(default_root);
    let out_err = |path: &Path, source: io::Error| Error::Output { path: path.to_owned(), source };
    let key = content_key(archive, &root)?;
    let prefix = root.join("envs").join(&key);
    if prefix.is_dir() {
        return Ok(prefix);
    }
    for d in ["envs", "locks", "tmp"] {
        fs::create_dir_all(root.join(d)).map_err(|e| out_err(&root.join(d), e))?;
    }
    let lock_path = root.join("locks").join(format!("{key}.lock"));
    let _lock = Lock::exclusive(&lock_path, opts.wait)?;
    if prefix.is_dir() {
        return Ok(prefix); // another process finished while we waited
    }
    remove_leftovers(&root, &key);
    let tmp = root.join("tmp").join(format!("{key}.{}", std::process::id()));
    fs::create_dir_all(&tmp).map_err(|e| out_err(&tmp, e))?;
    let started = Instant::now();
    let result = (|| {
        let manifest = unpack::unpack(archive, &tmp, &limits)?;
        let final_str = prefix.to_str().ok_or_else(|| Error::Usage(format!("{} is not UTF-8", prefix.display())))?;
        // Relocated for the final path while still hidden under tmp/.
        crate::env::relocate_to(&tmp, final_str)?;
        fs::rename(&tmp, &prefix).map_err(|e| out_err(&prefix, e))?;
        Ok(manifest.entries.len())
    })();
    match result {
        Ok(entries) => {
            // Once per archive and machine: worth a line in the task's log.
            eprintln!(
                "animica-env: unpacked {} into {} ({entries} entries, {} ms)",
                archive.display(),
                prefix.display(),
                started.elapsed().as_millis()
            );
            Ok(prefix)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

/// cctools' `--unpack-to DIR`: the environment is wanted at `dir`. It is
/// unpacked once into the cache, as [`ensure_unpacked`] does (so a worker
/// whose tasks each name a DIR in their own sandbox, as Work Queue's
/// `PythonTask` does, unpacks once), and `dir` becomes a symbolic link to
/// it. A `dir` that already is one, or that holds an environment unpacked
/// there by cctools' own runner (`.poncho_package_run_expanded`) or by
/// hand, is used as it is; an empty directory is replaced by the link.
/// Returns the prefix to run in.
pub fn unpack_to(archive: &Path, dir: &Path, opts: &RunOptions) -> Result<PathBuf> {
    let dir = std::path::absolute(dir).map_err(|source| Error::Input { path: dir.to_owned(), source })?;
    let out_err = |source: io::Error| Error::Output { path: dir.clone(), source };
    match fs::symlink_metadata(&dir) {
        Ok(m) if m.is_dir() => {
            if dir.join(PONCHO_MARKER).exists() || dir.join(MANIFEST_PATH).exists() {
                return prepare_dir(&dir);
            }
            // Only an empty directory may go (rmdir refuses anything else).
            fs::remove_dir(&dir).map_err(|e| {
                out_err(io::Error::new(e.kind(), "exists, is not empty and holds no unpacked environment"))
            })?;
        }
        Ok(m) if m.file_type().is_symlink() => {}
        Ok(_) => return Err(out_err(io::Error::new(io::ErrorKind::AlreadyExists, "exists and is not a directory"))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(out_err(e)),
    }
    let prefix = ensure_unpacked(archive, opts)?;
    if fs::read_link(&dir).is_ok_and(|target| target == prefix) {
        return Ok(prefix);
    }
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::Output { path: parent.to_owned(), source: e })?;
    }
    // Made under a temporary name, then renamed over `dir`: concurrent runs
    // naming the same DIR each publish the same link.
    let tmp = dir.with_file_name(format!(
        ".{}.animica-env-{}",
        dir.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
        std::process::id()
    ));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&prefix, &tmp).map_err(|e| Error::Output { path: tmp.clone(), source: e })?;
    fs::rename(&tmp, &dir).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        out_err(e)
    })?;
    Ok(prefix)
}

/// The file cctools' runner leaves in a directory it has unpacked an
/// environment into.
pub const PONCHO_MARKER: &str = ".poncho_package_run_expanded";

/// The archive's content hash (BLAKE3, 32 hex digits), remembered under
/// the root by (path, device, inode, size, mtime, ctime) so warm runs do
/// not re-read it. The change time matters: a copy made in place with its
/// timestamps kept (`cp --preserve=timestamps`, `rsync -t --inplace`)
/// keeps the path, inode, size and mtime of the old archive, but the kernel
/// sets its ctime on every write, and nothing lets a user set it back.
fn content_key(archive: &Path, root: &Path) -> Result<String> {
    use std::os::unix::fs::MetadataExt;
    let in_err = |source: io::Error| Error::Input { path: archive.to_owned(), source };
    let abs = fs::canonicalize(archive).map_err(in_err)?;
    let meta = fs::metadata(&abs).map_err(in_err)?;
    let stamp = format!(
        "{}\0{}\0{}\0{}\0{}.{}\0{}.{}",
        abs.display(),
        meta.dev(),
        meta.ino(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    );
    let index = root.join("index").join(&blake3::hash(stamp.as_bytes()).to_hex()[..32]);
    if let Ok(k) = fs::read_to_string(&index) {
        let k = k.trim();
        if k.len() == 32 && k.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(k.to_owned());
        }
    }
    let mut h = blake3::Hasher::new();
    h.update_mmap_rayon(&abs).map_err(in_err)?;
    let key = h.finalize().to_hex()[..32].to_owned();
    if fs::create_dir_all(root.join("index")).is_ok() {
        // Written whole, then renamed: a reader never sees half a key.
        let tmp = index.with_extension(format!("{}", std::process::id()));
        if fs::write(&tmp, &key).is_ok() {
            let _ = fs::rename(&tmp, &index);
        }
    }
    Ok(key)
}

/// Removes what killed unpacks left in `root/tmp/` (`<key>.<pid>`): those
/// of `ours`, whose lock the caller holds, and those of any other archive
/// whose lock nobody holds (so nobody is unpacking it). Without the second
/// part, a task killed while unpacking an archive that the worker never
/// runs again would leave its bytes there for ever. Best effort.
fn remove_leftovers(root: &Path, ours: &str) {
    let Ok(entries) = fs::read_dir(root.join("tmp")) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some((key, _pid)) = name.split_once('.') else { continue };
        if key == ours {
            let _ = fs::remove_dir_all(e.path());
        } else if key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            let lock = root.join("locks").join(format!("{key}.lock"));
            if let Ok(Some(_unused)) = Lock::try_exclusive(&lock) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
}

/// What activating an environment does to the process environment.
#[derive(Debug, Clone, Default)]
pub struct Activation {
    /// Variables to set.
    pub set: Vec<(OsString, OsString)>,
    /// Variables to remove.
    pub unset: Vec<&'static str>,
    /// `etc/conda/activate.d/*.sh`, to be sourced in order.
    pub scripts: Vec<PathBuf>,
    /// `poncho/set_env`, which cctools' runner sources with the prefix as
    /// `$1` (it exports the paths of the spec's `git` and `http` data).
    pub set_env: Option<PathBuf>,
}

/// What `conda activate` would do for `prefix`: PATH, CONDA_PREFIX and
/// friends, `etc/conda/env_vars.d/*.json`, PYTHONPATH/PYTHONHOME cleared.
pub fn activation(prefix: &Path) -> Result<Activation> {
    let bin = prefix.join("bin");
    if !bin.is_dir() {
        return Err(Error::Relocate { path: bin, reason: "the environment has no bin/ directory".into() });
    }
    let mut path = OsString::from(bin.as_os_str());
    if let Some(old) = std::env::var_os("PATH") {
        path.push(":");
        path.push(old);
    }
    let mut set: Vec<(OsString, OsString)> = vec![
        ("PATH".into(), path),
        ("CONDA_PREFIX".into(), prefix.as_os_str().into()),
        ("CONDA_DEFAULT_ENV".into(), prefix.as_os_str().into()),
        ("CONDA_SHLVL".into(), "1".into()),
    ];
    let env_vars = prefix.join("etc/conda/env_vars.d");
    if let Ok(entries) = fs::read_dir(&env_vars) {
        let mut files: Vec<PathBuf> =
            entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
        files.sort();
        for f in files {
            let text = fs::read_to_string(&f).map_err(|source| Error::Input { path: f.clone(), source })?;
            let vars: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&text).map_err(|e| Error::Relocate { path: f.clone(), reason: e.to_string() })?;
            for (k, v) in vars {
                let v = v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
                set.push((k.into(), v.into()));
            }
        }
    }
    let mut scripts: Vec<PathBuf> = fs::read_dir(prefix.join("etc/conda/activate.d"))
        .map(|e| e.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "sh")).collect())
        .unwrap_or_default();
    scripts.sort();
    let set_env = Some(prefix.join("poncho/set_env")).filter(|p| p.is_file());
    Ok(Activation { set, unset: vec!["PYTHONPATH", "PYTHONHOME"], scripts, set_env })
}

/// Sources the activation scripts, then runs the command (see [`run_in`]).
const ACTIVATE_SH: &str = r#"for f in "$ANIMICA_ENV_ACTIVATE_D"/*.sh; do
  [ -f "$f" ] || continue
  . "$f" || exit 4
done
if [ -n "$ANIMICA_ENV_SET_ENV" ]; then
  animica_env_set_env() { . "$ANIMICA_ENV_SET_ENV"; }
  animica_env_set_env "$CONDA_PREFIX" || exit 4
  unset -f animica_env_set_env
fi
unset ANIMICA_ENV_ACTIVATE_D ANIMICA_ENV_SET_ENV
exec "$@""#;

/// Runs `argv` in the environment at `prefix` and returns its exit status
/// (128+N when a signal N ended it, as shells report it). The child is
/// asked to die with us, so a killed `run` does not leave it behind.
pub fn run_in(prefix: &Path, argv: &[OsString]) -> Result<i32> {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let Activation { set, unset, scripts, set_env } = activation(prefix)?;
    let mut cmd = if scripts.is_empty() && set_env.is_none() {
        let mut c = std::process::Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    } else {
        // These are shell to be sourced: let sh source them, then exec the
        // command with its arguments untouched. set_env reads the prefix as
        // $1: a function call gives it that without touching "$@".
        let mut c = std::process::Command::new("/bin/sh");
        c.arg("-c").arg(ACTIVATE_SH).arg("sh");
        c.env("ANIMICA_ENV_ACTIVATE_D", prefix.join("etc/conda/activate.d"));
        c.env("ANIMICA_ENV_SET_ENV", set_env.unwrap_or_default());
        c.args(argv);
        c
    };
    for k in unset {
        cmd.env_remove(k);
    }
    cmd.envs(set);
    // The command dies with us (Linux; elsewhere it is left to the worker).
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and touches no memory of ours;
    // it runs in the child between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let status =
        cmd.status().map_err(|source| Error::Command { program: argv[0].to_string_lossy().into_owned(), source })?;
    Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

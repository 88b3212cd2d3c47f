//! `analyze`: which distributions a Python program needs.
//!
//! Sources are parsed with ruff's parser; every runtime import is
//! collected (`imports`), local code is told apart and followed (`local`),
//! the target version's standard library is dropped (`stdlib`), and the
//! rest is mapped to distributions (`dists`) and written out (`report`).

pub mod dists;
pub mod imports;
pub mod interpreter;
pub mod local;
pub mod report;
pub mod stdlib;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};

pub use imports::Scope;
pub use report::Report;

use self::dists::{DistMap, Source};
use self::local::{Resolved, Resolver};
use self::stdlib::Stdlib;
use crate::error::{Error, Result};

/// One thing to analyze.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A `.py` file, or a directory whose `.py` files are all analyzed.
    Path(PathBuf),
    /// Source read from standard input.
    Stdin,
}

/// How to analyze.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Which imports count.
    pub scope: Scope,
    /// `--pkg-mapping IMPORT=DIST`.
    pub pkg_mapping: BTreeMap<String, String>,
    /// `--extra-pkg DIST`: required whether imported or not.
    pub extra: Vec<String>,
    /// `--python PATH`: the target interpreter (else `python3` on PATH).
    pub python: Option<PathBuf>,
    /// `--python-version X.Y[.Z]`: the target version, when it differs
    /// from (or there is no) interpreter.
    pub python_version: Option<String>,
    /// Channels written to poncho output (default conda-forge).
    pub channels: Vec<String>,
}

/// Directories never searched for sources when a directory is given.
const SKIP_DIRS: [&str; 6] = ["__pycache__", "node_modules", "site-packages", "venv", "env", "build"];

/// Analyzes `inputs`.
pub fn analyze(inputs: &[Input], opts: &Options) -> Result<Report> {
    let (version, stdlib, dists) = target(opts)?;
    let mut roots = Vec::new();
    let mut queue: VecDeque<(PathBuf, PathBuf, String, Scope)> = VecDeque::new();
    for input in inputs {
        match input {
            Input::Stdin => {
                let mut src = String::new();
                std::io::stdin()
                    .read_to_string(&mut src)
                    .map_err(|source| Error::Input { path: "<stdin>".into(), source })?;
                let cwd = std::env::current_dir().map_err(|source| Error::Input { path: ".".into(), source })?;
                roots.push(cwd.clone());
                queue.push_back((PathBuf::from("<stdin>"), cwd, src, opts.scope.clone()));
            }
            Input::Path(p) => {
                let meta = std::fs::metadata(p).map_err(|source| Error::Input { path: p.clone(), source })?;
                let (root, files) = if meta.is_dir() {
                    (p.clone(), python_files(p)?)
                } else {
                    (
                        p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf(),
                        vec![p.clone()],
                    )
                };
                roots.push(root.clone());
                for f in files {
                    let src = read(&f)?;
                    queue.push_back((f, root.clone(), src, opts.scope.clone()));
                }
            }
        }
    }
    let resolver = Resolver::new(roots);
    let mut seen: BTreeSet<PathBuf> = queue.iter().map(|(f, ..)| f.clone()).collect();
    let mut external: BTreeSet<String> = BTreeSet::new();
    let mut local: BTreeSet<String> = BTreeSet::new();
    while let Some((file, root, src, scope)) = queue.pop_front() {
        let module = imports::parse(&file, &src)?;
        for import in imports::collect(&module, &src, &scope) {
            for r in resolver.resolve(&file, &root, &import) {
                match r {
                    Resolved::External(m) => {
                        external.insert(m);
                    }
                    Resolved::Local { name, files } => {
                        local.insert(name);
                        for f in files {
                            if seen.insert(f.clone()) {
                                let src = read(&f)?;
                                // A followed module runs whole when imported;
                                // only the top-level restriction carries over.
                                let s = if scope == Scope::TopLevel { Scope::TopLevel } else { Scope::All };
                                queue.push_back((f, root.clone(), src, s));
                            }
                        }
                    }
                }
            }
        }
    }
    external.retain(|m| !stdlib.contains(m) && m != "__main__");
    Ok(build_report(version, &external, local, &dists, opts))
}

fn build_report(
    python: String,
    external: &BTreeSet<String>,
    local: BTreeSet<String>,
    dists: &DistMap,
    opts: &Options,
) -> Report {
    let mut report = Report { python, local, ..Default::default() };
    report.channels = if opts.channels.is_empty() { vec!["conda-forge".into()] } else { opts.channels.clone() };
    let mut wanted: Vec<(String, dists::Dist)> = Vec::new();
    for m in external {
        report.modules.insert(m.split('.').next().unwrap_or(m).to_owned());
        wanted.push((m.clone(), dists.lookup(m)));
    }
    for extra in &opts.extra {
        wanted.push((extra.clone(), dists.lookup_dist(extra)));
    }
    for (module, d) in wanted {
        let pin = |sep: &str| d.version.as_ref().map_or(d.name.clone(), |v| format!("{}{sep}{v}", d.name));
        report.requirements.insert(pin("=="));
        match (d.source, dists.conda_name(&module)) {
            (Source::Conda, Some(conda)) => {
                report.conda.insert(d.version.as_ref().map_or(conda.clone(), |v| format!("{conda}={v}")));
            }
            _ => {
                report.pip.insert(pin("=="));
            }
        }
    }
    report
}

/// The target's version, standard library and installed distributions.
fn target(opts: &Options) -> Result<(String, Stdlib, DistMap)> {
    let interp = match &opts.python {
        Some(p) => Some(interpreter::probe(p)?),
        None => interpreter::on_path().and_then(|p| interpreter::probe(&p).ok()),
    };
    let version = match (&opts.python_version, &interp) {
        (Some(v), _) => v.clone(),
        (None, Some(i)) => i.version.clone(),
        (None, None) => {
            return Err(Error::Interpreter(
                "no Python interpreter on PATH to take the target version from; pass --python PATH or --python-version X.Y"
                    .into(),
            ));
        }
    };
    let minor = stdlib::minor_of(&version)?;
    let same = interp.as_ref().is_some_and(|i| stdlib::minor_of(&i.version).ok() == Some(minor));
    let stdlib = match interp.as_ref().filter(|_| same).and_then(|i| i.stdlib.clone()) {
        Some(names) => Stdlib::from_names(names),
        None => Stdlib::for_version(&version)?,
    };
    let dists = match interp.as_ref().filter(|_| same) {
        Some(i) => DistMap::scan(&i.site, &i.prefix),
        None => DistMap::embedded(),
    };
    Ok((version, stdlib, dists.with_overrides(&opts.pkg_mapping)))
}

fn read(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| Error::Input { path: path.to_owned(), source })?;
    // PEP 263 allows other encodings; nearly all code is UTF-8, and a
    // lossy decode still parses the import statements of the rest.
    Ok(String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Every `.py` file under `dir`, sorted, skipping hidden and build dirs.
fn python_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| Error::Input { path: d.clone(), source })?;
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if !name.starts_with('.') && !SKIP_DIRS.contains(&name.as_str()) {
                    stack.push(p);
                }
            } else if name.ends_with(".py") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

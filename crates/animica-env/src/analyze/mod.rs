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
    /// `--python-version X.Y[.Z]`: the target version. Without `python`,
    /// no interpreter is consulted (embedded tables only).
    pub python_version: Option<String>,
    /// Channels written to poncho output (default conda-forge).
    pub channels: Vec<String>,
}

/// Directories never searched for sources when a directory is given.
const SKIP_DIRS: [&str; 6] = ["__pycache__", "node_modules", "site-packages", "venv", "env", "build"];

/// Analyzes `inputs`.
pub fn analyze(inputs: &[Input], opts: &Options) -> Result<Report> {
    let (version, stdlib, dists) = target(opts)?;
    let minor = stdlib::minor_of(&version)?;
    let mut roots = Vec::new();
    let mut queue: VecDeque<(PathBuf, String, Scope)> = VecDeque::new();
    for input in inputs {
        match input {
            Input::Stdin => {
                let mut src = String::new();
                std::io::stdin()
                    .read_to_string(&mut src)
                    .map_err(|source| Error::Input { path: "<stdin>".into(), source })?;
                let cwd = std::env::current_dir().map_err(|source| Error::Input { path: ".".into(), source })?;
                queue.push_back((cwd.join("<stdin>"), src, opts.scope.clone()));
            }
            Input::Path(p) => {
                let meta = std::fs::metadata(p).map_err(|source| Error::Input { path: p.clone(), source })?;
                let p = std::path::absolute(p).map_err(|source| Error::Input { path: p.clone(), source })?;
                let files = if meta.is_dir() {
                    roots.push(local::search_root(&p.join("__init__.py")));
                    python_files(&p)?
                } else {
                    vec![p.clone()]
                };
                for f in files {
                    let src = read(&f)?;
                    queue.push_back((f, src, opts.scope.clone()));
                }
            }
        }
    }
    let resolver = Resolver::new(roots);
    let mut seen: BTreeSet<PathBuf> = queue.iter().map(|(f, ..)| f.clone()).collect();
    // Module -> imported only where failure is tolerated?
    let mut external: BTreeMap<String, bool> = BTreeMap::new();
    let mut local: BTreeSet<String> = BTreeSet::new();
    while let Some((file, src, scope)) = queue.pop_front() {
        let shown = file.strip_prefix(std::env::current_dir().unwrap_or_default()).unwrap_or(&file).to_path_buf();
        let module = imports::parse(&shown, &src)?;
        for import in imports::collect(&module, &src, &scope, Some((3, minor))) {
            for r in resolver.resolve(&file, &import) {
                match r {
                    Resolved::External(m) => {
                        let optional = external.entry(m).or_insert(true);
                        *optional &= import.optional;
                    }
                    Resolved::Local { name, files } => {
                        local.insert(name);
                        for f in files {
                            if seen.insert(f.clone()) {
                                let src = read(&f)?;
                                // A followed module runs whole when imported;
                                // only the top-level restriction carries over.
                                let s = if scope == Scope::TopLevel { Scope::TopLevel } else { Scope::All };
                                queue.push_back((f, src, s));
                            }
                        }
                    }
                }
            }
        }
    }
    let mut report = Report { python: version.clone(), local, ..Default::default() };
    report.channels = if opts.channels.is_empty() { vec!["conda-forge".into()] } else { opts.channels.clone() };
    let mut required = BTreeSet::new();
    for (m, optional) in external {
        let top = m.split('.').next().unwrap_or(&m).to_owned();
        if stdlib.contains(&m) || m == "__main__" {
            continue;
        }
        if let Some(versions) = stdlib::versions_with(&m) {
            // Not this version's, but some version's: a compatibility import
            // (urllib2, dummy_threading) or a version mismatch; no
            // distribution provides it either way.
            if !optional {
                report.warnings.push(format!("{top} is in the standard library of Python {versions}, not {version}"));
            }
            continue;
        }
        if optional {
            report.optional.insert(top);
        } else {
            report.modules.insert(top);
            required.insert(m);
        }
    }
    // A module required somewhere is not also optional.
    let modules = report.modules.clone();
    report.optional.retain(|m| !modules.contains(m));
    report.warnings.sort();
    report.warnings.dedup();
    add_requirements(&mut report, &required, &dists, opts);
    Ok(report)
}

fn add_requirements(report: &mut Report, external: &BTreeSet<String>, dists: &DistMap, opts: &Options) {
    let mut wanted: Vec<(String, dists::Dist)> = Vec::new();
    for m in external {
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
}

/// The target's version, standard library and installed distributions.
fn target(opts: &Options) -> Result<(String, Stdlib, DistMap)> {
    // An explicit version without an interpreter means "analyze for that
    // version": embedded tables only, whatever this machine has installed.
    let interp = match (&opts.python, &opts.python_version) {
        (Some(p), _) => Some(interpreter::probe(p)?),
        (None, Some(_)) => None,
        (None, None) => interpreter::on_path().and_then(|p| interpreter::probe(&p).ok()),
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

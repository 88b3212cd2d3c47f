//! Import name -> distribution: from installed metadata when there is
//! some (pip's `*.dist-info`, `*.egg-info`, conda's `conda-meta/`), else an
//! embedded table of names that differ, else the import name itself.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Where a distribution was installed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A conda package (recorded in `conda-meta/`).
    Conda,
    /// Anything else Python knows of (pip and friends).
    Pip,
}

/// A distribution that provides an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dist {
    /// Its name (PyPI's for pip, the conda package's for conda).
    pub name: String,
    /// Installed version, when known.
    pub version: Option<String>,
    /// Conda or pip.
    pub source: Source,
}

const KNOWN: &str = include_str!("../../data/import_names.tsv");

/// Who provides which import.
#[derive(Debug, Default, Clone)]
pub struct DistMap {
    /// Module (top-level, or dotted below a namespace package) -> dist.
    installed: BTreeMap<String, Dist>,
    /// Same, for conda packages (they take precedence in poncho output).
    conda: BTreeMap<String, Dist>,
    known: BTreeMap<String, String>,
    overrides: BTreeMap<String, String>,
}

impl DistMap {
    /// The embedded table only.
    pub fn embedded() -> Self {
        let known = KNOWN
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split_once('\t'))
            .map(|(i, d)| (i.trim().to_owned(), d.trim().to_owned()))
            .collect();
        DistMap { known, ..Default::default() }
    }

    /// The embedded table plus what is installed in `site` dirs and the
    /// conda prefix `prefix`.
    pub fn scan(site: &[PathBuf], prefix: &Path) -> Self {
        let mut map = Self::embedded();
        for dir in site {
            let Ok(entries) = fs::read_dir(dir) else { continue };
            let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            entries.sort();
            for meta in entries {
                let name = meta.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if (name.ends_with(".dist-info") || name.ends_with(".egg-info"))
                    && let Some((dist, modules)) = read_python_metadata(&meta)
                {
                    for m in modules {
                        map.installed.entry(m).or_insert_with(|| dist.clone());
                    }
                }
            }
        }
        map.scan_conda(prefix);
        map
    }

    fn scan_conda(&mut self, prefix: &Path) {
        let Ok(entries) = fs::read_dir(prefix.join("conda-meta")) else { return };
        let mut files: Vec<_> =
            entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
        files.sort();
        for f in files {
            let Ok(text) = fs::read_to_string(&f) else { continue };
            let Ok(rec) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
            let (Some(name), version) = (rec["name"].as_str(), rec["version"].as_str()) else { continue };
            let dist = Dist { name: name.to_owned(), version: version.map(str::to_owned), source: Source::Conda };
            let paths = rec["files"].as_array().into_iter().flatten().filter_map(|p| p.as_str());
            for m in modules_from_paths(paths.filter_map(|p| p.split_once("site-packages/").map(|(_, rest)| rest))) {
                self.conda.entry(m).or_insert_with(|| dist.clone());
            }
        }
    }

    /// Adds `--pkg-mapping IMPORT=DIST` overrides (they win over everything).
    pub fn with_overrides(mut self, overrides: &BTreeMap<String, String>) -> Self {
        self.overrides.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        self
    }

    /// The distribution providing the (dotted) module `module`: an
    /// override, else installed metadata (longest dotted prefix first),
    /// else the embedded table, else the top-level name itself.
    pub fn lookup(&self, module: &str) -> Dist {
        let parts: Vec<&str> = module.split('.').collect();
        let prefixes = || (1..=parts.len()).rev().map(|n| parts[..n].join("."));
        if let Some(name) = prefixes().find_map(|p| self.overrides.get(&p)) {
            return self.lookup_dist(name);
        }
        // When conda installed it, keep conda as the source (for poncho's
        // split) but prefer dist-info's name: it is the one pip knows.
        let pip = prefixes().find_map(|p| self.installed.get(&p).cloned());
        let conda = prefixes().find_map(|p| self.conda.get(&p).cloned());
        match (pip, conda) {
            (Some(p), Some(c)) => Dist { name: p.name, version: p.version.or(c.version), source: Source::Conda },
            (Some(p), None) => p,
            (None, Some(c)) => c,
            (None, None) => Dist {
                name: prefixes().find_map(|p| self.known.get(&p).cloned()).unwrap_or_else(|| parts[0].to_owned()),
                version: None,
                source: Source::Pip,
            },
        }
    }

    /// An installed distribution by its name (`--extra-pkg`), compared as
    /// PEP 503 normalises names; unknown names come back unpinned.
    pub fn lookup_dist(&self, name: &str) -> Dist {
        let want = normalize(name);
        let all = self.installed.values().chain(self.conda.values());
        all.clone().find(|d| normalize(&d.name) == want).cloned().unwrap_or(Dist {
            name: name.to_owned(),
            version: None,
            source: Source::Pip,
        })
    }

    /// The conda package name of a distribution found by `lookup`, for
    /// poncho output.
    pub fn conda_name(&self, module: &str) -> Option<String> {
        let parts: Vec<&str> = module.split('.').collect();
        (1..=parts.len()).rev().find_map(|n| self.conda.get(&parts[..n].join(".")).map(|d| d.name.clone()))
    }
}

/// Name, version and provided modules of one `*.dist-info` / `*.egg-info`.
fn read_python_metadata(dir: &Path) -> Option<(Dist, Vec<String>)> {
    let meta = fs::read_to_string(dir.join("METADATA")).or_else(|_| fs::read_to_string(dir.join("PKG-INFO"))).ok()?;
    let field = |key: &str| {
        meta.lines().take_while(|l| !l.is_empty()).find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_owned()))
    };
    let dist = Dist { name: field("Name:")?, version: field("Version:"), source: Source::Pip };
    let mut modules = match fs::read_to_string(dir.join("top_level.txt")) {
        Ok(t) => t.lines().map(|l| l.trim().replace('/', ".")).filter(|l| !l.is_empty()).collect(),
        Err(_) => Vec::new(),
    };
    if let Ok(record) = fs::read_to_string(dir.join("RECORD")) {
        let paths = record.lines().filter_map(|l| l.split(',').next());
        for m in modules_from_paths(paths) {
            if !modules.contains(&m) {
                modules.push(m);
            }
        }
    }
    Some((dist, modules))
}

/// Importable names provided by files at these site-packages-relative
/// paths: top-level modules and packages, and for namespace packages
/// (a top-level directory without `__init__.py`) their subpackages too.
fn modules_from_paths<'a>(paths: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut tops: BTreeMap<String, bool> = BTreeMap::new(); // name -> has __init__.py
    let mut subs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in paths {
        let parts: Vec<&str> = p.split('/').collect();
        let first = parts[0];
        if first.is_empty()
            || first == ".."
            || first.ends_with(".dist-info")
            || first.ends_with(".egg-info")
            || first == "__pycache__"
        {
            continue;
        }
        if parts.len() == 1 {
            let stem = first.split('.').next().unwrap_or(first);
            if (first.ends_with(".py") || first.ends_with(".so") || first.ends_with(".pyd")) && is_identifier(stem) {
                tops.entry(stem.to_owned()).or_insert(true);
            }
            continue;
        }
        if !is_identifier(first) {
            continue;
        }
        let has_init = parts.len() == 2 && parts[1].starts_with("__init__.");
        let e = tops.entry(first.to_owned()).or_insert(false);
        *e |= has_init;
        if parts.len() > 2 && is_identifier(parts[1]) {
            subs.entry(first.to_owned()).or_default().push(format!("{first}.{}", parts[1]));
        }
    }
    let mut out = Vec::new();
    for (top, has_init) in tops {
        if !has_init {
            out.extend(subs.remove(&top).unwrap_or_default());
        }
        out.push(top);
    }
    out.sort();
    out.dedup();
    out
}

/// PEP 503 name normalisation: case-insensitive, runs of `-_.` equal.
fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = if matches!(c, '-' | '_' | '.') { '-' } else { c.to_ascii_lowercase() };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_and_fallback() {
        let m = DistMap::embedded();
        assert_eq!(m.lookup("yaml").name, "PyYAML");
        assert_eq!(m.lookup("sklearn.linear_model").name, "scikit-learn");
        assert_eq!(m.lookup("google.protobuf.message").name, "protobuf");
        assert_eq!(m.lookup("numpy.linalg").name, "numpy");
        assert_eq!(m.lookup("numpy").version, None);
    }

    #[test]
    fn modules_from_record_paths() {
        let paths = [
            "yaml/__init__.py",
            "yaml/nodes.py",
            "_yaml/__init__.py",
            "six.py",
            "google/protobuf/__init__.py",
            "google/protobuf/message.py",
            "PyYAML-6.0.1.dist-info/RECORD",
            "../../bin/tool",
            "_cffi_backend.cpython-311-x86_64-linux-gnu.so",
        ];
        assert_eq!(
            modules_from_paths(paths.into_iter()),
            ["_cffi_backend", "_yaml", "google", "google.protobuf", "six", "yaml"]
        );
    }
}

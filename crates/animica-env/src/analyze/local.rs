//! Which imports are the user's own code: relative imports, and modules
//! that resolve to files beside the script (or under a given directory).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::imports::Import;

/// What one import turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Local code: these files exist (to be followed) and it is reported
    /// under this dotted name.
    Local { name: String, files: Vec<PathBuf> },
    /// A dependency: the dotted module imported.
    External(String),
}

/// Resolves imports against the directories local code lives in.
#[derive(Debug)]
pub struct Resolver {
    roots: Vec<PathBuf>,
    /// File-system answers, cached: a project asks the same ones
    /// thousands of times (every import is tried against every root).
    files: RefCell<HashMap<PathBuf, bool>>,
    packages: RefCell<HashMap<PathBuf, bool>>,
    search_roots: RefCell<HashMap<PathBuf, PathBuf>>,
}

/// Where the absolute imports of `file` are looked up first: the
/// directory above its topmost package (`pkg/sub/mod.py` -> the directory
/// holding `pkg/`), or for a plain script its own directory (Python puts
/// it first on `sys.path`).
pub fn search_root(file: &Path) -> PathBuf {
    let mut dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
    // A directory without __init__.py inside a package is a namespace
    // subpackage of it, still below the root.
    let in_package =
        |d: &Path| d.join("__init__.py").is_file() || d.parent().is_some_and(|p| p.join("__init__.py").is_file());
    while in_package(&dir) {
        match dir.parent() {
            Some(p) => dir = p.to_path_buf(),
            None => break,
        }
    }
    dir
}

impl Resolver {
    /// `roots`: further directories to look in (the directories given as
    /// inputs, by their search roots).
    pub fn new(roots: Vec<PathBuf>) -> Self {
        Resolver { roots, files: RefCell::default(), packages: RefCell::default(), search_roots: RefCell::default() }
    }

    fn is_file(&self, p: PathBuf) -> bool {
        *self.files.borrow_mut().entry(p).or_insert_with_key(|p| p.is_file())
    }

    fn is_package_dir(&self, p: PathBuf) -> bool {
        *self.packages.borrow_mut().entry(p).or_insert_with_key(|p| is_package_dir(p))
    }

    fn search_root(&self, file: &Path) -> PathBuf {
        let dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
        self.search_roots.borrow_mut().entry(dir).or_insert_with(|| search_root(file)).clone()
    }

    /// What `import`, made in `file`, refers to.
    pub fn resolve(&self, file: &Path, import: &Import) -> Vec<Resolved> {
        let root = self.search_root(file);
        let parts: Vec<&str> = if import.module.is_empty() { Vec::new() } else { import.module.split('.').collect() };
        if import.level > 0 {
            let mut base = file.parent().unwrap_or(Path::new("")).to_path_buf();
            for _ in 1..import.level {
                base = base.parent().map(Path::to_path_buf).unwrap_or(base);
            }
            return self.local(&base, &root, &parts, &import.names);
        }
        let roots = std::iter::once(root.as_path()).chain(self.roots.iter().map(PathBuf::as_path));
        for r in roots {
            if let Some(first) = parts.first()
                && (self.is_file(r.join(format!("{first}.py"))) || self.is_package_dir(r.join(first)))
            {
                return self.local(r, r, &parts, &import.names);
            }
        }
        vec![Resolved::External(import.module.clone())]
    }

    /// The files of `base/parts...` (and of `names` as submodules of it).
    fn local(&self, base: &Path, root: &Path, parts: &[&str], names: &[String]) -> Vec<Resolved> {
        let mut out = Vec::new();
        let mut dir = base.to_path_buf();
        let mut dotted: Vec<String> = dotted_dir(base, root);
        for (i, part) in parts.iter().enumerate() {
            dotted.push((*part).to_owned());
            let last = i + 1 == parts.len();
            let file = dir.join(format!("{part}.py"));
            dir = dir.join(part);
            let init = dir.join("__init__.py");
            let files: Vec<PathBuf> =
                [init, file].into_iter().filter(|f| f.is_file() && (last || f.ends_with("__init__.py"))).collect();
            out.push(Resolved::Local { name: dotted.join("."), files });
        }
        // Names can be submodules only of a package (a directory).
        let is_package = self.packages.borrow().get(&dir).copied().unwrap_or_else(|| dir.is_dir());
        for name in names.iter().filter(|n| is_package && n.as_str() != "*") {
            let file = dir.join(format!("{name}.py"));
            let init = dir.join(name).join("__init__.py");
            let files: Vec<PathBuf> = [init, file].into_iter().filter(|f| self.is_file(f.clone())).collect();
            if !files.is_empty() {
                let mut n = dotted.clone();
                n.push(name.clone());
                out.push(Resolved::Local { name: n.join("."), files });
            }
        }
        if out.is_empty() {
            // `from . import *` or a relative import of nothing found: still
            // local code, never a dependency.
            out.push(Resolved::Local { name: dotted.join("."), files: Vec::new() });
        }
        out.retain(|r| !matches!(r, Resolved::Local { name, .. } if name.is_empty()));
        out
    }
}

/// A directory that is a package: `__init__.py`, or (namespace package)
/// at least one `.py` file directly inside.
fn is_package_dir(dir: &Path) -> bool {
    if dir.join("__init__.py").is_file() {
        return true;
    }
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().any(|e| e.path().extension().is_some_and(|x| x == "py")))
        .unwrap_or(false)
}

/// The dotted name of directory `dir` relative to `root` (empty when it
/// is the root or outside it).
fn dotted_dir(dir: &Path, root: &Path) -> Vec<String> {
    match dir.strip_prefix(root) {
        Ok(rel) => rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imp(module: &str, level: u32, names: &[&str]) -> Import {
        Import {
            module: module.into(),
            level,
            names: names.iter().map(|s| s.to_string()).collect(),
            line: 1,
            optional: false,
        }
    }

    #[test]
    fn local_files_and_relative_imports() {
        let tmp = std::env::temp_dir().join(format!("animica-env-local-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("pkg/sub")).unwrap();
        for f in ["main.py", "helpers.py", "pkg/__init__.py", "pkg/util.py", "pkg/sub/__init__.py", "pkg/sub/deep.py"] {
            std::fs::write(tmp.join(f), "").unwrap();
        }
        let r = Resolver::new(vec![tmp.clone()]);
        let main = tmp.join("main.py");
        assert_eq!(
            r.resolve(&main, &imp("helpers", 0, &[])),
            [Resolved::Local { name: "helpers".into(), files: vec![tmp.join("helpers.py")] }]
        );
        assert_eq!(r.resolve(&main, &imp("numpy.linalg", 0, &[])), [Resolved::External("numpy.linalg".into())]);
        let got = r.resolve(&main, &imp("pkg", 0, &["util", "CONST"]));
        assert_eq!(
            got,
            [
                Resolved::Local { name: "pkg".into(), files: vec![tmp.join("pkg/__init__.py")] },
                Resolved::Local { name: "pkg.util".into(), files: vec![tmp.join("pkg/util.py")] },
            ]
        );
        let deep = tmp.join("pkg/sub/deep.py");
        // Inside a package, a sibling module never shadows an absolute import.
        assert_eq!(r.resolve(&tmp.join("pkg/util.py"), &imp("sub", 0, &[])), [Resolved::External("sub".into())]);
        let got = r.resolve(&deep, &imp("util", 2, &["x"]));
        assert_eq!(got, [Resolved::Local { name: "pkg.util".into(), files: vec![tmp.join("pkg/util.py")] }]);
        // `from . import NotAModule`: local code all the same, named by its package.
        let got = r.resolve(&deep, &imp("", 1, &["missing"]));
        assert_eq!(got, [Resolved::Local { name: "pkg.sub".into(), files: vec![] }]);
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}

//! The manifest every packed environment carries as its first entry,
//! `.animica-env/manifest.json`: each file's hash, mode and whether it
//! holds the build prefix (so `run` can relocate it). A manifest is
//! checked whole when it is read: it decides what `unpack` may write.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

/// Where the manifest sits in an archive and in an unpacked environment.
pub const MANIFEST_PATH: &str = ".animica-env/manifest.json";
/// The manifest format this build writes and reads.
pub const FORMAT: u32 = 1;

/// Whether and how a file mentions the build prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Placeholder {
    /// A text file: every occurrence is replaced by the new prefix.
    Text,
    /// A binary: each occurrence (a C string) is replaced by the new
    /// prefix padded with NULs, so the new prefix must not be longer.
    Binary,
}

/// One entry of the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Path relative to the prefix, `/`-separated.
    pub path: String,
    /// `file` or `symlink` (directories are implied by paths).
    pub kind: Kind,
    /// For files: BLAKE3 of the content as packed (before relocation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    /// For files: size in bytes.
    #[serde(default)]
    pub size: u64,
    /// For files: whether it is executable.
    #[serde(default)]
    pub executable: bool,
    /// For symlinks: the target, relative, inside the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// For files that hold the build prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<Placeholder>,
}

/// Entry kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
}

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The prefix the environment was built in (what placeholders hold).
    pub prefix: String,
    /// Every file and link, sorted by path.
    pub entries: Vec<Entry>,
}

impl Manifest {
    /// The manifest as stored (pretty JSON, stable key order).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a manifest always serialises");
        s.push('\n');
        s
    }

    /// Parses a stored manifest and checks it (see [`Manifest::check`]).
    pub fn from_json(text: &str) -> Result<Self, String> {
        let m: Manifest = serde_json::from_str(text).map_err(|e| format!("manifest is not valid: {e}"))?;
        if m.format != FORMAT {
            return Err(format!(
                "manifest format {} is not {FORMAT}; this animica-env is too old or too new",
                m.format
            ));
        }
        m.check()?;
        Ok(m)
    }

    /// The rules that make unpacking safe whatever order the archive's
    /// entries come in: every path is relative, normalised and listed
    /// once; nothing lies below a symlink or a file (so nothing is ever
    /// written through a link); each entry has the fields of its kind; and
    /// every link resolves inside the environment when followed through
    /// the other links listed, as the kernel would follow them.
    pub fn check(&self) -> Result<(), String> {
        let mut kinds: BTreeMap<&str, &Entry> = BTreeMap::new();
        for e in &self.entries {
            if safe_path(Path::new(&e.path)).as_deref() != Some(e.path.as_str()) {
                return Err(format!("manifest lists an unsafe path {:?}", e.path));
            }
            if e.path.len() > PATH_MAX || e.target.as_ref().is_some_and(|t| t.len() > PATH_MAX) {
                return Err(format!(
                    "manifest entry {:.80}... is longer than the system's {PATH_MAX}-byte limit",
                    e.path
                ));
            }
            if e.path == ".animica-env" || e.path.starts_with(".animica-env/") {
                return Err(format!("manifest lists {}, which animica-env reserves", e.path));
            }
            let fields_ok = match e.kind {
                Kind::File => e.target.is_none() && e.blake3.as_deref().is_some_and(is_blake3_hex),
                Kind::Symlink => {
                    e.target.is_some() && e.blake3.is_none() && e.placeholder.is_none() && e.size == 0 && !e.executable
                }
            };
            if !fields_ok {
                return Err(format!("manifest entry {} does not have the fields of a {:?}", e.path, e.kind));
            }
            if kinds.insert(&e.path, e).is_some() {
                return Err(format!("manifest lists {} twice", e.path));
            }
        }
        for e in &self.entries {
            // Every proper ancestor of a path is an implied directory.
            let mut end = 0;
            while let Some(i) = e.path[end..].find('/') {
                end += i;
                if let Some(above) = kinds.get(&e.path[..end]) {
                    return Err(format!("{} lies below {} (a {:?}): refused", e.path, above.path, above.kind));
                }
                end += 1;
            }
        }
        let links: BTreeMap<&str, &str> = self
            .entries
            .iter()
            .filter_map(|e| Some((e.path.as_str(), e.target.as_deref().filter(|_| e.kind == Kind::Symlink)?)))
            .collect();
        for (&link, &target) in &links {
            if resolve_inside(&links, link, target).is_none() {
                return Err(format!("{link} links to {target}, which leads outside the environment"));
            }
        }
        Ok(())
    }
}

/// A path from an archive or a manifest, checked to be relative and free
/// of `..`, as `/`-joined normal components.
pub(crate) fn safe_path(raw: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in raw.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?.to_owned()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn is_blake3_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Longest path or link target accepted (Linux's PATH_MAX): the kernel
/// could not use a longer one, and it bounds the work of resolving links.
const PATH_MAX: usize = 4096;

/// Most links followed in one resolution (Linux's MAXSYMLINKS).
const MAX_HOPS: usize = 40;

/// Where the link at `link` pointing to `target` leads, following the
/// manifest's other `links` component by component; `None` when it
/// climbs above the root, is absolute, or loops.
fn resolve_inside(links: &BTreeMap<&str, &str>, link: &str, target: &str) -> Option<Vec<String>> {
    let mut at: Vec<String> = link.split('/').map(str::to_owned).collect();
    at.pop();
    let mut todo: VecDeque<String> = VecDeque::new();
    let mut hops = 0;
    let mut follow = |todo: &mut VecDeque<String>, target: &str| -> Option<()> {
        hops += 1;
        if target.starts_with('/') || hops > MAX_HOPS {
            return None;
        }
        for c in target.split('/').rev() {
            todo.push_front(c.to_owned());
        }
        Some(())
    };
    follow(&mut todo, target)?;
    while let Some(c) = todo.pop_front() {
        match c.as_str() {
            "" | "." => {}
            ".." => {
                at.pop()?;
            }
            _ => {
                at.push(c);
                let here = at.join("/");
                if let Some(next) = links.get(here.as_str()) {
                    at.pop();
                    follow(&mut todo, next)?;
                }
            }
        }
    }
    Some(at)
}

//! The manifest every packed environment carries as its first entry,
//! `.animica-env/manifest.json`: each file's hash, mode and whether it
//! holds the build prefix (so `run` can relocate it).

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

    /// Parses a stored manifest.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let m: Manifest = serde_json::from_str(text).map_err(|e| format!("manifest is not valid: {e}"))?;
        if m.format != FORMAT {
            return Err(format!(
                "manifest format {} is not {FORMAT}; this animica-env is too old or too new",
                m.format
            ));
        }
        Ok(m)
    }
}

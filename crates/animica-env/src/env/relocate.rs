//! Rewriting the build prefix in an unpacked environment.
//!
//! Text files get every occurrence replaced. In binaries the prefix sits
//! in NUL-terminated strings whose length cannot change: each such string
//! is rewritten with the new prefix and padded with NULs (conda's way), so
//! the new prefix must not be longer than the build prefix; environments
//! are built under a long staging prefix for that reason. A `#!` line
//! that the new prefix would make longer than the kernel accepts becomes
//! a `/bin/sh` trampoline.

use std::io::Read;
use std::path::Path;

use super::confined::{self, Confined};
use super::manifest::{Kind, Manifest, Placeholder};
use crate::error::{Error, Result};

/// Longest `#!` line Linux reads (BINPRM_BUF_SIZE is 256 since 5.1, 128
/// before; stay within the older limit).
const SHEBANG_MAX: usize = 127;

/// Rewrites every placeholder file under `root` from the manifest's build
/// prefix to `new_prefix`. Files are opened through [`Confined`]: a link
/// planted where a listed file should be is refused, never followed.
pub fn relocate(root: &Path, manifest: &Manifest, new_prefix: &str) -> Result<()> {
    let old = manifest.prefix.as_bytes();
    let new = new_prefix.as_bytes();
    let dir = Confined::open(root).map_err(|e| Error::Relocate { path: root.to_owned(), reason: e.to_string() })?;
    for e in &manifest.entries {
        let Some(kind) = e.placeholder.filter(|_| e.kind == Kind::File) else { continue };
        let path = root.join(&e.path);
        let fail = |reason: String| Error::Relocate { path: path.clone(), reason };
        let mut file = dir.open_file(&e.path).map_err(|err| fail(err.to_string()))?;
        let mut data = Vec::new();
        file.read_to_end(&mut data).map_err(|err| fail(err.to_string()))?;
        let out = match kind {
            Placeholder::Text => replace_text(&data, old, new),
            Placeholder::Binary => {
                if new.len() > old.len() {
                    return Err(fail(format!(
                        "the new prefix ({} bytes) is longer than the build prefix ({} bytes) this binary holds",
                        new.len(),
                        old.len()
                    )));
                }
                replace_binary(&data, old, new)
            }
        };
        confined::overwrite(&mut file, &out).map_err(|err| fail(err.to_string()))?;
    }
    Ok(())
}

fn replace_text(data: &[u8], old: &[u8], new: &[u8]) -> Vec<u8> {
    fix_shebang(replace_all(data, old, new))
}

/// A `#!` line too long for the kernel, replaced by a `/bin/sh` line that
/// re-executes the script with the same interpreter (pip's trampoline).
fn fix_shebang(data: Vec<u8>) -> Vec<u8> {
    if !data.starts_with(b"#!") {
        return data;
    }
    let end = memchr::memchr(b'\n', &data).unwrap_or(data.len());
    if end <= SHEBANG_MAX {
        return data;
    }
    let line = String::from_utf8_lossy(&data[2..end]).trim().to_owned();
    let mut parts = line.splitn(2, ' ');
    let interp = parts.next().unwrap_or("");
    let arg = parts.next().map(|a| format!(" {a}")).unwrap_or_default();
    let mut out = format!("#!/bin/sh\n'''exec' \"{interp}\"{arg} \"$0\" \"$@\"\n' '''\n").into_bytes();
    let rest = &data[end..];
    out.extend_from_slice(rest.strip_prefix(b"\n").unwrap_or(rest));
    out
}

fn replace_binary(data: &[u8], old: &[u8], new: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let mut pos = 0;
    while let Some(rel) = memchr::memmem::find(&data[pos..], old) {
        let start = pos + rel;
        let end = memchr::memchr(0, &data[start..]).map_or(data.len(), |n| start + n);
        let span = &data[start..end];
        let mut rewritten = replace_all(span, old, new);
        rewritten.resize(span.len(), 0);
        out[start..end].copy_from_slice(&rewritten);
        pos = end;
    }
    out
}

/// Replaces every `old` by `new` (same length) in place.
pub(crate) fn replace_same_length(data: &mut [u8], old: &[u8], new: &[u8]) {
    debug_assert_eq!(old.len(), new.len());
    let at: Vec<usize> = memchr::memmem::find_iter(data, old).collect();
    for i in at {
        data[i..i + new.len()].copy_from_slice(new);
    }
}

fn replace_all(data: &[u8], old: &[u8], new: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut last = 0;
    for at in memchr::memmem::find_iter(data, old) {
        out.extend_from_slice(&data[last..at]);
        out.extend_from_slice(new);
        last = at + old.len();
    }
    out.extend_from_slice(&data[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_strings_keep_their_length() {
        let data = b"\x7fELF..\0/long/build/prefix/lib:/long/build/prefix/lib64\0tail\0/long/build/prefix\0";
        let out = replace_binary(data, b"/long/build/prefix", b"/opt/e");
        assert_eq!(out.len(), data.len());
        assert!(out.starts_with(b"\x7fELF..\0/opt/e/lib:/opt/e/lib64\0"));
        let tail = b"tail\0/opt/e\0";
        assert!(out.windows(tail.len()).any(|w| w == tail));
    }

    #[test]
    fn text_and_long_shebangs() {
        let out = replace_text(b"#!/old/bin/python3\nprint('/old/x')\n", b"/old", b"/new");
        assert_eq!(out, b"#!/new/bin/python3\nprint('/new/x')\n");
        let long = "/x".repeat(80);
        let out = replace_text(b"#!/old/bin/python3 -E\nimport sys\n", b"/old", long.as_bytes());
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("#!/bin/sh\n'''exec' \""), "{text}");
        assert!(text.contains(&format!("{long}/bin/python3\" -E \"$0\" \"$@\"")));
        assert!(text.ends_with("' '''\nimport sys\n"));
    }
}

//! How much an archive may unpack to: its manifest's total file bytes and
//! entry count, checked before anything but the manifest is written, and
//! the cap on the decompressed stream that holds an archive to what its
//! manifest accounts for (a decompression bomb or a giant tar extension
//! header ends in an error, not in memory or hours spent inflating).
//!
//! Defaults fit the largest environments people ship (a CUDA PyTorch stack
//! is ~15 GB in ~60,000 files); both are set per process by environment
//! variables, since cctools' command lines cannot carry our flags.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use crate::error::{Error, Result};

/// Variable naming the largest total of file bytes an archive may unpack.
pub const MAX_BYTES_VAR: &str = "ANIMICA_ENV_MAX_UNPACK_BYTES";
/// Variable naming the largest number of manifest entries.
pub const MAX_ENTRIES_VAR: &str = "ANIMICA_ENV_MAX_UNPACK_ENTRIES";

/// Default for [`MAX_BYTES_VAR`]: 64 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 30;
/// Default for [`MAX_ENTRIES_VAR`]: one million.
pub const DEFAULT_MAX_ENTRIES: u64 = 1_000_000;

/// Room for one entry's header and the extension headers before it (a
/// GNU long name and long link of up to PATH_MAX bytes each), and the
/// padding after the entry before: what reading one header may consume.
pub const HEADER_ALLOWANCE: u64 = 512 + 2 * (512 + 4096 + 512) + 512;

/// The limits of one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest sum of the manifest's file sizes.
    pub max_bytes: u64,
    /// Largest number of manifest entries.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: DEFAULT_MAX_BYTES, max_entries: DEFAULT_MAX_ENTRIES }
    }
}

impl Limits {
    /// The defaults, overridden by [`MAX_BYTES_VAR`] and [`MAX_ENTRIES_VAR`]
    /// (a count with an optional K, M, G or T suffix, powers of 1024).
    pub fn from_env() -> Result<Limits> {
        let read = |var: &str, default: u64| match std::env::var(var) {
            Err(std::env::VarError::NotPresent) => Ok(default),
            Ok(v) => parse_size(&v).ok_or_else(|| {
                Error::Usage(format!("{var}={v:?} is not a count (digits, optionally followed by K, M, G or T)"))
            }),
            Err(e) => Err(Error::Usage(format!("{var}: {e}"))),
        };
        Ok(Limits {
            max_bytes: read(MAX_BYTES_VAR, DEFAULT_MAX_BYTES)?,
            max_entries: read(MAX_ENTRIES_VAR, DEFAULT_MAX_ENTRIES)?,
        })
    }

    /// "more than the limit of N entries (VAR raises it)", for an error.
    pub fn over_entries(&self) -> String {
        format!("more than the limit of {} entries ({MAX_ENTRIES_VAR} raises it)", self.max_entries)
    }

    /// "more than the limit of N bytes (VAR raises it)", for an error.
    pub fn over_bytes(&self) -> String {
        format!("more than the limit of {} bytes ({MAX_BYTES_VAR} raises it)", self.max_bytes)
    }
}

/// The entries under `path` (itself not counted) and the bytes of the
/// files among them, links not followed; a file is no entries and its
/// own size.
pub fn usage(path: &std::path::Path) -> io::Result<(u64, u64)> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return Ok((0, if meta.is_file() { meta.len() } else { 0 }));
    }
    let (mut entries, mut bytes) = (0u64, 0u64);
    let mut todo = vec![path.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir)? {
            let e = e?;
            let meta = e.path().symlink_metadata()?;
            entries += 1;
            if meta.is_dir() {
                todo.push(e.path());
            } else if meta.is_file() {
                bytes = bytes.saturating_add(meta.len());
            }
        }
    }
    Ok((entries, bytes))
}

/// Digits with an optional K, M, G or T suffix (powers of 1024).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, shift) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 10),
        (i, 'm' | 'M') => (&s[..i], 20),
        (i, 'g' | 'G') => (&s[..i], 30),
        (i, 't' | 'T') => (&s[..i], 40),
        _ => (s, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// A reader that fails once more than its budget has been read from it.
/// The budget is shared ([`Budget`]) so the unpacker can set it, entry by
/// entry, while the tar reader owns the stream.
pub struct Capped<R> {
    inner: R,
    budget: Budget,
    /// What reading past the budget means, for the error.
    beyond: &'static str,
}

impl<R> std::fmt::Debug for Capped<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capped").field("budget", &self.budget).finish_non_exhaustive()
    }
}

/// The bytes a [`Capped`] reader may still return, and how many it has.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    read: Rc<Cell<u64>>,
    cap: Rc<Cell<u64>>,
}

impl Budget {
    /// Lets the reader return `more` bytes beyond what it has returned.
    pub fn allow(&self, more: u64) {
        self.cap.set(self.read.get().saturating_add(more));
    }
}

impl<R: Read> Capped<R> {
    /// `inner`, returning no more than `budget` allows (nothing until
    /// [`Budget::allow`] is called).
    pub fn new(inner: R, budget: Budget) -> Self {
        Capped { inner, budget, beyond: "the archive holds more data than its manifest accounts for" }
    }

    /// The same, saying `beyond` when the budget is overrun.
    pub fn saying(inner: R, budget: Budget, beyond: &'static str) -> Self {
        Capped { inner, budget, beyond }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (read, cap) = (self.budget.read.get(), self.budget.cap.get());
        if buf.is_empty() {
            return Ok(0);
        }
        if read >= cap {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} (cut off after {read} bytes)", self.beyond),
            ));
        }
        let n = buf.len().min(usize::try_from(cap - read).unwrap_or(usize::MAX));
        let got = self.inner.read(&mut buf[..n])?;
        self.budget.read.set(read + got as u64);
        Ok(got)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size(" 64G "), Some(64 << 30));
        assert_eq!(parse_size("2k"), Some(2048));
        assert_eq!(parse_size("1T"), Some(1 << 40));
        for bad in ["", "G", "1.5G", "-1", "12x", "99999999999T"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_capped_reader_stops_at_its_budget() {
        let budget = Budget::default();
        let mut r = Capped::new(&[7u8; 100][..], budget.clone());
        let mut buf = [0u8; 64];
        assert!(r.read(&mut buf).is_err(), "nothing allowed yet");
        budget.allow(10);
        assert_eq!(r.read(&mut buf).unwrap(), 10);
        let e = r.read(&mut buf).unwrap_err();
        assert!(e.to_string().contains("more data than its manifest accounts for"), "{e}");
        budget.allow(1000);
        assert_eq!(r.read(&mut buf).unwrap(), 64);
        assert_eq!(r.read(&mut buf).unwrap(), 26);
        assert_eq!(r.read(&mut buf).unwrap(), 0);
    }
}

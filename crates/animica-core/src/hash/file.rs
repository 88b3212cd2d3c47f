//! Hashing a file by path, memory-mapped, never read whole into memory.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::{Algorithm, Digest, StreamHasher};
use crate::error::{Error, Result};
use crate::parallel::Threads;

/// Read size for files that cannot be mapped (pipes, character devices).
const READ_CHUNK: usize = 1 << 20;

/// Digest of the file at `path`. Regular files are memory-mapped (and
/// hashed with rayon for BLAKE3); anything else is streamed in 1 MiB reads.
pub fn file(path: &Path, algorithm: Algorithm, threads: Threads) -> Result<Digest> {
    let io = |source| Error::Io { path: path.to_owned(), source };
    let f = File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    let mut h = StreamHasher::new(algorithm);
    if meta.is_file() && meta.len() > 0 {
        // SAFETY: the map is read-only and dropped before we return. If
        // another process truncates the file while we read, the kernel
        // raises SIGBUS, exactly as for `b3sum` and `sha256sum --mmap`;
        // if it rewrites bytes, the digest is of a mix, as with read().
        let map = unsafe { memmap2::Mmap::map(&f) }.map_err(io)?;
        h.update(&map, threads)?;
    } else {
        let mut f = f;
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let n = match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io(e)),
            };
            h.update(&buf[..n], threads)?;
        }
    }
    Ok(h.finalize())
}

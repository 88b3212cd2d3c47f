//! Advisory `flock` locks on lock files, shared by `run` (one unpack of an
//! archive at a time) and `create` (one build of an environment at a
//! time, and sweeps of a cache no other `create` is using). The kernel
//! drops a lock when its holder dies, so a killed process never leaves a
//! cache locked.

use std::fs;
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A `flock` on a lock file, released on drop.
#[derive(Debug)]
pub struct Lock(fs::File);

impl Lock {
    /// Waits up to `wait` for the exclusive lock on `path` (created if
    /// missing, never through a link).
    pub fn exclusive(path: &Path, wait: Duration) -> Result<Lock> {
        Lock(open(path)?).wait_for(path, libc::LOCK_EX, wait)
    }

    /// Waits up to `wait` for a shared lock on `path`.
    pub fn shared(path: &Path, wait: Duration) -> Result<Lock> {
        Lock(open(path)?).wait_for(path, libc::LOCK_SH, wait)
    }

    /// The exclusive lock on `path` if nobody holds any lock on it now.
    pub fn try_exclusive(path: &Path) -> Result<Option<Lock>> {
        let lock = Lock(open(path)?);
        match lock.try_op(libc::LOCK_EX) {
            Ok(true) => Ok(Some(lock)),
            Ok(false) => Ok(None),
            Err(source) => Err(Error::Output { path: path.to_owned(), source }),
        }
    }

    /// Turns an exclusive lock into a shared one (flock(2) does it by
    /// unlocking first: another process may take the lock in between).
    pub fn into_shared(self, path: &Path, wait: Duration) -> Result<Lock> {
        self.wait_for(path, libc::LOCK_SH, wait)
    }

    fn wait_for(self, path: &Path, op: libc::c_int, wait: Duration) -> Result<Lock> {
        let start = Instant::now();
        loop {
            match self.try_op(op) {
                Ok(true) => return Ok(self),
                Ok(false) if start.elapsed() < wait => std::thread::sleep(Duration::from_millis(20)),
                Ok(false) => {
                    let why = format!("waited {wait:?} for the process that holds this lock");
                    return Err(Error::Output {
                        path: path.to_owned(),
                        source: io::Error::new(io::ErrorKind::TimedOut, why),
                    });
                }
                Err(source) => return Err(Error::Output { path: path.to_owned(), source }),
            }
        }
    }

    /// One non-blocking `flock(op)`: whether it was granted.
    fn try_op(&self, op: libc::c_int) -> io::Result<bool> {
        // SAFETY: flock on a descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(self.0.as_raw_fd(), op | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::WouldBlock { Ok(false) } else { Err(err) }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // SAFETY: unlocking a descriptor we own.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Opens (creating) the lock file `path`. Never through a link: in a
/// directory someone else unpacked, a planted link would otherwise create
/// its target.
fn open(path: &Path) -> Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|source| Error::Output { path: path.to_owned(), source })
}

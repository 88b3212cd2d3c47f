//! A directory in which files are created and opened by relative path
//! without ever following a symbolic link: each component is opened with
//! `openat(.., O_NOFOLLOW)` from the directory above it, so whatever links
//! the tree holds (or another process plants), nothing is read or written
//! outside it. Portable to old kernels (no `openat2`/`RESOLVE_BENEATH`).

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

/// The root directory, held open.
#[derive(Debug)]
pub struct Confined {
    dir: OwnedFd,
}

const DIR_FLAGS: OFlags = OFlags::DIRECTORY.union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC).union(OFlags::RDONLY);

impl Confined {
    /// Opens `root` (which may itself be reached through links: it is
    /// the caller's choice of place).
    pub fn open(root: &Path) -> io::Result<Self> {
        let dir = rustix::fs::open(root, OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::RDONLY, Mode::empty())?;
        Ok(Confined { dir })
    }

    /// Creates the file `rel` (`/`-separated, no `..`), which must not
    /// exist, with `mode`; missing directories above it are created.
    pub fn create_file(&self, rel: &str, mode: u32) -> io::Result<File> {
        let (parent, name) = self.parent(rel, true)?;
        let flags = OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::WRONLY;
        let fd = rustix::fs::openat(&parent, name, flags, Mode::from_raw_mode(mode))?;
        // The exact mode, whatever the umask.
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
        Ok(File::from(fd))
    }

    /// Creates the symlink `rel` pointing to `target`.
    pub fn symlink(&self, rel: &str, target: &str) -> io::Result<()> {
        let (parent, name) = self.parent(rel, true)?;
        Ok(rustix::fs::symlinkat(target, &parent, name)?)
    }

    /// Writes the file `rel` whole with `mode`: a temporary file beside it,
    /// renamed over it, so a reader sees the old content or the new.
    pub fn replace_file(&self, rel: &str, data: &[u8], mode: u32) -> io::Result<()> {
        use std::io::Write;
        let (parent, name) = self.parent(rel, true)?;
        let tmp = format!(".{name}.{}", std::process::id());
        let _ = rustix::fs::unlinkat(&parent, tmp.as_str(), rustix::fs::AtFlags::empty());
        let flags = OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::WRONLY;
        let fd = rustix::fs::openat(&parent, tmp.as_str(), flags, Mode::from_raw_mode(mode))?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
        File::from(fd).write_all(data)?;
        Ok(rustix::fs::renameat(&parent, tmp.as_str(), &parent, name)?)
    }

    /// Opens the existing regular file `rel` for reading and writing.
    pub fn open_file(&self, rel: &str) -> io::Result<File> {
        let (parent, name) = self.parent(rel, false)?;
        let fd = rustix::fs::openat(&parent, name, OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDWR, Mode::empty())
            .map_err(|e| explain(e, rel))?;
        let file = File::from(fd);
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{rel} is not a regular file")));
        }
        Ok(file)
    }

    /// The directory holding `rel`'s last component, opened without
    /// following links (created when `create`), and that component.
    fn parent<'a>(&self, rel: &'a str, create: bool) -> io::Result<(OwnedFd, &'a str)> {
        let mut parts: Vec<&str> = rel.split('/').collect();
        let name = parts.pop().unwrap_or_default();
        if name.is_empty() || parts.iter().chain([&name]).any(|c| c.is_empty() || *c == "." || *c == "..") {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{rel:?} is not a plain relative path")));
        }
        let mut dir = rustix::fs::openat(&self.dir, ".", DIR_FLAGS, Mode::empty())?;
        for c in parts {
            let next = match rustix::fs::openat(&dir, c, DIR_FLAGS, Mode::empty()) {
                Err(rustix::io::Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(&dir, c, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    rustix::fs::openat(&dir, c, DIR_FLAGS, Mode::empty())
                }
                other => other,
            };
            dir = next.map_err(|e| explain(e, rel))?;
        }
        Ok((dir, name))
    }
}

/// Replaces the whole content of an open file with `data`.
pub fn overwrite(file: &mut File, data: &[u8]) -> io::Result<()> {
    use std::io::{Seek, Write};
    file.rewind()?;
    file.set_len(0)?;
    file.write_all(data)
}

/// `ELOOP`/`ENOTDIR` from `O_NOFOLLOW` mean a link (or a file) sits where
/// a directory or file should: say so.
fn explain(e: rustix::io::Errno, rel: &str) -> io::Error {
    match e {
        rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{rel}: a symbolic link or a file is in the way; links are never followed"),
        ),
        e => e.into(),
    }
}

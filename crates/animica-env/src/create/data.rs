//! poncho's `git` and `http` sections: data fetched into the environment
//! at `<prefix>/<name>`, and `poncho/set_env` exporting `<name>` as that
//! path when the environment is activated (cctools' runner sources it with
//! the prefix as `$1`; so do `animica-env run` and the archives' launchers).

use std::io::Write;
use std::path::Path;

use super::spec::{Data, DataSource};
use crate::env::limits::{Budget, Capped, HEADER_ALLOWANCE, Limits, usage};
use crate::error::{Error, Result};

/// Fetches every entry into `prefix` and writes `poncho/set_env`. Each
/// download, and what it unpacks or inflates to, is held to `limits` (the
/// ones `run` applies to the whole archive: data beyond them would make an
/// archive no worker unpacks), so a decompression bomb or an endless
/// response stops with an error; so is each clone, once made (git has no
/// limit to give it).
pub async fn fetch(data: &[Data], prefix: &Path, limits: &Limits) -> Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let mut set_env = String::from("# Written by animica-env: the paths of the spec's git and http data.\n");
    for d in data {
        let dest = prefix.join(&d.name);
        if std::fs::symlink_metadata(&dest).is_ok() {
            return Err(Error::Create(format!(
                "data {:?}: {} already exists in the environment",
                d.name,
                dest.display()
            )));
        }
        match &d.source {
            DataSource::Git { remote, reference } => {
                git(remote, reference.as_deref(), &dest)?;
                within(&dest, limits)
                    .map_err(|why| Error::Create(format!("data {:?}: the clone of {remote} {why}", d.name)))?
            }
            DataSource::Http { url, kind, compression } => {
                http(url, kind.as_deref(), compression.as_deref(), prefix, &dest, limits).await?
            }
        }
        set_env.push_str(&format!("export {0}=\"$1/{0}\"\n", d.name));
    }
    let dir = prefix.join("poncho");
    std::fs::create_dir_all(&dir).map_err(|source| Error::Output { path: dir.clone(), source })?;
    std::fs::write(dir.join("set_env"), set_env).map_err(|source| Error::Output { path: dir.join("set_env"), source })
}

fn git(remote: &str, reference: Option<&str>, dest: &Path) -> Result<()> {
    let run = |args: &[&std::ffi::OsStr]| -> Result<()> {
        let status = std::process::Command::new("git")
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .status()
            .map_err(|source| Error::Command { program: "git".into(), source })?;
        if status.success() { Ok(()) } else { Err(Error::Create(format!("git {:?} failed ({status})", args))) }
    };
    // `--` so that a remote can never be read as an option.
    run(&["clone".as_ref(), "--quiet".as_ref(), "--".as_ref(), remote.as_ref(), dest.as_os_str()])?;
    if let Some(r) = reference {
        run(&["-C".as_ref(), dest.as_os_str(), "checkout".as_ref(), "--quiet".as_ref(), r.as_ref(), "--".as_ref()])?;
    }
    Ok(())
}

async fn http(
    url: &str,
    kind: Option<&str>,
    compression: Option<&str>,
    prefix: &Path,
    dest: &Path,
    limits: &Limits,
) -> Result<()> {
    let fail = |e: String| Error::Create(format!("downloading {url}: {e}"));
    let parsed = reqwest::Url::parse(url).map_err(|e| fail(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(fail(format!("the scheme {:?} is not http or https", parsed.scheme())));
    }
    let download = prefix.join(format!(".animica-env-download-{}", std::process::id()));
    let mut response =
        reqwest::get(parsed).await.and_then(|r| r.error_for_status()).map_err(|e| fail(e.to_string()))?;
    {
        let mut file =
            std::fs::File::create(&download).map_err(|source| Error::Output { path: download.clone(), source })?;
        let mut total = 0u64;
        let written = loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break Ok(()),
                Err(e) => break Err(fail(e.to_string())),
            };
            total += chunk.len() as u64;
            if total > limits.max_bytes {
                break Err(fail(limits.over_bytes()));
            }
            if let Err(source) = file.write_all(&chunk) {
                break Err(Error::Output { path: download.clone(), source });
            }
        };
        if let Err(e) = written {
            let _ = std::fs::remove_file(&download);
            return Err(e);
        }
    }
    let result = place(&download, kind, compression, dest, limits).map_err(|e| fail(e.to_string()));
    let _ = std::fs::remove_file(&download);
    result
}

/// Whether the tree at `dir` fits `limits` (entries and file bytes, links
/// not followed); else what is over.
fn within(dir: &Path, limits: &Limits) -> std::result::Result<(), String> {
    let (entries, bytes) = usage(dir).map_err(|e| format!("cannot be read: {e}"))?;
    if entries > limits.max_entries {
        return Err(format!("holds {}", limits.over_entries()));
    }
    if bytes > limits.max_bytes {
        return Err(format!("holds {}", limits.over_bytes()));
    }
    Ok(())
}

fn invalid(why: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, why)
}

/// Puts the downloaded file (beside `dest`, in the prefix) where poncho
/// would: unpacked (`type: tar`), gunzipped (`compression: gzip`) or, as it
/// is, renamed into place.
fn place(
    download: &Path,
    kind: Option<&str>,
    compression: Option<&str>,
    dest: &Path,
    limits: &Limits,
) -> std::io::Result<()> {
    let open = || std::fs::File::open(download);
    match (kind, compression) {
        (Some("tar"), Some("gzip")) => unpack(flate2::read::GzDecoder::new(open()?), dest, limits),
        (Some("tar"), None) => unpack(open()?, dest, limits),
        (None, Some("gzip")) => {
            let mut out = std::fs::File::create_new(dest)?;
            let mut inflated = std::io::Read::take(flate2::read::GzDecoder::new(open()?), limits.max_bytes + 1);
            if std::io::copy(&mut inflated, &mut out)? > limits.max_bytes {
                return Err(invalid(format!("inflates to {}", limits.over_bytes())));
            }
            Ok(())
        }
        (None, None) => std::fs::rename(download, dest),
        (k, c) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("type {k:?} with compression {c:?}: poncho knows type tar and compression gzip"),
        )),
    }
}

/// Unpacks a tar stream into the new directory `dest`: entries that would
/// land outside it (`..`, absolute paths, through links) are refused by the
/// tar crate's `unpack_in`; links and devices are not created at all. The
/// entries' count and declared sizes are held to `limits`, and the stream
/// is read no further than they account for (the tar crate holds a long
/// name or extension header in memory whole: each gets a fixed allowance,
/// as in `run`'s unpacker).
fn unpack(reader: impl std::io::Read, dest: &Path, limits: &Limits) -> std::io::Result<()> {
    std::fs::create_dir(dest)?;
    let budget = Budget::default();
    let capped = Capped::saying(reader, budget.clone(), "a tar header is longer than allowed");
    let mut archive = tar::Archive::new(capped);
    archive.set_preserve_permissions(false);
    let mut entries = archive.entries()?;
    let (mut count, mut bytes) = (0u64, 0u64);
    loop {
        budget.allow(HEADER_ALLOWANCE);
        let Some(entry) = entries.next() else { break };
        let mut entry = entry?;
        count += 1;
        bytes = bytes.saturating_add(entry.size());
        if count > limits.max_entries {
            return Err(invalid(format!("holds {}", limits.over_entries())));
        }
        if bytes > limits.max_bytes {
            return Err(invalid(format!("unpacks to {}", limits.over_bytes())));
        }
        budget.allow(entry.size());
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            let path = entry.path()?.display().to_string();
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{path}: only files and directories are unpacked from downloaded data"),
            ));
        }
        if !entry.unpack_in(dest)? {
            let path = entry.path()?.display().to_string();
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{path}: outside the directory")));
        }
    }
    Ok(())
}

//! The solve, download, install, pip and pack steps of `create` (the
//! `solve` feature: rattler, tokio and reqwest), and channel indexing.

use std::path::Path;
use std::str::FromStr;
use std::time::Instant;

use rattler_conda_types::{
    Channel, ChannelConfig, GenericVirtualPackage, MatchSpec, PackageName, ParseStrictness, RepoDataRecord, Subdir,
    Version,
};
use rattler_solve::{SolverImpl, SolverTask, resolvo};

use super::{CreateOptions, cache, canonical_prefix, data, spec, staging_prefix};
use crate::env::pack::{self, Compression, PackOptions};
use crate::error::{Error, Result};

/// Prints a progress line unless quiet.
fn say(opts: &CreateOptions, msg: &str) {
    if !opts.quiet {
        eprintln!("animica-env: {msg}");
    }
}

/// Builds the environment `spec` asks for and writes `out`.
pub fn create(spec: &spec::Spec, out: &Path, opts: &CreateOptions) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Create(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(create_async(spec, out, opts))
}

fn create_err(what: &str) -> impl Fn(String) -> Error + '_ {
    move |e| Error::Create(format!("{what}: {e}"))
}

/// `e` and the errors under it, as "outer: inner: innermost": rattler's
/// own messages stop at "failed to fetch <package>", and the reason (a
/// full disk, a refused connection) is below. A cause whose text is
/// already in the message is left out.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    for cause in std::iter::successors(e.source(), |c| c.source()) {
        let more = cause.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
    }
    text
}

async fn create_async(spec: &spec::Spec, out: &Path, opts: &CreateOptions) -> Result<()> {
    let cwd = std::env::current_dir().map_err(|source| Error::Input { path: ".".into(), source })?;
    let config = ChannelConfig::default_with_root_dir(cwd);
    let names: Vec<String> = if !opts.channels.is_empty() {
        opts.channels.clone()
    } else if !spec.channels.is_empty() {
        spec.channels.clone()
    } else {
        vec!["conda-forge".into()]
    };
    let channels = names
        .iter()
        .map(|c| {
            // A directory given by a relative path is a local channel, not
            // a channel name on the default server.
            let c = match std::path::Path::new(c) {
                p if p.is_dir() => std::path::absolute(p).map_or(c.clone(), |a| a.to_string_lossy().into_owned()),
                _ => c.clone(),
            };
            Channel::from_str(&c, &config).map_err(|e| Error::Create(format!("channel {c}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let platform = Subdir::current().ok_or_else(|| Error::Create("this platform has no conda subdir".into()))?;
    let parse =
        |s: &str| MatchSpec::from_str(s, ParseStrictness::Lenient).map_err(|e| Error::Create(format!("{s:?}: {e}")));
    let mut specs: Vec<MatchSpec> = spec.conda.iter().map(|s| parse(s)).collect::<Result<_>>()?;

    // Absolute: the staging prefix is written into the environment.
    let cache =
        &std::path::absolute(&opts.cache).map_err(|source| Error::Input { path: opts.cache.clone(), source })?;
    // The limits `run` will hold the archive to; `data` is held to them too.
    let limits = crate::env::limits::Limits::from_env()?;
    let (_in_use, swept) = cache::enter(cache)?;
    if swept.entries > 0 {
        let mib = swept.bytes as f64 / f64::from(1 << 20);
        say(opts, &format!("removed {} leftovers of interrupted creates ({mib:.1} MiB)", swept.entries));
    }
    let gateway = rattler_repodata_gateway::Gateway::builder()
        .with_cache_dir(cache.join("repodata"))
        .with_package_cache(rattler_cache::package_cache::PackageCache::new(cache.join("pkgs")))
        .finish();

    // Which of analyze's requirements can conda provide? One query by name.
    let started = Instant::now();
    say(opts, &format!("solving ({})", names.join(", ")));
    let mut pip = spec.pip.clone();
    if !spec.either.is_empty() {
        let candidates: Vec<(String, MatchSpec)> =
            spec.either.iter().filter_map(|r| conda_spec_for(r).map(|m| (r.clone(), m))).collect();
        let names: Vec<PackageName> = candidates.iter().filter_map(|(_, m)| m.name.as_exact().cloned()).collect();
        let found = gateway
            .query(channels.clone(), [platform, Subdir::NoArch], names.into_iter().map(MatchSpec::from))
            .recursive(false)
            .await
            .map_err(|e| Error::Create(format!("loading repodata: {}", with_causes(&e))))?;
        let available: std::collections::HashSet<String> = found
            .repodata
            .iter()
            .flat_map(|r| r.iter())
            .map(|r| r.package_record.name.as_normalized().to_owned())
            .collect();
        for (req, m) in candidates {
            let name = m.name.as_exact().map(|n| n.as_normalized().to_owned()).unwrap_or_default();
            if available.contains(&name) {
                specs.push(m);
            } else {
                pip.push(req);
            }
        }
        for req in &spec.either {
            if conda_spec_for(req).is_none() {
                pip.push(req.clone());
            }
        }
    }
    if !pip.is_empty() && !specs.iter().any(|s| s.name.as_exact().is_some_and(|n| n.as_normalized() == "pip")) {
        specs.push(parse("pip")?);
    }

    let repodata = gateway
        .query(channels, [platform, Subdir::NoArch], specs.clone())
        .recursive(true)
        .await
        .map_err(|e| Error::Create(format!("loading repodata: {}", with_causes(&e))))?
        .repodata;
    let task =
        SolverTask { virtual_packages: virtual_packages(), specs: specs.clone(), ..SolverTask::from_iter(&repodata) };
    let solved = resolvo::Solver.solve(task).map_err(|e| Error::Create(format!("cannot solve: {e}")))?;
    let mut records: Vec<RepoDataRecord> = solved.records;
    records.sort_by(|a, b| a.package_record.name.as_normalized().cmp(b.package_record.name.as_normalized()));
    say(opts, &format!("solved {} packages in {} ms", records.len(), started.elapsed().as_millis()));
    shadows_no_stdlib(&records, &pip)?;

    let urls: Vec<&str> = records.iter().map(|r| r.url.as_str()).collect();
    let data: Vec<String> = spec.data.iter().map(|d| format!("{d:?}")).collect();
    let key = archive_key(TOOL, crate::env::manifest::FORMAT, &urls, &pip, &data, opts.compression);
    let cached = cache.join("archives").join(format!("{key}{}", opts.compression.extension()));
    if cached.is_file() {
        say(opts, "reusing the archive of an identical environment");
        return copy_out(&cached, out);
    }
    let _building = cache::build_lock(cache, &key, || say(opts, "waiting for another create of this environment"))?;
    if cached.is_file() {
        say(opts, "reusing the archive the other create made");
        return copy_out(&cached, out);
    }

    let prefix = staging_prefix(cache, &key);
    if prefix.exists() {
        std::fs::remove_dir_all(&prefix).map_err(|e| create_err("clearing the staging prefix")(e.to_string()))?;
    }
    // Whatever happens, nothing of this build is left behind but a
    // complete archive (a killed create's leftovers: see cache.rs).
    let tmp = cached.with_extension(format!("tmp{}", std::process::id()));
    let built = async {
        let started = Instant::now();
        say(opts, &format!("installing {} packages", records.len()));
        let mut installer = rattler::install::Installer::new()
            .with_package_cache(rattler_cache::package_cache::PackageCache::new(cache.join("pkgs")))
            .with_target_platform(platform)
            .with_execute_link_scripts(false)
            .with_requested_specs(specs);
        if !opts.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            installer = installer.with_reporter(rattler::install::IndicatifReporter::builder().finish());
        }
        installer
            .install(&prefix, records)
            .await
            .map_err(|e| Error::Create(format!("installing: {}", with_causes(&e))))?;
        say(opts, &format!("installed in {} ms", started.elapsed().as_millis()));

        if !pip.is_empty() {
            say(opts, &format!("pip install {}", pip.join(" ")));
            let python = prefix.join("bin").join("python");
            let mut cmd = std::process::Command::new(&python);
            // No .pyc: they hold the time the sources were written.
            cmd.args([
                "-m",
                "pip",
                "install",
                "--no-warn-script-location",
                "--disable-pip-version-check",
                "--no-compile",
            ]);
            if opts.quiet {
                cmd.arg("--quiet");
            }
            cmd.args(&pip).env_remove("PYTHONPATH").env_remove("PYTHONHOME").env_remove("PIP_USER");
            let status =
                cmd.status().map_err(|source| Error::Command { program: python.display().to_string(), source })?;
            if !status.success() {
                return Err(Error::Create(format!("pip install {} failed ({status})", pip.join(" "))));
            }
        }

        if !spec.data.is_empty() {
            say(
                opts,
                &format!("fetching data: {}", spec.data.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")),
            );
            data::fetch(&spec.data, &prefix, &limits).await?;
        }

        say(opts, "packing");
        let mut popts = PackOptions::new(opts.compression);
        popts.extra = crate::env::launchers(&prefix)?;
        popts.canonical_prefix = Some(canonical_prefix(prefix.as_os_str().len()));
        std::fs::create_dir_all(cache.join("archives"))
            .map_err(|source| Error::Output { path: cache.join("archives"), source })?;
        pack::pack(&prefix, &tmp, &popts)?;
        std::fs::rename(&tmp, &cached).map_err(|source| Error::Output { path: cached.clone(), source })
    }
    .await;
    let _ = std::fs::remove_dir_all(&prefix);
    if built.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    built?;
    copy_out(&cached, out)
}

/// Copies the cached archive to `to` through a temporary file beside it,
/// renamed into place: a create killed while copying leaves no
/// half-written archive under the name asked for.
fn copy_out(from: &Path, to: &Path) -> Result<()> {
    let err = |source| Error::Output { path: to.to_owned(), source };
    let name = to.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = to.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let result = std::fs::copy(from, &tmp).and_then(|_| std::fs::rename(&tmp, to));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// Refuses a pip requirement named like a module of the environment's
/// Python's standard library (`enum`, `typing`, `asyncio`...): PyPI has
/// old distributions of those names, and installed they shadow or break
/// the real module.
fn shadows_no_stdlib(records: &[RepoDataRecord], pip: &[String]) -> Result<()> {
    let Some(python) = records.iter().find(|r| r.package_record.name.as_normalized() == "python") else {
        return Ok(());
    };
    let version = python.package_record.version.to_string();
    let Ok(stdlib) = crate::analyze::stdlib::Stdlib::for_version(&version) else { return Ok(()) };
    for req in pip {
        let name: String = req
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .map(|c| if matches!(c, '-' | '.') { '_' } else { c.to_ascii_lowercase() })
            .collect();
        if stdlib.contains(&name) {
            return Err(Error::Create(format!(
                "pip requirement {req:?} names {name}, a module of Python {version}'s standard library: \
                 the PyPI distribution of that name would shadow or break it (remove it from the spec)"
            )));
        }
    }
    Ok(())
}

/// The conda match spec for a pip-style requirement (`Name==1.2`,
/// `name>=1`, `name`), or `None` when it has extras/markers/URLs.
fn conda_spec_for(req: &str) -> Option<MatchSpec> {
    let req = req.trim();
    if req.contains(['[', ';', '@', ' ']) {
        return None;
    }
    let split = req.find(['=', '<', '>', '!', '~']).unwrap_or(req.len());
    let (name, version) = req.split_at(split);
    let name = name.to_ascii_lowercase().replace('_', "-");
    let version = version.replace("~=", ">=");
    MatchSpec::from_str(format!("{name} {version}").trim(), ParseStrictness::Lenient).ok()
}

/// This build, as the archive cache knows it.
const TOOL: &str = concat!("animica-env ", env!("CARGO_PKG_VERSION"));

/// The cache key of an archive: the solved environment (package URLs),
/// pip's requirements and the compression decide its content, and the tool
/// and manifest format decide how it is packed, so an upgrade never reuses
/// an archive an older animica-env made.
fn archive_key(
    tool: &str,
    format: u32,
    urls: &[&str],
    pip: &[String],
    data: &[String],
    compression: Compression,
) -> String {
    let mut key = blake3::Hasher::new();
    key.update(tool.as_bytes());
    key.update(format!("\0manifest format {format}\0{compression:?}\0").as_bytes());
    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    for (section, parts) in [("conda", urls.to_vec()), ("pip", strs(pip)), ("data", strs(data))] {
        key.update(format!("[{section}]\0").as_bytes());
        for part in parts {
            key.update(part.as_bytes());
            key.update(b"\0");
        }
    }
    key.finalize().to_hex()[..32].to_owned()
}

/// The virtual packages of this machine that conda-forge's packages ask
/// for: `__unix`, `__linux` (kernel version), `__glibc`, `__archspec`.
fn virtual_packages() -> Vec<GenericVirtualPackage> {
    let mut out = Vec::new();
    let mut add = |name: &str, version: &str, build: &str| {
        if let (Ok(name), Ok(version), Ok(build_string)) = (
            PackageName::from_str(name),
            Version::from_str(version),
            rattler_conda_types::package::BuildString::from_str(build),
        ) {
            out.push(GenericVirtualPackage { name, version, build_string });
        }
    };
    add("__unix", "0", "0");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let kernel: String =
        kernel.trim().split(|c: char| !(c.is_ascii_digit() || c == '.')).next().unwrap_or("0").to_owned();
    add("__linux", if kernel.is_empty() { "0" } else { &kernel }, "0");
    if let Some(glibc) = glibc_version() {
        add("__glibc", &glibc, "0");
    }
    add("__archspec", "1", std::env::consts::ARCH);
    out
}

/// The glibc of the machine this runs on, which is what the environment
/// will meet, not the one a static build of animica-env carries:
/// `CONDA_OVERRIDE_GLIBC` when set (as conda and rattler honour it), else
/// what the host's own dynamically linked `getconf` reports, else the
/// first line of `ldd --version`. `None` on a musl or non-glibc host.
fn glibc_version() -> Option<String> {
    if let Ok(v) = std::env::var("CONDA_OVERRIDE_GLIBC") {
        return Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    }
    let output = |cmd: &str, arg: &str| {
        std::process::Command::new(cmd)
            .arg(arg)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    parse_glibc(output("getconf", "GNU_LIBC_VERSION").as_deref(), || output("ldd", "--version"))
}

/// The version in `getconf GNU_LIBC_VERSION`'s answer ("glibc 2.36"), or
/// else in the first line of `ldd --version` ("ldd (Debian GLIBC
/// 2.36-9+deb12u4) 2.36"; musl's ldd names musl and gives none).
fn parse_glibc(getconf: Option<&str>, ldd: impl FnOnce() -> Option<String>) -> Option<String> {
    if let Some(v) = getconf.and_then(|s| s.trim().strip_prefix("glibc ")) {
        return Some(v.trim().to_owned());
    }
    let text = ldd()?;
    let first = text.lines().next()?;
    let lower = first.to_ascii_lowercase();
    if !(lower.contains("glibc") || lower.contains("gnu libc")) {
        return None;
    }
    first.split_whitespace().last().filter(|v| v.starts_with(|c: char| c.is_ascii_digit())).map(str::to_owned)
}

/// Indexes a local channel directory (writes each subdir's repodata.json)
/// with rattler_index: how the test channel and users' own local channels
/// are made usable.
pub fn index_channel(dir: &Path) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Create(format!("cannot start the async runtime: {e}")))?;
    for sub in ["noarch", "linux-64"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|source| Error::Output { path: dir.join(sub), source })?;
    }
    let config = rattler_index::IndexFsConfig {
        channel: dir.to_owned(),
        target_platform: None,
        repodata_patch: None,
        write_zst: false,
        write_shards: false,
        repodata_revisions: Vec::new(),
        package_revision_assignment: Default::default(),
        force: true,
        max_parallel: 4,
        multi_progress: None,
    };
    rt.block_on(rattler_index::index_fs(config))
        .map_err(|e| Error::Create(format!("indexing {}: {e:#}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_keys_change_with_the_tool_and_the_format() {
        let urls = ["https://conda.anaconda.org/conda-forge/noarch/six-1.16.0-pyh6c4a22f_0.tar.bz2"];
        let pip = vec!["tabulate==0.9.0".to_owned()];
        let key = |tool, format, c| archive_key(tool, format, &urls, &pip, &[], c);
        let base = key("animica-env 0.1.0", 1, Compression::Zstd);
        assert_eq!(base, key("animica-env 0.1.0", 1, Compression::Zstd));
        assert_ne!(base, key("animica-env 0.1.1", 1, Compression::Zstd));
        assert_ne!(base, key("animica-env 0.1.0", 2, Compression::Zstd));
        assert_ne!(base, key("animica-env 0.1.0", 1, Compression::Gzip));
        // A package moved into pip's list is another environment.
        assert_ne!(
            base,
            archive_key("animica-env 0.1.0", 1, &[], &[urls[0].to_owned(), pip[0].clone()], &[], Compression::Zstd)
        );
        // So is one with other data (poncho's git/http sections).
        let data = ["Data { name: \"D\" }".to_owned()];
        assert_ne!(base, archive_key("animica-env 0.1.0", 1, &urls, &pip, &data, Compression::Zstd));
    }

    #[test]
    fn glibc_answers_are_parsed() {
        assert_eq!(parse_glibc(Some("glibc 2.36\n"), || None).as_deref(), Some("2.36"));
        let ldd = || Some("ldd (Debian GLIBC 2.31-13+deb11u11) 2.31\nCopyright".to_owned());
        assert_eq!(parse_glibc(None, ldd).as_deref(), Some("2.31"));
        let ldd = || Some("ldd (GNU libc) 2.17\n".to_owned());
        assert_eq!(parse_glibc(Some("something else"), ldd).as_deref(), Some("2.17"));
        let musl = || Some("musl libc (x86_64)\nVersion 1.2.3\n".to_owned());
        assert_eq!(parse_glibc(None, musl), None);
        assert_eq!(parse_glibc(None, || None), None);
    }

    /// This test binary links the host's glibc dynamically, so its own
    /// idea of the version is the host's: the detection (which a static
    /// build relies on) must agree with it.
    #[cfg(target_env = "gnu")]
    #[test]
    fn the_host_glibc_is_detected() {
        if let Ok(v) = std::env::var("CONDA_OVERRIDE_GLIBC") {
            assert_eq!(glibc_version().as_deref(), Some(v.trim()));
            return;
        }
        // SAFETY: gnu_get_libc_version returns a static NUL-terminated string.
        let linked = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
        assert_eq!(glibc_version().as_deref(), linked.to_str().ok());
    }
}

//! The operations behind both command lines: `cli` (animica-env's own
//! subcommands) and `compat` (cctools' tool names) parse their arguments
//! with clap, call these, and map errors to their own exit statuses.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::analyze::{self, Input, Options, Scope};
use crate::create::{self, spec::Spec};
use crate::env::pack::Compression;
use crate::error::{Error, Result};
use crate::run::{self, RunOptions};

/// What `analyze` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalyzeFormat {
    /// The seed's JSON, extended: python, modules, requirements, local.
    Seed,
    /// cctools poncho's spec: conda channels and dependencies, pip nested.
    Poncho,
}

/// Analyzes `inputs` and writes the report to `out` (`-`: standard output);
/// warnings go to standard error, prefixed with `tool`.
pub fn analyze(tool: &str, inputs: &[Input], opts: &Options, format: AnalyzeFormat, out: &str) -> Result<()> {
    let report = analyze::analyze(inputs, opts)?;
    for w in &report.warnings {
        eprintln!("{tool}: warning: {w}");
    }
    let text = match format {
        AnalyzeFormat::Seed => report.to_seed_json(),
        AnalyzeFormat::Poncho => report.to_poncho_json(),
    };
    write_out(out, &text)
}

/// `--pkg-mapping IMPORT=DIST`, as clap's value parser.
pub fn parse_mapping(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((i, d)) if !i.is_empty() && !d.is_empty() => Ok((i.to_owned(), d.to_owned())),
        _ => Err(format!("expected IMPORT=DIST, got {s:?}")),
    }
}

/// The analysis scope `--toplevel` / `--function NAME` ask for.
pub fn scope(toplevel: bool, function: Option<String>) -> Scope {
    match (toplevel, function) {
        (true, _) => Scope::TopLevel,
        (false, Some(f)) => Scope::Function(f),
        (false, None) => Scope::All,
    }
}

/// Reads and parses a spec file (`-`: standard input).
pub fn read_spec(path: &str) -> Result<Spec> {
    let text = if path == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|source| Error::Input { path: "-".into(), source })?;
        s
    } else {
        std::fs::read_to_string(path).map_err(|source| Error::Input { path: path.into(), source })?
    };
    create::spec::parse(&text, path)
}

/// The archive for environment `name`: `name` itself when it already ends
/// in the format's extension, else `name` + the extension.
pub fn archive_name(name: &str, compression: Compression) -> PathBuf {
    let ext = compression.extension();
    if name.ends_with(ext) { PathBuf::from(name) } else { PathBuf::from(format!("{name}{ext}")) }
}

/// `$ANIMICA_ENV_CHANNELS`, comma-separated (the default channels when
/// neither the command line nor the spec names any).
pub fn channels_from_env() -> Vec<String> {
    std::env::var("ANIMICA_ENV_CHANNELS")
        .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The environment a run names, made ready: an archive unpacked (once,
/// under the cache root) or a directory prepared in place; its prefix.
pub fn prepare(env: &str, opts: &RunOptions) -> Result<PathBuf> {
    match run::locate(env)? {
        Some(archive) => run::ensure_unpacked(&archive, opts),
        None => run::prepare_dir(Path::new(env)),
    }
}

/// Runs `argv` in `env` (see [`prepare`]); returns the command's status.
pub fn run(env: &str, opts: &RunOptions, argv: &[OsString]) -> Result<i32> {
    run::run_in(&prepare(env, opts)?, argv)
}

/// Writes `text` to `out` (`-` = standard output).
pub fn write_out(out: &str, text: &str) -> Result<()> {
    if out == "-" {
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|source| Error::Output { path: "-".into(), source });
    }
    std::fs::write(out, text).map_err(|source| Error::Output { path: out.into(), source })
}

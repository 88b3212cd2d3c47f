//! The native command line: `animica-env <subcommand> ...`.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::analyze::{self, Input, Options, Scope};
use crate::env::pack::{self, Compression, PackOptions};
use crate::error::{Error, Result};
use crate::run;

#[derive(Debug, Parser)]
#[command(name = "animica-env", version, about = "Python environments for distributed workers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Find the distributions a Python program imports.
    Analyze(AnalyzeArgs),
    /// Pack an existing environment prefix into a relocatable archive.
    Pack(PackArgs),
    /// Run a command inside a packed environment (unpacked once, cached).
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
struct PackArgs {
    /// The environment prefix (a conda environment directory).
    prefix: PathBuf,
    /// The archive to write: NAME.tar.zst or NAME.tar.gz.
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
struct RunArgs {
    /// Unpack under this directory (default $ANIMICA_ENV_CACHE or
    /// ~/.cache/animica-env).
    #[arg(short = 'u', long = "unpack-to", value_name = "DIR")]
    unpack_to: Option<PathBuf>,
    /// Seconds to wait for another process unpacking the same archive.
    #[arg(short = 'w', long = "wait-for-lock", value_name = "SECS", default_value_t = 300)]
    wait: u64,
    /// The environment: an archive, a name (NAME.tar.zst / NAME.tar.gz),
    /// or an unpacked directory.
    env: String,
    /// The command and its arguments (run directly, no shell).
    #[arg(required = true, allow_hyphen_values = true, num_args = 1..)]
    command: Vec<OsString>,
}

/// Output format of `analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// The seed's JSON, extended: python, modules, requirements, local.
    Json,
    /// cctools poncho's spec: conda channels and dependencies, pip nested.
    Poncho,
}

#[derive(Debug, clap::Args)]
struct AnalyzeArgs {
    /// Python files, directories (every .py inside) or - for standard
    /// input, then the output file (- for standard output).
    #[arg(required = true, num_args = 2.., value_name = "SOURCE... OUT")]
    paths: Vec<String>,
    /// Only imports at module level (not inside def or class bodies).
    #[arg(long, conflicts_with = "function")]
    toplevel: bool,
    /// Only imports inside functions of this name.
    #[arg(long, value_name = "NAME")]
    function: Option<String>,
    /// The module imported as IMPORT comes from distribution DIST.
    #[arg(long = "pkg-mapping", value_name = "IMPORT=DIST", value_parser = parse_mapping)]
    pkg_mapping: Vec<(String, String)>,
    /// Also require distribution DIST.
    #[arg(long = "extra-pkg", value_name = "DIST")]
    extra_pkg: Vec<String>,
    /// The target interpreter (default: python3 on PATH), for its version,
    /// standard library and installed distributions.
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
    /// Target Python version (3.6-3.14). Without --python, no interpreter
    /// is consulted: embedded tables only, reproducible on any machine.
    #[arg(long = "python-version", value_name = "X.Y[.Z]")]
    python_version: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// Channel to name in poncho output (repeatable; default conda-forge).
    #[arg(short = 'c', long = "channel", value_name = "CHANNEL")]
    channel: Vec<String>,
}

fn parse_mapping(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((i, d)) if !i.is_empty() && !d.is_empty() => Ok((i.to_owned(), d.to_owned())),
        _ => Err(format!("expected IMPORT=DIST, got {s:?}")),
    }
}

/// Runs the native CLI; returns the exit status.
pub fn main(argv0: &OsString, args: &[OsString]) -> i32 {
    let cli = match Cli::try_parse_from(std::iter::once(argv0.clone()).chain(args.iter().cloned())) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    let result = match cli.command {
        Command::Analyze(a) => run_analyze(a).map(|()| 0),
        Command::Pack(p) => run_pack(p).map(|()| 0),
        Command::Run(r) => run_run(r),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("animica-env: {e}");
            e.exit_code()
        }
    }
}

fn run_analyze(a: AnalyzeArgs) -> Result<()> {
    let mut paths = a.paths;
    let out = paths.pop().ok_or_else(|| Error::Usage("missing output path".into()))?;
    let inputs =
        paths.into_iter().map(|p| if p == "-" { Input::Stdin } else { Input::Path(p.into()) }).collect::<Vec<_>>();
    let scope = match (a.toplevel, a.function) {
        (true, _) => Scope::TopLevel,
        (false, Some(f)) => Scope::Function(f),
        (false, None) => Scope::All,
    };
    let opts = Options {
        scope,
        pkg_mapping: a.pkg_mapping.into_iter().collect(),
        extra: a.extra_pkg,
        python: a.python,
        python_version: a.python_version,
        channels: a.channel,
    };
    let report = analyze::analyze(&inputs, &opts)?;
    for w in &report.warnings {
        eprintln!("animica-env: warning: {w}");
    }
    let text = match a.format {
        Format::Json => report.to_seed_json(),
        Format::Poncho => report.to_poncho_json(),
    };
    write_out(&out, &text)
}

fn run_pack(p: PackArgs) -> Result<()> {
    let compression = Compression::from_name(&p.out).ok_or_else(|| {
        Error::Usage(format!("{}: the archive name must end in .tar.zst or .tar.gz", p.out.display()))
    })?;
    let mut opts = PackOptions::new(compression);
    opts.extra = crate::env::launchers()?;
    pack::pack(&p.prefix, &p.out, &opts)?;
    Ok(())
}

fn run_run(r: RunArgs) -> Result<i32> {
    let opts = run::RunOptions { root: r.unpack_to, wait: std::time::Duration::from_secs(r.wait) };
    let prefix = match run::locate(&r.env)? {
        Some(archive) => run::ensure_unpacked(&archive, &opts)?,
        None => PathBuf::from(&r.env),
    };
    run::run_in(&prefix, &r.command)
}

/// Writes `text` to `out` (`-` = standard output).
pub(crate) fn write_out(out: &str, text: &str) -> Result<()> {
    if out == "-" {
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|source| Error::Output { path: "-".into(), source });
    }
    std::fs::write(out, text).map_err(|source| Error::Output { path: out.into(), source })
}

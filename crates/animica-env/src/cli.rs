//! The native command line: `animica-env <subcommand> ...`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::analyze::{Input, Options};
use crate::commands::{self, AnalyzeFormat};
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
    /// Build a conda environment from a spec and pack it.
    Create(CreateArgs),
    /// Pack an existing environment prefix into a relocatable archive.
    Pack(PackArgs),
    /// Run a command inside a packed environment (unpacked once, cached).
    Run(RunArgs),
    /// Create links named python_package_{analyze,create,run} and
    /// poncho_package_{analyze,create,run} to this binary in DIR (cctools
    /// compatibility).
    InstallLinks {
        /// Where to put the links (e.g. a directory on PATH).
        dir: PathBuf,
    },
    /// Write repodata.json for a local channel directory (helper).
    IndexChannel {
        /// The channel directory (with noarch/, linux-64/, ...).
        dir: PathBuf,
    },
}

/// Archive formats of `create`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ArchiveFormat {
    /// zstd-compressed tar (multi-threaded).
    #[value(name = "tar.zst")]
    TarZst,
    /// gzip-compressed tar, as cctools' tools write.
    #[value(name = "tar.gz")]
    TarGz,
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The spec: analyze's JSON, a poncho spec or an environment.yml (- for
    /// standard input).
    spec: String,
    /// The environment's name: writes NAME.tar.zst (or NAME.tar.gz).
    name: String,
    /// Channel to solve from (repeatable; default: the spec's, else
    /// $ANIMICA_ENV_CHANNELS, else conda-forge). Paths and file:// URLs work
    /// offline.
    #[arg(short = 'c', long = "channel", value_name = "CHANNEL")]
    channel: Vec<String>,
    /// Archive format.
    #[arg(long, value_enum, default_value_t = ArchiveFormat::TarZst)]
    format: ArchiveFormat,
    /// Cache directory (default $ANIMICA_ENV_CACHE/create or
    /// ~/.cache/animica-env/create).
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// No progress output.
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,
    /// Progress output even when stderr is not a terminal.
    #[arg(short, long)]
    verbose: bool,
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
    #[arg(long = "pkg-mapping", value_name = "IMPORT=DIST", value_parser = commands::parse_mapping)]
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
        Command::Create(c) => run_create(c).map(|()| 0),
        Command::Pack(p) => run_pack(p).map(|()| 0),
        Command::IndexChannel { dir } => crate::create::index_channel(&dir).map(|()| 0),
        Command::InstallLinks { dir } => install_links(&dir).map(|()| 0),
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
    let opts = Options {
        scope: commands::scope(a.toplevel, a.function),
        pkg_mapping: a.pkg_mapping.into_iter().collect(),
        extra: a.extra_pkg,
        python: a.python,
        python_version: a.python_version,
        channels: a.channel,
    };
    let format = match a.format {
        Format::Json => AnalyzeFormat::Seed,
        Format::Poncho => AnalyzeFormat::Poncho,
    };
    commands::analyze("animica-env", &inputs, &opts, format, &out)
}

fn run_create(c: CreateArgs) -> Result<()> {
    let compression = match c.format {
        ArchiveFormat::TarZst => Compression::Zstd,
        ArchiveFormat::TarGz => Compression::Gzip,
    };
    let spec = commands::read_spec(&c.spec)?;
    let out = commands::archive_name(&c.name, compression);
    let opts = crate::create::CreateOptions {
        channels: if c.channel.is_empty() { commands::channels_from_env() } else { c.channel },
        compression,
        cache: c.cache.unwrap_or_else(crate::create::default_cache),
        quiet: c.quiet || !(c.verbose || std::io::IsTerminal::is_terminal(&std::io::stderr())),
    };
    crate::create::create(&spec, &out, &opts)?;
    if !opts.quiet {
        eprintln!("animica-env: wrote {}", out.display());
    }
    Ok(())
}

fn install_links(dir: &std::path::Path) -> Result<()> {
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|source| Error::Input { path: "/proc/self/exe".into(), source })?;
    std::fs::create_dir_all(dir).map_err(|source| Error::Output { path: dir.to_owned(), source })?;
    for name in crate::compat::Tool::LINK_NAMES {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_ok() {
            std::fs::remove_file(&link).map_err(|source| Error::Output { path: link.clone(), source })?;
        }
        std::os::unix::fs::symlink(&exe, &link).map_err(|source| Error::Output { path: link.clone(), source })?;
    }
    Ok(())
}

fn run_pack(p: PackArgs) -> Result<()> {
    let compression = Compression::from_name(&p.out).ok_or_else(|| {
        Error::Usage(format!("{}: the archive name must end in .tar.zst or .tar.gz", p.out.display()))
    })?;
    let mut opts = PackOptions::new(compression);
    opts.extra = crate::env::launchers(&p.prefix)?;
    pack::pack(&p.prefix, &p.out, &opts)?;
    Ok(())
}

fn run_run(r: RunArgs) -> Result<i32> {
    let opts = run::RunOptions { root: r.unpack_to, wait: std::time::Duration::from_secs(r.wait) };
    commands::run(&r.env, &opts, &r.command)
}

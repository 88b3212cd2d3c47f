//! cctools compatibility: the binary invoked as `python_package_analyze`
//! or `python_package_run` behaves as that tool's manual page says (the
//! same positional arguments, `-h`, the same JSON, extended, and the same
//! exit statuses); invoked as `conda-unpack` (the copy inside every packed
//! environment) it relocates the environment it sits in, as conda-pack's
//! script of that name does.

use std::ffi::OsString;

use crate::analyze::{self, Input, Options};
use crate::cli::write_out;
use crate::error::Error;

/// The cctools tools this binary can stand in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `python_package_analyze <python-script> <json-output-file>`.
    Analyze,
    /// `python_package_create <dependency-file> <environment-name>`.
    Create,
    /// `python_package_run <environment-name> "<command string>"`.
    Run,
    /// `<env>/bin/conda-unpack`: relocate `<env>` to where it now is.
    CondaUnpack,
}

impl Tool {
    /// The names `animica-env install-links` creates.
    pub const LINK_NAMES: [&'static str; 3] = ["python_package_analyze", "python_package_create", "python_package_run"];

    /// The tool a program name stands for.
    pub fn from_name(name: &str) -> Option<Tool> {
        match name {
            "python_package_analyze" => Some(Tool::Analyze),
            "python_package_create" => Some(Tool::Create),
            "python_package_run" => Some(Tool::Run),
            "conda-unpack" => Some(Tool::CondaUnpack),
            _ => None,
        }
    }
}

const ANALYZE_HELP: &str = "usage: python_package_analyze [options] <python-script> <json-output-file>

Analyze a Python script for the modules it imports and the interpreter
version, and write them as JSON for python_package_create.

options:
  -h        Show this help message

exit status: 0 success, 1 invalid command format, 2 invalid path to the
Python script (missing, unreadable or not valid Python).
";

/// Runs `tool` with `args`; returns the exit status.
pub fn main(tool: Tool, args: &[OsString]) -> i32 {
    match tool {
        Tool::Analyze => analyze_main(args),
        Tool::Create => create_main(args),
        Tool::Run => run_main(args),
        Tool::CondaUnpack => conda_unpack_main(),
    }
}

const CREATE_HELP: &str = "usage: python_package_create [options] <dependency-file> <environment-name>

Create a conda environment from a JSON dependency file written by
python_package_analyze, and pack it as <environment-name>.tar.gz in the
current directory. Channels: $ANIMICA_ENV_CHANNELS (comma-separated), else
the file's own, else conda-forge.

options:
  -h        Show this help message

exit status: 0 success, 1 invalid command format, 2 invalid path to the JSON
dependency file (missing, unreadable or not a dependency file), 3 the
environment could not be built.
";

fn create_main(args: &[OsString]) -> i32 {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    if args.first().is_some_and(|a| a == "-h" || a == "--help") {
        return match write_out("-", CREATE_HELP) {
            Ok(()) => 0,
            Err(_) => 1,
        };
    }
    let [spec_path, name] = args.as_slice() else {
        eprint!("python_package_create: expected 2 arguments, got {}\n{CREATE_HELP}", args.len());
        return 1;
    };
    let spec = match crate::cli::read_spec(spec_path).and_then(|t| crate::create::spec::parse(&t, spec_path)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("python_package_create: invalid path to the JSON dependency file: {e}");
            return 2;
        }
    };
    let compression = crate::env::pack::Compression::Gzip;
    let opts = crate::create::CreateOptions {
        channels: crate::cli::channels_from_env(),
        compression,
        cache: crate::create::default_cache(),
        quiet: !std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    match crate::create::create(&spec, &crate::cli::archive_name(name, compression), &opts) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("python_package_create: {e}");
            3
        }
    }
}

const RUN_HELP: &str = "usage: python_package_run [options] <environment-name> <python-command-string>

Unpack and activate the environment <environment-name> (its .tar.gz, as
python_package_create writes it; .tar.zst and a path work too), then run the
command string with /bin/sh -c inside it.

options:
  -h        Show this help message

exit status: the command's own, or 1 invalid command format, 2 environment
tarball does not exist, 3 failed to extract it, 4 failed to activate it.
";

fn run_main(args: &[OsString]) -> i32 {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    if args.first().is_some_and(|a| a == "-h" || a == "--help") {
        return match write_out("-", RUN_HELP) {
            Ok(()) => 0,
            Err(_) => 1,
        };
    }
    let [env, command] = args.as_slice() else {
        eprint!("python_package_run: expected 2 arguments, got {}\n{RUN_HELP}", args.len());
        return 1;
    };
    let archive = match crate::run::locate(env) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("python_package_run: environment tarball does not exist: {e}");
            return 2;
        }
    };
    let prefix = match archive {
        None => std::path::PathBuf::from(env),
        Some(a) => match crate::run::ensure_unpacked(&a, &crate::run::RunOptions::default()) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("python_package_run: {e}");
                return if matches!(e, Error::Relocate { .. }) { 4 } else { 3 };
            }
        },
    };
    let argv: Vec<OsString> = ["/bin/sh", "-c", command.as_str()].into_iter().map(OsString::from).collect();
    match crate::run::run_in(&prefix, &argv) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("python_package_run: failed to activate the environment: {e}");
            4
        }
    }
}

fn conda_unpack_main() -> i32 {
    let result = (|| {
        let exe = std::env::current_exe().map_err(|source| Error::Input { path: "/proc/self/exe".into(), source })?;
        let exe = std::fs::canonicalize(&exe).map_err(|source| Error::Input { path: exe.clone(), source })?;
        let root = exe
            .parent()
            .and_then(|b| b.parent())
            .ok_or_else(|| Error::Usage("conda-unpack is not in <env>/bin".into()))?;
        crate::env::relocate_in_place(root)
    })();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("conda-unpack: {e}");
            1
        }
    }
}

fn analyze_main(args: &[OsString]) -> i32 {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        return match write_out("-", ANALYZE_HELP) {
            Ok(()) => 0,
            Err(_) => 1,
        };
    }
    let [script, out] = args.as_slice() else {
        eprint!("python_package_analyze: expected 2 arguments, got {}\n{ANALYZE_HELP}", args.len());
        return 1;
    };
    if script.starts_with('-') || !std::path::Path::new(script).is_file() {
        eprintln!("python_package_analyze: invalid path to the Python script: {script}");
        return 2;
    }
    let result = analyze::analyze(&[Input::Path(script.into())], &Options::default())
        .and_then(|r| write_out(out, &r.to_seed_json()));
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("python_package_analyze: {e}");
            match e {
                Error::Input { .. } | Error::Parse { .. } => 2,
                _ => 1,
            }
        }
    }
}

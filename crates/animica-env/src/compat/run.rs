//! `python_package_run` and `poncho_package_run`, in both forms:
//!
//! - the manual page's (`python_package_run` only): `<environment-name>
//!   "<command string>"`, the string run by `/bin/sh -c`; exit 1 invalid
//!   command format, 2 no such environment, 3 it cannot be unpacked, 4 it
//!   cannot be activated, else the command's status;
//! - cctools' option form (cctools 9.9's `python_package_run`, poncho's
//!   `poncho_package_run`, and what `work_queue.PythonTask` and the
//!   archives' `bin/run_in_env` call): `-e FILE|DIR [-u DIR] [-w SECS] [-d]
//!   [--] COMMAND [ARGS...]`, the command run directly (no shell); exit 1
//!   when the environment cannot be had, else the command's status (127 /
//!   126 when it cannot be started, as a shell says).
//!
//! Where poncho unpacks into a temporary directory (no `-u`) or into DIR,
//! this unpacks once per archive content into the cache that `animica-env
//! run` uses and links DIR to it (`crate::run::unpack_to`), so every task
//! of a worker after the first starts warm.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::commands;
use crate::error::Error;
use crate::run::{self, RunOptions};

use super::{Family, Form, Tool};

/// The arguments of both forms.
#[derive(Debug, clap::Parser)]
pub(super) struct Run {
    /// Conda environment as a tar file or a directory (option form).
    #[arg(short = 'e', long = "environment", value_name = "FILE|DIR")]
    environment: Option<String>,
    /// Make the environment available at DIR (a link into the unpack cache,
    /// or an environment already unpacked there). Ignored when
    /// --environment is a directory.
    #[arg(short = 'u', long = "unpack-to", value_name = "DIR")]
    unpack_to: Option<PathBuf>,
    /// Seconds to wait for another process unpacking the same environment.
    #[arg(short = 'w', long = "wait-for-lock", value_name = "SECS", default_value_t = 300)]
    wait_for_lock: u64,
    /// Print debug messages (on standard error).
    #[arg(short = 'd', long)]
    debug: bool,
    /// Accepted for poncho's callers: the unpacked environment always stays
    /// (in the cache) for the next run.
    #[arg(short = 'k', long = "keep-alive")]
    keep_alive: bool,
    /// Make the environment ready but run no command.
    #[arg(short = 'n', long = "no-command")]
    no_command: bool,
    /// Accepted for poncho's callers: unpacking always takes its lock, which
    /// is what makes concurrent runs on one worker safe.
    #[arg(short = 'r', long = "remove-locking")]
    remove_locking: bool,
    /// Show how to make environment archives for this command.
    #[arg(long = "help-env-creation")]
    help_env_creation: bool,
    /// Option form: the command and its arguments. Without --environment
    /// (python_package_run only): <environment-name> "<command string>".
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    args: Vec<OsString>,
}

impl Form for Run {
    fn help(tool: Tool) -> (String, &'static str, &'static str) {
        let name = tool.name();
        let option_form = format!("{name} [options] -e <file|dir> [--] <command> [args...]");
        match tool {
            Tool::Run(Family::Python) => (
                format!("{name} [options] <environment-name> <python-command-string>\n       {option_form}"),
                "Unpack and activate an environment, then run a command inside it.\n\
                 First form: <environment-name> is its .tar.gz as python_package_create\n\
                 writes it (.tar.zst and a path work too) and the command string runs with\n\
                 /bin/sh -c. Second form (cctools' own): the command runs as given.",
                "exit status: the command's own, or, first form: 1 invalid command format,\n\
                 2 environment tarball does not exist, 3 failed to extract it, 4 failed to\n\
                 activate it; second form: 1 the environment could not be made ready.",
            ),
            _ => (
                option_form,
                "Unpack and activate a conda environment (a tar file or a directory), then\n\
                 run a command inside it.",
                "exit status: the command's own (127/126 when it cannot be started), or 1\n\
                 when the environment could not be made ready.",
            ),
        }
    }

    /// poncho_package_run is a shell script: every failure of its own is 1.
    fn usage_status(_family: Family) -> i32 {
        1
    }
}

const HELP_ENV_CREATION: &str = "\
Environments are archives made by animica-env (no conda, conda-pack or
Python needed on this machine or on the workers):

  animica-env analyze my_script.py deps.json     # or poncho_package_analyze
  animica-env create deps.json my-env --format tar.gz
  poncho_package_create spec.json my-env.tar.gz  # poncho's or conda's spec

or, from an existing conda environment directory:

  animica-env pack /path/to/conda-env my-env.tar.gz

Then: poncho_package_run -e my-env.tar.gz -- python -c 'print(42)'
Each archive also carries bin/run_in_env and bin/poncho_package_run, which
work after a plain `tar xf` (TaskVine's declare_poncho) with nothing else
installed on the worker.
";

impl Run {
    pub(super) fn main(self, family: Family) -> i32 {
        if self.help_env_creation {
            return match commands::write_out("-", HELP_ENV_CREATION) {
                Ok(()) => 0,
                Err(_) => 1,
            };
        }
        match (&self.environment, family) {
            (Some(_), _) => self.option_form(Tool::Run(family).name()),
            (None, Family::Python) => seed_form(&self.args),
            (None, Family::Poncho) => {
                eprintln!(
                    "poncho_package_run: a tarball or directory should be specified with the --environment option; -h for help"
                );
                1
            }
        }
    }

    fn option_form(self, tool: &str) -> i32 {
        let started = Instant::now();
        let debug = self.debug
            || ["PONCHO_PACKAGE_RUN_DEBUG", "PYTHON_PACKAGE_RUN_DEBUG"]
                .iter()
                .any(|v| std::env::var_os(v).is_some_and(|x| x == "yes"));
        let log = |msg: &str| {
            if debug {
                eprintln!("{tool}({}) +{:.3}s: {msg}", std::process::id(), started.elapsed().as_secs_f64());
            }
        };
        if self.keep_alive {
            log("--keep-alive: the unpacked environment stays in the cache (it always does)");
        }
        if self.remove_locking {
            log("--remove-locking: unpacking takes its lock regardless (concurrent runs rely on it)");
        }
        let env = self.environment.unwrap_or_default();
        let opts = RunOptions { root: None, wait: Duration::from_secs(self.wait_for_lock) };
        let prefix = if Path::new(&env).is_dir() {
            if self.unpack_to.is_some() {
                eprintln!("{tool}: ignoring --unpack-to argument as --environment is a directory.");
            }
            run::prepare_dir(Path::new(&env))
        } else {
            run::locate(&env).and_then(|archive| {
                let archive = archive.unwrap_or_else(|| PathBuf::from(&env));
                match &self.unpack_to {
                    Some(dir) => run::unpack_to(&archive, dir, &opts),
                    None => run::ensure_unpacked(&archive, &opts),
                }
            })
        };
        let prefix = match prefix {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{tool}: could not set up the environment {env}: {e}");
                return 1;
            }
        };
        log(&format!("environment ready at {}", prefix.display()));
        if self.no_command || self.args.is_empty() {
            log("no command will be executed");
            return 0;
        }
        log(&format!("executing command line: {:?}", self.args));
        let status = match run::run_in(&prefix, &self.args) {
            Ok(code) => code,
            Err(e @ Error::Command { .. }) => {
                eprintln!("{tool}: {e}");
                e.exit_code()
            }
            Err(e) => {
                eprintln!("{tool}: could not activate the environment {env}: {e}");
                1
            }
        };
        log(&format!("command line exit code: {status}"));
        status
    }
}

/// The manual page's form: `<environment-name> "<command string>"`.
fn seed_form(args: &[OsString]) -> i32 {
    let [env, command] = args else {
        eprintln!("python_package_run: expected <environment-name> <python-command-string>; -h for help");
        return 1;
    };
    let env = env.to_string_lossy();
    let archive = match run::locate(&env) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("python_package_run: environment tarball does not exist: {e}");
            return 2;
        }
    };
    // A directory is prepared as every other form prepares it (one unpacked
    // by hand from an archive is relocated first).
    let prepared = match archive {
        None => run::prepare_dir(Path::new(env.as_ref())),
        Some(a) => run::ensure_unpacked(&a, &RunOptions::default()),
    };
    let prefix = match prepared {
        Ok(p) => p,
        Err(e) => {
            eprintln!("python_package_run: {e}");
            return if matches!(e, Error::Relocate { .. }) { 4 } else { 3 };
        }
    };
    let argv = [OsString::from("/bin/sh"), OsString::from("-c"), command.clone()];
    match run::run_in(&prefix, &argv) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("python_package_run: failed to activate the environment: {e}");
            4
        }
    }
}

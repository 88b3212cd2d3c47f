//! cctools compatibility: invoked through a link named like one of
//! cctools' Python packaging tools, the binary behaves as that tool.
//!
//! - `python_package_*`: the manual pages' positional forms (the seed: same
//!   arguments, JSON, files and exit statuses), and the forms cctools 9.9
//!   ships and its own `work_queue.PythonTask` calls (`run -e ENV -u DIR
//!   CMD...`, `create SPEC OUT`);
//! - `poncho_package_*`: current cctools' names, with poncho's options,
//!   spec format and exit statuses;
//! - `conda-unpack` (the copy inside every packed environment without a
//!   Python): relocates the environment it sits in, as conda-pack's does.
//!
//! Each form is declared with clap (`analyze`, `create`, `run`) and calls
//! the same operations as the native subcommands (`crate::commands`).

mod analyze;
mod create;
mod run;

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches};

use crate::error::Error;

/// Which family of cctools' tools a name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `python_package_*`: the manual pages' forms, and cctools 9.9's.
    Python,
    /// `poncho_package_*`: current cctools.
    Poncho,
}

/// The cctools tools this binary can stand in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `python_package_analyze` / `poncho_package_analyze`.
    Analyze(Family),
    /// `python_package_create` / `poncho_package_create`.
    Create(Family),
    /// `python_package_run` / `poncho_package_run`.
    Run(Family),
    /// `<env>/bin/conda-unpack`: relocate `<env>` to where it now is.
    CondaUnpack,
}

impl Tool {
    /// The names `animica-env install-links` creates.
    pub const LINK_NAMES: [&'static str; 6] = [
        "python_package_analyze",
        "python_package_create",
        "python_package_run",
        "poncho_package_analyze",
        "poncho_package_create",
        "poncho_package_run",
    ];

    /// The tool a program name stands for.
    pub fn from_name(name: &str) -> Option<Tool> {
        let family = |rest: &str| -> Option<fn(Family) -> Tool> {
            match rest {
                "analyze" => Some(Tool::Analyze),
                "create" => Some(Tool::Create),
                "run" => Some(Tool::Run),
                _ => None,
            }
        };
        if name == "conda-unpack" {
            return Some(Tool::CondaUnpack);
        }
        if let Some(rest) = name.strip_prefix("python_package_") {
            return family(rest).map(|t| t(Family::Python));
        }
        family(name.strip_prefix("poncho_package_")?).map(|t| t(Family::Poncho))
    }

    /// The name it answers to.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Analyze(Family::Python) => "python_package_analyze",
            Tool::Create(Family::Python) => "python_package_create",
            Tool::Run(Family::Python) => "python_package_run",
            Tool::Analyze(Family::Poncho) => "poncho_package_analyze",
            Tool::Create(Family::Poncho) => "poncho_package_create",
            Tool::Run(Family::Poncho) => "poncho_package_run",
            Tool::CondaUnpack => "conda-unpack",
        }
    }
}

/// Runs `tool` with `args`; returns the exit status.
pub fn main(tool: Tool, args: &[OsString]) -> i32 {
    match tool {
        Tool::Analyze(family) => parse::<analyze::Analyze>(tool, family, args).map_or_else(|c| c, |a| a.main(family)),
        Tool::Create(family) => parse::<create::Create>(tool, family, args).map_or_else(|c| c, |a| a.main(family)),
        Tool::Run(family) => parse::<run::Run>(tool, family, args).map_or_else(|c| c, |a| a.main(family)),
        Tool::CondaUnpack => conda_unpack_main(),
    }
}

/// The arguments of a tool's form, declared with clap.
trait Form: CommandFactory + FromArgMatches {
    /// The usage lines, the description and the exit statuses, for `tool`.
    fn help(tool: Tool) -> (String, &'static str, &'static str);
    /// The status of a malformed command line: 1 for the manual pages'
    /// tools, 2 for poncho's (Python's argparse).
    fn usage_status(family: Family) -> i32 {
        match family {
            Family::Python => 1,
            Family::Poncho => 2,
        }
    }
}

/// Parses `args` as `F` under `tool`'s name; `Err(status)` when the
/// command line is malformed or asked for help (printed here).
fn parse<F: Form>(tool: Tool, family: Family, args: &[OsString]) -> Result<F, i32> {
    let (usage, about, statuses) = F::help(tool);
    let cmd = F::command()
        .name(tool.name())
        .bin_name(tool.name())
        .override_usage(usage)
        .about(about)
        .after_help(statuses)
        .help_template("usage: {usage}\n\n{about}\n\n{all-args}\n{after-help}");
    let argv = std::iter::once(OsString::from(tool.name())).chain(args.iter().cloned());
    match cmd.try_get_matches_from(argv).and_then(|m| F::from_arg_matches(&m)) {
        Ok(f) => Ok(f),
        Err(e) => {
            let _ = e.print();
            Err(if e.use_stderr() { F::usage_status(family) } else { 0 })
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
        // Under the lock `run` takes: concurrent first runs relocate once.
        crate::run::prepare_dir(root).map(drop)
    })();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("conda-unpack: {e}");
            1
        }
    }
}

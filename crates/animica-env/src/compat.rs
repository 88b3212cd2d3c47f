//! cctools compatibility: the binary invoked as `python_package_analyze`
//! behaves as that tool's manual page says: the same positional
//! arguments, `-h`, the same JSON (extended with more keys) and the same
//! exit statuses.

use std::ffi::OsString;

use crate::analyze::{self, Input, Options};
use crate::cli::write_out;
use crate::error::Error;

/// The cctools tools this binary can stand in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `python_package_analyze <python-script> <json-output-file>`.
    Analyze,
}

impl Tool {
    /// The tool a program name stands for.
    pub fn from_name(name: &str) -> Option<Tool> {
        match name {
            "python_package_analyze" => Some(Tool::Analyze),
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

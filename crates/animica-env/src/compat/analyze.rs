//! `python_package_analyze` (its manual page: `<python-script>
//! <json-output-file>`, the seed's JSON) and `poncho_package_analyze`
//! (poncho: `[SOURCE...] OUT`, poncho's spec). Both take poncho's options.

use crate::analyze::{Input, Options};
use crate::commands::{self, AnalyzeFormat};
use crate::error::Error;

use super::{Family, Form, Tool};

/// The arguments both names take.
#[derive(Debug, clap::Parser)]
pub(super) struct Analyze {
    /// Python sources (`-`: standard input), then where to write the JSON
    /// (`-`: standard output).
    #[arg(value_name = "SOURCE... OUT", required = true, num_args = 1..)]
    paths: Vec<String>,
    /// Only include imports at the top level of the script.
    #[arg(long, conflicts_with = "function")]
    toplevel: bool,
    /// Only include imports in the given function.
    #[arg(long, value_name = "NAME")]
    function: Option<String>,
    /// The module imported as IMPORT is provided by the package NAME.
    #[arg(long = "pkg-mapping", value_name = "IMPORT=NAME", value_parser = commands::parse_mapping)]
    pkg_mapping: Vec<(String, String)>,
    /// Also include the package PKG, even if no source imports it.
    #[arg(long = "extra-pkg", value_name = "PKG")]
    extra_pkg: Vec<String>,
}

impl Form for Analyze {
    fn help(tool: Tool) -> (String, &'static str, &'static str) {
        let name = tool.name();
        match tool {
            Tool::Analyze(Family::Python) => (
                format!("{name} [options] <python-script> <json-output-file>"),
                "Analyze a Python script for the modules it imports and the interpreter\n\
                 version, and write them as JSON for python_package_create.",
                "exit status: 0 success, 1 invalid command format, 2 invalid path to the\n\
                 Python script (missing, unreadable or not valid Python).",
            ),
            _ => (
                format!("{name} [options] [SOURCE...] OUT"),
                "Determine the environment Python code needs and write poncho's spec\n\
                 (conda channels and dependencies, pip nested) for poncho_package_create.\n\
                 No source: standard input.",
                "exit status: 0 success, 1 an error (named on standard error), 2 invalid\n\
                 command line.",
            ),
        }
    }
}

impl Analyze {
    pub(super) fn main(mut self, family: Family) -> i32 {
        let tool = Tool::Analyze(family).name();
        let out = self.paths.pop().unwrap_or_default();
        if self.paths.is_empty() {
            if family == Family::Python {
                eprintln!("{tool}: expected <python-script> <json-output-file>; -h for help");
                return 1;
            }
            self.paths.push("-".into());
        }
        let mut inputs = Vec::new();
        for p in self.paths {
            if p == "-" {
                inputs.push(Input::Stdin);
            } else if family == Family::Python && !std::path::Path::new(&p).is_file() {
                eprintln!("{tool}: invalid path to the Python script: {p}");
                return 2;
            } else {
                inputs.push(Input::Path(p.into()));
            }
        }
        let opts = Options {
            scope: commands::scope(self.toplevel, self.function),
            pkg_mapping: self.pkg_mapping.into_iter().collect(),
            extra: self.extra_pkg,
            ..Options::default()
        };
        let format = match family {
            Family::Python => AnalyzeFormat::Seed,
            Family::Poncho => AnalyzeFormat::Poncho,
        };
        match commands::analyze(tool, &inputs, &opts, format, &out) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{tool}: {e}");
                match (family, e) {
                    (Family::Python, Error::Input { .. } | Error::Parse { .. }) => 2,
                    _ => 1,
                }
            }
        }
    }
}

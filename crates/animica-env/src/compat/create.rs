//! `python_package_create` and `poncho_package_create`: `SPEC OUT`.
//!
//! OUT is the manual page's environment name (the archive is
//! `OUT.tar.gz`, here) or, as cctools 9.9 and poncho take it, the
//! archive's path: kept as given when it ends in `.tar.gz`, `.tgz` or
//! `.tar.zst` (zstd). SPEC is analyze's JSON, a poncho spec, a conda
//! environment file, or `-` for standard input.

use crate::commands;
use crate::env::pack::Compression;

use super::{Family, Form, Tool};

/// The arguments both names take.
#[derive(Debug, clap::Parser)]
pub(super) struct Create {
    /// The spec: analyze's JSON, a poncho spec or a conda environment file
    /// (`-`: standard input).
    #[arg(value_name = "SPEC")]
    spec: String,
    /// The environment's name (writes NAME.tar.gz) or the archive's path
    /// (ending in .tar.gz, .tgz or .tar.zst).
    #[arg(value_name = "OUT")]
    out: String,
}

impl Form for Create {
    fn help(tool: Tool) -> (String, &'static str, &'static str) {
        let name = tool.name();
        match tool {
            Tool::Create(Family::Python) => (
                format!("{name} [options] <dependency-file> <environment-name>"),
                "Create a conda environment from a dependency file (python_package_analyze's\n\
                 JSON, a poncho spec or a conda environment file; - for standard input) and\n\
                 pack it as <environment-name>.tar.gz (or at <environment-name> itself when\n\
                 it ends in .tar.gz). Channels: $ANIMICA_ENV_CHANNELS (comma-separated),\n\
                 else the file's own, else conda-forge.",
                "exit status: 0 success, 1 invalid command format, 2 invalid path to the JSON\n\
                 dependency file (missing, unreadable or not a dependency file), 3 the\n\
                 environment could not be built.",
            ),
            _ => (
                format!("{name} [options] SPEC OUTPUT"),
                "Create a packed environment from a spec (poncho's, a conda environment\n\
                 file or python_package_analyze's JSON; - for standard input) and write it\n\
                 to OUTPUT (.tar.gz; .tar.zst for zstd).",
                "exit status: 0 success, 1 an error (named on standard error), 2 invalid\n\
                 command line.",
            ),
        }
    }
}

impl Create {
    pub(super) fn main(self, family: Family) -> i32 {
        let tool = Tool::Create(family).name();
        let (spec_error, build_error) = match family {
            Family::Python => (2, 3),
            Family::Poncho => (1, 1),
        };
        let spec = match commands::read_spec(&self.spec) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{tool}: invalid path to the JSON dependency file: {e}");
                return spec_error;
            }
        };
        // An archive's own name keeps its format; anything else is the
        // manual page's environment name: NAME.tar.gz.
        let (out, compression) = match Compression::from_name(std::path::Path::new(&self.out)) {
            Some(c) => (self.out.into(), c),
            None => (commands::archive_name(&self.out, Compression::Gzip), Compression::Gzip),
        };
        let opts = crate::create::CreateOptions {
            channels: commands::channels_from_env(),
            compression,
            cache: crate::create::default_cache(),
            quiet: !std::io::IsTerminal::is_terminal(&std::io::stderr()),
        };
        match crate::create::create(&spec, &out, &opts) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{tool}: {e}");
                build_error
            }
        }
    }
}

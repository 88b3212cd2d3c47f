//! The `animica-env` binary. Invoked through a link named like one of
//! cctools' tools, it behaves as that tool (see `compat`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let name = std::path::Path::new(&argv0).file_name().and_then(|n| n.to_str()).unwrap_or("animica-env").to_owned();
    let rest: Vec<std::ffi::OsString> = args.collect();
    let code = match animica_env::compat::Tool::from_name(&name) {
        Some(tool) => animica_env::compat::main(tool, &rest),
        None => animica_env::cli::main(&argv0, &rest),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

//! animica-env: analyze a Python program's imports, build a relocatable
//! conda environment for it, and run commands inside that environment on
//! distributed workers. One static binary; also answers to cctools'
//! `python_package_*` and `poncho_package_*` names (see [`compat`]).

pub mod analyze;
pub mod cli;
pub mod commands;
pub mod compat;
pub mod create;
pub mod env;
pub mod error;
pub mod run;

pub use error::{Error, Result};

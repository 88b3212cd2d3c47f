//! animica-env: analyze a Python program's imports, build a relocatable
//! conda environment for it, and run commands inside that environment on
//! distributed workers. One static binary; also answers to cctools'
//! `python_package_*` and `poncho_package_*` names (see [`compat`]).

//!
//! Without the default `solve` feature (rattler, tokio, reqwest) the
//! library keeps what needs no network: the analyzer, the spec parsers, the
//! archive format, `run`'s unpacking; the fuzz targets build it that way.

pub mod analyze;
#[cfg(feature = "solve")]
pub mod cli;
#[cfg(feature = "solve")]
pub mod commands;
#[cfg(feature = "solve")]
pub mod compat;
pub mod create;
pub mod env;
pub mod error;
pub mod lock;
pub mod run;

pub use error::{Error, Result};

//! The one error type of animica-env, and the exit status each maps to.

use std::io;
use std::path::PathBuf;

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, with the values needed to say what.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line is malformed.
    #[error("{0}")]
    Usage(String),
    /// An input (script, directory, spec) cannot be read.
    #[error("{}: {source}", path.display())]
    Input {
        /// The path given.
        path: PathBuf,
        /// Why it cannot be read.
        source: io::Error,
    },
    /// A Python source does not parse.
    #[error("{}:{line}:{column}: syntax error: {message}", path.display())]
    Parse {
        /// The file (`<stdin>` for standard input).
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The Python interpreter asked for cannot be used.
    #[error("{0}")]
    Interpreter(String),
    /// A Python version outside the embedded tables, or malformed.
    #[error("Python version {0:?} is not supported: the standard-library tables cover 3.6 to 3.14")]
    PythonVersion(String),
    /// An environment archive is unreadable, unsafe or does not match its
    /// manifest.
    #[error("{}: {reason}", archive.display())]
    Archive {
        /// The archive.
        archive: PathBuf,
        /// What is wrong, naming the entry.
        reason: String,
    },
    /// A file of an unpacked environment cannot be relocated.
    #[error("cannot relocate {}: {reason}", path.display())]
    Relocate {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An environment spec cannot be read.
    #[error("{origin}: {reason}")]
    Spec {
        /// The file (or `-`).
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Solving, downloading, installing or pip failed.
    #[error("{0}")]
    Create(String),
    /// The command to run could not be started.
    #[error("cannot run {program}: {source}")]
    Command {
        /// What we tried to run.
        program: String,
        /// Why not.
        source: io::Error,
    },
    /// An output cannot be written.
    #[error("{}: {source}", path.display())]
    Output {
        /// Where we tried to write.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
}

impl Error {
    /// Exit status of the native CLI for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 1,
            Error::Input { .. } => 2,
            Error::Parse { .. } => 3,
            Error::Interpreter(_) | Error::PythonVersion(_) => 4,
            Error::Output { .. } => 5,
            Error::Archive { .. } => 3,
            Error::Spec { .. } => 2,
            Error::Create(_) => 6,
            Error::Relocate { .. } => 4,
            Error::Command { source, .. } => {
                if source.kind() == io::ErrorKind::NotFound {
                    127
                } else {
                    126
                }
            }
        }
    }
}

//! Failures that map to particular exit codes; everything else exits 1.

use std::fmt;

/// Exit code for bad input: flags, config files, manifests (as clap uses for usage errors).
pub const EXIT_USAGE: u8 = 2;

/// A failure with a specific exit code.
#[derive(Debug)]
pub enum Failure {
    /// The input is wrong; nothing was done.
    Usage(String),
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Failure {}

/// The exit code for any error: a [`Failure`]'s own, else 1.
pub fn exit_code_for(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Failure>())
        .map_or(1, Failure::exit_code)
}

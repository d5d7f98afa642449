//! Exit codes, and the one way an error becomes one.
//!
//! Commands return `anyhow::Result<u8>`: `Ok(code)` when they ran to the end (a code other
//! than 0 says what they found, e.g. an instance not active), `Err` when they could not. An
//! error's code is [`EXIT_USAGE`] when a [`Failure::Usage`] is in its chain (bad input:
//! nothing was done), else [`EXIT_FAILED`]; [`exit_code`] is the only place that decides.

use crate::cli::Cli;
use clap::CommandFactory;
use std::fmt;
use std::process::ExitCode;

/// Exit code of a command that could not do its work (a host unreachable, a job failed).
pub const EXIT_FAILED: u8 = 1;

/// Exit code for bad input: flags, config files, manifests (as clap uses for usage errors).
pub const EXIT_USAGE: u8 = 2;

/// Exit code of `deploy --dry-run` when the hosts have drifted from the manifest.
pub const EXIT_CHANGES_PENDING: u8 = 2;

/// Exit code of `status` when an instance is not active (as `systemctl status` uses).
pub const EXIT_NOT_ACTIVE: u8 = 3;

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

/// The exit code for any error: a [`Failure`]'s own, else [`EXIT_FAILED`].
pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Failure>())
        .map_or(EXIT_FAILED, Failure::exit_code)
}

/// Reports a command line clap refused and returns the exit code: clap's own (2, or 0 for
/// `--help`), except for `kafkactl check`, whose bad arguments are a monitoring plugin's
/// UNKNOWN (3) with a plugin line, not CRITICAL (2).
pub fn usage_error(err: clap::Error) -> ExitCode {
    if !is_check(&err, std::env::args_os()) {
        err.exit();
    }
    let text = err.to_string();
    let first = text.lines().next().unwrap_or_default();
    println!("KAFKACTL UNKNOWN - {}", first.trim_start_matches("error: "));
    eprint!("{err}");
    ExitCode::from(crate::health::check::State::Unknown.code())
}

/// Whether a refused command line is a `kafkactl check` one (help and version output are
/// not errors). clap itself finds the subcommand, parsing leniently, so global options
/// before it are skipped as clap skips them.
fn is_check<I, T>(err: &clap::Error, args: I) -> bool
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        return false;
    }
    Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(args)
        .is_ok_and(|matches| matches.subcommand_name() == Some("check"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(args: &[&str]) -> clap::Error {
        use clap::Parser;
        Cli::try_parse_from(args).expect_err("refused")
    }

    #[test]
    fn check_is_found_behind_global_options() {
        for args in [
            &["kafkactl", "check", "--lag-warning", "x"][..],
            &["kafkactl", "-f", "m.yml", "--user", "check", "--bogus"],
            &["kafkactl", "--log", "debug", "check", "--lag-critical"],
        ] {
            assert!(is_check(&refused(args), args), "{args:?}");
        }
    }

    #[test]
    fn other_commands_and_help_are_not_check() {
        for args in [
            &["kafkactl", "status", "--bogus"][..],
            &["kafkactl", "-f", "check", "status", "--bogus"],
            &["kafkactl", "check", "--help"],
        ] {
            assert!(!is_check(&refused(args), args), "{args:?}");
        }
    }

    #[test]
    fn usage_failures_anywhere_in_the_chain_exit_2() {
        let err = anyhow::Error::from(Failure::Usage("bad".into())).context("loading");
        assert_eq!(exit_code(&err), EXIT_USAGE);
        assert_eq!(exit_code(&anyhow::anyhow!("host down")), EXIT_FAILED);
    }
}

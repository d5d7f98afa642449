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

/// Exit code of a command that could not do its work (a host unreachable, a job failed, a
/// prompt declined).
pub const EXIT_FAILED: u8 = 1;

/// Exit code for bad input: flags, config files, manifests; nothing was touched (clap's and
/// BSD tools' usage convention).
pub const EXIT_USAGE: u8 = 2;

/// Exit code of `status` when an instance is not active (as `systemctl status` and LSB use).
pub const EXIT_NOT_ACTIVE: u8 = 3;

/// Exit code of `--dry-run` when something would change: terraform's `-detailed-exitcode`
/// idea, moved from its 2 to 4 because 2 is bad input here.
pub const EXIT_CHANGES_PENDING: u8 = 4;

/// Exit code after a second SIGINT/SIGTERM cut a shutdown short (128 + SIGINT, as shells
/// report an interrupted program).
pub const EXIT_INTERRUPTED: u8 = 130;

/// The one exit-code table: every command's codes (`check` excepted: it speaks the monitoring
/// plugin API, 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). README's "Exit status" and every man
/// page print it; tests hold both to it.
pub const EXIT_TABLE: &[(u8, &str)] = &[
    (0, "success; with --dry-run: nothing would change"),
    (
        EXIT_FAILED,
        "the command could not do all of its work: a host unreachable, a systemd job failed, \
         Kafka unreadable, the y/N prompt declined",
    ),
    (
        EXIT_USAGE,
        "bad input (flags, manifest, config file, host list): nothing was touched",
    ),
    (
        EXIT_NOT_ACTIVE,
        "status: every host was read and some instance is not active",
    ),
    (
        EXIT_CHANGES_PENDING,
        "--dry-run: something would change (the hosts drifted from the manifest)",
    ),
    (
        EXIT_INTERRUPTED,
        "a second Ctrl-C/SIGTERM cut a graceful shutdown short",
    ),
];

/// Where `check` departs from [`EXIT_TABLE`].
pub const EXIT_CHECK_NOTE: &str = "kafkactl check follows the monitoring plugin API instead: \
     0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (bad arguments included).";

/// [`EXIT_TABLE`] as the Markdown table README.md carries.
#[cfg(test)]
pub fn exit_table_markdown() -> String {
    let mut out = String::from("| code | meaning |\n|---|---|\n");
    for (code, meaning) in EXIT_TABLE {
        out.push_str(&format!("| {code} | {meaning} |\n"));
    }
    out
}

/// [`EXIT_TABLE`] as plain text, for `kafkactl --help`.
pub fn exit_table_text() -> String {
    let mut out = String::from("Exit status:\n");
    for (code, meaning) in EXIT_TABLE {
        out.push_str(&format!("{code:>3}  {meaning}\n"));
    }
    out.push_str(EXIT_CHECK_NOTE);
    out
}

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
    fn the_codes_are_distinct_and_readme_carries_the_table() {
        let mut codes: Vec<u8> = EXIT_TABLE.iter().map(|(code, _)| *code).collect();
        codes.dedup();
        assert_eq!(codes.len(), EXIT_TABLE.len(), "a code listed twice");
        assert_ne!(
            EXIT_CHANGES_PENDING, EXIT_USAGE,
            "drift must not read as bad input"
        );
        let readme = include_str!("../README.md");
        assert!(
            readme.contains(&exit_table_markdown()),
            "README.md's exit-code table differs from error::EXIT_TABLE; paste:\n{}",
            exit_table_markdown()
        );
        assert!(
            readme.contains(EXIT_CHECK_NOTE),
            "README.md lacks the check note"
        );
    }

    #[test]
    fn usage_failures_anywhere_in_the_chain_exit_2() {
        let err = anyhow::Error::from(Failure::Usage("bad".into())).context("loading");
        assert_eq!(exit_code(&err), EXIT_USAGE);
        assert_eq!(exit_code(&anyhow::anyhow!("host down")), EXIT_FAILED);
    }
}

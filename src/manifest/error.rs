//! What goes wrong when a manifest is loaded: every problem, each with its line and column.

use std::fmt;
use std::path::{Path, PathBuf};

/// A place in the manifest file: 1-based line and 1-based column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1, counted in characters.
    pub column: usize,
}

impl Pos {
    /// The first character of the file.
    pub const START: Pos = Pos { line: 1, column: 1 };

    pub(crate) fn from_marker(marker: &saphyr_parser::Marker) -> Pos {
        Pos {
            line: marker.line().max(1),
            column: marker.col() + 1,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One thing wrong with a manifest, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where in the file.
    pub pos: Pos,
    /// What is wrong and what was expected, without the position.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(pos: Pos, message: impl Into<String>) -> Problem {
        Problem {
            pos,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.pos)?;
        // A message quotes what the file says (a key, a value), which may hold a line break:
        // escaped, each problem stays one `FILE:LINE:COL: ...` line for editors and CI.
        for c in self.message.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// A manifest that could not be loaded.
///
/// `Display` gives one line per problem, `PATH:LINE:COLUMN: MESSAGE`, sorted by position.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read (missing, unreadable).
    #[error("{}: cannot read the manifest: {error}", path.display())]
    Read {
        /// The path as given.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file was read and is not a valid manifest; nothing in it was used.
    #[error("{}", render(path, problems))]
    Invalid {
        /// The path as given (used as the prefix of every line).
        path: PathBuf,
        /// Every problem found, sorted by position; never empty.
        problems: Vec<Problem>,
    },
}

impl ManifestError {
    /// The manifest's path, as given to [`super::Manifest::load`] or [`super::Manifest::parse`].
    pub fn path(&self) -> &Path {
        match self {
            ManifestError::Read { path, .. } | ManifestError::Invalid { path, .. } => path,
        }
    }

    /// Every problem found, sorted by position (empty for [`ManifestError::Read`]).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ManifestError::Read { .. } => &[],
            ManifestError::Invalid { problems, .. } => problems,
        }
    }

    /// Builds an [`ManifestError::Invalid`], sorting the problems by position and dropping
    /// exact repeats.
    pub(crate) fn invalid(path: PathBuf, mut problems: Vec<Problem>) -> ManifestError {
        problems.sort_by_key(|p| p.pos);
        problems.dedup();
        ManifestError::Invalid { path, problems }
    }
}

/// A bad manifest is bad input: exit code 2, like other usage errors.
impl From<ManifestError> for crate::error::Failure {
    fn from(err: ManifestError) -> Self {
        crate::error::Failure::Usage(err.to_string())
    }
}

fn render(path: &Path, problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, problem) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{}:{problem}", path.display()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_sorted_line_per_problem() {
        let err = ManifestError::invalid(
            PathBuf::from("config/kafka_consumers.yml"),
            vec![
                Problem::new(
                    Pos {
                        line: 4,
                        column: 10,
                    },
                    "b",
                ),
                Problem::new(Pos { line: 2, column: 3 }, "a"),
                Problem::new(
                    Pos {
                        line: 4,
                        column: 10,
                    },
                    "b",
                ),
            ],
        );
        assert_eq!(
            err.to_string(),
            "config/kafka_consumers.yml:2:3: a\nconfig/kafka_consumers.yml:4:10: b"
        );
        assert_eq!(err.problems().len(), 2);
        assert_eq!(err.path(), Path::new("config/kafka_consumers.yml"));
    }

    #[test]
    fn converts_to_a_usage_failure() {
        let err =
            ManifestError::invalid(PathBuf::from("m.yml"), vec![Problem::new(Pos::START, "x")]);
        let failure: crate::error::Failure = err.into();
        assert_eq!(failure.exit_code(), crate::error::EXIT_USAGE);
        assert_eq!(failure.to_string(), "m.yml:1:1: x");
    }
}

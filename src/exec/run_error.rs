//! Why the executor could not carry out a run at all (as opposed to the counted errors of
//! a run that went badly, which are results): [`RunError`], and [`RegexBug`], a regex the
//! analyzer accepted that does not compile when the run is prepared.

use std::fmt;

/// The executor could not start or finish the run.
#[derive(Debug)]
pub enum RunError {
    /// The async runtime could not be built (threads, the I/O driver).
    Runtime(std::io::Error),
    /// The in-process mock target of a `mock: true` environment could not start.
    Mock(std::io::Error),
    /// Preparing the run found a regex that does not compile.
    Regex(RegexBug),
    /// The collector task panicked or was cancelled.
    Collector(tokio::task::JoinError),
    /// The run did not start: its start was missed, the barrier gave up or could not be
    /// used, or a signal came while waiting (`start.rs`).
    Start(super::start::StartError),
    /// A `setup:` step failed, its timeout passed or a signal came: no load was sent.
    Setup(super::phase::PhaseFailure),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Runtime(error) => write!(f, "cannot start the runtime: {error}"),
            Self::Mock(error) => write!(f, "the mock target could not start: {error}"),
            Self::Regex(bug) => bug.fmt(f),
            Self::Collector(error) => write!(f, "the collector failed: {error}"),
            Self::Start(error) => error.fmt(f),
            Self::Setup(failure) => {
                write!(f, "setup failed: {failure}; the load did not start")
            }
        }
    }
}

impl std::error::Error for RunError {}

impl From<RegexBug> for RunError {
    fn from(bug: RegexBug) -> Self {
        Self::Regex(bug)
    }
}

/// A regex of the plan that the analyzer compiled but that does not compile when the run
/// is prepared: a bug in loadplan, never a plan error.
#[derive(Debug)]
pub struct RegexBug {
    pub pattern: String,
    pub error: regex::Error,
}

impl fmt::Display for RegexBug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "regex `{}` passed the plan's checks but does not compile ({}); this is a bug in loadplan",
            self.pattern, self.error
        )
    }
}

impl std::error::Error for RegexBug {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A regex that does not compile, made at run time (clippy rejects the literal).
    fn unclosed() -> regex::Error {
        let pattern = String::from("(");
        regex::Regex::new(&pattern).expect_err("an unclosed group does not compile")
    }

    #[test]
    fn messages() {
        let bug = RegexBug {
            pattern: "(".into(),
            error: unclosed(),
        };
        let cases = [
            (
                RunError::Runtime(std::io::Error::other("no threads")),
                "cannot start the runtime: no threads".to_owned(),
            ),
            (
                RunError::Mock(std::io::Error::other("in use")),
                "the mock target could not start: in use".to_owned(),
            ),
            (
                RunError::from(bug),
                format!(
                    "regex `(` passed the plan's checks but does not compile ({}); this is a bug in loadplan",
                    unclosed()
                ),
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }
}

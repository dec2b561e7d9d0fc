//! What can go wrong when reports are prepared or written, as the callers of `report`
//! (run.rs) see it: one enum with a message and an exit code, printed once by the caller.

use std::fmt;

use crate::exit_code;

/// A report failure.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportError {
    /// A results file (the run's or a baseline's) cannot be read, is not a results file,
    /// or holds a damaged histogram.
    Results(String),
    /// An output cannot be set up before anything is written: an output path that does not
    /// render, a template file that cannot be read or does not parse.
    Prepare(String),
    /// Outputs that could not be rendered or written, one message each; the others were.
    Write(Vec<String>),
}

impl ReportError {
    /// Bad inputs are usage errors (2); outputs that could not be written are failures (1).
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Results(_) | Self::Prepare(_) => exit_code::INVALID,
            Self::Write(_) => exit_code::FAILURE,
        }
    }

    /// The same error, its message prefixed with what it is about (`the baseline: …`).
    #[must_use]
    pub fn about(self, what: &str) -> Self {
        match self {
            Self::Results(message) => Self::Results(format!("{what}: {message}")),
            Self::Prepare(message) => Self::Prepare(format!("{what}: {message}")),
            Self::Write(messages) => Self::Write(
                messages
                    .into_iter()
                    .map(|m| format!("{what}: {m}"))
                    .collect(),
            ),
        }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Results(message) | Self::Prepare(message) => f.write_str(message),
            Self::Write(messages) => f.write_str(&messages.join("\n")),
        }
    }
}

impl std::error::Error for ReportError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_and_messages() {
        let table = [
            (
                ReportError::Results("cannot read r.json".into()),
                2,
                "cannot read r.json",
            ),
            (ReportError::Prepare("bad path".into()), 2, "bad path"),
            (
                ReportError::Write(vec!["a failed".into(), "b failed".into()]),
                1,
                "a failed\nb failed",
            ),
        ];
        for (error, code, text) in table {
            assert_eq!(error.exit_code(), code, "{error}");
            assert_eq!(error.to_string(), text);
        }
        assert_eq!(
            ReportError::Results("x".into()).about("the baseline"),
            ReportError::Results("the baseline: x".into())
        );
    }
}

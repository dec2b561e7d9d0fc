//! What can go wrong when reports are prepared or written, as the callers of `report`
//! (run.rs) see it: [`ReportError`], with a message, turned into the command's
//! [`crate::error::Error`] (and so its exit code) by the caller. Its parts name what
//! failed: [`PrepareError`] before a run, [`OutputError`] per output after it.

use std::fmt;
use std::path::PathBuf;

use super::document::DocumentError;
use super::history::HistoryError;
use super::markdown::TemplateError;
use super::write::WriteError;

/// A report failure.
#[derive(Debug)]
pub enum ReportError {
    /// A results file (the run's or a baseline's) cannot be read, is not a results file,
    /// or holds a damaged histogram.
    Results(String),
    /// An output cannot be set up, so nothing is run or written.
    Prepare(PrepareError),
    /// Outputs that could not be rendered or written, one each; the others were written.
    Write(Vec<OutputError>),
}

/// Why an output cannot be set up before anything is written.
#[derive(Debug)]
pub enum PrepareError {
    /// An output path that does not render.
    Path { template: String, detail: String },
    /// A template file that cannot be read.
    ReadTemplate { file: String, error: std::io::Error },
    /// A template file that does not parse.
    Template(TemplateError),
    /// An output file, its folder or its document that cannot be written (checked without
    /// writing it).
    Unwritable(WriteError),
    /// The document cannot take the report where the output says (a heading that is not
    /// in it, a section's markers out of order).
    Document(PathBuf, DocumentError),
    /// A `fill` whose table is not in the document as the plan describes it (located at the
    /// plan's `fill` key by the caller).
    Fill {
        document: PathBuf,
        error: Box<super::fill::FillError>,
    },
    /// A live output's URL, header or label that does not render (redacted).
    Live { what: String, detail: String },
    /// A live output's URL that is no `http(s)://` URL (redacted).
    LiveUrl { url: String, why: String },
}

/// Why one output could not be written; the file keeps its old content.
#[derive(Debug)]
pub enum OutputError {
    /// The run (or its baseline) cannot be reported.
    Report(Box<ReportError>),
    Template(TemplateError),
    Junit(quick_junit::SerializeError),
    /// The document cannot take the report (named, since the edit happens in memory).
    Document(PathBuf, DocumentError),
    History(PathBuf, HistoryError),
    Write(WriteError),
    /// A Markdown output with neither `file` nor `append_to`.
    NoMarkdownPath,
}

impl ReportError {
    /// A results file's error, its message prefixed with which file (`the baseline: …`).
    #[must_use]
    pub fn about(self, what: &str) -> Self {
        match self {
            Self::Results(message) => Self::Results(format!("{what}: {message}")),
            other => other,
        }
    }
}

/// How the command line reports it: a results file or an output that cannot be set up is
/// an input the user fixes (exit 2); outputs that could not be written are a failure (1).
impl From<ReportError> for crate::error::Error {
    fn from(error: ReportError) -> Self {
        match error {
            ReportError::Results(_) | ReportError::Prepare(_) => Self::Input(Box::new(error)),
            ReportError::Write(_) => Self::Output(Box::new(error)),
        }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Results(message) => f.write_str(message),
            Self::Prepare(error) => error.fmt(f),
            Self::Write(errors) => {
                for (i, error) in errors.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    error.fmt(f)?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for PrepareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path { template, detail } => {
                write!(
                    f,
                    "the output path `{template}` cannot be rendered: {detail}"
                )
            }
            Self::ReadTemplate { file, error } => {
                write!(f, "cannot read the template {file}: {error}")
            }
            Self::Template(error) => error.fmt(f),
            Self::Unwritable(error) => error.fmt(f),
            Self::Document(path, error) => write!(f, "{}: {error}", path.display()),
            Self::Fill { document, error } => write!(f, "{}: {error}", document.display()),
            Self::Live { what, detail } => {
                write!(
                    f,
                    "the prometheus output's `{what}` cannot be rendered: {detail}"
                )
            }
            Self::LiveUrl { url, why } => {
                write!(f, "`{url}` is no remote-write URL: {why}")
            }
        }
    }
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Report(error) => error.fmt(f),
            Self::Template(error) => error.fmt(f),
            Self::Junit(error) => write!(f, "cannot write JUnit XML: {error}"),
            Self::Document(path, error) => write!(f, "{}: {error}", path.display()),
            Self::History(path, error) => write!(f, "{}: {error}", path.display()),
            Self::Write(error) => error.fmt(f),
            Self::NoMarkdownPath => f.write_str("a markdown output needs `file` or `append_to`"),
        }
    }
}

impl std::error::Error for ReportError {}
impl std::error::Error for PrepareError {}
impl std::error::Error for OutputError {}

impl From<WriteError> for OutputError {
    fn from(error: WriteError) -> Self {
        Self::Write(error)
    }
}

impl From<TemplateError> for OutputError {
    fn from(error: TemplateError) -> Self {
        Self::Template(error)
    }
}

impl From<ReportError> for OutputError {
    fn from(error: ReportError) -> Self {
        Self::Report(Box::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_and_messages() {
        let prepare = PrepareError::Path {
            template: "{{ x }}".into(),
            detail: "undefined".into(),
        };
        let table = [
            (
                ReportError::Results("cannot read r.json".into()),
                2,
                "cannot read r.json",
            ),
            (
                ReportError::Prepare(prepare),
                2,
                "the output path `{{ x }}` cannot be rendered: undefined",
            ),
            (
                ReportError::Write(vec![
                    OutputError::NoMarkdownPath,
                    OutputError::Junit(quick_junit::SerializeError::from(std::io::Error::other(
                        "full",
                    ))),
                ]),
                1,
                "a markdown output needs `file` or `append_to`\ncannot write JUnit XML: error serializing JUnit report",
            ),
        ];
        for (error, code, text) in table {
            assert_eq!(error.to_string(), text);
            let error = crate::error::Error::from(error);
            assert_eq!(error.exit_code(), code, "{error}");
            assert_eq!(error.to_string(), format!("error: {text}"));
        }
        assert_eq!(
            ReportError::Results("x".into())
                .about("the baseline")
                .to_string(),
            "the baseline: x"
        );
    }
}

//! Reading a plan file: at most [`MAX_PLAN`] bytes of UTF-8 text. The one place under
//! `plan` that does I/O, so that `validate` and `run` read a plan the same way and a plan
//! that never ends (`/dev/zero`, a pipe) is an error at once, not a hang.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// The largest plan read: 8 MiB, far above any hand-written plan.
pub const MAX_PLAN: u64 = 8 << 20;

/// The selection a plan was loaded with: `--env`, `--stage`, `--var`, the `from_env`
/// variables read, `--vus`, `--duration`, `--scenario`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SelectionRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    pub stage: String,
    /// `--var NAME=VALUE`, in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<(String, String)>,
    /// The process environment variables `from_env` variables read, by name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub process_env: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus: Option<u32>,
    /// `--duration`, as written (`10s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenarios: Vec<String>,
}

/// The plan's identity for a split run: `sha256:` and the hex digest of the plan file's
/// text and the selection it was loaded with (as JSON). Every segment of one run has the
/// same; `loadplan merge` refuses segments whose hashes differ, or a plan file that no
/// longer hashes to theirs.
pub fn plan_hash(source: &str, selection: &SelectionRecord) -> String {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    hasher.update(source.as_bytes());
    hasher.update([0u8]);
    // A struct of strings, numbers and lists always serialises.
    hasher.update(serde_json::to_vec(selection).unwrap_or_default());
    let digest = hasher.finalize();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Why a file was not read as text.
#[derive(Debug)]
pub enum ReadError {
    /// The file cannot be opened or read; `what` names it (`plan`, `results file`).
    Io {
        what: &'static str,
        error: std::io::Error,
    },
    /// The file is longer than `limit` bytes; nothing past `limit + 1` was read.
    TooLarge { what: &'static str, limit: u64 },
    /// The file is not UTF-8: the first bad byte is at `offset`.
    NotUtf8 { what: &'static str, offset: usize },
}

/// Reads the plan's data files relative to `folder` (the plan file's, or `--workdir`),
/// each up to [`super::data::MAX_DATA`] bytes. An absolute path is read as it is.
pub fn data_files(folder: std::path::PathBuf) -> super::analyze::FileLookup {
    super::analyze::FileLookup::new(move |file| {
        read_capped(&folder.join(file), super::data::MAX_DATA, "data file")
    })
}

/// Reads a plan file: [`read_capped`] with [`MAX_PLAN`].
pub fn read(path: &Path) -> Result<String, ReadError> {
    read_capped(path, MAX_PLAN, "plan")
}

/// Reads at most `limit + 1` bytes of `path`, so that the length tells whether the file
/// is longer than `limit`, and decodes them as UTF-8.
pub fn read_capped(path: &Path, limit: u64, what: &'static str) -> Result<String, ReadError> {
    let io = |error| ReadError::Io { what, error };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { what, limit });
    }
    String::from_utf8(bytes).map_err(|error| ReadError::NotUtf8 {
        what,
        offset: error.utf8_error().valid_up_to(),
    })
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { what, error } => write!(f, "cannot read the {what}: {error}"),
            Self::TooLarge { what, limit } => write!(
                f,
                "the {what} is larger than {} MiB; nothing was read past that",
                limit >> 20
            ),
            Self::NotUtf8 { what, offset } => write!(
                f,
                "the {what} is not UTF-8 text (invalid byte at offset {offset})"
            ),
        }
    }
}

impl std::error::Error for ReadError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, bytes).unwrap();
        file
    }

    #[test]
    fn a_file_at_the_limit_is_read_and_one_byte_more_is_not() {
        let at = file(&[b'#'; 1 << 20]);
        assert_eq!(
            read_capped(at.path(), 1 << 20, "plan").unwrap().len(),
            1 << 20
        );
        let over = file(&[b'#'; (1 << 20) + 1]);
        let error = read_capped(over.path(), 1 << 20, "plan").unwrap_err();
        assert_eq!(
            error.to_string(),
            "the plan is larger than 1 MiB; nothing was read past that"
        );
    }

    #[test]
    fn an_endless_file_stops_at_the_cap() {
        let error = read(Path::new("/dev/zero")).unwrap_err();
        assert!(matches!(
            error,
            ReadError::TooLarge {
                limit: MAX_PLAN,
                ..
            }
        ));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_located() {
        let bad = file(b"name: a\n\xff\n");
        assert_eq!(
            read(bad.path()).unwrap_err().to_string(),
            "the plan is not UTF-8 text (invalid byte at offset 8)"
        );
    }

    #[test]
    fn a_missing_file_says_what_it_is() {
        let error = read(Path::new("/nonexistent/plan.yaml")).unwrap_err();
        assert!(
            error.to_string().starts_with("cannot read the plan: "),
            "{error}"
        );
    }
}

#[cfg(test)]
mod hash_tests {
    use super::*;

    #[test]
    fn the_hash_changes_with_the_text_and_the_selection() {
        let selection = SelectionRecord {
            stage: "smoke".into(),
            ..SelectionRecord::default()
        };
        let hash = plan_hash("name: a\n", &selection);
        assert!(
            hash.starts_with("sha256:") && hash.len() == 7 + 64,
            "{hash}"
        );
        assert_eq!(hash, plan_hash("name: a\n", &selection.clone()));
        assert_ne!(hash, plan_hash("name: b\n", &selection));
        let scaled = SelectionRecord {
            vus: Some(5),
            ..selection.clone()
        };
        assert_ne!(hash, plan_hash("name: a\n", &scaled));
    }
}

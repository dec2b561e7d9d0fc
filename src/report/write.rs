//! Replacing a file safely: under an advisory lock (std `File::lock`, flock on Unix), read
//! it, compute the new text, write it to a temporary file in the same directory and rename
//! that over the original. A reader sees the old or the new file, never a mix; a process
//! killed before the rename leaves the old file (and its temporary file is removed when it
//! can be); two writers appending at once both land, one after the other.
//!
//! The lock is on the file itself. After a rename the path names a new file, so a writer
//! that waited on the old one checks, once it holds the lock, that the path still names the
//! file it locked, and otherwise starts again on the new one.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Why an edit refused to produce a file's content (a `DocumentError`, a `HistoryError`,
/// a `TemplateError`).
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a file could not be replaced; it keeps its old content. Each names the file.
#[derive(Debug)]
pub enum WriteError {
    CreateDir(PathBuf, io::Error),
    Open(PathBuf, io::Error),
    Lock(PathBuf, io::Error),
    Read(PathBuf, io::Error),
    NotUtf8(PathBuf),
    Temporary(PathBuf, io::Error),
    Write(PathBuf, io::Error),
    Replace(PathBuf, io::Error),
    /// The new content could not be made: the old text is not what the edit expects (the
    /// file is named), or a template failed.
    Refused(Option<PathBuf>, Cause),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreateDir(dir, e) => write!(f, "cannot create {}: {e}", dir.display()),
            Self::Open(path, e) => write!(f, "cannot open {}: {e}", path.display()),
            Self::Lock(path, e) => write!(f, "cannot lock {}: {e}", path.display()),
            Self::Read(path, e) => write!(f, "cannot read {}: {e}", path.display()),
            Self::NotUtf8(path) => write!(f, "{} is not UTF-8 text", path.display()),
            Self::Temporary(dir, e) => write!(
                f,
                "cannot create a temporary file in {}: {e}",
                dir.display()
            ),
            Self::Write(path, e) => write!(f, "cannot write {}: {e}", path.display()),
            Self::Replace(path, e) => write!(f, "cannot replace {}: {e}", path.display()),
            Self::Refused(Some(path), cause) => write!(f, "{}: {cause}", path.display()),
            Self::Refused(None, cause) => cause.fmt(f),
        }
    }
}

impl std::error::Error for WriteError {}

/// Whether a missing file is an error or starts empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Error,
    Create,
}

/// Replaces `path` with `edit(old text)`. `before_rename` runs once the new text is written
/// to the temporary file (tests inject failures there). Errors name the file; on any error
/// the file keeps its old content.
pub fn update<E: Into<Cause>>(
    path: &Path,
    missing: Missing,
    edit: impl FnOnce(&str) -> Result<String, E>,
    before_rename: impl FnOnce(&Path) -> io::Result<()>,
) -> Result<(), WriteError> {
    update_with(
        path,
        missing,
        |old, w| {
            let new = edit(old).map_err(|e| Fill::Edit(e.into()))?;
            w.write_all(new.as_bytes()).map_err(Fill::Io)
        },
        before_rename,
    )
}

/// Why the new content could not be written.
#[derive(Debug)]
pub enum Fill {
    /// The old text is not what the edit expects (shown after the file's name).
    Edit(Cause),
    /// The content could not be made (a template failed); shown as it is.
    Refused(Cause),
    /// Writing the temporary file failed.
    Io(io::Error),
}

impl From<io::Error> for Fill {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// [`update`], with the new content written by `produce` straight into the temporary file;
/// the file is only replaced when `produce` succeeds.
pub fn update_with(
    path: &Path,
    missing: Missing,
    produce: impl FnOnce(&str, &mut dyn Write) -> Result<(), Fill>,
    before_rename: impl FnOnce(&Path) -> io::Result<()>,
) -> Result<(), WriteError> {
    let owned = || path.to_path_buf();
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    if missing == Missing::Create {
        std::fs::create_dir_all(dir).map_err(|e| WriteError::CreateDir(dir.to_path_buf(), e))?;
    }
    let mut file = lock(path, missing)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| WriteError::Read(owned(), e))?;
    let old = String::from_utf8(bytes).map_err(|_| WriteError::NotUtf8(owned()))?;
    let mut temporary = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            path.file_name()
                .map_or_else(|| "loadplan".into(), |n| n.to_string_lossy())
        ))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| WriteError::Temporary(dir.to_path_buf(), e))?;
    let mut buffered = std::io::BufWriter::new(temporary.as_file_mut());
    match produce(&old, &mut buffered).and_then(|()| Ok(buffered.flush()?)) {
        Ok(()) => drop(buffered),
        Err(Fill::Edit(message)) => return Err(WriteError::Refused(Some(owned()), message)),
        Err(Fill::Refused(message)) => return Err(WriteError::Refused(None, message)),
        Err(Fill::Io(e)) => return Err(WriteError::Write(owned(), e)),
    }
    let written = temporary
        .as_file()
        .sync_all()
        .and_then(|()| match file.metadata() {
            Ok(metadata) => temporary.as_file().set_permissions(metadata.permissions()),
            Err(_) => Ok(()),
        })
        .and_then(|()| before_rename(temporary.path()));
    written.map_err(|e| WriteError::Write(owned(), e))?;
    temporary
        .persist(path)
        .map_err(|e| WriteError::Replace(owned(), e.error))?;
    // The lock is released when `file` closes, after the rename.
    drop(file);
    Ok(())
}

/// Opens `path` and takes its exclusive lock, retrying until the locked file is the one the
/// path names.
fn lock(path: &Path, missing: Missing) -> Result<File, WriteError> {
    loop {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(missing == Missing::Create)
            .truncate(false)
            .open(path)
            .map_err(|e| WriteError::Open(path.to_path_buf(), e))?;
        file.lock()
            .map_err(|e| WriteError::Lock(path.to_path_buf(), e))?;
        if same_file(&file, path) {
            return Ok(file);
        }
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Elsewhere a file cannot be renamed over while it is open, so the path still names it.
#[cfg(not(unix))]
fn same_file(_: &File, _: &Path) -> bool {
    true
}

/// Writes `text` to `path` atomically (temporary file + rename), creating its directory.
pub fn replace(path: &Path, text: &str) -> Result<(), WriteError> {
    replace_with(path, |w| Ok(w.write_all(text.as_bytes())?))
}

/// As [`replace`], with the content written by `fill` straight into the temporary file.
pub fn replace_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), Fill>,
) -> Result<(), WriteError> {
    update_with(path, Missing::Create, |_, w| fill(w), |_| Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_before_the_rename_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.md");
        std::fs::write(&path, "old\n").unwrap();
        let error = update(
            &path,
            Missing::Error,
            |old| Ok::<_, Cause>(format!("{old}new\n")),
            |temporary| {
                assert_eq!(std::fs::read_to_string(temporary).unwrap(), "old\nnew\n");
                Err(std::io::Error::other("killed"))
            },
        )
        .unwrap_err();
        let error = error.to_string();
        assert!(
            error.contains("doc.md") && error.contains("killed"),
            "{error}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "the temporary file is removed");
    }

    #[test]
    fn an_edit_error_leaves_the_file_untouched_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.md");
        std::fs::write(&path, "old\n").unwrap();
        let error = update(&path, Missing::Error, |_| Err("no"), |_| Ok(())).unwrap_err();
        assert!(error.to_string().ends_with("doc.md: no"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
        let missing = dir.path().join("missing.md");
        let empty = |_: &str| Ok::<_, Cause>(String::new());
        assert!(update(&missing, Missing::Error, empty, |_| Ok(())).is_err());
        assert!(!missing.exists());
        replace(&dir.path().join("a/b.json"), "{}").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a/b.json")).unwrap(),
            "{}"
        );
    }

    #[test]
    fn concurrent_updates_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.txt");
        std::fs::write(&path, "").unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    update(
                        &path,
                        Missing::Error,
                        |old| Ok::<_, Cause>(format!("{old}{i}\n")),
                        |_| {
                            std::thread::sleep(std::time::Duration::from_millis(5));
                            Ok(())
                        },
                    )
                    .unwrap();
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 8, "{text}");
    }
}

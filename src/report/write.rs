//! Writing files safely. A file that is updated (a document, the CSV history, a report
//! file) is replaced under an advisory lock (std `File::lock`, flock on Unix): read it,
//! compute the new text, write it to a temporary file in the same directory and rename that
//! over the original. A reader sees the old or the new file, never a mix; a process killed
//! before the rename leaves the old file; two writers appending at once both land, one
//! after the other. A results file is never replaced: [`create_unique`] renames its
//! temporary file to the first free name (`-2`, `-3`… before the extension), with a rename
//! that fails when the name exists, so concurrent runs cannot take the same one.
//!
//! A file another process holds locked is waited for (said once on stderr); setting
//! [`GIVE_UP_WAITING`] (a signal, in `loadplan run`) ends the wait and skips the file.
//!
//! The lock is on the file itself. After a rename the path names a new file, so a writer
//! that waited on the old one checks, once it holds the lock, that the path still names the
//! file it locked, and otherwise starts again on the new one.
//!
//! A path that is a symbolic link is followed (every level; a relative link from its own
//! directory): the file it points to is locked and replaced, its temporary file is written
//! beside it, and the link stays a link.
//!
//! Temporary files are named `.NAME.XXXXXX.tmp` after the file they will become (six
//! random letters or digits) and are locked by their writer until they are renamed. One
//! that a killed writer left is removed by the next write to the same file: only names of
//! that exact pattern, only when nobody holds their lock and they have not changed for
//! [`STALE`] (a writer locks its file just after creating it; the age covers that instant).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use tempfile::NamedTempFile;

/// Why an edit refused to produce a file's content (a `DocumentError`, a `HistoryError`,
/// a `TemplateError`).
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a file could not be replaced; it keeps its old content. Each names the file.
#[derive(Debug)]
pub enum WriteError {
    CreateDir(PathBuf, io::Error),
    /// A symbolic link that cannot be followed (unreadable, or a loop).
    Link(PathBuf, io::Error),
    /// A document that must exist is a link to a file that does not: `(link, target)`.
    Dangling(PathBuf, PathBuf),
    Open(PathBuf, io::Error),
    Lock(PathBuf, io::Error),
    /// Another process held the lock and a signal ended the wait ([`GIVE_UP_WAITING`]).
    Skipped(PathBuf),
    Read(PathBuf, io::Error),
    NotUtf8(PathBuf),
    Temporary(PathBuf, io::Error),
    Write(PathBuf, io::Error),
    Replace(PathBuf, io::Error),
    /// A new file could not be given a name (the name tried, or the last one).
    Create(PathBuf, io::Error),
    /// The new content could not be made: the old text is not what the edit expects (the
    /// file is named), or a template failed.
    Refused(Option<PathBuf>, Cause),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreateDir(dir, e) => write!(f, "cannot create {}: {e}", dir.display()),
            Self::Link(path, e) => write!(f, "cannot follow the link {}: {e}", path.display()),
            Self::Dangling(link, target) => write!(
                f,
                "{} is a link to {}, which does not exist",
                link.display(),
                target.display()
            ),
            Self::Open(path, e) => write!(f, "cannot open {}: {e}", path.display()),
            Self::Lock(path, e) => write!(f, "cannot lock {}: {e}", path.display()),
            Self::Skipped(path) => write!(
                f,
                "skipped {}: another process holds its lock and a signal ended the wait; \
                 it is unchanged",
                path.display()
            ),
            Self::Read(path, e) => write!(f, "cannot read {}: {e}", path.display()),
            Self::NotUtf8(path) => write!(f, "{} is not UTF-8 text", path.display()),
            Self::Temporary(dir, e) => write!(
                f,
                "cannot create a temporary file in {}: {e}",
                dir.display()
            ),
            Self::Write(path, e) => write!(f, "cannot write {}: {e}", path.display()),
            Self::Replace(path, e) => write!(f, "cannot replace {}: {e}", path.display()),
            Self::Create(path, e) => write!(f, "cannot create {}: {e}", path.display()),
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

/// How long a temporary file must have been left unchanged before another write may
/// remove it (when its writer no longer holds its lock).
pub const STALE: Duration = Duration::from_secs(60);

/// Links followed before giving up, as Linux's `ELOOP` limit.
const MAX_LINKS: usize = 40;

/// Suffixes tried by [`create_unique`] before giving up.
const MAX_SUFFIX: u32 = 10_000;

/// Random characters in a temporary file's name.
const RANDOM_CHARS: usize = 6;

/// The file `path` names once symbolic links are followed: `path` itself when it is not a
/// link (or does not exist); the last target, which may not exist, when it is.
pub fn resolve(path: &Path) -> Result<PathBuf, WriteError> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let target =
                    std::fs::read_link(&current).map_err(|e| WriteError::Link(owned(path), e))?;
                // `join` keeps an absolute target as it is.
                current = match current.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(WriteError::Link(
        owned(path),
        io::Error::other("too many levels of symbolic links"),
    ))
}

fn owned(path: &Path) -> PathBuf {
    path.to_path_buf()
}

/// The directory of `path` (`.` for a bare name).
fn directory(path: &Path) -> &Path {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    }
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
/// the file is only replaced when `produce` succeeds. Through a link, the file it points to
/// is replaced.
pub fn update_with(
    path: &Path,
    missing: Missing,
    produce: impl FnOnce(&str, &mut dyn Write) -> Result<(), Fill>,
    before_rename: impl FnOnce(&Path) -> io::Result<()>,
) -> Result<(), WriteError> {
    let (mut file, target) = lock(path, missing)?;
    sweep(&target);
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| WriteError::Read(owned(path), e))?;
    let old = String::from_utf8(bytes).map_err(|_| WriteError::NotUtf8(owned(path)))?;
    let mut temporary = temporary(&target, false)?;
    fill(&mut temporary, path, |w| produce(&old, w))?;
    let written = temporary
        .as_file()
        .sync_all()
        .and_then(|()| match file.metadata() {
            Ok(metadata) => temporary.as_file().set_permissions(metadata.permissions()),
            Err(_) => Ok(()),
        })
        .and_then(|()| before_rename(temporary.path()));
    written.map_err(|e| WriteError::Write(owned(path), e))?;
    temporary
        .persist(&target)
        .map_err(|e| WriteError::Replace(owned(path), e.error))?;
    // The lock is released when `file` closes, after the rename.
    drop(file);
    Ok(())
}

/// Writes the content made by `produce` into `temporary`; errors name `path`.
fn fill(
    temporary: &mut NamedTempFile,
    path: &Path,
    produce: impl FnOnce(&mut dyn Write) -> Result<(), Fill>,
) -> Result<(), WriteError> {
    let mut buffered = std::io::BufWriter::new(temporary.as_file_mut());
    match produce(&mut buffered).and_then(|()| Ok(buffered.flush()?)) {
        Ok(()) => Ok(()),
        Err(Fill::Edit(message)) => Err(WriteError::Refused(Some(owned(path)), message)),
        Err(Fill::Refused(message)) => Err(WriteError::Refused(None, message)),
        Err(Fill::Io(e)) => Err(WriteError::Write(owned(path), e)),
    }
}

/// A new temporary file beside `target`, named after it, locked until it is closed. `fresh`:
/// it will become a new file, so it gets the usual permissions of one (0666 less the
/// umask) rather than the private ones of a file that takes an existing file's.
fn temporary(target: &Path, fresh: bool) -> Result<NamedTempFile, WriteError> {
    let dir = directory(target);
    let prefix = format!(
        ".{}.",
        target
            .file_name()
            .map_or_else(|| "loadplan".into(), |n| n.to_string_lossy())
    );
    let mut builder = tempfile::Builder::new();
    builder
        .prefix(&prefix)
        .suffix(".tmp")
        .rand_bytes(RANDOM_CHARS);
    #[cfg(unix)]
    if fresh {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    #[cfg(not(unix))]
    let _ = fresh;
    let temporary = builder
        .tempfile_in(dir)
        .map_err(|e| WriteError::Temporary(owned(dir), e))?;
    temporary
        .as_file()
        .lock()
        .map_err(|e| WriteError::Temporary(owned(dir), e))?;
    Ok(temporary)
}

/// Whether `name` is the name of one of our temporary files for the file named `target`:
/// `.TARGET.XXXXXX.tmp`.
fn is_temporary_of(name: &str, target: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|rest| rest.strip_prefix(target))
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix(".tmp"))
        .is_some_and(|random| {
            random.len() == RANDOM_CHARS && random.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// Removes the temporary files of `target` that an interrupted write left: those of our
/// pattern for this very file, unchanged for [`STALE`], whose lock nobody holds. Best
/// effort: a file that cannot be examined or removed is left.
fn sweep(target: &Path) {
    let Some(name) = target.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(directory(target)) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let found = entry.file_name();
        if !found.to_str().is_some_and(|f| is_temporary_of(f, name)) {
            continue;
        }
        // `DirEntry::metadata` does not follow a link: only regular files are ours.
        let stale = entry.metadata().is_ok_and(|m| {
            m.is_file()
                && m.modified()
                    .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age >= STALE))
        });
        if !stale {
            continue;
        }
        let path = entry.path();
        if let Ok(file) = File::open(&path)
            && file.try_lock().is_ok()
        {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Opens the file `path` names (links followed) and takes its exclusive lock, retrying
/// until the locked file is the one the path names; returns it and where it is.
fn lock(path: &Path, missing: Missing) -> Result<(File, PathBuf), WriteError> {
    loop {
        let target = resolve(path)?;
        if missing == Missing::Error && target != path && !target.exists() {
            return Err(WriteError::Dangling(owned(path), target));
        }
        if missing == Missing::Create {
            let dir = directory(&target);
            std::fs::create_dir_all(dir).map_err(|e| WriteError::CreateDir(owned(dir), e))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(missing == Missing::Create)
            .truncate(false)
            .open(&target)
            .map_err(|e| WriteError::Open(owned(path), e))?;
        wait_for_lock(&file, path, &GIVE_UP_WAITING)?;
        if same_file(&file, &target) && resolve(path).is_ok_and(|again| again == target) {
            return Ok((file, target));
        }
    }
}

/// Whether `path` can be written as [`update_with`] (`missing` as there) or
/// [`create_unique`] would, without writing it: the file it names (links followed) exists
/// when it must and opens for reading and writing when it is there, and its folder, or the
/// nearest one above it that exists, takes a new file (one is created and removed at once:
/// the kernel's answer, read-only mounts and ACLs included). Missing folders are not
/// created here; the write creates them.
pub fn check(path: &Path, missing: Missing) -> Result<(), WriteError> {
    let target = resolve(path)?;
    if missing == Missing::Error && target != path && !target.exists() {
        return Err(WriteError::Dangling(owned(path), target));
    }
    match OpenOptions::new().read(true).write(true).open(&target) {
        Ok(_) => {}
        // A folder on the way that is missing, or a file: said of the folder below.
        Err(e)
            if missing == Missing::Create
                && matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) => {}
        Err(e) => return Err(WriteError::Open(owned(path), e)),
    }
    let mut folder = directory(&target).to_path_buf();
    loop {
        match std::fs::metadata(&folder) {
            Ok(metadata) if metadata.is_dir() => break,
            Ok(_) => {
                return Err(WriteError::CreateDir(
                    folder,
                    io::Error::new(io::ErrorKind::NotADirectory, "a file is in the way"),
                ));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                let above = directory(&folder).to_path_buf();
                if above == folder {
                    return Err(WriteError::CreateDir(folder, e));
                }
                folder = above;
            }
            Err(e) => return Err(WriteError::CreateDir(folder, e)),
        }
    }
    tempfile::Builder::new()
        .prefix(".loadplan-check.")
        .suffix(".tmp")
        .tempfile_in(&folder)
        .map(drop)
        .map_err(|e| WriteError::Temporary(folder, e))
}

/// Set to end every wait for a lock another process holds: a waiting write gives up with
/// [`WriteError::Skipped`], and a later one skips a locked file at once (a file that is not
/// locked is still written). `loadplan run` sets it on SIGINT or SIGTERM once the run is
/// over (`run.rs`), so a document locked by another process cannot hold the exit.
pub static GIVE_UP_WAITING: AtomicBool = AtomicBool::new(false);

/// How often a waiting write tries the lock again and looks at [`GIVE_UP_WAITING`].
const LOCK_RETRY: Duration = Duration::from_millis(20);

/// Takes `file`'s exclusive lock. When another process holds it, says so once on stderr
/// and tries again every [`LOCK_RETRY`] until it is free or `give_up` is set (a blocking
/// `lock()` cannot be given up: a signal handler only sets a flag).
fn wait_for_lock(file: &File, path: &Path, give_up: &AtomicBool) -> Result<(), WriteError> {
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::Error(e)) => return Err(WriteError::Lock(owned(path), e)),
            Err(std::fs::TryLockError::WouldBlock) => {}
        }
        if give_up.load(Ordering::SeqCst) {
            return Err(WriteError::Skipped(owned(path)));
        }
        if !said {
            said = true;
            eprintln!(
                "waiting for the lock on {}: another process is writing it (Ctrl-C ends the wait)",
                path.display()
            );
        }
        std::thread::sleep(LOCK_RETRY);
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

/// `path` with `-n` before its extension (`run.json` → `run-2.json`); `path` itself for 1.
fn numbered(path: &Path, n: u32) -> PathBuf {
    if n == 1 {
        return owned(path);
    }
    let stem = path
        .file_stem()
        .map_or_else(|| "loadplan".into(), |s| s.to_string_lossy());
    let name = match path.extension() {
        Some(extension) => format!("{stem}-{n}.{}", extension.to_string_lossy()),
        None => format!("{stem}-{n}"),
    };
    path.with_file_name(name)
}

/// Writes a new file with the content made by `produce`: at `path` when nothing is there
/// (not even a link), else at the first free `path-2`, `path-3`… (before the extension).
/// The name is taken by a rename that fails when it exists, so two processes never take
/// the same one and no file is ever replaced. Returns the path written.
pub fn create_unique(
    path: &Path,
    produce: impl FnOnce(&mut dyn Write) -> Result<(), Fill>,
) -> Result<PathBuf, WriteError> {
    let dir = directory(path);
    std::fs::create_dir_all(dir).map_err(|e| WriteError::CreateDir(owned(dir), e))?;
    sweep(path);
    let mut temporary = temporary(path, true)?;
    fill(&mut temporary, path, produce)?;
    temporary
        .as_file()
        .sync_all()
        .map_err(|e| WriteError::Write(owned(path), e))?;
    let mut last = owned(path);
    for n in 1..=MAX_SUFFIX {
        last = numbered(path, n);
        match temporary.persist_noclobber(&last) {
            Ok(_) => return Ok(last),
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => temporary = e.file,
            Err(e) => return Err(WriteError::Create(last, e.error)),
        }
    }
    Err(WriteError::Create(
        last,
        io::Error::other(format!("every name up to -{MAX_SUFFIX} is taken")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `check` answers as a write would, and writes nothing.
    #[test]
    fn check_says_whether_a_write_would_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let doc = dir.path().join("doc.md");
        std::fs::write(&doc, "# Doc\n").unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(check(&doc, Missing::Error).is_ok());
        assert!(check(&dir.path().join("new/deeper/run.json"), Missing::Create).is_ok());
        let gone = check(&dir.path().join("gone.md"), Missing::Error).unwrap_err();
        assert!(matches!(gone, WriteError::Open(_, ref e) if e.kind() == io::ErrorKind::NotFound));
        let blocked = check(&file.join("deeper/run.json"), Missing::Create).unwrap_err();
        assert!(
            matches!(blocked, WriteError::CreateDir(ref at, _) if *at == file),
            "{blocked}"
        );
        let folder = check(dir.path(), Missing::Create).unwrap_err();
        assert!(matches!(folder, WriteError::Open(..)), "{folder}");
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["doc.md", "file"], "nothing created");
    }

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
    fn a_given_up_wait_skips_only_a_locked_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.md");
        std::fs::write(&path, "old\n").unwrap();
        let give_up = AtomicBool::new(true);
        let open = || File::options().read(true).write(true).open(&path).unwrap();
        // Free: taken, whatever the flag says.
        let free = open();
        wait_for_lock(&free, &path, &give_up).unwrap();
        // Held through another open file description (as another process would): skipped
        // at once, named, instead of waited for.
        let waiting = open();
        let error = wait_for_lock(&waiting, &path, &give_up).unwrap_err();
        assert!(
            matches!(&error, WriteError::Skipped(p) if *p == path),
            "{error}"
        );
        drop(free);
        wait_for_lock(&waiting, &path, &give_up).unwrap();
    }

    #[test]
    fn temporary_names_are_ours_only_for_their_own_file() {
        for (name, target, ours) in [
            (".doc.md.Ab12Cd.tmp", "doc.md", true),
            (".doc.md.Ab12C.tmp", "doc.md", false),
            (".doc.md.Ab12Cde.tmp", "doc.md", false),
            (".doc.md.Ab-2Cd.tmp", "doc.md", false),
            ("doc.md.Ab12Cd.tmp", "doc.md", false),
            (".doc.md.Ab12Cd.tmp", "doc", false),
            (".doc.md.Ab12Cd.tmp", "md", false),
            (".run-2.json.xY34zW.tmp", "run-2.json", true),
            (".run-2.json.xY34zW.tmp", "run.json", false),
            (".doc.md.Ab12Cd", "doc.md", false),
        ] {
            assert_eq!(is_temporary_of(name, target), ours, "{name} for {target}");
        }
    }

    #[test]
    fn numbered_names_go_before_the_extension() {
        for (path, n, expected) in [
            ("results/run.json", 1, "results/run.json"),
            ("results/run.json", 2, "results/run-2.json"),
            ("run.json", 10, "run-10.json"),
            ("results/run", 3, "results/run-3"),
            ("a.b/x.tar.gz", 2, "a.b/x.tar-2.gz"),
        ] {
            assert_eq!(numbered(Path::new(path), n), Path::new(expected));
        }
    }

    #[cfg(unix)]
    #[test]
    fn links_resolve_from_their_own_directory_and_loops_are_errors() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::fs::create_dir_all(root.join("links/deeper")).unwrap();
        std::fs::write(root.join("real/doc.md"), "").unwrap();
        symlink("../real/doc.md", root.join("links/relative.md")).unwrap();
        symlink(
            root.join("links/relative.md"),
            root.join("links/absolute.md"),
        )
        .unwrap();
        symlink("../absolute.md", root.join("links/deeper/chain.md")).unwrap();
        let real = |p: PathBuf| std::fs::canonicalize(p).unwrap();
        for link in [
            "links/relative.md",
            "links/absolute.md",
            "links/deeper/chain.md",
        ] {
            let target = resolve(&root.join(link)).unwrap();
            assert_eq!(real(target), real(root.join("real/doc.md")), "{link}");
        }
        assert_eq!(
            resolve(&root.join("real/doc.md")).unwrap(),
            root.join("real/doc.md")
        );
        assert_eq!(
            resolve(&root.join("none.md")).unwrap(),
            root.join("none.md")
        );
        symlink("nowhere.md", root.join("dangling.md")).unwrap();
        assert_eq!(
            resolve(&root.join("dangling.md")).unwrap(),
            root.join("nowhere.md")
        );
        symlink("loop-b", root.join("loop-a")).unwrap();
        symlink("loop-a", root.join("loop-b")).unwrap();
        let error = resolve(&root.join("loop-a")).unwrap_err().to_string();
        assert!(error.contains("too many levels"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn a_dangling_link_is_an_error_for_a_document_and_created_for_an_output() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("doc.md");
        std::os::unix::fs::symlink("sub/real.md", &link).unwrap();
        let keep = |old: &str| Ok::<_, Cause>(old.to_owned());
        let error = update(&link, Missing::Error, keep, |_| Ok(())).unwrap_err();
        assert!(
            error.to_string().ends_with("real.md, which does not exist"),
            "{error}"
        );
        replace(&link, "new\n").unwrap();
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("sub/real.md")).unwrap(),
            "new\n"
        );
    }

    /// A leftover temporary file of `target`, `age` old.
    fn leftover(dir: &Path, name: &str, age: Duration) -> PathBuf {
        let path = dir.join(name);
        let file = File::create(&path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
        path
    }

    #[test]
    fn the_next_write_removes_stale_unlocked_temporary_files_of_its_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.md");
        std::fs::write(&path, "old\n").unwrap();
        let old = STALE + Duration::from_secs(60);
        let killed = leftover(dir.path(), ".doc.md.Ab12Cd.tmp", old);
        let young = leftover(dir.path(), ".doc.md.Yo12Ng.tmp", Duration::ZERO);
        let other = leftover(dir.path(), ".other.md.Ab12Cd.tmp", old);
        let alive = leftover(dir.path(), ".doc.md.Li12Ve.tmp", old);
        let held = File::open(&alive).unwrap();
        held.lock().unwrap();
        replace(&path, "new\n").unwrap();
        assert!(!killed.exists(), "a killed writer's file is removed");
        assert!(young.exists() && other.exists() && alive.exists());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        drop(held);
        let results = dir.path().join("run.json");
        let killed = leftover(dir.path(), ".run.json.Ab12Cd.tmp", old);
        create_unique(&results, |w| Ok(w.write_all(b"{}")?)).unwrap();
        assert!(!killed.exists());
    }

    #[test]
    fn create_unique_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/run.json");
        let written: Vec<PathBuf> = (0..3)
            .map(|i| create_unique(&path, |w| Ok(write!(w, "{i}")?)).unwrap())
            .collect();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["run.json", "run-2.json", "run-3.json"]);
        for (i, file) in written.iter().enumerate() {
            assert_eq!(std::fs::read_to_string(file).unwrap(), i.to_string());
        }
        let error = create_unique(&path, |_| Err(Fill::Io(io::Error::other("full"))));
        assert!(error.unwrap_err().to_string().contains("full"));
        let count = std::fs::read_dir(dir.path().join("out")).unwrap().count();
        assert_eq!(count, 3, "a failed write leaves no file");
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

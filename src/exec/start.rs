//! When stage time 0 begins: the run's [`StartGate`], waited out after the run is
//! prepared (the mock started, the templates compiled) and before the collector's clock
//! and the controller start, so that the timelines of segments started together count
//! their seconds from the same instant.
//!
//! - `Now`: at once.
//! - `At(instant)` (`--start-at`): a tokio sleep until the instant; a run ready after it
//!   does not start ([`StartError::Late`], exit 3).
//! - `Barrier` (`--barrier dir:PATH`): each segment writes `ready-I` in the folder (a
//!   temporary file renamed, so nobody reads half a file) holding [`Ready`], then reads
//!   `ready-1` … `ready-N` every [`POLL`] until all are there for the same plan hash, count
//!   and weights. Every segment then computes the same instant from the same files: the
//!   latest `ready_at` plus [`MARGIN`]. A file that is not ours (junk, another plan, too
//!   large, stale) is ignored and named if the wait gives up after the timeout.
//!
//! A stale file, left by a run that crashed, is told by its age: one whose `ready_at` is
//! older than this segment's own wait began minus `--barrier-timeout` cannot belong to a
//! segment still waiting (it would have given up), so it is ignored. A younger one with
//! the same plan hash cannot be told from a live segment: a folder per run (the Job's
//! name) avoids that. A segment removes its own file when its run ends or gives up, so a
//! run that ended normally leaves nothing behind.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{Halt, StartGate};
use crate::segment::Segment;

/// How often the barrier's folder is read, and the longest a wait sleeps before looking
/// at Ctrl-C again.
pub const POLL: Duration = Duration::from_millis(100);

/// What is added to the latest `ready_at` to make the common instant. Every segment must
/// have seen the last ready file before the instant: that takes one [`POLL`] on a local
/// folder, but a shared volume (NFS, a cloud file share) may show a new file a second or so
/// late, and the machines' clocks differ by the NTP error. Two seconds cover those;
/// a segment that still sees the instant pass is late and says so (exit 3).
pub const MARGIN: Duration = Duration::from_secs(2);

/// The most of a ready file read: it holds four short fields, so 4 KiB is generous and a
/// huge file put there by mistake is not read whole.
pub const MAX_READY: u64 = 4096;

/// How the start was agreed, as the segment record says it.
pub fn started_by(gate: &StartGate) -> &'static str {
    match gate {
        StartGate::Now => "own",
        StartGate::At(_) => "start_at",
        StartGate::Barrier { .. } => "barrier",
    }
}

/// A segment's `ready-I` file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ready {
    pub index: u32,
    pub count: u32,
    /// The segment's `--segment-weights`; empty for equal shares.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weights: Vec<u32>,
    pub plan_hash: String,
    /// When the segment was ready (UTC, RFC 3339 with milliseconds).
    pub ready_at: String,
}

/// Why the run did not start.
#[derive(Debug)]
pub enum StartError {
    /// The instant had passed when the run was ready: by `late`.
    Late {
        at: SystemTime,
        late: Duration,
        barrier: bool,
    },
    /// Not every segment reached the barrier within `timeout`: each missing one, with why
    /// its file was ignored when there was one.
    NotReady {
        dir: PathBuf,
        timeout: Duration,
        missing: Vec<(u32, Option<String>)>,
    },
    /// The barrier's folder cannot be made or written.
    Folder {
        dir: PathBuf,
        what: String,
        error: std::io::Error,
    },
    /// Ctrl-C or SIGTERM while waiting.
    Interrupted,
}

impl StartError {
    /// Whether the error is in the command line or the machine (the folder), not a
    /// start that was missed.
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::Folder { .. })
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Late {
                at,
                late,
                barrier: false,
            } => write!(
                f,
                "--start-at {} had passed when the run was ready ({} late)",
                humantime::format_rfc3339_millis(*at),
                seconds(*late)
            ),
            Self::Late {
                at,
                late,
                barrier: true,
            } => write!(
                f,
                "the barrier's start at {} had passed when this segment saw every segment \
                 ready ({} late; are the machines' clocks in sync?)",
                humantime::format_rfc3339_millis(*at),
                seconds(*late)
            ),
            Self::NotReady {
                dir,
                timeout,
                missing,
            } => {
                let indexes: Vec<String> = missing.iter().map(|(i, _)| i.to_string()).collect();
                write!(
                    f,
                    "--barrier dir:{}: segment{} {} {} not ready within {}",
                    dir.display(),
                    if missing.len() == 1 { "" } else { "s" },
                    join_and(&indexes),
                    if missing.len() == 1 { "was" } else { "were" },
                    humantime::format_duration(*timeout)
                )?;
                let ignored: Vec<String> = missing
                    .iter()
                    .filter_map(|(i, why)| why.as_ref().map(|why| format!("ready-{i}: {why}")))
                    .collect();
                if !ignored.is_empty() {
                    write!(f, " (ignored {})", ignored.join("; "))?;
                }
                Ok(())
            }
            Self::Folder { dir, what, error } => {
                write!(f, "--barrier dir:{}: cannot {what}: {error}", dir.display())
            }
            Self::Interrupted => f.write_str("interrupted while waiting for the start"),
        }
    }
}

impl std::error::Error for StartError {}

/// `1.500s` under a minute; past it, whole seconds as humantime writes them (`2h 5m 3s`).
fn seconds(duration: Duration) -> String {
    if duration < Duration::from_secs(60) {
        format!("{:.3}s", duration.as_secs_f64())
    } else {
        humantime::format_duration(Duration::from_secs(duration.as_secs())).to_string()
    }
}

/// `1`, `1 and 2`, `1, 2 and 3`.
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The time kept before the agreed instant, when the plan has `collect:` sources, for
/// their first sample (the reading before the load). A scrape takes milliseconds; a
/// source slower than this holds stage time 0 back by what it takes past it (at most the
/// sampler's `READY_WAIT`, 2 s). Not more, because the sources go on sampling through the
/// lead, and their rates count it.
pub const LEAD: Duration = Duration::from_millis(500);

/// Waits until `lead` before the gate opens; returns the agreed instant (`At`, `Barrier`),
/// which the caller then waits for with [`sleep_until`], or `None` (`Now`): at once. `say`
/// prints what the wait is for (off with `--quiet`).
pub async fn wait(
    gate: &StartGate,
    segment: &Segment,
    halt: &Halt,
    say: bool,
    lead: Duration,
) -> Result<Option<SystemTime>, StartError> {
    match gate {
        StartGate::Now => Ok(None),
        StartGate::At(at) => {
            let now = SystemTime::now();
            if let Ok(late) = now.duration_since(*at)
                && !late.is_zero()
            {
                return Err(StartError::Late {
                    at: *at,
                    late,
                    barrier: false,
                });
            }
            if say {
                eprintln!(
                    "waiting for the start at {} (in {})",
                    humantime::format_rfc3339_millis(*at),
                    seconds(at.duration_since(now).unwrap_or_default())
                );
            }
            sleep_until(at.checked_sub(lead).unwrap_or(*at), halt).await?;
            Ok(Some(*at))
        }
        StartGate::Barrier {
            dir,
            timeout,
            plan_hash,
        } => {
            let barrier = Barrier {
                dir,
                segment,
                plan_hash,
                timeout: *timeout,
            };
            barrier.wait(halt, say, lead).await.map(Some)
        }
    }
}

/// Removes this segment's ready file once its run is over or did not start, so that a
/// later run in the same folder does not find it, nor a segment arriving after this one
/// gave up.
pub fn leave(gate: &StartGate, segment: &Segment) {
    if let StartGate::Barrier { dir, .. } = gate {
        let _ = std::fs::remove_file(dir.join(format!("ready-{}", segment.index)));
    }
}

/// Sleeps until the wall clock reads `at`, looking at Ctrl-C every [`POLL`]; never returns
/// before `at` (a tokio sleep is measured on the monotonic clock, so the wall clock is
/// read again after it).
pub async fn sleep_until(at: SystemTime, halt: &Halt) -> Result<(), StartError> {
    loop {
        if halt.stopping() {
            return Err(StartError::Interrupted);
        }
        let Ok(left) = at.duration_since(SystemTime::now()) else {
            return Ok(());
        };
        if left.is_zero() {
            return Ok(());
        }
        tokio::time::sleep(left.min(POLL)).await;
    }
}

struct Barrier<'a> {
    dir: &'a Path,
    segment: &'a Segment,
    plan_hash: &'a str,
    timeout: Duration,
}

impl Barrier<'_> {
    fn file(&self, index: u32) -> PathBuf {
        self.dir.join(format!("ready-{index}"))
    }

    async fn wait(&self, halt: &Halt, say: bool, lead: Duration) -> Result<SystemTime, StartError> {
        let began = SystemTime::now();
        let clock = tokio::time::Instant::now();
        self.write_own()?;
        if say {
            eprintln!(
                "ready-{} written in {}; waiting for {} segments (at most {})",
                self.segment.index,
                self.dir.display(),
                self.segment.count,
                humantime::format_duration(self.timeout)
            );
        }
        let oldest = began.checked_sub(self.timeout).unwrap_or(began);
        loop {
            if halt.stopping() {
                return Err(StartError::Interrupted);
            }
            match self.look(oldest) {
                Ok(latest) => {
                    let at = latest + MARGIN;
                    let now = SystemTime::now();
                    if let Ok(late) = now.duration_since(at)
                        && !late.is_zero()
                    {
                        return Err(StartError::Late {
                            at,
                            late,
                            barrier: true,
                        });
                    }
                    if say {
                        eprintln!(
                            "all {} segments ready; starting at {}",
                            self.segment.count,
                            humantime::format_rfc3339_millis(at)
                        );
                    }
                    sleep_until(at.checked_sub(lead).unwrap_or(at), halt).await?;
                    return Ok(at);
                }
                Err(missing) if clock.elapsed() >= self.timeout => {
                    return Err(StartError::NotReady {
                        dir: self.dir.to_path_buf(),
                        timeout: self.timeout,
                        missing,
                    });
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Writes `ready-I` whole: a temporary file in the same folder, renamed over it.
    fn write_own(&self) -> Result<(), StartError> {
        let folder = |what: String| {
            move |error| StartError::Folder {
                dir: self.dir.to_path_buf(),
                what,
                error,
            }
        };
        std::fs::create_dir_all(self.dir).map_err(folder("create the folder".into()))?;
        let ready = Ready {
            index: self.segment.index,
            count: self.segment.count,
            weights: self.segment.weights.clone(),
            plan_hash: self.plan_hash.to_owned(),
            ready_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        };
        let name = format!("ready-{}", self.segment.index);
        let temporary = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let text = serde_json::to_string(&ready).unwrap_or_default();
        let written = std::fs::File::create(&temporary).and_then(|mut file| {
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
        });
        if let Err(error) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(folder(format!("write {}", temporary.display()))(error));
        }
        std::fs::rename(&temporary, self.file(self.segment.index)).map_err(|error| {
            let _ = std::fs::remove_file(&temporary);
            folder(format!("rename {} to {name}", temporary.display()))(error)
        })
    }

    /// The latest `ready_at` when every segment is ready; otherwise the segments that are
    /// not, each with why its file was ignored (none: there is no file).
    fn look(&self, oldest: SystemTime) -> Result<SystemTime, Vec<(u32, Option<String>)>> {
        let mut latest = SystemTime::UNIX_EPOCH;
        let mut missing = Vec::new();
        for index in 1..=self.segment.count {
            match self.read(index, oldest) {
                Ok(at) => latest = latest.max(at),
                Err(why) => missing.push((index, why)),
            }
        }
        if missing.is_empty() {
            Ok(latest)
        } else {
            Err(missing)
        }
    }

    /// Segment `index`'s `ready_at`, when its file is there and is one of this run's.
    fn read(&self, index: u32, oldest: SystemTime) -> Result<SystemTime, Option<String>> {
        let path = self.file(index);
        let text = match crate::plan::source::read_capped(&path, MAX_READY, "ready file") {
            Ok(text) => text,
            Err(crate::plan::source::ReadError::Io { error, .. })
                if error.kind() == std::io::ErrorKind::NotFound =>
            {
                return Err(None);
            }
            Err(crate::plan::source::ReadError::TooLarge { .. }) => {
                return Err(Some(format!(
                    "larger than {} KiB, not read past that",
                    MAX_READY >> 10
                )));
            }
            Err(error) => return Err(Some(error.to_string())),
        };
        let ready: Ready = serde_json::from_str(&text)
            .map_err(|error| Some(format!("not a ready file ({error})")))?;
        if ready.index != index {
            return Err(Some(format!("says it is segment {}", ready.index)));
        }
        if ready.count != self.segment.count {
            return Err(Some(format!(
                "for {} segments, not {}",
                ready.count, self.segment.count
            )));
        }
        if ready.weights != self.segment.weights {
            return Err(Some("for other --segment-weights".to_owned()));
        }
        if ready.plan_hash != self.plan_hash {
            return Err(Some(format!(
                "for another plan or selection ({})",
                short(&ready.plan_hash)
            )));
        }
        let at = humantime::parse_rfc3339_weak(&ready.ready_at)
            .map_err(|error| Some(format!("ready_at is not an instant ({error})")))?;
        if at < oldest {
            return Err(Some(format!(
                "stale: ready at {}, before this wait began minus --barrier-timeout",
                ready.ready_at
            )));
        }
        Ok(at)
    }
}

/// A hash as shown in a message: its first 12 hex digits (a junk one cut short too).
fn short(hash: &str) -> String {
    let cut: String = hash.chars().take(7 + 12).collect();
    if cut.len() < hash.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).expect("a test instant")
    }

    #[test]
    fn started_by_names_the_gate() {
        assert_eq!(started_by(&StartGate::Now), "own");
        assert_eq!(
            started_by(&StartGate::At(SystemTime::UNIX_EPOCH)),
            "start_at"
        );
        let barrier = StartGate::Barrier {
            dir: PathBuf::from("x"),
            timeout: Duration::from_secs(1),
            plan_hash: String::new(),
        };
        assert_eq!(started_by(&barrier), "barrier");
    }

    /// A barrier of segment `index` of `count` in `dir`, for plan hash `sha256:aa`.
    fn barrier<'a>(dir: &'a Path, segment: &'a Segment) -> Barrier<'a> {
        Barrier {
            dir,
            segment,
            plan_hash: "sha256:aa",
            timeout: Duration::from_secs(60),
        }
    }

    fn ready(index: u32, count: u32, hash: &str, ready_at: &str) -> String {
        serde_json::to_string(&Ready {
            index,
            count,
            weights: Vec::new(),
            plan_hash: hash.to_owned(),
            ready_at: ready_at.to_owned(),
        })
        .expect("a ready file serialises")
    }

    #[test]
    fn the_common_instant_is_the_latest_ready_time_plus_the_margin() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let segment = Segment::new(1, 3, Vec::new()).expect("a segment");
        let barrier = barrier(dir.path(), &segment);
        barrier.write_own().expect("ready-1 is written");
        let own: Ready = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("ready-1")).expect("ready-1"),
        )
        .expect("ready-1 is a ready file");
        assert_eq!(
            (own.index, own.count, own.plan_hash.as_str()),
            (1, 3, "sha256:aa")
        );
        let oldest = at("2026-01-01T00:00:00Z");
        assert_eq!(barrier.look(oldest), Err(vec![(2, None), (3, None)]));
        std::fs::write(
            dir.path().join("ready-2"),
            ready(2, 3, "sha256:aa", "2099-01-01T00:00:01.500Z"),
        )
        .expect("ready-2");
        std::fs::write(
            dir.path().join("ready-3"),
            ready(3, 3, "sha256:aa", "2099-01-01T00:00:00Z"),
        )
        .expect("ready-3");
        assert_eq!(barrier.look(oldest), Ok(at("2099-01-01T00:00:01.500Z")));
        // No temporary file is left beside them.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("the folder")
            .map(|entry| {
                entry
                    .expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }

    #[test]
    fn files_that_are_not_this_runs_are_ignored_and_named() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let segment = Segment::new(1, 2, Vec::new()).expect("a segment");
        let barrier = barrier(dir.path(), &segment);
        barrier.write_own().expect("ready-1 is written");
        let oldest = at("2026-01-01T00:00:00Z");
        let ready_2 = dir.path().join("ready-2");
        let cases: [(Vec<u8>, &str); 8] = [
            (b"\x00\xffjunk".to_vec(), "not UTF-8"),
            (b"{ not json".to_vec(), "not a ready file"),
            (vec![b' '; 1 << 20], "larger than"),
            (
                ready(2, 2, "sha256:bb", "2099-01-01T00:00:00Z").into_bytes(),
                "for another plan or selection (sha256:bb)",
            ),
            (
                ready(3, 2, "sha256:aa", "2099-01-01T00:00:00Z").into_bytes(),
                "says it is segment 3",
            ),
            (
                ready(2, 3, "sha256:aa", "2099-01-01T00:00:00Z").into_bytes(),
                "for 3 segments, not 2",
            ),
            (
                ready(2, 2, "sha256:aa", "yesterday").into_bytes(),
                "ready_at is not an instant",
            ),
            (
                ready(2, 2, "sha256:aa", "2025-12-31T23:59:59Z").into_bytes(),
                "stale: ready at 2025-12-31T23:59:59Z",
            ),
        ];
        for (content, why) in cases {
            std::fs::write(&ready_2, &content).expect("ready-2");
            match barrier.look(oldest) {
                Err(missing) => {
                    let [(2, Some(said))] = missing.as_slice() else {
                        panic!("{why}: {missing:?}");
                    };
                    assert!(said.contains(why), "{why}: {said}");
                }
                Ok(at) => panic!("{why}: opened at {at:?}"),
            }
        }
        let weighted = Segment::new(1, 2, vec![2, 1]).expect("a segment");
        std::fs::write(&ready_2, ready(2, 2, "sha256:aa", "2099-01-01T00:00:00Z"))
            .expect("ready-2");
        let other = Barrier {
            segment: &weighted,
            ..barrier
        };
        assert_eq!(
            other.look(oldest),
            Err(vec![
                (1, Some("for other --segment-weights".to_owned())),
                (2, Some("for other --segment-weights".to_owned()))
            ])
        );
    }

    #[test]
    fn a_folder_that_cannot_be_made_is_said() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").expect("a file");
        let segment = Segment::new(1, 2, Vec::new()).expect("a segment");
        let barrier = barrier(&file, &segment);
        let error = barrier.write_own().expect_err("a file is no folder");
        assert!(error.is_usage());
        assert!(
            error.to_string().starts_with(&format!(
                "--barrier dir:{}: cannot create the folder:",
                file.display()
            )),
            "{error}"
        );
    }

    #[test]
    fn messages() {
        let not_ready = StartError::NotReady {
            dir: PathBuf::from("/shared/run-7"),
            timeout: Duration::from_secs(2),
            missing: vec![
                (2, None),
                (3, Some("for another plan or selection (sha256:bb)".into())),
            ],
        };
        assert_eq!(
            not_ready.to_string(),
            "--barrier dir:/shared/run-7: segments 2 and 3 were not ready within 2s (ignored \
             ready-3: for another plan or selection (sha256:bb))"
        );
        let one = StartError::NotReady {
            dir: PathBuf::from("b"),
            timeout: Duration::from_secs(600),
            missing: vec![(2, None)],
        };
        assert_eq!(
            one.to_string(),
            "--barrier dir:b: segment 2 was not ready within 10m"
        );
        let late = StartError::Late {
            at: at("2026-12-02T18:00:00Z"),
            late: Duration::from_millis(1500),
            barrier: false,
        };
        assert_eq!(
            late.to_string(),
            "--start-at 2026-12-02T18:00:00.000Z had passed when the run was ready (1.500s late)"
        );
        assert!(!late.is_usage());
        assert_eq!(seconds(Duration::from_secs(7503)), "2h 5m 3s");
        assert_eq!(short("sha256:0123456789abcdef"), "sha256:0123456789ab…");
        assert_eq!(
            join_and(&["1".into(), "2".into(), "3".into()]),
            "1, 2 and 3"
        );
    }

    #[tokio::test]
    async fn a_passed_instant_is_late_and_a_near_one_is_waited_for() {
        let halt = Halt::default();
        let whole = Segment::whole();
        let past = SystemTime::now() - Duration::from_secs(5);
        match wait(&StartGate::At(past), &whole, &halt, false, LEAD).await {
            Err(StartError::Late { late, .. }) => assert!(late >= Duration::from_secs(5)),
            other => panic!("{other:?}"),
        }
        let soon = SystemTime::now() + Duration::from_millis(50);
        let opened = wait(&StartGate::At(soon), &whole, &halt, false, Duration::ZERO).await;
        assert_eq!(opened.ok(), Some(Some(soon)));
        assert!(SystemTime::now() >= soon);
        let early = SystemTime::now() + Duration::from_secs(3600);
        let led = wait(
            &StartGate::At(early),
            &whole,
            &halt,
            false,
            Duration::from_secs(3600),
        )
        .await;
        assert_eq!(
            led.ok(),
            Some(Some(early)),
            "returned at once: the lead is the whole wait"
        );
        assert!(SystemTime::now() < early);
        sleep_until(SystemTime::now() + Duration::from_millis(20), &halt)
            .await
            .expect("no signal");
        halt.interrupt("SIGINT");
        let later = SystemTime::now() + Duration::from_secs(3600);
        assert!(matches!(
            wait(&StartGate::At(later), &whole, &halt, false, LEAD).await,
            Err(StartError::Interrupted)
        ));
        assert!(matches!(
            sleep_until(later, &halt).await,
            Err(StartError::Interrupted)
        ));
    }
}

//! A local process's CPU, memory, threads and open files, read from /proc (Linux).
//!
//! Read directly rather than through `procfs` or `sysinfo`: four small files and a
//! directory listing, no dependency (sysinfo 0.40 also needs a newer Rust than ours).
//! CPU time in /proc is in clock ticks of `USER_HZ`, which Linux fixes at 100 for user
//! space on every architecture; RSS comes from `VmRSS` in /proc/PID/status (kB), so the
//! page size does not matter.
//!
//! `read`, `pid_from_file` and `find` do the I/O (blocking; the sampler calls them on the
//! blocking pool); `reading` turns two looks into a sample and is pure. The metric names
//! are `plan::metric::PROCESS_METRICS`, so the analyzer knows them without this file.

use std::fmt;

use super::reading::{Reading, Value};

/// Clock ticks per second of /proc/PID/stat's CPU times (`USER_HZ`).
const TICKS_PER_SECOND: f64 = 100.0;

/// One look at a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// User plus system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    pub rss_bytes: u64,
    pub threads: u64,
    /// Entries of /proc/PID/fd; `None` when not readable (another user's process).
    pub open_fds: Option<u64>,
    /// When the process started, in clock ticks after boot.
    pub started: u64,
}

/// Why a process could not be found or read.
#[derive(Debug)]
pub enum ProcError {
    /// /proc has no such pid (it exited, or never was).
    NoSuchProcess { pid: u32 },
    /// /proc/PID/stat or /proc/PID/status could not be read.
    Read { pid: u32, error: std::io::Error },
    /// /proc/PID/stat does not have the fields it should.
    UnreadableStat { pid: u32 },
    /// A `pid_file` could not be read.
    PidFile { path: String, error: std::io::Error },
    /// A `pid_file` holds something other than a pid (`text`, trimmed).
    NotAPid { path: String, text: String },
    /// /proc itself could not be listed.
    ListProc(std::io::Error),
    /// No process has this command name.
    NoProcessNamed { name: String },
}

impl fmt::Display for ProcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchProcess { pid } => write!(f, "process {pid}: no such process"),
            Self::Read { pid, error } => write!(f, "process {pid}: {error}"),
            Self::UnreadableStat { pid } => write!(f, "process {pid}: unreadable /proc/{pid}/stat"),
            Self::PidFile { path, error } => write!(f, "pid file {path}: {error}"),
            Self::NotAPid { path, text } => write!(f, "pid file {path} holds {text:?}, not a pid"),
            Self::ListProc(error) => write!(f, "/proc: {error}"),
            Self::NoProcessNamed { name } => write!(f, "no process is named `{name}`"),
        }
    }
}

// No `source()`: the message already ends with the cause's, and a chain printer would
// repeat it. The cause is a field of the variant.
impl std::error::Error for ProcError {}

/// Reads `pid`'s figures.
pub fn read(pid: u32) -> Result<Stat, ProcError> {
    let dir = format!("/proc/{pid}");
    let failed = |error: std::io::Error| match error.kind() {
        std::io::ErrorKind::NotFound => ProcError::NoSuchProcess { pid },
        _ => ProcError::Read { pid, error },
    };
    let stat = std::fs::read_to_string(format!("{dir}/stat")).map_err(failed)?;
    let (cpu_ticks, threads, started) =
        parse_stat(&stat).ok_or(ProcError::UnreadableStat { pid })?;
    let status = std::fs::read_to_string(format!("{dir}/status")).map_err(failed)?;
    let rss_bytes = parse_rss(&status).unwrap_or(0);
    let open_fds = std::fs::read_dir(format!("{dir}/fd"))
        .ok()
        .map(|entries| entries.count() as u64);
    Ok(Stat {
        cpu_ticks,
        rss_bytes,
        threads,
        open_fds,
        started,
    })
}

/// `(utime + stime, num_threads, starttime)` from /proc/PID/stat. The command name in
/// parentheses may hold spaces and parentheses, so fields are counted after the last `)`.
fn parse_stat(text: &str) -> Option<(u64, u64, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field N is at index N - 3.
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some((field(14)? + field(15)?, field(20)?, field(22)?))
}

fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The pid written in `path`.
pub fn pid_from_file(path: &str) -> Result<u32, ProcError> {
    let text = std::fs::read_to_string(path).map_err(|error| ProcError::PidFile {
        path: path.to_owned(),
        error,
    })?;
    text.trim().parse().map_err(|_| ProcError::NotAPid {
        path: path.to_owned(),
        text: text.trim().to_owned(),
    })
}

/// The process whose /proc/PID/comm is `name`: loadplan itself when it matches (with
/// `mock: true` the server runs inside loadplan), otherwise the oldest match.
pub fn find(name: &str) -> Result<u32, ProcError> {
    let own = std::process::id();
    let entries = std::fs::read_dir("/proc").map_err(ProcError::ListProc)?;
    let mut best: Option<(u64, u32)> = None;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(comm) = std::fs::read_to_string(entry.path().join("comm")) else {
            continue;
        };
        if comm.trim_end_matches('\n') != name {
            continue;
        }
        if pid == own {
            return Ok(pid);
        }
        let started = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|s| parse_stat(&s))
            .map_or(u64::MAX, |(_, _, started)| started);
        if best.is_none_or(|(oldest, _)| started < oldest) {
            best = Some((started, pid));
        }
    }
    best.map(|(_, pid)| pid)
        .ok_or_else(|| ProcError::NoProcessNamed {
            name: name.to_owned(),
        })
}

/// The shortest interval a CPU percentage is computed over: /proc counts CPU time in 10 ms
/// ticks, so over half a second a reading is within 2 points (one tick at each end).
pub const MIN_CPU_INTERVAL: f64 = 0.5;

/// The reading of one look, given the previous look (`at` in seconds) for the CPU
/// percentage: CPU time over wall time, per core (two busy cores are 200%).
pub fn reading(previous: Option<(f64, Stat)>, at: f64, stat: &Stat) -> Reading {
    let mut reading = vec![
        (
            "cpu_seconds_total".to_owned(),
            Value::Counter(stat.cpu_ticks as f64 / TICKS_PER_SECOND),
        ),
        ("rss_bytes".to_owned(), Value::Gauge(stat.rss_bytes as f64)),
        ("threads".to_owned(), Value::Gauge(stat.threads as f64)),
    ];
    if let Some(fds) = stat.open_fds {
        reading.push(("open_fds".to_owned(), Value::Gauge(fds as f64)));
    }
    if let Some((then, before)) = previous
        && at - then >= MIN_CPU_INTERVAL
        && before.started == stat.started
    {
        let busy = stat.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / TICKS_PER_SECOND;
        reading.insert(
            0,
            (
                "cpu_percent".to_owned(),
                Value::Gauge(busy / (at - then) * 100.0),
            ),
        );
    }
    reading
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let stat = "4242 (my (odd) app) S 1 4242 4242 0 -1 4194560 500 0 0 0 150 50 0 0 20 0 7 0 123456 1000000 2000 18446744073709551615";
        assert_eq!(parse_stat(stat), Some((200, 7, 123456)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(
            parse_rss("Name:\tx\nVmRSS:\t  2048 kB\n"),
            Some(2 * 1024 * 1024)
        );
    }

    #[test]
    fn reads_this_process_and_computes_cpu_percent() {
        let pid = std::process::id();
        let stat = read(pid).unwrap();
        assert!(stat.rss_bytes > 1024 * 1024, "{stat:?}");
        assert!(stat.threads >= 1);
        assert!(stat.open_fds.unwrap_or(0) >= 3);
        let later = Stat {
            cpu_ticks: stat.cpu_ticks + 50,
            ..stat
        };
        let reading = reading(Some((1.0, stat)), 2.0, &later);
        assert_eq!(reading[0], ("cpu_percent".into(), Value::Gauge(50.0)));
        assert_eq!(reading.len(), 5);
        // Two ticks in 17 ms would read 118%: too short an interval gives no percentage.
        let soon = Stat {
            cpu_ticks: stat.cpu_ticks + 2,
            ..stat
        };
        let reading = super::reading(Some((1.0, stat)), 1.017, &soon);
        assert!(reading.iter().all(|(name, _)| name != "cpu_percent"));
        assert!(
            read(u32::MAX)
                .unwrap_err()
                .to_string()
                .contains("no such process")
        );
    }

    #[test]
    fn errors_keep_their_messages() {
        assert!(matches!(
            read(u32::MAX),
            Err(ProcError::NoSuchProcess { pid: u32::MAX })
        ));
        let missing = "/nonexistent/loadplan.pid";
        let error = pid_from_file(missing).unwrap_err();
        assert!(matches!(&error, ProcError::PidFile { path, .. } if path == missing));
        assert!(
            error
                .to_string()
                .starts_with("pid file /nonexistent/loadplan.pid: ")
        );
        let cases = [
            (
                ProcError::NotAPid {
                    path: "app.pid".into(),
                    text: "x".into(),
                },
                "pid file app.pid holds \"x\", not a pid",
            ),
            (
                ProcError::UnreadableStat { pid: 7 },
                "process 7: unreadable /proc/7/stat",
            ),
            (
                ProcError::NoProcessNamed {
                    name: "nats".into(),
                },
                "no process is named `nats`",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn a_full_reading_has_the_plans_process_metrics_in_order() {
        let stat = Stat {
            cpu_ticks: 100,
            rss_bytes: 4096,
            threads: 2,
            open_fds: Some(5),
            started: 1,
        };
        let later = Stat {
            cpu_ticks: 150,
            ..stat
        };
        let names: Vec<String> = reading(Some((1.0, stat)), 2.0, &later)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, crate::plan::metric::PROCESS_METRICS);
    }
}

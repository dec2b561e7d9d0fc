//! Shared helpers: run the real binary, compare against golden files.

pub mod browser;
pub mod dashboard;
pub mod prometheus;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (tests run with it as the working directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What one run of the binary printed and returned.
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The loadplan binary as a command, run in the repository root, with no environment or
/// stage picked from the test's own environment.
pub fn loadplan_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_loadplan"));
    command
        .current_dir(root())
        .env_remove("LOADPLAN_ENV")
        .env_remove("LOADPLAN_STAGE");
    command
}

/// Waits for `child` to exit; kills it and fails naming `what` after [`PATIENCE`] (a
/// guard against hangs, never a measure of speed).
pub fn exit_within_patience(
    child: &mut std::process::Child,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            return status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {PATIENCE:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Runs `loadplan ARGS...` in the repository root.
pub fn loadplan(args: &[&str]) -> Output {
    output_of(loadplan_command().args(args))
}

/// Runs `loadplan ARGS...` with `dir` as its working directory.
pub fn loadplan_in(dir: &Path, args: &[&str]) -> Output {
    output_of(loadplan_command().current_dir(dir).args(args))
}

/// Runs `command` to its end: its exit code (-1 for a signal) and what it printed.
pub fn output_of(command: &mut Command) -> Output {
    let output = command.output().expect("the loadplan binary runs");
    Output {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Compares `actual` with the golden file at `path`; with `UPDATE_GOLDEN=1`, rewrites it.
pub fn golden(path: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, actual).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    })?;
    if expected == actual {
        Ok(())
    } else {
        Err(format!(
            "{} differs (UPDATE_GOLDEN=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        ))
    }
}

/// The `.yaml` files directly in `dir` (relative to the root), sorted.
pub fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

/// `path` relative to the root, as the binary is given it.
pub fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Longest a test waits for something it expects (a line, a file, an exit): a guard against
/// hangs, never a measure of speed.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

/// Polls `done` every 10 ms until it holds; fails naming `what` after [`PATIENCE`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "waited {PATIENCE:?} for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Whether process `pid` has ended: no /proc entry, or a zombie (a child that loadplan
/// killed is reparented to init, which in a container may never reap it).
pub fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            == Some("Z")
    })
}

/// The process ids written one a line to `file` so far.
pub fn pids_in(file: &Path) -> Vec<u32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

/// Sends `signal` (`INT`, `TERM`, …) to `pid` with kill(1).
pub fn signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill -{signal} {pid}");
}

/// A `loadplan run` in the background (its summary discarded), its stderr read line by
/// line so a test can wait for what it says.
pub struct Background {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// Stderr read so far.
    pub stderr: String,
    /// Where `--out json=` writes.
    pub results: PathBuf,
}

impl Background {
    /// Writes `plan` into `dir` and starts `loadplan run` on it.
    pub fn start(plan: &str, dir: &Path) -> Self {
        let file = dir.join("plan.yaml");
        std::fs::write(&file, plan).expect("the plan is written");
        Self::run(&file, dir.join("results.json"), &[])
    }

    /// Starts `loadplan run PLAN --out json=RESULTS ARGS...`.
    pub fn run(plan: &Path, results: PathBuf, args: &[&str]) -> Self {
        let mut child = loadplan_command()
            .arg("run")
            .arg(plan)
            .arg("--out")
            .arg(format!("json={}", results.display()))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("loadplan starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
                let Ok(line) = line else { return };
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            lines,
            stderr: String::new(),
            results,
        }
    }

    /// Waits for a line of stderr containing `needle`.
    pub fn wait_for_line(&mut self, needle: &str) {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stderr.push_str(&line);
                    self.stderr.push('\n');
                    if line.contains(needle) {
                        return;
                    }
                }
                Err(_) => panic!("no `{needle}` on stderr:\n{}", self.stderr),
            }
        }
    }

    /// Sends `signal` (`INT`, `TERM`) to loadplan.
    pub fn signal(&self, name: &str) {
        signal(self.child.id(), name);
    }

    /// Waits for loadplan to exit (killing it and failing after [`PATIENCE`]); its exit
    /// code and the whole of its stderr.
    pub fn wait(mut self) -> (i32, String) {
        let what = format!("loadplan (stderr so far:\n{})", self.stderr);
        let status = exit_within_patience(&mut self.child, &what);
        // The reader thread ends at EOF, once loadplan (and anything holding its stderr)
        // is gone.
        while let Ok(line) = self.lines.recv_timeout(PATIENCE) {
            self.stderr.push_str(&line);
            self.stderr.push('\n');
        }
        (status.code().unwrap_or(-1), self.stderr)
    }
}

/// `GET url` (plain `http://host:port/path`) as JSON, over a connection of its own that
/// the server closes; `Value::Null` when it cannot be had. For reading the mock's `/stats`.
pub fn get_json(url: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else {
        return serde_json::Value::Null;
    };
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let Ok(mut stream) = std::net::TcpStream::connect(host) else {
        return serde_json::Value::Null;
    };
    let _ = stream.set_read_timeout(Some(PATIENCE));
    let request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
    let mut response = Vec::new();
    if stream.write_all(request.as_bytes()).is_err() || stream.read_to_end(&mut response).is_err() {
        return serde_json::Value::Null;
    }
    let body = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(&[][..], |at| &response[at + 4..]);
    serde_json::from_slice(body).unwrap_or(serde_json::Value::Null)
}

/// HTTP requests the mock at `base_url` has answered, from its `/stats` (0 when it cannot
/// be read).
pub fn mock_requests(base_url: &str) -> u64 {
    get_json(&format!("{base_url}/stats"))["http_requests_total"]
        .as_u64()
        .unwrap_or(0)
}

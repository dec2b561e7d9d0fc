//! A real Prometheus for tests: Debian's `prometheus` started on a free port of 127.0.0.1
//! with a temporary data directory, the remote-write receiver and native histograms on,
//! stopped (by its own PID) when the handle drops. Talks HTTP/1.0 over a `TcpStream`: one
//! request per connection, the body ends when the server closes it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long Prometheus may take to be ready (it replays an empty WAL: a second or two,
/// longer on a busy machine): a guard against hangs, not a measure of speed.
const READY_PATIENCE: Duration = Duration::from_secs(60);

/// The binary: `LOADPLAN_PROMETHEUS` or `prometheus` on the PATH.
fn binary() -> PathBuf {
    std::env::var_os("LOADPLAN_PROMETHEUS")
        .map_or_else(|| PathBuf::from("prometheus"), PathBuf::from)
}

pub struct Prometheus {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub address: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus and waits until `/-/ready` answers 200.
    pub fn start() -> Self {
        Self::start_binary(&binary())
    }

    /// [`Self::start`] with the binary at `binary`; fails saying how to install it when
    /// it does not run.
    pub fn start_binary(binary: &std::path::Path) -> Self {
        let version = Command::new(binary).arg("--version").output();
        if !version.is_ok_and(|output| output.status.success()) {
            panic!(
                "`{}` does not run: these tests need a real Prometheus \
                 (`apt-get install prometheus`, as .ci/run does)",
                binary.display()
            );
        }
        // A port free a moment ago may be taken before Prometheus binds it (tests run in
        // parallel): then it exits saying so, and another port is tried.
        for attempt in 1.. {
            let mut prometheus = Self::launch(binary);
            match prometheus.wait_ready() {
                Ok(()) => return prometheus,
                Err(why) if why.contains("address already in use") && attempt < 3 => {}
                Err(why) => panic!("{why}"),
            }
        }
        unreachable!("the loop returns or fails")
    }

    /// Prometheus started on a port that was free a moment ago.
    fn launch(binary: &std::path::Path) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1h\n").expect("the config");
        let log = dir.path().join("prometheus.log");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let address = format!("127.0.0.1:{port}");
        let log_file = std::fs::File::create(&log).expect("the log file");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .arg("--web.enable-remote-write-receiver")
            .arg("--enable-feature=native-histograms")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("the log file"))
            .stderr(log_file)
            .spawn()
            .expect("prometheus starts");
        Self {
            child,
            address,
            log,
            _dir: dir,
        }
    }

    /// Waits for `/-/ready` to answer 200; why not, with the log, if Prometheus exits
    /// first or takes longer than [`READY_PATIENCE`].
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_PATIENCE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "prometheus exited ({status}) before it was ready:\n{}",
                    self.log()
                ));
            }
            if self.get("/-/ready").is_ok_and(|(status, _)| status == 200) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "prometheus was not ready within {READY_PATIENCE:?}:\n{}",
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What Prometheus logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `POST /api/v1/write` of a remote-write body: the status and the answer.
    pub fn write(&self, body: &[u8]) -> (u16, String) {
        self.request(
            "POST",
            "/api/v1/write",
            &[
                ("Content-Type", "application/x-protobuf"),
                ("Content-Encoding", "snappy"),
                ("X-Prometheus-Remote-Write-Version", "0.1.0"),
            ],
            body,
        )
        .unwrap_or_else(|e| panic!("POST /api/v1/write: {e}"))
    }

    /// The `data.result` of an instant query of `expr` at the server's now; fails on
    /// anything but a successful answer.
    pub fn query(&self, expr: &str) -> serde_json::Value {
        let path = format!("/api/v1/query?query={}", encode(expr));
        let (status, body) = self
            .get(&path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let answer: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("`{expr}`: not JSON ({e}): {body}"));
        assert!(
            status == 200 && answer["status"] == "success",
            "`{expr}`: {status} {body}"
        );
        answer["data"]["result"].clone()
    }

    /// The value of a query that answers one float sample.
    pub fn scalar(&self, expr: &str) -> f64 {
        let result = self.query(expr);
        let value = result[0]["value"][1]
            .as_str()
            .unwrap_or_else(|| panic!("`{expr}` has no single value: {result}"));
        value
            .parse()
            .unwrap_or_else(|e| panic!("`{expr}`: {value}: {e}"))
    }

    fn get(&self, path: &str) -> std::io::Result<(u16, String)> {
        self.request("GET", path, &[], b"")
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(&self.address)?;
        stream.set_read_timeout(Some(READY_PATIENCE))?;
        let mut head = format!(
            "{method} {path} HTTP/1.0\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.address,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {head}")))?;
        Ok((status, body.to_owned()))
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        // Our own child, by its handle (its PID): nothing else is touched.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `text` percent-encoded for a query string (everything but unreserved characters).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

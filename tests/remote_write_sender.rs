//! Sending live metrics (`--out prometheus=URL`, `outputs: - prometheus:`) never hurts the
//! run: against a receiver started here on 127.0.0.1 that answers 204, 500, 429, 400, or
//! accepts and never answers, and against a closed port. The run ends, what could not be
//! delivered is counted in `output_dropped` and said in the summary line, secrets in the
//! headers are sent and never printed. (The body's wire format is
//! `report::remote_write`'s, tested with a real Prometheus elsewhere.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::common::{loadplan_command, output_of, wait_until};

/// How the receiver answers.
#[derive(Clone, Copy, PartialEq)]
enum Answer {
    Status(u16),
    /// Reads the request, never answers, keeps the connection open.
    Hang,
}

/// One request as the receiver read it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    /// Names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A remote-write receiver on a free port: every request it reads is kept.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let url = format!(
            "http://{}/api/v1/write",
            listener.local_addr().expect("an address")
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = Arc::clone(&kept);
                std::thread::spawn(move || serve(stream, answer, &kept));
            }
        });
        Self { url, received }
    }

    fn count(&self) -> usize {
        self.received.lock().expect("not poisoned").len()
    }

    fn all(&self) -> Vec<Received> {
        self.received.lock().expect("not poisoned").clone()
    }
}

/// Reads requests from one connection (kept alive) and answers each as told.
fn serve(stream: TcpStream, answer: Answer, kept: &Mutex<Vec<Received>>) {
    let mut writer = stream.try_clone().expect("a second handle");
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        kept.lock().expect("not poisoned").push(Received {
            method,
            path,
            headers,
            body,
        });
        match answer {
            Answer::Hang => {
                // Holds the connection open, unanswered, until the client gives up.
                let mut rest = Vec::new();
                let _ = reader.read_to_end(&mut rest);
                return;
            }
            Answer::Status(status) => {
                let text = match status {
                    204 => String::new(),
                    400 => "out of order sample: token=s3cr3t-t0ken \u{1b}[31m".repeat(20),
                    _ => "try later".to_owned(),
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\n\r\n{text}",
                    text.len()
                );
                if writer.write_all(head.as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}

/// A port nothing listens on (bound, then closed).
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = listener.local_addr().expect("an address");
    drop(listener);
    format!("http://{address}/api/v1/write")
}

/// A plan against the in-process mock for `duration`, with these `outputs:` lines.
fn plan(dir: &Path, duration: &str, outputs: &str) -> std::path::PathBuf {
    let text = format!(
        r#"name: live
secrets: [ RW_TOKEN ]
environments: {{ local: {{ mock: true }} }}
stages:
  smoke: {{ vus: 2, duration: {duration} }}
scenarios:
  api: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/x" }} }}, {{ sleep: 20ms }} ] }}
{outputs}"#
    );
    let path = dir.join("plan.yaml");
    std::fs::write(&path, text).expect("the plan is written");
    path
}

/// What a run returned and its results JSON.
struct Ran {
    status: i32,
    stdout: String,
    stderr: String,
    results: String,
    json: serde_json::Value,
}

/// Runs `plan` with `args` and `RW_TOKEN` set, writing its results JSON.
fn run(dir: &Path, plan: &Path, args: &[&str]) -> Ran {
    let results = dir.join("results.json");
    let mut command = loadplan_command();
    command
        .env("RW_TOKEN", "s3cr3t-t0ken")
        .env("COLUMNS", "200")
        .arg("run")
        .arg(plan)
        .args(["--out", &format!("json={}", results.display())])
        .args(args);
    let output = output_of(&mut command);
    let text = std::fs::read_to_string(&results).unwrap_or_default();
    Ran {
        status: output.status,
        stdout: output.stdout,
        stderr: output.stderr,
        json: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        results: text,
    }
}

/// The run's `output_dropped` counter.
fn dropped(json: &serde_json::Value) -> u64 {
    json["series"]
        .as_array()
        .and_then(|series| {
            series
                .iter()
                .find(|s| s["metric"] == "output_dropped")
                .and_then(|s| s["count"].as_u64())
        })
        .unwrap_or_else(|| panic!("no output_dropped counter in {json:#}"))
}

fn delivery(json: &serde_json::Value) -> &serde_json::Value {
    &json["deliveries"][0]
}

/// Every `every` while the run goes, then once after it: at least duration/every requests,
/// each a snappy-encoded protobuf POST with the remote-write headers, the last carrying the
/// final figures; all delivered, nothing dropped.
#[test]
fn a_run_sends_every_interval_and_once_after() {
    let receiver = Receiver::start(Answer::Status(204));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plan = plan(
        dir.path(),
        "3s",
        &format!(
            "outputs:\n  - prometheus: {{ url: \"{}\", every: 1s, headers: {{ Authorization: \"Bearer {{{{ secrets.RW_TOKEN }}}}\" }}, labels: {{ team: payments }} }}\n",
            receiver.url
        ),
    );
    let ran = run(dir.path(), &plan, &[]);
    assert_eq!(ran.status, 0, "{}{}", ran.stdout, ran.stderr);
    let received = receiver.all();
    // 3 s of load at 1 s: 2 or 3 during the run (the last may fall at its very end), and
    // the final one.
    assert!(received.len() >= 3, "{} requests", received.len());
    for request in &received {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/api/v1/write");
        assert_eq!(
            request.header("content-type"),
            Some("application/x-protobuf")
        );
        assert_eq!(request.header("content-encoding"), Some("snappy"));
        assert_eq!(
            request.header("x-prometheus-remote-write-version"),
            Some("0.1.0")
        );
        assert!(
            request
                .header("user-agent")
                .is_some_and(|agent| agent.starts_with("loadplan/")),
            "{request:?}"
        );
        assert_eq!(request.header("authorization"), Some("Bearer s3cr3t-t0ken"));
        assert!(!request.body.is_empty(), "an empty body: {request:?}");
    }
    let delivery = delivery(&ran.json);
    assert_eq!(delivery["requests"], received.len() as u64, "{delivery:#}");
    assert_eq!(delivery["failed"], 0);
    assert_eq!(delivery["flushed"], true);
    assert_eq!(dropped(&ran.json), 0);
    let line = format!(
        "prometheus {}: {} requests sent, 0 failed, 0 samples dropped",
        receiver.url,
        received.len()
    );
    assert!(ran.stdout.contains(&line), "{line} not in\n{}", ran.stdout);
    // The token went to the receiver and nowhere else.
    for text in [&ran.stdout, &ran.stderr, &ran.results] {
        assert!(!text.contains("s3cr3t-t0ken"), "{text}");
    }
}

/// A receiver that is down: the run still ends (its own duration and at most the final
/// flush's deadline), each request's samples counted in `output_dropped`, the final flush
/// given up, and the exit code is the run's.
#[test]
fn a_receiver_that_is_down_costs_samples_not_the_run() {
    let url = closed_port_url();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plan = plan(dir.path(), "2s", "");
    let ran = run(dir.path(), &plan, &["--out", &format!("prometheus={url}")]);
    assert_eq!(ran.status, 0, "{}{}", ran.stdout, ran.stderr);
    assert!(dropped(&ran.json) > 0);
    let delivery = delivery(&ran.json);
    assert_eq!(delivery["requests"], 0, "{delivery:#}");
    assert!(delivery["failed"].as_u64() > Some(0));
    assert_eq!(delivery["flushed"], false);
    assert!(
        ran.stdout.contains("the final flush gave up"),
        "{}",
        ran.stdout
    );
    assert_eq!(
        ran.stderr.matches("warning: prometheus output").count(),
        1,
        "said once: {}",
        ran.stderr
    );
    assert!(ran.stderr.contains("connect refused"), "{}", ran.stderr);
    // The run's own figures are all there.
    assert!(
        ran.json["series"]
            .as_array()
            .is_some_and(|series| series.iter().any(|s| s["metric"] == "http_reqs"))
    );
}

/// 500s are retried (with back-off), then the request is dropped and counted.
#[test]
fn a_receiver_answering_500_is_retried_then_dropped() {
    let receiver = Receiver::start(Answer::Status(500));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plan = plan(
        dir.path(),
        "1s",
        &format!(
            "outputs:\n  - prometheus: {{ url: \"{}\", every: 1s }}\n",
            receiver.url
        ),
    );
    let ran = run(dir.path(), &plan, &[]);
    assert_eq!(ran.status, 0, "{}{}", ran.stdout, ran.stderr);
    let delivery = delivery(&ran.json);
    assert!(delivery["retries"].as_u64() > Some(0), "{delivery:#}");
    assert_eq!(delivery["requests"], 0);
    assert!(dropped(&ran.json) > 0);
    // Each attempt reached the receiver: more requests than were made.
    assert!(
        receiver.count() as u64 > delivery["failed"].as_u64().unwrap_or(0),
        "{} received, {delivery:#}",
        receiver.count()
    );
    assert!(
        ran.stderr.contains("the receiver answered 500: try later"),
        "{}",
        ran.stderr
    );
}

/// 429 (too many requests) is retried too.
#[test]
fn a_receiver_answering_429_is_retried() {
    let receiver = Receiver::start(Answer::Status(429));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plan = plan(dir.path(), "1s", "");
    let ran = run(
        dir.path(),
        &plan,
        &["--out", &format!("prometheus={}", receiver.url)],
    );
    assert_eq!(ran.status, 0, "{}{}", ran.stdout, ran.stderr);
    assert!(delivery(&ran.json)["retries"].as_u64() > Some(0));
    assert!(dropped(&ran.json) > 0);
}

/// A 400 is the receiver refusing the request: no retry, dropped and counted; its answer
/// said once, cleaned (the secret it echoes redacted, control characters escaped) and
/// cut.
#[test]
fn a_400_is_not_retried_and_its_answer_is_cleaned() {
    let receiver = Receiver::start(Answer::Status(400));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plan = plan(
        dir.path(),
        "2s",
        &format!(
            "outputs:\n  - prometheus: {{ url: \"{}\", every: 1s, headers: {{ X-Token: \"{{{{ secrets.RW_TOKEN }}}}\" }} }}\n",
            receiver.url
        ),
    );
    let ran = run(dir.path(), &plan, &[]);
    assert_eq!(ran.status, 0, "{}{}", ran.stdout, ran.stderr);
    let delivery = delivery(&ran.json);
    assert_eq!(delivery["retries"], 0, "{delivery:#}");
    assert_eq!(delivery["requests"], 0);
    assert_eq!(
        delivery["failed"].as_u64(),
        Some(receiver.count() as u64),
        "one attempt per request"
    );
    assert!(dropped(&ran.json) > 0);
    assert_eq!(ran.stderr.matches("warning: prometheus output").count(), 1);
    let warning = ran
        .stderr
        .lines()
        .find(|line| line.contains("the receiver answered 400: out of order sample"))
        .unwrap_or_else(|| panic!("{}", ran.stderr));
    assert!(warning.len() < 600, "cut: {warning}");
    for text in [&ran.stdout, &ran.stderr, &ran.results] {
        assert!(!text.contains("s3cr3t-t0ken"), "{text}");
        assert!(!text.contains('\u{1b}'), "a raw escape: {text}");
    }
    assert!(warning.contains("token=***"), "{warning}");
}

/// A receiver that accepts and never answers: each attempt times out, the run ends, the
/// samples are dropped and the final flush gives up.
#[test]
fn a_receiver_that_never_answers_costs_samples_not_the_run() {
    let receiver = Receiver::start(Answer::Hang);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plan = plan(
        dir.path(),
        "2s",
        &format!(
            "outputs:\n  - prometheus: {{ url: \"{}\", every: 1s }}\n",
            receiver.url
        ),
    );
    let mut command = loadplan_command();
    command.arg("run").arg(&plan).env("RW_TOKEN", "x").args([
        "--out",
        &format!("json={}", dir.path().join("r.json").display()),
    ]);
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("loadplan starts");
    wait_until("the first request", || receiver.count() >= 1);
    let status =
        crate::common::exit_within_patience(&mut child, "a run sending to a silent receiver");
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    assert_eq!(status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("the final flush gave up"), "{stdout}");
    let text = std::fs::read_to_string(dir.path().join("r.json")).expect("results");
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert!(dropped(&json) > 0);
    assert_eq!(delivery(&json)["requests"], 0);
}

/// A URL that is not http(s) stops the run before the load (exit 2), located in the plan
/// (`validate` says it too); on the command line, named.
#[test]
fn a_url_that_is_not_http_is_refused_before_the_load() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plan = plan(
        dir.path(),
        "1s",
        "outputs:\n  - prometheus: { url: \"ftp://127.0.0.1/api/v1/write\" }\n",
    );
    let ran = run(dir.path(), &plan, &[]);
    assert_eq!(ran.status, 2, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("plan.yaml:9:")
            && ran
                .stderr
                .contains("`ftp://127.0.0.1/api/v1/write` is no remote-write URL"),
        "{}",
        ran.stderr
    );
    assert!(ran.results.is_empty(), "nothing ran");
    let validated = output_of(loadplan_command().arg("validate").arg(&plan));
    assert_eq!(validated.status, 2, "{}", validated.stderr);
    assert!(
        validated.stderr.contains("plan.yaml:9:")
            && validated
                .stderr
                .contains("`ftp://127.0.0.1/api/v1/write` is no remote-write URL"),
        "{}",
        validated.stderr
    );
    let plan = self::plan(dir.path(), "1s", "");
    let ran = run(dir.path(), &plan, &["--out", "prometheus=127.0.0.1:9090"]);
    assert_eq!(ran.status, 2, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("error: `127.0.0.1:9090` is no remote-write URL"),
        "{}",
        ran.stderr
    );
}

/// `every` under 1s, and a label loadplan sets itself, are plan errors, located.
#[test]
fn every_under_a_second_and_a_built_in_label_are_plan_errors() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plan = plan(
        dir.path(),
        "1s",
        "outputs:\n  - prometheus: { url: \"http://127.0.0.1:9/w\", every: 500ms, labels: { stage: x, team: y, \"__x\": z } }\n",
    );
    let output = output_of(loadplan_command().arg("validate").arg(&plan));
    assert_eq!(output.status, 2, "{}", output.stderr);
    assert!(
        output
            .stderr
            .contains("`every` must be at least 1s, found 500ms"),
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains("the label `stage` is one loadplan sets itself"),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains("the label `__x` starts with `__`"),
        "{}",
        output.stderr
    );
    assert!(!output.stderr.contains("`team`"), "{}", output.stderr);
}

//! The open-files limit: `loadplan run` raises the soft limit to the hard one, and refuses
//! (exit 2, before any load) a stage whose estimated need is above it. Each run is the
//! real binary under `sh -c 'ulimit …; exec loadplan …'`.

use std::path::Path;
use std::process::Command;

use crate::common::root;

/// `VUS` WebSocket VUs against the in-process mock: each holds a socket, and the mock the
/// other end.
fn plan(vus: u32) -> String {
    format!(
        r#"
name: descriptors
environments:
  local: {{ mock: true }}
scenarios:
  idle:
    steps:
      - connect: "{{{{ env.ws_url }}}}"
      - sleep: 200ms
stages:
  load: {{ vus: {vus}, duration: 1s, graceful_stop: 5s }}
"#
    )
}

struct Run {
    status: i32,
    stderr: String,
    results: Option<serde_json::Value>,
}

/// Runs `plan` after `ulimit` (the arguments of the shell's `ulimit`).
fn run_under(ulimit: &str, plan: &str, dir: &Path) -> Run {
    let file = dir.join("plan.yaml");
    std::fs::write(&file, plan).expect("the plan is written");
    let results = dir.join("results.json");
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            r#"ulimit {ulimit} || exit 97; exec "$0" run "$1" --out json="$2" --quiet"#
        ))
        .arg(env!("CARGO_BIN_EXE_loadplan"))
        .arg(&file)
        .arg(&results)
        .current_dir(root())
        .env_remove("LOADPLAN_ENV")
        .env_remove("LOADPLAN_STAGE")
        .output()
        .expect("sh runs");
    Run {
        status: output.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        results: std::fs::read_to_string(&results)
            .ok()
            .map(|text| serde_json::from_str(&text).expect("the results are JSON")),
    }
}

/// The hard open-files limit of this process (its children inherit it).
fn hard_limit() -> Option<u64> {
    let output = Command::new("sh")
        .args(["-c", "ulimit -Hn"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

#[test]
fn a_stage_above_the_limit_is_refused_before_any_load() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // 200 × 2 (the mock holds the other end) + 64 + 2 for the results file = 466, above 256.
    let run = run_under("-n 256", &plan(200), dir.path());
    assert_eq!(run.status, 2, "{}", run.stderr);
    // 466, and more when the test runner leaks descriptors into its children (the estimate
    // counts them: `inherited_descriptors_count_against_the_limit`).
    let need: u64 = run
        .stderr
        .strip_prefix("error: stage `load` needs about ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(need >= 466, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            " open files, above the limit of 256 (`ulimit -n`, already raised to the hard \
             limit); nothing was run\n"
        ),
        "{}",
        run.stderr
    );
    for part in [
        "need: 200 connections of 200 VUs × 2 (the in-process mock holds the other end) \
         + 66 for the runtime, collectors and outputs",
        "split the run",
    ] {
        assert!(run.stderr.contains(part), "{part}: {}", run.stderr);
    }
    assert!(run.results.is_none(), "nothing is written");
}

#[test]
fn the_soft_limit_is_raised_to_the_hard_one() {
    match hard_limit() {
        Some(hard) if hard >= 1024 => {}
        hard => {
            eprintln!("skipped: the hard open-files limit is {hard:?}, below 1024");
            return;
        }
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Needs 466, above the soft 256 the shell sets, below the hard limit left as it is.
    let run = run_under("-Sn 256", &plan(200), dir.path());
    assert_eq!(run.status, 0, "{}", run.stderr);
    let json = run.results.expect("the results are written");
    assert_eq!(json["errors"], serde_json::json!({}), "{json:#}");
    let connects = json["metrics"]
        .as_array()
        .and_then(|metrics| metrics.iter().find(|m| m["metric"] == "ws_connect_time"))
        .expect("ws_connect_time");
    // Every VU opened its WebSocket (at least once), and none failed.
    assert!(connects["count"].as_u64() >= Some(200), "{connects:#}");
}

#[test]
fn loadplan_mock_raises_its_limit_too() {
    use std::io::{BufRead, BufReader};
    if !Path::new("/proc/self/limits").exists() || hard_limit().is_none_or(|hard| hard <= 256) {
        eprintln!("skipped: no /proc, or a hard open-files limit of 256 or less");
        return;
    }
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -Sn 256 || exit 97; exec "$0" mock --port 0"#)
        .arg(env!("CARGO_BIN_EXE_loadplan"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("loadplan mock starts");
    let lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    // The URLs are printed once it listens, after the raise.
    let listening = lines
        .take(6)
        .map_while(Result::ok)
        .any(|line| line.trim().starts_with("http:"));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id()));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("the mock exits");
    assert!(listening, "the mock printed its URLs");
    let limits = limits.expect("the mock's limits");
    let open_files: Vec<&str> = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("a `Max open files` line")
        .split_whitespace()
        .skip(3)
        .take(2)
        .collect();
    assert_eq!(open_files.len(), 2, "{limits}");
    assert_eq!(open_files[0], open_files[1], "soft = hard: {limits}");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn the_mock_says_when_it_cannot_accept_for_want_of_descriptors() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -n 32 || exit 97; exec "$0" mock --port 0"#)
        .arg(env!("CARGO_BIN_EXE_loadplan"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("loadplan mock starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let addr = stdout
        .by_ref()
        .take(6)
        .map_while(Result::ok)
        .find_map(|line| {
            line.trim()
                .strip_prefix("http:")
                .map(|url| url.trim().trim_start_matches("http://").to_owned())
        })
        .expect("the HTTP URL is printed");
    // More connections than the mock has descriptors: the kernel queues them (the
    // backlog), and the mock's accepts then fail with EMFILE.
    let held: Vec<_> = (0..64)
        .map(|_| std::net::TcpStream::connect(&addr).expect("connects (queued)"))
        .collect();
    let stderr = child.stderr.take().expect("piped stderr");
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let line = BufReader::new(stderr).lines().next().and_then(Result::ok);
        let _ = send.send(line);
    });
    // The first line on stderr, or none if it does not come within 20 s.
    let said = receive
        .recv_timeout(std::time::Duration::from_secs(20))
        .ok()
        .flatten();
    drop(held);
    let _ = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert_eq!(
        said.as_deref(),
        Some(
            "mock: accept: too many open files (see `ulimit -n`); connections wait until one closes"
        )
    );
}

/// Descriptors the process was started with (a CI runner or a shell may leak dozens) count
/// against the limit: 90 of them under a limit of 128 leave no room for 60 VUs' sockets,
/// and the run is refused before any load, saying so.
#[cfg(unix)]
#[test]
fn inherited_descriptors_count_against_the_limit() {
    let (mut mock, base_url) = crate::run::mock_process(&[]);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("plan.yaml");
    std::fs::write(
        &file,
        http_plan(&base_url, "load: { vus: 60, duration: 1s }"),
    )
    .expect("the plan is written");
    let output = Command::new("bash")
        .arg("-c")
        .arg(
            r#"ulimit -n 128 || exit 97
for fd in $(seq 10 99); do eval "exec $fd</dev/null" || exit 98; done
exec "$0" run "$1" --quiet"#,
        )
        .arg(env!("CARGO_BIN_EXE_loadplan"))
        .arg(&file)
        .current_dir(root())
        .env_remove("LOADPLAN_ENV")
        .env_remove("LOADPLAN_STAGE")
        .output()
        .expect("bash runs");
    let _ = mock.kill();
    let _ = mock.wait();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    // The 90, and any the test runner leaks into its children.
    let inherited: u64 = stderr
        .split(" already open when loadplan started")
        .next()
        .and_then(|before| before.rsplit("+ ").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(inherited >= 90, "{stderr}");
    assert_eq!(
        crate::common::mock_requests(&base_url),
        0,
        "nothing was sent: {stderr}"
    );
}

/// The limit lowered under a running loadplan (`prlimit`, as an administrator or a
/// container runtime may): the VUs that start after it cannot open a socket. The first
/// refusal is said once on stderr, each is counted under `too many open files` and backed
/// off, and once the limit is back the run ends with its results written.
#[cfg(target_os = "linux")]
#[test]
fn running_out_of_descriptors_mid_run_is_said_and_counted() {
    use rustix::process::{Pid, Resource, getrlimit, prlimit};
    use std::io::{BufRead, BufReader};
    let (mut mock, base_url) = crate::run::mock_process(&[]);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("plan.yaml");
    // A VU starts every 0.2 s: some before the limit is lowered, the rest after.
    std::fs::write(
        &file,
        http_plan(&base_url, "load: { ramp: [ { to: 300, over: 60s } ] }"),
    )
    .expect("the plan is written");
    let results = dir.path().join("results.json");
    let mut child = crate::common::loadplan_command()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(format!("json={}", results.display()))
        .arg("--quiet")
        .current_dir(root())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("loadplan starts");
    let pid = Pid::from_raw(child.id() as i32).expect("a child's pid is positive");
    crate::common::wait_until("the first request reaches the mock", || {
        crate::common::mock_requests(&base_url) > 0
    });
    let limit = getrlimit(Resource::Nofile);
    // Only the standard streams fit: every new descriptor is refused.
    prlimit(
        Some(pid),
        Resource::Nofile,
        rustix::process::Rlimit {
            current: Some(3),
            maximum: limit.maximum,
        },
    )
    .expect("the limit of our own child can be lowered");
    let stderr = child.stderr.take().expect("piped stderr");
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    let said = receive.recv_timeout(crate::common::PATIENCE).ok();
    // The limit back, so the results can be written; then the run is stopped.
    let _ = prlimit(Some(pid), Resource::Nofile, limit);
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = crate::common::exit_within_patience(&mut child, "loadplan out of descriptors");
    let _ = mock.kill();
    let _ = mock.wait();
    let said = said.unwrap_or_default();
    assert!(
        said.starts_with("warning: a socket was refused: too many open files (the limit is 3)"),
        "{said}"
    );
    assert_eq!(status.code(), Some(130), "{said}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).expect("the results"))
            .expect("the results are JSON");
    let errors = json["errors"].as_object().expect("errors by kind");
    assert!(
        errors["too many open files"].as_u64().unwrap_or(0) > 0,
        "{errors:#?}"
    );
    let metric = |name: &str| {
        json["metrics"]
            .as_array()
            .and_then(|metrics| metrics.iter().find(|m| m["metric"] == name))
            .and_then(|m| m["count"].as_u64())
            .unwrap_or(0)
    };
    assert!(metric("http_reqs") > 0, "the VUs with a socket ran");
    assert!(
        metric("iteration_backoffs") > 0,
        "the failed ones backed off"
    );
}

/// An HTTP plan against `base_url` whose only stage is `stage`.
fn http_plan(base_url: &str, stage: &str) -> String {
    format!(
        r#"
name: descriptors
environments: {{ there: {{ base_url: "{base_url}" }} }}
scenarios:
  api: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/x" }} }}, {{ sleep: 50ms }} ] }}
stages:
  {stage}
"#
    )
}

//! Servers whose answers carry text: a secret echoed back, a new status text every time.
//! Errors are counted under a closed set of kinds; the server's text is only an example,
//! redacted, cut and capped, in every output.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;

/// A server on 127.0.0.1 that answers every request (a WebSocket handshake or an HTTP
/// request) with `HTTP/1.1 403 <reason(n)>` and closes, `n` counting the answers. Runs
/// until the test process ends; returns its port and the answer count.
fn answering(reason: impl Fn(u64) -> String + Send + 'static) -> (u16, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("an address").port();
    let answered = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&answered);
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { continue };
            let mut head = Vec::new();
            let mut chunk = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&chunk[..n]),
                }
            }
            let n = count.fetch_add(1, Ordering::Relaxed);
            let answer = format!(
                "HTTP/1.1 403 {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                reason(n)
            );
            let _ = socket.write_all(answer.as_bytes());
        }
    });
    (port, answered)
}

/// Every file under `dir`, with its text.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the directory reads") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).expect("the file reads"))
                .into_owned();
            found.push((path.display().to_string(), text));
        }
    }
    found
}

const SECRET: &str = "s3cr3t/T0k+en=42";

#[test]
fn a_secret_a_server_echoes_is_in_no_output() {
    let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET);
    let b64_url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SECRET);
    let encoded = "s3cr3t%2FT0k%2Ben%3D42";
    let forms = [SECRET, b64.as_str(), b64_url.as_str(), encoded, "s3cr3t"];
    let reason = format!("Echo Bearer {SECRET} basic={b64} url={b64_url} q={encoded}");
    let (port, answered) = answering(move |_| reason.clone());
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("doc.md"),
        "# Baselines\n\n## History\n\n| Date | Environment | Mode | Connections | p95 Conn Time | p95 Broadcast | Pass/Fail |\n|---|---|---|---|---|---|---|\n",
    )
    .expect("the document is written");
    let plan = format!(
        r###"
name: echo
environments: {{ hostile: {{ vars: {{ port: {port} }} }} }}
vars: {{ port: 9 }}
secrets: [API_TOKEN]
stages: {{ short: {{ vus: 2, duration: 500ms }} }}
scenarios:
  ws:
    steps:
      - connect: "ws://127.0.0.1:{{{{ vars.port }}}}/ws?token={{{{ secrets.API_TOKEN }}}}"
  api:
    steps:
      - request:
          url: "http://127.0.0.1:{{{{ vars.port }}}}/x"
          headers: {{ Authorization: "Bearer {{{{ secrets.API_TOKEN }}}}" }}
          expect: {{ status: 200 }}
collect:
  - command: {{ name: leak, run: "echo Bearer $API_TOKEN >&2; exit 1", parse: prometheus, every: 100ms }}
thresholds:
  http_req_failed: [ "rate < 1%" ]
outputs:
  - markdown: {{ append_to: doc.md, under: "## History" }}
  - markdown: {{ append_to: doc.md, section: latest }}
  - markdown: {{ file: out/report.md }}
  - json: out/results.json
  - csv: out/history.csv
  - junit: out/junit.xml
"###
    );
    std::fs::write(dir.path().join("plan.yaml"), plan).expect("the plan is written");
    let output = Command::new(env!("CARGO_BIN_EXE_loadplan"))
        .args(["run", "plan.yaml"])
        .current_dir(dir.path())
        .env("API_TOKEN", SECRET)
        .env_remove("LOADPLAN_ENV")
        .env_remove("LOADPLAN_STAGE")
        .output()
        .expect("loadplan runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(99), "{stdout}\n{stderr}");
    assert!(answered.load(Ordering::Relaxed) >= 2);
    let mut texts = files(dir.path());
    for written in [
        "results.json",
        "report.md",
        "history.csv",
        "junit.xml",
        "doc.md",
    ] {
        assert!(
            texts.iter().any(|(file, _)| file.ends_with(written)),
            "no {written}"
        );
    }
    texts.retain(|(file, _)| !file.ends_with("plan.yaml"));
    texts.push(("stdout".into(), stdout.clone().into_owned()));
    texts.push(("stderr".into(), stderr.into_owned()));
    for (name, text) in &texts {
        for form in forms {
            assert!(!text.contains(form), "{name} holds `{form}`:\n{text}");
        }
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/results.json")).expect("results"),
    )
    .expect("the results are JSON");
    let results = &json;
    let errors = results["errors"].as_object().expect("errors by kind");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors["ws handshake 403"].as_u64() >= Some(1), "{errors:?}");
    assert!(
        errors["expect status 403"].as_u64() >= Some(1),
        "{errors:?}"
    );
    let example = "403 Echo Bearer *** basic=*** url=*** q=***";
    assert_eq!(
        results["error_examples"],
        serde_json::json!({ "ws handshake 403": [example] }),
        "{results:#}"
    );
    let failed = results["sources"]["leak"]["error"]
        .as_str()
        .expect("a failed source");
    assert!(failed.ends_with("Bearer ***"), "{failed}");
    assert!(stdout.contains("ws handshake 403"), "{stdout}");
    assert!(stdout.contains(example), "{stdout}");
    let report = std::fs::read_to_string(dir.path().join("out/report.md")).expect("report");
    assert!(
        report.contains(&format!("| ws handshake 403 | `{example}` |")),
        "{report}"
    );
}

#[test]
fn a_new_status_text_every_time_is_one_kind_with_three_examples() {
    // 300 characters of a different text each time (longer than an example is kept).
    let (port, answered) = answering(|n| {
        let mut rng = fastrand::Rng::with_seed(n);
        (0..300).map(|_| rng.alphanumeric()).collect()
    });
    let plan = format!(
        r#"
name: babble
stages: {{ short: {{ vus: 4, duration: 1s }} }}
scenarios:
  ws:
    backoff: off
    steps:
      - connect: "ws://127.0.0.1:{port}/ws"
"#
    );
    let run = crate::run::run(&plan, &[], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    let results = &json;
    let errors = results["errors"].as_object().expect("errors by kind");
    assert_eq!(errors.len(), 1, "{errors:?}");
    // At least one handshake per VU, each with a text of its own.
    let count = errors["ws handshake 403"].as_u64().expect("counted");
    assert!(count >= 4, "{errors:?}");
    assert!(answered.load(Ordering::Relaxed) >= count);
    let examples = results["error_examples"]["ws handshake 403"]
        .as_array()
        .expect("examples");
    assert_eq!(examples.len(), 3, "{examples:?}");
    for example in examples {
        let text = example.as_str().expect("text");
        assert!(text.starts_with("403 "), "{text}");
        assert_eq!(text.chars().count(), 201, "{text}");
        assert!(text.ends_with('…'), "{text}");
    }
    // Bounded by the kinds, not the answers: every text different, one short summary.
    assert!(run.stdout.len() < 4 * 1024, "{}", run.stdout);
}

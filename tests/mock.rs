//! The mock target, driven by real HTTP (hyper) and WebSocket (tokio-tungstenite) clients
//! against the in-process server on an ephemeral port, and `loadplan mock` as a process.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::Request;
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use loadplan::mock::{MockMode, MockServer, MockSettings};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn start(mode: MockMode) -> MockServer {
    let settings = MockSettings {
        mode,
        ..MockSettings::default()
    };
    MockServer::start(settings)
        .await
        .expect("the mock binds 127.0.0.1:0")
}

/// One HTTP/1.1 request on a new connection: status, and the body's length and text.
async fn http<B>(server: &MockServer, request: Request<B>) -> (u16, Bytes)
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(server.addr).await.expect("connects");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let response = sender.send_request(request).await.expect("response");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, body)
}

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::get(path)
        .header("host", "127.0.0.1")
        .body(Empty::new())
        .expect("a valid request")
}

async fn stats(server: &MockServer) -> serde_json::Value {
    let (_, body) = http(server, get("/stats")).await;
    serde_json::from_slice(&body).expect("/stats is JSON")
}

async fn ws(url: &str) -> Socket {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("WebSocket connects")
        .0
}

/// The next text message, or `None` if nothing arrives within `wait`.
async fn next_text(socket: &mut Socket, wait: Duration) -> Option<String> {
    loop {
        match tokio::time::timeout(wait, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Some(text.to_string()),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            _ => return None,
        }
    }
}

/// How long a test listens for something that must *not* arrive.
const SHORT: Duration = Duration::from_millis(300);
/// How long a test waits for something that must arrive: a hang guard, never a timing.
const LONG: Duration = crate::common::PATIENCE;

#[tokio::test]
async fn fixed_mode_and_query_overrides() {
    let server = start(MockMode::Fixed).await;
    let (status, body) = http(&server, get("/any/path")).await;
    assert_eq!((status, body.len()), (200, 256));
    assert!(body.iter().all(|b| *b == b'x'));
    let (status, body) = http(&server, get("/x?status=503&response_size=5000")).await;
    assert_eq!((status, body.len()), (503, 5000));
    let (status, body) = http(&server, get("/big?response_size=1048577")).await;
    assert_eq!((status, body.len()), (200, 1_048_577));
    let started = std::time::Instant::now();
    let (status, _) = http(&server, get("/slow?delay=150")).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    let (status, body) = http(&server, get("/x?status=abc")).await;
    assert_eq!(status, 400);
    assert_eq!(body, "status must be a number, got `abc`");
    for method in ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        let request = Request::builder()
            .method(method)
            .uri("/items/7")
            .header("host", "127.0.0.1")
            .body(Full::new(Bytes::from_static(b"{\"a\":1}")))
            .expect("a valid request");
        assert_eq!(http(&server, request).await.0, 200, "{method}");
    }
    server.stop().await;
}

#[tokio::test]
async fn fixed_mode_uses_its_settings() {
    let settings = MockSettings {
        mode: MockMode::Fixed,
        status: 202,
        body_size: 10,
        tls: None,
    };
    let server = MockServer::start(settings).await.expect("binds");
    let (status, body) = http(&server, get("/")).await;
    assert_eq!((status, body.len()), (202, 10));
    server.stop().await;
}

#[tokio::test]
async fn timeout_mode_never_answers_unless_told() {
    let server = start(MockMode::Timeout).await;
    let answered = tokio::time::timeout(SHORT, http(&server, get("/x"))).await;
    assert!(answered.is_err(), "timeout mode answered: {answered:?}");
    let (status, _) = http(&server, get("/x?status=204")).await;
    assert_eq!(status, 204);
    server.stop().await;
}

#[tokio::test]
async fn auth_mode_answers_by_authorization() {
    let server = start(MockMode::Auth).await;
    assert_eq!(http(&server, get("/x")).await.0, 401);
    let with = |value: &str| {
        Request::get("/x")
            .header("host", "127.0.0.1")
            .header("authorization", value)
            .body(Empty::<Bytes>::new())
            .expect("a valid request")
    };
    assert_eq!(http(&server, with("Bearer wrong")).await.0, 403);
    assert_eq!(http(&server, with("Bearer test-api-key")).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn mixed_mode_mixes_fast_slow_and_failing() {
    let server = start(MockMode::Mixed).await;
    let requests = (0..100).map(|_| http(&server, get("/x")));
    let statuses: Vec<u16> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    let failed = statuses.iter().filter(|s| **s == 503).count();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(failed + ok, 100, "{statuses:?}");
    assert!((1..=30).contains(&failed), "{failed} of 100 were 503");
    let stats = stats(&server).await;
    let slow = stats["http_request_duration_seconds_count"]
        .as_u64()
        .unwrap_or(0);
    assert!(slow >= 100);
    server.stop().await;
}

#[tokio::test]
async fn large_uploads_stream_through_without_buffering() {
    let server = start(MockMode::Fixed).await;
    const CHUNK: usize = 1 << 20;
    const CHUNKS: usize = 256;
    let chunk = Bytes::from(vec![b'u'; CHUNK]);
    let frames = futures_util::stream::iter(
        (0..CHUNKS).map(move |_| Ok::<_, std::convert::Infallible>(Frame::data(chunk.clone()))),
    );
    let high_water_before = high_water_mark_kib();
    let request = Request::post("/upload")
        .header("host", "127.0.0.1")
        .body(StreamBody::new(frames))
        .expect("a valid request");
    let (status, _) = http(&server, request).await;
    assert_eq!(status, 200);
    let stats = stats(&server).await;
    assert_eq!(stats["http_bytes_in_total"], (CHUNK * CHUNKS) as u64);
    if let (Some(before), Some(after)) = (high_water_before, high_water_mark_kib()) {
        // 256 MiB went through; buffering it would raise the peak by that much.
        assert!(
            after - before < 64 * 1024,
            "peak memory grew by {} KiB",
            after - before
        );
    }
    server.stop().await;
}

fn high_water_mark_kib() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test]
async fn websocket_echoes_and_answers_pings() {
    let server = start(MockMode::Fixed).await;
    let mut socket = ws(&server.ws_url).await;
    socket.send(Message::text("hello")).await.expect("sends");
    assert_eq!(next_text(&mut socket, LONG).await.as_deref(), Some("hello"));
    socket
        .send(Message::text(r#"{"type":"ping","id":"p-1","pad":"zz"}"#))
        .await
        .expect("sends");
    assert_eq!(
        next_text(&mut socket, LONG).await.as_deref(),
        Some(r#"{"type":"pong","id":"p-1"}"#)
    );
    socket
        .send(Message::binary(vec![1u8, 2, 3]))
        .await
        .expect("sends");
    match tokio::time::timeout(LONG, socket.next()).await {
        Ok(Some(Ok(Message::Binary(data)))) => assert_eq!(&data[..], &[1, 2, 3]),
        other => panic!("expected the binary echo, got {other:?}"),
    }
    socket
        .send(Message::Ping(Bytes::from_static(b"are you there")))
        .await
        .expect("sends");
    match tokio::time::timeout(LONG, socket.next()).await {
        Ok(Some(Ok(Message::Pong(data)))) => assert_eq!(&data[..], b"are you there"),
        other => panic!("expected a pong frame, got {other:?}"),
    }
    let stats = stats(&server).await;
    assert_eq!(stats["ws_connections_open"], 1);
    assert!(stats["ws_messages_in_total"].as_u64() >= Some(3));
    server.stop().await;
}

#[tokio::test]
async fn websocket_delay_applies_to_every_reply() {
    let server = start(MockMode::Fixed).await;
    let mut socket = ws(&format!("{}?delay=120", server.ws_url)).await;
    for _ in 0..2 {
        let started = std::time::Instant::now();
        socket.send(Message::text("x")).await.expect("sends");
        assert_eq!(next_text(&mut socket, LONG).await.as_deref(), Some("x"));
        assert!(started.elapsed() >= Duration::from_millis(120));
    }
    server.stop().await;
}

async fn broadcast(server: &MockServer, body: &str) -> serde_json::Value {
    let request = Request::post("/broadcast")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("a valid request");
    let (status, answer) = http(server, request).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    serde_json::from_slice(&answer).expect("a JSON answer")
}

#[tokio::test]
async fn broadcasts_reach_only_the_scopes_they_name() {
    let server = start(MockMode::Fixed).await;
    let url = |query: &str| format!("{}?{query}", server.ws_url);
    let mut u1 = ws(&url("scope=user&user=u1")).await;
    let mut u2 = ws(&url("scope=user&user=u2")).await;
    let mut s1 = ws(&url("scope=session&session=s1")).await;
    let mut m1 = ws(&url("scope=machine&machine=m1")).await;
    // Connections register when their upgrade completes; wait until all four have.
    let deadline = std::time::Instant::now() + LONG;
    while stats(&server).await["ws_connections_open"] != 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the four WebSockets never registered"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let body = r#"{"scope":"user","id":"b1"}"#;
    assert_eq!(broadcast(&server, body).await["delivered"], 2);
    assert_eq!(next_text(&mut u1, LONG).await.as_deref(), Some(body));
    assert_eq!(next_text(&mut u2, LONG).await.as_deref(), Some(body));
    assert_eq!(next_text(&mut s1, SHORT).await, None);
    assert_eq!(next_text(&mut m1, SHORT).await, None);

    let body = r#"{"scope":"user","user":"u2","id":"b2"}"#;
    assert_eq!(broadcast(&server, body).await["delivered"], 1);
    assert_eq!(next_text(&mut u2, LONG).await.as_deref(), Some(body));
    assert_eq!(next_text(&mut u1, SHORT).await, None);

    let body = r#"{"scope":"session","session":"s1","id":"b3"}"#;
    assert_eq!(broadcast(&server, body).await["delivered"], 1);
    assert_eq!(next_text(&mut s1, LONG).await.as_deref(), Some(body));
    assert_eq!(next_text(&mut m1, SHORT).await, None);

    let body = r#"{"scope":"machine","machine":"m1","id":"b4"}"#;
    assert_eq!(broadcast(&server, body).await["delivered"], 1);
    assert_eq!(next_text(&mut m1, LONG).await.as_deref(), Some(body));
    assert_eq!(next_text(&mut s1, SHORT).await, None);
    assert_eq!(next_text(&mut u1, SHORT).await, None);

    let body = r#"{"id":"everyone"}"#;
    assert_eq!(broadcast(&server, body).await["delivered"], 4);
    let stats = stats(&server).await;
    assert_eq!(stats["broadcasts_total"], 5);
    assert_eq!(stats["broadcast_deliveries_total"], 9);
    server.stop().await;
}

#[tokio::test]
async fn phoenix_join_reply_and_topic_broadcast() {
    let server = start(MockMode::Fixed).await;
    let url = format!("ws://{}/socket/websocket?vsn=2.0.0", server.addr);
    let mut alice = ws(&url).await;
    let mut bob = ws(&url).await;
    for (socket, join_ref) in [(&mut alice, "1"), (&mut bob, "2")] {
        let join = format!(r#"["{join_ref}","{join_ref}","session:abc","phx_join",{{}}]"#);
        socket.send(Message::text(join)).await.expect("sends");
        let reply: serde_json::Value =
            serde_json::from_str(&next_text(socket, LONG).await.expect("a join reply"))
                .expect("JSON");
        assert_eq!(
            reply,
            serde_json::json!([join_ref, join_ref, "session:abc", "phx_reply", {"status": "ok", "response": {"seq": 0}}])
        );
    }
    alice
        .send(Message::text(r#"[null,"9","phoenix","heartbeat",{}]"#))
        .await
        .expect("sends");
    let heartbeat: serde_json::Value = serde_json::from_str(
        &next_text(&mut alice, LONG)
            .await
            .expect("a heartbeat reply"),
    )
    .expect("JSON");
    assert_eq!(heartbeat[1], "9");
    assert_eq!(heartbeat[3], "phx_reply");

    alice
        .send(Message::text(
            r#"["1","3","session:abc","message",{"text":"hi","ref":"c-1"}]"#,
        ))
        .await
        .expect("sends");
    let pushed = serde_json::json!([null, null, "session:abc", "message", {"text": "hi", "ref": "c-1", "seq": 1}]);
    let bob_got: serde_json::Value =
        serde_json::from_str(&next_text(&mut bob, LONG).await.expect("bob gets the push"))
            .expect("JSON");
    assert_eq!(bob_got, pushed);
    let mut alice_got = Vec::new();
    for _ in 0..2 {
        let text = next_text(&mut alice, LONG)
            .await
            .expect("alice gets the push and a reply");
        alice_got.push(serde_json::from_str::<serde_json::Value>(&text).expect("JSON"));
    }
    assert!(alice_got.contains(&pushed), "{alice_got:?}");
    assert!(
        alice_got.iter().any(|m| m[1] == "3" && m[3] == "phx_reply"),
        "{alice_got:?}"
    );

    bob.send(Message::text(r#"["2","4","session:other","message",{}]"#))
        .await
        .expect("sends");
    let refused: serde_json::Value =
        serde_json::from_str(&next_text(&mut bob, LONG).await.expect("a reply")).expect("JSON");
    assert_eq!(refused[4]["status"], "error");
    server.stop().await;
}

#[tokio::test]
async fn metrics_are_prometheus_text_and_move() {
    let server = start(MockMode::Fixed).await;
    let scrape = async |server: &MockServer| {
        let (status, body) = http(server, get("/metrics")).await;
        assert_eq!(status, 200);
        String::from_utf8(body.to_vec()).expect("UTF-8")
    };
    let sample = regex::Regex::new(r#"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? [0-9.eE+-]+$"#)
        .expect("a valid regex");
    let value = |text: &str, name: &str| -> f64 {
        text.lines()
            .find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
    };
    http(&server, get("/warm-up")).await;
    let before = scrape(&server).await;
    for line in before.lines() {
        assert!(
            line.starts_with("# HELP ") || line.starts_with("# TYPE ") || sample.is_match(line),
            "not Prometheus text: {line}"
        );
    }
    for _ in 0..3 {
        http(&server, get("/x?response_size=100")).await;
    }
    let after = scrape(&server).await;
    let requests = r#"mock_http_requests_total{status="200"}"#;
    // Scrapes of /metrics and /stats are not counted: they would skew what a plan measures.
    assert_eq!(value(&after, requests) - value(&before, requests), 3.0);
    assert_eq!(
        value(&after, "mock_http_bytes_out_total") - value(&before, "mock_http_bytes_out_total"),
        300.0
    );
    assert_eq!(
        value(&after, "mock_http_request_duration_seconds_count"),
        4.0
    );
    // Answers take microseconds: the sum is kept finely enough not to read zero.
    assert!(value(&after, "mock_http_request_duration_seconds_sum") > 0.0);
    assert!(after.contains("# TYPE mock_http_request_duration_seconds histogram"));
    assert!(after.contains(r#"mock_http_request_duration_seconds_bucket{le="+Inf"}"#));
    server.stop().await;
}

#[tokio::test]
async fn stop_closes_websockets_and_the_listener() {
    let server = start(MockMode::Fixed).await;
    let addr = server.addr;
    let mut socket = ws(&server.ws_url).await;
    socket.send(Message::text("x")).await.expect("sends");
    assert!(next_text(&mut socket, LONG).await.is_some());
    server.stop().await;
    match tokio::time::timeout(LONG, socket.next()).await {
        Ok(Some(Ok(Message::Close(_))) | None | Some(Err(_))) => {}
        other => panic!("expected the socket to close, got {other:?}"),
    }
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

#[test]
fn mock_command_prints_urls_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_loadplan"))
        .args(["mock", "--port", "0", "--mode", "auth"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("loadplan mock starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut base = None;
    for line in lines.by_ref().take(6) {
        let line = line.expect("a line");
        if let Some(url) = line.trim().strip_prefix("http:") {
            base = Some(url.trim().trim_start_matches("http://").to_owned());
        }
    }
    let base = base.expect("the HTTP URL is printed");
    let mut stream = std::net::TcpStream::connect(&base).expect("connects");
    stream
        .write_all(b"GET /x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .expect("writes");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = child.wait().expect("the mock exits");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn mock_command_rejects_bad_options() {
    let output = crate::common::loadplan(&["mock", "--mode", "chaos"]);
    assert_eq!(output.status, 2);
    assert!(
        output
            .stderr
            .contains("expected fixed, timeout, auth or mixed, found `chaos`"),
        "{}",
        output.stderr
    );
}

#[tokio::test]
async fn phoenix_pushes_are_numbered_and_replayed_after_a_cursor() {
    let server = start(MockMode::Fixed).await;
    let url = format!("ws://{}/socket/websocket?vsn=2.0.0", server.addr);
    let frame = |text: String| serde_json::from_str::<serde_json::Value>(&text).expect("JSON");
    let mut writer = ws(&url).await;
    writer
        .send(Message::text(r#"["1","1","room:r","phx_join",{}]"#))
        .await
        .expect("sends");
    assert_eq!(
        frame(next_text(&mut writer, LONG).await.expect("a reply"))[4]["response"]["seq"],
        0
    );
    for n in 1..=6 {
        let push = format!(r#"["1","p{n}","room:r","message",{{"n":{n}}}]"#);
        writer.send(Message::text(push)).await.expect("sends");
    }
    // The writer sees its six pushes numbered 1..=6 (and a reply to each).
    let mut seen = Vec::new();
    while seen.len() < 6 {
        let got = frame(next_text(&mut writer, LONG).await.expect("a push or reply"));
        if got[3] == "message" {
            assert_eq!(got[4]["seq"], got[4]["n"], "{got}");
            seen.push(got[4]["seq"].as_u64().expect("a number"));
        }
    }
    assert_eq!(seen, [1, 2, 3, 4, 5, 6]);

    // A cursor (here a string, as a template renders it) replays what came after it, then live.
    let mut reader = ws(&url).await;
    reader
        .send(Message::text(
            r#"["2","2","room:r","phx_join",{"cursor":"3"}]"#,
        ))
        .await
        .expect("sends");
    let reply = frame(next_text(&mut reader, LONG).await.expect("a reply"));
    assert_eq!(reply[4]["response"]["seq"], 6, "{reply}");
    writer
        .send(Message::text(r#"["1","p7","room:r","message",{"n":7}]"#))
        .await
        .expect("sends");
    let mut replayed = Vec::new();
    for _ in 0..4 {
        let got = frame(next_text(&mut reader, LONG).await.expect("a push"));
        replayed.push(got[4]["seq"].as_u64().expect("a number"));
    }
    assert_eq!(replayed, [4, 5, 6, 7]);

    // Faults, on demand: 2 left out, 4 twice, 5 after 6.
    let mut faulty = ws(&url).await;
    faulty
        .send(Message::text(
            r#"["3","3","room:r","phx_join",{"cursor":0,"drop":[2],"duplicate":[4],"swap":[5]}]"#,
        ))
        .await
        .expect("sends");
    next_text(&mut faulty, LONG).await.expect("a reply");
    let mut got = Vec::new();
    for _ in 0..7 {
        let push = frame(next_text(&mut faulty, LONG).await.expect("a push"));
        got.push(push[4]["seq"].as_u64().expect("a number"));
    }
    assert_eq!(got, [1, 3, 4, 4, 6, 5, 7]);
    assert_eq!(next_text(&mut faulty, SHORT).await, None);
    server.stop().await;
}

//! `data_sent` / `data_received` are the bytes that crossed the sockets, as k6 counts them:
//! a counting TCP relay on 127.0.0.1 stands between the real binary and the real mock (out
//! of process) and counts what it forwarded each way — an independent count, the one a NIC
//! or the server would give. HTTP/1.1, HTTP/2 over TLS and WebSocket must match it exactly.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::common::wait_until;
use crate::run::{metric, mock_process, run};

/// A TCP relay to `upstream` that counts the bytes it forwarded each way.
struct Relay {
    port: u16,
    /// Client to server (what the client sent).
    up: Arc<AtomicU64>,
    /// Server to client.
    down: Arc<AtomicU64>,
    /// Copying threads still running (two per connection).
    open: Arc<AtomicU64>,
}

impl Relay {
    fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        let port = listener.local_addr().expect("bound").port();
        let (up, down, open): (Arc<AtomicU64>, Arc<AtomicU64>, Arc<AtomicU64>) =
            (Arc::default(), Arc::default(), Arc::default());
        let counters = [Arc::clone(&up), Arc::clone(&down), Arc::clone(&open)];
        std::thread::spawn(move || {
            let [up, down, open] = counters;
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    return;
                };
                let (Ok(client_write), Ok(server_write)) = (client.try_clone(), server.try_clone())
                else {
                    return;
                };
                open.fetch_add(2, Ordering::SeqCst);
                copy(client, server_write, Arc::clone(&up), Arc::clone(&open));
                copy(server, client_write, Arc::clone(&down), Arc::clone(&open));
            }
        });
        Self {
            port,
            up,
            down,
            open,
        }
    }

    /// Waits until every relayed connection has closed both ways, then gives (up, down).
    fn settled(&self) -> (u64, u64) {
        wait_until("the relayed connections to close", || {
            self.open.load(Ordering::SeqCst) == 0
        });
        (
            self.up.load(Ordering::SeqCst),
            self.down.load(Ordering::SeqCst),
        )
    }
}

/// Copies `from` to `to` on a thread of its own, counting; at the end of `from`, ends `to`.
fn copy(mut from: TcpStream, mut to: TcpStream, count: Arc<AtomicU64>, open: Arc<AtomicU64>) {
    std::thread::spawn(move || {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                    count.fetch_add(n as u64, Ordering::SeqCst);
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
        open.fetch_sub(1, Ordering::SeqCst);
    });
}

fn count(json: &serde_json::Value, name: &str) -> u64 {
    metric(json, name)["count"].as_u64().unwrap_or(0)
}

fn port_of(base_url: &str) -> u16 {
    base_url
        .rsplit(':')
        .next()
        .and_then(|port| port.trim_end_matches('/').parse().ok())
        .expect("the mock's URL has a port")
}

/// Runs `steps` (one VU, 1 s, a scenario `wire`) against the mock through a relay, with
/// `scheme` (`http` or `https`); gives the results and the relay's (up, down) counts.
fn through_relay(mock_args: &[&str], steps: &str) -> (serde_json::Value, (u64, u64)) {
    let (mut mock, base_url) = mock_process(mock_args);
    let relay = Relay::start(port_of(&base_url));
    let scheme = if base_url.starts_with("https") {
        "https"
    } else {
        "http"
    };
    let ws = if scheme == "https" { "wss" } else { "ws" };
    let plan = format!(
        r#"
name: wire
environments:
  local:
    base_url: "{scheme}://127.0.0.1:{port}"
    ws_url: "{ws}://127.0.0.1:{port}/ws"
    insecure: true
stages: {{ short: {{ vus: 1, duration: 1s }} }}
scenarios:
  wire:
    steps:
{steps}
"#,
        port = relay.port
    );
    let run = run(&plan, &["--quiet"], &[]);
    let counts = relay.settled();
    let _ = mock.kill();
    let _ = mock.wait();
    let json = run
        .json
        .unwrap_or_else(|| panic!("results written: {}", run.stderr));
    (json, counts)
}

/// Plain HTTP/1.1 GETs (no body at all): every request line, header and response byte is
/// counted, so `data_sent` is what the server read and `data_received` what it wrote.
#[test]
fn http1_bytes_are_those_that_crossed_the_socket() {
    let (json, (up, down)) = through_relay(
        &[],
        r#"      - request: { url: "{{ env.base_url }}/a?response_size=100", expect: { status: 200 } }
      - request: { method: POST, url: "{{ env.base_url }}/b", json: { x: 1 } }"#,
    );
    assert!(count(&json, "http_reqs") >= 2, "{json:#}");
    assert!(up > 0 && down > 0);
    assert_eq!(
        (count(&json, "data_sent"), count(&json, "data_received")),
        (up, down),
        "(data_sent, data_received) against the relay's (up, down)"
    );
}

/// HTTP/1.1 over TLS: the TLS handshake and records count too (TCP payload, as a NIC sees
/// it). The server's `close_notify` (24 bytes), sent once the client has gone, is never read.
#[test]
fn tls_bytes_include_the_handshake_and_the_records() {
    let (json, (up, down)) = through_relay(
        &[
            "--tls-cert",
            "tests/fixtures/tls/cert.pem",
            "--tls-key",
            "tests/fixtures/tls/key.pem",
        ],
        r#"      - request: { url: "{{ env.base_url }}/a", expect: { status: 200 } }"#,
    );
    assert!(count(&json, "http_reqs") >= 1, "{json:#}");
    assert_eq!(json["errors"], serde_json::json!({}), "{json:#}");
    let (sent, received) = (count(&json, "data_sent"), count(&json, "data_received"));
    assert_eq!(sent, up, "data_sent against what the relay forwarded up");
    assert!(
        received <= down && down - received <= 24,
        "data_received {received} against {down} forwarded down"
    );
}

/// WebSocket: the upgrade request and response, and every frame with its header (the
/// client's masked) count. The server's answer to the client's close may arrive after the
/// client stopped reading: at most that frame (4 bytes: header and code) is missing.
#[test]
fn websocket_bytes_include_the_upgrade_and_the_frames() {
    let (json, (up, down)) = through_relay(
        &[],
        r#"      - connect: { url: "{{ env.ws_url }}" }
      - send: { json: { type: ping, id: "a" } }
      - expect: { json: { type: pong, id: "a" }, within: 2s }
      - disconnect: {}"#,
    );
    assert!(count(&json, "ws_msgs_sent") >= 1, "{json:#}");
    let (sent, received) = (count(&json, "data_sent"), count(&json, "data_received"));
    assert_eq!(sent, up, "data_sent against what the relay forwarded up");
    assert!(
        received <= down && down - received <= 4 * count(&json, "ws_msgs_sent"),
        "data_received {received} against {down} forwarded down"
    );
}

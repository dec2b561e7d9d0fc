//! `ws_message_latency` runs from just before a message is handed to the socket to when
//! the answer is read: an in-test WebSocket server on 127.0.0.1 answers no sooner than
//! 2 ms after the first byte of a message reached it, so no sample can be under 2 ms. A
//! message larger than the socket buffers, which the server starts reading only after a
//! 20 ms hold, makes the client's write last that long: a clock started after the write
//! (as it once was) gives a fraction of a millisecond to 2 ms, not 20. A lower bound the
//! server imposes, not a speed bar.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::accept;

use crate::run::{metric, run};

/// How long the server holds each answer, from the first byte of the message.
const HOLD: Duration = Duration::from_millis(2);

/// The hold for a message of 64 KiB or more, which it also starts reading only then: far
/// longer than the client's write of what the buffers held once the server reads, so a
/// clock started after the write is well under it however fast the machine.
const LONG_HOLD: Duration = Duration::from_millis(20);

/// Starts the server; gives its port. Its threads end with their connections (the
/// listener's with the test process).
fn holding_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
    let port = listener.local_addr().expect("bound").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || answer(stream));
        }
    });
    port
}

/// Answers every message with a text frame `pong`, `HOLD` (`LONG_HOLD`) after its first
/// byte came. After
/// the handshake, frames are read raw and their payload skipped, not unmasked: in a debug
/// build unmasking megabytes takes longer than the hold and would hide a late clock.
fn answer(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(socket) = accept(stream) else {
        return;
    };
    let mut stream = socket.into_inner();
    loop {
        // The client sends only once answered: nothing of the next message is buffered.
        let mut head = [0u8; 2];
        let hold = match stream.peek(&mut head) {
            Ok(2..) if head[1] & 0x7f == 127 => LONG_HOLD,
            Ok(1..) => HOLD,
            _ => return,
        };
        let first_byte = Instant::now();
        std::thread::sleep(hold);
        let Some(opcode) = skip_frame(&mut stream) else {
            return;
        };
        match opcode {
            0x1 | 0x2 => {}
            0x8 => return,
            _ => continue,
        }
        if let Some(left) = hold.checked_sub(first_byte.elapsed()) {
            std::thread::sleep(left);
        }
        if stream
            .write_all(&[0x81, 4, b'p', b'o', b'n', b'g'])
            .is_err()
        {
            return;
        }
    }
}

/// Reads one whole frame (the client's are masked) and gives its opcode.
fn skip_frame(stream: &mut TcpStream) -> Option<u8> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).ok()?;
    let length = match head[1] & 0x7f {
        126 => {
            let mut bytes = [0u8; 2];
            stream.read_exact(&mut bytes).ok()?;
            u64::from(u16::from_be_bytes(bytes))
        }
        127 => {
            let mut bytes = [0u8; 8];
            stream.read_exact(&mut bytes).ok()?;
            u64::from_be_bytes(bytes)
        }
        short => u64::from(short),
    };
    let mask = if head[1] & 0x80 != 0 { 4 } else { 0 };
    let skipped = std::io::copy(
        &mut Read::by_ref(stream).take(length + mask),
        &mut std::io::sink(),
    )
    .ok()?;
    (skipped == length + mask).then_some(head[0] & 0x0f)
}

#[test]
fn no_message_latency_is_under_the_servers_hold() {
    let port = holding_server();
    // 8 MiB: more than the client's send buffer and the server's receive buffer together,
    // under the default `max_message` (10 MiB).
    let plan = format!(
        r#"
name: wsclock
environments:
  local: {{ ws_url: "ws://127.0.0.1:{port}/ws" }}
stages: {{ short: {{ vus: 1, duration: 500ms }} }}
scenarios:
  clock:
    backoff: off
    steps:
      - connect: "{{{{ env.ws_url }}}}"
      - send: {{ text: ping }}
      - expect: {{ text: pong, within: 5s }}
      - send: {{ text: "{{{{ random_string(8388608) }}}}" }}
      - expect: {{ text: pong, within: 5s, metric: big_message_latency }}
      - disconnect: {{}}
thresholds:
  ws_message_latency: [ "count > 0", "min >= 2ms" ]
  big_message_latency: [ "count > 0", "min >= 20ms" ]
"#
    );
    let run = run(&plan, &["--quiet"], &[]);
    let json = run
        .json
        .unwrap_or_else(|| panic!("results written: {}\n{}", run.stdout, run.stderr));
    assert_eq!(json["errors"], serde_json::json!({}), "{json:#}");
    for name in ["ws_message_latency", "big_message_latency"] {
        let latency = metric(&json, name);
        assert!(latency["count"].as_u64() >= Some(1), "{name}: {json:#}");
    }
    let failed: Vec<_> = json["thresholds"]
        .as_array()
        .expect("thresholds")
        .iter()
        .filter(|t| t["passed"] != true)
        .collect();
    assert!(
        failed.is_empty(),
        "under the server's 2 ms hold: {failed:#?}"
    );
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
}

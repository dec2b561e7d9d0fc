//! Idle WebSocket connections held by a `loadplan mock` process, and its memory per
//! connection. Not a test: run through `bench/mock_idle_ws.sh`, which starts the mock.
//!
//! Usage: mock_idle_ws WS_URL MOCK_PID [CONNECTIONS]

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(pid)) = (args.next(), args.next()) else {
        eprintln!("usage: mock_idle_ws WS_URL MOCK_PID [CONNECTIONS]");
        std::process::exit(2);
    };
    let wanted: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(15_000);
    let before = rss_kib(&pid);
    let started = Instant::now();
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(1 << 20);
    let mut sockets = Vec::with_capacity(wanted);
    let mut failed = 0usize;
    // Connect in batches so the listen backlog is not overrun.
    for batch in (0..wanted).collect::<Vec<_>>().chunks(500) {
        let connects = batch.iter().map(|i| {
            let url = format!("{url}?scope=user&user=u{i}");
            tokio_tungstenite::connect_async_with_config(url, Some(config), false)
        });
        for result in futures_util::future::join_all(connects).await {
            match result {
                Ok((socket, _)) => sockets.push(socket),
                Err(_) => failed += 1,
            }
        }
    }
    let connect_time = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(&pid);
    let held = sockets.len();
    let per_connection = if held > 0 {
        (after.saturating_sub(before)) * 1024 / held as u64
    } else {
        0
    };
    println!(
        "connections held: {held} (failed: {failed}) in {:.1}s",
        connect_time.as_secs_f64()
    );
    println!("mock RSS: {before} KiB before, {after} KiB with {held} idle connections");
    println!("mock memory per idle connection: {per_connection} bytes");
    // Drain anything the server sent, then close.
    for socket in &mut sockets {
        let _ = tokio::time::timeout(Duration::from_millis(1), socket.next()).await;
    }
}

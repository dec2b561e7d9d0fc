//! The built-in mock target: HTTP on any path in four modes, WebSocket echo/ping/broadcast
//! with scopes, a Phoenix-channel subset, and its own metrics — what every executor test
//! and every `mock: true` plan runs against.
//!
//! Async like `exec/`: this module and the executor are the only ones that use tokio.
//! [`MockServer::start`] binds `127.0.0.1:0` on the caller's runtime (tests, the executor);
//! [`run_blocking`] is `loadplan mock`, with its own runtime, until Ctrl-C or SIGTERM.

mod broadcast;
mod http;
mod metrics;
mod phoenix;
mod state;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use crate::plan::model::MockMode;
use state::State;

/// How the mock answers HTTP requests.
#[derive(Debug, Clone)]
pub struct MockSettings {
    pub mode: MockMode,
    /// Status of `fixed` answers.
    pub status: u16,
    /// Body size of `fixed` answers, in bytes.
    pub body_size: usize,
}

impl Default for MockSettings {
    fn default() -> Self {
        Self {
            mode: MockMode::Fixed,
            status: 200,
            body_size: 256,
        }
    }
}

/// A running mock target.
pub struct MockServer {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    /// `ws://127.0.0.1:PORT/ws`
    pub ws_url: String,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl MockServer {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    pub async fn start(settings: MockSettings) -> std::io::Result<Self> {
        Self::bind(settings, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Binds `addr` and serves on the current tokio runtime.
    pub async fn bind(settings: MockSettings, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (shutdown, stopped) = watch::channel(false);
        let router = router(Arc::new(State::new(settings, stopped.clone())));
        let task = tokio::spawn(async move {
            let serve =
                axum::serve(listener, router).with_graceful_shutdown(state::until_stopped(stopped));
            // A stop ends the accept loop; connections still open (a `timeout` request,
            // a WebSocket) end with the runtime or when their tasks see the stop.
            let _ = serve.await;
        });
        Ok(Self {
            base_url: format!("http://{addr}"),
            ws_url: format!("ws://{addr}/ws"),
            addr,
            shutdown,
            task,
        })
    }

    /// Stops accepting, closes WebSockets, and waits (at most 2 s) for the server to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(2), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/socket/websocket", get(phoenix::upgrade))
        .route("/broadcast", post(broadcast::handle))
        .route("/metrics", get(metrics::prometheus))
        .route("/stats", get(metrics::stats))
        .fallback(http::handle)
        .with_state(state)
}

/// `loadplan mock`: serves on `port` of 127.0.0.1 (0 picks one), prints the URLs, and runs
/// until Ctrl-C or SIGTERM.
pub fn run_blocking(settings: MockSettings, port: u16) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let server =
            MockServer::bind(settings.clone(), SocketAddr::from(([127, 0, 0, 1], port))).await?;
        println!("loadplan mock ({:?} mode) listening", settings.mode);
        println!("  http:      {}", server.base_url);
        println!("  websocket: {}", server.ws_url);
        println!("  phoenix:   ws://{}/socket/websocket", server.addr);
        println!(
            "  metrics:   {}/metrics  stats: {}/stats",
            server.base_url, server.base_url
        );
        println!("Ctrl-C or SIGTERM stops it.");
        wait_for_signal().await;
        server.stop().await;
        Ok(())
    })
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

//! The built-in mock target: HTTP on any path in four modes, WebSocket echo/ping/broadcast
//! with scopes, a Phoenix-channel subset, and its own metrics — what every executor test
//! and every `mock: true` plan runs against.
//!
//! Async like `exec/`: this module and the executor are the only ones that use tokio.
//! [`MockServer::start`] binds `127.0.0.1:0` on the caller's runtime (tests, the executor);
//! [`run_blocking`] is `loadplan mock`, with its own runtime, until Ctrl-C or SIGTERM.

mod broadcast;
mod channels;
mod http;
mod listener;
mod metrics;
mod phoenix;
mod state;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{any, get, post};
use axum::serve::ListenerExt;
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
    /// Serve HTTPS and WSS (HTTP/1.1 and HTTP/2 by ALPN) with this PEM certificate chain
    /// and private key.
    pub tls: Option<TlsFiles>,
}

/// A PEM certificate chain and its private key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

impl TlsFiles {
    /// A rustls server configuration offering h2 and http/1.1.
    fn server_config(&self) -> std::io::Result<rustls::ServerConfig> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let invalid = |what: &std::path::Path, e: &dyn std::fmt::Display| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", what.display()),
            )
        };
        let certs = CertificateDer::pem_file_iter(&self.cert)
            .map_err(|e| invalid(&self.cert, &e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(&self.cert, &e))?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| invalid(&self.key, &e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(&self.cert, &e))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| invalid(&self.cert, &e))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

impl Default for MockSettings {
    fn default() -> Self {
        Self {
            mode: MockMode::Fixed,
            status: 200,
            body_size: 256,
            tls: None,
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
        let tls = match &settings.tls {
            Some(files) => Some(Arc::new(files.server_config()?)),
            None => None,
        };
        let state = Arc::new(State::new(settings, stopped.clone()));
        let router = router(Arc::clone(&state));
        if let Some(tls) = tls {
            let task = tokio::spawn(serve_tls(listener, router, tls, stopped, state));
            return Ok(Self {
                base_url: format!("https://{addr}"),
                ws_url: format!("wss://{addr}/ws"),
                addr,
                shutdown,
                task,
            });
        }
        // Without TCP_NODELAY, small writes in a row (a pong after echoes) wait for the
        // client's delayed ACK: ~40 ms that would be measured as the server's latency.
        let listener = listener::CountingListener::new(listener, state).tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
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

/// Serves `router` over TLS: each accepted connection is handshaken on its own task, then
/// served as HTTP/1.1 (with upgrades, for WebSockets) or HTTP/2, as ALPN chose.
async fn serve_tls(
    listener: TcpListener,
    router: Router,
    tls: Arc<rustls::ServerConfig>,
    mut stopped: watch::Receiver<bool>,
    state: Arc<State>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let (stream, _) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors or a reset before accept: try the next one.
                listener::accept_failed(&state, &error);
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (acceptor, router) = (acceptor.clone(), router.clone());
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(stream).await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(router);
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
        });
    }
}

fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/socket/websocket", get(phoenix::upgrade))
        .route("/broadcast", post(broadcast::handle))
        .route("/metrics", get(metrics::prometheus))
        .route("/stats", get(metrics::stats))
        .route("/channels", post(channels::create))
        .route(
            "/channels/{id}",
            get(channels::show).delete(channels::remove),
        )
        .route("/channels/{id}/{*rest}", any(channels::touch))
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
        let signals = StopSignals::listen()?;
        let server =
            MockServer::bind(settings.clone(), SocketAddr::from(([127, 0, 0, 1], port))).await?;
        say(format_args!(
            "loadplan mock ({:?} mode) listening",
            settings.mode
        ));
        say(format_args!("  http:      {}", server.base_url));
        say(format_args!("  websocket: {}", server.ws_url));
        say(format_args!(
            "  phoenix:   {}/socket/websocket",
            server.ws_url.trim_end_matches("/ws")
        ));
        say(format_args!(
            "  metrics:   {}/metrics  stats: {}/stats",
            server.base_url, server.base_url
        ));
        say(format_args!("Ctrl-C or SIGTERM stops it."));
        signals.wait().await;
        server.stop().await;
        Ok(())
    })
}

/// Prints a line to stdout; a closed stdout (the reader went away) is not an error.
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// SIGINT and SIGTERM, listened for from the moment this is made: made before the URLs
/// are printed, so whoever reads them can stop the mock at once (a signal that arrived
/// before the handlers were installed killed the process with the default action).
struct StopSignals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn listen() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

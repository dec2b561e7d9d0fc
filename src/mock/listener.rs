//! The mock's plain listener. axum's own accept loop logs an accept error to `tracing`
//! (which nothing here subscribes to) and sleeps a second: out of file descriptors, the
//! in-process mock stopped accepting for a second at a time and the VUs' handshakes timed
//! out, with nothing said. This one counts `EMFILE`/`ENFILE`
//! (`accept_out_of_descriptors_total` on `/stats`), says so once on stderr, and tries
//! again after 5 ms, as the TLS loop does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use super::state::State;

pub struct CountingListener {
    inner: TcpListener,
    state: Arc<State>,
}

impl CountingListener {
    pub fn new(inner: TcpListener, state: Arc<State>) -> Self {
        Self { inner, state }
    }
}

impl axum::serve::Listener for CountingListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok(accepted) => return accepted,
                Err(error) => {
                    accept_failed(&self.state, &error);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Counts an accept that found no file descriptor left, and says so the first time.
/// Other accept errors (a connection reset before it was accepted) are the client's.
pub fn accept_failed(state: &State, error: &std::io::Error) {
    if crate::results::out_of_descriptors(error)
        && state
            .counters
            .accept_out_of_descriptors
            .fetch_add(1, Relaxed)
            == 0
    {
        eprintln!(
            "mock: accept: too many open files (see `ulimit -n`); connections wait until one closes"
        );
    }
}

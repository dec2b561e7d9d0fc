//! What the mock shares between connections: settings, counters, and the registry of open
//! WebSockets (for broadcasts) and Phoenix topics.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ws::Message;
use tokio::sync::{mpsc, watch};

use super::MockSettings;
use super::metrics::Counters;

/// Messages queued for one connection beyond which broadcasts to it are dropped (counted):
/// a slow client must not make the mock's memory grow.
pub const QUEUE: usize = 256;

/// Who a `/ws` connection is, from its query string.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub scope: Option<String>,
    pub user: Option<String>,
    pub session: Option<String>,
    pub machine: Option<String>,
}

pub struct Connection {
    pub identity: Identity,
    pub outbox: mpsc::Sender<Message>,
}

pub struct State {
    pub settings: MockSettings,
    pub counters: Counters,
    pub stopped: watch::Receiver<bool>,
    next_id: AtomicU64,
    /// Open `/ws` connections by id.
    pub sockets: Mutex<HashMap<u64, Connection>>,
    /// Phoenix: open sockets by id, and topic → joined socket ids.
    pub phoenix: Mutex<Phoenix>,
    /// `/channels`: the resources setup and teardown create and delete.
    pub channels: super::channels::Channels,
}

#[derive(Default)]
pub struct Phoenix {
    pub outboxes: HashMap<u64, mpsc::Sender<Message>>,
    pub topics: HashMap<String, HashSet<u64>>,
    /// Each topic's numbered messages, for replays (`phoenix.rs`).
    pub streams: HashMap<String, super::phoenix::Stream>,
}

impl State {
    pub fn new(settings: MockSettings, stopped: watch::Receiver<bool>) -> Self {
        Self {
            settings,
            counters: Counters::default(),
            stopped,
            next_id: AtomicU64::new(1),
            sockets: Mutex::new(HashMap::new()),
            phoenix: Mutex::new(Phoenix::default()),
            channels: super::channels::Channels::default(),
        }
    }

    pub fn next_id(&self) -> u64 {
        // Relaxed: ids only need to be unique, not ordered with anything else.
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The socket registry; a poisoned lock (a panic elsewhere) is still usable, as the
    /// map is never left half-updated.
    pub fn sockets(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Connection>> {
        self.sockets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn phoenix(&self) -> std::sync::MutexGuard<'_, Phoenix> {
        self.phoenix
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Reads `key=value` pairs of a query string (no percent-decoding beyond `+`: the mock's
/// parameters are numbers and plain ids).
pub fn query_pairs(query: Option<&str>) -> impl Iterator<Item = (&str, &str)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// Resolves when the server is told to stop; never, if its handle was dropped without a stop
/// (the server then runs until its runtime ends).
pub async fn until_stopped(mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow_and_update() {
        if stopped.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

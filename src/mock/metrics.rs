//! The mock's own counters, served as Prometheus text (`GET /metrics`) and JSON
//! (`GET /stats`) — what a plan's `collect:` sources scrape in tests.
//!
//! All counters are relaxed atomics: each is an independent tally read for reporting, never
//! used to order other memory.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use axum::extract::State as Shared;
use axum::http::header;
use axum::response::IntoResponse;

use super::state::State;

/// Upper bounds of the request latency histogram, in seconds.
/// Upper bounds in seconds: the mock answers most requests in microseconds, so the first
/// bounds are fine enough for bucket quantiles of an undelayed run to mean something.
const BUCKETS: [f64; 16] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5, 1.0, 2.5, 5.0,
];

pub struct Counters {
    /// Requests answered, indexed by status - 100.
    by_status: Vec<AtomicU64>,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub ws_open: AtomicU64,
    pub ws_accepted: AtomicU64,
    pub ws_messages_in: AtomicU64,
    pub ws_messages_out: AtomicU64,
    pub broadcasts: AtomicU64,
    pub deliveries: AtomicU64,
    pub dropped: AtomicU64,
    /// Accepts that found no file descriptor left (`EMFILE`/`ENFILE`).
    pub accept_out_of_descriptors: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_nanos: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            by_status: (100..600).map(|_| AtomicU64::new(0)).collect(),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            ws_open: AtomicU64::new(0),
            ws_accepted: AtomicU64::new(0),
            ws_messages_in: AtomicU64::new(0),
            ws_messages_out: AtomicU64::new(0),
            broadcasts: AtomicU64::new(0),
            deliveries: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            accept_out_of_descriptors: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_count: AtomicU64::new(0),
            latency_sum_nanos: AtomicU64::new(0),
        }
    }
}

impl Counters {
    /// Counts an answered HTTP request.
    pub fn request(&self, status: u16, elapsed: Duration) {
        if let Some(slot) = self.by_status.get(usize::from(status).wrapping_sub(100)) {
            slot.fetch_add(1, Relaxed);
        }
        let seconds = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Relaxed);
        // Nanoseconds: most answers take less than a microsecond to reach their head.
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.latency_sum_nanos.fetch_add(nanos, Relaxed);
    }

    /// Counts a WebSocket connection that opened.
    pub fn ws_opened(&self) {
        self.ws_open.fetch_add(1, Relaxed);
        self.ws_accepted.fetch_add(1, Relaxed);
    }

    fn statuses(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.by_status
            .iter()
            .enumerate()
            .filter_map(|(index, count)| {
                let count = count.load(Relaxed);
                // `index` is below 500, so the status fits.
                (count > 0).then(|| (index as u16 + 100, count))
            })
    }

    fn requests(&self) -> u64 {
        self.statuses().map(|(_, count)| count).sum()
    }
}

/// `GET /metrics`: Prometheus text exposition format 0.0.4.
pub async fn prometheus(Shared(state): Shared<Arc<State>>) -> impl IntoResponse {
    let c = &state.counters;
    let mut out = String::with_capacity(2048);
    out.push_str("# HELP mock_http_requests_total HTTP requests answered, by status.\n");
    out.push_str("# TYPE mock_http_requests_total counter\n");
    for (status, count) in c.statuses() {
        let _ = writeln!(
            out,
            "mock_http_requests_total{{status=\"{status}\"}} {count}"
        );
    }
    let simple = [
        (
            "mock_http_bytes_in_total",
            "counter",
            "Request body bytes read.",
            &c.bytes_in,
        ),
        (
            "mock_http_bytes_out_total",
            "counter",
            "Response body bytes written.",
            &c.bytes_out,
        ),
        (
            "mock_ws_connections_open",
            "gauge",
            "Open WebSocket connections (/ws and Phoenix).",
            &c.ws_open,
        ),
        (
            "mock_ws_connections_total",
            "counter",
            "WebSocket connections accepted.",
            &c.ws_accepted,
        ),
        (
            "mock_ws_messages_in_total",
            "counter",
            "WebSocket messages received.",
            &c.ws_messages_in,
        ),
        (
            "mock_ws_messages_out_total",
            "counter",
            "WebSocket messages sent.",
            &c.ws_messages_out,
        ),
        (
            "mock_broadcasts_total",
            "counter",
            "POST /broadcast calls and Phoenix topic events.",
            &c.broadcasts,
        ),
        (
            "mock_broadcast_deliveries_total",
            "counter",
            "Messages delivered by broadcasts.",
            &c.deliveries,
        ),
        (
            "mock_broadcast_dropped_total",
            "counter",
            "Broadcast messages dropped for a full client queue.",
            &c.dropped,
        ),
        (
            "mock_accept_out_of_descriptors_total",
            "counter",
            "Accepts that found no file descriptor left (EMFILE/ENFILE).",
            &c.accept_out_of_descriptors,
        ),
    ];
    for (name, kind, help, value) in simple {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
            value.load(Relaxed)
        );
    }
    let ch = &state.channels;
    let channels = [
        (
            "mock_channels_created_total",
            "counter",
            "Channels created by POST /channels.",
            ch.created.load(Relaxed),
        ),
        (
            "mock_channels_deleted_total",
            "counter",
            "Channels deleted by DELETE /channels/{id}.",
            ch.deleted.load(Relaxed),
        ),
        (
            "mock_channels_open",
            "gauge",
            "Channels open now.",
            ch.open_now() as u64,
        ),
        (
            "mock_channels_refused_total",
            "counter",
            "Creates refused with 429: too many channels open.",
            ch.refused.load(Relaxed),
        ),
        (
            "mock_channel_requests_total",
            "counter",
            "Requests to /channels/{id}/... of an open channel.",
            ch.requests.load(Relaxed),
        ),
        (
            "mock_channel_unknown_total",
            "counter",
            "Requests naming a channel id not open (404).",
            ch.unknown.load(Relaxed),
        ),
    ];
    for (name, kind, help, value) in channels {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    out.push_str("# HELP mock_http_request_duration_seconds Time from request to response head.\n");
    out.push_str("# TYPE mock_http_request_duration_seconds histogram\n");
    for (bound, bucket) in BUCKETS.iter().zip(&c.buckets) {
        let _ = writeln!(
            out,
            "mock_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
            bucket.load(Relaxed)
        );
    }
    let count = c.latency_count.load(Relaxed);
    let _ = writeln!(
        out,
        "mock_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    #[allow(clippy::cast_precision_loss)] // a sum of microseconds as seconds
    let sum = c.latency_sum_nanos.load(Relaxed) as f64 / 1e9;
    let _ = writeln!(out, "mock_http_request_duration_seconds_sum {sum}");
    let _ = writeln!(out, "mock_http_request_duration_seconds_count {count}");
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

/// `GET /stats`: the same counters as JSON.
pub async fn stats(Shared(state): Shared<Arc<State>>) -> impl IntoResponse {
    let c = &state.counters;
    let by_status: serde_json::Map<String, serde_json::Value> = c
        .statuses()
        .map(|(status, count)| (status.to_string(), count.into()))
        .collect();
    let body = serde_json::json!({
        "http_requests_total": c.requests(),
        "http_requests_by_status": by_status,
        "http_bytes_in_total": c.bytes_in.load(Relaxed),
        "http_bytes_out_total": c.bytes_out.load(Relaxed),
        "ws_connections_open": c.ws_open.load(Relaxed),
        "ws_connections_total": c.ws_accepted.load(Relaxed),
        "ws_messages_in_total": c.ws_messages_in.load(Relaxed),
        "ws_messages_out_total": c.ws_messages_out.load(Relaxed),
        "broadcasts_total": c.broadcasts.load(Relaxed),
        "broadcast_deliveries_total": c.deliveries.load(Relaxed),
        "broadcast_dropped_total": c.dropped.load(Relaxed),
        "accept_out_of_descriptors_total": c.accept_out_of_descriptors.load(Relaxed),
        "http_request_duration_seconds_count": c.latency_count.load(Relaxed),
        "channels_created": state.channels.created.load(Relaxed),
        "channels_deleted": state.channels.deleted.load(Relaxed),
        "channels_open": state.channels.open_now(),
        "channels_refused": state.channels.refused.load(Relaxed),
        "channel_requests": state.channels.requests.load(Relaxed),
        "channel_unknown": state.channels.unknown.load(Relaxed),
        "mode": format!("{:?}", state.settings.mode).to_lowercase(),
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}

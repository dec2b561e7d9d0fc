//! A small resource API for plans' `setup:` and `teardown:` to create and remove what the
//! load uses: `POST /channels` makes a channel (`201 {"id", "topic"}`), `GET` and `DELETE
//! /channels/{id}` read and remove it (404 for an id the mock does not hold), and any
//! request to `/channels/{id}/…` is counted against it and answered as any path is. At most [`MAX_OPEN`] channels are
//! open at once; past that a create gets 429, so a client cannot make the mock's memory
//! grow without bound.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use axum::extract::{Path, Request, State as Shared};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::state::{State, query_pairs};

/// The most channels open at once.
pub const MAX_OPEN: usize = 1024;

/// The longest `?topic=` kept; a longer one is refused (400).
const MAX_TOPIC: usize = 200;

/// The channels and their counters.
#[derive(Default)]
pub struct Channels {
    open: Mutex<HashMap<String, Channel>>,
    next: AtomicU64,
    pub created: AtomicU64,
    pub deleted: AtomicU64,
    /// Creates refused with 429 because [`MAX_OPEN`] were open.
    pub refused: AtomicU64,
    /// Requests to `/channels/{id}/…` of an open channel.
    pub requests: AtomicU64,
    /// Requests to `/channels/{id}` (404) or `/channels/{id}/…` of an id not open.
    pub unknown: AtomicU64,
}

struct Channel {
    topic: String,
    requests: u64,
}

impl Channels {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Channel>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Channels open now.
    pub fn open_now(&self) -> usize {
        self.map().len()
    }
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `POST /channels[?topic=T]`: `201 {"id": "ch-N", "topic": T or "room:ch-N"}`.
pub async fn create(Shared(state): Shared<Arc<State>>, request: Request) -> Response {
    let started = Instant::now();
    let channels = &state.channels;
    let topic = query_pairs(request.uri().query())
        .find(|(key, _)| *key == "topic")
        .map(|(_, value)| value.to_owned());
    if topic
        .as_ref()
        .is_some_and(|t| t.is_empty() || t.len() > MAX_TOPIC)
    {
        state.counters.request(400, started.elapsed());
        let error = format!("topic must be 1 to {MAX_TOPIC} bytes");
        return json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({ "error": error }),
        );
    }
    let mut open = channels.map();
    if open.len() >= MAX_OPEN {
        drop(open);
        channels.refused.fetch_add(1, Relaxed);
        state.counters.request(429, started.elapsed());
        let error = format!("{MAX_OPEN} channels are open; delete one first");
        return json(
            StatusCode::TOO_MANY_REQUESTS,
            &serde_json::json!({ "error": error }),
        );
    }
    let id = format!("ch-{}", channels.next.fetch_add(1, Relaxed) + 1);
    let topic = topic.unwrap_or_else(|| format!("room:{id}"));
    open.insert(
        id.clone(),
        Channel {
            topic: topic.clone(),
            requests: 0,
        },
    );
    drop(open);
    channels.created.fetch_add(1, Relaxed);
    state.counters.request(201, started.elapsed());
    json(
        StatusCode::CREATED,
        &serde_json::json!({ "id": id, "topic": topic }),
    )
}

/// `GET /channels/{id}`: `{"id", "topic", "requests"}`, or 404.
pub async fn show(Shared(state): Shared<Arc<State>>, Path(id): Path<String>) -> Response {
    let started = Instant::now();
    let found = state
        .channels
        .map()
        .get(&id)
        .map(|channel| (channel.topic.clone(), channel.requests));
    match found {
        Some((topic, requests)) => {
            state.counters.request(200, started.elapsed());
            json(
                StatusCode::OK,
                &serde_json::json!({ "id": id, "topic": topic, "requests": requests }),
            )
        }
        None => not_found(&state, started),
    }
}

/// `DELETE /channels/{id}`: 204, or 404 for an id not open.
pub async fn remove(Shared(state): Shared<Arc<State>>, Path(id): Path<String>) -> Response {
    let started = Instant::now();
    let removed = state.channels.map().remove(&id).is_some();
    if !removed {
        return not_found(&state, started);
    }
    state.channels.deleted.fetch_add(1, Relaxed);
    state.counters.request(204, started.elapsed());
    StatusCode::NO_CONTENT.into_response()
}

/// Any method on `/channels/{id}/…`: counted against the channel when it is open (in
/// `channel_unknown` when not), then answered as any path is (the mode, `?delay=`,
/// `?status=`), so plans that used such paths as plain targets before the API existed
/// keep their answers.
pub async fn touch(
    Shared(state): Shared<Arc<State>>,
    Path((id, _rest)): Path<(String, String)>,
    request: Request,
) -> Response {
    let open = state
        .channels
        .map()
        .get_mut(&id)
        .map(|channel| channel.requests += 1)
        .is_some();
    let counter = if open {
        &state.channels.requests
    } else {
        &state.channels.unknown
    };
    counter.fetch_add(1, Relaxed);
    super::http::handle(Shared(state), request).await
}

fn not_found(state: &State, started: Instant) -> Response {
    state.channels.unknown.fetch_add(1, Relaxed);
    state.counters.request(404, started.elapsed());
    json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({ "error": "no such channel" }),
    )
}

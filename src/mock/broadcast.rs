//! `POST /broadcast`: sends the JSON body to every `/ws` connection it selects and answers
//! `{"delivered": N}`. The body's `scope`, `user`, `session` and `machine` fields, when
//! present, must equal the connection's query parameters of the same names.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use axum::extract::State as Shared;
use axum::extract::ws::Message;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::state::{Identity, State};

pub async fn handle(Shared(state): Shared<Arc<State>>, body: Bytes) -> Response {
    state
        .counters
        .bytes_in
        .fetch_add(body.len() as u64, Relaxed);
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice::<serde_json::Value>(&body)
    else {
        state.counters.request(400, std::time::Duration::ZERO);
        return (StatusCode::BAD_REQUEST, "the body must be a JSON object").into_response();
    };
    let wanted = |key: &str| {
        fields.get(key).and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| Some(v.to_string()))
        })
    };
    let filter = Identity {
        scope: wanted("scope"),
        user: wanted("user"),
        session: wanted("session"),
        machine: wanted("machine"),
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    let (mut delivered, mut dropped) = (0u64, 0u64);
    for connection in state.sockets().values() {
        if !selects(&filter, &connection.identity) {
            continue;
        }
        match connection
            .outbox
            .try_send(Message::Text(text.clone().into()))
        {
            Ok(()) => delivered += 1,
            Err(_) => dropped += 1,
        }
    }
    state.counters.broadcasts.fetch_add(1, Relaxed);
    state.counters.deliveries.fetch_add(delivered, Relaxed);
    state.counters.dropped.fetch_add(dropped, Relaxed);
    state.counters.request(200, std::time::Duration::ZERO);
    let answer = serde_json::json!({ "delivered": delivered }).to_string();
    ([(header::CONTENT_TYPE, "application/json")], answer).into_response()
}

/// Whether a connection matches every field the broadcast names.
fn selects(filter: &Identity, connection: &Identity) -> bool {
    let fits = |wanted: &Option<String>, has: &Option<String>| wanted.is_none() || wanted == has;
    fits(&filter.scope, &connection.scope)
        && fits(&filter.user, &connection.user)
        && fits(&filter.session, &connection.session)
        && fits(&filter.machine, &connection.machine)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(scope: &str, user: &str) -> Identity {
        Identity {
            scope: Some(scope.into()),
            user: Some(user.into()),
            ..Identity::default()
        }
    }

    #[test]
    fn filters_by_every_named_field() {
        let everyone = Identity::default();
        assert!(selects(&everyone, &id("user", "u1")));
        let users = Identity {
            scope: Some("user".into()),
            ..Identity::default()
        };
        assert!(selects(&users, &id("user", "u1")));
        assert!(!selects(&users, &id("session", "u1")));
        assert!(selects(&id("user", "u1"), &id("user", "u1")));
        assert!(!selects(&id("user", "u1"), &id("user", "u2")));
    }
}

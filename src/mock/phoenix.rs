//! `/socket/websocket`: the subset of the Phoenix channel protocol (v2 JSON arrays,
//! `[join_ref, ref, topic, event, payload]`) that chat backends' load tests use:
//! `phx_join` → `phx_reply` ok, `heartbeat` on `phoenix` → reply, `phx_leave`, and any other
//! event on a joined topic broadcast to every socket joined to it (the sender too), with
//! an ok `phx_reply` to the sender, as a channel that does `{:reply, :ok, socket}` would.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use axum::extract::State as Shared;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::state::{QUEUE, State};
use super::ws::{pump, tuned};

pub async fn upgrade(Shared(state): Shared<Arc<State>>, ws: WebSocketUpgrade) -> Response {
    tuned(ws).on_upgrade(move |socket| serve(state, socket))
}

async fn serve(state: Arc<State>, mut socket: WebSocket) {
    let id = state.next_id();
    let (outbox, mut inbox) = mpsc::channel(QUEUE);
    state.phoenix().outboxes.insert(id, outbox);
    state.counters.ws_opened();
    pump(
        &state,
        &mut socket,
        &mut inbox,
        None,
        |message| match message {
            Message::Text(text) => handle(&state, id, text.as_str()),
            _ => None,
        },
    )
    .await;
    let mut phoenix = state.phoenix();
    phoenix.outboxes.remove(&id);
    for members in phoenix.topics.values_mut() {
        members.remove(&id);
    }
    phoenix.topics.retain(|_, members| !members.is_empty());
    drop(phoenix);
    state.counters.ws_open.fetch_sub(1, Relaxed);
}

fn reply(join_ref: &Value, msg_ref: &Value, topic: &str, status: &str, response: Value) -> Message {
    let frame =
        json!([join_ref, msg_ref, topic, "phx_reply", { "status": status, "response": response }]);
    Message::Text(frame.to_string().into())
}

/// Handles one frame from socket `id`, returning the direct reply, if any.
fn handle(state: &State, id: u64, text: &str) -> Option<Message> {
    let Ok(Value::Array(frame)) = serde_json::from_str::<Value>(text) else {
        return None;
    };
    let [
        join_ref,
        msg_ref,
        Value::String(topic),
        Value::String(event),
        payload,
    ] = &frame[..]
    else {
        return None;
    };
    let mut phoenix = state.phoenix();
    match event.as_str() {
        "heartbeat" if topic == "phoenix" => {
            Some(reply(&Value::Null, msg_ref, topic, "ok", json!({})))
        }
        "phx_join" => {
            phoenix.topics.entry(topic.clone()).or_default().insert(id);
            Some(reply(join_ref, msg_ref, topic, "ok", json!({})))
        }
        "phx_leave" => {
            if let Some(members) = phoenix.topics.get_mut(topic) {
                members.remove(&id);
            }
            Some(reply(join_ref, msg_ref, topic, "ok", json!({})))
        }
        _ => {
            let joined = phoenix
                .topics
                .get(topic)
                .is_some_and(|members| members.contains(&id));
            if !joined {
                return Some(reply(
                    join_ref,
                    msg_ref,
                    topic,
                    "error",
                    json!({ "reason": "unmatched topic" }),
                ));
            }
            let pushed = Message::Text(
                json!([Value::Null, Value::Null, topic, event, payload])
                    .to_string()
                    .into(),
            );
            let (mut delivered, mut dropped) = (0u64, 0u64);
            if let Some(members) = phoenix.topics.get(topic) {
                for member in members {
                    let Some(outbox) = phoenix.outboxes.get(member) else {
                        continue;
                    };
                    match outbox.try_send(pushed.clone()) {
                        Ok(()) => delivered += 1,
                        Err(_) => dropped += 1,
                    }
                }
            }
            state.counters.broadcasts.fetch_add(1, Relaxed);
            state.counters.deliveries.fetch_add(delivered, Relaxed);
            state.counters.dropped.fetch_add(dropped, Relaxed);
            Some(reply(join_ref, msg_ref, topic, "ok", json!({})))
        }
    }
}

//! `/socket/websocket`: the subset of the Phoenix channel protocol (v2 JSON arrays,
//! `[join_ref, ref, topic, event, payload]`) that chat backends' load tests use:
//! `phx_join` → `phx_reply` ok, `heartbeat` on `phoenix` → reply, `phx_leave`, and any other
//! event on a joined topic broadcast to every socket joined to it (the sender too), with
//! an ok `phx_reply` to the sender, as a channel that does `{:reply, :ok, socket}` would.
//!
//! Replay: each topic numbers its pushes (`seq`, 1, 2, 3…, set in an object payload) and
//! keeps the last [`KEEP`]; a join whose payload has `"cursor": N` first gets every kept
//! push after N, in order, then the live ones. Its reply's response names the topic's
//! last number (`{"seq": N}`). For tests of replay checks, the same payload can make the
//! replay misbehave: `"drop"`, `"duplicate"` and `"swap"` (each a list of numbers; a
//! swapped N comes after N + 1).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use axum::extract::State as Shared;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::state::{Phoenix, QUEUE, State};

/// Pushes each topic keeps for replays.
pub const KEEP: usize = 10_000;
/// Topics whose pushes are kept; a new topic beyond this many evicts another's.
pub const TOPICS: usize = 1_000;

/// A topic's numbered pushes: the last number given and the last [`KEEP`] pushes.
#[derive(Default)]
pub struct Stream {
    last: u64,
    kept: VecDeque<(u64, Message)>,
}
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
            _ => Vec::new(),
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

/// Handles one frame from socket `id`, returning what it answers, in order: a reply,
/// and after a join with a cursor, the replay.
fn handle(state: &State, id: u64, text: &str) -> Vec<Message> {
    let Ok(Value::Array(frame)) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let [
        join_ref,
        msg_ref,
        Value::String(topic),
        Value::String(event),
        payload,
    ] = &frame[..]
    else {
        return Vec::new();
    };
    let mut phoenix = state.phoenix();
    match event.as_str() {
        "heartbeat" if topic == "phoenix" => {
            vec![reply(&Value::Null, msg_ref, topic, "ok", json!({}))]
        }
        "phx_join" => {
            phoenix.topics.entry(topic.clone()).or_default().insert(id);
            let last = phoenix.streams.get(topic).map_or(0, |stream| stream.last);
            let mut answers = vec![reply(
                join_ref,
                msg_ref,
                topic,
                "ok",
                json!({ "seq": last }),
            )];
            if let Some(cursor) = payload.get("cursor").and_then(number) {
                answers.extend(replay(&phoenix, topic, cursor, &Faults::of(payload)));
            }
            answers
        }
        "phx_leave" => {
            if let Some(members) = phoenix.topics.get_mut(topic) {
                members.remove(&id);
            }
            vec![reply(join_ref, msg_ref, topic, "ok", json!({}))]
        }
        _ => {
            let joined = phoenix
                .topics
                .get(topic)
                .is_some_and(|members| members.contains(&id));
            if !joined {
                return vec![reply(
                    join_ref,
                    msg_ref,
                    topic,
                    "error",
                    json!({ "reason": "unmatched topic" }),
                )];
            }
            let pushed = numbered(&mut phoenix, topic, event, payload);
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
            vec![reply(join_ref, msg_ref, topic, "ok", json!({}))]
        }
    }
}

/// A cursor or a listed number: an integer, or a string holding one (a template's).
fn number(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
}

/// The push of `event` on `topic`, numbered (`seq` set in an object payload) and kept.
fn numbered(phoenix: &mut Phoenix, topic: &str, event: &str, payload: &Value) -> Message {
    if !phoenix.streams.contains_key(topic) && phoenix.streams.len() >= TOPICS {
        let evicted = phoenix.streams.keys().next().cloned();
        if let Some(evicted) = evicted {
            phoenix.streams.remove(&evicted);
        }
    }
    let stream = phoenix.streams.entry(topic.to_owned()).or_default();
    stream.last += 1;
    let mut payload = payload.clone();
    if let Value::Object(fields) = &mut payload {
        fields.insert("seq".to_owned(), json!(stream.last));
    }
    let pushed = Message::Text(
        json!([Value::Null, Value::Null, topic, event, payload])
            .to_string()
            .into(),
    );
    stream.kept.push_back((stream.last, pushed.clone()));
    if stream.kept.len() > KEEP {
        stream.kept.pop_front();
    }
    pushed
}

/// How a join asked its replay to misbehave: numbers to leave out, send twice, or send
/// after the next one.
#[derive(Debug, Default)]
struct Faults {
    drop: Vec<u64>,
    duplicate: Vec<u64>,
    swap: Vec<u64>,
}

impl Faults {
    /// At most 1,000 numbers of each list are read.
    fn of(payload: &Value) -> Self {
        let list = |key: &str| -> Vec<u64> {
            payload
                .get(key)
                .and_then(Value::as_array)
                .map(|items| items.iter().take(1_000).filter_map(number).collect())
                .unwrap_or_default()
        };
        Self {
            drop: list("drop"),
            duplicate: list("duplicate"),
            swap: list("swap"),
        }
    }
}

/// The kept pushes of `topic` after `cursor`, in order, but for the `faults` asked.
fn replay(phoenix: &Phoenix, topic: &str, cursor: u64, faults: &Faults) -> Vec<Message> {
    let Some(stream) = phoenix.streams.get(topic) else {
        return Vec::new();
    };
    let start = stream.kept.partition_point(|(seq, _)| *seq <= cursor);
    let mut out: Vec<(u64, Message)> = Vec::new();
    for (seq, message) in stream.kept.range(start..) {
        if faults.drop.contains(seq) {
            continue;
        }
        out.push((*seq, message.clone()));
        if faults.duplicate.contains(seq) {
            out.push((*seq, message.clone()));
        }
    }
    for swapped in &faults.swap {
        let at = out.iter().position(|(seq, _)| seq == swapped);
        if let Some(at) = at
            && at + 1 < out.len()
        {
            out.swap(at, at + 1);
        }
    }
    out.into_iter().map(|(_, message)| message).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs(messages: &[Message]) -> Vec<u64> {
        messages
            .iter()
            .map(|message| {
                let Message::Text(text) = message else {
                    panic!("a text push")
                };
                let frame: Value = serde_json::from_str(text.as_str()).expect("JSON");
                frame[4]["seq"].as_u64().expect("numbered")
            })
            .collect()
    }

    #[test]
    fn pushes_are_numbered_kept_and_replayed_after_a_cursor() {
        let mut phoenix = Phoenix::default();
        for _ in 0..KEEP + 5 {
            numbered(&mut phoenix, "room:a", "message", &json!({"text": "hi"}));
        }
        numbered(&mut phoenix, "room:b", "message", &json!({}));
        let none = Faults::default();
        assert_eq!(seqs(&replay(&phoenix, "room:b", 0, &none)), [1]);
        let last = (KEEP + 5) as u64;
        assert_eq!(
            seqs(&replay(&phoenix, "room:a", last - 3, &none)),
            [last - 2, last - 1, last]
        );
        // Only the last KEEP are kept.
        assert_eq!(replay(&phoenix, "room:a", 0, &none).len(), KEEP);
        assert!(replay(&phoenix, "room:c", 0, &none).is_empty());
        let faults =
            Faults::of(&json!({"drop": [last - 4], "duplicate": ["3"], "swap": [last - 2]}));
        let cursor = last - 6;
        assert_eq!(
            seqs(&replay(&phoenix, "room:a", cursor, &faults)),
            [last - 5, last - 3, last - 1, last - 2, last]
        );
    }

    #[test]
    fn topics_kept_are_bounded() {
        let mut phoenix = Phoenix::default();
        for topic in 0..TOPICS + 10 {
            numbered(&mut phoenix, &format!("t:{topic}"), "m", &json!({}));
        }
        assert_eq!(phoenix.streams.len(), TOPICS);
    }
}

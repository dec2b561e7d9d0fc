//! `/ws`: echo, JSON ping → pong, broadcasts by scope, and per-connection `?delay=ms`.
//!
//! One task per connection selects over the socket, its outbox (broadcasts) and the stop
//! signal. Buffers are sized on purpose: tungstenite's defaults (a 128 KiB read buffer)
//! cost ~135 KiB per idle connection; 4 KiB reads and no write buffer cost ~7 KiB.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State as Shared};
use axum::http::HeaderMap;
use axum::response::Response;
use tokio::sync::mpsc;

use super::state::{Connection, Identity, QUEUE, State, query_pairs};

/// Largest message or frame accepted, and the most queued for writing.
pub const MAX_MESSAGE: usize = 1 << 20;

/// Applies the mock's buffer sizes to an upgrade.
pub fn tuned(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_MESSAGE)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
}

pub async fn upgrade(
    Shared(state): Shared<Arc<State>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // The first subprotocol a client offers is the one chosen (and named in its pongs).
    let offered = headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty());
    let mut identity = Identity::default();
    let mut delay = None;
    for (key, value) in query_pairs(query.as_deref()) {
        let value = Some(value.to_owned());
        match key {
            "scope" => identity.scope = value,
            "user" => identity.user = value,
            "session" => identity.session = value,
            "machine" => identity.machine = value,
            "delay" => {
                delay = value
                    .and_then(|v| v.parse().ok())
                    .map(|ms: u64| Duration::from_millis(ms.min(60_000)));
            }
            _ => {}
        }
    }
    let ws = match offered {
        Some(protocol) => tuned(ws).protocols([protocol]),
        None => tuned(ws),
    };
    ws.on_upgrade(move |socket| serve(state, socket, identity, delay))
}

async fn serve(
    state: Arc<State>,
    mut socket: WebSocket,
    identity: Identity,
    delay: Option<Duration>,
) {
    let id = state.next_id();
    let (outbox, mut inbox) = mpsc::channel(QUEUE);
    state.sockets().insert(id, Connection { identity, outbox });
    state.counters.ws_opened();
    let protocol = socket
        .protocol()
        .and_then(|p| p.to_str().ok())
        .map(str::to_owned);
    pump(
        &state,
        &mut socket,
        &mut inbox,
        delay,
        |message| match message {
            Message::Text(text) => Some(Message::Text(
                answer(text.as_str(), protocol.as_deref()).into(),
            )),
            Message::Binary(data) => Some(Message::Binary(data)),
            // tungstenite answers pings itself; pongs need nothing.
            _ => None,
        },
    )
    .await;
    state.sockets().remove(&id);
    state.counters.ws_open.fetch_sub(1, Relaxed);
}

/// Serves one connection until it closes or the mock stops: each message received goes to
/// `reply`, whose answers (none, one, or several in order) are sent after `delay`; queued
/// broadcasts go out as they come, never between the answers to one message.
pub async fn pump<R: IntoIterator<Item = Message>>(
    state: &State,
    socket: &mut WebSocket,
    inbox: &mut mpsc::Receiver<Message>,
    delay: Option<Duration>,
    mut reply: impl FnMut(Message) -> R,
) {
    let stopped = super::state::until_stopped(state.stopped.clone());
    tokio::pin!(stopped);
    loop {
        let answers = tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(message)) => {
                    state.counters.ws_messages_in.fetch_add(1, Relaxed);
                    Answers::Replies(reply(message).into_iter().peekable())
                }
            },
            Some(queued) = inbox.recv() => Answers::Queued(Some(queued)),
            () = &mut stopped => {
                let _ = socket.send(Message::Close(None)).await;
                break;
            }
        };
        let answers = match answers {
            Answers::Replies(mut replies) => {
                if replies.peek().is_none() {
                    continue;
                }
                if let Some(wait) = delay {
                    tokio::time::sleep(wait).await;
                }
                Answers::Replies(replies)
            }
            queued @ Answers::Queued(_) => queued,
        };
        for answer in answers {
            if socket.send(answer).await.is_err() {
                return;
            }
            state.counters.ws_messages_out.fetch_add(1, Relaxed);
        }
    }
}

/// What the pump sends next: the answers to a message, or a queued broadcast.
enum Answers<I: Iterator<Item = Message>> {
    Replies(std::iter::Peekable<I>),
    Queued(Option<Message>),
}

impl<I: Iterator<Item = Message>> Iterator for Answers<I> {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        match self {
            Self::Replies(replies) => replies.next(),
            Self::Queued(queued) => queued.take(),
        }
    }
}

/// The reply to a text message: `{"type":"pong","id":X}` for `{"type":"ping","id":X}`
/// (with `"protocol"` when a subprotocol was chosen), else the text itself.
fn answer(text: &str, protocol: Option<&str>) -> String {
    if text.trim_start().starts_with('{')
        && let Ok(serde_json::Value::Object(message)) = serde_json::from_str(text)
        && message.get("type").and_then(|t| t.as_str()) == Some("ping")
    {
        let id = message
            .get("id")
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        return match protocol {
            Some(protocol) => {
                serde_json::json!({ "type": "pong", "id": id, "protocol": protocol }).to_string()
            }
            None => serde_json::json!({ "type": "pong", "id": id }).to_string(),
        };
    }
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_gets_pong_and_the_rest_echoes() {
        assert_eq!(
            answer(r#"{"type":"ping","id":"a1"}"#, None),
            r#"{"type":"pong","id":"a1"}"#
        );
        assert_eq!(
            answer(r#"{"type":"ping","id":7,"pad":"xx"}"#, None),
            r#"{"type":"pong","id":7}"#
        );
        assert_eq!(answer(r#"{"type":"chat"}"#, None), r#"{"type":"chat"}"#);
        assert_eq!(
            answer(r#"{"type":"ping","id":1}"#, Some("chat.v2")),
            r#"{"type":"pong","id":1,"protocol":"chat.v2"}"#
        );
        assert_eq!(answer("hello", None), "hello");
    }
}

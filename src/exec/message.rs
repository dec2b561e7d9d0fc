//! A WebSocket step's synchronous half, before `vu.rs` touches the socket: the upgrade a
//! `connect` step asks for, and the frame a `send` step sends (rendered, its id marked,
//! stored by `as:`).

use std::time::Duration;

use base64::Engine;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::context::{Context, MessageText};
use super::shared::Shared;
use super::step_error::StepError;
use super::ws::id_text;
use crate::plan::model::{Connect, ConnectStep, SendStep};
use crate::plan::template::TemplateSet;

/// Default time a WebSocket handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A WebSocket to open: where, with which headers and limits, under which `name` tag.
pub struct Handshake<'s> {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub max_message: usize,
    pub name: Option<&'s str>,
}

/// The handshake a `connect` step asks for, its templates rendered; `max_message`: the
/// plan's `limits.max_message`, unless the step sets `max_message_size`.
pub fn handshake<'s>(
    context: &mut Context,
    templates: &TemplateSet,
    step: &'s ConnectStep,
    max_message: usize,
) -> Result<Handshake<'s>, StepError> {
    let settings = match &step.connect {
        Connect::Url(_) => None,
        Connect::Settings(settings) => Some(settings),
    };
    let url = context.string(templates, step.connect.url().as_str())?;
    let mut headers = Vec::new();
    if let Some(settings) = settings {
        for (name, value) in &settings.headers {
            headers.push((name.clone(), context.string(templates, value.as_str())?));
        }
        if !settings.subprotocols.is_empty() {
            headers.push((
                "sec-websocket-protocol".to_owned(),
                settings.subprotocols.join(", "),
            ));
        }
    }
    Ok(Handshake {
        url,
        headers,
        timeout: settings
            .and_then(|s| s.timeout)
            .map_or(CONNECT_TIMEOUT, |d| d.0),
        max_message: settings
            .and_then(|s| s.max_message_size)
            .map_or(max_message, |s| usize::try_from(s.0).unwrap_or(usize::MAX)),
        name: settings.and_then(|s| s.name.as_deref()),
    })
}

/// The frame a `send` step sends; its `mark`ed id is registered and `as:` stores the
/// message, both before it is sent.
pub fn frame(
    context: &mut Context,
    shared: &Shared,
    step: &SendStep,
) -> Result<WsMessage, StepError> {
    let templates = &shared.templates;
    let message = &step.send;
    Ok(if let Some(json) = &message.json {
        let value = context.json(templates, json)?;
        let text = serde_json::to_string(&value)
            .map_err(|error| StepError::Serialize(error.to_string()))?;
        if let Some(id) = message.mark.as_ref().and_then(|path| path.find(&value)) {
            shared.mark(id_text(id));
        }
        if let Some(name) = &step.capture {
            context.set_message(name, MessageText::OfJson, Some(value));
        }
        WsMessage::text(text)
    } else if let Some(text) = &message.text {
        let text = context.string(templates, text.as_str())?;
        if let Some(name) = &step.capture {
            context.set_message(name, MessageText::Owned(text.clone()), None);
        }
        WsMessage::text(text)
    } else if let Some(binary) = &message.binary {
        let encoded = context.string(templates, binary.as_str())?;
        let data = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| StepError::InvalidBase64 { step: "send" })?;
        if let Some(name) = &step.capture {
            context.set(name, &Value::Null);
        }
        WsMessage::binary(data)
    } else {
        return Err(StepError::NoMessage);
    })
}

//! HTTP on any path and method: the mode's answer, overridden per request by
//! `?delay=ms&status=N&response_size=N`. Request bodies are read and discarded as they
//! stream in, so an upload of any size costs no memory.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State as Shared};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::BodyExt;

use super::MockMode;
use super::state::{State, query_pairs};

/// Response bodies are slices of this, repeated for larger sizes: no allocation per request.
static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];

/// The longest `?delay=` honoured, and how long `timeout` mode holds a request.
const LONGEST_WAIT: Duration = Duration::from_secs(3600);

/// Per-request overrides from the query string.
#[derive(Debug, Default)]
struct Overrides {
    delay: Option<Duration>,
    status: Option<u16>,
    size: Option<usize>,
}

fn overrides(query: Option<&str>) -> Result<Overrides, String> {
    let mut out = Overrides::default();
    for (key, value) in query_pairs(query) {
        match key {
            "delay" => {
                let ms: u64 = value
                    .parse()
                    .map_err(|_| format!("delay must be milliseconds, got `{value}`"))?;
                out.delay = Some(Duration::from_millis(ms).min(LONGEST_WAIT));
            }
            "status" => {
                let status: u16 = value
                    .parse()
                    .map_err(|_| format!("status must be a number, got `{value}`"))?;
                if !(100..=599).contains(&status) {
                    return Err(format!("status must be from 100 to 599, got `{value}`"));
                }
                out.status = Some(status);
            }
            "response_size" => {
                out.size = Some(
                    value
                        .parse()
                        .map_err(|_| format!("response_size must be bytes, got `{value}`"))?,
                );
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The fallback handler: every path and method not taken by another route.
pub async fn handle(Shared(state): Shared<Arc<State>>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, mut body) = request.into_parts();
    let mut read = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    read += data.len() as u64;
                }
            }
            Err(_) => break,
        }
    }
    state.counters.bytes_in.fetch_add(read, Relaxed);
    let overrides = match overrides(parts.uri.query()) {
        Ok(overrides) => overrides,
        Err(message) => {
            state.counters.request(400, started.elapsed());
            return (StatusCode::BAD_REQUEST, message).into_response();
        }
    };
    let settings = &state.settings;
    let (mut status, mut delay) = (settings.status, None);
    match settings.mode {
        MockMode::Fixed => {}
        MockMode::Timeout => {
            if overrides.status.is_none() && overrides.delay.is_none() {
                delay = Some(LONGEST_WAIT);
            }
        }
        MockMode::Auth => {
            status = match parts
                .headers
                .get(header::AUTHORIZATION)
                .map(|v| v.as_bytes())
            {
                None => 401,
                Some(b"Bearer test-api-key") => 200,
                Some(_) => 403,
            };
        }
        MockMode::Mixed => {
            let draw = fastrand::u8(..100);
            if draw >= 90 {
                status = 503;
            } else if draw >= 80 {
                status = 200;
                delay = Some(Duration::from_secs(2));
            } else {
                status = 200;
            }
        }
    }
    let status = overrides.status.unwrap_or(status);
    let size = overrides.size.unwrap_or(settings.body_size);
    if let Some(wait) = overrides.delay.or(delay) {
        tokio::select! {
            () = precise_sleep(wait) => {}
            () = super::state::until_stopped(state.stopped.clone()) => {
                return (StatusCode::SERVICE_UNAVAILABLE, "the mock target is stopping").into_response();
            }
        }
    }
    state.counters.request(status, started.elapsed());
    state.counters.bytes_out.fetch_add(size as u64, Relaxed);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let version = match parts.version {
        axum::http::Version::HTTP_2 => "HTTP/2",
        axum::http::Version::HTTP_10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain"),
            (
                header::HeaderName::from_static("x-mock-http-version"),
                version,
            ),
        ],
        body_of(size),
    )
        .into_response()
}

/// Sleeps `wait` to within ~0.1 ms: tokio's timer ends on a 1 ms tick (a 20 ms delay
/// would answer after 20–21 ms), so the last stretch is a thread sleep on the blocking pool.
async fn precise_sleep(wait: Duration) {
    const COARSE: Duration = Duration::from_millis(2);
    let deadline = Instant::now() + wait;
    if wait > COARSE {
        tokio::time::sleep(wait - COARSE).await;
    }
    let rest = deadline.saturating_duration_since(Instant::now());
    if !rest.is_zero() {
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(rest)).await;
    }
}

/// A body of `size` bytes of `x`, without allocating it.
fn body_of(size: usize) -> Body {
    if size <= CHUNK.len() {
        return Body::from(Bytes::from_static(&CHUNK[..size]));
    }
    let chunks = (0..size.div_ceil(CHUNK.len())).map(move |index| {
        let len = (size - index * CHUNK.len()).min(CHUNK.len());
        Ok::<_, Infallible>(Bytes::from_static(&CHUNK[..len]))
    });
    Body::from_stream(futures_util::stream::iter(chunks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_overrides() {
        let parsed = overrides(Some("delay=20&status=503&response_size=5000&other=x")).unwrap();
        assert_eq!(parsed.delay, Some(Duration::from_millis(20)));
        assert_eq!(parsed.status, Some(503));
        assert_eq!(parsed.size, Some(5000));
        assert!(overrides(Some("status=abc")).is_err());
        assert!(overrides(Some("status=700")).is_err());
        assert!(overrides(Some("delay=-1")).is_err());
        assert!(overrides(None).unwrap().status.is_none());
    }
}

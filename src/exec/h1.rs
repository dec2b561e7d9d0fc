//! HTTP/1.1 on one keep-alive connection, written for the hot path: the request head goes
//! out in one write from a buffer the connection keeps, the response head is parsed in place
//! by httparse (no header map is built), and the body is sliced out of the read buffer —
//! when the step reads it. A body nothing reads is counted and dropped as it arrives, in
//! reads of at most [`DISCARD_READ`], so its size costs time, never memory; a body that is
//! kept may not exceed the plan's `limits.max_body` ([`Error::TooLarge`]).
//! No task per connection and no channel between the VU and its connection: a request is
//! one write and, usually, one read. (hyper's `client::conn` cost ~1.5× this in user space;
//! it still carries HTTP/2.)
//!
//! Framing as RFC 9112 §6.3 orders it: no body for `HEAD`, 1xx, 204 and 304; else
//! `Transfer-Encoding: chunked`; else `Content-Length`; else the body runs to the end of the
//! connection. Interim 1xx answers are skipped. A connection is kept for the next request
//! unless the server said `Connection: close`, the body ran to the end, or anything went wrong.

use std::io::Write as _;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[cfg(test)]
use super::transport::Counted;
use super::transport::Transport;

/// The most a response head may take (hyper's default is ~400 KiB; heads are small).
const MAX_HEAD: usize = 64 * 1024;
/// The most headers a response head may have.
const MAX_HEADERS: usize = 100;
/// Bodies up to this size go out in the same write as the head.
const INLINE_BODY: usize = 16 * 1024;
/// The most one read takes while a body is discarded (and the read buffer's size then).
const DISCARD_READ: usize = 64 * 1024;
/// A read buffer larger than this is given back once its response is read: each of
/// 10,000 idle keep-alive connections holds its own.
const KEPT_READ_BUFFER: usize = 16 * 1024;

/// What the caller does with a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyUse {
    /// Nothing reads it: read it to its end (so the connection can be reused), count its
    /// bytes, keep none.
    Discard,
    /// A check or a capture reads it: keep it, up to this many bytes.
    Keep(usize),
}

/// A request as the connection writes it.
pub struct Outgoing<'a> {
    pub method: &'a str,
    /// `/path?query` (the origin form).
    pub target: &'a str,
    /// `host[:port]`, sent as `Host` unless `headers` has one.
    pub authority: &'a str,
    pub headers: &'a [(&'a str, String)],
    pub content_type: Option<&'static str>,
    pub body: &'a Bytes,
}

/// A response head and body, as received.
pub struct Incoming {
    pub status: u16,
    /// The raw head (status line and headers); see [`header`] and [`headers`].
    pub head: Bytes,
    /// The body, or nothing when it was discarded ([`BodyUse::Discard`]).
    pub body: Bytes,
    /// When the head was complete (time to first byte, as hyper counted it).
    pub head_at: std::time::Instant,
}

/// Why an exchange failed.
#[derive(Debug)]
pub enum Error {
    /// The connection ended before a single byte of the response: a keep-alive connection
    /// the server had closed meanwhile. Safe to send again on a new connection.
    Closed,
    Io(std::io::Error),
    Invalid(String),
    /// A body to keep that is longer than its limit; the connection is not reused.
    TooLarge,
    /// A response head longer than [`MAX_HEAD`], whole or not; the connection is not reused.
    HeadTooLarge,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Closed => f.write_str("connection closed before the response"),
            Self::Io(error) => write!(f, "{}", error.kind()),
            Self::Invalid(why) => f.write_str(why),
            Self::TooLarge => f.write_str("body too large"),
            Self::HeadTooLarge => write!(f, "the response head is over {} KiB", MAX_HEAD / 1024),
        }
    }
}

pub struct Connection {
    io: Transport,
    read: BytesMut,
    write: Vec<u8>,
    /// What the exchange under way does with its body: a field, not an argument of the
    /// reading functions, so that it is not copied into each of their futures (a request's
    /// future past 1 KiB costs a slower allocation).
    body_use: BodyUse,
}

impl Connection {
    pub fn new(io: Transport) -> Self {
        Self {
            io,
            read: BytesMut::new(),
            write: Vec::new(),
            body_use: BodyUse::Discard,
        }
    }

    /// Sends `request` and reads its response. `Ok((response, reusable))`: whether the
    /// connection may carry another request.
    pub async fn exchange(
        &mut self,
        request: &Outgoing<'_>,
        body: BodyUse,
    ) -> Result<(Incoming, bool), Error> {
        self.write_request(request)?;
        // A write to a connection the server closed fails with a reset or a broken pipe:
        // nothing was received, so it may be sent again.
        self.io
            .write_all(&self.write)
            .await
            .map_err(|e| closed_or(e, true))?;
        if request.body.len() > INLINE_BODY {
            self.io
                .write_all(request.body)
                .await
                .map_err(|e| closed_or(e, true))?;
        }
        self.body_use = body;
        self.read_response(request.method == "HEAD").await
    }

    fn write_request(&mut self, request: &Outgoing<'_>) -> Result<(), Error> {
        let out = &mut self.write;
        out.clear();
        out.extend_from_slice(request.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(request.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        let mut has_host = false;
        for (name, value) in request.headers {
            if !valid_name(name) {
                return Err(Error::Invalid(format!("invalid header name `{name}`")));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(Error::Invalid(format!(
                    "the value of header `{name}` has a line break"
                )));
            }
            has_host |= name.eq_ignore_ascii_case("host");
            put_header(out, name, value);
        }
        if !has_host {
            put_header(out, "host", request.authority);
        }
        if let Some(content_type) = request.content_type {
            put_header(out, "content-type", content_type);
        }
        if !request.body.is_empty() || matches!(request.method, "POST" | "PUT" | "PATCH") {
            let _ = write!(out, "content-length: {}\r\n", request.body.len());
        }
        out.extend_from_slice(b"\r\n");
        if request.body.len() <= INLINE_BODY {
            out.extend_from_slice(request.body);
        }
        Ok(())
    }

    async fn read_response(&mut self, head_request: bool) -> Result<(Incoming, bool), Error> {
        self.read.clear();
        let mut received_any = false;
        loop {
            let (status, head_len, framing, close) = loop {
                if !self.read.is_empty() {
                    // The limit holds whether the head came in pieces or in one read.
                    match parse_head(&self.read)? {
                        Some(parsed) if parsed.1 > MAX_HEAD => return Err(Error::HeadTooLarge),
                        Some(parsed) => break parsed,
                        None if self.read.len() > MAX_HEAD => return Err(Error::HeadTooLarge),
                        None => {}
                    }
                }
                let filled = self.fill().await.map_err(|e| closed_or(e, !received_any))?;
                if filled == 0 {
                    return Err(if received_any {
                        Error::Invalid("the connection closed in the response head".into())
                    } else {
                        Error::Closed
                    });
                }
                received_any = true;
            };
            // An interim answer (100 Continue, 103 Early Hints): the real one follows.
            if (100..200).contains(&status) && status != 101 {
                self.read.advance(head_len);
                continue;
            }
            let head = self.read.split_to(head_len).freeze();
            let head_at = std::time::Instant::now();
            let no_body = head_request || status == 204 || status == 304 || status == 101;
            let (body, to_end) = match framing {
                _ if no_body => (Bytes::new(), false),
                // Boxed, the less common framings: inline, their state would make every
                // request's future larger (past 1 KiB, its allocation costs 5× more).
                Framing::Chunked => (Box::pin(self.chunked()).await?, false),
                Framing::Length(length) => match self.body_use {
                    // Refused before a byte of it is read: the length is announced.
                    BodyUse::Keep(limit) if length > limit => return Err(Error::TooLarge),
                    BodyUse::Keep(_) => (self.exactly(length).await?, false),
                    BodyUse::Discard => {
                        self.skip(length).await?;
                        (Bytes::new(), false)
                    }
                },
                Framing::ToEnd => (Box::pin(self.until_closed()).await?, true),
            };
            // Bytes after the response belong to no request: do not trust the connection.
            let reusable = !close && !to_end && status != 101 && self.read.is_empty();
            if self.read.is_empty() && self.read.capacity() > KEPT_READ_BUFFER {
                self.read = BytesMut::new();
            }
            return Ok((
                Incoming {
                    status,
                    head,
                    body,
                    head_at,
                },
                reusable,
            ));
        }
    }

    /// Reads what the socket has into the read buffer; 0 at the end of the connection.
    fn fill(&mut self) -> impl Future<Output = std::io::Result<usize>> + '_ {
        self.fill_up_to(4096)
    }

    /// [`fill`](Self::fill), with room for up to `room` bytes. (Not `async`: the read's
    /// own future is all a caller's future holds.)
    fn fill_up_to(&mut self, room: usize) -> impl Future<Output = std::io::Result<usize>> + '_ {
        if self.read.capacity() - self.read.len() < room / 4 {
            self.read.reserve(room);
        }
        self.io.read_buf(&mut self.read)
    }

    /// Reads and drops the next `length` bytes of the body.
    async fn skip(&mut self, mut length: usize) -> Result<(), Error> {
        loop {
            let here = self.read.len().min(length);
            self.read.advance(here);
            length -= here;
            if length == 0 {
                return Ok(());
            }
            if self.fill_up_to(DISCARD_READ).await.map_err(Error::Io)? == 0 {
                return Err(Error::Invalid(
                    "the connection closed in the response body".into(),
                ));
            }
        }
    }

    async fn exactly(&mut self, length: usize) -> Result<Bytes, Error> {
        // Room for what is announced, up to 1 MiB at a time: a length is the server's claim,
        // not memory to take on trust.
        if self.read.len() < length {
            self.read.reserve((length - self.read.len()).min(1 << 20));
        }
        while self.read.len() < length {
            if self.fill().await.map_err(Error::Io)? == 0 {
                return Err(Error::Invalid(
                    "the connection closed in the response body".into(),
                ));
            }
        }
        Ok(self.read.split_to(length).freeze())
    }

    /// A body that runs to the end of the connection, kept or discarded.
    async fn until_closed(&mut self) -> Result<Bytes, Error> {
        match self.body_use {
            BodyUse::Keep(limit) => {
                while self.read.len() <= limit {
                    if self.fill().await.map_err(Error::Io)? == 0 {
                        return Ok(self.read.split().freeze());
                    }
                }
                Err(Error::TooLarge)
            }
            BodyUse::Discard => loop {
                self.read.clear();
                if self.fill_up_to(DISCARD_READ).await.map_err(Error::Io)? == 0 {
                    return Ok(Bytes::new());
                }
            },
        }
    }

    /// Decodes a chunked body (chunk extensions and trailers are read and dropped), kept or
    /// discarded.
    async fn chunked(&mut self) -> Result<Bytes, Error> {
        let mut body = BytesMut::new();
        loop {
            let line = self.line().await?;
            let size = std::str::from_utf8(&line)
                .ok()
                .map(|l| l.split(';').next().unwrap_or("").trim())
                .and_then(|hex| usize::from_str_radix(hex, 16).ok())
                .ok_or_else(|| Error::Invalid("invalid chunk size".into()))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.line().await?.is_empty() {}
                return Ok(body.freeze());
            }
            match self.body_use {
                BodyUse::Keep(limit) if size > limit.saturating_sub(body.len()) => {
                    return Err(Error::TooLarge);
                }
                BodyUse::Keep(_) => {
                    let chunk = self.exactly(size).await?;
                    body.extend_from_slice(&chunk);
                }
                BodyUse::Discard => self.skip(size).await?,
            }
            if !self.line().await?.is_empty() {
                return Err(Error::Invalid("a chunk does not end with CRLF".into()));
            }
        }
    }

    /// One line of the body framing, without its CRLF.
    async fn line(&mut self) -> Result<Bytes, Error> {
        loop {
            if let Some(end) = self.read.iter().position(|&b| b == b'\n') {
                let mut line = self.read.split_to(end + 1);
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                return Ok(line.freeze());
            }
            if self.read.len() > MAX_HEAD {
                return Err(Error::Invalid("a chunk line is too long".into()));
            }
            if self.fill().await.map_err(Error::Io)? == 0 {
                return Err(Error::Invalid(
                    "the connection closed in a chunked body".into(),
                ));
            }
        }
    }
}

enum Framing {
    Chunked,
    Length(usize),
    ToEnd,
}

/// The head's status, length, body framing and whether the server closes the connection;
/// `None` while the head is incomplete.
fn parse_head(buffer: &[u8]) -> Result<Option<(u16, usize, Framing, bool)>, Error> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let length = match response.parse(buffer) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => return Err(Error::Invalid(format!("invalid response: {error}"))),
    };
    let status = response.code.unwrap_or(0);
    let mut close = response.version == Some(0);
    let mut chunked = false;
    let mut content_length: Option<usize> = None;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| Error::Invalid("invalid content-length".into()))?;
            if content_length.is_some_and(|seen| seen != value) {
                return Err(Error::Invalid("conflicting content-length headers".into()));
            }
            content_length = Some(value);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = header
                .value
                .split(|&b| b == b',')
                .next_back()
                .is_some_and(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if header.name.eq_ignore_ascii_case("connection") {
            for token in header.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    close = false;
                }
            }
        }
    }
    let framing = match (chunked, content_length) {
        (true, _) => Framing::Chunked,
        (false, Some(length)) => Framing::Length(length),
        (false, None) => Framing::ToEnd,
    };
    Ok(Some((status, length, framing, close)))
}

/// The value of the first header called `name` (any case) in a raw response head.
pub fn header<'h>(head: &'h [u8], name: &str) -> Option<&'h str> {
    with_headers(head, |headers| {
        headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
    })
    .flatten()
}

/// Every header of a raw response head, names in lower case (as hyper gave them).
pub fn headers(head: &[u8]) -> Vec<(String, String)> {
    with_headers(head, |headers| {
        headers
            .iter()
            .filter_map(|h| {
                std::str::from_utf8(h.value)
                    .ok()
                    .map(|v| (h.name.to_ascii_lowercase(), v.to_owned()))
            })
            .collect()
    })
    .unwrap_or_default()
}

/// Parses the (complete) head and hands its headers to `read`; `None` if it does not parse.
fn with_headers<'h, T>(
    head: &'h [u8],
    read: impl FnOnce(&[httparse::Header<'h>]) -> T,
) -> Option<T> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    response.parse(head).ok()?;
    Some(read(response.headers))
}

fn put_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A header name is an RFC 9110 token.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A reset or broken pipe before any byte of the response is a closed keep-alive
/// connection (retried once); anything else is an I/O error.
fn closed_or(error: std::io::Error, nothing_received: bool) -> Error {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
    if nothing_received
        && matches!(
            error.kind(),
            ConnectionReset | BrokenPipe | ConnectionAborted
        )
    {
        Error::Closed
    } else {
        Error::Io(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_give_status_framing_and_close() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let (status, length, framing, close) = parse_head(head).unwrap().unwrap();
        assert_eq!((status, length, close), (200, 38, false));
        assert!(matches!(framing, Framing::Length(5)));
        let head =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n";
        let (_, _, framing, close) = parse_head(head).unwrap().unwrap();
        assert!(matches!(framing, Framing::Chunked));
        assert!(close);
        let head = b"HTTP/1.0 200 OK\r\n\r\n";
        let (_, _, framing, close) = parse_head(head).unwrap().unwrap();
        assert!(matches!(framing, Framing::ToEnd));
        assert!(close, "HTTP/1.0 closes unless it says keep-alive");
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Le")
                .unwrap()
                .is_none()
        );
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
                .is_err()
        );
        assert!(parse_head(b"NOPE\r\n\r\n").is_err());
    }

    #[test]
    fn headers_are_read_from_the_raw_head() {
        let head = b"HTTP/1.1 200 OK\r\nX-Id: 42\r\nContent-Type: text/plain\r\n\r\n";
        assert_eq!(header(head, "x-id"), Some("42"));
        assert_eq!(header(head, "CONTENT-TYPE"), Some("text/plain"));
        assert_eq!(header(head, "missing"), None);
        assert_eq!(
            headers(head),
            [
                ("x-id".to_owned(), "42".to_owned()),
                ("content-type".to_owned(), "text/plain".to_owned())
            ]
        );
    }

    /// Two requests on one connection to 127.0.0.1, answered with `first` then with a
    /// 2-byte body: what the first exchange gave, whether the second one succeeded, and
    /// the bytes the first exchange read from the socket.
    async fn exchange_twice(
        first: &'static [u8],
        body: BodyUse,
    ) -> (Result<Incoming, Error>, bool, u64) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let port = listener.local_addr().expect("bound").port();
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut request = [0u8; 1024];
            for answer in [first, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"] {
                if stream.read(&mut request).is_err() || stream.write_all(answer).is_err() {
                    return;
                }
            }
        });
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connects");
        let wire: std::sync::Arc<super::super::transport::Wire> = std::sync::Arc::default();
        let mut connection = Connection::new(Transport::Plain(Counted::new(stream, &wire)));
        let request = Outgoing {
            method: "GET",
            target: "/",
            authority: "127.0.0.1",
            headers: &[],
            content_type: None,
            body: &Bytes::new(),
        };
        let first = connection.exchange(&request, body).await;
        let (_, received) = wire.take();
        let reusable = matches!(first, Ok((_, true)));
        let second = reusable
            && matches!(
                connection.exchange(&request, BodyUse::Keep(2)).await,
                Ok((Incoming { status: 200, ref body, .. }, _)) if body.as_ref() == b"ok"
            );
        (first.map(|(incoming, _)| incoming), second, received)
    }

    const CHUNKED: &[u8] =
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nt: 1\r\n\r\n";
    const LENGTH: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nhello world";

    #[tokio::test]
    async fn bodies_are_kept_within_the_limit_or_discarded_and_counted() {
        for answer in [CHUNKED, LENGTH] {
            // The socket count is the whole answer: head, framing, body.
            let whole = answer.len() as u64;
            let (kept, again, received) = exchange_twice(answer, BodyUse::Keep(11)).await;
            let kept = kept.expect("kept");
            assert_eq!((kept.body.as_ref(), received), (&b"hello world"[..], whole));
            assert!(again, "the connection is reused after a kept body");
            let (dropped, again, received) = exchange_twice(answer, BodyUse::Discard).await;
            let dropped = dropped.expect("discarded");
            assert_eq!((dropped.body.len(), received), (0, whole));
            assert!(again, "the connection is reused after a discarded body");
        }
    }

    #[tokio::test]
    async fn a_kept_body_over_the_limit_is_too_large_and_the_connection_is_dropped() {
        for answer in [
            CHUNKED,
            LENGTH,
            b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nhello world".as_slice(),
        ] {
            let (kept, again, _) = exchange_twice(answer, BodyUse::Keep(10)).await;
            assert!(matches!(kept, Err(Error::TooLarge)), "{answer:?}");
            assert!(!again);
        }
    }

    #[test]
    fn header_names_are_tokens() {
        assert!(valid_name("X-Request-Id"));
        assert!(!valid_name("bad name"));
        assert!(!valid_name("a:b"));
        assert!(!valid_name(""));
    }
}

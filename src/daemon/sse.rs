//! Server-sent event responses (`text/event-stream`), written in batches: the events that come
//! within [`GATHER`] of the first go out in one chunk. A log backlog is hundreds of thousands of
//! events, and the engine hands them over one line at a time; one write per event made the
//! socket the bottleneck (a write and a wake-up per line on both sides). An idle stream gets a
//! keep-alive comment every [`KEEP_ALIVE`].

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::{self, Stream, StreamExt};
use serde::Serialize;

/// How long a stream may stay silent before a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// At most this many events go into one chunk.
const BATCH: usize = 512;

/// How long a chunk waits for more events after its first: unnoticeable for a reader, and
/// enough for the engine to hand over hundreds of lines.
const GATHER: Duration = Duration::from_millis(5);

/// One event: its name and its data, one line of JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    event: &'static str,
    data: String,
}

impl SseEvent {
    /// `value` as JSON under the event name `event`; an `error` event when it cannot be.
    pub fn json(event: &'static str, value: &impl Serialize) -> SseEvent {
        match serde_json::to_string(value) {
            Ok(data) => SseEvent { event, data },
            Err(e) => SseEvent {
                event: "error",
                data: serde_json::Value::String(e.to_string()).to_string(),
            },
        }
    }

    /// Append the event in the wire format. Compact JSON has no line break, so the data is one
    /// `data:` line.
    fn write_to(&self, out: &mut String) {
        out.push_str("event: ");
        out.push_str(self.event);
        out.push_str("\ndata: ");
        out.push_str(&self.data);
        out.push_str("\n\n");
    }
}

/// The response streaming `events` until they end or `shutdown` resolves (so that a shutdown
/// need not wait for followers).
pub fn response(
    events: impl Stream<Item = SseEvent> + Send + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Response {
    let chunks = chunks(events.take_until(shutdown), KEEP_ALIVE);
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(chunks.map(Ok::<_, Infallible>)),
    )
        .into_response()
}

/// The wire chunks of `events`: the events of up to [`GATHER`] in one chunk (at most
/// [`BATCH`]), and a keep-alive comment after `keep_alive` without any.
fn chunks(
    events: impl Stream<Item = SseEvent> + Send + 'static,
    keep_alive: Duration,
) -> impl Stream<Item = Bytes> + Send + 'static {
    let batches = tokio_stream::StreamExt::chunks_timeout(events, BATCH, GATHER).boxed();
    stream::unfold(batches, move |mut batches| async move {
        match tokio::time::timeout(keep_alive, batches.next()).await {
            Ok(Some(batch)) => {
                let mut out = String::with_capacity(batch.iter().map(|e| e.data.len() + 24).sum());
                for event in &batch {
                    event.write_to(&mut out);
                }
                Some((Bytes::from(out), batches))
            }
            Ok(None) => None,
            Err(_) => Some((Bytes::from_static(b": keep-alive\n\n"), batches)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::sse_messages;

    fn ev(n: u32) -> SseEvent {
        SseEvent::json("log", &serde_json::json!({ "n": n, "text": "a\nb" }))
    }

    #[tokio::test]
    async fn events_ready_together_go_out_in_one_chunk_and_parse_back() {
        let out: Vec<Bytes> = chunks(stream::iter((0..1000).map(ev)), KEEP_ALIVE)
            .collect()
            .await;
        assert_eq!(out.len(), 2, "1000 ready events in chunks of {BATCH}");
        let parsed: Vec<_> = sse_messages(stream::iter(out.into_iter().map(Ok)))
            .collect()
            .await;
        assert_eq!(parsed.len(), 1000);
        let first = parsed[0].as_ref().expect("parsed");
        assert_eq!(first.event, "log");
        let value: serde_json::Value = serde_json::from_str(&first.data).expect("json");
        assert_eq!(
            value["text"], "a\nb",
            "a line break inside the data survives"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_stream_gets_keep_alives_and_then_its_events() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<SseEvent>();
        let mut out = Box::pin(chunks(
            tokio_stream::wrappers::UnboundedReceiverStream::new(rx),
            Duration::from_secs(10),
        ));
        assert_eq!(
            out.next().await.as_deref(),
            Some(&b": keep-alive\n\n"[..]),
            "after 10 s of silence"
        );
        tx.send(ev(1)).expect("send");
        let chunk = out.next().await.expect("a chunk");
        assert!(chunk.starts_with(b"event: log\ndata: {"), "{chunk:?}");
        drop(tx);
        assert_eq!(out.next().await, None, "ends with its events");
    }

    #[tokio::test]
    async fn the_response_ends_at_shutdown() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let response = response(stream::pending(), async move {
            let _ = rx.await;
        });
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        tx.send(()).expect("send");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("the body ends");
        assert!(body.is_empty());
    }
}

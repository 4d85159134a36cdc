//! One task per connection: reads frames (rate limit, size, decode), answers pings at once,
//! forwards the rest to the session task, and writes what the session sends, in batches.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use partyline_protocol::{ClientMessage, DecodeError, Frame, MAX_MESSAGE_BYTES, PARTYLINE_V1, close, decode};
use partyline_session::{ConnId, SECOND, Time, TokenBucket, session::pong};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info_span};

use crate::Shared;
use crate::driver::{Inbound, Kill, Out, Outbox};

/// Most messages written before one flush. Each flush is a system call that costs 10–17 µs
/// here; 64 small messages fill a few KiB, and a larger batch would delay the first of them.
const MAX_BATCH: usize = 64;

/// How long a close frame may take to go out before the socket is simply dropped: a peer
/// that stopped reading will never take it.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// After this many `rate_limited` notices (at most one a second) the connection is closed:
/// ten seconds of flooding after being told is not an accident.
const ABUSE_NOTICES: u32 = 10;

type Sink = SplitSink<WebSocket, Message>;

/// Serves one authorized connection until it ends. `device`: its device label
/// ([`crate::device`]).
pub(crate) async fn serve(
    socket: WebSocket,
    conn: ConnId,
    shared: Arc<Shared>,
    peer: std::net::SocketAddr,
    device: Option<&'static str>,
) {
    let span = info_span!("conn", %conn, %peer);
    async move {
        let (tx, rx) = mpsc::channel(shared.limits.outbound_queue);
        let kill = Arc::new(Kill::default());
        let (mut sink, stream) = socket.split();
        let connected = Inbound::Connected { conn, outbox: Outbox { tx, kill: kill.clone() }, addr: peer.ip(), device };
        if shared.inbound.send(connected).await.is_err() {
            // The session task is gone: the session is closed.
            let _ = close_with(&mut sink, close::SESSION_CLOSED, "session closed").await;
            return;
        }
        let clean = Connection { conn, shared: shared.clone(), sink, stream, rx, kill, ext: false }.run().await;
        debug!(clean, "connection ended");
        let _ = shared.inbound.send(Inbound::Disconnected { conn, clean }).await;
    }
    .instrument(span)
    .await
}

/// Sends `error` unauthorized and closes with 4001: a browser sees the close code, where a
/// 401 on the upgrade would reach its script as a bare failure.
pub(crate) async fn refuse(socket: WebSocket, now: Time) {
    let (mut sink, _stream) = socket.split();
    let error = partyline_protocol::ServerMessage::error(
        now / 1000,
        partyline_protocol::ErrorCode::Unauthorized,
        "Wrong or missing join key",
        Some(serde_json::json!({"reason": "bad_key"})),
    );
    let _ = sink.send(text(&Frame::encode(&error), None)).await;
    let _ = close_with(&mut sink, close::UNAUTHORIZED, "unauthorized").await;
}

struct Connection {
    conn: ConnId,
    shared: Arc<Shared>,
    sink: Sink,
    stream: SplitStream<WebSocket>,
    rx: mpsc::Receiver<Out>,
    kill: Arc<Kill>,
    /// Asked for the Partyline extensions (its pongs carry server times).
    ext: bool,
}

enum Step {
    Continue,
    /// The connection is over; `true` if the peer closed it cleanly.
    Done(bool),
}

impl Connection {
    /// Runs until the connection ends; returns whether it ended cleanly.
    async fn run(mut self) -> bool {
        let limits = &self.shared.limits;
        let mut bucket = TokenBucket::new(self.shared.clock.now(), limits.burst, limits.per_second);
        let mut limiter = Notices::default();
        let mut reading = true;
        loop {
            let step = tokio::select! {
                biased;
                () = self.kill.token.cancelled() => {
                    let (code, reason) = self.kill.code();
                    let _ = close_with(&mut self.sink, code, reason).await;
                    Step::Done(false)
                }
                out = self.rx.recv() => match out {
                    None => Step::Done(false),
                    Some(first) => {
                        let kill = self.kill.token.clone();
                        tokio::select! {
                            biased;
                            () = kill.cancelled() => Step::Continue, // handled on the next turn
                            written = write_batch(&mut self.sink, &mut self.rx, first) => match written {
                                Ok(false) => Step::Continue,
                                Ok(true) | Err(_) => Step::Done(false),
                            },
                        }
                    }
                },
                frame = self.stream.next(), if reading => match frame {
                    None => Step::Done(false),
                    Some(Ok(Message::Close(_))) => Step::Done(true),
                    Some(Ok(Message::Pong(payload))) => {
                        if let Ok(bytes) = <[u8; 8]>::try_from(payload.as_ref()) {
                            let sent_at = u64::from_be_bytes(bytes);
                            self.forward(Inbound::ProbeReply { conn: self.conn, sent_at }).await
                        } else {
                            Step::Continue
                        }
                    }
                    // tungstenite answers pings itself.
                    Some(Ok(Message::Ping(_))) => Step::Continue,
                    Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                        let now = self.shared.clock.now();
                        if bucket.try_take(now) {
                            self.received(message, now).await
                        } else if let Some(abusive) = limiter.notice(now) {
                            let retry_after_ms = bucket.retry_after_ms(now);
                            self.forward(Inbound::RateLimited { conn: self.conn, retry_after_ms, abusive }).await
                        } else {
                            Step::Continue
                        }
                    }
                    Some(Err(err)) => {
                        if is_too_large(err) {
                            // Stop reading (the stream cannot resync) and let the session
                            // answer and close with 1009.
                            reading = false;
                            let error = DecodeError::TooLarge { size: MAX_MESSAGE_BYTES + 1, limit: MAX_MESSAGE_BYTES };
                            self.forward(Inbound::Invalid { conn: self.conn, error }).await
                        } else {
                            Step::Done(false)
                        }
                    }
                },
            };
            if let Step::Done(clean) = step {
                return clean;
            }
        }
    }

    async fn received(&mut self, message: Message, received_at: Time) -> Step {
        let decoded = match &message {
            Message::Text(text) => decode(text.as_str()),
            _ => Err(DecodeError::Binary),
        };
        match decoded {
            // Answered here, not in the session task, so that the pong's two server times
            // are taken next to the socket: every hop between them would count as network
            // delay in the client's clock estimate.
            Ok(ClientMessage::Ping(ping)) => {
                let clock = self.ext.then(|| (received_at, self.shared.clock.now()));
                let frame = Frame::encode(&pong(ping.timestamp, clock));
                match self.sink.send(text(&frame, None)).await {
                    Ok(()) => Step::Continue,
                    Err(_) => Step::Done(false),
                }
            }
            Ok(message) => {
                match &message {
                    ClientMessage::Join(join) => self.ext = join.protocol_version.as_deref() == Some(PARTYLINE_V1),
                    ClientMessage::Resume(_) => self.ext = true,
                    _ => {}
                }
                self.forward(Inbound::Message { conn: self.conn, message }).await
            }
            Err(error) => self.forward(Inbound::Invalid { conn: self.conn, error }).await,
        }
    }

    async fn forward(&self, message: Inbound) -> Step {
        match self.shared.inbound.send(message).await {
            Ok(()) => Step::Continue,
            Err(_) => Step::Done(false),
        }
    }
}

/// Rate-limit notices: at most one a second, and a verdict of abuse after [`ABUSE_NOTICES`].
#[derive(Default)]
struct Notices {
    sent: u32,
    last: Option<Time>,
}

impl Notices {
    /// `Some(abusive)` when a notice is due now.
    fn notice(&mut self, now: Time) -> Option<bool> {
        if self.last.is_some_and(|last| now < last + SECOND) {
            return None;
        }
        self.last = Some(now);
        self.sent += 1;
        Some(self.sent > ABUSE_NOTICES)
    }
}

/// Writes `first` and whatever else is queued (up to [`MAX_BATCH`]), then flushes once.
/// Returns `true` when a close was written.
async fn write_batch(sink: &mut Sink, rx: &mut mpsc::Receiver<Out>, first: Out) -> Result<bool, axum::Error> {
    let mut next = Some(first);
    let mut written = 0;
    while let Some(out) = next.take() {
        match out {
            Out::Text(frame, seq) => sink.feed(text(&frame, seq)).await?,
            Out::Probe(sent_at) => sink.feed(Message::Ping(Bytes::copy_from_slice(&sent_at.to_be_bytes()))).await?,
            Out::Close(code, reason) => {
                sink.feed(close_frame(code, reason)).await?;
                sink.flush().await?;
                return Ok(true);
            }
        }
        written += 1;
        if written < MAX_BATCH {
            next = rx.try_recv().ok();
        }
    }
    sink.flush().await?;
    Ok(false)
}

fn text(frame: &Frame, seq: Option<u64>) -> Message {
    match seq {
        None => Message::Text(Utf8Bytes::try_from(frame.bytes().clone()).expect("frames are UTF-8")),
        Some(seq) => Message::Text(frame.with_seq(seq).into()),
    }
}

fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }))
}

async fn close_with(sink: &mut Sink, code: u16, reason: &'static str) -> Result<(), ()> {
    match tokio::time::timeout(CLOSE_GRACE, sink.send(close_frame(code, reason))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

fn is_too_large(err: axum::Error) -> bool {
    match err.into_inner().downcast::<tungstenite::Error>() {
        Ok(err) => matches!(*err, tungstenite::Error::Capacity(_)),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At most one notice a second, and the eleventh says "abusive".
    #[test]
    fn notices() {
        let mut notices = Notices::default();
        assert_eq!(notices.notice(0), Some(false));
        assert_eq!(notices.notice(SECOND - 1), None, "one a second");
        for n in 1..ABUSE_NOTICES {
            assert_eq!(notices.notice(n as u64 * SECOND), Some(false));
        }
        assert_eq!(notices.notice(ABUSE_NOTICES as u64 * SECOND), Some(true));
    }
}

//! One task per WebSocket connection: reads frames (every one costs a token; size; decode),
//! answers pings at once, forwards the rest to the session task, writes what the session
//! sends, in batches, and ends every connection with a close handshake in bounded time.
//!
//! # Closing (RFC 6455 §5.5.1, §7.1, §7.4)
//! - A client's Close is answered with a Close carrying its code (tungstenite queues the
//!   answer, 1002 for a code a peer may not send; we flush it), then the socket is dropped.
//! - A protocol error gets a close with the RFC's code (1002; 1007 for invalid UTF-8), an
//!   oversize message `error` message_too_large and 1009 (the session sends both).
//! - Every close we send has [`CLOSE_GRACE`] to be written (from the moment it is queued, when
//!   frames are still ahead of it); then we wait up to [`CLOSE_WAIT`] for the peer's Close,
//!   reading and discarding what arrives. Dropping a socket with unread input makes the
//!   kernel send RST, which destroys the close frame (and the error before it) still in flight.
//!   After a framing error the stream cannot be parsed, so we half-close and discard bytes
//!   until the peer closes. A peer that reads nothing is dropped when the bounds pass.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{Sink, SinkExt, StreamExt};
use partyline_protocol::binary::BinaryKind;
use partyline_protocol::{ClientMessage, DecodeError, Frame, MAX_MESSAGE_BYTES, Wire, close};
use partyline_session::{Arrival, ConnId, SECOND, Time, TokenBucket, session::pong};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tracing::{Instrument, debug, info_span};
use tungstenite::error::ProtocolError;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::Frame as WsFrame;
use tungstenite::protocol::frame::coding::{CloseCode, Data as OpData, OpCode};
use tungstenite::{Message, Utf8Bytes};

use crate::Shared;
use crate::driver::{Inbound, Kill, Out, Outbox};
use crate::queue::QueueRx;

/// Most messages written before one flush. Each flush is a system call that costs 10–17 µs
/// here; 64 small messages fill a few KiB, and a larger batch would delay the first of them.
const MAX_BATCH: usize = 64;

/// The largest frame written: a longer message goes out as a text (or binary) frame and
/// continuation frames of at most this many bytes. tungstenite keeps a write buffer the size of
/// the largest frame it ever wrote (`FrameCodec::buffer_frame` reserves a whole frame and never
/// shrinks: snapview/tungstenite-rs#500), so without this every member that ever got a
/// `member_list` of a thousand members kept 130 KB for good. 1 KiB: what a member keeps is then
/// at most 1 KiB, every message of the session's but the lists and a long chat line fits in
/// one frame, and a list of 1,000 members is 130 frames whose 4-byte headers cost nothing.
pub(crate) const MAX_FRAME: usize = 1024;

/// How long a close frame (with whatever is queued before it) may take to go out before the
/// socket is simply dropped: a peer that stopped reading will never take it.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How long we wait, after our close went out, for the peer's Close (or its end of the
/// socket). Browsers answer within a round trip; 2 s covers a phone on poor Wi-Fi, and bounds
/// how long a peer that never answers holds a descriptor and a per-address slot.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// After this many `rate_limited` notices (at most one a second) the connection is closed:
/// ten seconds of flooding after being told is not an accident.
const ABUSE_NOTICES: u32 = 10;

/// What a WebSocket runs over: the upgraded connection, or anything like it in a test.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

type WsSink<S> = SplitSink<WebSocketStream<S>, Message>;
type WsStream<S> = SplitStream<WebSocketStream<S>>;

/// A connection the session task knows of: its id, and the queue the session task writes to.
pub(crate) struct Registered {
    pub(crate) conn: ConnId,
    pub(crate) rx: QueueRx,
    pub(crate) kill: Arc<Kill>,
    pub(crate) extended: Arc<std::sync::atomic::AtomicBool>,
    pub(crate) format: Wire,
}

/// Tells the session task of a connection (`Inbound::Connected`) and, if it stands for one,
/// of its first message; `None` when the session task is gone (the session is closed).
pub(crate) async fn register(
    shared: &Shared,
    conn: ConnId,
    addr: std::net::IpAddr,
    device: Option<&'static str>,
    may_join: bool,
    arrival: Option<Arrival>,
    first: Option<String>,
) -> Option<Registered> {
    let (tx, rx) = crate::queue::queue(shared.limits.outbound_queue);
    let kill = Arc::new(Kill::default());
    let extended = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let format = arrival.as_ref().map_or(Wire::Partyline, |arrival| arrival.wire);
    let outbox = Outbox { tx, kill: kill.clone(), extended: extended.clone(), format };
    let connected = Inbound::Connected { conn, outbox, addr, device, may_join, arrival };
    shared.inbound.send(connected).await.ok()?;
    if let Some(text) = first {
        let first = match format.decode_with_cid(&text) {
            Ok((message, cid)) => Inbound::Message { conn, message, cid },
            Err(error) => Inbound::Invalid { conn, error },
        };
        // The session task is gone: the connection's run finds out and ends.
        let _ = shared.inbound.send(first).await;
    }
    Some(Registered { conn, rx, kill, extended, format })
}

/// Serves one authorized connection until it ends. `device`: its device label
/// ([`crate::device`]); `first`: a message its URL stood for (a resume at `/ws`), handled as
/// the connection's first frame, before anything is read.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn serve<S: Io>(
    socket: WebSocketStream<Counted<S>>,
    conn: ConnId,
    shared: Arc<Shared>,
    peer: std::net::SocketAddr,
    device: Option<&'static str>,
    may_join: bool,
    arrival: Option<Arrival>,
    first: Option<String>,
) {
    let format = arrival.as_ref().map_or(Wire::Partyline, |arrival| arrival.wire);
    let Some(registered) = register(&shared, conn, peer.ip(), device, may_join, arrival, first).await else {
        // The session task is gone: the session is closed.
        let (sink, stream) = socket.split();
        let code = format.close_code(close::SESSION_CLOSED);
        end(sink, stream, Ending::Close(code, "session closed", Linger::Frames)).await;
        return;
    };
    serve_registered(socket, registered, shared, peer).await;
}

/// Serves a connection the session task knows of already until it ends: one just registered,
/// or a reload's resume made over HTTP that this socket takes over ([`crate::attach`]), with
/// what was queued for it meanwhile.
pub(crate) async fn serve_registered<S: Io>(
    socket: WebSocketStream<Counted<S>>,
    registered: Registered,
    shared: Arc<Shared>,
    peer: std::net::SocketAddr,
) {
    let Registered { conn, rx, kill, extended, format } = registered;
    let span = info_span!("conn", %conn, %peer);
    async move {
        let frames = socket.get_ref().frames.clone();
        let (sink, stream) = socket.split();
        let limits = &shared.limits;
        let bucket = TokenBucket::new(shared.clock.now(), limits.burst, limits.per_second);
        let connection = Connection {
            conn,
            shared: shared.clone(),
            sink,
            stream,
            rx,
            kill,
            extended,
            format,
            bucket,
            notices: Notices::default(),
            frames,
            charged: 0,
            owed: 0,
            held: None,
            wake_at: Instant::now(),
            framing_lost: false,
            close_by: None,
            transfer: None,
        };
        let clean = connection.run().await;
        debug!(clean, "connection ended");
        let _ = shared.inbound.send(Inbound::Disconnected { conn, clean }).await;
    }
    .instrument(span)
    .await
}

/// Refuses a wrong or missing join key in the endpoint's format: `/ws` sends `error`
/// unauthorized and closes with 4001 (a browser sees the close code, where a 401 on the upgrade
/// would reach its script as a bare failure); Together closes with 4001 alone (seed 002);
/// Pavilion sends `error` 1001 and closes (seed 004).
pub(crate) async fn refuse<S: Io>(socket: WebSocketStream<S>, now: Time, format: Wire) {
    let (mut sink, stream) = socket.split();
    let error = match format {
        // Seeds 002 and 000: close 4001, nothing before it.
        Wire::Together | Wire::Revenge => None,
        Wire::Pavilion => Some(partyline_protocol::pavilion::error(
            partyline_protocol::pavilion::AUTHENTICATION,
            "Wrong or missing token",
            now / 1000,
        )),
        Wire::Rt => Some(partyline_protocol::rt::error(
            401,
            "Wrong or missing token",
            serde_json::json!({"reason": partyline_protocol::reason::BAD_KEY}),
        )),
        Wire::Loudsync | Wire::Partyline => Some(Frame::encode(&partyline_protocol::ServerMessage::error(
            now / 1000,
            partyline_protocol::ErrorCode::Unauthorized,
            "Wrong or missing join key",
            Some(serde_json::json!({"reason": partyline_protocol::reason::BAD_KEY})),
        ))),
    };
    if let Some(error) = error {
        let sent = tokio::time::timeout(CLOSE_GRACE, send_frame(&mut sink, &error)).await;
        if !matches!(sent, Ok(Ok(()))) {
            return;
        }
    }
    let code = format.close_code(close::UNAUTHORIZED);
    end(sink, stream, Ending::Close(code, "unauthorized", Linger::Frames)).await;
}

struct Connection<S> {
    conn: ConnId,
    shared: Arc<Shared>,
    sink: WsSink<Counted<S>>,
    stream: WsStream<Counted<S>>,
    rx: QueueRx,
    kill: Arc<Kill>,
    /// Speaks the Partyline extensions (its pongs carry server times): the session says so
    /// when it attaches the connection to a member ([`Outbox::extended`]).
    extended: Arc<std::sync::atomic::AtomicBool>,
    /// The format its frames are read in: its endpoint's.
    format: Wire,
    /// Every frame read takes a token.
    bucket: TokenBucket,
    notices: Notices,
    /// Frames read from the socket so far ([`Counted`]), and how many of them are charged:
    /// a message of many fragments costs a token for each.
    frames: Arc<AtomicU64>,
    charged: u64,
    /// Tokens the frames read so far still owe; the held message waits until they are paid.
    owed: u64,
    /// A message that arrived with tokens owed: handled when they are paid, at `wake_at` or
    /// later; the socket is not read meanwhile.
    held: Option<Message>,
    wake_at: Instant,
    /// A frame could not be read whole (too large): the byte stream cannot be parsed any more.
    framing_lost: bool,
    /// When a close was queued: the time by which everything ahead of it must be written.
    close_by: Option<Instant>,
    /// Seed 001's file transfer on its way, if one was announced ([`crate::transfer`]); dropped
    /// (with its temp file) when the connection ends.
    transfer: Option<crate::transfer::Transfer>,
}

/// How the connection's task ends.
enum Ending {
    /// The peer ended it (its Close answered, or the socket gone); `true` if with a Close.
    Peer(bool),
    /// Write this close, then linger.
    Close(u16, &'static str, Linger),
    /// Our close has been written; linger.
    Closed(Linger),
    /// Drop the socket now: it cannot be written.
    Drop,
}

/// How to wait for the peer's answer to our close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Linger {
    /// Read (and discard) frames until its Close.
    Frames,
    /// The frames cannot be parsed: half-close, discard bytes until its end of the socket.
    Bytes,
}

enum Step {
    Continue,
    Done(Ending),
}

impl<S: Io> Connection<S> {
    /// Runs until the connection ends; returns whether it ended cleanly.
    async fn run(mut self) -> bool {
        let ending = loop {
            if let Step::Done(ending) = self.turn().await {
                break ending;
            }
        };
        let clean = matches!(ending, Ending::Peer(true));
        end(self.sink, self.stream, ending).await;
        clean
    }

    fn linger(&self) -> Linger {
        if self.framing_lost { Linger::Bytes } else { Linger::Frames }
    }

    async fn turn(&mut self) -> Step {
        let kill = self.kill.token.clone();
        let holding = self.held.is_some();
        let reading = !holding && !self.framing_lost;
        tokio::select! {
            biased;
            () = kill.cancelled() => {
                let (code, reason) = self.kill.code();
                Step::Done(Ending::Close(code, reason, self.linger()))
            }
            out = self.rx.recv() => match out {
                None => Step::Done(Ending::Drop),
                Some(first) => self.write(first).await,
            },
            () = tokio::time::sleep_until(self.wake_at), if holding => {
                let now = self.shared.clock.now();
                match self.held.take() {
                    Some(message) if self.paid(now) => self.process(message, now).await,
                    Some(message) => self.hold(message, now).await,
                    None => Step::Continue,
                }
            }
            frame = self.stream.next(), if reading => match frame {
                None => Step::Done(Ending::Peer(false)),
                Some(Ok(message)) => {
                    let now = self.shared.clock.now();
                    let seen = self.frames.load(Ordering::Relaxed);
                    self.owed += seen.saturating_sub(self.charged);
                    self.charged = self.charged.max(seen);
                    if self.paid(now) {
                        self.process(message, now).await
                    } else {
                        self.hold(message, now).await
                    }
                }
                Some(Err(err)) => self.read_error(err).await,
            },
        }
    }

    /// Pays what the frames read owe from the bucket; `true` when nothing is owed. Tokens are
    /// taken for frames as tungstenite reads them, so a frame read ahead with an earlier
    /// message is paid by that one, and the total is one token a frame.
    fn paid(&mut self, now: Time) -> bool {
        while self.owed > 0 && self.bucket.try_take(now) {
            self.owed -= 1;
        }
        self.owed == 0
    }

    /// A message arrived with tokens owed: it waits, and so does the socket, until they are
    /// paid. The client is told (at most once a second), and closed after
    /// [`ABUSE_NOTICES`] notices.
    async fn hold(&mut self, message: Message, now: Time) -> Step {
        let retry_after_ms = self.bucket.retry_after_ms(now);
        self.wake_at = Instant::now() + Duration::from_millis(retry_after_ms.max(1));
        self.held = Some(message);
        match self.notices.notice(now) {
            Some(abusive) => self.forward(Inbound::RateLimited { conn: self.conn, retry_after_ms, abusive }).await,
            None => Step::Continue,
        }
    }

    async fn process(&mut self, message: Message, received_at: Time) -> Step {
        match message {
            Message::Close(_) => {
                // tungstenite has queued the answer; flushing writes it.
                let _ = tokio::time::timeout(CLOSE_GRACE, self.sink.flush()).await;
                Step::Done(Ending::Peer(true))
            }
            Message::Pong(payload) => match <[u8; 8]>::try_from(payload.as_ref()) {
                Ok(bytes) => {
                    let sent_at = u64::from_be_bytes(bytes);
                    self.forward(Inbound::ProbeReply { conn: self.conn, sent_at }).await
                }
                Err(_) => Step::Continue,
            },
            // tungstenite queued the pong; it goes out with the next read or write.
            Message::Ping(_) | Message::Frame(_) => Step::Continue,
            message @ (Message::Text(_) | Message::Binary(_)) => self.received(message, received_at).await,
        }
    }

    /// A read failed. Too large: the session answers (`error`, close 1009). Invalid UTF-8:
    /// 1007. Any other violation of the protocol: 1002. A lost socket: nothing to say.
    async fn read_error(&mut self, err: tungstenite::Error) -> Step {
        debug!(cause = %err, "read failed");
        match err {
            tungstenite::Error::Capacity(_) => {
                // The rest of the frame is still unread: stop parsing, let the session answer.
                self.framing_lost = true;
                let error = DecodeError::TooLarge { size: MAX_MESSAGE_BYTES + 1, limit: MAX_MESSAGE_BYTES };
                self.forward(Inbound::Invalid { conn: self.conn, error }).await
            }
            tungstenite::Error::Utf8(_) => {
                Step::Done(Ending::Close(CloseCode::Invalid.into(), "invalid UTF-8", Linger::Bytes))
            }
            tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                Step::Done(Ending::Peer(false))
            }
            tungstenite::Error::Protocol(_) => {
                Step::Done(Ending::Close(CloseCode::Protocol.into(), "protocol error", Linger::Bytes))
            }
            _ => Step::Done(Ending::Drop),
        }
    }

    /// Writes `first` and what is queued behind it. Once a close is queued, everything left
    /// has until [`Connection::close_by`].
    async fn write(&mut self, first: Out) -> Step {
        let kill = self.kill.token.clone();
        let closing = self.kill.closing.clone();
        let linger = self.linger();
        let batch = write_batch(&mut self.sink, &mut self.rx, first);
        tokio::pin!(batch);
        let written = tokio::select! {
            biased;
            () = kill.cancelled() => return Step::Continue, // handled on the next turn
            written = &mut batch => written,
            () = closing.cancelled() => {
                let by = *self.close_by.get_or_insert_with(|| Instant::now() + CLOSE_GRACE);
                tokio::select! {
                    biased;
                    () = kill.cancelled() => return Step::Continue,
                    written = tokio::time::timeout_at(by, &mut batch) => match written {
                        Ok(written) => written,
                        Err(_) => {
                            debug!("close not written in time; dropping the socket");
                            return Step::Done(Ending::Drop);
                        }
                    },
                }
            }
        };
        match written {
            Ok(Written::Open) => Step::Continue,
            Ok(Written::Closed) => Step::Done(Ending::Closed(linger)),
            Err(_) => Step::Done(Ending::Drop),
        }
    }

    async fn received(&mut self, message: Message, received_at: Time) -> Step {
        let decoded = match message {
            Message::Text(text) => self.format.decode_with_cid(text.as_str()),
            // Seed 001's binary frames, read (and their checksum taken) here; every other
            // format is JSON text only.
            Message::Binary(bytes) if self.format == Wire::Rt => {
                partyline_protocol::rt::decode_binary(bytes).map(|message| (message, None))
            }
            _ => Err(DecodeError::Binary),
        };
        match decoded {
            // Answered here, not in the session task, so that the pong's two server times
            // are taken next to the socket: every hop between them would count as network
            // delay in the client's clock estimate.
            // At `/ws`; seed 001's `Ping` is answered by the session, in its format.
            Ok((ClientMessage::Ping(ping), _)) if self.format == Wire::Partyline => {
                let extended = self.extended.load(std::sync::atomic::Ordering::Relaxed);
                let clock = extended.then(|| (received_at, self.shared.clock.now()));
                let frame = Frame::encode(&pong(ping.timestamp, clock));
                // A peer that sends but does not read must not hold this task here: a queued
                // close or a kill takes over (the pong stays buffered ahead of the close).
                let (kill, closing) = (self.kill.token.clone(), self.kill.closing.clone());
                tokio::select! {
                    biased;
                    () = kill.cancelled() => Step::Continue,
                    () = closing.cancelled() => Step::Continue,
                    sent = send_frame(&mut self.sink, &frame) => match sent {
                        Ok(()) => Step::Continue,
                        Err(_) => Step::Done(Ending::Drop),
                    },
                }
            }
            // Seed 001's files go to the host's upload store from here, not through the session.
            Ok((ClientMessage::FileTransfer(file), _)) if self.format == Wire::Rt => {
                let answers = crate::transfer::announce(&self.shared, self.conn, &mut self.transfer, file).await;
                self.send_now(answers).await
            }
            Ok((ClientMessage::Binary(frame), _)) if frame.kind == BinaryKind::FileTransfer => {
                let answers = crate::transfer::piece(&self.shared, self.conn, &mut self.transfer, frame).await;
                self.send_now(answers).await
            }
            Ok((message, cid)) => self.forward(Inbound::Message { conn: self.conn, message, cid }).await,
            Err(error) => self.forward(Inbound::Invalid { conn: self.conn, error }).await,
        }
    }

    /// Writes answers of this connection's own at once (a file transfer's), unsequenced. A peer
    /// that sends but does not read must not hold this task here: a queued close or a kill
    /// takes over.
    async fn send_now(&mut self, frames: Vec<Frame>) -> Step {
        for frame in frames {
            let (kill, closing) = (self.kill.token.clone(), self.kill.closing.clone());
            tokio::select! {
                biased;
                () = kill.cancelled() => return Step::Continue,
                () = closing.cancelled() => return Step::Continue,
                sent = send_frame(&mut self.sink, &frame) => if sent.is_err() {
                    return Step::Done(Ending::Drop);
                },
            }
        }
        Step::Continue
    }

    async fn forward(&self, message: Inbound) -> Step {
        match self.shared.inbound.send(message).await {
            Ok(()) => Step::Continue,
            Err(_) => Step::Done(Ending::Drop),
        }
    }
}

/// Ends a connection: writes the close if one is due (within [`CLOSE_GRACE`]), waits for the
/// peer's answer (within [`CLOSE_WAIT`]), and drops the socket.
async fn end<S: Io>(mut sink: WsSink<S>, stream: WsStream<S>, ending: Ending) {
    let linger = match ending {
        Ending::Peer(false) | Ending::Drop => return,
        // Its Close was answered: the answer is in our buffer.
        Ending::Peer(true) => None,
        Ending::Closed(linger) => Some(linger),
        Ending::Close(code, reason, linger) => {
            match tokio::time::timeout(CLOSE_GRACE, sink.send(close_frame(code, reason))).await {
                Ok(Ok(())) => Some(linger),
                Ok(Err(_)) => None,
                Err(_) => return,
            }
        }
    };
    let Ok(mut socket) = sink.reunite(stream) else { return };
    // tungstenite hands a close (ours, or its answer to the peer's) to the connection's buffer
    // and, once the connection is closing, does not flush the stream: write it out first.
    if !matches!(tokio::time::timeout(CLOSE_GRACE, socket.get_mut().flush()).await, Ok(Ok(()))) {
        return;
    }
    match linger {
        None => {}
        // tungstenite returns the peer's Close, then ends the stream.
        Some(Linger::Frames) => {
            let _ = tokio::time::timeout(CLOSE_WAIT, async { while let Some(Ok(_)) = socket.next().await {} }).await;
        }
        Some(Linger::Bytes) => {
            let io = socket.get_mut();
            let _ = tokio::time::timeout(CLOSE_WAIT, async {
                let _ = io.shutdown().await;
                let mut discard = [0u8; 4096];
                while matches!(io.read(&mut discard).await, Ok(n) if n > 0) {}
            })
            .await;
        }
    }
}

/// A client's byte stream that counts the WebSocket frames in it as they are read, before
/// tungstenite joins fragments into one message: so that each frame, continuation frames
/// included, can cost a token. It is also the connection's write buffer: tungstenite writes
/// each frame through to it at once (its own buffer is set to nothing, see
/// [`crate::upgrade`]), a flush writes it to the socket, and once the socket has taken all of
/// it the buffer is given back. An idle connection holds no write buffer at all.
pub(crate) struct Counted<S> {
    inner: S,
    parser: FrameParser,
    frames: Arc<AtomicU64>,
    /// Bytes written to us that the socket has not taken yet, from `sent` on.
    pending: Vec<u8>,
    sent: usize,
    /// Bytes gathered before they are offered to the socket without a flush
    /// ([`crate::Limits::write_buffer`]).
    chunk: usize,
}

impl<S> Counted<S> {
    pub(crate) fn new(inner: S, chunk: usize) -> Counted<S> {
        Counted { inner, parser: FrameParser::default(), frames: Arc::default(), pending: Vec::new(), sent: 0, chunk }
    }

    /// Bytes of the write buffer held now (allocated), for the tests.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.pending.capacity()
    }
}

impl<S: AsyncWrite + Unpin> Counted<S> {
    /// Writes the buffer to the socket; when it has all gone, gives the buffer back.
    fn push(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.pending = Vec::new();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let frames = this.parser.feed(&buf.filled()[before..]);
            if frames > 0 {
                this.frames.fetch_add(frames, Ordering::Relaxed);
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    /// Always takes everything: what is written is bounded by what the connection's task
    /// writes between flushes (a batch, or one message), never by the peer.
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.sent >= this.chunk {
            // The socket took part of a long message: drop what it took.
            this.pending.drain(..this.sent);
            this.sent = 0;
        }
        this.pending.extend_from_slice(buf);
        if this.pending.len() - this.sent >= this.chunk {
            // Offer what we have; a socket that is full takes it at the flush.
            if let Poll::Ready(Err(err)) = this.push(cx) {
                return Poll::Ready(Err(err));
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.push(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.push(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// Follows RFC 6455 frame headers (§5.2) through a byte stream, skipping payloads.
#[derive(Debug, Default)]
struct FrameParser {
    header: [u8; 14],
    have: usize,
    /// Payload bytes of the current frame still to skip.
    remaining: u64,
}

impl FrameParser {
    /// Takes the next bytes of the stream; returns how many frame headers they completed.
    fn feed(&mut self, mut bytes: &[u8]) -> u64 {
        let mut frames = 0;
        while !bytes.is_empty() {
            if self.remaining > 0 {
                let skip = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(bytes.len());
                self.remaining -= skip as u64;
                bytes = &bytes[skip..];
                continue;
            }
            let need = header_len(&self.header[..self.have]);
            let take = (need - self.have).min(bytes.len());
            self.header[self.have..self.have + take].copy_from_slice(&bytes[..take]);
            self.have += take;
            bytes = &bytes[take..];
            if self.have == header_len(&self.header[..self.have]) {
                frames += 1;
                self.remaining = payload_len(&self.header[..self.have]);
                self.have = 0;
            }
        }
        frames
    }
}

/// A frame header's length once its first two bytes are known (2 until then).
fn header_len(start: &[u8]) -> usize {
    let [_, second, ..] = *start else { return 2 };
    let extended = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    2 + extended + mask
}

fn payload_len(header: &[u8]) -> u64 {
    match header[1] & 0x7f {
        126 => u64::from(u16::from_be_bytes([header[2], header[3]])),
        127 => header[2..10].iter().fold(0, |n, b| n << 8 | u64::from(*b)),
        n => u64::from(n),
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

/// What a batch left behind.
#[derive(Debug, PartialEq, Eq)]
enum Written {
    Open,
    /// A close was written: nothing may follow it.
    Closed,
}

/// Writes `first` and whatever else is queued (up to [`MAX_BATCH`] frames), flushing after
/// every [`MAX_BATCH`] frames and at the end. A long message counts a frame for each of its
/// fragments ([`frames`]).
async fn write_batch<K>(sink: &mut K, rx: &mut QueueRx, first: Out) -> Result<Written, tungstenite::Error>
where
    K: Sink<Message, Error = tungstenite::Error> + Unpin,
{
    let mut next = Some(first);
    let mut fed = 0;
    let mut unflushed = 0;
    while let Some(out) = next.take() {
        let mut feed = async |message: Message| -> Result<(), tungstenite::Error> {
            sink.feed(message).await?;
            fed += 1;
            unflushed += 1;
            if unflushed == MAX_BATCH {
                sink.flush().await?;
                unflushed = 0;
            }
            Ok(())
        };
        match out {
            Out::Text(frame, seq) => {
                for message in frames(&frame, seq) {
                    feed(message).await?;
                }
            }
            Out::Batch(batch) | Out::Replay(batch) => {
                for (frame, seq) in &batch {
                    for message in frames(frame, *seq) {
                        feed(message).await?;
                    }
                }
            }
            Out::Probe(sent_at) => feed(Message::Ping(Bytes::copy_from_slice(&sent_at.to_be_bytes()))).await?,
            Out::Close(code, reason) => {
                sink.feed(close_frame(code, reason)).await?;
                sink.flush().await?;
                return Ok(Written::Closed);
            }
        }
        if fed < MAX_BATCH {
            next = rx.try_recv();
        }
    }
    if unflushed > 0 {
        sink.flush().await?;
    }
    Ok(Written::Open)
}

/// Writes one message of ours (a pong, an answer of the connection's own) and flushes it.
async fn send_frame<K>(sink: &mut K, frame: &Frame) -> Result<(), tungstenite::Error>
where
    K: Sink<Message, Error = tungstenite::Error> + Unpin,
{
    for message in frames(frame, None) {
        sink.feed(message).await?;
    }
    sink.flush().await
}

/// What `out` says as text, one frame a line (a resume over HTTP, [`crate::attach`]), with
/// `seq` spliced in as on the socket; a probe is left out (the next one is the socket's).
/// Whether it was a close.
pub(crate) fn lines(out: Out, into: &mut String) -> bool {
    let mut line = |frame: &Frame, seq: Option<u64>| {
        if frame.is_binary() {
            return; // seed 001's alone, never a partyline/1 member's
        }
        match seq {
            Some(seq) => into.push_str(&frame.with_seq(seq)),
            None => into.push_str(frame.as_str()),
        }
        into.push('\n');
    };
    match out {
        Out::Text(frame, seq) => line(&frame, seq),
        Out::Batch(frames) | Out::Replay(frames) => {
            for (frame, seq) in &frames {
                line(frame, *seq);
            }
        }
        Out::Probe(_) => {}
        Out::Close(..) => return true,
    }
    false
}

/// The WebSocket frames of one message, `seq` spliced in for a partyline/1 member: the message
/// whole when it is at most [`MAX_FRAME`] bytes, else a first frame and continuation frames of
/// at most [`MAX_FRAME`] bytes each (RFC 6455 §5.4), sharing the message's bytes. A text
/// message is cut at UTF-8 character boundaries: the RFC allows any cut, but this way every
/// fragment is valid text for a client that checks each one.
///
/// A long numbered message is not copied to splice its `seq` in: `seq` goes as the first
/// fragment of its own (`{"seq":N,`, [`Frame::seq_parts`]) and the rest are slices of the bytes
/// every member shares, so a list of a thousand costs each member a 12-byte piece, not a copy of
/// 130 KB and a UTF-8 check of it.
fn frames(frame: &Frame, seq: Option<u64>) -> Frames {
    let binary = frame.is_binary();
    // Seed 001's binary frames are never numbered: only partyline/1 members are.
    let seq = seq.filter(|_| !binary);
    // `{"seq":` and a `u64` and a comma: at most 28 bytes more once numbered.
    if frame.len() + seq.map_or(0, |_| 28) > MAX_FRAME {
        let (head, data) = match seq {
            Some(seq) => {
                let (head, rest) = frame.seq_parts(seq);
                (Some(Bytes::from(head)), rest)
            }
            None => (None, frame.bytes().clone()),
        };
        return Frames::Many { head, data, at: 0, binary, started: false };
    }
    let message = match seq {
        // A `String` is text already: no second UTF-8 check.
        Some(seq) => Message::Text(Utf8Bytes::from(frame.with_seq(seq))),
        None if binary => Message::Binary(frame.bytes().clone()),
        None => Message::Text(Utf8Bytes::try_from(frame.bytes().clone()).expect("text frames are UTF-8")),
    };
    Frames::One(Some(message))
}

/// The frames of one message ([`frames`]).
enum Frames {
    One(Option<Message>),
    /// `head` (a numbered message's `seq`, a fragment of its own) and then `data` in fragments
    /// of at most [`MAX_FRAME`] bytes from `at`; `started` once the first fragment is out.
    Many {
        head: Option<Bytes>,
        data: Bytes,
        at: usize,
        binary: bool,
        started: bool,
    },
}

impl Iterator for Frames {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        let (head, data, at, binary, started) = match self {
            Frames::One(message) => return message.take(),
            Frames::Many { head, data, at, binary, started } => (head, data, at, *binary, started),
        };
        let first = if binary { OpCode::Data(OpData::Binary) } else { OpCode::Data(OpData::Text) };
        if let Some(head) = head.take() {
            *started = true;
            return Some(Message::Frame(WsFrame::message(head, first, data.is_empty())));
        }
        if *at >= data.len() {
            return None;
        }
        let mut end = (*at + MAX_FRAME).min(data.len());
        // Back to the start of a character (a UTF-8 continuation byte is 0b10xx_xxxx).
        while !binary && end < data.len() && data[end] & 0xc0 == 0x80 {
            end -= 1;
        }
        let opcode = if std::mem::replace(started, true) { OpCode::Data(OpData::Continue) } else { first };
        let piece = data.slice(*at..end);
        *at = end;
        Some(Message::Frame(WsFrame::message(piece, opcode, end == data.len())))
    }
}

fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code: CloseCode::from(code), reason: Utf8Bytes::from_static(reason) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

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

    /// A client frame (masked) with this opcode byte and payload.
    fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![first];
        match payload.len() {
            n @ 0..=125 => frame.push(0x80 | n as u8),
            n @ 126..=65535 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&[1, 2, 3, 4]);
        frame.extend_from_slice(payload);
        frame
    }

    /// Frames of every header form (7-bit, 16-bit and 64-bit lengths, empty payloads) are
    /// counted once each, however the stream is cut into reads.
    #[test]
    fn frame_parser_counts_frames_across_reads() {
        let mut stream = Vec::new();
        stream.extend(client_frame(0x01, b"{"));
        stream.extend(client_frame(0x00, &[b'x'; 200]));
        stream.extend(client_frame(0x80, &[]));
        stream.extend(client_frame(0x89, b"ping"));
        stream.extend(client_frame(0x82, &vec![0; 70_000]));
        stream.extend(client_frame(0x8a, b"pong"));
        for cut in [1, 2, 3, 7, 64, 4096, stream.len()] {
            let mut parser = FrameParser::default();
            let frames: u64 = stream.chunks(cut).map(|chunk| parser.feed(chunk)).sum();
            assert_eq!(frames, 6, "reads of {cut} bytes");
            assert_eq!((parser.have, parser.remaining), (0, 0), "at a frame boundary after reads of {cut}");
        }
    }

    /// What a sink was asked to do.
    #[derive(Debug, PartialEq, Eq)]
    enum Op {
        Text(String),
        Close(u16),
        Flush,
    }

    #[derive(Default)]
    struct Recorder(Vec<Op>);

    impl Sink<Message> for Recorder {
        type Error = tungstenite::Error;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
            let op = match message {
                Message::Text(text) => Op::Text(text.to_string()),
                Message::Close(frame) => Op::Close(frame.map(|frame| u16::from(frame.code)).unwrap_or(0)),
                other => panic!("unexpected {other:?}"),
            };
            self.get_mut().0.push(op);
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.get_mut().0.push(Op::Flush);
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    fn frame(n: usize) -> Frame {
        let message = partyline_protocol::ServerMessage::error(
            n as u64,
            partyline_protocol::ErrorCode::InvalidMessage,
            "x",
            None,
        );
        Frame::encode(&message)
    }

    /// A batch of 150 frames goes out in flushes of 64, 64 and 22, each frame with its own
    /// seq, and the close queued behind it is written after all of them, then nothing more.
    #[tokio::test]
    async fn batches_flush_every_max_batch_frames() {
        let (tx, mut rx) = crate::queue::queue(8);
        tx.try_send(Out::Close(close::KICKED, "kicked")).unwrap();
        tx.try_send(Out::Text(frame(999), None)).unwrap();
        let batch: Vec<(Frame, Option<u64>)> = (0..150).map(|n| (frame(n), Some(n as u64 + 1))).collect();
        let mut sink = Recorder::default();
        let written = write_batch(&mut sink, &mut rx, Out::Batch(batch)).await.unwrap();
        assert_eq!(written, Written::Open, "150 frames exceed one batch: the close waits for the next");
        let flushes: Vec<usize> =
            sink.0.iter().enumerate().filter(|(_, op)| **op == Op::Flush).map(|(i, _)| i).collect();
        assert_eq!(flushes, [64, 129, 152], "a flush after each 64 frames and one at the end");
        let texts: Vec<&String> =
            sink.0.iter().filter_map(|op| if let Op::Text(t) = op { Some(t) } else { None }).collect();
        assert_eq!(texts.len(), 150);
        assert!(
            texts[0].contains(r#""seq":1"#) && texts[149].contains(r#""seq":150"#),
            "{} … {}",
            texts[0],
            texts[149]
        );
        let first = rx.try_recv().unwrap();
        let written = write_batch(&mut sink, &mut rx, first).await.unwrap();
        assert_eq!(written, Written::Closed);
        assert_eq!(sink.0[153..], [Op::Close(close::KICKED), Op::Flush], "the close, flushed at once");
        assert!(matches!(rx.try_recv(), Some(Out::Text(..))), "nothing is written after a close");
    }

    /// The frames a server wrote, parsed from the raw bytes: (FIN, opcode, payload).
    fn server_frames(mut bytes: &[u8]) -> Vec<(bool, u8, Vec<u8>)> {
        let mut frames = Vec::new();
        while !bytes.is_empty() {
            let header = header_len(bytes);
            let len = payload_len(&bytes[..header]) as usize;
            assert_eq!(bytes[1] & 0x80, 0, "a server's frames are not masked");
            frames.push((bytes[0] & 0x80 != 0, bytes[0] & 0x0f, bytes[header..header + len].to_vec()));
            bytes = &bytes[header + len..];
        }
        frames
    }

    /// A member list of a thousand members (130 KB) goes out in frames of at most
    /// [`MAX_FRAME`] bytes that join into exactly the message, `seq` spliced in, each a whole
    /// UTF-8 text; and once the socket has taken them, the connection holds no write buffer.
    #[tokio::test]
    async fn long_messages_go_out_in_bounded_frames_and_nothing_is_kept() {
        let members: Vec<partyline_protocol::MemberInfo> = (0..1000)
            .map(|n| partyline_protocol::MemberInfo {
                id: format!("m-{n:08x}"),
                name: format!("Guest nº {n} ✨"),
                is_host: false,
                connection_status: partyline_protocol::ConnectionStatus::Connected,
                joined_at: 1_706_889_600_000,
                latency: Some(23),
                device: Some("iPhone".into()),
            })
            .collect();
        let list = Frame::encode(&partyline_protocol::ServerMessage::MemberList { timestamp: 1, members });
        assert!(list.len() > 100_000, "a list of 1,000 is {} bytes", list.len());
        let (server, mut client) = tokio::io::duplex(1 << 20);
        let config = tungstenite::protocol::WebSocketConfig::default().write_buffer_size(0);
        let socket = WebSocketStream::from_raw_socket(
            Counted::new(server, 16 * 1024),
            tungstenite::protocol::Role::Server,
            Some(config),
        )
        .await;
        let (mut sink, stream) = socket.split();
        let (_tx, mut rx) = crate::queue::queue(8);
        let written = write_batch(&mut sink, &mut rx, Out::Text(list.clone(), Some(7))).await.unwrap();
        assert_eq!(written, Written::Open);
        let socket = sink.reunite(stream).unwrap();
        assert_eq!(socket.get_ref().held(), 0, "the write buffer is given back once written");
        drop(socket);
        let mut raw = Vec::new();
        client.read_to_end(&mut raw).await.unwrap();
        let frames = server_frames(&raw);
        let largest = frames.iter().map(|(_, _, payload)| payload.len()).max().unwrap();
        assert!(largest <= MAX_FRAME, "largest frame: {largest} bytes, expected at most {MAX_FRAME}");
        assert_eq!(
            frames[0].2, br#"{"seq":7,"#,
            "`seq` first, a piece of its own: the list's bytes are shared, not copied"
        );
        let opcodes: Vec<u8> = frames.iter().map(|(_, opcode, _)| *opcode).collect();
        assert_eq!(opcodes[0], 1, "a text frame first");
        assert!(opcodes[1..].iter().all(|opcode| *opcode == 0), "then continuation frames: {opcodes:?}");
        let fins: Vec<bool> = frames.iter().map(|(fin, _, _)| *fin).collect();
        assert_eq!(fins.iter().filter(|fin| **fin).count(), 1, "one FIN");
        assert!(fins[fins.len() - 1], "on the last frame");
        for (_, _, payload) in &frames {
            assert!(std::str::from_utf8(payload).is_ok(), "every fragment is whole UTF-8");
        }
        let joined: Vec<u8> = frames.into_iter().flat_map(|(_, _, payload)| payload).collect();
        assert_eq!(String::from_utf8(joined).unwrap(), list.with_seq(7), "the fragments join into the message");
    }

    /// A message that fits in one frame is written as it is.
    #[test]
    fn short_messages_are_one_frame() {
        let short: Vec<Message> = frames(&frame(1), Some(3)).collect();
        assert!(matches!(&short[..], [Message::Text(text)] if text.contains(r#""seq":3"#)), "{short:?}");
    }

    /// Small items are gathered into one flush, up to a batch.
    #[tokio::test]
    async fn small_items_share_a_flush() {
        let (tx, mut rx) = crate::queue::queue(8);
        tx.try_send(Out::Batch(vec![(frame(1), None), (frame(2), None)])).unwrap();
        tx.try_send(Out::Text(frame(3), None)).unwrap();
        let mut sink = Recorder::default();
        let written = write_batch(&mut sink, &mut rx, Out::Text(frame(0), None)).await.unwrap();
        assert_eq!(written, Written::Open);
        assert_eq!(sink.0.len(), 5, "four frames and one flush: {:?}", sink.0);
        assert_eq!(sink.0[4], Op::Flush);
    }
}

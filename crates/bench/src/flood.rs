//! The flooder of the `flood-*` scenarios: one guest with the key that sends one kind of frame
//! as fast as its socket takes it, while the scenario's other members ping and the bench watches
//! their round trips, the server's CPU and its memory.
//!
//! The flooder joins (`partyline/1`), then writes batches of the chosen frame without waiting
//! for anything; a task of its own reads what comes back and counts the answers (a pong for a
//! WebSocket ping, the chat echo for a chat, `direct_ack` for a direct, `error` for a refused
//! frame). When the server closes it (rate limit, oversize, too slow) it connects and joins again
//! at once, as an attacker would, until the flood's time is up.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use partyline_protocol::client::{Chat, Direct};
use partyline_protocol::{ClientMessage, PARTYLINE_V1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::client::{
    OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, Target, connect, encode, epoch_ms, message_type, parse_header,
};

/// What the flooder sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flood {
    /// WebSocket ping control frames (8-byte payload): answered by the WebSocket layer.
    Ping,
    /// Unsolicited WebSocket pong control frames with payload 0: a forged latency probe reply.
    Pong,
    /// Short `chat` lines: each one is a broadcast to every member.
    Text,
    /// 1 KiB binary frames: not part of the protocol, each refused with an `error`.
    Binary,
    /// 8 KiB `direct`s to a member that dropped and is reconnecting: buffered for its resume.
    Direct8k,
    /// Text frames one byte over the 64 KiB message limit: each refused, and the connection closed.
    Oversize,
}

/// The server's message limit (`partyline_protocol::MAX_MESSAGE_BYTES`, 64 KiB), plus one.
const OVERSIZE_BYTES: usize = 64 * 1024 + 1;

/// Bytes of frames per write: enough that the flooder spends its time in the kernel's send path,
/// not in the loop around it; an oversize frame goes one to a write.
const BATCH_BYTES: usize = 64 * 1024;

/// The `payload.text` of a flood `direct`: 8,000 characters, which with `{"text":""}` stays under
/// the 8 KiB payload limit.
const DIRECT_TEXT_CHARS: usize = 8000;

/// What one flood did, as the flooder saw it.
#[derive(Debug, Default)]
pub struct Tally {
    /// Frames written whole to the socket.
    pub sent: Cell<u64>,
    /// Frames the server answered (pong, chat echo, `direct_ack`, `error` for a refused frame).
    pub answered: Cell<u64>,
    /// `error` messages with code `rate_limited`.
    pub rate_limited: Cell<u64>,
    /// Connections the flooder opened (1 + reconnections after being closed).
    pub connections: Cell<u64>,
    /// Close codes the server sent the flooder, with their counts.
    pub closes: RefCell<BTreeMap<u16, u32>>,
}

impl Flood {
    /// The scenario-name suffix.
    pub fn name(self) -> &'static str {
        match self {
            Flood::Ping => "ping",
            Flood::Pong => "pong",
            Flood::Text => "text",
            Flood::Binary => "binary",
            Flood::Direct8k => "direct-8k",
            Flood::Oversize => "oversize",
        }
    }

    /// One batch of frames, masked, and how many frames it holds. `to`: the direct's recipient.
    fn batch(self, to: &str) -> (Vec<u8>, u64) {
        let (opcode, payload) = match self {
            Flood::Ping => (OP_PING, 1u64.to_be_bytes().to_vec()),
            Flood::Pong => (OP_PONG, 0u64.to_be_bytes().to_vec()),
            Flood::Text => {
                let chat = ClientMessage::Chat(Chat { timestamp: 1.into(), text: "flood".into(), room: None });
                (OP_TEXT, chat.to_text().into_bytes())
            }
            Flood::Binary => (OP_BINARY, vec![0xA5; 1024]),
            Flood::Direct8k => {
                let direct = ClientMessage::Direct(Direct {
                    timestamp: 1.into(),
                    to: to.into(),
                    id: "d-flood".into(),
                    payload: serde_json::json!({"text": "x".repeat(DIRECT_TEXT_CHARS)}),
                    ttl: None,
                });
                (OP_TEXT, direct.to_text().into_bytes())
            }
            Flood::Oversize => {
                // Written out, not typed: the point is a frame of exactly OVERSIZE_BYTES.
                let head = r#"{"type":"chat","timestamp":1,"text":""#;
                let mut chat = head.to_string();
                chat.push_str(&"x".repeat(OVERSIZE_BYTES - head.len() - 2));
                chat.push_str("\"}");
                (OP_TEXT, chat.into_bytes())
            }
        };
        let mut out = Vec::with_capacity(BATCH_BYTES + payload.len() + 16);
        let mut frames = 0;
        let mut mask = 0x9E37_79B9u32;
        while out.is_empty() || out.len() + payload.len() < BATCH_BYTES {
            mask = mask.rotate_left(5) ^ 0x2545_F491;
            encode(&mut out, opcode, &payload, mask.to_be_bytes());
            frames += 1;
        }
        (out, frames)
    }

    /// Whether a text message from the server answers one of this flood's frames.
    fn answers(self, kind: &[u8]) -> bool {
        match self {
            Flood::Text => kind == b"chat" || kind == b"error",
            Flood::Direct8k => kind == b"direct_ack" || kind == b"error",
            Flood::Ping | Flood::Pong | Flood::Binary | Flood::Oversize => kind == b"error",
        }
    }
}

fn join_frame(target: &Target, device: &str) -> Vec<u8> {
    let join = ClientMessage::join(epoch_ms(), target.session_id.clone(), device, device, Some(PARTYLINE_V1));
    let mut out = Vec::new();
    encode(&mut out, OP_TEXT, join.to_text().as_bytes(), [1, 2, 3, 4]);
    out
}

/// A member that joins and then drops its connection without a close frame, so that the
/// session keeps it as reconnecting (and buffers what is sent to it). Returns its member id.
pub async fn reconnecting_member(target: &Target, device: &str) -> anyhow::Result<String> {
    let (mut rd, mut wr, mut buf) = connect(target, None).await?;
    wr.write_all(&join_frame(target, device)).await?;
    let id = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            while let Some(Ok(header)) = parse_header(&buf) {
                let total = header.header + header.len;
                if buf.len() < total {
                    break;
                }
                let payload = &buf[header.header..total];
                if header.opcode == OP_TEXT && message_type(payload) == b"welcome" {
                    let value: serde_json::Value = serde_json::from_slice(payload)?;
                    return anyhow::Ok(value["clientId"].as_str().unwrap_or_default().to_string());
                }
                buf.advance(total);
            }
            if rd.read_buf(&mut buf).await? == 0 {
                anyhow::bail!("closed before welcome");
            }
        }
    })
    .await??;
    // Dropping both halves ends the TCP connection with no WebSocket close: a lost phone.
    drop((rd, wr));
    Ok(id)
}

/// Floods until `stop`, reconnecting whenever the server closes the flooder.
pub async fn flooder(
    target: Rc<Target>,
    flood: Flood,
    device: String,
    to: String,
    stop: CancellationToken,
    tally: Rc<Tally>,
) {
    let (batch, frames) = flood.batch(&to);
    let join = join_frame(&target, &device);
    while !stop.is_cancelled() {
        let Ok(Ok((rd, mut wr, buf))) = tokio::time::timeout(Duration::from_secs(5), connect(&target, None)).await
        else {
            // Refused or slow to accept: try again shortly rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        tally.connections.set(tally.connections.get() + 1);
        let closed = CancellationToken::new();
        let reader = tokio::task::spawn_local(read_answers(rd, buf, flood, tally.clone(), closed.clone()));
        tokio::select! {
            () = stop.cancelled() => {}
            () = closed.cancelled() => {}
            _ = write_flood(&mut wr, &join, &batch, frames, &tally) => {}
        }
        closed.cancel();
        let _ = reader.await;
    }
}

/// Writes the join, then batches until the socket fails; returns the failure.
async fn write_flood(
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
    join: &[u8],
    batch: &[u8],
    frames: u64,
    tally: &Tally,
) -> std::io::Error {
    if let Err(err) = wr.write_all(join).await {
        return err;
    }
    loop {
        if let Err(err) = wr.write_all(batch).await {
            return err;
        }
        tally.sent.set(tally.sent.get() + frames);
    }
}

/// Reads what the server sends the flooder and counts the answers, until the server closes.
async fn read_answers(
    mut rd: tokio::net::tcp::OwnedReadHalf,
    mut buf: BytesMut,
    flood: Flood,
    tally: Rc<Tally>,
    closed: CancellationToken,
) {
    let count = |cell: &Cell<u64>| cell.set(cell.get() + 1);
    loop {
        while let Some(Ok(header)) = parse_header(&buf) {
            let total = header.header + header.len;
            if buf.len() < total {
                buf.reserve(total - buf.len());
                break;
            }
            let payload = &buf[header.header..total];
            match header.opcode {
                OP_PONG if flood == Flood::Ping => count(&tally.answered),
                OP_TEXT => {
                    let kind = message_type(payload);
                    if flood.answers(kind) {
                        count(&tally.answered);
                    }
                    if kind == b"error" && memchr::memmem::find(payload, b"\"rate_limited\"").is_some() {
                        count(&tally.rate_limited);
                    }
                }
                OP_CLOSE => {
                    let code = if payload.len() >= 2 { u16::from_be_bytes([payload[0], payload[1]]) } else { 1005 };
                    *tally.closes.borrow_mut().entry(code).or_insert(0) += 1;
                    closed.cancel();
                    return;
                }
                _ => {}
            }
            buf.advance(total);
        }
        if buf.capacity() - buf.len() < 8192 {
            buf.reserve(64 * 1024);
        }
        tokio::select! {
            () = closed.cancelled() => return,
            read = rd.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => {
                    closed.cancel();
                    return;
                }
                Ok(_) => {}
            },
        }
    }
}

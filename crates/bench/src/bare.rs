//! `serve-bare`: the reference "bare tokio-tungstenite" server. It speaks the LOUDSYNC subset
//! the bench uses (join → `welcome` + `member_list`, `member_joined` to the others; heartbeat;
//! ping → pong; `chat` → a server `chat` to every member, the sender included; `member_left`),
//! with none of Partyline's other work: no session task, no per-member sequence numbers, no
//! replay buffers, no heartbeat deadlines, no latency probes, no rate limit.
//!
//! It is built the way a careful minimal server is: a task per connection, one shared member
//! list behind a mutex, each broadcast serialized once and its bytes shared, a bounded queue per
//! connection, batched writes (feed what is queued, then flush once), TCP_NODELAY (as Node's ws
//! sets it; `--no-nodelay` leaves Nagle on), and the same buffer sizes as Partyline (4 KiB read
//! buffer, 16 KiB write buffer). It is the ceiling Partyline's fan-out is compared with.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

use crate::serve::{ServeArgs, announce, limits, wait_for_stdin_eof};

/// Messages written before one flush, as in Partyline.
const MAX_BATCH: usize = 64;

struct Peer {
    conn: u64,
    /// `{"id":..,"name":..,...}`, serialized once at join.
    info: String,
    tx: mpsc::Sender<Utf8Bytes>,
    kill: CancellationToken,
}

struct Hub {
    session_id: String,
    join_key: String,
    host_info: String,
    members: Mutex<Vec<Peer>>,
    next_member: AtomicU64,
    next_chat: AtomicU64,
    queue: usize,
}

impl Hub {
    /// Sends `frame` to every member but `except`; a member whose queue is full is closed.
    fn broadcast(&self, frame: &Utf8Bytes, except: Option<u64>) {
        let members = self.members.lock().expect("hub poisoned");
        for peer in members.iter() {
            if Some(peer.conn) == except {
                continue;
            }
            if let Err(mpsc::error::TrySendError::Full(_)) = peer.tx.try_send(frame.clone()) {
                peer.kill.cancel();
            }
        }
    }
}

#[derive(Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    timestamp: serde_json::Number,
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
    #[serde(rename = "deviceInfo")]
    device_info: Option<DeviceInfo>,
    text: Option<String>,
}

#[derive(Deserialize)]
struct DeviceInfo {
    name: String,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialize")
}

/// Runs the bare server until standard input closes.
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        // Partyline's own listening socket (its backlog of 4,096): with the standard library's
        // 128 a join storm's connections wait a SYN retransmit, and the storm would compare
        // backlogs, not servers.
        let listener = partyline_server::bind_listener(SocketAddr::new(args.bind, args.port))?;
        let addr = listener.local_addr()?;
        let limits = limits(&args);
        let hub = Arc::new(Hub {
            session_id: "bare01".into(),
            join_key: partyline_server::generate_join_key(),
            host_info: format!(
                r#"{{"id":"host-bare","name":"bench-host","isHost":true,"connectionStatus":"connected","joinedAt":{}}}"#,
                now_ms()
            ),
            members: Mutex::new(Vec::new()),
            next_member: AtomicU64::new(1),
            next_chat: AtomicU64::new(1),
            queue: limits.outbound_queue,
        });
        let mut config = WebSocketConfig::default();
        config.read_buffer_size = limits.read_buffer;
        config.write_buffer_size = limits.write_buffer;
        config.max_message_size = Some(64 * 1024);
        config.max_frame_size = Some(64 * 1024);
        announce("bare", addr, &hub.session_id, Some(&hub.join_key));
        let accept = async {
            let mut next_conn = 1u64;
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                if !args.no_nodelay {
                    let _ = stream.set_nodelay(true);
                }
                let (hub, conn) = (hub.clone(), next_conn);
                next_conn += 1;
                tokio::spawn(connection(stream, hub, conn, config));
            }
        };
        tokio::select! {
            () = accept => {}
            () = wait_for_stdin_eof() => {}
        }
        anyhow::Ok(())
    })
}

type Sink = SplitSink<WebSocketStream<TcpStream>, Message>;

#[allow(clippy::result_large_err)] // the handshake callback's signature is tungstenite's
async fn connection(stream: TcpStream, hub: Arc<Hub>, conn: u64, config: WebSocketConfig) {
    let mut authorized = false;
    let check = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        let token = request.uri().query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")));
        authorized = token == Some(hub.join_key.as_str());
        Ok(response)
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(config)).await else { return };
    let (mut sink, mut stream) = ws.split();
    if !authorized {
        let error = format!(
            r#"{{"type":"error","timestamp":{},"code":"unauthorized","message":"Wrong or missing join key"}}"#,
            now_ms()
        );
        let _ = sink.send(Message::text(error)).await;
        let _ = sink.send(close(4001, "unauthorized")).await;
        return;
    }
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(hub.queue);
    let kill = CancellationToken::new();
    let mut me: Option<(String, String)> = None; // (id, name) once joined
    loop {
        tokio::select! {
            () = kill.cancelled() => {
                let _ = sink.send(close(4008, "too slow")).await;
                break;
            }
            Some(first) = rx.recv() => {
                if write_batch(&mut sink, &mut rx, first).await.is_err() {
                    break;
                }
            }
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let Ok(incoming) = serde_json::from_str::<Incoming>(text.as_str()) else { continue };
                    match incoming.kind.as_str() {
                        "join" if me.is_none() => {
                            if incoming.session_id.as_deref() != Some(hub.session_id.as_str()) {
                                continue;
                            }
                            let name = incoming.device_info.map_or_else(|| "guest".into(), |d| d.name);
                            let id = format!("m-{:08x}", hub.next_member.fetch_add(1, Ordering::Relaxed));
                            join(&hub, conn, &id, &name, &tx, &kill);
                            me = Some((id, name));
                        }
                        "heartbeat" => {}
                        "ping" => {
                            let pong = format!(r#"{{"type":"pong","timestamp":{}}}"#, incoming.timestamp);
                            if sink.send(Message::text(pong)).await.is_err() {
                                break;
                            }
                        }
                        "chat" => {
                            let (Some((id, name)), Some(text)) = (&me, incoming.text) else { continue };
                            let seq = hub.next_chat.fetch_add(1, Ordering::Relaxed);
                            let frame = format!(
                                r#"{{"type":"chat","timestamp":{},"seq":{seq},"id":"c-{seq}","from":"{id}","name":{},"text":{}}}"#,
                                now_ms(),
                                quote(name),
                                quote(&text)
                            );
                            hub.broadcast(&Utf8Bytes::from(frame), None);
                        }
                        "leave" => break,
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    if let Some((id, _)) = me {
        hub.members.lock().expect("hub poisoned").retain(|peer| peer.conn != conn);
        let left = format!(r#"{{"type":"member_left","timestamp":{},"memberId":"{id}","reason":"left"}}"#, now_ms());
        hub.broadcast(&Utf8Bytes::from(left), None);
    }
}

/// Adds a member: `welcome` and `member_list` to it, `member_joined` to the others, all under
/// the lock so that every member's view is consistent.
fn join(hub: &Hub, conn: u64, id: &str, name: &str, tx: &mpsc::Sender<Utf8Bytes>, kill: &CancellationToken) {
    let now = now_ms();
    let info = format!(
        r#"{{"id":"{id}","name":{},"isHost":false,"connectionStatus":"connected","joinedAt":{now}}}"#,
        quote(name)
    );
    let welcome = format!(
        r#"{{"type":"welcome","timestamp":{now},"clientId":"{id}","sessionInfo":{{"id":"{}","name":"Bench","hostId":"host-bare"}}}}"#,
        hub.session_id
    );
    let joined = Utf8Bytes::from(format!(r#"{{"type":"member_joined","timestamp":{now},"member":{info}}}"#));
    let mut members = hub.members.lock().expect("hub poisoned");
    let mut list = String::with_capacity(64 + (members.len() + 2) * (info.len() + 1));
    list.push_str(&format!(r#"{{"type":"member_list","timestamp":{now},"members":["#));
    list.push_str(&hub.host_info);
    for peer in members.iter() {
        list.push(',');
        list.push_str(&peer.info);
    }
    list.push(',');
    list.push_str(&info);
    list.push_str("]}");
    let _ = tx.try_send(Utf8Bytes::from(welcome));
    let _ = tx.try_send(Utf8Bytes::from(list));
    for peer in members.iter() {
        if let Err(mpsc::error::TrySendError::Full(_)) = peer.tx.try_send(joined.clone()) {
            peer.kill.cancel();
        }
    }
    members.push(Peer { conn, info, tx: tx.clone(), kill: kill.clone() });
}

async fn write_batch(
    sink: &mut Sink,
    rx: &mut mpsc::Receiver<Utf8Bytes>,
    first: Utf8Bytes,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    sink.feed(Message::Text(first)).await?;
    for _ in 1..MAX_BATCH {
        match rx.try_recv() {
            Ok(next) => sink.feed(Message::Text(next)).await?,
            Err(_) => break,
        }
    }
    sink.flush().await
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code: CloseCode::from(code), reason: Utf8Bytes::from_static(reason) }))
}

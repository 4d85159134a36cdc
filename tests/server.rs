//! A Partyline host, reached over real WebSockets on loopback, keeps every promise of
//! LOUDSYNC 1.0 to a plain client, resumes an extension client without losing a message, turns
//! bad input into a clear error without losing the connection (or closes it, as documented),
//! and never lets one slow member hold up the others.

use std::time::Duration;

use partyline_protocol::{ConnectionStatus, ErrorCode, LeaveReason, MemberInfo, reason};
use partyline_server::Limits;
use partyline_support::{
    Client, Ending, ServerMessage, SessionConfig, WAIT, Welcome, chat_msg, default_host, expect_message, fast_host,
    heartbeat_msg, join_msg, ping_msg, start_host, ws_url,
};
use serde_json::{Value, json};

/// The members of a `member_list`; any other message fails the test.
fn members_of(message: ServerMessage) -> Vec<MemberInfo> {
    expect_message!(message, ServerMessage::MemberList { members, .. } => members)
}

/// The member of a `member_joined` or `member_updated`; any other message fails the test.
fn member_of(message: ServerMessage) -> MemberInfo {
    expect_message!(message,
        ServerMessage::MemberJoined { member, .. } | ServerMessage::MemberUpdated { member, .. } => member)
}

/// The code and details of an `error`; any other message fails the test.
fn error_of(message: ServerMessage) -> (ErrorCode, Value) {
    expect_message!(message,
        ServerMessage::Error { code, details, .. } => (code, details.unwrap_or(Value::Null)))
}
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// join → welcome and member_list to the joiner, member_joined to the others; the 1.0 shapes
/// carry no extension fields.
#[tokio::test]
async fn loudsync_join_flow() {
    let host = default_host().await;
    let (mut a, a_welcome) = Client::join(&host, "dev-a", false).await;
    let a_list = members_of(a.recv().await.message);
    let host_id = a_list[0].id.clone();
    // The exact JSON of a 1.0 welcome: read raw, on purpose.
    let mut b = Client::connect(&ws_url(&host)).await;
    b.send(join_msg("dev-b", false)).await;
    let b_welcome = b.recv_json().await;
    let keys: Vec<&String> = b_welcome.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["clientId", "sessionInfo", "timestamp", "type"]);
    assert_eq!(b_welcome["sessionInfo"], json!({"id": "party1", "name": "Test Party", "hostId": host_id}));
    let b_id = b_welcome["clientId"].as_str().unwrap();
    let ids: Vec<String> = members_of(b.recv().await.message).into_iter().map(|m| m.id).collect();
    assert_eq!(ids, [host_id.as_str(), &a_welcome.client_id, b_id]);
    let joined = member_of(a.recv().await.message);
    assert_eq!(
        (joined.id.as_str(), joined.connection_status, joined.is_host),
        (b_id, ConnectionStatus::Connected, false)
    );
}

/// ping → pong with the same timestamp, nothing added for a 1.0 client.
#[tokio::test]
async fn ping_pong() {
    let host = default_host().await;
    let (mut a, _) = Client::join(&host, "dev-a", false).await;
    a.recv().await;
    a.send(ping_msg(1706889650000u64)).await;
    // The exact JSON of a 1.0 pong: read raw, on purpose.
    assert_eq!(a.recv_json().await, json!({"type": "pong", "timestamp": 1706889650000u64}));
}

/// The extension pong carries the server's receive and send times in µs, close to our clock.
#[tokio::test]
async fn extension_pong_has_server_times() {
    let host = default_host().await;
    let (mut x, _) = Client::join_in(&host, "dev-x", true).await;
    let t0 = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as f64;
    x.send(ping_msg(serde_json::Number::from_f64(t0 / 1000.0).unwrap())).await;
    let (pong, _) = x.recv_until("pong").await;
    let (received, sent) = expect_message!(pong.message,
        ServerMessage::Pong { server_receive_time, server_send_time, .. } => (server_receive_time, server_send_time));
    let received = received.expect("serverReceiveTime") as f64;
    let sent = sent.expect("serverSendTime") as f64;
    assert!(sent >= received, "send {sent} before receive {received}");
    assert!((received - t0).abs() < 1_000_000.0, "server time {received} is a second away from ours {t0}");
}

/// leave → close 1000 for the leaver, member_left (left) for the others.
#[tokio::test]
async fn leave_flow() {
    let host = default_host().await;
    let (mut a, _) = Client::join(&host, "dev-a", false).await;
    a.recv().await;
    let (mut b, b_welcome) = Client::join(&host, "dev-b", false).await;
    a.recv_until("member_joined").await;
    let leave = partyline_protocol::client::Leave { timestamp: 1.into(), reason: Some(reason::DEFAULT_LEAVE.into()) };
    b.send(partyline_support::ClientMessage::Leave(leave)).await;
    assert_eq!(b.ending().await, Ending::Code(1000));
    let left = expect_message!(a.recv().await.message,
        ServerMessage::MemberLeft { member_id, reason, .. } => (member_id, reason));
    assert_eq!(left, (b_welcome.client_id, LeaveReason::Left));
}

/// A member that stops heartbeating is closed (4012) and the others get member_left with
/// reason timeout. (The timeout is shortened here; the session tests pin 15 s exactly.)
#[tokio::test]
async fn heartbeat_timeout_flow() {
    let session = SessionConfig { heartbeat_timeout: 300_000, ..SessionConfig::default() };
    let host = start_host(session, Limits::default()).await;
    let (mut a, _) = Client::join(&host, "dev-a", false).await;
    let (mut b, b_welcome) = Client::join(&host, "dev-b", false).await;
    a.recv_until("member_joined").await;
    // a keeps heartbeating; b goes silent.
    let beat = tokio::spawn(async move {
        for _ in 0..8 {
            a.send(heartbeat_msg()).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        a
    });
    assert_eq!(b.ending().await, Ending::Code(4012));
    let mut a = beat.await.unwrap();
    let left = expect_message!(a.recv().await.message,
        ServerMessage::MemberLeft { member_id, reason, .. } => (member_id, reason));
    assert_eq!(left, (b_welcome.client_id, LeaveReason::Timeout));
}

/// The same device joining again replaces the old connection (already_joined, 4009) and keeps
/// its member id.
#[tokio::test]
async fn already_joined_replaces() {
    let host = default_host().await;
    let (mut old, first) = Client::join(&host, "dev-a", false).await;
    old.recv().await;
    let (_new, second) = Client::join(&host, "dev-a", false).await;
    assert_eq!(first.client_id, second.client_id);
    let (code, _) = error_of(old.recv().await.message);
    assert_eq!(code, ErrorCode::AlreadyJoined);
    assert_eq!(old.ending().await, Ending::Code(4009));
}

/// session_full carries maxMembers and currentMembers; session_not_found names the id.
#[tokio::test]
async fn full_and_not_found() {
    let host = start_host(SessionConfig { max_members: 1, ..SessionConfig::default() }, Limits::default()).await;
    let (_a, _) = Client::join(&host, "dev-a", false).await;
    let mut c = Client::connect(&ws_url(&host)).await;
    c.send(join_msg("dev-c", false)).await;
    let error = error_of(c.recv().await.message);
    assert_eq!(error, (ErrorCode::SessionFull, json!({"maxMembers": 1, "currentMembers": 1})));
    let mut wrong = join_msg("dev-d", false);
    if let partyline_support::ClientMessage::Join(join) = &mut wrong {
        join.session_id = "elsewhere".into();
    }
    c.send(wrong).await;
    let error = error_of(c.recv().await.message);
    assert_eq!(error, (ErrorCode::SessionNotFound, json!({"sessionId": "elsewhere"})));
}

/// Malformed JSON, an unknown type, missing fields and a binary frame each get
/// invalid_message, and the connection keeps working.
#[tokio::test]
async fn invalid_messages_keep_the_connection() {
    let host = default_host().await;
    let (mut a, _) = Client::join(&host, "dev-a", false).await;
    a.recv().await;
    // Raw text on purpose: these frames are malformed.
    for bad in ["{not json", "[]", r#"{"type":"dance","timestamp":1}"#, r#"{"type":"heartbeat"}"#] {
        a.send_text(bad).await;
        let (code, message) =
            expect_message!(a.recv().await.message, ServerMessage::Error { code, message, .. } => (code, message));
        assert_eq!(code, ErrorCode::InvalidMessage, "for {bad}: {message}");
        assert!(!message.is_empty());
    }
    use futures_util::SinkExt;
    a.ws.send(tokio_tungstenite::tungstenite::Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(error_of(a.recv().await.message).0, ErrorCode::InvalidMessage);
    a.send(ping_msg(5)).await;
    let pong = expect_message!(a.recv().await.message, ServerMessage::Pong { timestamp, .. } => timestamp);
    assert_eq!(pong, 5.into());
}

/// A message over 64 KiB gets message_too_large and close 1009.
#[tokio::test]
async fn oversize_message() {
    let host = default_host().await;
    let (mut a, _) = Client::join_in(&host, "dev-a", true).await;
    a.send(chat_msg("x".repeat(70 * 1024))).await;
    let (error, _) = a.recv_until("error").await;
    assert_eq!(error_of(error.message), (ErrorCode::MessageTooLarge, json!({"maxBytes": 65536})));
    assert_eq!(a.ending().await, Ending::Code(1009));
}

/// A flood gets rate_limited (with retryAfterMs) and the connection stays usable.
#[tokio::test]
async fn flood_is_rate_limited() {
    let host = default_host().await;
    let (mut a, _) = Client::join(&host, "dev-a", false).await;
    a.recv().await;
    for _ in 0..200 {
        a.send(heartbeat_msg()).await;
    }
    let (error, _) = a.recv_until("error").await;
    let (code, details) = error_of(error.message);
    assert_eq!(code, ErrorCode::RateLimited);
    assert!(details["retryAfterMs"].as_u64().is_some(), "{details}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.send(ping_msg(9)).await;
    let (pong, _) = a.recv_until("pong").await;
    assert_eq!(expect_message!(pong.message, ServerMessage::Pong { timestamp, .. } => timestamp), 9.into());
}

/// A member that stops reading is cut off (its queue overflows: close 4008, shown as
/// reconnecting), while another member keeps receiving every message, in order.
#[tokio::test]
async fn stalled_member_is_cut_off() {
    let host = fast_host().await;
    let mut events = host.subscribe();
    // A 1.0 sender: chat goes to extension members only, so it has nothing to read.
    let (mut sender, _) = Client::join(&host, "dev-s", false).await;
    let (mut reader, _) = Client::join_in(&host, "dev-r", true).await;
    let mut stalled = Client::connect_small_buffer(&ws_url(&host)).await;
    stalled.send(join_msg("dev-x", true)).await;
    let stalled_id = Welcome::of(stalled.recv().await).client_id;
    const N: usize = 6000;
    let line = "y".repeat(1000);
    let read_all = tokio::spawn(async move {
        let mut next = 0;
        while next < N {
            let (chat, _) = reader.recv_until("chat").await;
            let text = expect_message!(chat.message, ServerMessage::Chat { text, .. } => text);
            assert_eq!(text, format!("{next:04}{}", "y".repeat(996)), "in order");
            next += 1;
        }
        next
    });
    let send_all = tokio::spawn(async move {
        for n in 0..N {
            sender.send(chat_msg(format!("{n:04}{}", &line[4..]))).await;
            if n % 50 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        sender
    });
    let cut = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.recv().await {
                Ok(partyline_server::HostEvent::MemberUpdated(m))
                    if m.id == stalled_id
                        && m.connection_status == partyline_protocol::ConnectionStatus::Reconnecting =>
                {
                    return;
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(err) => panic!("{err}"),
            }
        }
    })
    .await;
    assert!(cut.is_ok(), "the stalled member was never cut off");
    let _sender = send_all.await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(60), read_all).await.expect("reader finishes").unwrap();
    assert_eq!(read, N, "the reading member got every message");
    drop(stalled);
}

/// The key is accepted in the query, an Authorization header, or a subprotocol (echoed back);
/// a wrong or missing key gets unauthorized and close 4001.
#[tokio::test]
async fn auth_methods() {
    let host = default_host().await;
    let base = format!("ws://{}/ws", host.local_addr());
    let key = host.join_key().unwrap().to_string();

    let mut query = Client::connect(&format!("{base}?token={key}")).await;
    query.send(join_msg("dev-q", false)).await;
    Welcome::of(query.recv().await);

    let request =
        Client::with_header(base.as_str().into_client_request().unwrap(), "authorization", &format!("Bearer {key}"));
    let mut bearer = Client::connect_request(request).await.unwrap();
    bearer.send(join_msg("dev-b", false)).await;
    Welcome::of(bearer.recv().await);

    let protocol = format!("access_token.{key}");
    let request =
        Client::with_header(base.as_str().into_client_request().unwrap(), "sec-websocket-protocol", &protocol);
    let mut sub = Client::connect_request(request).await.unwrap();
    assert_eq!(sub.protocol.as_deref(), Some(protocol.as_str()), "the subprotocol is echoed");
    sub.send(join_msg("dev-p", false)).await;
    Welcome::of(sub.recv().await);

    for url in [format!("{base}?token=wrong"), base.clone()] {
        let mut refused = Client::connect(&url).await;
        let error = error_of(refused.recv().await.message);
        assert_eq!(error, (ErrorCode::Unauthorized, json!({"reason": reason::BAD_KEY})), "{url}");
        assert_eq!(refused.ending().await, Ending::Code(4001), "{url}");
    }
}

/// A browser page from another origin is refused at the upgrade (403); the host's own page
/// is not.
#[tokio::test]
async fn foreign_origin_refused() {
    let host = default_host().await;
    let url = ws_url(&host);
    let request = Client::with_header(url.as_str().into_client_request().unwrap(), "origin", "http://evil.example");
    match Client::connect_request(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| "a connection")),
    }
    let own = format!("http://{}", host.local_addr());
    let request = Client::with_header(url.as_str().into_client_request().unwrap(), "origin", &own);
    assert!(Client::connect_request(request).await.is_ok());
}

/// A dropped extension member is shown reconnecting, resumes with its secret and last seq,
/// and receives every message it missed, in order, with no gap in the numbers.
#[tokio::test]
async fn resume_after_drop_loses_nothing() {
    let host = default_host().await;
    let (mut x, welcome) = Client::join(&host, "dev-x", true).await;
    let (list, _) = x.recv_until("member_list").await;
    let (mut talker, _) = Client::join_in(&host, "dev-t", true).await;
    let (joined, _) = x.recv_until("member_joined").await;
    let last_seq = joined.seq.unwrap();
    // welcome 1, member_list 2, library.update 3, syncplay.state 4, member_joined 5.
    assert_eq!((welcome.seq, list.seq, last_seq), (Some(1), Some(2), 5));

    // Cut x's TCP connection without a close frame.
    drop(x);
    let (update, _) = talker.recv_until("member_updated").await;
    assert_eq!(member_of(update.message).connection_status, ConnectionStatus::Reconnecting);
    for n in 0..5 {
        talker.send(chat_msg(format!("missed {n}"))).await;
    }
    for _ in 0..5 {
        talker.recv_until("chat").await;
    }

    let mut back = Client::connect(&ws_url(&host)).await;
    back.send(partyline_support::resume_msg(&welcome, last_seq)).await;
    let resumed = expect_message!(back.recv().await.message,
        ServerMessage::Resumed { replayed, snapshot, .. } => (replayed, snapshot));
    assert_eq!(resumed, (5, false));
    for n in 0..5 {
        let chat = back.recv().await;
        assert_eq!(chat.seq, Some(last_seq + 1 + n), "no gap: {chat:?}");
        assert_eq!(expect_message!(chat.message, ServerMessage::Chat { text, .. } => text), format!("missed {n}"));
    }
    let (update, _) = talker.recv_until("member_updated").await;
    let member = member_of(update.message);
    assert_eq!((member.connection_status, member.id), (ConnectionStatus::Connected, welcome.client_id));
}

/// A resume in the upgrade URL (`?resume=&secret=&session=&lastSeq=`) is answered at once,
/// with nothing sent after the 101: `resumed` and the missed messages, as a `resume` frame
/// would have been. A wrong secret in the URL is `resume_failed`, after which the same
/// connection can join afresh; a `lastSeq` that is no number is `invalid_message`.
#[tokio::test]
async fn resume_in_the_upgrade_url() {
    let host = default_host().await;
    let (mut x, welcome) = Client::join(&host, "dev-x", true).await;
    let (mut talker, _) = Client::join_in(&host, "dev-t", true).await;
    let (joined, _) = x.recv_until("member_joined").await;
    let last_seq = joined.seq.unwrap();
    drop(x);
    talker.recv_until("member_updated").await;
    talker.send(chat_msg("while you were away")).await;
    talker.recv_until("chat").await;

    let secret = welcome.resume_secret.clone().unwrap();
    let url = |secret: &str, last_seq: &str| {
        format!("{}&resume={}&secret={secret}&session=party1&lastSeq={last_seq}", ws_url(&host), welcome.client_id)
    };
    let mut back = Client::connect(&url(&secret, &last_seq.to_string())).await;
    let resumed = expect_message!(back.recv().await.message,
        ServerMessage::Resumed { client_id, replayed, snapshot, .. } => (client_id, replayed, snapshot));
    assert_eq!(resumed, (welcome.client_id.clone(), 1, false), "resumed before the client sent anything");
    let chat = back.recv().await;
    assert_eq!(chat.seq, Some(last_seq + 1), "the missed line, with its number");
    assert_eq!(expect_message!(chat.message, ServerMessage::Chat { text, .. } => text), "while you were away");
    let (update, _) = talker.recv_until("member_updated").await;
    assert_eq!(member_of(update.message).connection_status, ConnectionStatus::Connected);

    let mut wrong = Client::connect(&url("00000000000000000000000000000000", "0")).await;
    let error = error_of(wrong.recv().await.message);
    assert_eq!(error.0, ErrorCode::ResumeFailed, "a wrong secret: {error:?}");
    wrong.send(join_msg("dev-w", true)).await;
    let (_, _) = wrong.recv_until("welcome").await;

    let mut garbled = Client::connect(&url(&secret, "soon")).await;
    let error = error_of(garbled.recv().await.message);
    assert_eq!(error.0, ErrorCode::InvalidMessage, "a lastSeq that is no number: {error:?}");
}

/// A reload's resume over HTTP (`GET /api/resume`, `attach=`): the member is back before any
/// socket, the answer is what its new connection was sent (`resumed`, the snapshot, numbered),
/// and the socket with the same nonce is that connection: it carries on from the answer's last
/// `seq`, with what was said meanwhile and no second `resumed`. The same nonce again is 409; a
/// wrong secret is 404 and parks nothing (the socket then resumes from its URL and is told).
#[tokio::test]
async fn a_reloads_resume_over_http_hands_its_connection_to_the_socket() {
    let host = default_host().await;
    let (mut x, welcome) = Client::join(&host, "dev-x", true).await;
    let (mut talker, _) = Client::join_in(&host, "dev-t", true).await;
    x.recv_until("member_joined").await;
    drop(x);
    let (update, _) = talker.recv_until("member_updated").await;
    assert_eq!(member_of(update.message).connection_status, ConnectionStatus::Reconnecting);

    let secret = welcome.resume_secret.clone().unwrap();
    let query = |secret: &str, nonce: &str| {
        format!(
            "token={}&resume={}&secret={secret}&session=party1&lastSeq=0&attach={nonce}",
            host.join_key().unwrap_or_default(),
            welcome.client_id
        )
    };
    let nonce = "reload-nonce-0123456789";
    let http = format!("http://{}/api/resume?{}", host.local_addr(), query(&secret, nonce));
    let (status, body) = partyline_support::curl(&[&http]).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let lines: Vec<Value> = String::from_utf8(body)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one frame a line"))
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|line| line["type"].as_str().unwrap()).collect();
    assert_eq!(kinds[..2], ["resumed", "welcome"], "{kinds:?}");
    assert!(kinds.contains(&"member_list"), "the snapshot: {kinds:?}");
    assert_eq!(
        (lines[0]["clientId"].as_str(), lines[0]["snapshot"].as_bool()),
        (Some(welcome.client_id.as_str()), Some(true))
    );
    let seqs: Vec<u64> = lines.iter().filter_map(|line| line["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1) && !seqs.is_empty(), "numbered without gaps: {seqs:?}");
    let (update, _) = talker.recv_until("member_updated").await;
    let member = member_of(update.message);
    assert_eq!(
        (member.id, member.connection_status),
        (welcome.client_id.clone(), ConnectionStatus::Connected),
        "back before any socket"
    );

    talker.send(chat_msg("said before the socket came")).await;
    talker.recv_until("chat").await;
    let socket_url = format!("ws://{}/ws?{}", host.local_addr(), query(&secret, nonce));
    let mut back = Client::connect(&socket_url).await;
    let chat = back.recv().await;
    assert_eq!(chat.seq, Some(seqs.last().unwrap() + 1), "the same connection, carried on: {chat:?}");
    assert_eq!(expect_message!(chat.message, ServerMessage::Chat { text, .. } => text), "said before the socket came");
    back.send(chat_msg("and after")).await;
    let (chat, skipped) = talker.recv_until("chat").await;
    assert_eq!(expect_message!(chat.message, ServerMessage::Chat { text, .. } => text), "and after");
    assert!(skipped.iter().all(|r| r.kind() != "member_updated"), "no second resume: {skipped:?}");

    let (status, _) = partyline_support::curl(&[&http]).await;
    assert_eq!(status, 409, "a nonce is used once");

    let wrong_nonce = "wrong-secret-0123456789";
    let wrong =
        format!("http://{}/api/resume?{}", host.local_addr(), query("00000000000000000000000000000000", wrong_nonce));
    assert_eq!(partyline_support::curl(&[&wrong]).await.0, 404, "a wrong secret resumes nothing");
    let mut refused = Client::connect(&format!(
        "ws://{}/ws?{}",
        host.local_addr(),
        query("00000000000000000000000000000000", wrong_nonce)
    ))
    .await;
    assert_eq!(
        error_of(refused.recv().await.message).0,
        ErrorCode::ResumeFailed,
        "nothing parked: the URL's resume, refused"
    );

    let bad = format!("http://{}/api/resume?{}", host.local_addr(), query(&secret, "short"));
    assert_eq!(partyline_support::curl(&[&bad]).await.0, 400, "a nonce of 16 to 64 characters");
    let keyless = format!(
        "http://{}/api/resume?resume={}&secret={secret}&session=party1&attach={nonce}x",
        host.local_addr(),
        welcome.client_id
    );
    assert_eq!(partyline_support::curl(&[&keyless]).await.0, 401, "the join key is checked as at /ws");
}

/// A socket that comes first with its nonce resumes from its URL, and the resume over HTTP
/// that comes after it is refused (409) without touching the member: the socket stays.
#[tokio::test]
async fn a_socket_that_comes_first_keeps_its_resume() {
    let host = default_host().await;
    let (x, welcome) = Client::join(&host, "dev-x", true).await;
    let (mut talker, _) = Client::join_in(&host, "dev-t", true).await;
    drop(x);
    talker.recv_until("member_updated").await;
    let query = format!(
        "token={}&resume={}&secret={}&session=party1&lastSeq=0&attach=socket-first-0123456789",
        host.join_key().unwrap_or_default(),
        welcome.client_id,
        welcome.resume_secret.clone().unwrap()
    );
    let mut back = Client::connect(&format!("ws://{}/ws?{query}", host.local_addr())).await;
    let (resumed, _) = back.recv_until("resumed").await;
    assert_eq!(resumed.kind(), "resumed");
    let (status, _) = partyline_support::curl(&[&format!("http://{}/api/resume?{query}", host.local_addr())]).await;
    assert_eq!(status, 409);
    talker.send(chat_msg("still here?")).await;
    let (chat, _) = back.recv_until("chat").await;
    assert_eq!(
        expect_message!(chat.message, ServerMessage::Chat { text, .. } => text),
        "still here?",
        "the socket was not replaced"
    );
}

/// A resume over HTTP that no socket takes is dropped after its wait (10 s), as a socket that
/// broke would be: the others see the member reconnecting again.
#[tokio::test]
async fn a_parked_resume_no_socket_takes_is_dropped() {
    let host = default_host().await;
    let (x, welcome) = Client::join(&host, "dev-x", true).await;
    let (mut talker, _) = Client::join_in(&host, "dev-t", true).await;
    drop(x);
    talker.recv_until("member_updated").await;
    let http = format!(
        "http://{}/api/resume?token={}&resume={}&secret={}&session=party1&attach=never-taken-0123456789",
        host.local_addr(),
        host.join_key().unwrap_or_default(),
        welcome.client_id,
        welcome.resume_secret.clone().unwrap()
    );
    assert_eq!(partyline_support::curl(&[&http]).await.0, 200);
    let (update, _) = talker.recv_until("member_updated").await;
    assert_eq!(member_of(update.message).connection_status, ConnectionStatus::Connected);
    let started = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(8)).await;
    talker.send(heartbeat_msg()).await;
    let (update, _) = talker.recv_until("member_updated").await;
    assert_eq!(member_of(update.message).connection_status, ConnectionStatus::Reconnecting);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(9), "dropped after its wait, not before: {waited:?}");
}

/// Host actions through the handle: kick (kicked, 4010, member_left kicked), lock (joins
/// refused), rename (session_updated), and shutdown (session_closed, 4011).
#[tokio::test]
async fn host_actions() {
    let host = default_host().await;
    let (mut a, _) = Client::join_in(&host, "dev-a", true).await;
    let (mut b, b_welcome) = Client::join_in(&host, "dev-b", false).await;
    a.recv_until("member_joined").await;

    host.kick(&b_welcome.client_id, "Host removed you from the session").await.unwrap();
    let kicked = b.recv().await;
    assert_eq!(
        expect_message!(kicked.message, ServerMessage::Kicked { reason, .. } => reason),
        "Host removed you from the session"
    );
    assert_eq!(b.ending().await, Ending::Code(4010));
    let (left, _) = a.recv_until("member_left").await;
    assert_eq!(expect_message!(left.message, ServerMessage::MemberLeft { reason, .. } => reason), LeaveReason::Kicked);
    assert!(host.kick("m-nobody", "x").await.is_err());

    let session_of = |message| expect_message!(message, ServerMessage::SessionUpdated { session, .. } => session);
    host.set_locked(true).await.unwrap();
    let (updated, _) = a.recv_until("session_updated").await;
    assert!(session_of(updated.message).locked);
    let mut late = Client::connect(&ws_url(&host)).await;
    late.send(join_msg("dev-late", false)).await;
    let error = error_of(late.recv().await.message);
    assert_eq!(error, (ErrorCode::Unauthorized, json!({"reason": reason::LOCKED})));

    host.rename("Rooftop").await.unwrap();
    let (updated, _) = a.recv_until("session_updated").await;
    assert_eq!(session_of(updated.message).name, "Rooftop");
    assert_eq!(host.state().name, "Rooftop");

    host.shutdown(Some("Host ended the session")).await;
    let (closed, _) = a.recv_until("session_closed").await;
    let reason = expect_message!(closed.message, ServerMessage::SessionClosed { reason, .. } => reason);
    assert_eq!(reason.as_deref(), Some("Host ended the session"));
    assert_eq!(a.ending().await, Ending::Code(4011));
    assert_eq!(late.ending().await, Ending::Code(4011), "a connection that never joined is just closed");
}

/// More connections from one address than the cap are refused with 429.
#[tokio::test]
async fn connections_per_address_capped() {
    let host = start_host(SessionConfig::default(), Limits { max_conns_per_addr: 2, ..Limits::default() }).await;
    let url = ws_url(&host);
    let _one = Client::connect(&url).await;
    let two = Client::connect(&url).await;
    match Client::connect_request(url.as_str().into_client_request().unwrap()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 429),
        other => panic!("expected 429, got {:?}", other.map(|_| "a connection")),
    }
    drop(two);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        Client::connect_request(url.as_str().into_client_request().unwrap()).await.is_ok(),
        "a freed slot is usable"
    );
}

const PIXEL_8: &str =
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

/// Connects with these headers and joins.
async fn join_with(
    host: &partyline_server::ServerHandle,
    headers: &[(&'static str, &str)],
    device: &str,
    ext: bool,
) -> Client {
    let mut request = ws_url(host).as_str().into_client_request().unwrap();
    for (name, value) in headers {
        request = Client::with_header(request, name, value);
    }
    let mut client = Client::connect_request(request).await.expect("WebSocket connects");
    client.send(join_msg(device, ext)).await;
    client
}

/// A 1.0 member as the document describes it: its fields and nothing else (`latency` once
/// measured).
fn assert_loudsync_member(member: &Value) {
    let keys: Vec<&str> = member.as_object().unwrap().keys().map(String::as_str).filter(|k| *k != "latency").collect();
    assert_eq!(keys, ["connectionStatus", "id", "isHost", "joinedAt", "name"], "{member}");
}

/// The device label comes from the upgrade request (User-Agent; the desktop app by its
/// Origin), reaches partyline/1 members and the host, and never a 1.0 member.
#[tokio::test]
async fn device_from_the_upgrade_request() {
    let host = default_host().await;
    let mut x = join_with(&host, &[("user-agent", PIXEL_8)], "dev-x", true).await;
    x.recv_until("member_list").await;
    let mut l = join_with(&host, &[("user-agent", IPHONE)], "dev-l", false).await;
    // The exact fields a 1.0 member sees: read raw, on purpose.
    let list = l.recv_json_until("member_list").await;
    for member in list["members"].as_array().unwrap() {
        assert_loudsync_member(member);
    }
    let (joined, _) = x.recv_until("member_joined").await;
    assert_eq!(member_of(joined.message).device.as_deref(), Some("iPhone"));
    let desktop = [
        ("origin", "tauri://localhost"),
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko)"),
    ];
    let mut d = join_with(&host, &desktop, "dev-d", true).await;
    let (list, _) = d.recv_until("member_list").await;
    let devices: Vec<Option<String>> = members_of(list.message).into_iter().map(|m| m.device).collect();
    let expected = [None, Some("Android phone"), Some("iPhone"), Some("Partyline desktop")];
    assert_eq!(devices, expected.map(|d| d.map(str::to_string)));
    let joined = l.recv_json_until("member_joined").await;
    assert_loudsync_member(&joined["member"]);
    let (joined, _) = x.recv_until("member_joined").await;
    assert_eq!(member_of(joined.message).device.as_deref(), Some("Partyline desktop"));
    // A tool's User-Agent (tungstenite sends none at all) gets no label.
    let mut t = join_with(&host, &[("user-agent", "curl/8.5.0")], "dev-t", true).await;
    t.recv_until("member_list").await;
    let (joined, _) = x.recv_until("member_joined").await;
    let joined = member_of(joined.message);
    assert_eq!(joined.device, None, "{joined:?}");
    let members = host.members().await.unwrap();
    let devices: Vec<Option<&str>> = members.iter().map(|m| m.device.as_deref()).collect();
    assert_eq!(devices, [None, Some("Android phone"), Some("iPhone"), Some("Partyline desktop"), None]);
}

/// The server measures each member's latency and puts it in member lists.
#[tokio::test]
async fn latency_is_measured() {
    let session = SessionConfig { probe_interval: 200_000, ..SessionConfig::default() };
    let host = start_host(session, Limits::default()).await;
    let (mut x, welcome) = Client::join(&host, "dev-x", true).await;
    let (update, _) = tokio::time::timeout(WAIT, x.recv_until("latency_update")).await.unwrap();
    let latencies = expect_message!(update.message, ServerMessage::LatencyUpdate { latencies, .. } => latencies);
    assert!(latencies.contains_key(&welcome.client_id), "{latencies:?}");
    let members = host.members().await.unwrap();
    assert!(members[1].latency.is_some(), "{members:?}");
}

/// The room code is exchanged for the key; a wrong one is 403 (the budget: `hardening_http`).
#[tokio::test]
async fn room_code_exchange() {
    let host = default_host().await;
    let base = format!("http://{}", host.local_addr());
    let get = |path: String| async move {
        let output =
            tokio::process::Command::new("curl").args(["-s", "-w", "\n%{http_code}", &path]).output().await.unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.to_string(), body.to_string())
    };
    let (code, body) = get(format!("{base}/api/join?code=abcde")).await;
    assert_eq!(code, "200");
    assert!(body.contains(&host.join_key().unwrap()), "{body}");
    assert_eq!(get(format!("{base}/api/join?code=WRONG")).await.0, "403");
    let (code, body) = get(format!("{base}/api/info")).await;
    assert_eq!(code, "200");
    let info: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((info["sessionId"].as_str(), info["open"].as_bool()), (Some("party1"), Some(false)));
    assert!(!body.contains(&host.join_key().unwrap()), "info never carries the key");
}

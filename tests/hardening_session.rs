//! A resume delivers the replay it promises, however long: the replay goes to the connection as
//! one paced batch, never into its outbound queue one message per slot, so a member that missed
//! hundreds of messages is not closed with 4008 before `resumed` is written (and then again on
//! every retry from the same `lastSeq`).

use partyline_server::Limits;
use partyline_support::{Client, SessionConfig, start_host, ws_url};
use serde_json::json;

/// A member that missed 500 chats resumes: `resumed` with replayed 500, then all 500 in order
/// with their numbers, and it stays connected.
#[tokio::test]
async fn a_long_replay_is_paced_not_closed() {
    // Chat as fast as the socket takes it: the default rate limit would stretch this to 16 s.
    let limits = Limits { burst: 10_000, per_second: 10_000, ..Limits::default() };
    let host = start_host(SessionConfig::default(), limits).await;
    let (mut away, welcome) = Client::join(&host, "dev-away", true).await;
    let (mut talker, _) = Client::join(&host, "dev-talk", true).await;
    talker.recv_until("member_list").await;
    let (joined, _) = away.recv_until("member_joined").await;
    let last_seq = joined["seq"].as_u64().unwrap();
    drop(away);
    talker.recv_until("member_updated").await;
    const MISSED: u64 = 500;
    for n in 0..MISSED {
        talker.send(json!({"type": "chat", "timestamp": 1, "text": format!("missed {n}")})).await;
    }
    for _ in 0..MISSED {
        talker.recv_until("chat").await;
    }
    let mut back = Client::connect(&ws_url(&host)).await;
    back.send(partyline_support::resume_msg(&welcome, &json!(last_seq))).await;
    let resumed = back.recv().await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!((resumed["replayed"].as_u64(), resumed["snapshot"].as_bool()), (Some(MISSED), Some(false)));
    for n in 0..MISSED {
        let chat = back.recv().await;
        assert_eq!((chat["type"].as_str(), chat["seq"].as_u64()), (Some("chat"), Some(last_seq + 1 + n)), "{chat}");
    }
    back.send(json!({"type": "ping", "timestamp": 7})).await;
    let (pong, _) = back.recv_until("pong").await;
    assert_eq!(pong["timestamp"], 7, "still connected after the replay");
}

/// A LOUDSYNC 1.0 client that sends `resume` (refused: it has no secret) and then joins gets
/// 1.0 pongs: the connection's format is what the session attached it as, never guessed from
/// what the client sent.
#[tokio::test]
async fn a_loudsync_client_that_sent_resume_gets_loudsync_pongs() {
    let host = partyline_support::default_host().await;
    let mut client = Client::connect(&ws_url(&host)).await;
    client
        .send(json!({"type": "resume", "timestamp": 1, "sessionId": "party1", "memberId": "m-00000000",
            "resumeSecret": "00000000000000000000000000000000", "lastSeq": 0}))
        .await;
    let (error, _) = client.recv_until("error").await;
    assert_eq!(error["code"], "resume_failed", "{error}");
    client.send(partyline_support::join_msg("plain-1.0", false)).await;
    client.recv_until("member_list").await;
    for n in 0..3 {
        client.send(json!({"type": "ping", "timestamp": 1706889650000u64 + n})).await;
        let (pong, _) = client.recv_until("pong").await;
        let keys: Vec<&String> = pong.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["timestamp", "type"], "exactly LOUDSYNC's pong: {pong}");
    }
    // And a partyline/1 member's pongs carry the server's times.
    let (mut ext, _) = Client::join(&host, "ext-1", true).await;
    ext.recv_until("syncplay.state").await;
    ext.send(json!({"type": "ping", "timestamp": 5})).await;
    let (pong, _) = ext.recv_until("pong").await;
    assert!(pong["serverReceiveTime"].is_u64() && pong["serverSendTime"].is_u64(), "{pong}");
}

//! A resume delivers the replay it promises, however long: the replay goes to the connection as
//! one paced batch, never into its outbound queue one message per slot, so a member that missed
//! hundreds of messages is not closed with 4008 before `resumed` is written (and then again on
//! every retry from the same `lastSeq`).

use partyline_protocol::ErrorCode;
use partyline_protocol::client::Resume;
use partyline_support::{
    Client, ClientMessage, ServerMessage, chat_msg, expect_message, fast_host, ping_msg, resume_msg, ws_url,
};

/// A member that missed 500 chats resumes: `resumed` with replayed 500, then all 500 in order
/// with their numbers, and it stays connected.
#[tokio::test]
async fn a_long_replay_is_paced_not_closed() {
    // Chat as fast as the socket takes it: the default rate limit would stretch this to 16 s.
    let host = fast_host().await;
    let (mut away, welcome) = Client::join(&host, "dev-away", true).await;
    let (mut talker, _) = Client::join_in(&host, "dev-talk", true).await;
    let (joined, _) = away.recv_until("member_joined").await;
    let last_seq = joined.seq.unwrap();
    drop(away);
    talker.recv_until("member_updated").await;
    const MISSED: u64 = 500;
    for n in 0..MISSED {
        talker.send(chat_msg(format!("missed {n}"))).await;
    }
    for _ in 0..MISSED {
        talker.recv_until("chat").await;
    }
    let mut back = Client::connect(&ws_url(&host)).await;
    back.send(resume_msg(&welcome, last_seq)).await;
    let resumed = expect_message!(back.recv().await.message,
        ServerMessage::Resumed { replayed, snapshot, .. } => (replayed, snapshot));
    assert_eq!(resumed, (MISSED, false));
    for n in 0..MISSED {
        let chat = back.recv().await;
        assert_eq!((chat.kind(), chat.seq), ("chat", Some(last_seq + 1 + n)), "{chat:?}");
    }
    back.send(ping_msg(7)).await;
    let (pong, _) = back.recv_until("pong").await;
    let timestamp = expect_message!(pong.message, ServerMessage::Pong { timestamp, .. } => timestamp);
    assert_eq!(timestamp, 7.into(), "still connected after the replay");
}

/// A LOUDSYNC 1.0 client that sends `resume` (refused: it has no secret) and then joins gets
/// 1.0 pongs: the connection's format is what the session attached it as, never guessed from
/// what the client sent.
#[tokio::test]
async fn a_loudsync_client_that_sent_resume_gets_loudsync_pongs() {
    let host = partyline_support::default_host().await;
    let mut client = Client::connect(&ws_url(&host)).await;
    let resume = Resume {
        timestamp: 1.into(),
        session_id: "party1".into(),
        member_id: "m-00000000".into(),
        resume_secret: "00000000000000000000000000000000".into(),
        last_seq: 0,
    };
    client.send(ClientMessage::Resume(resume)).await;
    let (error, _) = client.recv_until("error").await;
    assert_eq!(expect_message!(error.message, ServerMessage::Error { code, .. } => code), ErrorCode::ResumeFailed);
    client.send(partyline_support::join_msg("plain-1.0", false)).await;
    client.recv_until("member_list").await;
    for n in 0..3 {
        client.send(ping_msg(1706889650000u64 + n)).await;
        // The exact fields of a 1.0 pong: read raw, on purpose.
        let pong = client.recv_json_until("pong").await;
        let keys: Vec<&String> = pong.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["timestamp", "type"], "exactly LOUDSYNC's pong: {pong}");
    }
    // And a partyline/1 member's pongs carry the server's times.
    let (mut ext, _) = Client::join_in(&host, "ext-1", true).await;
    ext.send(ping_msg(5)).await;
    let (pong, _) = ext.recv_until("pong").await;
    let times = expect_message!(pong.message,
        ServerMessage::Pong { server_receive_time, server_send_time, .. } => (server_receive_time, server_send_time));
    assert!(times.0.is_some() && times.1.is_some(), "{times:?}");
}

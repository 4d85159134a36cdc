//! The join key can change while the party runs: a new key and room code keep out whoever holds
//! the old QR code, on the same port, without disturbing anyone already in the party (a member
//! whose phone reconnects with the old key still resumes: its resume secret proves it). And a
//! device the host banned cannot come back with any key until the ban is lifted.

use partyline_protocol::{ErrorCode, reason};
use partyline_support::{Client, ServerMessage, chat_msg, curl, default_host, expect_message, join_msg};

/// New key: members stay and chat on; a member that drops resumes with the old key; a join
/// with the old key is refused (unauthorized, old_key, then 4001); the old room code no longer
/// trades; the new key and code work; the port is the same.
#[tokio::test]
async fn a_new_key_keeps_the_party() {
    let host = default_host().await;
    let (old_key, old_code) = (host.join_key().unwrap(), host.room_code().unwrap());
    let old_url = |host: &partyline_server::ServerHandle| format!("ws://{}/ws?token={old_key}", host.local_addr());
    let (mut stays, _) = Client::join_in(&host, "dev-stays", true).await;
    let (mut drops, welcome) = Client::join(&host, "dev-drops", true).await;
    let (last, _) = drops.recv_until("syncplay.state").await;
    let port = host.local_addr().port();

    let (new_key, new_code) = host.new_key().unwrap();
    assert_ne!((&new_key, &new_code), (&old_key, &old_code));
    assert_eq!((host.join_key(), host.local_addr().port()), (Some(new_key.clone()), port));

    stays.send(chat_msg("still here")).await;
    let (chat, _) = stays.recv_until("chat").await;
    let text = expect_message!(chat.message, ServerMessage::Chat { text, .. } => text);
    assert_eq!(text, "still here", "a member in the party is not disturbed");

    drop(drops);
    let mut back = Client::connect(&old_url(&host)).await;
    back.send(partyline_support::resume_msg(&welcome, last.seq.unwrap())).await;
    let (resumed, _) = back.recv_until("resumed").await;
    let client_id = expect_message!(resumed.message, ServerMessage::Resumed { client_id, .. } => client_id);
    assert_eq!(client_id, welcome.client_id, "resumed with the old key");

    let mut stranger = Client::connect(&old_url(&host)).await;
    stranger.send(join_msg("dev-stranger", true)).await;
    let (error, _) = stranger.recv_until("error").await;
    assert_eq!((error.message.error_reason(), error.kind()), (Some(reason::OLD_KEY), "error"));
    assert_eq!(expect_message!(error.message, ServerMessage::Error { code, .. } => code), ErrorCode::Unauthorized);
    match stranger.ending().await {
        partyline_support::Ending::Code(code) => assert_eq!(code, 4001),
        other => panic!("expected close 4001 for a join with the old key, got {other:?}"),
    }

    let api = |code: &str| format!("http://{}/api/join?code={code}", host.local_addr());
    let (status, _) = curl(&[&api(&old_code)]).await;
    assert_eq!(status, 403, "the old room code no longer trades for a key");
    let (_, body) = curl(&[&api(&new_code)]).await;
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["joinKey"].as_str(), Some(new_key.as_str()));
    Client::join_in(&host, "dev-new", true).await;
}

/// A ban holds: the banned phone is kicked (4010), and every later join with its device id is
/// refused (`unauthorized`, `banned`, close 4010), with or without the key it had; the others
/// stay; once the host lifts the ban the device joins again.
#[tokio::test]
async fn a_banned_device_stays_out() {
    let host = default_host().await;
    let (mut stays, _) = Client::join_in(&host, "dev-stays", true).await;
    let (mut banned, welcome) = Client::join_in(&host, "dev-banned", true).await;
    host.ban(&welcome.client_id, "spam").await.unwrap();
    let (kicked, _) = banned.recv_until("kicked").await;
    assert_eq!(expect_message!(kicked.message, ServerMessage::Kicked { reason, .. } => reason), "spam");
    match banned.ending().await {
        partyline_support::Ending::Code(code) => assert_eq!(code, 4010),
        other => panic!("expected close 4010 for the banned member, got {other:?}"),
    }
    let bans = host.bans().await.unwrap();
    assert_eq!(bans.iter().map(|ban| ban.device_id.as_str()).collect::<Vec<_>>(), ["dev-banned"]);

    for attempt in 0..3 {
        let mut again = Client::connect(&partyline_support::ws_url(&host)).await;
        again.send(join_msg("dev-banned", true)).await;
        let (error, _) = again.recv_until("error").await;
        assert_eq!(error.message.error_reason(), Some(reason::BANNED), "attempt {attempt}");
        match again.ending().await {
            partyline_support::Ending::Code(code) => assert_eq!(code, 4010, "attempt {attempt}"),
            other => panic!("attempt {attempt}: expected close 4010, got {other:?}"),
        }
    }
    let members = host.members().await.unwrap();
    assert!(members.iter().all(|member| member.id != welcome.client_id), "the banned member is gone: {members:?}");
    stays.send(chat_msg("still here")).await;
    stays.recv_until("chat").await;

    assert_eq!(host.unban("dev-banned").await.unwrap().device_id, "dev-banned");
    Client::join_in(&host, "dev-banned", true).await;
}

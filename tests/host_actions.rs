//! A host action answers once its effect is visible: the session it returns, the watched
//! state (`state()`, which `/api/info` and mDNS read) and the members' `session_updated` all
//! already reflect it, so no caller needs to poll.

use partyline_support::{Client, ServerMessage, curl, default_host, expect_message};

/// Lock, capacity and rename: the reply carries the new session, `state()` says the same at
/// once, `/api/info` too, and a member's next message is the `session_updated`.
#[tokio::test]
async fn replies_reflect_their_effect() {
    let host = default_host().await;
    let (mut member, _) = Client::join_in(&host, "dev-a", true).await;
    for round in 0..20 {
        let locked = round % 2 == 0;
        let replied = host.set_locked(locked).await.unwrap();
        assert_eq!((replied.locked, host.state().locked), (locked, locked), "round {round}");
        let (_, body) = curl(&["-s", &format!("http://{}/api/info", host.local_addr())]).await;
        let info: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(info["locked"], locked, "round {round}: /api/info");
        let capacity = 50 + round;
        let replied = host.set_capacity(capacity).await.unwrap();
        assert_eq!((replied.max_members, host.state().max_members), (capacity, capacity));
        let name = format!("Party {round}");
        let replied = host.rename(&format!("  {name} ")).await.unwrap();
        assert_eq!((replied.name.as_str(), host.state().name.as_str()), (name.as_str(), name.as_str()));
        // One session_updated per action, each showing that action's effect.
        let (update, _) = member.recv_until("session_updated").await;
        let session = expect_message!(update.message, ServerMessage::SessionUpdated { session, .. } => session);
        assert_eq!(session.locked, locked, "round {round}: {session:?}");
        let (update, _) = member.recv_until("session_updated").await;
        let session = expect_message!(update.message, ServerMessage::SessionUpdated { session, .. } => session);
        assert_eq!(session.max_members, capacity, "round {round}: {session:?}");
        let (update, _) = member.recv_until("session_updated").await;
        let session = expect_message!(update.message, ServerMessage::SessionUpdated { session, .. } => session);
        assert_eq!(session.name, name, "round {round}: {session:?}");
    }
}

//! Joining another host from the desktop, as a member: `partyline_host::join` does the lookup;
//! the protocol client (`ui/shared/client.js`) then runs in the web view and opens the WebSocket
//! itself (the server admits the app's `tauri://localhost` origin).

pub use partyline_host::join::JoinTarget;

use crate::error::CommandError;

/// Looks the host up and trades the room code for the key, as a command error on failure.
pub async fn resolve(address: &str, room_code: Option<&str>) -> Result<JoinTarget, CommandError> {
    partyline_host::join::resolve(address, room_code).await.map_err(|err| CommandError::new(err.code, err.message))
}

//! Messaging from the host screen: announcements to every guest (`Host::notify`, the protocol's
//! `notification`), and deleting any chat line (`Host::delete_chat`, moderation). Who has read
//! the announcements, each guest's presence and the party's chat come back as host events
//! (`notifications_read`, `presence`, `chat`, `chat_edited`, `chat_deleted`; see
//! [`partyline_host::HostEvent`]), which the page tallies and shows.

use partyline_host::{ChatLine, NotificationLevel};
use serde::Serialize;
use tauri::State;

use crate::error::CommandError;
use crate::hosting::AppState;

/// An announcement as sent.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Announcement {
    /// Its id (`n-1`, `n-2`, ... per party), which a guest's `mark_read` names.
    pub id: String,
    /// The title, trimmed.
    pub title: String,
    /// The message, trimmed (possibly empty).
    pub body: String,
    /// Info, warning or alert.
    pub level: NotificationLevel,
    /// When it was sent, ms since the Unix epoch.
    pub sent_at: u64,
}

impl AppState {
    /// Announces to every guest whose phone speaks the extensions (1.0 clients cannot show it).
    /// The host checks the title and message (`bad_notification`) before anything is sent.
    pub async fn notify(&self, title: &str, body: &str, level: &str) -> Result<Announcement, CommandError> {
        let level = parse_level(level)?;
        let id = self.host().await?.notify(title, body, level).await?;
        let sent_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        // As the host sent it: trimmed.
        Ok(Announcement { id, title: title.trim().to_string(), body: body.trim().to_string(), level, sent_at })
    }

    /// Deletes a chat line, whoever said it: the id goes to the host as the page gave it (the
    /// host says `no_such_line` when it no longer keeps one). Returns the line as it was.
    pub async fn delete_chat(&self, id: &str) -> Result<ChatLine, CommandError> {
        Ok(self.host().await?.delete_chat(id).await?)
    }
}

/// The level as the page names it (`info`, `warning`, `alert`: the protocol's own names).
fn parse_level(level: &str) -> Result<NotificationLevel, CommandError> {
    serde_json::from_value(serde_json::Value::from(level))
        .map_err(|_| CommandError::new("bad_level", format!("the level is info, warning or alert, not {level:?}")))
}

/// Announces to every guest: `{title, body?, level?}` (level `info` by default).
#[tauri::command]
pub async fn notify(
    state: State<'_, AppState>,
    title: String,
    body: Option<String>,
    level: Option<String>,
) -> Result<Announcement, CommandError> {
    state.notify(&title, body.as_deref().unwrap_or(""), level.as_deref().unwrap_or("info")).await
}

/// Deletes any chat line (moderation): `{id}`; every guest is told. Answers with the line as it was.
#[tauri::command]
pub async fn delete_chat(state: State<'_, AppState>, id: String) -> Result<ChatLine, CommandError> {
    state.delete_chat(&id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The protocol's level names are accepted, anything else is `bad_level`.
    #[test]
    fn levels() {
        assert_eq!(parse_level("alert").unwrap(), NotificationLevel::Alert);
        assert_eq!(parse_level("info").unwrap(), NotificationLevel::Info);
        assert_eq!(parse_level("warning").unwrap(), NotificationLevel::Warning);
        assert_eq!(parse_level("panic").unwrap_err().code, "bad_level");
        assert_eq!(parse_level("").unwrap_err().code, "bad_level");
    }
}

//! Messaging from the host screen: announcements to every guest (`Host::notify`, the protocol's
//! `notification`). Who has read them and each guest's presence come back as host events
//! (`notificationsRead`, `presence`; see [`crate::hosting::UiEvent`]), which the page tallies.

use partyline_host::NotificationLevel;
use serde::Serialize;
use tauri::State;

use crate::error::CommandError;
use crate::hosting::AppState;

/// The longest title (the protocol's limit).
pub const MAX_TITLE_CHARS: usize = 100;
/// The longest message (the protocol's limit).
pub const MAX_BODY_CHARS: usize = 1000;

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

/// The level's name as the page sends it (`info`, `warning`, `alert`).
fn parse_level(level: &str) -> Result<NotificationLevel, CommandError> {
    match level.trim() {
        "info" => Ok(NotificationLevel::Info),
        "warning" => Ok(NotificationLevel::Warning),
        "alert" => Ok(NotificationLevel::Alert),
        other => Err(CommandError::new("bad_level", format!("the level is info, warning or alert, not {other:?}"))),
    }
}

impl AppState {
    /// Announces to every guest whose phone speaks the extensions (1.0 clients cannot show it).
    /// A bad title, message or level is refused before anything is sent.
    pub async fn notify(&self, title: &str, body: &str, level: &str) -> Result<Announcement, CommandError> {
        let level = parse_level(level)?;
        let (title, body) = (title.trim(), body.trim());
        if title.is_empty() {
            return Err(CommandError::new("bad_title", "an announcement needs a title"));
        }
        if title.chars().count() > MAX_TITLE_CHARS {
            return Err(CommandError::new("bad_title", format!("a title is at most {MAX_TITLE_CHARS} characters")));
        }
        if body.chars().count() > MAX_BODY_CHARS {
            return Err(CommandError::new("bad_body", format!("a message is at most {MAX_BODY_CHARS} characters")));
        }
        let id = self.host().await?.notify(title, body, level).await?;
        let sent_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        Ok(Announcement { id, title: title.to_string(), body: body.to_string(), level, sent_at })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(parse_level("alert").unwrap(), NotificationLevel::Alert);
        assert_eq!(parse_level(" info ").unwrap(), NotificationLevel::Info);
        assert_eq!(parse_level("warning").unwrap(), NotificationLevel::Warning);
        assert_eq!(parse_level("panic").unwrap_err().code, "bad_level");
        assert_eq!(parse_level("").unwrap_err().code, "bad_level");
    }
}

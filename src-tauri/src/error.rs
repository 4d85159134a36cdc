//! The one error every command returns: `{ "code": "...", "message": "..." }`.
//!
//! `code` is stable and machine-readable (the UI switches on it); `message` is for people.

use partyline_host::{HostError, PlayError, ServerError, SessionError};
use serde::Serialize;

/// A command that could not be done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CommandError {
    /// Stable, snake_case: `not_hosting`, `bind_failed`, `host_stopped`, `no_such_member`,
    /// `bad_capacity`, `bad_name`, `session_closed`, `refused` (any other refusal), `bad_interface`, `host_error`, `settings`, `qr`, `bad_address`,
    /// `unreachable`, `wrong_code`, `too_many_tries`, `join_failed`; SyncPlay: `bad_media_folder`,
    /// `unknown_item`, `unknown_entry`, `nothing_to_play`, `not_allowed`, `bad_command`;
    /// `bad_volume`; announcements: `bad_notification` (title or message too long, no title),
    /// `bad_level`; chat: `no_such_line` (the line is no longer kept, or never was); the party's
    /// file: `party_in_use` (another Partyline hosts it), `party_file` (it cannot be read or
    /// written); `dialog` (the folder picker failed).
    pub code: String,
    /// What went wrong, in words.
    pub message: String,
}

impl CommandError {
    /// An error with this code and message.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CommandError { code: code.to_string(), message: message.into() }
    }

    /// Nothing is being hosted right now.
    pub fn not_hosting() -> Self {
        CommandError::new("not_hosting", "Not hosting a party right now")
    }
}

impl From<HostError> for CommandError {
    fn from(err: HostError) -> Self {
        if let HostError::Server(ServerError::Store(store)) = &err {
            // The store's own words name the CLI's `--party-file`, which the app has not.
            return match store {
                partyline_host::StoreError::InUse { path } => CommandError::new(
                    "party_in_use",
                    format!(
                        "Partyline is already hosting this party on this computer (another window, or \
                         `partyline host`; its file is {}). Close that one, then start again here.",
                        path.display()
                    ),
                ),
                other => CommandError::new("party_file", other.to_string()),
            };
        }
        let message = err.to_string();
        let code = match &err {
            HostError::Server(ServerError::Bind { .. }) => "bind_failed",
            HostError::Server(ServerError::Stopped) => "host_stopped",
            HostError::Server(ServerError::Session(session)) => match session {
                SessionError::NoSuchMember(_) => "no_such_member",
                SessionError::NoSuchBan(_) => "no_such_ban",
                SessionError::BadCapacity(_) => "bad_capacity",
                SessionError::BadName => "bad_name",
                SessionError::Closed => "session_closed",
                SessionError::NoRemote(_) => "no_remote",
                SessionError::BadNotification => "bad_notification",
                SessionError::NoSuchLine(_) => "no_such_line",
                SessionError::Play(PlayError::UnknownItem(_)) => "unknown_item",
                SessionError::Play(PlayError::UnknownEntry(_)) => "unknown_entry",
                SessionError::Play(PlayError::NothingToPlay) => "nothing_to_play",
                SessionError::Play(PlayError::NotAllowed(_)) => "not_allowed",
                #[allow(unreachable_patterns)]
                _ => "refused",
            },
            HostError::Server(ServerError::Media(_)) => "bad_media_folder",
            HostError::Server(ServerError::Open) => "open_host",
            HostError::Interface(_) => "bad_interface",
            HostError::BadCommand(_) => "bad_command",
            HostError::BadVolume(_) => "bad_volume",
            #[allow(unreachable_patterns)]
            _ => "host_error",
        };
        CommandError::new(code, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_code_and_message() {
        let err = CommandError::from(HostError::Server(ServerError::Session(SessionError::BadCapacity(0))));
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json["code"], "bad_capacity");
        assert_eq!(json.as_object().unwrap().len(), 2);
        assert!(json["message"].as_str().unwrap().contains("capacity"));
    }

    /// A party file another host holds is `party_in_use`, said without the CLI's flags.
    #[test]
    fn a_party_in_use_is_said_in_the_apps_words() {
        let err = CommandError::from(HostError::Server(ServerError::Store(partyline_host::StoreError::InUse {
            path: "/home/u/.local/share/partyline/party.db".into(),
        })));
        assert_eq!(err.code, "party_in_use", "expected party_in_use, got {err:?}");
        assert!(!err.message.contains("--"), "no command-line flag in {:?}", err.message);
    }
}

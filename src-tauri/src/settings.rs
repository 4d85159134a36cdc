//! What the app remembers between launches: `settings.json` in the app's config directory
//! (`~/.config/org.partyline.desktop/` on Linux).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::CommandError;

/// Remembered settings. Unknown or missing fields fall back to their defaults, so an older or
/// newer file never stops the app from starting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// The party's name.
    pub party_name: String,
    /// Most guests at once.
    pub capacity: u32,
    /// The interface whose address the QR code holds (the address picker; `None`: the best).
    pub interface: Option<String>,
    /// The folder of music or video shared for SyncPlay (`None`: none). Left out of the file
    /// when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_folder: Option<PathBuf>,
    /// Whether guests may share songs and photos from their phones (the host's switch).
    pub guest_uploads: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            party_name: "Partyline".into(),
            capacity: 100,
            interface: None,
            media_folder: None,
            guest_uploads: true,
        }
    }
}

impl Settings {
    /// Reads the file; a missing file gives the defaults, and so does an unreadable one (with a
    /// warning: a corrupt settings file must not keep the party from starting).
    pub fn load(path: &Path) -> Settings {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|err| {
                tracing::warn!(path = %path.display(), %err, "ignoring unreadable settings");
                Settings::default()
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Settings::default(),
            Err(err) => {
                tracing::warn!(path = %path.display(), %err, "cannot read settings");
                Settings::default()
            }
        }
    }

    /// Writes the file atomically (temporary file, then rename), creating its directory.
    pub fn save(&self, path: &Path) -> Result<(), CommandError> {
        let fail =
            |err: std::io::Error| CommandError::new("settings", format!("cannot save {}: {err}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let tmp: PathBuf = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|err| CommandError::new("settings", err.to_string()))?;
        std::fs::write(&tmp, text + "\n").map_err(fail)?;
        std::fs::rename(&tmp, path).map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_missing_and_corrupt() {
        let dir = std::env::temp_dir().join(format!("partyline-settings-{}", std::process::id()));
        let path = dir.join("nested/settings.json");
        assert_eq!(Settings::load(&path), Settings::default());
        let s = Settings {
            party_name: "Rooftop".into(),
            capacity: 12,
            interface: Some("wlan0".into()),
            media_folder: Some("/srv/music".into()),
            guest_uploads: false,
        };
        s.save(&path).unwrap();
        assert_eq!(Settings::load(&path), s);
        std::fs::write(&path, "{ not json").unwrap();
        assert_eq!(Settings::load(&path), Settings::default());
        // A file from before the media folder (and the uploads switch) was remembered loads, with
        // none (and uploads on).
        std::fs::write(&path, r#"{"partyName": "Old", "capacity": 9, "interface": null}"#).unwrap();
        assert_eq!(Settings::load(&path), Settings { party_name: "Old".into(), capacity: 9, ..Settings::default() });
        std::fs::write(&path, r#"{"capacity": 7, "future": true}"#).unwrap();
        assert_eq!(Settings::load(&path), Settings { capacity: 7, ..Settings::default() });
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

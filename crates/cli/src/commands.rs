//! What a person (or a script) can type into a running `partyline host`, one command a line.

use partyline_host::{DEFAULT_KICK_REASON as KICK_REASON, Permissions, PlayCommand};

/// A command read from standard input.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `kick <member-id> [reason…]`
    Kick { member_id: String, reason: String },
    /// `lock` / `unlock`
    Lock(bool),
    /// `capacity <n>`
    Capacity(u32),
    /// `rename <name…>`
    Rename(String),
    /// `members`
    Members,
    /// `close` / `quit`
    Close,
    /// `play [item-id]`, `pause`, `seek <seconds>`, `next`, `prev`, `rate <x>`, `queue <item-id>`,
    /// `start` (without waiting for every device)
    Play(PlayCommand),
    /// `allow playback|queue|all|none`
    Allow(Permissions),
    /// `library`: the shared media, what is playing, and each member's sync
    Library,
    /// `volume <member-id> <percent>`: that member's playback volume (`remote.command`)
    Volume { member_id: String, volume: f64 },
    /// `notify <text…>`: a notification to every phone (`notification`, level info)
    Notify(String),
    /// `room <name…>` / `voice-room <name…>`: a new chat room or voice channel
    Room { name: String, voice: bool },
    /// `new-key`: a new join key and room code; the party goes on (the old QR code stops
    /// letting anyone join)
    NewKey,
    /// `help`
    Help,
}

/// What `help` prints.
pub const HELP: &str = "commands: members | kick <id> [reason] | lock | unlock | capacity <n> | rename <name> | \
library | play [item] | pause | seek <seconds> | next | prev | rate <x> | queue <item> | start | \
allow playback|queue|all|none | volume <id> <percent> | notify <text> | room <name> | voice-room <name> | new-key | close";

/// Parses one line. Blank lines are `Ok(None)`; anything else unknown is an error that says
/// what is accepted.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let line = line.trim();
    let (word, rest) = line.split_once(char::is_whitespace).map_or((line, ""), |(w, r)| (w, r.trim()));
    let command = match word.to_ascii_lowercase().as_str() {
        "" => return Ok(None),
        "kick" => {
            let (id, reason) = rest.split_once(char::is_whitespace).map_or((rest, ""), |(i, r)| (i, r.trim()));
            if id.is_empty() {
                return Err("kick needs a member id (see `members`)".into());
            }
            let reason = if reason.is_empty() { KICK_REASON } else { reason };
            Command::Kick { member_id: id.to_string(), reason: reason.to_string() }
        }
        "lock" => Command::Lock(true),
        "unlock" => Command::Lock(false),
        "capacity" => Command::Capacity(rest.parse().map_err(|_| format!("capacity needs a number, not {rest:?}"))?),
        "rename" if !rest.is_empty() => Command::Rename(rest.to_string()),
        "rename" => return Err("rename needs a name".into()),
        "members" | "list" => Command::Members,
        "close" | "quit" | "exit" => Command::Close,
        "play" => {
            Command::Play(PlayCommand::Play { item_id: (!rest.is_empty()).then(|| rest.to_string()), position: None })
        }
        "pause" => Command::Play(PlayCommand::Pause),
        "seek" => {
            let seconds: f64 = rest.parse().map_err(|_| format!("seek needs seconds, not {rest:?}"))?;
            Command::Play(PlayCommand::Seek { position: seconds * 1000.0 })
        }
        "next" => Command::Play(PlayCommand::Next),
        "prev" | "previous" => Command::Play(PlayCommand::Previous),
        "rate" => {
            let rate: f64 = rest.parse().map_err(|_| format!("rate needs a number, not {rest:?}"))?;
            Command::Play(PlayCommand::SetRate { rate })
        }
        "queue" if !rest.is_empty() => Command::Play(PlayCommand::QueueAdd { item_id: rest.to_string() }),
        "queue" => return Err("queue needs an item id (see `library`)".into()),
        "start" => Command::Play(PlayCommand::StartAnyway),
        "allow" => Command::Allow(match rest {
            "playback" => Permissions { playback: true, queue: false },
            "queue" => Permissions { playback: false, queue: true },
            "all" => Permissions { playback: true, queue: true },
            "none" => Permissions { playback: false, queue: false },
            other => return Err(format!("allow playback|queue|all|none, not {other:?}")),
        }),
        "library" | "status" => Command::Library,
        "volume" => {
            let usage = "volume needs a member id and a percent, e.g. `volume m-1 40`";
            let (id, percent) = rest.split_once(char::is_whitespace).ok_or(usage)?;
            let percent: f64 = percent.trim().trim_end_matches('%').parse().map_err(|_| usage.to_string())?;
            Command::Volume { member_id: id.to_string(), volume: percent / 100.0 }
        }
        "notify" if !rest.is_empty() => Command::Notify(rest.to_string()),
        "notify" => return Err("notify needs a text".into()),
        "room" if !rest.is_empty() => Command::Room { name: rest.to_string(), voice: false },
        "voice-room" if !rest.is_empty() => Command::Room { name: rest.to_string(), voice: true },
        "room" | "voice-room" => return Err("a room needs a name, e.g. `room Kitchen talk`".into()),
        "new-key" | "newkey" => Command::NewKey,
        "help" | "?" => Command::Help,
        other => return Err(format!("unknown command {other:?}; {HELP}")),
    };
    Ok(Some(command))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command parses, with defaults, and bad input says what is wrong.
    #[test]
    fn parses() {
        assert_eq!(parse("  "), Ok(None));
        assert_eq!(parse("kick m-1"), Ok(Some(Command::Kick { member_id: "m-1".into(), reason: KICK_REASON.into() })));
        assert_eq!(
            parse("kick m-1 too loud "),
            Ok(Some(Command::Kick { member_id: "m-1".into(), reason: "too loud".into() }))
        );
        assert_eq!(parse("LOCK"), Ok(Some(Command::Lock(true))));
        assert_eq!(parse("unlock"), Ok(Some(Command::Lock(false))));
        assert_eq!(parse("capacity 12"), Ok(Some(Command::Capacity(12))));
        assert_eq!(parse("rename Roof top"), Ok(Some(Command::Rename("Roof top".into()))));
        assert_eq!(parse("quit"), Ok(Some(Command::Close)));
        assert!(parse("kick").unwrap_err().contains("member id"));
        assert!(parse("capacity lots").unwrap_err().contains("number"));
        assert!(parse("dance").unwrap_err().contains("unknown command"));
        assert_eq!(parse("seek 90.5"), Ok(Some(Command::Play(PlayCommand::Seek { position: 90500.0 }))));
        assert_eq!(
            parse("play t-1"),
            Ok(Some(Command::Play(PlayCommand::Play { item_id: Some("t-1".into()), position: None })))
        );
        // Ranges are the host's to check (`Host::syncplay`, `Host::set_volume`), not the parser's.
        assert_eq!(parse("rate 3"), Ok(Some(Command::Play(PlayCommand::SetRate { rate: 3.0 }))));
        assert_eq!(parse("allow all"), Ok(Some(Command::Allow(Permissions { playback: true, queue: true }))));
        assert_eq!(parse("volume m-1 40%"), Ok(Some(Command::Volume { member_id: "m-1".into(), volume: 0.4 })));
        assert_eq!(parse("room Kitchen talk"), Ok(Some(Command::Room { name: "Kitchen talk".into(), voice: false })));
        assert_eq!(parse("voice-room Lounge"), Ok(Some(Command::Room { name: "Lounge".into(), voice: true })));
        assert!(parse("room").unwrap_err().contains("needs a name"));
        assert!(parse("volume m-1").unwrap_err().contains("percent"));
        assert!(parse("volume m-1 loud").unwrap_err().contains("percent"));
        assert_eq!(parse("volume m-1 140"), Ok(Some(Command::Volume { member_id: "m-1".into(), volume: 1.4 })));
        assert_eq!(parse("notify Pizza is here "), Ok(Some(Command::Notify("Pizza is here".into()))));
        assert!(parse("notify").unwrap_err().contains("text"));
        assert_eq!(parse("new-key"), Ok(Some(Command::NewKey)));
    }
}

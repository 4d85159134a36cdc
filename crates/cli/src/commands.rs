//! What a person (or a script) can type into a running `partyline host`, one command a line.

use partyline_host::{DEFAULT_KICK_REASON as KICK_REASON, Permissions, PlayCommand};

/// A command read from standard input.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `kick <member-id> [reason…]`
    Kick { member_id: String, reason: String },
    /// `ban <member-id> [reason…]`: kick, and refuse the device until `unban`
    Ban { member_id: String, reason: String },
    /// `unban <device-id>`
    Unban(String),
    /// `bans`: the devices turned away
    Bans,
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
    /// `notify <text…> [| <label…> <url>]…`: a notification to every phone (`notification`,
    /// level info), with up to three links, each after a `|`: its words, then its URL
    Notify { text: String, actions: Vec<partyline_host::NotificationAction> },
    /// `room <name…>` / `voice-room <name…>`: a new chat room or voice channel
    Room { name: String, voice: bool },
    /// `new-key`: a new join key and room code; the party goes on (the old QR code stops
    /// letting anyone join)
    NewKey,
    /// `help`
    Help,
    /// `advance <seconds>`: a test hook, accepted only when the host was started with
    /// [`TEST_CLOCK_ENV`]`=1`: the host's clock jumps that far forward, as if that long had
    /// passed (browser tests of a long absence); not in `help`
    Advance(std::time::Duration),
}

/// The environment variable that enables the test hook `advance <seconds>` (set to `1`).
pub const TEST_CLOCK_ENV: &str = "PARTYLINE_TEST_CLOCK";

/// The longest `advance`: a day, far beyond any resume window.
const MAX_ADVANCE_SECS: f64 = 86_400.0;

/// What `help` prints.
pub const HELP: &str = "commands: members | kick <id> [reason] | ban <id> [reason] | bans | unban <device> | lock | unlock | capacity <n> | rename <name> | \
library | play [item] | pause | seek <seconds> | next | prev | rate <x> | queue <item> | start | \
allow playback|queue|all|none | volume <id> <percent> | notify <text> [| <label> <url>]… | room <name> | voice-room <name> | new-key | close";

/// `notify`'s arguments: the text, then `| label words https://…` for each link.
fn notify(rest: &str) -> Result<Command, String> {
    let mut parts = rest.split('|').map(str::trim);
    let text = parts.next().unwrap_or_default().to_string();
    if text.is_empty() {
        return Err("notify needs a text before its links".into());
    }
    let actions = parts
        .map(|part| {
            let (label, url) = part
                .rsplit_once(char::is_whitespace)
                .ok_or_else(|| format!("a link is its words then its URL, e.g. `| Menu https://…`, not `{part}`"))?;
            Ok(partyline_host::NotificationAction { label: label.trim().to_string(), url: url.to_string() })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Command::Notify { text, actions })
}

/// Parses one line. Blank lines are `Ok(None)`; anything else unknown is an error that says
/// what is accepted.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let line = line.trim();
    let (word, rest) = line.split_once(char::is_whitespace).map_or((line, ""), |(w, r)| (w, r.trim()));
    let command = match word.to_ascii_lowercase().as_str() {
        "" => return Ok(None),
        "kick" | "ban" => {
            let (id, reason) = rest.split_once(char::is_whitespace).map_or((rest, ""), |(i, r)| (i, r.trim()));
            if id.is_empty() {
                return Err(format!("{word} needs a member id (see `members`)"));
            }
            let (member_id, reason) =
                (id.to_string(), if reason.is_empty() { KICK_REASON } else { reason }.to_string());
            if word.eq_ignore_ascii_case("ban") {
                Command::Ban { member_id, reason }
            } else {
                Command::Kick { member_id, reason }
            }
        }
        "unban" if !rest.is_empty() => Command::Unban(rest.to_string()),
        "unban" => return Err("unban needs a device id (see `bans`)".into()),
        "bans" => Command::Bans,
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
        "notify" if !rest.is_empty() => notify(rest)?,
        "notify" => return Err("notify needs a text".into()),
        "room" if !rest.is_empty() => Command::Room { name: rest.to_string(), voice: false },
        "voice-room" if !rest.is_empty() => Command::Room { name: rest.to_string(), voice: true },
        "room" | "voice-room" => return Err("a room needs a name, e.g. `room Kitchen talk`".into()),
        "new-key" | "newkey" => Command::NewKey,
        "help" | "?" => Command::Help,
        "advance" => {
            let secs: f64 = rest.parse().map_err(|_| format!("advance needs a number of seconds, not {rest:?}"))?;
            if !(secs > 0.0 && secs <= MAX_ADVANCE_SECS) {
                return Err(format!("advance takes 0 to {MAX_ADVANCE_SECS} seconds, not {rest}"));
            }
            Command::Advance(std::time::Duration::from_secs_f64(secs))
        }
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
        assert_eq!(parse("ban m-1 spam"), Ok(Some(Command::Ban { member_id: "m-1".into(), reason: "spam".into() })));
        assert_eq!(parse("unban dev-9"), Ok(Some(Command::Unban("dev-9".into()))));
        assert_eq!(parse("bans"), Ok(Some(Command::Bans)));
        assert!(parse("ban").unwrap_err().contains("member id"));
        assert!(parse("unban").unwrap_err().contains("device id"));
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
        assert_eq!(
            parse("notify Pizza is here "),
            Ok(Some(Command::Notify { text: "Pizza is here".into(), actions: vec![] }))
        );
        let link = |label: &str, url: &str| partyline_host::NotificationAction { label: label.into(), url: url.into() };
        assert_eq!(
            parse("notify Pizza | See the menu https://example.com/menu?a=1 | Map http://10.0.0.2/map"),
            Ok(Some(Command::Notify {
                text: "Pizza".into(),
                actions: vec![link("See the menu", "https://example.com/menu?a=1"), link("Map", "http://10.0.0.2/map")]
            }))
        );
        assert!(parse("notify Pizza | https://example.com").unwrap_err().contains("words then its URL"));
        assert!(parse("notify | Menu https://example.com").unwrap_err().contains("text"));
        assert!(parse("notify").unwrap_err().contains("text"));
        assert_eq!(parse("new-key"), Ok(Some(Command::NewKey)));
        assert_eq!(parse("advance 600"), Ok(Some(Command::Advance(std::time::Duration::from_secs(600)))));
        assert!(parse("advance -5").unwrap_err().contains("0 to"));
        assert!(parse("advance soon").unwrap_err().contains("seconds"));
        assert!(!HELP.contains("advance"), "a test hook is not offered in help");
    }
}

//! `partyline join`: be a member of a party from a terminal. Takes the join URL (as in the QR
//! code) or `host:port` with `--code`, joins with `partyline/1`, prints who comes and goes, the
//! chat, direct messages, presence and the host's notifications, and sends each line typed as a
//! chat message (`/dm NAME TEXT`, `/away [TEXT]`, `/busy [TEXT]`, `/back`, `/members`, `/leave`).

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use partyline_protocol::client::{Chat, Direct, Heartbeat, Leave, Presence};
use partyline_protocol::{
    ClientMessage, ErrorCode, MemberInfo, PARTYLINE_V1, PresenceStatus, Received, ServerMessage, reason,
};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::terminal::safe;

/// Join a party as a member, from the terminal.
#[derive(clap::Args)]
pub struct JoinArgs {
    /// The join URL (`http://192.168.1.20:48321/#k=…`, as in the QR code), or `host:port`.
    address: String,
    /// The room code, when the address carries no key.
    #[arg(long)]
    code: Option<String>,
    /// Your name in the party (default: this computer's name).
    #[arg(long)]
    name: Option<String>,
    /// Print every message from the host as one JSON line on stdout (people's text goes to
    /// stderr).
    #[arg(long)]
    json: bool,
}

const HELP: &str = "type to chat; /dm NAME TEXT (only NAME sees it), /away [TEXT], /busy [TEXT], /back, \
/members, /leave";

/// Exit status when the host removed us: scripts can tell it from a failure (1).
pub const KICKED_EXIT: u8 = 3;

/// How a membership ended.
pub enum Ending {
    /// We left, or the host ended the party.
    Done,
    /// The host removed us.
    Kicked,
}

pub async fn run(args: JoinArgs) -> anyhow::Result<Ending> {
    let target = partyline_host::join::resolve(&args.address, args.code.as_deref()).await?;
    let name = args.name.clone().unwrap_or_else(computer_name);
    if name.trim().is_empty() {
        bail!("--name cannot be empty");
    }
    let mut request = target.ws_url.as_str().into_client_request().context("a bad WebSocket URL")?;
    request.headers_mut().insert("user-agent", concat!("partyline-cli/", env!("CARGO_PKG_VERSION")).parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .with_context(|| format!("cannot connect to {}", target.ws_url.split('?').next().unwrap_or("")))?;
    let join = ClientMessage::join(now_ms(), target.session_id.clone(), device_id(), name.trim(), Some(PARTYLINE_V1));
    send(&mut ws, &join).await?;

    let mut out = Printer { json: args.json, me: None, members: Vec::new() };
    let mut heartbeat = tokio::time::interval(Duration::from_secs(5));
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    let mut leaving = false;
    loop {
        tokio::select! {
            message = ws.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None if leaving => {
                        eprintln!("You left the party.");
                        return Ok(Ending::Done);
                    }
                    Some(Ok(Message::Close(frame))) => {
                        let why = frame.map(|f| format!("{} {}", u16::from(f.code), f.reason)).unwrap_or_default();
                        bail!("the host closed the connection ({why})");
                    }
                    Some(Ok(_)) => continue, // pings are answered by tungstenite
                    Some(Err(err)) => return Err(anyhow!(err).context("connection to the host lost")),
                    None => bail!("connection to the host lost"),
                };
                if out.json {
                    println!("{}", text.as_str());
                }
                // A message this build does not know (a newer host's) is skipped, not fatal.
                let Ok(received) = Received::decode(text.as_str()) else { continue };
                if let Some(ending) = out.show(received.message, &target.name)? {
                    return Ok(ending);
                }
            }
            // Input waits until we are in (the member list is what /dm and /members need).
            line = stdin.next_line(), if stdin_open && !out.members.is_empty() => {
                match line? {
                    None => {
                        // End of input: leave, as `/leave` would.
                        stdin_open = false;
                        leaving = true;
                        leave(&mut ws).await?;
                    }
                    Some(line) => match line.trim() {
                        "" => {}
                        "/leave" | "/quit" => {
                            leaving = true;
                            leave(&mut ws).await?;
                        }
                        "/members" => out.print_members(),
                        text if text.starts_with("/dm ") => match out.direct(&text[4..]) {
                            Ok(message) => send(&mut ws, &message).await?,
                            Err(why) => out.say(&why),
                        },
                        text if ["/away", "/busy", "/back"].iter().any(|c| text == *c || text.starts_with(&format!("{c} "))) => {
                            let (command, rest) = text.split_once(' ').unwrap_or((text, ""));
                            let status = match command {
                                "/away" => PresenceStatus::Away,
                                "/busy" => PresenceStatus::Busy,
                                _ => PresenceStatus::Online,
                            };
                            let text = Some(rest.trim()).filter(|t| !t.is_empty()).map(str::to_string);
                            send(&mut ws, &ClientMessage::Presence(Presence { timestamp: now_ms().into(), status, text })).await?;
                        }
                        text if text.starts_with('/') => out.say(HELP),
                        text => {
                            let chat = ClientMessage::Chat(Chat { timestamp: now_ms().into(), text: text.to_string(), room: None });
                            send(&mut ws, &chat).await?;
                        }
                    },
                }
            }
            _ = heartbeat.tick() => {
                send(&mut ws, &ClientMessage::Heartbeat(Heartbeat { timestamp: now_ms().into() })).await?;
            }
            _ = tokio::signal::ctrl_c() => {
                leaving = true;
                leave(&mut ws).await?;
            }
        }
    }
}

async fn send<S>(ws: &mut S, message: &ClientMessage) -> anyhow::Result<()>
where
    S: SinkExt<Message> + Unpin,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    ws.send(Message::text(message.to_text())).await?;
    Ok(())
}

async fn leave<S>(ws: &mut S) -> anyhow::Result<()>
where
    S: SinkExt<Message> + Unpin,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let reason = Some(reason::DEFAULT_LEAVE.to_string());
    send(ws, &ClientMessage::Leave(Leave { timestamp: now_ms().into(), reason })).await
}

/// What the terminal shows.
struct Printer {
    json: bool,
    me: Option<String>,
    members: Vec<MemberInfo>,
}

impl Printer {
    /// Shows one message; returns how the membership ended, if it did.
    fn show(&mut self, message: ServerMessage, party: &str) -> anyhow::Result<Option<Ending>> {
        match message {
            ServerMessage::Welcome { client_id, .. } => self.me = Some(client_id),
            ServerMessage::MemberList { members, .. } => {
                let first = self.members.is_empty();
                self.members = members;
                if first {
                    let me = self.members.iter().find(|m| Some(&m.id) == self.me.as_ref()).map(|m| m.name.as_str());
                    self.say(&format!(
                        "Joined \"{party}\" as {} ({} here). Type to chat; /help for more.",
                        me.unwrap_or_default(),
                        self.members.len()
                    ));
                }
            }
            ServerMessage::MemberJoined { member, .. } => {
                self.say(&format!("+ {} joined{}", member.name, device(&member)));
                self.members.retain(|m| m.id != member.id);
                self.members.push(member);
            }
            ServerMessage::MemberUpdated { member, .. } => {
                if let Some(slot) = self.members.iter_mut().find(|m| m.id == member.id) {
                    *slot = member;
                }
            }
            ServerMessage::MemberLeft { member_id, reason, .. } => {
                let gone = self.name_of_id(&member_id);
                self.members.retain(|m| m.id != member_id);
                self.say(&format!("- {gone} left ({})", wire_name(serde_json::to_value(reason))));
            }
            ServerMessage::Direct { from, payload, .. } => {
                let from = self.name_of_id(&from);
                let text = payload["text"].as_str().map_or_else(|| payload.to_string(), str::to_string);
                self.say(&format!("[{from} → you] {text}"));
            }
            ServerMessage::PresenceUpdate { member_id, status, text, .. } => {
                let who = self.name_of_id(&member_id);
                let text = text.map(|t| format!(": {t}")).unwrap_or_default();
                self.say(&format!("({who} is {}{text})", wire_name(serde_json::to_value(status))));
            }
            ServerMessage::Notification { title, body, .. } => {
                let body = Some(body).filter(|b| !b.is_empty()).map(|b| format!(": {b}")).unwrap_or_default();
                self.say(&format!("** {title}{body} **"));
            }
            ServerMessage::Chat { name, text, .. } => self.say(&format!("<{name}> {text}")),
            ServerMessage::SessionUpdated { session, .. } => {
                self.say(&format!("(the party is now \"{}\")", session.name));
            }
            ServerMessage::Kicked { reason, .. } => {
                self.say(&format!("The host removed you: {reason}"));
                return Ok(Some(Ending::Kicked));
            }
            ServerMessage::SessionClosed { reason, .. } => {
                self.say(&format!("The party is over: {}", reason.as_deref().unwrap_or("the host ended it")));
                return Ok(Some(Ending::Done));
            }
            ServerMessage::Error { code, message, .. } => {
                let code_name = wire_name(serde_json::to_value(code));
                // Refusals at join end the attempt; anything else is said and we carry on.
                if matches!(
                    code,
                    ErrorCode::SessionFull
                        | ErrorCode::SessionNotFound
                        | ErrorCode::Unauthorized
                        | ErrorCode::VersionMismatch
                ) {
                    bail!("the host refused: {message} ({code_name})");
                }
                self.say(&format!("(host: {message} [{code_name}])"));
            }
            _ => {}
        }
        Ok(None)
    }

    /// A member's name by id, for messages that name only the id.
    fn name_of_id(&self, id: &str) -> String {
        self.members.iter().find(|m| m.id == id).map_or("someone", |m| m.name.as_str()).to_string()
    }

    /// `/dm NAME TEXT` → a `direct` message to the member of that name (case-blind; the longest
    /// name that fits wins, so "Ann Lee hi" goes to Ann Lee, not Ann).
    fn direct(&self, rest: &str) -> Result<ClientMessage, String> {
        let rest = rest.trim();
        let member = self
            .members
            .iter()
            .filter(|m| Some(&m.id) != self.me.as_ref())
            .map(|m| (m.id.as_str(), m.name.as_str()))
            .filter(|(_, name)| rest.len() > name.len() && rest.is_char_boundary(name.len()))
            .filter(|(_, name)| rest[..name.len()].eq_ignore_ascii_case(name) && rest[name.len()..].starts_with(' '))
            .max_by_key(|(_, name)| name.len());
        let Some((id, name)) = member else {
            return Err("/dm NAME TEXT: NAME must be someone else in /members".into());
        };
        let text = rest[name.len()..].trim();
        Ok(ClientMessage::Direct(Direct {
            timestamp: now_ms().into(),
            to: id.to_string(),
            id: format!("d-{}", now_ms()),
            payload: json!({"text": text}),
            ttl: None,
        }))
    }

    fn print_members(&self) {
        for m in &self.members {
            let you = if Some(&m.id) == self.me.as_ref() { " (you)" } else { "" };
            let host = if m.is_host { " (host)" } else { "" };
            self.say(&format!("  {}{host}{you}{}", m.name, device(m)));
        }
    }

    /// People's text: stdout, or stderr when stdout carries JSON. Every line shown is made of
    /// what others chose (names, chat, presence, the host's notifications), so every line goes
    /// through [`safe`].
    fn say(&self, text: &str) {
        let text = safe(text);
        if self.json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
}

/// How the wire spells an enum value (`timeout`, `away`, `session_full`), from
/// `serde_json::to_value` of it.
fn wire_name(value: serde_json::Result<serde_json::Value>) -> String {
    value.ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn device(member: &MemberInfo) -> String {
    member.device.as_deref().map(|d| format!(" · {d}")).unwrap_or_default()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A fresh device id per run: two terminals on one computer are two members.
fn device_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("cli-{:x}{:x}", nanos, std::process::id())
}

fn computer_name() -> String {
    partyline_host::computer_name().unwrap_or_else(|| "Terminal".into())
}

//! `partyline join`: be a member of a party from a terminal. Takes the join URL (as in the QR
//! code) or `host:port` with `--code`, joins with `partyline/1`, prints who comes and goes, the
//! chat, direct messages, presence and the host's notifications, and sends each line typed as a
//! chat message (`/dm NAME TEXT`, `/away [TEXT]`, `/busy [TEXT]`, `/back`, `/members`, `/leave`).

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
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
    let join = json!({
        "type": "join", "timestamp": now_ms(), "sessionId": target.session_id, "protocolVersion": "partyline/1",
        "deviceInfo": {"id": device_id(), "name": name.trim(), "type": "client"},
    });
    ws.send(Message::text(join.to_string())).await?;

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
                let message: Value = serde_json::from_str(&text).context("the host sent something that is not JSON")?;
                if let Some(ending) = out.show(&message, &target.name)? {
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
                            Ok(message) => ws.send(Message::text(message.to_string())).await?,
                            Err(why) => out.say(&why),
                        },
                        text if ["/away", "/busy", "/back"].iter().any(|c| text == *c || text.starts_with(&format!("{c} "))) => {
                            let (command, rest) = text.split_once(' ').unwrap_or((text, ""));
                            let status = match command { "/away" => "away", "/busy" => "busy", _ => "online" };
                            let mut presence = json!({"type": "presence", "timestamp": now_ms(), "status": status});
                            if !rest.trim().is_empty() {
                                presence["text"] = json!(rest.trim());
                            }
                            ws.send(Message::text(presence.to_string())).await?;
                        }
                        text if text.starts_with('/') => out.say(HELP),
                        text => {
                            ws.send(Message::text(json!({"type": "chat", "timestamp": now_ms(), "text": text}).to_string())).await?;
                        }
                    },
                }
            }
            _ = heartbeat.tick() => {
                ws.send(Message::text(json!({"type": "heartbeat", "timestamp": now_ms()}).to_string())).await?;
            }
            _ = tokio::signal::ctrl_c() => {
                leaving = true;
                leave(&mut ws).await?;
            }
        }
    }
}

async fn leave<S>(ws: &mut S) -> anyhow::Result<()>
where
    S: SinkExt<Message> + Unpin,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let leave = json!({"type": "leave", "timestamp": now_ms(), "reason": "User exited session"});
    ws.send(Message::text(leave.to_string())).await?;
    Ok(())
}

/// What the terminal shows.
struct Printer {
    json: bool,
    me: Option<String>,
    members: Vec<Value>,
}

impl Printer {
    /// Shows one message; returns how the membership ended, if it did.
    fn show(&mut self, m: &Value, party: &str) -> anyhow::Result<Option<Ending>> {
        if self.json {
            println!("{m}");
        }
        let name_of = |v: &Value| v["name"].as_str().unwrap_or("someone").to_string();
        match m["type"].as_str().unwrap_or("") {
            "welcome" => self.me = m["clientId"].as_str().map(str::to_string),
            "member_list" => {
                let first = self.members.is_empty();
                self.members = m["members"].as_array().cloned().unwrap_or_default();
                if first {
                    let me = self.members.iter().find(|v| v["id"].as_str() == self.me.as_deref()).map(name_of);
                    self.say(&format!(
                        "Joined \"{party}\" as {} ({} here). Type to chat; /help for more.",
                        me.unwrap_or_default(),
                        self.members.len()
                    ));
                }
            }
            "member_joined" => {
                let member = m["member"].clone();
                self.say(&format!("+ {} joined{}", name_of(&member), device(&member)));
                self.members.retain(|v| v["id"] != member["id"]);
                self.members.push(member);
            }
            "member_updated" => {
                let member = m["member"].clone();
                if let Some(slot) = self.members.iter_mut().find(|v| v["id"] == member["id"]) {
                    *slot = member;
                }
            }
            "member_left" => {
                let gone = self.members.iter().find(|v| v["id"] == m["memberId"]).map(name_of);
                self.members.retain(|v| v["id"] != m["memberId"]);
                let why = m["reason"].as_str().unwrap_or("left");
                self.say(&format!("- {} left ({why})", gone.unwrap_or_else(|| "someone".into())));
            }
            "direct" => {
                let from = self.name_of_id(m["from"].as_str().unwrap_or(""));
                let text = m["payload"]["text"].as_str().map_or_else(|| m["payload"].to_string(), str::to_string);
                self.say(&format!("[{from} → you] {text}"));
            }
            "presence_update" => {
                let who = self.name_of_id(m["memberId"].as_str().unwrap_or(""));
                let text = m["text"].as_str().map(|t| format!(": {t}")).unwrap_or_default();
                self.say(&format!("({who} is {}{text})", m["status"].as_str().unwrap_or("online")));
            }
            "notification" => {
                let body = m["body"].as_str().filter(|b| !b.is_empty()).map(|b| format!(": {b}")).unwrap_or_default();
                self.say(&format!("** {}{body} **", m["title"].as_str().unwrap_or("")));
            }
            "chat" => {
                self.say(&format!("<{}> {}", m["name"].as_str().unwrap_or("?"), m["text"].as_str().unwrap_or("")))
            }
            "session_updated" => {
                if let Some(name) = m["session"]["name"].as_str() {
                    self.say(&format!("(the party is now \"{name}\")"));
                }
            }
            "kicked" => {
                self.say(&format!("The host removed you: {}", m["reason"].as_str().unwrap_or("no reason given")));
                return Ok(Some(Ending::Kicked));
            }
            "session_closed" => {
                self.say(&format!("The party is over: {}", m["reason"].as_str().unwrap_or("the host ended it")));
                return Ok(Some(Ending::Done));
            }
            "error" => {
                let code = m["code"].as_str().unwrap_or("error");
                let message = m["message"].as_str().unwrap_or("");
                // Refusals at join end the attempt; anything else is said and we carry on.
                if matches!(code, "session_full" | "session_not_found" | "unauthorized" | "version_mismatch") {
                    bail!("the host refused: {message} ({code})");
                }
                self.say(&format!("(host: {message} [{code}])"));
            }
            _ => {}
        }
        Ok(None)
    }

    /// A member's name by id, for messages that name only the id.
    fn name_of_id(&self, id: &str) -> String {
        self.members.iter().find(|v| v["id"] == id).and_then(|v| v["name"].as_str()).unwrap_or("someone").to_string()
    }

    /// `/dm NAME TEXT` → a `direct` message to the member of that name (case-blind; the longest
    /// name that fits wins, so "Ann Lee hi" goes to Ann Lee, not Ann).
    fn direct(&self, rest: &str) -> Result<Value, String> {
        let rest = rest.trim();
        let member = self
            .members
            .iter()
            .filter(|v| v["id"].as_str() != self.me.as_deref())
            .filter_map(|v| Some((v["id"].as_str()?, v["name"].as_str()?)))
            .filter(|(_, name)| rest.len() > name.len() && rest.is_char_boundary(name.len()))
            .filter(|(_, name)| rest[..name.len()].eq_ignore_ascii_case(name) && rest[name.len()..].starts_with(' '))
            .max_by_key(|(_, name)| name.len());
        let Some((id, name)) = member else {
            return Err("/dm NAME TEXT: NAME must be someone else in /members".into());
        };
        let text = rest[name.len()..].trim();
        Ok(json!({"type": "direct", "timestamp": now_ms(), "to": id, "id": format!("d-{}", now_ms()),
            "payload": {"text": text}}))
    }

    fn print_members(&self) {
        for v in &self.members {
            let you = if v["id"].as_str() == self.me.as_deref() { " (you)" } else { "" };
            let host = if v["isHost"] == true { " (host)" } else { "" };
            self.say(&format!("  {}{host}{you}{}", v["name"].as_str().unwrap_or("?"), device(v)));
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

fn device(member: &Value) -> String {
    member["device"].as_str().map(|d| format!(" · {d}")).unwrap_or_default()
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

//! Joining another host as a member: from an address someone typed (or a whole join URL),
//! look the host up (`GET /api/info`), trade a room code for the join key (`GET /api/join`) and
//! return the WebSocket URL to join at. The desktop app's Browse tab and `partyline join` both
//! use it (a web view cannot read another host's `/api/*`: no CORS on them).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_RESPONSE: usize = 64 * 1024;

/// Why a join could not be prepared; `code` is stable (`bad_address`, `unreachable`,
/// `join_failed`, `wrong_code`, `too_many_tries`), `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JoinError {
    /// A stable code.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

impl JoinError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        JoinError { code, message: message.into() }
    }
}

/// What a client needs to join: the WebSocket URL (key included) and the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinTarget {
    /// `ws://host:port/ws?token=KEY` (no token for an open host).
    pub ws_url: String,
    /// The session id for `join`.
    pub session_id: String,
    /// The party's name.
    pub name: String,
    /// Protocol versions the host speaks.
    pub protocol_versions: Vec<String>,
}

/// `GET /api/info`: what a join needs of it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Info {
    session_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    open: bool,
    /// A host from before versions were listed speaks LOUDSYNC 1.0 only.
    #[serde(default = "loudsync_only")]
    protocol_versions: Vec<String>,
    #[serde(default)]
    room_code_wait_ms: u64,
}

fn loudsync_only() -> Vec<String> {
    vec![partyline_protocol::LOUDSYNC_V1.into()]
}

/// `GET /api/join`'s answer: the key (200), or when to come back (429).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JoinAnswer {
    #[serde(default)]
    join_key: Option<String>,
    #[serde(default)]
    retry_after_ms: Option<u64>,
}

/// Where to join: `host:port`, and the key when the address was a full join URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// `host:port` (IPv6 in brackets).
    pub authority: String,
    /// The join key from a pasted `#k=` fragment.
    pub key: Option<String>,
}

/// Accepts `192.168.1.20:48321`, `http://192.168.1.20:48321/`, or a whole join URL
/// (`http://…/#k=KEY`, as in the QR code).
pub fn parse_address(input: &str) -> Result<Address, JoinError> {
    let bad = || JoinError::new("bad_address", format!("not a host address: {input:?} (try 192.168.1.20:48321)"));
    let input = input.trim();
    let (rest, fragment) = input.split_once('#').unwrap_or((input, ""));
    let rest = rest.strip_prefix("http://").unwrap_or(rest);
    let authority = rest.split('/').next().unwrap_or("").to_string();
    let has_port =
        authority.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !has_port || authority.contains(char::is_whitespace) || authority.contains('@') {
        return Err(bad());
    }
    let key = fragment.split('&').find_map(|kv| kv.strip_prefix("k=")).filter(|k| !k.is_empty()).map(str::to_string);
    Ok(Address { authority, key })
}

/// Looks the host up and trades the room code for the key (unless the address carried one, or
/// the host is open).
pub async fn resolve(address: &str, room_code: Option<&str>) -> Result<JoinTarget, JoinError> {
    let addr = parse_address(address)?;
    let (status, info) = get_json::<Info>(&addr.authority, "/api/info", HTTP_TIMEOUT).await?;
    if status != 200 {
        return Err(JoinError::new(
            "join_failed",
            format!("{} is not a Partyline host (HTTP {status})", addr.authority),
        ));
    }
    let info =
        info.ok_or_else(|| JoinError::new("join_failed", format!("{} is not a Partyline host", addr.authority)))?;
    let key = match (addr.key, info.open) {
        (_, true) => None,
        (Some(key), false) => Some(key),
        (None, false) => {
            let code: String = room_code.unwrap_or("").chars().filter(char::is_ascii_alphanumeric).collect();
            if code.is_empty() {
                return Err(JoinError::new("wrong_code", "This party needs its room code"));
            }
            // A host busy with room-code tries holds one for up to `roomCodeWaitMs` before
            // checking it (it never refuses the right code outright): wait that long, and after
            // a 429 once more after the delay it names.
            let held = Duration::from_millis(info.room_code_wait_ms.min(60_000));
            let path = format!("/api/join?code={}", code.to_ascii_uppercase());
            let mut tries = 0;
            loop {
                tries += 1;
                let (status, body) = get_json::<JoinAnswer>(&addr.authority, &path, HTTP_TIMEOUT + held).await?;
                let body = body.unwrap_or_default();
                match status {
                    200 => {
                        break Some(
                            body.join_key.ok_or_else(|| JoinError::new("join_failed", "the host sent no key"))?,
                        );
                    }
                    429 if tries == 1 => {
                        let retry = body.retry_after_ms.unwrap_or(1000).min(30_000);
                        tokio::time::sleep(Duration::from_millis(retry)).await;
                    }
                    429 => {
                        return Err(JoinError::new(
                            "too_many_tries",
                            "The host is busy checking room codes: try again soon",
                        ));
                    }
                    _ => return Err(JoinError::new("wrong_code", "That room code is not this party's")),
                }
            }
        }
    };
    let token = key.map(|k| format!("?token={k}")).unwrap_or_default();
    Ok(JoinTarget {
        ws_url: format!("ws://{}/ws{token}", addr.authority),
        session_id: info.session_id,
        name: info.name,
        protocol_versions: info.protocol_versions,
    })
}

/// A bare HTTP/1.0 GET (the server closes after answering; no chunked bodies): the status, and
/// the body when it is the JSON expected.
async fn get_json<T: DeserializeOwned>(
    authority: &str,
    path: &str,
    limit: Duration,
) -> Result<(u16, Option<T>), JoinError> {
    let unreachable = |err: String| JoinError::new("unreachable", format!("cannot reach {authority}: {err}"));
    let exchange = async {
        let mut stream = TcpStream::connect(authority).await.map_err(|e| unreachable(e.to_string()))?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nAccept: application/json\r\n\r\n");
        stream.write_all(request.as_bytes()).await.map_err(|e| unreachable(e.to_string()))?;
        let mut response = Vec::new();
        stream.take(MAX_RESPONSE as u64).read_to_end(&mut response).await.map_err(|e| unreachable(e.to_string()))?;
        Ok::<_, JoinError>(response)
    };
    let response = tokio::time::timeout(limit, exchange).await.map_err(|_| unreachable("timed out".into()))??;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| unreachable("not an HTTP answer".into()))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| unreachable("not an HTTP answer".into()))?;
    Ok((status, serde_json::from_str(body).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let a = parse_address(" 192.168.1.20:48321 ").unwrap();
        assert_eq!((a.authority.as_str(), a.key), ("192.168.1.20:48321", None));
        let a = parse_address("http://127.0.0.1:9/#k=abc_-").unwrap();
        assert_eq!((a.authority.as_str(), a.key.as_deref()), ("127.0.0.1:9", Some("abc_-")));
        let a = parse_address("[fe80::1]:80").unwrap();
        assert_eq!(a.authority, "[fe80::1]:80");
        for bad in ["", "192.168.1.20", "http://x", ":80", "a b:80", "user@host:80"] {
            assert_eq!(parse_address(bad).unwrap_err().code, "bad_address", "{bad}");
        }
    }
}

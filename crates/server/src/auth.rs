//! Who may connect: the join key (three ways to present it) and the browser Origin check.

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN, SEC_WEBSOCKET_PROTOCOL};

/// The subprotocol prefix that carries a key (seed 001: `access_token.<key>`).
pub const SUBPROTOCOL_PREFIX: &str = "access_token.";

/// Origins of the desktop app's own web view, which may connect to any host.
const APP_ORIGINS: [&str; 3] = ["tauri://localhost", "http://tauri.localhost", "https://tauri.localhost"];

/// How a request presented a valid key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    /// The host needs no key, or the key came in the query or the Authorization header.
    Accepted,
    /// The key came as this subprotocol, which the upgrade must echo or browsers fail it.
    AcceptedSubprotocol(String),
    /// Missing or wrong.
    Refused,
}

/// Checks the key in the query's `token`, an `Authorization: Bearer` header, or an
/// `access_token.<key>` subprotocol.
pub fn check_key(expected: Option<&str>, query_token: Option<&str>, headers: &HeaderMap) -> KeyCheck {
    let Some(expected) = expected else { return KeyCheck::Accepted };
    if query_token.is_some_and(|token| keys_equal(token, expected)) {
        return KeyCheck::Accepted;
    }
    let bearer = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if bearer.is_some_and(|token| keys_equal(token.trim(), expected)) {
        return KeyCheck::Accepted;
    }
    for value in headers.get_all(SEC_WEBSOCKET_PROTOCOL) {
        let Ok(value) = value.to_str() else { continue };
        for protocol in value.split(',').map(str::trim) {
            if protocol.strip_prefix(SUBPROTOCOL_PREFIX).is_some_and(|token| keys_equal(token, expected)) {
                return KeyCheck::AcceptedSubprotocol(protocol.to_string());
            }
        }
    }
    KeyCheck::Refused
}

/// Whether a browser request comes from a page of this host (or the desktop app). Requests
/// without an Origin (native clients) pass: the Origin check protects browsers, whose
/// pages from other sites would otherwise ride on the guest's network position.
pub fn origin_allowed(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    if APP_ORIGINS.contains(&origin) {
        return true;
    }
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else { return false };
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    origin_host.eq_ignore_ascii_case(host)
}

/// Whether the request comes from the desktop app's own web view (by its Origin).
pub fn from_desktop_app(headers: &HeaderMap) -> bool {
    headers.get(ORIGIN).and_then(|origin| origin.to_str().ok()).is_some_and(|origin| APP_ORIGINS.contains(&origin))
}

fn keys_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    /// Each of the three ways accepts the right key and refuses a wrong one.
    #[test]
    fn three_ways_to_present_a_key() {
        let key = Some("s3cret");
        assert_eq!(check_key(key, Some("s3cret"), &HeaderMap::new()), KeyCheck::Accepted);
        assert_eq!(check_key(key, Some("wrong"), &HeaderMap::new()), KeyCheck::Refused);
        assert_eq!(check_key(key, None, &headers(&[("authorization", "Bearer s3cret")])), KeyCheck::Accepted);
        assert_eq!(check_key(key, None, &headers(&[("authorization", "Bearer nope")])), KeyCheck::Refused);
        assert_eq!(
            check_key(key, None, &headers(&[("sec-websocket-protocol", "chat, access_token.s3cret")])),
            KeyCheck::AcceptedSubprotocol("access_token.s3cret".into())
        );
        assert_eq!(check_key(key, None, &headers(&[("sec-websocket-protocol", "access_token.x")])), KeyCheck::Refused);
        assert_eq!(check_key(key, None, &HeaderMap::new()), KeyCheck::Refused);
        assert_eq!(check_key(None, None, &HeaderMap::new()), KeyCheck::Accepted, "an open host");
    }

    /// Same-host pages, the desktop app and native clients pass; other sites do not.
    #[test]
    fn origins() {
        assert!(origin_allowed(&headers(&[("host", "10.0.0.5:4000")])));
        assert!(origin_allowed(&headers(&[("host", "10.0.0.5:4000"), ("origin", "http://10.0.0.5:4000")])));
        assert!(origin_allowed(&headers(&[("host", "10.0.0.5:4000"), ("origin", "tauri://localhost")])));
        assert!(!origin_allowed(&headers(&[("host", "10.0.0.5:4000"), ("origin", "http://evil.example")])));
        assert!(!origin_allowed(&headers(&[("host", "10.0.0.5:4000"), ("origin", "http://10.0.0.5:4001")])));
        assert!(!origin_allowed(&headers(&[("origin", "http://10.0.0.5:4000")])), "no Host, no match");
    }
}

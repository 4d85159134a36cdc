//! A short, human label for the device a member joins from ("iPhone", "Windows PC"), for the
//! host's member list. LOUDSYNC's `deviceInfo` carries only the name a person typed, so the
//! label comes from the WebSocket upgrade request: the desktop app's Origin, else the
//! `User-Agent`.
//!
//! It is a hint for a host glancing at a list, not an identity: any client can send any
//! User-Agent, and a label that cannot be told is left out rather than guessed.

use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;

use crate::auth;

/// The label of the desktop app's own web view (its Browse tab joining another party).
pub const DESKTOP_APP: &str = "Partyline desktop";

/// The device label for an upgrade request, if one can be told.
///
/// The desktop app is recognized by its web view's Origin (`tauri://localhost` and kin), which
/// a browser sets and a page cannot change: its User-Agent is just the platform's web view
/// (WebKitGTK's says "Linux" and nothing else), indistinguishable from a browser on the same OS.
pub fn device_label(headers: &HeaderMap) -> Option<&'static str> {
    if auth::from_desktop_app(headers) {
        return Some(DESKTOP_APP);
    }
    classify_user_agent(headers.get(USER_AGENT)?.to_str().ok()?)
}

/// The device label a `User-Agent` string implies, or `None` for tools, bots and anything
/// unrecognized.
///
/// iPadOS 13 and later is the one device that hides: its Safari sends exactly the Mac Safari
/// User-Agent ("Macintosh", no touch hint), so Safari on a "Macintosh" is labelled
/// "Mac or iPad". Chrome, Firefox and Edge on an iPad still name it (`CriOS`/`FxiOS`/`EdgiOS`
/// with "iPad"), so a Mac with one of those browsers is labelled "Mac".
pub fn classify_user_agent(ua: &str) -> Option<&'static str> {
    // Every browser's starts so; curl, python-requests, websocket libraries and Node do not.
    if !ua.starts_with("Mozilla/") {
        return None;
    }
    let lower = ua.to_ascii_lowercase();
    if ["bot/", "bot;", "spider", "crawler", "+http"].iter().any(|marker| lower.contains(marker)) {
        return None;
    }
    let has = |token: &str| ua.contains(token);
    let label = if has("iPhone") {
        "iPhone"
    } else if has("iPad") {
        "iPad"
    } else if has("iPod") {
        "iPod touch"
    } else if has("Android") {
        // Chrome marks phones with " Mobile", Firefox with "Mobile;"; tablets have neither.
        if has("Mobile") { "Android phone" } else { "Android tablet" }
    } else if has("CrOS") {
        "Chromebook"
    } else if has("Windows") {
        "Windows PC"
    } else if has("Macintosh") || has("Mac OS X") {
        let other_browser = ["Chrome/", "Chromium/", "Firefox/", "Edg/", "OPR/"].iter().any(|token| has(token));
        if other_browser { "Mac" } else { "Mac or iPad" }
    } else if has("Linux") || has("X11") {
        "Linux PC"
    } else {
        return None;
    };
    Some(label)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// Real User-Agent strings, each with the label a host should see.
    const CASES: &[(&str, Option<&str>)] = &[
        // iOS Safari, and Chrome on iOS.
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            Some("iPhone"),
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
            Some("iPhone"),
        ),
        // iPadOS 12 Safari, and Chrome on a current iPad: they say "iPad".
        (
            "Mozilla/5.0 (iPad; CPU OS 12_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1 Mobile/15E148 Safari/604.1",
            Some("iPad"),
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
            Some("iPad"),
        ),
        // iPadOS 13+ Safari is byte for byte Mac Safari.
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
            Some("Mac or iPad"),
        ),
        // Android Chrome on a phone (the reduced UA, and the Pixel 8 the desktop test emulates).
        (
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
            Some("Android phone"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36",
            Some("Android phone"),
        ),
        // Samsung Internet, and Firefox for Android.
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
            Some("Android phone"),
        ),
        ("Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0", Some("Android phone")),
        // Android tablets: Chrome on a Galaxy Tab, Firefox, Silk on a Fire tablet.
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
            Some("Android tablet"),
        ),
        ("Mozilla/5.0 (Android 14; Tablet; rv:127.0) Gecko/127.0 Firefox/127.0", Some("Android tablet")),
        (
            "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/126.3.1 like Chrome/126.0.6478.126 Safari/537.36",
            Some("Android tablet"),
        ),
        // Windows: Chrome, Edge, Firefox.
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
            Some("Windows PC"),
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68",
            Some("Windows PC"),
        ),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0", Some("Windows PC")),
        // macOS: Chrome and Firefox.
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
            Some("Mac"),
        ),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0", Some("Mac")),
        // Linux: Chrome, Firefox, and WebKitGTK (Epiphany; a bare web view says even less).
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
            Some("Linux PC"),
        ),
        ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0", Some("Linux PC")),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko)", Some("Linux PC")),
        // ChromeOS says "X11" as Linux does, but it is a Chromebook.
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
            Some("Chromebook"),
        ),
        // Tools and bots: no label.
        ("curl/8.5.0", None),
        ("python-requests/2.31.0", None),
        ("Python/3.11 websockets/12.0", None),
        ("node", None),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", None),
        (
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.126 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            None,
        ),
        ("", None),
        ("Mozilla/5.0", None),
    ];

    #[test]
    fn real_user_agents() {
        let wrong: Vec<String> = CASES
            .iter()
            .filter(|(ua, want)| classify_user_agent(ua) != *want)
            .map(|(ua, want)| format!("{ua:?}: want {want:?}, got {:?}", classify_user_agent(ua)))
            .collect();
        assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
    }

    /// A request's headers, from name and value pairs (the auth tests use it too).
    pub(crate) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    /// The desktop app's web view is told by its Origin, whatever its User-Agent; other pages by
    /// their User-Agent; no User-Agent, no label.
    #[test]
    fn from_request_headers() {
        let webkitgtk = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko)";
        for origin in ["tauri://localhost", "http://tauri.localhost", "https://tauri.localhost"] {
            let request = headers(&[("origin", origin), ("user-agent", webkitgtk)]);
            assert_eq!(device_label(&request), Some(DESKTOP_APP), "{origin}");
        }
        let page = headers(&[("origin", "http://10.0.0.5:4000"), ("user-agent", webkitgtk)]);
        assert_eq!(device_label(&page), Some("Linux PC"));
        assert_eq!(device_label(&headers(&[("origin", "http://10.0.0.5:4000")])), None);
        assert_eq!(device_label(&HeaderMap::new()), None);
    }
}

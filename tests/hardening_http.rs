//! What the host serves over HTTP cannot be turned against its guests: `/media/` answers only
//! for the library's items (never a file the scan left out, never through a link out of the
//! shared folder, never a document a browser would run), every response carries `nosniff` and a
//! Content-Security-Policy (media a sandboxing one), so no file it serves can run script that
//! reads the phone page's secrets, and room codes cannot be guessed faster than the party's
//! budget allows, from one address or many, while the right code still gets through after a
//! short wait.
//!
//! Requests are written by hand on a raw socket, so paths reach the host exactly as typed
//! (`..` and percent-encoding included) and a client can bind any 127.0.0.x address.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use partyline_server::{Limits, ServerHandle};
use partyline_support::{Client, SessionConfig, default_host, start_host_with_media};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The longest a room-code answer may take here: the host's bounded wait (15 s) and margin.
const CODE_WAIT: Duration = Duration::from_secs(30);

/// One HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("JSON body, got {:?}", self.text()))
    }

    /// The body as text, cut to 200 characters for assertion messages.
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).chars().take(200).collect()
    }
}

/// Sends `METHOD target` with `Connection: close` from `from` (any 127.0.0.x) and reads the
/// whole answer.
async fn request(addr: SocketAddr, from: Ipv4Addr, method: &str, target: &str, extra: &[(&str, &str)]) -> Answer {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    let mut stream = socket.connect(addr).await.expect("connects to the host");
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(CODE_WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("the host answers within the time limit")
        .unwrap();
    parse(&raw, method == "HEAD")
}

async fn get(addr: SocketAddr, target: &str) -> Answer {
    request(addr, Ipv4Addr::LOCALHOST, "GET", target, &[]).await
}

fn parse(raw: &[u8], head_only: bool) -> Answer {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|line| line.split_once(':').unwrap())
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked && !head_only {
        body = unchunk(&body);
    }
    Answer { status, headers, body }
}

fn unchunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let end = raw.windows(2).position(|w| w == b"\r\n").expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 2 + size + 2..];
    }
}

fn song_bytes() -> Vec<u8> {
    (0..10_000u32).map(|n| (n % 251) as u8).collect()
}

/// A temporary place holding `shared/` (the folder the host shares) and, beside it, files the
/// host must never serve.
fn fixture() -> (PathBuf, PathBuf) {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let base = std::env::temp_dir().join(format!("partyline-hardening-{}-{nanos}", std::process::id()));
    let shared = base.join("shared");
    let write = |rel: &str, bytes: &[u8]| {
        let path = shared.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    write("song.mp3", &song_bytes());
    write("Album/nested.ogg", b"nested song");
    write("sub/one.mp3", b"one");
    write("a/b/c/within.mp3", b"three folders down");
    write("a/b/c/d/e/f/g/deep.mp3", b"seven folders down: deeper than the scan");
    write("notes.txt", b"not media");
    write(".hidden/x.mp3", b"hidden");
    write("page.html", b"<script>alert(sessionStorage.getItem('partyline.joinKey'))</script>");
    write("pic.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>");
    write("swap.mp3", b"a song at scan time");
    std::fs::write(base.join("outside.mp3"), b"a file outside the shared folder").unwrap();
    std::os::unix::fs::symlink("/etc", shared.join("etclink")).unwrap();
    std::os::unix::fs::symlink(base.join("outside.mp3"), shared.join("outlink.mp3")).unwrap();
    std::os::unix::fs::symlink(shared.join("song.mp3"), shared.join("inside.mp3")).unwrap();
    (base, shared)
}

async fn media_host(shared: &Path) -> ServerHandle {
    start_host_with_media(SessionConfig::default(), Limits::default(), Some(shared.to_path_buf())).await
}

/// Only library items are served (the right type, nosniff); other files, hidden and deeper
/// ones, documents, links out of the folder, `..` in any encoding and folders are 404 without a
/// redirect; a link to a song inside the folder is an item; Range still answers 206.
#[tokio::test]
async fn media_serves_the_library_only() {
    let (base, shared) = fixture();
    let host = media_host(&shared).await;
    let addr = host.local_addr();
    let key = host.join_key().unwrap().to_string();
    let mut served = Vec::new();
    for path in [
        "/media/notes.txt",
        "/media/.hidden/x.mp3",
        "/media/a/b/c/d/e/f/g/deep.mp3",
        "/media/page.html",
        "/media/pic.svg",
        "/media/etclink/passwd",
        "/media/etclink/hostname",
        "/media/outlink.mp3",
        "/media/../outside.mp3",
        "/media/..%2Foutside.mp3",
        "/media/%2e%2e/outside.mp3",
        "/media/%2e%2e%2foutside.mp3",
        "/media/../Cargo.toml",
        "/media/..%2FCargo.toml",
        "/media/%2e%2e%2fCargo.toml",
        "/media/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/media/sub",
        "/media/sub/",
        "/media/Album",
        "/media/",
        "/media/song.mp3/",
        "/media/./song.mp3",
    ] {
        let answer = get(addr, &format!("{path}?token={key}")).await;
        if (answer.status, answer.header("location")) != (404, None) {
            served.push(format!("{path} → {} {:?} {:?}", answer.status, answer.header("location"), answer.text()));
        }
    }
    assert!(served.is_empty(), "expected 404 without a redirect for each, got:\n{}", served.join("\n"));

    let items = host.library().await.unwrap();
    let urls: Vec<&str> = items.iter().map(|i| i.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "/media/Album/nested.ogg",
            "/media/a/b/c/within.mp3",
            "/media/inside.mp3",
            "/media/song.mp3",
            "/media/sub/one.mp3",
            "/media/swap.mp3"
        ],
        "the library: playable files within the scan depth, and the link that stays inside"
    );

    for (path, mime, body) in [
        ("/media/song.mp3", "audio/mpeg", song_bytes()),
        ("/media/inside.mp3", "audio/mpeg", song_bytes()),
        ("/media/Album/nested.ogg", "audio/ogg", b"nested song".to_vec()),
        ("/media/a/b/c/within.mp3", "audio/mpeg", b"three folders down".to_vec()),
    ] {
        let answer = get(addr, &format!("{path}?token={key}")).await;
        assert_eq!(
            (answer.status, answer.header("content-type"), answer.header("x-content-type-options")),
            (200, Some(mime), Some("nosniff")),
            "{path}"
        );
        assert_eq!(answer.body, body, "{path} serves its own bytes");
    }

    let ranged = request(
        addr,
        Ipv4Addr::LOCALHOST,
        "GET",
        &format!("/media/song.mp3?token={key}"),
        &[("Range", "bytes=100-199")],
    )
    .await;
    assert_eq!((ranged.status, ranged.header("content-type")), (206, Some("audio/mpeg")));
    assert_eq!(ranged.body, song_bytes()[100..200], "exactly bytes 100–199");
    let head = request(addr, Ipv4Addr::LOCALHOST, "HEAD", &format!("/media/song.mp3?token={key}"), &[]).await;
    assert_eq!((head.status, head.header("content-length")), (200, Some("10000")), "HEAD");

    // A file swapped for a link out of the folder after the scan is refused at request time.
    std::fs::remove_file(shared.join("swap.mp3")).unwrap();
    std::os::unix::fs::symlink(base.join("outside.mp3"), shared.join("swap.mp3")).unwrap();
    let swapped = get(addr, &format!("/media/swap.mp3?token={key}")).await;
    assert_eq!(swapped.status, 404, "a link out of the folder, made after the scan: got {:?}", swapped.text());

    host.shutdown(None).await;
    std::fs::remove_dir_all(base).unwrap();
}

/// Every route carries nosniff, no-referrer and a Content-Security-Policy: the page's forbids
/// inline and foreign script, the JSON API's allows nothing, and media's sandboxes the file.
#[tokio::test]
async fn every_response_carries_the_headers() {
    let (base, shared) = fixture();
    let host = media_host(&shared).await;
    let addr = host.local_addr();
    let key = host.join_key().unwrap().to_string();
    let page = ["/", "/app.js", "/client.js", "/style.css", "/player.js", "/syncplay.js", "/no-such-page"];
    let api = ["/api/info", "/api/join?code=ABCDE"];
    let song = format!("/media/song.mp3?token={key}");
    let missing = format!("/media/notes.txt?token={key}");
    let media = [song.as_str(), missing.as_str(), "/media/song.mp3"];
    for target in page.iter().chain(&api).chain(&media) {
        let answer = get(addr, target).await;
        let csp = answer.header("content-security-policy").unwrap_or("");
        assert_eq!(
            (answer.header("x-content-type-options"), answer.header("referrer-policy")),
            (Some("nosniff"), Some("no-referrer")),
            "{target} ({})",
            answer.status
        );
        if page.contains(target) {
            for directive in ["default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"]
            {
                assert!(csp.contains(directive), "{target}: expected {directive:?} in {csp:?}");
            }
            assert!(!csp.contains("unsafe"), "{target}: no unsafe-inline or unsafe-eval, got {csp:?}");
        } else if api.contains(target) {
            assert!(csp.starts_with("default-src 'none'"), "{target}: expected default-src 'none', got {csp:?}");
        } else {
            assert!(csp.starts_with("sandbox"), "{target}: expected a sandbox CSP, got {csp:?}");
            assert!(csp.contains("default-src 'none'"), "{target}: got {csp:?}");
            assert_eq!(answer.header("cross-origin-resource-policy"), Some("same-origin"), "{target}");
        }
    }
    host.shutdown(None).await;
    std::fs::remove_dir_all(base).unwrap();
}

/// The page over a real socket: gzipped for a browser that takes it, a 304 with no body for a
/// file the phone has (a reload downloads nothing again), and `/favicon.ico` is the page's icon.
#[tokio::test]
async fn the_page_is_gzipped_and_revalidated() {
    let host = default_host().await;
    let addr = host.local_addr();
    let plain = get(addr, "/").await;
    assert_eq!(plain.status, 200);
    let etag = plain.header("etag").expect("an ETag").to_string();
    let zipped = request(addr, Ipv4Addr::LOCALHOST, "GET", "/", &[("Accept-Encoding", "gzip")]).await;
    assert_eq!((zipped.status, zipped.header("content-encoding")), (200, Some("gzip")));
    assert!(zipped.body.len() * 2 < plain.body.len(), "gzipped {} of {} bytes", zipped.body.len(), plain.body.len());
    let again = request(addr, Ipv4Addr::LOCALHOST, "GET", "/", &[("If-None-Match", &etag)]).await;
    assert_eq!((again.status, again.body.len()), (304, 0), "a reload revalidates");
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    // Only what the 200's validators need (RFC 9111, 4.3.4: the browser keeps the 200's other
    // headers, its policy among them): on a slow Wi-Fi a reload waits for these bytes.
    // (`connection: close` answers this test's own `Connection: close`.)
    let mut names: Vec<&str> =
        again.headers.iter().map(|(name, _)| name.as_str()).filter(|name| *name != "connection").collect();
    names.sort_unstable();
    assert_eq!(names, ["cache-control", "date", "etag", "vary"], "the 304's headers: {:?}", again.headers);
    let module = get(addr, "/app.js").await;
    let tag = module.header("etag").expect("a module's ETag").to_string();
    let kept = request(addr, Ipv4Addr::LOCALHOST, "GET", "/app.js", &[("If-None-Match", &tag)]).await;
    assert_eq!((kept.status, kept.header("content-security-policy")), (304, None), "{:?}", kept.headers);
    let icon = get(addr, "/favicon.ico").await;
    assert_eq!((icon.status, icon.header("content-type")), (200, Some("image/svg+xml")), "{}", icon.text());
    host.shutdown(None).await;
}

/// A WebSocket's 101 carries the handshake and nothing a document needs (no policy, no
/// `nosniff`): on a slow Wi-Fi a reload's socket waits for these bytes before its first message.
#[tokio::test]
async fn a_sockets_101_is_only_the_handshake() {
    let host = default_host().await;
    let key = host.join_key().unwrap().to_string();
    let mut socket = tokio::net::TcpStream::connect(host.local_addr()).await.unwrap();
    let ask = format!(
        "GET /ws?token={key} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    socket.write_all(ask.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "the host closed before its answer: {:?}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&buf[..n]);
    }
    let answer = parse(&raw, true);
    assert_eq!(answer.status, 101, "{:?}", answer.headers);
    let mut names: Vec<&str> = answer.headers.iter().map(|(name, _)| name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["connection", "date", "sec-websocket-accept", "upgrade"], "{:?}", answer.headers);
    host.shutdown(None).await;
}

/// The page carries this party's facts (what `/api/info` says of it that stays put, under the
/// same names), so a phone draws the join screen from the page alone; it is the same page, a
/// 304, until the host renames or locks the party, and then the new facts under a new ETag.
#[tokio::test]
async fn the_page_carries_the_partys_facts() {
    let host = default_host().await;
    let addr = host.local_addr();
    let facts = |page: &Answer| {
        let text = String::from_utf8_lossy(&page.body).into_owned();
        let open = "<script type=\"application/json\" id=\"party-facts\">";
        let start = text.find(open).expect("the facts in the page") + open.len();
        serde_json::from_str::<Value>(&text[start..start + text[start..].find("</script>").unwrap()]).unwrap()
    };
    let page = get(addr, "/").await;
    let info = get(addr, "/api/info").await.json();
    let written = facts(&page);
    for name in ["sessionId", "name", "maxMembers", "locked", "open", "protocolVersions", "roomCodeWaitMs", "uploads"] {
        assert_eq!(written[name], info[name], "{name}: the page and /api/info agree");
    }
    assert!(written.get("memberCount").is_none(), "the head count changes at every join: not in the page");
    let etag = page.header("etag").unwrap().to_string();
    let again = request(addr, Ipv4Addr::LOCALHOST, "GET", "/", &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status, 304, "unchanged facts: the same page");
    let (_phone, _) = Client::join_in(&host, "dev-a", true).await;
    let again = request(addr, Ipv4Addr::LOCALHOST, "GET", "/", &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status, 304, "a guest more: still the same page");
    host.rename("Rooftop </script> party").await.unwrap();
    let renamed = request(addr, Ipv4Addr::LOCALHOST, "GET", "/", &[("If-None-Match", &etag)]).await;
    assert_eq!(renamed.status, 200, "renamed: the page again");
    assert_ne!(renamed.header("etag"), Some(etag.as_str()), "under a new ETag");
    assert_eq!(facts(&renamed)["name"], "Rooftop </script> party", "the new name, whole (its `<` escaped in the page)");
    host.shutdown(None).await;
}

/// Over a real socket, the URLs the page names are kept for good: the page's import map sends
/// each module to `?v=<version>`, served `immutable`; the page itself and a module at its plain
/// URL are revalidated (`no-cache`), so a reload asks for the page alone.
#[tokio::test]
async fn the_page_names_versioned_urls_kept_for_good() {
    let host = default_host().await;
    let addr = host.local_addr();
    let page = get(addr, "/").await;
    assert_eq!((page.status, page.header("cache-control")), (200, Some("no-cache")), "the page is revalidated");
    let text = String::from_utf8_lossy(&page.body);
    let at = text.find("\"/app.js\":\"").expect("the import map names /app.js") + "\"/app.js\":\"".len();
    let url = &text[at..at + text[at..].find('"').expect("a quoted URL")];
    assert!(url.starts_with("/app.js?v="), "expected a versioned URL for /app.js, got {url}");
    let kept = get(addr, url).await;
    assert_eq!((kept.status, kept.header("cache-control")), (200, Some("max-age=31536000, immutable")), "{url}");
    let plain = get(addr, "/app.js").await;
    assert_eq!((plain.status, plain.header("cache-control")), (200, Some("no-cache")), "/app.js unversioned");
    assert_eq!(plain.body, kept.body, "the same file at both URLs");
    host.shutdown(None).await;
}

/// From one address, five wrong codes and then the right one: the right one is answered with the
/// key after its short turn, not refused for a minute.
#[tokio::test]
async fn the_right_code_gets_through_after_wrong_ones() {
    let host = default_host().await;
    let (addr, from) = (host.local_addr(), Ipv4Addr::new(127, 0, 0, 2));
    let info = get(addr, "/api/info").await.json();
    assert_eq!(info["roomCodeWaitMs"], 15_000, "the page learns how long a try may wait: {info}");
    for n in 0..5 {
        let wrong = request(addr, from, "GET", "/api/join?code=WRONG", &[]).await;
        assert_eq!((wrong.status, wrong.json()["error"].as_str()), (403, Some("wrong_code")), "wrong try {n}");
    }
    let right = request(addr, from, "GET", "/api/join?code=abcde", &[]).await;
    assert_eq!(
        (right.status, right.json()["joinKey"].as_str()),
        (200, host.join_key().as_deref()),
        "the right code after five wrong ones: {:?}",
        right.text()
    );
    host.shutdown(None).await;
}

/// The facade's join (`partyline join`, the desktop's Browse tab) waits for its turn like the
/// phone page: after five wrong codes from the same address, the right one still resolves.
#[tokio::test]
async fn the_facade_join_waits_its_turn() {
    let host = default_host().await;
    let addr = host.local_addr();
    for _ in 0..5 {
        let wrong = request(addr, Ipv4Addr::LOCALHOST, "GET", "/api/join?code=WRONG", &[]).await;
        assert_eq!(wrong.status, 403);
    }
    let target = partyline_host::join::resolve(&addr.to_string(), Some("abcde")).await;
    let target = target.unwrap_or_else(|err| panic!("the right code after five wrong ones: {err:?}"));
    assert!(target.ws_url.ends_with(&format!("?token={}", host.join_key().unwrap())), "{}", target.ws_url);
    host.shutdown(None).await;
}

/// Twenty addresses trying five wrong codes each, all at once: the party's budget holds (most
/// tries are refused with when to retry, not all 100 checked), and afterwards a guest with the
/// right code from a new address still gets the key.
#[tokio::test]
async fn many_addresses_share_the_party_budget() {
    let host = default_host().await;
    let addr = host.local_addr();
    let mut tries = tokio::task::JoinSet::new();
    for a in 0..20u8 {
        for _ in 0..5 {
            let from = Ipv4Addr::new(127, 0, 0, 10 + a);
            tries.spawn(async move { request(addr, from, "GET", "/api/join?code=WRONG", &[]).await });
        }
    }
    let (mut checked, mut refused) = (0, 0);
    while let Some(answer) = tries.join_next().await {
        let answer = answer.unwrap();
        match answer.status {
            403 => checked += 1,
            429 => {
                refused += 1;
                let retry_ms = answer.json()["retryAfterMs"].as_u64().unwrap_or(0);
                let retry_s: u64 = answer.header("retry-after").and_then(|s| s.parse().ok()).unwrap_or(0);
                assert!(retry_ms > 0 && retry_s * 1000 >= retry_ms, "a 429 says when: {retry_s} s, {retry_ms} ms");
            }
            other => panic!("expected 403 or 429, got {other}: {:?}", answer.text()),
        }
    }
    assert_eq!(checked + refused, 100);
    assert!(
        refused >= 50,
        "expected most of 100 tries refused by the party budget, got {checked} checked, {refused} refused"
    );

    let late = request(addr, Ipv4Addr::new(127, 0, 0, 50), "GET", "/api/join?code=ABCDE", &[]).await;
    assert_eq!((late.status, late.json()["joinKey"].as_str()), (200, host.join_key().as_deref()), "{:?}", late.text());
    host.shutdown(None).await;
}

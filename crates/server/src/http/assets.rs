//! The phone client, embedded in the binary: a party needs no internet and no build step. The
//! table is written by `build.rs` from the files under `ui/phone/` (served at `/<name>`, the
//! page itself at `/`) and `ui/shared/` (at `/shared/<name>`).
//!
//! Caching: the page names every other file at a versioned URL (`/<name>?v=<version>`, through
//! its import map and its attributes), and a versioned URL is served `immutable`: a reload
//! revalidates the page alone (a 304) and takes the rest from the cache. The same file at its
//! plain URL, or at another version's, is `no-cache` with an ETag, as the page is.

use axum::Router;
use axum::http::{HeaderMap, HeaderName, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One embedded file.
pub(crate) struct Asset {
    /// Where it is served.
    pub(crate) route: &'static str,
    pub(crate) content_type: &'static str,
    /// What is served (the page with its import map written in).
    pub(crate) body: &'static str,
    /// The body gzipped (at build time).
    pub(crate) gzip: &'static [u8],
    /// Its ETag, quoted: the version.
    pub(crate) etag: &'static str,
    /// The body's SHA-256, shortened: `?v=` of its URL in the page.
    pub(crate) version: &'static str,
    /// The SHA-256 of the file as written, shortened, sent as `x-partyline-source`: a test can
    /// tell that a binary serves the files on disk (the body is not always them byte for byte).
    pub(crate) source_digest: &'static str,
    /// The file as written (the tests read its imports).
    #[cfg(test)]
    pub(crate) source: &'static str,
}

/// Every file the page loads.
pub(crate) const ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The header that names the source a file was built from.
const SOURCE: HeaderName = HeaderName::from_static("x-partyline-source");

/// A year: "forever" as caches read it (RFC 9111 advises no more).
const IMMUTABLE: &str = "max-age=31536000, immutable";

/// A route for each asset: at its version's URL `immutable`, else `Cache-Control: no-cache` and
/// an ETag (a phone revalidates the page on every load: one that cached last party's page would
/// run its modules against this host), and a file it has is a 304 with no body. Gzipped for a
/// browser that takes it. And `/favicon.ico`, the page's icon, for the browsers that ask for it
/// whatever the page says.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    // The page itself is [`page`]'s, with the party's facts written in (`http.rs` routes it).
    let router = ASSETS.iter().filter(|asset| asset.route != "/").fold(Router::new(), |router, asset| {
        router
            .route(asset.route, get(move |uri: Uri, headers: HeaderMap| async move { asset.response(&uri, &headers) }))
    });
    match ASSETS.iter().find(|asset| asset.route == "/icon.svg") {
        Some(icon) => router.route(
            "/favicon.ico",
            get(move |uri: Uri, headers: HeaderMap| async move { icon.response(&uri, &headers) }),
        ),
        None => router,
    }
}

impl Asset {
    fn response(&self, uri: &Uri, request: &HeaderMap) -> Response {
        let cached = matches_etag(request, self.etag);
        let versioned =
            uri.query().is_some_and(|query| query.split('&').any(|pair| pair.strip_prefix("v=") == Some(self.version)));
        let cache = if versioned { IMMUTABLE } else { "no-cache" };
        let validators = [(header::CACHE_CONTROL, cache), (header::ETAG, self.etag), (header::VARY, "Accept-Encoding")];
        if cached {
            return (StatusCode::NOT_MODIFIED, validators).into_response();
        }
        let common = (validators, [(SOURCE, self.source_digest)]);
        if accepts_gzip(request) {
            let headers = [(header::CONTENT_TYPE, self.content_type), (header::CONTENT_ENCODING, "gzip")];
            return (common, headers, self.gzip).into_response();
        }
        (common, [(header::CONTENT_TYPE, self.content_type)], self.body).into_response()
    }
}

/// Where the host writes the party's facts into the page (`ui/phone/index.html`).
const FACTS_MARKER: &str = "<!-- host: party facts -->";

/// The page with a party's facts written in: its text, gzipped, and its ETag.
struct Rendered {
    body: String,
    gzip: Vec<u8>,
    etag: String,
}

/// The last page rendered, by the facts it carries: the facts change when the host renames,
/// locks or reopens the party, not at every request, so a join storm renders it once.
static RENDERED: std::sync::Mutex<Option<(String, std::sync::Arc<Rendered>)>> = std::sync::Mutex::new(None);

/// The page (`/`) with `facts` (JSON: the stable part of `/api/info`) written in as a
/// `<script type="application/json" id="party-facts">`, read by `boot.js`, so the join screen
/// needs no request of its own. `no-cache` with an ETag over what is sent: a reload is a 304
/// until the facts or the page change. Gzipped for a browser that takes it.
pub(crate) fn page(facts: &str, request: &HeaderMap) -> Response {
    let rendered = {
        let mut last = RENDERED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*last {
            Some((key, rendered)) if key == facts => rendered.clone(),
            _ => {
                let rendered = std::sync::Arc::new(render(facts));
                *last = Some((facts.to_owned(), rendered.clone()));
                rendered
            }
        }
    };
    let template = ASSETS.iter().find(|asset| asset.route == "/").expect("the page is in the table");
    let validators = [
        (header::CACHE_CONTROL, "no-cache"),
        (header::ETAG, rendered.etag.as_str()),
        (header::VARY, "Accept-Encoding"),
    ];
    if matches_etag(request, &rendered.etag) {
        // Only the validators: the browser keeps the rest of the 200's headers (see `security_headers`).
        return (StatusCode::NOT_MODIFIED, validators).into_response();
    }
    let common = (validators, [(SOURCE, template.source_digest)]);
    if accepts_gzip(request) {
        let headers = [(header::CONTENT_TYPE, template.content_type), (header::CONTENT_ENCODING, "gzip")];
        return (common, headers, rendered.gzip.clone()).into_response();
    }
    (common, [(header::CONTENT_TYPE, template.content_type)], rendered.body.clone()).into_response()
}

fn render(facts: &str) -> Rendered {
    use sha2::Digest as _;
    use std::io::Write as _;
    let template = ASSETS.iter().find(|asset| asset.route == "/").expect("the page is in the table").body;
    // `<` escaped: a party named "</script>" stays inside the element.
    let facts = facts.replace('<', "\\u003c");
    let element = format!("<script type=\"application/json\" id=\"party-facts\">{facts}</script>");
    let body = template.replacen(FACTS_MARKER, &element, 1);
    let digest = sha2::Sha256::digest(body.as_bytes());
    let etag = format!("\"{}\"", digest[..8].iter().map(|byte| format!("{byte:02x}")).collect::<String>());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(body.as_bytes()).expect("gzip into memory");
    Rendered { body, gzip: gz.finish().expect("gzip into memory"), etag }
}

/// Whether `If-None-Match` names `etag` (or `*`).
fn matches_etag(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| {
            let tag = tag.trim().trim_start_matches("W/");
            tag == etag || tag == "*"
        })
}

/// Whether `Accept-Encoding` takes gzip (and does not refuse it with `q=0`).
fn accepts_gzip(request: &HeaderMap) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| p.replace(' ', "") == "q=0" || p.replace(' ', "") == "q=0.0");
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    //! The page is whole: every module it imports and every file `index.html` loads is in the
    //! table, under the URL the browser resolves it to, so that a split into more modules cannot
    //! leave one unserved; the import map names every module at its version, the page preloads
    //! exactly what its scripts import, and a versioned URL is cached for good.

    use super::super::imports::{dynamic_imports, page_references, resolve, static_graph, static_imports};
    use super::{ASSETS, Asset};
    use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};

    fn find(route: &str) -> &'static Asset {
        ASSETS.iter().find(|a| a.route == route).unwrap_or_else(|| panic!("expected {route} served"))
    }

    /// `url` without its `?v=`, and the version it names.
    fn split_version(url: &str) -> (&str, Option<&str>) {
        match url.split_once("?v=") {
            Some((route, version)) => (route, Some(version)),
            None => (url, None),
        }
    }

    /// The import map the served page carries, as (module, URL) pairs.
    fn import_map() -> (String, Vec<(String, String)>) {
        let page = find("/").body;
        let open = "<script type=\"importmap\">";
        let start = page.find(open).expect("an import map in the page") + open.len();
        let text = &page[start..start + page[start..].find("</script>").expect("a closed script")];
        let map: serde_json::Value = serde_json::from_str(text).expect("the import map is JSON");
        let pairs = map["imports"]
            .as_object()
            .expect("an imports object")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("a URL").to_owned()))
            .collect();
        (text.to_owned(), pairs)
    }

    /// Every module each module imports (at once or later) and every file the page loads is
    /// served; what the page loads, at the version served.
    #[test]
    fn every_import_is_in_the_table() {
        let routes: Vec<&str> = ASSETS.iter().map(|a| a.route).collect();
        let mut missing = Vec::new();
        let mut seen = 0;
        for asset in ASSETS.iter().filter(|a| a.route.ends_with(".js")) {
            for spec in static_imports(asset.source).into_iter().chain(dynamic_imports(asset.source)) {
                seen += 1;
                let url = resolve(asset.route, &spec);
                if !routes.contains(&url.as_str()) {
                    missing.push(format!("{} imports {spec} ({url})", asset.route));
                }
            }
        }
        for url in page_references(find("/").body) {
            seen += 1;
            let (route, version) = split_version(&url);
            match ASSETS.iter().find(|a| a.route == route) {
                Some(asset) => {
                    assert_eq!(version, Some(asset.version), "expected the page to load {route} at its version")
                }
                None => missing.push(format!("the page loads {url}")),
            }
        }
        assert!(missing.is_empty(), "expected every import served, missing: {missing:?}; served: {routes:?}");
        assert!(seen >= 3, "expected the page to load its style, its script and modules, found {seen} references");
    }

    /// The table holds the page at `/`, its script and the shared client, with their types, and
    /// no Node test file.
    #[test]
    fn the_table_holds_the_page_and_no_tests() {
        let page = find("/");
        assert_eq!(page.content_type, "text/html; charset=utf-8", "expected / to be HTML");
        let client = find("/shared/client.js");
        assert_eq!(client.content_type, "text/javascript; charset=utf-8", "expected a JS module type");
        for inlined in ["/style.css", "/boot.js"] {
            assert!(ASSETS.iter().all(|a| a.route != inlined), "{inlined} is written into the page, not served");
        }
        let tests: Vec<&str> = ASSETS.iter().map(|a| a.route).filter(|r| r.ends_with(".mjs")).collect();
        assert!(tests.is_empty(), "expected no .mjs (Node tests, fakes) served, got {tests:?}");
    }

    /// The import map sends every module, and only modules, to its version's URL; the page's
    /// CSP allows that script by its hash.
    #[test]
    fn the_import_map_names_every_module_at_its_version() {
        let (text, mut pairs) = import_map();
        pairs.sort();
        let mut expected: Vec<(String, String)> = ASSETS
            .iter()
            .filter(|a| a.route.ends_with(".js"))
            .map(|a| (a.route.to_owned(), format!("{}?v={}", a.route, a.version)))
            .collect();
        expected.sort();
        assert_eq!(pairs, expected, "expected the import map to name every module at its version");
        use base64::Engine as _;
        use sha2::Digest as _;
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text.as_bytes()));
        assert!(
            super::super::PAGE_CSP
                .split("script-src ")
                .nth(1)
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .contains(&format!("'sha256-{hash}'")),
            "expected the CSP to allow the import map ('sha256-{hash}'), got {}",
            super::super::PAGE_CSP
        );
    }

    /// The page preloads every module, those its scripts import (directly or not) first: the
    /// browser fetches them all at once (a request chain two deep) instead of one import level
    /// per round trip, and the party's modules without waiting for `connection.js` to ask; each
    /// at the URL the import map gives it, each once.
    #[test]
    fn the_page_preloads_every_module_its_imports_first() {
        let page = find("/");
        let entries: Vec<String> = page_references(page.source)
            .into_iter()
            .filter(|r| r.ends_with(".js") && ASSETS.iter().any(|a| a.route == r))
            .collect();
        assert!(!entries.is_empty(), "expected a module script in the page");
        let entries: Vec<&str> = entries.iter().map(String::as_str).collect();
        let graph = static_graph(&entries, |route| ASSETS.iter().find(|a| a.route == route).map(|a| a.source));
        let url = |r: &str| format!("{r}?v={}", find(r).version);
        let first: Vec<String> = graph.iter().filter(|r| !entries.contains(&r.as_str())).map(|r| url(r)).collect();
        let preloaded: Vec<String> = page
            .body
            .split("<link rel=\"modulepreload\" href=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap_or("").to_owned())
            .collect();
        assert_eq!(preloaded[..first.len()], first[..], "expected the scripts' imports preloaded first");
        let mut all: Vec<String> = ASSETS
            .iter()
            .filter(|a| a.route.ends_with(".js") && !entries.contains(&a.route))
            .map(|a| url(a.route))
            .collect();
        all.sort();
        let mut got = preloaded.clone();
        got.sort();
        assert_eq!(got, all, "expected every other module preloaded, once");
    }

    /// A file the phone has is a 304 (its ETag); a browser that takes gzip gets the gzipped
    /// bytes, which are the file; one that does not, the file as it is. At its version's URL a
    /// file is `immutable`; at its plain URL or another version's, `no-cache`.
    #[test]
    fn etags_gzip_and_versions() {
        let asset = find("/shared/client.js");
        let plain_uri: Uri = "/shared/client.js".parse().unwrap();
        let mut headers = HeaderMap::new();
        let plain = asset.response(&plain_uri, &headers);
        assert_eq!(plain.status(), StatusCode::OK);
        assert_eq!(plain.headers()[header::ETAG], asset.etag);
        assert_eq!(plain.headers()[header::CACHE_CONTROL], "no-cache", "the plain URL is revalidated");
        assert_eq!(plain.headers()["x-partyline-source"], asset.source_digest);
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none(), "no gzip unasked");
        let versioned: Uri = format!("/shared/client.js?v={}", asset.version).parse().unwrap();
        let kept = asset.response(&versioned, &headers);
        assert_eq!(kept.headers()[header::CACHE_CONTROL], "max-age=31536000, immutable", "the versioned URL is kept");
        let other: Uri = "/shared/client.js?v=0123456789abcdef".parse().unwrap();
        assert_eq!(asset.response(&other, &headers).headers()[header::CACHE_CONTROL], "no-cache", "another version");
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip, deflate, br"));
        let gz = asset.response(&plain_uri, &headers);
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(asset.gzip), &mut text).unwrap();
        assert_eq!(text, asset.body, "the gzipped bytes are the file");
        assert!(
            asset.gzip.len() * 2 < asset.body.len(),
            "gzip at least halves the client ({} of {})",
            asset.gzip.len(),
            asset.body.len()
        );
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(asset.etag).unwrap());
        assert_eq!(asset.response(&plain_uri, &headers).status(), StatusCode::NOT_MODIFIED);
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert_eq!(asset.response(&plain_uri, &headers).status(), StatusCode::OK, "another version is sent whole");
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0"));
        assert!(asset.response(&plain_uri, &headers).headers().get(header::CONTENT_ENCODING).is_none(), "gzip refused");
    }

    /// What a phone downloads, each file gzipped as served: 52 KB for the whole page (78 KB
    /// before the modules were minified), 17 KB for what the join screen waits for (the page,
    /// its style and the modules of its scripts' static graph; 16 KB until `boot.js` learnt the
    /// reload's resume over HTTP, which took it 35 bytes past). A new library or a large module
    /// has to raise it here, on purpose.
    #[test]
    fn the_page_is_within_its_budget() {
        const PAGE_BUDGET: usize = 52 * 1024;
        const JOIN_SCREEN_BUDGET: usize = 17 * 1024;
        let all: usize = ASSETS.iter().map(|a| a.gzip.len()).sum();
        let page = find("/");
        // The module scripts (boot.js is in the page).
        let entries: Vec<String> = page_references(page.source)
            .into_iter()
            .filter(|r| r.ends_with(".js") && ASSETS.iter().any(|a| a.route == r))
            .collect();
        let entries: Vec<&str> = entries.iter().map(String::as_str).collect();
        let graph = static_graph(&entries, |route| ASSETS.iter().find(|a| a.route == route).map(|a| a.source));
        let join: usize = page.gzip.len() + graph.iter().map(|r| find(r).gzip.len()).sum::<usize>();
        assert!(all <= PAGE_BUDGET, "expected the page within {PAGE_BUDGET} bytes gzipped, got {all}");
        assert!(
            join <= JOIN_SCREEN_BUDGET,
            "expected the join screen within {JOIN_SCREEN_BUDGET} bytes gzipped, got {join}"
        );
    }

    /// The page carries its style and `boot.js` inline, each allowed by the CSP's hash of it
    /// and nothing else inline is; the party's facts are written where the page marks them, a
    /// `<` in them escaped; the ETag is over what is sent, so a phone holding the page gets a
    /// 304 until the facts change, and then the new page.
    #[tokio::test]
    async fn the_page_carries_its_style_its_boot_script_and_the_facts() {
        use super::super::PAGE_CSP;
        use base64::Engine as _;
        use sha2::Digest as _;
        let hash = |text: &str| {
            format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text.as_bytes()))
            )
        };
        let body = find("/").body;
        let inner = |open: &str, close: &str| {
            let start = body.find(open).unwrap_or_else(|| panic!("expected {open} in the page")) + open.len();
            &body[start..start + body[start..].find(close).expect("closed")]
        };
        let style = inner("<style>", "</style>");
        assert!(style.contains(".screen"), "expected the page's style inline");
        let style_src = PAGE_CSP.split("style-src ").nth(1).unwrap().split(';').next().unwrap();
        assert_eq!(style_src, format!("'self' {}", hash(style)), "the CSP allows that style alone");
        let boot = inner("<script>", "</script>");
        assert!(boot.contains("partylineBoot") && boot.len() > 1000, "expected boot.js inline, first");
        let script_src = PAGE_CSP.split("script-src ").nth(1).unwrap().split(';').next().unwrap();
        let (map, _) = import_map();
        let draw = "partylineBoot.draw()";
        assert!(body.contains(&format!("<script>{draw}</script>")), "expected the join screen's draw after it");
        assert_eq!(
            script_src,
            format!("'self' {} {} {}", hash(boot), hash(&map), hash(draw)),
            "boot.js, the import map and the draw alone, in page order"
        );
        assert!(!body.contains("/style.css") && !body.contains("/boot.js"), "no link to what is inline");

        let facts = r#"{"name":"</script><b>","sessionId":"p1"}"#;
        let mut headers = HeaderMap::new();
        let first = super::page(facts, &headers);
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()[header::CACHE_CONTROL], "no-cache");
        let etag = first.headers()[header::ETAG].clone();
        let text = body_text(first).await;
        let element = r#"<script type="application/json" id="party-facts">{"name":"\u003c/script>\u003cb>","sessionId":"p1"}</script>"#;
        assert!(text.contains(element), "expected the facts, escaped, in the page: {}", &text[text.len() - 400..]);
        assert!(!text.contains("<!-- host: party facts -->"), "the marker is replaced");
        headers.insert(header::IF_NONE_MATCH, etag.clone());
        assert_eq!(super::page(facts, &headers).status(), StatusCode::NOT_MODIFIED, "the same facts: a 304");
        let renamed = super::page(r#"{"name":"Rooftop","sessionId":"p1"}"#, &headers);
        assert_eq!(renamed.status(), StatusCode::OK, "other facts: the page again");
        assert_ne!(renamed.headers()[header::ETAG], etag, "under another ETag");
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        headers.remove(header::IF_NONE_MATCH);
        let gz = super::page(facts, &headers);
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
    }

    /// A response's body as text (gunzipped when it is gzip).
    async fn body_text(response: axum::response::Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// The import readers and the resolver read what the page writes.
    #[test]
    fn imports_are_read_and_resolved_like_a_browser() {
        let module = "import { a } from './a.js';\nimport {\n  b,\n} from '../shared/b.js';\nconst x = 'import';\n\
                      const later = () => import('./c.js');\n";
        assert_eq!(static_imports(module), ["./a.js", "../shared/b.js"], "expected both static imports");
        assert_eq!(dynamic_imports(module), ["./c.js"], "expected the dynamic import");
        assert_eq!(resolve("/app.js", "../shared/b.js"), "/shared/b.js", "expected .. to stop at the root");
        assert_eq!(resolve("/shared/client.js", "./wire.js"), "/shared/wire.js", "expected a sibling");
        assert_eq!(
            page_references(r#"<link href="/style.css"><script src="/app.js">"#),
            ["/style.css", "/app.js"],
            "page refs, in order"
        );
    }
}

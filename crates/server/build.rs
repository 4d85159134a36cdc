//! Embeds the phone page: every file under `ui/phone/` and `ui/shared/` that a browser loads
//! becomes one entry of the asset table (`http/assets.rs`), so that a new module is served the
//! moment it exists, with no list to keep in step. `.mjs` files are Node's (unit tests and their
//! fakes) and are left out.
//!
//! Each file is gzipped here, once (a phone on a slow Wi-Fi downloads a third of the bytes, and
//! the host compresses nothing per request), and given a version: the first 8 bytes of the
//! SHA-256 of what is served, in hex, also its ETag. The page (`index.html`) is written with
//! what makes a reload cheap (docs/architecture.md, "The phone page's caching"):
//! - an import map sending every module to `/<name>?v=<version>`, a URL the host serves
//!   `immutable` (a phone keeps it until the page names another version), and its
//!   `src`/`href` attributes that name a served file versioned the same way: a reload asks for
//!   the page alone (a 304) and takes every other file from the cache;
//! - a `modulepreload` for every module, those its scripts import (directly or not) first, so
//!   the browser fetches them all at once (a request chain two deep), not one import level per
//!   round trip, nor the party's modules only once `connection.js` has run.
//!
//! The modules are minified with oxc's minifier and code generator (comments, whitespace, local
//! names: a third of the bytes gzipped), unless `PARTYLINE_UI_SOURCES=1` is set for the build
//! (then served as written, for reading them in a browser's debugger).
//!
//! They go where the comments `<!-- build.rs: import map -->` and `<!-- build.rs: preloads -->`
//! are (the map before any module script, as browsers require).
//!
//! Two files are written into the page rather than linked from it, so that the join screen
//! waits for no request but the page (docs/performance.md, "The phone page on a slow Wi-Fi"):
//! the style (`<link rel="stylesheet" href="/style.css">` becomes a `<style>`), and `boot.js`
//! (`<script src="/boot.js"></script>`, a classic script that draws the join screen and opens a
//! reload's socket before any module has arrived). They are not served as files. The page's
//! inline scripts (the import map, `boot.js`, the line after the join screen that calls it) and
//! its style are allowed by their SHA-256s in its Content-Security-Policy
//! (`OUT_DIR/page_script_hashes.txt`, `OUT_DIR/page_style_hashes.txt`), and nothing else inline is.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

#[path = "src/http/imports.rs"]
#[allow(dead_code)] // the tests' helpers
mod imports;

/// The folders served, and the URL prefix of each: the page lives at `/`, the modules it shares
/// with the desktop page at `/shared/` (so `../shared/x.js` resolves the same from `ui/phone/`
/// on disk and from `/` in the browser).
const FOLDERS: [(&str, &str); 2] = [("ui/phone", "/"), ("ui/shared", "/shared/")];

/// The engines the minified modules must run in: the first of each with import maps.
const TARGETS: &str = "chrome89,safari16.4,firefox108";

/// Where in `index.html` the import map goes, and where the preloads.
const MAP_MARKER: &str = "<!-- build.rs: import map -->";
const PRELOAD_MARKER: &str = "<!-- build.rs: preloads -->";

/// What is written into the page in place of a link to it: (the link as `index.html` has it,
/// the file's route, the element it becomes).
const INLINED: [(&str, &str, &str); 2] = [
    ("<link rel=\"stylesheet\" href=\"/style.css\">", "/style.css", "style"),
    ("<script src=\"/boot.js\"></script>", "/boot.js", "script"),
];

fn content_type(path: &Path) -> Option<&'static str> {
    Some(match path.extension()?.to_str()? {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

/// One file to serve.
struct File {
    route: String,
    content_type: &'static str,
    /// The file as written.
    source: String,
    /// What is served (the page with its import map written in).
    served: String,
}

/// The first 8 bytes of `text`'s SHA-256, in hex.
fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())[..8].iter().map(|byte| format!("{byte:02x}")).collect()
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("../..");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-env-changed=PARTYLINE_UI_SOURCES");
    let minify = std::env::var("PARTYLINE_UI_SOURCES").map_or(true, |v| v.is_empty() || v == "0");
    let mut files = Vec::new();
    for (folder, prefix) in FOLDERS {
        let dir = root.join(folder);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|err| panic!("read {}: {err}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| path.is_file())
            .collect();
        paths.sort();
        for path in paths {
            let Some(content_type) = content_type(&path) else { continue };
            let name = path.file_name().and_then(|n| n.to_str()).expect("a UTF-8 file name");
            let route = if prefix == "/" && name == "index.html" { "/".to_owned() } else { format!("{prefix}{name}") };
            let source = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
            let served = if minify && name.ends_with(".js") {
                minify_js(&source, &path, name == "boot.js")
            } else {
                source.clone()
            };
            files.push(File { route, content_type, served, source });
        }
    }

    // Inlined first, and then no longer files: the page's other links are versioned after
    // (nothing inlined has a `src="` or `href="` of its own).
    let page = files.iter().position(|f| f.route == "/").expect("ui/phone/index.html");
    let html = inline(files[page].source.clone(), &files);
    // The page's `x-partyline-source` covers what is written into it: index.html, then each
    // inlined file as written, in [`INLINED`]'s order (the browser tests' harness checks it).
    let page_sources: String = std::iter::once(files[page].source.as_str())
        .chain(
            INLINED
                .iter()
                .map(|(_, route, _)| files.iter().find(|f| f.route == *route).expect("inlined").source.as_str()),
        )
        .collect();
    files.retain(|file| !INLINED.iter().any(|(_, route, _)| file.route == *route));
    let versions: BTreeMap<String, String> =
        files.iter().filter(|f| f.route != "/").map(|f| (f.route.clone(), short_hash(&f.served))).collect();
    let page = files.iter().position(|f| f.route == "/").expect("ui/phone/index.html");
    let served = write_page(&html, &files, &versions);
    let (script_hashes, style_hashes) = inline_hashes(&served);
    files[page].served = served;
    for (name, hashes) in [("page_script_hashes.txt", script_hashes), ("page_style_hashes.txt", style_hashes)] {
        let csp = out_dir.join(name);
        std::fs::write(&csp, hashes.join(" ")).unwrap_or_else(|err| panic!("write {}: {err}", csp.display()));
    }

    let mut table = String::from("&[\n");
    for file in &files {
        let stem = if file.route == "/" {
            "index.html".to_owned()
        } else {
            file.route.trim_start_matches('/').replace('/', "_")
        };
        let served_path = out_dir.join(format!("served_{stem}"));
        std::fs::write(&served_path, &file.served)
            .unwrap_or_else(|err| panic!("write {}: {err}", served_path.display()));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(file.served.as_bytes()).expect("gzip into memory");
        let gzipped = out_dir.join(format!("{stem}.gz"));
        std::fs::write(&gzipped, gz.finish().expect("gzip into memory"))
            .unwrap_or_else(|err| panic!("write {}: {err}", gzipped.display()));
        let version = short_hash(&file.served);
        let source_digest = short_hash(if file.route == "/" { &page_sources } else { &file.source });
        writeln!(
            table,
            "    Asset {{ route: {route:?}, content_type: {content_type:?}, body: include_str!({served_path:?}), \
             gzip: include_bytes!({gzipped:?}), etag: \"\\\"{version}\\\"\", version: {version:?}, \
             source_digest: {source_digest:?}, #[cfg(test)] source: {source:?} }},",
            route = file.route,
            content_type = file.content_type,
            source = file.source,
        )
        .expect("writing to a String");
    }
    table.push_str("]\n");
    let out = out_dir.join("assets.rs");
    std::fs::write(&out, table).unwrap_or_else(|err| panic!("write {}: {err}", out.display()));
}

/// The CSP source that allows an inline element of this text (`'sha256-…'`).
fn csp_hash(text: &str) -> String {
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes())))
}

/// The CSP sources that allow the page's inline scripts (the import map, `boot.js`, the line
/// that calls it; not a data block such as the facts) and its inline styles, in page order.
fn inline_hashes(page: &str) -> (Vec<String>, Vec<String>) {
    let mut scripts = Vec::new();
    let mut styles = Vec::new();
    for (element, hashes) in [("script", &mut scripts), ("style", &mut styles)] {
        let (open, close) = (format!("<{element}"), format!("</{element}>"));
        let mut rest = page;
        while let Some(at) = rest.find(&open) {
            let tag_end = at + rest[at..].find('>').expect("a closed tag") + 1;
            let tag = &rest[at..tag_end];
            let end = tag_end + rest[tag_end..].find(&close).expect("a closed element");
            if !tag.contains("src=") && !tag.contains("application/json") {
                hashes.push(csp_hash(&rest[tag_end..end]));
            }
            rest = &rest[end + close.len()..];
        }
    }
    (scripts, styles)
}

/// `page` with each of [`INLINED`]'s links replaced by its file's text in a `<style>` or a
/// `<script>`. A link the page lacks is a build error.
fn inline(page: String, files: &[File]) -> String {
    let mut page = page;
    for (link, route, element) in INLINED {
        let text =
            &files.iter().find(|f| f.route == route).unwrap_or_else(|| panic!("{route} is inlined but missing")).served;
        assert!(!text.contains(&format!("</{element}")), "{route} must not contain </{element}");
        assert!(
            !text.contains("src=\"") && !text.contains("href=\""),
            "{route}: no src=\" or href=\" (the page's are versioned)"
        );
        assert!(page.contains(link), "ui/phone/index.html: expected {link} (it is written into the page)");
        page = page.replacen(link, &format!("<{element}>{text}</{element}>"), 1);
    }
    page
}

/// The page as served: its `src`/`href` attributes that name a served file versioned, and the
/// import map and preloads in place of [`MAP_MARKER`] and [`PRELOAD_MARKER`].
fn write_page(html: &str, files: &[File], versions: &BTreeMap<String, String>) -> String {
    for marker in [MAP_MARKER, PRELOAD_MARKER] {
        assert!(html.contains(marker), "ui/phone/index.html: expected the comment {marker}");
    }
    let versioned = |route: &str| versions.get(route).map(|v| format!("{route}?v={v}"));
    let mut spans: Vec<(usize, usize)> = ["src=\"", "href=\""]
        .iter()
        .flat_map(|attr| html.match_indices(attr).map(|(at, _)| at + attr.len()))
        .map(|start| (start, start + html[start..].find('"').expect("a closed attribute")))
        .collect();
    spans.sort();
    let mut page = String::with_capacity(html.len() + 4096);
    let mut last = 0;
    for (start, end) in spans {
        page.push_str(&html[last..start]);
        let target = &html[start..end];
        page.push_str(&versioned(target).unwrap_or_else(|| target.to_owned()));
        last = end;
    }
    page.push_str(&html[last..]);

    let imports: BTreeMap<&str, String> = versions
        .keys()
        .filter(|route| route.ends_with(".js"))
        .map(|route| (route.as_str(), versioned(route).expect("a version")))
        .collect();
    let map = serde_json::json!({ "imports": imports }).to_string();
    let entries: Vec<String> = imports::page_references(html).into_iter().filter(|r| r.ends_with(".js")).collect();
    let entries: Vec<&str> = entries.iter().map(String::as_str).collect();
    let text_of = |route: &str| files.iter().find(|f| f.route == route).map(|f| f.source.as_str());
    // The scripts' static imports first (what the page's module scripts run on), then every other
    // module: the join screen needs none of them (boot.js draws it), and the party's modules are
    // on their way while the guest types their name, not from when `connection.js` has run.
    let graph = imports::static_graph(&entries, text_of);
    let rest = imports.keys().filter(|route| !graph.iter().any(|g| g == *route)).map(|route| (*route).to_owned());
    let graph: Vec<String> = graph.iter().cloned().chain(rest).collect();
    let mut block = String::new();
    for route in graph.iter().filter(|r| !entries.contains(&r.as_str())) {
        let url = versioned(route).unwrap_or_else(|| panic!("{route} is imported but not served"));
        writeln!(block, "<link rel=\"modulepreload\" href=\"{url}\">").expect("writing to a String");
    }
    let page = page.replacen(MAP_MARKER, &format!("<script type=\"importmap\">{map}</script>"), 1);
    page.replacen(PRELOAD_MARKER, block.trim_end(), 1)
}

/// `source`, an ES module (or a classic `script`), minified: comments and whitespace out, local
/// names shortened, expressions folded. Exports and import specifiers stay as written (the
/// import map and the other modules name them).
fn minify_js(source: &str, path: &Path, script: bool) -> String {
    use oxc::allocator::Allocator;
    use oxc::codegen::{Codegen, CodegenOptions};
    use oxc::minifier::{CompressOptions, MangleOptions, Minifier, MinifierOptions};
    use oxc::parser::Parser;
    use oxc::span::SourceType;

    let allocator = Allocator::default();
    let kind = if script { SourceType::script() } else { SourceType::mjs() };
    let parsed = Parser::new(&allocator, source, kind).parse();
    assert!(parsed.diagnostics.is_empty(), "{}: {:?}", path.display(), parsed.diagnostics);
    let mut program = parsed.program;
    // The browsers that run the page at all (import maps: Chromium 89, Safari 16.4, Firefox
    // 108): no syntax newer than theirs is written.
    let target = oxc_compat::EngineTargets::from_target(TARGETS).expect("engine targets");
    let options = MinifierOptions {
        mangle: Some(MangleOptions::default()),
        mangle_properties: None,
        compress: Some(CompressOptions { target, ..CompressOptions::default() }),
    };
    let minified = Minifier::new(options).minify(&allocator, &mut program);
    Codegen::new().with_options(CodegenOptions::minify()).with_scoping(minified.scoping).build(&program).code
}

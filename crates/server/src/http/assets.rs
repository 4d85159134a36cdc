//! The phone client, embedded in the binary: a party needs no internet and no build step. The
//! table is written by `build.rs` from the files under `ui/phone/` (served at `/<name>`, the
//! page itself at `/`) and `ui/shared/` (at `/shared/<name>`).

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One embedded file.
pub(crate) struct Asset {
    /// Where it is served.
    pub(crate) route: &'static str,
    pub(crate) content_type: &'static str,
    pub(crate) body: &'static str,
}

/// Every file the page loads.
pub(crate) const ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// A route for each asset, with `Cache-Control: no-cache`: a phone that cached last party's
/// modules would run them against this host.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    ASSETS
        .iter()
        .fold(Router::new(), |router, asset| router.route(asset.route, get(move || async move { asset.response() })))
}

impl Asset {
    fn response(&self) -> Response {
        ([(header::CONTENT_TYPE, self.content_type), (header::CACHE_CONTROL, "no-cache")], self.body).into_response()
    }
}

#[cfg(test)]
mod tests {
    //! The page is whole: every module it imports and every file `index.html` loads is in the
    //! table, under the URL the browser resolves it to, so that a split into more modules cannot
    //! leave one unserved.

    use super::ASSETS;

    /// What `text` loads: `import ... from '...'` and `import '...'` lines of a module, or the
    /// `src` and `href` attributes of the page.
    fn references(route: &str, text: &str) -> Vec<String> {
        if route == "/" {
            return ["src=\"", "href=\""]
                .iter()
                .flat_map(|attr| text.split(attr).skip(1).map(|rest| rest.split('"').next().unwrap_or("").to_owned()))
                .collect();
        }
        let mut found = Vec::new();
        let mut in_import = false;
        for line in text.lines() {
            let line = line.trim();
            in_import |= line.starts_with("import ");
            if !in_import {
                continue;
            }
            if let Some(quote) = line.rfind(['\'', '"']) {
                let open = line[..quote].rfind(['\'', '"']).expect("a quoted module name");
                found.push(line[open + 1..quote].to_owned());
                in_import = false;
            }
        }
        found
    }

    /// `spec` as the browser resolves it against the module at `route`.
    fn resolve(route: &str, spec: &str) -> String {
        if spec.starts_with('/') {
            return spec.to_owned();
        }
        let mut parts: Vec<&str> = route.split('/').filter(|p| !p.is_empty()).collect();
        if !route.ends_with('/') {
            parts.pop(); // the module's own name
        }
        for part in spec.split('/') {
            match part {
                "." => {}
                ".." => {
                    parts.pop();
                }
                name => parts.push(name),
            }
        }
        format!("/{}", parts.join("/"))
    }

    /// Every module the page imports, from the page and from each module, is served.
    #[test]
    fn every_import_is_in_the_table() {
        let routes: Vec<&str> = ASSETS.iter().map(|a| a.route).collect();
        let mut missing = Vec::new();
        let mut seen = 0;
        for asset in ASSETS.iter().filter(|a| a.route == "/" || a.route.ends_with(".js")) {
            for spec in references(asset.route, asset.body) {
                seen += 1;
                let url = resolve(asset.route, &spec);
                if !routes.contains(&url.as_str()) {
                    missing.push(format!("{} loads {spec} ({url})", asset.route));
                }
            }
        }
        assert!(missing.is_empty(), "expected every import served, missing: {missing:?}; served: {routes:?}");
        assert!(seen >= 3, "expected the page to load its style, its script and modules, found {seen} references");
    }

    /// The table holds the page at `/`, its script and the shared client, with their types, and
    /// no Node test file.
    #[test]
    fn the_table_holds_the_page_and_no_tests() {
        let find = |route: &str| ASSETS.iter().find(|a| a.route == route);
        let page = find("/").expect("the page at /");
        assert_eq!(page.content_type, "text/html; charset=utf-8", "expected / to be HTML");
        let client = find("/shared/client.js").expect("the client at /shared/client.js");
        assert_eq!(client.content_type, "text/javascript; charset=utf-8", "expected a JS module type");
        let css = find("/style.css").expect("the style at /style.css");
        assert_eq!(css.content_type, "text/css; charset=utf-8", "expected CSS");
        let tests: Vec<&str> = ASSETS.iter().map(|a| a.route).filter(|r| r.ends_with(".mjs")).collect();
        assert!(tests.is_empty(), "expected no .mjs (Node tests, fakes) served, got {tests:?}");
    }

    /// The import reader and the resolver read what the page writes.
    #[test]
    fn imports_are_read_and_resolved_like_a_browser() {
        let module = "import { a } from './a.js';\nimport {\n  b,\n} from '../shared/b.js';\nconst x = 'import';\n";
        assert_eq!(references("/app.js", module), ["./a.js", "../shared/b.js"], "expected both imports");
        assert_eq!(resolve("/app.js", "../shared/b.js"), "/shared/b.js", "expected .. to stop at the root");
        assert_eq!(resolve("/shared/client.js", "./wire.js"), "/shared/wire.js", "expected a sibling");
        assert_eq!(
            references("/", r#"<link href="/style.css"><script src="/app.js">"#),
            ["/app.js", "/style.css"],
            "page refs"
        );
    }
}

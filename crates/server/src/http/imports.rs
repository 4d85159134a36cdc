//! How the phone page's files refer to each other, read from their sources as written: the
//! modules a module imports (`import ... from '...'`, `import '...'`, and `import('...')` loaded
//! later), the files the page's HTML loads, and a specifier resolved as a browser resolves it.
//! Shared by `build.rs` (the import map and the preloads it writes into the page) and the
//! asset table's tests (which check what it wrote), so the two read the graph one way.
//!
//! The sources keep one style (a static import starts its line; a dynamic one is
//! `import('./x.js')` with a literal), which is all these readers understand; the tests in
//! `assets.rs` fail on an import they cannot resolve to a served file.

/// The modules `text` imports statically, in order: `import ... from '...'` (over several
/// lines too) and `import '...'`. What a browser fetches before the module runs.
pub(crate) fn static_imports(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_import = false;
    for line in text.lines() {
        let line = line.trim();
        in_import |= line.starts_with("import ") || line.starts_with("import{");
        if !in_import {
            continue;
        }
        if let Some(quote) = line.rfind(['\'', '"']) {
            let Some(open) = line[..quote].rfind(['\'', '"']) else { continue };
            found.push(line[open + 1..quote].to_owned());
            in_import = false;
        }
    }
    found
}

/// The modules `text` loads later with `import('...')` (a literal specifier).
pub(crate) fn dynamic_imports(text: &str) -> Vec<String> {
    text.split("import(")
        .skip(1)
        .filter_map(|rest| {
            let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
            rest[1..].split(quote).next().map(str::to_owned)
        })
        .collect()
}

/// The `src` and `href` attributes of a page, in order.
pub(crate) fn page_references(html: &str) -> Vec<String> {
    let mut found: Vec<(usize, String)> = ["src=\"", "href=\""]
        .iter()
        .flat_map(|attr| {
            html.match_indices(attr).map(|(at, _)| {
                let rest = &html[at + attr.len()..];
                (at, rest.split('"').next().unwrap_or("").to_owned())
            })
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, r)| r).collect()
}

/// `spec` as the browser resolves it against the file at `route` (a path, `/` the page).
pub(crate) fn resolve(route: &str, spec: &str) -> String {
    if spec.starts_with('/') {
        return spec.to_owned();
    }
    let mut parts: Vec<&str> = route.split('/').filter(|p| !p.is_empty()).collect();
    if !route.ends_with('/') {
        parts.pop(); // the file's own name
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

/// Every module reached from `entries` through static imports, `text_of` giving a route's
/// source (None: not a served file, left out), sorted.
pub(crate) fn static_graph<'a>(
    entries: &[&str],
    text_of: impl Fn(&str) -> Option<&'a str>,
) -> std::collections::BTreeSet<String> {
    let mut graph: std::collections::BTreeSet<String> = entries.iter().map(|e| (*e).to_owned()).collect();
    let mut todo: Vec<String> = graph.iter().cloned().collect();
    while let Some(route) = todo.pop() {
        let Some(text) = text_of(&route) else { continue };
        for spec in static_imports(text) {
            let url = resolve(&route, &spec);
            if graph.insert(url.clone()) {
                todo.push(url);
            }
        }
    }
    graph
}

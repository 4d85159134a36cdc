//! Embeds the phone page: every file under `ui/phone/` and `ui/shared/` that a browser loads
//! becomes one entry of the asset table (`http/assets.rs`), so that a new module is served the
//! moment it exists, with no list to keep in step. `.mjs` files are Node's (unit tests and their
//! fakes) and are left out.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The folders served, and the URL prefix of each: the page lives at `/`, the modules it shares
/// with the desktop page at `/shared/` (so `../shared/x.js` resolves the same from `ui/phone/`
/// on disk and from `/` in the browser).
const FOLDERS: [(&str, &str); 2] = [("ui/phone", "/"), ("ui/shared", "/shared/")];

fn content_type(path: &Path) -> Option<&'static str> {
    Some(match path.extension()?.to_str()? {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("../..");
    let mut table = String::from("&[\n");
    for (folder, prefix) in FOLDERS {
        let dir = root.join(folder);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|err| panic!("read {}: {err}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        for path in files {
            let Some(content_type) = content_type(&path) else { continue };
            let name = path.file_name().and_then(|n| n.to_str()).expect("a UTF-8 file name");
            let route = if prefix == "/" && name == "index.html" { "/".to_owned() } else { format!("{prefix}{name}") };
            let absolute = path.canonicalize().expect("the file exists");
            writeln!(
                table,
                "    Asset {{ route: {route:?}, content_type: {content_type:?}, body: include_str!({absolute:?}) }},",
            )
            .expect("writing to a String");
        }
    }
    table.push_str("]\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("assets.rs");
    std::fs::write(&out, table).unwrap_or_else(|err| panic!("write {}: {err}", out.display()));
}

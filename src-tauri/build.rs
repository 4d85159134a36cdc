//! Tauri's build step: reads `tauri.conf.json`, checks the icons and capabilities.
fn main() {
    tauri_build::build()
}

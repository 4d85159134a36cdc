//! `partyline-desktop`: see the library.
// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

#[allow(unsafe_code)] // std::env::set_var, before any thread exists: see below.
fn main() {
    // No GPU device (a virtual machine, a container, Xvfb): WebKitGTK's DMABuf renderer then has
    // nothing to pace its frames, and the window stays blank or repaints late. Its documented
    // switch turns that renderer off. Set before any thread starts, as `set_var` requires.
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_none() && !std::path::Path::new("/dev/dri").exists() {
        // SAFETY: the process is still single-threaded here.
        unsafe { std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1") };
    }
    partyline_desktop::run()
}

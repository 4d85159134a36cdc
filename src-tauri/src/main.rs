//! `partyline-desktop`: see the library.
// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    partyline_desktop::run()
}

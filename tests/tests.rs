//! End-to-end tests across crates, compiled into one binary (ripgrep's layout). One module
//! an area.

mod server;
mod syncplay;

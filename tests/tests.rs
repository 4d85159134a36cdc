//! End-to-end tests across crates, compiled into one binary (ripgrep's layout). One module
//! an area.

mod hardening_port;
mod messaging;
mod server;
mod syncplay;

//! End-to-end tests across crates, compiled into one binary (ripgrep's layout). One module
//! an area.

mod formats;
mod hardening_http;
mod hardening_port;
mod hardening_session;
mod host_actions;
mod keys;
mod messaging;
mod restart;
mod revenge;
mod rt;
mod server;
mod syncplay;
mod uploads;

//! `partyline browse`: the parties advertised on the LAN, as they appear, change and vanish.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use partyline_host::browse::{BrowseEvent, Browser, SessionAd};
use serde_json::json;

use crate::terminal::safe;

#[derive(Args)]
pub struct BrowseArgs {
    /// One JSON object a line: {"event": "found"|"updated"|"lost", ...}.
    #[arg(long)]
    json: bool,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
}

/// How often the loop wakes to check the deadline when nothing arrives.
const TICK: Duration = Duration::from_millis(200);

pub fn run(args: BrowseArgs) -> anyhow::Result<()> {
    let browser = Browser::start().context("could not start browsing (is multicast available?)")?;
    let deadline = args.timeout.map(|secs| Instant::now() + Duration::from_secs_f64(secs.max(0.0)));
    let mut out = std::io::stdout().lock();
    if !args.json {
        writeln!(out, "Looking for parties on the LAN…")?;
    }
    loop {
        let wait = match deadline {
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) => left.min(TICK),
                None => return Ok(()),
            },
            None => TICK,
        };
        let Some(event) = browser.recv_timeout(wait) else { continue };
        if args.json {
            writeln!(out, "{}", to_json(&event))?;
        } else {
            match &event {
                BrowseEvent::Found(ad) => writeln!(out, "+ {}", safe(&describe(ad)))?,
                BrowseEvent::Updated(ad) => writeln!(out, "~ {}", safe(&describe(ad)))?,
                BrowseEvent::Lost { instance } => writeln!(out, "- {}", safe(instance))?,
            }
        }
        out.flush()?;
    }
}

/// One line for an advertised party. Every field comes from another host on the LAN: the caller
/// prints it through [`safe`].
fn describe(ad: &SessionAd) -> String {
    let addr = ad.addrs.first().map_or("?".to_string(), |a| a.to_string());
    let locked = if ad.txt.locked { ", locked" } else { "" };
    format!(
        "{} ({}/{} members{locked}) at http://{addr}:{}/  [session {}]",
        ad.txt.name, ad.txt.members, ad.txt.capacity, ad.port, ad.txt.id
    )
}

fn to_json(event: &BrowseEvent) -> serde_json::Value {
    let ad_json = |kind: &str, ad: &SessionAd| {
        json!({
            "event": kind, "instance": ad.instance, "host": ad.host, "port": ad.port,
            "addrs": ad.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "sessionId": ad.txt.id, "name": ad.txt.name, "members": ad.txt.members,
            "capacity": ad.txt.capacity, "locked": ad.txt.locked, "path": ad.txt.path,
        })
    };
    match event {
        BrowseEvent::Found(ad) => ad_json("found", ad),
        BrowseEvent::Updated(ad) => ad_json("updated", ad),
        BrowseEvent::Lost { instance } => json!({"event": "lost", "instance": instance}),
    }
}

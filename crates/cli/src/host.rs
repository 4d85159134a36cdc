//! `partyline host`.

use std::io::Write;
use std::net::IpAddr;

use anyhow::Context;

use crate::commands;
use crate::terminal::safe;
use clap::Args;
use partyline_host::{Host, HostConfig, HostEvent, Limits, UploadPolicy, next_event, try_next_event};

#[derive(Args)]
pub struct HostArgs {
    /// The party's name, shown to guests (a party picked up from its file keeps its own).
    #[arg(long, default_value = "Partyline")]
    name: String,
    /// Address to listen on (default: every interface).
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
    /// Port to listen on; 0 picks any free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Most guests at once (a party picked up from its file keeps its own).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    max_members: u32,
    /// No join key: anyone on the network may join (for clients that know no key).
    #[arg(long)]
    open: bool,
    /// Print the host's info as one JSON line on stdout, then each event as one (the shapes of
    /// `partyline_host::HostInfo` and `HostEvent`); human output goes to stderr.
    #[arg(long)]
    json: bool,
    /// Live WebSocket connections allowed from one address (raise it for load tests).
    #[arg(long, default_value_t = 32)]
    max_conns_per_addr: usize,
    /// The network interface guests use (e.g. wlan0); default: the one with the default route.
    #[arg(long, value_name = "NAME")]
    interface: Option<String>,
    /// Do not advertise the party over mDNS (phones still join by QR code or URL).
    #[arg(long)]
    no_mdns: bool,
    /// Also write the join QR code as a PNG image.
    #[arg(long, value_name = "FILE")]
    qr_png: Option<std::path::PathBuf>,
    /// Do not draw the QR code in the terminal.
    #[arg(long)]
    no_qr: bool,
    /// Share the music and video in this folder for synchronized playback.
    #[arg(long, value_name = "DIR")]
    media: Option<std::path::PathBuf>,
    /// Guests may not share songs or photos from their phones.
    #[arg(long)]
    no_uploads: bool,
    /// The largest song or photo a guest may share, in MiB.
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=4096))]
    upload_max_mb: u64,
    /// The most the host keeps of what guests share, in MiB (songs and photos together).
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    upload_total_mb: u64,
    /// The party's file: the party outlives the host (a crash, kill -9, a reboot) and the next
    /// start picks it up, with the same QR code. Default: party.db in the user's data directory
    /// (~/.local/share/partyline on Linux).
    #[arg(long, value_name = "PATH", conflicts_with = "no_store")]
    party_file: Option<std::path::PathBuf>,
    /// End the party in the file for good and start a new one (new QR code, new session).
    #[arg(long, conflicts_with = "no_store")]
    new_party: bool,
    /// Keep the party in memory only: it ends with the process.
    #[arg(long)]
    no_store: bool,
}

/// Bytes in the MiB the upload flags count in.
const MIB: u64 = 1024 * 1024;

pub async fn run(args: HostArgs) -> anyhow::Result<()> {
    let stop = shutdown_signal()?;
    let host_name = machine_name();
    let store =
        match (args.no_store, args.party_file) {
            (true, _) => None,
            (false, Some(path)) => Some(path),
            (false, None) => Some(partyline_host::default_party_file().context(
                "this system names no data directory for the party file: pass --party-file PATH or --no-store",
            )?),
        };
    let config = HostConfig {
        name: args.name,
        host_name,
        bind: args.bind,
        port: args.port,
        max_members: args.max_members,
        open: args.open,
        limits: Limits { max_conns_per_addr: args.max_conns_per_addr, ..Limits::default() },
        interface: args.interface.clone(),
        mdns: !args.no_mdns,
        media: args.media.clone(),
        uploads: UploadPolicy {
            allowed: !args.no_uploads,
            max_file_bytes: args.upload_max_mb * MIB,
            max_total_bytes: args.upload_total_mb * MIB,
            dir: None,
        },
        store: store.clone(),
        new_party: args.new_party,
    };
    let host = Host::start(config).await.context("could not start hosting")?;
    // Subscribe before announcing: a client that joins the moment it reads our JSON line must
    // not see its join missing from the event lines.
    let mut events = host.subscribe();
    let info = host.info();
    if let Some(path) = &args.qr_png {
        partyline_host::qr_png(&info.join_url, path).with_context(|| format!("could not write {}", path.display()))?;
    }
    let mut human: Box<dyn Write + Send> =
        if args.json { Box::new(std::io::stderr()) } else { Box::new(std::io::stdout()) };
    if args.json {
        json_line(serde_json::to_string(&info))?;
    }
    if !args.no_qr {
        match partyline_host::qr_terminal(&info.join_url) {
            Ok(qr) => writeln!(human, "{qr}")?,
            Err(err) => writeln!(human, "(no QR code: {err})")?,
        }
    }
    if info.restored {
        writeln!(human, "Partyline picked up the party \"{}\" where it was", safe(&info.name))?;
    } else {
        writeln!(human, "Partyline is hosting \"{}\"", safe(&info.name))?;
    }
    writeln!(human, "  Join URL:   {}", info.join_url)?;
    for other in info.addresses.iter().skip(1) {
        writeln!(human, "     or on {}: {}", safe(&other.interface), other.join_url)?;
    }
    if let Some(code) = &info.room_code {
        writeln!(human, "  Room code:  {code}")?;
    }
    writeln!(human, "  Session id: {}", info.session_id)?;
    writeln!(human, "  WebSocket:  {}", info.ws_url)?;
    writeln!(human, "  mDNS:       {}", if info.advertised { "advertised on the LAN" } else { "off" })?;
    match &store {
        Some(path) => writeln!(human, "  Party file: {} (--new-party starts afresh)", path.display())?,
        None => writeln!(human, "  Party file: none (in memory only)")?,
    }
    for warning in &info.warnings {
        writeln!(human, "  warning:    {}", safe(warning))?;
    }
    writeln!(human, "Press Ctrl-C to end the party; type `help` for commands.")?;
    human.flush()?;

    // Output after start-up is best effort: a reader that goes away (a closed pipe) must not
    // end the party. JSON event lines stop at the first failed write.
    let mut json_events = args.json;
    // The test hook `advance <seconds>` (a browser test's "ten minutes away"), only when asked for.
    let test_clock = std::env::var_os(commands::TEST_CLOCK_ENV).is_some_and(|value| value == "1");
    let mut lines = commands_from_stdin();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            event = next_event(&mut events) => match event {
                Some(event) => show(&mut human, &mut json_events, event),
                None => break,
            },
            Some(line) = lines.recv() => match commands::parse(&line) {
                Ok(Some(commands::Command::Close)) => break,
                Ok(Some(commands::Command::Advance(_))) if !test_clock => {
                    let _ = writeln!(human, "! advance is a test hook: start the host with {}=1", commands::TEST_CLOCK_ENV);
                }
                Ok(Some(command)) => {
                    if let Err(err) = execute(&host, &mut human, command).await {
                        let _ = writeln!(human, "! {}", safe(&err.to_string()));
                    }
                }
                Ok(None) => {}
                Err(err) => {
                    let _ = writeln!(human, "! {}", safe(&err.to_string()));
                }
            },
        }
        let _ = human.flush();
    }
    let _ = writeln!(human, "Ending the party…");
    host.stop().await;
    // The last events (members leaving, `closed`) still go out, so a script sees the end.
    while let Some(event) = try_next_event(&mut events) {
        show(&mut human, &mut json_events, event);
    }
    let _ = writeln!(human, "Party ended.");
    if let Some(path) = &store {
        let _ = writeln!(human, "It is kept in {}: start again to pick it up, or --new-party.", path.display());
    }
    Ok(())
}

/// One line of JSON on stdout, for scripts and tests.
fn json_line(json: serde_json::Result<String>) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", json?)?;
    stdout.flush()
}

/// An event (or word that some were skipped) as a JSON line while `json_events` holds (it stops
/// at the first failed write), and as a line for a person.
fn show(human: &mut dyn Write, json_events: &mut bool, event: Result<HostEvent, partyline_host::Lagged>) {
    if *json_events {
        *json_events = match &event {
            Ok(event) => json_line(serde_json::to_string(event)),
            Err(lagged) => json_line(serde_json::to_string(lagged)),
        }
        .is_ok();
    }
    let _ = match &event {
        Ok(event) => describe(human, event),
        Err(lagged) => writeln!(human, "({} events skipped)", lagged.skipped),
    };
}

async fn execute(host: &Host, out: &mut dyn Write, command: commands::Command) -> anyhow::Result<()> {
    use commands::Command;
    match command {
        Command::Kick { member_id, reason } => {
            let member = host.kick(&member_id, &reason).await?;
            writeln!(out, "kicked {}", safe(&member.name))?;
        }
        Command::Ban { member_id, reason } => {
            let member = host.ban(&member_id, &reason).await?;
            writeln!(out, "banned {} (`bans` lists the device, `unban <device>` lets it back)", safe(&member.name))?;
        }
        Command::Unban(device_id) => {
            let ban = host.unban(&device_id).await?;
            writeln!(out, "{} may join again", safe(&ban.name))?;
        }
        Command::Bans => {
            for ban in host.bans().await? {
                let (device, name, reason) = (safe(&ban.device_id), safe(&ban.name), safe(&ban.reason));
                writeln!(out, "  {device}  {name} ({reason})")?;
            }
        }
        Command::Lock(locked) => {
            host.set_locked(locked).await?;
            writeln!(out, "{}", if locked { "locked: no new joins" } else { "unlocked" })?;
        }
        Command::Capacity(max) => {
            host.set_capacity(max).await?;
            writeln!(out, "capacity {max}")?;
        }
        Command::Rename(name) => {
            host.rename(&name).await?;
            writeln!(out, "renamed to {}", safe(&name))?;
        }
        Command::Members => {
            for member in host.members().await? {
                let device = member.device.as_deref().map_or(String::new(), |device| format!(", {}", safe(device)));
                let latency = member.latency.map_or(String::new(), |ms| format!(", {ms} ms"));
                let (id, name) = (safe(&member.id), safe(&member.name));
                writeln!(out, "  {id}  {name} ({:?}{device}{latency})", member.connection_status)?;
            }
        }
        Command::Play(command) => host.syncplay(command).await?,
        Command::Allow(permissions) => {
            host.set_permissions(permissions).await?;
            writeln!(out, "members may control playback: {}, the queue: {}", permissions.playback, permissions.queue)?;
        }
        Command::Notify { text, actions } => {
            let id = host.notify_with_actions(&text, "", partyline_host::NotificationLevel::Info, actions).await?;
            writeln!(out, "notification {id} sent")?;
        }
        Command::Room { name, voice } => {
            let kind = if voice { partyline_host::RoomKind::Voice } else { partyline_host::RoomKind::Text };
            let room = host.add_room(&name, kind).await?;
            writeln!(out, "room {} ({}) added", safe(&room.id), safe(&room.name))?;
        }
        Command::Volume { member_id, volume } => {
            host.set_volume(&member_id, volume).await?;
            writeln!(out, "volume of {} set to {:.0}%", safe(&member_id), volume * 100.0)?;
        }
        Command::Library => {
            let playback = host.playback().await?;
            for item in &host.library().await? {
                writeln!(out, "  {}  {} ({})", safe(&item.id), safe(&item.title), safe(&item.mime))?;
            }
            let state = &playback.state;
            writeln!(
                out,
                "  now: {:?} {} at {:.1} s",
                state.state,
                safe(state.item_id.as_deref().unwrap_or("-")),
                state.position / 1000.0
            )?;
            for member in &playback.members {
                let error = member.error_ms.map_or("?".into(), |e| format!("{e:+.1} ms"));
                writeln!(out, "  {}: {:?}, {error}", safe(&member.member_id), member.state)?;
            }
        }
        Command::NewKey => {
            let info = host.new_key()?;
            if let Ok(qr) = partyline_host::qr_terminal(&info.join_url) {
                writeln!(out, "{qr}")?;
            }
            writeln!(out, "new key: the old QR code and room code no longer let anyone join")?;
            writeln!(out, "  Join URL:   {}", info.join_url)?;
            if let Some(code) = &info.room_code {
                writeln!(out, "  Room code:  {code}")?;
            }
        }
        Command::Help => writeln!(out, "{}", commands::HELP)?,
        Command::Advance(by) => {
            host.skip_time(by).await?;
            writeln!(out, "clock advanced {} s (test hook)", by.as_secs_f64())?;
        }
        Command::Close => {}
    }
    Ok(())
}

/// Lines typed into the host, read on a thread of their own (stdin blocks). Bounded: a person
/// types slowly, and a script that pipes faster simply waits.
fn commands_from_stdin() -> tokio::sync::mpsc::Receiver<String> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// One line for a person per event. Every name, id, text and reason in it was chosen by a
/// guest (or typed by the host, or read from a file name): all of it goes through [`safe`].
fn describe(out: &mut dyn Write, event: &HostEvent) -> std::io::Result<()> {
    match event {
        HostEvent::MemberJoined(member) => {
            let (name, id) = (safe(&member.name), safe(&member.id));
            match &member.device {
                Some(device) => writeln!(out, "+ {name} joined ({id}, {})", safe(device)),
                None => writeln!(out, "+ {name} joined ({id})"),
            }
        }
        HostEvent::MemberLeft { member, reason } => writeln!(out, "- {} left ({reason:?})", safe(&member.name)),
        HostEvent::MemberUpdated(member) => match member.latency {
            Some(ms) => writeln!(out, "  {} is {:?}, {ms} ms", safe(&member.name), member.connection_status),
            None => writeln!(out, "  {} is {:?}", safe(&member.name), member.connection_status),
        },
        HostEvent::SessionUpdated(state) => {
            writeln!(out, "  party: {} ({} of {})", safe(&state.name), state.member_count, state.max_members)
        }
        HostEvent::Chat { name, text, .. } => writeln!(out, "  {}: {}", safe(name), safe(text)),
        HostEvent::ChatEdited { id, text } => writeln!(out, "  (line {} edited) {}", safe(id), safe(text)),
        HostEvent::ChatDeleted { id } => writeln!(out, "  (line {} deleted)", safe(id)),
        HostEvent::SyncPlay(state) => {
            let item = state.item_id.as_deref().map(safe);
            writeln!(out, "  playback: {:?} {item:?}", state.state)
        }
        HostEvent::PlaybackProgress(_) => Ok(()),
        HostEvent::PhotoShared(photo) => {
            writeln!(out, "  {} shared a photo: {}", safe(&photo.from_name), safe(&photo.name))
        }
        HostEvent::Presence { name, status, text, .. } => match text {
            Some(text) => writeln!(out, "  {} is {status:?}: {}", safe(name), safe(text)),
            None => writeln!(out, "  {} is {status:?}", safe(name)),
        },
        HostEvent::NotificationsRead { name, ids, .. } => {
            writeln!(out, "  {} read {}", safe(name), safe(&ids.join(", ")))
        }
        HostEvent::Banned(ban) => writeln!(out, "  {} banned (device {})", safe(&ban.name), safe(&ban.device_id)),
        HostEvent::Unbanned(ban) => writeln!(out, "  {} may join again", safe(&ban.name)),
        HostEvent::Closed => writeln!(out, "  party closed"),
    }
}

/// Ctrl-C, or SIGTERM on Unix (what a service manager or `kill` sends). The handlers are
/// installed when this is called, not when the future is first polled: a signal that arrives
/// after the host has announced itself must end the party cleanly, never kill the process.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// This computer's name, for the host's own member ("Rishad's MacBook").
fn machine_name() -> String {
    partyline_host::computer_name().unwrap_or_else(|| "Host".into())
}

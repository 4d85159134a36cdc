//! Advertising one running session over mDNS, on the chosen interfaces only.
//!
//! [`Advertiser`] owns an mdns-sd daemon and one worker thread. The worker publishes the
//! service, coalesces TXT updates, follows address changes on the chosen interfaces, and on
//! shutdown sends goodbye packets (TTL 0) so browsers drop the session at once instead of
//! waiting out the record's TTL.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};
use tracing::{debug, info, warn};

use crate::error::Error;
use crate::interfaces::{self, NetInterface};
use crate::txt::{REVISION_KEY, SERVICE_TYPE, SessionTxt, truncate_at_char};

/// Minimum spacing of TXT announcements: an update goes out at once if none went out within
/// this window, otherwise at the window's end, and newer updates waiting there replace older ones.
///
/// Every update is multicast to every device on the LAN, twice (RFC 6762 §8.3). When a crowd
/// joins from a QR code on the wall, members change many times a second; at most four
/// announcements a second keeps browsers current to the eye while capping the traffic.
pub const UPDATE_DEBOUNCE: Duration = Duration::from_millis(250);

/// How often the chosen interfaces' addresses are re-read.
///
/// A DHCP renewal or a Wi-Fi roam is rare and a netlink dump costs microseconds; 3 s means a
/// changed address is re-advertised before anyone has walked over to the screen, and is a bit
/// quicker than mdns-sd's own 5 s interface check.
pub const ADDR_POLL_INTERVAL: Duration = Duration::from_secs(3);

/// After an address change, the service is announced again this much later.
///
/// mdns-sd may still hold the removed address for the interface and try to send the first
/// announcement from it; that send fails, mdns-sd drops the address, but it does not retry our
/// announcement. The repeat goes out from the new address. 1.5 s is past the RFC 6762 §6
/// one-second rate limit, which would silently drop an identical record sent sooner.
const REANNOUNCE_AFTER_ADDR_CHANGE: Duration = Duration::from_millis(1500);

/// How long shutdown waits after unregistering before stopping the daemon.
///
/// mdns-sd repeats the goodbye 120 ms after the first, because a single datagram is easily lost;
/// stopping the daemon sooner would drop the repeat.
const GOODBYE_GRACE: Duration = Duration::from_millis(250);

/// How long to wait for the mdns-sd daemon to confirm an unregister or its own shutdown; it answers
/// in milliseconds, this only keeps a wedged daemon from hanging the caller.
const DAEMON_REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest DNS label (RFC 1035 §2.3.4); the instance name is one label.
const MAX_LABEL: usize = 63;

/// Commands waiting for the worker. Updates are coalesced, so a handful suffices; a full queue
/// makes `update` wait briefly rather than drop a member count.
const COMMAND_QUEUE: usize = 16;

/// Address-change notifications kept for a slow reader; older news is superseded by
/// [`Advertiser::addrs`], so when full the newest is dropped rather than blocking the worker.
const ADDR_EVENT_QUEUE: usize = 4;

/// What to advertise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement {
    /// The DNS-SD instance name, shown in browsers (usually the session name). Cut to 63 bytes.
    /// mdns-sd renames it (`Name (2)`) if another host on the LAN already uses it.
    pub instance_name: String,
    /// The TCP port the host serves HTTP and WebSocket on.
    pub port: u16,
    /// Addresses to publish, usually from [`interfaces::choose`]. The service is advertised only
    /// on the interfaces holding them; a loopback address means loopback only.
    pub addrs: Vec<IpAddr>,
    /// The session facts.
    pub txt: SessionTxt,
}

/// A running advertisement. Dropping it shuts it down (with goodbyes) like [`Advertiser::shutdown`].
#[derive(Debug)]
pub struct Advertiser {
    commands: flume::Sender<Command>,
    worker: Option<thread::JoinHandle<Result<(), Error>>>,
    fullname: String,
    host_name: String,
    addrs: Arc<Mutex<Vec<IpAddr>>>,
    addr_events: flume::Receiver<Vec<IpAddr>>,
}

#[derive(Debug)]
enum Command {
    Update(SessionTxt),
    Shutdown,
}

impl Advertiser {
    /// Publishes `ad` and starts following its interfaces' addresses.
    pub fn start(ad: Advertisement) -> Result<Self, Error> {
        if ad.addrs.is_empty() {
            return Err(Error::NoAddresses);
        }
        if ad.port == 0 {
            return Err(Error::PortZero);
        }
        let instance_name = truncate_at_char(ad.instance_name.trim(), MAX_LABEL).to_string();
        if instance_name.is_empty() {
            return Err(Error::EmptyInstanceName);
        }
        let mut txt_pairs = ad.txt.encode()?;
        txt_pairs.push((REVISION_KEY, "0".to_string()));
        let tracked = track(&ad.addrs, &interfaces::list()?)?;
        let host_name = format!("partyline-{:08x}.local.", fastrand::u32(..));

        let daemon = ServiceDaemon::new()?;
        // Advertise only where asked: start from nothing, then add the interfaces holding our
        // addresses. `IfKind::Addr` resolves to the interface index, so the choice survives an
        // address change on that interface. mdns-sd enables every interface (loopback too) by
        // default, which would publish our addresses on docker0 and VPN tunnels.
        daemon.disable_interface(IfKind::All)?;
        daemon.enable_interface(ad.addrs.iter().copied().map(IfKind::Addr).collect::<Vec<_>>())?;

        let info = service_info(&instance_name, &host_name, &ad.addrs, ad.port, &txt_pairs)?;
        let fullname = info.get_fullname().to_string();
        daemon.register(info)?;
        info!(
            instance = %instance_name, host = %host_name, port = ad.port, addrs = ?ad.addrs,
            "advertising session"
        );

        let addrs = Arc::new(Mutex::new(ad.addrs.clone()));
        let (commands, command_rx) = flume::bounded(COMMAND_QUEUE);
        let (addr_tx, addr_events) = flume::bounded(ADDR_EVENT_QUEUE);
        let worker = Worker {
            daemon,
            instance_name,
            host_name: host_name.clone(),
            port: ad.port,
            fullname: fullname.clone(),
            txt: ad.txt,
            revision: 0,
            tracked,
            published_addrs: ad.addrs,
            last_polled: None,
            shared_addrs: addrs.clone(),
            addr_tx,
        };
        let worker = thread::Builder::new()
            .name("partyline-advertise".into())
            .spawn(move || worker.run(command_rx))
            .map_err(|source| Error::Spawn { what: "advertiser", source })?;
        Ok(Self { commands, worker: Some(worker), fullname, host_name, addrs, addr_events })
    }

    /// Publishes new session facts. Updates closer together than [`UPDATE_DEBOUNCE`] are
    /// coalesced: the last one wins.
    pub fn update(&self, txt: SessionTxt) -> Result<(), Error> {
        txt.encode()?;
        self.commands.send(Command::Update(txt)).map_err(|_| Error::Stopped)
    }

    /// The full DNS-SD service name, e.g. `Friday party._partyline._tcp.local.`.
    pub fn fullname(&self) -> &str {
        &self.fullname
    }

    /// The random host name the addresses are published under, e.g. `partyline-1a2b3c4d.local.`.
    /// Random so the OS hostname (often a person's name) is not broadcast.
    pub fn host_name(&self) -> &str {
        &self.host_name
    }

    /// The addresses currently published (they follow the chosen interfaces).
    pub fn addrs(&self) -> Vec<IpAddr> {
        self.addrs.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// Receives the new address list each time it changes, so the host can redraw its QR code.
    /// Bounded; if nobody reads, the newest changes are dropped (see [`Advertiser::addrs`]).
    pub fn addr_changes(&self) -> flume::Receiver<Vec<IpAddr>> {
        self.addr_events.clone()
    }

    /// Withdraws the advertisement with goodbye packets and stops the daemon. Returns once the
    /// goodbyes are sent (about a quarter second).
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), Error> {
        let Some(worker) = self.worker.take() else {
            return Ok(());
        };
        // A full queue cannot happen here for long: the worker drains it continuously.
        let _ = self.commands.send(Command::Shutdown);
        worker.join().map_err(|_| Error::Stopped)?
    }
}

impl Drop for Advertiser {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            warn!(cause = %err, "advertiser shutdown on drop failed");
        }
    }
}

/// An interface whose addresses of one family we publish.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tracked {
    name: String,
    ipv6: bool,
}

/// Maps each address to the interface holding it.
fn track(addrs: &[IpAddr], list: &[NetInterface]) -> Result<Vec<Tracked>, Error> {
    let mut tracked = Vec::new();
    for addr in addrs {
        let Some(intf) = list.iter().find(|i| i.addr == *addr) else {
            return Err(Error::AddrNotLocal { addr: *addr, have: list.iter().map(|i| i.addr).collect() });
        };
        let t = Tracked { name: intf.name.clone(), ipv6: addr.is_ipv6() };
        if !tracked.contains(&t) {
            tracked.push(t);
        }
    }
    Ok(tracked)
}

/// The addresses the tracked interfaces hold now (IPv6 link-local left out: unusable in a URL).
fn current_addrs(tracked: &[Tracked], list: &[NetInterface]) -> Vec<IpAddr> {
    list.iter()
        .filter(|i| tracked.iter().any(|t| t.name == i.name && t.ipv6 == i.addr.is_ipv6()))
        .filter(|i| !matches!(interfaces::skip_reason(&i.name, i.addr), Some(interfaces::SkipReason::LinkLocal)))
        .map(|i| i.addr)
        .collect()
}

fn service_info(
    instance_name: &str,
    host_name: &str,
    addrs: &[IpAddr],
    port: u16,
    txt: &[(&'static str, String)],
) -> Result<ServiceInfo, Error> {
    let props: Vec<(&str, &str)> = txt.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok(ServiceInfo::new(SERVICE_TYPE, instance_name, host_name, addrs, port, &props[..])?)
}

struct Worker {
    daemon: ServiceDaemon,
    instance_name: String,
    host_name: String,
    port: u16,
    fullname: String,
    txt: SessionTxt,
    /// Bumped on every publish and sent as [`REVISION_KEY`].
    revision: u64,
    tracked: Vec<Tracked>,
    published_addrs: Vec<IpAddr>,
    /// What the last poll saw; `None` before the first poll, which only records a baseline so that
    /// the caller's exact address choice stands until the interface actually changes.
    last_polled: Option<Vec<IpAddr>>,
    shared_addrs: Arc<Mutex<Vec<IpAddr>>>,
    addr_tx: flume::Sender<Vec<IpAddr>>,
}

impl Worker {
    fn run(mut self, commands: flume::Receiver<Command>) -> Result<(), Error> {
        let mut last_publish = Instant::now();
        let mut pending: Option<(SessionTxt, Instant)> = None;
        let mut next_poll = Instant::now();
        let mut reannounce_at: Option<Instant> = None;
        loop {
            let deadline = [pending.as_ref().map(|(_, at)| *at), reannounce_at]
                .into_iter()
                .flatten()
                .fold(next_poll, Instant::min);
            match commands.recv_deadline(deadline) {
                Ok(Command::Update(txt)) => {
                    let at = pending
                        .as_ref()
                        .map_or_else(|| (last_publish + UPDATE_DEBOUNCE).max(Instant::now()), |(_, at)| *at);
                    pending = Some((txt, at));
                }
                Ok(Command::Shutdown) | Err(flume::RecvTimeoutError::Disconnected) => break,
                Err(flume::RecvTimeoutError::Timeout) => {}
            }
            let now = Instant::now();
            if let Some((txt, _)) = pending.take_if(|(_, at)| *at <= now) {
                self.txt = txt;
                self.publish("txt update");
                last_publish = Instant::now();
            }
            if reannounce_at.take_if(|at| *at <= now).is_some() {
                self.publish("address change, repeat");
            }
            if next_poll <= now {
                if self.poll_addrs() {
                    reannounce_at = Some(Instant::now() + REANNOUNCE_AFTER_ADDR_CHANGE);
                }
                next_poll = Instant::now() + ADDR_POLL_INTERVAL;
            }
        }
        self.withdraw()
    }

    fn publish(&mut self, why: &str) {
        if self.published_addrs.is_empty() {
            debug!(why, "no address on the chosen interfaces; not publishing");
            return;
        }
        self.revision += 1;
        let revision = self.revision.to_string();
        let result = self.txt.encode().map_err(Error::from).and_then(|mut pairs| {
            pairs.push((REVISION_KEY, revision));
            let mut info =
                service_info(&self.instance_name, &self.host_name, &self.published_addrs, self.port, &pairs)?;
            // We already own the name; probing again would only delay the update by ~750 ms.
            info.set_requires_probe(false);
            Ok(self.daemon.register(info)?)
        });
        match result {
            Ok(()) => debug!(why, txt = ?self.txt, addrs = ?self.published_addrs, "re-announced"),
            Err(err) => warn!(why, cause = %err, "re-announce failed"),
        }
    }

    /// Re-reads the tracked interfaces; re-announces and returns `true` if their addresses changed.
    fn poll_addrs(&mut self) -> bool {
        let list = match interfaces::list() {
            Ok(list) => list,
            Err(err) => {
                warn!(cause = %err, "cannot re-read interfaces");
                return false;
            }
        };
        let now = current_addrs(&self.tracked, &list);
        let Some(before) = self.last_polled.replace(now.clone()) else {
            return false;
        };
        if before == now {
            return false;
        }
        info!(before = ?before, now = ?now, "interface addresses changed");
        // Any interface-selection command makes mdns-sd re-read its interface list at once (its
        // own check runs every 5 s); it must know the new address before we announce with it.
        if let Err(err) = self.daemon.enable_interface(now.iter().copied().map(IfKind::Addr).collect::<Vec<_>>()) {
            warn!(cause = %err, "cannot refresh mDNS interfaces");
        }
        if now.is_empty() {
            // The goodbye tells browsers at once; the daemon would otherwise keep answering
            // queries for an address the interface no longer has.
            let withdrawn = self.daemon.unregister(&self.fullname);
            if let Err(err) = withdrawn {
                warn!(cause = %err, "cannot withdraw while the interface has no address");
            }
        }
        self.published_addrs = now.clone();
        self.publish("address change");
        if let Ok(mut shared) = self.shared_addrs.lock() {
            *shared = now.clone();
        }
        // Informational: a full queue drops this notification, `Advertiser::addrs` stays right.
        let _ = self.addr_tx.try_send(now);
        true
    }

    fn withdraw(self) -> Result<(), Error> {
        let result = (|| {
            let status = self.daemon.unregister(&self.fullname)?;
            match status.recv_timeout(DAEMON_REPLY_TIMEOUT) {
                Ok(s) => debug!(status = ?s, "unregistered"),
                Err(err) => warn!(cause = %err, "no unregister confirmation"),
            }
            thread::sleep(GOODBYE_GRACE);
            Ok(())
        })();
        match self.daemon.shutdown() {
            Ok(status) => {
                let _ = status.recv_timeout(DAEMON_REPLY_TIMEOUT);
            }
            Err(err) => warn!(cause = %err, "mDNS daemon shutdown failed"),
        }
        info!(instance = %self.instance_name, "advertisement withdrawn");
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Address following keeps the family and interface that were chosen, and drops link-local.
    #[test]
    fn follows_chosen_interface_and_family() {
        let before = vec![
            NetInterface::new("eth0", ip("192.168.1.20")),
            NetInterface::new("eth0", ip("fe80::1")),
            NetInterface::new("wlan0", ip("10.0.0.5")),
        ];
        let tracked = track(&[ip("192.168.1.20")], &before).unwrap();
        let after = vec![
            NetInterface::new("eth0", ip("192.168.1.33")),
            NetInterface::new("eth0", ip("fd00::9")),
            NetInterface::new("wlan0", ip("10.0.0.5")),
        ];
        let got = current_addrs(&tracked, &after);
        let want = vec![ip("192.168.1.33")];
        assert_eq!(got, want, "expected {want:?}, got {got:?}");
    }

    /// An address that is not on this machine is refused, naming what is there.
    #[test]
    fn foreign_address_is_refused() {
        let list = vec![NetInterface::new("lo", ip("127.0.0.1"))];
        let got = track(&[ip("10.1.2.3")], &list);
        assert!(
            matches!(&got, Err(Error::AddrNotLocal { addr, have }) if *addr == ip("10.1.2.3") && have == &[ip("127.0.0.1")]),
            "expected AddrNotLocal(10.1.2.3, have [127.0.0.1]), got {got:?}"
        );
    }
}

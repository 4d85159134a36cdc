//! Finding the sessions other hosts on the LAN advertise.
//!
//! [`Browser`] owns an mdns-sd daemon browsing [`SERVICE_TYPE`] and a thread that turns its raw
//! events into [`BrowseEvent`]s: a session is `Found` once its SRV, TXT and address records are
//! all in, `Updated` when any of them changes, and `Lost` when its goodbye arrives or its records
//! expire. Records whose TXT does not decode are logged and skipped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::thread;
use std::time::Duration;

use mdns_sd::{ResolvedService, ServiceDaemon, ServiceEvent};
use tracing::{debug, warn};

use crate::error::Error;
use crate::txt::{SERVICE_TYPE, SessionTxt, TxtError};

/// Events kept for a slow reader. A LAN party has a handful of hosts, so 256 is minutes of
/// churn; when full, the translating thread waits (a `Lost` must not be dropped, or a dead
/// session would stay listed), and mdns-sd's own 1,000-event queue absorbs the rest.
const EVENT_QUEUE: usize = 256;

/// How long [`Browser`]'s drop waits for mdns-sd to confirm its shutdown; it answers in
/// milliseconds, this only keeps a wedged daemon from hanging the caller.
const DAEMON_REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// A session seen on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionAd {
    /// Instance name, unescaped (e.g. `Friday party`).
    pub instance: String,
    /// The advertiser's host name (e.g. `partyline-1a2b3c4d.local.`).
    pub host: String,
    /// Its addresses, sorted (IPv4 first).
    pub addrs: Vec<IpAddr>,
    /// Its TCP port.
    pub port: u16,
    /// The decoded TXT record.
    pub txt: SessionTxt,
}

/// What changed in the list of sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowseEvent {
    /// A session appeared.
    Found(SessionAd),
    /// A known session's TXT, addresses or port changed.
    Updated(SessionAd),
    /// A session went away (goodbye packet or expiry).
    Lost {
        /// Its instance name, as in the `Found` event.
        instance: String,
    },
}

/// A running browse for Partyline sessions; dropping it stops the daemon.
pub struct Browser {
    daemon: ServiceDaemon,
    events: flume::Receiver<BrowseEvent>,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").field("pending_events", &self.events.len()).finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts browsing on every interface (loopback included, so a host on this machine shows).
    pub fn start() -> Result<Self, Error> {
        let daemon = ServiceDaemon::new()?;
        let raw = daemon.browse(SERVICE_TYPE)?;
        let (tx, events) = flume::bounded(EVENT_QUEUE);
        thread::Builder::new()
            .name("partyline-browse".into())
            .spawn(move || translate(raw, tx))
            .map_err(|source| Error::Spawn { what: "browser", source })?;
        Ok(Self { daemon, events })
    }

    /// Waits up to `timeout` for the next event; `None` on timeout or if browsing has stopped.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<BrowseEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// The event channel itself, for `select!`-style or async use (`recv_async`).
    pub fn receiver(&self) -> &flume::Receiver<BrowseEvent> {
        &self.events
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Stopping the daemon closes the raw channel, which ends the translating thread.
        if let Ok(status) = self.daemon.shutdown() {
            let _ = status.recv_timeout(DAEMON_REPLY_TIMEOUT);
        }
    }
}

/// Turns mdns-sd events into [`BrowseEvent`]s until either side closes.
fn translate(raw: flume::Receiver<ServiceEvent>, tx: flume::Sender<BrowseEvent>) {
    let mut known: HashMap<String, SessionAd> = HashMap::new();
    while let Ok(event) = raw.recv() {
        let out = match event {
            ServiceEvent::ServiceResolved(resolved) => {
                let fullname = resolved.get_fullname().to_lowercase();
                match session_ad(&resolved) {
                    Ok(ad) => match known.insert(fullname, ad.clone()) {
                        None => Some(BrowseEvent::Found(ad)),
                        Some(old) if old != ad => Some(BrowseEvent::Updated(ad)),
                        Some(_) => None,
                    },
                    Err(err) => {
                        warn!(
                            service = resolved.get_fullname(), cause = %err,
                            "skipping session with malformed TXT record"
                        );
                        None
                    }
                }
            }
            ServiceEvent::ServiceRemoved(_, fullname) => {
                known.remove(&fullname.to_lowercase()).map(|ad| BrowseEvent::Lost { instance: ad.instance })
            }
            other => {
                debug!(event = ?other, "mDNS browse event");
                None
            }
        };
        // Blocking send: see EVENT_QUEUE for why events are never dropped here.
        if out.is_some_and(|event| tx.send(event).is_err()) {
            return;
        }
    }
}

fn session_ad(resolved: &ResolvedService) -> Result<SessionAd, TxtError> {
    let txt = SessionTxt::decode(resolved.get_properties().iter().map(|p| (p.key(), p.val())))?;
    let mut addrs: Vec<IpAddr> = resolved.get_addresses().iter().map(|a| a.to_ip_addr()).collect();
    addrs.sort_by_key(|a| (a.is_ipv6(), *a));
    addrs.dedup();
    Ok(SessionAd {
        instance: instance_name(resolved.get_fullname()),
        host: resolved.get_hostname().to_string(),
        addrs,
        port: resolved.get_port(),
        txt,
    })
}

/// The instance label of a full service name, with DNS-SD escapes (`\.`, `\\`, `\DDD`) undone.
pub fn instance_name(fullname: &str) -> String {
    let suffix = format!(".{SERVICE_TYPE}");
    let label =
        if fullname.len() > suffix.len() && fullname[fullname.len() - suffix.len()..].eq_ignore_ascii_case(&suffix) {
            &fullname[..fullname.len() - suffix.len()]
        } else {
            fullname
        };
    let bytes = label.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            let digits = &bytes[i + 1..bytes.len().min(i + 4)];
            if digits.len() == 3 && digits.iter().all(u8::is_ascii_digit) {
                let n = digits.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
                if let Ok(b) = u8::try_from(n) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
            out.push(bytes[i + 1]);
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The service-type suffix is removed and escapes are undone.
    #[test]
    fn instance_names() {
        let cases = [
            ("Friday party._partyline._tcp.local.", "Friday party"),
            ("v1\\.2 beta._partyline._tcp.local.", "v1.2 beta"),
            ("a\\\\b._PARTYLINE._tcp.local.", "a\\b"),
            ("x\\032y._partyline._tcp.local.", "x y"),
            ("odd", "odd"),
        ];
        for (full, want) in cases {
            let got = instance_name(full);
            assert_eq!(got, want, "{full}: expected {want:?}, got {got:?}");
        }
    }
}

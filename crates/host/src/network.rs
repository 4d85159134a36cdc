//! The addresses guests can reach, kept current while the party goes on: a laptop that joins the
//! Wi-Fi after launch, or whose DHCP lease changes, gets its QR code and join URLs redrawn.
//!
//! [`offer`] decides from an interface list (pure: its tests use made-up interfaces); [`follow`]
//! re-reads the machine's list every [`NETWORK_POLL`] and, when the offer changed, rewrites the
//! [`HostInfo`] in place ([`apply`]) and tells subscribers ([`Host::watch_addresses`](crate::Host::watch_addresses)).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use partyline_discovery::{Advertisement, Advertiser, Candidate, InterfaceError};
use serde::Serialize;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::{HostInfo, JoinAddress, endpoints, txt, urls};

/// How often the machine's addresses are re-read. A person who just joined the Wi-Fi turns to the
/// screen within a few seconds; reading the interface list and `/proc/net/route` costs
/// microseconds, so 2 s keeps the QR code current well before anyone scans it.
pub const NETWORK_POLL: Duration = Duration::from_secs(2);

/// The facade's warning when no address guests can reach exists (only loopback, link-local or
/// virtual ones): what a front end shows unless it words it its own way.
pub const NO_NETWORK_WARNING: &str = "this computer is on no network guests can reach (only loopback): \
     connect it to the Wi-Fi your guests use";

/// What guests are offered now: the addresses (interface, address), best first, and whether
/// none of them is on a LAN (the only one is loopback, for this computer itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Best first; never empty.
    pub addresses: Vec<(String, IpAddr)>,
    /// No LAN address: `addresses` is loopback only, and why (for the log).
    pub no_network: Option<String>,
}

/// Decides the offer of a host bound to `bound` from the discovery crate's choice. A host bound
/// to one address is reached there alone; one bound to every interface on its LAN addresses of
/// the bound family, else (with a reason) on loopback. A named interface that does not exist is
/// the one error: the user asked for it.
pub fn offer(bound: IpAddr, chosen: Result<Vec<Candidate>, InterfaceError>) -> Result<Offer, InterfaceError> {
    if !bound.is_unspecified() {
        return Ok(Offer { addresses: vec![("bound".into(), bound)], no_network: None });
    }
    let why = match chosen {
        Err(err @ InterfaceError::NotFound { .. }) => return Err(err),
        Err(err) => err.to_string(),
        Ok(candidates) => {
            let found: Vec<(String, IpAddr)> = candidates
                .into_iter()
                .filter(|c| c.addr.is_ipv4() == bound.is_ipv4())
                .map(|c| (c.name, c.addr))
                .collect();
            if !found.is_empty() {
                return Ok(Offer { addresses: found, no_network: None });
            }
            "no address of the bound family".into()
        }
    };
    let loopback =
        if bound.is_ipv4() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { IpAddr::V6(std::net::Ipv6Addr::LOCALHOST) };
    Ok(Offer { addresses: vec![("lo".into(), loopback)], no_network: Some(why) })
}

/// Makes `info` offer `offer`: its addresses (each join URL with the key in force), the URLs on
/// the first, the no-network warning and flag. Returns whether anything changed; the session,
/// key, code and port never do.
pub fn apply(info: &mut HostInfo, offer: &Offer) -> bool {
    let addresses: Vec<JoinAddress> = offer
        .addresses
        .iter()
        .map(|(interface, addr)| JoinAddress {
            interface: interface.clone(),
            addr: *addr,
            join_url: partyline_discovery::join_url(*addr, info.port, info.join_key.as_deref()),
        })
        .collect();
    let no_network = offer.no_network.is_some();
    if addresses == info.addresses && no_network == info.no_network {
        return false;
    }
    let first = addresses[0].addr;
    (info.http_url, info.ws_url) = urls(first, info.port);
    info.endpoints = endpoints(first, info.port);
    info.join_url = addresses[0].join_url.clone();
    info.addresses = addresses;
    info.no_network = no_network;
    info.warnings.retain(|w| w != NO_NETWORK_WARNING);
    if no_network {
        info.warnings.insert(0, NO_NETWORK_WARNING.to_string());
    }
    true
}

/// What a subscriber to address changes receives: `{"event": "network_changed", "addresses":
/// [...]}`, beside the host's events (the desktop forwards it to its page as one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename = "network_changed", rename_all = "camelCase")]
pub struct NetworkChanged {
    /// The addresses offered now, best first (as [`HostInfo::addresses`]).
    pub addresses: Vec<JoinAddress>,
    /// Whether none of them is on a LAN.
    pub no_network: bool,
}

/// What [`follow`] works on: the host's shared info and advertiser, and where to announce.
pub(crate) struct Following {
    pub bound: IpAddr,
    pub interface: Option<String>,
    pub info: Arc<Mutex<HostInfo>>,
    /// `Some` when mDNS was asked for: re-advertised when the interfaces change.
    pub advertiser: Option<Arc<Mutex<Option<Advertiser>>>>,
    pub state: watch::Receiver<partyline_protocol::SessionState>,
    pub changes: watch::Sender<NetworkChanged>,
    pub stop: watch::Receiver<bool>,
}

/// Re-reads the machine's addresses every [`NETWORK_POLL`] until the host stops; on a change,
/// rewrites the info, re-advertises over mDNS when the set of interfaces changed (the advertiser
/// itself follows a changed address on an interface it already uses), and tells subscribers.
pub(crate) async fn follow(mut f: Following) {
    let mut tick = tokio::time::interval(NETWORK_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is now: the start just read the list
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = f.stop.changed() => return,
        }
        let interface = f.interface.clone();
        let bound = f.bound;
        let Ok(now) =
            tokio::task::spawn_blocking(move || offer(bound, partyline_discovery::choose(interface.as_deref()))).await
        else {
            return;
        };
        let now = match now {
            Ok(now) => now,
            Err(err) => {
                // The named interface went away: keep offering what was offered.
                warn!(cause = %err, "the chosen interface is gone; the QR code keeps its address");
                continue;
            }
        };
        let (changed, interfaces_changed) = {
            let mut info = match f.info.lock() {
                Ok(info) => info,
                Err(poisoned) => poisoned.into_inner(),
            };
            let before: Vec<String> = info.addresses.iter().map(|a| a.interface.clone()).collect();
            if !apply(&mut info, &now) {
                continue;
            }
            let after: Vec<String> = info.addresses.iter().map(|a| a.interface.clone()).collect();
            (NetworkChanged { addresses: info.addresses.clone(), no_network: info.no_network }, before != after)
        };
        let shown: Vec<String> = changed.addresses.iter().map(|a| format!("{} {}", a.interface, a.addr)).collect();
        info!(addresses = ?shown, no_network = changed.no_network, "the addresses guests can reach changed");
        if interfaces_changed && let Some(slot) = &f.advertiser {
            readvertise(slot.clone(), &f.info, &f.state, &f.stop).await;
        }
        f.changes.send_replace(changed);
    }
}

/// Stops the advertiser (goodbyes) and starts one on the addresses offered now.
async fn readvertise(
    slot: Arc<Mutex<Option<Advertiser>>>,
    info: &Arc<Mutex<HostInfo>>,
    state: &watch::Receiver<partyline_protocol::SessionState>,
    stop: &watch::Receiver<bool>,
) {
    let (addrs, port) = match info.lock() {
        Ok(info) => (info.addresses.iter().map(|a| a.addr).collect::<Vec<_>>(), info.port),
        Err(poisoned) => {
            let info = poisoned.into_inner();
            (info.addresses.iter().map(|a| a.addr).collect(), info.port)
        }
    };
    let state = state.borrow().clone();
    let ad = Advertisement { instance_name: state.name.clone(), port, addrs, txt: txt(&state) };
    let old = slot.lock().ok().and_then(|mut slot| slot.take());
    // Goodbyes and the new announcement block for a moment on mdns-sd's side.
    let started = tokio::task::spawn_blocking(move || {
        if let Some(old) = old {
            let _ = old.shutdown();
        }
        Advertiser::start(ad)
    })
    .await;
    match started {
        // A stop while it restarted said its goodbyes already: this one says its own.
        Ok(Ok(advertiser)) if *stop.borrow() => {
            let _ = tokio::task::spawn_blocking(move || advertiser.shutdown()).await;
        }
        Ok(Ok(advertiser)) => {
            if let Ok(mut slot) = slot.lock() {
                *slot = Some(advertiser);
            }
        }
        Ok(Err(err)) => warn!(cause = %err, "cannot advertise on the new addresses; the QR code and URL still work"),
        Err(err) => warn!(cause = %err, "the advertiser's restart did not finish"),
    }
}

#[cfg(test)]
mod tests {
    //! The QR code follows the network: which addresses a host offers as interfaces come and go,
    //! and how the info it shows changes with them (the key, code and port never do).
    use partyline_discovery::interfaces::{NetInterface, choose_from};

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn any() -> IpAddr {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }

    fn offer_on(interfaces: &[NetInterface]) -> Offer {
        offer(any(), choose_from(interfaces, &[], None)).expect("no named interface")
    }

    fn info_of(offer: &Offer) -> HostInfo {
        let mut info = HostInfo {
            session_id: "s".into(),
            name: "Rooftop".into(),
            local_addr: "0.0.0.0:4000".parse().unwrap(),
            port: 4000,
            http_url: String::new(),
            ws_url: String::new(),
            endpoints: Default::default(),
            join_url: String::new(),
            join_key: Some("key".into()),
            room_code: Some("ABCDE".into()),
            addresses: vec![],
            advertised: false,
            warnings: vec!["not advertised on the LAN".into()],
            restored: false,
            no_network: false,
        };
        apply(&mut info, offer);
        info
    }

    /// Only loopback (and a Docker bridge): the offer is loopback, marked as no network, with a
    /// warning in words a host can act on that names no command-line flag.
    #[test]
    fn only_loopback_is_no_network() {
        let got = offer_on(&[NetInterface::new("lo", ip("127.0.0.1")), NetInterface::new("docker0", ip("172.17.0.1"))]);
        assert_eq!(got.addresses, vec![("lo".to_string(), ip("127.0.0.1"))], "expected loopback only, got {got:?}");
        assert!(got.no_network.is_some(), "expected no network, got {got:?}");
        let info = info_of(&got);
        assert!(info.no_network, "expected the info marked no_network");
        assert_eq!(info.warnings[0], NO_NETWORK_WARNING, "expected the warning first, got {:?}", info.warnings);
        assert!(!NO_NETWORK_WARNING.contains("--"), "the words name no flag: {NO_NETWORK_WARNING}");
        assert_eq!(
            info.join_url, "http://127.0.0.1:4000/#k=key",
            "expected the URL on loopback, got {}",
            info.join_url
        );
    }

    /// Wi-Fi comes up after launch: the info changes to the new address (URLs, QR's join URL),
    /// keeps its key and port, drops the no-network warning and keeps the others.
    #[test]
    fn an_address_appearing_moves_the_urls() {
        let lo = NetInterface::new("lo", ip("127.0.0.1"));
        let mut info = info_of(&offer_on(std::slice::from_ref(&lo)));
        let wifi = offer_on(&[lo.clone(), NetInterface::new("wlan0", ip("192.168.1.20"))]);
        assert!(apply(&mut info, &wifi), "expected a change when Wi-Fi appears");
        let got = (info.join_url.as_str(), info.http_url.as_str(), info.ws_url.as_str(), info.no_network);
        let want = ("http://192.168.1.20:4000/#k=key", "http://192.168.1.20:4000/", "ws://192.168.1.20:4000/ws", false);
        assert_eq!(got, want, "expected the URLs on the Wi-Fi address");
        assert_eq!(info.warnings, vec!["not advertised on the LAN".to_string()], "only the network warning goes");
        assert_eq!(info.endpoints["together"], "ws://192.168.1.20:4000/together/ws", "every format's URL moves");
        assert!(!apply(&mut info, &wifi), "the same offer again is no change");
    }

    /// A new lease on the same interface is a change too; a second interface is offered after the
    /// default route's.
    #[test]
    fn a_changed_address_is_a_change() {
        let lo = NetInterface::new("lo", ip("127.0.0.1"));
        let mut info = info_of(&offer_on(&[lo.clone(), NetInterface::new("wlan0", ip("192.168.1.20"))]));
        let moved = offer_on(&[lo.clone(), NetInterface::new("wlan0", ip("192.168.1.77"))]);
        assert!(apply(&mut info, &moved), "expected a change for a new lease");
        assert_eq!(info.join_url, "http://192.168.1.77:4000/#k=key", "got {}", info.join_url);
        let two = offer(
            any(),
            choose_from(
                &[lo, NetInterface::new("eth0", ip("10.0.0.5")), NetInterface::new("wlan0", ip("192.168.1.77"))],
                &["wlan0".into()],
                None,
            ),
        )
        .unwrap();
        assert!(apply(&mut info, &two), "expected a change for a second interface");
        let got: Vec<(String, IpAddr)> = info.addresses.iter().map(|a| (a.interface.clone(), a.addr)).collect();
        let want = vec![("wlan0".to_string(), ip("192.168.1.77")), ("eth0".to_string(), ip("10.0.0.5"))];
        assert_eq!(got, want, "expected the default route's first");
    }

    /// Losing the network falls back to loopback with the warning; a host bound to one address
    /// offers that address whatever the interfaces say; an IPv6-only LAN is no network for an
    /// IPv4 host.
    #[test]
    fn losing_the_network_and_fixed_binds() {
        let mut info = info_of(&offer_on(&[NetInterface::new("wlan0", ip("192.168.1.20"))]));
        assert!(apply(&mut info, &offer_on(&[NetInterface::new("lo", ip("127.0.0.1"))])), "expected a change");
        assert!(info.no_network && info.warnings[0] == NO_NETWORK_WARNING, "expected no network, got {info:?}");
        let bound = offer(ip("127.0.0.1"), Err(InterfaceError::NoneUsable { skipped: vec![] })).unwrap();
        assert_eq!(bound, Offer { addresses: vec![("bound".into(), ip("127.0.0.1"))], no_network: None });
        let v6 = offer_on(&[NetInterface::new("eth0", ip("fd00::5"))]);
        assert!(v6.no_network.is_some(), "expected an IPv6-only LAN to be no network for 0.0.0.0, got {v6:?}");
    }

    /// A named interface that does not exist stays an error (the user asked for it).
    #[test]
    fn a_missing_named_interface_is_an_error() {
        let chosen = choose_from(&[NetInterface::new("lo", ip("127.0.0.1"))], &[], Some("wlan9"));
        assert!(
            matches!(offer(any(), chosen), Err(InterfaceError::NotFound { .. })),
            "expected NotFound for a missing named interface"
        );
    }
}

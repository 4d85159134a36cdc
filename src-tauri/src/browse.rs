//! Other parties on the LAN, for the Browse tab: one mDNS browser for the app's life
//! (`partyline_host::browse`), its events folded into a list that `browse_sessions` returns and
//! that is sent whole to the page as a `browse-event` each time it changes (a LAN has a handful
//! of parties, so the whole list is smaller than the bookkeeping of diffs).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;

use partyline_host::browse::{BrowseEvent, Browser, SessionAd};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime};

/// The event name the web view listens to.
pub const BROWSE_EVENT: &str = "browse-event";

/// A party found on the LAN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BrowsedSession {
    /// The mDNS instance name (unique on the LAN).
    pub instance: String,
    /// The session id.
    pub session_id: String,
    /// The party's name.
    pub name: String,
    /// `host:port` to join at (its first address, IPv4 preferred).
    pub address: String,
    /// Every address it advertised.
    pub addresses: Vec<String>,
    /// Members now.
    pub members: u32,
    /// Capacity.
    pub capacity: u32,
    /// Whether new joins are refused.
    pub locked: bool,
    /// Whether it is this app's own party.
    pub own: bool,
}

/// What the Browse tab shows.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BrowseView {
    /// Whether the app is browsing (off with `--no-mdns`).
    pub enabled: bool,
    /// Why browsing could not start, when it could not.
    pub error: Option<String>,
    /// The parties found, by name.
    pub sessions: Vec<BrowsedSession>,
}

/// The parties seen so far (Tauri-managed state).
#[derive(Default)]
pub struct Browsing {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    enabled: bool,
    error: Option<String>,
    found: BTreeMap<String, SessionAd>,
}

impl Browsing {
    /// The list as the page shows it; `own_session` marks this app's party.
    pub fn view(&self, own_session: Option<&str>) -> BrowseView {
        let state = self.state.lock().unwrap();
        let mut sessions: Vec<BrowsedSession> =
            state.found.values().map(|ad| browsed(ad, own_session == Some(ad.txt.id.as_str()))).collect();
        sessions.sort_by_key(|s| (s.own, s.name.to_lowercase()));
        BrowseView { enabled: state.enabled, error: state.error.clone(), sessions }
    }

    /// Folds one event into the list.
    pub fn apply(&self, event: BrowseEvent) {
        let mut state = self.state.lock().unwrap();
        match event {
            BrowseEvent::Found(ad) | BrowseEvent::Updated(ad) => {
                state.found.insert(ad.instance.clone(), ad);
            }
            BrowseEvent::Lost { instance } => {
                state.found.remove(&instance);
            }
        }
    }

    fn set_status(&self, enabled: bool, error: Option<String>) {
        let mut state = self.state.lock().unwrap();
        state.enabled = enabled;
        state.error = error;
    }
}

/// Starts browsing for the app's life on a thread of its own (mdns-sd's channel blocks), and
/// sends the page the whole list after every change. Needs [`Browsing`] and
/// [`AppState`](crate::AppState) managed (its session id marks the app's own party).
pub fn start<R: Runtime>(app: AppHandle<R>) {
    let browser = match Browser::start() {
        Ok(browser) => browser,
        Err(err) => {
            tracing::warn!(%err, "cannot browse the LAN for parties");
            app.state::<Browsing>().set_status(false, Some(format!("cannot look for parties on the network: {err}")));
            return;
        }
    };
    app.state::<Browsing>().set_status(true, None);
    let spawned = std::thread::Builder::new().name("partyline-desktop-browse".into()).spawn(move || {
        // The browser lives as long as this loop: for the app's life.
        while let Ok(event) = browser.receiver().recv() {
            tracing::debug!(?event, "browse");
            let browsing = app.state::<Browsing>();
            browsing.apply(event);
            let view = browsing.view(app.state::<crate::AppState>().session_id().as_deref());
            if let Err(err) = app.emit(BROWSE_EVENT, view) {
                tracing::warn!(%err, "cannot send the party list to the window");
            }
        }
    });
    if let Err(err) = spawned {
        tracing::warn!(%err, "cannot start the browse thread");
    }
}

fn browsed(ad: &SessionAd, own: bool) -> BrowsedSession {
    let authority = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) => format!("{v4}:{}", ad.port),
        IpAddr::V6(v6) => format!("[{v6}]:{}", ad.port),
    };
    // `addrs` is sorted IPv4 first; a link-local IPv6 address cannot be typed into a URL.
    let addresses: Vec<String> = ad
        .addrs
        .iter()
        .filter(|ip| !matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80))
        .map(authority)
        .collect();
    BrowsedSession {
        instance: ad.instance.clone(),
        session_id: ad.txt.id.clone(),
        name: if ad.txt.name.is_empty() { ad.instance.clone() } else { ad.txt.name.clone() },
        address: addresses.first().cloned().unwrap_or_default(),
        addresses,
        members: ad.txt.members,
        capacity: ad.txt.capacity,
        locked: ad.txt.locked,
        own,
    }
}

#[cfg(test)]
mod tests {
    use partyline_host::browse::SessionTxt;

    use super::*;

    fn ad(instance: &str, id: &str, addrs: &[&str], members: u32, locked: bool) -> SessionAd {
        SessionAd {
            instance: instance.into(),
            host: "partyline-1.local.".into(),
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            port: 48321,
            txt: SessionTxt::new(id, instance, members, 20, locked),
        }
    }

    #[test]
    fn found_updated_lost_keep_the_list_and_mark_our_own() {
        let b = Browsing::default();
        b.apply(BrowseEvent::Found(ad("Kitchen", "s-k", &["10.0.0.2", "fe80::1", "fd00::2"], 1, false)));
        b.apply(BrowseEvent::Found(ad("attic", "s-a", &["10.0.0.3"], 0, false)));
        b.apply(BrowseEvent::Found(ad("Mine", "s-me", &["10.0.0.1"], 3, false)));
        let v = b.view(Some("s-me"));
        let names: Vec<(&str, bool)> = v.sessions.iter().map(|s| (s.name.as_str(), s.own)).collect();
        assert_eq!(names, [("attic", false), ("Kitchen", false), ("Mine", true)], "others by name, then ours");
        let kitchen = &v.sessions[1];
        assert_eq!(kitchen.address, "10.0.0.2:48321");
        assert_eq!(kitchen.addresses, ["10.0.0.2:48321", "[fd00::2]:48321"], "link-local left out");
        assert_eq!((kitchen.members, kitchen.capacity, kitchen.locked), (1, 20, false));

        b.apply(BrowseEvent::Updated(ad("Kitchen", "s-k", &["10.0.0.2"], 4, true)));
        let v = b.view(None);
        let kitchen = v.sessions.iter().find(|s| s.instance == "Kitchen").unwrap();
        assert_eq!((kitchen.members, kitchen.locked, kitchen.own), (4, true, false));
        assert!(v.sessions.iter().all(|s| !s.own), "no own session when not hosting");

        b.apply(BrowseEvent::Lost { instance: "Kitchen".into() });
        b.apply(BrowseEvent::Lost { instance: "never seen".into() });
        let names: Vec<String> = b.view(None).sessions.into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["attic", "Mine"]);
    }
}

//! Who may connect: the join key (three ways to present it), the browser Origin check, and the
//! budget of room-code tries ([`CodeBudget`]), which is pure: it is driven by `now` passed in.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN, SEC_WEBSOCKET_PROTOCOL};
use partyline_session::{SECOND, Time};

/// The subprotocol prefix that carries a key (seed 001: `access_token.<key>`).
pub const SUBPROTOCOL_PREFIX: &str = "access_token.";

/// Origins of the desktop app's own web view, which may connect to any host.
const APP_ORIGINS: [&str; 3] = ["tauri://localhost", "http://tauri.localhost", "https://tauri.localhost"];

/// How a request presented a valid key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    /// The host needs no key, or the key came in the query or the Authorization header.
    Accepted,
    /// The key came as this subprotocol, which the upgrade must echo or browsers fail it.
    AcceptedSubprotocol(String),
    /// A key the host replaced ([`Keys::rotate`]), as a subprotocol to echo if it came as one:
    /// good for resuming, not for joining.
    Retired(Option<String>),
    /// Missing or wrong.
    Refused,
}

/// The keys a host takes: the join key and room code in force, and the join keys it replaced,
/// which still let a member resume (its resume secret is what proves it) but never join: "New
/// key" keeps out whoever has the old QR code without disturbing anyone in the party.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    /// The join key; `None` for an open host.
    pub join_key: Option<String>,
    /// The room code traded for it; `None` for an open host.
    pub room_code: Option<String>,
    /// Earlier join keys, newest last.
    retired: std::collections::VecDeque<String>,
}

/// Old join keys kept for resuming: a few rotations in one evening. Older ones are forgotten
/// (a member whose phone still holds one joins afresh through the QR code).
const RETIRED_KEYS: usize = 8;

impl Keys {
    /// The keys a host starts with.
    pub fn new(join_key: Option<String>, room_code: Option<String>) -> Keys {
        Keys { join_key, room_code, retired: Default::default() }
    }

    /// The join keys it replaced, oldest first (for the party's store).
    pub fn retired(&self) -> Vec<String> {
        self.retired.iter().cloned().collect()
    }

    /// The keys a restarted host had: the key and code in force and the retired keys, as stored.
    pub fn restored(join_key: Option<String>, room_code: Option<String>, retired: Vec<String>) -> Keys {
        let skip = retired.len().saturating_sub(RETIRED_KEYS);
        Keys { join_key, room_code, retired: retired.into_iter().skip(skip).collect() }
    }

    /// Replaces the join key and room code; the old key is kept for resuming.
    pub fn rotate(&mut self, join_key: String, room_code: String) {
        if let Some(old) = self.join_key.replace(join_key) {
            self.retired.push_back(old);
            if self.retired.len() > RETIRED_KEYS {
                self.retired.pop_front();
            }
        }
        self.room_code = Some(room_code);
    }

    /// Checks what a request presents: the key in force, a retired one, or neither.
    pub fn check(&self, query_token: Option<&str>, headers: &HeaderMap) -> KeyCheck {
        let current = check_key(self.join_key.as_deref(), query_token, headers);
        if current != KeyCheck::Refused {
            return current;
        }
        for old in &self.retired {
            match check_key(Some(old), query_token, headers) {
                KeyCheck::Refused => continue,
                KeyCheck::AcceptedSubprotocol(protocol) => return KeyCheck::Retired(Some(protocol)),
                KeyCheck::Accepted | KeyCheck::Retired(_) => return KeyCheck::Retired(None),
            }
        }
        KeyCheck::Refused
    }
}

/// Checks the key in the query's `token`, an `Authorization: Bearer` header, or an
/// `access_token.<key>` subprotocol.
pub fn check_key(expected: Option<&str>, query_token: Option<&str>, headers: &HeaderMap) -> KeyCheck {
    let Some(expected) = expected else { return KeyCheck::Accepted };
    if query_token.is_some_and(|token| keys_equal(token, expected)) {
        return KeyCheck::Accepted;
    }
    let bearer = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if bearer.is_some_and(|token| keys_equal(token.trim(), expected)) {
        return KeyCheck::Accepted;
    }
    for value in headers.get_all(SEC_WEBSOCKET_PROTOCOL) {
        let Ok(value) = value.to_str() else { continue };
        for protocol in value.split(',').map(str::trim) {
            if protocol.strip_prefix(SUBPROTOCOL_PREFIX).is_some_and(|token| keys_equal(token, expected)) {
                return KeyCheck::AcceptedSubprotocol(protocol.to_string());
            }
        }
    }
    KeyCheck::Refused
}

/// Whether a browser request comes from a page of this host (or the desktop app). Requests
/// without an Origin (native clients) pass: the Origin check protects browsers, whose
/// pages from other sites would otherwise ride on the guest's network position.
pub fn origin_allowed(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    if APP_ORIGINS.contains(&origin) {
        return true;
    }
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else { return false };
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    origin_host.eq_ignore_ascii_case(host)
}

/// Whether the request comes from the desktop app's own web view (by its Origin).
pub fn from_desktop_app(headers: &HeaderMap) -> bool {
    headers.get(ORIGIN).and_then(|origin| origin.to_str().ok()).is_some_and(|origin| APP_ORIGINS.contains(&origin))
}

/// Room-code tries one address may make at once: enough for a few typos in a row.
pub const ADDRESS_BURST: u32 = 5;

/// An address gets a try back every 12 s (5 a minute): a guest retyping a code never waits
/// long, and one address alone needs 5 years to try half of 31^5 ≈ 28.6 million codes.
pub const ADDRESS_INTERVAL: Time = 12 * SECOND;

/// Tries the whole party may take at once: a crowd typing the code at the door.
pub const PARTY_BURST: u32 = 30;

/// The party gets a try back every 2 s (30 a minute), however many addresses ask: this is what
/// bounds a guesser with many addresses. Half the codes at 30 a minute take 331 days; a
/// six-hour party gives one guesser 10,830 tries, a 1 in 2,600 chance.
pub const PARTY_INTERVAL: Time = 2 * SECOND;

/// The longest a try waits for its turn before it is checked. Past it, the try is refused (429)
/// with the time to come back: a phone waits at most this long on a spinner.
pub const MAX_WAIT: Time = 15 * SECOND;

/// Tries waiting at once for the whole party: a waiting try holds an open request, so their
/// number is bounded. The party budget alone allows 7 (one turn each 2 s within [`MAX_WAIT`]);
/// 8 also bounds addresses that wait on their own budget.
pub const MAX_WAITING: usize = 8;

/// What to do with a room-code try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeTry {
    /// Within both budgets: check it now.
    Now,
    /// Its turn is this far off (at most [`MAX_WAIT`]): wait, then check it, then call
    /// [`CodeBudget::done_waiting`].
    After(Time),
    /// Over budget: refuse it (429) and say to come back after this long.
    Refused(Time),
}

/// Room-code tries, budgeted per address and for the whole party. Each budget is a token bucket
/// kept as its theoretical arrival time (GCRA): `tat` is when the bucket would be full again,
/// and a try that would put it more than a burst ahead of `now` must wait for its turn.
///
/// A try over budget is not refused for a minute: it waits its turn (bounded) and is then
/// checked, so the right code always gets through after a short wait, while guessing never
/// goes faster than the party's rate. Every try counts, right or wrong: answering the right
/// code sooner would tell a guesser which try was right.
#[derive(Debug, Default)]
pub struct CodeBudget {
    party: Time,
    waiting: usize,
    addresses: HashMap<IpAddr, Address>,
}

#[derive(Debug)]
struct Address {
    tat: Time,
    waiting: bool,
}

impl CodeBudget {
    /// Decides a try from `ip` at `now`, and takes its turn from both budgets unless refused.
    pub fn try_code(&mut self, ip: IpAddr, now: Time) -> CodeTry {
        // An address whose bucket is full again and has nobody waiting is forgotten. Entries
        // are only made by tries the party admitted, so there are at most a few dozen.
        self.addresses.retain(|_, a| a.waiting || a.tat > now);
        let address = self.addresses.get(&ip);
        let address_tat = address.map_or(now, |a| a.tat).max(now) + ADDRESS_INTERVAL;
        let party_tat = self.party.max(now) + PARTY_INTERVAL;
        let wait = (address_tat.saturating_sub(now + ADDRESS_BURST as Time * ADDRESS_INTERVAL))
            .max(party_tat.saturating_sub(now + PARTY_BURST as Time * PARTY_INTERVAL));
        let busy = address.is_some_and(|a| a.waiting) || self.waiting >= MAX_WAITING;
        if wait > MAX_WAIT || (wait > 0 && busy) {
            return CodeTry::Refused(wait);
        }
        self.party = party_tat;
        let entry = self.addresses.entry(ip).or_insert(Address { tat: now, waiting: false });
        entry.tat = address_tat;
        if wait == 0 {
            return CodeTry::Now;
        }
        entry.waiting = true;
        self.waiting += 1;
        CodeTry::After(wait)
    }

    /// A try that was told [`CodeTry::After`] is done waiting (checked, or abandoned).
    pub fn done_waiting(&mut self, ip: IpAddr) {
        if let Some(address) = self.addresses.get_mut(&ip).filter(|a| a.waiting) {
            address.waiting = false;
            self.waiting -= 1;
        }
    }

    /// Addresses remembered now.
    pub fn addresses(&self) -> usize {
        self.addresses.len()
    }
}

/// Compares in time independent of where the strings differ.
pub(crate) fn keys_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::tests::headers;

    /// Each of the three ways accepts the right key and refuses a wrong one.
    #[test]
    fn three_ways_to_present_a_key() {
        let key = Some("s3cret");
        assert_eq!(check_key(key, Some("s3cret"), &HeaderMap::new()), KeyCheck::Accepted);
        assert_eq!(check_key(key, Some("wrong"), &HeaderMap::new()), KeyCheck::Refused);
        assert_eq!(check_key(key, None, &headers(&[("authorization", "Bearer s3cret")])), KeyCheck::Accepted);
        assert_eq!(check_key(key, None, &headers(&[("authorization", "Bearer nope")])), KeyCheck::Refused);
        assert_eq!(
            check_key(key, None, &headers(&[("sec-websocket-protocol", "chat, access_token.s3cret")])),
            KeyCheck::AcceptedSubprotocol("access_token.s3cret".into())
        );
        assert_eq!(check_key(key, None, &headers(&[("sec-websocket-protocol", "access_token.x")])), KeyCheck::Refused);
        assert_eq!(check_key(key, None, &HeaderMap::new()), KeyCheck::Refused);
        assert_eq!(check_key(None, None, &HeaderMap::new()), KeyCheck::Accepted, "an open host");
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    /// One address: five tries at once, the sixth waits its 12 s turn, a seventh while it waits
    /// is refused; once the address is full again it is forgotten.
    #[test]
    fn one_address_waits_its_turn() {
        let mut budget = CodeBudget::default();
        let t0 = 1_000 * SECOND;
        for n in 0..ADDRESS_BURST {
            assert_eq!(budget.try_code(ip(1), t0), CodeTry::Now, "try {n}");
        }
        assert_eq!(budget.try_code(ip(1), t0), CodeTry::After(ADDRESS_INTERVAL));
        assert_eq!(budget.try_code(ip(1), t0), CodeTry::Refused(2 * ADDRESS_INTERVAL), "one waiting try per address");
        assert_eq!(budget.try_code(ip(2), t0), CodeTry::Now, "another address is not slowed");
        budget.done_waiting(ip(1));
        assert_eq!(budget.try_code(ip(1), t0 + ADDRESS_INTERVAL), CodeTry::After(ADDRESS_INTERVAL));
        budget.done_waiting(ip(1));
        let full = t0 + (ADDRESS_BURST as Time + 2) * ADDRESS_INTERVAL;
        assert_eq!(budget.try_code(ip(3), full), CodeTry::Now);
        assert_eq!(budget.addresses(), 1, "only the newest address is remembered");
    }

    /// Many addresses: the party's 30 go at once, the next few wait their turn (at most 15 s),
    /// the rest are refused with the time to come back; the rate is the party's.
    #[test]
    fn many_addresses_share_the_party_budget() {
        let mut budget = CodeBudget::default();
        let t0 = 1_000 * SECOND;
        let tries: Vec<CodeTry> = (0..100).map(|n| budget.try_code(IpAddr::from([10, 0, n / 5, n % 5]), t0)).collect();
        let now = tries.iter().filter(|t| **t == CodeTry::Now).count();
        let waits: Vec<Time> =
            tries.iter().filter_map(|t| if let CodeTry::After(w) = t { Some(*w) } else { None }).collect();
        let expected: Vec<Time> = (1..=MAX_WAIT / PARTY_INTERVAL).map(|n| n * PARTY_INTERVAL).collect();
        assert_eq!((now, &waits), (PARTY_BURST as usize, &expected), "at once, then one turn each 2 s up to 15 s");
        assert!(waits.len() <= MAX_WAITING);
        assert!(tries.iter().all(|t| !matches!(t, CodeTry::Refused(0))), "a refusal says when to come back");
    }

    /// Same-host pages, the desktop app and native clients pass; other sites do not.
    #[test]
    fn origins() {
        assert!(origin_allowed(&headers(&[("host", "10.0.0.5:4000")])));
        assert!(origin_allowed(&headers(&[("host", "10.0.0.5:4000"), ("origin", "http://10.0.0.5:4000")])));
        assert!(origin_allowed(&headers(&[("host", "10.0.0.5:4000"), ("origin", "tauri://localhost")])));
        assert!(!origin_allowed(&headers(&[("host", "10.0.0.5:4000"), ("origin", "http://evil.example")])));
        assert!(!origin_allowed(&headers(&[("host", "10.0.0.5:4000"), ("origin", "http://10.0.0.5:4001")])));
        assert!(!origin_allowed(&headers(&[("origin", "http://10.0.0.5:4000")])), "no Host, no match");
    }
}

//! Two Partyline hosts on one LAN must see each other's sessions, see member-count updates, and
//! drop a stopped session within 2 s (goodbye packets, not a 75-minute TTL); a host bound to
//! loopback must stay invisible to the LAN. The LAN is two network namespaces joined by a veth
//! pair that the test creates (and deletes); the hosts are this test binary re-run in each.

mod support;

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use partyline_discovery::{Advertisement, Advertiser, BrowseEvent, Browser, SessionAd, SessionTxt};
use support::{
    LAN_A, LAN_B, Lan, child_report, child_sync_dir, now_ms, role, signal, sync_dir, wait_signal, wait_with_timeout,
};

/// Longest wait for a peer's first announcement: mdns-sd probes for ~750 ms, then announces.
const FIND_TIMEOUT: Duration = Duration::from_secs(15);

/// The burst of updates runs members 2..=20: far more than the debounce should let through.
const BURST_LAST: u32 = 20;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Runs `test_name` as hosts a and b on a fresh LAN; both must pass.
fn run_lan(test_name: &str, tag: &str) {
    let lan = Lan::new(tag);
    let dir = sync_dir(tag);
    let a = lan.spawn("a", test_name, &dir);
    let b = lan.spawn("b", test_name, &dir);
    let out_a = wait_with_timeout(a, "host a");
    let out_b = wait_with_timeout(b, "host b");
    let _ = std::fs::remove_dir_all(&dir);
    drop(lan);
    let reports: Vec<String> =
        [child_report("LAN host a", test_name, &out_a), child_report("LAN host b", test_name, &out_b)]
            .into_iter()
            .filter_map(Result::err)
            .collect();
    assert!(reports.is_empty(), "{}", reports.join("\n\n"));
}

/// Waits for the first event about `instance` that satisfies `pred`, failing with what was seen.
fn wait_for(browser: &Browser, timeout: Duration, what: &str, pred: impl Fn(&BrowseEvent) -> bool) -> BrowseEvent {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Some(e) = browser.recv_timeout(Duration::from_millis(20)) {
            if pred(&e) {
                return e;
            }
            seen.push(e);
        }
    }
    panic!("expected {what} within {timeout:?}, got only {seen:?}")
}

fn found(instance: &str) -> impl Fn(&BrowseEvent) -> bool + '_ {
    move |e| matches!(e, BrowseEvent::Found(ad) if ad.instance == instance)
}

fn ad_of(e: BrowseEvent) -> SessionAd {
    match e {
        BrowseEvent::Found(ad) | BrowseEvent::Updated(ad) => ad,
        other => panic!("expected Found/Updated, got {other:?}"),
    }
}

fn advertise(name: &str, addr: &str, port: u16, members: u32) -> Advertiser {
    Advertiser::start(Advertisement {
        instance_name: name.into(),
        port,
        addrs: vec![ip(addr)],
        txt: SessionTxt::new(format!("id-{name}"), name, members, 10, false),
    })
    .unwrap_or_else(|e| panic!("expected {name} to advertise on {addr}, got {e}"))
}

/// Each host finds the other; an update (two within the debounce window) reaches the other host
/// as the last value; a shut-down host is lost by the other within 2 s.
#[test]
fn two_hosts_find_update_and_goodbye() {
    match role().as_deref() {
        None => run_lan("two_hosts_find_update_and_goodbye", "fu"),
        Some("a") => host_a(&child_sync_dir()),
        Some("b") => host_b(&child_sync_dir()),
        Some(other) => panic!("unexpected role {other}"),
    }
}

fn host_a(dir: &Path) {
    let browser = Browser::start().expect("browser should start");
    let adv = advertise("Alpha", LAN_A, 47010, 1);
    let beta = ad_of(wait_for(&browser, FIND_TIMEOUT, "Found(Beta)", found("Beta")));
    assert_eq!(beta.addrs, vec![ip(LAN_B)], "expected Beta at [{LAN_B}], got {:?}", beta.addrs);
    assert_eq!(beta.port, 47020, "expected Beta on port 47020, got {}", beta.port);
    wait_signal(dir, "b_found_a", FIND_TIMEOUT);

    // A burst of updates well inside one debounce window: the last must arrive, and the burst
    // must be coalesced into a few announcements, not twenty.
    for members in 2..=BURST_LAST {
        adv.update(SessionTxt::new("id-Alpha", "Alpha", members, 10, false)).unwrap();
    }
    wait_signal(dir, "b_saw_update", Duration::from_secs(10));

    signal(dir, "a_stopping");
    adv.shutdown().expect("shutdown should succeed");
    wait_signal(dir, "b_done", Duration::from_secs(10));
}

fn host_b(dir: &Path) {
    let browser = Browser::start().expect("browser should start");
    let adv = advertise("Beta", LAN_B, 47020, 5);
    let alpha = ad_of(wait_for(&browser, FIND_TIMEOUT, "Found(Alpha)", found("Alpha")));
    assert_eq!(alpha.addrs, vec![ip(LAN_A)], "expected Alpha at [{LAN_A}], got {:?}", alpha.addrs);
    assert_eq!(alpha.txt.members, 1, "expected Alpha members=1, got {}", alpha.txt.members);
    assert!(alpha.host.starts_with("partyline-"), "expected a random partyline-* host name, got {}", alpha.host);
    signal(dir, "b_found_a");

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut updates = Vec::new();
    while updates.last().is_none_or(|m| *m != BURST_LAST) {
        assert!(
            Instant::now() < deadline,
            "expected Updated(Alpha, members={BURST_LAST}) within 5 s, got member counts {updates:?}"
        );
        match browser.recv_timeout(Duration::from_millis(20)) {
            Some(BrowseEvent::Updated(ad)) if ad.instance == "Alpha" => updates.push(ad.txt.members),
            _ => {}
        }
    }
    assert!(
        updates.len() <= 2,
        "expected the burst of {} updates coalesced into at most 2 announcements, got {updates:?}",
        BURST_LAST - 1
    );
    println!("host b saw Alpha's member counts {updates:?}");
    signal(dir, "b_saw_update");

    let stopping = wait_signal(dir, "a_stopping", Duration::from_secs(10));
    wait_for(
        &browser,
        Duration::from_secs(5),
        "Lost(Alpha)",
        |e| matches!(e, BrowseEvent::Lost { instance } if instance == "Alpha"),
    );
    let lost_after = now_ms() - stopping;
    assert!(lost_after < 2000, "expected Alpha lost within 2000 ms of its shutdown, got {lost_after} ms");
    println!("host b lost Alpha {lost_after} ms after its shutdown began");
    signal(dir, "b_done");
    adv.shutdown().expect("shutdown should succeed");
}

/// Lock, then unlock 1.5 s later, then again with 0.8 s between: every change reaches the other
/// host, including each return to a value it held before. (Without the TXT revision, the unlock
/// and every later change went unreported: the browser still held the first, identical record.)
#[test]
fn changing_back_and_forth_is_seen_every_time() {
    match role().as_deref() {
        None => run_lan("changing_back_and_forth_is_seen_every_time", "bf"),
        Some("a") => toggler(&child_sync_dir()),
        Some("b") => watcher(&child_sync_dir()),
        Some(other) => panic!("unexpected role {other}"),
    }
}

const TOGGLES: [(bool, u64); 4] = [(true, 1500), (false, 4000), (true, 800), (false, 0)];

fn toggler(dir: &Path) {
    let adv = advertise("Gamma", LAN_A, 47030, 0);
    wait_signal(dir, "b_found", FIND_TIMEOUT);
    for (locked, pause_ms) in TOGGLES {
        adv.update(SessionTxt::new("id-Gamma", "Gamma", 0, 10, locked)).unwrap();
        std::thread::sleep(Duration::from_millis(pause_ms));
    }
    wait_signal(dir, "b_done", Duration::from_secs(15));
    adv.shutdown().expect("shutdown should succeed");
}

fn watcher(dir: &Path) {
    let browser = Browser::start().expect("browser should start");
    let gamma = ad_of(wait_for(&browser, FIND_TIMEOUT, "Found(Gamma)", found("Gamma")));
    assert!(!gamma.txt.locked);
    signal(dir, "b_found");
    let want: Vec<bool> = TOGGLES.iter().map(|(locked, _)| *locked).collect();
    let mut seen: Vec<bool> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(12);
    while seen != want && Instant::now() < deadline {
        if let Some(BrowseEvent::Updated(ad)) = browser.recv_timeout(Duration::from_millis(20))
            && ad.instance == "Gamma"
            && seen.last().copied().unwrap_or(false) != ad.txt.locked
        {
            seen.push(ad.txt.locked);
        }
    }
    assert_eq!(seen, want, "expected every lock change reported, in order");
    signal(dir, "b_done");
}

/// A host bound to loopback advertises on loopback only: its own machine sees it, the LAN does not
/// (while a LAN-bound session from the same host is seen, proving the LAN path works).
#[test]
fn loopback_bound_host_is_invisible_on_the_lan() {
    match role().as_deref() {
        None => run_lan("loopback_bound_host_is_invisible_on_the_lan", "lo"),
        Some("a") => {
            let dir = child_sync_dir();
            let browser = Browser::start().expect("browser should start");
            let _hidden = advertise("Hidden", "127.0.0.1", 47030, 1);
            let _visible = advertise("Visible", LAN_A, 47031, 1);
            let local = ad_of(wait_for(&browser, FIND_TIMEOUT, "Found(Hidden) locally", found("Hidden")));
            assert_eq!(
                local.addrs,
                vec![ip("127.0.0.1")],
                "expected Hidden at [127.0.0.1] locally, got {:?}",
                local.addrs
            );
            wait_signal(&dir, "b_done", Duration::from_secs(30));
        }
        Some("b") => {
            let dir = child_sync_dir();
            let browser = Browser::start().expect("browser should start");
            let deadline = Instant::now() + FIND_TIMEOUT;
            let mut saw_visible_at = None;
            let mut seen = Vec::new();
            // Watch until 5 s after the LAN-bound session showed up: ample for the other to.
            while saw_visible_at.is_none_or(|t: Instant| t.elapsed() < Duration::from_secs(5)) {
                assert!(
                    Instant::now() < deadline || saw_visible_at.is_some(),
                    "expected Found(Visible) within {FIND_TIMEOUT:?}, got only {seen:?}"
                );
                if let Some(e) = browser.recv_timeout(Duration::from_millis(50)) {
                    if found("Visible")(&e) {
                        saw_visible_at = Some(Instant::now());
                    }
                    seen.push(e);
                }
            }
            assert!(
                !seen.iter().any(|e| matches!(e, BrowseEvent::Found(ad) if ad.instance == "Hidden")),
                "expected the loopback-bound session to stay off the LAN, got {seen:?}"
            );
            signal(&dir, "b_done");
        }
        Some(other) => panic!("unexpected role {other}"),
    }
}

/// When the chosen interface's address changes, the session is re-advertised at the new address
/// (seen by the other host) and the advertiser reports the change.
#[test]
fn address_change_is_re_advertised() {
    const NEW_A: &str = "10.231.0.11";
    match role().as_deref() {
        None => run_lan("address_change_is_re_advertised", "ac"),
        Some("a") => {
            let dir = child_sync_dir();
            let adv = advertise("Mover", LAN_A, 47050, 1);
            let changes = adv.addr_changes();
            wait_signal(&dir, "b_found", FIND_TIMEOUT);
            let script = format!("ip addr del {LAN_A}/24 dev eth0 && ip addr add {NEW_A}/24 dev eth0");
            let status = std::process::Command::new("bash").args(["-c", &script]).status();
            assert!(status.as_ref().is_ok_and(|s| s.success()), "expected the address swap to succeed, got {status:?}");
            let got = changes.recv_timeout(Duration::from_secs(10));
            assert_eq!(got, Ok(vec![ip(NEW_A)]), "expected addr_changes to report [{NEW_A}], got {got:?}");
            assert_eq!(adv.addrs(), vec![ip(NEW_A)], "expected addrs() [{NEW_A}], got {:?}", adv.addrs());
            wait_signal(&dir, "b_done", Duration::from_secs(30));
        }
        Some("b") => {
            let dir = child_sync_dir();
            let browser = Browser::start().expect("browser should start");
            let first = ad_of(wait_for(&browser, FIND_TIMEOUT, "Found(Mover)", found("Mover")));
            assert_eq!(first.addrs, vec![ip(LAN_A)], "expected [{LAN_A}], got {:?}", first.addrs);
            signal(&dir, "b_found");
            let moved = ad_of(wait_for(
                &browser,
                Duration::from_secs(15),
                "Updated(Mover) at the new address only",
                |e| matches!(e, BrowseEvent::Updated(ad) if ad.instance == "Mover" && ad.addrs == vec![ip(NEW_A)]),
            ));
            println!("host b saw Mover move to {:?}", moved.addrs);
            signal(&dir, "b_done");
        }
        Some(other) => panic!("unexpected role {other}"),
    }
}

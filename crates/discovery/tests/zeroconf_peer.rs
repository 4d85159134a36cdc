//! Our mDNS must interoperate with an independent implementation: a session we advertise is found
//! and fully decoded by python-zeroconf, and a session python-zeroconf advertises is found, decoded
//! and (after its goodbye) lost by our browser, while a malformed one is skipped without harm.
//! Everything runs in a private network namespace with only loopback, which the test creates.

mod support;

use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use partyline_discovery::{Advertisement, Advertiser, BrowseEvent, Browser, SessionTxt};
use support::{in_private_netns, peer_script, require_python_zeroconf, run_with_timeout};

const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// python-zeroconf finds our advertisement and reads every TXT key, and no join key is published.
#[test]
fn python_zeroconf_finds_our_session() {
    if !in_private_netns("python_zeroconf_finds_our_session") {
        return;
    }
    require_python_zeroconf();
    let txt = SessionTxt::new("sess-1", "Friday party", 3, 12, true);
    let adv = Advertiser::start(Advertisement {
        instance_name: "Friday party".into(),
        port: 47001,
        addrs: vec![LOOPBACK],
        txt,
    })
    .expect("advertiser should start on loopback");

    let mut cmd = Command::new("python3");
    cmd.arg(peer_script("zc_browse.py")).args(["Friday party", "15"]);
    let out = run_with_timeout(cmd, "python3 zc_browse.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "expected python-zeroconf to find \"Friday party\", got {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let host = adv.host_name().to_string();
    let want = format!(
        "name=Friday party._partyline._tcp.local.\n\
         server={host}\n\
         port=47001\n\
         addr=127.0.0.1\n\
         txt:cap=12\n\
         txt:id=sess-1\n\
         txt:locked=1\n\
         txt:members=3\n\
         txt:name=Friday party\n\
         txt:path=/ws\n\
         txt:rev=0\n\
         txt:v=1\n"
    );
    assert_eq!(stdout, want, "expected:\n{want}\ngot:\n{stdout}");
    assert!(
        host.starts_with("partyline-") && host.ends_with(".local.") && host.len() == 25,
        "expected a random host name partyline-XXXXXXXX.local., got {host}"
    );
    adv.shutdown().expect("shutdown should succeed");
}

/// Our browser finds python-zeroconf's session with its TXT decoded, skips a malformed one, and
/// reports the session lost within 2 s of python-zeroconf's goodbye.
#[test]
fn we_find_python_zeroconf_session() {
    if !in_private_netns("we_find_python_zeroconf_session") {
        return;
    }
    require_python_zeroconf();
    let browser = Browser::start().expect("browser should start");
    let mut peer = Command::new("python3")
        .arg(peer_script("zc_advertise.py"))
        .arg("Py party|4711|v=1,id=py-7,name=Py party,members=2,cap=8,locked=0,path=/ws")
        .arg("Broken|4712|v=1,id=bad,name=Broken,members=lots,cap=8,locked=0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cannot start python3 zc_advertise.py");

    let deadline = Instant::now() + Duration::from_secs(15);
    let mut found = None;
    let mut others = Vec::new();
    while Instant::now() < deadline {
        match browser.recv_timeout(Duration::from_millis(200)) {
            Some(BrowseEvent::Found(ad)) if ad.instance == "Py party" => {
                found = Some(ad);
                break;
            }
            Some(other) => others.push(other),
            None => {}
        }
    }
    let ad = found.unwrap_or_else(|| {
        let _ = peer.kill();
        panic!("expected Found(\"Py party\") within 15 s, got only {others:?}")
    });
    let want = SessionTxt::new("py-7", "Py party", 2, 8, false);
    assert_eq!(ad.txt, want, "expected TXT {want:?}, got {:?}", ad.txt);
    assert_eq!(ad.port, 4711, "expected port 4711, got {}", ad.port);
    assert_eq!(ad.addrs, vec![LOOPBACK], "expected [127.0.0.1], got {:?}", ad.addrs);
    assert_eq!(ad.host, "zc-peer.local.", "expected host zc-peer.local., got {}", ad.host);

    // Both services were announced together; give the malformed one time to be (not) reported.
    let settle = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < settle {
        if let Some(e) = browser.recv_timeout(Duration::from_millis(100)) {
            others.push(e);
        }
    }
    assert!(
        !others
            .iter()
            .any(|e| matches!(e, BrowseEvent::Found(ad) | BrowseEvent::Updated(ad) if ad.instance == "Broken")),
        "expected the malformed session to be skipped, got {others:?}"
    );

    // Closing the peer's stdin makes it unregister: goodbye packets.
    drop(peer.stdin.take());
    let bye = Instant::now();
    let mut lost = false;
    while bye.elapsed() < Duration::from_secs(2) {
        if matches!(
            browser.recv_timeout(Duration::from_millis(50)),
            Some(BrowseEvent::Lost { instance }) if instance == "Py party"
        ) {
            lost = true;
            break;
        }
    }
    let elapsed = bye.elapsed();
    let _ = peer.wait();
    assert!(lost, "expected Lost(\"Py party\") within 2 s of the goodbye, got none after {elapsed:?}");
    let _ = std::io::stdout().flush();
}

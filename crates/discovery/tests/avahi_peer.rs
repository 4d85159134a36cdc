//! Our mDNS must interoperate with Avahi, the responder on most Linux desktops: `avahi-browse`
//! finds and resolves the session we advertise (host, address, port, every TXT key), and a session
//! `avahi-publish` advertises is found and decoded by our browser. avahi-daemon and a private
//! D-Bus run inside network and mount namespaces the test creates (real root needed).

mod support;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use partyline_discovery::{Advertisement, Advertiser, BrowseEvent, Browser, SessionTxt};
use support::in_private_netns_as_root;

const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// A D-Bus system bus that lets anyone own and call anything: it exists only for this test's
/// avahi-daemon and avahi clients, inside the namespace.
const BUS_CONF: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=@BUS@</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"#;

/// Avahi with nothing of its own to publish (no host records, no workstation service), so the
/// only `_partyline._tcp` records on the wire are the test's; no rate limit so retries are quick.
const AVAHI_CONF: &str = "[server]
use-ipv4=yes
use-ipv6=no
enable-dbus=yes
ratelimit-interval-usec=0
[wide-area]
enable-wide-area=no
[publish]
publish-addresses=no
publish-hinfo=no
publish-workstation=no
publish-domain=no
";

/// How long avahi-daemon gets to come up; it takes ~100 ms, this only bounds a failure.
const DAEMON_START: Duration = Duration::from_secs(10);

/// avahi-daemon with its private bus; both are killed (by pid) on drop.
struct Avahi {
    dir: PathBuf,
    bus: String,
    children: Vec<Child>,
}

impl Avahi {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("partyline-avahi-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("bus");
        let bus = format!("unix:path={}", socket.display());
        std::fs::write(dir.join("bus.conf"), BUS_CONF.replace("@BUS@", &socket.display().to_string())).unwrap();
        std::fs::write(dir.join("avahi.conf"), AVAHI_CONF).unwrap();
        let mut me = Avahi { dir: dir.clone(), bus: bus.clone(), children: Vec::new() };
        me.children.push(spawn(
            Command::new("dbus-daemon")
                .arg(format!("--config-file={}", dir.join("bus.conf").display()))
                .arg("--nofork"),
            "dbus-daemon (apt-get install dbus)",
        ));
        wait_until(DAEMON_START, "the private D-Bus socket", || socket.exists());
        std::fs::create_dir_all("/run/avahi-daemon").unwrap();
        me.children.push(spawn(
            Command::new("avahi-daemon")
                .arg("-f")
                .arg(dir.join("avahi.conf"))
                .args(["--no-drop-root", "--no-chroot", "--no-rlimits", "--no-proc-title"])
                .env("DBUS_SYSTEM_BUS_ADDRESS", &bus),
            "avahi-daemon (apt-get install avahi-daemon)",
        ));
        wait_until(DAEMON_START, "avahi-daemon to answer `avahi-daemon -c`", || {
            Command::new("avahi-daemon").arg("-c").status().is_ok_and(|s| s.success())
        });
        me
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("DBUS_SYSTEM_BUS_ADDRESS", &self.bus);
        cmd
    }
}

impl Drop for Avahi {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn(cmd: &mut Command, what: &str) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"))
}

fn wait_until(timeout: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < timeout, "expected {what} within {timeout:?}, got nothing (see stderr above)");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One resolved `avahi-browse -p` line: `=;iface;proto;name;type;domain;host;addr;port;txt`.
#[derive(Debug)]
struct Resolved {
    name: String,
    host: String,
    addr: String,
    port: String,
    txt: Vec<String>,
}

fn avahi_browse(avahi: &Avahi) -> Vec<Resolved> {
    let out = avahi
        .command("avahi-browse")
        .args(["--resolve", "--terminate", "--parsable", "--no-db-lookup", "_partyline._tcp"])
        .output()
        .expect("cannot run avahi-browse (apt-get install avahi-utils)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("=;"))
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(10, ';').collect();
            (f.len() == 10).then(|| Resolved {
                name: f[3].to_string(),
                host: f[6].to_string(),
                addr: f[7].to_string(),
                port: f[8].to_string(),
                txt: f[9].split("\" \"").map(|s| s.trim_matches('"').to_string()).collect(),
            })
        })
        .collect()
}

/// avahi-browse finds and resolves our advertisement: host, address, port and all TXT keys.
#[test]
fn avahi_browse_finds_our_session() {
    if !in_private_netns_as_root("avahi_browse_finds_our_session") {
        return;
    }
    let avahi = Avahi::start();
    let adv = Advertiser::start(Advertisement {
        instance_name: "Avahi sees us".into(),
        port: 47040,
        addrs: vec![LOOPBACK],
        txt: SessionTxt::new("sess-av", "Avahi sees us", 4, 20, false),
    })
    .expect("advertiser should start on loopback");

    let deadline = Instant::now() + Duration::from_secs(15);
    let ours = loop {
        let seen = avahi_browse(&avahi);
        if let Some(r) = seen.into_iter().find(|r| r.name == "Avahi\\032sees\\032us") {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "expected avahi-browse to resolve \"Avahi sees us\" within 15 s, got nothing"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let host = adv.host_name().trim_end_matches('.').to_string();
    assert_eq!(ours.host, host, "expected host {host}, got {}", ours.host);
    assert_eq!(ours.addr, "127.0.0.1", "expected 127.0.0.1, got {}", ours.addr);
    assert_eq!(ours.port, "47040", "expected port 47040, got {}", ours.port);
    let mut txt = ours.txt.clone();
    txt.sort();
    // `rev=0`: the first publish (the advertiser bumps it on every re-announcement).
    let want = ["cap=20", "id=sess-av", "locked=0", "members=4", "name=Avahi sees us", "path=/ws", "rev=0", "v=1"];
    assert_eq!(txt, want, "expected TXT {want:?}, got {txt:?}");
    adv.shutdown().expect("shutdown should succeed");
}

/// Our browser finds a session published with avahi-publish and decodes its TXT.
#[test]
fn we_find_avahi_published_session() {
    if !in_private_netns_as_root("we_find_avahi_published_session") {
        return;
    }
    let avahi = Avahi::start();
    let browser = Browser::start().expect("browser should start");
    // Avahi publishes no host records of its own here (see AVAHI_CONF), so the peer's host name
    // and address are published explicitly.
    let mut address = avahi
        .command("avahi-publish")
        .args(["--address", "--no-reverse", "av-peer.local", "127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cannot run avahi-publish (apt-get install avahi-utils)");
    let mut publish = avahi
        .command("avahi-publish")
        .args([
            "--service",
            "--host=av-peer.local",
            "Avahi party",
            "_partyline._tcp",
            "4800",
            "v=1",
            "id=av-1",
            "name=Avahi party",
            "members=6",
            "cap=30",
            "locked=1",
            "path=/ws",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cannot run avahi-publish (apt-get install avahi-utils)");

    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    let ad = loop {
        if let Some(e) = browser.recv_timeout(Duration::from_millis(100)) {
            match e {
                BrowseEvent::Found(ad) if ad.instance == "Avahi party" => break Some(ad),
                other => seen.push(other),
            }
        }
        if Instant::now() > deadline {
            break None;
        }
    };
    for child in [&mut publish, &mut address] {
        let _ = child.kill();
        let _ = child.wait();
    }
    drop(avahi);
    let ad = ad.unwrap_or_else(|| panic!("expected Found(\"Avahi party\") within 15 s, got {seen:?}"));
    let want = SessionTxt::new("av-1", "Avahi party", 6, 30, true);
    assert_eq!(ad.txt, want, "expected TXT {want:?}, got {:?}", ad.txt);
    assert_eq!(ad.port, 4800, "expected port 4800, got {}", ad.port);
    assert_eq!(ad.host, "av-peer.local.", "expected host av-peer.local., got {}", ad.host);
    assert!(ad.addrs.contains(&LOOPBACK), "expected 127.0.0.1 among the addresses, got {:?}", ad.addrs);
}

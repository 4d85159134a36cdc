//! Shared harness: run a test's body inside network namespaces the test creates itself.
//!
//! mDNS is multicast; it must never reach the machine's real interfaces. A test therefore
//! re-executes its own binary, filtered to itself, inside a private namespace (`unshare -rn`,
//! loopback only) or on a simulated two-host LAN (`ip netns` + a veth pair). If a namespace cannot
//! be made, the test fails with the reason; it never falls back to the real network.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Set in a re-executed child: which role it plays (`ns` = single namespace, `a`/`b` = LAN hosts).
pub const ROLE_ENV: &str = "PARTYLINE_NETNS";
/// Set in LAN children: a directory both hosts share for hand-shakes through files.
pub const SYNC_ENV: &str = "PARTYLINE_SYNC_DIR";

/// Loopback up, multicast on, and a multicast route, as `shared/netns-run` does; without the route
/// the kernel has nowhere to send 224.0.0.251 in a namespace with no default route.
pub const LO_SETUP: &str = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo";

/// Longest a child test may run: the slowest body waits ~20 s for peers; this only stops a hang.
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

/// The role this process plays, or `None` in the parent that must set up namespaces.
pub fn role() -> Option<String> {
    std::env::var(ROLE_ENV).ok()
}

/// Arguments that make the test binary run exactly one test, with its output.
fn self_args(test_name: &str) -> Vec<String> {
    vec![test_name.to_string(), "--exact".into(), "--nocapture".into(), "--test-threads=1".into()]
}

fn current_exe() -> PathBuf {
    std::env::current_exe().expect("cannot find the current test binary to re-execute it")
}

/// Runs the test `test_name` (the name of the calling `#[test]` fn) again inside a fresh network
/// namespace with only loopback up, and fails unless it passed there. Returns `true` in the child,
/// where the caller runs its real body.
pub fn in_private_netns(test_name: &str) -> bool {
    if role().is_some() {
        return true;
    }
    reexec_in(test_name, &["--map-root-user", "--net"], LO_SETUP, "unshare -rn (private network namespace)");
    false
}

/// Like [`in_private_netns`], plus a private mount namespace with a fresh tmpfs on `/run`, and
/// without a user namespace: for daemons (avahi-daemon, dbus-daemon) that need real root and write
/// under `/run`. Fails clearly when not run as root.
pub fn in_private_netns_as_root(test_name: &str) -> bool {
    if role().is_some() {
        return true;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid_root =
        status.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2)) == Some("0");
    assert!(
        euid_root,
        "expected to run as root (avahi-daemon cannot start inside an unprivileged user \
         namespace: it chowns its runtime directory to the avahi user), got a non-root user"
    );
    let setup = format!("{LO_SETUP} && mount -t tmpfs partyline-run /run");
    reexec_in(test_name, &["--net", "--mount"], &setup, "unshare -nm (private network and mount namespaces)");
    false
}

fn reexec_in(test_name: &str, unshare_args: &[&str], setup: &str, what: &str) {
    let script = format!("{setup} && exec \"$@\"");
    let mut cmd = Command::new("unshare");
    cmd.args(unshare_args)
        .args(["--", "bash", "-c", &script, "netns"])
        .arg(current_exe())
        .args(self_args(test_name))
        .env(ROLE_ENV, "ns");
    let out = run_with_timeout(cmd, what);
    assert_child_passed(what, test_name, &out);
}

/// Fails the test with the child's output unless it ran exactly one test and it passed.
pub fn assert_child_passed(what: &str, test_name: &str, out: &Output) {
    if let Err(report) = child_report(what, test_name, out) {
        panic!("{report}");
    }
}

/// `Ok` if the child ran exactly one test and it passed; else a report with its whole output.
/// Either way the child's output is echoed (visible with --nocapture).
pub fn child_report(what: &str, test_name: &str, out: &Output) -> Result<(), String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- {what} child stdout ---\n{stdout}\n--- {what} child stderr ---\n{stderr}");
    let ran_one = stdout.contains("test result: ok. 1 passed");
    if out.status.success() && ran_one {
        return Ok(());
    }
    Err(format!(
        "{test_name} in the {what}: expected exit 0 with \"1 passed\", got {} \
         (a setup failure here means the namespace could not be created; the test never \
         falls back to the real network)\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    ))
}

/// Runs `cmd` to completion, killing it after [`CHILD_TIMEOUT`].
pub fn run_with_timeout(mut cmd: Command, what: &str) -> Output {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child =
        cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e} (is it installed? see tests/peers/setup.sh)"));
    wait_with_timeout(child, what)
}

/// Waits for `child`, killing it after [`CHILD_TIMEOUT`].
pub fn wait_with_timeout(child: Child, what: &str) -> Output {
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    let watchdog = std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < CHILD_TIMEOUT {
            if flag.load(std::sync::atomic::Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Kill only the child we started, by its id.
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        true
    });
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("cannot wait for {what}: {e}"));
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let killed = watchdog.join().unwrap_or(false);
    assert!(
        !killed,
        "{what}: expected to finish within {CHILD_TIMEOUT:?}, got killed after the timeout\n\
         --- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Two network namespaces joined by a veth pair: host `a` at 10.231.0.1/24 on `eth0`, host `b`
/// at 10.231.0.2/24 on `eth0`. Deleted on drop.
pub struct Lan {
    /// Namespace name of host a.
    pub a: String,
    /// Namespace name of host b.
    pub b: String,
    /// The veth end created for host a, deleted on drop if setup stopped before moving it.
    veth_a: String,
}

/// Host a's LAN address (a private /24 that exists only inside the test namespaces).
pub const LAN_A: &str = "10.231.0.1";
/// Host b's LAN address.
pub const LAN_B: &str = "10.231.0.2";

impl Lan {
    /// Creates the namespaces, or fails the test saying what did not work.
    pub fn new(tag: &str) -> Self {
        // Unique per process and test, so parallel tests and parallel runs never collide.
        let base = format!("pl{}{}", std::process::id(), tag);
        let veth_a = format!("{base}va");
        let lan = Lan { a: format!("{base}a"), b: format!("{base}b"), veth_a: veth_a.clone() };
        let veth_b = format!("{base}vb");
        let steps: Vec<Vec<String>> = vec![
            vec!["netns".into(), "add".into(), lan.a.clone()],
            vec!["netns".into(), "add".into(), lan.b.clone()],
            vec![
                "link".into(),
                "add".into(),
                veth_a.clone(),
                "type".into(),
                "veth".into(),
                "peer".into(),
                "name".into(),
                veth_b.clone(),
            ],
            vec!["link".into(), "set".into(), veth_a.clone(), "netns".into(), lan.a.clone()],
            vec!["link".into(), "set".into(), veth_b.clone(), "netns".into(), lan.b.clone()],
        ];
        for args in &steps {
            ip(args);
        }
        for (ns, veth, addr) in [(&lan.a, &veth_a, LAN_A), (&lan.b, &veth_b, LAN_B)] {
            let n = |rest: &str| -> Vec<String> {
                let mut v = vec!["-n".to_string(), ns.clone()];
                v.extend(rest.split_whitespace().map(String::from));
                v
            };
            ip(&n(&format!("link set {veth} name eth0")));
            ip(&n(&format!("addr add {addr}/24 dev eth0")));
            ip(&n("link set lo up"));
            ip(&n("link set eth0 up multicast on"));
            ip(&n("route add 224.0.0.0/4 dev eth0"));
        }
        lan
    }

    /// Starts this test binary's `test_name` as host `role` (`"a"` or `"b"`) in its namespace.
    pub fn spawn(&self, role: &str, test_name: &str, sync_dir: &Path) -> Child {
        let ns = if role == "a" { &self.a } else { &self.b };
        Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(current_exe())
            .args(self_args(test_name))
            .env(ROLE_ENV, role)
            .env(SYNC_ENV, sync_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `ip netns exec {ns}`: {e}"))
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Deleting a namespace also deletes the veth end inside it, and with it the pair.
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = Command::new("ip").args(["link", "del", &self.veth_a]).stderr(Stdio::null()).status();
    }
}

fn ip(args: &[String]) {
    let out = Command::new("ip").args(args).output().unwrap_or_else(|e| {
        panic!("cannot run `ip {}`: {e} (iproute2 is needed to build the test LAN)", args.join(" "))
    });
    assert!(
        out.status.success(),
        "`ip {}`: expected success, got {} ({}). Building the simulated LAN needs root \
         (CAP_SYS_ADMIN, CAP_NET_ADMIN); the test does not fall back to the real network.",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// A fresh directory under the system temp dir for the two hosts' hand-shake files.
pub fn sync_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("partyline-discovery-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("cannot create a temp dir for the LAN hand-shake");
    dir
}

/// In a LAN child: the shared hand-shake directory.
pub fn child_sync_dir() -> PathBuf {
    PathBuf::from(std::env::var(SYNC_ENV).expect("LAN child started without PARTYLINE_SYNC_DIR"))
}

/// Creates hand-shake file `name` holding the current wall-clock time in milliseconds.
pub fn signal(dir: &Path, name: &str) {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis();
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, ms.to_string()).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

/// Waits up to `timeout` for hand-shake file `name`; returns the time written in it.
pub fn wait_signal(dir: &Path, name: &str, timeout: Duration) -> u128 {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            return text.trim().parse().unwrap();
        }
        assert!(
            start.elapsed() < timeout,
            "expected the other host to signal {name:?} within {timeout:?}, got nothing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wall-clock milliseconds, comparable across the two hosts (they share the kernel clock).
pub fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()
}

/// Path of a peer script in `tests/peers`.
pub fn peer_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers").join(name)
}

/// Fails clearly if python-zeroconf is not installed.
pub fn require_python_zeroconf() {
    let ok =
        Command::new("python3").args(["-c", "import zeroconf"]).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(
        ok,
        "expected python3 with the `zeroconf` package, got none: run \
         crates/discovery/tests/peers/setup.sh (pip install zeroconf)"
    );
}

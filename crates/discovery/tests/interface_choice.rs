//! The join URL and the mDNS records must carry the LAN address a phone can reach: never a Docker
//! bridge's, a VPN tunnel's, or a container veth's, even when the VPN holds the best default route.
//! The interfaces are real ones, created in a private network namespace the test makes.

mod support;

use std::net::IpAddr;
use std::process::Command;

use partyline_discovery::interfaces::{self, InterfaceError};
use support::in_private_netns;

/// Builds the fake machine: docker0 (bridge), tun0 (tun, holding the lowest-metric default route as
/// a VPN would), eth0 and wlan0 (veth pairs whose peers are named veth*), wlan0 holding the LAN's
/// default route.
fn build_machine() {
    let script = "set -e
        ip link add docker0 type bridge
        ip addr add 172.17.0.1/16 dev docker0
        ip link set docker0 up
        ip tuntap add tun0 mode tun
        ip addr add 10.8.0.2/24 dev tun0
        ip link set tun0 up
        ip link add eth0 type veth peer name vethe0
        ip addr add 192.168.77.2/24 dev eth0
        ip addr add 192.168.77.3/24 dev vethe0
        ip link set eth0 up
        ip link set vethe0 up
        ip link add wlan0 type veth peer name vethw0
        ip addr add 192.168.88.5/24 dev wlan0
        ip link set wlan0 up
        ip link set vethw0 up
        ip route add default dev tun0 metric 50
        ip route add default via 192.168.88.1 dev wlan0 metric 600";
    let out = Command::new("bash").args(["-c", script]).output().expect("cannot run bash to build the fake interfaces");
    assert!(
        out.status.success(),
        "expected the fake interfaces to be created, got {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// With docker0, tun0 (holding a default route) and veth peers present, the choice is the
/// default-route LAN interface, then the other LAN one, and nothing else.
#[test]
fn skips_docker_tun_and_veth_and_prefers_the_lan_default_route() {
    if !in_private_netns("skips_docker_tun_and_veth_and_prefers_the_lan_default_route") {
        return;
    }
    build_machine();
    let listed = interfaces::list().expect("interface list should be readable");
    for name in ["docker0", "tun0", "vethe0", "eth0", "wlan0"] {
        assert!(
            listed.iter().any(|i| i.name == name),
            "precondition: expected {name} in the OS interface list, got {listed:?}"
        );
    }
    let routes = interfaces::default_route_interfaces();
    let want_routes = vec!["tun0".to_string(), "wlan0".to_string()];
    assert_eq!(routes, want_routes, "expected default routes {want_routes:?}, got {routes:?}");

    let got: Vec<(String, IpAddr, bool)> = interfaces::choose(None)
        .expect("a LAN interface should be chosen")
        .into_iter()
        .map(|c| (c.name, c.addr, c.default_route))
        .collect();
    let want = vec![("wlan0".to_string(), ip("192.168.88.5"), true), ("eth0".to_string(), ip("192.168.77.2"), false)];
    assert_eq!(got, want, "expected {want:?}, got {got:?}");
}

/// `--interface` picks a named interface (even a virtual one) and an unknown name lists the real
/// ones.
#[test]
fn named_interface_and_unknown_name() {
    if !in_private_netns("named_interface_and_unknown_name") {
        return;
    }
    build_machine();
    let got: Vec<IpAddr> =
        interfaces::choose(Some("docker0")).expect("docker0 exists").into_iter().map(|c| c.addr).collect();
    assert_eq!(got, vec![ip("172.17.0.1")], "expected [172.17.0.1], got {got:?}");

    match interfaces::choose(Some("eth9")) {
        Err(err @ InterfaceError::NotFound { .. }) => {
            let msg = err.to_string();
            for name in ["lo", "docker0", "tun0", "eth0", "wlan0"] {
                assert!(msg.contains(name), "expected {name} listed in {msg:?}");
            }
        }
        other => panic!("expected NotFound for eth9, got {other:?}"),
    }
}

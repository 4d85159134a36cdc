//! Which local address a phone should be sent to.
//!
//! A laptop has many addresses; most are useless to a phone on the same Wi-Fi: loopback, link-local
//! ones, and those of bridges, VPN tunnels and VM adapters. [`choose_from`] decides from a given
//! list (pure, so it is tested with made-up interfaces); [`choose`] reads the machine's list and its
//! default route and calls it.

use std::net::{IpAddr, Ipv6Addr};

use thiserror::Error;

/// Name prefixes of virtual interfaces a phone on the LAN cannot reach, with the reason for each.
///
/// Matched case-insensitively at the start of the name. Only used when no interface was named
/// explicitly: `--interface docker0` is honoured.
pub const VIRTUAL_PREFIXES: &[(&str, &str)] = &[
    ("docker", "Docker's default bridge (docker0): only containers sit behind it"),
    ("br-", "Docker user-defined network bridges (br-<hash>)"),
    (
        "veth",
        "the host end of a container's virtual Ethernet pair; also Windows' \"vEthernet\" \
         Hyper-V/WSL switch adapters",
    ),
    ("virbr", "libvirt/KVM NAT bridge: only VMs sit behind it"),
    ("tun", "layer-3 VPN tunnels (OpenVPN and others): the peer is the VPN, not the LAN"),
    ("tap", "layer-2 VPN or VM tap devices"),
    ("wg", "WireGuard VPN tunnels"),
    ("utun", "macOS tunnel devices (VPNs, iCloud Private Relay)"),
    ("zt", "ZeroTier overlay networks"),
    ("tailscale", "Tailscale VPN (tailscale0 on Linux)"),
    ("vmnet", "VMware host-only and NAT adapters"),
    ("vboxnet", "VirtualBox host-only adapters"),
    ("lxc", "LXC container bridges (lxcbr0)"),
    ("cni", "Kubernetes CNI bridges (cni0)"),
    ("flannel", "Kubernetes flannel overlay (flannel.1)"),
    ("podman", "Podman container bridges (podman0)"),
];

/// One address of one local interface, as the OS lists them (an interface with three addresses is
/// three rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetInterface {
    /// OS interface name (`eth0`, `wlp2s0`, `en0`).
    pub name: String,
    /// One address on it.
    pub addr: IpAddr,
}

impl NetInterface {
    /// Convenience constructor.
    pub fn new(name: impl Into<String>, addr: IpAddr) -> Self {
        Self { name: name.into(), addr }
    }
}

/// A usable address, in the order [`choose_from`] ranks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Interface name.
    pub name: String,
    /// The address to put in the join URL and the mDNS records.
    pub addr: IpAddr,
    /// Whether this interface holds the default route (the one the OS uses to reach the LAN's
    /// gateway, hence most likely the one the phones share).
    pub default_route: bool,
}

/// Why an address was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// 127.0.0.0/8 or ::1: only this machine can reach it.
    Loopback,
    /// 169.254.0.0/16 or fe80::/10: self-assigned, not routable, and a browser URL cannot carry
    /// the IPv6 zone id it needs.
    LinkLocal,
    /// 0.0.0.0, ::, or a multicast address: not a host address at all.
    NotUnicast,
    /// A virtual interface by name (see [`VIRTUAL_PREFIXES`]).
    Virtual {
        /// The matching prefix.
        prefix: &'static str,
    },
}

/// An address left out, with the reason; shown to the user when nothing usable is left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Interface name.
    pub name: String,
    /// The address left out.
    pub addr: IpAddr,
    /// Why.
    pub reason: SkipReason,
}

/// Why no address could be chosen.
#[derive(Debug, Error)]
pub enum InterfaceError {
    /// The OS interface list could not be read.
    #[error("cannot list network interfaces: {0}")]
    List(#[from] local_ip_address::Error),
    /// `--interface NAME` names an interface that does not exist (or has no address).
    #[error("no interface named {wanted:?}; available: {}", list_or_none(available))]
    NotFound {
        /// The requested name.
        wanted: String,
        /// Interface names that do exist, for the error message.
        available: Vec<String>,
    },
    /// Every address was loopback, link-local or virtual.
    #[error(
        "no usable LAN address (skipped: {}); connect to a network or pass --interface NAME",
        describe_skipped(skipped)
    )]
    NoneUsable {
        /// What was left out and why.
        skipped: Vec<Skipped>,
    },
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() { "none".to_string() } else { names.join(", ") }
}

fn describe_skipped(skipped: &[Skipped]) -> String {
    if skipped.is_empty() {
        return "no interfaces at all".to_string();
    }
    skipped
        .iter()
        .map(|s| {
            let why = match s.reason {
                SkipReason::Loopback => "loopback".to_string(),
                SkipReason::LinkLocal => "link-local".to_string(),
                SkipReason::NotUnicast => "not unicast".to_string(),
                SkipReason::Virtual { prefix } => format!("virtual ({prefix}*)"),
            };
            format!("{} {} {why}", s.name, s.addr)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why `addr` on interface `name` is not offered to phones, or `None` if it is usable.
pub fn skip_reason(name: &str, addr: IpAddr) -> Option<SkipReason> {
    if addr.is_loopback() {
        return Some(SkipReason::Loopback);
    }
    if addr.is_unspecified() || addr.is_multicast() {
        return Some(SkipReason::NotUnicast);
    }
    let link_local = match addr {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => is_unicast_link_local(&v6),
    };
    if link_local {
        return Some(SkipReason::LinkLocal);
    }
    let lower = name.to_ascii_lowercase();
    VIRTUAL_PREFIXES
        .iter()
        .find(|(prefix, _)| lower.starts_with(prefix))
        .map(|(prefix, _)| SkipReason::Virtual { prefix })
}

/// fe80::/10 (std's `is_unicast_link_local` is stable only since 1.84; spelled out for clarity).
fn is_unicast_link_local(v6: &Ipv6Addr) -> bool {
    (v6.segments()[0] & 0xffc0) == 0xfe80
}

/// Ranks the usable addresses in `interfaces`, best first, and lists what was skipped.
///
/// Order: interfaces holding a default route first (in the order of `default_route`, best
/// first), then IPv4 before IPv6 (a phone user may have to type the URL, and some guest networks
/// hand out no IPv6), then the OS's own order.
pub fn rank(interfaces: &[NetInterface], default_route: &[String]) -> (Vec<Candidate>, Vec<Skipped>) {
    let mut candidates = Vec::new();
    let mut skipped = Vec::new();
    for i in interfaces {
        match skip_reason(&i.name, i.addr) {
            Some(reason) => skipped.push(Skipped { name: i.name.clone(), addr: i.addr, reason }),
            None => candidates.push(Candidate {
                name: i.name.clone(),
                addr: i.addr,
                default_route: default_route.contains(&i.name),
            }),
        }
    }
    let route_rank = |name: &str| default_route.iter().position(|r| r == name).unwrap_or(usize::MAX);
    // A stable sort keeps the OS order among equals.
    candidates.sort_by_key(|c| (route_rank(&c.name), c.addr.is_ipv6()));
    (candidates, skipped)
}

/// Decides which addresses to advertise and put in the join URL, best first.
///
/// With `wanted = Some(name)` (the `--interface NAME` option) every address of that interface is
/// returned, IPv4 first, even a loopback or virtual one: the user asked for it. Link-local IPv6
/// addresses are still left out, as a URL cannot use them. With `None`, [`rank`] decides.
pub fn choose_from(
    interfaces: &[NetInterface],
    default_route: &[String],
    wanted: Option<&str>,
) -> Result<Vec<Candidate>, InterfaceError> {
    match wanted {
        Some(wanted) => {
            let mut picked: Vec<Candidate> = interfaces
                .iter()
                .filter(|i| i.name == wanted)
                .filter(|i| !matches!(i.addr, IpAddr::V6(v6) if is_unicast_link_local(&v6)))
                .map(|i| Candidate {
                    name: i.name.clone(),
                    addr: i.addr,
                    default_route: default_route.contains(&i.name),
                })
                .collect();
            if picked.is_empty() {
                let mut available: Vec<String> = Vec::new();
                for i in interfaces {
                    if !available.contains(&i.name) {
                        available.push(i.name.clone());
                    }
                }
                return Err(InterfaceError::NotFound { wanted: wanted.to_string(), available });
            }
            picked.sort_by_key(|c| c.addr.is_ipv6());
            Ok(picked)
        }
        None => {
            let (candidates, skipped) = rank(interfaces, default_route);
            if candidates.is_empty() {
                return Err(InterfaceError::NoneUsable { skipped });
            }
            Ok(candidates)
        }
    }
}

/// Reads this machine's interfaces and default route, then [`choose_from`].
pub fn choose(wanted: Option<&str>) -> Result<Vec<Candidate>, InterfaceError> {
    choose_from(&list()?, &default_route_interfaces(), wanted)
}

/// This machine's interface addresses, in the OS's order.
pub fn list() -> Result<Vec<NetInterface>, InterfaceError> {
    Ok(local_ip_address::list_afinet_netifas()?.into_iter().map(|(name, addr)| NetInterface { name, addr }).collect())
}

/// Names of interfaces that hold a default route, lowest metric first.
///
/// Reads `/proc/net/route` and `/proc/net/ipv6_route` on Linux. Elsewhere (or if they cannot be
/// read) it returns an empty list, and the ranking falls back to the OS order, which on macOS and
/// Windows already puts the primary adapter first.
pub fn default_route_interfaces() -> Vec<String> {
    let v4 = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let v6 = std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
    let mut routes = parse_proc_net_route(&v4);
    routes.extend(parse_proc_net_ipv6_route(&v6));
    routes.sort_by_key(|(_, metric)| *metric);
    let mut names: Vec<String> = Vec::new();
    for (name, _) in routes {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// `RTF_UP` from `<linux/route.h>`: the route is usable.
const RTF_UP: u32 = 0x1;
/// `RTF_REJECT` from `<linux/route.h>`: an "unreachable" route, which the kernel installs on `lo`
/// as an IPv6 default and which is not a way out.
const RTF_REJECT: u32 = 0x200;

/// Default routes in the text of `/proc/net/route`, as `(interface, metric)`.
pub fn parse_proc_net_route(text: &str) -> Vec<(String, u32)> {
    text.lines()
        .skip(1) // header
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // Iface Destination Gateway Flags RefCnt Use Metric Mask ...
            if f.len() < 8 || f[1] != "00000000" || f[7] != "00000000" {
                return None;
            }
            let flags = u32::from_str_radix(f[3], 16).ok()?;
            let metric = f[6].parse().ok()?;
            (flags & RTF_UP != 0 && flags & RTF_REJECT == 0).then(|| (f[0].to_string(), metric))
        })
        .collect()
}

/// Default routes in the text of `/proc/net/ipv6_route`, as `(interface, metric)`.
pub fn parse_proc_net_ipv6_route(text: &str) -> Vec<(String, u32)> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // dest dest_len src src_len next_hop metric refcnt use flags iface
            if f.len() < 10 || f[0].bytes().any(|b| b != b'0') || f[1] != "00" || f[9] == "lo" {
                return None;
            }
            let metric = u32::from_str_radix(f[5], 16).ok()?;
            let flags = u32::from_str_radix(f[8], 16).ok()?;
            (flags & RTF_UP != 0 && flags & RTF_REJECT == 0).then(|| (f[9].to_string(), metric))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn machine() -> Vec<NetInterface> {
        vec![
            NetInterface::new("lo", ip("127.0.0.1")),
            NetInterface::new("lo", ip("::1")),
            NetInterface::new("docker0", ip("172.17.0.1")),
            NetInterface::new("br-1a2b3c", ip("172.18.0.1")),
            NetInterface::new("vethab12", ip("fe80::1")),
            NetInterface::new("tun0", ip("10.8.0.2")),
            NetInterface::new("wg0", ip("10.9.0.2")),
            NetInterface::new("tailscale0", ip("100.101.102.103")),
            NetInterface::new("eth1", ip("169.254.10.10")),
            NetInterface::new("eth0", ip("fd00::5")),
            NetInterface::new("eth0", ip("fe80::5")),
            NetInterface::new("eth0", ip("192.168.1.20")),
            NetInterface::new("wlan0", ip("192.168.50.7")),
        ]
    }

    fn names_addrs(c: &[Candidate]) -> Vec<(String, IpAddr)> {
        c.iter().map(|c| (c.name.clone(), c.addr)).collect()
    }

    /// Loopback, link-local and virtual interfaces are skipped; the default-route one comes first,
    /// IPv4 before IPv6.
    #[test]
    fn ranks_default_route_first_and_skips_the_rest() {
        let got = names_addrs(&choose_from(&machine(), &["wlan0".into()], None).unwrap());
        let want = vec![
            ("wlan0".to_string(), ip("192.168.50.7")),
            ("eth0".to_string(), ip("192.168.1.20")),
            ("eth0".to_string(), ip("fd00::5")),
        ];
        assert_eq!(got, want, "expected {want:?}, got {got:?}");
    }

    /// Without any default route the OS order stands (IPv4 first).
    #[test]
    fn no_default_route() {
        let got = names_addrs(&choose_from(&machine(), &[], None).unwrap());
        let want = vec![
            ("eth0".to_string(), ip("192.168.1.20")),
            ("wlan0".to_string(), ip("192.168.50.7")),
            ("eth0".to_string(), ip("fd00::5")),
        ];
        assert_eq!(got, want, "expected {want:?}, got {got:?}");
    }

    /// Each documented prefix is recognised, case-insensitively.
    #[test]
    fn every_virtual_prefix_is_skipped() {
        for (prefix, _) in VIRTUAL_PREFIXES {
            let name = format!("{}0", prefix.to_ascii_uppercase());
            let got = skip_reason(&name, ip("10.0.0.1"));
            let want = Some(SkipReason::Virtual { prefix });
            assert_eq!(got, want, "{name}: expected {want:?}, got {got:?}");
        }
        let got = skip_reason("vEthernet (WSL)", ip("172.20.0.1"));
        let want = Some(SkipReason::Virtual { prefix: "veth" });
        assert_eq!(got, want, "expected {want:?}, got {got:?}");
    }

    /// `--interface NAME` returns that interface's addresses even if it would be skipped.
    #[test]
    fn named_interface_is_honoured() {
        let got = names_addrs(&choose_from(&machine(), &[], Some("docker0")).unwrap());
        let want = vec![("docker0".to_string(), ip("172.17.0.1"))];
        assert_eq!(got, want, "expected {want:?}, got {got:?}");
        let got = names_addrs(&choose_from(&machine(), &[], Some("lo")).unwrap());
        let want = vec![("lo".to_string(), ip("127.0.0.1")), ("lo".to_string(), ip("::1"))];
        assert_eq!(got, want, "expected {want:?}, got {got:?}");
    }

    /// An unknown `--interface` name lists the ones that exist.
    #[test]
    fn unknown_name_lists_available() {
        let err = choose_from(&machine(), &[], Some("eth9")).unwrap_err();
        let msg = err.to_string();
        for name in ["lo", "docker0", "eth0", "wlan0"] {
            assert!(msg.contains(name), "expected {name} in the message, got {msg:?}");
        }
        assert!(
            matches!(&err, InterfaceError::NotFound { wanted, .. } if wanted == "eth9"),
            "expected NotFound for eth9, got {err:?}"
        );
    }

    /// A machine with only loopback and virtual interfaces gets an error saying what was skipped.
    #[test]
    fn nothing_usable() {
        let only = vec![NetInterface::new("lo", ip("127.0.0.1")), NetInterface::new("docker0", ip("172.17.0.1"))];
        let err = choose_from(&only, &[], None).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("lo 127.0.0.1 loopback") && msg.contains("docker0 172.17.0.1 virtual (docker*)"),
            "expected both skips explained, got {msg:?}"
        );
    }

    /// The default route is read from `/proc/net/route` text, lowest metric first, up routes only.
    #[test]
    fn parses_proc_net_route() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
                    eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                    eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n\
                    down0\t00000000\t0101A8C0\t0002\t0\t0\t1\t00000000\t0\t0\t0\n";
        let got = parse_proc_net_route(text);
        let want = vec![("wlan0".to_string(), 600), ("eth0".to_string(), 100)];
        assert_eq!(got, want, "expected {want:?}, got {got:?}");
    }

    /// IPv6 default routes are read too, and the kernel's reject route on `lo` is not one.
    #[test]
    fn parses_proc_net_ipv6_route() {
        let z = "00000000000000000000000000000000";
        let text = format!(
            "{z} 00 {z} 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0\n\
             {z} 00 {z} 00 {z} ffffffff 00000001 00000000 00200200 lo\n\
             fd000000000000000000000000000000 40 {z} 00 {z} 00000100 00000001 00000000 00000001 eth0\n"
        );
        let got = parse_proc_net_ipv6_route(&text);
        let want = vec![("eth0".to_string(), 0x400)];
        assert_eq!(got, want, "expected {want:?}, got {got:?}");
    }
}

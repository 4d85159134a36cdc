//! How this launch should host: command-line flags, else environment variables, else defaults.
//!
//! | flag | variable | default |
//! | --- | --- | --- |
//! | `--bind ADDR` | `PARTYLINE_BIND` | `0.0.0.0` (every interface) |
//! | `--port N` | `PARTYLINE_PORT` | `0` (any free port) |
//! | `--no-mdns` | `PARTYLINE_NO_MDNS=1` | mDNS on |
//! | `--media DIR` | `PARTYLINE_MEDIA` | the remembered folder, else none |

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// Where and how to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchOptions {
    /// Address to listen on.
    pub bind: IpAddr,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Advertise the party over mDNS (and, once wired, browse).
    pub mdns: bool,
    /// A media folder to share for SyncPlay this launch, instead of the remembered one (not
    /// remembered itself; choosing a folder in the app is).
    pub media: Option<PathBuf>,
}

impl Default for LaunchOptions {
    fn default() -> Self {
        LaunchOptions { bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED), port: 0, mdns: true, media: None }
    }
}

impl LaunchOptions {
    /// From this process's arguments and environment.
    pub fn from_process() -> Result<Self, String> {
        Self::parse(std::env::args().skip(1), |name| std::env::var(name).ok())
    }

    /// From `args` (without the program name) and an environment lookup. Unknown arguments are
    /// left alone (WebDriver and desktop launchers add their own).
    pub fn parse(args: impl IntoIterator<Item = String>, env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut opts = LaunchOptions::default();
        let mut bind = env("PARTYLINE_BIND").filter(|v| !v.is_empty());
        let mut port = env("PARTYLINE_PORT").filter(|v| !v.is_empty());
        let mut media = env("PARTYLINE_MEDIA").filter(|v| !v.is_empty());
        if env("PARTYLINE_NO_MDNS").is_some_and(|v| !matches!(v.as_str(), "" | "0" | "false")) {
            opts.mdns = false;
        }
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
                None => (arg.clone(), None),
            };
            match flag.as_str() {
                "--bind" => bind = Some(inline.or_else(|| args.next()).ok_or("--bind needs an address")?),
                "--port" => port = Some(inline.or_else(|| args.next()).ok_or("--port needs a number")?),
                "--no-mdns" => opts.mdns = false,
                "--media" => media = Some(inline.or_else(|| args.next()).ok_or("--media needs a folder")?),
                _ => {}
            }
        }
        if let Some(bind) = bind {
            opts.bind = bind.trim().parse().map_err(|_| format!("not an IP address to bind: {bind:?}"))?;
        }
        if let Some(port) = port {
            opts.port = port.trim().parse().map_err(|_| format!("not a port: {port:?}"))?;
        }
        opts.media = media.map(PathBuf::from);
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<LaunchOptions, String> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        LaunchOptions::parse(args.iter().map(|s| s.to_string()), |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn flags_override_environment() {
        assert_eq!(parse(&[], &[]).unwrap(), LaunchOptions::default());
        let o = parse(&[], &[("PARTYLINE_BIND", "127.0.0.1"), ("PARTYLINE_NO_MDNS", "1")]).unwrap();
        assert_eq!((o.bind.to_string(), o.mdns), ("127.0.0.1".into(), false));
        let o =
            parse(&["--bind", "127.0.0.2", "--port=4000", "--unknown"], &[("PARTYLINE_BIND", "127.0.0.1")]).unwrap();
        assert_eq!((o.bind.to_string(), o.port, o.mdns), ("127.0.0.2".into(), 4000, true));
        assert!(parse(&["--bind", "nope"], &[]).is_err());
        assert!(parse(&["--bind"], &[]).is_err());
        assert!(parse(&[], &[("PARTYLINE_NO_MDNS", "0")]).unwrap().mdns);
    }

    #[test]
    fn media_folder_from_flag_or_environment() {
        assert_eq!(parse(&[], &[]).unwrap().media, None);
        assert_eq!(parse(&[], &[("PARTYLINE_MEDIA", "")]).unwrap().media, None);
        assert_eq!(parse(&[], &[("PARTYLINE_MEDIA", "/srv/a")]).unwrap().media, Some("/srv/a".into()));
        let o = parse(&["--media", "/srv/b"], &[("PARTYLINE_MEDIA", "/srv/a")]).unwrap();
        assert_eq!(o.media, Some("/srv/b".into()));
        assert_eq!(parse(&["--media=/srv/c d"], &[]).unwrap().media, Some("/srv/c d".into()));
        assert!(parse(&["--media"], &[]).is_err());
    }
}

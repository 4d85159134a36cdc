//! How this launch should host: command-line flags, else environment variables, else defaults.
//!
//! | flag | variable | default |
//! | --- | --- | --- |
//! | `--bind ADDR` | `PARTYLINE_BIND` | `0.0.0.0` (every interface) |
//! | `--port N` | `PARTYLINE_PORT` | `0` (any free port) |
//! | `--no-mdns` | `PARTYLINE_NO_MDNS=1` | mDNS on |
//! | `--media DIR` | `PARTYLINE_MEDIA` | the remembered folder, else none |
//! | `--data-dir DIR` | `PARTYLINE_DATA_DIR` | the user's (`~/.local/share/partyline`): the party is kept in `party.db` there |
//! | | `PARTYLINE_PICK_FOLDER` | (tests) the folder picker's answer, given without opening it |

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// The party file's name in the data directory (the CLI's default file has it too).
pub const PARTY_FILE: &str = "party.db";

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
    /// The party's file: with one the party outlives the app (a crash, `kill -9`, a reboot)
    /// and the next launch picks it up. [`LaunchOptions::parse`] gives `party.db` in the data
    /// directory; the default, `None`, keeps the party in memory (the command tests).
    pub party_file: Option<PathBuf>,
    /// What the folder picker answers without opening (tests: a native dialog cannot be
    /// driven through WebDriver).
    pub pick_folder: Option<PathBuf>,
}

impl Default for LaunchOptions {
    fn default() -> Self {
        LaunchOptions {
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            mdns: true,
            media: None,
            party_file: None,
            pick_folder: None,
        }
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
        let mut data_dir = env("PARTYLINE_DATA_DIR").filter(|v| !v.is_empty());
        opts.pick_folder = env("PARTYLINE_PICK_FOLDER").filter(|v| !v.is_empty()).map(PathBuf::from);
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
                "--data-dir" => data_dir = Some(inline.or_else(|| args.next()).ok_or("--data-dir needs a folder")?),
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
        // The CLI's default file (`partyline_host::default_party_file`), so `partyline host` and
        // the app pick up the same party, and never both at once (the file's lock).
        opts.party_file = match data_dir {
            Some(dir) => Some(PathBuf::from(dir).join(PARTY_FILE)),
            None => partyline_host::default_party_file(),
        };
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
        let defaults = LaunchOptions { party_file: partyline_host::default_party_file(), ..LaunchOptions::default() };
        assert_eq!(parse(&[], &[]).unwrap(), defaults);
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

    /// The party is kept in `party.db` of the data directory the flag or the variable names
    /// (tests keep it out of the user's), else in the user's own, as the CLI's.
    #[test]
    fn party_file_in_the_data_directory() {
        let got = parse(&[], &[("PARTYLINE_DATA_DIR", "/tmp/pl")]).unwrap().party_file;
        assert_eq!(got, Some("/tmp/pl/party.db".into()), "from the variable");
        let got = parse(&["--data-dir=/tmp/b"], &[("PARTYLINE_DATA_DIR", "/tmp/pl")]).unwrap().party_file;
        assert_eq!(got, Some("/tmp/b/party.db".into()), "the flag wins");
        let got = parse(&[], &[("PARTYLINE_DATA_DIR", "")]).unwrap().party_file;
        assert_eq!(got, partyline_host::default_party_file(), "empty: the user's own, as the CLI's");
        assert_eq!(LaunchOptions::default().party_file, None, "the default keeps the party in memory");
        let got = parse(&[], &[("PARTYLINE_PICK_FOLDER", "/srv/m")]).unwrap().pick_folder;
        assert_eq!(got, Some("/srv/m".into()), "the picker's test answer");
    }
}

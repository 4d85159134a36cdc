//! The TXT record of an advertised session: what a browsing desktop learns before it connects.
//!
//! Keys are short because every byte is multicast to the whole LAN on each announcement, and
//! RFC 6763 §6.2 asks for TXT records well under 200 bytes where possible. The join key is never
//! here: anyone on the network can read a TXT record.

use thiserror::Error;

/// The DNS-SD service type every Partyline host advertises and every desktop browses.
///
/// `_partyline` is 9 bytes, under mdns-sd's (and RFC 6763 §7.2's) 15-byte service-name limit.
pub const SERVICE_TYPE: &str = "_partyline._tcp.local.";

/// The TXT protocol version this crate writes and accepts (`v=1`).
///
/// Bumped only when a field changes meaning, so that an older desktop skips sessions it would
/// misread instead of showing them wrongly.
pub const PROTOCOL_VERSION: u32 = 1;

/// The WebSocket path a session serves on unless told otherwise; the server crate mounts `/ws`.
pub const DEFAULT_WS_PATH: &str = "/ws";

/// Longest TXT string (`key=value`) DNS allows: one length byte per string (RFC 6763 §6.1).
pub const MAX_TXT_ENTRY: usize = 255;

/// TXT keys, named once so encoding and decoding cannot drift apart.
mod key {
    pub const VERSION: &str = "v";
    pub const ID: &str = "id";
    pub const NAME: &str = "name";
    pub const MEMBERS: &str = "members";
    pub const CAPACITY: &str = "cap";
    pub const LOCKED: &str = "locked";
    pub const PATH: &str = "path";
}

/// The TXT key of the record's revision, which the advertiser bumps on every publish. Browsers
/// ignore it. It makes each update's TXT data new: a browser that still holds an older record
/// with the same data (RFC 6762 §10.2 keeps records younger than one second through a cache
/// flush) would otherwise take an update back to that value as a mere refresh and never report
/// it. Seen here with mdns-sd and python-zeroconf alike: lock, then unlock within ~1.5 s, and
/// the unlock, and every later change, went unreported.
pub const REVISION_KEY: &str = "rev";

/// The session facts carried in the TXT record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTxt {
    /// Session id (`id`): stable for the session's life, lets a browser match updates.
    pub id: String,
    /// Human-readable session name (`name`); cut at a character boundary to fit one TXT string.
    pub name: String,
    /// Members currently joined (`members`).
    pub members: u32,
    /// Most members the session admits (`cap`).
    pub capacity: u32,
    /// Whether joining needs a key (`locked`, written as `0`/`1`). The key itself is never here.
    pub locked: bool,
    /// WebSocket path on the host's port (`path`), normally [`DEFAULT_WS_PATH`].
    pub path: String,
}

/// Why a TXT record could not be read as a Partyline session (or written as one).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TxtError {
    /// A required key is absent.
    #[error("TXT record lacks required key `{key}`")]
    Missing {
        /// The missing key.
        key: &'static str,
    },
    /// A key is present with no `=value` part at all (RFC 6763 §6.4 boolean attribute).
    #[error("TXT key `{key}` has no value")]
    NoValue {
        /// The key without a value.
        key: &'static str,
    },
    /// A value is not valid UTF-8.
    #[error("TXT value of `{key}` is not UTF-8")]
    NotUtf8 {
        /// The key whose value is not UTF-8.
        key: &'static str,
    },
    /// A value is UTF-8 but does not parse as what the key holds.
    #[error("TXT value of `{key}` is {value:?}, expected {expected}")]
    Invalid {
        /// The key whose value is wrong.
        key: &'static str,
        /// The value as received.
        value: String,
        /// What the value should have looked like.
        expected: &'static str,
    },
    /// The advertiser speaks a protocol version this build does not.
    #[error("session speaks protocol version {found:?}, this build speaks {PROTOCOL_VERSION}")]
    UnsupportedVersion {
        /// The `v` value as received.
        found: String,
    },
    /// A value to be written is too long for one TXT string and cannot be shortened safely.
    #[error("TXT value of `{key}` is {len} bytes; at most {max} fit")]
    TooLong {
        /// The key whose value is too long.
        key: &'static str,
        /// The value's length in bytes.
        len: usize,
        /// The most bytes that fit after `key=`.
        max: usize,
    },
}

impl SessionTxt {
    /// A TXT description with the default WebSocket path.
    pub fn new(id: impl Into<String>, name: impl Into<String>, members: u32, capacity: u32, locked: bool) -> Self {
        Self { id: id.into(), name: name.into(), members, capacity, locked, path: DEFAULT_WS_PATH.to_string() }
    }

    /// The `(key, value)` pairs to publish, in a fixed order.
    ///
    /// A name too long for one TXT string is cut at a character boundary (it is only for
    /// display); an id or path that long is an error, because a cut one would not work.
    pub fn encode(&self) -> Result<Vec<(&'static str, String)>, TxtError> {
        let fits = |key: &'static str, value: &str| -> Result<String, TxtError> {
            let max = MAX_TXT_ENTRY - key.len() - 1;
            if value.len() > max {
                return Err(TxtError::TooLong { key, len: value.len(), max });
            }
            Ok(value.to_string())
        };
        let name_max = MAX_TXT_ENTRY - key::NAME.len() - 1;
        Ok(vec![
            (key::VERSION, PROTOCOL_VERSION.to_string()),
            (key::ID, fits(key::ID, &self.id)?),
            (key::NAME, truncate_at_char(&self.name, name_max).to_string()),
            (key::MEMBERS, self.members.to_string()),
            (key::CAPACITY, self.capacity.to_string()),
            (key::LOCKED, if self.locked { "1" } else { "0" }.to_string()),
            (key::PATH, fits(key::PATH, &self.path)?),
        ])
    }

    /// Reads a session from TXT entries (`key`, optional raw value), as DNS-SD delivers them.
    ///
    /// Keys compare case-insensitively and the first occurrence wins (RFC 6763 §6.4); unknown
    /// keys are ignored so later versions can add fields without a version bump.
    pub fn decode<'a, I>(entries: I) -> Result<Self, TxtError>
    where
        I: IntoIterator<Item = (&'a str, Option<&'a [u8]>)>,
    {
        let entries: Vec<(&str, Option<&[u8]>)> = entries.into_iter().collect();
        let get = |key: &'static str| -> Result<Option<&str>, TxtError> {
            match entries.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
                None => Ok(None),
                Some((_, None)) => Err(TxtError::NoValue { key }),
                Some((_, Some(raw))) => std::str::from_utf8(raw).map(Some).map_err(|_| TxtError::NotUtf8 { key }),
            }
        };
        let required = |key: &'static str| get(key)?.ok_or(TxtError::Missing { key });
        let number = |key: &'static str| -> Result<u32, TxtError> {
            let value = required(key)?;
            value.parse().map_err(|_| TxtError::Invalid {
                key,
                value: value.to_string(),
                expected: "a decimal number 0..=4294967295",
            })
        };

        let version = required(key::VERSION)?;
        if version != PROTOCOL_VERSION.to_string() {
            return Err(TxtError::UnsupportedVersion { found: version.to_string() });
        }
        let id = required(key::ID)?;
        if id.is_empty() {
            return Err(TxtError::Invalid { key: key::ID, value: String::new(), expected: "a non-empty session id" });
        }
        let locked = match required(key::LOCKED)? {
            "0" => false,
            "1" => true,
            other => {
                return Err(TxtError::Invalid { key: key::LOCKED, value: other.to_string(), expected: "`0` or `1`" });
            }
        };
        let path = match get(key::PATH)? {
            // An older or minimal advertiser may leave the path out: the default is what it means.
            None => DEFAULT_WS_PATH.to_string(),
            Some(p) if p.starts_with('/') => p.to_string(),
            Some(p) => {
                return Err(TxtError::Invalid {
                    key: key::PATH,
                    value: p.to_string(),
                    expected: "a path starting with `/`",
                });
            }
        };
        Ok(Self {
            id: id.to_string(),
            name: required(key::NAME)?.to_string(),
            members: number(key::MEMBERS)?,
            capacity: number(key::CAPACITY)?,
            locked,
            path,
        })
    }
}

/// The longest prefix of `s` that is at most `max` bytes and ends on a character boundary.
pub(crate) fn truncate_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SessionTxt {
        SessionTxt::new("s-42", "Friday party", 3, 16, true)
    }

    fn as_entries(pairs: &[(&'static str, String)]) -> Vec<(&'static str, Option<Vec<u8>>)> {
        pairs.iter().map(|(k, v)| (*k, Some(v.as_bytes().to_vec()))).collect()
    }

    fn decode_owned(entries: &[(&str, Option<Vec<u8>>)]) -> Result<SessionTxt, TxtError> {
        SessionTxt::decode(entries.iter().map(|(k, v)| (*k, v.as_deref())))
    }

    /// Encoding then decoding gives back the same session.
    #[test]
    fn round_trip() {
        let txt = sample();
        let decoded = decode_owned(&as_entries(&txt.encode().unwrap()));
        assert_eq!(decoded, Ok(txt.clone()), "expected {txt:?}, got {decoded:?}");
    }

    /// The published keys are exactly the documented ones, and no join key among them.
    #[test]
    fn keys_are_the_documented_ones() {
        let keys: Vec<&str> = sample().encode().unwrap().iter().map(|(k, _)| *k).collect();
        let expected = ["v", "id", "name", "members", "cap", "locked", "path"];
        assert_eq!(keys, expected, "expected keys {expected:?}, got {keys:?}");
    }

    /// `locked` is written as `0`/`1` and `v` as `1`.
    #[test]
    fn flag_and_version_spelling() {
        let mut txt = sample();
        txt.locked = false;
        let enc = txt.encode().unwrap();
        let get = |k: &str| enc.iter().find(|(key, _)| *key == k).unwrap().1.clone();
        assert_eq!(get("locked"), "0", "expected locked=0, got {}", get("locked"));
        assert_eq!(get("v"), "1", "expected v=1, got {}", get("v"));
    }

    /// A missing required key is reported by name.
    #[test]
    fn missing_key() {
        let mut entries = as_entries(&sample().encode().unwrap());
        entries.retain(|(k, _)| *k != "members");
        let got = decode_owned(&entries);
        let want = Err(TxtError::Missing { key: "members" });
        assert_eq!(got, want, "expected {want:?}, got {got:?}");
    }

    /// A non-numeric count, a bad flag, bad UTF-8 and a valueless key are errors, not panics.
    #[test]
    fn malformed_values() {
        let base = as_entries(&sample().encode().unwrap());
        let with = |key: &'static str, value: Option<&[u8]>| {
            let mut e: Vec<(&str, Option<Vec<u8>>)> = base.iter().filter(|(k, _)| *k != key).cloned().collect();
            e.insert(0, (key, value.map(<[u8]>::to_vec)));
            decode_owned(&e)
        };
        let cases: Vec<(Result<SessionTxt, TxtError>, TxtError)> = vec![
            (
                with("members", Some(b"many")),
                TxtError::Invalid { key: "members", value: "many".into(), expected: "a decimal number 0..=4294967295" },
            ),
            (
                with("cap", Some(b"-1")),
                TxtError::Invalid { key: "cap", value: "-1".into(), expected: "a decimal number 0..=4294967295" },
            ),
            (
                with("locked", Some(b"yes")),
                TxtError::Invalid { key: "locked", value: "yes".into(), expected: "`0` or `1`" },
            ),
            (with("name", Some(&[0xff, 0xfe])), TxtError::NotUtf8 { key: "name" }),
            (with("id", None), TxtError::NoValue { key: "id" }),
            (with("v", Some(b"2")), TxtError::UnsupportedVersion { found: "2".into() }),
            (
                with("path", Some(b"ws")),
                TxtError::Invalid { key: "path", value: "ws".into(), expected: "a path starting with `/`" },
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, Err(want.clone()), "expected Err({want:?}), got {got:?}");
        }
    }

    /// Unknown keys are ignored, keys match case-insensitively, and a missing path means `/ws`.
    #[test]
    fn tolerant_reading() {
        let entries: Vec<(&str, Option<Vec<u8>>)> = vec![
            ("V", Some(b"1".to_vec())),
            ("ID", Some(b"abc".to_vec())),
            ("name", Some(b"x".to_vec())),
            ("members", Some(b"0".to_vec())),
            ("cap", Some(b"8".to_vec())),
            ("locked", Some(b"0".to_vec())),
            ("future", Some(b"whatever".to_vec())),
        ];
        let got = decode_owned(&entries);
        let want = Ok(SessionTxt::new("abc", "x", 0, 8, false));
        assert_eq!(got, want, "expected {want:?}, got {got:?}");
    }

    /// A very long name is cut at a character boundary to fit; a very long id is an error.
    #[test]
    fn long_values() {
        let mut txt = sample();
        txt.name = "é".repeat(200); // 400 bytes
        let enc = txt.encode().unwrap();
        let name = &enc.iter().find(|(k, _)| *k == "name").unwrap().1;
        assert!(name.len() <= 250 && name.len() >= 248, "expected a name of 248..=250 bytes, got {}", name.len());
        txt.id = "x".repeat(300);
        let got = txt.encode();
        let want = Err(TxtError::TooLong { key: "id", len: 300, max: 252 });
        assert_eq!(got, want, "expected {want:?}, got {got:?}");
    }
}

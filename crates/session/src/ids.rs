//! Random ids and secrets, drawn from the session's seeded generator.
//!
//! The generator is a CSPRNG (`StdRng`, ChaCha) seeded by the I/O layer from the OS, so
//! secrets are unguessable in production and reproducible in tests.

use rand::Rng;
use rand::rngs::StdRng;

/// Letters for session ids people may read aloud or type: no 0/o, 1/l/i.
const READABLE: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A session id: six readable characters (31^6 ≈ 887 million).
pub fn session_id(rng: &mut StdRng) -> String {
    (0..6).map(|_| READABLE[rng.random_range(0..READABLE.len())] as char).collect()
}

/// A member id like `m-3f9a2c1b`: 32 bits, unique within the session (the caller checks).
pub fn member_id(rng: &mut StdRng) -> String {
    format!("m-{:08x}", rng.random::<u32>())
}

/// The host member's id, like `host-7c01`.
pub fn host_id(rng: &mut StdRng) -> String {
    format!("host-{:04x}", rng.random::<u16>())
}

/// A resume secret: 128 random bits as 32 hex digits.
pub fn secret(rng: &mut StdRng) -> String {
    format!("{:032x}", rng.random::<u128>())
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

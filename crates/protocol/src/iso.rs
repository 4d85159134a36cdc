//! ISO 8601 timestamps (RFC 3339, UTC), as seeds 002 and 004 write them: the session counts
//! milliseconds since the Unix epoch, and these two formats spell them out.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch as `2025-01-01T12:00:00.123Z` (the fraction only when it
/// is not zero, as the seeds' examples show whole seconds).
pub fn format_ms(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// An RFC 3339 timestamp (any offset) as milliseconds since the Unix epoch, or `None` when it
/// is not one.
pub fn parse_ms(text: &str) -> Option<i64> {
    let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds' own example instants round-trip, with and without a fraction.
    #[test]
    fn seed_examples_round_trip() {
        assert_eq!(parse_ms("2025-01-01T00:00:00Z"), Some(1_735_689_600_000));
        assert_eq!(format_ms(1_735_689_600_000), "2025-01-01T00:00:00Z");
        assert_eq!(format_ms(1_735_689_600_123), "2025-01-01T00:00:00.123Z");
        assert_eq!(
            parse_ms("2024-03-15T12:00:00Z").map(|ms| format_ms(ms as u64)).as_deref(),
            Some("2024-03-15T12:00:00Z")
        );
        assert_eq!(parse_ms("2024-03-15T13:00:00+01:00"), parse_ms("2024-03-15T12:00:00Z"), "offsets are honoured");
        assert_eq!(parse_ms("yesterday"), None);
    }
}

//! Dates as Better Auth puts them on the wire: ISO-8601 UTC with exactly millisecond precision
//! (`2026-11-28T06:15:47.140Z`). In the document store dates are epoch milliseconds (`f64`), as in the Convex
//! component.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn iso_millis(epoch_ms: f64) -> String {
    let ms = epoch_ms.floor() as i128;
    let datetime = OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        datetime.year(),
        u8::from(datetime.month()),
        datetime.day(),
        datetime.hour(),
        datetime.minute(),
        datetime.second(),
        datetime.millisecond()
    )
}

/// Parses an RFC 3339 / ISO-8601 date-time into epoch milliseconds.
pub fn parse_iso(text: &str) -> Option<f64> {
    let datetime = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some((datetime.unix_timestamp_nanos() / 1_000_000) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_exactly_three_fraction_digits() {
        assert_eq!(iso_millis(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_millis(1_795_846_547_140.0), "2026-11-28T06:15:47.140Z");
        assert_eq!(iso_millis(1_795_846_547_140.9), "2026-11-28T06:15:47.140Z");
    }

    #[test]
    fn parses_what_it_formats_and_offsets() {
        assert_eq!(parse_iso("2026-11-28T06:15:47.140Z"), Some(1_795_846_547_140.0));
        assert_eq!(parse_iso("2026-11-28T07:15:47.140+01:00"), Some(1_795_846_547_140.0));
        assert_eq!(parse_iso("not a date"), None);
    }
}

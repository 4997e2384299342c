//! Wall-clock time as one type. The core never reads the clock itself: a `Clock` hands out [`UnixTime`]s, and each
//! protocol's unit (Better Auth's epoch milliseconds, JWT seconds, Convex's nanosecond `serverTs`) is a method away.

/// An instant as nanoseconds since the Unix epoch (1970-01-01T00:00:00Z). Instants before the epoch do not occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(u64);

impl UnixTime {
    pub const fn from_nanos(nanos: u64) -> Self {
        UnixTime(nanos)
    }

    pub const fn from_millis(millis: u64) -> Self {
        UnixTime(millis.saturating_mul(1_000_000))
    }

    pub const fn from_secs(secs: u64) -> Self {
        UnixTime(secs.saturating_mul(1_000_000_000))
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// Whole seconds (JWT `iat`/`exp`).
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000_000
    }

    /// Milliseconds as Convex's `_creationTime`: a float with the sub-millisecond part.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1_000_000.0
    }

    /// Whole milliseconds as a Better Auth date (`Date.now()`: an integer number of ms, stored as a float).
    pub fn as_date_millis(self) -> f64 {
        self.as_millis() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_agree() {
        let t = UnixTime::from_nanos(1_795_846_229_783_123_456);
        assert_eq!(t.as_secs(), 1_795_846_229);
        assert_eq!(t.as_millis(), 1_795_846_229_783);
        assert_eq!(t.as_date_millis(), 1_795_846_229_783.0);
        assert!((t.as_millis_f64() - 1_795_846_229_783.123_5).abs() < 0.001);
        assert_eq!(UnixTime::from_millis(t.as_millis()).as_millis(), t.as_millis());
        assert_eq!(UnixTime::from_secs(2).as_millis(), 2_000);
    }

    #[test]
    fn conversions_saturate_instead_of_wrapping() {
        assert_eq!(UnixTime::from_secs(u64::MAX), UnixTime::from_nanos(u64::MAX));
        assert_eq!(UnixTime::from_millis(u64::MAX).as_nanos(), u64::MAX);
    }
}

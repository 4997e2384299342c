//! Wall-clock time as one type. The core never reads the clock itself: a `Clock` hands out [`UnixTime`]s, and each
//! protocol's unit (Better Auth's epoch milliseconds, JWT seconds, Convex's nanosecond `serverTs`) is a method away.

use std::time::Duration;

/// An instant as nanoseconds since the Unix epoch (1970-01-01T00:00:00Z). Instants before the epoch do not occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(u64);

impl UnixTime {
    pub const EPOCH: UnixTime = UnixTime(0);

    pub const fn from_nanos(nanos: u64) -> Self {
        UnixTime(nanos)
    }

    pub const fn from_millis(millis: u64) -> Self {
        UnixTime(millis.saturating_mul(1_000_000))
    }

    pub const fn from_secs(secs: u64) -> Self {
        UnixTime(secs.saturating_mul(1_000_000_000))
    }

    /// From epoch milliseconds as Better Auth stores dates (fractions kept to the nanosecond; negative, NaN → epoch).
    pub fn from_millis_f64(millis: f64) -> Self {
        if millis.is_nan() || millis <= 0.0 {
            return UnixTime::EPOCH;
        }
        UnixTime((millis * 1_000_000.0).min(u64::MAX as f64) as u64)
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// Whole seconds (JWT `iat`/`exp`, cache expiries).
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

    pub fn checked_add(self, d: Duration) -> Option<Self> {
        u64::try_from(d.as_nanos()).ok().and_then(|n| self.0.checked_add(n)).map(UnixTime)
    }

    pub fn saturating_add(self, d: Duration) -> Self {
        self.checked_add(d).unwrap_or(UnixTime(u64::MAX))
    }

    pub fn saturating_sub(self, d: Duration) -> Self {
        UnixTime(self.0.saturating_sub(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)))
    }

    /// How long after `earlier` this is (zero if it is not later).
    pub fn since(self, earlier: UnixTime) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl std::ops::Add<Duration> for UnixTime {
    type Output = UnixTime;

    fn add(self, d: Duration) -> UnixTime {
        self.saturating_add(d)
    }
}

impl std::ops::Sub<Duration> for UnixTime {
    type Output = UnixTime;

    fn sub(self, d: Duration) -> UnixTime {
        self.saturating_sub(d)
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
        assert_eq!(UnixTime::from_millis_f64(1_500.5).as_nanos(), 1_500_500_000);
    }

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        let t = UnixTime::from_secs(10);
        assert_eq!((t + Duration::from_secs(5)).as_secs(), 15);
        assert_eq!((t - Duration::from_secs(50)), UnixTime::EPOCH);
        assert_eq!(UnixTime::from_nanos(u64::MAX - 1) + Duration::from_secs(1), UnixTime::from_nanos(u64::MAX));
        assert_eq!(t.since(UnixTime::from_secs(4)), Duration::from_secs(6));
        assert_eq!(UnixTime::from_secs(4).since(t), Duration::ZERO);
        assert_eq!(UnixTime::from_millis_f64(f64::NAN), UnixTime::EPOCH);
        assert_eq!(UnixTime::from_millis_f64(-5.0), UnixTime::EPOCH);
    }
}

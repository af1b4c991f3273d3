//! Wall-clock helpers without a date crate: civil time from Unix seconds (UTC) and Windows FILETIMEs.

use std::time::{SystemTime, UNIX_EPOCH};

/// 100-ns intervals between 1601-01-01 and 1970-01-01.
const FILETIME_UNIX_EPOCH: u64 = 116_444_736_000_000_000;

/// A UTC date and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year.
    pub year: i64,
    /// Month, 1–12.
    pub month: u32,
    /// Day, 1–31.
    pub day: u32,
    /// Hour, 0–23.
    pub hour: u32,
    /// Minute.
    pub minute: u32,
    /// Second.
    pub second: u32,
    /// Millisecond.
    pub millis: u32,
}

/// Now, as Unix milliseconds.
pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Windows FILETIME (100-ns ticks since 1601) for Unix milliseconds.
pub fn filetime_from_unix(unix_millis: u64) -> u64 {
    FILETIME_UNIX_EPOCH + unix_millis * 10_000
}

/// UTC civil time for Unix milliseconds (Howard Hinnant's days-to-civil algorithm).
pub fn civil_from_unix(unix_millis: u64) -> Civil {
    let secs = (unix_millis / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: rem / 60 % 60,
        second: rem % 60,
        millis: (unix_millis % 1000) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_instants() {
        assert_eq!(
            civil_from_unix(0),
            Civil { year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0, millis: 0 }
        );
        // 2024-02-29T23:59:58.250Z
        let c = civil_from_unix(1_709_251_198_250);
        assert_eq!((c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis), (2024, 2, 29, 23, 59, 58, 250));
        assert_eq!(filetime_from_unix(0), FILETIME_UNIX_EPOCH);
    }
}

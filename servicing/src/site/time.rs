//! UTC calendar arithmetic for schedules: RFC 3339 parsing and printing, days and weekdays. Schedules
//! are kept in UTC, as ConfigMgr's `-Utc` schedules are, so a runner's time zone never matters.

use crate::log::civil_from_unix;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day number.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let c = civil_from_unix((days * 86_400 * 1000) as u64);
    (c.year, c.month, c.day)
}

/// Day of the week, 0 = Sunday … 6 = Saturday (cron's numbering).
pub fn weekday(days: i64) -> u32 {
    // 1970-01-01 was a Thursday.
    ((days % 7 + 7 + 4) % 7) as u32
}

/// Days in a month.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    let (ny, nm) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    (days_from_civil(ny, nm, 1) - days_from_civil(year, month, 1)) as u32
}

/// `2026-11-10T02:00:00Z`.
pub fn format_utc(unix: i64) -> String {
    let c = civil_from_unix((unix.max(0) as u64) * 1000);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", c.year, c.month, c.day, c.hour, c.minute, c.second)
}

/// Parses an RFC 3339 date-time (`2026-11-10T02:00:00Z`, `…+01:00`, fractional seconds allowed;
/// a space may stand for the `T`) into Unix seconds.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let bad = |why: &str| format!("{t:?} is not an RFC 3339 date-time ({why}); example: 2026-11-10T02:00:00Z");
    let b = t.as_bytes();
    if b.len() < 20 {
        return Err(bad("too short"));
    }
    let num = |range: std::ops::Range<usize>| -> Result<i64, String> {
        let s = t.get(range).ok_or_else(|| bad("truncated"))?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad("expected digits"));
        }
        s.parse::<i64>().map_err(|_| bad("number"))
    };
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return Err(bad("separators"));
    }
    let (year, month, day) = (num(0..4)?, num(5..7)? as u32, num(8..10)? as u32);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(bad("no such date"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(bad("no such time"));
    }
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad("empty fraction"));
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && &rest[3..4] == ":" => {
            let h = rest[1..3].parse::<i64>().map_err(|_| bad("offset"))?;
            let m = rest[4..6].parse::<i64>().map_err(|_| bad("offset"))?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return Err(bad("a time zone (Z or ±hh:mm) is required")),
    };
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset)
}

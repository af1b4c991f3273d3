//! When a servicing run happens: `--now`, `--at <RFC 3339>`, or `--every <recurrence>` where a
//! recurrence is ConfigMgr-like `monthly:second-tuesday@02:00` or a five-field cron expression
//! (`0 2 * * 2`). All times are UTC.

use super::time::{days_from_civil, days_in_month, format_utc, parse_rfc3339, weekday};

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// As soon as a runner looks.
    Now,
    /// Once, at this Unix time.
    At(i64),
    /// Repeatedly.
    Every(Recurrence),
}

/// A repeating schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recurrence {
    /// The `nth` (1–4, or 5 for "last") `weekday` (0 = Sunday) of every month at `hour:minute`.
    Monthly {
        /// 1–4, or [`LAST`].
        nth: u32,
        /// 0 = Sunday … 6 = Saturday.
        weekday: u32,
        /// Hour (UTC).
        hour: u32,
        /// Minute.
        minute: u32,
    },
    /// A cron expression.
    Cron(Cron),
}

/// `nth` meaning the last such weekday of the month.
pub const LAST: u32 = 5;

const WEEKDAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const ORDINALS: [&str; 5] = ["first", "second", "third", "fourth", "last"];

/// A five-field cron expression: minute, hour, day of month, month, day of week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    days_any: bool,
    weekdays_any: bool,
}

impl When {
    /// Parses the CLI forms: `now`, `at:<RFC 3339>`, or a recurrence.
    pub fn parse_every(spec: &str) -> Result<When, String> {
        Recurrence::parse(spec).map(When::Every)
    }

    /// Parses an `--at` value.
    pub fn parse_at(spec: &str) -> Result<When, String> {
        parse_rfc3339(spec).map(When::At)
    }

    /// The stored form: (`now` | `at` | `every`, text).
    pub fn to_stored(&self) -> (&'static str, String) {
        match self {
            When::Now => ("now", String::new()),
            When::At(t) => ("at", format_utc(*t)),
            When::Every(r) => ("every", r.text()),
        }
    }

    /// Reads the stored form back.
    pub fn from_stored(kind: &str, text: &str) -> Result<When, String> {
        match kind {
            "now" => Ok(When::Now),
            "at" => When::parse_at(text),
            _ => When::parse_every(text),
        }
    }

    /// The first run time at or after `created` (for `Now`, `created` itself).
    pub fn first_run(&self, created: i64) -> Option<i64> {
        match self {
            When::Now => Some(created),
            When::At(t) => Some(*t),
            When::Every(r) => r.next_after(created - 1),
        }
    }

    /// The run after one at `last`, for recurring schedules.
    pub fn next_after(&self, last: i64) -> Option<i64> {
        match self {
            When::Every(r) => r.next_after(last),
            _ => None,
        }
    }

    /// How it reads in listings.
    pub fn describe(&self) -> String {
        match self {
            When::Now => "now".into(),
            When::At(t) => format!("at {}", format_utc(*t)),
            When::Every(r) => format!("every {}", r.text()),
        }
    }
}

impl Recurrence {
    /// Parses `monthly:<first|second|third|fourth|last>-<weekday>@HH:MM` or a cron expression.
    pub fn parse(spec: &str) -> Result<Recurrence, String> {
        let s = spec.trim();
        if let Some(rest) = s.strip_prefix("monthly:") {
            let (day, at) =
                rest.split_once('@').ok_or("monthly schedules need a time: monthly:second-tuesday@02:00")?;
            let (ord, wd) = day.split_once('-').ok_or("expected <ordinal>-<weekday>, e.g. second-tuesday")?;
            let nth = ORDINALS
                .iter()
                .position(|o| o.eq_ignore_ascii_case(ord))
                .ok_or_else(|| format!("ordinal {ord:?}: use first, second, third, fourth or last"))?
                as u32
                + 1;
            let weekday = weekday_number(wd).ok_or_else(|| format!("weekday {wd:?}: use monday … sunday"))?;
            let (hour, minute) = parse_hhmm(at)?;
            return Ok(Recurrence::Monthly { nth, weekday, hour, minute });
        }
        Cron::parse(s).map(Recurrence::Cron)
    }

    /// The canonical text.
    pub fn text(&self) -> String {
        match self {
            Recurrence::Monthly { nth, weekday, hour, minute } => format!(
                "monthly:{}-{}@{hour:02}:{minute:02}",
                ORDINALS[(*nth - 1) as usize],
                WEEKDAYS[*weekday as usize]
            ),
            Recurrence::Cron(c) => c.text(),
        }
    }

    /// The first occurrence strictly after `t` (Unix seconds), within the next ten years.
    pub fn next_after(&self, t: i64) -> Option<i64> {
        match self {
            Recurrence::Monthly { nth, weekday: wd, hour, minute } => {
                let start_day = t.div_euclid(86_400);
                let (mut y, mut m, _) = super::time::civil_from_days(start_day);
                for _ in 0..120 {
                    let first = days_from_civil(y, m, 1);
                    let offset = (i64::from(*wd) - i64::from(weekday(first))).rem_euclid(7);
                    let dim = i64::from(days_in_month(y, m));
                    let mut day = offset + 7 * i64::from(nth - 1);
                    if *nth == LAST {
                        day = offset + 7 * ((dim - 1 - offset) / 7);
                    }
                    if day < dim {
                        let when = (first + day) * 86_400 + i64::from(*hour) * 3600 + i64::from(*minute) * 60;
                        if when > t {
                            return Some(when);
                        }
                    }
                    (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                }
                None
            }
            Recurrence::Cron(c) => c.next_after(t),
        }
    }
}

fn weekday_number(s: &str) -> Option<u32> {
    let l = s.to_ascii_lowercase();
    WEEKDAYS.iter().position(|w| *w == l || (l.len() >= 3 && w.starts_with(&l))).map(|p| p as u32)
}

fn parse_hhmm(s: &str) -> Result<(u32, u32), String> {
    let (h, m) = s.split_once(':').ok_or_else(|| format!("time {s:?}: expected HH:MM"))?;
    let h: u32 = h.parse().map_err(|_| format!("time {s:?}: bad hour"))?;
    let m: u32 = m.parse().map_err(|_| format!("time {s:?}: bad minute"))?;
    if h > 23 || m > 59 {
        return Err(format!("time {s:?}: out of range"));
    }
    Ok((h, m))
}

/// One cron field as a bit mask over `lo..=hi`.
fn field(text: &str, lo: u32, hi: u32, names: &[&str]) -> Result<u64, String> {
    let value = |v: &str| -> Result<u32, String> {
        if let Some(p) =
            names.iter().position(|n| n.len() >= 3 && v.len() >= 3 && n.starts_with(&v.to_ascii_lowercase()))
        {
            return Ok(p as u32 + lo);
        }
        let n: u32 = v.parse().map_err(|_| format!("{v:?} is not a number"))?;
        // Day of week 7 is Sunday too.
        let n = if hi == 6 && n == 7 { 0 } else { n };
        if n < lo || n > hi {
            return Err(format!("{n} is outside {lo}-{hi}"));
        }
        Ok(n)
    };
    let mut mask = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().map_err(|_| format!("step {s:?}"))?.max(1)),
            None => (part, 1),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            (v, if step > 1 { hi } else { v })
        };
        if a > b {
            return Err(format!("range {range:?} runs backwards"));
        }
        let mut v = a;
        while v <= b {
            mask |= 1 << v;
            v += step;
        }
    }
    Ok(mask)
}

impl Cron {
    /// Parses `minute hour day-of-month month day-of-week` (numbers, `*`, lists, ranges, steps,
    /// and English month and weekday names).
    pub fn parse(text: &str) -> Result<Cron, String> {
        let f: Vec<&str> = text.split_whitespace().collect();
        if f.len() != 5 {
            return Err(format!(
                "{text:?} is neither monthly:<ordinal>-<weekday>@HH:MM nor a five-field cron expression"
            ));
        }
        const MONTHS: [&str; 12] = [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ];
        Ok(Cron {
            minutes: field(f[0], 0, 59, &[])?,
            hours: field(f[1], 0, 23, &[])? as u32,
            days: field(f[2], 1, 31, &[])? as u32,
            months: field(f[3], 1, 12, &MONTHS)? as u16,
            weekdays: field(f[4], 0, 6, &WEEKDAYS)? as u8,
            days_any: f[2] == "*",
            weekdays_any: f[4] == "*",
        })
    }

    fn text(&self) -> String {
        let list = |mask: u64, lo: u32, hi: u32| -> String {
            let all = (lo..=hi).all(|v| mask & (1 << v) != 0);
            if all {
                return "*".into();
            }
            (lo..=hi).filter(|v| mask & (1 << v) != 0).map(|v| v.to_string()).collect::<Vec<_>>().join(",")
        };
        format!(
            "{} {} {} {} {}",
            list(self.minutes, 0, 59),
            list(u64::from(self.hours), 0, 23),
            if self.days_any { "*".into() } else { list(u64::from(self.days), 1, 31) },
            list(u64::from(self.months), 1, 12),
            if self.weekdays_any { "*".into() } else { list(u64::from(self.weekdays), 0, 6) },
        )
    }

    fn day_matches(&self, day: i64) -> bool {
        let (_, m, d) = super::time::civil_from_days(day);
        if self.months & (1 << m) == 0 {
            return false;
        }
        let dom = self.days & (1 << d) != 0;
        let dow = self.weekdays & (1 << weekday(day)) != 0;
        // Classic cron: with both fields restricted, either one matching is enough.
        match (self.days_any, self.weekdays_any) {
            (true, true) => true,
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => dom || dow,
        }
    }

    /// The first matching minute strictly after `t`.
    pub fn next_after(&self, t: i64) -> Option<i64> {
        let start = t.div_euclid(86_400);
        for day in start..start + 366 * 10 {
            if !self.day_matches(day) {
                continue;
            }
            for h in 0..24 {
                if self.hours & (1 << h) == 0 {
                    continue;
                }
                for m in 0..60 {
                    if self.minutes & (1 << m) == 0 {
                        continue;
                    }
                    let when = day * 86_400 + i64::from(h) * 3600 + i64::from(m) * 60;
                    if when > t {
                        return Some(when);
                    }
                }
            }
        }
        None
    }
}

/// The state of a servicing run, with ConfigMgr's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for its time.
    Scheduled,
    /// A runner is on it.
    InProcess,
    /// Done; the image holds the applicable selected updates.
    Successful,
    /// Stopped with an error (or its runner died); the image is as before the run.
    Failed,
    /// Cancelled before it ran, or at a safe point while it ran; the image is as before.
    Cancelled,
}

impl Status {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Scheduled => "Scheduled",
            Status::InProcess => "In Process",
            Status::Successful => "Successful",
            Status::Failed => "Failed",
            Status::Cancelled => "Cancelled",
        }
    }

    /// From the stored text.
    pub fn parse(s: &str) -> Option<Status> {
        [Status::Scheduled, Status::InProcess, Status::Successful, Status::Failed, Status::Cancelled]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

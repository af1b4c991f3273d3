//! The local time zone's offset from UTC at an instant, read from the zoneinfo file (`$TZ` naming
//! one, else `/etc/localtime`) without a date crate and without libc's `localtime_r`: ConfigMgr's
//! logs carry local time and its bias, and so do ours.

use std::path::PathBuf;

/// Minutes east of UTC in force at `unix_secs` (UTC+1 → 60), 0 when the zone cannot be read.
pub fn offset_minutes_east(unix_secs: i64) -> i32 {
    zone_file()
        .and_then(|path| safe_fs::open_input(&path).ok())
        .and_then(|(f, _)| {
            use std::io::Read as _;
            let mut bytes = Vec::new();
            f.take(1 << 20).read_to_end(&mut bytes).ok()?;
            tzif_offset(&bytes, unix_secs)
        })
        .map_or(0, |secs| secs / 60)
}

/// The zoneinfo file: `$TZ` (`Europe/Paris`, `:Europe/Paris`, an absolute path), else
/// `/etc/localtime`. A POSIX rule string in `$TZ` (`CET-1CEST`) is not read: UTC is assumed.
fn zone_file() -> Option<PathBuf> {
    match std::env::var("TZ") {
        Ok(tz) if !tz.is_empty() => {
            let name = tz.strip_prefix(':').unwrap_or(&tz);
            if name.starts_with('/') {
                Some(PathBuf::from(name))
            } else if name.contains("..") {
                None
            } else {
                Some(PathBuf::from("/usr/share/zoneinfo").join(name))
            }
        }
        _ => Some(PathBuf::from("/etc/localtime")),
    }
}

/// The UTC offset in seconds a TZif file (RFC 8536) gives for `t`: the type of the last transition
/// at or before `t`, else the first type. Version 2+ files are read from their 64-bit block.
fn tzif_offset(b: &[u8], t: i64) -> Option<i32> {
    let header = |b: &[u8]| -> Option<[usize; 6]> {
        if b.get(..4)? != b"TZif" {
            return None;
        }
        let n = |i: usize| -> Option<usize> {
            Some(u32::from_be_bytes(b.get(20 + 4 * i..24 + 4 * i)?.try_into().ok()?) as usize)
        };
        // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
        Some([n(0)?, n(1)?, n(2)?, n(3)?, n(4)?, n(5)?])
    };
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = header(b)?;
    let (block, time_size) = if *b.get(4)? >= b'2' {
        let v1_len = timecnt * 4 + timecnt + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
        (b.get(44 + v1_len..)?, 8)
    } else {
        (b, 4)
    };
    let [_, _, _, timecnt, typecnt, _] = header(block)?;
    let data = block.get(44..)?;
    let times = data.get(..timecnt * time_size)?;
    let idx = data.get(timecnt * time_size..timecnt * time_size + timecnt)?;
    let types = data.get(timecnt * time_size + timecnt..timecnt * time_size + timecnt + typecnt * 6)?;
    let at = |i: usize| -> i64 {
        let s = &times[i * time_size..(i + 1) * time_size];
        if time_size == 8 {
            i64::from_be_bytes(s.try_into().unwrap_or_default())
        } else {
            i64::from(i32::from_be_bytes(s.try_into().unwrap_or_default()))
        }
    };
    let ty = (0..timecnt).rev().find(|&i| at(i) <= t).map_or(0, |i| usize::from(idx[i]));
    let rec = types.get(ty * 6..ty * 6 + 4)?;
    Some(i32::from_be_bytes(rec.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::tzif_offset;

    /// A version-1 TZif file with one transition at `at` from UTC+0 to `offset`.
    fn tzif(at: i32, offset: i32) -> Vec<u8> {
        let mut b = b"TZif".to_vec();
        b.push(0);
        b.extend([0u8; 15]);
        for n in [0u32, 0, 0, 1, 2, 4] {
            b.extend(n.to_be_bytes());
        }
        b.extend(at.to_be_bytes());
        b.push(1);
        b.extend(0i32.to_be_bytes());
        b.extend([0, 0]);
        b.extend(offset.to_be_bytes());
        b.extend([0, 0]);
        b.extend(b"UTC\0");
        b
    }

    #[test]
    fn the_offset_in_force_is_that_of_the_last_transition() {
        let b = tzif(1000, 3600);
        assert_eq!(tzif_offset(&b, 999), Some(0));
        assert_eq!(tzif_offset(&b, 1000), Some(3600));
        assert_eq!(tzif_offset(&b"not a zone"[..], 0), None);
    }
}

//! Dates: parsing the `Date:` header and command-line dates, formatting RFC 3339 UTC.

/// Parse an RFC 5322 `Date:` value (tolerant, via `mailparse::dateparse`) to Unix seconds.
pub fn parse_header_date(raw: &[u8]) -> Option<i64> {
    let s = super::text::utf8_or_latin1(&super::header::unfold(raw));
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    // mailparse accepts some garbage as a date of 0; a Date header that parses to before 1971 is
    // treated as unparsable rather than trusted.
    match mailparse::dateparse(s) {
        Ok(t) if t > 31_536_000 && t < 253_402_300_800 => Some(t),
        _ => None,
    }
}

/// Parse a command-line date: `YYYY-MM-DD` (midnight UTC), or RFC 3339 `YYYY-MM-DDTHH:MM:SSZ`
/// / with a `+HH:MM` offset.
pub fn parse_cli_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut t = days_from_civil(y, m as u32, d as u32) * 86_400;
    if b.len() == 10 {
        return Some(t);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 19 || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    t += hh * 3600 + mm * 60 + ss;
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    match rest {
        "Z" | "z" | "" => Some(t),
        off if off.len() == 6
            && (off.starts_with('+') || off.starts_with('-'))
            && &off[3..4] == ":" =>
        {
            let oh: i64 = off[1..3].parse().ok()?;
            let om: i64 = off[4..6].parse().ok()?;
            let sign = if off.starts_with('+') { 1 } else { -1 };
            Some(t - sign * (oh * 3600 + om * 60))
        }
        _ => None,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Format Unix seconds as RFC 3339 UTC, e.g. `2024-03-05T09:30:00Z`.
pub fn rfc3339(t: i64) -> String {
    let mut s = String::with_capacity(20);
    write_rfc3339(&mut s, t);
    s
}

/// [`rfc3339`] appended to `out`, without allocating.
pub fn write_rfc3339(out: &mut String, t: i64) {
    use std::fmt::Write as _;
    let mut buf = [0u8; 20];
    match rfc3339_in(t, &mut buf) {
        Some(s) => out.push_str(s),
        None => {
            let (y, m, d, h, mi, s) = civil(t);
            let _ = write!(out, "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");
        }
    }
}

/// [`rfc3339`] in `buf` when the year has four digits (all real mail; dates are written for
/// every row of several reports: digits set directly, without the formatter), else `None`.
pub fn rfc3339_in(t: i64, buf: &mut [u8; 20]) -> Option<&str> {
    let (y, mo, d, h, mi, s) = civil(t);
    if !(0..=9999).contains(&y) {
        return None;
    }
    let two = |b: &mut [u8], v: i64| {
        b[0] = b'0' + (v / 10) as u8;
        b[1] = b'0' + (v % 10) as u8;
    };
    two(&mut buf[0..2], y / 100);
    two(&mut buf[2..4], y % 100);
    buf[4] = b'-';
    two(&mut buf[5..7], mo);
    buf[7] = b'-';
    two(&mut buf[8..10], d);
    buf[10] = b'T';
    two(&mut buf[11..13], h);
    buf[13] = b':';
    two(&mut buf[14..16], mi);
    buf[16] = b':';
    two(&mut buf[17..19], s);
    buf[19] = b'Z';
    // ASCII digits and separators.
    std::str::from_utf8(buf).ok()
}

/// Unix seconds to (year, month, day, hour, minute, second), proleptic Gregorian, UTC.
pub fn civil(t: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn dates_are_written_as_the_formatter_writes_them() {
        let slow = |t: i64| {
            let (y, m, d, h, mi, s) = civil(t);
            format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
        };
        let mut t = -62_200_000_000i64; // before year 0
        while t < 253_500_000_000 {
            // past 9999
            assert_eq!(rfc3339(t), slow(t), "{t}");
            t += 3_333_331 + t.rem_euclid(86_399);
        }
        for t in [
            -62_167_219_201,
            -62_167_219_200,
            253_402_300_799,
            253_402_300_800,
        ] {
            assert_eq!(rfc3339(t), slow(t), "{t}");
        }
    }

    #[test]
    fn header_dates() {
        assert_eq!(
            parse_header_date(b"Tue, 5 Mar 2024 10:30:00 +0100")
                .map(rfc3339)
                .as_deref(),
            Some("2024-03-05T09:30:00Z")
        );
        assert_eq!(parse_header_date(b"not a date"), None);
        assert_eq!(parse_header_date(b""), None);
    }

    #[test]
    fn cli_dates_round_trip() {
        assert_eq!(
            parse_cli_date("2024-03-05").map(rfc3339).as_deref(),
            Some("2024-03-05T00:00:00Z")
        );
        assert_eq!(
            parse_cli_date("2024-03-05T10:30:00+01:00")
                .map(rfc3339)
                .as_deref(),
            Some("2024-03-05T09:30:00Z")
        );
        assert_eq!(parse_cli_date("2024-13-05"), None);
        assert_eq!(parse_cli_date("yesterday"), None);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}

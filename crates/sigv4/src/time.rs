//! `X-Amz-Date` times without a date-time crate.
//!
//! SigV4 only ever needs UTC, whole seconds and two formats (`20150830T123600Z` and
//! the `20150830` scope date), plus RFC 3339 for S3's `<ServerTime>`, so a few lines
//! of civil-calendar arithmetic keep the crate dependency-free and fast.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC instant with one-second resolution, as carried by `X-Amz-Date`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AmzDate {
    unix: i64,
}

impl AmzDate {
    /// The instant `unix` seconds after 1970-01-01T00:00:00Z.
    pub const fn from_unix(unix: i64) -> Self {
        Self { unix }
    }

    /// The current time, truncated to whole seconds.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// Converts from `SystemTime`, truncating sub-second precision.
    pub fn from_system_time(t: SystemTime) -> Self {
        let unix = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        };
        Self { unix }
    }

    /// Seconds since the Unix epoch.
    pub const fn unix(self) -> i64 {
        self.unix
    }

    /// Parses the ISO 8601 basic format SigV4 uses: `yyyyMMddTHHmmssZ`.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let year = digits(&b[0..4])?;
        let month = digits(&b[4..6])?;
        let day = digits(&b[6..8])?;
        let hour = digits(&b[9..11])?;
        let minute = digits(&b[11..13])?;
        let second = digits(&b[13..15])?;
        Self::from_civil(year, month, day, hour, minute, second)
    }

    /// Parses RFC 3339 / ISO 8601 extended UTC times: `2015-08-30T12:36:00Z`, with
    /// optional fractional seconds (dropped) and `Z` or a `+HH:MM` offset.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let base = Self::from_civil(
            digits(&b[0..4])?,
            digits(&b[5..7])?,
            digits(&b[8..10])?,
            digits(&b[11..13])?,
            digits(&b[14..16])?,
            digits(&b[17..19])?,
        )?;
        let mut rest = &b[19..];
        if rest.first() == Some(&b'.') {
            let frac = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if frac == 0 {
                return None;
            }
            rest = &rest[1 + frac..];
        }
        let offset = match rest {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                // RFC 3339 offsets are real ones: hours 00-23, minutes 00-59.
                let (h, m) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
                if h > 23 || m > 59 {
                    return None;
                }
                let mins = h * 60 + m;
                if *sign == b'+' { -mins * 60 } else { mins * 60 }
            }
            _ => return None,
        };
        Some(Self::from_unix(base.unix + offset))
    }

    /// Builds a time from calendar fields, rejecting impossible dates.
    pub fn from_civil(y: i64, m: i64, d: i64, hh: i64, mm: i64, ss: i64) -> Option<Self> {
        if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
            return None;
        }
        if !(0..24).contains(&hh) || !(0..60).contains(&mm) || !(0..61).contains(&ss) {
            return None;
        }
        let days = days_from_civil(y, m, d);
        Some(Self::from_unix(days * 86_400 + hh * 3_600 + mm * 60 + ss))
    }

    /// The calendar fields (year, month, day, hour, minute, second).
    pub fn civil(self) -> (i64, i64, i64, i64, i64, i64) {
        let days = self.unix.div_euclid(86_400);
        let secs = self.unix.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        (y, m, d, secs / 3_600, secs % 3_600 / 60, secs % 60)
    }

    /// `yyyyMMddTHHmmssZ`, the `X-Amz-Date` form.
    pub fn amz_format(self) -> String {
        let mut out = String::with_capacity(16);
        self.push_amz_format(&mut out);
        out
    }

    /// `yyyyMMdd`, the credential-scope date.
    pub fn scope_date(self) -> String {
        let mut out = String::with_capacity(8);
        self.push_scope_date(&mut out);
        out
    }

    /// Appends [`AmzDate::amz_format`] to `out` without a temporary string.
    fn push_amz_format(self, out: &mut String) {
        match self.amz_bytes() {
            Some(b) => out.push_str(ascii(&b)),
            None => {
                let (y, mo, d, h, mi, s) = self.civil();
                out.push_str(&format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z"));
            }
        }
    }

    /// Appends [`AmzDate::scope_date`] to `out` without a temporary string.
    fn push_scope_date(self, out: &mut String) {
        match self.amz_bytes() {
            Some(b) => out.push_str(ascii(&b[..8])),
            None => {
                let (y, mo, d, ..) = self.civil();
                out.push_str(&format!("{y:04}{mo:02}{d:02}"));
            }
        }
    }

    /// True when `scope_date` is exactly [`AmzDate::scope_date`], without allocating.
    pub(crate) fn has_scope_date(self, scope_date: &str) -> bool {
        match self.amz_bytes() {
            Some(b) => scope_date.as_bytes() == &b[..8],
            None => scope_date == self.scope_date(),
        }
    }

    /// `yyyyMMddTHHmmssZ` as bytes, for years 0–9999 (the only ones with four
    /// digits; the callers fall back to `format!` for the rest, byte-identically).
    fn amz_bytes(self) -> Option<[u8; 16]> {
        let (y, mo, d, h, mi, s) = self.civil();
        if !(0..=9999).contains(&y) {
            return None;
        }
        let mut b = *b"00000000T000000Z";
        put_digits(&mut b[0..4], y);
        put_digits(&mut b[4..6], mo);
        put_digits(&mut b[6..8], d);
        put_digits(&mut b[9..11], h);
        put_digits(&mut b[11..13], mi);
        put_digits(&mut b[13..15], s);
        Some(b)
    }

    /// Parses a credential-scope date `yyyyMMdd` (midnight UTC), exactly as
    /// [`AmzDate::parse`] would parse `{date}T000000Z`.
    pub(crate) fn parse_scope_date(date: &str) -> Option<Self> {
        let b = date.as_bytes();
        if b.len() != 8 {
            return None;
        }
        Self::from_civil(digits(&b[0..4])?, digits(&b[4..6])?, digits(&b[6..8])?, 0, 0, 0)
    }

    /// `yyyy-MM-ddTHH:mm:ssZ`, as S3 writes `<Expires>` and `<ServerTime>`.
    pub fn rfc3339(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }

    /// This instant plus `secs` seconds.
    pub const fn plus(self, secs: i64) -> Self {
        Self::from_unix(self.unix.saturating_add(secs))
    }
}

impl fmt::Display for AmzDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.amz_format())
    }
}

/// Writes `v` (0 ≤ v < 10^len) as zero-padded decimal into `out`.
fn put_digits(out: &mut [u8], mut v: i64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// The digits written by [`put_digits`] as a `&str`; they are ASCII, so this never
/// falls back to the empty string.
fn ascii(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or_default()
}

fn digits(b: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_known_instants() {
        let t = AmzDate::parse("20150830T123600Z").unwrap();
        assert_eq!(t.unix(), 1_440_938_160);
        assert_eq!(t.amz_format(), "20150830T123600Z");
        assert_eq!(t.scope_date(), "20150830");
        assert_eq!(t.rfc3339(), "2015-08-30T12:36:00Z");
        assert_eq!(AmzDate::parse("20000229T000000Z").unwrap().rfc3339(), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn fast_formatting_matches_format_macro() {
        let slow = |t: AmzDate| {
            let (y, mo, d, h, mi, s) = t.civil();
            (format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z"), format!("{y:04}{mo:02}{d:02}"))
        };
        let samples =
            [i64::MIN / 4, -62_167_219_201, -62_167_219_200, -1, 0, 1_440_938_160, 253_402_300_799, 253_402_300_800, i64::MAX / 4];
        for unix in samples.into_iter().chain((-70_000_000_000i64..300_000_000_000).step_by(1_234_567_891)) {
            let t = AmzDate::from_unix(unix);
            let (amz, scope) = slow(t);
            assert_eq!(t.amz_format(), amz, "{unix}");
            assert_eq!(t.scope_date(), scope, "{unix}");
            assert!(t.has_scope_date(&scope), "{unix}");
            assert!(!t.has_scope_date("19700101x"), "{unix}");
        }
    }

    #[test]
    fn scope_dates_parse_like_full_dates() {
        for date in ["20150830", "20000229", "20010229", "2015083O", "20151301", "2015-830", "+0150830", "00000101", "1234567", "123456789"]
        {
            assert_eq!(AmzDate::parse_scope_date(date), AmzDate::parse(&format!("{date}T000000Z")), "{date}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["20150830T123600", "2015-08-30T12:36:00Z", "20150230T000000Z", "2015083OT123600Z", "20151301T000000Z"] {
            assert!(AmzDate::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn parses_rfc3339_forms() {
        let z = AmzDate::parse_rfc3339("2015-08-30T12:36:00Z").unwrap();
        assert_eq!(z.unix(), 1_440_938_160);
        assert_eq!(AmzDate::parse_rfc3339("2015-08-30T12:36:00.123Z"), Some(z));
        assert_eq!(AmzDate::parse_rfc3339("2015-08-30T14:36:00+02:00"), Some(z));
        assert!(AmzDate::parse_rfc3339("2015-08-30").is_none());
        for bad in ["2030-01-01T00:00:00+99:99", "2030-01-01T00:00:00+24:00", "2030-01-01T00:00:00-00:60"] {
            assert!(AmzDate::parse_rfc3339(bad).is_none(), "{bad}");
        }
        assert!(AmzDate::parse_rfc3339("2030-01-01T00:00:00-23:59").is_some());
    }

    #[test]
    fn civil_round_trip_over_centuries() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}

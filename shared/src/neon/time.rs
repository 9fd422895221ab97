//! Postgres' ISO text form of `date`, `timestamp` and `timestamptz` (DateStyle ISO, the default):
//! `2026-11-21`, `2026-11-21 06:33:07.123456`, `2026-11-21 06:33:07.123456+05:30`, with a
//! trailing ` BC` for years before 1 AD and the specials `infinity` / `-infinity`.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};

/// A Postgres date/time value, which unlike chrono's types can be ±infinity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MaybeInfinite<T> {
    NegInfinity,
    Finite(T),
    Infinity,
}

impl<T> MaybeInfinite<T> {
    pub fn finite(self) -> Option<T> {
        match self {
            MaybeInfinite::Finite(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_finite(&self) -> Option<&T> {
        match self {
            MaybeInfinite::Finite(value) => Some(value),
            _ => None,
        }
    }
}

pub(crate) fn parse_date(text: &str) -> Result<MaybeInfinite<NaiveDate>, String> {
    if let Some(special) = parse_infinity(text) {
        return Ok(special);
    }
    let (text, bc) = split_era(text);
    parse_ymd(text, bc).map(MaybeInfinite::Finite)
}

pub(crate) fn parse_timestamp(text: &str) -> Result<MaybeInfinite<NaiveDateTime>, String> {
    if let Some(special) = parse_infinity(text) {
        return Ok(special);
    }
    let (text, bc) = split_era(text);
    let (date, time) = split_date_time(text)?;
    Ok(MaybeInfinite::Finite(NaiveDateTime::new(parse_ymd(date, bc)?, parse_hms(time)?)))
}

pub(crate) fn parse_timestamptz(text: &str) -> Result<MaybeInfinite<DateTime<Utc>>, String> {
    if let Some(special) = parse_infinity(text) {
        return Ok(special);
    }
    let (text, bc) = split_era(text);
    let (date, rest) = split_date_time(text)?;
    // The time part has no sign, so the first sign starts the UTC offset.
    let (time, offset_seconds) = match rest.find(['+', '-']) {
        Some(at) => (&rest[..at], parse_offset(&rest[at..])?),
        None => match rest.strip_suffix('Z') {
            Some(time) => (time, 0),
            None => return Err("missing UTC offset".into()),
        },
    };
    let local = NaiveDateTime::new(parse_ymd(date, bc)?, parse_hms(time)?);
    let utc =
        local.checked_sub_signed(TimeDelta::seconds(i64::from(offset_seconds))).ok_or("timestamp out of range")?;
    Ok(MaybeInfinite::Finite(utc.and_utc()))
}

/// `date` param text that Postgres reads back as the same day.
pub(crate) fn format_date(date: NaiveDate) -> String {
    let (year, era) = pg_year(date.year());
    format!("{year:04}-{:02}-{:02}{era}", date.month(), date.day())
}

/// `timestamp` param text; chrono's `%.f` prints 0, 3, 6 or 9 fraction digits.
pub(crate) fn format_timestamp(value: NaiveDateTime) -> String {
    let (year, era) = pg_year(value.year());
    format!("{year:04}-{:02}-{:02} {}{era}", value.month(), value.day(), value.format("%H:%M:%S%.f"))
}

/// `timestamptz` param text with an explicit `+00` offset, so the session time zone is irrelevant.
pub(crate) fn format_timestamptz(value: DateTime<Utc>) -> String {
    let naive = value.naive_utc();
    let (year, era) = pg_year(naive.year());
    format!("{year:04}-{:02}-{:02} {}+00{era}", naive.month(), naive.day(), naive.format("%H:%M:%S%.f"))
}

/// chrono counts 1 BC as year 0 (proleptic ISO); Postgres writes it as `0001 … BC`.
fn pg_year(year: i32) -> (i32, &'static str) {
    if year <= 0 { (1 - year, " BC") } else { (year, "") }
}

fn parse_infinity<T>(text: &str) -> Option<MaybeInfinite<T>> {
    match text {
        "infinity" => Some(MaybeInfinite::Infinity),
        "-infinity" => Some(MaybeInfinite::NegInfinity),
        _ => None,
    }
}

fn split_era(text: &str) -> (&str, bool) {
    match text.strip_suffix(" BC") {
        Some(rest) => (rest, true),
        None => (text, false),
    }
}

fn split_date_time(text: &str) -> Result<(&str, &str), String> {
    text.split_once([' ', 'T']).ok_or_else(|| "missing time part".into())
}

fn digits(text: &str, what: &str) -> Result<u32, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad {what} {text:?}"));
    }
    text.parse().map_err(|_| format!("{what} out of range"))
}

fn parse_ymd(text: &str, bc: bool) -> Result<NaiveDate, String> {
    let mut parts = text.splitn(3, '-');
    let (Some(year), Some(month), Some(day)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("expected YYYY-MM-DD".into());
    };
    let year = i32::try_from(digits(year, "year")?).map_err(|_| "year out of range")?;
    let year = if bc { 1 - year } else { year };
    NaiveDate::from_ymd_opt(year, digits(month, "month")?, digits(day, "day")?)
        .ok_or_else(|| "date out of range".into())
}

fn parse_hms(text: &str) -> Result<NaiveTime, String> {
    let (clock, fraction) = match text.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (text, None),
    };
    let mut parts = clock.splitn(3, ':');
    let (Some(hour), Some(minute), Some(second)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("expected HH:MM:SS".into());
    };
    let nanos = match fraction {
        None => 0,
        Some(fraction) if fraction.len() <= 9 => digits(fraction, "fraction")? * 10u32.pow(9 - fraction.len() as u32),
        Some(_) => return Err("more than 9 fraction digits".into()),
    };
    NaiveTime::from_hms_nano_opt(digits(hour, "hour")?, digits(minute, "minute")?, digits(second, "second")?, nanos)
        .ok_or_else(|| "time out of range".into())
}

/// `+HH`, `-HH:MM` or `+HH:MM:SS` (historical zones have second offsets) into seconds east.
fn parse_offset(text: &str) -> Result<i32, String> {
    let (sign, rest) = match text.split_at_checked(1) {
        Some(("+", rest)) => (1, rest),
        Some(("-", rest)) => (-1, rest),
        _ => return Err("bad UTC offset".into()),
    };
    let mut seconds = 0;
    for (i, part) in rest.split(':').enumerate() {
        let scale = match i {
            0 => 3600,
            1 => 60,
            2 => 1,
            _ => return Err("bad UTC offset".into()),
        };
        seconds += i32::try_from(digits(part, "offset")?).map_err(|_| "bad UTC offset")? * scale;
    }
    Ok(sign * seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, micros: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap() + TimeDelta::microseconds(micros.into())
    }

    #[test]
    fn timestamptz_in_utc_with_microseconds() {
        assert_eq!(
            parse_timestamptz("2026-11-21 06:33:07.123456+00").unwrap(),
            MaybeInfinite::Finite(utc(2026, 11, 21, 6, 33, 7, 123_456))
        );
    }

    #[test]
    fn timestamptz_with_positive_and_negative_offsets_is_converted_to_utc() {
        assert_eq!(
            parse_timestamptz("2026-11-21 12:03:07+05:30").unwrap(),
            MaybeInfinite::Finite(utc(2026, 11, 21, 6, 33, 7, 0))
        );
        assert_eq!(
            parse_timestamptz("2026-11-20 22:33:07.5-08").unwrap(),
            MaybeInfinite::Finite(utc(2026, 11, 21, 6, 33, 7, 500_000))
        );
    }

    #[test]
    fn timestamptz_with_a_seconds_offset_from_a_historical_zone() {
        // Europe/Amsterdam before 1937 was +00:19:32.
        assert_eq!(
            parse_timestamptz("1900-01-01 00:19:32+00:19:32").unwrap(),
            MaybeInfinite::Finite(utc(1900, 1, 1, 0, 0, 0, 0))
        );
    }

    #[test]
    fn timestamptz_infinities() {
        assert_eq!(parse_timestamptz("infinity").unwrap(), MaybeInfinite::Infinity);
        assert_eq!(parse_timestamptz("-infinity").unwrap(), MaybeInfinite::NegInfinity);
    }

    #[test]
    fn timestamptz_before_christ_and_after_year_9999() {
        let bc = parse_timestamptz("0044-03-15 12:00:00+00 BC").unwrap().finite().unwrap();
        assert_eq!(bc.year(), -43);
        let far = parse_timestamptz("12026-01-01 00:00:00+00").unwrap().finite().unwrap();
        assert_eq!(far.year(), 12026);
    }

    #[test]
    fn timestamp_without_zone() {
        assert_eq!(
            parse_timestamp("2026-11-21 06:33:07.000001").unwrap(),
            MaybeInfinite::Finite(utc(2026, 11, 21, 6, 33, 7, 1).naive_utc())
        );
        assert_eq!(parse_timestamp("-infinity").unwrap(), MaybeInfinite::NegInfinity);
    }

    #[test]
    fn dates_including_bc_and_infinity() {
        assert_eq!(
            parse_date("2026-02-28").unwrap(),
            MaybeInfinite::Finite(NaiveDate::from_ymd_opt(2026, 2, 28).unwrap())
        );
        assert_eq!(
            parse_date("0001-01-01 BC").unwrap(),
            MaybeInfinite::Finite(NaiveDate::from_ymd_opt(0, 1, 1).unwrap())
        );
        assert_eq!(parse_date("infinity").unwrap(), MaybeInfinite::Infinity);
    }

    #[test]
    fn malformed_times_are_errors() {
        for bad in [
            "2026-11-21",
            "2026-11-21 06:33:07",
            "2026-13-01 00:00:00+00",
            "2026-11-21 25:00:00+00",
            "2026-11-21 06:33:07.1234567890+00",
            "2026-11-21 06:33:07+0a",
            "2026-11-21 06:33+00",
            "+2026-11-21 06:33:07+00",
        ] {
            assert!(parse_timestamptz(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(parse_date("2026-02-30").is_err());
        assert!(parse_date("Infinity").is_err());
    }

    #[test]
    fn param_formats_match_postgres_output() {
        let value = utc(2026, 11, 21, 6, 33, 7, 123_456);
        assert_eq!(format_timestamptz(value), "2026-11-21 06:33:07.123456+00");
        assert_eq!(format_timestamp(value.naive_utc()), "2026-11-21 06:33:07.123456");
        assert_eq!(format_date(value.date_naive()), "2026-11-21");
        assert_eq!(format_date(NaiveDate::from_ymd_opt(-43, 3, 15).unwrap()), "0044-03-15 BC");
    }

    proptest! {
        #[test]
        fn timestamptz_text_round_trips_at_any_offset(
            seconds in -62_000_000_000i64..250_000_000_000,
            micros in 0u32..1_000_000,
            offset_minutes in -15 * 60i32..=15 * 60,
        ) {
            let value = DateTime::from_timestamp(seconds, micros * 1000).unwrap();
            let offset = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
            let local = value.with_timezone(&offset).naive_local();
            let (year, era) = pg_year(local.year());
            let sign = if offset_minutes < 0 { '-' } else { '+' };
            let abs = offset_minutes.abs();
            let text = format!(
                "{year:04}-{:02}-{:02} {}{sign}{:02}:{:02}{era}",
                local.month(), local.day(), local.format("%H:%M:%S%.f"), abs / 60, abs % 60
            );
            prop_assert_eq!(parse_timestamptz(&text).unwrap(), MaybeInfinite::Finite(value));
        }

        #[test]
        fn formatted_params_parse_back(seconds in -62_000_000_000i64..250_000_000_000) {
            let value = DateTime::from_timestamp(seconds, 0).unwrap();
            prop_assert_eq!(
                parse_timestamptz(&format_timestamptz(value)).unwrap(),
                MaybeInfinite::Finite(value)
            );
            prop_assert_eq!(
                parse_date(&format_date(value.date_naive())).unwrap(),
                MaybeInfinite::Finite(value.date_naive())
            );
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = parse_timestamptz(&text);
            let _ = parse_timestamp(&text);
            let _ = parse_date(&text);
        }
    }
}

//! When an API key's spend limit starts again from zero: never, or at 00:00 UTC each day, each
//! Monday, or on the first of each month. The key's spend is counted per window, named by the
//! date its period starts.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

text_enum! {
    /// When an API key's spend limit starts again from zero (UTC); never when a key has none.
    pub enum LimitReset {
        Daily = "daily",
        /// On Mondays.
        Weekly = "weekly",
        Monthly = "monthly",
    }
}

/// The window a key's `spent` counts in at `at`: the date its period starts, or `""` for a
/// limit that never resets.
pub fn window_of(reset: Option<LimitReset>, at: DateTime<Utc>) -> String {
    period_start(reset, at).map_or_else(String::new, |start| start.format("%Y-%m-%d").to_string())
}

/// When the window holding `at` ends (the key's spent starts again from zero), if it ever does.
pub fn window_ends(reset: Option<LimitReset>, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let start = period_start(reset, at)?;
    let next = match reset? {
        LimitReset::Daily => start + Duration::days(1),
        LimitReset::Weekly => start + Duration::days(7),
        LimitReset::Monthly => start.checked_add_months(chrono::Months::new(1))?,
    };
    Some(Utc.from_utc_datetime(&next.and_hms_opt(0, 0, 0)?))
}

fn period_start(reset: Option<LimitReset>, at: DateTime<Utc>) -> Option<NaiveDate> {
    let day = at.date_naive();
    Some(match reset? {
        LimitReset::Daily => day,
        LimitReset::Weekly => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
        LimitReset::Monthly => day.with_day(1)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn windows_start_at_utc_midnight_mondays_and_firsts() {
        // 2026-12-06 is a Sunday.
        let sunday = at("2026-12-06T23:59:59Z");
        assert_eq!(window_of(None, sunday), "");
        assert_eq!(window_ends(None, sunday), None);
        assert_eq!(window_of(Some(LimitReset::Daily), sunday), "2026-12-06");
        assert_eq!(window_ends(Some(LimitReset::Daily), sunday), Some(at("2026-12-07T00:00:00Z")));
        assert_eq!(window_of(Some(LimitReset::Weekly), sunday), "2026-11-30");
        assert_eq!(window_of(Some(LimitReset::Weekly), at("2026-12-07T00:00:00Z")), "2026-12-07");
        assert_eq!(window_ends(Some(LimitReset::Weekly), sunday), Some(at("2026-12-07T00:00:00Z")));
        assert_eq!(window_of(Some(LimitReset::Monthly), at("2026-12-31T23:59:59Z")), "2026-12-01");
        assert_eq!(
            window_ends(Some(LimitReset::Monthly), at("2026-12-31T23:59:59Z")),
            Some(at("2027-01-01T00:00:00Z"))
        );
    }
}

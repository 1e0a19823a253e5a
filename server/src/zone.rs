//! The company's time zone: the office page shows every time in it and reads every typed time
//! in it, so a dispatcher in Chicago types "09:00" and means nine in Chicago, summer or winter.
//!
//! Documents keep UTC instants (`Timestamp`), and the API speaks RFC 3339: only what people read
//! and type goes through [`Zone`]. The zone is a company setting (an IANA name, set with
//! `fieldsync-server company --time-zone` or on the office's settings page); a company without
//! one is on UTC.
//!
//! Days follow the zone too: "today" is the company's today, and a day runs from its local
//! midnight to the next, 23 or 25 hours on the days the clocks change. A typed time the clocks
//! skip (02:30 on the spring-forward night) is refused with the reason; one they repeat (01:30
//! on the fall-back night) is the first of the two.

use std::str::FromStr as _;

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use fieldsync_protocol::Timestamp;

/// A company's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zone(Tz);

/// A zone is written as its IANA name (in the API and in templates' contexts).
impl serde::Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::UTC
    }
}

impl Zone {
    /// UTC: the zone of a company that has not set one.
    pub const UTC: Zone = Zone(Tz::UTC);

    /// The zone called `name` (an IANA name such as `Europe/Berlin`, matched ignoring case);
    /// empty is UTC. An unknown name is refused, naming it.
    pub fn named(name: &str) -> Result<Zone, String> {
        let name = name.trim();
        if name.is_empty() {
            return Ok(Zone::UTC);
        }
        Tz::from_str(name)
            .or_else(|_| Tz::from_str_insensitive(name))
            .map(Zone)
            .map_err(|_| {
                format!(
                    "{name:?} is not a time zone; use a name like America/Chicago or Europe/Berlin"
                )
            })
    }

    /// The zone a company set; UTC when it set none, or one this build does not know (logged).
    pub fn of(company: &fieldsync_protocol::Company) -> Zone {
        Zone::named(&company.time_zone).unwrap_or_else(|why| {
            tracing::warn!(%why, "the company's time zone is not known; showing times in UTC");
            Zone::UTC
        })
    }

    /// Its IANA name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// Every zone's name, in order: the choices of the settings page.
    pub fn names() -> impl Iterator<Item = &'static str> {
        chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
    }

    /// The company's date at `now`.
    pub fn day_of(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.0).date_naive()
    }

    /// The company's date now.
    pub fn today(&self) -> NaiveDate {
        self.day_of(Utc::now())
    }

    /// When `day` starts and the next day starts, in the company's zone.
    pub fn day_bounds(&self, day: NaiveDate) -> (Timestamp, Timestamp) {
        (self.start_of(day), self.start_of(day + Duration::days(1)))
    }

    /// The first instant of `day` here (its midnight, or the first time after it that exists
    /// where the clocks skip midnight).
    fn start_of(&self, day: NaiveDate) -> Timestamp {
        let midnight = day.and_time(NaiveTime::MIN);
        (0..=3)
            .find_map(|hours| self.earliest(midnight + Duration::hours(hours)))
            .map(Timestamp)
            .unwrap_or_else(|| Timestamp(Utc.from_utc_datetime(&midnight)))
    }

    fn earliest(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.0.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
            LocalResult::None => None,
        }
    }

    /// The instant `time` on `day` here; a time the clocks skip is refused, naming it, and a
    /// time they repeat is the first of the two.
    pub fn at(&self, day: NaiveDate, time: NaiveTime) -> Result<Timestamp, String> {
        self.earliest(day.and_time(time)).map(Timestamp).ok_or_else(|| {
            format!(
                "{} on {day} does not exist in {} (the clocks go forward); pick a time after the change",
                time.format("%H:%M"),
                self.name()
            )
        })
    }

    /// `at` as the company reads it, formatted with `format` (chrono's `strftime` syntax).
    pub fn format(&self, at: DateTime<Utc>, format: &str) -> String {
        at.with_timezone(&self.0).format(format).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn time(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").unwrap()
    }

    fn utc(text: &str) -> Timestamp {
        Timestamp(DateTime::parse_from_rfc3339(text).unwrap().to_utc())
    }

    #[test]
    fn a_typed_time_means_that_time_in_the_company_zone_summer_and_winter() {
        let chicago = Zone::named("America/Chicago").unwrap();
        assert_eq!(
            chicago.at(day("2026-01-15"), time("09:00")),
            Ok(utc("2026-01-15T15:00:00Z"))
        );
        assert_eq!(
            chicago.at(day("2026-07-15"), time("09:00")),
            Ok(utc("2026-07-15T14:00:00Z"))
        );
        assert_eq!(
            chicago.format(utc("2026-07-15T14:00:00Z").0, "%Y-%m-%d %H:%M"),
            "2026-07-15 09:00"
        );
        assert_eq!(
            Zone::UTC.at(day("2026-07-15"), time("09:00")),
            Ok(utc("2026-07-15T09:00:00Z"))
        );
    }

    #[test]
    fn a_time_the_clocks_skip_is_refused_and_one_they_repeat_is_the_first() {
        let chicago = Zone::named("America/Chicago").unwrap();
        // 2026-03-08: 02:00 becomes 03:00.
        let skipped = chicago.at(day("2026-03-08"), time("02:30")).unwrap_err();
        assert!(
            skipped.contains("02:30 on 2026-03-08 does not exist"),
            "{skipped}"
        );
        // 2026-11-01: 02:00 goes back to 01:00; 01:30 happens twice.
        assert_eq!(
            chicago.at(day("2026-11-01"), time("01:30")),
            Ok(utc("2026-11-01T06:30:00Z"))
        );
    }

    #[test]
    fn days_run_from_local_midnight_and_last_23_or_25_hours_when_the_clocks_change() {
        let berlin = Zone::named("Europe/Berlin").unwrap();
        let (start, end) = berlin.day_bounds(day("2026-03-29"));
        assert_eq!(start, utc("2026-03-28T23:00:00Z"));
        assert_eq!(end.0 - start.0, Duration::hours(23));
        let (start, end) = berlin.day_bounds(day("2026-10-25"));
        assert_eq!(end.0 - start.0, Duration::hours(25));
        // Late evening in Chicago is already tomorrow in UTC: the company's day is what counts.
        let chicago = Zone::named("america/chicago").unwrap();
        assert_eq!(chicago.name(), "America/Chicago");
        assert_eq!(
            chicago.day_of(utc("2026-11-26T03:00:00Z").0),
            day("2026-11-25")
        );
        // Where the clocks skip midnight, the day starts at the first time that exists.
        let santiago = Zone::named("America/Santiago").unwrap();
        let (start, _) = santiago.day_bounds(day("2026-09-06"));
        assert_eq!(santiago.format(start.0, "%H:%M"), "01:00");
    }

    #[test]
    fn an_unknown_zone_is_refused_by_name_and_none_is_utc() {
        let why = Zone::named("Mars/Olympus").unwrap_err();
        assert!(why.contains("\"Mars/Olympus\" is not a time zone"), "{why}");
        assert_eq!(Zone::named(" "), Ok(Zone::UTC));
        let company = fieldsync_protocol::Company {
            time_zone: "Nowhere/Else".into(),
            ..Default::default()
        };
        assert_eq!(Zone::of(&company), Zone::UTC);
        assert!(Zone::names().any(|n| n == "Europe/Berlin"));
    }
}

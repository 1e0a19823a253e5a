//! Display text for the tablet: money, times, statuses and kinds, in one place so that every
//! page says the same thing the same way.

use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, Offset as _, TimeZone as _, Utc};
use fieldsync_protocol::{JobStatus, Money, NoteKind, PaymentMethod, PhotoTag, Timestamp};

/// The time zone days and times are shown in.
///
/// The app uses the device's own zone, looked up for every time it shows: a tablet carried
/// across a zone, or a night the clocks change, shows the right local times at once, without a
/// restart (chrono re-reads the system's zone when it changes). Each time gets the offset in
/// force at that instant, so a job booked after the clocks change shows its booked time.
/// Tests and screenshots name a zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// The device's zone, as the system says now.
    Device,
    /// A named zone.
    Named(chrono_tz::Tz),
}

impl Zone {
    /// UTC.
    pub const UTC: Zone = Zone::Named(chrono_tz::Tz::UTC);

    /// The offset from UTC in force at `at`.
    pub fn offset_at(&self, at: DateTime<Utc>) -> FixedOffset {
        match self {
            Zone::Device => Local.offset_from_utc_datetime(&at.naive_utc()).fix(),
            Zone::Named(tz) => tz.offset_from_utc_datetime(&at.naive_utc()).fix(),
        }
    }

    /// `at` as a clock here shows it.
    pub fn local(&self, at: DateTime<Utc>) -> DateTime<FixedOffset> {
        at.with_timezone(&self.offset_at(at))
    }

    /// The first instant a clock here shows `local` (the earlier of two when the clocks go
    /// back); `None` when the clocks skip it.
    pub fn instant(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self {
            Zone::Device => Local
                .from_local_datetime(&local)
                .earliest()
                .map(|t| t.to_utc()),
            Zone::Named(tz) => tz
                .from_local_datetime(&local)
                .earliest()
                .map(|t| t.to_utc()),
        }
    }

    /// When `day` starts here: local midnight, or where the clocks skip it, the first hour
    /// that exists.
    pub fn day_start(&self, day: chrono::NaiveDate) -> Option<DateTime<Utc>> {
        (0..=3)
            .filter_map(|hour| day.and_hms_opt(hour, 0, 0))
            .find_map(|t| self.instant(t))
    }

    /// The instants `day` covers here, from its start to the next day's: 23 or 25 hours on the
    /// days the clocks change.
    pub fn day(&self, day: chrono::NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        Some((self.day_start(day)?, self.day_start(day.succ_opt()?)?))
    }
}

/// Dollars with thousands separators and cents: `$1,234.50`, `-$20.00`.
pub fn money(amount: Money) -> String {
    amount.dollars()
}

/// The time of day in the tablet's time zone: `08:30`.
pub fn time(at: Timestamp, zone: Zone) -> String {
    zone.local(at.0).format("%H:%M").to_string()
}

/// Day and time: `Tue 24 Nov 14:05`.
pub fn stamp(at: Timestamp, zone: Zone) -> String {
    zone.local(at.0).format("%a %-d %b %H:%M").to_string()
}

/// A short date and time for table rows: `24 Nov 14:05`.
pub fn short_stamp(at: Timestamp, zone: Zone) -> String {
    zone.local(at.0).format("%-d %b %H:%M").to_string()
}

/// A short date for table rows: `24 Nov 2026`.
pub fn short_date(day: chrono::NaiveDate) -> String {
    day.format("%-d %b %Y").to_string()
}

/// A date: `Tue 24 Nov 2026`.
pub fn date(at: DateTime<Utc>, zone: Zone) -> String {
    zone.local(at).format("%a %-d %b %Y").to_string()
}

/// A scheduled window: `08:00–09:30`, or `unscheduled`.
pub fn window(start: Option<Timestamp>, end: Option<Timestamp>, zone: Zone) -> String {
    match (start, end) {
        (Some(start), Some(end)) => format!("{}–{}", time(start, zone), time(end, zone)),
        (Some(start), None) => time(start, zone),
        _ => "unscheduled".into(),
    }
}

/// A job status as people say it.
pub fn status(status: JobStatus) -> &'static str {
    status.label()
}

/// A note kind as people say it.
pub fn note_kind(kind: NoteKind) -> &'static str {
    match kind {
        NoteKind::Site => "Site",
        NoteKind::ServiceRequest => "Service request",
        NoteKind::ServicePerformed => "Service performed",
        NoteKind::Private => "Private",
        NoteKind::System => "System",
    }
}

/// A payment method as people say it.
pub fn method(method: PaymentMethod) -> &'static str {
    method.label()
}

/// A photo tag as people say it.
pub fn tag(tag: PhotoTag) -> &'static str {
    match tag {
        PhotoTag::Before => "Before",
        PhotoTag::After => "After",
        PhotoTag::Other => "Other",
    }
}

/// A tel: or mailto: link without the spaces people type in phone numbers.
pub fn link(uri: &str) -> Option<String> {
    if let Some(number) = uri.strip_prefix("tel:") {
        let digits: String = number
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect();
        return (!digits.is_empty()).then(|| format!("tel:{digits}"));
    }
    let address = uri.strip_prefix("mailto:")?.trim();
    (address.contains('@') && !address.contains(char::is_whitespace))
        .then(|| format!("mailto:{address}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_separators_cents_and_sign() {
        let m = |s: &str| money(s.parse().unwrap());
        assert_eq!(m("0"), "$0.00");
        assert_eq!(m("42.5"), "$42.50");
        assert_eq!(m("1234567.891"), "$1,234,567.89");
        assert_eq!(m("-150"), "-$150.00");
        assert_eq!(m("999.995"), "$1,000.00");
    }

    #[test]
    fn links_are_cleaned_or_refused() {
        assert_eq!(
            link("tel:+1 541 555 2041").as_deref(),
            Some("tel:+15415552041")
        );
        assert_eq!(
            link("mailto: ana@example.org").as_deref(),
            Some("mailto:ana@example.org")
        );
        assert_eq!(link("mailto:not an address"), None);
        assert_eq!(link("tel:"), None);
        assert_eq!(link("https://example.org"), None);
    }

    #[test]
    fn windows_and_times_use_the_tablet_zone() {
        let start = Timestamp::from_millis(1_790_000_000_000).unwrap(); // 2026-09-21 14:13:20 UTC
        let end = Timestamp::from_millis(1_790_005_400_000).unwrap();
        let utc = Zone::UTC;
        let pacific = Zone::Named(chrono_tz::America::Los_Angeles);
        assert_eq!(window(Some(start), Some(end), utc), "14:13–15:43");
        assert_eq!(window(Some(start), Some(end), pacific), "07:13–08:43");
        assert_eq!(window(None, None, utc), "unscheduled");
        assert_eq!(stamp(start, utc), "Mon 21 Sep 14:13");
    }

    #[test]
    fn each_time_gets_the_offset_in_force_then_across_a_clock_change() {
        // Berlin goes from summer to winter time at 03:00 on Sunday 25 October 2026.
        let berlin = Zone::Named(chrono_tz::Europe::Berlin);
        let at = |text: &str| Timestamp(DateTime::parse_from_rfc3339(text).unwrap().to_utc());
        // 08:00 local on the Saturday before is 06:00 UTC; on the Monday after, 07:00 UTC.
        assert_eq!(time(at("2026-10-24T06:00:00Z"), berlin), "08:00");
        assert_eq!(time(at("2026-10-26T07:00:00Z"), berlin), "08:00");
        assert_eq!(
            stamp(at("2026-10-26T07:00:00Z"), berlin),
            "Mon 26 Oct 08:00"
        );
        // 02:30 happens twice that night: the first is meant; 02:30 in March does not exist.
        let local = |text: &str| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(
            berlin.instant(local("2026-10-25 02:30")),
            Some(at("2026-10-25T00:30:00Z").0)
        );
        assert_eq!(berlin.instant(local("2026-03-29 02:30")), None);
        // The day of the change back has 25 hours, the day of the change forward 23.
        let day = |text: &str| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
        let (from, to) = berlin.day(day("2026-10-25")).unwrap();
        assert_eq!(
            (from, to - from),
            (at("2026-10-24T22:00:00Z").0, chrono::Duration::hours(25))
        );
        let (from, to) = berlin.day(day("2026-03-29")).unwrap();
        assert_eq!(
            (from, to - from),
            (at("2026-03-28T23:00:00Z").0, chrono::Duration::hours(23))
        );
        // The device's zone answers for any instant (whatever the machine's zone is).
        let now = Utc::now();
        assert_eq!(Zone::Device.local(now).to_utc(), now);
    }
}

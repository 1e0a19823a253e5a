//! Display text for the tablet: money, times, statuses and kinds, in one place so that every
//! page says the same thing the same way.

use chrono::{DateTime, FixedOffset, Utc};
use fieldsync_protocol::{JobStatus, Money, NoteKind, PaymentMethod, PhotoTag, Timestamp};

/// Dollars with thousands separators and cents: `$1,234.50`, `-$20.00`.
pub fn money(amount: Money) -> String {
    amount.dollars()
}

/// The time of day in the tablet's time zone: `08:30`.
pub fn time(at: Timestamp, zone: FixedOffset) -> String {
    at.0.with_timezone(&zone).format("%H:%M").to_string()
}

/// Day and time: `Tue 24 Nov 14:05`.
pub fn stamp(at: Timestamp, zone: FixedOffset) -> String {
    at.0.with_timezone(&zone)
        .format("%a %-d %b %H:%M")
        .to_string()
}

/// A short date and time for table rows: `24 Nov 14:05`.
pub fn short_stamp(at: Timestamp, zone: FixedOffset) -> String {
    at.0.with_timezone(&zone).format("%-d %b %H:%M").to_string()
}

/// A short date for table rows: `24 Nov 2026`.
pub fn short_date(day: chrono::NaiveDate) -> String {
    day.format("%-d %b %Y").to_string()
}

/// A date: `Tue 24 Nov 2026`.
pub fn date(at: DateTime<Utc>, zone: FixedOffset) -> String {
    at.with_timezone(&zone).format("%a %-d %b %Y").to_string()
}

/// A scheduled window: `08:00–09:30`, or `unscheduled`.
pub fn window(start: Option<Timestamp>, end: Option<Timestamp>, zone: FixedOffset) -> String {
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
        let utc = FixedOffset::east_opt(0).unwrap();
        let pacific = FixedOffset::west_opt(7 * 3600).unwrap();
        assert_eq!(window(Some(start), Some(end), utc), "14:13–15:43");
        assert_eq!(window(Some(start), Some(end), pacific), "07:13–08:43");
        assert_eq!(window(None, None, utc), "unscheduled");
        assert_eq!(stamp(start, utc), "Mon 21 Sep 14:13");
    }
}

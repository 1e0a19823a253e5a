//! Scalar value types stored in documents: exact decimals (as text, never floats) and UTC times
//! (as automerge timestamps in milliseconds).

use std::fmt;
use std::str::FromStr;

use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler, reconcile::NoKey};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

macro_rules! decimal_newtype {
    ($(#[$doc:meta] $name:ident),*) => {$(
        #[$doc]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Decimal);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = rust_decimal::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Decimal::from_str_exact(s.trim()).map(Self)
            }
        }

        impl Reconcile for $name {
            type Key<'a> = NoKey;
            fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
                reconciler.str(self.0.to_string())
            }
        }

        impl Hydrate for $name {
            fn hydrate_string(s: &str) -> Result<Self, HydrateError> {
                s.parse().map_err(|_| HydrateError::unexpected("an exact decimal", s.to_string()))
            }
        }
    )*};
}

decimal_newtype!(
    /// An amount of money, exact to the cent (stored as decimal text).
    Money,
    /// A quantity on an invoice line or in a job's inventory (exact decimal).
    Quantity,
    /// A percentage such as a tax rate (exact decimal, `8.25` means 8.25 %).
    Percent
);

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Rounds to cents, half away from zero (the rule for tax).
    pub fn round_cents(self) -> Money {
        Money(
            self.0
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero),
        )
    }

    /// The amount in dollars as a person reads it on a screen or an invoice: `$1,234.50`,
    /// `-$150.00`.
    pub fn dollars(self) -> String {
        let text = self.grouped();
        match text.strip_prefix('-') {
            Some(positive) => format!("-${positive}"),
            None => format!("${text}"),
        }
    }

    /// The amount as people read it: rounded to cents, thousands separated, no currency
    /// (`1,234.50`, `-20.00`). Every screen shows money this way.
    pub fn grouped(self) -> String {
        let rounded = self.round_cents().0;
        let text = format!("{:.2}", rounded.abs());
        let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
        let mut grouped = String::new();
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        let sign = if rounded.is_sign_negative() && !rounded.is_zero() {
            "-"
        } else {
            ""
        };
        format!("{sign}{grouped}.{cents}")
    }
}

/// Sums saturate at the bounds of `Decimal` instead of panicking: validation keeps every amount
/// within [`crate::validate::MAX_AMOUNT`], so real ledgers never come near them, but a record
/// stored before the bounds (or damaged) must not bring down every page that shows it.
impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0.saturating_add(rhs.0))
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0.saturating_sub(rhs.0))
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

/// A point in time, UTC, with millisecond precision (an automerge timestamp).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// Builds a timestamp from milliseconds since the Unix epoch.
    pub fn from_millis(ms: i64) -> Option<Timestamp> {
        Utc.timestamp_millis_opt(ms).single().map(Timestamp)
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(&self) -> i64 {
        self.0.timestamp_millis()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d %H:%M UTC"))
    }
}

impl Reconcile for Timestamp {
    type Key<'a> = NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.timestamp(self.millis())
    }
}

impl Hydrate for Timestamp {
    fn hydrate_timestamp(ms: i64) -> Result<Self, HydrateError> {
        Timestamp::from_millis(ms)
            .ok_or_else(|| HydrateError::unexpected("a time", format!("{ms} ms")))
    }
}

/// A calendar day (invoice dates), stored as `YYYY-MM-DD` text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Day(pub NaiveDate);

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl Reconcile for Day {
    type Key<'a> = NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(self.to_string())
    }
}

impl Hydrate for Day {
    fn hydrate_string(s: &str) -> Result<Self, HydrateError> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Day)
            .map_err(|_| HydrateError::unexpected("a date YYYY-MM-DD", s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_in_cents_with_thousands_separated() {
        let grouped = |text: &str| text.parse::<Money>().unwrap().grouped();
        assert_eq!(grouped("1234.5"), "1,234.50");
        assert_eq!(grouped("-20"), "-20.00");
        assert_eq!(grouped("-0.001"), "0.00");
        assert_eq!(grouped("999"), "999.00");
        assert_eq!(grouped("1000000.005"), "1,000,000.01");
    }

    #[test]
    fn money_parses_exactly_and_rounds_half_away_from_zero() {
        let m: Money = "10.005".parse().unwrap();
        assert_eq!(m.round_cents().to_string(), "10.01");
        assert_eq!(" 0.10 ".parse::<Money>().unwrap().to_string(), "0.10");
        assert!("1e3".parse::<Money>().is_err());
        assert!("ten".parse::<Money>().is_err());
    }

    #[test]
    fn scalars_round_trip_through_a_document() {
        #[derive(Debug, PartialEq, Reconcile, Hydrate)]
        struct Row {
            amount: Money,
            at: Timestamp,
            day: Day,
        }
        let row = Row {
            amount: "123.45".parse().unwrap(),
            at: Timestamp::from_millis(1_700_000_000_123).unwrap(),
            day: Day(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()),
        };
        let mut doc = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut doc, &row).unwrap();
        let back: Row = autosurgeon::hydrate(&doc).unwrap();
        assert_eq!(back, row);
    }
}

//! The contact log: calls, emails and visits recorded against a customer (who, when, how,
//! what about), and the report over a date range by customer and user, with its CSV.

use chrono::{NaiveDate, NaiveTime};
use fieldsync_protocol::{
    AccountId, ContactChannel, ContactEntry, ContactId, DocId, NoteId, Record, UserId,
};
use fieldsync_store::ContactReportLine;
use serde::{Deserialize, Serialize};

use super::jobs::parse_day;
use super::{Clerk, OfficeError, OfficeResult, edit, now, optional_id, parse_field, required};
use crate::AppState;
use crate::zone::Zone;

/// A contact as typed on the customer page's form.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContactLogInput {
    /// `call`, `email`, `visit`, `text` or `other`.
    pub channel: String,
    /// What it was about.
    pub summary: String,
    /// The customer's contact spoken to (a contact id, or empty).
    pub contact: String,
    /// The day it happened, `YYYY-MM-DD` (today when empty).
    pub day: String,
    /// The time, `HH:MM` in the company's time zone (now when the day and time are empty).
    pub time: String,
}

/// Records a contact with customer `id` by the clerk; returns the entry's id.
pub async fn log_contact(
    state: &AppState,
    clerk: &Clerk,
    id: AccountId,
    input: &ContactLogInput,
) -> OfficeResult<NoteId> {
    clerk.check_office()?;
    let channel: ContactChannel = parse_field(
        "how",
        if input.channel.trim().is_empty() {
            "call"
        } else {
            &input.channel
        },
    )?;
    let summary = required("what it was about", &input.summary)?;
    let contact: Option<ContactId> = optional_id("contact", &input.contact)?;
    let zone = state.zone().await?;
    let at = match (input.day.trim(), input.time.trim()) {
        ("", "") => now(),
        (day, time) => {
            let day = parse_day(Some(day), zone)?;
            let time = match time {
                "" => NaiveTime::from_hms_opt(12, 0, 0).expect("noon"),
                time => NaiveTime::parse_from_str(time, "%H:%M").map_err(|_| {
                    OfficeError::Invalid(format!("time {time:?} is not a time like 09:30"))
                })?,
            };
            zone.at(day, time).map_err(OfficeError::Invalid)?
        }
    };
    if at.0 > now().0 + chrono::Duration::minutes(5) {
        return Err(OfficeError::Invalid(
            "a contact is logged once it has happened, not in the future".into(),
        ));
    }
    let entry = ContactEntry {
        id: NoteId::new(),
        at,
        channel,
        contact,
        summary,
        user: clerk.user,
        user_name: clerk.name.clone(),
    };
    let entry_id = entry.id;
    let found = edit(state, clerk, DocId::from(id), "customer", move |record| {
        let Record::Account(d) = record else {
            return Err(fieldsync_protocol::ValidationError::Malformed(
                "the document is not a customer".into(),
            ));
        };
        d.contact_log.insert(entry.id, entry);
        Ok(())
    })
    .await;
    match found {
        Err(OfficeError::Invalid(why)) if why.contains("is not one of the customer's") => Err(
            OfficeError::Invalid("the contact is not one of the customer's".into()),
        ),
        other => other.map(|_| entry_id),
    }
}

/// Which contacts the report shows.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReportFilter {
    /// The first day, `YYYY-MM-DD` (30 days ago when empty).
    pub from: String,
    /// The last day, included (today when empty).
    pub to: String,
    /// One customer (an account id), or empty for all.
    pub customer: String,
    /// One user (a user id), or empty for all.
    pub user: String,
    /// How many lines to skip (the page: `from` is taken).
    pub offset: Option<usize>,
    /// How many lines at most (at most the report's own bound).
    pub limit: Option<usize>,
}

/// Most lines the report shows (the CSV holds them all up to [`CSV_LINES`]).
pub const REPORT_LINES: usize = 500;
/// Most lines of the CSV download.
pub const CSV_LINES: usize = 100_000;

/// The contact report.
#[derive(Clone, Debug, Serialize)]
pub struct ContactReport {
    /// The company's time zone, which the days and times are in.
    pub zone: Zone,
    /// The first day.
    pub from: NaiveDate,
    /// The last day (included).
    pub to: NaiveDate,
    /// The customer it is limited to.
    pub customer: Option<AccountId>,
    /// The user it is limited to.
    pub user: Option<UserId>,
    /// The contacts, oldest first.
    pub lines: Vec<ContactReportLine>,
    /// How many lines came before these.
    pub offset: usize,
    /// How many contacts the report holds in all.
    pub total: usize,
    /// Whether there were more than shown (after these).
    pub more: bool,
    /// The offset of the next page, if there is one.
    pub next: Option<usize>,
    /// The offset of the previous page, if there is one.
    pub previous: Option<usize>,
}

/// The contacts logged from `filter.from` to `filter.to` (the company's days, both included), of one
/// customer and one user when given; at most `filter.limit`, and never more than `most`, from
/// `filter.offset`, with how many there are.
pub async fn report(
    state: &AppState,
    filter: &ReportFilter,
    most: usize,
) -> OfficeResult<ContactReport> {
    let limit = filter.limit.unwrap_or(most).clamp(1, most);
    let zone = state.zone().await?;
    let to = parse_day(Some(&filter.to), zone)?;
    let from = match filter.from.trim() {
        "" => to - chrono::Days::new(30),
        day => parse_day(Some(day), zone)?,
    };
    if from > to {
        return Err(OfficeError::Invalid(
            "the first day is after the last".into(),
        ));
    }
    let customer: Option<AccountId> = optional_id("customer", &filter.customer)?;
    let user: Option<UserId> = optional_id("user", &filter.user)?;
    let (begin, end) = (zone.day_bounds(from).0, zone.day_bounds(to).1);
    let offset = filter.offset.unwrap_or(0);
    let (lines, total) = state
        .db()
        .read(move |store| Ok(store.contact_report(begin, end, customer, user, (offset, limit))?))
        .await?;
    let shown_to = offset + lines.len();
    Ok(ContactReport {
        zone,
        from,
        to,
        customer,
        user,
        lines,
        offset,
        total,
        more: shown_to < total,
        next: (shown_to < total).then_some(shown_to),
        previous: (offset > 0).then(|| offset.saturating_sub(limit)),
    })
}

/// The report as CSV (RFC 4180): a heading row and a row per contact; when the report holds
/// more than was read ([`CSV_LINES`]), a last row says how many were left out.
pub fn csv(report: &ContactReport) -> String {
    let field = |text: &str| {
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_string()
        }
    };
    let mut out = format!("when ({}),customer,how,by,summary\r\n", report.zone.name());
    for line in &report.lines {
        let e = &line.entry;
        out.push_str(&format!(
            "{},{},{},{},{}\r\n",
            report.zone.format(e.at.0, "%Y-%m-%d %H:%M"),
            field(&line.account_name),
            e.channel.label(),
            field(&e.user_name),
            field(&e.summary)
        ));
    }
    if report.more {
        let left = report.total - report.offset - report.lines.len();
        out.push_str(&format!(
            ",,,,\"{left} more contacts are not in this file: download fewer days at a time\"\r\n"
        ));
    }
    out
}

//! Office reports: the aging of what customers owe.

use chrono::NaiveDate;
use fieldsync_protocol::{AccountId, AgingBucket, Ledger, Money, due_date};
use serde::Serialize;

use crate::AppState;
use crate::office::OfficeResult;

/// One customer's unpaid invoices by how long past due they are.
#[derive(Clone, Debug, Serialize)]
pub struct AgingRow {
    /// The account.
    pub account: AccountId,
    /// Its name.
    pub name: String,
    /// Its terms (net days).
    pub terms_net_days: u32,
    /// What is owed in each bucket of [`AgingBucket::ALL`], in that order.
    pub buckets: [Money; 5],
    /// What is owed in all.
    pub total: Money,
}

/// The aging report on a day: every customer owing something, and the totals.
#[derive(Clone, Debug, Serialize)]
pub struct Aging {
    /// The day the report is seen from.
    pub day: NaiveDate,
    /// The bucket headings, in order.
    pub headings: [&'static str; 5],
    /// Customers owing something, by name.
    pub rows: Vec<AgingRow>,
    /// The sum of each bucket.
    pub totals: [Money; 5],
    /// The sum of everything owed.
    pub total: Money,
}

/// What each customer owes on `day`, by how long past due: an invoice is due its date plus
/// the account's terms; what is left unpaid of an invoice that is pending or partly paid
/// counts in its bucket. Void and paid invoices, and credit not applied to an invoice, do not.
pub async fn aging(state: &AppState, day: NaiveDate) -> OfficeResult<Aging> {
    let per_account = state
        .db()
        .read(move |store| {
            let mut found = Vec::new();
            for account in store.billed_accounts()? {
                let invoices = store.invoices_for_account(account.id)?;
                let payments = store.payments_for_account(account.id)?;
                found.push((account, invoices, payments));
            }
            Ok(found)
        })
        .await?;
    let mut rows = Vec::new();
    for (account, invoices, payments) in per_account {
        let ledger = Ledger::compute(&invoices, &payments);
        let mut buckets = [Money::ZERO; 5];
        for invoice in &invoices {
            let Some(standing) = ledger.invoices.get(&invoice.id) else {
                continue;
            };
            if !standing.status.is_open() {
                continue;
            }
            let due = due_date(invoice.date.0, account.terms_net_days);
            // The buckets are declared in the order of `AgingBucket::ALL`.
            let index = AgingBucket::of(due, day) as usize;
            buckets[index] = buckets[index] + (standing.total - standing.paid);
        }
        let total = buckets.iter().copied().sum();
        if total > Money::ZERO {
            rows.push(AgingRow {
                account: account.id,
                name: account.name,
                terms_net_days: account.terms_net_days,
                buckets,
                total,
            });
        }
    }
    let mut totals = [Money::ZERO; 5];
    for row in &rows {
        for (sum, owed) in totals.iter_mut().zip(row.buckets) {
            *sum = *sum + owed;
        }
    }
    Ok(Aging {
        day,
        headings: AgingBucket::ALL.map(AgingBucket::label),
        total: totals.iter().copied().sum(),
        rows,
        totals,
    })
}

/// The report as CSV (RFC 4180): a heading row, a row per customer, and a totals row.
pub fn aging_csv(aging: &Aging) -> String {
    let field = |text: &str| {
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_string()
        }
    };
    let amount = |money: Money| format!("{:.2}", money.0);
    let mut out = format!(
        "customer,terms (net days),{},total\r\n",
        aging.headings.join(",")
    );
    for row in &aging.rows {
        let buckets: Vec<String> = row.buckets.iter().map(|m| amount(*m)).collect();
        out.push_str(&format!(
            "{},{},{},{}\r\n",
            field(&row.name),
            row.terms_net_days,
            buckets.join(","),
            amount(row.total)
        ));
    }
    let totals: Vec<String> = aging.totals.iter().map(|m| amount(*m)).collect();
    out.push_str(&format!(
        "Total,,{},{}\r\n",
        totals.join(","),
        amount(aging.total)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_quotes_names_and_ends_with_the_totals() {
        let money = |s: &str| s.parse::<Money>().unwrap();
        let aging = Aging {
            day: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(),
            headings: AgingBucket::ALL.map(AgingBucket::label),
            rows: vec![AgingRow {
                account: AccountId::new(),
                name: "Harbor Bakery, \"Downtown\"".into(),
                terms_net_days: 30,
                buckets: [
                    money("10.00"),
                    Money::ZERO,
                    money("5.5"),
                    Money::ZERO,
                    Money::ZERO,
                ],
                total: money("15.50"),
            }],
            totals: [
                money("10.00"),
                Money::ZERO,
                money("5.50"),
                Money::ZERO,
                Money::ZERO,
            ],
            total: money("15.50"),
        };
        let csv = aging_csv(&aging);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "customer,terms (net days),current,1-30,31-60,61-90,over 90,total"
        );
        assert_eq!(
            lines[1],
            "\"Harbor Bakery, \"\"Downtown\"\"\",30,10.00,0.00,5.50,0.00,0.00,15.50"
        );
        assert_eq!(lines[2], "Total,,10.00,0.00,5.50,0.00,0.00,15.50");
    }
}

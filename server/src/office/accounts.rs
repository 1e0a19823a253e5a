//! Accounts (customers): list and search, the customer page's data, create and edit, merge and
//! delete, and their job sites and contacts.

use fieldsync_protocol::views::InvoiceStatus;
use fieldsync_protocol::{
    Account, AccountId, Address, Alert, Contact, ContactId, DocId, Invoice, Job, JobSite, Ledger,
    Money, Note, Payment, Record, SiteId, UserId,
};
use fieldsync_store::{AccountSummary, Logged};
use serde::{Deserialize, Deserializer, Serialize};

use super::{
    Clerk, OfficeError, OfficeResult, Paging, create, edit, log_page, now, optional, parse_field,
    required,
};
use crate::AppState;

/// Accounts on one page of the customer list (and the API's list when it asks for no
/// number).
pub const PAGE: usize = 100;

/// Most accounts the API's list returns at once.
pub const MOST_PER_PAGE: usize = 500;

/// One page of the customer list: which accounts, from where, of how many.
#[derive(Clone, Debug, Serialize)]
pub struct AccountPage {
    /// The accounts, by name.
    pub accounts: Vec<AccountSummary>,
    /// The position of the first (from 0).
    pub offset: usize,
    /// How many match in all.
    pub total: usize,
    /// Where the next page starts, when there is one.
    pub next: Option<usize>,
    /// Where the previous page starts, when this is not the first.
    pub previous: Option<usize>,
}

/// An account's fields as typed on a form or sent as JSON: every field is text (a checkbox is
/// `"on"` or a boolean), so one shape serves both.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct AccountInput {
    /// Unique name.
    pub name: String,
    /// `person` or `business`.
    pub party: String,
    /// `prospect` or `customer`.
    pub account_type: String,
    /// `active` or `inactive` (default active).
    pub status: String,
    /// Account number; one is assigned when empty.
    pub number: String,
    /// Main phone.
    pub phone: String,
    /// Main email.
    pub email: String,
    /// Web site.
    pub website: String,
    /// Line of business.
    pub business_type: String,
    /// Payment terms in days (default 30).
    pub terms_net_days: String,
    /// Credit hold.
    #[serde(deserialize_with = "flag")]
    pub credit_hold: bool,
    /// How the customer usually pays (`cash`, `check`, `card`, `bank_transfer`, `other`), or
    /// empty.
    pub payment_method: String,
    /// Billing address, street.
    pub billing_line1: String,
    /// Billing address, suite or floor.
    pub billing_line2: String,
    /// Billing address, city.
    pub billing_city: String,
    /// Billing address, state or region.
    pub billing_region: String,
    /// Billing address, postal code.
    pub billing_postal_code: String,
    /// Billing address, country.
    pub billing_country: String,
    /// Shipping address, street (all shipping fields empty: no shipping address).
    pub shipping_line1: String,
    /// Shipping address, suite or floor.
    pub shipping_line2: String,
    /// Shipping address, city.
    pub shipping_city: String,
    /// Shipping address, state or region.
    pub shipping_region: String,
    /// Shipping address, postal code.
    pub shipping_postal_code: String,
    /// Shipping address, country.
    pub shipping_country: String,
    /// Default account rep: a user id, or empty.
    pub rep: String,
    /// Comments.
    pub comments: String,
}

/// A checkbox or boolean: `true`, `"on"`, `"true"`, `"yes"`, `"1"` are set.
fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    Ok(match Flag::deserialize(deserializer)? {
        Flag::Bool(b) => b,
        Flag::Text(t) => matches!(t.trim(), "on" | "true" | "yes" | "1"),
    })
}

impl AccountInput {
    /// The form filled in with an existing account.
    pub fn from_account(a: &Account) -> AccountInput {
        let shipping = a.shipping_address.clone().unwrap_or_default();
        AccountInput {
            name: a.name.clone(),
            party: a.party.to_string(),
            account_type: a.account_type.to_string(),
            status: a.status.to_string(),
            number: a.number.clone(),
            phone: a.phone.clone().unwrap_or_default(),
            email: a.email.clone().unwrap_or_default(),
            website: a.website.clone().unwrap_or_default(),
            business_type: a.business_type.clone().unwrap_or_default(),
            terms_net_days: a.terms_net_days.to_string(),
            credit_hold: a.credit_hold,
            payment_method: a.payment_method.map(|m| m.to_string()).unwrap_or_default(),
            billing_line1: a.billing_address.line1.clone(),
            billing_line2: a.billing_address.line2.clone().unwrap_or_default(),
            billing_city: a.billing_address.city.clone(),
            billing_region: a.billing_address.region.clone(),
            billing_postal_code: a.billing_address.postal_code.clone(),
            billing_country: a.billing_address.country.clone(),
            shipping_line1: shipping.line1,
            shipping_line2: shipping.line2.unwrap_or_default(),
            shipping_city: shipping.city,
            shipping_region: shipping.region,
            shipping_postal_code: shipping.postal_code,
            shipping_country: shipping.country,
            rep: a.rep.map(|r| r.to_string()).unwrap_or_default(),
            comments: a.comments.clone(),
        }
    }

    /// Writes the input over `account`'s editable fields, checking each.
    fn apply(&self, account: &mut Account) -> OfficeResult<()> {
        account.name = required("name", &self.name)?;
        account.party = parse_field("party", or(&self.party, "business"))?;
        account.account_type = parse_field("type", or(&self.account_type, "customer"))?;
        account.status = parse_field("status", or(&self.status, "active"))?;
        if let Some(number) = optional(Some(&self.number)) {
            account.number = number;
        }
        account.phone = optional(Some(&self.phone));
        account.email = optional(Some(&self.email));
        if let Some(email) = &account.email
            && !email.contains('@')
        {
            return Err(OfficeError::Invalid(format!(
                "email {email:?} is not an email address"
            )));
        }
        account.website = optional(Some(&self.website));
        account.business_type = optional(Some(&self.business_type));
        account.terms_net_days = or(&self.terms_net_days, "30").trim().parse().map_err(|_| {
            OfficeError::Invalid(format!(
                "terms {:?} must be a whole number of days",
                self.terms_net_days
            ))
        })?;
        account.credit_hold = self.credit_hold;
        account.payment_method = match self.payment_method.trim() {
            "" => None,
            method => Some(parse_field("payment method", method)?),
        };
        account.billing_address = Address {
            line1: required("billing street", &self.billing_line1)?,
            line2: optional(Some(&self.billing_line2)),
            city: required("billing city", &self.billing_city)?,
            region: self.billing_region.trim().to_string(),
            postal_code: required("billing postal code", &self.billing_postal_code)?,
            country: or(&self.billing_country, "US").trim().to_string(),
        };
        let shipping = [
            &self.shipping_line1,
            &self.shipping_line2,
            &self.shipping_city,
            &self.shipping_region,
            &self.shipping_postal_code,
        ];
        account.shipping_address = if shipping.iter().all(|f| f.trim().is_empty()) {
            None
        } else {
            Some(Address {
                line1: required("shipping street", &self.shipping_line1)?,
                line2: optional(Some(&self.shipping_line2)),
                city: required("shipping city", &self.shipping_city)?,
                region: self.shipping_region.trim().to_string(),
                postal_code: required("shipping postal code", &self.shipping_postal_code)?,
                country: or(&self.shipping_country, "US").trim().to_string(),
            })
        };
        account.rep = match optional(Some(&self.rep)) {
            None => None,
            Some(id) => Some(
                id.parse::<UserId>()
                    .map_err(|_| OfficeError::Invalid(format!("rep {id:?} is not a user id")))?,
            ),
        };
        account.comments = self.comments.trim().to_string();
        // Custom fields are set on their own, each checked against its type
        // (`office::custom_fields::set_values`).
        Ok(())
    }
}

fn or<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.trim().is_empty() {
        default
    } else {
        value
    }
}

/// An invoice with its standing, for lists.
#[derive(Clone, Debug, Serialize)]
pub struct InvoiceRow {
    /// The invoice.
    pub invoice: Invoice,
    /// Its total with tax.
    pub total: Money,
    /// How much of it is paid.
    pub paid: Money,
    /// Pending, partly paid, paid or void.
    pub status: InvoiceStatus,
    /// When it is due (its date plus the account's terms), when the terms are known.
    pub due: Option<chrono::NaiveDate>,
    /// Days past due of an invoice not fully paid (0 when it is not overdue).
    pub days_overdue: i64,
    /// What it still owes (0 when paid or void).
    pub owed: Money,
    /// Whether something is still owed on it (a payment or credit can go to it).
    pub open: bool,
}

/// Invoices with their standing in `ledger`, due by the account's terms (`net_days`, when
/// known) and overdue as seen on `today`.
pub fn invoice_rows(
    invoices: Vec<Invoice>,
    ledger: &Ledger,
    net_days: Option<u32>,
    today: chrono::NaiveDate,
) -> Vec<InvoiceRow> {
    invoices
        .into_iter()
        .map(|invoice| {
            let standing = ledger.invoices.get(&invoice.id);
            let status = standing.map_or(InvoiceStatus::Pending, |s| s.status);
            let due = net_days.map(|days| fieldsync_protocol::due_date(invoice.date.0, days));
            let days_overdue = due
                .filter(|_| status.is_open())
                .map_or(0, |due| (today - due).num_days().max(0));
            InvoiceRow {
                total: invoice.total(),
                paid: standing.map(|s| s.paid).unwrap_or_default(),
                owed: ledger.owed_on(invoice.id),
                open: ledger.owed_on(invoice.id) > Money::ZERO,
                status,
                due,
                days_overdue,
                invoice,
            }
        })
        .collect()
}

/// Contact log entries shown on a customer page (the report has them all).
pub const CONTACT_LOG_SHOWN: usize = 20;

/// A customer's jobs shown at once on their page.
pub const JOBS_PAGE: usize = 25;
/// A customer's invoices shown at once on their page.
pub const INVOICES_PAGE: usize = 25;
/// A customer's payments shown at once on their page.
pub const PAYMENTS_PAGE: usize = 25;

/// An alert and where it is.
#[derive(Clone, Debug, Serialize)]
pub struct PlacedAlert {
    /// The site it is on; `None` for the account itself.
    pub site: Option<SiteId>,
    /// That site's name.
    pub site_name: Option<String>,
    /// The alert.
    pub alert: Alert,
}

/// Everything on a customer page. The documents of accounts merged into this one are shown as
/// its own.
#[derive(Clone, Debug, Serialize)]
pub struct AccountDetail {
    /// Alerts on the account and its sites, oldest first.
    pub alerts: Vec<PlacedAlert>,
    /// The newest of the contact log (at most [`CONTACT_LOG_SHOWN`]), newest first.
    pub contact_log: Vec<fieldsync_protocol::ContactEntry>,
    /// The account.
    pub account: Account,
    /// The account this one was merged into, if it was.
    pub merged_into: Option<AccountSummary>,
    /// Accounts merged into this one.
    pub merged: Vec<AccountSummary>,
    /// Job sites.
    pub sites: Vec<JobSite>,
    /// Contacts.
    pub contacts: Vec<Contact>,
    /// Jobs, by scheduled start.
    pub jobs: Vec<Job>,
    /// Invoices with their standing.
    pub invoices: Vec<InvoiceRow>,
    /// Payments, by time received.
    pub payments: Vec<Payment>,
    /// Non-void invoice totals less payments.
    pub balance: Money,
    /// Payments not applied to an invoice.
    pub unapplied_credit: Money,
    /// Whether some of that credit can go to an invoice of the account's that still owes.
    pub credit_to_apply: bool,
    /// Account-level notes.
    pub notes: Vec<Note>,
    /// Who changed which field of the account, when, from what to what; newest first: a page
    /// of it.
    pub change_log: Vec<Logged>,
    /// The id to ask for the next (older) page of the change log with, when there is one.
    pub change_log_more: Option<i64>,
}

/// Accounts not merged into another, by name; those matching `query` (any part of name, type,
/// contact, phone or address) when it is given.
///
/// A page of `limit` (at most [`MOST_PER_PAGE`]) from `offset`, by name, with the count of all.
pub async fn list(
    state: &AppState,
    query: Option<String>,
    offset: usize,
    limit: usize,
) -> OfficeResult<AccountPage> {
    let query = query.unwrap_or_default();
    let limit = limit.clamp(1, MOST_PER_PAGE);
    let (accounts, total) = state
        .db()
        .read(move |store| Ok(store.search_accounts_page(&query, offset, limit)?))
        .await?;
    Ok(AccountPage {
        next: (offset + accounts.len() < total).then_some(offset + accounts.len()),
        previous: (offset > 0).then(|| offset.saturating_sub(limit)),
        accounts,
        offset,
        total,
    })
}

/// At most `limit` accounts matching `query` (see [`Store::search_accounts`]).
pub async fn search(
    state: &AppState,
    query: &str,
    limit: usize,
) -> OfficeResult<Vec<AccountSummary>> {
    let query = query.to_string();
    Ok(state
        .db()
        .read(move |store| Ok(store.search_accounts(&query, limit)?))
        .await?)
}

/// The account record, or not found (also when it was deleted).
pub async fn account(state: &AppState, id: AccountId) -> OfficeResult<Account> {
    match super::read_record(state, id.into(), "account").await? {
        Record::Account(d) if d.record.deleted_at.is_none() => Ok(d.record),
        _ => Err(OfficeError::NotFound("account".into())),
    }
}

/// Everything on the customer page of account `id`.
pub async fn detail(state: &AppState, id: AccountId, log: Paging) -> OfficeResult<AccountDetail> {
    let today = state.zone().await?.today();
    let found =
        state
            .db()
            .read(move |store| {
                let Some(Record::Account(doc)) = store.record(id.into())? else {
                    return Ok(None);
                };
                if doc.record.deleted_at.is_some() {
                    return Ok(None);
                }
                let merged = store.merged_into(id)?;
                let merged_into = match doc.record.merged_into {
                    Some(target) => store.account(target)?,
                    None => None,
                };
                let mut ids = vec![id];
                ids.extend(merged.iter().map(|a| a.id));
                let (mut sites, mut contacts, mut jobs) = (Vec::new(), Vec::new(), Vec::new());
                let (mut invoices, mut payments) = (Vec::new(), Vec::new());
                for account in &ids {
                    sites.extend(store.sites_for_account(*account)?);
                    contacts.extend(store.contacts_for_account(*account)?);
                    jobs.extend(store.jobs_for_account(*account)?);
                    invoices.extend(store.invoices_for_account(*account)?);
                    payments.extend(store.payments_for_account(*account)?);
                }
                jobs.sort_by_key(|j: &Job| (j.scheduled_start.is_none(), j.scheduled_start));
                payments.sort_by_key(|p: &Payment| p.received_at);
                invoices.sort_by(|a: &Invoice, b: &Invoice| {
                    (a.date, &a.number).cmp(&(b.date, &b.number))
                });
                let change_log = log_page(store, id.into(), log)?;
                let mut alerts: Vec<PlacedAlert> = store
                    .alerts(id.into())?
                    .into_iter()
                    .map(|alert| PlacedAlert {
                        site: None,
                        site_name: None,
                        alert,
                    })
                    .collect();
                for site in sites.iter().filter(|s| s.account == id) {
                    alerts.extend(store.alerts(site.id.into())?.into_iter().map(|alert| {
                        PlacedAlert {
                            site: Some(site.id),
                            site_name: Some(site.name.clone()),
                            alert,
                        }
                    }));
                }
                Ok(Some(Found {
                    doc,
                    alerts,
                    merged,
                    merged_into,
                    sites,
                    contacts,
                    jobs,
                    invoices,
                    payments,
                    change_log,
                }))
            })
            .await?;
    let Some(Found {
        doc,
        alerts,
        merged,
        merged_into,
        sites,
        contacts,
        jobs,
        invoices,
        payments,
        change_log,
    }) = found
    else {
        return Err(OfficeError::NotFound("account".into()));
    };
    let ledger = Ledger::compute(&invoices, &payments);
    let net_days = doc.record.terms_net_days;
    let mut notes: Vec<Note> = doc.notes.into_values().collect();
    notes.sort_by_key(|n| n.created_at);
    let mut contact_log: Vec<_> = doc.contact_log.into_values().collect();
    contact_log.sort_by_key(|e| std::cmp::Reverse((e.at, e.id)));
    contact_log.truncate(CONTACT_LOG_SHOWN);
    let invoices = invoice_rows(invoices, &ledger, Some(net_days), today);
    Ok(AccountDetail {
        credit_to_apply: ledger.unapplied_credit > Money::ZERO && invoices.iter().any(|i| i.open),
        account: doc.record,
        contact_log,
        alerts,
        merged_into,
        merged,
        sites,
        contacts,
        jobs,
        invoices,
        payments,
        balance: ledger.balance,
        unapplied_credit: ledger.unapplied_credit,
        notes,
        change_log: change_log.0,
        change_log_more: change_log.1,
    })
}

/// What the customer page reads from the store.
struct Found {
    doc: fieldsync_protocol::AccountDoc,
    alerts: Vec<PlacedAlert>,
    merged: Vec<AccountSummary>,
    merged_into: Option<AccountSummary>,
    sites: Vec<JobSite>,
    contacts: Vec<Contact>,
    jobs: Vec<Job>,
    invoices: Vec<Invoice>,
    payments: Vec<Payment>,
    change_log: (Vec<Logged>, Option<i64>),
}

/// Refuses a name another account (not merged away) already has.
async fn check_name_free(
    state: &AppState,
    name: &str,
    this: Option<AccountId>,
) -> OfficeResult<()> {
    let name = name.trim().to_string();
    let taken = state
        .db()
        .read(move |store| Ok(store.account_named(&name)?))
        .await?;
    match taken {
        Some(other) if Some(other.id) != this => Err(OfficeError::Conflict(format!(
            "an account named {:?} already exists",
            other.name
        ))),
        _ => Ok(()),
    }
}

/// Creates an account from `input`; returns its id.
pub async fn create_account(
    state: &AppState,
    clerk: &Clerk,
    input: &AccountInput,
) -> OfficeResult<AccountId> {
    clerk.check_office()?;
    let mut account = Account::new(AccountId::new(), String::new(), now());
    input.apply(&mut account)?;
    check_name_free(state, &account.name, None).await?;
    if account.number.is_empty() {
        let n = state
            .db()
            .run(|store| Ok(store.write(|tx| tx.next_counter("account_number"))?))
            .await?;
        account.number = format!("C-{n:05}");
    }
    let id = account.id;
    create(state, clerk, &Record::new_account(account)).await?;
    Ok(id)
}

/// Edits account `id` to match `input`.
pub async fn edit_account(
    state: &AppState,
    clerk: &Clerk,
    id: AccountId,
    input: &AccountInput,
) -> OfficeResult<()> {
    clerk.check_office()?;
    let mut account = account(state, id).await?;
    input.apply(&mut account)?;
    check_name_free(state, &account.name, Some(id)).await?;
    edit_record(state, clerk, id, move |a| *a = account).await
}

/// Edits the account record of `id` in place.
async fn edit_record(
    state: &AppState,
    clerk: &Clerk,
    id: AccountId,
    change: impl FnOnce(&mut Account),
) -> OfficeResult<()> {
    edit(state, clerk, id.into(), "account", |record| {
        if let Record::Account(d) = record {
            change(&mut d.record);
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Merges account `source` into `target`: everything of `source` (its sites, contacts, jobs,
/// invoices, payments, and accounts merged into it) now shows on `target`, and `source` leaves
/// lists and search. Documents never change account, so `source` is marked, not emptied.
pub async fn merge(
    state: &AppState,
    clerk: &Clerk,
    source: AccountId,
    target: AccountId,
) -> OfficeResult<()> {
    clerk.check_office()?;
    if source == target {
        return Err(OfficeError::Invalid(
            "an account cannot be merged into itself".into(),
        ));
    }
    let (from, into) = (account(state, source).await?, account(state, target).await?);
    if let Some(already) = from.merged_into {
        return Err(OfficeError::Conflict(format!(
            "{} was already merged (into account {already})",
            from.name
        )));
    }
    if into.merged_into.is_some() {
        return Err(OfficeError::Conflict(format!(
            "{} was itself merged into another account; merge into that one",
            into.name
        )));
    }
    let earlier = state
        .db()
        .read(move |store| Ok(store.merged_into(source)?))
        .await?;
    for account in earlier {
        edit_record(state, clerk, account.id, |a| a.merged_into = Some(target)).await?;
    }
    edit_record(state, clerk, source, |a| a.merged_into = Some(target)).await
}

/// Deletes account `id`; refused while it (or an account merged into it) has jobs or payments.
pub async fn delete(state: &AppState, clerk: &Clerk, id: AccountId) -> OfficeResult<()> {
    clerk.check_office()?;
    let detail = detail(state, id, Paging::default()).await?;
    if !detail.jobs.is_empty() || !detail.payments.is_empty() {
        return Err(OfficeError::Conflict(format!(
            "{} cannot be deleted: it has {} and {}",
            detail.account.name,
            plural(detail.jobs.len(), "job"),
            plural(detail.payments.len(), "payment"),
        )));
    }
    let at = now();
    edit_record(state, clerk, id, |a| a.deleted_at = Some(at)).await
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// A job site as typed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct SiteInput {
    /// Name ("Main St store").
    pub name: String,
    /// Street.
    pub line1: String,
    /// City.
    pub city: String,
    /// State or region.
    pub region: String,
    /// Postal code.
    pub postal_code: String,
    /// Gate codes, keys, parking.
    pub access_instructions: String,
}

impl SiteInput {
    /// The address typed (street and city required).
    pub fn address(&self) -> OfficeResult<Address> {
        Ok(Address {
            line1: required("site street", &self.line1)?,
            line2: None,
            city: required("site city", &self.city)?,
            region: self.region.trim().to_string(),
            postal_code: self.postal_code.trim().to_string(),
            country: "US".into(),
        })
    }
}

/// Adds a job site to account `id`; returns its id.
pub async fn add_site(
    state: &AppState,
    clerk: &Clerk,
    id: AccountId,
    input: &SiteInput,
) -> OfficeResult<SiteId> {
    clerk.check_office()?;
    let owner = account(state, id).await?;
    if owner.merged_into.is_some() {
        return Err(OfficeError::Conflict(format!(
            "{} was merged into another account; add the site there",
            owner.name
        )));
    }
    let site = JobSite {
        id: SiteId::new(),
        account: id,
        name: required("site name", &input.name)?,
        address: input.address()?,
        access_instructions: input.access_instructions.trim().to_string(),
        archived_at: None,
    };
    let site_id = site.id;
    create(state, clerk, &Record::new_site(site)).await?;
    Ok(site_id)
}

/// A contact as typed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContactInput {
    /// Full name.
    pub name: String,
    /// Role at the customer.
    pub role: String,
    /// Email.
    pub email: String,
    /// Phone.
    pub phone: String,
}

/// Adds a contact to account `id`; returns its id.
pub async fn add_contact(
    state: &AppState,
    clerk: &Clerk,
    id: AccountId,
    input: &ContactInput,
) -> OfficeResult<ContactId> {
    clerk.check_office()?;
    let contact = Contact {
        id: ContactId::new(),
        name: required("contact name", &input.name)?,
        role: input.role.trim().to_string(),
        email: optional(Some(&input.email)),
        phone: optional(Some(&input.phone)),
        sites: Vec::new(),
        archived_at: None,
    };
    if let Some(email) = &contact.email
        && !email.contains('@')
    {
        return Err(OfficeError::Invalid(format!(
            "email {email:?} is not an email address"
        )));
    }
    let contact_id = contact.id;
    account(state, id).await?;
    edit(state, clerk, DocId::from(id), "account", move |record| {
        if let Record::Account(d) = record {
            d.contacts.insert(contact.id, contact);
        }
        Ok(())
    })
    .await?;
    Ok(contact_id)
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::{Day, InvoiceId, InvoiceLine, JobId, Payment, PaymentId, Timestamp};

    use super::*;

    fn invoice(date: &str, price: &str) -> Invoice {
        Invoice {
            id: InvoiceId::new(),
            job: JobId::new(),
            number: "INV-0-00001".into(),
            date: Day(date.parse().unwrap()),
            lines: vec![InvoiceLine {
                description: "Labour".into(),
                quantity: "1".parse().unwrap(),
                unit_price: price.parse().unwrap(),
            }],
            tax_rate: "0".parse().unwrap(),
            voided: None,
            signature: None,
            created_by: UserId::new(),
            created_at: Timestamp(chrono::Utc::now()),
        }
    }

    #[test]
    fn an_unpaid_invoice_past_its_terms_is_overdue_and_a_paid_one_never() {
        let (open, paid) = (
            invoice("2026-01-01", "100.00"),
            invoice("2026-01-01", "50.00"),
        );
        let payment = Payment {
            id: PaymentId::new(),
            account: AccountId::new(),
            job: None,
            invoice: Some(paid.id),
            amount: "50.00".parse().unwrap(),
            method: fieldsync_protocol::PaymentMethod::Cash,
            reference: String::new(),
            received_at: Timestamp(chrono::Utc::now()),
            recorded_by: UserId::new(),
            recorded_by_name: "Dana".into(),
            credit_applied: Vec::new(),
        };
        let invoices = vec![open.clone(), paid.clone()];
        let ledger = Ledger::compute(&invoices, [&payment]);
        let today = "2026-03-01".parse().unwrap();

        let rows = invoice_rows(invoices.clone(), &ledger, Some(30), today);
        assert_eq!(rows[0].due, Some("2026-01-31".parse().unwrap()));
        assert_eq!(rows[0].days_overdue, 29);
        assert_eq!(rows[1].status, InvoiceStatus::Paid);
        assert_eq!(rows[1].days_overdue, 0);
        // Terms unknown (an account that cannot be read): no due date, nothing overdue.
        let rows = invoice_rows(invoices, &ledger, None, today);
        assert_eq!((rows[0].due, rows[0].days_overdue), (None, 0));
    }
}

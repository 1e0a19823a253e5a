//! Accounts (customers), their job sites and contacts.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::string_enum;
use crate::{AccountId, ContactId, SiteId, Timestamp, UserId};

string_enum!(
    /// Whether the customer is a person or a business.
    Party { Person = "person", Business = "business" }
);
string_enum!(
    /// Sales stage of an account.
    AccountType { Prospect = "prospect", Customer = "customer" }
);
string_enum!(
    /// Whether the account is in use.
    AccountStatus { Active = "active", Inactive = "inactive" }
);

/// A postal address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Address {
    /// Street and number.
    pub line1: String,
    /// Suite, floor, building.
    pub line2: Option<String>,
    /// City or town.
    pub city: String,
    /// State, province or county.
    pub region: String,
    /// Postal code.
    pub postal_code: String,
    /// Country name or ISO code.
    pub country: String,
}

impl Address {
    /// The address as printed on an envelope: street, suite, `city, region postal code`,
    /// country (empty parts left out).
    pub fn lines(&self) -> Vec<String> {
        let town = format!("{}, {} {}", self.city, self.region, self.postal_code);
        [
            Some(self.line1.clone()),
            self.line2.clone(),
            Some(town.trim_matches([' ', ',']).to_string()),
            Some(self.country.clone()),
        ]
        .into_iter()
        .flatten()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.line1)?;
        if let Some(line2) = self.line2.as_deref().filter(|l| !l.is_empty()) {
            write!(f, ", {line2}")?;
        }
        write!(f, ", {} {} {}", self.city, self.region, self.postal_code)
    }
}

/// A customer.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Account {
    /// Also the id of the account's document.
    pub id: AccountId,
    /// Unique display name.
    pub name: String,
    /// Person or business.
    pub party: Party,
    /// Prospect or customer.
    pub account_type: AccountType,
    /// Active or inactive.
    pub status: AccountStatus,
    /// The company's own account number.
    pub number: String,
    /// Main phone number.
    pub phone: Option<String>,
    /// Main email address.
    pub email: Option<String>,
    /// Web site.
    pub website: Option<String>,
    /// Line of business (restaurant, school, ...).
    pub business_type: Option<String>,
    /// Payment terms: invoices are due this many days after their date.
    pub terms_net_days: u32,
    /// No new work on credit while set.
    pub credit_hold: bool,
    /// How the customer usually pays: preselected when a payment is recorded. Absent in
    /// accounts stored before it was kept.
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub payment_method: Option<crate::PaymentMethod>,
    /// Where invoices go (required).
    pub billing_address: Address,
    /// Where goods go, when it differs from the billing address.
    pub shipping_address: Option<Address>,
    /// Default account representative.
    pub rep: Option<UserId>,
    /// Free-form comments.
    pub comments: String,
    /// Company-specific fields.
    pub custom_fields: BTreeMap<String, String>,
    /// Set when this account was merged into another: everything of it now belongs there.
    pub merged_into: Option<AccountId>,
    /// Set when the account was deleted (only an account with no jobs or payments may be): the
    /// document is kept for its history, and the account is left out of lists and search.
    #[serde(default)]
    pub deleted_at: Option<Timestamp>,
    /// When the account was created.
    pub created_at: Timestamp,
}

impl Account {
    /// Customer `id` called `name`, made at `created_at`, with nothing else known yet: an
    /// active business customer on 30-day terms, no number, contact details or addresses. The
    /// office's new-customer form, the tablet's customer met in the field, the demo and the
    /// tests start from it and fill in what they know.
    pub fn new(id: AccountId, name: impl Into<String>, created_at: Timestamp) -> Account {
        Account {
            id,
            name: name.into(),
            party: Party::Business,
            account_type: AccountType::Customer,
            status: AccountStatus::Active,
            number: String::new(),
            phone: None,
            email: None,
            website: None,
            business_type: None,
            terms_net_days: 30,
            credit_hold: false,
            payment_method: None,
            billing_address: Address::default(),
            shipping_address: None,
            rep: None,
            comments: String::new(),
            custom_fields: BTreeMap::new(),
            merged_into: None,
            deleted_at: None,
            created_at,
        }
    }
}

/// A place where work is done; belongs to an account.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct JobSite {
    /// Also the id of the site's document.
    pub id: SiteId,
    /// The owning account.
    pub account: AccountId,
    /// Name people use for the site ("Main St store").
    pub name: String,
    /// Street address.
    pub address: Address,
    /// Gate codes, keys, parking, who to ask for.
    pub access_instructions: String,
    /// When the office archived the site (it moved, the customer sold it): hidden from new
    /// jobs and lists, kept for the jobs and history that name it. Sites are never deleted.
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub archived_at: Option<Timestamp>,
}

/// A person at the customer; belongs to an account, optionally linked to job sites.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Contact {
    /// Contact id (a key inside the account document).
    pub id: ContactId,
    /// Full name.
    pub name: String,
    /// Role (owner, facilities manager, ...).
    pub role: String,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Job sites this contact is responsible for.
    pub sites: Vec<SiteId>,
    /// When the office archived the contact (left the company): hidden from pickers, kept for
    /// the jobs that name it. Contacts are never deleted.
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub archived_at: Option<Timestamp>,
}

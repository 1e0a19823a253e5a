//! Jobs: the work a technician is sent to do.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::string_enum;
use crate::{AccountId, Address, JobId, Money, Quantity, SiteId, Timestamp, UserId};

string_enum!(
    /// Where a job is in its life.
    JobStatus {
        /// Not yet booked.
        Lead = "lead",
        /// Booked for a time window.
        Scheduled = "scheduled",
        /// The technician is on the way.
        EnRoute = "en_route",
        /// The technician is working on site.
        OnSite = "on_site",
        /// The work is done.
        Completed = "completed",
        /// The work has been invoiced.
        Invoiced = "invoiced",
        /// Called off.
        Cancelled = "cancelled",
        /// Waiting (parts, customer, weather).
        OnHold = "on_hold",
    }
);

impl JobStatus {
    /// Statuses a technician may set from the field.
    pub const FIELD: &'static [JobStatus] = &[
        JobStatus::Scheduled,
        JobStatus::EnRoute,
        JobStatus::OnSite,
        JobStatus::Completed,
        JobStatus::OnHold,
    ];

    /// The statuses a job may move to from this one, in the order to offer them.
    ///
    /// The lifecycle is lead → scheduled → en route → on site → completed → invoiced, with a
    /// few ways back that real days need: a technician turned back on the way (en route →
    /// scheduled), work reopened after it was marked done (completed → on site), an invoice
    /// voided (invoiced → completed), a job un-booked (scheduled → lead). Any open job may be
    /// put on hold or cancelled, and a held or cancelled job picks up again. An invoiced job is
    /// done with: it is neither held nor cancelled (void its invoice first).
    ///
    /// The rule is applied where a status is chosen (the office, the tablet), not when changes
    /// merge: a change made offline from a status the device saw then is never refused because
    /// the office moved the job meanwhile; the merged status is one of the two, as for any
    /// field, and the change log shows both.
    pub fn next(self) -> &'static [JobStatus] {
        use JobStatus::*;
        match self {
            Lead => &[Scheduled, OnHold, Cancelled],
            Scheduled => &[EnRoute, OnSite, Completed, Lead, OnHold, Cancelled],
            EnRoute => &[OnSite, Scheduled, OnHold, Cancelled],
            OnSite => &[Completed, OnHold, Cancelled],
            Completed => &[Invoiced, OnSite],
            Invoiced => &[Completed],
            Cancelled => &[Lead, Scheduled],
            OnHold => &[Scheduled, EnRoute, OnSite, Cancelled],
        }
    }

    /// Whether a job may move from this status to `to`; the error says why not, for the user.
    pub fn check_move(self, to: JobStatus) -> Result<(), crate::ValidationError> {
        if self == to || self.next().contains(&to) {
            return Ok(());
        }
        let allowed = self
            .next()
            .iter()
            .map(|s| s.label())
            .collect::<Vec<_>>()
            .join(", ");
        Err(crate::ValidationError::Lifecycle(format!(
            "a job that is {} cannot become {}; it can become {allowed}",
            self.label().to_lowercase(),
            to.label().to_lowercase()
        )))
    }

    /// The status as people say it ("On site").
    pub fn label(self) -> &'static str {
        use JobStatus::*;
        match self {
            Lead => "Lead",
            Scheduled => "Scheduled",
            EnRoute => "En route",
            OnSite => "On site",
            Completed => "Completed",
            Invoiced => "Invoiced",
            Cancelled => "Cancelled",
            OnHold => "On hold",
        }
    }
}

/// One item to move or install (moving jobs, equipment lists).
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct InventoryItem {
    /// What it is.
    pub description: String,
    /// How many.
    pub quantity: Quantity,
}

/// A job for an account at one of its sites.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Job {
    /// Also the id of the job's document.
    pub id: JobId,
    /// The customer.
    pub account: AccountId,
    /// Where the work is.
    pub site: SiteId,
    /// Short title ("Annual boiler service").
    pub title: String,
    /// Services the customer asked for.
    pub requested_services: Vec<String>,
    /// Pickup address (moves).
    pub pickup_address: Option<Address>,
    /// Delivery address (moves).
    pub delivery_address: Option<Address>,
    /// Items to move or install.
    pub inventory: Vec<InventoryItem>,
    /// Estimated amount.
    pub estimate: Option<Money>,
    /// Final amount.
    pub final_amount: Option<Money>,
    /// Lifecycle status.
    pub status: JobStatus,
    /// Assigned technicians, with when they were assigned (a map, so that concurrent
    /// assignments merge as a set).
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub technicians: BTreeMap<UserId, Timestamp>,
    /// Start of the scheduled window.
    pub scheduled_start: Option<Timestamp>,
    /// End of the scheduled window.
    pub scheduled_end: Option<Timestamp>,
    /// When the job was created.
    pub created_at: Timestamp,
    /// The person to call about this job (one of the account's contacts).
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub contact: Option<crate::ContactId>,
}

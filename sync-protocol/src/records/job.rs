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
}

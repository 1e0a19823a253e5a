//! The Fieldsync technician's tablet app: a Slint touch UI over the offline core
//! ([`fieldsync_app::Tablet`]).
//!
//! The `.slint` files under `ui/` declare the pages and `export global` adapters (`Nav`,
//! `JobAdapter`, `PaymentAdapter`, ...). [`wire`] connects the adapters' callbacks to the core
//! and fills their properties from the core's view models ([`fieldsync_app::queries`]); it
//! needs no event loop, so the headless tests build exactly the app that [`run`] shows.
//!
//! A typical flow: the technician taps "Record payment"; `PaymentAdapter.record` reaches
//! [`Tablet::record_payment`](fieldsync_app::Tablet::record_payment), which saves the payment
//! and queues it in the outbox in one transaction; the controller refreshes the page (the
//! balance changes at once) and the sync bar's count; the sync worker pushes the change when
//! there is a connection.

#![allow(
    clippy::result_large_err,
    reason = "the UI passes the core's AppError through to the screen; its size is the core's"
)]

mod background;
mod controller;
mod customer;
mod files;
pub mod format;
mod invoice;
mod job;
mod new_customer;
mod payment;
mod photos;
mod run;

/// The code Slint generates from `ui/app.slint`: the window and the adapters.
mod generated {
    #![allow(
        clippy::todo,
        reason = "Slint's generated code has todo!() arms for features this app does not use"
    )]
    slint::include_modules!();
}

pub use generated::*;

pub use controller::{Controller, Options, PhotoChooser, wire};
pub use format::Zone;
pub use run::{OpenApp, RunError, pair_tablet, run, wire_pairing, wire_pairing_again};

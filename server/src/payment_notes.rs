//! The system note of each payment recorded on a tablet ("Payment of $80.00 by check (2291)
//! recorded."), written by the server on the payment's job (or account) once the payment is
//! stored, as the office writes it for its own. A technician's device cannot write it itself:
//! the note is on another document than the payment, and the server checks each change on its
//! own. The note's id comes from the payment's, so it is written once however often the
//! payment arrives (pushed again after a restore): a note already there is left as it is.
//! Where the task got to is kept in the database, so a stop between a payment's commit and
//! its note is made up for at the next start.

use fieldsync_protocol::{DocId, Payment, Record, Role};

use crate::AppState;
use crate::office::{Clerk, edit};

/// How far the persisted position may fall behind while no device payment arrives: a restart
/// then re-reads at most this many changes for payments.
const POSITION_SLACK: u64 = 100_000;

/// Follows the commits until the server stops, writing the notes of the payments devices
/// recorded in them. Where it got to is kept in the database (`payment_notes_upto`), so a
/// payment stored just before the server stopped gets its note at the next start; a database
/// it never ran on starts from its latest change.
pub(crate) async fn run(state: AppState) {
    let mut latest = state.latest();
    let mut stopping = state.stopping();
    let now = *latest.borrow_and_update();
    let kept = state
        .db()
        .read(|store| Ok(store.payment_notes_upto()?))
        .await;
    let (mut seen, mut persisted) = match kept {
        Ok(Some(upto)) => (upto.min(now), Some(upto.min(now))),
        Ok(None) => (now, None),
        Err(e) => {
            tracing::warn!(error = %e, "where the payments' system notes stopped is unknown");
            (now, Some(now))
        }
    };
    loop {
        let upto = *latest.borrow_and_update();
        if upto > seen {
            let after = seen;
            let payments = state
                .db()
                .read(move |store| Ok(store.device_payments_between(after, upto)?))
                .await;
            match payments {
                Ok(payments) => {
                    let wrote = !payments.is_empty();
                    for payment in payments {
                        write(&state, payment).await;
                    }
                    seen = upto;
                    if wrote || persisted.is_none_or(|p| seen - p > POSITION_SLACK) {
                        persist(&state, seen).await;
                        persisted = Some(seen);
                    }
                }
                // Tried again with the next commit.
                Err(e) => tracing::warn!(error = %e, "payments' system notes not written"),
            }
        } else if persisted.is_none() {
            persist(&state, seen).await;
            persisted = Some(seen);
        }
        tokio::select! {
            changed = latest.changed() => if changed.is_err() { return },
            _ = stopping.wait_for(|stop| *stop) => return,
        }
    }
}

/// Keeps where the notes are written up to.
async fn persist(state: &AppState, seq: u64) {
    let kept = state
        .db()
        .run(move |store| Ok(store.write(|tx| tx.set_payment_notes_upto(seq))?))
        .await;
    if let Err(e) = kept {
        tracing::warn!(error = %e, "where the payments' system notes stopped was not kept");
    }
}

/// Writes `payment`'s note, if it is not there yet, as the server.
async fn write(state: &AppState, payment: Payment) {
    let clerk = Clerk::new(
        payment.recorded_by,
        fieldsync_protocol::system_notes::SYSTEM.to_string(),
        Role::Admin,
    );
    note_payment(state, &clerk, &payment).await;
}

/// Writes `payment`'s system note on its job, else its account, as `clerk`, unless it is there
/// already. The payment is stored already: a failure loses only the note, and is logged.
pub(crate) async fn note_payment(state: &AppState, clerk: &Clerk, payment: &Payment) {
    let note = fieldsync_protocol::system_notes::payment_note(payment, payment.received_at);
    let on = payment
        .job
        .map(DocId::from)
        .unwrap_or(DocId::from(payment.account));
    let written = edit(state, clerk, on, "record", move |record| {
        match record {
            Record::Job(d) => d.notes.entry(note.id).or_insert(note),
            Record::Account(d) => d.notes.entry(note.id).or_insert(note),
            _ => return Ok(()),
        };
        Ok(())
    })
    .await;
    if let Err(e) = written {
        tracing::warn!(payment = %payment.id, error = %e, "the payment's system note was not written");
    }
}

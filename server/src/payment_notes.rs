//! The system note of each payment recorded on a tablet ("Payment of $80.00 by check (2291)
//! recorded."), written by the server on the payment's job (or account) once the payment is
//! stored, as the office writes it for its own. A technician's device cannot write it itself:
//! the note is on another document than the payment, and the server checks each change on its
//! own. The note's id comes from the payment's, so it is written once however often the
//! payment arrives (pushed again after a restore): a note already there is left as it is.

use fieldsync_protocol::{DocId, Payment, Record, Role};

use crate::AppState;
use crate::office::{Clerk, edit};

/// Follows the commits until the server stops, writing the notes of the payments devices
/// recorded in them.
pub(crate) async fn run(state: AppState) {
    let mut latest = state.latest();
    let mut stopping = state.stopping();
    let mut seen = *latest.borrow_and_update();
    loop {
        tokio::select! {
            changed = latest.changed() => if changed.is_err() { return },
            _ = stopping.wait_for(|stop| *stop) => return,
        }
        let upto = *latest.borrow_and_update();
        if upto <= seen {
            continue;
        }
        let after = std::mem::replace(&mut seen, upto);
        let payments = state
            .db()
            .read(move |store| Ok(store.device_payments_between(after, upto)?))
            .await;
        match payments {
            Ok(payments) => {
                for payment in payments {
                    write(&state, payment).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "payments' system notes not written"),
        }
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

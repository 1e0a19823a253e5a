//! The core of the technician's tablet app, with no UI types in it: a local replica on the
//! tablet's own SQLite file that never waits for the network.
//!
//! Every action (change a job's status, add a note, record a payment) is checked by the shared
//! rules, saved locally and put in the outbox in one transaction, then handed to the sync
//! session, which pushes it whenever there is a connection. The Slint UI and the `fieldsync`
//! command line (issue 4) sit on top of [`Tablet`].

use std::path::Path;

use automerge::ActorId;
use fieldsync_protocol::engine::{ClientConfig, ClientOutput, ClientSession, OutboxItem};
use fieldsync_protocol::wire::ClientMessage;
use fieldsync_protocol::{
    AccountId, Author, DocId, JobId, JobStatus, Note, NoteId, NoteKind, Payment, PaymentId,
    PaymentMethod, Record, Timestamp, ValidationError, Writer,
};
use fieldsync_store::host::{DeviceEvent, DeviceHost};
use fieldsync_store::{Store, StoreError};

/// What can go wrong with a tablet action.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input breaks a rule (shown to the technician as is).
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// The record is not on this tablet.
    #[error("{0} is not on this tablet")]
    NotFound(String),
    /// The local store failed.
    #[error("local storage: {0}")]
    Store(#[from] StoreError),
    /// A document operation failed.
    #[error("{0}")]
    Document(#[from] fieldsync_protocol::DocumentError),
}

/// A payment as typed on the payment form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentForm {
    /// Made when the form opens, so that tapping "Record" twice records one payment.
    pub id: PaymentId,
    /// The paying account.
    pub account: AccountId,
    /// The job paid for, if any.
    pub job: Option<JobId>,
    /// The amount as typed.
    pub amount: String,
    /// How it was paid.
    pub method: PaymentMethod,
    /// Check number or card transaction id.
    pub reference: String,
}

impl PaymentForm {
    /// A new, empty form for `account`.
    pub fn new(account: AccountId, job: Option<JobId>) -> PaymentForm {
        PaymentForm {
            id: PaymentId::new(),
            account,
            job,
            amount: String::new(),
            method: PaymentMethod::Cash,
            reference: String::new(),
        }
    }
}

/// The tablet's replica and sync session.
#[derive(Debug)]
pub struct Tablet {
    store: Store,
    writer: Writer,
    session: ClientSession,
}

impl Tablet {
    /// Opens (or creates) the tablet's replica at `path`, acting as `author`.
    pub fn open(path: &Path, author: Author) -> Result<Tablet, AppError> {
        let store = Store::open(path)?;
        let writer = Writer {
            actor: ActorId::random(),
            author,
            role: fieldsync_protocol::Role::Technician,
        };
        Ok(Tablet {
            store,
            writer,
            session: ClientSession::new(ClientConfig::default()),
        })
    }

    /// The local replica (for lists and search).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Changes saved locally and not yet acknowledged by the server.
    pub fn pending(&self) -> Result<usize, AppError> {
        Ok(self.store.outbox()?.len())
    }

    fn save(
        &mut self,
        now_ms: u64,
        id: DocId,
        mut doc: automerge::AutoCommit,
        mut change: automerge::Change,
    ) -> Result<Vec<ClientMessage>, AppError> {
        let tx = self.store.transaction()?;
        tx.record_local(id, &mut doc, &change, true)?;
        tx.commit()?;
        let item = OutboxItem {
            hash: change.hash().0,
            doc: id,
            bytes: change.bytes().to_vec(),
        };
        let outputs = self.session.local_changes(now_ms, vec![item]);
        Ok(self.run(outputs)?.0)
    }

    fn edit_job(
        &mut self,
        now: Timestamp,
        job: JobId,
        edit: impl FnOnce(&mut fieldsync_protocol::JobDoc),
    ) -> Result<Vec<ClientMessage>, AppError> {
        let id = DocId::from(job);
        let tx = self.store.transaction()?;
        let mut doc = tx
            .load(id)?
            .ok_or_else(|| AppError::NotFound(format!("job {job}")))?;
        drop(tx);
        let change = self.writer.edit(&mut doc, now, |record| match record {
            Record::Job(j) => {
                edit(j);
                Ok(())
            }
            _ => Err(ValidationError::Malformed(format!("{job} is not a job"))),
        })?;
        match change {
            Some(change) => self.save(now.millis() as u64, id, doc, change),
            None => Ok(Vec::new()),
        }
    }

    /// Changes a job's status; returns messages to send if connected.
    pub fn set_job_status(
        &mut self,
        now: Timestamp,
        job: JobId,
        status: JobStatus,
    ) -> Result<Vec<ClientMessage>, AppError> {
        self.edit_job(now, job, |j| j.record.status = status)
    }

    /// Adds a note to a job, stamped with the author and time.
    pub fn add_job_note(
        &mut self,
        now: Timestamp,
        job: JobId,
        kind: NoteKind,
        text: &str,
    ) -> Result<Vec<ClientMessage>, AppError> {
        let note = Note {
            id: NoteId::new(),
            kind,
            text: text.trim().to_string(),
            author: self.writer.author.user,
            author_name: self.writer.author.name.clone(),
            created_at: now,
        };
        self.edit_job(now, job, |j| {
            j.notes.insert(note.id, note);
        })
    }

    /// Records a payment typed by the technician. The form's id is made once per payment
    /// form, so a double tap records it once.
    pub fn record_payment(
        &mut self,
        now: Timestamp,
        form: &PaymentForm,
    ) -> Result<Vec<ClientMessage>, AppError> {
        let amount = fieldsync_protocol::validate::parse_payment_amount(&form.amount)?;
        if self.store.record(form.id.into())?.is_some() {
            return Ok(Vec::new()); // already recorded: a second tap changes nothing
        }
        let payment = Payment {
            id: form.id,
            account: form.account,
            job: form.job,
            invoice: None,
            amount,
            method: form.method,
            reference: form.reference.trim().to_string(),
            received_at: now,
            recorded_by: self.writer.author.user,
            recorded_by_name: self.writer.author.name.clone(),
        };
        let (doc, change) = self.writer.create(&Record::new_payment(payment), now)?;
        self.save(now.millis() as u64, form.id.into(), doc, change)
    }

    /// A connection is open: returns the messages to send first.
    pub fn connected(&mut self, now_ms: u64) -> Result<Vec<ClientMessage>, AppError> {
        let cursor = self.store.cursor()?;
        let outbox = DeviceHost::outbox(&self.store)?;
        let outputs = self.session.connect(now_ms, cursor, outbox);
        Ok(self.run(outputs)?.0)
    }

    /// The connection is gone.
    pub fn disconnected(&mut self) {
        self.session.disconnected();
    }

    /// A message from the server: returns messages to send and events for the UI.
    pub fn received(
        &mut self,
        now_ms: u64,
        message: fieldsync_protocol::wire::ServerMessage,
    ) -> Result<(Vec<ClientMessage>, Vec<DeviceEvent>), AppError> {
        let outputs = self.session.receive(now_ms, message);
        self.run(outputs)
    }

    /// Time passed: returns messages to send again.
    pub fn tick(&mut self, now_ms: u64) -> Result<Vec<ClientMessage>, AppError> {
        let outputs = self.session.tick(now_ms);
        Ok(self.run(outputs)?.0)
    }

    fn run(
        &mut self,
        outputs: Vec<ClientOutput>,
    ) -> Result<(Vec<ClientMessage>, Vec<DeviceEvent>), AppError> {
        Ok(DeviceHost::run(
            &mut self.store,
            &mut self.session,
            outputs,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::UserId;

    use super::*;

    fn tablet(dir: &tempfile::TempDir) -> Tablet {
        let author = Author {
            user: UserId::new(),
            name: "Tess Tech".into(),
        };
        Tablet::open(&dir.path().join("tablet.sqlite3"), author).unwrap()
    }

    fn now() -> Timestamp {
        Timestamp::from_millis(1_790_000_000_000).unwrap()
    }

    fn form(account: AccountId, amount: &str) -> PaymentForm {
        PaymentForm {
            amount: amount.into(),
            ..PaymentForm::new(account, None)
        }
    }

    #[test]
    fn a_payment_is_checked_and_recorded_once_even_when_tapped_twice() {
        let dir = tempfile::tempdir().unwrap();
        let mut tablet = tablet(&dir);
        let account = AccountId::new();
        let bad = tablet.record_payment(now(), &form(account, "-5"));
        assert!(
            matches!(bad, Err(AppError::Invalid(ValidationError::NotPositive(_)))),
            "{bad:?}"
        );
        let bad = tablet.record_payment(now(), &form(account, "12.345"));
        assert!(matches!(
            bad,
            Err(AppError::Invalid(ValidationError::TooPrecise(_)))
        ));
        let bad = tablet.record_payment(now(), &form(account, "twelve"));
        assert_eq!(
            bad.unwrap_err().to_string(),
            "\"twelve\" is not a decimal amount such as 120.50"
        );
        let good = PaymentForm {
            method: PaymentMethod::Check,
            reference: "#1042".into(),
            ..form(account, "120.50")
        };
        tablet.record_payment(now(), &good).unwrap();
        tablet.record_payment(now(), &good).unwrap();
        assert_eq!(tablet.pending().unwrap(), 1);
        assert_eq!(
            tablet.store().payments_for_account(account).unwrap().len(),
            1
        );
    }

    #[test]
    fn offline_work_survives_a_restart_in_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let account = AccountId::new();
        {
            let mut tablet = tablet(&dir);
            tablet.record_payment(now(), &form(account, "40")).unwrap();
            tablet.record_payment(now(), &form(account, "2.5")).unwrap();
        }
        let tablet = tablet(&dir);
        assert_eq!(tablet.pending().unwrap(), 2);
        assert_eq!(
            tablet
                .store()
                .ledger(account)
                .unwrap()
                .unapplied_credit
                .to_string(),
            "42.5"
        );
    }

    #[test]
    fn editing_a_job_that_is_not_on_the_tablet_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let mut tablet = tablet(&dir);
        let err = tablet
            .set_job_status(now(), JobId::new(), JobStatus::OnSite)
            .unwrap_err();
        assert!(err.to_string().contains("is not on this tablet"));
    }
}

//! The tablet: its replica, its pairing with a server, and the sync session. The actions a
//! technician takes are in `actions`, the forms they fill in in `forms`, the connection's side
//! in `session`.

mod actions;
mod files;
mod forms;
mod session;
#[cfg(test)]
mod tests;

use std::path::Path;

use automerge::ActorId;
use fieldsync_protocol::engine::{ClientConfig, ClientSession};
use fieldsync_protocol::{Author, Timestamp, Writer};
use fieldsync_store::{Pairing, Store};

pub use forms::{
    InvoiceForm, InvoiceLineForm, NewCustomerForm, PaymentForm, PhotoForm, PhotoTarget,
};

use crate::status::{RefusedChange, SyncStatus};
use crate::transfer::Transfers;
use crate::{AppError, net};

/// The tablet's replica and sync session.
#[derive(Debug)]
pub struct Tablet {
    store: Store,
    writer: Writer,
    session: ClientSession,
    transfers: Transfers,
    /// Counts connections, so that messages made for one are never sent on a later one.
    connection: u64,
    /// Documents received so far by a first download (`None` when none is running).
    first_sync: Option<usize>,
    /// Why the last connection attempt or connection failed (cleared once welcomed).
    last_error: Option<String>,
    /// The server refused the device token (cleared once welcomed).
    needs_pairing: bool,
}

/// Checks a device token's shape (`fsd_` and 43 characters of URL-safe base64), before it is
/// tried against a server.
pub fn check_device_token(token: &str) -> Result<(), AppError> {
    let body = token.strip_prefix("fsd_").unwrap_or_default();
    let shaped = body.len() == 43
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !shaped {
        return Err(AppError::BadPairing(
            "a device token is fsd_ followed by 43 letters, digits, - or _ (as printed by \
             `fieldsync-server device add`)"
                .into(),
        ));
    }
    Ok(())
}

impl Tablet {
    fn with(store: Store, writer: Writer) -> Tablet {
        Tablet {
            store,
            writer,
            session: ClientSession::new(ClientConfig::default()),
            transfers: Transfers::default(),
            connection: 0,
            first_sync: None,
            last_error: None,
            needs_pairing: false,
        }
    }

    /// Opens (or creates) the tablet's replica at `path`, acting as `author`, whether or not it
    /// is paired (tests and tools drive the session themselves).
    pub fn open(path: &Path, author: Author) -> Result<Tablet, AppError> {
        let store = Store::open(path)?;
        let writer = Writer::new(
            fieldsync_protocol::Role::Technician,
            author.user,
            author.name,
        );
        Ok(Tablet::with(store, writer))
    }

    /// Opens the replica at `path` as paired: acting as the paired technician, with the
    /// tablet's own automerge actor. [`AppError::NotPaired`] before [`Tablet::pair`].
    pub fn open_paired(path: &Path) -> Result<Tablet, AppError> {
        if !path.exists() {
            return Err(AppError::NotPaired);
        }
        let store = Store::open(path)?;
        let pairing = store.pairing()?.ok_or(AppError::NotPaired)?;
        Ok(Tablet::with(store, writer_of(&pairing)))
    }

    /// Pairs the replica at `path` (created if new) with the server at `server_url`, with the
    /// device token made for `author`'s tablet. The address and token are checked for shape
    /// only; [`net::check_pairing`] checks them against the server. The same technician may
    /// pair again (the server moved), keeping everything; another technician only after
    /// [`Tablet::sign_out`], so that no one sees or sends another's data.
    pub fn pair(
        path: &Path,
        server_url: &str,
        token: &str,
        author: Author,
    ) -> Result<Tablet, AppError> {
        Tablet::pair_pinned(path, server_url, None, token, author)
    }

    /// [`Tablet::pair`] with a server whose TLS certificate is pinned by its SHA-256
    /// `fingerprint` (a server with a self-signed certificate; `https://` only).
    pub fn pair_pinned(
        path: &Path,
        server_url: &str,
        fingerprint: Option<&str>,
        token: &str,
        author: Author,
    ) -> Result<Tablet, AppError> {
        let server_url = server_url.trim();
        let token = token.trim();
        let tls_fingerprint =
            net::check_server(server_url, fingerprint).map_err(AppError::BadPairing)?;
        check_device_token(token)?;
        if author.name.trim().is_empty() {
            return Err(AppError::BadPairing(
                "the technician's name is empty".into(),
            ));
        }
        let mut store = Store::open(path)?;
        let before = store.pairing()?;
        let same_user = before.as_ref().is_some_and(|p| p.user == author.user);
        if let Some(other) = before.as_ref().filter(|_| !same_user) {
            let pending = store.outbox()?.len();
            if pending > 0 {
                return Err(AppError::UnsentChanges(pending));
            }
            return Err(AppError::BadPairing(format!(
                "this tablet holds {}'s data: sign out first",
                other.user_name
            )));
        }
        let actor = match before {
            Some(p) if same_user => p.actor,
            _ => ActorId::random().to_bytes().to_vec(),
        };
        let pairing = Pairing {
            server_url: server_url.to_string(),
            token: token.to_string(),
            user: author.user,
            user_name: author.name.trim().to_string(),
            actor,
            paired_at_ms: chrono::Utc::now().timestamp_millis(),
            tls_fingerprint,
        };
        let tx = store.transaction()?;
        tx.set_pairing(&pairing)?;
        tx.commit()?;
        Ok(Tablet::with(store, writer_of(&pairing)))
    }

    /// Signs out: removes the replica at `path` (the pairing, every document and photo on the
    /// tablet), refused with [`AppError::UnsentChanges`] while changes wait to be sent. Changes
    /// the server refused are dropped with it.
    pub fn sign_out(path: &Path) -> Result<(), AppError> {
        if !path.exists() {
            return Ok(());
        }
        let pending = Store::open(path)?.outbox()?.len();
        if pending > 0 {
            return Err(AppError::UnsentChanges(pending));
        }
        let mut name = path.as_os_str().to_owned();
        for suffix in ["", "-wal", "-shm"] {
            name.push(suffix);
            match std::fs::remove_file(Path::new(&name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(AppError::SignOut(e));
                }
                _ => {}
            }
            name = path.as_os_str().to_owned();
        }
        Ok(())
    }

    /// Signs out while the app runs, as [`Tablet::sign_out`] does (refused with
    /// [`AppError::UnsentChanges`] while changes wait to be sent): the replica is closed and
    /// removed, and this tablet is left empty and unpaired, so that nothing of the technician's
    /// stays and the sync has nothing to send or fetch until it is paired again.
    pub fn sign_out_here(&mut self) -> Result<(), AppError> {
        let pending = self.store.outbox()?.len();
        if pending > 0 {
            return Err(AppError::UnsentChanges(pending));
        }
        let path = self.store.path();
        let emptied = Tablet::with(Store::open_in_memory()?, self.writer.clone());
        // The replica's connection closes here, before its files are removed.
        drop(std::mem::replace(self, emptied));
        match path {
            Some(path) => Tablet::sign_out(&path),
            None => Ok(()),
        }
    }

    /// The server this tablet syncs with, if paired.
    pub fn pairing(&self) -> Result<Option<Pairing>, AppError> {
        Ok(self.store.pairing()?)
    }

    /// Who is using the tablet (stamped on notes, photos and payments).
    pub fn author(&self) -> &Author {
        &self.writer.author
    }

    /// The local replica (for lists and search).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Changes saved locally and not yet acknowledged by the server.
    pub fn pending(&self) -> Result<usize, AppError> {
        Ok(self.store.outbox()?.len())
    }

    /// Photo blobs made here that the server has not confirmed yet.
    pub fn uploads_pending(&self) -> Result<usize, AppError> {
        Ok(self.store.queued_uploads()?.len())
    }

    /// What the sync bar shows.
    pub fn status(&self) -> Result<SyncStatus, AppError> {
        let mut pending = 0;
        let mut refused = Vec::new();
        for entry in self.store.outbox_entries()? {
            match entry.status {
                fieldsync_store::OutboxStatus::Pending => pending += 1,
                fieldsync_store::OutboxStatus::Refused(reason) => refused.push(RefusedChange {
                    doc: entry.doc,
                    kind: entry.kind,
                    reason,
                    made_at: Timestamp::from_millis(entry.created_at_ms),
                }),
            }
        }
        Ok(SyncStatus {
            online: self.session.is_live(),
            pending,
            refused,
            uploads_pending: self.uploads_pending()?,
            last_sync: self.store.last_sync_ms()?.and_then(Timestamp::from_millis),
            first_sync_documents: self.first_sync,
            transfer_errors: self.transfers.failures(),
            last_error: self.last_error.clone(),
            needs_pairing: self.needs_pairing,
        })
    }

    /// Records why connecting or a connection failed (shown on the sync bar); `None` clears it.
    pub fn set_last_error(&mut self, error: Option<String>) {
        self.last_error = error;
    }

    /// Records that the server refused the device token (or, `false`, that it was not that).
    pub fn set_needs_pairing(&mut self, refused: bool) {
        self.needs_pairing = refused;
    }
}

fn writer_of(pairing: &Pairing) -> Writer {
    Writer::new(
        fieldsync_protocol::Role::Technician,
        pairing.user,
        pairing.user_name.clone(),
    )
    .with_actor(ActorId::from(pairing.actor.as_slice()))
}

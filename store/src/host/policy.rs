//! Who may read and write what, in one place: a device's scope (office and admin see
//! everything; a technician the accounts of the jobs assigned to them), the accounts it was
//! given and may still write after they left its scope, and which photos it may download.

use std::collections::BTreeSet;

use fieldsync_protocol::{AccountId, ContentHash, Role, UserId};

use crate::{Origin, Result, Scope, Store};

/// The scope a user's devices see: office and admin everything, a technician the accounts of
/// the jobs assigned to them.
pub fn scope_of(store: &Store, user: UserId, role: Role) -> Result<Scope> {
    Ok(match role {
        Role::Technician => Scope::Accounts(store.technician_accounts(user)?),
        Role::Office | Role::Admin => Scope::All,
    })
}

/// Who is on the other end of a server connection, and what they may read and write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceContext {
    /// The device's number, stamped on the changes it makes.
    pub origin: Origin,
    /// Its user's role.
    pub role: Role,
    /// The documents it may see.
    pub scope: Scope,
    /// The accounts whose documents the device was given and has not confirmed dropping
    /// (kept in `device_accounts`): it may still write to them after they left its scope, so
    /// that work done offline on a job that was unassigned meanwhile lands.
    pub held: BTreeSet<AccountId>,
    /// The device's user, when known: a technician's scope follows their assignments.
    pub user: Option<UserId>,
    /// Whom the automerge actors of its changes belong to (see `actors`): its user, or the
    /// office's clerk; `None` for changes relayed on others' behalf (taken back in a repair),
    /// whose actors are their authors'.
    pub owner: Option<UserId>,
    /// A repair is under way on this connection (a fallback round, until the server found the
    /// device's documents the same as its own): this database may lack what makes a change
    /// allowed (an assignment made after the backup it was restored from, which the repair
    /// brings back), so a change to an account the device may not write waits (`Deferred`,
    /// pushed again) instead of being refused.
    pub repairing: bool,
}

impl DeviceContext {
    /// A device seeing `scope`.
    pub fn new(origin: Origin, role: Role, scope: Scope) -> DeviceContext {
        DeviceContext {
            origin,
            role,
            scope,
            held: BTreeSet::new(),
            user: None,
            owner: None,
            repairing: false,
        }
    }

    /// Device `number` of `user`, as the server's store knows it now: its scope and the
    /// accounts it was given.
    pub fn of_device(store: &Store, number: i64, user: UserId, role: Role) -> Result<Self> {
        let mut device = DeviceContext::new(Origin(number), role, scope_of(store, user, role)?);
        device.user = Some(user);
        device.owner = Some(user);
        device.held = store.device_accounts(number)?;
        Ok(device)
    }

    /// Who the device's changes are checked for: its user's role, and its user (whom what it
    /// adds must name as author).
    pub fn pusher(&self) -> fieldsync_protocol::validate::Pusher {
        fieldsync_protocol::validate::Pusher {
            role: self.role,
            user: self.user,
            // A registered device (one with a user) numbers its invoices with its number.
            device: self.user.and_then(|_| u32::try_from(self.origin.0).ok()),
        }
    }

    /// Whether the device may write documents of `account`: those of its scope, and those it
    /// was given and still holds (by the server's record, never by the device's word or clock).
    pub fn may_write(&self, account: AccountId) -> bool {
        self.scope.contains(account) || self.held.contains(&account)
    }

    /// Whether the device may download the photo bytes with this hash: everything with scope
    /// All; otherwise only photos of accounts it may write (`photo_accounts`: the accounts of
    /// the photos naming the hash).
    pub fn may_read_blob(&self, store: &Store, hash: &ContentHash) -> Result<bool> {
        if self.scope == Scope::All {
            return Ok(true);
        }
        Ok(store
            .photo_accounts(hash)?
            .into_iter()
            .any(|account| self.may_write(account)))
    }

    /// The accounts of its scope, `None` for a device that sees everything.
    pub fn scope_accounts(&self) -> Option<&BTreeSet<AccountId>> {
        match &self.scope {
            Scope::All => None,
            Scope::Accounts(accounts) => Some(accounts),
        }
    }

    /// Replaces the scope; returns the accounts that joined and those that left it. The
    /// accounts of both scopes were served to the device: they join `held` (the caller keeps
    /// the record, see [`DeviceContext::record_changed`]).
    pub fn rescope(&mut self, scope: Scope) -> (Vec<AccountId>, Vec<AccountId>) {
        let (joined, left) = match (&self.scope, &scope) {
            (Scope::Accounts(old), Scope::Accounts(new)) => (
                new.difference(old).copied().collect(),
                old.difference(new).copied().collect::<Vec<_>>(),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        if let (Scope::Accounts(old), Scope::Accounts(new)) = (&self.scope, &scope) {
            self.held.extend(old.iter().chain(new).copied());
        }
        self.scope = scope;
        (joined, left)
    }

    /// The device says it holds documents of exactly `holding` (kept or being dropped): the
    /// accounts it was given and no longer holds are no longer its to write; those of its
    /// scope are being served to it.
    pub fn confirm_holding(&mut self, holding: &BTreeSet<AccountId>) {
        if let Some(held) = self.confirmed(holding) {
            self.held = held;
        }
    }

    /// What `held` becomes when the device says it holds `holding`; `None` for a device that
    /// sees everything.
    pub fn confirmed(&self, holding: &BTreeSet<AccountId>) -> Option<BTreeSet<AccountId>> {
        let scope = self.scope_accounts()?;
        Some(
            self.held
                .intersection(holding)
                .chain(scope)
                .copied()
                .collect(),
        )
    }

    /// Whether `held` differs from the record as it was (`before`): the caller writes it.
    pub fn record_changed(&self, before: &BTreeSet<AccountId>) -> bool {
        self.scope != Scope::All && &self.held != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn technician(scope: &[AccountId]) -> DeviceContext {
        DeviceContext::new(
            Origin(1),
            Role::Technician,
            Scope::Accounts(scope.iter().copied().collect()),
        )
    }

    #[test]
    fn an_account_that_left_the_scope_stays_writable_until_the_device_says_it_dropped_it() {
        let (a, b) = (AccountId::new(), AccountId::new());
        let mut device = technician(&[a]);
        assert!(device.may_write(a) && !device.may_write(b));
        let (joined, left) = device.rescope(Scope::Accounts([b].into()));
        assert_eq!((joined, left), (vec![b], vec![a]));
        assert!(device.may_write(a), "offline work on `a` still lands");
        assert!(device.may_write(b));
        // The device still holds `a` (changes of it wait in its outbox): still writable.
        device.confirm_holding(&[a, b].into());
        assert!(device.may_write(a));
        // It dropped `a`: from now on `a` is refused, whatever time its changes carry.
        device.confirm_holding(&[b].into());
        assert!(!device.may_write(a));
        assert!(device.may_write(b));
    }

    #[test]
    fn a_device_cannot_gain_an_account_by_saying_it_holds_it() {
        let (a, stranger) = (AccountId::new(), AccountId::new());
        let mut device = technician(&[a]);
        device.confirm_holding(&[a, stranger].into());
        assert!(!device.may_write(stranger));
        assert_eq!(device.held, [a].into());
    }

    #[test]
    fn office_devices_write_everywhere_and_keep_no_record() {
        let mut device = DeviceContext::new(Origin(2), Role::Office, Scope::All);
        let before = device.held.clone();
        device.confirm_holding(&BTreeSet::new());
        assert!(device.may_write(AccountId::new()));
        assert!(!device.record_changed(&before));
    }
}

//! Who a change came from, and which documents a reader may see.

use std::collections::BTreeSet;

use fieldsync_protocol::AccountId;

/// Who a change came from: the store's own user (0), a registered device (its number > 0), or
/// a remote peer's data received by a tablet (-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Origin(pub i64);

impl Origin {
    /// The replica's own user.
    pub const LOCAL: Origin = Origin(0);
    /// Data received from the server (on a tablet).
    pub const REMOTE: Origin = Origin(-1);
}

/// Which documents a reader may see, by their account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every document (office, admin, and the tablet's own view of its store).
    All,
    /// Only the documents of these accounts (a technician).
    Accounts(BTreeSet<AccountId>),
}

impl Scope {
    /// Whether documents of `account` are in scope.
    pub fn contains(&self, account: AccountId) -> bool {
        match self {
            Scope::All => true,
            Scope::Accounts(accounts) => accounts.contains(&account),
        }
    }

    /// Whether a document with this account (`None`: unreadable) is in scope.
    pub fn allows(&self, account: Option<AccountId>) -> bool {
        match self {
            Scope::All => true,
            Scope::Accounts(accounts) => account.is_some_and(|a| accounts.contains(&a)),
        }
    }
}

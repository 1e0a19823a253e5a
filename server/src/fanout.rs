//! Whom a commit wakes. A busy company commits hundreds of times a second and keeps hundreds
//! of technicians connected; waking every connection on every commit (each to find that
//! nothing was for it) costs more than the commits. A connection subscribes with what it sees:
//! everything (the office) or its technician's accounts. After a commit, group commit wakes the
//! connections that see the accounts it touched and those whose technician's assignments it
//! changed (their scope is read again); every [`SWEEP`] it wakes all of them, so that each
//! keeps its position within the ring of recent commits ([`crate::recent`]) rather than
//! reading a long way back from SQLite when something of theirs comes.
//!
//! A wake is a permit ([`tokio::sync::Notify::notify_one`]): a connection busy when it comes
//! finds it when it next waits, so none is lost.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldsync_protocol::{AccountId, UserId};
use tokio::sync::Notify;

/// Every connection is woken at least this often while commits happen.
pub const SWEEP: Duration = Duration::from_secs(1);

/// What a connection sees, for waking it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interest {
    /// Every document (an office device, or a technician's before their scope is read).
    Everything,
    /// Documents of these accounts.
    Accounts(BTreeSet<AccountId>),
}

impl From<&fieldsync_store::Scope> for Interest {
    fn from(scope: &fieldsync_store::Scope) -> Interest {
        match scope {
            fieldsync_store::Scope::All => Interest::Everything,
            fieldsync_store::Scope::Accounts(accounts) => Interest::Accounts(accounts.clone()),
        }
    }
}

/// What a commit touched.
#[derive(Debug, Default)]
pub struct Touched {
    /// The accounts of the documents it changed (`None`: a document without a readable
    /// account, which only those who see everything are woken for).
    pub accounts: HashSet<Option<AccountId>>,
    /// The technicians whose assignments it changed.
    pub users: Vec<UserId>,
    /// Whether anyone's assignments may have changed (whose could not be told).
    pub everyone: bool,
}

struct Subscriber {
    notify: Arc<Notify>,
    user: UserId,
    interest: Interest,
}

#[derive(Default)]
struct Inner {
    next: u64,
    subscribers: HashMap<u64, Subscriber>,
    everything: HashSet<u64>,
    by_account: HashMap<AccountId, HashSet<u64>>,
    by_user: HashMap<UserId, HashSet<u64>>,
    last_sweep: Option<Instant>,
}

impl Inner {
    fn index(&mut self, id: u64) {
        let Some(subscriber) = self.subscribers.get(&id) else {
            return;
        };
        match &subscriber.interest {
            Interest::Everything => {
                self.everything.insert(id);
            }
            Interest::Accounts(accounts) => {
                for account in accounts {
                    self.by_account.entry(*account).or_default().insert(id);
                }
            }
        }
    }

    fn unindex(&mut self, id: u64) {
        let Some(subscriber) = self.subscribers.get(&id) else {
            return;
        };
        match &subscriber.interest {
            Interest::Everything => {
                self.everything.remove(&id);
            }
            Interest::Accounts(accounts) => {
                for account in accounts {
                    if let Some(ids) = self.by_account.get_mut(account) {
                        ids.remove(&id);
                        if ids.is_empty() {
                            self.by_account.remove(account);
                        }
                    }
                }
            }
        }
    }
}

/// The open connections, by what they see.
#[derive(Default)]
pub struct Fanout {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout").finish_non_exhaustive()
    }
}

impl Fanout {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection of `user` seeing `interest`; it is forgotten when the subscription drops.
    pub fn subscribe(self: &Arc<Self>, user: UserId, interest: Interest) -> Subscription {
        let notify = Arc::new(Notify::new());
        let mut inner = self.inner();
        inner.next += 1;
        let id = inner.next;
        inner.subscribers.insert(
            id,
            Subscriber {
                notify: Arc::clone(&notify),
                user,
                interest,
            },
        );
        inner.index(id);
        inner.by_user.entry(user).or_default().insert(id);
        Subscription {
            fanout: Arc::clone(self),
            id,
            notify,
        }
    }

    /// A commit touched `touched`: wakes whom it concerns, or everyone once [`SWEEP`] has
    /// passed since everyone was last woken.
    pub fn committed(&self, touched: &Touched) {
        let mut inner = self.inner();
        let sweep = inner.last_sweep.is_none_or(|at| at.elapsed() >= SWEEP);
        if sweep || touched.everyone {
            inner.last_sweep = Some(Instant::now());
            wake(&inner, inner.subscribers.keys().copied());
            return;
        }
        let mut ids: HashSet<u64> = inner.everything.clone();
        for account in touched.accounts.iter().flatten() {
            if let Some(those) = inner.by_account.get(account) {
                ids.extend(those);
            }
        }
        for user in &touched.users {
            if let Some(those) = inner.by_user.get(user) {
                ids.extend(those);
            }
        }
        wake(&inner, ids);
    }

    /// Wakes every connection (a commit whose documents are not known here).
    pub fn wake_all(&self) {
        let inner = self.inner();
        wake(&inner, inner.subscribers.keys().copied());
    }
}

fn wake(inner: &Inner, ids: impl IntoIterator<Item = u64>) {
    for id in ids {
        if let Some(subscriber) = inner.subscribers.get(&id) {
            subscriber.notify.notify_one();
        }
    }
}

/// One connection's place in the [`Fanout`].
pub struct Subscription {
    fanout: Arc<Fanout>,
    id: u64,
    notify: Arc<Notify>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// Resolves when a commit concerns the connection (at once if one did since it last
    /// waited).
    pub async fn woken(&self) {
        self.notify.notified().await;
    }

    /// The connection now sees `interest` (its technician's scope was read).
    pub fn set_interest(&self, interest: Interest) {
        let mut inner = self.fanout.inner();
        inner.unindex(self.id);
        if let Some(subscriber) = inner.subscribers.get_mut(&self.id) {
            subscriber.interest = interest;
        }
        inner.index(self.id);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut inner = self.fanout.inner();
        inner.unindex(self.id);
        if let Some(subscriber) = inner.subscribers.remove(&self.id)
            && let Some(ids) = inner.by_user.get_mut(&subscriber.user)
        {
            ids.remove(&self.id);
            if ids.is_empty() {
                inner.by_user.remove(&subscriber.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `subscription` was woken (its permit taken).
    fn woken(subscription: &Subscription) -> bool {
        use std::future::Future as _;
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let future = std::pin::pin!(subscription.woken());
        future.poll(&mut cx).is_ready()
    }

    fn touched(accounts: &[AccountId], users: &[UserId]) -> Touched {
        Touched {
            accounts: accounts.iter().map(|a| Some(*a)).collect(),
            users: users.to_vec(),
            everyone: false,
        }
    }

    #[test]
    fn a_commit_wakes_the_office_and_the_technicians_who_see_its_accounts_or_were_reassigned() {
        let fanout = Arc::new(Fanout::default());
        let (harbor, dental, quiet) = (AccountId::new(), AccountId::new(), AccountId::new());
        let (tess_user, theo_user) = (UserId::new(), UserId::new());
        let office = fanout.subscribe(UserId::new(), Interest::Everything);
        let tess = fanout.subscribe(tess_user, Interest::Accounts([harbor, dental].into()));
        let theo = fanout.subscribe(theo_user, Interest::Accounts([dental].into()));
        // The first commit sweeps: everyone is woken once.
        fanout.committed(&touched(&[quiet], &[]));
        assert!(woken(&office) && woken(&tess) && woken(&theo));

        fanout.committed(&touched(&[harbor], &[]));
        assert!(woken(&office) && woken(&tess));
        assert!(!woken(&theo), "Theo does not see Harbor Bakery");
        // A commit of a quiet customer's, assigning it to Theo: his scope is read again.
        fanout.committed(&touched(&[quiet], &[theo_user]));
        assert!(woken(&office) && woken(&theo));
        assert!(!woken(&tess));
        // Theo now sees the quiet customer too.
        theo.set_interest(Interest::Accounts([dental, quiet].into()));
        fanout.committed(&touched(&[quiet], &[]));
        assert!(woken(&theo) && !woken(&tess));
        // A document without a readable account concerns only those who see everything.
        fanout.committed(&Touched {
            accounts: [None].into(),
            ..Touched::default()
        });
        assert!(woken(&office) && !woken(&tess) && !woken(&theo));
        // A wake is kept until the connection waits again, and counted once.
        fanout.committed(&touched(&[dental], &[]));
        fanout.committed(&touched(&[dental], &[]));
        assert!(woken(&tess));
        assert!(!woken(&tess), "one permit for both");

        drop(theo);
        assert_eq!(fanout.inner().subscribers.len(), 2);
        fanout.committed(&touched(&[quiet], &[theo_user]));
        assert!(woken(&office) && !woken(&tess));
    }

    #[test]
    fn everyone_is_woken_when_whose_assignments_changed_is_unknown_and_once_a_sweep_is_due() {
        let fanout = Arc::new(Fanout::default());
        let harbor = AccountId::new();
        let tess = fanout.subscribe(UserId::new(), Interest::Accounts([harbor].into()));
        fanout.committed(&Touched::default());
        assert!(woken(&tess), "the first commit sweeps");
        fanout.committed(&Touched::default());
        assert!(!woken(&tess));
        fanout.committed(&Touched {
            everyone: true,
            ..Touched::default()
        });
        assert!(woken(&tess));
        fanout.inner().last_sweep = Some(Instant::now() - SWEEP);
        fanout.committed(&Touched::default());
        assert!(woken(&tess), "a sweep is due");
        fanout.wake_all();
        assert!(woken(&tess));
    }
}

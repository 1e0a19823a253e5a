//! Whose assignments changed, and when: a technician's scope is the accounts of the jobs
//! assigned to them, so their sync connection reads it again only after a commit changed
//! their own assignments, never on every commit.
//!
//! The writer connection notes the technicians whose assignment rows its commits added or
//! removed ([`fieldsync_store::Store::take_assignment_changes`], whatever wrote them: a
//! device's push, an office edit, a merge) and [`crate::db::Db::run`] hands them here after each
//! piece of work, before the commit is announced to the connections.

use std::collections::HashMap;
use std::sync::Mutex;

use fieldsync_protocol::UserId;

/// Generations of assignment changes: every noted change gets the next generation number.
#[derive(Debug, Default)]
pub struct Assignments {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    generation: u64,
    /// The generation of each technician's latest change.
    changed: HashMap<UserId, u64>,
    /// The generation at which every technician's scope must be read again (noting failed).
    everyone: u64,
    /// Noted since [`Assignments::take_noted`] last took them, for waking the connections
    /// concerned: the technicians, and whether it was everyone.
    noted: (std::collections::HashSet<UserId>, bool),
}

impl Assignments {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The generation now: read it before reading a scope, and ask
    /// [`Assignments::changed_since`] with it later.
    pub fn generation(&self) -> u64 {
        self.inner().generation
    }

    /// Notes that the assignments of `users` changed.
    pub fn note(&self, users: impl IntoIterator<Item = UserId>) {
        let mut users = users.into_iter().peekable();
        if users.peek().is_none() {
            return;
        }
        let mut inner = self.inner();
        inner.generation += 1;
        let generation = inner.generation;
        for user in users {
            inner.changed.insert(user, generation);
            inner.noted.0.insert(user);
        }
    }

    /// Notes that anyone's assignments may have changed.
    pub fn note_everyone(&self) {
        let mut inner = self.inner();
        inner.generation += 1;
        inner.everyone = inner.generation;
        inner.noted.1 = true;
    }

    /// Whose assignments were noted as changed since this was last called, and whether
    /// anyone's may have (see [`crate::fanout`]).
    pub fn take_noted(&self) -> (Vec<UserId>, bool) {
        let (users, everyone) = std::mem::take(&mut self.inner().noted);
        (users.into_iter().collect(), everyone)
    }

    /// Whether `user`'s assignments changed after generation `seen`.
    pub fn changed_since(&self, user: UserId, seen: u64) -> bool {
        let inner = self.inner();
        inner.everyone > seen || inner.changed.get(&user).is_some_and(|g| *g > seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_technicians_noted_after_a_generation_have_changed() {
        let (tess, theo) = (UserId::new(), UserId::new());
        let assignments = Assignments::default();
        let seen = assignments.generation();
        assert!(!assignments.changed_since(tess, seen));
        assignments.note([tess]);
        assert!(assignments.changed_since(tess, seen));
        assert!(!assignments.changed_since(theo, seen));
        let later = assignments.generation();
        assert!(!assignments.changed_since(tess, later));
        assignments.note([]);
        assert_eq!(
            assignments.generation(),
            later,
            "nothing noted, nothing new"
        );
        assignments.note_everyone();
        assert!(assignments.changed_since(theo, later));
        assert!(assignments.changed_since(tess, later));
        assert_eq!(assignments.take_noted(), (vec![tess], true));
        assert_eq!(assignments.take_noted(), (vec![], false), "taken once");
    }
}

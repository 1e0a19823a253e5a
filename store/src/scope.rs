//! Who a change came from, and which documents a reader may see.

use std::collections::BTreeSet;

use fieldsync_protocol::{AccountId, UserId};
use rusqlite::Connection;

use crate::{Result, codec};

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

/// Temporary (this connection's) triggers counting, per technician and account, the
/// assignment rows added and removed. Temporary tables follow their transaction: what a rolled
/// back transaction did is not counted.
const WATCH_ASSIGNMENTS: &str = "
CREATE TEMP TABLE IF NOT EXISTS assignment_changes (
    user BLOB NOT NULL,
    account BLOB NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (user, account)
);
CREATE TEMP TRIGGER IF NOT EXISTS assignment_added AFTER INSERT ON main.job_technicians BEGIN
    INSERT INTO assignment_changes (user, account, n) VALUES (NEW.user, NEW.account, 1)
    ON CONFLICT (user, account) DO UPDATE SET n = n + 1;
END;
CREATE TEMP TRIGGER IF NOT EXISTS assignment_removed AFTER DELETE ON main.job_technicians BEGIN
    INSERT INTO assignment_changes (user, account, n) VALUES (OLD.user, OLD.account, -1)
    ON CONFLICT (user, account) DO UPDATE SET n = n - 1;
END;
CREATE TEMP TRIGGER IF NOT EXISTS assignment_moved AFTER UPDATE ON main.job_technicians BEGIN
    INSERT INTO assignment_changes (user, account, n) VALUES (OLD.user, OLD.account, -1)
    ON CONFLICT (user, account) DO UPDATE SET n = n - 1;
    INSERT INTO assignment_changes (user, account, n) VALUES (NEW.user, NEW.account, 1)
    ON CONFLICT (user, account) DO UPDATE SET n = n + 1;
END;
";

pub(crate) fn watch_assignments(conn: &Connection) -> Result<()> {
    conn.execute_batch(WATCH_ASSIGNMENTS)?;
    Ok(())
}

/// The technicians with assignment rows added or removed, net (a job row rewritten with the
/// same technicians counts for none), and starts counting again. Only on a connection that
/// called [`watch_assignments`].
pub(crate) fn take_assignment_changes(conn: &Connection) -> Result<BTreeSet<UserId>> {
    let users = {
        let mut stmt =
            conn.prepare_cached("SELECT DISTINCT user FROM temp.assignment_changes WHERE n != 0")?;
        let rows = stmt.query_map([], |row| codec::id(row, 0, UserId::from_slice))?;
        rows.collect::<rusqlite::Result<BTreeSet<_>>>()?
    };
    conn.prepare_cached("DELETE FROM temp.assignment_changes")?
        .execute([])?;
    Ok(users)
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::{Record, Role, UserId};

    use crate::Store;
    use crate::fixtures::*;
    use fieldsync_protocol::Job;

    fn store_local(
        store: &mut Store,
        doc: fieldsync_protocol::DocId,
        document: &mut automerge::AutoCommit,
        change: &automerge::Change,
    ) {
        let tx = store.transaction().unwrap();
        tx.record_local(doc, document, change, false).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn a_watching_connection_names_the_technicians_whose_assignments_changed_and_no_others() {
        let mut store = Store::open_in_memory().unwrap();
        let office = writer(Role::Office, "Dana");
        let (tess, theo) = (UserId::new(), UserId::new());
        let customer = Record::new_account(account("Acme"));
        create(&mut store, &office, &customer);
        let place = Record::new_site(site(customer.account(), "Main St store"));
        create(&mut store, &office, &place);
        let Record::Site(s) = &place else {
            unreachable!()
        };
        // Not watching: nothing is noted.
        let first = Record::new_job(Job {
            technicians: [tess].into_iter().map(|t| (t, now())).collect(),
            ..job(customer.account(), s.record.id, "Annual boiler service")
        });
        create(&mut store, &office, &first);
        assert!(store.take_assignment_changes().unwrap().is_empty());

        store.watch_assignments().unwrap();
        let second = Record::new_job(Job {
            technicians: [tess].into_iter().map(|t| (t, now())).collect(),
            ..job(customer.account(), s.record.id, "Annual boiler service")
        });
        let (doc, mut document) = create(&mut store, &office, &second);
        assert_eq!(store.take_assignment_changes().unwrap(), [tess].into());
        assert!(
            store.take_assignment_changes().unwrap().is_empty(),
            "taken once"
        );

        // A status change rewrites the job's rows, with the same technicians: nobody.
        let change = edit(&mut document, &office, |r| {
            if let Record::Job(j) = r {
                j.record.status = fieldsync_protocol::JobStatus::EnRoute;
            }
        });
        store_local(&mut store, doc, &mut document, &change);
        assert!(store.take_assignment_changes().unwrap().is_empty());

        // Theo added: Theo only.
        let change = edit(&mut document, &office, |r| {
            if let Record::Job(j) = r {
                j.record.technicians.insert(theo, crate::fixtures::now());
            }
        });
        store_local(&mut store, doc, &mut document, &change);
        assert_eq!(store.take_assignment_changes().unwrap(), [theo].into());

        // What a rolled-back transaction did is not noted.
        let change = edit(&mut document, &office, |r| {
            if let Record::Job(j) = r {
                j.record.technicians.clear();
            }
        });
        let tx = store.transaction().unwrap();
        tx.record_local(doc, &mut document, &change, false).unwrap();
        drop(tx);
        assert!(store.take_assignment_changes().unwrap().is_empty());
    }
}

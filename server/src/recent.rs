//! The changes of the latest commits, in memory, so that live sessions send them without each
//! querying the database: group commit reads what it stored once, and every session filters
//! that by its scope. A session that is further behind than the ring reaches reads SQLite.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use fieldsync_protocol::wire::{DocData, Lineage, ServerMessage};
use fieldsync_protocol::{AccountId, DocId};
use fieldsync_store::{LoggedChange, Origin, Scope};

/// Most changes kept.
const CAPACITY: usize = 20_000;
/// Most change bytes kept.
const MAX_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug)]
struct Ring {
    /// The ring holds every change with `lo < seq <= hi`.
    lo: u64,
    hi: u64,
    /// The lineage at `hi`.
    hi_lineage: Lineage,
    changes: VecDeque<LoggedChange>,
    bytes: usize,
}

/// A document that changed, and its account (`None` if unreadable).
pub type Touched = (DocId, Option<AccountId>);

/// One encoded `Changes` message for every connection that sees everything and is at the same
/// position: made by the first of them, sent as it is by the others.
#[derive(Debug)]
struct SharedFrame {
    from: u64,
    after: u64,
    to: (u64, Lineage),
    /// Devices whose changes it holds: they must not be sent their own.
    origins: Vec<Origin>,
    frame: Bytes,
}

/// Recently committed changes.
#[derive(Debug)]
pub struct Recent {
    ring: Mutex<Ring>,
    shared: Mutex<Option<Arc<SharedFrame>>>,
}

impl Recent {
    /// An empty ring at the database's latest sequence number and its lineage.
    pub fn new((latest, lineage): (u64, Lineage)) -> Recent {
        Recent {
            ring: Mutex::new(Ring {
                lo: latest,
                hi: latest,
                hi_lineage: lineage,
                changes: VecDeque::new(),
                bytes: 0,
            }),
            shared: Mutex::new(None),
        }
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A commit stored `changes`, every change after `before`, up to `latest` (with its
    /// lineage). If something else was committed since the ring's last commit, the ring starts
    /// again from here.
    pub fn extend(&self, before: u64, changes: Vec<LoggedChange>, latest: (u64, Lineage)) {
        let mut ring = self.ring();
        if before != ring.hi {
            *ring = Ring {
                lo: before,
                hi: before,
                hi_lineage: Lineage::EMPTY,
                changes: VecDeque::new(),
                bytes: 0,
            };
        }
        if latest.0 > ring.hi {
            (ring.hi, ring.hi_lineage) = latest;
        }
        for change in changes {
            ring.bytes += change.bytes.len();
            ring.changes.push_back(change);
        }
        while ring.changes.len() > CAPACITY || ring.bytes > MAX_BYTES {
            let Some(oldest) = ring.changes.pop_front() else {
                break;
            };
            ring.bytes -= oldest.bytes.len();
            ring.lo = oldest.seq;
        }
    }

    /// What a session that has everything up to `after` lacks, for a device seeing `scope` and
    /// not needing its own changes back: the data per document and the sequence number it
    /// reaches. `None` when the ring does not hold everything after `after`, or nothing new.
    pub fn since(
        &self,
        after: u64,
        scope: &Scope,
        own: Origin,
    ) -> Option<(Vec<DocData>, (u64, Lineage))> {
        since_in(&self.ring(), after, scope, Some(own))
    }

    /// The encoded `Changes { from, to, docs, complete: true }` bringing a device that sees
    /// everything from `after` to the latest commit, and that `to`; made once and shared by
    /// every connection at the same position. `None` when the ring does not hold everything
    /// after `after`, nothing is new, or some of it is `own` (the device's own changes are
    /// left out, so its message is its own).
    pub fn shared_frame(
        &self,
        from: u64,
        after: u64,
        own: Origin,
    ) -> Option<(Bytes, (u64, Lineage))> {
        let hi = self.ring().hi;
        let shared = {
            let mut slot = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            match &*slot {
                Some(f) if (f.from, f.after, f.to.0) == (from, after, hi) => Arc::clone(f),
                _ => {
                    let made = Arc::new(self.make_frame(from, after, own)?);
                    *slot = Some(Arc::clone(&made));
                    made
                }
            }
        };
        if shared.origins.contains(&own) {
            return None;
        }
        Some((shared.frame.clone(), shared.to))
    }

    /// The shared frame from `after`; `None` (and nothing made) when some of it is `own`.
    fn make_frame(&self, from: u64, after: u64, own: Origin) -> Option<SharedFrame> {
        let ring = self.ring();
        let start = ring.changes.partition_point(|c| c.seq <= after);
        let mut origins = Vec::new();
        for change in ring.changes.range(start..) {
            if change.origin == own {
                return None;
            }
            if !origins.contains(&change.origin) {
                origins.push(change.origin);
            }
        }
        let (docs, to) = since_in(&ring, after, &Scope::All, None)?;
        drop(ring);
        let message = ServerMessage::Changes {
            from,
            to: to.0,
            lineage: to.1,
            docs,
            complete: true,
        };
        Some(SharedFrame {
            from,
            after,
            to,
            origins,
            frame: Bytes::from(message.encode()),
        })
    }

    /// The documents changed after `after`, each once with its account, in the order first
    /// changed, and the sequence number the ring reaches. `None` when the ring does not hold
    /// everything after `after` (the reader must reload), or nothing is new.
    pub fn touched(&self, after: u64) -> Option<(Vec<Touched>, u64)> {
        let ring = self.ring();
        if after < ring.lo || after >= ring.hi {
            return None;
        }
        let mut seen = std::collections::HashSet::new();
        let start = ring.changes.partition_point(|c| c.seq <= after);
        let docs = ring
            .changes
            .range(start..)
            .filter(|c| seen.insert(c.doc))
            .map(|c| (c.doc, c.account))
            .collect();
        Some((docs, ring.hi))
    }
}

/// What [`Recent::since`] answers, from the locked ring; `own: None` leaves nothing out.
fn since_in(
    ring: &Ring,
    after: u64,
    scope: &Scope,
    own: Option<Origin>,
) -> Option<(Vec<DocData>, (u64, Lineage))> {
    if after < ring.lo || after >= ring.hi {
        return None;
    }
    let mut docs: Vec<DocData> = Vec::new();
    let mut index: HashMap<DocId, usize> = HashMap::new();
    let start = ring.changes.partition_point(|c| c.seq <= after);
    for change in ring.changes.range(start..) {
        if Some(change.origin) == own || !scope.allows(change.account) {
            continue;
        }
        let at = *index.entry(change.doc).or_insert_with(|| {
            docs.push(DocData {
                doc: change.doc,
                data: Vec::new(),
                attested: None,
            });
            docs.len() - 1
        });
        docs[at].data.extend_from_slice(&change.bytes);
        // The document's heads after its latest change here reach all of them.
        if change.attested.is_some() {
            docs[at].attested.clone_from(&change.attested);
        }
    }
    Some((docs, (ring.hi, ring.hi_lineage)))
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::AccountId;

    use super::*;

    /// Position `seq` with a lineage made up from it.
    fn at(seq: u64) -> (u64, Lineage) {
        (seq, Lineage([seq as u8; 16]))
    }

    /// `recent.extend` with a commit of `changes` after `before`.
    fn extend(recent: &Recent, before: u64, changes: Vec<LoggedChange>) {
        let latest = changes.last().map_or(before, |c| c.seq);
        recent.extend(before, changes, at(latest));
    }

    fn change(seq: u64, account: AccountId, origin: i64) -> LoggedChange {
        LoggedChange {
            seq,
            doc: DocId::new(),
            account: Some(account),
            origin: Origin(origin),
            bytes: vec![seq as u8],
            attested: None,
        }
    }

    #[test]
    fn serves_only_what_it_holds_completely_filtered_by_scope_and_origin() {
        let (mine, theirs) = (AccountId::new(), AccountId::new());
        let recent = Recent::new(at(10));
        extend(
            &recent,
            10,
            vec![
                change(11, mine, 2),
                change(12, theirs, 2),
                change(13, mine, 1),
            ],
        );
        let scope = Scope::Accounts([mine].into());
        let (docs, to) = recent.since(10, &scope, Origin(1)).unwrap();
        assert_eq!(to, at(13));
        assert_eq!(
            docs.len(),
            1,
            "the other account's change and the device's own are left out"
        );
        assert_eq!(docs[0].data, vec![11]);
        assert_eq!(recent.since(12, &Scope::All, Origin(9)).unwrap().0.len(), 1);
        assert!(
            recent.since(9, &scope, Origin(1)).is_none(),
            "older than the ring: ask the database"
        );
        assert!(recent.since(13, &scope, Origin(1)).is_none(), "nothing new");
        // A commit the ring did not see (seq 14) makes it start again.
        extend(&recent, 14, vec![change(15, mine, 2)]);
        assert!(recent.since(13, &scope, Origin(1)).is_none());
        assert_eq!(recent.since(14, &scope, Origin(1)).unwrap().1, at(15));
    }

    #[test]
    fn a_document_sent_carries_the_attestation_of_its_latest_change_here() {
        use fieldsync_protocol::wire::HeadsAttestation;
        let a = AccountId::new();
        let recent = Recent::new(at(10));
        let attested = |n: u8| {
            Some(HeadsAttestation {
                heads: vec![n; 32],
                tag: [n; 16],
            })
        };
        let (mut first, mut second) = (change(11, a, 2), change(12, a, 3));
        second.doc = first.doc;
        (first.attested, second.attested) = (attested(1), attested(2));
        extend(&recent, 10, vec![first, second]);
        let (docs, _) = recent.since(10, &Scope::All, Origin(9)).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(
            docs[0].attested,
            attested(2),
            "the heads after both changes"
        );
    }

    #[test]
    fn one_frame_is_shared_by_devices_at_the_same_position_but_not_with_its_authors() {
        let (a, b) = (AccountId::new(), AccountId::new());
        let recent = Recent::new(at(10));
        extend(&recent, 10, vec![change(11, a, 2), change(12, b, 3)]);
        let (frame, to) = recent.shared_frame(7, 10, Origin(1)).unwrap();
        assert_eq!(to, at(12));
        let (again, _) = recent.shared_frame(7, 10, Origin(4)).unwrap();
        assert_eq!(
            frame.as_ptr(),
            again.as_ptr(),
            "the second device gets the same bytes"
        );
        match ServerMessage::decode(&frame).unwrap() {
            ServerMessage::Changes {
                from,
                to,
                lineage,
                docs,
                complete,
            } => {
                assert_eq!((from, (to, lineage), complete), (7, at(12), true));
                assert_eq!(docs, recent.since(10, &Scope::All, Origin(1)).unwrap().0);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            recent.shared_frame(7, 10, Origin(2)).is_none(),
            "a device that made some of it gets its own message, without its changes"
        );
        assert!(
            recent
                .shared_frame(8, 10, Origin(1))
                .is_some_and(|(f, _)| f != frame),
            "another told position is another message"
        );
        assert!(
            recent.shared_frame(12, 12, Origin(1)).is_none(),
            "nothing new"
        );
        extend(&recent, 12, vec![change(13, a, 2)]);
        assert_eq!(
            recent.shared_frame(7, 10, Origin(4)).unwrap().1,
            at(13),
            "a newer commit"
        );
    }
}

//! The sans-I/O sync engine: one session type per side. Sessions take decoded messages and the
//! current time (milliseconds, any monotonic origin) in, and give messages to send and actions
//! for their host out. They never touch sockets, files or clocks, so whole networks of them can be
//! simulated deterministically from a seed.
//!
//! # How a device catches up
//! The server numbers every change it stores (the change sequence). A device remembers how far it
//! has received ([`crate::wire::Cursor`]). On connecting it sends `Hello` with its cursor and,
//! without waiting, pushes its unsent changes; the server answers with `Welcome`, the `Ack` of
//! each push once it is durably stored, and the changes in the device's scope after the cursor.
//! That is one round trip, with bytes close to the size of what changed.
//!
//! # When the scope changed while the device was away
//! A cursor says how far a device has received *in its scope*; a technician's scope follows
//! their assignments. With protocol 2 the device sends, right after `Hello`, a digest of the
//! accounts it holds documents of. When it is not the digest of the device's scope, the server
//! asks for the list, evicts the documents of accounts that left the scope and sends the
//! documents of accounts that joined it whole, and only then catches up by the cursor. So after
//! any successful sync a tablet holds exactly the documents of its current scope.
//!
//! # When the cursor cannot be trusted
//! After catching up with nothing left to send, the device sends a digest of all its documents'
//! heads. If the server's digest of the same scope differs (or the cursor names another server
//! database), both sides fall back to automerge's own sync protocol, document by document, which
//! always converges.

mod client;
pub mod fallback;
mod server;

pub use client::{ClientConfig, ClientOutput, ClientSession, OutboxItem};
pub use fallback::Fallback;
pub use server::{EVICT_PAGE, LiveLoad, ServerOutput, ServerSession, StoreOutcome};

use automerge::ChangeHash;

use crate::{AccountId, DocId};

/// A digest of a set of documents' heads: BLAKE3 over each document's id followed by its sorted
/// heads, documents in id order. Two replicas holding the same documents with the same history
/// have the same digest.
pub fn heads_digest(docs: impl IntoIterator<Item = (DocId, Vec<ChangeHash>)>) -> [u8; 32] {
    let mut docs: Vec<_> = docs.into_iter().collect();
    docs.sort_by_key(|(id, _)| *id);
    let mut hasher = blake3::Hasher::new();
    for (id, mut heads) in docs {
        heads.sort();
        hasher.update(id.as_bytes());
        for head in heads {
            hasher.update(&head.0);
        }
    }
    *hasher.finalize().as_bytes()
}

/// A digest of a set of accounts: BLAKE3 over their ids in order. A device sends the digest of
/// the accounts it holds documents of at the handshake ([`crate::wire::ClientMessage::Holding`]);
/// the server compares it with the digest of the device's scope.
pub fn accounts_digest(accounts: impl IntoIterator<Item = AccountId>) -> [u8; 32] {
    let accounts: std::collections::BTreeSet<AccountId> = accounts.into_iter().collect();
    let mut hasher = blake3::Hasher::new();
    for account in accounts {
        hasher.update(account.as_bytes());
    }
    *hasher.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{
        ClientMessage, Cursor, DocData, ErrorCode, Lineage, ServerMessage, SyncMode,
    };

    fn item(n: u8) -> OutboxItem {
        OutboxItem {
            hash: [n; 32],
            doc: DocId::new(),
            bytes: vec![n; 10],
        }
    }

    /// The device's `Hello` at this build's protocol version.
    fn hello(cursor: Option<Cursor>) -> ClientMessage {
        ClientMessage::Hello {
            version: crate::wire::PROTOCOL_VERSION,
            cursor,
        }
    }

    /// The device's `Holding`, for a session that does not compare it (office) or whose host
    /// is told it matches.
    fn holding() -> ClientMessage {
        ClientMessage::Holding {
            accounts_digest: [0; 32],
            leaving: Vec::new(),
        }
    }

    /// Position `seq` of the server's history, with a lineage made up from it.
    fn at(seq: u64) -> (u64, Lineage) {
        (seq, Lineage([seq as u8; 16]))
    }

    /// A session that said hello with `cursor` (of this history, see [`at`]) and its lineage,
    /// and whose holdings are settled.
    fn greeted(server: &mut ServerSession, cursor: Option<Cursor>) -> Vec<ServerOutput> {
        let mut out = said_hello(server, cursor);
        out.extend(server.receive(holding()));
        out
    }

    /// `Hello` and the lineage of `cursor` (of this history, see [`at`]), checked by the host.
    fn said_hello(server: &mut ServerSession, cursor: Option<Cursor>) -> Vec<ServerOutput> {
        let mut out = server.receive(hello(cursor));
        let lineage = cursor.map_or(Lineage::EMPTY, |c| at(c.seq).1);
        let acked = (0, Lineage::EMPTY);
        for output in server.receive(ClientMessage::Lineage { lineage, acked }) {
            match output {
                ServerOutput::CheckCursor { seq, lineage, .. } => {
                    out.extend(server.cursor_checked(at(seq).1 == lineage));
                }
                other => out.push(other),
            }
        }
        out
    }

    /// The server's `Welcome` to a catching-up device of database 7.
    fn welcome() -> ServerMessage {
        ServerMessage::Welcome {
            version: 1,
            epoch: 7,
            mode: SyncMode::CatchUp,
        }
    }

    /// A complete `Changes` from `from` to `to`, with no documents.
    fn no_changes(from: u64, to: u64) -> ServerMessage {
        ServerMessage::Changes {
            from,
            to,
            lineage: at(to).1,
            docs: Vec::new(),
            complete: true,
        }
    }

    fn sends<T: Clone>(
        out: &[T],
        pick: impl Fn(&T) -> Option<ServerMessage>,
    ) -> Vec<ServerMessage> {
        out.iter().filter_map(pick).collect()
    }

    #[test]
    fn server_acknowledges_only_after_the_host_reports_the_batch_stored() {
        let mut server = ServerSession::new(7, 0);
        said_hello(&mut server, None);
        let changes = vec![DocData {
            doc: DocId::new(),
            data: vec![1],
            attested: None,
        }];
        let out = server.receive(ClientMessage::Push {
            batch: 1,
            changes: changes.clone(),
        });
        assert_eq!(out, vec![ServerOutput::Store { batch: 1, changes }]);
        let out = server.stored(
            1,
            vec![StoreOutcome::Refused("negative payment".into())],
            at(1),
        );
        let acks = sends(&out, |o| match o {
            ServerOutput::Send(m @ ServerMessage::Ack { .. }) => Some(m.clone()),
            _ => None,
        });
        assert_eq!(acks.len(), 1);
        assert!(
            matches!(&acks[0], ServerMessage::Ack { refused, .. } if refused[0].reason == "negative payment")
        );
    }

    #[test]
    fn a_cursor_from_another_history_is_repaired_by_a_fallback_round_not_caught_up() {
        // The server was put back to an older copy and wrote on: it has a sequence 10, but not
        // the history the device's cursor 10 came from.
        let mut server = ServerSession::new(7, 12);
        let theirs = Lineage([0xAA; 16]);
        assert_eq!(
            server.receive(hello(Some(Cursor { epoch: 7, seq: 10 }))),
            vec![]
        );
        let out = server.receive(ClientMessage::Lineage {
            lineage: theirs,
            acked: (0, Lineage::EMPTY),
        });
        assert_eq!(
            out,
            vec![ServerOutput::CheckCursor {
                seq: 10,
                lineage: theirs,
                acked: (0, Lineage::EMPTY),
            }]
        );
        assert_eq!(
            server.receive(holding()),
            vec![],
            "nothing before the check"
        );
        let out = server.cursor_checked(false);
        assert_eq!(
            out,
            vec![
                ServerOutput::Send(ServerMessage::Welcome {
                    version: crate::wire::PROTOCOL_VERSION,
                    epoch: 7,
                    mode: SyncMode::Fallback,
                }),
                ServerOutput::StartFallback
            ]
        );
        let out = server.fallback_started(at(12));
        assert_eq!(changes_sent(&out), vec![(0, 12, 0, true)]);

        // The device says it repairs, and keeps the lineage it is told with its cursor.
        let mut client = ClientSession::new(ClientConfig::default());
        client.connect(
            0,
            (
                Some((Cursor { epoch: 7, seq: 10 }, theirs)),
                (0, Lineage::EMPTY),
            ),
            ([0; 32], Vec::new()),
            Vec::new(),
        );
        let welcome = ServerMessage::Welcome {
            version: crate::wire::PROTOCOL_VERSION,
            epoch: 7,
            mode: SyncMode::Fallback,
        };
        let out = client.receive(0, welcome);
        assert_eq!(
            out,
            vec![ClientOutput::Repairing, ClientOutput::StartFallback]
        );
        let out = client.receive(0, no_changes(0, 12));
        assert!(out.contains(&ClientOutput::Apply {
            docs: vec![],
            cursor: Cursor { epoch: 7, seq: 12 },
            lineage: at(12).1,
        }));
    }

    #[test]
    fn a_device_that_pulls_from_further_back_is_told_the_lineage_of_where_it_ends() {
        let mut server = ServerSession::new(7, 10);
        greeted(&mut server, Some(Cursor { epoch: 7, seq: 10 }));
        // The device lost a message and asks again from 8: the session does not know the
        // lineage of 8, so it loads rather than tells from memory.
        let out = server.receive(ClientMessage::Pull {
            cursor: Cursor { epoch: 7, seq: 8 },
        });
        assert_eq!(
            out,
            vec![ServerOutput::Load {
                after: 8,
                initial: false
            }]
        );
        let out = server.loaded(Vec::new(), at(10), false);
        assert!(
            out.contains(&ServerOutput::Send(no_changes(8, 10))),
            "{out:?}"
        );
    }

    /// The `Changes` messages among `out`: (from, to, documents, complete).
    fn changes_sent(out: &[ServerOutput]) -> Vec<(u64, u64, usize, bool)> {
        out.iter()
            .filter_map(|o| match o {
                ServerOutput::Send(ServerMessage::Changes {
                    from,
                    to,
                    docs,
                    complete,
                    ..
                }) => Some((*from, *to, docs.len(), *complete)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn nothing_is_sent_for_commits_that_hold_nothing_for_the_device_and_no_gap_follows() {
        let mut server = ServerSession::new(7, 10);
        let out = greeted(&mut server, Some(Cursor { epoch: 7, seq: 10 }));
        assert_eq!(
            changes_sent(&out),
            vec![(10, 10, 0, true)],
            "the device is told it is up to date"
        );
        // Commits 11 and 12 were the device's own pushes (or other accounts'): the host loads
        // nothing for it, and nothing is sent.
        let out = server.notify(12);
        assert_eq!(
            out,
            vec![ServerOutput::Load {
                after: 10,
                initial: false
            }]
        );
        assert!(changes_sent(&server.loaded(Vec::new(), at(12), false)).is_empty());
        // Commit 13 holds a change for it: the message starts where the device was last told,
        // so the device sees no gap.
        assert_eq!(
            server.notify(13),
            vec![ServerOutput::Load {
                after: 12,
                initial: false
            }]
        );
        let doc = DocData {
            doc: DocId::new(),
            data: vec![1],
            attested: None,
        };
        assert_eq!(
            changes_sent(&server.loaded(vec![doc], at(13), false)),
            vec![(10, 13, 1, true)]
        );
        let mut client = ClientSession::new(ClientConfig::default());
        client.connect(
            0,
            (
                Some((Cursor { epoch: 7, seq: 10 }, at(10).1)),
                (0, Lineage::EMPTY),
            ),
            ([0; 32], Vec::new()),
            Vec::new(),
        );
        client.receive(0, welcome());
        let out = client.receive(0, no_changes(10, 13));
        assert!(
            out.iter()
                .any(|o| matches!(o, ClientOutput::Apply { cursor, .. } if cursor.seq == 13)),
            "{out:?}"
        );
        // A device that asks gets an answer, even an empty one.
        server.notify(14);
        server.loaded(Vec::new(), at(14), false);
        let out = server.receive(ClientMessage::Pull {
            cursor: Cursor { epoch: 7, seq: 13 },
        });
        assert_eq!(
            out,
            vec![ServerOutput::Load {
                after: 13,
                initial: false
            }]
        );
        assert_eq!(
            changes_sent(&server.loaded(Vec::new(), at(14), false)),
            vec![(13, 14, 0, true)]
        );
    }

    #[test]
    fn a_live_load_answered_with_a_shared_frame_moves_the_session_on() {
        let mut server = ServerSession::new(7, 10);
        greeted(&mut server, Some(Cursor { epoch: 7, seq: 10 }));
        assert_eq!(server.live_load(), None, "nothing to load");
        server.notify(12);
        let load = server.live_load().unwrap();
        assert_eq!((load.from, load.after, load.latest), (10, 10, 12));
        assert!(server.sent_shared(at(12)).is_empty());
        assert_eq!(server.live_load(), None);
        // What follows starts where the shared frame ended.
        assert_eq!(
            server.notify(13),
            vec![ServerOutput::Load {
                after: 12,
                initial: false
            }]
        );
        assert_eq!(server.live_load().unwrap().from, 12);
    }

    #[test]
    fn a_protocol_1_app_is_told_to_update() {
        let mut server = ServerSession::new(7, 0);
        let out = server.receive(ClientMessage::Hello {
            version: 1,
            cursor: Some(Cursor { epoch: 7, seq: 0 }),
        });
        assert!(
            matches!(&out[0], ServerOutput::Send(ServerMessage::Error { code: ErrorCode::UpgradeRequired, message }) if message.contains("please update")),
            "{out:?}"
        );
    }

    /// A technician's session at sequence 10 that said hello with cursor 10 and `Holding`.
    fn technician_greeted() -> (ServerSession, Vec<ServerOutput>) {
        let mut server = ServerSession::new(7, 12).scoped();
        let out = said_hello(&mut server, Some(Cursor { epoch: 7, seq: 10 }));
        assert_eq!(changes_sent(&out), vec![], "nothing before the holdings");
        assert_eq!(server.notify(12), vec![], "nor while they are compared");
        let out = server.receive(ClientMessage::Holding {
            accounts_digest: [9; 32],
            leaving: Vec::new(),
        });
        (server, out)
    }

    #[test]
    fn a_technician_holding_its_scope_catches_up_by_cursor_at_once() {
        let (mut server, out) = technician_greeted();
        assert_eq!(
            out,
            vec![ServerOutput::CheckHolding {
                accounts_digest: [9; 32],
                leaving: Vec::new(),
            }]
        );
        assert_eq!(
            server.holding_checked(true),
            vec![ServerOutput::Load {
                after: 10,
                initial: false
            }]
        );
        // A second Holding on the same connection is not compared again.
        assert_eq!(server.receive(holding()), vec![]);
    }

    #[test]
    fn a_technician_holding_accounts_never_given_to_it_repairs_and_its_pushes_wait_meanwhile() {
        let (mut server, _) = technician_greeted();
        assert!(
            server.is_repairing(),
            "what it may write is not settled yet"
        );
        server.holding_checked(false);
        let held = vec![crate::AccountId::new()];
        server.receive(ClientMessage::AccountsHeld { accounts: held });
        assert!(server.is_repairing());
        // The database has no record of giving it an account it holds: restored from a copy
        // older than that assignment, with the device's cursor older still.
        assert_eq!(
            server.reconciled(Vec::new(), false, true),
            vec![
                ServerOutput::Send(ServerMessage::Welcome {
                    version: crate::wire::PROTOCOL_VERSION,
                    epoch: 7,
                    mode: SyncMode::Fallback
                }),
                ServerOutput::StartFallback
            ]
        );
        assert!(server.is_repairing());
    }

    #[test]
    fn a_technician_whose_scope_changed_offline_gets_evictions_and_joined_documents_before_catch_up()
     {
        let (mut server, _) = technician_greeted();
        assert_eq!(
            server.holding_checked(false),
            vec![ServerOutput::Send(ServerMessage::ListAccounts)]
        );
        let held = vec![crate::AccountId::new()];
        assert_eq!(
            server.receive(ClientMessage::AccountsHeld {
                accounts: held.clone()
            }),
            vec![ServerOutput::Reconcile {
                accounts: held,
                leaving: Vec::new(),
                send_joined: true
            }]
        );
        // An unasked list is ignored.
        assert_eq!(
            server.receive(ClientMessage::AccountsHeld { accounts: vec![] }),
            vec![]
        );
        let gone = DocId::new();
        assert_eq!(
            server.reconciled(vec![gone], true, false),
            vec![
                ServerOutput::Send(ServerMessage::Evict { docs: vec![gone] }),
                ServerOutput::LoadJoined
            ]
        );
        let doc = |n| DocData {
            doc: DocId::new(),
            data: vec![n],
            attested: None,
        };
        let out = server.joined_loaded(vec![doc(1)], true);
        assert_eq!(changes_sent(&out), vec![(10, 10, 1, false)]);
        assert_eq!(out[1], ServerOutput::LoadJoined);
        let out = server.joined_loaded(vec![doc(2)], false);
        assert_eq!(changes_sent(&out), vec![(10, 10, 1, false)]);
        assert_eq!(
            out[1],
            ServerOutput::Load {
                after: 10,
                initial: false
            },
            "then catch-up by cursor, which alone says complete"
        );
        assert_eq!(
            changes_sent(&server.loaded(vec![doc(3)], at(12), false)),
            vec![(10, 12, 1, true)]
        );
    }

    #[test]
    fn a_scope_that_grows_during_the_handshake_sends_the_joined_documents_before_complete() {
        let mut server = ServerSession::new(7, 10).scoped();
        said_hello(&mut server, Some(Cursor { epoch: 7, seq: 10 }));
        assert_eq!(server.scope_grew(), vec![], "the handshake is not settled");
        server.receive(holding());
        assert_eq!(server.holding_checked(true), vec![ServerOutput::LoadJoined]);
        let out = server.joined_loaded(Vec::new(), false);
        assert_eq!(changes_sent(&out), vec![(10, 10, 0, true)]);
    }

    #[test]
    fn a_scope_that_grows_during_a_load_sends_the_joined_documents_after_it() {
        let (mut server, _) = technician_greeted();
        server.holding_checked(true);
        assert_eq!(server.scope_grew(), vec![], "a load is on its way");
        let out = server.loaded(Vec::new(), at(12), false);
        assert_eq!(out.last(), Some(&ServerOutput::LoadJoined));
        assert!(
            changes_sent(&out).iter().all(|c| !c.3),
            "not complete before the joined documents: {out:?}"
        );
        let out = server.joined_loaded(Vec::new(), false);
        assert_eq!(changes_sent(&out), vec![(12, 12, 0, true)]);
        // Idle: the next growth loads at once.
        assert_eq!(server.scope_grew(), vec![ServerOutput::LoadJoined]);
    }

    #[test]
    fn a_verify_that_arrives_while_a_commit_is_loaded_is_answered_once_it_brought_nothing() {
        let mut server = ServerSession::new(7, 10);
        greeted(&mut server, Some(Cursor { epoch: 7, seq: 10 }));
        // The device's own change is committed: the session looks for news for the device...
        assert_eq!(
            server.notify(11),
            vec![ServerOutput::Load {
                after: 10,
                initial: false
            }]
        );
        // ...while the device, which has everything up to 10, asks to compare documents.
        let verify = ClientMessage::Verify {
            seq: 10,
            digest: [3; 32],
        };
        assert_eq!(server.receive(verify.clone()), vec![], "not while loading");
        // Nothing for the device: its digest still stands, and is compared now.
        let out = server.loaded(Vec::new(), at(11), false);
        assert_eq!(out, vec![ServerOutput::CheckDigest { digest: [3; 32] }]);

        // The same when the load brings the device news: it verifies again once it has them,
        // and the digest of before is not compared.
        server.notify(12);
        assert_eq!(server.receive(verify), vec![]);
        let news = DocData {
            doc: DocId::new(),
            data: vec![1],
            attested: None,
        };
        let out = server.loaded(vec![news], at(12), false);
        assert_eq!(changes_sent(&out), vec![(10, 12, 1, true)]);
        assert!(
            !out.iter()
                .any(|o| matches!(o, ServerOutput::CheckDigest { .. })),
            "{out:?}"
        );
    }

    #[test]
    fn an_old_protocol_version_is_told_to_update() {
        let mut server = ServerSession::new(7, 0);
        let out = server.receive(ClientMessage::Hello {
            version: 0,
            cursor: None,
        });
        assert!(
            matches!(&out[0], ServerOutput::Send(ServerMessage::Error { code: ErrorCode::UpgradeRequired, message }) if message.contains("update"))
        );
        assert_eq!(out[1], ServerOutput::Close);
        assert!(server.receive(ClientMessage::Ping { nonce: 1 }).is_empty());
    }

    #[test]
    fn a_cursor_from_another_database_falls_back_to_automerge_sync() {
        let mut server = ServerSession::new(7, 10);
        let out = greeted(&mut server, Some(Cursor { epoch: 99, seq: 3 }));
        assert!(matches!(
            out[0],
            ServerOutput::Send(ServerMessage::Welcome {
                mode: SyncMode::Fallback,
                ..
            })
        ));
        assert_eq!(out[1], ServerOutput::StartFallback);
    }

    #[test]
    fn client_pushes_with_hello_and_pulls_again_after_a_gap() {
        let mut client = ClientSession::new(ClientConfig::default());
        let out = client.connect(
            0,
            (
                Some((Cursor { epoch: 7, seq: 5 }, at(5).1)),
                (0, Lineage::EMPTY),
            ),
            ([3; 32], Vec::new()),
            vec![item(1), item(2)],
        );
        assert!(matches!(
            out[0],
            ClientOutput::Send(ClientMessage::Hello { .. })
        ));
        assert_eq!(
            out[1],
            ClientOutput::Send(ClientMessage::Lineage {
                lineage: at(5).1,
                acked: (0, Lineage::EMPTY),
            })
        );
        assert_eq!(
            out[2],
            ClientOutput::Send(ClientMessage::Holding {
                accounts_digest: [3; 32],
                leaving: Vec::new(),
            })
        );
        assert!(
            matches!(&out[3], ClientOutput::Send(ClientMessage::Push { changes, .. }) if changes.len() == 2)
        );
        client.receive(1, welcome());
        let out = client.receive(2, no_changes(8, 9));
        assert_eq!(
            out,
            vec![ClientOutput::Send(ClientMessage::Pull {
                cursor: Cursor { epoch: 7, seq: 5 }
            })]
        );
        let out = client.receive(3, no_changes(5, 9));
        assert!(out.contains(&ClientOutput::Apply {
            docs: vec![],
            cursor: Cursor { epoch: 7, seq: 9 },
            lineage: at(9).1,
        }));
        // Pushed changes are still unacknowledged, so no verify yet.
        assert!(!out.iter().any(|o| matches!(o, ClientOutput::Verify { .. })));
        let out = client.receive(
            4,
            ServerMessage::Ack {
                batch: 1,
                refused: vec![],
                deferred: vec![],
                committed: at(11),
            },
        );
        assert!(out.contains(&ClientOutput::Acked(vec![[1; 32], [2; 32]])));
        assert!(
            out.contains(&ClientOutput::AckedAt(at(11))),
            "kept for the next handshake"
        );
        assert!(out.contains(&ClientOutput::Verify { seq: 9 }));
    }

    #[test]
    fn unanswered_pushes_are_sent_again_after_the_retry_time() {
        let mut client = ClientSession::new(ClientConfig {
            retry_after_ms: 100,
            ..Default::default()
        });
        client.connect(
            0,
            (None, (0, Lineage::EMPTY)),
            ([0; 32], Vec::new()),
            vec![item(1)],
        );
        assert!(
            client
                .tick(50)
                .iter()
                .all(|o| !matches!(o, ClientOutput::Send(ClientMessage::Push { .. })))
        );
        let again = client.tick(150);
        assert!(
            again
                .iter()
                .any(|o| matches!(o, ClientOutput::Send(ClientMessage::Push { batch: 2, .. })))
        );
        assert_eq!(client.unacknowledged(), 1);
    }

    #[test]
    fn a_push_holds_at_most_max_push_changes_and_a_larger_one_is_refused_whole() {
        use crate::wire::MAX_PUSH_CHANGES;
        let mut client = ClientSession::new(ClientConfig::default());
        let items: Vec<OutboxItem> = (0..MAX_PUSH_CHANGES + 10).map(|n| item(n as u8)).collect();
        let out = client.connect(0, (None, (0, Lineage::EMPTY)), ([0; 32], Vec::new()), items);
        let pushes: Vec<usize> = out
            .iter()
            .filter_map(|o| match o {
                ClientOutput::Send(ClientMessage::Push { changes, .. }) => Some(changes.len()),
                _ => None,
            })
            .collect();
        assert_eq!(pushes, vec![MAX_PUSH_CHANGES, 10]);

        let mut server = ServerSession::new(7, 0);
        said_hello(&mut server, None);
        let change = DocData {
            doc: DocId::new(),
            data: vec![1],
            attested: None,
        };
        let out = server.receive(ClientMessage::Push {
            batch: 3,
            changes: vec![change.clone(); MAX_PUSH_CHANGES + 1],
        });
        assert!(
            matches!(
                &out[..],
                [ServerOutput::Send(ServerMessage::Error { code: ErrorCode::Malformed, message })]
                    if message.contains("at most 4096")
            ),
            "{out:?}"
        );
        // The connection carries on.
        let out = server.receive(ClientMessage::Push {
            batch: 4,
            changes: vec![change],
        });
        assert!(matches!(&out[..], [ServerOutput::Store { batch: 4, .. }]));
    }
}

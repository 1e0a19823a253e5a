//! Wire messages: one enum per direction, encoded with postcard (compact, varint-based binary
//! through serde). Every frame starts with a one-byte format tag so that a future encoding can be
//! told apart from this one.
//!
//! The handshake is [`ClientMessage::Hello`], which names the protocol version; a server that
//! cannot speak it answers [`ServerMessage::Error`] with [`ErrorCode::UpgradeRequired`]. Hello is
//! the first variant and its layout never changes, so every build can tell any other to update;
//! what later versions add to the handshake comes in messages of its own (protocol 2:
//! [`ClientMessage::Holding`]; protocol 3: [`ClientMessage::Lineage`]). New variants are only
//! ever appended.

use serde::{Deserialize, Serialize};

use crate::{AccountId, ContentHash, DecodeError, DocId};

/// The protocol version this build speaks. Version 2 adds the device's holdings to the
/// handshake ([`ClientMessage::Holding`]), so that a scope that changed while the device was
/// offline is put right on the next connection. Version 3 adds the lineage of the device's
/// cursor ([`ClientMessage::Lineage`], and in every [`ServerMessage::Changes`]), so that a server
/// restored from an older copy, or replaced, sees at the handshake that it does not have the
/// history the cursor names. Version 4 has the server attest each document's heads in what it
/// sends ([`DocData::attested`]) and the device show them in a repair
/// ([`ClientMessage::AttestedDocs`]), so that a restored server takes back everything it sent
/// before it was restored.
pub const PROTOCOL_VERSION: u32 = 4;
/// The oldest protocol version this build still accepts. A protocol-3 app would not keep the
/// attestations of what the server sent it, so a restored server could not take back what
/// others wrote that only that app still holds: it is told to update.
pub const MIN_PROTOCOL_VERSION: u32 = 4;
/// Most documents in one [`ClientMessage::AttestedDocs`].
pub const MAX_ATTESTED_DOCS: usize = 5_000;
/// Most accounts in one [`ClientMessage::AccountsHeld`]: far more than any technician's scope.
/// A larger list is refused as malformed.
pub const MAX_ACCOUNTS_HELD: usize = 100_000;
/// Largest frame either side accepts.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;
/// Most changes in one `Push`. The server refuses a larger push whole (it checks each change
/// of a push before storing any, and what it holds meanwhile grows with their number); the
/// client never sends one.
pub const MAX_PUSH_CHANGES: usize = 4096;
/// First byte of every frame of this encoding.
const FORMAT_TAG: u8 = 0xF5;

/// A position in the server's change sequence. `epoch` names the server's database, so that a
/// cursor from another (or a restored) database is never trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cursor {
    /// The server database's random id.
    pub epoch: u64,
    /// Everything in the device's scope up to this sequence number has been received.
    pub seq: u64,
}

/// Names a server's change history up to a sequence number: a chain hash over every change the
/// server stored up to there, in order (see [`Lineage::then`]). Two databases with the same
/// lineage at a sequence number hold the same changes up to it, in the same order; a database
/// restored from an older copy, or another database, has another lineage at that number, or no
/// change there at all.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lineage(pub [u8; 16]);

impl Lineage {
    /// The lineage of an empty history (sequence number 0).
    pub const EMPTY: Lineage = Lineage([0; 16]);

    /// The lineage after the change `hash` is stored next.
    pub fn then(self, hash: &automerge::ChangeHash) -> Lineage {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.0);
        hasher.update(&hash.0);
        let mut next = [0; 16];
        next.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
        Lineage(next)
    }

    /// As lowercase hex.
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// From [`Lineage::to_hex`]; `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Lineage> {
        let mut bytes = [0; 16];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Lineage(bytes))
    }
}

impl std::fmt::Debug for Lineage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lineage({})", &self.to_hex()[..8])
    }
}

/// Automerge data for one document: a saved document, or one or more changes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocData {
    /// The document.
    pub doc: DocId,
    /// Automerge bytes, loadable with `load_incremental`.
    pub data: Vec<u8>,
    /// From the server: its attestation of the document's heads when it sent this (they reach
    /// at least what `data` brings). The device keeps the latest one of each document and shows
    /// it in a repair ([`ClientMessage::AttestedDocs`]). `None` in what devices push (and
    /// ignored there).
    pub attested: Option<HeadsAttestation>,
}

impl DocData {
    /// Data with no attestation.
    pub fn new(doc: DocId, data: Vec<u8>) -> DocData {
        DocData {
            doc,
            data,
            attested: None,
        }
    }
}

/// A server's attestation that it held a document with these heads, and so every change they
/// reach: a keyed hash only its database, or a copy of it, can make.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadsAttestation {
    /// The heads: sorted 32-byte change hashes, concatenated.
    pub heads: Vec<u8>,
    /// The keyed hash of the document id and the heads.
    pub tag: [u8; 16],
}

impl std::fmt::Debug for DocData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DocData({}, {} bytes)", self.doc, self.data.len())
    }
}

/// How the server will bring the device up to date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncMode {
    /// From the device's cursor, by the change sequence.
    CatchUp,
    /// The device had no cursor: everything in scope is sent.
    Initial,
    /// The cursor cannot be trusted: document by document with automerge's sync protocol.
    Fallback,
}

/// Why the server refuses to go on with a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The client speaks a protocol version the server no longer accepts.
    UpgradeRequired,
    /// The first message was not a Hello.
    HandshakeExpected,
    /// A frame could not be decoded.
    Malformed,
    /// The server is shutting down; reconnect later.
    ShuttingDown,
    /// The device was revoked while connected: pair it again.
    Revoked,
    /// Protocol 4: the server's disk is full; what the device pushed since its last
    /// acknowledgement was not stored. It keeps it and connects again later.
    StorageFull,
    /// Protocol 4: a batch the device pushed could not be stored (the message says why: a
    /// server fault, not a refusal of the changes); nothing of it was stored, the server goes
    /// on serving others. The device keeps the changes and pushes them again on its next
    /// connection.
    NotStored,
}

/// Why one pushed change was not stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Index of the change in the pushed batch.
    pub index: u32,
    /// Human-readable reason, shown in the outbox.
    pub reason: String,
}

/// Messages from a device to the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// First message of a connection: the protocol version and the device's cursor.
    Hello {
        /// Protocol version spoken.
        version: u32,
        /// Where the device stands in the server's change sequence; `None` on a new device.
        cursor: Option<Cursor>,
    },
    /// Local changes to store; each entry holds exactly one automerge change.
    Push {
        /// Batch number, echoed in the acknowledgement.
        batch: u64,
        /// The changes, in the order they were made.
        changes: Vec<DocData>,
    },
    /// The device saw a gap in the change sequence: send again everything after `cursor`.
    Pull {
        /// The device's cursor.
        cursor: Cursor,
    },
    /// Automerge sync protocol message for one document (the fallback path).
    AmSync {
        /// The document.
        doc: DocId,
        /// An encoded `automerge::sync::Message`.
        message: Vec<u8>,
    },
    /// After catching up with nothing left to send: a digest of every document's heads, so the
    /// server can tell whether the device really holds what the cursor claims.
    Verify {
        /// The cursor sequence the digest was taken at.
        seq: u64,
        /// [`crate::engine::heads_digest`] over the device's documents.
        digest: [u8; 32],
    },
    /// Asks how much of a blob the server has.
    BlobQuery {
        /// The blob.
        hash: ContentHash,
    },
    /// A chunk of a blob being uploaded.
    BlobPut {
        /// The blob.
        hash: ContentHash,
        /// Total size of the blob.
        total: u64,
        /// Offset of this chunk.
        offset: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Asks for a blob's bytes from an offset.
    BlobGet {
        /// The blob.
        hash: ContentHash,
        /// First byte wanted.
        offset: u64,
    },
    /// Keep-alive.
    Ping {
        /// Echoed in the pong.
        nonce: u64,
    },
    /// Protocol 2, sent right after `Hello`: which accounts the device holds documents of. When
    /// they are not its scope, the server asks for the list ([`ServerMessage::ListAccounts`])
    /// and then sends the documents of accounts that joined the scope whole and evicts those
    /// of accounts that left it.
    Holding {
        /// [`crate::engine::accounts_digest`] of the accounts held (not leaving).
        accounts_digest: [u8; 32],
        /// Accounts whose documents the device was told to drop and keeps until their unsent
        /// changes are acknowledged (usually none; at most [`MAX_ACCOUNTS_HELD`]).
        leaving: Vec<AccountId>,
    },
    /// Protocol 2: the answer to [`ServerMessage::ListAccounts`]: every account the device
    /// holds documents of, not leaving (at most [`MAX_ACCOUNTS_HELD`]).
    AccountsHeld {
        /// The accounts.
        accounts: Vec<AccountId>,
    },
    /// Protocol 3, right after `Hello` without waiting: the lineage of the cursor `Hello` named
    /// ([`Lineage::EMPTY`] without one). The server catches the device up by its cursor only
    /// when it has that history; otherwise both sides repair by a fallback round.
    Lineage {
        /// The lineage of the device's cursor.
        lineage: Lineage,
        /// The furthest acknowledgement the device had ([`ServerMessage::Ack::committed`]);
        /// `(0, EMPTY)` without one.
        acked: (u64, Lineage),
    },
    /// Protocol 3, at the start of a repair (a fallback round): the heads of every document
    /// the device held when the server last found them the same as its own, in document id
    /// order, with the server's attestation of their digest
    /// ([`ServerMessage::Verified::attestation`]). Changes the server once had are taken back
    /// as the server had them, whoever made them.
    Attested {
        /// The attestation.
        attestation: [u8; 16],
        /// Each document and its heads (sorted 32-byte change hashes, concatenated).
        heads: Vec<(DocId, Vec<u8>)>,
    },
    /// Protocol 4, at the start of a repair, after `Attested`: the latest attestation the
    /// device was given with each document it holds ([`DocData::attested`]), at most
    /// [`MAX_ATTESTED_DOCS`] a message. Changes those heads reach are taken back as the server
    /// had them, whoever made them.
    AttestedDocs {
        /// The documents and their attestations.
        docs: Vec<(DocId, HeadsAttestation)>,
    },
}

/// Messages from the server to a device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// Answer to Hello: the protocol version used and how the device will be brought up to date.
    Welcome {
        /// Protocol version used on this connection.
        version: u32,
        /// The server database's epoch, for the device's next cursor.
        epoch: u64,
        /// How catch-up proceeds.
        mode: SyncMode,
    },
    /// A fatal error; the server closes the connection after it.
    Error {
        /// What went wrong.
        code: ErrorCode,
        /// Human-readable explanation, fit to show to a technician.
        message: String,
    },
    /// A pushed batch is durably stored, except the refused changes (kept aside for review) and
    /// the deferred ones (their dependencies are missing: push them again later).
    Ack {
        /// The batch number from the push.
        batch: u64,
        /// Changes refused, with why.
        refused: Vec<Refusal>,
        /// Indexes of changes not stored yet.
        deferred: Vec<u32>,
        /// Protocol 3: the latest sequence number once the batch was committed, and its
        /// lineage. The device names the furthest it was told of in its next handshake
        /// ([`ClientMessage::Lineage`]), so a server restored from a copy older than the
        /// device's acknowledged pushes finds out even when the device's cursor is older still.
        committed: (u64, Lineage),
    },
    /// Documents' data between two points of the change sequence.
    Changes {
        /// The sequence number the data starts after.
        from: u64,
        /// After applying this, the device has everything in scope up to `to`.
        to: u64,
        /// The server's history up to `to`: the device keeps it with its cursor and names it
        /// in [`ClientMessage::Lineage`] on its next connection.
        lineage: Lineage,
        /// The data, per document.
        docs: Vec<DocData>,
        /// Whether `to` is the latest sequence number the server had when sending.
        complete: bool,
    },
    /// Automerge sync protocol message for one document (the fallback path).
    AmSync {
        /// The document.
        doc: DocId,
        /// An encoded `automerge::sync::Message`.
        message: Vec<u8>,
    },
    /// These documents left the device's scope: drop them.
    Evict {
        /// The documents.
        docs: Vec<DocId>,
    },
    /// How much of a blob the server has stored.
    BlobStatus {
        /// The blob.
        hash: ContentHash,
        /// Bytes stored so far (the next upload offset); equal to the size once complete.
        have: u64,
        /// Whether the blob is complete and verified.
        complete: bool,
    },
    /// A chunk of a blob being downloaded.
    BlobChunk {
        /// The blob.
        hash: ContentHash,
        /// Total size.
        total: u64,
        /// Offset of this chunk.
        offset: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// A blob request failed (unknown, out of scope, too large, hash mismatch).
    BlobError {
        /// The blob.
        hash: ContentHash,
        /// Why.
        message: String,
    },
    /// Answer to a ping.
    Pong {
        /// The ping's nonce.
        nonce: u64,
    },
    /// Protocol 2: the accounts the device holds are not its scope; the device answers with
    /// [`ClientMessage::AccountsHeld`].
    ListAccounts,
    /// Protocol 3: the answer to the device's `Verify` for `seq`, once no more repair follows:
    /// `same` when it holds exactly what the server holds of its scope; otherwise repair
    /// rounds did not make them the same (the server refused some of the device's changes,
    /// which stay on the device and in the server's quarantine) and none follows on this
    /// connection.
    Verified {
        /// The cursor sequence the digest was for.
        seq: u64,
        /// Whether the device's documents are the same as the server's.
        same: bool,
        /// When `same`: the server's attestation of the digest (a keyed hash only this
        /// database can make). The device keeps it with the heads the digest was made of and
        /// shows both in [`ClientMessage::Attested`] during a repair, so that a server restored
        /// from an older copy takes back every change it once had, whoever made it.
        attestation: [u8; 16],
    },
    /// Protocol 3: the server's latest position, and its lineage, when it sent documents that
    /// do not move the device's cursor (those of accounts that joined its scope). The device
    /// keeps the furthest position it was told of (this, or an acknowledgement's) and names it
    /// in its next handshake ([`ClientMessage::Lineage`]).
    Seen {
        /// The position.
        at: (u64, Lineage),
    },
}

fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut out = vec![FORMAT_TAG];
    // postcard only fails on writer errors or on types it cannot express; ours are plain data
    // written into a Vec, so this cannot fail.
    postcard::to_io(message, &mut out).expect("postcard encodes plain data into a Vec");
    out
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, DecodeError> {
    if bytes.len() > MAX_FRAME {
        return Err(DecodeError::TooLarge {
            size: bytes.len(),
            limit: MAX_FRAME,
        });
    }
    let (&tag, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if tag != FORMAT_TAG {
        return Err(DecodeError::Malformed(format!(
            "unknown format tag {tag:#04x}"
        )));
    }
    let (message, rest) =
        postcard::take_from_bytes(body).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::Malformed(format!(
            "{} trailing bytes",
            rest.len()
        )));
    }
    Ok(message)
}

impl ClientMessage {
    /// Encodes into one frame.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes one frame.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes)
    }
}

impl ServerMessage {
    /// Encodes into one frame.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes one frame.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn samples() -> Vec<ClientMessage> {
        vec![
            ClientMessage::Hello {
                version: 1,
                cursor: Some(Cursor { epoch: 7, seq: 42 }),
            },
            ClientMessage::Push {
                batch: 3,
                changes: vec![DocData::new(DocId::new(), vec![1, 2, 3])],
            },
            ClientMessage::Verify {
                seq: 9,
                digest: [7; 32],
            },
            ClientMessage::BlobPut {
                hash: ContentHash::of(b"x"),
                total: 10,
                offset: 0,
                bytes: vec![0; 10],
            },
            ClientMessage::AccountsHeld {
                accounts: vec![AccountId::new(), AccountId::new()],
            },
            ClientMessage::AttestedDocs {
                docs: vec![(
                    DocId::new(),
                    HeadsAttestation {
                        heads: vec![5; 64],
                        tag: [9; 16],
                    },
                )],
            },
        ]
    }

    #[test]
    fn messages_round_trip() {
        for message in samples() {
            assert_eq!(ClientMessage::decode(&message.encode()).unwrap(), message);
        }
        let reply = ServerMessage::Ack {
            batch: 3,
            refused: vec![Refusal {
                index: 0,
                reason: "no".into(),
            }],
            deferred: vec![1],
            committed: (42, Lineage([7; 16])),
        };
        assert_eq!(ServerMessage::decode(&reply.encode()).unwrap(), reply);
        let changes = ServerMessage::Changes {
            from: 1,
            to: 2,
            lineage: Lineage([2; 16]),
            docs: vec![DocData {
                doc: DocId::new(),
                data: vec![1, 2],
                attested: Some(HeadsAttestation {
                    heads: vec![4; 32],
                    tag: [1; 16],
                }),
            }],
            complete: true,
        };
        assert_eq!(ServerMessage::decode(&changes.encode()).unwrap(), changes);
        let lineage = ClientMessage::Lineage {
            lineage: Lineage::EMPTY.then(&automerge::ChangeHash([3; 32])),
            acked: (42, Lineage([7; 16])),
        };
        assert_eq!(ClientMessage::decode(&lineage.encode()).unwrap(), lineage);
        let hex = Lineage([0xAB; 16]).to_hex();
        assert_eq!(Lineage::from_hex(&hex), Some(Lineage([0xAB; 16])));
        assert_eq!(Lineage::from_hex("zz"), None);
    }

    #[test]
    fn a_version_1_hello_still_decodes_so_an_old_app_can_be_told_to_update() {
        // The frame a protocol-1 build sends: tag, variant 0, version 1, no cursor.
        let old = [FORMAT_TAG, 0, 1, 0];
        assert_eq!(
            ClientMessage::decode(&old).unwrap(),
            ClientMessage::Hello {
                version: 1,
                cursor: None
            }
        );
    }

    #[test]
    fn bad_frames_get_typed_errors() {
        assert_eq!(ClientMessage::decode(&[]), Err(DecodeError::Empty));
        assert!(matches!(
            ClientMessage::decode(&[0x00, 1]),
            Err(DecodeError::Malformed(_))
        ));
        let mut frame = samples()[0].encode();
        frame.push(0);
        assert!(matches!(
            ClientMessage::decode(&frame),
            Err(DecodeError::Malformed(_))
        ));
        let huge = vec![FORMAT_TAG; MAX_FRAME + 1];
        assert!(matches!(
            ServerMessage::decode(&huge),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = ClientMessage::decode(&bytes);
            let _ = ServerMessage::decode(&bytes);
        }

        #[test]
        fn truncated_and_flipped_frames_never_panic(pick in 0usize..4, cut in 0usize..200, flip in any::<(usize, u8)>()) {
            let frame = samples()[pick].encode();
            let cut = cut.min(frame.len());
            let _ = ClientMessage::decode(&frame[..cut]);
            let mut flipped = frame.clone();
            let at = flip.0 % flipped.len();
            flipped[at] ^= flip.1;
            let _ = ClientMessage::decode(&flipped);
            let _ = ServerMessage::decode(&flipped);
        }
    }
}

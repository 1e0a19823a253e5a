//! `GET /sync`: the WebSocket sync endpoint. The device authenticates with its token at the
//! upgrade (a missing, wrong or revoked token gets 401 with the reason); then frames go to the
//! connection's [`ServerSession`] and the engine's outputs are carried out: pushed batches
//! through group commit, live changes from the ring of recent commits, everything else by the
//! store's [`ConnectionHost`] (the code the simulation drives) on a reader connection when it
//! only reads and on the writer otherwise ([`ConnectionHost::access`]). A commit wakes the
//! connections it concerns ([`crate::fanout`]: those that see its accounts, and those whose
//! technician it reassigned), and each sends what is new in its scope; a technician's reads its
//! scope again ([`ConnectionHost::rescope_reading`], on a reader) only when the commits changed
//! their own assignments ([`crate::assignments`]).
//!
//! A connection keeps reading while its pushed batches are being committed (up to
//! [`PUSHES_IN_FLIGHT`] of them), so that the next batch is prechecked while the writer commits;
//! each is acknowledged, in order, once committed. A request that needs the database (blobs,
//! fallback sync, digests, catch-up from SQLite) waits for the device's earlier pushes to be
//! committed first; answers from memory (pongs, live changes) do not.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::engine::{ServerOutput, ServerSession};
use fieldsync_protocol::wire::{ClientMessage, ErrorCode, Lineage, MAX_FRAME, ServerMessage};
use fieldsync_protocol::{Role, UserId};
use fieldsync_store::host::{Access, ConnectionHost, DeviceContext};
use fieldsync_store::{Scope, Store};
use futures_util::StreamExt as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::db::DbError;
use crate::fanout::{Interest, Subscription};
use crate::group_commit::Receipt;
use crate::routes::websocket::{self, Socket, Upgrade};
use crate::{AppState, SYNC_WRITE_TIMEOUT, TooManyConnections};

/// Most pushed batches of one connection on their way through group commit; beyond, the
/// connection stops reading until the oldest is committed (the device's socket fills up).
const PUSHES_IN_FLIGHT: usize = 4;

/// The upgrade: authenticate, then hand the socket to the connection loop.
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Upgrade,
) -> Response {
    let device = match crate::auth::authenticate_headers(state.db(), &headers).await {
        Ok(device) => device,
        Err(refused) => return refused.into_response(),
    };
    // Counted from the upgrade: a shutdown waits for the connection to say goodbye.
    let open = match state.sync_connection(device.number) {
        Ok(open) => open,
        Err(busy) => {
            tracing::warn!(device = device.number, why = %busy, "sync connection refused");
            let (status, retry) = match busy {
                TooManyConnections::Device => (StatusCode::TOO_MANY_REQUESTS, "10"),
                TooManyConnections::Server => (StatusCode::SERVICE_UNAVAILABLE, "30"),
            };
            let body = axum::Json(serde_json::json!({
                "error": format!("{busy}: try again in {retry} s")
            }));
            return (status, [(header::RETRY_AFTER, retry)], body).into_response();
        }
    };
    let number = u32::try_from(device.number).unwrap_or(u32::MAX);
    // What the tablet keeps of the company; on a failed read none of it is said (a tablet
    // keeps what it had rather than forget it).
    let company = state
        .db()
        .read(move |store| {
            Ok(Company {
                company: store.company()?,
                invoice_seq: store.highest_invoice_seq(number)?,
                custom_fields: store.custom_fields()?,
            })
        })
        .await
        .ok();
    let identity = identity_headers(&device, company.as_ref());
    // Small socket buffers: an idle connection must stay cheap (larger frames are still read
    // whole; larger messages are written in fragments, see `websocket`).
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME))
        .read_buffer_size(2 * 1024)
        .write_buffer_size(0);
    let mut response = upgrade.on_upgrade(config, move |socket| async move {
        let _open = open;
        let number = device.number;
        tracing::info!(device = number, user = %device.user.name, "device connected");
        let metrics = state.metrics_handle();
        metrics.connected();
        match run(state, device, socket).await {
            Ok(()) => tracing::info!(device = number, "device disconnected"),
            Err(e) => tracing::warn!(device = number, error = %e, "device connection ended"),
        }
        metrics.disconnected();
    });
    response.headers_mut().extend(identity);
    response
}

/// What the server tells a tablet of its company when it connects.
struct Company {
    company: fieldsync_protocol::Company,
    invoice_seq: u32,
    custom_fields: Vec<fieldsync_protocol::custom_fields::FieldDef>,
}

/// Who the token belongs to, on the upgrade's response, so that a tablet being paired learns
/// its technician from the token alone: `fieldsync-user` (id), `fieldsync-user-name`
/// (percent-encoded UTF-8), `fieldsync-role` and `fieldsync-device` (the device's number);
/// and, when the database could say them, the company the tablet prints on invoices,
/// `fieldsync-company` (percent-encoded JSON), the company's custom field definitions,
/// `fieldsync-custom-fields` (percent-encoded JSON, bounded by
/// `custom_fields::MAX_DEFINITION_BYTES`), and the highest counter of the device's invoice
/// numbers the server has, `fieldsync-invoice-seq` (a tablet that lost count goes on from
/// there).
fn identity_headers(device: &fieldsync_store::Device, company: Option<&Company>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut values = vec![
        ("fieldsync-user", device.user.id.to_string()),
        (
            "fieldsync-user-name",
            super::percent_encode(&device.user.name),
        ),
        ("fieldsync-role", device.user.role.to_string()),
        ("fieldsync-device", device.number.to_string()),
    ];
    if let Some(c) = company {
        let company = serde_json::to_string(&c.company).unwrap_or_default();
        let fields = serde_json::to_string(&c.custom_fields).unwrap_or_default();
        values.extend([
            ("fieldsync-company", super::percent_encode(&company)),
            ("fieldsync-custom-fields", super::percent_encode(&fields)),
            ("fieldsync-invoice-seq", c.invoice_seq.to_string()),
        ]);
    }
    for (name, value) in values {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    headers
}

type Shared = Arc<Mutex<(ServerSession, ConnectionHost)>>;

/// The connection's session and host. A panic while they were locked leaves nothing half
/// written to the database (transactions roll back), so a poisoned lock is taken over.
fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, (ServerSession, ConnectionHost)> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Connection {
    state: AppState,
    shared: Shared,
    socket: Socket,
    role: Role,
    user: UserId,
    /// The generation of assignment changes the device's scope was read at.
    scope_read_at: u64,
    /// Wakes the connection when a commit concerns it.
    woken: Subscription,
    /// Pushed batches being committed, oldest first, with the device's batch numbers.
    pushes: VecDeque<(u64, Receipt)>,
}

async fn run(
    state: AppState,
    device: fieldsync_store::Device,
    socket: Socket,
) -> Result<(), DbError> {
    let (user, role, number) = (device.user.id, device.user.role, device.number);
    // Subscribed to everything before the scope is read: an assignment committed meanwhile
    // wakes the connection, which reads the scope again.
    let woken = state.fanout().subscribe(user, Interest::Everything);
    let mut latest = state.latest();
    let seq = *latest.borrow_and_update();
    let scope_read_at = state.db().assignments().generation();
    let context = state
        .db()
        .read(move |store| Ok(DeviceContext::of_device(store, number, user, role)?))
        .await?;
    woken.set_interest(Interest::from(&context.scope));
    let host = ConnectionHost::new(context);
    let session = host.session(state.epoch(), seq);
    let mut stopping = state.stopping();
    let every = state.revocation_check();
    let mut revocation = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let number = device.number;
    let mut connection = Connection {
        state,
        shared: Arc::new(Mutex::new((session, host))),
        socket,
        role,
        user,
        scope_read_at,
        woken,
        pushes: VecDeque::new(),
    };
    let served = serve(
        &mut connection,
        &mut latest,
        &mut stopping,
        &mut revocation,
        number,
    )
    .await;
    if let Err(DbError::StorageFull(why)) = &served {
        // Nothing the device pushed since its last acknowledgement was stored: it keeps it all
        // and pushes it again on its next connection, once there is room.
        tracing::warn!(device = number, error = %why, "push refused: the disk is full");
        connection
            .close_with(
                ErrorCode::StorageFull,
                "the server's disk is full: nothing you sent since the last sync was saved there. It all stays on this tablet and is sent once the server has room again",
            )
            .await;
        return Ok(());
    }
    if let Err(DbError::BatchFailed(why)) = &served {
        connection
            .close_with(
                ErrorCode::NotStored,
                &format!(
                    "the server could not store what this tablet last sent ({why}). It stays on this tablet and is sent again on the next sync"
                ),
            )
            .await;
        return Ok(());
    }
    served
}

/// The connection's life once set up; an error ends it.
async fn serve(
    connection: &mut Connection,
    latest: &mut tokio::sync::watch::Receiver<u64>,
    stopping: &mut tokio::sync::watch::Receiver<bool>,
    revocation: &mut tokio::time::Interval,
    number: i64,
) -> Result<(), DbError> {
    loop {
        tokio::select! {
            // In this order: a commit's acknowledgements go out before what it wakes; a device
            // sending frames without pause cannot hold off shutdown or revocation; and a busy
            // server's stream of commits cannot hold off the device's frames (reading stops by
            // itself while its pushes are being committed).
            biased;
            outcomes = async { (&mut connection.pushes.front_mut().expect("guarded").1).await },
                if !connection.pushes.is_empty() =>
            {
                let (batch, _) = connection.pushes.pop_front().expect("guarded");
                let (outcomes, committed) = outcomes?;
                let outputs = connection.session(|s| s.stored(batch, outcomes, committed));
                if connection.drive(outputs).await? {
                    return Ok(());
                }
            }
            _ = stopping.changed() => {
                // Batches already pushed are acknowledged once committed, before the close (as
                // long as the process lives: what was not acknowledged is pushed again).
                let acks = connection.pushes_committed().await?;
                if connection.drive(acks).await? {
                    return Ok(());
                }
                connection.close_with(ErrorCode::ShuttingDown, "the server is restarting; your changes are safe, sync will resume").await;
                return Ok(());
            }
            _ = revocation.tick() => {
                let revoked = connection
                    .state
                    .db()
                    .read(move |store| Ok(store.device_by_number(number)?.is_none_or(|d| d.revoked)))
                    .await?;
                if revoked {
                    tracing::info!(device = number, "device revoked while connected: closing");
                    connection.close_with(ErrorCode::Revoked, "this device was revoked: pair the tablet again").await;
                    return Ok(());
                }
            }
            frame = connection.socket.next(), if connection.pushes.len() < PUSHES_IN_FLIGHT => {
                let bytes = match frame {
                    Some(Err(tungstenite::Error::Capacity(too_big))) => {
                        // The rest of the frame is still on the wire: the connection cannot
                        // carry on, but the device is told why.
                        let why = format!("{too_big}: a message may be at most {} MiB", MAX_FRAME >> 20);
                        connection.close_with(ErrorCode::Malformed, &why).await;
                        return Ok(());
                    }
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                    Some(Ok(Message::Binary(bytes))) => bytes,
                    Some(Ok(Message::Text(_))) => {
                        let outputs = connection.session(|s| s.malformed("text frames are not part of the sync protocol".into()));
                        if connection.drive(outputs).await? { return Ok(()) }
                        continue;
                    }
                    Some(Ok(_)) => continue, // pings are answered by the WebSocket layer
                };
                let outputs = match ClientMessage::decode(&bytes) {
                    Ok(message) => connection.session(|s| s.receive(message)),
                    Err(e) => connection.session(|s| s.malformed(e.to_string())),
                };
                if connection.drive(outputs).await? {
                    return Ok(());
                }
            }
            () = connection.woken.woken() => {
                let seq = *latest.borrow_and_update();
                if connection.role == Role::Technician
                    && connection.state.db().assignments().changed_since(connection.user, connection.scope_read_at)
                {
                    let outputs = connection.rescope().await?;
                    if connection.drive(outputs).await? { return Ok(()) }
                }
                let outputs = connection.session(|s| s.notify(seq));
                if connection.drive(outputs).await? {
                    return Ok(());
                }
            }
        }
    }
}

impl Connection {
    fn session<T>(&self, f: impl FnOnce(&mut ServerSession) -> T) -> T {
        f(&mut lock(&self.shared).0)
    }

    /// Waits until every batch pushed so far is committed; the acknowledgements to send.
    async fn pushes_committed(&mut self) -> Result<Vec<ServerOutput>, DbError> {
        let mut out = Vec::new();
        while let Some((batch, receipt)) = self.pushes.pop_front() {
            let (outcomes, committed) = receipt.await?;
            out.extend(self.session(|s| s.stored(batch, outcomes, committed)));
        }
        Ok(out)
    }

    /// Tells the device why the connection ends, then closes it.
    async fn close_with(&mut self, code: ErrorCode, message: &str) {
        let bye = ServerMessage::Error {
            code,
            message: message.into(),
        };
        let _ = websocket::send_binary(&mut self.socket, bye.encode(), SYNC_WRITE_TIMEOUT).await;
        let _ = websocket::send_close(&mut self.socket, SYNC_WRITE_TIMEOUT).await;
    }

    /// Carries out the engine's outputs in order; returns whether the connection must close.
    /// Boxed: the future of a connection at work is large, and an idle connection's task must
    /// stay small.
    fn drive(
        &mut self,
        outputs: Vec<ServerOutput>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<bool, DbError>> + Send + '_>> {
        Box::pin(self.drive_now(outputs))
    }

    async fn drive_now(&mut self, outputs: Vec<ServerOutput>) -> Result<bool, DbError> {
        let mut queue: VecDeque<ServerOutput> = outputs.into();
        while let Some(output) = queue.pop_front() {
            match output {
                ServerOutput::Send(message) => {
                    if websocket::send_binary(
                        &mut self.socket,
                        message.encode(),
                        SYNC_WRITE_TIMEOUT,
                    )
                    .await
                    .is_err()
                    {
                        return Ok(true);
                    }
                }
                ServerOutput::Close => {
                    let _ = websocket::send_close(&mut self.socket, SYNC_WRITE_TIMEOUT).await;
                    return Ok(true);
                }
                ServerOutput::Load {
                    after,
                    initial: false,
                } if let Some((frame, to)) = self.shared_frame(after) => {
                    // One encoded message for every connection at this position.
                    if websocket::send_binary(&mut self.socket, frame, SYNC_WRITE_TIMEOUT)
                        .await
                        .is_err()
                    {
                        return Ok(true);
                    }
                    queue.extend(self.session(|s| s.sent_shared(to)));
                }
                ServerOutput::Load {
                    after,
                    initial: false,
                } if let Some((docs, to)) = {
                    let guard = lock(&self.shared);
                    let device = &guard.1.device;
                    self.state
                        .recent()
                        .since(after, &device.scope, device.origin)
                } =>
                {
                    // Served from the latest commits in memory, without the database.
                    queue.extend(self.session(|s| s.loaded(docs, to, false)));
                }
                ServerOutput::Store { batch, changes } => {
                    let device = {
                        let guard = lock(&self.shared);
                        let mut device = guard.1.device.clone();
                        // During a repair, what the device may write is judged after it.
                        device.repairing = guard.0.is_repairing();
                        device
                    };
                    let receipt = self.state.commits().submit(device, changes).await?;
                    self.pushes.push_back((batch, receipt));
                }
                other if !self.pushes.is_empty() => {
                    // The device may rely on what it pushed before (a photo's blob after its
                    // document): those batches are committed and acknowledged first.
                    queue.push_front(other);
                    for ack in self.pushes_committed().await?.into_iter().rev() {
                        queue.push_front(ack);
                    }
                }
                other => {
                    let shared = Arc::clone(&self.shared);
                    // What only reads runs on a reader connection, the rest on the writer;
                    // the host stops where the other kind is needed.
                    let access = lock(&self.shared).1.access(&other);
                    let db = self.state.db();
                    let work = move |store: &mut Store| {
                        let mut guard = lock(&shared);
                        let (session, host) = &mut *guard;
                        let run = host.run_as(store, session, vec![other], Some(access))?;
                        let latest = if run.committed {
                            Some(store.latest_seq()?)
                        } else {
                            None
                        };
                        Ok((run, latest))
                    };
                    let run = match access {
                        Access::Read => db.read(work).await?,
                        Access::Write => db.run(work).await?,
                    };
                    let (run, latest) = run;
                    if let Some(seq) = latest {
                        self.state.publish(seq);
                    }
                    let sends = run.send.into_iter().map(ServerOutput::Send);
                    let close = run.close.then_some(ServerOutput::Close);
                    // What the host produced goes out before anything queued after it, then what
                    // it left for the other kind of access.
                    for output in run.rest.into_iter().rev() {
                        queue.push_front(output);
                    }
                    for output in sends.chain(close).rev() {
                        queue.push_front(output);
                    }
                }
            }
        }
        Ok(false)
    }

    /// The frame shared by every connection that sees everything and waits for the changes
    /// after `after` from the same told position, with the sequence number it reaches; `None`
    /// for a technician, or when the shared frame would not do for this device.
    fn shared_frame(&self, after: u64) -> Option<(axum::body::Bytes, (u64, Lineage))> {
        let guard = lock(&self.shared);
        let (session, host) = &*guard;
        let load = session.live_load()?;
        if host.device.scope != Scope::All || load.after != after {
            return None;
        }
        let (frame, to) = self
            .state
            .recent()
            .shared_frame(load.from, after, host.device.origin)?;
        (to.0 >= load.latest).then_some((frame, to))
    }

    /// A technician's scope follows their assignments: documents of accounts that joined are
    /// sent whole, those of accounts that left are evicted. The scope is read on a reader; the
    /// writer only records accounts the device is given for the first time.
    async fn rescope(&mut self) -> Result<Vec<ServerOutput>, DbError> {
        let read_at = self.state.db().assignments().generation();
        let shared = Arc::clone(&self.shared);
        let (outputs, given) = self
            .state
            .db()
            .read(move |store| {
                let mut guard = lock(&shared);
                let (session, host) = &mut *guard;
                Ok(host.rescope_reading(store, session)?)
            })
            .await?;
        if let Some(given) = given {
            self.state
                .db()
                .run(move |store| Ok(given.save(store)?))
                .await?;
        }
        self.scope_read_at = read_at;
        let interest = Interest::from(&lock(&self.shared).1.device.scope);
        self.woken.set_interest(interest);
        Ok(outputs)
    }
}

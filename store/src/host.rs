//! What every host does with the sync engine's outputs, written once against the store: the
//! tablet app drives a [`fieldsync_protocol::engine::ClientSession`] with [`DeviceHost`], the
//! server drives one [`fieldsync_protocol::engine::ServerSession`] per connection with
//! [`ConnectionHost`]. Both are synchronous; the server calls them from its database threads
//! (readers for what only reads, the writer for the rest: [`ConnectionHost::access`]). Who may
//! read and write what is decided in one place, [`policy`].

mod connection;
mod device;
pub mod policy;

pub use connection::{Access, ConnectionHost, Given, ServerRun, store_checked};
pub use device::{DeviceEvent, DeviceHost};
pub use policy::{DeviceContext, scope_of};

/// Most bytes of document data in one `Changes` message. Each connection's socket keeps a
/// buffer as large as the largest message it sent, so this bounds an idle connection's memory
/// (64 KiB: 78 KiB per idle connection, 1 MiB: 300 KiB) against the speed of a first download
/// (16 KiB pages: 10,000 records in 2.5 s, 64 KiB: 1.4 s); see `fieldsync-bench`.
pub const PAGE_BYTES: usize = 64 * 1024;

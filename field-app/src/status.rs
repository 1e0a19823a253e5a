//! The sync bar: what the technician sees of sync at a glance, and the outbox's refused changes.

use fieldsync_protocol::{ContentHash, DocId, DocKind, Timestamp};

/// A time as the device's clock shows it, with the zone's offset: `2026-09-21 09:13 -05:00`.
fn local(at: Timestamp) -> String {
    at.0.with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M %:z")
        .to_string()
}

/// A change the server refused: it stays on the tablet, in the outbox, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedChange {
    /// The document changed.
    pub doc: DocId,
    /// Its kind.
    pub kind: DocKind,
    /// The server's reason, fit to show as is.
    pub reason: String,
    /// When the change was made.
    pub made_at: Option<Timestamp>,
}

/// Where sync stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStatus {
    /// Connected to the server and welcomed.
    pub online: bool,
    /// Changes saved on the tablet and not yet acknowledged by the server.
    pub pending: usize,
    /// Changes the server refused, oldest first.
    pub refused: Vec<RefusedChange>,
    /// Photo images (thumbnails and full images) not yet confirmed by the server.
    pub uploads_pending: usize,
    /// When the tablet last caught up with the server.
    pub last_sync: Option<Timestamp>,
    /// While a first sync downloads: how many documents have arrived so far (the server does
    /// not announce a total).
    pub first_sync_documents: Option<usize>,
    /// Photo transfers that failed on this connection, with why (retried on the next one).
    pub transfer_errors: Vec<(ContentHash, String)>,
    /// Why the last connection attempt or connection failed, until the next one succeeds.
    pub last_error: Option<String>,
    /// The server refused this tablet's device token (revoked, or a server that does not know
    /// it): nothing syncs until the tablet is paired again with a new one.
    pub needs_pairing: bool,
}

impl SyncStatus {
    /// One line for a sync bar or a terminal: "Online · 3 changes waiting · last sync ...".
    pub fn summary(&self) -> String {
        let mut parts = vec![if self.online { "Online" } else { "Offline" }.to_string()];
        if let Some(documents) = self.first_sync_documents {
            parts.push(format!("first sync: {documents} records downloaded"));
        }
        parts.push(match self.pending {
            0 => "all changes sent".to_string(),
            1 => "1 change waiting".to_string(),
            n => format!("{n} changes waiting"),
        });
        if !self.refused.is_empty() {
            parts.push(format!("{} refused", self.refused.len()));
        }
        if self.uploads_pending > 0 {
            parts.push(format!("{} photo images to upload", self.uploads_pending));
        }
        parts.push(match self.last_sync {
            Some(at) => format!("last sync {}", local(at)),
            None => "never synced".to_string(),
        });
        if let Some(error) = &self.last_error {
            parts.push(error.clone());
        }
        parts.join(" · ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_what_waits() {
        let status = SyncStatus {
            pending: 3,
            uploads_pending: 2,
            last_error: Some("cannot reach the server".into()),
            ..Default::default()
        };
        assert_eq!(
            status.summary(),
            "Offline · 3 changes waiting · 2 photo images to upload · never synced · cannot reach the server"
        );
        let synced = SyncStatus {
            online: true,
            last_sync: Timestamp::from_millis(1_790_000_000_000),
            ..Default::default()
        };
        // In the device's zone, with its offset (whatever zone the machine is in).
        let shown = chrono::DateTime::from_timestamp_millis(1_790_000_000_000)
            .unwrap()
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M %:z")
            .to_string();
        assert_eq!(
            synced.summary(),
            format!("Online · all changes sent · last sync {shown}")
        );
    }
}

//! What the server clears away by itself, once at start and then every hour: blobs that no
//! record came to name within a week of their upload (a device's upload whose record never
//! arrived or was refused), and refused changes kept past their retention. Each round works in
//! bounded steps on the writer, so that commits are never held up for long.
//!
//! And, every [`COMPACT_EVERY`], the documents whose uncompacted changes passed their bound are
//! compacted: re-saved on a reader (what costs what the document weighs), then put in place on
//! the writer if no change came meanwhile (a copy of bytes).

use std::time::Duration;

use crate::AppState;

/// How often the rounds run.
pub const EVERY: Duration = Duration::from_secs(3600);
/// Most blobs deleted in one step on the writer.
const BLOBS_PER_STEP: usize = 200;

/// How often documents due for compaction are looked for.
pub const COMPACT_EVERY: Duration = Duration::from_secs(1);
/// Most documents compacted in one pass.
const COMPACT_PER_PASS: usize = 32;

/// Compacts the documents due for it every [`COMPACT_EVERY`], until the server stops.
pub(crate) async fn compact(state: AppState) {
    let mut stopping = state.stopping();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(COMPACT_EVERY) => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
        if let Err(e) = compact_due(&state).await {
            tracing::warn!(error = %e, "documents not compacted");
        }
    }
}

/// One pass: each document due is re-saved on a reader and put in place on the writer unless
/// it changed meanwhile (then it is due again, and tried at the next pass). Returns how many
/// were compacted.
pub async fn compact_due(state: &AppState) -> Result<usize, crate::db::DbError> {
    let due = state
        .db()
        .read(|store| Ok(store.due_for_compaction(COMPACT_PER_PASS)?))
        .await?;
    let mut compacted = 0;
    for doc in due {
        let Some(compaction) = state
            .db()
            .read(move |store| Ok(store.compaction(doc)?))
            .await?
        else {
            continue;
        };
        let bytes = compaction.snapshot.len();
        let installed = state
            .db()
            .run(move |store| Ok(store.write(|tx| tx.install_compaction(doc, &compaction))?))
            .await?;
        if installed {
            compacted += 1;
            tracing::debug!(%doc, bytes, "document compacted");
        }
    }
    Ok(compacted)
}

/// Runs a round now and then every [`EVERY`], until the server stops.
pub(crate) async fn run(state: AppState) {
    let mut stopping = state.stopping();
    loop {
        round(&state).await;
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
    }
}

/// One round: what is due is removed, and said in the log.
pub async fn round(state: &AppState) {
    let now = chrono::Utc::now().timestamp_millis();
    let (mut blobs, mut bytes) = (0, 0);
    loop {
        let step = state
            .db()
            .run(move |store| Ok(store.write(|tx| tx.collect_unnamed_blobs(now, BLOBS_PER_STEP))?))
            .await;
        match step {
            Ok((count, size)) => {
                blobs += count;
                bytes += size;
                if count < BLOBS_PER_STEP {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "unnamed blobs not collected");
                break;
            }
        }
    }
    if blobs > 0 {
        tracing::info!(blobs, bytes, "collected blobs no record names");
    }
    let expired = state
        .db()
        .run(move |store| Ok(store.write(|tx| tx.expire_quarantine(now))?))
        .await;
    match expired {
        Ok(0) => {}
        Ok(rows) => tracing::info!(rows, "refused changes past their retention deleted"),
        Err(e) => tracing::warn!(error = %e, "quarantine not expired"),
    }
}

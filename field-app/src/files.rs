//! Files kept on customers and sites (site plans, manuals, contracts), on the tablet: which
//! to keep for offline use within a storage budget (those of current jobs' customers first,
//! then the newest), and opening one from its local copy, with no network.

use std::collections::BTreeSet;

use fieldsync_protocol::{AccountId, FileEntry, JobStatus, Timestamp};
use fieldsync_store::Store;

use crate::AppError;

/// Bytes of files a tablet keeps for offline use.
pub const FILE_BUDGET: u64 = 512 << 20;

/// Files asked for after one catch-up (more come after the next).
pub const FILES_PER_SYNC: usize = 8;

/// A file as the tablet lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRow {
    /// The file.
    pub file: FileEntry,
    /// The site it is kept on (`None`: the customer's).
    pub site_name: Option<String>,
    /// Whether its bytes are on the tablet (it opens offline).
    pub available: bool,
}

/// The customers of the technician's current jobs: scheduled from yesterday to the day after
/// tomorrow, and not finished.
fn current_accounts(store: &Store, now: Timestamp) -> Result<BTreeSet<AccountId>, AppError> {
    let day = chrono::Duration::days(1);
    let jobs = store.jobs_scheduled_between(Timestamp(now.0 - day), Timestamp(now.0 + day * 2))?;
    Ok(jobs
        .into_iter()
        .filter(|j| {
            !matches!(
                j.status,
                JobStatus::Completed | JobStatus::Invoiced | JobStatus::Cancelled
            )
        })
        .map(|j| j.account)
        .collect())
}

/// The files to keep on the tablet, in order: current jobs' customers' first, then the others,
/// each newest first, as many as fit in `budget` bytes (a file that does not fit is skipped
/// for smaller ones after it).
pub fn wanted(store: &Store, now: Timestamp, budget: u64) -> Result<Vec<FileEntry>, AppError> {
    let current = current_accounts(store, now)?;
    let mut all = store.all_files()?;
    // Stable: newest first within each group, as read.
    all.sort_by_key(|(account, _)| !current.contains(account));
    let (mut kept, mut hashes, mut used) = (Vec::new(), BTreeSet::new(), 0u64);
    for (_, file) in all {
        if hashes.contains(&file.hash) {
            continue;
        }
        if used + file.size > budget {
            continue;
        }
        used += file.size;
        hashes.insert(file.hash);
        kept.push(file);
    }
    Ok(kept)
}

/// The files of customer `account` and of its current sites, newest first.
pub fn file_rows(store: &Store, account: AccountId) -> Result<Vec<FileRow>, AppError> {
    let mut rows = Vec::new();
    for file in store.files(account.into())? {
        let available = store.has_blob(&file.hash)?;
        rows.push(FileRow {
            file,
            site_name: None,
            available,
        });
    }
    for site in store.sites_for_account(account)? {
        if site.archived_at.is_some() {
            continue;
        }
        for file in store.files(site.id.into())? {
            let available = store.has_blob(&file.hash)?;
            rows.push(FileRow {
                file,
                site_name: Some(site.name.clone()),
                available,
            });
        }
    }
    rows.sort_by_key(|row| std::cmp::Reverse(row.file.added_at));
    Ok(rows)
}

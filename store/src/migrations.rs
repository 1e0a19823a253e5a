//! The schema: append-only numbered SQL files in the workspace's `migrations/`, embedded at
//! build time and applied in a transaction by `rusqlite_migration`.

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

/// Every migration, in order. Append new files; never edit one that has landed.
fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("../../migrations/0001_replica.sql")),
        M::up(include_str!("../../migrations/0002_blobs.sql")),
        M::up(include_str!("../../migrations/0003_people.sql")),
        M::up(include_str!("../../migrations/0004_tablet.sql")),
        M::up(include_str!("../../migrations/0005_evict_later.sql")),
        M::up(include_str!("../../migrations/0006_assignments_ended.sql")),
        M::up(include_str!("../../migrations/0007_device_accounts.sql")),
        M::up_with_hook(
            include_str!("../../migrations/0008_change_log.sql"),
            crate::change_log::fill_from_history,
        ),
        M::up(include_str!("../../migrations/0009_page_indexes.sql")),
        M::up(include_str!("../../migrations/0010_fleet_indexes.sql")),
        M::up_with_hook(
            include_str!("../../migrations/0011_lineage.sql"),
            crate::lineage::fill,
        ),
        M::up(include_str!("../../migrations/0012_attested.sql")),
        M::up(include_str!("../../migrations/0013_attested_docs.sql")),
        M::up(include_str!("../../migrations/0014_office_sessions.sql")),
        M::up(include_str!(
            "../../migrations/0015_pairing_fingerprint.sql"
        )),
        M::up(include_str!("../../migrations/0016_invoice_numbers.sql")),
        M::up(include_str!("../../migrations/0017_alerts.sql")),
        M::up_with_hook(
            include_str!("../../migrations/0018_search_phones_and_sites.sql"),
            crate::search::fill,
        ),
        M::up(include_str!("../../migrations/0019_contact_log.sql")),
        M::up(include_str!("../../migrations/0020_files.sql")),
        M::up(include_str!("../../migrations/0021_device_storage.sql")),
        M::up(include_str!("../../migrations/0022_actors.sql")),
        M::up(include_str!("../../migrations/0023_compaction_due.sql")),
    ])
}

/// Brings the database's schema up to date.
pub(crate) fn run(conn: &mut Connection) -> crate::Result<()> {
    migrations().to_latest(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}

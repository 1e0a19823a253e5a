//! The files card of the job and customer pages: rows, and opening a file from the tablet's
//! copy with the device's viewer.

use std::rc::Rc;

use fieldsync_app::files::FileRow as Row;
use fieldsync_protocol::{AccountId, NoteId};
use slint::ModelRc;

use crate::FileRow;
use crate::controller::{Inner, model};

/// A size as people read it.
fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} bytes"),
        b if b < 1024 * 1024 => format!("{} KiB", b.div_ceil(1024)),
        b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// The rows of a page's files card.
pub(crate) fn rows(files: &[Row]) -> ModelRc<FileRow> {
    model(
        files
            .iter()
            .map(|row| {
                let mut detail = size(row.file.size);
                if let Some(site) = &row.site_name {
                    detail.push_str(&format!(" · at {site}"));
                }
                detail.push_str(if row.available {
                    " · on this tablet"
                } else {
                    " · not downloaded yet: comes with the next sync"
                });
                FileRow {
                    id: row.file.id.to_string().into(),
                    name: row.file.name.clone().into(),
                    detail: detail.into(),
                    available: row.available,
                }
            })
            .collect(),
    )
}

/// Opens file `id` of `account` from the tablet's copy.
pub(crate) fn open(inner: &Rc<Inner>, account: Option<AccountId>, id: &str) {
    let (Some(account), Ok(id)) = (account, id.parse::<NoteId>()) else {
        return;
    };
    let written = inner.tablet().open_file(account, id);
    match written {
        Ok(path) => (inner.options.open_link)(&format!("file://{}", path.display())),
        Err(error) => inner.notice(error),
    }
}

//! Jobs edited by office and field, the job lifecycle, system notes and alerts.

use automerge::{AutoCommit, Change};

use super::{account, at, invoice, job, writer};
use crate::incremental::check_change;
use crate::validate::Pusher;
use crate::*;

fn job_of(doc: &AutoCommit) -> JobDoc {
    match Record::read(doc).unwrap() {
        Record::Job(j) => j,
        other => panic!("not a job: {other:?}"),
    }
}

fn edit_job(
    who: &Writer,
    doc: &mut AutoCommit,
    minute: i64,
    edit: impl FnOnce(&mut JobDoc),
) -> Result<Option<Change>, DocumentError> {
    who.edit(doc, at(minute), |r| {
        if let Record::Job(j) = r {
            edit(j);
        }
        Ok(())
    })
}

fn system_texts(doc: &AutoCommit) -> Vec<String> {
    let mut notes: Vec<Note> = job_of(doc)
        .notes
        .into_values()
        .filter(|n| n.kind == NoteKind::System)
        .collect();
    notes.sort_by_key(|n| (n.created_at, n.text.clone()));
    notes.into_iter().map(|n| n.text).collect()
}

#[test]
fn a_job_moves_only_along_its_lifecycle_and_a_refusal_says_where_it_may_go() {
    use JobStatus::*;
    assert!(Lead.check_move(Scheduled).is_ok());
    assert!(OnSite.check_move(Completed).is_ok());
    assert!(Completed.check_move(OnSite).is_ok(), "work reopened");
    assert!(Invoiced.check_move(Completed).is_ok(), "invoice voided");
    assert!(Cancelled.check_move(Scheduled).is_ok(), "picked up again");
    assert!(OnSite.check_move(OnSite).is_ok(), "no move is no move");
    let err = Invoiced.check_move(Cancelled).unwrap_err().to_string();
    assert_eq!(
        err,
        "a job that is invoiced cannot become cancelled; it can become Completed"
    );
    let err = Lead.check_move(Completed).unwrap_err().to_string();
    assert!(
        err.contains("it can become Scheduled, On hold, Cancelled"),
        "{err}"
    );
    // Every status can be left, and every status but a new lead's can be reached.
    for status in JobStatus::ALL {
        assert!(!status.next().is_empty(), "{status} is a dead end");
        assert!(!status.next().contains(status));
    }
}

#[test]
fn the_office_edits_a_job_and_the_technician_its_materials_and_final_amount() {
    let office = writer(Role::Office, "Dana");
    let tech = writer(Role::Technician, "Tess");
    let (mut doc, _) = office
        .create(&Record::new_job(job(AccountId::new())), at(0))
        .unwrap();
    edit_job(&office, &mut doc, 1, |j| {
        j.record.title = "Boiler replacement".into();
        j.record.estimate = Some("2400.00".parse().unwrap());
        j.record.requested_services = vec!["Remove old boiler".into(), "Fit new".into()];
    })
    .unwrap()
    .unwrap();
    edit_job(&tech, &mut doc, 2, |j| {
        j.record.inventory = vec![InventoryItem {
            description: "Expansion vessel 8 L".into(),
            quantity: "1".parse().unwrap(),
        }];
        j.record.final_amount = Some("2515.40".parse().unwrap());
    })
    .unwrap()
    .unwrap();
    let stored = job_of(&doc).record;
    assert_eq!(stored.title, "Boiler replacement");
    assert_eq!(stored.inventory.len(), 1);
    assert_eq!(stored.final_amount, Some("2515.40".parse().unwrap()));

    let err = edit_job(&tech, &mut doc, 3, |j| j.record.title = "Mine now".into()).unwrap_err();
    assert!(
        err.to_string()
            .contains("edit a job other than its status, materials and final amount"),
        "{err}"
    );
    let err = edit_job(&tech, &mut doc, 3, |j| {
        j.record.inventory.push(InventoryItem {
            description: "Valve".into(),
            quantity: "-2".parse().unwrap(),
        })
    })
    .unwrap_err();
    assert!(err.to_string().contains("-2"), "{err}");
    let err = edit_job(&tech, &mut doc, 3, |j| {
        j.record.final_amount = Some("-5.00".parse().unwrap())
    })
    .unwrap_err();
    assert!(err.to_string().contains("final amount"), "{err}");
}

#[test]
fn concurrent_edits_of_a_job_merge_field_by_field() {
    let office = writer(Role::Office, "Dana");
    let tech = writer(Role::Technician, "Tess");
    let (mut desk, _) = office
        .create(&Record::new_job(job(AccountId::new())), at(0))
        .unwrap();
    let mut tablet = desk.fork();
    edit_job(&office, &mut desk, 1, |j| {
        j.record.title = "Boiler service and flue check".into();
        j.record.scheduled_start = Some(at(240));
        j.record.scheduled_end = Some(at(300));
        j.record.estimate = Some("260.00".parse().unwrap());
    })
    .unwrap()
    .unwrap();
    edit_job(&tech, &mut tablet, 2, |j| {
        j.record.status = JobStatus::OnSite;
        j.record.final_amount = Some("240.00".parse().unwrap());
        j.record.inventory = vec![InventoryItem {
            description: "Gasket".into(),
            quantity: "2".parse().unwrap(),
        }];
    })
    .unwrap()
    .unwrap();
    desk.merge(&mut tablet).unwrap();
    tablet.merge(&mut desk).unwrap();
    for doc in [&desk, &tablet] {
        let merged = job_of(doc).record;
        assert_eq!(merged.title, "Boiler service and flue check");
        assert_eq!(merged.scheduled_start, Some(at(240)));
        assert_eq!(merged.estimate, Some("260.00".parse().unwrap()));
        assert_eq!(merged.status, JobStatus::OnSite);
        assert_eq!(merged.final_amount, Some("240.00".parse().unwrap()));
        assert_eq!(merged.inventory[0].description, "Gasket");
    }
}

#[test]
fn status_changes_assignments_and_invoices_write_system_notes() {
    let office = writer(Role::Office, "Dana");
    let tech = writer(Role::Technician, "Tess");
    let (mut doc, _) = office
        .create(&Record::new_job(job(AccountId::new())), at(0))
        .unwrap();
    let tess = tech.author.user;
    office
        .edit_named(
            &mut doc,
            at(1),
            &|user| (user == tess).then(|| "Tess Tech".to_string()),
            |r| {
                if let Record::Job(j) = r {
                    j.record.technicians.insert(tess, at(1));
                }
                Ok(())
            },
        )
        .unwrap()
        .unwrap();
    edit_job(&tech, &mut doc, 2, |j| j.record.status = JobStatus::OnSite)
        .unwrap()
        .unwrap();
    let mut bill = invoice(job_of(&doc).record.id, &[("2", "60.00")], "0");
    bill.created_by = tess;
    edit_job(&tech, &mut doc, 3, |j| {
        j.invoices.insert(bill.id, bill.clone());
    })
    .unwrap()
    .unwrap();
    edit_job(&office, &mut doc, 4, |j| {
        j.invoices.get_mut(&bill.id).unwrap().voided = Some(Voided {
            at: at(4),
            by: UserId::new(),
            reason: "wrong customer".into(),
        });
    })
    .unwrap()
    .unwrap();
    assert_eq!(
        system_texts(&doc),
        [
            "Assigned to Tess Tech.",
            "Status changed from Scheduled to On site.",
            "Invoice INV-1-00001 issued for $120.00.",
            "Invoice INV-1-00001 voided: wrong customer",
        ]
    );
    let stored = job_of(&doc);
    let by_tess = stored
        .notes
        .values()
        .find(|n| n.text.starts_with("Status"))
        .unwrap();
    assert_eq!(
        (by_tess.author, by_tess.author_name.as_str()),
        (tess, "System")
    );

    // Nobody edits or removes a system note.
    let id = by_tess.id;
    let err = edit_job(&office, &mut doc, 5, |j| {
        j.notes.get_mut(&id).unwrap().text = "Status changed, whatever".into();
    })
    .unwrap_err();
    assert!(err.to_string().contains("never edited or removed"), "{err}");
}

/// A technician's tablet cannot forge a system note: one that its own change does not
/// warrant is refused, whole or by parts.
#[test]
fn a_tablet_cannot_forge_a_system_note() {
    let office = writer(Role::Office, "Dana");
    let tech = writer(Role::Technician, "Tess");
    let (mut doc, _) = office
        .create(&Record::new_job(job(AccountId::new())), at(0))
        .unwrap();
    let forged = |text: &str| Note {
        id: NoteId::new(),
        kind: NoteKind::System,
        text: text.into(),
        author: tech.author.user,
        author_name: "System".into(),
        created_at: at(1),
    };
    let note = forged("Invoice INV-1-00001 voided: paid in cash");
    let err = edit_job(&tech, &mut doc, 1, |j| {
        j.notes.insert(note.id, note.clone());
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("write system notes other than those its own change warrants"),
        "{err}"
    );

    // The same forgery made by hand (a modified app) and checked by the server, by parts.
    let before = Record::read(&doc).unwrap();
    let mut forged_doc = doc.fork();
    let mut after = before.clone();
    if let Record::Job(j) = &mut after {
        j.notes.insert(note.id, note.clone());
    }
    after.write(&mut forged_doc).unwrap();
    forged_doc.commit();
    let change = forged_doc.get_last_local_change().unwrap().clone();
    let mut server = doc.fork();
    let expanded = change.decode();
    server.apply_changes([change]).unwrap();
    let pusher = Pusher {
        role: Role::Technician,
        user: Some(tech.author.user),
        device: Some(1),
    };
    let mut record = before.clone();
    let err = check_change(before.doc_id(), pusher, &server, &mut record, &expanded).unwrap_err();
    assert!(err.to_string().contains("system notes"), "{err}");

    // A status change's own note, in the same change, passes the server by parts.
    let mut tablet = doc.fork();
    let change = edit_job(&tech, &mut tablet, 2, |j| {
        j.record.status = JobStatus::EnRoute
    })
    .unwrap()
    .unwrap();
    let expanded = change.decode();
    let mut server = doc.fork();
    server.apply_changes([change]).unwrap();
    let mut record = before.clone();
    check_change(before.doc_id(), pusher, &server, &mut record, &expanded)
        .unwrap()
        .expect("checked by parts");
    assert_eq!(
        record.notes().unwrap().values().next().unwrap().text,
        "Status changed from Scheduled to En route."
    );
}

#[test]
fn alerts_are_the_offices_to_add_and_remove_and_everyone_reads_them() {
    let office = writer(Role::Office, "Dana");
    let tech = writer(Role::Technician, "Tess");
    let (mut doc, _) = office
        .create(&Record::new_account(account()), at(0))
        .unwrap();
    let alert = Alert {
        id: NoteId::new(),
        text: "Dog in the yard: call before opening the gate".into(),
        author: office.author.user,
        author_name: "Dana".into(),
        created_at: at(1),
    };
    let add = |who: &Writer, doc: &mut AutoCommit| {
        who.edit(doc, at(1), |r| {
            if let Record::Account(a) = r {
                a.alerts.insert(alert.id, alert.clone());
            }
            Ok(())
        })
    };
    let err = add(&tech, &mut doc.fork()).unwrap_err();
    assert!(err.to_string().contains("add or remove alerts"), "{err}");
    add(&office, &mut doc).unwrap().unwrap();
    assert_eq!(Record::read(&doc).unwrap().alerts().unwrap().len(), 1);
    let err = tech
        .edit(&mut doc.fork(), at(2), |r| {
            if let Record::Account(a) = r {
                a.alerts.clear();
            }
            Ok(())
        })
        .unwrap_err();
    assert!(err.to_string().contains("add or remove alerts"), "{err}");
    office
        .edit(&mut doc, at(2), |r| {
            if let Record::Account(a) = r {
                a.alerts.clear();
            }
            Ok(())
        })
        .unwrap()
        .unwrap();
    assert!(Record::read(&doc).unwrap().alerts().unwrap().is_empty());
    let empty = Alert {
        text: "  ".into(),
        ..alert.clone()
    };
    let err = office
        .edit(&mut doc, at(3), |r| {
            if let Record::Account(a) = r {
                a.alerts.insert(empty.id, empty.clone());
            }
            Ok(())
        })
        .unwrap_err();
    assert!(err.to_string().contains("alert text"), "{err}");
}

#[test]
fn a_document_made_before_alerts_archiving_and_job_contacts_still_reads() {
    // An account and a job written by the schema of before: no `alerts`, no `archived_at`,
    // no `contact` keys.
    let office = writer(Role::Office, "Dana");
    let (mut doc, _) = office
        .create(&Record::new_job(job(AccountId::new())), at(0))
        .unwrap();
    let record = automerge::ReadDoc::get(&doc, automerge::ROOT, "record")
        .unwrap()
        .unwrap()
        .1;
    automerge::transaction::Transactable::delete(&mut doc, &record, "contact").unwrap();
    doc.commit();
    assert_eq!(job_of(&doc).record.contact, None);
}

#[test]
fn a_contact_log_entry_is_added_by_its_own_user_and_never_edited() {
    let office = writer(Role::Office, "Dana");
    let tech = writer(Role::Technician, "Tess");
    let (mut doc, _) = office
        .create(&Record::new_account(account()), at(0))
        .unwrap();
    let entry = |user: UserId, summary: &str| ContactEntry {
        id: NoteId::new(),
        at: at(1),
        channel: ContactChannel::Call,
        contact: None,
        summary: summary.into(),
        user,
        user_name: "Tess".into(),
    };
    let log = |who: &Writer, doc: &mut AutoCommit, e: ContactEntry| {
        who.edit(doc, at(2), |r| {
            if let Record::Account(a) = r {
                a.contact_log.insert(e.id, e);
            }
            Ok(())
        })
    };
    let mine = entry(tech.author.user, "Confirmed Thursday's visit");
    // The tablet's change, checked by parts as the server does: accepted.
    let before = Record::read(&doc).unwrap();
    let mut tablet = doc.fork();
    let change = log(&tech, &mut tablet, mine.clone()).unwrap().unwrap();
    let expanded = change.decode();
    doc.apply_changes([change]).unwrap();
    let pusher = Pusher {
        role: Role::Technician,
        user: Some(tech.author.user),
        device: Some(1),
    };
    let mut checked = before.clone();
    check_change(before.doc_id(), pusher, &doc, &mut checked, &expanded)
        .unwrap()
        .expect("checked by parts");
    assert_eq!(checked.contact_log().unwrap().len(), 1);

    // In someone else's name: refused.
    let theirs = entry(UserId::new(), "Spoke to the owner");
    let record = Record::read(&doc).unwrap();
    let mut forged = record.clone();
    if let Record::Account(a) = &mut forged {
        a.contact_log.insert(theirs.id, theirs.clone());
    }
    let err = crate::validate::check_authors(pusher, Some(&record), &forged).unwrap_err();
    assert!(err.to_string().contains("contact log entry"), "{err}");
    // The office may log on behalf of a colleague.
    log(&office, &mut doc, theirs).unwrap().unwrap();

    // Nobody edits one.
    let err = office
        .edit(&mut doc, at(3), |r| {
            if let Record::Account(a) = r {
                a.contact_log.get_mut(&mine.id).unwrap().summary = "Something else".into();
            }
            Ok(())
        })
        .unwrap_err();
    assert!(err.to_string().contains("never edited or removed"), "{err}");
    // An empty summary, or a contact who is not the customer's: refused.
    let err = log(&office, &mut doc, entry(office.author.user, "  ")).unwrap_err();
    assert!(err.to_string().contains("contact summary"), "{err}");
    let mut stranger = entry(office.author.user, "Called");
    stranger.contact = Some(ContactId::new());
    let err = log(&office, &mut doc, stranger).unwrap_err();
    assert!(
        err.to_string().contains("not one of the customer's"),
        "{err}"
    );
    assert_eq!(Record::read(&doc).unwrap().contact_log().unwrap().len(), 2);
}

fn edit_account(
    who: &Writer,
    doc: &mut AutoCommit,
    minute: i64,
    edit: impl FnOnce(&mut Account),
) -> Result<Option<Change>, DocumentError> {
    who.edit(doc, at(minute), |r| {
        if let Record::Account(a) = r {
            edit(&mut a.record);
        }
        Ok(())
    })
}

#[test]
fn technicians_edit_custom_fields_and_nothing_else_of_an_account_and_edits_merge_per_field() {
    let office = writer(Role::Office, "Dana");
    let tech = writer(Role::Technician, "Tess");
    let (mut desk, _) = office
        .create(&Record::new_account(account()), at(0))
        .unwrap();
    let mut tablet = desk.fork();
    let before = Record::read(&tablet).unwrap();
    edit_account(&office, &mut desk, 1, |a| {
        a.custom_fields
            .insert("Warranty until".into(), "2027-01-31".into());
    })
    .unwrap()
    .unwrap();
    let change = edit_account(&tech, &mut tablet, 2, |a| {
        a.custom_fields.insert("Gate code".into(), "4321".into());
    })
    .unwrap()
    .unwrap();

    // The server checks the technician's change by its parts, and takes it.
    let pusher = Pusher {
        role: Role::Technician,
        user: Some(tech.author.user),
        device: Some(1),
    };
    let expanded = change.decode();
    let mut server = before.clone();
    check_change(before.doc_id(), pusher, &tablet, &mut server, &expanded)
        .unwrap()
        .expect("checked by parts");

    desk.merge(&mut tablet).unwrap();
    let Record::Account(merged) = Record::read(&desk).unwrap() else {
        panic!("not an account")
    };
    assert_eq!(
        merged.record.custom_fields.keys().collect::<Vec<_>>(),
        ["Gate code", "Warranty until"]
    );

    // Anything else of the account stays the office's.
    let err = edit_account(&tech, &mut tablet, 3, |a| a.name = "Renamed".into()).unwrap_err();
    assert!(
        err.to_string().contains("other than its custom fields"),
        "{err}"
    );
    // And values are bounded at the boundary, whatever the definitions.
    let err = edit_account(&tech, &mut tablet, 3, |a| {
        a.custom_fields.insert("Gate code".into(), "x".repeat(501));
    })
    .unwrap_err();
    assert!(err.to_string().contains("at most 500"), "{err}");
}

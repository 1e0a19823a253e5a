//! A change checked by the parts it touched gets the same verdict as the same change checked
//! against the whole document, and leaves the same content.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, Change, ObjType, ROOT, ReadDoc};
use proptest::prelude::*;

use super::*;
use crate::document::tests::{account, at, invoice, job};
use crate::*;

/// One edit a device might push, well-behaved or not.
#[derive(Clone, Debug)]
enum Op {
    AddNote {
        system: bool,
        own: bool,
        empty: bool,
    },
    EditNote(usize),
    DeleteNote(usize),
    AddPhoto {
        own: bool,
        zero: bool,
    },
    Caption(usize),
    Resize(usize),
    DeletePhoto(usize),
    Status(usize),
    Title {
        empty: bool,
    },
    Estimate {
        negative: bool,
    },
    AddInvoice {
        own: bool,
        valid: bool,
        /// 0: numbered with the pushing device's number; 1: with another device's; 2: a
        /// negative total.
        kind: u8,
    },
    VoidInvoice(usize),
    AddContact {
        empty: bool,
    },
    EditContact(usize),
    AccountName {
        empty: bool,
    },
    UndeclaredAtRoot,
    UndeclaredInNote(usize),
    UndeclaredInRecord,
    NestedInNote(usize),
    Kind,
    Account,
    NotesReplaced,
}

fn op() -> impl Strategy<Value = Op> {
    let i = any::<usize>;
    prop_oneof![
        (any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(system, own, empty)| Op::AddNote { system, own, empty }),
        i().prop_map(Op::EditNote),
        i().prop_map(Op::DeleteNote),
        (any::<bool>(), any::<bool>()).prop_map(|(own, zero)| Op::AddPhoto { own, zero }),
        i().prop_map(Op::Caption),
        i().prop_map(Op::Resize),
        i().prop_map(Op::DeletePhoto),
        i().prop_map(Op::Status),
        any::<bool>().prop_map(|empty| Op::Title { empty }),
        any::<bool>().prop_map(|negative| Op::Estimate { negative }),
        (any::<bool>(), any::<bool>(), 0u8..3).prop_map(|(own, valid, kind)| Op::AddInvoice {
            own,
            valid,
            kind
        }),
        i().prop_map(Op::VoidInvoice),
        any::<bool>().prop_map(|empty| Op::AddContact { empty }),
        i().prop_map(Op::EditContact),
        any::<bool>().prop_map(|empty| Op::AccountName { empty }),
        Just(Op::UndeclaredAtRoot),
        i().prop_map(Op::UndeclaredInNote),
        Just(Op::UndeclaredInRecord),
        i().prop_map(Op::NestedInNote),
        Just(Op::Kind),
        Just(Op::Account),
        Just(Op::NotesReplaced),
    ]
}

fn note(author: UserId, kind: NoteKind, text: &str) -> Note {
    Note {
        id: NoteId::new(),
        kind,
        text: text.into(),
        author,
        author_name: "Someone".into(),
        created_at: at(3),
    }
}

fn photo(author: UserId, width: u32) -> Photo {
    Photo {
        id: PhotoId::new(),
        caption: "Boiler".into(),
        tag: PhotoTag::Before,
        taken_at: at(4),
        author,
        author_name: "Someone".into(),
        width,
        height: 600,
        full_hash: ContentHash::of(b"full"),
        full_size: 4,
        thumb_hash: ContentHash::of(b"thumb"),
        thumb_size: 5,
    }
}

fn contact(name: &str) -> Contact {
    Contact {
        id: ContactId::new(),
        name: name.into(),
        role: "Owner".into(),
        email: None,
        phone: None,
        sites: Vec::new(),
        archived_at: None,
    }
}

/// A stored job or account document with a few of everything, written by the office.
fn stored(is_job: bool) -> (AutoCommit, Record) {
    let other = UserId::new();
    let record = if is_job {
        let mut j = job(AccountId::new());
        j.technicians.insert(other, at(0));
        let mut d = match Record::new_job(j) {
            Record::Job(d) => d,
            _ => unreachable!(),
        };
        for text in ["Arrived", "Checked flue", "Done"] {
            let n = note(other, NoteKind::ServicePerformed, text);
            d.notes.insert(n.id, n);
        }
        for width in [800, 1024] {
            let p = photo(other, width);
            d.photos.insert(p.id, p);
        }
        let inv = invoice(d.record.id, &[("1", "90.00")], "8.25");
        d.invoices.insert(inv.id, inv);
        Record::Job(d)
    } else {
        let mut d = match Record::new_account(account()) {
            Record::Account(d) => d,
            _ => unreachable!(),
        };
        for name in ["Ann", "Bo"] {
            let c = contact(name);
            d.contacts.insert(c.id, c);
        }
        let n = note(other, NoteKind::Private, "Prefers mornings");
        d.notes.insert(n.id, n);
        Record::Account(d)
    };
    let mut doc = AutoCommit::new();
    write(&mut doc, &record);
    doc.commit();
    (doc, record)
}

fn write(doc: &mut AutoCommit, record: &Record) {
    record.write(doc).unwrap();
}

fn nth<K: Copy, V>(map: &BTreeMap<K, V>, i: usize) -> Option<K> {
    (!map.is_empty()).then(|| *map.keys().nth(i % map.len()).unwrap())
}

fn object(doc: &AutoCommit, obj: &automerge::ObjId, key: &str) -> Option<automerge::ObjId> {
    match doc.get(obj, key).unwrap() {
        Some((automerge::Value::Object(_), id)) => Some(id),
        _ => None,
    }
}

/// The change `op` makes to `doc` (whose content is `record`), written by `user`'s device;
/// `None` when it changes nothing.
fn make(doc: &AutoCommit, record: &Record, op: &Op, user: UserId) -> Option<Change> {
    let mut doc = doc.clone();
    doc.set_actor(ActorId::random());
    let mut r = record.clone();
    let who = |own: bool| if own { user } else { UserId::new() };
    let note_obj = |doc: &AutoCommit, i: usize| {
        let id = nth(record.notes()?, i)?;
        object(doc, &object(doc, &ROOT, "notes")?, &id.to_string())
    };
    match (op, &mut r) {
        (Op::AddNote { system, own, empty }, r) => {
            let kind = if *system {
                NoteKind::System
            } else {
                NoteKind::Site
            };
            let n = note(who(*own), kind, if *empty { " " } else { "Gate code 41" });
            match r {
                Record::Job(d) => d.notes.insert(n.id, n),
                Record::Account(d) => d.notes.insert(n.id, n),
                _ => return None,
            };
        }
        (Op::EditNote(i) | Op::DeleteNote(i), r) => {
            let id = nth(r.notes()?, *i)?;
            let notes = match r {
                Record::Job(d) => &mut d.notes,
                Record::Account(d) => &mut d.notes,
                _ => return None,
            };
            if let Op::DeleteNote(_) = op {
                notes.remove(&id);
            } else {
                notes.get_mut(&id)?.text.push_str(" (edited)");
            }
        }
        (Op::AddPhoto { own, zero }, Record::Job(d)) => {
            let p = photo(who(*own), if *zero { 0 } else { 640 });
            d.photos.insert(p.id, p);
        }
        (Op::Caption(i) | Op::Resize(i) | Op::DeletePhoto(i), Record::Job(d)) => {
            let id = nth(&d.photos, *i)?;
            match op {
                Op::Caption(_) => d.photos.get_mut(&id)?.caption = "After".into(),
                Op::Resize(_) => d.photos.get_mut(&id)?.width += 1,
                _ => drop(d.photos.remove(&id)),
            }
        }
        (Op::Status(i), Record::Job(d)) => {
            d.record.status = JobStatus::ALL[i % JobStatus::ALL.len()];
        }
        (Op::Title { empty }, Record::Job(d)) => {
            d.record.title = if *empty {
                "".into()
            } else {
                "Boiler and flue".into()
            };
        }
        (Op::Estimate { negative }, Record::Job(d)) => {
            let amount = if *negative { "-1.00" } else { "250.00" };
            d.record.estimate = Some(amount.parse().unwrap());
        }
        (Op::AddInvoice { own, valid, kind }, Record::Job(d)) => {
            let lines: &[(&str, &str)] = match kind {
                2 => &[("1", "-60.00")],
                _ => &[("2", "45.00")],
            };
            let mut inv = invoice(d.record.id, lines, "0");
            inv.number = match kind {
                1 => format!("INV-8-{:05}", d.invoices.len() + 1),
                _ => format!("INV-{DEVICE}-{:05}", d.invoices.len() + 1),
            };
            inv.created_by = who(*own);
            if !valid {
                inv.lines.clear();
            }
            d.invoices.insert(inv.id, inv);
        }
        (Op::VoidInvoice(i), Record::Job(d)) => {
            let id = nth(&d.invoices, *i)?;
            d.invoices.get_mut(&id)?.voided = Some(Voided {
                at: at(9),
                by: user,
                reason: "Wrong job".into(),
            });
        }
        (Op::AddContact { empty }, Record::Account(d)) => {
            let c = contact(if *empty { "" } else { "Cy" });
            d.contacts.insert(c.id, c);
        }
        (Op::EditContact(i), Record::Account(d)) => {
            let id = nth(&d.contacts, *i)?;
            d.contacts.get_mut(&id)?.phone = Some("555-0100".into());
        }
        (Op::AccountName { empty }, Record::Account(d)) => {
            d.record.name = if *empty {
                "".into()
            } else {
                "Harbor Bakery & Cafe".into()
            };
        }
        (Op::UndeclaredAtRoot, _) => {
            doc.put(ROOT, "extra", "hidden").unwrap();
        }
        (Op::UndeclaredInNote(i), _) => {
            let obj = note_obj(&doc, *i)?;
            doc.put(&obj, "secret", "hidden").unwrap();
        }
        (Op::UndeclaredInRecord, _) => {
            let obj = object(&doc, &ROOT, "record")?;
            doc.put(&obj, "secret", 1).unwrap();
        }
        (Op::NestedInNote(i), _) => {
            let mut obj = note_obj(&doc, *i)?;
            for _ in 0..50 {
                obj = doc.put_object(&obj, "deeper", ObjType::Map).unwrap();
            }
        }
        (Op::Kind, _) => {
            doc.put(ROOT, "kind", "payment").unwrap();
        }
        (Op::Account, _) => {
            doc.put(ROOT, "account", AccountId::new().as_bytes().to_vec())
                .unwrap();
        }
        (Op::NotesReplaced, _) => {
            doc.put_object(ROOT, "notes", ObjType::Map).unwrap();
        }
        _ => return None,
    }
    if r != *record {
        write(&mut doc, &r);
    }
    doc.commit()?;
    doc.get_last_local_change()
}

/// The verdict of checking the whole document after the change.
fn whole(
    doc_id: DocId,
    pusher: Pusher,
    before: &Record,
    after: &AutoCommit,
) -> Result<Record, ValidationError> {
    let record = Record::read(after)?;
    validate::check_doc_id(doc_id, &record)?;
    validate::check_transition(before, &record)?;
    validate::authorize(pusher.role, Some(before), &record)?;
    validate::check_authors(pusher, Some(before), &record)?;
    declared_record(after, &record)?;
    Ok(record)
}

/// The verdict of checking by the touched parts (the whole document when a section was put).
fn by_parts(
    doc_id: DocId,
    pusher: Pusher,
    before: &Record,
    doc: &mut AutoCommit,
    change: Change,
) -> Result<Record, ValidationError> {
    let expanded = change.decode();
    doc.apply_changes([change]).unwrap();
    let mut record = before.clone();
    match check_change(doc_id, pusher, doc, &mut record, &expanded)? {
        Some((_, entries)) => {
            assert!(entries.iter().all(|e| !e.field.is_empty()), "{entries:?}");
            Ok(record)
        }
        None => whole(doc_id, pusher, before, doc),
    }
}

/// The number of the technician's device in the property test.
const DEVICE: u32 = 7;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn checking_the_touched_parts_judges_and_reads_like_checking_the_whole(
        is_job in any::<bool>(),
        technician in any::<bool>(),
        ops in prop::collection::vec(op(), 1..8),
    ) {
        let (mut doc, mut record) = stored(is_job);
        let doc_id = record.doc_id();
        let user = UserId::new();
        let pusher = if technician {
            Pusher { role: Role::Technician, user: Some(user), device: Some(DEVICE) }
        } else {
            Pusher::from(Role::Office)
        };
        for op in &ops {
            let Some(change) = make(&doc, &record, op, user) else { continue };
            let mut after = doc.clone();
            after.apply_changes([change.clone()]).unwrap();
            let full = whole(doc_id, pusher, &record, &after);
            let mut incremental = doc.clone();
            let parts = by_parts(doc_id, pusher, &record, &mut incremental, change);
            prop_assert_eq!(
                full.is_ok(),
                parts.is_ok(),
                "{:?}: whole {:?}, by parts {:?}",
                op,
                full.as_ref().err(),
                parts.as_ref().err()
            );
            if matches!(op, Op::UndeclaredAtRoot | Op::UndeclaredInNote(_) | Op::UndeclaredInRecord | Op::NestedInNote(_)) {
                prop_assert!(
                    matches!(parts, Err(ValidationError::Undeclared(_))),
                    "{:?} gave {:?}", op, parts
                );
            }
            if let (Ok(full), Ok(parts)) = (full, parts) {
                prop_assert_eq!(&full, &parts, "{:?}", op);
                record = parts;
                doc = after;
            }
        }
    }
}

#[test]
fn an_undeclared_key_is_named_in_the_refusal() {
    let (doc, record) = stored(true);
    let change = make(&doc, &record, &Op::UndeclaredInNote(1), UserId::new()).unwrap();
    let mut after = doc.clone();
    let err = by_parts(
        record.doc_id(),
        Role::Office.into(),
        &record,
        &mut after,
        change,
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("notes.")
            && err
                .to_string()
                .ends_with(".secret is not a field of this record"),
        "{err}"
    );
}

/// `record` written over `before` into a copy of `doc`, whole or by parts, and committed the
/// same way: the heads after.
fn written(doc: &AutoCommit, before: &Record, record: &Record, by_parts: bool) -> AutoCommit {
    let mut doc = doc.clone();
    doc.set_actor(ActorId::from([7u8; 16].as_slice()));
    if by_parts {
        record
            .write_over(Touched::between(before, record), &mut doc)
            .unwrap();
    } else {
        record.write(&mut doc).unwrap();
    }
    let options = automerge::transaction::CommitOptions::default()
        .with_message("Tess".to_string())
        .with_time(1_790_000_000_000);
    doc.commit_with(options);
    doc
}

/// The operations of the last change of `doc`, sorted: autosurgeon deletes a map's keys in
/// hash-set order, so only deletions may come in another order.
fn operations(doc: &mut AutoCommit) -> Vec<String> {
    let Some(change) = doc.get_last_local_change() else {
        return Vec::new();
    };
    let mut ops: Vec<String> = change
        .decode()
        .operations
        .iter()
        .map(|op| format!("{op:?}"))
        .collect();
    ops.sort();
    ops
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn writing_over_the_content_before_makes_the_same_change_as_writing_the_whole(
        is_job in any::<bool>(),
        ops in prop::collection::vec(op(), 1..8),
    ) {
        let (mut doc, mut record) = stored(is_job);
        for op in &ops {
            let Some(change) = make(&doc, &record, op, UserId::new()) else { continue };
            let mut edited = doc.clone();
            edited.apply_changes([change]).unwrap();
            // Only content the record reader reads can be written (not undeclared keys).
            let Ok(after) = Record::read(&edited) else { continue };
            let mut whole = written(&doc, &record, &after, false);
            let mut parts = written(&doc, &record, &after, true);
            prop_assert_eq!(operations(&mut whole), operations(&mut parts), "{:?}", op);
            prop_assert_eq!(&Record::read(&parts).unwrap(), &after);
            let touched = Touched::between(&record, &after);
            let unchanged = whole.get_heads() == doc.clone().get_heads();
            prop_assert_eq!(touched.is_empty(), unchanged, "{:?}", op);
            doc = parts;
            record = after;
        }
    }
}

#[test]
fn writing_over_a_document_made_before_a_section_existed_writes_the_section_whole() {
    let (doc, _) = stored(false);
    let mut old = doc.clone();
    old.delete(ROOT, "alerts").unwrap();
    old.commit();
    let before = Record::read(&old).unwrap();
    assert!(
        before.alerts().is_some_and(|a| a.is_empty()),
        "read as none"
    );
    let mut after = before.clone();
    let Record::Account(d) = &mut after else {
        unreachable!()
    };
    let alert = Alert {
        id: NoteId::new(),
        text: "Dog in the yard".into(),
        author: UserId::new(),
        author_name: "Dana".into(),
        created_at: at(1),
    };
    d.alerts.insert(alert.id, alert);
    let touched = after
        .write_over(Touched::between(&before, &after), &mut old)
        .unwrap();
    assert!(touched.whole, "{touched:?}");
    assert_eq!(Record::read(&old).unwrap(), after);
}

//! Merging, validation, roles, views and the change log, on real automerge documents.

use automerge::{AutoCommit, transaction::Transactable};
use chrono::NaiveDate;
use proptest::prelude::*;

use crate::changelog::change_log;
use crate::fixtures;
use crate::*;

pub(crate) use crate::fixtures::writer;

/// `minute` minutes after the fixtures' `now`.
pub(crate) fn at(minute: i64) -> Timestamp {
    fixtures::minutes(minute)
}

pub(crate) fn account() -> Account {
    fixtures::account("Harbor Bakery")
}

/// A boiler service at a site of `account`, from minute 60 to 120.
pub(crate) fn job(account: AccountId) -> Job {
    Job {
        scheduled_start: Some(at(60)),
        scheduled_end: Some(at(120)),
        ..fixtures::job(account, SiteId::new(), "Boiler service")
    }
}

/// Tess's cash payment of `amount`, for `invoice` if any.
pub(crate) fn payment(account: AccountId, amount: &str, invoice: Option<InvoiceId>) -> Payment {
    Payment {
        invoice,
        ..fixtures::payment(account, amount, &fixtures::person("Tess"))
    }
}

/// Invoice INV-1-00001 of labour `lines` (quantity, unit price) at `tax` percent.
pub(crate) fn invoice(job: JobId, lines: &[(&str, &str)], tax: &str) -> Invoice {
    let lines: Vec<_> = lines.iter().map(|(q, p)| ("Labour", *q, *p)).collect();
    Invoice {
        tax_rate: tax.parse().unwrap(),
        ..fixtures::invoice(job, "INV-1-00001", &lines)
    }
}

fn job_doc(record: &Record, doc: &AutoCommit) -> JobDoc {
    let _ = record;
    match Record::read(doc).unwrap() {
        Record::Job(j) => j,
        other => panic!("not a job: {other:?}"),
    }
}

#[test]
fn a_status_change_and_a_schedule_change_made_concurrently_both_survive() {
    let office = writer(Role::Office, "Dana");
    let tech = writer(Role::Technician, "Tess");
    let record = Record::new_job(job(AccountId::new()));
    let (mut dispatcher_doc, _) = office.create(&record, at(0)).unwrap();
    let mut tablet_doc = dispatcher_doc.fork();
    tech.edit(&mut tablet_doc, at(1), |r| {
        if let Record::Job(j) = r {
            j.record.status = JobStatus::OnSite;
        }
        Ok(())
    })
    .unwrap()
    .unwrap();
    office
        .edit(&mut dispatcher_doc, at(2), |r| {
            if let Record::Job(j) = r {
                j.record.scheduled_start = Some(at(90));
                j.record.scheduled_end = Some(at(150));
            }
            Ok(())
        })
        .unwrap()
        .unwrap();
    dispatcher_doc.merge(&mut tablet_doc).unwrap();
    tablet_doc.merge(&mut dispatcher_doc).unwrap();
    for doc in [&dispatcher_doc, &tablet_doc] {
        let merged = job_doc(&record, doc);
        assert_eq!(merged.record.status, JobStatus::OnSite);
        assert_eq!(merged.record.scheduled_start, Some(at(90)));
    }
}

#[test]
fn notes_added_on_two_offline_tablets_both_survive() {
    let office = writer(Role::Office, "Dana");
    let record = Record::new_job(job(AccountId::new()));
    let (mut a, _) = office.create(&record, at(0)).unwrap();
    let mut b = a.fork();
    for (doc, name) in [(&mut a, "Tess"), (&mut b, "Theo")] {
        let tech = writer(Role::Technician, name);
        let note = Note {
            id: NoteId::new(),
            kind: NoteKind::ServicePerformed,
            text: format!("{name} replaced the filter"),
            author: tech.author.user,
            author_name: name.into(),
            created_at: at(3),
        };
        tech.edit(doc, at(3), |r| {
            if let Record::Job(j) = r {
                j.notes.insert(note.id, note);
            }
            Ok(())
        })
        .unwrap();
    }
    a.merge(&mut b).unwrap();
    let merged = job_doc(&record, &a);
    assert_eq!(merged.notes.len(), 2);
    assert!(merged.notes.values().any(|n| n.author_name == "Theo"));
}

#[test]
fn two_offline_payments_both_count_and_a_payment_delivered_twice_counts_once() {
    let tech = writer(Role::Technician, "Tess");
    let account = AccountId::new();
    let first = Record::new_payment(payment(account, "40.00", None));
    let second = Record::new_payment(payment(account, "2.50", None));
    let (mut doc1, mut change1) = tech.create(&first, at(1)).unwrap();
    let (_, change2) = tech.create(&second, at(1)).unwrap();
    assert_ne!(
        first.doc_id(),
        second.doc_id(),
        "two payments are two documents"
    );
    // The same change delivered again changes nothing.
    doc1.apply_changes([automerge::Change::from_bytes(change1.bytes().to_vec()).unwrap()])
        .unwrap();
    assert_eq!(doc1.get_changes(&[]).len(), 1);
    let payments = [&first, &second].map(|r| match r {
        Record::Payment(p) => p.record.clone(),
        _ => unreachable!(),
    });
    let ledger = Ledger::compute([], payments.iter());
    assert_eq!(ledger.balance.to_string(), "-42.50");
    assert_eq!(ledger.unapplied_credit.to_string(), "42.50");
    let _ = change2;
}

#[test]
fn payment_amounts_are_positive_with_at_most_two_places() {
    use crate::validate::parse_payment_amount;
    assert_eq!(
        parse_payment_amount(" 120.5 ").unwrap().to_string(),
        "120.5"
    );
    assert!(matches!(
        parse_payment_amount("0"),
        Err(ValidationError::NotPositive(_))
    ));
    assert!(matches!(
        parse_payment_amount("-3"),
        Err(ValidationError::NotPositive(_))
    ));
    assert!(matches!(
        parse_payment_amount("1.005"),
        Err(ValidationError::TooPrecise(_))
    ));
    assert!(
        parse_payment_amount("1.50000").is_ok(),
        "trailing zeros are exact"
    );
    assert!(matches!(
        parse_payment_amount("12,50"),
        Err(ValidationError::NotADecimal(_))
    ));
    let tech = writer(Role::Technician, "Tess");
    let bad = Record::new_payment(payment(AccountId::new(), "-1", None));
    assert!(tech.create(&bad, at(0)).is_err());
}

#[test]
fn enums_take_only_their_listed_values() {
    assert_eq!("en_route".parse::<JobStatus>().unwrap(), JobStatus::EnRoute);
    let err = "paid".parse::<JobStatus>().unwrap_err();
    assert!(err.to_string().contains("must be one of"), "{err}");
    let office = writer(Role::Office, "Dana");
    let record = Record::new_job(job(AccountId::new()));
    let (mut doc, _) = office.create(&record, at(0)).unwrap();
    let record_obj = match automerge::ReadDoc::get(&doc, automerge::ROOT, "record").unwrap() {
        Some((_, id)) => id,
        None => panic!("no record"),
    };
    doc.put(&record_obj, "status", "teleported").unwrap();
    doc.commit();
    assert!(matches!(
        Record::read(&doc),
        Err(ValidationError::Malformed(_))
    ));
}

#[test]
fn a_documents_kind_and_account_never_change() {
    let acc = Record::new_account(account());
    let mut moved = acc.clone();
    if let Record::Account(a) = &mut moved {
        a.account = AccountId::new();
        a.record.id = a.account;
    }
    let err = validate::check_transition(&acc, &moved).unwrap_err();
    assert_eq!(err, ValidationError::AccountChanged);
    let other = Record::new_payment(payment(acc.account(), "1", None));
    assert!(matches!(
        validate::check_transition(&acc, &other),
        Err(ValidationError::KindChanged { .. })
    ));
}

#[test]
fn required_fields_are_checked() {
    let mut a = account();
    a.name = "  ".into();
    assert_eq!(
        validate::check_record(&Record::new_account(a)),
        Err(ValidationError::Required {
            field: "account name"
        })
    );
    let mut a = account();
    a.billing_address.line1.clear();
    assert!(validate::check_record(&Record::new_account(a)).is_err());
    let mut j = job(AccountId::new());
    j.scheduled_end = Some(at(0));
    assert_eq!(
        validate::check_record(&Record::new_job(j)),
        Err(ValidationError::WindowReversed)
    );
}

#[test]
fn technicians_may_only_do_what_their_role_allows() {
    let office = writer(Role::Office, "Dana");
    let tech = writer(Role::Technician, "Tess");
    let (mut account_doc, _) = office
        .create(&Record::new_account(account()), at(0))
        .unwrap();
    let err = tech
        .edit(&mut account_doc, at(1), |r| {
            if let Record::Account(a) = r {
                a.record.credit_hold = true;
            }
            Ok(())
        })
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("a technician may not edit an account"),
        "{err}"
    );
    // A customer met in the field may be created, but only fresh.
    assert!(tech.create(&Record::new_account(account()), at(1)).is_ok());
    let mut merged = account();
    merged.merged_into = Some(AccountId::new());
    let err = tech
        .create(&Record::new_account(merged), at(1))
        .unwrap_err();
    assert!(err.to_string().contains("merged or deleted"), "{err}");

    let (mut job_doc, _) = office
        .create(&Record::new_job(job(AccountId::new())), at(0))
        .unwrap();
    let set = |doc: &mut AutoCommit, status| {
        tech.edit(doc, at(2), |r| {
            if let Record::Job(j) = r {
                j.record.status = status;
            }
            Ok(())
        })
    };
    assert!(set(&mut job_doc, JobStatus::EnRoute).is_ok());
    assert!(set(&mut job_doc, JobStatus::Invoiced).is_err());
    assert!(set(&mut job_doc, JobStatus::Cancelled).is_err());
}

#[test]
fn invoice_status_follows_payments_and_void_invoices_do_not_count() {
    let account = AccountId::new();
    let job = JobId::new();
    let paid = invoice(job, &[("2", "50.00")], "10");
    let partly = invoice(job, &[("1", "100.00")], "0");
    let mut void = invoice(job, &[("1", "999.99")], "0");
    void.voided = Some(Voided {
        at: at(9),
        by: UserId::new(),
        reason: "typo".into(),
    });
    let pending = invoice(job, &[("3", "0.333")], "8.25");
    assert_eq!(
        pending.total().to_string(),
        "1.08",
        "1.00 (rounded per line) + 0.08 tax"
    );
    let payments = [
        payment(account, "110.00", Some(paid.id)),
        payment(account, "40.00", Some(partly.id)),
        payment(account, "5.00", Some(void.id)),
        payment(account, "20.00", None),
    ];
    let ledger = Ledger::compute([&paid, &partly, &void, &pending], payments.iter());
    assert_eq!(ledger.invoices[&paid.id].status, InvoiceStatus::Paid);
    assert_eq!(
        ledger.invoices[&partly.id].status,
        InvoiceStatus::PartlyPaid
    );
    assert_eq!(ledger.invoices[&void.id].status, InvoiceStatus::Void);
    assert_eq!(ledger.invoices[&pending.id].status, InvoiceStatus::Pending);
    // Billed 110 + 100 + 1.08 = 211.08; paid 175.
    assert_eq!(ledger.balance.to_string(), "36.08");
    // Credit: 20 unapplied + 5 on a void invoice.
    assert_eq!(ledger.unapplied_credit.to_string(), "25.00");
}

#[test]
fn the_change_log_says_who_changed_which_field_from_what_to_what() {
    let office = writer(Role::Office, "Dana Dispatch");
    let tech = writer(Role::Technician, "Tess Tech");
    let (mut doc, _) = office
        .create(&Record::new_job(job(AccountId::new())), at(0))
        .unwrap();
    tech.edit(&mut doc, at(7), |r| {
        if let Record::Job(j) = r {
            j.record.status = JobStatus::EnRoute;
        }
        Ok(())
    })
    .unwrap();
    let log = change_log(&mut doc);
    let entry = log
        .iter()
        .find(|e| e.field == "record.status" && e.to.as_deref() == Some("en_route"))
        .unwrap();
    assert_eq!(entry.from.as_deref(), Some("scheduled"));
    assert_eq!(entry.author.as_ref().unwrap().name, "Tess Tech");
    assert_eq!(entry.at, Some(at(7)));
    assert!(
        log.iter()
            .any(|e| e.author.as_ref().is_some_and(|a| a.name == "Dana Dispatch"))
    );
}

#[test]
fn search_text_covers_name_type_contacts_and_emails() {
    let mut record = Record::new_account(account());
    if let Record::Account(a) = &mut record {
        let contact = Contact {
            id: ContactId::new(),
            name: "Maria Lopez".into(),
            role: "Owner".into(),
            email: Some("maria@lopez.example".into()),
            phone: None,
            sites: Vec::new(),
            archived_at: None,
        };
        a.contacts.insert(contact.id, contact);
        let text = views::search_text(a);
        for part in [
            "harbor bakery",
            "customer",
            "maria lopez",
            "maria@lopez.example",
        ] {
            assert!(text.contains(part), "{part} missing from {text}");
        }
    }
}

#[test]
fn a_device_adds_invoices_only_under_its_own_number_and_a_technician_none_below_zero() {
    let tess = UserId::new();
    let pusher = validate::Pusher {
        role: Role::Technician,
        user: Some(tess),
        device: Some(3),
    };
    let job_record = Record::new_job(job(AccountId::new()));
    let with = |number: &str, lines: &[(&str, &str)]| {
        let Record::Job(mut j) = job_record.clone() else {
            unreachable!()
        };
        let mut inv = invoice(j.record.id, lines, "0");
        inv.number = number.into();
        inv.created_by = tess;
        j.invoices.insert(inv.id, inv);
        Record::Job(j)
    };
    let check = |after: &Record| validate::check_authors(pusher, Some(&job_record), after);

    assert_eq!(check(&with("INV-3-00012", &[("1", "80.00")])), Ok(()));
    let foreign = check(&with("INV-4-00012", &[("1", "80.00")])).unwrap_err();
    assert!(
        matches!(
            foreign,
            ValidationError::ForeignInvoiceNumber { device: 3, .. }
        ),
        "{foreign}"
    );
    assert!(
        check(&with("A-1", &[("1", "80.00")])).is_err(),
        "not a number at all"
    );
    let credit = check(&with("INV-3-00013", &[("1", "-80.00")])).unwrap_err();
    assert!(credit.to_string().contains("invoice total"), "{credit}");
    // The office gives credits, and the office's clerk numbers as the server (no device).
    let office = validate::Pusher::from(Role::Office);
    assert_eq!(
        validate::check_authors(
            office,
            Some(&job_record),
            &with("INV-0-00001", &[("1", "-80.00")])
        ),
        Ok(())
    );
    // A device's number reads back.
    assert_eq!(
        "INV-3-00012".parse(),
        Ok(InvoiceNumber { device: 3, seq: 12 })
    );
    for bad in [
        "INV-3",
        "INV--1",
        "INV-x-1",
        "inv-3-1",
        "INV-3-1-2",
        "INV-99999999999-1",
    ] {
        assert!(bad.parse::<InvoiceNumber>().is_err(), "{bad}");
    }
}

#[test]
fn a_technician_adds_the_customers_signature_once_and_changes_nothing_else() {
    let Record::Job(mut j) = Record::new_job(job(AccountId::new())) else {
        unreachable!()
    };
    let issued = invoice(j.record.id, &[("1", "80.00")], "0");
    j.invoices.insert(issued.id, issued.clone());
    let unsigned = Record::Job(j.clone());
    let signature = Signature {
        signer: "Ana Ruiz".into(),
        signed_at: at(30),
        image: ContentHash::of(b"png"),
        image_size: 3,
    };
    let sign = |signature: Option<Signature>, total: &str| {
        let mut j = j.clone();
        let found = j.invoices.get_mut(&issued.id).unwrap();
        found.signature = signature;
        found.lines[0].unit_price = total.parse().unwrap();
        Record::Job(j)
    };
    let signed = sign(Some(signature.clone()), "80.00");
    assert_eq!(
        validate::authorize(Role::Technician, Some(&unsigned), &signed),
        Ok(())
    );
    validate::check_record(&signed).unwrap();
    // Not with another price, not a second time, not taken away.
    for (before, after) in [
        (&unsigned, sign(Some(signature.clone()), "8.00")),
        (
            &signed,
            sign(
                Some(Signature {
                    signer: "Someone else".into(),
                    ..signature.clone()
                }),
                "80.00",
            ),
        ),
        (&signed, sign(None, "80.00")),
    ] {
        let refused = validate::authorize(Role::Technician, Some(before), &after).unwrap_err();
        assert!(refused.to_string().contains("signature"), "{refused}");
    }
    // A signature names its signer and stays small.
    let nameless = sign(
        Some(Signature {
            signer: " ".into(),
            ..signature.clone()
        }),
        "80.00",
    );
    assert!(validate::check_record(&nameless).is_err());
    let huge = sign(
        Some(Signature {
            image_size: validate::MAX_SIGNATURE_BYTES + 1,
            ..signature
        }),
        "80.00",
    );
    assert!(validate::check_record(&huge).is_err());
}

#[test]
fn invoices_age_from_their_due_date_by_the_accounts_terms() {
    let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
    let due = due_date(day(1, 15), 30);
    assert_eq!(due, day(2, 14));
    for (today, bucket) in [
        (day(1, 20), AgingBucket::Current),
        (day(2, 14), AgingBucket::Current),
        (day(2, 15), AgingBucket::Days1To30),
        (day(3, 16), AgingBucket::Days1To30),
        (day(3, 17), AgingBucket::Days31To60),
        (day(4, 15), AgingBucket::Days31To60),
        (day(4, 16), AgingBucket::Days61To90),
        (day(5, 15), AgingBucket::Days61To90),
        (day(5, 16), AgingBucket::Over90),
        (day(12, 31), AgingBucket::Over90),
    ] {
        assert_eq!(AgingBucket::of(due, today), bucket, "{today}");
    }
    assert_eq!(due_date(day(1, 15), 0), day(1, 15), "due on receipt");
}

#[test]
fn invoice_numbers_from_different_devices_never_collide() {
    let a = InvoiceNumber { device: 3, seq: 12 }.to_string();
    let b = InvoiceNumber { device: 31, seq: 2 }.to_string();
    assert_eq!(a, "INV-3-00012");
    assert_ne!(a, b);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The ledger is a function of the set of invoices and payments, whatever their order, and
    /// balance = billed − paid exactly.
    #[test]
    fn the_ledger_does_not_depend_on_order(
        cents in proptest::collection::vec(1u64..1_000_000, 1..12),
        links in proptest::collection::vec(0usize..4, 1..12),
        seed in any::<u64>(),
    ) {
        let account = AccountId::new();
        let job = JobId::new();
        let invoices: Vec<Invoice> = (0..3)
            .map(|i| invoice(job, &[("1", &format!("{}.{:02}", 10 * (i + 1), i))], "7.5"))
            .collect();
        let payments: Vec<Payment> = cents
            .iter()
            .zip(links.iter().cycle())
            .map(|(c, l)| {
                let amount = format!("{}.{:02}", c / 100, c % 100);
                payment(account, &amount, invoices.get(*l).map(|i| i.id))
            })
            .collect();
        let forward = Ledger::compute(invoices.iter(), payments.iter());
        let mut shuffled = payments.clone();
        let n = shuffled.len();
        for i in 0..n {
            shuffled.swap(i, (seed as usize).wrapping_add(i * 7) % n);
        }
        let backward = Ledger::compute(invoices.iter().rev(), shuffled.iter());
        prop_assert_eq!(&forward, &backward);
        let billed: Money = invoices.iter().map(Invoice::total).sum();
        let paid: Money = payments.iter().map(|p| p.amount).sum();
        prop_assert_eq!(forward.balance, billed - paid);
        // Every cent received is either applied to an invoice or credit, never both.
        let applied: Money = forward.invoices.values().map(|s| s.paid).sum();
        prop_assert_eq!(applied + forward.unapplied_credit, paid);
        prop_assert!(forward.invoices.values().all(|s| s.paid <= s.total));
    }

    /// Credit applied later (by the office, on any replica, in any order) never pays more than
    /// an invoice owes or a payment holds, and the money stays conserved.
    #[test]
    fn credit_applied_later_is_conserved(
        cents in proptest::collection::vec(1u64..50_000, 1..8),
        applications in proptest::collection::vec((0usize..8, 0usize..3, 1u64..40_000), 0..10),
    ) {
        let account = AccountId::new();
        let job = JobId::new();
        let invoices: Vec<Invoice> = (0..3)
            .map(|i| invoice(job, &[("1", &format!("{}.00", 60 * (i + 1)))], "0"))
            .collect();
        let mut payments: Vec<Payment> = cents
            .iter()
            .map(|c| payment(account, &format!("{}.{:02}", c / 100, c % 100), None))
            .collect();
        let n = payments.len();
        for (p, i, c) in applications {
            payments[p % n].credit_applied.push(CreditApplied {
                invoice: invoices[i].id,
                amount: format!("{}.{:02}", c / 100, c % 100).parse().unwrap(),
                at: at(9),
                by: UserId::new(),
            });
        }
        let ledger = Ledger::compute(invoices.iter(), payments.iter());
        let paid: Money = payments.iter().map(|p| p.amount).sum();
        let applied: Money = ledger.invoices.values().map(|s| s.paid).sum();
        prop_assert_eq!(applied + ledger.unapplied_credit, paid);
        prop_assert!(ledger.invoices.values().all(|s| s.paid <= s.total));
        let by_payment: Money = ledger.credit_by_payment.values().copied().sum();
        prop_assert_eq!(by_payment, ledger.unapplied_credit);
        let reversed: Vec<Payment> = payments.iter().rev().cloned().collect();
        prop_assert_eq!(ledger, Ledger::compute(invoices.iter().rev(), reversed.iter()));
    }
}

#[test]
fn an_overpayment_is_credit_that_the_office_applies_to_another_invoice_later() {
    let account = AccountId::new();
    let job = JobId::new();
    let first = invoice(job, &[("1", "100.00")], "0");
    let mut second = invoice(job, &[("1", "50.00")], "0");
    second.number = "INV-1-00002".into();
    let mut paid = payment(account, "130.00", Some(first.id));
    let ledger = Ledger::compute([&first, &second], [&paid]);
    assert_eq!(ledger.invoices[&first.id].status, InvoiceStatus::Paid);
    assert_eq!(
        ledger.invoices[&first.id].payments,
        vec![(paid.id, "100.00".parse().unwrap())]
    );
    assert_eq!(ledger.unapplied_credit.to_string(), "30.00");
    assert_eq!(ledger.credit_by_payment[&paid.id].to_string(), "30.00");
    // The job's open invoice, for the next payment: the second (the first is paid).
    assert_eq!(
        ledger.open_invoice_of([&first, &second], job).map(|i| i.id),
        Some(second.id)
    );
    assert_eq!(ledger.owed_on(second.id).to_string(), "50.00");

    // The office applies 80 of credit to the second invoice: only the 30 there is counts.
    paid.credit_applied.push(CreditApplied {
        invoice: second.id,
        amount: "80.00".parse().unwrap(),
        at: at(9),
        by: UserId::new(),
    });
    let ledger = Ledger::compute([&first, &second], [&paid]);
    assert_eq!(
        ledger.invoices[&second.id].status,
        InvoiceStatus::PartlyPaid
    );
    assert_eq!(ledger.invoices[&second.id].paid.to_string(), "30.00");
    assert_eq!(ledger.unapplied_credit, Money::ZERO);
    assert!(ledger.credit_by_payment.is_empty());
    assert_eq!(ledger.balance.to_string(), "20.00");

    // Credit applied to a void invoice stays credit.
    second.voided = Some(Voided {
        at: at(10),
        by: UserId::new(),
        reason: "duplicate".into(),
    });
    let ledger = Ledger::compute([&first, &second], [&paid]);
    assert_eq!(ledger.unapplied_credit.to_string(), "30.00");
    assert_eq!(ledger.open_invoice_of([&first, &second], job), None);
}

#[test]
fn a_payment_stored_before_credit_could_be_applied_still_reads() {
    let office = writer(Role::Office, "Dana");
    let record = Record::new_payment(payment(AccountId::new(), "12.00", None));
    let (mut doc, _) = office.create(&record, at(0)).unwrap();
    // What an older server wrote: no `credit_applied` key at all.
    let main = match automerge::ReadDoc::get(&doc, automerge::ROOT, "record").unwrap() {
        Some((_, id)) => id,
        None => panic!("no record"),
    };
    doc.delete(&main, "credit_applied").unwrap();
    doc.commit();
    assert_eq!(Record::read(&doc).unwrap(), record);
    crate::incremental::declared_record(&doc, &record).unwrap();
}

#[test]
fn invoice_lines_and_tax_rates_are_read_as_typed() {
    use crate::validate::{parse_invoice_line, parse_tax_rate};
    let line = parse_invoice_line(" Pump seal ", "", "120.50").unwrap();
    assert_eq!(
        (
            line.description.as_str(),
            line.quantity.to_string().as_str()
        ),
        ("Pump seal", "1")
    );
    assert_eq!(line.amount().to_string(), "120.50");
    assert_eq!(parse_tax_rate("8.25%").unwrap().to_string(), "8.25");
    assert_eq!(parse_tax_rate("").unwrap(), Percent::default());
    for (description, quantity, price) in [
        ("", "1", "10"),
        ("Seal", "two", "10"),
        ("Seal", "1", "ten"),
        ("Seal", "0", "10"),
        ("Seal", "1", "10.001"),
    ] {
        assert!(
            parse_invoice_line(description, quantity, price).is_err(),
            "{description:?} {quantity:?} {price:?}"
        );
    }
    assert!(parse_tax_rate("101").is_err());
    assert!(parse_tax_rate("abc").is_err());
}

#[test]
fn a_document_round_trips_through_save_and_load() {
    let office = writer(Role::Office, "Dana");
    let record = Record::new_account(account());
    let (mut doc, _) = office.create(&record, at(0)).unwrap();
    let loaded = AutoCommit::load(&doc.save()).unwrap();
    assert_eq!(Record::read(&loaded).unwrap(), record);
}

mod records_complete;

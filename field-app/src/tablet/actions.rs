//! What a technician does: every action is checked by the shared rules, saved locally and
//! queued in the outbox in one transaction, then handed to the session (pushed at once when
//! online).

use fieldsync_protocol::engine::OutboxItem;
use fieldsync_protocol::validate::{parse_invoice_line, parse_tax_rate};
use fieldsync_protocol::wire::ClientMessage;
use fieldsync_protocol::{
    AccountId, ContactChannel, ContactEntry, ContactId, Day, DocId, InventoryItem, Invoice, JobId,
    JobStatus, Money, Note, NoteId, NoteKind, Payment, Photo, Record, Timestamp, ValidationError,
};

use fieldsync_store::StoreTx;

use super::{InvoiceForm, NewCustomerForm, PaymentForm, PhotoForm, Tablet};
use crate::AppError;
use crate::photo::{self, EncodedImage, PhotoError};

/// Whether the person met gave a way to reach them (then they are the customer's contact).
fn account_record_has_contact(phone: &str, email: &Option<String>) -> bool {
    !phone.trim().is_empty() || email.is_some()
}

impl Tablet {
    /// Saves a local change (and the photo blobs it refers to) and queues it in the outbox in
    /// one transaction, then hands it to the session. `store` stores the change.
    fn save(
        &mut self,
        now: Timestamp,
        id: DocId,
        change: &mut automerge::Change,
        blobs: &[&EncodedImage],
        store: impl FnOnce(&StoreTx<'_>) -> Result<u64, fieldsync_store::StoreError>,
    ) -> Result<Vec<ClientMessage>, AppError> {
        let item = OutboxItem {
            hash: change.hash().0,
            doc: id,
            bytes: change.bytes().to_vec(),
        };
        let tx = self.store.transaction()?;
        for blob in blobs {
            if let Err(refused) = tx.put_blob(&blob.bytes)? {
                return Err(PhotoError::Encode(refused.to_string()).into());
            }
            tx.queue_upload(&blob.hash)?;
        }
        store(&tx)?;
        tx.commit()?;
        let now_ms = now.millis().max(0) as u64;
        let outputs = self.session.local_changes(now_ms, vec![item]);
        let mut send = self.run(outputs)?.0;
        if !blobs.is_empty() && self.session.is_live() {
            send.extend(self.transfers.start_uploads(&self.store)?);
        }
        Ok(send)
    }

    /// Saves new documents together, in one transaction, and queues their first changes in
    /// the outbox in that order (pushed together).
    fn save_new(
        &mut self,
        now: Timestamp,
        docs: Vec<(DocId, automerge::AutoCommit, automerge::Change)>,
    ) -> Result<Vec<ClientMessage>, AppError> {
        let tx = self.store.transaction()?;
        let mut items = Vec::with_capacity(docs.len());
        for (id, mut doc, mut change) in docs {
            tx.record_local(id, &mut doc, &change, true)?;
            items.push(OutboxItem {
                hash: change.hash().0,
                doc: id,
                bytes: change.bytes().to_vec(),
            });
        }
        tx.commit()?;
        let now_ms = now.millis().max(0) as u64;
        let outputs = self.session.local_changes(now_ms, items);
        Ok(self.run(outputs)?.0)
    }

    /// Edits document `id` through its typed content (see [`fieldsync_protocol::Writer::edit`]),
    /// then saves the change with the `blobs` it names. The document and its content come from
    /// the replica's cache, so an edit costs what it changes, not what the document holds.
    fn edit(
        &mut self,
        now: Timestamp,
        id: DocId,
        what: &str,
        blobs: &[&EncodedImage],
        edit: impl FnOnce(&mut Record) -> Result<(), ValidationError>,
    ) -> Result<Vec<ClientMessage>, AppError> {
        let (mut doc, before) = self
            .store
            .load_for_edit(id)?
            .ok_or_else(|| AppError::NotFound(what.to_string()))?;
        let before = match before {
            Some(before) => before,
            None => Record::read(&doc).map_err(fieldsync_protocol::DocumentError::from)?,
        };
        let names = &fieldsync_protocol::system_notes::no_names;
        let Some(edited) = self
            .writer
            .edit_known(&mut doc, &before, now, names, edit)?
        else {
            return Ok(Vec::new());
        };
        let mut change = edited.change.clone();
        self.save(now, id, &mut change, blobs, |tx| {
            tx.record_edit(id, doc, &before, edited, true)
        })
    }

    fn edit_job(
        &mut self,
        now: Timestamp,
        job: JobId,
        edit: impl FnOnce(&mut fieldsync_protocol::JobDoc),
    ) -> Result<Vec<ClientMessage>, AppError> {
        self.edit(
            now,
            job.into(),
            &format!("job {job}"),
            &[],
            |record| match record {
                Record::Job(j) => {
                    edit(j);
                    Ok(())
                }
                _ => Err(ValidationError::Malformed(format!("{job} is not a job"))),
            },
        )
    }

    /// Changes a job's status, along its lifecycle ([`JobStatus::next`]: a refused move says
    /// where the job may go); returns messages to send if connected.
    pub fn set_job_status(
        &mut self,
        now: Timestamp,
        job: JobId,
        status: JobStatus,
    ) -> Result<Vec<ClientMessage>, AppError> {
        self.edit(now, job.into(), &format!("job {job}"), &[], |record| {
            let Record::Job(j) = record else {
                return Err(ValidationError::Malformed(format!("{job} is not a job")));
            };
            j.record.status.check_move(status)?;
            j.record.status = status;
            Ok(())
        })
    }

    /// Records what was used on a job and what it came to: the materials (replacing the list)
    /// and the final amount (`None` clears it).
    pub fn record_job_costs(
        &mut self,
        now: Timestamp,
        job: JobId,
        materials: Vec<InventoryItem>,
        final_amount: Option<Money>,
    ) -> Result<Vec<ClientMessage>, AppError> {
        self.edit_job(now, job, |j| {
            j.record.inventory = materials;
            j.record.final_amount = final_amount;
        })
    }

    /// Adds a note to a job, stamped with the author and time. A site note goes on the job's
    /// site, so that every later visit there shows it; the others on the job.
    pub fn add_job_note(
        &mut self,
        now: Timestamp,
        job: JobId,
        kind: NoteKind,
        text: &str,
    ) -> Result<Vec<ClientMessage>, AppError> {
        let note = Note {
            id: NoteId::new(),
            kind,
            text: text.trim().to_string(),
            author: self.writer.author.user,
            author_name: self.writer.author.name.clone(),
            created_at: now,
        };
        if kind == NoteKind::Site {
            let site = match self.store.job(job)? {
                Some(j) => j.site,
                None => return Err(AppError::NotFound(format!("job {job}"))),
            };
            return self.edit(now, site.into(), "the job's site", &[], |record| {
                let Record::Site(s) = record else {
                    return Err(ValidationError::Malformed(format!("{site} is not a site")));
                };
                s.notes.insert(note.id, note);
                Ok(())
            });
        }
        self.edit_job(now, job, |j| {
            j.notes.insert(note.id, note);
        })
    }

    /// Logs a call, email or visit with customer `account` (with one of its contacts, when
    /// given), as the technician, at `now`.
    pub fn log_contact(
        &mut self,
        now: Timestamp,
        account: AccountId,
        channel: ContactChannel,
        contact: Option<ContactId>,
        summary: &str,
    ) -> Result<Vec<ClientMessage>, AppError> {
        let entry = ContactEntry {
            id: NoteId::new(),
            at: now,
            channel,
            contact,
            summary: summary.trim().to_string(),
            user: self.writer.author.user,
            user_name: self.writer.author.name.clone(),
        };
        self.edit_account(now, account, |a| {
            a.contact_log.insert(entry.id, entry);
            Ok(())
        })
    }

    /// Edits customer `account`'s document through its typed content.
    fn edit_account(
        &mut self,
        now: Timestamp,
        account: AccountId,
        edit: impl FnOnce(&mut fieldsync_protocol::AccountDoc) -> Result<(), ValidationError>,
    ) -> Result<Vec<ClientMessage>, AppError> {
        self.edit(
            now,
            account.into(),
            &format!("customer {account}"),
            &[],
            |record| match record {
                Record::Account(a) => edit(a),
                _ => Err(ValidationError::Malformed(format!(
                    "{account} is not a customer"
                ))),
            },
        )
    }

    /// Sets custom field `name` of customer `account` to what the technician typed or picked,
    /// checked against the company's definition as the tablet last heard it; an empty text
    /// clears it. A field the company no longer defines can only be cleared.
    pub fn set_custom_field(
        &mut self,
        now: Timestamp,
        account: AccountId,
        name: &str,
        typed: &str,
    ) -> Result<Vec<ClientMessage>, AppError> {
        let defs = self.store.custom_fields()?;
        let def = defs.into_iter().find(|d| d.name == name);
        self.edit_account(now, account, |a| {
            if def.is_none() && !a.record.custom_fields.contains_key(name) {
                return Err(ValidationError::CustomField(format!(
                    "{name:?} is not one of the company's custom fields"
                )));
            }
            fieldsync_protocol::custom_fields::set(
                &mut a.record.custom_fields,
                def.as_ref(),
                name,
                typed,
            )
        })
    }

    /// Adds a customer met in the field, offline: the account (with the person met as its
    /// contact), its site at the address typed (also the billing address) and a job there
    /// assigned to the technician, on site now. The office sees all three once they sync, and
    /// the customer is the technician's like any other of their jobs'. Saving the same form
    /// twice makes one customer.
    pub fn create_customer(
        &mut self,
        now: Timestamp,
        form: &NewCustomerForm,
    ) -> Result<Vec<ClientMessage>, AppError> {
        use fieldsync_protocol::{Account, Address, Contact, Job, JobSite, Party, SiteId};
        if self.store.record(form.account.into())?.is_some() {
            return Ok(Vec::new()); // already made: a second tap changes nothing
        }
        let text = |value: &str| value.trim().to_string();
        let optional = |value: &str| Some(value.trim().to_string()).filter(|v| !v.is_empty());
        let required = |field: &'static str, value: &str| {
            if value.trim().is_empty() {
                Err(ValidationError::Required { field })
            } else {
                Ok(value.trim().to_string())
            }
        };
        let name = required("the customer's name", &form.name)?;
        let email = optional(&form.email);
        if let Some(email) = &email
            && !email.contains('@')
        {
            return Err(ValidationError::NotAnEmail(email.clone()).into());
        }
        let address = Address {
            line1: required("the street", &form.street)?,
            line2: None,
            city: required("the city", &form.city)?,
            region: text(&form.region),
            postal_code: text(&form.postal_code),
            country: String::new(),
        };
        let title = required("what the job is", &form.job_title)?;
        let me = self.writer.author.clone();
        let mut account = Account {
            party: if form.business {
                Party::Business
            } else {
                Party::Person
            },
            phone: optional(&form.phone),
            email: email.clone(),
            terms_net_days: 0,
            billing_address: address.clone(),
            comments: format!("Added in the field by {}.", me.name),
            ..Account::new(form.account, name.clone(), now)
        };
        if form.business {
            account.terms_net_days = 30;
        }
        let site_id: SiteId = form.site;
        let mut account_record = Record::new_account(account);
        if let Record::Account(d) = &mut account_record
            && (form.business || account_record_has_contact(&form.phone, &email))
        {
            let contact = Contact {
                id: ContactId::new(),
                name: name.clone(),
                role: String::new(),
                email,
                phone: optional(&form.phone),
                sites: vec![site_id],
                archived_at: None,
            };
            d.contacts.insert(contact.id, contact);
        }
        let site = JobSite {
            id: site_id,
            account: form.account,
            name: address.line1.clone(),
            address,
            access_instructions: String::new(),
            archived_at: None,
        };
        let job = Job {
            id: form.job,
            account: form.account,
            site: site_id,
            title,
            requested_services: Vec::new(),
            pickup_address: None,
            delivery_address: None,
            inventory: Vec::new(),
            estimate: None,
            final_amount: None,
            status: JobStatus::OnSite,
            technicians: [(me.user, now)].into_iter().collect(),
            scheduled_start: Some(now),
            scheduled_end: None,
            created_at: now,
            contact: None,
        };
        let mut docs = Vec::new();
        for (id, record) in [
            (DocId::from(form.account), account_record),
            (site_id.into(), Record::new_site(site)),
            (form.job.into(), Record::new_job(job)),
        ] {
            let (doc, change) = self.writer.create(&record, now)?;
            docs.push((id, doc, change));
        }
        self.save_new(now, docs)
    }

    /// Records a payment typed by the technician. The form's id is made once per payment
    /// form, so a double tap records it once.
    pub fn record_payment(
        &mut self,
        now: Timestamp,
        form: &PaymentForm,
    ) -> Result<Vec<ClientMessage>, AppError> {
        let amount = fieldsync_protocol::validate::parse_payment_amount(&form.amount)?;
        if self.store.record(form.id.into())?.is_some() {
            return Ok(Vec::new()); // already recorded: a second tap changes nothing
        }
        if let Some(invoice) = form.invoice {
            let of_job = match form
                .job
                .map(|job| self.store.record(job.into()))
                .transpose()?
            {
                Some(Some(Record::Job(j))) => {
                    j.account == form.account && j.invoices.contains_key(&invoice)
                }
                _ => false,
            };
            if !of_job {
                return Err(AppError::NotFound(format!("invoice {invoice} of the job")));
            }
        }
        let payment = Payment {
            id: form.id,
            account: form.account,
            job: form.job,
            invoice: form.invoice,
            amount,
            method: form.method,
            reference: form.reference.trim().to_string(),
            received_at: now,
            recorded_by: self.writer.author.user,
            recorded_by_name: self.writer.author.name.clone(),
            credit_applied: Vec::new(),
        };
        let (mut doc, mut change) = self.writer.create(&Record::new_payment(payment), now)?;
        let id = form.id.into();
        let stored = change.clone();
        self.save(now, id, &mut change, &[], |tx| {
            tx.record_local(id, &mut doc, &stored, true)
        })
    }

    /// Issues the invoice written on `form` for its job, numbered with this tablet's device
    /// number (`INV-<device>-<n>`, so that invoices made offline on two tablets never share a
    /// number). Issuing the same form twice issues one invoice. Returns the invoice and the
    /// messages to send if connected.
    pub fn issue_invoice(
        &mut self,
        now: Timestamp,
        form: &InvoiceForm,
    ) -> Result<(Invoice, Vec<ClientMessage>), AppError> {
        let Some(Record::Job(job)) = self.store.record(form.job.into())? else {
            return Err(AppError::NotFound(format!("job {}", form.job)));
        };
        if let Some(issued) = job.invoices.get(&form.id) {
            return Ok((issued.clone(), Vec::new()));
        }
        let lines = form
            .lines
            .iter()
            .filter(|l| !(l.description.trim().is_empty() && l.unit_price.trim().is_empty()))
            .map(|l| parse_invoice_line(&l.description, &l.quantity, &l.unit_price))
            .collect::<Result<Vec<_>, _>>()?;
        if lines.is_empty() {
            return Err(ValidationError::Required {
                field: "an invoice line",
            }
            .into());
        }
        let tax_rate = parse_tax_rate(&form.tax_rate)?;
        let device = self
            .store
            .device_number()?
            .ok_or(AppError::NoDeviceNumber)?;
        let mut invoice = Invoice {
            id: form.id,
            job: form.job,
            number: String::new(),
            date: Day(now.0.with_timezone(&chrono::Local).date_naive()),
            lines,
            tax_rate,
            voided: None,
            signature: None,
            created_by: self.writer.author.user,
            created_at: now,
        };
        if invoice.total() < Money::ZERO {
            return Err(ValidationError::Negative {
                field: "an invoice's total",
                value: invoice.total().to_string(),
            }
            .into());
        }
        let tx = self.store.transaction()?;
        invoice.number = tx.next_invoice_number(device)?.to_string();
        tx.commit()?;
        let issued = invoice.clone();
        let send = self.edit_job(now, form.job, |j| {
            j.invoices.insert(issued.id, issued);
        })?;
        Ok((invoice, send))
    }

    /// Adds the customer's signature to an issued invoice: `strokes` drawn on the signature pad
    /// become a PNG kept on the tablet and queued for upload, and the invoice names the signer
    /// and the time. An invoice is signed once; signing it again changes nothing.
    pub fn sign_invoice(
        &mut self,
        now: Timestamp,
        invoice: fieldsync_protocol::InvoiceId,
        signer: &str,
        strokes: &[crate::signature::Stroke],
    ) -> Result<(Invoice, Vec<ClientMessage>), AppError> {
        let found = self
            .store
            .invoice_with_id(invoice)?
            .pop()
            .ok_or_else(|| AppError::NotFound(format!("invoice {invoice}")))?;
        if found.signature.is_some() {
            return Ok((found, Vec::new()));
        }
        let signer = signer.trim();
        if signer.is_empty() {
            return Err(ValidationError::Required {
                field: "the signer's name",
            }
            .into());
        }
        let image = crate::signature::render(strokes)?;
        let signature = fieldsync_protocol::Signature {
            signer: signer.to_string(),
            signed_at: now,
            image: image.hash,
            image_size: image.bytes.len() as u64,
        };
        let job = found.job;
        let mut signed = found;
        signed.signature = Some(signature.clone());
        let send = self.edit(
            now,
            job.into(),
            &format!("job {job}"),
            &[&image],
            |record| match record {
                Record::Job(j) => {
                    if let Some(on) = j.invoices.get_mut(&invoice) {
                        on.signature.get_or_insert(signature);
                    }
                    Ok(())
                }
                _ => Err(ValidationError::Malformed(format!("{job} is not a job"))),
            },
        )?;
        Ok((signed, send))
    }

    /// Remembers this tablet's device number and the highest counter of its invoice numbers on
    /// the server, as the server said them when the tablet connected: the invoices it issues
    /// carry the number and count on from past the highest.
    pub fn remember_device_number(&mut self, number: u32, highest: u32) -> Result<(), AppError> {
        let tx = self.store.transaction()?;
        if tx.device_number()? != Some(number) {
            tx.set_device_number(number)?;
        }
        tx.invoice_counter_at_least(highest)?;
        tx.commit()?;
        Ok(())
    }

    /// Remembers the company's name, address and phone, as the server said them (invoice PDFs
    /// made on the tablet print them).
    pub fn remember_company(
        &mut self,
        company: &fieldsync_protocol::Company,
    ) -> Result<(), AppError> {
        if &self.store.company()? != company {
            let tx = self.store.transaction()?;
            tx.set_company(company)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Remembers the company's custom field definitions, as the server said them.
    pub fn remember_custom_fields(
        &mut self,
        defs: &[fieldsync_protocol::custom_fields::FieldDef],
    ) -> Result<(), AppError> {
        if self.store.custom_fields()? != defs {
            let tx = self.store.transaction()?;
            tx.set_custom_fields(defs)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Adds a photo to a job or site: the picture is turned upright, downscaled and
    /// thumbnailed ([`photo::process`]); both images are kept on the tablet and queued for
    /// upload, and the photo record is saved and queued like any change. Saving the same form
    /// twice adds one photo. Returns the record and the messages to send if connected.
    pub fn add_photo(
        &mut self,
        now: Timestamp,
        form: &PhotoForm,
        picture: &[u8],
    ) -> Result<(Photo, Vec<ClientMessage>), AppError> {
        if let Some(photo) = self.existing_photo(form)? {
            return Ok((photo, Vec::new()));
        }
        self.add_processed_photo(now, form, &photo::process(picture)?)
    }

    fn existing_photo(&self, form: &PhotoForm) -> Result<Option<Photo>, AppError> {
        Ok(match self.store.record(form.target.doc())? {
            Some(Record::Job(j)) => j.photos.get(&form.id).cloned(),
            Some(Record::Site(s)) => s.photos.get(&form.id).cloned(),
            Some(_) | None => return Err(AppError::NotFound(form.target.to_string())),
        })
    }

    /// [`Tablet::add_photo`] for a picture already processed with [`photo::process`] (which
    /// takes a while for a large picture: a UI runs it without holding the tablet).
    pub fn add_processed_photo(
        &mut self,
        now: Timestamp,
        form: &PhotoForm,
        processed: &photo::ProcessedPhoto,
    ) -> Result<(Photo, Vec<ClientMessage>), AppError> {
        if let Some(photo) = self.existing_photo(form)? {
            return Ok((photo, Vec::new()));
        }
        let target = form.target.doc();
        let photo = Photo {
            id: form.id,
            caption: form.caption.trim().to_string(),
            tag: form.tag,
            taken_at: now,
            author: self.writer.author.user,
            author_name: self.writer.author.name.clone(),
            width: processed.full.width,
            height: processed.full.height,
            full_hash: processed.full.hash,
            full_size: processed.full.bytes.len() as u64,
            thumb_hash: processed.thumb.hash,
            thumb_size: processed.thumb.bytes.len() as u64,
        };
        let added = photo.clone();
        // The thumbnail first: it is what other screens show, and it is small.
        let blobs = [&processed.thumb, &processed.full];
        let what = form.target.to_string();
        let send = self.edit(now, target, &what, &blobs, |record| match record {
            Record::Job(j) => {
                j.photos.insert(added.id, added);
                Ok(())
            }
            Record::Site(s) => {
                s.photos.insert(added.id, added);
                Ok(())
            }
            _ => Err(ValidationError::Malformed(format!(
                "{what} holds no photos"
            ))),
        })?;
        Ok((photo, send))
    }
}

//! Keeping a customer's record up to date for years: editing and archiving job sites and
//! contacts, linking contacts to sites, and the alerts ("pop-up notes") on an account or a
//! site. Nothing here deletes: a site or contact that jobs and history name is archived
//! (hidden from pickers and lists, shown as archived where it is named) and can be restored.

use fieldsync_protocol::{
    AccountId, Address, Alert, ContactId, DocId, NoteId, Record, SiteId, ValidationError,
};
use serde::Deserialize;

use super::accounts::{ContactInput, SiteInput, account};
use super::{Clerk, OfficeError, OfficeResult, edit, now, optional, required};
use crate::AppState;

/// Edits site `id`: its name, address and access instructions.
pub async fn edit_site(
    state: &AppState,
    clerk: &Clerk,
    id: SiteId,
    input: &SiteInput,
) -> OfficeResult<()> {
    clerk.check_office()?;
    let name = required("site name", &input.name)?;
    let address = input.address()?;
    let access = input.access_instructions.trim().to_string();
    edit(state, clerk, id.into(), "site", move |record| {
        let Record::Site(d) = record else {
            return Err(not_a("site"));
        };
        d.record.name = name;
        // Keep a second address line and the country the form does not show.
        let kept = std::mem::take(&mut d.record.address);
        d.record.address = Address {
            line2: kept.line2,
            country: kept.country,
            ..address
        };
        d.record.access_instructions = access;
        Ok(())
    })
    .await?;
    Ok(())
}

/// Archives site `id` (`archived`), or restores it. An archived site keeps its jobs, notes and
/// photos; no new job is booked there.
pub async fn archive_site(
    state: &AppState,
    clerk: &Clerk,
    id: SiteId,
    archived: bool,
) -> OfficeResult<()> {
    clerk.check_office()?;
    let at = now();
    edit(state, clerk, id.into(), "site", move |record| {
        let Record::Site(d) = record else {
            return Err(not_a("site"));
        };
        d.record.archived_at = archived.then_some(at);
        Ok(())
    })
    .await?;
    Ok(())
}

/// A contact as edited: its details and the sites it looks after.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContactEdit {
    /// Name, role, email and phone.
    #[serde(flatten)]
    pub contact: ContactInput,
    /// The sites (ids of the account's sites) this contact is the one to call at.
    pub sites: Vec<String>,
}

/// Edits contact `contact` of account `id`.
pub async fn edit_contact(
    state: &AppState,
    clerk: &Clerk,
    id: AccountId,
    contact: ContactId,
    input: &ContactEdit,
) -> OfficeResult<()> {
    clerk.check_office()?;
    let name = required("contact name", &input.contact.name)?;
    let email = optional(Some(&input.contact.email));
    if let Some(email) = &email
        && !email.contains('@')
    {
        return Err(OfficeError::Invalid(format!(
            "email {email:?} is not an email address"
        )));
    }
    let phone = optional(Some(&input.contact.phone));
    let role = input.contact.role.trim().to_string();
    let owned = state
        .db()
        .read(move |store| Ok(store.sites_for_account(id)?))
        .await?;
    let mut sites = Vec::new();
    for text in input.sites.iter().filter(|s| !s.trim().is_empty()) {
        let site: SiteId = super::parse_id("site", text)?;
        if !owned.iter().any(|s| s.id == site) {
            return Err(OfficeError::Invalid(
                "a contact can only be linked to the customer's own sites".into(),
            ));
        }
        if !sites.contains(&site) {
            sites.push(site);
        }
    }
    edit_contact_record(state, clerk, id, contact, move |c| {
        c.name = name;
        c.role = role;
        c.email = email;
        c.phone = phone;
        c.sites = sites;
    })
    .await
}

/// Changes contact `contact` of account `id` with `change`; not found when the customer has
/// no such contact.
async fn edit_contact_record(
    state: &AppState,
    clerk: &Clerk,
    id: AccountId,
    contact: ContactId,
    change: impl FnOnce(&mut fieldsync_protocol::Contact) + Send,
) -> OfficeResult<()> {
    let missing = "no such contact on this customer";
    let result = edit(state, clerk, DocId::from(id), "account", move |record| {
        let Record::Account(d) = record else {
            return Err(not_a("account"));
        };
        let c = d
            .contacts
            .get_mut(&contact)
            .ok_or_else(|| ValidationError::Malformed(missing.into()))?;
        change(c);
        Ok(())
    })
    .await;
    match result {
        Err(OfficeError::Invalid(why)) if why.contains(missing) => {
            Err(OfficeError::NotFound("contact".into()))
        }
        other => other.map(|_| ()),
    }
}

/// Archives contact `contact` of account `id` (`archived`), or restores it.
pub async fn archive_contact(
    state: &AppState,
    clerk: &Clerk,
    id: AccountId,
    contact: ContactId,
    archived: bool,
) -> OfficeResult<()> {
    clerk.check_office()?;
    let at = now();
    edit_contact_record(state, clerk, id, contact, move |c| {
        c.archived_at = archived.then_some(at)
    })
    .await
}

fn not_a(what: &str) -> ValidationError {
    ValidationError::Malformed(format!("the document is not a {what}"))
}

/// The document of account `id`, or of its site `site` (what alerts and files are kept on),
/// checked to be the account's. Found from the projections, without loading the document (a
/// site's holds years of notes).
pub(super) async fn account_or_site_doc(
    state: &AppState,
    id: AccountId,
    site: Option<SiteId>,
) -> OfficeResult<DocId> {
    let doc = site.map(DocId::from).unwrap_or(DocId::from(id));
    let owner = state
        .db()
        .read(move |store| Ok(store.doc_account(doc)?))
        .await?;
    if owner != Some(id) {
        let what = if site.is_some() { "site" } else { "customer" };
        return Err(OfficeError::NotFound(what.into()));
    }
    Ok(doc)
}

/// Adds an alert to account `id`, or to its site `site`; returns its id.
pub async fn add_alert(
    state: &AppState,
    clerk: &Clerk,
    id: AccountId,
    site: Option<SiteId>,
    text: &str,
) -> OfficeResult<NoteId> {
    clerk.check_office()?;
    let alert = Alert {
        id: NoteId::new(),
        text: required("alert text", text)?,
        author: clerk.user,
        author_name: clerk.name.clone(),
        created_at: now(),
    };
    let alert_id = alert.id;
    let doc = account_or_site_doc(state, id, site).await?;
    account(state, id).await?;
    edit(state, clerk, doc, "record", move |record| {
        match record {
            Record::Account(d) => d.alerts.insert(alert.id, alert),
            Record::Site(d) => d.alerts.insert(alert.id, alert),
            _ => return Err(not_a("account or site")),
        };
        Ok(())
    })
    .await?;
    Ok(alert_id)
}

/// Removes alert `alert` from account `id` or its site `site`.
pub async fn remove_alert(
    state: &AppState,
    clerk: &Clerk,
    id: AccountId,
    site: Option<SiteId>,
    alert: NoteId,
) -> OfficeResult<()> {
    clerk.check_office()?;
    let doc = account_or_site_doc(state, id, site).await?;
    let alerts = state.db().read(move |store| Ok(store.alerts(doc)?)).await?;
    if !alerts.iter().any(|a| a.id == alert) {
        return Err(OfficeError::NotFound("alert".into()));
    }
    edit(state, clerk, doc, "record", move |record| {
        match record {
            Record::Account(d) => d.alerts.remove(&alert),
            Record::Site(d) => d.alerts.remove(&alert),
            _ => return Err(not_a("account or site")),
        };
        Ok(())
    })
    .await?;
    Ok(())
}

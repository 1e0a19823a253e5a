//! Custom fields: the company's definitions, managed here, and an account's values, set from
//! the customer page. The rules (types, limits, how values are shown) are
//! `fieldsync_protocol::custom_fields`, shared with the tablet.

use fieldsync_protocol::custom_fields::{self, FieldDef, FieldKind};
use fieldsync_protocol::{AccountId, Record};
use serde::Deserialize;

use super::{Clerk, OfficeError, OfficeResult, edit};
use crate::AppState;
use crate::zone::Zone;

/// A definition as typed in the office: choices one per line or comma-separated.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct FieldInput {
    /// The field's name (only when adding: a field is never renamed, its values are keyed by it).
    pub name: String,
    /// `text`, `number`, `date`, `yes_no` or `choice`.
    pub kind: String,
    /// The choices of a choice field.
    pub choices: String,
}

impl FieldInput {
    fn def(&self, name: &str) -> OfficeResult<FieldDef> {
        let kind: FieldKind = self.kind.trim().parse().map_err(|_| {
            OfficeError::Invalid(format!(
                "a custom field's type is one of {}, not {:?}",
                FieldKind::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.kind.trim()
            ))
        })?;
        let choices = match kind {
            FieldKind::Choice => self
                .choices
                .split(['\n', ','])
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        Ok(FieldDef {
            name: name.trim().to_string(),
            kind,
            choices,
        })
    }
}

/// The company's definitions, in order.
pub async fn definitions(state: &AppState) -> OfficeResult<Vec<FieldDef>> {
    Ok(state.db().read(|store| Ok(store.custom_fields()?)).await?)
}

/// Changes the definitions with `change` and stores them, checked, in one transaction.
async fn change_definitions(
    state: &AppState,
    clerk: &Clerk,
    change: impl FnOnce(&mut Vec<FieldDef>) -> OfficeResult<()> + Send + 'static,
) -> OfficeResult<Vec<FieldDef>> {
    clerk.check_office()?;
    state
        .db()
        .run(move |store| {
            let tx = store.transaction()?;
            let mut defs = tx.custom_fields()?;
            if let Err(e) =
                change(&mut defs).and_then(|()| Ok(custom_fields::check_definitions(&defs)?))
            {
                return Ok(Err(e));
            }
            tx.set_custom_fields(&defs)?;
            tx.commit()?;
            Ok(Ok(defs))
        })
        .await?
}

/// Adds a field at the end of the list.
pub async fn add(state: &AppState, clerk: &Clerk, input: &FieldInput) -> OfficeResult<FieldDef> {
    let def = input.def(&input.name)?;
    def.check()?;
    let added = def.clone();
    change_definitions(state, clerk, move |defs| {
        defs.push(def);
        Ok(())
    })
    .await?;
    Ok(added)
}

/// Changes the type or choices of the field `name`. Values already stored are kept as they
/// are (a value that no longer fits shows as typed until someone sets it again).
pub async fn change(
    state: &AppState,
    clerk: &Clerk,
    name: &str,
    input: &FieldInput,
) -> OfficeResult<FieldDef> {
    let def = input.def(name)?;
    let changed = def.clone();
    let name = name.to_string();
    change_definitions(state, clerk, move |defs| {
        let slot = defs
            .iter_mut()
            .find(|d| d.name == name)
            .ok_or_else(|| OfficeError::NotFound(format!("custom field {name:?}")))?;
        *slot = def;
        Ok(())
    })
    .await?;
    Ok(changed)
}

/// Removes the field `name` from the definitions. Accounts keep their values, shown under
/// the name as a field no longer defined, until someone clears them.
pub async fn remove(state: &AppState, clerk: &Clerk, name: &str) -> OfficeResult<()> {
    let name = name.to_string();
    change_definitions(state, clerk, move |defs| {
        let before = defs.len();
        defs.retain(|d| d.name != name);
        if defs.len() == before {
            return Err(OfficeError::NotFound(format!("custom field {name:?}")));
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Sets custom fields of account `id` to what was typed (name, text), each checked against
/// its definition; an empty text clears the field. Returns whether anything changed.
pub async fn set_values(
    state: &AppState,
    clerk: &Clerk,
    id: AccountId,
    typed: Vec<(String, String)>,
) -> OfficeResult<bool> {
    clerk.check_office()?;
    let defs = definitions(state).await?;
    edit(state, clerk, id.into(), "account", move |record| {
        let Record::Account(d) = record else {
            return Err(fieldsync_protocol::ValidationError::Malformed(
                "not an account".into(),
            ));
        };
        for (name, text) in &typed {
            // A form sends every field: those left as they were are not checked again (a
            // value typed under an older definition stays until someone changes it).
            let stored = d.record.custom_fields.get(name).map_or("", String::as_str);
            if stored == text.trim() {
                continue;
            }
            let def = defs.iter().find(|d| &d.name == name);
            if def.is_none() && !d.record.custom_fields.contains_key(name) {
                return Err(fieldsync_protocol::ValidationError::CustomField(format!(
                    "{name:?} is not one of the company's custom fields"
                )));
            }
            custom_fields::set(&mut d.record.custom_fields, def, name, text)?;
        }
        Ok(())
    })
    .await
}

/// Sets the company's time zone to the one called `name` (an IANA name); returns it. The
/// office page shows and reads every time in it from the next page on; documents keep their
/// instants, so nothing stored changes.
pub async fn set_time_zone(state: &AppState, clerk: &Clerk, name: &str) -> OfficeResult<Zone> {
    clerk.check_office()?;
    let zone = Zone::named(name).map_err(OfficeError::Invalid)?;
    state
        .db()
        .run(move |store| {
            let tx = store.transaction()?;
            let mut company = tx.company()?;
            company.time_zone = zone.name().to_string();
            tx.set_company(&company)?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    tracing::info!(user = %clerk.name, zone = zone.name(), "the company's time zone changed");
    Ok(zone)
}

//! Custom fields: company-wide definitions (a name and a type) that the office manages, and the
//! values an account holds for them (`Account::custom_fields`, text by field name).
//!
//! The definitions live on the server and reach the tablet when it connects, like the company
//! it names on invoices. Values are checked against the definitions where they are typed (the
//! office page and API, the tablet's form), not where they are synced: an edit made offline
//! under yesterday's definitions must not be refused because the office changed a type since.
//! The sync boundary only bounds them ([`crate::validate`]). A value whose field is no longer
//! defined is kept and still shown, under its name.

use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::records::string_enum;

string_enum!(
    /// What a custom field holds.
    FieldKind {
        /// Any text on one line.
        Text = "text",
        /// A decimal number.
        Number = "number",
        /// A date, `YYYY-MM-DD`.
        Date = "date",
        /// Yes or no.
        YesNo = "yes_no",
        /// One of the definition's choices.
        Choice = "choice",
    }
);

impl FieldKind {
    /// How a person calls it.
    pub fn label(self) -> &'static str {
        match self {
            FieldKind::Text => "Text",
            FieldKind::Number => "Number",
            FieldKind::Date => "Date",
            FieldKind::YesNo => "Yes/no",
            FieldKind::Choice => "Choice",
        }
    }
}

/// The stored text of "yes" and "no".
pub const YES: &str = "yes";
/// See [`YES`].
pub const NO: &str = "no";

/// Most custom fields a company defines.
pub const MAX_DEFINITIONS: usize = 40;
/// Most choices of one field.
pub const MAX_CHOICES: usize = 20;
/// Most characters of a field's name or of one of its choices.
pub const MAX_NAME_CHARS: usize = 60;
/// Most bytes of all names and choices together: the definitions travel in the header of the
/// server's answer when a tablet connects, which the tablet reads up to 64 KiB.
pub const MAX_DEFINITION_BYTES: usize = 6 * 1024;
/// Most custom field values an account holds (defined or not).
pub const MAX_VALUES: usize = 100;

/// One company-wide custom field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    /// Its name, also the key of its values on every account.
    pub name: String,
    /// What it holds.
    pub kind: FieldKind,
    /// For [`FieldKind::Choice`], the choices in order (empty otherwise).
    #[serde(default)]
    pub choices: Vec<String>,
}

impl FieldDef {
    /// A field called `name` holding `kind`, with `choices` (for a choice field).
    pub fn new(name: &str, kind: FieldKind, choices: &[&str]) -> FieldDef {
        FieldDef {
            name: name.into(),
            kind,
            choices: choices.iter().map(|c| c.to_string()).collect(),
        }
    }
}

fn invalid(text: String) -> ValidationError {
    ValidationError::CustomField(text)
}

fn name_ok(what: &str, name: &str) -> Result<(), ValidationError> {
    if name.trim().is_empty() {
        return Err(invalid(format!("{what} is required")));
    }
    if name.trim() != name || name.contains(['\n', '\r']) {
        return Err(invalid(format!(
            "{what} {name:?} must be one line without spaces around it"
        )));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(invalid(format!(
            "{what} may be at most {MAX_NAME_CHARS} characters long, not {chars}"
        )));
    }
    Ok(())
}

impl FieldDef {
    /// Checks the definition on its own: a name, and choices exactly for a choice field.
    pub fn check(&self) -> Result<(), ValidationError> {
        name_ok("a custom field's name", &self.name)?;
        match self.kind {
            FieldKind::Choice => {
                if self.choices.is_empty() {
                    return Err(invalid(format!(
                        "the choice field {:?} needs at least one choice",
                        self.name
                    )));
                }
                if self.choices.len() > MAX_CHOICES {
                    return Err(invalid(format!(
                        "a field has at most {MAX_CHOICES} choices, not {}",
                        self.choices.len()
                    )));
                }
                for (i, choice) in self.choices.iter().enumerate() {
                    name_ok("a choice", choice)?;
                    if self.choices[..i].contains(choice) {
                        return Err(invalid(format!("the choice {choice:?} is listed twice")));
                    }
                }
            }
            _ if !self.choices.is_empty() => {
                return Err(invalid(format!(
                    "only a choice field has choices, and {:?} is a {} field",
                    self.name,
                    self.kind.label().to_lowercase()
                )));
            }
            _ => {}
        }
        Ok(())
    }

    /// The value to store for what a person typed or picked, or why it cannot be stored. An
    /// empty text clears the field (`None`). Numbers are stored as typed once checked
    /// (`12.5`), dates as `YYYY-MM-DD`, yes/no as [`YES`] or [`NO`].
    pub fn parse(&self, typed: &str) -> Result<Option<String>, ValidationError> {
        let typed = typed.trim();
        if typed.is_empty() {
            return Ok(None);
        }
        let name = &self.name;
        let value = match self.kind {
            FieldKind::Text => {
                if typed.contains(['\n', '\r']) {
                    return Err(invalid(format!("{name} is one line of text")));
                }
                typed.to_string()
            }
            FieldKind::Number => typed
                .parse::<rust_decimal::Decimal>()
                .map_err(|_| {
                    invalid(format!(
                        "{name} is a number such as 12 or 3.5, not {typed:?}"
                    ))
                })?
                .normalize()
                .to_string(),
            FieldKind::Date => chrono::NaiveDate::parse_from_str(typed, "%Y-%m-%d")
                .map_err(|_| {
                    invalid(format!(
                        "{name} is a date such as 2026-03-31, not {typed:?}"
                    ))
                })?
                .format("%Y-%m-%d")
                .to_string(),
            FieldKind::YesNo => match typed.to_lowercase().as_str() {
                "yes" | "y" | "true" => YES.to_string(),
                "no" | "n" | "false" => NO.to_string(),
                _ => return Err(invalid(format!("{name} is yes or no, not {typed:?}"))),
            },
            FieldKind::Choice => self
                .choices
                .iter()
                .find(|c| c.eq_ignore_ascii_case(typed))
                .cloned()
                .ok_or_else(|| {
                    invalid(format!(
                        "{name} is one of {}, not {typed:?}",
                        self.choices.join(", ")
                    ))
                })?,
        };
        let chars = value.chars().count();
        if chars > crate::validate::MAX_FIELD_CHARS {
            return Err(invalid(format!(
                "{name} may be at most {} characters long, not {chars}",
                crate::validate::MAX_FIELD_CHARS
            )));
        }
        Ok(Some(value))
    }
}

/// Checks a company's definitions together: each on its own, at most [`MAX_DEFINITIONS`],
/// names unique.
pub fn check_definitions(defs: &[FieldDef]) -> Result<(), ValidationError> {
    if defs.len() > MAX_DEFINITIONS {
        return Err(invalid(format!(
            "a company has at most {MAX_DEFINITIONS} custom fields, not {}",
            defs.len()
        )));
    }
    for (i, def) in defs.iter().enumerate() {
        def.check()?;
        if defs[..i].iter().any(|d| d.name == def.name) {
            return Err(invalid(format!(
                "there is already a custom field named {:?}",
                def.name
            )));
        }
    }
    let bytes: usize = defs
        .iter()
        .flat_map(|d| std::iter::once(&d.name).chain(&d.choices))
        .map(String::len)
        .sum();
    if bytes > MAX_DEFINITION_BYTES {
        return Err(invalid(format!(
            "the custom fields' names and choices may take at most {MAX_DEFINITION_BYTES} bytes together, not {bytes}"
        )));
    }
    Ok(())
}

/// Checks an account's custom field values as the sync boundary does, whatever the
/// definitions: at most [`MAX_VALUES`], names as for definitions, values one bounded line.
pub fn check_values(
    values: &std::collections::BTreeMap<String, String>,
) -> Result<(), ValidationError> {
    if values.len() > MAX_VALUES {
        return Err(invalid(format!(
            "an account holds at most {MAX_VALUES} custom fields, not {}",
            values.len()
        )));
    }
    for (name, value) in values {
        name_ok("a custom field's name", name)?;
        let chars = value.chars().count();
        if chars > crate::validate::MAX_FIELD_CHARS {
            return Err(invalid(format!(
                "{name} may be at most {} characters long, not {chars}",
                crate::validate::MAX_FIELD_CHARS
            )));
        }
    }
    Ok(())
}

/// One field as a customer page shows it: defined fields first in the company's order (with
/// their value, possibly empty), then values of fields no longer defined, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldValue {
    /// The field's name.
    pub name: String,
    /// Its definition (`None` for a value whose field is no longer defined).
    pub def: Option<FieldDef>,
    /// The stored value ("" when none).
    pub value: String,
}

impl FieldValue {
    /// The value as a person reads it ("Yes" for [`YES`]).
    pub fn shown(&self) -> String {
        match (&self.def, self.value.as_str()) {
            (Some(d), YES) if d.kind == FieldKind::YesNo => "Yes".into(),
            (Some(d), NO) if d.kind == FieldKind::YesNo => "No".into(),
            (_, value) => value.to_string(),
        }
    }
}

/// An account's fields as shown: see [`FieldValue`].
pub fn shown(
    defs: &[FieldDef],
    values: &std::collections::BTreeMap<String, String>,
) -> Vec<FieldValue> {
    let mut out: Vec<FieldValue> = defs
        .iter()
        .map(|def| FieldValue {
            name: def.name.clone(),
            value: values.get(&def.name).cloned().unwrap_or_default(),
            def: Some(def.clone()),
        })
        .collect();
    out.extend(
        values
            .iter()
            .filter(|(name, _)| !defs.iter().any(|d| &d.name == *name))
            .map(|(name, value)| FieldValue {
                name: name.clone(),
                def: None,
                value: value.clone(),
            }),
    );
    out
}

/// Sets the field `name` of `values` to what was typed, checked against its definition
/// (`None` when the company no longer defines it: it can then only be cleared).
pub fn set(
    values: &mut std::collections::BTreeMap<String, String>,
    def: Option<&FieldDef>,
    name: &str,
    typed: &str,
) -> Result<(), ValidationError> {
    let value = match def {
        Some(def) => def.parse(typed)?,
        None if typed.trim().is_empty() => None,
        None => {
            return Err(invalid(format!(
                "{name} is no longer a custom field of the company; it can only be cleared"
            )));
        }
    };
    match value {
        Some(value) => values.insert(name.to_string(), value),
        None => values.remove(name),
    };
    check_values(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn def(name: &str, kind: FieldKind, choices: &[&str]) -> FieldDef {
        FieldDef {
            name: name.into(),
            kind,
            choices: choices.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn values_are_checked_and_normalized_by_type() {
        let number = def("Tonnage", FieldKind::Number, &[]);
        assert_eq!(number.parse(" 3.50 ").unwrap().as_deref(), Some("3.5"));
        assert!(
            number
                .parse("three")
                .unwrap_err()
                .to_string()
                .contains("number")
        );
        let date = def("Warranty until", FieldKind::Date, &[]);
        assert_eq!(
            date.parse("2027-01-31").unwrap().as_deref(),
            Some("2027-01-31")
        );
        assert!(date.parse("31/01/2027").is_err());
        let yes = def("Has dog", FieldKind::YesNo, &[]);
        assert_eq!(yes.parse("Yes").unwrap().as_deref(), Some(YES));
        assert_eq!(yes.parse("n").unwrap().as_deref(), Some(NO));
        assert!(yes.parse("maybe").is_err());
        let choice = def("Gate", FieldKind::Choice, &["Code", "Key", "Open"]);
        assert_eq!(choice.parse("key").unwrap().as_deref(), Some("Key"));
        assert!(
            choice
                .parse("Ladder")
                .unwrap_err()
                .to_string()
                .contains("Code, Key, Open")
        );
        assert_eq!(
            def("Notes", FieldKind::Text, &[]).parse("  ").unwrap(),
            None
        );
        assert!(def("Notes", FieldKind::Text, &[]).parse("a\nb").is_err());
    }

    #[test]
    fn definitions_are_checked_together() {
        assert!(check_definitions(&[def("Gate", FieldKind::Choice, &[])]).is_err());
        assert!(check_definitions(&[def("Gate", FieldKind::Text, &["x"])]).is_err());
        assert!(check_definitions(&[def(" Gate", FieldKind::Text, &[])]).is_err());
        assert!(check_definitions(&[def("Gate", FieldKind::Choice, &["A", "A"])]).is_err());
        assert!(
            check_definitions(&[
                def("Gate", FieldKind::Text, &[]),
                def("Gate", FieldKind::Number, &[])
            ])
            .is_err()
        );
        let many: Vec<FieldDef> = (0..=MAX_DEFINITIONS)
            .map(|i| def(&format!("F{i}"), FieldKind::Text, &[]))
            .collect();
        assert!(check_definitions(&many).is_err());
        assert!(check_definitions(&many[..MAX_DEFINITIONS]).is_ok());
    }

    #[test]
    fn values_of_fields_no_longer_defined_are_kept_and_shown_after_the_defined_ones() {
        let defs = [
            def("Has dog", FieldKind::YesNo, &[]),
            def("Gate", FieldKind::Text, &[]),
        ];
        let mut values = BTreeMap::from([
            ("Old field".to_string(), "kept".to_string()),
            ("Has dog".to_string(), YES.to_string()),
        ]);
        let shown = shown(&defs, &values);
        let names: Vec<_> = shown.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["Has dog", "Gate", "Old field"]);
        assert_eq!(shown[0].shown(), "Yes");
        assert_eq!(shown[1].value, "");
        assert!(set(&mut values, None, "Old field", "changed").is_err());
        set(&mut values, None, "Old field", "").unwrap();
        set(&mut values, Some(&defs[1]), "Gate", "code 1234").unwrap();
        assert_eq!(
            values,
            BTreeMap::from([
                ("Gate".to_string(), "code 1234".to_string()),
                ("Has dog".to_string(), YES.to_string())
            ])
        );
    }
}

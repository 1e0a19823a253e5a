//! Account search: any part of an account's name, type, contact names or emails,
//! case-insensitive. Words of three or more characters go through the FTS5 trigram index;
//! shorter ones (which trigrams cannot match) through LIKE on the stored search text.

use rusqlite::Connection;
use rusqlite::types::Value;

use crate::queries::{AccountSummary, SUMMARY_COLUMNS, summary};
use crate::{Result, queries};

/// Accounts whose search text contains every word of `query`, best matches first; every
/// account (by name) for an empty query.
pub(crate) fn search_accounts(
    conn: &Connection,
    query: &str,
    limit: usize,
) -> Result<Vec<AccountSummary>> {
    let query = query.to_lowercase();
    let words: Vec<&str> = query.split_whitespace().collect();
    if words.is_empty() {
        return queries::accounts(conn, Some(limit));
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let (long, short): (Vec<&str>, Vec<&str>) = words.iter().partition(|w| w.chars().count() >= 3);
    let mut params: Vec<Value> = Vec::new();
    let mut conditions: Vec<String> = Vec::new();
    let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM accounts a");
    if !long.is_empty() {
        // Each word a quoted FTS5 string (a substring with the trigram tokenizer), all required.
        let fts: Vec<String> = long
            .iter()
            .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
            .collect();
        sql.push_str(" JOIN account_search ON account_search.rowid = a.rid");
        conditions.push(format!("account_search MATCH ?{}", params.len() + 1));
        params.push(Value::Text(fts.join(" AND ")));
    }
    conditions.push(queries::NOT_MERGED.to_string());
    for word in short {
        let escaped = word
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        conditions.push(format!("a.search LIKE ?{} ESCAPE '\\'", params.len() + 1));
        params.push(Value::Text(format!("%{escaped}%")));
    }
    sql.push_str(" WHERE ");
    sql.push_str(&conditions.join(" AND "));
    sql.push_str(if long.is_empty() {
        " ORDER BY a.name COLLATE NOCASE"
    } else {
        " ORDER BY account_search.rank, a.name COLLATE NOCASE"
    });
    sql.push_str(&format!(" LIMIT ?{}", params.len() + 1));
    params.push(Value::Integer(limit));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params), summary)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::{AccountType, Record, Role};

    use crate::Store;
    use crate::testing::{account, add_contact, create, writer};

    fn names(store: &Store, query: &str) -> Vec<String> {
        store
            .search_accounts(query, 10)
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect()
    }

    #[test]
    fn finds_accounts_by_any_part_of_name_type_contact_or_email() {
        let office = writer(Role::Office);
        let mut store = Store::open_in_memory().unwrap();
        let mut acme = account("Acme Plumbing");
        add_contact(&mut acme, "Dana Whitfield", "dana@pipes.example");
        create(&mut store, &office, &acme);
        let mut bolt = account("Bolt & Nut Café");
        if let Record::Account(a) = &mut bolt {
            a.record.account_type = AccountType::Prospect;
        }
        create(&mut store, &office, &bolt);

        assert_eq!(names(&store, "plumb"), ["Acme Plumbing"]);
        assert_eq!(
            names(&store, "CME PL"),
            ["Acme Plumbing"],
            "case-insensitive, words anywhere"
        );
        assert_eq!(names(&store, "whitf"), ["Acme Plumbing"], "contact name");
        assert_eq!(
            names(&store, "pipes.exam"),
            ["Acme Plumbing"],
            "contact email"
        );
        assert_eq!(names(&store, "prospect"), ["Bolt & Nut Café"], "type");
        assert_eq!(names(&store, "café"), ["Bolt & Nut Café"]);
        assert_eq!(
            names(&store, "&"),
            ["Bolt & Nut Café"],
            "short queries use LIKE"
        );
        assert_eq!(names(&store, "ac"), ["Acme Plumbing"]);
        assert_eq!(
            names(&store, "%"),
            Vec::<String>::new(),
            "LIKE wildcards are literal"
        );
        assert_eq!(names(&store, "\"quoted"), Vec::<String>::new());
        assert_eq!(names(&store, "customer").len(), 1);
        assert_eq!(names(&store, "").len(), 2);
        assert_eq!(store.search_accounts("", 1).unwrap().len(), 1);
        assert!(names(&store, "zzz").is_empty());

        // Renaming updates the index; the old name is no longer found.
        let doc = acme.doc_id();
        let mut document = store.load(doc).unwrap().unwrap();
        let change = crate::testing::edit(&mut document, &office, |r| {
            let Record::Account(a) = r else {
                unreachable!()
            };
            a.record.name = "Zenith Heating".into();
            a.record.email = None;
        });
        let tx = store.transaction().unwrap();
        tx.record_local(doc, &mut document, &change, false).unwrap();
        tx.commit().unwrap();
        assert!(names(&store, "plumb").is_empty());
        assert_eq!(names(&store, "zenith"), ["Zenith Heating"]);
    }
}

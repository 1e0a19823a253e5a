//! Account search: any part of an account's name, type, number, email, phone, billing address,
//! contact names, emails and phones, or of one of its sites' names and addresses,
//! case-insensitive. Words of three or more characters go through the FTS5 trigram indexes;
//! shorter ones (which trigrams cannot match) through LIKE on the stored search text.

use rusqlite::Connection;
use rusqlite::types::Value;

use crate::queries::{AccountSummary, SUMMARY_COLUMNS, summary};
use crate::{Result, queries};

/// Accounts whose search text, or one of whose sites' search text, contains every word of
/// `query` (a phone number typed with punctuation is looked up by its digits), by name; every
/// account (by name) for an empty query. At most `limit`.
pub(crate) fn search_accounts(
    conn: &Connection,
    query: &str,
    limit: usize,
) -> Result<Vec<AccountSummary>> {
    let (condition, params) = matching(query);
    page(conn, &condition, params, 0, limit)
}

/// One page of what [`search_accounts`] finds: `limit` accounts from `offset`, and how many
/// match in all (so a long list says how long it is instead of stopping silently).
pub(crate) fn search_accounts_page(
    conn: &Connection,
    query: &str,
    offset: usize,
    limit: usize,
) -> Result<(Vec<AccountSummary>, usize)> {
    let (condition, params) = matching(query);
    let found = page(conn, &condition, params.clone(), offset, limit)?;
    // A page that is not full is the end of the list: its count is known without a count.
    if !found.is_empty() && found.len() < limit {
        let total = offset + found.len();
        return Ok((found, total));
    }
    let sql = format!("SELECT count(*) FROM accounts a WHERE {condition}");
    let total: i64 = conn
        .prepare_cached(&sql)?
        .query_row(rusqlite::params_from_iter(params.iter()), |row| row.get(0))?;
    Ok((found, usize::try_from(total).unwrap_or(0)))
}

/// The accounts matching `condition` (over `a`, with `params`), by name, `limit` from `offset`.
fn page(
    conn: &Connection,
    condition: &str,
    mut params: Vec<Value>,
    offset: usize,
    limit: usize,
) -> Result<Vec<AccountSummary>> {
    let n = params.len();
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM accounts a WHERE {condition}
         ORDER BY a.name COLLATE NOCASE, a.rid LIMIT ?{} OFFSET ?{}",
        n + 1,
        n + 2
    );
    params.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    params.push(Value::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params), summary)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The condition (over `a`, the accounts) that every word of `query` matches, and its
/// parameters; accounts not merged into another when there are no words.
fn matching(query: &str) -> (String, Vec<Value>) {
    let query = query.to_lowercase();
    let words: Vec<String> = query
        .split_whitespace()
        .map(fieldsync_protocol::views::search_word)
        .filter(|w| !w.is_empty())
        .collect();
    let mut params: Vec<Value> = Vec::new();
    let mut conditions: Vec<String> = vec![queries::NOT_MERGED.to_string()];
    for word in &words {
        let n = params.len() + 1;
        if word.chars().count() >= 3 {
            // A quoted FTS5 string: a substring, with the trigram tokenizer.
            conditions.push(format!(
                "(a.rid IN (SELECT rowid FROM account_search WHERE account_search MATCH ?{n})
                  OR a.id IN (SELECT s.account FROM sites s
                              WHERE s.rowid IN (SELECT rowid FROM site_search
                                                WHERE site_search MATCH ?{n})))"
            ));
            params.push(Value::Text(format!("\"{}\"", word.replace('"', "\"\""))));
        } else {
            // Trigrams cannot match one or two characters: LIKE on the stored text.
            conditions.push(format!(
                "(a.search LIKE ?{n} ESCAPE '\\'
                  OR a.id IN (SELECT account FROM sites WHERE search LIKE ?{n} ESCAPE '\\'))"
            ));
            let escaped = word
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            params.push(Value::Text(format!("%{escaped}%")));
        }
    }
    (conditions.join(" AND "), params)
}

/// Migration hook (0018): the search text of every site, and of every account (now with
/// phones and the billing address), recomputed from the stored records; then both indexes
/// rebuilt.
pub(crate) fn fill(tx: &rusqlite::Transaction<'_>) -> rusqlite_migration::HookResult {
    let sites: Vec<(Vec<u8>, String)> = tx
        .prepare("SELECT id, json FROM sites")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update = tx.prepare("UPDATE sites SET search = ?2 WHERE id = ?1")?;
    for (id, json) in sites {
        // A row that does not read as a site keeps no search text (it is rewritten with the
        // document's next change).
        if let Ok(site) = serde_json::from_str::<fieldsync_protocol::JobSite>(&json) {
            update.execute(rusqlite::params![
                id,
                fieldsync_protocol::views::site_search_text(&site)
            ])?;
        }
    }
    let accounts: Vec<(Vec<u8>, String)> = tx
        .prepare("SELECT id, json FROM accounts")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut contacts_of = tx.prepare("SELECT json FROM contacts WHERE account = ?1")?;
    let mut update = tx.prepare("UPDATE accounts SET search = ?2 WHERE id = ?1")?;
    for (id, json) in accounts {
        let Ok(account) = serde_json::from_str::<fieldsync_protocol::Account>(&json) else {
            continue;
        };
        let contacts: Vec<fieldsync_protocol::Contact> = contacts_of
            .query_map([&id], |row| row.get::<_, String>(0))?
            .filter_map(|json| serde_json::from_str(&json.ok()?).ok())
            .collect();
        let text = fieldsync_protocol::views::search_text_of(&account, &contacts);
        update.execute(rusqlite::params![id, text])?;
    }
    tx.execute_batch(
        "INSERT INTO account_search (account_search) VALUES ('rebuild');
         INSERT INTO site_search (site_search) VALUES ('rebuild');",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::{AccountType, Record, Role};

    use crate::Store;
    use crate::fixtures::*;

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
        let office = writer(Role::Office, "Dana");
        let mut store = Store::open_in_memory().unwrap();
        let mut acme = Record::new_account(account("Acme Plumbing"));
        if let Record::Account(a) = &mut acme {
            let dana = contact("Dana Whitfield", "Manager", "dana@pipes.example");
            a.contacts.insert(dana.id, dana);
        }
        create(&mut store, &office, &acme);
        let mut bolt = Record::new_account(account("Bolt & Nut Café"));
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
        let change = crate::fixtures::edit(&mut document, &office, |r| {
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

    #[test]
    fn finds_accounts_by_phone_number_however_typed_and_by_a_sites_address() {
        let office = writer(Role::Office, "Dana");
        let mut store = Store::open_in_memory().unwrap();
        let mut acme = Record::new_account(account("Acme Plumbing"));
        if let Record::Account(a) = &mut acme {
            a.record.phone = Some("+1 541 555 2041".into());
            a.record.billing_address.line1 = "9 Quarry Rd".into();
        }
        if let Record::Account(a) = &mut acme {
            let dana = contact("Dana Whitfield", "Manager", "dana@pipes.example");
            a.contacts.insert(dana.id, dana);
        }
        if let Record::Account(a) = &mut acme {
            a.contacts.values_mut().next().unwrap().phone = Some("(541) 555-7788".into());
        }
        create(&mut store, &office, &acme);
        let bolt = Record::new_account(account("Bolt & Nut Café"));
        create(&mut store, &office, &bolt);
        let site = fieldsync_protocol::JobSite {
            id: fieldsync_protocol::SiteId::new(),
            account: bolt.account(),
            name: "Riverside kitchen".into(),
            address: fieldsync_protocol::Address {
                line1: "480 Willamette Ave".into(),
                line2: None,
                city: "Eugene".into(),
                region: "OR".into(),
                postal_code: "97401".into(),
                country: "US".into(),
            },
            access_instructions: String::new(),
            archived_at: None,
        };
        create(&mut store, &office, &Record::new_site(site));

        for typed in ["555-2041", "5552041", "541 555 2041", "+1 (541) 555-2041"] {
            assert_eq!(names(&store, typed), ["Acme Plumbing"], "{typed}");
        }
        assert_eq!(
            names(&store, "555-7788"),
            ["Acme Plumbing"],
            "a contact's phone"
        );
        assert_eq!(
            names(&store, "quarry"),
            ["Acme Plumbing"],
            "billing address"
        );
        assert_eq!(
            names(&store, "willamette"),
            ["Bolt & Nut Café"],
            "a site's street"
        );
        assert_eq!(
            names(&store, "bolt eugene 97401"),
            ["Bolt & Nut Café"],
            "words of the account and of its site together"
        );
        assert_eq!(
            names(&store, "riverside"),
            ["Bolt & Nut Café"],
            "a site's name"
        );
        assert!(names(&store, "acme willamette").is_empty());
    }

    #[test]
    fn a_long_list_comes_a_page_at_a_time_with_its_count_and_nothing_missed_or_twice() {
        let office = writer(Role::Office, "Dana");
        let mut store = Store::open_in_memory().unwrap();
        // 23 bakeries (two with the same name) and 4 dentists.
        for n in 0..23 {
            let name = format!("Bakery {:02}", n.min(21));
            create(&mut store, &office, &Record::new_account(account(&name)));
        }
        for n in 0..4 {
            let name = format!("Dentist {n}");
            create(&mut store, &office, &Record::new_account(account(&name)));
        }
        let all_pages = |query: &str, size: usize| {
            let mut seen = Vec::new();
            loop {
                let (page, total) = store.search_accounts_page(query, seen.len(), size).unwrap();
                if page.is_empty() {
                    return (seen, total);
                }
                assert!(page.len() <= size);
                seen.extend(page.into_iter().map(|a| (a.name, a.id)));
            }
        };
        let (bakeries, total) = all_pages("bakery", 5);
        assert_eq!(total, 23);
        assert_eq!(bakeries.len(), 23, "every bakery, once");
        let ids: std::collections::BTreeSet<_> = bakeries.iter().map(|(_, id)| *id).collect();
        assert_eq!(
            ids.len(),
            23,
            "the two of the same name both appear, once each"
        );
        assert!(bakeries.windows(2).all(|w| w[0].0 <= w[1].0), "by name");
        let (everyone, total) = all_pages("", 10);
        assert_eq!((everyone.len(), total), (27, 27));
        assert_eq!(
            store
                .search_accounts_page("dentist", 2, 10)
                .unwrap()
                .0
                .len(),
            2
        );
        assert_eq!(
            store.search_accounts_page("plumber", 0, 10).unwrap(),
            (vec![], 0)
        );
    }
}

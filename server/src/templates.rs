//! The office web page's HTML templates (MiniJinja, Jinja2 syntax) and static assets, all built
//! into the binary: the page works with no internet and nothing to deploy beside the server.
//!
//! Templates are under `server/templates/`, auto-escaped (their names end in `.html`); the
//! filters below format what the records hold (decimal text, RFC 3339 times, snake_case enum
//! names) for people.

use std::sync::OnceLock;

use minijinja::{Environment, State};
use serde::Serialize;

use crate::zone::Zone;

/// `(name, source)` of every template.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    (
        "change_log.html",
        include_str!("../templates/change_log.html"),
    ),
    ("login.html", include_str!("../templates/login.html")),
    ("pager.html", include_str!("../templates/pager.html")),
    ("board.html", include_str!("../templates/board.html")),
    (
        "board_region.html",
        include_str!("../templates/board_region.html"),
    ),
    (
        "customers.html",
        include_str!("../templates/customers.html"),
    ),
    ("customer.html", include_str!("../templates/customer.html")),
    (
        "customer_form.html",
        include_str!("../templates/customer_form.html"),
    ),
    ("job.html", include_str!("../templates/job.html")),
    ("job_card.html", include_str!("../templates/job_card.html")),
    (
        "board_cards.html",
        include_str!("../templates/board_cards.html"),
    ),
    ("error.html", include_str!("../templates/error.html")),
    ("aging.html", include_str!("../templates/aging.html")),
    (
        "contacts_report.html",
        include_str!("../templates/contacts_report.html"),
    ),
    (
        "custom_fields.html",
        include_str!("../templates/custom_fields.html"),
    ),
];

/// The page's stylesheet.
pub const APP_CSS: &str = include_str!("../assets/app.css");
/// The page's script: live updates from `/api/events`.
pub const APP_JS: &str = include_str!("../assets/app.js");

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            // The templates are part of the binary and tested: a broken one fails the tests.
            if let Err(e) = env.add_template(name, source) {
                panic!("template {name} does not parse: {e}");
            }
        }
        env.add_filter("money", money);
        // Times in the company's zone: the page's context says which (`zone`, an IANA name).
        env.add_filter("time", |state: &State, value: String| {
            format_time(state, &value, "%H:%M")
        });
        env.add_filter("datetime", |state: &State, value: String| {
            format_time(state, &value, "%Y-%m-%d %H:%M")
        });
        // A time as zero-padded milliseconds since the epoch: text that sorts as the times do
        // (the board's cards carry their order in it).
        env.add_filter("sortable", |value: String| {
            let millis = chrono::DateTime::parse_from_rfc3339(&value)
                .map_or(0, |t| t.timestamp_millis().max(0));
            format!("{millis:015}")
        });
        env.add_filter("label", |value: String| value.replace('_', " "));
        env.add_filter("field", |path: String| field_label(&path));
        // Content hashes are stored as 32 bytes; URLs name them in hexadecimal.
        env.add_filter("hex", |bytes: Vec<u8>| hex::encode(bytes));
        env.add_filter("truncate", |value: String, length: usize| {
            if value.chars().count() <= length {
                value
            } else {
                let mut cut: String = value.chars().take(length.saturating_sub(1)).collect();
                cut.push('…');
                cut
            }
        });
        env
    })
}

/// Renders template `name` with `context`; an error names the template and what failed.
pub fn render(name: &str, context: impl Serialize) -> Result<String, minijinja::Error> {
    environment().get_template(name)?.render(context)
}

/// A decimal amount as money: two places, thousands separated (`-1,234.50`); text that is
/// not an amount is shown as it is.
pub fn money(value: String) -> String {
    match value.trim().parse::<fieldsync_protocol::Money>() {
        Ok(amount) => amount.grouped(),
        Err(_) => value,
    }
}

/// A change log's field path for people: `record.status` → `status`,
/// `invoices.<id>.voided` → `invoices › voided` (ids left out).
pub fn field_label(path: &str) -> String {
    let is_id = |s: &str| s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4;
    let parts: Vec<String> = path
        .split('.')
        .filter(|s| !s.is_empty() && *s != "record" && !is_id(s))
        .map(|s| s.replace('_', " "))
        .collect();
    if parts.is_empty() {
        "record".to_string()
    } else {
        parts.join(" › ")
    }
}

/// An RFC 3339 time as the company reads it: in the zone named by the context's `zone` (UTC
/// without one); text that is not a time is shown as it is.
fn format_time(state: &State, value: &str, format: &str) -> String {
    let zone = state
        .lookup("zone")
        .and_then(|z| z.as_str().map(Zone::named))
        .and_then(Result::ok)
        .unwrap_or_default();
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| zone.format(t.to_utc(), format))
        .unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_two_places_and_thousands_separators() {
        assert_eq!(money("1234.5".into()), "1,234.50");
        assert_eq!(money("-20".into()), "-20.00");
        assert_eq!(money("0".into()), "0.00");
        assert_eq!(money("999".into()), "999.00");
        assert_eq!(money("1000000.005".into()), "1,000,000.01");
        assert_eq!(money("not money".into()), "not money");
    }

    #[test]
    fn photo_urls_name_content_hashes_in_hexadecimal() {
        let hash = fieldsync_protocol::ContentHash::of(b"photo");
        let html = environment()
            .render_str(
                "{{ p.full_hash | hex }}",
                minijinja::context! { p => minijinja::context! { full_hash => hash } },
            )
            .unwrap();
        assert_eq!(html, hash.to_string());
    }

    #[test]
    fn field_paths_read_without_ids() {
        assert_eq!(field_label("record.status"), "status");
        assert_eq!(
            field_label("invoices.5f0c2a9e-8d1b-4c3a-9e7f-0a1b2c3d4e5f.voided"),
            "invoices › voided"
        );
        assert_eq!(field_label("record.credit_hold"), "credit hold");
        assert_eq!(field_label(""), "record");
    }

    #[test]
    fn times_are_shown_in_the_zone_the_page_names_and_in_utc_without_one() {
        let show = |template: &str, zone: Option<&str>| {
            environment()
                .render_str(
                    template,
                    minijinja::context! { t => "2026-11-25T15:30:00Z", zone },
                )
                .unwrap()
        };
        assert_eq!(show("{{ t | time }}", Some("America/Chicago")), "09:30");
        assert_eq!(
            show("{{ t | datetime }}", Some("Europe/Berlin")),
            "2026-11-25 16:30"
        );
        assert_eq!(show("{{ t | time }}", None), "15:30");
        assert_eq!(
            show("{{ 'garbage' | time }}", Some("America/Chicago")),
            "garbage"
        );
    }

    #[test]
    fn every_template_parses_and_escapes_html() {
        for (name, _) in TEMPLATES {
            environment().get_template(name).unwrap();
        }
        let page = render(
            "error.html",
            minijinja::context! { title => "Oops", message => "<script>x</script>" },
        )
        .unwrap();
        assert!(page.contains("&lt;script&gt;"), "{page}");
        assert!(!page.contains("<script>x"), "{page}");
    }
}

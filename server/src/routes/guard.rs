//! What every request passes through before its handler:
//!
//! - [`same_site`]: a request that changes something (any method but `GET`, `HEAD` and
//!   `OPTIONS`) sent by a browser from another site is refused (403), by `Sec-Fetch-Site`
//!   or, from browsers that do not send it, `Origin`. Requests with neither (the tablet, the
//!   command line, scripts) are not browsers' and pass.
//! - [`form_token`]: a form posted to the office page by a signed-in browser carries the
//!   session's form token ([`sessions::form_token`]), or is refused (403).
//! - [`security_headers`]: every response says what the browser may do with it (a content
//!   security policy without inline script, no framing, no sniffing, the referrer kept to
//!   this site, and HSTS over TLS).

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;
use crate::serving::Peer;
use crate::sessions;

/// The content security policy of every response: scripts, styles, images and connections
/// from this site only; no plugins, no framing, forms posted only here.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Largest form body read to find its token (the page's forms are small; photos do not come
/// through forms).
const MAX_FORM: usize = 1 << 20;

fn changes_something(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Why a request is cross-site, if it is.
fn cross_site(headers: &HeaderMap) -> Option<String> {
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => None,
            other => Some(format!(
                "the request came from another site (Sec-Fetch-Site: {})",
                String::from_utf8_lossy(other)
            )),
        };
    }
    let origin = headers.get(header::ORIGIN)?;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.to_str().ok().and_then(|origin| {
        origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
    });
    match (origin_host, host) {
        (Some(from), Some(host)) if from.eq_ignore_ascii_case(host) => None,
        _ => Some(format!(
            "the request came from another site (Origin: {})",
            String::from_utf8_lossy(origin.as_bytes())
        )),
    }
}

/// A refusal: a JSON error under `/api/`, an error page elsewhere.
fn refuse(path: &str, why: String) -> Response {
    if path.starts_with("/api/") {
        ApiError::Forbidden(why).into_response()
    } else {
        super::pages::forbidden(why)
    }
}

/// Refuses cross-site requests that change something.
pub(crate) async fn same_site(request: Request, next: Next) -> Response {
    if changes_something(request.method())
        && let Some(why) = cross_site(request.headers())
    {
        tracing::warn!(path = %request.uri().path(), %why, "cross-site request refused");
        return refuse(request.uri().path(), why);
    }
    next.run(request).await
}

/// Checks the form token of a form posted to the office page by a signed-in browser.
pub(crate) async fn form_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let is_page_form = request.method() == Method::POST
        && !path.starts_with("/api/")
        && path != "/login"
        && path != "/sync";
    let session = crate::sessions::token(request.headers())
        .filter(|token| state.sessions().clerk(token).is_some());
    let (Some(session), true) = (session, is_page_form) else {
        // Without a live session the handler sends the browser to sign in, doing nothing.
        return next.run(request).await;
    };
    let path = path.to_string();
    // An upload form (multipart) carries its token in the address: its body may be a file
    // of many megabytes, which is not read here.
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("multipart/form-data"));
    if multipart {
        let query = Bytes::from(request.uri().query().unwrap_or_default().to_string());
        if !carries(&query, &sessions::form_token(&session)) {
            tracing::warn!(%path, "upload without this session's token refused");
            return refuse(
                &path,
                "this form is out of date or came from another site: reload the page and try again"
                    .into(),
            );
        }
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_FORM).await {
        Ok(bytes) => bytes,
        Err(_) => return refuse(&path, "the form is too large".into()),
    };
    if !carries(&bytes, &sessions::form_token(&session)) {
        tracing::warn!(%path, "form without this session's token refused");
        return refuse(
            &path,
            "this form is out of date or came from another site: reload the page and try again"
                .into(),
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Whether the URL-encoded form `body` has `form_token` = `expected`.
fn carries(body: &Bytes, expected: &str) -> bool {
    form_urlencoded::parse(body)
        .filter(|(name, _)| name == "form_token")
        .any(|(_, value)| constant_time_eq::constant_time_eq(value.as_bytes(), expected.as_bytes()))
}

/// Adds the security headers to every response (those a handler set are kept).
pub(crate) async fn security_headers(peer: Peer, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        return response;
    }
    let headers = response.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "same-origin");
    if peer.https {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn requests_from_other_sites_are_told_apart() {
        let host = ("host", "office.example:8443");
        assert_eq!(cross_site(&headers(&[host])), None, "no browser headers");
        assert_eq!(
            cross_site(&headers(&[host, ("sec-fetch-site", "same-origin")])),
            None
        );
        assert!(cross_site(&headers(&[host, ("sec-fetch-site", "cross-site")])).is_some());
        assert!(cross_site(&headers(&[host, ("sec-fetch-site", "same-site")])).is_some());
        assert_eq!(
            cross_site(&headers(&[host, ("origin", "https://office.example:8443")])),
            None
        );
        assert!(cross_site(&headers(&[host, ("origin", "https://evil.example")])).is_some());
        assert!(cross_site(&headers(&[host, ("origin", "null")])).is_some());
        assert!(cross_site(&headers(&[("origin", "https://office.example:8443")])).is_some());
    }

    #[test]
    fn form_tokens_are_found_in_url_encoded_bodies() {
        let body = Bytes::from_static(b"back=%2Fjobs&form_token=a%2Bb-c&note=x+y");
        assert!(carries(&body, "a+b-c"));
        assert!(!carries(&body, "a+b-d"));
        assert!(!carries(&Bytes::from_static(b"note=x"), "a+b-c"));
        assert!(!carries(&Bytes::from_static(b"form_token="), "a+b-c"));
    }
}

//! Retrieving a provider's documents: `GET` over HTTP with Convex's response checks, or decoding a `data:` URL.

use base64::Engine;

/// A JWKS or discovery response may not be larger than this.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How much of an unexpected response body an error message quotes.
const QUOTED_BODY_BYTES: usize = 512;

/// Content types a JWKS response may have (essence, compared case-insensitively).
pub(crate) const JWKS_CONTENT_TYPES: &[&str] = &["application/json", "application/jwk-set+json"];
/// Content types an OpenID configuration response may have.
pub(crate) const DISCOVERY_CONTENT_TYPES: &[&str] = &["application/json"];

/// A successful response body and how long it may be reused, when the response said (`Cache-Control`).
#[derive(Debug)]
pub(crate) struct Fetched {
    pub body: Vec<u8>,
    pub max_age: Option<u64>,
}

/// `GET url` with `Accept: application/json`; the response must be 200 with one of `content_types`.
/// Redirects are followed by the client (reqwest's default policy, as in Convex).
pub(crate) async fn http_get(
    client: &reqwest::Client,
    url: &str,
    content_types: &[&str],
    what: &str,
) -> Result<Fetched, String> {
    let mut response = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("Could not fetch {what} from {url}: {e}"))?;
    let status = response.status();
    let header = |name: reqwest::header::HeaderName| {
        response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    };
    let content_type = header(reqwest::header::CONTENT_TYPE);
    let max_age =
        cache_max_age(header(reqwest::header::CACHE_CONTROL).as_deref(), header(reqwest::header::AGE).as_deref());
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("Could not read {what} from {url}: {e}"))? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(format!("The {what} response from {url} is larger than {MAX_BODY_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    if status != reqwest::StatusCode::OK {
        return Err(format!("Error from {what} request {status}: {}", quote(&body)));
    }
    if !content_type_accepted(content_type.as_deref(), content_types) {
        return Err(format!(
            "Invalid Content-Type {} in the {what} response from {url} (expected {})",
            content_type.map_or_else(|| "(none)".to_string(), |ct| format!("\"{ct}\"")),
            content_types.join(" or ")
        ));
    }
    Ok(Fetched { body, max_age })
}

fn quote(body: &[u8]) -> String {
    let end = body.len().min(QUOTED_BODY_BYTES);
    let text = String::from_utf8_lossy(&body[..end]);
    if body.len() > end {
        format!("{text}…")
    } else {
        text.into_owned()
    }
}

/// The essence (type/subtype) must be one of `accepted`; a `charset` parameter, if any, must be UTF-8.
pub(crate) fn content_type_accepted(content_type: Option<&str>, accepted: &[&str]) -> bool {
    let Some(content_type) = content_type else { return false };
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !accepted.iter().any(|a| a.eq_ignore_ascii_case(essence)) {
        return false;
    }
    parts.all(|param| match param.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            let value = value.trim().trim_matches('"');
            value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8")
        }
        _ => true,
    })
}

/// Seconds a response may be reused: 0 for `no-store`/`no-cache`, `max-age` less `Age`, `None` when it says
/// nothing (the caller's default applies).
pub(crate) fn cache_max_age(cache_control: Option<&str>, age: Option<&str>) -> Option<u64> {
    let cache_control = cache_control?;
    let mut max_age = None;
    for directive in cache_control.split(',') {
        let directive = directive.trim();
        let (name, value) = directive.split_once('=').map_or((directive, None), |(n, v)| (n.trim(), Some(v.trim())));
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(0);
        }
        if name.eq_ignore_ascii_case("max-age") {
            max_age = Some(value.and_then(|v| v.trim_matches('"').parse::<u64>().ok()).unwrap_or(0));
        }
    }
    let age = age.and_then(|a| a.trim().parse::<u64>().ok()).unwrap_or(0);
    max_age.map(|m| m.saturating_sub(age))
}

/// Decodes a `data:` URL as the Fetch standard does: the body is percent-decoded, then, for `;base64`,
/// forgiving-base64-decoded (whitespace ignored, padding optional). The media type is not checked (as in Convex).
pub(crate) fn decode_data_url(url: &str) -> Result<Vec<u8>, String> {
    let rest = url
        .get(..5)
        .filter(|scheme| scheme.eq_ignore_ascii_case("data:"))
        .map(|_| &url[5..])
        .ok_or_else(|| "not a data: URL".to_string())?;
    let (media_type, data) = rest.split_once(',').ok_or_else(|| "data: URL without a comma".to_string())?;
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(data).collect();
    let media_type = media_type.trim_end();
    let is_base64 = media_type.rsplit_once(';').is_some_and(|(_, last)| last.trim().eq_ignore_ascii_case("base64"));
    if !is_base64 {
        return Ok(bytes);
    }
    let compact: Vec<u8> = bytes.into_iter().filter(|b| !b.is_ascii_whitespace()).collect();
    const FORGIVING: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    FORGIVING.decode(compact).map_err(|e| format!("invalid base64 in data: URL: {e}"))
}

//! File storage on the API origin: `POST /api/storage/upload?token=…` (the URLs `generateUploadUrl` hands out)
//! and `GET /api/storage/<storageId>` (the URLs `getUrl` hands out). CORS comes from the `/api` layer (any origin,
//! preflight included).

use crate::{ApiError, ApiState};
use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use protocol::ErrorCode;

/// How much of an oversized upload is read (and discarded) before answering 413, so clients that send the whole
/// body before reading the response see the answer instead of a reset connection.
const DRAIN_LIMIT: u64 = 256 << 20;

/// Files are immutable under their id; a deleted file's URL answers 404 to anyone who asks again.
const CACHE_CONTROL: &str = "private, max-age=2592000";

fn token_of(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name == "token").then(|| percent_decode(value))
    })
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `POST /api/storage/upload?token=…`: the raw body becomes a file → `200 {"storageId"}`.
pub(crate) async fn upload(State(state): State<ApiState>, RawQuery(query): RawQuery, request: Request) -> Response {
    let Some(token) = token_of(query.as_deref()) else {
        return ApiError::new(ErrorCode::InvalidUploadToken, "the upload URL has no token").into_response();
    };
    let (parts, body) = request.into_parts();
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let files = state.runtime.files();
    if let Some(max) = declared_over_maximum(&state, &parts.headers) {
        return refuse_too_large(body, max).await;
    }
    match files.upload(&token, content_type, body_stream(body)).await {
        Ok(id) => axum::Json(serde_json::json!({ "storageId": id.to_string() })).into_response(),
        Err(failure) => ApiError::new(failure.code, failure.message).into_response(),
    }
}

/// The maximum upload size, when the request's `Content-Length` is over it (uploads and streaming HTTP actions).
pub(crate) fn declared_over_maximum(state: &ApiState, headers: &HeaderMap) -> Option<u64> {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())?;
    state.runtime.files().config().max_upload_bytes.filter(|max| declared > *max)
}

/// 413 for a body declared over the maximum, after reading (and discarding) some of it.
pub(crate) async fn refuse_too_large(body: Body, max: u64) -> Response {
    drain(body).await;
    too_large(max)
}

fn too_large(max: u64) -> Response {
    ApiError::new(ErrorCode::PayloadTooLarge, format!("the file is larger than the maximum upload size of {max} bytes"))
        .into_response()
}

/// A request body as a stream for the blob store (uploads, streaming HTTP actions). Dropped unfinished (an upload
/// refused midway, an action that stopped reading), the rest of the body is read and discarded in the background, up
/// to [`DRAIN_LIMIT`], so that a client still sending reads the answer instead of a reset connection.
pub(crate) fn body_stream(body: Body) -> functions::ByteStream {
    Box::pin(DrainOnDrop { inner: Some(body.into_data_stream()) })
}

struct DrainOnDrop {
    /// `None` once the body ended.
    inner: Option<axum::body::BodyDataStream>,
}

impl futures::Stream for DrainOnDrop {
    type Item = Result<bytes::Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let Some(inner) = self.inner.as_mut() else { return std::task::Poll::Ready(None) };
        let next = std::pin::Pin::new(inner).poll_next(cx);
        if let std::task::Poll::Ready(None) = next {
            self.inner = None;
        }
        next.map(|item| item.map(|chunk| chunk.map_err(std::io::Error::other)))
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        if let (Some(inner), Ok(runtime)) = (self.inner.take(), tokio::runtime::Handle::try_current()) {
            runtime.spawn(drain_stream(inner));
        }
    }
}

async fn drain(body: Body) {
    drain_stream(body.into_data_stream()).await
}

async fn drain_stream(mut stream: axum::body::BodyDataStream) {
    let mut read = 0u64;
    while let Some(Ok(chunk)) = stream.next().await {
        read += chunk.len() as u64;
        if read > DRAIN_LIMIT {
            break;
        }
    }
}

/// A single byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) resolved against `size`; `Err` when unsatisfiable,
/// `Ok(None)` for headers served as a whole file (several ranges, other units, garbage).
fn parse_range(header: &str, size: u64) -> Result<Option<std::ops::Range<u64>>, ()> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((start, end)) = spec.trim().split_once('-') else { return Ok(None) };
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        let Ok(suffix) = end.parse::<u64>() else { return Ok(None) };
        if suffix == 0 {
            return Err(());
        }
        size.saturating_sub(suffix)..size
    } else {
        let Ok(start) = start.parse::<u64>() else { return Ok(None) };
        let end = if end.is_empty() {
            size
        } else {
            match end.parse::<u64>() {
                Ok(last) if last >= start => (last + 1).min(size),
                _ => return Ok(None),
            }
        };
        start..end
    };
    if range.start >= size {
        return Err(());
    }
    Ok(Some(range))
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// `GET /api/storage/<storageId>`: the file with its type, length, `ETag` (sha256), conditional GET and single
/// ranges; unknown or deleted ids → 404.
pub(crate) async fn serve(State(state): State<ApiState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let files = state.runtime.files();
    let file = match files.metadata(&id).await {
        Ok(Some(file)) => file,
        Ok(None) => return ApiError::from_code(ErrorCode::FileNotFound).into_response(),
        Err(failure) => return ApiError::new(failure.code, failure.message).into_response(),
    };
    let etag = format!("\"{}\"", file.sha256_hex());
    let mut response_headers = HeaderMap::new();
    insert(&mut response_headers, header::ETAG, &etag);
    insert(&mut response_headers, header::CACHE_CONTROL, CACHE_CONTROL);
    insert(&mut response_headers, header::ACCEPT_RANGES, "bytes");
    insert(&mut response_headers, header::HeaderName::from_static("digest"), &format!("sha-256={}", file.sha256));
    let if_none_match = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    if if_none_match.is_some_and(|v| v.trim() == "*" || v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag))
    {
        return (StatusCode::NOT_MODIFIED, response_headers).into_response();
    }
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(value) => match parse_range(value, file.size) {
            Ok(range) => range,
            Err(()) => {
                insert(&mut response_headers, header::CONTENT_RANGE, &format!("bytes */{}", file.size));
                let mut response = ApiError::from_code(ErrorCode::RangeNotSatisfiable).into_response();
                response.headers_mut().extend(response_headers);
                return response;
            }
        },
    };
    let read = match files.read(&file, range.clone()).await {
        Ok(Some(read)) => read,
        // The row exists but the bytes do not: never expected (bytes are written first); logged as an error.
        Ok(None) => {
            tracing::error!(id, "a _storage row names missing bytes");
            return ApiError::from_code(ErrorCode::InternalServerError).into_response();
        }
        Err(failure) => return ApiError::new(failure.code, failure.message).into_response(),
    };
    let content_type = file.content_type.as_deref().unwrap_or("application/octet-stream");
    insert(&mut response_headers, header::CONTENT_TYPE, content_type);
    let status = match &range {
        Some(range) => {
            insert(
                &mut response_headers,
                header::CONTENT_RANGE,
                &format!("bytes {}-{}/{}", range.start, range.end - 1, file.size),
            );
            insert(&mut response_headers, header::CONTENT_LENGTH, &(range.end - range.start).to_string());
            StatusCode::PARTIAL_CONTENT
        }
        None => {
            insert(&mut response_headers, header::CONTENT_LENGTH, &file.size.to_string());
            StatusCode::OK
        }
    };
    (status, response_headers, Body::from_stream(read.body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::{parse_range, token_of};

    #[test]
    fn ranges_resolve_against_the_size() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some(90..100)));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some(90..100)));
        assert_eq!(parse_range("bytes=-200", 100), Ok(Some(0..100)));
        assert_eq!(parse_range("bytes=50-500", 100), Ok(Some(50..100)));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=-0", 100), Err(()));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("items=0-1", 100), Ok(None));
        assert_eq!(parse_range("bytes=9-2", 100), Ok(None));
    }

    #[test]
    fn tokens_come_from_the_query() {
        assert_eq!(token_of(Some("token=abc")).as_deref(), Some("abc"));
        assert_eq!(token_of(Some("x=1&token=a%62c")).as_deref(), Some("abc"));
        assert_eq!(token_of(Some("x=1")), None);
        assert_eq!(token_of(None), None);
    }
}

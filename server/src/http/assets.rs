//! The compose page, embedded in the binary: the files trunk wrote to `dist/` at build time.
//!
//! Paths without a file extension fall back to `index.html` so that the single-page app's routes
//! (`/settings`, `/admin`) survive a reload. Content-hashed assets are cached for a year
//! (`immutable`, RFC 8246); `index.html` is revalidated every time (`no-cache`, RFC 9111 §5.2.2.4)
//! so that a new release is picked up at once. ETags let a browser revalidate cheaply.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// The built frontend. In debug builds rust-embed reads the folder at run time; release builds
/// carry the files inside the binary.
#[derive(rust_embed::Embed)]
#[folder = "../dist"]
struct Dist;

const INDEX: &str = "index.html";

/// The embedded `index.html`, when the frontend was built in.
pub fn index_html() -> Option<String> {
    Dist::get(INDEX).map(|f| String::from_utf8_lossy(&f.data).into_owned())
}
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// Serves an embedded file, or `index.html` for app routes.
pub async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let path = uri.path().trim_start_matches('/');
    if !path.is_empty() && path != INDEX {
        if let Some(file) = Dist::get(path) {
            let cache = if is_content_hashed(path) {
                IMMUTABLE
            } else {
                REVALIDATE
            };
            return respond(path, file, cache, &headers);
        }
        if looks_like_a_file(path) {
            return (StatusCode::NOT_FOUND, "not found").into_response();
        }
    }
    match Dist::get(INDEX) {
        Some(file) => respond(INDEX, file, REVALIDATE, &headers),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "The Sendguard frontend was not built into this binary; build it with scripts/run.sh.",
        )
            .into_response(),
    }
}

fn respond(
    path: &str,
    file: rust_embed::EmbeddedFile,
    cache: &'static str,
    headers: &HeaderMap,
) -> Response {
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        let mut r = Response::new(Body::from(file.data.into_owned()));
        if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        r
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// Whether a file name carries trunk's content hash, as in `app-0123456789abcdef_bg.wasm`.
/// Trunk writes its 64-bit hash in hex without leading zeros, so it has up to 16 digits (15 one
/// time in 16); fewer than 12 is taken as no hash (then the file is only revalidated, never
/// wrongly cached).
fn is_content_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = name.split('.').next().unwrap_or(name);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (12..=16).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Whether the last path segment has an extension (a missing asset, not an app route).
fn looks_like_a_file(path: &str) -> bool {
    path.rsplit('/').next().is_some_and(|s| s.contains('.'))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_hashes_are_recognised() {
        assert!(is_content_hashed("sendguard-frontend-0123456789abcdef.js"));
        assert!(is_content_hashed(
            "sendguard-frontend-0123456789abcdef_bg.wasm"
        ));
        assert!(is_content_hashed("main-fedcba9876543210.css"));
        // Trunk drops leading zeros of its hash.
        assert!(is_content_hashed(
            "sendguard-frontend-a46387460514dfa_bg.wasm"
        ));
        assert!(!is_content_hashed("main-deadbeef.css"));
        assert!(!is_content_hashed("index.html"));
        assert!(!is_content_hashed("sendguard-frontend.js"));
        assert!(!is_content_hashed("logo-small.svg"));
    }

    #[test]
    fn routes_and_files_are_told_apart() {
        assert!(looks_like_a_file("missing-0123.js"));
        assert!(!looks_like_a_file("settings"));
        assert!(!looks_like_a_file("admin/holds"));
    }
}

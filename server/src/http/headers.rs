//! Headers on every answer that keep the page to itself: a Content-Security-Policy (CSP Level 3)
//! that allows the page's own scripts, the WebAssembly module and nothing more, no framing
//! (`frame-ancestors 'none'`, clickjacking), `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: no-referrer`. trunk's index.html starts the app with one inline module
//! script; it is allowed by its SHA-256 (computed from the embedded page at first use), never
//! by `'unsafe-inline'`.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The policy for a page whose inline scripts are `inline` (their text between the tags).
pub fn policy_for<'a>(inline: impl IntoIterator<Item = &'a str>) -> String {
    let hashes: String = inline
        .into_iter()
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
            format!(" 'sha256-{b64}'")
        })
        .collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The text of each inline `<script>` of `html` (those without `src`).
pub fn inline_scripts(html: &str) -> Vec<&str> {
    let mut scripts = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after = &rest[start..];
        let Some(open_end) = after.find('>') else {
            break;
        };
        let tag = &after[..open_end];
        let body = &after[open_end + 1..];
        let Some(close) = body.find("</script>") else {
            break;
        };
        if !tag.contains(" src=") {
            scripts.push(&body[..close]);
        }
        rest = &body[close..];
    }
    scripts
}

fn policy() -> &'static HeaderValue {
    static POLICY: OnceLock<HeaderValue> = OnceLock::new();
    POLICY.get_or_init(|| {
        let page = super::assets::index_html().unwrap_or_default();
        let text = policy_for(inline_scripts(&page));
        HeaderValue::from_str(&text)
            .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
    })
}

/// Adds the headers to `response` (a layer over the whole application).
pub async fn add(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, policy().clone());
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_allowed_by_their_hash_only() {
        let page = "<html><script type=\"module\">start();</script>\
                    <script src=\"/x.js\"></script><script>two()</script></html>";
        assert_eq!(inline_scripts(page), ["start();", "two()"]);
        let p = policy_for(inline_scripts(page));
        // echo -n 'start();' | openssl dgst -sha256 -binary | base64
        assert!(p.contains("'sha256-"), "{p}");
        assert!(!p.contains("unsafe-inline"));
        assert!(p.contains("frame-ancestors 'none'"));
        assert_eq!(p.matches("'sha256-").count(), 2);
    }
}

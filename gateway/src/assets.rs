//! The web front ends (`web/`: the widget demo page at `/`, the Agent Inbox at
//! `/inbox/`, the modules both import at `/shared/`), embedded in the binary so the
//! gateway runs from anywhere. Everything of `web/` is served but its tests and README.

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "../web/"]
#[exclude = "*.test.mjs"]
#[exclude = "README.md"]
struct Web;

/// The Agent Inbox's Content-Security-Policy: its own scripts, styles and images,
/// sockets to its own host (`ws:`/`wss:` spelled out for browsers whose `'self'`
/// does not cover them), never framed (`frame-ancestors 'none'`: no clickjacking).
pub const INBOX_CSP: &str = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The demo page's (and the widget files'): as the inbox's, but inline styles are
/// allowed, since the widget puts its stylesheet in a `<style>` element of its
/// Shadow DOM root (as it must on any host page). Scripts only from the page's own
/// origin: the page's integration code is `demo.js`, not an inline script.
pub const DEMO_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The security headers of every response: the CSP of the page (the inbox's under
/// `/inbox`), no MIME sniffing, no framing (for browsers without
/// `frame-ancestors`), and the origin alone as the referrer to other sites. The
/// CloudFront distribution sends the same (infra/template.yaml).
fn secure(path: &str, mut response: Response) -> Response {
    let csp = if path == "inbox" || path.starts_with("inbox/") {
        INBOX_CSP
    } else {
        DEMO_CSP
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Serves a file of `web/`; a folder path serves its `index.html`.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    secure(path, file(path))
}

fn file(path: &str) -> Response {
    let path = if path.is_empty() || path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_string()
    };
    match Web::get(&path) {
        Some(file) => {
            let mime = file.metadata.mimetype().to_string();
            (
                [
                    (header::CONTENT_TYPE, mime),
                    (header::CACHE_CONTROL, "no-cache".to_string()),
                ],
                file.data,
            )
                .into_response()
        }
        None if Web::get(&format!("{path}/index.html")).is_some() => (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, format!("/{path}/"))],
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// The `site.json` of the configuration the gateway runs (docs/protocol.md).
pub fn site_json(directory: &livechat_core::routing::Directory) -> Vec<u8> {
    // A Site is plain data: it always serialises.
    serde_json::to_vec(&livechat_core::site::site(directory)).unwrap_or_default()
}

/// Serves `site.json` as the S3 web bucket does: JSON, cacheable for a minute (a
/// page view costs no request to the chat), readable by the pages of any site
/// that embeds the widget.
pub fn serve_site(json: &[u8]) -> Response {
    let response = (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, livechat_core::site::CACHE_CONTROL),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        json.to_vec(),
    )
        .into_response();
    secure("widget/site.json", response)
}

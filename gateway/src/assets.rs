//! The web front ends (`web/`: the widget demo page at `/`, the Agent Inbox at
//! `/inbox/`), embedded in the binary so the gateway runs from anywhere.

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "../web/"]
#[exclude = "*.test.mjs"]
#[exclude = "README.md"]
struct Web;

/// Serves a file of `web/`; a folder path serves its `index.html`.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
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

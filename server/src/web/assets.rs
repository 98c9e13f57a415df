//! The stylesheet and browser bundle, embedded at build time (see `build.rs`).

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};

pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub etag: &'static str,
    pub body: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

pub async fn pkg(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&format!("pkg/{file}"), &headers)
}

pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&format!("assets/{file}"), &headers)
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // File names are fixed, so browsers revalidate every time; an unchanged file costs a 304.
    let cache = [(header::CACHE_CONTROL, "no-cache"), (header::ETAG, asset.etag)];
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == asset.etag.as_bytes()) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    ([(header::CONTENT_TYPE, asset.content_type)], cache, asset.body).into_response()
}

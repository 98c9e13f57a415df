//! Errors of plain form posts (before the browser bundle has loaded) travel back to the form's
//! page in its URL (`__path` and `__err`, as the server-function layer writes them), and pages
//! show them as a banner. A crafted link could put any text there, next to a login form; so
//! Steward signs the pair when it sends it, and a page ignores one whose signature does not
//! match.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderValue, Method, Uri, header};

use crate::services::vault::Vault;

const PURPOSE: &str = "form-error";
const PATH: &str = "__path";
const ERR: &str = "__err";
const SIG: &str = "__sig";

fn signature(vault: &Vault, path: &str, err: &str) -> String {
    let message = format!("{}:{path}{err}", path.len());
    crate::digest::hex(&vault.mac(PURPOSE, message.as_bytes()))
}

fn pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

fn find<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

pub async fn sign_and_check(State(vault): State<Vault>, mut request: Request, next: Next) -> Response {
    let posted = request.method() == Method::POST;
    if !posted && let Some(query) = request.uri().query().filter(|q| q.contains(ERR)) {
        let found = pairs(query);
        let genuine = match (find(&found, PATH), find(&found, ERR), find(&found, SIG)) {
            (Some(path), Some(err), Some(sig)) => signature(&vault, path, err) == sig,
            _ => false,
        };
        if !genuine {
            // Not Steward's: the page renders as if the parameters were not there.
            let kept: Vec<(String, String)> =
                found.into_iter().filter(|(k, _)| ![PATH, ERR, SIG].contains(&k.as_str())).collect();
            let mut rebuilt = request.uri().path().to_owned();
            if !kept.is_empty() {
                rebuilt.push('?');
                rebuilt.push_str(&url::form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).finish());
            }
            if let Ok(uri) = rebuilt.parse::<Uri>() {
                *request.uri_mut() = uri;
            }
        }
    }
    let mut response = next.run(request).await;
    if posted
        && response.status().is_redirection()
        && let Some(location) = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok())
        && location.contains(ERR)
    {
        let (base, query) = location.split_once('?').unwrap_or((location, ""));
        let mut found = pairs(query);
        found.retain(|(k, _)| k != SIG);
        if let (Some(path), Some(err)) = (find(&found, PATH), find(&found, ERR)) {
            let sig = signature(&vault, path, err);
            found.push((SIG.to_owned(), sig));
            let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(found).finish();
            if let Ok(value) = HeaderValue::from_str(&format!("{base}?{query}")) {
                response.headers_mut().insert(header::LOCATION, value);
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_are_found_by_name() {
        let found = pairs("a=1&__err=x%2By&__path=%2Fapi%2Flogin");
        assert_eq!(find(&found, ERR), Some("x+y"));
        assert_eq!(find(&found, PATH), Some("/api/login"));
        assert_eq!(find(&found, SIG), None);
    }
}

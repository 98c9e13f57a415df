//! `http-get`: a health probe from the host itself, for services that listen on the host's
//! loopback only. Plain HTTP/1.0 with `Connection: close` is all a probe needs; a TLS client
//! would triple the agent's size, and `https` checks can be declared as commands instead.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use steward_agent::{ErrorKind, Response};

use super::error;

/// Most of a body a probe keeps (enough to look for a marker in a page).
const MAX_BODY: usize = 64 * 1024;

pub(crate) fn get(url: &str, timeout_secs: u64) -> Response {
    match fetch(url, Duration::from_secs(timeout_secs.clamp(1, 300))) {
        Ok((code, body)) => Response::Http { code, body },
        Err((kind, message)) => error(kind, message),
    }
}

fn fetch(url: &str, timeout: Duration) -> Result<(u16, String), (ErrorKind, String)> {
    // The URL goes into a request line: nothing may end it early or smuggle a header in.
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err((ErrorKind::Malformed, "the URL holds spaces or control characters".into()));
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| (ErrorKind::Malformed, format!("{url}: only http:// URLs can be probed")))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let address = if authority.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()) {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let connect = |err: std::io::Error| (ErrorKind::Connect, format!("{url}: {err}"));
    let socket = address
        .to_socket_addrs()
        .map_err(connect)?
        .next()
        .ok_or_else(|| (ErrorKind::Connect, format!("{url}: no address for {authority}")))?;
    let mut stream = TcpStream::connect_timeout(&socket, timeout).map_err(connect)?;
    stream.set_read_timeout(Some(timeout)).map_err(connect)?;
    stream.set_write_timeout(Some(timeout)).map_err(connect)?;
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: steward-agent\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(connect)?;
    let mut answer = Vec::new();
    stream.take((MAX_BODY + 16 * 1024) as u64).read_to_end(&mut answer).map_err(connect)?;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| (ErrorKind::Connect, format!("{url}: the answer was not HTTP")))?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok((status, body.chars().take(MAX_BODY).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_that_could_smuggle_a_header_is_refused() {
        for url in ["http://127.0.0.1:9/\r\nHost: evil", "http://127.0.0.1:9/a b", "http://127.0.0.1:9/\t"] {
            let (kind, _) = fetch(url, Duration::from_secs(1)).unwrap_err();
            assert_eq!(kind, ErrorKind::Malformed, "{url:?}");
        }
    }
}

//! The protocol between Steward and `steward-agent`: versioned JSON lines over stdin/stdout.
//!
//! Steward starts the agent over SSH, writes one [`Request`] per line and reads one
//! [`Response`] per line. An agent that answers `hello` with another [`PROTOCOL_VERSION`] is
//! refused and reinstalled by Steward.

use serde::{Deserialize, Serialize};

/// Bumped whenever a request or response changes shape.
pub const PROTOCOL_VERSION: u32 = 1;

/// One request line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// First request of every session: the agent names its version.
    Hello,
}

/// One response line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Response {
    Hello { protocol: u32, agent_version: String },
    Error { message: String },
}

/// Answers one request line; malformed input is an error response, never a crash.
pub fn handle_line(line: &str) -> Response {
    match serde_json::from_str::<Request>(line) {
        Ok(Request::Hello) => {
            Response::Hello { protocol: PROTOCOL_VERSION, agent_version: env!("CARGO_PKG_VERSION").to_owned() }
        }
        Err(err) => Response::Error { message: format!("malformed request: {err}") },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_names_the_protocol_version() {
        let reply = handle_line(r#"{"op":"hello"}"#);
        assert!(matches!(reply, Response::Hello { protocol: PROTOCOL_VERSION, .. }));
    }

    #[test]
    fn malformed_line_is_an_error_not_a_crash() {
        assert!(matches!(handle_line("{not json"), Response::Error { .. }));
    }
}

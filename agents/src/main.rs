//! `steward-agent`: Steward starts it over SSH for the length of one connection, writes
//! requests to its stdin, one JSON line each, and reads the answers from its stdout. It runs
//! as the SSH user, opens no port and leaves no process behind when stdin closes.

mod agent;

fn main() -> std::io::Result<()> {
    agent::serve(std::io::stdin(), std::io::stdout())
}

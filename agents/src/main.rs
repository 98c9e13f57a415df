//! `steward-agent`: reads requests from stdin, one JSON line each, and answers on stdout.

use std::io::{self, BufRead, Write};

fn main() -> io::Result<()> {
    let stdin = io::stdin();
    let mut stdout = io::stdout().lock();
    for line in stdin.lock().lines() {
        let reply = steward_agent::handle_line(&line?);
        serde_json::to_writer(&mut stdout, &reply).map_err(io::Error::other)?;
        stdout.write_all(b"\n")?;
        stdout.flush()?;
    }
    Ok(())
}

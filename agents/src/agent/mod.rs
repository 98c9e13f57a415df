//! The agent's session: one thread reads request lines, the main thread answers them in order.
//! Everything the main thread waits for (request lines, a running program's output) arrives on
//! one channel, so a `cancel` or a closed stdin is seen even while a program runs.

mod exec;
mod facts;
mod files;
mod http;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::mpsc;

use steward_agent::{ErrorKind, PROTOCOL_VERSION, Request, Response, Stream};

/// What the main thread waits for.
pub(crate) enum Event {
    Line(String),
    /// Steward closed stdin: the session is over.
    Eof,
    /// Output of the program started by exec number `.0`.
    Output(u64, Stream, Vec<u8>),
    /// One of that program's output pipes closed.
    OutputClosed(u64),
}

pub(crate) struct Replies<W: Write> {
    out: W,
}

impl<W: Write> Replies<W> {
    pub(crate) fn send(&mut self, response: &Response) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, response).map_err(io::Error::other)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

pub(crate) fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::Error { kind, message: message.into() }
}

/// Maps an I/O error on `what` to a protocol error.
pub(crate) fn io_error(what: &str, err: &io::Error) -> Response {
    let kind = match err.kind() {
        io::ErrorKind::NotFound => ErrorKind::NotFound,
        io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        _ => ErrorKind::Io,
    };
    error(kind, format!("{what}: {err}"))
}

/// The content of a `write-file` still arriving.
enum Incoming {
    Writing(Box<files::PendingWrite>),
    /// The write was refused (or failed half-way): the rest of its announced content is read
    /// and dropped, then the refusal is the write's one answer, so every later answer stays
    /// with its request.
    Refused {
        remaining: u64,
        reply: Response,
    },
}

pub fn serve(input: impl Read + Send + 'static, output: impl Write) -> io::Result<()> {
    let (events, inbox) = mpsc::channel();
    let reader_events = events.clone();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(input);
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if reader_events.send(Event::Line(line)).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = reader_events.send(Event::Eof);
    });

    let mut replies = Replies { out: output };
    let mut write: Option<Incoming> = None;
    let mut runner = exec::Runner::new(events);
    while let Ok(event) = inbox.recv() {
        let line = match event {
            Event::Line(line) => line,
            Event::Eof => break,
            // Late output of a program that was already reported.
            Event::Output(..) | Event::OutputClosed(_) => continue,
        };
        if line.trim().is_empty() {
            continue;
        }
        let request = match serde_json::from_str::<Request>(&line) {
            Ok(request) => request,
            Err(err) => {
                replies.send(&error(ErrorKind::Malformed, format!("malformed request: {err}")))?;
                continue;
            }
        };
        if !matches!(request, Request::Chunk { .. })
            && let Some(incoming) = write.take()
        {
            // The announced content never came: drop the half-written temporary file and answer
            // the write (once) before this request.
            replies.send(&match incoming {
                Incoming::Refused { reply, .. } => reply,
                Incoming::Writing(_) => error(ErrorKind::Malformed, "write-file ended before all its content arrived"),
            })?;
        }
        match request {
            Request::Hello => replies.send(&Response::Hello {
                protocol: PROTOCOL_VERSION,
                agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            })?,
            Request::Facts(request) => replies.send(&Response::Facts(Box::new(facts::collect(&request))))?,
            Request::ReadFile { path } => replies.send(&files::read(&path))?,
            Request::WriteFile(request) => {
                let size = request.size;
                match files::PendingWrite::begin(request) {
                    Ok(pending) if pending.is_complete() => replies.send(&pending.commit())?,
                    Ok(pending) => write = Some(Incoming::Writing(Box::new(pending))),
                    Err(reply) if size == 0 => replies.send(&reply)?,
                    Err(reply) => write = Some(Incoming::Refused { remaining: size, reply }),
                }
            }
            Request::Chunk { data } => match write.take() {
                None => replies.send(&error(ErrorKind::Malformed, "a chunk arrived without a write-file"))?,
                Some(Incoming::Writing(mut pending)) => match pending.append(&data) {
                    Err(reply) => match pending.remaining() {
                        0 => replies.send(&reply)?,
                        remaining => write = Some(Incoming::Refused { remaining, reply }),
                    },
                    Ok(()) if pending.is_complete() => replies.send(&pending.commit())?,
                    Ok(()) => write = Some(Incoming::Writing(pending)),
                },
                Some(Incoming::Refused { remaining, reply }) => {
                    match remaining.saturating_sub(files::decoded_len(&data)) {
                        0 => replies.send(&reply)?,
                        remaining => write = Some(Incoming::Refused { remaining, reply }),
                    }
                }
            },
            Request::Exec(request) => {
                if runner.run(request, &inbox, &mut replies)? == exec::After::Stop {
                    break;
                }
            }
            Request::Cancel => {} // Nothing is running: nothing to stop.
            Request::RemoveFile { path } => replies.send(&files::remove(&path))?,
            Request::HttpGet { url, timeout_secs } => replies.send(&http::get(&url, timeout_secs))?,
        }
    }
    Ok(())
}

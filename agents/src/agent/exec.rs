//! `exec`: runs an argument vector (never a shell) in its own process group, streams its output
//! as it comes, and kills the whole group on timeout, on `cancel`, or when Steward goes away.

use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use base64::Engine;
use steward_agent::{ErrorKind, ExecRequest, Exited, Request, Response, Stream};

use super::{Event, Replies, error};

/// How long output may keep coming after the program exited (a child it left behind may hold
/// the pipes open); then the group is killed.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum After {
    Continue,
    /// Stdin closed while the program ran: the session is over.
    Stop,
}

pub(crate) struct Runner {
    events: Sender<Event>,
    /// Numbers each program, so output of an earlier one is never mistaken for this one's.
    serial: u64,
}

/// Turns bytes into text, holding back a character split across two reads.
#[derive(Default)]
struct Utf8Carry(Vec<u8>);

impl Utf8Carry {
    fn push(&mut self, bytes: &[u8]) -> String {
        self.0.extend_from_slice(bytes);
        let keep = match std::str::from_utf8(&self.0) {
            Ok(_) => 0,
            Err(err) if err.error_len().is_none() => self.0.len() - err.valid_up_to(),
            Err(_) => 0,
        };
        let rest = self.0.split_off(self.0.len() - keep);
        let text = String::from_utf8_lossy(&self.0).into_owned();
        self.0 = rest;
        text
    }

    fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.0).into_owned();
        self.0.clear();
        text
    }
}

fn kill_group(child: &Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

impl Runner {
    pub(crate) fn new(events: Sender<Event>) -> Self {
        Self { events, serial: 0 }
    }

    fn spawn(&mut self, request: &ExecRequest) -> Result<Child, Response> {
        let Some((program, args)) = request.argv.split_first() else {
            return Err(error(ErrorKind::Malformed, "exec needs at least a program name"));
        };
        let stdin = match request.stdin {
            Some(_) => Stdio::piped(),
            None => Stdio::null(),
        };
        let mut command = Command::new(program);
        command.args(args).stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
        if let Some(cwd) = &request.cwd {
            command.current_dir(cwd);
        }
        command.envs(request.env.iter().map(|(k, v)| (k, v)));
        command.spawn().map_err(|err| match err.kind() {
            io::ErrorKind::NotFound if request.cwd.as_ref().is_some_and(|cwd| !std::path::Path::new(cwd).is_dir()) => {
                error(
                    ErrorKind::NotFound,
                    format!("working directory {} does not exist", request.cwd.as_deref().unwrap_or_default()),
                )
            }
            io::ErrorKind::NotFound => error(ErrorKind::CommandNotFound, format!("command not found: {program}")),
            io::ErrorKind::PermissionDenied => {
                error(ErrorKind::PermissionDenied, format!("permission denied running {program}"))
            }
            _ => error(ErrorKind::Io, format!("cannot run {program}: {err}")),
        })
    }

    fn pipe(&self, serial: u64, stream: Stream, mut from: impl Read + Send + 'static) {
        let events = self.events.clone();
        std::thread::spawn(move || {
            let mut buffer = vec![0u8; 16 * 1024];
            loop {
                match from.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if events.send(Event::Output(serial, stream, buffer[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = events.send(Event::OutputClosed(serial));
        });
    }

    pub(crate) fn run<W: Write>(
        &mut self,
        request: ExecRequest,
        inbox: &Receiver<Event>,
        replies: &mut Replies<W>,
    ) -> io::Result<After> {
        let stdin_bytes = match request.stdin.as_deref().map(|s| base64::engine::general_purpose::STANDARD.decode(s)) {
            Some(Err(err)) => {
                replies.send(&error(ErrorKind::Malformed, format!("stdin is not base64: {err}")))?;
                return Ok(After::Continue);
            }
            Some(Ok(bytes)) => Some(bytes),
            None => None,
        };
        let mut child = match self.spawn(&request) {
            Ok(child) => child,
            Err(response) => {
                replies.send(&response)?;
                return Ok(After::Continue);
            }
        };
        let started = Instant::now();
        self.serial += 1;
        let serial = self.serial;
        if let (Some(mut pipe), Some(bytes)) = (child.stdin.take(), stdin_bytes) {
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let mut open_pipes = 0;
        if let Some(out) = child.stdout.take() {
            self.pipe(serial, Stream::Stdout, out);
            open_pipes += 1;
        }
        if let Some(err) = child.stderr.take() {
            self.pipe(serial, Stream::Stderr, err);
            open_pipes += 1;
        }

        let deadline = started + Duration::from_secs(request.timeout_secs.max(1));
        let (mut timed_out, mut cancelled, mut after) = (false, false, After::Continue);
        let mut carries = [Utf8Carry::default(), Utf8Carry::default()];
        let mut exited_at: Option<Instant> = None;
        let mut status = None;
        while open_pipes > 0 {
            if status.is_none() {
                status = child.try_wait()?;
                if status.is_some() {
                    exited_at = Some(Instant::now());
                }
            }
            let now = Instant::now();
            if now >= deadline && !timed_out && !cancelled {
                timed_out = true;
                kill_group(&child);
            }
            if exited_at.is_some_and(|at| now.duration_since(at) > DRAIN_AFTER_EXIT) {
                kill_group(&child);
                break;
            }
            match inbox.recv_timeout(POLL.min(deadline.saturating_duration_since(now).max(Duration::from_millis(1)))) {
                Ok(Event::Output(s, stream, bytes)) if s == serial => {
                    let data = carries[stream as usize].push(&bytes);
                    if !data.is_empty() {
                        replies.send(&Response::Output { stream, data })?;
                    }
                }
                Ok(Event::OutputClosed(s)) if s == serial => open_pipes -= 1,
                Ok(Event::Output(..) | Event::OutputClosed(_)) => {}
                Ok(Event::Line(line)) => match serde_json::from_str::<Request>(&line) {
                    Ok(Request::Cancel) => {
                        cancelled = true;
                        kill_group(&child);
                    }
                    _ => replies.send(&error(ErrorKind::Busy, "a command is still running; send cancel first"))?,
                },
                Ok(Event::Eof) => {
                    cancelled = true;
                    after = After::Stop;
                    kill_group(&child);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        for (carry, stream) in carries.iter_mut().zip([Stream::Stdout, Stream::Stderr]) {
            let data = carry.finish();
            if !data.is_empty() {
                replies.send(&Response::Output { stream, data })?;
            }
        }
        let status = match status {
            Some(status) => status,
            None => child.wait()?,
        };
        replies.send(&Response::Exited(Exited {
            code: status.code(),
            signal: status.signal(),
            timed_out,
            cancelled,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }))?;
        Ok(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_characters_are_held_back() {
        let mut carry = Utf8Carry::default();
        let bytes = "é".as_bytes();
        assert_eq!(carry.push(&bytes[..1]), "");
        assert_eq!(carry.push(&bytes[1..]), "é");
        assert_eq!(carry.push(b"\xff ok"), "\u{fffd} ok");
    }
}

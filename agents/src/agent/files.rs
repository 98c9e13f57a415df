//! `read-file` and `write-file`. A write lands in a temporary file in the target's directory,
//! is checked against the announced SHA-256, fsynced, given its mode and owner, and renamed
//! over the target, so a reader (or a crash) sees the old file or the new one, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};
use steward_agent::{ErrorKind, FileContent, MAX_READ_BYTES, Response, WriteFileRequest, Written};

use super::{error, io_error};

const TEMP_MARK: &str = ".steward-tmp-";
const PREVIOUS_SUFFIX: &str = ".steward-previous";

fn hex(digest: impl AsRef<[u8]>) -> String {
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn remove(path: &str) -> Response {
    match fs::remove_file(path) {
        Ok(()) => Response::Removed { existed: true },
        Err(err) if err.kind() == io::ErrorKind::NotFound => Response::Removed { existed: false },
        Err(err) => io_error(path, &err),
    }
}

pub(crate) fn read(path: &str) -> Response {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Response::File(FileContent {
                exists: false,
                content: String::new(),
                sha256: String::new(),
                size: 0,
                mode: 0,
                uid: 0,
                gid: 0,
            });
        }
        Err(err) => return io_error(path, &err),
    };
    if !meta.is_file() {
        return error(ErrorKind::Io, format!("{path} is not a regular file"));
    }
    if meta.len() > MAX_READ_BYTES {
        return error(
            ErrorKind::TooLarge,
            format!("{path} is {} bytes; at most {MAX_READ_BYTES} are read", meta.len()),
        );
    }
    match fs::read(path) {
        Ok(bytes) => Response::File(FileContent {
            exists: true,
            sha256: hex(Sha256::digest(&bytes)),
            size: bytes.len() as u64,
            content: BASE64.encode(&bytes),
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
        }),
        Err(err) => io_error(path, &err),
    }
}

/// Looks a user or group up by name or number in /etc/passwd or /etc/group.
fn lookup_id(table: &str, name: &str) -> Option<u32> {
    if let Ok(id) = name.parse() {
        return Some(id);
    }
    fs::read_to_string(table).ok()?.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

/// Whether a process runs (a zombie, dead but not yet reaped, does not).
fn process_alive(pid: &str) -> bool {
    let Ok(stat) = fs::read_to_string(Path::new("/proc").join(pid).join("stat")) else { return false };
    // The state follows the command name, which is in parentheses and may contain spaces.
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X"))
}

/// Temporary files left by an agent that was killed mid-write (its process is gone).
fn remove_stale_temporaries(dir: &Path, name: &str) {
    let prefix = format!(".{name}{TEMP_MARK}");
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name.to_str().and_then(|f| f.strip_prefix(&prefix)) else { continue };
        if !process_alive(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// How many bytes a base64 chunk holds (a malformed one counts as what it would decode to).
pub(crate) fn decoded_len(data: &str) -> u64 {
    let data = data.trim_end();
    let padding = data.bytes().rev().take_while(|&b| b == b'=').count();
    (data.len() as u64 / 4 * 3).saturating_sub(padding as u64)
}

pub(crate) struct PendingWrite {
    request: WriteFileRequest,
    target: PathBuf,
    temp: PathBuf,
    file: File,
    hasher: Sha256,
    received: u64,
    current: Option<(fs::Metadata, String)>,
    finished: bool,
}

impl PendingWrite {
    pub(crate) fn begin(request: WriteFileRequest) -> Result<Self, Response> {
        let given = PathBuf::from(&request.path);
        // A symlink (sites-enabled → sites-available) keeps pointing at the file we replace.
        let target = fs::canonicalize(&given).unwrap_or(given);
        let (Some(dir), Some(name)) = (target.parent(), target.file_name().and_then(|n| n.to_str())) else {
            return Err(error(ErrorKind::Malformed, format!("{} is not a file path", request.path)));
        };
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let current = match fs::read(&target) {
            Ok(bytes) => {
                let meta = fs::metadata(&target).map_err(|err| io_error(&request.path, &err))?;
                Some((meta, hex(Sha256::digest(&bytes))))
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => None,
            Err(err) => return Err(io_error(&request.path, &err)),
        };
        if let Some(expected) = &request.expect_current {
            let actual = current.as_ref().map(|(_, sha)| sha.as_str()).unwrap_or_default();
            if actual != expected {
                return Err(error(
                    ErrorKind::Changed,
                    format!("{} changed on the host since it was read; read it again", request.path),
                ));
            }
        }
        remove_stale_temporaries(dir, name);
        let temp = dir.join(format!(".{name}{TEMP_MARK}{}", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)
            .map_err(|err| io_error(&format!("cannot write in {}", dir.display()), &err))?;
        Ok(Self { request, target, temp, file, hasher: Sha256::new(), received: 0, current, finished: false })
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.received >= self.request.size
    }

    /// Announced bytes that have not arrived yet.
    pub(crate) fn remaining(&self) -> u64 {
        self.request.size.saturating_sub(self.received)
    }

    pub(crate) fn append(&mut self, data: &str) -> Result<(), Response> {
        let bytes =
            BASE64.decode(data).map_err(|err| error(ErrorKind::Malformed, format!("chunk is not base64: {err}")))?;
        self.received += bytes.len() as u64;
        if self.received > self.request.size {
            return Err(error(ErrorKind::Malformed, "more content arrived than write-file announced"));
        }
        self.hasher.update(&bytes);
        self.file.write_all(&bytes).map_err(|err| io_error(&self.request.path, &err))
    }

    pub(crate) fn commit(mut self) -> Response {
        match self.install() {
            Ok(written) => {
                self.finished = true;
                Response::Written(written)
            }
            Err(response) => response,
        }
    }

    fn install(&mut self) -> Result<Written, Response> {
        let path = self.request.path.clone();
        let sha256 = hex(std::mem::take(&mut self.hasher).finalize());
        if !sha256.eq_ignore_ascii_case(&self.request.sha256) {
            return Err(error(
                ErrorKind::ChecksumMismatch,
                format!("content of {path} arrived damaged (checksum differs)"),
            ));
        }
        let fail = |err: io::Error| io_error(&path, &err);
        let current_meta = self.current.as_ref().map(|(meta, _)| meta);
        let mode = self.request.mode.or(current_meta.map(|m| m.mode() & 0o7777)).unwrap_or(0o644);
        self.file.set_permissions(fs::Permissions::from_mode(mode)).map_err(fail)?;
        let uid = match &self.request.owner {
            Some(owner) => Some(
                lookup_id("/etc/passwd", owner)
                    .ok_or_else(|| error(ErrorKind::NotFound, format!("no user {owner} on this host")))?,
            ),
            None => current_meta.map(MetadataExt::uid),
        };
        let gid = match &self.request.group {
            Some(group) => Some(
                lookup_id("/etc/group", group)
                    .ok_or_else(|| error(ErrorKind::NotFound, format!("no group {group} on this host")))?,
            ),
            None => current_meta.map(MetadataExt::gid),
        };
        let meta = self.file.metadata().map_err(fail)?;
        let (uid, gid) = (uid.filter(|&u| u != meta.uid()), gid.filter(|&g| g != meta.gid()));
        if uid.is_some() || gid.is_some() {
            let changed =
                rustix::fs::fchown(&self.file, uid.map(rustix::fs::Uid::from_raw), gid.map(rustix::fs::Gid::from_raw));
            // Keeping the current owner is best effort (a user who may write a file need not be
            // allowed to give it away); an owner the request names must be set.
            let requested = self.request.owner.is_some() || self.request.group.is_some();
            if let Err(err) = changed
                && requested
            {
                return Err(io_error(&format!("cannot set the owner of {path}"), &err.into()));
            }
        }
        self.file.sync_all().map_err(fail)?;

        let mut previous_path = None;
        if self.current.is_some() && self.request.keep_previous {
            let mut name = self.target.clone().into_os_string();
            name.push(PREVIOUS_SUFFIX);
            let previous = PathBuf::from(name);
            let _ = fs::remove_file(&previous);
            fs::hard_link(&self.target, &previous)
                .or_else(|_| fs::copy(&self.target, &previous).map(drop))
                .map_err(fail)?;
            previous_path = Some(previous.to_string_lossy().into_owned());
        }
        fs::rename(&self.temp, &self.target).map_err(fail)?;
        if let Some(dir) = self.target.parent() {
            // The rename itself must survive a power cut.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(Written { previous_sha256: self.current.as_ref().map(|(_, sha)| sha.clone()), sha256, previous_path })
    }
}

impl Drop for PendingWrite {
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

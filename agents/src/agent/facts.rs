//! `facts`: what an admin looks at first on a host. Read from /proc and /etc where possible;
//! the few system tools asked (timedatectl, chronyc, systemctl, supervisorctl) are optional and
//! given a short time limit each, so a host without them still answers quickly.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use steward_agent::{Certificate, ClockSync, Facts, FactsRequest, Mount, Unit};

const TOOL_TIMEOUT: Duration = Duration::from_secs(3);

/// File systems that hold no user data (or are read-only images that are always full).
const SKIPPED_FS: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "tmpfs",
    "cgroup",
    "cgroup2",
    "mqueue",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "hugetlbfs",
    "autofs",
    "binfmt_misc",
    "rpc_pipefs",
    "nsfs",
    "squashfs",
    "efivarfs",
    "ramfs",
    "overlay.lower",
    "fuse.portal",
    "fuse.gvfsd-fuse",
];

pub(crate) fn collect(request: &FactsRequest) -> Facts {
    let os = os_release(&fs::read_to_string("/etc/os-release").unwrap_or_default());
    let meminfo = meminfo(&fs::read_to_string("/proc/meminfo").unwrap_or_default());
    let reboot_flag = ["/run/reboot-required", "/var/run/reboot-required"].iter().any(|p| Path::new(p).exists());
    let reboot_packages = fs::read_to_string("/run/reboot-required.pkgs")
        .or_else(|_| fs::read_to_string("/var/run/reboot-required.pkgs"))
        .map(|text| text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    Facts {
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        hostname: first_line("/proc/sys/kernel/hostname"),
        os: os.get("PRETTY_NAME").cloned().unwrap_or_else(|| "Linux".into()),
        os_id: os.get("ID").cloned().unwrap_or_default(),
        os_version: os.get("VERSION_ID").cloned().unwrap_or_default(),
        kernel: first_line("/proc/sys/kernel/osrelease"),
        arch: std::env::consts::ARCH.to_owned(),
        uptime_secs: first_line("/proc/uptime")
            .split_whitespace()
            .next()
            .and_then(|s| s.parse::<f64>().ok())
            .map_or(0, |secs| secs as u64),
        cpus: std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX)),
        memory_total_bytes: meminfo.get("MemTotal").copied().unwrap_or(0),
        memory_available_bytes: meminfo.get("MemAvailable").copied().unwrap_or(0),
        mounts: mounts(&fs::read_to_string("/proc/self/mounts").unwrap_or_default()),
        now_unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        clock_sync: clock_sync(),
        units: units(&request.units),
        certificates: request.cert_files.iter().map(|path| certificate(path)).collect(),
        reboot_required: reboot_flag,
        reboot_packages,
        package_manager: ["apt-get", "dnf", "yum", "zypper", "apk"]
            .iter()
            .find(|tool| on_path(tool))
            .map(|tool| tool.trim_end_matches("-get").to_owned())
            .unwrap_or_default(),
    }
}

fn first_line(path: &str) -> String {
    fs::read_to_string(path).unwrap_or_default().lines().next().unwrap_or_default().trim().to_owned()
}

fn os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().trim_matches('"').trim_matches('\'').to_owned()))
        .collect()
}

fn meminfo(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let (key, rest) = line.split_once(':')?;
            let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
            Some((key.to_owned(), kib * 1024))
        })
        .collect()
}

/// /proc/mounts escapes spaces and a few other bytes as octal (`\040`).
fn unescape_mount(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn mounts(table: &str) -> Vec<Mount> {
    // A path mounted twice shows the last mount, as the kernel does.
    let mut by_path: BTreeMap<String, Mount> = BTreeMap::new();
    for line in table.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [device, path, fs_type, ..] = fields[..] else { continue };
        if SKIPPED_FS.contains(&fs_type) {
            continue;
        }
        let path = unescape_mount(path);
        let Ok(stat) = rustix::fs::statvfs(path.as_str()) else { continue };
        let block = stat.f_frsize;
        let total = stat.f_blocks * block;
        if total == 0 {
            continue;
        }
        let mount = Mount {
            device: unescape_mount(device),
            fs_type: fs_type.to_owned(),
            total_bytes: total,
            used_bytes: total.saturating_sub(stat.f_bfree * block),
            available_bytes: stat.f_bavail * block,
            path: path.clone(),
        };
        by_path.insert(path, mount);
    }
    by_path.into_values().collect()
}

fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into());
    std::env::split_paths(&path).any(|dir| dir.join(tool).is_file())
}

/// Runs a tool with no input and a time limit; its stdout when it exits 0.
fn tool_output(argv: &[&str]) -> Option<String> {
    let (program, args) = argv.split_first()?;
    if !on_path(program) {
        return None;
    }
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < TOOL_TIMEOUT => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let output = child.wait_with_output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

fn clock_sync() -> ClockSync {
    if let Some(out) = tool_output(&["timedatectl", "show", "--property=NTPSynchronized", "--value"]) {
        match out.trim() {
            "yes" => return ClockSync { source: "timedatectl".into(), synchronized: Some(true) },
            "no" => return ClockSync { source: "timedatectl".into(), synchronized: Some(false) },
            _ => {}
        }
    }
    if let Some(out) = tool_output(&["chronyc", "-n", "tracking"]) {
        let synced = out.lines().any(|l| l.starts_with("Leap status") && l.trim_end().ends_with("Normal"));
        return ClockSync { source: "chrony".into(), synchronized: Some(synced) };
    }
    if on_path("ntpstat") {
        return ClockSync { source: "ntp".into(), synchronized: Some(tool_output(&["ntpstat"]).is_some()) };
    }
    ClockSync::default()
}

fn units(wanted: &[String]) -> Vec<Unit> {
    let mut units = Vec::new();
    if let Some(out) = tool_output(&["systemctl", "list-units", "--state=failed", "--no-legend", "--plain", "--all"]) {
        for name in out.lines().filter_map(|l| l.split_whitespace().next()) {
            units.push(Unit {
                manager: "systemd".into(),
                name: name.to_owned(),
                state: "failed".into(),
                healthy: false,
            });
        }
    }
    for name in wanted {
        if units.iter().any(|u| &u.name == name) {
            continue;
        }
        let state = tool_output(&["systemctl", "show", "--property=ActiveState", "--value", "--", name])
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let healthy = matches!(state.as_str(), "active" | "reloading");
        units.push(Unit { manager: "systemd".into(), name: name.clone(), state, healthy });
    }
    // supervisorctl exits non-zero whenever a program is not running, so read it either way.
    if on_path("supervisorctl") {
        let output = Command::new("supervisorctl").arg("status").stdin(Stdio::null()).stderr(Stdio::null()).output();
        if let Ok(output) = output {
            for line in String::from_utf8_lossy(&output.stdout).lines() {
                let mut fields = line.split_whitespace();
                if let (Some(name), Some(state)) = (fields.next(), fields.next())
                    && state.chars().all(|c| c.is_ascii_uppercase())
                {
                    let healthy = state == "RUNNING";
                    units.push(Unit { manager: "supervisor".into(), name: name.into(), state: state.into(), healthy });
                }
            }
        }
    }
    units
}

/// Largest certificate file read: a chain is a few KiB; `/dev/zero` must not fill memory.
const MAX_CERTIFICATE_BYTES: u64 = 1024 * 1024;

/// Reads at most [`MAX_CERTIFICATE_BYTES`] of a file (anything longer is refused).
fn read_capped(path: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = fs::File::open(path).map_err(|err| format!("cannot read: {err}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_CERTIFICATE_BYTES + 1).read_to_end(&mut bytes).map_err(|err| format!("cannot read: {err}"))?;
    if bytes.len() as u64 > MAX_CERTIFICATE_BYTES {
        return Err(format!("larger than {} KiB: not a certificate file", MAX_CERTIFICATE_BYTES / 1024));
    }
    Ok(bytes)
}

fn certificate(path: &str) -> Certificate {
    use x509_cert::der::DecodePem;
    let parsed = read_capped(path)
        .and_then(|pem| x509_cert::Certificate::from_pem(&pem).map_err(|err| format!("not a PEM certificate: {err}")));
    match parsed {
        Ok(cert) => Certificate {
            source: path.to_owned(),
            subject: cert.tbs_certificate.subject.to_string(),
            not_after: i64::try_from(cert.tbs_certificate.validity.not_after.to_unix_duration().as_secs()).ok(),
            error: None,
        },
        Err(error) => Certificate { source: path.to_owned(), error: Some(error), ..Default::default() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_values_lose_their_quotes() {
        let os = os_release("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n");
        assert_eq!(os["PRETTY_NAME"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(os["VERSION_ID"], "12");
    }

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape_mount("/mnt/my\\040disk"), "/mnt/my disk");
        assert_eq!(unescape_mount("/plain"), "/plain");
    }

    #[test]
    fn an_endless_file_is_not_read_whole() {
        let cert = certificate("/dev/zero");
        assert!(cert.error.is_some_and(|e| e.contains("larger than")), "refused without filling memory");
    }

    #[test]
    fn pseudo_file_systems_are_skipped() {
        let mounts = mounts("proc /proc proc rw 0 0\nsysfs /sys sysfs rw 0 0\n");
        assert!(mounts.is_empty());
    }
}

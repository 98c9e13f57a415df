//! The fleet view's pieces: a host's reachability and facts (badges, table cells, the host
//! page panel), an instance's roll-up, and "check now" over many hosts with live progress.

use chrono::Utc;
use leptos::prelude::*;

use crate::api::check_host;
use crate::components::{DataTable, LocalTime};
use crate::contract::{CERT_WARN_DAYS, CLOCK_WARN_MS, DISK_WARN_PERCENT, FleetSummary, HostHealth, Reachability};

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

pub fn human_duration(secs: u64) -> String {
    match secs {
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

fn offset_text(ms: i64) -> String {
    if ms.abs() < 1000 { format!("{ms:+} ms") } else { format!("{:+.1} s", ms as f64 / 1000.0) }
}

fn state_label(state: Reachability) -> (&'static str, &'static str) {
    let bad = "badge badge-bad";
    match state {
        Reachability::Reachable => ("reachable", "badge badge-good"),
        Reachability::NeverChecked => ("never checked", "badge"),
        Reachability::Unreachable => ("unreachable", bad),
        Reachability::Refused => ("connection refused", bad),
        Reachability::Timeout => ("timed out", bad),
        Reachability::AuthFailed => ("authentication failed", bad),
        Reachability::HostKeyUnknown => ("no key pinned", bad),
        Reachability::HostKeyChanged => ("host key changed", bad),
        Reachability::NoCredential => ("no SSH key", bad),
        Reachability::Error => ("error", bad),
    }
}

fn if_class(condition: bool, yes: &'static str, no: &'static str) -> &'static str {
    if condition { yes } else { no }
}

fn warn_class(bad: bool) -> &'static str {
    if_class(bad, "badge badge-bad", "")
}

/// Days until a time, rounded down.
fn days_until(at: chrono::DateTime<Utc>) -> i64 {
    (at - Utc::now()).num_days()
}

#[component]
pub fn StateBadge(state: Reachability, #[prop(optional, into)] message: String) -> impl IntoView {
    let (label, class) = state_label(state);
    view! { <span class=class title=message data-state=state.as_str()>{label}</span> }
}

/// The fleet columns of one host's row (reachability, OS, disk, certificate, clock, reboot).
pub fn health_cells(health: &HostHealth) -> impl IntoView + use<> {
    let disk = health.fullest_mount().map(|m| {
        let class = warn_class(m.use_percent >= DISK_WARN_PERCENT);
        view! { <span class=class title=format!("{} of {} used", human_bytes(m.used_bytes), human_bytes(m.total_bytes))>{format!("{}% {}", m.use_percent, m.path)}</span> }
    });
    let cert = health.soonest_certificate().and_then(|c| c.not_after).map(|at| {
        let days = days_until(at);
        let class = warn_class(days <= CERT_WARN_DAYS);
        view! { <span class=class>{format!("{days} days")}</span> }
    });
    let clock = health.clock_offset_ms.map(|ms| {
        let bad = ms.abs() > CLOCK_WARN_MS || health.clock_synchronized == Some(false);
        let text = match health.clock_synchronized {
            Some(false) => format!("{} (not synced)", offset_text(ms)),
            _ => offset_text(ms),
        };
        view! { <span class=warn_class(bad)>{text}</span> }
    });
    let reboot = health.reboot_required.then(|| view! { <span class="badge badge-bad">"reboot required"</span> });
    view! {
        <td data-test="host-state"><StateBadge state=health.state message=health.message.clone() /></td>
        <td data-test="host-os">{health.os.clone()}</td>
        <td data-test="host-disk">{disk}</td>
        <td data-test="host-cert">{cert}</td>
        <td data-test="host-clock">{clock}</td>
        <td data-test="host-reboot">{reboot}</td>
    }
}

/// An instance's hosts in one cell of the instances list.
#[component]
pub fn FleetCell(summary: FleetSummary, host_count: i64) -> impl IntoView {
    let mut flags = Vec::new();
    if summary.worst_disk_percent.is_some_and(|p| p >= DISK_WARN_PERCENT) {
        flags.push(format!("disk {}%", summary.worst_disk_percent.unwrap_or_default()));
    }
    if let Some(at) = summary.soonest_certificate
        && days_until(at) <= CERT_WARN_DAYS
    {
        flags.push(format!("cert in {} days", days_until(at)));
    }
    if summary.worst_clock_offset_ms.is_some_and(|ms| ms.abs() > CLOCK_WARN_MS) {
        flags.push("clock off".into());
    }
    if summary.reboot_required > 0 {
        flags.push(format!("{} need reboot", summary.reboot_required));
    }
    if summary.units_down > 0 {
        flags.push(format!("{} units down", summary.units_down));
    }
    let checked = summary.reachable + summary.failing;
    let (text, class) = match (host_count, checked, summary.failing) {
        (0, ..) => ("no hosts".to_owned(), "badge"),
        (_, 0, _) => (format!("{host_count} not checked"), "badge"),
        (_, _, 0) => (format!("{}/{host_count} reachable", summary.reachable), "badge badge-good"),
        (_, _, failing) => (format!("{failing}/{host_count} failing"), "badge badge-bad"),
    };
    view! {
        <span class=class data-test="fleet">{text}</span>
        {flags.into_iter().map(|f| view! { " " <span class="badge badge-bad">{f}</span> }).collect_view()}
    }
}

/// Runs a check on each host at once, updating `health` as each answers, with a progress bar.
#[component]
pub fn CheckNow(health: RwSignal<Vec<HostHealth>>, #[prop(into)] label: String) -> impl IntoView {
    let total = RwSignal::new(0usize);
    let done = RwSignal::new(0usize);
    let failed = RwSignal::new(0usize);
    let running = move || total.get() > 0 && done.get() < total.get();
    let start = move |_| {
        let ids: Vec<i64> = health.with_untracked(|hosts| hosts.iter().map(|h| h.host_id).collect());
        total.set(ids.len());
        done.set(0);
        failed.set(0);
        for id in ids {
            leptos::task::spawn_local(async move {
                let result = check_host(id).await;
                let reachable = matches!(&result, Ok(h) if h.state == Reachability::Reachable);
                let updated = result.unwrap_or_else(|error| HostHealth {
                    host_id: id,
                    state: Reachability::Error,
                    message: error.to_string(),
                    ..HostHealth::default()
                });
                health.update(|hosts| {
                    if let Some(slot) = hosts.iter_mut().find(|h| h.host_id == id) {
                        *slot = updated;
                    }
                });
                if !reachable {
                    failed.update(|n| *n += 1);
                }
                done.update(|n| *n += 1);
            });
        }
    };
    view! {
        <div class="check-now" data-test="check-now">
            <button type="button" class="button" on:click=start disabled=running>{label}</button>
            <Show when=move || { total.get() > 0 }>
                <progress max=move || total.get() value=move || done.get() aria-label="Hosts checked"></progress>
                <span role="status" data-test="check-progress" data-done=move || (!running()).to_string()>
                    {move || {
                        let (t, d, f) = (total.get(), done.get(), failed.get());
                        format!("{d} of {t} checked · {} reachable · {f} failing · {} remaining", d - f, t - d)
                    }}
                </span>
            </Show>
        </div>
    }
}

/// Everything Steward knows about one host, for its page.
#[component]
pub fn HealthPanel(health: HostHealth) -> impl IntoView {
    let checked = health.checked_at.map(|at| view! { " · checked " <LocalTime at /> });
    let message = (!health.message.is_empty())
        .then(|| view! { <p class="banner banner-error" data-test="health-message">{health.message.clone()}</p> });
    let facts = health.has_facts().then(|| {
        let memory = format!(
            "{} total, {} available",
            human_bytes(health.memory_total_bytes),
            human_bytes(health.memory_available_bytes)
        );
        let clock = match (health.clock_offset_ms, health.clock_synchronized) {
            (Some(ms), Some(true)) => format!("{} from Steward, synchronised ({})", offset_text(ms), health.clock_source),
            (Some(ms), Some(false)) => format!("{} from Steward, NOT synchronised ({})", offset_text(ms), health.clock_source),
            (Some(ms), None) => format!("{} from Steward, sync status unknown", offset_text(ms)),
            (None, _) => "unknown".into(),
        };
        let reboot = if health.reboot_required {
            format!("required{}", if health.reboot_packages.is_empty() { String::new() } else { format!(" by {}", health.reboot_packages.join(", ")) })
        } else {
            "not required".into()
        };
        view! {
            <dl class="facts" data-test="host-facts-collected">
                <dt>"Host name"</dt><dd data-test="fact-hostname">{health.hostname.clone()}</dd>
                <dt>"System"</dt><dd data-test="fact-os">{health.os.clone()}</dd>
                <dt>"Kernel"</dt><dd data-test="fact-kernel">{health.kernel.clone()}</dd>
                <dt>"Up for"</dt><dd>{human_duration(health.uptime_secs)}</dd>
                <dt>"CPUs"</dt><dd data-test="fact-cpus">{health.cpus}</dd>
                <dt>"Memory"</dt><dd>{memory}</dd>
                <dt>"Clock"</dt><dd data-test="fact-clock">{clock}</dd>
                <dt>"Reboot"</dt><dd data-test="fact-reboot">{reboot}</dd>
                <dt>"Packages"</dt><dd>{if health.package_manager.is_empty() { "no known package manager".to_owned() } else { health.package_manager.clone() }}</dd>
            </dl>
            <h3>"Disks"</h3>
            <DataTable test="mounts-table" columns=&["Mount", "Type", "Size", "Used", "Available", "Use"]>
                {health.mounts.iter().map(|m| view! {
                    <tr data-mount=m.path.clone()>
                        <td><code>{m.path.clone()}</code></td>
                        <td>{m.fs_type.clone()}</td>
                        <td>{human_bytes(m.total_bytes)}</td>
                        <td>{human_bytes(m.used_bytes)}</td>
                        <td>{human_bytes(m.available_bytes)}</td>
                        <td><span class=warn_class(m.use_percent >= DISK_WARN_PERCENT)>{format!("{}%", m.use_percent)}</span></td>
                    </tr>
                }).collect_view()}
            </DataTable>
            {(!health.certificates.is_empty()).then(|| view! {
                <h3>"Certificates"</h3>
                <DataTable test="certs-table" columns=&["File", "Subject", "Expires"]>
                    {health.certificates.iter().map(|c| view! {
                        <tr>
                            <td><code>{c.source.clone()}</code></td>
                            <td>{c.subject.clone()}</td>
                            <td>{match (c.not_after, &c.error) {
                                (Some(at), _) => view! { <LocalTime at />{format!(" ({} days)", days_until(at))} }.into_any(),
                                (None, Some(error)) => view! { <span class="badge badge-bad">{error.clone()}</span> }.into_any(),
                                (None, None) => ().into_any(),
                            }}</td>
                        </tr>
                    }).collect_view()}
                </DataTable>
            })}
            {(!health.units.is_empty()).then(|| view! {
                <h3>"Services"</h3>
                <ul data-test="units">
                    {health.units.iter().map(|u| view! {
                        <li><span class=if_class(u.healthy, "badge badge-good", "badge badge-bad")>{u.state.clone()}</span>" "{format!("{} ({})", u.name, u.manager)}</li>
                    }).collect_view()}
                </ul>
            })}
        }
        .into_any()
    });
    let facts = facts.unwrap_or_else(|| {
        view! { <p class="empty" data-test="no-facts">"No facts yet: check the host once its key is trusted."</p> }
            .into_any()
    });
    view! {
        <p>
            <StateBadge state=health.state message=health.message.clone() />
            {checked}
        </p>
        {message}
        {facts}
    }
    .into_any()
}

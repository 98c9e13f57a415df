//! The job engine against real hosts and both databases: a fan-out fact check with progress,
//! per-host results and a live log; cancel kills the remote command; two jobs never change the
//! same host at once; replicas on Postgres never run a job twice; schedules fire once and
//! follow their catch-up policy for runs missed while Steward was down.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Backend, Client, TestApp, trusted_fleet};
use serde_json::Value;
use steward::app::AppState;
use steward::clock::{Clock, ManualClock};
use steward::services::jobs::runner::Runner;
use steward::store::NewJob;
use steward_frontend::contract::{JobDetail, JobSummary, ScheduleSummary};
use tokio_util::sync::CancellationToken;

async fn wait_for(admin: &Client, job: i64, done: impl Fn(&JobDetail) -> bool) -> JobDetail {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let detail: JobDetail = admin.call("get_job", &[("job_id", &job.to_string())]).await.unwrap();
        if done(&detail) {
            return detail;
        }
        assert!(Instant::now() < deadline, "job {job} did not get there: {:?}", detail.job);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn start(admin: &Client, form: &[(&str, &str)]) -> JobSummary {
    admin.call("start_job", form).await.unwrap()
}

on_both_backends!(
    a_fact_check_fans_out_with_progress_and_a_live_log,
    job_kinds_come_from_the_registry,
    schedules_fire_once_and_catch_up_as_told
);

async fn job_kinds_come_from_the_registry(backend: Backend) {
    let app = TestApp::start(backend).await;
    let fleet = trusted_fleet(&app, 1).await;
    // What the forms offer is the registry's list, each kind with what its form asks for.
    let kinds: Vec<steward_frontend::contract::JobKindSummary> = fleet.admin.call("job_kinds", &[]).await.unwrap();
    let names: Vec<&str> = kinds.iter().map(|k| k.name.as_str()).collect();
    for name in ["facts", "command", "push", "drift", "reboot-required"] {
        assert!(names.contains(&name), "{name} is offered: {names:?}");
    }
    assert!(!names.contains(&"noop"), "test kinds are not offered");
    assert!(kinds.iter().all(|k| k.takes_argv == (k.name == "command")), "{kinds:?}");
    // The kind added in one module and one registry line runs like any other.
    let job = start(
        &fleet.admin,
        &[
            ("input[kind]", "reboot-required"),
            ("input[target_kind]", "instance"),
            ("input[target_id]", &fleet.instance_id),
        ],
    )
    .await;
    let detail = wait_for(&fleet.admin, job.id, |d| d.job.finished()).await;
    assert_eq!(detail.job.state, "succeeded", "{:?}", detail.hosts);
    let expected =
        if std::path::Path::new("/run/reboot-required").exists() { "reboot required" } else { "no reboot needed" };
    assert!(detail.hosts[0].message.starts_with(expected), "{:?}", detail.hosts);
    app.stop().await;
}

async fn a_fact_check_fans_out_with_progress_and_a_live_log(backend: Backend) {
    let app = TestApp::start(backend).await;
    let fleet = trusted_fleet(&app, 3).await;
    let job = start(
        &fleet.admin,
        &[
            ("input[kind]", "facts"),
            ("input[target_kind]", "instance"),
            ("input[target_id]", &fleet.instance_id),
            ("input[batch_size]", "2"),
        ],
    )
    .await;
    assert_eq!(job.target_name, "prod");
    let detail = wait_for(&fleet.admin, job.id, |d| d.job.finished()).await;
    assert_eq!(detail.job.state, "succeeded", "{:?}", detail.job);
    assert_eq!((detail.job.total, detail.job.done, detail.job.failed), (3, 3, 0));
    assert_eq!(detail.hosts.len(), 3);
    assert!(detail.hosts.iter().all(|h| h.state == "succeeded" && h.message.contains("disk")), "{:?}", detail.hosts);
    let log: Vec<&str> = detail.log.iter().map(|l| l.line.as_str()).collect();
    assert!(log[0].contains("on 3 host(s), 2 at a time"), "{log:?}");
    for host in ["h0", "h1", "h2"] {
        assert!(log.iter().any(|l| l.starts_with(&format!("[{host}] succeeded"))), "{log:?}");
    }
    // The hosts' facts were recorded as by "check now".
    let instance: Value = fleet.admin.call("get_instance", &[("instance_id", &fleet.instance_id)]).await.unwrap();
    assert!(instance["health"].as_array().unwrap().iter().all(|h| h["state"] == "reachable"));

    // The event stream replays the log after a given line, then the end.
    let events = fleet.admin.get(&format!("/jobs/{}/events?after=1", job.id)).await;
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let body = events.text().await.unwrap();
    assert!(!body.contains("\nid: 1\n") && body.contains("id: 2\n"), "resumes after line 1: {body}");
    assert!(body.contains("event: progress") && body.trim_end().ends_with("data: end"), "{body}");

    // The jobs list filters by kind and state; other people see only their studies' jobs.
    let list: Value = fleet
        .admin
        .call("list_jobs", &[("query[kind]", "facts"), ("query[state]", "succeeded"), ("query[page]", "0")])
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    let none: Value = fleet.admin.call("list_jobs", &[("query[state]", "failed"), ("query[page]", "0")]).await.unwrap();
    assert_eq!(none["total"], 0);
    let unknown = fleet.admin.call::<Value>("list_jobs", &[("query[state]", "done"), ("query[page]", "0")]).await;
    let unknown = unknown.unwrap_err();
    assert_eq!(unknown.status, reqwest::StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown.error.for_field("state").as_deref(),
        Some("Choose a state: queued, running, succeeded, failed, cancelled, interrupted")
    );

    // A stopped host fails its part with the reason; the job fails and says how many.
    let mut hosts = fleet.hosts;
    hosts[1].1.stop();
    let job = start(
        &fleet.admin,
        &[("input[kind]", "facts"), ("input[target_kind]", "instance"), ("input[target_id]", &fleet.instance_id)],
    )
    .await;
    let detail = wait_for(&fleet.admin, job.id, |d| d.job.finished()).await;
    assert_eq!(detail.job.state, "failed");
    assert_eq!(detail.job.summary, "2 of 3 host(s) succeeded, 1 failed or skipped");
    let h1 = detail.hosts.iter().find(|h| h.host_name == "h1").unwrap();
    assert!(h1.state == "failed" && h1.message.contains("refused"), "{h1:?}");
    app.stop().await;
}

#[tokio::test]
async fn cancel_stops_the_remote_command() {
    let app = TestApp::start(Backend::Sqlite).await;
    let fleet = trusted_fleet(&app, 1).await;
    let (host_id, host) = &fleet.hosts[0];
    let job = start(
        &fleet.admin,
        &[
            ("input[kind]", "command"),
            ("input[target_kind]", "host"),
            ("input[target_id]", &host_id.to_string()),
            ("input[argv]", "sh\n-c\necho started; sleep 300; echo never"),
        ],
    )
    .await;
    wait_for(&fleet.admin, job.id, |d| d.log.iter().any(|l| l.line.contains("started"))).await;
    let sleeping = || {
        let out = std::process::Command::new("pgrep").args(["-u", &host.user, "-f", "sleep 300"]).output().unwrap();
        !out.stdout.is_empty()
    };
    assert!(sleeping(), "the command runs on the host");
    let state: String = fleet.admin.call("cancel_job", &[("job_id", &job.id.to_string())]).await.unwrap();
    assert_eq!(state, "running", "a running job stops when its worker sees the request");
    let detail = wait_for(&fleet.admin, job.id, |d| d.job.finished()).await;
    assert_eq!(detail.job.state, "cancelled", "{:?}", detail.job);
    assert!(!sleeping(), "the remote command was killed");
    assert!(!detail.log.iter().any(|l| l.line.contains("never")));
    app.stop().await;
}

#[tokio::test]
async fn two_jobs_never_change_one_host_at_once() {
    let app = TestApp::start(Backend::Sqlite).await;
    let fleet = trusted_fleet(&app, 1).await;
    let (host_id, host) = &fleet.hosts[0];
    let journal = host.home.join("journal");
    let script = format!("echo start >> {0}; sleep 1; echo end >> {0}", journal.display());
    let argv = format!("sh\n-c\n{script}");
    let form = [
        ("input[kind]", "command"),
        ("input[target_kind]", "host"),
        ("input[target_id]", &host_id.to_string()),
        ("input[argv]", argv.as_str()),
    ];
    let (a, b, c) = tokio::join!(start(&fleet.admin, &form), start(&fleet.admin, &form), start(&fleet.admin, &form));
    for job in [a, b, c] {
        let detail = wait_for(&fleet.admin, job.id, |d| d.job.finished()).await;
        assert_eq!(detail.job.state, "succeeded", "{:?}", detail.job);
    }
    let lines = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(lines, "start\nend\nstart\nend\nstart\nend\n", "the runs did not overlap");
    app.stop().await;
}

#[tokio::test]
async fn replicas_on_postgres_never_run_a_job_twice() {
    const JOBS: usize = 2000;
    let app = TestApp::start_with(Backend::Postgres, |config| {
        config.jobs.poll_interval_ms = 20;
        config.jobs.concurrency = 16;
    })
    .await;
    // A second Steward on the same database, with its own worker.
    let config = (*app.state.config).clone();
    let clock = ManualClock::new(app.clock.now());
    let replica = AppState::build_with_clock(config, Arc::new(clock)).await.unwrap();
    let stop = CancellationToken::new();
    let worker =
        tokio::spawn(Runner::new(replica.jobs.clone()).run(stop.clone(), replica.workers.register("jobs", "replica")));

    let now = app.clock.now();
    for _ in 0..JOBS {
        let job = NewJob::fleet_wide("noop", "test", now);
        app.state.store.insert_job(&job, now).await.unwrap();
    }
    let admin = app.admin().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done: Value =
            admin.call("list_jobs", &[("query[state]", "succeeded"), ("query[page]", "0")]).await.unwrap();
        if done["total"] == JOBS as u64 {
            break;
        }
        assert!(Instant::now() < deadline, "only {} of {JOBS} jobs finished", done["total"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A job claimed twice would show two attempts.
    let twice: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE attempts <> 1")
        .fetch_one(&replica_pool(&replica).await)
        .await
        .unwrap();
    assert_eq!(twice, 0);
    stop.cancel();
    let _ = worker.await;
    replica.store.close().await;
    app.stop().await;
}

async fn replica_pool(state: &AppState) -> sqlx::PgPool {
    sqlx::PgPool::connect(state.config.database.url.expose()).await.unwrap()
}

async fn schedules_fire_once_and_catch_up_as_told(backend: Backend) {
    let app = TestApp::start(backend).await;
    let fleet = trusted_fleet(&app, 1).await;
    let save = |name: &'static str, catch_up: &'static str| {
        let admin = fleet.admin.clone();
        let instance = fleet.instance_id.clone();
        async move {
            let schedule: ScheduleSummary = admin
                .call(
                    "save_schedule",
                    &[
                        ("input[name]", name),
                        ("input[kind]", "facts"),
                        ("input[target_kind]", "instance"),
                        ("input[target_id]", &instance),
                        ("input[cron]", "0 * * * *"),
                        ("input[timezone]", "Europe/Zurich"),
                        ("input[catch_up]", catch_up),
                        ("input[enabled]", "on"),
                    ],
                )
                .await
                .unwrap();
            schedule
        }
    };
    // Bad input is refused with the field named.
    let bad = fleet
        .admin
        .call::<ScheduleSummary>(
            "save_schedule",
            &[
                ("input[name]", "bad"),
                ("input[kind]", "facts"),
                ("input[target_kind]", "instance"),
                ("input[target_id]", &fleet.instance_id),
                ("input[cron]", "every hour"),
                ("input[timezone]", "Mars/Olympus"),
                ("input[catch_up]", "once"),
            ],
        )
        .await
        .unwrap_err();
    assert!(bad.error.for_field("timezone").is_some() || bad.error.for_field("cron").is_some(), "{}", bad.error);

    // The clock stands at 09:00 UTC (10:00 in Zurich): next runs on the hour.
    let once = save("hourly-once", "once").await;
    let skip = save("hourly-skip", "skip").await;
    assert_eq!(once.upcoming.len(), 5);
    assert_eq!(once.upcoming[0].format("%H:%M").to_string(), "10:00");

    // Steward is "down" for three hours: three due times pass unseen.
    app.clock.advance(chrono::Duration::hours(3) + chrono::Duration::minutes(30));
    let fired = |id: i64| {
        let admin = fleet.admin.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let s: ScheduleSummary = admin.call("get_schedule", &[("schedule_id", &id.to_string())]).await.unwrap();
                if !s.runs.is_empty() {
                    return s;
                }
                assert!(Instant::now() < deadline, "the schedule never fired");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let once = fired(once.id).await;
    let skip = fired(skip.id).await;
    assert_eq!(once.runs.len(), 1, "missed runs are caught up once: {:?}", once.runs);
    assert_eq!(once.runs[0].outcome, "fired");
    let job = once.runs[0].job_id.expect("a job was queued");
    assert_eq!(skip.runs.len(), 1);
    assert_eq!(skip.runs[0].outcome, "missed");
    assert!(skip.runs[0].job_id.is_none(), "skipped runs queue nothing");
    let detail = wait_for(&fleet.admin, job, |d| d.job.finished()).await;
    assert_eq!(detail.job.state, "succeeded");
    assert_eq!(detail.job.requested_by, "schedule hourly-once");
    let missed = app.count("SELECT COUNT(*) FROM events WHERE kind = 'schedule.missed'").await;
    assert_eq!(missed, 2, "each schedule's missed runs are an event");
    // The schedule that skipped its run has an alert; the one that caught up has none.
    app.state.alerts.evaluate_jobs().await.unwrap();
    let open: Vec<steward_frontend::contract::AlertSummary> =
        fleet.admin.call("list_alerts", &[("state", "open")]).await.unwrap();
    let missed: Vec<_> = open.iter().filter(|a| a.rule == "schedule-missed").collect();
    assert_eq!(missed.len(), 1, "{open:?}");
    assert!(missed[0].summary.contains(&skip.name), "{}", missed[0].summary);
    // The next due time is the next hour after "now", and it fires on time, once.
    assert_eq!(once.next_due_at.unwrap().format("%H:%M").to_string(), "13:00");
    app.clock.advance(chrono::Duration::minutes(31));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let once: ScheduleSummary =
        fleet.admin.call("get_schedule", &[("schedule_id", &once.id.to_string())]).await.unwrap();
    assert_eq!(once.runs.len(), 2);
    assert_eq!(once.runs[0].outcome, "fired");
    app.stop().await;
}

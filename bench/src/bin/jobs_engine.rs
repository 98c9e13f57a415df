//! The job engine: 10,000 schedules due in the same minute (lateness of their jobs being
//! queued and started; goal: all ≤ 1 s), and 10,000 no-op jobs, on SQLite (one process) and on
//! Postgres (two replicas): jobs per second, and jobs run or queued twice (goal: 0).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use steward::app::AppState;
use steward::clock::SystemClock;
use steward::config::{Config, DatabaseUrl};
use steward::services::jobs::runner::Runner;
use steward::services::jobs::schedules::Scheduler;
use steward::store::{NewJob, ScheduleFields};
use tokio_util::sync::CancellationToken;

const SCHEDULES: usize = 10_000;
const JOBS: usize = 10_000;

fn config(url: &str, dir: &std::path::Path) -> Config {
    let mut config = Config::default();
    config.storage.data_dir = dir.to_path_buf();
    config.database.url = DatabaseUrl::new(url);
    config.database.max_connections = 20;
    config.jobs.concurrency = 64;
    config.jobs.per_study = 64;
    config.jobs.poll_interval_ms = 100;
    config
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut values: Vec<f64>, goal: f64) {
    values.sort_by(f64::total_cmp);
    let max = *values.last().unwrap();
    println!(
        "  {name}: p50 {:.3} s, p99 {:.3} s, max {:.3} s (goal ≤ {goal:.1} s: {:.2}× the goal)",
        percentile(&values, 0.5),
        percentile(&values, 0.99),
        max,
        max / goal
    );
}

async fn postgres() -> Option<(String, String)> {
    use sqlx::Connection;
    let admin =
        std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
    let name = format!("steward_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str()).await.ok()?;
    let (prefix, _) = admin.rsplit_once('/')?;
    Some((format!("{prefix}/{name}"), name))
}

async fn drop_postgres(name: &str) {
    use sqlx::Connection;
    let admin =
        std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::Executor::execute(&mut conn, format!("DROP DATABASE {name} WITH (FORCE)").as_str()).await.unwrap();
}

async fn schedules(backend: &str, url: &str, dir: &std::path::Path, replicas: usize) {
    let mut states = Vec::new();
    for _ in 0..replicas {
        states.push(AppState::build_with_clock(config(url, dir), Arc::new(SystemClock)).await.unwrap());
    }
    let state = &states[0];
    // Due at the next whole minute (at least 20 s away, to set them all up first).
    let now = Utc::now();
    let mut due = (now + chrono::Duration::seconds(80)).with_second(0).unwrap().with_nanosecond(0).unwrap();
    if due - now > chrono::Duration::seconds(60) {
        due -= chrono::Duration::seconds(60);
    }
    for n in 0..SCHEDULES {
        let fields = ScheduleFields {
            name: &format!("s{n}"),
            kind: "noop",
            target_kind: "fleet",
            target_id: None,
            study_id: None,
            payload: "{}",
            cron: "0 * * * * *",
            timezone: "UTC",
            enabled: true,
            catch_up: "once",
            jitter_secs: 0,
            next_due_at: due,
        };
        state.store.insert_schedule(&fields, "bench", now).await.unwrap();
    }
    println!("{backend}, {replicas} replica(s): {SCHEDULES} schedules due at {due}; waiting for it");
    let stop = CancellationToken::new();
    // Every replica runs a scheduler and a job runner, as `steward serve` does.
    let mut loops = Vec::new();
    for state in &states {
        let (jobs, workers) = (state.jobs.clone(), &state.workers);
        loops
            .push(tokio::spawn(Scheduler::new(jobs.clone()).run(stop.clone(), workers.register("schedules", "bench"))));
        loops.push(tokio::spawn(Runner::new(jobs).run(stop.clone(), workers.register("jobs", "bench"))));
    }
    // Watch a count (cheap), then read every job once at the end.
    let deadline = Instant::now() + Duration::from_secs(240);
    let filter = steward::store::JobFilter { state: Some("succeeded"), limit: 1, ..Default::default() };
    loop {
        let (_, finished) = state.store.list_jobs(&filter).await.unwrap();
        if finished as usize == SCHEDULES {
            break;
        }
        assert!(Instant::now() < deadline, "{finished} of {SCHEDULES} scheduled jobs finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (rows, _) =
        state.store.list_jobs(&steward::store::JobFilter { limit: 20_000, ..Default::default() }).await.unwrap();
    let lateness = |at: DateTime<Utc>| (at - due).num_microseconds().unwrap_or(0) as f64 / 1e6;
    let queued: Vec<f64> = rows.iter().map(|r| lateness(r.created_at)).collect();
    let started: Vec<f64> = rows.iter().map(|r| lateness(r.started_at.unwrap())).collect();
    let twice = rows_run_twice(state).await;
    report("queued after the due time", queued, 1.0);
    report("started after the due time", started, 1.0);
    println!("  jobs queued or run twice: {twice} (goal 0)");
    stop.cancel();
    for task in loops {
        let _ = task.await;
    }
    for state in states {
        state.store.close().await;
    }
}

/// Jobs that ran more than once, and due times that queued more than one job.
async fn rows_run_twice(state: &AppState) -> usize {
    let (rows, _) =
        state.store.list_jobs(&steward::store::JobFilter { limit: 20_000, ..Default::default() }).await.unwrap();
    let mut per_schedule = std::collections::HashMap::new();
    for id in rows.iter().filter_map(|r| r.schedule_id) {
        *per_schedule.entry(id).or_insert(0usize) += 1;
    }
    rows.iter().filter(|r| r.attempts != 1).count() + per_schedule.values().map(|n| n - 1).sum::<usize>()
}

async fn throughput(backend: &str, url: &str, dir: &std::path::Path, replicas: usize) {
    let mut states = Vec::new();
    for _ in 0..replicas {
        states.push(AppState::build_with_clock(config(url, dir), Arc::new(SystemClock)).await.unwrap());
    }
    let now = Utc::now() + chrono::Duration::days(1);
    for _ in 0..JOBS {
        let job = NewJob::fleet_wide("noop", "bench", now);
        states[0].store.insert_job(&job, Utc::now()).await.unwrap();
    }
    // Make them all due at once, then let the replicas at them.
    let pool_url = url.to_owned();
    let release = "UPDATE jobs SET run_after = created_at";
    match backend {
        "sqlite" => {
            let pool = sqlx::SqlitePool::connect(&pool_url).await.unwrap();
            sqlx::query(release).execute(&pool).await.unwrap();
        }
        _ => {
            let pool = sqlx::PgPool::connect(&pool_url).await.unwrap();
            sqlx::query(release).execute(&pool).await.unwrap();
        }
    }
    let stop = CancellationToken::new();
    let started = Instant::now();
    let runners: Vec<_> = states
        .iter()
        .map(|s| tokio::spawn(Runner::new(s.jobs.clone()).run(stop.clone(), s.workers.register("jobs", "bench"))))
        .collect();
    let filter = steward::store::JobFilter { state: Some("succeeded"), limit: 1, ..Default::default() };
    loop {
        let (_, done) = states[0].store.list_jobs(&filter).await.unwrap();
        if done as usize == JOBS {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(600), "{done} of {JOBS} jobs finished");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let twice = rows_run_twice(&states[0]).await;
    println!(
        "{backend}, {replicas} replica(s): {JOBS} no-op jobs in {elapsed:.2} s = {:.0} jobs/s; run twice: {twice} (goal 0)",
        JOBS as f64 / elapsed
    );
    stop.cancel();
    for runner in runners {
        let _ = runner.await;
    }
    for state in states {
        state.store.close().await;
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/bench.db", dir.path().display());
    throughput("sqlite", &sqlite, dir.path(), 1).await;
    let pg = postgres().await;
    if let Some((url, name)) = &pg {
        let pg_dir = tempfile::tempdir().unwrap();
        throughput("postgres", url, pg_dir.path(), 2).await;
        drop_postgres(name).await;
    } else {
        println!("postgres: skipped (no database at TEST_POSTGRES_URL)");
    }

    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/bench.db", dir.path().display());
    schedules("sqlite", &sqlite, dir.path(), 1).await;
    if let Some((url, name)) = postgres().await {
        let pg_dir = tempfile::tempdir().unwrap();
        schedules("postgres", &url, pg_dir.path(), 2).await;
        drop_postgres(&name).await;
    }
}
